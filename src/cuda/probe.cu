/* Layout probes of the elastic-kernel macro (include/miriam/elastic.cuh), for the tests: where
 * dynamic shared memory starts in the two forms of one body. The elastic form's own static
 * shared memory (its hand-over slots) once shifted every body's buffers 16 bytes off their
 * 128-byte lines: 16-byte cp.async copies then moved twice the sectors and the warpgroup-MMA
 * convolution ran up to 60% slower than its plain form (docs/KERNEL_NOTES.md, 26). */
#include <cuda_runtime.h>
#include <string.h>

#include "cuda/common.cuh"

extern "C" {
#include "cuda/probe.h"
}

static __device__ void probe_body(const mr_cuda_args *a, long long blk) {
    extern __shared__ __align__(16) float probe_dyn[];
    if (threadIdx.x == 0)
        ((int *)a->out[0])[blk] = (int)(__cvta_generic_to_shared(probe_dyn) & 1023u);
}
MR_ELASTIC_KERNEL(mr_probe_smem, 32, probe_body)

extern "C" cudaError_t mr_cuda_probe_dyn_smem(int *elastic_off, int *plain_off) {
    int *d = NULL;
    unsigned long long *ctr = NULL;
    int h[2] = {-1, -1};
    cudaError_t e = cudaMalloc((void **)&d, 2 * sizeof(int));
    if (e == cudaSuccess) e = cudaMalloc((void **)&ctr, sizeof *ctr);
    if (e == cudaSuccess) e = cudaMemset(ctr, 0, sizeof *ctr);
    if (e == cudaSuccess) {
        mr_cuda_args a;
        memset(&a, 0, sizeof a);
        a.n_blocks = 1;
        mr_elastic_ctl ctl;
        memset(&ctl, 0, sizeof ctl);
        ctl.next = ctr;
        ctl.end = 1;
        ctl.first = 0; /* block 0 runs logical block 0 without taking */
        a.out[0] = d;
        mr_probe_smem_elastic<<<1, 32, 256>>>(a, ctl);
        e = cudaGetLastError();
        if (e == cudaSuccess) {
            a.out[0] = d + 1;
            mr_probe_smem_plain<<<1, 32, 256>>>(a, 0LL);
            e = cudaGetLastError();
        }
    }
    if (e == cudaSuccess) e = cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    cudaFree(d);
    cudaFree(ctr);
    *elastic_off = h[0];
    *plain_off = h[1];
    return e;
}
