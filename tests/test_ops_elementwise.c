/* Elementwise ops (src/ops/activation.c, src/ops/binary.c) and the activation helpers
 * mr_act_apply / mr_act_from_node, against naive references written here in double
 * precision, on random inputs.
 *
 * Tolerances:
 *  - Relu, Clip, LeakyRelu, Add, Sub, Mul, Div (float32): exact. Each is one IEEE operation
 *    (or a select) on float operands; the double reference rounded to float is the correctly
 *    rounded result (a product of two floats is exact in double; the sums and quotients here
 *    are of operands of similar magnitude, where double then float rounding cannot differ).
 *  - Integer Add/Sub/Mul/Div: exact.
 *  - Sigmoid, Tanh: rtol 1e-5, atol 1e-6. The kernels use the polynomial exp of
 *    src/ops/vmath.h (within 2 ulp) and a few more float operations, so a few ulp (~1e-6
 *    relative) is expected; atol covers results that round to or near 0.
 *
 * Every case is also re-run with its logical blocks in a random order on NaN-filled outputs
 * and must be bit-identical (blocks are independent and write every output element).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/ir.h"
#include "ops/op.h"
#include "testutil.h"

static mr_rng rng;

/* ---- unary activations ---- */

static double ref_act(mr_act_kind k, double x, double a, double b) {
    switch (k) {
    case MR_ACT_RELU:
        return x < 0 ? 0 : x;
    case MR_ACT_LEAKY_RELU:
        return x < 0 ? a * x : x;
    case MR_ACT_CLIP:
        return fmin(fmax(x, a), b); /* numpy: max wins when min > max */
    case MR_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case MR_ACT_TANH:
        return tanh(x);
    default:
        return x;
    }
}

static int act_exact(mr_act_kind k) {
    return k != MR_ACT_SIGMOID && k != MR_ACT_TANH;
}

static int compare_act(const float *y, const float *x, int64_t n, mr_act_kind k, double a, double b,
                       const char *label) {
    int ok = 1;
    int64_t worst = -1;
    double wd = 0;
    for (int64_t i = 0; i < n; i++) {
        double r = ref_act(k, x[i], a, b);
        double d = fabs((double)y[i] - r);
        int good = act_exact(k) ? y[i] == (float)r : d <= 1e-6 + 1e-5 * fabs(r);
        if (isnan(r)) good = isnan(y[i]);
        if (!good) ok = 0;
        if (!good && (worst < 0 || d > wd)) {
            worst = i;
            wd = d;
        }
    }
    CHECK_MSG(ok, "%s: x[%lld] = %.9g: got %.9g, want %.9g", label, (long long)worst,
              worst >= 0 ? x[worst] : 0.0, worst >= 0 ? y[worst] : 0.0,
              worst >= 0 ? ref_act(k, x[worst], a, b) : 0.0);
    return ok;
}

/* Runs a unary op on x (given shape), with optional attribute/inputs set up by the caller
 * through `setup`, and compares with ref_act(kind, ., a, b). */
static void unary_case(const char *op, mr_act_kind kind, int opset, int ndim, const int64_t *dims,
                       float lo, float hi, double a, double b,
                       void (*setup)(mr_graph *, int, void *), void *ctx, int n_extra,
                       const int *extra_in) {
    char label[128];
    snprintf(label, sizeof label, "%s opset %d numel %lld", op, opset,
             (long long)mr_test_numel(ndim, dims));
    mr_graph *g = mr_test_new_graph(opset);
    int64_t n = mr_test_numel(ndim, dims);
    float *x = malloc((size_t)n * sizeof *x + 4);
    mr_rng_fill(&rng, x, n, lo, hi);
    int in[3] = {mr_test_add_const(g, "x", MR_DTYPE_F32, ndim, dims, x), -1, -1};
    for (int i = 0; i < n_extra; i++) in[1 + i] = extra_in[i];
    int out, node = mr_test_add_node(g, "act_node", op, 1 + n_extra, in, 1, &out);
    if (setup) setup(g, node, ctx);
    if (mr_test_eval_ok(&rng, g, node, label)) {
        const mr_tensor_desc *y = &g->tensors[out];
        CHECK(y->ndim == ndim && y->dtype == MR_DTYPE_F32);
        for (int k = 0; k < ndim && k < y->ndim; k++) CHECK(y->dims[k] == dims[k]);
        compare_act(y->data, x, n, kind, a, b, label);
    }
    free(x);
    mr_graph_destroy(g);
}

static void set_alpha(mr_graph *g, int node, void *ctx) {
    mr_err err;
    CHECK(mr_node_set_float(g, node, "alpha", *(float *)ctx, &err) == MR_OK);
}

static void set_min_max(mr_graph *g, int node, void *ctx) {
    mr_err err;
    const float *mm = ctx;
    CHECK(mr_node_set_float(g, node, "min", mm[0], &err) == MR_OK);
    CHECK(mr_node_set_float(g, node, "max", mm[1], &err) == MR_OK);
}

static void test_unary(void) {
    const int64_t small[] = {3, 5, 7};     /* one block, not a vector multiple */
    const int64_t big[] = {2, 64, 31, 17}; /* 67456: three blocks, last partial */
    const int64_t scalar[] = {1};
    const int64_t *shapes[] = {small, big};
    const int ranks[] = {3, 4};
    for (int s = 0; s < 2; s++) {
        int r = ranks[s];
        const int64_t *d = shapes[s];
        unary_case("Relu", MR_ACT_RELU, 13, r, d, -4, 4, 0, 0, NULL, NULL, 0, NULL);
        unary_case("Sigmoid", MR_ACT_SIGMOID, 13, r, d, -12, 12, 0, 0, NULL, NULL, 0, NULL);
        unary_case("Tanh", MR_ACT_TANH, 13, r, d, -6, 6, 0, 0, NULL, NULL, 0, NULL);
        unary_case("Tanh", MR_ACT_TANH, 13, r, d, -0.7f, 0.7f, 0, 0, NULL, NULL, 0, NULL);
        unary_case("LeakyRelu", MR_ACT_LEAKY_RELU, 13, r, d, -4, 4, 0.01f, 0, NULL, NULL, 0, NULL);
        float alpha = 0.2f;
        unary_case("LeakyRelu", MR_ACT_LEAKY_RELU, 13, r, d, -4, 4, alpha, 0, set_alpha, &alpha, 0,
                   NULL);
    }
    unary_case("Relu", MR_ACT_RELU, 13, 0, scalar, -1, 1, 0, 0, NULL, NULL, 0, NULL);
    unary_case("Sigmoid", MR_ACT_SIGMOID, 13, 1, scalar, -1, 1, 0, 0, NULL, NULL, 0, NULL);

    /* Clip, opset 6: attributes, with defaults -FLT_MAX / FLT_MAX. */
    float mm[2] = {-0.5f, 1.25f};
    unary_case("Clip", MR_ACT_CLIP, 6, 3, small, -3, 3, mm[0], mm[1], set_min_max, mm, 0, NULL);
    unary_case("Clip", MR_ACT_CLIP, 6, 4, big, -3, 3, mm[0], mm[1], set_min_max, mm, 0, NULL);
    unary_case("Clip", MR_ACT_CLIP, 6, 3, small, -3, 3, -FLT_MAX, FLT_MAX, NULL, NULL, 0, NULL);
    /* min > max: every value becomes max (numpy's clip; ONNX opset 13 states it). */
    float inv[2] = {1.0f, -1.0f};
    unary_case("Clip", MR_ACT_CLIP, 6, 3, small, -3, 3, inv[0], inv[1], set_min_max, inv, 0, NULL);

    /* Clip, opset 11 and 13: bounds as inputs; each may be omitted. The inputs are built in
     * the same graph as x, so build the graphs by hand. */
    for (int opset = 11; opset <= 13; opset += 2) {
        for (int mode = 0; mode < 4; mode++) {
            /* mode 0: both; 1: min only; 2: max only (min omitted as ""); 3: none */
            char label[96];
            snprintf(label, sizeof label, "Clip opset %d mode %d", opset, mode);
            mr_graph *g = mr_test_new_graph(opset);
            int64_t n = mr_test_numel(4, big);
            float *x = malloc((size_t)n * sizeof *x);
            mr_rng_fill(&rng, x, n, -3, 3);
            float lo = -0.75f, hi = 2.0f;
            int in[3] = {mr_test_add_const(g, "x", MR_DTYPE_F32, 4, big, x), -1, -1};
            int n_in = 1;
            if (mode == 0 || mode == 1)
                in[1] = mr_test_add_const(g, "min", MR_DTYPE_F32, 0, NULL, &lo);
            if (mode == 0 || mode == 2)
                in[2] = mr_test_add_const(g, "max", MR_DTYPE_F32, 1, scalar, &hi);
            n_in = mode == 3 ? 1 : mode == 1 ? 2 : 3;
            int out, node = mr_test_add_node(g, "clip_node", "Clip", n_in, in, 1, &out);
            double a = in[1] >= 0 ? lo : -INFINITY, b = in[2] >= 0 ? hi : INFINITY;
            if (mr_test_eval_ok(&rng, g, node, label))
                compare_act(g->tensors[out].data, x, n, MR_ACT_CLIP, a, b, label);
            free(x);
            mr_graph_destroy(g);
        }
    }

    /* Special values: NaN propagates, infinities saturate, huge arguments do not overflow. */
    {
        const float sp[] = {NAN,     INFINITY, -INFINITY, 0.0f,   -0.0f,   1e-30f, -1e-30f, 88.0f,
                            -88.0f,  89.0f,    -89.0f,    100.0f, -100.0f, 1e30f,  -1e30f,  0.625f,
                            -0.625f, 0.6249f,  9.0f,      -9.0f,  20.0f,   9.05f,  9.2f,    -9.2f};
        const int nsp = (int)(sizeof sp / sizeof sp[0]);
        const char *ops[] = {"Relu", "Sigmoid", "Tanh", "LeakyRelu"};
        const mr_act_kind kinds[] = {MR_ACT_RELU, MR_ACT_SIGMOID, MR_ACT_TANH, MR_ACT_LEAKY_RELU};
        for (int o = 0; o < 4; o++) {
            mr_graph *g = mr_test_new_graph(13);
            int64_t d = nsp;
            int in = mr_test_add_const(g, "x", MR_DTYPE_F32, 1, &d, sp);
            int out, node = mr_test_add_node(g, "special", ops[o], 1, &in, 1, &out);
            if (mr_test_eval_ok(&rng, g, node, ops[o])) {
                const float *y = g->tensors[out].data;
                compare_act(y, sp, nsp, kinds[o], (double)0.01f, 0, ops[o]);
                if (kinds[o] == MR_ACT_SIGMOID) CHECK(y[1] == 1.0f && y[2] == 0.0f);
                if (kinds[o] == MR_ACT_TANH) CHECK(y[1] == 1.0f && y[2] == -1.0f);
            }
            mr_graph_destroy(g);
        }
    }

    /* A dense sweep of sigmoid/tanh over [-20, 20], reporting the worst relative error. */
    {
        int64_t n = 400001;
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++) x[i] = -20.0f + 40.0f * (float)i / (float)(n - 1);
        const char *ops[] = {"Sigmoid", "Tanh"};
        const mr_act_kind kinds[] = {MR_ACT_SIGMOID, MR_ACT_TANH};
        for (int o = 0; o < 2; o++) {
            mr_graph *g = mr_test_new_graph(13);
            int in = mr_test_add_const(g, "x", MR_DTYPE_F32, 1, &n, x);
            int out, node = mr_test_add_node(g, "sweep", ops[o], 1, &in, 1, &out);
            if (mr_test_eval_ok(&rng, g, node, ops[o])) {
                const float *y = g->tensors[out].data;
                compare_act(y, x, n, kinds[o], 0, 0, ops[o]);
                double worst = 0;
                for (int64_t i = 0; i < n; i++) {
                    double r = ref_act(kinds[o], x[i], 0, 0);
                    if (fabs(r) > 1e-30) {
                        double e = fabs(y[i] - r) / fabs(r);
                        if (e > worst) worst = e;
                    }
                }
                /* ~4 ulp: far inside the stated tolerance, catches a broken polynomial. */
                CHECK_MSG(worst < 5e-7, "%s: worst relative error %.3g", ops[o], worst);
                printf("%s: worst relative error over [-20, 20]: %.3g\n", ops[o], worst);
            }
            mr_graph_destroy(g);
        }
        free(x);
    }
}

static void test_unary_errors(void) {
    const int64_t d[] = {2, 3};
    int64_t xi[6] = {1, -2, 3, -4, 5, -6};
    float xf[6] = {1, -2, 3, -4, 5, -6};
    const char *ops[] = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "Clip"};
    for (int o = 0; o < 5; o++) {
        mr_graph *g = mr_test_new_graph(13);
        int in = mr_test_add_const(g, "x", MR_DTYPE_I64, 2, d, xi);
        int out, node = mr_test_add_node(g, "int_act", ops[o], 1, &in, 1, &out);
        mr_test_eval_fails(g, node, MR_ERR_UNSUPPORTED, "int64");
        mr_graph_destroy(g);
    }
    /* Clip opset 13 with the old attributes. */
    {
        mr_graph *g = mr_test_new_graph(13);
        mr_err err;
        int in = mr_test_add_const(g, "x", MR_DTYPE_F32, 2, d, xf);
        int out, node = mr_test_add_node(g, "clip_attr13", "Clip", 1, &in, 1, &out);
        mr_node_set_float(g, node, "min", 0.0f, &err);
        mr_test_eval_fails(g, node, MR_ERR_UNSUPPORTED, "min");
        mr_graph_destroy(g);
    }
    /* Clip opset 6 with bound inputs. */
    {
        mr_graph *g = mr_test_new_graph(6);
        float lo = 0.0f;
        int in[2] = {mr_test_add_const(g, "x", MR_DTYPE_F32, 2, d, xf),
                     mr_test_add_const(g, "min", MR_DTYPE_F32, 0, NULL, &lo)};
        int out, node = mr_test_add_node(g, "clip_in6", "Clip", 2, in, 1, &out);
        mr_test_eval_fails(g, node, MR_ERR_GRAPH, "opset 11");
        mr_graph_destroy(g);
    }
    /* Clip opset 13: an int64 bound for float data; a non-scalar bound. */
    {
        mr_graph *g = mr_test_new_graph(13);
        int64_t lo = 0;
        int in[2] = {mr_test_add_const(g, "x", MR_DTYPE_F32, 2, d, xf),
                     mr_test_add_const(g, "min", MR_DTYPE_I64, 0, NULL, &lo)};
        int out, node = mr_test_add_node(g, "clip_i64min", "Clip", 2, in, 1, &out);
        mr_test_eval_fails(g, node, MR_ERR_SHAPE, "int64");
        mr_graph_destroy(g);
    }
    {
        mr_graph *g = mr_test_new_graph(13);
        int64_t two = 2;
        float lo[2] = {0, 1};
        int in[2] = {mr_test_add_const(g, "x", MR_DTYPE_F32, 2, d, xf),
                     mr_test_add_const(g, "min", MR_DTYPE_F32, 1, &two, lo)};
        int out, node = mr_test_add_node(g, "clip_vecmin", "Clip", 2, in, 1, &out);
        mr_test_eval_fails(g, node, MR_ERR_SHAPE, "scalar");
        mr_graph_destroy(g);
    }
    /* LeakyRelu alpha of the wrong type. */
    {
        mr_graph *g = mr_test_new_graph(13);
        mr_err err;
        int in = mr_test_add_const(g, "x", MR_DTYPE_F32, 2, d, xf);
        int out, node = mr_test_add_node(g, "leaky_int_alpha", "LeakyRelu", 1, &in, 1, &out);
        mr_node_set_int(g, node, "alpha", 1, &err);
        mr_err_clear(&err);
        CHECK(mr_node_eval(g, node, &err) != MR_OK);
        CHECK_MSG(strstr(err.msg, "alpha") != NULL, "message: %s", err.msg);
        mr_graph_destroy(g);
    }
}

/* ---- mr_act_apply / mr_act_from_node ---- */

static void test_act_apply(void) {
    const int64_t n = 1027; /* not a multiple of any vector width */
    float *x = malloc((size_t)(n + 1) * sizeof *x), *y = malloc((size_t)(n + 1) * sizeof *y);
    mr_rng_fill(&rng, x, n + 1, -8, 8);
    const mr_act acts[] = {{MR_ACT_RELU, 0, 0},        {MR_ACT_CLIP, 0.0f, 6.0f},
                           {MR_ACT_CLIP, -1.5f, 0.5f}, {MR_ACT_LEAKY_RELU, 0.1f, 0},
                           {MR_ACT_SIGMOID, 0, 0},     {MR_ACT_TANH, 0, 0}};
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        char label[64];
        snprintf(label, sizeof label, "mr_act_apply kind %d", (int)acts[k].kind);
        /* In place, from an unaligned start (x + 1). */
        memcpy(y, x, (size_t)(n + 1) * sizeof *y);
        mr_act_apply(&acts[k], y + 1, n);
        CHECK_MSG(y[0] == x[0], "%s wrote before its range", label);
        compare_act(y + 1, x + 1, n, acts[k].kind, acts[k].alpha, acts[k].beta, label);
    }
    /* NONE, and n = 0, leave data untouched. */
    memcpy(y, x, (size_t)n * sizeof *y);
    mr_act none = {MR_ACT_NONE, 0, 0}, relu = {MR_ACT_RELU, 0, 0};
    mr_act_apply(&none, y, n);
    mr_act_apply(&relu, y, 0);
    CHECK(memcmp(x, y, (size_t)n * sizeof *y) == 0);
    free(x);
    free(y);
}

static void test_act_from_node(void) {
    mr_err err;
    const int64_t d[] = {4};
    const float xf[4] = {1, 2, 3, 4};
    mr_act act;
    /* Simple kinds. */
    {
        mr_graph *g = mr_test_new_graph(13);
        int x = mr_test_add_const(g, "x", MR_DTYPE_F32, 1, d, xf);
        const char *ops[] = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "Add", "Softmax"};
        const int want[] = {MR_ACT_RELU, MR_ACT_SIGMOID, MR_ACT_TANH, MR_ACT_LEAKY_RELU, -1, -1};
        for (int o = 0; o < 6; o++) {
            int in[2] = {x, x}, out = mr_graph_add_tensor(g, NULL, &err);
            int node = mr_graph_add_node(g, ops[o], ops[o], o == 4 ? 2 : 1, in, 1, &out, &err);
            memset(&act, 0, sizeof act);
            int r = mr_act_from_node(g, &g->nodes[node], &act);
            CHECK_MSG(r == (want[o] >= 0), "%s: mr_act_from_node returned %d", ops[o], r);
            if (want[o] >= 0) CHECK_MSG((int)act.kind == want[o], "%s: kind %d", ops[o], act.kind);
            if (want[o] == MR_ACT_LEAKY_RELU) CHECK(act.alpha == 0.01f);
        }
        int out = mr_graph_add_tensor(g, NULL, &err);
        int node = mr_graph_add_node(g, "leaky2", "LeakyRelu", 1, &x, 1, &out, &err);
        mr_node_set_float(g, node, "alpha", 0.3f, &err);
        CHECK(mr_act_from_node(g, &g->nodes[node], &act) && act.kind == MR_ACT_LEAKY_RELU &&
              act.alpha == 0.3f);
        /* Another domain is not ours. */
        out = mr_graph_add_tensor(g, NULL, &err);
        node = mr_graph_add_node(g, "relu_ms", "Relu", 1, &x, 1, &out, &err);
        free(g->nodes[node].domain);
        g->nodes[node].domain = mr_strdup("com.microsoft", &err);
        CHECK(!mr_act_from_node(g, &g->nodes[node], &act));
        mr_graph_destroy(g);
    }
    /* Clip, opset 6: attributes with defaults. */
    {
        mr_graph *g = mr_test_new_graph(6);
        int x = mr_test_add_const(g, "x", MR_DTYPE_F32, 1, d, xf);
        int out = mr_graph_add_tensor(g, NULL, &err);
        int node = mr_graph_add_node(g, "clip6", "Clip", 1, &x, 1, &out, &err);
        mr_node_set_float(g, node, "max", 6.0f, &err);
        CHECK(mr_act_from_node(g, &g->nodes[node], &act) && act.kind == MR_ACT_CLIP &&
              act.alpha == -FLT_MAX && act.beta == 6.0f);
        mr_graph_destroy(g);
    }
    /* Clip, opset 13: constant, omitted and runtime bounds. */
    {
        mr_graph *g = mr_test_new_graph(13);
        float zero = 0.0f, six = 6.0f;
        int x = mr_test_add_const(g, "x", MR_DTYPE_F32, 1, d, xf);
        int lo = mr_test_add_const(g, "lo", MR_DTYPE_F32, 0, NULL, &zero);
        int hi = mr_test_add_const(g, "hi", MR_DTYPE_F32, 0, NULL, &six);
        int rt = mr_graph_add_tensor(g, "runtime_min", &err); /* no data: computed at run time */
        int in[3] = {x, lo, hi};
        int out = mr_graph_add_tensor(g, NULL, &err);
        int node = mr_graph_add_node(g, "relu6", "Clip", 3, in, 1, &out, &err);
        CHECK(mr_act_from_node(g, &g->nodes[node], &act) && act.kind == MR_ACT_CLIP &&
              act.alpha == 0.0f && act.beta == 6.0f);
        int in2[3] = {x, -1, hi};
        out = mr_graph_add_tensor(g, NULL, &err);
        node = mr_graph_add_node(g, "maxonly", "Clip", 3, in2, 1, &out, &err);
        CHECK(mr_act_from_node(g, &g->nodes[node], &act) && act.kind == MR_ACT_CLIP &&
              act.alpha == -INFINITY && act.beta == 6.0f);
        out = mr_graph_add_tensor(g, NULL, &err);
        node = mr_graph_add_node(g, "nobounds", "Clip", 1, &x, 1, &out, &err);
        CHECK(mr_act_from_node(g, &g->nodes[node], &act) && act.alpha == -INFINITY &&
              act.beta == INFINITY);
        int in3[2] = {x, rt};
        out = mr_graph_add_tensor(g, NULL, &err);
        node = mr_graph_add_node(g, "rtmin", "Clip", 2, in3, 1, &out, &err);
        CHECK(!mr_act_from_node(g, &g->nodes[node], &act));
        mr_graph_destroy(g);
    }
}

/* ---- binary ops ---- */

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };
static const char *const bin_names[] = {"Add", "Sub", "Mul", "Div"};

static double ref_f(int op, double a, double b) {
    switch (op) {
    case OP_ADD:
        return a + b;
    case OP_SUB:
        return a - b;
    case OP_MUL:
        return a * b;
    default:
        return a / b;
    }
}

/* Integer reference on int64 values that do not overflow (the wrap case is tested apart):
 * truncating division written without C's `/` on negative numbers. */
static int64_t ref_i(int op, int64_t a, int64_t b) {
    switch (op) {
    case OP_ADD:
        return a + b;
    case OP_SUB:
        return a - b;
    case OP_MUL:
        return a * b;
    default: {
        if (b == 0) return 0;
        uint64_t ua = a < 0 ? 0u - (uint64_t)a : (uint64_t)a;
        uint64_t ub = b < 0 ? 0u - (uint64_t)b : (uint64_t)b;
        uint64_t q = ua / ub;
        return (a < 0) != (b < 0) ? -(int64_t)q : (int64_t)q;
    }
    }
}

/* Flat index into an input of rank na aligned to the output of rank r at coordinates c. */
static int64_t bcast_index(int r, const int64_t *c, int na, const int64_t *ad) {
    int64_t idx = 0;
    for (int k = 0; k < na; k++) {
        int64_t ck = c[r - na + k];
        idx = idx * ad[k] + (ad[k] == 1 ? 0 : ck);
    }
    return idx;
}

static void fill_dtype(mr_dtype dt, void *p, int64_t n, int nonzero) {
    for (int64_t i = 0; i < n; i++) {
        if (dt == MR_DTYPE_F32) {
            /* magnitudes in [0.5, 2]: never zero, similar exponents */
            float v = mr_rng_uniform(&rng, 0.5f, 2.0f);
            ((float *)p)[i] = (mr_rng_u64(&rng) & 1) ? -v : v;
        } else {
            int64_t v = (int64_t)(mr_rng_u64(&rng) % 2001) - 1000;
            if (nonzero && v == 0) v = 7;
            if (dt == MR_DTYPE_I64)
                ((int64_t *)p)[i] = v;
            else
                ((int32_t *)p)[i] = (int32_t)v;
        }
    }
}

static double get_d(mr_dtype dt, const void *p, int64_t i) {
    if (dt == MR_DTYPE_F32) return ((const float *)p)[i];
    if (dt == MR_DTYPE_I64) return (double)((const int64_t *)p)[i];
    return ((const int32_t *)p)[i];
}

static void binary_case(int op, mr_dtype dt, int na, const int64_t *ad, int nb, const int64_t *bd) {
    char sa[64], sb[64], label[200];
    snprintf(label, sizeof label, "%s %s %s %s", bin_names[op], mr_dtype_name(dt),
             mr_dims_str(na, ad, sa, sizeof sa), mr_dims_str(nb, bd, sb, sizeof sb));
    size_t es = mr_dtype_size(dt);
    int64_t nae = mr_test_numel(na, ad), nbe = mr_test_numel(nb, bd);
    void *a = malloc((size_t)nae * es + 8), *b = malloc((size_t)nbe * es + 8);
    fill_dtype(dt, a, nae, 0);
    fill_dtype(dt, b, nbe, 0); /* zeros in integer divisors are exercised: result 0 */
    mr_graph *g = mr_test_new_graph(13);
    int in[2] = {mr_test_add_const(g, "a", dt, na, ad, a),
                 mr_test_add_const(g, "b", dt, nb, bd, b)};
    int out, node = mr_test_add_node(g, "bin_node", bin_names[op], 2, in, 1, &out);
    if (mr_test_eval_ok(&rng, g, node, label)) {
        const mr_tensor_desc *y = &g->tensors[out];
        int r = na > nb ? na : nb;
        int64_t od[MR_MAX_DIMS];
        for (int k = 0; k < r; k++) {
            int64_t da = k < r - na ? 1 : ad[k - (r - na)], db = k < r - nb ? 1 : bd[k - (r - nb)];
            od[k] = da > db ? da : db;
            if (da == 0 || db == 0) od[k] = 0;
        }
        int shape_ok = y->ndim == r && y->dtype == dt;
        for (int k = 0; k < r && shape_ok; k++) shape_ok = y->dims[k] == od[k];
        CHECK_MSG(shape_ok, "%s: wrong output shape %s", label,
                  mr_dims_str(y->ndim, y->dims, sa, sizeof sa));
        int64_t no = mr_test_numel(r, od), bad = -1;
        int64_t c[MR_MAX_DIMS];
        for (int64_t i = 0; i < no && shape_ok; i++) {
            int64_t rem = i;
            for (int k = r - 1; k >= 0; k--) {
                c[k] = rem % od[k];
                rem /= od[k];
            }
            int64_t ia = bcast_index(r, c, na, ad), ib = bcast_index(r, c, nb, bd);
            int good;
            if (dt == MR_DTYPE_F32) {
                float want = (float)ref_f(op, get_d(dt, a, ia), get_d(dt, b, ib));
                good = ((const float *)y->data)[i] == want;
            } else {
                int64_t want = ref_i(op, (int64_t)get_d(dt, a, ia), (int64_t)get_d(dt, b, ib));
                good = (int64_t)get_d(dt, y->data, i) == want;
            }
            if (!good && bad < 0) bad = i;
        }
        CHECK_MSG(bad < 0, "%s: first mismatch at output element %lld", label, (long long)bad);
    }
    free(a);
    free(b);
    mr_graph_destroy(g);
}

static void test_binary(void) {
    /* Pairs of shapes covering every broadcasting pattern. */
    static const struct {
        int na;
        int64_t a[5];
        int nb;
        int64_t b[5];
    } cases[] = {
        {3, {3, 4, 5}, 3, {3, 4, 5}},           /* same shape */
        {0, {0}, 3, {3, 4, 5}},                 /* scalar op tensor */
        {3, {3, 4, 5}, 0, {0}},                 /* tensor op scalar */
        {3, {3, 4, 5}, 1, {1}},                 /* one-element 1-D */
        {4, {2, 16, 9, 11}, 4, {1, 16, 1, 1}},  /* per-channel */
        {3, {16, 1, 1}, 4, {2, 16, 9, 11}},     /* per-channel on the left, lower rank */
        {2, {5, 7}, 1, {7}},                    /* row vector */
        {2, {5, 7}, 2, {5, 1}},                 /* column vector */
        {2, {5, 1}, 2, {1, 7}},                 /* outer product */
        {4, {2, 1, 4, 1}, 3, {3, 1, 5}},        /* both broadcast, interleaved */
        {4, {2, 64, 33, 17}, 3, {64, 1, 17}},   /* general, several blocks */
        {4, {4, 32, 28, 28}, 4, {1, 32, 1, 1}}, /* per-channel, several blocks */
        {2, {70000, 1}, 1, {1}},                /* scalar, several blocks */
        {2, {3, 1}, 3, {2, 1, 1}},              /* only broadcasting dims */
        {5, {1, 1, 1, 1, 1}, 1, {1}},           /* one element, high rank */
        {2, {0, 3}, 1, {3}},                    /* empty */
    };
    const mr_dtype dts[] = {MR_DTYPE_F32, MR_DTYPE_I64, MR_DTYPE_I32};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int op = 0; op < 4; op++)
            for (int t = 0; t < 3; t++) {
                /* The large cases once per op in float is enough for the block logic. */
                if (mr_test_numel(cases[c].na, cases[c].a) > 20000 && t > 0 && op != OP_DIV)
                    continue;
                binary_case(op, dts[t], cases[c].na, cases[c].a, cases[c].nb, cases[c].b);
            }
}

/* Integer specifics: negative division, division by zero, overflow wrap-around. */
static void test_binary_int_edges(void) {
    {
        const int64_t a[] = {7, -7, 7, -7, 0, 5, INT64_MIN, INT64_MIN, INT64_MAX, -1};
        const int64_t b[] = {2, 2, -2, -2, 3, 0, -1, 1, 1, 0};
        const int64_t q[] = {3, -3, -3, 3, 0, 0, INT64_MIN, INT64_MIN, INT64_MAX, 0};
        int64_t n = 10;
        mr_graph *g = mr_test_new_graph(13);
        int in[2] = {mr_test_add_const(g, "a", MR_DTYPE_I64, 1, &n, a),
                     mr_test_add_const(g, "b", MR_DTYPE_I64, 1, &n, b)};
        int out, node = mr_test_add_node(g, "div_i64", "Div", 2, in, 1, &out);
        if (mr_test_eval_ok(&rng, g, node, "Div int64 edges")) {
            const int64_t *y = g->tensors[out].data;
            for (int i = 0; i < n; i++)
                CHECK_MSG(y[i] == q[i], "%lld / %lld = %lld, want %lld", (long long)a[i],
                          (long long)b[i], (long long)y[i], (long long)q[i]);
        }
        mr_graph_destroy(g);
    }
    {
        const int32_t a[] = {-9, 9, INT32_MIN, 1};
        const int32_t b[] = {4, -4, -1, 0};
        const int32_t q[] = {-2, -2, INT32_MIN, 0};
        int64_t n = 4;
        mr_graph *g = mr_test_new_graph(13);
        int in[2] = {mr_test_add_const(g, "a", MR_DTYPE_I32, 1, &n, a),
                     mr_test_add_const(g, "b", MR_DTYPE_I32, 1, &n, b)};
        int out, node = mr_test_add_node(g, "div_i32", "Div", 2, in, 1, &out);
        if (mr_test_eval_ok(&rng, g, node, "Div int32 edges")) {
            const int32_t *y = g->tensors[out].data;
            for (int i = 0; i < n; i++)
                CHECK_MSG(y[i] == q[i], "int32 %d / %d = %d", a[i], b[i], y[i]);
        }
        mr_graph_destroy(g);
    }
    {
        /* Wrap-around like numpy (and no UBSan report). */
        const int64_t a[] = {INT64_MAX, INT64_MIN, INT64_MAX};
        const int64_t b[] = {1, 1, 2};
        int64_t n = 3;
        const char *ops[] = {"Add", "Sub", "Mul"};
        const int64_t want[3][3] = {{INT64_MIN, INT64_MIN + 1, INT64_MIN + 1},
                                    {INT64_MAX - 1, INT64_MAX, INT64_MAX - 2},
                                    {INT64_MAX, INT64_MIN, -2}};
        for (int o = 0; o < 3; o++) {
            mr_graph *g = mr_test_new_graph(13);
            int in[2] = {mr_test_add_const(g, "a", MR_DTYPE_I64, 1, &n, a),
                         mr_test_add_const(g, "b", MR_DTYPE_I64, 1, &n, b)};
            int out, node = mr_test_add_node(g, "wrap", ops[o], 2, in, 1, &out);
            if (mr_test_eval_ok(&rng, g, node, ops[o])) {
                const int64_t *y = g->tensors[out].data;
                for (int i = 0; i < n; i++)
                    CHECK_MSG(y[i] == want[o][i], "%s wrap [%d]: %lld", ops[o], i, (long long)y[i]);
            }
            mr_graph_destroy(g);
        }
    }
    /* Shape arithmetic as PyTorch exports it: [N*C] / [2], scalar int64. */
    {
        const int64_t a[] = {1, 64, -56, 56};
        const int64_t two = -3;
        int64_t n = 4;
        mr_graph *g = mr_test_new_graph(13);
        int in[2] = {mr_test_add_const(g, "a", MR_DTYPE_I64, 1, &n, a),
                     mr_test_add_const(g, "b", MR_DTYPE_I64, 0, NULL, &two)};
        int out, node = mr_test_add_node(g, "shape_div", "Div", 2, in, 1, &out);
        if (mr_test_eval_ok(&rng, g, node, "shape div")) {
            const int64_t *y = g->tensors[out].data;
            CHECK(y[0] == 0 && y[1] == -21 && y[2] == 18 && y[3] == -18);
        }
        mr_graph_destroy(g);
    }
}

static void test_binary_errors(void) {
    const int64_t d34[] = {3, 4}, d5[] = {5}, d4[] = {4};
    float f[12] = {0};
    int64_t i64[12] = {0};
    for (int i = 0; i < 12; i++) f[i] = (float)i + 1, i64[i] = i + 1;
    /* Incompatible broadcast shapes. */
    {
        mr_graph *g = mr_test_new_graph(13);
        int in[2] = {mr_test_add_const(g, "a", MR_DTYPE_F32, 2, d34, f),
                     mr_test_add_const(g, "b", MR_DTYPE_F32, 1, d5, f)};
        int out, node = mr_test_add_node(g, "bad_bcast", "Add", 2, in, 1, &out);
        mr_test_eval_fails(g, node, MR_ERR_SHAPE, "[5]");
        mr_graph_destroy(g);
    }
    /* Mixed dtypes. */
    {
        mr_graph *g = mr_test_new_graph(13);
        int in[2] = {mr_test_add_const(g, "a", MR_DTYPE_F32, 2, d34, f),
                     mr_test_add_const(g, "b", MR_DTYPE_I64, 1, d4, i64)};
        int out, node = mr_test_add_node(g, "mixed", "Mul", 2, in, 1, &out);
        mr_test_eval_fails(g, node, MR_ERR_SHAPE, "int64");
        mr_graph_destroy(g);
    }
    /* Legacy broadcasting attributes. */
    const char *legacy[] = {"broadcast", "axis"};
    for (int k = 0; k < 2; k++) {
        mr_graph *g = mr_test_new_graph(6);
        mr_err err;
        int in[2] = {mr_test_add_const(g, "a", MR_DTYPE_F32, 2, d34, f),
                     mr_test_add_const(g, "b", MR_DTYPE_F32, 1, d4, f)};
        int out, node = mr_test_add_node(g, "legacy_bcast", "Sub", 2, in, 1, &out);
        mr_node_set_int(g, node, legacy[k], 1, &err);
        mr_test_eval_fails(g, node, MR_ERR_UNSUPPORTED, legacy[k]);
        mr_graph_destroy(g);
    }
}

int main(void) {
    mr_rng_seed(&rng, 20240611);
    test_unary();
    test_unary_errors();
    test_act_apply();
    test_act_from_node();
    test_binary();
    test_binary_int_edges();
    test_binary_errors();
    return mr_test_finish("ops_elementwise");
}
