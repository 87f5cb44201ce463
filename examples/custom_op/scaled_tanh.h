/* ScaledTanh, an example custom operator of miriam: y = alpha * tanh(beta * x), elementwise,
 * with float attributes alpha and beta (default 1) - the activation LeCun recommends with
 * alpha = 1.7159 and beta = 2/3. ONNX: domain "com.example", op type "ScaledTanh", one float32
 * input of any shape, one output of the same shape.
 *
 * The CPU body (scaled_tanh.c) and the CUDA kernels (scaled_tanh.cu) share this header. */
#ifndef EXAMPLE_SCALED_TANH_H
#define EXAMPLE_SCALED_TANH_H

#include "miriam.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Elements of one logical block: ~10 us on a CPU core, 16 per thread of a 256-thread block. */
#define SCALED_TANH_CHUNK 4096

/* The plan's parameters (mr_custom_plan.params), read by both bodies. */
typedef struct scaled_tanh_params {
    long long n; /* elements */
    float alpha, beta;
} scaled_tanh_params;

/* Fills the operator's descriptor (with the CUDA kernels when they were built). */
void scaled_tanh_describe(mr_custom_op *op);

/* The CUDA tile variants (scaled_tanh.cu): fills up to `cap` kernels, returns how many. */
int scaled_tanh_kernels(mr_custom_kernel *out, int cap);

#ifdef __cplusplus
}
#endif

#endif
