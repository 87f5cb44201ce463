/* The static memory plan (src/graph/memplan.c).
 *
 * For hand-built graphs (a chain, a diamond with a residual Add, views of activations and of a
 * graph input next to a multi-output LSTM with a workspace) and for zoo models, the test
 * recomputes every arena buffer's lifetime on its own -- from the steps that read or write the
 * tensor or any view aliasing it, graph inputs live from before the first step, graph outputs
 * until after the last -- and checks the plan against it:
 *   - views are aliased only for skipped view steps, onto the root of their input, at the
 *     root's offset; the inputs of a skipped Concat are its output's pieces, one after another
 *     from its offset (batch-1 channel concatenation), and no other step is skipped;
 *   - no two buffers (tensors or step workspaces) whose lifetimes overlap share a byte;
 *   - every buffer lies inside arena_bytes at a 64-byte aligned offset;
 *   - arena_bytes >= the peak of the bytes live at any one time (a lower bound no plan can
 *     beat) and equals what mr_model_get_stats reports for the same graph;
 *   - ResNet-50 at batch 1 fits in 16 MiB (its largest activation is 3.2 MB).
 * Then a model run (which executes in the planned arena) is compared with a node-by-node
 * evaluation by mr_node_eval, where every tensor has its own allocation: optimize=0 runs the
 * very same kernels on the same data, so the results must agree to rounding noise
 * (rtol 1e-5, atol 1e-6, two orders above float rounding of these small sums); optimize=1
 * folds BatchNorm, which reorders float operations, so it gets rtol 1e-4, atol 1e-5. Runs are
 * repeated with fresh inputs so that a buffer overwritten too early, or state left in the
 * arena by the previous run, shows up. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "graph/memplan.h"
#include "model.h"
#include "ops/op.h"
#include "ops/transform.h"
#include "testutil.h"
#include "zoo/zoo.h"

static int must_(int v, const mr_err *err, const char *what, int line) {
    if (v < 0) {
        fprintf(stderr, "test_memplan.c:%d: %s failed: %s\n", line, what, err->msg);
        exit(1);
    }
    return v;
}
#define MUST(x) must_((x), err, #x, __LINE__)

/* ---- graph building helpers ---- */

static int i64_const(mr_graph *g, const char *name, int n, const int64_t *v, mr_err *err) {
    int64_t d = n;
    return MUST(mr_graph_add_const(g, name, MR_DTYPE_I64, 1, &d, v, err));
}

static int conv(mr_graph *g, mr_rng *r, const char *name, int x, int64_t c, int64_t m, int k,
                int stride, mr_err *err) {
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s.w", name);
    snprintf(bn, sizeof bn, "%s.b", name);
    int64_t wd[4] = {m, c, k, k};
    float bound = 1.0f / sqrtf((float)(c * k * k)) * 1.7f;
    int w = mr_test_rand_const(g, r, wn, 4, wd, -bound, bound, err);
    int b = mr_test_rand_const(g, r, bn, 1, &m, -0.1f, 0.1f, err);
    int y;
    int nd = mr_test_add_node1(g, name, "Conv", 3, (int[]){x, w, b}, &y, err);
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, p = k / 2, pads[4] = {p, p, p, p};
    MUST(mr_node_set_ints(g, nd, "kernel_shape", 2, ks, err) ? -1 : 0);
    MUST(mr_node_set_ints(g, nd, "strides", 2, st, err) ? -1 : 0);
    MUST(mr_node_set_ints(g, nd, "pads", 4, pads, err) ? -1 : 0);
    return y;
}

static int bn(mr_graph *g, mr_rng *r, const char *name, int x, int64_t c, mr_err *err) {
    const char *sfx[4] = {"gamma", "beta", "mean", "var"};
    const float lo[4] = {0.5f, -0.3f, -0.3f, 0.3f}, hi[4] = {1.5f, 0.3f, 0.3f, 1.5f};
    int ins[5] = {x};
    for (int i = 0; i < 4; i++) {
        char tn[64];
        snprintf(tn, sizeof tn, "%s.%s", name, sfx[i]);
        ins[1 + i] = mr_test_rand_const(g, r, tn, 1, &c, lo[i], hi[i], err);
    }
    int y;
    mr_test_add_node1(g, name, "BatchNormalization", 5, ins, &y, err);
    return y;
}

static int unary(mr_graph *g, const char *name, const char *op, int x, mr_err *err) {
    int y;
    mr_test_add_node1(g, name, op, 1, &x, &y, err);
    return y;
}

/* ---- the graphs ---- */

typedef void (*build_fn)(mr_graph *g, mr_err *err);

/* A chain whose activations shrink and grow: several sizes compete for the same memory. */
static void build_chain(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 1);
    int64_t dims[4] = {1, 4, 20, 20};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int t = conv(g, &r, "c1", x, 4, 8, 3, 1, err);
    t = bn(g, &r, "bn1", t, 8, err);
    t = unary(g, "relu1", "Relu", t, err);
    int pool;
    int nd = mr_test_add_node1(g, "pool", "MaxPool", 1, &t, &pool, err);
    int64_t k2[2] = {2, 2};
    MUST(mr_node_set_ints(g, nd, "kernel_shape", 2, k2, err) ? -1 : 0);
    MUST(mr_node_set_ints(g, nd, "strides", 2, k2, err) ? -1 : 0);
    t = conv(g, &r, "c2", pool, 8, 16, 3, 1, err);
    t = unary(g, "sig", "Sigmoid", t, err);
    t = conv(g, &r, "c3", t, 16, 4, 1, 1, err);
    t = unary(g, "tanh", "Tanh", t, err);
    t = conv(g, &r, "c4", t, 4, 12, 3, 1, err);
    t = unary(g, "relu2", "Relu", t, err);
    mr_test_mark_output(g, t);
}

/* Residual blocks: the block input stays alive across the branch until the Add. */
static void build_diamond(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 2);
    int64_t dims[4] = {1, 6, 12, 12};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int stem = unary(g, "stem_relu", "Relu", conv(g, &r, "stem", x, 6, 8, 3, 1, err), err);
    int cur = stem;
    for (int blk = 0; blk < 2; blk++) {
        char n[32];
        snprintf(n, sizeof n, "b%d.c1", blk);
        int a = conv(g, &r, n, cur, 8, 8, 3, 1, err);
        snprintf(n, sizeof n, "b%d.bn1", blk);
        a = bn(g, &r, n, a, 8, err);
        snprintf(n, sizeof n, "b%d.relu1", blk);
        a = unary(g, n, "Relu", a, err);
        snprintf(n, sizeof n, "b%d.c2", blk);
        a = conv(g, &r, n, a, 8, 8, 3, 1, err);
        snprintf(n, sizeof n, "b%d.bn2", blk);
        a = bn(g, &r, n, a, 8, err);
        int s;
        snprintf(n, sizeof n, "b%d.add", blk);
        mr_test_add_node1(g, n, "Add", 2, (int[]){a, cur}, &s, err);
        snprintf(n, sizeof n, "b%d.relu2", blk);
        cur = unary(g, n, "Relu", s, err);
    }
    /* A second branch from the stem joins at the end: the stem lives across both blocks. */
    int side = unary(g, "side", "Sigmoid", stem, err);
    int y;
    mr_test_add_node1(g, "join", "Mul", 2, (int[]){cur, side}, &y, err);
    mr_test_mark_output(g, y);
}

enum { T_SEQ = 5, T_B = 2, T_I = 4, T_H = 6 };

/* LSTM (three outputs, a per-step workspace, several phases) between views:
 *   xr = Relu(x); Y, Y_h, Y_c = LSTM(xr)
 *   o1 = MatMul(Reshape(Squeeze(Y, [1]), [10, H]), Wo)   views of an activation
 *   o2 = Add(Y_h, Y_c)
 *   o3 = Flatten(Y_h)                                  a view that is a graph output
 *   o4 = Tanh(Reshape(x, [5, 8]))                       a view of a graph input
 *   o5 = Unsqueeze(Relu(o4), [0])                       a view of a node output
 *   o6 = Flatten(x)                                     an output that is an input's view */
static void build_views(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 3);
    int64_t xd[3] = {T_SEQ, T_B, T_I};
    int x = mr_test_add_input(g, "x", 3, xd, err);
    int xr = unary(g, "relu_in", "Relu", x, err);
    int64_t wd[3] = {1, 4 * T_H, T_I}, rd[3] = {1, 4 * T_H, T_H}, bd[2] = {1, 8 * T_H};
    int w = mr_test_rand_const(g, &r, "lstm.W", 3, wd, -0.5f, 0.5f, err);
    int rr = mr_test_rand_const(g, &r, "lstm.R", 3, rd, -0.5f, 0.5f, err);
    int b = mr_test_rand_const(g, &r, "lstm.B", 2, bd, -0.2f, 0.2f, err);
    int y = MUST(mr_graph_add_tensor(g, "Y", err));
    int yh = MUST(mr_graph_add_tensor(g, "Y_h", err));
    int yc = MUST(mr_graph_add_tensor(g, "Y_c", err));
    int nd = MUST(
        mr_graph_add_node(g, "lstm", "LSTM", 4, (int[]){xr, w, rr, b}, 3, (int[]){y, yh, yc}, err));
    MUST(mr_node_set_int(g, nd, "hidden_size", T_H, err) ? -1 : 0);
    int64_t one = 1, zero = 0;
    int sq, rs, o1, o2, o3, xv, o4, o5r, o5;
    mr_test_add_node1(g, "squeeze", "Squeeze", 2, (int[]){y, i64_const(g, "sq_axes", 1, &one, err)},
                      &sq, err);
    int64_t shp[2] = {T_SEQ * T_B, T_H};
    mr_test_add_node1(g, "reshape", "Reshape", 2,
                      (int[]){sq, i64_const(g, "rs_shape", 2, shp, err)}, &rs, err);
    int64_t wod[2] = {T_H, 3};
    int wo = mr_test_rand_const(g, &r, "Wo", 2, wod, -1.0f, 1.0f, err);
    mr_test_add_node1(g, "proj", "MatMul", 2, (int[]){rs, wo}, &o1, err);
    mr_test_add_node1(g, "hc", "Add", 2, (int[]){yh, yc}, &o2, err);
    mr_test_add_node1(g, "flat", "Flatten", 1, &yh, &o3, err);
    int64_t xshp[2] = {T_SEQ, T_B * T_I};
    mr_test_add_node1(g, "xview", "Reshape", 2, (int[]){x, i64_const(g, "xv_shape", 2, xshp, err)},
                      &xv, err);
    o4 = unary(g, "xtanh", "Tanh", xv, err);
    o5r = unary(g, "o4relu", "Relu", o4, err);
    mr_test_add_node1(g, "unsq", "Unsqueeze", 2,
                      (int[]){o5r, i64_const(g, "us_axes", 1, &zero, err)}, &o5, err);
    mr_test_mark_output(g, o1);
    mr_test_mark_output(g, o2);
    mr_test_mark_output(g, o3);
    mr_test_mark_output(g, o4);
    mr_test_mark_output(g, o5);
    int o6;
    mr_test_add_node1(g, "xflat", "Flatten", 1, &x, &o6,
                      err); /* a graph output aliasing an input */
    mr_test_mark_output(g, o6);
}

/* Concatenations along channels (SqueezeNet's Fire modules), placed in place or copied:
 *   a = Conv(x) [1,4,4,4], b = Relu(Conv(x)) [1,4,4,4]
 *   y1 = Relu(Concat(a, b))     in place: a and b become the two halves of the Concat output
 *   y2 = Add(a, Sigmoid(y1a))   a piece read again after the Concat (y1a: a slice of y1's
 *                               input, so the output buffer must live until then)
 *   y3 = Concat(x, b2)          copied: x is a graph input
 *   y4 = Concat(c, c)           copied: one tensor twice
 *   y5 = Concat(d, e)           copied: d is 3x3 floats, so e would start off the alignment
 *   y7 = Concat(a2, b2)         in place, b2 = Tanh(b) its second piece; y6 = Flatten(b2)
 *                               before it and y8 = Flatten(b2) after it: views of a piece at
 *                               an offset, made before and after b2 became one
 */
static void build_concat(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 4);
    int64_t dims[4] = {1, 3, 4, 4};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int a = conv(g, &r, "ca", x, 3, 4, 3, 1, err);
    int b = unary(g, "rb", "Relu", conv(g, &r, "cb", x, 3, 4, 3, 1, err), err);
    int cat1, y1, y2, y3, y4, y5, y6, y7, y8;
    int nd = mr_test_add_node1(g, "cat1", "Concat", 2, (int[]){a, b}, &cat1, err);
    MUST(mr_node_set_int(g, nd, "axis", 1, err) ? -1 : 0);
    y1 = unary(g, "y1", "Relu", cat1, err);
    mr_test_add_node1(g, "y2", "Add", 2, (int[]){a, unary(g, "sa", "Sigmoid", b, err)}, &y2, err);
    int b2 = unary(g, "b2", "Tanh", b, err);
    nd = mr_test_add_node1(g, "cat3", "Concat", 2,
                           (int[]){x, conv(g, &r, "cx", x, 3, 2, 1, 1, err)}, &y3, err);
    MUST(mr_node_set_int(g, nd, "axis", 1, err) ? -1 : 0);
    int c = unary(g, "c", "Tanh", a, err);
    nd = mr_test_add_node1(g, "cat4", "Concat", 2, (int[]){c, c}, &y4, err);
    MUST(mr_node_set_int(g, nd, "axis", -3, err) ? -1 : 0);
    int d = conv(g, &r, "cd", x, 3, 1, 2, 1, err); /* [1,1,5,5]: pads 1, kernel 2 */
    int e = conv(g, &r, "ce", x, 3, 2, 2, 1, err);
    nd = mr_test_add_node1(g, "cat5", "Concat", 2, (int[]){d, e}, &y5, err);
    MUST(mr_node_set_int(g, nd, "axis", 1, err) ? -1 : 0);
    mr_test_add_node1(g, "y6", "Flatten", 1, &b2, &y6, err);
    int a2 = unary(g, "a2", "Sigmoid", a, err);
    nd = mr_test_add_node1(g, "cat7", "Concat", 2, (int[]){a2, b2}, &y7, err);
    MUST(mr_node_set_int(g, nd, "axis", 1, err) ? -1 : 0);
    mr_test_add_node1(g, "y8", "Flatten", 1, &b2, &y8, err);
    mr_test_mark_output(g, y1);
    mr_test_mark_output(g, y2);
    mr_test_mark_output(g, y3);
    mr_test_mark_output(g, y4);
    mr_test_mark_output(g, y5);
    mr_test_mark_output(g, y6);
    mr_test_mark_output(g, y7);
    mr_test_mark_output(g, y8);
}

/* ---- the independent plan check ---- */

typedef struct lbuf {
    int tensor, ws_step; /* a root tensor, or the workspace of step ws_step */
    int first, last;     /* step positions; -1 = before the first step, n = after the last */
    size_t off, bytes;
} lbuf;

typedef struct plan_report {
    size_t arena, peak, total; /* total: every buffer's bytes, as if nothing were shared */
    int n_bufs, n_skipped;
    int quiet, bad; /* quiet: count violations in `bad` instead of failing the test */
} plan_report;

/* CHECK_MSG, or (for the checker's self-test on a corrupted plan) a silent count. */
#define PCHECK(cond, ...)                                                                          \
    do {                                                                                           \
        if (rep.quiet) {                                                                           \
            if (!(cond)) rep.bad++;                                                                \
        } else {                                                                                   \
            CHECK_MSG(cond, __VA_ARGS__);                                                          \
        }                                                                                          \
    } while (0)

static plan_report check_plan(const char *what, const mr_graph *g, const mr_plan *p, int quiet) {
    plan_report rep = {p->arena_bytes, 0, 0, 0, 0, quiet, 0};
    int ns = p->n_steps, nt = g->n_tensors;
    PCHECK(ns == g->n_order, "%s: %d steps for %d ordered nodes", what, ns, g->n_order);
    int *root = malloc(sizeof(int) * (size_t)nt);
    int *parent = malloc(sizeof(int) * (size_t)nt);    /* the tensor whose storage t is part of */
    size_t *poff = calloc((size_t)nt, sizeof(size_t)); /* t's byte offset in its parent */
    int *first = malloc(sizeof(int) * (size_t)nt);
    int *last = malloc(sizeof(int) * (size_t)nt);
    char *avail = calloc((size_t)nt, 1); /* has a value at this point of the execution */
    char *arena = calloc((size_t)nt, 1); /* lives in the arena */
    lbuf *bufs = malloc(sizeof(lbuf) * (size_t)(nt + ns + 1));
    for (int t = 0; t < nt; t++) {
        root[t] = parent[t] = t;
        first[t] = last[t] = -2;
        const mr_tensor_desc *d = &g->tensors[t];
        avail[t] = d->data != NULL || d->is_input;
        arena[t] = d->is_input && !d->data;
    }
    size_t largest = 0;
    for (int s = 0; s < ns && s < g->n_order; s++) {
        PCHECK(p->steps[s] == g->order[s], "%s: p->steps[s] == g->order[s]", what);
        const mr_node *n = &g->nodes[p->steps[s]];
        PCHECK(!n->dead, "%s: !n->dead", what);
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0)
                PCHECK(avail[n->in[k]], "%s: step %d ('%s') reads '%s' before it exists", what, s,
                       n->name, g->tensors[n->in[k]].name);
        for (int k = 0; k < n->n_out; k++) {
            int t = n->out[k];
            if (t < 0) continue;
            PCHECK(!g->tensors[t].data, "%s: step '%s' writes constant '%s'", what, n->name,
                   g->tensors[t].name);
            avail[t] = 1;
            arena[t] = 1;
        }
        if (p->skip[s] && (n->op->flags & MR_OP_CONCAT)) {
            rep.n_skipped++;
            /* A Concat in place: its inputs are its output's pieces, one after another, which
             * takes every dimension before the axis to be 1; nothing else was a piece yet. */
            int out = n->out[0];
            const mr_tensor_desc *od = &g->tensors[out];
            for (int dd = 0; dd < mr_concat_axis(n); dd++)
                PCHECK(od->dims[dd] == 1, "%s: '%s' in place with dims[%d] = %lld", what, n->name,
                       dd, (long long)od->dims[dd]);
            size_t off = 0;
            for (int k = 0; k < n->n_in; k++) {
                int t = n->in[k];
                PCHECK(t >= 0 && arena[t] && parent[t] == t && !g->tensors[t].is_input,
                       "%s: '%s' input %d cannot be a piece", what, n->name, k);
                if (t < 0) continue;
                parent[t] = out;
                poff[t] = off;
                off += mr_desc_bytes(&g->tensors[t]);
            }
            PCHECK(off == mr_desc_bytes(od), "%s: the pieces of '%s' are %zu of %zu bytes", what,
                   n->name, off, mr_desc_bytes(od));
        } else if (p->skip[s]) {
            rep.n_skipped++;
            /* An aliased view: the output is the input's memory, reinterpreted. */
            PCHECK(n->op->flags & MR_OP_VIEW, "%s: skipped step '%s' (%s) is not a view", what,
                   n->name, n->op_type);
            int in = n->in[0], out = n->out[0];
            PCHECK(in >= 0 && out >= 0 && arena[in], "%s: in >= 0 && out >= 0 && arena[in]", what);
            if (in >= 0 && out >= 0) {
                parent[out] = in;
                PCHECK(mr_desc_bytes(&g->tensors[out]) == mr_desc_bytes(&g->tensors[in]),
                       "%s: view '%s' changes the byte size", what, n->name);
            }
            PCHECK(n->n_out == 1 || n->out[1] < 0, "%s: n->n_out == 1 || n->out[1] < 0", what);
        }
    }
    /* Roots and offsets within them, from the chains of parents. */
    size_t *roff = calloc((size_t)nt, sizeof(size_t));
    for (int t = 0; t < nt; t++) {
        int q = t, hops = 0;
        for (; parent[q] != q && hops < nt; hops++) {
            roff[t] += poff[q];
            q = parent[q];
        }
        root[t] = q;
    }
    /* alias_of/offset agree with the independently derived roots; no alias is written by an
     * executed step (it would write into someone else's buffer). */
    for (int t = 0; t < nt; t++) {
        if (!arena[t]) continue;
        int r = t, hops = 0;
        while (g->tensors[r].alias_of >= 0 && hops++ < nt) r = g->tensors[r].alias_of;
        PCHECK(r == root[t], "%s: '%s' aliases '%s', expected '%s'", what, g->tensors[t].name,
               g->tensors[r].name, g->tensors[root[t]].name);
        if (root[t] != t)
            PCHECK(g->tensors[t].offset == g->tensors[root[t]].offset + roff[t],
                   "%s: '%s' is not at %zu bytes into its root", what, g->tensors[t].name, roff[t]);
    }
    /* Lifetimes of the roots: every step touching the tensor or a view of it. */
    for (int s = 0; s < ns; s++) {
        const mr_node *n = &g->nodes[p->steps[s]];
        for (int pass = 0; pass < 2; pass++) {
            int cnt = pass ? n->n_out : n->n_in;
            const int *ts = pass ? n->out : n->in;
            for (int k = 0; k < cnt; k++) {
                int t = ts[k];
                if (t < 0 || !arena[t]) continue;
                int r = root[t];
                if (first[r] == -2) first[r] = s;
                last[r] = s;
            }
        }
    }
    int nb = 0;
    for (int t = 0; t < nt; t++) {
        if (!arena[t] || root[t] != t) continue;
        const mr_tensor_desc *d = &g->tensors[t];
        lbuf b = {t, -1, first[t], last[t], d->offset, mr_desc_bytes(d)};
        if (d->is_input) b.first = -1;
        if (b.last < b.first) b.last = b.first;
        if (b.bytes > largest) largest = b.bytes;
        rep.total += b.bytes;
        bufs[nb++] = b;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->outputs[i];
        if (!arena[t]) continue;
        for (int b = 0; b < nb; b++)
            if (bufs[b].tensor == root[t]) bufs[b].last = ns;
    }
    for (int s = 0; s < ns; s++) {
        const mr_node *n = &g->nodes[p->steps[s]];
        if (n->workspace_bytes && !p->skip[s]) {
            bufs[nb++] = (lbuf){-1, s, s, s, p->ws_offset[s], n->workspace_bytes};
            rep.total += n->workspace_bytes;
        }
    }
    rep.n_bufs = nb;
    size_t scratch = 0;
    for (int s = 0; s < ns; s++)
        if (!p->skip[s] && g->nodes[p->steps[s]].scratch_bytes > scratch)
            scratch = g->nodes[p->steps[s]].scratch_bytes;
    PCHECK(p->scratch_bytes >= scratch, "%s: scratch %zu < %zu", what, p->scratch_bytes, scratch);
    PCHECK(p->largest == largest, "%s: largest %zu, expected %zu", what, p->largest, largest);
    for (int a = 0; a < nb; a++) {
        const lbuf *x = &bufs[a];
        const char *xn = x->tensor >= 0 ? g->tensors[x->tensor].name : "(workspace)";
        PCHECK(x->off % MR_ARENA_ALIGN == 0, "%s: '%s' at offset %zu is not aligned", what, xn,
               x->off);
        PCHECK(x->off + x->bytes <= p->arena_bytes,
               "%s: '%s' [%zu, %zu) is outside the %zu-byte arena", what, xn, x->off,
               x->off + x->bytes, p->arena_bytes);
        for (int b = a + 1; b < nb; b++) {
            const lbuf *y = &bufs[b];
            if (x->last < y->first || y->last < x->first) continue;
            if (x->bytes == 0 || y->bytes == 0) continue;
            int disjoint = x->off + x->bytes <= y->off || y->off + y->bytes <= x->off;
            PCHECK(disjoint, "%s: '%s' [%zu,+%zu) live %d..%d overlaps '%s' [%zu,+%zu) live %d..%d",
                   what, xn, x->off, x->bytes, x->first, x->last,
                   y->tensor >= 0 ? g->tensors[y->tensor].name : "(workspace)", y->off, y->bytes,
                   y->first, y->last);
        }
    }
    for (int s = -1; s <= ns; s++) {
        size_t live = 0;
        for (int b = 0; b < nb; b++)
            if (bufs[b].first <= s && s <= bufs[b].last) live += bufs[b].bytes;
        if (live > rep.peak) rep.peak = live;
    }
    PCHECK(p->arena_bytes >= rep.peak, "%s: arena %zu below the live peak %zu", what,
           p->arena_bytes, rep.peak);
    free(root);
    free(parent);
    free(poff);
    free(roff);
    free(first);
    free(last);
    free(avail);
    free(arena);
    free(bufs);
    return rep;
}

/* Corrupts a correct plan in ways the checker must notice (so that a passing check means
 * something): a buffer moved onto another live one, a misaligned offset, a too-small arena. */
static void checker_self_test(const char *what, mr_graph *g, mr_plan *plan) {
    int a = -1, b = -1;
    /* The graph input and the first step's output are live together at step 0. */
    a = g->inputs[0];
    const mr_node *n0 = &g->nodes[plan->steps[0]];
    b = n0->out[0];
    if (a < 0 || b < 0 || plan->skip[0]) return;
    size_t saved = g->tensors[b].offset;
    g->tensors[b].offset = g->tensors[a].offset;
    plan_report r = check_plan(what, g, plan, 1);
    CHECK_MSG(r.bad > 0, "%s: the checker missed an overlap", what);
    g->tensors[b].offset = saved + 16;
    r = check_plan(what, g, plan, 1);
    CHECK_MSG(r.bad > 0, "%s: the checker missed a misaligned offset", what);
    g->tensors[b].offset = saved;
    size_t arena = plan->arena_bytes;
    plan->arena_bytes = arena - 64;
    r = check_plan(what, g, plan, 1);
    CHECK_MSG(r.bad > 0, "%s: the checker missed a buffer outside the arena", what);
    plan->arena_bytes = arena;
    r = check_plan(what, g, plan, 1);
    CHECK_MSG(r.bad == 0, "%s: the restored plan does not check", what);
}

/* Finalises and plans a graph and checks the plan (arena 0 on failure). */
static plan_report plan_and_check(const char *what, mr_graph *g, int optimize, int self_test) {
    plan_report rep = {0};
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_graph_finalize(g, optimize, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st != MR_OK) return rep;
    mr_plan plan;
    st = mr_plan_build(g, &plan, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st != MR_OK) return rep;
    char w[96];
    snprintf(w, sizeof w, "%s (optimize=%d)", what, optimize);
    rep = check_plan(w, g, &plan, 0);
    printf("  %-28s arena %10zu B (%7.3f MiB), live peak %10zu B, unshared %10zu B, "
           "%3d buffers, %3d steps (%d views)\n",
           w, rep.arena, rep.arena / 1048576.0, rep.peak, rep.total, rep.n_bufs, plan.n_steps,
           rep.n_skipped);
    if (self_test) checker_self_test(w, g, &plan);
    mr_plan_free(&plan);
    return rep;
}

/* ---- end-to-end: the planned arena vs separate allocations ---- */

#define MAX_IO 8

/* Evaluates the graph node by node with mr_node_eval (every tensor owns its memory). */
static void reference(build_fn build, float *const *inputs, float **outs, int64_t *numel) {
    mr_err e, *err = &e;
    mr_err_clear(err);
    mr_graph *g = mr_graph_create(err);
    build(g, err);
    while (g->n_inputs > 0) {
        const mr_tensor_desc *d = &g->tensors[g->inputs[0]];
        mr_tensor v = {d->dtype, d->ndim, {0}, inputs[0]};
        memcpy(v.dims, d->dims, sizeof v.dims);
        MUST(mr_graph_bind_input_const(g, 0, &v, err) ? -1 : 0);
        inputs++;
    }
    for (int i = 0; i < g->n_nodes; i++) MUST(mr_node_eval(g, i, err) ? -1 : 0);
    for (int o = 0; o < g->n_outputs; o++) {
        const mr_tensor_desc *d = &g->tensors[g->outputs[o]];
        numel[o] = mr_desc_numel(d);
        outs[o] = malloc(sizeof(float) * (size_t)numel[o]);
        memcpy(outs[o], d->data, sizeof(float) * (size_t)numel[o]);
    }
    mr_graph_destroy(g);
}

static void end_to_end(mr_runtime *rt, const char *what, build_fn build, int optimize) {
    mr_err e, *err = &e;
    mr_err_clear(err);
    mr_graph *g = mr_graph_create(err);
    build(g, err);
    mr_model_params mp = mr_model_default_params();
    mp.optimize = optimize;
    mr_model *m = NULL;
    mr_status st = mr_model_from_graph(rt, g, &mp, &m);
    CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
    if (st != MR_OK) return;

    /* The model's stats report the arena of the same plan as a separately planned copy. */
    mr_graph *g2 = mr_graph_create(err);
    build(g2, err);
    plan_report rep = plan_and_check(what, g2, optimize, 1);
    size_t arena = rep.arena;
    mr_graph_destroy(g2);
    /* Buffers are shared: the chain and the residual blocks reuse memory. */
    if (strcmp(what, "views+lstm") != 0)
        CHECK_MSG(arena < rep.total, "%s: arena %zu, no sharing (%zu)", what, arena, rep.total);
    /* Every view of the views graph aliases its input (squeeze, reshape, flat, xview, unsq,
     * xflat): none is executed. */
    if (strcmp(what, "views+lstm") == 0) CHECK_MSG(rep.n_skipped == 6, "%d views", rep.n_skipped);
    /* cat1 and cat7 in place, y6 and y8 views; cat3, cat4 and cat5 copy (see build_concat). */
    if (strcmp(what, "concat") == 0) CHECK_MSG(rep.n_skipped == 4, "%d skipped", rep.n_skipped);
    mr_model_stats stats;
    mr_model_get_stats(m, &stats);
    CHECK_MSG(stats.arena_bytes == arena && arena > 0, "%s: stats arena %zu, plan %zu", what,
              stats.arena_bytes, arena);

    int ni = mr_model_n_inputs(m), no = mr_model_n_outputs(m);
    mr_rng rng;
    mr_rng_seed(&rng, 99);
    for (int rep = 0; rep < 3; rep++) {
        mr_tensor ins[MAX_IO], outs[MAX_IO];
        float *in_data[MAX_IO], *out_data[MAX_IO], *ref[MAX_IO];
        int64_t ref_numel[MAX_IO];
        for (int i = 0; i < ni; i++) {
            mr_tensor_info ti;
            mr_model_input_info(m, i, &ti);
            ins[i] = (mr_tensor){ti.dtype, ti.ndim, {0}, NULL};
            memcpy(ins[i].dims, ti.dims, sizeof ti.dims);
            int64_t n = mr_tensor_numel(&ins[i]);
            in_data[i] = malloc(sizeof(float) * (size_t)n);
            mr_rng_fill(&rng, in_data[i], n, -2.0f, 2.0f);
            ins[i].data = in_data[i];
        }
        for (int i = 0; i < no; i++) {
            mr_tensor_info ti;
            mr_model_output_info(m, i, &ti);
            outs[i] = (mr_tensor){ti.dtype, ti.ndim, {0}, NULL};
            memcpy(outs[i].dims, ti.dims, sizeof ti.dims);
            int64_t n = mr_tensor_numel(&outs[i]);
            out_data[i] = malloc(sizeof(float) * (size_t)n);
            for (int64_t k = 0; k < n; k++) out_data[i][k] = NAN;
            outs[i].data = out_data[i];
        }
        st = mr_model_run(m, ni, ins, no, outs);
        CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
        reference(build, in_data, ref, ref_numel);
        float rtol = optimize ? 1e-4f : 1e-5f, atol = optimize ? 1e-5f : 1e-6f;
        for (int i = 0; i < no; i++) {
            CHECK(ref_numel[i] == mr_tensor_numel(&outs[i]));
            double max_abs;
            int64_t worst;
            int ok = mr_allclose(out_data[i], ref[i], ref_numel[i], rtol, atol, &max_abs, &worst);
            CHECK_MSG(ok, "%s (optimize=%d) run %d output %d: max |diff| %.3g at %lld (%g vs %g)",
                      what, optimize, rep, i, max_abs, (long long)worst, out_data[i][worst],
                      ref[i][worst]);
            free(out_data[i]);
            free(ref[i]);
        }
        for (int i = 0; i < ni; i++) free(in_data[i]);
    }
    mr_model_destroy(m);
}

/* ---- zoo models ---- */

static size_t zoo_plan(const char *name, int optimize) {
    mr_err err;
    mr_graph *g = NULL;
    mr_status st = mr_zoo_build(name, &g, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st != MR_OK) return 0;
    plan_report rep = plan_and_check(name, g, optimize, 0);
    mr_graph_destroy(g);
    CHECK_MSG(rep.arena < rep.total, "%s: arena %zu, no sharing (%zu)", name, rep.arena, rep.total);
    return rep.arena;
}

static void test_zoo(mr_runtime *rt) {
    const char *names[] = {"resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "lstm"};
    for (int i = 0; i < 5; i++) {
        size_t a1 = zoo_plan(names[i], 1);
        if (strcmp(names[i], "resnet50") == 0) {
            size_t a0 = zoo_plan(names[i], 0);
            CHECK_MSG(a1 > 0 && a1 <= (size_t)16 << 20, "ResNet-50 arena %zu B > 16 MiB", a1);
            /* Unfolded BatchNorms and separate activations only add buffers. */
            CHECK(a0 >= a1);
            /* What a user sees: the model's stats. */
            mr_model *m = NULL;
            mr_status st = mr_model_load_zoo(rt, "resnet50", NULL, &m);
            CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
            if (st == MR_OK) {
                mr_model_stats s;
                mr_model_get_stats(m, &s);
                CHECK_MSG(s.arena_bytes == a1, "resnet50 stats arena %zu, plan %zu", s.arena_bytes,
                          a1);
                CHECK(s.largest_tensor == 1 * 64 * 112 * 112 * 4);
            }
            mr_model_destroy(m);
        }
    }
}

int main(void) {
    mr_runtime_params rp = mr_runtime_default_params();
    rp.backend = MR_BACKEND_CPU;
    rp.n_threads = 2;
    mr_runtime *rt = NULL;
    char eb[256];
    if (mr_runtime_create(&rp, &rt, eb, sizeof eb) != MR_OK) {
        fprintf(stderr, "runtime: %s\n", eb);
        return 1;
    }
    struct {
        const char *name;
        build_fn build;
    } graphs[] = {{"chain", build_chain},
                  {"diamond", build_diamond},
                  {"views+lstm", build_views},
                  {"concat", build_concat}};
    for (int i = 0; i < 4; i++)
        for (int opt = 0; opt <= 1; opt++) end_to_end(rt, graphs[i].name, graphs[i].build, opt);
    test_zoo(rt);
    mr_runtime_destroy(rt);
    return mr_test_finish("memplan");
}
