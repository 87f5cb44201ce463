/* Custom operators (miriam.h, "Custom operators"; docs/CUSTOM_OPS.md): registered through the
 * API and through the example plugin (examples/custom_op, loaded with dlopen as `miriam
 * --op-library` does), a model using them runs on the CPU against a reference computed here,
 * under every policy of the coordinator, and through the CLI (`run`, `tune`); bad descriptors,
 * failing callbacks, unknown domains and operators, and runtimes without the registration
 * fail with clear messages. The GPU part (skipped without one) checks the CUDA kernels in
 * elastic and plain launches and under the coordinator.
 *
 * The model (examples/custom_op/model.h): Y = Op(Gemm(X [48, 64], W [64, 700], B)), where Op
 * is ScaledTanh (alpha * tanh(beta * x), one phase) or the test's RowNorm (two phases and a
 * workspace: per row, y = x / (1 + sum |x|)). */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "miriam.h"
#include "model.h"
#include "testutil.h"

enum { BATCH = 48, K = 64, N = 700 }; /* ScaledTanh: 33600 elements, 9 logical blocks */
#define ALPHA 1.7159f
#define BETA  0.6667f

static float W[K * N], B[N], X[BATCH * K];
static float cpu_out[BATCH * N]; /* ScaledTanh model on the CPU, the GPU's reference */

typedef mr_status (*register_fn)(mr_runtime *rt);
typedef void (*describe_fn)(mr_custom_op *op);
static register_fn plugin_register;
static describe_fn plugin_describe;
static char tmpdir[64];

/* ---- helpers ---- */

static uint8_t *model_bytes(const char *domain, const char *op_type, size_t *size) {
    example_model m = {BATCH, K, N, W, B, domain, op_type, ALPHA, BETA};
    uint8_t *buf = example_model_build(&m, size);
    if (!buf) {
        fprintf(stderr, "out of memory building the model\n");
        exit(1);
    }
    return buf;
}

static mr_runtime *make_rt(mr_backend_kind backend, mr_policy policy, int plain) {
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = backend;
    p.n_threads = 4;
    p.policy = policy;
    p.plain_launch = plain;
    mr_runtime *rt = NULL;
    char eb[512];
    if (mr_runtime_create(&p, &rt, eb, sizeof eb) != MR_OK) {
        fprintf(stderr, "cannot create a runtime: %s\n", eb);
        exit(1);
    }
    return rt;
}

/* Loads the model with the custom node (domain, op_type); status as returned. */
static mr_status load(mr_runtime *rt, const char *domain, const char *op_type, mr_model **m) {
    size_t size;
    uint8_t *buf = model_bytes(domain, op_type, &size);
    mr_status st = mr_model_load_buffer(rt, buf, size, NULL, m);
    free(buf);
    return st;
}

static mr_model *load_ok(mr_runtime *rt, const char *domain, const char *op_type) {
    mr_model *m = NULL;
    CHECK_STATUS(load(rt, domain, op_type, &m), MR_OK, mr_runtime_last_error(rt), NULL);
    return m;
}

static mr_tensor tensor2(float *data, int64_t d0, int64_t d1) {
    mr_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = MR_DTYPE_F32;
    t.ndim = 2;
    t.dims[0] = d0;
    t.dims[1] = d1;
    t.data = data;
    return t;
}

static mr_status run(mr_model *m, float *y) {
    mr_tensor in = tensor2(X, BATCH, K), out = tensor2(y, BATCH, N);
    return mr_model_run(m, 1, &in, 1, &out);
}

/* H = X W + B in double. */
static void ref_gemm(double *h) {
    for (int r = 0; r < BATCH; r++)
        for (int c = 0; c < N; c++) {
            double s = B[c];
            for (int k = 0; k < K; k++) s += (double)X[r * K + k] * W[k * N + c];
            h[r * N + c] = s;
        }
}

/* Float32 results against the double reference. The GEMM accumulates 64 float32 products
 * (in an order the BLAS picks): |error| <= ~64 * 2^-24 * sum |x||w| ~ 3e-5 at worst for
 * these values; tanhf adds ~1 ulp and the scales below 2. Hence atol = rtol = 1e-4. */
static void expect_close(const float *y, const float *ref, const char *what) {
    double max_abs = 0;
    int64_t worst = -1;
    int ok = mr_allclose(y, ref, (int64_t)BATCH * N, 1e-4f, 1e-4f, &max_abs, &worst);
    CHECK_MSG(ok, "%s: max |diff| %g at %lld (%g vs %g)", what, max_abs, (long long)worst,
              worst >= 0 ? y[worst] : 0.0, worst >= 0 ? ref[worst] : 0.0);
}

static void ref_scaled_tanh(float *y) {
    static double h[BATCH * N];
    ref_gemm(h);
    for (int i = 0; i < BATCH * N; i++) y[i] = (float)(ALPHA * tanh(BETA * h[i]));
}

static void ref_row_norm(float *y) {
    static double h[BATCH * N];
    ref_gemm(h);
    for (int r = 0; r < BATCH; r++) {
        double s = 0;
        for (int c = 0; c < N; c++) s += fabs(h[r * N + c]);
        for (int c = 0; c < N; c++) y[r * N + c] = (float)(h[r * N + c] / (1 + s));
    }
}

/* ---- RowNorm: a CPU-only operator with two phases and a workspace ---- */

typedef struct row_norm_params {
    long long rows, cols;
} row_norm_params;

static mr_status rn_infer(void *user, const mr_custom_node *node, int n_in,
                          const mr_tensor_info *in, int n_out, mr_tensor_info *out, char *errbuf,
                          size_t errbuf_size) {
    if (in[0].dtype != MR_DTYPE_F32 || in[0].ndim != 2) {
        snprintf(errbuf, errbuf_size, "RowNorm takes a float32 matrix");
        return MR_ERR_SHAPE;
    }
    out[0].dtype = MR_DTYPE_F32;
    out[0].ndim = 2;
    out[0].dims[0] = in[0].dims[0];
    out[0].dims[1] = in[0].dims[1];
    return MR_OK;
}

static mr_status rn_plan(void *user, const mr_custom_node *node, int n_in, const mr_tensor_info *in,
                         int n_out, const mr_tensor_info *out, mr_custom_plan *plan, char *errbuf,
                         size_t errbuf_size) {
    row_norm_params p = {in[0].dims[0], in[0].dims[1]};
    plan->n_blocks = p.rows; /* phase 0: the row sums; phase 1: the divisions */
    plan->n_phases = 2;
    plan->workspace_bytes = sizeof(float) * (size_t)p.rows;
    plan->flops = 3 * p.rows * p.cols;
    memcpy(plan->params, &p, sizeof p);
    return MR_OK;
}

static void rn_block(void *user, const mr_custom_args *a, int64_t block, void *scratch) {
    const row_norm_params *p = a->params;
    const float *x = (const float *)a->in[0].data + block * p->cols;
    float *y = (float *)a->out[0].data + block * p->cols;
    float *sums = a->workspace;
    if (a->phase == 0) {
        float s = 0;
        for (long long c = 0; c < p->cols; c++) s += fabsf(x[c]);
        sums[block] = s;
    } else {
        for (long long c = 0; c < p->cols; c++) y[c] = x[c] / (1 + sums[block]);
    }
}

static void count_destroy(void *user) {
    (*(int *)user)++;
}

static mr_custom_op row_norm_op(const char *op_type, int *destroyed) {
    mr_custom_op op;
    memset(&op, 0, sizeof op);
    op.domain = "com.test";
    op.op_type = op_type;
    op.min_inputs = op.max_inputs = op.n_outputs = 1;
    op.attrs = NULL; /* any attribute: the model's alpha and beta are ignored */
    op.user = destroyed;
    op.infer = rn_infer;
    op.plan = rn_plan;
    op.cpu_block = rn_block;
    op.destroy = destroyed ? count_destroy : NULL;
    return op;
}

/* ---- tests ---- */

/* Through the API (the plugin's descriptor, registered by the test) on the CPU. */
static void test_api_cpu(void) {
    mr_runtime *rt = make_rt(MR_BACKEND_CPU, MR_POLICY_ELASTIC, 0);
    mr_custom_op op;
    plugin_describe(&op);
    CHECK_STATUS(mr_runtime_register_op(rt, &op), MR_OK, mr_runtime_last_error(rt), NULL);
    mr_model *m = load_ok(rt, "com.example", "ScaledTanh");
    if (m) {
        CHECK(mr_model_n_steps(m) == 2);
        mr_step_info si;
        CHECK(mr_model_step_info(m, 1, &si) == MR_OK);
        CHECK(strcmp(si.op, "ScaledTanh") == 0 && strcmp(si.name, "act") == 0);
        CHECK(si.n_blocks == 9 && si.flops == 3LL * BATCH * N);
        CHECK_STATUS(run(m, cpu_out), MR_OK, mr_runtime_last_error(rt), NULL);
        static float ref[BATCH * N];
        ref_scaled_tanh(ref);
        expect_close(cpu_out, ref, "ScaledTanh on the CPU");
    }
    /* A second registration of the same operator. */
    CHECK_STATUS(mr_runtime_register_op(rt, &op), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "already registered");
    mr_runtime_destroy(rt);
}

/* Through the plugin's entry point: the same results, bit for bit (same code). */
static void test_plugin_cpu(void) {
    mr_runtime *rt = make_rt(MR_BACKEND_CPU, MR_POLICY_ELASTIC, 0);
    CHECK_STATUS(plugin_register(rt), MR_OK, mr_runtime_last_error(rt), NULL);
    mr_model *m = load_ok(rt, "com.example", "ScaledTanh");
    static float y[BATCH * N];
    if (m && run(m, y) == MR_OK) CHECK(memcmp(y, cpu_out, sizeof y) == 0);
    mr_runtime_destroy(rt);
}

static mr_status dummy_infer(void *u, const mr_custom_node *n, int ni, const mr_tensor_info *in,
                             int no, mr_tensor_info *out, char *eb, size_t es) {
    return MR_OK;
}

static void test_bad_descriptors(void) {
    mr_runtime *rt = make_rt(MR_BACKEND_CPU, MR_POLICY_ELASTIC, 0);
    mr_custom_op good = row_norm_op("Good", NULL);
    struct {
        const char *needle;
        mr_custom_op op;
    } cases[16];
    int nc = 0;
#define BAD(NEEDLE, STMT)                                                                          \
    do {                                                                                           \
        mr_custom_op op = good;                                                                    \
        STMT;                                                                                      \
        cases[nc].needle = NEEDLE;                                                                 \
        cases[nc++].op = op;                                                                       \
    } while (0)
    BAD("domain is NULL", op.domain = NULL);
    BAD("op_type is NULL or empty", op.op_type = "");
    BAD("infer, plan and cpu_block are required", op.infer = NULL);
    BAD("infer, plan and cpu_block are required", op.cpu_block = NULL);
    BAD("min_inputs <= max_inputs", (op.min_inputs = 2, op.max_inputs = 1));
    BAD("max_inputs <= 16", op.max_inputs = 17);
    BAD("n_outputs 0", op.n_outputs = 0);
    BAD("n_kernels 5", op.n_kernels = 5);
    BAD("kernel 0 has no plain function", (op.n_kernels = 1, op.kernels[0].elastic = &good));
    BAD("1 to 1024 threads", (op.n_kernels = 1, op.kernels[0].elastic = op.kernels[0].plain = &good,
                              op.kernels[0].threads = 0));
    BAD("built-in operator", (op.domain = "", op.op_type = "Relu"));
    BAD("built-in operator", (op.domain = "ai.onnx", op.op_type = "Gemm"));
#undef BAD
    for (int i = 0; i < nc; i++)
        CHECK_STATUS(mr_runtime_register_op(rt, &cases[i].op), MR_ERR_INVALID_ARG,
                     mr_runtime_last_error(rt), cases[i].needle);
    CHECK_STATUS(mr_runtime_register_op(rt, NULL), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "NULL");
    CHECK(mr_runtime_register_op(NULL, &good) == MR_ERR_INVALID_ARG);
    /* The refusals left nothing behind: the good one registers, once. */
    CHECK_STATUS(mr_runtime_register_op(rt, &good), MR_OK, mr_runtime_last_error(rt), NULL);
    CHECK_STATUS(mr_runtime_register_op(rt, &good), MR_ERR_INVALID_ARG, mr_runtime_last_error(rt),
                 "com.test.Good");
    mr_runtime_destroy(rt);
}

/* Unknown domains and operators are refused as before; so is a model on a runtime that has
 * not registered its operator. */
static void test_unknown(void) {
    mr_runtime *bare = make_rt(MR_BACKEND_CPU, MR_POLICY_ELASTIC, 0);
    mr_model *m = NULL;
    CHECK_STATUS(load(bare, "com.example", "ScaledTanh", &m), MR_ERR_UNSUPPORTED,
                 mr_runtime_last_error(bare), "domain 'com.example' is not supported");
    CHECK(m == NULL);
    CHECK_STATUS(load(bare, "", "ScaledTanh", &m), MR_ERR_UNSUPPORTED, mr_runtime_last_error(bare),
                 "operator 'ScaledTanh' is not supported");

    mr_runtime *rt = make_rt(MR_BACKEND_CPU, MR_POLICY_ELASTIC, 0);
    CHECK(plugin_register(rt) == MR_OK);
    CHECK_STATUS(load(rt, "com.unknown", "ScaledTanh", &m), MR_ERR_UNSUPPORTED,
                 mr_runtime_last_error(rt), "domain 'com.unknown' is not supported");
    CHECK_STATUS(load(rt, "com.example", "Nope", &m), MR_ERR_UNSUPPORTED, mr_runtime_last_error(rt),
                 "operator Nope of domain 'com.example' is not supported");
    /* Registered later, the operator is found by the next load. */
    mr_custom_op op;
    plugin_describe(&op);
    CHECK(mr_runtime_register_op(bare, &op) == MR_OK);
    mr_model *late = load_ok(bare, "com.example", "ScaledTanh");
    static float y[BATCH * N];
    if (late && run(late, y) == MR_OK) CHECK(memcmp(y, cpu_out, sizeof y) == 0);
    mr_runtime_destroy(rt);
    mr_runtime_destroy(bare);
}

static mr_status failing_infer(void *u, const mr_custom_node *n, int ni, const mr_tensor_info *in,
                               int no, mr_tensor_info *out, char *eb, size_t es) {
    snprintf(eb, es, "no good: %s", mr_custom_node_name(n));
    return MR_ERR_UNSUPPORTED;
}

static mr_status int_alpha_plan(void *u, const mr_custom_node *n, int ni, const mr_tensor_info *in,
                                int no, const mr_tensor_info *out, mr_custom_plan *plan, char *eb,
                                size_t es) {
    int64_t alpha;
    return mr_custom_attr_int(n, "alpha", 0, &alpha, eb, es);
}

static mr_status silent_fail_plan(void *u, const mr_custom_node *n, int ni,
                                  const mr_tensor_info *in, int no, const mr_tensor_info *out,
                                  mr_custom_plan *plan, char *eb, size_t es) {
    return MR_ERR_SHAPE;
}

static mr_status bad_plan(void *u, const mr_custom_node *n, int ni, const mr_tensor_info *in,
                          int no, const mr_tensor_info *out, mr_custom_plan *plan, char *eb,
                          size_t es) {
    plan->n_blocks = -3;
    return MR_OK;
}

/* Failing callbacks and attribute checks: the load fails naming the node, the runtime stays
 * usable. */
static void test_callback_errors(void) {
    mr_runtime *rt = make_rt(MR_BACKEND_CPU, MR_POLICY_ELASTIC, 0);
    static const char *const gamma_only[] = {"gamma", NULL};
    struct {
        const char *op_type, *needle;
        mr_status want;
    } cases[] = {
        {"FailInfer", "no good: act", MR_ERR_UNSUPPORTED},
        {"NoShape", "infer gave output 0 ('Y')", MR_ERR_INVALID_ARG},
        {"Gamma", "attribute 'alpha' is not supported", MR_ERR_UNSUPPORTED},
        {"IntAlpha", "attribute 'alpha' is of type float, expected int", MR_ERR_PARSE},
        {"Silent", "plan failed (shape or dtype mismatch)", MR_ERR_SHAPE},
        {"BadPlan", "plan gave -3 blocks", MR_ERR_INVALID_ARG},
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        mr_custom_op op = row_norm_op(cases[i].op_type, NULL);
        if (i == 0) op.infer = failing_infer;
        if (i == 1) op.infer = dummy_infer;
        if (i == 2) op.attrs = gamma_only;
        if (i == 3) op.plan = int_alpha_plan;
        if (i == 4) op.plan = silent_fail_plan;
        if (i == 5) op.plan = bad_plan;
        CHECK(mr_runtime_register_op(rt, &op) == MR_OK);
        mr_model *m = NULL;
        mr_status st = load(rt, "com.test", cases[i].op_type, &m);
        CHECK_STATUS(st, cases[i].want, mr_runtime_last_error(rt), cases[i].needle);
        CHECK_MSG(strstr(mr_runtime_last_error(rt), "'act'") != NULL, "%s: %s", cases[i].op_type,
                  mr_runtime_last_error(rt));
    }
    mr_runtime_destroy(rt);
}

/* A custom operator of the default domain (with a name miriam does not use). */
static void test_default_domain(void) {
    mr_runtime *rt = make_rt(MR_BACKEND_CPU, MR_POLICY_ELASTIC, 0);
    mr_custom_op op;
    plugin_describe(&op);
    op.domain = "";
    op.op_type = "LeCunTanh";
    CHECK_STATUS(mr_runtime_register_op(rt, &op), MR_OK, mr_runtime_last_error(rt), NULL);
    mr_model *m = load_ok(rt, "", "LeCunTanh");
    static float y[BATCH * N];
    if (m && run(m, y) == MR_OK) CHECK(memcmp(y, cpu_out, sizeof y) == 0);
    mr_runtime_destroy(rt);
}

/* Two phases and a workspace; and destroy() is called once, with the runtime. */
static void test_phases(void) {
    int destroyed = 0;
    mr_runtime *rt = make_rt(MR_BACKEND_CPU, MR_POLICY_ELASTIC, 0);
    mr_custom_op op = row_norm_op("RowNorm", &destroyed);
    CHECK(mr_runtime_register_op(rt, &op) == MR_OK);
    mr_model *m = load_ok(rt, "com.test", "RowNorm");
    static float y[BATCH * N], ref[BATCH * N];
    if (m) {
        mr_step_info si;
        CHECK(mr_model_step_info(m, 1, &si) == MR_OK && si.n_blocks == 2 * BATCH);
        CHECK_STATUS(run(m, y), MR_OK, mr_runtime_last_error(rt), NULL);
        ref_row_norm(ref);
        expect_close(y, ref, "RowNorm on the CPU");
    }
    CHECK(destroyed == 0);
    mr_runtime_destroy(rt);
    CHECK(destroyed == 1);
}

/* Under every policy, a normal task (ScaledTanh) beside a critical one (RowNorm) gives the
 * outputs of mr_model_run bit for bit (logical blocks fix what each output is computed
 * from, whichever worker runs them and whenever they are preempted). */
static void coord_policy(mr_backend_kind backend, mr_policy policy, int with_row_norm) {
    mr_runtime *rt = make_rt(backend, policy, 0);
    CHECK(plugin_register(rt) == MR_OK);
    mr_custom_op rn = row_norm_op("RowNorm", NULL);
    CHECK(mr_runtime_register_op(rt, &rn) == MR_OK);
    mr_model *mn = load_ok(rt, "com.example", "ScaledTanh");
    mr_model *mc = with_row_norm ? load_ok(rt, "com.test", "RowNorm")
                                 : load_ok(rt, "com.example", "ScaledTanh");
    if (!mn || !mc) {
        mr_runtime_destroy(rt);
        return;
    }
    static float ref_n[BATCH * N], ref_c[BATCH * N];
    CHECK(run(mn, ref_n) == MR_OK);
    CHECK(run(mc, ref_c) == MR_OK);
    mr_task *tn = NULL, *tc = NULL;
    mr_task_params tp = mr_task_default_params();
    mr_status st = mr_task_create(rt, mn, &tp, &tn);
    tp.criticality = MR_TASK_CRITICAL;
    if (st == MR_OK) st = mr_task_create(rt, mc, &tp, &tc);
    if (st != MR_OK && backend == MR_BACKEND_CUDA && policy == MR_POLICY_PARTITION) {
        printf("custom_op: CUDA partition policy skipped: %s\n", mr_runtime_last_error(rt));
        mr_runtime_destroy(rt);
        return;
    }
    CHECK_STATUS(st, MR_OK, mr_runtime_last_error(rt), NULL);
    enum { REQS = 4 };
    static float out_n[REQS][BATCH * N], out_c[REQS][BATCH * N];
    mr_request *rq[2 * REQS] = {0};
    mr_tensor in = tensor2(X, BATCH, K);
    for (int i = 0; st == MR_OK && i < REQS; i++) {
        mr_tensor on = tensor2(out_n[i], BATCH, N), oc = tensor2(out_c[i], BATCH, N);
        CHECK(mr_request_submit(tn, 1, &in, 1, &on, NULL, NULL, &rq[2 * i]) == MR_OK);
        CHECK(mr_request_submit(tc, 1, &in, 1, &oc, NULL, NULL, &rq[2 * i + 1]) == MR_OK);
    }
    for (int i = 0; i < 2 * REQS; i++) {
        if (!rq[i]) continue;
        mr_request_result res;
        CHECK_MSG(mr_request_wait(rq[i], &res) == MR_OK, "%s request %d: %s",
                  mr_policy_name(policy), i, mr_status_str(res.status));
        mr_request_release(rq[i]);
    }
    for (int i = 0; st == MR_OK && i < REQS; i++) {
        CHECK_MSG(memcmp(out_n[i], ref_n, sizeof ref_n) == 0, "%s %s normal request %d",
                  mr_backend_name(backend), mr_policy_name(policy), i);
        CHECK_MSG(memcmp(out_c[i], ref_c, sizeof ref_c) == 0, "%s %s critical request %d",
                  mr_backend_name(backend), mr_policy_name(policy), i);
    }
    mr_runtime_destroy(rt);
}

static const mr_policy all_policies[] = {MR_POLICY_SEQUENTIAL, MR_POLICY_MULTISTREAM,
                                         MR_POLICY_PRIORITY,   MR_POLICY_PADDING,
                                         MR_POLICY_PARTITION,  MR_POLICY_ELASTIC};

static void test_coord_cpu(void) {
    for (int i = 0; i < 6; i++) coord_policy(MR_BACKEND_CPU, all_policies[i], 1);
}

/* ---- the CLI ---- */

typedef mr_test_run cli_result;

static cli_result run_cli(const char *args) {
    return mr_test_run_cli(tmpdir, "", mr_test_env("MIRIAM_CLI", MIRIAM_BINARY_DIR "/miriam"),
                           args);
}

static void expect_cli(const char *args, int rc, const char *out_needle, const char *err_needle) {
    cli_result r = run_cli(args);
    int ok = r.rc == rc && (!out_needle || strstr(r.out, out_needle)) &&
             (!err_needle || strstr(r.err, err_needle));
    CHECK_MSG(ok, "$ miriam %s: exit %d (expected %d)\nstdout: %s\nstderr: %s", args, r.rc, rc,
              r.out, r.err);
    mr_test_run_free(&r);
}

static void test_cli(void) {
    char model[128], profile[128], args[1024];
    snprintf(model, sizeof model, "%s/scaled_tanh.onnx", tmpdir);
    snprintf(profile, sizeof profile, "%s/profile.json", tmpdir);
    size_t size;
    uint8_t *buf = model_bytes("com.example", "ScaledTanh", &size);
    FILE *f = fopen(model, "wb");
    CHECK(f && fwrite(buf, 1, size, f) == size);
    if (f) fclose(f);
    free(buf);
    const char *lib = MIRIAM_EXAMPLE_OPS;

    snprintf(args, sizeof args, "run '%s' --device cpu --repeat 2 --op-library '%s'", model, lib);
    expect_cli(args, 0, "output Y float32 [48,700]", NULL);
    snprintf(args, sizeof args, "info '%s' --steps --op-library '%s'", model, lib);
    expect_cli(args, 0, "ScaledTanh", NULL);
    snprintf(args, sizeof args, "run '%s' --device cpu", model);
    expect_cli(args, 1, NULL, "domain 'com.example' is not supported");
    snprintf(args, sizeof args, "run '%s' --device cpu --op-library '%s/missing.so'", model,
             tmpdir);
    expect_cli(args, 1, NULL, "missing.so: cannot load it");
    snprintf(args, sizeof args, "run '%s' --op-library", model);
    expect_cli(args, 1, NULL, "--op-library expects");
    /* A library without the entry point (any shared library will do: libm). */
    snprintf(args, sizeof args, "run '%s' --device cpu --op-library libm.so.6", model);
    expect_cli(args, 1, NULL, "no miriam_register_ops() entry point");
    /* Loading the same operators twice fails in the second registration. */
    snprintf(args, sizeof args, "run '%s' --device cpu --op-library '%s' --op-library '%s'", model,
             lib, lib);
    expect_cli(args, 1, NULL, "already registered");
    expect_cli("run --help", 0, "--op-library PATH", NULL);
    expect_cli("tune --help", 0, "--op-library PATH", NULL);

    snprintf(args, sizeof args,
             "tune '%s' --device cpu --threads 2 --quick --repeat 1 --op-library '%s' -o '%s'",
             model, lib, profile);
    expect_cli(args, 0, "ScaledTanh", NULL);
    struct stat sb;
    CHECK(stat(profile, &sb) == 0 && sb.st_size > 0);
    char *text = mr_test_slurp(profile);
    CHECK_MSG(strstr(text, "ScaledTanh") != NULL, "the profile names the custom step");
    free(text);
    unlink(profile);

    /* Workloads: every run of bench and compare loads the libraries into its runtime. */
    char wl[128], out[128];
    snprintf(wl, sizeof wl, "%s/custom.json", tmpdir);
    snprintf(out, sizeof out, "%s/compare", tmpdir);
    f = fopen(wl, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f,
                "{\"name\": \"custom\", \"duration_s\": 0.3, \"warmup_s\": 0, \"tasks\": [\n"
                "  {\"name\": \"crit\", \"model\": \"%s\", \"criticality\": \"critical\",\n"
                "   \"arrival\": {\"type\": \"periodic\", \"rate_hz\": 50}},\n"
                "  {\"name\": \"bulk\", \"model\": \"zoo:cifarnet\", \"criticality\": \"normal\",\n"
                "   \"arrival\": {\"type\": \"closed\"}}]}\n",
                model);
        fclose(f);
    }
    snprintf(args, sizeof args,
             "bench '%s' --device cpu --threads 2 --policy elastic -o csv "
             "--op-library '%s'",
             wl, lib);
    expect_cli(args, 0, "\ncustom,elastic,crit,", NULL);
    snprintf(args, sizeof args, "bench '%s' --device cpu --threads 2", wl);
    expect_cli(args, 1, NULL, "domain 'com.example' is not supported");
    snprintf(args, sizeof args,
             "compare '%s' --device cpu --threads 2 --policies priority,elastic "
             "--no-plots -o '%s' --op-library '%s'",
             wl, out, lib);
    expect_cli(args, 0, "| elastic ", NULL);
    snprintf(args, sizeof args, "compare '%s' --device cpu --op-library '%s/missing.so' -o '%s'",
             wl, tmpdir, out);
    expect_cli(args, 1, NULL, "missing.so: cannot load it");
    snprintf(args, sizeof args, "rm -rf '%s'", out);
    CHECK(system(args) == 0);
    unlink(wl);
    unlink(model);
}

/* ---- the GPU (skipped without one) ---- */

static void test_gpu(void) {
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CUDA;
    mr_runtime *probe = NULL;
    char eb[256];
    if (mr_runtime_create(&p, &probe, eb, sizeof eb) != MR_OK) {
        printf("custom_op: GPU part skipped: %s\n", eb);
        return;
    }
    mr_runtime_destroy(probe);
    static float y[BATCH * N], y_plain[BATCH * N];
    for (int plain = 0; plain <= 1; plain++) {
        /* Registered through the API... */
        mr_runtime *rt = make_rt(MR_BACKEND_CUDA, MR_POLICY_ELASTIC, plain);
        mr_custom_op op;
        plugin_describe(&op);
        CHECK_MSG(op.n_kernels == 2, "the plugin found no CUDA kernels");
        CHECK(mr_runtime_register_op(rt, &op) == MR_OK);
        mr_model *m = load_ok(rt, "com.example", "ScaledTanh");
        float *out = plain ? y_plain : y;
        if (m) {
            CHECK_STATUS(run(m, out), MR_OK, mr_runtime_last_error(rt), NULL);
            expect_close(out, cpu_out,
                         plain ? "ScaledTanh on the GPU, plain launches"
                               : "ScaledTanh on the GPU, elastic launches");
        }
        /* ... and through the plugin; a CPU-only operator is refused with its name. */
        mr_runtime *rt2 = make_rt(MR_BACKEND_CUDA, MR_POLICY_ELASTIC, plain);
        CHECK(plugin_register(rt2) == MR_OK);
        mr_custom_op rn = row_norm_op("RowNorm", NULL);
        CHECK(mr_runtime_register_op(rt2, &rn) == MR_OK);
        mr_model *m2 = load_ok(rt2, "com.example", "ScaledTanh");
        static float y2[BATCH * N];
        if (m2 && run(m2, y2) == MR_OK) CHECK(memcmp(y2, out, sizeof y2) == 0);
        mr_model *m3 = NULL;
        CHECK_STATUS(load(rt2, "com.test", "RowNorm", &m3), MR_ERR_UNSUPPORTED,
                     mr_runtime_last_error(rt2), "com.test.RowNorm has no CUDA kernels");
        mr_runtime_destroy(rt2);
        mr_runtime_destroy(rt);
    }
    /* Elastic and plain launches run the same body on the same logical blocks. */
    CHECK(memcmp(y, y_plain, sizeof y) == 0);
    for (int i = 0; i < 6; i++) coord_policy(MR_BACKEND_CUDA, all_policies[i], 0);
}

int main(void) {
    void *h = dlopen(MIRIAM_EXAMPLE_OPS, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "cannot load %s: %s\n", MIRIAM_EXAMPLE_OPS, dlerror());
        return 1;
    }
    /* Kept loaded to the end: the runtimes call into it. */
    *(void **)&plugin_register = dlsym(h, "miriam_register_ops");
    *(void **)&plugin_describe = dlsym(h, "scaled_tanh_describe");
    if (!plugin_register || !plugin_describe) {
        fprintf(stderr, "%s lacks its entry points\n", MIRIAM_EXAMPLE_OPS);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/miriam-test-custom-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    /* Tuned profiles go to an empty cache of the test's own. */
    char cache[96];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir);
    setenv("MIRIAM_CACHE_DIR", cache, 1);

    mr_rng rng;
    mr_rng_seed(&rng, 2024);
    mr_rng_fill(&rng, W, K * N, -0.125f, 0.125f);
    mr_rng_fill(&rng, B, N, -0.125f, 0.125f);
    mr_rng_fill(&rng, X, BATCH * K, -1.0f, 1.0f);

    test_api_cpu();
    test_plugin_cpu();
    test_bad_descriptors();
    test_unknown();
    test_callback_errors();
    test_default_domain();
    test_phases();
    test_coord_cpu();
    test_cli();
    test_gpu();

    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return mr_test_finish("custom_op");
}
