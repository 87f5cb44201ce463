/* Stress of the coordinator: many requests over several tasks (critical and normal, with
 * deadlines), submitted from several threads at random moments, some cancelled, under every
 * policy. Afterwards: every request completed exactly once (its
 * callback called once), none lost or duplicated, every completed output equal to the
 * model's output for that input bit for bit, the statistics adding up, and memory bounded
 * (resident set growth well below what keeping the requests would take).
 *
 * MIRIAM_STRESS_DEVICE: cpu (default) or cuda (skipped, exit 77, without a usable GPU).
 * MIRIAM_STRESS_REQUESTS: the total over all policies (default 1000000 on the CPU, 20000 on
 * CUDA, whose requests each wait for a GPU round trip); the memory-checking CI run
 * (scripts/test-valgrind.sh) uses 3000. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "testutil.h"

#define N_TASKS   4
#define N_THREADS 4
#define N_INPUTS  16 /* distinct inputs per task, with their expected outputs */
#define ROWS      8
#define COLS      96
#define OUTS      16

static const mr_policy policies[] = {MR_POLICY_SEQUENTIAL, MR_POLICY_MULTISTREAM,
                                     MR_POLICY_PRIORITY,   MR_POLICY_PADDING,
                                     MR_POLICY_PARTITION,  MR_POLICY_ELASTIC};
#define N_POLICIES ((int)(sizeof policies / sizeof *policies))

/* x[ROWS, COLS] -> Gemm(W1[COLS, COLS]^T) + b1 -> Relu -> Gemm(W2[OUTS, COLS]^T) -> y. */
static mr_model *tiny_model(mr_runtime *rt, uint64_t seed) {
    mr_err err;
    mr_err_clear(&err);
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    mr_graph *g = mr_test_new_graph(13);
    int64_t xd[2] = {ROWS, COLS}, w1d[2] = {COLS, COLS}, b1d[1] = {COLS}, w2d[2] = {OUTS, COLS};
    int x = mr_test_add_input(g, "x", 2, xd, &err);
    int w1 = mr_test_rand_const(g, &rng, "w1", 2, w1d, -0.2f, 0.2f, &err);
    int b1 = mr_test_rand_const(g, &rng, "b1", 1, b1d, -0.1f, 0.1f, &err);
    int w2 = mr_test_rand_const(g, &rng, "w2", 2, w2d, -0.2f, 0.2f, &err);
    int h, a, y;
    int in1[3] = {x, w1, b1};
    int n1 = mr_test_add_node1(g, "fc1", "Gemm", 3, in1, &h, &err);
    mr_node_set_int(g, n1, "transB", 1, &err);
    mr_test_add_node1(g, "relu", "Relu", 1, &h, &a, &err);
    int in2[2] = {a, w2};
    int n2 = mr_test_add_node1(g, "fc2", "Gemm", 2, in2, &y, &err);
    mr_node_set_int(g, n2, "transB", 1, &err);
    mr_test_mark_output(g, y);
    mr_model *m = NULL;
    if (mr_model_from_graph(rt, g, NULL, &m) != MR_OK) {
        fprintf(stderr, "tiny model: %s\n", mr_runtime_last_error(rt));
        exit(1);
    }
    return m;
}

typedef struct task_data {
    mr_task *t;
    mr_model *m;
    float in[N_INPUTS][ROWS * COLS];
    float ref[N_INPUTS][ROWS * OUTS];
} task_data;

/* One request: its output buffer, which input it used, how often its callback came. */
typedef struct req {
    task_data *td;
    int input;
    _Atomic int calls;
    _Atomic int status; /* mr_status + 1 once completed */
    float out[ROWS * OUTS];
} req;

typedef struct run {
    task_data td[N_TASKS];
    req *reqs;
    long n_reqs;
    _Atomic long next;     /* next request index to submit */
    _Atomic long wrong;    /* completed with an output that differs from the reference */
    _Atomic long bad_cb;   /* callbacks with an unexpected status */
    _Atomic long rejected; /* MR_ERR_BUSY submissions (retried) */
    unsigned seed;
} run;

typedef struct thread_arg {
    run *rn;
    uint64_t seed;
} thread_arg;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_done(mr_request *r, const mr_request_result *res, void *user) {
    (void)r;
    req *q = user;
    atomic_fetch_add(&q->calls, 1);
    atomic_store(&q->status, (int)res->status + 1);
}

static void *submitter(void *arg) {
    const thread_arg *ta = arg;
    run *rn = ta->rn;
    mr_rng rng;
    mr_rng_seed(&rng, ta->seed);
    for (;;) {
        long i = atomic_fetch_add(&rn->next, 1);
        if (i >= rn->n_reqs) break;
        req *q = &rn->reqs[i];
        task_data *td = &rn->td[mr_rng_u64(&rng) % N_TASKS];
        q->td = td;
        q->input = (int)(mr_rng_u64(&rng) % N_INPUTS);
        mr_tensor in = {MR_DTYPE_F32, 2, {ROWS, COLS}, td->in[q->input]};
        mr_tensor out = {MR_DTYPE_F32, 2, {ROWS, OUTS}, q->out};
        int cancel = mr_rng_u64(&rng) % 10 == 0;
        mr_request *h = NULL;
        mr_status st;
        while ((st = mr_request_submit(td->t, 1, &in, 1, &out, on_done, q, cancel ? &h : NULL)) ==
               MR_ERR_BUSY) {
            atomic_fetch_add(&rn->rejected, 1);
            sched_yield();
        }
        if (st != MR_OK) {
            atomic_fetch_add(&rn->bad_cb, 1);
            continue;
        }
        if (cancel) {
            mr_request_cancel(h);
            mr_request_release(h); /* detached: completes and frees itself */
        }
        if (mr_rng_u64(&rng) % 64 == 0) usleep((useconds_t)(mr_rng_u64(&rng) % 200));
    }
    return NULL;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void stress(mr_backend_kind backend, mr_policy policy, long n_reqs, unsigned seed) {
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = backend;
    p.n_threads = backend == MR_BACKEND_CPU ? 2 : 0;
    p.policy = policy;
    mr_runtime *rt = NULL;
    char eb[256];
    if (mr_runtime_create(&p, &rt, eb, sizeof eb) != MR_OK) {
        fprintf(stderr, "runtime: %s\n", eb);
        exit(1);
    }
    run *rn = calloc(1, sizeof *rn);
    rn->n_reqs = n_reqs;
    rn->seed = seed;
    rn->reqs = calloc((size_t)n_reqs, sizeof(req));
    /* Touch every page now (calloc may map untouched zero pages), so the resident-set check
     * below sees only the library's growth. */
    volatile unsigned char *pg = (volatile unsigned char *)rn->reqs;
    for (size_t off = 0; off < (size_t)n_reqs * sizeof(req); off += 4096) pg[off] = 0;
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    for (int k = 0; k < N_TASKS; k++) {
        task_data *td = &rn->td[k];
        td->m = tiny_model(rt, seed * 10 + (uint64_t)k);
        for (int i = 0; i < N_INPUTS; i++) {
            mr_rng_fill(&rng, td->in[i], ROWS * COLS, -1.0f, 1.0f);
            mr_tensor in = {MR_DTYPE_F32, 2, {ROWS, COLS}, td->in[i]};
            mr_tensor out = {MR_DTYPE_F32, 2, {ROWS, OUTS}, td->ref[i]};
            CHECK(mr_model_run(td->m, 1, &in, 1, &out) == MR_OK);
        }
        mr_task_params tp = mr_task_default_params();
        tp.criticality = k < 2 ? MR_TASK_CRITICAL : MR_TASK_NORMAL;
        tp.deadline_ms = k % 2 ? 0.05 : 0; /* tight: many misses, all counted */
        tp.max_in_flight = 16;
        CHECK(mr_task_create(rt, td->m, &tp, &td->t) == MR_OK);
    }
    long rss0 = rss_kib();
    double t0 = now_ms();
    pthread_t th[N_THREADS];
    thread_arg ta[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        ta[i] = (thread_arg){rn, (uint64_t)seed * 100 + (uint64_t)i};
        pthread_create(&th[i], NULL, submitter, &ta[i]);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    mr_task_stats st[N_TASKS];
    for (int k = 0; k < N_TASKS; k++) {
        mr_task *t = rn->td[k].t;
        /* Wait until the task is idle: stats then account for every request. */
        for (;;) {
            CHECK(mr_task_get_stats(t, &st[k]) == MR_OK);
            if (st[k].completed + st[k].cancelled + st[k].failed == st[k].submitted) break;
            usleep(1000);
        }
    }
    double secs = (now_ms() - t0) / 1e3;
    long rss1 = rss_kib();
    long ok = 0, cancelled = 0, multi = 0, none = 0, wrong = 0;
    for (long i = 0; i < n_reqs; i++) {
        req *q = &rn->reqs[i];
        int calls = atomic_load(&q->calls), s = atomic_load(&q->status) - 1;
        if (calls == 0) none++;
        if (calls > 1) multi++;
        if (s == MR_OK) {
            ok++;
            if (memcmp(q->out, q->td->ref[q->input], sizeof q->out) != 0) wrong++;
        } else if (s == MR_ERR_CANCELLED) {
            cancelled++;
        }
    }
    int64_t sub = 0, comp = 0, can = 0, fail = 0, miss = 0;
    for (int k = 0; k < N_TASKS; k++) {
        sub += st[k].submitted;
        comp += st[k].completed;
        can += st[k].cancelled;
        fail += st[k].failed;
        miss += st[k].deadline_misses;
        if (k % 2 == 0) CHECK(st[k].deadline_misses == 0); /* no deadline */
    }
    printf("stress %s %-11s %ld requests in %.1f s (%.0f/s): %ld completed, %ld cancelled, %lld "
           "deadline misses, %ld busy retries, rss %+ld KiB\n",
           mr_backend_name(backend), mr_policy_name(policy), n_reqs, secs, (double)n_reqs / secs,
           ok, cancelled, (long long)miss, (long)atomic_load(&rn->rejected), rss1 - rss0);
    CHECK_MSG(none == 0 && multi == 0, "%s: %ld requests without callback, %ld with several",
              mr_policy_name(policy), none, multi);
    CHECK_MSG(wrong == 0, "%s: %ld wrong outputs", mr_policy_name(policy), wrong);
    CHECK(atomic_load(&rn->bad_cb) == 0);
    CHECK(ok + cancelled == n_reqs);
    CHECK(sub == n_reqs && comp == ok && can == cancelled && fail == 0);
    /* Requests are freed as they complete: the resident set must not grow with their number
     * (a leak of the ~200-byte request records alone would be n_reqs * 200 bytes). Under
     * AddressSanitizer freed memory sits in its quarantine (256 MiB) and the leak checker
     * does this job instead. */
#ifndef __SANITIZE_ADDRESS__
    CHECK_MSG(rss1 - rss0 < 64 * 1024, "%s: resident set grew by %ld KiB", mr_policy_name(policy),
              rss1 - rss0);
#endif
    mr_runtime_destroy(rt);
    free(rn->reqs);
    free(rn);
}

int main(void) {
    mr_backend_kind backend;
    const char *device = mr_test_env("MIRIAM_STRESS_DEVICE", "cpu");
    if (mr_backend_parse(device, &backend) != MR_OK || backend == MR_BACKEND_AUTO) {
        fprintf(stderr, "stress: MIRIAM_STRESS_DEVICE=%s: want cpu or cuda\n", device);
        return 1;
    }
    if (backend == MR_BACKEND_CUDA) {
        mr_runtime_params p = mr_runtime_default_params();
        p.backend = MR_BACKEND_CUDA;
        mr_runtime *probe = NULL;
        char eb[512] = "";
        if (mr_runtime_create(&p, &probe, eb, sizeof eb) != MR_OK) {
            printf("stress: CUDA skipped: %s\n", eb);
            return 77;
        }
        mr_runtime_destroy(probe);
    }
    long total = atol(
        mr_test_env("MIRIAM_STRESS_REQUESTS", backend == MR_BACKEND_CUDA ? "20000" : "1000000"));
    if (total < N_POLICIES) total = N_POLICIES;
    for (int i = 0; i < N_POLICIES; i++)
        stress(backend, policies[i], total / N_POLICIES, 1000u + (unsigned)i);
    return mr_test_finish("stress");
}
