/* Graph IR -> ONNX file.
 *
 * The ModelProto is assembled from protobuf-c structs that point into the graph (names,
 * attribute arrays, constant data) rather than copying it, and is packed straight into the
 * file through a ProtobufCBuffer: exporting VGG-16 (528 MB of weights) needs no second copy of
 * the weights in memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "miriam.h"
#include "onnx/onnx.pb-c.h"
#include "onnx/onnx_export.h"
#include "zoo/zoo.h"

/* IR version 8 (ONNX 1.10+) is what torch.onnx writes for opset 13..17 models. */
#define MR_ONNX_IR_VERSION 8

/* A protobuf file cannot exceed 2 GiB (larger ONNX models keep their weights in external
 * data files, which the exporter does not write). */
#define MR_PROTOBUF_MAX ((size_t)0x7fffffff)

enum { T_CONST = 1, T_ATTR = 2, T_VALUE = 4 };

typedef struct exporter {
    mr_graph *g;
    mr_err *err;
    /* Snapshot of the graph as built, taken before shape inference folds nodes. */
    int n_order;
    int *order;     /* live nodes, topologically sorted */
    uint8_t *flags; /* per tensor: T_CONST (had data), T_ATTR (a TENSOR attribute's value),
                       T_VALUE (read by a node or listed as a graph output) */
    /* protobuf-c storage; strings and arrays point into the graph */
    Onnx__NodeProto *nodes;
    Onnx__NodeProto **node_ptrs;
    char **io_names;
    Onnx__AttributeProto *attrs;
    Onnx__AttributeProto **attr_ptrs;
    ProtobufCBinaryData *strs;
    Onnx__TensorProto *tensors;
    Onnx__TensorProto **init_ptrs;
    Onnx__ValueInfoProto *vis;
    Onnx__ValueInfoProto **vi_ptrs;
    Onnx__TypeProto *types;
    Onnx__TypeProto__Tensor *tts;
    Onnx__TensorShapeProto *shapes;
    Onnx__TensorShapeProto__Dimension *dims;
    Onnx__TensorShapeProto__Dimension **dim_ptrs;
} exporter;

static void exporter_free(exporter *x) {
    free(x->order);
    free(x->flags);
    free(x->nodes);
    free(x->node_ptrs);
    free(x->io_names);
    free(x->attrs);
    free(x->attr_ptrs);
    free(x->strs);
    free(x->tensors);
    free(x->init_ptrs);
    free(x->vis);
    free(x->vi_ptrs);
    free(x->types);
    free(x->tts);
    free(x->shapes);
    free(x->dims);
    free(x->dim_ptrs);
}

static int32_t onnx_dtype(mr_dtype dt) {
    switch (dt) {
    case MR_DTYPE_F32:
        return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    case MR_DTYPE_I64:
        return ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    case MR_DTYPE_I32:
        return ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    default:
        return ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED;
    }
}

/* calloc of count items (at least one, so a NULL result always means failure). */
static void *alloc_items(size_t count, size_t size, const char *what, mr_err *err) {
    return mr_calloc(count ? count : 1, size, what, err);
}

/* Records which tensors are constants, attribute values and values read by the graph, and
 * the node order, before mr_graph_finalize turns folded results into constants. */
static mr_status snapshot(exporter *x) {
    mr_graph *g = x->g;
    MR_TRY(mr_graph_sort(g, x->err));
    x->n_order = g->n_order;
    x->order = alloc_items((size_t)g->n_order, sizeof(int), "export node order", x->err);
    x->flags = alloc_items((size_t)g->n_tensors, 1, "export tensor flags", x->err);
    if (!x->order || !x->flags) return x->err->status;
    if (g->n_order) memcpy(x->order, g->order, sizeof(int) * (size_t)g->n_order);
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].data) x->flags[t] |= T_CONST;
    for (int i = 0; i < x->n_order; i++) {
        const mr_node *n = &g->nodes[x->order[i]];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) x->flags[n->in[k]] |= T_VALUE;
        for (int a = 0; a < n->n_attrs; a++) {
            const mr_attr *at = &n->attrs[a];
            if (at->type != MR_ATTR_TENSOR) continue;
            if (at->tensor < 0 || at->tensor >= g->n_tensors || !g->tensors[at->tensor].data)
                return mr_errf(x->err, MR_ERR_INTERNAL,
                               "%s node '%s': TENSOR attribute '%s' refers to no constant",
                               n->op_type, n->name, at->name);
            x->flags[at->tensor] |= T_ATTR;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) x->flags[g->outputs[i]] |= T_VALUE;
    return MR_OK;
}

/* A constant is written as an initializer unless it only exists as an attribute's value
 * (Constant's `value`), which the attribute carries itself. */
static int is_initializer(const exporter *x, int t) {
    uint8_t f = x->flags[t];
    return (f & T_CONST) && (!(f & T_ATTR) || (f & T_VALUE));
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* A TensorProto viewing constant `t`'s data (raw_data, which ONNX defines as little-endian:
 * the host order, checked by the caller). */
static mr_status fill_tensor(exporter *x, Onnx__TensorProto *tp, int t, int named) {
    static const Onnx__TensorProto init = ONNX__TENSOR_PROTO__INIT;
    mr_tensor_desc *d = &x->g->tensors[t];
    *tp = init;
    int32_t dt = onnx_dtype(d->dtype);
    if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED || d->ndim < 0)
        return mr_errf(x->err, MR_ERR_INTERNAL, "constant '%s' has no data type or shape", d->name);
    tp->n_dims = (size_t)d->ndim;
    tp->dims = d->dims;
    tp->has_data_type = 1;
    tp->data_type = dt;
    if (named) tp->name = d->name;
    tp->has_raw_data = 1;
    tp->raw_data.len = mr_desc_bytes(d);
    tp->raw_data.data = d->data;
    return MR_OK;
}

static mr_status fill_attr(exporter *x, const mr_node *n, const mr_attr *a,
                           Onnx__AttributeProto *ap, size_t *n_strs, size_t *n_tensors) {
    static const Onnx__AttributeProto init = ONNX__ATTRIBUTE_PROTO__INIT;
    *ap = init;
    ap->name = a->name;
    ap->has_type = 1;
    switch (a->type) {
    case MR_ATTR_INT:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        ap->has_i = 1;
        ap->i = a->i;
        return MR_OK;
    case MR_ATTR_FLOAT:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        ap->has_f = 1;
        ap->f = a->f;
        return MR_OK;
    case MR_ATTR_STRING:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        ap->has_s = 1;
        ap->s.data = (uint8_t *)(a->s ? a->s : "");
        ap->s.len = a->s ? strlen(a->s) : 0;
        return MR_OK;
    case MR_ATTR_INTS:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        ap->n_ints = a->n > 0 ? (size_t)a->n : 0;
        ap->ints = a->ints;
        return MR_OK;
    case MR_ATTR_FLOATS:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
        ap->n_floats = a->n > 0 ? (size_t)a->n : 0;
        ap->floats = a->floats;
        return MR_OK;
    case MR_ATTR_STRINGS:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
        ap->n_strings = a->n > 0 ? (size_t)a->n : 0;
        ap->strings = &x->strs[*n_strs];
        for (int k = 0; k < a->n; k++) {
            const char *s = a->strings[k] ? a->strings[k] : "";
            x->strs[*n_strs].data = (uint8_t *)s;
            x->strs[*n_strs].len = strlen(s);
            (*n_strs)++;
        }
        return MR_OK;
    case MR_ATTR_TENSOR: {
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
        Onnx__TensorProto *tp = &x->tensors[(*n_tensors)++];
        MR_TRY(fill_tensor(x, tp, a->tensor, 0));
        ap->t = tp;
        return MR_OK;
    }
    default:
        return mr_errf(x->err, MR_ERR_UNSUPPORTED,
                       "%s node '%s': attribute '%s' is a graph, sparse tensor or type, which "
                       "the ONNX exporter cannot write",
                       n->op_type, n->name, a->name);
    }
}

/* A ValueInfoProto with the tensor's element type and static shape. */
static mr_status fill_value_info(exporter *x, int index, int t, size_t *n_dims, const char *kind) {
    static const Onnx__ValueInfoProto vi_init = ONNX__VALUE_INFO_PROTO__INIT;
    static const Onnx__TypeProto type_init = ONNX__TYPE_PROTO__INIT;
    static const Onnx__TypeProto__Tensor tt_init = ONNX__TYPE_PROTO__TENSOR__INIT;
    static const Onnx__TensorShapeProto shape_init = ONNX__TENSOR_SHAPE_PROTO__INIT;
    static const Onnx__TensorShapeProto__Dimension dim_init =
        ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
    mr_tensor_desc *d = &x->g->tensors[t];
    int32_t dt = onnx_dtype(d->dtype);
    if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED || d->ndim < 0)
        return mr_errf(x->err, MR_ERR_INTERNAL, "graph %s '%s' has no data type or shape", kind,
                       d->name);
    Onnx__ValueInfoProto *vi = &x->vis[index];
    Onnx__TypeProto *type = &x->types[index];
    Onnx__TypeProto__Tensor *tt = &x->tts[index];
    Onnx__TensorShapeProto *shape = &x->shapes[index];
    *vi = vi_init;
    *type = type_init;
    *tt = tt_init;
    *shape = shape_init;
    vi->name = d->name;
    vi->type = type;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = dt;
    tt->shape = shape;
    shape->n_dim = (size_t)d->ndim;
    shape->dim = &x->dim_ptrs[*n_dims];
    for (int k = 0; k < d->ndim; k++) {
        Onnx__TensorShapeProto__Dimension *dim = &x->dims[*n_dims];
        *dim = dim_init;
        dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dim->dim_value = d->dims[k];
        x->dim_ptrs[*n_dims] = dim;
        (*n_dims)++;
    }
    x->vi_ptrs[index] = vi;
    return MR_OK;
}

/* Builds the GraphProto's contents into `gp` (nodes, initializers, inputs, outputs). */
static mr_status build_graph(exporter *x, Onnx__GraphProto *gp) {
    mr_graph *g = x->g;
    mr_err *err = x->err;
    size_t n_io = 0, n_attrs = 0, n_strs = 0, n_tensors = 0, n_init = 0, n_dims = 0;
    for (int i = 0; i < x->n_order; i++) {
        const mr_node *n = &g->nodes[x->order[i]];
        if (n->domain && n->domain[0])
            return mr_errf(err, MR_ERR_UNSUPPORTED,
                           "%s node '%s': domain '%s' cannot be exported (only the default "
                           "ONNX domain)",
                           n->op_type, n->name, n->domain);
        n_io += (size_t)n->n_in + (size_t)n->n_out;
        n_attrs += (size_t)n->n_attrs;
        for (int a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].type == MR_ATTR_STRINGS && n->attrs[a].n > 0)
                n_strs += (size_t)n->attrs[a].n;
            if (n->attrs[a].type == MR_ATTR_TENSOR) n_tensors++;
        }
    }
    for (int t = 0; t < g->n_tensors; t++)
        if (is_initializer(x, t)) n_init++;
    n_tensors += n_init;
    size_t n_vi = (size_t)g->n_inputs + (size_t)g->n_outputs, total_dims = 0;
    for (int i = 0; i < g->n_inputs; i++)
        total_dims +=
            (size_t)(g->tensors[g->inputs[i]].ndim > 0 ? g->tensors[g->inputs[i]].ndim : 0);
    for (int i = 0; i < g->n_outputs; i++)
        total_dims +=
            (size_t)(g->tensors[g->outputs[i]].ndim > 0 ? g->tensors[g->outputs[i]].ndim : 0);

    x->nodes = alloc_items((size_t)x->n_order, sizeof *x->nodes, "export nodes", err);
    x->node_ptrs = alloc_items((size_t)x->n_order, sizeof *x->node_ptrs, "export nodes", err);
    x->io_names = alloc_items(n_io, sizeof *x->io_names, "export node inputs", err);
    x->attrs = alloc_items(n_attrs, sizeof *x->attrs, "export attributes", err);
    x->attr_ptrs = alloc_items(n_attrs, sizeof *x->attr_ptrs, "export attributes", err);
    x->strs = alloc_items(n_strs, sizeof *x->strs, "export attribute strings", err);
    x->tensors = alloc_items(n_tensors, sizeof *x->tensors, "export tensors", err);
    x->init_ptrs = alloc_items(n_init, sizeof *x->init_ptrs, "export initializers", err);
    x->vis = alloc_items(n_vi, sizeof *x->vis, "export value infos", err);
    x->vi_ptrs = alloc_items(n_vi, sizeof *x->vi_ptrs, "export value infos", err);
    x->types = alloc_items(n_vi, sizeof *x->types, "export types", err);
    x->tts = alloc_items(n_vi, sizeof *x->tts, "export types", err);
    x->shapes = alloc_items(n_vi, sizeof *x->shapes, "export shapes", err);
    x->dims = alloc_items(total_dims, sizeof *x->dims, "export dimensions", err);
    x->dim_ptrs = alloc_items(total_dims, sizeof *x->dim_ptrs, "export dimensions", err);
    if (!x->nodes || !x->node_ptrs || !x->io_names || !x->attrs || !x->attr_ptrs || !x->strs ||
        !x->tensors || !x->init_ptrs || !x->vis || !x->vi_ptrs || !x->types || !x->tts ||
        !x->shapes || !x->dims || !x->dim_ptrs)
        return err->status;

    /* Nodes. An omitted optional input or output is the empty name, as in ONNX. */
    static const Onnx__NodeProto node_init = ONNX__NODE_PROTO__INIT;
    size_t io = 0, at = 0, si = 0, tens = 0;
    for (int i = 0; i < x->n_order; i++) {
        mr_node *n = &g->nodes[x->order[i]];
        Onnx__NodeProto *np = &x->nodes[i];
        *np = node_init;
        np->name = n->name;
        np->op_type = n->op_type;
        np->n_input = (size_t)n->n_in;
        np->input = &x->io_names[io];
        for (int k = 0; k < n->n_in; k++)
            x->io_names[io++] = n->in[k] >= 0 ? g->tensors[n->in[k]].name : (char *)"";
        np->n_output = (size_t)n->n_out;
        np->output = &x->io_names[io];
        for (int k = 0; k < n->n_out; k++)
            x->io_names[io++] = n->out[k] >= 0 ? g->tensors[n->out[k]].name : (char *)"";
        np->n_attribute = (size_t)n->n_attrs;
        np->attribute = &x->attr_ptrs[at];
        for (int a = 0; a < n->n_attrs; a++) {
            MR_TRY(fill_attr(x, n, &n->attrs[a], &x->attrs[at], &si, &tens));
            x->attr_ptrs[at] = &x->attrs[at];
            at++;
        }
        x->node_ptrs[i] = np;
    }

    /* Initializers, in tensor order: parameters come out in the order the model defines
     * them, like a state_dict. */
    size_t k_init = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        if (!is_initializer(x, t)) continue;
        Onnx__TensorProto *tp = &x->tensors[tens++];
        MR_TRY(fill_tensor(x, tp, t, 1));
        x->init_ptrs[k_init++] = tp;
    }

    for (int i = 0; i < g->n_inputs; i++)
        MR_TRY(fill_value_info(x, i, g->inputs[i], &n_dims, "input"));
    for (int i = 0; i < g->n_outputs; i++)
        MR_TRY(fill_value_info(x, g->n_inputs + i, g->outputs[i], &n_dims, "output"));

    gp->n_node = (size_t)x->n_order;
    gp->node = x->node_ptrs;
    gp->n_initializer = k_init;
    gp->initializer = x->init_ptrs;
    gp->n_input = (size_t)g->n_inputs;
    gp->input = x->vi_ptrs;
    gp->n_output = (size_t)g->n_outputs;
    gp->output = x->vi_ptrs + g->n_inputs;
    return MR_OK;
}

/* Streams packed protobuf bytes to a FILE; remembers the first write error. */
typedef struct file_buffer {
    ProtobufCBuffer base;
    FILE *f;
    int error; /* errno of the first failed write, 0 so far */
} file_buffer;

static void file_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data) {
    file_buffer *fb = (file_buffer *)buffer;
    if (fb->error || len == 0) return;
    if (fwrite(data, 1, len, fb->f) != len) fb->error = errno ? errno : EIO;
}

static mr_status write_model(const Onnx__ModelProto *m, const char *path, mr_err *err) {
    size_t size = onnx__model_proto__get_packed_size(m);
    if (size > MR_PROTOBUF_MAX)
        return mr_errf(err, MR_ERR_UNSUPPORTED,
                       "cannot write '%s': the model is %zu bytes, more than the 2 GiB a "
                       "protobuf file can hold (ONNX external data is not supported)",
                       path, size);
    FILE *f = fopen(path, "wb");
    if (!f) return mr_errf(err, MR_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    /* A partial file is removed on failure, but only a regular file: the path may name a
     * device or a pipe (/dev/stdout, /dev/full) that must survive a failed write. */
    struct stat sb;
    int regular = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode);
    file_buffer fb = {.base = {.append = file_append}, .f = f, .error = 0};
    errno = 0;
    size_t packed = onnx__model_proto__pack_to_buffer(m, &fb.base);
    if (!fb.error && fflush(f) != 0) fb.error = errno ? errno : EIO;
    if (fclose(f) != 0 && !fb.error) fb.error = errno ? errno : EIO;
    if (fb.error || packed != size) {
        if (regular) remove(path);
        if (!fb.error)
            return mr_errf(err, MR_ERR_INTERNAL,
                           "writing '%s': packed %zu bytes where %zu were expected", path, packed,
                           size);
        return mr_errf(err, MR_ERR_IO, "cannot write '%s': %s", path, strerror(fb.error));
    }
    return MR_OK;
}

mr_status mr_onnx_export(mr_graph *g, const char *graph_name, const char *doc, const char *path,
                         mr_err *err) {
    mr_err local;
    if (!err) err = &local;
    if (!g || !path || !graph_name)
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_onnx_export: NULL graph, name or path");
    if (g->order)
        return mr_errf(err, MR_ERR_INVALID_ARG,
                       "mr_onnx_export: the graph is already finalised (the passes may have "
                       "rewritten it); export the graph as built");
    if (!host_is_little_endian())
        return mr_errf(err, MR_ERR_UNSUPPORTED,
                       "ONNX export needs a little-endian host (raw_data is little-endian)");
    exporter x;
    memset(&x, 0, sizeof x);
    x.g = g;
    x.err = err;
    mr_status st = snapshot(&x);
    /* Shape inference gives the output shapes ONNX files declare; it folds constant nodes
     * (marking them dead), which is why the snapshot above came first. */
    if (st == MR_OK) st = mr_graph_finalize(g, 0, err);
    if (st != MR_OK) {
        exporter_free(&x);
        return mr_err_prefix(err, "cannot export '%s': ", graph_name);
    }

    Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    char version[48];
    snprintf(version, sizeof version, "%d.%d.%d", MR_VERSION_MAJOR, MR_VERSION_MINOR,
             MR_VERSION_PATCH);
    st = build_graph(&x, &gp);
    if (st == MR_OK) {
        gp.name = (char *)graph_name;
        gp.doc_string = (char *)doc;
        opset.domain = (char *)"";
        opset.has_version = 1;
        opset.version = g->opset;
        m.has_ir_version = 1;
        m.ir_version = MR_ONNX_IR_VERSION;
        m.n_opset_import = 1;
        m.opset_import = opsets;
        m.producer_name = (char *)"miriam";
        m.producer_version = version;
        m.graph = &gp;
        st = write_model(&m, path, err);
    }
    exporter_free(&x);
    return st;
}

mr_status mr_zoo_export_onnx(const char *name, const char *path, char *errbuf, size_t errbuf_size) {
    mr_err err;
    mr_err_clear(&err);
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    mr_status st;
    mr_graph *g = NULL;
    if (!name || !path)
        st = mr_errf(&err, MR_ERR_INVALID_ARG, "mr_zoo_export_onnx: NULL name or path");
    else if ((st = mr_zoo_build(name, &g, &err)) == MR_OK)
        st = mr_onnx_export(g, name, mr_zoo_description(name), path, &err);
    mr_graph_destroy(g);
    if (st != MR_OK) mr_err_copy(&err, errbuf, errbuf_size);
    return st;
}
