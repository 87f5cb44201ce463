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
/* Add of a Conv result and a tensor of the same shape (a residual connection: ResNet's,
 * MobileNet-V2's): the other operand becomes the Conv's input 3, which its kernels add after
 * the bias and before the activation (the activation that follows the Add fuses next). Not
 * where the Add broadcasts, the Conv result has another reader or is a graph output, or an
 * activation is already fused. The sums are the Add's, in the same order: bitwise the same. */
mr_status mr_pass_fuse_residual(mr_graph *g, mr_err *err);
/* Relu/Clip/LeakyRelu/Sigmoid/Tanh after an op with MR_OP_FUSE_ACT: applied in its epilogue. */
mr_status mr_pass_fuse_activation(mr_graph *g, mr_err *err);
/* Two LSTM (or GRU) layers as PyTorch exports a stack of them (layer 0, Squeeze of its Y's
 * num_directions axis, layer 1): one stacked node (ops/rnn.h). Only where the CUDA stacked
 * kernel can overlap the layers: forward, layout 0, batch 1, one sub-phase per step (LSTM,
 * or GRU with linear_before_reset), equal hidden sizes of a multiple of 8 up to
 * MR_RNN_STACK_MAX_H, and layer 0's Y used by layer 1 alone. */
mr_status mr_pass_stack_rnn(mr_graph *g, mr_err *err);

#endif
