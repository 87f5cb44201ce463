/* ONNX ModelProto -> graph IR.
 *
 * The file is untrusted: protobuf-c only guarantees that the message is well-formed wire
 * format, so everything it hands back (missing fields, inconsistent sizes, names used twice) is
 * validated here before it reaches the graph. Shapes of intermediate tensors and outputs are
 * not taken from the file (value_info, output types): shape inference recomputes them. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "graph/ir.h"
#include "onnx/onnx_import.h"
#include "onnx/onnx_internal.h"
#include "ops/custom.h"
#include "ops/op.h"

/* Newest opset of the default domain whose operator semantics the ops implement. */
#define MR_ONNX_MAX_OPSET 17

/* Where a tensor's value comes from, while the graph is being built (per tensor index). */
enum { ORIGIN_NONE = -1, ORIGIN_INIT = -2, ORIGIN_INPUT = -3, ORIGIN_ATTR = -4 };

typedef struct importer {
    const Onnx__GraphProto *gp;
    mr_graph *g;
    int *origin; /* ORIGIN_* or the index of the producing node */
    int cap_origin;
    mr_custom_registry *custom; /* domains of its operators are accepted (may be NULL) */
    mr_err *err;
} importer;

static const char *str_or_empty(const char *s) {
    return s ? s : "";
}

/* The node's name as the graph will show it (mr_graph_add_node synthesises the same). */
static const char *node_label(const Onnx__NodeProto *np, int index, char *buf, size_t size) {
    if (np->name && np->name[0]) return np->name;
    snprintf(buf, size, "%s_%d", np->op_type ? np->op_type : "node", index);
    return buf;
}

static int is_default_domain(const char *d) {
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

/* Records the origin of tensor `t` (growing the table to cover every tensor added so far). */
static int set_origin(importer *im, int t, int origin) {
    if (!mr_grow((void **)&im->origin, &im->cap_origin, im->g->n_tensors, sizeof(int),
                 "tensor table", im->err))
        return 0;
    im->origin[t] = origin;
    return 1;
}

/* Index of the tensor named `name`, creating it (without origin) if new; -1 on error. */
static int tensor_by_name(importer *im, const char *name) {
    int t = mr_graph_find_tensor(im->g, name);
    if (t >= 0) return t;
    t = mr_graph_add_tensor(im->g, name, im->err);
    if (t < 0) return -1;
    if (!set_origin(im, t, ORIGIN_NONE)) return -1;
    return t;
}

static mr_status check_opset(const Onnx__ModelProto *m, int *opset, mr_err *err) {
    int64_t version = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = m->opset_import[i];
        if (!os || !is_default_domain(os->domain)) continue;
        if (!os->has_version)
            return mr_errf(err, MR_ERR_PARSE,
                           "the opset_import entry of the default ONNX domain has no version");
        version = os->version;
    }
    if (version < 0)
        return mr_errf(err, MR_ERR_PARSE,
                       "the model has no opset_import entry for the default ONNX domain");
    if (version < 1)
        return mr_errf(err, MR_ERR_PARSE, "invalid opset version %lld", (long long)version);
    if (version > MR_ONNX_MAX_OPSET)
        return mr_errf(err, MR_ERR_UNSUPPORTED,
                       "opset %lld is newer than the supported %d; re-export with "
                       "opset_version=%d",
                       (long long)version, MR_ONNX_MAX_OPSET, MR_ONNX_MAX_OPSET);
    *opset = (int)version;
    return MR_OK;
}

static mr_status add_initializers(importer *im) {
    const Onnx__GraphProto *gp = im->gp;
    if (gp->n_sparse_initializer > 0)
        return mr_errf(im->err, MR_ERR_UNSUPPORTED,
                       "the graph has %zu sparse initializers, which are not supported",
                       gp->n_sparse_initializer);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return mr_errf(im->err, MR_ERR_PARSE, "initializer #%zu has no name", i);
        if (mr_graph_find_tensor(im->g, tp->name) >= 0)
            return mr_errf(im->err, MR_ERR_PARSE, "initializer '%s' is defined twice", tp->name);
        char what[200];
        snprintf(what, sizeof what, "initializer '%.160s'", tp->name);
        mr_onnx_tensor v;
        mr_status st = mr_onnx_tensor_view(tp, what, &v, im->err);
        int t = -1;
        if (st == MR_OK)
            t = mr_graph_add_const(im->g, tp->name, v.dtype, v.ndim, v.dims, v.data, im->err);
        free(v.owned);
        if (st != MR_OK) return st;
        if (t < 0 || !set_origin(im, t, ORIGIN_INIT)) return im->err->status;
    }
    return MR_OK;
}

/* dtype and shape of a graph input from its declared type. */
static mr_status input_type(importer *im, const Onnx__ValueInfoProto *vi, mr_tensor_desc *t) {
    const char *name = vi->name;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return mr_errf(im->err, MR_ERR_PARSE, "graph input '%s' has no type", name);
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return mr_errf(im->err, MR_ERR_UNSUPPORTED,
                       "graph input '%s' is not a dense tensor (a sequence, map, optional or "
                       "sparse tensor), which is not supported",
                       name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!tt->has_elem_type || tt->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED)
        return mr_errf(im->err, MR_ERR_PARSE, "graph input '%s' has no element type", name);
    mr_dtype dt = mr_onnx_dtype(tt->elem_type);
    if (dt == MR_DTYPE_INVALID)
        return mr_errf(im->err, MR_ERR_UNSUPPORTED,
                       "graph input '%s' has data type %s (%d); only FLOAT, INT64 and INT32 are "
                       "supported",
                       name, mr_onnx_dtype_name(tt->elem_type), (int)tt->elem_type);
    /* Without a shape even the rank is unknown, and nothing downstream could size it. */
    if (!tt->shape)
        return mr_errf(im->err, MR_ERR_UNSUPPORTED,
                       "graph input '%s' has no shape (unknown rank), which is not supported",
                       name);
    const Onnx__TensorShapeProto *sp = tt->shape;
    if (sp->n_dim > MR_MAX_DIMS)
        return mr_errf(im->err, MR_ERR_PARSE,
                       "graph input '%s' has %zu dimensions; at most %d "
                       "are supported",
                       name, sp->n_dim, MR_MAX_DIMS);
    int64_t dims[MR_MAX_DIMS], numel = 1;
    for (size_t d = 0; d < sp->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = sp->dim[d];
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (dim->dim_value < 0)
                return mr_errf(im->err, MR_ERR_PARSE,
                               "graph input '%s' has a negative dimension (%lld at axis %zu)", name,
                               (long long)dim->dim_value, d);
            dims[d] = dim->dim_value;
        } else {
            dims[d] = im->g->default_dim; /* symbolic ("batch_size") or unknown */
        }
        if (!mr_mul_i64(numel, dims[d], &numel))
            return mr_errf(im->err, MR_ERR_PARSE,
                           "graph input '%s': the element count of its dimensions overflows", name);
    }
    t->dtype = dt;
    t->ndim = (int)sp->n_dim;
    memcpy(t->dims, dims, sizeof(int64_t) * sp->n_dim);
    return MR_OK;
}

static mr_status add_inputs(importer *im) {
    const Onnx__GraphProto *gp = im->gp;
    if (gp->n_input > INT_MAX / 2)
        return mr_errf(im->err, MR_ERR_PARSE, "the graph has too many inputs");
    im->g->inputs =
        mr_malloc_array(gp->n_input ? gp->n_input : 1, sizeof(int), "graph inputs", im->err);
    if (!im->g->inputs) return im->err->status;
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !vi->name[0])
            return mr_errf(im->err, MR_ERR_PARSE, "graph input #%zu has no name", i);
        int t = mr_graph_find_tensor(im->g, vi->name);
        /* Older exporters list every initializer among the inputs: those stay constants. */
        if (t >= 0 && im->origin[t] == ORIGIN_INIT) continue;
        if (t >= 0)
            return mr_errf(im->err, MR_ERR_PARSE, "graph input '%s' is listed twice", vi->name);
        t = mr_graph_add_tensor(im->g, vi->name, im->err);
        if (t < 0 || !set_origin(im, t, ORIGIN_INPUT)) return im->err->status;
        MR_TRY(input_type(im, vi, &im->g->tensors[t]));
        im->g->tensors[t].is_input = 1;
        im->g->inputs[im->g->n_inputs++] = t;
    }
    return MR_OK;
}

/* First pass over a node: checks what does not need the graph, creates the tensors it names
 * and records it as the producer of its outputs. */
static mr_status scan_node(importer *im, int index) {
    const Onnx__NodeProto *np = im->gp->node[index];
    char buf[96];
    if (!np->op_type || !np->op_type[0])
        return mr_errf(im->err, MR_ERR_PARSE, "node #%d ('%s') has no op_type", index,
                       str_or_empty(np->name));
    const char *label = node_label(np, index, buf, sizeof buf);
    if (!is_default_domain(np->domain) && !mr_custom_has_domain(im->custom, np->domain))
        return mr_errf(im->err, MR_ERR_UNSUPPORTED,
                       "%s node '%s': domain '%s' is not supported (only the default ONNX "
                       "domain is)",
                       np->op_type, label, np->domain);
    if (np->n_input > MR_MAX_IO || np->n_output > MR_MAX_IO)
        return mr_errf(im->err, MR_ERR_UNSUPPORTED,
                       "%s node '%s' has %zu inputs and %zu outputs; at most %d of each are "
                       "supported",
                       np->op_type, label, np->n_input, np->n_output, MR_MAX_IO);
    for (size_t k = 0; k < np->n_output; k++) {
        const char *name = np->output[k];
        if (!name || !name[0]) continue; /* omitted optional output */
        int t = tensor_by_name(im, name);
        if (t < 0) return im->err->status;
        int o = im->origin[t];
        if (o == ORIGIN_INIT || o == ORIGIN_INPUT)
            return mr_errf(im->err, MR_ERR_PARSE,
                           "%s node '%s' writes tensor '%s', which is also a graph %s", np->op_type,
                           label, name, o == ORIGIN_INIT ? "initializer" : "input");
        if (o >= 0) {
            char buf2[96];
            return mr_errf(im->err, MR_ERR_PARSE,
                           "tensor '%s' is produced twice: by node '%s' and by node '%s'", name,
                           node_label(im->gp->node[o], o, buf2, sizeof buf2), label);
        }
        im->origin[t] = index;
    }
    for (size_t k = 0; k < np->n_input; k++) {
        const char *name = np->input[k];
        if (name && name[0] && tensor_by_name(im, name) < 0) return im->err->status;
    }
    return MR_OK;
}

static mr_attr_type attr_type(const Onnx__AttributeProto *a) {
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) {
        switch (a->type) {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
            return MR_ATTR_FLOAT;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
            return MR_ATTR_INT;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
            return MR_ATTR_STRING;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
            return MR_ATTR_TENSOR;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
            return MR_ATTR_FLOATS;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
            return MR_ATTR_INTS;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
            return MR_ATTR_STRINGS;
        default:
            return MR_ATTR_OTHER;
        }
    }
    /* IR version 1 files carry no type: infer it from the field that is set. */
    if (a->has_f) return MR_ATTR_FLOAT;
    if (a->has_i) return MR_ATTR_INT;
    if (a->has_s) return MR_ATTR_STRING;
    if (a->t) return MR_ATTR_TENSOR;
    if (a->n_floats) return MR_ATTR_FLOATS;
    if (a->n_ints) return MR_ATTR_INTS;
    if (a->n_strings) return MR_ATTR_STRINGS;
    if (a->g || a->sparse_tensor || a->tp || a->n_tensors || a->n_graphs || a->n_sparse_tensors ||
        a->n_type_protos)
        return MR_ATTR_OTHER;
    return (mr_attr_type)-1;
}

/* A NUL-terminated copy of a protobuf bytes field. */
static char *bytes_str(const ProtobufCBinaryData *b, mr_err *err) {
    char *s = mr_malloc(b->len + 1, "attribute string", err);
    if (!s) return NULL;
    if (b->len) memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    return s;
}

static mr_status add_attr(importer *im, int node, const char *label, const char *op_type,
                          const Onnx__AttributeProto *a, size_t index) {
    mr_graph *g = im->g;
    mr_err *err = im->err;
    if (!a->name || !a->name[0])
        return mr_errf(err, MR_ERR_PARSE, "%s node '%s': attribute #%zu has no name", op_type,
                       label, index);
    if (mr_node_attr(&g->nodes[node], a->name))
        return mr_errf(err, MR_ERR_PARSE, "%s node '%s': attribute '%s' is given twice", op_type,
                       label, a->name);
    mr_attr_type type = attr_type(a);
    if ((int)type < 0)
        return mr_errf(err, MR_ERR_PARSE, "%s node '%s': attribute '%s' has no type or value",
                       op_type, label, a->name);
    if ((a->n_ints > INT_MAX || a->n_floats > INT_MAX || a->n_strings > INT_MAX))
        return mr_errf(err, MR_ERR_PARSE, "%s node '%s': attribute '%s' is too long", op_type,
                       label, a->name);
    switch (type) {
    case MR_ATTR_INT:
        return mr_node_set_int(g, node, a->name, a->i, err);
    case MR_ATTR_FLOAT:
        return mr_node_set_float(g, node, a->name, a->f, err);
    case MR_ATTR_INTS:
        return mr_node_set_ints(g, node, a->name, (int)a->n_ints, a->ints, err);
    case MR_ATTR_FLOATS:
        return mr_node_set_floats(g, node, a->name, (int)a->n_floats, a->floats, err);
    case MR_ATTR_STRING: {
        char *s = bytes_str(&a->s, err);
        if (!s) return err->status;
        mr_status st = mr_node_set_string(g, node, a->name, s, err);
        free(s);
        return st;
    }
    case MR_ATTR_STRINGS: {
        mr_attr *at = mr_node_add_attr(g, node, a->name, MR_ATTR_STRINGS, err);
        if (!at) return err->status;
        at->strings =
            mr_calloc(a->n_strings ? a->n_strings : 1, sizeof(char *), "attribute strings", err);
        if (!at->strings) return err->status;
        /* at->n counts the strings filled in so far, so the node frees exactly those if we
         * stop half-way. */
        for (size_t k = 0; k < a->n_strings; k++) {
            at->strings[k] = bytes_str(&a->strings[k], err);
            if (!at->strings[k]) return err->status;
            at->n = (int)k + 1;
        }
        return MR_OK;
    }
    case MR_ATTR_TENSOR: {
        if (!a->t)
            return mr_errf(err, MR_ERR_PARSE,
                           "%s node '%s': attribute '%s' is a TENSOR without a tensor", op_type,
                           label, a->name);
        char what[256];
        snprintf(what, sizeof what, "attribute '%.60s' of %.40s node '%.100s'", a->name, op_type,
                 label);
        mr_onnx_tensor v;
        mr_status st = mr_onnx_tensor_view(a->t, what, &v, err);
        int t = -1;
        if (st == MR_OK) t = mr_graph_add_const(g, NULL, v.dtype, v.ndim, v.dims, v.data, err);
        free(v.owned);
        if (st != MR_OK) return st;
        if (t < 0 || !set_origin(im, t, ORIGIN_ATTR)) return err->status;
        mr_attr *at = mr_node_add_attr(g, node, a->name, MR_ATTR_TENSOR, err);
        if (!at) return err->status;
        at->tensor = t;
        return MR_OK;
    }
    default: /* graphs, sparse tensors, type protos: the op rejects the attribute by name */
        return mr_node_add_attr(g, node, a->name, MR_ATTR_OTHER, err) ? MR_OK : err->status;
    }
}

/* Second pass over a node: every input has a source by now (or is dangling); adds the node
 * and its attributes. */
static mr_status add_node(importer *im, int index) {
    const Onnx__NodeProto *np = im->gp->node[index];
    char buf[96];
    const char *label = node_label(np, index, buf, sizeof buf);
    int in[MR_MAX_IO], out[MR_MAX_IO];
    for (size_t k = 0; k < np->n_input; k++) {
        const char *name = np->input[k];
        in[k] = -1;
        if (!name || !name[0]) continue;
        in[k] = mr_graph_find_tensor(im->g, name);
        if (in[k] < 0 || im->origin[in[k]] == ORIGIN_NONE)
            return mr_errf(im->err, MR_ERR_GRAPH,
                           "%s node '%s': input '%s' is not produced by any node, initializer "
                           "or graph input",
                           np->op_type, label, name);
    }
    for (size_t k = 0; k < np->n_output; k++) {
        const char *name = np->output[k];
        out[k] = name && name[0] ? mr_graph_find_tensor(im->g, name) : -1;
    }
    int node = mr_graph_add_node(im->g, np->name && np->name[0] ? np->name : NULL, np->op_type,
                                 (int)np->n_input, in, (int)np->n_output, out, im->err);
    if (node < 0) return im->err->status;
    if (!is_default_domain(np->domain)) {
        /* A custom operator's node: binding looks the operator up by domain and type. */
        mr_node *n = &im->g->nodes[node];
        char *d = mr_strdup(np->domain, im->err);
        if (!d) return im->err->status;
        free(n->domain);
        n->domain = d;
    }
    for (size_t k = 0; k < np->n_attribute; k++)
        MR_TRY(add_attr(im, node, label, np->op_type, np->attribute[k], k));
    return MR_OK;
}

static mr_status add_outputs(importer *im) {
    const Onnx__GraphProto *gp = im->gp;
    if (gp->n_output == 0) return mr_errf(im->err, MR_ERR_GRAPH, "the graph has no outputs");
    if (gp->n_output > INT_MAX / 2)
        return mr_errf(im->err, MR_ERR_PARSE, "the graph has too many outputs");
    im->g->outputs = mr_malloc_array(gp->n_output, sizeof(int), "graph outputs", im->err);
    if (!im->g->outputs) return im->err->status;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name;
        if (!name || !name[0])
            return mr_errf(im->err, MR_ERR_PARSE, "graph output #%zu has no name", i);
        int t = mr_graph_find_tensor(im->g, name);
        if (t < 0 || im->origin[t] == ORIGIN_NONE)
            return mr_errf(im->err, MR_ERR_GRAPH,
                           "graph output '%s' is not produced by any node, initializer or graph "
                           "input",
                           name);
        if (im->g->tensors[t].is_output)
            return mr_errf(im->err, MR_ERR_PARSE, "graph output '%s' is listed twice", name);
        im->g->tensors[t].is_output = 1;
        im->g->outputs[im->g->n_outputs++] = t;
    }
    return MR_OK;
}

static mr_status import_model(importer *im, const Onnx__ModelProto *m, int64_t default_dim) {
    mr_err *err = im->err;
    if (!m->graph) return mr_errf(err, MR_ERR_PARSE, "the model has no graph");
    int opset = 0;
    MR_TRY(check_opset(m, &opset, err));
    im->gp = m->graph;
    if (im->gp->n_node > (1u << 24))
        return mr_errf(err, MR_ERR_PARSE, "the graph has too many nodes (%zu)", im->gp->n_node);
    im->g = mr_graph_create(err);
    if (!im->g) return err->status;
    im->g->opset = opset;
    im->g->default_dim = default_dim;
    MR_TRY(add_initializers(im));
    MR_TRY(add_inputs(im));
    int n_node = (int)im->gp->n_node;
    for (int i = 0; i < n_node; i++) MR_TRY(scan_node(im, i));
    for (int i = 0; i < n_node; i++) MR_TRY(add_node(im, i));
    return add_outputs(im);
}

mr_status mr_onnx_import(const void *data, size_t size, int64_t default_dim, mr_graph **out,
                         mr_err *err) {
    return mr_onnx_import_custom(data, size, default_dim, NULL, out, err);
}

mr_status mr_onnx_import_custom(const void *data, size_t size, int64_t default_dim,
                                struct mr_custom_registry *custom, mr_graph **out, mr_err *err) {
    if (!out || (!data && size > 0))
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_onnx_import: NULL argument");
    *out = NULL;
    if (default_dim < 0)
        return mr_errf(err, MR_ERR_INVALID_ARG, "default_dim must not be negative (got %lld)",
                       (long long)default_dim);
    if (size == 0) return mr_errf(err, MR_ERR_PARSE, "empty buffer (0 bytes): not an ONNX model");
    mr_err oom;
    mr_err_clear(&oom);
    ProtobufCAllocator pa;
    mr_onnx_allocator(&pa, &oom);
    Onnx__ModelProto *m = onnx__model_proto__unpack(&pa, size, data);
    if (!m && oom.status != MR_OK) return mr_errf(err, oom.status, "%s", oom.msg);
    if (!m)
        return mr_errf(err, MR_ERR_PARSE,
                       "not a valid ONNX model: the protobuf ModelProto of %zu bytes is "
                       "truncated or corrupt",
                       size);
    importer im = {.err = err, .custom = custom};
    mr_status st = import_model(&im, m, default_dim);
    free(im.origin);
    onnx__model_proto__free_unpacked(m, &pa);
    if (st != MR_OK) {
        mr_graph_destroy(im.g);
        return st;
    }
    *out = im.g;
    return MR_OK;
}

mr_status mr_read_file(const char *path, void **data, size_t *size, mr_err *err) {
    if (!path || !data || !size)
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_read_file: NULL argument");
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mr_errf(err, MR_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    /* The size from fstat is only a hint (pipes, files that change while read): the loop reads
     * until EOF and never past MR_MAX_ALLOC. */
    struct stat sb;
    size_t cap = 1 << 16;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0) {
        if ((uint64_t)sb.st_size > MR_MAX_ALLOC) {
            fclose(f);
            return mr_errf(err, MR_ERR_IO, "cannot read '%s': %lld bytes exceed the limit of %zu",
                           path, (long long)sb.st_size, (size_t)MR_MAX_ALLOC);
        }
        cap = (size_t)sb.st_size + 1; /* +1 so EOF is seen without growing */
    }
    char *buf = mr_malloc(cap, "file contents", err);
    if (!buf) {
        fclose(f);
        return mr_err_prefix(err, "cannot read '%s': ", path);
    }
    size_t len = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= MR_MAX_ALLOC) {
                free(buf);
                fclose(f);
                return mr_errf(err, MR_ERR_IO,
                               "cannot read '%s': larger than the limit of %zu "
                               "bytes",
                               path, (size_t)MR_MAX_ALLOC);
            }
            size_t ncap = cap > MR_MAX_ALLOC / 2 ? MR_MAX_ALLOC : cap * 2;
            char *nb = mr_realloc(buf, ncap, "file contents", err);
            if (!nb) {
                free(buf);
                fclose(f);
                return mr_err_prefix(err, "cannot read '%s': ", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                int e = errno;
                free(buf);
                fclose(f);
                return mr_errf(err, MR_ERR_IO, "cannot read '%s': %s", path, strerror(e));
            }
            break;
        }
    }
    fclose(f);
    *data = buf;
    *size = len;
    return MR_OK;
}
