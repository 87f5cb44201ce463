/* Internal interface of the data-movement ops (src/ops/transform.c) for other backends.
 *
 * Transpose, Slice and Expand are strided views of their input. The CPU op's prepare resolves
 * the attributes / constant inputs against the inferred shapes and stores the coalesced view
 * at the start of n->params; the CUDA planner (src/cuda/transform.cu) reads it from there
 * instead of re-deriving it, so both backends compute the same view. */
#ifndef MR_OPS_TRANSFORM_H
#define MR_OPS_TRANSFORM_H

#include <stdint.h>

#include "graph/ir.h"

/* Output element e (row-major over dims[0..nd)) reads input element
 * base + sum_d idx_d(e) * stride[d]. Size-1 dims are dropped and neighbours contiguous in the
 * input merged; nd >= 1. */
typedef struct mr_strided_plan {
    int nd;
    int64_t dims[MR_MAX_DIMS];   /* output dims */
    int64_t stride[MR_MAX_DIMS]; /* input element stride per output dim (may be negative) */
    int64_t base;                /* input element offset of output element 0 */
} mr_strided_plan;

/* The view of a prepared Transpose, Slice or Expand node (its n->params starts with it). */
static inline const mr_strided_plan *mr_strided_plan_of(const mr_node *n) {
    return (const mr_strided_plan *)n->params;
}

/* Concat: its axis, normalised by infer (the node must be a Concat that has been inferred). */
int mr_concat_axis(const mr_node *n);

#endif
