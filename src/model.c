/* Models: loading (ONNX file/buffer, zoo), information, and synchronous inference. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/memplan.h"
#include "model.h"
#include "onnx/onnx_import.h"
#include "ops/op.h"
#include "runtime_internal.h"
#include "zoo/zoo.h"

struct mr_model {
    mr_runtime *rt;
    mr_graph *g;
    mr_plan plan;
    mr_exec *exec;
    mr_model_stats stats;
    mr_task *task;         /* the task running in exec, if any (guarded by rt->run_mu) */
    mr_model *prev, *next; /* the runtime's list of models (guarded by rt->run_mu) */
    int listed;
};

mr_model_params mr_model_default_params(void) {
    mr_model_params p;
    memset(&p, 0, sizeof p);
    p.default_dim = 1;
    p.optimize = 1;
    return p;
}

static mr_status fail(mr_runtime *rt, mr_err *err) {
    return mr_runtime_fail(rt, err);
}

static void compute_stats(mr_model *m) {
    const mr_graph *g = m->g;
    mr_model_stats *s = &m->stats;
    memset(s, 0, sizeof *s);
    s->n_params = g->n_params;
    s->arena_bytes = m->plan.arena_bytes;
    s->largest_tensor = m->plan.largest;
    s->device_bytes = m->rt->iface->device_bytes ? m->rt->iface->device_bytes(m->exec) : 0;
    for (int i = 0; i < g->n_nodes; i++) s->n_nodes++;
    char *seen = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
    for (int i = 0; i < m->plan.n_steps; i++) {
        const mr_node *n = &g->nodes[m->plan.steps[i]];
        /* Saturating: a node's count may itself be saturated at INT64_MAX. */
        s->flops = n->flops > INT64_MAX - s->flops ? INT64_MAX : s->flops + n->flops;
        if (!m->plan.skip[i]) {
            s->n_steps++;
            s->n_blocks += n->n_blocks * n->n_phases;
        }
        for (int k = 0; k < n->n_in && seen; k++) {
            int t = n->in[k];
            if (t >= 0 && g->tensors[t].data && !seen[t]) {
                seen[t] = 1;
                s->weight_bytes += mr_desc_bytes(&g->tensors[t]);
            }
        }
    }
    for (int i = 0; i < g->n_outputs && seen; i++) {
        int t = g->outputs[i];
        if (g->tensors[t].data && !seen[t]) {
            seen[t] = 1;
            s->weight_bytes += mr_desc_bytes(&g->tensors[t]);
        }
    }
    free(seen);
}

/* Finalises, plans and binds a graph into a model; takes ownership of g. Does not record
 * the error in the runtime (callers add context first). */
static mr_status build_model(mr_runtime *rt, mr_graph *g, const mr_model_params *params,
                             mr_model **out, mr_err *err) {
    mr_model_params p = params ? *params : mr_model_default_params();
    mr_model *m = mr_calloc(1, sizeof *m, "model", err);
    if (!m) {
        mr_graph_destroy(g);
        return err->status;
    }
    m->rt = rt;
    m->g = g;
    g->custom = &rt->custom_ops;
    if (mr_graph_finalize(g, p.optimize, err) != MR_OK ||
        mr_plan_build(g, &m->plan, err) != MR_OK ||
        rt->iface->exec_create(rt->be, g, &m->plan, &m->exec, err) != MR_OK) {
        mr_model_destroy(m);
        return err->status;
    }
    compute_stats(m);
    pthread_mutex_lock(&rt->run_mu);
    m->next = rt->models;
    if (rt->models) rt->models->prev = m;
    rt->models = m;
    m->listed = 1;
    pthread_mutex_unlock(&rt->run_mu);
    mr_log(rt, MR_LOG_INFO, "model: %d steps, %.1f MFLOP, arena %.2f MiB", m->stats.n_steps,
           (double)m->stats.flops / 1e6, (double)m->stats.arena_bytes / (1024.0 * 1024.0));
    *out = m;
    return MR_OK;
}

mr_status mr_model_from_graph(mr_runtime *rt, mr_graph *g, const mr_model_params *params,
                              mr_model **out) {
    mr_err err;
    mr_err_clear(&err);
    if (!rt || !out) {
        mr_graph_destroy(g);
        mr_errf(&err, MR_ERR_INVALID_ARG, "mr_model_from_graph: NULL runtime or output");
        return fail(rt, &err);
    }
    *out = NULL;
    if (!g) {
        mr_errf(&err, MR_ERR_INVALID_ARG, "mr_model_from_graph: NULL graph");
        return fail(rt, &err);
    }
    if (build_model(rt, g, params, out, &err) != MR_OK) return fail(rt, &err);
    return MR_OK;
}

static mr_status check_params(mr_runtime *rt, const mr_model_params *params, mr_err *err) {
    if (params && params->default_dim < 1)
        return mr_errf(err, MR_ERR_INVALID_ARG, "default_dim must be >= 1 (got %lld)",
                       (long long)params->default_dim);
    return MR_OK;
}

mr_status mr_model_load_buffer(mr_runtime *rt, const void *data, size_t size,
                               const mr_model_params *params, mr_model **out) {
    mr_err err;
    mr_err_clear(&err);
    if (!rt) return MR_ERR_INVALID_ARG;
    if (!out || (!data && size)) {
        mr_errf(&err, MR_ERR_INVALID_ARG, "mr_model_load_buffer: NULL buffer or output");
        return fail(rt, &err);
    }
    *out = NULL;
    if (check_params(rt, params, &err) != MR_OK) return fail(rt, &err);
    mr_graph *g = NULL;
    int64_t dd = params ? params->default_dim : 1;
    if (mr_onnx_import_custom(data, size, dd, &rt->custom_ops, &g, &err) != MR_OK)
        return fail(rt, &err);
    g->default_dim = dd;
    return mr_model_from_graph(rt, g, params, out);
}

mr_status mr_model_load_file(mr_runtime *rt, const char *path, const mr_model_params *params,
                             mr_model **out) {
    mr_err err;
    mr_err_clear(&err);
    if (!rt) return MR_ERR_INVALID_ARG;
    if (!path || !out) {
        mr_errf(&err, MR_ERR_INVALID_ARG, "mr_model_load_file: NULL path or output");
        return fail(rt, &err);
    }
    *out = NULL;
    if (check_params(rt, params, &err) != MR_OK) return fail(rt, &err);
    void *data = NULL;
    size_t size = 0;
    if (mr_read_file(path, &data, &size, &err) != MR_OK) return fail(rt, &err);
    mr_graph *g = NULL;
    int64_t dd = params ? params->default_dim : 1;
    mr_status st = mr_onnx_import_custom(data, size, dd, &rt->custom_ops, &g, &err);
    free(data);
    if (st == MR_OK) {
        g->default_dim = dd;
        st = build_model(rt, g, params, out, &err);
    }
    if (st != MR_OK) {
        /* Say which file failed: users load several models. */
        mr_err_prefix(&err, "%s: ", path);
        return fail(rt, &err);
    }
    return MR_OK;
}

mr_status mr_model_load_zoo(mr_runtime *rt, const char *name, const mr_model_params *params,
                            mr_model **out) {
    mr_err err;
    mr_err_clear(&err);
    if (!rt) return MR_ERR_INVALID_ARG;
    if (!name || !out) {
        mr_errf(&err, MR_ERR_INVALID_ARG, "mr_model_load_zoo: NULL name or output");
        return fail(rt, &err);
    }
    *out = NULL;
    if (check_params(rt, params, &err) != MR_OK) return fail(rt, &err);
    mr_graph *g = NULL;
    if (mr_zoo_build(name, &g, &err) != MR_OK) return fail(rt, &err);
    return mr_model_from_graph(rt, g, params, out);
}

mr_status mr_model_load(mr_runtime *rt, const char *spec, const mr_model_params *params,
                        mr_model **out) {
    if (spec && strncmp(spec, "zoo:", 4) == 0) return mr_model_load_zoo(rt, spec + 4, params, out);
    return mr_model_load_file(rt, spec, params, out);
}

void mr_model_destroy(mr_model *m) {
    if (!m) return;
    pthread_mutex_lock(&m->rt->run_mu);
    mr_task *task = m->task;
    pthread_mutex_unlock(&m->rt->run_mu);
    if (task) mr_task_destroy(task);
    pthread_mutex_lock(&m->rt->run_mu);
    if (m->listed) {
        if (m->prev)
            m->prev->next = m->next;
        else
            m->rt->models = m->next;
        if (m->next) m->next->prev = m->prev;
    }
    pthread_mutex_unlock(&m->rt->run_mu);
    if (m->exec) m->rt->iface->exec_destroy(m->exec);
    mr_plan_free(&m->plan);
    mr_graph_destroy(m->g);
    free(m);
}

const mr_graph *mr_model_graph(const mr_model *m) {
    return m ? m->g : NULL;
}

struct mr_exec *mr_model_exec(const mr_model *m) {
    return m ? m->exec : NULL;
}

mr_runtime *mr_model_runtime(const mr_model *m) {
    return m ? m->rt : NULL;
}

mr_status mr_model_bind_task(mr_model *m, mr_task *task, mr_err *err) {
    mr_status st = MR_OK;
    pthread_mutex_lock(&m->rt->run_mu);
    if (task && m->task)
        st = mr_errf(err, MR_ERR_INVALID_ARG,
                     "the model already backs task '%s'; load it again for a second task",
                     mr_task_name(m->task));
    else
        m->task = task;
    pthread_mutex_unlock(&m->rt->run_mu);
    return st;
}

int mr_model_n_inputs(const mr_model *m) {
    return m ? m->g->n_inputs : 0;
}
int mr_model_n_outputs(const mr_model *m) {
    return m ? m->g->n_outputs : 0;
}

static mr_status tensor_info(const mr_model *m, int t, mr_tensor_info *out) {
    const mr_tensor_desc *d = &m->g->tensors[t];
    memset(out, 0, sizeof *out);
    out->name = d->name;
    out->dtype = d->dtype;
    out->ndim = d->ndim;
    for (int i = 0; i < d->ndim; i++) out->dims[i] = d->dims[i];
    return MR_OK;
}

static mr_status bad_index(const mr_model *m, const char *what, int index, int count) {
    mr_err err;
    mr_errf(&err, MR_ERR_INVALID_ARG, "%s index %d is out of range (the model has %d)", what, index,
            count);
    return mr_runtime_fail(m->rt, &err);
}

mr_status mr_model_input_info(const mr_model *m, int index, mr_tensor_info *out) {
    if (!m || !out) return MR_ERR_INVALID_ARG;
    if (index < 0 || index >= m->g->n_inputs) return bad_index(m, "input", index, m->g->n_inputs);
    return tensor_info(m, m->g->inputs[index], out);
}

mr_status mr_model_output_info(const mr_model *m, int index, mr_tensor_info *out) {
    if (!m || !out) return MR_ERR_INVALID_ARG;
    if (index < 0 || index >= m->g->n_outputs)
        return bad_index(m, "output", index, m->g->n_outputs);
    return tensor_info(m, m->g->outputs[index], out);
}

mr_status mr_model_get_stats(const mr_model *m, mr_model_stats *out) {
    if (!m || !out) return MR_ERR_INVALID_ARG;
    *out = m->stats;
    return MR_OK;
}

int mr_model_n_steps(const mr_model *m) {
    return m ? m->plan.n_steps : 0;
}

mr_status mr_model_step_info(const mr_model *m, int index, mr_step_info *out) {
    if (!m || !out) return MR_ERR_INVALID_ARG;
    if (index < 0 || index >= m->plan.n_steps) return bad_index(m, "step", index, m->plan.n_steps);
    const mr_node *n = &m->g->nodes[m->plan.steps[index]];
    out->op = n->label ? n->label : n->op_type;
    out->name = n->name;
    out->output = n->out[0] >= 0 ? m->g->tensors[n->out[0]].name : "";
    out->n_blocks = m->plan.skip[index] ? 0 : n->n_blocks * n->n_phases;
    out->flops = n->flops;
    return MR_OK;
}

/* Inputs and outputs must match the model exactly; the message names the tensor. */
static mr_status check_tensor(const mr_tensor_desc *d, const mr_tensor *t, const char *kind,
                              int index, mr_err *err) {
    char want[160], got[160];
    if (!t->data)
        return mr_errf(err, MR_ERR_INVALID_ARG, "%s %d ('%s'): data is NULL", kind, index, d->name);
    if (t->dtype != d->dtype)
        return mr_errf(err, MR_ERR_SHAPE, "%s %d ('%s'): dtype %s, the model expects %s", kind,
                       index, d->name, mr_dtype_name(t->dtype), mr_dtype_name(d->dtype));
    int same = t->ndim == d->ndim;
    for (int i = 0; same && i < d->ndim; i++) same = t->dims[i] == d->dims[i];
    if (!same) {
        int nd = t->ndim < 0 || t->ndim > MR_MAX_DIMS ? 0 : t->ndim;
        return mr_errf(err, MR_ERR_SHAPE, "%s %d ('%s'): shape %s, the model expects %s", kind,
                       index, d->name, mr_dims_str(nd, t->dims, got, sizeof got),
                       mr_dims_str(d->ndim, d->dims, want, sizeof want));
    }
    return MR_OK;
}

mr_status mr_model_check_io(const mr_model *m, int n_inputs, const mr_tensor *inputs, int n_outputs,
                            const mr_tensor *outputs, const char *fn, mr_err *err) {
    const mr_graph *g = m->g;
    if (n_inputs != g->n_inputs || n_outputs != g->n_outputs || (n_inputs && !inputs) ||
        (n_outputs && !outputs))
        return mr_errf(err, MR_ERR_INVALID_ARG,
                       "%s: the model has %d inputs and %d outputs, got %d and %d%s", fn,
                       g->n_inputs, g->n_outputs, n_inputs, n_outputs,
                       (n_inputs && !inputs) || (n_outputs && !outputs) ? " (NULL array)" : "");
    for (int i = 0; i < n_inputs; i++)
        if (check_tensor(&g->tensors[g->inputs[i]], &inputs[i], "input", i, err) != MR_OK)
            return err->status;
    for (int i = 0; i < n_outputs; i++)
        if (check_tensor(&g->tensors[g->outputs[i]], &outputs[i], "output", i, err) != MR_OK)
            return err->status;
    return MR_OK;
}

mr_status mr_model_run(mr_model *m, int n_inputs, const mr_tensor *inputs, int n_outputs,
                       mr_tensor *outputs) {
    mr_err err;
    mr_err_clear(&err);
    if (!m) return MR_ERR_INVALID_ARG;
    if (mr_model_check_io(m, n_inputs, inputs, n_outputs, outputs, "mr_model_run", &err) != MR_OK)
        return fail(m->rt, &err);
    pthread_mutex_lock(&m->rt->run_mu);
    if (m->task) {
        pthread_mutex_unlock(&m->rt->run_mu);
        mr_errf(&err, MR_ERR_INVALID_ARG,
                "mr_model_run: the model backs task '%s'; submit requests to the task instead",
                mr_task_name(m->task));
        return fail(m->rt, &err);
    }
    mr_status st = m->rt->iface->run(m->exec, inputs, outputs, &err);
    pthread_mutex_unlock(&m->rt->run_mu);
    if (st != MR_OK) return fail(m->rt, &err);
    return MR_OK;
}
