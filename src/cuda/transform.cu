/* PLACEHOLDER: replaced by the real elastic kernels of this op family. */
#include "cuda/common.cuh"

static mr_status not_yet(const mr_graph *g, const mr_node *n, mr_cuda_plan *plan, mr_err *err) {
    return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "no CUDA kernel yet");
}

MR_CUDA_OP(mr_cuda_op_concat, "Concat", not_yet);
MR_CUDA_OP(mr_cuda_op_transpose, "Transpose", not_yet);
MR_CUDA_OP(mr_cuda_op_gather, "Gather", not_yet);
MR_CUDA_OP(mr_cuda_op_slice, "Slice", not_yet);
MR_CUDA_OP(mr_cuda_op_expand, "Expand", not_yet);
