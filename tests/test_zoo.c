/* The built-in model zoo: names, errors, architecture structure and parameter counts against
 * torchvision, execution on the CPU backend (finite, non-degenerate, deterministic logits),
 * BatchNorm folding on real networks, and naive double-precision references for CifarNet,
 * LSTM and GRU written directly from PyTorch's definitions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "testutil.h"
#include "zoo/zoo.h"

typedef struct expect {
    const char *name;
    int64_t n_params; /* torchvision's sum(p.numel() for p in model.parameters()) */
    int in_ndim;
    int64_t in_dims[4];
    int64_t classes;
    /* operators of the source graph, counted from the torchvision module tree */
    int n_conv, n_bn, n_gemm, n_relu, n_clip, n_add, n_maxpool, n_concat;
} expect;

/* LSTM(256, 512, num_layers=2) + Linear(512, 10), PyTorch's count:
 *   layer 0: 4H(I+H) + 8H = 4*512*(256+512) + 8*512 = 1,572,864 + 4,096 = 1,576,960
 *   layer 1: 4H(H+H) + 8H = 4*512*(512+512) + 8*512 = 2,097,152 + 4,096 = 2,101,248
 *   fc:      512*10 + 10                                                  =     5,130
 *   total                                                                 = 3,683,338 */
#define LSTM_PARAMS (4LL * 512 * (256 + 512) + 8 * 512 + 4LL * 512 * (512 + 512) + 8 * 512 + 5130)
/* GRU: 3H(I+H) + 6H per layer:
 *   layer 0: 3*512*768 + 6*512  = 1,179,648 + 3,072 = 1,182,720
 *   layer 1: 3*512*1024 + 6*512 = 1,572,864 + 3,072 = 1,575,936
 *   fc:                                                   5,130
 *   total                                             2,763,786 */
#define GRU_PARAMS (3LL * 512 * (256 + 512) + 6 * 512 + 3LL * 512 * (512 + 512) + 6 * 512 + 5130)

static const expect models[] = {
    /* conv: 1 stem + 8 blocks * 2 + 3 downsample; BN after each; relu: stem + 2 per block */
    {"resnet18", 11689512, 4, {1, 3, 224, 224}, 1000, 20, 20, 1, 17, 0, 8, 1, 0},
    /* conv: 1 + 16 blocks * 3 + 4 downsample; relu: 1 + 3 per block */
    {"resnet50", 25557032, 4, {1, 3, 224, 224}, 1000, 53, 53, 1, 49, 0, 16, 1, 0},
    {"vgg16", 138357544, 4, {1, 3, 224, 224}, 1000, 13, 0, 3, 15, 0, 0, 5, 0},
    {"alexnet", 61100840, 4, {1, 3, 224, 224}, 1000, 5, 0, 3, 7, 0, 0, 3, 0},
    /* conv: stem + 8 fire * 3 + classifier; relu after each */
    {"squeezenet1_1", 1235496, 4, {1, 3, 224, 224}, 1000, 26, 0, 0, 26, 0, 0, 3, 8},
    /* conv: stem + block 1 (2) + 16 blocks * 3 + last; ReLU6 after all but the projections;
     * residual adds in the 10 blocks with stride 1 and equal channels */
    {"mobilenet_v2", 3504872, 4, {1, 3, 224, 224}, 1000, 52, 52, 1, 0, 35, 10, 0, 0},
    /* 3*6*25+6 + 6*16*25+16 + 400*120+120 + 120*84+84 + 84*10+10 = 62,006 */
    {"cifarnet", 62006, 4, {1, 3, 32, 32}, 10, 2, 0, 3, 4, 0, 0, 2, 0},
    {"lstm", LSTM_PARAMS, 3, {1, 50, 256}, 10, 0, 0, 1, 0, 0, 0, 0, 0},
    {"gru", GRU_PARAMS, 3, {1, 50, 256}, 10, 0, 0, 1, 0, 0, 0, 0, 0},
};
enum { N_MODELS = (int)(sizeof models / sizeof models[0]) };

static int count_op(const mr_graph *g, const char *op) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && strcmp(g->nodes[i].op_type, op) == 0) c++;
    return c;
}

static void test_names(void) {
    for (int i = 0; i < N_MODELS; i++) {
        const char *n = mr_zoo_name(i);
        CHECK_MSG(n && strcmp(n, models[i].name) == 0, "index %d: %s", i, n ? n : "(null)");
        const char *d = mr_zoo_description(models[i].name);
        CHECK_MSG(d && d[0], "%s has no description", models[i].name);
    }
    CHECK(mr_zoo_name(N_MODELS) == NULL);
    CHECK(mr_zoo_name(-1) == NULL);
    CHECK(mr_zoo_description("nope") == NULL);
    CHECK(mr_zoo_description(NULL) == NULL);
    const char *cd = mr_zoo_description("cifarnet");
    CHECK(cd && strstr(cd, "400") && strstr(cd, "62,006"));

    mr_err err;
    mr_graph *g = (mr_graph *)1;
    mr_status st = mr_zoo_build("resnet19", &g, &err);
    CHECK_STATUS(st, MR_ERR_NOT_FOUND, err.msg, "resnet19");
    CHECK(g == NULL);
    for (int i = 0; i < N_MODELS; i++)
        CHECK_MSG(strstr(err.msg, models[i].name), "'%s' not listed in: %s", models[i].name,
                  err.msg);
    st = mr_zoo_build(NULL, &g, &err);
    CHECK_STATUS(st, MR_ERR_NOT_FOUND, err.msg, "resnet18");
}

/* Structure of the source graph before any pass: operator counts and the declared input. */
static void test_structure(const expect *e) {
    mr_err err;
    mr_graph *g = NULL;
    mr_status st = mr_zoo_build(e->name, &g, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st != MR_OK) return;
    CHECK(g->opset == 13);
    CHECK(g->n_inputs == 1 && g->n_outputs == 1);
    if (g->n_inputs == 1) {
        const mr_tensor_desc *t = &g->tensors[g->inputs[0]];
        CHECK(strcmp(t->name, "input") == 0 && t->dtype == MR_DTYPE_F32);
        CHECK(t->ndim == e->in_ndim &&
              memcmp(t->dims, e->in_dims, sizeof(int64_t) * (size_t)e->in_ndim) == 0);
    }
    if (g->n_outputs == 1) CHECK(strcmp(g->tensors[g->outputs[0]].name, "logits") == 0);
    CHECK_MSG(count_op(g, "Conv") == e->n_conv, "%s: %d Conv", e->name, count_op(g, "Conv"));
    CHECK_MSG(count_op(g, "BatchNormalization") == e->n_bn, "%s: %d BN", e->name,
              count_op(g, "BatchNormalization"));
    CHECK_MSG(count_op(g, "Gemm") == e->n_gemm, "%s: %d Gemm", e->name, count_op(g, "Gemm"));
    CHECK_MSG(count_op(g, "Relu") == e->n_relu, "%s: %d Relu", e->name, count_op(g, "Relu"));
    CHECK_MSG(count_op(g, "Clip") == e->n_clip, "%s: %d Clip", e->name, count_op(g, "Clip"));
    CHECK_MSG(count_op(g, "Add") == e->n_add, "%s: %d Add", e->name, count_op(g, "Add"));
    CHECK_MSG(count_op(g, "MaxPool") == e->n_maxpool, "%s: %d MaxPool", e->name,
              count_op(g, "MaxPool"));
    CHECK_MSG(count_op(g, "Concat") == e->n_concat, "%s: %d Concat", e->name,
              count_op(g, "Concat"));
    CHECK(count_op(g, "Dropout") == 0);
    mr_graph_destroy(g);
}

static float *random_input(const expect *e, int64_t *numel, uint64_t seed) {
    int64_t n = 1;
    for (int i = 0; i < e->in_ndim; i++) n *= e->in_dims[i];
    float *x = malloc(sizeof(float) * (size_t)n);
    mr_rng r;
    mr_rng_seed(&r, seed);
    mr_rng_fill(&r, x, n, -1.0f, 1.0f);
    *numel = n;
    return x;
}

/* Loads, checks the interface and stats, runs once on x into y. Returns 0 on failure. */
static int load_run(mr_runtime *rt, const expect *e, int optimize, const float *x, float *y,
                    int check_info) {
    mr_model_params mp = mr_model_default_params();
    mp.optimize = optimize;
    mr_model *m = NULL;
    mr_status st = mr_model_load_zoo(rt, e->name, &mp, &m);
    CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
    if (st != MR_OK) return 0;
    if (check_info) {
        mr_model_stats stats;
        CHECK(mr_model_get_stats(m, &stats) == MR_OK);
        CHECK_MSG(stats.n_params == e->n_params, "%s: n_params %lld, torchvision %lld", e->name,
                  (long long)stats.n_params, (long long)e->n_params);
        CHECK(stats.flops > 0 && stats.n_steps > 0);
        CHECK(mr_model_n_inputs(m) == 1 && mr_model_n_outputs(m) == 1);
        mr_tensor_info ii, oi;
        CHECK(mr_model_input_info(m, 0, &ii) == MR_OK);
        CHECK(strcmp(ii.name, "input") == 0 && ii.dtype == MR_DTYPE_F32 && ii.ndim == e->in_ndim);
        for (int i = 0; i < e->in_ndim && i < ii.ndim; i++) CHECK(ii.dims[i] == e->in_dims[i]);
        CHECK(mr_model_output_info(m, 0, &oi) == MR_OK);
        CHECK_MSG(strcmp(oi.name, "logits") == 0 && oi.dtype == MR_DTYPE_F32 && oi.ndim == 2 &&
                      oi.dims[0] == 1 && oi.dims[1] == e->classes,
                  "%s: output %s ndim %d", e->name, oi.name, oi.ndim);
    }
    mr_tensor in = {MR_DTYPE_F32, e->in_ndim, {0}, (void *)x};
    memcpy(in.dims, e->in_dims, sizeof(int64_t) * (size_t)e->in_ndim);
    mr_tensor out = {MR_DTYPE_F32, 2, {1, e->classes}, y};
    st = mr_model_run(m, 1, &in, 1, &out);
    CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
    mr_model_destroy(m);
    return st == MR_OK;
}

/* Finite, and not collapsed to (nearly) one value: weights that let activations explode or
 * vanish through 50 layers would fail here. */
static void check_sane(const expect *e, const float *y) {
    double lo = INFINITY, hi = -INFINITY, amax = 0;
    int finite = 1;
    for (int64_t i = 0; i < e->classes; i++) {
        if (!isfinite(y[i])) finite = 0;
        lo = fmin(lo, y[i]);
        hi = fmax(hi, y[i]);
        amax = fmax(amax, fabs(y[i]));
    }
    CHECK_MSG(finite, "%s: non-finite logits", e->name);
    CHECK_MSG(hi - lo > 1e-3 * amax && hi - lo > 1e-6 && amax < 1e3, "%s: logits in [%g, %g]",
              e->name, lo, hi);
    printf("%-14s logits in [%9.4f, %9.4f]\n", e->name, lo, hi);
}

/* Max |a-b| relative to max |b|. */
static double rel_diff(const float *a, const double *b, int64_t n) {
    double d = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    return d / (m > 0 ? m : 1);
}

static void test_run(mr_runtime *rt, const expect *e) {
    int64_t n;
    float *x = random_input(e, &n, 1234);
    float *y1 = calloc((size_t)e->classes, sizeof(float));
    float *y2 = calloc((size_t)e->classes, sizeof(float));
    if (load_run(rt, e, 1, x, y1, 1)) {
        check_sane(e, y1);
        /* A second, independent load must give bit-identical logits: the weights are seeded
         * from the model name and the CPU kernels do not depend on thread timing. */
        if (load_run(rt, e, 1, x, y2, 0))
            CHECK_MSG(memcmp(y1, y2, sizeof(float) * (size_t)e->classes) == 0,
                      "%s: two loads differ", e->name);
        /* The unoptimised graph (BatchNorm not folded, activations not fused) must agree.
         * Folding reassociates float arithmetic: 1e-4 of the logit range is ~100x the float
         * rounding accumulated over these depths, far below what a wrong fold would give. */
        if (e->n_bn > 0 && strcmp(e->name, "resnet50") != 0) {
            double *yd = malloc(sizeof(double) * (size_t)e->classes);
            if (load_run(rt, e, 0, x, y2, 0)) {
                for (int64_t i = 0; i < e->classes; i++) yd[i] = y2[i];
                double r = rel_diff(y1, yd, e->classes);
                CHECK_MSG(r < 1e-4, "%s: optimised vs unoptimised differ by %g", e->name, r);
            }
            free(yd);
        }
    }
    free(x);
    free(y1);
    free(y2);
}

/* ---- naive references (double accumulation, straight from the PyTorch definitions) ---- */

static const float *weight(const mr_graph *g, const char *name) {
    int t = mr_graph_find_tensor(g, name);
    CHECK_MSG(t >= 0 && g->tensors[t].data, "no constant '%s'", name);
    return t >= 0 ? g->tensors[t].data : NULL;
}

/* Conv2d (stride 1, no pad) + bias + ReLU; x [c, h, w] -> y [k, h-r+1, w-r+1]. */
static void ref_conv_relu(const double *x, int c, int h, int w, const float *wt, const float *b,
                          int k, int r, double *y) {
    int oh = h - r + 1, ow = w - r + 1;
    for (int o = 0; o < k; o++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                double s = b[o];
                for (int ci = 0; ci < c; ci++)
                    for (int u = 0; u < r; u++)
                        for (int v = 0; v < r; v++)
                            s += x[(ci * h + i + u) * w + j + v] *
                                 (double)wt[((o * c + ci) * r + u) * r + v];
                y[(o * oh + i) * ow + j] = s > 0 ? s : 0;
            }
}

static void ref_maxpool2(const double *x, int c, int h, int w, double *y) {
    for (int ci = 0; ci < c; ci++)
        for (int i = 0; i < h / 2; i++)
            for (int j = 0; j < w / 2; j++) {
                const double *p = x + (ci * h + 2 * i) * w + 2 * j;
                y[(ci * (h / 2) + i) * (w / 2) + j] = fmax(fmax(p[0], p[1]), fmax(p[w], p[w + 1]));
            }
}

/* y = W x + b, W [out, in] (PyTorch layout); optional ReLU. */
static void ref_linear(const double *x, int in, const float *w, const float *b, int out, int relu,
                       double *y) {
    for (int o = 0; o < out; o++) {
        double s = b[o];
        for (int i = 0; i < in; i++) s += (double)w[(size_t)o * in + i] * x[i];
        y[o] = relu && s < 0 ? 0 : s;
    }
}

static void test_cifarnet_reference(mr_runtime *rt) {
    const expect *e = &models[6];
    mr_err err;
    mr_graph *g = NULL;
    CHECK_STATUS(mr_zoo_build("cifarnet", &g, &err), MR_OK, err.msg, NULL);
    if (!g) return;
    int64_t n;
    float *x = random_input(e, &n, 77);
    float y[10];
    double *a = malloc(sizeof(double) * 3 * 32 * 32), *c1 = malloc(sizeof(double) * 6 * 28 * 28),
           *p1 = malloc(sizeof(double) * 6 * 14 * 14), *c2 = malloc(sizeof(double) * 16 * 10 * 10),
           *p2 = malloc(sizeof(double) * 400), f1[120], f2[84], f3[10];
    for (int64_t i = 0; i < n; i++) a[i] = x[i];
    const float *w[10] = {weight(g, "conv1.weight"), weight(g, "conv1.bias"),
                          weight(g, "conv2.weight"), weight(g, "conv2.bias"),
                          weight(g, "fc1.weight"),   weight(g, "fc1.bias"),
                          weight(g, "fc2.weight"),   weight(g, "fc2.bias"),
                          weight(g, "fc3.weight"),   weight(g, "fc3.bias")};
    int ok = 1;
    for (int i = 0; i < 10; i++) ok &= w[i] != NULL;
    if (ok && load_run(rt, e, 1, x, y, 0)) {
        ref_conv_relu(a, 3, 32, 32, w[0], w[1], 6, 5, c1);
        ref_maxpool2(c1, 6, 28, 28, p1);
        ref_conv_relu(p1, 6, 14, 14, w[2], w[3], 16, 5, c2);
        ref_maxpool2(c2, 16, 10, 10, p2);
        ref_linear(p2, 400, w[4], w[5], 120, 1, f1);
        ref_linear(f1, 120, w[6], w[7], 84, 1, f2);
        ref_linear(f2, 84, w[8], w[9], 10, 0, f3);
        /* float32 dot products of at most 400 terms: relative error ~1e-6; 1e-4 of the logit
         * range leaves room for any summation order. */
        double r = rel_diff(y, f3, 10);
        CHECK_MSG(r < 1e-4, "cifarnet vs reference: %g", r);
    }
    free(x);
    free(a);
    free(c1);
    free(p1);
    free(c2);
    free(p2);
    mr_graph_destroy(g);
}

static double sigm(double v) {
    return 1.0 / (1.0 + exp(-v));
}

/* One layer over the sequence, ONNX gate layouts (what the zoo stores): LSTM W/R rows are
 * [i, o, f, c] blocks, GRU [z, r, h]; B = (Wb, Rb). x [T, in] -> y [T, H]. */
static void ref_rnn_layer(int gru, const double *x, int T, int in, const float *W, const float *R,
                          const float *B, int H, double *y) {
    int G = gru ? 3 : 4;
    double *h = calloc((size_t)H, sizeof(double)), *c = calloc((size_t)H, sizeof(double));
    double *gx = malloc(sizeof(double) * (size_t)(G * H)),
           *gh = malloc(sizeof(double) * (size_t)(G * H));
    for (int t = 0; t < T; t++) {
        for (int r = 0; r < G * H; r++) {
            double sx = B[r], sh = B[G * H + r];
            for (int i = 0; i < in; i++) sx += (double)W[(size_t)r * in + i] * x[t * in + i];
            for (int i = 0; i < H; i++) sh += (double)R[(size_t)r * H + i] * h[i];
            gx[r] = sx;
            gh[r] = sh;
        }
        for (int j = 0; j < H; j++) {
            if (gru) {
                /* PyTorch GRU = ONNX linear_before_reset=1:
                 * n = tanh(Wn x + bWn + r * (Rn h + bRn)); h' = (1 - z) n + z h */
                double z = sigm(gx[j] + gh[j]), r = sigm(gx[H + j] + gh[H + j]);
                double nn = tanh(gx[2 * H + j] + r * gh[2 * H + j]);
                h[j] = (1 - z) * nn + z * h[j];
            } else {
                double ig = sigm(gx[j] + gh[j]), og = sigm(gx[H + j] + gh[H + j]);
                double fg = sigm(gx[2 * H + j] + gh[2 * H + j]);
                double cg = tanh(gx[3 * H + j] + gh[3 * H + j]);
                c[j] = fg * c[j] + ig * cg;
                h[j] = og * tanh(c[j]);
            }
        }
        /* h is updated in place only after all gates of step t were computed above. */
        memcpy(y + (size_t)t * H, h, sizeof(double) * (size_t)H);
    }
    free(h);
    free(c);
    free(gx);
    free(gh);
}

static void test_rnn_reference(mr_runtime *rt, const expect *e, int gru) {
    mr_err err;
    mr_graph *g = NULL;
    CHECK_STATUS(mr_zoo_build(e->name, &g, &err), MR_OK, err.msg, NULL);
    if (!g) return;
    int64_t n;
    float *x = random_input(e, &n, 99);
    float y[10];
    enum { T = 50, I = 256, H = 512 };
    double *a = malloc(sizeof(double) * T * I), *l0 = malloc(sizeof(double) * T * H),
           *l1 = malloc(sizeof(double) * T * H), out[10];
    for (int64_t i = 0; i < n; i++) a[i] = x[i];
    const char *p = gru ? "gru" : "lstm";
    char nm[6][64];
    const char *fmt[6] = {"%s.weight_ih_l0", "%s.weight_hh_l0", "%s.bias_l0",
                          "%s.weight_ih_l1", "%s.weight_hh_l1", "%s.bias_l1"};
    const float *w[6];
    int ok = 1;
    for (int i = 0; i < 6; i++) {
        snprintf(nm[i], sizeof nm[i], fmt[i], p);
        w[i] = weight(g, nm[i]);
        ok &= w[i] != NULL;
    }
    const float *fw = weight(g, "fc.weight"), *fb = weight(g, "fc.bias");
    if (ok && fw && fb && load_run(rt, e, 1, x, y, 0)) {
        ref_rnn_layer(gru, a, T, I, w[0], w[1], w[2], H, l0);
        ref_rnn_layer(gru, l0, T, H, w[3], w[4], w[5], H, l1);
        ref_linear(l1 + (size_t)(T - 1) * H, H, fw, fb, 10, 0, out);
        /* float32 gates over 100 recurrent steps: the contractive sigmoid/tanh keep the error
         * near the per-step rounding (~1e-6); 1e-4 of the logit range allows approximate
         * exp/tanh in the kernels. */
        double r = rel_diff(y, out, 10);
        CHECK_MSG(r < 1e-4, "%s vs reference: %g", e->name, r);
    }
    free(x);
    free(a);
    free(l0);
    free(l1);
    mr_graph_destroy(g);
}

int main(void) {
    test_names();
    for (int i = 0; i < N_MODELS; i++) test_structure(&models[i]);

    mr_runtime_params rp = mr_runtime_default_params();
    rp.backend = MR_BACKEND_CPU;
    /* debugging aids: MIRIAM_ZOO_THREADS=n workers, MIRIAM_ZOO_ONLY=name one model */
    if (getenv("MIRIAM_ZOO_THREADS")) rp.n_threads = atoi(getenv("MIRIAM_ZOO_THREADS"));
    mr_runtime *rt = NULL;
    char eb[512];
    mr_status st = mr_runtime_create(&rp, &rt, eb, sizeof eb);
    CHECK_STATUS(st, MR_OK, eb, NULL);
    if (st != MR_OK) return mr_test_finish("zoo");

    /* Unknown name through the public API. */
    mr_model *m = (mr_model *)1;
    st = mr_model_load_zoo(rt, "resnet19", NULL, &m);
    CHECK_STATUS(st, MR_ERR_NOT_FOUND, mr_runtime_last_error(rt), "mobilenet_v2");
    CHECK(m == NULL);
    st = mr_model_load(rt, "zoo:vgg19", NULL, &m);
    CHECK_STATUS(st, MR_ERR_NOT_FOUND, mr_runtime_last_error(rt), "squeezenet1_1");

    const char *only = getenv("MIRIAM_ZOO_ONLY");
    for (int i = 0; i < N_MODELS; i++)
        if (!only || strcmp(only, models[i].name) == 0) test_run(rt, &models[i]);
    test_cifarnet_reference(rt);
    test_rnn_reference(rt, &models[7], 0);
    test_rnn_reference(rt, &models[8], 1);

    mr_runtime_destroy(rt);
    return mr_test_finish("zoo");
}
