/* MaxPool, AveragePool (ONNX opsets 1..17; 1-D, 2-D and 3-D) and GlobalAveragePool, float32,
 * NC + spatial layout.
 *
 * Every pool runs in 3-D form: missing leading spatial dims have extent 1, kernel 1,
 * stride 1, no padding. A logical block is a run of output rows (one row = the last spatial
 * dim of one (n, c, d, h)); GlobalAveragePool's block is a run of whole (n, c) planes.
 *
 * Output size: floor (or, with ceil_mode, ceil) of (in + pads - dk) / stride, plus 1, with
 * dk = (kernel - 1) * dilation + 1. With ceil_mode, a last window that would *start* in the
 * right padding is dropped (PyTorch's rule, which the ONNX spec adopted after onnx 1.12; the
 * onnx 1.12 golden tests never hit the case). SAME_UPPER/LOWER give ceil(in / stride) whatever
 * ceil_mode says.
 *
 * Padding is never a candidate for the max. For the average, count_include_pad = 0 divides by
 * the taps inside the input; count_include_pad = 1 by the taps inside the *padded* input, so
 * a ceil_mode window that runs past the end padding is not charged for that part (this is
 * what the ONNX reference and PyTorch do; test_averagepool_2d_ceil and
 * test_averagepool_2d_pads_count_include_pad check it).
 *
 * MaxPool's optional second output (Indices) is not supported; storage_order only matters for
 * Indices, so both of its values are accepted. AveragePool also accepts `dilations` (opset 19)
 * since the kernel handles them anyway.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"

enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };
enum { POOL_MAX, POOL_AVG, POOL_GLOBAL_AVG };

#define POOL_ATTR_MAX ((int64_t)1 << 20)
#define POOL_DIM_MAX  ((int64_t)1 << 40)
/* Window taps (compare or add) per logical block: these kernels are memory-bound, a few
 * hundred thousand taps is some tens of microseconds. */
#define POOL_BLOCK_TAPS ((int64_t)1 << 18)

typedef struct pool_params {
    int kind;
    /* attributes (init) */
    int auto_pad, ceil_mode, count_include_pad;
    int n_ks, n_strides, n_dil, n_pads;
    int64_t ks[MR_MAX_DIMS], strides[MR_MAX_DIMS], dil[MR_MAX_DIMS], pads[2 * MR_MAX_DIMS];
    /* geometry in 3-D form (set by pool_geometry) */
    int64_t NC, in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
    /* tiling (prepare) */
    int64_t rows, rows_per_block; /* output rows, or (n, c) planes for GlobalAveragePool */
} pool_params;

static const char *const maxpool_attrs[] = {
    "auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides", NULL};
static const char *const avgpool_attrs[] = {
    "auto_pad",     "ceil_mode", "count_include_pad", "dilations",
    "kernel_shape", "pads",      "strides",           NULL};

static mr_status parse_auto_pad(const mr_node *n, int *out, mr_err *err) {
    const char *s;
    MR_TRY(mr_attr_get_string(n, "auto_pad", "NOTSET", &s, err));
    if (strcmp(s, "NOTSET") == 0)
        *out = PAD_NOTSET;
    else if (strcmp(s, "SAME_UPPER") == 0)
        *out = PAD_SAME_UPPER;
    else if (strcmp(s, "SAME_LOWER") == 0)
        *out = PAD_SAME_LOWER;
    else if (strcmp(s, "VALID") == 0)
        *out = PAD_VALID;
    else {
        char why[160];
        snprintf(why, sizeof why,
                 "unknown value '%.60s' (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)", s);
        return mr_err_attr(err, n, "auto_pad", why);
    }
    return MR_OK;
}

static mr_status get_ints_range(const mr_node *n, const char *name, int64_t *out, int cap,
                                int *count, int64_t lo, mr_err *err) {
    MR_TRY(mr_attr_get_ints(n, name, out, cap, count, err));
    for (int i = 0; i < *count; i++) {
        if (out[i] < lo || out[i] > POOL_ATTR_MAX) {
            char why[128];
            snprintf(why, sizeof why, "value %lld is out of range [%lld, %lld]", (long long)out[i],
                     (long long)lo, (long long)POOL_ATTR_MAX);
            return mr_err_attr(err, n, name, why);
        }
    }
    return MR_OK;
}

static mr_status get_bool(const mr_node *n, const char *name, int *out, mr_err *err) {
    int64_t v;
    MR_TRY(mr_attr_get_int(n, name, 0, &v, err));
    if (v != 0 && v != 1) return mr_err_attr(err, n, name, "must be 0 or 1");
    *out = (int)v;
    return MR_OK;
}

static mr_status pool_init_kind(mr_node *n, int kind, mr_err *err) {
    pool_params p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    if (kind != POOL_GLOBAL_AVG) {
        MR_TRY(parse_auto_pad(n, &p.auto_pad, err));
        MR_TRY(get_bool(n, "ceil_mode", &p.ceil_mode, err));
        if (!mr_node_attr(n, "kernel_shape"))
            return mr_err_attr(err, n, "kernel_shape", "is required");
        MR_TRY(get_ints_range(n, "kernel_shape", p.ks, MR_MAX_DIMS, &p.n_ks, 1, err));
        MR_TRY(get_ints_range(n, "strides", p.strides, MR_MAX_DIMS, &p.n_strides, 1, err));
        MR_TRY(get_ints_range(n, "dilations", p.dil, MR_MAX_DIMS, &p.n_dil, 1, err));
        MR_TRY(get_ints_range(n, "pads", p.pads, 2 * MR_MAX_DIMS, &p.n_pads, 0, err));
    }
    if (kind == POOL_AVG) MR_TRY(get_bool(n, "count_include_pad", &p.count_include_pad, err));
    if (kind == POOL_MAX) {
        int so;
        MR_TRY(get_bool(n, "storage_order", &so, err));
        if (n->n_out > 1 && n->out[1] >= 0)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                               "the second output (Indices) is not supported");
    }
    pool_params *pp = mr_malloc(sizeof *pp, "pooling parameters", err);
    if (!pp) return err->status;
    *pp = p;
    n->params = pp;
    return MR_OK;
}

static mr_status maxpool_init(mr_graph *g, mr_node *n, mr_err *err) {
    return pool_init_kind(n, POOL_MAX, err);
}
static mr_status avgpool_init(mr_graph *g, mr_node *n, mr_err *err) {
    return pool_init_kind(n, POOL_AVG, err);
}
static mr_status gavgpool_init(mr_graph *g, mr_node *n, mr_err *err) {
    return pool_init_kind(n, POOL_GLOBAL_AVG, err);
}

/* Output extent and pads of one spatial dimension (see the top of the file). Returns 0 when
 * the dilated kernel does not fit in the padded input. */
static int pool_dim(int64_t in, int64_t k, int64_t s, int64_t d, int auto_pad, int ceil_mode,
                    int64_t *pb, int64_t *pe, int64_t *out) {
    int64_t dk = (k - 1) * d + 1;
    if (auto_pad == PAD_SAME_UPPER || auto_pad == PAD_SAME_LOWER) {
        int64_t o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + dk - in;
        if (total < 0) total = 0;
        *pb = auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pe = total - *pb;
        *out = o;
        return o >= 1;
    }
    if (auto_pad == PAD_VALID) *pb = *pe = 0;
    int64_t span = in + *pb + *pe - dk;
    if (span < 0) return 0;
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + *pb) o--;
    *out = o;
    return o >= 1;
}

static mr_status pool_geometry(mr_graph *g, const mr_node *n, pool_params *p, int *out_ndim,
                               int64_t *out_dims, mr_err *err) {
    const mr_tensor_desc *x = mr_node_input(g, n, 0);
    char s1[128];
    if (!x) return mr_err_node(err, MR_ERR_GRAPH, n, "the input X is missing");
    if (x->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "input X is %s; only float32 is supported",
                           mr_dtype_name(x->dtype));
    if (x->ndim < 3)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "input X must have rank >= 3 (N, C, spatial...), got %s",
                           mr_dims_str(x->ndim, x->dims, s1, sizeof s1));
    int ns = x->ndim - 2;
    if (!mr_mul_i64(x->dims[0], x->dims[1], &p->NC))
        return mr_err_node(err, MR_ERR_SHAPE, n, "input X %s is too large",
                           mr_dims_str(x->ndim, x->dims, s1, sizeof s1));
    *out_ndim = x->ndim;
    out_dims[0] = x->dims[0];
    out_dims[1] = x->dims[1];
    if (p->kind == POOL_GLOBAL_AVG) {
        int64_t S = 1;
        for (int i = 0; i < ns; i++) {
            if (!mr_mul_i64(S, x->dims[2 + i], &S))
                return mr_err_node(err, MR_ERR_SHAPE, n, "input X %s is too large",
                                   mr_dims_str(x->ndim, x->dims, s1, sizeof s1));
            out_dims[2 + i] = 1;
        }
        /* Stored as a 3-D pool over a [1, 1, S] volume. */
        for (int i = 0; i < 3; i++) {
            p->in[i] = i == 2 ? S : 1;
            p->out[i] = 1;
            p->k[i] = p->in[i];
            p->s[i] = p->d[i] = 1;
            p->pb[i] = p->pe[i] = 0;
        }
        return MR_OK;
    }
    if (ns > 3)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "%d-D pooling is not supported (input X is %s); at most 3-D", ns,
                           mr_dims_str(x->ndim, x->dims, s1, sizeof s1));
    if (p->n_ks != ns)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "kernel_shape has %d values for %d spatial dimensions", p->n_ks, ns);
    if (p->n_strides && p->n_strides != ns)
        return mr_err_node(err, MR_ERR_SHAPE, n, "strides has %d values for %d spatial dimensions",
                           p->n_strides, ns);
    if (p->n_dil && p->n_dil != ns)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "dilations has %d values for %d spatial dimensions", p->n_dil, ns);
    if (p->auto_pad == PAD_NOTSET && p->n_pads && p->n_pads != 2 * ns)
        return mr_err_node(err, MR_ERR_SHAPE, n, "pads has %d values for %d spatial dimensions",
                           p->n_pads, ns);
    for (int j = 0; j < 3; j++) {
        int i = j - (3 - ns); /* spatial index of 3-D dim j, < 0 for a missing one */
        p->in[j] = i < 0 ? 1 : x->dims[2 + i];
        p->k[j] = i < 0 ? 1 : p->ks[i];
        p->s[j] = i < 0 || !p->n_strides ? 1 : p->strides[i];
        p->d[j] = i < 0 || !p->n_dil ? 1 : p->dil[i];
        int have_pads = i >= 0 && p->n_pads && p->auto_pad == PAD_NOTSET;
        p->pb[j] = have_pads ? p->pads[i] : 0;
        p->pe[j] = have_pads ? p->pads[i + ns] : 0;
        if (p->in[j] > POOL_DIM_MAX)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "input X %s is too large",
                               mr_dims_str(x->ndim, x->dims, s1, sizeof s1));
        int64_t dk = (p->k[j] - 1) * p->d[j] + 1;
        /* A pad as wide as the window would allow windows of padding only. */
        if (p->pb[j] >= dk || p->pe[j] >= dk)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                               "pads must be smaller than the (dilated) kernel (%lld)",
                               (long long)dk);
        int mode = i < 0 ? PAD_NOTSET : p->auto_pad;
        if (!pool_dim(p->in[j], p->k[j], p->s[j], p->d[j], mode, p->ceil_mode, &p->pb[j], &p->pe[j],
                      &p->out[j]))
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "the kernel (dilations applied) does not fit in the padded input "
                               "%s",
                               mr_dims_str(x->ndim, x->dims, s1, sizeof s1));
        if (i >= 0) out_dims[2 + i] = p->out[j];
    }
    return MR_OK;
}

static mr_status pool_infer(mr_graph *g, mr_node *n, mr_err *err) {
    pool_params *p = n->params;
    int nd;
    int64_t dims[MR_MAX_DIMS];
    MR_TRY(pool_geometry(g, n, p, &nd, dims, err));
    mr_tensor_desc *y = mr_node_output(g, n, 0);
    if (!y) return mr_err_node(err, MR_ERR_GRAPH, n, "the output Y is missing");
    mr_set_shape(y, MR_DTYPE_F32, nd, dims);
    return MR_OK;
}

static mr_status pool_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    pool_params *p = n->params;
    int nd;
    int64_t dims[MR_MAX_DIMS];
    MR_TRY(pool_geometry(g, n, p, &nd, dims, err));
    n->n_phases = 1;
    n->scratch_bytes = 0;
    n->workspace_bytes = 0;
    /* per_row: taps of one unit of tiling (an output row, or a whole plane) */
    int64_t taps = p->k[0] * p->k[1] * p->k[2], per_row, ops;
    if (p->kind == POOL_GLOBAL_AVG) {
        p->rows = p->NC;
        per_row = p->in[2];
    } else {
        if (!mr_mul_i64(p->NC, p->out[0], &p->rows) || !mr_mul_i64(p->rows, p->out[1], &p->rows) ||
            !mr_mul_i64(p->out[2], taps, &per_row))
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the pooling is too large");
    }
    if (!mr_mul_i64(p->rows, per_row, &ops))
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the pooling is too large");
    n->flops = ops; /* one compare or add per window tap (padding included) */
    if (p->kind != POOL_GLOBAL_AVG) n->scratch_bytes = sizeof(float) * (size_t)p->in[2];
    p->rows_per_block = POOL_BLOCK_TAPS / (per_row > 0 ? per_row : 1);
    if (p->rows_per_block < 1) p->rows_per_block = 1;
    n->n_blocks = mr_div_up(p->rows, p->rows_per_block);
    return MR_OK;
}

/* Taps t in [0, k) with 0 <= start + t*d < lim, as [*lo, *hi). */
static inline void tap_range(int64_t start, int64_t k, int64_t d, int64_t lim, int64_t *lo,
                             int64_t *hi) {
    int64_t l, h;
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

/* One output row. Max and sum are separable: the valid (d, h) taps are first combined
 * elementwise into tmp[IW] (contiguous, vectorised), then each output reduces its kernel
 * columns of tmp; interior outputs, whose columns all lie inside the input, skip the
 * bounds. */
static void pool_row(const pool_params *p, const float *xp, float *yr, int64_t od, int64_t oh,
                     float *tmp) {
    const int64_t IH = p->in[1], IW = p->in[2], dd = p->d[0], dh = p->d[1], dw = p->d[2];
    const int64_t OW = p->out[2], kw = p->k[2], sw = p->s[2], pbw = p->pb[2];
    const int is_max = p->kind == POOL_MAX;
    int64_t sd = od * p->s[0] - p->pb[0], sh = oh * p->s[1] - p->pb[1];
    int64_t dl, dhi, hl, hhi;
    tap_range(sd, p->k[0], dd, p->in[0], &dl, &dhi);
    tap_range(sh, p->k[1], dh, IH, &hl, &hhi);
    int64_t count_dh = (dhi - dl) * (hhi - hl);
    if (count_dh == 0) {
        for (int64_t iw = 0; iw < IW; iw++) tmp[iw] = is_max ? -INFINITY : 0.0f;
    }
    for (int64_t td = dl, first = 1; td < dhi; td++)
        for (int64_t th = hl; th < hhi; th++, first = 0) {
            const float *xr = xp + ((sd + td * dd) * IH + sh + th * dh) * IW;
            if (first)
                memcpy(tmp, xr, sizeof(float) * (size_t)IW);
            else if (is_max)
                for (int64_t iw = 0; iw < IW; iw++) tmp[iw] = xr[iw] > tmp[iw] ? xr[iw] : tmp[iw];
            else
                for (int64_t iw = 0; iw < IW; iw++) tmp[iw] += xr[iw];
        }
    if (p->count_include_pad) {
        /* taps inside the padded input [-pb, in + pe) */
        int64_t a, b, c, e;
        tap_range(sd + p->pb[0], p->k[0], dd, p->in[0] + p->pb[0] + p->pe[0], &a, &b);
        tap_range(sh + p->pb[1], p->k[1], dh, IH + p->pb[1] + p->pe[1], &c, &e);
        count_dh = (b - a) * (e - c);
    }
    /* interior outputs [a, b): ow*sw - pbw >= 0 and ow*sw - pbw + (kw-1)*dw < IW */
    int64_t a = mr_div_up(pbw, sw), last = IW - 1 - (kw - 1) * dw + pbw;
    int64_t b = last < 0 ? 0 : last / sw + 1;
    if (b > OW) b = OW;
    if (b < a) a = b = OW; /* no interior: every output is a border one */
    /* interior: fixed taps; 2- and 3-wide windows unrolled so the loop vectorises */
    if (is_max && kw == 3) {
        for (int64_t ow = a; ow < b; ow++) {
            const float *t = tmp + ow * sw - pbw;
            float m = t[0] > t[dw] ? t[0] : t[dw];
            yr[ow] = t[2 * dw] > m ? t[2 * dw] : m;
        }
    } else if (is_max && kw == 2) {
        for (int64_t ow = a; ow < b; ow++) {
            const float *t = tmp + ow * sw - pbw;
            yr[ow] = t[dw] > t[0] ? t[dw] : t[0];
        }
    } else if (is_max) {
        for (int64_t ow = a; ow < b; ow++) {
            const float *t = tmp + ow * sw - pbw;
            float m = t[0];
            for (int64_t j = 1; j < kw; j++) m = t[j * dw] > m ? t[j * dw] : m;
            yr[ow] = m;
        }
    } else {
        /* every tap of an interior window is inside the input (hence the padded input) */
        const float cnt = (float)(count_dh * kw);
        if (kw == 3) {
            for (int64_t ow = a; ow < b; ow++) {
                const float *t = tmp + ow * sw - pbw;
                yr[ow] = (t[0] + t[dw] + t[2 * dw]) / cnt;
            }
        } else {
            for (int64_t ow = a; ow < b; ow++) {
                const float *t = tmp + ow * sw - pbw;
                float sum = 0.0f;
                for (int64_t j = 0; j < kw; j++) sum += t[j * dw];
                yr[ow] = sum / cnt;
            }
        }
    }
    /* borders [0, a) and [b, OW): taps clipped to the input */
    for (int64_t i = 0; i < a + (OW - b); i++) {
        int64_t ow = i < a ? i : b + (i - a);
        int64_t st = ow * sw - pbw, wl, whi;
        tap_range(st, kw, dw, IW, &wl, &whi);
        if (is_max) {
            float m = -INFINITY;
            for (int64_t t = wl; t < whi; t++) {
                float v = tmp[st + t * dw];
                m = v > m ? v : m;
            }
            yr[ow] = m;
        } else {
            float sum = 0.0f;
            for (int64_t t = wl; t < whi; t++) sum += tmp[st + t * dw];
            int64_t cw = whi - wl;
            if (p->count_include_pad) {
                int64_t c, e;
                tap_range(st + pbw, kw, dw, IW + pbw + p->pe[2], &c, &e);
                cw = e - c;
            }
            int64_t cnt = count_dh * cw;
            /* cnt == 0 only for a dilated window that skips over the whole input */
            yr[ow] = cnt > 0 ? sum / (float)cnt : NAN;
        }
    }
}

static void pool_run_block(const mr_step *s, int64_t blk, void *scratch) {
    const pool_params *p = s->node->params;
    const float *x = s->in[0].data;
    float *y = s->out[0].data;
    int64_t r0, r1;
    mr_block_range(p->rows, p->rows_per_block, blk, &r0, &r1);
    if (p->kind == POOL_GLOBAL_AVG) {
        const int64_t S = p->in[2];
        for (int64_t r = r0; r < r1; r++) {
            const float *xp = x + r * S;
            /* double: planes can be large (3-D inputs) and this is memory-bound anyway */
            double acc = 0.0;
            for (int64_t i = 0; i < S; i++) acc += xp[i];
            y[r] = S > 0 ? (float)(acc / (double)S) : NAN;
        }
        return;
    }
    const int64_t OD = p->out[0], OH = p->out[1];
    const int64_t plane = p->in[0] * p->in[1] * p->in[2];
    for (int64_t r = r0; r < r1; r++) {
        int64_t oh = r % OH, t = r / OH;
        int64_t od = t % OD, nc = t / OD;
        pool_row(p, x + nc * plane, y + r * p->out[2], od, oh, scratch);
    }
}

const mr_op_def mr_op_maxpool = {
    .name = "MaxPool",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 2,
    .flags = 0,
    .attrs = maxpool_attrs,
    .init = maxpool_init,
    .infer = pool_infer,
    .prepare = pool_prepare,
    .run_block = pool_run_block,
    .free_params = NULL,
};

const mr_op_def mr_op_averagepool = {
    .name = "AveragePool",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .flags = 0,
    .attrs = avgpool_attrs,
    .init = avgpool_init,
    .infer = pool_infer,
    .prepare = pool_prepare,
    .run_block = pool_run_block,
    .free_params = NULL,
};

const mr_op_def mr_op_globalaveragepool = {
    .name = "GlobalAveragePool",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .flags = 0,
    .attrs = NULL,
    .init = gavgpool_init,
    .infer = pool_infer,
    .prepare = pool_prepare,
    .run_block = pool_run_block,
    .free_params = NULL,
};
