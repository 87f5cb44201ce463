/* The CUDA op registry: ONNX op type -> CUDA kernels and planner (src/cuda/<family>.cu).
 * Shape and Constant never reach a backend (the graph always folds them). */
#include <string.h>

#include "cuda/cuda_op.h"

extern const mr_cuda_op mr_cuda_op_conv;
extern const mr_cuda_op mr_cuda_op_maxpool, mr_cuda_op_averagepool, mr_cuda_op_globalaveragepool;
extern const mr_cuda_op mr_cuda_op_gemm, mr_cuda_op_matmul;
extern const mr_cuda_op mr_cuda_op_lstm, mr_cuda_op_gru;
extern const mr_cuda_op mr_cuda_op_lstm_stack, mr_cuda_op_gru_stack;
extern const mr_cuda_op mr_cuda_op_relu, mr_cuda_op_clip, mr_cuda_op_leakyrelu, mr_cuda_op_sigmoid,
    mr_cuda_op_tanh;
extern const mr_cuda_op mr_cuda_op_add, mr_cuda_op_sub, mr_cuda_op_mul, mr_cuda_op_div;
extern const mr_cuda_op mr_cuda_op_softmax, mr_cuda_op_batchnorm, mr_cuda_op_lrn;
extern const mr_cuda_op mr_cuda_op_reshape, mr_cuda_op_flatten, mr_cuda_op_squeeze,
    mr_cuda_op_unsqueeze, mr_cuda_op_identity, mr_cuda_op_dropout, mr_cuda_op_constantofshape;
extern const mr_cuda_op mr_cuda_op_custom;
extern const mr_cuda_op mr_cuda_op_concat, mr_cuda_op_transpose, mr_cuda_op_gather,
    mr_cuda_op_slice, mr_cuda_op_expand;

static const mr_cuda_op *const all_ops[] = {
    &mr_cuda_op_conv,
    &mr_cuda_op_maxpool,
    &mr_cuda_op_averagepool,
    &mr_cuda_op_globalaveragepool,
    &mr_cuda_op_gemm,
    &mr_cuda_op_matmul,
    &mr_cuda_op_lstm,
    &mr_cuda_op_gru,
    &mr_cuda_op_lstm_stack,
    &mr_cuda_op_gru_stack,
    &mr_cuda_op_relu,
    &mr_cuda_op_clip,
    &mr_cuda_op_leakyrelu,
    &mr_cuda_op_sigmoid,
    &mr_cuda_op_tanh,
    &mr_cuda_op_add,
    &mr_cuda_op_sub,
    &mr_cuda_op_mul,
    &mr_cuda_op_div,
    &mr_cuda_op_softmax,
    &mr_cuda_op_batchnorm,
    &mr_cuda_op_lrn,
    &mr_cuda_op_reshape,
    &mr_cuda_op_flatten,
    &mr_cuda_op_squeeze,
    &mr_cuda_op_unsqueeze,
    &mr_cuda_op_identity,
    &mr_cuda_op_dropout,
    &mr_cuda_op_constantofshape,
    &mr_cuda_op_concat,
    &mr_cuda_op_transpose,
    &mr_cuda_op_gather,
    &mr_cuda_op_slice,
    &mr_cuda_op_expand,
    NULL,
};

const mr_cuda_op *mr_cuda_op_find(const char *name) {
    for (int i = 0; name && all_ops[i]; i++)
        if (strcmp(all_ops[i]->name, name) == 0) return all_ops[i];
    return NULL;
}

const mr_cuda_op *mr_cuda_op_for_node(const mr_node *n) {
    if (!n || !n->op) return NULL;
    /* Custom operators (src/cuda/custom.c) share one planner that reads the node's entry. */
    if (n->op->flags & MR_OP_CUSTOM) return &mr_cuda_op_custom;
    return mr_cuda_op_find(n->op->name);
}
