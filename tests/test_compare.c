/* `miriam compare` (tools/compare.c) run as a separate process on the CPU smoke workload: the
 * markdown table, results.json (parsed with cJSON), results.csv, the plots (when gnuplot is
 * installed; without it the scripts and data are still written), rows added with --include,
 * and the errors of bad arguments. Also, in process: the driver's latency samples
 * (mr_bench_params.keep_latencies) and the gnuplot writers of src/bench/plot.c, including the
 * kernel timeline no run records yet. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/driver.h"
#include "bench/plot.h"
#include "miriam.h"
#include "testutil.h"

#define SMOKE MIRIAM_SOURCE_DIR "/bench/workloads/cpu-smoke.json"

static const char *cli_path;
static char tmpdir[64];
static int have_gnuplot;

static const char csv_header[] =
    "workload,policy,task,model,criticality,arrival,deadline_ms,max_in_flight,submitted,"
    "completed,rejected,cancelled,p50_ms,p90_ms,p99_ms,max_ms,mean_ms,throughput_rps,"
    "deadline_misses,deadline_miss_pct,p99_vs_solo,throughput_vs_solo,backend,threads,"
    "measured_s,latency_samples,latency_pct_ms\n";

typedef mr_test_run result;

/* Runs `ENV miriam ARGS` (shell text; ENV may be "") capturing stdout and stderr. */
static result run_env(const char *env, const char *args) {
    return mr_test_run_cli(tmpdir, env, cli_path, args);
}

static result run_cli(const char *args) {
    return run_env("", args);
}

static void result_free(result *r) {
    mr_test_run_free(r);
}

/* Expects exit 1 and "miriam: error:" plus `needle` on stderr. */
static void expect_fail(int line, const char *args, const char *needle) {
    result r = run_cli(args);
    int ok = r.rc == 1 && strstr(r.err, "miriam: error:") && (!needle || strstr(r.err, needle));
    mr_test_checks++;
    if (!ok) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: expected exit 1 and '%s'\n  $ miriam %s  (exit %d)\n  stderr: %s\n",
                __FILE__, line, needle ? needle : "", args, r.rc, r.err);
    }
    result_free(&r);
}
#define EXPECT_FAIL(args, needle) expect_fail(__LINE__, args, needle)

static long file_size(const char *dir, const char *name) {
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* rm -r of a directory this test made; MIRIAM_TEST_KEEP=1 keeps them all, to look at the
 * plots. */
static void remove_dir(const char *dir) {
    if (getenv("MIRIAM_TEST_KEEP")) return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "compare: cannot remove %s\n", dir);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static const cJSON *find_run(const cJSON *root, const char *policy) {
    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(root, "runs")) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(run, "policy");
        if (cJSON_IsString(p) && strcmp(p->valuestring, policy) == 0) return run;
    }
    return NULL;
}

static const cJSON *find_task(const cJSON *run, const char *task) {
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(run, "tasks")) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "task");
        if (cJSON_IsString(n) && strcmp(n->valuestring, task) == 0) return t;
    }
    return NULL;
}

static double num(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Every task of a measured run: counts, latencies, throughput and 100 non-decreasing
 * percentiles from at most `completed` samples. */
static void check_task(const cJSON *run, const char *policy, const char *task) {
    const cJSON *t = find_task(run, task);
    CHECK_MSG(t != NULL, "%s: no task %s", policy, task);
    if (!t) return;
    double completed = num(t, "completed"), samples = num(t, "latency_samples");
    CHECK_MSG(completed > 0, "%s/%s: completed %g", policy, task, completed);
    /* +1: a completion landing between the sample's reset and the statistics' reset at the end
     * of the warm-up is in one and not the other (the driver says so). */
    CHECK_MSG(samples > 0 && samples <= completed + 1, "%s/%s: %g samples of %g", policy, task,
              samples, completed);
    double p50 = num(t, "p50_ms"), p99 = num(t, "p99_ms"), mx = num(t, "max_ms");
    CHECK_MSG(p50 > 0 && p50 <= p99 && p99 <= mx, "%s/%s: p50 %g p99 %g max %g", policy, task, p50,
              p99, mx);
    CHECK_MSG(num(t, "throughput_rps") > 0, "%s/%s: no throughput", policy, task);
    CHECK(cJSON_GetObjectItemCaseSensitive(t, "deadline_miss_pct") != NULL);
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(t, "latency_pct_ms");
    CHECK_MSG(cJSON_IsArray(pct) && cJSON_GetArraySize(pct) == 100, "%s/%s: latency_pct_ms", policy,
              task);
    double prev = 0;
    int ok = 1;
    const cJSON *v;
    cJSON_ArrayForEach(v, pct) {
        ok &= cJSON_IsNumber(v) && v->valuedouble >= prev;
        if (cJSON_IsNumber(v)) prev = v->valuedouble;
    }
    CHECK_MSG(ok, "%s/%s: latency_pct_ms not non-decreasing numbers", policy, task);
    /* The 100th percentile of the samples is their maximum: at most the statistics' max (the
     * samples are the same completions, up to one request at the reset). */
    CHECK_MSG(prev > 0 && prev <= mx * 1.5 + 1, "%s/%s: pct100 %g, max %g", policy, task, prev, mx);
}

/* The acceptance run: two policies on the smoke workload, everything checked. */
static void test_compare_run(void) {
    char dir[128], args[1024];
    snprintf(dir, sizeof dir, "%s/out", tmpdir);
    snprintf(args, sizeof args,
             "compare '%s' --device cpu --duration 1 --warmup 0.2 --policies sequential,elastic "
             "-o '%s'",
             SMOKE, dir);
    result r = run_cli(args);
    CHECK_MSG(r.rc == 0, "exit %d, stderr: %s", r.rc, r.err);
    /* Not a terminal: no progress bar; gnuplot present: no warning either. */
    if (have_gnuplot) CHECK_MSG(r.err[0] == '\0', "stderr: %s", r.err);
    CHECK_MSG(strstr(r.out, "| policy") && strstr(r.out, "| solo ") &&
                  strstr(r.out, "| sequential ") && strstr(r.out, "| elastic ") &&
                  strstr(r.out, "critical p99 / solo (worst)") && strstr(r.out, "system tput") &&
                  strstr(r.out, "results.json"),
              "stdout: %s", r.out);
    result_free(&r);

    char path[256];
    snprintf(path, sizeof path, "%s/results.json", dir);
    char *text = mr_test_slurp(path);
    cJSON *root = cJSON_Parse(text);
    CHECK_MSG(root != NULL, "results.json is not JSON: %.500s", text);
    if (root) {
        const cJSON *wl = cJSON_GetObjectItemCaseSensitive(root, "workload");
        CHECK(cJSON_IsString(wl) && strcmp(wl->valuestring, "cpu-smoke") == 0);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "runs")) == 3);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "tasks")) == 2);
        static const char *const policies[] = {"solo", "sequential", "elastic"};
        for (int i = 0; i < 3; i++) {
            const cJSON *run = find_run(root, policies[i]);
            CHECK_MSG(run != NULL, "no run %s", policies[i]);
            if (!run) continue;
            check_task(run, policies[i], "critical");
            check_task(run, policies[i], "normal");
            double cp = num(run, "critical_p99_vs_solo"),
                   nt = num(run, "normal_throughput_vs_solo");
            double sys = num(run, "system_throughput"),
                   vs = num(run, "system_throughput_vs_sequential");
            if (i == 0) {
                CHECK(isnan(cp) && isnan(nt) && isnan(sys));
            } else {
                CHECK_MSG(cp > 0 && nt > 0 && sys > 0 && vs > 0, "%s: %g %g %g %g", policies[i], cp,
                          nt, sys, vs);
                /* system throughput: the sum of the per-task throughput ratios. */
                const cJSON *solo = find_run(root, "solo");
                double s = 0;
                static const char *const tasks[] = {"critical", "normal"};
                for (int k = 0; solo && k < 2; k++)
                    s += num(find_task(run, tasks[k]), "throughput_rps") /
                         num(find_task(solo, tasks[k]), "throughput_rps");
                CHECK_MSG(fabs(s - sys) < 1e-3 * s, "%s: system %g, sum %g", policies[i], sys, s);
                CHECK_MSG(fabs(num(find_task(run, "critical"), "p99_vs_solo") - cp) < 1e-3 * cp,
                          "%s: worst critical", policies[i]);
            }
            if (i == 1) CHECK_MSG(fabs(vs - 1) < 1e-9, "sequential vs itself: %g", vs);
        }
        cJSON_Delete(root);
    }
    free(text);

    snprintf(path, sizeof path, "%s/results.csv", dir);
    text = mr_test_slurp(path);
    CHECK_MSG(strncmp(text, csv_header, sizeof csv_header - 1) == 0, "csv header: %.400s", text);
    int rows = 0;
    for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++) rows++;
    CHECK_MSG(rows == 1 + 3 * 2, "csv: %d lines", rows);
    CHECK(strstr(text, "\ncpu-smoke,solo,critical,zoo:cifarnet,critical,periodic 50 Hz,") != NULL);
    CHECK(strstr(text, "\ncpu-smoke,elastic,normal,zoo:squeezenet1_1,normal,closed x1,") != NULL);
    free(text);

    /* Plot scripts and data always; the images when gnuplot is installed. */
    CHECK(file_size(dir, "cdf_critical.gp") > 0 && file_size(dir, "cdf_critical.dat") > 0);
    CHECK(file_size(dir, "throughput.gp") > 0 && file_size(dir, "throughput.dat") > 0);
    if (have_gnuplot) {
        CHECK_MSG(file_size(dir, "cdf_critical.png") > 0, "no cdf_critical.png");
        CHECK_MSG(file_size(dir, "throughput.png") > 0, "no throughput.png");
        CHECK(file_size(dir, "cdf_critical.log") < 0); /* removed after success */
    }
    remove_dir(dir);
}

/* --include: rows of a hand-written CSV (only the required columns plus a quoted cell and a
 * percentile list) join the report; ratios use this run's solo. Also: without gnuplot the
 * command still succeeds, with one warning. */
static const char *path_json(char *buf, size_t size, const char *dir) {
    snprintf(buf, size, "%s/results.json", dir);
    return buf;
}

static void test_include(void) {
    char dir[128], csv[128], args[1024];
    snprintf(dir, sizeof dir, "%s/inc", tmpdir);
    snprintf(csv, sizeof csv, "%s/other.csv", tmpdir);
    char text[4096];
    int n = snprintf(text, sizeof text,
                     "policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps,workload,"
                     "latency_pct_ms\n"
                     "\"other-priority\",critical,40,1,2,3,4,50,cpu-smoke,");
    for (int k = 1; k <= 100; k++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s%g", k > 1 ? " " : "", k * 0.04);
    snprintf(text + n, sizeof text - (size_t)n, "\r\nother-priority,normal,5,10,20,30,40,5,,\n\n");
    write_text(csv, text);
    snprintf(args, sizeof args,
             "compare '%s' --device cpu --duration 0.3 --warmup 0 --policies elastic "
             "--include '%s' -o '%s'",
             SMOKE, csv, dir);
    /* No gnuplot on PATH. */
    result r = run_env("PATH=/nonexistent", args);
    CHECK_MSG(r.rc == 0, "exit %d, stderr: %s", r.rc, r.err);
    CHECK_MSG(strstr(r.out, "| other-priority ") &&
                  strstr(r.out, "against miriam's solo baselines"),
              "stdout: %s", r.out);
    CHECK_MSG(strstr(r.err, "miriam: warning: gnuplot not found") && !strstr(r.err, "error"),
              "stderr: %s", r.err);
    int lines = 0;
    for (const char *p = r.err; (p = strchr(p, '\n')) != NULL; p++) lines++;
    CHECK_MSG(lines == 1, "one warning line expected: %s", r.err);
    result_free(&r);
    CHECK(file_size(dir, "cdf_critical.gp") > 0 && file_size(dir, "throughput.dat") > 0);
    CHECK(file_size(dir, "cdf_critical.png") < 0);

    char path[256];
    snprintf(path, sizeof path, "%s/results.json", dir);
    char *js = mr_test_slurp(path);
    cJSON *root = cJSON_Parse(js);
    CHECK(root != NULL);
    if (root) {
        const cJSON *run = find_run(root, "other-priority"), *solo = find_run(root, "solo");
        CHECK(run != NULL && solo != NULL);
        if (run && solo) {
            const cJSON *src = cJSON_GetObjectItemCaseSensitive(run, "source");
            CHECK(cJSON_IsString(src) && strstr(src->valuestring, "other.csv"));
            double solo_p99 = num(find_task(solo, "critical"), "p99_ms");
            double v = num(find_task(run, "critical"), "p99_vs_solo");
            CHECK_MSG(fabs(v - 3 / solo_p99) < 1e-4 * v, "p99_vs_solo %g, solo p99 %g", v,
                      solo_p99);
            const cJSON *pct =
                cJSON_GetObjectItemCaseSensitive(find_task(run, "critical"), "latency_pct_ms");
            CHECK(cJSON_GetArraySize(pct) == 100 &&
                  fabs(cJSON_GetArrayItem(pct, 99)->valuedouble - 4) < 1e-9);
            CHECK(cJSON_IsNull(
                cJSON_GetObjectItemCaseSensitive(find_task(run, "normal"), "latency_pct_ms")));
        }
        cJSON_Delete(root);
    }
    free(js);
    snprintf(path, sizeof path, "%s/results.csv", dir);
    char *out = mr_test_slurp(path);
    CHECK_MSG(strstr(out, "\ncpu-smoke,other-priority,critical,zoo:cifarnet,critical,") &&
                  strstr(out, "\ncpu-smoke,other-priority,normal,"),
              "csv: %s", out);
    free(out);
    remove_dir(dir);

    /* A file with its own solo row: its other rows divide by that row, not by miriam's solo
     * (6 / 2 for the critical p99, 5 / 10 for the normal throughput). */
    write_text(csv, "policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps\n"
                    "other-solo,critical,40,1,1.5,2,2.5,50\n"
                    "other-solo,normal,10,5,6,7,8,10\n"
                    "other-multistream,critical,40,4,5,6,7,50\n"
                    "other-multistream,normal,5,9,10,11,12,5\n");
    r = run_env("PATH=/nonexistent", args);
    CHECK_MSG(r.rc == 0, "exit %d, stderr: %s", r.rc, r.err);
    result_free(&r);
    js = mr_test_slurp(path_json(path, sizeof path, dir));
    root = cJSON_Parse(js);
    const cJSON *ms = root ? find_run(root, "other-multistream") : NULL;
    CHECK(ms != NULL);
    if (ms) {
        double vc = num(find_task(ms, "critical"), "p99_vs_solo");
        double vn = num(find_task(ms, "normal"), "throughput_vs_solo");
        CHECK_MSG(fabs(vc - 3) < 1e-9 && fabs(vn - 0.5) < 1e-9, "vs own solo: %g %g", vc, vn);
    }
    cJSON_Delete(root);
    free(js);
    remove_dir(dir);

    /* Bad included files. */
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms\nx,critical,1,1,1,1,1\n",
         "no column 'throughput_rps'"},
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps\n"
         "x,nosuch,1,1,1,1,1,1\n",
         "task 'nosuch' is not in workload"},
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps\n"
         "elastic,critical,1,1,1,1,1,1\n",
         "miriam's own"},
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps\n"
         "x,critical,1,1,1,fast,1,1\n",
         "p99_ms"},
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps\n"
         "x,critical,1,1,1,1,1,1\nx,critical,1,1,1,1,1,1\n",
         "second row"},
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps\nx,critical,1,1\n",
         ":2: 4 fields"},
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps,latency_pct_ms\n"
         "x,critical,1,1,1,1,1,1,1 2 3\n",
         "latency_pct_ms"},
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps,workload\n"
         "x,critical,1,1,1,1,1,1,other\n",
         "workload 'other'"},
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps\n\"x,critical\n",
         "not closed"},
        {"policy,task,completed,p50_ms,p90_ms,p99_ms,max_ms,throughput_rps\n", "no rows"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_text(csv, bad[k].text);
        snprintf(args, sizeof args, "compare '%s' --device cpu --include '%s' -o '%s'", SMOKE, csv,
                 dir);
        EXPECT_FAIL(args, bad[k].needle);
    }
    snprintf(args, sizeof args, "compare '%s' --include '%s/none.csv' -o '%s'", SMOKE, tmpdir, dir);
    EXPECT_FAIL(args, "none.csv");
    unlink(csv);
    remove_dir(dir);
}

static void test_errors(void) {
    char args[1024], file[128];
    EXPECT_FAIL("compare", "no workload");
    snprintf(args, sizeof args, "compare '%s/none.json'", tmpdir);
    EXPECT_FAIL(args, "none.json");
    snprintf(args, sizeof args, "compare '%s' --policies fastest", SMOKE);
    EXPECT_FAIL(args, "fastest");
    snprintf(args, sizeof args, "compare '%s' --policies all,elastic", SMOKE);
    EXPECT_FAIL(args, "twice");
    snprintf(args, sizeof args, "compare '%s' --duration 0", SMOKE);
    EXPECT_FAIL(args, "--duration");
    snprintf(args, sizeof args, "compare '%s' --bogus", SMOKE);
    EXPECT_FAIL(args, "--bogus");
    snprintf(args, sizeof args, "compare '%s' '%s'", SMOKE, SMOKE);
    EXPECT_FAIL(args, "unexpected argument");
    snprintf(args, sizeof args, "compare '%s' --device tpu", SMOKE);
    EXPECT_FAIL(args, "--device");
    /* An output directory below a regular file cannot be made (whoever runs the test). */
    snprintf(file, sizeof file, "%s/plain-file", tmpdir);
    write_text(file, "x");
    snprintf(args, sizeof args, "compare '%s' --device cpu -o '%s/sub'", SMOKE, file);
    EXPECT_FAIL(args, "plain-file");
    unlink(file);
    snprintf(file, sizeof file, "%s/bad.json", tmpdir);
    write_text(file, "{\"duration_s\": 1, \"tasks\": []}");
    snprintf(args, sizeof args, "compare '%s' --device cpu -o '%s/x'", file, tmpdir);
    EXPECT_FAIL(args, "bad.json");
    unlink(file);

    result r = run_cli("compare --help");
    CHECK(r.rc == 0 && strstr(r.out, "usage: miriam compare") && strstr(r.out, "--include") &&
          strstr(r.out, "--policies") && strstr(r.out, "--no-plots"));
    result_free(&r);
    r = run_cli("--help");
    CHECK(r.rc == 0 && strstr(r.out, "compare WORKLOAD.json"));
    result_free(&r);
}

/* The driver's latency sample: bounded by keep_latencies, none without it. */
static void test_driver_latencies(void) {
    mr_err err;
    mr_err_clear(&err);
    mr_workload *w;
    CHECK_STATUS(mr_workload_load(SMOKE, &w, &err), MR_OK, err.msg, NULL);
    if (!w) return;
    w->duration_s = 0.4;
    w->warmup_s = 0.1;
    mr_bench_params p = mr_bench_default_params();
    p.runtime.backend = MR_BACKEND_CPU;
    p.keep_latencies = 5;
    mr_bench_result *r = calloc(1, sizeof *r);
    mr_status st = mr_bench_run(w, &p, r, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    if (st == MR_OK) {
        /* The periodic task completes ~20 requests: a reservoir of 5. */
        const mr_bench_task_result *c = &r->tasks[0], *n = &r->tasks[1];
        CHECK_MSG(c->n_latencies == 5 && c->n_latencies_seen >= 10 &&
                      llabs(c->n_latencies_seen - c->completed) <= 1,
                  "critical: %lld kept, %lld seen, %lld completed", (long long)c->n_latencies,
                  (long long)c->n_latencies_seen, (long long)c->completed);
        for (int64_t i = 0; i < c->n_latencies; i++)
            CHECK(c->latencies_ms[i] > 0 && c->latencies_ms[i] <= c->max_ms + 1e-9);
        CHECK(n->n_latencies >= 1 && n->n_latencies <= 5 && n->latencies_ms != NULL);
        CHECK(r->trace == NULL && r->n_trace == 0);
    }
    mr_bench_result_free(r);
    CHECK(r->tasks[0].latencies_ms == NULL && r->tasks[0].n_latencies == 0);
    mr_bench_result_free(r); /* twice is fine */

    p.keep_latencies = 0;
    st = mr_bench_run(w, &p, r, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    CHECK(r->tasks[0].latencies_ms == NULL && r->tasks[0].n_latencies == 0);
    p.keep_latencies = -1;
    CHECK_STATUS(mr_bench_run(w, &p, r, &err), MR_ERR_INVALID_ARG, err.msg, "keep_latencies");

    /* Solo runs hand each task's sample over. */
    p.keep_latencies = 1000;
    w->duration_s = 0.2;
    w->warmup_s = 0;
    st = mr_bench_run_solo(w, &p, r, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    CHECK(r->tasks[0].n_latencies > 0 && r->tasks[1].n_latencies > 0);
    mr_bench_result_free(r);
    free(r);
    mr_workload_free(w);
}

/* Runs gnuplot on DIR/NAME.gp (when installed) and expects NAME.png. */
static void draw(const char *dir, const char *name) {
    if (!have_gnuplot) return;
    char cmd[512], png[128];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s.gp' 2>'%s.log'", dir, name, name);
    int st = system(cmd);
    snprintf(png, sizeof png, "%s.png", name);
    char log[128];
    snprintf(log, sizeof log, "%s/%s.log", dir, name);
    char *msg = mr_test_slurp(log);
    CHECK_MSG(st == 0 && file_size(dir, png) > 0, "gnuplot %s.gp: %s", name, msg);
    free(msg);
}

/* The plot writers on inputs no smoke run produces: a kernel trace, several panels, an empty
 * curve and panel, missing bars, labels that need escaping. */
static void test_plot_writers(void) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/plots", tmpdir);
    CHECK(mkdir(dir, 0755) == 0);
    mr_err err;
    mr_err_clear(&err);

    mr_bench_trace_event ev[64];
    int n = 0;
    for (int k = 0; k < 20; k++) {
        /* Normal steps on lanes 0-2 every 3 ms; a critical request on lane 3 at 15-22 ms. */
        ev[n++] = (mr_bench_trace_event){k % 3, 1, k, 3.0 * k, 3.0 * k + 2.5, 0};
        if (k >= 5 && k < 12) ev[n++] = (mr_bench_trace_event){3, 0, k - 5, 10.0 + k, 10.5 + k, 1};
    }
    const char *names[] = {"detector", "background"};
    CHECK_STATUS(
        mr_plot_timeline(dir, "timeline_elastic", "a \"quoted\" title\\", ev, n, names, 2, &err),
        MR_OK, err.msg, NULL);
    char *dat = NULL;
    char path[256];
    snprintf(path, sizeof path, "%s/timeline_elastic.dat", dir);
    dat = mr_test_slurp(path);
    CHECK_MSG(strstr(dat, "# lane task step t0_ms t1_ms critical task_name") &&
                  strstr(dat, "\n3 0 0 15.000000 15.500000 1 \"detector\"\n"),
              "timeline.dat: %.300s", dat);
    free(dat);
    draw(dir, "timeline_elastic");
    CHECK_STATUS(mr_plot_timeline(dir, "t", "x", ev, 0, names, 2, &err), MR_ERR_INVALID_ARG,
                 err.msg, NULL);

    double x[3] = {1, 2, 50}, y[3] = {0.3, 0.6, 1};
    mr_plot_series s1[3] = {
        {"solo", x, y, 3, 0}, {"empty", NULL, NULL, 0, 0}, {"other \"sys\"", x, y, 2, 1}};
    mr_plot_series s2[1] = {{"solo", NULL, NULL, 0, 0}};
    mr_plot_panel panels[3] = {{"task_a (zoo:x)", s1, 3}, {"nothing", s2, 1}, {"b", s1, 1}};
    CHECK_STATUS(mr_plot_cdf(dir, "cdf", "cdf title", panels, 3, &err), MR_OK, err.msg, NULL);
    draw(dir, "cdf");
    CHECK_STATUS(mr_plot_cdf(dir, "cdf", "x", panels, MR_PLOT_MAX_PANELS + 1, &err),
                 MR_ERR_INVALID_ARG, err.msg, NULL);

    mr_plot_bar bars[3] = {
        {"sequential", 40, NAN, 1.5}, {"elastic", 1.1, 0.8, 1.9}, {"x\"y", NAN, NAN, NAN}};
    CHECK_STATUS(mr_plot_bars(dir, "bars", "bars", bars, 3, 2, &err), MR_OK, err.msg, NULL);
    draw(dir, "bars");
    mr_plot_bar none[1] = {{"solo-only", NAN, NAN, NAN}};
    CHECK_STATUS(mr_plot_bars(dir, "none", "none", none, 1, 2, &err), MR_OK, err.msg, NULL);
    draw(dir, "none");

    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir", tmpdir);
    CHECK_STATUS(mr_plot_bars(bad, "bars", "b", bars, 1, 2, &err), MR_ERR_IO, err.msg, "bars.dat");
    remove_dir(dir);
}

int main(void) {
    cli_path = mr_test_env("MIRIAM_CLI", MIRIAM_BINARY_DIR "/miriam");
    if (access(cli_path, X_OK) != 0) {
        fprintf(stderr,
                "compare: the miriam executable '%s' is missing (build target miriam_cli)\n",
                cli_path);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/miriam-test-compare-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    have_gnuplot = system("gnuplot --version >/dev/null 2>&1") == 0;
    if (!have_gnuplot) fprintf(stderr, "compare: gnuplot not installed: PNGs not checked\n");
    test_errors();
    test_plot_writers();
    test_driver_latencies();
    test_compare_run();
    test_include();
    remove_dir(tmpdir);
    return mr_test_finish("compare");
}
