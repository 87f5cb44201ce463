/* Admission control (mr_task_params.admission): a critical task with a deadline is measured
 * alone at creation; a deadline below the measured solo latency is a warning through the log
 * callback (MR_ADMISSION_WARN), a refusal with MR_ERR_DEADLINE (MR_ADMISSION_REFUSE), or not
 * checked (MR_ADMISSION_OFF). On the CPU backend, and on CUDA when a GPU is present. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define IMPOSSIBLE_MS 0.001 /* no model of the zoo runs in a microsecond */
#define GENEROUS_MS   1e6

/* Messages the runtime logged, by level. */
typedef struct log_sink {
    pthread_mutex_t mu;
    int n[4];
    char last_warn[512];
} log_sink;

static void on_log(mr_log_level level, const char *msg, void *user) {
    log_sink *s = user;
    pthread_mutex_lock(&s->mu);
    if ((int)level >= 0 && (int)level < 4) s->n[level]++;
    if (level == MR_LOG_WARN) snprintf(s->last_warn, sizeof s->last_warn, "%s", msg);
    pthread_mutex_unlock(&s->mu);
}

static void sink_clear(log_sink *s) {
    pthread_mutex_lock(&s->mu);
    memset(s->n, 0, sizeof s->n);
    s->last_warn[0] = 0;
    pthread_mutex_unlock(&s->mu);
}

static mr_runtime *make_rt(mr_backend_kind backend, log_sink *sink, char *eb, size_t ebsize) {
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = backend;
    p.n_threads = 2;
    p.log_fn = on_log;
    p.log_user_data = sink;
    p.log_level = MR_LOG_WARN;
    mr_runtime *rt = NULL;
    if (mr_runtime_create(&p, &rt, eb, ebsize) != MR_OK) return NULL;
    return rt;
}

static mr_model *load(mr_runtime *rt, const char *name) {
    mr_model *m = NULL;
    if (mr_model_load_zoo(rt, name, NULL, &m) != MR_OK) {
        fprintf(stderr, "load %s: %s\n", name, mr_runtime_last_error(rt));
        exit(1);
    }
    return m;
}

static mr_task_params critical(const char *name, double deadline_ms, mr_admission a) {
    mr_task_params tp = mr_task_default_params();
    tp.name = name;
    tp.criticality = MR_TASK_CRITICAL;
    tp.deadline_ms = deadline_ms;
    tp.admission = a;
    return tp;
}

/* One request on t with non-zero inputs; returns its status and fills *res. */
static mr_status one_request(mr_model *m, mr_task *t, mr_request_result *res) {
    mr_tensor_info ii, oi;
    mr_model_input_info(m, 0, &ii);
    mr_model_output_info(m, 0, &oi);
    mr_tensor in = {ii.dtype, ii.ndim, {0}, NULL}, out = {oi.dtype, oi.ndim, {0}, NULL};
    memcpy(in.dims, ii.dims, sizeof in.dims);
    memcpy(out.dims, oi.dims, sizeof out.dims);
    mr_rng rng;
    mr_rng_seed(&rng, 5);
    in.data = mr_test_rand_floats(&rng, (size_t)mr_tensor_numel(&in), -1, 1);
    out.data = calloc((size_t)mr_tensor_numel(&out), sizeof(float));
    mr_request *r = NULL;
    mr_status st = mr_request_submit(t, 1, &in, 1, &out, NULL, NULL, &r);
    if (st == MR_OK) {
        st = mr_request_wait(r, res);
        mr_request_release(r);
    }
    free(in.data);
    free(out.data);
    return st;
}

static void test_names(void) {
    CHECK(strcmp(mr_status_str(MR_ERR_DEADLINE), "deadline cannot be met") == 0);
    mr_admission a;
    const mr_admission all[] = {MR_ADMISSION_WARN, MR_ADMISSION_REFUSE, MR_ADMISSION_OFF};
    for (int i = 0; i < 3; i++) {
        CHECK(mr_admission_parse(mr_admission_name(all[i]), &a) == MR_OK && a == all[i]);
    }
    CHECK(strcmp(mr_admission_name(MR_ADMISSION_REFUSE), "refuse") == 0);
    CHECK(strcmp(mr_admission_name((mr_admission)7), "invalid") == 0);
    CHECK(mr_admission_parse("strict", &a) == MR_ERR_INVALID_ARG);
    CHECK(mr_admission_parse(NULL, &a) == MR_ERR_INVALID_ARG);
    CHECK(mr_task_default_params().admission == MR_ADMISSION_WARN);
}

static void test_backend(mr_backend_kind backend) {
    const char *bk = mr_backend_name(backend);
    log_sink sink;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.mu, NULL);
    char eb[512] = "";
    mr_runtime *rt = make_rt(backend, &sink, eb, sizeof eb);
    if (!rt) {
        printf("admission: %s backend skipped: %s\n", bk, eb);
        pthread_mutex_destroy(&sink.mu);
        return;
    }
    mr_model *m = load(rt, "cifarnet");
    mr_task *t = NULL;
    mr_task_stats ts;

    /* WARN (the default): one warning naming the task, its solo latency and deadline. */
    mr_task_params tp = critical("camera", IMPOSSIBLE_MS, MR_ADMISSION_WARN);
    CHECK(mr_task_create(rt, m, &tp, &t) == MR_OK && t != NULL);
    CHECK_MSG(sink.n[MR_LOG_WARN] == 1 && sink.n[MR_LOG_ERROR] == 0, "%s: %d warnings, %d errors",
              bk, sink.n[MR_LOG_WARN], sink.n[MR_LOG_ERROR]);
    CHECK_MSG(strstr(sink.last_warn, "'camera'") && strstr(sink.last_warn, "0.001 ms") &&
                  strstr(sink.last_warn, "alone"),
              "%s: warning '%s'", bk, sink.last_warn);
    CHECK(mr_task_get_stats(t, &ts) == MR_OK);
    CHECK_MSG(ts.solo_ms > IMPOSSIBLE_MS && ts.admission_exceeded == 1, "%s: solo %g ms", bk,
              ts.solo_ms);
    printf("admission: %s: cifarnet alone %.3f ms\n", bk, ts.solo_ms);
    double solo = ts.solo_ms;
    /* The task works; its requests miss the deadline and are counted. */
    mr_request_result res;
    CHECK(one_request(m, t, &res) == MR_OK && res.deadline_missed == 1);
    mr_task_reset_stats(t); /* admission results survive a reset */
    CHECK(mr_task_get_stats(t, &ts) == MR_OK && ts.solo_ms == solo && ts.admission_exceeded == 1);
    CHECK(ts.completed == 0 && ts.deadline_misses == 0);
    mr_task_destroy(t);
    t = NULL;

    /* REFUSE: MR_ERR_DEADLINE with a message; no task; the model stays free. */
    sink_clear(&sink);
    tp = critical("lidar", IMPOSSIBLE_MS, MR_ADMISSION_REFUSE);
    mr_status st = mr_task_create(rt, m, &tp, &t);
    CHECK_STATUS(st, MR_ERR_DEADLINE, mr_runtime_last_error(rt), "'lidar' refused");
    CHECK(t == NULL);
    CHECK(strstr(mr_runtime_last_error(rt), "deadline of 0.001 ms") != NULL);
    CHECK(sink.n[MR_LOG_WARN] == 0 && sink.n[MR_LOG_ERROR] == 1);
    /* The runtime and the model are usable: another task on the same model runs. */
    tp = critical("lidar2", GENEROUS_MS, MR_ADMISSION_REFUSE);
    CHECK(mr_task_create(rt, m, &tp, &t) == MR_OK);
    CHECK(one_request(m, t, &res) == MR_OK && res.deadline_missed == 0);
    CHECK(mr_task_get_stats(t, &ts) == MR_OK && ts.completed == 1);
    /* A generous deadline passes silently, measured. */
    CHECK(ts.solo_ms > 0 && ts.admission_exceeded == 0);
    mr_model *m2 = load(rt, "cifarnet");
    mr_task *t2 = NULL;
    sink_clear(&sink);
    tp = critical("generous", GENEROUS_MS, MR_ADMISSION_WARN);
    CHECK(mr_task_create(rt, m2, &tp, &t2) == MR_OK);
    CHECK(sink.n[MR_LOG_WARN] == 0 && sink.n[MR_LOG_ERROR] == 0);
    CHECK(mr_task_get_stats(t2, &ts) == MR_OK && ts.solo_ms > 0 && ts.admission_exceeded == 0);
    mr_task_destroy(t2);
    mr_task_destroy(t);
    t = t2 = NULL;

    /* OFF: not measured, silent, even with an impossible deadline. */
    sink_clear(&sink);
    tp = critical("off", IMPOSSIBLE_MS, MR_ADMISSION_OFF);
    CHECK(mr_task_create(rt, m, &tp, &t) == MR_OK);
    CHECK(mr_task_get_stats(t, &ts) == MR_OK && ts.solo_ms == 0 && ts.admission_exceeded == 0);
    CHECK(sink.n[MR_LOG_WARN] == 0);
    mr_task_destroy(t);
    t = NULL;

    /* Normal tasks and critical tasks without a deadline are not measured. */
    tp = critical("normal", IMPOSSIBLE_MS, MR_ADMISSION_REFUSE);
    tp.criticality = MR_TASK_NORMAL;
    CHECK(mr_task_create(rt, m, &tp, &t) == MR_OK);
    CHECK(mr_task_get_stats(t, &ts) == MR_OK && ts.solo_ms == 0);
    mr_task_destroy(t);
    t = NULL;
    tp = critical("no-deadline", 0, MR_ADMISSION_REFUSE);
    CHECK(mr_task_create(rt, m, &tp, &t) == MR_OK);
    CHECK(mr_task_get_stats(t, &ts) == MR_OK && ts.solo_ms == 0);
    mr_task_destroy(t);
    t = NULL;
    CHECK(sink.n[MR_LOG_WARN] == 0);

    /* Out-of-range values are refused before anything runs. */
    const int bad[] = {-1, 3, 1000};
    for (int i = 0; i < 3; i++) {
        tp = critical("bad", IMPOSSIBLE_MS, (mr_admission)bad[i]);
        st = mr_task_create(rt, m, &tp, &t);
        CHECK_STATUS(st, MR_ERR_INVALID_ARG, mr_runtime_last_error(rt), "admission");
        CHECK(t == NULL);
    }
    CHECK(sink.n[MR_LOG_WARN] == 0);

    mr_model_destroy(m2);
    mr_model_destroy(m);
    mr_runtime_destroy(rt);
    pthread_mutex_destroy(&sink.mu);
}

int main(void) {
    test_names();
    test_backend(MR_BACKEND_CPU);
    test_backend(MR_BACKEND_CUDA);
    return mr_test_finish("admission");
}
