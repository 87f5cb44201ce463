/* Gemm and MatMul (src/ops/gemm.c) against naive references written here (plain loops,
 * double accumulation), on random inputs.
 *
 * Gemm: every transA x transB combination, with alpha/beta and each form of C (none, scalar,
 * [1], [N], [1,N], [M,1], [M,N]), beta = 0 (C ignored), the M = 1 (gemv) path, sizes that need
 * several tiles, and a fused activation (node->act set by hand, as the fusion pass does).
 * MatMul: 1-D operands on either or both sides, 2-D, batched with broadcasting on either side,
 * the batch-folding path (B without batch dims), the bias extension (third input) with a fused
 * activation, and large sizes.
 *
 * Tolerance: rtol 1e-4, atol 1e-5 against the double reference: float accumulation over K up
 * to ~5000 terms, with B scaled by 1/sqrt(K) so results are O(1) and the accumulated rounding
 * stays near sqrt(K) * 2^-24.
 *
 * Every case is re-run with its logical blocks in reverse and random order on a NaN-filled
 * output; the result must be bit-identical. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/ir.h"
#include "ops/op.h"
#include "testutil.h"

/* Compares output tensor `out` of the evaluated node with ref (shape and values). */
static void check_result(mr_graph *g, int node, int out, int nd, const int64_t *dims,
                         const float *ref, mr_rng *rng, const char *label) {
    const mr_tensor_desc *t = &g->tensors[out];
    int shape_ok = t->ndim == nd;
    for (int i = 0; shape_ok && i < nd; i++) shape_ok = t->dims[i] == dims[i];
    char s1[128];
    CHECK_MSG(shape_ok, "%s: output shape %s", label, mr_dims_str(t->ndim, t->dims, s1, sizeof s1));
    if (!shape_ok) return;
    int64_t ne = mr_desc_numel(t);
    double max_abs;
    int64_t worst;
    int ok = mr_allclose(t->data, ref, ne, 1e-4f, 1e-5f, &max_abs, &worst);
    CHECK_MSG(ok, "%s: max |diff| %.3g at %lld (got %g, want %g)", label, max_abs, (long long)worst,
              worst >= 0 ? ((const float *)t->data)[worst] : 0.0, worst >= 0 ? ref[worst] : 0.0);
    CHECK(g->nodes[node].n_blocks >= 1);
    mr_test_check_block_order(g, node, rng, label);
}

/* ---- Gemm ---- */

/* C forms: 0 none, 1 scalar [], 2 [1], 3 [N], 4 [1,N], 5 [M,1], 6 [M,N] */
static const char *const c_form_name[] = {"none", "[]", "[1]", "[N]", "[1,N]", "[M,1]", "[M,N]"};

static void gemm_case(int M, int N, int K, int ta, int tb, float alpha, float beta, int cform,
                      int relu, uint64_t seed) {
    char label[160];
    snprintf(label, sizeof label, "Gemm M=%d N=%d K=%d transA=%d transB=%d alpha=%g beta=%g C=%s%s",
             M, N, K, ta, tb, alpha, beta, c_form_name[cform], relu ? " +relu" : "");
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    float ks = 1.0f / sqrtf((float)(K > 0 ? K : 1));
    float *a = mr_test_rand_floats(&rng, (size_t)M * K, -1.0f, 1.0f),
          *b = mr_test_rand_floats(&rng, (size_t)K * N, -ks, ks);
    int cnd = 0;
    int64_t cd[2] = {0, 0};
    size_t cn = 1;
    switch (cform) {
    case 1:
        cnd = 0;
        break;
    case 2:
        cnd = 1, cd[0] = 1;
        break;
    case 3:
        cnd = 1, cd[0] = N, cn = (size_t)N;
        break;
    case 4:
        cnd = 2, cd[0] = 1, cd[1] = N, cn = (size_t)N;
        break;
    case 5:
        cnd = 2, cd[0] = M, cd[1] = 1, cn = (size_t)M;
        break;
    case 6:
        cnd = 2, cd[0] = M, cd[1] = N, cn = (size_t)M * N;
        break;
    }
    float *c = cform ? mr_test_rand_floats(&rng, cn, -1.0f, 1.0f) : NULL;
    float *ref = malloc((size_t)M * N * sizeof(float));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                double av = ta ? a[(size_t)k * M + i] : a[(size_t)i * K + k];
                double bv = tb ? b[(size_t)j * K + k] : b[(size_t)k * N + j];
                acc += av * bv;
            }
            double r = alpha * acc;
            if (c) {
                size_t ci = 0;
                if (cform == 3 || cform == 4) ci = (size_t)j;
                if (cform == 5) ci = (size_t)i;
                if (cform == 6) ci = (size_t)i * N + j;
                r += (double)beta * c[ci];
            }
            if (relu && r < 0) r = 0;
            ref[(size_t)i * N + j] = (float)r;
        }

    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = mr_graph_create(&err);
    int64_t ad[2] = {ta ? K : M, ta ? M : K}, bd[2] = {tb ? N : K, tb ? K : N};
    int in[3];
    in[0] = mr_graph_add_const(g, "A", MR_DTYPE_F32, 2, ad, a, &err);
    in[1] = mr_graph_add_const(g, "B", MR_DTYPE_F32, 2, bd, b, &err);
    if (c) in[2] = mr_graph_add_const(g, "C", MR_DTYPE_F32, cnd, cd, c, &err);
    int out = mr_graph_add_tensor(g, "Y", &err);
    int node = mr_graph_add_node(g, "g1", "Gemm", c ? 3 : 2, in, 1, &out, &err);
    if (alpha != 1.0f) mr_node_set_float(g, node, "alpha", alpha, &err);
    if (beta != 1.0f) mr_node_set_float(g, node, "beta", beta, &err);
    if (ta) mr_node_set_int(g, node, "transA", 1, &err);
    if (tb) mr_node_set_int(g, node, "transB", 1, &err);
    if (relu) g->nodes[node].act = (mr_act){MR_ACT_RELU, 0.0f, 0.0f};
    mr_status st = mr_node_eval(g, node, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st == MR_OK) {
        int64_t yd[2] = {M, N};
        check_result(g, node, out, 2, yd, ref, &rng, label);
        CHECK_MSG(g->nodes[node].flops == 2LL * M * N * K, "%s: flops", label);
    }
    mr_graph_destroy(g);
    free(a);
    free(b);
    free(c);
    free(ref);
}

static void test_gemm(void) {
    uint64_t seed = 1;
    /* every combination on a small problem */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int cf = 0; cf < 7; cf++) {
                gemm_case(5, 7, 6, ta, tb, 1.0f, 1.0f, cf, 0, seed++);
                gemm_case(4, 3, 9, ta, tb, 0.25f, 0.35f, cf, cf == 6, seed++);
            }
    /* beta = 0 ignores C; alpha = 0 leaves beta*C */
    gemm_case(6, 5, 4, 0, 1, 1.5f, 0.0f, 6, 0, seed++);
    gemm_case(6, 5, 4, 1, 0, 0.0f, 2.0f, 4, 0, seed++);
    /* M = 1 (gemv path), every transpose, large K */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) gemm_case(1, 1000, 2048, ta, tb, 1.0f, 1.0f, 4, 1, seed++);
    /* several tiles, ragged */
    gemm_case(150, 300, 200, 0, 0, 1.0f, 1.0f, 3, 0, seed++);
    gemm_case(150, 300, 200, 1, 1, 0.5f, 2.0f, 5, 1, seed++);
    gemm_case(129, 257, 64, 0, 1, 1.0f, 1.0f, 6, 0, seed++);
    gemm_case(8, 4096, 5000, 0, 1, 1.0f, 1.0f, 4, 0, seed++);
    gemm_case(2, 3, 1, 0, 0, 1.0f, 1.0f, 1, 0, seed++); /* K = 1 */
}

/* ---- MatMul ---- */

typedef struct mm_case {
    const char *label;
    int ra, rb;
    int64_t ad[5], bd[5];
    int bias, act; /* act: 0 none, 1 relu, 2 tanh */
} mm_case;

static void matmul_case(const mm_case *c, uint64_t seed) {
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    int ra = c->ra, rb = c->rb;
    int64_t M = ra == 1 ? 1 : c->ad[ra - 2], K = c->ad[ra - 1];
    int64_t N = rb == 1 ? 1 : c->bd[rb - 1];
    /* numpy batch broadcast */
    int na = ra > 2 ? ra - 2 : 0, nb = rb > 2 ? rb - 2 : 0, nbat = na > nb ? na : nb;
    int64_t bat[5], abat[5], bbat[5], batch = 1;
    for (int i = 0; i < nbat; i++) {
        int ia = i - (nbat - na), ib = i - (nbat - nb);
        abat[i] = ia >= 0 ? c->ad[ia] : 1;
        bbat[i] = ib >= 0 ? c->bd[ib] : 1;
        bat[i] = abat[i] > bbat[i] ? abat[i] : bbat[i];
        batch *= bat[i];
    }
    size_t an = 1, bn = 1;
    for (int i = 0; i < ra; i++) an *= (size_t)c->ad[i];
    for (int i = 0; i < rb; i++) bn *= (size_t)c->bd[i];
    float ks = 1.0f / sqrtf((float)K);
    float *a = mr_test_rand_floats(&rng, an, -1.0f, 1.0f),
          *b = mr_test_rand_floats(&rng, bn, -ks, ks);
    float *bias = c->bias ? mr_test_rand_floats(&rng, (size_t)N, -1.0f, 1.0f) : NULL;
    size_t yn = (size_t)(batch * M * N);
    float *ref = malloc(yn * sizeof(float));
    for (int64_t bi = 0; bi < batch; bi++) {
        /* offsets of the A and B matrices for output batch bi */
        int64_t rem = bi, aoff = 0, boff = 0, astr = M * K, bstr = K * N;
        for (int i = nbat - 1; i >= 0; i--) {
            int64_t idx = rem % bat[i];
            rem /= bat[i];
            aoff += (abat[i] == 1 ? 0 : idx) * astr;
            boff += (bbat[i] == 1 ? 0 : idx) * bstr;
            astr *= abat[i];
            bstr *= bbat[i];
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double acc = bias ? bias[j] : 0.0;
                for (int64_t k = 0; k < K; k++)
                    acc += (double)a[aoff + i * K + k] * b[boff + k * N + j];
                if (c->act == 1 && acc < 0) acc = 0;
                if (c->act == 2) acc = tanh(acc);
                ref[(bi * M + i) * N + j] = (float)acc;
            }
    }
    int64_t yd[8];
    int ynd = 0;
    for (int i = 0; i < nbat; i++) yd[ynd++] = bat[i];
    if (ra > 1) yd[ynd++] = M;
    if (rb > 1) yd[ynd++] = N;

    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = mr_graph_create(&err);
    int in[3];
    int64_t biasd[1] = {N};
    in[0] = mr_graph_add_const(g, "A", MR_DTYPE_F32, ra, c->ad, a, &err);
    in[1] = mr_graph_add_const(g, "B", MR_DTYPE_F32, rb, c->bd, b, &err);
    if (bias) in[2] = mr_graph_add_const(g, "bias", MR_DTYPE_F32, 1, biasd, bias, &err);
    int out = mr_graph_add_tensor(g, "Y", &err);
    int node = mr_graph_add_node(g, "m1", "MatMul", bias ? 3 : 2, in, 1, &out, &err);
    if (c->act == 1) g->nodes[node].act = (mr_act){MR_ACT_RELU, 0.0f, 0.0f};
    if (c->act == 2) g->nodes[node].act = (mr_act){MR_ACT_TANH, 0.0f, 0.0f};
    mr_status st = mr_node_eval(g, node, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st == MR_OK) {
        check_result(g, node, out, ynd, yd, ref, &rng, c->label);
        CHECK_MSG(g->nodes[node].flops == 2 * batch * M * N * K, "%s: flops", c->label);
    }
    mr_graph_destroy(g);
    free(a);
    free(b);
    free(bias);
    free(ref);
}

static void test_matmul(void) {
    static const mm_case cases[] = {
        {"2-D", 2, 2, {3, 4}, {4, 5}, 0, 0},
        {"1-D x 2-D", 1, 2, {6}, {6, 5}, 0, 0},
        {"2-D x 1-D", 2, 1, {4, 6}, {6}, 0, 0},
        {"1-D x 1-D (scalar result)", 1, 1, {7}, {7}, 0, 0},
        {"3-D x 2-D (batch folded)", 3, 2, {2, 3, 4}, {4, 5}, 0, 0},
        {"4-D x 2-D (batch folded)", 4, 2, {2, 3, 5, 8}, {8, 6}, 0, 0},
        {"2-D x 3-D (B batched)", 2, 3, {3, 4}, {2, 4, 5}, 0, 0},
        {"3-D x 3-D", 3, 3, {2, 3, 4}, {2, 4, 3}, 0, 0},
        {"4-D broadcast both ways", 4, 4, {2, 1, 3, 4}, {1, 5, 4, 6}, 0, 0},
        {"3-D x 4-D broadcast", 3, 4, {3, 2, 5}, {2, 1, 5, 4}, 0, 0},
        {"1-D x 3-D", 1, 3, {4}, {2, 4, 5}, 0, 0},
        {"3-D x 1-D", 3, 1, {2, 3, 4}, {4}, 0, 0},
        {"M = 1 (gemv) large K", 2, 2, {1, 2048}, {2048, 1000}, 0, 0},
        {"large, many tiles", 3, 2, {1, 300, 256}, {256, 300}, 0, 0},
        {"batched large ragged", 3, 3, {3, 70, 90}, {3, 90, 130}, 0, 0},
        {"K = 4608", 2, 2, {20, 4608}, {4608, 40}, 0, 0},
        {"bias (extension)", 2, 2, {5, 6}, {6, 7}, 1, 0},
        {"bias + relu, batch folded", 3, 2, {2, 3, 8}, {8, 9}, 1, 1},
        {"bias + tanh, B batched", 3, 3, {2, 3, 8}, {2, 8, 9}, 1, 2},
        {"bias, 1-D A", 1, 2, {8}, {8, 9}, 1, 1},
        {"bias + relu large", 2, 2, {200, 128}, {128, 500}, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) matmul_case(&cases[i], 500 + i);
}

/* ---- errors ---- */

static mr_status eval_simple(const char *op, int na, const int64_t *ad, mr_dtype at, int nb,
                             const int64_t *bd, int nc, const int64_t *cd, int c_const,
                             const char *attr, int64_t attr_v, mr_err *err) {
    mr_err_clear(err);
    mr_graph *g = mr_graph_create(err);
    static const float zeros[4096] = {0};
    int in[3];
    in[0] = mr_graph_add_const(g, "A", at, na, ad, zeros, err);
    in[1] = mr_graph_add_const(g, "B", MR_DTYPE_F32, nb, bd, zeros, err);
    if (nc >= 0) {
        if (c_const) {
            in[2] = mr_graph_add_const(g, "C", MR_DTYPE_F32, nc, cd, zeros, err);
        } else {
            in[2] = mr_graph_add_tensor(g, "C", err);
            mr_tensor_desc *t = &g->tensors[in[2]];
            t->dtype = MR_DTYPE_F32;
            t->ndim = nc;
            for (int i = 0; i < nc; i++) t->dims[i] = cd[i];
        }
    }
    int out = mr_graph_add_tensor(g, "Y", err);
    int node = mr_graph_add_node(g, "n1", op, nc >= 0 ? 3 : 2, in, 1, &out, err);
    if (attr) mr_node_set_int(g, node, attr, attr_v, err);
    mr_status st;
    if (c_const) {
        st = mr_node_eval(g, node, err);
    } else {
        /* a non-constant input: run bind + infer directly (mr_node_eval needs data) */
        mr_node *n = &g->nodes[node];
        st = mr_node_bind_op(g, n, err);
        if (st == MR_OK) st = n->op->infer(g, n, err);
    }
    mr_graph_destroy(g);
    return st;
}

static void test_errors(void) {
    mr_err err;
    mr_status st;
    int64_t d34[2] = {3, 4}, d45[2] = {4, 5}, d55[2] = {5, 5}, d234[3] = {2, 3, 4};
    int64_t d345[3] = {3, 4, 5}, d5[1] = {5}, d4[1] = {4}, d35[2] = {3, 5}, d25[2] = {2, 5};
    int64_t d3[1] = {3};

    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d55, -1, NULL, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "Gemm node 'n1'");
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d45, -1, NULL, 1, "transA", 1, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "transA=1");
    st = eval_simple("Gemm", 3, d234, MR_DTYPE_F32, 2, d45, -1, NULL, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "2-D");
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d45, 1, d4, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "cannot be broadcast");
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d45, 2, d25, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "'n1'");
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d45, 2, d35, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d45, -1, NULL, 1, "transB", 2, &err);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "transB");
    /* Gemm-6 broadcast attribute: 0 requires C = [M, N] */
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d45, 1, d5, 1, "broadcast", 0, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "broadcast = 0");
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d45, 2, d35, 1, "broadcast", 0, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d45, 1, d5, 1, "broadcast", 1, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_I64, 2, d45, -1, NULL, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "float32");
    /* a runtime C is fine for Gemm */
    st = eval_simple("Gemm", 2, d34, MR_DTYPE_F32, 2, d45, 1, d5, 0, NULL, 0, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);

    st = eval_simple("MatMul", 2, d34, MR_DTYPE_F32, 2, d55, -1, NULL, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "MatMul node 'n1'");
    st = eval_simple("MatMul", 3, d234, MR_DTYPE_F32, 3, d345, -1, NULL, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "broadcast");
    st = eval_simple("MatMul", 1, d3, MR_DTYPE_F32, 1, d4, -1, NULL, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "'n1'");
    st = eval_simple("MatMul", 2, d34, MR_DTYPE_F32, 2, d45, 1, d4, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "bias");
    st = eval_simple("MatMul", 2, d34, MR_DTYPE_F32, 2, d45, 1, d5, 0, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "constant");
    st = eval_simple("MatMul", 2, d34, MR_DTYPE_I32, 2, d45, -1, NULL, 1, NULL, 0, &err);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "float32");
}

int main(void) {
    test_gemm();
    test_matmul();
    test_errors();
    return mr_test_finish("ops_gemm");
}
