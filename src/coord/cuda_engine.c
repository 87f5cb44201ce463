/* The coordinator's CUDA engine: one dispatcher thread turns the tasks' requests into
 * launches on per-task streams, under the runtime's policy.
 *
 * Every task has its own queue (stream): high priority for critical tasks under the
 * priority, padding and elastic policies, otherwise the default; in the partition policy the
 * critical and normal queues live in two green contexts that split the runtime's SMs. A
 * request is: inputs into pinned staging (host copy), begin (input copies, counters reset),
 * its kernel steps and phases in order, end (output copies), all asynchronous on its queue;
 * an event after each launch tells the dispatcher how far the GPU is. The dispatcher polls
 * the events (sleeping ~10 us between polls while work is in flight, or until a submission
 * wakes it) and completes requests whose end copy has finished.
 *
 * How launches are issued (the policies):
 *   sequential   one request at a time (the oldest queued critical one first), all launches
 *                enqueued as fast as the GPU takes them ("whole" mode: plain grids, as other
 *                frameworks launch them, never preempted).
 *   multistream  every task's request in whole mode on its own stream, equal priority.
 *   priority     as multistream, critical streams at high priority.
 *   partition    as multistream, critical tasks on the critical SM partition, normal tasks
 *                on the other.
 *   padding      critical requests as plain grids at high priority, an event after each,
 *                so the dispatcher knows which critical kernel runs. With no critical request
 *                in flight normal kernels are launched whole; with one, a normal task's next
 *                kernel is launched (whole, plain, not preemptible) only when its previous
 *                one has finished and all of its blocks fit beside the running critical
 *                kernel (REEF's dynamic kernel padding).
 *   elastic      critical requests as in padding. With no critical request in flight normal
 *                kernels are elastic, full width, preemptible (they read the shared yield
 *                flag between logical blocks; their first wave starts on blocks known in
 *                advance, without taking). When a critical request starts, the flag is
 *                set: normal kernels leave the SMs within one logical block, and launches
 *                already queued behind them leave at once. Once a normal task's stream is
 *                idle, the dispatcher reads its step counters, and the records of the
 *                first-wave blocks that found the flag set (holes), to find where it
 *                stopped (no work is lost or redone); it re-runs the holes as plain launches
 *                over them, and while critical work is in flight continues
 *                only as elastic shards: the tile variant and physical block count that fit
 *                the per-SM resources the running critical kernel leaves (threads,
 *                registers, shared memory, blocks; footprints from the occupancy API), with
 *                at most two logical blocks per physical block so that a shard ends in
 *                bounded time, one shard in flight per task, not preemptible. When no
 *                critical request is left and every launch that was preempted has left the
 *                GPU (those queued behind a stopped one must find the flag still set), the
 *                flag is cleared and normal work grows back to full width.
 */
#ifdef MIRIAM_HAVE_CUDA

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "coord/coord.h"
#include "core/alloc.h"
#include "cuda/cuda_backend.h"
#include "elastic/profile.h"
#include "model.h"
#include "runtime_internal.h"

/* Launches tracked per task (events in a ring); a task never has more in flight. A request
 * replayed as a CUDA graph has all its launches in flight at once: up to RING - 1. */
#define RING 256
/* Launches kept in flight per task in whole and full-width modes. */
#define AHEAD 24
/* Logical blocks per physical block in an elastic shard without a profile: bounds a shard's
 * duration to about two logical blocks (a few to ~50 us by the contract on logical block
 * size). */
#define SHARD_WAVES 2
/* With a tuned profile: the longest shard (measured alone, in microseconds) the dispatcher
 * launches beside critical kernels. A shard is not preemptible, so this is how long it can
 * hold SMs that the next critical kernel wants: the same bound as the drain of a preemptible
 * launch (docs/PERFORMANCE.md measures ~30 us p99), so that shards and drains delay a
 * critical kernel alike. */
#define SHARD_BUDGET_US 50.0
/* Dispatcher's poll interval while work is in flight. */
#define POLL_NS 10000

/* K_HOLES: a plain launch over logical blocks that a preemptible launch's first wave left
 * undone (resync). */
enum { K_BEGIN, K_WHOLE, K_FULL, K_SHARD, K_PLAIN, K_END, K_HOLES };

typedef struct flight {
    int kind, step, phase;
    int uncertain;  /* a preemptible launch in flight when the yield flag was set */
    double t_issue; /* when it was enqueued (for the trace) */
    /* a launch with a known counter (mr_launch.known): the counter's value it started from;
     * else -1 */
    long long from;
} flight;

typedef struct step_fp {
    int known;
    mr_footprint fp[MR_CUDA_MAX_VARIANTS];
} step_fp;

typedef struct gtask {
    mr_cuda_queue *q;
    mr_cuda_event *ev[RING];
    flight fl[RING];
    int head, count;
    /* Next launch to issue: (step, phase), from logical block next_block. */
    int step, phase;
    long long next_block;
    int begun, ended;  /* begin / end copies enqueued for the current request */
    double t_last_end; /* when the stream's previous launch was seen to end (trace) */
    /* Preemptible launches that finished after a yield: which of them completed is found
     * from the counters once the queue is idle. */
    flight unsure[RING];
    int n_unsure;
    /* Logical blocks of the cursor's phase left undone by the first wave of a preemptible
     * launch (holes, found by resync), to re-run before anything else of the request:
     * holes[hole_at..n_holes), ascending; hole_cap entries allocated. */
    long long *holes;
    long long n_holes, hole_at, hole_cap;
    int ns, nv_max;
    step_fp *fps;
    /* The model's tuned profile (normal tasks under elastic; NULL: analytic shards). */
    mr_profile *prof;
    /* Requests whose launches are all known in advance (critical requests of elastic and
     * padding, every request of the other policies) are captured once as a CUDA graph and
     * replayed with one call: a few microseconds of host time instead of one launch and one
     * event record per kernel. The events recorded inside still fire, so the dispatcher
     * follows the graph kernel by kernel as before. */
    mr_cuda_graph *graph;
    int graph_failed, graph_n;
    flight graph_fl[RING];
} gtask;

typedef struct gengine {
    mr_coord *c;
    mr_backend *be;
    pthread_t th;
    int thread_started;
    mr_cuda_sm_info sm;
    mr_cuda_flag *yield;
    int yield_on;
    mr_task *owner;
    int crit_sms, normal_sms; /* partition */
    int graphs;               /* replay static requests as CUDA graphs (cuda_graphs) */
    /* Start-up handshake with the dispatcher thread. */
    int ready;
    mr_status start_status;
    mr_err start_err;
} gengine;

static gtask *gt_of(const mr_task *t) {
    return (gtask *)t->eng;
}

static int is_critical(const mr_task *t) {
    return t->crit == MR_TASK_CRITICAL;
}

static int critical_in_flight(const mr_coord *c) {
    for (const mr_task *t = c->tasks; t; t = t->next)
        if (is_critical(t) && (t->cur || t->q_head || t->io)) return 1;
    return 0;
}

/* 1 while some preemptible launch that was in flight when the yield flag went up has not
 * finished. The flag stays up until none is left: a launch queued behind one that stopped
 * part-way must find the flag set too and leave, for it reads what the stopped one had not
 * yet written. Cleared as soon as the critical work ends, the flag let such a launch run
 * whole on incomplete inputs, and its counter then said it was done. */
static int preempted_in_flight(const mr_coord *c) {
    for (const mr_task *t = c->tasks; t; t = t->next) {
        const gtask *g = gt_of(t);
        if (!g || is_critical(t)) continue;
        for (int k = 0; k < g->count; k++)
            if (g->fl[(g->head + k) % RING].uncertain) return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- request cursor ---- */

/* Moves the cursor to the first non-skipped step at or after (step, phase). */
static void cursor_set(mr_task *t, int step, int phase, long long block) {
    gtask *g = gt_of(t);
    if (step < g->ns && phase >= mr_cuda_exec_n_phases(t->ex, step)) {
        step++;
        phase = 0;
        block = 0;
    }
    while (step < g->ns && mr_cuda_exec_step_skipped(t->ex, step)) {
        step++;
        phase = 0;
        block = 0;
    }
    g->step = step;
    g->phase = phase;
    g->next_block = block;
}

static int cursor_done(const mr_task *t) {
    return gt_of(t)->step >= gt_of(t)->ns;
}

static long long cursor_blocks(const mr_task *t) {
    const gtask *g = gt_of(t);
    return mr_cuda_exec_phase_blocks(t->ex, g->step, g->phase);
}

/* Records an event after the launch just enqueued. */
static mr_status push(mr_task *t, int kind, int step, int phase, mr_err *err) {
    gtask *g = gt_of(t);
    int slot = (g->head + g->count) % RING;
    MR_TRY(mr_cuda_event_record(g->ev[slot], g->q, err));
    g->fl[slot] = (flight){kind, step, phase, 0, mr_coord_now_ms(), -1};
    g->count++;
    return MR_OK;
}

/* ---------------------------------------------------------------- footprints ---- */

static mr_status footprint(mr_task *t, int step, const mr_footprint **out, mr_err *err) {
    gtask *g = gt_of(t);
    step_fp *f = &g->fps[step];
    if (!f->known) {
        int nv = mr_cuda_exec_n_variants(t->ex, step);
        for (int v = 0; v < nv && v < MR_CUDA_MAX_VARIANTS; v++)
            MR_TRY(mr_cuda_exec_footprint(t->ex, step, v, &f->fp[v], err));
        f->known = 1;
    }
    *out = f->fp;
    return MR_OK;
}

/* Registers of one block, as the SM allocates them (per warp, in units of 256). */
static long long block_regs(const mr_footprint *f) {
    long long warps = (f->threads + 31) / 32;
    long long per_warp = ((long long)f->regs_per_thread * 32 + 255) / 256 * 256;
    return warps * per_warp;
}

typedef struct sm_left {
    long long threads, regs, smem, blocks;
} sm_left;

/* Per-SM resources left beside the critical kernels running now (the first unfinished
 * launch of every running critical request, launched as a plain grid of variant 0). */
static mr_status leftover(gengine *e, sm_left *L, mr_err *err) {
    L->threads = e->sm.threads;
    L->regs = e->sm.regs;
    L->smem = e->sm.smem;
    L->blocks = e->sm.blocks;
    for (mr_task *t = e->c->tasks; t; t = t->next) {
        if (!is_critical(t) || !t->cur) continue;
        if (t->io) { /* starting or finishing: its demand is unknown */
            L->threads = 0;
            return MR_OK;
        }
        gtask *g = gt_of(t);
        int step = -1, phase = 0;
        for (int k = 0; k < g->count; k++) {
            const flight *f = &g->fl[(g->head + k) % RING];
            if (f->kind == K_PLAIN || f->kind == K_WHOLE) {
                step = f->step;
                phase = f->phase;
                break;
            }
        }
        if (step < 0) {
            if (!cursor_done(t)) { /* its next kernel is about to be launched */
                L->threads = 0;
                return MR_OK;
            }
            continue;
        }
        const mr_footprint *fp;
        MR_TRY(footprint(t, step, &fp, err));
        long long nb = mr_cuda_exec_phase_blocks(t->ex, step, phase);
        long long r = (nb + e->sm.sms - 1) / e->sm.sms;
        if (r > fp[0].blocks_per_sm) r = fp[0].blocks_per_sm;
        L->threads -= r * fp[0].threads;
        L->regs -= r * block_regs(&fp[0]);
        L->smem -= r * ((long long)fp[0].smem_per_block + e->sm.smem_reserved);
        L->blocks -= r;
    }
    return MR_OK;
}

/* Blocks per SM of a variant that fit in L. */
static long long fit(const sm_left *L, const mr_footprint *f, int smem_reserved) {
    if (L->threads <= 0 || L->regs <= 0 || L->smem <= 0 || L->blocks <= 0) return 0;
    long long k = L->threads / f->threads;
    long long br = block_regs(f);
    if (br > 0 && L->regs / br < k) k = L->regs / br;
    long long bs = (long long)f->smem_per_block + smem_reserved;
    if (bs > 0 && L->smem / bs < k) k = L->smem / bs;
    if (L->blocks < k) k = L->blocks;
    if (f->blocks_per_sm < k) k = f->blocks_per_sm;
    return k;
}

/* ---------------------------------------------------------------- issuing ---- */

/* Enqueues the request's begin copies. */
static mr_status issue_begin(gengine *e, mr_task *t, mr_err *err) {
    (void)e;
    MR_TRY(mr_cuda_exec_begin_on(t->ex, gt_of(t)->q, err));
    gt_of(t)->begun = 1;
    return push(t, K_BEGIN, -1, 0, err);
}

static mr_status issue_end(mr_task *t, mr_err *err) {
    MR_TRY(mr_cuda_exec_end_on(t->ex, gt_of(t)->q, err));
    gt_of(t)->ended = 1;
    return push(t, K_END, -1, 0, err);
}

/* 1 if a launch that moves the step phase's counter is in flight (a re-run of holes does
 * not). */
static int phase_in_flight(const gtask *g, int step, int phase) {
    for (int k = 0; k < g->count; k++) {
        const flight *f = &g->fl[(g->head + k) % RING];
        if (f->step == step && f->phase == phase && f->kind != K_BEGIN && f->kind != K_END &&
            f->kind != K_HOLES)
            return 1;
    }
    return 0;
}

/* One launch of the cursor's phase in `kind` mode; advances the cursor. */
static mr_status issue_launch(gengine *e, mr_task *t, int kind, int variant, int blocks,
                              long long end, mr_err *err) {
    gtask *g = gt_of(t);
    mr_launch l;
    memset(&l, 0, sizeof l);
    l.step = g->step;
    l.phase = g->phase;
    l.variant = variant;
    l.high_priority = 0; /* the queue's priority applies */
    long long nb = cursor_blocks(t);
    switch (kind) {
    case K_PLAIN:
        l.mode = MR_LAUNCH_PLAIN;
        break;
    case K_WHOLE:
        /* The baselines launch ordinary grids, as every other framework does: a persistent
         * full-width elastic launch would hold its SMs until it ends, whatever the stream
         * priorities say, and make them look worse than they are. */
        l.mode = MR_LAUNCH_PLAIN;
        break;
    case K_FULL:
        l.mode = MR_LAUNCH_ELASTIC;
        l.end = -1;
        l.preemptible = 1;
        break;
    case K_SHARD:
        l.mode = MR_LAUNCH_ELASTIC;
        l.end = end;
        l.blocks = blocks;
        break;
    }
    /* A shard is issued only when none of the task's launches is in flight (issue_shard), so
     * the phase's counter is where the cursor says: its first wave need not take. A
     * full-width launch knows it too (the request's begin zeroed it, resync wrote back where
     * the phase resumes, a shard ended exactly at the cursor), unless a shard of the phase is
     * still in flight: its blocks' last atomicMin may reach the counter after the new
     * launch's blocks raise it (only the grid-dependency wait orders them, and the raise
     * comes before it). Its first wave then starts without taking, after the yield read
     * alone, and records the blocks that found the flag set (holes) for resync. */
    if (kind == K_SHARD || (kind == K_FULL && !phase_in_flight(g, g->step, g->phase))) {
        l.known = 1;
        l.from = g->next_block;
    }
    MR_TRY(mr_cuda_exec_launch_on(t->ex, g->q, &l, kind == K_FULL ? e->yield : NULL, err));
    /* An event per kernel where the dispatcher needs to know which kernel runs (elastic and
     * padding: the leftover beside the running critical kernel, the resume points); the
     * other policies only wait for the end copy, and an event record between two kernels
     * of a graph costs the GPU a few microseconds. */
    if (e->c->policy == MR_POLICY_ELASTIC || e->c->policy == MR_POLICY_PADDING) {
        MR_TRY(push(t, kind, g->step, g->phase, err));
        g->fl[(g->head + g->count - 1) % RING].from = l.known ? l.from : -1;
    }
    if (kind == K_SHARD && end < nb)
        g->next_block = end;
    else
        cursor_set(t, g->step, g->phase + 1, 0);
    return MR_OK;
}

/* Tops up launches of `kind` to `ahead` in flight; then the end copy. */
static mr_status issue_ahead(gengine *e, mr_task *t, int kind, int ahead, int *progress,
                             mr_err *err) {
    gtask *g = gt_of(t);
    while (g->count < ahead && g->count < RING - 1 && !cursor_done(t)) {
        MR_TRY(issue_launch(e, t, kind, 0, 0, -1, err));
        *progress = 1;
    }
    if (cursor_done(t) && !g->ended && g->count < RING - 1) {
        MR_TRY(issue_end(t, err));
        *progress = 1;
    }
    return MR_OK;
}

/* The tile variant of the cursor's step with the most threads that fit in L on every SM
 * (*v = -1: none fits), and how many of its blocks fit on all SMs together. */
static mr_status widest_fit(gengine *e, mr_task *t, const sm_left *L, int *v_out, long long *P,
                            mr_err *err) {
    gtask *g = gt_of(t);
    const mr_footprint *fp;
    MR_TRY(footprint(t, g->step, &fp, err));
    int nv = mr_cuda_exec_n_variants(t->ex, g->step);
    long long best_k = 0, best_thr = 0;
    *v_out = -1;
    for (int v = 0; v < nv && v < MR_CUDA_MAX_VARIANTS; v++) {
        long long k = fit(L, &fp[v], e->sm.smem_reserved);
        if (k > 0 && k * fp[v].threads > best_thr) {
            *v_out = v;
            best_k = k;
            best_thr = k * fp[v].threads;
        }
    }
    *P = best_k * e->sm.sms;
    return MR_OK;
}

/* Elastic, critical work in flight: one bounded shard of the cursor's phase that fits
 * beside the running critical kernels, if any fits. */
static mr_status issue_shard(gengine *e, mr_task *t, int *progress, mr_err *err) {
    gtask *g = gt_of(t);
    if (g->count > 0) return MR_OK;
    if (cursor_done(t)) {
        if (!g->ended) {
            MR_TRY(issue_end(t, err));
            *progress = 1;
        }
        return MR_OK;
    }
    sm_left L;
    MR_TRY(leftover(e, &L, err));
    long long nb = cursor_blocks(t), left = nb - g->next_block;
    if (g->prof && mr_profile_find(g->prof, g->step, g->phase)) {
        /* Tuned: the measured configuration with the best throughput that fits the leftover
         * and ends within the budget; none fits: nothing is launched beside this critical
         * kernel (the profile says no shard is worth it). */
        mr_profile_res res = {L.threads, L.regs, L.smem, L.blocks};
        int v = 0, P = 0;
        int64_t len = 0;
        if (!mr_profile_shard(g->prof, g->step, g->phase, &res, SHARD_BUDGET_US, &v, &P, &len))
            return MR_OK;
        if (v >= mr_cuda_exec_n_variants(t->ex, g->step)) return MR_OK;
        if (len > left) len = left;
        if (P > len) P = (int)len;
        MR_TRY(issue_launch(e, t, K_SHARD, v, P, g->next_block + len, err));
        e->c->n_shards++;
        e->c->n_tuned_shards++;
        *progress = 1;
        return MR_OK;
    }
    int best;
    long long P;
    MR_TRY(widest_fit(e, t, &L, &best, &P, err));
    if (best < 0) return MR_OK;
    if (P > left) P = left;
    if (P < 1) P = 1;
    long long end = g->next_block + P * SHARD_WAVES;
    if (end > nb) end = nb;
    MR_TRY(issue_launch(e, t, K_SHARD, best, (int)P, end, err));
    e->c->n_shards++;
    *progress = 1;
    return MR_OK;
}

/* Elastic: re-runs the holes resync found in the cursor's phase, as plain launches over runs
 * of consecutive holes (each hole one physical block, so such a launch ends within about one
 * logical block). While the yield flag is up: one run at a time, no wider than the variant
 * that fits beside the running critical kernels (as a shard), nothing if none fits. Once all
 * are issued the phase goes on from the cursor, or the cursor moves past a phase whose
 * counter was already at its end. */
static mr_status issue_holes(gengine *e, mr_task *t, int *progress, mr_err *err) {
    gtask *g = gt_of(t);
    long long limit = g->n_holes;
    int variant = 0;
    if (e->yield_on) {
        if (g->count > 0) return MR_OK;
        sm_left L;
        MR_TRY(leftover(e, &L, err));
        MR_TRY(widest_fit(e, t, &L, &variant, &limit, err));
        if (variant < 0) return MR_OK;
    }
    while (g->hole_at < g->n_holes && g->count < RING - 1) {
        long long a = g->holes[g->hole_at], b = a + 1;
        long long j = g->hole_at + 1;
        while (j < g->n_holes && g->holes[j] == b && b - a < limit) {
            b++;
            j++;
        }
        mr_launch l;
        memset(&l, 0, sizeof l);
        l.step = g->step;
        l.phase = g->phase;
        l.variant = variant;
        l.mode = MR_LAUNCH_PLAIN;
        l.known = 1;
        l.from = a;
        l.end = b;
        MR_TRY(mr_cuda_exec_launch_on(t->ex, g->q, &l, NULL, err));
        MR_TRY(push(t, K_HOLES, g->step, g->phase, err));
        e->c->n_holes += b - a;
        g->hole_at = j;
        *progress = 1;
        if (e->yield_on) break;
    }
    if (g->hole_at >= g->n_holes) {
        g->n_holes = g->hole_at = 0;
        if (g->next_block >= cursor_blocks(t)) cursor_set(t, g->step, g->phase + 1, 0);
    }
    return MR_OK;
}

/* Padding, critical work in flight: the task's next kernel, whole, when it fits. */
static mr_status issue_padded(gengine *e, mr_task *t, int *progress, mr_err *err) {
    gtask *g = gt_of(t);
    if (g->count > 0) return MR_OK;
    if (cursor_done(t)) {
        if (!g->ended) {
            MR_TRY(issue_end(t, err));
            *progress = 1;
        }
        return MR_OK;
    }
    sm_left L;
    MR_TRY(leftover(e, &L, err));
    const mr_footprint *fp;
    MR_TRY(footprint(t, g->step, &fp, err));
    long long k = fit(&L, &fp[0], e->sm.smem_reserved);
    if (k <= 0 || cursor_blocks(t) > k * e->sm.sms) return MR_OK;
    MR_TRY(issue_launch(e, t, K_PLAIN, 0, 0, -1, err));
    *progress = 1;
    return MR_OK;
}

/* ---------------------------------------------------------------- progress ---- */

/* Pops finished launches. Returns 1 in *finished when the request's end copy is done and
 * every kernel before it is known to have completed. */
static mr_status poll_task(gengine *e, mr_task *t, int *finished, int *progress, mr_err *err) {
    gtask *g = gt_of(t);
    *finished = 0;
    while (g->count > 0) {
        int slot = g->head;
        int done = 0;
        MR_TRY(mr_cuda_event_query(g->ev[slot], g->q, &done, err));
        if (!done) break;
        flight f = g->fl[slot];
        g->head = (g->head + 1) % RING;
        g->count--;
        *progress = 1;
        if (e->c->trace) {
            double now = mr_coord_now_ms();
            double t0 = f.t_issue > g->t_last_end ? f.t_issue : g->t_last_end;
            static const mr_trace_kind kinds[] = {MR_TRACE_COPY,  MR_TRACE_KERNEL, MR_TRACE_ELASTIC,
                                                  MR_TRACE_SHARD, MR_TRACE_KERNEL, MR_TRACE_COPY,
                                                  MR_TRACE_SHARD};
            mr_coord_trace(e->c, t, t->id, f.step, kinds[f.kind], t0, now);
            g->t_last_end = now;
        }
        if (f.uncertain || g->n_unsure > 0) {
            /* After a yield, nothing is certain until the counters are read. */
            g->unsure[g->n_unsure++] = f;
            continue;
        }
        if (f.kind == K_END) *finished = 1;
    }
    return MR_OK;
}

/* 1 if a flight after unsure[k] launched the same phase and moved its counter (the
 * counter's state is that one's). */
static int superseded(const gtask *g, int n, int k) {
    for (int j = k + 1; j < n; j++) {
        const flight *f = &g->unsure[j];
        if (f->step == g->unsure[k].step && f->phase == g->unsure[k].phase && f->kind != K_BEGIN &&
            f->kind != K_END && f->kind != K_HOLES)
            return 1;
    }
    return 0;
}

/* The queue is idle after a yield: find, from the counters and hole records, the first
 * launch that did not complete, and continue from there (no work lost or redone).
 *
 * A launch with a known counter (flight.from >= 0) raised it past its first wave before its
 * blocks read the flag, and those that found it set left their logical blocks undone: holes,
 * which its record lists. The first launch that stopped: if every block below its counter is
 * a hole, nothing of it ran and its counter goes back to `from`; else its holes are re-run
 * (issue_holes) and it goes on from its counter, or from the start of a run of holes that
 * ends there (a launch of several waves in the wave form). Every launch behind it found the flag
 * still set (it stays up until they have left) and ran nothing: their counters go back to `from`.
 * The records are cleared and the counters written back before anything is launched. */
static mr_status resync(mr_task *t, int *finished, mr_err *err) {
    gtask *g = gt_of(t);
    *finished = 0;
    MR_TRY(mr_cuda_exec_read_counters(t->ex, g->q, err));
    t->c->n_resyncs++;
    int n = g->n_unsure, stopped = 0, dirty = 0;
    g->n_unsure = 0;
    for (int k = 0; k < n; k++) {
        const flight *f = &g->unsure[k];
        if (f->kind == K_END) {
            if (!stopped) *finished = 1; /* every kernel before it completed */
            break;
        }
        /* a re-run of holes runs whole; the launches of its phase after it say the rest */
        if (f->kind == K_BEGIN || f->kind == K_HOLES || superseded(g, n, k)) continue;
        if (stopped) {
            if (f->kind == K_FULL && f->from >= 0) {
                mr_cuda_exec_set_counter(t->ex, f->step, f->phase, f->from);
                dirty = 1;
            }
            continue;
        }
        long long c = mr_cuda_exec_counter_value(t->ex, f->step, f->phase);
        long long nb = mr_cuda_exec_phase_blocks(t->ex, f->step, f->phase);
        long long h = f->from >= 0 ? mr_cuda_exec_holes(t->ex, f->step, f->phase, 0, NULL) : 0;
        if (c >= nb && h == 0) continue;
        stopped = 1;
        g->ended = 0;
        if (h == 0) {
            cursor_set(t, f->step, f->phase, c);
            continue;
        }
        dirty = 1;
        if (h == c - f->from) { /* nothing of it ran */
            mr_cuda_exec_set_counter(t->ex, f->step, f->phase, f->from);
            cursor_set(t, f->step, f->phase, f->from);
            continue;
        }
        if (h > g->hole_cap) {
            (void)mr_errf(err, MR_ERR_INTERNAL, "step %d: %lld holes, room for %lld", f->step, h,
                          g->hole_cap);
            return err->status;
        }
        mr_cuda_exec_holes(t->ex, f->step, f->phase, h, g->holes);
        for (long long i = 0; i < h; i++) g->holes[i] += f->from;
        /* A run of holes up to the counter (a launch that ran the wave form over several
         * waves: the blocks dispatched after the flag went up) is resumed from the counter,
         * put back to the run's start, not re-run as holes: the phase then goes on as
         * preemptible launches or shards. */
        const long long top = mr_coord_resume_point(g->holes, &h, c);
        mr_cuda_exec_set_counter(t->ex, f->step, f->phase, top);
        if (h == 0) {
            cursor_set(t, f->step, f->phase, top);
            continue;
        }
        g->n_holes = h;
        g->hole_at = 0;
        /* the cursor stays on this phase (also when top == nb) until its holes are issued */
        g->step = f->step;
        g->phase = f->phase;
        g->next_block = top;
    }
    if (dirty) MR_TRY(mr_cuda_exec_write_counters(t->ex, g->q, err));
    return MR_OK; /* all completed: the cursor is already past them */
}

/* Finishes t->cur: outputs out of staging, statistics, callback. */
static void finish(gengine *e, mr_task *t, mr_status st) {
    mr_coord *c = e->c;
    if (st == MR_OK) {
        t->io = 1;
        pthread_mutex_unlock(&c->mu);
        mr_cuda_exec_unstage_outputs(t->ex, t->cur->out);
        pthread_mutex_lock(&c->mu);
    }
    gtask *g = gt_of(t);
    g->begun = g->ended = 0;
    g->n_unsure = 0;
    g->n_holes = g->hole_at = 0;
    mr_task_finish(t, st);
    if (e->owner == t) e->owner = NULL;
}

/* A CUDA error fails the request it happened in; the stream is drained so the task can go
 * on with its next request. */
static void fail_request(gengine *e, mr_task *t, const mr_err *err) {
    gtask *g = gt_of(t);
    mr_err e2;
    mr_cuda_queue_sync(g->q, &e2);
    g->head = g->count = 0;
    mr_runtime_fail(e->c->rt, err);
    finish(e, t, err->status);
}

/* Whether the task's requests are launched all at once, always the same way. */
static int static_requests(const mr_coord *c, const mr_task *t) {
    if (c->policy == MR_POLICY_ELASTIC || c->policy == MR_POLICY_PADDING) return is_critical(t);
    return 1;
}

/* Enqueues every launch of a request the static way (begin, kernels, end). */
static mr_status issue_static(gengine *e, mr_task *t, mr_err *err) {
    gtask *g = gt_of(t);
    MR_TRY(issue_begin(e, t, err));
    while (!cursor_done(t)) {
        if (g->count >= RING - 2)
            return mr_errf(err, MR_ERR_UNSUPPORTED, "more than %d launches per request", RING - 2);
        MR_TRY(issue_launch(e, t, K_PLAIN, 0, 0, -1, err));
    }
    return issue_end(t, err);
}

static void reset_request(mr_task *t) {
    gtask *g = gt_of(t);
    g->head = g->count = 0;
    g->n_unsure = 0;
    g->n_holes = g->hole_at = 0;
    g->begun = g->ended = 0;
    cursor_set(t, 0, 0, 0);
}

/* Captures the task's static request as a graph; on failure the task goes on without. */
static void capture(gengine *e, mr_task *t) {
    gtask *g = gt_of(t);
    mr_err err;
    mr_err_clear(&err);
    reset_request(t);
    if (mr_cuda_capture_begin(g->q, &err) == MR_OK) {
        mr_status st = issue_static(e, t, &err);
        mr_status st2 = mr_cuda_capture_end(g->q, st == MR_OK ? &g->graph : NULL, &err);
        if (st == MR_OK && st2 == MR_OK && g->graph) {
            g->graph_n = g->count;
            memcpy(g->graph_fl, g->fl, sizeof(flight) * (size_t)g->count);
        }
    }
    if (!g->graph) {
        g->graph_failed = 1;
        mr_log(e->c->rt, MR_LOG_INFO, "task '%s': requests not captured as a CUDA graph (%s)",
               t->name, err.msg);
    }
    reset_request(t);
}

/* Starts the task's next request: inputs into staging, then its launches: the whole graph,
 * or the begin copies (the rest follows as the policy allows). */
static void start_request(gengine *e, mr_task *t, int *progress) {
    mr_coord *c = e->c;
    mr_request *r = mr_task_take(t);
    mr_err err;
    mr_err_clear(&err);
    pthread_mutex_unlock(&c->mu);
    mr_status st = mr_cuda_exec_stage_inputs(t->ex, r->in, &err);
    pthread_mutex_lock(&c->mu);
    t->io = 0;
    *progress = 1;
    gtask *g = gt_of(t);
    reset_request(t);
    if (st == MR_OK && static_requests(c, t)) {
        if (e->graphs && !g->graph && !g->graph_failed) capture(e, t);
        if (g->graph) {
            st = mr_cuda_graph_launch(g->graph, g->q, &err);
            if (st == MR_OK) {
                memcpy(g->fl, g->graph_fl, sizeof(flight) * (size_t)g->graph_n);
                double now = mr_coord_now_ms();
                for (int k = 0; k < g->graph_n; k++) g->fl[k].t_issue = now;
                g->count = g->graph_n;
                g->begun = g->ended = 1;
                cursor_set(t, g->ns, 0, 0);
            }
        } else {
            st = issue_static(e, t, &err);
        }
    } else if (st == MR_OK) {
        st = issue_begin(e, t, &err);
    }
    if (st != MR_OK) fail_request(e, t, &err);
}

/* One pass over the task: completions, then launches by the policy. */
static void service(gengine *e, mr_task *t, int crit_active, int *progress, int *busy) {
    mr_coord *c = e->c;
    gtask *g = gt_of(t);
    mr_err err;
    mr_err_clear(&err);
    int finished = 0;
    if (poll_task(e, t, &finished, progress, &err) != MR_OK) {
        fail_request(e, t, &err);
        return;
    }
    if (g->count == 0 && g->n_unsure > 0) {
        if (resync(t, &finished, &err) != MR_OK) {
            fail_request(e, t, &err);
            return;
        }
        *progress = 1;
    }
    if (finished) {
        finish(e, t, MR_OK);
        *progress = 1;
        return;
    }
    if (t->cur->cancel) {
        if (g->count == 0) {
            finish(e, t, MR_ERR_CANCELLED);
            *progress = 1;
        } else {
            *busy = 1;
        }
        return;
    }
    mr_status st = MR_OK;
    switch (c->policy) {
    case MR_POLICY_ELASTIC:
        /* Full-width preemptible launches only while the yield flag is down: one enqueued
         * while it is up would leave at once, unmarked, and be taken for done. */
        if (is_critical(t))
            st = issue_ahead(e, t, K_PLAIN, AHEAD, progress, &err);
        else if (g->n_holes > 0)
            st = g->n_unsure ? MR_OK : issue_holes(e, t, progress, &err);
        else if (!e->yield_on)
            st = g->n_unsure ? MR_OK : issue_ahead(e, t, K_FULL, AHEAD, progress, &err);
        else if (g->n_unsure == 0)
            st = issue_shard(e, t, progress, &err);
        break;
    case MR_POLICY_PADDING:
        if (is_critical(t))
            st = issue_ahead(e, t, K_PLAIN, AHEAD, progress, &err);
        else if (!crit_active)
            st = issue_ahead(e, t, K_PLAIN, AHEAD, progress, &err);
        else
            st = issue_padded(e, t, progress, &err);
        break;
    default:
        st = issue_ahead(e, t, K_WHOLE, AHEAD, progress, &err);
        break;
    }
    if (st != MR_OK) {
        fail_request(e, t, &err);
        return;
    }
    if (g->count > 0) *busy = 1;
}

/* Sets or clears the yield flag; a set marks every preemptible launch in flight. */
static mr_status set_yield(gengine *e, int on, mr_err *err) {
    MR_TRY(mr_cuda_flag_set(e->yield, on, err));
    e->yield_on = on;
    e->c->n_yields += on;
    if (on)
        for (mr_task *t = e->c->tasks; t; t = t->next) {
            gtask *g = gt_of(t);
            for (int k = 0; k < g->count; k++) {
                flight *f = &g->fl[(g->head + k) % RING];
                if (f->kind == K_FULL) f->uncertain = 1;
            }
        }
    return MR_OK;
}

static mr_task *oldest_startable(mr_coord *c, int cls) {
    mr_task *best = NULL;
    for (mr_task *t = c->tasks; t; t = t->next) {
        if (!mr_task_startable(t) || t->destroying || (int)t->crit != cls) continue;
        if (!best || t->q_head->seq < best->q_head->seq) best = t;
    }
    return best;
}

static void timed_wait(mr_coord *c) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += POLL_NS;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->work_cv, &c->mu, &ts);
}

static void *dispatcher(void *arg) {
    gengine *e = arg;
    mr_coord *c = e->c;
#ifdef __linux__
    /* Wake-ups from the poll interval's timed waits within microseconds, not the default
     * 50 us timer slack. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
#endif
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_cuda_bind(e->be, &err);
    if (st == MR_OK) st = mr_cuda_flag_create(e->be, &e->yield, &err);
    if (st == MR_OK && c->policy == MR_POLICY_PARTITION)
        st = mr_cuda_partition(e->be, c->partition_critical, &e->crit_sms, &e->normal_sms, &err);
    pthread_mutex_lock(&c->mu);
    e->start_status = st;
    e->start_err = err;
    e->ready = 1;
    pthread_cond_broadcast(&c->done_cv);
    if (st != MR_OK) {
        pthread_mutex_unlock(&c->mu);
        return NULL;
    }
    while (!c->stopping) {
        int progress = 0, busy = 0;
        int crit_active = critical_in_flight(c);
        if (c->policy == MR_POLICY_ELASTIC) {
            int want = crit_active || (e->yield_on && preempted_in_flight(c));
            mr_err yerr;
            if (want != e->yield_on && set_yield(e, want, &yerr) != MR_OK)
                mr_runtime_fail(c->rt, &yerr);
        }
        /* Start requests: critical first, oldest first. */
        if (c->policy == MR_POLICY_SEQUENTIAL) {
            if (!e->owner) {
                mr_task *t = oldest_startable(c, MR_TASK_CRITICAL);
                if (!t) t = oldest_startable(c, MR_TASK_NORMAL);
                if (t) {
                    e->owner = t;
                    start_request(e, t, &progress);
                }
            }
        } else {
            mr_task *t;
            while ((t = oldest_startable(c, MR_TASK_CRITICAL)) ||
                   (t = oldest_startable(c, MR_TASK_NORMAL)))
                start_request(e, t, &progress);
        }
        /* Critical tasks first, so their launches go out before normal ones. Completing a
         * request releases the lock (callback), during which tasks may come and go: then
         * the pass starts over. */
        unsigned gen = c->list_gen;
        for (int cls = MR_TASK_CRITICAL; cls >= MR_TASK_NORMAL && gen == c->list_gen; cls--)
            for (mr_task *t = c->tasks; t && gen == c->list_gen; t = t->next) {
                if ((int)t->crit != cls || !t->cur || t->io) continue;
                service(e, t, crit_active, &progress, &busy);
            }
        if (progress) continue;
        if (busy || e->yield_on)
            timed_wait(c);
        else
            pthread_cond_wait(&c->work_cv, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void g_stop(mr_coord *c) {
    gengine *e = c->eng_state;
    if (!e) return;
    if (e->thread_started) {
        pthread_mutex_lock(&c->mu);
        c->stopping = 1;
        pthread_cond_broadcast(&c->work_cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(e->th, NULL);
    }
    if (e->yield) mr_cuda_flag_destroy(e->yield);
    free(e);
    c->eng_state = NULL;
}

static mr_status g_start(mr_coord *c, mr_err *err) {
    gengine *e = mr_calloc(1, sizeof *e, "CUDA engine", err);
    if (!e) return err->status;
    e->c = c;
    e->be = c->rt->be;
    e->graphs = c->rt->params.cuda_graphs != 0;
    c->eng_state = e;
    if (mr_cuda_sm_limits(e->be, &e->sm, err) != MR_OK) {
        g_stop(c);
        return err->status;
    }
    if (pthread_create(&e->th, NULL, dispatcher, e) != 0) {
        g_stop(c);
        return mr_errf(err, MR_ERR_BACKEND, "cannot start the CUDA dispatcher thread");
    }
    e->thread_started = 1;
    pthread_mutex_lock(&c->mu);
    while (!e->ready) pthread_cond_wait(&c->done_cv, &c->mu);
    mr_status st = e->start_status;
    if (st != MR_OK) *err = e->start_err;
    pthread_mutex_unlock(&c->mu);
    if (st != MR_OK) {
        g_stop(c);
        c->stopping = 0;
    }
    return st;
}

static void free_gtask(gtask *g) {
    if (!g) return;
    mr_cuda_graph_destroy(g->q, g->graph);
    for (int i = 0; i < RING; i++)
        if (g->ev[i]) mr_cuda_event_destroy(g->q, g->ev[i]);
    mr_cuda_queue_destroy(g->q);
    mr_profile_free(g->prof);
    free(g->holes);
    free(g->fps);
    free(g);
}

/* Called with c->mu held from the creating thread: CUDA objects are created here (the
 * dispatcher only uses them afterwards, under the same lock). */
static mr_status g_task_attach(mr_coord *c, mr_task *t, mr_err *err) {
    gengine *e = c->eng_state;
    gtask *g = mr_calloc(1, sizeof *g, "CUDA task state", err);
    if (!g) return err->status;
    g->ns = mr_cuda_exec_n_steps(t->ex);
    g->fps = mr_calloc((size_t)(g->ns ? g->ns : 1), sizeof(step_fp), "CUDA task state", err);
    int part = 0, high = 0;
    switch (c->policy) {
    case MR_POLICY_PRIORITY:
    case MR_POLICY_PADDING:
    case MR_POLICY_ELASTIC:
        high = is_critical(t);
        break;
    case MR_POLICY_PARTITION:
        part = is_critical(t) ? 1 : 2;
        break;
    default:
        break;
    }
    mr_status st = g->fps ? mr_cuda_queue_create(e->be, part, high, &g->q, err) : err->status;
    if (st == MR_OK && c->policy == MR_POLICY_ELASTIC && !is_critical(t)) {
        st = mr_coord_load_profile(c, t, &g->prof, err);
        g->hole_cap = mr_cuda_exec_hole_capacity(t->ex);
        g->holes =
            st == MR_OK ? mr_calloc((size_t)g->hole_cap, sizeof *g->holes, "hole list", err) : NULL;
        if (st == MR_OK && !g->holes) st = err->status;
    }
    for (int i = 0; st == MR_OK && i < RING; i++) st = mr_cuda_event_create(g->q, &g->ev[i], err);
    if (st != MR_OK) {
        free_gtask(g);
        return st;
    }
    t->eng = g;
    return MR_OK;
}

static void g_task_detach(mr_coord *c, mr_task *t) {
    gengine *e = c->eng_state;
    if (e && e->owner == t) e->owner = NULL;
    free_gtask(t->eng);
    t->eng = NULL;
}

const mr_engine_iface mr_engine_cuda = {
    .name = "cuda",
    .start = g_start,
    .stop = g_stop,
    .task_attach = g_task_attach,
    .task_detach = g_task_detach,
};

#endif /* MIRIAM_HAVE_CUDA */
