/* Add, Sub, Mul, Div with numpy multidirectional broadcasting, on float32, int64 and int32.
 *
 * Integer semantics (the result has the inputs' type, as in the ONNX reference):
 *  - Add/Sub/Mul wrap around on overflow (computed in unsigned arithmetic, like numpy; signed
 *    overflow would be undefined behaviour in C).
 *  - Div truncates toward zero, like C and the ONNX reference (which casts a / b back to the
 *    integer type). A kernel cannot fail at run time, so division by zero yields 0, and
 *    INT_MIN / -1 wraps to INT_MIN.
 *
 * Broadcasting plan (prepare): the output shape is collapsed to as few dimensions as
 * possible: size-1 output dimensions are dropped and neighbouring dimensions merged wherever
 * both inputs are contiguous (or both broadcast) across them. The innermost remaining
 * dimension then has stride 1 or 0 in each input, so every case reduces to a few vectorisable
 * inner loops (vector-vector, vector-scalar, scalar-vector) over runs of that dimension:
 *  - same shape, or one side a scalar: one dimension, one run per block;
 *  - per-channel [N,C,H,W] op [1,C,1,1]: dims [N,C,H*W], runs of H*W against one value;
 *  - anything else: the same odometer walk over the collapsed dimensions.
 * Logical blocks are contiguous chunks of BIN_CHUNK output elements.
 */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"

#define BIN_CHUNK ((int64_t)1 << 15)

typedef enum bin_kind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_NKINDS } bin_kind;

typedef struct bin_params {
    bin_kind kind;
    /* broadcasting plan, set by prepare */
    int rank;                  /* collapsed rank, >= 1 */
    int64_t dims[MR_MAX_DIMS]; /* collapsed output dimensions */
    int64_t sa[MR_MAX_DIMS];   /* element strides of input A per collapsed dim (0: broadcast) */
    int64_t sb[MR_MAX_DIMS];   /* same for B */
    int64_t numel;             /* output elements */
} bin_params;

/* ---- element functions ---- */

static inline float f32_add(float a, float b) {
    return a + b;
}
static inline float f32_sub(float a, float b) {
    return a - b;
}
static inline float f32_mul(float a, float b) {
    return a * b;
}
static inline float f32_div(float a, float b) {
    return a / b;
}

static inline int64_t i64_add(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}
static inline int64_t i64_sub(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a - (uint64_t)b);
}
static inline int64_t i64_mul(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a * (uint64_t)b);
}
static inline int64_t i64_div(int64_t a, int64_t b) {
    if (b == 0) return 0;
    if (b == -1) return (int64_t)(0u - (uint64_t)a); /* INT64_MIN / -1 overflows */
    return a / b;
}

static inline int32_t i32_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t i32_sub(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}
static inline int32_t i32_mul(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a * (uint32_t)b);
}
static inline int32_t i32_div(int32_t a, int32_t b) {
    if (b == 0) return 0;
    if (b == -1) return (int32_t)(0u - (uint32_t)a);
    return a / b;
}

/* ---- run kernels: y[0..n) from a run of A (stride va: 0 or 1) and B (stride vb) ---- */

typedef void (*bin_fn)(void *y, const void *a, const void *b, int64_t n, int va, int vb);

#define DEFINE_BIN_KERNEL(T, FN)                                                                   \
    static void FN##_run(void *yv, const void *av, const void *bv, int64_t n, int va, int vb) {    \
        T *y = yv;                                                                                 \
        const T *a = av, *b = bv;                                                                  \
        if (va && vb) {                                                                            \
            for (int64_t i = 0; i < n; i++) y[i] = FN(a[i], b[i]);                                 \
        } else if (va) {                                                                           \
            const T s = b[0];                                                                      \
            for (int64_t i = 0; i < n; i++) y[i] = FN(a[i], s);                                    \
        } else if (vb) {                                                                           \
            const T s = a[0];                                                                      \
            for (int64_t i = 0; i < n; i++) y[i] = FN(s, b[i]);                                    \
        } else {                                                                                   \
            const T v = FN(a[0], b[0]);                                                            \
            for (int64_t i = 0; i < n; i++) y[i] = v;                                              \
        }                                                                                          \
    }

DEFINE_BIN_KERNEL(float, f32_add)
DEFINE_BIN_KERNEL(float, f32_sub)
DEFINE_BIN_KERNEL(float, f32_mul)
DEFINE_BIN_KERNEL(float, f32_div)
DEFINE_BIN_KERNEL(int64_t, i64_add)
DEFINE_BIN_KERNEL(int64_t, i64_sub)
DEFINE_BIN_KERNEL(int64_t, i64_mul)
DEFINE_BIN_KERNEL(int64_t, i64_div)
DEFINE_BIN_KERNEL(int32_t, i32_add)
DEFINE_BIN_KERNEL(int32_t, i32_sub)
DEFINE_BIN_KERNEL(int32_t, i32_mul)
DEFINE_BIN_KERNEL(int32_t, i32_div)

static bin_fn bin_kernel(mr_dtype dt, bin_kind k) {
    static const bin_fn f32[BIN_NKINDS] = {f32_add_run, f32_sub_run, f32_mul_run, f32_div_run};
    static const bin_fn i64[BIN_NKINDS] = {i64_add_run, i64_sub_run, i64_mul_run, i64_div_run};
    static const bin_fn i32[BIN_NKINDS] = {i32_add_run, i32_sub_run, i32_mul_run, i32_div_run};
    switch (dt) {
    case MR_DTYPE_F32:
        return f32[k];
    case MR_DTYPE_I64:
        return i64[k];
    case MR_DTYPE_I32:
        return i32[k];
    default:
        return NULL;
    }
}

/* ---- op ---- */

static mr_status bin_init_kind(mr_node *n, bin_kind kind, mr_err *err) {
    /* Opset 1-6 broadcasting: B is broadcast onto A only when `broadcast` = 1, aligned at
     * `axis`. Different rules from numpy's; no exporter we target emits it. */
    if (mr_node_attr(n, "broadcast"))
        return mr_err_attr(err, n, "broadcast",
                           "legacy (opset < 7) broadcasting is not supported; re-export the "
                           "model with opset >= 7");
    if (mr_node_attr(n, "axis"))
        return mr_err_attr(err, n, "axis",
                           "legacy (opset < 7) broadcasting is not supported; re-export the "
                           "model with opset >= 7");
    bin_params *p = mr_calloc(1, sizeof *p, "binary op parameters", err);
    if (!p) return MR_ERR_NO_MEMORY;
    p->kind = kind;
    n->params = p;
    return MR_OK;
}

static mr_status add_init(mr_graph *g, mr_node *n, mr_err *err) {
    return bin_init_kind(n, BIN_ADD, err);
}
static mr_status sub_init(mr_graph *g, mr_node *n, mr_err *err) {
    return bin_init_kind(n, BIN_SUB, err);
}
static mr_status mul_init(mr_graph *g, mr_node *n, mr_err *err) {
    return bin_init_kind(n, BIN_MUL, err);
}
static mr_status div_init(mr_graph *g, mr_node *n, mr_err *err) {
    return bin_init_kind(n, BIN_DIV, err);
}

static mr_status bin_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *a = mr_node_input(g, n, 0), *b = mr_node_input(g, n, 1);
    mr_tensor_desc *y = mr_node_output(g, n, 0);
    if (!a || !b) return mr_err_node(err, MR_ERR_GRAPH, n, "needs two inputs");
    if (!y) return mr_err_node(err, MR_ERR_GRAPH, n, "the output is missing");
    if (a->dtype != b->dtype)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "inputs '%s' (%s) and '%s' (%s) have different data types", a->name,
                           mr_dtype_name(a->dtype), b->name, mr_dtype_name(b->dtype));
    if (!bin_kernel(a->dtype, BIN_ADD))
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "data type %s is not supported (float32, int64, int32)",
                           mr_dtype_name(a->dtype));
    int r;
    int64_t dims[MR_MAX_DIMS];
    MR_TRY(mr_broadcast_shape(n, a->ndim, a->dims, b->ndim, b->dims, &r, dims, err));
    mr_set_shape(y, a->dtype, r, dims);
    return MR_OK;
}

/* Strides (in elements) of input x aligned to the r-dim output: 0 where x is broadcast. */
static void aligned_strides(const mr_tensor_desc *x, int r, const int64_t *odims,
                            int64_t *strides) {
    int64_t s = 1;
    for (int k = r - 1; k >= 0; k--) {
        int xk = k - (r - x->ndim);
        int64_t d = xk >= 0 ? x->dims[xk] : 1;
        strides[k] = (d == 1 && odims[k] != 1) ? 0 : s;
        s *= d;
    }
}

static mr_status bin_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    bin_params *p = n->params;
    const mr_tensor_desc *a = mr_node_input(g, n, 0), *b = mr_node_input(g, n, 1);
    const mr_tensor_desc *y = mr_node_output(g, n, 0);
    int64_t numel = mr_desc_numel(y);
    if (numel < 0) return mr_err_node(err, MR_ERR_SHAPE, n, "the output size overflows");
    int r = y->ndim;
    int64_t sa[MR_MAX_DIMS], sb[MR_MAX_DIMS];
    aligned_strides(a, r, y->dims, sa);
    aligned_strides(b, r, y->dims, sb);

    /* Drop size-1 output dims, merge neighbours where both inputs continue contiguously
     * (stride[k-1] == stride[k] * dim[k], which also holds when both are broadcast). */
    int q = 0;
    for (int k = 0; k < r; k++) {
        int64_t d = y->dims[k];
        if (d == 1) continue;
        if (q > 0 && p->sa[q - 1] == sa[k] * d && p->sb[q - 1] == sb[k] * d) {
            p->dims[q - 1] *= d;
            p->sa[q - 1] = sa[k];
            p->sb[q - 1] = sb[k];
            continue;
        }
        p->dims[q] = d;
        p->sa[q] = sa[k];
        p->sb[q] = sb[k];
        q++;
    }
    if (q == 0) { /* one element */
        p->dims[0] = 1;
        p->sa[0] = p->sb[0] = 0;
        q = 1;
    }
    p->rank = q;
    p->numel = numel;

    int64_t blocks = mr_div_up(numel, BIN_CHUNK);
    n->n_blocks = blocks > 0 ? blocks : 1;
    n->scratch_bytes = 0;
    n->flops = numel;
    return MR_OK;
}

static void bin_run(const mr_step *s, int64_t block, void *scratch) {
    const bin_params *p = s->node->params;
    int64_t begin, end;
    mr_block_range(p->numel, BIN_CHUNK, block, &begin, &end);
    if (begin >= end) return;
    bin_fn fn = bin_kernel(s->out[0].dtype, p->kind);
    size_t esz = mr_dtype_size(s->out[0].dtype);
    const char *a = s->in[0].data, *b = s->in[1].data;
    char *y = s->out[0].data;

    /* Coordinates and input offsets of `begin`. */
    const int r = p->rank, last = r - 1;
    int64_t coord[MR_MAX_DIMS];
    int64_t oa = 0, ob = 0, rem = begin;
    for (int k = last; k >= 0; k--) {
        coord[k] = rem % p->dims[k];
        rem /= p->dims[k];
        oa += coord[k] * p->sa[k];
        ob += coord[k] * p->sb[k];
    }
    const int64_t inner = p->dims[last];
    const int va = p->sa[last] != 0, vb = p->sb[last] != 0;
    for (int64_t pos = begin; pos < end;) {
        int64_t len = inner - coord[last];
        if (len > end - pos) len = end - pos;
        fn(y + (size_t)pos * esz, a + (size_t)oa * esz, b + (size_t)ob * esz, len, va, vb);
        pos += len;
        if (pos >= end) break;
        /* Odometer step to the start of the next run. */
        oa += len * p->sa[last];
        ob += len * p->sb[last];
        coord[last] += len;
        for (int k = last; k > 0 && coord[k] == p->dims[k]; k--) {
            oa += p->sa[k - 1] - p->dims[k] * p->sa[k];
            ob += p->sb[k - 1] - p->dims[k] * p->sb[k];
            coord[k] = 0;
            coord[k - 1]++;
        }
    }
}

/* consumed_inputs: an opset-1 in-place hint, ignored. broadcast/axis: rejected by init with
 * a clear message rather than as unknown attributes. */
static const char *const bin_attrs[] = {"broadcast", "axis", "consumed_inputs", NULL};

#define DEFINE_BIN_OP(SYM, NAME, INIT)                                                             \
    const mr_op_def SYM = {                                                                        \
        .name = NAME,                                                                              \
        .min_in = 2,                                                                               \
        .max_in = 2,                                                                               \
        .min_out = 1,                                                                              \
        .max_out = 1,                                                                              \
        .attrs = bin_attrs,                                                                        \
        .init = INIT,                                                                              \
        .infer = bin_infer,                                                                        \
        .prepare = bin_prepare,                                                                    \
        .run_block = bin_run,                                                                      \
    };

DEFINE_BIN_OP(mr_op_add, "Add", add_init)
DEFINE_BIN_OP(mr_op_sub, "Sub", sub_init)
DEFINE_BIN_OP(mr_op_mul, "Mul", mul_init)
DEFINE_BIN_OP(mr_op_div, "Div", div_init)
