/* Device-side helpers shared by the CUDA op families. CUDA C++ compiled by nvcc, C style. */
#ifndef MR_CUDA_COMMON_CUH
#define MR_CUDA_COMMON_CUH

#include "cuda/cuda_op.h"

/* Fused activation, same semantics as mr_act_apply on the CPU (ops/activation.c). */
static __device__ __forceinline__ float mr_dev_act(mr_act act, float x) {
    switch (act.kind) {
    case MR_ACT_RELU:
        return x > 0.f ? x : 0.f;
    case MR_ACT_CLIP:
        return fminf(fmaxf(x, act.alpha), act.beta);
    case MR_ACT_LEAKY_RELU:
        return x >= 0.f ? x : act.alpha * x;
    case MR_ACT_SIGMOID:
        return 1.f / (1.f + expf(-x));
    case MR_ACT_TANH:
        return tanhf(x);
    default:
        return x;
    }
}

/* ---- TF32 tensor cores (sm_80 and later) ----
 *
 * mma.sync m16n8k8 with TF32 operands and float32 accumulation, one warp. Fragments (PTX ISA,
 * "Matrix fragments for mma.m16n8k8" with .tf32), lane = 4 * g + t (g = lane / 4, t = lane % 4):
 *   A (16 x 8, row-major)  a[0] = A[g][t]   a[1] = A[g + 8][t]   a[2] = A[g][t + 4]
 *                          a[3] = A[g + 8][t + 4]
 *   B (8 x 8, k x n)       b[0] = B[t][g]   b[1] = B[t + 4][g]
 *   C, D (16 x 8)          c[0] = C[g][2t]  c[1] = C[g][2t + 1]  c[2] = C[g + 8][2t]
 *                          c[3] = C[g + 8][2t + 1]
 * Each D element is the dot product of one row of A and one column of B added to its own C
 * element, and the same instruction on the same operands gives the same bits: kernels that
 * place their fragments alike (rows at multiples of 16, columns at multiples of 8 of the
 * output) and run the same k8 steps in the same order over an output agree bit for bit,
 * whichever warp computes which fragment. */

/* float -> TF32 (10 mantissa bits, rounded to nearest), as the 32-bit register the mma takes;
 * the mma's .tf32 operands must hold TF32 values. From compute capability 9.0 ties go to even
 * (cvt.rn: one instruction, F2FP, where cvt.rna is three: the tensor-core kernels convert a
 * fragment element at every read, so this is a tenth of a convolution's instructions), as
 * the host rounds constant operands (tf32.h); before 9.0 only ties-away (cvt.rna) exists. */
static __device__ __forceinline__ unsigned mr_tf32(float x) {
    unsigned r;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm("cvt.rn.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
#else
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
#endif
    return r;
}

/* d += A * B for one m16n8k8 fragment triple (see above). */
static __device__ __forceinline__ void mr_mma_tf32(float *d, const unsigned *a, const unsigned *b) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, "
                 "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/* ---- half-precision tensor cores (sm_80 and later) ----
 *
 * mma.sync m16n8k16 with f16 operands and float32 accumulation. Fragments (PTX ISA, "Matrix
 * fragments for mma.m16n8k16" with .f16), lane = 4 * g + t; each 32-bit register holds two
 * halves, the lower k (or column) in the low 16 bits:
 *   A (16 x 16, row-major)  a[0] = A[g][2t..2t+1]      a[1] = A[g + 8][2t..2t+1]
 *                           a[2] = A[g][2t+8..2t+9]    a[3] = A[g + 8][2t+8..2t+9]
 *   B (16 x 8, k x n)       b[0] = B[2t..2t+1][g]      b[1] = B[2t+8..2t+9][g]
 *   C, D (16 x 8)           as mr_mma_tf32's. */

/* Two floats as two halves rounded to nearest (ties to even), lo in the low 16 bits. */
static __device__ __forceinline__ unsigned mr_half2(float lo, float hi) {
    unsigned r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
/* One float as a half rounded to nearest (ties to even). */
static __device__ __forceinline__ unsigned short mr_half(float x) {
    unsigned short r;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(x));
    return r;
}

/* d += A * B for one m16n8k16 fragment triple (see above). */
static __device__ __forceinline__ void mr_mma_f16(float *d, unsigned a0, unsigned a1, unsigned a2,
                                                  unsigned a3, unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
                 "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

/* ---- asynchronous global -> shared copies (cp.async, sm_80 and later) ----
 * A copy whose `ok` is false reads nothing and fills its destination with zeros (src-size
 * 0); its source address must still be a valid pointer, so callers pass a safe one. The
 * copies of a thread complete at mr_cp_async_wait(); other threads see them after a
 * following __syncthreads(). */
static __device__ __forceinline__ void mr_cp_async4(float *dst, const float *src, bool ok) {
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(d), "l"(src), "r"(ok ? 4 : 0)
                 : "memory");
}
/* 16 bytes: dst and src 16-byte aligned. */
static __device__ __forceinline__ void mr_cp_async16(float *dst, const float *src, bool ok) {
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(d), "l"(src),
                 "r"(ok ? 16 : 0)
                 : "memory");
}
/* mr_cp_async16 where `issue` holds, as a predicated instruction (no branch); nothing
 * happens otherwise (dst is not touched). */
static __device__ __forceinline__ void mr_cp_async16_if(float *dst, const float *src, bool ok,
                                                        bool issue) {
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, %3, 0;\n\t"
                 "@p cp.async.cg.shared.global [%0], [%1], 16, %2;\n\t}" ::"r"(d),
                 "l"(src), "r"(ok ? 16 : 0), "r"((int)issue)
                 : "memory");
}
static __device__ __forceinline__ void mr_cp_async_commit(void) {
    asm volatile("cp.async.commit_group;" ::: "memory");
}
static __device__ __forceinline__ void mr_cp_async_wait(void) {
    asm volatile("cp.async.wait_all;" ::: "memory");
}

/* Host side: sets the kernels of variant v (each form) up for its v->smem bytes of dynamic
 * shared memory (past the 48 KiB a kernel gets without opting in), with the largest
 * shared-memory carveout (so that as many blocks fit an SM as their shared memory allows). */
static inline cudaError_t mr_cuda_smem_attr(const mr_cuda_variant *v) {
    const void *fn[3] = {v->elastic, v->plain, v->wave};
    cudaError_t e = cudaSuccess;
    for (int i = 0; i < 3 && fn[i] && e == cudaSuccess; i++) {
        e = cudaFuncSetAttribute(fn[i], cudaFuncAttributeMaxDynamicSharedMemorySize, v->smem);
        if (e == cudaSuccess)
            e = cudaFuncSetAttribute(fn[i], cudaFuncAttributePreferredSharedMemoryCarveout,
                                     cudaSharedmemCarveoutMaxShared);
    }
    return e;
}

/* cp.async.wait_group N: all but the N most recent committed groups of this thread have
 * landed (N a literal). */
#define MR_CP_ASYNC_WAIT_GROUP(N) asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory")

/* Defines an exported CUDA op table entry (external, C linkage: src/cuda/registry.c). */
#define MR_CUDA_OP(SYM, NAME, PREPARE) extern "C" const mr_cuda_op SYM = {NAME, PREPARE}

/* Reads the op's parameter struct out of the launch arguments. */
#define MR_PARAMS(type, args) ((const type *)(const void *)(args)->params)

#endif
