/* Add, Sub, Mul, Div as elastic kernels, on float32, int64 and int32, with numpy
 * broadcasting; the same semantics as the CPU op (src/ops/binary.c):
 *  - integers wrap around on overflow (computed in unsigned arithmetic);
 *  - integer Div truncates toward zero, x / 0 = 0 and MIN / -1 = MIN.
 *
 * prepare collapses the broadcast exactly like the CPU op: size-1 output dims are dropped and
 * neighbours merged where both inputs stay contiguous (or both broadcast) across them, so the
 * common cases (same shape, scalar operand) become rank 1 with no index arithmetic at all,
 * and a per-channel operand becomes rank 2 or 3.
 *
 * A logical block is a fixed chunk of BIN_CHUNK output elements; a thread handles elements
 * tid, tid + T, ... of the chunk (coalesced), loading BIN_UNROLL of them before storing any
 * so several loads are in flight per thread. Both variants (256 and 64 threads) cover the
 * same chunks. */
#include <string.h>

#include "cuda/elem_index.cuh"

#define BIN_CHUNK  4096
#define BIN_UNROLL 4

typedef enum bin_kind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_NKINDS } bin_kind;

typedef struct bin_params {
    long long numel;
    long long dims[MR_MAX_DIMS]; /* collapsed output dims */
    long long sa[MR_MAX_DIMS];   /* element strides of A per collapsed dim (0: broadcast) */
    long long sb[MR_MAX_DIMS];   /* same for B */
    mr_fdiv fd[MR_MAX_DIMS];     /* dividers of dims (narrow only) */
    int rank;                    /* >= 1 */
    int narrow;                  /* numel <= MR_FDIV_MAX: 32-bit index arithmetic */
} bin_params;

/* Input offsets of output element i. */
static __device__ __forceinline__ void bin_offsets(const bin_params *p, long long i, long long *oa,
                                                   long long *ob) {
    if (p->rank == 1) {
        *oa = i * p->sa[0];
        *ob = i * p->sb[0];
        return;
    }
    if (p->narrow) {
        /* An input never has more elements than the output, so its offsets fit too. */
        unsigned int r = (unsigned int)i, a = 0, b = 0;
#pragma unroll
        for (int k = MR_MAX_DIMS - 1; k >= 1; k--) {
            if (k < p->rank) {
                unsigned int q = mr_fdiv_q(r, p->fd[k]);
                unsigned int c = r - q * (unsigned int)p->dims[k];
                a += c * (unsigned int)p->sa[k];
                b += c * (unsigned int)p->sb[k];
                r = q;
            }
        }
        *oa = a + r * (unsigned int)p->sa[0];
        *ob = b + r * (unsigned int)p->sb[0];
        return;
    }
    long long r = i, a = 0, b = 0;
#pragma unroll
    for (int k = MR_MAX_DIMS - 1; k >= 1; k--) {
        if (k < p->rank) {
            long long q = r / p->dims[k], c = r - q * p->dims[k];
            a += c * p->sa[k];
            b += c * p->sb[k];
            r = q;
        }
    }
    *oa = a + r * p->sa[0];
    *ob = b + r * p->sb[0];
}

/* ---- element functions (same as the CPU op's) ---- */

static __device__ __forceinline__ float f32_add(float a, float b) {
    return a + b;
}
static __device__ __forceinline__ float f32_sub(float a, float b) {
    return a - b;
}
static __device__ __forceinline__ float f32_mul(float a, float b) {
    return a * b;
}
static __device__ __forceinline__ float f32_div(float a, float b) {
    return a / b;
}

static __device__ __forceinline__ long long i64_add(long long a, long long b) {
    return (long long)((unsigned long long)a + (unsigned long long)b);
}
static __device__ __forceinline__ long long i64_sub(long long a, long long b) {
    return (long long)((unsigned long long)a - (unsigned long long)b);
}
static __device__ __forceinline__ long long i64_mul(long long a, long long b) {
    return (long long)((unsigned long long)a * (unsigned long long)b);
}
static __device__ __forceinline__ long long i64_div(long long a, long long b) {
    if (b == 0) return 0;
    if (b == -1) return (long long)(0ull - (unsigned long long)a); /* MIN / -1 overflows */
    return a / b;
}

static __device__ __forceinline__ int i32_add(int a, int b) {
    return (int)((unsigned int)a + (unsigned int)b);
}
static __device__ __forceinline__ int i32_sub(int a, int b) {
    return (int)((unsigned int)a - (unsigned int)b);
}
static __device__ __forceinline__ int i32_mul(int a, int b) {
    return (int)((unsigned int)a * (unsigned int)b);
}
static __device__ __forceinline__ int i32_div(int a, int b) {
    if (b == 0) return 0;
    if (b == -1) return (int)(0u - (unsigned int)a);
    return a / b;
}

/* Body + both variants of one (type, function). */
#define BIN_KERNELS(T, FN)                                                                         \
    static __device__ __forceinline__ void FN##_body(const mr_cuda_args *a, long long blk,         \
                                                     const mr_yield_gate *yg) {                    \
        const bin_params *p = MR_PARAMS(bin_params, a);                                            \
        const T *x = (const T *)a->in[0], *z = (const T *)a->in[1];                                \
        T *y = (T *)a->out[0];                                                                     \
        long long begin = blk * BIN_CHUNK, end = begin + BIN_CHUNK;                                \
        if (end > p->numel) end = p->numel;                                                        \
        const long long step = blockDim.x;                                                         \
        /* b0: the same for every thread, so that all reach the gate (after the first loads) */    \
        for (long long b0 = begin; b0 < end; b0 += BIN_UNROLL * step) {                            \
            T va[BIN_UNROLL], vb[BIN_UNROLL];                                                      \
            _Pragma("unroll") for (int u = 0; u < BIN_UNROLL; u++) {                               \
                long long i = b0 + threadIdx.x + u * step, oa = 0, ob = 0;                         \
                va[u] = vb[u] = (T)0;                                                              \
                if (i < end) {                                                                     \
                    bin_offsets(p, i, &oa, &ob);                                                   \
                    va[u] = x[oa];                                                                 \
                    vb[u] = z[ob];                                                                 \
                }                                                                                  \
            }                                                                                      \
            if (b0 == begin && mr_gate_warp(yg)) return;                                           \
            _Pragma("unroll") for (int u = 0; u < BIN_UNROLL; u++) {                               \
                long long i = b0 + threadIdx.x + u * step;                                         \
                if (i < end) y[i] = FN(va[u], vb[u]);                                              \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    MR_ELASTIC_KERNEL_GATED(mr_bin_##FN##_k256, 256, FN##_body)                                    \
    MR_ELASTIC_KERNEL_GATED(mr_bin_##FN##_k64, 64, FN##_body)                                      \
    static const mr_cuda_variant FN##_full = {"t256",                                              \
                                              (const void *)mr_bin_##FN##_k256_elastic,            \
                                              (const void *)mr_bin_##FN##_k256_plain,              \
                                              (const void *)mr_bin_##FN##_k256_wave,               \
                                              256,                                                 \
                                              0};                                                  \
    static const mr_cuda_variant FN##_small = {"t64",                                              \
                                               (const void *)mr_bin_##FN##_k64_elastic,            \
                                               (const void *)mr_bin_##FN##_k64_plain,              \
                                               (const void *)mr_bin_##FN##_k64_wave,               \
                                               64,                                                 \
                                               0};

BIN_KERNELS(float, f32_add)
BIN_KERNELS(float, f32_sub)
BIN_KERNELS(float, f32_mul)
BIN_KERNELS(float, f32_div)
BIN_KERNELS(long long, i64_add)
BIN_KERNELS(long long, i64_sub)
BIN_KERNELS(long long, i64_mul)
BIN_KERNELS(long long, i64_div)
BIN_KERNELS(int, i32_add)
BIN_KERNELS(int, i32_sub)
BIN_KERNELS(int, i32_mul)
BIN_KERNELS(int, i32_div)

/* [dtype row][kind][variant] */
static const mr_cuda_variant *const bin_variants[3][BIN_NKINDS][2] = {
    {{&f32_add_full, &f32_add_small},
     {&f32_sub_full, &f32_sub_small},
     {&f32_mul_full, &f32_mul_small},
     {&f32_div_full, &f32_div_small}},
    {{&i64_add_full, &i64_add_small},
     {&i64_sub_full, &i64_sub_small},
     {&i64_mul_full, &i64_mul_small},
     {&i64_div_full, &i64_div_small}},
    {{&i32_add_full, &i32_add_small},
     {&i32_sub_full, &i32_sub_small},
     {&i32_mul_full, &i32_mul_small},
     {&i32_div_full, &i32_div_small}},
};

/* ---- host side ---- */

/* Strides (elements) of input x aligned to the r-dim output: 0 where x is broadcast. */
static void aligned_strides(const mr_tensor_desc *x, int r, const int64_t *odims,
                            long long *strides) {
    long long s = 1;
    for (int k = r - 1; k >= 0; k--) {
        int xk = k - (r - x->ndim);
        long long d = xk >= 0 ? (long long)x->dims[xk] : 1;
        strides[k] = (d == 1 && odims[k] != 1) ? 0 : s;
        s *= d;
    }
}

static mr_status bin_prepare(const mr_graph *g, const mr_node *n, mr_cuda_plan *plan, bin_kind kind,
                             mr_err *err) {
    if (n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0 || n->n_out < 1 || n->out[0] < 0)
        return mr_err_node(err, MR_ERR_GRAPH, n, "needs two inputs and one output");
    const mr_tensor_desc *A = &g->tensors[n->in[0]], *B = &g->tensors[n->in[1]];
    const mr_tensor_desc *Y = &g->tensors[n->out[0]];
    int row;
    switch (Y->dtype) {
    case MR_DTYPE_F32:
        row = 0;
        break;
    case MR_DTYPE_I64:
        row = 1;
        break;
    case MR_DTYPE_I32:
        row = 2;
        break;
    default:
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "data type %s is not supported (float32, int64, int32)",
                           mr_dtype_name(Y->dtype));
    }
    if (A->dtype != Y->dtype || B->dtype != Y->dtype)
        return mr_err_node(err, MR_ERR_SHAPE, n, "inputs (%s, %s) and output (%s) differ in type",
                           mr_dtype_name(A->dtype), mr_dtype_name(B->dtype),
                           mr_dtype_name(Y->dtype));
    long long numel = mr_desc_numel(Y);
    if (numel < 0) return mr_err_node(err, MR_ERR_SHAPE, n, "the output size overflows");
    int r = Y->ndim;
    if (A->ndim > r || B->ndim > r)
        return mr_err_node(err, MR_ERR_SHAPE, n, "an input has a higher rank than the output");

    bin_params p;
    memset(&p, 0, sizeof p);
    long long sa[MR_MAX_DIMS], sb[MR_MAX_DIMS];
    aligned_strides(A, r, Y->dims, sa);
    aligned_strides(B, r, Y->dims, sb);
    /* Same collapse as the CPU op: drop size-1 dims, merge where both inputs continue
     * contiguously (stride[k-1] == stride[k] * dim[k], also true when both broadcast). */
    int q = 0;
    for (int k = 0; k < r; k++) {
        long long d = Y->dims[k];
        if (d == 1) continue;
        if (q > 0 && p.sa[q - 1] == sa[k] * d && p.sb[q - 1] == sb[k] * d) {
            p.dims[q - 1] *= d;
            p.sa[q - 1] = sa[k];
            p.sb[q - 1] = sb[k];
            continue;
        }
        p.dims[q] = d;
        p.sa[q] = sa[k];
        p.sb[q] = sb[k];
        q++;
    }
    if (q == 0) { /* one element (or an empty output, which no block touches) */
        p.dims[0] = 1;
        p.sa[0] = p.sb[0] = 0;
        q = 1;
    }
    p.rank = q;
    p.numel = numel;
    p.narrow = numel <= MR_FDIV_MAX;
    if (p.narrow)
        for (int k = 0; k < q; k++) p.fd[k] = mr_fdiv_make(p.dims[k]);

    long long blocks = (numel + BIN_CHUNK - 1) / BIN_CHUNK;
    plan->n_phases = 1;
    plan->n_blocks = blocks > 0 ? blocks : 1;
    plan->n_variants = 2;
    plan->variants[0] = bin_variants[row][kind][0];
    plan->variants[1] = bin_variants[row][kind][1];
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

static mr_status add_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                             mr_cuda_plan *plan, mr_err *err) {
    return bin_prepare(g, n, plan, BIN_ADD, err);
}
static mr_status sub_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                             mr_cuda_plan *plan, mr_err *err) {
    return bin_prepare(g, n, plan, BIN_SUB, err);
}
static mr_status mul_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                             mr_cuda_plan *plan, mr_err *err) {
    return bin_prepare(g, n, plan, BIN_MUL, err);
}
static mr_status div_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                             mr_cuda_plan *plan, mr_err *err) {
    return bin_prepare(g, n, plan, BIN_DIV, err);
}

MR_CUDA_OP(mr_cuda_op_add, "Add", add_prepare);
MR_CUDA_OP(mr_cuda_op_sub, "Sub", sub_prepare);
MR_CUDA_OP(mr_cuda_op_mul, "Mul", mul_prepare);
MR_CUDA_OP(mr_cuda_op_div, "Div", div_prepare);
