/* Unit tests of the shape and data-movement ops (src/ops/shape.c, src/ops/transform.c):
 * Shape, Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout, Constant, Concat, Transpose,
 * Gather, Slice.
 *
 * Every op only moves data, so results are compared bit-exactly (tolerance 0) with naive
 * references written here with plain index loops. Inputs are random and nonzero, in float32,
 * int64 (full 64-bit patterns, so an element copied as 4 bytes would show) and int32. Sizes
 * include tensors large enough to span several logical blocks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "graph/ir.h"
#include "ops/op.h"
#include "testutil.h"

static mr_rng rng;

/* ---- test tensors ---- */

typedef struct tens {
    mr_dtype dt;
    int nd;
    int64_t dims[MR_MAX_DIMS];
    int64_t numel;
    char *data;
} tens;

static size_t esz(mr_dtype dt) {
    return mr_dtype_size(dt);
}

static tens make_empty(mr_dtype dt, int nd, const int64_t *dims) {
    tens t;
    memset(&t, 0, sizeof t);
    t.dt = dt;
    t.nd = nd;
    for (int d = 0; d < nd; d++) t.dims[d] = dims[d];
    t.numel = mr_test_numel(nd, dims);
    t.data = calloc((size_t)(t.numel > 0 ? t.numel : 1), esz(dt));
    return t;
}

/* Random nonzero values: floats of magnitude [0.5, 1.5) with random sign; integers using all
 * their bits. */
static tens make_rand(mr_dtype dt, int nd, const int64_t *dims) {
    tens t = make_empty(dt, nd, dims);
    for (int64_t i = 0; i < t.numel; i++) {
        uint64_t r = mr_rng_u64(&rng) | 1;
        if (dt == MR_DTYPE_F32) {
            float v = mr_rng_uniform(&rng, 0.5f, 1.5f) * ((r & 2) ? -1.0f : 1.0f);
            memcpy(t.data + i * 4, &v, 4);
        } else if (dt == MR_DTYPE_I64) {
            int64_t v = (int64_t)r;
            memcpy(t.data + i * 8, &v, 8);
        } else {
            int32_t v = (int32_t)(r >> 7) | 1;
            memcpy(t.data + i * 4, &v, 4);
        }
    }
    return t;
}

static void free_t(tens *t) {
    free(t->data);
    t->data = NULL;
}

static void unravel(int64_t i, int nd, const int64_t *dims, int64_t *idx) {
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = i % dims[d];
        i /= dims[d];
    }
}

static int64_t ravel(int nd, const int64_t *dims, const int64_t *idx) {
    int64_t o = 0;
    for (int d = 0; d < nd; d++) o = o * dims[d] + idx[d];
    return o;
}

static void copy_elem(tens *dst, int64_t di, const tens *src, int64_t si) {
    memcpy(dst->data + di * (int64_t)esz(dst->dt), src->data + si * (int64_t)esz(src->dt),
           esz(src->dt));
}

/* ---- graph helpers ---- */

static int add_const(mr_graph *g, const char *name, const tens *t) {
    mr_err err;
    mr_err_clear(&err);
    int idx = mr_graph_add_const(g, name, t->dt, t->nd, t->dims, t->data, &err);
    CHECK_MSG(idx >= 0, "add_const %s: %s", name ? name : "?", err.msg);
    return idx;
}

static int add_ints(mr_graph *g, const char *name, mr_dtype dt, int n, const int64_t *v) {
    mr_err err;
    mr_err_clear(&err);
    int64_t dims[1] = {n};
    int32_t v32[MR_MAX_DIMS * 2];
    const void *data = v;
    if (dt == MR_DTYPE_I32) {
        for (int i = 0; i < n; i++) v32[i] = (int32_t)v[i];
        data = v32;
    }
    int idx = mr_graph_add_const(g, name, dt, 1, dims, data, &err);
    CHECK_MSG(idx >= 0, "add_ints %s: %s", name, err.msg);
    return idx;
}

static int add_i64(mr_graph *g, const char *name, int n, const int64_t *v) {
    return add_ints(g, name, MR_DTYPE_I64, n, v);
}

/* A tensor computed at run time: shape known, no data. */
static int add_runtime(mr_graph *g, const char *name, mr_dtype dt, int nd, const int64_t *dims) {
    mr_err err;
    mr_err_clear(&err);
    int idx = mr_graph_add_tensor(g, name, &err);
    CHECK_MSG(idx >= 0, "add_tensor %s: %s", name, err.msg);
    mr_set_shape(&g->tensors[idx], dt, nd, dims);
    return idx;
}

/* Adds node `name` of `op` with the given inputs (-1: omitted) and n_out fresh outputs;
 * *out0 receives output 0's tensor index. */
static int add_node_n(mr_graph *g, const char *name, const char *op, int n_in, const int *in,
                      int n_out, int *out0) {
    mr_err err;
    mr_err_clear(&err);
    int outs[4];
    for (int i = 0; i < n_out; i++) {
        char oname[96];
        snprintf(oname, sizeof oname, "%s_out%d", name, i);
        outs[i] = mr_graph_add_tensor(g, oname, &err);
    }
    int node = mr_graph_add_node(g, name, op, n_in, in, n_out, outs, &err);
    CHECK_MSG(node >= 0, "add_node %s: %s", name, err.msg);
    if (out0) *out0 = outs[0];
    return node;
}

static int add_node(mr_graph *g, const char *name, const char *op, int n_in, const int *in,
                    int *out0) {
    return add_node_n(g, name, op, n_in, in, 1, out0);
}

static void set_int(mr_graph *g, int node, const char *name, int64_t v) {
    mr_err err;
    mr_err_clear(&err);
    CHECK(mr_node_set_int(g, node, name, v, &err) == MR_OK);
}

static void set_ints(mr_graph *g, int node, const char *name, int n, const int64_t *v) {
    mr_err err;
    mr_err_clear(&err);
    CHECK(mr_node_set_ints(g, node, name, n, v, &err) == MR_OK);
}

/* Binds the op and runs init + infer only (for graphs whose inputs have no data). */
static mr_status infer_only(mr_graph *g, int node, mr_err *err) {
    mr_node *n = &g->nodes[node];
    mr_status st = mr_node_bind_op(g, n, err);
    if (st != MR_OK) return st;
    return n->op->infer(g, n, err);
}

/* Evaluates and compares output tensor `out` bit-exactly with `want`. */
static void check_eval(mr_graph *g, int node, int out, const tens *want, const char *what) {
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_node_eval(g, node, &err);
    CHECK_MSG(st == MR_OK, "%s: eval failed: %s", what, err.msg);
    if (st != MR_OK) return;
    const mr_tensor_desc *t = &g->tensors[out];
    CHECK_MSG(t->dtype == want->dt, "%s: dtype %d, want %d", what, t->dtype, want->dt);
    CHECK_MSG(t->ndim == want->nd, "%s: rank %d, want %d", what, t->ndim, want->nd);
    int same = t->ndim == want->nd;
    for (int d = 0; same && d < want->nd; d++) same = t->dims[d] == want->dims[d];
    char a[128], b[128];
    CHECK_MSG(same, "%s: shape %s, want %s", what, mr_dims_str(t->ndim, t->dims, a, sizeof a),
              mr_dims_str(want->nd, want->dims, b, sizeof b));
    if (!same || t->dtype != want->dt) return;
    size_t bytes = (size_t)want->numel * esz(want->dt);
    CHECK_MSG(bytes == 0 || memcmp(t->data, want->data, bytes) == 0, "%s: data differs", what);
    const mr_node *n = &g->nodes[node];
    CHECK_MSG(n->n_blocks >= 1, "%s: n_blocks %lld", what, (long long)n->n_blocks);
}

static void check_fails(mr_graph *g, int node, int eval, mr_status want, const char *needle,
                        const char *what) {
    mr_err err;
    mr_err_clear(&err);
    mr_status st = eval ? mr_node_eval(g, node, &err) : infer_only(g, node, &err);
    CHECK_MSG(st == want, "%s: status %d (%s), want %d; message: %s", what, st, mr_status_str(st),
              want, err.msg);
    CHECK_STATUS(st, want, err.msg, needle);
}

/* ---- Shape ---- */

static void test_shape(void) {
    int64_t dims[3] = {3, 4, 5};
    struct {
        int has_s, has_e;
        int64_t s, e;
        int lo, hi;
    } cases[] = {
        {0, 0, 0, 0, 0, 3},
        {1, 0, 1, 0, 1, 3},
        {0, 1, 0, 1, 0, 1},
        {0, 1, 0, -1, 0, 2},
        {1, 0, -1, 0, 2, 3},
        {1, 1, 1, 2, 1, 2},
        {1, 1, 1, -1, 1, 2},
        {1, 0, -10, 0, 0, 3},
        {0, 1, 0, 10, 0, 3},
        {1, 1, 2, 1, 2, 2},
        {1, 1, INT64_MIN, INT64_MAX, 0, 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mr_graph *g = mr_test_new_graph(15);
        tens x = make_rand(c % 2 ? MR_DTYPE_I64 : MR_DTYPE_F32, 3, dims);
        int in = add_const(g, "x", &x), out;
        int node = add_node(g, "shp", "Shape", 1, &in, &out);
        if (cases[c].has_s) set_int(g, node, "start", cases[c].s);
        if (cases[c].has_e) set_int(g, node, "end", cases[c].e);
        int64_t len = cases[c].hi - cases[c].lo;
        tens want = make_empty(MR_DTYPE_I64, 1, &len);
        for (int k = cases[c].lo; k < cases[c].hi; k++)
            ((int64_t *)want.data)[k - cases[c].lo] = dims[k];
        check_eval(g, node, out, &want, "Shape");
        CHECK(g->nodes[node].op->flags & MR_OP_SHAPE_ONLY);
        free_t(&want);
        free_t(&x);
        mr_graph_destroy(g);
    }
    /* Scalar input: empty shape. */
    mr_graph *g = mr_test_new_graph(13);
    tens x = make_rand(MR_DTYPE_F32, 0, NULL);
    int in = add_const(g, "x", &x), out;
    int node = add_node(g, "shp", "Shape", 1, &in, &out);
    int64_t zero = 0;
    tens want = make_empty(MR_DTYPE_I64, 1, &zero);
    check_eval(g, node, out, &want, "Shape of a scalar");
    free_t(&want);
    free_t(&x);
    mr_graph_destroy(g);
}

/* ---- the views: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout ---- */

/* want = x's data with a new shape. */
static tens reshaped(const tens *x, int nd, const int64_t *dims) {
    tens t = make_empty(x->dt, nd, dims);
    CHECK(t.numel == x->numel);
    memcpy(t.data, x->data, (size_t)x->numel * esz(x->dt));
    return t;
}

static void reshape_case(mr_dtype dt, int nd, const int64_t *dims, int ns, const int64_t *shape,
                         int allowzero, int wnd, const int64_t *wdims) {
    mr_graph *g = mr_test_new_graph(14);
    tens x = make_rand(dt, nd, dims);
    int in[2] = {add_const(g, "x", &x), add_i64(g, "shape", ns, shape)}, out;
    int node = add_node(g, "r", "Reshape", 2, in, &out);
    if (allowzero >= 0) set_int(g, node, "allowzero", allowzero);
    tens want = reshaped(&x, wnd, wdims);
    check_eval(g, node, out, &want, "Reshape");
    CHECK(g->nodes[node].op->flags & MR_OP_VIEW);
    free_t(&want);
    free_t(&x);
    mr_graph_destroy(g);
}

static void test_reshape(void) {
    int64_t d234[3] = {2, 3, 4};
    reshape_case(MR_DTYPE_F32, 3, d234, 4, (int64_t[]){2, 3, 2, 2}, -1, 4, (int64_t[]){2, 3, 2, 2});
    reshape_case(MR_DTYPE_I64, 3, d234, 3, (int64_t[]){2, -1, 2}, -1, 3, (int64_t[]){2, 6, 2});
    reshape_case(MR_DTYPE_I32, 3, d234, 4, (int64_t[]){-1, 2, 3, 4}, 0, 4, (int64_t[]){1, 2, 3, 4});
    reshape_case(MR_DTYPE_F32, 3, d234, 1, (int64_t[]){24}, -1, 1, (int64_t[]){24});
    reshape_case(MR_DTYPE_F32, 3, d234, 4, (int64_t[]){2, 0, 1, -1}, -1, 4,
                 (int64_t[]){2, 3, 1, 4});
    reshape_case(MR_DTYPE_I64, 3, d234, 4, (int64_t[]){2, 0, 4, 1}, 0, 4, (int64_t[]){2, 3, 4, 1});
    /* allowzero=1: 0 is a real zero-sized dim. */
    reshape_case(MR_DTYPE_F32, 3, (int64_t[]){0, 3, 4}, 3, (int64_t[]){3, 4, 0}, 1, 3,
                 (int64_t[]){3, 4, 0});
    /* Large enough for several logical blocks (2.4 MB). */
    reshape_case(MR_DTYPE_I64, 3, (int64_t[]){3, 100, 1000}, 2, (int64_t[]){-1, 300}, -1, 2,
                 (int64_t[]){1000, 300});
    /* To a scalar. */
    reshape_case(MR_DTYPE_F32, 2, (int64_t[]){1, 1}, 0, NULL, -1, 0, NULL);

    /* Reshape-1 (opset < 5): the shape is an attribute. */
    {
        mr_graph *g = mr_test_new_graph(4);
        tens x = make_rand(MR_DTYPE_F32, 3, d234);
        int in = add_const(g, "x", &x), out;
        int node = add_node(g, "r", "Reshape", 1, &in, &out);
        set_ints(g, node, "shape", 2, (int64_t[]){4, -1});
        tens want = reshaped(&x, 2, (int64_t[]){4, 6});
        check_eval(g, node, out, &want, "Reshape-1");
        free_t(&want);
        free_t(&x);
        mr_graph_destroy(g);
    }

    /* Errors. */
    struct {
        int ns;
        int64_t shape[4];
        int allowzero;
        const char *what;
    } bad[] = {
        {2, {5, 5}, 0, "count mismatch"},
        {3, {-1, -1, 4}, 0, "two -1"},
        {2, {-1, 5}, 0, "-1 not divisible"},
        {2, {-2, 12}, 0, "invalid dim"},
        {4, {2, 3, 4, 0}, 0, "0 beyond the input rank"},
        {3, {0, -1, 4}, 1, "allowzero with 0 and -1"},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        mr_graph *g = mr_test_new_graph(14);
        tens x = make_rand(MR_DTYPE_F32, 3, d234);
        int in[2] = {add_const(g, "x", &x), add_i64(g, "shape", bad[c].ns, bad[c].shape)}, out;
        int node = add_node(g, "r", "Reshape", 2, in, &out);
        if (bad[c].allowzero) set_int(g, node, "allowzero", 1);
        check_fails(g, node, 1, MR_ERR_SHAPE, "Reshape node 'r'", bad[c].what);
        free_t(&x);
        mr_graph_destroy(g);
    }
    {
        /* Shape computed at run time. */
        mr_graph *g = mr_test_new_graph(14);
        tens x = make_rand(MR_DTYPE_F32, 3, d234);
        int64_t three = 3;
        int in[2] = {add_const(g, "x", &x), add_runtime(g, "s", MR_DTYPE_I64, 1, &three)}, out;
        int node = add_node(g, "r", "Reshape", 2, in, &out);
        check_fails(g, node, 0, MR_ERR_UNSUPPORTED,
                    "Reshape node 'r': the shape input must be constant", "runtime shape");
        free_t(&x);
        mr_graph_destroy(g);
    }
    {
        /* A float shape. */
        mr_graph *g = mr_test_new_graph(14);
        tens x = make_rand(MR_DTYPE_F32, 3, d234);
        int64_t two = 2;
        tens s = make_rand(MR_DTYPE_F32, 1, &two);
        int in[2] = {add_const(g, "x", &x), add_const(g, "s", &s)}, out;
        int node = add_node(g, "r", "Reshape", 2, in, &out);
        check_fails(g, node, 1, MR_ERR_SHAPE, "Reshape node 'r'", "float shape");
        free_t(&s);
        free_t(&x);
        mr_graph_destroy(g);
    }
}

static void test_flatten(void) {
    int64_t dims[4] = {2, 3, 4, 5};
    for (int axis = -4; axis <= 4; axis++) {
        for (int dflt = 0; dflt < 2; dflt++) {
            if (dflt && axis != 1) continue;
            mr_graph *g = mr_test_new_graph(13);
            tens x = make_rand(axis & 1 ? MR_DTYPE_I64 : MR_DTYPE_F32, 4, dims);
            int in = add_const(g, "x", &x), out;
            int node = add_node(g, "fl", "Flatten", 1, &in, &out);
            if (!dflt) set_int(g, node, "axis", axis);
            int a = axis < 0 ? axis + 4 : axis;
            int64_t w[2] = {1, 1};
            for (int d = 0; d < 4; d++) w[d < a ? 0 : 1] *= dims[d];
            tens want = reshaped(&x, 2, w);
            check_eval(g, node, out, &want, "Flatten");
            free_t(&want);
            free_t(&x);
            mr_graph_destroy(g);
        }
    }
    for (int axis = -5; axis <= 5; axis += 10) {
        mr_graph *g = mr_test_new_graph(13);
        tens x = make_rand(MR_DTYPE_F32, 4, dims);
        int in = add_const(g, "x", &x), out;
        int node = add_node(g, "fl", "Flatten", 1, &in, &out);
        set_int(g, node, "axis", axis);
        check_fails(g, node, 1, MR_ERR_SHAPE, "Flatten node 'fl'", "Flatten bad axis");
        free_t(&x);
        mr_graph_destroy(g);
    }
}

/* Squeeze/Unsqueeze with axes as attribute (opset 11) or input (opset 13, int64). n_axes < 0:
 * no axes. */
static void squeeze_case(const char *op, int opset, int nd, const int64_t *dims, int n_axes,
                         const int64_t *axes, int wnd, const int64_t *wdims) {
    mr_graph *g = mr_test_new_graph(opset);
    tens x = make_rand(MR_DTYPE_I64, nd, dims);
    int in[2] = {add_const(g, "x", &x), -1}, out, n_in = 1;
    if (opset >= 13 && n_axes >= 0) {
        in[1] = add_i64(g, "axes", n_axes, axes);
        n_in = 2;
    }
    int node = add_node(g, "sq", op, n_in, in, &out);
    if (opset < 13 && n_axes >= 0) set_ints(g, node, "axes", n_axes, axes);
    tens want = reshaped(&x, wnd, wdims);
    char what[64];
    snprintf(what, sizeof what, "%s opset %d", op, opset);
    check_eval(g, node, out, &want, what);
    free_t(&want);
    free_t(&x);
    mr_graph_destroy(g);
}

static void squeeze_bad(const char *op, int opset, int nd, const int64_t *dims, int n_axes,
                        const int64_t *axes, mr_status want, const char *what) {
    mr_graph *g = mr_test_new_graph(opset);
    tens x = make_rand(MR_DTYPE_F32, nd, dims);
    int in[2] = {add_const(g, "x", &x), -1}, out, n_in = 1;
    if (opset >= 13 && n_axes >= 0) {
        in[1] = add_i64(g, "axes", n_axes, axes);
        n_in = 2;
    }
    int node = add_node(g, "sq", op, n_in, in, &out);
    if (opset < 13 && n_axes >= 0) set_ints(g, node, "axes", n_axes, axes);
    char needle[64];
    snprintf(needle, sizeof needle, "%s node 'sq'", op);
    check_fails(g, node, 1, want, needle, what);
    free_t(&x);
    mr_graph_destroy(g);
}

static void test_squeeze_unsqueeze(void) {
    int64_t d1315[4] = {1, 3, 1, 5};
    for (int opset = 11; opset <= 13; opset += 2) {
        squeeze_case("Squeeze", opset, 4, d1315, 1, (int64_t[]){0}, 3, (int64_t[]){3, 1, 5});
        squeeze_case("Squeeze", opset, 4, d1315, 1, (int64_t[]){-2}, 3, (int64_t[]){1, 3, 5});
        squeeze_case("Squeeze", opset, 4, d1315, 2, (int64_t[]){2, 0}, 2, (int64_t[]){3, 5});
        squeeze_case("Squeeze", opset, 4, d1315, -1, NULL, 2, (int64_t[]){3, 5});
        squeeze_case("Squeeze", opset, 2, (int64_t[]){1, 1}, -1, NULL, 0, NULL);
        squeeze_bad("Squeeze", opset, 4, d1315, 1, (int64_t[]){1}, MR_ERR_SHAPE, "non-1 dim");
        squeeze_bad("Squeeze", opset, 4, d1315, 1, (int64_t[]){4}, MR_ERR_SHAPE, "axis 4");
        squeeze_bad("Squeeze", opset, 4, d1315, 1, (int64_t[]){-5}, MR_ERR_SHAPE, "axis -5");
        squeeze_bad("Squeeze", opset, 4, d1315, 2, (int64_t[]){0, -4}, MR_ERR_SHAPE, "duplicate");

        int64_t d345[3] = {3, 4, 5};
        squeeze_case("Unsqueeze", opset, 3, d345, 1, (int64_t[]){0}, 4, (int64_t[]){1, 3, 4, 5});
        squeeze_case("Unsqueeze", opset, 3, d345, 1, (int64_t[]){3}, 4, (int64_t[]){3, 4, 5, 1});
        squeeze_case("Unsqueeze", opset, 4, d1315, 1, (int64_t[]){-2}, 5,
                     (int64_t[]){1, 3, 1, 1, 5});
        squeeze_case("Unsqueeze", opset, 3, d345, 3, (int64_t[]){5, 4, 2}, 6,
                     (int64_t[]){3, 4, 1, 5, 1, 1});
        squeeze_case("Unsqueeze", opset, 3, d345, 2, (int64_t[]){1, -1}, 5,
                     (int64_t[]){3, 1, 4, 5, 1});
        squeeze_case("Unsqueeze", opset, 0, NULL, 1, (int64_t[]){0}, 1, (int64_t[]){1});
        squeeze_bad("Unsqueeze", opset, 3, d345, 2, (int64_t[]){1, 1}, MR_ERR_SHAPE, "duplicate");
        squeeze_bad("Unsqueeze", opset, 3, d345, 2, (int64_t[]){1, -4}, MR_ERR_SHAPE,
                    "duplicate (negative)");
        squeeze_bad("Unsqueeze", opset, 3, d345, 1, (int64_t[]){4}, MR_ERR_SHAPE, "axis 4");
        squeeze_bad("Unsqueeze", opset, 3, d345, -1, NULL, MR_ERR_GRAPH, "no axes");
        squeeze_bad("Unsqueeze", opset, 6, (int64_t[]){1, 2, 1, 2, 1, 2}, 3, (int64_t[]){0, 1, 2},
                    MR_ERR_UNSUPPORTED, "rank 9");
    }
    /* Multi-block view copy. */
    squeeze_case("Unsqueeze", 13, 2, (int64_t[]){500, 200}, 1, (int64_t[]){1}, 3,
                 (int64_t[]){500, 1, 200});

    /* Opset 13 with axes computed at run time, or given as an attribute. */
    for (int form = 0; form < 2; form++) {
        const char *ops[2] = {"Squeeze", "Unsqueeze"};
        for (int o = 0; o < 2; o++) {
            mr_graph *g = mr_test_new_graph(13);
            tens x = make_rand(MR_DTYPE_F32, 4, d1315);
            int64_t one = 1;
            int in[2] = {add_const(g, "x", &x), -1}, out, n_in = 1;
            if (form == 0) {
                in[1] = add_runtime(g, "axes", MR_DTYPE_I64, 1, &one);
                n_in = 2;
            }
            int node = add_node(g, "sq", ops[o], n_in, in, &out);
            if (form == 1) set_ints(g, node, "axes", 1, (int64_t[]){0});
            char needle[64];
            snprintf(needle, sizeof needle, "%s node 'sq'", ops[o]);
            check_fails(g, node, 0, MR_ERR_UNSUPPORTED, needle,
                        form ? "axes attribute at opset 13" : "runtime axes");
            free_t(&x);
            mr_graph_destroy(g);
        }
    }
}

static void test_identity_dropout(void) {
    int64_t dims[3] = {3, 4, 5};
    mr_dtype dts[3] = {MR_DTYPE_F32, MR_DTYPE_I64, MR_DTYPE_I32};
    for (int k = 0; k < 3; k++) {
        mr_graph *g = mr_test_new_graph(16);
        tens x = make_rand(dts[k], 3, dims);
        int in = add_const(g, "x", &x), out;
        int node = add_node(g, "id", "Identity", 1, &in, &out);
        check_eval(g, node, out, &x, "Identity");
        CHECK(g->nodes[node].op->flags & MR_OP_VIEW);
        free_t(&x);
        mr_graph_destroy(g);
    }
    /* Dropout forms that run (as the identity). */
    for (int form = 0; form < 6; form++) {
        int opset = form == 0 ? 6 : form == 1 ? 11 : 13;
        mr_graph *g = mr_test_new_graph(opset);
        tens x = make_rand(MR_DTYPE_F32, 3, dims);
        int in[3] = {add_const(g, "x", &x), -1, -1}, out, n_in = 1;
        float r = 0.1f;
        tens ratio = make_empty(MR_DTYPE_F32, 0, NULL);
        memcpy(ratio.data, &r, 4);
        if (form >= 3) {
            in[1] = add_const(g, "ratio", &ratio);
            n_in = 2;
        }
        if (form >= 4) {
            /* training_mode: a constant false (int64 / int32 stand-ins for bool). */
            int64_t f = 0;
            in[2] = add_ints(g, "tm", form == 4 ? MR_DTYPE_I64 : MR_DTYPE_I32, 1, &f);
            n_in = 3;
        }
        int node = add_node(g, "do", "Dropout", n_in, in, &out);
        if (form == 0) set_int(g, node, "is_test", 1);
        if (form <= 1) {
            mr_err err;
            mr_err_clear(&err);
            CHECK(mr_node_set_float(g, node, "ratio", 0.2f, &err) == MR_OK);
        }
        if (form == 2) set_int(g, node, "seed", 7);
        check_eval(g, node, out, &x, "Dropout");
        free_t(&ratio);
        free_t(&x);
        mr_graph_destroy(g);
    }
    /* The ratio computed at run time is fine (it is ignored). */
    {
        mr_graph *g = mr_test_new_graph(13);
        tens x = make_rand(MR_DTYPE_F32, 3, dims);
        int in[2] = {add_const(g, "x", &x), add_runtime(g, "r", MR_DTYPE_F32, 0, NULL)}, out;
        int node = add_node(g, "do", "Dropout", 2, in, &out);
        mr_err err;
        mr_err_clear(&err);
        CHECK_STATUS(infer_only(g, node, &err), MR_OK, err.msg, NULL);
        free_t(&x);
        mr_graph_destroy(g);
    }
    /* Unsupported: training mode (constant true or run-time), the mask output. */
    for (int form = 0; form < 4; form++) {
        mr_graph *g = mr_test_new_graph(13);
        tens x = make_rand(MR_DTYPE_F32, 3, dims);
        int in[3] = {add_const(g, "x", &x), -1, -1}, out, n_in = 1, n_out = 1;
        int64_t t = 1;
        if (form == 0) in[2] = add_i64(g, "tm", 1, &t), n_in = 3;
        if (form == 1) in[2] = add_runtime(g, "tm", MR_DTYPE_I64, 0, NULL), n_in = 3;
        if (form == 2) n_out = 2;
        int node = add_node_n(g, "do", "Dropout", n_in, in, n_out, &out);
        if (form == 3) {
            /* A ratio attribute at opset 13. */
            mr_err err;
            mr_err_clear(&err);
            CHECK(mr_node_set_float(g, node, "ratio", 0.2f, &err) == MR_OK);
        }
        check_fails(g, node, 0, MR_ERR_UNSUPPORTED, "Dropout node 'do'",
                    form == 2   ? "mask"
                    : form == 3 ? "ratio attribute"
                                : "training mode");
        free_t(&x);
        mr_graph_destroy(g);
    }
}

/* ---- Constant ---- */

static void test_constant(void) {
    mr_err err;
    /* value: a tensor attribute, in each dtype. */
    mr_dtype dts[3] = {MR_DTYPE_F32, MR_DTYPE_I64, MR_DTYPE_I32};
    for (int k = 0; k < 3; k++) {
        mr_graph *g = mr_test_new_graph(13);
        int64_t dims[2] = {5, 5};
        if (k == 1) dims[0] = 3000; /* several blocks */
        tens v = make_rand(dts[k], 2, dims);
        int vt = add_const(g, NULL, &v), out;
        int node = add_node(g, "c", "Constant", 0, NULL, &out);
        mr_err_clear(&err);
        mr_attr *a = mr_node_add_attr(g, node, "value", MR_ATTR_TENSOR, &err);
        CHECK(a != NULL);
        if (a) a->tensor = vt;
        check_eval(g, node, out, &v, "Constant value");
        free_t(&v);
        mr_graph_destroy(g);
    }
    /* The scalar and list forms. */
    for (int form = 0; form < 4; form++) {
        mr_graph *g = mr_test_new_graph(13);
        int out;
        int node = add_node(g, "c", "Constant", 0, NULL, &out);
        tens want;
        mr_err_clear(&err);
        if (form == 0) {
            float f = 0.75f;
            want = make_empty(MR_DTYPE_F32, 0, NULL);
            memcpy(want.data, &f, 4);
            CHECK(mr_node_set_float(g, node, "value_float", f, &err) == MR_OK);
        } else if (form == 1) {
            int64_t v = -1234567890123LL;
            want = make_empty(MR_DTYPE_I64, 0, NULL);
            memcpy(want.data, &v, 8);
            set_int(g, node, "value_int", v);
        } else if (form == 2) {
            float f[3] = {1.5f, -2.25f, 3.0f};
            want = make_empty(MR_DTYPE_F32, 1, (int64_t[]){3});
            memcpy(want.data, f, sizeof f);
            CHECK(mr_node_set_floats(g, node, "value_floats", 3, f, &err) == MR_OK);
        } else {
            int64_t v[4] = {7, -8, INT64_MAX, INT64_MIN};
            want = make_empty(MR_DTYPE_I64, 1, (int64_t[]){4});
            memcpy(want.data, v, sizeof v);
            set_ints(g, node, "value_ints", 4, v);
        }
        check_eval(g, node, out, &want, "Constant scalar/list");
        free_t(&want);
        mr_graph_destroy(g);
    }
    /* Unsupported / malformed. */
    for (int form = 0; form < 4; form++) {
        mr_graph *g = mr_test_new_graph(13);
        int out;
        int node = add_node(g, "c", "Constant", 0, NULL, &out);
        mr_err_clear(&err);
        mr_status want = MR_ERR_UNSUPPORTED;
        if (form == 0) {
            CHECK(mr_node_set_string(g, node, "value_string", "hello", &err) == MR_OK);
        } else if (form == 1) {
            CHECK(mr_node_add_attr(g, node, "value_strings", MR_ATTR_STRINGS, &err) != NULL);
        } else if (form == 2) {
            CHECK(mr_node_add_attr(g, node, "sparse_value", MR_ATTR_OTHER, &err) != NULL);
        } else {
            set_int(g, node, "value_int", 1);
            set_ints(g, node, "value_ints", 1, (int64_t[]){1});
            want = MR_ERR_GRAPH;
        }
        check_fails(g, node, 1, want, "Constant node 'c'", "Constant bad");
        mr_graph_destroy(g);
    }
}

/* ---- Concat ---- */

static tens ref_concat(const tens *xs, int k, int axis) {
    int64_t dims[MR_MAX_DIMS];
    memcpy(dims, xs[0].dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < k; i++) dims[axis] += xs[i].dims[axis];
    tens y = make_empty(xs[0].dt, xs[0].nd, dims);
    int64_t idx[MR_MAX_DIMS];
    for (int64_t o = 0; o < y.numel; o++) {
        unravel(o, y.nd, y.dims, idx);
        int i = 0;
        while (idx[axis] >= xs[i].dims[axis]) idx[axis] -= xs[i++].dims[axis];
        copy_elem(&y, o, &xs[i], ravel(xs[i].nd, xs[i].dims, idx));
    }
    return y;
}

static void test_concat(void) {
    for (int it = 0; it < 60; it++) {
        int nd = 1 + (int)(mr_rng_u64(&rng) % 4), k = 1 + (int)(mr_rng_u64(&rng) % 5);
        int axis = (int)(mr_rng_u64(&rng) % (uint64_t)nd);
        mr_dtype dt = it % 3 == 0 ? MR_DTYPE_F32 : it % 3 == 1 ? MR_DTYPE_I64 : MR_DTYPE_I32;
        int64_t dims[MR_MAX_DIMS];
        for (int d = 0; d < nd; d++) dims[d] = 1 + (int64_t)(mr_rng_u64(&rng) % 6);
        if (it == 0) { /* a big one: several blocks */
            nd = 3, axis = 1, k = 3;
            dims[0] = 7, dims[1] = 50, dims[2] = 300;
        }
        tens xs[5];
        mr_graph *g = mr_test_new_graph(13);
        int in[5], out;
        for (int i = 0; i < k; i++) {
            int64_t di[MR_MAX_DIMS];
            memcpy(di, dims, sizeof di);
            di[axis] = (int64_t)(mr_rng_u64(&rng) % 5); /* 0 sometimes: an empty input */
            if (it == 0) di[axis] = 50 + i;
            xs[i] = make_rand(dt, nd, di);
            char name[16];
            snprintf(name, sizeof name, "x%d", i);
            in[i] = add_const(g, name, &xs[i]);
        }
        int node = add_node(g, "cat", "Concat", k, in, &out);
        int neg = it % 2;
        set_int(g, node, "axis", neg ? axis - nd : axis);
        tens want = ref_concat(xs, k, axis);
        check_eval(g, node, out, &want, "Concat");
        if (it == 0) CHECK(g->nodes[node].n_blocks > 1);
        free_t(&want);
        for (int i = 0; i < k; i++) free_t(&xs[i]);
        mr_graph_destroy(g);
    }
    /* Concat-1 defaults axis to 1. */
    {
        mr_graph *g = mr_test_new_graph(1);
        tens xs[2] = {make_rand(MR_DTYPE_F32, 2, (int64_t[]){2, 3}),
                      make_rand(MR_DTYPE_F32, 2, (int64_t[]){2, 4})};
        int in[2] = {add_const(g, "a", &xs[0]), add_const(g, "b", &xs[1])}, out;
        int node = add_node(g, "cat", "Concat", 2, in, &out);
        tens want = ref_concat(xs, 2, 1);
        check_eval(g, node, out, &want, "Concat-1");
        free_t(&want);
        free_t(&xs[0]);
        free_t(&xs[1]);
        mr_graph_destroy(g);
    }
    /* Errors. */
    for (int form = 0; form < 5; form++) {
        mr_graph *g = mr_test_new_graph(13);
        tens a = make_rand(MR_DTYPE_F32, 2, (int64_t[]){2, 3});
        tens b = form == 0   ? make_rand(MR_DTYPE_F32, 2, (int64_t[]){3, 3})
                 : form == 1 ? make_rand(MR_DTYPE_I64, 2, (int64_t[]){2, 3})
                 : form == 2 ? make_rand(MR_DTYPE_F32, 3, (int64_t[]){2, 3, 1})
                             : make_rand(MR_DTYPE_F32, 2, (int64_t[]){2, 3});
        int in[2] = {add_const(g, "a", &a), add_const(g, "b", &b)}, out;
        int node = add_node(g, "cat", "Concat", 2, in, &out);
        if (form != 4) set_int(g, node, "axis", form == 3 ? 2 : 1);
        check_fails(g, node, 1, form == 4 ? MR_ERR_GRAPH : MR_ERR_SHAPE, "Concat node 'cat'",
                    "Concat bad");
        free_t(&a);
        free_t(&b);
        mr_graph_destroy(g);
    }
}

/* ---- Transpose ---- */

static tens ref_transpose(const tens *x, const int *perm) {
    int64_t dims[MR_MAX_DIMS];
    for (int d = 0; d < x->nd; d++) dims[d] = x->dims[perm[d]];
    tens y = make_empty(x->dt, x->nd, dims);
    int64_t oi[MR_MAX_DIMS], ii[MR_MAX_DIMS];
    for (int64_t o = 0; o < y.numel; o++) {
        unravel(o, y.nd, y.dims, oi);
        for (int d = 0; d < x->nd; d++) ii[perm[d]] = oi[d];
        copy_elem(&y, o, x, ravel(x->nd, x->dims, ii));
    }
    return y;
}

static void transpose_case(mr_dtype dt, int nd, const int64_t *dims, const int *perm,
                           int default_perm) {
    mr_graph *g = mr_test_new_graph(13);
    tens x = make_rand(dt, nd, dims);
    int in = add_const(g, "x", &x), out;
    int node = add_node(g, "tr", "Transpose", 1, &in, &out);
    int p[MR_MAX_DIMS];
    int64_t p64[MR_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        p[d] = default_perm ? nd - 1 - d : perm[d];
        p64[d] = p[d];
    }
    if (!default_perm) set_ints(g, node, "perm", nd, p64);
    tens want = ref_transpose(&x, p);
    check_eval(g, node, out, &want, "Transpose");
    free_t(&want);
    free_t(&x);
    mr_graph_destroy(g);
}

/* Next permutation in lexicographic order; 0 after the last. */
static int next_perm(int *p, int n) {
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1]) i--;
    if (i < 0) return 0;
    int j = n - 1;
    while (p[j] <= p[i]) j--;
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) t = p[a], p[a] = p[b], p[b] = t;
    return 1;
}

static void test_transpose(void) {
    int p[MR_MAX_DIMS] = {0, 1, 2, 3};
    int count = 0;
    do {
        transpose_case(count % 2 ? MR_DTYPE_I64 : MR_DTYPE_F32, 4, (int64_t[]){2, 3, 4, 5}, p, 0);
        count++;
    } while (next_perm(p, 4));
    CHECK(count == 24);
    int q[3] = {0, 1, 2};
    do transpose_case(MR_DTYPE_I32, 3, (int64_t[]){3, 1, 7}, q, 0);
    while (next_perm(q, 3));
    transpose_case(MR_DTYPE_F32, 3, (int64_t[]){2, 3, 4}, NULL, 1);
    transpose_case(MR_DTYPE_F32, 0, NULL, NULL, 1);
    transpose_case(MR_DTYPE_I64, 1, (int64_t[]){9}, NULL, 1);
    /* Several blocks, including runs that start mid-row. */
    transpose_case(MR_DTYPE_F32, 3, (int64_t[]){64, 33, 47}, (int[]){2, 0, 1}, 0);
    transpose_case(MR_DTYPE_I64, 4, (int64_t[]){8, 3, 60, 70}, (int[]){0, 2, 3, 1}, 0);
    /* Random higher-rank permutations. */
    for (int it = 0; it < 20; it++) {
        int nd = 5 + it % 4, perm[MR_MAX_DIMS];
        int64_t dims[MR_MAX_DIMS];
        for (int d = 0; d < nd; d++) {
            perm[d] = d;
            dims[d] = 1 + (int64_t)(mr_rng_u64(&rng) % 4);
        }
        for (int d = nd - 1; d > 0; d--) {
            int j = (int)(mr_rng_u64(&rng) % (uint64_t)(d + 1)), t = perm[d];
            perm[d] = perm[j];
            perm[j] = t;
        }
        transpose_case(it % 2 ? MR_DTYPE_I64 : MR_DTYPE_F32, nd, dims, perm, 0);
    }
    /* Bad perms. */
    int64_t bad[4][4] = {{0, 1, 1}, {0, 1, 3}, {0, -1, 2}, {1, 0}};
    int nbad[4] = {3, 3, 3, 2};
    for (int c = 0; c < 4; c++) {
        mr_graph *g = mr_test_new_graph(13);
        tens x = make_rand(MR_DTYPE_F32, 3, (int64_t[]){2, 3, 4});
        int in = add_const(g, "x", &x), out;
        int node = add_node(g, "tr", "Transpose", 1, &in, &out);
        set_ints(g, node, "perm", nbad[c], bad[c]);
        check_fails(g, node, 1, MR_ERR_SHAPE, "Transpose node 'tr'", "bad perm");
        free_t(&x);
        mr_graph_destroy(g);
    }
}

/* ---- Gather ---- */

static tens ref_gather(const tens *x, const tens *ind, int axis) {
    int64_t dims[MR_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < axis; d++) dims[nd++] = x->dims[d];
    for (int d = 0; d < ind->nd; d++) dims[nd++] = ind->dims[d];
    for (int d = axis + 1; d < x->nd; d++) dims[nd++] = x->dims[d];
    tens y = make_empty(x->dt, nd, dims);
    int64_t oi[MR_MAX_DIMS], ii[MR_MAX_DIMS], ji[MR_MAX_DIMS];
    for (int64_t o = 0; o < y.numel; o++) {
        unravel(o, nd, dims, oi);
        for (int d = 0; d < axis; d++) ii[d] = oi[d];
        for (int d = 0; d < ind->nd; d++) ji[d] = oi[axis + d];
        int64_t j = ravel(ind->nd, ind->dims, ji);
        int64_t v = ind->dt == MR_DTYPE_I64 ? ((int64_t *)ind->data)[j] : ((int32_t *)ind->data)[j];
        ii[axis] = v < 0 ? v + x->dims[axis] : v;
        for (int d = axis + 1; d < x->nd; d++) ii[d] = oi[d - 1 + ind->nd];
        copy_elem(&y, o, x, ravel(x->nd, x->dims, ii));
    }
    return y;
}

static tens rand_indices(mr_dtype dt, int nd, const int64_t *dims, int64_t dim) {
    tens t = make_empty(dt, nd, dims);
    for (int64_t i = 0; i < t.numel; i++) {
        /* [-dim, dim): negative ones count from the end. */
        int64_t v = (int64_t)(mr_rng_u64(&rng) % (uint64_t)(2 * dim)) - dim;
        if (dt == MR_DTYPE_I64)
            ((int64_t *)t.data)[i] = v;
        else
            ((int32_t *)t.data)[i] = (int32_t)v;
    }
    return t;
}

static void test_gather(void) {
    for (int it = 0; it < 60; it++) {
        int nd = 1 + (int)(mr_rng_u64(&rng) % 4), qd = (int)(mr_rng_u64(&rng) % 3);
        int axis = (int)(mr_rng_u64(&rng) % (uint64_t)nd);
        int64_t dims[MR_MAX_DIMS], qdims[MR_MAX_DIMS];
        for (int d = 0; d < nd; d++) dims[d] = 1 + (int64_t)(mr_rng_u64(&rng) % 5);
        for (int d = 0; d < qd; d++) qdims[d] = 1 + (int64_t)(mr_rng_u64(&rng) % 4);
        if (it == 0) { /* several blocks, rows of 1020 bytes: blocks end mid-row */
            nd = 2, axis = 0, qd = 1;
            dims[0] = 1000, dims[1] = 255, qdims[0] = 700;
        } else if (it == 1) { /* several blocks, rows of one element (last axis) */
            nd = 2, axis = 1, qd = 1;
            dims[0] = 300, dims[1] = 50, qdims[0] = 400;
        }
        mr_dtype dt = it % 3 == 0 ? MR_DTYPE_F32 : it % 3 == 1 ? MR_DTYPE_I64 : MR_DTYPE_I32;
        mr_dtype it_dt = it % 2 ? MR_DTYPE_I32 : MR_DTYPE_I64;
        mr_graph *g = mr_test_new_graph(13);
        tens x = make_rand(dt, nd, dims);
        tens ind = rand_indices(it_dt, qd, qdims, dims[axis]);
        int in[2] = {add_const(g, "x", &x), add_const(g, "idx", &ind)}, out;
        int node = add_node(g, "ga", "Gather", 2, in, &out);
        int dflt = axis == 0 && it % 4 == 0;
        if (!dflt) set_int(g, node, "axis", it % 2 ? axis - nd : axis);
        tens want = ref_gather(&x, &ind, axis);
        check_eval(g, node, out, &want, "Gather");
        if (it < 2) CHECK(g->nodes[node].n_blocks > 1);

        if (it < 2 || it % 5 == 0) {
            /* Run-time indices out of range give zero rows; the others are unaffected. Run
             * the prepared kernel directly on indices that were never validated. */
            const mr_node *n = &g->nodes[node];
            const mr_tensor_desc *od = &g->tensors[out];
            tens bad = make_empty(it_dt, ind.nd, ind.dims);
            memcpy(bad.data, ind.data, (size_t)ind.numel * esz(it_dt));
            int64_t oor[3] = {dims[axis], -dims[axis] - 1, INT32_MAX};
            for (int64_t j = 0; j < bad.numel; j += 2) {
                int64_t v = oor[j % 3];
                if (it_dt == MR_DTYPE_I64)
                    ((int64_t *)bad.data)[j] = v;
                else
                    ((int32_t *)bad.data)[j] = (int32_t)v;
            }
            /* Reference: good rows from ref_gather on valid copies, then zero the bad ones. */
            tens fixed = make_empty(it_dt, ind.nd, ind.dims);
            memcpy(fixed.data, bad.data, (size_t)bad.numel * esz(it_dt));
            for (int64_t j = 0; j < bad.numel; j += 2) {
                if (it_dt == MR_DTYPE_I64)
                    ((int64_t *)fixed.data)[j] = 0;
                else
                    ((int32_t *)fixed.data)[j] = 0;
            }
            tens ref = ref_gather(&x, &fixed, axis);
            int64_t inner = 1, outer = 1;
            for (int d = axis + 1; d < nd; d++) inner *= dims[d];
            for (int d = 0; d < axis; d++) outer *= dims[d];
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < bad.numel; j += 2)
                    memset(ref.data + ((o * bad.numel + j) * inner) * (int64_t)esz(dt), 0,
                           (size_t)inner * esz(dt));
            tens got = make_empty(dt, od->ndim, od->dims);
            memset(got.data, 0x5a, (size_t)got.numel * esz(dt));
            mr_step s;
            memset(&s, 0, sizeof s);
            s.op = n->op;
            s.node = n;
            s.n_in = 2;
            s.n_out = 1;
            s.in[0] = (mr_tview){x.data, x.dt, x.nd, x.dims, x.numel};
            s.in[1] = (mr_tview){bad.data, bad.dt, bad.nd, bad.dims, bad.numel};
            s.out[0] = (mr_tview){got.data, got.dt, got.nd, got.dims, got.numel};
            for (int64_t b = 0; b < n->n_blocks; b++) n->op->run_block(&s, b, NULL);
            CHECK_MSG(memcmp(got.data, ref.data, (size_t)ref.numel * esz(dt)) == 0,
                      "Gather run-time out-of-range indices (it %d)", it);
            free_t(&got);
            free_t(&ref);
            free_t(&fixed);
            free_t(&bad);
        }
        free_t(&want);
        free_t(&ind);
        free_t(&x);
        mr_graph_destroy(g);
    }
    /* Errors: out-of-range constant index, bad axis, float indices, scalar data. */
    for (int form = 0; form < 5; form++) {
        mr_graph *g = mr_test_new_graph(13);
        tens x = form == 4 ? make_rand(MR_DTYPE_F32, 0, NULL)
                           : make_rand(MR_DTYPE_F32, 2, (int64_t[]){4, 3});
        int64_t two = 2;
        tens ind = form == 3 ? make_rand(MR_DTYPE_F32, 1, &two) : make_empty(MR_DTYPE_I64, 1, &two);
        if (form == 0) ((int64_t *)ind.data)[1] = 4;
        if (form == 1) ((int64_t *)ind.data)[0] = -5;
        int in[2] = {add_const(g, "x", &x), add_const(g, "idx", &ind)}, out;
        int node = add_node(g, "ga", "Gather", 2, in, &out);
        if (form == 2) set_int(g, node, "axis", 2);
        check_fails(g, node, 1, MR_ERR_SHAPE, "Gather node 'ga'", "Gather bad");
        free_t(&ind);
        free_t(&x);
        mr_graph_destroy(g);
    }
    /* Run-time indices pass infer. */
    {
        mr_graph *g = mr_test_new_graph(13);
        tens x = make_rand(MR_DTYPE_F32, 2, (int64_t[]){4, 3});
        int64_t qd[2] = {2, 5};
        int in[2] = {add_const(g, "x", &x), add_runtime(g, "idx", MR_DTYPE_I32, 2, qd)}, out;
        int node = add_node(g, "ga", "Gather", 2, in, &out);
        set_int(g, node, "axis", -1);
        mr_err err;
        mr_err_clear(&err);
        CHECK_STATUS(infer_only(g, node, &err), MR_OK, err.msg, NULL);
        const mr_tensor_desc *o = &g->tensors[out];
        CHECK(o->ndim == 3 && o->dims[0] == 4 && o->dims[1] == 2 && o->dims[2] == 5);
        free_t(&x);
        mr_graph_destroy(g);
    }
}

/* ---- Slice ---- */

/* The indices Slice selects from a dim of length `dim`, written from the ONNX spec's text and
 * enumerated with an explicit loop. Negative starts/ends get dim added; then the start is
 * clamped to [0, dim] (positive step) or [0, dim-1] (negative step), the end to [0, dim] or
 * [-1, dim-1]. (This differs from numpy in one corner: a start still below 0 with a negative
 * step selects element 0, where numpy selects nothing; onnxruntime follows the spec.) */
static int64_t spec_slice(int64_t dim, int64_t start, int64_t stop, int64_t step, int64_t *list) {
    if (dim == 0) return 0;
    if (start < 0) start += dim;
    if (stop < 0) stop += dim;
    int64_t slo = 0, shi = step > 0 ? dim : dim - 1, elo = step > 0 ? 0 : -1, ehi = shi;
    start = start < slo ? slo : start > shi ? shi : start;
    stop = stop < elo ? elo : stop > ehi ? ehi : stop;
    int64_t c = 0;
    for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
        list[c++] = i;
        if (step >= dim || step <= -dim) break; /* the next one is past the end */
        i += step;
    }
    return c;
}

typedef struct slice_spec {
    int n;
    int64_t starts[MR_MAX_DIMS], ends[MR_MAX_DIMS], axes[MR_MAX_DIMS], steps[MR_MAX_DIMS];
    int has_axes, has_steps;
} slice_spec;

static tens ref_slice(const tens *x, const slice_spec *sp) {
    static int64_t lists[MR_MAX_DIMS][64];
    int64_t dims[MR_MAX_DIMS];
    for (int d = 0; d < x->nd; d++) {
        dims[d] = x->dims[d];
        for (int64_t i = 0; i < dims[d]; i++) lists[d][i] = i;
    }
    for (int i = 0; i < sp->n; i++) {
        int64_t a = sp->has_axes ? sp->axes[i] : i;
        if (a < 0) a += x->nd;
        dims[a] = spec_slice(x->dims[a], sp->starts[i], sp->ends[i],
                             sp->has_steps ? sp->steps[i] : 1, lists[a]);
    }
    tens y = make_empty(x->dt, x->nd, dims);
    int64_t oi[MR_MAX_DIMS], ii[MR_MAX_DIMS];
    for (int64_t o = 0; o < y.numel; o++) {
        unravel(o, y.nd, dims, oi);
        for (int d = 0; d < x->nd; d++) ii[d] = lists[d][oi[d]];
        copy_elem(&y, o, x, ravel(x->nd, x->dims, ii));
    }
    return y;
}

/* Builds a Slice node: opset < 10 uses attributes, else constant inputs of `idt`. */
static int slice_node(mr_graph *g, int opset, int x, const slice_spec *sp, mr_dtype idt, int *out) {
    if (opset < 10) {
        int node = add_node(g, "sl", "Slice", 1, &x, out);
        set_ints(g, node, "starts", sp->n, sp->starts);
        set_ints(g, node, "ends", sp->n, sp->ends);
        if (sp->has_axes) set_ints(g, node, "axes", sp->n, sp->axes);
        return node;
    }
    int in[5] = {x, add_ints(g, "starts", idt, sp->n, sp->starts),
                 add_ints(g, "ends", idt, sp->n, sp->ends), -1, -1};
    int n_in = 3;
    if (sp->has_axes) in[3] = add_ints(g, "axes", idt, sp->n, sp->axes), n_in = 4;
    if (sp->has_steps) in[4] = add_ints(g, "steps", idt, sp->n, sp->steps), n_in = 5;
    return add_node(g, "sl", "Slice", n_in, in, out);
}

static int64_t rand_bound(int64_t dim) {
    switch (mr_rng_u64(&rng) % 8) {
    case 0:
        return INT64_MAX;
    case 1:
        return INT64_MIN;
    case 2:
        return dim + 3;
    case 3:
        return -dim - 3;
    default:
        return (int64_t)(mr_rng_u64(&rng) % (uint64_t)(2 * dim + 3)) - dim - 1;
    }
}

static void test_slice(void) {
    for (int it = 0; it < 300; it++) {
        int opset = it % 5 == 0 ? 9 : 13;
        int nd = 1 + (int)(mr_rng_u64(&rng) % 4);
        int64_t dims[MR_MAX_DIMS];
        for (int d = 0; d < nd; d++) dims[d] = (int64_t)(mr_rng_u64(&rng) % 7) + (it % 17 ? 1 : 0);
        if (it == 1) { /* several blocks */
            nd = 3;
            dims[0] = 40, dims[1] = 50, dims[2] = 60;
        }
        slice_spec sp;
        memset(&sp, 0, sizeof sp);
        /* A random subset of the axes in random order. */
        int order[MR_MAX_DIMS];
        for (int d = 0; d < nd; d++) order[d] = d;
        for (int d = nd - 1; d > 0; d--) {
            int j = (int)(mr_rng_u64(&rng) % (uint64_t)(d + 1)), t = order[d];
            order[d] = order[j];
            order[j] = t;
        }
        sp.n = 1 + (int)(mr_rng_u64(&rng) % (uint64_t)nd);
        sp.has_axes = it % 3 != 0;
        sp.has_steps = opset >= 10 && it % 2 == 0;
        for (int i = 0; i < sp.n; i++) {
            int a = sp.has_axes ? order[i] : i;
            sp.axes[i] = (mr_rng_u64(&rng) & 1) ? a - nd : a;
            sp.starts[i] = rand_bound(dims[a]);
            sp.ends[i] = rand_bound(dims[a]);
            int64_t steps[8] = {1, 2, 3, -1, -2, -3, INT64_MAX, INT64_MIN};
            sp.steps[i] = steps[mr_rng_u64(&rng) % 8];
        }
        if (it == 1) {
            sp.n = 2, sp.has_axes = 1, sp.has_steps = 1;
            sp.axes[0] = 2, sp.starts[0] = -2, sp.ends[0] = INT64_MIN, sp.steps[0] = -1;
            sp.axes[1] = 0, sp.starts[1] = 1, sp.ends[1] = 1000, sp.steps[1] = 1;
        }
        mr_dtype idt = it % 4 == 1 ? MR_DTYPE_I32 : MR_DTYPE_I64;
        if (idt == MR_DTYPE_I32) /* int32 inputs: the extremes become INT32_MIN/MAX */
            for (int i = 0; i < sp.n; i++) {
                int64_t *v[3] = {&sp.starts[i], &sp.ends[i], &sp.steps[i]};
                for (int k = 0; k < 3; k++)
                    *v[k] = *v[k] < INT32_MIN ? INT32_MIN : *v[k] > INT32_MAX ? INT32_MAX : *v[k];
            }
        mr_dtype dt = it % 3 == 0 ? MR_DTYPE_F32 : it % 3 == 1 ? MR_DTYPE_I64 : MR_DTYPE_I32;
        mr_graph *g = mr_test_new_graph(opset);
        tens x = make_rand(dt, nd, dims);
        int xi = add_const(g, "x", &x), out;
        int node = slice_node(g, opset, xi, &sp, idt, &out);
        tens want = ref_slice(&x, &sp);
        char what[64];
        snprintf(what, sizeof what, "Slice it %d opset %d", it, opset);
        check_eval(g, node, out, &want, what);
        if (it == 1) CHECK(g->nodes[node].n_blocks > 1);
        free_t(&want);
        free_t(&x);
        mr_graph_destroy(g);
    }
    /* The golden case test_slice_neg_steps: [20,10,5], starts [20,10,4], ends [0,0,1],
     * steps [-1,-3,-2] -> [19,3,2]. */
    {
        mr_graph *g = mr_test_new_graph(13);
        tens x = make_rand(MR_DTYPE_F32, 3, (int64_t[]){20, 10, 5});
        slice_spec sp = {3, {20, 10, 4}, {0, 0, 1}, {0, 1, 2}, {-1, -3, -2}, 1, 1};
        int xi = add_const(g, "x", &x), out;
        int node = slice_node(g, 13, xi, &sp, MR_DTYPE_I64, &out);
        tens want = ref_slice(&x, &sp);
        CHECK(want.dims[0] == 19 && want.dims[1] == 3 && want.dims[2] == 2);
        check_eval(g, node, out, &want, "Slice neg steps");
        free_t(&want);
        free_t(&x);
        mr_graph_destroy(g);
    }
    /* Errors. */
    for (int form = 0; form < 6; form++) {
        mr_graph *g = mr_test_new_graph(13);
        tens x = make_rand(MR_DTYPE_F32, 3, (int64_t[]){4, 5, 6});
        slice_spec sp = {2, {0, 0}, {2, 2}, {0, 1}, {1, 1}, 1, 1};
        if (form == 0) sp.axes[1] = -3; /* repeated axis */
        if (form == 1) sp.steps[1] = 0; /* zero step */
        if (form == 2) sp.axes[1] = 3;  /* axis out of range */
        int xi = add_const(g, "x", &x), out, node;
        if (form == 3) {
            /* starts computed at run time */
            int64_t two = 2;
            int in[3] = {xi, add_runtime(g, "starts", MR_DTYPE_I64, 1, &two),
                         add_i64(g, "ends", 2, sp.ends)};
            node = add_node(g, "sl", "Slice", 3, in, &out);
        } else if (form == 4) {
            /* length mismatch */
            int in[3] = {xi, add_i64(g, "starts", 2, sp.starts), add_i64(g, "ends", 1, sp.ends)};
            node = add_node(g, "sl", "Slice", 3, in, &out);
        } else if (form == 5) {
            /* float starts */
            int64_t two = 2;
            tens fs = make_rand(MR_DTYPE_F32, 1, &two);
            int in[3] = {xi, add_const(g, "starts", &fs), add_i64(g, "ends", 2, sp.ends)};
            node = add_node(g, "sl", "Slice", 3, in, &out);
            free_t(&fs);
        } else {
            node = slice_node(g, 13, xi, &sp, MR_DTYPE_I64, &out);
        }
        check_fails(g, node, 0, form == 3 ? MR_ERR_UNSUPPORTED : MR_ERR_SHAPE, "Slice node 'sl'",
                    "Slice bad");
        free_t(&x);
        mr_graph_destroy(g);
    }
    /* Opset 9 with a repeated axis attribute. */
    {
        mr_graph *g = mr_test_new_graph(9);
        tens x = make_rand(MR_DTYPE_F32, 2, (int64_t[]){4, 5});
        slice_spec sp = {2, {0, 0}, {2, 2}, {1, -1}, {1, 1}, 1, 0};
        int xi = add_const(g, "x", &x), out;
        int node = slice_node(g, 9, xi, &sp, MR_DTYPE_I64, &out);
        check_fails(g, node, 1, MR_ERR_SHAPE, "Slice node 'sl'", "Slice-1 repeated axis");
        free_t(&x);
        mr_graph_destroy(g);
    }
}

int main(void) {
    mr_rng_seed(&rng, 20240611);
    test_shape();
    test_reshape();
    test_flatten();
    test_squeeze_unsqueeze();
    test_identity_dropout();
    test_constant();
    test_concat();
    test_transpose();
    test_gather();
    test_slice();
    return mr_test_finish("ops_shape");
}
