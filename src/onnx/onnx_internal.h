/* Helpers shared by the ONNX importer files (not part of the public or internal API). */
#ifndef MR_ONNX_INTERNAL_H
#define MR_ONNX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "miriam.h"
#include "onnx/onnx.pb-c.h"

/* Name of an ONNX TensorProto.DataType value ("FLOAT16", ...), for messages. */
const char *mr_onnx_dtype_name(int32_t data_type);

/* Maps an ONNX element type to ours; MR_DTYPE_INVALID if we do not support it. */
mr_dtype mr_onnx_dtype(int32_t data_type);

/* A validated view of a TensorProto's contents. `data` points either into the unpacked
 * message (no copy, the common case on little-endian hosts) or into `owned` (a malloc()ed,
 * byte-order-converted copy), which the caller frees. For an empty tensor `data` is a valid,
 * non-NULL pointer to zero bytes. */
typedef struct mr_onnx_tensor {
    mr_dtype dtype;
    int ndim;
    int64_t dims[MR_MAX_DIMS];
    int64_t numel;
    size_t bytes;
    const void *data;
    void *owned;
} mr_onnx_tensor;

/* Validates `tp` (data type, dims, data length, no external data) and fills `out`. `what`
 * names the tensor in messages ("initializer 'w'", "attribute 'value' of node 'c'"). Errors:
 * MR_ERR_PARSE for inconsistent contents, MR_ERR_UNSUPPORTED for data types or storage we do
 * not handle. */
mr_status mr_onnx_tensor_view(const Onnx__TensorProto *tp, const char *what, mr_onnx_tensor *out,
                              mr_err *err);

/* A protobuf-c allocator whose allocations go through mr_malloc, so that parsing respects
 * MR_MAX_ALLOC like everything else (and fault-injection tests reach it). protobuf-c reports
 * any failure as a NULL message; `oom` (cleared by the caller) records whether it was an
 * allocation that failed, so that it is not reported as a corrupt file. */
void mr_onnx_allocator(ProtobufCAllocator *a, mr_err *oom);

#endif
