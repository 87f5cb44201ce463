/* Normalising ops: Softmax (src/ops/softmax.c), BatchNormalization and LRN (src/ops/norm.c),
 * against naive double-precision references written here from the ONNX definitions, on
 * random inputs.
 *
 * Tolerances:
 *  - Softmax: rtol 1e-5, atol 1e-6. exp is the polynomial of src/ops/vmath.h (within 2 ulp)
 *    and the row sum is accumulated in float over up to a few thousand terms in 8 lanes, so a
 *    few 1e-7 relative is expected; atol covers the tiny probabilities.
 *  - BatchNormalization: rtol 1e-5, atol 1e-6. Four float operations per element plus
 *    sqrtf/division per channel; where (x - mean) * a nearly cancels B the absolute error is
 *    an ulp of |B| (~1e-7).
 *  - LRN: rtol 1e-5, atol 1e-6. A float sum of `size` squares, then pow (powf, or two sqrtf
 *    for beta = 0.75) and one division: a few ulp.
 *
 * Every case is also re-run with its logical blocks in a random order on NaN-filled outputs
 * and scratch, and must be bit-identical (blocks are independent, scratch needs no
 * initialisation, every output element is written).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/ir.h"
#include "ops/op.h"
#include "testutil.h"

static mr_rng rng;

/* Compares y with the double reference, rtol 1e-5 / atol 1e-6; checks shape. */
static void compare(const mr_tensor_desc *y, int ndim, const int64_t *dims, const double *ref,
                    const char *label) {
    int shape_ok = y->dtype == MR_DTYPE_F32 && y->ndim == ndim;
    for (int k = 0; k < ndim && shape_ok; k++) shape_ok = y->dims[k] == dims[k];
    CHECK_MSG(shape_ok, "%s: wrong output shape", label);
    if (!shape_ok) return;
    int64_t n = mr_test_numel(ndim, dims), worst = -1;
    double wd = 0;
    const float *v = y->data;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)v[i] - ref[i]);
        if (!(d <= 1e-6 + 1e-5 * fabs(ref[i])) && (worst < 0 || d > wd)) {
            worst = i;
            wd = d;
        }
    }
    CHECK_MSG(worst < 0, "%s: element %lld: got %.9g, want %.9g", label, (long long)worst,
              worst >= 0 ? v[worst] : 0.0, worst >= 0 ? ref[worst] : 0.0);
}

/* ---- Softmax ---- */

/* Reference: softmax over the elements x[o*n*inner + k*inner + j], k = 0..n-1. */
static void ref_softmax(const float *x, double *y, int64_t outer, int64_t n, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const int64_t base = o * n * inner + j;
            double m = -INFINITY, s = 0;
            for (int64_t k = 0; k < n; k++) m = fmax(m, x[base + k * inner]);
            for (int64_t k = 0; k < n; k++) s += exp(x[base + k * inner] - m);
            for (int64_t k = 0; k < n; k++) y[base + k * inner] = exp(x[base + k * inner] - m) / s;
        }
}

/* axis_attr: INT64_MIN = leave the attribute out. */
static void softmax_case(int opset, int ndim, const int64_t *dims, int64_t axis_attr, float lo,
                         float hi) {
    char sd[64], label[128];
    snprintf(label, sizeof label, "Softmax opset %d %s axis %lld", opset,
             mr_dims_str(ndim, dims, sd, sizeof sd), (long long)axis_attr);
    int64_t n = mr_test_numel(ndim, dims);
    float *x = malloc((size_t)n * sizeof *x);
    double *ref = malloc((size_t)n * sizeof *ref);
    mr_rng_fill(&rng, x, n, lo, hi);
    int legacy = opset < 13;
    int64_t axis = axis_attr == INT64_MIN ? (legacy ? 1 : -1) : axis_attr;
    if (axis < 0) axis += ndim;
    int64_t outer = mr_test_numel((int)axis, dims), mid, inner;
    if (legacy) {
        mid = mr_test_numel(ndim - (int)axis, dims + axis);
        inner = 1;
    } else {
        mid = dims[axis];
        inner = mr_test_numel(ndim - (int)axis - 1, dims + axis + 1);
    }
    ref_softmax(x, ref, outer, mid, inner);

    mr_graph *g = mr_test_new_graph(opset);
    mr_err err;
    int in = mr_test_add_const(g, "x", MR_DTYPE_F32, ndim, dims, x);
    int out, node = mr_test_add_node(g, "softmax_node", "Softmax", 1, &in, 1, &out);
    if (axis_attr != INT64_MIN) mr_node_set_int(g, node, "axis", axis_attr, &err);
    if (mr_test_eval_ok(&rng, g, node, label)) compare(&g->tensors[out], ndim, dims, ref, label);
    free(x);
    free(ref);
    mr_graph_destroy(g);
}

static void test_softmax(void) {
    const int64_t d4[] = {2, 3, 4, 5};
    const int64_t none = INT64_MIN;
    /* Opset 11 (2-D coercion) vs opset 13 (single axis) on the same shape and axis. */
    for (int opset = 11; opset <= 13; opset += 2) {
        softmax_case(opset, 4, d4, none, -3, 3);
        for (int64_t axis = -4; axis < 4; axis++) softmax_case(opset, 4, d4, axis, -3, 3);
    }
    /* They differ: opset 11 axis 1 normalises over 3*4*5 values, opset 13 over 3. */
    {
        mr_graph *g11 = mr_test_new_graph(11), *g13 = mr_test_new_graph(13);
        float x[120];
        mr_rng_fill(&rng, x, 120, -1, 1);
        mr_err err;
        int o11, o13;
        int n11 =
            mr_test_add_node(g11, "sm11", "Softmax", 1,
                             (int[]){mr_test_add_const(g11, "x", MR_DTYPE_F32, 4, d4, x)}, 1, &o11);
        int n13 =
            mr_test_add_node(g13, "sm13", "Softmax", 1,
                             (int[]){mr_test_add_const(g13, "x", MR_DTYPE_F32, 4, d4, x)}, 1, &o13);
        mr_node_set_int(g11, n11, "axis", 1, &err);
        mr_node_set_int(g13, n13, "axis", 1, &err);
        if (mr_test_eval_ok(&rng, g11, n11, "sm11") && mr_test_eval_ok(&rng, g13, n13, "sm13")) {
            const float *y11 = g11->tensors[o11].data, *y13 = g13->tensors[o13].data;
            double s11 = 0, s13 = 0;
            for (int i = 0; i < 60; i++) s11 += y11[i];
            for (int c = 0; c < 3; c++) s13 += y13[c * 20];
            CHECK_MSG(fabs(s11 - 1) < 1e-5 && fabs(s13 - 1) < 1e-5, "sums %g %g", s11, s13);
        }
        mr_graph_destroy(g11);
        mr_graph_destroy(g13);
    }
    /* Classifier rows, several blocks. */
    const int64_t rows[] = {64, 1000};
    softmax_case(13, 2, rows, none, -10, 10);
    softmax_case(11, 2, rows, none, -10, 10);
    /* Large values: stability (exp would overflow without subtracting the max). */
    const int64_t d3[] = {3, 7, 9};
    softmax_case(13, 3, d3, none, 5000, 10000);
    softmax_case(13, 3, d3, 1, -10000, -5000);
    /* Strided: inner chunks split across blocks, and many outer slices grouped per block. */
    const int64_t wide[] = {2, 10, 5000};
    softmax_case(13, 3, wide, 1, -5, 5);
    const int64_t tall[] = {3, 4000, 2};
    softmax_case(13, 3, tall, 1, -5, 5);
    const int64_t many[] = {500, 6, 3};
    softmax_case(13, 3, many, 1, -5, 5);
    const int64_t one[] = {5};
    softmax_case(13, 1, one, none, -5, 5);
    const int64_t single[] = {4, 1, 3};
    softmax_case(13, 3, single, 1, -5, 5); /* a softmax over 1 element is 1 */

    /* Errors: axis out of range, integer input, scalar input. */
    {
        mr_graph *g = mr_test_new_graph(13);
        mr_err err;
        float x[120] = {0};
        int in = mr_test_add_const(g, "x", MR_DTYPE_F32, 4, d4, x);
        int out, node = mr_test_add_node(g, "sm_axis", "Softmax", 1, &in, 1, &out);
        mr_node_set_int(g, node, "axis", 4, &err);
        mr_test_eval_fails(g, node, MR_ERR_SHAPE, "axis");
        mr_graph_destroy(g);
    }
    {
        mr_graph *g = mr_test_new_graph(13);
        int64_t x[4] = {1, 2, 3, 4}, d = 4;
        int in = mr_test_add_const(g, "x", MR_DTYPE_I64, 1, &d, x);
        int out, node = mr_test_add_node(g, "sm_int", "Softmax", 1, &in, 1, &out);
        mr_test_eval_fails(g, node, MR_ERR_UNSUPPORTED, "int64");
        mr_graph_destroy(g);
    }
    {
        mr_graph *g = mr_test_new_graph(13);
        float x = 1;
        int in = mr_test_add_const(g, "x", MR_DTYPE_F32, 0, NULL, &x);
        int out, node = mr_test_add_node(g, "sm_scalar", "Softmax", 1, &in, 1, &out);
        mr_test_eval_fails(g, node, MR_ERR_SHAPE, "scalar");
        mr_graph_destroy(g);
    }
}

/* ---- BatchNormalization ---- */

static void bn_case(int opset, int ndim, const int64_t *dims, float eps, int set_eps) {
    char sd[64], label[128];
    snprintf(label, sizeof label, "BatchNormalization opset %d %s", opset,
             mr_dims_str(ndim, dims, sd, sizeof sd));
    int64_t n = mr_test_numel(ndim, dims), C = dims[1], S = n / (dims[0] * C);
    float *x = malloc((size_t)n * sizeof *x);
    float *prm = malloc((size_t)(4 * C) * sizeof *prm);
    double *ref = malloc((size_t)n * sizeof *ref);
    mr_rng_fill(&rng, x, n, -3, 3);
    float *scale = prm, *bias = prm + C, *mean = prm + 2 * C, *var = prm + 3 * C;
    mr_rng_fill(&rng, scale, C, 0.5f, 2.0f);
    mr_rng_fill(&rng, bias, C, -1.0f, 1.0f);
    mr_rng_fill(&rng, mean, C, -1.0f, 1.0f);
    mr_rng_fill(&rng, var, C, 0.1f, 2.0f);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / S) % C;
        ref[i] = ((double)x[i] - mean[c]) / sqrt((double)var[c] + (double)eps) * scale[c] + bias[c];
    }
    mr_graph *g = mr_test_new_graph(opset);
    mr_err err;
    int in[5] = {mr_test_add_const(g, "x", MR_DTYPE_F32, ndim, dims, x),
                 mr_test_add_const(g, "scale", MR_DTYPE_F32, 1, &C, scale),
                 mr_test_add_const(g, "B", MR_DTYPE_F32, 1, &C, bias),
                 mr_test_add_const(g, "mean", MR_DTYPE_F32, 1, &C, mean),
                 mr_test_add_const(g, "var", MR_DTYPE_F32, 1, &C, var)};
    int out, node = mr_test_add_node(g, "bn_node", "BatchNormalization", 5, in, 1, &out);
    if (set_eps) mr_node_set_float(g, node, "epsilon", eps, &err);
    mr_node_set_float(g, node, "momentum", 0.9f, &err); /* ignored in inference */
    if (opset < 9) mr_node_set_int(g, node, "spatial", 1, &err);
    if (opset >= 14) mr_node_set_int(g, node, "training_mode", 0, &err);
    if (mr_test_eval_ok(&rng, g, node, label)) compare(&g->tensors[out], ndim, dims, ref, label);
    free(x);
    free(prm);
    free(ref);
    mr_graph_destroy(g);
}

/* A BN node on [2,3,4] with optional tweaks, expected to fail. */
static void bn_fails(const char *name, int opset, int64_t c_param, mr_dtype x_dtype,
                     const char *attr, int64_t attr_val, int n_out, int x_rank, mr_status want,
                     const char *needle) {
    mr_graph *g = mr_test_new_graph(opset);
    mr_err err;
    const int64_t d[] = {2, 3, 4};
    float xf[24] = {0}, p[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    int64_t xi[24] = {0};
    int in[5];
    in[0] = mr_test_add_const(g, "x", x_dtype, x_rank, x_rank == 1 ? d + 2 : d,
                              x_dtype == MR_DTYPE_F32 ? (void *)xf : (void *)xi);
    in[1] = mr_test_add_const(g, "scale", MR_DTYPE_F32, 1, &c_param, p);
    in[2] = mr_test_add_const(g, "B", MR_DTYPE_F32, 1, &c_param, p);
    in[3] = mr_test_add_const(g, "mean", MR_DTYPE_F32, 1, &c_param, p);
    in[4] = mr_test_add_const(g, "var", MR_DTYPE_F32, 1, &c_param, p);
    int out[5], node = mr_test_add_node(g, name, "BatchNormalization", 5, in, n_out, out);
    if (attr) mr_node_set_int(g, node, attr, attr_val, &err);
    mr_test_eval_fails(g, node, want, needle);
    mr_graph_destroy(g);
}

static void test_batchnorm(void) {
    const int64_t d4[] = {2, 3, 4, 5}, d2[] = {6, 7}, d5[] = {1, 4, 3, 2, 2};
    const int64_t big[] = {2, 64, 30, 30};     /* chunks end mid-channel */
    const int64_t huge_s[] = {1, 2, 200, 200}; /* one channel spans several blocks */
    bn_case(15, 4, d4, 1e-5f, 0);
    bn_case(15, 4, d4, 1e-2f, 1);
    bn_case(7, 4, d4, 1e-3f, 1);
    bn_case(14, 2, d2, 1e-5f, 0);
    bn_case(9, 5, d5, 1e-5f, 0);
    bn_case(15, 4, big, 1e-5f, 0);
    bn_case(15, 4, huge_s, 1e-5f, 0);

    bn_fails("bn_train", 15, 3, MR_DTYPE_F32, "training_mode", 1, 1, 3, MR_ERR_UNSUPPORTED,
             "training_mode");
    bn_fails("bn_spatial", 7, 3, MR_DTYPE_F32, "spatial", 0, 1, 3, MR_ERR_UNSUPPORTED, "spatial");
    bn_fails("bn_outs", 9, 3, MR_DTYPE_F32, NULL, 0, 3, 3, MR_ERR_UNSUPPORTED, "output");
    bn_fails("bn_cmismatch", 15, 4, MR_DTYPE_F32, NULL, 0, 1, 3, MR_ERR_SHAPE, "scale");
    bn_fails("bn_int", 15, 3, MR_DTYPE_I64, NULL, 0, 1, 3, MR_ERR_UNSUPPORTED, "int64");
    bn_fails("bn_rank1", 15, 4, MR_DTYPE_F32, NULL, 0, 1, 1, MR_ERR_SHAPE, "[4]");
}

/* ---- LRN ---- */

static void lrn_case(int ndim, const int64_t *dims, int64_t size, float alpha, float beta,
                     float bias, int set_defaults) {
    char sd[64], label[160];
    snprintf(label, sizeof label, "LRN %s size %lld alpha %g beta %g bias %g",
             mr_dims_str(ndim, dims, sd, sizeof sd), (long long)size, alpha, beta, bias);
    int64_t n = mr_test_numel(ndim, dims), N = dims[0], C = dims[1], S = n / (N * C);
    float *x = malloc((size_t)n * sizeof *x);
    double *ref = malloc((size_t)n * sizeof *ref);
    mr_rng_fill(&rng, x, n, -4, 4);
    /* Straight from the spec: window c - floor((size-1)/2) .. c + ceil((size-1)/2). */
    int64_t lo_off = (size - 1) / 2, hi_off = (int64_t)ceil((size - 1) / 2.0);
    for (int64_t b = 0; b < N; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t s = 0; s < S; s++) {
                double sq = 0;
                for (int64_t i = c - lo_off; i <= c + hi_off; i++) {
                    if (i < 0 || i >= C) continue;
                    double v = x[(b * C + i) * S + s];
                    sq += v * v;
                }
                int64_t idx = (b * C + c) * S + s;
                ref[idx] = x[idx] / pow((double)bias + (double)alpha / (double)size * sq, beta);
            }
    mr_graph *g = mr_test_new_graph(13);
    mr_err err;
    int in = mr_test_add_const(g, "x", MR_DTYPE_F32, ndim, dims, x);
    int out, node = mr_test_add_node(g, "lrn_node", "LRN", 1, &in, 1, &out);
    mr_node_set_int(g, node, "size", size, &err);
    if (!set_defaults) {
        mr_node_set_float(g, node, "alpha", alpha, &err);
        mr_node_set_float(g, node, "beta", beta, &err);
        mr_node_set_float(g, node, "bias", bias, &err);
    }
    if (mr_test_eval_ok(&rng, g, node, label)) compare(&g->tensors[out], ndim, dims, ref, label);
    free(x);
    free(ref);
    mr_graph_destroy(g);
}

static void test_lrn(void) {
    const int64_t d4[] = {2, 10, 6, 7}, d3[] = {2, 2, 5}, d2[] = {3, 9};
    const int64_t alex[] = {2, 96, 27, 27}; /* several spatial chunks per image */
    /* Large alpha so that the window sum matters at float precision. */
    lrn_case(4, d4, 5, 1e-4f, 0.75f, 1.0f, 1); /* defaults */
    lrn_case(4, d4, 5, 0.5f, 0.75f, 1.0f, 0);
    lrn_case(4, d4, 4, 0.5f, 0.75f, 2.0f, 0); /* even size: asymmetric window */
    lrn_case(4, d4, 3, 0.2f, 0.5f, 2.0f, 0);  /* the golden test's parameters */
    lrn_case(4, d4, 1, 0.3f, 0.6f, 1.5f, 0);
    lrn_case(3, d3, 7, 0.4f, 0.75f, 1.0f, 0); /* window wider than the channels */
    lrn_case(2, d2, 2, 0.4f, 1.2f, 1.0f, 0);
    lrn_case(4, alex, 5, 1e-2f, 0.75f, 2.0f, 0);

    /* Errors: size missing, size 0, integer input. */
    const int64_t d[] = {1, 2, 2};
    float x[4] = {1, 2, 3, 4};
    int64_t xi[4] = {1, 2, 3, 4};
    for (int k = 0; k < 3; k++) {
        mr_graph *g = mr_test_new_graph(13);
        mr_err err;
        int in = mr_test_add_const(g, "x", k == 2 ? MR_DTYPE_I64 : MR_DTYPE_F32, 3, d,
                                   k == 2 ? (void *)xi : (void *)x);
        int out, node = mr_test_add_node(g,
                                         k == 0   ? "lrn_nosize"
                                         : k == 1 ? "lrn_size0"
                                                  : "lrn_int",
                                         "LRN", 1, &in, 1, &out);
        if (k == 1) mr_node_set_int(g, node, "size", 0, &err);
        if (k == 2) mr_node_set_int(g, node, "size", 3, &err);
        mr_test_eval_fails(g, node, k == 0 ? MR_ERR_PARSE : MR_ERR_UNSUPPORTED,
                           k == 2 ? "int64" : "size");
        mr_graph_destroy(g);
    }
}

int main(void) {
    mr_rng_seed(&rng, 777);
    test_softmax();
    test_batchnorm();
    test_lrn();
    return mr_test_finish("ops_norm");
}
