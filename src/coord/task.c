/* Tasks and requests: the public API of include/miriam.h ("Tasks and requests"), the
 * coordinator object, request queues, completion and statistics. Which request runs when,
 * and on what, is the engine's business (cpu_engine.c, cuda_engine.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord/coord.h"
#include "core/alloc.h"
#include "model.h"
#include "runtime_internal.h"

double mr_coord_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------- names ---- */

static const char *const policy_names[] = {"sequential", "multistream", "priority",
                                           "padding",    "partition",   "elastic"};

const char *mr_policy_name(mr_policy policy) {
    if ((int)policy < 0 || (int)policy >= (int)(sizeof policy_names / sizeof *policy_names))
        return "invalid";
    return policy_names[policy];
}

mr_status mr_policy_parse(const char *name, mr_policy *out) {
    if (!name || !out) return MR_ERR_INVALID_ARG;
    for (int i = 0; i < (int)(sizeof policy_names / sizeof *policy_names); i++)
        if (strcmp(name, policy_names[i]) == 0) {
            *out = (mr_policy)i;
            return MR_OK;
        }
    return MR_ERR_INVALID_ARG;
}

const char *mr_criticality_name(mr_criticality c) {
    return c == MR_TASK_CRITICAL ? "critical" : c == MR_TASK_NORMAL ? "normal" : "invalid";
}

mr_status mr_criticality_parse(const char *name, mr_criticality *out) {
    if (!name || !out) return MR_ERR_INVALID_ARG;
    if (strcmp(name, "critical") == 0)
        *out = MR_TASK_CRITICAL;
    else if (strcmp(name, "normal") == 0)
        *out = MR_TASK_NORMAL;
    else
        return MR_ERR_INVALID_ARG;
    return MR_OK;
}

static const char *const admission_names[] = {"warn", "refuse", "off"};

const char *mr_admission_name(mr_admission a) {
    if ((int)a < 0 || (int)a >= (int)(sizeof admission_names / sizeof *admission_names))
        return "invalid";
    return admission_names[a];
}

mr_status mr_admission_parse(const char *name, mr_admission *out) {
    if (!name || !out) return MR_ERR_INVALID_ARG;
    for (int i = 0; i < (int)(sizeof admission_names / sizeof *admission_names); i++)
        if (strcmp(name, admission_names[i]) == 0) {
            *out = (mr_admission)i;
            return MR_OK;
        }
    return MR_ERR_INVALID_ARG;
}

mr_policy mr_runtime_policy(const mr_runtime *rt) {
    return rt ? rt->params.policy : MR_POLICY_ELASTIC;
}

/* ---------------------------------------------------------------- coordinator ---- */

mr_status mr_coord_create(mr_runtime *rt, const mr_engine_iface *eng, mr_coord **out, mr_err *err) {
    mr_coord *c = mr_calloc(1, sizeof *c, "coordinator", err);
    if (!c) return err->status;
    c->rt = rt;
    c->eng = eng;
    c->policy = rt->params.policy;
    c->partition_critical = rt->params.partition_critical;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work_cv, NULL);
    pthread_cond_init(&c->done_cv, NULL);
    *out = c;
    return MR_OK;
}

void mr_coord_destroy(mr_coord *c) {
    if (!c) return;
    if (c->started) c->eng->stop(c);
    free(c->trace);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->work_cv);
    pthread_cond_destroy(&c->done_cv);
    free(c);
}

void mr_coord_destroy_tasks(mr_coord *c) {
    for (;;) {
        pthread_mutex_lock(&c->mu);
        mr_task *t = c->tasks;
        pthread_mutex_unlock(&c->mu);
        if (!t) return;
        mr_task_destroy(t);
    }
}

void mr_coord_count_block(mr_task *t, int finished) {
    mr_coord *c = t->c;
    if (finished) {
        t->blocks_done++;
        c->blocks_done++;
        return;
    }
    mr_request *r = t->cur;
    if (r && !r->first_block_seen) {
        r->first_block_seen = 1;
        r->other_begun = (c->blocks_begun - t->blocks_begun) - r->other_begun;
        r->other_done = (c->blocks_done - t->blocks_done) - r->other_done;
    }
    t->blocks_begun++;
    c->blocks_begun++;
}

void mr_request_debug(const mr_request *r, int64_t *other_begun, int64_t *other_done) {
    *other_begun = r->first_block_seen ? r->other_begun : -1;
    *other_done = r->first_block_seen ? r->other_done : -1;
}

/* ---------------------------------------------------------------- statistics ---- */

static void stats_reset(mr_task_counters *s) {
    s->submitted = s->completed = s->failed = s->cancelled = s->deadline_misses = 0;
    s->sum_latency = s->max_latency = 0;
    s->n_ring = s->head = 0;
    s->t_reset = mr_coord_now_ms();
}

static void stats_free(mr_task_counters *s) {
    free(s->lat);
    free(s->queue);
    free(s->exec);
}

/* Appends one completed request. Growing the rings may fail (out of memory): the sample is
 * then left out of the percentiles but still counted. */
static void stats_add(mr_task_counters *s, const mr_request_result *r) {
    s->sum_latency += r->latency_ms;
    if (r->latency_ms > s->max_latency) s->max_latency = r->latency_ms;
    if (s->n_ring == s->cap_ring && s->cap_ring < MR_STATS_WINDOW) {
        int64_t cap = s->cap_ring ? s->cap_ring * 4 : 256;
        if (cap > MR_STATS_WINDOW) cap = MR_STATS_WINDOW;
        double *l = realloc(s->lat, (size_t)cap * sizeof(double));
        if (l) s->lat = l;
        double *q = realloc(s->queue, (size_t)cap * sizeof(double));
        if (q) s->queue = q;
        double *e = realloc(s->exec, (size_t)cap * sizeof(double));
        if (e) s->exec = e;
        if (l && q && e) s->cap_ring = cap;
    }
    if (!s->cap_ring) return;
    int64_t i;
    if (s->n_ring < s->cap_ring) {
        i = s->n_ring++;
    } else { /* full window: overwrite the oldest */
        i = s->head;
        s->head = (s->head + 1) % s->cap_ring;
    }
    s->lat[i] = r->latency_ms;
    s->queue[i] = r->queue_ms;
    s->exec[i] = r->exec_ms;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank on a sorted array: the smallest value with at least p% at or below it. */
static double rank(const double *v, int64_t n, double p) {
    if (n <= 0) return 0;
    int64_t k = (int64_t)ceil(p / 100.0 * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return v[k - 1];
}

mr_task_params mr_task_default_params(void) {
    mr_task_params p;
    memset(&p, 0, sizeof p);
    p.criticality = MR_TASK_NORMAL;
    p.max_in_flight = 8;
    p.admission = MR_ADMISSION_WARN;
    return p;
}

mr_status mr_task_get_stats(mr_task *t, mr_task_stats *out) {
    if (!t || !out) return MR_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    mr_coord *c = t->c;
    pthread_mutex_lock(&c->mu);
    const mr_task_counters *s = &t->st;
    out->submitted = s->submitted;
    out->completed = s->completed;
    out->failed = s->failed;
    out->cancelled = s->cancelled;
    out->deadline_misses = s->deadline_misses;
    out->latency_max_ms = s->max_latency;
    out->latency_mean_ms = s->completed ? s->sum_latency / (double)s->completed : 0;
    out->elapsed_s = (mr_coord_now_ms() - s->t_reset) / 1e3;
    out->throughput_rps = out->elapsed_s > 0 ? (double)s->completed / out->elapsed_s : 0;
    out->solo_ms = t->solo_ms;
    out->admission_exceeded = t->admission_exceeded;
    int64_t n = s->n_ring;
    double *tmp = n ? malloc((size_t)n * sizeof(double)) : NULL;
    if (tmp) {
        memcpy(tmp, s->lat, (size_t)n * sizeof(double));
        qsort(tmp, (size_t)n, sizeof(double), cmp_double);
        out->latency_p50_ms = rank(tmp, n, 50);
        out->latency_p90_ms = rank(tmp, n, 90);
        out->latency_p99_ms = rank(tmp, n, 99);
        memcpy(tmp, s->queue, (size_t)n * sizeof(double));
        qsort(tmp, (size_t)n, sizeof(double), cmp_double);
        out->queue_p50_ms = rank(tmp, n, 50);
        memcpy(tmp, s->exec, (size_t)n * sizeof(double));
        qsort(tmp, (size_t)n, sizeof(double), cmp_double);
        out->exec_p50_ms = rank(tmp, n, 50);
    }
    pthread_mutex_unlock(&c->mu);
    if (n && !tmp) {
        mr_err err;
        mr_errf(&err, MR_ERR_NO_MEMORY, "mr_task_get_stats: no memory to sort %lld latencies",
                (long long)n);
        return mr_runtime_fail(c->rt, &err);
    }
    free(tmp);
    return MR_OK;
}

void mr_task_reset_stats(mr_task *t) {
    if (!t) return;
    pthread_mutex_lock(&t->c->mu);
    stats_reset(&t->st);
    pthread_mutex_unlock(&t->c->mu);
}

/* ---------------------------------------------------------------- tasks ---- */

static mr_status task_fail(mr_runtime *rt, mr_err *err) {
    return rt ? mr_runtime_fail(rt, err) : err->status;
}

/* The runtime's coordinator, created (and its engine chosen) on first use. */
static mr_status get_coord(mr_runtime *rt, mr_coord **out, mr_err *err) {
    pthread_mutex_lock(&rt->coord_mu);
    mr_status st = MR_OK;
    if (!rt->coord) {
        const mr_engine_iface *eng = NULL;
        if (rt->iface->kind == MR_BACKEND_CPU) eng = &mr_engine_cpu;
#ifdef MIRIAM_HAVE_CUDA
        else if (rt->iface->kind == MR_BACKEND_CUDA)
            eng = &mr_engine_cuda;
#endif
        if (!eng)
            st = mr_errf(err, MR_ERR_UNSUPPORTED, "tasks are not supported on the %s backend",
                         rt->iface->name);
        else
            st = mr_coord_create(rt, eng, &rt->coord, err);
    }
    *out = rt->coord;
    pthread_mutex_unlock(&rt->coord_mu);
    return st;
}

/* ---------------------------------------------------------------- admission ---- */

#define ADMISSION_RUNS 5 /* timed runs after one warm-up; their median is the solo latency */

/* Deterministic inputs for the admission runs. Zeros would be unrepresentative (some kernels
 * skip work on them, and a denormal-free all-zero input is the fastest case), so floats are
 * uniform in +-[0.25, 1.25) and integers are 1, an index valid in any non-trivial axis. */
static void admission_fill(mr_tensor *t, int64_t n, uint64_t *rng) {
    for (int64_t i = 0; i < n; i++) {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        if (t->dtype == MR_DTYPE_F32) {
            float u = (float)(*rng >> 40) / (float)(1 << 24); /* [0, 1) */
            ((float *)t->data)[i] = (*rng & 1 ? -1.0f : 1.0f) * (0.25f + u);
        } else if (t->dtype == MR_DTYPE_I64) {
            ((int64_t *)t->data)[i] = 1;
        } else {
            ((int32_t *)t->data)[i] = 1;
        }
    }
}

/* The model's solo latency: the median of ADMISSION_RUNS runs of its execution context after
 * one warm-up, each as mr_model_run does it (inputs in, every kernel, outputs out). The model
 * is bound to the new task, so no mr_model_run of the user's interleaves. */
static mr_status measure_solo(mr_runtime *rt, mr_model *m, double *out_ms, mr_err *err) {
    const mr_graph *g = mr_model_graph(m);
    int ni = g->n_inputs, no = g->n_outputs;
    mr_tensor *tv = mr_calloc((size_t)(ni + no > 0 ? ni + no : 1), sizeof(mr_tensor),
                              "admission check tensors", err);
    if (!tv) return err->status;
    mr_status st = MR_OK;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < ni + no && st == MR_OK; i++) {
        const mr_tensor_desc *d = &g->tensors[i < ni ? g->inputs[i] : g->outputs[i - ni]];
        tv[i].dtype = d->dtype;
        tv[i].ndim = d->ndim;
        memcpy(tv[i].dims, d->dims, sizeof tv[i].dims);
        tv[i].data = mr_malloc(mr_desc_bytes(d),
                               i < ni ? "admission check inputs" : "admission check outputs", err);
        if (!tv[i].data)
            st = err->status;
        else if (i < ni)
            admission_fill(&tv[i], mr_tensor_numel(&tv[i]), &rng);
    }
    double ms[ADMISSION_RUNS];
    for (int r = -1; r < ADMISSION_RUNS && st == MR_OK; r++) {
        pthread_mutex_lock(&rt->run_mu);
        double t0 = mr_coord_now_ms();
        st = rt->iface->run(mr_model_exec(m), tv, tv + ni, err);
        double t1 = mr_coord_now_ms();
        pthread_mutex_unlock(&rt->run_mu);
        if (r >= 0) ms[r] = t1 - t0;
    }
    if (st == MR_OK) {
        qsort(ms, ADMISSION_RUNS, sizeof *ms, cmp_double);
        *out_ms = ms[ADMISSION_RUNS / 2];
    }
    for (int i = 0; i < ni + no; i++) free(tv[i].data);
    free(tv);
    return st;
}

/* Admission control of t (bound to its model, not yet attached): measures the solo latency
 * of a critical task with a deadline and compares. Fails with MR_ERR_DEADLINE when the task
 * must be refused, or with the status of a measuring run that failed. */
static mr_status admit(mr_runtime *rt, mr_task *t, mr_admission mode, mr_err *err) {
    if (mode == MR_ADMISSION_OFF || t->crit != MR_TASK_CRITICAL || t->deadline_ms <= 0)
        return MR_OK;
    double solo = 0;
    if (measure_solo(rt, t->model, &solo, err) != MR_OK)
        return mr_err_prefix(err,
                             "task '%s': admission check (MR_ADMISSION_OFF skips it): ", t->name);
    t->solo_ms = solo;
    if (solo <= t->deadline_ms) return MR_OK;
    if (mode == MR_ADMISSION_REFUSE)
        return mr_errf(err, MR_ERR_DEADLINE,
                       "task '%s' refused: its model takes %.3f ms alone (median of %d runs), "
                       "more than its deadline of %g ms",
                       t->name, solo, ADMISSION_RUNS, t->deadline_ms);
    t->admission_exceeded = 1;
    mr_log(rt, MR_LOG_WARN,
           "task '%s': its model takes %.3f ms alone (median of %d runs), more than its "
           "deadline of %g ms: its requests will miss the deadline",
           t->name, solo, ADMISSION_RUNS, t->deadline_ms);
    return MR_OK;
}

mr_status mr_task_create(mr_runtime *rt, mr_model *model, const mr_task_params *params,
                         mr_task **out) {
    mr_err err;
    mr_err_clear(&err);
    if (!out) return MR_ERR_INVALID_ARG;
    *out = NULL;
    if (!rt || !model) {
        mr_errf(&err, MR_ERR_INVALID_ARG, "mr_task_create: %s is NULL", rt ? "model" : "runtime");
        return task_fail(rt, &err);
    }
    if (mr_model_runtime(model) != rt) {
        mr_errf(&err, MR_ERR_INVALID_ARG, "mr_task_create: the model belongs to another runtime");
        return task_fail(rt, &err);
    }
    mr_task_params p = params ? *params : mr_task_default_params();
    if ((p.criticality != MR_TASK_NORMAL && p.criticality != MR_TASK_CRITICAL) ||
        !(p.deadline_ms >= 0) || !isfinite(p.deadline_ms) || p.max_in_flight < 1 ||
        p.max_in_flight > 1 << 20 || (int)p.admission < (int)MR_ADMISSION_WARN ||
        (int)p.admission > (int)MR_ADMISSION_OFF) {
        mr_errf(&err, MR_ERR_INVALID_ARG,
                "mr_task_create: invalid parameters (criticality %d, deadline_ms %g, "
                "max_in_flight %d, admission %d; want normal|critical, a deadline >= 0, 1..%d "
                "requests in flight and warn|refuse|off)",
                (int)p.criticality, p.deadline_ms, p.max_in_flight, (int)p.admission, 1 << 20);
        return task_fail(rt, &err);
    }
    mr_coord *c;
    if (get_coord(rt, &c, &err) != MR_OK) return task_fail(rt, &err);
    mr_task *t = mr_calloc(1, sizeof *t, "task", &err);
    if (!t) return task_fail(rt, &err);
    t->c = c;
    t->model = model;
    t->ex = mr_model_exec(model);
    t->crit = p.criticality;
    t->deadline_ms = p.deadline_ms;
    t->max_in_flight = p.max_in_flight;
    stats_reset(&t->st);

    /* Bind the model: refuses a model that already backs a task, and waits for a
     * mr_model_run in progress on it. */
    if (mr_model_bind_task(model, t, &err) != MR_OK) {
        free(t);
        return task_fail(rt, &err);
    }
    pthread_mutex_lock(&c->mu);
    if (!c->started) {
        /* The engine's threads take the lock themselves: start them without it. */
        pthread_mutex_unlock(&c->mu);
        mr_status st = c->eng->start(c, &err);
        pthread_mutex_lock(&c->mu);
        if (st == MR_OK) c->started = 1;
        if (st != MR_OK) {
            pthread_mutex_unlock(&c->mu);
            mr_model_bind_task(model, NULL, NULL);
            free(t);
            return task_fail(rt, &err);
        }
    }
    c->n_created++;
    t->id = c->n_created;
    if (p.name && p.name[0])
        snprintf(t->name, sizeof t->name, "%s", p.name);
    else
        snprintf(t->name, sizeof t->name, "task%d", c->n_created);
    /* Measured without the lock (the engine goes on with the other tasks meanwhile) and
     * before the task is attached, so the model runs alone as far as this task goes. */
    pthread_mutex_unlock(&c->mu);
    mr_status adm = admit(rt, t, p.admission, &err);
    pthread_mutex_lock(&c->mu);
    if (adm != MR_OK || c->eng->task_attach(c, t, &err) != MR_OK) {
        pthread_mutex_unlock(&c->mu);
        mr_model_bind_task(model, NULL, NULL);
        free(t);
        return task_fail(rt, &err);
    }
    stats_reset(&t->st); /* elapsed_s counts from now, not from before the admission runs */
    t->next = c->tasks;
    c->tasks = t;
    c->n_tasks++;
    c->list_gen++;
    pthread_mutex_unlock(&c->mu);
    *out = t;
    return MR_OK;
}

const char *mr_task_name(const mr_task *t) {
    return t ? t->name : "";
}

int mr_task_id(const mr_task *t) {
    return t ? t->id : 0;
}

mr_status mr_runtime_trace_start(mr_runtime *rt, size_t capacity) {
    mr_err err;
    mr_err_clear(&err);
    if (!rt) return MR_ERR_INVALID_ARG;
    if (capacity < 1 || capacity > ((size_t)1 << 26)) {
        mr_errf(&err, MR_ERR_INVALID_ARG, "mr_runtime_trace_start: capacity %zu is not in 1..%zu",
                capacity, (size_t)1 << 26);
        return mr_runtime_fail(rt, &err);
    }
    mr_coord *c;
    if (get_coord(rt, &c, &err) != MR_OK) return mr_runtime_fail(rt, &err);
    mr_trace_event *buf = mr_malloc_array(capacity, sizeof *buf, "trace", &err);
    if (!buf) return mr_runtime_fail(rt, &err);
    pthread_mutex_lock(&c->mu);
    mr_trace_event *old = c->trace;
    c->trace = buf;
    c->trace_n = 0;
    c->trace_cap = capacity;
    pthread_mutex_unlock(&c->mu);
    free(old);
    return MR_OK;
}

size_t mr_runtime_trace_stop(mr_runtime *rt, mr_trace_event **events) {
    if (events) *events = NULL;
    if (!rt || !rt->coord) return 0;
    mr_coord *c = rt->coord;
    pthread_mutex_lock(&c->mu);
    mr_trace_event *buf = c->trace;
    size_t n = c->trace_n;
    c->trace = NULL;
    c->trace_n = c->trace_cap = 0;
    pthread_mutex_unlock(&c->mu);
    if (!events || n == 0) {
        free(buf);
        return 0;
    }
    *events = buf;
    return n;
}

/* Completes a request that never ran (cancelled while queued, or refused): statistics and
 * callback on the calling thread. Called with c->mu held; returns with it held. */
static void complete_unstarted(mr_task *t, mr_request *r, mr_status status) {
    mr_coord *c = t->c;
    double now = mr_coord_now_ms();
    r->t_start = r->t_end = now;
    r->result.status = status;
    r->result.queue_ms = now - r->t_submit;
    r->result.exec_ms = 0;
    r->result.latency_ms = now - r->t_submit;
    r->result.deadline_missed = 0;
    if (status == MR_ERR_CANCELLED)
        t->st.cancelled++;
    else
        t->st.failed++;
    t->in_flight--;
    r->state = MR_RQ_FINISHING;
    pthread_mutex_unlock(&c->mu);
    if (r->cb) r->cb(r->has_handle ? r : NULL, &r->result, r->user);
    pthread_mutex_lock(&c->mu);
    r->state = MR_RQ_DONE;
    pthread_cond_broadcast(&c->done_cv);
    if (!r->has_handle) {
        free(r->in);
        free(r);
    }
}

/* Cancels every queued request of t (their callbacks run on this thread). c->mu held. */
static void cancel_queue(mr_task *t) {
    while (t->q_head) {
        mr_request *r = t->q_head;
        t->q_head = r->next;
        if (!t->q_head) t->q_tail = NULL;
        complete_unstarted(t, r, MR_ERR_CANCELLED);
    }
}

void mr_task_destroy(mr_task *t) {
    if (!t) return;
    mr_coord *c = t->c;
    pthread_mutex_lock(&c->mu);
    t->destroying = 1;
    cancel_queue(t);
    if (t->cur) t->cur->cancel = 1;
    pthread_cond_broadcast(&c->work_cv);
    /* A callback may have queued more before seeing `destroying`; submit refuses them now. */
    while (t->cur || t->io || t->q_head) {
        cancel_queue(t);
        if (t->cur) t->cur->cancel = 1;
        pthread_cond_wait(&c->done_cv, &c->mu);
    }
    c->eng->task_detach(c, t);
    for (mr_task **pp = &c->tasks; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    c->n_tasks--;
    c->list_gen++;
    pthread_mutex_unlock(&c->mu);
    mr_model_bind_task(t->model, NULL, NULL);
    stats_free(&t->st);
    free(t);
}

/* ---------------------------------------------------------------- requests ---- */

mr_status mr_request_submit(mr_task *t, int n_inputs, const mr_tensor *inputs, int n_outputs,
                            mr_tensor *outputs, mr_request_cb callback, void *user_data,
                            mr_request **out) {
    mr_err err;
    mr_err_clear(&err);
    if (out) *out = NULL;
    if (!t) return MR_ERR_INVALID_ARG;
    mr_coord *c = t->c;
    if (mr_model_check_io(t->model, n_inputs, inputs, n_outputs, outputs, "mr_request_submit",
                          &err) != MR_OK)
        return mr_runtime_fail(c->rt, &err);
    size_t n_t = (size_t)n_inputs + (size_t)n_outputs;
    mr_request *r = mr_calloc(1, sizeof *r, "request", &err);
    mr_tensor *tv = r ? mr_calloc(n_t ? n_t : 1, sizeof(mr_tensor), "request tensors", &err) : NULL;
    if (!tv) {
        free(r);
        return mr_runtime_fail(c->rt, &err);
    }
    if (n_inputs) memcpy(tv, inputs, (size_t)n_inputs * sizeof(mr_tensor));
    if (n_outputs) memcpy(tv + n_inputs, outputs, (size_t)n_outputs * sizeof(mr_tensor));
    r->task = t;
    r->c = c;
    r->in = tv;
    r->out = tv + n_inputs;
    r->n_in = n_inputs;
    r->n_out = n_outputs;
    r->cb = callback;
    r->user = user_data;
    r->has_handle = out != NULL;
    pthread_mutex_lock(&c->mu);
    if (t->destroying || t->in_flight >= t->max_in_flight) {
        int busy = !t->destroying;
        pthread_mutex_unlock(&c->mu);
        free(tv);
        free(r);
        if (busy)
            mr_errf(&err, MR_ERR_BUSY, "task '%s' already has %d requests in flight (its maximum)",
                    t->name, t->max_in_flight);
        else
            mr_errf(&err, MR_ERR_CANCELLED, "task '%s' is being destroyed", t->name);
        return mr_runtime_fail(c->rt, &err);
    }
    r->t_submit = mr_coord_now_ms();
    r->seq = c->seq++;
    r->state = MR_RQ_QUEUED;
    /* Snapshot for the instrumentation (see mr_coord_count_block). */
    r->other_begun = c->blocks_begun - t->blocks_begun;
    r->other_done = c->blocks_done - t->blocks_done;
    if (t->q_tail)
        t->q_tail->next = r;
    else
        t->q_head = r;
    t->q_tail = r;
    t->in_flight++;
    t->st.submitted++;
    pthread_cond_broadcast(&c->work_cv);
    pthread_mutex_unlock(&c->mu);
    if (out) *out = r;
    return MR_OK;
}

mr_status mr_request_wait(mr_request *r, mr_request_result *result) {
    if (!r) return MR_ERR_INVALID_ARG;
    mr_coord *c = r->c;
    pthread_mutex_lock(&c->mu);
    while (r->state != MR_RQ_DONE) pthread_cond_wait(&c->done_cv, &c->mu);
    mr_request_result res = r->result;
    pthread_mutex_unlock(&c->mu);
    if (result) *result = res;
    return res.status;
}

mr_status mr_request_poll(mr_request *r, int *done, mr_request_result *result) {
    if (!r || !done) return MR_ERR_INVALID_ARG;
    mr_coord *c = r->c;
    pthread_mutex_lock(&c->mu);
    *done = r->state == MR_RQ_DONE;
    mr_request_result res = r->result;
    pthread_mutex_unlock(&c->mu);
    if (*done && result) *result = res;
    return MR_OK;
}

mr_status mr_request_cancel(mr_request *r) {
    if (!r) return MR_ERR_INVALID_ARG;
    mr_coord *c = r->c;
    pthread_mutex_lock(&c->mu);
    mr_task *t = r->task; /* alive while the request is not done */
    if (r->state == MR_RQ_QUEUED) {
        mr_request **pp = &t->q_head, *prev = NULL;
        while (*pp && *pp != r) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp) {
            *pp = r->next;
            if (t->q_tail == r) t->q_tail = prev;
            r->next = NULL;
            complete_unstarted(t, r, MR_ERR_CANCELLED);
        }
    } else if (r->state == MR_RQ_RUNNING) {
        r->cancel = 1;
        pthread_cond_broadcast(&c->work_cv);
    }
    pthread_mutex_unlock(&c->mu);
    return MR_OK;
}

void mr_request_release(mr_request *r) {
    if (!r) return;
    mr_coord *c = r->c;
    pthread_mutex_lock(&c->mu);
    int done = r->state == MR_RQ_DONE;
    r->has_handle = 0;
    pthread_mutex_unlock(&c->mu);
    if (done) {
        free(r->in);
        free(r);
    }
}

/* ---------------------------------------------------------------- for engines ---- */

mr_request *mr_task_take(mr_task *t) {
    mr_request *r = t->q_head;
    t->q_head = r->next;
    if (!t->q_head) t->q_tail = NULL;
    r->next = NULL;
    r->state = MR_RQ_RUNNING;
    r->t_start = mr_coord_now_ms();
    t->cur = r;
    t->io = 1;
    return r;
}

void mr_task_finish(mr_task *t, mr_status status) {
    mr_coord *c = t->c;
    mr_request *r = t->cur;
    double now = mr_coord_now_ms();
    r->t_end = now;
    r->result.status = status;
    r->result.queue_ms = r->t_start - r->t_submit;
    r->result.exec_ms = now - r->t_start;
    r->result.latency_ms = now - r->t_submit;
    r->result.deadline_missed =
        status == MR_OK && t->deadline_ms > 0 && r->result.latency_ms > t->deadline_ms;
    if (status == MR_OK) {
        t->st.completed++;
        t->st.deadline_misses += r->result.deadline_missed;
        stats_add(&t->st, &r->result);
    } else if (status == MR_ERR_CANCELLED) {
        t->st.cancelled++;
    } else {
        t->st.failed++;
    }
    /* Free the slot before the callback, so a closed loop can submit its next request from
     * it; keep t->io set so that request starts only after this callback returns (a task's
     * callbacks never overlap, and come in completion order). */
    t->in_flight--;
    t->io = 1;
    r->state = MR_RQ_FINISHING;
    pthread_mutex_unlock(&c->mu);
    if (r->cb) r->cb(r->has_handle ? r : NULL, &r->result, r->user);
    pthread_mutex_lock(&c->mu);
    r->state = MR_RQ_DONE;
    t->cur = NULL;
    t->io = 0;
    if (!r->has_handle) {
        free(r->in);
        free(r);
    }
    pthread_cond_broadcast(&c->done_cv);
    pthread_cond_broadcast(&c->work_cv);
}
