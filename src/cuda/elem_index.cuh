/* Index arithmetic of the element-wise and data-movement kernels (binary.cu, norm.cu,
 * transform.cu): turning a linear output index into per-dimension coordinates.
 *
 * A 64-bit division costs tens of instructions on the GPU, more than a memory-bound kernel
 * can afford per element. When every index of a step fits in 31 bits (the usual case) the
 * kernels divide by multiplying with a precomputed magic number instead (Granlund-Montgomery,
 * as in PyTorch's IntDivider): for 1 <= d < 2^31 and 0 <= n < 2^31,
 *     n / d == (umulhi(n, m) + n) >> s,  s = ceil(log2(d)),  m = 2^32 * (2^s - d) / d + 1.
 * umulhi(n, m) <= n, so the sum cannot overflow 32 bits. Larger steps fall back to plain
 * 64-bit division (a uniform branch on a parameter). */
#ifndef MR_CUDA_ELEM_INDEX_CUH
#define MR_CUDA_ELEM_INDEX_CUH

#include "cuda/common.cuh"

/* Largest element count / divisor for the 32-bit path (a build may lower it to exercise the
 * 64-bit path on small tensors). */
#ifndef MR_FDIV_MAX
#define MR_FDIV_MAX 0x7fffffffLL
#endif

typedef struct mr_fdiv {
    unsigned int m; /* magic multiplier */
    unsigned int s; /* shift */
} mr_fdiv;

/* Host: the magic numbers of divisor d, 1 <= d <= MR_FDIV_MAX (other values give d = 1). */
static inline mr_fdiv mr_fdiv_make(long long d) {
    mr_fdiv f;
    if (d < 1 || d > MR_FDIV_MAX) d = 1;
    unsigned int s = 0;
    while ((1ull << s) < (unsigned long long)d) s++;
    f.s = s;
    f.m = (unsigned int)(((1ull << 32) * ((1ull << s) - (unsigned long long)d)) /
                             (unsigned long long)d +
                         1ull);
    return f;
}

#ifdef __CUDACC__
/* n / d for 0 <= n <= MR_FDIV_MAX. */
static __device__ __forceinline__ unsigned int mr_fdiv_q(unsigned int n, mr_fdiv f) {
    return (__umulhi(n, f.m) + n) >> f.s;
}
#endif

#endif
