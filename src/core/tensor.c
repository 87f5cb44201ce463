/* Data types and the public tensor helpers. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "miriam.h"

const char *mr_dtype_name(mr_dtype dtype) {
    switch (dtype) {
    case MR_DTYPE_F32:
        return "float32";
    case MR_DTYPE_I64:
        return "int64";
    case MR_DTYPE_I32:
        return "int32";
    default:
        return "invalid";
    }
}

size_t mr_dtype_size(mr_dtype dtype) {
    switch (dtype) {
    case MR_DTYPE_F32:
        return 4;
    case MR_DTYPE_I64:
        return 8;
    case MR_DTYPE_I32:
        return 4;
    default:
        return 0;
    }
}

int64_t mr_tensor_numel(const mr_tensor *t) {
    if (!t || t->ndim < 0 || t->ndim > MR_MAX_DIMS) return -1;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        if (!mr_mul_i64(n, t->dims[i], &n)) return -1;
    return n;
}

void mr_tensor_free_data(mr_tensor *t) {
    if (!t) return;
    free(t->data);
    t->data = NULL;
}
