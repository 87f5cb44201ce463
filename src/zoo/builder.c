#include "zoo/builder.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

/* FNV-1a: a stable hash of a name (no dependence on pointer values or platform). */
static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void mr_zb_init(mr_zb *b, mr_graph *g, const char *model_name, mr_err *err) {
    memset(b, 0, sizeof *b);
    b->g = g;
    b->err = err;
    b->st = MR_OK;
    b->seed = fnv1a(model_name);
    b->relu6_lo = -1;
    b->relu6_hi = -1;
}

mr_zb_rng mr_zb_rng_for(const mr_zb *b, const char *tensor_name) {
    /* Mix the two hashes through splitmix so similar names give unrelated streams. */
    mr_zb_rng r;
    uint64_t s = b->seed ^ (fnv1a(tensor_name) * 0xD1B54A32D192ED03ull);
    r.s = splitmix64(&s);
    return r;
}

float mr_zb_uniform(mr_zb_rng *r, float lo, float hi) {
    /* 24 random bits -> an exact float in [0, 1): the same value on every platform. */
    float u = (float)(splitmix64(&r->s) >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

/* Records the first failure; err already holds its message. */
static int fail(mr_zb *b) {
    if (b->st == MR_OK) b->st = b->err->status != MR_OK ? b->err->status : MR_ERR_INTERNAL;
    return -1;
}

static int failf(mr_zb *b, mr_status st, const char *what, const char *name) {
    mr_errf(b->err, st, "zoo: %s '%s'", what, name);
    return fail(b);
}

/* "<prefix><suffix>" into buf; a name too long for it is a bug in an architecture file. */
static int join(mr_zb *b, char *buf, size_t size, const char *prefix, const char *suffix) {
    int n = snprintf(buf, size, "%s%s", prefix, suffix);
    if (n < 0 || (size_t)n >= size) return failf(b, MR_ERR_INTERNAL, "name too long", prefix);
    return 0;
}

int mr_zb_input(mr_zb *b, const char *name, int ndim, const int64_t *dims) {
    if (b->st) return -1;
    mr_graph *g = b->g;
    int t = mr_graph_add_tensor(g, name, b->err);
    if (t < 0) return fail(b);
    int *grown =
        mr_realloc(g->inputs, sizeof(int) * (size_t)(g->n_inputs + 1), "graph inputs", b->err);
    if (!grown) return fail(b);
    g->inputs = grown;
    g->inputs[g->n_inputs++] = t;
    mr_tensor_desc *d = &g->tensors[t];
    d->dtype = MR_DTYPE_F32;
    d->ndim = ndim;
    for (int i = 0; i < ndim; i++) d->dims[i] = dims[i];
    d->is_input = 1;
    return t;
}

void mr_zb_output(mr_zb *b, int t) {
    if (b->st) return;
    mr_graph *g = b->g;
    int *grown =
        mr_realloc(g->outputs, sizeof(int) * (size_t)(g->n_outputs + 1), "graph outputs", b->err);
    if (!grown) {
        fail(b);
        return;
    }
    g->outputs = grown;
    g->outputs[g->n_outputs++] = t;
    g->tensors[t].is_output = 1;
}

/* A constant tensor whose data is allocated here and returned through *data for the caller
 * to fill: generating straight into the graph's storage avoids a second copy of the large
 * tensors (VGG16's first classifier layer alone is 411 MB). */
static int new_const(mr_zb *b, const char *name, mr_dtype dtype, int ndim, const int64_t *dims,
                     void **data) {
    if (b->st) return -1;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        if (!mr_mul_i64(numel, dims[i], &numel))
            return failf(b, MR_ERR_INTERNAL, "bad shape for", name);
    size_t bytes;
    if (!mr_mul_size((size_t)numel, mr_dtype_size(dtype), &bytes))
        return failf(b, MR_ERR_INTERNAL, "bad shape for", name);
    void *p = mr_malloc_aligned(bytes, name, b->err);
    if (!p) return fail(b);
    int t = mr_graph_add_tensor(b->g, name, b->err);
    if (t < 0) {
        mr_free_aligned(p);
        return fail(b);
    }
    mr_tensor_desc *d = &b->g->tensors[t];
    d->dtype = dtype;
    d->ndim = ndim;
    for (int i = 0; i < ndim; i++) d->dims[i] = dims[i];
    d->data = p;
    *data = p;
    return t;
}

int mr_zb_param(mr_zb *b, const char *name, int ndim, const int64_t *dims, float lo, float hi) {
    void *p;
    int t = new_const(b, name, MR_DTYPE_F32, ndim, dims, &p);
    if (t < 0) return -1;
    int64_t n = mr_desc_numel(&b->g->tensors[t]);
    float *x = p;
    mr_zb_rng r = mr_zb_rng_for(b, name);
    for (int64_t i = 0; i < n; i++) x[i] = mr_zb_uniform(&r, lo, hi);
    return t;
}

int mr_zb_const_i64(mr_zb *b, const char *name, int ndim, const int64_t *dims, const int64_t *v) {
    void *p;
    int t = new_const(b, name, MR_DTYPE_I64, ndim, dims, &p);
    if (t < 0) return -1;
    int64_t n = mr_desc_numel(&b->g->tensors[t]);
    memcpy(p, v, sizeof(int64_t) * (size_t)n);
    return t;
}

int mr_zb_node(mr_zb *b, const char *op, const char *name, int n_in, const int *in,
               const char *out_name, int *node_out) {
    if (b->st) return -1;
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0) return failf(b, MR_ERR_INTERNAL, "missing input for node", name);
    int t = mr_graph_add_tensor(b->g, out_name ? out_name : name, b->err);
    if (t < 0) return fail(b);
    int node = mr_graph_add_node(b->g, name, op, n_in, in, 1, &t, b->err);
    if (node < 0) return fail(b);
    if (node_out) *node_out = node;
    return t;
}

void mr_zb_attr_ints(mr_zb *b, int node, const char *attr, int n, const int64_t *v) {
    if (!b->st && node >= 0 && mr_node_set_ints(b->g, node, attr, n, v, b->err) != MR_OK) fail(b);
}
void mr_zb_attr_int(mr_zb *b, int node, const char *attr, int64_t v) {
    if (!b->st && node >= 0 && mr_node_set_int(b->g, node, attr, v, b->err) != MR_OK) fail(b);
}
void mr_zb_attr_float(mr_zb *b, int node, const char *attr, float v) {
    if (!b->st && node >= 0 && mr_node_set_float(b->g, node, attr, v, b->err) != MR_OK) fail(b);
}

int mr_zb_conv(mr_zb *b, int x, const char *name, int cin, int cout, int k, int stride, int pad,
               int groups, int bias) {
    return mr_zb_conv_scaled(b, x, name, cin, cout, k, stride, pad, groups, bias, 1.0f);
}

int mr_zb_conv_scaled(mr_zb *b, int x, const char *name, int cin, int cout, int k, int stride,
                      int pad, int groups, int bias, float scale) {
    if (b->st) return -1;
    if (groups < 1 || cin % groups || cout % groups)
        return failf(b, MR_ERR_INTERNAL, "bad groups for conv", name);
    char wn[256], bn[256];
    if (join(b, wn, sizeof wn, name, ".weight") || join(b, bn, sizeof bn, name, ".bias")) return -1;
    int fan_in = cin / groups * k * k;
    /* kaiming_normal_(mode='fan_in', nonlinearity='relu') has variance 2/fan_in; a uniform
     * distribution on +-sqrt(6/fan_in) has the same variance. */
    float wb = scale * sqrtf(6.0f / (float)fan_in);
    int64_t wd[4] = {cout, cin / groups, k, k};
    int in[3] = {x, mr_zb_param(b, wn, 4, wd, -wb, wb), -1};
    if (bias) {
        int64_t bd[1] = {cout};
        float bb = 1.0f / sqrtf((float)fan_in);
        in[2] = mr_zb_param(b, bn, 1, bd, -bb, bb);
    }
    int node;
    int y = mr_zb_node(b, "Conv", name, bias ? 3 : 2, in, NULL, &node);
    if (y < 0) return -1;
    int64_t dil[2] = {1, 1}, ks[2] = {k, k}, pads[4] = {pad, pad, pad, pad},
            strides[2] = {stride, stride};
    mr_zb_attr_ints(b, node, "dilations", 2, dil);
    mr_zb_attr_int(b, node, "group", groups);
    mr_zb_attr_ints(b, node, "kernel_shape", 2, ks);
    mr_zb_attr_ints(b, node, "pads", 4, pads);
    mr_zb_attr_ints(b, node, "strides", 2, strides);
    return b->st ? -1 : y;
}

int mr_zb_bn(mr_zb *b, int x, const char *name, int c) {
    if (b->st) return -1;
    char n1[256], n2[256], n3[256], n4[256];
    if (join(b, n1, sizeof n1, name, ".weight") || join(b, n2, sizeof n2, name, ".bias") ||
        join(b, n3, sizeof n3, name, ".running_mean") ||
        join(b, n4, sizeof n4, name, ".running_var"))
        return -1;
    /* Non-trivial statistics, so that folding BatchNorm into the convolution is really
     * exercised (an identity BatchNorm would hide a wrong fold). */
    int64_t d[1] = {c};
    /* One statement each: the order of the tensors in the graph must not depend on the
     * compiler's evaluation order of an initializer list. */
    int in[5] = {x, -1, -1, -1, -1};
    in[1] = mr_zb_param(b, n1, 1, d, 0.5f, 1.5f);
    in[2] = mr_zb_param(b, n2, 1, d, -0.1f, 0.1f);
    in[3] = mr_zb_param(b, n3, 1, d, -0.1f, 0.1f);
    in[4] = mr_zb_param(b, n4, 1, d, 0.5f, 1.5f);
    int node;
    int y = mr_zb_node(b, "BatchNormalization", name, 5, in, NULL, &node);
    if (y < 0) return -1;
    mr_zb_attr_float(b, node, "epsilon", 1e-5f);
    return b->st ? -1 : y;
}

int mr_zb_relu(mr_zb *b, int x, const char *name) {
    return mr_zb_node(b, "Relu", name, 1, &x, NULL, NULL);
}

int mr_zb_relu6(mr_zb *b, int x, const char *name) {
    if (b->st) return -1;
    /* The bounds come from Constant nodes (value_float), one pair shared by every ReLU6, as
     * torch.onnx emits them. Constant nodes rather than initializers: the bounds are not
     * parameters, and the graph counts float initializers as parameters (n_params must
     * match torchvision's count). They are folded at load time. */
    if (b->relu6_lo < 0) {
        int lo_node = -1, hi_node = -1;
        b->relu6_lo = mr_zb_node(b, "Constant", "relu6.min", 0, NULL, NULL, &lo_node);
        mr_zb_attr_float(b, lo_node, "value_float", 0.0f);
        b->relu6_hi = mr_zb_node(b, "Constant", "relu6.max", 0, NULL, NULL, &hi_node);
        mr_zb_attr_float(b, hi_node, "value_float", 6.0f);
        if (b->st) return -1;
    }
    int in[3] = {x, b->relu6_lo, b->relu6_hi};
    return mr_zb_node(b, "Clip", name, 3, in, NULL, NULL);
}

int mr_zb_maxpool(mr_zb *b, int x, const char *name, int k, int stride, int pad, int ceil_mode) {
    int node;
    int y = mr_zb_node(b, "MaxPool", name, 1, &x, NULL, &node);
    if (y < 0) return -1;
    int64_t ks[2] = {k, k}, pads[4] = {pad, pad, pad, pad}, strides[2] = {stride, stride};
    mr_zb_attr_int(b, node, "ceil_mode", ceil_mode);
    mr_zb_attr_ints(b, node, "kernel_shape", 2, ks);
    mr_zb_attr_ints(b, node, "pads", 4, pads);
    mr_zb_attr_ints(b, node, "strides", 2, strides);
    return b->st ? -1 : y;
}

int mr_zb_global_avgpool(mr_zb *b, int x, const char *name) {
    return mr_zb_node(b, "GlobalAveragePool", name, 1, &x, NULL, NULL);
}

int mr_zb_flatten(mr_zb *b, int x, const char *name, const char *out_name) {
    int node;
    int y = mr_zb_node(b, "Flatten", name, 1, &x, out_name, &node);
    if (y < 0) return -1;
    mr_zb_attr_int(b, node, "axis", 1);
    return b->st ? -1 : y;
}

int mr_zb_linear(mr_zb *b, int x, const char *name, int in, int out, const char *out_name) {
    if (b->st) return -1;
    char wn[256], bn[256];
    if (join(b, wn, sizeof wn, name, ".weight") || join(b, bn, sizeof bn, name, ".bias")) return -1;
    /* xavier_uniform_: U(+-sqrt(6/(fan_in+fan_out))). */
    float wb = sqrtf(6.0f / (float)(in + out)), bb = 1.0f / sqrtf((float)in);
    int64_t wd[2] = {out, in}, bd[1] = {out};
    int ins[3] = {x, mr_zb_param(b, wn, 2, wd, -wb, wb), -1};
    ins[2] = mr_zb_param(b, bn, 1, bd, -bb, bb);
    int node;
    int y = mr_zb_node(b, "Gemm", name, 3, ins, out_name, &node);
    if (y < 0) return -1;
    mr_zb_attr_float(b, node, "alpha", 1.0f);
    mr_zb_attr_float(b, node, "beta", 1.0f);
    mr_zb_attr_int(b, node, "transB", 1);
    return b->st ? -1 : y;
}

int mr_zb_add(mr_zb *b, int x, int y, const char *name) {
    int in[2] = {x, y};
    return mr_zb_node(b, "Add", name, 2, in, NULL, NULL);
}

int mr_zb_concat(mr_zb *b, int n, const int *xs, int axis, const char *name) {
    int node;
    int y = mr_zb_node(b, "Concat", name, n, xs, NULL, &node);
    if (y < 0) return -1;
    mr_zb_attr_int(b, node, "axis", axis);
    return b->st ? -1 : y;
}
