/* CUDA backend internals shared with the tests and (later) the coordinator: launching single
 * steps as plain or elastic (sharded, preemptible) kernels, the yield word, the counters. */
#ifndef MR_CUDA_CUDA_BACKEND_H
#define MR_CUDA_CUDA_BACKEND_H

#include "backend/backend.h"
#include "cuda/cuda_op.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const mr_backend_iface mr_backend_cuda_iface;

/* 1 when this build has the CUDA backend and a usable device is present; else 0 with the
 * reason in `why` (may be NULL). Safe to call without a GPU or driver. */
int mr_cuda_available(char *why, size_t why_size);

typedef enum mr_launch_mode {
    MR_LAUNCH_PLAIN = 0,   /* ordinary grid: one physical block per logical block */
    MR_LAUNCH_ELASTIC = 1, /* P physical blocks take logical blocks from the step counter */
} mr_launch_mode;

typedef struct mr_launch {
    int step;    /* plan step index */
    int phase;   /* phase of the step */
    int variant; /* tile variant index (0 = full speed) */
    mr_launch_mode mode;
    long long end;     /* elastic: shard end (exclusive), -1 = the whole phase */
    int blocks;        /* elastic: physical blocks P, 0 = fill the partition (occupancy) */
    int preemptible;   /* elastic: read the yield word between logical blocks */
    int high_priority; /* launch on the high-priority stream */
    /* elastic, variant 0, full width, whole phase, not preemptible: the counters were set by
     * mr_cuda_exec_prefill_counters (no launch of this phase since), so the first wave of
     * physical blocks starts without taking (include/miriam/elastic.cuh). */
    int prefilled;
    /* elastic, not prefilled: 1 if the caller knows the phase's counter holds `from` (its
     * shard starts there) and no launch that moves it can still be running (the counter was
     * reset by mr_cuda_exec_begin, or the caller has seen every earlier launch of the phase
     * finish). The first wave then starts without taking (mr_elastic_ctl.raise). Preemptible,
     * the phase's hole record must be clear (it is after a begin, or after
     * mr_cuda_exec_set_counter and mr_cuda_exec_write_counters), and whoever resumes the
     * phase must re-run its holes (mr_cuda_exec_holes). 0 is always correct.
     * plain: 1 = only the logical blocks [from, end) (end -1: the phase's last), e.g. holes. */
    int known;
    long long from;
} mr_launch;

/* Number of kernel steps / phases / logical blocks of a phase, and variants of a step. */
int mr_cuda_exec_n_steps(const mr_exec *ex);
int mr_cuda_exec_n_phases(const mr_exec *ex, int step);
long long mr_cuda_exec_phase_blocks(const mr_exec *ex, int step, int phase);
int mr_cuda_exec_n_variants(const mr_exec *ex, int step);
/* 1 if the step is skipped (an aliased view). */
int mr_cuda_exec_step_skipped(const mr_exec *ex, int step);
/* 1 if a prefilled launch of the step's phase hands the blocks past its first wave to physical
 * blocks 0..R-1 (mr_elastic_ctl.spread = 0) rather than to those that finish first
 * (docs/KERNEL_NOTES.md 28); 0 otherwise or for a step or phase that does not exist. */
int mr_cuda_exec_prefilled_by_index(const mr_exec *ex, int step, int phase);

/* Per-SM footprint of a variant from the occupancy API. */
typedef struct mr_footprint {
    int threads, regs_per_thread, smem_per_block, blocks_per_sm;
} mr_footprint;
mr_status mr_cuda_exec_footprint(mr_exec *ex, int step, int variant, mr_footprint *out,
                                 mr_err *err);

/* Copies inputs to the device and zeroes every step counter (start of a request). */
mr_status mr_cuda_exec_begin(mr_exec *ex, const mr_tensor *inputs, mr_err *err);
/* Enqueues one launch (asynchronous). */
mr_status mr_cuda_exec_launch(mr_exec *ex, const mr_launch *l, mr_err *err);
/* Waits for both streams, then copies outputs to the host. */
mr_status mr_cuda_exec_end(mr_exec *ex, mr_tensor *outputs, mr_err *err);
/* Waits for both streams. */
mr_status mr_cuda_exec_sync(mr_exec *ex, mr_err *err);
/* *idle = 1 when neither stream has pending work (non-blocking). */
mr_status mr_cuda_exec_poll(mr_exec *ex, int *idle, mr_err *err);
/* Enqueues on the low-priority stream the copy that sets every counter to what a prefilled
 * launch of its phase expects: min(full width of variant 0, logical blocks). */
mr_status mr_cuda_exec_prefill_counters(mr_exec *ex, mr_err *err);
/* How mr_cuda_exec_time_steps launches every phase. */
typedef enum mr_step_timing {
    MR_TIME_PLAIN = 0,       /* ordinary grids (--launch plain, the baselines' launches) */
    MR_TIME_ELASTIC = 1,     /* elastic, full width, prefilled: as mr_model_run launches them */
    MR_TIME_PREEMPTIBLE = 2, /* elastic, full width, preemptible, yield word clear: as the
                                elastic policy launches normal work */
    MR_TIME_SHARD = 3,       /* elastic, full width, not preemptible, counters from zero and
                                known (mr_launch.known): as the elastic policy launches its
                                shards beside critical kernels; the first wave starts without
                                taking, the blocks that finish take the rest */
    MR_TIME_SMALL = 4,       /* as MR_TIME_SHARD with the small-footprint variant (1) where the
                                step has one, at its full width (the variant the elastic policy
                                fits beside critical kernels) */
} mr_step_timing;
/* GPU time of every step of one inference launched in `mode`: on the low-priority stream,
 * behind a gate kernel (src/cuda/gate.cu) so that the launches run back to back as from a
 * graph, with a timing event before the first step and after each one. us[s] (n_steps
 * entries) = microseconds from the event before step s to the one after it, 0 for a skipped
 * step; *event_us = the interval of two events with nothing between them, the part of every
 * us[s] that is not the step's. Reads what the last begin or inference left in the inputs;
 * the outputs are overwritten. MR_ERR_BACKEND when the gate ended before the launches were
 * enqueued (a host too slow or too busy to time this model). With us NULL: no events between
 * the steps, *event_us = the whole inference from the event before its first step to the one
 * after its last (the launches back to back, as in a model run). */
mr_status mr_cuda_exec_time_steps(mr_exec *ex, mr_step_timing mode, double *us, double *event_us,
                                  mr_err *err);
/* One inference's launches in `mode`, as mr_cuda_exec_time_steps enqueues them but without the
 * gate kernel and the events, then a synchronize: for a profiler that serializes launches
 * (Nsight Compute), under which the gate would end before the launches are enqueued. */
mr_status mr_cuda_exec_launch_form(mr_exec *ex, mr_step_timing mode, mr_err *err);
/* GPU time of one inference's launches exactly as mr_model_run enqueues them (the graph
 * replay, counter reset included), without its input and output copies: a timing event
 * before and one after, then a synchronize, the protocol of timing a CUDA graph's replay
 * with an event pair. Reads what the last run or begin left in the inputs; the outputs are
 * overwritten. */
mr_status mr_cuda_exec_time_inference(mr_exec *ex, double *us, mr_err *err);
/* Reads the counter (next logical block) of a step's phase; syncs first. */
mr_status mr_cuda_exec_counter(mr_exec *ex, int step, int phase, long long *out, mr_err *err);
/* Sets / clears the yield word (device memory, written by a copy on a control stream; returns
 * once the GPU sees the value). Preemptible launches stop within one logical block. */
void mr_cuda_exec_set_yield(mr_exec *ex, int value);
/* Device bytes held by this execution context (weights + arena + workspaces). */
size_t mr_cuda_exec_device_bytes(const mr_exec *ex);

/* ---- The coordinator's interface (src/coord/cuda_engine.c). Every call below comes from
 * the engine's single dispatcher thread. ---- */

typedef struct mr_cuda_queue mr_cuda_queue; /* a stream in an SM partition */
typedef struct mr_cuda_event mr_cuda_event;
typedef struct mr_cuda_flag mr_cuda_flag; /* a yield word shared by many launches */

/* Per-SM limits of the device and the runtime's SM count, for fitting blocks beside others. */
typedef struct mr_cuda_sm_info {
    int sms, threads, blocks, regs, smem, smem_reserved;
} mr_cuda_sm_info;

/* Makes the runtime's context current on the calling thread. */
mr_status mr_cuda_bind(mr_backend *be, mr_err *err);
mr_status mr_cuda_sm_limits(mr_backend *be, mr_cuda_sm_info *out, mr_err *err);
/* Splits the runtime's SMs into two green contexts for the partition policy: critical_sms
 * (0 = half, rounded to the SM group size) and the rest. Idempotent. */
mr_status mr_cuda_partition(mr_backend *be, int critical_sms, int *crit_out, int *normal_out,
                            mr_err *err);
/* part: 0 = the runtime's SMs, 1 = the critical partition, 2 = the normal partition. */
mr_status mr_cuda_queue_create(mr_backend *be, int part, int high_priority, mr_cuda_queue **out,
                               mr_err *err);
void mr_cuda_queue_destroy(mr_cuda_queue *q);
mr_status mr_cuda_queue_sync(mr_cuda_queue *q, mr_err *err);
mr_status mr_cuda_event_create(mr_cuda_queue *q, mr_cuda_event **out, mr_err *err);
void mr_cuda_event_destroy(mr_cuda_queue *q, mr_cuda_event *e);
mr_status mr_cuda_event_record(mr_cuda_event *e, mr_cuda_queue *q, mr_err *err);
/* *done = 1 once the work recorded before the event has finished. */
mr_status mr_cuda_event_query(mr_cuda_event *e, mr_cuda_queue *q, int *done, mr_err *err);
/* A request's launches captured once and replayed with one call (events recorded inside it
 * still fire). capture_end with out == NULL abandons the capture. */
typedef struct mr_cuda_graph mr_cuda_graph;
mr_status mr_cuda_capture_begin(mr_cuda_queue *q, mr_err *err);
mr_status mr_cuda_capture_end(mr_cuda_queue *q, mr_cuda_graph **out, mr_err *err);
mr_status mr_cuda_graph_launch(mr_cuda_graph *g, mr_cuda_queue *q, mr_err *err);
void mr_cuda_graph_destroy(mr_cuda_queue *q, mr_cuda_graph *g);
mr_status mr_cuda_flag_create(mr_backend *be, mr_cuda_flag **out, mr_err *err);
void mr_cuda_flag_destroy(mr_cuda_flag *f);
/* Returns once the GPU sees the value. */
mr_status mr_cuda_flag_set(mr_cuda_flag *f, int value, mr_err *err);

/* A request on a queue: inputs into pinned staging (host copy), then asynchronously the
 * input copies and counter reset, launches, output copies into staging; after the work is
 * done, the outputs out of staging. */
mr_status mr_cuda_exec_stage_inputs(mr_exec *ex, const mr_tensor *inputs, mr_err *err);
mr_status mr_cuda_exec_begin_on(mr_exec *ex, mr_cuda_queue *q, mr_err *err);
/* `yield` is read by preemptible elastic launches (may be NULL). */
mr_status mr_cuda_exec_launch_on(mr_exec *ex, mr_cuda_queue *q, const mr_launch *l,
                                 mr_cuda_flag *yield, mr_err *err);
mr_status mr_cuda_exec_end_on(mr_exec *ex, mr_cuda_queue *q, mr_err *err);
void mr_cuda_exec_unstage_outputs(const mr_exec *ex, mr_tensor *outputs);
/* Reads every step counter (the next logical block of each step phase) and hole record
 * through q, which must be idle (NULL: after the runtime's own streams, which it waits for);
 * mr_cuda_exec_counter_value and mr_cuda_exec_holes then return them. */
mr_status mr_cuda_exec_read_counters(mr_exec *ex, mr_cuda_queue *q, mr_err *err);
long long mr_cuda_exec_counter_value(const mr_exec *ex, int step, int phase);
/* From the same read: how many logical blocks of the phase's last preemptible launch with a
 * known counter found the yield word set and left it undone (holes below the counter: blocks
 * of its first wave, or of any wave where it ran the wave form over all its blocks), and the
 * first n of them, as offsets from that launch's `from`, in ascending order, into first (may
 * be NULL). */
long long mr_cuda_exec_holes(const mr_exec *ex, int step, int phase, long long n, long long *first);
/* Changes the read copy: the phase's counter to `value`, its hole record cleared;
 * mr_cuda_exec_write_counters (q idle) then writes every counter and record back. */
void mr_cuda_exec_set_counter(mr_exec *ex, int step, int phase, long long value);
/* The most holes one phase's record holds (the widest full-width launch of variant 0, or the
 * most blocks of a phase whose preemptible launches run the wave form over all of them). */
long long mr_cuda_exec_hole_capacity(const mr_exec *ex);
mr_status mr_cuda_exec_write_counters(mr_exec *ex, mr_cuda_queue *q, mr_err *err);
/* P of a full-width launch of a variant (occupancy x SMs) and its threads per block. */
mr_status mr_cuda_exec_launch_shape(mr_exec *ex, int step, int variant, int *full_blocks,
                                    int *threads, mr_err *err);

/* Timing events, for measuring launches (the tuner, src/elastic/tune.c): an event that also
 * records a timestamp (destroyed with mr_cuda_event_destroy), and the milliseconds between
 * two of them recorded on q, once `end` has completed (waits for it). */
mr_status mr_cuda_event_create_timed(mr_cuda_queue *q, mr_cuda_event **out, mr_err *err);
mr_status mr_cuda_event_elapsed_ms(mr_cuda_event *start, mr_cuda_event *end, mr_cuda_queue *q,
                                   float *ms, mr_err *err);

#ifdef __cplusplus
}
#endif

#endif
