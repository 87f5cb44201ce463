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

#endif
