/* CUDA side of an op family: the kernels (src/cuda/<family>.cu) and their host-side planning.
 *
 * Each op family that runs on the GPU defines, in its .cu file, one `const mr_cuda_op` per
 * ONNX op (extern "C", registered in src/cuda/registry.c). Its `prepare` looks at the node
 * (shapes, attributes, constant inputs) after the graph passes and fills an mr_cuda_plan:
 * the logical grid, phases, workspace, the kernel variants, and the op's POD parameters that
 * every launch receives in mr_cuda_args.params. Device pointers are bound by the backend:
 * args.in[k] / args.out[k] follow the node's inputs / outputs (NULL when omitted).
 *
 * Variants: index 0 is the full-speed tile, index 1 (when present) the small-footprint tile
 * (fewer threads / registers / shared memory per block) the coordinator uses to fit normal
 * work beside critical kernels. All variants of one op compute the same logical grid.
 * Kernel bodies follow include/miriam/elastic.cuh.
 */
#ifndef MR_CUDA_CUDA_OP_H
#define MR_CUDA_CUDA_OP_H

#include <stddef.h>
#include <stdint.h>

#include "miriam/elastic.cuh"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's C headers, with C linkage also when included from .cu files. */
#include "core/err.h"
#include "graph/ir.h"
#include "ops/op.h"

#define MR_CUDA_MAX_VARIANTS 4

typedef struct mr_cuda_variant {
    const char *name;    /* "tile64", "small", ... */
    const void *elastic; /* __global__ void NAME_elastic(mr_cuda_args, mr_elastic_ctl) */
    const void *plain;   /* __global__ void NAME_plain(mr_cuda_args, long long base) */
    /* __global__ void NAME_wave(mr_cuda_args, mr_elastic_ctl): one wave of a preemptible
     * launch with a known counter (MR_ELASTIC_KERNEL; NULL: such launches run `elastic`) */
    const void *wave;
    int threads; /* threads per block */
    int smem;    /* dynamic shared memory per block, bytes */
    /* 1: built outside the library (a custom operator's kernels), so possibly without the
     * grid-dependency wait of elastic.cuh: never launched with programmatic dependent launch.
     * The library's own variants leave it 0. */
    int foreign;
} mr_cuda_variant;

typedef struct mr_cuda_plan {
    int n_phases;       /* >= 1; phases run in order, each a separate launch */
    long long n_blocks; /* logical blocks of every phase (use per-phase counts through
                           phase_blocks when they differ) */
    long long (*phase_blocks)(const struct mr_cuda_plan *p, int phase); /* NULL: n_blocks */
    /* The grid of a plain launch of `phase`, given `full`, how many blocks of the variant fit
     * the runtime's SMs at once. NULL: one block per logical block. For a kernel whose plain
     * form takes its logical blocks itself (the persistent recurrence, cuda/rnn.cu). */
    long long (*plain_grid)(const struct mr_cuda_plan *p, int phase, long long full);
    /* The most physical blocks worth running `phase` with at once. NULL: as many as its
     * logical blocks. Every launch of the phase is capped to it (elastic P, the prefill, the
     * plain grid). For a phase whose logical blocks wait on one another, where a block past
     * that width would only wait (the persistent recurrence: one per tile of a step). */
    long long (*phase_width)(const struct mr_cuda_plan *p, int phase);
    size_t workspace_bytes; /* device memory kept across blocks/phases of one execution */
    int n_variants;
    const mr_cuda_variant *variants[MR_CUDA_MAX_VARIANTS];
    long long params[MR_CUDA_PARAM_BYTES / 8]; /* copied into every launch's args */
    int skip; /* 1: nothing to launch (e.g. a view the planner aliased) */
    /* Bit k: input k is a constant the kernels read as a TF32 tensor-core operand without
     * rounding it; the backend binds it to a copy rounded to TF32 (cuda/tf32.h). Only for
     * inputs that are constants (g->tensors[].data). */
    unsigned tf32_inputs;
    /* Where pack is set: input pack_input is a constant the kernels read in a layout of their
     * own. The backend gives the step a device copy of its own, of pack_floats floats, that
     * pack writes from the constant's data (rounded to TF32 first when the input is one of
     * tf32_inputs); pack only rearranges values (and fills with zeros). */
    void (*pack)(const struct mr_cuda_plan *p, const float *in, float *out);
    int pack_input;
    size_t pack_floats;
} mr_cuda_plan;

/* Backend-wide settings that planning may depend on, from the runtime's parameters. */
typedef struct mr_cuda_cfg {
    /* MR_PRECISION_TF32: Conv (GEMM path), Gemm and MatMul (M > 1) plan TF32 tensor-core
     * kernels; every other kernel, and everything under MR_PRECISION_FP32, is float32. */
    mr_precision precision;
    /* SMs the runtime runs on (its green context's, or the device's): how wide a step's
     * logical grid should be to fill them in few waves. Plans of the same model differ
     * between runtimes of different widths; results never do. */
    int sms;
    /* mr_runtime_params.persistent_recurrence: -1 auto, 0 off, 1 wherever possible */
    int persistent_recurrence;
    /* 1: the device runs the kernels built for sm_90a (compute capability 9.0, and a build
     * with CMAKE_CUDA_ARCHITECTURES 90a), so plans may take warpgroup-MMA kernels (wgmma.cuh) */
    int wgmma;
} mr_cuda_cfg;

typedef struct mr_cuda_op {
    const char *name; /* ONNX op type, as in mr_op_def */
    /* Plans node n (finalised graph: shapes known, constants in g->tensors[].data) under the
     * backend settings cfg. Errors name the node. mr_graph_finalize has run the CPU op's
     * init, infer and prepare on n, so its inputs passed the CPU op's checks and n->params
     * holds what the CPU op derived (its params struct, exposed through an internal header
     * such as ops/transform.h or ops/rnn.h): prepare reads it rather than re-deriving or
     * re-validating, and checks only what its kernels cannot do (dtypes, index widths,
     * sizes). */
    mr_status (*prepare)(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                         mr_cuda_plan *plan, mr_err *err);
} mr_cuda_op;

/* Registry (src/cuda/registry.c): the CUDA op for an ONNX op type, or NULL. */
const mr_cuda_op *mr_cuda_op_find(const char *name);
/* The CUDA op of a bound node: by op name, or the custom-operator planner (cuda/custom.c). */
const mr_cuda_op *mr_cuda_op_for_node(const mr_node *n);

/* Work items per logical block for a memory- or latency-bound kernel that cuts `total` items
 * into blocks of `chunk`: `chunk`, or less where that leaves fewer than
 * MR_CUDA_SPREAD_PER_SM blocks per SM of the runtime (a small batch-1 layer would otherwise
 * run on a few SMs, each thread going through several items one after the other), but never
 * less than `unit` (the items a block covers in one pass of its threads) and always a
 * multiple of it when `chunk` is. */
#define MR_CUDA_SPREAD_PER_SM 4
static inline long long mr_cuda_spread_chunk(long long total, long long chunk, long long unit,
                                             int sms) {
    if (sms <= 0 || total <= 0 || chunk <= unit || unit < 1) return chunk;
    const long long want = (long long)MR_CUDA_SPREAD_PER_SM * sms;
    if ((total + chunk - 1) / chunk >= want) return chunk;
    long long c = (total + want - 1) / want;
    c = (c + unit - 1) / unit * unit;
    return c < chunk ? c : chunk;
}

/* Copies `size` bytes of a POD parameter struct into plan->params (error if too large). */
mr_status mr_cuda_set_params(mr_cuda_plan *plan, const void *params, size_t size, const mr_node *n,
                             mr_err *err);

#ifdef __cplusplus
}
#endif

#endif
