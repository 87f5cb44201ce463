/* Graph IR construction and basic queries. Finalisation lives in graph/finalize.c. */
#include "graph/ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"

mr_graph *mr_graph_create(mr_err *err) {
    mr_graph *g = mr_calloc(1, sizeof *g, "graph", err);
    if (!g) return NULL;
    g->opset = 13;
    g->default_dim = 1;
    return g;
}

void mr_node_clear(mr_node *n) {
    for (int a = 0; a < n->n_attrs; a++) {
        mr_attr *at = &n->attrs[a];
        free(at->name);
        free(at->s);
        free(at->ints);
        free(at->floats);
        for (int k = 0; k < at->n && at->strings; k++) free(at->strings[k]);
        free(at->strings);
    }
    free(n->attrs);
    n->attrs = NULL;
    n->n_attrs = 0;
    if (n->params) {
        if (n->op && n->op->free_params)
            n->op->free_params(n->params);
        else
            free(n->params);
        n->params = NULL;
    }
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->label);
    free(n->in);
    free(n->out);
    memset(n, 0, sizeof *n);
    n->dead = 1;
}

void mr_graph_destroy(mr_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) mr_node_clear(&g->nodes[i]);
    for (int i = 0; i < g->n_tensors; i++) {
        free(g->tensors[i].name);
        mr_free_aligned(g->tensors[i].data);
    }
    free(g->nodes);
    free(g->tensors);
    free(g->inputs);
    free(g->outputs);
    free(g->order);
    free(g);
}

int mr_graph_find_tensor(const mr_graph *g, const char *name) {
    if (!name) return -1;
    for (int i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name && strcmp(g->tensors[i].name, name) == 0) return i;
    return -1;
}

int mr_graph_add_tensor(mr_graph *g, const char *name, mr_err *err) {
    if (name && name[0] && mr_graph_find_tensor(g, name) >= 0) {
        mr_errf(err, MR_ERR_GRAPH, "tensor name '%s' is defined twice", name);
        return -1;
    }
    if (!mr_grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof(mr_tensor_desc),
                 "tensors", err))
        return -1;
    int idx = g->n_tensors;
    mr_tensor_desc *t = &g->tensors[idx];
    memset(t, 0, sizeof *t);
    char anon[32];
    if (!name || !name[0]) {
        snprintf(anon, sizeof anon, "_t%d", idx);
        name = anon;
    }
    t->name = mr_strdup(name, err);
    if (!t->name) return -1;
    t->ndim = -1;
    t->producer = -1;
    t->alias_of = -1;
    g->n_tensors++;
    return idx;
}

int mr_graph_add_const(mr_graph *g, const char *name, mr_dtype dtype, int ndim, const int64_t *dims,
                       const void *data, mr_err *err) {
    if (ndim < 0 || ndim > MR_MAX_DIMS) {
        mr_errf(err, MR_ERR_UNSUPPORTED, "constant '%s' has rank %d (at most %d supported)",
                name ? name : "?", ndim, MR_MAX_DIMS);
        return -1;
    }
    if (mr_dtype_size(dtype) == 0) {
        mr_errf(err, MR_ERR_UNSUPPORTED, "constant '%s' has an unsupported data type",
                name ? name : "?");
        return -1;
    }
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || !mr_mul_i64(numel, dims[i], &numel)) {
            mr_errf(err, MR_ERR_PARSE, "constant '%s' has an invalid shape", name ? name : "?");
            return -1;
        }
    }
    size_t bytes;
    if ((uint64_t)numel > SIZE_MAX || !mr_mul_size((size_t)numel, mr_dtype_size(dtype), &bytes) ||
        bytes > MR_MAX_ALLOC) {
        mr_errf(err, MR_ERR_PARSE, "constant '%s' is too large (%lld elements)", name ? name : "?",
                (long long)numel);
        return -1;
    }
    void *copy = mr_malloc_aligned(bytes, "constant data", err);
    if (!copy) return -1;
    if (bytes) memcpy(copy, data, bytes);
    int idx = mr_graph_add_tensor(g, name, err);
    if (idx < 0) {
        mr_free_aligned(copy);
        return -1;
    }
    mr_set_shape(&g->tensors[idx], dtype, ndim, dims);
    g->tensors[idx].data = copy;
    return idx;
}

int mr_graph_add_node(mr_graph *g, const char *name, const char *op_type, int n_in, const int *in,
                      int n_out, const int *out, mr_err *err) {
    if (n_in < 0 || n_out < 0 || n_in > MR_MAX_IO || n_out > MR_MAX_IO) {
        mr_errf(err, MR_ERR_UNSUPPORTED, "node '%s' (%s) has %d inputs and %d outputs (at most %d)",
                name ? name : "?", op_type ? op_type : "?", n_in, n_out, MR_MAX_IO);
        return -1;
    }
    for (int i = 0; i < n_in; i++)
        if (in[i] < -1 || in[i] >= g->n_tensors) {
            mr_errf(err, MR_ERR_INTERNAL, "node '%s': bad input index", name ? name : "?");
            return -1;
        }
    for (int i = 0; i < n_out; i++)
        if (out[i] < -1 || out[i] >= g->n_tensors) {
            mr_errf(err, MR_ERR_INTERNAL, "node '%s': bad output index", name ? name : "?");
            return -1;
        }
    if (!mr_grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(mr_node), "nodes", err))
        return -1;
    int idx = g->n_nodes;
    mr_node *n = &g->nodes[idx];
    memset(n, 0, sizeof *n);
    char synth[64];
    if (!name || !name[0]) {
        snprintf(synth, sizeof synth, "%s_%d", op_type ? op_type : "node", idx);
        name = synth;
    }
    n->name = mr_strdup(name, err);
    n->op_type = mr_strdup(op_type ? op_type : "", err);
    n->domain = mr_strdup("", err);
    n->in = mr_malloc_array((size_t)(n_in ? n_in : 1), sizeof(int), "node inputs", err);
    n->out = mr_malloc_array((size_t)(n_out ? n_out : 1), sizeof(int), "node outputs", err);
    if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) {
        mr_node_clear(n);
        return -1;
    }
    n->dead = 0;
    n->n_in = n_in;
    n->n_out = n_out;
    if (n_in) memcpy(n->in, in, sizeof(int) * (size_t)n_in);
    if (n_out) memcpy(n->out, out, sizeof(int) * (size_t)n_out);
    n->n_phases = 1;
    g->n_nodes++;
    return idx;
}

mr_attr *mr_node_add_attr(mr_graph *g, int node, const char *name, mr_attr_type type, mr_err *err) {
    mr_node *n = &g->nodes[node];
    mr_attr *grown =
        mr_realloc(n->attrs, sizeof(mr_attr) * (size_t)(n->n_attrs + 1), "attributes", err);
    if (!grown) return NULL;
    n->attrs = grown;
    mr_attr *a = &n->attrs[n->n_attrs];
    memset(a, 0, sizeof *a);
    a->name = mr_strdup(name, err);
    if (!a->name) return NULL;
    a->type = type;
    a->tensor = -1;
    n->n_attrs++;
    return a;
}

mr_status mr_node_set_ints(mr_graph *g, int node, const char *name, int n, const int64_t *v,
                           mr_err *err) {
    int64_t *copy = mr_malloc_array((size_t)(n > 0 ? n : 1), sizeof(int64_t), "attribute", err);
    if (!copy) return err->status;
    if (n > 0) memcpy(copy, v, sizeof(int64_t) * (size_t)n);
    mr_attr *a = mr_node_add_attr(g, node, name, MR_ATTR_INTS, err);
    if (!a) {
        free(copy);
        return err->status;
    }
    a->ints = copy;
    a->n = n;
    return MR_OK;
}

mr_status mr_node_set_floats(mr_graph *g, int node, const char *name, int n, const float *v,
                             mr_err *err) {
    float *copy = mr_malloc_array((size_t)(n > 0 ? n : 1), sizeof(float), "attribute", err);
    if (!copy) return err->status;
    if (n > 0) memcpy(copy, v, sizeof(float) * (size_t)n);
    mr_attr *a = mr_node_add_attr(g, node, name, MR_ATTR_FLOATS, err);
    if (!a) {
        free(copy);
        return err->status;
    }
    a->floats = copy;
    a->n = n;
    return MR_OK;
}

mr_status mr_node_set_int(mr_graph *g, int node, const char *name, int64_t v, mr_err *err) {
    mr_attr *a = mr_node_add_attr(g, node, name, MR_ATTR_INT, err);
    if (!a) return err->status;
    a->i = v;
    return MR_OK;
}

mr_status mr_node_set_float(mr_graph *g, int node, const char *name, float v, mr_err *err) {
    mr_attr *a = mr_node_add_attr(g, node, name, MR_ATTR_FLOAT, err);
    if (!a) return err->status;
    a->f = v;
    return MR_OK;
}

mr_status mr_node_set_string(mr_graph *g, int node, const char *name, const char *v, mr_err *err) {
    char *copy = mr_strdup(v, err);
    if (!copy) return err->status;
    mr_attr *a = mr_node_add_attr(g, node, name, MR_ATTR_STRING, err);
    if (!a) {
        free(copy);
        return err->status;
    }
    a->s = copy;
    return MR_OK;
}

const mr_attr *mr_node_attr(const mr_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t mr_desc_numel(const mr_tensor_desc *t) {
    if (t->ndim < 0) return -1;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        if (!mr_mul_i64(n, t->dims[i], &n)) return -1;
    return n;
}

size_t mr_desc_bytes(const mr_tensor_desc *t) {
    int64_t n = mr_desc_numel(t);
    size_t b;
    if (n < 0 || (uint64_t)n > SIZE_MAX || !mr_mul_size((size_t)n, mr_dtype_size(t->dtype), &b))
        return 0;
    return b;
}

mr_status mr_desc_check_size(const mr_tensor_desc *t, mr_err *err) {
    int64_t n = mr_desc_numel(t);
    size_t esize = mr_dtype_size(t->dtype), bytes = 0;
    if (n >= 0 && (uint64_t)n <= SIZE_MAX && mr_mul_size((size_t)n, esize, &bytes) &&
        bytes <= MR_MAX_ALLOC)
        return MR_OK;
    char dims[200];
    mr_dims_str(t->ndim, t->dims, dims, sizeof dims);
    if (n < 0 || bytes == 0)
        return mr_errf(err, MR_ERR_UNSUPPORTED,
                       "tensor '%s' %s is too large (its size overflows 64 bits)", t->name, dims);
    return mr_errf(err, MR_ERR_UNSUPPORTED,
                   "tensor '%s' %s would need %zu bytes, more than the limit of %zu per tensor",
                   t->name, dims, bytes, (size_t)MR_MAX_ALLOC);
}

const char *mr_dims_str(int ndim, const int64_t *dims, char *buf, size_t size) {
    if (!buf || size == 0) return "";
    if (ndim < 0) {
        snprintf(buf, size, "[?]");
        return buf;
    }
    size_t pos = 0;
    pos += (size_t)snprintf(buf + pos, size - pos, "[");
    for (int i = 0; i < ndim && pos < size; i++)
        pos += (size_t)snprintf(buf + pos, size - pos, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (pos < size) snprintf(buf + pos, size - pos, "]");
    return buf;
}

void mr_graph_link(mr_graph *g) {
    for (int t = 0; t < g->n_tensors; t++) {
        g->tensors[t].n_consumers = 0;
        if (!g->tensors[t].data) g->tensors[t].producer = -1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        mr_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) g->tensors[n->in[k]].n_consumers++;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) g->tensors[n->out[k]].producer = i;
    }
}

mr_status mr_graph_bind_input_const(mr_graph *g, int input_index, const mr_tensor *value,
                                    mr_err *err) {
    if (input_index < 0 || input_index >= g->n_inputs || !value)
        return mr_errf(err, MR_ERR_INVALID_ARG, "no graph input #%d", input_index);
    mr_tensor_desc *t = &g->tensors[g->inputs[input_index]];
    if (t->dtype != value->dtype)
        return mr_errf(err, MR_ERR_SHAPE, "input '%s' is %s, the value is %s", t->name,
                       mr_dtype_name(t->dtype), mr_dtype_name(value->dtype));
    if (t->ndim >= 0 && t->ndim != value->ndim)
        return mr_errf(err, MR_ERR_SHAPE, "input '%s' has rank %d, the value rank %d", t->name,
                       t->ndim, value->ndim);
    int64_t numel = mr_tensor_numel(value);
    size_t bytes;
    if (numel < 0 || !mr_mul_size((size_t)numel, mr_dtype_size(value->dtype), &bytes))
        return mr_errf(err, MR_ERR_SHAPE, "value for input '%s' has a bad shape", t->name);
    void *copy = mr_malloc_aligned(bytes, "constant input", err);
    if (!copy) return err->status;
    if (bytes) memcpy(copy, value->data, bytes);
    mr_set_shape(t, value->dtype, value->ndim, value->dims);
    t->data = copy;
    t->is_input = 0;
    for (int i = input_index; i + 1 < g->n_inputs; i++) g->inputs[i] = g->inputs[i + 1];
    g->n_inputs--;
    return MR_OK;
}
