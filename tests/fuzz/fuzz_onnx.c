/* libFuzzer harness: ONNX models (mr_model_load_buffer on a one-thread CPU runtime).
 *
 * Every input is decoded as a TensorProto (the input_N.pb files of ONNX test data, read by the
 * same code as initializers) and loaded as a model. A model that loads is checked for consistent
 * metadata and, when it is small enough to run quickly (FLOPs, arena, blocks and I/O within the
 * budget below), run once on deterministic inputs: whatever the file says, loading and running must
 * end in a status, never in a crash, a sanitizer report or a leak.
 *
 * The same file is compiled into the regression test (tests/test_fuzz_regressions.c) with
 * FUZZ_ENTRY renamed, so crashes found here are replayed by the ordinary test suite. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "miriam.h"
#include "onnx/onnx_import.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

/* Run budget: a model beyond any of these is only loaded. */
#define FUZZ_ONNX_MAX_FLOPS  (1 << 22)
#define FUZZ_ONNX_MAX_ARENA  ((size_t)4 << 20)
#define FUZZ_ONNX_MAX_BLOCKS (1 << 16)
#define FUZZ_ONNX_MAX_IO     ((size_t)4 << 20) /* bytes of all inputs and outputs together */

/* One runtime for the whole fuzzing process: creating a runtime per input would dominate. */
static mr_runtime *fuzz_onnx_rt;

/* Releases the runtime (the regression test calls it; libFuzzer never returns). */
void fuzz_onnx_cleanup(void) {
    mr_runtime_destroy(fuzz_onnx_rt);
    fuzz_onnx_rt = NULL;
}

static int fuzz_onnx_bytes(const mr_tensor_info *ti, size_t *bytes) {
    if (ti->ndim < 0 || ti->ndim > MR_MAX_DIMS || mr_dtype_size(ti->dtype) == 0) return 0;
    size_t n = mr_dtype_size(ti->dtype);
    for (int d = 0; d < ti->ndim; d++) {
        if (ti->dims[d] < 0) return 0;
        if (ti->dims[d] != 0 && n > FUZZ_ONNX_MAX_IO / (size_t)ti->dims[d]) return 0;
        n *= (size_t)ti->dims[d];
    }
    *bytes = n;
    return 1;
}

/* Deterministic values: floats in [-2, 2), integers in [-2, 3] (small enough to be valid
 * indices and axes most of the time, negative often enough to exercise the checks). */
static void fuzz_onnx_fill(mr_tensor *t, size_t bytes) {
    uint32_t s = 0x9e3779b9u;
    size_t n = bytes / mr_dtype_size(t->dtype);
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        if (t->dtype == MR_DTYPE_F32)
            ((float *)t->data)[i] = (float)(s >> 8) / (float)(1 << 22) - 2.0f;
        else if (t->dtype == MR_DTYPE_I64)
            ((int64_t *)t->data)[i] = (int64_t)(s >> 29) - 2;
        else
            ((int32_t *)t->data)[i] = (int32_t)(s >> 29) - 2;
    }
}

static void fuzz_onnx_run(mr_model *m) {
    mr_model_stats st;
    if (mr_model_get_stats(m, &st) != MR_OK) abort();
    if (st.flops < 0 || st.flops > FUZZ_ONNX_MAX_FLOPS || st.arena_bytes > FUZZ_ONNX_MAX_ARENA ||
        st.n_blocks < 0 || st.n_blocks > FUZZ_ONNX_MAX_BLOCKS)
        return;
    int ni = mr_model_n_inputs(m), no = mr_model_n_outputs(m);
    if (ni < 0 || no < 1) abort(); /* a loaded model always has an output */
    mr_tensor *t = calloc((size_t)(ni + no), sizeof *t);
    if (!t) return;
    size_t total = 0;
    int ok = 1;
    for (int i = 0; i < ni + no && ok; i++) {
        mr_tensor_info ti;
        mr_status s =
            i < ni ? mr_model_input_info(m, i, &ti) : mr_model_output_info(m, i - ni, &ti);
        if (s != MR_OK) abort();
        size_t bytes;
        if (!fuzz_onnx_bytes(&ti, &bytes) || bytes > FUZZ_ONNX_MAX_IO - total) {
            ok = 0;
            break;
        }
        total += bytes;
        t[i].dtype = ti.dtype;
        t[i].ndim = ti.ndim;
        memcpy(t[i].dims, ti.dims, sizeof t[i].dims);
        t[i].data = malloc(bytes ? bytes : 1);
        if (!t[i].data) {
            ok = 0;
            break;
        }
        if (i < ni) fuzz_onnx_fill(&t[i], bytes);
    }
    if (ok) {
        mr_status s = mr_model_run(m, ni, t, no, t + ni);
        /* The inputs match the model exactly, so the only acceptable failures are those a
         * kernel may report at run time (e.g. an index out of range). */
        if (s != MR_OK && (s == MR_ERR_INTERNAL || mr_runtime_last_error(fuzz_onnx_rt)[0] == '\0'))
            abort();
    }
    for (int i = 0; i < ni + no; i++) free(t[i].data);
    free(t);
}

static void fuzz_onnx_tensor(const uint8_t *data, size_t size) {
    mr_tensor t;
    char *name = NULL;
    mr_err err;
    mr_err_clear(&err);
    mr_status s = mr_onnx_read_tensor(data, size, &t, &name, &err);
    if (s != MR_OK) {
        if (t.data != NULL || name != NULL || err.msg[0] == '\0' || s == MR_ERR_INTERNAL) abort();
        return;
    }
    int64_t numel = mr_tensor_numel(&t);
    if (!name || numel < 0 || !t.data) abort();
    /* Read every byte, so that AddressSanitizer checks the copy is as long as the shape. */
    volatile unsigned char sum = 0;
    for (size_t i = 0; i < (size_t)numel * mr_dtype_size(t.dtype); i++)
        sum ^= ((const unsigned char *)t.data)[i];
    (void)sum;
    mr_tensor_free_data(&t);
    free(name);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    fuzz_onnx_tensor(data, size);
    if (!fuzz_onnx_rt) {
        mr_runtime_params p = mr_runtime_default_params();
        p.backend = MR_BACKEND_CPU;
        p.n_threads = 1;
        char eb[256];
        if (mr_runtime_create(&p, &fuzz_onnx_rt, eb, sizeof eb) != MR_OK) abort();
    }
    mr_model *m = NULL;
    mr_status s = mr_model_load_buffer(fuzz_onnx_rt, data, size, NULL, &m);
    if (s != MR_OK) {
        /* Every failure carries a message and leaves no model behind; MR_ERR_INTERNAL means a
         * check inside the library caught an inconsistency the importer let through. */
        if (m != NULL || s == MR_ERR_INTERNAL || mr_runtime_last_error(fuzz_onnx_rt)[0] == '\0')
            abort();
        return 0;
    }
    if (!m) abort();
    fuzz_onnx_run(m);
    mr_model_destroy(m);
    return 0;
}
