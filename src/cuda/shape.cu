/* The view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout) and ConstantOfShape
 * as elastic kernels; the same semantics as the CPU ops (src/ops/shape.c).
 *
 * The views only reinterpret input 0: the memory planner normally aliases their output to
 * the input and the step is skipped. When it is not skipped, the kernel copies input 0 to
 * output 0 (nothing when both are the same buffer), one chunk of COPY_CHUNK bytes per logical
 * block, in 16-byte words when both buffers are 16-byte aligned (sizes are multiples of 4
 * bytes: every element type is 4 or 8 bytes).
 *
 * ConstantOfShape fills its output with the `value` attribute's element (float32 0 by
 * default), FILL_CHUNK elements per logical block, with 4- or 8-byte stores. */
#include <stdint.h>
#include <string.h>

#include "cuda/common.cuh"

#define COPY_CHUNK ((long long)1 << 16) /* bytes per logical block */
#define FILL_CHUNK 4096                 /* elements per logical block */

/* ---- views: byte copy ---- */

typedef struct copy_params {
    long long bytes; /* multiple of 4 */
} copy_params;

static __device__ __forceinline__ void copy_body(const mr_cuda_args *a, long long blk) {
    const copy_params *p = MR_PARAMS(copy_params, a);
    const char *src = (const char *)a->in[0];
    char *dst = (char *)a->out[0];
    if ((const void *)dst == (const void *)src) return; /* aliased view */
    long long begin = blk * COPY_CHUNK, end = begin + COPY_CHUNK;
    if (end > p->bytes) end = p->bytes;
    if (begin >= end) return;
    long long len = end - begin, done = 0;
    /* begin is a multiple of COPY_CHUNK, so the chunk is 16-byte aligned iff the buffers are. */
    if ((((uintptr_t)src | (uintptr_t)dst) & 15) == 0) {
        const uint4 *s4 = (const uint4 *)(src + begin);
        uint4 *d4 = (uint4 *)(dst + begin);
        long long n4 = len >> 4;
        for (long long i = threadIdx.x; i < n4; i += blockDim.x) d4[i] = s4[i];
        done = n4 << 4;
    }
    const unsigned int *s1 = (const unsigned int *)(src + begin + done);
    unsigned int *d1 = (unsigned int *)(dst + begin + done);
    long long n1 = (len - done) >> 2;
    for (long long i = threadIdx.x; i < n1; i += blockDim.x) d1[i] = s1[i];
}

MR_ELASTIC_KERNEL(mr_copy_k256, 256, copy_body)
MR_ELASTIC_KERNEL(mr_copy_k64, 64, copy_body)

static const mr_cuda_variant copy_full = {"t256",
                                          (const void *)mr_copy_k256_elastic,
                                          (const void *)mr_copy_k256_plain,
                                          (const void *)mr_copy_k256_wave,
                                          256,
                                          0};
static const mr_cuda_variant copy_small = {"t64",
                                           (const void *)mr_copy_k64_elastic,
                                           (const void *)mr_copy_k64_plain,
                                           (const void *)mr_copy_k64_wave,
                                           64,
                                           0};

static mr_status view_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                              mr_cuda_plan *plan, mr_err *err) {
    if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0)
        return mr_err_node(err, MR_ERR_GRAPH, n, "the input or output is missing");
    const mr_tensor_desc *in = &g->tensors[n->in[0]], *out = &g->tensors[n->out[0]];
    size_t esz = mr_dtype_size(out->dtype);
    if (esz != 4 && esz != 8)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "data type %s is not supported",
                           mr_dtype_name(out->dtype));
    if (in->dtype != out->dtype || mr_desc_numel(in) != mr_desc_numel(out) ||
        mr_desc_numel(out) < 0)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "the output does not have the input's type and element count");
    copy_params p;
    memset(&p, 0, sizeof p);
    p.bytes = (long long)mr_desc_bytes(out);
    long long blocks = (p.bytes + COPY_CHUNK - 1) / COPY_CHUNK;
    plan->n_phases = 1;
    plan->n_blocks = blocks > 0 ? blocks : 1;
    plan->n_variants = 2;
    plan->variants[0] = &copy_full;
    plan->variants[1] = &copy_small;
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

/* ---- ConstantOfShape: fill ---- */

typedef struct fill_params {
    long long numel;
    unsigned long long value; /* the element's bytes (low 4 for a 4-byte type) */
    int esz;                  /* 4 or 8 */
} fill_params;

static __device__ __forceinline__ void fill_body(const mr_cuda_args *a, long long blk) {
    const fill_params *p = MR_PARAMS(fill_params, a);
    long long begin = blk * FILL_CHUNK, end = begin + FILL_CHUNK;
    if (end > p->numel) end = p->numel;
    if (p->esz == 8) {
        unsigned long long *y = (unsigned long long *)a->out[0];
        const unsigned long long v = p->value;
        for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) y[i] = v;
    } else {
        unsigned int *y = (unsigned int *)a->out[0];
        const unsigned int v = (unsigned int)p->value;
        for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) y[i] = v;
    }
}

MR_ELASTIC_KERNEL(mr_fill_k256, 256, fill_body)
MR_ELASTIC_KERNEL(mr_fill_k64, 64, fill_body)

static const mr_cuda_variant fill_full = {"t256",
                                          (const void *)mr_fill_k256_elastic,
                                          (const void *)mr_fill_k256_plain,
                                          (const void *)mr_fill_k256_wave,
                                          256,
                                          0};
static const mr_cuda_variant fill_small = {"t64",
                                           (const void *)mr_fill_k64_elastic,
                                           (const void *)mr_fill_k64_plain,
                                           (const void *)mr_fill_k64_wave,
                                           64,
                                           0};

static mr_status const_of_shape_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                        mr_cuda_plan *plan, mr_err *err) {
    if (n->n_out < 1 || n->out[0] < 0)
        return mr_err_node(err, MR_ERR_GRAPH, n, "the output is missing");
    const mr_tensor_desc *out = &g->tensors[n->out[0]];
    fill_params p;
    memset(&p, 0, sizeof p);
    /* The value as the CPU op reads it (const_of_shape_init): default float32 0. */
    mr_dtype dtype = MR_DTYPE_F32;
    const mr_attr *va = mr_node_attr(n, "value");
    if (va) {
        if (va->type != MR_ATTR_TENSOR || va->tensor < 0 || va->tensor >= g->n_tensors)
            return mr_err_attr(err, n, "value", "must be a tensor");
        const mr_tensor_desc *t = &g->tensors[va->tensor];
        if (mr_desc_numel(t) != 1 || !t->data)
            return mr_err_attr(err, n, "value", "must be a constant tensor of one element");
        size_t vsz = mr_dtype_size(t->dtype);
        if (vsz != 4 && vsz != 8)
            return mr_err_attr(err, n, "value", "has an unsupported data type");
        dtype = t->dtype;
        memcpy(&p.value, t->data, vsz); /* little-endian: a 4-byte value lands in the low half */
    }
    if (out->dtype != dtype)
        return mr_err_node(err, MR_ERR_SHAPE, n, "the output is %s but the value is %s",
                           mr_dtype_name(out->dtype), mr_dtype_name(dtype));
    p.esz = (int)mr_dtype_size(dtype);
    p.numel = mr_desc_numel(out);
    if (p.numel < 0) return mr_err_node(err, MR_ERR_SHAPE, n, "the output size overflows");
    long long blocks = (p.numel + FILL_CHUNK - 1) / FILL_CHUNK;
    plan->n_phases = 1;
    plan->n_blocks = blocks > 0 ? blocks : 1;
    plan->n_variants = 2;
    plan->variants[0] = &fill_full;
    plan->variants[1] = &fill_small;
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

MR_CUDA_OP(mr_cuda_op_reshape, "Reshape", view_prepare);
MR_CUDA_OP(mr_cuda_op_flatten, "Flatten", view_prepare);
MR_CUDA_OP(mr_cuda_op_squeeze, "Squeeze", view_prepare);
MR_CUDA_OP(mr_cuda_op_unsqueeze, "Unsqueeze", view_prepare);
MR_CUDA_OP(mr_cuda_op_identity, "Identity", view_prepare);
MR_CUDA_OP(mr_cuda_op_dropout, "Dropout", view_prepare);
MR_CUDA_OP(mr_cuda_op_constantofshape, "ConstantOfShape", const_of_shape_prepare);
