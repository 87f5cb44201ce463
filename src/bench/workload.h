/* MDTB workload files: a JSON description of the tasks that share the device (model,
 * criticality, deadline, arrival process) and of how long to measure them, and the arrival
 * generators that turn an open-loop arrival process into submission times. The format is
 * documented in docs/WORKLOADS.md. Nothing here needs a runtime. */
#ifndef MR_BENCH_WORKLOAD_H
#define MR_BENCH_WORKLOAD_H

#include <stdint.h>

#include "core/err.h"
#include "miriam.h"

/* Bounds of the format: generous for any real benchmark, small enough that a file cannot ask
 * for absurd amounts of time, memory or threads. */
#define MR_WL_MAX_TASKS       64
#define MR_WL_MAX_NAME        64         /* task and workload names, bytes (without the NUL) */
#define MR_WL_MAX_RATE_HZ     1e5        /* periodic and Poisson arrival rates */
#define MR_WL_MAX_SECONDS     86400.0    /* duration_s, warmup_s: one day */
#define MR_WL_MAX_MS          86400e3    /* deadlines, offsets, trace timestamps: one day */
#define MR_WL_MAX_CONCURRENCY 1024       /* closed-loop concurrency and max_in_flight */
#define MR_WL_MAX_FILE_BYTES  (64 << 20) /* workload and trace files */

typedef enum mr_arrival_kind {
    MR_ARRIVAL_CLOSED = 0,   /* `concurrency` requests always outstanding */
    MR_ARRIVAL_PERIODIC = 1, /* offset_ms + k * 1000 / rate_hz */
    MR_ARRIVAL_POISSON = 2,  /* exponential gaps of mean 1000 / rate_hz ms */
    MR_ARRIVAL_TRACE = 3,    /* timestamps read from a CSV column, replayed once */
} mr_arrival_kind;

/* "closed", "periodic", "poisson", "trace". */
const char *mr_arrival_kind_name(mr_arrival_kind kind);

typedef struct mr_wl_arrival {
    mr_arrival_kind kind;
    int concurrency;  /* closed */
    double rate_hz;   /* periodic, poisson */
    double offset_ms; /* periodic */
    char *trace_file; /* trace: the path as written in the workload file */
    char *trace_path; /* trace: resolved against the workload file's directory */
    char *column;     /* trace: the CSV column (default: the task's name) */
    double *times_ms; /* trace: the column's timestamps, non-decreasing */
    int64_t n_times;
} mr_wl_arrival;

typedef struct mr_wl_task {
    char *name;       /* unique within the workload: [A-Za-z0-9_.-], 1..MR_WL_MAX_NAME bytes */
    char *model;      /* as written: "zoo:NAME" or an ONNX path */
    char *model_spec; /* for mr_model_load(): "zoo:NAME" or the path resolved against the
                         workload file's directory */
    mr_criticality criticality;
    double deadline_ms; /* 0: none */
    int max_in_flight;  /* default 8 (and at least a closed loop's concurrency) */
    mr_wl_arrival arrival;
} mr_wl_task;

typedef struct mr_workload {
    char *name;
    char *description; /* "" when absent */
    char *file;        /* the name errors are reported under (the path as given) */
    double duration_s; /* measured time after the warm-up */
    double warmup_s;   /* default 1.0 */
    uint64_t seed;     /* default 1 */
    int n_tasks;
    mr_wl_task *tasks;
} mr_workload;

/* Reads and validates a workload file. On failure *out is NULL and err names the file, the
 * JSON path of the field at fault and what was wrong. */
mr_status mr_workload_load(const char *path, mr_workload **out, mr_err *err);

/* Parses a workload from memory (need not be NUL-terminated). `file` is the name messages use
 * (may be NULL: "<workload>"); relative model and trace paths resolve against `base_dir`
 * (NULL: the current directory). */
mr_status mr_workload_parse(const char *data, size_t size, const char *file, const char *base_dir,
                            mr_workload **out, mr_err *err);

void mr_workload_free(mr_workload *w);

/* Index of the task called `name`, or -1. */
int mr_workload_find_task(const mr_workload *w, const char *name);

/* A short description of a task's arrival process for reports: "periodic 30 Hz",
 * "periodic 30 Hz +5 ms", "poisson 50 Hz", "closed x2", "trace example.csv:col". */
void mr_arrival_describe(const mr_wl_arrival *a, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------- */
/* Arrival generation (open loop)                                                           */

/* Generates a task's arrival times in milliseconds from the start of the run (the start of
 * the warm-up). Deterministic: the same task, workload seed and position give the same
 * sequence; a Poisson task's stream depends on the seed and the task's name only, so adding
 * or reordering other tasks leaves it unchanged. */
typedef struct mr_arrivals {
    mr_arrival_kind kind;
    double period_ms, offset_ms, mean_gap_ms;
    const double *times_ms;
    int64_t n_times;
    int64_t k;    /* arrivals generated so far */
    double t_ms;  /* the last Poisson arrival */
    uint64_t rng; /* splitmix64 state (Poisson) */
} mr_arrivals;

void mr_arrivals_init(mr_arrivals *a, const mr_wl_task *task, uint64_t seed);
/* The next arrival time: 1 and *t_ms, or 0 when there is none (a closed loop, or the end of a
 * trace). Times are non-decreasing. */
int mr_arrivals_next(mr_arrivals *a, double *t_ms);

/* A 64-bit hash of (seed, name, index) for deriving independent per-task streams (arrivals,
 * input data). */
uint64_t mr_workload_hash(uint64_t seed, const char *name, uint64_t index);

#endif
