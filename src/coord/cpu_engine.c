/* The coordinator's CPU engine: worker threads play the GPU's SMs.
 *
 * Every worker loops: under the coordinator's lock it picks one piece of work, by the
 * runtime's policy, then does it without the lock:
 *   START  take a task's next queued request and copy its inputs into the task's arena;
 *   BLOCK  run one logical block of the current phase of a task's running request.
 * A request's steps and phases run in order; the blocks of one phase run on any workers, in
 * any order (the elastic-kernel contract). The worker that finishes a phase's last block
 * advances the request, and after its last step copies the outputs and completes it. As a
 * worker picks again after every logical block, a block is the unit of preemption: a
 * critical request waits for at most the block each worker is running (the "yield" of the
 * GPU engine is implicit here).
 *
 * Policies (workers = SMs, a logical block = a thread block):
 *   sequential   one request at a time on every worker; the next one is the oldest queued
 *                critical request, else the oldest queued request.
 *   multistream  every task's request runs at once; workers serve the tasks with blocks
 *                available in least-recently-served order (equal priority).
 *   priority     as multistream, but a worker takes a critical block whenever one is
 *                available; normal blocks fill the rest (GPU: stream priorities, where the
 *                block scheduler dispatches high-priority blocks first).
 *   padding      as priority, and while a critical request is in flight a normal phase is
 *                admitted ("launched") only if all its remaining blocks fit on the workers
 *                the critical work leaves free; once admitted it runs to its end (REEF).
 *   partition    workers [0, k) serve only critical tasks, [k, n) only normal ones (k =
 *                partition_critical, default n/2). With one worker it is shared, critical
 *                first.
 *   elastic      with no critical request in flight, normal blocks use every worker. While
 *                one is in flight, critical blocks go first, and a normal block may start
 *                only on a worker the critical phase cannot use (fewer critical blocks left
 *                than workers) and only if it is expected to end before the critical blocks
 *                in progress do (per-step block durations measured online): the leftover
 *                capacity is filled without delaying the critical request's next phase.
 *                A normal block whose duration is not known yet is not started then.
 */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu.h"
#include "coord/coord.h"
#include "elastic/profile.h"
#include "core/alloc.h"
#include "runtime_internal.h"

enum { PICK_NONE, PICK_START, PICK_BLOCK };

typedef struct cpu_task {
    int step, phase; /* position of t->cur */
    int64_t nb, taken, done;
    int active;      /* blocks of this task running now */
    int admitted;    /* padding: the current phase was admitted */
    uint64_t served; /* pick tick of the last block served (least-recently-served order) */
    double *est;     /* per step: block duration estimate, ms (0 = not measured yet) */
} cpu_task;

typedef struct worker {
    struct cpu_engine *e;
    int id;
    pthread_t th;
    mr_task *running; /* task of the block it runs, or NULL */
    double t0;        /* when that block began */
} worker;

typedef struct cpu_engine {
    mr_coord *c;
    int n, n_started;
    int n_crit; /* partition: workers [0, n_crit) serve critical tasks */
    worker *w;
    mr_task *owner; /* sequential: the task holding the workers */
    uint64_t tick;
} cpu_engine;

static cpu_task *ct_of(const mr_task *t) {
    return (cpu_task *)t->eng;
}

/* Blocks of the task's current phase are available to take. */
static int can_block(const mr_task *t) {
    const cpu_task *ct = ct_of(t);
    return t->cur && !t->io && t->cur->state == MR_RQ_RUNNING && ct->taken < ct->nb;
}

/* A critical request is queued, starting, running or finishing. */
static int critical_in_flight(const mr_coord *c) {
    for (const mr_task *t = c->tasks; t; t = t->next)
        if (t->crit == MR_TASK_CRITICAL && (t->cur || t->q_head || t->io)) return 1;
    return 0;
}

/* Workers the critical requests need now: their current phases' blocks not yet finished,
 * or every worker while one is queued or copying (its demand is not known yet). */
static int critical_demand(const cpu_engine *e) {
    int64_t d = 0;
    for (const mr_task *t = e->c->tasks; t; t = t->next) {
        if (t->crit != MR_TASK_CRITICAL) continue;
        if (t->io || (t->q_head && !t->cur)) return e->n;
        if (t->cur) d += ct_of(t)->nb - ct_of(t)->done;
    }
    return d > e->n ? e->n : (int)d;
}

static int normal_active(const mr_coord *c) {
    int a = 0;
    for (const mr_task *t = c->tasks; t; t = t->next)
        if (t->crit == MR_TASK_NORMAL) a += ct_of(t)->active;
    return a;
}

/* Longest expected remaining time of the critical blocks in progress (ms); 0 if none. */
static double critical_remaining(const cpu_engine *e, double now) {
    double rem = 0;
    for (int i = 0; i < e->n; i++) {
        const mr_task *t = e->w[i].running;
        if (!t || t->crit != MR_TASK_CRITICAL) continue;
        double est = ct_of(t)->est[ct_of(t)->step];
        double r = est - (now - e->w[i].t0);
        if (r > rem) rem = r;
    }
    return rem;
}

/* Class filter: -1 any, else MR_TASK_NORMAL / MR_TASK_CRITICAL. */
static mr_task *oldest_startable(const mr_coord *c, int cls) {
    mr_task *best = NULL;
    for (mr_task *t = c->tasks; t; t = t->next) {
        if (!mr_task_startable(t) || t->destroying) continue;
        if (cls >= 0 && (int)t->crit != cls) continue;
        if (!best || t->q_head->seq < best->q_head->seq) best = t;
    }
    return best;
}

/* Least recently served task of the class with a block available (and, for normal tasks
 * under padding/elastic, allowed by `ok`). */
static mr_task *lrs_block(const cpu_engine *e, int cls, int (*ok)(const cpu_engine *, mr_task *)) {
    mr_task *best = NULL;
    for (mr_task *t = e->c->tasks; t; t = t->next) {
        if (!can_block(t) || (cls >= 0 && (int)t->crit != cls)) continue;
        if (ok && !ok(e, t)) continue;
        if (!best || ct_of(t)->served < ct_of(best)->served) best = t;
    }
    return best;
}

static int padding_ok(const cpu_engine *e, mr_task *t) {
    cpu_task *ct = ct_of(t);
    if (ct->admitted || !critical_in_flight(e->c)) return 1;
    int left = e->n - critical_demand(e) - normal_active(e->c);
    return ct->nb - ct->taken <= left;
}

static int elastic_ok(const cpu_engine *e, mr_task *t) {
    if (!critical_in_flight(e->c)) return 1;
    if (e->n - critical_demand(e) - normal_active(e->c) <= 0) return 0;
    double est = ct_of(t)->est[ct_of(t)->step];
    return est > 0 && est <= critical_remaining(e, mr_coord_now_ms());
}

/* The policy: what worker w does next. */
static int pick(cpu_engine *e, int w, mr_task **out) {
    mr_coord *c = e->c;
    mr_task *t = NULL;
    switch (c->policy) {
    case MR_POLICY_SEQUENTIAL:
        if (!e->owner) {
            t = oldest_startable(c, MR_TASK_CRITICAL);
            if (!t) t = oldest_startable(c, MR_TASK_NORMAL);
            if (!t) return PICK_NONE;
            e->owner = t;
            *out = t;
            return PICK_START;
        }
        if (!can_block(e->owner)) return PICK_NONE;
        *out = e->owner;
        return PICK_BLOCK;
    case MR_POLICY_PARTITION: {
        int cls = e->n < 2 ? -1 : w < e->n_crit ? MR_TASK_CRITICAL : MR_TASK_NORMAL;
        if (cls < 0) {
            if ((t = oldest_startable(c, MR_TASK_CRITICAL)) ||
                (t = oldest_startable(c, MR_TASK_NORMAL))) {
                *out = t;
                return PICK_START;
            }
            if (!(t = lrs_block(e, MR_TASK_CRITICAL, NULL))) t = lrs_block(e, MR_TASK_NORMAL, NULL);
        } else {
            if ((t = oldest_startable(c, cls))) {
                *out = t;
                return PICK_START;
            }
            t = lrs_block(e, cls, NULL);
        }
        break;
    }
    default:
        /* Starting a request is a short copy: critical first, then normal. */
        if ((t = oldest_startable(c, MR_TASK_CRITICAL)) ||
            (t = oldest_startable(c, MR_TASK_NORMAL))) {
            *out = t;
            return PICK_START;
        }
        if (c->policy == MR_POLICY_MULTISTREAM) {
            t = lrs_block(e, -1, NULL);
            break;
        }
        t = lrs_block(e, MR_TASK_CRITICAL, NULL);
        if (!t)
            t = lrs_block(e, MR_TASK_NORMAL,
                          c->policy == MR_POLICY_PADDING   ? padding_ok
                          : c->policy == MR_POLICY_ELASTIC ? elastic_ok
                                                           : NULL);
        break;
    }
    if (!t) return PICK_NONE;
    *out = t;
    return PICK_BLOCK;
}

/* Moves the running request to the first non-skipped step at or after (step, phase); past
 * the last step, completes it. c->mu held (released around the copies and the callback). */
static void position(cpu_engine *e, mr_task *t, int step, int phase) {
    cpu_task *ct = ct_of(t);
    int ns = mr_cpu_exec_n_steps(t->ex);
    if (step < ns && phase >= mr_cpu_exec_n_phases(t->ex, step)) {
        step++;
        phase = 0;
    }
    while (step < ns && mr_cpu_exec_step_skipped(t->ex, step)) step++;
    mr_request *r = t->cur;
    if (step < ns && !r->cancel) {
        ct->step = step;
        ct->phase = phase;
        ct->nb = mr_cpu_exec_phase_blocks(t->ex, step);
        ct->taken = ct->done = 0;
        ct->admitted = 0;
        pthread_cond_broadcast(&e->c->work_cv);
        return;
    }
    ct->nb = ct->taken = ct->done = 0;
    mr_status st = MR_ERR_CANCELLED;
    if (!r->cancel) {
        t->io = 1;
        pthread_mutex_unlock(&e->c->mu);
        mr_cpu_exec_copy_outputs(t->ex, r->out);
        pthread_mutex_lock(&e->c->mu);
        st = MR_OK;
    }
    mr_task_finish(t, st);
    if (e->owner == t) e->owner = NULL;
    pthread_cond_broadcast(&e->c->work_cv);
}

static void *worker_main(void *arg) {
    worker *wk = arg;
    cpu_engine *e = wk->e;
    mr_coord *c = e->c;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        mr_task *t = NULL;
        int what = pick(e, wk->id, &t);
        if (what == PICK_NONE) {
            pthread_cond_wait(&c->work_cv, &c->mu);
            continue;
        }
        cpu_task *ct = ct_of(t);
        if (what == PICK_START) {
            mr_request *r = mr_task_take(t);
            pthread_mutex_unlock(&c->mu);
            mr_cpu_exec_copy_inputs(t->ex, r->in);
            pthread_mutex_lock(&c->mu);
            t->io = 0;
            position(e, t, 0, 0);
            continue;
        }
        int step = ct->step, phase = ct->phase;
        int64_t i = ct->taken++;
        ct->active++;
        ct->served = ++e->tick;
        if (c->policy == MR_POLICY_PADDING && t->crit == MR_TASK_NORMAL) ct->admitted = 1;
        mr_coord_count_block(t, 0);
        wk->running = t;
        wk->t0 = mr_coord_now_ms();
        pthread_mutex_unlock(&c->mu);
        mr_cpu_exec_run_block(t->ex, step, phase, i, wk->id);
        double dt = mr_coord_now_ms() - wk->t0;
        pthread_mutex_lock(&c->mu);
        mr_coord_trace(c, t, wk->id, step, MR_TRACE_BLOCK, wk->t0, wk->t0 + dt);
        wk->running = NULL;
        ct->active--;
        ct->done++;
        mr_coord_count_block(t, 1);
        /* Exponentially weighted: recent blocks of this step count most. */
        ct->est[step] = ct->est[step] > 0 ? 0.75 * ct->est[step] + 0.25 * dt : dt;
        if (ct->done == ct->nb) position(e, t, step, phase + 1);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void cpu_stop(mr_coord *c) {
    cpu_engine *e = c->eng_state;
    if (!e) return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_broadcast(&c->work_cv);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < e->n_started; i++) pthread_join(e->w[i].th, NULL);
    free(e->w);
    free(e);
    c->eng_state = NULL;
}

static mr_status cpu_start(mr_coord *c, mr_err *err) {
    cpu_engine *e = mr_calloc(1, sizeof *e, "CPU engine", err);
    if (!e) return err->status;
    e->c = c;
    e->n = c->rt->iface->n_threads(c->rt->be);
    e->w = mr_calloc((size_t)e->n, sizeof(worker), "CPU engine workers", err);
    if (!e->w) {
        free(e);
        return err->status;
    }
    int k = c->partition_critical > 0 ? c->partition_critical : e->n / 2;
    if (k < 1) k = 1;
    if (k > e->n - 1) k = e->n - 1;
    e->n_crit = k;
    c->eng_state = e;
    for (int i = 0; i < e->n; i++) {
        e->w[i].e = e;
        e->w[i].id = i;
        if (pthread_create(&e->w[i].th, NULL, worker_main, &e->w[i]) != 0) {
            cpu_stop(c);
            c->stopping = 0;
            return mr_errf(err, MR_ERR_BACKEND, "cannot start coordinator worker thread %d", i);
        }
        e->n_started++;
    }
    return MR_OK;
}

/* Elastic: block durations measured by `miriam tune` start the estimates, so that normal
 * blocks can fill the leftover workers from the first request on instead of after each step
 * has been seen once (phase 1 stands for the recurrent phases of multi-phase steps, the ones
 * that repeat). */
static mr_status seed_estimates(mr_coord *c, mr_task *t, double *est, int ns, mr_err *err) {
    mr_profile *prof;
    MR_TRY(mr_coord_load_profile(c, t, &prof, err));
    if (!prof) return MR_OK;
    for (int s = 0; s < ns; s++) {
        int phase = mr_cpu_exec_n_phases(t->ex, s) > 1 ? 1 : 0;
        double us = mr_profile_block_us(prof, s, phase, 0);
        if (us > 0) est[s] = us / 1000.0;
    }
    mr_profile_free(prof);
    return MR_OK;
}

static mr_status cpu_task_attach(mr_coord *c, mr_task *t, mr_err *err) {
    cpu_task *ct = mr_calloc(1, sizeof *ct, "task state", err);
    int ns = mr_cpu_exec_n_steps(t->ex);
    double *est = ct ? mr_calloc((size_t)(ns ? ns : 1), sizeof(double), "task state", err) : NULL;
    if (est && c->policy == MR_POLICY_ELASTIC && seed_estimates(c, t, est, ns, err) != MR_OK) {
        free(est);
        est = NULL;
    }
    if (!est) {
        free(ct);
        return err->status;
    }
    ct->est = est;
    t->eng = ct;
    return MR_OK;
}

double mr_cpu_engine_estimate_ms(const mr_task *t, int step) {
    const cpu_task *ct = t->eng;
    return ct && step >= 0 && step < mr_cpu_exec_n_steps(t->ex) ? ct->est[step] : 0.0;
}

static void cpu_task_detach(mr_coord *c, mr_task *t) {
    cpu_engine *e = c->eng_state;
    if (e && e->owner == t) e->owner = NULL;
    cpu_task *ct = t->eng;
    if (ct) free(ct->est);
    free(ct);
    t->eng = NULL;
}

const mr_engine_iface mr_engine_cpu = {
    .name = "cpu",
    .start = cpu_start,
    .stop = cpu_stop,
    .task_attach = cpu_task_attach,
    .task_detach = cpu_task_detach,
};
