/* miriam bench: batch-1 latency of models, as a markdown table (like llama-bench); or, given a
 * workload file (in bench/workloads), the workload under one or more sharing policies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>
#include <unistd.h>

#include "bench/driver.h"
#include "cli.h"
#ifdef MIRIAM_HAVE_CUDA
#include "cuda/cuda_backend.h"
#include "model.h"
#endif

#define MAX_MODELS 64

static int cmd_bench_workload(int argc, char **argv);

static void bench_usage(void) {
    printf(
        "usage: miriam bench [MODEL ...] [options]\n"
        "       miriam bench WORKLOAD.json [options]   (see miriam bench WORKLOAD.json --help)\n\n"
        "Measures batch-1 latency of each MODEL (default: every zoo model) and prints a\n"
        "markdown table: median (p50) and p99 over --repeat timed runs after --warmup runs.\n\n"
        "  --repeat N     timed runs per model (default 20)\n"
        "  --warmup N     untimed runs per model (default 3)\n"
        "  --device D     cpu, cuda or auto (default auto)\n"
        "  --threads N    CPU worker threads (default: one per core)\n"
        "  --csv FILE     also write the table as CSV (one row per model; columns model,\n"
        "                 backend, threads, params, gflop, arena_mib, p50_ms, p99_ms,\n"
        "                 runs, sms, launch, gpu_p50_ms, gpu_p99_ms)\n");
    cli_cuda_options_help(15);
    cli_op_library_help(15);
    printf("\nThe backend column names the SM partition and the launch mode on CUDA\n"
           "(\"cuda/16sm/plain\"), so runs with different options go into one report.\n"
           "p50/p99 are wall-clock times of mr_model_run(), input and output copies from and\n"
           "to host memory included. On CUDA, \"GPU p50\"/\"GPU p99\" are the GPU time of the\n"
           "same launches alone (CUDA events around the graph replay, --repeat more runs),\n"
           "what PyTorch's CUDA-graph replay timed with an event pair measures.\n");
}

/* GPU time of `repeat` inferences of m after its wall-clock runs (CUDA; inputs as those runs
 * left them): their median and p99 in ms, or NAN on the CPU backend. 0, or 1 after an error
 * message. */
static int gpu_times(mr_runtime *rt, mr_model *m, long long repeat, double *lat, double *p50,
                     double *p99) {
    *p50 = *p99 = NAN;
    if (mr_runtime_backend(rt) != MR_BACKEND_CUDA) return 0;
#ifdef MIRIAM_HAVE_CUDA
    mr_err err;
    mr_err_clear(&err);
    for (long long r = 0; r < repeat; r++) {
        double us = 0;
        if (mr_cuda_exec_time_inference(mr_model_exec(m), &us, &err) != MR_OK)
            return cli_error("GPU time: %s", err.msg);
        lat[r] = us / 1e3;
    }
    *p50 = cli_percentile(lat, (int)repeat, 50);
    *p99 = cli_percentile(lat, (int)repeat, 99);
#else
    (void)m, (void)repeat, (void)lat;
#endif
    return 0;
}

int cmd_bench(int argc, char **argv) {
    /* A workload file as the first argument selects the workload mode. */
    if (argc > 1) {
        size_t n = strlen(argv[1]);
        if (n > 5 && strcmp(argv[1] + n - 5, ".json") == 0) return cmd_bench_workload(argc, argv);
    }
    cli_common c;
    cli_common_init(&c);
    const char *models[MAX_MODELS], *csv = NULL;
    int n_models = 0;
    long long repeat = 20, warmup = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bench_usage();
            return 0;
        }
        int r = cli_common_option(&c, argc, argv, &i);
        if (r == 1) return 1;
        if (r == -1) continue;
        if (strcmp(a, "--repeat") == 0) {
            if (cli_parse_int(a, v, 1, 1000000, &repeat)) return 1;
            i++;
        } else if (strcmp(a, "--warmup") == 0) {
            if (cli_parse_int(a, v, 0, 1000000, &warmup)) return 1;
            i++;
        } else if (strcmp(a, "--csv") == 0) {
            if (!v) return cli_error("--csv expects a file name");
            csv = v;
            i++;
        } else if (a[0] == '-') {
            return cli_error("bench: unknown option '%s' (see miriam bench --help)", a);
        } else {
            if (n_models == MAX_MODELS) return cli_error("bench: too many models");
            models[n_models++] = a;
        }
    }
    char zoo_specs[MAX_MODELS][64];
    if (n_models == 0)
        for (int i = 0; mr_zoo_name(i) && n_models < MAX_MODELS; i++) {
            snprintf(zoo_specs[n_models], sizeof zoo_specs[0], "zoo:%s", mr_zoo_name(i));
            models[n_models] = zoo_specs[n_models];
            n_models++;
        }
    mr_runtime *rt;
    if (cli_runtime(&c, &rt)) return 1;
    FILE *cf = NULL;
    if (csv && !(cf = fopen(csv, "w"))) {
        mr_runtime_destroy(rt);
        return cli_error("cannot write %s", csv);
    }
    if (cf)
        fprintf(cf, "model,backend,threads,params,gflop,arena_mib,p50_ms,p99_ms,runs,sms,launch,"
                    "gpu_p50_ms,gpu_p99_ms\n");
    /* The backend column names the SM partition and the launch mode too ("cuda/16sm/plain"):
     * runs with different options go into one report. */
    char be[48];
    cli_backend_label(&c, rt, be, sizeof be);
    printf("| %-22s | %-24s | %7s | %10s | %8s | %9s | %9s | %9s | %11s | %11s |\n", "model",
           "backend", "threads", "params", "GFLOP", "arena MiB", "p50 ms", "p99 ms", "GPU p50 ms",
           "GPU p99 ms");
    printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------",
           "--------------------------", "--------:", "-----------:", "---------:", "----------:",
           "----------:", "----------:", "------------:", "------------:");
    int rc = 0;
    double *lat = malloc(sizeof(double) * (size_t)repeat);
    for (int k = 0; k < n_models && lat; k++) {
        mr_model *m;
        if (mr_model_load(rt, models[k], NULL, &m) != MR_OK) {
            cli_error("%s: %s", models[k], mr_runtime_last_error(rt));
            rc = 1;
            continue;
        }
        int ni = mr_model_n_inputs(m), no = mr_model_n_outputs(m), ok = 1;
        mr_tensor *in = calloc((size_t)(ni + 1), sizeof(mr_tensor));
        mr_tensor *out = calloc((size_t)(no + 1), sizeof(mr_tensor));
        ok = in && out && !cli_model_tensors(m, 1, in, out);
        for (long long w = 0; ok && w < warmup; w++) ok = mr_model_run(m, ni, in, no, out) == MR_OK;
        for (long long r = 0; ok && r < repeat; r++) {
            double t0 = cli_now_ms();
            ok = mr_model_run(m, ni, in, no, out) == MR_OK;
            lat[r] = cli_now_ms() - t0;
        }
        double p50 = 0, p99 = 0, gpu50 = NAN, gpu99 = NAN;
        if (ok) {
            p50 = cli_percentile(lat, (int)repeat, 50);
            p99 = cli_percentile(lat, (int)repeat, 99);
        }
        if (!ok) {
            cli_error("%s: %s", models[k], mr_runtime_last_error(rt));
            rc = 1;
        } else if (gpu_times(rt, m, repeat, lat, &gpu50, &gpu99)) {
            rc = 1;
        } else {
            mr_model_stats s;
            mr_model_get_stats(m, &s);
            double arena = (double)s.arena_bytes / (1024.0 * 1024.0);
            char g50[32] = "-", g99[32] = "-";
            if (!isnan(gpu50)) {
                snprintf(g50, sizeof g50, "%.3f", gpu50);
                snprintf(g99, sizeof g99, "%.3f", gpu99);
            }
            printf("| %-22s | %-24s | %7d | %10lld | %8.3f | %9.2f | %9.3f | %9.3f | %11s | %11s "
                   "|\n",
                   models[k], be, mr_runtime_n_threads(rt), (long long)s.n_params,
                   (double)s.flops / 1e9, arena, p50, p99, g50, g99);
            fflush(stdout);
            if (cf) {
                fprintf(cf, "%s,%s,%d,%lld,%.6f,%.3f,%.4f,%.4f,%lld,%d,%s,", models[k],
                        mr_backend_name(mr_runtime_backend(rt)), mr_runtime_n_threads(rt),
                        (long long)s.n_params, (double)s.flops / 1e9, arena, p50, p99, repeat,
                        mr_runtime_backend(rt) == MR_BACKEND_CUDA ? c.sms : 0,
                        cli_launch_name(&c, rt));
                if (isnan(gpu50))
                    fprintf(cf, ",\n");
                else
                    fprintf(cf, "%.4f,%.4f\n", gpu50, gpu99);
            }
        }
        for (int i = 0; in && i < ni; i++) free(in[i].data);
        for (int i = 0; out && i < no; i++) free(out[i].data);
        free(in);
        free(out);
        mr_model_destroy(m);
    }
    if (!lat) rc = cli_error("out of memory");
    free(lat);
    if (cf) fclose(cf);
    mr_runtime_destroy(rt);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Workloads: miriam bench WORKLOAD.json                                                    */

#define MAX_RUNS (MR_BENCH_MAX_POLICIES + 1) /* every policy name and solo */

typedef enum out_format { OUT_MD, OUT_JSON, OUT_CSV } out_format;

typedef struct wl_opts {
    cli_common c;
    mr_bench_policy policies[MAX_RUNS];
    int solo[MAX_RUNS]; /* run i is the solo baseline */
    int n_runs;
    double duration_s, warmup_s, grace_s; /* < 0: the workload's / the default */
    long long seed;                       /* < 0: the workload's */
    long long partition_critical;
    out_format format;
    const char *out_path;
} wl_opts;

static void workload_usage(void) {
    printf("usage: miriam bench WORKLOAD.json [options]\n\n"
           "Runs the workload (tasks, models, arrivals: see docs/WORKLOADS.md) under each\n"
           "sharing policy in turn, on a fresh runtime each time, and prints per task the\n"
           "requests completed, rejected and cancelled, latency percentiles, throughput and\n"
           "deadline misses. Statistics are reset after the warm-up.\n\n"
           "  --policy LIST   comma-separated: sequential, multistream, priority, padding,\n"
           "                  partition, elastic, all (= those six, in that order) and solo\n"
           "                  (each task alone: the baseline for the ratios; default elastic);\n"
           "                  elastic-tuned / elastic-analytic: elastic with shards from the\n"
           "                  tuned profile (required) / from the analytic estimate only\n"
           "  --duration S    measured seconds (default: the workload's duration_s)\n"
           "  --warmup S      warm-up seconds (default: the workload's warmup_s)\n"
           "  --seed N        seed of inputs and Poisson arrivals (default: the workload's)\n"
           "  --grace S       time in-flight requests get to finish at the end before they\n"
           "                  are cancelled (default 2)\n"
           "  --partition-critical N\n"
           "                  partition policy: SMs (CUDA) or worker threads (CPU) reserved\n"
           "                  for critical tasks (default: half)\n"
           "  -o FORMAT       md (default: a markdown table), json or csv\n"
           "  --out FILE      write the report to FILE instead of stdout\n"
           "  --device D      cpu, cuda or auto (default auto)\n"
           "  --threads N     CPU worker threads (default: one per core)\n"
           "  -v, --verbose   log what the runtime does on stderr\n");
    cli_cuda_options_help(16);
    cli_op_library_help(16);
    printf("\nWith solo in the list, each policy also gets critical p99 / solo p99 (worst\n"
           "critical task) and normal throughput / solo throughput (mean over normal tasks).\n");
}

static int same_policy(mr_bench_policy a, mr_bench_policy b) {
    return a.policy == b.policy && a.profiles == b.profiles;
}

static int parse_policies(wl_opts *o, const char *list) {
    char buf[256];
    if (!list || !*list) return cli_error("--policy expects a list of policies");
    snprintf(buf, sizeof buf, "%s", list);
    o->n_runs = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        mr_bench_policy one[MR_BENCH_MAX_POLICIES];
        int n = 0, solo = 0;
        if (strcmp(tok, "all") == 0) {
            for (n = 0; n < 6; n++) mr_bench_policy_at(n, &one[n]);
        } else if (strcmp(tok, "solo") == 0) {
            solo = 1;
            n = 1;
            one[0] = (mr_bench_policy){MR_POLICY_ELASTIC, MR_PROFILES_AUTO};
        } else if (mr_bench_policy_parse(tok, &one[0]) == MR_OK) {
            n = 1;
        } else {
            return cli_error("--policy: unknown policy '%s' (expected sequential, multistream, "
                             "priority, padding, partition, elastic, elastic-tuned, "
                             "elastic-analytic, all or solo)",
                             tok);
        }
        for (int k = 0; k < n; k++) {
            for (int j = 0; j < o->n_runs; j++)
                if (o->solo[j] == solo && (solo || same_policy(o->policies[j], one[k])))
                    return cli_error("--policy: '%s' is given twice",
                                     solo ? "solo" : mr_bench_policy_name(one[k]));
            o->policies[o->n_runs] = one[k];
            o->solo[o->n_runs] = solo;
            o->n_runs++;
        }
    }
    if (o->n_runs == 0) return cli_error("--policy expects a list of policies");
    return 0;
}

/* Each run's runtime gets the --op-library operators. */
static int load_op_libraries(mr_runtime *rt, void *user) {
    return cli_load_op_libraries(user, rt);
}

static void log_to_stderr(mr_log_level level, const char *msg, void *user) {
    static const char *names[] = {"error", "warning", "info", "debug"};
    (void)user;
    /* Failures come back to the command, which reports them once with their context. */
    if (level <= MR_LOG_ERROR || level > MR_LOG_DEBUG) return;
    fprintf(stderr, "miriam: %s: %s\n", names[level], msg);
}

typedef struct progress_ctx {
    int run, n_runs;
    const char *name;
    double run_total_s; /* length of one policy run (warm-up + duration) */
    int n_tasks;
    const int *solo;
} progress_ctx;

/* "miriam bench: elastic (2/7), 41 s left" on one rewritten terminal line. */
static void show_progress(double elapsed_s, double total_s, void *user) {
    const progress_ctx *p = user;
    double left = total_s - elapsed_s;
    for (int i = p->run + 1; i < p->n_runs; i++)
        left += p->run_total_s * (p->solo[i] ? p->n_tasks : 1);
    if (left < 0) left = 0;
    fprintf(stderr, "\rmiriam bench: %s (%d/%d), %.0f s left   ", p->name, p->run + 1, p->n_runs,
            left);
    fflush(stderr);
}

static const char *run_name(const mr_bench_result *r) {
    mr_bench_policy p = {r->policy, r->profiles};
    return r->solo ? "solo" : mr_bench_policy_name(p);
}

static const char *fmt(char *buf, size_t size, const char *f, double v) {
    if (!isfinite(v)) return "-";
    snprintf(buf, size, f, v);
    return buf;
}

static void print_markdown(FILE *f, const mr_workload *w, const char *backend, int threads,
                           const mr_bench_result *runs, int n_runs, const mr_bench_result *solo) {
    fprintf(f, "workload %s (%s): %d tasks, %g s measured after %g s warm-up, seed %llu, %s",
            w->name, w->file, w->n_tasks, w->duration_s, w->warmup_s, (unsigned long long)w->seed,
            backend);
    if (threads > 0) fprintf(f, " (%d threads)", threads);
    fprintf(f, "\n\n");
    /* The task, model and arrival columns are as wide as their longest entry, so the table
     * lines up in a terminal as well as rendered. */
    int wt_name = 4, wt_model = 5, wt_arr = 7;
    for (int i = 0; i < w->n_tasks; i++) {
        char arr[64];
        mr_arrival_describe(&w->tasks[i].arrival, arr, sizeof arr);
        int n = (int)strlen(w->tasks[i].name), m = (int)strlen(w->tasks[i].model);
        int a = (int)strlen(arr);
        if (n > wt_name) wt_name = n;
        if (m > wt_model) wt_model = m < 60 ? m : 60;
        if (a > wt_arr) wt_arr = a;
    }
    char dash[3][72];
    const int widths[3] = {wt_name, wt_model, wt_arr};
    for (int k = 0; k < 3; k++) {
        memset(dash[k], '-', (size_t)widths[k] + 2);
        dash[k][widths[k] + 2] = '\0';
    }
    fprintf(f,
            "| %-11s | %-*s | %-*s | %-8s | %-*s | %9s | %8s | %9s | %9s | %9s | %9s | %9s | "
            "%9s | %-16s |%s\n",
            "policy", wt_name, "task", wt_model, "model", "crit", wt_arr, "arrival", "completed",
            "rejected", "cancelled", "p50 ms", "p90 ms", "p99 ms", "max ms", "req/s",
            "deadline misses", solo ? " vs solo     |" : "");
    fprintf(f,
            "|-------------|%s|%s|----------|%s|----------:|---------:|----------:|----------:|"
            "----------:|----------:|----------:|----------:|------------------|%s\n",
            dash[0], dash[1], dash[2], solo ? "------------:|" : "");
    for (int r = 0; r < n_runs; r++) {
        for (int i = 0; i < w->n_tasks; i++) {
            const mr_bench_task_result *t = &runs[r].tasks[i];
            const mr_wl_task *wt = &w->tasks[i];
            char arr[64], b[6][32], miss[48], vs[32];
            mr_arrival_describe(&wt->arrival, arr, sizeof arr);
            if (wt->deadline_ms > 0 && t->completed > 0)
                snprintf(miss, sizeof miss, "%lld (%.1f%%)", (long long)t->deadline_misses,
                         t->miss_pct);
            else
                snprintf(miss, sizeof miss, "-");
            double v = mr_bench_vs_solo(w, &runs[r], solo, i);
            if (isfinite(v))
                snprintf(vs, sizeof vs, "%s x%.2f",
                         wt->criticality == MR_TASK_CRITICAL ? "p99" : "tput", v);
            else
                snprintf(vs, sizeof vs, "-");
            fprintf(f,
                    "| %-11s | %-*s | %-*s | %-8s | %-*s | %9lld | %8lld | %9lld | %9s | %9s | "
                    "%9s | %9s | %9s | %-16s |",
                    run_name(&runs[r]), wt_name, wt->name, wt_model, wt->model,
                    mr_criticality_name(wt->criticality), wt_arr, arr, (long long)t->completed,
                    (long long)t->rejected, (long long)t->cancelled,
                    fmt(b[0], 32, "%.2f", t->p50_ms), fmt(b[1], 32, "%.2f", t->p90_ms),
                    fmt(b[2], 32, "%.2f", t->p99_ms), fmt(b[3], 32, "%.2f", t->max_ms),
                    fmt(b[4], 32, "%.1f", t->throughput_rps), miss);
            if (solo) fprintf(f, " %-11s |", vs);
            fputc('\n', f);
        }
    }
    if (!solo) return;
    fprintf(f, "\n| %-11s | %-27s | %-30s |\n", "policy", "critical p99 / solo (worst)",
            "normal throughput / solo (mean)");
    fprintf(f, "|-------------|----------------------------:|-------------------------------:|\n");
    for (int r = 0; r < n_runs; r++) {
        if (runs[r].solo) continue;
        double cp, nt;
        char b[2][32];
        mr_bench_summary(w, &runs[r], solo, &cp, &nt);
        fprintf(f, "| %-11s | %27s | %30s |\n", run_name(&runs[r]), fmt(b[0], 32, "%.2f", cp),
                fmt(b[1], 32, "%.2f", nt));
    }
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

static void print_json(FILE *f, const mr_workload *w, const char *backend, int threads,
                       const mr_bench_result *runs, int n_runs, const mr_bench_result *solo) {
    fprintf(f, "{\n  \"workload\": ");
    json_string(f, w->name);
    fprintf(f, ",\n  \"file\": ");
    json_string(f, w->file);
    fprintf(f, ",\n  \"description\": ");
    json_string(f, w->description);
    fprintf(f, ",\n  \"backend\": ");
    json_string(f, backend);
    fprintf(f, ",\n  \"threads\": %d,\n  \"duration_s\": ", threads);
    json_num(f, w->duration_s);
    fprintf(f, ",\n  \"warmup_s\": ");
    json_num(f, w->warmup_s);
    fprintf(f, ",\n  \"seed\": %llu,\n  \"runs\": [", (unsigned long long)w->seed);
    for (int r = 0; r < n_runs; r++) {
        double cp, nt;
        mr_bench_summary(w, &runs[r], runs[r].solo ? NULL : solo, &cp, &nt);
        fprintf(f, "%s\n    {\"policy\": \"%s\", \"measured_s\": ", r ? "," : "",
                run_name(&runs[r]));
        json_num(f, runs[r].measured_s);
        fprintf(f, ", \"critical_p99_vs_solo\": ");
        json_num(f, cp);
        fprintf(f, ", \"normal_throughput_vs_solo\": ");
        json_num(f, nt);
        fprintf(f, ",\n     \"tasks\": [");
        for (int i = 0; i < w->n_tasks; i++) {
            const mr_bench_task_result *t = &runs[r].tasks[i];
            const mr_wl_task *wt = &w->tasks[i];
            char arr[64];
            mr_arrival_describe(&wt->arrival, arr, sizeof arr);
            fprintf(f, "%s\n      {\"task\": ", i ? "," : "");
            json_string(f, wt->name);
            fprintf(f, ", \"model\": ");
            json_string(f, wt->model);
            fprintf(f, ", \"criticality\": \"%s\", \"arrival\": ",
                    mr_criticality_name(wt->criticality));
            json_string(f, arr);
            fprintf(f, ", \"deadline_ms\": ");
            json_num(f, wt->deadline_ms > 0 ? wt->deadline_ms : NAN);
            fprintf(f,
                    ", \"max_in_flight\": %d,\n       \"submitted\": %lld, \"completed\": %lld, "
                    "\"rejected\": %lld, \"cancelled\": %lld",
                    wt->max_in_flight, (long long)t->submitted, (long long)t->completed,
                    (long long)t->rejected, (long long)t->cancelled);
            static const char *const names[] = {"p50_ms", "p90_ms",  "p99_ms",
                                                "max_ms", "mean_ms", "throughput_rps"};
            const double vals[] = {t->p50_ms, t->p90_ms,  t->p99_ms,
                                   t->max_ms, t->mean_ms, t->throughput_rps};
            for (int k = 0; k < 6; k++) {
                fprintf(f, "%s\"%s\": ", k == 0 ? ",\n       " : ", ", names[k]);
                json_num(f, vals[k]);
            }
            fprintf(f, ",\n       \"deadline_misses\": %lld, \"deadline_miss_pct\": ",
                    (long long)t->deadline_misses);
            json_num(f, t->miss_pct);
            double v = mr_bench_vs_solo(w, &runs[r], solo, i);
            int crit = wt->criticality == MR_TASK_CRITICAL;
            fprintf(f, ", \"p99_vs_solo\": ");
            json_num(f, crit ? v : NAN);
            fprintf(f, ", \"throughput_vs_solo\": ");
            json_num(f, crit ? NAN : v);
            fputc('}', f);
        }
        fprintf(f, "\n     ]}");
    }
    fprintf(f, "\n  ]\n}\n");
}

/* A CSV cell: quoted (RFC 4180) when it holds a comma, quote or line break. */
static void csv_string(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.6g", v);
}

static void print_csv(FILE *f, const mr_workload *w, const char *backend, int threads,
                      const mr_bench_result *runs, int n_runs, const mr_bench_result *solo) {
    fprintf(f, "workload,policy,task,model,criticality,arrival,deadline_ms,max_in_flight,"
               "submitted,completed,rejected,cancelled,p50_ms,p90_ms,p99_ms,max_ms,mean_ms,"
               "throughput_rps,deadline_misses,deadline_miss_pct,p99_vs_solo,"
               "throughput_vs_solo,backend,threads\n");
    for (int r = 0; r < n_runs; r++)
        for (int i = 0; i < w->n_tasks; i++) {
            const mr_bench_task_result *t = &runs[r].tasks[i];
            const mr_wl_task *wt = &w->tasks[i];
            char arr[64];
            mr_arrival_describe(&wt->arrival, arr, sizeof arr);
            fprintf(f, "%s,%s,%s,", w->name, run_name(&runs[r]), wt->name);
            csv_string(f, wt->model);
            fprintf(f, ",%s,%s,", mr_criticality_name(wt->criticality), arr);
            csv_num(f, wt->deadline_ms > 0 ? wt->deadline_ms : NAN);
            fprintf(f, ",%d,%lld,%lld,%lld,%lld,", wt->max_in_flight, (long long)t->submitted,
                    (long long)t->completed, (long long)t->rejected, (long long)t->cancelled);
            const double vals[] = {t->p50_ms, t->p90_ms,  t->p99_ms,
                                   t->max_ms, t->mean_ms, t->throughput_rps};
            for (int k = 0; k < 6; k++) {
                csv_num(f, vals[k]);
                fputc(',', f);
            }
            fprintf(f, "%lld,", (long long)t->deadline_misses);
            csv_num(f, t->miss_pct);
            double v = mr_bench_vs_solo(w, &runs[r], solo, i);
            int crit = wt->criticality == MR_TASK_CRITICAL;
            fputc(',', f);
            csv_num(f, crit ? v : NAN);
            fputc(',', f);
            csv_num(f, crit ? NAN : v);
            fprintf(f, ",%s,%d\n", backend, threads);
        }
}

static int parse_workload_args(wl_opts *o, int argc, char **argv, int *help) {
    cli_common_init(&o->c);
    o->policies[0] = (mr_bench_policy){MR_POLICY_ELASTIC, MR_PROFILES_AUTO};
    o->solo[0] = 0;
    o->n_runs = 1;
    o->duration_s = o->warmup_s = o->grace_s = -1;
    o->seed = -1;
    o->partition_critical = 0;
    o->format = OUT_MD;
    o->out_path = NULL;
    *help = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            return 0;
        }
        int r = cli_common_option(&o->c, argc, argv, &i);
        if (r == 1) return 1;
        if (r == -1) continue;
        if (strcmp(a, "--policy") == 0) {
            if (parse_policies(o, v)) return 1;
        } else if (strcmp(a, "--duration") == 0) {
            if (cli_parse_float(a, v, &o->duration_s)) return 1;
            if (!(o->duration_s > 0 && o->duration_s <= MR_WL_MAX_SECONDS))
                return cli_error("--duration expects seconds in (0, %g], got '%s'",
                                 MR_WL_MAX_SECONDS, v);
        } else if (strcmp(a, "--warmup") == 0) {
            if (cli_parse_float(a, v, &o->warmup_s)) return 1;
            if (o->warmup_s > MR_WL_MAX_SECONDS)
                return cli_error("--warmup expects seconds in [0, %g], got '%s'", MR_WL_MAX_SECONDS,
                                 v);
        } else if (strcmp(a, "--grace") == 0) {
            if (cli_parse_float(a, v, &o->grace_s)) return 1;
            if (o->grace_s > 3600) return cli_error("--grace expects seconds in [0, 3600]");
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_int(a, v, 0, 9007199254740992LL, &o->seed)) return 1;
        } else if (strcmp(a, "--partition-critical") == 0) {
            if (cli_parse_int(a, v, 1, 1 << 20, &o->partition_critical)) return 1;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--format") == 0) {
            if (v && strcmp(v, "md") == 0)
                o->format = OUT_MD;
            else if (v && strcmp(v, "json") == 0)
                o->format = OUT_JSON;
            else if (v && strcmp(v, "csv") == 0)
                o->format = OUT_CSV;
            else
                return cli_error("%s expects md, json or csv, got '%s'", a, v ? v : "");
        } else if (strcmp(a, "--out") == 0) {
            if (!v || !*v) return cli_error("--out expects a file name");
            o->out_path = v;
        } else {
            return cli_error("bench: unexpected argument '%s' (see miriam bench WORKLOAD.json "
                             "--help)",
                             a);
        }
        i++;
    }
    return 0;
}

static int cmd_bench_workload(int argc, char **argv) {
    wl_opts o;
    int help;
    if (parse_workload_args(&o, argc, argv, &help)) return 1;
    if (help) {
        workload_usage();
        return 0;
    }
    mr_err err;
    mr_err_clear(&err);
    mr_workload *w;
    if (mr_workload_load(argv[1], &w, &err) != MR_OK) return cli_error("%s", err.msg);
    if (o.duration_s > 0) w->duration_s = o.duration_s;
    if (o.warmup_s >= 0) w->warmup_s = o.warmup_s;
    if (o.seed >= 0) w->seed = (uint64_t)o.seed;

    mr_bench_params p = mr_bench_default_params();
    p.runtime.backend = o.c.backend;
    p.runtime.n_threads = o.c.threads;
    p.runtime.sms = o.c.sms;
    p.runtime.gpu = o.c.gpu;
    p.runtime.plain_launch = o.c.plain_launch;
    p.runtime.cuda_graphs = !o.c.no_graphs;
    p.runtime.dependent_launch = !o.c.no_pdl;
    p.runtime.persistent_recurrence = o.c.persistent_rnn;
    p.runtime.precision = o.c.precision;
    p.runtime.partition_critical = (int)o.partition_critical;
    p.runtime.log_fn = log_to_stderr;
    p.runtime.log_level = o.c.verbose ? MR_LOG_INFO : MR_LOG_WARN;
    if (o.grace_s >= 0) p.grace_s = o.grace_s;
    p.setup_runtime = load_op_libraries;
    p.setup_user = &o.c;

    /* The whole report is written at the end, so a failed run leaves no partial file. */
    mr_bench_result *runs = calloc((size_t)o.n_runs, sizeof *runs);
    if (!runs) {
        mr_workload_free(w);
        return cli_error("out of memory");
    }
    progress_ctx pc = {0, o.n_runs, NULL, w->warmup_s + w->duration_s, w->n_tasks, o.solo};
    int tty = isatty(STDERR_FILENO);
    int rc = 0;
    for (int r = 0; r < o.n_runs && rc == 0; r++) {
        pc.run = r;
        pc.name = o.solo[r] ? "solo" : mr_bench_policy_name(o.policies[r]);
        p.runtime.policy = o.policies[r].policy;
        p.runtime.profiles = o.policies[r].profiles;
        p.progress = tty ? show_progress : NULL;
        p.progress_user = &pc;
        mr_status st = o.solo[r] ? mr_bench_run_solo(w, &p, &runs[r], &err)
                                 : mr_bench_run(w, &p, &runs[r], &err);
        if (st != MR_OK) {
            if (tty) fprintf(stderr, "\r\033[K");
            rc = cli_error("%s", err.msg);
        }
    }
    if (tty && rc == 0) fprintf(stderr, "\r\033[K");

    const mr_bench_result *solo = NULL;
    for (int r = 0; r < o.n_runs; r++)
        if (o.solo[r]) solo = &runs[r];
    FILE *f = stdout;
    if (rc == 0 && o.out_path && !(f = fopen(o.out_path, "w")))
        rc = cli_error("cannot write %s", o.out_path);
    if (rc == 0) {
        char backend[64];
        cli_backend_label_kind(&o.c, runs[0].backend, backend, sizeof backend);
        int threads = runs[0].n_threads;
        if (o.format == OUT_JSON)
            print_json(f, w, backend, threads, runs, o.n_runs, solo);
        else if (o.format == OUT_CSV)
            print_csv(f, w, backend, threads, runs, o.n_runs, solo);
        else
            print_markdown(f, w, backend, threads, runs, o.n_runs, solo);
        if (f != stdout && fclose(f) != 0) rc = cli_error("cannot write %s", o.out_path);
        if (f == stdout) fflush(stdout);
    }
    free(runs);
    mr_workload_free(w);
    return rc;
}
