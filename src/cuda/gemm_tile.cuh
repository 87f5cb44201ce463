/* The shared-memory tiled SGEMM body used by Gemm/MatMul (gemm.cu) and by the LSTM/GRU input
 * projection (rnn.cu), and its TF32 tensor-core form (Gemm/MatMul and, for the warp-level part,
 * the Conv kernel of conv.cu under MR_PRECISION_TF32; see below). CUDA C++ compiled by nvcc, C
 * style.
 *
 * One call computes a 64x64 tile of  op(A)[M][K] * op(B)[K][N]  starting at (m0, n0), where
 * element (m, k) of A is A[m*sam + k*sak] and element (k, n) of B is B[k*sbk + n*sbn] (so
 * transposes, batch offsets and W^T are only strides). The result stays in registers, in
 * acc[i][j] for tile row mr_gt_row(i) and column mr_gt_col(j); the caller writes its own
 * epilogue.
 *
 * Thread layout: T threads, each owning TM x TM outputs (TM = 4 with T = 256, or TM = 8 with
 * T = 64). A thread's rows (and columns) come in groups of 4 consecutive ones so that the
 * inner loop reads shared memory as float4 without bank conflicts: row = g*(256/TM) + ty*4 + r.
 * TM and T must be literal constants at the call site (the body is force-inlined so the loops
 * unroll and acc stays in registers).
 *
 * Every output element is accumulated in the same order (k = 0, 1, ..., K-1, one fmaf each)
 * whatever T and TM are, so the two variants give bit-identical results.
 */
#ifndef MR_CUDA_GEMM_TILE_CUH
#define MR_CUDA_GEMM_TILE_CUH

#include "cuda/common.cuh"

#define MR_GT_TILE 64 /* rows and columns of a tile */
#define MR_GT_BK   16 /* k per shared-memory stage */
#define MR_GT_LD   68 /* padded row of a stage: float4-aligned, fewer bank conflicts on stores */
#define MR_GT_MAXM 8  /* largest TM */

typedef struct mr_gt_smem {
    float a[MR_GT_BK][MR_GT_LD]; /* a[k][m] */
    float b[MR_GT_BK][MR_GT_LD]; /* b[k][n] */
} mr_gt_smem;

/* Tile row of accumulator row i of thread tid (and likewise the column of accumulator column
 * j: same formula on the thread's x coordinate). */
static __device__ __forceinline__ int mr_gt_row(int i, int tid, int TM) {
    int ty = tid / (MR_GT_TILE / TM);
    return (i >> 2) * (256 / TM) + ty * 4 + (i & 3);
}
static __device__ __forceinline__ int mr_gt_col(int j, int tid, int TM) {
    int tx = tid % (MR_GT_TILE / TM);
    return (j >> 2) * (256 / TM) + tx * 4 + (j & 3);
}

/* Which elements of a stage thread tid moves: element r (r < 1024/T) of A is row
 * am + r*ams, k ak + r*aks of the stage, and likewise for B. Consecutive threads take
 * consecutive addresses along whichever of the operand's two dimensions is contiguous
 * (stride 1), so global loads are coalesced. */
typedef struct mr_gt_map {
    int am, ak, ams, aks; /* A */
    int bn, bk, bns, bks; /* B */
} mr_gt_map;

static __device__ __forceinline__ mr_gt_map mr_gt_mapping(long long sak, long long sbn, int T) {
    const int tid = threadIdx.x;
    mr_gt_map q;
    if (sak == 1) { /* k fastest */
        q.ak = tid & (MR_GT_BK - 1), q.am = tid / MR_GT_BK, q.ams = T / MR_GT_BK, q.aks = 0;
    } else { /* m fastest */
        q.am = tid & (MR_GT_TILE - 1), q.ak = tid / MR_GT_TILE, q.ams = 0, q.aks = T / MR_GT_TILE;
    }
    if (sbn == 1) { /* n fastest */
        q.bn = tid & (MR_GT_TILE - 1), q.bk = tid / MR_GT_TILE, q.bns = 0, q.bks = T / MR_GT_TILE;
    } else { /* k fastest */
        q.bk = tid & (MR_GT_BK - 1), q.bn = tid / MR_GT_BK, q.bns = T / MR_GT_BK, q.bks = 0;
    }
    return q;
}

/* Loads this thread's elements of one operand's stage into registers (out-of-range elements
 * are 0 so they add nothing). p points at the thread's element 0 of the stage, step is the
 * distance between its consecutive elements; element r is valid while r*ds < dleft and
 * k0 + r*ks < kleft (dleft: rows or columns left from the thread's first one, kleft: k left
 * from its first k). Pointer increments keep few 64-bit registers live. */
static __device__ __forceinline__ void mr_gt_load1(const float *p, long long step, int ds,
                                                   long long dleft, int ks, long long kleft, int EL,
                                                   float *r) {
#pragma unroll
    for (int e = 0; e < EL; e++) {
        r[e] = (long long)e * ds < dleft && (long long)e * ks < kleft ? __ldg(p) : 0.0f;
        p += step;
    }
}

/* acc = op(A) * op(B) over the 64x64 tile at (m0, n0). Every thread of the block must call
 * it (it synchronises). */
static __device__ __forceinline__ void
mr_gt_tile(const float *A, long long sam, long long sak, const float *B, long long sbk,
           long long sbn, long long M, long long N, long long K, long long m0, long long n0, int TM,
           int T, mr_gt_smem *s, float acc[MR_GT_MAXM][MR_GT_MAXM]) {
    const int tid = threadIdx.x, EL = MR_GT_TILE * MR_GT_BK / T;
    const int ty = tid / (MR_GT_TILE / TM), tx = tid % (MR_GT_TILE / TM);
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TM; j++) acc[i][j] = 0.0f;
    const mr_gt_map q = mr_gt_mapping(sak, sbn, T);
    /* thread's first element at k0 = 0, distance between its elements, rows/columns left */
    const float *pa = A + (m0 + q.am) * sam + q.ak * sak;
    const float *pb = B + q.bk * sbk + (n0 + q.bn) * sbn;
    const long long astep = q.ams * sam + q.aks * sak, bstep = q.bks * sbk + q.bns * sbn;
    const long long aleft = M - m0 - q.am, bleft = N - n0 - q.bn;
    float ra[MR_GT_TILE * MR_GT_BK / 64], rb[MR_GT_TILE * MR_GT_BK / 64];
    if (K > 0) {
        mr_gt_load1(pa, astep, q.ams, aleft, q.aks, K - q.ak, EL, ra);
        mr_gt_load1(pb, bstep, q.bns, bleft, q.bks, K - q.bk, EL, rb);
    }
    for (long long k0 = 0; k0 < K; k0 += MR_GT_BK) {
        __syncthreads(); /* the previous stage (or a previous body) is done with s */
#pragma unroll
        for (int e = 0; e < EL; e++) {
            s->a[q.ak + e * q.aks][q.am + e * q.ams] = ra[e];
            s->b[q.bk + e * q.bks][q.bn + e * q.bns] = rb[e];
        }
        __syncthreads();
        /* The next stage's global loads are in flight while this one is computed. */
        const long long k1 = k0 + MR_GT_BK;
        if (k1 < K) {
            mr_gt_load1(pa + k1 * sak, astep, q.ams, aleft, q.aks, K - k1 - q.ak, EL, ra);
            mr_gt_load1(pb + k1 * sbk, bstep, q.bns, bleft, q.bks, K - k1 - q.bk, EL, rb);
        }
#pragma unroll
        for (int kk = 0; kk < MR_GT_BK; kk++) {
            float av[MR_GT_MAXM], bv[MR_GT_MAXM];
#pragma unroll
            for (int g = 0; g < TM / 4; g++) {
                float4 x = *(const float4 *)&s->a[kk][g * (256 / TM) + ty * 4];
                float4 y = *(const float4 *)&s->b[kk][g * (256 / TM) + tx * 4];
                av[g * 4 + 0] = x.x, av[g * 4 + 1] = x.y, av[g * 4 + 2] = x.z, av[g * 4 + 3] = x.w;
                bv[g * 4 + 0] = y.x, bv[g * 4 + 1] = y.y, bv[g * 4 + 2] = y.z, bv[g * 4 + 3] = y.w;
            }
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int j = 0; j < TM; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
    }
}

/* ---- TF32 tensor-core tile (mma.sync m16n8k8, common.cuh) ----
 *
 * The same 64x64 tile and the same two thread counts as above, on tensor cores. Warps: a warp
 * owns a (8*TM) x (4*TM) block of the tile, i.e. TM/2 x TM/2 fragments of 16 x 8, and the warps
 * tile the 64 x 64 output with 64/(8*TM) of them along the rows: T = 256 (TM = 4): 8 warps of
 * 32 x 16; T = 64 (TM = 8): 2 warps of 64 x 32. Thread tid's acc[i][j] is tile row
 * mr_gtc_row(i, tid, TM) and column mr_gtc_col(j, tid, TM) (c[0..3] of the fragment
 * (i/2, j/2) are acc[i][j], acc[i][j+1], acc[i+1][j], acc[i+1][j+1] with i, j even).
 *
 * Shared memory per stage: a[m][k] (64 x BK, rows padded to BK + 4 floats) and b[k][n] (BK x
 * 64, rows padded to 72): with g = lane / 4 and t = lane % 4, a fragment read touches
 * a[g][t] -> bank (g * (BK + 4) + t) mod 32 and b[t][g] -> bank (8 t + g) mod 32, 32
 * different banks for BK = 16 or 32, so the fragment loads are conflict-free. Operands are
 * rounded to TF32 (mr_tf32) as they are read for the mma, except an `a` the caller knows to
 * hold TF32 values already (a_tf32: constant weights the backend uploaded rounded, tf32.h),
 * which gives the same bits with a third fewer instructions per mma for the 8-warp tile.
 *
 * Every output is accumulated k8 step by k8 step from the first k upwards whatever T is, in
 * fragments aligned alike (16-row, 8-column boundaries of the tile), and an mma's output
 * depends only on its own row, column and accumulator (common.cuh), so the two thread counts
 * give bit-identical results. */

#define MR_GTC_LDB (MR_GT_TILE + 8) /* padded row of b[k][n] */

static __device__ __forceinline__ int mr_gtc_row(int i, int tid, int TM) {
    const int wmn = MR_GT_TILE / (8 * TM); /* warps along the rows */
    return ((tid >> 5) % wmn) * 8 * TM + 16 * (i >> 1) + 8 * (i & 1) + ((tid & 31) >> 2);
}
static __device__ __forceinline__ int mr_gtc_col(int j, int tid, int TM) {
    const int wmn = MR_GT_TILE / (8 * TM);
    return ((tid >> 5) / wmn) * 4 * TM + 8 * (j >> 1) + 2 * (tid & 3) + (j & 1);
}

/* acc += a * b over one shared-memory stage of BK k (a multiple of 8): as[m * lda + k],
 * bs[k * MR_GTC_LDB + n]. BK, TM and a_tf32 (1: as holds TF32 values, read as they are) must
 * be literal constants at the call site. */
static __device__ __forceinline__ void mr_gtc_mma(float acc[MR_GT_MAXM][MR_GT_MAXM],
                                                  const float *as, int lda, const float *bs, int BK,
                                                  int TM, int a_tf32) {
    const int tid = threadIdx.x, g = (tid & 31) >> 2, t = tid & 3;
    const int wmn = MR_GT_TILE / (8 * TM);
    const int wm0 = ((tid >> 5) % wmn) * 8 * TM, wn0 = ((tid >> 5) / wmn) * 4 * TM;
#pragma unroll
    for (int kk = 0; kk < BK; kk += 8) {
        unsigned af[MR_GT_MAXM / 2][4], bf[MR_GT_MAXM / 2][2];
#pragma unroll
        for (int i = 0; i < TM / 2; i++) {
            const float *r = as + (wm0 + 16 * i + g) * lda + kk + t;
            af[i][0] = a_tf32 ? __float_as_uint(r[0]) : mr_tf32(r[0]);
            af[i][1] = a_tf32 ? __float_as_uint(r[8 * lda]) : mr_tf32(r[8 * lda]);
            af[i][2] = a_tf32 ? __float_as_uint(r[4]) : mr_tf32(r[4]);
            af[i][3] = a_tf32 ? __float_as_uint(r[8 * lda + 4]) : mr_tf32(r[8 * lda + 4]);
        }
#pragma unroll
        for (int j = 0; j < TM / 2; j++) {
            const float *c = bs + (kk + t) * MR_GTC_LDB + wn0 + 8 * j + g;
            bf[j][0] = mr_tf32(c[0]);
            bf[j][1] = mr_tf32(c[4 * MR_GTC_LDB]);
        }
#pragma unroll
        for (int i = 0; i < TM / 2; i++)
#pragma unroll
            for (int j = 0; j < TM / 2; j++) {
                float d[4] = {acc[2 * i][2 * j], acc[2 * i][2 * j + 1], acc[2 * i + 1][2 * j],
                              acc[2 * i + 1][2 * j + 1]};
                mr_mma_tf32(d, af[i], bf[j]);
                acc[2 * i][2 * j] = d[0];
                acc[2 * i][2 * j + 1] = d[1];
                acc[2 * i + 1][2 * j] = d[2];
                acc[2 * i + 1][2 * j + 1] = d[3];
            }
    }
}

#define MR_GTC_LDA (MR_GT_BK + 4) /* padded row of a[m][k] */

/* Two stages (double buffering): the copies of stage s + 1 are in flight while stage s is
 * multiplied. 19.5 KiB. */
typedef struct mr_gtc_smem {
    float a[2][MR_GT_TILE][MR_GTC_LDA];
    float b[2][MR_GT_BK][MR_GTC_LDB];
} mr_gtc_smem;

/* Issues the copies of one operand's stage (cp.async, 4 bytes each: any strides): element e
 * (e < EL) goes from src + e * sstep to dst + e * dstep, or is zero-filled when it lies
 * outside the operand (e * ds >= dleft or e * ks >= kleft, as in mr_gt_load1). `safe` is a
 * valid address the zero-filled copies name. */
static __device__ __forceinline__ void mr_gtc_load(float *dst, int dstep, const float *src,
                                                   long long sstep, const float *safe, int ds,
                                                   long long dleft, int ks, long long kleft,
                                                   int EL) {
#pragma unroll
    for (int e = 0; e < EL; e++) {
        const bool ok = (long long)e * ds < dleft && (long long)e * ks < kleft;
        mr_cp_async4(dst + e * dstep, ok ? src : safe, ok);
        src += sstep;
    }
}

/* acc = op(A) * op(B) over the 64x64 tile at (m0, n0), operands rounded to TF32, as mr_gt_tile
 * computes it in float32 (same arguments, same element mapping of the global loads; acc is
 * indexed by mr_gtc_row / mr_gtc_col). Every thread of the block must call it. */
static __device__ __forceinline__ void
mr_gt_tile_tf32(const float *A, long long sam, long long sak, const float *B, long long sbk,
                long long sbn, long long M, long long N, long long K, long long m0, long long n0,
                int TM, int T, mr_gtc_smem *s, float acc[MR_GT_MAXM][MR_GT_MAXM]) {
    const int EL = MR_GT_TILE * MR_GT_BK / T;
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TM; j++) acc[i][j] = 0.0f;
    const mr_gt_map q = mr_gt_mapping(sak, sbn, T);
    const float *pa = A + (m0 + q.am) * sam + q.ak * sak;
    const float *pb = B + q.bk * sbk + (n0 + q.bn) * sbn;
    const long long astep = q.ams * sam + q.aks * sak, bstep = q.bks * sbk + q.bns * sbn;
    const long long aleft = M - m0 - q.am, bleft = N - n0 - q.bn;
    /* the thread's element 0 in a stage, and the distance between its elements */
    const int ad = q.am * MR_GTC_LDA + q.ak, adstep = q.ams * MR_GTC_LDA + q.aks;
    const int bd = q.bk * MR_GTC_LDB + q.bn, bdstep = q.bks * MR_GTC_LDB + q.bns;
    const long long stages = (K + MR_GT_BK - 1) / MR_GT_BK;
    if (stages > 0) {
        mr_gtc_load(&s->a[0][0][0] + ad, adstep, pa, astep, A, q.ams, aleft, q.aks, K - q.ak, EL);
        mr_gtc_load(&s->b[0][0][0] + bd, bdstep, pb, bstep, B, q.bns, bleft, q.bks, K - q.bk, EL);
        mr_cp_async_commit();
    }
    for (long long c = 0; c < stages; c++) {
        /* Stage c has landed (this thread's copies: wait; everyone's: the barrier), and every
         * thread is done with stage c - 1, whose buffer the next copies overwrite. */
        mr_cp_async_wait();
        __syncthreads();
        const int st = (int)(c & 1);
        if (c + 1 < stages) {
            const long long k1 = (c + 1) * MR_GT_BK;
            mr_gtc_load(&s->a[st ^ 1][0][0] + ad, adstep, pa + k1 * sak, astep, A, q.ams, aleft,
                        q.aks, K - k1 - q.ak, EL);
            mr_gtc_load(&s->b[st ^ 1][0][0] + bd, bdstep, pb + k1 * sbk, bstep, B, q.bns, bleft,
                        q.bks, K - k1 - q.bk, EL);
            mr_cp_async_commit();
        }
        mr_gtc_mma(acc, &s->a[st][0][0], MR_GTC_LDA, &s->b[st][0][0], MR_GT_BK, TM, 0);
    }
}

#endif
