/* Unit tests of Expand (src/ops/transform.c) and ConstantOfShape (src/ops/shape.c), the two
 * ops torch.onnx emits for the zero initial states of nn.LSTM/nn.GRU.
 *
 * Both only move or replicate bytes, so results are compared bit-exactly (tolerance 0) with
 * naive references written here (Expand: for every output index, the input index with each
 * broadcast dim taken as 0). Inputs are random and nonzero, in float32, int64 (full 64-bit
 * patterns, so an element copied as 4 bytes would show) and int32; sizes include outputs that
 * span several logical blocks. Bad shapes and attributes must fail with a message naming the
 * node.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "graph/ir.h"
#include "ops/op.h"
#include "testutil.h"

static mr_rng rng;

static void *rand_data(mr_dtype dt, int64_t n) {
    size_t es = mr_dtype_size(dt);
    char *p = calloc((size_t)(n > 0 ? n : 1), es);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = mr_rng_u64(&rng) | 1;
        if (dt == MR_DTYPE_F32) {
            float v = mr_rng_uniform(&rng, 0.5f, 1.5f) * ((r & 2) ? -1.0f : 1.0f);
            memcpy(p + i * 4, &v, 4);
        } else if (dt == MR_DTYPE_I64) {
            memcpy(p + i * 8, &r, 8);
        } else {
            int32_t v = (int32_t)(r >> 7) | 1;
            memcpy(p + i * 4, &v, 4);
        }
    }
    return p;
}

static int add_node(mr_graph *g, const char *name, const char *op, int n_in, const int *in,
                    int *out) {
    mr_err err;
    mr_err_clear(&err);
    char oname[64];
    snprintf(oname, sizeof oname, "%s_out", name);
    *out = mr_graph_add_tensor(g, oname, &err);
    int node = mr_graph_add_node(g, name, op, n_in, in, 1, out, &err);
    CHECK_MSG(node >= 0, "add_node %s: %s", name, err.msg);
    return node;
}

/* Evaluates `node` and compares output `out` bit-exactly with (dt, nd, dims, want). */
static void check_eval(mr_graph *g, int node, int out, mr_dtype dt, int nd, const int64_t *dims,
                       const void *want, const char *what) {
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_node_eval(g, node, &err);
    CHECK_MSG(st == MR_OK, "%s: eval failed: %s", what, err.msg);
    if (st != MR_OK) return;
    const mr_tensor_desc *t = &g->tensors[out];
    int same = t->dtype == dt && t->ndim == nd;
    for (int d = 0; same && d < nd; d++) same = t->dims[d] == dims[d];
    char a[128], b[128];
    CHECK_MSG(same, "%s: got %s %s, want %s %s", what, mr_dtype_name(t->dtype),
              mr_dims_str(t->ndim, t->dims, a, sizeof a), mr_dtype_name(dt),
              mr_dims_str(nd, dims, b, sizeof b));
    if (!same) return;
    size_t bytes = (size_t)mr_test_numel(nd, dims) * mr_dtype_size(dt);
    CHECK_MSG(bytes == 0 || memcmp(t->data, want, bytes) == 0, "%s: data differs", what);
}

static void check_fails(mr_graph *g, int node, mr_status want, const char *needle,
                        const char *what) {
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_node_eval(g, node, &err);
    CHECK_MSG(st == want, "%s: status %s, want %s; message: %s", what, mr_status_str(st),
              mr_status_str(want), err.msg);
    CHECK_STATUS(st, want, err.msg, needle);
}

/* ---- Expand ---- */

/* Naive reference: numpy broadcast of x (nx dims) to (no dims). */
static void ref_expand(mr_dtype dt, int nx, const int64_t *xd, const void *x, int no,
                       const int64_t *od, void *y) {
    size_t es = mr_dtype_size(dt);
    int64_t n = mr_test_numel(no, od);
    for (int64_t i = 0; i < n; i++) {
        int64_t idx[MR_MAX_DIMS], rem = i;
        for (int d = no - 1; d >= 0; d--) {
            idx[d] = rem % od[d];
            rem /= od[d];
        }
        int64_t src = 0;
        for (int k = 0; k < nx; k++) {
            int d = k + (no - nx);
            src = src * xd[k] + (xd[k] == 1 ? 0 : idx[d]);
        }
        memcpy((char *)y + i * (int64_t)es, (const char *)x + src * (int64_t)es, es);
    }
}

typedef struct expand_case {
    int nx;
    int64_t xd[4];
    int ns;
    int64_t shape[4];
    int no;
    int64_t od[4]; /* the expected output shape */
} expand_case;

static void test_expand(void) {
    static const expand_case cases[] = {
        /* torch.onnx's LSTM h0: [1, 1, 512] -> [2, 1, 512] */
        {3, {1, 1, 512}, 3, {2, 1, 512}, 3, {2, 1, 512}},
        {1, {1}, 2, {3, 4}, 2, {3, 4}},                          /* scalar-like to a matrix */
        {2, {3, 1}, 2, {3, 5}, 2, {3, 5}},                       /* column */
        {2, {1, 5}, 3, {2, 3, 5}, 3, {2, 3, 5}},                 /* new leading dim */
        {3, {2, 1, 7}, 2, {4, 1}, 3, {2, 4, 7}},                 /* shape shorter than input */
        {3, {2, 3, 4}, 3, {1, 1, 1}, 3, {2, 3, 4}},              /* shape of ones: a copy */
        {2, {1, 300}, 3, {40, 50, 300}, 3, {40, 50, 300}},       /* several logical blocks */
        {4, {1, 3, 1, 2}, 4, {2, 3, 600, 1}, 4, {2, 3, 600, 2}}, /* interleaved broadcasts */
        {2, {1, 4}, 2, {0, 4}, 2, {0, 4}},                       /* empty output */
    };
    mr_dtype dts[3] = {MR_DTYPE_F32, MR_DTYPE_I64, MR_DTYPE_I32};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const expand_case *k = &cases[c];
        mr_dtype dt = dts[c % 3];
        mr_graph *g = mr_test_new_graph(13);
        void *x = rand_data(dt, mr_test_numel(k->nx, k->xd));
        int64_t sd[1] = {k->ns};
        int in[2] = {mr_test_add_const(g, "x", dt, k->nx, k->xd, x),
                     mr_test_add_const(g, "shape", MR_DTYPE_I64, 1, sd, k->shape)};
        int out, node = add_node(g, "expand", "Expand", 2, in, &out);
        int64_t n = mr_test_numel(k->no, k->od);
        void *want = calloc((size_t)(n > 0 ? n : 1), mr_dtype_size(dt));
        ref_expand(dt, k->nx, k->xd, x, k->no, k->od, want);
        char what[64];
        snprintf(what, sizeof what, "Expand case %zu", c);
        check_eval(g, node, out, dt, k->no, k->od, want, what);
        if (c == 6) CHECK(g->nodes[node].n_blocks > 1);
        free(want);
        free(x);
        mr_graph_destroy(g);
    }

    /* Errors: incompatible dims, a negative entry, a run-time shape. */
    struct {
        int64_t shape[2];
        mr_status st;
        const char *needle;
    } bad[] = {
        {{4, 3}, MR_ERR_SHAPE, "cannot be broadcast"},
        {{-1, 5}, MR_ERR_SHAPE, "negative"},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        mr_graph *g = mr_test_new_graph(13);
        int64_t xd[2] = {2, 5}, sd[1] = {2};
        void *x = rand_data(MR_DTYPE_F32, 10);
        int in[2] = {mr_test_add_const(g, "x", MR_DTYPE_F32, 2, xd, x),
                     mr_test_add_const(g, "shape", MR_DTYPE_I64, 1, sd, bad[c].shape)};
        int out, node = add_node(g, "bad_expand", "Expand", 2, in, &out);
        check_fails(g, node, bad[c].st, "bad_expand", "Expand with a bad shape");
        check_fails(g, node, bad[c].st, bad[c].needle, "Expand with a bad shape");
        free(x);
        mr_graph_destroy(g);
    }
    {
        mr_graph *g = mr_test_new_graph(13);
        int64_t xd[1] = {3}, sd[1] = {2};
        void *x = rand_data(MR_DTYPE_F32, 3);
        mr_err err;
        mr_err_clear(&err);
        int shape = mr_graph_add_tensor(g, "runtime_shape", &err);
        mr_set_shape(&g->tensors[shape], MR_DTYPE_I64, 1, sd);
        int in[2] = {mr_test_add_const(g, "x", MR_DTYPE_F32, 1, xd, x), shape};
        int out, node = add_node(g, "rt_expand", "Expand", 2, in, &out);
        mr_err_clear(&err);
        mr_status st = mr_node_bind_op(g, &g->nodes[node], &err);
        if (st == MR_OK) st = g->nodes[node].op->infer(g, &g->nodes[node], &err);
        CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "rt_expand");
        CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "constant");
        free(x);
        mr_graph_destroy(g);
    }
}

/* ---- ConstantOfShape ---- */

static void test_constant_of_shape(void) {
    mr_err err;
    /* Default value: float 0, on shapes including one of several blocks and a scalar. */
    struct {
        int ns;
        int64_t shape[3];
    } shapes[] = {{3, {2, 1, 512}}, {2, {300, 700}}, {0, {0}}, {2, {4, 0}}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        mr_graph *g = mr_test_new_graph(13);
        int64_t sd[1] = {shapes[c].ns};
        int in = mr_test_add_const(g, "shape", MR_DTYPE_I64, 1, sd, shapes[c].shape), out;
        int node = add_node(g, "zeros", "ConstantOfShape", 1, &in, &out);
        int64_t n = mr_test_numel(shapes[c].ns, shapes[c].shape);
        float *want = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
        check_eval(g, node, out, MR_DTYPE_F32, shapes[c].ns, shapes[c].shape, want,
                   "ConstantOfShape default");
        if (c == 1) CHECK(g->nodes[node].n_blocks > 1);
        free(want);
        mr_graph_destroy(g);
    }
    /* A value attribute in each dtype (random, so a fill with the wrong bytes shows). */
    mr_dtype dts[3] = {MR_DTYPE_F32, MR_DTYPE_I64, MR_DTYPE_I32};
    for (int k = 0; k < 3; k++) {
        mr_graph *g = mr_test_new_graph(13);
        int64_t shape[3] = {3, 1000, 70}, sd[1] = {3}, one[1] = {1};
        void *v = rand_data(dts[k], 1);
        int vt = mr_test_add_const(g, NULL, dts[k], 1, one, v);
        int in = mr_test_add_const(g, "shape", MR_DTYPE_I64, 1, sd, shape), out;
        int node = add_node(g, "fill", "ConstantOfShape", 1, &in, &out);
        mr_err_clear(&err);
        mr_attr *a = mr_node_add_attr(g, node, "value", MR_ATTR_TENSOR, &err);
        CHECK(a != NULL);
        if (a) a->tensor = vt;
        int64_t n = mr_test_numel(3, shape);
        size_t es = mr_dtype_size(dts[k]);
        char *want = malloc((size_t)n * es);
        for (int64_t i = 0; i < n; i++) memcpy(want + i * (int64_t)es, v, es);
        check_eval(g, node, out, dts[k], 3, shape, want, "ConstantOfShape value");
        free(want);
        free(v);
        mr_graph_destroy(g);
    }
    /* Errors: a negative dim; a value of more than one element. */
    {
        mr_graph *g = mr_test_new_graph(13);
        int64_t shape[2] = {3, -2}, sd[1] = {2};
        int in = mr_test_add_const(g, "shape", MR_DTYPE_I64, 1, sd, shape), out;
        int node = add_node(g, "neg_fill", "ConstantOfShape", 1, &in, &out);
        check_fails(g, node, MR_ERR_SHAPE, "neg_fill", "ConstantOfShape negative dim");
        mr_graph_destroy(g);
    }
    {
        mr_graph *g = mr_test_new_graph(13);
        int64_t shape[1] = {4}, sd[1] = {1}, two[1] = {2};
        float v[2] = {1.0f, 2.0f};
        int vt = mr_test_add_const(g, NULL, MR_DTYPE_F32, 1, two, v);
        int in = mr_test_add_const(g, "shape", MR_DTYPE_I64, 1, sd, shape), out;
        int node = add_node(g, "wide_fill", "ConstantOfShape", 1, &in, &out);
        mr_err_clear(&err);
        mr_attr *a = mr_node_add_attr(g, node, "value", MR_ATTR_TENSOR, &err);
        if (a) a->tensor = vt;
        check_fails(g, node, MR_ERR_UNSUPPORTED, "wide_fill", "ConstantOfShape 2-element value");
        check_fails(g, node, MR_ERR_UNSUPPORTED, "value", "ConstantOfShape 2-element value");
        mr_graph_destroy(g);
    }
}

int main(void) {
    mr_rng_seed(&rng, 20261128);
    test_expand();
    test_constant_of_shape();
    return mr_test_finish("ops_fill");
}
