/* CUDA backend: device selection, optional SM partition (green context), streams with
 * priorities, weights uploaded once per model, one device arena per execution context, and
 * the launcher of elastic / plain kernels (include/miriam/elastic.cuh).
 *
 * The driver API (green contexts) is reached through cudaGetDriverEntryPointByVersion, so
 * the library links no libcuda and loads on machines without a GPU driver; the runtime is
 * linked statically. */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "cuda/cuda_backend.h"
#include "cuda/gate.h"
#include "cuda/tf32.h"
#include "ops/op.h"

typedef CUresult (*pfn_get_resource)(CUdevice, CUdevResource *, CUdevResourceType);
typedef CUresult (*pfn_split)(CUdevResource *, unsigned int *, const CUdevResource *,
                              CUdevResource *, unsigned int, unsigned int);
typedef CUresult (*pfn_gen_desc)(CUdevResourceDesc *, CUdevResource *, unsigned int);
typedef CUresult (*pfn_green_create)(CUgreenCtx *, CUdevResourceDesc, CUdevice, unsigned int);
typedef CUresult (*pfn_green_destroy)(CUgreenCtx);
typedef CUresult (*pfn_green_stream)(CUstream *, CUgreenCtx, unsigned int, int);
typedef CUresult (*pfn_ctx_from_green)(CUcontext *, CUgreenCtx);
typedef CUresult (*pfn_ctx_set_current)(CUcontext);

struct mr_backend {
    int device;
    int sms;        /* SMs of the partition the runtime may use */
    int device_sms; /* SMs of the whole device */
    char name[256];
    CUgreenCtx green; /* NULL: whole device, primary context */
    CUcontext green_ctx;
    pfn_green_destroy green_destroy;
    pfn_ctx_set_current ctx_set_current;
    cudaStream_t stream_hi, stream_lo;
    cudaStream_t stream_ctl; /* copies of the yield word (highest priority, never busy) */
    int plain_launch;        /* run models with plain launches (the elastic-overhead baseline) */
    int use_graphs;          /* replay a model's launches as a CUDA graph */
    int pdl;                 /* launch with programmatic stream serialization (sm_90+) */
    mr_cuda_cfg cfg;         /* what op planning may depend on (precision) */
    /* The partition policy's two SM partitions (critical, normal), carved out of the
     * runtime's SMs on first use. */
    CUgreenCtx part_green[2];
    CUcontext part_ctx[2];
    int part_sms[2];
    pfn_green_stream green_stream;
};

typedef struct step_state {
    mr_cuda_plan plan;
    mr_cuda_args args;      /* bound pointers; n_blocks/phase set per launch */
    long long counter_base; /* index of phase 0's counter */
    void *workspace;
    void *packed; /* device: input plan.pack_input in the kernels' own layout (plan.pack) */
    int full_blocks[MR_CUDA_MAX_VARIANTS]; /* P that fills the partition (occupancy API) */
} step_state;

struct mr_exec {
    mr_backend *be;
    const mr_graph *g;
    const mr_plan *plan;
    void *arena;
    void **dconst;      /* device copy of each constant tensor used by a step (by tensor index) */
    void **dconst_tf32; /* the same rounded to TF32, for the steps that read it so (tf32_inputs) */
    step_state *steps;
    unsigned long long *counters; /* device */
    long long n_counters;
    /* device, right after the counters (one memset clears both): each counter's record of the
     * holes of a preemptible launch whose first wave did not take (mr_elastic_ctl.holes),
     * hole_words 32-bit words a counter, enough for the full width of variant 0 */
    unsigned int *holes;
    int hole_words;
    size_t ctr_bytes; /* counters and records */
    /* device: what prefilled launches expect in the counters before a model's first launch
     * (mr_cuda_exec_prefill_counters): min(full width of variant 0, logical blocks) */
    unsigned long long *ctr_prefill;
    /* 1 if a prefilled model run reads a counter: some phase has more logical blocks than
     * one wave, or a kernel takes further blocks in its body (plan.plain_grid) */
    int prefill_needed;
    int *yield_host; /* pinned staging copy of the yield word */
    int *yield_dev;  /* the yield word the kernels read (device memory) */
    size_t device_bytes;
    cudaGraphExec_t graph; /* the whole model's launches, captured at the first run */
    int graph_failed;      /* capture failed once: launch directly from then on */
    /* The coordinator's asynchronous requests: pinned staging of inputs and outputs (so the
     * copies are asynchronous) and of the step counters. Allocated on first use. */
    unsigned char *stage;
    size_t stage_in, stage_out;
    unsigned long long *ctr_host;
};

static mr_status cuda_fail(mr_err *err, cudaError_t e, const char *what) {
    cudaGetLastError(); /* clear a non-sticky error so the runtime stays usable */
    mr_status st = e == cudaErrorMemoryAllocation ? MR_ERR_NO_MEMORY : MR_ERR_BACKEND;
    return mr_errf(err, st, "CUDA error in %s: %s (%s)", what, cudaGetErrorString(e),
                   cudaGetErrorName(e));
}

#define CU_TRY(expr, what)                                                                         \
    do {                                                                                           \
        cudaError_t cu_e_ = (expr);                                                                \
        if (cu_e_ != cudaSuccess) return cuda_fail(err, cu_e_, what);                              \
    } while (0)

/* Device and pinned allocations. In fault-injection builds (docs/ROBUSTNESS.md) they take
 * part in the allocation-failure sequence of src/core/alloc.c, failing as the CUDA runtime
 * does when memory runs out, and are counted so that tests can check none is leaked. */
static cudaError_t dev_malloc(void **p, size_t size) {
#ifdef MR_FAULT_INJECTION
    if (mr_fault_alloc_now()) return cudaErrorMemoryAllocation;
    cudaError_t e = cudaMalloc(p, size);
    if (e == cudaSuccess) mr_fault_device_add(1);
    return e;
#else
    return cudaMalloc(p, size);
#endif
}

static void dev_free(void *p) {
#ifdef MR_FAULT_INJECTION
    if (p) mr_fault_device_add(-1);
#endif
    cudaFree(p);
}

static cudaError_t pinned_malloc(void **p, size_t size) {
#ifdef MR_FAULT_INJECTION
    if (mr_fault_alloc_now()) return cudaErrorMemoryAllocation;
    cudaError_t e = cudaHostAlloc(p, size, cudaHostAllocDefault);
    if (e == cudaSuccess) mr_fault_device_add(1);
    return e;
#else
    return cudaHostAlloc(p, size, cudaHostAllocDefault);
#endif
}

static void pinned_free(void *p) {
    if (!p) return;
#ifdef MR_FAULT_INJECTION
    mr_fault_device_add(-1);
#endif
    cudaFreeHost(p);
}

/* A yield word in device memory and its pinned staging copy, both zero. On failure *host and
 * *dev are left for the caller's usual frees (NULL or allocated). */
static cudaError_t yield_word_alloc(int **host, int **dev) {
    cudaError_t e;
    if ((e = pinned_malloc((void **)host, sizeof(int))) != cudaSuccess ||
        (e = dev_malloc((void **)dev, sizeof(int))) != cudaSuccess ||
        (e = cudaMemset(*dev, 0, sizeof(int))) != cudaSuccess)
        return e;
    **host = 0;
    return cudaSuccess;
}

/* Writes a yield word: a 4-byte copy on the control stream, which copy engines run beside busy
 * SMs, so it lands within microseconds even while the GPU is full; waiting for it makes the
 * value visible to every launch that follows. */
static cudaError_t yield_word_set(int *host, int *dev, int value, cudaStream_t ctl) {
    *host = value;
    cudaError_t e = cudaMemcpyAsync(dev, host, sizeof(int), cudaMemcpyHostToDevice, ctl);
    return e == cudaSuccess ? cudaStreamSynchronize(ctl) : e;
}

/* The grid of a launch. Fault injection (tests): the armed launch of this execution context
 * gets an empty grid, which cudaLaunchKernel refuses (cudaErrorInvalidValue on CUDA 13,
 * cudaErrorInvalidConfiguration on older releases): a real launch error, taking the runtime's
 * path, and not sticky (unlike a trap in a kernel, it leaves the context usable). */
static unsigned launch_grid(const mr_exec *ex, long long blocks) {
#ifdef MR_FAULT_INJECTION
    if (mr_fault_launch_now(ex)) return 0;
#endif
    return (unsigned)blocks;
}

int mr_cuda_available(char *why, size_t why_size) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        if (why && why_size)
            snprintf(why, why_size, "no usable CUDA device (%s)",
                     e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        cudaGetLastError();
        return 0;
    }
    return 1;
}

/* A driver API function by name, in the ABI version of the toolkit we were built with (an
 * older version number does not find functions added later, e.g. cuGreenCtxStreamCreate). */
static void *driver_fn(const char *sym) {
    void *fn = NULL;
    enum cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion(sym, &fn, CUDART_VERSION, cudaEnableDefault, &q) !=
            cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
        cudaGetLastError();
        return NULL;
    }
    return fn;
}

/* Makes the backend's context current on the calling thread (runtimes are used from any
 * thread; the CUDA current device/context is per thread). */
static mr_status bind_thread(mr_backend *be, mr_err *err) {
    if (be->green) {
        if (be->ctx_set_current(be->green_ctx) != CUDA_SUCCESS)
            return mr_errf(err, MR_ERR_BACKEND, "cannot make the SM-partition context current");
        return MR_OK;
    }
    CU_TRY(cudaSetDevice(be->device), "cudaSetDevice");
    return MR_OK;
}

static mr_status create_green(mr_backend *be, int sms, mr_err *err) {
    pfn_get_resource get_res = (pfn_get_resource)driver_fn("cuDeviceGetDevResource");
    pfn_split split = (pfn_split)driver_fn("cuDevSmResourceSplitByCount");
    pfn_gen_desc gen = (pfn_gen_desc)driver_fn("cuDevResourceGenerateDesc");
    pfn_green_create create = (pfn_green_create)driver_fn("cuGreenCtxCreate");
    pfn_green_stream gstream = (pfn_green_stream)driver_fn("cuGreenCtxStreamCreate");
    pfn_ctx_from_green from_green = (pfn_ctx_from_green)driver_fn("cuCtxFromGreenCtx");
    be->green_destroy = (pfn_green_destroy)driver_fn("cuGreenCtxDestroy");
    be->ctx_set_current = (pfn_ctx_set_current)driver_fn("cuCtxSetCurrent");
    const char *missing = !get_res               ? "cuDeviceGetDevResource"
                          : !split               ? "cuDevSmResourceSplitByCount"
                          : !gen                 ? "cuDevResourceGenerateDesc"
                          : !create              ? "cuGreenCtxCreate"
                          : !gstream             ? "cuGreenCtxStreamCreate"
                          : !from_green          ? "cuCtxFromGreenCtx"
                          : !be->green_destroy   ? "cuGreenCtxDestroy"
                          : !be->ctx_set_current ? "cuCtxSetCurrent"
                                                 : NULL;
    if (missing)
        return mr_errf(err, MR_ERR_BACKEND,
                       "--sms needs green contexts (CUDA driver 12.4 or newer); the driver "
                       "does not provide %s",
                       missing);
    CUdevResource all, part, rest;
    if (get_res((CUdevice)be->device, &all, CU_DEV_RESOURCE_TYPE_SM) != CUDA_SUCCESS)
        return mr_errf(err, MR_ERR_BACKEND, "cannot query the SMs of device %d", be->device);
    unsigned int groups = 1;
    CUresult r = split(&part, &groups, &all, &rest, 0, (unsigned int)sms);
    if (r != CUDA_SUCCESS || groups < 1)
        return mr_errf(err, MR_ERR_INVALID_ARG, "cannot carve %d SMs out of device %d (%d SMs)",
                       sms, be->device, be->device_sms);
    if ((int)part.sm.smCount != sms) {
        /* The hardware splits SMs in fixed groups (8 on Hopper): find the group size. */
        CUdevResource one, rest1;
        unsigned int g1 = 1, gran = 8;
        if (split(&one, &g1, &all, &rest1, 0, 1) == CUDA_SUCCESS && g1 >= 1 && one.sm.smCount)
            gran = one.sm.smCount;
        return mr_errf(err, MR_ERR_INVALID_ARG,
                       "--sms %d is not a valid partition of %s: SMs are split in groups of %u, "
                       "so use a multiple of %u from %u to %d",
                       sms, be->name, gran, gran, gran, be->device_sms - (int)gran);
    }
    CUdevResourceDesc desc;
    if (gen(&desc, &part, 1) != CUDA_SUCCESS ||
        create(&be->green, desc, (CUdevice)be->device, CU_GREEN_CTX_DEFAULT_STREAM) !=
            CUDA_SUCCESS ||
        from_green(&be->green_ctx, be->green) != CUDA_SUCCESS) {
        be->green = NULL;
        return mr_errf(err, MR_ERR_BACKEND, "cannot create a green context of %d SMs", sms);
    }
    int lo = 0, hi = 0;
    cudaDeviceGetStreamPriorityRange(&lo, &hi);
    CUstream s_hi, s_lo, s_ctl;
    if (gstream(&s_hi, be->green, CU_STREAM_NON_BLOCKING, hi) != CUDA_SUCCESS ||
        gstream(&s_lo, be->green, CU_STREAM_NON_BLOCKING, lo) != CUDA_SUCCESS ||
        gstream(&s_ctl, be->green, CU_STREAM_NON_BLOCKING, hi) != CUDA_SUCCESS)
        return mr_errf(err, MR_ERR_BACKEND, "cannot create streams in the SM partition");
    be->stream_hi = (cudaStream_t)s_hi;
    be->stream_lo = (cudaStream_t)s_lo;
    be->stream_ctl = (cudaStream_t)s_ctl;
    be->sms = sms;
    return MR_OK;
}

static void cuda_destroy(mr_backend *be) {
    if (!be) return;
    if (bind_thread(be, NULL) == MR_OK) {
        if (be->stream_hi) cudaStreamDestroy(be->stream_hi);
        if (be->stream_lo) cudaStreamDestroy(be->stream_lo);
        if (be->stream_ctl) cudaStreamDestroy(be->stream_ctl);
    }
    for (int i = 0; i < 2; i++)
        if (be->part_green[i] && be->green_destroy) be->green_destroy(be->part_green[i]);
    if (be->green && be->green_destroy) be->green_destroy(be->green);
    free(be);
}

static mr_status cuda_create(const mr_runtime_params *params, mr_backend **out, mr_err *err) {
    char why[256];
    if (!mr_cuda_available(why, sizeof why)) return mr_errf(err, MR_ERR_BACKEND, "%s", why);
    int n = 0;
    cudaGetDeviceCount(&n);
    if (params->gpu >= n)
        return mr_errf(err, MR_ERR_NOT_FOUND, "GPU %d does not exist (this machine has %d)",
                       params->gpu, n);
    mr_backend *be = mr_calloc(1, sizeof *be, "CUDA backend", err);
    if (!be) return err->status;
    be->device = params->gpu;
    be->plain_launch = params->plain_launch != 0;
    be->use_graphs = params->cuda_graphs != 0;
    be->cfg.precision = params->precision;
    be->cfg.persistent_recurrence = params->persistent_recurrence;
    struct cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceProperties(&prop, be->device);
    if (e != cudaSuccess) {
        free(be);
        return cuda_fail(err, e, "cudaGetDeviceProperties");
    }
    snprintf(be->name, sizeof be->name, "%s", prop.name);
    be->device_sms = prop.multiProcessorCount;
    be->sms = prop.multiProcessorCount;
    /* griddepcontrol (elastic.cuh) exists from compute capability 9.0. */
    be->pdl = params->dependent_launch != 0 && prop.major >= 9;
    /* sm_90a code runs on compute capability 9.0 only; MIRIAM_CUDA_WGMMA: the build has it */
#ifdef MIRIAM_CUDA_WGMMA
    be->cfg.wgmma = prop.major == 9 && prop.minor == 0;
#endif
    mr_status st = MR_OK;
    if ((e = cudaSetDevice(be->device)) != cudaSuccess) {
        st = cuda_fail(err, e, "cudaSetDevice");
    } else if (params->sms > 0 && params->sms < be->device_sms) {
        st = create_green(be, params->sms, err);
    } else if (params->sms > be->device_sms) {
        st = mr_errf(err, MR_ERR_INVALID_ARG, "--sms %d exceeds the %d SMs of %s", params->sms,
                     be->device_sms, be->name);
    } else {
        int lo = 0, hi = 0;
        cudaDeviceGetStreamPriorityRange(&lo, &hi);
        if ((e = cudaStreamCreateWithPriority(&be->stream_hi, cudaStreamNonBlocking, hi)) !=
                cudaSuccess ||
            (e = cudaStreamCreateWithPriority(&be->stream_lo, cudaStreamNonBlocking, lo)) !=
                cudaSuccess ||
            (e = cudaStreamCreateWithPriority(&be->stream_ctl, cudaStreamNonBlocking, hi)) !=
                cudaSuccess)
            st = cuda_fail(err, e, "cudaStreamCreateWithPriority");
    }
    if (st != MR_OK) {
        cuda_destroy(be);
        return st;
    }
    be->cfg.sms = be->sms;
    *out = be;
    return MR_OK;
}

static int cuda_n_threads(const mr_backend *be) {
    return 0;
}

static long long phase_blocks(const mr_cuda_plan *p, int phase) {
    return p->phase_blocks ? p->phase_blocks(p, phase) : p->n_blocks;
}

/* `full` (the blocks of a variant that fit the runtime's SMs) capped by the phase's width:
 * the physical blocks a full-width launch of the phase gets. */
static long long phase_full(const mr_cuda_plan *p, int phase, long long full) {
    long long w = phase_blocks(p, phase);
    if (p->phase_width) {
        const long long pw = p->phase_width(p, phase);
        if (pw >= 1 && pw < w) w = pw;
    }
    return full < w ? full : w;
}

static void *dptr(const mr_exec *ex, int t) {
    if (t < 0) return NULL;
    const mr_tensor_desc *d = &ex->g->tensors[t];
    if (d->data) return ex->dconst[t];
    return (char *)ex->arena + d->offset;
}

static void cuda_exec_destroy(mr_exec *ex) {
    if (!ex) return;
    bind_thread(ex->be, NULL);
    if (ex->graph) cudaGraphExecDestroy(ex->graph);
    if (ex->dconst)
        for (int t = 0; t < ex->g->n_tensors; t++) dev_free(ex->dconst[t]);
    if (ex->steps)
        for (int s = 0; s < ex->plan->n_steps; s++) {
            dev_free(ex->steps[s].workspace);
            dev_free(ex->steps[s].packed);
        }
    dev_free(ex->arena);
    dev_free(ex->counters);
    dev_free(ex->ctr_prefill);
    pinned_free(ex->yield_host);
    pinned_free(ex->stage);
    pinned_free(ex->ctr_host);
    dev_free(ex->yield_dev);
    if (ex->dconst_tf32)
        for (int t = 0; t < ex->g->n_tensors; t++) dev_free(ex->dconst_tf32[t]);
    free(ex->dconst);
    free(ex->dconst_tf32);
    free(ex->steps);
    free(ex);
}

/* Input k of step s: a constant its kernels read as a TF32 operand (tf32_inputs). */
static int tf32_input(const mr_exec *ex, int s, int k) {
    const mr_cuda_plan *p = &ex->steps[s].plan;
    return !p->skip && k < 32 && (p->tf32_inputs >> k & 1u) &&
           ex->g->tensors[ex->g->nodes[ex->plan->steps[s]].in[k]].data;
}

/* Copies `bytes` of host memory into a new device allocation *dst (counted in device_bytes). */
static mr_status upload_host(mr_exec *ex, const void *src, size_t bytes, void **dst,
                             const char *what, mr_err *err) {
    cudaError_t e = dev_malloc(dst, bytes ? bytes : 1);
    if (e == cudaSuccess) e = cudaMemcpy(*dst, src, bytes, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) return cuda_fail(err, e, what);
    ex->device_bytes += bytes;
    return MR_OK;
}

/* Uploads t (rounded to TF32 when `tf32`) into *dst. */
static mr_status upload_one(mr_exec *ex, int t, int tf32, void **dst, mr_err *err) {
    const mr_tensor_desc *d = &ex->g->tensors[t];
    size_t bytes = mr_desc_bytes(d);
    if (!tf32) return upload_host(ex, d->data, bytes, dst, "uploading the weights", err);
    if (d->dtype != MR_DTYPE_F32)
        return mr_errf(err, MR_ERR_INTERNAL, "tensor '%s': a TF32 operand must be float32",
                       d->name);
    float *rounded = mr_malloc(bytes ? bytes : 1, "TF32 weights", err);
    if (!rounded) return err->status;
    mr_round_tf32((const float *)d->data, rounded, bytes / sizeof(float));
    mr_status st = upload_host(ex, rounded, bytes, dst, "uploading the weights", err);
    free(rounded);
    return st;
}

/* Input k of step s: a constant its kernels read in a layout of their own (plan.pack). */
static int packed_input(const mr_exec *ex, int s, int k) {
    const mr_cuda_plan *p = &ex->steps[s].plan;
    return !p->skip && p->pack && k == p->pack_input &&
           ex->g->tensors[ex->g->nodes[ex->plan->steps[s]].in[k]].data;
}

/* Uploads input k of step s rearranged by plan.pack (and rounded to TF32 where it is one of
 * tf32_inputs: rounding is per element and packing only moves values and adds zeros, so the
 * packed copy is rounded in place) into the step's own allocation. */
static mr_status upload_packed(mr_exec *ex, int s, int k, mr_err *err) {
    step_state *ss = &ex->steps[s];
    const mr_tensor_desc *d = &ex->g->tensors[ex->g->nodes[ex->plan->steps[s]].in[k]];
    if (d->dtype != MR_DTYPE_F32)
        return mr_errf(err, MR_ERR_INTERNAL, "tensor '%s': a packed operand must be float32",
                       d->name);
    const size_t n = ss->plan.pack_floats, bytes = n * sizeof(float);
    float *packed = mr_malloc(bytes ? bytes : 1, "packed weights", err);
    if (!packed) return err->status;
    ss->plan.pack(&ss->plan, (const float *)d->data, packed);
    if (tf32_input(ex, s, k)) mr_round_tf32(packed, packed, n);
    mr_status st = upload_host(ex, packed, bytes, &ss->packed, "uploading the packed weights", err);
    free(packed);
    return st;
}

/* Every constant a step reads, once, as it is and/or rounded to TF32 (a weight shared by a
 * TF32 convolution and a float32 op is kept both ways). */
static mr_status upload_constants(mr_exec *ex, mr_err *err) {
    const mr_graph *g = ex->g;
    for (int s = 0; s < ex->plan->n_steps; s++) {
        const mr_node *n = &g->nodes[ex->plan->steps[s]];
        for (int k = 0; k < n->n_in; k++) {
            int t = n->in[k];
            if (t < 0 || !g->tensors[t].data) continue;
            if (packed_input(ex, s, k)) {
                MR_TRY(upload_packed(ex, s, k, err));
                continue;
            }
            if (!tf32_input(ex, s, k)) {
                if (!ex->dconst[t]) MR_TRY(upload_one(ex, t, 0, &ex->dconst[t], err));
                continue;
            }
            if (!ex->dconst_tf32) {
                ex->dconst_tf32 =
                    mr_calloc((size_t)g->n_tensors, sizeof(void *), "TF32 constants", err);
                if (!ex->dconst_tf32) return err->status;
            }
            if (!ex->dconst_tf32[t]) MR_TRY(upload_one(ex, t, 1, &ex->dconst_tf32[t], err));
        }
    }
    return MR_OK;
}

/* Whether a prefilled launch of the phase hands the blocks past its first wave to physical
 * blocks 0..R-1 (mr_elastic_ctl.spread = 0: the others leave after their first logical block
 * by the last-wave rule) rather than to the blocks that finish first: a launch of more than
 * one wave and at most two whose R blocks past the first wave would reach at least half of
 * the `sms` SMs (2R >= sms), not of the persistent recurrence (plan.plain_grid). Chosen by
 * measurement (docs/KERNEL_NOTES.md, 28; H200, the zoo's CNNs on 16 SMs and the whole GPU).
 * The GPU dispatches consecutive blocks of a launch onto idle SMs to different SMs, so blocks
 * 0..R-1 are one to an SM, and only they take, uncontended; taken by the first to finish,
 * the later wave went to the SMs whose blocks finished first, several to an SM (16 SMs,
 * TF32: ResNet-18's 3x3 layers of 56-64 blocks on 48 slots, 8 blocks on 3 SMs). With a later
 * wave of few blocks, the blocks that finish first matter more than where they run
 * (AlexNet's conv2 in float32 on the whole GPU, 36 blocks past 396: 45 us by index against
 * 39 us, entry 16); with more waves, the takes' balance wins. */
static int prefill_by_index(const step_state *ss, int phase, int sms) {
    const long long nb = phase_blocks(&ss->plan, phase);
    const long long P = phase_full(&ss->plan, phase, ss->full_blocks[0]);
    return !ss->plan.plain_grid && nb > P && nb <= 2 * P && 2 * (nb - P) >= sms;
}

/* A preemptible launch from a known counter of at most WAVE_GRID_WAVES waves of its width
 * (and WAVE_GRID_BLOCKS blocks) runs the wave form over all of its blocks, the GPU dispatching
 * the later waves as slots free up, instead of the elastic loop, whose take before every
 * logical block past the first wave (the yield read, then the atomic) is two round trips
 * each block waits for: on 16 SMs that cost MobileNet-V2's launches of 3-8 waves 7-9% over
 * plain, most of its preemptible form's overhead (docs/KERNEL_NOTES.md, 38). Every block of
 * such a launch gets a bit in the hole record, so a yield leaves holes past the first wave
 * too (resync resumes a trailing run of them from the counter). Longer launches keep the
 * loop: a launch that yields dispatches every block it has left, each only to leave at its
 * gate, before its stream is idle again, and the hole records grow with the blocks. */
#define WAVE_GRID_WAVES  8
#define WAVE_GRID_BLOCKS 4096

static int wave_grid(const mr_exec *ex, long long blocks, long long P) {
    return blocks <= WAVE_GRID_WAVES * P && blocks <= (long long)ex->hole_words * 32;
}

/* The step counters and, after them, their hole records (a bit for every block of the widest
 * full-width launch of variant 0, and of every phase a wave-form launch covers whole:
 * wave_grid), zeroed. */
static mr_status alloc_counters(mr_exec *ex, mr_err *err) {
    long long P = 1;
    for (int s = 0; s < ex->plan->n_steps; s++) {
        const step_state *ss = &ex->steps[s];
        if (ss->plan.skip) continue;
        if (ss->full_blocks[0] > P) P = ss->full_blocks[0];
        for (int ph = 0; ph < ss->plan.n_phases && !ss->plan.plain_grid; ph++) {
            const long long nb = phase_blocks(&ss->plan, ph);
            if (nb > P && nb <= WAVE_GRID_BLOCKS &&
                nb <= WAVE_GRID_WAVES * phase_full(&ss->plan, ph, ss->full_blocks[0]))
                P = nb;
        }
    }
    ex->hole_words = (int)((P + 31) / 32);
    size_t nc = (size_t)(ex->n_counters ? ex->n_counters : 1);
    size_t rec = (nc * (size_t)ex->hole_words * sizeof(unsigned int) + 7) / 8 * 8;
    ex->ctr_bytes = nc * sizeof(unsigned long long) + rec;
    cudaError_t e = dev_malloc((void **)&ex->counters, ex->ctr_bytes);
    if (e == cudaSuccess) e = cudaMemset(ex->counters, 0, ex->ctr_bytes);
    if (e != cudaSuccess) return cuda_fail(err, e, "cudaMalloc (step counters)");
    ex->holes = (unsigned int *)(ex->counters + nc);
    ex->device_bytes += ex->ctr_bytes;
    return MR_OK;
}

/* The counters' values before a model's prefilled launches (full width of variant 0, capped
 * by the phase's logical blocks, as launch_on sizes them), in device memory, so that one
 * device-to-device copy sets them where a memset used to zero them. */
static mr_status make_prefill(mr_exec *ex, mr_err *err) {
    size_t n = (size_t)(ex->n_counters ? ex->n_counters : 1);
    unsigned long long *h = mr_calloc(n, sizeof *h, "counter prefill", err);
    if (!h) return err->status;
    for (int s = 0; s < ex->plan->n_steps; s++) {
        const step_state *ss = &ex->steps[s];
        if (ss->plan.skip) continue;
        for (int ph = 0; ph < ss->plan.n_phases; ph++) {
            long long nb = phase_blocks(&ss->plan, ph), full = ss->full_blocks[0];
            const long long P = phase_full(&ss->plan, ph, full);
            h[ss->counter_base + ph] = (unsigned long long)(nb < 0 || P < 0 ? 0 : P);
            if (nb > full || ss->plan.plain_grid) ex->prefill_needed = 1;
        }
    }
    cudaError_t e = dev_malloc((void **)&ex->ctr_prefill, n * sizeof *h);
    if (e == cudaSuccess) e = cudaMemcpy(ex->ctr_prefill, h, n * sizeof *h, cudaMemcpyHostToDevice);
    free(h);
    if (e != cudaSuccess) return cuda_fail(err, e, "counter prefill");
    ex->device_bytes += n * sizeof *h;
    return MR_OK;
}

static mr_status cuda_exec_create(mr_backend *be, const mr_graph *g, const mr_plan *plan,
                                  mr_exec **out, mr_err *err) {
    MR_TRY(bind_thread(be, err));
    mr_exec *ex = mr_calloc(1, sizeof *ex, "CUDA execution context", err);
    if (!ex) return err->status;
    ex->be = be;
    ex->g = g;
    ex->plan = plan;
    mr_status st = MR_OK;
    int ns = plan->n_steps;
    ex->dconst = mr_calloc((size_t)(g->n_tensors ? g->n_tensors : 1), sizeof(void *),
                           "device constants", err);
    ex->steps = mr_calloc((size_t)(ns ? ns : 1), sizeof(step_state), "CUDA steps", err);
    if (!ex->dconst || !ex->steps) {
        st = err->status;
        goto fail;
    }
    /* Plan every step first: an op without a CUDA kernel fails the load, not a run. */
    long long nc = 0;
    for (int s = 0; s < ns; s++) {
        const mr_node *n = &g->nodes[plan->steps[s]];
        step_state *ss = &ex->steps[s];
        ss->counter_base = nc;
        if (plan->skip[s]) {
            ss->plan.skip = 1;
            ss->plan.n_phases = 1;
            nc += 1;
            continue;
        }
        const mr_cuda_op *cop = mr_cuda_op_for_node(n);
        if (!cop) {
            st = mr_errf(err, MR_ERR_UNSUPPORTED,
                         "%s node '%s': the CUDA backend has no kernel for %s yet", n->op_type,
                         n->name, n->op->name);
            goto fail;
        }
        ss->plan.n_phases = 1;
        if ((st = cop->prepare(g, n, &be->cfg, &ss->plan, err)) != MR_OK) goto fail;
        if (ss->plan.n_variants < 1 || ss->plan.n_phases < 1) {
            st = mr_errf(err, MR_ERR_INTERNAL, "%s node '%s': CUDA plan has no kernel", n->op_type,
                         n->name);
            goto fail;
        }
        nc += ss->plan.n_phases;
    }
    ex->n_counters = nc;
    cudaError_t e;
    if ((e = dev_malloc(&ex->arena, plan->arena_bytes ? plan->arena_bytes : 64)) != cudaSuccess) {
        st = cuda_fail(err, e, "cudaMalloc (activation arena)");
        goto fail;
    }
    ex->device_bytes += plan->arena_bytes;
    /* The yield word lives in device memory, written by a 4-byte copy on its own stream: with
     * hundreds of resident blocks each reading a host-mapped word over PCIe between logical
     * blocks, the reads queued up (measured on an H200: ~400 us per logical block at full
     * width against ~50 us on 16 SMs). */
    if ((e = yield_word_alloc(&ex->yield_host, &ex->yield_dev)) != cudaSuccess) {
        st = cuda_fail(err, e, "allocating the yield word");
        goto fail;
    }
    if ((st = upload_constants(ex, err)) != MR_OK) goto fail;
    for (int s = 0; s < ns; s++) {
        step_state *ss = &ex->steps[s];
        if (ss->plan.skip) continue;
        const mr_node *n = &g->nodes[plan->steps[s]];
        if (ss->plan.workspace_bytes) {
            if ((e = dev_malloc(&ss->workspace, ss->plan.workspace_bytes)) != cudaSuccess) {
                st = cuda_fail(err, e, "cudaMalloc (step workspace)");
                goto fail;
            }
            ex->device_bytes += ss->plan.workspace_bytes;
        }
        memset(&ss->args, 0, sizeof ss->args);
        for (int k = 0; k < n->n_in && k < MR_CUDA_MAX_PTRS; k++)
            ss->args.in[k] = packed_input(ex, s, k) ? ss->packed
                             : tf32_input(ex, s, k) ? ex->dconst_tf32[n->in[k]]
                                                    : dptr(ex, n->in[k]);
        for (int k = 0; k < n->n_out && k < MR_CUDA_MAX_PTRS; k++)
            ss->args.out[k] = dptr(ex, n->out[k]);
        ss->args.workspace = ss->workspace;
        memcpy(ss->args.params, ss->plan.params, sizeof ss->args.params);
        /* Full width of each variant, from the occupancy API, once per model (the query
         * costs microseconds, too much for every launch). */
        for (int v = 0; v < ss->plan.n_variants; v++) {
            const mr_cuda_variant *var = ss->plan.variants[v];
            int per_sm = 0;
            if ((e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(
                     &per_sm, var->elastic, var->threads, (size_t)var->smem)) != cudaSuccess) {
                st = cuda_fail(err, e, "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
                goto fail;
            }
            if (per_sm < 1) {
                st = mr_errf(err, MR_ERR_BACKEND,
                             "%s node '%s': kernel variant %s cannot run on this GPU (%d threads, "
                             "%d bytes of shared memory)",
                             n->op_type, n->name, var->name, var->threads, var->smem);
                goto fail;
            }
            ss->full_blocks[v] = per_sm * be->sms;
        }
    }
    if ((st = alloc_counters(ex, err)) != MR_OK || (st = make_prefill(ex, err)) != MR_OK) goto fail;
    *out = ex;
    return MR_OK;
fail:
    cuda_exec_destroy(ex);
    return st;
}

int mr_cuda_exec_n_steps(const mr_exec *ex) {
    return ex->plan->n_steps;
}
int mr_cuda_exec_n_phases(const mr_exec *ex, int step) {
    return ex->steps[step].plan.n_phases;
}
long long mr_cuda_exec_phase_blocks(const mr_exec *ex, int step, int phase) {
    return phase_blocks(&ex->steps[step].plan, phase);
}
int mr_cuda_exec_n_variants(const mr_exec *ex, int step) {
    return ex->steps[step].plan.n_variants;
}
int mr_cuda_exec_step_skipped(const mr_exec *ex, int step) {
    return ex->steps[step].plan.skip;
}
int mr_cuda_exec_prefilled_by_index(const mr_exec *ex, int step, int phase) {
    if (step < 0 || step >= ex->plan->n_steps) return 0;
    const step_state *ss = &ex->steps[step];
    if (ss->plan.skip || phase < 0 || phase >= ss->plan.n_phases) return 0;
    return prefill_by_index(ss, phase, ex->be->sms);
}
size_t mr_cuda_exec_device_bytes(const mr_exec *ex) {
    return ex->device_bytes;
}
void mr_cuda_exec_set_yield(mr_exec *ex, int value) {
    if (bind_thread(ex->be, NULL) != MR_OK) return;
    if (yield_word_set(ex->yield_host, ex->yield_dev, value, ex->be->stream_ctl) != cudaSuccess)
        cudaGetLastError();
}

mr_status mr_cuda_exec_footprint(mr_exec *ex, int step, int variant, mr_footprint *out,
                                 mr_err *err) {
    const mr_cuda_plan *p = &ex->steps[step].plan;
    if (variant < 0 || variant >= p->n_variants)
        return mr_errf(err, MR_ERR_INVALID_ARG, "step %d has no variant %d", step, variant);
    MR_TRY(bind_thread(ex->be, err));
    const mr_cuda_variant *v = p->variants[variant];
    struct cudaFuncAttributes fa;
    CU_TRY(cudaFuncGetAttributes(&fa, v->elastic), "cudaFuncGetAttributes");
    int per_sm = 0;
    CU_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, v->elastic, v->threads,
                                                         (size_t)v->smem),
           "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    out->threads = v->threads;
    out->regs_per_thread = fa.numRegs;
    out->smem_per_block = (int)fa.sharedSizeBytes + v->smem;
    out->blocks_per_sm = per_sm;
    return MR_OK;
}

/* One kernel launch. With `pdl` the kernel may be dispatched while the kernel before it in
 * the stream still runs: it waits for it at its start (mr_grid_dependency_sync), so only the
 * launch gap goes. Only for the library's own kernels (a custom operator's may lack the
 * wait). Preemptible launches too: no kernel triggers its dependents early, so the next
 * kernel's blocks are dispatched only once every block of the one before has exited, and
 * wait at their start only for its memory to be flushed, never on SMs that normal work
 * still holds (docs/KERNEL_NOTES.md, 27). */
static cudaError_t launch_kernel(const void *fn, dim3 grid, dim3 block, void **kargs, size_t smem,
                                 cudaStream_t stream, int pdl) {
    if (!pdl) return cudaLaunchKernel(fn, grid, block, kargs, smem, stream);
    cudaLaunchAttribute attr;
    memset(&attr, 0, sizeof attr);
    attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    return cudaLaunchKernelExC(&cfg, fn, kargs);
}

/* The launcher: on `stream`, reading `yield` between logical blocks when preemptible. */
static mr_status launch_on(mr_exec *ex, cudaStream_t stream, const int *yield, const mr_launch *l,
                           mr_err *err) {
    if (l->step < 0 || l->step >= ex->plan->n_steps)
        return mr_errf(err, MR_ERR_INVALID_ARG, "no step %d", l->step);
    step_state *ss = &ex->steps[l->step];
    if (ss->plan.skip) return MR_OK;
    if (l->phase < 0 || l->phase >= ss->plan.n_phases || l->variant < 0 ||
        l->variant >= ss->plan.n_variants)
        return mr_errf(err, MR_ERR_INVALID_ARG, "step %d: bad phase %d or variant %d", l->step,
                       l->phase, l->variant);
    const mr_cuda_variant *v = ss->plan.variants[l->variant];
    long long nb = phase_blocks(&ss->plan, l->phase);
    if (nb <= 0) return MR_OK;
    mr_cuda_args args = ss->args;
    args.n_blocks = nb;
    args.phase = l->phase;
    dim3 block = {(unsigned)v->threads, 1, 1};
    const int pdl = ex->be->pdl && !v->foreign;
    if (l->mode == MR_LAUNCH_PLAIN && l->known) {
        /* the logical blocks [from, end) only: the holes a preemptible launch left */
        long long to = l->end < 0 || l->end > nb ? nb : l->end;
        if (ss->plan.plain_grid || v->foreign || l->from < 0 || l->from >= to)
            return mr_errf(err, MR_ERR_INVALID_ARG,
                           "step %d: a plain launch over logical blocks [%lld, %lld) of %lld "
                           "(not for a kernel that takes blocks itself or a custom operator's)",
                           l->step, l->from, to, nb);
        for (long long base = l->from; base < to; base += 0x7fffffffLL) {
            long long count = to - base < 0x7fffffffLL ? to - base : 0x7fffffffLL;
            dim3 grid = {launch_grid(ex, count), 1, 1};
            void *kargs[] = {&args, &base};
            CU_TRY(launch_kernel(v->plain, grid, block, kargs, (size_t)v->smem, stream, pdl),
                   "cudaLaunchKernel (plain, a range)");
        }
        return MR_OK;
    }
    if (l->mode == MR_LAUNCH_PLAIN) {
        long long grid_blocks = nb;
        if (ss->plan.plain_grid) {
            grid_blocks = ss->plan.plain_grid(
                &ss->plan, l->phase, phase_full(&ss->plan, l->phase, ss->full_blocks[l->variant]));
            if (grid_blocks < 1) grid_blocks = 1;
        }
        /* gridDim.x is limited to 2^31-1: split huge grids. */
        for (long long base = 0; base < grid_blocks; base += 0x7fffffffLL) {
            long long count = grid_blocks - base < 0x7fffffffLL ? grid_blocks - base : 0x7fffffffLL;
            dim3 grid = {launch_grid(ex, count), 1, 1};
            void *kargs[] = {&args, &base};
            CU_TRY(launch_kernel(v->plain, grid, block, kargs, (size_t)v->smem, stream, pdl),
                   "cudaLaunchKernel (plain)");
        }
        return MR_OK;
    }
    mr_elastic_ctl ctl;
    ctl.next = ex->counters + ss->counter_base + l->phase;
    ctl.yield = l->preemptible ? yield : NULL;
    ctl.end = l->end < 0 || l->end > nb ? nb : l->end;
    ctl.first = -1;
    /* The coordinator's width, or the full width; either capped by the phase's blocks and
     * width (more blocks would only find none left, or wait). */
    const int P = (int)phase_full(&ss->plan, l->phase,
                                  l->blocks > 0 ? l->blocks : ss->full_blocks[l->variant]);
    /* More than one wave if the shard starts at 0 (a resumed one may have less left: then its
     * blocks only take once more than they need). */
    ctl.spread = ctl.end > P;
    ctl.raise = 0;
    ctl.holes = NULL;
    if (l->known) {
        if (l->prefilled || l->from < 0)
            return mr_errf(err, MR_ERR_INVALID_ARG,
                           "step %d: a launch with a known counter is not prefilled, and its "
                           "counter is not negative (%lld)",
                           l->step, l->from);
        /* Not for a kernel whose body takes further blocks itself (the persistent
         * recurrence, MR_ELASTIC_KERNEL_ONCE): it reads ctl.first as a prefilled launch of the
         * whole phase, and its kernels do not raise. Nor for a custom operator's: built against
         * an older elastic.cuh, it would start on first + b without raising the counter. */
        /* Preemptible: only where the phase's hole record has a bit for every physical block
         * (else the launch takes its first blocks, as without `known`). */
        const int record = !l->preemptible || (ctl.yield && P <= (long long)ex->hole_words * 32);
        if (!ss->plan.plain_grid && !v->foreign && l->from < ctl.end && record) {
            ctl.first = l->from;
            ctl.raise = 1;
            /* the last-wave rule needs a shard that starts at `from` */
            ctl.spread = ctl.end - l->from > P;
            /* A whole phase at variant 0's full width hands its later wave on by block index
             * where a prefilled launch does (prefill_by_index): the elastic policy's shards
             * and preemptible launches of ResNet-18 on 16 SMs had paid 3-4% over the prefilled
             * form there (docs/KERNEL_NOTES.md, 34). */
            if (l->from == 0 && ctl.end == nb && l->variant == 0 &&
                P == phase_full(&ss->plan, l->phase, ss->full_blocks[0]) &&
                prefill_by_index(ss, l->phase, ex->be->sms))
                ctl.spread = 0;
            if (ctl.yield)
                ctl.holes =
                    ex->holes + (size_t)(ss->counter_base + l->phase) * (size_t)ex->hole_words;
        }
        /* Preemptible, of one wave or a few (wave_grid): the body without the elastic loop
         * (NAME_wave), one physical block per logical block left. */
        if (ctl.holes && v->wave && wave_grid(ex, ctl.end - ctl.first, P)) {
            dim3 grid = {launch_grid(ex, ctl.end - ctl.first), 1, 1};
            void *kargs[] = {&args, &ctl};
            CU_TRY(launch_kernel(v->wave, grid, block, kargs, (size_t)v->smem, stream, pdl),
                   "cudaLaunchKernel (elastic, preemptible waves)");
            return MR_OK;
        }
    }
    if (l->prefilled) {
        /* The prefill (make_prefill) holds exactly this launch's P for the whole phase. */
        if (l->variant != 0 || l->blocks > 0 || ctl.end != nb || l->preemptible)
            return mr_errf(err, MR_ERR_INVALID_ARG,
                           "step %d: a prefilled launch is variant 0, full width, the whole "
                           "phase and not preemptible",
                           l->step);
        ctl.first = 0;
        /* Mostly ctl.spread stays as above: the blocks that finish their first logical block
         * first take the last wave. Going on by block index instead (blocks 0..R-1 took the
         * R blocks past the first wave) put AlexNet's second convolution (fp32, 432 blocks on
         * 396 slots of an H200) at 45 us against 38 us plain, 39 us this way
         * (docs/KERNEL_NOTES.md, 16). Where the later wave reaches half the SMs, by index is
         * faster (prefill_by_index). */
        if (prefill_by_index(ss, l->phase, ex->be->sms)) ctl.spread = 0;
        if (P >= nb) {
            /* One wave: every physical block runs exactly logical block blockIdx.x and the
             * prefill already put the counter at the end, which is what the plain kernel
             * does. It runs the same body without the elastic loop, whose live state costs
             * registers (the recurrent kernel spills in it). */
            dim3 grid = {launch_grid(ex, nb), 1, 1};
            long long base = 0;
            void *kargs[] = {&args, &base};
            CU_TRY(launch_kernel(v->plain, grid, block, kargs, (size_t)v->smem, stream, pdl),
                   "cudaLaunchKernel (elastic, one wave)");
            return MR_OK;
        }
    }
    dim3 grid = {launch_grid(ex, P), 1, 1};
    void *kargs[] = {&args, &ctl};
    CU_TRY(launch_kernel(v->elastic, grid, block, kargs, (size_t)v->smem, stream, pdl),
           "cudaLaunchKernel (elastic)");
    return MR_OK;
}

mr_status mr_cuda_exec_launch(mr_exec *ex, const mr_launch *l, mr_err *err) {
    return launch_on(ex, l->high_priority ? ex->be->stream_hi : ex->be->stream_lo, ex->yield_dev, l,
                     err);
}

mr_status mr_cuda_exec_begin(mr_exec *ex, const mr_tensor *inputs, mr_err *err) {
    MR_TRY(bind_thread(ex->be, err));
    const mr_graph *g = ex->g;
    cudaStream_t s = ex->be->stream_lo;
    for (int i = 0; i < g->n_inputs && inputs; i++) {
        const mr_tensor_desc *d = &g->tensors[g->inputs[i]];
        CU_TRY(cudaMemcpyAsync(dptr(ex, g->inputs[i]), inputs[i].data, mr_desc_bytes(d),
                               cudaMemcpyHostToDevice, s),
               "cudaMemcpyAsync (inputs)");
    }
    CU_TRY(cudaMemsetAsync(ex->counters, 0, ex->ctr_bytes, s), "cudaMemsetAsync (counters)");
    /* The high-priority stream must see the inputs and counters too. */
    CU_TRY(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    return MR_OK;
}

mr_status mr_cuda_exec_sync(mr_exec *ex, mr_err *err) {
    MR_TRY(bind_thread(ex->be, err));
    CU_TRY(cudaStreamSynchronize(ex->be->stream_hi), "cudaStreamSynchronize");
    CU_TRY(cudaStreamSynchronize(ex->be->stream_lo), "cudaStreamSynchronize");
    return MR_OK;
}

mr_status mr_cuda_exec_end(mr_exec *ex, mr_tensor *outputs, mr_err *err) {
    MR_TRY(mr_cuda_exec_sync(ex, err));
    const mr_graph *g = ex->g;
    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->outputs[i];
        const mr_tensor_desc *d = &g->tensors[t];
        size_t bytes = mr_desc_bytes(d);
        if (d->data)
            memcpy(outputs[i].data, d->data, bytes);
        else
            CU_TRY(cudaMemcpy(outputs[i].data, dptr(ex, t), bytes, cudaMemcpyDeviceToHost),
                   "cudaMemcpy (outputs)");
    }
    return MR_OK;
}

mr_status mr_cuda_exec_counter(mr_exec *ex, int step, int phase, long long *out, mr_err *err) {
    MR_TRY(mr_cuda_exec_sync(ex, err));
    unsigned long long v = 0;
    CU_TRY(cudaMemcpy(&v, ex->counters + ex->steps[step].counter_base + phase, sizeof v,
                      cudaMemcpyDeviceToHost),
           "cudaMemcpy (counter)");
    *out = (long long)v;
    return MR_OK;
}

static mr_status prefill(mr_exec *ex, mr_err *err) {
    CU_TRY(
        cudaMemcpyAsync(ex->counters, ex->ctr_prefill,
                        sizeof(unsigned long long) * (size_t)(ex->n_counters ? ex->n_counters : 1),
                        cudaMemcpyDeviceToDevice, ex->be->stream_lo),
        "cudaMemcpyAsync (counters)");
    return MR_OK;
}

mr_status mr_cuda_exec_prefill_counters(mr_exec *ex, mr_err *err) {
    MR_TRY(bind_thread(ex->be, err));
    return prefill(ex, err);
}

/* Enqueues every step's phases in order on the low-priority stream: elastic at full width
 * (prefilled: the copy that resets the counters also hands each first wave its blocks), or
 * plain grids for the baseline. The copy is left out where no launch would read a counter:
 * plain grids never do (the persistent recurrence's plain form counts in its workspace), and
 * a prefilled launch of one wave runs the plain kernel. The copy is an operation of its own
 * in the graph, a few microseconds before the first kernel: a visible share of a small
 * model's latency. Counters of a model run are therefore undefined afterwards; whoever reads
 * them (the coordinator, the tests) begins with mr_cuda_exec_begin and prefills explicitly. */
static mr_status enqueue_model(mr_exec *ex, mr_err *err) {
    if (!ex->be->plain_launch && ex->prefill_needed) MR_TRY(prefill(ex, err));
    mr_launch_mode mode = ex->be->plain_launch ? MR_LAUNCH_PLAIN : MR_LAUNCH_ELASTIC;
    for (int s = 0; s < ex->plan->n_steps; s++) {
        if (ex->steps[s].plan.skip) continue;
        for (int ph = 0; ph < ex->steps[s].plan.n_phases; ph++) {
            mr_launch l = {s, ph, 0, mode, -1, 0, 0, 0, mode == MR_LAUNCH_ELASTIC, 0, 0};
            MR_TRY(mr_cuda_exec_launch(ex, &l, err));
        }
    }
    return MR_OK;
}

/* The gate: long enough for the host to enqueue about 2000 launches and events (a few
 * microseconds each); checked, not assumed (mr_cuda_exec_time_steps). */
#define GATE_US 10000.0

static mr_status check_timing_mode(mr_step_timing mode, mr_err *err) {
    if (mode != MR_TIME_PLAIN && mode != MR_TIME_ELASTIC && mode != MR_TIME_PREEMPTIBLE &&
        mode != MR_TIME_SHARD && mode != MR_TIME_SMALL)
        return mr_errf(err, MR_ERR_INVALID_ARG, "unknown step timing mode %d", (int)mode);
    return MR_OK;
}

/* Enqueues one inference's launches in `mode` on st, the counters reset (or prefilled) first;
 * with ev and per_step (n_steps + 2 events): ev[0] and ev[1] before the first step (the empty
 * interval), ev[2 + s] after step s; with ev alone (2 events): ev[0] before the first step,
 * ev[1] after the last. */
static mr_status enqueue_form(mr_exec *ex, cudaStream_t st, mr_step_timing mode, cudaEvent_t *ev,
                              int per_step, mr_err *err) {
    int ns = ex->plan->n_steps;
    if (mode == MR_TIME_ELASTIC) {
        MR_TRY(prefill(ex, err));
    } else {
        CU_TRY(cudaMemsetAsync(ex->counters, 0, ex->ctr_bytes, st), "cudaMemsetAsync (counters)");
    }
    if (ev) CU_TRY(cudaEventRecord(ev[0], st), "cudaEventRecord");
    if (ev && per_step) CU_TRY(cudaEventRecord(ev[1], st), "cudaEventRecord");
    for (int s = 0; s < ns; s++) {
        const step_state *ss = &ex->steps[s];
        for (int ph = 0; !ss->plan.skip && ph < ss->plan.n_phases; ph++) {
            mr_launch l;
            memset(&l, 0, sizeof l);
            l.step = s;
            l.phase = ph;
            l.variant = mode == MR_TIME_SMALL && ss->plan.n_variants > 1 ? 1 : 0;
            l.mode = mode == MR_TIME_PLAIN ? MR_LAUNCH_PLAIN : MR_LAUNCH_ELASTIC;
            l.end = -1;
            l.preemptible = mode == MR_TIME_PREEMPTIBLE;
            l.prefilled = mode == MR_TIME_ELASTIC;
            /* as the elastic policy launches them, knowing the counter (zeroed above) */
            l.known = mode == MR_TIME_SHARD || mode == MR_TIME_SMALL || mode == MR_TIME_PREEMPTIBLE;
#ifdef MR_STUDY_SHARD_TAKES
            /* Study builds only (scripts/build-variant.sh NAME src/cuda/cuda_backend.c
             * -DMR_STUDY_SHARD_TAKES): the "shard" form takes its first logical blocks from
             * the counter, without the yield read; beside "preemptible" (yield read and take)
             * and a plain build's "shard" (neither), what each costs a launch. */
            if (mode == MR_TIME_SHARD) l.known = 0;
#endif
            l.from = 0;
            MR_TRY(launch_on(ex, st, ex->yield_dev, &l, err));
        }
        if (ev && per_step) CU_TRY(cudaEventRecord(ev[2 + s], st), "cudaEventRecord");
    }
    if (ev && !per_step) CU_TRY(cudaEventRecord(ev[1], st), "cudaEventRecord");
    return MR_OK;
}

/* us == NULL: the whole form between ev[0] and ev[1] into *event_us (2 events); else every
 * step (n_steps + 2 events, enqueue_form). */
static mr_status time_steps(mr_exec *ex, mr_step_timing mode, cudaEvent_t *ev, double *us,
                            double *event_us, mr_err *err) {
    cudaStream_t st = ex->be->stream_lo;
    int ns = ex->plan->n_steps;
    CU_TRY(mr_cuda_launch_gate(st, GATE_US), "gate kernel");
    MR_TRY(enqueue_form(ex, st, mode, ev, us != NULL, err));
    /* Everything is enqueued: if the gate has already let the first event through, some
     * launches may have waited for the host, and the intervals would show it. */
    cudaError_t q = cudaEventQuery(ev[0]);
    CU_TRY(cudaStreamSynchronize(st), "cudaStreamSynchronize");
    if (q == cudaSuccess)
        return mr_errf(err, MR_ERR_BACKEND,
                       "timing steps: enqueueing %d steps took longer than the %.0f us gate", ns,
                       GATE_US);
    if (q != cudaErrorNotReady) return cuda_fail(err, q, "cudaEventQuery");
    float ms = 0;
    CU_TRY(cudaEventElapsedTime(&ms, ev[0], ev[1]), "cudaEventElapsedTime");
    *event_us = ms * 1e3;
    for (int s = 0; us && s < ns; s++) {
        us[s] = 0;
        if (ex->steps[s].plan.skip) continue;
        CU_TRY(cudaEventElapsedTime(&ms, ev[1 + s], ev[2 + s]), "cudaEventElapsedTime");
        us[s] = ms * 1e3;
    }
    return MR_OK;
}

mr_status mr_cuda_exec_time_steps(mr_exec *ex, mr_step_timing mode, double *us, double *event_us,
                                  mr_err *err) {
    MR_TRY(bind_thread(ex->be, err));
    MR_TRY(check_timing_mode(mode, err));
    int n = us ? ex->plan->n_steps + 2 : 2;
    cudaEvent_t *ev = mr_calloc((size_t)n, sizeof *ev, "timing events", err);
    if (!ev) return err->status;
    mr_status st = MR_OK;
    int made = 0;
    for (; made < n; made++) {
        cudaError_t e = cudaEventCreate(&ev[made]);
        if (e != cudaSuccess) {
            st = cuda_fail(err, e, "cudaEventCreate");
            break;
        }
    }
    if (st == MR_OK) {
        mr_cuda_exec_set_yield(ex, 0);
        st = time_steps(ex, mode, ev, us, event_us, err);
        /* A failure after the gate leaves launches queued: let them finish. */
        if (st != MR_OK) cudaStreamSynchronize(ex->be->stream_lo);
    }
    for (int i = 0; i < made; i++) cudaEventDestroy(ev[i]);
    free(ev);
    return st;
}

mr_status mr_cuda_exec_launch_form(mr_exec *ex, mr_step_timing mode, mr_err *err) {
    MR_TRY(bind_thread(ex->be, err));
    MR_TRY(check_timing_mode(mode, err));
    cudaStream_t st = ex->be->stream_lo;
    MR_TRY(enqueue_form(ex, st, mode, NULL, 0, err));
    CU_TRY(cudaStreamSynchronize(st), "cudaStreamSynchronize");
    return MR_OK;
}

/* Captures enqueue_model into a CUDA graph: one launch per inference instead of one per
 * kernel, which takes the host's launch overhead off the critical path. */
static mr_status capture_graph(mr_exec *ex, mr_err *err) {
    cudaStream_t st = ex->be->stream_lo;
    CU_TRY(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    mr_status rc = enqueue_model(ex, err);
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(st, &graph);
    if (rc != MR_OK) {
        if (graph) cudaGraphDestroy(graph);
        return rc;
    }
    if (e != cudaSuccess) return cuda_fail(err, e, "cudaStreamEndCapture");
    e = cudaGraphInstantiate(&ex->graph, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        ex->graph = NULL;
        return cuda_fail(err, e, "cudaGraphInstantiate");
    }
    return MR_OK;
}

/* The model's launches of one inference, as cuda_run enqueues them: a replay of the graph,
 * captured at the first use, or the launches one by one (graphs off or not capturable). */
static mr_status enqueue_inference(mr_exec *ex, mr_err *err) {
    if (ex->be->use_graphs && !ex->graph && !ex->graph_failed) {
        mr_err gerr;
        mr_err_clear(&gerr);
        /* A failed capture is not the caller's error: run without a graph from now on. */
        if (capture_graph(ex, &gerr) != MR_OK) ex->graph_failed = 1;
    }
    if (ex->graph) {
        CU_TRY(cudaGraphLaunch(ex->graph, ex->be->stream_lo), "cudaGraphLaunch");
        return MR_OK;
    }
    return enqueue_model(ex, err);
}

mr_status mr_cuda_exec_time_inference(mr_exec *ex, double *us, mr_err *err) {
    MR_TRY(bind_thread(ex->be, err));
    cudaStream_t st = ex->be->stream_lo;
    cudaEvent_t ev[2] = {NULL, NULL};
    mr_status rc = MR_OK;
    for (int i = 0; i < 2 && rc == MR_OK; i++) {
        cudaError_t e = cudaEventCreate(&ev[i]);
        if (e != cudaSuccess) rc = cuda_fail(err, e, "cudaEventCreate");
    }
    cudaError_t e = cudaSuccess;
    if (rc == MR_OK) e = cudaEventRecord(ev[0], st);
    if (rc == MR_OK && e != cudaSuccess) rc = cuda_fail(err, e, "cudaEventRecord");
    if (rc == MR_OK) rc = enqueue_inference(ex, err);
    if (rc == MR_OK && (e = cudaEventRecord(ev[1], st)) != cudaSuccess)
        rc = cuda_fail(err, e, "cudaEventRecord");
    /* Also after a failure: whatever was enqueued finishes before the events go. */
    e = cudaStreamSynchronize(st);
    if (rc == MR_OK && e != cudaSuccess) rc = cuda_fail(err, e, "cudaStreamSynchronize");
    float ms = 0;
    if (rc == MR_OK && (e = cudaEventElapsedTime(&ms, ev[0], ev[1])) != cudaSuccess)
        rc = cuda_fail(err, e, "cudaEventElapsedTime");
    if (rc == MR_OK) *us = ms * 1e3;
    for (int i = 0; i < 2; i++)
        if (ev[i]) cudaEventDestroy(ev[i]);
    return rc;
}

/* One inference: inputs in, the model's launches (a graph replay when possible), outputs
 * out, all on the low-priority stream. */
static mr_status cuda_run(mr_exec *ex, const mr_tensor *inputs, mr_tensor *outputs, mr_err *err) {
    MR_TRY(bind_thread(ex->be, err));
    const mr_graph *g = ex->g;
    cudaStream_t s = ex->be->stream_lo;
    for (int i = 0; i < g->n_inputs; i++) {
        const mr_tensor_desc *d = &g->tensors[g->inputs[i]];
        CU_TRY(cudaMemcpyAsync(dptr(ex, g->inputs[i]), inputs[i].data, mr_desc_bytes(d),
                               cudaMemcpyHostToDevice, s),
               "cudaMemcpyAsync (inputs)");
    }
    MR_TRY(enqueue_inference(ex, err));
    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->outputs[i];
        const mr_tensor_desc *d = &g->tensors[t];
        if (d->data) continue;
        CU_TRY(cudaMemcpyAsync(outputs[i].data, dptr(ex, t), mr_desc_bytes(d),
                               cudaMemcpyDeviceToHost, s),
               "cudaMemcpyAsync (outputs)");
    }
    CU_TRY(cudaStreamSynchronize(s), "cudaStreamSynchronize");
    for (int i = 0; i < g->n_outputs; i++) {
        const mr_tensor_desc *d = &g->tensors[g->outputs[i]];
        if (d->data) memcpy(outputs[i].data, d->data, mr_desc_bytes(d));
    }
    return MR_OK;
}

mr_status mr_cuda_exec_poll(mr_exec *ex, int *idle, mr_err *err) {
    MR_TRY(bind_thread(ex->be, err));
    cudaError_t a = cudaStreamQuery(ex->be->stream_lo), b = cudaStreamQuery(ex->be->stream_hi);
    if (a != cudaSuccess && a != cudaErrorNotReady) return cuda_fail(err, a, "cudaStreamQuery");
    if (b != cudaSuccess && b != cudaErrorNotReady) return cuda_fail(err, b, "cudaStreamQuery");
    *idle = a == cudaSuccess && b == cudaSuccess;
    return MR_OK;
}

mr_status mr_cuda_set_params(mr_cuda_plan *plan, const void *params, size_t size, const mr_node *n,
                             mr_err *err) {
    if (size > sizeof plan->params)
        return mr_errf(err, MR_ERR_INTERNAL, "%s node '%s': CUDA parameters too large (%zu)",
                       n->op_type, n->name, size);
    memcpy(plan->params, params, size);
    return MR_OK;
}

const mr_backend_iface mr_backend_cuda_iface = {
    .name = "cuda",
    .kind = MR_BACKEND_CUDA,
    .create = cuda_create,
    .destroy = cuda_destroy,
    .n_threads = cuda_n_threads,
    .exec_create = cuda_exec_create,
    .exec_destroy = cuda_exec_destroy,
    .run = cuda_run,
    .device_bytes = mr_cuda_exec_device_bytes,
};

/* ------------------------------------------------------------------------------------------ */
/* The coordinator's interface (src/coord/cuda_engine.c): queues (streams) in the runtime's
 * SMs or in the partition policy's two SM partitions, events, a shared yield flag, and the
 * asynchronous begin / launch / end of a request on a queue. All of it is called from the
 * engine's one dispatcher thread, which keeps the right context current (a green context may
 * be current to one thread at a time). */

struct mr_cuda_queue {
    mr_backend *be;
    cudaStream_t stream;
    CUcontext ctx; /* a partition's context, or NULL for the runtime's own */
    int capturing; /* between capture_begin and capture_end */
};

struct mr_cuda_graph {
    cudaGraphExec_t exec;
};

struct mr_cuda_event {
    cudaEvent_t ev;
};

struct mr_cuda_flag {
    mr_backend *be;
    int *host, *dev;
};

typedef CUresult (*pfn_green_get_resource)(CUgreenCtx, CUdevResource *, CUdevResourceType);

static mr_status bind_queue(mr_cuda_queue *q, mr_err *err) {
    if (q->ctx) {
        if (q->be->ctx_set_current(q->ctx) != CUDA_SUCCESS)
            return mr_errf(err, MR_ERR_BACKEND, "cannot make an SM partition's context current");
        return MR_OK;
    }
    return bind_thread(q->be, err);
}

mr_status mr_cuda_bind(mr_backend *be, mr_err *err) {
    return bind_thread(be, err);
}

mr_status mr_cuda_sm_limits(mr_backend *be, mr_cuda_sm_info *out, mr_err *err) {
    struct cudaDeviceProp prop;
    CU_TRY(cudaGetDeviceProperties(&prop, be->device), "cudaGetDeviceProperties");
    out->sms = be->sms;
    out->threads = prop.maxThreadsPerMultiProcessor;
    out->blocks = prop.maxBlocksPerMultiProcessor;
    out->regs = prop.regsPerMultiprocessor;
    out->smem = (int)prop.sharedMemPerMultiprocessor;
    out->smem_reserved = (int)prop.reservedSharedMemPerBlock;
    return MR_OK;
}

mr_status mr_cuda_partition(mr_backend *be, int critical_sms, int *crit_out, int *normal_out,
                            mr_err *err) {
    if (be->part_green[0]) {
        *crit_out = be->part_sms[0];
        *normal_out = be->part_sms[1];
        return MR_OK;
    }
    pfn_get_resource get_res = (pfn_get_resource)driver_fn("cuDeviceGetDevResource");
    pfn_green_get_resource green_res =
        (pfn_green_get_resource)driver_fn("cuGreenCtxGetDevResource");
    pfn_split split = (pfn_split)driver_fn("cuDevSmResourceSplitByCount");
    pfn_gen_desc gen = (pfn_gen_desc)driver_fn("cuDevResourceGenerateDesc");
    pfn_green_create create = (pfn_green_create)driver_fn("cuGreenCtxCreate");
    pfn_ctx_from_green from_green = (pfn_ctx_from_green)driver_fn("cuCtxFromGreenCtx");
    be->green_stream = (pfn_green_stream)driver_fn("cuGreenCtxStreamCreate");
    if (!be->green_destroy) be->green_destroy = (pfn_green_destroy)driver_fn("cuGreenCtxDestroy");
    if (!be->ctx_set_current)
        be->ctx_set_current = (pfn_ctx_set_current)driver_fn("cuCtxSetCurrent");
    if (!get_res || !green_res || !split || !gen || !create || !from_green || !be->green_stream ||
        !be->green_destroy || !be->ctx_set_current)
        return mr_errf(err, MR_ERR_BACKEND,
                       "the partition policy needs green contexts (CUDA driver 12.4 or newer)");
    CUdevResource all;
    CUresult r = be->green ? green_res(be->green, &all, CU_DEV_RESOURCE_TYPE_SM)
                           : get_res((CUdevice)be->device, &all, CU_DEV_RESOURCE_TYPE_SM);
    if (r != CUDA_SUCCESS) return mr_errf(err, MR_ERR_BACKEND, "cannot query the runtime's SMs");
    /* The SM group size: what a split of one SM gives. */
    CUdevResource one, rest1;
    unsigned int g1 = 1, gran = 8;
    if (split(&one, &g1, &all, &rest1, 0, 1) == CUDA_SUCCESS && g1 >= 1 && one.sm.smCount)
        gran = one.sm.smCount;
    int total = (int)all.sm.smCount;
    if (total < 2 * (int)gran)
        return mr_errf(err, MR_ERR_INVALID_ARG,
                       "the partition policy needs at least %u SMs (two groups of %u); the "
                       "runtime has %d",
                       2 * gran, gran, total);
    int want = critical_sms > 0 ? critical_sms : total / 2;
    want = (want + (int)gran / 2) / (int)gran * (int)gran; /* nearest multiple of the group */
    if (want < (int)gran) want = (int)gran;
    if (want > total - (int)gran) want = total - (int)gran;
    if (critical_sms > 0 && want != critical_sms)
        return mr_errf(err, MR_ERR_INVALID_ARG,
                       "partition_critical %d is not a valid split of the runtime's %d SMs: use "
                       "a multiple of %u from %u to %d",
                       critical_sms, total, gran, gran, total - (int)gran);
    CUdevResource parts[2], rest;
    unsigned int groups = 1;
    if (split(&parts[0], &groups, &all, &rest, 0, (unsigned int)want) != CUDA_SUCCESS || groups < 1)
        return mr_errf(err, MR_ERR_BACKEND, "cannot split %d SMs into %d + %d", total, want,
                       total - want);
    parts[1] = rest;
    for (int i = 0; i < 2; i++) {
        CUdevResourceDesc desc;
        if (gen(&desc, &parts[i], 1) != CUDA_SUCCESS ||
            create(&be->part_green[i], desc, (CUdevice)be->device, CU_GREEN_CTX_DEFAULT_STREAM) !=
                CUDA_SUCCESS ||
            from_green(&be->part_ctx[i], be->part_green[i]) != CUDA_SUCCESS) {
            for (int j = 0; j <= i; j++)
                if (be->part_green[j]) be->green_destroy(be->part_green[j]);
            be->part_green[0] = be->part_green[1] = NULL;
            return mr_errf(err, MR_ERR_BACKEND, "cannot create a green context of %u SMs",
                           parts[i].sm.smCount);
        }
        be->part_sms[i] = (int)parts[i].sm.smCount;
    }
    *crit_out = be->part_sms[0];
    *normal_out = be->part_sms[1];
    return MR_OK;
}

mr_status mr_cuda_queue_create(mr_backend *be, int part, int high_priority, mr_cuda_queue **out,
                               mr_err *err) {
    mr_cuda_queue *q = mr_calloc(1, sizeof *q, "CUDA queue", err);
    if (!q) return err->status;
    q->be = be;
    int lo = 0, hi = 0;
    cudaDeviceGetStreamPriorityRange(&lo, &hi);
    int prio = high_priority ? hi : lo;
    mr_status st = MR_OK;
    if (part == 1 || part == 2) {
        q->ctx = be->part_ctx[part - 1];
        CUstream cs;
        if (!q->ctx || be->green_stream(&cs, be->part_green[part - 1], CU_STREAM_NON_BLOCKING,
                                        prio) != CUDA_SUCCESS)
            st = mr_errf(err, MR_ERR_BACKEND, "cannot create a stream in SM partition %d", part);
        else
            q->stream = (cudaStream_t)cs;
    } else if (be->green) {
        pfn_green_stream gs = (pfn_green_stream)driver_fn("cuGreenCtxStreamCreate");
        CUstream cs;
        if (!gs || gs(&cs, be->green, CU_STREAM_NON_BLOCKING, prio) != CUDA_SUCCESS)
            st = mr_errf(err, MR_ERR_BACKEND, "cannot create a stream in the SM partition");
        else
            q->stream = (cudaStream_t)cs;
    } else if ((st = bind_thread(be, err)) == MR_OK) {
        cudaError_t e = cudaStreamCreateWithPriority(&q->stream, cudaStreamNonBlocking, prio);
        if (e != cudaSuccess) st = cuda_fail(err, e, "cudaStreamCreateWithPriority");
    }
    if (st != MR_OK) {
        free(q);
        return st;
    }
    *out = q;
    return MR_OK;
}

void mr_cuda_queue_destroy(mr_cuda_queue *q) {
    if (!q) return;
    if (bind_queue(q, NULL) == MR_OK && q->stream) {
        cudaStreamSynchronize(q->stream);
        cudaStreamDestroy(q->stream);
    }
    free(q);
}

mr_status mr_cuda_queue_sync(mr_cuda_queue *q, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    CU_TRY(cudaStreamSynchronize(q->stream), "cudaStreamSynchronize");
    return MR_OK;
}

mr_status mr_cuda_event_create(mr_cuda_queue *q, mr_cuda_event **out, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    mr_cuda_event *e = mr_calloc(1, sizeof *e, "CUDA event", err);
    if (!e) return err->status;
    cudaError_t ce = cudaEventCreateWithFlags(&e->ev, cudaEventDisableTiming);
    if (ce != cudaSuccess) {
        free(e);
        return cuda_fail(err, ce, "cudaEventCreateWithFlags");
    }
    *out = e;
    return MR_OK;
}

void mr_cuda_event_destroy(mr_cuda_queue *q, mr_cuda_event *e) {
    if (!e) return;
    if (bind_queue(q, NULL) == MR_OK) cudaEventDestroy(e->ev);
    free(e);
}

mr_status mr_cuda_event_record(mr_cuda_event *e, mr_cuda_queue *q, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    /* In a capture, an "external" record becomes a graph node that records the event when
     * the graph runs there (a plain record would only order the capture). */
    CU_TRY(cudaEventRecordWithFlags(
               e->ev, q->stream, q->capturing ? cudaEventRecordExternal : cudaEventRecordDefault),
           "cudaEventRecord");
    return MR_OK;
}

mr_status mr_cuda_capture_begin(mr_cuda_queue *q, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    CU_TRY(cudaStreamBeginCapture(q->stream, cudaStreamCaptureModeThreadLocal),
           "cudaStreamBeginCapture");
    q->capturing = 1;
    return MR_OK;
}

mr_status mr_cuda_capture_end(mr_cuda_queue *q, mr_cuda_graph **out, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    q->capturing = 0;
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(q->stream, &graph);
    if (out == NULL || e != cudaSuccess) { /* abandoned, or the capture failed */
        if (graph) cudaGraphDestroy(graph);
        if (e != cudaSuccess) return cuda_fail(err, e, "cudaStreamEndCapture");
        return MR_OK;
    }
    mr_cuda_graph *g = mr_calloc(1, sizeof *g, "CUDA graph", err);
    if (!g) {
        cudaGraphDestroy(graph);
        return err->status;
    }
    e = cudaGraphInstantiate(&g->exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        free(g);
        return cuda_fail(err, e, "cudaGraphInstantiate");
    }
    *out = g;
    return MR_OK;
}

mr_status mr_cuda_graph_launch(mr_cuda_graph *g, mr_cuda_queue *q, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    CU_TRY(cudaGraphLaunch(g->exec, q->stream), "cudaGraphLaunch");
    return MR_OK;
}

void mr_cuda_graph_destroy(mr_cuda_queue *q, mr_cuda_graph *g) {
    if (!g) return;
    if (bind_queue(q, NULL) == MR_OK) cudaGraphExecDestroy(g->exec);
    free(g);
}

mr_status mr_cuda_event_query(mr_cuda_event *e, mr_cuda_queue *q, int *done, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    cudaError_t ce = cudaEventQuery(e->ev);
    if (ce == cudaErrorNotReady) {
        *done = 0;
        return MR_OK;
    }
    if (ce != cudaSuccess) return cuda_fail(err, ce, "cudaEventQuery");
    *done = 1;
    return MR_OK;
}

mr_status mr_cuda_flag_create(mr_backend *be, mr_cuda_flag **out, mr_err *err) {
    MR_TRY(bind_thread(be, err));
    mr_cuda_flag *f = mr_calloc(1, sizeof *f, "yield flag", err);
    if (!f) return err->status;
    f->be = be;
    cudaError_t e;
    if ((e = yield_word_alloc(&f->host, &f->dev)) != cudaSuccess) {
        mr_cuda_flag_destroy(f);
        return cuda_fail(err, e, "allocating a yield flag");
    }
    *out = f;
    return MR_OK;
}

void mr_cuda_flag_destroy(mr_cuda_flag *f) {
    if (!f) return;
    if (bind_thread(f->be, NULL) == MR_OK) {
        pinned_free(f->host);
        dev_free(f->dev);
    }
    free(f);
}

mr_status mr_cuda_flag_set(mr_cuda_flag *f, int value, mr_err *err) {
    MR_TRY(bind_thread(f->be, err));
    CU_TRY(yield_word_set(f->host, f->dev, value, f->be->stream_ctl), "setting a yield flag");
    return MR_OK;
}

static mr_status stage_alloc(mr_exec *ex, mr_err *err) {
    if (ex->stage && ex->ctr_host) return MR_OK;
    const mr_graph *g = ex->g;
    size_t in = 0, out = 0;
    for (int i = 0; i < g->n_inputs; i++) in += mr_desc_bytes(&g->tensors[g->inputs[i]]);
    for (int i = 0; i < g->n_outputs; i++) out += mr_desc_bytes(&g->tensors[g->outputs[i]]);
    /* Either may already be there from an earlier attempt that failed half-way. */
    if (!ex->stage)
        CU_TRY(pinned_malloc((void **)&ex->stage, in + out + 64),
               "cudaHostAlloc (request staging)");
    CU_TRY(pinned_malloc((void **)&ex->ctr_host, ex->ctr_bytes), "cudaHostAlloc (counters)");
    ex->stage_in = in;
    ex->stage_out = out;
    return MR_OK;
}

mr_status mr_cuda_exec_stage_inputs(mr_exec *ex, const mr_tensor *inputs, mr_err *err) {
    MR_TRY(bind_thread(ex->be, err));
    MR_TRY(stage_alloc(ex, err));
    const mr_graph *g = ex->g;
    size_t off = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        size_t b = mr_desc_bytes(&g->tensors[g->inputs[i]]);
        memcpy(ex->stage + off, inputs[i].data, b);
        off += b;
    }
    return MR_OK;
}

mr_status mr_cuda_exec_begin_on(mr_exec *ex, mr_cuda_queue *q, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    MR_TRY(stage_alloc(ex, err));
    const mr_graph *g = ex->g;
    size_t off = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        size_t b = mr_desc_bytes(&g->tensors[g->inputs[i]]);
        CU_TRY(cudaMemcpyAsync(dptr(ex, g->inputs[i]), ex->stage + off, b, cudaMemcpyHostToDevice,
                               q->stream),
               "cudaMemcpyAsync (inputs)");
        off += b;
    }
    CU_TRY(cudaMemsetAsync(ex->counters, 0, ex->ctr_bytes, q->stream),
           "cudaMemsetAsync (counters)");
    return MR_OK;
}

mr_status mr_cuda_exec_launch_on(mr_exec *ex, mr_cuda_queue *q, const mr_launch *l,
                                 mr_cuda_flag *yield, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    if (l->step < 0 || l->step >= ex->plan->n_steps)
        return mr_errf(err, MR_ERR_INVALID_ARG, "no step %d", l->step);
    return launch_on(ex, q->stream, yield ? yield->dev : NULL, l, err);
}

mr_status mr_cuda_exec_end_on(mr_exec *ex, mr_cuda_queue *q, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    MR_TRY(stage_alloc(ex, err));
    const mr_graph *g = ex->g;
    size_t off = ex->stage_in;
    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->outputs[i];
        const mr_tensor_desc *d = &g->tensors[t];
        size_t b = mr_desc_bytes(d);
        if (!d->data)
            CU_TRY(
                cudaMemcpyAsync(ex->stage + off, dptr(ex, t), b, cudaMemcpyDeviceToHost, q->stream),
                "cudaMemcpyAsync (outputs)");
        off += b;
    }
    return MR_OK;
}

void mr_cuda_exec_unstage_outputs(const mr_exec *ex, mr_tensor *outputs) {
    const mr_graph *g = ex->g;
    size_t off = ex->stage_in;
    for (int i = 0; i < g->n_outputs; i++) {
        const mr_tensor_desc *d = &g->tensors[g->outputs[i]];
        size_t b = mr_desc_bytes(d);
        memcpy(outputs[i].data, d->data ? d->data : (const void *)(ex->stage + off), b);
        off += b;
    }
}

/* Copies every counter and hole record between the device and the pinned host copy (kind:
 * cudaMemcpyDeviceToHost or HostToDevice), on q's stream or (q NULL, after both of the
 * runtime's streams have finished) the runtime's low-priority one, and waits for it: the host
 * copy is read, or may be changed again, once this returns. */
static mr_status copy_counters(mr_exec *ex, mr_cuda_queue *q, enum cudaMemcpyKind kind,
                               mr_err *err) {
    cudaStream_t s;
    if (q) {
        MR_TRY(bind_queue(q, err));
        s = q->stream;
    } else {
        MR_TRY(mr_cuda_exec_sync(ex, err));
        s = ex->be->stream_lo;
    }
    MR_TRY(stage_alloc(ex, err));
    const int in = kind == cudaMemcpyDeviceToHost;
    CU_TRY(cudaMemcpyAsync(in ? (void *)ex->ctr_host : (void *)ex->counters,
                           in ? (const void *)ex->counters : (const void *)ex->ctr_host,
                           ex->ctr_bytes, kind, s),
           "cudaMemcpyAsync (counters)");
    CU_TRY(cudaStreamSynchronize(s), "cudaStreamSynchronize (counters)");
    return MR_OK;
}

mr_status mr_cuda_exec_read_counters(mr_exec *ex, mr_cuda_queue *q, mr_err *err) {
    return copy_counters(ex, q, cudaMemcpyDeviceToHost, err);
}

long long mr_cuda_exec_counter_value(const mr_exec *ex, int step, int phase) {
    return ex->ctr_host ? (long long)ex->ctr_host[ex->steps[step].counter_base + phase] : 0;
}

long long mr_cuda_exec_hole_capacity(const mr_exec *ex) {
    return (long long)ex->hole_words * 32;
}

/* The host copy of a phase's hole record (mr_cuda_exec_read_counters), bit b for logical block
 * from + b of the launch that recorded it. */
static unsigned int *host_holes(const mr_exec *ex, int step, int phase) {
    unsigned int *h = (unsigned int *)(ex->ctr_host + (ex->n_counters ? ex->n_counters : 1));
    return h + (size_t)(ex->steps[step].counter_base + phase) * (size_t)ex->hole_words;
}

long long mr_cuda_exec_holes(const mr_exec *ex, int step, int phase, long long n,
                             long long *first) {
    if (!ex->ctr_host) return 0;
    const unsigned int *h = host_holes(ex, step, phase);
    long long count = 0;
    for (long long b = 0; b < (long long)ex->hole_words * 32; b++)
        if (h[b >> 5] >> (b & 31) & 1u) {
            if (count < n && first) first[count] = b;
            count++;
        }
    return count;
}

void mr_cuda_exec_set_counter(mr_exec *ex, int step, int phase, long long value) {
    if (!ex->ctr_host) return;
    ex->ctr_host[ex->steps[step].counter_base + phase] = (unsigned long long)value;
    memset(host_holes(ex, step, phase), 0, sizeof(unsigned int) * (size_t)ex->hole_words);
}

mr_status mr_cuda_exec_write_counters(mr_exec *ex, mr_cuda_queue *q, mr_err *err) {
    return copy_counters(ex, q, cudaMemcpyHostToDevice, err);
}

mr_status mr_cuda_exec_launch_shape(mr_exec *ex, int step, int variant, int *full_blocks,
                                    int *threads, mr_err *err) {
    const step_state *ss = &ex->steps[step];
    if (variant < 0 || variant >= ss->plan.n_variants)
        return mr_errf(err, MR_ERR_INVALID_ARG, "step %d has no variant %d", step, variant);
    *full_blocks = ss->full_blocks[variant];
    *threads = ss->plan.variants[variant]->threads;
    return MR_OK;
}

mr_status mr_cuda_event_create_timed(mr_cuda_queue *q, mr_cuda_event **out, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    mr_cuda_event *e = mr_calloc(1, sizeof *e, "CUDA event", err);
    if (!e) return err->status;
    /* Unlike the dispatcher's events, these keep timing (cudaEventDefault). */
    cudaError_t ce = cudaEventCreateWithFlags(&e->ev, cudaEventDefault);
    if (ce != cudaSuccess) {
        free(e);
        return cuda_fail(err, ce, "cudaEventCreateWithFlags");
    }
    *out = e;
    return MR_OK;
}

mr_status mr_cuda_event_elapsed_ms(mr_cuda_event *start, mr_cuda_event *end, mr_cuda_queue *q,
                                   float *ms, mr_err *err) {
    MR_TRY(bind_queue(q, err));
    CU_TRY(cudaEventSynchronize(end->ev), "cudaEventSynchronize");
    CU_TRY(cudaEventElapsedTime(ms, start->ev, end->ev), "cudaEventElapsedTime");
    return MR_OK;
}
