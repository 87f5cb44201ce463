/* The runtime coordinator: tasks, requests, their queues and statistics (src/coord/task.c),
 * and an engine per backend that executes the requests' kernel steps under the runtime's
 * policy (src/coord/cpu_engine.c: worker threads; src/coord/cuda_engine.c: a dispatcher
 * thread launching elastic kernels on streams).
 *
 * Locking: one mutex per coordinator (mu) guards every field below that is not marked
 * otherwise, of the coordinator, its tasks and their requests. Engines hold it while they
 * pick work and release it while they execute it (a logical block, a copy, a callback).
 * `work_cv` wakes the engine's threads (new request, cancellation, destruction); `done_cv`
 * wakes threads waiting for requests or for a task to go idle. */
#ifndef MR_COORD_COORD_H
#define MR_COORD_COORD_H

#include <pthread.h>
#include <stdint.h>

#include "backend/backend.h"
#include "core/err.h"
#include "miriam.h"

typedef struct mr_coord mr_coord;

typedef enum mr_rq_state {
    MR_RQ_QUEUED = 0,
    MR_RQ_RUNNING = 1,   /* taken by its task: inputs copied, kernel steps running */
    MR_RQ_FINISHING = 2, /* outputs written or failed/cancelled; its callback is running */
    MR_RQ_DONE = 3,
} mr_rq_state;

struct mr_request {
    mr_task *task; /* valid until the request is done (the handle may outlive the task) */
    mr_coord *c;
    mr_request *next; /* task queue */
    uint64_t seq;     /* submission order over the whole coordinator */
    int n_in, n_out;
    mr_tensor *in, *out; /* copies of the caller's tensor structs (data borrowed) */
    mr_request_cb cb;
    void *user;
    int has_handle; /* the caller holds a handle (not yet released) */
    mr_rq_state state;
    int cancel; /* cancellation asked: stop at the next kernel step */
    double t_submit, t_start, t_end;
    mr_request_result result;
    /* Instrumentation for tests: blocks of other tasks begun / finished between this
     * request's submission and its first kernel block (snapshots of the coordinator's totals
     * minus the task's own at submission, then the differences at the first block). */
    int64_t other_begun, other_done;
    int first_block_seen;
};

/* Completed-request latencies: a ring of the most recent MR_STATS_WINDOW. */
#define MR_STATS_WINDOW 65536

typedef struct mr_task_counters {
    int64_t submitted, completed, failed, cancelled, deadline_misses;
    double sum_latency, max_latency, t_reset;
    double *lat, *queue, *exec; /* rings, grown on demand up to MR_STATS_WINDOW */
    int64_t n_ring, cap_ring, head;
} mr_task_counters;

struct mr_task {
    mr_coord *c;
    mr_task *next; /* coordinator's list */
    mr_model *model;
    mr_exec *ex;
    char name[64];
    int id; /* 1, 2, ... in creation order */
    mr_criticality crit;
    double deadline_ms;
    int max_in_flight;
    double solo_ms;         /* admission control: the model's measured solo latency, or 0 */
    int admission_exceeded; /* solo_ms > deadline_ms (task created under MR_ADMISSION_WARN) */
    int in_flight;          /* queued + running (not yet FINISHING) */
    mr_request *q_head, *q_tail;
    mr_request *cur; /* the request being executed, or NULL */
    int io;          /* an engine thread is starting/finishing `cur` outside the lock */
    int destroying;
    mr_task_counters st;
    int64_t blocks_begun, blocks_done; /* logical blocks, over the task's life */
    void *eng;                         /* engine's per-task state */
};

/* What a backend contributes to the coordinator. Every function except start/stop is called
 * with c->mu held. */
typedef struct mr_engine_iface {
    const char *name;
    /* Starts the engine's threads (called once, when the first task is created). */
    mr_status (*start)(mr_coord *c, mr_err *err);
    /* Stops and joins them (no task is left). Called without the lock. */
    void (*stop)(mr_coord *c);
    /* Per-task state (t->eng), at task creation / destruction (the task is idle then). */
    mr_status (*task_attach)(mr_coord *c, mr_task *t, mr_err *err);
    void (*task_detach)(mr_coord *c, mr_task *t);
} mr_engine_iface;

struct mr_coord {
    mr_runtime *rt;
    const mr_engine_iface *eng;
    void *eng_state;
    mr_policy policy;
    int partition_critical;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    mr_task *tasks;
    int n_tasks, n_created;
    unsigned list_gen; /* changes whenever a task is added or removed */
    uint64_t seq;
    int64_t blocks_begun, blocks_done; /* over every task */
    /* What the CUDA engine did (for tests and logs): yield flag raised, preempted requests
     * resumed from their counters, elastic shards launched. */
    int64_t n_yields, n_resyncs, n_shards;
    /* logical blocks that the first wave of a preemptible launch left undone because it found
     * the yield flag set, re-run by the resume (CUDA engine) */
    int64_t n_holes;
    int64_t n_tuned_shards; /* of n_shards, sized from a tuned profile */
    /* Execution trace (mr_runtime_trace_start); trace == NULL: not recording. */
    mr_trace_event *trace;
    size_t trace_n, trace_cap;
    int started, stopping;
};

/* Created lazily by the first mr_task_create; destroyed by mr_runtime_destroy after every
 * task. */
mr_status mr_coord_create(mr_runtime *rt, const mr_engine_iface *eng, mr_coord **out, mr_err *err);
void mr_coord_destroy(mr_coord *c);
/* Destroys every remaining task (mr_runtime_destroy). */
void mr_coord_destroy_tasks(mr_coord *c);

double mr_coord_now_ms(void);

/* ---- for engines (c->mu held) ---- */

/* 1 if the task has no request running and one may start: a queued request, no I/O. */
static inline int mr_task_startable(const mr_task *t) {
    return !t->cur && !t->io && t->q_head;
}
/* Takes the task's first queued request as `cur` (state RUNNING, t_start set, t->io = 1). The
 * engine copies the inputs outside the lock, then clears t->io. */
mr_request *mr_task_take(mr_task *t);
/* Completes t->cur with `status` (MR_OK: outputs are written): statistics, then, outside
 * the lock (t->io set meanwhile), the callback; then marks it done, wakes waiters and frees it
 * if it has no handle. Returns with c->mu held again and t->cur == NULL. */
void mr_task_finish(mr_task *t, mr_status status);
/* Counts a logical block of t that begins (finished = 0) or ends (1); when it begins, and it
 * is the first of t->cur, records the request's instrumentation. */
void mr_coord_count_block(mr_task *t, int finished);

/* The tuned profile of t's model on the runtime's device (src/coord/profiles.c), by the
 * runtime's `profiles` setting: NULL with MR_OK when there is none or profiles are off (said
 * once, at MR_LOG_INFO); a cached profile that cannot be used (bad file, another plan) is a
 * warning, or, for a normal task under MR_PROFILES_REQUIRE, an error. */
struct mr_profile;
mr_status mr_coord_load_profile(mr_coord *c, mr_task *t, struct mr_profile **out, mr_err *err);

/* Where a phase that a yield stopped resumes (the CUDA engine's resync): holes[0..*n), the
 * logical blocks below its counter c that were left undone, ascending. Returns the start of the
 * run of holes that ends at c (c itself when block c - 1 ran) and drops that run from *n: it is
 * resumed from the counter, and only the holes below it are re-run one by one. */
static inline long long mr_coord_resume_point(const long long *holes, long long *n, long long c) {
    while (*n > 0 && holes[*n - 1] == c - 1) {
        c--;
        (*n)--;
    }
    return c;
}

/* Tests: the CPU engine's block-duration estimate of t's step (ms; 0 = none yet). */
double mr_cpu_engine_estimate_ms(const mr_task *t, int step);

/* Appends a trace event if recording (c->mu held). */
static inline void mr_coord_trace(mr_coord *c, const mr_task *t, int lane, int step,
                                  mr_trace_kind kind, double t0, double t1) {
    if (!c->trace || c->trace_n >= c->trace_cap) return;
    mr_trace_event *e = &c->trace[c->trace_n++];
    e->lane = lane;
    e->task = t->id;
    e->critical = t->crit == MR_TASK_CRITICAL;
    e->step = step;
    e->kind = kind;
    e->t0_ms = t0;
    e->t1_ms = t1;
}

/* Instrumentation (tests): blocks of other tasks begun and finished while the request waited
 * for its first block. */
void mr_request_debug(const mr_request *r, int64_t *other_begun, int64_t *other_done);

extern const mr_engine_iface mr_engine_cpu;
#ifdef MIRIAM_HAVE_CUDA
extern const mr_engine_iface mr_engine_cuda;
#endif

#endif
