/* LSTM and GRU (ONNX opsets 7..17), float32, default activations only.
 *
 * Execution under the elastic contract with phases (op.h):
 *   phase 0      the input projection X*W^T + biases for every time step and direction, one
 *                sgemm tile per block, into the workspace ("xw", one row of G*H gate
 *                pre-activations per (direction, time, batch));
 *   phases 1..   the recurrence, one time step of every direction per phase (two phases per
 *                step for GRU with linear_before_reset=0, see below). A block owns one
 *                (direction, hidden-unit tile): it adds R*h_{t-1} for the gate rows of its
 *                units into xw (sgemv/sgemm on those rows of R only, so blocks never share
 *                output), applies the gates and writes h_t (and c_t) of its units, plus the
 *                Y/Y_h/Y_c entries of its units.
 * h is double-buffered in the workspace because the blocks of step t read h_{t-1} of every
 * unit while writing h_t of their own; c is read and written only by its own unit's block,
 * so one buffer is enough. Step 0 reads initial_h/initial_c directly (or treats them as zero),
 * so nothing has to initialise the workspace.
 *
 * GRU with linear_before_reset=0 computes R_h*(r (.) h_{t-1}), which needs r of *every* unit
 * before any unit's candidate state: each step is split into phase A (z, r and r (.) h_{t-1}
 * per tile) and phase B (candidate and new h per tile). Without the split every block would
 * have to recompute r for all units, multiplying the step's work by the number of tiles.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"
#include "ops/rnn.h"
#include "ops/vmath.h"

enum { IN_X, IN_W, IN_R, IN_B, IN_SEQ, IN_H0, IN_C0, IN_P };
enum { OUT_Y, OUT_YH, OUT_YC };

/* Declared in ops/rnn.h: the CUDA planner reads it from n->params. */
typedef mr_rnn_params rnn_params;

static const char *const lstm_attrs[] = {
    "activation_alpha", "activation_beta", "activations", "clip", "direction",
    "hidden_size",      "input_forget",    "layout",      NULL};
static const char *const gru_attrs[] = {
    "activation_alpha", "activation_beta",     "activations", "clip", "direction",
    "hidden_size",      "linear_before_reset", "layout",      NULL};

static int ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

static mr_status rnn_init(mr_graph *g, mr_node *n, int gru, mr_err *err) {
    rnn_params p;
    memset(&p, 0, sizeof p);
    p.gru = gru;
    p.G = gru ? 3 : 4;

    MR_TRY(mr_attr_get_int(n, "hidden_size", 0, &p.hidden, err));
    if (mr_node_attr(n, "hidden_size") && p.hidden <= 0)
        return mr_err_attr(err, n, "hidden_size", "must be positive");

    const char *dir;
    MR_TRY(mr_attr_get_string(n, "direction", "forward", &dir, err));
    if (strcmp(dir, "forward") == 0) {
        p.dirs = 1;
    } else if (strcmp(dir, "reverse") == 0) {
        p.dirs = 1;
        p.first_rev = 1;
    } else if (strcmp(dir, "bidirectional") == 0) {
        p.dirs = 2;
    } else {
        return mr_err_attr(err, n, "direction", "must be 'forward', 'reverse' or 'bidirectional'");
    }

    int64_t layout;
    MR_TRY(mr_attr_get_int(n, "layout", 0, &layout, err));
    if (layout != 0 && layout != 1) return mr_err_attr(err, n, "layout", "must be 0 or 1");
    p.layout = (int)layout;

    /* clip changes every gate's input; not implemented, so refuse rather than ignore it. */
    if (mr_node_attr(n, "clip")) return mr_err_attr(err, n, "clip", "is not supported");

    if (gru) {
        int64_t lbr;
        MR_TRY(mr_attr_get_int(n, "linear_before_reset", 0, &lbr, err));
        if (lbr != 0 && lbr != 1)
            return mr_err_attr(err, n, "linear_before_reset", "must be 0 or 1");
        p.lbr = (int)lbr;
    } else {
        int64_t input_forget;
        MR_TRY(mr_attr_get_int(n, "input_forget", 0, &input_forget, err));
        if (input_forget != 0) return mr_err_attr(err, n, "input_forget", "only 0 is supported");
    }

    /* Only the defaults (Sigmoid for the gates, Tanh for cell/candidate and output) are
     * implemented. activation_alpha/beta do not affect Sigmoid and Tanh, so they are accepted
     * and have no effect. */
    const mr_attr *acts = mr_node_attr(n, "activations");
    if (acts) {
        static const char *const lstm_def[3] = {"Sigmoid", "Tanh", "Tanh"};
        static const char *const gru_def[2] = {"Sigmoid", "Tanh"};
        int per = gru ? 2 : 3;
        if (acts->type != MR_ATTR_STRINGS)
            return mr_err_attr(err, n, "activations", "must be a list of strings");
        if (acts->n != per * p.dirs)
            return mr_err_attr(err, n, "activations",
                               gru ? "must list 2 functions per direction"
                                   : "must list 3 functions per direction");
        for (int i = 0; i < acts->n; i++) {
            const char *want = gru ? gru_def[i % per] : lstm_def[i % per];
            if (!acts->strings[i] || !ieq(acts->strings[i], want))
                return mr_errf(err, MR_ERR_UNSUPPORTED,
                               "%s node '%s': attribute 'activations': '%s' is not supported "
                               "(only the default %s are)",
                               n->op_type, n->name, acts->strings[i] ? acts->strings[i] : "",
                               gru ? "Sigmoid, Tanh" : "Sigmoid, Tanh, Tanh");
        }
    }

    rnn_params *pp = mr_malloc(sizeof *pp, "RNN parameters", err);
    if (!pp) return err->status;
    *pp = p;
    free(n->params);
    n->params = pp;
    return MR_OK;
}

static mr_status lstm_init(mr_graph *g, mr_node *n, mr_err *err) {
    return rnn_init(g, n, 0, err);
}
static mr_status gru_init(mr_graph *g, mr_node *n, mr_err *err) {
    return rnn_init(g, n, 1, err);
}

/* Checks that input i (if present) is a float tensor of exactly the given shape. */
static mr_status check_shape(mr_graph *g, const mr_node *n, int i, const char *what, int ndim,
                             const int64_t *dims, mr_err *err) {
    const mr_tensor_desc *t = mr_node_input(g, n, i);
    if (!t) return MR_OK;
    int ok = t->ndim == ndim;
    for (int k = 0; ok && k < ndim; k++) ok = t->dims[k] == dims[k];
    if (!ok) {
        char have[128], want[128];
        return mr_err_node(
            err, MR_ERR_SHAPE, n, "%s ('%s') has shape %s, expected %s", what, t->name,
            t->ndim < 0 ? "unknown" : mr_dims_str(t->ndim, t->dims, have, sizeof have),
            mr_dims_str(ndim, dims, want, sizeof want));
    }
    if (t->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "%s ('%s') is %s, only float32 is supported",
                           what, t->name, mr_dtype_name(t->dtype));
    return MR_OK;
}

/* x: the node's X, or (the upper layer of a stack) the layer below's Y without its
 * num_directions axis. */
static mr_status rnn_infer_x(mr_graph *g, mr_node *n, const mr_tensor_desc *x, mr_err *err) {
    rnn_params *p = n->params;
    if (!p) return mr_err_node(err, MR_ERR_INTERNAL, n, "not initialised");
    if (!x) return mr_err_node(err, MR_ERR_GRAPH, n, "the input X is missing");
    if (x->ndim != 3)
        return mr_err_node(err, MR_ERR_SHAPE, n, "X ('%s') must have rank 3, not %d", x->name,
                           x->ndim);
    if (x->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "X ('%s') is %s, only float32 is supported",
                           x->name, mr_dtype_name(x->dtype));
    int64_t S = x->dims[p->layout ? 1 : 0], B = x->dims[p->layout ? 0 : 1], NI = x->dims[2];
    if (S <= 0 || B <= 0 || NI <= 0)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "empty X ('%s'): seq_length, batch_size and input_size must be "
                           "positive",
                           x->name);
    /* BLAS takes int sizes; larger dimensions are refused here, their products in prepare. */
    if (S > INT32_MAX || B > INT32_MAX || NI > INT32_MAX)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "X ('%s') is too large", x->name);

    /* Weights must be known at load time (initializers), like every weight in this runtime,
     * so that backends can keep them resident. */
    const mr_tensor_desc *w, *r;
    MR_TRY(mr_node_const_input(g, n, IN_W, MR_DTYPE_F32, "W", &w, err));
    MR_TRY(mr_node_const_input(g, n, IN_R, MR_DTYPE_F32, "R", &r, err));
    int64_t D = p->dirs, G = p->G;
    if (r->ndim != 3)
        return mr_err_node(err, MR_ERR_SHAPE, n, "R ('%s') must have rank 3, not %d", r->name,
                           r->ndim);
    int64_t H = p->hidden ? p->hidden : r->dims[2];
    if (H <= 0 || H > INT32_MAX / 8)
        return mr_err_node(err, MR_ERR_SHAPE, n, "hidden size %lld is out of range", (long long)H);
    int64_t GH = G * H;
    if (r->dims[2] != H)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "hidden_size %lld does not match R ('%s'), whose last dimension is %lld",
                           (long long)H, r->name, (long long)r->dims[2]);

    int64_t wd[3] = {D, GH, NI}, rd[3] = {D, GH, H}, bd[2] = {D, 2 * GH}, hd[3], pd[2] = {D, 3 * H};
    hd[0] = p->layout ? B : D;
    hd[1] = p->layout ? D : B;
    hd[2] = H;
    MR_TRY(check_shape(g, n, IN_W, "W", 3, wd, err));
    MR_TRY(check_shape(g, n, IN_R, "R", 3, rd, err));
    MR_TRY(check_shape(g, n, IN_B, "B", 2, bd, err));
    MR_TRY(check_shape(g, n, IN_H0, "initial_h", 3, hd, err));
    if (!p->gru) {
        MR_TRY(check_shape(g, n, IN_C0, "initial_c", 3, hd, err));
        MR_TRY(check_shape(g, n, IN_P, "P", 2, pd, err));
    }

    /* sequence_lens shorter than seq_length would need masking; only the no-op case is
     * accepted. */
    const mr_tensor_desc *sl = mr_node_input(g, n, IN_SEQ);
    if (sl) {
        if (!sl->data)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                               "sequence_lens ('%s') must be a constant equal to seq_length",
                               sl->name);
        if (sl->ndim != 1 || sl->dims[0] != B ||
            (sl->dtype != MR_DTYPE_I32 && sl->dtype != MR_DTYPE_I64))
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "sequence_lens ('%s') must be an int32 vector of batch_size %lld",
                               sl->name, (long long)B);
        for (int64_t b = 0; b < B; b++) {
            int64_t v = sl->dtype == MR_DTYPE_I32 ? ((const int32_t *)sl->data)[b]
                                                  : ((const int64_t *)sl->data)[b];
            if (v != S)
                return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                                   "sequence_lens ('%s')[%lld] = %lld differs from seq_length "
                                   "%lld (variable lengths are not supported)",
                                   sl->name, (long long)b, (long long)v, (long long)S);
        }
    }

    int64_t yd[4], yhd[3];
    if (p->layout) {
        yd[0] = B, yd[1] = S, yd[2] = D, yd[3] = H;
        yhd[0] = B, yhd[1] = D, yhd[2] = H;
    } else {
        yd[0] = S, yd[1] = D, yd[2] = B, yd[3] = H;
        yhd[0] = D, yhd[1] = B, yhd[2] = H;
    }
    int64_t ny, nyh;
    if (!mr_mul_i64(S * D, B * H, &ny) || !mr_mul_i64(D * B, H, &nyh))
        return mr_err_node(err, MR_ERR_SHAPE, n, "output too large");
    mr_tensor_desc *t;
    if ((t = mr_node_output(g, n, OUT_Y))) mr_set_shape(t, MR_DTYPE_F32, 4, yd);
    if ((t = mr_node_output(g, n, OUT_YH))) mr_set_shape(t, MR_DTYPE_F32, 3, yhd);
    if (!p->gru && (t = mr_node_output(g, n, OUT_YC))) mr_set_shape(t, MR_DTYPE_F32, 3, yhd);
    return MR_OK;
}

static mr_status rnn_infer(mr_graph *g, mr_node *n, mr_err *err) {
    return rnn_infer_x(g, n, mr_node_input(g, n, IN_X), err);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static mr_status rnn_prepare_x(mr_graph *g, mr_node *n, const mr_tensor_desc *x, mr_err *err) {
    rnn_params *p = n->params;
    const mr_tensor_desc *r = mr_node_input(g, n, IN_R);
    if (!p || !x || !r || x->ndim != 3 || r->ndim != 3)
        return mr_err_node(err, MR_ERR_INTERNAL, n, "prepare before shape inference");
    int64_t D = p->dirs, G = p->G;
    p->S = x->dims[p->layout ? 1 : 0];
    p->B = x->dims[p->layout ? 0 : 1];
    p->NI = x->dims[2];
    p->H = r->dims[2];
    int64_t S = p->S, B = p->B, NI = p->NI, H = p->H, GH = G * H;

    /* Recurrent tiles: about 16 per direction and step so that several workers share a step
     * of a batch-1 layer (H=512: 32 units, 128 rows of R, ~0.1 MFLOP), at least 16 units to
     * keep sgemv efficient, and fewer units per tile when the batch makes a block long. */
    int64_t ht = (mr_div_up(H, 16) + 7) / 8 * 8;
    if (ht < 16) ht = 16;
    while (ht > 8 && 2.0 * (double)(B * G * ht) * (double)H > 8e6) ht /= 2;
    if (ht > H) ht = H;
    p->ht = ht;
    p->n_ht = mr_div_up(H, ht);

    /* Projection tiles: up to 256 gate columns, rows so that a block is ~1M MACs. */
    p->pct = GH < 256 ? GH : 256;
    p->prt = clamp64(((int64_t)1 << 20) / (p->pct * NI), 1, S * B);
    p->n_pc = mr_div_up(GH, p->pct);
    p->n_pr = mr_div_up(S * B, p->prt);

    p->pps = p->gru && !p->lbr ? 2 : 1;

    /* Workspace (floats): xw [D][S*B][GH], h[2] [D][B][H], then c (LSTM) or r(.)h (GRU
     * lbr=0), each section 64-byte aligned. */
    int64_t dsb, xw64;
    if (!mr_mul_i64(D * S, B, &dsb) || !mr_mul_i64(dsb, GH, &xw64) || xw64 > INT32_MAX)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "workspace too large");
    /* From here on every product of dimensions is at most D*S*B*G*H < 2^31 (BLAS's int). */
    size_t xw = (size_t)xw64, hb = (size_t)(D * B * H), off;
    size_t rnd = 16; /* floats per 64 bytes */
    off = (xw + rnd - 1) / rnd * rnd;
    size_t hbr = (hb + rnd - 1) / rnd * rnd;
    p->off_h[0] = off;
    p->off_h[1] = off + hbr;
    p->off_c = off + 2 * hbr;
    size_t total = p->off_c + ((!p->gru || !p->lbr) ? hbr : 0);
    if (!mr_mul_size(total, sizeof(float), &n->workspace_bytes) ||
        n->workspace_bytes > MR_MAX_ALLOC)
        return mr_err_node(err, MR_ERR_SHAPE, n, "workspace too large");

    int64_t proj_blocks = D * p->n_pr * p->n_pc, step_blocks = D * p->n_ht;
    int64_t phases = 1 + S * p->pps;
    if (phases > 0x7fffffff) return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "sequence too long");
    n->n_phases = (int)phases;
    n->n_blocks = proj_blocks > step_blocks ? proj_blocks : step_blocks;
    /* GRU lbr=1 keeps R_h*h_{t-1} of a tile apart from xw (it is multiplied by r). */
    n->scratch_bytes = p->gru && p->lbr ? (size_t)(B * ht) * sizeof(float) : 0;
    if (!mr_mul_i64(2 * xw64, NI + H, &n->flops)) n->flops = INT64_MAX;
    return MR_OK;
}

static mr_status rnn_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    return rnn_prepare_x(g, n, mr_node_input(g, n, IN_X), err);
}

static inline float sigm(float v) {
    return mr_vsigmoidf(v);
}

/* Phase 0, block j: one tile of xw[d] = X * W[d]^T + bias. X is one (S*B) x NI matrix in either
 * layout; xw rows follow X's row order. */
static void run_proj(const mr_step *s, const rnn_params *p, int64_t j) {
    int64_t G = p->G, H = p->H, GH = G * H, NI = p->NI, SB = p->S * p->B;
    int64_t per_dir = p->n_pr * p->n_pc;
    if (j >= p->dirs * per_dir) return;
    int64_t d = j / per_dir, rt = (j % per_dir) / p->n_pc, ct = j % p->n_pc;
    int64_t r0, r1, c0, c1;
    mr_block_range(SB, p->prt, rt, &r0, &r1);
    mr_block_range(GH, p->pct, ct, &c0, &c1);
    const float *X = s->in[IN_X].data, *W = s->in[IN_W].data;
    const float *Bv = s->n_in > IN_B ? s->in[IN_B].data : NULL;
    float *xw = (float *)s->workspace + d * SB * GH;

    /* Biases folded into the projection: all of Wb and Rb, except GRU's Rb_h with
     * linear_before_reset, which sits inside r (.) (...) and is applied per step. */
    for (int64_t row = r0; row < r1; row++) {
        float *c = xw + row * GH;
        for (int64_t col = c0; col < c1; col++) {
            float b = 0.0f;
            if (Bv) {
                b = Bv[d * 2 * GH + col];
                if (!(p->gru && p->lbr && col >= 2 * H)) b += Bv[d * 2 * GH + GH + col];
            }
            c[col] = b;
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(r1 - r0), (int)(c1 - c0), (int)NI,
                1.0f, X + r0 * NI, (int)NI, W + (d * GH + c0) * NI, (int)NI, 1.0f,
                xw + r0 * GH + c0, (int)GH);
}

/* Adds h_prev (B x H, row stride ldh) times rows [row0, row0+nu) of Rd, transposed, to C
 * (B x nu, row stride ldc) scaled by beta. */
static void rec_gemm(const float *hp, int64_t ldh, const float *Rd, int64_t row0, int64_t nu,
                     int64_t B, int64_t H, float beta, float *C, int64_t ldc) {
    if (B == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nu, (int)H, 1.0f, Rd + row0 * H, (int)H, hp,
                    1, beta, C, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)nu, (int)H, 1.0f, hp,
                    (int)ldh, Rd + row0 * H, (int)H, beta, C, (int)ldc);
}

/* Where a step's state lives for direction d. */
typedef struct step_ctx {
    int64_t d, k, t; /* direction, step index, time index */
    int64_t u0, nu;  /* hidden units of this block */
    const float *hp; /* h_{t-1} [B][H] with row stride ldh, NULL for zero */
    int64_t ldh;
    float *hn;       /* h_t [B][H] (row stride H) */
    float *xw;       /* xw row of (t, batch 0) */
    int64_t ldx;     /* xw row stride between batch entries */
    const float *Rd; /* R[d] */
} step_ctx;

static void step_setup(const mr_step *s, const rnn_params *p, int64_t k, int64_t j, step_ctx *c) {
    int64_t S = p->S, B = p->B, H = p->H, GH = p->G * H, D = p->dirs;
    float *ws = s->workspace;
    c->d = j / p->n_ht;
    c->k = k;
    int rev = p->dirs == 2 ? c->d == 1 : p->first_rev;
    c->t = rev ? S - 1 - k : k;
    int64_t u1;
    mr_block_range(H, p->ht, j % p->n_ht, &c->u0, &u1);
    c->nu = u1 - c->u0;
    if (k == 0) {
        const float *h0 = s->n_in > IN_H0 ? s->in[IN_H0].data : NULL;
        /* initial_h is [D][B][H] (layout 0) or [B][D][H] (layout 1). */
        c->hp = h0 ? h0 + (p->layout ? c->d * H : c->d * B * H) : NULL;
        c->ldh = p->layout ? D * H : H;
    } else {
        c->hp = ws + p->off_h[(k - 1) & 1] + c->d * B * H;
        c->ldh = H;
    }
    c->hn = ws + p->off_h[k & 1] + c->d * B * H;
    int64_t row = p->layout ? c->t : c->t * B; /* row of (t, batch 0) */
    c->xw = ws + (c->d * S * B + row) * GH;
    c->ldx = (p->layout ? S : 1) * GH;
    c->Rd = (const float *)s->in[IN_R].data + c->d * GH * H;
}

/* Writes h (and c) of unit u, batch b, to Y/Y_h/Y_c. */
static void store_out(const mr_step *s, const rnn_params *p, const step_ctx *c, int64_t b,
                      int64_t u, float h, float cell) {
    int64_t S = p->S, B = p->B, H = p->H, D = p->dirs, d = c->d, t = c->t;
    float *y = s->n_out > OUT_Y ? s->out[OUT_Y].data : NULL;
    if (y) y[(p->layout ? (b * S + t) * D + d : (t * D + d) * B + b) * H + u] = h;
    if (c->k != S - 1) return;
    int64_t i = (p->layout ? b * D + d : d * B + b) * H + u;
    float *yh = s->n_out > OUT_YH ? s->out[OUT_YH].data : NULL;
    if (yh) yh[i] = h;
    float *yc = !p->gru && s->n_out > OUT_YC ? s->out[OUT_YC].data : NULL;
    if (yc) yc[i] = cell;
}

static void lstm_step(const mr_step *s, const rnn_params *p, const step_ctx *c) {
    int64_t B = p->B, H = p->H, D = p->dirs, u0 = c->u0, nu = c->nu, d = c->d;
    float *cbuf = (float *)s->workspace + p->off_c + d * B * H;
    const float *c0 = s->n_in > IN_C0 ? s->in[IN_C0].data : NULL;
    const float *P = s->n_in > IN_P ? s->in[IN_P].data : NULL;
    if (P) P += d * 3 * H;
    if (c->hp)
        for (int g = 0; g < 4; g++)
            rec_gemm(c->hp, c->ldh, c->Rd, g * H + u0, nu, B, H, 1.0f, c->xw + g * H + u0, c->ldx);
    for (int64_t b = 0; b < B; b++) {
        const float *z = c->xw + b * c->ldx;
        for (int64_t u = u0; u < u0 + nu; u++) {
            float cp;
            if (c->k > 0)
                cp = cbuf[b * H + u];
            else if (c0)
                cp = c0[(p->layout ? b * D + d : d * B + b) * H + u];
            else
                cp = 0.0f;
            float gi = z[u], go = z[H + u], gf = z[2 * H + u], gc = z[3 * H + u];
            if (P) {
                gi += P[u] * cp;
                gf += P[2 * H + u] * cp;
            }
            float cn = sigm(gf) * cp + sigm(gi) * mr_vtanhf(gc);
            if (P) go += P[H + u] * cn;
            float h = sigm(go) * mr_vtanhf(cn);
            cbuf[b * H + u] = cn;
            c->hn[b * H + u] = h;
            store_out(s, p, c, b, u, h, cn);
        }
    }
}

static inline float hprev(const step_ctx *c, int64_t b, int64_t u) {
    return c->hp ? c->hp[b * c->ldh + u] : 0.0f;
}

/* GRU with linear_before_reset=1: the whole step in one phase. */
static void gru_step_lbr(const mr_step *s, const rnn_params *p, const step_ctx *c, float *tmp) {
    int64_t B = p->B, H = p->H, u0 = c->u0, nu = c->nu;
    const float *Bv = s->n_in > IN_B ? s->in[IN_B].data : NULL;
    const float *rbh = Bv ? Bv + c->d * 6 * H + 5 * H : NULL;
    if (c->hp) {
        for (int g = 0; g < 2; g++)
            rec_gemm(c->hp, c->ldh, c->Rd, g * H + u0, nu, B, H, 1.0f, c->xw + g * H + u0, c->ldx);
        rec_gemm(c->hp, c->ldh, c->Rd, 2 * H + u0, nu, B, H, 0.0f, tmp, nu);
    } else {
        memset(tmp, 0, (size_t)(B * nu) * sizeof(float));
    }
    for (int64_t b = 0; b < B; b++) {
        const float *x = c->xw + b * c->ldx;
        for (int64_t i = 0; i < nu; i++) {
            int64_t u = u0 + i;
            float z = sigm(x[u]), r = sigm(x[H + u]);
            float lin = tmp[b * nu + i] + (rbh ? rbh[u] : 0.0f);
            float hh = mr_vtanhf(x[2 * H + u] + r * lin);
            float h = (1.0f - z) * hh + z * hprev(c, b, u);
            c->hn[b * H + u] = h;
            store_out(s, p, c, b, u, h, 0.0f);
        }
    }
}

/* GRU with linear_before_reset=0, phase A: z (kept in xw) and r (.) h_{t-1} of the tile. */
static void gru_step_a(const mr_step *s, const rnn_params *p, const step_ctx *c) {
    int64_t B = p->B, H = p->H, u0 = c->u0, nu = c->nu;
    float *rh = (float *)s->workspace + p->off_c + c->d * B * H;
    if (c->hp)
        for (int g = 0; g < 2; g++)
            rec_gemm(c->hp, c->ldh, c->Rd, g * H + u0, nu, B, H, 1.0f, c->xw + g * H + u0, c->ldx);
    for (int64_t b = 0; b < B; b++) {
        float *x = c->xw + b * c->ldx;
        for (int64_t u = u0; u < u0 + nu; u++) {
            x[u] = sigm(x[u]);
            rh[b * H + u] = sigm(x[H + u]) * hprev(c, b, u);
        }
    }
}

/* Phase B: candidate from R_h * (r (.) h_{t-1}) (every unit's r, from phase A) and new h. */
static void gru_step_b(const mr_step *s, const rnn_params *p, const step_ctx *c) {
    int64_t B = p->B, H = p->H, u0 = c->u0, nu = c->nu;
    const float *rh = (const float *)s->workspace + p->off_c + c->d * B * H;
    if (c->hp) /* r (.) 0 is 0: nothing to add on a zero initial state */
        rec_gemm(rh, H, c->Rd, 2 * H + u0, nu, B, H, 1.0f, c->xw + 2 * H + u0, c->ldx);
    for (int64_t b = 0; b < B; b++) {
        const float *x = c->xw + b * c->ldx;
        for (int64_t u = u0; u < u0 + nu; u++) {
            float z = x[u], hh = mr_vtanhf(x[2 * H + u]);
            float h = (1.0f - z) * hh + z * hprev(c, b, u);
            c->hn[b * H + u] = h;
            store_out(s, p, c, b, u, h, 0.0f);
        }
    }
}

/* Logical block `block` of a node of parameters p and nb blocks per phase. */
static void rnn_run(const mr_step *s, const rnn_params *p, int64_t nb, int64_t block,
                    void *scratch) {
    int64_t phase = block / nb, j = block % nb;
    if (phase == 0) {
        run_proj(s, p, j);
        return;
    }
    if (j >= p->dirs * p->n_ht) return;
    int64_t k = (phase - 1) / p->pps, sub = (phase - 1) % p->pps;
    step_ctx c;
    step_setup(s, p, k, j, &c);
    if (!p->gru)
        lstm_step(s, p, &c);
    else if (p->lbr)
        gru_step_lbr(s, p, &c, scratch);
    else if (sub == 0)
        gru_step_a(s, p, &c);
    else
        gru_step_b(s, p, &c);
}

static void rnn_run_block(const mr_step *s, int64_t block, void *scratch) {
    rnn_run(s, s->node->params, s->node->n_blocks, block, scratch);
}

/* ---- two stacked layers (ops/rnn.h) ---- */

/* Layer l of a stacked node as a node of its own: its 8 input slots, and layer 1's outputs
 * (layer 0 has none: its Y is in the workspace). */
static mr_node stack_layer(const mr_node *n, int l) {
    mr_rnn_stack *st = n->params;
    mr_node v = *n;
    v.in = n->in + l * MR_RNN_STACK_IN;
    v.n_in = MR_RNN_STACK_IN;
    v.out = l ? n->out : NULL;
    v.n_out = l ? n->n_out : 0;
    v.params = &st->l[l];
    return v;
}

/* Layer 1's X: layer 0's Y without its num_directions axis, [S][B][H]. */
static mr_tensor_desc stack_x1(mr_graph *g, const mr_node *n) {
    mr_tensor_desc x;
    memset(&x, 0, sizeof x);
    x.dtype = MR_DTYPE_F32;
    x.ndim = -1;
    const mr_tensor_desc *x0 = mr_node_input(g, n, IN_X), *r0 = mr_node_input(g, n, IN_R);
    if (x0 && r0 && x0->ndim == 3 && r0->ndim == 3) {
        x.ndim = 3;
        x.dims[0] = x0->dims[0];
        x.dims[1] = x0->dims[1];
        x.dims[2] = r0->dims[2];
    }
    x.producer = -1;
    x.alias_of = -1;
    return x;
}

static mr_status stack_infer(mr_graph *g, mr_node *n, mr_err *err) {
    if (!n->params || n->n_in != 2 * MR_RNN_STACK_IN)
        return mr_err_node(err, MR_ERR_INTERNAL, n, "not a stacked node");
    mr_node v0 = stack_layer(n, 0), v1 = stack_layer(n, 1);
    MR_TRY(rnn_infer(g, &v0, err));
    mr_tensor_desc x1 = stack_x1(g, n);
    return rnn_infer_x(g, &v1, &x1, err);
}

static mr_status stack_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    mr_rnn_stack *st = n->params;
    if (!st || n->n_in != 2 * MR_RNN_STACK_IN)
        return mr_err_node(err, MR_ERR_INTERNAL, n, "not a stacked node");
    mr_node v[2] = {stack_layer(n, 0), stack_layer(n, 1)};
    mr_tensor_desc x1 = stack_x1(g, n);
    MR_TRY(rnn_prepare_x(g, &v[0], mr_node_input(g, n, IN_X), err));
    MR_TRY(rnn_prepare_x(g, &v[1], &x1, err));
    const mr_rnn_params *p0 = &st->l[0];
    size_t rnd = 16, ws0 = (v[0].workspace_bytes / sizeof(float) + rnd - 1) / rnd * rnd;
    size_t ws1 = (v[1].workspace_bytes / sizeof(float) + rnd - 1) / rnd * rnd;
    int64_t y0;
    size_t total;
    if (!mr_mul_i64(p0->S * p0->B, p0->H, &y0) || !mr_add_size(ws0 + ws1, (size_t)y0, &total) ||
        !mr_mul_size(total, sizeof(float), &n->workspace_bytes) ||
        n->workspace_bytes > MR_MAX_ALLOC)
        return mr_err_node(err, MR_ERR_SHAPE, n, "workspace too large");
    st->off_ws1 = ws0;
    st->off_y0 = ws0 + ws1;
    if ((int64_t)v[0].n_phases + v[1].n_phases > 0x7fffffff)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "sequence too long");
    for (int l = 0; l < 2; l++) {
        st->phases[l] = v[l].n_phases;
        st->blocks[l] = v[l].n_blocks;
    }
    n->n_phases = v[0].n_phases + v[1].n_phases;
    n->n_blocks = v[0].n_blocks > v[1].n_blocks ? v[0].n_blocks : v[1].n_blocks;
    n->scratch_bytes =
        v[0].scratch_bytes > v[1].scratch_bytes ? v[0].scratch_bytes : v[1].scratch_bytes;
    n->flops = v[0].flops > INT64_MAX - v[1].flops ? INT64_MAX : v[0].flops + v[1].flops;
    return MR_OK;
}

/* Layer 0's phases, then layer 1's; each layer sees a step of its own inputs and outputs. */
static void stack_run_block(const mr_step *s, int64_t block, void *scratch) {
    const mr_rnn_stack *st = s->node->params;
    int64_t nb = s->node->n_blocks, phase = block / nb, j = block % nb;
    int l = phase >= st->phases[0];
    if (j >= st->blocks[l]) return;
    float *ws = s->workspace;
    mr_tview y0 = {ws + st->off_y0, MR_DTYPE_F32, 0, NULL, 0};
    mr_step sub = *s;
    sub.n_in = MR_RNN_STACK_IN;
    for (int k = 0; k < MR_RNN_STACK_IN; k++) sub.in[k] = s->in[l * MR_RNN_STACK_IN + k];
    if (l == 0) {
        sub.n_out = 1;
        sub.out[OUT_Y] = y0;
    } else {
        sub.in[IN_X] = y0;
        sub.workspace = ws + st->off_ws1;
        phase -= st->phases[0];
    }
    rnn_run(&sub, &st->l[l], st->blocks[l], phase * st->blocks[l] + j, scratch);
}

const mr_op_def mr_op_lstm_stack = {
    .name = "StackedLSTM",
    .min_in = 2 * MR_RNN_STACK_IN,
    .max_in = 2 * MR_RNN_STACK_IN,
    .min_out = 0,
    .max_out = 3,
    .flags = 0,
    .attrs = lstm_attrs,
    .init = NULL,
    .infer = stack_infer,
    .prepare = stack_prepare,
    .run_block = stack_run_block,
    .free_params = NULL,
};

const mr_op_def mr_op_gru_stack = {
    .name = "StackedGRU",
    .min_in = 2 * MR_RNN_STACK_IN,
    .max_in = 2 * MR_RNN_STACK_IN,
    .min_out = 0,
    .max_out = 2,
    .flags = 0,
    .attrs = gru_attrs,
    .init = NULL,
    .infer = stack_infer,
    .prepare = stack_prepare,
    .run_block = stack_run_block,
    .free_params = NULL,
};

const mr_op_def mr_op_lstm = {
    .name = "LSTM",
    .min_in = 3,
    .max_in = 8,
    .min_out = 0,
    .max_out = 3,
    .flags = 0,
    .attrs = lstm_attrs,
    .init = lstm_init,
    .infer = rnn_infer,
    .prepare = rnn_prepare,
    .run_block = rnn_run_block,
    .free_params = NULL,
};

const mr_op_def mr_op_gru = {
    .name = "GRU",
    .min_in = 3,
    .max_in = 6,
    .min_out = 0,
    .max_out = 2,
    .flags = 0,
    .attrs = gru_attrs,
    .init = gru_init,
    .infer = rnn_infer,
    .prepare = rnn_prepare,
    .run_block = rnn_run_block,
    .free_params = NULL,
};
