/* The public C API of include/miriam.h: status and dtype helpers, runtime creation and its
 * errors, logging, models built by hand with the graph API (information, statistics, plan
 * steps, inference against a naive reference, every mr_model_run error), loading errors, the
 * zoo, concurrent runs and several runtimes side by side. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/ir.h"
#include "miriam.h"
#include "model.h"
#include "testutil.h"

/* A Gemm of at most 64 inputs accumulates at most 64 float products of values in [-1, 1]:
 * the float32 result differs from the double reference by well under 1e-5 (64 * 2^-24 * 64
 * in the worst case is 2.4e-4 relative to the sum of |products|, far less in practice). The
 * tolerance is loose enough for any summation order a blocked kernel may use. */
#define TOL_ABS 1e-4f
#define TOL_REL 1e-4f

/* ---------------------------------------------------------------------------------------- */
/* Status, dtype, backend helpers                                                           */

static void test_status_strings(void) {
    const char *seen[MR_ERR_INTERNAL + 1];
    for (int s = MR_OK; s <= MR_ERR_INTERNAL; s++) {
        const char *str = mr_status_str((mr_status)s);
        CHECK_MSG(str && str[0], "status %d has no string", s);
        seen[s] = str ? str : "";
        for (int k = 0; k < s; k++)
            CHECK_MSG(strcmp(seen[k], seen[s]) != 0, "status %d and %d share '%s'", k, s, seen[s]);
    }
    const char *unknown = mr_status_str((mr_status)999);
    CHECK(unknown && unknown[0]);
}

static void test_dtypes(void) {
    CHECK(strcmp(mr_dtype_name(MR_DTYPE_F32), "float32") == 0);
    CHECK(strcmp(mr_dtype_name(MR_DTYPE_I64), "int64") == 0);
    CHECK(strcmp(mr_dtype_name(MR_DTYPE_I32), "int32") == 0);
    CHECK(strcmp(mr_dtype_name(MR_DTYPE_INVALID), "invalid") == 0);
    CHECK(strcmp(mr_dtype_name((mr_dtype)42), "invalid") == 0);
    CHECK(mr_dtype_size(MR_DTYPE_F32) == 4);
    CHECK(mr_dtype_size(MR_DTYPE_I64) == 8);
    CHECK(mr_dtype_size(MR_DTYPE_I32) == 4);
    CHECK(mr_dtype_size(MR_DTYPE_INVALID) == 0);
    CHECK(mr_dtype_size((mr_dtype)42) == 0);

    mr_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = MR_DTYPE_F32;
    CHECK(mr_tensor_numel(&t) == 1); /* a scalar */
    t.ndim = 3;
    t.dims[0] = 2, t.dims[1] = 3, t.dims[2] = 4;
    CHECK(mr_tensor_numel(&t) == 24);
    t.dims[1] = 0;
    CHECK(mr_tensor_numel(&t) == 0);
    t.dims[1] = -1;
    CHECK(mr_tensor_numel(&t) == -1);
    t.dims[0] = INT64_MAX / 2, t.dims[1] = 3;
    CHECK(mr_tensor_numel(&t) == -1);
    t.ndim = MR_MAX_DIMS + 1;
    CHECK(mr_tensor_numel(&t) == -1);
    CHECK(mr_tensor_numel(NULL) == -1);
    mr_tensor_free_data(NULL); /* no-op */
}

static void test_backend_names(void) {
    const mr_backend_kind kinds[] = {MR_BACKEND_AUTO, MR_BACKEND_CPU, MR_BACKEND_CUDA};
    const char *names[] = {"auto", "cpu", "cuda"};
    for (int i = 0; i < 3; i++) {
        CHECK(strcmp(mr_backend_name(kinds[i]), names[i]) == 0);
        mr_backend_kind k = (mr_backend_kind)-1;
        CHECK(mr_backend_parse(names[i], &k) == MR_OK);
        CHECK(k == kinds[i]);
    }
    mr_backend_kind k = MR_BACKEND_CPU;
    CHECK(mr_backend_parse("gpu", &k) == MR_ERR_INVALID_ARG);
    CHECK(mr_backend_parse("", &k) == MR_ERR_INVALID_ARG);
    CHECK(mr_backend_parse("CPU ", &k) == MR_ERR_INVALID_ARG);
    CHECK(mr_backend_parse(NULL, &k) == MR_ERR_INVALID_ARG);
    CHECK(mr_backend_parse("cpu", NULL) == MR_ERR_INVALID_ARG);
    CHECK(k == MR_BACKEND_CPU); /* untouched by the failures */
    const char *bad = mr_backend_name((mr_backend_kind)7);
    CHECK(bad && bad[0]);

    mr_precision pr = MR_PRECISION_FP32;
    CHECK(mr_precision_parse("tf32", &pr) == MR_OK && pr == MR_PRECISION_TF32);
    CHECK(mr_precision_parse("fp32", &pr) == MR_OK && pr == MR_PRECISION_FP32);
    CHECK(mr_precision_parse("fp16", &pr) == MR_ERR_INVALID_ARG && pr == MR_PRECISION_FP32);
    CHECK(mr_precision_parse(NULL, &pr) == MR_ERR_INVALID_ARG);
    CHECK(strcmp(mr_precision_name(MR_PRECISION_TF32), "tf32") == 0);
    CHECK(strcmp(mr_precision_name((mr_precision)9), "invalid") == 0);
    /* An out-of-range precision is refused at creation, with the reason in errbuf. */
    mr_runtime_params rp = mr_runtime_default_params();
    CHECK(rp.precision == MR_PRECISION_FP32);
    rp.backend = MR_BACKEND_CPU;
    rp.precision = (mr_precision)5;
    mr_runtime *rt = NULL;
    char eb[256];
    CHECK(mr_runtime_create(&rp, &rt, eb, sizeof eb) == MR_ERR_INVALID_ARG && !rt);
    CHECK(strstr(eb, "precision 5") != NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Runtime                                                                                  */

static void test_runtime_params(void) {
    mr_runtime_params p = mr_runtime_default_params();
    CHECK(p.backend == MR_BACKEND_AUTO);
    CHECK(p.n_threads == 0);
    CHECK(p.gpu == 0);
    CHECK(p.log_fn == NULL);
    CHECK(p.log_user_data == NULL);
    CHECK(p.log_level == MR_LOG_WARN);

    mr_model_params mp = mr_model_default_params();
    CHECK(mp.default_dim == 1);
    CHECK(mp.optimize == 1);

    char eb[256];
    mr_runtime *rt = (mr_runtime *)&eb; /* must be reset to NULL */
    CHECK(mr_runtime_create(NULL, &rt, eb, sizeof eb) == MR_OK);
    CHECK(rt != NULL);
    CHECK(eb[0] == '\0');
    CHECK(mr_runtime_backend(rt) != MR_BACKEND_AUTO);
    if (mr_runtime_backend(rt) == MR_BACKEND_CPU) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        CHECK(mr_runtime_n_threads(rt) >= 1);
        if (cores > 0 && cores <= 256) CHECK(mr_runtime_n_threads(rt) == (int)cores);
    }
    CHECK(strcmp(mr_runtime_last_error(rt), "") == 0);
    mr_runtime_destroy(rt);

    /* Invalid parameters: *out is NULL and errbuf says why. */
    struct {
        int n_threads, gpu, log_level;
        const char *needle;
    } bad[] = {
        {-1, 0, MR_LOG_WARN, "n_threads"},     {-100, 0, MR_LOG_WARN, "n_threads"},
        {0, -1, MR_LOG_WARN, "gpu"},           {0, 0, -1, "log_level"},
        {0, 0, MR_LOG_DEBUG + 1, "log_level"}, {0, 0, 1000, "log_level"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = mr_runtime_default_params();
        p.n_threads = bad[i].n_threads;
        p.gpu = bad[i].gpu;
        p.log_level = (mr_log_level)bad[i].log_level;
        rt = (mr_runtime *)&eb;
        memset(eb, 'x', sizeof eb);
        eb[sizeof eb - 1] = '\0';
        mr_status st = mr_runtime_create(&p, &rt, eb, sizeof eb);
        CHECK_STATUS(st, MR_ERR_INVALID_ARG, eb, bad[i].needle);
        CHECK(rt == NULL);
        /* A NULL or tiny errbuf is fine too. */
        CHECK(mr_runtime_create(&p, &rt, NULL, 0) == MR_ERR_INVALID_ARG);
        char tiny[4];
        CHECK(mr_runtime_create(&p, &rt, tiny, sizeof tiny) == MR_ERR_INVALID_ARG);
        CHECK(strlen(tiny) < sizeof tiny);
    }
    p = mr_runtime_default_params();
    p.backend = (mr_backend_kind)17;
    CHECK_STATUS(mr_runtime_create(&p, &rt, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, NULL);
    CHECK(rt == NULL);
    CHECK_STATUS(mr_runtime_create(NULL, NULL, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, NULL);

    /* CUDA: this build has no CUDA backend, which must be a clear MR_ERR_BACKEND. Once the
     * backend exists, success on a machine with a GPU is also right. */
    p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CUDA;
    mr_status st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    if (st == MR_OK) {
        CHECK(mr_runtime_backend(rt) == MR_BACKEND_CUDA);
        CHECK(mr_runtime_n_threads(rt) == 0);
        mr_runtime_destroy(rt);
    } else {
        CHECK_STATUS(st, MR_ERR_BACKEND, eb, NULL);
        CHECK_MSG(strcasestr(eb, "cuda") != NULL, "message '%s' does not name CUDA", eb);
        CHECK(rt == NULL);
    }

    /* n_threads is honoured. */
    for (int n = 1; n <= 4; n++) {
        p = mr_runtime_default_params();
        p.backend = MR_BACKEND_CPU;
        p.n_threads = n;
        CHECK(mr_runtime_create(&p, &rt, eb, sizeof eb) == MR_OK);
        CHECK(mr_runtime_backend(rt) == MR_BACKEND_CPU);
        CHECK(mr_runtime_n_threads(rt) == n);
        mr_runtime_destroy(rt);
    }

    mr_runtime_destroy(NULL);
    mr_model_destroy(NULL);
    CHECK(mr_runtime_backend(NULL) == MR_BACKEND_AUTO);
    CHECK(mr_runtime_n_threads(NULL) == 0);
    CHECK(mr_runtime_last_error(NULL) != NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Hand-built models                                                                        */

/* y = Relu(x W^T + b) with x [m,k], W [n,k] (transB=1), b [n]; weights from `seed`. */
typedef struct fc_model {
    int64_t m, k, n;
    float *w, *b;
} fc_model;

static void fc_init(fc_model *f, int64_t m, int64_t k, int64_t n, uint64_t seed) {
    f->m = m, f->k = k, f->n = n;
    f->w = malloc(sizeof(float) * (size_t)(n * k));
    f->b = malloc(sizeof(float) * (size_t)n);
    mr_rng r;
    mr_rng_seed(&r, seed);
    mr_rng_fill(&r, f->w, n * k, -1.0f, 1.0f);
    mr_rng_fill(&r, f->b, n, -0.5f, 0.5f);
}

static void fc_free(fc_model *f) {
    free(f->w);
    free(f->b);
}

/* Naive reference in double. */
static void fc_ref(const fc_model *f, const float *x, float *y) {
    for (int64_t i = 0; i < f->m; i++)
        for (int64_t j = 0; j < f->n; j++) {
            double s = f->b[j];
            for (int64_t p = 0; p < f->k; p++)
                s += (double)x[i * f->k + p] * (double)f->w[j * f->k + p];
            y[i * f->n + j] = (float)(s > 0 ? s : 0);
        }
}

static int add_io(int **list, int *n, int t) {
    int *grown = realloc(*list, sizeof(int) * (size_t)(*n + 1));
    if (!grown) return -1;
    *list = grown;
    grown[(*n)++] = t;
    return 0;
}

static int add_input(mr_graph *g, const char *name, mr_dtype dt, int ndim, const int64_t *dims,
                     mr_err *err) {
    int t = mr_graph_add_tensor(g, name, err);
    if (t < 0 || add_io(&g->inputs, &g->n_inputs, t)) return -1;
    mr_tensor_desc *d = &g->tensors[t];
    d->dtype = dt;
    d->ndim = ndim;
    for (int i = 0; i < ndim; i++) d->dims[i] = dims[i];
    d->is_input = 1;
    return t;
}

static int add_output(mr_graph *g, int t) {
    if (add_io(&g->outputs, &g->n_outputs, t)) return -1;
    g->tensors[t].is_output = 1;
    return 0;
}

/* x -> Gemm(W, b, transB=1) "fc" -> h -> Relu "act" -> y. `wk` lets a test declare W with a
 * different inner size than x to make shape inference fail. */
static mr_graph *fc_graph(const fc_model *f, int64_t wk) {
    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = mr_graph_create(&err);
    if (!g) return NULL;
    g->opset = 13;
    int64_t xd[2] = {f->m, f->k}, wd[2] = {f->n, wk}, bd[1] = {f->n};
    float *w = calloc((size_t)(f->n * wk), sizeof(float));
    for (int64_t j = 0; j < f->n; j++)
        for (int64_t p = 0; p < wk && p < f->k; p++) w[j * wk + p] = f->w[j * f->k + p];
    int x = add_input(g, "x", MR_DTYPE_F32, 2, xd, &err);
    int wt = mr_graph_add_const(g, "W", MR_DTYPE_F32, 2, wd, w, &err);
    int bt = mr_graph_add_const(g, "b", MR_DTYPE_F32, 1, bd, f->b, &err);
    int h = mr_graph_add_tensor(g, "h", &err);
    int y = mr_graph_add_tensor(g, "y", &err);
    free(w);
    if (x < 0 || wt < 0 || bt < 0 || h < 0 || y < 0) goto fail;
    int gin[3] = {x, wt, bt};
    int gemm = mr_graph_add_node(g, "fc", "Gemm", 3, gin, 1, &h, &err);
    if (gemm < 0 || mr_node_set_int(g, gemm, "transB", 1, &err) != MR_OK) goto fail;
    if (mr_graph_add_node(g, "act", "Relu", 1, &h, 1, &y, &err) < 0) goto fail;
    if (add_output(g, y)) goto fail;
    return g;
fail:
    fprintf(stderr, "fc_graph: %s\n", err.msg);
    mr_graph_destroy(g);
    return NULL;
}

static mr_model *fc_load(mr_runtime *rt, const fc_model *f, int optimize) {
    mr_model_params mp = mr_model_default_params();
    mp.optimize = optimize;
    mr_model *m = NULL;
    mr_status st = mr_model_from_graph(rt, fc_graph(f, f->k), &mp, &m);
    CHECK_MSG(st == MR_OK, "mr_model_from_graph: %s", mr_runtime_last_error(rt));
    return st == MR_OK ? m : NULL;
}

static mr_tensor make_tensor(mr_dtype dt, int ndim, const int64_t *dims, void *data) {
    mr_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) t.dims[i] = dims[i];
    t.data = data;
    return t;
}

/* Runs `m` on x and compares with the reference; returns 1 when it matched. */
static int fc_check_run(mr_model *m, const fc_model *f, const float *x, float *y) {
    int64_t xd[2] = {f->m, f->k}, yd[2] = {f->m, f->n};
    mr_tensor in = make_tensor(MR_DTYPE_F32, 2, xd, (void *)x);
    mr_tensor out = make_tensor(MR_DTYPE_F32, 2, yd, y);
    memset(y, 0xff, sizeof(float) * (size_t)(f->m * f->n)); /* NaN: stale data shows */
    if (mr_model_run(m, 1, &in, 1, &out) != MR_OK) return 0;
    float *ref = malloc(sizeof(float) * (size_t)(f->m * f->n));
    fc_ref(f, x, ref);
    double max_abs;
    int64_t worst;
    int ok = mr_allclose(y, ref, f->m * f->n, TOL_REL, TOL_ABS, &max_abs, &worst);
    if (!ok)
        fprintf(stderr, "fc run: max abs diff %g at %lld (got %g, want %g)\n", max_abs,
                (long long)worst, y[worst], ref[worst]);
    free(ref);
    return ok;
}

static void test_model_basics(void) {
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CPU;
    p.n_threads = 2;
    mr_runtime *rt;
    char eb[256];
    if (mr_runtime_create(&p, &rt, eb, sizeof eb) != MR_OK) {
        CHECK_MSG(0, "runtime: %s", eb);
        return;
    }
    fc_model f;
    fc_init(&f, 1, 4, 3, 7);
    mr_model *m = fc_load(rt, &f, 1);
    if (!m) {
        fc_free(&f);
        mr_runtime_destroy(rt);
        return;
    }

    /* Information. */
    CHECK(mr_model_n_inputs(m) == 1);
    CHECK(mr_model_n_outputs(m) == 1);
    mr_tensor_info ti;
    CHECK(mr_model_input_info(m, 0, &ti) == MR_OK);
    CHECK(strcmp(ti.name, "x") == 0);
    CHECK(ti.dtype == MR_DTYPE_F32);
    CHECK(ti.ndim == 2 && ti.dims[0] == 1 && ti.dims[1] == 4);
    CHECK(mr_model_output_info(m, 0, &ti) == MR_OK);
    CHECK(strcmp(ti.name, "y") == 0);
    CHECK(ti.dtype == MR_DTYPE_F32);
    CHECK(ti.ndim == 2 && ti.dims[0] == 1 && ti.dims[1] == 3);

    mr_model_stats s;
    CHECK(mr_model_get_stats(m, &s) == MR_OK);
    CHECK_MSG(s.n_params == 4 * 3 + 3, "n_params %lld", (long long)s.n_params);
    CHECK(s.flops > 0);
    /* 2*M*N*K for the product; the bias and ReLU add a little on top. */
    CHECK_MSG(s.flops >= 2 * 1 * 3 * 4, "flops %lld", (long long)s.flops);
    CHECK(s.arena_bytes > 0);
    CHECK(s.arena_bytes >= 4 * sizeof(float)); /* at least x */
    CHECK(s.largest_tensor >= 4 * sizeof(float));
    CHECK(s.weight_bytes == 15 * sizeof(float));
    CHECK(s.n_nodes == 2);
    CHECK(s.n_steps == 1); /* Relu fused into the Gemm epilogue */
    CHECK(s.n_blocks >= 1);

    CHECK(mr_model_n_steps(m) == 1);
    mr_step_info si;
    CHECK(mr_model_step_info(m, 0, &si) == MR_OK);
    CHECK_MSG(strcmp(si.op, "Gemm+Relu") == 0, "step op '%s'", si.op);
    CHECK(strcmp(si.name, "fc") == 0);
    CHECK(strcmp(si.output, "y") == 0);
    CHECK(si.n_blocks >= 1);
    CHECK(si.flops > 0);

    const mr_graph *g = mr_model_graph(m);
    CHECK(g != NULL);
    CHECK(mr_model_graph(NULL) == NULL);

    /* Inference. */
    mr_rng r;
    mr_rng_seed(&r, 11);
    float x[4], y[3];
    mr_rng_fill(&r, x, 4, -1.0f, 1.0f);
    CHECK(fc_check_run(m, &f, x, y));

    /* Errors, each followed by a good run. */
    int64_t xd[2] = {1, 4}, yd[2] = {1, 3};
    mr_tensor in = make_tensor(MR_DTYPE_F32, 2, xd, x);
    mr_tensor out = make_tensor(MR_DTYPE_F32, 2, yd, y);
    mr_tensor two_in[2] = {in, in};

    CHECK_STATUS(mr_model_run(m, 0, &in, 1, &out), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "1 input");
    CHECK(fc_check_run(m, &f, x, y));
    CHECK_STATUS(mr_model_run(m, 2, two_in, 1, &out), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "got 2");
    CHECK(fc_check_run(m, &f, x, y));
    CHECK_STATUS(mr_model_run(m, 1, &in, 0, &out), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "output");
    CHECK(fc_check_run(m, &f, x, y));
    CHECK_STATUS(mr_model_run(m, 1, NULL, 1, &out), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "NULL");
    CHECK_STATUS(mr_model_run(m, 1, &in, 1, NULL), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "NULL");
    CHECK(fc_check_run(m, &f, x, y));
    CHECK(mr_model_run(NULL, 1, &in, 1, &out) == MR_ERR_INVALID_ARG);

    mr_tensor bad = in;
    bad.data = NULL;
    CHECK_STATUS(mr_model_run(m, 1, &bad, 1, &out), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "'x'");
    CHECK(fc_check_run(m, &f, x, y));
    bad = out;
    bad.data = NULL;
    CHECK_STATUS(mr_model_run(m, 1, &in, 1, &bad), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "'y'");
    CHECK(fc_check_run(m, &f, x, y));

    bad = in;
    bad.dtype = MR_DTYPE_I32;
    CHECK_STATUS(mr_model_run(m, 1, &bad, 1, &out), MR_ERR_SHAPE, mr_runtime_last_error(rt), "'x'");
    CHECK(strstr(mr_runtime_last_error(rt), "int32") &&
          strstr(mr_runtime_last_error(rt), "float32"));
    CHECK(fc_check_run(m, &f, x, y));
    bad.dtype = MR_DTYPE_INVALID;
    CHECK_STATUS(mr_model_run(m, 1, &bad, 1, &out), MR_ERR_SHAPE, mr_runtime_last_error(rt), "'x'");
    CHECK(fc_check_run(m, &f, x, y));

    float big[8];
    mr_rng_fill(&r, big, 8, -1.0f, 1.0f);
    bad = in;
    bad.data = big;
    bad.dims[1] = 5;
    CHECK_STATUS(mr_model_run(m, 1, &bad, 1, &out), MR_ERR_SHAPE, mr_runtime_last_error(rt), "'x'");
    CHECK_MSG(strstr(mr_runtime_last_error(rt), "[1,5]") &&
                  strstr(mr_runtime_last_error(rt), "[1,4]"),
              "message '%s' lacks both shapes", mr_runtime_last_error(rt));
    CHECK(fc_check_run(m, &f, x, y));
    bad.ndim = 1;
    bad.dims[0] = 4;
    CHECK_STATUS(mr_model_run(m, 1, &bad, 1, &out), MR_ERR_SHAPE, mr_runtime_last_error(rt), "[4]");
    CHECK(strstr(mr_runtime_last_error(rt), "[1,4]") != NULL);
    CHECK(fc_check_run(m, &f, x, y));
    bad.ndim = 3;
    bad.dims[0] = 1, bad.dims[1] = 1, bad.dims[2] = 4;
    CHECK_STATUS(mr_model_run(m, 1, &bad, 1, &out), MR_ERR_SHAPE, mr_runtime_last_error(rt),
                 "[1,1,4]");
    bad.ndim = -3; /* nonsense ranks must not be read past dims[] */
    CHECK_STATUS(mr_model_run(m, 1, &bad, 1, &out), MR_ERR_SHAPE, mr_runtime_last_error(rt), "'x'");
    bad.ndim = 1000;
    CHECK_STATUS(mr_model_run(m, 1, &bad, 1, &out), MR_ERR_SHAPE, mr_runtime_last_error(rt), "'x'");
    CHECK(fc_check_run(m, &f, x, y));

    bad = out;
    bad.data = big;
    bad.dims[1] = 4;
    CHECK_STATUS(mr_model_run(m, 1, &in, 1, &bad), MR_ERR_SHAPE, mr_runtime_last_error(rt), "'y'");
    CHECK(strstr(mr_runtime_last_error(rt), "[1,4]") && strstr(mr_runtime_last_error(rt), "[1,3]"));
    CHECK(fc_check_run(m, &f, x, y));

    /* Out-of-range indices. */
    CHECK_STATUS(mr_model_input_info(m, 1, &ti), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "input index 1");
    CHECK_STATUS(mr_model_input_info(m, -1, &ti), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "-1");
    CHECK_STATUS(mr_model_output_info(m, 1, &ti), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "output index 1");
    CHECK_STATUS(mr_model_output_info(m, -7, &ti), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "-7");
    CHECK_STATUS(mr_model_step_info(m, 1, &si), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "step index 1");
    CHECK_STATUS(mr_model_step_info(m, -1, &si), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "-1");
    CHECK(mr_model_input_info(m, 0, NULL) == MR_ERR_INVALID_ARG);
    CHECK(mr_model_input_info(NULL, 0, &ti) == MR_ERR_INVALID_ARG);
    CHECK(mr_model_output_info(NULL, 0, &ti) == MR_ERR_INVALID_ARG);
    CHECK(mr_model_step_info(NULL, 0, &si) == MR_ERR_INVALID_ARG);
    CHECK(mr_model_get_stats(NULL, &s) == MR_ERR_INVALID_ARG);
    CHECK(mr_model_get_stats(m, NULL) == MR_ERR_INVALID_ARG);
    CHECK(mr_model_n_inputs(NULL) == 0);
    CHECK(mr_model_n_outputs(NULL) == 0);
    CHECK(mr_model_n_steps(NULL) == 0);
    CHECK(fc_check_run(m, &f, x, y));
    mr_model_destroy(m);

    /* Without the passes: two steps, labels without fusion, same numbers. */
    m = fc_load(rt, &f, 0);
    if (m) {
        CHECK(mr_model_n_steps(m) == 2);
        if (mr_model_n_steps(m) == 2) {
            CHECK(mr_model_step_info(m, 0, &si) == MR_OK && strcmp(si.op, "Gemm") == 0);
            CHECK(strcmp(si.output, "h") == 0);
            CHECK(mr_model_step_info(m, 1, &si) == MR_OK && strcmp(si.op, "Relu") == 0);
            CHECK(strcmp(si.name, "act") == 0);
        }
        CHECK(mr_model_get_stats(m, &s) == MR_OK && s.n_params == 15 && s.n_steps == 2);
        CHECK(fc_check_run(m, &f, x, y));
        mr_model_destroy(m);
    }

    /* A bigger layer (several logical blocks), several inputs. */
    fc_model f2;
    fc_init(&f2, 8, 64, 48, 99);
    m = fc_load(rt, &f2, 1);
    if (m) {
        float *x2 = malloc(sizeof(float) * 8 * 64), *y2 = malloc(sizeof(float) * 8 * 48);
        for (int rep = 0; rep < 3; rep++) {
            mr_rng_fill(&r, x2, 8 * 64, -1.0f, 1.0f);
            CHECK(fc_check_run(m, &f2, x2, y2));
        }
        CHECK(mr_model_get_stats(m, &s) == MR_OK && s.n_params == 64 * 48 + 48);
        CHECK(s.flops >= 2 * 8 * 64 * 48);
        free(x2);
        free(y2);
        mr_model_destroy(m);
    }
    fc_free(&f2);

    /* A graph that fails to finalise: Gemm with W [3,5] for x [1,4]. The graph is freed by
     * mr_model_from_graph (ASan's leak check sees it otherwise). */
    mr_model *m2 = (mr_model *)&f;
    CHECK_STATUS(mr_model_from_graph(rt, fc_graph(&f, 5), NULL, &m2), MR_ERR_SHAPE,
                 mr_runtime_last_error(rt), "fc");
    CHECK(m2 == NULL);
    CHECK(mr_model_from_graph(NULL, fc_graph(&f, 4), NULL, &m2) == MR_ERR_INVALID_ARG);
    CHECK_STATUS(mr_model_from_graph(rt, NULL, NULL, &m2), MR_ERR_INVALID_ARG,
                 mr_runtime_last_error(rt), NULL);
    CHECK_STATUS(mr_model_from_graph(rt, fc_graph(&f, 4), NULL, NULL), MR_ERR_INVALID_ARG,
                 mr_runtime_last_error(rt), NULL);

    fc_free(&f);
    mr_runtime_destroy(rt);
}

/* ---------------------------------------------------------------------------------------- */
/* Loading                                                                                  */

static void test_loading(void) {
    mr_runtime *rt;
    char eb[256];
    if (mr_runtime_create(NULL, &rt, eb, sizeof eb) != MR_OK) {
        CHECK_MSG(0, "runtime: %s", eb);
        return;
    }
    mr_model *m = (mr_model *)&eb;
    CHECK_STATUS(mr_model_load_zoo(rt, "no_such_net", NULL, &m), MR_ERR_NOT_FOUND,
                 mr_runtime_last_error(rt), "no_such_net");
    CHECK(m == NULL);
    CHECK_STATUS(mr_model_load(rt, "zoo:no_such_net", NULL, &m), MR_ERR_NOT_FOUND,
                 mr_runtime_last_error(rt), "no_such_net");
    CHECK_STATUS(mr_model_load_zoo(rt, NULL, NULL, &m), MR_ERR_INVALID_ARG,
                 mr_runtime_last_error(rt), NULL);
    CHECK(mr_model_load_zoo(NULL, "cifarnet", NULL, &m) == MR_ERR_INVALID_ARG);
    CHECK(mr_zoo_name(-1) == NULL);
    CHECK(mr_zoo_name(100000) == NULL);
    CHECK(mr_zoo_description("no_such_net") == NULL);
    CHECK(mr_zoo_description(NULL) == NULL);
    for (int i = 0; mr_zoo_name(i); i++) {
        const char *d = mr_zoo_description(mr_zoo_name(i));
        CHECK_MSG(d && d[0], "zoo model %s has no description", mr_zoo_name(i));
    }

    const char *missing = "/tmp/miriam-test-api-no-such-dir/model.onnx";
    CHECK_STATUS(mr_model_load_file(rt, missing, NULL, &m), MR_ERR_IO, mr_runtime_last_error(rt),
                 missing);
    CHECK(m == NULL);
    CHECK_STATUS(mr_model_load(rt, missing, NULL, &m), MR_ERR_IO, mr_runtime_last_error(rt),
                 missing);
    CHECK_STATUS(mr_model_load(rt, NULL, NULL, &m), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 NULL);
    CHECK(mr_model_load_file(NULL, missing, NULL, &m) == MR_ERR_INVALID_ARG);

    char path[64];
    if (mr_test_tmpfile("", 0, path, sizeof path)) {
        CHECK_STATUS(mr_model_load_file(rt, path, NULL, &m), MR_ERR_PARSE,
                     mr_runtime_last_error(rt), path);
        CHECK(m == NULL);
        unlink(path);
    }
    const char junk[] = "this is not an ONNX model, just some text\n";
    if (mr_test_tmpfile(junk, sizeof junk - 1, path, sizeof path)) {
        CHECK_STATUS(mr_model_load_file(rt, path, NULL, &m), MR_ERR_PARSE,
                     mr_runtime_last_error(rt), path);
        unlink(path);
    }
    /* A directory opens but cannot be read as a file. */
    mr_status st = mr_model_load_file(rt, "/tmp", NULL, &m);
    CHECK_MSG(st == MR_ERR_IO || st == MR_ERR_PARSE, "loading a directory: %s", mr_status_str(st));
    CHECK(m == NULL);
    CHECK_STATUS(mr_model_load_buffer(rt, junk, sizeof junk - 1, NULL, &m), MR_ERR_PARSE,
                 mr_runtime_last_error(rt), NULL);
    CHECK_STATUS(mr_model_load_buffer(rt, NULL, 10, NULL, &m), MR_ERR_INVALID_ARG,
                 mr_runtime_last_error(rt), NULL);
    st = mr_model_load_buffer(rt, NULL, 0, NULL, &m);
    CHECK(st != MR_OK && m == NULL);

    mr_model_params mp = mr_model_default_params();
    mp.default_dim = 0;
    CHECK_STATUS(mr_model_load_zoo(rt, "cifarnet", &mp, &m), MR_ERR_INVALID_ARG,
                 mr_runtime_last_error(rt), "default_dim");

    /* The zoo through the "zoo:" prefix. */
    if (mr_zoo_description("cifarnet")) {
        st = mr_model_load(rt, "zoo:cifarnet", NULL, &m);
        CHECK_MSG(st == MR_OK, "zoo:cifarnet: %s", mr_runtime_last_error(rt));
        if (st == MR_OK) {
            mr_tensor_info ti;
            CHECK(mr_model_n_inputs(m) == 1 && mr_model_n_outputs(m) == 1);
            CHECK(mr_model_input_info(m, 0, &ti) == MR_OK);
            CHECK(ti.dtype == MR_DTYPE_F32 && ti.ndim == 4 && ti.dims[0] == 1 && ti.dims[1] == 3 &&
                  ti.dims[2] == 32 && ti.dims[3] == 32);
            CHECK(mr_model_output_info(m, 0, &ti) == MR_OK);
            CHECK(ti.ndim == 2 && ti.dims[0] == 1 && ti.dims[1] == 10);
            mr_model_stats s;
            CHECK(mr_model_get_stats(m, &s) == MR_OK);
            CHECK_MSG(s.n_params == 62006, "cifarnet n_params %lld", (long long)s.n_params);
            CHECK(s.flops > 0 && s.arena_bytes > 0 && s.n_steps > 0);
            float *x = malloc(sizeof(float) * 3 * 32 * 32), y[10], y2[10];
            mr_rng r;
            mr_rng_seed(&r, 5);
            mr_rng_fill(&r, x, 3 * 32 * 32, -1.0f, 1.0f);
            int64_t xd[4] = {1, 3, 32, 32}, yd[2] = {1, 10};
            mr_tensor in = make_tensor(MR_DTYPE_F32, 4, xd, x);
            mr_tensor out = make_tensor(MR_DTYPE_F32, 2, yd, y);
            CHECK(mr_model_run(m, 1, &in, 1, &out) == MR_OK);
            out.data = y2;
            CHECK(mr_model_run(m, 1, &in, 1, &out) == MR_OK);
            /* The same input gives the same output, bit for bit (a run starts clean). */
            CHECK(memcmp(y, y2, sizeof y) == 0);
            int finite = 1;
            for (int i = 0; i < 10; i++) finite &= y[i] == y[i] && y[i] < 1e30f && y[i] > -1e30f;
            CHECK(finite);
            free(x);
            mr_model_destroy(m);
        }
    } else {
        printf("api: zoo model cifarnet not present, skipping its checks\n");
    }
    mr_runtime_destroy(rt);
}

/* ---------------------------------------------------------------------------------------- */
/* Logging                                                                                  */

typedef struct log_sink {
    int count[4];
    int bad_level;
    int empty;
    int saw_model;
    int saw_error_text;
} log_sink;

static void log_cb(mr_log_level level, const char *msg, void *user) {
    log_sink *s = user;
    if (level < MR_LOG_ERROR || level > MR_LOG_DEBUG) {
        s->bad_level++;
        return;
    }
    s->count[level]++;
    if (!msg || !msg[0]) s->empty++;
    if (msg && level >= MR_LOG_INFO && strstr(msg, "model")) s->saw_model++;
    if (msg && level == MR_LOG_ERROR && strstr(msg, "no_such_net")) s->saw_error_text++;
}

static void test_logging(void) {
    fc_model f;
    fc_init(&f, 1, 4, 3, 3);
    for (int lvl = MR_LOG_ERROR; lvl <= MR_LOG_DEBUG; lvl++) {
        log_sink sink;
        memset(&sink, 0, sizeof sink);
        mr_runtime_params p = mr_runtime_default_params();
        p.backend = MR_BACKEND_CPU;
        p.n_threads = 1;
        p.log_fn = log_cb;
        p.log_user_data = &sink;
        p.log_level = (mr_log_level)lvl;
        mr_runtime *rt;
        char eb[256];
        if (mr_runtime_create(&p, &rt, eb, sizeof eb) != MR_OK) {
            CHECK_MSG(0, "runtime: %s", eb);
            continue;
        }
        mr_model *m = fc_load(rt, &f, 1);
        mr_model *bad = NULL;
        CHECK(mr_model_load_zoo(rt, "no_such_net", NULL, &bad) == MR_ERR_NOT_FOUND);
        CHECK(sink.bad_level == 0);
        CHECK(sink.empty == 0);
        /* Nothing above the configured level. */
        for (int l = lvl + 1; l <= MR_LOG_DEBUG; l++)
            CHECK_MSG(sink.count[l] == 0, "level %d got %d messages at level %d", lvl,
                      sink.count[l], l);
        if (lvl >= MR_LOG_INFO) {
            CHECK_MSG(sink.count[MR_LOG_INFO] >= 2, "level %d: %d info messages", lvl,
                      sink.count[MR_LOG_INFO]);
            CHECK_MSG(sink.saw_model >= 1, "no message on model load at level %d", lvl);
        }
        /* Failures are logged as errors, once each. */
        CHECK_MSG(sink.count[MR_LOG_ERROR] == 1, "level %d: %d error messages", lvl,
                  sink.count[MR_LOG_ERROR]);
        CHECK(sink.saw_error_text == 1);
        mr_model_destroy(m);
        mr_runtime_destroy(rt);
    }
    fc_free(&f);
}

/* With no callback the library prints nothing, also on failures: stdout and stderr are
 * redirected to a file while a runtime works and fails, and the file must stay empty. */
static void test_silent(void) {
    char path[64];
    if (!mr_test_tmpfile("", 0, path, sizeof path)) {
        CHECK_MSG(0, "cannot create a temporary file");
        return;
    }
    fflush(stdout);
    fflush(stderr);
    int save_out = dup(1), save_err = dup(2);
    FILE *f = fopen(path, "w");
    if (save_out < 0 || save_err < 0 || !f) {
        CHECK_MSG(0, "cannot redirect output");
        return;
    }
    dup2(fileno(f), 1);
    dup2(fileno(f), 2);

    mr_runtime_params p = mr_runtime_default_params();
    p.log_level = MR_LOG_DEBUG; /* a level without a callback is still silent */
    mr_runtime *rt = NULL;
    mr_status st_rt = mr_runtime_create(&p, &rt, NULL, 0);
    mr_status st_bad = MR_OK, st_zoo = MR_OK, st_file = MR_OK, st_run = MR_OK;
    mr_runtime *bad_rt = NULL;
    p.n_threads = -1;
    mr_status st_badrt = mr_runtime_create(&p, &bad_rt, NULL, 0);
    if (st_rt == MR_OK) {
        fc_model fm;
        fc_init(&fm, 1, 4, 3, 1);
        mr_model *m = NULL, *z = NULL;
        mr_model_from_graph(rt, fc_graph(&fm, 4), NULL, &m);
        st_bad = mr_model_from_graph(rt, fc_graph(&fm, 5), NULL, &z);
        st_zoo = mr_model_load_zoo(rt, "no_such_net", NULL, &z);
        st_file = mr_model_load_file(rt, "/tmp/miriam-test-api-no-such-file.onnx", NULL, &z);
        if (m) {
            float x[4] = {1, 2, 3, 4}, y[3];
            int64_t xd[2] = {1, 5}, yd[2] = {1, 3};
            mr_tensor in = make_tensor(MR_DTYPE_F32, 2, xd, x);
            mr_tensor out = make_tensor(MR_DTYPE_F32, 2, yd, y);
            st_run = mr_model_run(m, 1, &in, 1, &out);
        }
        mr_model_destroy(m);
        mr_runtime_destroy(rt);
        fc_free(&fm);
    }

    fflush(stdout);
    fflush(stderr);
    dup2(save_out, 1);
    dup2(save_err, 2);
    close(save_out);
    close(save_err);
    fclose(f);
    CHECK(st_rt == MR_OK);
    CHECK(st_badrt == MR_ERR_INVALID_ARG);
    CHECK(st_bad == MR_ERR_SHAPE);
    CHECK(st_zoo == MR_ERR_NOT_FOUND);
    CHECK(st_file == MR_ERR_IO);
    CHECK(st_run == MR_ERR_SHAPE);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_MSG(sb.st_size == 0, "the library printed %lld bytes without a log callback",
              (long long)sb.st_size);
    unlink(path);
}

/* ---------------------------------------------------------------------------------------- */
/* Concurrency                                                                              */

typedef struct runner {
    mr_model *m;
    const fc_model *f;
    uint64_t seed;
    int iters;
    int ok;
} runner;

static void *runner_main(void *arg) {
    runner *r = arg;
    const fc_model *f = r->f;
    float *x = malloc(sizeof(float) * (size_t)(f->m * f->k));
    float *y = malloc(sizeof(float) * (size_t)(f->m * f->n));
    mr_rng rng;
    mr_rng_seed(&rng, r->seed);
    r->ok = 0;
    for (int i = 0; i < r->iters; i++) {
        /* A fresh input each time, so a result computed from the other thread's input (or a
         * stale one) cannot pass. */
        mr_rng_fill(&rng, x, f->m * f->k, -1.0f, 1.0f);
        if (fc_check_run(r->m, f, x, y)) r->ok++;
    }
    free(x);
    free(y);
    return NULL;
}

static void test_concurrency(void) {
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CPU;
    p.n_threads = 2;
    mr_runtime *rt;
    char eb[256];
    if (mr_runtime_create(&p, &rt, eb, sizeof eb) != MR_OK) {
        CHECK_MSG(0, "runtime: %s", eb);
        return;
    }
    fc_model f;
    fc_init(&f, 4, 32, 24, 21);
    mr_model *m = fc_load(rt, &f, 1);
    if (m) {
        runner r[2] = {{m, &f, 1001, 50, 0}, {m, &f, 2002, 50, 0}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, runner_main, &r[i]) == 0);
        for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
        for (int i = 0; i < 2; i++)
            CHECK_MSG(r[i].ok == 50, "thread %d: %d of 50 runs correct", i, r[i].ok);
        mr_model_destroy(m);
    }
    fc_free(&f);
    mr_runtime_destroy(rt);
}

/* Two runtimes with different models and thread counts, used alternately and then
 * concurrently; an error on one leaves the other's last error alone. */
static void test_two_runtimes(void) {
    mr_runtime *rt[2] = {NULL, NULL};
    char eb[256];
    for (int i = 0; i < 2; i++) {
        mr_runtime_params p = mr_runtime_default_params();
        p.backend = MR_BACKEND_CPU;
        p.n_threads = i + 1;
        if (mr_runtime_create(&p, &rt[i], eb, sizeof eb) != MR_OK) {
            CHECK_MSG(0, "runtime %d: %s", i, eb);
            mr_runtime_destroy(rt[0]);
            return;
        }
    }
    CHECK(mr_runtime_n_threads(rt[0]) == 1 && mr_runtime_n_threads(rt[1]) == 2);
    fc_model f[2];
    fc_init(&f[0], 2, 16, 8, 31);
    fc_init(&f[1], 3, 24, 40, 32);
    mr_model *m[2] = {fc_load(rt[0], &f[0], 1), fc_load(rt[1], &f[1], 1)};
    if (m[0] && m[1]) {
        mr_rng r;
        mr_rng_seed(&r, 77);
        float x[3 * 24], y[3 * 40];
        for (int it = 0; it < 6; it++) {
            int k = it % 2;
            mr_rng_fill(&r, x, f[k].m * f[k].k, -1.0f, 1.0f);
            CHECK(fc_check_run(m[k], &f[k], x, y));
        }
        mr_model *none = NULL;
        CHECK(mr_model_load_zoo(rt[0], "no_such_net", NULL, &none) == MR_ERR_NOT_FOUND);
        CHECK(strstr(mr_runtime_last_error(rt[0]), "no_such_net") != NULL);
        CHECK(strcmp(mr_runtime_last_error(rt[1]), "") == 0);

        runner rr[2] = {{m[0], &f[0], 5, 30, 0}, {m[1], &f[1], 6, 30, 0}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, runner_main, &rr[i]) == 0);
        for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
        for (int i = 0; i < 2; i++)
            CHECK_MSG(rr[i].ok == 30, "runtime %d: %d of 30 runs correct", i, rr[i].ok);
    }
    for (int i = 0; i < 2; i++) {
        mr_model_destroy(m[i]);
        fc_free(&f[i]);
    }
    /* Destroying in creation order (not reverse) is fine too. */
    mr_runtime_destroy(rt[0]);
    mr_runtime_destroy(rt[1]);
}

int main(void) {
    test_status_strings();
    test_dtypes();
    test_backend_names();
    test_runtime_params();
    test_model_basics();
    test_loading();
    test_logging();
    test_silent();
    test_concurrency();
    test_two_runtimes();
    return mr_test_finish("api");
}
