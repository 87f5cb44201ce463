/* Softmax (float32) as elastic kernels, numerically stable: y = exp(x - max) * (1 / sum), the
 * same formula as the CPU op (src/ops/softmax.c), including its axis semantics: opset < 13
 * coerces the input to 2-D [prod(dims[:axis]), prod(dims[axis:])] (axis default 1), opset 13+
 * reduces along the single axis `axis` (default -1). Both are an [outer, n, inner] view,
 * reduced over n. Three block shapes, chosen by prepare:
 *
 *  SM_WARP  (inner == 1, n <= SM_WARP_MAX): a logical block is `rows` consecutive rows
 *           (about SM_CHUNK elements); each warp takes rows warp, warp + W, ... and reduces
 *           with shuffles. Few rows per block for wide rows, many for narrow ones.
 *  SM_BLOCK (inner == 1, wider rows): a logical block is one row, reduced by the whole
 *           thread block (warp shuffles, then across warps through shared memory).
 *  SM_COLS  (inner > 1): a logical block is `cols` consecutive columns (outer, j) of the
 *           [outer, n, inner] view; a thread walks its column down n (the column's elements
 *           are `inner` apart, neighbouring threads read neighbouring addresses), summing in
 *           the same order as the CPU op.
 *
 * Both variants (256 and 64 threads) use the same logical grid: a thread block loops over
 * whatever its threads do not cover in one pass. */
#include <math.h>
#include <string.h>

#include "cuda/common.cuh"

extern "C" {
#include "ops/softmax.h"
}

#define SM_CHUNK    4096 /* elements per logical block, roughly */
#define SM_WARP_MAX 1024 /* widest row a single warp reduces */
#define SM_MIN_COLS 256  /* columns per block in SM_COLS mode, at least */
#define SM_UNROLL   4    /* loads in flight per thread in the write pass */

enum { SM_WARP = 0, SM_BLOCK = 1, SM_COLS = 2 };

typedef struct softmax_params {
    long long outer, n, inner;
    long long rows;  /* SM_WARP: rows per logical block */
    long long cols;  /* SM_COLS: columns per logical block */
    long long numel; /* 0: nothing to do */
    int mode;
} softmax_params;

static __device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static __device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Reductions over the whole thread block (blockDim.x a multiple of 32, at most 1024). Every
 * thread gets the result. The leading barrier protects `red` from a previous use. */
static __device__ __forceinline__ float block_max(float v, float *red) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) red[w] = v;
    __syncthreads();
    return warp_max(lane < nw ? red[lane] : -INFINITY);
}

static __device__ __forceinline__ float block_sum(float v, float *red) {
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) red[w] = v;
    __syncthreads();
    return warp_sum(lane < nw ? red[lane] : 0.0f);
}

/* Parts of a softmax over n elements `stride` apart, shared by `gs` threads (thread t takes
 * elements t, t + gs, ...). The max and sum passes only load, so the compiler keeps several
 * loads in flight; the write pass recomputes exp(x - m) (bit-identical to the sum pass) and
 * batches SM_UNROLL loads before its stores, so in-place operation (y == x) stays correct:
 * a thread only ever rewrites elements it has already loaded. */
static __device__ __forceinline__ float part_max(const float *x, long long n, long long stride,
                                                 long long t, long long gs) {
    float m = -INFINITY;
#pragma unroll 4
    for (long long i = t; i < n; i += gs) m = fmaxf(m, x[i * stride]);
    return m;
}

static __device__ __forceinline__ float part_sum(const float *x, long long n, long long stride,
                                                 long long t, long long gs, float m) {
    float s = 0.0f;
#pragma unroll 4
    for (long long i = t; i < n; i += gs) s += expf(x[i * stride] - m);
    return s;
}

static __device__ __forceinline__ void part_write(const float *x, float *y, long long n,
                                                  long long stride, long long t, long long gs,
                                                  float m, float inv) {
    for (long long i0 = t; i0 < n; i0 += SM_UNROLL * gs) {
        float v[SM_UNROLL];
#pragma unroll
        for (int u = 0; u < SM_UNROLL; u++) {
            long long i = i0 + u * gs;
            v[u] = i < n ? x[i * stride] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < SM_UNROLL; u++) {
            long long i = i0 + u * gs;
            if (i < n) y[i * stride] = expf(v[u] - m) * inv;
        }
    }
}

static __device__ __forceinline__ void softmax_body(const mr_cuda_args *a, long long blk) {
    __shared__ float red[32];
    const softmax_params *p = MR_PARAMS(softmax_params, a);
    if (p->numel == 0) return;
    const float *x = (const float *)a->in[0];
    float *y = (float *)a->out[0];
    const long long n = p->n;
    if (p->mode == SM_WARP) {
        const int lane = threadIdx.x & 31, nw = blockDim.x >> 5;
        long long r0 = blk * p->rows, r1 = r0 + p->rows;
        if (r1 > p->outer) r1 = p->outer;
        /* The loop bound is uniform per warp, so the full-mask shuffles are safe. */
        for (long long r = r0 + (threadIdx.x >> 5); r < r1; r += nw) {
            const float *xr = x + r * n;
            const float m = warp_max(part_max(xr, n, 1, lane, 32));
            const float inv = 1.0f / warp_sum(part_sum(xr, n, 1, lane, 32, m));
            part_write(xr, y + r * n, n, 1, lane, 32, m, inv);
        }
    } else if (p->mode == SM_BLOCK) {
        const float *xr = x + blk * n;
        const long long t = threadIdx.x, gs = blockDim.x;
        const float m = block_max(part_max(xr, n, 1, t, gs), red);
        const float inv = 1.0f / block_sum(part_sum(xr, n, 1, t, gs, m), red);
        part_write(xr, y + blk * n, n, 1, t, gs, m, inv);
    } else {
        /* One thread per column: the sum runs in the CPU op's order (k = 0 .. n-1). */
        const long long inner = p->inner, total = p->outer * inner;
        long long c0 = blk * p->cols, c1 = c0 + p->cols;
        if (c1 > total) c1 = total;
        for (long long c = c0 + threadIdx.x; c < c1; c += blockDim.x) {
            long long o = c / inner, j = c - o * inner;
            const float *xc = x + o * n * inner + j;
            const float m = part_max(xc, n, inner, 0, 1);
            const float inv = 1.0f / part_sum(xc, n, inner, 0, 1, m);
            part_write(xc, y + o * n * inner + j, n, inner, 0, 1, m, inv);
        }
    }
}

MR_ELASTIC_KERNEL(mr_softmax_k256, 256, softmax_body)
MR_ELASTIC_KERNEL(mr_softmax_k64, 64, softmax_body)

static const mr_cuda_variant softmax_full = {"t256",
                                             (const void *)mr_softmax_k256_elastic,
                                             (const void *)mr_softmax_k256_plain,
                                             (const void *)mr_softmax_k256_wave,
                                             256,
                                             0};
static const mr_cuda_variant softmax_small = {"t64",
                                              (const void *)mr_softmax_k64_elastic,
                                              (const void *)mr_softmax_k64_plain,
                                              (const void *)mr_softmax_k64_wave,
                                              64,
                                              0};

static mr_status softmax_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                 mr_cuda_plan *plan, mr_err *err) {
    /* The CPU op has checked X (float32, rank >= 1, axis in range) and resolved the axis
     * semantics (opset < 13: 2-D coercion) into the [outer, n, inner] view. */
    const mr_softmax_params *cp = (const mr_softmax_params *)n->params;
    const long long outer = cp->outer, mid = cp->n, inner = cp->inner;
    const long long numel = outer * mid * inner; /* checked by the CPU prepare */

    softmax_params p;
    memset(&p, 0, sizeof p);
    p.outer = outer;
    p.n = mid;
    p.inner = inner;
    p.numel = numel;
    p.rows = p.cols = 1;
    long long blocks = 1;
    if (numel == 0) {
        p.mode = SM_WARP;
    } else if (inner == 1 && mid <= SM_WARP_MAX) {
        p.mode = SM_WARP;
        p.rows = SM_CHUNK / mid;
        if (p.rows < 1) p.rows = 1;
        blocks = (outer + p.rows - 1) / p.rows;
    } else if (inner == 1) {
        p.mode = SM_BLOCK;
        blocks = outer;
    } else {
        p.mode = SM_COLS;
        p.cols = SM_CHUNK / mid;
        if (p.cols < SM_MIN_COLS) p.cols = SM_MIN_COLS;
        blocks = (outer * inner + p.cols - 1) / p.cols;
    }
    plan->n_phases = 1;
    plan->n_blocks = blocks > 0 ? blocks : 1;
    plan->n_variants = 2;
    plan->variants[0] = &softmax_full;
    plan->variants[1] = &softmax_small;
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

MR_CUDA_OP(mr_cuda_op_softmax, "Softmax", softmax_prepare);
