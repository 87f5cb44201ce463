/* ONNX export (src/onnx/export.c, mr_zoo_export_onnx, `miriam export`).
 *
 * Every zoo model is exported, read back with the importer and compared with the graph the
 * zoo builds, node by node (names, op types, inputs, outputs, every attribute) and constant by
 * constant (names, shapes, bytes); then the zoo model and the re-imported file are run on the
 * same random input. The outputs must be bit-identical: same graph, same weights, same
 * kernels, so there is no tolerance. A hand-built graph covers every attribute type the
 * exporter writes (INT, FLOAT, STRING, INTS, FLOATS, STRINGS, TENSOR), omitted optional
 * inputs and Constant nodes, at the protobuf level too. When /usr/bin/python3 has the onnx
 * package, onnx.checker (full_check: strict shape inference against the declared output
 * shapes) validates two exported models. Errors: unknown names, unwritable paths, a failing
 * write, attributes ONNX cannot carry, graphs already finalised; and the CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "graph/ir.h"
#include "model.h"
#include "ops/op.h"
#include "onnx/onnx.pb-c.h"
#include "onnx/onnx_export.h"
#include "onnx/onnx_import.h"
#include "testutil.h"
#include "zoo/zoo.h"

static char tmpdir[64];
static int have_python_onnx;

static void tmp_path(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- graph comparison ---- */

static int find_node(const mr_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

static int same_tensor_value(const mr_tensor_desc *a, const mr_tensor_desc *b) {
    if (!a->data || !b->data || a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    return memcmp(a->data, b->data, mr_desc_bytes(a)) == 0;
}

static int same_attr(const mr_graph *ga, const mr_attr *a, const mr_graph *gb, const mr_attr *b) {
    if (strcmp(a->name, b->name) != 0 || a->type != b->type) return 0;
    switch (a->type) {
    case MR_ATTR_INT:
        return a->i == b->i;
    case MR_ATTR_FLOAT:
        return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case MR_ATTR_STRING:
        return strcmp(a->s, b->s) == 0;
    case MR_ATTR_INTS:
        return a->n == b->n && (a->n == 0 || memcmp(a->ints, b->ints, sizeof(int64_t) * a->n) == 0);
    case MR_ATTR_FLOATS:
        return a->n == b->n &&
               (a->n == 0 || memcmp(a->floats, b->floats, sizeof(float) * a->n) == 0);
    case MR_ATTR_STRINGS:
        if (a->n != b->n) return 0;
        for (int k = 0; k < a->n; k++)
            if (strcmp(a->strings[k], b->strings[k]) != 0) return 0;
        return 1;
    case MR_ATTR_TENSOR:
        return same_tensor_value(&ga->tensors[a->tensor], &gb->tensors[b->tensor]);
    default:
        return 0;
    }
}

static const char *tensor_name(const mr_graph *g, int t) {
    return t >= 0 ? g->tensors[t].name : "";
}

/* `b` (imported from the exported file) must be `a` (as built): same inputs with shapes, same
 * outputs, the same nodes by name with the same op, tensors and attributes, and the same
 * constants. Neither graph is finalised. */
static void compare_graphs(const char *model, const mr_graph *a, const mr_graph *b) {
    CHECK_MSG(a->opset == b->opset, "%s: opset %d vs %d", model, a->opset, b->opset);
    CHECK_MSG(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs, "%s: graph i/o", model);
    for (int i = 0; i < a->n_inputs && i < b->n_inputs; i++) {
        const mr_tensor_desc *x = &a->tensors[a->inputs[i]], *y = &b->tensors[b->inputs[i]];
        int same = strcmp(x->name, y->name) == 0 && x->dtype == y->dtype && x->ndim == y->ndim;
        for (int d = 0; same && d < x->ndim; d++) same = x->dims[d] == y->dims[d];
        CHECK_MSG(same, "%s: input %d ('%s' vs '%s')", model, i, x->name, y->name);
    }
    for (int i = 0; i < a->n_outputs && i < b->n_outputs; i++)
        CHECK_MSG(strcmp(tensor_name(a, a->outputs[i]), tensor_name(b, b->outputs[i])) == 0,
                  "%s: output %d", model, i);
    int live_a = 0, live_b = 0, const_a = 0, const_b = 0, bad_nodes = 0;
    for (int i = 0; i < a->n_nodes; i++) live_a += !a->nodes[i].dead;
    for (int i = 0; i < b->n_nodes; i++) live_b += !b->nodes[i].dead;
    for (int t = 0; t < a->n_tensors; t++) const_a += a->tensors[t].data != NULL;
    for (int t = 0; t < b->n_tensors; t++) const_b += b->tensors[t].data != NULL;
    CHECK_MSG(live_a == live_b, "%s: %d nodes built, %d imported", model, live_a, live_b);
    CHECK_MSG(const_a == const_b, "%s: %d constants built, %d imported", model, const_a, const_b);
    for (int i = 0; i < a->n_nodes; i++) {
        const mr_node *na = &a->nodes[i];
        if (na->dead) continue;
        int j = find_node(b, na->name);
        if (j < 0) {
            bad_nodes++;
            fprintf(stderr, "%s: node '%s' is missing after the round trip\n", model, na->name);
            continue;
        }
        const mr_node *nb = &b->nodes[j];
        int ok = strcmp(na->op_type, nb->op_type) == 0 && na->n_in == nb->n_in &&
                 na->n_out == nb->n_out && na->n_attrs == nb->n_attrs;
        for (int k = 0; ok && k < na->n_in; k++) {
            ok = strcmp(tensor_name(a, na->in[k]), tensor_name(b, nb->in[k])) == 0;
            /* Weights: the same bytes under the same name. */
            if (ok && na->in[k] >= 0 && a->tensors[na->in[k]].data)
                ok = same_tensor_value(&a->tensors[na->in[k]], &b->tensors[nb->in[k]]);
        }
        for (int k = 0; ok && k < na->n_out; k++)
            ok = strcmp(tensor_name(a, na->out[k]), tensor_name(b, nb->out[k])) == 0;
        for (int k = 0; ok && k < na->n_attrs; k++)
            ok = same_attr(a, &na->attrs[k], b, &nb->attrs[k]);
        if (!ok) {
            bad_nodes++;
            fprintf(stderr, "%s: %s node '%s' differs after the round trip\n", model, na->op_type,
                    na->name);
        }
    }
    CHECK_MSG(bad_nodes == 0, "%s: %d nodes differ", model, bad_nodes);
}

/* ---- running models ---- */

typedef struct outputs {
    int n;
    mr_tensor t[4];
} outputs;

static void outputs_free(outputs *o) {
    for (int i = 0; i < o->n; i++) free(o->t[i].data);
    o->n = 0;
}

/* Runs `m` on inputs filled from `seed` (U(-1,1), never all zeros) into freshly allocated
 * outputs. */
static int run_model(mr_model *m, uint64_t seed, outputs *o) {
    mr_tensor in[4];
    int n_in = mr_model_n_inputs(m);
    memset(o, 0, sizeof *o);
    if (n_in > 4 || mr_model_n_outputs(m) > 4) return 0;
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    for (int i = 0; i < n_in; i++) {
        mr_tensor_info info;
        mr_model_input_info(m, i, &info);
        in[i].dtype = info.dtype;
        in[i].ndim = info.ndim;
        memcpy(in[i].dims, info.dims, sizeof in[i].dims);
        int64_t n = mr_tensor_numel(&in[i]);
        in[i].data = malloc((size_t)(n ? n : 1) * sizeof(float));
        mr_rng_fill(&rng, in[i].data, n, -1.0f, 1.0f);
    }
    o->n = mr_model_n_outputs(m);
    for (int i = 0; i < o->n; i++) {
        mr_tensor_info info;
        mr_model_output_info(m, i, &info);
        o->t[i].dtype = info.dtype;
        o->t[i].ndim = info.ndim;
        memcpy(o->t[i].dims, info.dims, sizeof o->t[i].dims);
        int64_t n = mr_tensor_numel(&o->t[i]);
        o->t[i].data = calloc((size_t)(n ? n : 1), mr_dtype_size(info.dtype));
    }
    mr_status st = mr_model_run(m, n_in, in, o->n, o->t);
    for (int i = 0; i < n_in; i++) free(in[i].data);
    return st == MR_OK;
}

static int same_outputs(const outputs *a, const outputs *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        const mr_tensor *x = &a->t[i], *y = &b->t[i];
        if (x->dtype != y->dtype || x->ndim != y->ndim) return 0;
        for (int d = 0; d < x->ndim; d++)
            if (x->dims[d] != y->dims[d]) return 0;
        if (memcmp(x->data, y->data, (size_t)mr_tensor_numel(x) * mr_dtype_size(x->dtype)) != 0)
            return 0;
    }
    return 1;
}

static void python_check(const char *path) {
    if (!have_python_onnx) return;
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import onnx, sys; "
             "onnx.checker.check_model(sys.argv[1], full_check=True)\" '%s'",
             path);
    int st = system(cmd);
    CHECK_MSG(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "onnx.checker.check_model(full_check=True) rejects %s", path);
}

/* ---- the zoo ---- */

static void test_zoo_model(mr_runtime *rt, const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s.onnx", tmpdir, name);
    char errbuf[512];
    mr_status st = mr_zoo_export_onnx(name, path, errbuf, sizeof errbuf);
    CHECK_STATUS(st, MR_OK, errbuf, NULL);
    if (st != MR_OK) return;

    /* Structure: the imported graph is the built one. */
    mr_err err;
    mr_err_clear(&err);
    mr_graph *built = NULL, *imported = NULL;
    void *data = NULL;
    size_t size = 0;
    /* The file is imported and released before the zoo graph is built: for VGG-16 the file
     * buffer, the unpacked message and the imported graph each hold the 528 MB of weights. */
    CHECK_STATUS(mr_read_file(path, &data, &size, &err), MR_OK, err.msg, NULL);
    if (data) CHECK_STATUS(mr_onnx_import(data, size, 1, &imported, &err), MR_OK, err.msg, NULL);
    free(data);
    CHECK_STATUS(mr_zoo_build(name, &built, &err), MR_OK, err.msg, NULL);
    if (built && imported) compare_graphs(name, built, imported);
    mr_graph_destroy(built);
    mr_graph_destroy(imported);

    /* Execution: the zoo model first, destroyed before the file is loaded, so that only one
     * copy of VGG-16's weights (plus the importer's transient ones) is alive at a time. */
    mr_model *m = NULL;
    outputs ref = {0}, got = {0};
    mr_model_stats s_zoo = {0}, s_file = {0};
    int ran = 0;
    st = mr_model_load_zoo(rt, name, NULL, &m);
    CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
    if (st == MR_OK) {
        mr_model_get_stats(m, &s_zoo);
        ran = run_model(m, 1234, &ref);
        CHECK_MSG(ran, "%s: zoo model run: %s", name, mr_runtime_last_error(rt));
        mr_model_destroy(m);
    }
    st = mr_model_load_file(rt, path, NULL, &m);
    CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
    if (st == MR_OK) {
        mr_model_get_stats(m, &s_file);
        CHECK_MSG(s_zoo.n_params == s_file.n_params, "%s: n_params %lld vs %lld", name,
                  (long long)s_zoo.n_params, (long long)s_file.n_params);
        CHECK_MSG(s_zoo.n_nodes == s_file.n_nodes && s_zoo.n_steps == s_file.n_steps &&
                      s_zoo.flops == s_file.flops && s_zoo.weight_bytes == s_file.weight_bytes,
                  "%s: stats differ (nodes %d/%d, steps %d/%d)", name, s_zoo.n_nodes,
                  s_file.n_nodes, s_zoo.n_steps, s_file.n_steps);
        int ran2 = run_model(m, 1234, &got);
        CHECK_MSG(ran2, "%s: re-imported model run: %s", name, mr_runtime_last_error(rt));
        if (ran && ran2)
            CHECK_MSG(same_outputs(&ref, &got), "%s: outputs are not bit-identical", name);
        mr_model_destroy(m);
    }
    outputs_free(&ref);
    outputs_free(&got);
    if (strcmp(name, "mobilenet_v2") == 0 || strcmp(name, "gru") == 0) python_check(path);
    unlink(path);
    printf("  %-14s exported, re-imported, structure and outputs identical (%.1f MB)\n", name,
           (double)size / 1e6);
}

/* The file itself, at the protobuf level: header fields, names kept, Constant nodes. */
static void test_model_proto(void) {
    char path[128], errbuf[512];
    tmp_path(path, sizeof path, "mobilenet_v2.onnx");
    CHECK_STATUS(mr_zoo_export_onnx("mobilenet_v2", path, errbuf, sizeof errbuf), MR_OK, errbuf,
                 NULL);
    mr_err err;
    mr_err_clear(&err);
    void *data = NULL;
    size_t size = 0;
    if (mr_read_file(path, &data, &size, &err) != MR_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    unlink(path);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
    free(data);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(m->has_ir_version && m->ir_version == 8);
    CHECK(m->n_opset_import == 1 && m->opset_import[0]->version == 13 &&
          (!m->opset_import[0]->domain || !m->opset_import[0]->domain[0]));
    CHECK(m->producer_name && strcmp(m->producer_name, "miriam") == 0);
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", MR_VERSION_MAJOR, MR_VERSION_MINOR,
             MR_VERSION_PATCH);
    CHECK(m->producer_version && strcmp(m->producer_version, version) == 0);
    const Onnx__GraphProto *gp = m->graph;
    CHECK(gp && gp->name && strcmp(gp->name, "mobilenet_v2") == 0);
    if (gp) {
        /* The input and output with full static shapes. */
        CHECK(gp->n_input == 1 && gp->n_output == 1);
        if (gp->n_input == 1 && gp->n_output == 1) {
            const Onnx__TypeProto__Tensor *ti = gp->input[0]->type->tensor_type;
            const Onnx__TypeProto__Tensor *to = gp->output[0]->type->tensor_type;
            CHECK(ti->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && ti->shape->n_dim == 4 &&
                  ti->shape->dim[1]->dim_value == 3 && ti->shape->dim[3]->dim_value == 224);
            CHECK(to->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && to->shape->n_dim == 2 &&
                  to->shape->dim[0]->dim_value == 1 && to->shape->dim[1]->dim_value == 1000);
        }
        /* torchvision state_dict names, raw little-endian data. */
        int found_w = 0, found_bn = 0;
        for (size_t i = 0; i < gp->n_initializer; i++) {
            const Onnx__TensorProto *t = gp->initializer[i];
            if (strcmp(t->name, "features.0.0.weight") == 0)
                found_w = t->has_raw_data && t->raw_data.len == 32 * 3 * 3 * 3 * 4 &&
                          t->n_dims == 4 && t->dims[0] == 32;
            if (strcmp(t->name, "features.0.1.running_var") == 0)
                found_bn = t->has_raw_data && t->raw_data.len == 32 * 4;
        }
        CHECK_MSG(found_w && found_bn, "initializers features.0.0.weight / running_var");
        /* BatchNormalization and Clip are not fused; the ReLU6 bounds are Constant nodes. */
        int n_bn = 0, n_clip = 0, n_const = 0, n_conv = 0;
        for (size_t i = 0; i < gp->n_node; i++) {
            const Onnx__NodeProto *n = gp->node[i];
            n_bn += strcmp(n->op_type, "BatchNormalization") == 0;
            n_clip += strcmp(n->op_type, "Clip") == 0;
            n_conv += strcmp(n->op_type, "Conv") == 0;
            if (strcmp(n->op_type, "Constant") == 0) {
                n_const++;
                CHECK(n->n_attribute == 1 && strcmp(n->attribute[0]->name, "value_float") == 0 &&
                      n->attribute[0]->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
            }
        }
        CHECK_MSG(n_conv == 52 && n_bn == 52 && n_clip == 35 && n_const == 2,
                  "conv %d bn %d clip %d constant %d", n_conv, n_bn, n_clip, n_const);
    }
    onnx__model_proto__free_unpacked(m, NULL);
}

/* ---- every attribute type, on a hand-built graph ---- */

static int add_input(mr_graph *g, const char *name, int ndim, const int64_t *dims, mr_err *err) {
    int t = mr_graph_add_tensor(g, name, err);
    if (t < 0) return -1;
    int *grown = realloc(g->inputs, sizeof(int) * (size_t)(g->n_inputs + 1));
    if (!grown) return -1;
    g->inputs = grown;
    g->inputs[g->n_inputs++] = t;
    mr_set_shape(&g->tensors[t], MR_DTYPE_F32, ndim, dims);
    g->tensors[t].is_input = 1;
    return t;
}

static void add_output(mr_graph *g, int t) {
    int *grown = realloc(g->outputs, sizeof(int) * (size_t)(g->n_outputs + 1));
    if (!grown) return;
    g->outputs = grown;
    g->outputs[g->n_outputs++] = t;
    g->tensors[t].is_output = 1;
}

static int node1(mr_graph *g, const char *name, const char *op, int n_in, const int *in,
                 const char *out_name, int *out_tensor, mr_err *err) {
    int y = mr_graph_add_tensor(g, out_name, err);
    *out_tensor = y;
    return y < 0 ? -1 : mr_graph_add_node(g, name, op, n_in, in, 1, &y, err);
}

/* x [2,1,3] -> LSTM(hidden 2; direction, activations, activation_alpha, hidden_size) -> Y
 * [2,1,1,2] + Constant(value: TENSOR [2]) * Constant(value_floats) -> Reshape(Constant
 * value_ints [1,4]) -> Clip(min: Constant value_float) = "clipped" -> Gather(Constant
 * value_int, axis INT) = "picked". LSTM's sequence_lens is an omitted input. */
static mr_graph *build_attr_graph(mr_err *err) {
    mr_graph *g = mr_graph_create(err);
    if (!g) return NULL;
    mr_rng rng;
    mr_rng_seed(&rng, 77);
    float w[8 * 3], r[8 * 2], bias[16];
    mr_rng_fill(&rng, w, 24, -0.7f, 0.7f);
    mr_rng_fill(&rng, r, 16, -0.7f, 0.7f);
    mr_rng_fill(&rng, bias, 16, -0.2f, 0.2f);
    int64_t xd[3] = {2, 1, 3}, wd[3] = {1, 8, 3}, rd[3] = {1, 8, 2}, bd[2] = {1, 16}, vd[1] = {2};
    int x = add_input(g, "x", 3, xd, err);
    int tw = mr_graph_add_const(g, "lstm.W", MR_DTYPE_F32, 3, wd, w, err);
    int tr = mr_graph_add_const(g, "lstm.R", MR_DTYPE_F32, 3, rd, r, err);
    int tb = mr_graph_add_const(g, "lstm.B", MR_DTYPE_F32, 2, bd, bias, err);
    if (x < 0 || tw < 0 || tr < 0 || tb < 0) goto fail;
    int in5[5] = {x, tw, tr, tb, -1}, y, node;
    if ((node = node1(g, "lstm", "LSTM", 5, in5, "Y", &y, err)) < 0) goto fail;
    static const float alpha[3] = {1.0f, 0.5f, 0.25f};
    if (mr_node_set_int(g, node, "hidden_size", 2, err) ||
        mr_node_set_string(g, node, "direction", "forward", err) ||
        mr_node_set_floats(g, node, "activation_alpha", 3, alpha, err))
        goto fail;
    mr_attr *acts = mr_node_add_attr(g, node, "activations", MR_ATTR_STRINGS, err);
    if (!acts) goto fail;
    static const char *const names[3] = {"Sigmoid", "Tanh", "Tanh"};
    acts->strings = calloc(3, sizeof(char *));
    if (!acts->strings) goto fail;
    for (int k = 0; k < 3; k++) {
        acts->strings[k] = strdup(names[k]);
        acts->n = k + 1;
    }

    /* Constant with a TENSOR attribute: an anonymous constant the attribute refers to. */
    static const float v[2] = {0.25f, -0.5f};
    int cv, tv = mr_graph_add_const(g, NULL, MR_DTYPE_F32, 1, vd, v, err);
    if (tv < 0 || (node = node1(g, "c_value", "Constant", 0, NULL, "cv", &cv, err)) < 0) goto fail;
    mr_attr *at = mr_node_add_attr(g, node, "value", MR_ATTR_TENSOR, err);
    if (!at) goto fail;
    at->tensor = tv;
    int in2[2] = {y, cv}, sum, cf, prod, shape, flat, lo, clipped, idx, picked;
    if (node1(g, "add", "Add", 2, in2, "sum", &sum, err) < 0) goto fail;
    static const float fl[2] = {1.5f, -2.0f};
    if ((node = node1(g, "c_floats", "Constant", 0, NULL, "cf", &cf, err)) < 0 ||
        mr_node_set_floats(g, node, "value_floats", 2, fl, err))
        goto fail;
    in2[0] = sum;
    in2[1] = cf;
    if (node1(g, "mul", "Mul", 2, in2, "prod", &prod, err) < 0) goto fail;
    static const int64_t sh[2] = {1, 4};
    if ((node = node1(g, "c_ints", "Constant", 0, NULL, "shape", &shape, err)) < 0 ||
        mr_node_set_ints(g, node, "value_ints", 2, sh, err))
        goto fail;
    in2[0] = prod;
    in2[1] = shape;
    if (node1(g, "reshape", "Reshape", 2, in2, "flat", &flat, err) < 0) goto fail;
    if ((node = node1(g, "c_float", "Constant", 0, NULL, "lo", &lo, err)) < 0 ||
        mr_node_set_float(g, node, "value_float", -0.1f, err))
        goto fail;
    in2[0] = flat;
    in2[1] = lo;
    if (node1(g, "clip", "Clip", 2, in2, "clipped", &clipped, err) < 0) goto fail;
    if ((node = node1(g, "c_int", "Constant", 0, NULL, "idx", &idx, err)) < 0 ||
        mr_node_set_int(g, node, "value_int", 2, err))
        goto fail;
    in2[0] = clipped;
    in2[1] = idx;
    if ((node = node1(g, "gather", "Gather", 2, in2, "picked", &picked, err)) < 0 ||
        mr_node_set_int(g, node, "axis", 1, err))
        goto fail;
    add_output(g, clipped);
    add_output(g, picked);
    if (g->n_outputs != 2) goto fail;
    return g;
fail:
    mr_graph_destroy(g);
    return NULL;
}

static const Onnx__NodeProto *proto_node(const Onnx__GraphProto *gp, const char *name) {
    for (size_t i = 0; i < gp->n_node; i++)
        if (strcmp(gp->node[i]->name, name) == 0) return gp->node[i];
    return NULL;
}

static const Onnx__AttributeProto *proto_attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t i = 0; n && i < n->n_attribute; i++)
        if (strcmp(n->attribute[i]->name, name) == 0) return n->attribute[i];
    return NULL;
}

static void test_attr_graph(mr_runtime *rt) {
    char path[128];
    tmp_path(path, sizeof path, "attrs.onnx");
    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = build_attr_graph(&err);
    CHECK_MSG(g != NULL, "building the attribute graph: %s", err.msg);
    if (!g) return;
    CHECK_STATUS(mr_onnx_export(g, "attrs", NULL, path, &err), MR_OK, err.msg, NULL);
    mr_graph_destroy(g);

    void *data = NULL;
    size_t size = 0;
    if (mr_read_file(path, &data, &size, &err) != MR_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    /* Protobuf level: the attribute types as ONNX spells them. */
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
    CHECK(m && m->graph);
    if (m && m->graph) {
        const Onnx__GraphProto *gp = m->graph;
        CHECK(gp->n_node == 11 && gp->n_initializer == 3 && gp->n_input == 1 && gp->n_output == 2);
        const Onnx__NodeProto *lstm = proto_node(gp, "lstm");
        const Onnx__AttributeProto *a;
        CHECK(lstm && lstm->n_input == 5 && strcmp(lstm->input[4], "") == 0);
        CHECK((a = proto_attr(lstm, "hidden_size")) &&
              a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && a->i == 2);
        CHECK((a = proto_attr(lstm, "direction")) &&
              a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING && a->s.len == 7 &&
              memcmp(a->s.data, "forward", 7) == 0);
        CHECK((a = proto_attr(lstm, "activation_alpha")) &&
              a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS && a->n_floats == 3 &&
              a->floats[1] == 0.5f);
        CHECK((a = proto_attr(lstm, "activations")) &&
              a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS && a->n_strings == 3 &&
              a->strings[2].len == 4 && memcmp(a->strings[2].data, "Tanh", 4) == 0);
        CHECK((a = proto_attr(proto_node(gp, "c_value"), "value")) &&
              a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR && a->t &&
              a->t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && a->t->n_dims == 1 &&
              a->t->dims[0] == 2 && a->t->raw_data.len == 8);
        CHECK((a = proto_attr(proto_node(gp, "c_ints"), "value_ints")) &&
              a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS && a->n_ints == 2 &&
              a->ints[1] == 4);
        CHECK((a = proto_attr(proto_node(gp, "c_float"), "value_float")) &&
              a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && a->f == -0.1f);
        CHECK(gp->n_output == 2 && gp->output[1]->type->tensor_type->shape->n_dim == 1 &&
              gp->output[1]->type->tensor_type->shape->dim[0]->dim_value == 1);
    }
    if (m) onnx__model_proto__free_unpacked(m, NULL);

    /* Graph level: the importer gives back the graph as built. */
    mr_graph *built = build_attr_graph(&err), *imported = NULL;
    CHECK_STATUS(mr_onnx_import(data, size, 1, &imported, &err), MR_OK, err.msg, NULL);
    free(data);
    if (built && imported) compare_graphs("attrs", built, imported);
    mr_graph_destroy(built);

    /* Execution: bit-identical outputs. */
    mr_model *ma = NULL, *mb = NULL;
    built = build_attr_graph(&err);
    CHECK_STATUS(mr_model_from_graph(rt, built, NULL, &ma), MR_OK, mr_runtime_last_error(rt), NULL);
    if (imported)
        CHECK_STATUS(mr_model_from_graph(rt, imported, NULL, &mb), MR_OK, mr_runtime_last_error(rt),
                     NULL);
    if (ma && mb) {
        outputs oa, ob;
        int ok = run_model(ma, 5, &oa) && run_model(mb, 5, &ob);
        CHECK_MSG(ok, "running the attribute graph: %s", mr_runtime_last_error(rt));
        if (ok) {
            CHECK(same_outputs(&oa, &ob));
            /* Not a degenerate graph: Clip bounds some values, others pass. */
            const float *c = oa.t[0].data;
            int clipped = 0;
            for (int i = 0; i < 4; i++) clipped += c[i] == -0.1f;
            CHECK(clipped < 4 && ((const float *)oa.t[1].data)[0] == c[2]);
        }
        outputs_free(&oa);
        outputs_free(&ob);
    }
    mr_model_destroy(ma);
    mr_model_destroy(mb);
    if (have_python_onnx) python_check(path);
    unlink(path);
}

/* ---- errors ---- */

static void test_errors(void) {
    char path[128], errbuf[512];
    tmp_path(path, sizeof path, "err.onnx");

    mr_status st = mr_zoo_export_onnx("resnet19", path, errbuf, sizeof errbuf);
    CHECK_STATUS(st, MR_ERR_NOT_FOUND, errbuf, "unknown zoo model 'resnet19'");
    CHECK(!file_exists(path));
    CHECK(mr_zoo_export_onnx("resnet19", path, NULL, 0) == MR_ERR_NOT_FOUND);
    CHECK_STATUS(mr_zoo_export_onnx(NULL, path, errbuf, sizeof errbuf), MR_ERR_INVALID_ARG, errbuf,
                 "NULL");
    CHECK_STATUS(mr_zoo_export_onnx("cifarnet", NULL, errbuf, sizeof errbuf), MR_ERR_INVALID_ARG,
                 errbuf, "NULL");

    /* Unwritable paths: a missing directory, a directory. */
    st = mr_zoo_export_onnx("cifarnet", "/nonexistent-dir/x.onnx", errbuf, sizeof errbuf);
    CHECK_STATUS(st, MR_ERR_IO, errbuf, "cannot write '/nonexistent-dir/x.onnx'");
    CHECK_STATUS(mr_zoo_export_onnx("cifarnet", tmpdir, errbuf, sizeof errbuf), MR_ERR_IO, errbuf,
                 "cannot write");

    /* A write that fails part-way (no space left): a full-device node of our own when we may
     * create one, else /dev/full. Neither is a regular file, so neither may be removed. */
    char full[128];
    tmp_path(full, sizeof full, "full");
    const char *dev = "/dev/full";
    if (mknod(full, S_IFCHR | 0600, makedev(1, 7)) == 0) {
        FILE *f = fopen(full, "wb"); /* fails on a nodev mount */
        if (f) {
            fclose(f);
            dev = full;
        }
    }
    if (file_exists(dev)) {
        st = mr_zoo_export_onnx("cifarnet", dev, errbuf, sizeof errbuf);
        CHECK_STATUS(st, MR_ERR_IO, errbuf, "No space left");
        CHECK_MSG(file_exists(dev), "%s was removed", dev);
    }
    unlink(full);

    /* A graph that is already finalised would export the fused, folded graph: refused. */
    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = NULL;
    CHECK_STATUS(mr_zoo_build("cifarnet", &g, &err), MR_OK, err.msg, NULL);
    if (g) {
        CHECK_STATUS(mr_graph_finalize(g, 1, &err), MR_OK, err.msg, NULL);
        CHECK_STATUS(mr_onnx_export(g, "cifarnet", NULL, path, &err), MR_ERR_INVALID_ARG, err.msg,
                     "already finalised");
        CHECK(!file_exists(path));
        mr_graph_destroy(g);
    }

    /* An attribute ONNX files can hold but the IR keeps only by name (a graph). */
    g = build_attr_graph(&err);
    if (g) {
        int gather = -1;
        for (int i = 0; i < g->n_nodes; i++)
            if (strcmp(g->nodes[i].name, "gather") == 0) gather = i;
        CHECK(mr_node_add_attr(g, gather, "body", MR_ATTR_OTHER, &err) != NULL);
        /* Gather refuses the unknown attribute during shape inference, before the exporter's
         * own check; either way the message names the node and the attribute. */
        mr_err_clear(&err);
        st = mr_onnx_export(g, "attrs", NULL, path, &err);
        CHECK(st != MR_OK);
        CHECK_MSG(strstr(err.msg, "gather") && strstr(err.msg, "body"), "message: %s", err.msg);
        CHECK(!file_exists(path));
        mr_graph_destroy(g);
    }

    /* A graph that does not pass shape inference: the message says what was exported. */
    g = build_attr_graph(&err);
    if (g) {
        int reshape = -1;
        for (int i = 0; i < g->n_nodes; i++)
            if (strcmp(g->nodes[i].name, "c_ints") == 0) reshape = i;
        g->nodes[reshape].attrs[0].ints[1] = 5; /* [1,5] cannot hold 4 elements */
        mr_err_clear(&err);
        st = mr_onnx_export(g, "attrs", NULL, path, &err);
        CHECK_STATUS(st, MR_ERR_SHAPE, err.msg, "cannot export 'attrs'");
        CHECK(!file_exists(path));
        mr_graph_destroy(g);
    }
}

/* ---- the CLI ---- */

/* One CLI run into r (freeing what r held). */
static void run_cli(const char *cli, const char *args, mr_test_run *r) {
    mr_test_run_free(r);
    *r = mr_test_run_cli(tmpdir, "", cli, args);
}

static void test_cli(void) {
    const char *cli = mr_test_env("MIRIAM_CLI", NULL);
    if (!cli) {
        printf("  MIRIAM_CLI is not set: CLI checks skipped\n");
        return;
    }
    char path[128], args[512];
    mr_test_run run = {0, NULL, NULL}, *r = &run;
    tmp_path(path, sizeof path, "cli.onnx");
    snprintf(args, sizeof args, "export zoo:cifarnet '%s'", path);
    run_cli(cli, args, r);
    CHECK_MSG(r->rc == 0 && file_exists(path), "miriam %s: exit %d, %s", args, r->rc, r->err);
    snprintf(args, sizeof args, "info '%s'", path);
    run_cli(cli, args, r);
    CHECK_MSG(r->rc == 0 && strstr(r->out, "parameters:        62006") && strstr(r->out, "logits"),
              "miriam %s: exit %d\n%s%s", args, r->rc, r->out, r->err);
    unlink(path);

    static const struct {
        const char *args, *needle;
    } bad[] = {
        {"export zoo:nope /tmp/miriam-export-never.onnx", "unknown zoo model 'nope'"},
        {"export zoo:cifarnet /nonexistent-dir/x.onnx", "cannot write '/nonexistent-dir/x.onnx'"},
        {"export model.onnx out.onnx", "not a zoo model"},
        {"export zoo:cifarnet", "expects zoo:NAME and an output"},
        {"export zoo:cifarnet a.onnx b.onnx", "unexpected argument 'b.onnx'"},
        {"export --frobnicate", "unknown option '--frobnicate'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_cli(cli, bad[i].args, r);
        CHECK_MSG(r->rc == 1 && strncmp(r->err, "miriam: error: ", 15) == 0 &&
                      strstr(r->err, bad[i].needle),
                  "miriam %s: exit %d, stderr: %s", bad[i].args, r->rc, r->err);
    }
    run_cli(cli, "export --help", r);
    CHECK(r->rc == 0 && strstr(r->out, "usage: miriam export zoo:NAME OUT.onnx"));
    run_cli(cli, "--help", r);
    CHECK(r->rc == 0 && strstr(r->out, "export"));
    mr_test_run_free(r);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/miriam_export_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    int st = system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1");
    have_python_onnx = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!have_python_onnx)
        printf("  /usr/bin/python3 cannot import onnx: onnx.checker validation skipped\n");

    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CPU;
    p.n_threads = 2;
    mr_runtime *rt = NULL;
    char errbuf[512];
    if (mr_runtime_create(&p, &rt, errbuf, sizeof errbuf) != MR_OK) {
        fprintf(stderr, "runtime: %s\n", errbuf);
        return 1;
    }
    test_errors();
    test_attr_graph(rt);
    test_model_proto();
    /* MIRIAM_ZOO_ONLY=name: that model alone (scripts/test-valgrind.sh: a full-size zoo under
     * memcheck takes too long; one model covers the same export and import code). */
    const char *only = getenv("MIRIAM_ZOO_ONLY");
    for (int i = 0; mr_zoo_name(i); i++)
        if (!only || !*only || strcmp(only, mr_zoo_name(i)) == 0)
            test_zoo_model(rt, mr_zoo_name(i));
    test_cli();
    mr_runtime_destroy(rt);
    rmdir(tmpdir);
    return mr_test_finish("export");
}
