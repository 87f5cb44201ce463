/* miriam steps MODEL...: per-step GPU time of each model's kernels, launched five ways —
 * plain grids, elastic at full width (as mr_model_run launches them), elastic preemptible
 * (as the elastic policy launches normal work), elastic as the elastic policy's shards
 * beside critical kernels (not preemptible, the counter known: the first wave starts without
 * taking, the rest is taken from the counter; "shard") and the same with the small-footprint
 * variant where a step has one — and the elastic overhead of every step and
 * of the whole model. Answers "which kernels are slow" and "what does the elastic
 * form cost per operator".
 *
 * Method (src/cuda/cuda_backend.h, mr_cuda_exec_time_steps): one inference's launches are
 * enqueued behind a gate kernel, so they run back to back as from a CUDA graph, with a timing
 * event after every step. A repetition times the five forms one after the other; after
 * --warmup untimed repetitions, --repeat timed ones give each step's median. The interval of
 * two events with nothing between them (median, about a microsecond) is subtracted from every
 * step. Overhead = elastic median / plain median - 1, per step and for the sum of the steps.
 * A repetition also times each form's whole inference with no event between its steps, the
 * launches back to back as a model run has them ("back to back": what the per-step events
 * themselves cost the forms, and how much of a form's per-step overhead shows in a run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#ifdef MIRIAM_HAVE_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/drain.h"
#include "model.h"
#endif

#define MAX_MODELS 64

static void steps_usage(void) {
    printf("usage: miriam steps MODEL... [options]\n\n"
           "Per-step GPU time of each model's kernels, launched as plain grids, as elastic\n"
           "kernels at full width (how `miriam run` launches them), as preemptible elastic\n"
           "kernels (how the elastic policy launches normal tasks) and as the elastic\n"
           "policy's shards beside critical kernels launch them (\"shard\": not preemptible,\n"
           "the first wave starts without taking), the last also with the small-footprint\n"
           "variant (\"small\"), with the elastic overhead of every step\n"
           "and of the whole model. The launches of one inference run\n"
           "back to back behind a gate kernel, a timing event after each step; medians over\n"
           "the repetitions, the cost of an empty event interval subtracted; and each form's\n"
           "whole inference with no event between its steps (\"back to back\"). Needs the\n"
           "CUDA backend.\n\n"
           "  --repeat N     timed repetitions (default 50)\n"
           "  --profile      for a profiler that serializes launches (Nsight Compute): launch\n"
           "                 each form of each model once, in the order above, without the gate\n"
           "                 and the timing events, and print no table\n"
           "  --warmup N     untimed repetitions first (default 5)\n"
           "  --top N        print the N slowest steps of each model (default: every step)\n"
           "  --csv FILE     also write every step of every model as CSV\n"
           "  --seed S       seed of the random input (default 1)\n"
           "  --verbose      log what the runtime does\n");
    printf("  %-15s%s\n", "--sms N", "CUDA: confine the runtime to N SMs with a green context (a");
    printf("  %-15s%s\n", "", "multiple of 8 on Hopper; default 0 = the whole GPU)");
    printf("  %-15s%s\n", "--gpu N", "CUDA: the device to use (default 0)");
    printf("  %-15s%s\n", "--precision P", "CUDA: fp32 (default) or tf32 kernels");
    printf("  %-15s%s\n", "--no-pdl", "CUDA: no programmatic dependent launch");
    /* names of 15 characters or more on a line of their own */
    printf("  %s\n  %-15s%s\n", "--persistent-rnn", "",
           "CUDA: LSTM/GRU time steps in one persistent launch wherever possible");
    printf("  %s\n  %-15s%s\n", "--no-persistent-rnn", "",
           "CUDA: one launch per LSTM/GRU time step");
    cli_op_library_help(15);
}

#ifdef MIRIAM_HAVE_CUDA

enum { N_FORMS = 5 };
static const mr_step_timing form_mode[N_FORMS] = {
    MR_TIME_PLAIN, MR_TIME_ELASTIC, MR_TIME_PREEMPTIBLE, MR_TIME_SHARD, MR_TIME_SMALL};

typedef struct step_row {
    int step, phases;
    long long blocks, P;
    mr_step_info si;
    double med[N_FORMS]; /* microseconds, empty interval subtracted */
} step_row;

static double pct(double a, double b) {
    return b > 0 ? (a / b - 1.0) * 100.0 : 0.0;
}

static int cmp_time_desc(const void *a, const void *b) {
    double x = ((const step_row *)a)->med[0], y = ((const step_row *)b)->med[0];
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Times one model; fills *rows_out (n_steps entries, caller frees). */
/* 0: *rows_out holds the medians; 2: --profile (each form launched once, nothing timed); 1:
 * failed (reported). */
/* whole_out[f]: the median of form f's whole inference, back to back (no events between the
 * steps). */
static int time_model(mr_runtime *rt, const char *spec, mr_model *m, long long repeat,
                      long long warmup, int profile, long long seed, step_row **rows_out,
                      int *n_out, double *event_us_out, double *whole_out) {
    mr_exec *ex = mr_model_exec(m);
    int ns = mr_model_n_steps(m), ni = mr_model_n_inputs(m), no = mr_model_n_outputs(m), rc = 1;
    mr_err err;
    mr_err_clear(&err);
    mr_tensor *in = calloc((size_t)ni + 1, sizeof(mr_tensor));
    mr_tensor *out = calloc((size_t)no + 1, sizeof(mr_tensor));
    double *samples = malloc(sizeof(double) * (size_t)(ns + 1) * N_FORMS * (size_t)repeat);
    double *us = malloc(sizeof(double) * (size_t)(ns + 1));
    double *ev = malloc(sizeof(double) * (size_t)repeat);
    double *whole = malloc(sizeof(double) * N_FORMS * (size_t)repeat);
    step_row *rows = calloc((size_t)ns + 1, sizeof(step_row));
    if (!in || !out || !samples || !us || !ev || !whole || !rows) {
        cli_error("out of memory");
        goto done;
    }
    if (cli_model_tensors(m, (unsigned long long)seed, in, out)) goto done;
    /* One inference first (module loading, every activation finite), then the inputs stay. */
    if (mr_model_run(m, ni, in, no, out) != MR_OK) {
        cli_error("%s: %s", spec, mr_runtime_last_error(rt));
        goto done;
    }
    if (mr_cuda_exec_begin(ex, in, &err) != MR_OK) goto fail;
    if (profile) {
        for (int f = 0; f < N_FORMS; f++)
            if (mr_cuda_exec_launch_form(ex, form_mode[f], &err) != MR_OK) goto fail;
        printf("%s: each of the %d forms launched once (--profile)\n", spec, N_FORMS);
        rc = 2;
        goto done;
    }
    for (long long r = -warmup; r < repeat; r++) {
        for (int f = 0; f < N_FORMS; f++) {
            double e_us = 0;
            double w_us = 0;
            if (mr_cuda_exec_time_steps(ex, form_mode[f], us, &e_us, &err) != MR_OK ||
                mr_cuda_exec_time_steps(ex, form_mode[f], NULL, &w_us, &err) != MR_OK)
                goto fail;
            if (r < 0) continue;
            whole[(size_t)f * repeat + r] = w_us;
            for (int s = 0; s < ns; s++) samples[((size_t)s * N_FORMS + f) * repeat + r] = us[s];
            if (f == 0) ev[r] = e_us;
        }
    }
    double event_us = cli_percentile(ev, (int)repeat, 50);
    for (int f = 0; f < N_FORMS; f++)
        whole_out[f] = cli_percentile(whole + (size_t)f * repeat, (int)repeat, 50);
    int n = 0;
    for (int s = 0; s < ns; s++) {
        if (mr_cuda_exec_step_skipped(ex, s)) continue;
        step_row *row = &rows[n++];
        row->step = s;
        row->phases = mr_cuda_exec_n_phases(ex, s);
        row->blocks = mr_cuda_exec_phase_blocks(ex, s, 0);
        int full = 0, threads = 0;
        if (mr_cuda_exec_launch_shape(ex, s, 0, &full, &threads, &err) != MR_OK) goto fail;
        row->P = full < row->blocks ? full : row->blocks;
        mr_model_step_info(m, s, &row->si);
        for (int f = 0; f < N_FORMS; f++) {
            double v =
                cli_percentile(samples + ((size_t)s * N_FORMS + f) * repeat, (int)repeat, 50) -
                event_us;
            row->med[f] = v > 0 ? v : 0;
        }
    }
    *rows_out = rows;
    rows = NULL;
    *n_out = n;
    *event_us_out = event_us;
    rc = 0;
    goto done;
fail:
    cli_error("%s: %s", spec, err.msg);
done:
    for (int i = 0; in && i < ni; i++) free(in[i].data);
    for (int i = 0; out && i < no; i++) free(out[i].data);
    free(in);
    free(out);
    free(samples);
    free(us);
    free(ev);
    free(whole);
    free(rows);
    return rc;
}

static void print_model(const char *spec, step_row *rows, int n, double event_us,
                        const double *whole, long long top, long long repeat, long long warmup) {
    double tot[N_FORMS] = {0};
    for (int i = 0; i < n; i++)
        for (int f = 0; f < N_FORMS; f++) tot[f] += rows[i].med[f];
    printf("\n%s: %d kernel steps; medians of %lld repetitions after %lld, minus %.2f us per "
           "step (an empty event interval)\n",
           spec, n, repeat, warmup, event_us);
    printf("| step | op | name | phases | blocks | P | plain us | elastic us | elastic +%% | "
           "preemptible us | preemptible +%% | shard us | shard +%% | small us | small +%% | "
           "share %% |\n");
    printf("|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    step_row *order = malloc(sizeof(step_row) * (size_t)(n ? n : 1));
    if (order) {
        memcpy(order, rows, sizeof(step_row) * (size_t)n);
        if (top > 0) qsort(order, (size_t)n, sizeof *order, cmp_time_desc);
    }
    const step_row *list = order ? order : rows;
    int shown = top > 0 && top < n ? (int)top : n;
    for (int i = 0; i < shown; i++) {
        const step_row *r = &list[i];
        printf("| %d | %s | %s | %d | %lld | %lld | %.2f |", r->step, r->si.op, r->si.name,
               r->phases, r->blocks, r->P, r->med[0]);
        for (int f = 1; f < N_FORMS; f++)
            printf(" %.2f | %+.1f |", r->med[f], pct(r->med[f], r->med[0]));
        printf(" %.1f |\n", tot[0] > 0 ? 100.0 * r->med[0] / tot[0] : 0.0);
    }
    if (shown < n) printf("| ... | %d more steps | | | | | | | | | | | | | | |\n", n - shown);
    printf("| all | sum of the steps | | | | | %.1f |", tot[0]);
    for (int f = 1; f < N_FORMS; f++) printf(" %.1f | %+.1f |", tot[f], pct(tot[f], tot[0]));
    printf(" 100 |\n");
    printf("| all | back to back (no events between the steps) | | | | | %.1f |", whole[0]);
    for (int f = 1; f < N_FORMS; f++) printf(" %.1f | %+.1f |", whole[f], pct(whole[f], whole[0]));
    printf(" |\n");
    free(order);
}

static int write_csv(FILE *f, const char *spec, const char *backend, const step_row *rows, int n,
                     double event_us) {
    for (int i = 0; i < n; i++) {
        const step_row *r = &rows[i];
        fprintf(f, "\"%s\",%s,%d,\"%s\",\"%s\",%d,%lld,%lld,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n", spec,
                backend, r->step, r->si.op, r->si.name, r->phases, r->blocks, r->P, r->med[0],
                r->med[1], r->med[2], r->med[3], r->med[4], event_us);
    }
    return ferror(f) ? 1 : 0;
}

static int run_steps(const cli_common *c, const char **specs, int n_specs, long long repeat,
                     long long warmup, int profile, long long top, long long seed,
                     const char *csv_path) {
    mr_runtime *rt;
    if (cli_runtime(c, &rt)) return 1;
    char dev_name[256] = "?", be[64];
    int dev_sms = 0, rc = 0;
    mr_err err;
    mr_err_clear(&err);
    if (mr_cuda_device_info(c->gpu, dev_name, sizeof dev_name, &dev_sms, &err) != MR_OK) {
        mr_runtime_destroy(rt);
        return cli_error("%s", err.msg);
    }
    printf("steps: GPU %d, %s, %d of its %d SMs, %s kernels (%s)\n", c->gpu, dev_name,
           c->sms > 0 && c->sms < dev_sms ? c->sms : dev_sms, dev_sms,
           c->precision == MR_PRECISION_TF32 ? "tf32" : "fp32",
           cli_backend_label(c, rt, be, sizeof be));
    FILE *csv = NULL;
    if (csv_path) {
        csv = fopen(csv_path, "w");
        if (!csv) {
            mr_runtime_destroy(rt);
            return cli_error("cannot write %s", csv_path);
        }
        fprintf(csv, "model,backend,step,op,name,phases,blocks,P,plain_us,elastic_us,"
                     "preemptible_us,shard_us,small_us,event_us\n");
    }
    for (int i = 0; i < n_specs; i++) {
        mr_model *m = NULL;
        if (mr_model_load(rt, specs[i], NULL, &m) != MR_OK) {
            cli_error("%s", mr_runtime_last_error(rt));
            rc = 1;
            continue;
        }
        step_row *rows = NULL;
        int n = 0;
        double event_us = 0, whole[N_FORMS] = {0};
        int t =
            time_model(rt, specs[i], m, repeat, warmup, profile, seed, &rows, &n, &event_us, whole);
        if (t == 0) {
            print_model(specs[i], rows, n, event_us, whole, top, repeat, warmup);
            if (csv && write_csv(csv, specs[i], be, rows, n, event_us)) {
                cli_error("writing %s failed", csv_path);
                rc = 1;
            }
        } else if (t != 2) {
            rc = 1;
        }
        free(rows);
        mr_model_destroy(m);
    }
    if (csv && fclose(csv) != 0) rc = cli_error("writing %s failed", csv_path);
    mr_runtime_destroy(rt);
    return rc;
}

#endif /* MIRIAM_HAVE_CUDA */

int cmd_steps(int argc, char **argv) {
    cli_common c;
    cli_common_init(&c);
    const char *specs[MAX_MODELS];
    int n_specs = 0;
    const char *csv_path = NULL;
    long long repeat = 50, warmup = 5, top = 0, seed = 1;
    int profile = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            steps_usage();
            return 0;
        }
        int bad = 0;
        if (strcmp(a, "--sms") == 0 || strcmp(a, "--gpu") == 0 || strcmp(a, "-v") == 0 ||
            strcmp(a, "--verbose") == 0 || strcmp(a, "--precision") == 0 ||
            strcmp(a, "--op-library") == 0 || strcmp(a, "--no-pdl") == 0 ||
            strcmp(a, "--persistent-rnn") == 0 || strcmp(a, "--no-persistent-rnn") == 0) {
            if (cli_common_option(&c, argc, argv, &i) == 1) return 1;
            continue;
        }
        if (strcmp(a, "--repeat") == 0)
            bad = cli_parse_int(a, v, 1, 100000, &repeat), i++;
        else if (strcmp(a, "--warmup") == 0)
            bad = cli_parse_int(a, v, 0, 100000, &warmup), i++;
        else if (strcmp(a, "--top") == 0)
            bad = cli_parse_int(a, v, 1, 1 << 30, &top), i++;
        else if (strcmp(a, "--seed") == 0)
            bad = cli_parse_int(a, v, 0, (1ll << 62), &seed), i++;
        else if (strcmp(a, "--profile") == 0)
            profile = 1;
        else if (strcmp(a, "--csv") == 0) {
            if (!v) return cli_error("--csv expects a file name");
            csv_path = v, i++;
        } else if (a[0] == '-')
            return cli_error("steps: unknown option '%s' (see miriam steps --help)", a);
        else if (n_specs == MAX_MODELS)
            return cli_error("steps: at most %d models", MAX_MODELS);
        else
            specs[n_specs++] = a;
        if (bad) return 1;
    }
    if (!n_specs) return cli_error("steps: no MODEL given (a .onnx path or zoo:NAME)");
#ifndef MIRIAM_HAVE_CUDA
    (void)specs, (void)repeat, (void)warmup, (void)top, (void)seed, (void)csv_path, (void)profile;
    return cli_error("steps needs the CUDA backend: this build of miriam has none (no CUDA "
                     "compiler was found when it was built)");
#else
    char why[256];
    if (!mr_cuda_available(why, sizeof why))
        return cli_error("steps needs the CUDA backend: %s", why);
    c.backend = MR_BACKEND_CUDA;
    return run_steps(&c, specs, n_specs, repeat, warmup, profile, top, seed, csv_path);
#endif
}
