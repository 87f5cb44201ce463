/* miriam bench: batch-1 latency of models, as a markdown table (like llama-bench). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_MODELS 64

static void bench_usage(void) {
    printf("usage: miriam bench [MODEL ...] [options]\n\n"
           "Measures batch-1 latency of each MODEL (default: every zoo model) and prints a\n"
           "markdown table: median (p50) and p99 over --repeat timed runs after --warmup runs.\n\n"
           "  --repeat N     timed runs per model (default 20)\n"
           "  --warmup N     untimed runs per model (default 3)\n"
           "  --device D     cpu, cuda or auto (default auto)\n"
           "  --threads N    CPU worker threads (default: one per core)\n"
           "  --csv FILE     also write the table as CSV (one row per model; columns model,\n"
           "                 backend, threads, params, gflop, arena_mib, p50_ms, p99_ms,\n"
           "                 runs, sms, launch)\n");
    cli_cuda_options_help(15);
    printf("\nThe backend column names the SM partition and the launch mode on CUDA\n"
           "(\"cuda/16sm/plain\"), so runs with different options go into one report.\n");
}

int cmd_bench(int argc, char **argv) {
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
        fprintf(cf, "model,backend,threads,params,gflop,arena_mib,p50_ms,p99_ms,runs,sms,launch\n");
    /* The backend column names the SM partition and the launch mode too ("cuda/16sm/plain"):
     * runs with different options go into one report. */
    char be[48];
    cli_backend_label(&c, rt, be, sizeof be);
    printf("| %-22s | %-17s | %7s | %10s | %8s | %9s | %9s | %9s |\n", "model", "backend",
           "threads", "params", "GFLOP", "arena MiB", "p50 ms", "p99 ms");
    printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------", "-------------------",
           "--------:", "-----------:", "---------:", "----------:", "----------:", "----------:");
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
        for (int i = 0; in && i < ni && ok; i++) {
            mr_tensor_info info;
            mr_model_input_info(m, i, &info);
            ok = !cli_alloc_tensor(&info, &in[i]);
            if (ok) cli_fill_random(&in[i], 1 + (unsigned long long)i);
        }
        for (int i = 0; out && i < no && ok; i++) {
            mr_tensor_info info;
            mr_model_output_info(m, i, &info);
            ok = !cli_alloc_tensor(&info, &out[i]);
        }
        ok = ok && in && out;
        for (long long w = 0; ok && w < warmup; w++) ok = mr_model_run(m, ni, in, no, out) == MR_OK;
        for (long long r = 0; ok && r < repeat; r++) {
            double t0 = cli_now_ms();
            ok = mr_model_run(m, ni, in, no, out) == MR_OK;
            lat[r] = cli_now_ms() - t0;
        }
        if (!ok) {
            cli_error("%s: %s", models[k], mr_runtime_last_error(rt));
            rc = 1;
        } else {
            mr_model_stats s;
            mr_model_get_stats(m, &s);
            double p50 = cli_percentile(lat, (int)repeat, 50);
            double p99 = cli_percentile(lat, (int)repeat, 99);
            double arena = (double)s.arena_bytes / (1024.0 * 1024.0);
            printf("| %-22s | %-17s | %7d | %10lld | %8.3f | %9.2f | %9.3f | %9.3f |\n", models[k],
                   be, mr_runtime_n_threads(rt), (long long)s.n_params, (double)s.flops / 1e9,
                   arena, p50, p99);
            fflush(stdout);
            if (cf)
                fprintf(cf, "%s,%s,%d,%lld,%.6f,%.3f,%.4f,%.4f,%lld,%d,%s\n", models[k],
                        mr_backend_name(mr_runtime_backend(rt)), mr_runtime_n_threads(rt),
                        (long long)s.n_params, (double)s.flops / 1e9, arena, p50, p99, repeat,
                        mr_runtime_backend(rt) == MR_BACKEND_CUDA ? c.sms : 0,
                        cli_launch_name(&c, rt));
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
