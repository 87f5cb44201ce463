/* Unary activations: Relu, Clip, LeakyRelu, Sigmoid, Tanh (float32), and the activation
 * helpers shared with the producers that fuse them (Conv, Gemm, MatMul epilogues).
 *
 * Every kernel is one pass over a contiguous chunk of ACT_CHUNK elements per logical block
 * (128 KiB in, 128 KiB out: a few microseconds, and many blocks on large layers).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"
#include "ops/vmath.h"

#define ACT_CHUNK ((int64_t)1 << 15)

#if defined(__GNUC__)
#define MR_ALWAYS_INLINE __attribute__((always_inline))
#else
#define MR_ALWAYS_INLINE
#endif

/* ---- elementwise kernels ---- */

/* Each formula propagates NaN like the ONNX reference (numpy): a comparison with NaN is
 * false, so the select keeps x. */
static inline float relu1(float x) {
    return x < 0.0f ? 0.0f : x;
}
static inline float clip1(float x, float lo, float hi) {
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}
/* x * (x < 0 ? a : 1): the select picks a constant rather than the product, so it stays
 * branch-free and the loop vectorises (see mr_vsel). */
static inline float leaky1(float x, float a) {
    return x * mr_vsel(x < 0.0f, a, 1.0f);
}

/* y[i] = act(x[i]). Always inlined into its two callers: with x == y visible to the compiler
 * (in place) the loops vectorise without alias checks; out of place they vectorise behind
 * GCC's runtime overlap check. One loop per kind keeps the switch out of the inner loop. */
static inline MR_ALWAYS_INLINE void act_map(const mr_act *act, const float *x, float *y,
                                            int64_t n) {
    const float a = act->alpha, b = act->beta;
    switch (act->kind) {
    case MR_ACT_NONE:
        if (x != y) memcpy(y, x, (size_t)n * sizeof *y);
        break;
    case MR_ACT_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = relu1(x[i]);
        break;
    case MR_ACT_CLIP:
        for (int64_t i = 0; i < n; i++) y[i] = clip1(x[i], a, b);
        break;
    case MR_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = leaky1(x[i], a);
        break;
    case MR_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = mr_vsigmoidf(x[i]);
        break;
    case MR_ACT_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = mr_vtanhf(x[i]);
        break;
    }
}

void mr_act_apply(const mr_act *act, float *x, int64_t n) {
    if (!act || act->kind == MR_ACT_NONE || n <= 0) return;
    act_map(act, x, x, n);
}

static void act_map_out(const mr_act *act, const float *x, float *y, int64_t n) {
    act_map(act, x, y, n);
}

/* ---- recognising an activation node (for the fusion pass) ---- */

static int is_default_domain(const mr_node *n) {
    return !n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0;
}

/* A float attribute, `def` when absent; 0 if present with another type. */
static int float_attr(const mr_node *n, const char *name, float def, float *out) {
    const mr_attr *a = mr_node_attr(n, name);
    if (!a) {
        *out = def;
        return 1;
    }
    if (a->type != MR_ATTR_FLOAT) return 0;
    *out = a->f;
    return 1;
}

/* Clip's bound input i (opset >= 11): `def` when omitted, its value when it is a float32
 * constant with one element; 0 when it is only known at run time (or malformed). */
static int clip_const_bound(mr_graph *g, const mr_node *n, int i, float def, float *out) {
    const mr_tensor_desc *t = mr_node_input(g, n, i);
    if (!t) {
        *out = def;
        return 1;
    }
    if (!t->data || t->dtype != MR_DTYPE_F32 || t->ndim < 0 || mr_desc_numel(t) != 1) return 0;
    *out = *(const float *)t->data;
    return 1;
}

int mr_act_from_node(mr_graph *g, const mr_node *n, mr_act *out) {
    if (!n || !n->op_type || !out || !is_default_domain(n) || n->n_out != 1) return 0;
    mr_act act = {MR_ACT_NONE, 0.0f, 0.0f};
    const char *t = n->op_type;
    if (strcmp(t, "Relu") == 0) {
        act.kind = MR_ACT_RELU;
    } else if (strcmp(t, "Sigmoid") == 0) {
        act.kind = MR_ACT_SIGMOID;
    } else if (strcmp(t, "Tanh") == 0) {
        act.kind = MR_ACT_TANH;
    } else if (strcmp(t, "LeakyRelu") == 0) {
        act.kind = MR_ACT_LEAKY_RELU;
        if (!float_attr(n, "alpha", 0.01f, &act.alpha)) return 0;
    } else if (strcmp(t, "Clip") == 0) {
        act.kind = MR_ACT_CLIP;
        if (g->opset < 11) {
            if (n->n_in > 1) return 0;
            if (!float_attr(n, "min", -FLT_MAX, &act.alpha) ||
                !float_attr(n, "max", FLT_MAX, &act.beta))
                return 0;
        } else {
            if (mr_node_attr(n, "min") || mr_node_attr(n, "max")) return 0;
            if (!clip_const_bound(g, n, 1, -INFINITY, &act.alpha) ||
                !clip_const_bound(g, n, 2, INFINITY, &act.beta))
                return 0;
        }
    } else {
        return 0;
    }
    *out = act;
    return 1;
}

/* ---- the ops ---- */

typedef struct act_params {
    mr_act act;
    int bounds_from_inputs; /* Clip, opset >= 11: min/max are (optional) inputs 1 and 2 */
} act_params;

static mr_status act_alloc(mr_node *n, mr_act_kind kind, act_params **out, mr_err *err) {
    act_params *p = mr_calloc(1, sizeof *p, "activation parameters", err);
    if (!p) return MR_ERR_NO_MEMORY;
    p->act.kind = kind;
    n->params = p;
    *out = p;
    return MR_OK;
}

static mr_status relu_init(mr_graph *g, mr_node *n, mr_err *err) {
    act_params *p;
    return act_alloc(n, MR_ACT_RELU, &p, err);
}

static mr_status sigmoid_init(mr_graph *g, mr_node *n, mr_err *err) {
    act_params *p;
    return act_alloc(n, MR_ACT_SIGMOID, &p, err);
}

static mr_status tanh_init(mr_graph *g, mr_node *n, mr_err *err) {
    act_params *p;
    return act_alloc(n, MR_ACT_TANH, &p, err);
}

static mr_status leakyrelu_init(mr_graph *g, mr_node *n, mr_err *err) {
    float alpha;
    MR_TRY(mr_attr_get_float(n, "alpha", 0.01f, &alpha, err));
    act_params *p;
    MR_TRY(act_alloc(n, MR_ACT_LEAKY_RELU, &p, err));
    p->act.alpha = alpha;
    return MR_OK;
}

static mr_status clip_init(mr_graph *g, mr_node *n, mr_err *err) {
    float lo = -FLT_MAX, hi = FLT_MAX;
    int from_inputs = g->opset >= 11;
    if (!from_inputs) {
        /* Opset 1-10: bounds are attributes; the inputs did not exist yet. */
        if (n->n_in > 1)
            return mr_err_node(err, MR_ERR_GRAPH, n,
                               "has %d inputs, but Clip before opset 11 takes only one (the "
                               "bounds are the 'min'/'max' attributes)",
                               n->n_in);
        MR_TRY(mr_attr_get_float(n, "min", -FLT_MAX, &lo, err));
        MR_TRY(mr_attr_get_float(n, "max", FLT_MAX, &hi, err));
    } else {
        if (mr_node_attr(n, "min"))
            return mr_err_attr(err, n, "min", "Clip takes its bounds as inputs from opset 11");
        if (mr_node_attr(n, "max"))
            return mr_err_attr(err, n, "max", "Clip takes its bounds as inputs from opset 11");
    }
    act_params *p;
    MR_TRY(act_alloc(n, MR_ACT_CLIP, &p, err));
    p->act.alpha = lo;
    p->act.beta = hi;
    p->bounds_from_inputs = from_inputs;
    return MR_OK;
}

static mr_status act_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *x = mr_node_input(g, n, 0);
    mr_tensor_desc *y = mr_node_output(g, n, 0);
    if (!x) return mr_err_node(err, MR_ERR_GRAPH, n, "the input is missing");
    if (!y) return mr_err_node(err, MR_ERR_GRAPH, n, "the output is missing");
    if (x->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "input '%s' is %s; only float32 is supported", x->name,
                           mr_dtype_name(x->dtype));
    const act_params *p = n->params;
    if (p && p->bounds_from_inputs) {
        for (int i = 1; i < 3; i++) {
            const mr_tensor_desc *t = mr_node_input(g, n, i);
            if (!t) continue;
            const char *what = i == 1 ? "min" : "max";
            if (t->dtype != MR_DTYPE_F32)
                return mr_err_node(err, MR_ERR_SHAPE, n,
                                   "the %s input '%s' is %s but the data is float32", what, t->name,
                                   mr_dtype_name(t->dtype));
            if (mr_desc_numel(t) != 1) {
                char buf[128];
                return mr_err_node(err, MR_ERR_SHAPE, n,
                                   "the %s input '%s' must be a scalar, not %s", what, t->name,
                                   mr_dims_str(t->ndim, t->dims, buf, sizeof buf));
            }
        }
    }
    mr_set_shape(y, MR_DTYPE_F32, x->ndim, x->dims);
    return MR_OK;
}

static mr_status act_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    int64_t numel = mr_desc_numel(mr_node_input(g, n, 0));
    if (numel < 0) return mr_err_node(err, MR_ERR_SHAPE, n, "the input size overflows");
    int64_t blocks = mr_div_up(numel, ACT_CHUNK);
    n->n_blocks = blocks > 0 ? blocks : 1;
    n->scratch_bytes = 0;
    n->flops = numel;
    return MR_OK;
}

static void act_run(const mr_step *s, int64_t block, void *scratch) {
    const act_params *p = s->node->params;
    mr_act act = p->act;
    if (p->bounds_from_inputs) {
        /* Opset 11+: omitted bounds leave that side unclipped (inf passes through, as in the
         * reference); present ones are read here since they may be computed at run time. */
        act.alpha = s->n_in > 1 && s->in[1].data ? *(const float *)s->in[1].data : -INFINITY;
        act.beta = s->n_in > 2 && s->in[2].data ? *(const float *)s->in[2].data : INFINITY;
    }
    int64_t b, e;
    mr_block_range(s->in[0].numel, ACT_CHUNK, block, &b, &e);
    if (b >= e) return;
    act_map_out(&act, (const float *)s->in[0].data + b, (float *)s->out[0].data + b, e - b);
}

/* consumed_inputs: an opset-1 in-place hint with no effect on the result; accepted and
 * ignored so that old models load. */
static const char *const relu_attrs[] = {"consumed_inputs", NULL};
static const char *const leakyrelu_attrs[] = {"alpha", "consumed_inputs", NULL};
static const char *const clip_attrs[] = {"min", "max", "consumed_inputs", NULL};

const mr_op_def mr_op_relu = {
    .name = "Relu",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .attrs = relu_attrs,
    .init = relu_init,
    .infer = act_infer,
    .prepare = act_prepare,
    .run_block = act_run,
};

const mr_op_def mr_op_leakyrelu = {
    .name = "LeakyRelu",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .attrs = leakyrelu_attrs,
    .init = leakyrelu_init,
    .infer = act_infer,
    .prepare = act_prepare,
    .run_block = act_run,
};

const mr_op_def mr_op_sigmoid = {
    .name = "Sigmoid",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .attrs = relu_attrs,
    .init = sigmoid_init,
    .infer = act_infer,
    .prepare = act_prepare,
    .run_block = act_run,
};

const mr_op_def mr_op_tanh = {
    .name = "Tanh",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .attrs = relu_attrs,
    .init = tanh_init,
    .infer = act_infer,
    .prepare = act_prepare,
    .run_block = act_run,
};

const mr_op_def mr_op_clip = {
    .name = "Clip",
    .min_in = 1,
    .max_in = 3,
    .min_out = 1,
    .max_out = 1,
    .attrs = clip_attrs,
    .init = clip_init,
    .infer = act_infer,
    .prepare = act_prepare,
    .run_block = act_run,
};
