/* Softmax (float32), numerically stable: exp(x - max) / sum.
 *
 * Opset 1-12: the input is coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])] (axis
 * default 1) and softmax runs over each row. Opset 13+: softmax along the single axis `axis`
 * (default -1). Both reduce to an [outer, n, inner] view, reducing over n:
 *  - inner == 1 (rows contiguous): each logical block takes a group of whole rows;
 *  - inner > 1: a unit is (outer index, chunk of the inner dimension); the reduction runs
 *    across n with the inner chunk as the vectorised dimension, the running max and sum in
 *    scratch. Units are grouped into blocks of about SM_CHUNK elements.
 */
#include <stdint.h>

#include "core/alloc.h"
#include "ops/op.h"
#include "ops/softmax.h"
#include "ops/vmath.h"

#define SM_CHUNK  ((int64_t)1 << 15)
#define SM_LANES  8  /* independent partial sums/maxima: lets the reductions vectorise */
#define SM_MIN_IW 64 /* smallest inner chunk worth a pass over n rows */

/* Declared in ops/softmax.h: the CUDA planner reads it from n->params. */
typedef mr_softmax_params softmax_params;

static mr_status softmax_init(mr_graph *g, mr_node *n, mr_err *err) {
    int legacy = g->opset < 13;
    int64_t axis;
    MR_TRY(mr_attr_get_int(n, "axis", legacy ? 1 : -1, &axis, err));
    softmax_params *p = mr_calloc(1, sizeof *p, "Softmax parameters", err);
    if (!p) return MR_ERR_NO_MEMORY;
    p->axis = axis;
    p->legacy = legacy;
    n->params = p;
    return MR_OK;
}

static mr_status softmax_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const softmax_params *p = n->params;
    const mr_tensor_desc *x = mr_node_input(g, n, 0);
    mr_tensor_desc *y = mr_node_output(g, n, 0);
    if (!x || !y) return mr_err_node(err, MR_ERR_GRAPH, n, "the input or output is missing");
    if (x->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "input '%s' is %s; only float32 is supported", x->name,
                           mr_dtype_name(x->dtype));
    if (x->ndim < 1)
        return mr_err_node(err, MR_ERR_SHAPE, n, "input '%s' is a scalar; Softmax needs rank >= 1",
                           x->name);
    int axis;
    MR_TRY(mr_norm_axis(n, p->axis, x->ndim, &axis, err));
    mr_set_shape(y, MR_DTYPE_F32, x->ndim, x->dims);
    return MR_OK;
}

static mr_status softmax_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    softmax_params *p = n->params;
    const mr_tensor_desc *x = mr_node_input(g, n, 0);
    int axis;
    MR_TRY(mr_norm_axis(n, p->axis, x->ndim, &axis, err));
    int64_t outer = 1, mid = 1, inner = 1;
    for (int k = 0; k < x->ndim; k++) {
        int64_t *acc = k < axis ? &outer : (k == axis || p->legacy) ? &mid : &inner;
        if (!mr_mul_i64(*acc, x->dims[k], acc))
            return mr_err_node(err, MR_ERR_SHAPE, n, "the input size overflows");
    }
    p->outer = outer;
    p->n = mid;
    p->inner = inner;
    int64_t numel = outer * mid * inner; /* no overflow: the factors' product was checked */
    if (numel == 0) {
        p->iw = p->per_outer = p->per_block = 1;
        p->units = 0;
        n->n_blocks = 1;
        n->scratch_bytes = 0;
        n->flops = 0;
        return MR_OK;
    }
    if (inner == 1) {
        p->iw = 1;
        p->per_outer = 1;
        n->scratch_bytes = 0;
    } else {
        int64_t iw = SM_CHUNK / mid;
        if (iw < SM_MIN_IW) iw = SM_MIN_IW;
        if (iw > inner) iw = inner;
        p->iw = iw;
        p->per_outer = mr_div_up(inner, iw);
        n->scratch_bytes = 2 * (size_t)iw * sizeof(float); /* running max, then 1/sum */
    }
    p->units = outer * p->per_outer;
    int64_t unit_elems = mid * p->iw;
    p->per_block = unit_elems >= SM_CHUNK ? 1 : SM_CHUNK / unit_elems;
    /* Grouping units only when each is a whole outer slice keeps a block's memory
     * contiguous; partial inner chunks are big enough on their own. */
    if (p->per_outer > 1) p->per_block = 1;
    n->n_blocks = mr_div_up(p->units, p->per_block);
    n->flops = 4 * numel; /* max, subtract + exp, sum, scale */
    return MR_OK;
}

/* Softmax of one contiguous row of n elements. */
static void softmax_row(const float *x, float *y, int64_t n) {
    float mx[SM_LANES];
    for (int l = 0; l < SM_LANES; l++) mx[l] = x[0];
    int64_t i = 0;
    for (; i + SM_LANES <= n; i += SM_LANES)
        for (int l = 0; l < SM_LANES; l++) mx[l] = x[i + l] > mx[l] ? x[i + l] : mx[l];
    for (; i < n; i++) mx[0] = x[i] > mx[0] ? x[i] : mx[0];
    float m = mx[0];
    for (int l = 1; l < SM_LANES; l++) m = mx[l] > m ? mx[l] : m;

    for (i = 0; i < n; i++) y[i] = mr_vexpf(x[i] - m);

    float sm[SM_LANES] = {0};
    for (i = 0; i + SM_LANES <= n; i += SM_LANES)
        for (int l = 0; l < SM_LANES; l++) sm[l] += y[i + l];
    for (; i < n; i++) sm[0] += y[i];
    float s = 0.0f;
    for (int l = 0; l < SM_LANES; l++) s += sm[l];

    const float inv = 1.0f / s;
    for (i = 0; i < n; i++) y[i] *= inv;
}

/* Softmax over n rows of stride `inner`, for w contiguous columns. */
static void softmax_cols(const float *x, float *y, int64_t n, int64_t inner, int64_t w, float *mx,
                         float *sum) {
    for (int64_t j = 0; j < w; j++) mx[j] = x[j];
    for (int64_t k = 1; k < n; k++) {
        const float *xr = x + k * inner;
        for (int64_t j = 0; j < w; j++) mx[j] = xr[j] > mx[j] ? xr[j] : mx[j];
    }
    for (int64_t j = 0; j < w; j++) sum[j] = 0.0f;
    for (int64_t k = 0; k < n; k++) {
        const float *xr = x + k * inner;
        float *yr = y + k * inner;
        for (int64_t j = 0; j < w; j++) {
            float e = mr_vexpf(xr[j] - mx[j]);
            yr[j] = e;
            sum[j] += e;
        }
    }
    for (int64_t j = 0; j < w; j++) sum[j] = 1.0f / sum[j];
    for (int64_t k = 0; k < n; k++) {
        float *yr = y + k * inner;
        for (int64_t j = 0; j < w; j++) yr[j] *= sum[j];
    }
}

static void softmax_run(const mr_step *s, int64_t block, void *scratch) {
    const softmax_params *p = s->node->params;
    int64_t u0, u1;
    mr_block_range(p->units, p->per_block, block, &u0, &u1);
    const float *x = s->in[0].data;
    float *y = s->out[0].data;
    const int64_t slice = p->n * p->inner; /* elements per outer index */
    for (int64_t u = u0; u < u1; u++) {
        int64_t o = u / p->per_outer, c = u % p->per_outer;
        if (p->inner == 1) {
            softmax_row(x + o * slice, y + o * slice, p->n);
        } else {
            int64_t j0 = c * p->iw, w = p->inner - j0 < p->iw ? p->inner - j0 : p->iw;
            float *mx = scratch, *sum = (float *)scratch + p->iw;
            softmax_cols(x + o * slice + j0, y + o * slice + j0, p->n, p->inner, w, mx, sum);
        }
    }
}

static const char *const softmax_attrs[] = {"axis", NULL};

const mr_op_def mr_op_softmax = {
    .name = "Softmax",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .attrs = softmax_attrs,
    .init = softmax_init,
    .infer = softmax_infer,
    .prepare = softmax_prepare,
    .run_block = softmax_run,
};
