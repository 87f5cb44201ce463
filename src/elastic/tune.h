/* The tuner behind `miriam tune` (docs/TUNING.md): measures a model's elastic kernels over
 * their design space (tile variant x physical blocks P x shard length) on the runtime's
 * device, prunes the candidates and returns a kernel profile (elastic/profile.h). */
#ifndef MR_ELASTIC_TUNE_H
#define MR_ELASTIC_TUNE_H

#include <stdint.h>

#include "core/err.h"
#include "elastic/profile.h"
#include "miriam.h"

/* Pruning thresholds (docs/TUNING.md gives the reasons). */
/* Rule 1: a shard whose empty-launch overhead exceeds this fraction of its duration. */
#define MR_TUNE_MAX_OVERHEAD_FRAC 0.2
/* Rule 2: a candidate below this fraction of the best throughput at an equal or smaller
 * per-SM footprint. */
#define MR_TUNE_MIN_REL_THROUGHPUT 0.5
/* Not measured: a candidate narrower than full width predicted to run longer than this. */
#define MR_TUNE_MAX_SHARD_US 50000.0

/* Called after each candidate: `done` of `total` candidates of the model. */
typedef void (*mr_tune_progress_fn)(void *user, int64_t done, int64_t total);

typedef struct mr_tune_params {
    int repeat;             /* timed repetitions per candidate, medians (default 5) */
    int quick;              /* smaller design space: P in {1, full widths}, shards {P, phase} */
    const char *model_name; /* recorded in the profile (may be NULL) */
    mr_tune_progress_fn progress;
    void *progress_user;
} mr_tune_params;

mr_tune_params mr_tune_default_params(void);

/* What pruning did, over a model (or one entry). */
typedef struct mr_tune_stats {
    int64_t candidates;         /* design space size */
    int64_t skipped_long;       /* not measured: predicted longer than MR_TUNE_MAX_SHARD_US */
    int64_t dropped_overhead;   /* rule 1 */
    int64_t dropped_throughput; /* rule 2 */
    int64_t dropped_dominated;  /* rule 3 */
    int64_t kept;
} mr_tune_stats;

/* Tunes every kernel step of `m` (phases 0 and 1 of multi-phase steps: later phases are the
 * recurrent time steps of RNNs, alike to phase 1) on its runtime's device. Inputs are random
 * (values do not change timing). The model must not back a task; mr_model_run on the runtime
 * waits while the measurements run. `stats` may be NULL. */
mr_status mr_tune_model(mr_model *m, const mr_tune_params *params, mr_profile **out,
                        mr_tune_stats *stats, mr_err *err);

/* The pruning rules applied to the measured candidates e->points (their rel_throughput set):
 * keeps the survivors in place (e->n_points shrinks) and adds the counts to `stats` (may be
 * NULL). Rule 1 drops shards whose overhead_us > MR_TUNE_MAX_OVERHEAD_FRAC x shard_us (unless
 * that drops every candidate: then the whole-phase ones stay); rule 2 drops candidates whose
 * throughput is below MR_TUNE_MIN_REL_THROUGHPUT x the best of the rule-1 survivors with an
 * equal or smaller per-SM footprint; rule 3 keeps the Pareto frontier of (footprint, shard
 * duration, throughput). */
mr_status mr_tune_prune(const mr_profile_device *dev, mr_profile_entry *e, mr_tune_stats *stats,
                        mr_err *err);

#endif
