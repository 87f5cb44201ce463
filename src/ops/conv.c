/* Conv (ONNX opsets 1..17), float32, NCHW, 1-D and 2-D.
 *
 * A 1-D convolution runs as a 2-D one with H = 1 (kernel height 1, stride/dilation 1, no
 * vertical padding). 3-D convolution is reported as unsupported.
 *
 * Kernels, picked in prepare:
 *  - 1X1 (kernel 1x1, stride 1, no padding): the input of a group already is the [Cg, H*W]
 *    column matrix, so each block is one cblas_sgemm of an (output-channel tile x position
 *    tile) reading it in place (ldb = H*W): no im2col, no scratch;
 *  - GEMM: a block does the im2col of its position tile into the worker's scratch, then one
 *    sgemm of all the group's output channels against it. Used when one channel tile covers
 *    the group, so no im2col is ever done twice;
 *  - GEMM_WS (two phases): when the output channels need several tiles, a per-block im2col
 *    would be redone by each of them (for the deep layers of ResNet that cost as much as the
 *    sgemm). Phase 0 writes the whole column matrix of every (image, group) into the step's
 *    workspace, split into equal runs of rows; phase 1 runs the sgemm tiles on it. Only taken
 *    while that workspace stays small (CONV_WS_MAX), else GEMM with tiles of channels;
 *  - DIRECT (one input channel per group: depthwise or channel-multiplier conv): K is only
 *    KH*KW, far too small for BLAS, so a plain loop over kernel taps with contiguous inner
 *    rows (vectorised for stride 1) computes a tile of (channels, output rows).
 * The valid output-column range of every kernel column kw (where the input column is inside
 * the image) is precomputed in prepare, so no inner loop divides.
 * W is read from the step at run time, not copied in prepare, so the passes that rewrite
 * weights (BatchNorm folding) after init need nothing special; it must still be a constant,
 * as every backend may pack it.
 *
 * Epilogue, per output tile while it is in cache: + bias, + the residual (input 3, which only
 * the residual fusion pass gives a Conv: an Add of the result and a tensor of its shape), then
 * node->act (MR_OP_FUSE_ACT).
 * node->flops = 2 * MACs of the convolution (the bias adds are left out).
 */
#include <cblas.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"

enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };
enum { KERNEL_GEMM, KERNEL_GEMM_WS, KERNEL_1X1, KERNEL_DIRECT };

/* Attribute values (kernel, stride, dilation, pad) above this are refused: no real model
 * comes close, and it keeps every size product below in int64 range. */
#define CONV_ATTR_MAX ((int64_t)1 << 20)
/* Spatial input extent limit for the same reason. */
#define CONV_DIM_MAX ((int64_t)1 << 40)

/* Work per logical block (flops). GEMM tiles are never made smaller than 64 x 64 (when the
 * problem is that large) because OpenBLAS's per-call packing makes thinner tiles slow, so
 * blocks with a long K exceed this; see pick_tiles. */
#define CONV_BLOCK_FLOPS ((int64_t)10 << 20)
#define CONV_TILE_MIN    64
/* Direct kernel: lower arithmetic intensity, so smaller blocks. */
#define CONV_DIRECT_BLOCK_FLOPS ((int64_t)1 << 20)
/* Largest column matrix (all images and groups) GEMM_WS keeps in the workspace: enough for
 * every layer of VGG-16 at 224x224 or ResNet-50 at batch 8. */
#define CONV_WS_MAX ((size_t)64 << 20)
/* Kernel widths whose valid output-column ranges are tabulated in the params. */
#define CONV_KW_TAB 32

typedef struct conv_params {
    /* attributes (init) */
    int auto_pad;
    int64_t group;
    int n_ks, n_strides, n_dil, n_pads;
    int64_t ks[MR_MAX_DIMS], strides[MR_MAX_DIMS], dil[MR_MAX_DIMS], pads[2 * MR_MAX_DIMS];
    /* geometry, always 2-D (set by conv_geometry) */
    int64_t N, C, H, W, M, KH, KW, OH, OW;
    int64_t sh, sw, dh, dw, pt, pl;
    int64_t Cg, Mg, K, P; /* channels per group, K = Cg*KH*KW, P = OH*OW */
    /* tiling (prepare) */
    int kernel;
    int64_t mt, n_mt, pt_size, n_pt; /* GEMM*, 1X1: channel tile, position tile */
    int64_t ws_rows;                 /* GEMM_WS phase 0: column-matrix rows per block */
    int64_t cb, n_cb, rb, n_rb;      /* DIRECT: channels, output rows per block */
    int64_t dwid;                    /* DIRECT: padded input row width */
    /* output columns [lo, hi) whose input column for kernel column kw is inside the image */
    int64_t ow_lo[CONV_KW_TAB], ow_hi[CONV_KW_TAB];
} conv_params;

static const char *const conv_attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                         "pads",     "strides",   NULL};

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

/* Reads an ints attribute whose values must lie in [lo, CONV_ATTR_MAX]. */
static mr_status get_ints_range(const mr_node *n, const char *name, int64_t *out, int cap,
                                int *count, int64_t lo, mr_err *err) {
    MR_TRY(mr_attr_get_ints(n, name, out, cap, count, err));
    for (int i = 0; i < *count; i++) {
        if (out[i] < lo || out[i] > CONV_ATTR_MAX) {
            char why[128];
            snprintf(why, sizeof why, "value %lld is out of range [%lld, %lld]", (long long)out[i],
                     (long long)lo, (long long)CONV_ATTR_MAX);
            return mr_err_attr(err, n, name, why);
        }
    }
    return MR_OK;
}

static mr_status conv_init(mr_graph *g, mr_node *n, mr_err *err) {
    conv_params p;
    memset(&p, 0, sizeof p);
    MR_TRY(parse_auto_pad(n, &p.auto_pad, err));
    MR_TRY(mr_attr_get_int(n, "group", 1, &p.group, err));
    if (p.group < 1 || p.group > INT32_MAX) return mr_err_attr(err, n, "group", "must be >= 1");
    MR_TRY(get_ints_range(n, "kernel_shape", p.ks, MR_MAX_DIMS, &p.n_ks, 1, err));
    MR_TRY(get_ints_range(n, "strides", p.strides, MR_MAX_DIMS, &p.n_strides, 1, err));
    MR_TRY(get_ints_range(n, "dilations", p.dil, MR_MAX_DIMS, &p.n_dil, 1, err));
    MR_TRY(get_ints_range(n, "pads", p.pads, 2 * MR_MAX_DIMS, &p.n_pads, 0, err));
    conv_params *pp = mr_malloc(sizeof *pp, "Conv parameters", err);
    if (!pp) return err->status;
    *pp = p;
    n->params = pp;
    return MR_OK;
}

/* Output extent and begin pad of one spatial dimension. Explicit pads pb/pe are used for
 * NOTSET; SAME_* put the extra pad at the end (UPPER) or the beginning (LOWER). Returns 0
 * when the (dilated) kernel does not fit in the padded input. */
static int conv_dim(int64_t in, int64_t k, int64_t s, int64_t d, int auto_pad, int64_t pb,
                    int64_t pe, int64_t *out, int64_t *pad_begin) {
    int64_t dk = (k - 1) * d + 1;
    if (auto_pad == PAD_SAME_UPPER || auto_pad == PAD_SAME_LOWER) {
        int64_t o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + dk - in;
        if (total < 0) total = 0;
        *pad_begin = auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *out = o;
        return o >= 1;
    }
    if (auto_pad == PAD_VALID) pb = pe = 0;
    *pad_begin = pb;
    if (in + pb + pe < dk) return 0;
    *out = (in + pb + pe - dk) / s + 1;
    return 1;
}

/* Validates the inputs and fills the geometry of p (output shape in out_dims). */
static mr_status conv_geometry(mr_graph *g, const mr_node *n, conv_params *p, int *out_ndim,
                               int64_t *out_dims, mr_err *err) {
    const mr_tensor_desc *x = mr_node_input(g, n, 0);
    const mr_tensor_desc *w;
    const mr_tensor_desc *b = mr_node_input(g, n, 2);
    char s1[128], s2[128];
    if (!x) return mr_err_node(err, MR_ERR_GRAPH, n, "the input X is missing");
    if (x->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "input X is %s; only float32 is supported",
                           mr_dtype_name(x->dtype));
    if (x->ndim > 4)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "%d-D convolution is not supported (input X is %s); only 1-D and "
                           "2-D are",
                           x->ndim - 2, mr_dims_str(x->ndim, x->dims, s1, sizeof s1));
    if (x->ndim < 3)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "input X must have rank 3 or 4 (N, C, spatial...), got %s",
                           mr_dims_str(x->ndim, x->dims, s1, sizeof s1));
    MR_TRY(mr_node_const_input(g, n, 1, MR_DTYPE_F32, "weights W", &w, err));
    if (w->ndim != x->ndim)
        return mr_err_node(err, MR_ERR_SHAPE, n, "W is %s but must have the rank of X %s",
                           mr_dims_str(w->ndim, w->dims, s1, sizeof s1),
                           mr_dims_str(x->ndim, x->dims, s2, sizeof s2));
    int ns = x->ndim - 2;
    int one_d = ns == 1;
    p->N = x->dims[0];
    p->C = x->dims[1];
    p->H = one_d ? 1 : x->dims[2];
    p->W = x->dims[x->ndim - 1];
    p->M = w->dims[0];
    p->KH = one_d ? 1 : w->dims[2];
    p->KW = w->dims[w->ndim - 1];
    if (p->H > CONV_DIM_MAX || p->W > CONV_DIM_MAX)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "input X %s is too large",
                           mr_dims_str(x->ndim, x->dims, s1, sizeof s1));
    if (p->KH < 1 || p->KW < 1 || p->KH > CONV_ATTR_MAX || p->KW > CONV_ATTR_MAX ||
        p->M > INT32_MAX || w->dims[1] > INT32_MAX)
        return mr_err_node(err, MR_ERR_SHAPE, n, "W has an unsupported shape %s",
                           mr_dims_str(w->ndim, w->dims, s1, sizeof s1));
    /* group and channel agreement: W is [M, C/group, k...]. */
    if (w->dims[1] * p->group != p->C)
        return mr_err_node(
            err, MR_ERR_SHAPE, n, "input has %lld channels but W expects %lld (group %lld)",
            (long long)p->C, (long long)(w->dims[1] * p->group), (long long)p->group);
    if (p->M % p->group != 0)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "W has %lld output channels, not a multiple of group %lld",
                           (long long)p->M, (long long)p->group);
    if (b) {
        if (b->dtype != MR_DTYPE_F32)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                               "bias B is %s; only float32 is supported", mr_dtype_name(b->dtype));
        if (b->ndim != 1 || b->dims[0] != p->M)
            return mr_err_node(err, MR_ERR_SHAPE, n, "bias B is %s, expected [%lld]",
                               mr_dims_str(b->ndim, b->dims, s1, sizeof s1), (long long)p->M);
    }
    if (p->n_ks && p->n_ks != ns)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "kernel_shape has %d values for %d spatial dimensions", p->n_ks, ns);
    for (int i = 0; i < p->n_ks; i++)
        if (p->ks[i] != w->dims[2 + i])
            return mr_err_node(err, MR_ERR_SHAPE, n, "kernel_shape %lld does not match W %s",
                               (long long)p->ks[i], mr_dims_str(w->ndim, w->dims, s1, sizeof s1));
    if (p->n_strides && p->n_strides != ns)
        return mr_err_node(err, MR_ERR_SHAPE, n, "strides has %d values for %d spatial dimensions",
                           p->n_strides, ns);
    if (p->n_dil && p->n_dil != ns)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "dilations has %d values for %d spatial dimensions", p->n_dil, ns);
    /* auto_pad other than NOTSET overrides pads (the ONNX spec forbids both; exporters
     * sometimes write zero pads anyway). */
    if (p->auto_pad == PAD_NOTSET && p->n_pads && p->n_pads != 2 * ns)
        return mr_err_node(err, MR_ERR_SHAPE, n, "pads has %d values for %d spatial dimensions",
                           p->n_pads, ns);

    /* Spatial attributes, in 2-D form: index 0 = H, 1 = W. */
    int64_t st[2] = {1, 1}, dl[2] = {1, 1}, pb[2] = {0, 0}, pe[2] = {0, 0};
    for (int i = 0; i < ns; i++) {
        int j = one_d ? 1 : i;
        if (p->n_strides) st[j] = p->strides[i];
        if (p->n_dil) dl[j] = p->dil[i];
        if (p->n_pads && p->auto_pad == PAD_NOTSET) {
            pb[j] = p->pads[i];
            pe[j] = p->pads[i + ns];
        }
    }
    int64_t in[2] = {p->H, p->W}, k[2] = {p->KH, p->KW}, o[2], pad0[2];
    for (int i = 0; i < 2; i++) {
        if (!conv_dim(in[i], k[i], st[i], dl[i], one_d && i == 0 ? PAD_NOTSET : p->auto_pad, pb[i],
                      pe[i], &o[i], &pad0[i]))
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "the kernel %s (dilations applied) does not fit in the padded "
                               "input %s",
                               mr_dims_str(w->ndim, w->dims, s1, sizeof s1),
                               mr_dims_str(x->ndim, x->dims, s2, sizeof s2));
    }
    p->OH = o[0];
    p->OW = o[1];
    p->sh = st[0];
    p->sw = st[1];
    p->dh = dl[0];
    p->dw = dl[1];
    p->pt = pad0[0];
    p->pl = pad0[1];
    p->Cg = w->dims[1];
    p->Mg = p->M / p->group;
    if (!mr_mul_i64(p->Cg, p->KH * p->KW, &p->K) || !mr_mul_i64(p->OH, p->OW, &p->P))
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the convolution is too large");

    *out_ndim = x->ndim;
    out_dims[0] = p->N;
    out_dims[1] = p->M;
    if (one_d)
        out_dims[2] = p->OW;
    else {
        out_dims[2] = p->OH;
        out_dims[3] = p->OW;
    }
    return MR_OK;
}

static mr_status conv_infer(mr_graph *g, mr_node *n, mr_err *err) {
    conv_params *p = n->params;
    int nd;
    int64_t dims[MR_MAX_DIMS];
    MR_TRY(conv_geometry(g, n, p, &nd, dims, err));
    mr_tensor_desc *y = mr_node_output(g, n, 0);
    if (!y) return mr_err_node(err, MR_ERR_GRAPH, n, "the output Y is missing");
    mr_set_shape(y, MR_DTYPE_F32, nd, dims);
    /* the fused residual (mr_pass_fuse_residual) is read at the output's own index */
    const mr_tensor_desc *r = mr_node_input(g, n, 3);
    if (r && (r->dtype != MR_DTYPE_F32 || r->ndim != nd ||
              memcmp(r->dims, dims, sizeof(int64_t) * (size_t)nd) != 0))
        return mr_err_node(err, MR_ERR_SHAPE, n, "the residual does not have the output's shape");
    return MR_OK;
}

/* Tiles an [M x N] output with reduction length K: tiles of at least CONV_TILE_MIN on each
 * side (where the matrix is that large), grown by doubling while a tile stays within
 * `budget` flops (`m_first`: grow M before N), then evened out so that the last tile is not
 * a sliver, in multiples of 16 (the SIMD width of the sgemm kernels). */
static void pick_tiles(int64_t M, int64_t N, int64_t K, int64_t budget, int m_first, int64_t *mt,
                       int64_t *nt) {
    int64_t m = M < CONV_TILE_MIN ? M : CONV_TILE_MIN;
    int64_t c = N < CONV_TILE_MIN ? N : CONV_TILE_MIN;
    int64_t k2 = 2 * (K > 0 ? K : 1);
    for (int grown = 1; grown;) {
        grown = 0;
        for (int pass = 0; pass < 2; pass++) {
            int grow_m = (pass == 0) == (m_first != 0);
            if (grow_m && m < M) {
                int64_t m2 = m * 2 < M ? m * 2 : M;
                if (m2 * c * k2 <= budget) m = m2, grown = 1;
            } else if (!grow_m && c < N) {
                int64_t c2 = c * 2 < N ? c * 2 : N;
                if (m * c2 * k2 <= budget) c = c2, grown = 1;
            }
        }
    }
    int64_t nm = mr_div_up(M, m > 0 ? m : 1), nn = mr_div_up(N, c > 0 ? c : 1);
    m = mr_div_up(M, nm > 0 ? nm : 1);
    c = mr_div_up(N, nn > 0 ? nn : 1);
    if (m < M) m = mr_div_up(m, 16) * 16 < M ? mr_div_up(m, 16) * 16 : M;
    if (c < N) c = mr_div_up(c, 16) * 16 < N ? mr_div_up(c, 16) * 16 : N;
    *mt = m > 0 ? m : 1;
    *nt = c > 0 ? c : 1;
}

/* Output columns [lo, hi) for which kernel column kw reads inside the image. */
static void ow_range_calc(const conv_params *p, int64_t kw, int64_t *lo, int64_t *hi) {
    int64_t iw0 = kw * p->dw - p->pl, sw = p->sw, W = p->W; /* iw = ow*sw + iw0 */
    int64_t l = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;
    int64_t h = iw0 >= W ? 0 : (W - iw0 + sw - 1) / sw;
    if (h > p->OW) h = p->OW;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

static inline void ow_range(const conv_params *p, int64_t kw, int64_t *lo, int64_t *hi) {
    if (kw < CONV_KW_TAB) {
        *lo = p->ow_lo[kw];
        *hi = p->ow_hi[kw];
    } else {
        ow_range_calc(p, kw, lo, hi);
    }
}

static mr_status conv_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    conv_params *p = n->params;
    int nd;
    int64_t dims[MR_MAX_DIMS];
    MR_TRY(conv_geometry(g, n, p, &nd, dims, err));
    /* cblas takes int sizes. */
    int64_t hw, outs, macs;
    if (!mr_mul_i64(p->H, p->W, &hw) || p->K > INT_MAX || p->P > INT_MAX || hw > INT_MAX)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the convolution is too large for the BLAS interface");
    if (!mr_mul_i64(p->N, p->M, &outs) || !mr_mul_i64(outs, p->P, &outs) ||
        !mr_mul_i64(outs, p->K, &macs) || macs > INT64_MAX / 2)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the convolution is too large");
    n->flops = 2 * macs;
    n->n_phases = 1;
    n->workspace_bytes = 0;
    n->scratch_bytes = 0;
    n->n_blocks = 0;
    if (outs == 0) return MR_OK; /* empty output: nothing to run */
    for (int64_t kw = 0; kw < CONV_KW_TAB && kw < p->KW; kw++)
        ow_range_calc(p, kw, &p->ow_lo[kw], &p->ow_hi[kw]);

    int64_t units = p->N * p->group; /* (image, group) pairs */
    if (p->Cg == 1) {
        /* DIRECT: tile over (image, channel chunk, output-row chunk). */
        p->kernel = KERNEL_DIRECT;
        int64_t row = 2 * p->OW * p->KH * p->KW; /* flops of one output row */
        int64_t chan = row * p->OH;
        if (chan >= CONV_DIRECT_BLOCK_FLOPS) {
            p->cb = 1;
            p->rb = CONV_DIRECT_BLOCK_FLOPS / (row > 0 ? row : 1);
            if (p->rb < 1) p->rb = 1;
            if (p->rb > p->OH) p->rb = p->OH;
        } else {
            p->rb = p->OH;
            p->cb = CONV_DIRECT_BLOCK_FLOPS / (chan > 0 ? chan : 1);
            if (p->cb > p->M) p->cb = p->M;
        }
        if (p->cb < 1) p->cb = 1;
        p->n_cb = mr_div_up(p->M, p->cb);
        p->n_rb = mr_div_up(p->OH, p->rb);
        n->n_blocks = p->N * p->n_cb * p->n_rb;
        /* padded input rows of one block: the extent its output rows read */
        p->dwid = (p->OW - 1) * p->sw + (p->KW - 1) * p->dw + 1;
        int64_t rows = (p->rb - 1) * p->sh + (p->KH - 1) * p->dh + 1;
        size_t sb;
        if (!mr_mul_size((size_t)rows, (size_t)p->dwid, &sb) ||
            !mr_mul_size(sb, sizeof(float), &sb) || sb > MR_MAX_ALLOC)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the padded input rows are too large");
        n->scratch_bytes = sb;
        return MR_OK;
    }
    int is_1x1 = p->KH == 1 && p->KW == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0 && p->pl == 0 &&
                 p->OH == p->H && p->OW == p->W;
    if (is_1x1) {
        /* B is read in place: the tile shape only trades A- against B-packing. */
        p->kernel = KERNEL_1X1;
        pick_tiles(p->Mg, p->P, p->K, CONV_BLOCK_FLOPS, 0, &p->mt, &p->pt_size);
    } else {
        p->kernel = KERNEL_GEMM;
        pick_tiles(p->Mg, p->P, p->K, CONV_BLOCK_FLOPS, 1, &p->mt, &p->pt_size);
        size_t ws;
        if (p->mt < p->Mg && mr_mul_size((size_t)units, (size_t)p->K, &ws) &&
            mr_mul_size(ws, (size_t)p->P, &ws) && mr_mul_size(ws, sizeof(float), &ws) &&
            ws <= CONV_WS_MAX) {
            p->kernel = KERNEL_GEMM_WS;
            pick_tiles(p->Mg, p->P, p->K, CONV_BLOCK_FLOPS, 0, &p->mt, &p->pt_size);
            n->workspace_bytes = ws;
        }
    }
    p->n_mt = mr_div_up(p->Mg, p->mt);
    p->n_pt = mr_div_up(p->P, p->pt_size);
    n->n_blocks = units * p->n_mt * p->n_pt;
    if (p->kernel == KERNEL_GEMM) {
        size_t sb;
        if (!mr_mul_size((size_t)p->K, (size_t)p->pt_size, &sb) ||
            !mr_mul_size(sb, sizeof(float), &sb) || sb > MR_MAX_ALLOC)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the im2col tile is too large");
        n->scratch_bytes = sb;
    } else if (p->kernel == KERNEL_GEMM_WS && n->n_blocks > 0) {
        n->n_phases = 2;
        p->ws_rows = mr_div_up(units * p->K, n->n_blocks);
    }
    return MR_OK;
}

/* One row of the column matrix: dst[j] = x_c[ih][iw] for output positions p0 + j, j < np,
 * with ih = oh*sh - pt + kh*dh, iw = ow*sw - pl + kw*dw, and 0 in the padding. */
static void im2col_row(const conv_params *p, const float *xc, int64_t kh, int64_t kw, int64_t p0,
                       int64_t np, float *dst) {
    const int64_t OW = p->OW, sw = p->sw, iw0 = kw * p->dw - p->pl;
    int64_t lo, hi;
    ow_range(p, kw, &lo, &hi);
    int64_t oh = p0 / OW, ow = p0 % OW;
    for (int64_t j = 0; j < np; oh++, ow = 0) {
        int64_t end = ow + (OW - ow < np - j ? OW - ow : np - j); /* this output row: [ow, end) */
        float *d = dst + j;                                       /* d[t - ow] is output column t */
        int64_t ih = oh * p->sh - p->pt + kh * p->dh;
        if (ih < 0 || ih >= p->H) {
            for (int64_t t = ow; t < end; t++) d[t - ow] = 0.0f;
        } else {
            const float *xr = xc + ih * p->W;
            int64_t a = lo > ow ? lo : ow, b = hi < end ? hi : end;
            if (b < a) b = a;
            for (int64_t t = ow; t < a; t++) d[t - ow] = 0.0f;
            if (sw == 1)
                for (int64_t t = a; t < b; t++) d[t - ow] = xr[t + iw0];
            else
                for (int64_t t = a; t < b; t++) d[t - ow] = xr[t * sw + iw0];
            for (int64_t t = b; t < end; t++) d[t - ow] = 0.0f;
        }
        j += end - ow;
    }
}

/* + bias, + the residual and the fused activation on rows [m0, m0+mc) x positions [p0, p0+np)
 * of one image's output (y, and res when there is one, point at row m0, position p0; rows are
 * ld apart). */
static void epilogue(const mr_node *n, const float *bias, const float *res, int64_t m0, int64_t mc,
                     float *y, int64_t np, int64_t ld) {
    for (int64_t m = 0; m < mc; m++) {
        float *r = y + m * ld;
        if (bias) {
            float bv = bias[m0 + m];
            for (int64_t j = 0; j < np; j++) r[j] += bv;
        }
        if (res) {
            const float *q = res + m * ld;
            for (int64_t j = 0; j < np; j++) r[j] += q[j];
        }
        if (n->act.kind != MR_ACT_NONE) mr_act_apply(&n->act, r, np);
    }
}

/* DIRECT kernel. For each input channel, a block first copies the input rows its output rows
 * read into a zero-padded buffer in scratch (rows of p->dwid floats), so the tap loops need
 * no bounds checks and vectorise along the output row (3-wide kernels, the common case, get
 * one fused pass per kernel row). */
static void run_direct(const mr_step *s, const conv_params *p, int64_t blk, float *pad) {
    int64_t rbi = blk % p->n_rb;
    blk /= p->n_rb;
    int64_t cbi = blk % p->n_cb;
    int64_t nb = blk / p->n_cb;
    int64_t m0, m1, r0, r1;
    mr_block_range(p->M, p->cb, cbi, &m0, &m1);
    mr_block_range(p->OH, p->rb, rbi, &r0, &r1);
    const float *x = s->in[0].data, *w = s->in[1].data;
    const float *bias = s->n_in > 2 ? s->in[2].data : NULL;
    const float *res = s->n_in > 3 ? s->in[3].data : NULL;
    float *y = s->out[0].data;
    const int64_t H = p->H, W = p->W, OW = p->OW, KH = p->KH, KW = p->KW;
    const int64_t sh = p->sh, sw = p->sw, dh = p->dh, dw = p->dw, pl = p->pl;
    const int64_t wid = p->dwid, ih0 = r0 * sh - p->pt; /* input row of padded row 0 */
    const int64_t nrows = (r1 - r0 - 1) * sh + (KH - 1) * dh + 1;
    /* input columns [0, c1) land at padded columns [pl, c1 + pl); the right padding and any
     * input column beyond what the last window reads are cut */
    const int64_t c1 = W < wid - pl ? W : wid - pl;
    for (int64_t m = m0; m < m1; m++) {
        /* Cg == 1: output channel m reads input channel m / Mg (its group). */
        const float *xp = x + (nb * p->C + m / p->Mg) * H * W;
        const float *wp = w + m * KH * KW;
        float *yp = y + (nb * p->M + m) * p->P;
        if (m == m0 || m / p->Mg != (m - 1) / p->Mg) {
            for (int64_t r = 0; r < nrows; r++) {
                float *d = pad + r * wid;
                int64_t ih = ih0 + r;
                if (ih < 0 || ih >= H || c1 <= 0) {
                    memset(d, 0, sizeof(float) * (size_t)wid);
                    continue;
                }
                for (int64_t j = 0; j < pl; j++) d[j] = 0.0f;
                memcpy(d + pl, xp + ih * W, sizeof(float) * (size_t)c1);
                for (int64_t j = c1 + pl; j < wid; j++) d[j] = 0.0f;
            }
        }
        float b0 = bias ? bias[m] : 0.0f;
        for (int64_t oh = r0; oh < r1; oh++) {
            float *yr = yp + oh * OW;
            for (int64_t j = 0; j < OW; j++) yr[j] = b0;
            for (int64_t kh = 0; kh < KH; kh++) {
                const float *xr = pad + ((oh - r0) * sh + kh * dh) * wid;
                const float *wr = wp + kh * KW;
                if (KW == 3) {
                    const float w0 = wr[0], w1 = wr[1], w2 = wr[2];
                    const float *x1 = xr + dw, *x2 = xr + 2 * dw;
                    if (sw == 1)
                        for (int64_t ow = 0; ow < OW; ow++)
                            yr[ow] += w0 * xr[ow] + w1 * x1[ow] + w2 * x2[ow];
                    else
                        for (int64_t ow = 0; ow < OW; ow++)
                            yr[ow] += w0 * xr[ow * sw] + w1 * x1[ow * sw] + w2 * x2[ow * sw];
                } else {
                    for (int64_t kw = 0; kw < KW; kw++) {
                        const float wv = wr[kw], *xk = xr + kw * dw;
                        if (sw == 1)
                            for (int64_t ow = 0; ow < OW; ow++) yr[ow] += wv * xk[ow];
                        else
                            for (int64_t ow = 0; ow < OW; ow++) yr[ow] += wv * xk[ow * sw];
                    }
                }
            }
            if (res) {
                const float *q = res + (nb * p->M + m) * p->P + oh * OW;
                for (int64_t j = 0; j < OW; j++) yr[j] += q[j];
            }
            if (s->node->act.kind != MR_ACT_NONE) mr_act_apply(&s->node->act, yr, OW);
        }
    }
}

/* GEMM_WS phase 0: rows [r0, r1) of the column matrices of all (image, group) pairs, which
 * lie back to back in the workspace ([N*group][K][P]). */
static void run_ws_im2col(const mr_step *s, const conv_params *p, int64_t blk) {
    int64_t r0, r1;
    mr_block_range(p->N * p->group * p->K, p->ws_rows, blk, &r0, &r1);
    const int64_t KK = p->KH * p->KW, HW = p->H * p->W;
    float *ws = s->workspace;
    for (int64_t r = r0; r < r1; r++) {
        int64_t u = r / p->K, k = r % p->K; /* u = image * group + group index */
        int64_t c = k / KK, kh = (k % KK) / p->KW, kw = k % p->KW;
        /* channel (u % group) * Cg + c of image u / group is plane u * Cg + c */
        const float *xc = (const float *)s->in[0].data + (u * p->Cg + c) * HW;
        im2col_row(p, xc, kh, kw, 0, p->P, ws + r * p->P);
    }
}

static void conv_run_block(const mr_step *s, int64_t blk, void *scratch) {
    const conv_params *p = s->node->params;
    if (p->kernel == KERNEL_DIRECT) {
        run_direct(s, p, blk, scratch);
        return;
    }
    if (p->kernel == KERNEL_GEMM_WS) {
        int64_t nblk = s->node->n_blocks;
        if (blk < nblk) {
            run_ws_im2col(s, p, blk);
            return;
        }
        blk -= nblk;
    }
    int64_t pti = blk % p->n_pt;
    blk /= p->n_pt;
    int64_t mti = blk % p->n_mt;
    int64_t u = blk / p->n_mt; /* image * group + group index */
    int64_t gi = u % p->group, nb = u / p->group;
    int64_t ma, mb, p0, p1;
    mr_block_range(p->Mg, p->mt, mti, &ma, &mb);
    mr_block_range(p->P, p->pt_size, pti, &p0, &p1);
    const int64_t mc = mb - ma, np = p1 - p0, K = p->K, P = p->P;
    const int64_t m0 = gi * p->Mg + ma; /* first output channel of the tile */
    const float *x = (const float *)s->in[0].data + u * p->Cg * p->H * p->W;
    const float *w = (const float *)s->in[1].data + m0 * K;
    const float *bias = s->n_in > 2 ? s->in[2].data : NULL;
    const float *res = s->n_in > 3 && s->in[3].data
                           ? (const float *)s->in[3].data + (nb * p->M + m0) * P + p0
                           : NULL;
    float *y = (float *)s->out[0].data + (nb * p->M + m0) * P + p0;
    if (K == 0) {
        for (int64_t m = 0; m < mc; m++) memset(y + m * P, 0, sizeof(float) * (size_t)np);
    } else if (p->kernel == KERNEL_1X1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mc, (int)np, (int)K, 1.0f, w,
                    (int)K, x + p0, (int)P, 0.0f, y, (int)P);
    } else if (p->kernel == KERNEL_GEMM_WS) {
        const float *col = (const float *)s->workspace + u * K * P + p0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mc, (int)np, (int)K, 1.0f, w,
                    (int)K, col, (int)P, 0.0f, y, (int)P);
    } else {
        float *col = scratch;
        const int64_t KK = p->KH * p->KW;
        for (int64_t k = 0; k < K; k++)
            im2col_row(p, x + (k / KK) * p->H * p->W, (k % KK) / p->KW, k % p->KW, p0, np,
                       col + k * np);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mc, (int)np, (int)K, 1.0f, w,
                    (int)K, col, (int)np, 0.0f, y, (int)P);
    }
    epilogue(s->node, bias, res, m0, mc, y, np, P);
}

const mr_op_def mr_op_conv = {
    .name = "Conv",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .flags = MR_OP_FUSE_ACT,
    .attrs = conv_attrs,
    .init = conv_init,
    .infer = conv_infer,
    .prepare = conv_prepare,
    .run_block = conv_run_block,
    .free_params = NULL,
};
