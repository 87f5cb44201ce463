/* ONNX importer: a valid model imports into the expected graph and runs; every kind of bad
 * input (empty, random, truncated, inconsistent, unsupported) returns the right status with a
 * message naming the culprit, without crashing, over-allocating or leaking (run under ASan).
 *
 * Models are built in memory with the protobuf-c bindings and packed, so each test controls
 * exactly one defect. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graph/ir.h"
#include "model.h"
#include "onnx/onnx.pb-c.h"
#include "onnx/onnx_import.h"
#include "testutil.h"

/* ---- protobuf message builder: every allocation is recorded and released at once ---- */

typedef struct pool {
    void **p;
    int n, cap;
} pool;
static pool P;

static void *palloc(size_t size) {
    if (P.n == P.cap) {
        P.cap = P.cap ? 2 * P.cap : 256;
        P.p = realloc(P.p, sizeof(void *) * (size_t)P.cap);
    }
    void *q = calloc(1, size ? size : 1);
    P.p[P.n++] = q;
    return q;
}
static void pool_free(void) {
    for (int i = 0; i < P.n; i++) free(P.p[i]);
    free(P.p);
    memset(&P, 0, sizeof P);
}
static char *pstr(const char *s) {
    char *c = palloc(strlen(s) + 1);
    strcpy(c, s);
    return c;
}
/* Appends `item` to a protobuf repeated field (arrays are grown by copying into the pool). */
#define PUSH(arr, n, item)                                                                         \
    do {                                                                                           \
        void *grown_ = palloc(sizeof(*(arr)) * ((n) + 1));                                         \
        if (n) memcpy(grown_, (arr), sizeof(*(arr)) * (n));                                        \
        (arr) = grown_;                                                                            \
        (arr)[(n)++] = (item);                                                                     \
    } while (0)

static Onnx__ModelProto *new_model(int64_t opset) {
    Onnx__ModelProto *m = palloc(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->graph = palloc(sizeof *m->graph);
    onnx__graph_proto__init(m->graph);
    m->graph->name = pstr("g");
    if (opset > 0) {
        Onnx__OperatorSetIdProto *os = palloc(sizeof *os);
        onnx__operator_set_id_proto__init(os);
        os->domain = pstr("");
        os->has_version = 1;
        os->version = opset;
        PUSH(m->opset_import, m->n_opset_import, os);
    }
    return m;
}

static Onnx__TensorProto *new_tensor(const char *name, int32_t type, int ndim,
                                     const int64_t *dims) {
    Onnx__TensorProto *t = palloc(sizeof *t);
    onnx__tensor_proto__init(t);
    if (name) t->name = pstr(name);
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)ndim;
    t->dims = palloc(sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
    if (ndim) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndim);
    return t;
}
static void tensor_floats(Onnx__TensorProto *t, size_t n, const float *v) {
    t->n_float_data = n;
    t->float_data = palloc(sizeof(float) * (n ? n : 1));
    if (n) memcpy(t->float_data, v, sizeof(float) * n);
}
static void tensor_raw(Onnx__TensorProto *t, size_t len, const void *bytes) {
    t->has_raw_data = 1;
    t->raw_data.len = len;
    t->raw_data.data = palloc(len);
    if (len) memcpy(t->raw_data.data, bytes, len);
}

static void add_init(Onnx__ModelProto *m, Onnx__TensorProto *t) {
    PUSH(m->graph->initializer, m->graph->n_initializer, t);
}

static Onnx__ValueInfoProto *value_info(const char *name, int32_t elem, int ndim,
                                        const int64_t *dims, const char *sym) {
    Onnx__ValueInfoProto *vi = palloc(sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = pstr(name);
    if (elem < 0) return vi; /* no type */
    Onnx__TypeProto *tp = palloc(sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = palloc(sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    if (ndim >= 0) {
        tt->shape = palloc(sizeof *tt->shape);
        onnx__tensor_shape_proto__init(tt->shape);
        for (int i = 0; i < ndim; i++) {
            Onnx__TensorShapeProto__Dimension *d = palloc(sizeof *d);
            onnx__tensor_shape_proto__dimension__init(d);
            if (dims[i] < 0 && sym) {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                d->dim_param = pstr(sym);
            } else {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = dims[i];
            }
            PUSH(tt->shape->dim, tt->shape->n_dim, d);
        }
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}
static void add_input(Onnx__ModelProto *m, const char *name, int32_t elem, int ndim,
                      const int64_t *dims) {
    PUSH(m->graph->input, m->graph->n_input, value_info(name, elem, ndim, dims, "batch"));
}
static void add_output(Onnx__ModelProto *m, const char *name) {
    PUSH(m->graph->output, m->graph->n_output,
         value_info(name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, -1, NULL, NULL));
}

/* ins/outs: comma-free arrays of names ("" = omitted). */
static Onnx__NodeProto *add_node(Onnx__ModelProto *m, const char *op, const char *name, int n_in,
                                 const char *const *ins, int n_out, const char *const *outs) {
    Onnx__NodeProto *n = palloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = pstr(op);
    if (name) n->name = pstr(name);
    for (int i = 0; i < n_in; i++) PUSH(n->input, n->n_input, pstr(ins[i]));
    for (int i = 0; i < n_out; i++) PUSH(n->output, n->n_output, pstr(outs[i]));
    PUSH(m->graph->node, m->graph->n_node, n);
    return n;
}
static Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name,
                                      Onnx__AttributeProto__AttributeType type) {
    Onnx__AttributeProto *a = palloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = pstr(name);
    a->has_type = 1;
    a->type = type;
    PUSH(n->attribute, n->n_attribute, a);
    return a;
}

static uint8_t *pack(const Onnx__ModelProto *m, size_t *size) {
    *size = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = palloc(*size);
    onnx__model_proto__pack(m, buf);
    return buf;
}

/* Y = Relu(X + W), X: float[2,3] input, W: float[2,3] initializer. */
static const float W_VALUES[6] = {0.5f, -1.5f, 2.0f, -0.25f, 1.0f, -3.0f};
static Onnx__ModelProto *base_model(void) {
    Onnx__ModelProto *m = new_model(13);
    static const int64_t dims[2] = {2, 3};
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    Onnx__TensorProto *w = new_tensor("W", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    tensor_floats(w, 6, W_VALUES);
    add_init(m, w);
    static const char *const add_in[] = {"X", "W"}, *const add_out[] = {"S"};
    add_node(m, "Add", "add0", 2, add_in, 1, add_out);
    static const char *const relu_in[] = {"S"}, *const relu_out[] = {"Y"};
    add_node(m, "Relu", "relu0", 1, relu_in, 1, relu_out);
    add_output(m, "Y");
    return m;
}

/* ---- helpers running the importer directly and through the public API ---- */

static mr_status import_model(const Onnx__ModelProto *m, mr_graph **g, mr_err *err) {
    size_t size;
    uint8_t *buf = pack(m, &size);
    mr_err_clear(err);
    return mr_onnx_import(buf, size, 1, g, err);
}

/* Imports through the direct entry point and expects `want` with `needle` in the message. */
static void expect_import(const Onnx__ModelProto *m, mr_status want, const char *needle,
                          const char *needle2) {
    mr_err err;
    mr_graph *g = (mr_graph *)1;
    mr_status st = import_model(m, &g, &err);
    CHECK_STATUS(st, want, err.msg, needle);
    if (needle2) CHECK_STATUS(st, want, err.msg, needle2);
    if (st == MR_OK)
        mr_graph_destroy(g);
    else
        CHECK(g == NULL);
}

/* Loads through the public API and expects `want`. */
static void expect_load(mr_runtime *rt, const void *buf, size_t size, mr_status want,
                        const char *needle, const char *needle2) {
    mr_model *model = (mr_model *)1;
    mr_status st = mr_model_load_buffer(rt, buf, size, NULL, &model);
    const char *msg = mr_runtime_last_error(rt);
    CHECK_STATUS(st, want, msg, needle);
    if (needle2) CHECK_STATUS(st, want, msg, needle2);
    if (st == MR_OK)
        mr_model_destroy(model);
    else
        CHECK(model == NULL);
}
static void expect_load_model(mr_runtime *rt, const Onnx__ModelProto *m, mr_status want,
                              const char *needle, const char *needle2) {
    size_t size;
    uint8_t *buf = pack(m, &size);
    expect_load(rt, buf, size, want, needle, needle2);
}

/* ---- tests ---- */

static void test_valid_model(mr_runtime *rt) {
    Onnx__ModelProto *m = base_model();
    /* An initializer also listed as a graph input (older exporters) stays a constant. */
    static const int64_t dims[2] = {2, 3};
    add_input(m, "W", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    mr_err err;
    mr_graph *g = NULL;
    mr_status st = import_model(m, &g, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st != MR_OK) return;
    CHECK(g->opset == 13);
    CHECK(g->n_inputs == 1 && g->n_outputs == 1 && g->n_nodes == 2);
    const mr_tensor_desc *x = &g->tensors[g->inputs[0]];
    CHECK(strcmp(x->name, "X") == 0 && x->is_input && x->dtype == MR_DTYPE_F32);
    CHECK(x->ndim == 2 && x->dims[0] == 2 && x->dims[1] == 3 && !x->data);
    int w = mr_graph_find_tensor(g, "W");
    CHECK(w >= 0 && g->tensors[w].data && !g->tensors[w].is_input);
    if (w >= 0 && g->tensors[w].data)
        CHECK(memcmp(g->tensors[w].data, W_VALUES, sizeof W_VALUES) == 0);
    CHECK(strcmp(g->tensors[g->outputs[0]].name, "Y") == 0);
    CHECK(g->tensors[g->outputs[0]].is_output);
    CHECK(strcmp(g->nodes[0].op_type, "Add") == 0 && strcmp(g->nodes[0].name, "add0") == 0);
    CHECK(g->nodes[0].n_in == 2 && g->nodes[0].in[0] == g->inputs[0] && g->nodes[0].in[1] == w);
    CHECK(g->nodes[1].in[0] == g->nodes[0].out[0]);
    CHECK(g->nodes[1].out[0] == g->outputs[0]);
    mr_graph_destroy(g);

    /* Through the public API: Y = relu(X + W). */
    size_t size;
    uint8_t *buf = pack(m, &size);
    mr_model *model = NULL;
    st = mr_model_load_buffer(rt, buf, size, NULL, &model);
    CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
    if (st != MR_OK) return;
    CHECK(mr_model_n_inputs(model) == 1 && mr_model_n_outputs(model) == 1);
    float xin[6], y[6];
    mr_rng rng;
    mr_rng_seed(&rng, 7);
    mr_rng_fill(&rng, xin, 6, -2.0f, 2.0f);
    mr_tensor in = {MR_DTYPE_F32, 2, {2, 3}, xin};
    mr_tensor out = {MR_DTYPE_F32, 2, {2, 3}, y};
    st = mr_model_run(model, 1, &in, 1, &out);
    CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
    for (int i = 0; i < 6 && st == MR_OK; i++) {
        float s = xin[i] + W_VALUES[i];
        CHECK_MSG(y[i] == (s > 0 ? s : 0), "y[%d] = %g, want %g", i, y[i], s > 0 ? s : 0);
    }
    mr_model_destroy(model);
}

static void test_typed_and_raw_data(void) {
    Onnx__ModelProto *m = new_model(13);
    static const int64_t d3[1] = {3}, d2[2] = {1, 2};
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, d3);
    /* float through raw_data (little-endian), int64 through raw_data and int64_data, int32
     * through int32_data, an empty tensor and a scalar. */
    Onnx__TensorProto *a = new_tensor("a", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, d3);
    static const uint8_t a_raw[12] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0x40, 0x40};
    tensor_raw(a, sizeof a_raw, a_raw); /* 1, -2, 3 */
    add_init(m, a);
    Onnx__TensorProto *b = new_tensor("b", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 2, d2);
    static const uint8_t b_raw[16] = {5,    0,    0,    0,    0,    0,    0,    0,
                                      0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; /* 5, -2 */
    tensor_raw(b, sizeof b_raw, b_raw);
    add_init(m, b);
    Onnx__TensorProto *c = new_tensor("c", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, d3);
    static int64_t c_vals[3] = {-1, 0, INT64_MAX};
    c->n_int64_data = 3;
    c->int64_data = c_vals;
    add_init(m, c);
    Onnx__TensorProto *d = new_tensor("d", ONNX__TENSOR_PROTO__DATA_TYPE__INT32, 1, d3);
    static int32_t d_vals[3] = {7, -8, 9};
    d->n_int32_data = 3;
    d->int32_data = d_vals;
    add_init(m, d);
    static const int64_t d0[1] = {0};
    add_init(m, new_tensor("e", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, d0));
    Onnx__TensorProto *s = new_tensor("s", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL);
    static const float s_val = 4.5f;
    tensor_floats(s, 1, &s_val);
    add_init(m, s);
    static const char *const in[] = {"X", "a"}, *const out[] = {"Y"};
    add_node(m, "Add", NULL, 2, in, 1, out); /* unnamed: gets a synthetic name */
    add_output(m, "Y");

    mr_err err;
    mr_graph *g = NULL;
    mr_status st = import_model(m, &g, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st != MR_OK) return;
    const mr_tensor_desc *t = &g->tensors[mr_graph_find_tensor(g, "a")];
    static const float a_want[3] = {1, -2, 3};
    CHECK(t->dtype == MR_DTYPE_F32 && memcmp(t->data, a_want, sizeof a_want) == 0);
    t = &g->tensors[mr_graph_find_tensor(g, "b")];
    static const int64_t b_want[2] = {5, -2};
    CHECK(t->dtype == MR_DTYPE_I64 && t->ndim == 2 && memcmp(t->data, b_want, 16) == 0);
    t = &g->tensors[mr_graph_find_tensor(g, "c")];
    CHECK(t->dtype == MR_DTYPE_I64 && memcmp(t->data, c_vals, sizeof c_vals) == 0);
    t = &g->tensors[mr_graph_find_tensor(g, "d")];
    CHECK(t->dtype == MR_DTYPE_I32 && memcmp(t->data, d_vals, sizeof d_vals) == 0);
    t = &g->tensors[mr_graph_find_tensor(g, "e")];
    CHECK(t->ndim == 1 && t->dims[0] == 0);
    t = &g->tensors[mr_graph_find_tensor(g, "s")];
    CHECK(t->ndim == 0 && *(const float *)t->data == 4.5f);
    CHECK(strcmp(g->nodes[0].name, "Add_0") == 0);
    mr_graph_destroy(g);
}

static void test_attributes(void) {
    Onnx__ModelProto *m = new_model(13);
    static const int64_t dims[2] = {-1, 4}; /* symbolic batch -> default_dim */
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    static const char *const in[] = {"X", ""}, *const out[] = {"Y", ""};
    Onnx__NodeProto *n = add_node(m, "Custom", "n", 2, in, 2, out);
    Onnx__AttributeProto *a = add_attr(n, "i", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = -42;
    a = add_attr(n, "f", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = 0.25f;
    a = add_attr(n, "s", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)pstr("SAME_UPPER");
    a->s.len = 10;
    a = add_attr(n, "is", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    static int64_t ints[3] = {1, -2, 3};
    a->n_ints = 3;
    a->ints = ints;
    a = add_attr(n, "fs", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    static float floats[2] = {1.5f, -0.5f};
    a->n_floats = 2;
    a->floats = floats;
    a = add_attr(n, "ss", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    static ProtobufCBinaryData strs[2] = {{1, (uint8_t *)"f"}, {4, (uint8_t *)"tanh"}};
    a->n_strings = 2;
    a->strings = strs;
    a = add_attr(n, "t", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    static const int64_t td[1] = {2};
    a->t = new_tensor(NULL, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, td);
    static const float tv[2] = {3.0f, 4.0f};
    tensor_floats(a->t, 2, tv);
    a = add_attr(n, "g", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    a->g = palloc(sizeof *a->g);
    onnx__graph_proto__init(a->g);
    /* An IR-version-1 style attribute without a type: inferred from the field present. */
    a = add_attr(n, "untyped", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED);
    a->has_type = 0;
    a->has_i = 1;
    a->i = 5;
    add_output(m, "Y");

    mr_err err;
    mr_graph *g = NULL;
    size_t size;
    uint8_t *buf = pack(m, &size);
    mr_status st = mr_onnx_import(buf, size, 3, &g, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st != MR_OK) return;
    const mr_tensor_desc *x = &g->tensors[g->inputs[0]];
    CHECK(x->ndim == 2 && x->dims[0] == 3 && x->dims[1] == 4);
    const mr_node *nd = &g->nodes[0];
    CHECK(nd->n_in == 2 && nd->in[1] == -1 && nd->n_out == 2 && nd->out[1] == -1);
    const mr_attr *at = mr_node_attr(nd, "i");
    CHECK(at && at->type == MR_ATTR_INT && at->i == -42);
    at = mr_node_attr(nd, "f");
    CHECK(at && at->type == MR_ATTR_FLOAT && at->f == 0.25f);
    at = mr_node_attr(nd, "s");
    CHECK(at && at->type == MR_ATTR_STRING && strcmp(at->s, "SAME_UPPER") == 0);
    at = mr_node_attr(nd, "is");
    CHECK(at && at->type == MR_ATTR_INTS && at->n == 3 && at->ints[1] == -2);
    at = mr_node_attr(nd, "fs");
    CHECK(at && at->type == MR_ATTR_FLOATS && at->n == 2 && at->floats[0] == 1.5f);
    at = mr_node_attr(nd, "ss");
    CHECK(at && at->type == MR_ATTR_STRINGS && at->n == 2 && strcmp(at->strings[1], "tanh") == 0);
    at = mr_node_attr(nd, "t");
    CHECK(at && at->type == MR_ATTR_TENSOR && at->tensor >= 0);
    if (at && at->tensor >= 0) {
        const mr_tensor_desc *t = &g->tensors[at->tensor];
        CHECK(t->data && t->ndim == 1 && t->dims[0] == 2 && ((const float *)t->data)[1] == 4.0f);
        CHECK(!t->is_input && !t->is_output);
    }
    at = mr_node_attr(nd, "g");
    CHECK(at && at->type == MR_ATTR_OTHER);
    at = mr_node_attr(nd, "untyped");
    CHECK(at && at->type == MR_ATTR_INT && at->i == 5);
    mr_graph_destroy(g);
}

static void test_empty_and_random(mr_runtime *rt) {
    mr_err err;
    mr_graph *g = (mr_graph *)1;
    static const uint8_t dummy[1] = {0};
    mr_status st = mr_onnx_import(dummy, 0, 1, &g, &err);
    CHECK_STATUS(st, MR_ERR_PARSE, err.msg, "empty");
    CHECK(g == NULL);
    expect_load(rt, dummy, 0, MR_ERR_PARSE, "empty", NULL);
    st = mr_onnx_import(NULL, 0, 1, &g, &err);
    CHECK_STATUS(st, MR_ERR_PARSE, err.msg, NULL);

    /* Random bytes: protobuf-c rejects most; the rest decode to a message with no graph or
     * no opset (random field numbers are unknown fields, skipped). */
    mr_rng rng;
    mr_rng_seed(&rng, 12345);
    uint8_t buf[1024];
    int parse_errors = 0;
    for (int iter = 0; iter < 500; iter++) {
        size_t len = 1 + mr_rng_u64(&rng) % sizeof buf;
        for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)mr_rng_u64(&rng);
        g = NULL;
        mr_err_clear(&err);
        st = mr_onnx_import(buf, len, 1, &g, &err);
        CHECK_MSG(st == MR_ERR_PARSE && err.msg[0] && !g, "random #%d: status %s: %s", iter,
                  mr_status_str(st), err.msg);
        parse_errors += st == MR_ERR_PARSE;
        if (g) mr_graph_destroy(g);
        if (iter % 50 == 0) expect_load(rt, buf, len, MR_ERR_PARSE, NULL, NULL);
    }
    CHECK(parse_errors == 500);
}

static void test_truncated(mr_runtime *rt) {
    size_t size;
    uint8_t *full = pack(base_model(), &size);
    for (size_t len = 0; len < size; len++) {
        uint8_t *buf = malloc(len ? len : 1); /* exact size so ASan sees any over-read */
        memcpy(buf, full, len);
        mr_err err;
        mr_err_clear(&err);
        mr_graph *g = NULL;
        mr_status st = mr_onnx_import(buf, len, 1, &g, &err);
        CHECK_MSG(st == MR_ERR_PARSE && err.msg[0] && !g, "truncated at %zu of %zu: %s: %s", len,
                  size, mr_status_str(st), err.msg);
        if (g) mr_graph_destroy(g);
        if (len % 16 == 0) expect_load(rt, buf, len, MR_ERR_PARSE, NULL, NULL);
        free(buf);
    }
}

/* Byte mutations of a valid model reach the validation behind the protobuf parser (bad sizes,
 * names, types): whatever the outcome, it is a status with a message, never a crash or leak. */
static void test_mutated(mr_runtime *rt) {
    Onnx__ModelProto *m = base_model();
    static const char *const in[] = {"Y"}, *const out[] = {"Z"};
    Onnx__NodeProto *n = add_node(m, "Flatten", "flat", 1, in, 1, out);
    Onnx__AttributeProto *a = add_attr(n, "axis", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = 1;
    m->graph->output[0]->name = pstr("Z");
    size_t size;
    uint8_t *orig = pack(m, &size);
    mr_rng rng;
    mr_rng_seed(&rng, 99);
    int ok = 0, bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        uint8_t *buf = malloc(size);
        memcpy(buf, orig, size);
        int flips = 1 + (int)(mr_rng_u64(&rng) % 4);
        for (int f = 0; f < flips; f++) {
            size_t pos = mr_rng_u64(&rng) % size;
            buf[pos] = (mr_rng_u64(&rng) & 1) ? (uint8_t)mr_rng_u64(&rng) : buf[pos] ^ 0x01;
        }
        mr_model *model = NULL;
        mr_status st = mr_model_load_buffer(rt, buf, size, NULL, &model);
        if (st == MR_OK) {
            ok++;
            mr_model_destroy(model);
        } else {
            bad++;
            CHECK_MSG(mr_runtime_last_error(rt)[0] && !model, "mutation %d: %s without message",
                      iter, mr_status_str(st));
        }
        free(buf);
    }
    CHECK(ok + bad == 3000 && bad > 0);
    printf("mutations: %d loaded, %d rejected\n", ok, bad);
}

static void test_graph_errors(mr_runtime *rt) {
    static const int64_t dims[2] = {2, 3};
    /* A cycle: S = X + T, T = Relu(S). */
    Onnx__ModelProto *m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    static const char *const add_in[] = {"X", "T"}, *const add_out[] = {"S"};
    add_node(m, "Add", "add0", 2, add_in, 1, add_out);
    static const char *const relu_in[] = {"S"}, *const relu_out[] = {"T"};
    add_node(m, "Relu", "relu0", 1, relu_in, 1, relu_out);
    add_output(m, "T");
    expect_load_model(rt, m, MR_ERR_GRAPH, "cycle", NULL);

    /* A dangling input. */
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    static const char *const d_in[] = {"X", "nowhere"}, *const d_out[] = {"Y"};
    add_node(m, "Add", "add0", 2, d_in, 1, d_out);
    add_output(m, "Y");
    expect_import(m, MR_ERR_GRAPH, "nowhere", "add0");
    expect_load_model(rt, m, MR_ERR_GRAPH, "nowhere", "add0");

    /* An output nothing produces. */
    m = base_model();
    add_output(m, "Z");
    expect_import(m, MR_ERR_GRAPH, "'Z'", NULL);

    /* No outputs at all. */
    m = base_model();
    m->graph->n_output = 0;
    expect_import(m, MR_ERR_GRAPH, "no outputs", NULL);

    /* A tensor produced twice, an initializer overwritten by a node, a duplicate initializer. */
    m = base_model();
    static const char *const r_in[] = {"X"}, *const r_out[] = {"S"};
    add_node(m, "Relu", "again", 1, r_in, 1, r_out);
    expect_import(m, MR_ERR_PARSE, "'S'", "again");
    m = base_model();
    static const char *const w_out[] = {"W"};
    add_node(m, "Relu", "clobber", 1, r_in, 1, w_out);
    expect_import(m, MR_ERR_PARSE, "'W'", "clobber");
    m = base_model();
    Onnx__TensorProto *w2 = new_tensor("W", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    tensor_floats(w2, 6, W_VALUES);
    add_init(m, w2);
    expect_import(m, MR_ERR_PARSE, "'W'", "twice");
    m = base_model();
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    expect_import(m, MR_ERR_PARSE, "'X'", "twice");
}

static void test_unsupported(mr_runtime *rt) {
    static const int64_t dims[2] = {2, 3};
    static const char *const in1[] = {"X"}, *const out1[] = {"Y"};

    /* An operator nobody implements: named with its node. */
    Onnx__ModelProto *m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    add_node(m, "FancyOp", "fancy_node", 1, in1, 1, out1);
    add_output(m, "Y");
    expect_load_model(rt, m, MR_ERR_UNSUPPORTED, "FancyOp", "fancy_node");

    /* An attribute a supported op does not know. */
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    Onnx__NodeProto *n = add_node(m, "Relu", "r", 1, in1, 1, out1);
    Onnx__AttributeProto *a = add_attr(n, "bogus_attr", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    add_output(m, "Y");
    expect_load_model(rt, m, MR_ERR_UNSUPPORTED, "bogus_attr", NULL);

    /* Another domain. */
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    n = add_node(m, "Gelu", "ms_gelu", 1, in1, 1, out1);
    n->domain = pstr("com.microsoft");
    add_output(m, "Y");
    expect_import(m, MR_ERR_UNSUPPORTED, "com.microsoft", "ms_gelu");
    expect_load_model(rt, m, MR_ERR_UNSUPPORTED, "Gelu", "com.microsoft");

    /* Opsets: too new, missing, and "ai.onnx" as the default domain's other name. */
    m = base_model();
    m->opset_import[0]->version = 18;
    expect_import(m, MR_ERR_UNSUPPORTED, "opset 18", "opset_version=17");
    m = base_model();
    m->n_opset_import = 0;
    expect_import(m, MR_ERR_PARSE, "opset", NULL);
    m = base_model();
    m->opset_import[0]->domain = pstr("ai.onnx");
    m->opset_import[0]->version = 11;
    mr_err err;
    mr_graph *g = NULL;
    CHECK_STATUS(import_model(m, &g, &err), MR_OK, err.msg, NULL);
    if (g) CHECK(g->opset == 11);
    mr_graph_destroy(g);

    /* Data types we do not handle, in an initializer and in a graph input. */
    m = base_model();
    Onnx__TensorProto *t = new_tensor("dbl", ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, 2, dims);
    static double dv[6] = {1, 2, 3, 4, 5, 6};
    t->n_double_data = 6;
    t->double_data = dv;
    add_init(m, t);
    expect_import(m, MR_ERR_UNSUPPORTED, "'dbl'", "DOUBLE");
    expect_load_model(rt, m, MR_ERR_UNSUPPORTED, "'dbl'", "DOUBLE");
    m = base_model();
    add_init(m, new_tensor("h", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, 2, dims));
    expect_import(m, MR_ERR_UNSUPPORTED, "'h'", "FLOAT16");
    m = base_model();
    add_input(m, "flag", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 2, dims);
    expect_import(m, MR_ERR_UNSUPPORTED, "'flag'", "BOOL");
    m = base_model();
    Onnx__ValueInfoProto *vi =
        value_info("seq", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, dims, NULL);
    vi->type->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    vi->type->sequence_type = palloc(sizeof *vi->type->sequence_type);
    onnx__type_proto__sequence__init(vi->type->sequence_type);
    PUSH(m->graph->input, m->graph->n_input, vi);
    expect_import(m, MR_ERR_UNSUPPORTED, "'seq'", NULL);
    m = base_model();
    PUSH(m->graph->input, m->graph->n_input, value_info("untyped", -1, 0, NULL, NULL));
    expect_import(m, MR_ERR_PARSE, "'untyped'", NULL);

    /* External data. */
    m = base_model();
    m->graph->initializer[0]->n_float_data = 0;
    m->graph->initializer[0]->has_data_location = 1;
    m->graph->initializer[0]->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    expect_import(m, MR_ERR_UNSUPPORTED, "'W'", "external");
}

static void test_bad_tensors(mr_runtime *rt) {
    static const int64_t dims[2] = {2, 3};
    /* raw_data of the wrong length. */
    Onnx__ModelProto *m = base_model();
    Onnx__TensorProto *w = m->graph->initializer[0];
    w->n_float_data = 0;
    static const uint8_t raw[20] = {0};
    tensor_raw(w, sizeof raw, raw);
    expect_import(m, MR_ERR_PARSE, "'W'", "raw_data");
    expect_load_model(rt, m, MR_ERR_PARSE, "'W'", NULL);

    /* typed data of the wrong count; no data at all. */
    m = base_model();
    m->graph->initializer[0]->n_float_data = 5;
    expect_import(m, MR_ERR_PARSE, "'W'", NULL);
    m = base_model();
    m->graph->initializer[0]->n_float_data = 0;
    expect_import(m, MR_ERR_PARSE, "'W'", NULL);

    /* 2^40 elements declared with a few bytes of data: rejected from the sizes alone, before
     * anything of that size is allocated (ASan would abort on such a request). */
    static const int64_t huge[2] = {1 << 20, 1 << 20};
    m = base_model();
    add_init(m, new_tensor("huge", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, huge));
    expect_import(m, MR_ERR_PARSE, "'huge'", NULL);
    expect_load_model(rt, m, MR_ERR_PARSE, "'huge'", NULL);
    /* The same as a graph input: imports, but the model cannot be planned. */
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, huge);
    static const char *const in1[] = {"X"}, *const out1[] = {"Y"};
    add_node(m, "Relu", "r", 1, in1, 1, out1);
    add_output(m, "Y");
    expect_import(m, MR_OK, NULL, NULL);
    {
        size_t size;
        uint8_t *buf = pack(m, &size);
        mr_model *model = NULL;
        mr_status st = mr_model_load_buffer(rt, buf, size, NULL, &model);
        CHECK_MSG(st != MR_OK && mr_runtime_last_error(rt)[0] && !model,
                  "2^40-element input: status %s", mr_status_str(st));
        mr_model_destroy(model);
    }

    /* Element counts that overflow int64, negative and too many dims. */
    static const int64_t overflow[3] = {1ll << 40, 1ll << 40, 1ll << 40};
    m = base_model();
    add_init(m, new_tensor("ovf", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, overflow));
    expect_import(m, MR_ERR_PARSE, "'ovf'", "overflow");
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, overflow);
    add_node(m, "Relu", "r", 1, in1, 1, out1);
    add_output(m, "Y");
    expect_import(m, MR_ERR_PARSE, "'X'", "overflow");
    static const int64_t neg[2] = {2, -3};
    m = base_model();
    add_init(m, new_tensor("neg", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, neg));
    expect_import(m, MR_ERR_PARSE, "'neg'", "negative");
    m = new_model(13);
    PUSH(m->graph->input, m->graph->n_input,
         value_info("X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, neg, NULL));
    add_node(m, "Relu", "r", 1, in1, 1, out1);
    add_output(m, "Y");
    expect_import(m, MR_ERR_PARSE, "'X'", "negative");
    static const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    m = base_model();
    Onnx__TensorProto *t9 = new_tensor("rank9", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 9, nine);
    static const float one = 1.0f;
    tensor_floats(t9, 1, &one);
    add_init(m, t9);
    expect_import(m, MR_ERR_PARSE, "'rank9'", NULL);
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 9, nine);
    add_node(m, "Relu", "r", 1, in1, 1, out1);
    add_output(m, "Y");
    expect_import(m, MR_ERR_PARSE, "'X'", NULL);

    /* A model without a graph; an initializer without a name or a data type; a node without
     * an op_type; attributes without a name or given twice. */
    m = base_model();
    m->graph = NULL;
    expect_import(m, MR_ERR_PARSE, "graph", NULL);
    m = base_model();
    m->graph->initializer[0]->has_data_type = 0;
    expect_import(m, MR_ERR_PARSE, "'W'", "data type");
    m = base_model();
    add_init(m, new_tensor(NULL, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims));
    expect_import(m, MR_ERR_PARSE, "no name", NULL);
    m = base_model();
    m->graph->node[1]->op_type = NULL;
    expect_import(m, MR_ERR_PARSE, "op_type", NULL);
    m = base_model();
    Onnx__AttributeProto *a =
        add_attr(m->graph->node[1], "", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    (void)a;
    expect_import(m, MR_ERR_PARSE, "relu0", NULL);
    m = base_model();
    add_attr(m->graph->node[1], "k", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    add_attr(m->graph->node[1], "k", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    expect_import(m, MR_ERR_PARSE, "'k'", "relu0");
    m = base_model();
    a = add_attr(m->graph->node[1], "notype", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED);
    a->has_type = 0;
    expect_import(m, MR_ERR_PARSE, "'notype'", NULL);
    /* A TENSOR attribute holding a bad tensor: the message names attribute and node. */
    m = base_model();
    a = add_attr(m->graph->node[1], "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = new_tensor(NULL, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    expect_import(m, MR_ERR_PARSE, "'value'", "relu0");
}

static void test_read_file(mr_runtime *rt) {
    mr_err err;
    void *data = NULL;
    size_t size = 1;
    mr_status st = mr_read_file("/nonexistent/dir/model.onnx", &data, &size, &err);
    CHECK_STATUS(st, MR_ERR_IO, err.msg, "/nonexistent/dir/model.onnx");
    CHECK_STATUS(st, MR_ERR_IO, err.msg, "No such file");
    CHECK(data == NULL && size == 0);
    st = mr_read_file("/tmp", &data, &size, &err);
    CHECK_STATUS(st, MR_ERR_IO, err.msg, "/tmp");
    CHECK(data == NULL);

    char path[64];
    CHECK(mr_test_tmpfile("", 0, path, sizeof path) != NULL);
    st = mr_read_file(path, &data, &size, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    CHECK(size == 0);
    free(data);
    mr_model *model = NULL;
    st = mr_model_load_file(rt, path, NULL, &model);
    CHECK_STATUS(st, MR_ERR_PARSE, mr_runtime_last_error(rt), NULL);
    CHECK(model == NULL);
    unlink(path);

    size_t msize;
    uint8_t *mbuf = pack(base_model(), &msize);
    CHECK(mr_test_tmpfile(mbuf, msize, path, sizeof path) != NULL);
    st = mr_read_file(path, &data, &size, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    CHECK(size == msize && data && memcmp(data, mbuf, msize) == 0);
    free(data);
    st = mr_model_load_file(rt, path, NULL, &model);
    CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
    mr_model_destroy(model);
    unlink(path);
    st = mr_model_load_file(rt, path, NULL, &model);
    CHECK_STATUS(st, MR_ERR_IO, mr_runtime_last_error(rt), path);
}

static void test_read_tensor(void) {
    static const int64_t dims[2] = {2, 3};
    mr_err err;
    mr_tensor t;
    char *name = NULL;
    Onnx__TensorProto *tp = new_tensor("input_0", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    tensor_floats(tp, 6, W_VALUES);
    size_t size = onnx__tensor_proto__get_packed_size(tp);
    uint8_t *buf = palloc(size);
    onnx__tensor_proto__pack(tp, buf);
    mr_status st = mr_onnx_read_tensor(buf, size, &t, &name, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st == MR_OK) {
        CHECK(t.dtype == MR_DTYPE_F32 && t.ndim == 2 && t.dims[0] == 2 && t.dims[1] == 3);
        CHECK(memcmp(t.data, W_VALUES, sizeof W_VALUES) == 0);
        CHECK(name && strcmp(name, "input_0") == 0);
        mr_tensor_free_data(&t);
        free(name);
    }
    /* Truncations of it: a clean parse error, except a cut that drops exactly the trailing
     * name field, which leaves a valid unnamed tensor. */
    for (size_t len = 0; len < size; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, buf, len);
        name = NULL;
        mr_err_clear(&err);
        st = mr_onnx_read_tensor(cut, len, &t, &name, &err);
        if (st == MR_OK) {
            CHECK_MSG(name && name[0] == '\0' && t.ndim == 2 &&
                          memcmp(t.data, W_VALUES, sizeof W_VALUES) == 0,
                      "tensor truncated at %zu decodes to something else", len);
            mr_tensor_free_data(&t);
            free(name);
        } else {
            CHECK_MSG(st == MR_ERR_PARSE && err.msg[0] && !t.data && !name,
                      "tensor truncated at %zu: %s: %s", len, mr_status_str(st), err.msg);
        }
        free(cut);
    }
    tp = new_tensor("b", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 2, dims);
    static int32_t bools[6] = {1, 0, 1, 0, 1, 1};
    tp->n_int32_data = 6;
    tp->int32_data = bools;
    size = onnx__tensor_proto__get_packed_size(tp);
    buf = palloc(size);
    onnx__tensor_proto__pack(tp, buf);
    st = mr_onnx_read_tensor(buf, size, &t, NULL, &err);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err.msg, "BOOL");
    CHECK(t.data == NULL);
}

/* An empty name omits an optional input or output; a required one omitted is a graph error
 * naming the node (a Transpose without its input used to reach the kernel with no tensor). */
static void test_omitted_required(mr_runtime *rt) {
    static const int64_t dims[2] = {2, 3};
    static const char *const none_in[] = {""}, *const y_out[] = {"Y"}, *const x_in[] = {"X"},
                             *const none_out[] = {""};
    const char *ops[] = {"Transpose", "Relu", "Softmax", "Shape"};
    for (int k = 0; k < 4; k++) {
        Onnx__ModelProto *m = new_model(13);
        add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
        add_node(m, ops[k], "n", 1, none_in, 1, y_out);
        add_node(m, "Identity", "keep_x", 1, x_in, 1, (const char *const[]){"Z"});
        add_output(m, "Y");
        add_output(m, "Z");
        expect_load_model(rt, m, MR_ERR_GRAPH, "node 'n'", "required input 0");
    }
    /* A binary op with its second operand omitted, and a node whose only output is omitted
     * (feeding nothing, but still bound). */
    Onnx__ModelProto *m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    add_node(m, "Add", "n", 2, (const char *const[]){"X", ""}, 1, y_out);
    add_output(m, "Y");
    expect_load_model(rt, m, MR_ERR_GRAPH, "node 'n'", "required input 1");
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, dims);
    add_node(m, "Relu", "n", 1, x_in, 1, none_out);
    add_node(m, "Relu", "r", 1, x_in, 1, y_out);
    add_output(m, "Y");
    expect_load_model(rt, m, MR_ERR_GRAPH, "node 'n'", "required output 0");
}

/* Shapes a file can make the loader compute: graph inputs whose byte size overflows or exceeds
 * the limit of one tensor, and constant folding (Expand, ConstantOfShape, a product) asked to
 * build such tensors. Each is refused from the shapes alone, with a message naming the tensor,
 * before anything of that size is allocated or written; the whole set takes milliseconds.
 * (The overflowing ones used to pass as tiny buffers that folding then wrote past.) */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static Onnx__TensorProto *int64_tensor(const char *name, int n, const int64_t *v) {
    const int64_t dims[1] = {n};
    Onnx__TensorProto *t = new_tensor(name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, dims);
    t->n_int64_data = (size_t)n;
    t->int64_data = palloc(sizeof(int64_t) * (size_t)n);
    memcpy(t->int64_data, v, sizeof(int64_t) * (size_t)n);
    return t;
}

static void test_untrusted_sizes(mr_runtime *rt) {
    double t0 = now_s();
    static const char *const in1[] = {"X"}, *const out1[] = {"Y"};
    /* Inputs: 2^62 float elements (the byte count overflows 64 bits); 2^61 (16 EiB, beyond the
     * limit); 0 x 2^32 x 2^32 is empty and fine. */
    static const int64_t ovf[2] = {1ll << 31, 1ll << 31}, big[2] = {1ll << 31, 1ll << 30};
    Onnx__ModelProto *m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, ovf);
    add_node(m, "Relu", "r", 1, in1, 1, out1);
    add_output(m, "Y");
    expect_load_model(rt, m, MR_ERR_UNSUPPORTED, "'X'", "overflows");
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, big);
    add_node(m, "Relu", "r", 1, in1, 1, out1);
    add_output(m, "Y");
    expect_load_model(rt, m, MR_ERR_UNSUPPORTED, "'X'", "limit");
    static const int64_t empty[3] = {0, 1ll << 32, 1ll << 32};
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, empty);
    add_node(m, "Relu", "r", 1, in1, 1, out1);
    add_output(m, "Y");
    expect_load_model(rt, m, MR_OK, NULL, NULL);

    /* Folding: Expand of a one-element constant to 2^62 elements, to 2^40, and to more than
     * 2^63 (which overflowed in Expand's prepare, called before the size was checked). */
    static const int64_t one_dim[1] = {1};
    static const float one = 1.0f;
    static const char *const exp_in[] = {"one", "shape"}, *const exp_out[] = {"Y"};
    const int64_t shapes[3][2] = {
        {1ll << 31, 1ll << 31}, {1ll << 20, 1ll << 20}, {25232932864ll, 2147483731ll}};
    for (int k = 0; k < 3; k++) {
        m = new_model(13);
        Onnx__TensorProto *o = new_tensor("one", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, one_dim);
        tensor_floats(o, 1, &one);
        add_init(m, o);
        add_init(m, int64_tensor("shape", 2, shapes[k]));
        add_node(m, "Expand", "expand", 2, exp_in, 1, exp_out);
        add_output(m, "Y");
        expect_load_model(rt, m, MR_ERR_UNSUPPORTED, "Expand node 'expand'", "'Y'");
    }
    /* ConstantOfShape of int64 with 2^61 elements (2^64 bytes), and of float with 2^40. */
    static const char *const cos_in[] = {"shape"}, *const cos_out[] = {"Y"};
    const int64_t cshapes[2][2] = {{1ll << 30, 1ll << 31}, {1ll << 20, 1ll << 20}};
    for (int k = 0; k < 2; k++) {
        m = new_model(13);
        add_init(m, int64_tensor("shape", 2, cshapes[k]));
        Onnx__NodeProto *n = add_node(m, "ConstantOfShape", "cos", 1, cos_in, 1, cos_out);
        if (k == 0) {
            Onnx__AttributeProto *a =
                add_attr(n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
            static const int64_t seven = 7;
            a->t = int64_tensor(NULL, 1, &seven);
        }
        add_output(m, "Y");
        expect_load_model(rt, m, MR_ERR_UNSUPPORTED, "ConstantOfShape node 'cos'", "'Y'");
    }
    /* A product of two small operands with a 64 GiB result (an activation, not folded). */
    static const int64_t xd[2] = {131072, 1}, wd[2] = {1, 131072};
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, xd);
    Onnx__TensorProto *w = new_tensor("W", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, wd);
    float *wv = palloc(sizeof(float) * 131072);
    tensor_floats(w, 131072, wv);
    add_init(m, w);
    static const char *const mm_in[] = {"X", "W"};
    add_node(m, "MatMul", "mm", 2, mm_in, 1, out1);
    add_output(m, "Y");
    expect_load_model(rt, m, MR_ERR_UNSUPPORTED, "MatMul node 'mm'", "limit");
    /* LRN over an 8 GiB input whose window spans its 2^31 channels: the FLOP count exceeds
     * 2^63 and saturates. Finalised only (planning would allocate the 16 GiB arena). */
    static const int64_t lrn_dims[4] = {1, 1ll << 31, 1, 1};
    m = new_model(13);
    add_input(m, "X", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, lrn_dims);
    Onnx__NodeProto *lrn = add_node(m, "LRN", "lrn", 1, in1, 1, out1);
    Onnx__AttributeProto *sz = add_attr(lrn, "size", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    sz->has_i = 1;
    sz->i = 1ll << 31;
    add_output(m, "Y");
    mr_err err;
    mr_graph *g = NULL;
    CHECK_STATUS(import_model(m, &g, &err), MR_OK, err.msg, NULL);
    if (g) {
        CHECK_STATUS(mr_graph_finalize(g, 1, &err), MR_OK, err.msg, NULL);
        CHECK(g->n_order == 1 && g->nodes[g->order[0]].flops == INT64_MAX);
        mr_graph_destroy(g);
    }
    double dt = now_s() - t0;
    CHECK_MSG(dt < 10.0, "crafted sizes took %.2f s", dt);
}

int main(void) {
    char errbuf[256] = "";
    mr_runtime_params rp = mr_runtime_default_params();
    rp.backend = MR_BACKEND_CPU;
    rp.n_threads = 2;
    mr_runtime *rt = NULL;
    mr_status st = mr_runtime_create(&rp, &rt, errbuf, sizeof errbuf);
    CHECK_STATUS(st, MR_OK, errbuf, NULL);
    if (st != MR_OK) return mr_test_finish("onnx_import");

    test_valid_model(rt);
    test_typed_and_raw_data();
    test_attributes();
    test_empty_and_random(rt);
    test_truncated(rt);
    test_mutated(rt);
    test_graph_errors(rt);
    test_unsupported(rt);
    test_bad_tensors(rt);
    test_untrusted_sizes(rt);
    test_omitted_required(rt);
    test_read_file(rt);
    test_read_tensor();

    mr_runtime_destroy(rt);
    pool_free();
    return mr_test_finish("onnx_import");
}
