/* Conv (float32, NCHW, 1-D as H = 1, and 2-D; any group) as elastic kernels.
 *
 * Semantics follow the CPU reference (src/ops/conv.c): pads / strides / dilations / auto_pad
 * are re-derived here from the node's attributes the same way (conv_geometry), and the result
 * is checked against the inferred output shape. Epilogue: + bias (input 2, also the one
 * BatchNorm folding adds), then the fused activation n->act.
 *
 * Kernels, picked in prepare:
 *  - GEMM (implicit GEMM, no im2col buffer): the output of one (image, group) is the
 *    [Mg x P] product of the group's weights [Mg x K] (K = Cg*KH*KW) and the virtual column
 *    matrix [K x P] of its input patch. A logical block computes a 64 x 64 tile (output
 *    channels x output positions) over a slice of K: chunks of the weight tile and of the
 *    gathered input patch go through shared memory and every thread accumulates a register
 *    tile. Variant 0: 256 threads of 4 x 4, K chunks of 16. Variant 1: 64 threads of 8 x 8,
 *    K chunks of 8 (half the shared memory). Both add the products of each output in the same
 *    order (k ascending, one fmaf each), so they give bitwise the same result.
 *    Split-K: a logical block reduces at most CONV_KSLICE_MAX k (a bounded amount of work,
 *    see there), and fewer still when the tiles are too few to fill the GPU. When K is longer,
 *    it is cut into `splits` slices: phase 0 writes each slice's partial tile to the workspace
 *    and phase 1 adds the slices in a fixed order (slice 0 first), then bias and activation.
 *    This keeps a logical block short (the unit of preemption: the yield word is read
 *    between logical blocks) whatever the depth of the layer. Phase 1 blocks are sized by
 *    the loads they make (CONV_RED_LOADS), so they are short too.
 *  - TC (the GEMM kernel's TF32 tensor-core form, under MR_PRECISION_TF32): the same logical
 *    grid shape (64 x 64 tiles, split-K phases 0 and 1, the same epilogue), K slices of at most
 *    CONV_TC_KSLICE_MAX (see there for the duration argument). Per chunk of BK k, the weight
 *    tile (64 x BK) and the input patch (BK x 64) are copied global -> shared with cp.async
 *    into one of two stages (the next chunk's copies are in flight while this one is
 *    multiplied), zero-filled outside the operands; warps then run mma.sync m16n8k8 TF32
 *    (operands rounded to nearest, float32 accumulation: the input with mr_tf32 as it is
 *    read, the weights, a constant, once by the backend, tf32.h) over the stage (gemm_tile.cuh:
 *    warp layout, padded rows for conflict-free fragment reads). Variant 0: 256 threads (8
 *    warps of 32 x 16 outputs), BK = 32. Variant 1: 64 threads (2 warps of 64 x 32), BK = 16,
 *    half the shared memory. Both run the k8 steps of every output in the same order, so they
 *    give bitwise the same result. Two kernel pairs by the patch gather: 1x1 stride-1
 *    unpadded convolutions copy input rows directly (16-byte copies when HW % 4 == 0); the
 *    generic gather reads a per-chunk table of (channel, kh, kw) offsets from shared memory.
 *    3x3 stride-1 convolutions (input channels per group a multiple of 8) take the patch
 *    kernels instead (CONV_B_PATCH, below): 64 x 128 tiles whose column matrix is read from
 *    the input rectangles the tile's taps cover, copied once per chunk of 8 channels.
 *  - DIRECT (one input channel per group: depthwise, or a channel multiplier): K = KH*KW is
 *    far too short for a GEMM tile. A logical block is (image, channel tile, output-row
 *    tile); every thread computes whole outputs from the taps (input read through the cache).
 *    Float32 under either precision.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "cuda/gemm_tile.cuh"
#include "cuda/wgmma.cuh"

enum { CONV_PAD_NOTSET, CONV_PAD_SAME_UPPER, CONV_PAD_SAME_LOWER, CONV_PAD_VALID };
enum { CONV_K_GEMM, CONV_K_DIRECT, CONV_K_TC };
/* TC: how the input-patch operand is gathered. 1X1: 1x1 kernel, stride 1, no padding, so the
 * patch of channel c is the input plane itself (k = c, position = plane index). */
enum { CONV_B_GENERIC, CONV_B_1X1, CONV_B_PATCH };

/* GEMM output tile (channels x positions). */
#define CONV_TM 64
#define CONV_TP 64
/* Split-K. A logical block is the unit of preemption, so its duration bounds the drain time:
 * the target is a few to ~25 us. An SM shares its time among the blocks resident on it (3 of
 * variant 0: 74 registers x 256 threads), so the wall time of one logical block is about
 *     FLOP per block x resident blocks per SM / FLOP rate per SM,
 * and at ~20 TFLOP/s over 132 SMs (~150 GFLOP/s per SM) that is ~20 us per MFLOP. A 64 x 64
 * tile costs 2*64*64 = 8192 FLOP per k: 144 k is 1.18 MFLOP, ~23 us. (The previous cap of
 * 1024 k left e.g. a whole 3x3 x 64-channel reduction, K = 576, in one block: 4.7 MFLOP, ~95 us
 * at that rate, 578 us measured in VGG-16's features.2 on an H200.)
 * 144 = 9 chunks of 16, and it cuts the K of every 3x3 layer with a multiple of 16 input
 * channels (K = 9 C) into C / 16 equal slices; 1x1 layers of 256..1024 channels get slices
 * of 128.
 * Cost of the split: each slice's partial output is written once (phase 0) and read once
 * (phase 1): 8 bytes per output per slice, against 2 x 144 = 288 FLOP per output per slice,
 * i.e. >= 36 FLOP per byte, while the machine balance of this kernel is ~20 TFLOP/s / ~4.8 TB/s
 * ~ 4 FLOP per byte: the extra traffic is at most ~12% of the tile compute time even if none
 * of it stays in L2 (and the phase-0 writes overlap other blocks' compute).
 * When only parallelism asks for more slices (too few tiles), slices stay >= CONV_KSLICE_MIN,
 * and >= CONV_KSLICE_FILL (half as long) where even that leaves SMs without a block: such a
 * layer (SqueezeNet's and MobileNet's at 13x13 and 7x7 on a whole H200: a few tiles over K of
 * a few hundred) is latency-bound, each chunk a round trip to L2 that the one before it
 * cannot hide, so a block's time is about its number of chunks, and shorter slices on more
 * SMs finish sooner; where every SM already has a block they only add partial sums
 * (SqueezeNet on 16 SMs was 4% slower with them; docs/KERNEL_NOTES.md, 14).
 * The slicing is fixed at prepare time, so both variants run the same grid. */
#define CONV_KSLICE_MAX  144
#define CONV_KSLICE_MIN  128
#define CONV_KSLICE_FILL 64
/* Fewer GEMM blocks than this leave SMs of an H200 idle: split K to get there. A runtime on
 * fewer SMs needs fewer: CONV_MIN_BLOCKS_PER_SM per SM (a full wave of the TF32 variant 0),
 * never more than CONV_MIN_BLOCKS. Every extra slice costs a partial tile written and read
 * back: on 16 SMs of an H200 ResNet-50's deep layers of few tiles had been cut into up to 4x
 * more slices than 16 SMs can use (docs/KERNEL_NOTES.md, 2). */
#define CONV_MIN_BLOCKS        264
#define CONV_MIN_BLOCKS_PER_SM 4
/* Largest split-K workspace (partial sums of all slices). If the slices above would need more
 * (large batches: S x N x M x P x 4 bytes), the slices are made longer until they fit, at the
 * cost of longer logical blocks; if even one slice does not fit, K is not split. Never an
 * error. */
#define CONV_WS_MAX ((long long)256 << 20)
/* TF32 tensor-core path (CONV_K_TC): the same 64 x 64 tiles and split-K structure, with K
 * slices re-derived for the faster blocks, by the same cost model: block time ~ FLOP per block
 * x resident blocks per SM / FLOP rate per SM. Variant 0 keeps 4 blocks on an SM (256 threads x
 * 64 registers, 37 KiB of shared memory; the 1x1 kernel 3). Its issue slots per 32-k chunk of
 * a tile (262 kFLOP): ~1000 warp instructions of fragment loads, conversions and 128 mma, ~700
 * of copies (the generic gather, the costlier one): ~480 cycles on 4 schedulers, ~1 TFLOP/s
 * per SM at 1.98 GHz if issue-bound; assume ~0.6 TFLOP/s per SM (80 TFLOP/s on an H200,
 * ~4x the SIMT kernel). 384 k is 8192 x 384 = 3.1 MFLOP: ~21 us with 4 blocks sharing the SM
 * (~14 us at the issue bound; variant 1, 2 warps, runs ~0.25 TFLOP/s per block: ~13 us).
 * 384 = 12 chunks of 32; 3x3 layers get slices of 288 (C = 64, K = 576: 2 slices) or 384
 * (C = 128..512), 1x1 layers of 256 channels are not cut and those of 512..2048 get slices of
 * 256..352. Split-K traffic (8 bytes per output per slice) against 2 x 384 FLOP per output per
 * slice is 96 FLOP per byte, above the ~17 FLOP per byte this kernel needs from HBM at 80
 * TFLOP/s (and batch-1 workspaces mostly stay in L2). CONV_TC_KSLICE_MIN and _FILL as
 * CONV_KSLICE_MIN and _FILL. */
#ifndef CONV_TC_KSLICE_MAX /* may be set at build time to study the trade-off */
#define CONV_TC_KSLICE_MAX 384
#endif
#define CONV_TC_KSLICE_MIN  128
#define CONV_TC_KSLICE_FILL 64
#define CONV_TC_KSLICE_UNIT 32 /* variant 0's K chunk (variant 1's, 16, divides it) */
/* The patch kernel (CONV_B_PATCH): slices of whole 72-k chunks, at least 2 (1 where SMs would
 * be idle), at most 360 k for 64 x 64 tiles (as CONV_TC_KSLICE_MAX by the same cost model) and
 * 288 for 64 x 128 ones (twice the FLOP per k, at ~1.6x the rate per SM). */
#define CONV_TCP_KSLICE_MAX (CONV_TCP_WIDE ? 288 : 360)
/* The warpgroup-MMA patch kernel (below) multiplies a chunk several times faster, and a tile's
 * setup and epilogue are as many instructions as 10 of its chunks: longer slices. */
#ifndef CONV_WG_KSLICE_MAX /* may be set at build time to study the trade-off */
#define CONV_WG_KSLICE_MAX 1152
#endif
/* Split-K reduction (phase 1): a block loads about this many partial sums (64 KiB, plus up to
 * 16 KiB of outputs written), i.e. red_chunk = CONV_RED_LOADS / splits outputs, rounded down to
 * a multiple of 64 and kept in [64, 4096] (so more only past 256 slices). At ~36 GB/s of HBM
 * per SM (4.8 TB/s / 132) shared by 3 resident blocks, that is ~7 us per block. */
#define CONV_RED_LOADS     16384
#define CONV_RED_CHUNK_MAX 4096
#define CONV_RED_CHUNK_MIN 64
/* DIRECT: outputs per logical block. Small: the kernel is memory-bound and a batch-1 layer
 * needs many blocks to fill the SMs. */
#ifndef CONV_DIRECT_OUTS /* may be set at build time to study the trade-off */
#define CONV_DIRECT_OUTS 1024
#endif

typedef struct conv_cu_params {
    int kernel;
    int N, C, H, W, M, OH, OW, KH, KW;
    int sh, sw, dh, dw, pt, pl;
    int group, Cg, Mg, K, P, HW;
    /* GEMM */
    int n_mt, n_pt, splits, kslice, red_chunk;
    long long gemm_blocks, red_blocks, total; /* total = N*M*P outputs */
    /* DIRECT */
    int cb, rb, n_cb, n_rb;
    mr_act act;
    /* TC: input-patch gather (CONV_B_*); 16-byte copies of weights (K % 4 == 0) and of 1x1
     * input rows (HW % 4 == 0) */
    int b_mode, a_vec, b_vec;
    /* PATCH: tile width (positions; the tile is CONV_TPP / tw rows of tw) and tiles per row */
    int tw, n_px;
    /* Split-K reduction: float4 sums (P % 4 == 0, so four outputs share a channel) and 32-bit
     * output indices (total < 2^31) */
    int red_vec, red_i32;
} conv_cu_params;

/* ---------------------------------------------------------------- device code ---- */

/* The tile of GEMM-phase logical block blk: position tile pti (fastest), K slice si, channel
 * tile mti, group gi, image nb (slowest); the same order in every GEMM-form kernel, so that
 * the split-K partial tiles of one slice are written by neighbouring blocks. */
typedef struct conv_tile_t {
    int pti, si, mti, gi;
    long long nb;
} conv_tile_t;
static __device__ __forceinline__ conv_tile_t conv_tile_of(const conv_cu_params *p, long long blk) {
    conv_tile_t r;
    long long t = blk;
    r.pti = (int)(t % p->n_pt);
    t /= p->n_pt;
    r.si = (int)(t % p->splits);
    t /= p->splits;
    r.mti = (int)(t % p->n_mt);
    const long long u = t / p->n_mt; /* image * group + group index */
    r.gi = (int)(u % p->group);
    r.nb = u / p->group;
    return r;
}

/* Loads the weight chunk [k0, k0+BK) of the tile's rows into registers: thread element i is
 * row a_mm0 + i*(NT/BK), column a_kk (consecutive threads read consecutive k of a row). */
template <int NT, int BK>
static __device__ __forceinline__ void conv_load_a(float *ra, const float *w, int K, int rows,
                                                   int k0, int kend, int a_kk, int a_mm0) {
    const int k = k0 + a_kk;
#pragma unroll
    for (int i = 0; i < BK * CONV_TM / NT; i++) {
        const int mm = a_mm0 + i * (NT / BK);
        ra[i] = (mm < rows && k < kend) ? __ldg(w + mm * K + k) : 0.0f;
    }
}

/* Gathers the input-patch chunk [k0, k0+BK) of the thread's output position into registers:
 * element i is k = k0 + b_kk0 + i*(NT/64), whose (channel, kh, kw) is kept in bc/bkh/bkw and
 * advanced here by BK for the next chunk (no division in the loop). */
template <int NT, int BK>
static __device__ __forceinline__ void conv_load_b(float *rb, const conv_cu_params *p,
                                                   const float *x, int k0, int kend, int b_kk0,
                                                   bool pos_ok, int ih0, int iw0, int *bc, int *bkh,
                                                   int *bkw, int adv_c, int adv_kh, int adv_kw) {
#pragma unroll
    for (int i = 0; i < BK * CONV_TP / NT; i++) {
        const int k = k0 + b_kk0 + i * (NT / CONV_TP);
        float v = 0.0f;
        if (pos_ok && k < kend) {
            const int ih = ih0 + bkh[i] * p->dh, iw = iw0 + bkw[i] * p->dw;
            if ((unsigned)ih < (unsigned)p->H && (unsigned)iw < (unsigned)p->W)
                v = __ldg(x + bc[i] * p->HW + ih * p->W + iw);
        }
        rb[i] = v;
        /* k += BK, as (c, kh, kw) += (adv_c, adv_kh, adv_kw) with carries */
        bkw[i] += adv_kw;
        if (bkw[i] >= p->KW) {
            bkw[i] -= p->KW;
            bkh[i]++;
        }
        bkh[i] += adv_kh;
        if (bkh[i] >= p->KH) {
            bkh[i] -= p->KH;
            bc[i]++;
        }
        bc[i] += adv_c;
    }
}

/* A chunk of the SIMT tile's operands, held in registers, into shared memory. */
template <int NT, int BK, int A_PER, int B_PER>
static __device__ __forceinline__ void
conv_gemm_stage(float (*As)[CONV_TM + 4], float (*Bs)[CONV_TP], const float *ra, const float *rb,
                int a_kk, int a_mm0, int b_kk0, int b_pp) {
#pragma unroll
    for (int i = 0; i < A_PER; i++) As[a_kk][a_mm0 + i * (NT / BK)] = ra[i];
#pragma unroll
    for (int i = 0; i < B_PER; i++) Bs[b_kk0 + i * (NT / CONV_TP)][b_pp] = rb[i];
}

/* One 64 x 64 output tile over one K slice. NT threads, TM x TN outputs each, K chunks of
 * BK. Thread (tx, ty) owns rows (j*4*TYM + ty*4 + 0..3) and columns (j*4*TXN + tx*4 + 0..3):
 * groups of 4 so that the shared-memory reads are float4 and conflict-free. */
template <int NT, int TM, int TN, int BK>
static __device__ __forceinline__ void conv_gemm_tile(const conv_cu_params *p,
                                                      const mr_cuda_args *a, long long blk,
                                                      const mr_yield_gate *yg) {
    constexpr int TXN = CONV_TP / TN; /* threads along positions */
    constexpr int TYM = CONV_TM / TM; /* threads along channels */
    constexpr int A_PER = BK * CONV_TM / NT;
    constexpr int B_PER = BK * CONV_TP / NT;
    static_assert(TXN * TYM == NT, "thread tile does not cover the output tile");
    static_assert(NT % BK == 0 && NT % CONV_TP == 0 && A_PER >= 1 && B_PER >= 1, "loader mapping");
    static_assert(TM % 4 == 0 && TN % 4 == 0, "float4 fragments");
    /* +4: the A stores (consecutive k of a row) spread over the banks; rows stay 16-byte
     * aligned for the float4 reads. */
    __shared__ __align__(16) float As[BK][CONV_TM + 4];
    __shared__ __align__(16) float Bs[BK][CONV_TP];

    const int tid = threadIdx.x;
    const conv_tile_t tl = conv_tile_of(p, blk);
    const int pti = tl.pti, si = tl.si, mti = tl.mti, gi = tl.gi;
    const long long nb = tl.nb;
    const int m0 = mti * CONV_TM; /* first channel of the tile, within the group */
    const int p0 = pti * CONV_TP;
    const int kbeg = si * p->kslice;
    const int kend = min(p->K, kbeg + p->kslice);
    const int rows = p->Mg - m0;

    /* input planes of this (image, group), weight rows of this tile */
    const float *x =
        (const float *)a->in[0] + ((long long)nb * p->C + (long long)gi * p->Cg) * (long long)p->HW;
    const float *w = (const float *)a->in[1] + (long long)(gi * p->Mg + m0) * p->K;

    const int a_kk = tid % BK, a_mm0 = tid / BK;
    const int b_pp = tid % CONV_TP, b_kk0 = tid / CONV_TP;
    const int pos = p0 + b_pp;
    const bool pos_ok = pos < p->P;
    int ih0 = 0, iw0 = 0;
    if (pos_ok) {
        const int oh = pos / p->OW, ow = pos - oh * p->OW;
        ih0 = oh * p->sh - p->pt;
        iw0 = ow * p->sw - p->pl;
    }
    const int KK = p->KH * p->KW;
    int bc[B_PER], bkh[B_PER], bkw[B_PER];
#pragma unroll
    for (int i = 0; i < B_PER; i++) {
        const int k = kbeg + b_kk0 + i * (NT / CONV_TP);
        const int c = k / KK, r = k - c * KK;
        bc[i] = c;
        bkh[i] = r / p->KW;
        bkw[i] = r - bkh[i] * p->KW;
    }
    const int adv_c = BK / KK, adv_r = BK % KK;
    const int adv_kh = adv_r / p->KW, adv_kw = adv_r % p->KW;

    const int tx = tid % TXN, ty = tid / TXN;
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] = 0.0f;

    float ra[A_PER], rb[B_PER];
    conv_load_a<NT, BK>(ra, w, p->K, rows, kbeg, kend, a_kk, a_mm0);
    conv_load_b<NT, BK>(rb, p, x, kbeg, kend, b_kk0, pos_ok, ih0, iw0, bc, bkh, bkw, adv_c, adv_kh,
                        adv_kw);
    /* The first chunk into shared memory, then the gate: its loads have landed, nothing is
     * stored yet. Before the loop, which is rotated, as in conv_tc_tile. */
    if (kbeg < kend)
        conv_gemm_stage<NT, BK, A_PER, B_PER>(As, Bs, ra, rb, a_kk, a_mm0, b_kk0, b_pp);
    if (mr_gate_sync(yg, 1)) return;
    for (int k0 = kbeg; k0 < kend;) {
        /* the next chunk's global loads overlap this chunk's arithmetic */
        if (k0 + BK < kend) {
            conv_load_a<NT, BK>(ra, w, p->K, rows, k0 + BK, kend, a_kk, a_mm0);
            conv_load_b<NT, BK>(rb, p, x, k0 + BK, kend, b_kk0, pos_ok, ih0, iw0, bc, bkh, bkw,
                                adv_c, adv_kh, adv_kw);
        }
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float av[TM], bv[TN];
#pragma unroll
            for (int j = 0; j < TM / 4; j++) {
                const float4 v = *(const float4 *)&As[kk][j * 4 * TYM + ty * 4];
                av[4 * j] = v.x;
                av[4 * j + 1] = v.y;
                av[4 * j + 2] = v.z;
                av[4 * j + 3] = v.w;
            }
#pragma unroll
            for (int j = 0; j < TN / 4; j++) {
                const float4 v = *(const float4 *)&Bs[kk][j * 4 * TXN + tx * 4];
                bv[4 * j] = v.x;
                bv[4 * j + 1] = v.y;
                bv[4 * j + 2] = v.z;
                bv[4 * j + 3] = v.w;
            }
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int j = 0; j < TN; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
        if ((k0 += BK) >= kend) break;
        conv_gemm_stage<NT, BK, A_PER, B_PER>(As, Bs, ra, rb, a_kk, a_mm0, b_kk0, b_pp);
        __syncthreads();
    }

    const int split = p->splits > 1;
    const float *bias = (const float *)a->in[2];
    const float *res = split ? NULL : (const float *)a->in[3]; /* the fused residual */
    float *base = split ? (float *)a->workspace + (long long)si * p->total : (float *)a->out[0];
#pragma unroll
    for (int i = 0; i < TM; i++) {
        const int ml = m0 + (i / 4) * 4 * TYM + ty * 4 + (i % 4);
        if (ml >= p->Mg) continue;
        const int m = gi * p->Mg + ml;
        const long long row = ((long long)nb * p->M + m) * (long long)p->P;
        float *dst = base + row;
        const float bv = bias ? bias[m] : 0.0f;
#pragma unroll
        for (int j = 0; j < TN; j++) {
            const int pp = p0 + (j / 4) * 4 * TXN + tx * 4 + (j % 4);
            if (pp >= p->P) continue;
            float v = acc[i][j];
            if (!split) {
                if (bias) v += bv;
                if (res) v += res[row + pp];
                v = mr_dev_act(p->act, v);
            }
            dst[pp] = v;
        }
    }
}

/* Split-K phase 1: outputs [blk*red_chunk, ...) = sum of the slices in slice order, + bias,
 * activation. Elementwise: the same sums whichever variant (thread count) runs it. */
static __device__ __forceinline__ void conv_reduce(const conv_cu_params *p, const mr_cuda_args *a,
                                                   long long blk, const mr_yield_gate *yg) {
    const float *ws = (const float *)a->workspace;
    const float *bias = (const float *)a->in[2];
    const float *res = (const float *)a->in[3]; /* the fused residual: output-shaped */
    float *y = (float *)a->out[0];
    const long long e0 = blk * p->red_chunk;
    const long long e1 = e0 + p->red_chunk < p->total ? e0 + p->red_chunk : p->total;
    /* b: the same for every thread, so that all reach the gate, after their first loads and
     * before their first store */
    if (p->red_vec && (((uintptr_t)ws | (uintptr_t)y | (uintptr_t)res) & 15) == 0) {
        /* Four outputs of one channel per thread and step: 16-byte loads keep four times the
         * bytes in flight (the phase is bound by reading the partial sums), and the channel
         * of the bias is one division per four outputs, in 32 bits where the indices fit.
         * Each output is still the slices' sum in slice order: the same bits as below. */
        for (long long b = e0; b < e1; b += 4 * (long long)blockDim.x) {
            const long long e = b + 4 * threadIdx.x;
            float4 s = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (e < e1) {
                s = *(const float4 *)(ws + e);
                /* The slices four at a time: their loads issued together, so that a thread
                 * waits for one L2 round trip per four slices instead of one per slice (a
                 * 56 x 56 x 256 layer's 8 slices on 16 SMs of an H200: 71 us of 500 in its
                 * reduction, the SMs mostly waiting). Still added one by one, in slice
                 * order. */
                int si = 1;
                for (; si + 4 <= p->splits; si += 4) {
                    float4 t[4];
#pragma unroll
                    for (int q = 0; q < 4; q++)
                        t[q] = *(const float4 *)(ws + (long long)(si + q) * p->total + e);
#pragma unroll
                    for (int q = 0; q < 4; q++) {
                        s.x += t[q].x;
                        s.y += t[q].y;
                        s.z += t[q].z;
                        s.w += t[q].w;
                    }
                }
                for (; si < p->splits; si++) {
                    const float4 t = *(const float4 *)(ws + (long long)si * p->total + e);
                    s.x += t.x;
                    s.y += t.y;
                    s.z += t.z;
                    s.w += t.w;
                }
                if (bias) {
                    const int ch = p->red_i32 ? (int)((unsigned)e / (unsigned)p->P % (unsigned)p->M)
                                              : (int)(e / p->P % p->M);
                    const float bv = bias[ch];
                    s.x += bv;
                    s.y += bv;
                    s.z += bv;
                    s.w += bv;
                }
                if (res) {
                    const float4 r = *(const float4 *)(res + e);
                    s.x += r.x;
                    s.y += r.y;
                    s.z += r.z;
                    s.w += r.w;
                }
                s.x = mr_dev_act(p->act, s.x);
                s.y = mr_dev_act(p->act, s.y);
                s.z = mr_dev_act(p->act, s.z);
                s.w = mr_dev_act(p->act, s.w);
            }
            if (b == e0 && mr_gate_warp(yg)) return;
            if (e < e1) *(float4 *)(y + e) = s;
        }
        return;
    }
    for (long long b = e0; b < e1; b += blockDim.x) {
        const long long e = b + threadIdx.x;
        float s = 0.0f;
        if (e < e1) {
            s = ws[e];
            for (int si = 1; si < p->splits; si++) s += ws[(long long)si * p->total + e];
            if (bias) s += bias[(e / p->P) % p->M];
            if (res) s += res[e];
            s = mr_dev_act(p->act, s);
        }
        if (b == e0 && mr_gate_warp(yg)) return;
        if (e < e1) y[e] = s;
    }
}

template <int NT, int TM, int TN, int BK>
static __device__ __forceinline__ void conv_gemm_body(const mr_cuda_args *a, long long blk,
                                                      const mr_yield_gate *yg) {
    const conv_cu_params *p = MR_PARAMS(conv_cu_params, a);
    if (a->phase == 0)
        conv_gemm_tile<NT, TM, TN, BK>(p, a, blk, yg);
    else
        conv_reduce(p, a, blk, yg);
}

static __device__ void conv_gemm_v0(const mr_cuda_args *a, long long blk, const mr_yield_gate *yg) {
    conv_gemm_body<256, 4, 4, 16>(a, blk, yg);
}
static __device__ void conv_gemm_v1(const mr_cuda_args *a, long long blk, const mr_yield_gate *yg) {
    conv_gemm_body<64, 8, 8, 8>(a, blk, yg);
}

/* ---- TF32 tensor-core GEMM (prepare picks it under MR_PRECISION_TF32) ---- */

/* Generic gather, k side: entry kk of a chunk's table describes k = k0 + kk of the slice as
 * (offset of (channel, kh * dh, kw * dw) in the group's input planes, kh * dh, kw * dw), so
 * that an element costs a broadcast shared load, two adds and two compares instead of a
 * (channel, kh, kw) walk per element. k past kend gets kh * dh = -2^30: never in bounds.
 * Written by the first BK threads (a division per entry, BK entries per chunk). */
static __device__ __forceinline__ void conv_tc_ktab(const conv_cu_params *p, int4 *kt, int k0,
                                                    int kend, int BK) {
    const int i = threadIdx.x;
    if (i >= BK) return;
    const int k = k0 + i;
    int4 e = make_int4(0, -(1 << 30), 0, 0);
    if (k < kend) {
        const int KK = p->KH * p->KW, c = k / KK, r = k - c * KK, kh = r / p->KW;
        e.y = kh * p->dh;
        e.z = (r - kh * p->KW) * p->dw;
        e.x = c * p->HW + e.y * p->W + e.z;
    }
    kt[i] = e;
}

/* Issues the cp.async copies of one K chunk [k0, k0 + BK) of the tile's operands into a
 * shared-memory stage: as[mm][kk] = weight (row m0 + mm, k0 + kk), bs[kk][nn] = input-patch
 * element (k0 + kk, position p0 + nn). Elements past kend, rows past the group's channels,
 * positions past P and taps in the padding are zero-filled. `gather` (a literal at the call
 * site, so that each kernel holds one gather's registers) is CONV_B_GENERIC or CONV_B_1X1.
 *  - weights: thread tid copies quads (row mm, k kq..kq+3), consecutive threads along the row:
 *    one 16-byte copy when K % 4 == 0 (avec), else four 4-byte ones (same addresses).
 *  - 1x1: k is the channel and the position indexes its plane (P = HW): quads of 4 positions
 *    (kk, nq..nq+3), 16 consecutive threads per row of 64; 16-byte copies when HW % 4 == 0.
 *  - generic: thread tid takes position nn = tid % 64 and rows kk = tid / 64 + R i (R = NT / 64),
 *    so a warp copies 32 neighbouring positions of one k (one broadcast table entry). */
template <int NT, int BK>
static __device__ __forceinline__ void
conv_tc_load(const conv_cu_params *p, int gather, float (*as)[BK + 4], float (*bs)[MR_GTC_LDB],
             const int4 *kt, const float *w, const float *wsafe, int rows, int avec, const float *x,
             const float *xsafe, int bvec, int k0, int kend, int p0, int ih0, int iw0, int pbase) {
    const int tid = threadIdx.x, K = p->K;
#pragma unroll
    for (int i = 0; i < CONV_TM * BK / 4 / NT; i++) {
        const int e = tid + i * NT, mm = e / (BK / 4), kq = (e % (BK / 4)) * 4, k = k0 + kq;
        const float *src = w + mm * K + k;
        if (avec) {
            const bool ok = mm < rows && k < kend;
            mr_cp_async16(&as[mm][kq], ok ? src : wsafe, ok);
        } else {
#pragma unroll
            for (int q = 0; q < 4; q++) {
                const bool ok = mm < rows && k + q < kend;
                mr_cp_async4(&as[mm][kq + q], ok ? src + q : wsafe, ok);
            }
        }
    }
    if (gather == CONV_B_1X1) {
#pragma unroll
        for (int i = 0; i < BK * CONV_TP / 4 / NT; i++) {
            const int e = tid + i * NT, kk = e / (CONV_TP / 4), nq = (e % (CONV_TP / 4)) * 4;
            const int k = k0 + kk, pp = p0 + nq;
            const float *src = x + k * p->HW + pp;
            if (bvec) {
                const bool ok = k < kend && pp < p->P;
                mr_cp_async16(&bs[kk][nq], ok ? src : xsafe, ok);
            } else {
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    const bool ok = k < kend && pp + q < p->P;
                    mr_cp_async4(&bs[kk][nq + q], ok ? src + q : xsafe, ok);
                }
            }
        }
    } else { /* ih0 = -2^30 for a position past P: never in bounds */
        constexpr int R = NT / CONV_TP;
        const int nn = tid % CONV_TP, kr = tid / CONV_TP;
#pragma unroll
        for (int i = 0; i < BK / R; i++) {
            const int kk = kr + R * i;
            const int4 e = kt[kk];
            const bool ok =
                (unsigned)(ih0 + e.y) < (unsigned)p->H && (unsigned)(iw0 + e.z) < (unsigned)p->W;
            /* x (the image's first plane) is the safe address: a 32-bit select, not a pointer's */
            mr_cp_async4(&bs[kk][nn], x + (ok ? e.x + pbase : 0), ok);
        }
    }
}

/* One 64 x 64 output tile over one K slice on tensor cores: NT threads (NT / 32 warps laid out
 * as in gemm_tile.cuh, TM x TM accumulators per thread), K chunks of BK through two
 * shared-memory stages filled by cp.async: the next chunk's copies are in flight while this
 * chunk's mma run. Epilogue and split-K partial tiles as in conv_gemm_tile. */
template <int NT, int TM, int BK>
static __device__ __forceinline__ void conv_tc_tile(const conv_cu_params *p, int gather,
                                                    const mr_cuda_args *a, long long blk,
                                                    const mr_yield_gate *yg) {
    static_assert((CONV_TM / (8 * TM)) * (CONV_TP / (4 * TM)) * 32 == NT,
                  "the warps do not cover the tile");
    static_assert(CONV_TM == MR_GT_TILE && CONV_TP == MR_GT_TILE, "gemm_tile.cuh's warp layout");
    static_assert(BK % 8 == 0 && NT % CONV_TP == 0 && BK % (NT / CONV_TP) == 0 && NT >= BK &&
                      (CONV_TM * BK / 4) % NT == 0 && (BK * CONV_TP / 4) % NT == 0,
                  "loader mapping");
    /* Rows of BK + 4 and 72 floats: conflict-free fragment reads (gemm_tile.cuh), 16-byte
     * aligned rows for the 16-byte copies. */
    __shared__ __align__(16) float As[2][CONV_TM][BK + 4];
    __shared__ __align__(16) float Bs[2][BK][MR_GTC_LDB];
    __shared__ int4 Kt[2][BK];

    const int tid = threadIdx.x;
    const conv_tile_t tl = conv_tile_of(p, blk);
    const int pti = tl.pti, si = tl.si, mti = tl.mti, gi = tl.gi;
    const long long nb = tl.nb;
    const int m0 = mti * CONV_TM, p0 = pti * CONV_TP;
    const int kbeg = si * p->kslice;
    const int kend = min(p->K, kbeg + p->kslice);
    const int rows = p->Mg - m0;

    const float *xsafe = (const float *)a->in[0], *wsafe = (const float *)a->in[1];
    const float *x = xsafe + ((long long)nb * p->C + (long long)gi * p->Cg) * (long long)p->HW;
    const float *w = wsafe + (long long)(gi * p->Mg + m0) * p->K;
    /* 16-byte copies need 16-byte aligned rows: K % 4 == 0 (HW % 4 == 0 for B, both checked
     * by prepare) and an aligned base (always, from cudaMalloc and the 64-byte arena; checked
     * anyway). */
    const int avec = p->a_vec && ((uintptr_t)wsafe & 15) == 0;
    const int bvec = p->b_vec && ((uintptr_t)xsafe & 15) == 0;
    const int generic = gather == CONV_B_GENERIC;
    /* generic gather, position side: input coordinates of this thread's output position */
    int ih0 = -(1 << 30), iw0 = 0, pbase = 0;
    const int pos = p0 + tid % CONV_TP;
    if (generic && pos < p->P) {
        const int oh = pos / p->OW, ow = pos - oh * p->OW;
        ih0 = oh * p->sh - p->pt;
        iw0 = ow * p->sw - p->pl;
        pbase = ih0 * p->W + iw0;
    }

    float acc[MR_GT_MAXM][MR_GT_MAXM];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TM; j++) acc[i][j] = 0.0f;
    const int chunks = (kend - kbeg + BK - 1) / BK;
    if (generic) conv_tc_ktab(p, Kt[0], kbeg, kend, BK);
    __syncthreads(); /* Kt[0] */
    conv_tc_load<NT, BK>(p, gather, As[0], Bs[0], Kt[0], w, wsafe, rows, avec, x, xsafe, bvec, kbeg,
                         kend, p0, ih0, iw0, pbase);
    mr_cp_async_commit();
    if (generic && chunks > 1) conv_tc_ktab(p, Kt[1], kbeg + BK, kend, BK);
    /* Chunk 0 has landed (own copies: the wait; everyone's: the barrier) and chunk 1's table
     * is written: the gate, before the loop (every slice, an empty one too). Inside the loop,
     * as its first iteration's barrier, it cost every chunk a branch around its barrier
     * (docs/KERNEL_NOTES.md, 37), so the loop is rotated: its barrier comes last. */
    mr_cp_async_wait();
    if (mr_gate_sync(yg, 1)) return;
    for (int c = 0; c < chunks;) {
        const int st = c & 1;
        if (c + 1 < chunks) {
            conv_tc_load<NT, BK>(p, gather, As[st ^ 1], Bs[st ^ 1], Kt[st ^ 1], w, wsafe, rows,
                                 avec, x, xsafe, bvec, kbeg + (c + 1) * BK, kend, p0, ih0, iw0,
                                 pbase);
            mr_cp_async_commit();
            if (generic && c + 2 < chunks) conv_tc_ktab(p, Kt[st], kbeg + (c + 2) * BK, kend, BK);
        }
        /* The weights (A) are a constant the backend uploaded rounded to TF32 (tf32_inputs). */
        mr_gtc_mma(acc, &As[st][0][0], BK + 4, &Bs[st][0][0], BK, TM, 1);
        if (++c >= chunks) break;
        /* Chunk c has landed, chunk c + 1's table is written, and every thread is done with
         * chunk c - 1's stage and table, which are overwritten next. */
        mr_cp_async_wait();
        __syncthreads();
    }

    const int split = p->splits > 1;
    const float *bias = (const float *)a->in[2];
    const float *res = split ? NULL : (const float *)a->in[3]; /* the fused residual */
    float *base = split ? (float *)a->workspace + (long long)si * p->total : (float *)a->out[0];
    const int pair = (p->P & 1) == 0 && (((uintptr_t)base | (uintptr_t)res) & 7) == 0;
#pragma unroll
    for (int i = 0; i < TM; i++) {
        const int ml = m0 + mr_gtc_row(i, tid, TM);
        if (ml >= p->Mg) continue;
        const int m = gi * p->Mg + ml;
        const long long row = ((long long)nb * p->M + m) * (long long)p->P;
        float *dst = base + row;
        const float bv = bias ? bias[m] : 0.0f;
        /* A thread holds columns j and j + 1 (j even) of a fragment row side by side: one
         * 8-byte store where the row is 8-byte aligned (P even), so that a warp's store
         * fills whole 32-byte sectors (8 rows x 4 threads x 8 bytes) instead of half of
         * twice as many. */
#pragma unroll
        for (int j = 0; j < TM; j += 2) {
            const int pp = p0 + mr_gtc_col(j, tid, TM); /* even */
            if (pp >= p->P) continue;
            float v0 = acc[i][j], v1 = acc[i][j + 1];
            if (!split) {
                if (bias) v0 += bv, v1 += bv;
                if (res) {
                    const float *r = res + row + pp;
                    if (pair && pp + 1 < p->P) {
                        const float2 t = *(const float2 *)r;
                        v0 += t.x, v1 += t.y;
                    } else {
                        v0 += r[0];
                        if (pp + 1 < p->P) v1 += r[1];
                    }
                }
                v0 = mr_dev_act(p->act, v0);
                v1 = mr_dev_act(p->act, v1);
            }
            if (pair && pp + 1 < p->P) {
                *(float2 *)(dst + pp) = make_float2(v0, v1);
            } else {
                dst[pp] = v0;
                if (pp + 1 < p->P) dst[pp + 1] = v1;
            }
        }
    }
}

template <int NT, int TM, int BK>
static __device__ __forceinline__ void conv_tc_body(const mr_cuda_args *a, int gather,
                                                    long long blk, const mr_yield_gate *yg) {
    const conv_cu_params *p = MR_PARAMS(conv_cu_params, a);
    if (a->phase == 0)
        conv_tc_tile<NT, TM, BK>(p, gather, a, blk, yg);
    else
        conv_reduce(p, a, blk, yg);
}

/* Variant 0: 8 warps of 32 x 16 outputs, K chunks of 32 (37 KiB of shared memory). Variant 1:
 * 2 warps of 64 x 32, K chunks of 16 (20 KiB). Same k8 steps in the same order: bit-identical
 * (gemm_tile.cuh). One kernel pair per gather, so that each holds only its own registers. */
static __device__ void conv_tc_v0(const mr_cuda_args *a, long long blk, const mr_yield_gate *yg) {
    conv_tc_body<256, 4, 32>(a, CONV_B_GENERIC, blk, yg);
}
static __device__ void conv_tc_v1(const mr_cuda_args *a, long long blk, const mr_yield_gate *yg) {
    conv_tc_body<64, 8, 16>(a, CONV_B_GENERIC, blk, yg);
}
static __device__ void conv_tc1x1_v0(const mr_cuda_args *a, long long blk,
                                     const mr_yield_gate *yg) {
    conv_tc_body<256, 4, 32>(a, CONV_B_1X1, blk, yg);
}
static __device__ void conv_tc1x1_v1(const mr_cuda_args *a, long long blk,
                                     const mr_yield_gate *yg) {
    conv_tc_body<64, 8, 16>(a, CONV_B_1X1, blk, yg);
}

/* ---- TF32, 3x3 stride-1 convolutions from an input patch in shared memory (CONV_B_PATCH) ----
 *
 * The generic gather copies every element of the virtual column matrix: 9 copies (4 bytes each,
 * with a table read and two bounds checks) per input element per chunk. For a 3x3 stride-1
 * convolution the positions of a tile are a TH x TW rectangle of the output (CONV_TPP = 128
 * of them: 16 x 8, 8 x 16 or 4 x 32), and all 9 taps of all of them read one (TH + 2) x
 * (TW + 2) rectangle of each input channel. A tile is 64 output channels x CONV_TPP positions;
 * a K chunk is CONV_PC whole input channels (72 k): the chunk's patch (CONV_PC rectangles, zero
 * outside the image) and its weight tile (64 rows x 72 k, 16-byte copies) are copied with
 * cp.async, and the fragments of the column matrix are read from the patch: element (channel
 * c, tap (kh, kw); position (y, x)) is patch[c][y + kh][x + kw]. Copies per chunk: 64 x 72 / 4
 * + 8 x 180 (or 204), against 64 x 72 / 4 + 72 x 128 for the generic gather.
 *
 * Order of the k within a chunk: tap-major (k8 step s is tap s over channels 0..7 of the
 * chunk). Thread (g, t) of a warp then reads, for every step, the column-matrix rows of
 * channels t and t + 4 at one tap: addresses (its base) + constant, no arithmetic in the mma
 * loop. The weights stay in the model's (channel, kh, kw) order in shared memory; the A
 * fragment of step s reads columns 9 t + s and 9 (t + 4) + s. Padded rows make both fragment
 * reads conflict-free: the weight row of CONV_PLDA = 76 floats (bank 12 g + 9 t: 32 distinct
 * banks for g < 8, t < 4) and the channel rectangle of a stride CS = 8 (mod 16) floats (bank
 * 8 t + g + constant).
 *
 * The K slices are whole chunks (prepare), and every output is accumulated step by step in the
 * same order by both variants (warps of 64 x 32 or 32 x 32 outputs), so they are bit-identical;
 * the split-K partial tiles are those of conv_tc_tile (the reduction is the same phase 1). */
#define CONV_PC   8             /* input channels per K chunk */
#define CONV_PK   (CONV_PC * 9) /* k per chunk */
#define CONV_PLDA (CONV_PK + 4) /* padded weight row in shared memory */

/* Positions per tile: 128 (CONV_TCP_WIDE, the default) or 64. A wider tile reuses each
 * weight fragment for more positions: the 128-position kernels' warps own 64 x 32 outputs (4 x 4
 * fragments: 1.5 shared-memory loads per mma) where the 64-position 256-thread kernel's own
 * 32 x 16 (2 x 2: 3 per mma). */
#ifndef CONV_TCP_WIDE /* may be set to 0 at build time to study the trade-off */
#define CONV_TCP_WIDE 1
#endif
#define CONV_TPP (CONV_TCP_WIDE ? 128 : 64)

/* Patch geometry of a tile TW positions wide (and CONV_TPP / TW high). */
static __host__ __device__ constexpr int conv_p_th(int tw) {
    return CONV_TPP / tw;
}
/* A patch row: the TW + 2 input columns the taps read, and 2 more that nothing reads, so that
 * a channel's rectangle (TH + 2 rows) is 8 (mod 16) floats for every tile shape (conflict-free
 * fragment reads) with the rectangles packed: the copies of a chunk then go to consecutive
 * floats, element e of the chunk to float e of the stage. */
static __host__ __device__ constexpr int conv_p_rs(int tw) {
    return tw + 4;
}
static __host__ __device__ constexpr int conv_p_ps(int tw) { /* one channel's rectangle */
    return (conv_p_th(tw) + 2) * conv_p_rs(tw);
}
/* Patch floats of a stage: the chunk's CONV_PC rectangles, rounded up to whole passes of NT
 * threads (the copies past them are zero-filled and read by nothing). */
static __host__ __device__ constexpr int conv_p_bfl(int tw, int nt) {
    return (CONV_PC * conv_p_ps(tw) + nt - 1) / nt * nt;
}

/* Dynamic shared memory of NS stages: weights NS x CONV_TM x CONV_PLDA, then the patches. */
static __host__ __device__ constexpr int conv_p_smem(int tw, int ns, int nt) {
    return ns * (CONV_TM * CONV_PLDA + conv_p_bfl(tw, nt)) * (int)sizeof(float);
}
/* Stages of the 256-thread kernels: the copies of a chunk are issued NS - 1 chunks ahead of
 * its mma. Two (46 KiB: four blocks per SM); three (67-69 KiB, three blocks per SM) measured
 * 4% slower over VGG-16 on 16 SMs of an H200 (docs/KERNEL_NOTES.md, 15). The 64-thread
 * kernels keep two. */
#ifndef CONV_TCP_STAGES /* may be set at build time to study the trade-off */
#define CONV_TCP_STAGES 2
#endif

/* Issues the copies of chunk c of a patch tile (conv_tcp_tile) into stage c % NS, without a
 * branch: the weight tile (thread (am, aq): 16-byte quads aq, aq + TPR, ... of row am, from
 * wk, the chunk's first quad of a valid row also where am is past the tile's rows, then
 * zero-filled: aok; the quads past the row's 18 in the last pass are predicated off) and the
 * input patch (element tid + i NT, from poff[i] past xc, the chunk's first input plane, where
 * bit i of pmask is set, else zero-filled). One commit group per chunk, an empty one past the
 * last, so that wait_group counts chunks. The caller advances wk and xc by a chunk per call
 * (from the chunk index, the addresses took 64-bit multiplies per chunk). */
template <int NT, int TW, int NS>
static __device__ __forceinline__ void
conv_tcp_issue(float (*As)[CONV_TM][CONV_PLDA], float (*Bs)[conv_p_bfl(TW, NT)], int c, int chunks,
               int am, int aq, bool aok, const float *wk, const float *xc, const int *poff,
               unsigned pmask) {
    constexpr int TPR = NT / CONV_TM, PE = conv_p_bfl(TW, NT) / NT;
    if (c < chunks) {
        const int st = c % NS, tid = threadIdx.x;
#pragma unroll
        for (int i = 0; i < (CONV_PK / 4 + TPR - 1) / TPR; i++) {
            const int q = aq + TPR * i;
            if ((CONV_PK / 4) % TPR == 0 || (i + 1) * TPR <= CONV_PK / 4)
                mr_cp_async16(&As[st][am][4 * q], wk + 4 * TPR * i, aok);
            else /* the last pass: only the quads of the row, predicated */
                mr_cp_async16_if(&As[st][am][4 * q], wk + 4 * TPR * i, aok, q < CONV_PK / 4);
        }
#pragma unroll
        for (int i = 0; i < PE; i++)
            mr_cp_async4(&Bs[st][tid + i * NT], xc + poff[i], (pmask >> i) & 1u);
    }
    mr_cp_async_commit();
}

/* NT threads; warps of FM x FN fragments (16 x 8 outputs each), CONV_TM / (16 FM) of them
 * along the channels, the rest along the positions: the tile's CONV_TPP positions. */
template <int NT, int FM, int FN, int TW, int NS>
static __device__ __forceinline__ void conv_tcp_tile(const conv_cu_params *p, const mr_cuda_args *a,
                                                     long long blk, const mr_yield_gate *yg) {
    constexpr int TH = conv_p_th(TW), RS = conv_p_rs(TW), PS = conv_p_ps(TW), CS = PS;
    constexpr int PE = conv_p_bfl(TW, NT) / NT; /* patch copies per thread */
    static_assert(PS % 16 == 8 && PE <= 32, "conflict-free rectangles; pmask's bits");
    constexpr int TPR = NT / CONV_TM;        /* threads per weight row */
    constexpr int WMW = CONV_TM / (16 * FM); /* warps along the channels */
    static_assert(CONV_TM % (16 * FM) == 0 && (NT / 32) % WMW == 0 &&
                      (NT / 32 / WMW) * 8 * FN == CONV_TPP,
                  "the warps do not cover the tile");
    static_assert(TW % 8 == 0 && CONV_TPP % TW == 0, "a fragment's 8 columns lie in one tile row");
    extern __shared__ __align__(16) float conv_pdyn[];
    float(*As)[CONV_TM][CONV_PLDA] = (float(*)[CONV_TM][CONV_PLDA])conv_pdyn;
    float(*Bs)[conv_p_bfl(TW, NT)] =
        (float(*)[conv_p_bfl(TW, NT)])(conv_pdyn + NS * CONV_TM * CONV_PLDA);

    const int tid = threadIdx.x;
    const conv_tile_t tl = conv_tile_of(p, blk);
    const int pti = tl.pti, si = tl.si, mti = tl.mti, gi = tl.gi;
    const long long nb = tl.nb;
    const int m0 = mti * CONV_TM;
    const int oy0 = (pti / p->n_px) * TH, ox0 = (pti % p->n_px) * TW;
    const int kbeg = si * p->kslice;
    const int kend = min(p->K, kbeg + p->kslice);
    const int rows = p->Mg - m0;

    const float *x =
        (const float *)a->in[0] + ((long long)nb * p->C + (long long)gi * p->Cg) * (long long)p->HW;
    const float *w = (const float *)a->in[1] + (long long)(gi * p->Mg + m0) * p->K;

    /* Weight copies (16 bytes: K is a multiple of 72 and the TF32 weights have an allocation of
     * their own, cuda_backend.c), TPR threads per row, neighbours on neighbouring 16-byte quads
     * (whole sectors); thread (am, aq) copies quads aq, aq + TPR, ... of row am: one base pointer,
     * constant offsets. */
    const int am = tid / TPR, aq = tid % TPR;
    const bool aok = am < rows; /* (rows >= 1: the row read otherwise is the tile's first) */
    const float *wrow = w + (long long)(aok ? am : 0) * p->K + 4 * aq;
    /* This thread's patch copies, the same in every chunk: element e = tid + i NT is channel
     * e / PS of the chunk, rectangle element e % PS; its offset from the chunk's first input
     * plane, and bit i of pmask where it lies inside the image (else zero-filled, from the
     * plane's first element). */
    int poff[PE];
    unsigned pmask = 0;
    const int iy0 = oy0 - p->pt, ix0 = ox0 - p->pl;
#pragma unroll
    for (int i = 0; i < PE; i++) {
        const int e = tid + i * NT, c = e / PS, r = e % PS, py = r / RS, px = r % RS;
        const int iy = iy0 + py, ix = ix0 + px;
        const bool in =
            e < CONV_PC * PS && (unsigned)iy < (unsigned)p->H && (unsigned)ix < (unsigned)p->W;
        poff[i] = in ? c * p->HW + iy * p->W + ix : 0;
        pmask |= (unsigned)in << i;
    }

    /* acc[i][j]: fragment (i, j) of the warp, c[0..3] of the mma (rows g and g + 8, columns
     * 2 t and 2 t + 1) */
    float acc[FM][FN][4];
#pragma unroll
    for (int i = 0; i < FM; i++)
#pragma unroll
        for (int j = 0; j < FN; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0.0f;

    /* Fragment bases: A row wm0 + 16 i + g at column 9 t; B channel t at the rectangle
     * position of column wn0 + 8 j + g. */
    const int lane = tid & 31, g = lane >> 2, tq = lane & 3;
    const int wm0 = ((tid >> 5) % WMW) * 16 * FM, wn0 = ((tid >> 5) / WMW) * 8 * FN;
    int aoff[FM], boff[FN];
#pragma unroll
    for (int i = 0; i < FM; i++) aoff[i] = (wm0 + 16 * i + g) * CONV_PLDA + 9 * tq;
#pragma unroll
    for (int j = 0; j < FN; j++) {
        const int n = wn0 + 8 * j + g;
        boff[j] = tq * CS + (n / TW) * RS + n % TW;
    }

    const int chunks = (kend - kbeg) / CONV_PK; /* whole chunks (prepare) */
    /* the next chunk to copy: its weights (k kbeg + 72 c) and first input plane (8 c) */
    const float *wk = wrow + kbeg, *xc = x + (long long)(kbeg / 9) * p->HW;
    const long long xstep = (long long)CONV_PC * p->HW;
#pragma unroll
    for (int c = 0; c < NS - 1; c++, wk += CONV_PK, xc += xstep)
        conv_tcp_issue<NT, TW, NS>(As, Bs, c, chunks, am, aq, aok, wk, xc, poff, pmask);
    for (int c = 0; c < chunks; c++, wk += CONV_PK, xc += xstep) {
        /* chunk c has landed (own copies: the wait; everyone's: the barrier), and every thread
         * is done with chunk c - 1, whose stage the copies of chunk c + NS - 1 overwrite. The
         * first time, the gate (a block that leaves waits for its copies in flight). */
        MR_CP_ASYNC_WAIT_GROUP(NS - 2);
        if (mr_gate_sync(yg, c == 0)) {
            mr_cp_async_wait();
            return;
        }
        conv_tcp_issue<NT, TW, NS>(As, Bs, c + NS - 1, chunks, am, aq, aok, wk, xc, poff, pmask);
        const int st = c % NS;
        const float *as = &As[st][0][0], *bs = Bs[st];
        /* the taps unrolled where the warp's fragments are few; with 4 x 4 fragments the
         * compiler's hoisting of the next taps' fragment loads spilled (168 registers) */
#pragma unroll(FM *FN >= 16 ? 1 : 9)
        for (int s = 0; s < 9; s++) {
            const int kh = s / 3, kw = s % 3;
            unsigned af[FM][4], bf[FN][2];
#pragma unroll
            for (int i = 0; i < FM; i++) {
                /* the weights are TF32 values already (rounded once, on the host) */
                const float *r = as + aoff[i] + s;
                af[i][0] = __float_as_uint(r[0]);
                af[i][1] = __float_as_uint(r[8 * CONV_PLDA]);
                af[i][2] = __float_as_uint(r[36]);
                af[i][3] = __float_as_uint(r[8 * CONV_PLDA + 36]);
            }
#pragma unroll
            for (int j = 0; j < FN; j++) {
                const float *q = bs + boff[j] + kh * RS + kw;
                bf[j][0] = mr_tf32(q[0]);
                bf[j][1] = mr_tf32(q[4 * CS]);
            }
#pragma unroll
            for (int i = 0; i < FM; i++)
#pragma unroll
                for (int j = 0; j < FN; j++) mr_mma_tf32(acc[i][j], af[i], bf[j]);
        }
    }
    if (chunks <= 0 && mr_gate_check(yg)) { /* an empty slice: the gate still */
        mr_cp_async_wait();
        return;
    }
    const int split = p->splits > 1;
    const float *bias = (const float *)a->in[2];
    const float *res = split ? NULL : (const float *)a->in[3]; /* the fused residual */
    float *base = split ? (float *)a->workspace + (long long)si * p->total : (float *)a->out[0];
    /* columns 2 t and 2 t + 1 are neighbours in a tile row (TW even): one 8-byte store where
     * the output row is 8-byte aligned (OW even; x0 and the column are even) */
    const int pair = (p->OW & 1) == 0 && (((uintptr_t)base | (uintptr_t)res) & 7) == 0;
#pragma unroll
    for (int i = 0; i < FM; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int ml = m0 + wm0 + 16 * i + 8 * h + g;
            if (ml >= p->Mg) continue;
            const int m = gi * p->Mg + ml;
            const long long row = ((long long)nb * p->M + m) * (long long)p->P;
            float *dst = base + row;
            const float bv = bias ? bias[m] : 0.0f;
#pragma unroll
            for (int j = 0; j < FN; j++) {
                const int n = wn0 + 8 * j + 2 * tq; /* even */
                const int oy = oy0 + n / TW, ox = ox0 + n % TW;
                if (oy >= p->OH || ox >= p->OW) continue;
                float v0 = acc[i][j][2 * h], v1 = acc[i][j][2 * h + 1];
                if (!split) {
                    if (bias) v0 += bv, v1 += bv;
                    if (res) {
                        const float *r = res + row + oy * p->OW + ox;
                        if (pair) {
                            const float2 t = *(const float2 *)r;
                            v0 += t.x, v1 += t.y;
                        } else {
                            v0 += r[0];
                            if (ox + 1 < p->OW) v1 += r[1];
                        }
                    }
                    v0 = mr_dev_act(p->act, v0);
                    v1 = mr_dev_act(p->act, v1);
                }
                float *o = dst + oy * p->OW + ox;
                if (pair) { /* OW even: ox + 1 < OW too */
                    *(float2 *)o = make_float2(v0, v1);
                } else {
                    o[0] = v0;
                    if (ox + 1 < p->OW) o[1] = v1;
                }
            }
        }
}

template <int NT, int FM, int FN, int TW, int NS>
static __device__ __forceinline__ void conv_tcp_body(const mr_cuda_args *a, long long blk,
                                                     const mr_yield_gate *yg) {
    const conv_cu_params *p = MR_PARAMS(conv_cu_params, a);
    if (a->phase == 0)
        conv_tcp_tile<NT, FM, FN, TW, NS>(p, a, blk, yg);
    else
        conv_reduce(p, a, blk, yg);
}

/* Per tile width (prepare takes the one that covers fewest positions outside the output): the
 * kernel critical launches and full-width launches run (variant 0) and a smaller one (variant
 * 1). 128-position tiles: 256 threads (8 warps of 32 x 32 outputs), and 128 (4 warps of 64 x
 * 32: fewer shared-memory loads per mma, but at 168 registers three blocks of 4 warps per SM;
 * 4-12% slower per VGG-16 layer on 16 SMs of an H200). 64-position tiles: 256 threads (8 warps
 * of 32 x 16), and 64 (2 of 64 x 32). */
#if CONV_TCP_WIDE
#define CONV_TCP_V0(TW) conv_tcp_body<256, 2, 4, TW, CONV_TCP_STAGES>(a, blk, yg)
#define CONV_TCP_V1(TW) conv_tcp_body<128, 4, 4, TW, 2>(a, blk, yg)
#define CONV_TCP_T0     256
#define CONV_TCP_T1     128
#else
#define CONV_TCP_V0(TW) conv_tcp_body<256, 2, 2, TW, CONV_TCP_STAGES>(a, blk, yg)
#define CONV_TCP_V1(TW) conv_tcp_body<64, 4, 4, TW, 2>(a, blk, yg)
#define CONV_TCP_T0     256
#define CONV_TCP_T1     64
#endif
/* The two variants' bodies of one tile width TW of a patch kernel family: NAME<TW>_v0 and
 * _v1, running V0(TW) and V1(TW) (the elastic kernels below take a body by name). */
#define CONV_PATCH_BODIES(NAME, TW, V0, V1)                                                        \
    static __device__ void NAME##TW##_v0(const mr_cuda_args *a, long long blk,                     \
                                         const mr_yield_gate *yg) {                                \
        V0(TW);                                                                                    \
    }                                                                                              \
    static __device__ void NAME##TW##_v1(const mr_cuda_args *a, long long blk,                     \
                                         const mr_yield_gate *yg) {                                \
        V1(TW);                                                                                    \
    }
CONV_PATCH_BODIES(conv_tcp, 8, CONV_TCP_V0, CONV_TCP_V1)
CONV_PATCH_BODIES(conv_tcp, 16, CONV_TCP_V0, CONV_TCP_V1)
CONV_PATCH_BODIES(conv_tcp, 32, CONV_TCP_V0, CONV_TCP_V1)

/* ---- TF32 3x3 patch tiles on Hopper's warpgroup MMA (CONV_B_PATCH where mr_cuda_cfg.wgmma) ----
 *
 * The tiles, K slices, chunks and epilogue of the patch kernel above, computed by one warpgroup
 * (128 threads) with wgmma (wgmma.cuh) instead of eight warps with mma.sync: the tensor cores
 * read both operands from shared memory, so the fragment loads that bound the mma.sync form
 * (two shared-memory loads per mma, docs/KERNEL_NOTES.md 16) are gone, and one instruction
 * multiplies the whole 64 x 128 tile by a tap's 8 k.
 *
 * Layouts (both operands K-major, in core matrices of 8 rows x 4 k = 16 bytes per row):
 *  - Weights: the backend uploads them repacked (conv_wg_pack) so that a chunk's 64 x 72 tile
 *    is CONV_WG_AFL consecutive floats in the order its stage holds them: (tap s, channel half
 *    h) blocks of 64 rows x 4 channels, row m at byte 16 m of block 2 s + h. A chunk is copied
 *    with 9 linear 16-byte copies per thread; tap s's descriptor starts at block 2 s (LBO: the
 *    1024 bytes to the other half; SBO: 128, the next 8 rows).
 *  - Input patch: the chunk's 8 channels as two planes of 4 (channels 4 h .. 4 h + 3), each the
 *    (TH + 2) x (TW + 2) rectangle of positions the tile's taps read, 16 bytes per position
 *    (its 4 channels). Element e of a chunk's copies is channel 4 (e / 4 / PS) + e % 4 at
 *    rectangle position e / 4 % PS, and lands at float e of the stage: four lanes copy one
 *    position's four channels, eight positions a warp. The B operand of tap (kh, kw) for the 8
 *    positions of a tile row is then one core matrix (8 consecutive positions of a rectangle
 *    row, 16 bytes each), the next tile row's RS positions further (SBO = 16 RS bytes), the
 *    other channel half a plane further (LBO): a tap's operand is a descriptor whose start
 *    moves by (kh RS + kw) positions, with nothing copied per tap. A wgmma covers 8 tile
 *    columns (a core matrix) by all TH rows, so a tile TW wide takes TW / 8 of them per tap
 *    (N = 128, 64 or 32).
 * wgmma reads float32 bits as TF32 by dropping the low mantissa bits; the weights are rounded
 * on the host and each thread rounds the patch elements it copied (mr_tf32, round to
 * nearest) before the barrier that hands the stage over, so products match the mma.sync form's
 * operands. The per-output sums are the tensor cores' own (both variants issue the same wgmmas
 * in the same order: bit-identical to each other, not to the mma.sync kernels).
 *
 * Pipeline: NS stages; chunk c + D is copied while chunk c is multiplied, and WGW batches of
 * wgmmas stay in flight across the barrier (D = NS - 1 - WGW: a stage is overwritten only after
 * the batch that read it completed). */
#define CONV_WG_T   128                                       /* threads: one warpgroup */
#define CONV_WG_AFL (CONV_TM * CONV_PK)                       /* weight floats of a chunk */
static __host__ __device__ constexpr int conv_wg_ps(int tw) { /* positions of a rectangle */
    return (conv_p_th(tw) + 2) * (tw + 2);
}
/* Patch floats of a stage, rounded up to whole passes of the threads. */
static __host__ __device__ constexpr int conv_wg_pfl(int tw) {
    return (CONV_PC * conv_wg_ps(tw) + CONV_WG_T - 1) / CONV_WG_T * CONV_WG_T;
}
static __host__ __device__ constexpr int conv_wg_smem(int tw, int ns) {
    return ns * (CONV_WG_AFL + conv_wg_pfl(tw)) * (int)sizeof(float);
}

/* One tap's wgmmas (prepare plans this kernel only with the 128-position tiles, CONV_TPP = 128:
 * TH = 16, 8 or 4 rows). */
template <int TW>
static __device__ __forceinline__ void conv_wg_mma(float (*acc)[4 * conv_p_th(TW)],
                                                   unsigned long long da, unsigned long long db) {
#pragma unroll
    for (int h = 0; h < TW / 8; h++) {
        /* the core matrices of tile columns 8 h .. 8 h + 7 start 8 h positions further */
        const unsigned long long d = db + (unsigned long long)(8 * h);
        if (conv_p_th(TW) == 16)
            mr_wgmma_tf32_n128(acc[h], da, d);
        else if (conv_p_th(TW) == 8)
            mr_wgmma_tf32_n64(acc[h], da, d);
        else
            mr_wgmma_tf32_n32(acc[h], da, d);
    }
}

/* Copies chunk c into stage c % NS (see conv_tcp_issue: one commit group per call). */
template <int TW, int NS>
static __device__ __forceinline__ void conv_wg_issue(float *smem, int c, int chunks,
                                                     const float *wk, const float *xc,
                                                     const int *poff, unsigned pmask) {
    constexpr int SF = CONV_WG_AFL + conv_wg_pfl(TW), PE = conv_wg_pfl(TW) / CONV_WG_T;
    if (c < chunks) {
        float *st = smem + (c % NS) * SF;
        const int tid = threadIdx.x;
#pragma unroll
        for (int j = 0; j < CONV_WG_AFL / 4 / CONV_WG_T; j++)
            mr_cp_async16(st + 4 * (tid + CONV_WG_T * j), wk + 4 * CONV_WG_T * j, true);
#pragma unroll
        for (int i = 0; i < PE; i++)
            mr_cp_async4(st + CONV_WG_AFL + tid + i * CONV_WG_T, xc + poff[i], (pmask >> i) & 1u);
    }
    mr_cp_async_commit();
}

template <int TW, int NS, int WGW>
static __device__ __forceinline__ void conv_wg_tile(const conv_cu_params *p, const mr_cuda_args *a,
                                                    long long blk, const mr_yield_gate *yg) {
#if MR_WGMMA
    constexpr int NT = CONV_WG_T, TH = conv_p_th(TW), RS = TW + 2, PS = conv_wg_ps(TW);
    constexpr int PF = conv_wg_pfl(TW), PE = PF / NT, SF = CONV_WG_AFL + PF;
    constexpr int NW = TW / 8, NA = 4 * TH; /* wgmmas per tap; accumulators of each */
    constexpr int D = NS - 1 - WGW;         /* chunks copied ahead */
    static_assert(D >= 1 && WGW >= 0 && PE <= 32, "pipeline; pmask's bits");
    static_assert(TW % 8 == 0, "a wgmma covers 8 tile columns");
    extern __shared__ __align__(16) float conv_pdyn[];

    const int tid = threadIdx.x;
    const conv_tile_t tl = conv_tile_of(p, blk);
    const int m0 = tl.mti * CONV_TM;
    const int oy0 = (tl.pti / p->n_px) * TH, ox0 = (tl.pti % p->n_px) * TW;
    const int kbeg = tl.si * p->kslice;
    const int chunks = (min(p->K, kbeg + p->kslice) - kbeg) / CONV_PK; /* whole (prepare) */
    const float *x = (const float *)a->in[0] +
                     ((long long)tl.nb * p->C + (long long)tl.gi * p->Cg) * (long long)p->HW;
    /* the packed weights: one block of CONV_WG_AFL floats per (group, channel tile, chunk) */
    const float *wk =
        (const float *)a->in[1] +
        ((long long)(tl.gi * p->n_mt + tl.mti) * (p->K / CONV_PK) + kbeg / CONV_PK) * CONV_WG_AFL +
        4 * tid;
    const float *xc = x + (long long)(kbeg / 9) * p->HW;
    const long long xstep = (long long)CONV_PC * p->HW;

    /* This thread's patch copies (as in conv_tcp_tile, in the two-plane order above). */
    int poff[PE];
    unsigned pmask = 0;
    const int iy0 = oy0 - p->pt, ix0 = ox0 - p->pl;
#pragma unroll
    for (int i = 0; i < PE; i++) {
        const int e = tid + i * NT, q = e & 3, pos = (e >> 2) % PS, h = (e >> 2) / PS;
        const int iy = iy0 + pos / RS, ix = ix0 + pos % RS;
        const bool in =
            e < CONV_PC * PS && (unsigned)iy < (unsigned)p->H && (unsigned)ix < (unsigned)p->W;
        poff[i] = in ? (4 * h + q) * p->HW + iy * p->W + ix : 0;
        pmask |= (unsigned)in << i;
    }

    float acc[NW][NA];
#pragma unroll
    for (int h = 0; h < NW; h++)
#pragma unroll
        for (int r = 0; r < NA; r++) acc[h][r] = 0.0f;

    /* Descriptors of stage 0's tap (0, 0); stages, taps and column groups move their start
     * address (the low field, in 16-byte units; shared memory is far below its 2^18 bytes). */
    const unsigned sb = (unsigned)__cvta_generic_to_shared(conv_pdyn);
    const unsigned long long da0 = mr_wgmma_desc(sb, 1024, 128);
    const unsigned long long db0 = mr_wgmma_desc(sb + 4 * CONV_WG_AFL, 16 * PS, 16 * RS);

#pragma unroll
    for (int c = 0; c < D; c++, wk += CONV_WG_AFL, xc += xstep)
        conv_wg_issue<TW, NS>(conv_pdyn, c, chunks, wk, xc, poff, pmask);
    /* The gate, with the first chunks' copies in flight; before the loop, not at its first
     * barrier: an exit inside it, around the wgmmas, had ptxas serialise them (C7518). A block
     * that leaves waits for its copies. */
    if (mr_gate_check(yg)) {
        mr_cp_async_wait();
        return;
    }
    /* wk and xc: the chunk to copy next (c + D) */
    for (int c = 0; c < chunks; c++, wk += CONV_WG_AFL, xc += xstep) {
        const int st = c % NS;
        /* chunk c's own copies have landed: round its patch elements to TF32 in place, and
         * hand them (and the weights) to the async proxy */
        MR_CP_ASYNC_WAIT_GROUP(D - 1);
        float *bs = conv_pdyn + st * SF + CONV_WG_AFL;
#pragma unroll
        for (int i = 0; i < PE; i++) bs[tid + i * NT] = __uint_as_float(mr_tf32(bs[tid + i * NT]));
        mr_fence_proxy_async();
        /* the batch of chunk c - 1 - WGW is done: its stage is free for chunk c + D */
        mr_wgmma_wait<WGW>();
        __syncthreads();
        conv_wg_issue<TW, NS>(conv_pdyn, c + D, chunks, wk, xc, poff, pmask);
        const unsigned so = (unsigned)(st * SF * 4) >> 4;
        mr_wgmma_fence();
#pragma unroll
        for (int s = 0; s < 9; s++) {
            const int kh = s / 3, kw = s % 3;
            conv_wg_mma<TW>(acc, da0 + so + 128u * s, db0 + so + (unsigned)(kh * RS + kw));
        }
        mr_wgmma_commit();
    }
    mr_wgmma_wait<0>();
#pragma unroll
    for (int h = 0; h < NW; h++)
#pragma unroll
        for (int r = 0; r < NA; r++) mr_wgmma_hold(acc[h][r]);

    /* The epilogue of conv_tcp_tile, rearranged for code size: bias and activation over all
     * accumulators first, the activation's switch outside the loop (inside it, 64 inlined
     * copies of every activation, sigmoid's and tanh's among them, made the kernel ~8,000
     * instructions, and the instruction cache missed), then the stores with their bounds
     * hoisted. */
    const int split = p->splits > 1;
    const int lane = tid & 31, g = lane >> 2, tq = lane & 3;
    const int mr0 = m0 + 16 * (tid >> 5) + g; /* rows mr0 (hh = 0) and mr0 + 8 (hh = 1) */
    if (!split) {
        const float *bias = (const float *)a->in[2];
        if (bias) {
            const float b0 = mr0 < p->Mg ? bias[tl.gi * p->Mg + mr0] : 0.0f;
            const float b1 = mr0 + 8 < p->Mg ? bias[tl.gi * p->Mg + mr0 + 8] : 0.0f;
#pragma unroll
            for (int h = 0; h < NW; h++)
#pragma unroll
                for (int r = 0; r < NA; r++) acc[h][r] += (r & 2) ? b1 : b0;
        }
        /* the fused residual (output-shaped), at the places the stores below write */
        const float *res = (const float *)a->in[3];
        if (res) {
            const int rj = min(TH, p->OH - oy0);
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                const int ml = mr0 + 8 * hh;
                if (ml >= p->Mg) continue;
                const float *rr = res +
                                  ((long long)tl.nb * p->M + tl.gi * p->Mg + ml) * (long long)p->P +
                                  (long long)oy0 * p->OW + ox0 + 2 * tq;
#pragma unroll
                for (int h = 0; h < NW; h++) {
                    const int ox = ox0 + 8 * h + 2 * tq;
                    if (ox >= p->OW) continue;
#pragma unroll
                    for (int j = 0; j < TH; j++) {
                        if (j >= rj) break;
                        const float *q = rr + j * p->OW + 8 * h;
                        acc[h][4 * j + 2 * hh] += q[0];
                        if (ox + 1 < p->OW) acc[h][4 * j + 2 * hh + 1] += q[1];
                    }
                }
            }
        }
        const mr_act act = p->act;
#define CONV_WG_MAP(EXPR)                                                                          \
    _Pragma("unroll") for (int h = 0; h < NW; h++)                                                 \
        _Pragma("unroll") for (int r = 0; r < NA; r++) {                                           \
        const float v = acc[h][r];                                                                 \
        acc[h][r] = (EXPR);                                                                        \
    }
        switch (act.kind) {
        case MR_ACT_NONE:
            break;
        case MR_ACT_RELU:
            CONV_WG_MAP(v > 0.f ? v : 0.f);
            break;
        default:
            CONV_WG_MAP(mr_dev_act(act, v));
            break;
        }
#undef CONV_WG_MAP
    }
    float *base = split ? (float *)a->workspace + (long long)tl.si * p->total : (float *)a->out[0];
    const int pair = (p->OW & 1) == 0 && ((uintptr_t)base & 7) == 0;
    const int OW = p->OW, jn = min(TH, p->OH - oy0); /* tile rows inside the output */
#pragma unroll
    for (int hh = 0; hh < 2; hh++) {
        const int ml = mr0 + 8 * hh;
        if (ml >= p->Mg) continue;
        float *dst = base + ((long long)tl.nb * p->M + tl.gi * p->Mg + ml) * (long long)p->P +
                     (long long)oy0 * OW + ox0 + 2 * tq;
#pragma unroll
        for (int h = 0; h < NW; h++) {
            const int ox = ox0 + 8 * h + 2 * tq;
            if (ox >= OW) continue;
            const bool two = ox + 1 < OW;
#pragma unroll
            for (int j = 0; j < TH; j++) {
                if (j >= jn) break;
                const float v0 = acc[h][4 * j + 2 * hh], v1 = acc[h][4 * j + 2 * hh + 1];
                float *o = dst + j * OW + 8 * h;
                if (pair) { /* OW even: ox + 1 < OW too */
                    *(float2 *)o = make_float2(v0, v1);
                } else {
                    o[0] = v0;
                    if (two) o[1] = v1;
                }
            }
        }
    }
#else
    (void)p, (void)a, (void)blk, (void)yg;
#endif
}

template <int TW, int NS, int WGW>
static __device__ __forceinline__ void conv_wg_body(const mr_cuda_args *a, long long blk,
                                                    const mr_yield_gate *yg) {
    const conv_cu_params *p = MR_PARAMS(conv_cu_params, a);
    if (a->phase == 0)
        conv_wg_tile<TW, NS, WGW>(p, a, blk, yg);
    else
        conv_reduce(p, a, blk, yg);
}

/* Variant 0: three stages, one batch in flight (72-74 KiB); variant 1: two stages, none in
 * flight (48-50 KiB). */
#define CONV_WG_V0(TW) conv_wg_body<TW, 3, 1>(a, blk, yg)
#define CONV_WG_V1(TW) conv_wg_body<TW, 2, 0>(a, blk, yg)
CONV_PATCH_BODIES(conv_wg, 8, CONV_WG_V0, CONV_WG_V1)
CONV_PATCH_BODIES(conv_wg, 16, CONV_WG_V0, CONV_WG_V1)
CONV_PATCH_BODIES(conv_wg, 32, CONV_WG_V0, CONV_WG_V1)

/* DIRECT: block = (image, channel tile, output-row tile); outputs of the block are spread
 * over the threads, row-major, so neighbouring threads read neighbouring input columns. */
/* One output of the DIRECT kernel: its taps in (kh, kw) order, padding skipped. Inlined with
 * literal KH and KW for 3x3, which unrolls the loops. */
static __device__ __forceinline__ float conv_direct_taps(const float *xp, const float *wp, int ih0,
                                                         int iw0, int KH, int KW,
                                                         const conv_cu_params *p) {
    float acc = 0.0f;
#pragma unroll
    for (int kh = 0; kh < KH; kh++) {
        const int ih = ih0 + kh * p->dh;
        if ((unsigned)ih >= (unsigned)p->H) continue;
        const float *xr = xp + ih * p->W;
        const float *wr = wp + kh * KW;
#pragma unroll
        for (int kw = 0; kw < KW; kw++) {
            const int iw = iw0 + kw * p->dw;
            if ((unsigned)iw < (unsigned)p->W) acc = fmaf(__ldg(wr + kw), __ldg(xr + iw), acc);
        }
    }
    return acc;
}

static __device__ __forceinline__ void conv_direct_body(const mr_cuda_args *a, long long blk,
                                                        const mr_yield_gate *yg) {
    const conv_cu_params *p = MR_PARAMS(conv_cu_params, a);
    /* 32-bit block and element arithmetic (prepare keeps the logical blocks and both tensors
     * below 2^31): the 64-bit divisions of the block index were a called subroutine and the
     * image pointers two registers each; at the kernel's cap of 32 registers, MobileNet-V2's
     * depthwise layers ran 13-15% longer that way (docs/KERNEL_NOTES.md, 29). */
    const unsigned b32 = (unsigned)blk;
    const int rbi = (int)(b32 % (unsigned)p->n_rb);
    const unsigned t = b32 / (unsigned)p->n_rb;
    const int cbi = (int)(t % (unsigned)p->n_cb);
    const int nb = (int)(t / (unsigned)p->n_cb);
    const int m0 = cbi * p->cb, m1 = min(p->M, m0 + p->cb);
    const int r0 = rbi * p->rb, r1 = min(p->OH, r0 + p->rb);
    const int nrows = r1 - r0, OW = p->OW, KW = p->KW, KK = p->KH * p->KW;
    const int cnt = (m1 - m0) * nrows * OW;
    const int yb = nb * p->M * p->P;
    const float *x = (const float *)a->in[0];
    const float *w = (const float *)a->in[1];
    const float *bias = (const float *)a->in[2];
    const float *res = (const float *)a->in[3]; /* the fused residual: output-shaped */
    float *y = (float *)a->out[0];
    /* 3x3 (every depthwise layer of MobileNet): the taps unrolled, so that all 18 loads of an
     * output are in flight at once instead of a loop's few. Same taps, same order. */
    const int k3 = p->KH == 3 && KW == 3;
#ifdef CONV_DIRECT_PAIR
    /* Study build only: two outputs of a thread in flight at once (e and e + blockDim.x), for
     * fewer resident blocks (CONV_DIRECT_BLOCKS) of longer logical blocks (CONV_DIRECT_OUTS). */
    const int xb = nb * p->C * p->HW;
    if (mr_gate_check(yg)) return; /* (at the start, as ungated bodies have it) */
    for (int e = threadIdx.x; e < cnt; e += 2 * blockDim.x) {
        const int n2 = e + (int)blockDim.x < cnt ? 2 : 1;
        float acc[2] = {0.0f, 0.0f};
        int yi[2] = {0, 0}, mm[2] = {0, 0};
#pragma unroll
        for (int u = 0; u < 2; u++) {
            if (u >= n2) break;
            const int eu = e + u * (int)blockDim.x;
            const int ow = eu % OW, q = eu / OW;
            const int oh = r0 + q % nrows, m = m0 + q / nrows;
            const float *xp = x + (xb + (m / p->Mg) * p->HW);
            const float *wp = w + m * KK;
            const int ih0 = oh * p->sh - p->pt, iw0 = ow * p->sw - p->pl;
            acc[u] = k3 ? conv_direct_taps(xp, wp, ih0, iw0, 3, 3, p)
                        : conv_direct_taps(xp, wp, ih0, iw0, p->KH, KW, p);
            yi[u] = m * p->P + oh * OW + ow;
            mm[u] = m;
        }
#pragma unroll
        for (int u = 0; u < 2; u++) {
            if (u >= n2) break;
            float v = acc[u];
            if (bias) v += bias[mm[u]];
            if (res) v += res[yb + yi[u]];
            y[yb + yi[u]] = mr_dev_act(p->act, v);
        }
    }
#else
    /* A block's outputs are contiguous in y (rows of one channel, or whole planes), so each
     * output's coordinates come from its index g in y, divided by kernel constants only. The
     * loop then depends on two values of the block (its first output, its image's first
     * channel), not on six: the elastic form, whose block index is not known to be uniform,
     * kept those six in ordinary registers at its cap of 32 and recomputed parts of them for
     * every output, ~10% more instructions than the plain form, whose compiler puts them in
     * uniform registers; the kernel is issue-bound (docs/KERNEL_NOTES.md, 30). */
    const int g0 = yb + m0 * p->P + r0 * OW, nbm = nb * p->M;
    /* e0: the same for every thread, so that all reach the gate, after their first taps */
    for (int e0 = 0; e0 < cnt; e0 += blockDim.x) {
        const int e = e0 + (int)threadIdx.x;
        const int g = g0 + e;
        float acc = 0.0f;
        int m = 0;
        if (e < cnt) {
            const int ow = g % OW, t2 = g / OW;
            const int oh = t2 % p->OH, c = t2 / p->OH;
            /* image n, channel m = c - n M; one input channel per group: channel m reads input
             * channel n C + m / Mg = c / Mg (M = C Mg) */
            m = c - nbm;
            const float *xp = x + (c / p->Mg) * p->HW;
            const float *wp = w + m * KK;
            const int ih0 = oh * p->sh - p->pt, iw0 = ow * p->sw - p->pl;
            if (k3)
                acc = conv_direct_taps(xp, wp, ih0, iw0, 3, 3, p);
            else
                acc = conv_direct_taps(xp, wp, ih0, iw0, p->KH, KW, p);
        }
        if (e0 == 0 && mr_gate_warp(yg)) return;
        if (e < cnt) {
            if (bias) acc += bias[m];
            if (res) acc += res[g];
            y[g] = mr_dev_act(p->act, acc);
        }
    }
#endif
}

MR_ELASTIC_KERNEL_GATED(mr_conv_gemm_t256, 256, conv_gemm_v0)
MR_ELASTIC_KERNEL_GATED(mr_conv_gemm_t64, 64, conv_gemm_v1)
/* Variant 0's TF32 kernels: four blocks per SM, as shared memory allows (37 KiB each), in
 * both forms (64 registers; the plain form would otherwise take 78-94 and fit three). */
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_tc_t256, 256, 4, conv_tc_v0)
MR_ELASTIC_KERNEL_GATED(mr_conv_tc_t64, 64, conv_tc_v1)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_tc1x1_t256, 256, 4, conv_tc1x1_v0)
MR_ELASTIC_KERNEL_GATED(mr_conv_tc1x1_t64, 64, conv_tc1x1_v1)
/* The patch kernels' blocks per SM (registers capped in both forms to fit them). 64 x 128
 * tiles: variant 0, two of 256 threads (up to 128 registers); variant 1, three of 128 (up to
 * 168: at four, 128, its 64 accumulators, fragments and patch offsets spilled). 64 x 64 tiles:
 * variant 0, as many as shared memory allows (four of 256 threads at two stages: 64
 * registers; three at three: 80). */
#define CONV_TCP_BLOCKS                                                                            \
    (CONV_TCP_WIDE ? 2 : CONV_TCP_STAGES >= 4 ? 2 : CONV_TCP_STAGES == 3 ? 3 : 4)
#define CONV_TCP_BLOCKS1 (CONV_TCP_WIDE ? 3 : 1)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_tcp8_v0k, CONV_TCP_T0, CONV_TCP_BLOCKS, conv_tcp8_v0)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_tcp8_v1k, CONV_TCP_T1, CONV_TCP_BLOCKS1, conv_tcp8_v1)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_tcp16_v0k, CONV_TCP_T0, CONV_TCP_BLOCKS, conv_tcp16_v0)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_tcp16_v1k, CONV_TCP_T1, CONV_TCP_BLOCKS1, conv_tcp16_v1)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_tcp32_v0k, CONV_TCP_T0, CONV_TCP_BLOCKS, conv_tcp32_v0)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_tcp32_v1k, CONV_TCP_T1, CONV_TCP_BLOCKS1, conv_tcp32_v1)
/* The warpgroup-MMA patch kernels: three blocks per SM (at four, 128 registers, the elastic
 * form spilled around the 64 accumulators). */
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_wg8_v0k, CONV_WG_T, 3, conv_wg8_v0)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_wg8_v1k, CONV_WG_T, 3, conv_wg8_v1)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_wg16_v0k, CONV_WG_T, 3, conv_wg16_v0)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_wg16_v1k, CONV_WG_T, 3, conv_wg16_v1)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_wg32_v0k, CONV_WG_T, 3, conv_wg32_v0)
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_wg32_v1k, CONV_WG_T, 3, conv_wg32_v1)
/* DIRECT, variant 0: eight blocks per SM in both forms (32 registers, no spills with the 3x3
 * taps unrolled). Latency-bound: the elastic form's loop had taken it to 39-48 registers and
 * five or six blocks per SM where the plain grid ran eight, 20-50% slower per depthwise layer
 * of MobileNet on 16 SMs. */
#ifndef CONV_DIRECT_BLOCKS /* may be set at build time (with CONV_DIRECT_PAIR) to study it */
#define CONV_DIRECT_BLOCKS 8
#endif
MR_ELASTIC_KERNEL_GATED_BOUNDS(mr_conv_direct_t256, 256, CONV_DIRECT_BLOCKS, conv_direct_body)
MR_ELASTIC_KERNEL_GATED(mr_conv_direct_t64, 64, conv_direct_body)

static const mr_cuda_variant conv_gemm_full = {"gemm64x64_t256",
                                               (const void *)mr_conv_gemm_t256_elastic,
                                               (const void *)mr_conv_gemm_t256_plain,
                                               (const void *)mr_conv_gemm_t256_wave,
                                               256,
                                               0};
static const mr_cuda_variant conv_gemm_small = {"gemm64x64_t64",
                                                (const void *)mr_conv_gemm_t64_elastic,
                                                (const void *)mr_conv_gemm_t64_plain,
                                                (const void *)mr_conv_gemm_t64_wave,
                                                64,
                                                0};
static const mr_cuda_variant conv_tc_full = {"tf32_64x64_t256",
                                             (const void *)mr_conv_tc_t256_elastic,
                                             (const void *)mr_conv_tc_t256_plain,
                                             (const void *)mr_conv_tc_t256_wave,
                                             256,
                                             0};
static const mr_cuda_variant conv_tc_small = {"tf32_64x64_t64",
                                              (const void *)mr_conv_tc_t64_elastic,
                                              (const void *)mr_conv_tc_t64_plain,
                                              (const void *)mr_conv_tc_t64_wave,
                                              64,
                                              0};
static const mr_cuda_variant conv_tc1x1_full = {"tf32_1x1_64x64_t256",
                                                (const void *)mr_conv_tc1x1_t256_elastic,
                                                (const void *)mr_conv_tc1x1_t256_plain,
                                                (const void *)mr_conv_tc1x1_t256_wave,
                                                256,
                                                0};
static const mr_cuda_variant conv_tc1x1_small = {"tf32_1x1_64x64_t64",
                                                 (const void *)mr_conv_tc1x1_t64_elastic,
                                                 (const void *)mr_conv_tc1x1_t64_plain,
                                                 (const void *)mr_conv_tc1x1_t64_wave,
                                                 64,
                                                 0};
/* The patch kernels, [tile width 8, 16, 32][variant] */
static const mr_cuda_variant conv_tcp[3][2] = {
    {{"tf32_3x3_tw8_v0", (const void *)mr_conv_tcp8_v0k_elastic,
      (const void *)mr_conv_tcp8_v0k_plain, (const void *)mr_conv_tcp8_v0k_wave, CONV_TCP_T0,
      conv_p_smem(8, CONV_TCP_STAGES, CONV_TCP_T0)},
     {"tf32_3x3_tw8_v1", (const void *)mr_conv_tcp8_v1k_elastic,
      (const void *)mr_conv_tcp8_v1k_plain, (const void *)mr_conv_tcp8_v1k_wave, CONV_TCP_T1,
      conv_p_smem(8, 2, CONV_TCP_T1)}},
    {{"tf32_3x3_tw16_v0", (const void *)mr_conv_tcp16_v0k_elastic,
      (const void *)mr_conv_tcp16_v0k_plain, (const void *)mr_conv_tcp16_v0k_wave, CONV_TCP_T0,
      conv_p_smem(16, CONV_TCP_STAGES, CONV_TCP_T0)},
     {"tf32_3x3_tw16_v1", (const void *)mr_conv_tcp16_v1k_elastic,
      (const void *)mr_conv_tcp16_v1k_plain, (const void *)mr_conv_tcp16_v1k_wave, CONV_TCP_T1,
      conv_p_smem(16, 2, CONV_TCP_T1)}},
    {{"tf32_3x3_tw32_v0", (const void *)mr_conv_tcp32_v0k_elastic,
      (const void *)mr_conv_tcp32_v0k_plain, (const void *)mr_conv_tcp32_v0k_wave, CONV_TCP_T0,
      conv_p_smem(32, CONV_TCP_STAGES, CONV_TCP_T0)},
     {"tf32_3x3_tw32_v1", (const void *)mr_conv_tcp32_v1k_elastic,
      (const void *)mr_conv_tcp32_v1k_plain, (const void *)mr_conv_tcp32_v1k_wave, CONV_TCP_T1,
      conv_p_smem(32, 2, CONV_TCP_T1)}},
};
#define CONV_WG_VARIANT(TW, V, NS)                                                                 \
    {                                                                                              \
        "tf32_3x3_wgmma_tw" #TW "_v" #V, (const void *)mr_conv_wg##TW##_v##V##k_elastic,           \
            (const void *)mr_conv_wg##TW##_v##V##k_plain,                                          \
            (const void *)mr_conv_wg##TW##_v##V##k_wave, CONV_WG_T, conv_wg_smem(TW, NS)           \
    }
static const mr_cuda_variant conv_wg[3][2] = {
    {CONV_WG_VARIANT(8, 0, 3), CONV_WG_VARIANT(8, 1, 2)},
    {CONV_WG_VARIANT(16, 0, 3), CONV_WG_VARIANT(16, 1, 2)},
    {CONV_WG_VARIANT(32, 0, 3), CONV_WG_VARIANT(32, 1, 2)}};
static const mr_cuda_variant conv_direct_full = {"direct_t256",
                                                 (const void *)mr_conv_direct_t256_elastic,
                                                 (const void *)mr_conv_direct_t256_plain,
                                                 (const void *)mr_conv_direct_t256_wave,
                                                 256,
                                                 0};
static const mr_cuda_variant conv_direct_small = {"direct_t64",
                                                  (const void *)mr_conv_direct_t64_elastic,
                                                  (const void *)mr_conv_direct_t64_plain,
                                                  (const void *)mr_conv_direct_t64_wave,
                                                  64,
                                                  0};

/* ------------------------------------------------------------------ host code ---- */

/* The weights [M x K] of a patch convolution (K = Cg * 9, Cg a multiple of CONV_PC) in the order
 * the warpgroup-MMA kernels copy them (conv_wg_tile): per group, channel tile and chunk of
 * CONV_PC input channels, CONV_WG_AFL floats, (tap s, channel half h) blocks of 64 rows x 4
 * channels; rows past the group's Mg are zeros. */
static void conv_wg_pack(const mr_cuda_plan *plan, const float *w, float *out) {
    const conv_cu_params *p = (const conv_cu_params *)(const void *)plan->params;
    const int nch = p->K / CONV_PK;
    float *o = out;
    for (int gi = 0; gi < p->group; gi++)
        for (int mt = 0; mt < p->n_mt; mt++)
            for (int c = 0; c < nch; c++)
                for (int r = 0; r < 18; r++) /* r = 2 s + h */
                    for (int m = 0; m < CONV_TM; m++) {
                        const int row = mt * CONV_TM + m;
                        if (row >= p->Mg) {
                            for (int q = 0; q < 4; q++) *o++ = 0.0f;
                            continue;
                        }
                        const float *src = w + (size_t)(gi * p->Mg + row) * p->K +
                                           (c * CONV_PC + 4 * (r % 2)) * 9 + r / 2;
                        for (int q = 0; q < 4; q++) *o++ = src[9 * q];
                    }
}

static long long conv_phase_blocks(const mr_cuda_plan *plan, int phase) {
    const conv_cu_params *p = (const conv_cu_params *)(const void *)plan->params;
    return phase == 0 ? p->gemm_blocks : p->red_blocks;
}

static int fits_int(long long v) {
    return v >= 0 && v <= INT_MAX;
}

static long long div_up_ll(long long a, long long b) {
    return (a + b - 1) / b;
}

/* Output extent and begin pad of one spatial dimension, as conv_dim in src/ops/conv.c. */
static int conv_dim(long long in, long long k, long long s, long long d, int auto_pad, long long pb,
                    long long pe, long long *out, long long *pad_begin) {
    long long dk = (k - 1) * d + 1;
    if (auto_pad == CONV_PAD_SAME_UPPER || auto_pad == CONV_PAD_SAME_LOWER) {
        long long o = (in + s - 1) / s;
        long long total = (o - 1) * s + dk - in;
        if (total < 0) total = 0;
        *pad_begin = auto_pad == CONV_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *out = o;
        return o >= 1;
    }
    if (auto_pad == CONV_PAD_VALID) pb = pe = 0;
    *pad_begin = pb;
    if (in + pb + pe < dk) return 0;
    *out = (in + pb + pe - dk) / s + 1;
    return 1;
}

static mr_status conv_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                              mr_cuda_plan *plan, mr_err *err) {
    conv_cu_params p;
    memset(&p, 0, sizeof p);
    if (n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0 || n->n_out < 1 || n->out[0] < 0)
        return mr_err_node(err, MR_ERR_GRAPH, n, "needs inputs X and W and an output Y");
    const mr_tensor_desc *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    const mr_tensor_desc *y = &g->tensors[n->out[0]];
    const mr_tensor_desc *b = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    if (x->dtype != MR_DTYPE_F32 || w->dtype != MR_DTYPE_F32 || y->dtype != MR_DTYPE_F32 ||
        (b && b->dtype != MR_DTYPE_F32))
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "only float32 is supported on CUDA");
    if (x->ndim != 3 && x->ndim != 4)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "%d-D convolution is not supported on CUDA; only 1-D and 2-D are",
                           x->ndim - 2);
    if (w->ndim != x->ndim || y->ndim != x->ndim)
        return mr_err_node(err, MR_ERR_SHAPE, n, "X, W and Y must have the same rank");
    const int ns = x->ndim - 2, one_d = ns == 1;

    /* attributes, as conv_init / conv_geometry on the CPU */
    const char *ap;
    int auto_pad;
    MR_TRY(mr_attr_get_string(n, "auto_pad", "NOTSET", &ap, err));
    if (strcmp(ap, "NOTSET") == 0)
        auto_pad = CONV_PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        auto_pad = CONV_PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        auto_pad = CONV_PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0)
        auto_pad = CONV_PAD_VALID;
    else
        return mr_err_attr(err, n, "auto_pad", "unknown value");
    int64_t group, strides[MR_MAX_DIMS], dil[MR_MAX_DIMS], pads[2 * MR_MAX_DIMS];
    int n_strides, n_dil, n_pads;
    MR_TRY(mr_attr_get_int(n, "group", 1, &group, err));
    MR_TRY(mr_attr_get_ints(n, "strides", strides, MR_MAX_DIMS, &n_strides, err));
    MR_TRY(mr_attr_get_ints(n, "dilations", dil, MR_MAX_DIMS, &n_dil, err));
    MR_TRY(mr_attr_get_ints(n, "pads", pads, 2 * MR_MAX_DIMS, &n_pads, err));
    if ((n_strides && n_strides != ns) || (n_dil && n_dil != ns) ||
        (auto_pad == CONV_PAD_NOTSET && n_pads && n_pads != 2 * ns))
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "strides, dilations or pads do not match %d spatial dimensions", ns);
    long long st[2] = {1, 1}, dl[2] = {1, 1}, pb[2] = {0, 0}, pe[2] = {0, 0};
    for (int i = 0; i < ns; i++) {
        int j = one_d ? 1 : i;
        if (n_strides) st[j] = strides[i];
        if (n_dil) dl[j] = dil[i];
        if (n_pads && auto_pad == CONV_PAD_NOTSET) {
            pb[j] = pads[i];
            pe[j] = pads[i + ns];
        }
    }
    for (int i = 0; i < 2; i++)
        if (st[i] < 1 || dl[i] < 1 || pb[i] < 0 || pe[i] < 0 || st[i] > INT_MAX / 4 ||
            dl[i] > INT_MAX / 4 || pb[i] > INT_MAX / 4 || pe[i] > INT_MAX / 4)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                               "strides, dilations or pads out of range");

    long long N = x->dims[0], C = x->dims[1], H = one_d ? 1 : x->dims[2], W = x->dims[x->ndim - 1];
    long long M = w->dims[0], Cg = w->dims[1], KH = one_d ? 1 : w->dims[2];
    long long KW = w->dims[w->ndim - 1];
    if (group < 1 || Cg * group != C || M % group != 0 || KH < 1 || KW < 1)
        return mr_err_node(err, MR_ERR_SHAPE, n, "W does not match X and group %lld",
                           (long long)group);
    if (b && (b->ndim != 1 || b->dims[0] != M))
        return mr_err_node(err, MR_ERR_SHAPE, n, "bias B must be [%lld]", M);
    long long in[2] = {H, W}, k[2] = {KH, KW}, o[2], pad0[2];
    for (int i = 0; i < 2; i++)
        if (!conv_dim(in[i], k[i], st[i], dl[i], one_d && i == 0 ? CONV_PAD_NOTSET : auto_pad,
                      pb[i], pe[i], &o[i], &pad0[i]))
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "the kernel (dilations applied) does not fit in the padded input");
    long long OH = o[0], OW = o[1];
    if (y->dims[0] != N || y->dims[1] != M || (!one_d && y->dims[2] != OH) ||
        y->dims[y->ndim - 1] != OW)
        return mr_err_node(err, MR_ERR_INTERNAL, n,
                           "the inferred output shape disagrees with the CUDA geometry");

    /* 32-bit index math inside an image: check every extent and product it uses. */
    long long HW = H * W, P = OH * OW, K = Cg * KH * KW;
    if (!fits_int(N) || !fits_int(C * HW) || !fits_int(M * P) || !fits_int(M * K) ||
        !fits_int((OH - 1) * st[0] + (KH - 1) * dl[0] + 1) ||
        !fits_int((OW - 1) * st[1] + (KW - 1) * dl[1] + 1) || !fits_int(H + pad0[0]) ||
        !fits_int(W + pad0[1]) || KH > INT_MAX / 4 || KW > INT_MAX / 4)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the convolution is too large for the CUDA kernel (32-bit indices "
                           "within an image)");
    p.N = (int)N;
    p.C = (int)C;
    p.H = (int)H;
    p.W = (int)W;
    p.M = (int)M;
    p.OH = (int)OH;
    p.OW = (int)OW;
    p.KH = (int)KH;
    p.KW = (int)KW;
    p.sh = (int)st[0];
    p.sw = (int)st[1];
    p.dh = (int)dl[0];
    p.dw = (int)dl[1];
    p.pt = (int)pad0[0];
    p.pl = (int)pad0[1];
    p.group = (int)group;
    p.Cg = (int)Cg;
    p.Mg = (int)(M / group);
    p.K = (int)K;
    p.P = (int)P;
    p.HW = (int)HW;
    p.act = n->act;
    p.total = N * M * P;
    if (N > 0 && M * P > 0 && p.total / N != M * P)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the convolution is too large");

    plan->n_phases = 1;
    plan->n_variants = 2;
    plan->workspace_bytes = 0;
    plan->phase_blocks = NULL;
    if (p.Cg == 1) {
        /* DIRECT: whole output rows; several channels per block when a plane is small. */
        p.kernel = CONV_K_DIRECT;
        /* one output per thread of variant 0 where the layer is too small to fill the SMs */
        const long long outs = mr_cuda_spread_chunk(p.total, CONV_DIRECT_OUTS, 256, cfg->sms);
        if (P >= outs || P == 0) {
            p.cb = 1;
            p.rb = OW > 0 ? (int)(outs / OW) : 1;
            if (p.rb < 1) p.rb = 1;
            if (p.rb > p.OH) p.rb = p.OH > 0 ? p.OH : 1;
        } else {
            p.rb = p.OH;
            p.cb = (int)(outs / P);
            if (p.cb > p.M) p.cb = p.M;
            if (p.cb < 1) p.cb = 1;
        }
        /* a block's outputs are counted in an int, and the kernel's block and element
         * arithmetic is 32-bit (conv_direct_body) */
        if ((long long)p.cb * p.rb * OW > INT_MAX)
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "output rows too long for CUDA");
        if (p.total > INT_MAX || N * C * HW > INT_MAX) /* C * HW fits, checked above */
            return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                               "a grouped convolution of 2^31 or more input or output elements "
                               "over all its images is not supported on CUDA");
        p.n_cb = (int)div_up_ll(M, p.cb);
        p.n_rb = (int)div_up_ll(OH, p.rb);
        plan->n_blocks = p.total > 0 ? N * p.n_cb * p.n_rb : 0;
        plan->variants[0] = &conv_direct_full;
        plan->variants[1] = &conv_direct_small;
        return mr_cuda_set_params(plan, &p, sizeof p, n, err);
    }

    /* GEMM: float32 SIMT tiles, or TF32 tensor cores. The same 64 x 64 tiles; only the
     * slicing of K differs (a tensor-core block does a k in less time, see CONV_TC_KSLICE_MAX).
     * The tensor-core loaders form a few more 32-bit offsets than the SIMT ones (a weight row
     * of a tile's unused rows, a chunk past K, the generic gather's table): a geometry where
     * they would not fit in an int (far past any real network) keeps the float32 kernel. */
    /* The tensor-core kernels read the weights as TF32 values, rounded once when the backend
     * uploads them (plan->tf32_inputs): weights computed at run time keep the float32 kernel. */
    int tc = cfg->precision == MR_PRECISION_TF32 && g->tensors[n->in[1]].data != NULL &&
             fits_int(CONV_TM * K + CONV_TC_KSLICE_UNIT);
    if (tc) {
        p.a_vec = K % 4 == 0;
        p.b_mode = CONV_B_GENERIC;
        if (KH == 1 && KW == 1 && st[0] == 1 && st[1] == 1 && pad0[0] == 0 && pad0[1] == 0 &&
            OH == H && OW == W && fits_int((Cg + CONV_TC_KSLICE_UNIT) * HW + CONV_TP)) {
            p.b_mode = CONV_B_1X1;
            p.b_vec = HW % 4 == 0;
        } else if (KH == 3 && KW == 3 && st[0] == 1 && st[1] == 1 && dl[0] == 1 && dl[1] == 1 &&
                   Cg % CONV_PC == 0 && fits_int(C * HW + 2 * W + 2)) {
            /* the patch kernel: whole chunks of CONV_PC channels (K % CONV_PK == 0); tiles
             * of 8 x 8 or 4 x 16 positions, whichever covers fewer outside the output */
            p.b_mode = CONV_B_PATCH;
            long long best = LLONG_MAX;
            for (int tw = 8; tw <= 32; tw *= 2) {
                const long long c = div_up_ll(OH, conv_p_th(tw)) * div_up_ll(OW, tw);
                if (c * CONV_TPP < best) best = c * CONV_TPP, p.tw = tw;
            }
        } else {
            /* conv_tc_ktab's offsets (<= kx) plus a position's (|.| <= px), and the -2^30
             * sentinels must stay out of bounds */
            long long kx = (Cg - 1) * HW + (KH - 1) * dl[0] * W + (KW - 1) * dl[1];
            long long px = ((OH - 1) * st[0] + pad0[0]) * W + (OW - 1) * st[1] + pad0[1];
            tc = (KH - 1) * dl[0] < (1 << 29) && (OH - 1) * st[0] < (1 << 29) && fits_int(kx + px);
        }
    }
    const int patch = tc && p.b_mode == CONV_B_PATCH;
    /* the warpgroup-MMA form where the device runs it (its tiles are the 128-position ones) */
    const int wg = patch && cfg->wgmma && CONV_TPP == 128;
    const long long ks_max = wg      ? CONV_WG_KSLICE_MAX
                             : patch ? CONV_TCP_KSLICE_MAX
                             : tc    ? CONV_TC_KSLICE_MAX
                                     : CONV_KSLICE_MAX;
    long long min_blocks = CONV_MIN_BLOCKS;
    if (cfg->sms > 0 && (long long)CONV_MIN_BLOCKS_PER_SM * cfg->sms < min_blocks)
        min_blocks = (long long)CONV_MIN_BLOCKS_PER_SM * cfg->sms;
    const long long ks_min = patch ? 2 * CONV_PK : tc ? CONV_TC_KSLICE_MIN : CONV_KSLICE_MIN;
    const long long ks_fill = patch ? CONV_PK : tc ? CONV_TC_KSLICE_FILL : CONV_KSLICE_FILL;
    const long long ks_unit = patch ? CONV_PK : tc ? CONV_TC_KSLICE_UNIT : 16;
    p.kernel = tc ? CONV_K_TC : CONV_K_GEMM;
    p.n_mt = (int)div_up_ll(p.Mg, CONV_TM);
    if (patch) {
        p.n_px = (int)div_up_ll(OW, p.tw);
        p.n_pt = (int)(div_up_ll(OH, conv_p_th(p.tw)) * p.n_px);
    } else {
        p.n_pt = (int)div_up_ll(P, CONV_TP);
    }
    long long base = N * group * p.n_mt * p.n_pt;
    long long S = 1;
    if (K > 0 && base > 0) {
        S = div_up_ll(K, ks_max);
        if (base * S < min_blocks) {
            long long want = div_up_ll(min_blocks, base);
            long long most = K / ks_min;
            if (want > most) want = most;
            if (want > S) S = want;
        }
        if (cfg->sms > 0 && base * S < cfg->sms) {
            long long want = div_up_ll(cfg->sms, base);
            long long most = K / ks_fill;
            if (want > most) want = most;
            if (want > S) S = want;
        }
        /* the partial sums of every slice must fit the workspace: fewer, longer slices
         * otherwise (longer logical blocks, never an error; see CONV_WS_MAX) */
        long long most_ws = CONV_WS_MAX / ((long long)sizeof(float) * p.total);
        if (S > most_ws) S = most_ws;
        if (S < 1) S = 1;
    }
    /* slices are whole chunks (a multiple of both variants' BK) */
    long long ks = div_up_ll(K > 0 ? K : 1, S);
    ks = div_up_ll(ks, ks_unit) * ks_unit;
    S = K > 0 ? div_up_ll(K, ks) : 1;
    if (!fits_int(ks + K)) return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "K is too large");
    p.kslice = (int)ks;
    p.splits = (int)S;
    p.gemm_blocks = p.total > 0 ? base * S : 0;
    if (!tc) {
        plan->variants[0] = &conv_gemm_full;
        plan->variants[1] = &conv_gemm_small;
    } else if (p.b_mode == CONV_B_1X1) {
        plan->variants[0] = &conv_tc1x1_full;
        plan->variants[1] = &conv_tc1x1_small;
    } else if (p.b_mode == CONV_B_PATCH) {
        const int twi = p.tw == 8 ? 0 : p.tw == 16 ? 1 : 2;
        /* the warpgroup-MMA form reads the weights repacked by conv_wg_pack */
        plan->variants[0] = wg ? &conv_wg[twi][0] : &conv_tcp[twi][0];
        plan->variants[1] = wg ? &conv_wg[twi][1] : &conv_tcp[twi][1];
        if (wg) {
            plan->pack = conv_wg_pack;
            plan->pack_input = 1;
            plan->pack_floats = (size_t)group * (size_t)p.n_mt * CONV_TM * (size_t)K;
        }
        cudaError_t e = cudaSuccess;
        for (int v = 0; v < 2 && e == cudaSuccess; v++) e = mr_cuda_smem_attr(plan->variants[v]);
        if (e != cudaSuccess) {
            cudaGetLastError();
            return mr_err_node(err, MR_ERR_BACKEND, n,
                               "setting up the convolution kernel's shared memory: %s",
                               cudaGetErrorString(e));
        }
    } else {
        plan->variants[0] = &conv_tc_full;
        plan->variants[1] = &conv_tc_small;
    }
    if (tc) plan->tf32_inputs = 1u << 1; /* W */
    if (S > 1) {
        long long rc = CONV_RED_LOADS / S / CONV_RED_CHUNK_MIN * CONV_RED_CHUNK_MIN;
        if (rc > CONV_RED_CHUNK_MAX) rc = CONV_RED_CHUNK_MAX;
        if (rc < CONV_RED_CHUNK_MIN) rc = CONV_RED_CHUNK_MIN;
        /* A small layer's reduction would be a block or two whose threads each go through
         * a dozen outputs (SqueezeNet's 48 x 13 x 13: two blocks, 16 outputs per thread one
         * after the other, ~12 us): one pass of 256 outputs per block at least instead. */
        rc = mr_cuda_spread_chunk(p.total, rc, 256, cfg->sms);
        p.red_chunk = (int)rc;
        p.red_blocks = div_up_ll(p.total, rc);
        p.red_vec = p.P % 4 == 0; /* red_chunk, a multiple of 64, keeps float4 boundaries */
        p.red_i32 = p.total < 0x7fffffffLL;
        plan->n_phases = 2;
        plan->phase_blocks = conv_phase_blocks;
        plan->workspace_bytes = (size_t)S * (size_t)p.total * sizeof(float);
    }
    plan->n_blocks = p.gemm_blocks;
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

MR_CUDA_OP(mr_cuda_op_conv, "Conv", conv_prepare);
