/* Internal interface of Gemm and MatMul (src/ops/gemm.c) for other backends.
 *
 * The CPU op's init parses and checks the attributes (Gemm), its infer and prepare check the
 * operands (float32, ranks, inner dimensions, C's broadcast, MatMul's constant bias [N]) and
 * derive the product's geometry into n->params, which the CUDA planner (src/cuda/gemm.cu)
 * reads instead of re-deriving it. */
#ifndef MR_OPS_GEMM_H
#define MR_OPS_GEMM_H

#include <stdint.h>

#include "graph/ir.h"

typedef struct mr_gemm_params {
    /* Gemm attributes (MatMul: alpha = 1, the rest 0) */
    float alpha, beta;
    int trans_a, trans_b;
    int no_broadcast; /* Gemm-6 broadcast = 0 */
    /* geometry (prepare): the product is batch x [M, K] x [K, N], M, N, K <= INT_MAX */
    int64_t M, N, K;
    int has_c;          /* Gemm: C present and beta != 0; MatMul: bias present */
    int64_t c_sm, c_sn; /* Gemm: element strides of C along M and N (0 = broadcast) */
    int nb;             /* MatMul: batch dims after folding (0 when A's batch is folded into M) */
    int64_t batch;      /* MatMul: product of the batch dims (1 after folding; Gemm: 1) */
    int64_t bdims[MR_MAX_DIMS], a_bs[MR_MAX_DIMS], b_bs[MR_MAX_DIMS]; /* batch dims, strides */
    int64_t mt, nt, n_mt, n_nt;                                       /* CPU tiling */
} mr_gemm_params;

#endif
