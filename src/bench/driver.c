/* The workload driver (see driver.h).
 *
 * Threads: the caller's thread times the phases (warm-up, measured window, grace period) and
 * reads statistics; a driver thread submits the open-loop arrivals on time and the closed-loop
 * requests a callback could not resubmit; the runtime's threads run the completion callbacks,
 * which return output buffers and resubmit closed loops.
 *
 * Requests are submitted without handles: they free themselves after their callback, so no
 * thread has to release them. Whatever is unfinished after the grace period is cancelled by
 * destroying its task, which completes every remaining request with MR_ERR_CANCELLED. */
#include "bench/driver.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A request's output buffers, borrowed from submission until its callback returns them. */
typedef struct slot {
    struct btask *bt;
    mr_tensor *out;
    struct slot *next_free;
} slot;

typedef struct btask {
    struct bench *b;
    const mr_wl_task *wt;
    int index;
    mr_model *model;
    mr_task *task;
    int n_in, n_out;
    mr_tensor *in; /* shared by all requests of the task: inputs are only read */
    slot *slots;
    int n_slots;
    mr_tensor *out_tensors; /* n_slots * n_out */
    pthread_mutex_t mu;     /* free_list and the latency sample */
    int mu_init;
    slot *free_list;
    /* Latency sample (mu): n_lat of cap_lat entries used, seen_lat completions offered,
     * rng the reservoir's random state. */
    double *lat;
    int64_t n_lat, cap_lat, seen_lat;
    uint64_t rng;
    /* Updated by callbacks and the driver thread (atomics). */
    int64_t rejected, cancelled;
    /* Closed loop: resubmissions owed (b->mu). */
    int owed;
    /* Open loop: the arrival generator and its next time (driver thread only). */
    mr_arrivals gen;
    double next_ms;
    int has_next;
} btask;

typedef struct bench {
    const mr_workload *w;
    mr_runtime *rt;
    btask *t;
    int n;
    double t0_ms;
    pthread_mutex_t mu; /* owed, stop, the failure record; with cv, the driver thread's sleep */
    pthread_cond_t cv;
    int stop;          /* b->mu: the driver thread exits */
    int stopping;      /* atomic: closed loops stop resubmitting */
    int64_t in_flight; /* atomic: requests submitted and not yet called back */
    int64_t keep_lat;  /* latency samples kept per task (mr_bench_params.keep_latencies) */
    mr_status fail_st; /* b->mu: the first request failure */
    char fail_msg[MR_ERR_MSG_MAX];
} bench;

static const struct {
    const char *name;
    mr_bench_policy p;
} policy_names[MR_BENCH_MAX_POLICIES] = {
    {"sequential", {MR_POLICY_SEQUENTIAL, MR_PROFILES_AUTO}},
    {"multistream", {MR_POLICY_MULTISTREAM, MR_PROFILES_AUTO}},
    {"priority", {MR_POLICY_PRIORITY, MR_PROFILES_AUTO}},
    {"padding", {MR_POLICY_PADDING, MR_PROFILES_AUTO}},
    {"partition", {MR_POLICY_PARTITION, MR_PROFILES_AUTO}},
    {"elastic", {MR_POLICY_ELASTIC, MR_PROFILES_AUTO}},
    {"elastic-tuned", {MR_POLICY_ELASTIC, MR_PROFILES_REQUIRE}},
    {"elastic-analytic", {MR_POLICY_ELASTIC, MR_PROFILES_OFF}},
};

mr_status mr_bench_policy_parse(const char *name, mr_bench_policy *out) {
    for (int i = 0; name && out && i < MR_BENCH_MAX_POLICIES; i++)
        if (strcmp(name, policy_names[i].name) == 0) {
            *out = policy_names[i].p;
            return MR_OK;
        }
    return MR_ERR_INVALID_ARG;
}

const char *mr_bench_policy_name(mr_bench_policy p) {
    /* Only elastic reads profiles: the other policies have one name whatever the setting. */
    if (p.policy != MR_POLICY_ELASTIC) p.profiles = MR_PROFILES_AUTO;
    for (int i = 0; i < MR_BENCH_MAX_POLICIES; i++)
        if (policy_names[i].p.policy == p.policy && policy_names[i].p.profiles == p.profiles)
            return policy_names[i].name;
    return "?";
}

int mr_bench_policy_at(int index, mr_bench_policy *out) {
    if (index < 0 || index >= MR_BENCH_MAX_POLICIES) return 0;
    *out = policy_names[index].p;
    return 1;
}

mr_bench_params mr_bench_default_params(void) {
    mr_bench_params p;
    memset(&p, 0, sizeof p);
    p.runtime = mr_runtime_default_params();
    p.solo_task = -1;
    p.grace_s = 2.0;
    return p;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct timespec abs_time(double ms) {
    struct timespec ts;
    double s = floor(ms / 1e3);
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((ms - s * 1e3) * 1e6);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    if (ts.tv_nsec < 0) ts.tv_nsec = 0;
    return ts;
}

static void sleep_until(double ms) {
    struct timespec ts = abs_time(ms);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void record_failure(bench *b, const btask *t, mr_status st, const char *what) {
    pthread_mutex_lock(&b->mu);
    if (b->fail_st == MR_OK) {
        /* The runtime's last message is the only detail there is; another thread may be
         * replacing it, so it is a hint at worst (the status is exact). */
        char detail[MR_ERR_MSG_MAX];
        snprintf(detail, sizeof detail, "%s", mr_runtime_last_error(b->rt));
        b->fail_st = st;
        snprintf(b->fail_msg, sizeof b->fail_msg, "%s: task %s: %s (%s)%s%s", b->w->file,
                 t->wt->name, what, mr_status_str(st), detail[0] ? ": " : "", detail);
    }
    pthread_mutex_unlock(&b->mu);
}

static slot *slot_get(btask *t) {
    pthread_mutex_lock(&t->mu);
    slot *s = t->free_list;
    if (s) t->free_list = s->next_free;
    pthread_mutex_unlock(&t->mu);
    return s;
}

static void slot_put(btask *t, slot *s) {
    pthread_mutex_lock(&t->mu);
    s->next_free = t->free_list;
    t->free_list = s;
    pthread_mutex_unlock(&t->mu);
}

static uint64_t xorshift64(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Adds a completed request's latency to its task's sample. Callbacks of one task run one at a
 * time, but the reset after the warm-up comes from another thread: hence the lock. */
static void record_latency(btask *t, double ms) {
    bench *b = t->b;
    int oom = 0;
    pthread_mutex_lock(&t->mu);
    t->seen_lat++;
    if (t->n_lat < b->keep_lat) {
        if (t->n_lat == t->cap_lat) {
            /* Grown on demand: most tasks complete far fewer requests than the bound. */
            int64_t cap = t->cap_lat ? 2 * t->cap_lat : 1024;
            if (cap > b->keep_lat) cap = b->keep_lat;
            double *p = realloc(t->lat, (size_t)cap * sizeof(double));
            if (p) {
                t->lat = p;
                t->cap_lat = cap;
            } else {
                oom = 1;
            }
        }
        if (!oom) t->lat[t->n_lat++] = ms;
    } else {
        /* Reservoir sampling (Vitter's algorithm R): the i-th completion replaces a random
         * entry with probability keep / i, which leaves every completion equally likely to be
         * in the sample. */
        uint64_t j = xorshift64(&t->rng) % (uint64_t)t->seen_lat;
        if (j < (uint64_t)b->keep_lat) t->lat[j] = ms;
    }
    pthread_mutex_unlock(&t->mu);
    if (oom) record_failure(b, t, MR_ERR_NO_MEMORY, "no memory for latency samples");
}

static void on_complete(mr_request *r, const mr_request_result *res, void *user);

static mr_status submit(btask *t, slot *s) {
    return mr_request_submit(t->task, t->n_in, t->in, t->n_out, s->out, on_complete, s, NULL);
}

/* Submits one request on a free slot. Returns MR_OK, MR_ERR_BUSY (no slot or the task is
 * full; nothing submitted) or the error of a failed submission. */
static mr_status submit_new(btask *t) {
    bench *b = t->b;
    slot *s = slot_get(t);
    if (!s) return MR_ERR_BUSY;
    /* Counted before submitting: the callback may run before mr_request_submit returns. */
    __atomic_add_fetch(&b->in_flight, 1, __ATOMIC_SEQ_CST);
    mr_status st = submit(t, s);
    if (st != MR_OK) {
        slot_put(t, s);
        __atomic_sub_fetch(&b->in_flight, 1, __ATOMIC_SEQ_CST);
    }
    return st;
}

static void on_complete(mr_request *r, const mr_request_result *res, void *user) {
    (void)r;
    slot *s = user;
    btask *t = s->bt;
    bench *b = t->b;
    if (res->status == MR_ERR_CANCELLED)
        __atomic_add_fetch(&t->cancelled, 1, __ATOMIC_RELAXED);
    else if (res->status != MR_OK)
        record_failure(b, t, res->status, "a request failed");
    else if (b->keep_lat > 0)
        record_latency(t, res->latency_ms);
    if (t->wt->arrival.kind == MR_ARRIVAL_CLOSED && res->status == MR_OK &&
        !__atomic_load_n(&b->stopping, __ATOMIC_SEQ_CST)) {
        /* The next request of the loop reuses this request's slot: the buffers are free now. */
        mr_status st = submit(t, s);
        if (st == MR_OK) return;
        slot_put(t, s);
        __atomic_sub_fetch(&b->in_flight, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_lock(&b->mu);
        if (st == MR_ERR_BUSY) {
            /* The runtime still counts a request as in flight: the driver thread retries. */
            t->owed++;
            pthread_cond_signal(&b->cv);
        }
        pthread_mutex_unlock(&b->mu);
        if (st != MR_ERR_BUSY && st != MR_ERR_CANCELLED)
            record_failure(b, t, st, "resubmitting a closed-loop request failed");
        return;
    }
    slot_put(t, s);
    __atomic_sub_fetch(&b->in_flight, 1, __ATOMIC_SEQ_CST);
}

/* The driver thread: open-loop arrivals at their times, owed closed-loop submissions. */
static void *driver_main(void *arg) {
    bench *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        /* Closed loops first: they start the run and refill after a refusal. */
        int retry = 0;
        for (int i = 0; i < b->n; i++) {
            btask *t = &b->t[i];
            while (t->owed > 0 && !b->stop) {
                t->owed--;
                pthread_mutex_unlock(&b->mu);
                mr_status st = submit_new(t);
                pthread_mutex_lock(&b->mu);
                if (st == MR_ERR_BUSY) {
                    t->owed++;
                    retry = 1;
                    break;
                }
                if (st != MR_OK) {
                    pthread_mutex_unlock(&b->mu);
                    record_failure(b, t, st, "submitting a closed-loop request failed");
                    pthread_mutex_lock(&b->mu);
                }
            }
        }
        /* The earliest open-loop arrival. */
        btask *next = NULL;
        for (int i = 0; i < b->n; i++)
            if (b->t[i].has_next && (!next || b->t[i].next_ms < next->next_ms)) next = &b->t[i];
        double now = now_ms();
        if (next && b->t0_ms + next->next_ms <= now) {
            pthread_mutex_unlock(&b->mu);
            /* Late arrivals (the thread was descheduled) go at once: arrivals of an open loop
             * do not depend on how the system keeps up. */
            mr_status st = submit_new(next);
            if (st == MR_ERR_BUSY)
                __atomic_add_fetch(&next->rejected, 1, __ATOMIC_RELAXED);
            else if (st != MR_OK)
                record_failure(b, next, st, "submitting a request failed");
            next->has_next = mr_arrivals_next(&next->gen, &next->next_ms);
            pthread_mutex_lock(&b->mu);
            continue;
        }
        double wake = next ? b->t0_ms + next->next_ms : now + 1000.0;
        if (retry && wake > now + 1.0) wake = now + 1.0;
        struct timespec ts = abs_time(wake);
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Deterministic input values from `seed`: floats in [-1, 1), integers in [0, 10). */
static void fill_input(mr_tensor *x, uint64_t seed) {
    int64_t n = mr_tensor_numel(x);
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) * 0x1.0p-53;
        if (x->dtype == MR_DTYPE_F32)
            ((float *)x->data)[i] = (float)(2.0 * u - 1.0);
        else if (x->dtype == MR_DTYPE_I64)
            ((int64_t *)x->data)[i] = (int64_t)(u * 10);
        else if (x->dtype == MR_DTYPE_I32)
            ((int32_t *)x->data)[i] = (int32_t)(u * 10);
    }
}

static mr_status alloc_tensor(const mr_tensor_info *info, mr_tensor *x, const bench *b,
                              const btask *t, mr_err *err) {
    memset(x, 0, sizeof *x);
    x->dtype = info->dtype;
    x->ndim = info->ndim;
    memcpy(x->dims, info->dims, sizeof x->dims);
    int64_t n = mr_tensor_numel(x);
    size_t es = mr_dtype_size(x->dtype);
    if (n < 0 || es == 0)
        return mr_errf(err, MR_ERR_SHAPE, "%s: task %s: tensor '%s' has an invalid shape or type",
                       b->w->file, t->wt->name, info->name);
    x->data = calloc((size_t)(n ? n : 1), es);
    if (!x->data)
        return mr_errf(err, MR_ERR_NO_MEMORY, "%s: task %s: no memory for tensor '%s'", b->w->file,
                       t->wt->name, info->name);
    return MR_OK;
}

static mr_status setup_task(bench *b, btask *t, mr_err *err) {
    const mr_wl_task *wt = t->wt;
    const char *file = b->w->file;
    if (pthread_mutex_init(&t->mu, NULL) != 0)
        return mr_errf(err, MR_ERR_INTERNAL, "%s: task %s: cannot create a mutex", file, wt->name);
    t->mu_init = 1;
    if (mr_model_load(b->rt, wt->model_spec, NULL, &t->model) != MR_OK)
        return mr_errf(err, MR_ERR_IO, "%s: task %s: cannot load model %s: %s", file, wt->name,
                       wt->model, mr_runtime_last_error(b->rt));
    t->n_in = mr_model_n_inputs(t->model);
    t->n_out = mr_model_n_outputs(t->model);
    t->n_slots = wt->max_in_flight;
    t->in = calloc((size_t)t->n_in + 1, sizeof(mr_tensor));
    t->slots = calloc((size_t)t->n_slots, sizeof(slot));
    t->out_tensors = calloc((size_t)t->n_slots * (size_t)t->n_out + 1, sizeof(mr_tensor));
    if (!t->in || !t->slots || !t->out_tensors)
        return mr_errf(err, MR_ERR_NO_MEMORY, "%s: task %s: out of memory", file, wt->name);
    for (int i = 0; i < t->n_in; i++) {
        mr_tensor_info info;
        mr_model_input_info(t->model, i, &info);
        MR_TRY(alloc_tensor(&info, &t->in[i], b, t, err));
        /* Seeded by the workload seed and the task's name: the same data in every policy's run
         * and in the task's solo run. */
        fill_input(&t->in[i], mr_workload_hash(b->w->seed, wt->name, 1 + (uint64_t)i) | 1);
    }
    for (int k = 0; k < t->n_slots; k++) {
        slot *s = &t->slots[k];
        s->bt = t;
        s->out = &t->out_tensors[(size_t)k * (size_t)t->n_out];
        for (int i = 0; i < t->n_out; i++) {
            mr_tensor_info info;
            mr_model_output_info(t->model, i, &info);
            MR_TRY(alloc_tensor(&info, &s->out[i], b, t, err));
        }
        s->next_free = t->free_list;
        t->free_list = s;
    }
    mr_task_params tp = mr_task_default_params();
    tp.name = wt->name;
    tp.criticality = wt->criticality;
    tp.deadline_ms = wt->deadline_ms;
    tp.max_in_flight = wt->max_in_flight;
    mr_status tst = mr_task_create(b->rt, t->model, &tp, &t->task);
    if (tst != MR_OK) /* its status, so that callers can tell a bad setup from a failure */
        return mr_errf(err, tst, "%s: task %s: cannot create the task: %s", file, wt->name,
                       mr_runtime_last_error(b->rt));
    /* Never 0: xorshift would stay there. */
    t->rng = mr_workload_hash(b->w->seed, wt->name, 0x6c6174) | 1;
    mr_arrivals_init(&t->gen, wt, b->w->seed);
    t->has_next = mr_arrivals_next(&t->gen, &t->next_ms);
    if (wt->arrival.kind == MR_ARRIVAL_CLOSED) t->owed = wt->arrival.concurrency;
    return MR_OK;
}

/* Tears down whatever setup built: tasks first (cancelling what is left, whose callbacks
 * still use the slots), then models, buffers and the runtime. */
static void teardown(bench *b) {
    __atomic_store_n(&b->stopping, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < b->n; i++) mr_task_destroy(b->t[i].task);
    for (int i = 0; i < b->n; i++) {
        btask *t = &b->t[i];
        mr_model_destroy(t->model);
        for (int k = 0; t->in && k < t->n_in; k++) free(t->in[k].data);
        for (size_t k = 0; t->out_tensors && k < (size_t)t->n_slots * (size_t)t->n_out; k++)
            free(t->out_tensors[k].data);
        free(t->in);
        free(t->out_tensors);
        free(t->slots);
        free(t->lat);
        if (t->mu_init) pthread_mutex_destroy(&t->mu);
    }
    free(b->t);
    mr_runtime_destroy(b->rt);
}

static int failed(bench *b, mr_err *err) {
    pthread_mutex_lock(&b->mu);
    mr_status st = b->fail_st;
    if (st != MR_OK) mr_errf(err, st, "%s", b->fail_msg);
    pthread_mutex_unlock(&b->mu);
    return st != MR_OK;
}

/* Sleeps until `until_ms`, reporting progress; returns 0 early when a request failed. */
static int wait_phase(bench *b, const mr_bench_params *p, double until_ms, double total_s,
                      mr_err *err) {
    for (;;) {
        if (failed(b, err)) return 0;
        double now = now_ms();
        if (p->progress) p->progress((now - b->t0_ms) / 1e3, total_s, p->progress_user);
        if (now >= until_ms) return 1;
        sleep_until(now + 250 < until_ms ? now + 250 : until_ms);
    }
}

static double nan_if_none(int64_t completed, double v) {
    return completed > 0 ? v : NAN;
}

mr_status mr_bench_run(const mr_workload *w, const mr_bench_params *params, mr_bench_result *out,
                       mr_err *err) {
    if (!w || !out) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_bench_run: NULL argument");
    mr_bench_params p = params ? *params : mr_bench_default_params();
    if (p.solo_task >= w->n_tasks)
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_bench_run: no task %d", p.solo_task);
    if (!(w->duration_s > 0) || !(w->warmup_s >= 0) || !(p.grace_s >= 0))
        return mr_errf(err, MR_ERR_INVALID_ARG,
                       "%s: the duration must be > 0 and the warm-up "
                       "and grace period >= 0",
                       w->file);
    if (!(p.trace_ms >= 0) || p.trace_ms > 60e3)
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_bench_run: trace_ms must be in [0, 60000]");
    if (p.keep_latencies < 0 || p.keep_latencies > MR_BENCH_MAX_LATENCIES)
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_bench_run: keep_latencies must be in [0, %d]",
                       MR_BENCH_MAX_LATENCIES);
    memset(out, 0, sizeof *out);
    out->policy = p.runtime.policy;
    out->profiles = p.runtime.profiles;
    out->n_tasks = w->n_tasks;

    bench b;
    memset(&b, 0, sizeof b);
    b.w = w;
    b.keep_lat = p.keep_latencies;
    pthread_condattr_t ca;
    int sync_ok = pthread_condattr_init(&ca) == 0;
    sync_ok = sync_ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    int cv_ok = sync_ok && pthread_cond_init(&b.cv, &ca) == 0;
    int mu_ok = pthread_mutex_init(&b.mu, NULL) == 0;
    if (sync_ok) pthread_condattr_destroy(&ca);
    if (!cv_ok || !mu_ok) {
        if (cv_ok) pthread_cond_destroy(&b.cv);
        if (mu_ok) pthread_mutex_destroy(&b.mu);
        return mr_errf(err, MR_ERR_INTERNAL, "mr_bench_run: cannot create a condition variable");
    }

    mr_status st = MR_OK;
    char eb[MR_ERR_MSG_MAX];
    if (mr_runtime_create(&p.runtime, &b.rt, eb, sizeof eb) != MR_OK) {
        mr_bench_policy bp = {p.runtime.policy, p.runtime.profiles};
        st = mr_errf(err, MR_ERR_BACKEND, "cannot create the runtime (policy %s): %s",
                     mr_bench_policy_name(bp), eb);
        goto done;
    }
    if (p.setup_runtime && p.setup_runtime(b.rt, p.setup_user) != 0) {
        st = mr_errf(err, MR_ERR_INVALID_ARG, "%s: setting up the runtime failed", w->file);
        goto done;
    }
    out->backend = mr_runtime_backend(b.rt);
    out->n_threads = mr_runtime_n_threads(b.rt);
    int n_run = p.solo_task >= 0 ? 1 : w->n_tasks;
    b.t = calloc((size_t)n_run, sizeof(btask));
    if (!b.t) {
        st = mr_errf(err, MR_ERR_NO_MEMORY, "%s: out of memory", w->file);
        goto done;
    }
    for (int i = 0; i < n_run; i++) {
        btask *t = &b.t[i];
        t->b = &b;
        t->index = p.solo_task >= 0 ? p.solo_task : i;
        t->wt = &w->tasks[t->index];
        b.n = i + 1;
        if ((st = setup_task(&b, t, err)) != MR_OK) goto done;
    }

    /* Run: warm-up, reset, measured window. */
    double total_s = w->warmup_s + w->duration_s;
    pthread_t th;
    b.t0_ms = now_ms();
    if (pthread_create(&th, NULL, driver_main, &b) != 0) {
        st = mr_errf(err, MR_ERR_INTERNAL, "cannot start the driver thread");
        goto done;
    }
    int ok = wait_phase(&b, &p, b.t0_ms + w->warmup_s * 1e3, total_s, err);
    double t_reset = now_ms();
    if (ok) {
        for (int i = 0; i < b.n; i++) {
            /* The sample restarts with the statistics (a completion landing between the two
             * resets may be in one and not the other: one request in thousands). */
            pthread_mutex_lock(&b.t[i].mu);
            b.t[i].n_lat = b.t[i].seen_lat = 0;
            pthread_mutex_unlock(&b.t[i].mu);
            mr_task_reset_stats(b.t[i].task);
            __atomic_store_n(&b.t[i].rejected, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&b.t[i].cancelled, 0, __ATOMIC_RELAXED);
        }
        /* The trace holds every logical block (CPU) or launch (CUDA): bounded, and only its
         * first trace_ms are kept. */
        if (p.trace_ms > 0 && mr_runtime_trace_start(b.rt, (size_t)1 << 20) != MR_OK) {
            st = mr_errf(err, MR_ERR_NO_MEMORY, "cannot record a trace: %s",
                         mr_runtime_last_error(b.rt));
            ok = 0;
        }
        t_reset = now_ms();
        if (ok) ok = wait_phase(&b, &p, t_reset + w->duration_s * 1e3, total_s, err);
    }
    if (p.trace_ms > 0) {
        mr_trace_event *ev = NULL;
        size_t n = mr_runtime_trace_stop(b.rt, &ev);
        size_t kept = 0;
        out->trace = n ? malloc(n * sizeof *out->trace) : NULL;
        for (size_t i = 0; out->trace && i < n; i++) {
            const mr_trace_event *e = &ev[i];
            if (e->t0_ms < t_reset || e->t0_ms > t_reset + p.trace_ms) continue;
            if (e->task < 1 || e->task > b.n) continue; /* tasks are created in order: id = i + 1 */
            mr_bench_trace_event *o = &out->trace[kept++];
            o->lane = e->lane;
            o->task = b.t[e->task - 1].index;
            o->step = e->step;
            o->t0_ms = e->t0_ms - t_reset;
            o->t1_ms = e->t1_ms - t_reset;
            o->critical = e->critical;
        }
        out->n_trace = (int64_t)kept;
        free(ev);
    }
    /* Throughput over the window itself, before the stragglers of the grace period. */
    mr_task_stats window[MR_WL_MAX_TASKS];
    memset(window, 0, sizeof window);
    for (int i = 0; ok && i < b.n; i++) mr_task_get_stats(b.t[i].task, &window[i]);
    out->measured_s = (now_ms() - t_reset) / 1e3;

    pthread_mutex_lock(&b.mu);
    b.stop = 1;
    pthread_cond_signal(&b.cv);
    pthread_mutex_unlock(&b.mu);
    __atomic_store_n(&b.stopping, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    if (!ok) {
        st = err ? err->status : MR_ERR_INTERNAL;
        goto done;
    }

    /* Grace period: in-flight requests may finish (polled: completions are frequent). */
    double grace_end = now_ms() + p.grace_s * 1e3;
    while (__atomic_load_n(&b.in_flight, __ATOMIC_SEQ_CST) > 0 && now_ms() < grace_end)
        sleep_until(now_ms() + 2.0);
    mr_task_stats fin[MR_WL_MAX_TASKS];
    for (int i = 0; i < b.n; i++) mr_task_get_stats(b.t[i].task, &fin[i]);
    /* Cancel what is left: destroying a task completes its remaining requests as cancelled
     * (counted by the callbacks). */
    for (int i = 0; i < b.n; i++) {
        mr_task_destroy(b.t[i].task);
        b.t[i].task = NULL;
    }
    if (failed(&b, err)) {
        st = err ? err->status : MR_ERR_INTERNAL;
        goto done;
    }
    for (int i = 0; i < b.n; i++) {
        btask *t = &b.t[i];
        mr_bench_task_result *r = &out->tasks[t->index];
        const mr_task_stats *s = &fin[i];
        r->ran = 1;
        r->submitted = s->submitted;
        r->completed = s->completed;
        r->rejected = __atomic_load_n(&t->rejected, __ATOMIC_RELAXED);
        r->cancelled = __atomic_load_n(&t->cancelled, __ATOMIC_RELAXED);
        r->deadline_misses = s->deadline_misses;
        r->p50_ms = nan_if_none(s->completed, s->latency_p50_ms);
        r->p90_ms = nan_if_none(s->completed, s->latency_p90_ms);
        r->p99_ms = nan_if_none(s->completed, s->latency_p99_ms);
        r->max_ms = nan_if_none(s->completed, s->latency_max_ms);
        r->mean_ms = nan_if_none(s->completed, s->latency_mean_ms);
        r->throughput_rps =
            window[i].elapsed_s > 0 ? (double)window[i].completed / window[i].elapsed_s : 0.0;
        r->miss_pct = t->wt->deadline_ms > 0 && s->completed > 0
                          ? 100.0 * (double)s->deadline_misses / (double)s->completed
                          : NAN;
        /* Every callback has run (the tasks are destroyed): the sample is final. It moves to
         * the result, which teardown then leaves alone. */
        if (t->n_lat > 0) {
            r->latencies_ms = t->lat;
            r->n_latencies = t->n_lat;
            r->n_latencies_seen = t->seen_lat;
            t->lat = NULL;
        }
    }

done:
    teardown(&b);
    pthread_cond_destroy(&b.cv);
    pthread_mutex_destroy(&b.mu);
    return st;
}

typedef struct solo_progress {
    const mr_bench_params *p;
    int k, n;
} solo_progress;

/* The progress of run k of n as a fraction of all of them (the runs have equal lengths). */
static void solo_progress_fn(double elapsed_s, double total_s, void *user) {
    solo_progress *sp = user;
    sp->p->progress(sp->k * total_s + elapsed_s, sp->n * total_s, sp->p->progress_user);
}

void mr_bench_result_free(mr_bench_result *r) {
    if (!r) return;
    for (int i = 0; i < MR_WL_MAX_TASKS; i++) {
        free(r->tasks[i].latencies_ms);
        r->tasks[i].latencies_ms = NULL;
        r->tasks[i].n_latencies = r->tasks[i].n_latencies_seen = 0;
    }
    free(r->trace);
    r->trace = NULL;
    r->n_trace = 0;
}

mr_status mr_bench_run_solo(const mr_workload *w, const mr_bench_params *params,
                            mr_bench_result *out, mr_err *err) {
    if (!w || !out) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_bench_run_solo: NULL argument");
    mr_bench_params base = params ? *params : mr_bench_default_params();
    mr_bench_result *one = malloc(sizeof *one);
    if (!one) return mr_errf(err, MR_ERR_NO_MEMORY, "%s: out of memory", w->file);
    memset(out, 0, sizeof *out);
    mr_status st = MR_OK;
    solo_progress sp = {&base, 0, w->n_tasks};
    for (int k = 0; k < w->n_tasks && st == MR_OK; k++) {
        mr_bench_params p = base;
        p.runtime.policy = MR_POLICY_ELASTIC;
        p.solo_task = k;
        sp.k = k;
        if (base.progress) {
            p.progress = solo_progress_fn;
            p.progress_user = &sp;
        }
        st = mr_bench_run(w, &p, one, err);
        if (st != MR_OK) break;
        /* Task k's latency sample moves to out; the other tasks did not run, so `one` owns
         * nothing more (a trace, were there one, belongs to no single task: dropped). */
        out->tasks[k] = one->tasks[k];
        one->tasks[k].latencies_ms = NULL;
        mr_bench_result_free(one);
        out->backend = one->backend;
        out->n_threads = one->n_threads;
        out->measured_s = one->measured_s;
    }
    free(one);
    if (st != MR_OK) mr_bench_result_free(out);
    out->policy = MR_POLICY_ELASTIC;
    out->solo = 1;
    out->n_tasks = w->n_tasks;
    return st;
}

static double ratio(double a, double b) {
    return isfinite(a) && isfinite(b) && b > 0 ? a / b : NAN;
}

double mr_bench_vs_solo(const mr_workload *w, const mr_bench_result *r, const mr_bench_result *solo,
                        int i) {
    if (!w || !r || !solo || r->solo || i < 0 || i >= w->n_tasks) return NAN;
    if (!r->tasks[i].ran || !solo->tasks[i].ran) return NAN;
    if (w->tasks[i].criticality == MR_TASK_CRITICAL)
        return ratio(r->tasks[i].p99_ms, solo->tasks[i].p99_ms);
    return ratio(r->tasks[i].throughput_rps, solo->tasks[i].throughput_rps);
}

void mr_bench_summary(const mr_workload *w, const mr_bench_result *r, const mr_bench_result *solo,
                      double *critical_p99, double *normal_throughput) {
    double worst = NAN, sum = 0;
    int n = 0;
    for (int i = 0; w && i < w->n_tasks; i++) {
        double v = mr_bench_vs_solo(w, r, solo, i);
        if (!isfinite(v)) continue;
        if (w->tasks[i].criticality == MR_TASK_CRITICAL) {
            if (!(worst >= v)) worst = v;
        } else {
            sum += v;
            n++;
        }
    }
    *critical_p99 = worst;
    *normal_throughput = n ? sum / n : NAN;
}
