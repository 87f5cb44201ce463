/* Shape-manipulating ops: Shape, Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout
 * (inference), Constant, ConstantOfShape.
 *
 * All of them are dtype-generic: data moves as bytes (mr_dtype_size per element). The views
 * (MR_OP_VIEW) only reinterpret input 0, so the executor normally aliases the output to the
 * input and skips the step; when it does not (and in mr_node_eval) run_block copies input 0
 * to output 0, one byte chunk per logical block.
 */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"

/* Bytes per logical block of the copy kernels: a 256 KiB memcpy takes some tens of
 * microseconds, short enough to preempt promptly and long enough to amortise a block's cost. */
#define COPY_CHUNK ((int64_t)1 << 18)

/* Graphs built without an opset (0) get the newest semantics we implement. */
static int opset_of(const mr_graph *g) {
    return g->opset > 0 ? g->opset : 17;
}

static int has_input(const mr_node *n, int i) {
    return i < n->n_in && n->in[i] >= 0;
}

/* Reads constant input i (a scalar or 1-D int64 tensor, or int32 when allow_i32) into
 * out[cap]. The messages name the node and the input's role (`what`). */
static mr_status const_ints(mr_graph *g, const mr_node *n, int i, const char *what, int allow_i32,
                            int64_t *out, int cap, int *count, mr_err *err) {
    const mr_tensor_desc *t = mr_node_input(g, n, i);
    if (!t) return mr_err_node(err, MR_ERR_GRAPH, n, "the %s input is missing", what);
    if (!t->data)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the %s input must be constant (an initializer or computable from "
                           "constants), but '%s' is computed at run time",
                           what, t->name);
    if (t->dtype != MR_DTYPE_I64 && !(allow_i32 && t->dtype == MR_DTYPE_I32))
        return mr_err_node(err, MR_ERR_SHAPE, n, "the %s input '%s' must be int64%s, not %s", what,
                           t->name, allow_i32 ? " or int32" : "", mr_dtype_name(t->dtype));
    if (t->ndim > 1)
        return mr_err_node(err, MR_ERR_SHAPE, n, "the %s input '%s' must be 1-D, not of rank %d",
                           what, t->name, t->ndim);
    int64_t numel = mr_desc_numel(t);
    if (numel < 0 || numel > cap)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the %s input '%s' has %lld values (at most %d supported)", what,
                           t->name, (long long)numel, cap);
    for (int64_t k = 0; k < numel; k++)
        out[k] = t->dtype == MR_DTYPE_I64 ? ((const int64_t *)t->data)[k]
                                          : ((const int32_t *)t->data)[k];
    *count = (int)numel;
    return MR_OK;
}

/* ---- the byte-copy kernel shared by the views and Constant ---- */

static void set_copy_grid(mr_node *n, size_t bytes) {
    int64_t nb = mr_div_up((int64_t)bytes, COPY_CHUNK);
    n->n_blocks = nb > 0 ? nb : 1;
    n->scratch_bytes = 0;
    n->flops = 0;
}

static void copy_chunk(void *dst, const void *src, int64_t total, int64_t b) {
    int64_t lo, hi;
    mr_block_range(total, COPY_CHUNK, b, &lo, &hi);
    /* An aliased view has dst == src: nothing to move (and memcpy must not overlap). */
    if (hi > lo && dst != src) memcpy((char *)dst + lo, (const char *)src + lo, (size_t)(hi - lo));
}

static mr_status view_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    set_copy_grid(n, mr_desc_bytes(mr_node_output(g, n, 0)));
    return MR_OK;
}

static void view_run(const mr_step *s, int64_t b, void *scratch) {
    const mr_tview *out = &s->out[0];
    copy_chunk(out->data, s->in[0].data, out->numel * (int64_t)mr_dtype_size(out->dtype), b);
}

/* Output 0 = input 0 with a new shape; the element count must already agree. */
static mr_status set_view_output(mr_graph *g, mr_node *n, int ndim, const int64_t *dims,
                                 mr_err *err) {
    mr_tensor_desc *out = mr_node_output(g, n, 0);
    if (!out) return mr_err_node(err, MR_ERR_GRAPH, n, "has no output");
    mr_set_shape(out, mr_node_input(g, n, 0)->dtype, ndim, dims);
    return MR_OK;
}

/* ---- Shape ---- */

typedef struct shape_params {
    int64_t start, end; /* raw attributes (opset 15), normalised against the rank per use */
} shape_params;

static const char *const shape_attrs[] = {"start", "end", NULL};

static mr_status shape_init(mr_graph *g, mr_node *n, mr_err *err) {
    int64_t start, end;
    MR_TRY(mr_attr_get_int(n, "start", 0, &start, err));
    MR_TRY(mr_attr_get_int(n, "end", INT64_MAX, &end, err));
    shape_params *p = mr_calloc(1, sizeof *p, "Shape parameters", err);
    if (!p) return err->status;
    p->start = start;
    p->end = end;
    n->params = p;
    return MR_OK;
}

/* ONNX: negative start/end count from the back, then both are clamped to [0, rank]. */
static void shape_range(const shape_params *p, int rank, int *lo, int *hi) {
    int64_t s = p->start < 0 ? p->start + rank : p->start;
    int64_t e = p->end < 0 ? p->end + rank : p->end;
    s = s < 0 ? 0 : s > rank ? rank : s;
    e = e < 0 ? 0 : e > rank ? rank : e;
    *lo = (int)s;
    *hi = (int)(e > s ? e : s);
}

static mr_status shape_infer(mr_graph *g, mr_node *n, mr_err *err) {
    int lo, hi;
    shape_range(n->params, mr_node_input(g, n, 0)->ndim, &lo, &hi);
    int64_t len = hi - lo;
    mr_set_shape(mr_node_output(g, n, 0), MR_DTYPE_I64, 1, &len);
    return MR_OK;
}

static mr_status shape_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    n->n_blocks = 1;
    n->scratch_bytes = 0;
    n->flops = 0;
    return MR_OK;
}

/* Reads only the input's dims, never its data (MR_OP_SHAPE_ONLY). */
static void shape_run(const mr_step *s, int64_t b, void *scratch) {
    int lo, hi;
    shape_range(s->node->params, s->in[0].ndim, &lo, &hi);
    int64_t *out = s->out[0].data;
    for (int k = lo; k < hi; k++) out[k - lo] = s->in[0].dims[k];
}

const mr_op_def mr_op_shape = {
    .name = "Shape",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .flags = MR_OP_SHAPE_ONLY,
    .attrs = shape_attrs,
    .init = shape_init,
    .infer = shape_infer,
    .prepare = shape_prepare,
    .run_block = shape_run,
};

/* ---- Reshape ---- */

static const char *const reshape_attrs[] = {"allowzero", "shape", NULL};

static mr_status reshape_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int64_t shp[MR_MAX_DIMS], dims[MR_MAX_DIMS];
    int cnt = 0;
    int64_t allowzero;
    MR_TRY(mr_attr_get_int(n, "allowzero", 0, &allowzero, err));
    if (allowzero != 0 && allowzero != 1) return mr_err_attr(err, n, "allowzero", "must be 0 or 1");
    if (opset_of(g) < 5) {
        /* Reshape-1 took the shape as an attribute. */
        if (!mr_node_attr(n, "shape"))
            return mr_err_node(err, MR_ERR_GRAPH, n, "the shape attribute is missing");
        if (has_input(n, 1))
            return mr_err_node(err, MR_ERR_GRAPH, n,
                               "takes the shape as an attribute before opset 5, not an input");
        MR_TRY(mr_attr_get_ints(n, "shape", shp, MR_MAX_DIMS, &cnt, err));
    } else {
        if (mr_node_attr(n, "shape"))
            return mr_err_attr(err, n, "shape", "is an input since opset 5");
        if (!has_input(n, 1))
            return mr_err_node(err, MR_ERR_GRAPH, n, "the shape input is missing");
        MR_TRY(const_ints(g, n, 1, "shape", 0, shp, MR_MAX_DIMS, &cnt, err));
    }

    int64_t numel = mr_desc_numel(in), known = 1;
    int infer_at = -1, has_zero = 0;
    for (int i = 0; i < cnt; i++) {
        int64_t v = shp[i];
        if (v == -1) {
            if (infer_at >= 0)
                return mr_err_node(err, MR_ERR_SHAPE, n, "the shape has more than one -1");
            infer_at = i;
            dims[i] = 1;
            continue;
        }
        if (v < -1)
            return mr_err_node(err, MR_ERR_SHAPE, n, "the shape has an invalid dimension %lld",
                               (long long)v);
        if (v == 0) {
            has_zero = 1;
            if (!allowzero) {
                /* 0 means "copy the input's dimension" unless allowzero is set. */
                if (i >= in->ndim)
                    return mr_err_node(err, MR_ERR_SHAPE, n,
                                       "shape[%d] is 0 (copy the input dimension) but the "
                                       "input has rank %d",
                                       i, in->ndim);
                v = in->dims[i];
            }
        }
        dims[i] = v;
        if (!mr_mul_i64(known, v, &known))
            return mr_err_node(err, MR_ERR_SHAPE, n, "the shape has too many elements");
    }
    char sa[160], sb[160];
    if (infer_at >= 0) {
        if (allowzero && has_zero)
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "with allowzero=1 the shape cannot hold both 0 and -1");
        if (known == 0 || numel % known != 0)
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "cannot reshape %s (%lld elements) to %s: -1 cannot be inferred",
                               mr_dims_str(in->ndim, in->dims, sa, sizeof sa), (long long)numel,
                               mr_dims_str(cnt, shp, sb, sizeof sb));
        dims[infer_at] = numel / known;
    } else if (known != numel) {
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "cannot reshape %s (%lld elements) to %s (%lld elements)",
                           mr_dims_str(in->ndim, in->dims, sa, sizeof sa), (long long)numel,
                           mr_dims_str(cnt, dims, sb, sizeof sb), (long long)known);
    }
    return set_view_output(g, n, cnt, dims, err);
}

const mr_op_def mr_op_reshape = {
    .name = "Reshape",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .flags = MR_OP_VIEW,
    .attrs = reshape_attrs,
    .infer = reshape_infer,
    .prepare = view_prepare,
    .run_block = view_run,
};

/* ---- Flatten ---- */

static const char *const flatten_attrs[] = {"axis", NULL};

static mr_status flatten_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int64_t axis;
    MR_TRY(mr_attr_get_int(n, "axis", 1, &axis, err));
    /* The axis may equal the rank (everything goes to the outer dimension). Negative axes are
     * opset 11+, but accepting them earlier is harmless. */
    int64_t a = axis < 0 ? axis + in->ndim : axis;
    if (a < 0 || a > in->ndim)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "attribute 'axis' = %lld is out of range for an input of rank %d",
                           (long long)axis, in->ndim);
    int64_t dims[2] = {1, 1};
    for (int d = 0; d < in->ndim; d++) dims[d < a ? 0 : 1] *= in->dims[d];
    return set_view_output(g, n, 2, dims, err);
}

const mr_op_def mr_op_flatten = {
    .name = "Flatten",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .flags = MR_OP_VIEW,
    .attrs = flatten_attrs,
    .infer = flatten_infer,
    .prepare = view_prepare,
    .run_block = view_run,
};

/* ---- Squeeze / Unsqueeze ---- */

static const char *const axes_attrs[] = {"axes", NULL};

/* The axes of Squeeze/Unsqueeze: an attribute before opset 13, an optional constant input
 * from 13 on. *given is 0 when neither is present. */
static mr_status get_axes(mr_graph *g, const mr_node *n, int64_t *axes, int *cnt, int *given,
                          mr_err *err) {
    *cnt = 0;
    if (opset_of(g) < 13) {
        if (has_input(n, 1))
            return mr_err_node(err, MR_ERR_GRAPH, n,
                               "takes axes as an attribute before opset 13, not an input");
        *given = mr_node_attr(n, "axes") != NULL;
        return mr_attr_get_ints(n, "axes", axes, MR_MAX_DIMS, cnt, err);
    }
    if (mr_node_attr(n, "axes")) return mr_err_attr(err, n, "axes", "is an input since opset 13");
    *given = has_input(n, 1);
    if (!*given) return MR_OK;
    return const_ints(g, n, 1, "axes", 0, axes, MR_MAX_DIMS, cnt, err);
}

/* Normalises axes against `rank` into mark[] (1 = listed); duplicates are an error. */
static mr_status mark_axes(const mr_node *n, const int64_t *axes, int cnt, int rank, int *mark,
                           mr_err *err) {
    for (int d = 0; d < rank; d++) mark[d] = 0;
    for (int i = 0; i < cnt; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank)
            return mr_err_node(err, MR_ERR_SHAPE, n, "axis %lld is out of range for rank %d",
                               (long long)axes[i], rank);
        if (mark[a])
            return mr_err_node(err, MR_ERR_SHAPE, n, "axis %lld is listed twice in axes",
                               (long long)axes[i]);
        mark[a] = 1;
    }
    return MR_OK;
}

static mr_status squeeze_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int64_t axes[MR_MAX_DIMS], dims[MR_MAX_DIMS];
    int cnt = 0, given = 0, mark[MR_MAX_DIMS];
    MR_TRY(get_axes(g, n, axes, &cnt, &given, err));
    if (given) {
        MR_TRY(mark_axes(n, axes, cnt, in->ndim, mark, err));
        for (int d = 0; d < in->ndim; d++)
            if (mark[d] && in->dims[d] != 1)
                return mr_err_node(err, MR_ERR_SHAPE, n,
                                   "cannot squeeze axis %d of size %lld (it must be 1)", d,
                                   (long long)in->dims[d]);
    } else {
        for (int d = 0; d < in->ndim; d++) mark[d] = in->dims[d] == 1;
    }
    int k = 0;
    for (int d = 0; d < in->ndim; d++)
        if (!mark[d]) dims[k++] = in->dims[d];
    return set_view_output(g, n, k, dims, err);
}

static mr_status unsqueeze_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int64_t axes[MR_MAX_DIMS], dims[MR_MAX_DIMS];
    int cnt = 0, given = 0, mark[MR_MAX_DIMS];
    MR_TRY(get_axes(g, n, axes, &cnt, &given, err));
    if (!given) return mr_err_node(err, MR_ERR_GRAPH, n, "axes are required");
    int rank = in->ndim + cnt;
    if (rank > MR_MAX_DIMS)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the output would have rank %d (at most %d)",
                           rank, MR_MAX_DIMS);
    /* Unsqueeze's axes index the output. */
    MR_TRY(mark_axes(n, axes, cnt, rank, mark, err));
    for (int d = 0, j = 0; d < rank; d++) dims[d] = mark[d] ? 1 : in->dims[j++];
    return set_view_output(g, n, rank, dims, err);
}

const mr_op_def mr_op_squeeze = {
    .name = "Squeeze",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .flags = MR_OP_VIEW,
    .attrs = axes_attrs,
    .infer = squeeze_infer,
    .prepare = view_prepare,
    .run_block = view_run,
};

const mr_op_def mr_op_unsqueeze = {
    .name = "Unsqueeze",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .flags = MR_OP_VIEW,
    .attrs = axes_attrs,
    .infer = unsqueeze_infer,
    .prepare = view_prepare,
    .run_block = view_run,
};

/* ---- Identity ---- */

static mr_status identity_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    return set_view_output(g, n, in->ndim, in->dims, err);
}

const mr_op_def mr_op_identity = {
    .name = "Identity",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .flags = MR_OP_VIEW,
    .infer = identity_infer,
    .prepare = view_prepare,
    .run_block = view_run,
};

/* ---- Dropout (inference: the identity) ---- */

/* is_test / consumed_inputs are the pre-opset-7 forms; seed is opset 12+. The ratio and seed
 * do not matter at inference. */
static const char *const dropout_attrs[] = {"ratio", "is_test", "seed", "consumed_inputs", NULL};

static mr_status dropout_infer(mr_graph *g, mr_node *n, mr_err *err) {
    if (n->n_out > 1 && n->out[1] >= 0)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the mask output is not supported (inference only)");
    float ratio;
    MR_TRY(mr_attr_get_float(n, "ratio", 0.5f, &ratio, err));
    if (opset_of(g) < 12) {
        /* Before opset 12 ratio is an attribute and there are no other inputs. An old model's
         * is_test=0 is accepted: it only ever meant "this graph was exported for training",
         * and this runtime always runs inference. */
        if (has_input(n, 1) || has_input(n, 2))
            return mr_err_node(err, MR_ERR_GRAPH, n,
                               "takes ratio as an attribute before opset 12, not an input");
    } else {
        if (mr_node_attr(n, "ratio"))
            return mr_err_attr(err, n, "ratio", "is an input since opset 12");
        /* The ratio input (1) is ignored; training_mode (2) must be absent or constant false. */
        const mr_tensor_desc *tm = mr_node_input(g, n, 2);
        if (tm) {
            int64_t train = 1;
            if (tm->data && mr_desc_numel(tm) == 1) {
                if (tm->dtype == MR_DTYPE_I64)
                    train = *(const int64_t *)tm->data != 0;
                else if (tm->dtype == MR_DTYPE_I32)
                    train = *(const int32_t *)tm->data != 0;
                else if (tm->dtype == MR_DTYPE_F32)
                    train = *(const float *)tm->data != 0.0f;
            }
            if (train)
                return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                                   "training_mode must be absent or a constant false "
                                   "(inference only)");
        }
    }
    return identity_infer(g, n, err);
}

const mr_op_def mr_op_dropout = {
    .name = "Dropout",
    .min_in = 1,
    .max_in = 3,
    .min_out = 1,
    .max_out = 2,
    .flags = MR_OP_VIEW,
    .attrs = dropout_attrs,
    .infer = dropout_infer,
    .prepare = view_prepare,
    .run_block = view_run,
};

/* ---- Constant ---- */

typedef struct const_params {
    const void *src; /* the value's bytes: a graph constant, the node's attribute or `scalar` */
    union {
        float f;
        int64_t i;
    } scalar;
} const_params;

static const char *const constant_attrs[] = {"value",        "value_float",   "value_floats",
                                             "value_int",    "value_ints",    "sparse_value",
                                             "value_string", "value_strings", NULL};

static mr_status constant_init(mr_graph *g, mr_node *n, mr_err *err) {
    const char *which = NULL;
    int present = 0;
    for (int k = 0; constant_attrs[k]; k++)
        if (mr_node_attr(n, constant_attrs[k])) {
            which = constant_attrs[k];
            present++;
        }
    if (present != 1)
        return mr_err_node(err, MR_ERR_GRAPH, n,
                           "needs exactly one value attribute (value, value_float, ...), has %d",
                           present);
    if (strcmp(which, "sparse_value") == 0)
        return mr_err_attr(err, n, which, "sparse tensors are not supported");
    if (strncmp(which, "value_string", 12) == 0)
        return mr_err_attr(err, n, which, "string tensors are not supported");
    const mr_attr *a = mr_node_attr(n, which);
    if (strcmp(which, "value") == 0 &&
        (a->type != MR_ATTR_TENSOR || a->tensor < 0 || a->tensor >= g->n_tensors ||
         g->tensors[a->tensor].ndim < 0 ||
         (!g->tensors[a->tensor].data && mr_desc_numel(&g->tensors[a->tensor]) > 0)))
        return mr_err_node(err, MR_ERR_PARSE, n, "attribute 'value' is not a constant tensor");
    if (strcmp(which, "value_float") == 0 && a->type != MR_ATTR_FLOAT)
        return mr_err_node(err, MR_ERR_PARSE, n, "attribute '%s' is not a float", which);
    if (strcmp(which, "value_int") == 0 && a->type != MR_ATTR_INT)
        return mr_err_node(err, MR_ERR_PARSE, n, "attribute '%s' is not an int", which);
    if (strcmp(which, "value_floats") == 0 && a->type != MR_ATTR_FLOATS)
        return mr_err_node(err, MR_ERR_PARSE, n, "attribute '%s' is not floats", which);
    if (strcmp(which, "value_ints") == 0 && a->type != MR_ATTR_INTS)
        return mr_err_node(err, MR_ERR_PARSE, n, "attribute '%s' is not ints", which);
    const_params *p = mr_calloc(1, sizeof *p, "Constant parameters", err);
    if (!p) return err->status;
    n->params = p;
    return MR_OK;
}

static mr_status constant_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const_params *p = n->params;
    mr_tensor_desc *out = mr_node_output(g, n, 0);
    const mr_attr *a;
    /* The source pointer is refreshed here, right before the (always folded) evaluation: the
     * attribute and graph-constant storage it points to is stable, the node's is not moved. */
    if ((a = mr_node_attr(n, "value"))) {
        const mr_tensor_desc *t = &g->tensors[a->tensor];
        mr_set_shape(out, t->dtype, t->ndim, t->dims);
        p->src = t->data;
    } else if ((a = mr_node_attr(n, "value_float"))) {
        p->scalar.f = a->f;
        p->src = &p->scalar.f;
        mr_set_shape(out, MR_DTYPE_F32, 0, NULL);
    } else if ((a = mr_node_attr(n, "value_int"))) {
        p->scalar.i = a->i;
        p->src = &p->scalar.i;
        mr_set_shape(out, MR_DTYPE_I64, 0, NULL);
    } else if ((a = mr_node_attr(n, "value_floats"))) {
        int64_t len = a->n;
        p->src = a->floats;
        mr_set_shape(out, MR_DTYPE_F32, 1, &len);
    } else if ((a = mr_node_attr(n, "value_ints"))) {
        int64_t len = a->n;
        p->src = a->ints;
        mr_set_shape(out, MR_DTYPE_I64, 1, &len);
    } else {
        return mr_err_node(err, MR_ERR_INTERNAL, n, "has no value attribute");
    }
    return MR_OK;
}

static void constant_run(const mr_step *s, int64_t b, void *scratch) {
    const const_params *p = s->node->params;
    const mr_tview *out = &s->out[0];
    copy_chunk(out->data, p->src, out->numel * (int64_t)mr_dtype_size(out->dtype), b);
}

const mr_op_def mr_op_constant = {
    .name = "Constant",
    .min_in = 0,
    .max_in = 0,
    .min_out = 1,
    .max_out = 1,
    .attrs = constant_attrs,
    .init = constant_init,
    .infer = constant_infer,
    .prepare = view_prepare,
    .run_block = constant_run,
};

/* ---- ConstantOfShape ---- */

/* torch.onnx emits ConstantOfShape for the zero initial states of nn.LSTM/nn.GRU when the
 * batch dimension is symbolic (zeros(layers, x.size(0), H)). Its shape input is computed from
 * the input's Shape, which is folded at load time, so the op itself is folded too. */

typedef struct const_of_shape_params {
    mr_dtype dtype;
    unsigned char value[8]; /* one element of dtype; copied so no pointer is kept */
} const_of_shape_params;

static const char *const const_of_shape_attrs[] = {"value", NULL};

static mr_status const_of_shape_init(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_attr *a = mr_node_attr(n, "value");
    mr_dtype dtype = MR_DTYPE_F32; /* default: float 0 */
    const void *src = NULL;
    if (a) {
        if (a->type != MR_ATTR_TENSOR || a->tensor < 0 || a->tensor >= g->n_tensors)
            return mr_err_attr(err, n, "value", "must be a tensor");
        const mr_tensor_desc *t = &g->tensors[a->tensor];
        if (mr_desc_numel(t) != 1 || !t->data)
            return mr_err_attr(err, n, "value", "must be a constant tensor of one element");
        if (mr_dtype_size(t->dtype) == 0 || mr_dtype_size(t->dtype) > 8)
            return mr_err_attr(err, n, "value", "has an unsupported data type");
        dtype = t->dtype;
        src = t->data;
    }
    const_of_shape_params *p = mr_calloc(1, sizeof *p, "ConstantOfShape parameters", err);
    if (!p) return err->status;
    p->dtype = dtype;
    if (src) memcpy(p->value, src, mr_dtype_size(dtype));
    n->params = p;
    return MR_OK;
}

static mr_status const_of_shape_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const const_of_shape_params *p = n->params;
    int64_t dims[MR_MAX_DIMS];
    int cnt = 0;
    MR_TRY(const_ints(g, n, 0, "shape", 0, dims, MR_MAX_DIMS, &cnt, err));
    for (int i = 0; i < cnt; i++)
        if (dims[i] < 0)
            return mr_err_node(err, MR_ERR_SHAPE, n, "the shape has a negative dimension %lld",
                               (long long)dims[i]);
    mr_tensor_desc *out = mr_node_output(g, n, 0);
    mr_set_shape(out, p->dtype, cnt, dims);
    if (mr_desc_numel(out) < 0)
        return mr_err_node(err, MR_ERR_SHAPE, n, "the output would be too large");
    return MR_OK;
}

/* Block b fills output bytes [lo, hi); COPY_CHUNK is a multiple of every element size, so a
 * block starts and ends on element boundaries. */
static void const_of_shape_run(const mr_step *s, int64_t b, void *scratch) {
    const const_of_shape_params *p = s->node->params;
    const mr_tview *out = &s->out[0];
    int64_t esz = (int64_t)mr_dtype_size(out->dtype), lo, hi;
    mr_block_range(out->numel * esz, COPY_CHUNK, b, &lo, &hi);
    for (int64_t o = lo; o < hi; o += esz) memcpy((char *)out->data + o, p->value, (size_t)esz);
}

const mr_op_def mr_op_constantofshape = {
    .name = "ConstantOfShape",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .attrs = const_of_shape_attrs,
    .init = const_of_shape_init,
    .infer = const_of_shape_infer,
    .prepare = view_prepare,
    .run_block = const_of_shape_run,
};
