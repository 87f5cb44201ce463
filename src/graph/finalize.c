/* Graph finalisation: validation, ordering, shape inference with constant folding, and the
 * optimisation passes (graph/passes.c). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/passes.h"
#include "ops/op.h"

/* Float constants at these inputs are buffers or hyper-parameters, not learnable parameters:
 * BatchNormalization's running mean/variance (inputs 3 and 4), Clip's bounds (exported as
 * initializers for ReLU6) and Dropout's ratio. */
static int is_param_input(const mr_node *n, int k) {
    if (strcmp(n->op_type, "BatchNormalization") == 0) return k < 3;
    if (strcmp(n->op_type, "Clip") == 0 || strcmp(n->op_type, "Dropout") == 0) return k < 1;
    return 1;
}

/* Parameters as PyTorch counts them: float constants that nodes read as weights, once each. */
static mr_status count_params(mr_graph *g, mr_err *err) {
    char *counted = mr_calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1, "param flags", err);
    if (!counted) return err->status;
    int64_t total = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const mr_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++) {
            int t = n->in[k];
            if (t < 0 || counted[t] || !is_param_input(n, k)) continue;
            const mr_tensor_desc *d = &g->tensors[t];
            if (!d->data || d->dtype != MR_DTYPE_F32) continue;
            counted[t] = 1;
            total += mr_desc_numel(d);
        }
    }
    free(counted);
    g->n_params = total;
    return MR_OK;
}

/* Every tensor has at most one writer, and no node writes a constant (it would change the
 * weights under later runs) or a graph input. The ONNX importer checks this too; graphs built
 * in code (the zoo, tests) are checked here. */
static mr_status check_writers(mr_graph *g, mr_err *err) {
    int *writer = mr_malloc_array((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof(int),
                                  "writer table", err);
    if (!writer) return err->status;
    for (int t = 0; t < g->n_tensors; t++) writer[t] = -1;
    mr_status st = MR_OK;
    for (int i = 0; i < g->n_nodes && st == MR_OK; i++) {
        const mr_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_out && st == MR_OK; k++) {
            int t = n->out[k];
            if (t < 0) continue;
            const mr_tensor_desc *d = &g->tensors[t];
            if (d->data || d->is_input)
                st = mr_errf(err, MR_ERR_GRAPH, "%s node '%s' writes '%s', which is a %s",
                             n->op_type, n->name, d->name, d->data ? "constant" : "graph input");
            else if (writer[t] >= 0 && writer[t] != i)
                st = mr_errf(err, MR_ERR_GRAPH,
                             "tensor '%s' is produced twice: by %s node '%s' and by %s node '%s'",
                             d->name, g->nodes[writer[t]].op_type, g->nodes[writer[t]].name,
                             n->op_type, n->name);
            else if (writer[t] == i)
                st = mr_errf(err, MR_ERR_GRAPH, "%s node '%s' writes '%s' twice", n->op_type,
                             n->name, d->name);
            writer[t] = i;
        }
    }
    free(writer);
    return st;
}

static mr_status check_dangling(mr_graph *g, mr_err *err) {
    if (g->n_outputs == 0) return mr_errf(err, MR_ERR_GRAPH, "the graph has no outputs");
    for (int i = 0; i < g->n_nodes; i++) {
        const mr_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++) {
            int t = n->in[k];
            if (t < 0) continue;
            const mr_tensor_desc *d = &g->tensors[t];
            if (d->producer < 0 && !d->data && !d->is_input)
                return mr_errf(err, MR_ERR_GRAPH,
                               "%s node '%s': input '%s' is not produced by any node, "
                               "initializer or graph input",
                               n->op_type, n->name, d->name);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const mr_tensor_desc *d = &g->tensors[g->outputs[i]];
        if (d->producer < 0 && !d->data && !d->is_input)
            return mr_errf(err, MR_ERR_GRAPH,
                           "graph output '%s' is not produced by any node, initializer or input",
                           d->name);
    }
    return MR_OK;
}

mr_status mr_graph_sort(mr_graph *g, mr_err *err) {
    mr_graph_link(g);
    free(g->order);
    g->order = NULL;
    g->n_order = 0;
    int n = g->n_nodes;
    int *pending = mr_calloc((size_t)(n ? n : 1), sizeof(int), "sort state", err);
    int *order = mr_malloc_array((size_t)(n ? n : 1), sizeof(int), "node order", err);
    int *queue = mr_malloc_array((size_t)(n ? n : 1), sizeof(int), "sort queue", err);
    if (!pending || !order || !queue) {
        free(pending);
        free(order);
        free(queue);
        return err->status;
    }
    int qh = 0, qt = 0, live = 0;
    /* pending[i] = inputs of node i produced by live nodes not yet emitted. Kahn's algorithm,
     * seeded in node order so the result is stable. */
    for (int i = 0; i < n; i++) {
        const mr_node *nd = &g->nodes[i];
        if (nd->dead) continue;
        live++;
        for (int k = 0; k < nd->n_in; k++) {
            int t = nd->in[k];
            if (t >= 0 && g->tensors[t].producer >= 0 && !g->tensors[t].data) pending[i]++;
        }
        if (pending[i] == 0) queue[qt++] = i;
    }
    while (qh < qt) {
        int i = queue[qh++];
        order[g->n_order++] = i;
        const mr_node *nd = &g->nodes[i];
        for (int o = 0; o < nd->n_out; o++) {
            int t = nd->out[o];
            if (t < 0) continue;
            for (int j = 0; j < n; j++) {
                const mr_node *c = &g->nodes[j];
                if (c->dead) continue;
                for (int k = 0; k < c->n_in; k++)
                    if (c->in[k] == t && --pending[j] == 0) queue[qt++] = j;
            }
        }
    }
    mr_status st = MR_OK;
    if (g->n_order != live) {
        int culprit = -1;
        for (int i = 0; i < n && culprit < 0; i++)
            if (!g->nodes[i].dead && pending[i] > 0) culprit = i;
        /* The first stuck node may only be downstream of the cycle. Every stuck node reads
         * an output of another stuck node, so stepping to such a producer n times from any
         * stuck node ends on the cycle itself, which is what the user has to fix. */
        for (int step = 0; step < n && culprit >= 0; step++) {
            const mr_node *nd = &g->nodes[culprit];
            int next = -1;
            for (int k = 0; k < nd->n_in && next < 0; k++) {
                int t = nd->in[k];
                if (t < 0 || g->tensors[t].data) continue;
                int p = g->tensors[t].producer;
                if (p >= 0 && pending[p] > 0) next = p;
            }
            if (next < 0) break;
            culprit = next;
        }
        st = mr_errf(err, MR_ERR_GRAPH, "the graph has a cycle through %s node '%s'",
                     culprit >= 0 ? g->nodes[culprit].op_type : "?",
                     culprit >= 0 ? g->nodes[culprit].name : "?");
        free(order);
        order = NULL;
        g->n_order = 0;
    }
    free(pending);
    free(queue);
    g->order = order;
    return st;
}

/* A node is folded when its result does not depend on graph inputs. */
static int foldable(const mr_graph *g, const mr_node *n) {
    if (n->op->flags & MR_OP_NO_FOLD) return 0;
    if (n->op->flags & MR_OP_SHAPE_ONLY) return 1;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && !g->tensors[n->in[k]].data) return 0;
    return 1;
}

/* Shape inference over g->order, folding constant nodes (always on: PyTorch's exports need
 * it to turn Shape->Gather->Concat chains into the constant shapes Reshape requires). */
static mr_status infer_all(mr_graph *g, int fold, mr_err *err) {
    for (int i = 0; i < g->n_order; i++) {
        int idx = g->order[i];
        mr_node *n = &g->nodes[idx];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++) {
            const mr_tensor_desc *t = mr_node_input(g, n, k);
            if (t && t->ndim < 0)
                return mr_err_node(err, MR_ERR_SHAPE, n, "input '%s' has an unknown shape",
                                   t->name);
        }
        if (fold && foldable(g, n)) {
            MR_TRY(mr_node_eval(g, idx, err));
            /* The outputs now hold data: the node is gone, its results are constants. */
            n->dead = 1;
            continue;
        }
        MR_TRY(n->op->infer(g, n, err));
        for (int o = 0; o < n->n_out; o++) {
            const mr_tensor_desc *t = mr_node_output(g, n, o);
            if (t && t->ndim < 0)
                return mr_err_node(err, MR_ERR_INTERNAL, n, "inferred no shape for output %d", o);
            if (t && mr_desc_check_size(t, err) != MR_OK)
                return mr_err_prefix(err, "%s node '%s': ", n->op_type, n->name);
        }
    }
    return MR_OK;
}

mr_status mr_graph_finalize(mr_graph *g, int optimize, mr_err *err) {
    mr_graph_link(g);
    MR_TRY(check_writers(g, err));
    MR_TRY(check_dangling(g, err));
    MR_TRY(count_params(g, err));
    MR_TRY(mr_graph_sort(g, err));
    for (int i = 0; i < g->n_order; i++) MR_TRY(mr_node_bind_op(g, &g->nodes[g->order[i]], err));
    for (int i = 0; i < g->n_inputs; i++) {
        const mr_tensor_desc *t = &g->tensors[g->inputs[i]];
        if (t->ndim < 0)
            return mr_errf(err, MR_ERR_SHAPE, "graph input '%s' has no usable shape", t->name);
        MR_TRY(mr_desc_check_size(t, err));
    }
    MR_TRY(infer_all(g, 1, err));
    if (optimize) {
        MR_TRY(mr_pass_drop_identity(g, err));
        MR_TRY(mr_pass_fold_batchnorm(g, err));
        MR_TRY(mr_pass_fuse_bias(g, err));
        MR_TRY(mr_pass_fuse_residual(g, err));
        MR_TRY(mr_pass_fuse_activation(g, err));
        MR_TRY(mr_pass_stack_rnn(g, err));
        MR_TRY(mr_graph_sort(g, err));
        MR_TRY(infer_all(g, 0, err));
    }
    /* Drop the folded nodes from the order. */
    MR_TRY(mr_graph_sort(g, err));
    for (int i = 0; i < g->n_outputs; i++) {
        const mr_tensor_desc *t = &g->tensors[g->outputs[i]];
        if (t->ndim < 0)
            return mr_errf(err, MR_ERR_GRAPH, "graph output '%s' has no shape", t->name);
    }
    for (int i = 0; i < g->n_order; i++) {
        mr_node *n = &g->nodes[g->order[i]];
        if (n->dead) continue;
        n->n_phases = 1;
        n->workspace_bytes = 0;
        MR_TRY(n->op->prepare(g, n, err));
        if (n->n_blocks < 0 || n->n_phases < 1)
            return mr_err_node(err, MR_ERR_INTERNAL, n, "prepared an invalid logical grid");
    }
    return MR_OK;
}
