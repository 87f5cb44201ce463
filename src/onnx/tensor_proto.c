/* ONNX TensorProto decoding: validation of every size against the bytes actually present, so a
 * crafted tensor can neither overflow an element count nor make us allocate more than the file
 * holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/ir.h"
#include "onnx/onnx_import.h"
#include "onnx/onnx_internal.h"

const char *mr_onnx_dtype_name(int32_t data_type) {
    switch (data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED:
        return "UNDEFINED";
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        return "FLOAT";
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
        return "UINT8";
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
        return "INT8";
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
        return "UINT16";
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
        return "INT16";
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        return "INT32";
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        return "INT64";
    case ONNX__TENSOR_PROTO__DATA_TYPE__STRING:
        return "STRING";
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        return "BOOL";
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
        return "FLOAT16";
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        return "DOUBLE";
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
        return "UINT32";
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:
        return "UINT64";
    case ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX64:
        return "COMPLEX64";
    case ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX128:
        return "COMPLEX128";
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
        return "BFLOAT16";
    default:
        return "an unknown data type";
    }
}

mr_dtype mr_onnx_dtype(int32_t data_type) {
    switch (data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        return MR_DTYPE_F32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        return MR_DTYPE_I64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        return MR_DTYPE_I32;
    default:
        return MR_DTYPE_INVALID;
    }
}

static void *pb_alloc(void *oom, size_t size) {
    return mr_malloc(size, "the parsed protobuf message", oom);
}

static void pb_free(void *oom, void *p) {
    (void)oom;
    free(p);
}

void mr_onnx_allocator(ProtobufCAllocator *a, mr_err *oom) {
    a->alloc = pb_alloc;
    a->free = pb_free;
    a->allocator_data = oom;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* raw_data is little-endian by the ONNX spec; reverse each element on big-endian hosts. */
static void swap_elements(unsigned char *p, size_t bytes, size_t esize) {
    for (size_t i = 0; i + esize <= bytes; i += esize)
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            unsigned char t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

mr_status mr_onnx_tensor_view(const Onnx__TensorProto *tp, const char *what, mr_onnx_tensor *out,
                              mr_err *err) {
    /* Zero bytes of data still need a valid pointer (memcpy's arguments must not be NULL). */
    static const int64_t empty_data[1] = {0};
    memset(out, 0, sizeof *out);

    if ((tp->has_data_location &&
         tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        tp->n_external_data > 0)
        return mr_errf(err, MR_ERR_UNSUPPORTED,
                       "%s stores its data in an external file, which is not supported (save the "
                       "model with its weights inside the .onnx file)",
                       what);
    if (tp->segment)
        return mr_errf(err, MR_ERR_UNSUPPORTED,
                       "%s is a segment of a larger tensor, which is "
                       "not supported",
                       what);

    if (tp->n_dims > MR_MAX_DIMS)
        return mr_errf(err, MR_ERR_PARSE, "%s has %zu dimensions; at most %d are supported", what,
                       tp->n_dims, MR_MAX_DIMS);
    int64_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return mr_errf(err, MR_ERR_PARSE, "%s has a negative dimension (%lld at axis %zu)",
                           what, (long long)tp->dims[i], i);
        if (!mr_mul_i64(numel, tp->dims[i], &numel))
            return mr_errf(err, MR_ERR_PARSE, "%s: the element count of its dimensions overflows",
                           what);
        out->dims[i] = tp->dims[i];
    }
    out->ndim = (int)tp->n_dims;
    out->numel = numel;

    if (!tp->has_data_type || tp->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED)
        return mr_errf(err, MR_ERR_PARSE, "%s has no data type", what);
    mr_dtype dt = mr_onnx_dtype(tp->data_type);
    if (dt == MR_DTYPE_INVALID)
        return mr_errf(err, MR_ERR_UNSUPPORTED,
                       "%s has data type %s (%d); only FLOAT, INT64 and INT32 tensors are "
                       "supported",
                       what, mr_onnx_dtype_name(tp->data_type), (int)tp->data_type);
    out->dtype = dt;
    size_t esize = mr_dtype_size(dt), bytes;
    if ((uint64_t)numel > SIZE_MAX || !mr_mul_size((size_t)numel, esize, &bytes) ||
        bytes > MR_MAX_ALLOC)
        return mr_errf(err, MR_ERR_PARSE, "%s is too large (%lld elements)", what,
                       (long long)numel);
    out->bytes = bytes;

    /* The values live either in raw_data or in the typed field that belongs to the type;
     * any other typed field being set means the writer was confused. */
    size_t n_typed = 0;
    const void *typed = NULL;
    const char *field = "";
    switch (dt) {
    case MR_DTYPE_F32:
        n_typed = tp->n_float_data, typed = tp->float_data, field = "float_data";
        break;
    case MR_DTYPE_I64:
        n_typed = tp->n_int64_data, typed = tp->int64_data, field = "int64_data";
        break;
    case MR_DTYPE_I32:
        n_typed = tp->n_int32_data, typed = tp->int32_data, field = "int32_data";
        break;
    default:
        break;
    }
    size_t n_other = tp->n_float_data + tp->n_int32_data + tp->n_int64_data + tp->n_double_data +
                     tp->n_uint64_data + tp->n_string_data - n_typed;
    if (n_other > 0)
        return mr_errf(err, MR_ERR_PARSE, "%s is %s but stores values in another type's field",
                       what, mr_onnx_dtype_name(tp->data_type));
    int has_raw = tp->has_raw_data && tp->raw_data.len > 0;
    if (has_raw && n_typed > 0)
        return mr_errf(err, MR_ERR_PARSE, "%s has both raw_data and %s", what, field);

    if (has_raw) {
        if (tp->raw_data.len != bytes)
            return mr_errf(err, MR_ERR_PARSE,
                           "%s: its %lld elements of %s need %zu bytes but raw_data holds %zu",
                           what, (long long)numel, mr_onnx_dtype_name(tp->data_type), bytes,
                           tp->raw_data.len);
        if (host_is_little_endian() || esize == 1) {
            out->data = tp->raw_data.data;
        } else {
            out->owned = mr_malloc(bytes, "tensor data", err);
            if (!out->owned) return err->status;
            memcpy(out->owned, tp->raw_data.data, bytes);
            swap_elements(out->owned, bytes, esize);
            out->data = out->owned;
        }
    } else {
        if ((uint64_t)n_typed != (uint64_t)numel)
            return mr_errf(err, MR_ERR_PARSE,
                           "%s: its dimensions give %lld elements but %s holds %zu", what,
                           (long long)numel, n_typed ? field : "the tensor (no data)", n_typed);
        out->data = typed;
    }
    if (!out->data || bytes == 0) out->data = empty_data;
    return MR_OK;
}

mr_status mr_onnx_read_tensor(const void *data, size_t size, mr_tensor *out, char **name,
                              mr_err *err) {
    if (!out || (!data && size > 0))
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_onnx_read_tensor: NULL argument");
    memset(out, 0, sizeof *out);
    if (name) *name = NULL;
    if (size == 0)
        return mr_errf(err, MR_ERR_PARSE, "empty buffer: not a serialised ONNX TensorProto");
    mr_err oom;
    mr_err_clear(&oom);
    ProtobufCAllocator pa;
    mr_onnx_allocator(&pa, &oom);
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&pa, size, data);
    if (!tp && oom.status != MR_OK) return mr_errf(err, oom.status, "%s", oom.msg);
    if (!tp)
        return mr_errf(err, MR_ERR_PARSE,
                       "not a valid serialised ONNX TensorProto (%zu bytes; truncated or corrupt)",
                       size);
    char what[160];
    if (tp->name && tp->name[0])
        snprintf(what, sizeof what, "tensor '%.120s'", tp->name);
    else
        snprintf(what, sizeof what, "tensor");
    mr_onnx_tensor v;
    mr_status st = mr_onnx_tensor_view(tp, what, &v, err);
    void *copy = NULL;
    char *name_copy = NULL;
    if (st == MR_OK) {
        copy = mr_malloc(v.bytes, "tensor data", err);
        if (!copy) st = err->status;
    }
    if (st == MR_OK && name) {
        name_copy = mr_strdup(tp->name ? tp->name : "", err);
        if (!name_copy) st = err->status;
    }
    if (st == MR_OK) {
        if (v.bytes) memcpy(copy, v.data, v.bytes);
        out->dtype = v.dtype;
        out->ndim = v.ndim;
        memcpy(out->dims, v.dims, sizeof out->dims);
        out->data = copy;
        if (name) *name = name_copy;
    } else {
        free(copy);
        free(name_copy);
    }
    free(v.owned);
    onnx__tensor_proto__free_unpacked(tp, &pa);
    return st;
}
