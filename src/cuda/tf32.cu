/* The device's TF32 rounding (mr_tf32, as the kernels convert), for tests of the host's
 * (tf32.h). */
#include <stdio.h>

#include "cuda/common.cuh"

extern "C" {
#include "cuda/tf32.h"
}

static __global__ void mr_tf32_round_kernel(const float *in, unsigned *out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = mr_tf32(in[i]);
}

extern "C" int mr_cuda_round_tf32_device(int gpu, const float *in, uint32_t *out, int n, char *why,
                                         size_t why_size) {
    float *din = NULL;
    unsigned *dout = NULL;
    size_t bytes = (size_t)(n > 0 ? n : 1) * 4;
    cudaError_t e = cudaSetDevice(gpu);
    if (e == cudaSuccess) e = cudaMalloc((void **)&din, bytes);
    if (e == cudaSuccess) e = cudaMalloc((void **)&dout, bytes);
    if (e == cudaSuccess) e = cudaMemcpy(din, in, (size_t)n * 4, cudaMemcpyHostToDevice);
    if (e == cudaSuccess && n > 0) {
        mr_tf32_round_kernel<<<(n + 255) / 256, 256>>>(din, dout, n);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpy(out, dout, (size_t)n * 4, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) {
        snprintf(why, why_size, "%s", cudaGetErrorString(e));
        cudaGetLastError();
    }
    cudaFree(din);
    cudaFree(dout);
    return e == cudaSuccess ? 0 : 1;
}
