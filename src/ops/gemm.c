/* Gemm (ONNX opsets 1..17) and MatMul (opsets 1..17), float32.
 *
 * Gemm: Y = alpha * op(A) * op(B) + beta * C, op = transpose or not (transA, transB); A, B are
 * 2-D and C (optional) is unidirectionally broadcast to [M, N]: scalar, [N], [1, N], [M, 1],
 * [M, N] (opsets < 7: the `broadcast` attribute, 0 = C must be [M, N]; C is optional in every
 * opset here). A logical block is an (m-tile, n-tile) of Y: beta*C is written into the tile first,
 * then one cblas_sgemm accumulates alpha*op(A)*op(B) into it (cblas_sgemv when M == 1, the
 * batch-1 fully connected layer), then node->act is applied to the tile (MR_OP_FUSE_ACT).
 *
 * MatMul: numpy.matmul semantics. A 1-D A is [1, K] and a 1-D B is [K, 1], with that added
 * dimension removed from the result; leading (batch) dimensions broadcast. When B has no
 * batch dimensions, A's batch dimensions are folded into M (one big [batch*M, K] x [K, N]
 * product, which tiles better). A logical block is a (batch, m-tile, n-tile) of Y.
 *
 * MatMul internal extension, used by the bias/activation fusion pass (never produced by the
 * ONNX importer for valid models): an optional third input, a constant 1-D float32 bias of
 * length N, added to every output row before the fused activation. (MatMul + Add(bias) becomes
 * one MatMul node, like Gemm's C but without Gemm's 2-D restriction on A.)
 *
 * node->flops = 2 * M * N * K (per batch); the C/bias adds and alpha/beta scaling are left out.
 */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/gemm.h"
#include "ops/op.h"

/* Work per logical block; tiles are never thinner than 64 where the matrix is that large,
 * because OpenBLAS packs both operands on every call (see pick_tiles). */
#define GEMM_BLOCK_FLOPS ((int64_t)10 << 20)
#define GEMM_TILE_MIN    64

/* Declared in ops/gemm.h: the CUDA planner reads it from n->params. */
typedef mr_gemm_params gemm_params;

static const char *const gemm_attrs[] = {"alpha", "beta", "broadcast", "transA", "transB", NULL};

/* See conv.c's pick_tiles: tiles of at least GEMM_TILE_MIN per side (where the matrix is that
 * large), doubled while within `budget` flops, then evened out in multiples of 16. A tile
 * of fewer than 8 rows is costed as 8 rows: with so few rows (batch-1 fully connected
 * layers) the time goes into streaming B, not into flops. */
static int64_t cost_rows(int64_t m) {
    return m < 8 ? 8 : m;
}

static void pick_tiles(int64_t M, int64_t N, int64_t K, int64_t budget, int64_t *mt, int64_t *nt) {
    int64_t m = M < GEMM_TILE_MIN ? M : GEMM_TILE_MIN;
    int64_t c = N < GEMM_TILE_MIN ? N : GEMM_TILE_MIN;
    int64_t k2 = 2 * (K > 0 ? K : 1);
    for (int grown = 1; grown;) {
        grown = 0;
        if (c < N) {
            int64_t c2 = c * 2 < N ? c * 2 : N;
            if (cost_rows(m) * c2 * k2 <= budget) c = c2, grown = 1;
        }
        if (m < M) {
            int64_t m2 = m * 2 < M ? m * 2 : M;
            if (cost_rows(m2) * c * k2 <= budget) m = m2, grown = 1;
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

static mr_status check_f32(const mr_node *n, const mr_tensor_desc *t, const char *what,
                           mr_err *err) {
    if (!t) return mr_err_node(err, MR_ERR_GRAPH, n, "the input %s is missing", what);
    if (t->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "input %s is %s; only float32 is supported",
                           what, mr_dtype_name(t->dtype));
    return MR_OK;
}

/* Tiling, block count and flops common to both ops (per batch: M x N x K). */
static mr_status set_tiling(mr_node *n, gemm_params *p, mr_err *err) {
    if (p->K > INT_MAX || p->N > INT_MAX || p->M > INT_MAX)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the product is too large for the BLAS interface");
    int64_t f;
    if (!mr_mul_i64(p->batch, p->M, &f) || !mr_mul_i64(f, p->N, &f) || !mr_mul_i64(f, p->K, &f) ||
        f > INT64_MAX / 2)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the product is too large");
    n->flops = 2 * f;
    pick_tiles(p->M, p->N, p->K, GEMM_BLOCK_FLOPS, &p->mt, &p->nt);
    p->n_mt = mr_div_up(p->M, p->mt);
    p->n_nt = mr_div_up(p->N, p->nt);
    n->n_blocks = p->M == 0 || p->N == 0 ? 0 : p->batch * p->n_mt * p->n_nt;
    n->n_phases = 1;
    n->scratch_bytes = 0;
    n->workspace_bytes = 0;
    return MR_OK;
}

/* ---- Gemm ---- */

static mr_status gemm_init(mr_graph *g, mr_node *n, mr_err *err) {
    gemm_params p;
    memset(&p, 0, sizeof p);
    int64_t ta, tb;
    MR_TRY(mr_attr_get_float(n, "alpha", 1.0f, &p.alpha, err));
    MR_TRY(mr_attr_get_float(n, "beta", 1.0f, &p.beta, err));
    MR_TRY(mr_attr_get_int(n, "transA", 0, &ta, err));
    MR_TRY(mr_attr_get_int(n, "transB", 0, &tb, err));
    if (ta != 0 && ta != 1) return mr_err_attr(err, n, "transA", "must be 0 or 1");
    if (tb != 0 && tb != 1) return mr_err_attr(err, n, "transB", "must be 0 or 1");
    int64_t bc;
    MR_TRY(mr_attr_get_int(n, "broadcast", 1, &bc, err));
    if (bc != 0 && bc != 1) return mr_err_attr(err, n, "broadcast", "must be 0 or 1");
    p.no_broadcast = bc == 0;
    p.trans_a = (int)ta;
    p.trans_b = (int)tb;
    gemm_params *pp = mr_malloc(sizeof *pp, "Gemm parameters", err);
    if (!pp) return err->status;
    *pp = p;
    n->params = pp;
    return MR_OK;
}

static mr_status gemm_geometry(mr_graph *g, const mr_node *n, gemm_params *p, mr_err *err) {
    const mr_tensor_desc *a = mr_node_input(g, n, 0), *b = mr_node_input(g, n, 1);
    const mr_tensor_desc *c = mr_node_input(g, n, 2);
    char s1[128], s2[128];
    MR_TRY(check_f32(n, a, "A", err));
    MR_TRY(check_f32(n, b, "B", err));
    if (a->ndim != 2 || b->ndim != 2)
        return mr_err_node(err, MR_ERR_SHAPE, n, "A %s and B %s must both be 2-D",
                           mr_dims_str(a->ndim, a->dims, s1, sizeof s1),
                           mr_dims_str(b->ndim, b->dims, s2, sizeof s2));
    p->M = a->dims[p->trans_a ? 1 : 0];
    p->K = a->dims[p->trans_a ? 0 : 1];
    p->N = b->dims[p->trans_b ? 0 : 1];
    int64_t kb = b->dims[p->trans_b ? 1 : 0];
    if (kb != p->K)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "A %s (transA=%d) and B %s (transB=%d) have different inner "
                           "dimensions (%lld and %lld)",
                           mr_dims_str(a->ndim, a->dims, s1, sizeof s1), p->trans_a,
                           mr_dims_str(b->ndim, b->dims, s2, sizeof s2), p->trans_b,
                           (long long)p->K, (long long)kb);
    p->batch = 1;
    p->nb = 0;
    p->has_c = 0;
    p->c_sm = p->c_sn = 0;
    if (c) {
        MR_TRY(check_f32(n, c, "C", err));
        int ok = c->ndim <= 2;
        if (ok && c->ndim >= 1) {
            int64_t cn = c->dims[c->ndim - 1];
            ok = cn == 1 || cn == p->N;
            p->c_sn = cn == 1 ? 0 : 1;
        }
        if (ok && c->ndim == 2) {
            int64_t cm = c->dims[0];
            ok = cm == 1 || cm == p->M;
            p->c_sm = cm == 1 ? 0 : c->dims[1];
        }
        if (p->no_broadcast && (c->ndim != 2 || c->dims[0] != p->M || c->dims[1] != p->N)) ok = 0;
        if (!ok)
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "C %s cannot be broadcast to the output [%lld,%lld]%s",
                               mr_dims_str(c->ndim, c->dims, s1, sizeof s1), (long long)p->M,
                               (long long)p->N, p->no_broadcast ? " (broadcast = 0)" : "");
        p->has_c = p->beta != 0.0f;
    }
    return MR_OK;
}

static mr_status gemm_infer(mr_graph *g, mr_node *n, mr_err *err) {
    gemm_params *p = n->params;
    MR_TRY(gemm_geometry(g, n, p, err));
    mr_tensor_desc *y = mr_node_output(g, n, 0);
    if (!y) return mr_err_node(err, MR_ERR_GRAPH, n, "the output Y is missing");
    int64_t dims[2] = {p->M, p->N};
    mr_set_shape(y, MR_DTYPE_F32, 2, dims);
    return MR_OK;
}

static mr_status gemm_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    gemm_params *p = n->params;
    MR_TRY(gemm_geometry(g, n, p, err));
    return set_tiling(n, p, err);
}

static void act_rows(const mr_node *n, float *y, int64_t rows, int64_t cols, int64_t ld) {
    if (n->act.kind == MR_ACT_NONE) return;
    for (int64_t i = 0; i < rows; i++) mr_act_apply(&n->act, y + i * ld, cols);
}

static void gemm_run_block(const mr_step *s, int64_t blk, void *scratch) {
    const gemm_params *p = s->node->params;
    int64_t ni = blk % p->n_nt, mi = blk / p->n_nt;
    int64_t m0, m1, n0, n1;
    mr_block_range(p->M, p->mt, mi, &m0, &m1);
    mr_block_range(p->N, p->nt, ni, &n0, &n1);
    const int64_t mc = m1 - m0, nc = n1 - n0, M = p->M, N = p->N, K = p->K;
    const float *a = s->in[0].data, *b = s->in[1].data;
    const float *c = s->n_in > 2 ? s->in[2].data : NULL;
    float *y = (float *)s->out[0].data + m0 * N + n0;

    /* The tile starts as beta*C (or 0, which sgemv needs: its beta=0 path is not
     * guaranteed to ignore NaNs left in the arena), then accumulates with beta = 1. */
    for (int64_t i = 0; i < mc; i++) {
        float *yr = y + i * N;
        if (p->has_c && c) {
            const float *cr = c + (m0 + i) * p->c_sm + n0 * p->c_sn;
            for (int64_t j = 0; j < nc; j++) yr[j] = p->beta * cr[j * p->c_sn];
        } else {
            memset(yr, 0, sizeof(float) * (size_t)nc);
        }
    }
    if (K > 0 && p->alpha != 0.0f) {
        if (mc == 1) {
            /* row m0 of op(A) is contiguous when not transposed, stride M otherwise */
            const float *av = p->trans_a ? a + m0 : a + m0 * K;
            int inca = p->trans_a ? (int)M : 1;
            if (p->trans_b)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nc, (int)K, p->alpha, b + n0 * K,
                            (int)K, av, inca, 1.0f, y, 1);
            else
                cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)nc, p->alpha, b + n0, (int)N,
                            av, inca, 1.0f, y, 1);
        } else {
            cblas_sgemm(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans,
                        p->trans_b ? CblasTrans : CblasNoTrans, (int)mc, (int)nc, (int)K, p->alpha,
                        p->trans_a ? a + m0 : a + m0 * K, p->trans_a ? (int)M : (int)K,
                        p->trans_b ? b + n0 * K : b + n0, p->trans_b ? (int)K : (int)N, 1.0f, y,
                        (int)N);
        }
    }
    act_rows(s->node, y, mc, nc, N);
}

/* ---- MatMul ---- */

static mr_status matmul_init(mr_graph *g, mr_node *n, mr_err *err) {
    gemm_params *pp = mr_calloc(1, sizeof *pp, "MatMul parameters", err);
    if (!pp) return err->status;
    pp->alpha = 1.0f;
    n->params = pp;
    return MR_OK;
}

/* Checks the operands, computes the output shape and fills p (M, N, K, batch strides). */
static mr_status matmul_geometry(mr_graph *g, const mr_node *n, gemm_params *p, int *ndim_out,
                                 int64_t *dims_out, mr_err *err) {
    const mr_tensor_desc *a = mr_node_input(g, n, 0), *b = mr_node_input(g, n, 1);
    char s1[128], s2[128];
    MR_TRY(check_f32(n, a, "A", err));
    MR_TRY(check_f32(n, b, "B", err));
    if (a->ndim < 1 || b->ndim < 1)
        return mr_err_node(err, MR_ERR_SHAPE, n, "A %s and B %s must have rank >= 1",
                           mr_dims_str(a->ndim, a->dims, s1, sizeof s1),
                           mr_dims_str(b->ndim, b->dims, s2, sizeof s2));
    int a1 = a->ndim == 1, b1 = b->ndim == 1;
    p->M = a1 ? 1 : a->dims[a->ndim - 2];
    p->K = a->dims[a->ndim - 1];
    int64_t kb = b1 ? b->dims[0] : b->dims[b->ndim - 2];
    p->N = b1 ? 1 : b->dims[b->ndim - 1];
    if (kb != p->K)
        return mr_err_node(
            err, MR_ERR_SHAPE, n, "A %s and B %s have different inner dimensions (%lld and %lld)",
            mr_dims_str(a->ndim, a->dims, s1, sizeof s1),
            mr_dims_str(b->ndim, b->dims, s2, sizeof s2), (long long)p->K, (long long)kb);
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nbb = b->ndim > 2 ? b->ndim - 2 : 0;
    int nb;
    int64_t bd[MR_MAX_DIMS];
    MR_TRY(mr_broadcast_shape(n, na, a->dims, nbb, b->dims, &nb, bd, err));
    int nd = 0;
    for (int i = 0; i < nb; i++) dims_out[nd++] = bd[i];
    if (!a1) dims_out[nd++] = p->M;
    if (!b1) dims_out[nd++] = p->N;
    *ndim_out = nd;

    p->has_c = 0;
    const mr_tensor_desc *bias = mr_node_input(g, n, 2);
    if (bias) {
        const mr_tensor_desc *t;
        MR_TRY(mr_node_const_input(g, n, 2, MR_DTYPE_F32, "bias", &t, err));
        if (t->ndim != 1 || t->dims[0] != p->N)
            return mr_err_node(err, MR_ERR_SHAPE, n, "the bias is %s, expected [%lld]",
                               mr_dims_str(t->ndim, t->dims, s1, sizeof s1), (long long)p->N);
        p->has_c = 1;
    }

    /* Batch strides in elements; a broadcast (size-1 or missing) dim has stride 0. */
    int64_t sa = p->M * p->K, sb = p->K * p->N;
    p->batch = 1;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - na), ib = i - (nb - nbb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        p->bdims[i] = bd[i];
        p->a_bs[i] = da == 1 ? 0 : sa;
        p->b_bs[i] = db == 1 ? 0 : sb;
        if (!mr_mul_i64(sa, da, &sa) || !mr_mul_i64(sb, db, &sb) ||
            !mr_mul_i64(p->batch, bd[i], &p->batch))
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the product is too large");
    }
    p->nb = nb;
    /* B shared by every batch: fold A's batch into M (Y's rows follow A's in memory). */
    if (nbb == 0 && nb > 0) {
        if (!mr_mul_i64(p->M, p->batch, &p->M))
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the product is too large");
        p->batch = 1;
        p->nb = 0;
    }
    return MR_OK;
}

static mr_status matmul_infer(mr_graph *g, mr_node *n, mr_err *err) {
    gemm_params *p = n->params;
    int nd;
    int64_t dims[MR_MAX_DIMS];
    MR_TRY(matmul_geometry(g, n, p, &nd, dims, err));
    mr_tensor_desc *y = mr_node_output(g, n, 0);
    if (!y) return mr_err_node(err, MR_ERR_GRAPH, n, "the output Y is missing");
    mr_set_shape(y, MR_DTYPE_F32, nd, dims);
    return MR_OK;
}

static mr_status matmul_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    gemm_params *p = n->params;
    int nd;
    int64_t dims[MR_MAX_DIMS];
    MR_TRY(matmul_geometry(g, n, p, &nd, dims, err));
    return set_tiling(n, p, err);
}

static void matmul_run_block(const mr_step *s, int64_t blk, void *scratch) {
    const gemm_params *p = s->node->params;
    int64_t ni = blk % p->n_nt;
    blk /= p->n_nt;
    int64_t mi = blk % p->n_mt, yb = blk / p->n_mt; /* yb: batch index of Y */
    int64_t m0, m1, n0, n1;
    mr_block_range(p->M, p->mt, mi, &m0, &m1);
    mr_block_range(p->N, p->nt, ni, &n0, &n1);
    const int64_t mc = m1 - m0, nc = n1 - n0, N = p->N, K = p->K;
    int64_t ao = 0, bo = 0, rem = yb;
    for (int i = p->nb - 1; i >= 0; i--) {
        int64_t idx = rem % p->bdims[i];
        rem /= p->bdims[i];
        ao += idx * p->a_bs[i];
        bo += idx * p->b_bs[i];
    }
    const float *a = (const float *)s->in[0].data + ao + m0 * K;
    const float *b = (const float *)s->in[1].data + bo + n0;
    const float *bias = p->has_c && s->n_in > 2 ? s->in[2].data : NULL;
    float *y = (float *)s->out[0].data + yb * p->M * N + m0 * N + n0;
    if (K == 0) {
        for (int64_t i = 0; i < mc; i++) memset(y + i * N, 0, sizeof(float) * (size_t)nc);
    } else if (mc == 1) {
        memset(y, 0, sizeof(float) * (size_t)nc); /* see gemm_run_block */
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)nc, 1.0f, b, (int)N, a, 1, 1.0f, y, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mc, (int)nc, (int)K, 1.0f, a,
                    (int)K, b, (int)N, 0.0f, y, (int)N);
    }
    if (bias)
        for (int64_t i = 0; i < mc; i++) {
            float *yr = y + i * N;
            for (int64_t j = 0; j < nc; j++) yr[j] += bias[n0 + j];
        }
    act_rows(s->node, y, mc, nc, N);
}

const mr_op_def mr_op_gemm = {
    .name = "Gemm",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .flags = MR_OP_FUSE_ACT,
    .attrs = gemm_attrs,
    .init = gemm_init,
    .infer = gemm_infer,
    .prepare = gemm_prepare,
    .run_block = gemm_run_block,
    .free_params = NULL,
};

const mr_op_def mr_op_matmul = {
    .name = "MatMul",
    .min_in = 2,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .flags = MR_OP_FUSE_ACT,
    .attrs = NULL,
    .init = matmul_init,
    .infer = matmul_infer,
    .prepare = matmul_prepare,
    .run_block = matmul_run_block,
    .free_params = NULL,
};
