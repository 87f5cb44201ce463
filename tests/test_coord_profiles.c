/* The coordinator's use of tuned profiles (mr_runtime_params.profiles, docs/TUNING.md): which
 * profile a task gets under each setting, what is said about it, what a bad cached file does,
 * and what the engines take from it: the CPU engine's block-duration estimates start at the
 * measured values; on a GPU (skipped without one), the CUDA engine's elastic shards beside
 * critical kernels come from the profile and the outputs stay exact. Profiles are tuned here,
 * into a private cache directory. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord/coord.h"
#include "elastic/profile.h"
#include "elastic/tune.h"
#include "model.h"
#include "testutil.h"

static char cache_dir[64];

/* Log messages of one runtime, concatenated. */
typedef struct logbuf {
    pthread_mutex_t mu;
    char text[8192];
    int n_warn;
} logbuf;

static void log_fn(mr_log_level level, const char *msg, void *user) {
    logbuf *b = user;
    pthread_mutex_lock(&b->mu);
    size_t len = strlen(b->text);
    snprintf(b->text + len, sizeof b->text - len, "%s\n", msg);
    if (level == MR_LOG_WARN) b->n_warn++;
    pthread_mutex_unlock(&b->mu);
}

static void log_clear(logbuf *b) {
    pthread_mutex_lock(&b->mu);
    b->text[0] = '\0';
    b->n_warn = 0;
    pthread_mutex_unlock(&b->mu);
}

static mr_runtime *make_rt(mr_backend_kind backend, mr_profile_use use, logbuf *lb) {
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = backend;
    p.n_threads = 2;
    p.policy = MR_POLICY_ELASTIC;
    p.profiles = use;
    p.log_fn = log_fn;
    p.log_user_data = lb;
    p.log_level = MR_LOG_INFO;
    mr_runtime *rt = NULL;
    char eb[256];
    if (mr_runtime_create(&p, &rt, eb, sizeof eb) != MR_OK) return NULL;
    return rt;
}

static mr_model *load(mr_runtime *rt, const char *name) {
    mr_model *m = NULL;
    CHECK_MSG(mr_model_load_zoo(rt, name, NULL, &m) == MR_OK, "%s: %s", name,
              mr_runtime_last_error(rt));
    return m;
}

static mr_task *task(mr_runtime *rt, mr_model *m, mr_criticality crit, mr_status want) {
    mr_task_params tp = mr_task_default_params();
    tp.criticality = crit;
    mr_task *t = NULL;
    mr_status st = mr_task_create(rt, m, &tp, &t);
    CHECK_MSG(st == want, "mr_task_create: %s, expected %s (%s)", mr_status_str(st),
              mr_status_str(want), mr_runtime_last_error(rt));
    return t;
}

/* Tunes m (which backs no task) and caches the profile; returns it (caller frees). */
static mr_profile *tune_and_cache(mr_model *m, int repeat, char *path, size_t size) {
    mr_tune_params tp = mr_tune_default_params();
    tp.quick = 1;
    tp.repeat = repeat;
    mr_profile *p = NULL;
    mr_err err;
    mr_err_clear(&err);
    CHECK_MSG(mr_tune_model(m, &tp, &p, NULL, &err) == MR_OK, "%s", err.msg);
    if (p) CHECK_MSG(mr_profile_save_cached(p, path, size, &err) == MR_OK, "%s", err.msg);
    return p;
}

/* Inputs and reference outputs of a model (random inputs, a synchronous run). */
typedef struct io {
    mr_tensor in, out;
    float *ref;
    size_t out_bytes;
} io;

static void io_make(mr_model *m, io *x, uint64_t seed) {
    mr_tensor_info ii, oi;
    mr_model_input_info(m, 0, &ii);
    mr_model_output_info(m, 0, &oi);
    memset(x, 0, sizeof *x);
    x->in.dtype = x->out.dtype = MR_DTYPE_F32;
    x->in.ndim = ii.ndim;
    x->out.ndim = oi.ndim;
    memcpy(x->in.dims, ii.dims, sizeof ii.dims);
    memcpy(x->out.dims, oi.dims, sizeof oi.dims);
    int64_t ni = mr_tensor_numel(&x->in), no = mr_tensor_numel(&x->out);
    x->in.data = malloc((size_t)ni * sizeof(float));
    x->out.data = malloc((size_t)no * sizeof(float));
    x->ref = malloc((size_t)no * sizeof(float));
    x->out_bytes = (size_t)no * sizeof(float);
    mr_rng rng;
    mr_rng_seed(&rng, seed);
    mr_rng_fill(&rng, x->in.data, ni, -1.0f, 1.0f);
    CHECK(mr_model_run(m, 1, &x->in, 1, &x->out) == MR_OK);
    memcpy(x->ref, x->out.data, x->out_bytes);
}

static void io_free(io *x) {
    free(x->in.data);
    free(x->out.data);
    free(x->ref);
}

/* rounds x (one normal request, then `crit_per_round` critical ones back to back while it
 * runs); every output must equal the synchronous run's bit for bit. */
static int run_rounds(mr_task *tn, io *xn, mr_task *tc, io *xc, int rounds, int crit_per_round) {
    int bad = 0;
    for (int r = 0; r < rounds; r++) {
        mr_request *a = NULL;
        memset(xn->out.data, 0xff, xn->out_bytes);
        CHECK(mr_request_submit(tn, 1, &xn->in, 1, &xn->out, NULL, NULL, &a) == MR_OK);
        for (int k = 0; k < crit_per_round; k++) {
            mr_request *b = NULL;
            memset(xc->out.data, 0xff, xc->out_bytes);
            CHECK(mr_request_submit(tc, 1, &xc->in, 1, &xc->out, NULL, NULL, &b) == MR_OK);
            CHECK(b && mr_request_wait(b, NULL) == MR_OK);
            mr_request_release(b);
            bad += memcmp(xc->out.data, xc->ref, xc->out_bytes) != 0;
        }
        CHECK(a && mr_request_wait(a, NULL) == MR_OK);
        mr_request_release(a);
        bad += memcmp(xn->out.data, xn->ref, xn->out_bytes) != 0;
    }
    return bad;
}

static void test_cpu(void) {
    logbuf lb;
    memset(&lb, 0, sizeof lb);
    pthread_mutex_init(&lb.mu, NULL);
    mr_runtime *rt = make_rt(MR_BACKEND_CPU, MR_PROFILES_AUTO, &lb);
    mr_runtime *req = make_rt(MR_BACKEND_CPU, MR_PROFILES_REQUIRE, &lb);
    mr_runtime *off = make_rt(MR_BACKEND_CPU, MR_PROFILES_OFF, &lb);
    CHECK(rt && req && off);
    if (!rt || !req || !off) goto out;
    mr_model *m = load(rt, "cifarnet"), *mq = load(req, "cifarnet"), *mo = load(off, "cifarnet");
    if (!m || !mq || !mo) goto out;
    int ns = mr_model_n_steps(m);

    /* No profile yet: AUTO says so once and estimates start unknown; REQUIRE refuses a normal
     * task (naming the remedy) and stays usable; a critical task needs none. */
    log_clear(&lb);
    mr_task *t = task(rt, m, MR_TASK_NORMAL, MR_OK);
    CHECK_MSG(strstr(lb.text, "analytic estimate") && lb.n_warn == 0, "log: %s", lb.text);
    for (int s = 0; t && s < ns; s++) CHECK(mr_cpu_engine_estimate_ms(t, s) == 0.0);
    mr_task_destroy(t);
    t = task(req, mq, MR_TASK_NORMAL, MR_ERR_NOT_FOUND);
    CHECK(t == NULL && strstr(mr_runtime_last_error(req), "miriam tune"));
    t = task(req, mq, MR_TASK_CRITICAL, MR_OK);
    mr_task_destroy(t);

    /* Tuned: every runtime on this device finds it by the model's hash. */
    char path[512] = "";
    mr_profile *p = tune_and_cache(m, 1, path, sizeof path);
    if (!p) goto out;
    CHECK(strncmp(path, cache_dir, strlen(cache_dir)) == 0);
    log_clear(&lb);
    t = task(rt, m, MR_TASK_NORMAL, MR_OK);
    CHECK_MSG(strstr(lb.text, "tuned profile"), "log: %s", lb.text);
    int seeded = 0;
    for (int s = 0; t && s < ns; s++) {
        double us = mr_profile_block_us(p, s, 0, 0);
        if (us > 0) {
            CHECK_MSG(mr_cpu_engine_estimate_ms(t, s) == us / 1000.0, "step %d: %g ms, tuned %g us",
                      s, mr_cpu_engine_estimate_ms(t, s), us);
            seeded++;
        }
    }
    CHECK(seeded > 0);
    mr_task_destroy(t);
    t = task(req, mq, MR_TASK_NORMAL, MR_OK);
    CHECK(t && mr_cpu_engine_estimate_ms(t, 0) > 0);
    mr_task_destroy(t);
    log_clear(&lb);
    t = task(off, mo, MR_TASK_NORMAL, MR_OK);
    CHECK_MSG(!strstr(lb.text, "profile"), "log: %s", lb.text);
    for (int s = 0; t && s < ns; s++) CHECK(mr_cpu_engine_estimate_ms(t, s) == 0.0);
    mr_task_destroy(t);

    /* Seeded estimates in use: a critical task beside the tuned normal one, outputs exact. */
    {
        mr_model *mc = load(rt, "squeezenet1_1");
        io xn, xc;
        io_make(m, &xn, 1);
        io_make(mc, &xc, 2);
        mr_task *tn = task(rt, m, MR_TASK_NORMAL, MR_OK);
        mr_task *tc = task(rt, mc, MR_TASK_CRITICAL, MR_OK);
        if (tn && tc) CHECK(run_rounds(tn, &xn, tc, &xc, 6, 2) == 0);
        mr_task_destroy(tn);
        mr_task_destroy(tc);
        io_free(&xn);
        io_free(&xc);
        mr_model_destroy(mc);
    }

    /* A damaged cached file: AUTO warns and goes on analytic, REQUIRE refuses. */
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{\"version\": 1,", f);
        fclose(f);
    }
    log_clear(&lb);
    t = task(rt, m, MR_TASK_NORMAL, MR_OK);
    CHECK_MSG(lb.n_warn == 1 && strstr(lb.text, "analytic estimate"), "log: %s", lb.text);
    CHECK(t && mr_cpu_engine_estimate_ms(t, 0) == 0.0);
    mr_task_destroy(t);
    t = task(req, mq, MR_TASK_NORMAL, MR_ERR_PARSE);
    CHECK(t == NULL);
    unlink(path);
    mr_profile_free(p);
out:
    mr_runtime_destroy(rt);
    mr_runtime_destroy(req);
    mr_runtime_destroy(off);
    pthread_mutex_destroy(&lb.mu);
}

/* On a GPU: shards of a tuned normal task beside critical kernels. */
static void test_cuda(void) {
    logbuf lb;
    memset(&lb, 0, sizeof lb);
    pthread_mutex_init(&lb.mu, NULL);
    mr_runtime *rt = make_rt(MR_BACKEND_CUDA, MR_PROFILES_AUTO, &lb);
    if (!rt) {
        printf("coord_profiles: CUDA part skipped (no usable GPU)\n");
        pthread_mutex_destroy(&lb.mu);
        return;
    }
    mr_model *mn = load(rt, "resnet18"), *mc = load(rt, "cifarnet");
    if (mn && mc) {
        char path[512];
        mr_profile *p = tune_and_cache(mn, 2, path, sizeof path);
        io xn, xc;
        io_make(mn, &xn, 3);
        io_make(mc, &xc, 4);
        log_clear(&lb);
        mr_task *tn = task(rt, mn, MR_TASK_NORMAL, MR_OK);
        mr_task *tc = task(rt, mc, MR_TASK_CRITICAL, MR_OK);
        CHECK_MSG(strstr(lb.text, "tuned profile"), "log: %s", lb.text);
        if (tn && tc) {
            CHECK(run_rounds(tn, &xn, tc, &xc, 20, 3) == 0);
            mr_coord *c = tn->c;
            pthread_mutex_lock(&c->mu);
            int64_t ns = c->n_shards, nt = c->n_tuned_shards, ny = c->n_yields;
            pthread_mutex_unlock(&c->mu);
            printf("coord_profiles: cuda: %lld yields, %lld shards, %lld from the profile\n",
                   (long long)ny, (long long)ns, (long long)nt);
            /* Every step of the normal model is tuned: no shard comes from the estimate. */
            CHECK(ny > 0 && nt > 0 && nt == ns);
        }
        mr_task_destroy(tn);
        mr_task_destroy(tc);
        io_free(&xn);
        io_free(&xc);
        if (p) unlink(path);
        mr_profile_free(p);
    }
    mr_runtime_destroy(rt);
    pthread_mutex_destroy(&lb.mu);
}

int main(void) {
    snprintf(cache_dir, sizeof cache_dir, "/tmp/miriam-test-profiles-XXXXXX");
    if (!mkdtemp(cache_dir)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("MIRIAM_CACHE_DIR", cache_dir, 1);
    test_cpu();
    test_cuda();
    rmdir(cache_dir);
    return mr_test_finish("coord_profiles");
}
