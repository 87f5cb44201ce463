/* The gate kernel of src/cuda/gate.cu. */
#ifndef MR_CUDA_GATE_H
#define MR_CUDA_GATE_H

#include <cuda_runtime_api.h>

/* Enqueues on `stream` a one-thread kernel that runs for `us` microseconds. */
cudaError_t mr_cuda_launch_gate(cudaStream_t stream, double us);

#endif
