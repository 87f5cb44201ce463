/* TF32 rounding of constant operands (src/cuda/tf32.c, tf32.cu).
 *
 * Tensor-core kernels take TF32 operands: float32 values rounded to 10 mantissa bits. A kernel
 * rounds what it reads (cvt.rna) unless the operand is known to be rounded already: a step's
 * plan lists, in mr_cuda_plan.tf32_inputs, the constant inputs its kernels read without
 * rounding, and the backend uploads those constants rounded. Rounding on the host gives the
 * same bits as cvt.rna on the device, so results do not change; the kernels only skip a
 * conversion per fragment element at every read (docs/KERNEL_NOTES.md). */
#ifndef MR_CUDA_TF32_H
#define MR_CUDA_TF32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = in[i] rounded to TF32, bit for bit as cvt.rna.tf32.f32 does on the device: finite
 * values to nearest, ties away from zero (past the largest TF32: an infinity); infinities and
 * NaNs lose the 13 low mantissa bits. in == out is allowed. */
void mr_round_tf32(const float *in, float *out, size_t n);

/* For tests: rounds n values with the device's cvt.rna.tf32.f32 (synchronously, on the
 * current device; host buffers). */
int mr_cuda_round_tf32_device(const float *in, uint32_t *out, int n, char *why, size_t why_size);

#ifdef __cplusplus
}
#endif

#endif
