/* The operator registry: ONNX op_type -> definition. One op family per file in src/ops/. */
#include <string.h>

#include "ops/op.h"

extern const mr_op_def mr_op_conv;
extern const mr_op_def mr_op_maxpool, mr_op_averagepool, mr_op_globalaveragepool;
extern const mr_op_def mr_op_gemm, mr_op_matmul;
extern const mr_op_def mr_op_batchnorm, mr_op_lrn;
extern const mr_op_def mr_op_softmax;
extern const mr_op_def mr_op_relu, mr_op_clip, mr_op_leakyrelu, mr_op_sigmoid, mr_op_tanh;
extern const mr_op_def mr_op_add, mr_op_sub, mr_op_mul, mr_op_div;
extern const mr_op_def mr_op_shape, mr_op_reshape, mr_op_flatten, mr_op_squeeze, mr_op_unsqueeze,
    mr_op_identity, mr_op_dropout, mr_op_constant, mr_op_constantofshape;
extern const mr_op_def mr_op_concat, mr_op_transpose, mr_op_gather, mr_op_slice, mr_op_expand;
extern const mr_op_def mr_op_lstm, mr_op_gru;

static const mr_op_def *const all_ops[] = {
    &mr_op_conv,
    &mr_op_maxpool,
    &mr_op_averagepool,
    &mr_op_globalaveragepool,
    &mr_op_gemm,
    &mr_op_matmul,
    &mr_op_batchnorm,
    &mr_op_lrn,
    &mr_op_softmax,
    &mr_op_relu,
    &mr_op_clip,
    &mr_op_leakyrelu,
    &mr_op_sigmoid,
    &mr_op_tanh,
    &mr_op_add,
    &mr_op_sub,
    &mr_op_mul,
    &mr_op_div,
    &mr_op_shape,
    &mr_op_reshape,
    &mr_op_flatten,
    &mr_op_squeeze,
    &mr_op_unsqueeze,
    &mr_op_identity,
    &mr_op_dropout,
    &mr_op_constant,
    &mr_op_concat,
    &mr_op_transpose,
    &mr_op_gather,
    &mr_op_slice,
    &mr_op_lstm,
    &mr_op_gru,
    &mr_op_expand,
    &mr_op_constantofshape,
    NULL,
};

const mr_op_def *mr_op_find(const char *op_type) {
    if (!op_type) return NULL;
    for (int i = 0; all_ops[i]; i++)
        if (strcmp(all_ops[i]->name, op_type) == 0) return all_ops[i];
    return NULL;
}

const mr_op_def *const *mr_op_all(void) {
    return all_ops;
}
