/* Conv (src/ops/conv.c) against a naive direct-loop reference written here (double
 * accumulation), on random inputs: strides, asymmetric pads, dilations, groups, depthwise and
 * channel-multiplier convs (direct kernel), the 1x1 fast path, auto_pad SAME_UPPER /
 * SAME_LOWER / VALID, 1-D convolution, bias, fused activations (node->act set by hand, as the
 * fusion pass does), batches and layers large enough to need many logical blocks.
 *
 * Tolerance: rtol 1e-4, atol 1e-5 against the double reference. The kernel accumulates in
 * float over K = Cg*KH*KW terms (up to 4608 here, in sgemm's blocked order); with weights
 * scaled by 1/sqrt(K) (PyTorch's default init range) and inputs in [-1, 1] the outputs are
 * O(1) and the accumulated rounding stays around sqrt(K) * 2^-24 ~ 1e-6.
 *
 * The largest cases compare every 7th (or 61st) output only, which keeps the double
 * reference affordable under ASan while still covering every channel and position tile.
 *
 * Every case is also re-run with its logical blocks in reverse and in random order, on
 * NaN-filled output and scratch buffers: blocks must be independent, write every output
 * element they own and need no initialised scratch, so the result must be bit-identical. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/ir.h"
#include "ops/op.h"
#include "testutil.h"

typedef struct conv_case {
    const char *label;
    int nsp; /* spatial dims: 1 or 2 */
    int N, C, M, group;
    int in[2], k[2]; /* spatial extents, ONNX order (nsp entries used) */
    int s[2], d[2];  /* 0: attribute absent (1) */
    int pads[4];     /* begins then ends (2*nsp entries used) when has_pads */
    int has_pads;
    const char *auto_pad; /* NULL: attribute absent */
    int bias;
    int act; /* 0 none, 1 Relu, 2 Clip(-0.25, 0.5) */
    int kernel_shape;
    int expect; /* kernel check: 0 none; 1 1x1 fast path (no scratch, no workspace); 2 two
                   phases (workspace); 3 per-block im2col (scratch); 4 direct (one phase, no
                   workspace) */
    int sample; /* > 1: check only every sample-th output (huge cases) */
} conv_case;

/* 2-D geometry of a case, computed from the ONNX formulas (1-D: H = 1). */
typedef struct geo {
    int H, W, KH, KW, sh, sw, dh, dw, pt, pl, OH, OW;
} geo;

static void dim_geo(int in, int k, int s, int d, const char *ap, int pb, int pe, int *out,
                    int *pbegin) {
    int dk = (k - 1) * d + 1;
    if (ap && (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0)) {
        int o = (in + s - 1) / s, total = (o - 1) * s + dk - in;
        if (total < 0) total = 0;
        *pbegin = strcmp(ap, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
        *out = o;
        return;
    }
    if (ap && strcmp(ap, "VALID") == 0) pb = pe = 0;
    *pbegin = pb;
    *out = (in + pb + pe - dk) / s + 1;
}

static geo case_geo(const conv_case *c) {
    geo g;
    int ns = c->nsp, o[2] = {1, 1}, pb[2] = {0, 0};
    int ins[2] = {1, 1}, ks[2] = {1, 1}, ss[2] = {1, 1}, ds[2] = {1, 1};
    for (int i = 0; i < ns; i++) {
        int j = ns == 1 ? 1 : i;
        ins[j] = c->in[i];
        ks[j] = c->k[i];
        ss[j] = c->s[i] ? c->s[i] : 1;
        ds[j] = c->d[i] ? c->d[i] : 1;
        int b = c->has_pads ? c->pads[i] : 0, e = c->has_pads ? c->pads[i + ns] : 0;
        dim_geo(ins[j], ks[j], ss[j], ds[j], c->auto_pad, b, e, &o[j], &pb[j]);
    }
    g.H = ins[0], g.W = ins[1], g.KH = ks[0], g.KW = ks[1];
    g.sh = ss[0], g.sw = ss[1], g.dh = ds[0], g.dw = ds[1];
    g.pt = pb[0], g.pl = pb[1], g.OH = o[0], g.OW = o[1];
    return g;
}

static double apply_act(int act, double v) {
    if (act == 1) return v > 0 ? v : 0;
    if (act == 2) return v < -0.25 ? -0.25 : v > 0.5 ? 0.5 : v;
    return v;
}

/* One output element (flat index e) of the convolution, accumulated in double. */
static float reference_at(const conv_case *c, const geo *g, const float *x, const float *w,
                          const float *b, size_t e) {
    int Cg = c->C / c->group, Mg = c->M / c->group;
    int ow = (int)(e % (size_t)g->OW), oh = (int)(e / (size_t)g->OW % (size_t)g->OH);
    int m = (int)(e / ((size_t)g->OW * g->OH) % (size_t)c->M);
    int n = (int)(e / ((size_t)g->OW * g->OH * c->M));
    int gi = m / Mg;
    double acc = b ? b[m] : 0.0;
    for (int ci = 0; ci < Cg; ci++)
        for (int kh = 0; kh < g->KH; kh++)
            for (int kw = 0; kw < g->KW; kw++) {
                int ih = oh * g->sh - g->pt + kh * g->dh;
                int iw = ow * g->sw - g->pl + kw * g->dw;
                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
                int cin = gi * Cg + ci;
                acc += (double)x[((size_t)(n * c->C + cin) * g->H + ih) * g->W + iw] *
                       w[((size_t)(m * Cg + ci) * g->KH + kh) * g->KW + kw];
            }
    return (float)apply_act(c->act, acc);
}

static void run_case(const conv_case *c, uint64_t seed) {
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    geo ge = case_geo(c);
    int Cg = c->C / c->group, ns = c->nsp;
    int K = Cg * ge.KH * ge.KW;
    float ws = 1.0f / sqrtf((float)K);
    size_t nx = (size_t)c->N * c->C * ge.H * ge.W, nw = (size_t)c->M * K;
    size_t ny = (size_t)c->N * c->M * ge.OH * ge.OW;
    float *x = mr_test_rand_floats(&rng, nx, -1.0f, 1.0f),
          *w = mr_test_rand_floats(&rng, nw, -ws, ws);
    float *b = c->bias ? mr_test_rand_floats(&rng, (size_t)c->M, -0.5f, 0.5f) : NULL;
    /* the reference, on every `step`-th output only for the huge cases */
    size_t step = c->sample > 1 ? (size_t)c->sample : 1, nref = (ny + step - 1) / step;
    float *ref = malloc(nref * sizeof(float)), *got = malloc(nref * sizeof(float));
    for (size_t e = 0; e < nref; e++) ref[e] = reference_at(c, &ge, x, w, b, e * step);

    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = mr_graph_create(&err);
    CHECK(g != NULL);
    if (!g) return;
    int64_t xd[4] = {c->N, c->C}, wd[4] = {c->M, Cg}, bd[1] = {c->M};
    for (int i = 0; i < ns; i++) xd[2 + i] = c->in[i], wd[2 + i] = c->k[i];
    int in[3];
    in[0] = mr_graph_add_const(g, "X", MR_DTYPE_F32, 2 + ns, xd, x, &err);
    in[1] = mr_graph_add_const(g, "W", MR_DTYPE_F32, 2 + ns, wd, w, &err);
    if (b) in[2] = mr_graph_add_const(g, "B", MR_DTYPE_F32, 1, bd, b, &err);
    int out = mr_graph_add_tensor(g, "Y", &err);
    int node = mr_graph_add_node(g, "c1", "Conv", b ? 3 : 2, in, 1, &out, &err);
    CHECK(node >= 0);
    int64_t v[4];
    if (c->s[0]) {
        for (int i = 0; i < ns; i++) v[i] = c->s[i];
        mr_node_set_ints(g, node, "strides", ns, v, &err);
    }
    if (c->d[0]) {
        for (int i = 0; i < ns; i++) v[i] = c->d[i];
        mr_node_set_ints(g, node, "dilations", ns, v, &err);
    }
    if (c->has_pads) {
        for (int i = 0; i < 2 * ns; i++) v[i] = c->pads[i];
        mr_node_set_ints(g, node, "pads", 2 * ns, v, &err);
    }
    if (c->kernel_shape) {
        for (int i = 0; i < ns; i++) v[i] = c->k[i];
        mr_node_set_ints(g, node, "kernel_shape", ns, v, &err);
    }
    if (c->group != 1) mr_node_set_int(g, node, "group", c->group, &err);
    if (c->auto_pad) mr_node_set_string(g, node, "auto_pad", c->auto_pad, &err);
    if (c->act == 1) g->nodes[node].act = (mr_act){MR_ACT_RELU, 0.0f, 0.0f};
    if (c->act == 2) g->nodes[node].act = (mr_act){MR_ACT_CLIP, -0.25f, 0.5f};

    mr_status st = mr_node_eval(g, node, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st == MR_OK) {
        const mr_tensor_desc *t = &g->tensors[out];
        int64_t want[4] = {c->N, c->M, ns == 1 ? ge.OW : ge.OH, ge.OW};
        int shape_ok = t->ndim == 2 + ns;
        for (int i = 0; shape_ok && i < 2 + ns; i++) shape_ok = t->dims[i] == want[i];
        CHECK_MSG(shape_ok, "%s: output shape", c->label);
        if (shape_ok) {
            double max_abs;
            int64_t worst;
            for (size_t e = 0; e < nref; e++) got[e] = ((const float *)t->data)[e * step];
            int ok = mr_allclose(got, ref, (int64_t)nref, 1e-4f, 1e-5f, &max_abs, &worst);
            CHECK_MSG(ok, "%s: max |diff| %.3g at %lld (got %g, want %g)", c->label, max_abs,
                      (long long)(worst * (int64_t)step), worst >= 0 ? got[worst] : 0.0,
                      worst >= 0 ? ref[worst] : 0.0);
            const mr_node *n = &g->nodes[node];
            int64_t flops = 2LL * c->N * c->M * ge.OH * ge.OW * K;
            CHECK_MSG(n->flops == flops, "%s: flops %lld, want %lld", c->label, (long long)n->flops,
                      (long long)flops);
            CHECK(n->n_blocks >= 1);
            if (c->expect == 1)
                CHECK_MSG(n->scratch_bytes == 0 && n->workspace_bytes == 0 && n->n_phases == 1,
                          "%s: expected the 1x1 kernel", c->label);
            if (c->expect == 4)
                CHECK_MSG(n->workspace_bytes == 0 && n->n_phases == 1,
                          "%s: expected the direct kernel", c->label);
            if (c->expect == 2)
                CHECK_MSG(n->workspace_bytes > 0 && n->n_phases == 2,
                          "%s: expected the two-phase kernel", c->label);
            if (c->expect == 3)
                CHECK_MSG(n->scratch_bytes > 0 && n->n_phases == 1, "%s: expected per-block im2col",
                          c->label);
            mr_test_check_block_order(g, node, &rng, c->label);
        }
    }
    mr_graph_destroy(g);
    free(x);
    free(w);
    free(b);
    free(ref);
    free(got);
}

static void test_numerics(void) {
    /* label, nsp, N, C, M, group, in, k, s, d (0: absent), pads, has_pads, auto_pad, bias,
     * act, kernel_shape, expect, sample */
    // clang-format off
    static const conv_case cases[] = {
        {"3x3 pad 1", 2, 1, 3, 8, 1, {9, 9}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, 1, NULL,
         0, 0, 0, 0, 0},
        {"3x3 pad 1 bias kernel_shape", 2, 1, 3, 8, 1, {9, 7}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, 1,
         NULL, 1, 0, 1, 0, 0},
        {"no padding", 2, 1, 4, 5, 1, {6, 8}, {3, 2}, {0}, {0}, {0}, 0, NULL, 1, 0, 0, 0, 0},
        {"stride 2 asymmetric pads", 2, 1, 3, 6, 1, {11, 10}, {3, 3}, {2, 2}, {0}, {1, 0, 2, 1},
         1, NULL, 1, 0, 0, 0, 0},
        {"stride (3,1)", 2, 2, 2, 4, 1, {13, 7}, {4, 3}, {3, 1}, {0}, {2, 1, 0, 1}, 1, NULL,
         1, 0, 0, 0, 0},
        {"dilation 2 pad 2", 2, 1, 3, 5, 1, {10, 9}, {3, 3}, {0}, {2, 2}, {2, 2, 2, 2}, 1, NULL,
         1, 0, 0, 0, 0},
        {"dilation (2,3) stride 2", 2, 1, 2, 4, 1, {15, 16}, {3, 2}, {2, 2}, {2, 3}, {1, 2, 0, 1},
         1, NULL, 0, 0, 0, 0, 0},
        {"group 2", 2, 1, 4, 6, 2, {8, 8}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, 1, NULL,
         1, 0, 0, 0, 0},
        {"group 4 batch 2 stride 2", 2, 2, 8, 12, 4, {9, 10}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1},
         1, NULL, 1, 1, 0, 0, 0},
        {"depthwise 3x3", 2, 1, 8, 8, 8, {12, 11}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, 1, NULL,
         1, 0, 0, 4, 0},
        {"depthwise stride 2 relu", 2, 2, 16, 16, 16, {13, 14}, {3, 3}, {2, 2}, {0},
         {1, 1, 1, 1}, 1, NULL, 1, 1, 0, 4, 0},
        {"depthwise dilation 2 asymmetric", 2, 1, 5, 5, 5, {11, 12}, {3, 5}, {1, 2}, {2, 2},
         {0, 3, 2, 1}, 1, NULL, 0, 0, 0, 4, 0},
        {"depthwise 5x5 large (many blocks)", 2, 1, 64, 64, 64, {56, 56}, {5, 5}, {0}, {0},
         {2, 2, 2, 2}, 1, NULL, 1, 2, 0, 4, 0},
        {"depthwise pads wider than the kernel", 2, 1, 3, 3, 3, {4, 3}, {3, 3}, {1, 3}, {0},
         {4, 5, 2, 6}, 1, NULL, 1, 0, 0, 4, 0},
        {"channel multiplier 3 stride 2 dilation 2", 2, 2, 2, 6, 2, {11, 12}, {3, 4}, {2, 2},
         {2, 2}, {2, 1, 1, 3}, 1, NULL, 1, 1, 0, 4, 0},
        {"channel multiplier 2", 2, 1, 4, 8, 4, {9, 9}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, 1, NULL,
         1, 0, 0, 4, 0},
        {"single input channel", 2, 2, 1, 6, 1, {10, 10}, {3, 3}, {2, 1}, {0}, {1, 1, 1, 1}, 1,
         NULL, 1, 0, 0, 4, 0},
        {"1x1 fast path", 2, 1, 16, 32, 1, {7, 9}, {1, 1}, {0}, {0}, {0}, 0, NULL,
         1, 1, 0, 1, 0},
        {"1x1 fast path groups batch", 2, 3, 12, 8, 2, {5, 6}, {1, 1}, {0}, {0}, {0}, 0, NULL,
         1, 0, 0, 1, 0},
        {"1x1 large (many blocks)", 2, 1, 256, 192, 1, {28, 28}, {1, 1}, {0}, {0}, {0}, 0, NULL,
         1, 1, 0, 1, 7},
        {"1x1 stride 2 (im2col)", 2, 1, 8, 16, 1, {9, 9}, {1, 1}, {2, 2}, {0}, {0}, 0, NULL,
         1, 0, 0, 0, 0},
        {"1x1 padded (im2col)", 2, 1, 8, 16, 1, {5, 5}, {1, 1}, {0}, {0}, {1, 0, 0, 1}, 1, NULL,
         1, 0, 0, 0, 0},
        {"pads wider than the kernel (im2col)", 2, 1, 2, 3, 1, {4, 3}, {3, 3}, {1, 3}, {0},
         {4, 5, 2, 6}, 1, NULL, 1, 0, 0, 0, 0},
        {"SAME_UPPER stride 2", 2, 1, 3, 4, 1, {7, 8}, {4, 3}, {2, 2}, {0}, {0}, 0, "SAME_UPPER",
         1, 0, 0, 0, 0},
        {"SAME_LOWER stride 2", 2, 1, 3, 4, 1, {7, 8}, {4, 3}, {2, 2}, {0}, {0}, 0, "SAME_LOWER",
         1, 0, 0, 0, 0},
        {"SAME_UPPER stride 1 even kernel", 2, 1, 2, 3, 1, {6, 5}, {2, 4}, {0}, {0}, {0}, 0,
         "SAME_UPPER", 0, 0, 0, 0, 0},
        {"SAME_LOWER dilated", 2, 1, 2, 3, 1, {9, 6}, {3, 2}, {0}, {2, 2}, {0}, 0, "SAME_LOWER",
         0, 0, 0, 0, 0},
        {"VALID (pads ignored)", 2, 1, 3, 4, 1, {8, 7}, {3, 3}, {2, 2}, {0}, {0}, 0, "VALID",
         1, 0, 0, 0, 0},
        {"NOTSET explicit", 2, 1, 3, 4, 1, {8, 7}, {3, 3}, {0}, {0}, {0, 1, 1, 0}, 1, "NOTSET",
         1, 0, 0, 0, 0},
        {"1-D basic", 1, 1, 3, 5, 1, {20}, {3}, {0}, {0}, {1, 1}, 1, NULL, 1, 0, 0, 0, 0},
        {"1-D stride dilation group", 1, 2, 4, 6, 2, {31}, {5}, {3}, {2}, {2, 4}, 1, NULL,
         1, 1, 1, 0, 0},
        {"1-D depthwise SAME_UPPER", 1, 1, 6, 6, 6, {17}, {4}, {2}, {0}, {0}, 0, "SAME_UPPER",
         1, 0, 0, 4, 0},
        {"1-D 1x1", 1, 1, 6, 7, 1, {19}, {1}, {0}, {0}, {0}, 0, NULL, 1, 0, 0, 1, 0},
        {"ResNet-like 3x3 64->64 (many blocks)", 2, 2, 64, 64, 1, {28, 28}, {3, 3}, {0}, {0},
         {1, 1, 1, 1}, 1, NULL, 1, 1, 0, 3, 7},
        {"stem 7x7 stride 2", 2, 1, 3, 16, 1, {40, 36}, {7, 7}, {2, 2}, {0}, {3, 3, 3, 3}, 1,
         NULL, 1, 1, 0, 0, 0},
        {"K = 4608 (512 channels 3x3)", 2, 1, 512, 40, 1, {6, 6}, {3, 3}, {0}, {0},
         {1, 1, 1, 1}, 1, NULL, 1, 0, 0, 0, 0},
        {"odd sizes M=70 P=45 (ragged tiles)", 2, 1, 40, 70, 1, {5, 9}, {3, 3}, {0}, {0},
         {1, 1, 1, 1}, 1, NULL, 1, 2, 0, 0, 0},
        {"large M (channel tiles, two phases)", 2, 1, 32, 300, 1, {12, 12}, {3, 3}, {0}, {0},
         {1, 1, 1, 1}, 1, NULL, 1, 0, 0, 2, 0},
        {"two phases, groups, batch", 2, 2, 512, 512, 2, {5, 5}, {3, 3}, {0}, {0},
         {1, 1, 1, 1}, 1, NULL, 1, 1, 0, 2, 7},
        {"two phases, stride 2 1x1 (ResNet downsample)", 2, 1, 256, 512, 1, {14, 14}, {1, 1},
         {2, 2}, {0}, {0}, 0, NULL, 1, 0, 0, 2, 0},
        {"channel tiles without workspace (column matrix > 64 MB)", 2, 2, 64, 256, 1,
         {128, 128}, {3, 3}, {0}, {0}, {1, 1, 1, 1}, 1, NULL, 1, 1, 0, 3, 61},
    };
    // clang-format on
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 100 + i);
}

/* Large layers must be split into many logical blocks (several per worker). */
static void test_tiling(void) {
    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = mr_graph_create(&err);
    int64_t xd[4] = {1, 64, 56, 56}, wd[4] = {64, 64, 3, 3};
    size_t nx = 64 * 56 * 56, nw = 64 * 64 * 9;
    float *x = calloc(nx, sizeof(float)), *w = calloc(nw, sizeof(float));
    int in[2] = {mr_graph_add_const(g, "X", MR_DTYPE_F32, 4, xd, x, &err),
                 mr_graph_add_const(g, "W", MR_DTYPE_F32, 4, wd, w, &err)};
    int out = mr_graph_add_tensor(g, "Y", &err);
    int node = mr_graph_add_node(g, "c1", "Conv", 2, in, 1, &out, &err);
    int64_t pads[4] = {1, 1, 1, 1};
    mr_node_set_ints(g, node, "pads", 4, pads, &err);
    mr_status st = mr_node_eval(g, node, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    const mr_node *n = &g->nodes[node];
    /* 231 MFLOP: at ~10 MFLOP per block that is a couple of dozen blocks */
    CHECK_MSG(n->n_blocks >= 8, "n_blocks %lld", (long long)n->n_blocks);
    CHECK_MSG(n->flops / (n->n_blocks ? n->n_blocks : 1) <= 64LL << 20,
              "blocks of %lld flops are too long", (long long)(n->flops / n->n_blocks));
    CHECK(n->scratch_bytes > 0 || n->workspace_bytes > 0);
    mr_graph_destroy(g);
    free(x);
    free(w);
}

/* Builds X, W (constant or not), optional B and a Conv node "c1"; returns the node index. */
static int build(mr_graph *g, int xr, const int64_t *xd, int wr, const int64_t *wd, int w_const,
                 int bn, mr_dtype xt, mr_err *err) {
    int64_t nx = 1, nw = 1;
    for (int i = 0; i < xr; i++) nx *= xd[i];
    for (int i = 0; i < wr; i++) nw *= wd[i];
    void *xb = calloc((size_t)nx, 8), *wb = calloc((size_t)nw, 4), *bb = calloc(16, 4);
    int in[3];
    in[0] = mr_graph_add_const(g, "X", xt, xr, xd, xb, err);
    if (w_const) {
        in[1] = mr_graph_add_const(g, "W", MR_DTYPE_F32, wr, wd, wb, err);
    } else {
        in[1] = mr_graph_add_tensor(g, "W", err);
        mr_tensor_desc *t = &g->tensors[in[1]];
        t->dtype = MR_DTYPE_F32;
        t->ndim = wr;
        for (int i = 0; i < wr; i++) t->dims[i] = wd[i];
    }
    if (bn) {
        int64_t bd[1] = {bn};
        in[2] = mr_graph_add_const(g, "B", MR_DTYPE_F32, 1, bd, bb, err);
    }
    int out = mr_graph_add_tensor(g, "Y", err);
    free(xb);
    free(wb);
    free(bb);
    return mr_graph_add_node(g, "c1", "Conv", bn ? 3 : 2, in, 1, &out, err);
}

static void test_errors(void) {
    mr_err err;
    mr_status st;
    mr_graph *g;
    int node;
    {
        /* channel mismatch */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[4] = {1, 3, 5, 5}, wd[4] = {2, 4, 3, 3};
        node = build(g, 4, xd, 4, wd, 1, 0, MR_DTYPE_F32, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_SHAPE, err.msg,
                     "Conv node 'c1': input has 3 channels but W expects 4 (group 1)");
        mr_graph_destroy(g);
    }
    {
        /* channel mismatch with groups */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[4] = {1, 6, 5, 5}, wd[4] = {4, 2, 3, 3};
        node = build(g, 4, xd, 4, wd, 1, 0, MR_DTYPE_F32, &err);
        mr_node_set_int(g, node, "group", 2, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "input has 6 channels but W expects 4 (group 2)");
        mr_graph_destroy(g);
    }
    {
        /* M not a multiple of group */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {3, 2, 3, 3};
        node = build(g, 4, xd, 4, wd, 1, 0, MR_DTYPE_F32, &err);
        mr_node_set_int(g, node, "group", 2, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "'c1'");
        mr_graph_destroy(g);
    }
    {
        /* 3-D convolution */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[5] = {1, 2, 4, 4, 4}, wd[5] = {2, 2, 3, 3, 3};
        node = build(g, 5, xd, 5, wd, 1, 0, MR_DTYPE_F32, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "Conv node 'c1'");
        CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "3-D");
        mr_graph_destroy(g);
    }
    {
        /* W not constant: infer called directly (mr_node_eval needs data on every input) */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {2, 2, 3, 3};
        node = build(g, 4, xd, 4, wd, 0, 0, MR_DTYPE_F32, &err);
        mr_node *n = &g->nodes[node];
        st = mr_node_bind_op(g, n, &err);
        CHECK_STATUS(st, MR_OK, err.msg, NULL);
        if (st == MR_OK) {
            st = n->op->infer(g, n, &err);
            CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "'c1'");
            CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "constant");
        }
        mr_graph_destroy(g);
    }
    {
        /* bias of the wrong length */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3};
        node = build(g, 4, xd, 4, wd, 1, 4, MR_DTYPE_F32, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "'c1'");
        mr_graph_destroy(g);
    }
    {
        /* kernel larger than the padded input */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[4] = {1, 2, 3, 3}, wd[4] = {3, 2, 5, 5};
        node = build(g, 4, xd, 4, wd, 1, 0, MR_DTYPE_F32, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "'c1'");
        mr_graph_destroy(g);
    }
    {
        /* kernel_shape disagreeing with W */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[4] = {1, 2, 6, 6}, wd[4] = {3, 2, 3, 3}, ks[2] = {3, 2};
        node = build(g, 4, xd, 4, wd, 1, 0, MR_DTYPE_F32, &err);
        mr_node_set_ints(g, node, "kernel_shape", 2, ks, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "kernel_shape");
        mr_graph_destroy(g);
    }
    {
        /* bad attribute values */
        static const struct {
            const char *attr;
            int kind; /* 0 string, 1 ints, 2 int */
            int64_t v[4];
            const char *s;
        } bad[] = {
            {"auto_pad", 0, {0}, "SAME"},    {"strides", 1, {0, 1}, NULL},
            {"dilations", 1, {1, -1}, NULL}, {"pads", 1, {-1, 0, 0, 0}, NULL},
            {"group", 2, {0}, NULL},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            mr_err_clear(&err);
            g = mr_graph_create(&err);
            int64_t xd[4] = {1, 2, 6, 6}, wd[4] = {3, 2, 3, 3};
            node = build(g, 4, xd, 4, wd, 1, 0, MR_DTYPE_F32, &err);
            if (bad[i].kind == 0) mr_node_set_string(g, node, bad[i].attr, bad[i].s, &err);
            if (bad[i].kind == 1)
                mr_node_set_ints(g, node, bad[i].attr, strcmp(bad[i].attr, "pads") ? 2 : 4,
                                 bad[i].v, &err);
            if (bad[i].kind == 2) mr_node_set_int(g, node, bad[i].attr, bad[i].v[0], &err);
            st = mr_node_eval(g, node, &err);
            CHECK_MSG(st != MR_OK, "bad %s accepted", bad[i].attr);
            CHECK_STATUS(st, st == MR_OK ? MR_ERR_UNSUPPORTED : st, err.msg, bad[i].attr);
            CHECK_STATUS(st, st == MR_OK ? MR_ERR_UNSUPPORTED : st, err.msg, "'c1'");
            mr_graph_destroy(g);
        }
    }
    {
        /* pads of the wrong length */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[4] = {1, 2, 6, 6}, wd[4] = {3, 2, 3, 3}, pads[2] = {1, 1};
        node = build(g, 4, xd, 4, wd, 1, 0, MR_DTYPE_F32, &err);
        mr_node_set_ints(g, node, "pads", 2, pads, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "pads");
        mr_graph_destroy(g);
    }
    {
        /* non-float input */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[4] = {1, 2, 6, 6}, wd[4] = {3, 2, 3, 3};
        node = build(g, 4, xd, 4, wd, 1, 0, MR_DTYPE_I64, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "float32");
        mr_graph_destroy(g);
    }
    {
        /* rank 2 input */
        mr_err_clear(&err);
        g = mr_graph_create(&err);
        int64_t xd[2] = {1, 2}, wd[2] = {3, 2};
        node = build(g, 2, xd, 2, wd, 1, 0, MR_DTYPE_F32, &err);
        st = mr_node_eval(g, node, &err);
        CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "'c1'");
        mr_graph_destroy(g);
    }
}

int main(void) {
    test_numerics();
    test_tiling();
    test_errors();
    return mr_test_finish("ops_conv");
}
