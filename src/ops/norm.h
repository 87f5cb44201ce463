/* Internal interface of BatchNormalization and LRN (src/ops/norm.c) for other backends.
 *
 * The CPU op's init parses and checks the attributes, its infer checks the inputs (X float32
 * of rank >= 2; BatchNormalization's four per-channel inputs float32 [C]) and its prepare
 * stores the [N, C, S] view of X in n->params, which the CUDA planner (src/cuda/norm.cu)
 * reads instead of parsing and checking again. */
#ifndef MR_OPS_NORM_H
#define MR_OPS_NORM_H

#include <stdint.h>

typedef struct mr_bn_params {
    float epsilon;
    int64_t C, S, numel; /* set by prepare */
} mr_bn_params;

typedef struct mr_lrn_params {
    float alpha, beta, bias;
    int64_t size; /* >= 1 */
    /* set by prepare */
    int64_t N, C, S;
    int64_t w;         /* CPU spatial chunk */
    int64_t per_image; /* CPU chunks per image: ceil(S / w) */
} mr_lrn_params;

#endif
