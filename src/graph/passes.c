/* Optimisation passes (see passes.h). They run after shape inference, so every tensor has a
 * shape; each rewires tensors by index and marks removed nodes dead. */
#include "graph/passes.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"

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
        const mr_tensor_desc *z = &g->tensors[add->out[0]];
        if (z->ndim != y->ndim || memcmp(z->dims, y->dims, sizeof(int64_t) * (size_t)y->ndim))
            continue;
        MR_TRY(ensure_inputs(mm, 3, err));
        mm->in[2] = other;
        mm->out[0] = add->out[0];
        MR_TRY(add_label(mm, "Add", err));
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
