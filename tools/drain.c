/* miriam drain MODEL: the drain latency of the elastic contract on the GPU — how long after
 * the host sets the yield word a running, preemptible elastic kernel has left the GPU.
 *
 * Method (through the backend's internal API, src/cuda/cuda_backend.h):
 *   - pick the step with the most FLOPs (or --step K); its phase 0 is the kernel measured;
 *   - solo: the median of 20 runs of that launch alone (elastic, preemptible, full width,
 *     low-priority stream), host clock around launch + sync;
 *   - each sample: mr_cuda_exec_begin (random input, counters zeroed), the steps before it as
 *     plain launches, sync; launch the kernel; busy-wait a random 20-60% of the solo time; set
 *     the yield word and take t0; spin on mr_cuda_exec_poll until both streams are idle: t1.
 *     drain = t1 - t0. The counter tells whether the yield took effect: at n_blocks the kernel
 *     had taken every logical block already (finished on its own), at 0 it had not started;
 *     both are counted apart and left out of the figures.
 * The figure is an upper bound of the device-side drain: it includes the time the store of
 * the yield word takes to reach the GPU and the host's polling of the streams. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#ifdef MIRIAM_HAVE_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/drain.h"
#include "model.h"
#endif

#define SOLO_RUNS 20

static void drain_usage(void) {
    printf("usage: miriam drain MODEL [options]\n\n"
           "Measures the drain latency of elastic kernels on the GPU: how long after the host\n"
           "sets the yield word a running preemptible elastic kernel has left the GPU. The\n"
           "kernel is phase 0 of the model's step with the most FLOPs (or --step K), launched\n"
           "elastic at full width on the low-priority stream after the steps before it; the\n"
           "yield comes at a random 20-60%% of its solo duration. Prints drain p50/p90/p99/max\n"
           "in microseconds: an upper bound (t0 = the host stores the yield word, t1 = the host\n"
           "sees the streams idle, so it includes the host's polling). Needs the CUDA backend.\n\n"
           "  --repeat N     valid samples (default 200); samples where the kernel finished\n"
           "                 before the yield took effect are counted apart and repeated\n"
           "  --step K       the step to measure (see miriam info MODEL --steps)\n"
           "  --seed S       seed of the random input and delays (default 1)\n"
           "  --verbose      log what the runtime does\n");
    printf("  %-15s%s\n", "--sms N", "CUDA: confine the runtime to N SMs with a green context (a");
    printf("  %-15s%s\n", "", "multiple of 8 on Hopper; default 0 = the whole GPU)");
    printf("  %-15s%s\n", "--gpu N", "CUDA: the device to use (default 0)");
    printf("  %-15s%s\n", "--precision P", "CUDA: fp32 (default) or tf32 kernels");
    cli_op_library_help(15);
}

#ifdef MIRIAM_HAVE_CUDA

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double rand_unit(unsigned long long *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / (double)(1ull << 53);
}

typedef struct drain_ctx {
    mr_exec *ex;
    const mr_tensor *in;
    int step;
    long long nb; /* logical blocks of the measured phase */
    mr_err err;
} drain_ctx;

/* A request up to the measured step: inputs copied, counters zeroed, the steps before it run
 * (plain launches) and finished, the yield word clear. */
static mr_status prelude(drain_ctx *d) {
    mr_cuda_exec_set_yield(d->ex, 0);
    MR_TRY(mr_cuda_exec_begin(d->ex, d->in, &d->err));
    for (int s = 0; s < d->step; s++) {
        if (mr_cuda_exec_step_skipped(d->ex, s)) continue;
        for (int ph = 0; ph < mr_cuda_exec_n_phases(d->ex, s); ph++) {
            mr_launch l = {s, ph, 0, MR_LAUNCH_PLAIN, -1, 0, 0, 0, 0, 0, 0};
            MR_TRY(mr_cuda_exec_launch(d->ex, &l, &d->err));
        }
    }
    return mr_cuda_exec_sync(d->ex, &d->err);
}

/* The measured launch: phase 0, elastic, preemptible, full width, variant 0, low priority. */
static mr_status launch(drain_ctx *d) {
    mr_launch l = {d->step, 0, 0, MR_LAUNCH_ELASTIC, -1, 0, 1, 0, 0, 0, 0};
    return mr_cuda_exec_launch(d->ex, &l, &d->err);
}

/* Spins until both streams are idle; fails after 10 s (a kernel that does not yield). */
static mr_status wait_idle(drain_ctx *d) {
    double start = now_us();
    for (;;) {
        int idle = 0;
        MR_TRY(mr_cuda_exec_poll(d->ex, &idle, &d->err));
        if (idle) return MR_OK;
        if (now_us() - start > 10e6)
            return mr_errf(&d->err, MR_ERR_BACKEND,
                           "step %d still runs 10 s after the yield word was set", d->step);
    }
}

/* The step with the most FLOPs among those that launch something (ties: the first). */
static int pick_step(const mr_model *m, mr_exec *ex) {
    int best = -1;
    int64_t best_flops = -1;
    for (int s = 0; s < mr_model_n_steps(m); s++) {
        mr_step_info si;
        if (mr_cuda_exec_step_skipped(ex, s) || mr_cuda_exec_phase_blocks(ex, s, 0) <= 0 ||
            mr_model_step_info(m, s, &si) != MR_OK)
            continue;
        if (si.flops > best_flops) {
            best_flops = si.flops;
            best = s;
        }
    }
    return best;
}

static int measure(const cli_common *c, const char *spec, mr_model *m, long long step_opt,
                   long long repeat, long long seed) {
    drain_ctx d;
    memset(&d, 0, sizeof d);
    mr_err_clear(&d.err);
    d.ex = mr_model_exec(m);
    int n_steps = mr_model_n_steps(m);
    if (step_opt >= 0) {
        if (step_opt >= n_steps)
            return cli_error("--step %lld: the model has %d steps (0 to %d)", step_opt, n_steps,
                             n_steps - 1);
        d.step = (int)step_opt;
        if (mr_cuda_exec_step_skipped(d.ex, d.step) ||
            mr_cuda_exec_phase_blocks(d.ex, d.step, 0) <= 0)
            return cli_error("--step %d launches no kernel (an aliased view or an empty grid)",
                             d.step);
    } else if ((d.step = pick_step(m, d.ex)) < 0) {
        return cli_error("%s has no step that launches a kernel", spec);
    }
    d.nb = mr_cuda_exec_phase_blocks(d.ex, d.step, 0);
    mr_step_info si;
    mr_model_step_info(m, d.step, &si);

    char dev_name[256] = "?";
    int dev_sms = 0;
    mr_footprint fp;
    if (mr_cuda_device_info(c->gpu, dev_name, sizeof dev_name, &dev_sms, &d.err) != MR_OK ||
        mr_cuda_exec_footprint(d.ex, d.step, 0, &fp, &d.err) != MR_OK)
        return cli_error("%s", d.err.msg);
    int sms = c->sms > 0 && c->sms < dev_sms ? c->sms : dev_sms;
    long long resident = (long long)(fp.blocks_per_sm > 0 ? fp.blocks_per_sm : 1) * sms;
    if (resident > d.nb) resident = d.nb;

    int ni = mr_model_n_inputs(m), rc = 1;
    mr_tensor *in = calloc((size_t)ni + 1, sizeof(mr_tensor));
    double *solo = malloc(sizeof(double) * SOLO_RUNS);
    double *drain = malloc(sizeof(double) * (size_t)repeat);
    if (!in || !solo || !drain) {
        cli_error("out of memory");
        goto done;
    }
    if (cli_model_tensors(m, (unsigned long long)seed, in, NULL)) goto done;
    d.in = in;

    /* Solo duration of the launch (after 3 untimed runs: module loading, first-touch). */
    for (int r = -3; r < SOLO_RUNS; r++) {
        if (prelude(&d) != MR_OK) goto fail;
        double t0 = now_us();
        if (launch(&d) != MR_OK || mr_cuda_exec_sync(d.ex, &d.err) != MR_OK) goto fail;
        double t1 = now_us();
        long long done_blocks = -1;
        if (mr_cuda_exec_counter(d.ex, d.step, 0, &done_blocks, &d.err) != MR_OK) goto fail;
        if (done_blocks != d.nb) {
            cli_error("step %d: a solo launch stopped at block %lld of %lld without a yield",
                      d.step, done_blocks, d.nb);
            goto done;
        }
        if (r >= 0) solo[r] = t1 - t0;
    }
    double solo_us = cli_percentile(solo, SOLO_RUNS, 50);

    unsigned long long rs =
        (unsigned long long)seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    long long valid = 0, finished = 0, not_started = 0, attempts = 0;
    long long max_attempts = repeat * 20 + 100;
    double stop_frac = 0;
    while (valid < repeat && attempts < max_attempts) {
        attempts++;
        if (prelude(&d) != MR_OK) goto fail;
        double delay = solo_us * (0.2 + 0.4 * rand_unit(&rs));
        double tl = now_us();
        if (launch(&d) != MR_OK) goto fail;
        while (now_us() - tl < delay) {
        }
        mr_cuda_exec_set_yield(d.ex, 1);
        double t0 = now_us();
        mr_status st = wait_idle(&d);
        double t1 = now_us();
        mr_cuda_exec_set_yield(d.ex, 0);
        if (st != MR_OK) goto fail;
        long long stopped = -1;
        if (mr_cuda_exec_counter(d.ex, d.step, 0, &stopped, &d.err) != MR_OK) goto fail;
        if (stopped >= d.nb) {
            finished++;
        } else if (stopped <= 0) {
            not_started++;
        } else {
            stop_frac += (double)stopped / (double)d.nb;
            drain[valid++] = t1 - t0;
        }
    }

    printf("drain: %s on GPU %d, %s (%d of its %d SMs)\n", spec, c->gpu, dev_name, sms, dev_sms);
    printf("step %d: %s '%s' (output %s), %.3f MFLOP\n", d.step, si.op, si.name, si.output,
           (double)si.flops / 1e6);
    printf("  phase 0: %lld logical blocks, %d threads x %d blocks/SM = %lld resident blocks\n",
           d.nb, fp.threads, fp.blocks_per_sm, resident);
    double per_block = solo_us / (double)d.nb * (double)resident;
    printf("  solo elastic launch: %.1f us (median of %d, host clock around launch + sync)\n",
           solo_us, SOLO_RUNS);
    printf("  per logical block:   %.2f us (solo / blocks x resident blocks)\n", per_block);
    printf("samples: %lld valid, %lld finished before the yield took effect, %lld yielded before "
           "the kernel took a block (both left out); the valid ones stopped at %.0f%% of the "
           "grid on average\n",
           valid, finished, not_started, valid ? 100.0 * stop_frac / (double)valid : 0.0);
    if (valid == 0) {
        cli_error("no valid sample in %lld attempts: the kernel is too short to be caught "
                  "running (try a bigger model or another --step)",
                  attempts);
        goto done;
    }
    if (valid < repeat)
        fprintf(stderr,
                "miriam: warning: only %lld of %lld samples were valid after %lld "
                "attempts\n",
                valid, repeat, attempts);
    int n = (int)valid;
    double p50 = cli_percentile(drain, n, 50), p90 = cli_percentile(drain, n, 90);
    double p99 = cli_percentile(drain, n, 99), mx = drain[n - 1];
    printf("drain latency (us): p50 %.1f  p90 %.1f  p99 %.1f  max %.1f  over %d samples\n", p50,
           p90, p99, mx, n);
    printf("  (%.2fx / %.2fx the per-block time at p50 / p99)\n", p50 / per_block, p99 / per_block);
    printf("upper bound: from the host's store of the yield word to the host seeing both "
           "streams idle; includes the store's trip to the GPU and the host polling the "
           "streams\n");
    rc = 0;
    goto done;
fail:
    cli_error("%s", d.err.msg);
done:
    mr_cuda_exec_set_yield(d.ex, 0);
    for (int i = 0; in && i < ni; i++) free(in[i].data);
    free(in);
    free(solo);
    free(drain);
    return rc;
}

#endif /* MIRIAM_HAVE_CUDA */

int cmd_drain(int argc, char **argv) {
    cli_common c;
    cli_common_init(&c);
    const char *spec = NULL;
    long long repeat = 200, step = -1, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            drain_usage();
            return 0;
        }
        int bad = 0;
        if (strcmp(a, "--sms") == 0 || strcmp(a, "--gpu") == 0 || strcmp(a, "-v") == 0 ||
            strcmp(a, "--verbose") == 0 || strcmp(a, "--precision") == 0 ||
            strcmp(a, "--op-library") == 0) {
            if (cli_common_option(&c, argc, argv, &i) == 1) return 1;
            continue;
        }
        if (strcmp(a, "--repeat") == 0)
            bad = cli_parse_int(a, v, 1, 1000000, &repeat), i++;
        else if (strcmp(a, "--step") == 0)
            bad = cli_parse_int(a, v, 0, 1 << 30, &step), i++;
        else if (strcmp(a, "--seed") == 0)
            bad = cli_parse_int(a, v, 0, (1ll << 62), &seed), i++;
        else if (a[0] == '-')
            return cli_error("drain: unknown option '%s' (see miriam drain --help)", a);
        else if (!spec)
            spec = a;
        else
            return cli_error("drain: more than one MODEL given");
        if (bad) return 1;
    }
    if (!spec) return cli_error("drain: no MODEL given (a .onnx path or zoo:NAME)");
#ifndef MIRIAM_HAVE_CUDA
    (void)repeat;
    (void)step;
    (void)seed;
    return cli_error("drain needs the CUDA backend: this build of miriam has none (no CUDA "
                     "compiler was found when it was built)");
#else
    char why[256];
    if (!mr_cuda_available(why, sizeof why))
        return cli_error("drain needs the CUDA backend: %s", why);
    c.backend = MR_BACKEND_CUDA;
    mr_runtime *rt;
    if (cli_runtime(&c, &rt)) return 1;
    mr_model *m = NULL;
    int rc = 1;
    if (mr_model_load(rt, spec, NULL, &m) != MR_OK)
        cli_error("%s", mr_runtime_last_error(rt));
    else
        rc = measure(&c, spec, m, step, repeat, seed);
    mr_model_destroy(m);
    mr_runtime_destroy(rt);
    return rc;
#endif
}
