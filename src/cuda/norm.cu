/* BatchNormalization (inference) and LRN as elastic kernels, float32, on X viewed as
 * [N, C, S] (S = product of the spatial dims, 1 for rank 2); the same semantics and
 * arithmetic as the CPU ops (src/ops/norm.c). Products and sums are rounded one by one
 * (__fmul_rn / __fadd_rn) where the CPU op rounds them, so the contracted FMAs nvcc would
 * otherwise emit do not add a second source of difference.
 *
 * BatchNormalization: y = (x - mean[c]) * (scale[c] / sqrt(var[c] + epsilon)) + B[c]. The
 * per-channel inputs are read at run time (runtime tensors and uploaded constants alike). A
 * logical block is a chunk of BN_CHUNK consecutive elements of X; a thread finds the channel
 * of each of its elements (magic-number division by S and C) and recomputes the channel's
 * coefficients only when the channel changes, which with large planes is once per block.
 *
 * LRN: y = x / (bias + alpha / size * sum of x^2 over the channel window)^beta, the window
 * being channels c - floor((size-1)/2) .. c + ceil((size-1)/2) clipped to [0, C). A logical
 * block is (image, group of LRN_CC channels, chunk of LRN_W spatial positions); a thread takes
 * a spatial position and runs down the group's channels, summing each window afresh in the
 * CPU op's order. */
#include <math.h>
#include <string.h>

#include "cuda/elem_index.cuh"

extern "C" {
#include "ops/norm.h"
}

#define BN_CHUNK 4096
#define LRN_CC   16  /* channels per LRN block */
#define LRN_W    256 /* spatial positions per LRN block */

/* ---- BatchNormalization ---- */

typedef struct bn_params {
    long long numel, C, S;
    mr_fdiv fd_s, fd_c; /* narrow only */
    int narrow;         /* numel <= MR_FDIV_MAX */
    float epsilon;
} bn_params;

static __device__ __forceinline__ void bn_body(const mr_cuda_args *a, long long blk) {
    const bn_params *p = MR_PARAMS(bn_params, a);
    const float *x = (const float *)a->in[0];
    const float *scale = (const float *)a->in[1], *bias = (const float *)a->in[2];
    const float *mean = (const float *)a->in[3], *var = (const float *)a->in[4];
    float *y = (float *)a->out[0];
    long long begin = blk * BN_CHUNK, end = begin + BN_CHUNK;
    if (end > p->numel) end = p->numel;
    long long last = -1;
    float ca = 0.0f, cm = 0.0f, cb = 0.0f;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        long long c;
        if (p->narrow) {
            unsigned int row = mr_fdiv_q((unsigned int)i, p->fd_s);
            c = (long long)(row - mr_fdiv_q(row, p->fd_c) * (unsigned int)p->C);
        } else {
            c = (i / p->S) % p->C;
        }
        if (c != last) {
            ca = scale[c] / sqrtf(var[c] + p->epsilon);
            cm = mean[c];
            cb = bias[c];
            last = c;
        }
        y[i] = __fadd_rn(__fmul_rn(x[i] - cm, ca), cb);
    }
}

MR_ELASTIC_KERNEL(mr_bn_k256, 256, bn_body)
MR_ELASTIC_KERNEL(mr_bn_k64, 64, bn_body)

static const mr_cuda_variant bn_full = {"t256",
                                        (const void *)mr_bn_k256_elastic,
                                        (const void *)mr_bn_k256_plain,
                                        (const void *)mr_bn_k256_wave,
                                        256,
                                        0};
static const mr_cuda_variant bn_small = {"t64",
                                         (const void *)mr_bn_k64_elastic,
                                         (const void *)mr_bn_k64_plain,
                                         (const void *)mr_bn_k64_wave,
                                         64,
                                         0};

static mr_status bn_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                            mr_cuda_plan *plan, mr_err *err) {
    /* The CPU op has checked X and the per-channel inputs (float32, [C]) and the attributes,
     * and derived the [N, C, S] view. */
    const mr_bn_params *cp = (const mr_bn_params *)n->params;
    bn_params p;
    memset(&p, 0, sizeof p);
    p.C = cp->C;
    p.S = cp->S;
    p.numel = cp->numel;
    p.epsilon = cp->epsilon;
    p.narrow = p.numel <= MR_FDIV_MAX;
    if (p.narrow) {
        p.fd_s = mr_fdiv_make(p.S);
        p.fd_c = mr_fdiv_make(p.C);
    }
    long long blocks = (p.numel + BN_CHUNK - 1) / BN_CHUNK;
    plan->n_phases = 1;
    plan->n_blocks = blocks > 0 ? blocks : 1;
    plan->n_variants = 2;
    plan->variants[0] = &bn_full;
    plan->variants[1] = &bn_small;
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

/* ---- LRN ---- */

typedef struct lrn_params {
    long long C, S;
    long long before, after; /* window: c - before .. c + after */
    long long cblocks;       /* channel groups per image: ceil(C / LRN_CC) */
    long long sblocks;       /* spatial chunks per image: ceil(S / LRN_W) */
    long long numel;
    float k; /* alpha / size, rounded as the CPU op does */
    float bias, beta;
} lrn_params;

static __device__ __forceinline__ void lrn_body(const mr_cuda_args *a, long long blk) {
    const lrn_params *p = MR_PARAMS(lrn_params, a);
    if (p->numel == 0) return;
    const long long C = p->C, S = p->S, per_image = p->cblocks * p->sblocks;
    const long long img = blk / per_image, rem = blk - img * per_image;
    const long long cb = rem / p->sblocks, sb = rem - cb * p->sblocks;
    const long long c0 = cb * LRN_CC, j0 = sb * LRN_W;
    const long long c1 = c0 + LRN_CC < C ? c0 + LRN_CC : C;
    const long long j1 = j0 + LRN_W < S ? j0 + LRN_W : S;
    const float *x = (const float *)a->in[0] + img * C * S;
    float *y = (float *)a->out[0] + img * C * S;
    const float k = p->k, bias = p->bias, beta = p->beta;
    for (long long j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
        for (long long c = c0; c < c1; c++) {
            long long lo = c - p->before < 0 ? 0 : c - p->before;
            long long hi = c + p->after > C - 1 ? C - 1 : c + p->after;
            float acc = 0.0f;
            for (long long i = lo; i <= hi; i++) {
                float v = x[i * S + j];
                acc = __fadd_rn(acc, __fmul_rn(v, v));
            }
            float d = __fadd_rn(bias, __fmul_rn(k, acc)), den;
            if (beta == 0.75f) {
                /* As on the CPU: v^0.75 = sqrt(v) * sqrt(sqrt(v)). */
                float r = sqrtf(d);
                den = __fmul_rn(r, sqrtf(r));
            } else {
                den = powf(d, beta);
            }
            y[c * S + j] = x[c * S + j] / den;
        }
    }
}

MR_ELASTIC_KERNEL(mr_lrn_k256, 256, lrn_body)
MR_ELASTIC_KERNEL(mr_lrn_k64, 64, lrn_body)

static const mr_cuda_variant lrn_full = {"t256",
                                         (const void *)mr_lrn_k256_elastic,
                                         (const void *)mr_lrn_k256_plain,
                                         (const void *)mr_lrn_k256_wave,
                                         256,
                                         0};
static const mr_cuda_variant lrn_small = {"t64",
                                          (const void *)mr_lrn_k64_elastic,
                                          (const void *)mr_lrn_k64_plain,
                                          (const void *)mr_lrn_k64_wave,
                                          64,
                                          0};

static mr_status lrn_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                             mr_cuda_plan *plan, mr_err *err) {
    /* The CPU op has checked X and the attributes and derived the [N, C, S] view. */
    const mr_lrn_params *cp = (const mr_lrn_params *)n->params;
    lrn_params p;
    memset(&p, 0, sizeof p);
    p.C = cp->C;
    p.S = cp->S;
    p.numel = mr_desc_numel(&g->tensors[n->in[0]]);
    p.before = (cp->size - 1) / 2;
    p.after = cp->size / 2; /* ceil((size - 1) / 2) */
    p.k = cp->alpha / (float)cp->size;
    p.bias = cp->bias;
    p.beta = cp->beta;
    long long blocks = 1;
    if (p.numel > 0) {
        p.cblocks = (p.C + LRN_CC - 1) / LRN_CC;
        p.sblocks = (p.S + LRN_W - 1) / LRN_W;
        blocks = cp->N * p.cblocks * p.sblocks;
    }
    plan->n_phases = 1;
    plan->n_blocks = blocks > 0 ? blocks : 1;
    plan->n_variants = 2;
    plan->variants[0] = &lrn_full;
    plan->variants[1] = &lrn_small;
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

MR_CUDA_OP(mr_cuda_op_batchnorm, "BatchNormalization", bn_prepare);
MR_CUDA_OP(mr_cuda_op_lrn, "LRN", lrn_prepare);
