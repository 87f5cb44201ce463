/* Builds the example model of model.h with the protobuf-c bindings of onnx.proto. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "onnx/onnx.pb-c.h"

static void dim_values(Onnx__TensorShapeProto__Dimension *d, Onnx__TensorShapeProto__Dimension **p,
                       const int64_t *dims, int ndim) {
    for (int i = 0; i < ndim; i++) {
        onnx__tensor_shape_proto__dimension__init(&d[i]);
        d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d[i].dim_value = dims[i];
        p[i] = &d[i];
    }
}

uint8_t *example_model_build(const example_model *m, size_t *size) {
    /* Every message lives on the stack: protobuf-c only needs them while packing. */
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto os_default, os_custom, *opsets[2] = {&os_default, &os_custom};
    onnx__model_proto__init(&model);
    onnx__graph_proto__init(&graph);
    onnx__operator_set_id_proto__init(&os_default);
    onnx__operator_set_id_proto__init(&os_custom);
    os_default.domain = "";
    os_default.has_version = 1;
    os_default.version = 13;
    os_custom.domain = (char *)m->domain;
    os_custom.has_version = 1;
    os_custom.version = 1;
    model.has_ir_version = 1;
    model.ir_version = 8;
    model.producer_name = "miriam custom_op example";
    model.opset_import = opsets;
    /* A custom op of the default domain needs no second opset entry. */
    model.n_opset_import = m->domain[0] ? 2 : 1;
    model.graph = &graph;
    graph.name = "scaled_tanh_mlp";

    /* Initializers W [k, n] and B [n]. */
    Onnx__TensorProto w, b, *inits[2] = {&w, &b};
    int64_t wdims[2] = {m->k, m->n}, bdims[1] = {m->n};
    onnx__tensor_proto__init(&w);
    onnx__tensor_proto__init(&b);
    w.name = "W";
    w.has_data_type = b.has_data_type = 1;
    w.data_type = b.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    w.n_dims = 2;
    w.dims = wdims;
    w.n_float_data = (size_t)(m->k * m->n);
    w.float_data = (float *)m->w;
    b.name = "B";
    b.n_dims = 1;
    b.dims = bdims;
    b.n_float_data = (size_t)m->n;
    b.float_data = (float *)m->b;
    graph.initializer = inits;
    graph.n_initializer = 2;

    /* Input X [batch, k] and output Y [batch, n]. */
    Onnx__ValueInfoProto vx, vy, *ins[1] = {&vx}, *outs[1] = {&vy};
    Onnx__TypeProto tx, ty;
    Onnx__TypeProto__Tensor ttx, tty;
    Onnx__TensorShapeProto sx, sy;
    Onnx__TensorShapeProto__Dimension dx[2], dy[2], *pdx[2], *pdy[2];
    int64_t xdims[2] = {m->batch, m->k}, ydims[2] = {m->batch, m->n};
    Onnx__ValueInfoProto *vis[2] = {&vx, &vy};
    Onnx__TypeProto *tps[2] = {&tx, &ty};
    Onnx__TypeProto__Tensor *tts[2] = {&ttx, &tty};
    Onnx__TensorShapeProto *shs[2] = {&sx, &sy};
    for (int i = 0; i < 2; i++) {
        onnx__value_info_proto__init(vis[i]);
        onnx__type_proto__init(tps[i]);
        onnx__type_proto__tensor__init(tts[i]);
        onnx__tensor_shape_proto__init(shs[i]);
        tts[i]->has_elem_type = 1;
        tts[i]->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        tts[i]->shape = shs[i];
        shs[i]->n_dim = 2;
        tps[i]->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        tps[i]->tensor_type = tts[i];
        vis[i]->type = tps[i];
    }
    dim_values(dx, pdx, xdims, 2);
    dim_values(dy, pdy, ydims, 2);
    sx.dim = pdx;
    sy.dim = pdy;
    vx.name = "X";
    vy.name = "Y";
    graph.input = ins;
    graph.n_input = 1;
    graph.output = outs;
    graph.n_output = 1;

    /* Gemm(X, W, B) -> H; custom(H) -> Y. */
    Onnx__NodeProto gemm, act, *nodes[2] = {&gemm, &act};
    char *gemm_in[3] = {"X", "W", "B"}, *gemm_out[1] = {"H"}, *act_in[1] = {"H"},
         *act_out[1] = {"Y"};
    onnx__node_proto__init(&gemm);
    onnx__node_proto__init(&act);
    gemm.name = "fc";
    gemm.op_type = "Gemm";
    gemm.input = gemm_in;
    gemm.n_input = 3;
    gemm.output = gemm_out;
    gemm.n_output = 1;
    act.name = "act";
    act.op_type = (char *)m->op_type;
    act.domain = (char *)m->domain;
    act.input = act_in;
    act.n_input = 1;
    act.output = act_out;
    act.n_output = 1;
    Onnx__AttributeProto alpha, beta, *attrs[2] = {&alpha, &beta};
    onnx__attribute_proto__init(&alpha);
    onnx__attribute_proto__init(&beta);
    alpha.name = "alpha";
    beta.name = "beta";
    alpha.has_type = beta.has_type = 1;
    alpha.type = beta.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    alpha.has_f = beta.has_f = 1;
    alpha.f = m->alpha;
    beta.f = m->beta;
    act.attribute = attrs;
    act.n_attribute = 2;
    graph.node = nodes;
    graph.n_node = 2;

    *size = onnx__model_proto__get_packed_size(&model);
    uint8_t *buf = malloc(*size ? *size : 1);
    if (buf) onnx__model_proto__pack(&model, buf);
    return buf;
}
