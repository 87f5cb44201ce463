/* The shared-memory tiled SGEMM body used by Gemm/MatMul (gemm.cu) and by the LSTM/GRU input
 * projection (rnn.cu). CUDA C++ compiled by nvcc, C style.
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

#endif
