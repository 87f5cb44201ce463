/* A gate: one thread that spins on the GPU's global timer. Enqueued first on a stream, it
 * holds back what the host enqueues behind it, so that a burst of launches then runs back to
 * back, as from a CUDA graph, and timing events between them measure the GPU, not the host's
 * launch rate (mr_cuda_exec_time_steps). */
#include <cuda_runtime.h>

extern "C" {
#include "cuda/gate.h"
}

static __device__ __forceinline__ unsigned long long global_ns(void) {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

static __global__ void mr_gate_kernel(unsigned long long ns) {
    unsigned long long t0 = global_ns();
    while (global_ns() - t0 < ns) __nanosleep(1000);
}

extern "C" cudaError_t mr_cuda_launch_gate(cudaStream_t stream, double us) {
    mr_gate_kernel<<<1, 1, 0, stream>>>((unsigned long long)(us * 1e3));
    return cudaGetLastError();
}
