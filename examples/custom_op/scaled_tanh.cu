/* ScaledTanh on the GPU: one body over a logical block, two tile variants. */
#include "miriam/elastic.cuh"
#include "scaled_tanh.h"

/* Logical block `blk` covers SCALED_TANH_CHUNK elements, whatever the block size: the two
 * variants compute the same logical grid (and each element the same way), so the runtime may
 * switch between them at any logical block. */
static __device__ __forceinline__ void scaled_tanh_body(const mr_cuda_args *a, long long blk) {
    const scaled_tanh_params *p = (const scaled_tanh_params *)(const void *)a->params;
    const float *x = (const float *)a->in[0];
    float *y = (float *)a->out[0];
    long long begin = blk * SCALED_TANH_CHUNK, end = begin + SCALED_TANH_CHUNK;
    if (end > p->n) end = p->n;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x)
        y[i] = p->alpha * tanhf(p->beta * x[i]);
}

/* Full speed: 256 threads. Small footprint: 64 threads, which fit beside critical kernels. */
MR_ELASTIC_KERNEL(example_scaled_tanh_t256, 256, scaled_tanh_body)
MR_ELASTIC_KERNEL(example_scaled_tanh_t64, 64, scaled_tanh_body)

extern "C" int scaled_tanh_kernels(mr_custom_kernel *out, int cap) {
    if (cap < 2) return 0;
    /* No usable driver (a machine without a GPU): the operator runs on the CPU only. */
    if (MR_CUSTOM_KERNEL(&out[0], "t256", example_scaled_tanh_t256, 256, 0) != cudaSuccess ||
        MR_CUSTOM_KERNEL(&out[1], "t64", example_scaled_tanh_t64, 64, 0) != cudaSuccess)
        return 0;
    return 2;
}
