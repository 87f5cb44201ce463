/* MaxPool, AveragePool and GlobalAveragePool (src/ops/pool.c) against a naive reference
 * written here (every kernel tap visited, double accumulation), on random inputs: 1-D, 2-D and
 * 3-D, strides, pads, dilations, ceil_mode (including a last window that would start in the
 * end padding and is dropped), count_include_pad, auto_pad SAME_UPPER / SAME_LOWER / VALID;
 * plus the small ONNX golden cases (values copied from onnx 1.12's test data) that pin down
 * ceil_mode and count_include_pad at clipped windows.
 *
 * Tolerance: rtol 1e-5, atol 1e-6: max is exact, and an average sums at most a few dozen
 * float terms (GlobalAveragePool accumulates in double).
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

enum { MAXP, AVGP, GAVGP };

typedef struct pool_case {
    const char *label;
    int kind, nsp;
    int N, C;
    int in[3], k[3];
    int s[3], d[3]; /* 0: attribute absent */
    int pads[6];
    int has_pads;
    const char *auto_pad;
    int ceil_mode, count_include_pad;
    int want_out[3]; /* expected output extents (checks the shape rule independently) */
} pool_case;

/* Per spatial dim: output extent and begin/end pads. */
static void geo(const pool_case *c, int i, int *out, int *pb, int *pe) {
    int in = c->in[i], k = c->k[i], s = c->s[i] ? c->s[i] : 1, d = c->d[i] ? c->d[i] : 1;
    int dk = (k - 1) * d + 1;
    const char *ap = c->auto_pad;
    if (c->kind == GAVGP) {
        *out = 1, *pb = *pe = 0;
        return;
    }
    if (ap && strncmp(ap, "SAME", 4) == 0) {
        int o = (in + s - 1) / s, total = (o - 1) * s + dk - in;
        if (total < 0) total = 0;
        *pb = strcmp(ap, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
        *pe = total - *pb;
        *out = o;
        return;
    }
    *pb = c->has_pads && !(ap && strcmp(ap, "VALID") == 0) ? c->pads[i] : 0;
    *pe = c->has_pads && !(ap && strcmp(ap, "VALID") == 0) ? c->pads[i + c->nsp] : 0;
    double q = (double)(in + *pb + *pe - dk) / s;
    int o = (int)(c->ceil_mode ? ceil(q) : floor(q)) + 1;
    /* a window must start inside the input or the begin padding */
    if (c->ceil_mode && (o - 1) * s >= in + *pb) o--;
    *out = o;
}

static void reference(const pool_case *c, const float *x, float *y, int *out) {
    int ns = c->nsp, pb[3] = {0}, pe[3] = {0}, in[3] = {1, 1, 1}, k[3] = {1, 1, 1};
    int s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, o[3] = {1, 1, 1};
    for (int i = 0; i < ns; i++) {
        int j = 3 - ns + i;
        geo(c, i, &o[j], &pb[j], &pe[j]);
        out[i] = o[j];
        in[j] = c->in[i];
        k[j] = c->kind == GAVGP ? c->in[i] : c->k[i];
        s[j] = c->s[i] ? c->s[i] : 1;
        d[j] = c->d[i] ? c->d[i] : 1;
    }
    size_t yi = 0;
    for (int nc = 0; nc < c->N * c->C; nc++) {
        const float *xp = x + (size_t)nc * in[0] * in[1] * in[2];
        for (int a = 0; a < o[0]; a++)
            for (int b = 0; b < o[1]; b++)
                for (int e = 0; e < o[2]; e++) {
                    double mx = -INFINITY, sum = 0;
                    int cnt = 0, cnt_pad = 0;
                    for (int ta = 0; ta < k[0]; ta++)
                        for (int tb = 0; tb < k[1]; tb++)
                            for (int te = 0; te < k[2]; te++) {
                                int p0 = a * s[0] - pb[0] + ta * d[0];
                                int p1 = b * s[1] - pb[1] + tb * d[1];
                                int p2 = e * s[2] - pb[2] + te * d[2];
                                if (p0 < in[0] + pe[0] && p1 < in[1] + pe[1] && p2 < in[2] + pe[2])
                                    cnt_pad++;
                                if (p0 < 0 || p0 >= in[0] || p1 < 0 || p1 >= in[1] || p2 < 0 ||
                                    p2 >= in[2])
                                    continue;
                                double v = xp[((size_t)p0 * in[1] + p1) * in[2] + p2];
                                mx = v > mx ? v : mx;
                                sum += v;
                                cnt++;
                            }
                    double r = c->kind == MAXP ? mx : sum / (c->count_include_pad ? cnt_pad : cnt);
                    y[yi++] = (float)r;
                }
    }
}

static const char *op_name(int kind) {
    return kind == MAXP ? "MaxPool" : kind == AVGP ? "AveragePool" : "GlobalAveragePool";
}

/* Builds the node on input x and evaluates it; returns the graph (node 0) or NULL. */
static mr_graph *build_eval(const pool_case *c, const float *x, int *node_out, mr_status *st,
                            mr_err *err) {
    mr_err_clear(err);
    mr_graph *g = mr_graph_create(err);
    if (!g) return NULL;
    int ns = c->nsp;
    int64_t xd[5] = {c->N, c->C}, v[6];
    for (int i = 0; i < ns; i++) xd[2 + i] = c->in[i];
    int in = mr_graph_add_const(g, "X", MR_DTYPE_F32, 2 + ns, xd, x, err);
    int out = mr_graph_add_tensor(g, "Y", err);
    int node = mr_graph_add_node(g, "p1", op_name(c->kind), 1, &in, 1, &out, err);
    if (c->kind != GAVGP) {
        for (int i = 0; i < ns; i++) v[i] = c->k[i];
        mr_node_set_ints(g, node, "kernel_shape", ns, v, err);
        if (c->s[0]) {
            for (int i = 0; i < ns; i++) v[i] = c->s[i];
            mr_node_set_ints(g, node, "strides", ns, v, err);
        }
        if (c->d[0]) {
            for (int i = 0; i < ns; i++) v[i] = c->d[i];
            mr_node_set_ints(g, node, "dilations", ns, v, err);
        }
        if (c->has_pads) {
            for (int i = 0; i < 2 * ns; i++) v[i] = c->pads[i];
            mr_node_set_ints(g, node, "pads", 2 * ns, v, err);
        }
        if (c->auto_pad) mr_node_set_string(g, node, "auto_pad", c->auto_pad, err);
        if (c->ceil_mode) mr_node_set_int(g, node, "ceil_mode", 1, err);
        if (c->count_include_pad) mr_node_set_int(g, node, "count_include_pad", 1, err);
    }
    *node_out = node;
    *st = mr_node_eval(g, node, err);
    return g;
}

static void run_case(const pool_case *c, uint64_t seed) {
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    int ns = c->nsp, out[3];
    size_t nx = (size_t)c->N * c->C, ny = (size_t)c->N * c->C;
    for (int i = 0; i < ns; i++) nx *= (size_t)c->in[i];
    for (int i = 0; i < ns; i++) {
        int o, b, e;
        geo(c, i, &o, &b, &e);
        ny *= (size_t)o;
    }
    float *x = mr_test_rand_floats(&rng, nx, -2.0f, 2.0f), *ref = malloc(ny * sizeof(float));
    reference(c, x, ref, out);
    for (int i = 0; i < ns; i++)
        if (c->want_out[i])
            CHECK_MSG(out[i] == c->want_out[i], "%s: reference output dim %d is %d, want %d",
                      c->label, i, out[i], c->want_out[i]);
    mr_err err;
    mr_status st;
    int node;
    mr_graph *g = build_eval(c, x, &node, &st, &err);
    CHECK(g != NULL);
    if (!g) return;
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st == MR_OK) {
        const mr_tensor_desc *t = mr_node_output(g, &g->nodes[node], 0);
        int shape_ok = t->ndim == 2 + ns && t->dims[0] == c->N && t->dims[1] == c->C;
        for (int i = 0; shape_ok && i < ns; i++) shape_ok = t->dims[2 + i] == out[i];
        CHECK_MSG(shape_ok, "%s: output shape", c->label);
        if (shape_ok) {
            double max_abs;
            int64_t worst;
            int ok = mr_allclose(t->data, ref, (int64_t)ny, 1e-5f, 1e-6f, &max_abs, &worst);
            CHECK_MSG(ok, "%s: max |diff| %.3g at %lld (got %g, want %g)", c->label, max_abs,
                      (long long)worst, worst >= 0 ? ((const float *)t->data)[worst] : 0.0,
                      worst >= 0 ? ref[worst] : 0.0);
            CHECK(g->nodes[node].n_blocks >= 1 && g->nodes[node].flops > 0);
            mr_test_check_block_order(g, node, &rng, c->label);
        }
    }
    mr_graph_destroy(g);
    free(x);
    free(ref);
}

static void test_numerics(void) {
    /* label, kind, nsp, N, C, in, k, s, d (0: absent), pads, has_pads, auto_pad, ceil_mode,
     * count_include_pad, want_out (0: unchecked) */
    // clang-format off
    static const pool_case cases[] = {
        {"max 2x2", MAXP, 2, 1, 3, {8, 9}, {2, 2}, {0}, {0}, {0}, 0, NULL, 0, 0, {7, 8}},
        {"max 3x3 s2 p1 (ResNet)", MAXP, 2, 2, 4, {12, 11}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, 1,
         NULL, 0, 0, {6, 6}},
        {"max asymmetric pads", MAXP, 2, 1, 2, {7, 8}, {3, 2}, {1, 2}, {0}, {0, 1, 2, 1}, 1, NULL,
         0, 0, {0}},
        {"max dilations", MAXP, 2, 1, 2, {9, 10}, {2, 3}, {1, 2}, {2, 2}, {1, 1, 1, 1}, 1, NULL,
         0, 0, {0}},
        {"max ceil_mode", MAXP, 2, 1, 3, {10, 9}, {3, 3}, {2, 2}, {0}, {0}, 0, NULL, 1, 0, {5, 4}},
        {"max ceil_mode pads, last window dropped", MAXP, 2, 1, 2, {5, 6}, {2, 2}, {2, 2}, {0},
         {1, 1, 1, 1}, 1, NULL, 1, 0, {3, 4}},
        {"max SAME_UPPER", MAXP, 2, 1, 2, {7, 8}, {4, 3}, {2, 2}, {0}, {0}, 0, "SAME_UPPER",
         0, 0, {4, 4}},
        {"max SAME_LOWER", MAXP, 2, 1, 2, {7, 8}, {4, 3}, {2, 2}, {0}, {0}, 0, "SAME_LOWER",
         0, 0, {4, 4}},
        {"max VALID", MAXP, 2, 1, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, 1, "VALID",
         0, 0, {3, 3}},
        {"max 1-D", MAXP, 1, 2, 3, {32}, {3}, {2}, {0}, {1, 1}, 1, NULL, 0, 0, {16}},
        {"max 1-D dilated ceil", MAXP, 1, 1, 3, {20}, {3}, {3}, {2}, {0}, 0, NULL, 1, 0, {0}},
        {"max 3-D", MAXP, 3, 1, 2, {6, 7, 8}, {2, 3, 2}, {2, 1, 2}, {0}, {0, 1, 1, 1, 1, 0}, 1,
         NULL, 0, 0, {0}},
        {"max 3-D ceil dilated", MAXP, 3, 1, 2, {7, 6, 9}, {2, 2, 2}, {2, 2, 2}, {1, 2, 1}, {0},
         0, NULL, 1, 0, {0}},
        {"max large (many blocks)", MAXP, 2, 1, 64, {112, 112}, {3, 3}, {2, 2}, {0},
         {1, 1, 1, 1}, 1, NULL, 0, 0, {56, 56}},
        {"avg 2x2", AVGP, 2, 1, 3, {8, 9}, {2, 2}, {0}, {0}, {0}, 0, NULL, 0, 0, {7, 8}},
        {"avg pads exclude", AVGP, 2, 1, 2, {9, 8}, {3, 3}, {0}, {0}, {2, 2, 2, 2}, 1, NULL,
         0, 0, {11, 10}},
        {"avg pads include", AVGP, 2, 1, 2, {9, 8}, {3, 3}, {0}, {0}, {2, 2, 2, 2}, 1, NULL,
         0, 1, {11, 10}},
        {"avg asymmetric pads stride include", AVGP, 2, 2, 2, {9, 10}, {3, 4}, {2, 3}, {0},
         {1, 0, 2, 3}, 1, NULL, 0, 1, {0}},
        {"avg ceil exclude", AVGP, 2, 1, 2, {10, 9}, {3, 3}, {2, 2}, {0}, {0}, 0, NULL,
         1, 0, {5, 4}},
        {"avg ceil include (clipped windows)", AVGP, 2, 1, 2, {10, 10}, {3, 3}, {2, 2}, {0},
         {1, 1, 1, 1}, 1, NULL, 1, 1, {6, 6}},
        {"avg ceil pads dropped include", AVGP, 2, 1, 2, {5, 6}, {2, 2}, {2, 2}, {0},
         {1, 1, 1, 1}, 1, NULL, 1, 1, {3, 4}},
        {"avg SAME_UPPER", AVGP, 2, 1, 2, {7, 8}, {4, 3}, {2, 2}, {0}, {0}, 0, "SAME_UPPER",
         0, 0, {4, 4}},
        {"avg SAME_LOWER include", AVGP, 2, 1, 2, {7, 8}, {4, 3}, {2, 2}, {0}, {0}, 0,
         "SAME_LOWER", 0, 1, {4, 4}},
        {"avg VALID", AVGP, 2, 1, 2, {7, 8}, {3, 3}, {2, 2}, {0}, {0}, 0, "VALID", 1, 0, {3, 4}},
        {"avg dilations", AVGP, 2, 1, 2, {9, 10}, {2, 3}, {1, 2}, {2, 2}, {1, 1, 1, 1}, 1, NULL,
         0, 1, {0}},
        {"avg 1-D", AVGP, 1, 1, 3, {32}, {2}, {0}, {0}, {0}, 0, NULL, 0, 0, {31}},
        {"avg 1-D pads ceil include", AVGP, 1, 2, 3, {21}, {4}, {3}, {0}, {2, 1}, 1, NULL,
         1, 1, {0}},
        {"avg 3-D", AVGP, 3, 1, 2, {6, 7, 8}, {2, 2, 2}, {0}, {0}, {0}, 0, NULL, 0, 0, {5, 6, 7}},
        {"avg 3-D pads include ceil", AVGP, 3, 1, 2, {6, 7, 5}, {3, 2, 3}, {2, 2, 2}, {0},
         {1, 0, 1, 1, 1, 2}, 1, NULL, 1, 1, {0}},
        {"global avg 2-D", GAVGP, 2, 2, 5, {7, 7}, {0}, {0}, {0}, {0}, 0, NULL, 0, 0, {1, 1}},
        {"global avg 1-D", GAVGP, 1, 1, 4, {33}, {0}, {0}, {0}, {0}, 0, NULL, 0, 0, {1}},
        {"global avg 3-D", GAVGP, 3, 1, 3, {4, 5, 6}, {0}, {0}, {0}, {0}, 0, NULL, 0, 0,
         {1, 1, 1}},
        {"global avg large (many blocks)", GAVGP, 2, 2, 512, {56, 56}, {0}, {0}, {0}, {0}, 0,
         NULL, 0, 0, {1, 1}},
    };
    // clang-format on
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 200 + i);
}

/* onnx 1.12 golden cases on x = 1..16 (4x4) or 1..25 (5x5). */
static void test_golden(void) {
    // clang-format off
    static const struct {
        pool_case c;
        int n;
        float want[25];
    } cases[] = {
        {{"golden maxpool_2d_ceil", MAXP, 2, 1, 1, {4, 4}, {3, 3}, {2, 2}, {0}, {0}, 0, NULL,
          1, 0, {2, 2}},
         4, {11, 12, 15, 16}},
        {{"golden averagepool_2d_ceil", AVGP, 2, 1, 1, {4, 4}, {3, 3}, {2, 2}, {0}, {0}, 0, NULL,
          1, 0, {2, 2}},
         4, {6, 7.5f, 12, 13.5f}},
        {{"golden maxpool_2d_dilations", MAXP, 2, 1, 1, {4, 4}, {2, 2}, {1, 1}, {2, 2}, {0}, 0,
          NULL, 0, 0, {2, 2}},
         4, {11, 12, 15, 16}},
        {{"golden maxpool_2d_precomputed_same_upper", MAXP, 2, 1, 1, {5, 5}, {3, 3}, {2, 2}, {0},
          {0}, 0, "SAME_UPPER", 0, 0, {3, 3}},
         9, {7, 9, 10, 17, 19, 20, 22, 24, 25}},
        {{"golden averagepool_2d_precomputed_same_upper", AVGP, 2, 1, 1, {5, 5}, {3, 3}, {2, 2},
          {0}, {0}, 0, "SAME_UPPER", 0, 0, {3, 3}},
         9, {4, 5.5f, 7, 11.5f, 13, 14.5f, 19, 20.5f, 22}},
        {{"golden averagepool_2d_precomputed_pads_count_include_pad", AVGP, 2, 1, 1, {5, 5},
          {5, 5}, {0}, {0}, {2, 2, 2, 2}, 1, NULL, 0, 1, {5, 5}},
         25, {2.52f, 3.6f, 4.8f, 4.08f, 3.24f, 4.56f, 6.4f, 8.4f, 7.04f, 5.52f, 7.2f, 10.0f,
              13.0f, 10.8f, 8.4f, 6.96f, 9.6f, 12.4f, 10.24f, 7.92f, 6.12f, 8.4f, 10.8f, 8.88f,
              6.84f}},
        {{"golden averagepool_2d_precomputed_pads", AVGP, 2, 1, 1, {5, 5}, {5, 5}, {0}, {0},
          {2, 2, 2, 2}, 1, NULL, 0, 0, {5, 5}},
         25, {7, 7.5f, 8, 8.5f, 9, 9.5f, 10, 10.5f, 11, 11.5f, 12, 12.5f, 13, 13.5f, 14, 14.5f,
              15, 15.5f, 16, 16.5f, 17, 17.5f, 18, 18.5f, 19}},
        {{"golden maxpool_2d_precomputed_pads", MAXP, 2, 1, 1, {5, 5}, {5, 5}, {0}, {0},
          {2, 2, 2, 2}, 1, NULL, 0, 0, {5, 5}},
         25, {13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25,
              23, 24, 25, 25, 25}},
    };
    // clang-format on
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pool_case *c = &cases[i].c;
        float x[25];
        for (int j = 0; j < 25; j++) x[j] = (float)(j + 1);
        mr_err err;
        mr_status st;
        int node;
        mr_graph *g = build_eval(c, x, &node, &st, &err);
        CHECK_STATUS(st, MR_OK, err.msg, NULL);
        if (st == MR_OK) {
            const mr_tensor_desc *t = mr_node_output(g, &g->nodes[node], 0);
            CHECK_MSG(t->dims[2] == c->want_out[0] && t->dims[3] == c->want_out[1],
                      "%s: output shape", c->label);
            if (mr_desc_numel(t) == cases[i].n) {
                double max_abs;
                int ok =
                    mr_allclose(t->data, cases[i].want, cases[i].n, 1e-5f, 1e-5f, &max_abs, NULL);
                CHECK_MSG(ok, "%s: max |diff| %.3g", c->label, max_abs);
            }
        }
        mr_graph_destroy(g);
    }
}

static void test_errors(void) {
    mr_err err;
    mr_status st;
    int node;
    float x[2 * 3 * 6 * 6];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = (float)i;
    int64_t xd[4] = {2, 3, 6, 6}, k2[2] = {2, 2}, k1[1] = {2};
    {
        /* Indices output */
        mr_err_clear(&err);
        mr_graph *g = mr_graph_create(&err);
        int in = mr_graph_add_const(g, "X", MR_DTYPE_F32, 4, xd, x, &err);
        int out[2] = {mr_graph_add_tensor(g, "Y", &err), mr_graph_add_tensor(g, "I", &err)};
        node = mr_graph_add_node(g, "p1", "MaxPool", 1, &in, 2, out, &err);
        mr_node_set_ints(g, node, "kernel_shape", 2, k2, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "MaxPool node 'p1'");
        CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "Indices");
        mr_graph_destroy(g);
    }
    {
        /* storage_order = 1 without Indices is harmless */
        mr_err_clear(&err);
        mr_graph *g = mr_graph_create(&err);
        int in = mr_graph_add_const(g, "X", MR_DTYPE_F32, 4, xd, x, &err);
        int out = mr_graph_add_tensor(g, "Y", &err);
        node = mr_graph_add_node(g, "p1", "MaxPool", 1, &in, 1, &out, &err);
        mr_node_set_ints(g, node, "kernel_shape", 2, k2, &err);
        mr_node_set_int(g, node, "storage_order", 1, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_OK, err.msg, NULL);
        mr_graph_destroy(g);
    }
    static const struct {
        const char *op, *label, *needle;
        int what; /* see below */
        mr_status want;
    } bad[] = {
        {"MaxPool", "no kernel_shape", "kernel_shape", 0, MR_ERR_UNSUPPORTED},
        {"AveragePool", "kernel_shape rank", "kernel_shape", 1, MR_ERR_SHAPE},
        {"MaxPool", "ceil_mode 2", "ceil_mode", 2, MR_ERR_UNSUPPORTED},
        {"AveragePool", "count_include_pad 3", "count_include_pad", 3, MR_ERR_UNSUPPORTED},
        {"MaxPool", "pad as wide as kernel", "pads", 4, MR_ERR_UNSUPPORTED},
        {"AveragePool", "bad auto_pad", "auto_pad", 5, MR_ERR_UNSUPPORTED},
        {"MaxPool", "stride 0", "strides", 6, MR_ERR_UNSUPPORTED},
        {"MaxPool", "kernel too large", "'p1'", 7, MR_ERR_SHAPE},
        {"MaxPool", "int64 input", "float32", 8, MR_ERR_UNSUPPORTED},
        {"GlobalAveragePool", "rank 2", "'p1'", 9, MR_ERR_SHAPE},
        {"MaxPool", "4-D pooling", "'p1'", 10, MR_ERR_UNSUPPORTED},
        {"AveragePool", "pads length", "pads", 11, MR_ERR_SHAPE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mr_err_clear(&err);
        mr_graph *g = mr_graph_create(&err);
        int w = bad[i].what;
        int64_t d2[2] = {2, 3}, d6[6] = {1, 1, 2, 2, 2, 2};
        int64_t big[6] = {2, 2, 2, 2}, pads[4] = {2, 0, 0, 0}, k7[2] = {7, 7}, s0[2] = {0, 1};
        int in;
        if (w == 8) {
            int64_t xi[2 * 3 * 6 * 6] = {0};
            in = mr_graph_add_const(g, "X", MR_DTYPE_I64, 4, xd, xi, &err);
        } else if (w == 9) {
            in = mr_graph_add_const(g, "X", MR_DTYPE_F32, 2, d2, x, &err);
        } else if (w == 10) {
            in = mr_graph_add_const(g, "X", MR_DTYPE_F32, 6, d6, x, &err);
        } else {
            in = mr_graph_add_const(g, "X", MR_DTYPE_F32, 4, xd, x, &err);
        }
        int out = mr_graph_add_tensor(g, "Y", &err);
        node = mr_graph_add_node(g, "p1", bad[i].op, 1, &in, 1, &out, &err);
        if (w != 0 && w != 9) {
            if (w == 1)
                mr_node_set_ints(g, node, "kernel_shape", 1, k1, &err);
            else if (w == 7)
                mr_node_set_ints(g, node, "kernel_shape", 2, k7, &err);
            else if (w == 10)
                mr_node_set_ints(g, node, "kernel_shape", 4, big, &err);
            else
                mr_node_set_ints(g, node, "kernel_shape", 2, k2, &err);
        }
        if (w == 2) mr_node_set_int(g, node, "ceil_mode", 2, &err);
        if (w == 3) mr_node_set_int(g, node, "count_include_pad", 3, &err);
        if (w == 4) mr_node_set_ints(g, node, "pads", 4, pads, &err);
        if (w == 5) mr_node_set_string(g, node, "auto_pad", "same", &err);
        if (w == 6) mr_node_set_ints(g, node, "strides", 2, s0, &err);
        if (w == 11) mr_node_set_ints(g, node, "pads", 2, k2, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_MSG(st == bad[i].want, "%s: status %d, want %d (%s)", bad[i].label, st, bad[i].want,
                  err.msg);
        CHECK_STATUS(st, st == MR_OK ? bad[i].want : st, err.msg, bad[i].needle);
        CHECK_STATUS(st, st == MR_OK ? bad[i].want : st, err.msg, "'p1'");
        mr_graph_destroy(g);
    }
}

int main(void) {
    test_numerics();
    test_golden();
    test_errors();
    return mr_test_finish("ops_pool");
}
