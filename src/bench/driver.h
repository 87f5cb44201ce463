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
} mr_bench_task_result;

/* Called from the thread running the benchmark about four times a second. */
typedef void (*mr_bench_progress_fn)(double elapsed_s, double total_s, void *user);

typedef struct mr_bench_params {
    mr_runtime_params runtime;     /* runtime.policy is the policy under test */
    int solo_task;                 /* -1 (default): every task; k: task k alone */
    double grace_s;                /* time given to in-flight requests at the end (default 2) */
    mr_bench_progress_fn progress; /* may be NULL */
    void *progress_user;
} mr_bench_params;

typedef struct mr_bench_result {
    mr_policy policy;
    int solo;                /* 1: each task ran alone (mr_bench_run_solo) */
    mr_backend_kind backend; /* the backend that ran it */
    int n_threads;           /* its CPU worker threads (0 on other backends) */
    double measured_s;       /* length of the measured window (of the last run, for solo) */
    int n_tasks;
    mr_bench_task_result tasks[MR_WL_MAX_TASKS];
} mr_bench_result;

mr_bench_params mr_bench_default_params(void);

/* Runs the workload once under params->runtime.policy. The workload's duration_s, warmup_s
 * and seed are used as they are (callers may override them in the struct before). Errors (a
 * runtime that cannot be created, a model that does not load, a request that fails) name the
 * workload file and the task. */
mr_status mr_bench_run(const mr_workload *w, const mr_bench_params *params, mr_bench_result *out,
                       mr_err *err);

/* The baseline: each task alone (one task in the runtime, policy elastic, the same arrival
 * process), one run per task; out->tasks[k] comes from task k's run. */
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
