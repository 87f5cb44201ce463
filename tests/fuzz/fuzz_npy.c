/* libFuzzer harness: .npy files (mr_npy_parse, the parser behind mr_npy_read).
 *
 * Whatever the bytes, parsing must end in a status with a message; an accepted file must
 * describe a consistent tensor whose data has exactly the size its shape implies (the copy is
 * read through to let AddressSanitizer check it).
 *
 * Also compiled into tests/test_fuzz_regressions.c with FUZZ_ENTRY renamed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/npy.h"
#include "miriam.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

void fuzz_npy_cleanup(void) {}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    mr_tensor t;
    char eb[512];
    mr_status st = mr_npy_parse(data, size, "fuzz.npy", &t, eb, sizeof eb);
    if (st != MR_OK) {
        if (t.data != NULL || t.ndim != 0 || eb[0] == '\0' || st == MR_ERR_INTERNAL) abort();
        return 0;
    }
    if (t.ndim < 0 || t.ndim > MR_MAX_DIMS || mr_dtype_size(t.dtype) == 0 || !t.data) abort();
    int64_t numel = mr_tensor_numel(&t);
    if (numel < 0) abort();
    size_t bytes = (size_t)numel * mr_dtype_size(t.dtype);
    /* The data is the tail of the input, copied. */
    if (bytes > size || memcmp(t.data, data + size - bytes, bytes) != 0) abort();
    mr_tensor_free_data(&t);
    return 0;
}
