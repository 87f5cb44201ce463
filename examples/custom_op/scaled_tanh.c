/* ScaledTanh on the CPU: shape inference, the plan, and the body of one logical block. */
#include "scaled_tanh.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static mr_status st_infer(void *user, const mr_custom_node *node, int n_in,
                          const mr_tensor_info *in, int n_out, mr_tensor_info *out, char *errbuf,
                          size_t errbuf_size) {
    if (in[0].dtype != MR_DTYPE_F32) {
        snprintf(errbuf, errbuf_size, "input '%s' is %s; ScaledTanh takes float32", in[0].name,
                 mr_dtype_name(in[0].dtype));
        return MR_ERR_UNSUPPORTED;
    }
    out[0].dtype = MR_DTYPE_F32;
    out[0].ndim = in[0].ndim;
    memcpy(out[0].dims, in[0].dims, sizeof out[0].dims);
    return MR_OK;
}

static mr_status st_plan(void *user, const mr_custom_node *node, int n_in, const mr_tensor_info *in,
                         int n_out, const mr_tensor_info *out, mr_custom_plan *plan, char *errbuf,
                         size_t errbuf_size) {
    scaled_tanh_params p;
    memset(&p, 0, sizeof p);
    p.n = 1;
    for (int d = 0; d < in[0].ndim; d++) p.n *= in[0].dims[d];
    mr_status st = mr_custom_attr_float(node, "alpha", 1.0f, &p.alpha, errbuf, errbuf_size);
    if (st == MR_OK) st = mr_custom_attr_float(node, "beta", 1.0f, &p.beta, errbuf, errbuf_size);
    if (st != MR_OK) return st;
    plan->n_blocks = (p.n + SCALED_TANH_CHUNK - 1) / SCALED_TANH_CHUNK;
    plan->flops = 3 * p.n; /* two multiplications and a tanh, counted as one */
    memcpy(plan->params, &p, sizeof p);
    return MR_OK;
}

static void st_cpu_block(void *user, const mr_custom_args *a, int64_t block, void *scratch) {
    const scaled_tanh_params *p = a->params;
    const float *x = a->in[0].data;
    float *y = a->out[0].data;
    long long begin = block * SCALED_TANH_CHUNK, end = begin + SCALED_TANH_CHUNK;
    if (end > p->n) end = p->n;
    for (long long i = begin; i < end; i++) y[i] = p->alpha * tanhf(p->beta * x[i]);
}

void scaled_tanh_describe(mr_custom_op *op) {
    static const char *const attrs[] = {"alpha", "beta", NULL};
    memset(op, 0, sizeof *op);
    op->domain = "com.example";
    op->op_type = "ScaledTanh";
    op->min_inputs = op->max_inputs = 1;
    op->n_outputs = 1;
    op->attrs = attrs;
    op->infer = st_infer;
    op->plan = st_plan;
    op->cpu_block = st_cpu_block;
#ifdef EXAMPLE_HAVE_CUDA
    op->n_kernels = scaled_tanh_kernels(op->kernels, MR_CUSTOM_MAX_KERNELS);
#endif
}
