/* miriam tune MODEL...: measures the design space of every elastic kernel of the models
 * (tile variant x physical blocks x shard length) on the device, prunes it and writes a kernel
 * profile per model into the cache directory, where the coordinator finds it (and to -o FILE).
 * The method, the pruning rules and the file format are in docs/TUNING.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "elastic/tune.h"
#include "model.h"

static void tune_usage(void) {
    printf("usage: miriam tune MODEL... [options]\n\n"
           "Measures every elastic kernel of the models over its design space (tile variant x\n"
           "physical blocks P x shard length in logical blocks), keeps the useful points and\n"
           "writes a kernel profile per model into the cache directory ($MIRIAM_CACHE_DIR, else\n"
           "$XDG_CACHE_HOME/miriam, else ~/.cache/miriam), where the runtime finds it by model\n"
           "hash and device. Multi-phase recurrent steps are tuned on phases 0 and 1 (later\n"
           "phases are alike to phase 1). See docs/TUNING.md.\n\n");
    printf("  %-15s%s\n", "--device D", "cuda, cpu or auto (default: cuda when a GPU is usable)");
    printf("  %-15s%s\n", "--threads N", "CPU: worker threads (default: one per core)");
    printf("  %-15s%s\n", "--repeat N", "timed repetitions per candidate, medians (default 5)");
    printf("  %-15s%s\n", "--quick",
           "a smaller design space: P in {1, full widths}, shards of P blocks\n"
           "                 or the whole phase");
    printf("  %-15s%s\n", "-o FILE", "also write the profile to FILE (one MODEL only)");
    printf("  %-15s%s\n", "--verbose", "log what the runtime does");
    printf("  %-15s%s\n", "--sms N", "CUDA: confine the runtime to N SMs with a green context (a");
    printf("  %-15s%s\n", "", "multiple of 8 on Hopper; the profile is specific to it)");
    printf("  %-15s%s\n", "--gpu N", "CUDA: the device to use (default 0)");
    printf("  %-15s%s\n", "--precision P", "CUDA: fp32 (default) or tf32 kernels");
    cli_op_library_help(15);
}

typedef struct progress_state {
    const char *name;
    int last; /* per mille shown last */
} progress_state;

/* A progress bar on stderr, redrawn when the per mille changes. */
static void show_progress(void *user, int64_t done, int64_t total) {
    progress_state *p = user;
    int pm = total > 0 ? (int)(done * 1000 / total) : 1000;
    if (pm == p->last) return;
    p->last = pm;
    char bar[41];
    int fill = pm * 40 / 1000;
    for (int i = 0; i < 40; i++) bar[i] = i < fill ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r%-24.24s [%s] %5.1f%% %lld/%lld", p->name, bar, pm / 10.0, (long long)done,
            (long long)total);
    fflush(stderr);
}

static void clear_progress(void) {
    fprintf(stderr, "\r%100s\r", "");
    fflush(stderr);
}

/* The per-entry table and the pruning summary of one model. */
static void print_model(const char *spec, const mr_profile *p, const mr_tune_stats *st,
                        const char *cache_path, const char *out_path) {
    const mr_profile_device *d = &p->device;
    if (d->backend == MR_PROFILE_CUDA)
        printf("%s on %s (%d SMs, %s): %d steps, %d repetitions per candidate%s\n", spec, d->name,
               d->units, mr_precision_name(d->precision), p->n_steps, p->repeat,
               p->quick ? ", quick" : "");
    else
        printf("%s on the CPU (%d workers): %d steps, %d repetitions per candidate%s\n", spec,
               d->units, p->n_steps, p->repeat, p->quick ? ", quick" : "");
    printf("  %4s %5s  %-22s %9s %10s %12s %6s  %s\n", "step", "phase", "op", "blocks", "full P",
           "us/block", "cands", "kept (variant:P/shard)");
    for (int i = 0; i < p->n_entries; i++) {
        const mr_profile_entry *e = &p->entries[i];
        printf("  %4d %5d  %-22.22s %9lld %10d %12.3f %6lld  %d:", e->step, e->phase, e->op,
               (long long)e->phase_blocks, e->variants[0].full_blocks, e->variants[0].block_us,
               (long long)e->candidates, e->n_points);
        for (int k = 0; k < e->n_points && k < 6; k++)
            printf(" %d:%d/%lld", e->points[k].variant, e->points[k].blocks,
                   (long long)e->points[k].shard_blocks);
        printf("%s\n", e->n_points > 6 ? " ..." : "");
    }
    for (int i = 0; i < p->n_entries; i++) {
        const mr_profile_entry *e = &p->entries[i];
        if (e->phase == 1 && e->n_phases > 2)
            printf("  note: step %d (%s) has %d phases: phases 0 and 1 were tuned; phases 2 to %d "
                   "use phase 1's points\n",
                   e->step, e->op, e->n_phases, e->n_phases - 1);
    }
    printf("  design space %lld -> %lld kept: %lld not measured (narrow shards predicted longer "
           "than %.0f ms), dropped %lld by overhead > %.0f%% of the shard, %lld below %.0f%% of "
           "the best throughput at <= footprint, %lld dominated\n",
           (long long)st->candidates, (long long)st->kept, (long long)st->skipped_long,
           MR_TUNE_MAX_SHARD_US / 1e3, (long long)st->dropped_overhead,
           MR_TUNE_MAX_OVERHEAD_FRAC * 100, (long long)st->dropped_throughput,
           MR_TUNE_MIN_REL_THROUGHPUT * 100, (long long)st->dropped_dominated);
    printf("  profile: %s\n", cache_path);
    if (out_path) printf("  written to %s\n", out_path);
    printf("  tuned in %.1f s\n", p->wall_s);
}

int cmd_tune(int argc, char **argv) {
    cli_common c;
    cli_common_init(&c);
    const char *out_path = NULL;
    long long repeat = 5;
    int quick = 0, n_specs = 0;
    const char **specs = calloc((size_t)argc + 1, sizeof *specs);
    if (!specs) return cli_error("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            tune_usage();
            free(specs);
            return 0;
        }
        int bad = 0;
        if (strcmp(a, "--device") == 0 || strcmp(a, "--threads") == 0 || strcmp(a, "--sms") == 0 ||
            strcmp(a, "--gpu") == 0 || strcmp(a, "--precision") == 0 || strcmp(a, "-v") == 0 ||
            strcmp(a, "--verbose") == 0 || strcmp(a, "--op-library") == 0) {
            bad = cli_common_option(&c, argc, argv, &i) == 1;
        } else if (strcmp(a, "--repeat") == 0) {
            bad = cli_parse_int(a, v, 1, 100000, &repeat);
            i++;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0) {
            if (!v || !*v)
                bad = cli_error("%s expects a file name", a);
            else
                out_path = v;
            i++;
        } else if (strcmp(a, "--quick") == 0) {
            quick = 1;
        } else if (a[0] == '-') {
            bad = cli_error("tune: unknown option '%s' (see miriam tune --help)", a);
        } else {
            specs[n_specs++] = a;
        }
        if (bad) {
            free(specs);
            return 1;
        }
    }
    if (n_specs == 0) {
        free(specs);
        return cli_error("tune: no MODEL given (a .onnx path or zoo:NAME)");
    }
    if (out_path && n_specs > 1) {
        free(specs);
        return cli_error("tune: -o FILE takes one MODEL (%d given); the cache holds one profile "
                         "per model",
                         n_specs);
    }
    double t0 = cli_now_ms();
    mr_runtime *rt;
    if (cli_runtime(&c, &rt)) {
        free(specs);
        return 1;
    }
    int rc = 0;
    mr_model **models = calloc((size_t)n_specs, sizeof *models);
    if (!models) rc = cli_error("out of memory");
    /* Every model is loaded before tuning starts, so a bad one fails at once. */
    for (int i = 0; rc == 0 && i < n_specs; i++)
        if (mr_model_load(rt, specs[i], NULL, &models[i]) != MR_OK)
            rc = cli_error("cannot load %s: %s", specs[i], mr_runtime_last_error(rt));
    mr_tune_stats total;
    memset(&total, 0, sizeof total);
    int tty = isatty(STDERR_FILENO);
    for (int i = 0; rc == 0 && i < n_specs; i++) {
        progress_state ps = {specs[i], -1};
        mr_tune_params tp = mr_tune_default_params();
        tp.repeat = (int)repeat;
        tp.quick = quick;
        tp.model_name = specs[i];
        tp.progress = tty ? show_progress : NULL;
        tp.progress_user = &ps;
        mr_profile *p = NULL;
        mr_tune_stats st;
        mr_err err;
        mr_err_clear(&err);
        mr_status s = mr_tune_model(models[i], &tp, &p, &st, &err);
        if (tty) clear_progress();
        char cache_path[4608];
        if (s == MR_OK) s = mr_profile_save_cached(p, cache_path, sizeof cache_path, &err);
        if (s == MR_OK && out_path) s = mr_profile_save(p, out_path, &err);
        if (s != MR_OK) {
            rc = cli_error("tune %s: %s", specs[i], err.msg);
        } else {
            print_model(specs[i], p, &st, cache_path, out_path);
            total.candidates += st.candidates;
            total.kept += st.kept;
        }
        mr_profile_free(p);
        /* Free each model's memory as soon as it is tuned. */
        mr_model_destroy(models[i]);
        models[i] = NULL;
    }
    if (rc == 0)
        printf("total: %d model%s, design space %lld -> %lld kept, wall time %.1f s\n", n_specs,
               n_specs == 1 ? "" : "s", (long long)total.candidates, (long long)total.kept,
               (cli_now_ms() - t0) / 1e3);
    for (int i = 0; models && i < n_specs; i++) mr_model_destroy(models[i]);
    free(models);
    mr_runtime_destroy(rt);
    free(specs);
    return rc;
}
