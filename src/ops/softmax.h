/* Internal interface of Softmax (src/ops/softmax.c) for other backends.
 *
 * The CPU op's init reads the axis attribute with its opset-dependent default, its infer checks
 * X (float32, rank >= 1, axis in range) and its prepare resolves the axis semantics (opset < 13:
 * 2-D coercion; 13+: one axis) into the [outer, n, inner] view reduced over n, stored in
 * n->params; the CUDA planner (src/cuda/softmax.cu) reads that view instead of re-deriving it. */
#ifndef MR_OPS_SOFTMAX_H
#define MR_OPS_SOFTMAX_H

#include <stdint.h>

typedef struct mr_softmax_params {
    int64_t axis; /* as given (may be negative) */
    int legacy;   /* opset < 13: 2-D coercion */
    /* set by prepare */
    int64_t outer, n, inner; /* their product (the element count) does not overflow */
    int64_t iw;              /* CPU inner chunk width (inner > 1) */
    int64_t per_outer;       /* CPU units per outer index: ceil(inner / iw), 1 when inner == 1 */
    int64_t per_block;       /* CPU units per logical block */
    int64_t units;           /* CPU units: outer * per_outer */
} mr_softmax_params;

#endif
