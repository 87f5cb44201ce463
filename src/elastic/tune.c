/* The tuner (src/elastic/tune.h, docs/TUNING.md).
 *
 * For every kernel step (and phases 0 and 1 of multi-phase steps) the design space is
 *   tile variant v  x  physical blocks P  x  shard length S (logical blocks),
 * with P in {1, 2, 4, ...} below the full width, the multiples of the SM count up to it
 * (CUDA: the widths the coordinator launches) and the full width itself, and S in {P, 2P,
 * 4P, the whole phase}. Each candidate runs the shard [0, S) of the step's phase: once to warm
 * up, then `repeat` timed times; the medians are kept. An empty launch of the same (v, P)
 * gives the launch overhead.
 *
 *   CUDA: a timing event before and after the launch on a queue of the runtime's SMs; the
 *         request's begin (input copies, every step counter zeroed) and the step's earlier
 *         phases run before each repetition, outside the timed interval. Time per logical block =
 * (shard - empty launch) / waves, with waves = ceil(S / P). CPU:  P threads of our own, each with
 * its own worker slot, take the shard's logical blocks from a shared counter as the engine's
 * workers do; the wall time from waking them to the last one reporting back, and the time each
 * spends inside blocks (time per logical block = busy time / S).
 *
 * The values of the inputs do not change timing: they are random. A whole inference runs
 * first, so every activation holds a finite value before blocks run out of order. */
#include "elastic/tune.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu.h"
#include "model.h"
#include "runtime_internal.h"
#ifdef MIRIAM_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

/* Candidate widths of one variant: powers of two, SM multiples and the full width. */
#define MAX_WIDTHS 96
/* Shard lengths of one width. */
#define MAX_SHARDS 4

mr_tune_params mr_tune_default_params(void) {
    mr_tune_params p;
    memset(&p, 0, sizeof p);
    p.repeat = 5;
    return p;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Values are stored to 1/scale (a thousandth of a microsecond: the timers resolve no finer).
 * Dividing the rounded integer by the scale gives the double nearest to the decimal, the one
 * the JSON text reads back as, so a saved profile loads back to the same numbers. */
static double round_to(double x, double scale) {
    return round(x * scale) / scale;
}

/* ---------------------------------------------------------------------------------------- */
/* Pruning                                                                                  */

enum { KEEP = 0, DROP_OVERHEAD = 1, DROP_THROUGHPUT = 2, DROP_DOMINATED = 3 };

mr_status mr_tune_prune(const mr_profile_device *dev, mr_profile_entry *e, mr_tune_stats *stats,
                        mr_err *err) {
    int n = e->n_points;
    if (n <= 0) return MR_OK;
    unsigned char *state = calloc((size_t)n, 1);
    unsigned char *mark = calloc((size_t)n, 1);
    mr_profile_res *fp = malloc(sizeof *fp * (size_t)n);
    if (!state || !mark || !fp) {
        free(state);
        free(mark);
        free(fp);
        return mr_errf(err, MR_ERR_NO_MEMORY, "out of memory pruning step %d", e->step);
    }
    for (int i = 0; i < n; i++) fp[i] = mr_profile_point_footprint(dev, e, &e->points[i]);

    /* Rule 1: launch overhead above a fifth of the shard. */
    int alive = 0;
    for (int i = 0; i < n; i++) {
        const mr_profile_point *p = &e->points[i];
        state[i] = p->overhead_us > MR_TUNE_MAX_OVERHEAD_FRAC * p->shard_us ? DROP_OVERHEAD : KEEP;
        alive += state[i] == KEEP;
    }
    if (alive == 0) /* a step too short to amortise any launch: it still has to run whole */
        for (int i = 0; i < n; i++)
            if (e->points[i].shard_blocks == e->phase_blocks) state[i] = KEEP, alive++;
    if (alive == 0)
        for (int i = 0; i < n; i++) state[i] = KEEP;

    /* Rule 2: below half the best throughput of the rule-1 survivors at an equal or smaller
     * footprint. Marks first, then applies, so the order of the points does not matter. */
    for (int i = 0; i < n; i++) {
        mark[i] = 0;
        if (state[i] != KEEP) continue;
        double best = 0;
        for (int j = 0; j < n; j++)
            if (state[j] == KEEP && mr_profile_footprint_le(&fp[j], &fp[i]) &&
                e->points[j].rel_throughput > best)
                best = e->points[j].rel_throughput;
        mark[i] = e->points[i].rel_throughput < MR_TUNE_MIN_REL_THROUGHPUT * best;
    }
    for (int i = 0; i < n; i++)
        if (mark[i]) state[i] = DROP_THROUGHPUT;

    /* Rule 3: the Pareto frontier. Dominance is transitive, so testing against every
     * survivor (dominated ones included) gives the same frontier as removing them first. */
    for (int i = 0; i < n; i++) {
        mark[i] = 0;
        if (state[i] != KEEP) continue;
        for (int j = 0; j < n && !mark[i]; j++)
            if (j != i && state[j] == KEEP &&
                mr_profile_dominates(dev, e, &e->points[j], &e->points[i]))
                mark[i] = 1;
    }
    for (int i = 0; i < n; i++)
        if (mark[i]) state[i] = DROP_DOMINATED;

    int k = 0;
    for (int i = 0; i < n; i++) {
        if (stats) {
            stats->dropped_overhead += state[i] == DROP_OVERHEAD;
            stats->dropped_throughput += state[i] == DROP_THROUGHPUT;
            stats->dropped_dominated += state[i] == DROP_DOMINATED;
        }
        if (state[i] == KEEP) e->points[k++] = e->points[i];
    }
    e->n_points = k;
    if (stats) stats->kept += k;
    free(state);
    free(mark);
    free(fp);
    return MR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* The design space                                                                         */

static int add_unique_int(int *v, int n, int x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return n;
    if (n < MAX_WIDTHS) v[n++] = x;
    return n;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* Widths P of a variant whose full width (capped at the phase's blocks) is `full`. `sms` and
 * `per_sm` are 0 on the CPU. */
static int widths(int full, int sms, int per_sm, int quick, int *out) {
    int n = 0;
    n = add_unique_int(out, n, 1);
    if (!quick)
        for (long long p = 2; p < full; p *= 2) n = add_unique_int(out, n, (int)p);
    for (int k = 1; sms > 0 && k <= per_sm; k++)
        if ((long long)k * sms <= full) n = add_unique_int(out, n, k * sms);
    n = add_unique_int(out, n, full);
    qsort(out, (size_t)n, sizeof *out, cmp_int);
    return n;
}

/* Shard lengths of width P over a phase of L blocks: P, 2P, 4P (capped at L) and L. */
static int shards(int P, int64_t L, int quick, int64_t *out) {
    int64_t want[MAX_SHARDS] = {P, 2 * (int64_t)P, 4 * (int64_t)P, L};
    int n = 0;
    for (int i = 0; i < MAX_SHARDS; i++) {
        if (quick && (i == 1 || i == 2)) continue;
        int64_t s = want[i] < L ? want[i] : L;
        if (n == 0 || out[n - 1] != s) out[n++] = s;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* CPU measurements: a pool of our own threads                                              */

typedef struct cpu_worker {
    struct cpu_pool *pool;
    int id;
    pthread_t th;
    pthread_cond_t cv;
    unsigned gen; /* bumped to hand this worker a job */
} cpu_worker;

typedef struct cpu_pool {
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    int n, n_started, stop;
    cpu_worker *w;
    /* The job: logical blocks [next, end) of (step, phase). */
    mr_exec *ex;
    int step, phase;
    int64_t end;
    _Atomic int64_t next;
    int remaining;  /* workers of the job still running */
    double busy_us; /* time spent inside blocks, summed over the job's workers */
} cpu_pool;

static void *cpu_worker_main(void *arg) {
    cpu_worker *w = arg;
    cpu_pool *p = w->pool;
    unsigned seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && w->gen == seen) pthread_cond_wait(&w->cv, &p->mu);
        if (p->stop) break;
        seen = w->gen;
        pthread_mutex_unlock(&p->mu);
        /* The job's fields were written under the lock before `gen` was bumped. */
        double busy = 0;
        int64_t i;
        while ((i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed)) < p->end) {
            double t0 = now_us();
            mr_cpu_exec_run_block(p->ex, p->step, p->phase, i, w->id);
            busy += now_us() - t0;
        }
        pthread_mutex_lock(&p->mu);
        p->busy_us += busy;
        if (--p->remaining == 0) pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void cpu_pool_destroy(cpu_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    for (int i = 0; i < p->n_started; i++) pthread_cond_signal(&p->w[i].cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->w[i].th, NULL);
    for (int i = 0; i < p->n; i++) pthread_cond_destroy(&p->w[i].cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p);
}

static mr_status cpu_pool_create(mr_exec *ex, int n, cpu_pool **out, mr_err *err) {
    cpu_pool *p = calloc(1, sizeof *p);
    cpu_worker *w = calloc((size_t)n, sizeof *w);
    if (!p || !w) {
        free(p);
        free(w);
        return mr_errf(err, MR_ERR_NO_MEMORY, "out of memory creating the tuning threads");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->w = w;
    p->n = n;
    p->ex = ex;
    for (int i = 0; i < n; i++) {
        w[i].pool = p;
        w[i].id = i;
        pthread_cond_init(&w[i].cv, NULL);
    }
    for (int i = 0; i < n; i++) {
        if (pthread_create(&w[i].th, NULL, cpu_worker_main, &w[i]) != 0) {
            cpu_pool_destroy(p);
            return mr_errf(err, MR_ERR_BACKEND, "cannot start tuning thread %d of %d", i + 1, n);
        }
        p->n_started++;
    }
    *out = p;
    return MR_OK;
}

/* One shard [0, S) of (step, phase) on workers 0..P-1 (S = 0: an empty launch). */
static void cpu_pool_run(cpu_pool *p, int step, int phase, int P, int64_t S, double *wall_us,
                         double *busy_us) {
    double t0 = now_us();
    pthread_mutex_lock(&p->mu);
    p->step = step;
    p->phase = phase;
    p->end = S;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->remaining = P;
    p->busy_us = 0;
    for (int i = 0; i < P; i++) {
        p->w[i].gen++;
        pthread_cond_signal(&p->w[i].cv);
    }
    while (p->remaining > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    double busy = p->busy_us;
    pthread_mutex_unlock(&p->mu);
    *wall_us = now_us() - t0;
    *busy_us = busy;
}

/* ---------------------------------------------------------------------------------------- */
/* The tuner                                                                                */

typedef struct tuner {
    mr_model *m;
    mr_exec *ex;
    mr_profile_device dev;
    int repeat, quick;
    int64_t done, total;
    mr_tune_progress_fn progress;
    void *progress_user;
    double *a, *b; /* `repeat` samples each */
    cpu_pool *pool;
#ifdef MIRIAM_HAVE_CUDA
    mr_cuda_queue *q;
    mr_cuda_event *ev0, *ev1;
#endif
    mr_err *err;
} tuner;

static int is_cuda(const tuner *t) {
    return t->dev.backend == MR_PROFILE_CUDA;
}

static int n_steps(const tuner *t) {
#ifdef MIRIAM_HAVE_CUDA
    if (is_cuda(t)) return mr_cuda_exec_n_steps(t->ex);
#endif
    return mr_cpu_exec_n_steps(t->ex);
}

static int n_phases(const tuner *t, int step) {
#ifdef MIRIAM_HAVE_CUDA
    if (is_cuda(t)) return mr_cuda_exec_n_phases(t->ex, step);
#endif
    return mr_cpu_exec_n_phases(t->ex, step);
}

/* Logical blocks of the phase; 0 for a step that launches nothing. */
static int64_t phase_blocks(const tuner *t, int step, int phase) {
#ifdef MIRIAM_HAVE_CUDA
    if (is_cuda(t))
        return mr_cuda_exec_step_skipped(t->ex, step)
                   ? 0
                   : mr_cuda_exec_phase_blocks(t->ex, step, phase);
#endif
    (void)phase;
    return mr_cpu_exec_step_skipped(t->ex, step) ? 0 : mr_cpu_exec_phase_blocks(t->ex, step);
}

/* Phases tuned: 0 and 1 (phases >= 2 are recurrent time steps, alike to phase 1). */
static int tuned_phases(const tuner *t, int step) {
    int np = n_phases(t, step);
    return np < 2 ? np : 2;
}

/* The variants of a step and their footprints; full_blocks is capped at the phase's blocks
 * (wider launches would only start idle blocks). */
static mr_status variants(tuner *t, int step, int64_t L, mr_profile_entry *e) {
    if (!is_cuda(t)) {
        e->n_variants = 1;
        int n = t->dev.units;
        e->variants[0].full_blocks = (int64_t)n < L ? n : (int)L;
        return MR_OK;
    }
#ifdef MIRIAM_HAVE_CUDA
    int nv = mr_cuda_exec_n_variants(t->ex, step);
    if (nv > MR_PROFILE_MAX_VARIANTS) nv = MR_PROFILE_MAX_VARIANTS;
    e->n_variants = nv;
    for (int v = 0; v < nv; v++) {
        mr_footprint fp;
        int full = 0, threads = 0;
        MR_TRY(mr_cuda_exec_footprint(t->ex, step, v, &fp, t->err));
        MR_TRY(mr_cuda_exec_launch_shape(t->ex, step, v, &full, &threads, t->err));
        mr_profile_variant *pv = &e->variants[v];
        pv->threads = fp.threads;
        pv->regs = fp.regs_per_thread;
        pv->smem = fp.smem_per_block;
        pv->blocks_per_sm = fp.blocks_per_sm;
        pv->full_blocks = (int64_t)full < L ? full : (int)L;
    }
    return MR_OK;
#else
    return mr_errf(t->err, MR_ERR_INTERNAL, "no CUDA backend");
#endif
}

static int variant_widths(const tuner *t, const mr_profile_entry *e, int v, int *out) {
    const mr_profile_variant *pv = &e->variants[v];
    if (is_cuda(t)) return widths(pv->full_blocks, t->dev.units, pv->blocks_per_sm, t->quick, out);
    return widths(pv->full_blocks, 0, 0, t->quick, out);
}

static int64_t count_candidates(const tuner *t, const mr_profile_entry *e) {
    int64_t n = 0;
    int w[MAX_WIDTHS];
    int64_t s[MAX_SHARDS];
    for (int v = 0; v < e->n_variants; v++) {
        int nw = variant_widths(t, e, v, w);
        for (int i = 0; i < nw; i++) n += shards(w[i], e->phase_blocks, t->quick, s);
    }
    return n;
}

/* Median shard duration and time per logical block of (v, P) over [0, S); S = 0 times an
 * empty launch (block_us is then 0). */
static mr_status measure(tuner *t, int step, int phase, int v, int P, int64_t S, double *shard_us,
                         double *block_us) {
    int R = t->repeat;
    if (!is_cuda(t)) {
        for (int r = -1; r < R; r++) { /* r = -1: warm-up */
            double wall, busy;
            cpu_pool_run(t->pool, step, phase, P, S, &wall, &busy);
            if (r < 0) continue;
            t->a[r] = wall;
            t->b[r] = S > 0 ? busy / (double)S : 0;
        }
        *shard_us = median(t->a, R);
        *block_us = median(t->b, R);
        return MR_OK;
    }
#ifdef MIRIAM_HAVE_CUDA
    mr_launch l;
    memset(&l, 0, sizeof l);
    l.step = step;
    l.phase = phase;
    l.variant = v;
    l.mode = MR_LAUNCH_ELASTIC;
    l.end = S; /* the counter is 0 after begin: the shard [0, S); S = 0 takes no block */
    l.blocks = P;
    /* The phases before this one run first, untimed, at full width: a phase may depend on
     * them for more than its data (the persistent recurrence's sync words are zeroed by its
     * projection phase; measured alone its blocks would wait on counts no phase set). */
    mr_launch before;
    memset(&before, 0, sizeof before);
    before.step = step;
    before.mode = MR_LAUNCH_ELASTIC;
    before.end = -1;
    for (int r = -1; r < R; r++) {
        float ms = 0;
        MR_TRY(mr_cuda_exec_begin_on(t->ex, t->q, t->err));
        for (before.phase = 0; before.phase < phase; before.phase++)
            MR_TRY(mr_cuda_exec_launch_on(t->ex, t->q, &before, NULL, t->err));
        MR_TRY(mr_cuda_event_record(t->ev0, t->q, t->err));
        MR_TRY(mr_cuda_exec_launch_on(t->ex, t->q, &l, NULL, t->err));
        MR_TRY(mr_cuda_event_record(t->ev1, t->q, t->err));
        MR_TRY(mr_cuda_event_elapsed_ms(t->ev0, t->ev1, t->q, &ms, t->err));
        if (r >= 0) t->a[r] = (double)ms * 1e3;
    }
    *shard_us = median(t->a, R);
    *block_us = 0; /* derived by the caller from the empty launch */
    return MR_OK;
#else
    (void)v;
    return mr_errf(t->err, MR_ERR_INTERNAL, "no CUDA backend");
#endif
}

static void tick(tuner *t) {
    t->done++;
    if (t->progress) t->progress(t->progress_user, t->done, t->total);
}

/* Measures every candidate of (step, phase) into e->points, then prunes. */
static mr_status tune_entry(tuner *t, mr_profile_entry *e, mr_tune_stats *st) {
    int64_t L = e->phase_blocks;
    e->points = calloc((size_t)e->candidates, sizeof *e->points);
    if (!e->points)
        return mr_errf(t->err, MR_ERR_NO_MEMORY, "out of memory tuning step %d", e->step);
    int n = 0;
    int w[MAX_WIDTHS];
    int64_t s[MAX_SHARDS];
    for (int v = 0; v < e->n_variants; v++) {
        int full = e->variants[v].full_blocks;
        int nw = variant_widths(t, e, v, w);
        for (int i = 0; i < nw; i++) {
            int P = w[i];
            double ovh, unused;
            MR_TRY(measure(t, e->step, e->phase, v, P, 0, &ovh, &unused));
            double last_block_us = -1;
            int ns = shards(P, L, t->quick, s);
            for (int k = 0; k < ns; k++) {
                int64_t S = s[k];
                int64_t waves = (S + P - 1) / P;
                /* A narrow shard predicted (from the shorter one of the same width) to run
                 * for tens of milliseconds is of no use beside critical work, and would make
                 * tuning big models slow. */
                if (P < full && last_block_us >= 0 &&
                    ovh + (double)waves * last_block_us > MR_TUNE_MAX_SHARD_US) {
                    st->skipped_long++;
                    tick(t);
                    continue;
                }
                double shard_us, block_us;
                MR_TRY(measure(t, e->step, e->phase, v, P, S, &shard_us, &block_us));
                if (is_cuda(t)) {
                    double busy = shard_us - ovh;
                    block_us = (busy > 0 ? busy : shard_us) / (double)waves;
                }
                last_block_us = block_us;
                mr_profile_point *pt = &e->points[n++];
                pt->variant = v;
                pt->blocks = P;
                pt->shard_blocks = S;
                pt->block_us = round_to(block_us, 1e3);
                pt->shard_us = round_to(shard_us > 1e-3 ? shard_us : 1e-3, 1e3);
                pt->overhead_us = round_to(ovh, 1e3);
                if (P == full && S == L) e->variants[v].block_us = pt->block_us;
                tick(t);
            }
        }
    }
    e->n_points = n;
    /* Throughput relative to the step's best full-width launch (any variant, any shard). */
    double best = 0;
    for (int i = 0; i < n; i++) {
        const mr_profile_point *pt = &e->points[i];
        double thr = (double)pt->shard_blocks / pt->shard_us;
        if (pt->blocks == e->variants[pt->variant].full_blocks && thr > best) best = thr;
    }
    for (int i = 0; i < n; i++) {
        mr_profile_point *pt = &e->points[i];
        double rel = best > 0 ? (double)pt->shard_blocks / pt->shard_us / best : 1;
        rel = round_to(rel, 1e4);
        pt->rel_throughput = rel > 1e-4 ? rel : 1e-4;
    }
    return mr_tune_prune(&t->dev, e, st, t->err);
}

/* Random inputs (floats in [-1, 1); integer inputs 0, valid as indices) and output buffers;
 * then one inference, so that every activation holds a finite value. */
static mr_status warm_run(tuner *t, mr_tensor **in_out, mr_tensor **out_out) {
    mr_model *m = t->m;
    int ni = mr_model_n_inputs(m), no = mr_model_n_outputs(m);
    mr_tensor *in = calloc((size_t)ni + 1, sizeof *in);
    mr_tensor *out = calloc((size_t)no + 1, sizeof *out);
    *in_out = in;
    *out_out = out;
    if (!in || !out) return mr_errf(t->err, MR_ERR_NO_MEMORY, "out of memory for the inputs");
    uint64_t rs = 0x9E3779B97F4A7C15ull;
    for (int k = 0; k < ni + no; k++) {
        mr_tensor_info info;
        mr_tensor *x = k < ni ? &in[k] : &out[k - ni];
        MR_TRY(k < ni ? mr_model_input_info(m, k, &info) : mr_model_output_info(m, k - ni, &info));
        x->dtype = info.dtype;
        x->ndim = info.ndim;
        memcpy(x->dims, info.dims, sizeof x->dims);
        int64_t n = mr_tensor_numel(x);
        size_t es = mr_dtype_size(info.dtype);
        if (n < 0 || es == 0)
            return mr_errf(t->err, MR_ERR_SHAPE, "tensor '%s' has no usable shape", info.name);
        x->data = calloc((size_t)(n ? n : 1), es);
        if (!x->data) return mr_errf(t->err, MR_ERR_NO_MEMORY, "out of memory for '%s'", info.name);
        if (k < ni && info.dtype == MR_DTYPE_F32)
            for (int64_t i = 0; i < n; i++) {
                rs ^= rs << 13;
                rs ^= rs >> 7;
                rs ^= rs << 17;
                ((float *)x->data)[i] = (float)((double)(rs >> 11) / 4503599627370496.0 - 1.0);
            }
    }
    mr_status st = mr_model_run(m, ni, in, no, out);
    if (st != MR_OK) return mr_errf(t->err, st, "%s", mr_runtime_last_error(mr_model_runtime(m)));
    return MR_OK;
}

static void free_tensors(mr_tensor *v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i].data);
    free(v);
}

/* The measuring part, with the runtime's run lock held. */
static mr_status tune_locked(tuner *t, mr_profile *p, mr_tune_stats *st) {
    int ns = n_steps(t);
    int cap = 0;
    for (int s = 0; s < ns; s++)
        if (phase_blocks(t, s, 0) > 0) cap += tuned_phases(t, s);
    p->entries = calloc((size_t)(cap ? cap : 1), sizeof *p->entries);
    if (!p->entries) return mr_errf(t->err, MR_ERR_NO_MEMORY, "out of memory for the profile");
    /* The entries and the design space first, so that progress can be reported. */
    for (int s = 0; s < ns; s++) {
        for (int ph = 0; ph < tuned_phases(t, s); ph++) {
            int64_t L = phase_blocks(t, s, ph);
            if (L <= 0) continue;
            mr_profile_entry *e = &p->entries[p->n_entries++];
            e->step = s;
            e->phase = ph;
            e->n_phases = n_phases(t, s);
            e->phase_blocks = L;
            mr_step_info si;
            if (mr_model_step_info(t->m, s, &si) == MR_OK)
                snprintf(e->op, sizeof e->op, "%s", si.op);
            MR_TRY(variants(t, s, L, e));
            e->candidates = count_candidates(t, e);
            t->total += e->candidates;
        }
    }
    if (p->n_entries == 0)
        return mr_errf(t->err, MR_ERR_INVALID_ARG, "the model has no kernel step to tune");
    st->candidates = t->total;
    if (t->progress) t->progress(t->progress_user, 0, t->total);
    for (int i = 0; i < p->n_entries; i++) MR_TRY(tune_entry(t, &p->entries[i], st));
    return MR_OK;
}

mr_status mr_tune_model(mr_model *m, const mr_tune_params *params, mr_profile **out,
                        mr_tune_stats *stats, mr_err *err) {
    if (!m || !out) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_tune_model: NULL argument");
    *out = NULL;
    mr_tune_params prm = params ? *params : mr_tune_default_params();
    if (prm.repeat < 1 || prm.repeat > 100000)
        return mr_errf(err, MR_ERR_INVALID_ARG, "repeat %d is out of range [1, 100000]",
                       prm.repeat);
    double t0 = now_us();
    mr_runtime *rt = mr_model_runtime(m);
    tuner t;
    memset(&t, 0, sizeof t);
    t.m = m;
    t.ex = mr_model_exec(m);
    t.repeat = prm.repeat;
    t.quick = prm.quick != 0;
    t.progress = prm.progress;
    t.progress_user = prm.progress_user;
    t.err = err;
    mr_tune_stats st;
    memset(&st, 0, sizeof st);
    mr_tensor *in = NULL, *outs = NULL;
    mr_profile *p = calloc(1, sizeof *p);
    t.a = calloc((size_t)t.repeat, sizeof(double));
    t.b = calloc((size_t)t.repeat, sizeof(double));
    mr_status rc;
    if (!p || !t.a || !t.b) {
        rc = mr_errf(err, MR_ERR_NO_MEMORY, "out of memory for the tuner");
        goto done;
    }
    if ((rc = mr_profile_runtime_device(rt, &t.dev, err)) != MR_OK) goto done;
    if ((rc = warm_run(&t, &in, &outs)) != MR_OK) goto done;
    p->model_hash = mr_profile_model_hash(mr_model_graph(m));
    snprintf(p->model, sizeof p->model, "%s", prm.model_name ? prm.model_name : "");
    p->n_steps = mr_model_n_steps(m);
    p->device = t.dev;
    p->repeat = t.repeat;
    p->quick = t.quick;
    if (is_cuda(&t)) {
#ifdef MIRIAM_HAVE_CUDA
        if ((rc = mr_cuda_queue_create(rt->be, 0, 0, &t.q, err)) != MR_OK ||
            (rc = mr_cuda_event_create_timed(t.q, &t.ev0, err)) != MR_OK ||
            (rc = mr_cuda_event_create_timed(t.q, &t.ev1, err)) != MR_OK ||
            (rc = mr_cuda_exec_stage_inputs(t.ex, in, err)) != MR_OK)
            goto done;
#endif
    } else if ((rc = cpu_pool_create(t.ex, mr_cpu_exec_n_workers(t.ex), &t.pool, err)) != MR_OK) {
        goto done;
    }
    /* The measurements need the device to themselves: mr_model_run on this runtime (and a
     * task binding this model) wait meanwhile. */
    pthread_mutex_lock(&rt->run_mu);
    rc = tune_locked(&t, p, &st);
    pthread_mutex_unlock(&rt->run_mu);
    p->wall_s = round_to((now_us() - t0) / 1e6, 1e3);
done:
#ifdef MIRIAM_HAVE_CUDA
    if (t.q) {
        mr_cuda_event_destroy(t.q, t.ev0);
        mr_cuda_event_destroy(t.q, t.ev1);
        mr_cuda_queue_destroy(t.q);
    }
#endif
    cpu_pool_destroy(t.pool);
    free_tensors(in, mr_model_n_inputs(m));
    free_tensors(outs, mr_model_n_outputs(m));
    free(t.a);
    free(t.b);
    if (rc != MR_OK) {
        mr_profile_free(p);
        return rc;
    }
    if (stats) *stats = st;
    *out = p;
    return MR_OK;
}
