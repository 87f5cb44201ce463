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
 *
 * Float32 under either precision: the input projection is a small part of a recurrent
 * model's time (the recurrence phases are latency and bandwidth bound), so TF32 would add error
 * through the time steps for no measurable gain.
 *
 * Variants: 0 = 256 threads (tile 4x4 outputs per thread in phase 0), 1 = 64 threads (8x8).
 * Each dot product and each tile element is accumulated in the same order in both, so the
 * results are bit-identical whichever variant runs a block.
 */
#include <math.h>

#include "cuda/gemm_tile.cuh"

extern "C" {
#include "core/alloc.h"
#include "ops/rnn.h"
}

enum { IN_X, IN_W, IN_R, IN_B, IN_SEQ, IN_H0, IN_C0, IN_P };
enum { OUT_Y, OUT_YH, OUT_YC };

#define RNN_HT_MAX 32                    /* hidden units per recurrent block, at most */
#define RNN_BC     4                     /* batch entries per dot-product pass */
#define GS         (RNN_HT_MAX * RNN_BC) /* gate stride in the shared sums */
#define RNN_ROWS   4                     /* rows of R per warp pass (one batch entry) */
/* The staged variant's dynamic shared memory: the first rows of a batch-1 step's R tile are
 * copied there with cp.async (see rnn_step). 64 KiB: two 256-thread blocks per SM still fit
 * (the registers allow two). */
#define RNN_STAGE_BYTES (64 * 1024)

typedef struct rnn_k_params {
    int gru, G, dirs, first_rev, layout, lbr, pps;
    long long S, B, NI, H;
    long long ht, n_ht;           /* recurrent tiles: units per block, blocks per direction */
    long long n_pr, n_pc;         /* projection tiles per direction: rows, gate columns */
    long long off_h[2], off_a[2]; /* workspace offsets (floats); xw is at 0 */
} rnn_k_params;

static __device__ __forceinline__ float sigm(float v) {
    return 1.0f / (1.0f + expf(-v));
}

/* Phase 0 */
static __device__ __forceinline__ void rnn_proj(const mr_cuda_args *a, const rnn_k_params *p,
                                                long long j, int TM, int T) {
    __shared__ __align__(16) mr_gt_smem s;
    const long long H = p->H, GH = p->G * H, NI = p->NI, SB = p->S * p->B;
    const long long per_dir = p->n_pr * p->n_pc;
    const long long d = j / per_dir, rt = (j % per_dir) / p->n_pc, ct = j % p->n_pc;
    const float *X = (const float *)a->in[IN_X];
    const float *W = (const float *)a->in[IN_W] + d * GH * NI;
    const float *Bv = (const float *)a->in[IN_B];
    float *xw = (float *)a->workspace + d * SB * GH;
    const long long m0 = rt * MR_GT_TILE, n0 = ct * MR_GT_TILE;
    float acc[MR_GT_MAXM][MR_GT_MAXM];
    /* xw = X [SB][NI] times W[d]^T: element (k, col) of the right operand is W[d][col][k]. */
    mr_gt_tile(X, NI, 1, W, 1, NI, SB, GH, NI, m0, n0, TM, T, &s, acc);
#pragma unroll
    for (int jj = 0; jj < TM; jj++) {
        long long col = n0 + mr_gt_col(jj, threadIdx.x, TM);
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
            long long row = m0 + mr_gt_row(i, threadIdx.x, TM);
            if (row < SB) xw[row * GH + col] = acc[i][jj] + bias;
        }
    }
}

/* What the gate math of one (unit, batch entry) reads besides the R * h sums: the input
 * projection of its gates (x[g] for g < G), h_{t-1} and the cell input (LSTM c_{t-1}; GRU
 * linear_before_reset = 0, phase B: z from phase A). */
typedef struct rnn_gate_in {
    float x[4], hprev, cprev;
} rnn_gate_in;

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

/* Batch-1 row `it` of a step (gate it / nu, unit it % nu): the warp's partial sums meet and
 * lane 0 writes the row's R * h into the shared sums. All lanes of the warp call it. */
static __device__ __forceinline__ void put_row_sum(float *gs, int it, int nu, float acc) {
    const float sum = warp_sum(acc);
    if ((threadIdx.x & 31) == 0) gs[((it / nu) * RNN_HT_MAX + it % nu) * RNN_BC] = sum;
}

/* Phases 1..: step k (sub-phase sub for GRU lbr=0) of the (direction, unit tile) block j. */
static __device__ __forceinline__ void rnn_step(const mr_cuda_args *a, const rnn_k_params *p,
                                                long long k, int sub, long long j, int T,
                                                int STAGED) {
    __shared__ float gs[4 * RNN_HT_MAX * RNN_BC]; /* R*vec sums: [gate][unit][batch] */
    const long long S = p->S, B = p->B, H = p->H, D = p->dirs, GH = p->G * H;
    const long long d = j / p->n_ht, u0 = (j % p->n_ht) * p->ht;
    const int nu = (int)(H - u0 < p->ht ? H - u0 : p->ht);
    const int rev = p->dirs == 2 ? d == 1 : p->first_rev;
    const long long t = rev ? S - 1 - k : k;
    float *ws = (float *)a->workspace;

    /* h_{t-1}: initial_h ([D][B][H] or, layout 1, [B][D][H]) at step 0, NULL = zeros */
    const float *hp;
    long long ldh;
    if (k == 0) {
        const float *h0 = (const float *)a->in[IN_H0];
        hp = h0 ? h0 + (p->layout ? d * H : d * B * H) : NULL;
        ldh = p->layout ? D * H : H;
    } else {
        hp = ws + p->off_h[(k - 1) & 1] + d * B * H;
        ldh = H;
    }
    float *hn = ws + p->off_h[k & 1] + d * B * H;
    /* xw row of (t, batch b): X's row order, [S][B] or (layout 1) [B][S] */
    const float *xw = ws + d * S * B * GH;
    const long long xrow0 = p->layout ? t : t * B, xrow_b = p->layout ? S : 1;
    const float *Rd = (const float *)a->in[IN_R] + d * GH * H;
    float *aux_prev = k > 0 ? ws + p->off_a[(k - 1) & 1] + d * B * H : NULL;
    float *aux0 = ws + p->off_a[0] + d * B * H, *aux1 = ws + p->off_a[1] + d * B * H;

    /* Rows of R this phase multiplies, and by what. */
    int ng = p->G, g0 = 0;
    const float *vec = hp;
    long long ldv = ldh;
    if (p->gru && !p->lbr) {
        if (sub == 0) {
            ng = 2; /* z, r */
        } else {
            ng = 1, g0 = 2; /* R_h * (r (.) h_{t-1}), every unit's from phase A */
            vec = aux1;
            ldv = H;
        }
    }
    /* Zero initial state: R * 0 = 0 (and r (.) 0 = 0); skipped like on the CPU. */
    const int do_dot = hp != NULL;
    /* float4 path: rows of R and of the vector 16-byte aligned (H a multiple of 4, bases
     * aligned: R and the workspace come from cudaMalloc, initial_h may be any tensor). */
    const int vec4 = (H & 3) == 0 && (ldv & 3) == 0 && (((unsigned long long)Rd & 15) == 0) &&
                     vec && (((unsigned long long)vec & 15) == 0);

    float *Y = (float *)a->out[OUT_Y], *Yh = (float *)a->out[OUT_YH];
    float *Yc = p->gru ? NULL : (float *)a->out[OUT_YC];
    const float *Bv = (const float *)a->in[IN_B];
    const float *C0 = (const float *)a->in[IN_C0];
    const float *P = p->gru ? NULL : (const float *)a->in[IN_P];
    if (P) P += d * 3 * H;

        /* The gate inputs of pair `it` of batch chunk b0 (it = batch entry * nu + unit). */
#define RNN_GATE_IN(G_, it_)                                                                       \
    do {                                                                                           \
        const int i_ = (it_) % nu, bb_ = (it_) / nu;                                               \
        const long long b_ = b0 + bb_, u_ = u0 + i_;                                               \
        const float *x_ = xw + (xrow0 + b_ * xrow_b) * GH + u_;                                    \
        for (int g_ = 0; g_ < 4; g_++) (G_).x[g_] = g_ < p->G ? x_[g_ * H] : 0.0f;                 \
        (G_).hprev = hp ? hp[b_ * ldh + u_] : 0.0f;                                                \
        (G_).cprev = 0.0f;                                                                         \
        if (!p->gru) {                                                                             \
            const long long io_ = (p->layout ? b_ * D + d : d * B + b_) * H + u_;                  \
            (G_).cprev = k > 0 ? aux_prev[b_ * H + u_] : (C0 ? C0[io_] : 0.0f);                    \
        } else if (!p->lbr && sub == 1) {                                                          \
            (G_).cprev = aux0[b_ * H + u_];                                                        \
        }                                                                                          \
    } while (0)

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = T / 32;
    for (long long b0 = 0; b0 < B; b0 += RNN_BC) {
        const int nbt = (int)(B - b0 < RNN_BC ? B - b0 : RNN_BC);
        /* This thread's first pair's gate inputs, loaded before the dot products so that
         * their latency overlaps R's instead of following it (a step is a chain of
         * latencies: h_{t-1}, R * h, the gate inputs, h_t). */
        rnn_gate_in pre;
        if (threadIdx.x < nu * nbt) RNN_GATE_IN(pre, threadIdx.x);
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
                    if (k < nr) put_row_sum(gs, it0 + k * nw, nu, acc[k]);
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
                        if (it0 + k * nw < staged) put_row_sum(gs, it0 + k * nw, nu, acc[k]);
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
                    for (int bb = 0; bb < RNN_BC; bb++)
                        gs[(g * RNN_HT_MAX + i) * RNN_BC + bb] = acc[bb];
            }
        }
        __syncthreads();
        /* gate math: one (unit, batch entry) per thread */
        for (int it = threadIdx.x; it < nu * nbt; it += T) {
            const int i = it % nu, bb = it / nu;
            const long long b = b0 + bb, u = u0 + i;
            rnn_gate_in in;
            if (it == threadIdx.x)
                in = pre;
            else
                RNN_GATE_IN(in, it);
            const float *x = in.x;
            const float *sg = gs + i * RNN_BC + bb; /* gate g's sum is sg[g * GS] */
            const float hprev = in.hprev;
            const long long io = (p->layout ? b * D + d : d * B + b) * H + u; /* Y_h, Y_c, init */
            float h, cn = 0.0f;
            if (!p->gru) {
                const float cp = in.cprev;
                float gi = x[0] + sg[0], go = x[1] + sg[GS], gf = x[2] + sg[2 * GS];
                float gc = x[3] + sg[3 * GS];
                if (P) {
                    gi += P[u] * cp;
                    gf += P[2 * H + u] * cp;
                }
                cn = sigm(gf) * cp + sigm(gi) * tanhf(gc);
                if (P) go += P[H + u] * cn;
                h = sigm(go) * tanhf(cn);
                ws[p->off_a[k & 1] + d * B * H + b * H + u] = cn;
            } else if (p->lbr) {
                float z = sigm(x[0] + sg[0]), r = sigm(x[1] + sg[GS]);
                float lin = sg[2 * GS] + (Bv ? Bv[d * 6 * H + 5 * H + u] : 0.0f);
                float hh = tanhf(x[2] + r * lin);
                h = (1.0f - z) * hh + z * hprev;
            } else if (sub == 0) {
                aux0[b * H + u] = sigm(x[0] + sg[0]);
                aux1[b * H + u] = sigm(x[1] + sg[GS]) * hprev;
                continue; /* h_t comes in phase B */
            } else {
                float z = in.cprev, hh = tanhf(x[2] + sg[0]);
                h = (1.0f - z) * hh + z * hprev;
            }
            hn[b * H + u] = h;
            if (Y) Y[(p->layout ? (b * S + t) * D + d : (t * D + d) * B + b) * H + u] = h;
            if (k == S - 1) {
                if (Yh) Yh[io] = h;
                if (Yc) Yc[io] = cn;
            }
        }
        __syncthreads(); /* gs is reused by the next batch chunk */
    }
#undef RNN_GATE_IN
}

static __device__ __forceinline__ void rnn_body(const mr_cuda_args *a, long long blk, int TM, int T,
                                                int STAGED) {
    const rnn_k_params *p = MR_PARAMS(rnn_k_params, a);
    if (a->phase == 0) {
        rnn_proj(a, p, blk, TM, T);
    } else {
        long long k = (a->phase - 1) / p->pps;
        int sub = (a->phase - 1) % p->pps;
        rnn_step(a, p, k, sub, blk, T, STAGED);
    }
}

static __device__ void rnn_body_256(const mr_cuda_args *a, long long blk) {
    rnn_body(a, blk, 4, 256, 0);
}
static __device__ void rnn_body_256s(const mr_cuda_args *a, long long blk) {
    rnn_body(a, blk, 4, 256, 1);
}
static __device__ void rnn_body_64(const mr_cuda_args *a, long long blk) {
    rnn_body(a, blk, 8, 64, 0);
}

MR_ELASTIC_KERNEL(mr_rnn_t256, 256, rnn_body_256)
MR_ELASTIC_KERNEL(mr_rnn_t256s, 256, rnn_body_256s)
MR_ELASTIC_KERNEL(mr_rnn_t64, 64, rnn_body_64)

static const mr_cuda_variant rnn_full = {"t256", (const void *)mr_rnn_t256_elastic,
                                         (const void *)mr_rnn_t256_plain, 256, 0};
static const mr_cuda_variant rnn_small = {"t64", (const void *)mr_rnn_t64_elastic,
                                          (const void *)mr_rnn_t64_plain, 64, 0};
static const mr_cuda_variant rnn_staged = {"t256_staged", (const void *)mr_rnn_t256s_elastic,
                                           (const void *)mr_rnn_t256s_plain, 256, RNN_STAGE_BYTES};

/* ---- host side ---- */

static long long rnn_phase_blocks(const mr_cuda_plan *plan, int phase) {
    const rnn_k_params *p = (const rnn_k_params *)(const void *)plan->params;
    return phase == 0 ? p->dirs * p->n_pr * p->n_pc : p->dirs * p->n_ht;
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
    p.ht = ht;
    p.n_ht = (H + ht - 1) / ht;
    p.n_pr = (S * B + MR_GT_TILE - 1) / MR_GT_TILE;
    p.n_pc = (GH + MR_GT_TILE - 1) / MR_GT_TILE;
    p.pps = gru && !p.lbr ? 2 : 1;

    /* Workspace: xw, h[2], aux[2] (LSTM c; GRU lbr=0 z and r (.) h; unused for GRU lbr=1). */
    int64_t dsb, xw, hb;
    if (!mr_mul_i64(D * S, B, &dsb) || !mr_mul_i64(dsb, GH, &xw) || !mr_mul_i64(D * B, H, &hb))
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "workspace too large");
    size_t off = round_up32((size_t)xw), hbr = round_up32((size_t)hb);
    p.off_h[0] = (long long)off;
    p.off_h[1] = (long long)(off + hbr);
    p.off_a[0] = (long long)(off + 2 * hbr);
    p.off_a[1] = (long long)(off + 3 * hbr);
    size_t total = off + (gru && p.lbr ? 2 : 4) * hbr;
    if (!mr_mul_size(total, sizeof(float), &plan->workspace_bytes) ||
        plan->workspace_bytes > MR_MAX_ALLOC)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "workspace too large");

    long long phases = 1 + S * p.pps;
    if (phases > 0x7fffffff) return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "sequence too long");
    long long proj = D * p.n_pr * p.n_pc, step = D * p.n_ht;
    plan->n_phases = (int)phases;
    plan->n_blocks = proj > step ? proj : step;
    plan->phase_blocks = rnn_phase_blocks;
    plan->n_variants = 2;
    plan->variants[0] = &rnn_full;
    plan->variants[1] = &rnn_small;
    /* Batch 1 with 16-byte rows: the staged variant (rnn_step), whose 64 KiB of dynamic shared
     * memory is past the 48 KiB a kernel gets without opting in, and which needs the SM's
     * largest shared-memory carveout for two blocks per SM. It is used only where as many of
     * its blocks fit an SM as of the unstaged kernel's (the plan's tiles assume as many). */
    if (B == 1 && H % 4 == 0 && H * 4 <= RNN_STAGE_BYTES) {
        const void *fns[2] = {rnn_staged.elastic, rnn_staged.plain};
        cudaError_t e = cudaSuccess;
        for (int i = 0; i < 2 && e == cudaSuccess; i++) {
            e = cudaFuncSetAttribute(fns[i], cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     RNN_STAGE_BYTES);
            if (e == cudaSuccess)
                e = cudaFuncSetAttribute(fns[i], cudaFuncAttributePreferredSharedMemoryCarveout,
                                         cudaSharedmemCarveoutMaxShared);
        }
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

MR_CUDA_OP(mr_cuda_op_lstm, "LSTM", lstm_prepare);
MR_CUDA_OP(mr_cuda_op_gru, "GRU", gru_prepare);
