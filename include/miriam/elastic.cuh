/*
 * The elastic-kernel contract, for people writing their own elastic operators.
 *
 * An elastic kernel is an ordinary kernel body written over a *logical block index* instead of
 * blockIdx.x. A kernel step of a model has a logical grid of L logical blocks (per phase).
 * miriam launches the body in two forms, generated from the same body by MR_ELASTIC_KERNEL:
 *
 *   NAME_plain   (ordinary launch)   grid = L physical blocks, logical block = base + blockIdx.x.
 *                                    Used by the baselines and to measure the elastic overhead.
 *   NAME_elastic (elastic launch)    grid = P physical blocks, any P >= 1. Each physical block
 *                                    repeatedly takes the next logical block from a per-step
 *                                    device counter and runs the body on it, until the counter
 *                                    reaches the shard's end or the launch is told to yield.
 *   NAME_wave    (library launches)  a preemptible launch whose counter is known, of one or a
 *                                    few waves: block b runs logical block first + b and
 *                                    nothing else (MR_ELASTIC_KERNEL_WAVE_ below). Custom
 *                                    operators need not register it.
 *
 * A physical block checks the yield word *before* taking a logical block, so every logical
 * block that was taken is finished, and blocks that overshoot the shard end put the counter
 * back to the end. Hence, once a launch has finished, the counter is exactly where the step
 * stopped, and a launch covers the shard [counter, end): a launch that yielded, or a shard
 * that ended early, is continued by simply launching again with a later (or the same) end —
 * no work is lost or done twice. Shards of one step must therefore run one after another
 * (never two launches of the same step and phase at once); different steps run concurrently
 * freely. (One exception, for the library's own launches: a preemptible launch whose first
 * wave starts without taking, ctl.holes below, leaves a record of the blocks of that wave
 * that found the yield word set, and whoever resumes it re-runs them.)
 *
 *   - The yield word lives in device memory; the host sets it (a 4-byte copy on a control
 *     stream: the copy engines work beside busy SMs) to make every preemptible launch drain
 *     within one logical block, and clears it before resuming. (Host-mapped memory polled
 *     by hundreds of resident blocks over PCIe was measured far slower.)
 *   - The logical block is the unit of work and of preemption: keep it to a few microseconds.
 *   - A body must not assume anything about which physical block runs it, nor that logical
 *     blocks run in order or concurrently; it may use __syncthreads() (all threads of the
 *     physical block call it the same number of times) and dynamic shared memory.
 *   - Elastic knobs: P (physical blocks) and the tile variant (threads per block, registers,
 *     shared memory), whose per-SM footprint the CUDA occupancy API reports.
 *
 * What a logical block costs beyond its body: taking it is an atomic on the counter, an L2
 * round trip, and a preemptible launch reads the yield word before it, a second one; the
 * physical block waits for both. In a *prefilled* launch (ctl.first >= 0, never preemptible) no
 * physical block takes its first logical block: whoever launches knows the counter's value F (a
 * model run, from the counters it resets itself) and has already written min(F + P, end) into it,
 * in the same copy that resets the counters, so physical block b starts on logical block
 * F + b. A launch with ctl.raise (a shard whose counter the launcher knows) starts the same
 * way, its blocks raising the counter themselves; preemptible, such a launch reads the yield
 * word before its first logical block and records the blocks that found it set (ctl.holes).
 * (Taking the
 * next block while the current one runs was measured too, and rejected: it made multi-wave
 * launches slower; docs/KERNEL_NOTES.md.)
 *
 * Writing one:
 *
 *   __device__ void my_body(const mr_cuda_args *a, long long blk) {
 *       const float *x = (const float *)a->in[0];
 *       float *y = (float *)a->out[0];
 *       long long i = blk * blockDim.x + threadIdx.x;
 *       if (i < n) y[i] = f(x[i]);
 *   }
 *   MR_ELASTIC_KERNEL(my_op, 256, my_body)   // defines my_op_elastic and my_op_plain
 *
 * Programmatic dependent launch (Hopper and later). Both forms begin with
 * mr_grid_dependency_sync(): each kernel waits there until the kernel before it in the stream
 * has finished and its writes are visible. So the library may launch its own kernels with
 * programmatic stream serialization: a step's blocks are dispatched as soon as the blocks of
 * the step before have exited, instead of after the stream has processed that kernel's end
 * (the launch gap that short kernels otherwise pay between each other). A body must not read
 * anything an earlier kernel wrote before that point, which holds for every body as the macro
 * calls it first. Kernels of custom operators are never launched that way (they may have been
 * built against a header without the wait).
 *
 * This header is CUDA C++ (it is compiled by nvcc) but uses only C-style constructs.
 */
#ifndef MIRIAM_ELASTIC_CUH
#define MIRIAM_ELASTIC_CUH

#include <stdint.h>

/* Pointers and parameters of one kernel step, passed by value to every launch. */
#define MR_CUDA_MAX_PTRS    16
#define MR_CUDA_PARAM_BYTES 512

typedef struct mr_cuda_args {
    const void *in[MR_CUDA_MAX_PTRS]; /* device pointers of the step's inputs (NULL = absent) */
    void *out[MR_CUDA_MAX_PTRS];      /* device pointers of its outputs */
    void *workspace;                  /* per-step device memory kept across blocks and phases */
    long long n_blocks;               /* logical blocks of this phase */
    int phase;                        /* current phase (0 for single-phase ops) */
    int pad_;
    /* Op-specific plain-old-data, written by the op's host-side prepare (shapes, strides,
     * tiling). 8-byte aligned. */
    long long params[MR_CUDA_PARAM_BYTES / 8];
} mr_cuda_args;

/* Control block of an elastic launch. */
typedef struct mr_elastic_ctl {
    unsigned long long *next;  /* device counter of this step/phase: next logical block */
    const volatile int *yield; /* yield word (device memory); NULL = not preemptible */
    long long end;             /* shard end (exclusive) */
    /* -1, or the counter's value F when the launch was enqueued, with the counter already
     * advanced to min(F + P, end) by the launcher (or by the blocks: raise): physical block b
     * then starts on logical block F + b without taking it (a prefilled launch, above). With
     * a yield word only together with raise and holes. */
    long long first;
    /* 1: the launch has more logical blocks than physical ones (more than one wave): a block
     * does not leave after its first logical block by the last-wave rule below but takes
     * again, so that the last wave goes to the blocks that finish first (see there). */
    int spread;
    /* 1 (with first >= 0): the counter still holds `first`, not advanced by the launcher (who
     * knows its value because no launch that moves it can be in flight: a shard of the
     * elastic policy, or its preemptible launch of a phase it has seen start or resume). Physical
     * block b starts on logical block first + b as in a prefilled launch, and its thread 0 raises
     * the counter to min(first + P, end) itself as the kernel starts (atomicMax, not waited for:
     * the same thread's later takes are ordered after it), so that no block waits for a take before
     * its first block. */
    int raise;
    /* With raise and a yield word (a preemptible launch whose first wave starts on first + b
     * without taking): the phase's record of the first wave's blocks that found the yield
     * word set, one bit for each physical block b (logical block first + b), zero when the
     * launch starts. Such a block leaves without finishing its logical block (behind a warp
     * gate, mr_gate_warp, some of its warps may have written their part), which lies below
     * the raised counter: a hole, re-run whole by whoever resumes the phase (the counter alone
     * no longer says where the phase stopped). NULL otherwise. */
    unsigned int *holes;
} mr_elastic_ctl;

#ifdef __CUDACC__

#include "miriam.h" /* mr_custom_kernel */

/* Thread 0 of a physical block: the next logical block, or -1 when the shard is done or the
 * launch must yield. A plain atomicAdd hands out blocks (a compare-and-swap loop would
 * serialise them at one L2 round trip each: measured 0.25 us per block on an H200). A block
 * that overshoots the shard end pulls the counter back with atomicMin, so once the launch has
 * finished the counter is exactly the resume point: min(blocks taken, end).
 *
 * The yield word is read before the take, not beside it: a block that took and then found
 * the yield set could give its logical block back only while no other block had taken after
 * it, so a launch enqueued behind a set yield word would run up to a wave of blocks instead
 * of leaving (docs/KERNEL_NOTES.md, 26). */
static __device__ __forceinline__ long long mr_elastic_take(const mr_elastic_ctl *c) {
#ifndef MR_STUDY_TAKE_NO_READ /* study builds only: takes without the read (timing only) */
    if (c->yield && *c->yield) return -1;
#endif
    unsigned long long end = (unsigned long long)c->end;
    unsigned long long i = atomicAdd(c->next, 1ull);
    if (i < end) return (long long)i;
    atomicMin(c->next, end);
    return -1;
}

/* After logical block i (first: 1 when it was the physical block's first), the next logical
 * block of this physical block, or -1 (the shard is done, or the launch yields). Every thread
 * of the block calls it. It is the elastic loop's step (below, "The elastic loop", where the
 * last-wave rule, i + gridDim.x >= end, and ctl.spread are explained). Thread 0 takes and
 * hands the result to the block through *slot (shared memory); alternate two slots from one
 * call to the next, so that a take never overwrites what a thread may not have read yet. */
static __device__ __forceinline__ long long mr_elastic_next(const mr_elastic_ctl *c, long long i,
                                                            int first, long long *slot) {
    if (i + (long long)gridDim.x >= c->end && !(first && c->spread)) return -1;
    if (threadIdx.x == 0) *slot = mr_elastic_take(c);
    __syncthreads();
    return *slot;
}

/* The start of every elastic and plain kernel (see "Programmatic dependent launch" above):
 * wait for the previous kernel of the stream (a no-op when this kernel was launched without
 * programmatic serialization). There is no early trigger (griddepcontrol.launch_dependents):
 * the next kernel's blocks are dispatched when this kernel's blocks have all exited, which
 * still saves the launch, but onto empty SMs. Triggered at the start instead, they were
 * dispatched onto the slots that freed first, several to an SM, and a kernel of less than a
 * full wave then ran on fewer SMs (ResNet-50 on 16 SMs 12% slower, docs/KERNEL_NOTES.md). */
static __device__ __forceinline__ void mr_grid_dependency_sync(void) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

/* Study builds only (-DMR_STUDY_GATE=K, with MR_STUDY_WAVE_ZERO_READ; timing only; the pieces
 * of an armed gate, docs/KERNEL_NOTES.md, 35): 1, no hole record; 2, no block leaves at the
 * gate; 3, the gate a plain barrier. */
/* The yield gate of a gated body (MR_ELASTIC_KERNEL_GATED below). A one-wave preemptible
 * launch must leave every logical block whose block finds the yield word set, and its blocks
 * read the word as they start; waiting for that read before the body (one L2 round trip,
 * about 0.3 us on an H200) was 2-4 points of the 5-6% the short kernels of a large GPU paid
 * over plain launches (docs/KERNEL_NOTES.md, 34). A gated body receives the read still in flight,
 * and consults it at the gate, a point it reaches after issuing its first global loads and before
 * its first global store, so that the read's round trip overlaps the body's own. In the plain and
 * elastic forms the gate is open (armed 0, a constant once inlined): it lets every block through.
 *
 * The rules for a gated body: every path passes a gate (mr_gate_check, or mr_gate_sync with
 * `at` nonzero) before its first global side effect, with all threads of the block together
 * (it is a barrier in a wave launch); a nonzero result means the block leaves at once, after
 * waiting for its own asynchronous copies into shared memory. Or, for an idempotent body, the
 * warp gate (mr_gate_warp), passed by each warp alone. test_cuda checks that a wave launch
 * with the word set leaves every block undone. */
typedef struct mr_yield_gate {
    int armed;           /* 1: a wave launch's gate, y being read; 0: open */
    int y;               /* the yield word, read by every thread (the load may be in flight) */
    unsigned int *holes; /* the phase's hole record (ctl.holes) */
} mr_yield_gate;

/* The gate where the body has no barrier of its own: in a wave launch, a barrier that hands
 * thread 0's read to the block (thread 0 also records the hole); nothing when open. Returns
 * nonzero when the block must leave. */
static __device__ __forceinline__ int mr_gate_check(const mr_yield_gate *g) {
    if (!g->armed) return 0;
    /* The read's first use stays here: a gate sits in the body's first loop, where the test
     * of y is loop-invariant, and the compiler hoisted it to the body's start, where warp 0
     * then waited for the read before issuing its loads (docs/KERNEL_NOTES.md, 34). Thread
     * 0's read alone decides, so that the block leaves exactly when thread 0 records it. */
    int y = threadIdx.x == 0 ? g->y : 0;
    asm volatile("mov.b32 %0, %1;" : "=r"(y) : "r"(y));
#if defined(MR_STUDY_GATE) && MR_STUDY_GATE == 3
    /* study builds only: the gate a plain barrier (timing only) */
    (void)y;
    __syncthreads();
    return 0;
#else
#if !defined(MR_STUDY_GATE) || MR_STUDY_GATE != 1 /* 1: no hole record (timing only) */
    if (threadIdx.x == 0 && y) atomicOr(g->holes + (blockIdx.x >> 5), 1u << (blockIdx.x & 31));
#endif
#if defined(MR_STUDY_GATE) && MR_STUDY_GATE == 2 /* 2: no block leaves (timing only) */
    (void)__syncthreads_or(y);
    return 0;
#else
    return __syncthreads_or(y);
#endif
#endif
}

/* The gate without a barrier, for a body whose warps need not wait for each other: each warp
 * decides alone, and a warp that finds the word set records its block's hole and leaves (the
 * function returns nonzero), while the block's other warps may go on. The whole logical block
 * is then re-run on resume, so the body must be idempotent per logical block: its outputs
 * written, never accumulated, and none of them read by it (the library's depthwise
 * convolution, split-K reduction, element-wise binary ops and activations; the planner never
 * places a step's output over its inputs). All threads of the warp reach it together. A
 * barrier added where the body had none held every warp until the slowest one's first loads
 * had landed: in MobileNet-V2's depthwise and reduction launches that barrier was most of
 * what the wave form cost over plain (docs/KERNEL_NOTES.md, 37). */
static __device__ __forceinline__ int mr_gate_warp(const mr_yield_gate *g) {
    if (!g->armed) return 0;
    int y = g->y; /* every thread's own read (MR_ELASTIC_KERNEL_WAVE_) */
    asm volatile("mov.b32 %0, %1;" : "=r"(y) : "r"(y)); /* the first use stays here */
    if (!__any_sync(__activemask(), y)) return 0;
    if ((threadIdx.x & 31) == 0) atomicOr(g->holes + (blockIdx.x >> 5), 1u << (blockIdx.x & 31));
    return 1;
}

/* A barrier of the body (__syncthreads) that is also its gate where `at` is nonzero (the
 * first time through: `at` must be the same for the whole block). Returns nonzero when the
 * block must leave. */
static __device__ __forceinline__ int mr_gate_sync(const mr_yield_gate *g, int at) {
    if (g->armed && at) return mr_gate_check(g);
    __syncthreads();
    return 0;
}

/* Defines NAME_elastic, NAME_plain and NAME_wave (extern "C", so host C code can take their
 * addresses) from a body `__device__ void BODY(const mr_cuda_args *a, long long blk)`.
 * THREADS is the block size the body is written for (used as __launch_bounds__).
 *
 * The elastic loop. mr_blk_ hands thread 0's logical block to the others; it alternates
 * between two slots, so one barrier per logical block suffices (a slot is rewritten only
 * after the barrier that follows every thread's read of it). In the last wave (i + P >= end)
 * every index from i on is taken by some other block or is i itself (P blocks hold distinct
 * indices and the counter only grows), so a block leaves without the failing take that would
 * end its loop. The counter still ends exactly at `end` (or where a yield stopped it): if no
 * take failed, the P blocks left on P distinct indices in [end - P, counter), so counter >=
 * end, and atomicMin brought it back to end. (Taking again instead of leaving is always
 * safe: the take fails, or the block goes on.) With ctl.spread the rule skips a block's first
 * logical block: all P blocks take their first one at once, so the lowest indices, whose
 * blocks would go on into the last wave, went to the blocks the GPU dispatched first, often
 * to the same few SMs, where the last wave then ran four to an SM; taking at the end of the
 * first block hands the last wave to the blocks that finish first, as the hardware hands a
 * plain grid's last blocks to the slots that free up first. */
#define MR_ELASTIC_KERNEL(NAME, THREADS, BODY)                                                     \
    MR_ELASTIC_KERNEL_(NAME, __launch_bounds__(THREADS), BODY)

/* The same, both kernels compiled for at least MIN_BLOCKS resident blocks per SM
 * (__launch_bounds__(THREADS, MIN_BLOCKS)): the plain form has no elastic loop and may
 * otherwise be given more registers, and fewer of its blocks then fit an SM than of the
 * elastic form, whose occupancy sizes the launches of both. (MIN_BLOCKS 1 is not the same
 * as MR_ELASTIC_KERNEL: it lets the compiler take up to 255 registers per thread.) */
#define MR_ELASTIC_KERNEL_BOUNDS(NAME, THREADS, MIN_BLOCKS, BODY)                                  \
    MR_ELASTIC_KERNEL_(NAME, __launch_bounds__(THREADS, MIN_BLOCKS), BODY)

/* As MR_ELASTIC_KERNEL and MR_ELASTIC_KERNEL_BOUNDS, for a gated body `__device__ void
 * BODY(const mr_cuda_args *a, long long blk, const mr_yield_gate *g)` (see mr_yield_gate for
 * its rules): the wave form hands it the yield read in flight instead of waiting for it. */
#define MR_ELASTIC_KERNEL_GATED(NAME, THREADS, BODY)                                               \
    MR_ELASTIC_KERNEL_GATED_(NAME, __launch_bounds__(THREADS), BODY)
#define MR_ELASTIC_KERNEL_GATED_BOUNDS(NAME, THREADS, MIN_BLOCKS, BODY)                            \
    MR_ELASTIC_KERNEL_GATED_(NAME, __launch_bounds__(THREADS, MIN_BLOCKS), BODY)

#define MR_ELASTIC_KERNEL_GATED_(NAME, BOUNDS, BODY)                                               \
    MR_ELASTIC_KERNEL_CALL_(NAME, BOUNDS, 0, BODY(&a, mr_i_, &mr_gate_open_))                      \
    MR_ELASTIC_KERNEL_WAVE_(NAME, BOUNDS, 1, BODY(&a, mr_i_, &mr_g_))

#define MR_ELASTIC_KERNEL_(NAME, BOUNDS, BODY)                                                     \
    MR_ELASTIC_KERNEL_CALL_(NAME, BOUNDS, 0, BODY(&a, mr_i_))                                      \
    MR_ELASTIC_KERNEL_WAVE_(NAME, BOUNDS, 0, BODY(&a, mr_i_))

/* What a body defined with MR_ELASTIC_KERNEL_HOW learns about the logical block it runs (the
 * library's own multi-step kernels use it; custom operators need not): MR_BLK_FIRST, the
 * first logical block of its physical block (shared memory holds nothing of an earlier one);
 * MR_BLK_PLAIN, a block of the plain form (one logical block per physical block, unless the
 * body takes further ones itself from a counter of its own, as the library's persistent
 * recurrence does). */
#define MR_BLK_FIRST 1
#define MR_BLK_PLAIN 2

/* As MR_ELASTIC_KERNEL_BOUNDS, for a body `__device__ void BODY(const mr_cuda_args *a,
 * long long blk, int how, const mr_elastic_ctl *ctl)`: how, a combination of the MR_BLK_
 * flags; ctl, the elastic launch's control block (NULL in the plain form). Such a body may go
 * on to further logical blocks itself, taken with mr_elastic_take(ctl) (which reads the yield
 * word first), and must run every block it took; the loop around it then finds the shard
 * done, or the yield. */
#define MR_ELASTIC_KERNEL_HOW(NAME, THREADS, MIN_BLOCKS, BODY)                                     \
    MR_ELASTIC_KERNEL_CALL_(NAME, __launch_bounds__(THREADS, MIN_BLOCKS), 0,                       \
                            BODY(&a, mr_i_, mr_f_, mr_ctl_))

/* As MR_ELASTIC_KERNEL_HOW, for a body that goes on to its further logical blocks itself in
 * the elastic form too (with mr_elastic_next, or mr_elastic_take as the persistent recurrence
 * does) and returns when none is left for it: the elastic kernel calls it once, on its
 * physical block's first logical block, outside any loop. A body inlined in the generic loop
 * was compiled into a larger kernel that ran slower than its plain form (the stacked
 * recurrence on 16 SMs: +5%; docs/KERNEL_NOTES.md, 20). */
#define MR_ELASTIC_KERNEL_ONCE(NAME, THREADS, MIN_BLOCKS, BODY)                                    \
    MR_ELASTIC_KERNEL_CALL_(NAME, __launch_bounds__(THREADS, MIN_BLOCKS), 1,                       \
                            BODY(&a, mr_i_, mr_f_, mr_ctl_))

/* The two kernels around CALL, an expression that runs logical block mr_i_; mr_f_ holds its
 * MR_BLK_ flags (MR_BLK_FIRST is 1, so the elastic loop's "first" flag is one of them). ONCE
 * (a literal): 1, the elastic kernel runs CALL once (MR_ELASTIC_KERNEL_ONCE). */
/* Study builds only (scripts/build-variant.sh SOURCE -DMR_ELASTIC_TIMELINE; never a release
 * build): every plain block and every physical block of a prefilled elastic launch prints, as
 * it leaves, its SM and the %globaltimer nanoseconds of its start, of the end of its
 * grid-dependency wait and of the start and end of each of its first four logical blocks:
 * "etl FORM LOGICAL-BLOCKS GRID BLOCK SM T-START T-WAITED N [I T0 T1]...", FORM p (plain),
 * e (prefilled elastic) or w (the wave form of a one-wave preemptible launch). Kept in shared
 * memory until the block leaves, so that printing delays no logical block.
 * scripts/elastic_timeline.py summarises them. Timers of different SMs differ by up to ~2.5 us
 * (docs/KERNEL_NOTES.md, 25): compare stamps of one SM. */
#ifdef MR_ELASTIC_TIMELINE
#include <stdio.h>
static __device__ __forceinline__ unsigned long long mr_tl_now_(void) {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)::"memory");
    return t;
}
#define MR_TL_DECL_                                                                                \
    __shared__ unsigned long long mr_tl_[16];                                                      \
    int mr_tn_ = 0;                                                                                \
    if (threadIdx.x == 0) mr_tl_[0] = mr_tl_now_()
#define MR_TL_WAITED_                                                                              \
    if (threadIdx.x == 0) mr_tl_[1] = mr_tl_now_()
#define MR_TL_START_(I)                                                                            \
    if (threadIdx.x == 0 && mr_tn_ < 4) {                                                          \
        mr_tl_[2 + 3 * mr_tn_] = (unsigned long long)(I);                                          \
        mr_tl_[3 + 3 * mr_tn_] = mr_tl_now_();                                                     \
    }
#define MR_TL_END_                                                                                 \
    if (threadIdx.x == 0 && mr_tn_ < 4) mr_tl_[4 + 3 * mr_tn_] = mr_tl_now_();                     \
    mr_tn_++
/* FORM_OK: whether this launch prints; only its blocks below MR_TL_MAX_BLOCK do (a whole GPU's
 * launches would otherwise overflow the device's printf buffer) */
#ifndef MR_TL_MAX_BLOCK
#define MR_TL_MAX_BLOCK 0x7fffffff
#endif
#define MR_TL_PRINT_(FORM, FORM_OK)                                                                \
    do {                                                                                           \
        if (threadIdx.x == 0 && (FORM_OK) && blockIdx.x < (unsigned)MR_TL_MAX_BLOCK) {             \
            unsigned sm_;                                                                          \
            asm volatile("mov.u32 %0, %%smid;" : "=r"(sm_));                                       \
            const int n_ = mr_tn_ < 4 ? mr_tn_ : 4;                                                \
            unsigned long long r_[12];                                                             \
            for (int q_ = 0; q_ < 12; q_++) r_[q_] = q_ < 3 * n_ ? mr_tl_[2 + q_] : 0;             \
            printf("etl %c %lld %u %u %u %llu %llu %d %llu %llu %llu %llu %llu %llu %llu %llu "    \
                   "%llu %llu %llu %llu\n",                                                        \
                   (FORM), a.n_blocks, gridDim.x, blockIdx.x, sm_, mr_tl_[0], mr_tl_[1], mr_tn_,   \
                   r_[0], r_[1], r_[2], r_[3], r_[4], r_[5], r_[6], r_[7], r_[8], r_[9], r_[10],   \
                   r_[11]);                                                                        \
        }                                                                                          \
    } while (0)
#define MR_TL_E_OK_ (ctl.first >= 0 && !ctl.raise && !ctl.yield)
#else
#define MR_TL_DECL_         (void)0
#define MR_TL_WAITED_       (void)0
#define MR_TL_START_(I)     (void)0
#define MR_TL_END_          (void)0
#define MR_TL_PRINT_(F, OK) (void)0
#endif

/* Study builds only (scripts/build-variant.sh NAME SOURCE -DMR_STUDY_EARLY_YIELD): a
 * preemptible launch's first-wave yield read issued before the grid-dependency wait (the word
 * is the host's, not the previous kernel's), its value used after it. */
#ifdef MR_STUDY_EARLY_YIELD
#define MR_EARLY_YIELD_READ_                                                                       \
    int mr_y0_ = 0;                                                                                \
    if (ctl.holes && threadIdx.x == 0) mr_y0_ = *ctl.yield
#define MR_EARLY_YIELD_VALUE_ mr_y0_
#else
#define MR_EARLY_YIELD_READ_  (void)0
#define MR_EARLY_YIELD_VALUE_ (*ctl.yield)
#endif

/* Study builds only (-DMR_STUDY_NO_RAISE): no block raises the counter, in the elastic and
 * wave forms (what the raise costs a launch; the counter is then wrong: timing only;
 * docs/KERNEL_NOTES.md, 35). */
#ifdef MR_STUDY_NO_RAISE
#define MR_ELASTIC_RAISES_ 0
#else
#define MR_ELASTIC_RAISES_ 1
#endif

#define MR_ELASTIC_KERNEL_CALL_(NAME, BOUNDS, ONCE, CALL)                                          \
    extern "C" __global__ void BOUNDS NAME##_elastic(mr_cuda_args a, mr_elastic_ctl ctl) {         \
        /* 128 bytes, 128-aligned, of which 16 are used: dynamic shared memory follows the         \
         * static, and 16 bytes put every body's buffers 16 bytes off the 128-byte lines they      \
         * have in the plain form (docs/KERNEL_NOTES.md, 26). */                                   \
        __shared__ __align__(128) long long mr_blk_[16];                                           \
        const mr_elastic_ctl *mr_ctl_ __attribute__((unused)) = &ctl;                              \
        const mr_yield_gate mr_gate_open_ __attribute__((unused)) = {0, 0, NULL};                  \
        long long mr_i_;                                                                           \
        MR_TL_DECL_;                                                                               \
        /* ctl.raise: the counter is this launch's alone, so thread 0 raises it before the wait    \
         * (after it, the code cost the 32-register kernels 60 bytes of spills). Not in a ONCE     \
         * kernel (the persistent recurrence, never so launched: its steps slowed 4-7%). */        \
        if (!(ONCE) && MR_ELASTIC_RAISES_ && ctl.raise && threadIdx.x == 0) {                      \
            const long long mr_r_ = ctl.first + (long long)gridDim.x;                              \
            atomicMax(ctl.next, (unsigned long long)(mr_r_ < ctl.end ? mr_r_ : ctl.end));          \
        }                                                                                          \
        MR_EARLY_YIELD_READ_;                                                                      \
        mr_grid_dependency_sync();                                                                 \
        MR_TL_WAITED_;                                                                             \
        if (ctl.first >= 0) {                                                                      \
            mr_i_ = ctl.first + (long long)blockIdx.x;                                             \
            if (mr_i_ >= ctl.end) return;                                                          \
            /* preemptible, first wave without a take: the yield read alone; a block that finds    \
             * the word set records its hole and leaves */                                         \
            if (ctl.holes) {                                                                       \
                if (threadIdx.x == 0) {                                                            \
                    const int mr_y_ = MR_EARLY_YIELD_VALUE_;                                       \
                    if (mr_y_) atomicOr(ctl.holes + (blockIdx.x >> 5), 1u << (blockIdx.x & 31));   \
                    mr_blk_[0] = mr_y_;                                                            \
                }                                                                                  \
                __syncthreads();                                                                   \
                if (mr_blk_[0]) return;                                                            \
            }                                                                                      \
        } else {                                                                                   \
            if (threadIdx.x == 0) mr_blk_[0] = mr_elastic_take(&ctl);                              \
            __syncthreads();                                                                       \
            mr_i_ = mr_blk_[0];                                                                    \
            if (mr_i_ < 0) return;                                                                 \
        }                                                                                          \
        for (int mr_s_ = 1, mr_f_ = 1;; mr_s_ ^= 1, mr_f_ = 0) {                                   \
            MR_TL_START_(mr_i_);                                                                   \
            CALL;                                                                                  \
            MR_TL_END_;                                                                            \
            /* mr_elastic_next's steps, written out: through it, kernels compiled differently */   \
            if (ONCE || (mr_i_ + (long long)gridDim.x >= ctl.end && !(mr_f_ && ctl.spread))) {     \
                MR_TL_PRINT_('e', MR_TL_E_OK_);                                                    \
                return;                                                                            \
            }                                                                                      \
            if (threadIdx.x == 0) mr_blk_[mr_s_] = mr_elastic_take(&ctl);                          \
            __syncthreads();                                                                       \
            mr_i_ = mr_blk_[mr_s_];                                                                \
            if (mr_i_ < 0) {                                                                       \
                MR_TL_PRINT_('e', MR_TL_E_OK_);                                                    \
                return;                                                                            \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    extern "C" __global__ void BOUNDS NAME##_plain(mr_cuda_args a, long long base) {               \
        const long long mr_i_ = base + (long long)blockIdx.x;                                      \
        const int mr_f_ __attribute__((unused)) = MR_BLK_FIRST | MR_BLK_PLAIN;                     \
        const mr_elastic_ctl *mr_ctl_ __attribute__((unused)) = NULL;                              \
        const mr_yield_gate mr_gate_open_ __attribute__((unused)) = {0, 0, NULL};                  \
        MR_TL_DECL_;                                                                               \
        mr_grid_dependency_sync();                                                                 \
        MR_TL_WAITED_;                                                                             \
        MR_TL_START_(mr_i_);                                                                       \
        CALL;                                                                                      \
        MR_TL_END_;                                                                                \
        MR_TL_PRINT_('p', 1);                                                                      \
    }

/* Study builds only (scripts/build-variant.sh NAME SOURCE -DMR_STUDY_WAVE_NO_READ): the wave
 * forms without their yield read, gated or not (not preemptible: timing only; what the read
 * costs, docs/KERNEL_NOTES.md, 34). */
#if defined(MR_STUDY_NO_RAISE) /* study builds only: nobody raises (timing only) */
#define MR_WAVE_RAISER_ 0
#elif defined(MR_STUDY_WAVE_RAISE0) /* study builds only: block 0 alone raises the counter */
#define MR_WAVE_RAISER_ (threadIdx.x == 0 && blockIdx.x == 0)
#else
#define MR_WAVE_RAISER_ (threadIdx.x == 0)
#endif
#ifdef MR_STUDY_WAVE_NO_READ
#define MR_WAVE_GATE_ARMED_ 0
#else
#define MR_WAVE_GATE_ARMED_ 1
#endif
/* Study builds only (-DMR_STUDY_WAVE_ZERO_READ): the gates armed but no load, a zero the
 * compiler cannot see through (what the gates cost without the read: timing only;
 * docs/KERNEL_NOTES.md, 35). */
#ifdef MR_STUDY_WAVE_ZERO_READ
#define MR_WAVE_READ_(P) ((int)(ctl.end >> 62))
#else
#define MR_WAVE_READ_(P) (*(P))
#endif

/* NAME_wave, a third form of the bodies of MR_ELASTIC_KERNEL and MR_ELASTIC_KERNEL_BOUNDS: a
 * preemptible launch whose counter the launcher knows (ctl.first >= 0, ctl.raise, ctl.holes),
 * with gridDim.x = ctl.end - ctl.first physical blocks, each running logical block
 * ctl.first + blockIdx.x and no other: one wave, or a few that the GPU dispatches as slots free
 * up (the hole record then has a bit for every block). The elastic form without its loop: the
 * plain body's code (registers, instructions), which the loop's live state would cost, and no
 * take before the blocks past the first wave. The yield word's value reaches the block through
 * __syncthreads_or (or each warp's own read, mr_gate_warp), not shared memory, so the dynamic
 * shared memory starts where the plain form's does. Not for bodies that take further blocks
 * themselves (HOW and ONCE).
 * GATED (a literal): 1, the body takes the gate with the read in flight and consults it itself
 * (MR_ELASTIC_KERNEL_GATED); 0, the gate is passed before the body. */
#define MR_ELASTIC_KERNEL_WAVE_(NAME, BOUNDS, GATED, CALL)                                         \
    extern "C" __global__ void BOUNDS NAME##_wave(mr_cuda_args a, mr_elastic_ctl ctl) {            \
        const long long mr_i_ = ctl.first + (long long)blockIdx.x;                                 \
        MR_TL_DECL_;                                                                               \
        if (MR_WAVE_RAISER_) atomicMax(ctl.next, (unsigned long long)ctl.end);                     \
        mr_grid_dependency_sync();                                                                 \
        MR_TL_WAITED_;                                                                             \
        mr_yield_gate mr_g_ = {MR_WAVE_GATE_ARMED_, 0, ctl.holes};                                 \
        if (MR_WAVE_GATE_ARMED_) mr_g_.y = MR_WAVE_READ_(ctl.yield);                               \
        /* an ungated body: the gate before it */                                                  \
        if (!(GATED) && mr_gate_check(&mr_g_)) return;                                             \
        MR_TL_START_(mr_i_);                                                                       \
        CALL;                                                                                      \
        MR_TL_END_;                                                                                \
        MR_TL_PRINT_('w', 1);                                                                      \
    }

/* Custom operators (miriam.h, "Custom operators"): fills *OUT, an mr_custom_kernel, with the
 * two kernels MR_ELASTIC_KERNEL(NAME, THREADS, BODY) defined, labelled LABEL, taking SMEM
 * bytes of dynamic shared memory per block. Evaluates to cudaSuccess, or the CUDA error when
 * no usable driver is present (register the operator for the CPU only then). */
#define MR_CUSTOM_KERNEL(OUT, LABEL, NAME, THREADS, SMEM)                                          \
    mr_custom_kernel_get((OUT), (LABEL), (const void *)NAME##_elastic, (const void *)NAME##_plain, \
                         (THREADS), (SMEM))

/* The kernels go to miriam as cudaKernel_t handles (cudaGetKernel), not as the host addresses
 * of the __global__ functions: libmiriam links the CUDA runtime statically, so code outside
 * it has its own copy, and a copy launches only the host addresses registered with it, but
 * any kernel handle. */
static inline cudaError_t mr_custom_kernel_get(mr_custom_kernel *out, const char *label,
                                               const void *elastic, const void *plain, int threads,
                                               int smem) {
    cudaKernel_t e, p;
    cudaError_t err = cudaGetKernel(&e, elastic);
    if (err == cudaSuccess) err = cudaGetKernel(&p, plain);
    if (err != cudaSuccess) {
        cudaGetLastError();
        return err;
    }
    out->name = label;
    out->elastic = (const void *)e;
    out->plain = (const void *)p;
    out->threads = threads;
    out->smem = smem;
    return cudaSuccess;
}

#endif /* __CUDACC__ */

#endif /* MIRIAM_ELASTIC_CUH */
