/* Custom operators: registration (mr_runtime_register_op), the attribute getters the user's
 * callbacks use, and the CPU adapter op that forwards the op contract (ops/op.h) to the
 * user's callbacks. See ops/custom.h and docs/CUSTOM_OPS.md. */
#include "ops/custom.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "model.h"
#include "runtime_internal.h"

_Static_assert(MR_CUSTOM_PARAM_BYTES == MR_CUDA_PARAM_BYTES,
               "the plan's params are copied into mr_cuda_args.params");
_Static_assert(MR_CUSTOM_MAX_IO == MR_MAX_IO && MR_MAX_IO <= MR_CUDA_MAX_PTRS,
               "every input and output of a custom node gets a device pointer");
_Static_assert(MR_CUSTOM_MAX_KERNELS <= MR_CUDA_MAX_VARIANTS, "one CUDA variant per kernel");

static int is_default_domain(const char *d) {
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Registry                                                                                 */

static void entry_free(mr_custom_entry *e) {
    if (!e) return;
    free((char *)e->op.domain);
    free((char *)e->op.op_type);
    free((char *)e->def.name);
    for (int k = 0; k < MR_CUSTOM_MAX_KERNELS; k++) free((char *)e->op.kernels[k].name);
    for (int k = 0; e->attrs && e->attrs[k]; k++) free(e->attrs[k]);
    free(e->attrs);
    free(e);
}

void mr_custom_registry_init(mr_custom_registry *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

void mr_custom_registry_clear(mr_custom_registry *r) {
    for (int i = 0; i < r->n; i++) {
        mr_custom_entry *e = r->entries[i];
        if (e->op.destroy) e->op.destroy(e->op.user);
        entry_free(e);
    }
    free(r->entries);
    r->entries = NULL;
    r->n = r->cap = 0;
    pthread_mutex_destroy(&r->mu);
}

/* Caller holds r->mu. */
static mr_custom_entry *find_locked(mr_custom_registry *r, const char *domain,
                                    const char *op_type) {
    const char *d = is_default_domain(domain) ? "" : domain;
    for (int i = 0; i < r->n; i++) {
        mr_custom_entry *e = r->entries[i];
        if (strcmp(e->op.domain, d) == 0 && strcmp(e->op.op_type, op_type) == 0) return e;
    }
    return NULL;
}

const mr_op_def *mr_custom_find(mr_custom_registry *r, const char *domain, const char *op_type) {
    if (!r || !op_type) return NULL;
    pthread_mutex_lock(&r->mu);
    mr_custom_entry *e = find_locked(r, domain, op_type);
    pthread_mutex_unlock(&r->mu);
    return e ? &e->def : NULL;
}

int mr_custom_has_domain(mr_custom_registry *r, const char *domain) {
    if (!r) return 0;
    const char *d = is_default_domain(domain) ? "" : domain;
    int found = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n && !found; i++) found = strcmp(r->entries[i]->op.domain, d) == 0;
    pthread_mutex_unlock(&r->mu);
    return found;
}

const mr_custom_entry *mr_custom_node_entry(const mr_node *n) {
    if (!n || !n->op || !(n->op->flags & MR_OP_CUSTOM)) return NULL;
    return (const mr_custom_entry *)(const void *)((const char *)n->op -
                                                   offsetof(mr_custom_entry, def));
}

/* ---------------------------------------------------------------------------------------- */
/* The CPU adapter: an op family whose callbacks are the user's                             */

static const mr_custom_entry *entry_of(const mr_node *n) {
    return mr_custom_node_entry(n);
}

static mr_status adapter_init(mr_graph *g, mr_node *n, mr_err *err) {
    mr_custom_node_params *p = mr_calloc(1, sizeof *p, "custom node parameters", err);
    if (!p) return err->status;
    p->entry = entry_of(n);
    n->params = p;
    return MR_OK;
}

/* A tensor description as the callbacks see it; an omitted optional tensor has dtype
 * MR_DTYPE_INVALID, rank 0 and name "". */
static void info_of(const mr_tensor_desc *t, mr_tensor_info *out) {
    memset(out, 0, sizeof *out);
    out->name = "";
    if (!t) return;
    out->name = t->name ? t->name : "";
    out->dtype = t->dtype;
    out->ndim = t->ndim < 0 ? 0 : t->ndim;
    for (int d = 0; d < out->ndim && d < MR_MAX_DIMS; d++) out->dims[d] = t->dims[d];
}

/* The error of a failed callback: the user's message (or the status's name) after the node. */
static mr_status callback_failed(mr_err *err, mr_status st, const mr_node *n, const char *what,
                                 const char *msg) {
    if (msg[0]) return mr_err_node(err, st, n, "%s", msg);
    return mr_err_node(err, st, n, "%s failed (%s)", what, mr_status_str(st));
}

static int valid_dtype(mr_dtype t) {
    return t == MR_DTYPE_F32 || t == MR_DTYPE_I64 || t == MR_DTYPE_I32;
}

static mr_status adapter_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_custom_entry *e = entry_of(n);
    mr_tensor_info in[MR_MAX_IO], out[MR_MAX_IO];
    for (int k = 0; k < n->n_in; k++) info_of(mr_node_input(g, n, k), &in[k]);
    for (int k = 0; k < n->n_out; k++) {
        const mr_tensor_desc *t = mr_node_output(g, n, k);
        memset(&out[k], 0, sizeof out[k]);
        out[k].name = t && t->name ? t->name : "";
        out[k].ndim = -1; /* tells an output the callback did not fill */
    }
    char msg[MR_ERR_MSG_MAX] = "";
    mr_status st = e->op.infer(e->op.user, (const mr_custom_node *)n, n->n_in, in, n->n_out, out,
                               msg, sizeof msg);
    if (st != MR_OK) return callback_failed(err, st, n, "infer", msg);
    for (int k = 0; k < n->n_out; k++) {
        mr_tensor_desc *t = mr_node_output(g, n, k);
        if (!t) continue;
        if (!valid_dtype(out[k].dtype) || out[k].ndim < 0 || out[k].ndim > MR_MAX_DIMS)
            return mr_err_node(err, MR_ERR_INVALID_ARG, n,
                               "infer gave output %d ('%s') dtype %d and rank %d; expected a "
                               "dtype of mr_dtype and a rank from 0 to %d",
                               k, t->name, (int)out[k].dtype, out[k].ndim, MR_MAX_DIMS);
        for (int d = 0; d < out[k].ndim; d++)
            if (out[k].dims[d] < 0)
                return mr_err_node(err, MR_ERR_INVALID_ARG, n,
                                   "infer gave output %d ('%s') a negative dimension", k, t->name);
        mr_set_shape(t, out[k].dtype, out[k].ndim, out[k].dims);
    }
    return MR_OK;
}

static mr_status adapter_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_custom_entry *e = entry_of(n);
    mr_custom_node_params *p = n->params;
    mr_tensor_info in[MR_MAX_IO], out[MR_MAX_IO];
    for (int k = 0; k < n->n_in; k++) info_of(mr_node_input(g, n, k), &in[k]);
    for (int k = 0; k < n->n_out; k++) info_of(mr_node_output(g, n, k), &out[k]);
    mr_custom_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.n_phases = 1;
    char msg[MR_ERR_MSG_MAX] = "";
    mr_status st = e->op.plan(e->op.user, (const mr_custom_node *)n, n->n_in, in, n->n_out, out,
                              &plan, msg, sizeof msg);
    if (st != MR_OK) return callback_failed(err, st, n, "plan", msg);
    if (plan.n_blocks < 0 || plan.n_phases < 1 || plan.flops < 0 ||
        plan.n_blocks > INT64_MAX / plan.n_phases)
        return mr_err_node(err, MR_ERR_INVALID_ARG, n,
                           "plan gave %lld blocks in %d phases and %lld FLOPs; expected blocks "
                           ">= 0, phases >= 1, FLOPs >= 0",
                           (long long)plan.n_blocks, plan.n_phases, (long long)plan.flops);
    if (plan.scratch_bytes > MR_MAX_ALLOC || plan.workspace_bytes > MR_MAX_ALLOC)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "plan asks for %zu bytes of scratch and %zu of workspace (at most %zu "
                           "each)",
                           plan.scratch_bytes, plan.workspace_bytes, (size_t)MR_MAX_ALLOC);
    p->plan = plan;
    n->n_blocks = plan.n_blocks;
    n->n_phases = plan.n_phases;
    n->scratch_bytes = plan.scratch_bytes;
    n->workspace_bytes = plan.workspace_bytes;
    n->flops = plan.flops;
    return MR_OK;
}

static void tensor_of(const mr_tview *v, mr_tensor *t) {
    t->dtype = v->dtype;
    t->data = v->data;
    t->ndim = v->dims && v->ndim > 0 ? v->ndim : 0;
    for (int d = 0; d < t->ndim; d++) t->dims[d] = v->dims[d];
}

static void adapter_run_block(const mr_step *s, int64_t block, void *scratch) {
    const mr_custom_node_params *p = s->node->params;
    const mr_custom_entry *e = p->entry;
    /* The executor numbers blocks across phases; the user's body, like a CUDA kernel, sees
     * the phase and the block within it. */
    int64_t nb = s->node->n_blocks;
    int phase = nb > 0 ? (int)(block / nb) : 0;
    mr_tensor in[MR_MAX_IO], out[MR_MAX_IO];
    for (int k = 0; k < s->n_in; k++) tensor_of(&s->in[k], &in[k]);
    for (int k = 0; k < s->n_out; k++) tensor_of(&s->out[k], &out[k]);
    mr_custom_args a;
    a.n_in = s->n_in;
    a.n_out = s->n_out;
    a.in = in;
    a.out = out;
    a.workspace = s->workspace;
    a.phase = phase;
    a.n_blocks = nb;
    a.params = p->plan.params;
    e->op.cpu_block(e->op.user, &a, block - (int64_t)phase * nb, scratch);
}

/* ---------------------------------------------------------------------------------------- */
/* Registration                                                                             */

static mr_status bad_op(mr_runtime *rt, const mr_custom_op *op, const char *why) {
    mr_err err;
    mr_err_clear(&err);
    const char *d = op && op->domain && !is_default_domain(op->domain) ? op->domain : "";
    mr_errf(&err, MR_ERR_INVALID_ARG, "mr_runtime_register_op: custom operator '%s%s%s': %s", d,
            d[0] ? "." : "", op && op->op_type ? op->op_type : "(null)", why);
    return mr_runtime_fail(rt, &err);
}

/* Checks the descriptor; NULL if it is fine, else why not (into buf). */
static const char *check_op(const mr_custom_op *op, char *buf, size_t size) {
    if (!op->domain) return "domain is NULL (\"\" is the default domain)";
    if (!op->op_type || !op->op_type[0]) return "op_type is NULL or empty";
    if (!op->infer || !op->plan || !op->cpu_block) return "infer, plan and cpu_block are required";
    if (op->min_inputs < 0 || op->max_inputs < op->min_inputs ||
        op->max_inputs > MR_CUSTOM_MAX_IO) {
        snprintf(buf, size, "inputs %d to %d: expected 0 <= min_inputs <= max_inputs <= %d",
                 op->min_inputs, op->max_inputs, MR_CUSTOM_MAX_IO);
        return buf;
    }
    if (op->n_outputs < 1 || op->n_outputs > MR_CUSTOM_MAX_IO) {
        snprintf(buf, size, "n_outputs %d: expected 1 to %d", op->n_outputs, MR_CUSTOM_MAX_IO);
        return buf;
    }
    if (op->n_kernels < 0 || op->n_kernels > MR_CUSTOM_MAX_KERNELS) {
        snprintf(buf, size, "n_kernels %d: expected 0 to %d", op->n_kernels, MR_CUSTOM_MAX_KERNELS);
        return buf;
    }
    for (int k = 0; k < op->n_kernels; k++) {
        const mr_custom_kernel *kn = &op->kernels[k];
        if (!kn->elastic || !kn->plain) {
            snprintf(buf, size, "kernel %d has no %s function (MR_ELASTIC_KERNEL defines both)", k,
                     kn->elastic ? "plain" : "elastic");
            return buf;
        }
        if (kn->threads < 1 || kn->threads > 1024 || kn->smem < 0) {
            snprintf(buf, size,
                     "kernel %d: %d threads and %d bytes of shared memory per block; expected 1 "
                     "to 1024 threads and >= 0 bytes",
                     k, kn->threads, kn->smem);
            return buf;
        }
    }
    for (int k = 0; op->attrs && op->attrs[k]; k++) {
        if (!op->attrs[k][0]) return "an attribute name is empty";
        if (k >= 1024) return "attrs is not NULL-terminated (more than 1024 names)";
    }
    if (is_default_domain(op->domain) && mr_op_find(op->op_type)) {
        snprintf(buf, size,
                 "%s is a built-in operator of the default domain and cannot be replaced",
                 op->op_type);
        return buf;
    }
    return NULL;
}

/* A copy of the descriptor and the adapter op around it; NULL on out-of-memory. */
static mr_custom_entry *entry_new(const mr_custom_op *op, mr_err *err) {
    mr_custom_entry *e = mr_calloc(1, sizeof *e, "custom operator", err);
    if (!e) return NULL;
    e->op = *op;
    const char *d = is_default_domain(op->domain) ? "" : op->domain;
    e->op.domain = mr_strdup(d, err);
    e->op.op_type = mr_strdup(op->op_type, err);
    for (int k = 0; k < MR_CUSTOM_MAX_KERNELS; k++) e->op.kernels[k].name = NULL;
    e->op.attrs = NULL;
    if (!e->op.domain || !e->op.op_type) goto fail;
    /* The op's name, as passes and messages see it: qualified, so that it can never be taken
     * for a built-in op (the passes match ops by name). */
    size_t len = strlen(d) + strlen(op->op_type) + 2;
    char *name = mr_malloc(len, "custom operator name", err);
    if (!name) goto fail;
    snprintf(name, len, "%s%s%s", d, d[0] ? "." : "", op->op_type);
    e->def.name = name;
    for (int k = 0; k < op->n_kernels; k++) {
        char def_name[16];
        snprintf(def_name, sizeof def_name, "k%d", k);
        e->op.kernels[k].name =
            mr_strdup(op->kernels[k].name ? op->kernels[k].name : def_name, err);
        if (!e->op.kernels[k].name) goto fail;
        mr_cuda_variant *v = &e->variants[k];
        v->name = e->op.kernels[k].name;
        v->elastic = op->kernels[k].elastic;
        v->plain = op->kernels[k].plain;
        v->threads = op->kernels[k].threads;
        v->smem = op->kernels[k].smem;
        v->foreign = 1;
    }
    if (op->attrs) {
        int na = 0;
        while (op->attrs[na]) na++;
        e->attrs = mr_calloc((size_t)na + 1, sizeof(char *), "custom operator attributes", err);
        if (!e->attrs) goto fail;
        for (int k = 0; k < na; k++)
            if (!(e->attrs[k] = mr_strdup(op->attrs[k], err))) goto fail;
        e->op.attrs = (const char *const *)e->attrs;
    }
    e->def.min_in = op->min_inputs;
    e->def.max_in = op->max_inputs;
    e->def.min_out = e->def.max_out = op->n_outputs;
    e->def.flags = MR_OP_CUSTOM | MR_OP_NO_FOLD;
    e->def.attrs = (const char *const *)e->attrs;
    e->def.init = adapter_init;
    e->def.infer = adapter_infer;
    e->def.prepare = adapter_prepare;
    e->def.run_block = adapter_run_block;
    e->def.free_params = NULL; /* free() */
    return e;
fail:
    entry_free(e);
    return NULL;
}

mr_status mr_runtime_register_op(mr_runtime *rt, const mr_custom_op *op) {
    if (!rt) return MR_ERR_INVALID_ARG;
    if (!op) return bad_op(rt, NULL, "the descriptor is NULL");
    char why[MR_ERR_MSG_MAX];
    const char *bad = check_op(op, why, sizeof why);
    if (bad) return bad_op(rt, op, bad);
    mr_err err;
    mr_err_clear(&err);
    mr_custom_entry *e = entry_new(op, &err);
    if (!e) return mr_runtime_fail(rt, &err);
    mr_custom_registry *r = &rt->custom_ops;
    pthread_mutex_lock(&r->mu);
    mr_status st = MR_OK;
    if (find_locked(r, e->op.domain, e->op.op_type))
        st = MR_ERR_INVALID_ARG;
    else if (!mr_grow((void **)&r->entries, &r->cap, r->n + 1, sizeof *r->entries,
                      "custom operator table", &err))
        st = err.status;
    else
        r->entries[r->n++] = e;
    pthread_mutex_unlock(&r->mu);
    if (st == MR_ERR_INVALID_ARG) {
        entry_free(e);
        return bad_op(rt, op, "already registered on this runtime");
    }
    if (st != MR_OK) {
        entry_free(e);
        return mr_runtime_fail(rt, &err);
    }
    return MR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Attribute getters                                                                        */

/* The attribute `name` of the node: MR_OK with *out NULL when absent, MR_ERR_PARSE when it
 * is not of type `want`. The message leaves out the node: the adapter adds it. */
static mr_status get_attr(const mr_custom_node *node, const char *name, mr_attr_type want,
                          const mr_attr **out, char *errbuf, size_t errbuf_size) {
    *out = NULL;
    if (!node || !name) {
        if (errbuf && errbuf_size) snprintf(errbuf, errbuf_size, "attribute getter: NULL argument");
        return MR_ERR_INVALID_ARG;
    }
    const mr_attr *a = mr_node_attr((const mr_node *)(const void *)node, name);
    if (a && a->type != want) {
        if (errbuf && errbuf_size)
            snprintf(errbuf, errbuf_size, "attribute '%s' is of type %s, expected %s", name,
                     mr_attr_type_name(a->type), mr_attr_type_name(want));
        return MR_ERR_PARSE;
    }
    *out = a;
    return MR_OK;
}

const char *mr_custom_node_name(const mr_custom_node *node) {
    const mr_node *n = (const mr_node *)(const void *)node;
    return n && n->name ? n->name : "";
}

mr_status mr_custom_attr_int(const mr_custom_node *node, const char *name, int64_t def,
                             int64_t *out, char *errbuf, size_t errbuf_size) {
    const mr_attr *a;
    MR_TRY(get_attr(node, name, MR_ATTR_INT, &a, errbuf, errbuf_size));
    if (out) *out = a ? a->i : def;
    return MR_OK;
}

mr_status mr_custom_attr_float(const mr_custom_node *node, const char *name, float def, float *out,
                               char *errbuf, size_t errbuf_size) {
    const mr_attr *a;
    MR_TRY(get_attr(node, name, MR_ATTR_FLOAT, &a, errbuf, errbuf_size));
    if (out) *out = a ? a->f : def;
    return MR_OK;
}

/* Shared by the two array getters: copies a->n elements of `elem` bytes. */
static mr_status get_array(const mr_attr *a, const char *name, const void *src, size_t elem,
                           void *out, int cap, int *count, char *errbuf, size_t errbuf_size) {
    if (count) *count = 0;
    if (!a) return MR_OK;
    if (a->n > cap) {
        if (errbuf && errbuf_size)
            snprintf(errbuf, errbuf_size, "attribute '%s' has %d values (at most %d supported)",
                     name, a->n, cap);
        return MR_ERR_UNSUPPORTED;
    }
    if (a->n && out) memcpy(out, src, elem * (size_t)a->n);
    if (count) *count = a->n;
    return MR_OK;
}

mr_status mr_custom_attr_ints(const mr_custom_node *node, const char *name, int64_t *out, int cap,
                              int *count, char *errbuf, size_t errbuf_size) {
    const mr_attr *a;
    MR_TRY(get_attr(node, name, MR_ATTR_INTS, &a, errbuf, errbuf_size));
    return get_array(a, name, a ? (const void *)a->ints : NULL, sizeof(int64_t), out, cap, count,
                     errbuf, errbuf_size);
}

mr_status mr_custom_attr_floats(const mr_custom_node *node, const char *name, float *out, int cap,
                                int *count, char *errbuf, size_t errbuf_size) {
    const mr_attr *a;
    MR_TRY(get_attr(node, name, MR_ATTR_FLOATS, &a, errbuf, errbuf_size));
    return get_array(a, name, a ? (const void *)a->floats : NULL, sizeof(float), out, cap, count,
                     errbuf, errbuf_size);
}

mr_status mr_custom_attr_string(const mr_custom_node *node, const char *name, const char *def,
                                const char **out, char *errbuf, size_t errbuf_size) {
    const mr_attr *a;
    MR_TRY(get_attr(node, name, MR_ATTR_STRING, &a, errbuf, errbuf_size));
    if (out) *out = a ? a->s : def;
    return MR_OK;
}
