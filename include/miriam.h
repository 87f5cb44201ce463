/*
 * miriam: real-time multi-DNN inference on one GPU with elastic kernels.
 *
 * This is the only header users include. Conventions:
 *  - Every public symbol starts with mr_ (types, functions) or MR_ (constants).
 *  - Handles are opaque; every create or load function has a destroy function, and destroying
 *    NULL is a no-op. Destroying a runtime also destroys the models and tasks still in it.
 *  - Parameters come in structs initialised by mr_*_default_params(), so fields can be added
 *    without breaking callers.
 *  - Every fallible call returns mr_status. MR_OK is 0. On failure, mr_runtime_last_error()
 *    (or the caller-supplied error buffer of the few runtime-less calls) says what went wrong.
 *    The library never aborts, exits or prints on its own: diagnostics go to the logging
 *    callback of the runtime, which is silent unless set.
 *  - No global mutable state: everything lives in the runtime object.
 *
 * Thread safety:
 *  - Distinct runtimes are fully independent.
 *  - Within one runtime, loading/destroying models and mr_model_run() may be called from
 *    several threads; runs are serialised on the runtime's worker pool (one model runs at a
 *    time, using all workers). A model must not be destroyed while another thread runs it.
 *  - mr_runtime_last_error() returns the message of the most recent failure on that runtime
 *    from any thread; copy it before making further calls if several threads share a runtime.
 *  - The logging callback may be called from any thread that calls into the runtime, and
 *    from the runtime's own threads.
 *  - Tasks and requests (asynchronous, many threads): see "Tasks and requests" below.
 */
#ifndef MIRIAM_H
#define MIRIAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MR_VERSION_MAJOR 0
#define MR_VERSION_MINOR 1
#define MR_VERSION_PATCH 0

/* Largest tensor rank the library handles. */
#define MR_MAX_DIMS 8

/* ---------------------------------------------------------------------------------------- */
/* Status codes                                                                             */

typedef enum mr_status {
    MR_OK = 0,
    MR_ERR_INVALID_ARG = 1, /* a NULL handle, an out-of-range index, a bad parameter value */
    MR_ERR_IO = 2,          /* a file could not be opened, read or written */
    MR_ERR_PARSE = 3,       /* a model or .npy file is malformed, truncated or inconsistent */
    MR_ERR_UNSUPPORTED = 4, /* an operator, attribute, data type or feature is not supported */
    MR_ERR_SHAPE = 5,       /* tensor shapes or data types do not agree */
    MR_ERR_NO_MEMORY = 6,   /* a host or device allocation failed */
    MR_ERR_NOT_FOUND = 7,   /* an unknown zoo model, tensor name or device */
    MR_ERR_BACKEND = 8,     /* the backend failed (e.g. a CUDA error) or is not available */
    MR_ERR_GRAPH = 9,       /* the graph is invalid: a cycle, a dangling input, a bad output */
    MR_ERR_INTERNAL = 10,   /* a bug in miriam: please report it */
    MR_ERR_BUSY = 11,       /* a task already has max_in_flight requests queued or running */
    MR_ERR_CANCELLED = 12,  /* the request was cancelled (mr_request_cancel, or its task or
                               runtime was destroyed) before it completed */
    MR_ERR_DEADLINE = 13,   /* admission control: a critical task's model, alone on the
                               device, takes longer than the task's deadline */
} mr_status;

/* A static, human-readable name for a status ("invalid argument", ...). Never NULL. */
const char *mr_status_str(mr_status status);

/* ---------------------------------------------------------------------------------------- */
/* Data types and tensors                                                                   */

typedef enum mr_dtype {
    MR_DTYPE_INVALID = 0,
    MR_DTYPE_F32 = 1,
    MR_DTYPE_I64 = 2,
    MR_DTYPE_I32 = 3,
} mr_dtype;

/* "float32", "int64", "int32" or "invalid". */
const char *mr_dtype_name(mr_dtype dtype);
/* Bytes per element; 0 for MR_DTYPE_INVALID. */
size_t mr_dtype_size(mr_dtype dtype);

/* A borrowed view of a dense, C-ordered tensor. The library never frees `data` of a tensor
 * the caller passes in. */
typedef struct mr_tensor {
    mr_dtype dtype;
    int ndim;
    int64_t dims[MR_MAX_DIMS];
    void *data;
} mr_tensor;

/* Number of elements (1 for a scalar of rank 0); -1 if a dimension is negative or the count
 * overflows. */
int64_t mr_tensor_numel(const mr_tensor *t);

/* ---------------------------------------------------------------------------------------- */
/* Logging                                                                                  */

typedef enum mr_log_level {
    MR_LOG_ERROR = 0,
    MR_LOG_WARN = 1,
    MR_LOG_INFO = 2,
    MR_LOG_DEBUG = 3,
} mr_log_level;

/* Receives one complete message (no trailing newline). */
typedef void (*mr_log_fn)(mr_log_level level, const char *message, void *user_data);

/* ---------------------------------------------------------------------------------------- */
/* Runtime                                                                                  */

typedef enum mr_backend_kind {
    MR_BACKEND_AUTO = 0, /* CUDA when a usable GPU is present, else CPU */
    MR_BACKEND_CPU = 1,
    MR_BACKEND_CUDA = 2,
} mr_backend_kind;

/* "auto", "cpu", "cuda". */
const char *mr_backend_name(mr_backend_kind kind);
/* Parses "auto", "cpu" or "cuda". Returns MR_ERR_INVALID_ARG for anything else. */
mr_status mr_backend_parse(const char *name, mr_backend_kind *out);

/* Arithmetic of convolutions and matrix products on the GPU. The CPU backend always computes
 * in float32 and ignores the setting. */
typedef enum mr_precision {
    MR_PRECISION_FP32 = 0, /* float32 throughout (default): matches the CPU reference closely */
    MR_PRECISION_TF32 = 1, /* convolutions and matrix products on tensor cores with TF32
                              inputs (10-bit mantissa) and float32 accumulation, as PyTorch
                              runs cuDNN convolutions by default; ~1e-3 relative error.
                              LSTM/GRU gate activations from hardware approximations
                              (~1e-7 absolute error); a 2-layer LSTM's recurrent dot
                              products on tensor cores where its layers run one after the
                              other (small SM partitions), with TF32's rounding */
} mr_precision;

/* "fp32", "tf32". */
const char *mr_precision_name(mr_precision precision);
/* Parses "fp32" or "tf32". Returns MR_ERR_INVALID_ARG for anything else. */
mr_status mr_precision_parse(const char *name, mr_precision *out);

/* How the runtime shares the device among tasks (see "Tasks and requests" below). All
 * policies drive the same kernels; on the CPU backend the worker threads play the SMs. */
typedef enum mr_policy {
    MR_POLICY_SEQUENTIAL = 0,  /* one request at a time, in arrival order; queued critical
                                  requests go first (no preemption) */
    MR_POLICY_MULTISTREAM = 1, /* every task runs at once, equal priority (a stream each) */
    MR_POLICY_PRIORITY = 2,    /* every task runs at once; critical kernels have priority
                                  (CUDA stream priorities; on the CPU, workers prefer critical
                                  blocks) */
    MR_POLICY_PADDING = 3,     /* REEF-style padding: a normal kernel is launched whole, and
                                  only when it fits in what the running critical kernel leaves
                                  free; once launched it is not preempted */
    MR_POLICY_PARTITION = 4,   /* a static split: critical tasks on `partition_critical` SMs
                                  (CPU: workers), normal tasks on the rest */
    MR_POLICY_ELASTIC = 5,     /* Miriam (default): normal kernels run preemptible at full
                                  width while no critical request is in flight; a critical
                                  request drains them within one logical block, and until it
                                  completes normal work continues only as elastic shards that
                                  fit the resources the critical kernels leave and finish in
                                  bounded time */
} mr_policy;

/* Where the elastic policy's shard sizes come from (docs/TUNING.md). `miriam tune` measures a
 * model's elastic kernels and caches a profile per (model, device, SMs, precision); with one,
 * a normal task's shards beside critical kernels are the measured configurations that fit
 * and finish within the shard budget, otherwise an analytic estimate from the footprints. */
typedef enum mr_profile_use {
    MR_PROFILES_AUTO = 0,    /* the cached profile when there is one, else the analytic
                                estimate, said once per task at MR_LOG_INFO (default) */
    MR_PROFILES_OFF = 1,     /* the analytic estimate only; no profile is read */
    MR_PROFILES_REQUIRE = 2, /* creating a normal task under the elastic policy fails
                                (MR_ERR_NOT_FOUND) when its model has no usable profile */
} mr_profile_use;

/* "sequential", "multistream", "priority", "padding", "partition", "elastic". */
const char *mr_policy_name(mr_policy policy);
/* Parses the names above. Returns MR_ERR_INVALID_ARG for anything else. */
mr_status mr_policy_parse(const char *name, mr_policy *out);

typedef struct mr_runtime mr_runtime;

typedef struct mr_runtime_params {
    mr_backend_kind backend;   /* default MR_BACKEND_AUTO */
    int n_threads;             /* CPU worker threads; 0 = one per online core (default) */
    int gpu;                   /* CUDA device ordinal (default 0) */
    int sms;                   /* CUDA: confine the runtime to this many SMs with a green context
                                  (multiple of 8 on Hopper); 0 = the whole GPU (default) */
    int plain_launch;          /* CUDA: run kernels as ordinary (non-elastic) grids; the baseline
                                  for measuring the elastic overhead. Default 0: elastic */
    int cuda_graphs;           /* CUDA: replay a model's launches as a CUDA graph (default 1) */
    int dependent_launch;      /* CUDA, compute capability 9.0 and later: launch each of the
                                  library's kernels (model runs and the coordinator's tasks) with
                                  programmatic dependent launch, so its blocks are dispatched as
                                  soon as the kernel before it has finished (default 1; 0 =
                                  ordinary stream order, to measure what it saves) */
    int persistent_recurrence; /* CUDA, LSTM/GRU: run every time step of a layer in one
                                persistent launch, one block per tile of units, each keeping
                                its rows of R on chip. -1 (default): at batch 1 (on an H200
                                the zoo's lstm, as two single layers, took 0.41 ms on the whole GPU
                                and 0.57 on 16 SMs, against 0.46 and 0.79 with one launch per step);
                                0: one launch per time step; 1: wherever the layer's shapes allow.
                                Two layers the optimizer stacked (a 2-layer LSTM or GRU at
                                batch 1, as PyTorch exports it) always run persistent,
                                their time steps overlapped where the SMs hold both
                                layers' tiles (an H200's whole GPU) */
    mr_precision precision;    /* CUDA: see mr_precision (default MR_PRECISION_FP32) */
    mr_policy policy;          /* how tasks share the device (default MR_POLICY_ELASTIC) */
    int partition_critical;    /* MR_POLICY_PARTITION: SMs (CUDA, a multiple of the GPU's SM
                                  group size) or worker threads (CPU) reserved for critical
                                  tasks; 0 (default) = half, rounded to a valid size */
    mr_profile_use profiles;   /* MR_POLICY_ELASTIC: see mr_profile_use (default AUTO) */
    mr_log_fn log_fn;          /* NULL (default): the library stays silent */
    void *log_user_data;
    mr_log_level log_level; /* messages above this level are dropped; default MR_LOG_WARN */
} mr_runtime_params;

mr_runtime_params mr_runtime_default_params(void);

/* Creates a runtime. `params` may be NULL for the defaults. On failure *out is NULL and, as
 * no runtime exists to hold the message, it is written to errbuf (if not NULL). */
mr_status mr_runtime_create(const mr_runtime_params *params, mr_runtime **out, char *errbuf,
                            size_t errbuf_size);
void mr_runtime_destroy(mr_runtime *rt);

/* The backend actually in use (never MR_BACKEND_AUTO). */
mr_backend_kind mr_runtime_backend(const mr_runtime *rt);
/* Worker threads of the CPU backend (0 for other backends). */
int mr_runtime_n_threads(const mr_runtime *rt);
/* Message of the most recent failure on this runtime; "" if none. Never NULL. */
const char *mr_runtime_last_error(const mr_runtime *rt);

/* ---------------------------------------------------------------------------------------- */
/* Models                                                                                   */

typedef struct mr_model mr_model;

typedef struct mr_model_params {
    /* Value given to symbolic or unknown input dimensions (e.g. "batch_size"). Default 1. */
    int64_t default_dim;
    /* Graph passes (BatchNorm folding, bias/activation fusion, dropping Dropout/Identity,
     * constant folding). Default 1. Turning them off is for testing the passes. */
    int optimize;
} mr_model_params;

mr_model_params mr_model_default_params(void);

/* Loads an ONNX model from a file. `params` may be NULL. */
mr_status mr_model_load_file(mr_runtime *rt, const char *path, const mr_model_params *params,
                             mr_model **out);
/* Loads an ONNX model from memory; the buffer is not referenced after the call returns. */
mr_status mr_model_load_buffer(mr_runtime *rt, const void *data, size_t size,
                               const mr_model_params *params, mr_model **out);
/* Builds a model of the built-in zoo by name ("resnet18", ...); see mr_zoo_name(). */
mr_status mr_model_load_zoo(mr_runtime *rt, const char *name, const mr_model_params *params,
                            mr_model **out);
/* "zoo:NAME" loads from the zoo; anything else is a path to an ONNX file. */
mr_status mr_model_load(mr_runtime *rt, const char *spec, const mr_model_params *params,
                        mr_model **out);
void mr_model_destroy(mr_model *model);

/* Built-in zoo: names by index, NULL past the end; and a one-line description. */
const char *mr_zoo_name(int index);
const char *mr_zoo_description(const char *name);

/* Writes zoo model `name` to `path` as an ONNX file (IR version 8, opset 13, producer
 * "miriam"), for other runtimes and viewers: the graph as built, before any pass (Conv,
 * BatchNormalization, Relu, Clip, ... as torch.onnx exports the torchvision model), with the
 * zoo's weights as initializers named like the PyTorch state_dict ("layer1.0.conv1.weight").
 * Loading the file back gives the same outputs bit for bit. Needs no runtime: errors are
 * written to errbuf (may be NULL). MR_ERR_NOT_FOUND for an unknown name, MR_ERR_IO if the
 * file cannot be written (a partial file is removed). */
mr_status mr_zoo_export_onnx(const char *name, const char *path, char *errbuf, size_t errbuf_size);

/* Description of one model input or output. `name` is owned by the model. */
typedef struct mr_tensor_info {
    const char *name;
    mr_dtype dtype;
    int ndim;
    int64_t dims[MR_MAX_DIMS];
} mr_tensor_info;

int mr_model_n_inputs(const mr_model *model);
int mr_model_n_outputs(const mr_model *model);
mr_status mr_model_input_info(const mr_model *model, int index, mr_tensor_info *out);
mr_status mr_model_output_info(const mr_model *model, int index, mr_tensor_info *out);

typedef struct mr_model_stats {
    int64_t n_params;      /* learnable parameters as the framework counts them (BatchNorm
                              running mean/variance excluded), before any folding */
    int64_t flops;         /* floating-point operations of one inference (a multiply-add is 2) */
    size_t weight_bytes;   /* bytes of constant data after the graph passes */
    size_t arena_bytes;    /* planned activation arena of one execution context */
    size_t largest_tensor; /* bytes of the largest single activation */
    int n_nodes;           /* operators in the source graph */
    int n_steps;           /* kernel steps after the graph passes */
    size_t device_bytes;   /* GPU memory of this model (weights + arena + workspaces); 0 on
                              the CPU backend */
    int64_t n_blocks;      /* logical blocks of one inference, summed over steps */
} mr_model_stats;

mr_status mr_model_get_stats(const mr_model *model, mr_model_stats *out);

/* One kernel step of the execution plan, for inspection (`miriam info --steps`). Strings are
 * owned by the model. */
typedef struct mr_step_info {
    const char *op;     /* ONNX op type, with fusions appended ("Conv+Relu") */
    const char *name;   /* node name */
    const char *output; /* first output tensor */
    int64_t n_blocks;   /* logical grid */
    int64_t flops;
} mr_step_info;

int mr_model_n_steps(const mr_model *model);
mr_status mr_model_step_info(const mr_model *model, int index, mr_step_info *out);

/* Runs one inference synchronously. `inputs` and `outputs` are in the model's order and must
 * match its dtypes and shapes exactly (a mismatch is MR_ERR_SHAPE naming the tensor). Output
 * data buffers are caller-allocated. */
mr_status mr_model_run(mr_model *model, int n_inputs, const mr_tensor *inputs, int n_outputs,
                       mr_tensor *outputs);

/* ---------------------------------------------------------------------------------------- */
/* Tasks and requests                                                                       */
/*
 * A task is a model with a criticality: requests submitted to it run asynchronously under the
 * runtime's policy, alongside the requests of the other tasks. A task's own requests run one
 * at a time, in submission order. Critical tasks keep (as far as the policy allows) the
 * latency they have alone; normal tasks use what the critical ones leave.
 *
 * Lifetimes and threads:
 *  - A model backs at most one task at a time (the task runs in the model's execution
 *    context, so no memory is duplicated); load the model twice for two tasks. While a task
 *    exists, mr_model_run() on its model fails with MR_ERR_INVALID_ARG.
 *  - mr_request_submit(), _wait(), _poll(), _cancel() and mr_task_get_stats() may be called
 *    from any thread, concurrently.
 *  - Completion callbacks run on a runtime thread, one at a time per task, in completion
 *    order, with no lock held: a callback may submit requests (to any task) and read
 *    statistics, but must not wait for a request, nor destroy a task, model or runtime.
 *  - Destroying a task cancels its queued requests, cancels its running request at the next
 *    kernel step, waits for it, then returns; every request completes (callback called) with
 *    MR_ERR_CANCELLED if it did not finish. mr_model_destroy() first destroys the model's
 *    task, and mr_runtime_destroy() every remaining model (and so every task).
 *  - Request handles stay valid until mr_request_release(), also after completion and after
 *    their task is destroyed (not after their runtime is).
 */

typedef struct mr_task mr_task;
typedef struct mr_request mr_request;

typedef enum mr_criticality {
    MR_TASK_NORMAL = 0,   /* best effort: uses what critical tasks leave */
    MR_TASK_CRITICAL = 1, /* latency-critical: goes first */
} mr_criticality;

/* "normal", "critical". */
const char *mr_criticality_name(mr_criticality c);
/* Parses "normal" or "critical". Returns MR_ERR_INVALID_ARG for anything else. */
mr_status mr_criticality_parse(const char *name, mr_criticality *out);

/* Admission control of a critical task with a deadline: mr_task_create runs the model alone
 * (one warm-up and five timed runs of its execution context, on deterministic non-zero
 * random inputs, before the task joins the others) and compares the median, the task's solo
 * latency, with the deadline. A deadline below the solo latency cannot be met under any
 * policy. Normal tasks and tasks without a deadline are never measured. */
typedef enum mr_admission {
    MR_ADMISSION_WARN = 0,   /* default: an exceeded deadline is logged at MR_LOG_WARN (naming
                                the task, its solo latency and its deadline); the task is
                                created */
    MR_ADMISSION_REFUSE = 1, /* an exceeded deadline fails mr_task_create with MR_ERR_DEADLINE */
    MR_ADMISSION_OFF = 2,    /* no measurement */
} mr_admission;

/* "warn", "refuse", "off". */
const char *mr_admission_name(mr_admission a);
/* Parses "warn", "refuse" or "off". Returns MR_ERR_INVALID_ARG for anything else. */
mr_status mr_admission_parse(const char *name, mr_admission *out);

typedef struct mr_task_params {
    const char *name;           /* copied; NULL (default): the model's spec or "task" */
    mr_criticality criticality; /* default MR_TASK_NORMAL */
    double deadline_ms;         /* relative deadline from submission; a request that completes
                                   later is counted as a miss (it still completes). 0
                                   (default): none */
    int max_in_flight;          /* requests queued or running at once (default 8); a submit
                                   beyond it returns MR_ERR_BUSY */
    mr_admission admission;     /* critical tasks with a deadline: see mr_admission (default
                                   MR_ADMISSION_WARN). If the measuring runs themselves fail,
                                   mr_task_create fails with their status */
} mr_task_params;

mr_task_params mr_task_default_params(void);

/* Creates a task running `model` (which must belong to `rt`). `params` may be NULL. */
mr_status mr_task_create(mr_runtime *rt, mr_model *model, const mr_task_params *params,
                         mr_task **out);
void mr_task_destroy(mr_task *task);
const char *mr_task_name(const mr_task *task);
/* The task's id: 1, 2, ... in creation order within its runtime (used by traces). */
int mr_task_id(const mr_task *task);

/* What a request reports when it completes. Times are in milliseconds on a monotonic clock. */
typedef struct mr_request_result {
    mr_status status;    /* MR_OK, MR_ERR_CANCELLED, or the error that failed it */
    double queue_ms;     /* submission -> its first kernel started */
    double exec_ms;      /* first kernel started -> outputs written */
    double latency_ms;   /* submission -> completion (queue + exec) */
    int deadline_missed; /* 1 if the request completed (MR_OK) with latency_ms above the
                            task's deadline; failed and cancelled requests are counted as
                            such, never as misses */
} mr_request_result;

/* Called once per request when it completes (see the threading rules above). `request` is
 * NULL when the request was submitted without a handle. */
typedef void (*mr_request_cb)(mr_request *request, const mr_request_result *result,
                              void *user_data);

/* Submits one inference. Inputs and outputs are checked as by mr_model_run(); their data
 * buffers are borrowed: they must stay valid (inputs unchanged) until the request completes.
 * `callback` may be NULL. If `out` is NULL the request has no handle: it cannot be waited
 * for and frees itself after its callback; otherwise *out must be released with
 * mr_request_release(). Returns MR_ERR_BUSY when max_in_flight requests are already queued or
 * running. */
mr_status mr_request_submit(mr_task *task, int n_inputs, const mr_tensor *inputs, int n_outputs,
                            mr_tensor *outputs, mr_request_cb callback, void *user_data,
                            mr_request **out);
/* Blocks until the request completes; fills *result (may be NULL) and returns its status. */
mr_status mr_request_wait(mr_request *request, mr_request_result *result);
/* *done = 1 and *result filled (may be NULL) if the request has completed; never blocks. */
mr_status mr_request_poll(mr_request *request, int *done, mr_request_result *result);
/* Cancels the request: a queued request completes at once with MR_ERR_CANCELLED; a running
 * one stops at its next kernel step (its outputs are then undefined). A request that has
 * already completed is unaffected. Does not wait. */
mr_status mr_request_cancel(mr_request *request);
/* Frees the handle. Releasing a request that has not completed detaches it: it runs to
 * completion (its callback is still called, with request = NULL) and then frees itself. */
void mr_request_release(mr_request *request);

/* Per-task statistics since creation or the last reset. Latency percentiles (nearest rank)
 * are over the most recent 65536 completed requests. Every submitted request ends in exactly
 * one of completed, failed and cancelled (submitted = completed + failed + cancelled + those
 * still in flight); a failure is also logged at MR_LOG_ERROR with its message. */
typedef struct mr_task_stats {
    int64_t submitted, completed, failed, cancelled;
    int64_t deadline_misses; /* completed requests whose latency exceeded the deadline (a
                                subset of `completed`) */
    double latency_p50_ms, latency_p90_ms, latency_p99_ms, latency_max_ms, latency_mean_ms;
    double queue_p50_ms, exec_p50_ms;
    double elapsed_s;      /* since creation or reset */
    double throughput_rps; /* completed requests per second over elapsed_s */
    /* Admission control (mr_admission), from mr_task_create; kept by mr_task_reset_stats. */
    double solo_ms;         /* median latency of the model alone; 0 when not measured */
    int admission_exceeded; /* 1 if solo_ms exceeds the deadline (MR_ADMISSION_WARN) */
} mr_task_stats;

mr_status mr_task_get_stats(mr_task *task, mr_task_stats *out);
void mr_task_reset_stats(mr_task *task);

/* The runtime's sharing policy. */
mr_policy mr_runtime_policy(const mr_runtime *rt);

/* Execution trace: which kernel work ran when, for timelines. On the CPU backend an event is
 * one logical block on one worker; on CUDA one launch on a task's stream, its interval as
 * the dispatcher observed it (start: issue or the previous launch's end on that stream; end:
 * when its completion was seen, within ~10 us). */
typedef enum mr_trace_kind {
    MR_TRACE_BLOCK = 0,   /* CPU: one logical block */
    MR_TRACE_KERNEL = 1,  /* CUDA: a whole kernel (plain grid), not preemptible */
    MR_TRACE_ELASTIC = 2, /* CUDA: a preemptible full-width elastic launch */
    MR_TRACE_SHARD = 3,   /* CUDA: an elastic shard beside critical kernels */
    MR_TRACE_COPY = 4,    /* CUDA: a request's input or output copies */
} mr_trace_kind;

typedef struct mr_trace_event {
    int lane;     /* CPU: worker index; CUDA: the task's stream (= task id) */
    int task;     /* mr_task_id */
    int critical; /* 1 for a critical task */
    int step;     /* kernel step (mr_model_step_info); -1 for copies */
    mr_trace_kind kind;
    double t0_ms, t1_ms; /* CLOCK_MONOTONIC, milliseconds */
} mr_trace_event;

/* Starts recording up to `capacity` events (later ones are dropped), discarding any earlier
 * trace. */
mr_status mr_runtime_trace_start(mr_runtime *rt, size_t capacity);
/* Stops recording and hands over the events in *events (free() them), in the order they
 * ended; returns how many (0 and *events = NULL if none). */
size_t mr_runtime_trace_stop(mr_runtime *rt, mr_trace_event **events);

/* ---------------------------------------------------------------------------------------- */
/* Custom operators                                                                         */
/*
 * A model may use operators miriam does not ship: ONNX nodes of a custom domain
 * ("com.example.ScaledTanh"), or of the default domain with an op type miriam does not know.
 * Such an operator is written once as an elastic kernel, a body over a logical block index
 * (include/miriam/elastic.cuh, MR_ELASTIC_KERNEL) for the GPU and a C function computing one
 * logical block for the CPU, and registered on a runtime. It then runs on both backends, in
 * elastic and plain launches, under every policy of the coordinator (preemptible between
 * logical blocks, resized into shards like the built-in kernels), and `miriam tune` measures
 * it. docs/CUSTOM_OPS.md walks through a complete example.
 *
 * The registry belongs to the runtime (no global state). Register an operator before loading
 * the models that use it: a model loaded earlier does not see it. mr_runtime_register_op may
 * be called from any thread, also while other threads load models.
 *
 * Callbacks: infer and plan run while a model loads (possibly on several threads at once for
 * different models); cpu_block runs on the CPU backend's worker threads, many at once. All of
 * them receive `user` and must not call back into the runtime. Errors are reported by
 * returning a status other than MR_OK and writing a message into errbuf (the library adds the
 * node's name and records it as the runtime's last error). Dtypes are any of mr_dtype; the
 * example and the tests use float32.
 */

#define MR_CUSTOM_MAX_IO      16  /* inputs and outputs of one node, each */
#define MR_CUSTOM_PARAM_BYTES 512 /* = MR_CUDA_PARAM_BYTES of include/miriam/elastic.cuh */
#define MR_CUSTOM_MAX_KERNELS 4

/* A node of a model, as the callbacks see it (read-only; valid during the callback). */
typedef struct mr_custom_node mr_custom_node;

/* The node's name (never NULL). */
const char *mr_custom_node_name(const mr_custom_node *node);
/* Attribute getters: *out = the attribute's value, or `def` when the node does not have it.
 * An attribute of another type is MR_ERR_PARSE with a message in errbuf (may be NULL). The
 * array getters copy up to `cap` values and set *count (0 when absent); more than `cap` is
 * MR_ERR_UNSUPPORTED. A string stays owned by the node (valid while the model exists). */
mr_status mr_custom_attr_int(const mr_custom_node *node, const char *name, int64_t def,
                             int64_t *out, char *errbuf, size_t errbuf_size);
mr_status mr_custom_attr_float(const mr_custom_node *node, const char *name, float def, float *out,
                               char *errbuf, size_t errbuf_size);
mr_status mr_custom_attr_ints(const mr_custom_node *node, const char *name, int64_t *out, int cap,
                              int *count, char *errbuf, size_t errbuf_size);
mr_status mr_custom_attr_floats(const mr_custom_node *node, const char *name, float *out, int cap,
                                int *count, char *errbuf, size_t errbuf_size);
mr_status mr_custom_attr_string(const mr_custom_node *node, const char *name, const char *def,
                                const char **out, char *errbuf, size_t errbuf_size);

/* How a node with given shapes executes: its logical grid and resources. plan() receives it
 * zeroed except n_phases = 1. */
typedef struct mr_custom_plan {
    int64_t n_blocks;       /* logical blocks of each phase (>= 0) */
    int n_phases;           /* phases, run one after another (>= 1; blocks of one phase are
                               independent, in any order, possibly concurrent) */
    size_t scratch_bytes;   /* CPU: temporary memory per worker that one block may use
                               (64-byte aligned, uninitialised, not kept between blocks) */
    size_t workspace_bytes; /* memory of the node kept across its blocks and phases within one
                               inference (CPU and GPU), uninitialised at phase 0 */
    int64_t flops;          /* floating-point operations, for statistics */
    /* Plain-old-data parameters (shapes, attribute values, tiling) that every CPU block
     * receives in mr_custom_args.params and every GPU launch in mr_cuda_args.params. */
    long long params[MR_CUSTOM_PARAM_BYTES / 8];
} mr_custom_plan;

/* What the CPU body of one logical block sees. */
typedef struct mr_custom_args {
    int n_in, n_out;
    const mr_tensor *in;  /* the node's inputs (data NULL for an omitted optional input) */
    const mr_tensor *out; /* its outputs: a block writes only the elements it owns */
    void *workspace;      /* plan.workspace_bytes of memory (NULL when 0) */
    int phase;            /* current phase */
    int64_t n_blocks;     /* logical blocks of the phase */
    const void *params;   /* plan.params (8-byte aligned) */
} mr_custom_args;

/* One tile variant on the GPU: the two kernels MR_ELASTIC_KERNEL(NAME, THREADS, BODY) defines
 * from one body, over the same logical grid as every other variant of the operator. Fill it
 * with MR_CUSTOM_KERNEL (include/miriam/elastic.cuh): the functions are given as cudaKernel_t
 * handles (cudaGetKernel), because libmiriam has its own, static copy of the CUDA runtime,
 * which launches the host address of a __global__ function only if the function was
 * compiled into libmiriam. */
typedef struct mr_custom_kernel {
    const char *name;    /* short label ("t256"); copied */
    const void *elastic; /* NAME_elastic, as a cudaKernel_t */
    const void *plain;   /* NAME_plain, as a cudaKernel_t */
    int threads;         /* the block size the body was written for (THREADS) */
    int smem;            /* dynamic shared memory per block, bytes */
} mr_custom_kernel;

typedef struct mr_custom_op {
    /* Matched against the ONNX node. "" (or "ai.onnx") is the default domain, where an
     * operator miriam implements cannot be replaced. Copied. */
    const char *domain, *op_type;
    int min_inputs, max_inputs; /* inputs the node may have (the first min_inputs required) */
    int n_outputs;              /* outputs it must have (1 to MR_CUSTOM_MAX_IO) */
    /* NULL-terminated names of the attributes the operator reads, copied: any other attribute
     * on a node is an error naming it. NULL accepts any attribute. */
    const char *const *attrs;
    void *user; /* passed back to every callback */
    /* Output dtypes and shapes from the inputs' and the node's attributes: fill out[k].dtype,
     * .ndim and .dims (out[k].name is set). */
    mr_status (*infer)(void *user, const mr_custom_node *node, int n_in, const mr_tensor_info *in,
                       int n_out, mr_tensor_info *out, char *errbuf, size_t errbuf_size);
    /* The execution plan for these shapes (see mr_custom_plan). The CPU and the GPU run the
     * same logical grid. */
    mr_status (*plan)(void *user, const mr_custom_node *node, int n_in, const mr_tensor_info *in,
                      int n_out, const mr_tensor_info *out, mr_custom_plan *plan, char *errbuf,
                      size_t errbuf_size);
    /* CPU body of logical block `block` (0 <= block < args->n_blocks) of phase args->phase.
     * As a built-in kernel: touches only the outputs the block owns, may run concurrently with
     * any other block of the phase, allocates nothing, takes no locks, returns quickly (a
     * logical block is the unit of preemption). */
    void (*cpu_block)(void *user, const mr_custom_args *args, int64_t block, void *scratch);
    /* Called once, when the runtime of a successful registration is destroyed (may be NULL). */
    void (*destroy)(void *user);
    /* GPU tile variants: [0] the full-speed tile, [1] (optional) a small-footprint one the
     * elastic policy fits beside critical kernels. 0 kernels: CPU only (loading a model that
     * uses the operator on the CUDA backend fails with a message naming it). */
    int n_kernels;
    mr_custom_kernel kernels[MR_CUSTOM_MAX_KERNELS];
} mr_custom_op;

/* Registers `op` on rt (the descriptor and its strings are copied; `user` is not). Returns
 * MR_ERR_INVALID_ARG, with mr_runtime_last_error() saying why, for a bad descriptor: NULL
 * callbacks or names, counts out of range, a kernel without both functions or with a bad
 * block size, an operator already registered on rt, or one replacing a built-in operator. */
mr_status mr_runtime_register_op(mr_runtime *rt, const mr_custom_op *op);

/* ---------------------------------------------------------------------------------------- */
/* NumPy .npy files (float32, int64, int32; C order; little-endian)                        */

/* Reads a .npy file. On success out->data is allocated with malloc(); release it with
 * mr_tensor_free_data(). Errors are written to errbuf (may be NULL). */
mr_status mr_npy_read(const char *path, mr_tensor *out, char *errbuf, size_t errbuf_size);
mr_status mr_npy_write(const char *path, const mr_tensor *t, char *errbuf, size_t errbuf_size);
/* Frees data allocated by mr_npy_read() and sets it to NULL. */
void mr_tensor_free_data(mr_tensor *t);

#ifdef __cplusplus
}
#endif

#endif /* MIRIAM_H */
