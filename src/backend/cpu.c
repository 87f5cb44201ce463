/* CPU backend: executes the elastic kernels' logical blocks on a pool of worker threads.
 * Workers take logical blocks of the current step (and phase) from a shared counter, exactly
 * as GPU thread blocks do under the elastic-kernel contract, then meet at a barrier. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/cpu.h"
#include "core/alloc.h"
#include "core/threadpool.h"
#include "ops/op.h"

struct mr_backend {
    mr_pool *pool;
};

struct mr_exec {
    mr_backend *be;
    const mr_graph *g;
    const mr_plan *plan;
    unsigned char *arena;
    mr_step *steps;        /* one per plan step */
    int64_t *counter_base; /* index of each step's first phase counter */
    _Atomic int64_t *counters;
    int64_t n_counters;
    void **scratch; /* per worker */
    mr_barrier barrier;
};

static mr_status cpu_create(const mr_runtime_params *params, mr_backend **out, mr_err *err) {
    int n = params->n_threads;
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    if (n > 256) return mr_errf(err, MR_ERR_INVALID_ARG, "n_threads %d is too large (max 256)", n);
    mr_backend *be = mr_calloc(1, sizeof *be, "CPU backend", err);
    if (!be) return err->status;
    be->pool = mr_pool_create(n, err);
    if (!be->pool) {
        free(be);
        return err->status;
    }
    *out = be;
    return MR_OK;
}

static void cpu_destroy(mr_backend *be) {
    if (!be) return;
    mr_pool_destroy(be->pool);
    free(be);
}

static int cpu_n_threads(const mr_backend *be) {
    return mr_pool_size(be->pool);
}

static void *tensor_ptr(const mr_exec *ex, int t) {
    const mr_tensor_desc *d = &ex->g->tensors[t];
    if (d->data) return d->data;
    return ex->arena + d->offset;
}

static void cpu_exec_destroy(mr_exec *ex) {
    if (!ex) return;
    if (ex->scratch)
        for (int w = 0; w < mr_pool_size(ex->be->pool); w++) mr_free_aligned(ex->scratch[w]);
    free(ex->scratch);
    mr_free_aligned(ex->arena);
    free(ex->steps);
    free(ex->counter_base);
    free((void *)ex->counters);
    free(ex);
}

static mr_status cpu_exec_create(mr_backend *be, const mr_graph *g, const mr_plan *plan,
                                 mr_exec **out, mr_err *err) {
    mr_exec *ex = mr_calloc(1, sizeof *ex, "execution context", err);
    if (!ex) return err->status;
    ex->be = be;
    ex->g = g;
    ex->plan = plan;
    int nw = mr_pool_size(be->pool), ns = plan->n_steps;
    ex->arena = mr_malloc_aligned(plan->arena_bytes, "activation arena", err);
    ex->steps = mr_calloc((size_t)(ns ? ns : 1), sizeof(mr_step), "steps", err);
    ex->counter_base = mr_calloc((size_t)(ns ? ns : 1), sizeof(int64_t), "steps", err);
    ex->scratch = mr_calloc((size_t)nw, sizeof(void *), "scratch", err);
    if (!ex->arena || !ex->steps || !ex->counter_base || !ex->scratch) goto fail;
    for (int w = 0; w < nw; w++)
        if (plan->scratch_bytes &&
            !(ex->scratch[w] = mr_malloc_aligned(plan->scratch_bytes, "worker scratch", err)))
            goto fail;
    int64_t nc = 0;
    for (int s = 0; s < ns; s++) {
        const mr_node *n = &g->nodes[plan->steps[s]];
        mr_step *st = &ex->steps[s];
        st->op = n->op;
        st->node = n;
        st->n_in = n->n_in;
        st->n_out = n->n_out;
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0) continue;
            const mr_tensor_desc *d = &g->tensors[n->in[k]];
            st->in[k] =
                (mr_tview){tensor_ptr(ex, n->in[k]), d->dtype, d->ndim, d->dims, mr_desc_numel(d)};
        }
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) continue;
            const mr_tensor_desc *d = &g->tensors[n->out[k]];
            st->out[k] =
                (mr_tview){tensor_ptr(ex, n->out[k]), d->dtype, d->ndim, d->dims, mr_desc_numel(d)};
        }
        st->workspace = n->workspace_bytes ? ex->arena + plan->ws_offset[s] : NULL;
        ex->counter_base[s] = nc;
        nc += n->n_phases;
    }
    ex->n_counters = nc;
    ex->counters = mr_calloc((size_t)(nc ? nc : 1), sizeof(int64_t), "step counters", err);
    if (!ex->counters) goto fail;
    mr_barrier_init(&ex->barrier, nw);
    *out = ex;
    return MR_OK;
fail:
    cpu_exec_destroy(ex);
    return err->status;
}

/* Every worker walks the same steps; within a phase, logical blocks are taken from the
 * phase's counter, so any number of workers (or a shard of them) can execute it. */
static void run_job(void *arg, int worker, int n_workers) {
    mr_exec *ex = arg;
    const mr_plan *plan = ex->plan;
    void *scratch = ex->scratch[worker];
    for (int s = 0; s < plan->n_steps; s++) {
        if (plan->skip[s]) continue;
        const mr_step *st = &ex->steps[s];
        int64_t nb = st->node->n_blocks;
        for (int ph = 0; ph < st->node->n_phases; ph++) {
            _Atomic int64_t *ctr = &ex->counters[ex->counter_base[s] + ph];
            int64_t i;
            while ((i = atomic_fetch_add_explicit(ctr, 1, memory_order_relaxed)) < nb)
                st->op->run_block(st, (int64_t)ph * nb + i, scratch);
            mr_barrier_wait(&ex->barrier);
        }
    }
    (void)n_workers;
}

void mr_cpu_exec_copy_inputs(mr_exec *ex, const mr_tensor *inputs) {
    const mr_graph *g = ex->g;
    for (int i = 0; i < g->n_inputs; i++) {
        const mr_tensor_desc *d = &g->tensors[g->inputs[i]];
        memcpy(tensor_ptr(ex, g->inputs[i]), inputs[i].data, mr_desc_bytes(d));
    }
}

void mr_cpu_exec_copy_outputs(const mr_exec *ex, mr_tensor *outputs) {
    const mr_graph *g = ex->g;
    for (int i = 0; i < g->n_outputs; i++) {
        const mr_tensor_desc *d = &g->tensors[g->outputs[i]];
        memcpy(outputs[i].data, tensor_ptr(ex, g->outputs[i]), mr_desc_bytes(d));
    }
}

int mr_cpu_exec_n_steps(const mr_exec *ex) {
    return ex->plan->n_steps;
}

int mr_cpu_exec_step_skipped(const mr_exec *ex, int step) {
    return ex->plan->skip[step] != 0;
}

int mr_cpu_exec_n_phases(const mr_exec *ex, int step) {
    return ex->steps[step].node->n_phases;
}

int64_t mr_cpu_exec_phase_blocks(const mr_exec *ex, int step) {
    return ex->steps[step].node->n_blocks;
}

int mr_cpu_exec_n_workers(const mr_exec *ex) {
    return mr_pool_size(ex->be->pool);
}

void mr_cpu_exec_run_block(mr_exec *ex, int step, int phase, int64_t i, int worker) {
    const mr_step *st = &ex->steps[step];
    st->op->run_block(st, (int64_t)phase * st->node->n_blocks + i, ex->scratch[worker]);
}

static mr_status cpu_run(mr_exec *ex, const mr_tensor *inputs, mr_tensor *outputs, mr_err *err) {
    mr_cpu_exec_copy_inputs(ex, inputs);
    for (int64_t c = 0; c < ex->n_counters; c++) atomic_store(&ex->counters[c], 0);
    mr_pool_run(ex->be->pool, run_job, ex);
    mr_cpu_exec_copy_outputs(ex, outputs);
    return MR_OK;
}

const mr_backend_iface mr_backend_cpu_iface = {
    .name = "cpu",
    .kind = MR_BACKEND_CPU,
    .create = cpu_create,
    .destroy = cpu_destroy,
    .n_threads = cpu_n_threads,
    .exec_create = cpu_exec_create,
    .exec_destroy = cpu_exec_destroy,
    .run = cpu_run,
    .device_bytes = NULL,
};
