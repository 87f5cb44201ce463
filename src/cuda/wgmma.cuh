/* Hopper's warpgroup matrix multiply-accumulate (wgmma, PTX ISA "Asynchronous Warpgroup Level
 * Matrix Multiply-Accumulate"), TF32 operands from shared memory, float32 accumulators.
 *
 * The instructions exist only in code compiled for the architecture-specific target sm_90a
 * (CMAKE_CUDA_ARCHITECTURES 90a, the default). MR_WGMMA is 1 in that device code; elsewhere
 * (other targets, the host pass) the wrappers compile to nothing, and the host never launches
 * a kernel that uses them (mr_cuda_cfg.wgmma).
 *
 * A wgmma is issued by the four warps of a warpgroup together and runs asynchronously:
 * mr_wgmma_fence() before the first of a batch (the accumulators were last written by other
 * instructions), mr_wgmma_commit() after it, and mr_wgmma_wait<N>() until all but the N most
 * recent batches are done (their accumulators readable, their shared memory free).
 *
 * Accumulators of m64nNk8 (N / 2 floats per thread): warp w of the warpgroup holds rows
 * 16 w .. 16 w + 15; lane = 4 g + t holds, for j = 0 .. N / 8 - 1,
 *   d[4 j]     = D[16 w + g][8 j + 2 t]      d[4 j + 1] = D[16 w + g][8 j + 2 t + 1]
 *   d[4 j + 2] = D[16 w + 8 + g][8 j + 2 t]  d[4 j + 3] = D[16 w + 8 + g][8 j + 2 t + 1]
 *
 * Operands in shared memory are described by 64-bit matrix descriptors. Both operands are
 * "K-major" (TF32 has no transposed form): the unit is a core matrix of 8 rows (of A's M or
 * B's N) x 4 k, 8 x 16 contiguous bytes, a row's 4 k in its 16. Without swizzling, a
 * descriptor gives the start address, the byte distance between core matrices adjacent in K
 * (LBO: a k8 step has two) and between core matrices adjacent in M or N (SBO). */
#ifndef MR_CUDA_WGMMA_CUH
#define MR_CUDA_WGMMA_CUH

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MR_WGMMA 1
#else
#define MR_WGMMA 0
#endif

/* The descriptor of a K-major operand without swizzling at shared-memory byte address addr
 * (16-byte aligned; __cvta_generic_to_shared), LBO and SBO in bytes (multiples of 16). Fields:
 * bits 0-13 address / 16, 16-29 LBO / 16, 32-45 SBO / 16, 62-63 the swizzle mode (0: none). */
static __device__ __forceinline__ unsigned long long mr_wgmma_desc(unsigned addr, unsigned lbo,
                                                                   unsigned sbo) {
    return (unsigned long long)((addr >> 4) & 0x3FFFu) |
           (unsigned long long)((lbo >> 4) & 0x3FFFu) << 16 |
           (unsigned long long)((sbo >> 4) & 0x3FFFu) << 32;
}

static __device__ __forceinline__ void mr_wgmma_fence(void) {
#if MR_WGMMA
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#endif
}
static __device__ __forceinline__ void mr_wgmma_commit(void) {
#if MR_WGMMA
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
#endif
}
template <int N> static __device__ __forceinline__ void mr_wgmma_wait(void) {
#if MR_WGMMA
    asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
#endif
}
/* Shared memory written through the generic proxy (ordinary stores, cp.async) becomes
 * visible to wgmma's reads (the async proxy) after this fence and a barrier. */
static __device__ __forceinline__ void mr_fence_proxy_async(void) {
#if MR_WGMMA
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
#endif
}
/* Keeps the compiler from moving accesses of an accumulator across this point (the
 * asynchronous wgmma writes it behind the compiler's back until the wait). */
static __device__ __forceinline__ void mr_wgmma_hold(float &x) {
    asm volatile("" : "+f"(x)::"memory");
}

/* d[0..63] += A * B, m64n128k8 (A and B in shared memory, see the descriptors above). */
static __device__ __forceinline__ void mr_wgmma_tf32_n128(float *d, unsigned long long da,
                                                          unsigned long long db) {
#if MR_WGMMA
    asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, 1, 0;\n\t"
                 "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
                 "%14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, "
                 "%26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, "
                 "%38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, "
                 "%50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, "
                 "%62, %63"
                 "}, %64, %65, p, 1, 1;\n\t}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),
                   "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),
                   "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),
                   "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
                   "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),
                   "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
                   "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
                   "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]),
                   "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),
                   "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "l"(da), "l"(db));
#else
    (void)d, (void)da, (void)db;
#endif
}

/* d[0..31] += A * B, m64n64k8 (A and B in shared memory, see the descriptors above). */
static __device__ __forceinline__ void mr_wgmma_tf32_n64(float *d, unsigned long long da,
                                                         unsigned long long db) {
#if MR_WGMMA
    asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, 1, 0;\n\t"
                 "wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
                 "%14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, "
                 "%26, %27, %28, %29, %30, %31"
                 "}, %32, %33, p, 1, 1;\n\t}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),
                   "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),
                   "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),
                   "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
                   "+f"(d[30]), "+f"(d[31])
                 : "l"(da), "l"(db));
#else
    (void)d, (void)da, (void)db;
#endif
}

/* d[0..15] += A * B, m64n32k8 (A and B in shared memory, see the descriptors above). */
static __device__ __forceinline__ void mr_wgmma_tf32_n32(float *d, unsigned long long da,
                                                         unsigned long long db) {
#if MR_WGMMA
    asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, 1, 0;\n\t"
                 "wgmma.mma_async.sync.aligned.m64n32k8.f32.tf32.tf32 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, "
                 "%14, %15"
                 "}, %16, %17, p, 1, 1;\n\t}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),
                   "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),
                   "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
                 : "l"(da), "l"(db));
#else
    (void)d, (void)da, (void)db;
#endif
}

#endif
