/* Kernel profiles: what `miriam tune` measured about a model's elastic kernels on one device,
 * and the lookups the coordinator makes with it (docs/TUNING.md).
 *
 * A profile is keyed by the model's hash (a 64-bit FNV-1a over a canonical description of its
 * plan: op types, shapes, attributes and wiring of every step, never names or weights) and a
 * device key ("cuda_NVIDIA-H200_132sm_fp32", "cpu_16t"). It holds, per kernel step and tuned
 * phase, the footprint of every tile variant and the measured points (variant, physical
 * blocks P, shard length in logical blocks) kept after pruning, each with its time per
 * logical block, shard duration, throughput relative to the step's best full-width launch
 * and launch overhead. Profiles live as JSON files in a cache directory
 * ($MIRIAM_CACHE_DIR, else $XDG_CACHE_HOME/miriam, else ~/.cache/miriam), named from the keys.
 */
#ifndef MR_ELASTIC_PROFILE_H
#define MR_ELASTIC_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "graph/ir.h"
#include "miriam.h"

#define MR_PROFILE_VERSION      1
#define MR_PROFILE_MAX_VARIANTS 4
#define MR_PROFILE_KEY_MAX      160 /* device key, with its terminator */
#define MR_PROFILE_NAME_MAX     256

/* One tile variant of a step. On the CPU there is one variant (0) and no footprint. */
typedef struct mr_profile_variant {
    int threads;       /* CUDA: threads per block */
    int regs;          /* CUDA: registers per thread */
    int smem;          /* CUDA: shared memory per block, bytes (static + dynamic) */
    int blocks_per_sm; /* CUDA: resident blocks per SM at full occupancy */
    int full_blocks;   /* P of a full-width launch (CUDA: blocks_per_sm x SMs; CPU: workers) */
    double block_us;   /* time per logical block at full width over the whole phase (median) */
} mr_profile_variant;

/* A measured point: `blocks` physical blocks (CPU: workers) of `variant` running a shard of
 * `shard_blocks` logical blocks. */
typedef struct mr_profile_point {
    int variant;
    int blocks;
    int64_t shard_blocks;
    double block_us;       /* time one physical block spends on one logical block (median) */
    double shard_us;       /* launch to completion of the shard (median) */
    double rel_throughput; /* logical blocks per us relative to the step's best full width */
    double overhead_us;    /* an empty launch of the same variant and P (median) */
} mr_profile_point;

/* One step and phase. */
typedef struct mr_profile_entry {
    int step, phase;
    int n_phases;         /* phases of the step (phases >= 2 use phase 1's entry) */
    int64_t phase_blocks; /* logical blocks of this phase */
    char op[64];          /* op label, for people reading the file */
    int n_variants;
    mr_profile_variant variants[MR_PROFILE_MAX_VARIANTS];
    int64_t candidates; /* size of the design space tuned for this entry */
    int n_points;       /* kept after pruning */
    mr_profile_point *points;
} mr_profile_entry;

typedef enum mr_profile_backend {
    MR_PROFILE_CPU = 0,
    MR_PROFILE_CUDA = 1,
} mr_profile_backend;

typedef struct mr_profile_device {
    mr_profile_backend backend;
    char name[128];         /* GPU name, or "cpu" */
    int units;              /* SMs the runtime uses (CUDA), worker threads (CPU) */
    mr_precision precision; /* CUDA kernels differ under TF32 */
    /* CUDA: per-SM limits, to fit variants beside other kernels (mr_profile_shard). */
    int sm_threads, sm_regs, sm_smem, sm_blocks, smem_reserved;
    char key[MR_PROFILE_KEY_MAX]; /* derived from the fields above: mr_profile_device_key */
} mr_profile_device;

typedef struct mr_profile {
    uint64_t model_hash;
    char model[MR_PROFILE_NAME_MAX]; /* the spec it was tuned from (information only) */
    int n_steps;                     /* kernel steps of the model's plan */
    mr_profile_device device;
    /* How it was tuned (information only). */
    int repeat, quick;
    double wall_s;
    int n_entries;
    mr_profile_entry *entries; /* sorted by (step, phase), unique */
} mr_profile;

/* ---- keys ---- */

/* The model's hash: FNV-1a 64 over the canonical description of a finalised graph's steps
 * (docs/TUNING.md lists what it covers). Equal for the same model loaded twice or renamed;
 * different when any op, shape, attribute or connection differs. */
uint64_t mr_profile_model_hash(const mr_graph *g);
/* "0123456789abcdef" (16 hex digits and a terminator). */
void mr_profile_hash_str(uint64_t hash, char out[17]);
/* Fills dev->key from the other fields: "cuda_<name>_<units>sm_<precision>" or
 * "cpu_<units>t", with every character outside [A-Za-z0-9.-] of the name replaced by '-'. */
void mr_profile_device_key(mr_profile_device *dev);
/* The device a runtime runs on (backend, name, SMs or workers, precision, SM limits). */
mr_status mr_profile_runtime_device(mr_runtime *rt, mr_profile_device *out, mr_err *err);

/* ---- the cache directory ---- */

/* $MIRIAM_CACHE_DIR, else $XDG_CACHE_HOME/miriam, else $HOME/.cache/miriam (empty variables
 * count as unset). MR_ERR_NOT_FOUND when none is set. */
mr_status mr_profile_cache_dir(char *out, size_t size, mr_err *err);
/* DIR/<hash>_<device key>.json */
mr_status mr_profile_cache_path(uint64_t model_hash, const char *device_key, char *out, size_t size,
                                mr_err *err);

/* ---- files ---- */

/* Strict: unknown keys, bad types or values, duplicate or unsorted entries are errors naming
 * the file and the JSON path ("steps[2].points[0].shard_us"). `file` names the text in
 * messages (may be NULL). */
mr_status mr_profile_parse(const char *data, size_t size, const char *file, mr_profile **out,
                           mr_err *err);
mr_status mr_profile_load(const char *path, mr_profile **out, mr_err *err);
/* Writes atomically (a temporary file renamed over `path`). */
mr_status mr_profile_save(const mr_profile *p, const char *path, mr_err *err);
/* The JSON text (malloc'd, caller frees). */
mr_status mr_profile_to_json(const mr_profile *p, char **out, mr_err *err);
/* Saves into the cache directory (created if missing) under the name from the keys; the path
 * written to `path_out` (may be NULL). */
mr_status mr_profile_save_cached(const mr_profile *p, char *path_out, size_t path_size,
                                 mr_err *err);
/* Loads the cached profile of (model_hash, device_key): MR_ERR_NOT_FOUND if there is none, a
 * parse error if the file is bad, MR_ERR_PARSE if its keys do not match the file name's. */
mr_status mr_profile_load_cached(uint64_t model_hash, const char *device_key, mr_profile **out,
                                 mr_err *err);
/* The cached profile of a loaded model on its runtime's device (hash of its graph, device of
 * its runtime); MR_ERR_NOT_FOUND if it was never tuned there. A profile whose step count
 * differs from the model's plan is rejected (MR_ERR_PARSE). */
mr_status mr_profile_for_model(mr_model *m, mr_profile **out, mr_err *err);

void mr_profile_free(mr_profile *p);

/* ---- lookups ---- */

/* The entry of (step, phase): phases >= 2 of a step are represented by its phase 1 (they are
 * the recurrent time steps of RNNs, which are alike). NULL if the step was not tuned. */
const mr_profile_entry *mr_profile_find(const mr_profile *p, int step, int phase);

/* Per-SM resources: what is left beside running kernels (as the CUDA engine computes them), or
 * what a point takes. On a CPU profile only `threads` counts: workers. */
typedef struct mr_profile_res {
    long long threads, regs, smem, blocks;
} mr_profile_res;

/* The kept point with the best throughput that fits `left` and whose shard lasts at most
 * max_duration_us (<= 0: no bound); ties go to the shorter shard. A CUDA point fits when
 * ceil(P / SMs) blocks of its variant fit per SM (threads, registers in the SM's allocation
 * units, shared memory plus the per-block reservation, block slots); a CPU point when P <=
 * left->threads. Returns 1 and the point's variant, P and shard length, or 0 (nothing
 * fits, or the step was not tuned) leaving the outputs unchanged. */
int mr_profile_shard(const mr_profile *p, int step, int phase, const mr_profile_res *left,
                     double max_duration_us, int *variant, int *blocks, int64_t *shard_blocks);
/* The measured time per logical block of a variant at full width (microseconds), or -1 when
 * the step or variant was not tuned. */
double mr_profile_block_us(const mr_profile *p, int step, int phase, int variant);

/* Per-SM footprint of a point (CUDA: ceil(P / SMs) blocks of its variant, in threads,
 * allocated registers, shared memory with the per-block reservation, and blocks; CPU: P
 * workers in `threads`, the rest 0). The pruning rules compare footprints component-wise. */
mr_profile_res mr_profile_point_footprint(const mr_profile_device *dev, const mr_profile_entry *e,
                                          const mr_profile_point *pt);
/* 1 if footprint a <= b in every component. */
int mr_profile_footprint_le(const mr_profile_res *a, const mr_profile_res *b);
/* 1 if a dominates b: footprint <= b's, shard duration <= b's, throughput >= b's, and better
 * in at least one of the three. */
int mr_profile_dominates(const mr_profile_device *dev, const mr_profile_entry *e,
                         const mr_profile_point *a, const mr_profile_point *b);

#endif
