/* Unary activations (Relu, Clip, LeakyRelu, Sigmoid, Tanh) as elastic kernels. A logical
 * block is a fixed chunk of MR_ACT_CHUNK elements; both variants cover the same chunk. */
#include "cuda/common.cuh"

#define MR_ACT_CHUNK 2048

typedef struct act_params {
    long long n;
    mr_act act;
    int clip_min_input, clip_max_input; /* Clip (opset 11+): bounds read from inputs 1/2 */
} act_params;

/* A thread loads ACT_UNROLL elements (tid, tid + T, ...) before storing any, so that they are
 * in flight together: one at a time (a store may alias the next load), the 256-thread kernel's
 * 8 elements a thread were 8 round trips in a row. The first group's loads overlap the yield
 * gate's read (wave launches, include/miriam/elastic.cuh). */
#define ACT_UNROLL 8

static __device__ __forceinline__ void act_body(const mr_cuda_args *a, long long blk,
                                                const mr_yield_gate *yg) {
    const act_params *p = MR_PARAMS(act_params, a);
    const float *x = (const float *)a->in[0];
    float *y = (float *)a->out[0];
    mr_act act = p->act;
    if (p->clip_min_input && a->in[1]) act.alpha = *(const float *)a->in[1];
    if (p->clip_max_input && a->in[2]) act.beta = *(const float *)a->in[2];
    const long long begin = blk * MR_ACT_CHUNK;
    /* offsets within the chunk in 32 bits: 64-bit indices cost the elastic form 48 registers
     * and three of its eight blocks an SM */
    const int n = (int)(p->n - begin < MR_ACT_CHUNK ? p->n - begin : MR_ACT_CHUNK);
    const float *xc = x + begin;
    float *yc = y + begin;
    const int T = (int)blockDim.x;
    for (int o0 = 0; o0 < n; o0 += ACT_UNROLL * T) { /* the same for every thread */
        float v[ACT_UNROLL];
#pragma unroll
        for (int u = 0; u < ACT_UNROLL; u++) {
            const int o = o0 + (int)threadIdx.x + u * T;
            v[u] = o < n ? xc[o] : 0.0f;
        }
        if (o0 == 0 && mr_gate_warp(yg)) return;
#pragma unroll
        for (int u = 0; u < ACT_UNROLL; u++) {
            const int o = o0 + (int)threadIdx.x + u * T;
            if (o < n) yc[o] = mr_dev_act(act, v[u]);
        }
    }
}

MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_act_k256, 256, 8, act_body)
MR_ELASTIC_KERNEL_GATED(mr_act_k64, 64, act_body)

static const mr_cuda_variant act_full = {"t256",
                                         (const void *)mr_act_k256_elastic,
                                         (const void *)mr_act_k256_plain,
                                         (const void *)mr_act_k256_wave,
                                         256,
                                         0};
static const mr_cuda_variant act_small = {"t64",
                                          (const void *)mr_act_k64_elastic,
                                          (const void *)mr_act_k64_plain,
                                          (const void *)mr_act_k64_wave,
                                          64,
                                          0};

static mr_status act_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                             mr_cuda_plan *plan, mr_err *err) {
    act_params p;
    memset(&p, 0, sizeof p);
    const mr_tensor_desc *x = &g->tensors[n->in[0]];
    if (x->dtype != MR_DTYPE_F32)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "input is %s; only float32 is supported",
                           mr_dtype_name(x->dtype));
    p.n = mr_desc_numel(x);
    /* The CPU op family already knows how to read each activation's parameters. */
    if (!mr_act_from_node((mr_graph *)g, n, &p.act)) {
        /* Clip with runtime bounds: the kernel reads them from inputs 1 and 2. */
        if (strcmp(n->op->name, "Clip") != 0)
            return mr_err_node(err, MR_ERR_INTERNAL, n, "not an activation");
        p.act.kind = MR_ACT_CLIP;
        p.act.alpha = -INFINITY;
        p.act.beta = INFINITY;
        p.clip_min_input = n->n_in > 1 && n->in[1] >= 0;
        p.clip_max_input = n->n_in > 2 && n->in[2] >= 0;
    }
    plan->n_phases = 1;
    plan->n_blocks = (p.n + MR_ACT_CHUNK - 1) / MR_ACT_CHUNK;
    plan->n_variants = 2;
    plan->variants[0] = &act_full;
    plan->variants[1] = &act_small;
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

MR_CUDA_OP(mr_cuda_op_relu, "Relu", act_prepare);
MR_CUDA_OP(mr_cuda_op_clip, "Clip", act_prepare);
MR_CUDA_OP(mr_cuda_op_leakyrelu, "LeakyRelu", act_prepare);
MR_CUDA_OP(mr_cuda_op_sigmoid, "Sigmoid", act_prepare);
MR_CUDA_OP(mr_cuda_op_tanh, "Tanh", act_prepare);
