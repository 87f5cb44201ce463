/* Gemm and MatMul as elastic kernels (same semantics as src/ops/gemm.c).
 *
 * Both ops are reduced to one batched product  Y[b] = alpha * op(A)[b] * op(B)[b] + C-term,
 * then the fused activation (node->act), where op(A)[m][k] = A[ao(b) + m*sam + k*sak] and
 * op(B)[k][n] = B[bo(b) + k*sbk + n*sbn] (transposes and MatMul's broadcast batch dimensions are
 * only strides), and the C-term is cbeta * C[m*c_sm + n*c_sn]: Gemm's beta*C broadcast to
 * [M, N] (strides 0 on broadcast dimensions), or MatMul's internal bias [N] (c_sm = 0,
 * cbeta = 1). Like the CPU op, MatMul folds A's batch dimensions into M when B has none.
 *
 * Two kernel families, chosen per node (both variants of a node use the same one):
 *   M > 1   tiled SGEMM (gemm_tile.cuh); logical block = (batch, 64-row tile, 64-column tile).
 *           Variant 0: 256 threads, 4x4 outputs each. Variant 1: 64 threads, 8x8 each.
 *           Under MR_PRECISION_TF32 the same grid runs gemm_tile.cuh's TF32 tensor-core tile
 *           (mma.sync m16n8k8, operands rounded with mr_tf32, float32 accumulation; K stages
 *           of 16 copied with cp.async into two shared-memory stages): variant 0 is 8 warps of
 *           32 x 16 outputs, variant 1 2 warps of 64 x 32, bit-identical to each other. A
 *           block covers the whole K, as in float32 (its duration was already that of the
 *           SIMT tile over K; tensor cores only shorten it).
 *   M == 1  GEMV (batch-1 fully connected layers, bandwidth bound: float32 under either
 *           precision, tensor cores would not make it faster); logical block = (batch,
 *           tile of nc output columns), the reduction over K split into ks fixed slices whose
 *           partial sums meet in shared memory in a fixed order. Variant 0: 256 threads,
 *           variant 1: 64 threads; work items are dealt round-robin, so both variants compute
 *           every partial sum the same way (bit-identical results).
 *           Mode R (op(B) rows contiguous in k: Gemm transB=1, W is [N, K]): a warp computes
 *           4 columns over one k-slice, lanes striding over k (float4 when aligned), so W's
 *           rows are read coalesced. Mode C (B is [K, N] row-major): a thread computes one
 *           column over one k-slice, consecutive threads reading consecutive columns.
 */
#include "cuda/gemm_tile.cuh"

extern "C" {
#include "ops/gemm.h"
}

/* GEMV tiling */
#define GV_PART 512 /* shared partial sums per block (ks * nc) */
#define GV_C_NC 32  /* mode C: columns per block */
#define GV_C_KS 16  /* mode C: k-slices */

typedef struct gemm_k_params {
    long long M, N, K; /* per batch; K = 0 when alpha == 0 (the product is skipped) */
    long long sam, sak, sbk, sbn;
    long long c_sm, c_sn;
    long long n_mt, n_nt; /* tiles (GEMV: n_mt = 1, n_nt = column tiles) */
    long long nc, ks, kc; /* GEMV: columns per block, k-slices, slice length */
    float alpha, cbeta;
    int has_c;
    int gv_rows; /* GEMV mode R (1) or C (0) */
    mr_act act;
    int nb; /* batch dimensions (after folding) */
    long long bdims[MR_MAX_DIMS], a_bs[MR_MAX_DIMS], b_bs[MR_MAX_DIMS];
} gemm_k_params;

/* Offsets of A and B for batch index yb (row-major over bdims, broadcast strides 0). */
static __device__ __forceinline__ void batch_offsets(const gemm_k_params *p, long long yb,
                                                     long long *ao, long long *bo) {
    long long a = 0, b = 0;
    for (int i = p->nb - 1; i >= 0; i--) {
        long long idx = yb % p->bdims[i];
        yb /= p->bdims[i];
        a += idx * p->a_bs[i];
        b += idx * p->b_bs[i];
    }
    *ao = a;
    *bo = b;
}

/* alpha * product + C-term, then the fused activation (the CPU order: the C-term is the
 * accumulator's starting value, the activation comes last). */
static __device__ __forceinline__ float epilogue(const gemm_k_params *p, const float *c,
                                                 long long m, long long n, float v) {
    float y = p->alpha * v;
    if (p->has_c && c) y += p->cbeta * c[m * p->c_sm + n * p->c_sn];
    return mr_dev_act(p->act, y);
}

/* ---- tiled SGEMM (M > 1) ---- */

static __device__ __forceinline__ void gemm_tile_body(const mr_cuda_args *a, long long blk, int TM,
                                                      int T) {
    __shared__ __align__(16) mr_gt_smem s;
    const gemm_k_params *p = MR_PARAMS(gemm_k_params, a);
    long long nt = blk % p->n_nt, rest = blk / p->n_nt;
    long long mt = rest % p->n_mt, yb = rest / p->n_mt;
    long long ao, bo;
    batch_offsets(p, yb, &ao, &bo);
    const float *A = (const float *)a->in[0] + ao, *B = (const float *)a->in[1] + bo;
    const float *C = (const float *)a->in[2];
    float *Y = (float *)a->out[0] + yb * p->M * p->N;
    long long m0 = mt * MR_GT_TILE, n0 = nt * MR_GT_TILE;
    float acc[MR_GT_MAXM][MR_GT_MAXM];
    mr_gt_tile(A, p->sam, p->sak, B, p->sbk, p->sbn, p->M, p->N, p->K, m0, n0, TM, T, &s, acc);
#pragma unroll
    for (int i = 0; i < TM; i++) {
        long long m = m0 + mr_gt_row(i, threadIdx.x, TM);
        if (m >= p->M) continue;
#pragma unroll
        for (int j = 0; j < TM; j++) {
            long long n = n0 + mr_gt_col(j, threadIdx.x, TM);
            if (n < p->N) Y[m * p->N + n] = epilogue(p, C, m, n, acc[i][j]);
        }
    }
}

static __device__ void gemm_tile_256(const mr_cuda_args *a, long long blk) {
    gemm_tile_body(a, blk, 4, 256);
}
static __device__ void gemm_tile_64(const mr_cuda_args *a, long long blk) {
    gemm_tile_body(a, blk, 8, 64);
}

/* The same tile on TF32 tensor cores (gemm_tile.cuh): same grid, same epilogue. */
static __device__ __forceinline__ void gemm_tc_body(const mr_cuda_args *a, long long blk, int TM,
                                                    int T) {
    __shared__ __align__(16) mr_gtc_smem s;
    const gemm_k_params *p = MR_PARAMS(gemm_k_params, a);
    long long nt = blk % p->n_nt, rest = blk / p->n_nt;
    long long mt = rest % p->n_mt, yb = rest / p->n_mt;
    long long ao, bo;
    batch_offsets(p, yb, &ao, &bo);
    const float *A = (const float *)a->in[0] + ao, *B = (const float *)a->in[1] + bo;
    const float *C = (const float *)a->in[2];
    float *Y = (float *)a->out[0] + yb * p->M * p->N;
    long long m0 = mt * MR_GT_TILE, n0 = nt * MR_GT_TILE;
    float acc[MR_GT_MAXM][MR_GT_MAXM];
    mr_gt_tile_tf32(A, p->sam, p->sak, B, p->sbk, p->sbn, p->M, p->N, p->K, m0, n0, TM, T, &s, acc);
#pragma unroll
    for (int i = 0; i < TM; i++) {
        long long m = m0 + mr_gtc_row(i, threadIdx.x, TM);
        if (m >= p->M) continue;
#pragma unroll
        for (int j = 0; j < TM; j++) {
            long long n = n0 + mr_gtc_col(j, threadIdx.x, TM);
            if (n < p->N) Y[m * p->N + n] = epilogue(p, C, m, n, acc[i][j]);
        }
    }
}

static __device__ void gemm_tc_256(const mr_cuda_args *a, long long blk) {
    gemm_tc_body(a, blk, 4, 256);
}
static __device__ void gemm_tc_64(const mr_cuda_args *a, long long blk) {
    gemm_tc_body(a, blk, 8, 64);
}

MR_ELASTIC_KERNEL(mr_gemm_tile256, 256, gemm_tile_256)
MR_ELASTIC_KERNEL(mr_gemm_tile64, 64, gemm_tile_64)
MR_ELASTIC_KERNEL(mr_gemm_tc256, 256, gemm_tc_256)
MR_ELASTIC_KERNEL(mr_gemm_tc64, 64, gemm_tc_64)

/* ---- GEMV (M == 1) ---- */

static __device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Mode R: item = (group of 4 columns, k-slice), one warp each. */
static __device__ __forceinline__ void gemv_rows(const gemm_k_params *p, const float *x,
                                                 const float *W, long long n0, float *part, int T) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32;
    const long long K = p->K, N = p->N, sbn = p->sbn;
    const int groups = (int)(p->nc / 4), items = groups * (int)p->ks;
    /* float4 when x and every row of W are 16-byte aligned and contiguous in k */
    const int vec =
        p->sak == 1 && (K & 3) == 0 && (sbn & 3) == 0 && (((uintptr_t)x | (uintptr_t)W) & 15) == 0;
    for (int it = warp; it < items; it += nw) {
        int g = it % groups, sl = it / groups;
        long long kb = sl * p->kc, ke = kb + p->kc < K ? kb + p->kc : K;
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const float *w[4];
        /* A column past N reads row 0 instead (always valid); its sum is dropped. */
#pragma unroll
        for (int q = 0; q < 4; q++) {
            long long n = n0 + g * 4 + q;
            w[q] = W + (n < N ? n : 0) * sbn;
        }
        /* Unrolled so that several iterations' loads are in flight (one warp per item is
         * latency bound otherwise); each column still accumulates in k order. */
        if (vec) {
#pragma unroll 4
            for (long long k = kb + lane * 4; k < ke; k += 128) {
                float4 xv = __ldg((const float4 *)(x + k));
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    float4 wv = __ldg((const float4 *)(w[q] + k));
                    acc[q] = fmaf(wv.x, xv.x, acc[q]);
                    acc[q] = fmaf(wv.y, xv.y, acc[q]);
                    acc[q] = fmaf(wv.z, xv.z, acc[q]);
                    acc[q] = fmaf(wv.w, xv.w, acc[q]);
                }
            }
        } else {
            const long long sak = p->sak;
#pragma unroll 4
            for (long long k = kb + lane; k < ke; k += 32) {
                float xv = __ldg(x + k * sak);
#pragma unroll
                for (int q = 0; q < 4; q++) acc[q] = fmaf(__ldg(w[q] + k), xv, acc[q]);
            }
        }
#pragma unroll
        for (int q = 0; q < 4; q++) {
            float v = warp_sum(acc[q]);
            if (lane == 0) part[sl * p->nc + g * 4 + q] = v;
        }
    }
}

/* Mode C: item = (column, k-slice), one thread each; B's rows are contiguous in n. */
static __device__ __forceinline__ void gemv_cols(const gemm_k_params *p, const float *x,
                                                 const float *B, long long n0, float *part, int T) {
    const long long K = p->K, N = p->N, sbk = p->sbk, sak = p->sak;
    const int items = (int)(p->nc * p->ks);
    for (int it = threadIdx.x; it < items; it += T) {
        int c = it % (int)p->nc, sl = it / (int)p->nc;
        long long n = n0 + c;
        float acc = 0.0f;
        if (n < N) {
            long long kb = sl * p->kc, ke = kb + p->kc < K ? kb + p->kc : K;
            const float *b = B + n * p->sbn;
            long long k = kb;
            /* four independent loads in flight, accumulated in k order */
            for (; k + 4 <= ke; k += 4) {
                float b0 = __ldg(b + k * sbk), b1 = __ldg(b + (k + 1) * sbk);
                float b2 = __ldg(b + (k + 2) * sbk), b3 = __ldg(b + (k + 3) * sbk);
                acc = fmaf(b0, __ldg(x + k * sak), acc);
                acc = fmaf(b1, __ldg(x + (k + 1) * sak), acc);
                acc = fmaf(b2, __ldg(x + (k + 2) * sak), acc);
                acc = fmaf(b3, __ldg(x + (k + 3) * sak), acc);
            }
            for (; k < ke; k++) acc = fmaf(__ldg(b + k * sbk), __ldg(x + k * sak), acc);
        }
        part[sl * p->nc + c] = acc;
    }
}

static __device__ __forceinline__ void gemv_body(const mr_cuda_args *a, long long blk, int T) {
    __shared__ float part[GV_PART];
    const gemm_k_params *p = MR_PARAMS(gemm_k_params, a);
    long long nt = blk % p->n_nt, yb = blk / p->n_nt;
    long long ao, bo;
    batch_offsets(p, yb, &ao, &bo);
    const float *x = (const float *)a->in[0] + ao, *B = (const float *)a->in[1] + bo;
    const float *C = (const float *)a->in[2];
    float *Y = (float *)a->out[0] + yb * p->N;
    long long n0 = nt * p->nc;
    if (p->gv_rows)
        gemv_rows(p, x, B, n0, part, T);
    else
        gemv_cols(p, x, B, n0, part, T);
    __syncthreads();
    for (int c = threadIdx.x; c < (int)p->nc; c += T) {
        long long n = n0 + c;
        if (n >= p->N) break;
        float v = 0.0f;
        for (int sl = 0; sl < (int)p->ks; sl++) v += part[sl * p->nc + c];
        Y[n] = epilogue(p, C, 0, n, v);
    }
}

static __device__ void gemv_256(const mr_cuda_args *a, long long blk) {
    gemv_body(a, blk, 256);
}
static __device__ void gemv_64(const mr_cuda_args *a, long long blk) {
    gemv_body(a, blk, 64);
}

/* Study builds only (scripts/build-variant.sh NAME src/cuda/gemm.cu
 * -DMR_STUDY_GEMV_MIN_BLOCKS=3): the 256-thread GEMV's forms compiled for at least that many
 * resident blocks an SM, which gives the plain form the elastic form's 80 registers
 * (docs/KERNEL_NOTES.md, 34). */
#ifdef MR_STUDY_GEMV_MIN_BLOCKS
MR_ELASTIC_KERNEL_BOUNDS(mr_gemv256, 256, MR_STUDY_GEMV_MIN_BLOCKS, gemv_256)
#else
MR_ELASTIC_KERNEL(mr_gemv256, 256, gemv_256)
#endif
MR_ELASTIC_KERNEL(mr_gemv64, 64, gemv_64)

static const mr_cuda_variant tile_full = {"tile64x64_t256",
                                          (const void *)mr_gemm_tile256_elastic,
                                          (const void *)mr_gemm_tile256_plain,
                                          (const void *)mr_gemm_tile256_wave,
                                          256,
                                          0};
static const mr_cuda_variant tile_small = {"tile64x64_t64",
                                           (const void *)mr_gemm_tile64_elastic,
                                           (const void *)mr_gemm_tile64_plain,
                                           (const void *)mr_gemm_tile64_wave,
                                           64,
                                           0};
static const mr_cuda_variant tc_full = {"tf32_64x64_t256",
                                        (const void *)mr_gemm_tc256_elastic,
                                        (const void *)mr_gemm_tc256_plain,
                                        (const void *)mr_gemm_tc256_wave,
                                        256,
                                        0};
static const mr_cuda_variant tc_small = {"tf32_64x64_t64",
                                         (const void *)mr_gemm_tc64_elastic,
                                         (const void *)mr_gemm_tc64_plain,
                                         (const void *)mr_gemm_tc64_wave,
                                         64,
                                         0};
/* No wave form for the GEMV: the body compiled without the elastic loop takes 64 registers
 * and spills (the plain form's 64 + 8 bytes of stack against the elastic form's 80), and the
 * fully-connected layers of AlexNet and VGG-16 ran 20% slower in it than in the elastic form
 * (H200, TF32, one preemptible wave: 24.4 against 20.3 us; docs/KERNEL_NOTES.md, 33). */
static const mr_cuda_variant gemv_full = {
    "gemv_t256", (const void *)mr_gemv256_elastic, (const void *)mr_gemv256_plain, NULL, 256, 0};
static const mr_cuda_variant gemv_small = {
    "gemv_t64", (const void *)mr_gemv64_elastic, (const void *)mr_gemv64_plain, NULL, 64, 0};

/* ---- host side ---- */

/* Grid, GEMV tiling and variants, common to both ops. */
static mr_status finish_plan(const mr_node *n, const mr_cuda_cfg *cfg, gemm_k_params *p,
                             long long batch, mr_cuda_plan *plan, mr_err *err) {
    p->act = n->act;
    if (p->M > (1LL << 40) || p->N > (1LL << 40) || p->K > (1LL << 40) || batch > (1LL << 40))
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the product is too large");
    long long blocks;
    if (p->M == 1) {
        /* GEMV: about 64K weights (256 KiB) per block keeps a block a few microseconds of
         * the SM's share of memory bandwidth. */
        p->gv_rows = p->sbk == 1;
        if (p->gv_rows) {
            long long nc = 4;
            while (nc < 64 && nc * 2 * (p->K > 0 ? p->K : 1) <= 65536) nc *= 2;
            /* A small layer (cifarnet's 400 x 120) would be a block or two: narrower tiles
             * where the columns leave SMs idle, so that each warp reads one slice instead of
             * going through several one after the other. */
            while (nc > 4 && cfg->sms > 0 && batch * ((p->N + nc - 1) / nc) < cfg->sms) nc /= 2;
            long long ks = 32 / nc > 1 ? 32 / nc : 1; /* >= 8 warp items per block */
            long long kmax = (p->K + 127) / 128;      /* slices of at least 128 */
            if (ks > kmax) ks = kmax > 0 ? kmax : 1;
            p->nc = nc;
            p->ks = ks;
        } else {
            p->nc = GV_C_NC;
            p->ks = GV_C_KS;
        }
        /* slice length, a multiple of 4 so float4 runs never straddle slices */
        p->kc = ((p->K + p->ks - 1) / p->ks + 3) / 4 * 4;
        if (p->kc < 4) p->kc = 4;
        p->n_mt = 1;
        p->n_nt = (p->N + p->nc - 1) / p->nc;
        plan->variants[0] = &gemv_full;
        plan->variants[1] = &gemv_small;
    } else {
        p->n_mt = (p->M + MR_GT_TILE - 1) / MR_GT_TILE;
        p->n_nt = (p->N + MR_GT_TILE - 1) / MR_GT_TILE;
        const int tc = cfg->precision == MR_PRECISION_TF32;
        plan->variants[0] = tc ? &tc_full : &tile_full;
        plan->variants[1] = tc ? &tc_small : &tile_small;
    }
    plan->n_variants = 2;
    blocks = p->M == 0 || p->N == 0 ? 0 : batch * p->n_mt * p->n_nt;
    plan->n_phases = 1;
    plan->n_blocks = blocks;
    plan->phase_blocks = NULL;
    plan->workspace_bytes = 0;
    return mr_cuda_set_params(plan, p, sizeof *p, n, err);
}

static mr_status gemm_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                              mr_cuda_plan *plan, mr_err *err) {
    /* The CPU op has checked the attributes and operands (2-D float32 A and B, matching inner
     * dimensions, C broadcastable to [M, N]) and derived the geometry. */
    const mr_gemm_params *cp = (const mr_gemm_params *)n->params;
    gemm_k_params p;
    memset(&p, 0, sizeof p);
    p.M = cp->M;
    p.K = cp->K;
    p.N = cp->N;
    /* A is [M,K] (or [K,M] transposed), B is [K,N] (or [N,K]) */
    p.sam = cp->trans_a ? 1 : p.K;
    p.sak = cp->trans_a ? p.M : 1;
    p.sbk = cp->trans_b ? 1 : p.N;
    p.sbn = cp->trans_b ? p.K : 1;
    p.c_sm = cp->c_sm;
    p.c_sn = cp->c_sn;
    p.has_c = cp->has_c;
    p.alpha = cp->alpha;
    p.cbeta = cp->beta;
    /* The CPU skips the product when alpha == 0 (so Inf/NaN in A or B do not leak into Y). */
    if (p.alpha == 0.0f) p.K = 0;
    p.nb = 0;
    return finish_plan(n, cfg, &p, 1, plan, err);
}

static mr_status matmul_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                mr_cuda_plan *plan, mr_err *err) {
    /* The CPU op has checked the operands (float32, inner dimensions, broadcastable batch
     * dimensions, the constant bias [N]) and derived the geometry, A's batch dimensions folded
     * into M when B has none (Y's rows follow A's in memory). */
    const mr_gemm_params *cp = (const mr_gemm_params *)n->params;
    gemm_k_params p;
    memset(&p, 0, sizeof p);
    p.M = cp->M;
    p.K = cp->K;
    p.N = cp->N;
    if (cp->has_c) {
        p.has_c = 1;
        p.c_sm = 0;
        p.c_sn = 1;
    }
    p.alpha = 1.0f;
    p.cbeta = 1.0f;
    p.sam = p.K;
    p.sak = 1;
    p.sbk = p.N;
    p.sbn = 1;
    /* Batch dimensions and element strides (0 where broadcast). */
    for (int i = 0; i < MR_MAX_DIMS; i++) {
        p.bdims[i] = cp->bdims[i];
        p.a_bs[i] = cp->a_bs[i];
        p.b_bs[i] = cp->b_bs[i];
    }
    p.nb = cp->nb;
    return finish_plan(n, cfg, &p, cp->batch, plan, err);
}

MR_CUDA_OP(mr_cuda_op_gemm, "Gemm", gemm_prepare);
MR_CUDA_OP(mr_cuda_op_matmul, "MatMul", matmul_prepare);
