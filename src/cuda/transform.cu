/* Data-movement ops as elastic kernels: Concat, Transpose, Gather, Slice, Expand; the same
 * semantics as the CPU ops (src/ops/transform.c).
 *
 * All are dtype-generic by element size (4 or 8 bytes: float32/int32 move as 32-bit words,
 * int64 as 64-bit words). Every kernel maps each output element to its source element; a
 * logical block is a chunk of MV_CHUNK consecutive output elements, a thread handles elements
 * tid, tid + T, ... of it (coalesced stores), loading MV_UNROLL of them before storing any so
 * several loads are in flight. Both variants (256 and 64 threads) cover the same chunks.
 *
 *  - Transpose, Slice, Expand: the output is a strided view of the input (output coordinates
 *    times per-dimension strides, negative for a negative Slice step, 0 for an expanded dim,
 *    plus a base offset): the view the CPU op's prepare built (ops/transform.h), coalesced
 *    there (size-1 dims dropped, neighbours that are contiguous in the input merged).
 *  - Concat (up to 16 inputs): the output is `outer` rows; in each row input k owns
 *    [pref[k], pref[k+1]). When every piece is long (the usual channel concat) a block
 *    copies the pieces intersecting its chunk as contiguous runs; otherwise it maps each
 *    element like the other kernels.
 *  - Gather: the output is rows (outer index, index position) of `row` elements; int32 or
 *    int64 indices, negative ones counted from the end, out-of-range ones giving zeros (run
 *    time indices cannot fail inside a kernel; constant ones were checked at load).
 *
 * Index arithmetic uses magic-number division (elem_index.cuh) when the output has fewer
 * than 2^31 elements, 64-bit division otherwise. */
#include <string.h>

#include "cuda/elem_index.cuh"
#include "ops/transform.h"

#define MV_CHUNK       4096
#define MV_UNROLL      4
#define CONCAT_MIN_RUN 256 /* shortest piece worth copying as a run (see concat_body) */

static int has_input(const mr_node *n, int i) {
    return i < n->n_in && n->in[i] >= 0;
}

/* The batched element loop shared by every kernel of this file: output elements [begin, end)
 * of type T, y[i] = SRC(a, p, i, &off) [off], or 0 where SRC returns NULL. */
#define MV_LOOP(T, SRC)                                                                            \
    do {                                                                                           \
        T *y_ = (T *)a->out[0];                                                                    \
        const long long step_ = blockDim.x;                                                        \
        for (long long i0 = begin + threadIdx.x; i0 < end; i0 += MV_UNROLL * step_) {              \
            T v_[MV_UNROLL];                                                                       \
            _Pragma("unroll") for (int u = 0; u < MV_UNROLL; u++) {                                \
                long long i = i0 + u * step_, off = 0;                                             \
                v_[u] = (T)0;                                                                      \
                if (i < end) {                                                                     \
                    const void *s_ = SRC(a, p, i, &off);                                           \
                    if (s_) v_[u] = ((const T *)s_)[off];                                          \
                }                                                                                  \
            }                                                                                      \
            _Pragma("unroll") for (int u = 0; u < MV_UNROLL; u++) {                                \
                long long i = i0 + u * step_;                                                      \
                if (i < end) y_[i] = v_[u];                                                        \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Body of a kernel over MV_CHUNK-element chunks whose params struct (type PT) starts with
 * `numel` and has `esz`. */
#define MV_BODY(NAME, PT, SRC)                                                                     \
    static __device__ __forceinline__ void NAME(const mr_cuda_args *a, long long blk) {            \
        const PT *p = MR_PARAMS(PT, a);                                                            \
        long long begin = blk * MV_CHUNK, end = begin + MV_CHUNK;                                  \
        if (end > p->numel) end = p->numel;                                                        \
        if (p->esz == 8)                                                                           \
            MV_LOOP(unsigned long long, SRC);                                                      \
        else                                                                                       \
            MV_LOOP(unsigned int, SRC);                                                            \
    }

#define MV_VARIANTS(PREFIX, BODY)                                                                  \
    MR_ELASTIC_KERNEL(PREFIX##_k256, 256, BODY)                                                    \
    MR_ELASTIC_KERNEL(PREFIX##_k64, 64, BODY)                                                      \
    static const mr_cuda_variant PREFIX##_full = {"t256",                                          \
                                                  (const void *)PREFIX##_k256_elastic,             \
                                                  (const void *)PREFIX##_k256_plain,               \
                                                  (const void *)PREFIX##_k256_wave,                \
                                                  256,                                             \
                                                  0};                                              \
    static const mr_cuda_variant PREFIX##_small = {"t64",                                          \
                                                   (const void *)PREFIX##_k64_elastic,             \
                                                   (const void *)PREFIX##_k64_plain,               \
                                                   (const void *)PREFIX##_k64_wave,                \
                                                   64,                                             \
                                                   0};

static void set_plan(mr_cuda_plan *plan, long long numel, const mr_cuda_variant *full,
                     const mr_cuda_variant *small) {
    long long blocks = (numel + MV_CHUNK - 1) / MV_CHUNK;
    plan->n_phases = 1;
    plan->n_blocks = blocks > 0 ? blocks : 1;
    plan->n_variants = 2;
    plan->variants[0] = full;
    plan->variants[1] = small;
}

/* Element size of a supported dtype, else 0. */
static int elem_size(mr_dtype dt) {
    size_t s = mr_dtype_size(dt);
    return s == 4 || s == 8 ? (int)s : 0;
}

/* ---- strided view (Transpose, Slice, Expand) ---- */

typedef struct strided_params {
    long long numel; /* output elements */
    int esz;
    int nd;                        /* >= 1 after coalescing */
    int narrow;                    /* input and output have at most MR_FDIV_MAX elements */
    long long base;                /* input element offset of output element 0 */
    long long dims[MR_MAX_DIMS];   /* output dims */
    long long stride[MR_MAX_DIMS]; /* input element stride per output dim (may be < 0) */
    mr_fdiv fd[MR_MAX_DIMS];       /* dividers of dims (narrow only) */
} strided_params;

static __device__ __forceinline__ const void *
strided_src(const mr_cuda_args *a, const strided_params *p, long long e, long long *off) {
    if (p->narrow) {
        /* Input and output both have at most MR_FDIV_MAX elements: the offset is computed
         * modulo 2^32 (negative strides wrap), and its true value fits. */
        unsigned int r = (unsigned int)e, o = (unsigned int)p->base;
#pragma unroll
        for (int k = MR_MAX_DIMS - 1; k >= 1; k--) {
            if (k < p->nd) {
                unsigned int q = mr_fdiv_q(r, p->fd[k]);
                o += (r - q * (unsigned int)p->dims[k]) * (unsigned int)p->stride[k];
                r = q;
            }
        }
        *off = (long long)(o + r * (unsigned int)p->stride[0]);
        return a->in[0];
    }
    long long r = e, o = p->base;
#pragma unroll
    for (int k = MR_MAX_DIMS - 1; k >= 1; k--) {
        if (k < p->nd) {
            long long q = r / p->dims[k];
            o += (r - q * p->dims[k]) * p->stride[k];
            r = q;
        }
    }
    *off = o + r * p->stride[0];
    return a->in[0];
}

MV_BODY(strided_body, strided_params, strided_src)
MV_VARIANTS(mr_strided, strided_body)

/* Input 0 / output 0 descriptors with a common supported element type. */
static mr_status io_descs(const mr_graph *g, const mr_node *n, const mr_tensor_desc **in,
                          const mr_tensor_desc **out, int *esz, mr_err *err) {
    if (n->n_in < 1 || n->in[0] < 0 || n->n_out < 1 || n->out[0] < 0)
        return mr_err_node(err, MR_ERR_GRAPH, n, "the input or output is missing");
    *in = &g->tensors[n->in[0]];
    *out = &g->tensors[n->out[0]];
    *esz = elem_size((*out)->dtype);
    if (!*esz || (*in)->dtype != (*out)->dtype)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "data type %s is not supported (float32, int64, int32)",
                           mr_dtype_name((*in)->dtype));
    if (mr_desc_numel(*in) < 0 || mr_desc_numel(*out) < 0)
        return mr_err_node(err, MR_ERR_SHAPE, n, "the tensor size overflows");
    return MR_OK;
}

/* ---- Transpose, Slice, Expand ---- */

/* The view is the one the CPU op's prepare resolved from the attributes / constant inputs and
 * coalesced (ops/transform.h; validated there during shape inference): copied into the
 * kernel's params with the dividers. */
static mr_status strided_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                 mr_cuda_plan *plan, mr_err *err) {
    const mr_tensor_desc *in = NULL, *out = NULL;
    int esz = 0;
    MR_TRY(io_descs(g, n, &in, &out, &esz, err));
    const mr_strided_plan *v = mr_strided_plan_of(n);
    if (!v) return mr_err_node(err, MR_ERR_INTERNAL, n, "not prepared by the CPU op");
    strided_params p;
    memset(&p, 0, sizeof p);
    long long numel = mr_desc_numel(out), in_numel = mr_desc_numel(in);
    p.nd = v->nd;
    for (int d = 0; d < v->nd; d++) {
        p.dims[d] = v->dims[d];
        p.stride[d] = v->stride[d];
    }
    p.base = v->base;
    p.numel = numel;
    p.esz = esz;
    p.narrow = numel <= MR_FDIV_MAX && in_numel <= MR_FDIV_MAX;
    if (p.narrow)
        for (int d = 0; d < p.nd; d++) p.fd[d] = mr_fdiv_make(p.dims[d]);
    set_plan(plan, numel, &mr_strided_full, &mr_strided_small);
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

/* ---- Concat ---- */

typedef struct concat_params {
    long long numel;
    int esz;
    int n_in;
    int narrow;
    int runs; /* every non-empty piece has >= CONCAT_MIN_RUN elements: copy by runs */
    mr_fdiv fd_row;
    long long row;                        /* elements per output row: pref[n_in] */
    long long pref[MR_CUDA_MAX_PTRS + 1]; /* start of input k's piece in a row */
    long long seg[MR_CUDA_MAX_PTRS];      /* elements of input k per row */
} concat_params;

static __device__ __forceinline__ const void *
concat_src(const mr_cuda_args *a, const concat_params *p, long long e, long long *off) {
    long long r, o;
    if (p->narrow) {
        unsigned int q = mr_fdiv_q((unsigned int)e, p->fd_row);
        r = q;
        o = (long long)((unsigned int)e - q * (unsigned int)p->row);
    } else {
        r = e / p->row;
        o = e - r * p->row;
    }
    /* The input owning column o: the last k with pref[k] <= o (empty inputs share their
     * successor's start and are skipped, since o < pref[n_in]). */
    int k = 0;
#pragma unroll
    for (int q = 1; q < MR_CUDA_MAX_PTRS; q++)
        if (q < p->n_in && p->pref[q] <= o) k = q;
    *off = r * p->seg[k] + (o - p->pref[k]);
    return a->in[k];
}

/* Copies cnt contiguous elements of type T, with MV_UNROLL loads in flight per thread. */
#define RUN_COPY(T, DST, SRC, CNT)                                                                 \
    do {                                                                                           \
        T *d_ = (T *)(DST);                                                                        \
        const T *s_ = (const T *)(SRC);                                                            \
        const long long n_ = (CNT), step_ = blockDim.x;                                            \
        for (long long i0 = threadIdx.x; i0 < n_; i0 += MV_UNROLL * step_) {                       \
            T v_[MV_UNROLL];                                                                       \
            _Pragma("unroll") for (int u = 0; u < MV_UNROLL; u++) {                                \
                long long i = i0 + u * step_;                                                      \
                v_[u] = i < n_ ? s_[i] : (T)0;                                                     \
            }                                                                                      \
            _Pragma("unroll") for (int u = 0; u < MV_UNROLL; u++) {                                \
                long long i = i0 + u * step_;                                                      \
                if (i < n_) d_[i] = v_[u];                                                         \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static __device__ __forceinline__ void concat_body(const mr_cuda_args *a, long long blk) {
    const concat_params *p = MR_PARAMS(concat_params, a);
    long long begin = blk * MV_CHUNK, end = begin + MV_CHUNK;
    if (end > p->numel) end = p->numel;
    if (!p->runs) {
        if (p->esz == 8)
            MV_LOOP(unsigned long long, concat_src);
        else
            MV_LOOP(unsigned int, concat_src);
        return;
    }
    /* Every piece is at least CONCAT_MIN_RUN elements: walk the pieces that intersect the
     * chunk (the same sequence in every thread) and copy each as one contiguous run. */
    for (long long pos = begin; pos < end;) {
        long long r = pos / p->row, o = pos - r * p->row;
        int k = 0;
#pragma unroll
        for (int q = 1; q < MR_CUDA_MAX_PTRS; q++)
            if (q < p->n_in && p->pref[q] <= o) k = q;
        long long cnt = p->pref[k + 1] - o;
        if (cnt > end - pos) cnt = end - pos;
        long long src = r * p->seg[k] + (o - p->pref[k]);
        if (p->esz == 8)
            RUN_COPY(unsigned long long, (unsigned long long *)a->out[0] + pos,
                     (const unsigned long long *)a->in[k] + src, cnt);
        else
            RUN_COPY(unsigned int, (unsigned int *)a->out[0] + pos,
                     (const unsigned int *)a->in[k] + src, cnt);
        pos += cnt;
    }
}

MV_VARIANTS(mr_concat, concat_body)

static mr_status concat_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                mr_cuda_plan *plan, mr_err *err) {
    const mr_tensor_desc *in0 = NULL, *out = NULL;
    int esz = 0;
    MR_TRY(io_descs(g, n, &in0, &out, &esz, err));
    if (n->n_in > MR_CUDA_MAX_PTRS)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "has %d inputs (at most %d supported)",
                           n->n_in, MR_CUDA_MAX_PTRS);
    if (out->ndim < 1) return mr_err_node(err, MR_ERR_SHAPE, n, "cannot concatenate scalars");
    /* Concat-1 defaulted axis to 1; from opset 4 it is required (checked by the CPU op). */
    int64_t axis_attr;
    MR_TRY(mr_attr_get_int(n, "axis", 1, &axis_attr, err));
    long long an = axis_attr < 0 ? axis_attr + out->ndim : axis_attr;
    if (an < 0 || an >= out->ndim)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "attribute 'axis' %lld is out of range for an input of rank %d",
                           (long long)axis_attr, out->ndim);
    int axis = (int)an;
    concat_params p;
    memset(&p, 0, sizeof p);
    long long inner = 1;
    for (int d = axis + 1; d < out->ndim; d++) inner *= out->dims[d];
    p.pref[0] = 0;
    for (int k = 0; k < n->n_in; k++) {
        if (n->in[k] < 0) return mr_err_node(err, MR_ERR_GRAPH, n, "input %d is missing", k);
        const mr_tensor_desc *t = &g->tensors[n->in[k]];
        if (t->dtype != out->dtype || t->ndim != out->ndim)
            return mr_err_node(err, MR_ERR_SHAPE, n, "input %d ('%s') does not match the output", k,
                               t->name);
        p.seg[k] = t->dims[axis] * inner;
        p.pref[k + 1] = p.pref[k] + p.seg[k];
    }
    p.n_in = n->n_in;
    p.row = p.pref[n->n_in];
    p.runs = 1;
    for (int k = 0; k < n->n_in; k++)
        if (p.seg[k] > 0 && p.seg[k] < CONCAT_MIN_RUN) p.runs = 0;
    p.numel = mr_desc_numel(out);
    p.esz = esz;
    p.narrow = p.numel <= MR_FDIV_MAX;
    if (p.narrow) p.fd_row = mr_fdiv_make(p.row);
    set_plan(plan, p.numel, &mr_concat_full, &mr_concat_small);
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

/* ---- Gather ---- */

typedef struct gather_params {
    long long numel;
    int esz;
    int narrow;
    int idx64; /* indices are int64 (else int32) */
    int pad_;
    long long row;  /* elements per gathered slice: prod(data dims after axis) */
    long long nidx; /* number of indices */
    long long dim;  /* data dims[axis] */
    mr_fdiv fd_row, fd_nidx;
} gather_params;

static __device__ __forceinline__ const void *
gather_src(const mr_cuda_args *a, const gather_params *p, long long e, long long *off) {
    long long outer, j, o;
    if (p->narrow) {
        unsigned int r = mr_fdiv_q((unsigned int)e, p->fd_row);
        unsigned int q = mr_fdiv_q(r, p->fd_nidx);
        o = (long long)((unsigned int)e - r * (unsigned int)p->row);
        outer = q;
        j = (long long)(r - q * (unsigned int)p->nidx);
    } else {
        long long r = e / p->row;
        o = e - r * p->row;
        outer = r / p->nidx;
        j = r - outer * p->nidx;
    }
    long long v =
        p->idx64 ? ((const long long *)a->in[1])[j] : (long long)((const int *)a->in[1])[j];
    if (v < 0) v += p->dim;
    if (v < 0 || v >= p->dim) return NULL; /* out of range: zeros, as on the CPU */
    *off = (outer * p->dim + v) * p->row + o;
    return a->in[0];
}

MV_BODY(gather_body, gather_params, gather_src)
MV_VARIANTS(mr_gather, gather_body)

static mr_status gather_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                mr_cuda_plan *plan, mr_err *err) {
    const mr_tensor_desc *data = NULL, *out = NULL;
    int esz = 0;
    MR_TRY(io_descs(g, n, &data, &out, &esz, err));
    if (!has_input(n, 1)) return mr_err_node(err, MR_ERR_GRAPH, n, "the indices input is missing");
    const mr_tensor_desc *ind = &g->tensors[n->in[1]];
    if (data->ndim == 0) return mr_err_node(err, MR_ERR_SHAPE, n, "cannot gather from a scalar");
    if (ind->dtype != MR_DTYPE_I64 && ind->dtype != MR_DTYPE_I32)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "the indices ('%s') must be int64 or int32, not %s", ind->name,
                           mr_dtype_name(ind->dtype));
    int64_t axis_attr;
    MR_TRY(mr_attr_get_int(n, "axis", 0, &axis_attr, err));
    long long an = axis_attr < 0 ? axis_attr + data->ndim : axis_attr;
    if (an < 0 || an >= data->ndim)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "attribute 'axis' %lld is out of range for an input of rank %d",
                           (long long)axis_attr, data->ndim);
    int axis = (int)an;
    gather_params p;
    memset(&p, 0, sizeof p);
    p.row = 1;
    for (int d = axis + 1; d < data->ndim; d++) p.row *= data->dims[d];
    p.dim = data->dims[axis];
    p.nidx = mr_desc_numel(ind);
    p.numel = mr_desc_numel(out);
    long long outer = 1;
    for (int d = 0; d < axis; d++) outer *= data->dims[d];
    if (p.nidx < 0 || outer * p.nidx * p.row != p.numel)
        return mr_err_node(err, MR_ERR_SHAPE, n, "the output size does not match the gather");
    p.esz = esz;
    p.idx64 = ind->dtype == MR_DTYPE_I64;
    p.narrow = p.numel <= MR_FDIV_MAX;
    if (p.narrow) {
        p.fd_row = mr_fdiv_make(p.row);
        p.fd_nidx = mr_fdiv_make(p.nidx);
    }
    set_plan(plan, p.numel, &mr_gather_full, &mr_gather_small);
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

MR_CUDA_OP(mr_cuda_op_concat, "Concat", concat_prepare);
MR_CUDA_OP(mr_cuda_op_transpose, "Transpose", strided_prepare);
MR_CUDA_OP(mr_cuda_op_gather, "Gather", gather_prepare);
MR_CUDA_OP(mr_cuda_op_slice, "Slice", strided_prepare);
MR_CUDA_OP(mr_cuda_op_expand, "Expand", strided_prepare);
