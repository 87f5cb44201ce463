/* Device-side helpers shared by the CUDA op families. CUDA C++ compiled by nvcc, C style. */
#ifndef MR_CUDA_COMMON_CUH
#define MR_CUDA_COMMON_CUH

#include "cuda/cuda_op.h"

/* Fused activation, same semantics as mr_act_apply on the CPU (ops/activation.c). */
static __device__ __forceinline__ float mr_dev_act(mr_act act, float x) {
    switch (act.kind) {
    case MR_ACT_RELU:
        return x > 0.f ? x : 0.f;
    case MR_ACT_CLIP:
        return fminf(fmaxf(x, act.alpha), act.beta);
    case MR_ACT_LEAKY_RELU:
        return x >= 0.f ? x : act.alpha * x;
    case MR_ACT_SIGMOID:
        return 1.f / (1.f + expf(-x));
    case MR_ACT_TANH:
        return tanhf(x);
    default:
        return x;
    }
}

/* Defines an exported CUDA op table entry (external, C linkage: src/cuda/registry.c). */
#define MR_CUDA_OP(SYM, NAME, PREPARE) extern "C" const mr_cuda_op SYM = {NAME, PREPARE}

/* Reads the op's parameter struct out of the launch arguments. */
#define MR_PARAMS(type, args) ((const type *)(const void *)(args)->params)

#endif
