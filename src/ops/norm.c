/* BatchNormalization (inference form) and LRN, float32, on X of shape [N, C, D1, ...].
 *
 * Both view X as [N, C, S] with S = prod(D1, ...) (S = 1 for rank 2).
 *
 * BatchNormalization: y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c]. The
 * per-channel parameters may be runtime tensors (they are only read), so nothing is folded
 * here; the graph pass folds constant ones into a preceding Conv. Logical blocks are
 * contiguous chunks of NORM_CHUNK elements of X (several channels of one image when S is
 * small, part of one channel when S is large).
 *
 * LRN: y = x / (bias + alpha / size * sum of x^2 over the channel window)^beta, the window
 * being channels c - floor((size-1)/2) .. c + ceil((size-1)/2), clipped to [0, C). A logical
 * block is (n, chunk of the spatial positions) across all channels, so the window sums run
 * vectorised along the spatial chunk.
 */
#include <math.h>
#include <stdint.h>

#include "core/alloc.h"
#include "ops/norm.h"
#include "ops/op.h"

#define NORM_CHUNK ((int64_t)1 << 15)
#define LRN_MIN_W  16 /* narrowest spatial chunk worth a pass over the channels */

/* [N, C, S] of a tensor of rank >= 2; 0 on overflow. */
static int ncs(const mr_tensor_desc *x, int64_t *N, int64_t *C, int64_t *S) {
    int64_t s = 1;
    for (int k = 2; k < x->ndim; k++)
        if (!mr_mul_i64(s, x->dims[k], &s)) return 0;
    *N = x->dims[0];
    *C = x->dims[1];
    *S = s;
    return mr_desc_numel(x) >= 0;
}

static mr_status check_x(mr_graph *g, mr_node *n, const mr_tensor_desc **out, mr_err *err) {
    const mr_tensor_desc *x = mr_node_input(g, n, 0);
    if (!x) return mr_err_node(err, MR_ERR_GRAPH, n, "the input X is missing");
    if (!mr_node_output(g, n, 0)) return mr_err_node(err, MR_ERR_GRAPH, n, "the output is missing");
    if (x->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "input '%s' is %s; only float32 is supported", x->name,
                           mr_dtype_name(x->dtype));
    if (x->ndim < 2) {
        char buf[128];
        return mr_err_node(err, MR_ERR_SHAPE, n, "input '%s' has shape %s; expected [N, C, ...]",
                           x->name, mr_dims_str(x->ndim, x->dims, buf, sizeof buf));
    }
    *out = x;
    return MR_OK;
}

/* ---- BatchNormalization ---- */

/* Declared in ops/norm.h: the CUDA planner reads it from n->params. */
typedef mr_bn_params bn_params;

static mr_status bn_init(mr_graph *g, mr_node *n, mr_err *err) {
    float eps;
    int64_t spatial, training;
    MR_TRY(mr_attr_get_float(n, "epsilon", 1e-5f, &eps, err));
    MR_TRY(mr_attr_get_int(n, "spatial", 1, &spatial, err));
    MR_TRY(mr_attr_get_int(n, "training_mode", 0, &training, err));
    /* momentum only matters when training; is_test/consumed_inputs are opset < 7 hints. */
    if (spatial != 1)
        return mr_err_attr(err, n, "spatial",
                           "only spatial = 1 (per-channel statistics) is supported");
    if (training != 0)
        return mr_err_attr(err, n, "training_mode",
                           "only inference (training_mode = 0) is supported");
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] >= 0)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                               "output %d (running statistics, training only) is requested; only "
                               "inference with one output is supported",
                               i);
    if (!(eps >= 0.0f)) return mr_err_attr(err, n, "epsilon", "must be >= 0");
    bn_params *p = mr_calloc(1, sizeof *p, "BatchNormalization parameters", err);
    if (!p) return MR_ERR_NO_MEMORY;
    p->epsilon = eps;
    n->params = p;
    return MR_OK;
}

static mr_status bn_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *x = NULL;
    MR_TRY(check_x(g, n, &x, err));
    static const char *const names[] = {"X", "scale", "B", "mean", "var"};
    for (int i = 1; i < 5; i++) {
        const mr_tensor_desc *t = mr_node_input(g, n, i);
        if (!t) return mr_err_node(err, MR_ERR_GRAPH, n, "the %s input is missing", names[i]);
        if (t->dtype != MR_DTYPE_F32)
            return mr_err_node(err, MR_ERR_SHAPE, n, "the %s input '%s' is %s, expected float32",
                               names[i], t->name, mr_dtype_name(t->dtype));
        if (t->ndim != 1 || t->dims[0] != x->dims[1]) {
            char buf[128];
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "the %s input '%s' has shape %s; expected [%lld] (the channels "
                               "of X)",
                               names[i], t->name, mr_dims_str(t->ndim, t->dims, buf, sizeof buf),
                               (long long)x->dims[1]);
        }
    }
    mr_set_shape(mr_node_output(g, n, 0), MR_DTYPE_F32, x->ndim, x->dims);
    return MR_OK;
}

static mr_status bn_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    bn_params *p = n->params;
    const mr_tensor_desc *x = mr_node_input(g, n, 0);
    int64_t N, C, S;
    if (!ncs(x, &N, &C, &S)) return mr_err_node(err, MR_ERR_SHAPE, n, "the input size overflows");
    p->C = C;
    p->S = S;
    p->numel = mr_desc_numel(x);
    int64_t blocks = mr_div_up(p->numel, NORM_CHUNK);
    n->n_blocks = blocks > 0 ? blocks : 1;
    n->scratch_bytes = 0;
    n->flops = 2 * p->numel;
    return MR_OK;
}

static void bn_run(const mr_step *s, int64_t block, void *scratch) {
    const bn_params *p = s->node->params;
    int64_t begin, end;
    mr_block_range(p->numel, NORM_CHUNK, block, &begin, &end);
    const float *x = s->in[0].data;
    const float *scale = s->in[1].data, *bias = s->in[2].data;
    const float *mean = s->in[3].data, *var = s->in[4].data;
    float *y = s->out[0].data;
    /* Walk the rows of the [N*C, S] view that intersect [begin, end). */
    for (int64_t pos = begin; pos < end;) {
        int64_t row = pos / p->S, c = row % p->C;
        int64_t stop = (row + 1) * p->S;
        if (stop > end) stop = end;
        const float a = scale[c] / sqrtf(var[c] + p->epsilon), m = mean[c], b = bias[c];
        for (int64_t i = pos; i < stop; i++) y[i] = (x[i] - m) * a + b;
        pos = stop;
    }
}

static const char *const bn_attrs[] = {"epsilon", "momentum",        "spatial", "training_mode",
                                       "is_test", "consumed_inputs", NULL};

const mr_op_def mr_op_batchnorm = {
    .name = "BatchNormalization",
    .min_in = 5,
    .max_in = 5,
    .min_out = 1,
    .max_out = 5,
    .attrs = bn_attrs,
    .init = bn_init,
    .infer = bn_infer,
    .prepare = bn_prepare,
    .run_block = bn_run,
};

/* ---- LRN ---- */

/* Declared in ops/norm.h: the CUDA planner reads it from n->params. */
typedef mr_lrn_params lrn_params;

static mr_status lrn_init(mr_graph *g, mr_node *n, mr_err *err) {
    float alpha, beta, bias;
    int64_t size;
    MR_TRY(mr_attr_get_float(n, "alpha", 1e-4f, &alpha, err));
    MR_TRY(mr_attr_get_float(n, "beta", 0.75f, &beta, err));
    MR_TRY(mr_attr_get_float(n, "bias", 1.0f, &bias, err));
    if (!mr_node_attr(n, "size"))
        return mr_err_node(err, MR_ERR_PARSE, n, "the required attribute 'size' is missing");
    MR_TRY(mr_attr_get_int(n, "size", 1, &size, err));
    if (size < 1) return mr_err_attr(err, n, "size", "must be >= 1");
    lrn_params *p = mr_calloc(1, sizeof *p, "LRN parameters", err);
    if (!p) return MR_ERR_NO_MEMORY;
    p->alpha = alpha;
    p->beta = beta;
    p->bias = bias;
    p->size = size;
    n->params = p;
    return MR_OK;
}

static mr_status lrn_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *x = NULL;
    MR_TRY(check_x(g, n, &x, err));
    mr_set_shape(mr_node_output(g, n, 0), MR_DTYPE_F32, x->ndim, x->dims);
    return MR_OK;
}

static mr_status lrn_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    lrn_params *p = n->params;
    const mr_tensor_desc *x = mr_node_input(g, n, 0);
    if (!ncs(x, &p->N, &p->C, &p->S))
        return mr_err_node(err, MR_ERR_SHAPE, n, "the input size overflows");
    int64_t numel = mr_desc_numel(x);
    if (numel == 0) {
        p->w = 1;
        p->per_image = 0;
        n->n_blocks = 1;
        n->scratch_bytes = 0;
        n->flops = 0;
        return MR_OK;
    }
    int64_t w = NORM_CHUNK / p->C;
    if (w < LRN_MIN_W) w = LRN_MIN_W;
    if (w > p->S) w = p->S;
    p->w = w;
    p->per_image = mr_div_up(p->S, w);
    n->n_blocks = p->N * p->per_image;
    n->scratch_bytes = (size_t)w * sizeof(float);
    int64_t win = p->size < p->C ? p->size : p->C;
    /* An 8 GiB input with a window as wide as its channels overflows the count. */
    if (!mr_mul_i64(numel, 2 * win + 4, &n->flops)) n->flops = INT64_MAX;
    return MR_OK;
}

static void lrn_run(const mr_step *s, int64_t block, void *scratch) {
    const lrn_params *p = s->node->params;
    if (p->per_image == 0) return;
    const int64_t img = block / p->per_image, j0 = (block % p->per_image) * p->w;
    const int64_t w = p->S - j0 < p->w ? p->S - j0 : p->w;
    const int64_t C = p->C, S = p->S;
    const int64_t before = (p->size - 1) / 2, after = p->size / 2; /* ceil((size-1)/2) */
    const float k = p->alpha / (float)p->size, bias = p->bias, beta = p->beta;
    const float *x = (const float *)s->in[0].data + img * C * S + j0;
    float *y = (float *)s->out[0].data + img * C * S + j0;
    float *acc = scratch;
    for (int64_t c = 0; c < C; c++) {
        int64_t lo = c - before < 0 ? 0 : c - before;
        int64_t hi = c + after > C - 1 ? C - 1 : c + after;
        for (int64_t j = 0; j < w; j++) acc[j] = 0.0f;
        for (int64_t i = lo; i <= hi; i++) {
            const float *xi = x + i * S;
            for (int64_t j = 0; j < w; j++) acc[j] += xi[j] * xi[j];
        }
        const float *xc = x + c * S;
        float *yc = y + c * S;
        if (beta == 0.75f) {
            /* The common case (AlexNet, GoogLeNet): v^0.75 = sqrt(v) * sqrt(sqrt(v)), far
             * cheaper than powf. */
            for (int64_t j = 0; j < w; j++) {
                float v = bias + k * acc[j], r = sqrtf(v);
                yc[j] = xc[j] / (r * sqrtf(r));
            }
        } else {
            for (int64_t j = 0; j < w; j++) yc[j] = xc[j] / powf(bias + k * acc[j], beta);
        }
    }
}

static const char *const lrn_attrs[] = {"alpha", "beta", "bias", "size", NULL};

const mr_op_def mr_op_lrn = {
    .name = "LRN",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .attrs = lrn_attrs,
    .init = lrn_init,
    .infer = lrn_infer,
    .prepare = lrn_prepare,
    .run_block = lrn_run,
};
