/* The tuner (src/elastic/tune.c) and `miriam tune`: the pruning rules on a hand-made
 * candidate set; tuning through the API on the CPU (an LSTM: multi-phase steps, progress,
 * statistics, a model that backs a task) and, on a GPU, on CUDA (skipped without one); the
 * command line: tune zoo:cifarnet on the CPU with --quick, load the profile back from the
 * cache and from -o, check that every step has points, that the kept points obey the pruning
 * rules and that errors exit 1. The CLI is sanitised in -DMIRIAM_ASAN=ON builds, so a leak on
 * an error path fails these checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elastic/profile.h"
#include "elastic/tune.h"
#include "model.h"
#include "testutil.h"

static const char *cli_path;
static char tmpdir[64];

/* The rules of docs/TUNING.md, checked on the kept points of every entry. */
static void check_rules(const mr_profile *p) {
    for (int i = 0; i < p->n_entries; i++) {
        const mr_profile_entry *e = &p->entries[i];
        CHECK_MSG(e->n_points >= 1 && e->n_points <= e->candidates,
                  "step %d phase %d: %d points of %lld candidates", e->step, e->phase, e->n_points,
                  (long long)e->candidates);
        int all_whole = 1;
        for (int k = 0; k < e->n_points; k++)
            all_whole &= e->points[k].shard_blocks == e->phase_blocks;
        for (int k = 0; k < e->n_points; k++) {
            const mr_profile_point *a = &e->points[k];
            CHECK(a->variant >= 0 && a->variant < e->n_variants);
            CHECK(a->blocks >= 1 && a->blocks <= e->variants[a->variant].full_blocks);
            CHECK(a->shard_blocks >= 1 && a->shard_blocks <= e->phase_blocks);
            CHECK(a->shard_us > 0 && a->rel_throughput > 0 && a->block_us >= 0);
            /* Rule 1, or the fallback that keeps whole phases of a step too short for it. */
            CHECK_MSG(a->overhead_us <= MR_TUNE_MAX_OVERHEAD_FRAC * a->shard_us || all_whole,
                      "step %d phase %d point %d: overhead %.3f of %.3f us", e->step, e->phase, k,
                      a->overhead_us, a->shard_us);
            mr_profile_res fa = mr_profile_point_footprint(&p->device, e, a);
            for (int j = 0; j < e->n_points; j++) {
                if (j == k) continue;
                const mr_profile_point *b = &e->points[j];
                mr_profile_res fb = mr_profile_point_footprint(&p->device, e, b);
                /* Rule 2 and rule 3. */
                if (mr_profile_footprint_le(&fb, &fa))
                    CHECK_MSG(a->rel_throughput >= MR_TUNE_MIN_REL_THROUGHPUT * b->rel_throughput,
                              "step %d phase %d: point %d (%.4f) below half of point %d (%.4f)",
                              e->step, e->phase, k, a->rel_throughput, j, b->rel_throughput);
                CHECK_MSG(!mr_profile_dominates(&p->device, e, b, a),
                          "step %d phase %d: kept point %d is dominated by point %d", e->step,
                          e->phase, k, j);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Pruning on hand-made candidates                                                          */

typedef struct cand {
    const char *id;
    int P;
    int64_t S;
    double shard_us, rel, ovh;
    int keep;
} cand;

static void test_prune(void) {
    mr_profile_device dev;
    memset(&dev, 0, sizeof dev);
    dev.backend = MR_PROFILE_CPU;
    dev.units = 4;
    /* A phase of 100 blocks on 4 workers. */
    const cand c[] = {
        {"A", 4, 100, 260, 1.0, 6, 1},   /* the best */
        {"B", 4, 4, 15, 0.7, 6, 0},      /* rule 1: 6 > 0.2 x 15 */
        {"C", 4, 16, 45, 0.92, 6, 1},    /* shorter than A */
        {"D", 2, 100, 500, 0.52, 5, 1},  /* the best at 2 workers */
        {"E", 2, 8, 45, 0.46, 5, 1},     /* shorter than D, fewer workers than C */
        {"F", 1, 100, 1000, 0.26, 4, 1}, /* the best at 1 worker */
        {"G", 1, 1, 14, 0.186, 4, 0},    /* rule 1 */
        {"H", 1, 4, 44, 0.236, 4, 1},    /* shorter than F */
        {"I", 1, 2, 30, 0.1, 4, 0},      /* rule 2: < 0.5 x F */
        {"J", 2, 4, 44, 0.2, 5, 0},      /* rule 2: < 0.5 x D */
        {"K", 4, 8, 46, 0.45, 6, 0},     /* rule 2: < 0.5 x A */
        {"L", 4, 50, 140, 0.9, 6, 0},    /* rule 3: C is shorter and faster */
        {"M", 4, 100, 260, 1.0, 6, 1},   /* equal to A: neither dominates */
    };
    int n = (int)(sizeof c / sizeof c[0]);
    mr_profile_entry e;
    memset(&e, 0, sizeof e);
    e.phase_blocks = 100;
    e.n_phases = 1;
    e.n_variants = 1;
    e.variants[0].full_blocks = 4;
    e.candidates = n;
    e.n_points = n;
    e.points = calloc((size_t)n, sizeof *e.points);
    for (int i = 0; i < n; i++)
        e.points[i] = (mr_profile_point){0, c[i].P, c[i].S, 1, c[i].shard_us, c[i].rel, c[i].ovh};
    mr_tune_stats st;
    memset(&st, 0, sizeof st);
    mr_err err;
    mr_err_clear(&err);
    CHECK(mr_tune_prune(&dev, &e, &st, &err) == MR_OK);
    CHECK(st.dropped_overhead == 2 && st.dropped_throughput == 3 && st.dropped_dominated == 1);
    CHECK(st.kept == 7 && e.n_points == 7);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!c[i].keep) continue;
        CHECK_MSG(k < e.n_points && e.points[k].blocks == c[i].P &&
                      e.points[k].shard_blocks == c[i].S && e.points[k].shard_us == c[i].shard_us,
                  "candidate %s should be kept in order", c[i].id);
        k++;
    }
    mr_profile p;
    memset(&p, 0, sizeof p);
    p.device = dev;
    p.n_entries = 1;
    p.entries = &e;
    check_rules(&p);

    /* A step too short to amortise any launch: every candidate fails rule 1, so its
     * whole-phase candidates (b, c, d) stay and go through rules 2 and 3, where none is
     * dropped (fewer workers, or shorter and faster). */
    const cand s[] = {
        {"a", 4, 4, 8, 0.6, 6, 0},    {"b", 4, 10, 9, 1.0, 6, 1}, {"c", 1, 10, 20, 0.45, 4.5, 1},
        {"d", 2, 10, 12, 0.75, 5, 1}, {"e", 1, 1, 5, 0.18, 4, 0},
    };
    n = (int)(sizeof s / sizeof s[0]);
    e.phase_blocks = 10;
    e.n_points = n;
    for (int i = 0; i < n; i++)
        e.points[i] = (mr_profile_point){0, s[i].P, s[i].S, 1, s[i].shard_us, s[i].rel, s[i].ovh};
    memset(&st, 0, sizeof st);
    CHECK(mr_tune_prune(&dev, &e, &st, &err) == MR_OK);
    CHECK(st.dropped_overhead == 2 && st.dropped_throughput == 0 && st.dropped_dominated == 0);
    CHECK(st.kept == 3 && e.n_points == 3);
    k = 0;
    for (int i = 0; i < n; i++)
        if (s[i].keep) {
            CHECK_MSG(k < e.n_points && e.points[k].blocks == s[i].P &&
                          e.points[k].shard_us == s[i].shard_us,
                      "candidate %s should be kept in order", s[i].id);
            k++;
        }
    check_rules(&p);
    free(e.points);
}

/* ---------------------------------------------------------------------------------------- */
/* The API on the CPU                                                                       */

typedef struct prog {
    int64_t calls, last_done, total;
    int monotonic;
} prog;

static void on_progress(void *user, int64_t done, int64_t total) {
    prog *p = user;
    if (done < p->last_done || (p->calls && total != p->total)) p->monotonic = 0;
    p->calls++;
    p->last_done = done;
    p->total = total;
}

static void test_api(void) {
    mr_runtime_params rp = mr_runtime_default_params();
    rp.backend = MR_BACKEND_CPU;
    rp.n_threads = 2;
    mr_runtime *rt = NULL;
    char msg[256];
    if (mr_runtime_create(&rp, &rt, msg, sizeof msg) != MR_OK) {
        CHECK_MSG(0, "%s", msg);
        return;
    }
    mr_model *m = NULL;
    if (mr_model_load(rt, "zoo:lstm", NULL, &m) != MR_OK) {
        CHECK_MSG(0, "%s", mr_runtime_last_error(rt));
        mr_runtime_destroy(rt);
        return;
    }
    prog pg = {0, 0, 0, 1};
    mr_tune_params tp = mr_tune_default_params();
    CHECK(tp.repeat == 5 && tp.quick == 0);
    tp.repeat = 2;
    tp.model_name = "zoo:lstm";
    tp.progress = on_progress;
    tp.progress_user = &pg;
    mr_profile *p = NULL;
    mr_tune_stats st;
    mr_err err;
    mr_err_clear(&err);
    CHECK_MSG(mr_tune_model(m, &tp, &p, &st, &err) == MR_OK, "%s", err.msg);
    if (p) {
        CHECK(pg.monotonic && pg.calls > 1 && pg.last_done == pg.total &&
              pg.total == st.candidates);
        CHECK(p->model_hash == mr_profile_model_hash(mr_model_graph(m)));
        CHECK(strcmp(p->device.key, "cpu_2t") == 0 && p->repeat == 2 && !p->quick);
        CHECK(strcmp(p->model, "zoo:lstm") == 0 && p->n_steps == mr_model_n_steps(m));
        int64_t cands = 0, kept = 0;
        for (int i = 0; i < p->n_entries; i++) {
            cands += p->entries[i].candidates;
            kept += p->entries[i].n_points;
        }
        CHECK(cands == st.candidates && kept == st.kept);
        CHECK(st.candidates == st.skipped_long + st.dropped_overhead + st.dropped_throughput +
                                   st.dropped_dominated + st.kept);
        /* Every step with blocks has an entry with points; the LSTM's two layers, one node
         * after the optimizer stacked them (mr_pass_stack_rnn: 2 x 51 phases on the CPU), are
         * tuned on phases 0 and 1, and later phases find phase 1. */
        int n_lstm = 0;
        for (int s = 0; s < mr_model_n_steps(m); s++) {
            mr_step_info si;
            CHECK(mr_model_step_info(m, s, &si) == MR_OK);
            if (si.n_blocks <= 0) {
                CHECK(mr_profile_find(p, s, 0) == NULL);
                continue;
            }
            const mr_profile_entry *e0 = mr_profile_find(p, s, 0);
            CHECK_MSG(e0 && e0->n_points > 0, "step %d has no points", s);
            if (strcmp(si.op, "LSTM+LSTM") == 0 && e0) {
                n_lstm++;
                const mr_profile_entry *e1 = mr_profile_find(p, s, 1);
                CHECK(e0->n_phases == 102 && e1 && e1->phase == 1 && e1->n_points > 0);
                CHECK(mr_profile_find(p, s, 2) == e1 && mr_profile_find(p, s, 101) == e1);
                CHECK(mr_profile_find(p, s, 102) == NULL);
                CHECK(mr_profile_block_us(p, s, 30, 0) == e1->variants[0].block_us);
                /* The non-quick design space: widths {1, 2} x shards {P, 2P, 4P, phase}. */
                CHECK(e0->candidates == 8);
            }
            CHECK(mr_profile_block_us(p, s, 0, 0) > 0);
            mr_profile_res two = {2, 0, 0, 0};
            int v, P;
            int64_t S;
            CHECK(mr_profile_shard(p, s, 0, &two, 0, &v, &P, &S) == 1 && v == 0 && P <= 2);
        }
        CHECK(n_lstm == 1);
        check_rules(p);
        /* The profile validates as a file. */
        char *json = NULL;
        CHECK(mr_profile_to_json(p, &json, &err) == MR_OK);
        mr_profile *q = NULL;
        CHECK_MSG(json && mr_profile_parse(json, strlen(json), "api", &q, &err) == MR_OK, "%s",
                  err.msg);
        /* ... and loads back to the same numbers. */
        for (int i = 0; q && i < p->n_entries && i < q->n_entries; i++) {
            const mr_profile_entry *a = &p->entries[i], *b = &q->entries[i];
            CHECK(a->n_points == b->n_points &&
                  memcmp(a->points, b->points, sizeof *a->points * (size_t)a->n_points) == 0);
            CHECK(a->variants[0].block_us == b->variants[0].block_us);
        }
        CHECK(q && q->n_entries == p->n_entries && q->wall_s == p->wall_s);
        mr_profile_free(q);
        free(json);
    }
    mr_profile_free(p);
    p = NULL;

    /* Bad parameters; a model that backs a task is busy. */
    tp = mr_tune_default_params();
    tp.repeat = 0;
    CHECK_STATUS(mr_tune_model(m, &tp, &p, NULL, &err), MR_ERR_INVALID_ARG, err.msg, "repeat");
    CHECK_STATUS(mr_tune_model(NULL, NULL, &p, NULL, &err), MR_ERR_INVALID_ARG, err.msg, "NULL");
    mr_task *task = NULL;
    if (mr_task_create(rt, m, NULL, &task) == MR_OK) {
        tp.repeat = 1;
        tp.quick = 1;
        CHECK_STATUS(mr_tune_model(m, &tp, &p, NULL, &err), MR_ERR_INVALID_ARG, err.msg,
                     "backs task");
        CHECK(p == NULL);
        mr_task_destroy(task);
    } else {
        CHECK_MSG(0, "%s", mr_runtime_last_error(rt));
    }
    mr_model_destroy(m);
    mr_runtime_destroy(rt);
}

/* On a GPU (skipped without one): the CUDA path through the API, timing events and all. */
static void test_cuda(void) {
    mr_runtime_params rp = mr_runtime_default_params();
    rp.backend = MR_BACKEND_CUDA;
    mr_runtime *rt = NULL;
    char msg[256];
    if (mr_runtime_create(&rp, &rt, msg, sizeof msg) != MR_OK) {
        fprintf(stderr, "tune: CUDA part skipped (%s)\n", msg);
        return;
    }
    const char *specs[] = {"zoo:cifarnet", "zoo:lstm", "zoo:resnet18"};
    for (int k = 0; k < 3; k++) {
        mr_model *m = NULL;
        if (mr_model_load(rt, specs[k], NULL, &m) != MR_OK) {
            CHECK_MSG(0, "%s: %s", specs[k], mr_runtime_last_error(rt));
            continue;
        }
        mr_tune_params tp = mr_tune_default_params();
        tp.quick = k == 2; /* the full design space on the small ones */
        tp.repeat = 3;
        mr_profile *p = NULL;
        mr_tune_stats st;
        mr_err err;
        mr_err_clear(&err);
        CHECK_MSG(mr_tune_model(m, &tp, &p, &st, &err) == MR_OK, "%s: %s", specs[k], err.msg);
        if (p) {
            const mr_profile_device *d = &p->device;
            CHECK(d->backend == MR_PROFILE_CUDA && d->units > 0 && d->sm_threads > 0 &&
                  d->sm_regs > 0 && d->sm_smem > 0 && d->sm_blocks > 0);
            CHECK(strncmp(d->key, "cuda_", 5) == 0 && strstr(d->key, "sm_fp32"));
            for (int s = 0; s < mr_model_n_steps(m); s++) {
                mr_step_info si;
                mr_model_step_info(m, s, &si);
                if (si.n_blocks > 0)
                    CHECK_MSG(mr_profile_find(p, s, 0) != NULL, "%s: step %d (%s) not tuned",
                              specs[k], s, si.op);
            }
            for (int i = 0; i < p->n_entries; i++) {
                const mr_profile_entry *e = &p->entries[i];
                for (int v = 0; v < e->n_variants; v++) {
                    const mr_profile_variant *pv = &e->variants[v];
                    int64_t full = (int64_t)pv->blocks_per_sm * d->units;
                    CHECK(pv->threads > 0 && pv->regs > 0 && pv->blocks_per_sm > 0);
                    CHECK(pv->full_blocks == (full < e->phase_blocks ? full : e->phase_blocks));
                    CHECK_MSG(pv->block_us > 0, "%s: step %d variant %d", specs[k], e->step, v);
                }
                for (int j = 0; j < e->n_points; j++)
                    CHECK(e->points[j].overhead_us > 0 && e->points[j].shard_us > 0);
                mr_profile_res all = {d->sm_threads, d->sm_regs, d->sm_smem, d->sm_blocks};
                int v, P;
                int64_t S;
                CHECK(mr_profile_shard(p, e->step, e->phase, &all, 0, &v, &P, &S) == 1);
            }
            check_rules(p);
            printf("tune: %s on %s: design space %lld -> %lld kept in %.1f s\n", specs[k], d->name,
                   (long long)st.candidates, (long long)st.kept, p->wall_s);
        }
        mr_profile_free(p);
        mr_model_destroy(m);
    }
    mr_runtime_destroy(rt);
}

/* ---------------------------------------------------------------------------------------- */
/* The command line                                                                         */

typedef mr_test_run result;

static result run_cli(const char *args) {
    return mr_test_run_cli(tmpdir, "", cli_path, args);
}

static void expect_fail(int line, const char *args, const char *needle) {
    result r = run_cli(args);
    mr_test_checks++;
    if (r.rc != 1 || !strstr(r.err, "miriam: error:") || !strstr(r.err, needle)) {
        mr_test_failures++;
        fprintf(stderr,
                "%s:%d: `miriam %s` should exit 1 with '%s'; exit %d\nstdout: %s\nstderr: %s\n",
                __FILE__, line, args, needle, r.rc, r.out, r.err);
    }
    free(r.out);
    free(r.err);
}

static void test_cli(void) {
    char cache[128], out_file[160], args[512];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir);
    snprintf(out_file, sizeof out_file, "%s/cifarnet.json", tmpdir);
    setenv("MIRIAM_CACHE_DIR", cache, 1);

    result r = run_cli("tune --help");
    CHECK(r.rc == 0 && strstr(r.out, "usage: miriam tune") && strstr(r.out, "--quick") &&
          strstr(r.out, "--repeat") && strstr(r.out, "-o FILE"));
    free(r.out);
    free(r.err);

    snprintf(args, sizeof args, "tune zoo:cifarnet --device cpu --threads 2 --quick -o '%s'",
             out_file);
    r = run_cli(args);
    CHECK_MSG(r.rc == 0, "exit %d: %s", r.rc, r.err);
    CHECK(strstr(r.out, "design space") && strstr(r.out, "total: 1 model") &&
          strstr(r.out, "wall time") && strstr(r.out, "profile: "));
    /* No progress bar when stderr is not a terminal. */
    CHECK_MSG(r.err[0] == '\0', "stderr: %s", r.err);
    free(r.out);
    free(r.err);

    /* The profile, in the cache under the model's hash and device key, and in -o FILE. */
    mr_runtime_params rp = mr_runtime_default_params();
    rp.backend = MR_BACKEND_CPU;
    rp.n_threads = 2;
    mr_runtime *rt = NULL;
    char msg[256];
    if (mr_runtime_create(&rp, &rt, msg, sizeof msg) != MR_OK) {
        CHECK_MSG(0, "%s", msg);
        return;
    }
    mr_model *m = NULL;
    mr_err err;
    mr_err_clear(&err);
    CHECK(mr_model_load(rt, "zoo:cifarnet", NULL, &m) == MR_OK);
    mr_profile *cached = NULL, *written = NULL;
    if (m) {
        CHECK_MSG(mr_profile_for_model(m, &cached, &err) == MR_OK, "%s", err.msg);
        CHECK_MSG(mr_profile_load(out_file, &written, &err) == MR_OK, "%s", err.msg);
    }
    if (cached && written) {
        char *a = NULL, *b = NULL;
        mr_profile_to_json(cached, &a, &err);
        mr_profile_to_json(written, &b, &err);
        CHECK(a && b && strcmp(a, b) == 0);
        free(a);
        free(b);
        CHECK(strcmp(cached->device.key, "cpu_2t") == 0 && cached->quick == 1);
        CHECK(strcmp(cached->model, "zoo:cifarnet") == 0);
        for (int s = 0; s < mr_model_n_steps(m); s++) {
            mr_step_info si;
            mr_model_step_info(m, s, &si);
            if (si.n_blocks <= 0) continue;
            const mr_profile_entry *e = mr_profile_find(cached, s, 0);
            CHECK_MSG(e && e->n_points > 0 && e->phase_blocks == si.n_blocks,
                      "step %d (%s) has no points", s, si.op);
            CHECK(mr_profile_block_us(cached, s, 0, 0) > 0);
        }
        check_rules(cached);
        char path[512];
        mr_profile_cache_path(cached->model_hash, "cpu_2t", path, sizeof path, &err);
        unlink(path);
    }
    mr_profile_free(cached);
    mr_profile_free(written);
    mr_model_destroy(m);
    mr_runtime_destroy(rt);
    unlink(out_file);
    rmdir(cache);

    /* Errors: exit 1 with a message, nothing written. */
    expect_fail(__LINE__, "tune", "no MODEL given");
    expect_fail(__LINE__, "tune zoo:nope --device cpu", "cannot load zoo:nope");
    expect_fail(__LINE__, "tune /nonexistent.onnx --device cpu", "cannot load /nonexistent.onnx");
    expect_fail(__LINE__, "tune zoo:cifarnet --device cpu --repeat 0", "--repeat");
    expect_fail(__LINE__, "tune zoo:cifarnet --device cpu --repeat", "--repeat");
    expect_fail(__LINE__, "tune zoo:cifarnet --bogus", "unknown option '--bogus'");
    expect_fail(__LINE__, "tune zoo:cifarnet --launch plain", "unknown option '--launch'");
    expect_fail(__LINE__, "tune zoo:cifarnet --device tpu", "--device expects");
    expect_fail(__LINE__, "tune zoo:cifarnet --threads 0", "--threads");
    expect_fail(__LINE__, "tune zoo:cifarnet -o", "-o expects a file name");
    expect_fail(__LINE__, "tune zoo:cifarnet zoo:lstm --device cpu -o x.json",
                "-o FILE takes one MODEL");
    /* A cache that cannot be written. */
    char blocker[160];
    snprintf(blocker, sizeof blocker, "%s/file", tmpdir);
    FILE *f = fopen(blocker, "w");
    if (f) fclose(f);
    char sub[200];
    snprintf(sub, sizeof sub, "%s/sub", blocker);
    setenv("MIRIAM_CACHE_DIR", sub, 1);
    expect_fail(__LINE__, "tune zoo:cifarnet --device cpu --quick --repeat 1",
                "cannot create directory");
    unlink(blocker);
    setenv("MIRIAM_CACHE_DIR", cache, 1);
    rmdir(cache);
}

int main(void) {
    cli_path = mr_test_env("MIRIAM_CLI", MIRIAM_BINARY_DIR "/miriam");
    if (access(cli_path, X_OK) != 0) {
        fprintf(stderr, "tune: the miriam executable '%s' is missing (build target miriam_cli)\n",
                cli_path);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/miriam-test-tune-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_prune();
    test_api();
    test_cuda();
    test_cli();
    rmdir(tmpdir);
    return mr_test_finish("tune");
}
