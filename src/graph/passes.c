/* Optimisation passes (see passes.h). They run after shape inference, so every tensor has a
 * shape; each rewires tensors by index and marks removed nodes dead. */
#include "graph/passes.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"
#include "ops/rnn.h"

static int is_op(const mr_node *n, const char *type) {
    return !n->dead && n->op && strcmp(n->op->name, type) == 0;
}

/* The only live consumer of tensor t, or -1 (none, several, or t is a graph output). */
static int sole_consumer(const mr_graph *g, int t) {
    if (t < 0 || g->tensors[t].is_output) return -1;
    int found = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const mr_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] != t) continue;
            if (found >= 0 && found != i) return -1;
            found = i;
        }
    }
    return found;
}

static void replace_uses(mr_graph *g, int from, int to) {
    for (int i = 0; i < g->n_nodes; i++) {
        mr_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == from) n->in[k] = to;
    }
}

/* Appends a fusion to the node's label ("Conv" -> "Conv+Relu"). */
static mr_status add_label(mr_node *n, const char *what, mr_err *err) {
    const char *base = n->label ? n->label : n->op_type;
    size_t len = strlen(base) + strlen(what) + 2;
    char *l = mr_malloc(len, "node label", err);
    if (!l) return err->status;
    snprintf(l, len, "%s+%s", base, what);
    free(n->label);
    n->label = l;
    return MR_OK;
}

/* Makes room for `count` inputs (new slots are -1). */
static mr_status ensure_inputs(mr_node *n, int count, mr_err *err) {
    if (n->n_in >= count) return MR_OK;
    int *in = mr_realloc(n->in, sizeof(int) * (size_t)count, "node inputs", err);
    if (!in) return err->status;
    for (int k = n->n_in; k < count; k++) in[k] = -1;
    n->in = in;
    n->n_in = count;
    return MR_OK;
}

static void kill(mr_node *n) {
    mr_node_clear(n);
}

mr_status mr_pass_drop_identity(mr_graph *g, mr_err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        mr_node *n = &g->nodes[i];
        if (!is_op(n, "Identity") && !is_op(n, "Dropout")) continue;
        int in = n->in[0], out = n->out[0];
        if (in < 0 || out < 0 || g->tensors[out].is_output) continue;
        kill(n);
        replace_uses(g, out, in);
    }
    mr_graph_link(g);
    return MR_OK;
}

static int dims_are(const mr_tensor_desc *t, int ndim, const int64_t *dims) {
    return t->ndim == ndim && memcmp(t->dims, dims, sizeof(int64_t) * (size_t)ndim) == 0;
}

static const float *const_f32(const mr_graph *g, int t, int64_t numel) {
    if (t < 0) return NULL;
    const mr_tensor_desc *d = &g->tensors[t];
    if (!d->data || d->dtype != MR_DTYPE_F32 || mr_desc_numel(d) != numel) return NULL;
    return d->data;
}

/* y = s*(conv(x) + b - mean) + beta, s = gamma/sqrt(var+eps): W'[m] = s[m]W[m],
 * b'[m] = s[m](b[m]-mean[m]) + beta[m]. Computed in double, stored as float. */
static mr_status fold_one(mr_graph *g, int conv_idx, int bn_idx, mr_err *err) {
    mr_node *conv = &g->nodes[conv_idx];
    mr_node *bn = &g->nodes[bn_idx];
    const mr_tensor_desc *w = &g->tensors[conv->in[1]];
    int64_t m = w->dims[0], wnumel = mr_desc_numel(w), per = m ? wnumel / m : 0;
    const float *gamma = const_f32(g, bn->in[1], m), *beta = const_f32(g, bn->in[2], m);
    const float *mean = const_f32(g, bn->in[3], m), *var = const_f32(g, bn->in[4], m);
    const float *bias = conv->n_in > 2 ? const_f32(g, conv->in[2], m) : NULL;
    if (!gamma || !beta || !mean || !var || (conv->n_in > 2 && conv->in[2] >= 0 && !bias))
        return MR_OK;
    float eps;
    MR_TRY(mr_attr_get_float(bn, "epsilon", 1e-5f, &eps, err));

    float *nw = mr_malloc_array((size_t)wnumel, sizeof(float), "folded weights", err);
    float *nb = mr_malloc_array((size_t)m, sizeof(float), "folded bias", err);
    if (!nw || !nb) {
        free(nw);
        free(nb);
        return err->status;
    }
    const float *wd = w->data;
    for (int64_t o = 0; o < m; o++) {
        double s = (double)gamma[o] / sqrt((double)var[o] + (double)eps);
        for (int64_t k = 0; k < per; k++) nw[o * per + k] = (float)(wd[o * per + k] * s);
        nb[o] = (float)(((bias ? bias[o] : 0.0) - mean[o]) * s + beta[o]);
    }
    char name[600];
    int64_t wdims[MR_MAX_DIMS];
    int wnd = w->ndim;
    memcpy(wdims, w->dims, sizeof wdims);
    snprintf(name, sizeof name, "%s.weight_bnfold", conv->name);
    int tw = mr_graph_add_const(g, name, MR_DTYPE_F32, wnd, wdims, nw, err);
    snprintf(name, sizeof name, "%s.bias_bnfold", conv->name);
    int tb = tw < 0 ? -1 : mr_graph_add_const(g, name, MR_DTYPE_F32, 1, &m, nb, err);
    free(nw);
    free(nb);
    if (tw < 0 || tb < 0) return err->status;
    conv = &g->nodes[conv_idx];
    bn = &g->nodes[bn_idx];
    MR_TRY(ensure_inputs(conv, 3, err));
    conv->in[1] = tw;
    conv->in[2] = tb;
    conv->out[0] = bn->out[0];
    MR_TRY(add_label(conv, "BatchNormalization", err));
    kill(bn);
    return MR_OK;
}

mr_status mr_pass_fold_batchnorm(mr_graph *g, mr_err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        if (!is_op(&g->nodes[i], "Conv")) continue;
        const mr_node *conv = &g->nodes[i];
        if (conv->n_in < 2 || conv->in[1] < 0 || !g->tensors[conv->in[1]].data) continue;
        if (conv->act.kind != MR_ACT_NONE) continue;
        int c = sole_consumer(g, conv->out[0]);
        if (c < 0 || !is_op(&g->nodes[c], "BatchNormalization")) continue;
        const mr_node *bn = &g->nodes[c];
        if (bn->in[0] != conv->out[0] || bn->n_in < 5 || bn->n_out != 1) continue;
        MR_TRY(fold_one(g, i, c, err));
        mr_graph_link(g);
    }
    return MR_OK;
}

mr_status mr_pass_fuse_bias(mr_graph *g, mr_err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        mr_node *mm = &g->nodes[i];
        if (!is_op(mm, "MatMul") || mm->n_in != 2 || mm->act.kind != MR_ACT_NONE) continue;
        const mr_tensor_desc *y = &g->tensors[mm->out[0]];
        if (y->ndim < 1) continue;
        int64_t ncols = y->dims[y->ndim - 1];
        int c = sole_consumer(g, mm->out[0]);
        if (c < 0 || !is_op(&g->nodes[c], "Add")) continue;
        mr_node *add = &g->nodes[c];
        int other = add->in[0] == mm->out[0] ? add->in[1] : add->in[0];
        if (other < 0 || other == mm->out[0]) continue;
        const mr_tensor_desc *b = &g->tensors[other];
        if (!b->data || b->dtype != MR_DTYPE_F32 || b->ndim != 1 || b->dims[0] != ncols) continue;
        /* The Add must not broadcast the MatMul result to a larger shape. */
        if (!dims_are(&g->tensors[add->out[0]], y->ndim, y->dims)) continue;
        MR_TRY(ensure_inputs(mm, 3, err));
        mm->in[2] = other;
        mm->out[0] = add->out[0];
        MR_TRY(add_label(mm, "Add", err));
        kill(add);
        mr_graph_link(g);
    }
    return MR_OK;
}

/* 1: tensors a and b have the same dtype and shape. */
static int same_shape(const mr_graph *g, int a, int b) {
    const mr_tensor_desc *x = &g->tensors[a], *y = &g->tensors[b];
    return x->dtype == y->dtype && dims_are(x, y->ndim, y->dims);
}

mr_status mr_pass_fuse_residual(mr_graph *g, mr_err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        mr_node *conv = &g->nodes[i];
        /* Before fuse_activation: an activation already in the epilogue would come before
         * the residual, where the graph has it after (Conv, Add, Relu). */
        if (!is_op(conv, "Conv") || conv->act.kind != MR_ACT_NONE || conv->n_in > 3) continue;
        if (conv->n_out != 1 || conv->out[0] < 0) continue;
        const int y = conv->out[0];
        if (g->tensors[y].dtype != MR_DTYPE_F32) continue;
        int c = sole_consumer(g, y);
        if (c < 0 || !is_op(&g->nodes[c], "Add")) continue;
        mr_node *add = &g->nodes[c];
        if (add->n_in != 2 || add->n_out != 1 || add->out[0] < 0) continue;
        const int other = add->in[0] == y ? add->in[1] : add->in[0];
        /* no broadcasting either way: the residual is read at the output's own index */
        if (other < 0 || other == y || !same_shape(g, other, y) || !same_shape(g, add->out[0], y))
            continue;
        /* The residual's producer cannot depend on the Conv (its result's one consumer is the
         * Add), so the re-sort after the passes can always put it first. */
        MR_TRY(ensure_inputs(conv, 4, err));
        conv->in[3] = other;
        conv->out[0] = add->out[0];
        MR_TRY(add_label(conv, "Add", err));
        kill(add);
        mr_graph_link(g);
    }
    return MR_OK;
}

mr_status mr_pass_fuse_activation(mr_graph *g, mr_err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        mr_node *p = &g->nodes[i];
        if (p->dead || !p->op || !(p->op->flags & MR_OP_FUSE_ACT) || p->act.kind != MR_ACT_NONE)
            continue;
        int c = sole_consumer(g, p->out[0]);
        if (c < 0) continue;
        mr_node *a = &g->nodes[c];
        mr_act act;
        if (a->dead || a->n_in < 1 || a->in[0] != p->out[0] || !mr_act_from_node(g, a, &act))
            continue;
        p->act = act;
        p->out[0] = a->out[0];
        MR_TRY(add_label(p, a->op_type, err));
        kill(a);
        mr_graph_link(g);
    }
    return MR_OK;
}

/* 1: no live node reads output k.. of n, and none is a graph output. */
static int outputs_unused_from(const mr_graph *g, const mr_node *n, int k) {
    for (; k < n->n_out; k++) {
        int t = n->out[k];
        if (t >= 0 && (g->tensors[t].is_output || g->tensors[t].n_consumers > 0)) return 0;
    }
    return 1;
}

/* The conditions of mr_pass_stack_rnn on the layers lo (below) and up. */
static int stackable(const mr_graph *g, const mr_node *lo, const mr_node *up) {
    const mr_rnn_params *a = lo->params, *b = up->params;
    if (!a || !b || a->gru != b->gru || (a->gru && (!a->lbr || !b->lbr))) return 0;
    if (a->dirs != 1 || b->dirs != 1 || a->first_rev || b->first_rev || a->layout || b->layout)
        return 0;
    const mr_tensor_desc *x = &g->tensors[lo->in[0]];
    if (lo->n_in < 3 || up->n_in < 3 || lo->in[2] < 0 || up->in[2] < 0 || x->ndim != 3) return 0;
    const mr_tensor_desc *r0 = &g->tensors[lo->in[2]], *r1 = &g->tensors[up->in[2]];
    int64_t S = x->dims[0], H = r0->ndim == 3 ? r0->dims[2] : 0;
    if (x->dims[1] != 1 || H % 8 || H <= 0 || H > MR_RNN_STACK_MAX_H) return 0;
    if (r1->ndim != 3 || r1->dims[2] != H) return 0;
    int64_t y[4] = {S, 1, 1, H}, xs[3] = {S, 1, H};
    return dims_are(&g->tensors[lo->out[0]], 4, y) && dims_are(&g->tensors[up->in[0]], 3, xs);
}

/* up becomes the stacked node of lo and up (ops/rnn.h); lo and the Squeeze sq are removed. */
static mr_status stack_one(mr_graph *g, int lo_i, int sq_i, int up_i, mr_err *err) {
    mr_node *lo = &g->nodes[lo_i], *up = &g->nodes[up_i];
    mr_rnn_stack *st = mr_malloc(sizeof *st, "stacked RNN parameters", err);
    if (!st) return err->status;
    memset(st, 0, sizeof *st);
    st->l[0] = *(const mr_rnn_params *)lo->params;
    st->l[1] = *(const mr_rnn_params *)up->params;
    int *in = mr_malloc(sizeof(int) * 2 * MR_RNN_STACK_IN, "node inputs", err);
    if (!in) {
        free(st);
        return err->status;
    }
    for (int k = 0; k < MR_RNN_STACK_IN; k++) {
        in[k] = k < lo->n_in ? lo->in[k] : -1;
        in[MR_RNN_STACK_IN + k] = k > 0 && k < up->n_in ? up->in[k] : -1;
    }
    mr_status st_label = add_label(up, up->op_type, err);
    if (st_label != MR_OK) {
        free(st);
        free(in);
        return st_label;
    }
    free(up->in);
    up->in = in;
    up->n_in = 2 * MR_RNN_STACK_IN;
    free(up->params);
    up->params = st;
    up->op = st->l[0].gru ? &mr_op_gru_stack : &mr_op_lstm_stack;
    kill(lo);
    kill(&g->nodes[sq_i]);
    return MR_OK;
}

mr_status mr_pass_stack_rnn(mr_graph *g, mr_err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        mr_node *up = &g->nodes[i];
        if ((!is_op(up, "LSTM") && !is_op(up, "GRU")) || up->n_in < 1 || up->in[0] < 0) continue;
        int sq = g->tensors[up->in[0]].producer;
        if (sq < 0 || !is_op(&g->nodes[sq], "Squeeze") || sole_consumer(g, up->in[0]) != i)
            continue;
        int y0 = g->nodes[sq].in[0];
        if (y0 < 0 || sole_consumer(g, y0) != sq) continue;
        int lo = g->tensors[y0].producer;
        if (lo < 0 || !is_op(&g->nodes[lo], up->op->name) || g->nodes[lo].n_out < 1 ||
            g->nodes[lo].out[0] != y0 || !outputs_unused_from(g, &g->nodes[lo], 1) ||
            !stackable(g, &g->nodes[lo], up))
            continue;
        MR_TRY(stack_one(g, lo, sq, i, err));
        mr_graph_link(g);
    }
    return MR_OK;
}
