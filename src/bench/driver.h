/* The workload driver: runs a parsed workload (src/bench/workload.h) on a fresh runtime under
 * one sharing policy and collects per-task results, for `miriam bench WORKLOAD.json` and
 * anything else that compares policies on a workload.
 *
 * A run: create the runtime (params.runtime, whose policy field selects the policy), load each
 * task's model, create its task, allocate seeded inputs and one output buffer per request that
 * can be in flight; then submit for warmup_s + duration_s seconds: open-loop arrivals
 * (periodic, Poisson, trace) from a driver thread at their times, closed loops from their
 * completion callbacks. Statistics are reset after the warm-up. At the end the arrivals stop,
 * requests still in flight get grace_s seconds to finish, and the rest are cancelled. */
#ifndef MR_BENCH_DRIVER_H
#define MR_BENCH_DRIVER_H

#include "bench/workload.h"

/* Most latency samples a run may keep per task (mr_bench_params.keep_latencies). */
#define MR_BENCH_MAX_LATENCIES (1 << 24)

typedef struct mr_bench_task_result {
    int ran;           /* 0 when the task was not part of the run (another task's solo run) */
    int64_t submitted; /* requests accepted after the warm-up */
    int64_t completed; /* after the warm-up, including those that finished in the grace period */
    int64_t rejected;  /* open-loop arrivals refused: max_in_flight requests already in flight */
    int64_t cancelled; /* still unfinished at the end of the grace period */
    int64_t deadline_misses;
    /* Latency (submission to completion) of the completed requests; NaN when none. */
    double p50_ms, p90_ms, p99_ms, max_ms, mean_ms;
    /* Requests completed within the measured window, per second of it. */
    double throughput_rps;
    /* 100 * deadline_misses / completed; NaN without a deadline or without completions. */
    double miss_pct;
    /* With mr_bench_params.keep_latencies = K > 0: latencies (ms) of the requests counted in
     * `completed`, in no particular order. All of them while there are at most K; beyond that a
     * uniform random sample of K (reservoir sampling), so a latency distribution drawn from it
     * stays unbiased however long the run. NULL / 0 otherwise. Owned by the result
     * (mr_bench_result_free). */
    double *latencies_ms;
    int64_t n_latencies;
    int64_t n_latencies_seen; /* completions offered to the sample (>= n_latencies) */
} mr_bench_task_result;

/* One kernel step's execution, for "which kernel ran when" timelines: on `lane` (a CUDA
 * stream or a CPU worker thread), step `step` of a request of task `task` (an index into the
 * workload's tasks) ran from t0_ms to t1_ms (milliseconds from the start of the run). */
typedef struct mr_bench_trace_event {
    int lane;
    int task;
    int step;
    double t0_ms, t1_ms;
    int critical; /* the task's criticality, 1 = critical */
} mr_bench_trace_event;

/* Called from the thread running the benchmark about four times a second. */
typedef void (*mr_bench_progress_fn)(double elapsed_s, double total_s, void *user);

/* A policy as the benchmarks name it: a sharing policy and, for elastic, where the shard
 * sizes come from (mr_runtime_params.profiles). */
typedef struct mr_bench_policy {
    mr_policy policy;
    mr_profile_use profiles;
} mr_bench_policy;

/* Every name mr_bench_policy_parse reads: the six policies, then elastic's two variants. */
#define MR_BENCH_MAX_POLICIES 8

/* "sequential", "multistream", "priority", "padding", "partition", "elastic" (profiles AUTO:
 * tuned when cached, else analytic), "elastic-tuned" (REQUIRE) and "elastic-analytic" (OFF).
 * MR_ERR_INVALID_ARG for anything else. */
mr_status mr_bench_policy_parse(const char *name, mr_bench_policy *out);
/* The name of p, as mr_bench_policy_parse reads it. */
const char *mr_bench_policy_name(mr_bench_policy p);
/* The policy named by index 0, 1, ... (MR_BENCH_MAX_POLICIES names); 0 past the end. */
int mr_bench_policy_at(int index, mr_bench_policy *out);

typedef struct mr_bench_params {
    mr_runtime_params runtime;     /* runtime.policy is the policy under test */
    int solo_task;                 /* -1 (default): every task; k: task k alone */
    double grace_s;                /* time given to in-flight requests at the end (default 2) */
    mr_bench_progress_fn progress; /* may be NULL */
    void *progress_user;
    int keep_latencies; /* latency samples kept per task, in [0, MR_BENCH_MAX_LATENCIES];
                           0 (default): none (see mr_bench_task_result.latencies_ms) */
    double trace_ms;    /* record the kernel-execution trace of the first trace_ms of the
                           measured window (mr_bench_result.trace); 0 (default): none */
    /* Called with each new runtime before the models load (e.g. to register custom
     * operators); non-zero fails the run, the callback having said why. NULL: none. */
    int (*setup_runtime)(mr_runtime *rt, void *user);
    void *setup_user;
} mr_bench_params;

typedef struct mr_bench_result {
    mr_policy policy;
    mr_profile_use profiles; /* the runtime's setting (mr_bench_policy) */
    int solo;                /* 1: each task ran alone (mr_bench_run_solo) */
    mr_backend_kind backend; /* the backend that ran it */
    int n_threads;           /* its CPU worker threads (0 on other backends) */
    double measured_s;       /* length of the measured window (of the last run, for solo) */
    int n_tasks;
    mr_bench_task_result tasks[MR_WL_MAX_TASKS];
    /* The kernel-execution trace of the first mr_bench_params.trace_ms of the measured window
     * (events that began in it), in no particular order; NULL / 0 when not asked for. Owned
     * by the result. */
    mr_bench_trace_event *trace;
    int64_t n_trace;
} mr_bench_result;

mr_bench_params mr_bench_default_params(void);

/* Frees what a result owns (latency samples, trace) and clears those fields; the rest stays
 * readable. Safe on a result that owns nothing, and twice. */
void mr_bench_result_free(mr_bench_result *r);

/* Runs the workload once under params->runtime.policy. The workload's duration_s, warmup_s
 * and seed are used as they are (callers may override them in the struct before). Errors (a
 * runtime that cannot be created, a model that does not load, a request that fails) name the
 * workload file and the task. *out is overwritten, not freed: free a previous result first.
 * On failure *out owns nothing. */
mr_status mr_bench_run(const mr_workload *w, const mr_bench_params *params, mr_bench_result *out,
                       mr_err *err);

/* The baseline: each task alone (one task in the runtime, policy elastic, the same arrival
 * process), one run per task; out->tasks[k] comes from task k's run. As mr_bench_run, *out is
 * overwritten and owns nothing on failure. */
mr_status mr_bench_run_solo(const mr_workload *w, const mr_bench_params *params,
                            mr_bench_result *out, mr_err *err);

/* Task i of run r against the solo baseline: for a critical task p99 / solo p99 (1 = no
 * slowdown), for a normal one throughput / solo throughput (1 = all of it). NaN when either
 * value is missing, or r is itself the solo run. */
double mr_bench_vs_solo(const mr_workload *w, const mr_bench_result *r, const mr_bench_result *solo,
                        int i);

/* A run in two numbers: the worst (largest) critical p99 ratio and the mean normal throughput
 * ratio of mr_bench_vs_solo; NaN when there is no such task or no baseline. */
void mr_bench_summary(const mr_workload *w, const mr_bench_result *r, const mr_bench_result *solo,
                      double *critical_p99, double *normal_throughput);

#endif
