/* MaxPool, AveragePool (1-D, 2-D, 3-D) and GlobalAveragePool, float32, as elastic kernels.
 *
 * Semantics follow the CPU reference (src/ops/pool.c), whose geometry is re-derived here from
 * the attributes the same way (pool_geometry / pool_dim) and checked against the inferred
 * output shape: every pool runs in 3-D form (missing leading spatial dims: extent 1,
 * kernel 1, stride 1, no pads); with ceil_mode a last window that starts in the right padding
 * is dropped; padding is never a max candidate (a window with no input tap gives -inf); the
 * average divides by the taps inside the input (count_include_pad = 0) or inside the padded
 * input (count_include_pad = 1), and is NaN for a window with no counted tap.
 * The average adds its taps in the CPU's order (kernel columns outer, each column's (d, h)
 * taps summed first), so both backends round alike.
 *
 * Max/AveragePool: a logical block is a fixed chunk of outputs (sized so that a block reads
 * a bounded number of taps); a thread computes whole windows. GlobalAveragePool: a logical
 * block is a run of (n, c) planes; each plane is reduced by one warp in double (as the CPU
 * does), in an order that does not depend on the block size, so both variants agree
 * bitwise. Variants: 256 and 64 threads over the same chunks.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cuda/common.cuh"

enum { POOL_PAD_NOTSET, POOL_PAD_SAME_UPPER, POOL_PAD_SAME_LOWER, POOL_PAD_VALID };
enum { POOL_MAX, POOL_AVG, POOL_GLOBAL_AVG };

/* Window taps per logical block: these kernels are memory-bound, so blocks are kept small
 * (about a microsecond) for a batch-1 layer to spread over every SM. */
#define POOL_BLOCK_TAPS (1 << 13)
#define POOL_CHUNK_MIN  256
#define POOL_CHUNK_MAX  2048
/* GlobalAveragePool: input elements per logical block. */
#define GAP_BLOCK_ELEMS (1 << 11)

typedef struct pool_cu_params {
    int kind, count_include_pad;
    int small_max; /* 1: pool_max_small's kernels (a 2-D MaxPool of <= 3 x 3 undilated taps) */
    int in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
    long long in_plane; /* in[0]*in[1]*in[2] */
    int out_plane;      /* out[0]*out[1]*out[2] */
    long long total;    /* outputs (Max/Avg) or (n, c) planes (Global) */
    long long chunk;    /* outputs or planes per logical block */
} pool_cu_params;

/* ---------------------------------------------------------------- device code ---- */

/* Taps t in [0, k) with 0 <= start + t*d < lim, as [*lo, *hi) (tap_range of the CPU). */
static __device__ __forceinline__ void pool_taps(int start, int k, int d, int lim, int *lo,
                                                 int *hi) {
    int l, h;
    if (d == 1) {
        l = start >= 0 ? 0 : -start;
        h = lim - start;
    } else {
        l = start >= 0 ? 0 : (-start + d - 1) / d;
        h = start >= lim ? 0 : (lim - start + d - 1) / d;
    }
    if (h > k) h = k;
    if (h < 0) h = 0;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* A 2-D MaxPool of at most 3 x 3 undilated taps (every max pool of the zoo), outputs [e0, e1)
 * of fewer than 2^31: a thread takes four outputs at a time and issues all their taps' loads
 * before the first maximum, where the general loop below has one output's taps in flight at a
 * time, behind a dozen divisions (VGG-16's first max pool on a whole H200 ran at ~1 TB/s).
 * The same taps in the same order (column by column; taps outside the window or the image
 * count as -inf, which `t > m` never takes), so the same result. */
static __device__ __forceinline__ void pool_max_small(const pool_cu_params *p, const float *x,
                                                      float *y, long long e0, long long e1) {
    const int OH = p->out[1], OW = p->out[2], IH = p->in[1], IW = p->in[2];
    const int KH = p->k[1], KW = p->k[2];
    const int step = (int)blockDim.x;
    for (int eb = (int)e0 + (int)threadIdx.x; eb < (int)e1; eb += 4 * step) {
        float v[4][9];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int e = min(eb + j * step, (int)e1 - 1);
            const int ow = e % OW, t = e / OW, oh = t % OH, nc = t / OH;
            const int sh = oh * p->s[1] - p->pb[1], sw = ow * p->s[2] - p->pb[2];
            const float *xp = x + (long long)nc * p->in_plane;
#pragma unroll
            for (int tw = 0; tw < 3; tw++)
#pragma unroll
                for (int th = 0; th < 3; th++) {
                    const int ih = sh + th, iw = sw + tw;
                    const bool in = tw < KW && th < KH && (unsigned)ih < (unsigned)IH &&
                                    (unsigned)iw < (unsigned)IW;
                    v[j][tw * 3 + th] = in ? __ldg(xp + ih * IW + iw) : -INFINITY;
                }
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float m = -INFINITY;
#pragma unroll
            for (int q = 0; q < 9; q++) m = v[j][q] > m ? v[j][q] : m;
            if (eb + j * step < (int)e1) y[eb + j * step] = m;
        }
    }
}

static __device__ __forceinline__ void pool_max_small_body(const mr_cuda_args *a, long long blk) {
    const pool_cu_params *p = MR_PARAMS(pool_cu_params, a);
    const long long e0 = blk * p->chunk;
    pool_max_small(p, (const float *)a->in[0], (float *)a->out[0], e0,
                   e0 + p->chunk < p->total ? e0 + p->chunk : p->total);
}

static __device__ __forceinline__ void pool_body(const mr_cuda_args *a, long long blk) {
    const pool_cu_params *p = MR_PARAMS(pool_cu_params, a);
    const float *x = (const float *)a->in[0];
    float *y = (float *)a->out[0];
    const long long e0 = blk * p->chunk;
    const long long e1 = e0 + p->chunk < p->total ? e0 + p->chunk : p->total;
    const int OH = p->out[1], OW = p->out[2], IH = p->in[1], IW = p->in[2];
    const int is_max = p->kind == POOL_MAX;
    for (long long e = e0 + threadIdx.x; e < e1; e += blockDim.x) {
        const long long nc = e / p->out_plane;
        int r = (int)(e - nc * p->out_plane);
        const int ow = r % OW;
        r /= OW;
        const int oh = r % OH, od = r / OH;
        const int sd = od * p->s[0] - p->pb[0], sh = oh * p->s[1] - p->pb[1];
        const int sw = ow * p->s[2] - p->pb[2];
        int dl, dhi, hl, hhi, wl, whi;
        pool_taps(sd, p->k[0], p->d[0], p->in[0], &dl, &dhi);
        pool_taps(sh, p->k[1], p->d[1], IH, &hl, &hhi);
        pool_taps(sw, p->k[2], p->d[2], IW, &wl, &whi);
        const float *xp = x + nc * p->in_plane;
        float v;
        if (is_max) {
            float m = -INFINITY;
            for (int tw = wl; tw < whi; tw++) {
                const int iw = sw + tw * p->d[2];
                for (int td = dl; td < dhi; td++) {
                    const float *xd = xp + (long long)(sd + td * p->d[0]) * IH * IW;
                    for (int th = hl; th < hhi; th++) {
                        const float t = __ldg(xd + (sh + th * p->d[1]) * IW + iw);
                        m = t > m ? t : m;
                    }
                }
            }
            v = m;
        } else {
            float sum = 0.0f;
            for (int tw = wl; tw < whi; tw++) {
                const int iw = sw + tw * p->d[2];
                float col = 0.0f;
                for (int td = dl; td < dhi; td++) {
                    const float *xd = xp + (long long)(sd + td * p->d[0]) * IH * IW;
                    for (int th = hl; th < hhi; th++)
                        col += __ldg(xd + (sh + th * p->d[1]) * IW + iw);
                }
                sum += col;
            }
            long long cnt = (long long)(dhi - dl) * (hhi - hl) * (whi - wl);
            if (p->count_include_pad) {
                /* taps inside the padded input [-pb, in + pe) */
                int a0, a1, b0, b1, c0, c1;
                pool_taps(sd + p->pb[0], p->k[0], p->d[0], p->in[0] + p->pb[0] + p->pe[0], &a0,
                          &a1);
                pool_taps(sh + p->pb[1], p->k[1], p->d[1], IH + p->pb[1] + p->pe[1], &b0, &b1);
                pool_taps(sw + p->pb[2], p->k[2], p->d[2], IW + p->pb[2] + p->pe[2], &c0, &c1);
                cnt = (long long)(a1 - a0) * (b1 - b0) * (c1 - c0);
            }
            v = cnt > 0 ? sum / (float)cnt : NAN;
        }
        y[e] = v;
    }
}

/* GlobalAveragePool: planes [blk*chunk, ...), one warp per plane; lane l adds elements
 * l, l+32, ... in double, then a fixed shuffle tree: independent of blockDim. */
static __device__ __forceinline__ void gap_body(const mr_cuda_args *a, long long blk) {
    const pool_cu_params *p = MR_PARAMS(pool_cu_params, a);
    const float *x = (const float *)a->in[0];
    float *y = (float *)a->out[0];
    const long long S = p->in_plane;
    const long long r0 = blk * p->chunk;
    const long long r1 = r0 + p->chunk < p->total ? r0 + p->chunk : p->total;
    const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (long long r = r0 + (threadIdx.x >> 5); r < r1; r += warps) {
        const float *xp = x + r * S;
        double acc = 0.0;
        for (long long i = lane; i < S; i += 32) acc += (double)__ldg(xp + i);
        for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
        if (lane == 0) y[r] = S > 0 ? (float)(acc / (double)S) : NAN;
    }
}

MR_ELASTIC_KERNEL(mr_pool_t256, 256, pool_body)
MR_ELASTIC_KERNEL(mr_pool_t64, 64, pool_body)
/* (kernels of their own: the small max pool's 36 loads in flight take 80 registers) */
MR_ELASTIC_KERNEL(mr_pool_max_small_t256, 256, pool_max_small_body)
MR_ELASTIC_KERNEL(mr_pool_max_small_t64, 64, pool_max_small_body)
MR_ELASTIC_KERNEL(mr_gap_t256, 256, gap_body)
MR_ELASTIC_KERNEL(mr_gap_t64, 64, gap_body)

static const mr_cuda_variant pool_full = {"t256",
                                          (const void *)mr_pool_t256_elastic,
                                          (const void *)mr_pool_t256_plain,
                                          (const void *)mr_pool_t256_wave,
                                          256,
                                          0};
static const mr_cuda_variant pool_small = {"t64",
                                           (const void *)mr_pool_t64_elastic,
                                           (const void *)mr_pool_t64_plain,
                                           (const void *)mr_pool_t64_wave,
                                           64,
                                           0};
static const mr_cuda_variant pool_max_small_full = {"max3x3_t256",
                                                    (const void *)mr_pool_max_small_t256_elastic,
                                                    (const void *)mr_pool_max_small_t256_plain,
                                                    (const void *)mr_pool_max_small_t256_wave,
                                                    256,
                                                    0};
static const mr_cuda_variant pool_max_small_small = {"max3x3_t64",
                                                     (const void *)mr_pool_max_small_t64_elastic,
                                                     (const void *)mr_pool_max_small_t64_plain,
                                                     (const void *)mr_pool_max_small_t64_wave,
                                                     64,
                                                     0};
static const mr_cuda_variant gap_full = {"t256",
                                         (const void *)mr_gap_t256_elastic,
                                         (const void *)mr_gap_t256_plain,
                                         (const void *)mr_gap_t256_wave,
                                         256,
                                         0};
static const mr_cuda_variant gap_small = {"t64",
                                          (const void *)mr_gap_t64_elastic,
                                          (const void *)mr_gap_t64_plain,
                                          (const void *)mr_gap_t64_wave,
                                          64,
                                          0};

/* ------------------------------------------------------------------ host code ---- */

/* Output extent and pads of one spatial dimension: pool_dim of the CPU. */
static int pool_dim(long long in, long long k, long long s, long long d, int auto_pad,
                    int ceil_mode, long long *pb, long long *pe, long long *out) {
    long long dk = (k - 1) * d + 1;
    if (auto_pad == POOL_PAD_SAME_UPPER || auto_pad == POOL_PAD_SAME_LOWER) {
        long long o = (in + s - 1) / s;
        long long total = (o - 1) * s + dk - in;
        if (total < 0) total = 0;
        *pb = auto_pad == POOL_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pe = total - *pb;
        *out = o;
        return o >= 1;
    }
    if (auto_pad == POOL_PAD_VALID) *pb = *pe = 0;
    long long span = in + *pb + *pe - dk;
    if (span < 0) return 0;
    long long o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + *pb) o--;
    *out = o;
    return o >= 1;
}

static int fits_int(long long v) {
    return v >= 0 && v <= INT_MAX;
}

static mr_status get_flag(const mr_node *n, const char *name, int *out, mr_err *err) {
    int64_t v;
    MR_TRY(mr_attr_get_int(n, name, 0, &v, err));
    if (v != 0 && v != 1) return mr_err_attr(err, n, name, "must be 0 or 1");
    *out = (int)v;
    return MR_OK;
}

static mr_status pool_prepare_kind(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                   mr_cuda_plan *plan, int kind, mr_err *err) {
    pool_cu_params p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0)
        return mr_err_node(err, MR_ERR_GRAPH, n, "needs an input X and an output Y");
    if (n->n_out > 1 && n->out[1] >= 0)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the second output (Indices) is not supported");
    const mr_tensor_desc *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
    if (x->dtype != MR_DTYPE_F32 || y->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "only float32 is supported on CUDA");
    if (x->ndim < 3 || y->ndim != x->ndim)
        return mr_err_node(err, MR_ERR_SHAPE, n, "input X must have rank >= 3");
    const int ns = x->ndim - 2;
    long long NC = x->dims[0] * x->dims[1];
    if (x->dims[1] != 0 && NC / x->dims[1] != x->dims[0])
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "input X is too large");

    plan->n_phases = 1;
    plan->n_variants = 2;
    if (kind == POOL_GLOBAL_AVG) {
        long long S = 1;
        for (int i = 0; i < ns; i++) {
            if (x->dims[2 + i] != 0 && S > LLONG_MAX / 4 / x->dims[2 + i])
                return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "input X is too large");
            S *= x->dims[2 + i];
            if (y->dims[2 + i] != 1)
                return mr_err_node(err, MR_ERR_INTERNAL, n,
                                   "the inferred output shape disagrees with the CUDA geometry");
        }
        p.in_plane = S;
        p.total = NC;
        p.chunk = S > 0 ? GAP_BLOCK_ELEMS / S : GAP_BLOCK_ELEMS;
        if (p.chunk < 1) p.chunk = 1;
        /* one plane per warp of variant 0 where the planes are too few to fill the SMs */
        p.chunk = mr_cuda_spread_chunk(NC, p.chunk, 8, cfg->sms);
        plan->n_blocks = NC > 0 ? (NC + p.chunk - 1) / p.chunk : 0;
        plan->variants[0] = &gap_full;
        plan->variants[1] = &gap_small;
        return mr_cuda_set_params(plan, &p, sizeof p, n, err);
    }

    if (ns > 3)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "%d-D pooling is not supported on CUDA; at most 3-D", ns);
    /* attributes, as pool_init_kind / pool_geometry on the CPU */
    const char *ap;
    int auto_pad, ceil_mode = 0;
    MR_TRY(mr_attr_get_string(n, "auto_pad", "NOTSET", &ap, err));
    if (strcmp(ap, "NOTSET") == 0)
        auto_pad = POOL_PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        auto_pad = POOL_PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        auto_pad = POOL_PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0)
        auto_pad = POOL_PAD_VALID;
    else
        return mr_err_attr(err, n, "auto_pad", "unknown value");
    MR_TRY(get_flag(n, "ceil_mode", &ceil_mode, err));
    if (kind == POOL_AVG) MR_TRY(get_flag(n, "count_include_pad", &p.count_include_pad, err));
    int64_t ks[MR_MAX_DIMS], strides[MR_MAX_DIMS], dil[MR_MAX_DIMS], pads[2 * MR_MAX_DIMS];
    int n_ks, n_strides, n_dil, n_pads;
    MR_TRY(mr_attr_get_ints(n, "kernel_shape", ks, MR_MAX_DIMS, &n_ks, err));
    MR_TRY(mr_attr_get_ints(n, "strides", strides, MR_MAX_DIMS, &n_strides, err));
    MR_TRY(mr_attr_get_ints(n, "dilations", dil, MR_MAX_DIMS, &n_dil, err));
    MR_TRY(mr_attr_get_ints(n, "pads", pads, 2 * MR_MAX_DIMS, &n_pads, err));
    if (n_ks != ns || (n_strides && n_strides != ns) || (n_dil && n_dil != ns) ||
        (auto_pad == POOL_PAD_NOTSET && n_pads && n_pads != 2 * ns))
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "kernel_shape, strides, dilations or pads do not match %d spatial "
                           "dimensions",
                           ns);
    long long taps = 1, out_plane = 1, in_plane = 1;
    for (int j = 0; j < 3; j++) {
        int i = j - (3 - ns); /* spatial index of 3-D dim j, < 0 for a missing one */
        long long in = i < 0 ? 1 : x->dims[2 + i];
        long long k = i < 0 ? 1 : ks[i];
        long long s = i < 0 || !n_strides ? 1 : strides[i];
        long long d = i < 0 || !n_dil ? 1 : dil[i];
        int have_pads = i >= 0 && n_pads && auto_pad == POOL_PAD_NOTSET;
        long long pb = have_pads ? pads[i] : 0, pe = have_pads ? pads[i + ns] : 0, o;
        if (k < 1 || s < 1 || d < 1 || pb < 0 || pe < 0 || k > INT_MAX / 4 || s > INT_MAX / 4 ||
            d > INT_MAX / 4 || pb > INT_MAX / 4 || pe > INT_MAX / 4 || !fits_int(in))
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                               "kernel_shape, strides, dilations or pads out of range");
        if (!pool_dim(in, k, s, d, i < 0 ? POOL_PAD_NOTSET : auto_pad, ceil_mode, &pb, &pe, &o))
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "the kernel (dilations applied) does not fit in the padded input");
        if (i >= 0 && y->dims[2 + i] != o)
            return mr_err_node(err, MR_ERR_INTERNAL, n,
                               "the inferred output shape disagrees with the CUDA geometry");
        /* window starts and ends stay in int: o*s + (k-1)*d + pads */
        if (!fits_int((o - 1) * s + (k - 1) * d + 1 + pb + pe) || !fits_int(in + pb + pe))
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the pooling is too large for CUDA");
        p.in[j] = (int)in;
        p.out[j] = (int)o;
        p.k[j] = (int)k;
        p.s[j] = (int)s;
        p.d[j] = (int)d;
        p.pb[j] = (int)pb;
        p.pe[j] = (int)pe;
        taps *= k;
        out_plane *= o;
        in_plane *= in;
        if (taps > INT_MAX || out_plane > INT_MAX || in_plane > LLONG_MAX / 4 / (NC + 1))
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the pooling is too large for CUDA");
    }
    if ((long long)p.in[1] * p.in[2] > INT_MAX)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "input planes too large for CUDA");
    p.in_plane = in_plane;
    p.out_plane = (int)out_plane;
    if (NC != 0 && out_plane > LLONG_MAX / NC)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the pooling is too large");
    p.total = NC * out_plane;
    p.small_max = kind == POOL_MAX && p.in[0] == 1 && p.k[0] == 1 && p.out[0] == 1 && p.k[1] <= 3 &&
                  p.k[2] <= 3 && p.d[1] == 1 && p.d[2] == 1 && p.total + 4 * 256 < INT_MAX;
    p.chunk = POOL_BLOCK_TAPS / taps;
    p.chunk = (p.chunk / POOL_CHUNK_MIN) * POOL_CHUNK_MIN;
    if (p.chunk < POOL_CHUNK_MIN) p.chunk = POOL_CHUNK_MIN;
    if (p.chunk > POOL_CHUNK_MAX) p.chunk = POOL_CHUNK_MAX;
    p.chunk = mr_cuda_spread_chunk(p.total, p.chunk, POOL_CHUNK_MIN, cfg->sms);
    plan->n_blocks = (p.total + p.chunk - 1) / p.chunk;
    plan->variants[0] = p.small_max ? &pool_max_small_full : &pool_full;
    plan->variants[1] = p.small_max ? &pool_max_small_small : &pool_small;
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

static mr_status maxpool_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                 mr_cuda_plan *plan, mr_err *err) {
    return pool_prepare_kind(g, n, cfg, plan, POOL_MAX, err);
}
static mr_status avgpool_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                 mr_cuda_plan *plan, mr_err *err) {
    return pool_prepare_kind(g, n, cfg, plan, POOL_AVG, err);
}
static mr_status gavgpool_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                  mr_cuda_plan *plan, mr_err *err) {
    return pool_prepare_kind(g, n, cfg, plan, POOL_GLOBAL_AVG, err);
}

MR_CUDA_OP(mr_cuda_op_maxpool, "MaxPool", maxpool_prepare);
MR_CUDA_OP(mr_cuda_op_averagepool, "AveragePool", avgpool_prepare);
MR_CUDA_OP(mr_cuda_op_globalaveragepool, "GlobalAveragePool", gavgpool_prepare);
