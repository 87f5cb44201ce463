/* LSTM and GRU as multi-phase elastic kernels (same semantics as src/ops/rnn.c: ONNX gate
 * orders i,o,f,c (LSTM) and z,r,h (GRU), layouts 0/1, forward/reverse/bidirectional, optional
 * B, initial_h, initial_c, P, optional outputs Y, Y_h, Y_c, GRU linear_before_reset 0/1,
 * default activations only; unsupported attributes are refused by the CPU op's init).
 *
 * Phases, as on the CPU:
 *   phase 0   input projection xw[d] = X * W[d]^T + biases for every time step and direction
 *             (the tiled SGEMM of gemm_tile.cuh); logical block = (direction, 64-row tile of
 *             the S*B rows, 64-column tile of the G*H gate columns).
 *   1..       the recurrence, one phase per time step of every direction (two for GRU with
 *             linear_before_reset = 0: phase A computes z and r (.) h_{t-1} of every unit,
 *             which phase B's R_h * (r (.) h_{t-1}) needs for all units). Logical block =
 *             (direction, tile of ht hidden units): each warp computes dot products of one
 *             gate row of R[d] with h_{t-1} of up to 4 batch entries (lanes stride over H, so
 *             R's rows and h are read coalesced), the sums meet in shared memory, then the
 *             block's threads apply the gate math to (unit, batch) pairs and write h_t, c_t
 *             and the Y / Y_h / Y_c entries of their units.
 *
 * Workspace (floats, sections 128-byte aligned): xw [D][S*B][G*H]; h [2][D][B][H]
 * (double-buffered: step k reads h_{k-1} of every unit and writes h_k of its own); aux [2]
 * [D][B][H]: LSTM's c, also double-buffered, or GRU lbr=0's z and r (.) h_{t-1}. A phase only
 * reads what earlier phases wrote and never updates in place, and step 0 reads initial_h /
 * initial_c (or zeros) instead of the buffers, so the workspace needs no initialisation.
 * The persistent recurrence adds its sync words and the fused step's tagged h_t, which its
 * projection phase zeroes (rnn_pstep).
 *
 * Under MR_PRECISION_TF32 the input projections (phase 0, and a stack's phase 2) run
 * gemm_tile.cuh's TF32 tensor-core tile, as Gemm and MatMul do: with the persistent
 * recurrence they were 15% of a 2-layer LSTM's time on 16 SMs in float32 (docs/KERNEL_NOTES.md,
 * 20). The recurrence (a batch-1 GEMV per step, latency bound) stays float32 in both.
 *
 * The persistent recurrence (rnn_pstep, below) replaces phases 1.. with one phase for every
 * step, in kernels of its own: a generic step, and a fused one for batch 1 (rnn_fdot).
 *
 * Variants: 0 = 256 threads (tile 4x4 outputs per thread in phase 0), 1 = 64 threads (8x8).
 * Each dot product and each tile element is accumulated in the same order in every variant
 * and path, so the results are bit-identical whichever variant runs a block.
 */
#include <math.h>
#if defined(RNN_TRACE) || defined(RNN_TIMELINE)
#include <stdio.h>
#endif

#include "cuda/gemm_tile.cuh"

extern "C" {
#include "core/alloc.h"
#include "ops/rnn.h"
}

enum { IN_X, IN_W, IN_R, IN_B, IN_SEQ, IN_H0, IN_C0, IN_P };
enum { OUT_Y, OUT_YH, OUT_YC };

#define RNN_HT_MAX 32 /* hidden units per recurrent block, at most */
#define RNN_BC     4  /* batch entries per dot-product pass */
#define RNN_ROWS   4  /* rows of R per warp pass (one batch entry; warp_sum4 assumes 4) */
/* The staged variant's dynamic shared memory: the first rows of a batch-1 step's R tile are
 * copied there with cp.async (see rnn_step). 64 KiB: two 256-thread blocks per SM still fit
 * (the registers allow two). */
#define RNN_STAGE_BYTES (64 * 1024)
/* The fused persistent step reads h_{t-1} by its tags (rnn_tagged_wait); may be set to 0 at
 * build time to measure the count and h_{t-1} from L2 instead. */
#ifndef RNN_TAGGED
#define RNN_TAGGED 1
#endif

typedef struct rnn_k_params {
    int gru, G, dirs, first_rev, layout, lbr, pps;
    long long S, B, NI, H;
    long long ht, n_ht;           /* recurrent tiles: units per block, blocks per direction */
    long long n_pr, n_pc;         /* projection tiles per direction: rows, gate columns */
    long long off_h[2], off_a[2]; /* workspace offsets (floats); xw is at 0 */
    long long off_sync;           /* persistent recurrence: its sync words (rnn_pstep) */
    long long n_tiles;            /* persistent recurrence: tiles of a (virtual) step */
    long long vsteps;             /* persistent recurrence: virtual steps */
    /* two stacked layers (ops/rnn.h; rnn_pstep): layer 1's h and c buffers (layer 0's are
     * off_h, off_a); its inputs are in slots MR_RNN_STACK_IN.. */
    long long off_h1[2], off_a1[2];
    long long off_y0;    /* layer 0's Y ([S][H]), layer 1's x */
    long long off_xw1;   /* not pipelined: layer 1's xw, from phase 2 */
    long long off_sync1; /* not pipelined: phase 3's sync words */
    int persist;         /* 1: phase 1 is the persistent recurrence of every step */
    int stack;           /* 1: two stacked layers */
    int pipe; /* stack: 1: both layers in phase 1 (rnn_pstep); 0: phases 2 and 3 are layer
                 1's projection and recurrence */
    int tf32; /* 1: the projections on TF32 tensor cores, the activations approximated (act_sigm) */
    int pad_;
    /* The fused persistent step, not pipelined (rnn_pstep): per layer, h_t of every unit
     * with its step's tag, [2][D][H] 64-bit words (0: none). */
    long long off_ht[2];
} rnn_k_params;

static __device__ __forceinline__ float sigm(float v) {
    return 1.0f / (1.0f + expf(-v));
}
/* The gate activations. Under TF32 (rnn_k_params.tf32) from the special function unit's
 * approximations: sigmoid as 1 / (1 + 2^(-v log2 e)) and tanh as 2 sigmoid(2 v) - 1, each a
 * chain of four dependent instructions (ex2.approx and rcp.approx, ~2 ulp each: ~1e-7 absolute
 * error, far below the 2^-11 relative error TF32 puts into the projections' sums), instead of
 * expf's range reduction and an IEEE division (sigmoid) or tanhf's ~20 instructions. They are
 * on the recurrence's chain from h_{t-1} to h_t (docs/KERNEL_NOTES.md, 23). Float32 keeps
 * expf and tanhf, within TOL_RNN of the CPU's libm. RNN_FAST_ACT 0 (a study build) keeps them
 * under TF32 too. */
#ifndef RNN_FAST_ACT
#define RNN_FAST_ACT 1
#endif
static __device__ __forceinline__ float ex2_approx(float v) {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
    return r;
}
static __device__ __forceinline__ float rcp_approx(float v) {
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
    return r;
}
static __device__ __forceinline__ float act_sigm(float v, int fast) {
    return RNN_FAST_ACT && fast ? rcp_approx(1.0f + ex2_approx(v * -1.44269504f)) : sigm(v);
}
static __device__ __forceinline__ float act_tanh(float v, int fast) {
    return RNN_FAST_ACT && fast ? fmaf(2.0f, rcp_approx(1.0f + ex2_approx(v * -2.88539008f)), -1.0f)
                                : tanhf(v);
}

/* Phase 0 */
/* Shared memory of the projection's tile: float32 or TF32 (rnn_k_params.tf32). */
typedef union rnn_proj_smem {
    mr_gt_smem f;
    mr_gtc_smem c;
} rnn_proj_smem;

static __device__ __forceinline__ void rnn_proj(const mr_cuda_args *a, const rnn_k_params *p,
                                                long long j, int TM, int T, rnn_proj_smem *s,
                                                int layer) {
    const long long H = p->H, GH = p->G * H, NI = layer ? H : p->NI, SB = p->S * p->B;
    const long long per_dir = p->n_pr * p->n_pc;
    const long long d = j / per_dir, rt = (j % per_dir) / p->n_pc, ct = j % p->n_pc;
    const int in0 = layer * MR_RNN_STACK_IN;
    const float *X = layer ? (const float *)a->workspace + p->off_y0 : (const float *)a->in[IN_X];
    const float *W = (const float *)a->in[in0 + IN_W] + d * GH * NI;
    const float *Bv = (const float *)a->in[in0 + IN_B];
    float *xw = (float *)a->workspace + (layer ? p->off_xw1 : 0) + d * SB * GH;
    const long long m0 = rt * MR_GT_TILE, n0 = ct * MR_GT_TILE;
    float acc[MR_GT_MAXM][MR_GT_MAXM];
    /* The persistent recurrence's sync words start at zero in every run: this phase runs
     * before it, and its block 0 exactly once. */
    if (p->persist && j == 0) {
        for (long long i = threadIdx.x; i < 2 + p->n_tiles; i += T)
            ((unsigned *)a->workspace + (layer ? p->off_sync1 : p->off_sync))[i] = 0u;
        /* tag 0: no step's h_t (the tags of a step are k + 1) */
        if (p->off_ht[layer])
            for (long long i = threadIdx.x; i < 2 * p->dirs * p->H; i += T)
                ((unsigned long long *)((float *)a->workspace + p->off_ht[layer]))[i] = 0ull;
    }
    /* xw = X [SB][NI] times W[d]^T: element (k, col) of the right operand is W[d][col][k]. */
    const int tc = p->tf32;
    if (tc)
        mr_gt_tile_tf32(X, NI, 1, W, 1, NI, SB, GH, NI, m0, n0, TM, T, &s->c, acc);
    else
        mr_gt_tile(X, NI, 1, W, 1, NI, SB, GH, NI, m0, n0, TM, T, &s->f, acc);
#pragma unroll
    for (int jj = 0; jj < TM; jj++) {
        const int tcol = tc ? mr_gtc_col(jj, threadIdx.x, TM) : mr_gt_col(jj, threadIdx.x, TM);
        long long col = n0 + tcol;
        if (col >= GH) continue;
        /* Wb and Rb folded in, except GRU's Rb_h with linear_before_reset, which is applied
         * inside r (.) (...) at each step. */
        float bias = 0.0f;
        if (Bv) {
            bias = Bv[d * 2 * GH + col];
            if (!(p->gru && p->lbr && col >= 2 * H)) bias += Bv[d * 2 * GH + GH + col];
        }
#pragma unroll
        for (int i = 0; i < TM; i++) {
            const int trow = tc ? mr_gtc_row(i, threadIdx.x, TM) : mr_gt_row(i, threadIdx.x, TM);
            long long row = m0 + trow;
            if (row < SB) xw[row * GH + col] = acc[i][jj] + bias;
        }
    }
}

/* Where step k (sub-phase sub for GRU lbr=0) of the (direction, unit tile) block j reads and
 * writes. */
typedef struct rnn_ctx {
    long long d, u0, k, t, ldh, ldv, xrow0, xrow_b;
    int nu, sub, ng, g0;
    int layer;        /* 1: layer 1 of a stack (its inputs in slots MR_RNN_STACK_IN..) */
    const float *Wd;  /* layer 1 of a stack: its W, whose rows multiply xv */
    const float *xv;  /* layer 1 of a stack: x_t, layer 0's h_t */
    const float *hp;  /* h_{t-1}, [B][ldh]; NULL = zeros (step 0 without initial_h) */
    const float *vec; /* what R's rows multiply: hp, or (GRU lbr=0 phase B) r (.) h_{t-1} */
    const float *xw, *Rd, *aux_prev;
    float *hn, *aux_cur, *aux0, *aux1;
} rnn_ctx;

static __device__ __forceinline__ void rnn_ctx_init(rnn_ctx *c, const mr_cuda_args *a,
                                                    const rnn_k_params *p, long long k, int sub,
                                                    long long j, int layer) {
    const long long S = p->S, B = p->B, H = p->H, D = p->dirs, GH = p->G * H;
    const int in0 = layer * MR_RNN_STACK_IN;
    const long long *oh = layer ? p->off_h1 : p->off_h, *oa = layer ? p->off_a1 : p->off_a;
    /* tile counts fit int (rnn_prepare); one direction needs no division */
    const int d = p->dirs == 1 ? 0 : (int)j / (int)p->n_ht;
    float *ws = (float *)a->workspace;
    c->d = d;
    c->u0 = (long long)((int)j - d * (int)p->n_ht) * p->ht;
    c->nu = (int)(H - c->u0 < p->ht ? H - c->u0 : p->ht);
    c->k = k;
    c->sub = sub;
    c->t = (p->dirs == 2 ? d == 1 : p->first_rev) ? S - 1 - k : k;
    /* h_{t-1}: initial_h ([D][B][H] or, layout 1, [B][D][H]) at step 0, NULL = zeros */
    if (k == 0) {
        const float *h0 = (const float *)a->in[in0 + IN_H0];
        c->hp = h0 ? h0 + (p->layout ? d * H : d * B * H) : NULL;
        c->ldh = p->layout ? D * H : H;
    } else {
        c->hp = ws + oh[(k - 1) & 1] + d * B * H;
        c->ldh = H;
    }
    c->hn = ws + oh[k & 1] + d * B * H;
    c->layer = layer;
    c->Wd = layer ? (const float *)a->in[in0 + IN_W] : NULL;
    c->xv = layer ? ws + p->off_y0 + k * H : NULL;
    /* xw row of (t, batch b): X's row order, [S][B] or (layout 1) [B][S] */
    c->xw = ws + (layer ? p->off_xw1 : 0) + d * S * B * GH;
    c->xrow0 = p->layout ? c->t : c->t * B;
    c->xrow_b = p->layout ? S : 1;
    c->Rd = (const float *)a->in[in0 + IN_R] + d * GH * H;
    c->aux_prev = k > 0 ? ws + oa[(k - 1) & 1] + d * B * H : NULL;
    c->aux_cur = ws + oa[k & 1] + d * B * H;
    c->aux0 = ws + oa[0] + d * B * H;
    c->aux1 = ws + oa[1] + d * B * H;
    /* Rows of R this phase multiplies, and by what. */
    c->ng = p->G;
    c->g0 = 0;
    c->vec = c->hp;
    c->ldv = c->ldh;
    if (p->gru && !p->lbr) {
        if (sub == 0) {
            c->ng = 2; /* z, r */
        } else {
            c->ng = 1, c->g0 = 2; /* R_h * (r (.) h_{t-1}), every unit's from phase A */
            c->vec = c->aux1;
            c->ldv = H;
        }
    }
}

/* What the gate math of one (unit, batch entry) reads besides the R * h sums: the input
 * projection of its gates (x[g] for g < G), h_{t-1} and the cell input (LSTM c_{t-1}; GRU
 * linear_before_reset = 0, phase B: z from phase A). */
typedef struct rnn_gate_in {
    float x[4], hprev, cprev;
} rnn_gate_in;

/* The gate inputs of pair `it` of batch chunk b0 (it = batch entry * nu + unit). What earlier
 * steps wrote is read past L1 (__ldcg): in the persistent recurrence another SM wrote it
 * during this launch, and a line of the same buffer two steps ago may still be in L1. */
static __device__ __forceinline__ void rnn_gate_load(const rnn_ctx *c, const mr_cuda_args *a,
                                                     const rnn_k_params *p, long long b0, int it,
                                                     rnn_gate_in *g) {
    const long long H = p->H, b = b0 + it / c->nu, u = c->u0 + it % c->nu;
    const float *x = c->xw + (c->xrow0 + b * c->xrow_b) * p->G * H + u;
#pragma unroll
    for (int gg = 0; gg < 4; gg++) g->x[gg] = gg < p->G ? x[gg * H] : 0.0f;
    g->hprev = c->hp ? __ldcg(c->hp + b * c->ldh + u) : 0.0f;
    g->cprev = 0.0f;
    if (!p->gru) {
        const float *C0 = (const float *)a->in[IN_C0];
        const long long io = (p->layout ? b * p->dirs + c->d : c->d * p->B + b) * H + u;
        g->cprev = c->k > 0 ? __ldcg(c->aux_prev + b * H + u) : (C0 ? C0[io] : 0.0f);
    } else if (!p->lbr && c->sub == 1) {
        g->cprev = __ldcg(c->aux0 + b * H + u);
    }
}

/* The cells' arithmetic, shared by every step (so every path gives the same bits). LSTM:
 * h_t from the gates' pre-activations (input, output, forget, cell; peepholes pi, po, pf
 * where has_p) and c_{t-1}; c_t in *cn. */
static __device__ __forceinline__ float rnn_lstm_cell(float gi, float go, float gf, float gc,
                                                      float cp, int has_p, float pi, float po,
                                                      float pf, float *cn, int fast) {
    if (has_p) {
        gi += pi * cp;
        gf += pf * cp;
    }
    const float c = act_sigm(gf, fast) * cp + act_sigm(gi, fast) * act_tanh(gc, fast);
    if (has_p) go += po * c;
    *cn = c;
    return act_sigm(go, fast) * act_tanh(c, fast);
}
/* GRU with linear_before_reset: h_t from the gates' pre-activations (z, r), the hidden gate's
 * input projection xh and its R_h * h_{t-1} + Rb_h (lin). */
static __device__ __forceinline__ float rnn_gru_lbr_cell(float gz, float gr, float xh, float lin,
                                                         float hprev, int fast) {
    const float z = act_sigm(gz, fast), r = act_sigm(gr, fast);
    const float hh = act_tanh(xh + r * lin, fast);
    return (1.0f - z) * hh + z * hprev;
}

/* The gate math of pair `it` of batch chunk b0, from its inputs and the R * vec sums in gs
 * ([gate * nu + unit][batch]): writes h_t (and c_t, Y, Y_h, Y_c), or GRU lbr=0 phase A's z and
 * r (.) h_{t-1}. The activations are act_sigm's, TF32's where rnn_k_params.tf32 (the fused step
 * has that as a literal of its kernel, rnn_fgate_apply). */
static __device__ __forceinline__ void rnn_gate_apply(const rnn_ctx *c, const mr_cuda_args *a,
                                                      const rnn_k_params *p, long long b0, int it,
                                                      const rnn_gate_in *in, const float *gs) {
    const int fast = p->tf32;
    const long long S = p->S, B = p->B, H = p->H, D = p->dirs, d = c->d;
    const int i = it % c->nu, bb = it / c->nu;
    const long long b = b0 + bb, u = c->u0 + i;
    const float *x = in->x;
    const int GS = c->nu * RNN_BC;          /* gate stride in the sums */
    const float *sg = gs + i * RNN_BC + bb; /* gate g's sum is sg[g * GS] */
    const float hprev = in->hprev;
    const long long io = (p->layout ? b * D + d : d * B + b) * H + u; /* Y_h, Y_c, init */
    const float *Bv = (const float *)a->in[IN_B];
    float h, cn = 0.0f;
    if (!p->gru) {
        const float *P = (const float *)a->in[IN_P];
        if (P) P += d * 3 * H;
        h = rnn_lstm_cell(x[0] + sg[0], x[1] + sg[GS], x[2] + sg[2 * GS], x[3] + sg[3 * GS],
                          in->cprev, P != NULL, P ? P[u] : 0.0f, P ? P[H + u] : 0.0f,
                          P ? P[2 * H + u] : 0.0f, &cn, fast);
        c->aux_cur[b * H + u] = cn;
    } else if (p->lbr) {
        h = rnn_gru_lbr_cell(x[0] + sg[0], x[1] + sg[GS], x[2],
                             sg[2 * GS] + (Bv ? Bv[d * 6 * H + 5 * H + u] : 0.0f), hprev, fast);
    } else if (c->sub == 0) {
        c->aux0[b * H + u] = act_sigm(x[0] + sg[0], fast);
        c->aux1[b * H + u] = act_sigm(x[1] + sg[GS], fast) * hprev;
        return; /* h_t comes in phase B */
    } else {
        float z = in->cprev, hh = act_tanh(x[2] + sg[0], fast);
        h = (1.0f - z) * hh + z * hprev;
    }
    c->hn[b * H + u] = h;
    float *Y = (float *)a->out[OUT_Y], *Yh = (float *)a->out[OUT_YH];
    float *Yc = p->gru ? NULL : (float *)a->out[OUT_YC];
    const long long t = c->t;
    if (Y) Y[(p->layout ? (b * S + t) * D + d : (t * D + d) * B + b) * H + u] = h;
    if (c->k == S - 1) {
        if (Yh) Yh[io] = h;
        if (Yc) Yc[io] = cn;
    }
}

/* acc + r . x, in the x, y, z, w order every path of a step uses, so that a row's sum has the
 * same bits whichever path, variant or grouping computes it. */
static __device__ __forceinline__ float dot4_acc(float acc, float4 r, float4 x) {
    acc = fmaf(r.x, x.x, acc);
    acc = fmaf(r.y, x.y, acc);
    acc = fmaf(r.z, x.z, acc);
    return fmaf(r.w, x.w, acc);
}

static __device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* The sums of several rows' partial sums over a warp, with fewer shuffles than warp_sum per
 * row (the shuffles and their dependent latencies are on the fused step's chain from h_{t-1}
 * to h_t; docs/KERNEL_NOTES.md, 21): the first steps of the butterfly exchange half of the rows
 * each, so that every lane adds the rows it keeps; the rest is warp_sum's. Every row's sum is added
 * in warp_sum's order (lane l: own + partner's, over lane bits 4, 3, ..., 0), so the bits are the
 * same. warp_sum4: rows a[0..3], 6 shuffles (20 with warp_sum); the lane holds row 2 b4 + b3 (b4,
 * b3: bits 4 and 3 of its lane). warp_sum2: 5 shuffles (10); the lane holds row b4. */
static_assert(RNN_ROWS == 4, "rnn_fdot_rows sums its rows with warp_sum4");
static __device__ __forceinline__ float warp_sum4(const float a[4]) {
    const int lane = threadIdx.x & 31, h = lane >> 4 & 1, q = lane >> 3 & 1;
    const float r0 = __shfl_xor_sync(0xffffffffu, h ? a[0] : a[2], 16);
    const float r1 = __shfl_xor_sync(0xffffffffu, h ? a[1] : a[3], 16);
    const float b0 = (h ? a[2] : a[0]) + r0, b1 = (h ? a[3] : a[1]) + r1;
    float v = (q ? b1 : b0) + __shfl_xor_sync(0xffffffffu, q ? b0 : b1, 8);
    for (int o = 4; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
static __device__ __forceinline__ float warp_sum2(float a0, float a1) {
    const int h = (threadIdx.x & 31) >> 4 & 1;
    float v = (h ? a1 : a0) + __shfl_xor_sync(0xffffffffu, h ? a0 : a1, 16);
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Batch-1 row `it` of a step (gate it / nu, unit it % nu): the warp's partial sums meet and
 * lane 0 writes the row's R * h into the shared sums. All lanes of the warp call it. */
static __device__ __forceinline__ void put_row_sum(float *gs, int it, float acc) {
    const float sum = warp_sum(acc);
    if ((threadIdx.x & 31) == 0) gs[it * RNN_BC] = sum;
}

/* The gate math of batch chunk b0 (nbt entries), after the sums are in gs: one (unit, batch
 * entry) per thread; `pre` holds the thread's first pair's inputs, loaded earlier. */
static __device__ __forceinline__ void rnn_gates(const rnn_ctx *c, const mr_cuda_args *a,
                                                 const rnn_k_params *p, long long b0, int nbt,
                                                 const rnn_gate_in *pre, const float *gs, int T) {
    for (int it = threadIdx.x; it < c->nu * nbt; it += T) {
        rnn_gate_in in;
        if (it == (int)threadIdx.x)
            in = *pre;
        else
            rnn_gate_load(c, a, p, b0, it, &in);
        rnn_gate_apply(c, a, p, b0, it, &in, gs);
    }
}

/* Phases 1..: step k (sub-phase sub for GRU lbr=0) of the (direction, unit tile) block j. */
static __device__ __forceinline__ void rnn_step(const mr_cuda_args *a, const rnn_k_params *p,
                                                long long k, int sub, long long j, int T,
                                                int STAGED, float *gs) {
    const long long B = p->B, H = p->H;
    rnn_ctx c;
    rnn_ctx_init(&c, a, p, k, sub, j, 0);
    const int nu = c.nu, ng = c.ng, g0 = c.g0;
    const long long u0 = c.u0, ldv = c.ldv;
    const float *vec = c.vec, *Rd = c.Rd;
    /* Zero initial state: R * 0 = 0 (and r (.) 0 = 0); skipped like on the CPU. */
    const int do_dot = c.hp != NULL;
    /* float4 path: rows of R and of the vector 16-byte aligned (H a multiple of 4, bases
     * aligned: R and the workspace come from cudaMalloc, initial_h may be any tensor). */
    const int vec4 = (H & 3) == 0 && (ldv & 3) == 0 && (((unsigned long long)Rd & 15) == 0) &&
                     vec && (((unsigned long long)vec & 15) == 0);

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32;
    for (long long b0 = 0; b0 < B; b0 += RNN_BC) {
        const int nbt = (int)(B - b0 < RNN_BC ? B - b0 : RNN_BC);
        /* This thread's first pair's gate inputs, loaded before the dot products so that
         * their latency overlaps R's instead of following it (a step is a chain of
         * latencies: h_{t-1}, R * h, the gate inputs, h_t). */
        rnn_gate_in pre;
        if (threadIdx.x < nu * nbt) rnn_gate_load(&c, a, p, b0, threadIdx.x, &pre);
        if (nbt == 1 && vec4 && do_dot) {
            /* One batch entry (batch-1 inference): the step is bound by how many bytes of R
             * each warp has in flight, not by arithmetic. So a warp takes up to RNN_ROWS of
             * its rows (the same rows, it = warp + k * nw, as the loop below) in one pass:
             * RNN_ROWS times the loads in flight, and h read once for all of them. Each
             * row's sum is accumulated in the same order as below, so results do not
             * depend on the path, the variant or the grouping. */
            const float4 *v4 = (const float4 *)(vec + b0 * ldv);
            const int rows = ng * nu;
            /* The staged variant (STAGED, a literal): a warp's registers hold at most RNN_ROWS
             * rows in flight, so a block of more rows than 8 warps x RNN_ROWS read R in
             * several round trips to L2, each a full latency. Its first `staged` rows are
             * instead copied to shared memory by cp.async, which holds no registers: they
             * are in flight together with the register rows, and all of the tile's R
             * arrives in about one round trip. Their dot products then read shared memory,
             * in the same order as from global memory (the same bits). */
            extern __shared__ __align__(16) float rnn_stage[];
            const int staged = STAGED ? min(rows, (int)(RNN_STAGE_BYTES / 4 / H)) : 0;
            if (staged) {
                /* a warp copies whole rows, its lanes 16 consecutive bytes each */
                for (int r = warp; r < staged; r += nw) {
                    const float *src = Rd + ((g0 + r / nu) * H + u0 + r % nu) * H;
                    float *dst = rnn_stage + (long long)r * H;
                    for (long long q = 4 * lane; q < H; q += 128)
                        mr_cp_async16(dst + q, src + q, true);
                }
                mr_cp_async_commit();
            }
            for (int it0 = staged + warp; it0 < rows; it0 += RNN_ROWS * nw) {
                const float4 *r4[RNN_ROWS];
                float acc[RNN_ROWS];
                int nr = 0;
#pragma unroll
                for (int k = 0; k < RNN_ROWS; k++) {
                    const int it = it0 + k * nw;
                    acc[k] = 0.0f;
                    r4[k] = (const float4 *)Rd;
                    if (it < rows) {
                        r4[k] = (const float4 *)(Rd + ((g0 + it / nu) * H + u0 + it % nu) * H);
                        nr = k + 1;
                    }
                }
#pragma unroll 4
                for (long long q = lane; q < H / 4; q += 32) {
                    const float4 x = v4[q];
#pragma unroll
                    for (int k = 0; k < RNN_ROWS; k++)
                        if (k < nr) acc[k] = dot4_acc(acc[k], __ldg(r4[k] + q), x);
                }
#pragma unroll
                for (int k = 0; k < RNN_ROWS; k++)
                    if (k < nr) put_row_sum(gs, it0 + k * nw, acc[k]);
            }
            if (staged) {
                mr_cp_async_wait();
                __syncthreads();
                /* as the register rows: RNN_ROWS rows per pass, h read once for them */
                for (int it0 = warp; it0 < staged; it0 += RNN_ROWS * nw) {
                    float acc[RNN_ROWS];
#pragma unroll
                    for (int k = 0; k < RNN_ROWS; k++) acc[k] = 0.0f;
#pragma unroll 4
                    for (long long q = lane; q < H / 4; q += 32) {
                        const float4 x = v4[q];
#pragma unroll
                        for (int k = 0; k < RNN_ROWS; k++)
                            if (it0 + k * nw < staged)
                                acc[k] =
                                    dot4_acc(acc[k],
                                             ((const float4 *)(rnn_stage +
                                                               (long long)(it0 + k * nw) * H))[q],
                                             x);
                    }
#pragma unroll
                    for (int k = 0; k < RNN_ROWS; k++)
                        if (it0 + k * nw < staged) put_row_sum(gs, it0 + k * nw, acc[k]);
                }
            }
        } else {
            /* dot products: one warp per gate row, up to RNN_BC batch entries at once */
            for (int it = warp; it < ng * nu; it += nw) {
                const int g = it / nu, i = it % nu;
                float acc[RNN_BC];
#pragma unroll
                for (int bb = 0; bb < RNN_BC; bb++) acc[bb] = 0.0f;
                if (do_dot) {
                    const float *rr = Rd + ((g0 + g) * H + u0 + i) * H;
                    const float *v = vec + b0 * ldv;
                    if (vec4) {
                        /* 16-byte loads: a step is latency bound (each row is read once per
                         * step), so what matters is the bytes each warp has in flight; four
                         * times fewer loads also means the unrolled loop issues a whole
                         * 512-wide row at once. */
                        const float4 *r4 = (const float4 *)rr;
#pragma unroll 4
                        for (long long q = lane; q < H / 4; q += 32) {
                            const float4 r = __ldg(r4 + q);
#pragma unroll
                            for (int bb = 0; bb < RNN_BC; bb++)
                                if (bb < nbt)
                                    acc[bb] =
                                        dot4_acc(acc[bb], r, ((const float4 *)(v + bb * ldv))[q]);
                        }
                    } else {
#pragma unroll 4
                        for (long long q = lane; q < H; q += 32) {
                            float r = __ldg(rr + q);
#pragma unroll
                            for (int bb = 0; bb < RNN_BC; bb++)
                                if (bb < nbt) acc[bb] = fmaf(r, v[bb * ldv + q], acc[bb]);
                        }
                    }
#pragma unroll
                    for (int bb = 0; bb < RNN_BC; bb++) acc[bb] = warp_sum(acc[bb]);
                }
                if (lane == 0)
#pragma unroll
                    for (int bb = 0; bb < RNN_BC; bb++) gs[it * RNN_BC + bb] = acc[bb];
            }
        }
        __syncthreads();
        rnn_gates(&c, a, p, b0, nbt, &pre, gs, T);
        __syncthreads(); /* gs is reused by the next batch chunk */
    }
}

/* ---- the persistent recurrence ----
 * One phase for every time step (and GRU lbr=0 sub-phase): logical block s is slot s % n of
 * virtual step s / n (n = directions x unit tiles). Blocks are taken from the counter in
 * order, so when a block waits for the step before its own, every block of that step is held
 * by a running physical block (or done): the waits cannot deadlock, whatever P, the shards
 * or a yield. A slot is not a tile: the block claims a tile of its step, preferring the one
 * whose rows of R its shared memory already holds, so a physical block that keeps running
 * (P >= n, the full-width case) reads R from shared memory, not L2, step after step. Sync
 * words, in the workspace and zeroed by the projection phase's block 0: done (logical blocks
 * finished; step v's blocks may start once done >= v * n, which also counts later steps'
 * blocks only after v's predecessors are all done), the plain form's slot counter, and per
 * tile the number of steps that claimed it. */
enum { RNN_SYNC_DONE, RNN_SYNC_PLAIN, RNN_SYNC_CLAIMS };

static __device__ __forceinline__ unsigned ld_acquire_u32(const unsigned *q) {
    unsigned v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(q) : "memory");
    return v;
}
static __device__ __forceinline__ unsigned ld_relaxed_u32(const unsigned *q) {
    unsigned v;
    asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(q) : "memory");
    return v;
}

static __device__ __forceinline__ void red_release_add_u32(unsigned *q, unsigned v) {
    asm volatile("red.release.gpu.global.add.u32 [%0], %1;" ::"l"(q), "r"(v) : "memory");
}

/* A value and its step tag in one 64-bit word (tag in the high half): a relaxed 64-bit access
 * is single-copy atomic, so a reader that sees the tag sees the value with it, without a
 * fence on either side (the fused step's h_t, rnn_pstep). */
static __device__ __forceinline__ void st_relaxed_u64(unsigned long long *q, unsigned long long v) {
    asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(q), "l"(v) : "memory");
}
static __device__ __forceinline__ unsigned long long ld_relaxed_u64(const unsigned long long *q) {
    unsigned long long v;
    asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(q) : "memory");
    return v;
}

/* A whole warp: claims a tile of virtual step v (cl[i] == v: tile i is free at step v) and
 * returns it in every lane: pref, the tile in shared memory (-1: none), else the slot's own,
 * else a free one found 32 claims per round trip. Every claim of step v - 1 is made by a
 * running block right after it took its slot, without waiting on anything, so a tile frees
 * up: the scan ends. */
static __device__ int rnn_claim(unsigned *cl, int n, unsigned v, int pref, int own) {
    const int lane = threadIdx.x & 31;
    int got = -1;
    if (lane == 0) {
        if (pref >= 0 && atomicCAS(cl + pref, v, v + 1) == v)
            got = pref;
        else if (own != pref && atomicCAS(cl + own, v, v + 1) == v)
            got = own;
    }
    got = __shfl_sync(0xffffffffu, got, 0);
    while (got < 0)
        for (int base = 0; base < n && got < 0; base += 32) {
            const int i = base + lane;
            unsigned m = __ballot_sync(0xffffffffu, i < n && ld_relaxed_u32(cl + i) == v);
            while (m && got < 0) {
                const int l = __ffs(m) - 1;
                int ok = 0;
                if (lane == l) ok = atomicCAS(cl + i, v, v + 1) == v;
                if (__shfl_sync(0xffffffffu, ok, l)) got = base + l;
                m &= m - 1;
            }
        }
    return got;
}

/* One float4 column q of up to RNN_ROWS rows times NB vectors (rnn_pdot). */
static __device__ __forceinline__ void rnn_pdot_q(float acc[RNN_ROWS][RNN_BC],
                                                  const float4 *const r4[RNN_ROWS],
                                                  const float4 *v4, int q, int nr, int H, int NB) {
    float4 x[RNN_BC];
#pragma unroll
    for (int bb = 0; bb < NB; bb++) x[bb] = v4[bb * (H / 4) + q];
#pragma unroll
    for (int k = 0; k < RNN_ROWS; k++)
        if (k < nr) {
            const float4 r = r4[k][q];
#pragma unroll
            for (int bb = 0; bb < NB; bb++) acc[k][bb] = dot4_acc(acc[k][bb], r, x[bb]);
        }
}

/* Row ra of the tile in c (gate ra / nu, unit ra % nu) in M, a layer's R or (layer 1 of a
 * stack, whose input size is H) W: G H rows of H. */
static __device__ __forceinline__ const float *rnn_tile_mrow(const rnn_ctx *c, const float *M,
                                                             int ra, long long H) {
    return M + ((ra / c->nu) * H + c->u0 + ra % c->nu) * H;
}
/* Row ra of the tile in c in R. */
static __device__ __forceinline__ const float *rnn_tile_row(const rnn_ctx *c, int ra, long long H) {
    return rnn_tile_mrow(c, c->Rd, ra, H);
}

/* The generic persistent step's dot products for a chunk of NB (a literal: 1 or RNN_BC)
 * batch entries, the vector chunk in vbuf ([NB][H]): RNN_ROWS rows per warp pass, tile row ra
 * (gate ra / nu, unit ra % nu) from shared memory (rc) if ra < srows, else from L2; each row's
 * sum in the order of rnn_step's (the same bits), into gs. ALLSM (a literal): every row is in
 * shared memory, so none needs the division that locates it in R, and the loads are LDS. */
static __device__ __forceinline__ void rnn_pdot(const rnn_ctx *c, const float *vbuf,
                                                const float *rc, int srows, int rows, int H, int NB,
                                                int ALLSM, float *gs, int T) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32, nu = c->nu;
    const float4 *v4 = (const float4 *)vbuf;
    for (int it0 = warp; it0 < rows; it0 += RNN_ROWS * nw) {
        const float4 *r4[RNN_ROWS];
        float acc[RNN_ROWS][RNN_BC];
        int nr = 0;
#pragma unroll
        for (int k = 0; k < RNN_ROWS; k++) {
            const int it = it0 + k * nw;
#pragma unroll
            for (int bb = 0; bb < NB; bb++) acc[k][bb] = 0.0f;
            r4[k] = (const float4 *)rc;
            if (it < rows) {
                const int ra = c->g0 * nu + it;
                r4[k] = ALLSM || ra < srows ? (const float4 *)(rc + (long long)ra * H)
                                            : (const float4 *)rnn_tile_row(c, ra, H);
                nr = k + 1;
            }
        }
        /* Batch 1 keeps four iterations' loads in flight; RNN_BC entries hold 4x the
         * accumulators, and unrolled they spilled. */
        if (NB == 1) {
#pragma unroll 4
            for (int q = lane; q < H / 4; q += 32) rnn_pdot_q(acc, r4, v4, q, nr, H, NB);
        } else {
#pragma unroll 1
            for (int q = lane; q < H / 4; q += 32) rnn_pdot_q(acc, r4, v4, q, nr, H, NB);
        }
#pragma unroll
        for (int k = 0; k < RNN_ROWS; k++)
            if (k < nr) {
                const int it = it0 + k * nw;
#pragma unroll
                for (int bb = 0; bb < NB; bb++) {
                    const float sum = warp_sum(acc[k][bb]);
                    if (lane == 0) gs[it * RNN_BC + bb] = sum;
                }
            }
    }
}

/* ---- the fused step's gate state ----
 * What the gate math of one unit needs besides the sums: its inputs (xw, c_{t-1} or h_{t-1},
 * constants) and where its results go. Prepared before the wait for the previous step (the
 * inputs too where this block ran the unit's previous step, so that they are its own
 * writes), kept in shared memory rather than registers (the step's registers are taken by
 * the rows of R), and read back by the same thread after the dot products: the chain from
 * the wait to the release then holds the loads of h_{t-1}, the dot products and the gate
 * arithmetic, not the address arithmetic (~550 of a warp's ~1,100 instructions a step
 * before, docs/KERNEL_NOTES.md entry 18). */
typedef struct rnn_fgate {
    float x[4];         /* xw of the unit's gates */
    float cprev, hprev; /* LSTM c_{t-1}; GRU h_{t-1} */
    float rbh;          /* GRU linear_before_reset: Rb_h of the unit */
    float pi, po, pf;   /* LSTM peepholes (has_p) */
    int has_p, pad_;
    float *hn, *cn, *y, *yh, *yc; /* where h_t, c_t, Y, Y_h, Y_c go; NULL: not written */
    unsigned long long *ht;       /* where h_t goes with its tag (NULL: not written) */
    unsigned long long tag;       /* the tag, shifted to the word's high half */
} rnn_fgate;

/* Batch 1: unit `it` of the tile in c. STACK (a literal, rnn_pstep): a stacked node's
 * kernel, where layer 0 writes no outputs (layer 1 reads its h buffers) and, pipelined
 * (STACK 1), layer 1's gate inputs start from its biases (its W * x_t is a dot product of
 * the step, rnn_fdot_w). */
static __device__ __forceinline__ void rnn_fgate_prep(const rnn_ctx *c, const mr_cuda_args *a,
                                                      const rnn_k_params *p, int it, rnn_fgate *f,
                                                      int STACK) {
    const long long S = p->S, H = p->H, D = p->dirs, d = c->d, u = c->u0 + it, t = c->t;
    const long long io = d * H + u; /* Y_h, Y_c, initial_c of batch entry 0, either layout */
    const int in0 = c->layer * MR_RNN_STACK_IN, outs = !STACK || c->layer;
    float *Y = outs ? (float *)a->out[OUT_Y] : (float *)a->workspace + p->off_y0;
    f->hn = c->hn + u;
    f->ht = NULL;
    if (RNN_TAGGED && STACK != 1 && p->off_ht[c->layer]) {
        f->ht = (unsigned long long *)((float *)a->workspace + p->off_ht[c->layer]) +
                ((c->k & 1) * p->dirs + d) * H + u;
        f->tag = (unsigned long long)(c->k + 1) << 32;
    }
    f->cn = p->gru ? NULL : c->aux_cur + u;
    f->y = Y ? Y + (t * D + d) * H + u : NULL; /* [S][D][1][H] or [1][S][D][H] */
    const int last = outs && c->k == S - 1;
    f->yh = last && a->out[OUT_YH] ? (float *)a->out[OUT_YH] + io : NULL;
    f->yc = last && !p->gru && a->out[OUT_YC] ? (float *)a->out[OUT_YC] + io : NULL;
    const float *P = p->gru ? NULL : (const float *)a->in[in0 + IN_P];
    f->has_p = P != NULL;
    if (P) {
        P += d * 3 * H;
        f->pi = P[u], f->po = P[H + u], f->pf = P[2 * H + u];
    }
    const float *Bv = (const float *)a->in[in0 + IN_B];
    f->rbh = p->gru && Bv ? Bv[d * 6 * H + 5 * H + u] : 0.0f;
    if (STACK == 1 && c->layer) {
        /* the biases rnn_proj folds into xw: Wb, and Rb but GRU's Rb_h */
        const long long GH = p->G * H;
#pragma unroll
        for (int gg = 0; gg < 4; gg++) {
            float b = 0.0f;
            if (Bv && gg < p->G) {
                b = Bv[gg * H + u];
                if (!(p->gru && gg == 2)) b += Bv[GH + gg * H + u];
            }
            f->x[gg] = b;
        }
    }
}

/* The unit's step inputs (after the wait, unless this thread wrote them itself). */
static __device__ __forceinline__ void rnn_fgate_load(const rnn_ctx *c, const mr_cuda_args *a,
                                                      const rnn_k_params *p, int it, rnn_fgate *f,
                                                      int STACK) {
    const long long H = p->H, u = c->u0 + it;
    if (!(STACK == 1 && c->layer)) {
        const float *x = c->xw + c->xrow0 * p->G * H + u;
#pragma unroll
        for (int gg = 0; gg < 4; gg++) f->x[gg] = gg < p->G ? x[gg * H] : 0.0f;
    }
    f->hprev = c->hp ? __ldcg(c->hp + u) : 0.0f;
    f->cprev = 0.0f;
    if (!p->gru) {
        const float *C0 = (const float *)a->in[c->layer * MR_RNN_STACK_IN + IN_C0];
        f->cprev = c->k > 0 ? __ldcg(c->aux_prev + u) : (C0 ? C0[c->d * H + u] : 0.0f);
    }
}

/* The gate math of one unit from its state and its G sums (sg[g * GS]) (rnn_lstm_cell,
 * rnn_gru_lbr_cell); fast as rnn_gate_apply's. */
static __device__ __forceinline__ void rnn_fgate_apply(const rnn_fgate *f, int gru, const float *sg,
                                                       int GS, int fast) {
    const float *x = f->x;
    float h, cn = 0.0f;
    if (!gru) {
        h = rnn_lstm_cell(x[0] + sg[0], x[1] + sg[GS], x[2] + sg[2 * GS], x[3] + sg[3 * GS],
                          f->cprev, f->has_p, f->pi, f->po, f->pf, &cn, fast);
        *f->cn = cn;
    } else {
        h = rnn_gru_lbr_cell(x[0] + sg[0], x[1] + sg[GS], x[2], sg[2 * GS] + f->rbh, f->hprev,
                             fast);
    }
    *f->hn = h;
    if (f->ht) st_relaxed_u64(f->ht, f->tag | __float_as_uint(h));
    if (f->y) *f->y = h;
    if (f->yh) *f->yh = h;
    if (f->yc) *f->yc = cn;
}

/* ---- the fused step ----
 * Batch 1, one sub-phase per step (LSTM, GRU with linear_before_reset), unit tiles of a
 * multiple of the warps (nu % nw == 0) and H <= 128 * RNN_RQ: warp w owns units i = w + u nw
 * (u < nu / nw) and all G gate rows of each (local row r = u G + g: tile row g nu + i), so it
 * finishes its units without waiting for the other warps: h_{t-1} in registers (lane l holds
 * float4 columns l + 32 i), its first RNN_RROWS rows of R in registers across the steps of
 * the tile the block holds (with shared memory's rows, the whole of a 16-SM LSTM tile is on
 * chip: an H200 SM's 228 KiB of shared memory hold 2 x 52 of its 64 rows of 2 KiB), the
 * rest in shared memory (slot w (rows per warp - RNN_RROWS) + r - RNN_RROWS) or L2, the
 * sums through shared memory within the warp, the gate math by the warp's first lanes. G
 * (3 or 4) is a literal, so that a local row's gate and unit need no division. Each row's
 * sum is accumulated in the order of the other paths (the same bits). */
#ifndef RNN_RROWS /* may be set at build time to study the trade-off (KERNEL_NOTES 23) */
#define RNN_RROWS 2
#endif
#define RNN_RQ 4

/* Local row r of warp w: its tile row (gate * nu + unit) */
static __device__ __forceinline__ int rnn_frow(int r, int G, int w, int nw, int nu) {
    return (r % G) * nu + w + (r / G) * nw;
}

/* Loads warp w's register rows of the tile in c. */
static __device__ __forceinline__ void rnn_fregs_load(const rnn_ctx *c, int G, int H, int T,
                                                      float4 rreg[RNN_RROWS][RNN_RQ]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32, nu = c->nu;
#pragma unroll
    for (int k = 0; k < RNN_RROWS; k++) {
        const int ra = rnn_frow(k, G, warp, nw, nu);
        const float4 *src = (const float4 *)rnn_tile_row(c, ra, H);
#pragma unroll
        for (int i = 0; i < RNN_RQ; i++) {
            const int q = lane + 32 * i;
            rreg[k][i] = q < H / 4 ? __ldg(src + q) : make_float4(0.f, 0.f, 0.f, 0.f);
        }
    }
}

/* The fused step's dot products with rows of M (R, or layer 1's W) from shared memory or L2:
 * this warp's local rows r from r_first on (of G (nu / nw)), row r from shared memory slot
 * sl0 + r (rc; those below srows, or all where ALLSM, a literal: read with LDS) or else from
 * M, times x; each sum into gs[tile row * RNN_BC] (gs offset by the caller for W's column). */
static __device__ __forceinline__ void rnn_fdot_rows(const rnn_ctx *c, const float4 x[RNN_RQ],
                                                     const float *M, const float *rc, int r_first,
                                                     int sl0, int srows, int ALLSM, int G, int H,
                                                     float *gs, int T) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32, nu = c->nu;
    const int rpw = G * (nu / nw);
    for (int r0 = r_first; r0 < rpw; r0 += RNN_ROWS) {
        const float4 *r4[RNN_ROWS];
        float acc[RNN_ROWS];
#pragma unroll
        for (int k = 0; k < RNN_ROWS; k++) {
            const int r = r0 + k, sl = sl0 + r;
            acc[k] = 0.0f;
            r4[k] = (const float4 *)rc;
            if (r < rpw) {
                const int ra = rnn_frow(r, G, warp, nw, nu);
                r4[k] = ALLSM || sl < srows ? (const float4 *)(rc + sl * H)
                                            : (const float4 *)rnn_tile_mrow(c, M, ra, H);
            }
        }
#pragma unroll
        for (int i = 0; i < RNN_RQ; i++) {
            const int q = lane + 32 * i;
            if (q < H / 4)
#pragma unroll
                for (int k = 0; k < RNN_ROWS; k++)
                    if (r0 + k < rpw) acc[k] = dot4_acc(acc[k], r4[k][q], x[i]);
        }
        /* rows past rpw have sums of 0, not written */
        const float sum = warp_sum4(acc);
        const int k = (lane >> 4 & 1) * 2 + (lane >> 3 & 1);
        if ((lane & 7) == 0 && r0 + k < rpw) gs[rnn_frow(r0 + k, G, warp, nw, nu) * RNN_BC] = sum;
    }
}

/* The fused step's dot products (h_{t-1} in x): every row of this warp, sums into gs[tile
 * row]. ALLSM (a literal): every slot is in shared memory (rc), read with LDS. */
static __device__ __forceinline__ void rnn_fdot(const rnn_ctx *c, const float4 x[RNN_RQ],
                                                const float4 rreg[RNN_RROWS][RNN_RQ],
                                                const float *rc, int srows, int G, int H, int ALLSM,
                                                float *gs, int T) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32, nu = c->nu;
    const int rpw = G * (nu / nw), spw = rpw - RNN_RROWS;
    float acc[RNN_RROWS];
#pragma unroll
    for (int k = 0; k < RNN_RROWS; k++) acc[k] = 0.0f;
#pragma unroll
    for (int i = 0; i < RNN_RQ; i++) {
        if (lane + 32 * i < H / 4)
#pragma unroll
            for (int k = 0; k < RNN_RROWS; k++) acc[k] = dot4_acc(acc[k], rreg[k][i], x[i]);
    }
    /* the register rows' sums in groups of four, then two, then one (the same bits) */
#pragma unroll
    for (int k0 = 0; k0 < RNN_RROWS; k0 += 4) {
        if (k0 + 4 <= RNN_RROWS) {
            const float sum = warp_sum4(acc + k0);
            const int k = (lane >> 4 & 1) * 2 + (lane >> 3 & 1);
            if ((lane & 7) == 0) gs[rnn_frow(k0 + k, G, warp, nw, nu) * RNN_BC] = sum;
        } else if (k0 + 2 <= RNN_RROWS) {
            const float sum = warp_sum2(acc[k0], acc[k0 + 1]);
            if ((lane & 15) == 0) gs[rnn_frow(k0 + (lane >> 4), G, warp, nw, nu) * RNN_BC] = sum;
            if (k0 + 3 == RNN_RROWS) {
                const float s1 = warp_sum(acc[k0 + 2]);
                if (lane == 0) gs[rnn_frow(k0 + 2, G, warp, nw, nu) * RNN_BC] = s1;
            }
        } else {
            const float sum = warp_sum(acc[k0]);
            if (lane == 0) gs[rnn_frow(k0, G, warp, nw, nu) * RNN_BC] = sum;
        }
    }
    rnn_fdot_rows(c, x, c->Rd, rc, RNN_RROWS, warp * spw - RNN_RROWS, srows, ALLSM, G, H, gs, T);
}

/* Layer 1 of a stack: W * x_t (x_t = layer 0's h_t, c->xv) for every row of this warp, rows
 * from shared memory slots wbase + warp * rows per warp + local row (those below srows) or
 * L2, sums into gs[tile row * RNN_BC + 1] (the R sums are at + 0). */
static __device__ __forceinline__ void rnn_fdot_w(const rnn_ctx *c, const float *rc, int wbase,
                                                  int srows, int G, int H, float *gs, int T) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32, nu = c->nu;
    const int rpw = G * (nu / nw);
    const float4 *x4 = (const float4 *)c->xv; /* 128-byte aligned workspace section */
    float4 x[RNN_RQ];
#pragma unroll
    for (int i = 0; i < RNN_RQ; i++) {
        const int q = lane + 32 * i;
        x[i] = q < H / 4 ? __ldcg(x4 + q) : make_float4(0.f, 0.f, 0.f, 0.f);
    }
    rnn_fdot_rows(c, x, c->Wd, rc, 0, wbase + warp * rpw, srows, 0, G, H, gs + 1, T);
}

/* ---- the fused step's dot products on tensor cores (TF32 only) ----
 * Under TF32 the fused step of the layered LSTM stack (mr_rnn_qf4t_256; stack_prepare,
 * rnn_tc_ok) runs a warp's rows of R times h_{t-1} as mma.sync m16n8k16 (common.cuh), two
 * blocks of 16 columns per mma: A's rows 0..7 are the warp's rows of R (local row r, zero
 * past its G (nu / nw) rows) in block 2i, rows 8..15 the same rows in block 2i + 1; B's even
 * columns are h_{t-1}'s block 2i, its odd ones block 2i + 1; so D[r][0] and D[r + 8][1] are
 * row r's sums over the two blocks (the rest of D is not read). H / 32 mmas in four chains,
 * each an LDS.128 of A and an LDS.64 of B: ~70 instructions per warp and step where the float32
 * FMAs took ~400 (two groups of four rows from shared memory, two register rows, the sums'
 * shuffles; docs/KERNEL_NOTES.md, 24). Batch 1 uses 16 of D's 128 sums, so the
 * tensor pipe does 8 times the useful work; on 16 SMs it is still busy only ~5.5% of the time.
 * Halves, not TF32 operands, so that a tile's rows fit shared memory (16 H bytes per warp:
 * 64 KiB per 16-SM LSTM tile, where float32 rows did not fit) and an mma takes 16 columns:
 * - row r of R is scaled by 2^e_r (chosen so that its largest |value| is in [2^14, 2^15):
 *   exact) and rounded to the nearest half, which keeps 11 significant bits, as TF32 rounding
 *   to nearest does, for every value within 2^28 of the row's largest; the sum is scaled back
 *   by 2^-e_r (exact);
 * - h_{t-1} is rounded to the nearest half, unscaled: |h| < 1 (o tanh(c)) after the first step,
 *   whose h_{t-1} is the initial state (which is why a node with initial_h keeps the float32
 *   dot products), 11 significant bits down to 2^-14, an absolute error of at most 2^-25
 *   below.
 * The products are exact in float32 and the tensor cores accumulate in float32. Columns are
 * permuted within each block of 16 (the mma's k 2t, 2t+1, 2t+8, 2t+9 are columns 4t..4t+3 of
 * the block), the same for A and B, so that a lane's B is one 8-byte load of h_{t-1} and its
 * A four pairs of consecutive columns. */

#ifndef RNN_TC_LROWS /* rows converted at a time (1, 2, 4 or 8) */
#define RNN_TC_LROWS 4
#endif
/* Warp w's rows of the tile in c as A fragments, into fr (16 H bytes: uint4 i * 32 + lane
 * holds lane's a registers of mma i) where fits, and the scales: *sa, 2^e of the lane's row
 * (lane / 4; for the loads of the step when the rows are not in shared memory), *so, 2^-e of
 * the same row (its sum). */
static __device__ __forceinline__ void rnn_ftc_load(const rnn_ctx *c, int G, int H, int T,
                                                    unsigned *fr, int fits, float *sa, float *so) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32, nu = c->nu;
    const int rpw = G * (nu / nw);
    /* RNN_TC_LROWS rows at a time, their loads in flight together. One row at a time (eight L2
     * round trips per warp before a tile's first step), the 16-SM LSTM's steps summed ~19 us
     * more; eight at a time, ~18 us more (docs/KERNEL_NOTES.md, 24). */
#pragma unroll 1
    for (int r0 = 0; r0 < 8; r0 += RNN_TC_LROWS) {
        float4 v[RNN_TC_LROWS][RNN_RQ];
        float m[RNN_TC_LROWS];
#pragma unroll
        for (int k = 0; k < RNN_TC_LROWS; k++) {
            const int r = r0 + k;
            const float4 *src =
                r < rpw ? (const float4 *)rnn_tile_row(c, rnn_frow(r, G, warp, nw, nu), H) : NULL;
#pragma unroll
            for (int i = 0; i < RNN_RQ; i++) {
                const int q = lane + 32 * i;
                v[k][i] = src && q < H / 4 ? __ldg(src + q) : make_float4(0.f, 0.f, 0.f, 0.f);
            }
        }
#pragma unroll
        for (int k = 0; k < RNN_TC_LROWS; k++) {
            m[k] = 0.0f;
#pragma unroll
            for (int i = 0; i < RNN_RQ; i++)
                m[k] = fmaxf(m[k], fmaxf(fmaxf(fabsf(v[k][i].x), fabsf(v[k][i].y)),
                                         fmaxf(fabsf(v[k][i].z), fabsf(v[k][i].w))));
        }
        for (int o = 16; o > 0; o >>= 1)
#pragma unroll
            for (int k = 0; k < RNN_TC_LROWS; k++)
                m[k] = fmaxf(m[k], __shfl_xor_sync(0xffffffffu, m[k], o));
#pragma unroll
        for (int k = 0; k < RNN_TC_LROWS; k++) {
            const int r = r0 + k;
            /* e = 14 - the exponent of m (0 for a row of zeros), within float32's normal range */
            int e = m[k] > 0.0f ? 14 - ((int)(__float_as_uint(m[k]) >> 23 & 0xff) - 127) : 0;
            e = e < -100 ? -100 : e > 100 ? 100 : e;
            const float s = __uint_as_float((unsigned)(127 + e) << 23);
            if ((lane >> 2) == r) {
                *sa = s;
                *so = __uint_as_float((unsigned)(127 - e) << 23);
            }
            if (fits)
#pragma unroll
                for (int i = 0; i < RNN_RQ; i++) {
                    /* columns 4q..4q+3: block b = q / 4 (mma b / 2, its rows r + 8 (b & 1)),
                     * lane 4 r + q % 4, registers b & 1 (the pair 4t, 4t+1) and 2 + (b & 1) */
                    const int q = lane + 32 * i, b = q >> 2;
                    unsigned *d = fr + ((b >> 1) * 32 + 4 * r + (q & 3)) * 4 + (b & 1);
                    if (q < H / 4) {
                        d[0] = mr_half2(v[k][i].x * s, v[k][i].y * s);
                        d[2] = mr_half2(v[k][i].z * s, v[k][i].w * s);
                    }
                }
        }
    }
}

/* The dot products of warp w's rows with h_{t-1} (hb: H halves), sums into gs[tile row *
 * RNN_BC]. The rows from fr where fits (rnn_ftc_load), else from R in L2, scaled by sa and
 * rounded here (the same halves). H a multiple of 128. */
static __device__ __forceinline__ void rnn_ftc_dot(const rnn_ctx *c, const unsigned short *hb,
                                                   const uint4 *fr, int fits, float sa, float so,
                                                   int G, int H, float *gs, int T) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32, nu = c->nu;
    const int rpw = G * (nu / nw), g = lane >> 2, t = lane & 3;
    /* B: h_{t-1}'s block 2i + (g & 1), columns 4t..4t+3 */
    const uint2 *h2 = (const uint2 *)hb + 4 * (g & 1) + t;
    float acc[4][4];
#pragma unroll
    for (int k = 0; k < 4; k++) acc[k][0] = acc[k][1] = acc[k][2] = acc[k][3] = 0.0f;
    if (fits) {
        const uint4 *a4 = fr + lane;
#pragma unroll 1
        for (int i = 0; i < H / 32; i += 4) {
            uint4 a[4];
            uint2 b[4];
#pragma unroll
            for (int k = 0; k < 4; k++) {
                a[k] = a4[(i + k) * 32];
                b[k] = h2[8 * (i + k)];
            }
#pragma unroll
            for (int k = 0; k < 4; k++)
                mr_mma_f16(acc[k], a[k].x, a[k].y, a[k].z, a[k].w, b[k].x, b[k].y);
        }
    } else {
        const float *src = g < rpw ? rnn_tile_row(c, rnn_frow(g, G, warp, nw, nu), H) : NULL;
#pragma unroll 1
        for (int i = 0; i < H / 32; i += 4)
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const int c0 = 32 * (i + k) + 4 * t;
                float4 v0 = make_float4(0.f, 0.f, 0.f, 0.f), v1 = v0;
                if (src) {
                    v0 = __ldg((const float4 *)(src + c0));
                    v1 = __ldg((const float4 *)(src + c0 + 16));
                }
                const uint2 b = h2[8 * (i + k)];
                mr_mma_f16(acc[k], mr_half2(v0.x * sa, v0.y * sa), mr_half2(v1.x * sa, v1.y * sa),
                           mr_half2(v0.z * sa, v0.w * sa), mr_half2(v1.z * sa, v1.w * sa), b.x,
                           b.y);
            }
    }
    /* lane 4 g: D[g][0] (block 2i) and D[g + 8][1] (block 2i + 1), row g's */
    if (t == 0 && g < rpw) {
        const float d = ((acc[0][0] + acc[1][0]) + (acc[2][0] + acc[3][0])) +
                        ((acc[0][3] + acc[1][3]) + (acc[2][3] + acc[3][3]));
        gs[rnn_frow(g, G, warp, nw, nu) * RNN_BC] = d * so;
    }
}

/* The fused step's wait for h_{t-1} (c->k > 0), not pipelined: every unit's word of step
 * k - 1 (tag k; rnn_fgate_apply stores h_t with tag k + 1) into vbuf[H], by every warp but
 * the last, which prepares the gate state and takes the next slot meanwhile (rnn_pstep);
 * the caller's barrier publishes vbuf. With the values in the words that say they are ready, the
 * chain from one step to the next is the producers' stores and these loads: no release fence, count
 * and poll before h_{t-1} can be read (~2,400 cycles on an H200, docs/KERNEL_NOTES.md, 18). The
 * words of step k - 1 are not overwritten before every block has read them: step k + 1, which
 * writes that buffer again, waits for h_k of every unit, stored after its block read h_{k-1}. Each
 * thread polls up to four words, with two sets of loads in flight RNN_POLL_STAGGER_NS apart
 * (a set is sent again as soon as its answers are read), so that a word stored while one set
 * is on its way is seen by the other about half an L2 round trip sooner (docs/KERNEL_NOTES.md,
 * 22). */
#ifndef RNN_POLL_STAGGER_NS /* 0: one set of loads in flight, sent again when it is back */
#define RNN_POLL_STAGGER_NS 160
#endif
static __device__ __forceinline__ void rnn_poll_send(unsigned long long w[4],
                                                     const unsigned long long *src, int e0, int np,
                                                     unsigned need) {
#pragma unroll
    for (int i = 0; i < 4; i++)
        if (need >> i & 1) w[i] = ld_relaxed_u64(src + e0 + i * np);
}
/* The words of `need` that a set's answers w show tagged `want` into v; the words still needed. */
static __device__ __forceinline__ unsigned rnn_poll_read(const unsigned long long w[4],
                                                         unsigned long long v[4], unsigned need,
                                                         unsigned want) {
#pragma unroll
    for (int i = 0; i < 4; i++)
        if ((need >> i & 1) && (unsigned)(w[i] >> 32) == want) {
            v[i] = w[i];
            need &= ~(1u << i);
        }
    return need;
}
static __device__ __forceinline__ void rnn_tagged_wait(const rnn_ctx *c, const mr_cuda_args *a,
                                                       const rnn_k_params *p, float *vbuf, int T,
                                                       int TC) {
    const int np = T > 32 ? T - 32 : 32, H = (int)p->H; /* pollers */
    if ((int)threadIdx.x >= np) return;
    const unsigned want = (unsigned)c->k;
    const unsigned long long *src =
        (const unsigned long long *)((const float *)a->workspace + p->off_ht[c->layer]) +
        (((c->k - 1) & 1) * p->dirs + c->d) * p->H;
    for (int e0 = threadIdx.x; e0 < H; e0 += 4 * np) {
        unsigned long long wa[4], wb[4], v[4] = {0, 0, 0, 0};
        unsigned need = 0;
#pragma unroll
        for (int i = 0; i < 4; i++)
            if (e0 + i * np < H) need |= 1u << i;
        rnn_poll_send(wa, src, e0, np, need);
        if (RNN_POLL_STAGGER_NS) {
            __nanosleep(RNN_POLL_STAGGER_NS);
            rnn_poll_send(wb, src, e0, np, need);
        }
        for (;;) {
            need = rnn_poll_read(wa, v, need, want);
            if (!need) break;
            rnn_poll_send(wa, src, e0, np, need);
            if (RNN_POLL_STAGGER_NS) {
                need = rnn_poll_read(wb, v, need, want);
                if (!need) break;
                rnn_poll_send(wb, src, e0, np, need);
            }
        }
#pragma unroll
        for (int i = 0; i < 4; i++)
            if (e0 + i * np < H && TC) /* as halves for rnn_ftc_dot */
                ((unsigned short *)vbuf)[e0 + i * np] = mr_half(__uint_as_float((unsigned)v[i]));
            else if (e0 + i * np < H)
                vbuf[e0 + i * np] = __uint_as_float((unsigned)v[i]);
    }
}

#ifndef RNN_FIXED /* 0 (a study build): every launch takes and claims each step (rnn_pstep) */
#define RNN_FIXED 1
#endif
/* The persistent recurrence, from logical block `slot` on: the elastic form goes on through
 * the blocks it takes itself (ctl); the plain form (ctl NULL) takes its slots, the first one
 * included, from its own counter (RNN_SYNC_PLAIN) in the order its blocks ask, so that its
 * grid may be just the blocks that fit (rnn_plain_grid) and they keep their tiles as the
 * elastic form's do; the in-order argument above holds for it too. The next slot is taken
 * and its tile claimed by the last warp while the other warps wait for h_{t-1}; where the
 * launch has one block per tile and cannot yield (`fixed`), it is computed instead.
 * STACK and LAYER (literals): 0, a single layer; 1, two stacked layers pipelined (both in
 * one launch, the layer from the tile); 2, two stacked layers one after the other, LAYER
 * the one this phase runs (1: phase 3). Each form is a kernel of its own, so that the one
 * a 16-SM stack runs has the single layer's literal layer and no pipelined paths: with the
 * layer read at run time it measured 9% (LSTM) and 11% (GRU) slower than single layers
 * (docs/KERNEL_NOTES.md, 19 and 20). */
static __device__ __forceinline__ void rnn_pstep(const mr_cuda_args *a, const rnn_k_params *p,
                                                 long long slot, int how, const mr_elastic_ctl *ctl,
                                                 int T, int FUSED, int STACK, int LAYER, int FAST,
                                                 float *gs) {
    /* [j & 1]: iteration j's slot and tile, written during iteration j - 1 (before a barrier
     * that follows every read of the other entry) */
    __shared__ long long ps_slot[2];
    __shared__ int ps_tile[2];
    __shared__ long long ps_fix_slot;
    __shared__ int ps_fix_tile;
    __shared__ rnn_gate_in gin[RNN_HT_MAX * RNN_BC]; /* the gate inputs of threads' first pairs */
    __shared__ rnn_fgate fgs[RNN_HT_MAX];            /* the fused step's units */
    extern __shared__ __align__(16) float rnn_dyn[];
    const int ph3 = STACK == 2 && LAYER == 1; /* a stack's layer 1, not pipelined */
    unsigned *sync = (unsigned *)((float *)a->workspace + (ph3 ? p->off_sync1 : p->off_sync));
    unsigned *cl = sync + RNN_SYNC_CLAIMS;
    const int n = (int)p->n_tiles, nht = (int)p->n_ht;
    const long long B = p->B, H = p->H, total = p->vsteps * n;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32;
    if (threadIdx.x == 0) {
        if (how & MR_BLK_PLAIN) {
            const unsigned s0 = atomicAdd(sync + RNN_SYNC_PLAIN, 1u);
            slot = s0 < total ? (long long)s0 : -1; /* -1: every slot was taken */
        }
        ps_slot[0] = slot;
        ps_tile[0] = -1;
    }
    __syncthreads();
    if (ps_slot[0] < 0) return;
    int held = -1;                 /* the tile whose rows shared memory (and registers) hold */
    unsigned held_v = 0xffffffffu; /* the virtual step this block last ran (of tile `held`) */
    /* Dynamic shared memory: the vector chunk ([nbc][H], not in the fused step), then rows of
     * the tile, as many as fit: tile rows 0.. (row ra: gate ra / nu, unit ra % nu), or the
     * fused step's slots. */
    unsigned dyn;
    asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(dyn));
    /* TAGGED: the fused step, not pipelined, reads h_{t-1} by its tags (below); its vector
     * chunk is h_{t-1}, one entry */
    const int TAGGED = RNN_TAGGED && FUSED && STACK != 1;
    const int nbc = FUSED ? TAGGED : (int)(B < RNN_BC ? B : RNN_BC);
    float *vbuf = rnn_dyn, *rc = rnn_dyn + nbc * H;
    const int fit = (int)(((long long)dyn / 4 - nbc * H) / H);
    float4 rreg[RNN_RROWS][RNN_RQ]; /* the fused step's register rows */
    /* TC (FAST 2, TF32): the fused step's dot products on tensor cores (rnn_ftc_dot), each warp's
     * rows as halves at tc_fr where they fit, with their scales */
    const int TC = FUSED && FAST == 2;
    const int tc_fits = TC && (long long)dyn >= (nbc * H + (long long)nw * 4 * H) * 4;
    uint4 *tc_fr = (uint4 *)rc + warp * H;
    float tc_sa = 1.0f, tc_so = 1.0f;
#pragma unroll
    for (int k = 0; k < RNN_RROWS; k++)
#pragma unroll
        for (int i = 0; i < RNN_RQ; i++) rreg[k][i] = make_float4(0.f, 0.f, 0.f, 0.f);
#ifdef RNN_TRACE
    /* Build with -DRNN_TRACE to print, for two blocks of a layer with 256 inputs (the zoo's
     * first), the SM clock spent in each stage of a step and the step's nanoseconds
     * (%globaltimer), averaged over steps 5 to 44 (device printf at the end: a study build,
     * never a release one; docs/KERNEL_NOTES.md entries 12 and 18). The stamps are registers,
     * not an array: an array goes to local memory, which the wait's acquire sends to L2. */
    long long tr0 = 0, tr1 = 0, tr2 = 0, tr3 = 0, tr4 = 0, tr5 = 0, tr6 = 0, ns0 = 0, ns1 = 0;
    long long nsp = 0, ts[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int tn = 0;
#define RNN_TR(i) (tr##i = clock64())
#else
#define RNN_TR(i) ((void)0)
#endif
#ifdef RNN_TIMELINE
    /* Build with -DRNN_TIMELINE to print, for every block of a layer with 256 inputs, the
     * %globaltimer nanoseconds of virtual steps 20 to 22 at: the loop's top (0), thread 0's
     * poll done (1), the barrier after the wait (2) and the step's last barrier (3), and, in
     * the fused step, the last warp's take and claim done (4) and warp 0's dot products done
     * (5), one line per block and step: "tl BLOCK STEP t0 t1 t2 t3 t4 t5", after a line
     * "tlsm BLOCK SM" (the SM the block ran on). Kept in shared memory and printed as the
     * block leaves, so that printing does not delay the steps. Differences within a block are
     * on one SM's timer; across SMs the timers differ by up to ~2.5 us, and a stamp may be
     * read before a barrier it follows (docs/KERNEL_NOTES.md, 25). scripts/rnn_timeline.py
     * summarises them (docs/KERNEL_NOTES.md, 22 to 25). A study build, never a release one. */
    __shared__ unsigned long long tl_buf[3][6];
    unsigned long long tl[4] = {0, 0, 0, 0};
    if (threadIdx.x == 0)
        for (int q = 0; q < 18; q++) tl_buf[q / 6][q % 6] = 0; /* a step not run: zeros */
#define RNN_TL(i) asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(tl[i])::"memory")
/* stamp i of step v by the calling thread, straight into shared memory */
#define RNN_TLS(i)                                                                                 \
    do {                                                                                           \
        unsigned long long t_;                                                                     \
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_)::"memory");                           \
        if (v >= 20 && v < 23) tl_buf[v - 20][i] = t_;                                             \
    } while (0)
#else
#define RNN_TL(i)  ((void)0)
#define RNN_TLS(i) ((void)0)
#endif
    for (int j = 0;; j ^= 1) {
        RNN_TR(0);
        RNN_TL(0);
#ifdef RNN_TRACE
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns0));
#endif
        slot = ps_slot[j];
        int tile = ps_tile[j];
        if (tile < 0) {
            /* A slot without a tile: the first one, or one whose early claim missed. The
             * result goes through other words: a thread may not have read ps_slot[j] /
             * ps_tile[j] yet. */
            if (warp == nw - 1) {
                const int t = rnn_claim(cl, n, (unsigned)slot / (unsigned)n, held,
                                        (int)((unsigned)slot % (unsigned)n));
                if (lane == 0) {
                    ps_fix_slot = slot;
                    ps_fix_tile = t;
                }
            }
            __syncthreads();
            slot = ps_fix_slot;
            tile = ps_fix_tile;
        }
        RNN_TR(1);
        const int reload = tile != held;
        held = tile;
        const unsigned v = (unsigned)slot / (unsigned)n; /* slots fit 31 bits (rnn_prepare) */
        /* this block ran the tile's previous step: what that step wrote of the tile's units,
         * this block's threads wrote */
        const int own_prev = !reload && held_v + 1u == v;
        held_v = v;
        /* A stack's virtual step v: layer 0's step v on tiles 0..nht-1, layer 1's step v - 1 on
         * the others (each waits only for virtual step v - 1); the first and last virtual
         * steps have one layer's tiles idle. */
        const int pipe = STACK == 1, layer = pipe ? tile >= nht : ph3;
        /* (the fused step has one sub-phase per step: no division by pps) */
        const long long vk = pipe    ? (long long)v - layer
                             : FUSED ? (long long)v
                                     : (long long)(v / p->pps);
        const int idle = pipe && (vk < 0 || vk >= p->S);
        rnn_ctx c;
        rnn_ctx_init(&c, a, p, idle ? 0 : vk, STACK || FUSED ? 0 : (int)(v % p->pps),
                     pipe ? tile - layer * nht : tile, layer);
        const int nu = c.nu;
        /* rows (generic) or slots (fused) the tile has beyond the register rows: layer 1 of a
         * stack has its rows of W after those of R */
        const int rslots = FUSED ? p->G * nu - nw * RNN_RROWS : p->G * nu;
        const int want = rslots + (pipe && layer ? p->G * nu : 0);
        const int srows = want < fit ? want : fit;
        if (!TC && reload && srows > 0) {
            const int spw = FUSED ? p->G * (nu / nw) - RNN_RROWS : 1;
            for (int r = warp; r < srows; r += nw) {
                const int rw = r - rslots, rpw = p->G * (nu / nw);
                const int ra = r >= rslots ? rnn_frow(rw % rpw, FUSED, rw / rpw, nw, nu)
                               : FUSED     ? rnn_frow(RNN_RROWS + r % spw, FUSED, r / spw, nw, nu)
                                           : r;
                const float *src =
                    r >= rslots ? rnn_tile_mrow(&c, c.Wd, ra, H) : rnn_tile_row(&c, ra, H);
                for (long long q = 4 * lane; q < H; q += 128)
                    mr_cp_async16(rc + (long long)r * H + q, src + q, true);
            }
            mr_cp_async_commit();
        }
        if (TC && reload)
            rnn_ftc_load(&c, FUSED, (int)H, T, (unsigned *)tc_fr, tc_fits, &tc_sa, &tc_so);
        else if (FUSED && reload)
            rnn_fregs_load(&c, FUSED, (int)H, T, rreg);
        /* Thread 0 waits for the previous virtual step where it must (acquire: with the
         * barrier below, its writes are visible to the whole block), the fused step's warps
         * but the last poll for h_{t-1} (rnn_tagged_wait), and the last warp takes the next
         * slot. */
        /* The fused step: warp w's lanes l < nu / nw own unit w + l nw (its gate math). The
         * gate state of every unit u (rnn_fgate), inputs too where they are this block's own
         * writes (or inputs), is prepared by lane u of the last warp, which does not poll
         * (rnn_tagged_wait), while the others wait for h_{t-1}: prepared by the owners, every
         * warp issued the ~190 instructions of it for its one or two units, and the 16-SM step
         * was ~2.5% slower (docs/KERNEL_NOTES.md, 21). The barrier after the wait publishes it. */
        const int upw = FUSED ? nu / nw : 0, fu = warp + lane * nw;
        const int early = own_prev || c.k == 0;
        if (FUSED && warp == nw - 1 && lane < nu && !idle) {
            rnn_fgate_prep(&c, a, p, lane, &fgs[lane], STACK);
            if (early) rnn_fgate_load(&c, a, p, lane, &fgs[lane], STACK);
        }
        /* Tagged: h_{t-1} comes with its tags, so the count is only waited for where this
         * block reads a unit's c_{t-1} / h_{t-1} that another block wrote (rnn_fgate_load). */
        if (threadIdx.x == 0 && v > 0 && !(TAGGED && early))
            while (ld_acquire_u32(sync + RNN_SYNC_DONE) < v * (unsigned)n) {
            }
        if (TAGGED && !idle && c.k > 0) rnn_tagged_wait(&c, a, p, vbuf, T, TC);
        RNN_TR(2);
        RNN_TL(1);
        if (warp == nw - 1) {
            long long nx = -1;
            int nt = -1;
            /* Only the held tile is tried here: a claim that had to wait for a free tile
             * would hold up this step (with P > n a tile's next step may not be claimed yet). */
            if (lane == 0) {
                /* A launch of the whole phase from slot 0 with one physical block per tile
                 * (the plain form, or a prefilled elastic launch: full width, never
                 * preemptible): block b's first slot is b (plain: one of 0..n-1), its tile the
                 * slot's own, claimed from a fresh claim word, and every claim after it would
                 * succeed on the same tile, one step later. So the next slot is computed
                 * instead of taken and its tile claimed, two dependent L2 round trips that
                 * were on the step's chain (16 SMs: ~10% of the LSTM's elastic steps;
                 * docs/KERNEL_NOTES.md, 25). Other launches (preemptible, shards, other
                 * widths, resumed phases) take and claim each step: there a tile may move.
                 * Not the layered stack's float32 kernels (STACK 2, FAST 0, 16 SMs in
                 * float32): their plain form gained 10% but their elastic form lost 2%, for a
                 * reason not found, so they keep both round trips. Derived here each step (the
                 * empty asm keeps it from being hoisted): kept live through the step, it made
                 * the float32 kernels spill. */
                unsigned gd = gridDim.x;
                asm volatile("" : "+r"(gd));
                const int fixed = RNN_FIXED && (STACK != 2 || FAST != 0) &&
                                  (ctl ? ctl->first >= 0 : 1) && (int)gd == n;
                if (fixed) {
                    /* the block's next slot is its slot's own one step later, on its tile:
                     * what the take and the claim give where every claim succeeds */
                    const long long lim = ctl ? ctl->end : total;
                    nx = slot + n < lim ? slot + n : -1;
                    nt = nx >= 0 ? tile : -1;
                    /* the counter where takes would have left it: the phase's end */
                    if (nx < 0 && ctl) atomicMax(ctl->next, (unsigned long long)ctl->end);
                } else {
                    if (ctl) {
                        nx = mr_elastic_take(ctl);
                    } else {
                        const unsigned s1 = atomicAdd(sync + RNN_SYNC_PLAIN, 1u);
                        nx = s1 < total ? (long long)s1 : -1;
                    }
                    const unsigned nv = (unsigned)nx / (unsigned)n;
                    if (nx >= 0 && atomicCAS(cl + tile, nv, nv + 1) == nv) nt = tile;
                }
                ps_slot[j ^ 1] = nx; /* -1: none left */
                ps_tile[j ^ 1] = nt;
                RNN_TLS(4);
            }
        }
        __syncthreads();
        RNN_TR(3);
        RNN_TL(2);

        const int do_dot = c.vec != NULL;
        if (idle) {
            if (reload) {
                mr_cp_async_wait(); /* the rows are read by the tile's next step */
                __syncthreads();
            }
        } else if (FUSED) {
            /* the gate inputs of this lane's unit, if not loaded yet; h_{t-1} into registers */
            if (!early && lane < upw) rnn_fgate_load(&c, a, p, fu, &fgs[fu], STACK);
            if (pipe && layer) {
                /* W * x_t first, before h_{t-1} takes registers (with both vectors held, the
                 * kernel spilled) */
                if (reload) {
                    mr_cp_async_wait();
                    __syncthreads();
                }
                rnn_fdot_w(&c, rc, rslots, srows, FUSED, (int)H, gs, T);
            }
            const int tv = TAGGED && c.k > 0;
            if (TC) {
                /* h_{t-1} as halves in vbuf (rnn_tagged_wait), or from c.vec (untagged) */
                if (do_dot && !tv)
                    for (int q = threadIdx.x; q < H; q += T)
                        ((unsigned short *)vbuf)[q] = mr_half(__ldcg(c.vec + q));
                if (reload || (do_dot && !tv)) { /* block-uniform */
                    mr_cp_async_wait();
                    __syncthreads();
                }
                RNN_TR(4);
                if (do_dot)
                    rnn_ftc_dot(&c, (const unsigned short *)vbuf, tc_fr, tc_fits, tc_sa, tc_so,
                                FUSED, (int)H, gs, T);
                else
                    for (int r = lane; r < FUSED * upw; r += 32)
                        gs[rnn_frow(r, FUSED, warp, nw, nu) * RNN_BC] = 0.0f;
            } else {
                float4 x[RNN_RQ];
                /* h_{t-1} in vbuf (read from it by name, so that the loads are LDS, not generic
                 * loads that may reach shared memory), or at c.vec */
                const float *hv = c.vec;
                const int al = ((unsigned long long)hv & 15) == 0;
#pragma unroll
                for (int i = 0; i < RNN_RQ; i++) {
                    const int q = lane + 32 * i;
                    x[i] = make_float4(0.f, 0.f, 0.f, 0.f);
                    if (do_dot && q < H / 4 && tv)
                        x[i] = ((const float4 *)vbuf)[q];
                    else if (do_dot && q < H / 4)
                        x[i] = al ? __ldcg((const float4 *)hv + q)
                                  : make_float4(__ldcg(hv + 4 * q), __ldcg(hv + 4 * q + 1),
                                                __ldcg(hv + 4 * q + 2), __ldcg(hv + 4 * q + 3));
                }
                if (reload && !(pipe && layer)) {
                    mr_cp_async_wait();
                    __syncthreads(); /* block-uniform: every warp reads every warp's copies */
                }
                RNN_TR(4);
                if (do_dot) {
                    if (srows >= want)
                        rnn_fdot(&c, x, rreg, rc, srows, FUSED, (int)H, 1, gs, T);
                    else
                        rnn_fdot(&c, x, rreg, rc, srows, FUSED, (int)H, 0, gs, T);
                } else {
                    /* zero initial state: R * 0 = 0, skipped as on the CPU */
                    for (int r = lane; r < FUSED * upw; r += 32)
                        gs[rnn_frow(r, FUSED, warp, nw, nu) * RNN_BC] = 0.0f;
                }
            }
            __syncwarp();
            RNN_TR(5);
            if (threadIdx.x == 0) RNN_TLS(5);
            if (pipe && layer && lane < upw) {
                /* x = biases + W * x_t, the xw of a layer with a projection phase */
#pragma unroll
                for (int gg = 0; gg < 4; gg++)
                    if (gg < p->G) fgs[fu].x[gg] += gs[(gg * nu + fu) * RNN_BC + 1];
            }
            if (lane < upw) rnn_fgate_apply(&fgs[fu], p->gru, gs + fu * RNN_BC, nu * RNN_BC, FAST);
            __syncthreads(); /* every warp's writes before the release */
        } else {
            const int rows = c.ng * nu;
            for (long long b0 = 0; b0 < B; b0 += RNN_BC) {
                const int nbt = (int)(B - b0 < RNN_BC ? B - b0 : RNN_BC);
                if (do_dot)
                    for (int bb = 0; bb < nbt; bb++)
                        for (long long q = threadIdx.x; q < H; q += T)
                            vbuf[bb * H + q] = __ldcg(c.vec + (b0 + bb) * c.ldv + q);
                /* The gate inputs go through shared memory so that their loads complete with
                 * the vector's, before the dot products, instead of being sunk to the gate
                 * math. */
                if (threadIdx.x < nu * nbt)
                    rnn_gate_load(&c, a, p, b0, threadIdx.x, &gin[threadIdx.x]);
                if (reload && b0 == 0) mr_cp_async_wait();
                __syncthreads();
                RNN_TR(4);
                if (do_dot) {
                    if (nbt == 1 && srows >= p->G * nu)
                        rnn_pdot(&c, vbuf, rc, srows, rows, (int)H, 1, 1, gs, T);
                    else if (nbt == 1)
                        rnn_pdot(&c, vbuf, rc, srows, rows, (int)H, 1, 0, gs, T);
                    else
                        rnn_pdot(&c, vbuf, rc, srows, rows, (int)H, RNN_BC, 0, gs, T);
                } else {
                    for (int e = threadIdx.x; e < rows * RNN_BC; e += T) gs[e] = 0.0f;
                }
                __syncthreads();
                RNN_TR(5);
                /* The gate math's context is derived again rather than kept in registers
                 * through the dot products (the empty asm hides that the inputs are the same):
                 * kept, it spilled, and spills are reloaded from L2 after the wait's acquire
                 * invalidated L1. */
                unsigned vt = v, tt = (unsigned)tile;
                asm volatile("" : "+r"(vt), "+r"(tt));
                rnn_ctx_init(&c, a, p, vt / p->pps, (int)(vt % p->pps), (long long)tt, 0);
                rnn_gates(&c, a, p, b0, nbt,
                          &gin[threadIdx.x < RNN_HT_MAX * RNN_BC ? threadIdx.x : 0], gs, T);
                __syncthreads(); /* gs, gin and the vector chunk are reused by the next chunk */
            }
        }
        /* Step done: every thread's writes are before the barrier above; the release orders
         * them before the count that lets the next step start. */
        RNN_TR(6);
        RNN_TL(3);
#ifdef RNN_TIMELINE
        if (v >= 20 && v < 23 && threadIdx.x == 0)
#pragma unroll
            for (int q = 0; q < 4; q++) tl_buf[v - 20][q] = tl[q];
        if (ps_slot[j ^ 1] < 0 && p->NI == 256 && threadIdx.x == 0) {
            unsigned sm_;
            asm volatile("mov.u32 %0, %%smid;" : "=r"(sm_));
            printf("tlsm %d %u\n", (int)blockIdx.x, sm_);
            for (int q = 0; q < 3; q++)
                printf("tl %d %d %llu %llu %llu %llu %llu %llu\n", (int)blockIdx.x, 20 + q,
                       tl_buf[q][0], tl_buf[q][1], tl_buf[q][2], tl_buf[q][3], tl_buf[q][4],
                       tl_buf[q][5]);
        }
#endif
        if (threadIdx.x == 0) red_release_add_u32(sync + RNN_SYNC_DONE, 1u);
#ifdef RNN_TRACE
        if (v >= 5 && v < 45) {
            asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns1));
            ts[0] += tr1 - tr0, ts[1] += tr2 - tr1, ts[2] += tr3 - tr2, ts[3] += tr4 - tr3;
            ts[4] += tr5 - tr4, ts[5] += tr6 - tr5, ts[6] += ns1 - ns0, ts[7] += ns0 - nsp;
            tn++;
        }
        nsp = ns0;
        if (ps_slot[j ^ 1] < 0 && threadIdx.x == 0 && (blockIdx.x == 0 || blockIdx.x == 17) &&
            p->NI == 256 && tn > 0)
            printf("trace blk %d steps %d: claim %lld wait %lld bar %lld load %lld dot %lld "
                   "gates %lld cycles; step body %lld ns, period %lld ns\n",
                   (int)blockIdx.x, tn, ts[0] / tn, ts[1] / tn, ts[2] / tn, ts[3] / tn, ts[4] / tn,
                   ts[5] / tn, ts[6] / tn, ts[7] / tn);
#endif
        if (ps_slot[j ^ 1] < 0) return;
    }
}

/* The kernels of one launch per step (phases 1..) */
static __device__ __forceinline__ void rnn_body(const mr_cuda_args *a, long long blk, int TM, int T,
                                                int STAGED) {
    __shared__ float gs[4 * RNN_HT_MAX * RNN_BC]; /* R*vec sums: [row][batch] */
    __shared__ __align__(16) rnn_proj_smem gts;
    const rnn_k_params *p = MR_PARAMS(rnn_k_params, a);
    if (a->phase == 0) {
        rnn_proj(a, p, blk, TM, T, &gts, 0);
    } else {
        long long k = (a->phase - 1) / p->pps;
        int sub = (a->phase - 1) % p->pps;
        rnn_step(a, p, k, sub, blk, T, STAGED, gs);
    }
}

static __device__ void rnn_body_256(const mr_cuda_args *a, long long blk, int how,
                                    const mr_elastic_ctl *ctl) {
    rnn_body(a, blk, 4, 256, 0);
}
static __device__ void rnn_body_256s(const mr_cuda_args *a, long long blk, int how,
                                     const mr_elastic_ctl *ctl) {
    rnn_body(a, blk, 4, 256, 1);
}
static __device__ void rnn_body_64(const mr_cuda_args *a, long long blk, int how,
                                   const mr_elastic_ctl *ctl) {
    rnn_body(a, blk, 8, 64, 0);
}

/* The persistent recurrence's kernels (phase 1 is every step): their own, so that the
 * register rows and the per-step kernels' staging do not share one register budget, and
 * with all the projection's staging in dynamic shared memory (which rnn_pstep reuses for the
 * vector and the rows of R), so that static shared memory takes nothing from the rows.
 * FUSED: 0, or G for the fused step. */
static __device__ __forceinline__ void rnn_pbody(const mr_cuda_args *a, long long blk, int how,
                                                 const mr_elastic_ctl *ctl, int TM, int T,
                                                 int FUSED, int STACK, int FAST) {
    __shared__ float gs[4 * RNN_HT_MAX * RNN_BC];
    __shared__ long long next_blk[2];
    extern __shared__ __align__(16) float rnn_pdyn[];
    const rnn_k_params *p = MR_PARAMS(rnn_k_params, a);
    if (a->phase == 0 || (STACK == 2 && a->phase == 2)) {
        /* The kernels are MR_ELASTIC_KERNEL_ONCE: the elastic form takes the projection's
         * further logical blocks here. */
        for (int s = 1, first = 1;; s ^= 1, first = 0) {
            rnn_proj(a, p, blk, TM, T, (rnn_proj_smem *)(void *)rnn_pdyn, a->phase == 2);
            if (!ctl) return;
            blk = mr_elastic_next(ctl, blk, first, &next_blk[s]);
            if (blk < 0) return;
        }
    } else if (STACK == 2 && a->phase == 3)
        rnn_pstep(a, p, blk, how, ctl, T, FUSED, STACK, 1, FAST, gs);
    else
        rnn_pstep(a, p, blk, how, ctl, T, FUSED, STACK, 0, FAST, gs);
}
#define RNN_PBODY(NAME, TM, T, FUSED, STACK, FAST)                                                 \
    static __device__ void NAME(const mr_cuda_args *a, long long blk, int how,                     \
                                const mr_elastic_ctl *ctl) {                                       \
        rnn_pbody(a, blk, how, ctl, TM, T, FUSED, STACK, FAST);                                    \
    }
RNN_PBODY(rnn_pbody_256, 4, 256, 0, 0, 0)
RNN_PBODY(rnn_pbody_64, 8, 64, 0, 0, 0)

/* Two 256-thread blocks per SM (at most 128 registers): a step spreads over as many blocks
 * as fit (rnn_prepare's tiles assume 2 per SM). */
MR_ELASTIC_KERNEL_HOW(mr_rnn_t256, 256, 2, rnn_body_256)
MR_ELASTIC_KERNEL_HOW(mr_rnn_t256s, 256, 2, rnn_body_256s)
MR_ELASTIC_KERNEL_HOW(mr_rnn_t64, 64, 1, rnn_body_64)
MR_ELASTIC_KERNEL_ONCE(mr_rnn_p256, 256, 2, rnn_pbody_256)
MR_ELASTIC_KERNEL_ONCE(mr_rnn_p64, 64, 1, rnn_pbody_64)

/* The fused step's kernels, per FORM (f: a single layer; sf: two stacked layers, pipelined; qf:
 * two stacked layers one after the other) and gate count G: 256 and 64 threads, each with
 * float32's activations and (NAME x) TF32's approximated ones (act_sigm). The activations are a
 * literal of the kernel: chosen at run time inside the gate math, the float32 step ran ~1.5%
 * slower, and branching around two inlined copies of the gate math made the elastic 16-SM
 * step 7-12% slower in either precision (docs/KERNEL_NOTES.md, 23). */
#define RNN_PFAM(FORM, G, STACK)                                                                   \
    RNN_PBODY(rnn_pbody_##FORM##G##_256, 4, 256, G, STACK, 0)                                      \
    RNN_PBODY(rnn_pbody_##FORM##G##_64, 8, 64, G, STACK, 0)                                        \
    RNN_PBODY(rnn_pbody_##FORM##G##x_256, 4, 256, G, STACK, 1)                                     \
    RNN_PBODY(rnn_pbody_##FORM##G##x_64, 8, 64, G, STACK, 1)                                       \
    MR_ELASTIC_KERNEL_ONCE(mr_rnn_##FORM##G##_256, 256, 2, rnn_pbody_##FORM##G##_256)              \
    MR_ELASTIC_KERNEL_ONCE(mr_rnn_##FORM##G##_64, 64, 1, rnn_pbody_##FORM##G##_64)                 \
    MR_ELASTIC_KERNEL_ONCE(mr_rnn_##FORM##G##x_256, 256, 2, rnn_pbody_##FORM##G##x_256)            \
    MR_ELASTIC_KERNEL_ONCE(mr_rnn_##FORM##G##x_64, 64, 1, rnn_pbody_##FORM##G##x_64)
RNN_PFAM(f, 4, 0)
RNN_PFAM(f, 3, 0)
RNN_PFAM(sf, 4, 1) /* two stacked layers (ops/rnn.h), pipelined */
RNN_PFAM(sf, 3, 1)
RNN_PFAM(qf, 4, 2) /* two stacked layers, one after the other */
RNN_PFAM(qf, 3, 2)
/* The layered LSTM stack's fused step with its dot products on tensor cores (TF32 only,
 * rnn_ftc_dot; FAST 2: TF32's activations too), 256 threads. */
RNN_PBODY(rnn_pbody_qf4t_256, 4, 256, 4, 2, 2)
MR_ELASTIC_KERNEL_ONCE(mr_rnn_qf4t_256, 256, 2, rnn_pbody_qf4t_256)

static const mr_cuda_variant rnn_full = {
    "t256", (const void *)mr_rnn_t256_elastic, (const void *)mr_rnn_t256_plain, NULL, 256, 0};
static const mr_cuda_variant rnn_small = {
    "t64", (const void *)mr_rnn_t64_elastic, (const void *)mr_rnn_t64_plain, NULL, 64, 0};
static const mr_cuda_variant rnn_staged = {
    "t256_staged",  (const void *)mr_rnn_t256s_elastic, (const void *)mr_rnn_t256s_plain, NULL, 256,
    RNN_STAGE_BYTES};
/* The persistent recurrence's variants, per kernel family (generic, fused LSTM, fused GRU):
 * the same kernels with dynamic shared memory for the vector and rows of R (rnn_pstep). The
 * full one is the largest that fits as many blocks per SM as the kernel's registers allow (up
 * to 2), so that the whole of R is on chip where the SMs can hold it; the small one holds the
 * vector and a few rows. */
#define RNN_PSMALL_BYTES (16 * 1024)
/* The small variants' dynamic shared memory: the vector chunk the persistent recurrence
 * allows (RNN_PSMALL_BYTES), and the TF32 projection's tile, which the projection phases of
 * the same kernels keep there. */
#define RNN_PSMALL_SMEM (20 * 1024)
static_assert(sizeof(rnn_proj_smem) <= RNN_PSMALL_SMEM && RNN_PSMALL_BYTES <= RNN_PSMALL_SMEM,
              "the small variants' shared memory");
#define RNN_PV(LABEL, K, T, SMEM)                                                                  \
    { LABEL, (const void *)K##_elastic, (const void *)K##_plain, NULL, T, SMEM }
enum {
    RNN_FAM_GENERIC,
    RNN_FAM_LSTM,
    RNN_FAM_GRU,
    RNN_FAM_SLSTM, /* stacked, pipelined */
    RNN_FAM_SGRU,
    RNN_FAM_QLSTM, /* stacked, one layer after the other */
    RNN_FAM_QGRU,
    RNN_FAM_TF32, /* + a fused family: its kernels with TF32's activations (RNN_PFAM) */
    RNN_FAMS = RNN_FAM_TF32 + RNN_FAM_QGRU
};
/* A family's three 256-thread variants: most rows of R in shared memory, fewer, the fewest. */
#define RNN_PV3(FORM, K)                                                                           \
    {                                                                                              \
        RNN_PV("t256_" FORM "r104k", K, 256, 104 * 1024),                                          \
            RNN_PV("t256_" FORM "r48k", K, 256, 48 * 1024),                                        \
            RNN_PV("t256_" FORM "r20k", K, 256, RNN_PSMALL_SMEM)                                   \
    }
/* The fused families' variants in RNN_FAM_LSTM's order, their kernels' names ending in X (empty,
 * or x for TF32's, RNN_PFAM). */
#define RNN_PV3_FUSED(X)                                                                           \
    RNN_PV3("fused_", mr_rnn_f4##X##_256), RNN_PV3("fused_", mr_rnn_f3##X##_256),                  \
        RNN_PV3("stacked_", mr_rnn_sf4##X##_256), RNN_PV3("stacked_", mr_rnn_sf3##X##_256),        \
        RNN_PV3("layered_", mr_rnn_qf4##X##_256), RNN_PV3("layered_", mr_rnn_qf3##X##_256)
#define RNN_PV_FUSED(X)                                                                            \
    RNN_PV("t64_fused_r20k", mr_rnn_f4##X##_64, 64, RNN_PSMALL_SMEM),                              \
        RNN_PV("t64_fused_r20k", mr_rnn_f3##X##_64, 64, RNN_PSMALL_SMEM),                          \
        RNN_PV("t64_stacked_r20k", mr_rnn_sf4##X##_64, 64, RNN_PSMALL_SMEM),                       \
        RNN_PV("t64_stacked_r20k", mr_rnn_sf3##X##_64, 64, RNN_PSMALL_SMEM),                       \
        RNN_PV("t64_layered_r20k", mr_rnn_qf4##X##_64, 64, RNN_PSMALL_SMEM),                       \
        RNN_PV("t64_layered_r20k", mr_rnn_qf3##X##_64, 64, RNN_PSMALL_SMEM)
static const mr_cuda_variant rnn_persist_full[RNN_FAMS][3] = {
    RNN_PV3("", mr_rnn_p256),
    RNN_PV3_FUSED(),
    RNN_PV3_FUSED(x),
};
static const mr_cuda_variant rnn_persist_small[RNN_FAMS] = {
    RNN_PV("t64_r20k", mr_rnn_p64, 64, RNN_PSMALL_SMEM),
    RNN_PV_FUSED(),
    RNN_PV_FUSED(x),
};
/* The tensor-core kernel's variants (rnn_tc_ok). Its small variant is the same 256-thread kernel
 * (rnn_ftc_dot takes at most 8 rows per warp, which the plan's tiles give 8 warps), its rows
 * then read from L2 every step. */
static const mr_cuda_variant rnn_tc_full[3] = RNN_PV3("layered_tc_", mr_rnn_qf4t_256);
static const mr_cuda_variant rnn_tc_small =
    RNN_PV("t256_layered_tc_r20k", mr_rnn_qf4t_256, 256, RNN_PSMALL_SMEM);

/* ---- host side ---- */

/* The input projection's phases: 0, and a stack's 2 when not pipelined. */
static int rnn_is_proj(const rnn_k_params *p, int phase) {
    return phase == 0 || (p->stack && !p->pipe && phase == 2);
}

static long long rnn_phase_blocks(const mr_cuda_plan *plan, int phase) {
    const rnn_k_params *p = (const rnn_k_params *)(const void *)plan->params;
    if (rnn_is_proj(p, phase)) return p->dirs * p->n_pr * p->n_pc;
    return p->persist ? p->n_tiles * p->vsteps : p->dirs * p->n_ht;
}

/* The persistent recurrence's plain form takes its slots itself (rnn_pstep): a grid of the
 * blocks that fit at once, which then keep their tiles' rows on chip from step to step. */
static long long rnn_plain_grid(const mr_cuda_plan *plan, int phase, long long full) {
    const long long nb = rnn_phase_blocks(plan, phase);
    const rnn_k_params *p = (const rnn_k_params *)(const void *)plan->params;
    return rnn_is_proj(p, phase) || !p->persist || full >= nb ? nb : full;
}

/* The persistent recurrence's width: one block per tile of a step. A block past it would take
 * a slot of a later step and wait, and blocks would trade tiles (and reload their rows of R)
 * instead of each keeping its own: on an H200's whole GPU (128 tiles, 264 blocks) that made a
 * 2-layer LSTM twice as slow as one launch per step (docs/KERNEL_NOTES.md, 12 and 18). */
static long long rnn_phase_width(const mr_cuda_plan *plan, int phase) {
    const rnn_k_params *p = (const rnn_k_params *)(const void *)plan->params;
    return !rnn_is_proj(p, phase) && p->persist ? p->n_tiles : rnn_phase_blocks(plan, phase);
}

/* Whether the layered stack of p (not pipelined) takes its fused step's dot products on tensor
 * cores (mr_rnn_qf4t_256, rnn_ftc_dot): TF32; an LSTM; at most 8 rows per warp of the 256-thread
 * kernel (tiles of at most 16 units); H a multiple of 128 that rnn_ftc_load's registers hold; and
 * in either layer no initial_h but a constant one within [-1, 1] (as exporters may write the
 * zero state), as h_{t-1} goes into halves unscaled. Measured on an H200 (16 SMs,
 * docs/KERNEL_NOTES.md, 24): the zoo's LSTM 6.3% faster, its GRU ~4% slower (6 rows per warp
 * cost the float32 FMAs less, the padded mma the same), so the GRU, and single layers (tiles of
 * 8 units elsewhere: half of each mma padding), keep the float32 dot products. RNN_TC 0 (a study
 * build): never. */
#ifndef RNN_TC
#define RNN_TC 1
#endif
static int rnn_tc_ok(const mr_graph *g, const rnn_k_params *p, const mr_node *n) {
    if (!RNN_TC || !p->tf32 || p->gru || p->H % 128 || p->H > 128 * RNN_RQ || p->ht % 8 ||
        p->G * (p->ht / 8) > 8)
        return 0;
    for (int l = 0; l < 2; l++) {
        const int i = l * MR_RNN_STACK_IN + IN_H0;
        if (i >= n->n_in || n->in[i] < 0) continue;
        const mr_tensor_desc *t = &g->tensors[n->in[i]];
        if (!t->data || t->dtype != MR_DTYPE_F32) return 0;
        const float *h0 = (const float *)t->data;
        for (int64_t e = 0, ne = mr_desc_numel(t); e < ne; e++)
            if (!(fabsf(h0[e]) <= 1.0f)) return 0;
    }
    return 1;
}

/* The persistent recurrence's variants of family fam (rnn_persist_full: the first that fits as
 * many blocks per SM as the kernel without shared memory, at most 2), for node n; a fused
 * family's TF32 kernels where p says TF32, its tensor-core kernels where tc (rnn_tc_ok). */
static mr_status rnn_persist_variants(mr_cuda_plan *plan, int fam, int tc, const rnn_k_params *p,
                                      const mr_node *n, mr_err *err) {
    const mr_cuda_variant *f, *small;
    if (tc) {
        f = rnn_tc_full;
        small = &rnn_tc_small;
    } else {
        if (fam != RNN_FAM_GENERIC && p->tf32) fam += RNN_FAM_TF32 - 1;
        f = rnn_persist_full[fam];
        small = &rnn_persist_small[fam];
    }
    cudaError_t e = mr_cuda_smem_attr(f);
    int want = 0, per_sm = 0;
    if (e == cudaSuccess)
        e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&want, f->elastic, 256, 0);
    if (want > 2) want = 2;
    plan->variants[0] = &f[2];
    for (int i = 0; i < 2 && e == cudaSuccess; i++) {
        e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f->elastic, 256,
                                                          (size_t)f[i].smem);
        if (e == cudaSuccess && per_sm >= want) {
            plan->variants[0] = &f[i];
            break;
        }
    }
    plan->variants[1] = small;
    if (e != cudaSuccess) {
        cudaGetLastError();
        return mr_err_node(err, MR_ERR_BACKEND, n,
                           "setting up the recurrent kernel's shared memory: %s",
                           cudaGetErrorString(e));
    }
    return MR_OK;
}

static size_t round_up32(size_t v) {
    return (v + 31) / 32 * 32;
}

static mr_status rnn_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                             mr_cuda_plan *plan, mr_err *err, int gru) {
    rnn_k_params p;
    memset(&p, 0, sizeof p);
    p.gru = gru;
    p.G = gru ? 3 : 4;
    p.tf32 = cfg->precision == MR_PRECISION_TF32;

    /* The CPU op's init parsed the attributes (refusing clip, input_forget and non-default
     * activations) and its infer checked every input's shape and float32 type and the sizes'
     * ranges (ops/rnn.h); sequence_lens, when present, was checked to equal seq_length
     * everywhere: it changes nothing and is not read. */
    const mr_rnn_params *cp = (const mr_rnn_params *)n->params;
    if (!cp) return mr_err_node(err, MR_ERR_INTERNAL, n, "not prepared by the CPU op");
    p.dirs = cp->dirs;
    p.first_rev = cp->first_rev;
    p.layout = cp->layout;
    p.lbr = cp->lbr;
    p.S = cp->S;
    p.B = cp->B;
    p.NI = cp->NI;
    p.H = cp->H;
    const long long D = p.dirs, G = p.G, S = p.S, B = p.B, H = p.H, GH = G * H;

    /* Recurrent tiles: enough blocks per step to spread over the SMs (the step is latency
     * bound), each block at most ~1M multiply-adds. With one batch entry a warp keeps up to
     * RNN_ROWS rows of R in flight, so where SMs are few, blocks of more rows (fewer
     * blocks) take fewer waves of the 2 blocks that fit per SM: measured on an H200, a
     * 2-layer LSTM (H 512) on 16 SMs took 2.03 ms with 128 blocks, 1.30 ms with 64 (two
     * waves) and 1.05 ms with 32 (one wave); a GRU 1.96, 1.11 and 0.91 ms. (The whole GPU
     * keeps 128: 0.62 ms, against 0.69 with 64.) RNN_BLOCKS_PER_SM blocks per SM then. */
#ifndef RNN_BLOCKS_PER_SM /* may be set at build time to study the trade-off */
#define RNN_BLOCKS_PER_SM 2
#endif
    long long min_blocks = 128;
    if (B == 1 && cfg->sms > 0 && RNN_BLOCKS_PER_SM * (long long)cfg->sms < min_blocks)
        min_blocks = RNN_BLOCKS_PER_SM * (long long)cfg->sms < 16
                         ? 16
                         : RNN_BLOCKS_PER_SM * (long long)cfg->sms;
    long long ht = RNN_HT_MAX;
    while (ht > 1 && (D * ((H + ht - 1) / ht) < min_blocks || (double)(G * ht) * B * H > 1048576.0))
        ht /= 2;
    if (ht > H) ht = H;
    p.pps = gru && !p.lbr ? 2 : 1;

    /* The persistent recurrence (rnn_pstep) where its vector chunk fits the small variant's
     * shared memory (and, below, its counts fit 32 bits); else one phase per step. Its
     * automatic choice (-1) takes it for batch 1, on any width: with one block per tile
     * (rnn_phase_width) each block keeps its rows of R on chip through the steps, and the
     * step loses a launch. Measured on an H200 (docs/KERNEL_NOTES.md, 13 and 18). */
#ifndef RNN_PERSIST /* may be set to 0 at build time to measure the per-step phases */
#define RNN_PERSIST 1
#endif
    const long long nbc = B < RNN_BC ? B : RNN_BC;
    const int want = cfg->persistent_recurrence < 0 ? B == 1 : cfg->persistent_recurrence;
    int persist = RNN_PERSIST && want && H % 4 == 0 && nbc * H * 4 <= RNN_PSMALL_BYTES;
    /* Persistent, batch 1: tiles for the fused step (rnn_fdot: a multiple of its 8 warps'
     * units) and no more of them than the blocks that fit (RNN_BLOCKS_PER_SM per SM), the
     * smallest such: the most SMs share a step, and every block holds a tile. */
#ifndef RNN_PERSIST_HT /* may be set at build time to study the tile size (0: chosen here) */
#define RNN_PERSIST_HT 0
#endif
    if (persist && B == 1 && cfg->sms > 0) {
        for (long long h2 = 8; h2 <= RNN_HT_MAX; h2 *= 2)
            if (H % h2 == 0 && D * (H / h2) <= RNN_BLOCKS_PER_SM * (long long)cfg->sms) {
                ht = h2;
                break;
            }
        if (RNN_PERSIST_HT > 0 && RNN_PERSIST_HT <= H) ht = RNN_PERSIST_HT;
    }
    p.ht = ht;
    p.n_ht = (H + ht - 1) / ht;
    p.n_pr = (S * B + MR_GT_TILE - 1) / MR_GT_TILE;
    p.n_pc = (GH + MR_GT_TILE - 1) / MR_GT_TILE;
    const long long tiles = D * p.n_ht;
    p.persist = persist && (double)S * p.pps * tiles < 2147483647.0;
    p.n_tiles = tiles;
    p.vsteps = S * p.pps;

    /* Workspace: xw, h[2], aux[2] (LSTM c; GRU lbr=0 z and r (.) h; unused for GRU lbr=1), and
     * the persistent recurrence's sync words and tagged h_t. */
    int64_t dsb, xw, hb;
    if (!mr_mul_i64(D * S, B, &dsb) || !mr_mul_i64(dsb, GH, &xw) || !mr_mul_i64(D * B, H, &hb))
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "workspace too large");
    size_t off = round_up32((size_t)xw), hbr = round_up32((size_t)hb);
    p.off_h[0] = (long long)off;
    p.off_h[1] = (long long)(off + hbr);
    p.off_a[0] = (long long)(off + 2 * hbr);
    p.off_a[1] = (long long)(off + 3 * hbr);
    size_t total = off + (gru && p.lbr ? 2 : 4) * hbr;

    if (p.persist) {
        p.off_sync = (long long)total;
        total += round_up32((size_t)(RNN_SYNC_CLAIMS + tiles));
        /* the fused step's tagged h_t ([2][D][H] 64-bit words; B is 1 where it runs) */
        p.off_ht[0] = (long long)total;
        total += round_up32((size_t)(4 * D * H));
    }
    if (!mr_mul_size(total, sizeof(float), &plan->workspace_bytes) ||
        plan->workspace_bytes > MR_MAX_ALLOC)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "workspace too large");

    long long phases = p.persist ? 2 : 1 + S * p.pps;
    if (phases > 0x7fffffff) return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "sequence too long");
    long long proj = D * p.n_pr * p.n_pc, step = tiles * (p.persist ? S * p.pps : 1);
    plan->n_phases = (int)phases;
    plan->n_blocks = proj > step ? proj : step;
    plan->phase_blocks = rnn_phase_blocks;
    plan->plain_grid = rnn_plain_grid;
    plan->phase_width = rnn_phase_width;
    plan->n_variants = 2;
    plan->variants[0] = &rnn_full;
    plan->variants[1] = &rnn_small;
    if (p.persist) {
        /* the fused step (rnn_fdot) where its conditions hold for every tile */
        const int fused = B == 1 && p.pps == 1 && H <= 128 * RNN_RQ && ht % 8 == 0 && H % ht == 0;
        MR_TRY(rnn_persist_variants(plan,
                                    !fused ? RNN_FAM_GENERIC
                                    : gru  ? RNN_FAM_GRU
                                           : RNN_FAM_LSTM,
                                    0, &p, n, err));
        return mr_cuda_set_params(plan, &p, sizeof p, n, err);
    }
    /* Batch 1 with 16-byte rows: the staged variant (rnn_step), whose 64 KiB of dynamic shared
     * memory is past the 48 KiB a kernel gets without opting in, and which needs the SM's
     * largest shared-memory carveout for two blocks per SM. It is used only where as many of
     * its blocks fit an SM as of the unstaged kernel's (the plan's tiles assume as many). */
    if (B == 1 && H % 4 == 0 && H * 4 <= RNN_STAGE_BYTES) {
        cudaError_t e = mr_cuda_smem_attr(&rnn_staged); /* RNN_STAGE_BYTES */
        int staged_per_sm = 0, full_per_sm = 0;
        if (e == cudaSuccess)
            e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&staged_per_sm, rnn_staged.elastic,
                                                              256, RNN_STAGE_BYTES);
        if (e == cudaSuccess)
            e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&full_per_sm, rnn_full.elastic, 256,
                                                              0);
        if (e != cudaSuccess) {
            cudaGetLastError();
            return mr_err_node(err, MR_ERR_BACKEND, n,
                               "setting up the recurrent kernel's %d bytes of shared memory: %s",
                               RNN_STAGE_BYTES, cudaGetErrorString(e));
        }
        if (staged_per_sm >= full_per_sm) plan->variants[0] = &rnn_staged;
    }
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

static mr_status lstm_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                              mr_cuda_plan *plan, mr_err *err) {
    return rnn_prepare(g, n, cfg, plan, err, 0);
}
static mr_status gru_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                             mr_cuda_plan *plan, mr_err *err) {
    return rnn_prepare(g, n, cfg, plan, err, 1);
}

/* Two stacked layers (ops/rnn.h), in the shapes the pass stacks (batch 1, forward, layout 0,
 * one phase per step, equal H, a multiple of 8 up to MR_RNN_STACK_MAX_H), always persistent
 * (persistent_recurrence applies to single layers). Tiles as a single layer's (rnn_prepare).
 * Pipelined where both layers' tiles fit the blocks that fit at once (RNN_BLOCKS_PER_SM per
 * SM; an H200's whole GPU): phase 0 is layer 0's projection, phase 1 both layers' recurrences
 * in one persistent launch (rnn_pstep), S + 1 virtual steps of 2 x n_ht tiles, layer 1's step
 * t (its W * x_t in the step) beside layer 0's step t + 1. Else (16 SMs: the rows of R and W
 * of both layers do not fit on chip, and the pipelined form measured 1.9x slower) the layers
 * run one after the other: phases 0 and 1 layer 0's, 2 and 3 layer 1's, with kernels of
 * their own (RNN_FAM_QLSTM, RNN_FAM_QGRU; rnn_pstep). */
static mr_status stack_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                               mr_cuda_plan *plan, mr_err *err, int gru) {
    const mr_rnn_stack *st = (const mr_rnn_stack *)n->params;
    if (!st) return mr_err_node(err, MR_ERR_INTERNAL, n, "not prepared by the CPU op");
    const mr_rnn_params *l0 = &st->l[0], *l1 = &st->l[1];
    if (l0->B != 1 || l0->dirs != 1 || l1->dirs != 1 || l0->layout || l1->layout || l0->first_rev ||
        l1->first_rev || l1->H != l0->H || l1->NI != l0->H || l0->H % 8 ||
        l0->H > MR_RNN_STACK_MAX_H || (gru && (!l0->lbr || !l1->lbr)))
        return mr_err_node(err, MR_ERR_INTERNAL, n, "stacked layers of a shape not stacked");
    rnn_k_params p;
    memset(&p, 0, sizeof p);
    p.gru = gru;
    p.G = gru ? 3 : 4;
    p.tf32 = cfg->precision == MR_PRECISION_TF32;
    p.dirs = 1;
    p.lbr = l0->lbr;
    p.pps = 1;
    p.S = l0->S;
    p.B = 1;
    p.NI = l0->NI;
    p.H = l0->H;
    const long long S = p.S, H = p.H, GH = p.G * H;
    const long long width = cfg->sms > 0 ? RNN_BLOCKS_PER_SM * (long long)cfg->sms : 1LL << 30;
    long long ht = 0;
    for (long long h2 = 8; h2 <= RNN_HT_MAX && !ht; h2 *= 2)
        if (H % h2 == 0 && H / h2 <= width) ht = h2;
    if (!ht) /* fewer blocks than tiles: they take turns (slower, still correct) */
        ht = H % 32 == 0 ? 32 : H % 16 == 0 ? 16 : 8;
    p.ht = ht;
    p.n_ht = H / ht;
    p.pipe = 2 * p.n_ht <= width;
    p.n_tiles = p.pipe ? 2 * p.n_ht : p.n_ht;
    p.vsteps = p.pipe ? S + 1 : S;
    p.n_pr = (S + MR_GT_TILE - 1) / MR_GT_TILE;
    p.n_pc = (GH + MR_GT_TILE - 1) / MR_GT_TILE;
    p.persist = 1;
    p.stack = 1;
    if ((double)p.vsteps * p.n_tiles >= 2147483647.0)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "sequence too long");

    /* Workspace: layer 0's xw (then layer 1's, not pipelined), h[2], c[2], layer 1's h[2],
     * c[2], layer 0's Y, the sync words (and, not pipelined, phase 3's and both layers' tagged
     * h_t). */
    int64_t xw, y0;
    if (!mr_mul_i64(S, GH, &xw) || !mr_mul_i64(S, H, &y0))
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "workspace too large");
    size_t off = round_up32((size_t)xw), hbr = round_up32((size_t)H);
    p.off_xw1 = (long long)off;
    if (!p.pipe) off += round_up32((size_t)xw);
    for (int i = 0; i < 2; i++) {
        p.off_h[i] = (long long)(off + i * hbr);
        p.off_a[i] = (long long)(off + (2 + i) * hbr);
        p.off_h1[i] = (long long)(off + (4 + i) * hbr);
        p.off_a1[i] = (long long)(off + (6 + i) * hbr);
    }
    p.off_y0 = (long long)(off + 8 * hbr);
    const size_t nsync = round_up32((size_t)(RNN_SYNC_CLAIMS + p.n_tiles));
    p.off_sync = p.off_y0 + (long long)round_up32((size_t)y0);
    p.off_sync1 = p.off_sync + (long long)nsync;
    size_t total = (size_t)p.off_sync1 + (p.pipe ? 0 : nsync);
    if (!p.pipe) /* each layer's tagged h_t ([2][H] 64-bit words; rnn_pstep) */
        for (int l = 0; l < 2; l++) {
            p.off_ht[l] = (long long)total;
            total += round_up32((size_t)(4 * H));
        }
    if (!mr_mul_size(total, sizeof(float), &plan->workspace_bytes) ||
        plan->workspace_bytes > MR_MAX_ALLOC)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "workspace too large");
    const long long proj = p.n_pr * p.n_pc, steps = p.n_tiles * p.vsteps;
    plan->n_phases = p.pipe ? 2 : 4;
    plan->n_blocks = proj > steps ? proj : steps;
    plan->phase_blocks = rnn_phase_blocks;
    plan->plain_grid = rnn_plain_grid;
    plan->phase_width = rnn_phase_width;
    plan->n_variants = 2;
    MR_TRY(rnn_persist_variants(
        plan, p.pipe ? (gru ? RNN_FAM_SGRU : RNN_FAM_SLSTM) : (gru ? RNN_FAM_QGRU : RNN_FAM_QLSTM),
        !p.pipe && rnn_tc_ok(g, &p, n), &p, n, err));
    return mr_cuda_set_params(plan, &p, sizeof p, n, err);
}

static mr_status lstm_stack_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                    mr_cuda_plan *plan, mr_err *err) {
    return stack_prepare(g, n, cfg, plan, err, 0);
}
static mr_status gru_stack_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                   mr_cuda_plan *plan, mr_err *err) {
    return stack_prepare(g, n, cfg, plan, err, 1);
}

MR_CUDA_OP(mr_cuda_op_lstm, "LSTM", lstm_prepare);
MR_CUDA_OP(mr_cuda_op_lstm_stack, "StackedLSTM", lstm_stack_prepare);
MR_CUDA_OP(mr_cuda_op_gru_stack, "StackedGRU", gru_stack_prepare);
MR_CUDA_OP(mr_cuda_op_gru, "GRU", gru_prepare);
