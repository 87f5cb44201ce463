/* Allocation failures (built only with MIRIAM_FAULT_INJECTION=ON; scripts/test-faults.sh).
 *
 * A scenario that touches every layer on the calling thread (runtime creation, zoo models,
 * an ONNX file and its TensorProto input, synchronous runs, a task with one request,
 * statistics, destruction) is repeated with the N-th allocation through the library's
 * helpers failing, for N = 1, 2, 3, ... until a run completes without reaching N. Each time:
 *  - every call returns MR_OK or MR_ERR_NO_MEMORY, and a failure has a message;
 *  - nothing leaks (LeakSanitizer is asked after every scenario when it is linked in);
 *  - the runtime still works afterwards: a second load and run succeed.
 *
 * Environment: MIRIAM_TESTDATA (libonnx-testdata), MIRIAM_FAULTS_FROM / MIRIAM_FAULTS_TO
 * (restrict N, to reproduce one case), MIRIAM_FAULTS_VERBOSE=1 (print each failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "miriam.h"
#include "onnx/onnx_import.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#else
#define HAVE_LSAN 0
#endif

#ifndef MR_FAULT_INJECTION
#error "test_faults needs -DMIRIAM_FAULT_INJECTION=ON"
#endif

/* The ONNX model of the scenario and its input (a convolution with weights, exported by
 * PyTorch). */
#define ONNX_MODEL "pytorch-converted/test_Conv2d"

/* MIRIAM_FAULTS_VERBOSE=1: print which step each injected failure stopped, and its message. */
static int verbose;

typedef struct scenario {
    long n; /* the allocation that fails */
    const char *testdata;
    int failed_step;  /* the step that returned MR_ERR_NO_MEMORY, or 0 */
    const char *step; /* name of the current step, for messages */
} scenario;

/* Allocates zeroed tensors matching a model's inputs and outputs (test memory, not counted:
 * plain calloc). Returns 0 on failure of the model's info calls. */
static int make_io(mr_model *m, mr_tensor *in, int *ni, mr_tensor *out, int *no) {
    *ni = mr_model_n_inputs(m);
    *no = mr_model_n_outputs(m);
    if (*ni > 4 || *no > 4) return 0;
    for (int i = 0; i < *ni + *no; i++) {
        mr_tensor_info ti;
        mr_status st =
            i < *ni ? mr_model_input_info(m, i, &ti) : mr_model_output_info(m, i - *ni, &ti);
        if (st != MR_OK) return 0;
        mr_tensor *t = i < *ni ? &in[i] : &out[i - *ni];
        memset(t, 0, sizeof *t);
        t->dtype = ti.dtype;
        t->ndim = ti.ndim;
        memcpy(t->dims, ti.dims, sizeof t->dims);
        int64_t numel = mr_tensor_numel(t);
        t->data = calloc((size_t)(numel > 0 ? numel : 1), mr_dtype_size(ti.dtype));
        if (!t->data) return 0;
    }
    return 1;
}

static void free_io(mr_tensor *t, int n) {
    for (int i = 0; i < n; i++) free(t[i].data);
}

/* Checks the status of one step. Returns 1 to go on, 0 when the step failed (as it may, with
 * MR_ERR_NO_MEMORY once the armed allocation has failed). */
static int step_ok(scenario *s, int line, const char *step, mr_status st, const char *msg) {
    s->step = step;
    if (st == MR_OK) return 1;
    mr_test_checks++;
    if (st != MR_ERR_NO_MEMORY || !mr_fault_fired() || !msg || !msg[0]) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: N=%ld, %s: %s (%s) [fault %s]\n", __FILE__, line, s->n, step,
                mr_status_str(st), msg ? msg : "(no message)",
                mr_fault_fired() ? "fired" : "not fired");
    }
    if (verbose) printf("N=%ld: %s: %s\n", s->n, step, msg ? msg : "(no message)");
    s->failed_step = line;
    return 0;
}
#define STEP(name, call, msg) step_ok(s, __LINE__, name, (call), (msg))

static mr_status load_and_run(mr_runtime *rt, const char *spec, mr_model **out) {
    mr_status st = mr_model_load(rt, spec, NULL, out);
    if (st != MR_OK) return st;
    mr_tensor in[4], o[4];
    int ni = 0, no = 0;
    if (!make_io(*out, in, &ni, o, &no)) {
        free_io(in, ni);
        free_io(o, no);
        return MR_ERR_INTERNAL;
    }
    st = mr_model_run(*out, ni, in, no, o);
    free_io(in, ni);
    free_io(o, no);
    return st;
}

/* The ONNX file with its recorded input (read through the library's TensorProto parser). */
static mr_status onnx_file(scenario *s, mr_runtime *rt, mr_model **out) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/model.onnx", s->testdata, ONNX_MODEL);
    mr_status st = mr_model_load_file(rt, path, NULL, out);
    if (!STEP("load the ONNX file", st, mr_runtime_last_error(rt))) return st;
    snprintf(path, sizeof path, "%s/%s/test_data_set_0/input_0.pb", s->testdata, ONNX_MODEL);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return MR_ERR_IO;
    static unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    mr_tensor x;
    mr_err err;
    mr_err_clear(&err);
    st = mr_onnx_read_tensor(buf, len, &x, NULL, &err);
    if (!STEP("read the TensorProto input", st, err.msg)) return st;
    mr_tensor y;
    mr_tensor_info oi;
    CHECK(mr_model_output_info(*out, 0, &oi) == MR_OK);
    memset(&y, 0, sizeof y);
    y.dtype = oi.dtype;
    y.ndim = oi.ndim;
    memcpy(y.dims, oi.dims, sizeof y.dims);
    y.data = calloc((size_t)mr_tensor_numel(&y), sizeof(float));
    st = mr_model_run(*out, 1, &x, 1, &y);
    mr_tensor_free_data(&x);
    free(y.data);
    STEP("run the ONNX model", st, mr_runtime_last_error(rt));
    return st;
}

/* A task on `m` with one request, waited for, and its statistics. */
static mr_status task_request(scenario *s, mr_runtime *rt, mr_model *m) {
    mr_task_params tp = mr_task_default_params();
    tp.name = "faults";
    tp.criticality = MR_TASK_CRITICAL;
    mr_task *task = NULL;
    mr_status st = mr_task_create(rt, m, &tp, &task);
    if (!STEP("create a task", st, mr_runtime_last_error(rt))) return st;
    mr_tensor in[4], o[4];
    int ni = 0, no = 0;
    CHECK(make_io(m, in, &ni, o, &no));
    mr_request *req = NULL;
    st = mr_request_submit(task, ni, in, no, o, NULL, NULL, &req);
    if (STEP("submit a request", st, mr_runtime_last_error(rt))) {
        mr_request_result res;
        st = mr_request_wait(req, &res);
        if (STEP("wait for the request", st, mr_runtime_last_error(rt))) {
            mr_task_stats ts;
            st = mr_task_get_stats(task, &ts);
            if (STEP("task statistics", st, mr_runtime_last_error(rt))) CHECK(ts.completed == 1);
        }
        mr_request_release(req);
    }
    free_io(in, ni);
    free_io(o, no);
    mr_task_destroy(task);
    return st;
}

/* One scenario with the n-th allocation failing; returns whether the fault was reached. */
static int run_scenario(const char *testdata, long n) {
    scenario sc = {n, testdata, 0, ""}, *s = &sc;
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CPU;
    p.n_threads = 2;
    char eb[512] = "";
    mr_runtime *rt = NULL;
    mr_fault_arm(n);
    mr_status st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    if (!STEP("create the runtime", st, eb)) {
        mr_fault_arm(0);
        CHECK(rt == NULL);
        CHECK(mr_runtime_create(&p, &rt, eb, sizeof eb) == MR_OK);
        mr_runtime_destroy(rt);
        return 1;
    }
    mr_model *cifar = NULL, *squeeze = NULL, *onnx = NULL;
    if (STEP("cifarnet", load_and_run(rt, "zoo:cifarnet", &cifar), mr_runtime_last_error(rt)) &&
        STEP("squeezenet1_1", load_and_run(rt, "zoo:squeezenet1_1", &squeeze),
             mr_runtime_last_error(rt)) &&
        onnx_file(s, rt, &onnx) == MR_OK)
        task_request(s, rt, cifar);
    int fired = mr_fault_fired();
    mr_fault_arm(0);
    /* Models a failed load never returned are NULL; destroying NULL is a no-op. */
    mr_model_destroy(squeeze);
    mr_model_destroy(onnx);
    if (sc.failed_step) {
        /* The runtime survives the failure: load and run again, and a task as well. */
        mr_model *again = NULL;
        mr_status st2 = load_and_run(rt, "zoo:cifarnet", &again);
        CHECK_MSG(st2 == MR_OK, "N=%ld: after a failure in '%s', a new load + run fails: %s", n,
                  sc.step, mr_runtime_last_error(rt));
        mr_model_destroy(again);
    }
    mr_model_destroy(cifar);
    mr_runtime_destroy(rt);
    return fired;
}

int main(void) {
    const char *testdata = mr_test_env("MIRIAM_TESTDATA", "/usr/share/libonnx-testdata/data");
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/%s/model.onnx", testdata, ONNX_MODEL);
    FILE *f = fopen(probe, "rb");
    if (!f) {
        printf("faults: %s not found (install libonnx-testdata or set MIRIAM_TESTDATA): "
               "skipped\n",
               probe);
        return 77;
    }
    fclose(f);
    verbose = atoi(mr_test_env("MIRIAM_FAULTS_VERBOSE", "0"));
    long from = atol(mr_test_env("MIRIAM_FAULTS_FROM", "1"));
    long to = atol(mr_test_env("MIRIAM_FAULTS_TO", "0"));
    if (from < 1) from = 1;
    /* A full run without a fault first: it must succeed, and says how many allocations the
     * scenario makes on this thread. */
    mr_fault_arm(0);
    CHECK(run_scenario(testdata, 0) == 0);
    long n;
    int leaks = 0;
    for (n = from; to <= 0 || n <= to; n++) {
        int fired = run_scenario(testdata, n);
#if HAVE_LSAN
        if (__lsan_do_recoverable_leak_check() && leaks++ < 5)
            CHECK_MSG(0, "N=%ld: leak (see the LeakSanitizer report above)", n);
#endif
        if (!fired) break;
        if (n % 500 == 0) printf("faults: N=%ld\n", n);
        fflush(stdout);
    }
    printf("faults: %ld allocation failures injected%s\n", n - from,
           HAVE_LSAN ? ", leak-checked after each" : "");
    return mr_test_finish("faults");
}
