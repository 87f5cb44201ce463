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
 * With the CUDA backend built in and a GPU present, the same is done on CUDA (device and
 * pinned allocations take part in the sequence, and none may be left allocated afterwards),
 * and kernel launches are made to fail in one request of one task among two (test_launch):
 * that request fails with the CUDA error, every other request of both tasks succeeds with
 * exactly the outputs of a solo run.
 *
 * Environment: MIRIAM_TESTDATA (libonnx-testdata), MIRIAM_FAULTS_FROM / MIRIAM_FAULTS_TO
 * (restrict N, to reproduce one case), MIRIAM_FAULTS_VERBOSE=1 (print each failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "miriam.h"
#include "model.h"
#include "onnx/onnx_import.h"
#include "testutil.h"

#ifdef MIRIAM_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <pthread.h>

#include "cuda/cuda_backend.h"
#endif

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

/* A task on `m` with one request, waited for, and its statistics. The task is critical with
 * a (generous) deadline, so its creation runs the admission check's measuring runs too. */
static mr_status task_request(scenario *s, mr_runtime *rt, mr_model *m) {
    mr_task_params tp = mr_task_default_params();
    tp.name = "faults";
    tp.criticality = MR_TASK_CRITICAL;
    tp.deadline_ms = 1e6;
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

#ifdef MIRIAM_HAVE_CUDA
/* ---- CUDA ---- */

static size_t device_free_bytes(void) {
    size_t free_b = 0, total = 0;
    if (cudaMemGetInfo(&free_b, &total) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return free_b;
}

/* The CUDA scenario with the n-th allocation (host helpers, cudaMalloc, cudaHostAlloc)
 * failing: runtime, load + run, a critical task with a deadline (admission runs included)
 * and one request, destruction. Returns whether the fault was reached. */
static int run_cuda_scenario(long n) {
    scenario sc = {n, "", 0, ""}, *s = &sc;
    long live0 = mr_fault_device_live();
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CUDA;
    char eb[512] = "";
    mr_runtime *rt = NULL;
    mr_fault_arm(n);
    mr_status st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    if (!STEP("create the CUDA runtime", st, eb)) {
        mr_fault_arm(0);
        CHECK(rt == NULL);
        CHECK_MSG(mr_fault_device_live() == live0, "N=%ld: %ld device allocations left", n,
                  mr_fault_device_live() - live0);
        return 1;
    }
    mr_model *cifar = NULL;
    if (STEP("cuda cifarnet", load_and_run(rt, "zoo:cifarnet", &cifar), mr_runtime_last_error(rt)))
        task_request(s, rt, cifar);
    int fired = mr_fault_fired();
    mr_fault_arm(0);
    if (sc.failed_step) {
        mr_model *again = NULL;
        mr_status st2 = load_and_run(rt, "zoo:cifarnet", &again);
        CHECK_MSG(st2 == MR_OK, "N=%ld: after a failure in '%s', a new CUDA load + run fails: %s",
                  n, sc.step, mr_runtime_last_error(rt));
        mr_model_destroy(again);
    }
    mr_model_destroy(cifar);
    mr_runtime_destroy(rt);
    CHECK_MSG(mr_fault_device_live() == live0,
              "N=%ld (%s): %ld device or pinned allocations leaked", n,
              sc.failed_step ? sc.step : "no failure", mr_fault_device_live() - live0);
    return fired;
}

static void cuda_allocations(void) {
    /* A first scenario creates the CUDA context; free device memory is compared after it. */
    mr_fault_arm(0);
    CHECK(run_cuda_scenario(0) == 0);
    size_t free0 = device_free_bytes();
    long n;
    int leaks = 0;
    for (n = 1;; n++) {
        int fired = run_cuda_scenario(n);
#if HAVE_LSAN
        if (__lsan_do_recoverable_leak_check() && leaks++ < 5)
            CHECK_MSG(0, "CUDA N=%ld: leak (see the LeakSanitizer report above)", n);
#endif
        if (!fired) break;
        fflush(stdout);
    }
    size_t free1 = device_free_bytes();
    double drift = ((double)free0 - (double)free1) / (1 << 20);
    printf("faults: CUDA: %ld allocation failures injected, device memory %+.1f MiB after them\n",
           n - 1, -drift);
    /* The driver keeps freed memory in pools of a few MiB; a leak of weights or arenas per
     * scenario would add up to far more over hundreds of scenarios. */
    CHECK_MSG(drift < 32, "device memory fell by %.1f MiB over the scenarios", drift);
    (void)leaks;
}

/* Errors the runtime logged, for the CUDA message of a failed request. */
typedef struct log_sink {
    pthread_mutex_t mu;
    int n_errors;
    char last_error[512];
} log_sink;

static void on_log(mr_log_level level, const char *msg, void *user) {
    log_sink *ls = user;
    if (level != MR_LOG_ERROR) return;
    pthread_mutex_lock(&ls->mu);
    ls->n_errors++;
    snprintf(ls->last_error, sizeof ls->last_error, "%s", msg);
    pthread_mutex_unlock(&ls->mu);
}

#define LAUNCH_REQS 6 /* requests of task A; the FAIL_AT-th one fails */
#define FAIL_AT     3
#define B_PER_A     2 /* requests of task B in flight beside each request of A */

typedef struct bufs {
    mr_tensor in, out;
    float *ref; /* the synchronous run's output for `in` */
} bufs;

static void bufs_make(mr_model *m, bufs *b, uint64_t seed) {
    mr_tensor_info ii, oi;
    mr_model_input_info(m, 0, &ii);
    mr_model_output_info(m, 0, &oi);
    memset(b, 0, sizeof *b);
    b->in.dtype = ii.dtype;
    b->in.ndim = ii.ndim;
    memcpy(b->in.dims, ii.dims, sizeof b->in.dims);
    b->out.dtype = oi.dtype;
    b->out.ndim = oi.ndim;
    memcpy(b->out.dims, oi.dims, sizeof b->out.dims);
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    b->in.data = mr_test_rand_floats(&rng, (size_t)mr_tensor_numel(&b->in), -1, 1);
    b->out.data = calloc((size_t)mr_tensor_numel(&b->out), sizeof(float));
    b->ref = calloc((size_t)mr_tensor_numel(&b->out), sizeof(float));
    mr_tensor ref = b->out;
    ref.data = b->ref;
    CHECK(mr_model_run(m, 1, &b->in, 1, &ref) == MR_OK);
}

static int bufs_match(const bufs *b) {
    return memcmp(b->out.data, b->ref, (size_t)mr_tensor_numel(&b->out) * sizeof(float)) == 0;
}

static void bufs_free(bufs *b) {
    free(b->in.data);
    free(b->out.data);
    free(b->ref);
}

/* Two tasks, A and B, under `policy`; the 3rd kernel launch of A's request FAIL_AT fails
 * (an invalid launch configuration, as cudaLaunchKernel reports it). That request must
 * complete with MR_ERR_BACKEND and the CUDA error in the runtime's message; every other
 * request of A, and every request of B (in flight meanwhile), must complete with the outputs
 * of a solo run bit for bit. With `graphs`, A's requests replay a CUDA graph captured at the
 * first request, so the failing launch is the capture's: the capture is abandoned and every
 * request must still succeed. */
static void test_launch(mr_policy policy, int a_critical, int graphs) {
    char label[96];
    snprintf(label, sizeof label, "%s, A %s%s", mr_policy_name(policy),
             a_critical ? "critical" : "normal", graphs ? ", graphs" : "");
    log_sink ls;
    memset(&ls, 0, sizeof ls);
    pthread_mutex_init(&ls.mu, NULL);
    /* Staging buffers are allocated at a task's first request: compare after the runtime. */
    long live0 = mr_fault_device_live();
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CUDA;
    p.policy = policy;
    p.cuda_graphs = graphs;
    p.log_fn = on_log;
    p.log_user_data = &ls;
    p.log_level = MR_LOG_ERROR;
    char eb[512] = "";
    mr_runtime *rt = NULL;
    if (mr_runtime_create(&p, &rt, eb, sizeof eb) != MR_OK) {
        CHECK_MSG(0, "%s: runtime: %s", label, eb);
        pthread_mutex_destroy(&ls.mu);
        return;
    }
    mr_model *ma = NULL, *mb = NULL;
    CHECK(mr_model_load(rt, "zoo:cifarnet", NULL, &ma) == MR_OK);
    CHECK(mr_model_load(rt, "zoo:resnet18", NULL, &mb) == MR_OK);
    if (!ma || !mb) {
        mr_runtime_destroy(rt);
        pthread_mutex_destroy(&ls.mu);
        return;
    }
    bufs a[LAUNCH_REQS], b[LAUNCH_REQS * B_PER_A];
    for (int i = 0; i < LAUNCH_REQS; i++) bufs_make(ma, &a[i], 100 + (uint64_t)i);
    for (int i = 0; i < LAUNCH_REQS * B_PER_A; i++) bufs_make(mb, &b[i], 200 + (uint64_t)i);
    mr_task *ta = NULL, *tb = NULL;
    mr_task_params tp = mr_task_default_params();
    tp.name = "A";
    tp.criticality = a_critical ? MR_TASK_CRITICAL : MR_TASK_NORMAL;
    CHECK(mr_task_create(rt, ma, &tp, &ta) == MR_OK);
    tp.name = "B";
    tp.criticality = a_critical ? MR_TASK_NORMAL : MR_TASK_CRITICAL;
    CHECK(mr_task_create(rt, mb, &tp, &tb) == MR_OK);
    int fail_at = graphs ? 0 : FAIL_AT;
    int b_bad = 0;
    for (int k = 0; k < LAUNCH_REQS && ta && tb; k++) {
        mr_request *rb[B_PER_A] = {NULL}, *ra = NULL;
        for (int j = 0; j < B_PER_A; j++) {
            bufs *x = &b[k * B_PER_A + j];
            CHECK(mr_request_submit(tb, 1, &x->in, 1, &x->out, NULL, NULL, &rb[j]) == MR_OK);
        }
        if (k == fail_at) mr_fault_arm_launch(mr_model_exec(ma), 3);
        CHECK(mr_request_submit(ta, 1, &a[k].in, 1, &a[k].out, NULL, NULL, &ra) == MR_OK);
        mr_request_result res;
        mr_status st = ra ? mr_request_wait(ra, &res) : MR_ERR_INTERNAL;
        if (k == fail_at) {
            CHECK_MSG(mr_fault_launch_fired(), "%s: the armed launch never happened", label);
            if (graphs) {
                CHECK_MSG(st == MR_OK && bufs_match(&a[k]),
                          "%s: request %d after a failed capture: %s", label, k, mr_status_str(st));
            } else {
                pthread_mutex_lock(&ls.mu);
                /* The runtime refuses the empty grid (CUDA 13 says cudaErrorInvalidValue,
                 * older releases cudaErrorInvalidConfiguration); the message names the call
                 * and the CUDA error. */
                CHECK_MSG(st == MR_ERR_BACKEND && ls.n_errors >= 1 &&
                              strstr(ls.last_error, "cudaLaunchKernel") &&
                              (strstr(ls.last_error, "cudaErrorInvalidValue") ||
                               strstr(ls.last_error, "cudaErrorInvalidConfiguration")),
                          "%s: request %d: %s, last error '%s'", label, k, mr_status_str(st),
                          ls.last_error);
                pthread_mutex_unlock(&ls.mu);
            }
            mr_fault_arm_launch(NULL, 0);
        } else {
            CHECK_MSG(st == MR_OK && bufs_match(&a[k]), "%s: request %d of A: %s", label, k,
                      mr_status_str(st));
        }
        mr_request_release(ra);
        for (int j = 0; j < B_PER_A; j++) {
            mr_status sb = rb[j] ? mr_request_wait(rb[j], NULL) : MR_ERR_INTERNAL;
            if (sb != MR_OK || !bufs_match(&b[k * B_PER_A + j])) b_bad++;
            mr_request_release(rb[j]);
        }
    }
    CHECK_MSG(b_bad == 0, "%s: %d requests of B failed or differ from the solo run", label, b_bad);
    mr_task_stats sa, sb;
    if (ta && tb && mr_task_get_stats(ta, &sa) == MR_OK && mr_task_get_stats(tb, &sb) == MR_OK) {
        int want_failed = graphs ? 0 : 1;
        CHECK_MSG(sa.failed == want_failed && sa.completed == LAUNCH_REQS - want_failed &&
                      sb.failed == 0 && sb.completed == LAUNCH_REQS * B_PER_A,
                  "%s: A %lld completed %lld failed, B %lld completed %lld failed", label,
                  (long long)sa.completed, (long long)sa.failed, (long long)sb.completed,
                  (long long)sb.failed);
    }
    printf("faults: CUDA launch failure (%s): checked\n", label);
    mr_task_destroy(ta);
    mr_task_destroy(tb);
    for (int i = 0; i < LAUNCH_REQS; i++) bufs_free(&a[i]);
    for (int i = 0; i < LAUNCH_REQS * B_PER_A; i++) bufs_free(&b[i]);
    mr_model_destroy(ma);
    mr_model_destroy(mb);
    mr_runtime_destroy(rt);
    CHECK_MSG(mr_fault_device_live() == live0, "%s: %ld device or pinned allocations left", label,
              mr_fault_device_live() - live0);
    pthread_mutex_destroy(&ls.mu);
}

static void test_cuda(void) {
    char why[512] = "";
    if (!mr_cuda_available(why, sizeof why)) {
        printf("faults: CUDA part skipped: %s\n", why);
        return;
    }
    cuda_allocations();
    const mr_policy pol[] = {MR_POLICY_ELASTIC, MR_POLICY_PRIORITY};
    for (int i = 0; i < 2; i++)
        for (int crit = 0; crit < 2; crit++) test_launch(pol[i], crit, 0);
    test_launch(MR_POLICY_ELASTIC, 1, 1);
    test_launch(MR_POLICY_PRIORITY, 0, 1);
}
#endif

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
#ifdef MIRIAM_HAVE_CUDA
    test_cuda();
#else
    printf("faults: CUDA part skipped: this build has no CUDA backend\n");
#endif
    return mr_test_finish("faults");
}
