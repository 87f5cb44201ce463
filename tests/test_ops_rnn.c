/* LSTM and GRU (src/ops/rnn.c) against a naive double-precision reference written here
 * straight from the ONNX equations, on random weights and inputs.
 *
 * Tolerance: rtol 1e-4, atol 1e-5. The kernel accumulates in float (BLAS sgemm/sgemv over
 * I + H terms) and uses the library's polynomial sigmoid/tanh (a few ulp); the recurrence
 * feeds each step's rounding into the next, but the saturating activations (|sigma'| <= 1/4,
 * |tanh'| <= 1) and weights of magnitude <= 1/sqrt(H) keep that growth bounded, so the
 * observed error stays around 1e-6 for the sizes used here.
 *
 * Besides mr_node_eval (blocks in order), every case is re-run with the blocks of each phase
 * in a random order, with the workspace, scratch and outputs pre-filled with NaN: this checks
 * the elastic contract (blocks of a phase are independent, the workspace needs no
 * initialisation, every output element is written) and must give bit-identical results. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/ir.h"
#include "ops/op.h"
#include "testutil.h"

typedef struct cfg {
    int gru;
    int S, B, I, H;
    int dirs, rev; /* dirs 2 = bidirectional; rev: direction "reverse" (dirs 1) */
    int layout, lbr;
    int has_b, has_h0, has_c0, has_p, seq_lens;
    int outs; /* bit 0: Y, bit 1: Y_h, bit 2: Y_c */
} cfg;

static double sig(double v) {
    return 1.0 / (1.0 + exp(-v));
}

/* The reference: one direction at a time, plain loops, double accumulation. */
static void reference(const cfg *c, const float *X, const float *W, const float *R, const float *Bv,
                      const float *h0, const float *c0, const float *P, double *Y, double *Yh,
                      double *Yc) {
    int S = c->S, B = c->B, I = c->I, H = c->H, D = c->dirs, G = c->gru ? 3 : 4;
    double *h = calloc((size_t)(B * H), sizeof(double));
    double *cs = calloc((size_t)(B * H), sizeof(double));
    double *hn = calloc((size_t)(B * H), sizeof(double));
    double *gates = calloc((size_t)(G * H), sizeof(double));
    double *zv = calloc((size_t)H, sizeof(double)), *rv = calloc((size_t)H, sizeof(double));
    for (int d = 0; d < D; d++) {
        int rev = D == 2 ? d == 1 : c->rev;
        const float *Wd = W + (size_t)d * G * H * I, *Rd = R + (size_t)d * G * H * H;
        const float *Wb = Bv ? Bv + (size_t)d * 2 * G * H : NULL, *Rb = Wb ? Wb + G * H : NULL;
        for (int b = 0; b < B; b++)
            for (int u = 0; u < H; u++) {
                /* initial_h/initial_c: [D,B,H] (layout 0) or [B,D,H] (layout 1) */
                int hi = c->layout ? (b * D + d) * H + u : (d * B + b) * H + u;
                h[b * H + u] = h0 ? h0[hi] : 0.0;
                cs[b * H + u] = c0 ? c0[hi] : 0.0;
            }
        for (int k = 0; k < S; k++) {
            int t = rev ? S - 1 - k : k;
            for (int b = 0; b < B; b++) {
                const float *x = X + (size_t)(c->layout ? b * S + t : t * B + b) * I;
                const double *hp = h + b * H;
                /* x W^T + Wb, per gate row */
                for (int row = 0; row < G * H; row++) {
                    double a = Wb ? Wb[row] : 0.0;
                    for (int i = 0; i < I; i++) a += (double)x[i] * Wd[(size_t)row * I + i];
                    gates[row] = a;
                }
                if (!c->gru) {
                    const float *Pd = P ? P + (size_t)d * 3 * H : NULL;
                    for (int u = 0; u < H; u++) {
                        /* gate order i, o, f, c; P = [p_i, p_o, p_f] */
                        double g4[4];
                        for (int g = 0; g < 4; g++) {
                            int row = g * H + u;
                            double a = gates[row] + (Rb ? Rb[row] : 0.0);
                            for (int j = 0; j < H; j++) a += hp[j] * Rd[(size_t)row * H + j];
                            g4[g] = a;
                        }
                        double cp = cs[b * H + u];
                        double it = sig(g4[0] + (Pd ? Pd[u] * cp : 0.0));
                        double ft = sig(g4[2] + (Pd ? Pd[2 * H + u] * cp : 0.0));
                        double ct = tanh(g4[3]);
                        double cn = ft * cp + it * ct;
                        double ot = sig(g4[1] + (Pd ? Pd[H + u] * cn : 0.0));
                        hn[b * H + u] = ot * tanh(cn);
                        cs[b * H + u] = cn; /* read only by this unit */
                    }
                } else {
                    /* gate order z, r, h */
                    for (int u = 0; u < H; u++)
                        for (int g = 0; g < 2; g++) {
                            int row = g * H + u;
                            double a = gates[row] + (Rb ? Rb[row] : 0.0);
                            for (int j = 0; j < H; j++) a += hp[j] * Rd[(size_t)row * H + j];
                            (g == 0 ? zv : rv)[u] = sig(a);
                        }
                    for (int u = 0; u < H; u++) {
                        int row = 2 * H + u;
                        double rbh = Rb ? Rb[row] : 0.0, a = 0.0, hh;
                        if (c->lbr) {
                            /* ht = g(Xt*Wh^T + rt (.) (Ht-1*Rh^T + Rbh) + Wbh) */
                            for (int j = 0; j < H; j++) a += hp[j] * Rd[(size_t)row * H + j];
                            hh = tanh(gates[row] + rv[u] * (a + rbh));
                        } else {
                            /* ht = g(Xt*Wh^T + (rt (.) Ht-1)*Rh^T + Rbh + Wbh) */
                            for (int j = 0; j < H; j++)
                                a += rv[j] * hp[j] * Rd[(size_t)row * H + j];
                            hh = tanh(gates[row] + a + rbh);
                        }
                        hn[b * H + u] = (1.0 - zv[u]) * hh + zv[u] * hp[u];
                    }
                }
            }
            memcpy(h, hn, sizeof(double) * (size_t)(B * H));
            for (int b = 0; b < B; b++)
                for (int u = 0; u < H; u++) {
                    size_t yi = c->layout ? ((size_t)(b * S + t) * D + d) * H + u
                                          : ((size_t)(t * D + d) * B + b) * H + u;
                    Y[yi] = h[b * H + u];
                }
        }
        for (int b = 0; b < B; b++)
            for (int u = 0; u < H; u++) {
                int i = c->layout ? (b * D + d) * H + u : (d * B + b) * H + u;
                Yh[i] = h[b * H + u];
                Yc[i] = cs[b * H + u];
            }
    }
    free(h);
    free(cs);
    free(hn);
    free(gates);
    free(zv);
    free(rv);
}

/* Runs every phase with its blocks in a random order on fresh NaN-filled buffers and checks
 * the outputs are bit-identical to those of mr_node_eval. */
static void check_shuffled(mr_graph *g, int node, mr_rng *rng, const char *label) {
    mr_node *n = &g->nodes[node];
    mr_step s;
    memset(&s, 0, sizeof s);
    s.op = n->op;
    s.node = n;
    s.n_in = n->n_in;
    s.n_out = n->n_out;
    for (int i = 0; i < n->n_in; i++) {
        const mr_tensor_desc *t = mr_node_input(g, n, i);
        if (t) s.in[i] = (mr_tview){t->data, t->dtype, t->ndim, t->dims, mr_desc_numel(t)};
    }
    float *outs[3] = {NULL, NULL, NULL};
    for (int i = 0; i < n->n_out; i++) {
        const mr_tensor_desc *t = mr_node_output(g, n, i);
        if (!t) continue;
        int64_t ne = mr_desc_numel(t);
        outs[i] = malloc((size_t)ne * sizeof(float));
        for (int64_t e = 0; e < ne; e++) outs[i][e] = NAN;
        s.out[i] = (mr_tview){outs[i], t->dtype, t->ndim, t->dims, ne};
    }
    size_t wsf = n->workspace_bytes / sizeof(float), scf = n->scratch_bytes / sizeof(float);
    float *ws = aligned_alloc(64, (n->workspace_bytes + 63) / 64 * 64 + 64);
    float *sc = aligned_alloc(64, (n->scratch_bytes + 63) / 64 * 64 + 64);
    for (size_t e = 0; e < wsf; e++) ws[e] = NAN;
    for (size_t e = 0; e < scf; e++) sc[e] = NAN;
    s.workspace = ws;
    int64_t nb = n->n_blocks;
    int64_t *perm = malloc((size_t)nb * sizeof(int64_t));
    for (int ph = 0; ph < n->n_phases; ph++) {
        for (int64_t i = 0; i < nb; i++) perm[i] = i;
        for (int64_t i = nb - 1; i > 0; i--) {
            int64_t j = (int64_t)(mr_rng_u64(rng) % (uint64_t)(i + 1)), tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        for (int64_t i = 0; i < nb; i++) n->op->run_block(&s, ph * nb + perm[i], sc);
    }
    for (int i = 0; i < n->n_out; i++) {
        const mr_tensor_desc *t = mr_node_output(g, n, i);
        if (!t) continue;
        CHECK_MSG(memcmp(outs[i], t->data, (size_t)mr_desc_numel(t) * sizeof(float)) == 0,
                  "%s: output %d differs when blocks run out of order", label, i);
        free(outs[i]);
    }
    free(perm);
    free(ws);
    free(sc);
}

/* Builds the node, evaluates it and compares every present output with the reference. */
static void run_case(const cfg *c, uint64_t seed, const char *label) {
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    int S = c->S, B = c->B, I = c->I, H = c->H, D = c->dirs, G = c->gru ? 3 : 4;
    float k = 1.0f / sqrtf((float)H); /* PyTorch's init range */
    size_t nx = (size_t)S * B * I, nw = (size_t)D * G * H * I, nr = (size_t)D * G * H * H;
    size_t nb = (size_t)D * 2 * G * H, nh = (size_t)D * B * H, np = (size_t)D * 3 * H;
    float *X = mr_test_rand_floats(&rng, nx, -1.0f, 1.0f),
          *W = mr_test_rand_floats(&rng, nw, -k, k), *R = mr_test_rand_floats(&rng, nr, -k, k);
    float *Bv = c->has_b ? mr_test_rand_floats(&rng, nb, -k, k) : NULL;
    float *h0 = c->has_h0 ? mr_test_rand_floats(&rng, nh, -1.0f, 1.0f) : NULL;
    float *c0 = c->has_c0 ? mr_test_rand_floats(&rng, nh, -1.0f, 1.0f) : NULL;
    float *P = c->has_p ? mr_test_rand_floats(&rng, np, -0.5f, 0.5f) : NULL;
    size_t ny = (size_t)S * D * B * H;
    double *Y = calloc(ny, sizeof(double)), *Yh = calloc(nh, sizeof(double));
    double *Yc = calloc(nh, sizeof(double));
    reference(c, X, W, R, Bv, h0, c0, P, Y, Yh, Yc);

    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = mr_graph_create(&err);
    CHECK(g != NULL);
    if (!g) return;
    int64_t xd[3] = {c->layout ? B : S, c->layout ? S : B, I};
    int64_t wd[3] = {D, G * H, I}, rd[3] = {D, G * H, H}, bd[2] = {D, 2 * G * H};
    int64_t hd[3] = {c->layout ? B : D, c->layout ? D : B, H}, pd[2] = {D, 3 * H}, sd[1] = {B};
    int in[8] = {-1, -1, -1, -1, -1, -1, -1, -1}, n_in = 3;
    in[0] = mr_graph_add_const(g, "X", MR_DTYPE_F32, 3, xd, X, &err);
    in[1] = mr_graph_add_const(g, "W", MR_DTYPE_F32, 3, wd, W, &err);
    in[2] = mr_graph_add_const(g, "R", MR_DTYPE_F32, 3, rd, R, &err);
    if (Bv) in[3] = mr_graph_add_const(g, "B", MR_DTYPE_F32, 2, bd, Bv, &err), n_in = 4;
    if (c->seq_lens) {
        int32_t *sl = malloc((size_t)B * sizeof(int32_t));
        for (int b = 0; b < B; b++) sl[b] = S;
        in[4] = mr_graph_add_const(g, "seq_lens", MR_DTYPE_I32, 1, sd, sl, &err);
        n_in = 5;
        free(sl);
    }
    if (h0) in[5] = mr_graph_add_const(g, "h0", MR_DTYPE_F32, 3, hd, h0, &err), n_in = 6;
    if (c0) in[6] = mr_graph_add_const(g, "c0", MR_DTYPE_F32, 3, hd, c0, &err), n_in = 7;
    if (P) in[7] = mr_graph_add_const(g, "P", MR_DTYPE_F32, 2, pd, P, &err), n_in = 8;
    int out[3] = {-1, -1, -1}, n_out = 0;
    static const char *const onames[3] = {"Y", "Y_h", "Y_c"};
    for (int i = 0; i < (c->gru ? 2 : 3); i++)
        if (c->outs & (1 << i)) {
            out[i] = mr_graph_add_tensor(g, onames[i], &err);
            n_out = i + 1;
        }
    int node = mr_graph_add_node(g, "rnn0", c->gru ? "GRU" : "LSTM", n_in, in, n_out, out, &err);
    CHECK(node >= 0);
    mr_node_set_int(g, node, "hidden_size", H, &err);
    if (D == 2 || c->rev)
        mr_node_set_string(g, node, "direction", D == 2 ? "bidirectional" : "reverse", &err);
    if (c->layout) mr_node_set_int(g, node, "layout", 1, &err);
    if (c->gru) mr_node_set_int(g, node, "linear_before_reset", c->lbr, &err);

    mr_status st = mr_node_eval(g, node, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st == MR_OK) {
        const double *refs[3] = {Y, Yh, Yc};
        size_t counts[3] = {ny, nh, nh};
        for (int i = 0; i < 3; i++) {
            if (out[i] < 0) continue;
            const mr_tensor_desc *t = &g->tensors[out[i]];
            CHECK_MSG((size_t)mr_desc_numel(t) == counts[i], "%s: output %d has %lld elements",
                      label, i, (long long)mr_desc_numel(t));
            if ((size_t)mr_desc_numel(t) != counts[i]) continue;
            float *ref = malloc(counts[i] * sizeof(float));
            for (size_t e = 0; e < counts[i]; e++) ref[e] = (float)refs[i][e];
            double max_abs;
            int64_t worst;
            int ok = mr_allclose(t->data, ref, (int64_t)counts[i], 1e-4f, 1e-5f, &max_abs, &worst);
            CHECK_MSG(ok, "%s: output %s max |diff| %.3g at %lld (got %g, want %g)", label,
                      onames[i], max_abs, (long long)worst,
                      worst >= 0 ? ((const float *)t->data)[worst] : 0.0,
                      worst >= 0 ? ref[worst] : 0.0);
            free(ref);
        }
        const mr_node *n = &g->nodes[node];
        CHECK(n->n_phases == 1 + S * (c->gru && !c->lbr ? 2 : 1));
        CHECK(n->n_blocks >= 1 && n->flops > 0);
        check_shuffled(g, node, &rng, label);
    }
    mr_graph_destroy(g);
    free(X);
    free(W);
    free(R);
    free(Bv);
    free(h0);
    free(c0);
    free(P);
    free(Y);
    free(Yh);
    free(Yc);
}

static void test_numerics(void) {
    /* gru, S, B, I, H, dirs, rev, layout, lbr, has_b, has_h0, has_c0, has_p, seq_lens, outs */
    static const struct {
        cfg c;
        const char *label;
    } cases[] = {
        {{0, 4, 1, 3, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2}, "lstm defaults, Y_h only"},
        {{0, 5, 3, 4, 6, 1, 0, 0, 0, 1, 0, 0, 0, 0, 7}, "lstm forward batch 3 with B"},
        {{0, 5, 2, 4, 6, 1, 1, 0, 0, 1, 1, 1, 0, 0, 7}, "lstm reverse initial state"},
        {{0, 6, 2, 3, 5, 2, 0, 0, 0, 1, 1, 1, 1, 1, 7}, "lstm bidirectional peepholes seq_lens"},
        {{0, 4, 3, 5, 4, 2, 0, 1, 0, 1, 1, 1, 1, 0, 7}, "lstm layout 1 bidirectional"},
        {{0, 4, 2, 3, 4, 1, 1, 1, 0, 0, 1, 0, 0, 0, 6}, "lstm layout 1 reverse, Y_h+Y_c"},
        {{0, 5, 2, 3, 4, 1, 0, 0, 0, 1, 0, 0, 1, 0, 1}, "lstm Y only, peepholes"},
        {{0, 7, 1, 20, 64, 2, 0, 0, 0, 1, 1, 1, 1, 0, 7}, "lstm H=64 several tiles"},
        {{0, 5, 2, 9, 100, 2, 0, 0, 0, 1, 1, 1, 0, 0, 7}, "lstm H=100 ragged tiles batch 2"},
        {{0, 20, 2, 512, 64, 1, 0, 0, 0, 1, 0, 0, 0, 0, 7}, "lstm many projection tiles"},
        {{0, 20, 2, 512, 64, 1, 0, 1, 0, 1, 1, 1, 0, 0, 7}, "lstm projection tiles layout 1"},
        {{1, 4, 1, 3, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2}, "gru defaults, Y_h only"},
        {{1, 5, 3, 4, 6, 1, 0, 0, 0, 1, 0, 0, 0, 0, 3}, "gru forward batch 3 with B"},
        {{1, 5, 3, 4, 6, 1, 0, 0, 1, 1, 0, 0, 0, 0, 3}, "gru lbr=1 batch 3 with B"},
        {{1, 5, 2, 4, 6, 1, 1, 0, 0, 1, 1, 0, 0, 1, 3}, "gru reverse initial_h seq_lens"},
        {{1, 5, 2, 4, 6, 1, 1, 0, 1, 1, 1, 0, 0, 0, 3}, "gru lbr=1 reverse initial_h"},
        {{1, 6, 2, 3, 5, 2, 0, 0, 0, 1, 1, 0, 0, 0, 3}, "gru bidirectional"},
        {{1, 6, 2, 3, 5, 2, 0, 0, 1, 1, 1, 0, 0, 0, 3}, "gru lbr=1 bidirectional"},
        {{1, 4, 3, 5, 4, 2, 0, 1, 0, 1, 1, 0, 0, 0, 3}, "gru layout 1 bidirectional"},
        {{1, 4, 3, 5, 4, 2, 0, 1, 1, 1, 1, 0, 0, 0, 3}, "gru lbr=1 layout 1 bidirectional"},
        {{1, 5, 2, 3, 4, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1}, "gru lbr=1 Y only"},
        {{1, 7, 1, 20, 64, 2, 0, 0, 0, 1, 1, 0, 0, 0, 3}, "gru H=64 several tiles"},
        {{1, 7, 1, 20, 64, 2, 0, 0, 1, 1, 1, 0, 0, 0, 3}, "gru lbr=1 H=64 several tiles"},
        {{1, 5, 2, 9, 100, 2, 0, 0, 0, 1, 1, 0, 0, 0, 3}, "gru H=100 ragged tiles batch 2"},
        {{1, 5, 2, 9, 100, 2, 0, 0, 1, 1, 1, 0, 0, 0, 3}, "gru lbr=1 H=100 ragged batch 2"},
        {{1, 20, 2, 512, 100, 1, 0, 0, 1, 1, 0, 0, 0, 0, 3}, "gru many projection tiles"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i].c, 1000 + i, cases[i].label);
}

/* A batch-1, H=512 layer (the zoo's shape) must give several workers a share of each step:
 * count the blocks of the first recurrent phase that write part of Y. */
static void test_tiling(void) {
    for (int gru = 0; gru < 2; gru++) {
        cfg c = {gru, 3, 1, 16, 512, 1, 0, 0, 1, 1, 0, 0, 0, 0, 3};
        run_case(&c, 77 + gru, gru ? "gru H=512" : "lstm H=512");

        mr_rng rng;
        mr_rng_seed(&rng, 5);
        mr_err err;
        mr_err_clear(&err);
        mr_graph *g = mr_graph_create(&err);
        int G = gru ? 3 : 4, S = 50, I = 256, H = 512;
        int64_t xd[3] = {S, 1, I}, wd[3] = {1, G * H, I}, rd[3] = {1, G * H, H};
        float *X = mr_test_rand_floats(&rng, (size_t)S * I, -1, 1),
              *W = mr_test_rand_floats(&rng, (size_t)G * H * I, -0.04f, 0.04f);
        float *R = mr_test_rand_floats(&rng, (size_t)G * H * H, -0.04f, 0.04f);
        int in[3] = {mr_graph_add_const(g, "X", MR_DTYPE_F32, 3, xd, X, &err),
                     mr_graph_add_const(g, "W", MR_DTYPE_F32, 3, wd, W, &err),
                     mr_graph_add_const(g, "R", MR_DTYPE_F32, 3, rd, R, &err)};
        int out[1] = {mr_graph_add_tensor(g, "Y", &err)};
        int node = mr_graph_add_node(g, "big", gru ? "GRU" : "LSTM", 3, in, 1, out, &err);
        mr_node_set_int(g, node, "hidden_size", H, &err);
        if (gru) mr_node_set_int(g, node, "linear_before_reset", 1, &err);
        mr_node *n = &g->nodes[node];
        n->op = mr_op_find(n->op_type);
        CHECK_STATUS(n->op->init(g, n, &err), MR_OK, err.msg, NULL);
        CHECK_STATUS(n->op->infer(g, n, &err), MR_OK, err.msg, NULL);
        CHECK_STATUS(n->op->prepare(g, n, &err), MR_OK, err.msg, NULL);
        CHECK(n->n_phases == S + 1);
        CHECK(n->flops >= (int64_t)2 * S * G * H * (H + I));

        const mr_tensor_desc *yt = &g->tensors[out[0]];
        int64_t ny = mr_desc_numel(yt);
        float *y = malloc((size_t)ny * sizeof(float));
        for (int64_t e = 0; e < ny; e++) y[e] = NAN;
        float *ws = aligned_alloc(64, (n->workspace_bytes + 63) / 64 * 64);
        float *sc = aligned_alloc(64, (n->scratch_bytes + 63) / 64 * 64 + 64);
        mr_step s;
        memset(&s, 0, sizeof s);
        s.op = n->op;
        s.node = n;
        s.n_in = 3;
        s.n_out = 1;
        for (int i = 0; i < 3; i++) {
            const mr_tensor_desc *t = &g->tensors[in[i]];
            s.in[i] = (mr_tview){t->data, t->dtype, t->ndim, t->dims, mr_desc_numel(t)};
        }
        s.out[0] = (mr_tview){y, yt->dtype, yt->ndim, yt->dims, ny};
        s.workspace = ws;
        for (int64_t b = 0; b < n->n_blocks; b++) n->op->run_block(&s, b, sc);
        int active = 0, widest = 0, written = 0;
        for (int64_t b = 0; b < n->n_blocks; b++) {
            n->op->run_block(&s, n->n_blocks + b, sc);
            int now = 0;
            for (int u = 0; u < H; u++) now += !isnan(y[u]);
            if (now > written) {
                active++;
                if (now - written > widest) widest = now - written;
            }
            written = now;
        }
        CHECK_MSG(written == H, "step 0 wrote %d of %d units", written, H);
        CHECK_MSG(active >= 8 && active <= 32, "%d blocks share a step", active);
        CHECK_MSG(widest <= H / 8, "a block computes %d units", widest);
        free(y);
        free(ws);
        free(sc);
        mr_graph_destroy(g);
        free(X);
        free(W);
        free(R);
    }
}

/* Builds an LSTM (or GRU) node named "rnn_bad" with H=4, I=3, S=2, B=1 and a hook to break
 * it; returns the eval status. */
typedef void (*breaker)(mr_graph *g, int node, int *in, mr_err *err);

static mr_status eval_bad(int gru, int w_extra, int hidden, breaker brk, char *msg, size_t cap) {
    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = mr_graph_create(&err);
    if (!g) return err.status;
    int G = gru ? 3 : 4, H = 4, I = 3;
    int64_t xd[3] = {2, 1, I}, wd[3] = {1, G * H, I + w_extra}, rd[3] = {1, G * H, H};
    float buf[256];
    for (int i = 0; i < 256; i++) buf[i] = 0.01f * (float)(i % 17) - 0.05f;
    int in[5] = {mr_graph_add_const(g, "X", MR_DTYPE_F32, 3, xd, buf, &err),
                 mr_graph_add_const(g, "W", MR_DTYPE_F32, 3, wd, buf, &err),
                 mr_graph_add_const(g, "R", MR_DTYPE_F32, 3, rd, buf, &err), -1, -1};
    int out[2] = {-1, mr_graph_add_tensor(g, "Y_h", &err)};
    int node = mr_graph_add_node(g, "rnn_bad", gru ? "GRU" : "LSTM", 5, in, 2, out, &err);
    mr_node_set_int(g, node, "hidden_size", hidden, &err);
    if (brk) brk(g, node, in, &err);
    mr_status st = mr_node_eval(g, node, &err);
    snprintf(msg, cap, "%s", err.msg);
    mr_graph_destroy(g);
    return st;
}

static void set_strings(mr_graph *g, int node, const char *name, int n, const char *const *v,
                        mr_err *err) {
    mr_attr *a = mr_node_add_attr(g, node, name, MR_ATTR_STRINGS, err);
    if (!a) return;
    a->strings = calloc((size_t)n, sizeof(char *));
    for (int i = 0; i < n; i++) a->strings[i] = strdup(v[i]);
    a->n = n;
}

static void brk_acts_lstm(mr_graph *g, int node, int *in, mr_err *err) {
    static const char *const v[3] = {"Sigmoid", "Relu", "Tanh"};
    set_strings(g, node, "activations", 3, v, err);
}
static void brk_acts_gru(mr_graph *g, int node, int *in, mr_err *err) {
    static const char *const v[2] = {"HardSigmoid", "Tanh"};
    set_strings(g, node, "activations", 2, v, err);
}
static void ok_acts_lstm(mr_graph *g, int node, int *in, mr_err *err) {
    static const char *const v[3] = {"Sigmoid", "Tanh", "Tanh"};
    set_strings(g, node, "activations", 3, v, err);
    float alpha[1] = {1.0f};
    mr_node_set_floats(g, node, "activation_alpha", 1, alpha, err);
}
static void brk_acts_count(mr_graph *g, int node, int *in, mr_err *err) {
    static const char *const v[2] = {"Sigmoid", "Tanh"};
    set_strings(g, node, "activations", 2, v, err);
}
static void brk_clip(mr_graph *g, int node, int *in, mr_err *err) {
    mr_node_set_float(g, node, "clip", 3.0f, err);
}
static void brk_forget(mr_graph *g, int node, int *in, mr_err *err) {
    mr_node_set_int(g, node, "input_forget", 1, err);
}
static void brk_dir(mr_graph *g, int node, int *in, mr_err *err) {
    mr_node_set_string(g, node, "direction", "sideways", err);
}
static void brk_lbr(mr_graph *g, int node, int *in, mr_err *err) {
    mr_node_set_int(g, node, "linear_before_reset", 2, err);
}
/* sequence_lens = {1} with seq_length 2 */
static void brk_seqlen(mr_graph *g, int node, int *in, mr_err *err) {
    int32_t one = 1;
    int64_t d[1] = {1};
    g->nodes[node].in[4] = mr_graph_add_const(g, "sl", MR_DTYPE_I32, 1, d, &one, err);
}
/* B of the wrong shape ([1, 7] instead of [1, 2*G*H]) */
static void brk_b_shape(mr_graph *g, int node, int *in, mr_err *err) {
    float v[7] = {0};
    int64_t bd[2] = {1, 7};
    g->nodes[node].in[3] = mr_graph_add_const(g, "Bbad", MR_DTYPE_F32, 2, bd, v, err);
}

static void test_errors(void) {
    char msg[MR_ERR_MSG_MAX];
    mr_status st;

    st = eval_bad(0, 0, 4, NULL, msg, sizeof msg);
    CHECK_STATUS(st, MR_OK, msg, NULL);
    st = eval_bad(0, 0, 4, ok_acts_lstm, msg, sizeof msg);
    CHECK_STATUS(st, MR_OK, msg, NULL);

    st = eval_bad(0, 0, 4, brk_acts_lstm, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "activations");
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "'rnn_bad'");
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "Relu");
    st = eval_bad(1, 0, 4, brk_acts_gru, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "activations");
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "GRU node 'rnn_bad'");
    st = eval_bad(0, 0, 4, brk_acts_count, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "activations");

    st = eval_bad(0, 0, 4, brk_clip, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "clip");
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "LSTM node 'rnn_bad'");
    st = eval_bad(1, 0, 4, brk_clip, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "clip");
    st = eval_bad(0, 0, 4, brk_forget, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "input_forget");
    st = eval_bad(0, 0, 4, brk_dir, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "direction");
    st = eval_bad(1, 0, 4, brk_lbr, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "linear_before_reset");
    /* input_forget is not a GRU attribute: rejected by name */
    st = eval_bad(1, 0, 4, brk_forget, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "input_forget");

    st = eval_bad(0, 1, 4, NULL, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_SHAPE, msg, "W");
    CHECK_STATUS(st, MR_ERR_SHAPE, msg, "'rnn_bad'");
    st = eval_bad(1, 1, 4, NULL, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_SHAPE, msg, "W");
    st = eval_bad(0, 0, 5, NULL, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_SHAPE, msg, "hidden_size");
    CHECK_STATUS(st, MR_ERR_SHAPE, msg, "'rnn_bad'");
    st = eval_bad(1, 0, 3, NULL, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_SHAPE, msg, "hidden_size");
    st = eval_bad(0, 0, 4, brk_seqlen, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "sequence_lens");
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "'rnn_bad'");
    st = eval_bad(0, 0, 4, brk_b_shape, msg, sizeof msg);
    CHECK_STATUS(st, MR_ERR_SHAPE, msg, "B");

    /* Runtime (non-constant) W or sequence_lens: checked by infer, before any data exists. */
    for (int which = 0; which < 2; which++) {
        mr_err err;
        mr_err_clear(&err);
        mr_graph *g = mr_graph_create(&err);
        int64_t xd[3] = {2, 1, 3}, wd[3] = {1, 16, 3}, rd[3] = {1, 16, 4};
        float buf[64] = {0};
        int w = which == 0 ? mr_graph_add_tensor(g, "W_rt", &err)
                           : mr_graph_add_const(g, "W", MR_DTYPE_F32, 3, wd, buf, &err);
        if (which == 0) {
            int64_t dims[3] = {1, 16, 3};
            mr_set_shape(&g->tensors[w], MR_DTYPE_F32, 3, dims);
        }
        int sl = -1;
        if (which == 1) {
            sl = mr_graph_add_tensor(g, "sl_rt", &err);
            int64_t dims[1] = {1};
            mr_set_shape(&g->tensors[sl], MR_DTYPE_I32, 1, dims);
        }
        int in[5] = {mr_graph_add_const(g, "X", MR_DTYPE_F32, 3, xd, buf, &err), w,
                     mr_graph_add_const(g, "R", MR_DTYPE_F32, 3, rd, buf, &err), -1, sl};
        int out[1] = {mr_graph_add_tensor(g, "Y", &err)};
        int node = mr_graph_add_node(g, "rnn_rt", "LSTM", 5, in, 1, out, &err);
        mr_node *n = &g->nodes[node];
        n->op = mr_op_find("LSTM");
        CHECK_STATUS(n->op->init(g, n, &err), MR_OK, err.msg, NULL);
        st = n->op->infer(g, n, &err);
        CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "'rnn_rt'");
        CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, which == 0 ? "W" : "sequence_lens");
        mr_graph_destroy(g);
    }
}

int main(void) {
    test_numerics();
    test_tiling();
    test_errors();
    return mr_test_finish("ops_rnn");
}
