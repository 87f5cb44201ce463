/* Helpers shared by the op families (declared in ops/op.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/custom.h"
#include "ops/op.h"

const char *mr_attr_type_name(mr_attr_type t) {
    switch (t) {
    case MR_ATTR_INT:
        return "int";
    case MR_ATTR_FLOAT:
        return "float";
    case MR_ATTR_STRING:
        return "string";
    case MR_ATTR_INTS:
        return "ints";
    case MR_ATTR_FLOATS:
        return "floats";
    case MR_ATTR_STRINGS:
        return "strings";
    case MR_ATTR_TENSOR:
        return "tensor";
    default:
        return "graph/sparse/type";
    }
}

static mr_status wrong_type(const mr_node *n, const mr_attr *a, const char *want, mr_err *err) {
    return mr_errf(err, MR_ERR_PARSE, "%s node '%s': attribute '%s' is of type %s, expected %s",
                   n->op_type, n->name, a->name, mr_attr_type_name(a->type), want);
}

mr_status mr_attr_get_int(const mr_node *n, const char *name, int64_t def, int64_t *out,
                          mr_err *err) {
    const mr_attr *a = mr_node_attr(n, name);
    if (!a) {
        *out = def;
        return MR_OK;
    }
    if (a->type != MR_ATTR_INT) return wrong_type(n, a, "int", err);
    *out = a->i;
    return MR_OK;
}

mr_status mr_attr_get_float(const mr_node *n, const char *name, float def, float *out,
                            mr_err *err) {
    const mr_attr *a = mr_node_attr(n, name);
    if (!a) {
        *out = def;
        return MR_OK;
    }
    if (a->type != MR_ATTR_FLOAT) return wrong_type(n, a, "float", err);
    *out = a->f;
    return MR_OK;
}

mr_status mr_attr_get_ints(const mr_node *n, const char *name, int64_t *out, int cap, int *count,
                           mr_err *err) {
    const mr_attr *a = mr_node_attr(n, name);
    *count = 0;
    if (!a) return MR_OK;
    if (a->type != MR_ATTR_INTS) return wrong_type(n, a, "ints", err);
    if (a->n > cap)
        return mr_errf(err, MR_ERR_UNSUPPORTED,
                       "%s node '%s': attribute '%s' has %d values (at most %d supported)",
                       n->op_type, n->name, a->name, a->n, cap);
    if (a->n) memcpy(out, a->ints, sizeof(int64_t) * (size_t)a->n);
    *count = a->n;
    return MR_OK;
}

mr_status mr_attr_get_floats(const mr_node *n, const char *name, float *out, int cap, int *count,
                             mr_err *err) {
    const mr_attr *a = mr_node_attr(n, name);
    *count = 0;
    if (!a) return MR_OK;
    if (a->type != MR_ATTR_FLOATS) return wrong_type(n, a, "floats", err);
    if (a->n > cap)
        return mr_errf(err, MR_ERR_UNSUPPORTED,
                       "%s node '%s': attribute '%s' has %d values (at most %d supported)",
                       n->op_type, n->name, a->name, a->n, cap);
    if (a->n) memcpy(out, a->floats, sizeof(float) * (size_t)a->n);
    *count = a->n;
    return MR_OK;
}

mr_status mr_attr_get_string(const mr_node *n, const char *name, const char *def, const char **out,
                             mr_err *err) {
    const mr_attr *a = mr_node_attr(n, name);
    if (!a) {
        *out = def;
        return MR_OK;
    }
    if (a->type != MR_ATTR_STRING) return wrong_type(n, a, "string", err);
    *out = a->s;
    return MR_OK;
}

mr_status mr_err_attr(mr_err *err, const mr_node *n, const char *attr, const char *why) {
    return mr_errf(err, MR_ERR_UNSUPPORTED, "%s node '%s': attribute '%s': %s", n->op_type, n->name,
                   attr, why);
}

mr_status mr_err_node(mr_err *err, mr_status st, const mr_node *n, const char *fmt, ...) {
    char why[MR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return mr_errf(err, st, "%s node '%s': %s", n->op_type, n->name, why);
}

mr_tensor_desc *mr_node_input(mr_graph *g, const mr_node *n, int i) {
    if (i < 0 || i >= n->n_in || n->in[i] < 0) return NULL;
    return &g->tensors[n->in[i]];
}

mr_tensor_desc *mr_node_output(mr_graph *g, const mr_node *n, int i) {
    if (i < 0 || i >= n->n_out || n->out[i] < 0) return NULL;
    return &g->tensors[n->out[i]];
}

mr_status mr_node_const_input(mr_graph *g, const mr_node *n, int i, mr_dtype dtype,
                              const char *what, const mr_tensor_desc **out, mr_err *err) {
    const mr_tensor_desc *t = mr_node_input(g, n, i);
    if (!t) return mr_err_node(err, MR_ERR_GRAPH, n, "the %s input is missing", what);
    if (!t->data)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the %s input ('%s') must be a constant (initializer or foldable)", what,
                           t->name);
    if (dtype != MR_DTYPE_INVALID && t->dtype != dtype)
        return mr_err_node(err, MR_ERR_SHAPE, n, "the %s input ('%s') is %s, expected %s", what,
                           t->name, mr_dtype_name(t->dtype), mr_dtype_name(dtype));
    *out = t;
    return MR_OK;
}

mr_status mr_const_ints(const mr_tensor_desc *t, int64_t *out, int cap, int *count, mr_err *err) {
    int64_t numel = mr_desc_numel(t);
    if (t->ndim > 1 || numel < 0)
        return mr_errf(err, MR_ERR_SHAPE, "tensor '%s' must be a scalar or 1-D", t->name);
    if (numel > cap)
        return mr_errf(err, MR_ERR_UNSUPPORTED, "tensor '%s' has %lld values (at most %d)", t->name,
                       (long long)numel, cap);
    for (int64_t i = 0; i < numel; i++) {
        if (t->dtype == MR_DTYPE_I64)
            out[i] = ((const int64_t *)t->data)[i];
        else if (t->dtype == MR_DTYPE_I32)
            out[i] = ((const int32_t *)t->data)[i];
        else
            return mr_errf(err, MR_ERR_SHAPE, "tensor '%s' must be int64 or int32, not %s", t->name,
                           mr_dtype_name(t->dtype));
    }
    *count = (int)numel;
    return MR_OK;
}

void mr_set_shape(mr_tensor_desc *t, mr_dtype dtype, int ndim, const int64_t *dims) {
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    for (int i = ndim < 0 ? 0 : ndim; i < MR_MAX_DIMS; i++) t->dims[i] = 0;
}

mr_status mr_norm_axis(const mr_node *n, int64_t axis, int rank, int *out, mr_err *err) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return mr_err_node(err, MR_ERR_SHAPE, n, "axis %lld is out of range for rank %d",
                           (long long)axis, rank);
    *out = (int)a;
    return MR_OK;
}

mr_status mr_broadcast_shape(const mr_node *n, int na, const int64_t *a, int nb, const int64_t *b,
                             int *nout, int64_t *out, mr_err *err) {
    int r = na > nb ? na : nb;
    for (int i = 0; i < r; i++) {
        int64_t da = i < r - na ? 1 : a[i - (r - na)];
        int64_t db = i < r - nb ? 1 : b[i - (r - nb)];
        if (da == db || db == 1)
            out[i] = da;
        else if (da == 1)
            out[i] = db;
        else {
            char sa[128], sb[128];
            return mr_err_node(err, MR_ERR_SHAPE, n, "shapes %s and %s cannot be broadcast",
                               mr_dims_str(na, a, sa, sizeof sa),
                               mr_dims_str(nb, b, sb, sizeof sb));
        }
    }
    *nout = r;
    return MR_OK;
}

/* Checks that every attribute of the node is one the op knows. */
static mr_status check_attrs(const mr_node *n, mr_err *err) {
    if (!n->op->attrs && (n->op->flags & MR_OP_CUSTOM)) return MR_OK;
    for (int a = 0; a < n->n_attrs; a++) {
        int known = 0;
        for (int k = 0; n->op->attrs && n->op->attrs[k]; k++)
            if (strcmp(n->op->attrs[k], n->attrs[a].name) == 0) known = 1;
        if (!known)
            return mr_errf(err, MR_ERR_UNSUPPORTED, "%s node '%s': attribute '%s' is not supported",
                           n->op_type, n->name, n->attrs[a].name);
    }
    return MR_OK;
}

mr_status mr_node_bind_op(mr_graph *g, mr_node *n, mr_err *err) {
    if (!n->op) {
        int foreign = n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0;
        if (!foreign) n->op = mr_op_find(n->op_type);
        /* Then the operators registered on the runtime loading the graph. */
        if (!n->op && g->custom) n->op = mr_custom_find(g->custom, n->domain, n->op_type);
        if (!n->op && foreign)
            return mr_errf(err, MR_ERR_UNSUPPORTED,
                           "node '%s': operator %s of domain '%s' is not supported", n->name,
                           n->op_type, n->domain);
        if (!n->op)
            return mr_errf(err, MR_ERR_UNSUPPORTED, "node '%s': operator '%s' is not supported",
                           n->name, n->op_type);
    }
    if (n->n_in < n->op->min_in || n->n_in > n->op->max_in)
        return mr_err_node(err, MR_ERR_GRAPH, n, "has %d inputs, expected %d to %d", n->n_in,
                           n->op->min_in, n->op->max_in);
    if (n->n_out < n->op->min_out || n->n_out > n->op->max_out)
        return mr_err_node(err, MR_ERR_GRAPH, n, "has %d outputs, expected %d to %d", n->n_out,
                           n->op->min_out, n->op->max_out);
    /* An empty name omits an input or output, which ONNX allows only for optional ones: the
     * first min_in / min_out are required, and the ops rely on their being present. */
    for (int k = 0; k < n->op->min_in; k++)
        if (n->in[k] < 0)
            return mr_err_node(err, MR_ERR_GRAPH, n, "required input %d is omitted (empty name)",
                               k);
    for (int k = 0; k < n->op->min_out; k++)
        if (n->out[k] < 0)
            return mr_err_node(err, MR_ERR_GRAPH, n, "required output %d is omitted (empty name)",
                               k);
    MR_TRY(check_attrs(n, err));
    if (!n->params && n->op->init) MR_TRY(n->op->init(g, n, err));
    return MR_OK;
}

mr_status mr_node_eval(mr_graph *g, int node, mr_err *err) {
    mr_node *n = &g->nodes[node];
    MR_TRY(mr_node_bind_op(g, n, err));
    /* Shape-only ops (Shape) read the input's dims, never its data, so they fold even when
     * the input is a runtime tensor. */
    for (int i = 0; i < n->n_in && !(n->op->flags & MR_OP_SHAPE_ONLY); i++) {
        const mr_tensor_desc *t = mr_node_input(g, n, i);
        if (t && !t->data)
            return mr_err_node(err, MR_ERR_INTERNAL, n, "input '%s' has no data to evaluate",
                               t->name);
    }
    MR_TRY(n->op->infer(g, n, err));
    /* Folding allocates what shape inference asked for, and prepare sizes its grid from it:
     * check it fits first. */
    for (int i = 0; i < n->n_out; i++) {
        const mr_tensor_desc *t = mr_node_output(g, n, i);
        if (t && t->ndim >= 0 && mr_desc_check_size(t, err) != MR_OK)
            return mr_err_prefix(err, "%s node '%s': ", n->op_type, n->name);
    }
    MR_TRY(n->op->prepare(g, n, err));
    mr_step s;
    memset(&s, 0, sizeof s);
    s.op = n->op;
    s.node = n;
    s.n_in = n->n_in;
    s.n_out = n->n_out;
    for (int i = 0; i < n->n_in; i++) {
        const mr_tensor_desc *t = mr_node_input(g, n, i);
        if (!t) continue;
        s.in[i] = (mr_tview){t->data, t->dtype, t->ndim, t->dims, mr_desc_numel(t)};
    }
    for (int i = 0; i < n->n_out; i++) {
        mr_tensor_desc *t = mr_node_output(g, n, i);
        if (!t) continue;
        if (t->ndim < 0) return mr_err_node(err, MR_ERR_INTERNAL, n, "output %d has no shape", i);
        mr_free_aligned(t->data);
        t->data = mr_malloc_aligned(mr_desc_bytes(t), "folded constant", err);
        if (!t->data) return err->status;
        s.out[i] = (mr_tview){t->data, t->dtype, t->ndim, t->dims, mr_desc_numel(t)};
    }
    void *scratch = NULL, *ws = NULL;
    if (n->scratch_bytes && !(scratch = mr_malloc_aligned(n->scratch_bytes, "scratch", err)))
        return err->status;
    if (n->workspace_bytes && !(ws = mr_malloc_aligned(n->workspace_bytes, "workspace", err))) {
        mr_free_aligned(scratch);
        return err->status;
    }
    s.workspace = ws;
    int64_t total = n->n_blocks * (n->n_phases > 0 ? n->n_phases : 1);
    for (int64_t b = 0; b < total; b++) n->op->run_block(&s, b, scratch);
    mr_free_aligned(scratch);
    mr_free_aligned(ws);
    return MR_OK;
}
