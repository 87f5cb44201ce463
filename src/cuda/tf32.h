/* TF32 rounding of constant operands (src/cuda/tf32.c, tf32.cu).
 *
 * Tensor-core kernels take TF32 operands: float32 values rounded to 10 mantissa bits. A kernel
 * rounds what it reads (mr_tf32, common.cuh) unless the operand is known to be rounded already:
 * a step's plan lists, in mr_cuda_plan.tf32_inputs, the constant inputs its kernels read
 * without rounding, and the backend uploads those constants rounded. Rounding on the host
 * gives the same bits as the device's conversion, so results do not change; the kernels only
 * skip a conversion per fragment element at every read (docs/KERNEL_NOTES.md). */
#ifndef MR_CUDA_TF32_H
#define MR_CUDA_TF32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = in[i] rounded to TF32: finite values to nearest, ties to even (past the largest
 * TF32: an infinity), as cvt.rn.tf32.f32 does on devices of compute capability 9.0 and later
 * (mr_tf32 in common.cuh; before 9.0 the device rounds ties away from zero, which only
 * differs on exact ties); an infinity stays, a NaN stays a NaN. in == out is allowed. */
void mr_round_tf32(const float *in, float *out, size_t n);

/* For tests: rounds n values as the kernels do (mr_tf32), synchronously on device `gpu`'s
 * primary context (host buffers). 0 on success, else 1 with the CUDA error in why. */
int mr_cuda_round_tf32_device(int gpu, const float *in, uint32_t *out, int n, char *why,
                              size_t why_size);

#ifdef __cplusplus
}
#endif

#endif
