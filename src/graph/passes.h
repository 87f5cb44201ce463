/* Optimisation passes over a shape-inferred graph. Each keeps the graph's meaning exactly
 * (up to float rounding for BatchNorm folding) and leaves dead nodes marked `dead`. */
#ifndef MR_GRAPH_PASSES_H
#define MR_GRAPH_PASSES_H

#include "graph/ir.h"

/* Identity and (inference) Dropout: consumers read the input directly. Kept when the output
 * is a graph output (the node then copies). */
mr_status mr_pass_drop_identity(mr_graph *g, mr_err *err);
/* BatchNormalization after a Conv with constant weights: scale the weights and bias. */
mr_status mr_pass_fold_batchnorm(mr_graph *g, mr_err *err);
/* MatMul followed by Add of a constant [N] vector: the bias moves into the MatMul epilogue. */
mr_status mr_pass_fuse_bias(mr_graph *g, mr_err *err);
/* Relu/Clip/LeakyRelu/Sigmoid/Tanh after an op with MR_OP_FUSE_ACT: applied in its epilogue. */
mr_status mr_pass_fuse_activation(mr_graph *g, mr_err *err);
/* Two LSTM (or GRU) layers as PyTorch exports a stack of them (layer 0, Squeeze of its Y's
 * num_directions axis, layer 1): one stacked node (ops/rnn.h). Only where the CUDA stacked
 * kernel can overlap the layers: forward, layout 0, batch 1, one sub-phase per step (LSTM,
 * or GRU with linear_before_reset), equal hidden sizes of a multiple of 8 up to
 * MR_RNN_STACK_MAX_H, and layer 0's Y used by layer 1 alone. */
mr_status mr_pass_stack_rnn(mr_graph *g, mr_err *err);

#endif
