/* Graph finalisation and the optimisation passes (src/graph/finalize.c, passes.c):
 * topological ordering, graph errors (cycles, dangling inputs, unknown ops and attributes),
 * constant folding, BatchNorm folding, bias/activation fusion and the conditions under which
 * fusion must not happen, dropping Identity/Dropout, and the parameter count.
 *
 * Every graph is built by hand with the mr_graph_* API and run through mr_model_from_graph +
 * mr_model_run on the CPU backend, once with params.optimize = 0 and once with 1, and both
 * results are compared with a naive double-precision reference written here.
 *
 * Tolerances: optimised vs unoptimised and kernels vs the naive reference use rtol 1e-4,
 * atol 1e-5. The kernels accumulate a few dozen float products (errors ~1e-6 relative) and
 * BatchNorm folding reorders the float operations (w*s summed instead of s*sum(w)), which
 * moves results by a few ulps of the largest term; 1e-4 relative leaves two orders of margin
 * while still catching any wrong weight, bias, epsilon or activation bound. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "model.h"
#include "ops/op.h"
#include "testutil.h"

#define RTOL 1e-4f
#define ATOL 1e-5f

/* Test-building failures are bugs in the test or the builder API: stop at once. */
static int must_(int v, const mr_err *err, const char *what, int line) {
    if (v < 0) {
        fprintf(stderr, "test_graph.c:%d: %s failed: %s\n", line, what, err->msg);
        exit(1);
    }
    return v;
}
#define MUST(x) must_((x), err, #x, __LINE__)

/* ---- graph building helpers ---- */

static int scalar_const(mr_graph *g, const char *name, float v, mr_err *err) {
    return MUST(mr_graph_add_const(g, name, MR_DTYPE_F32, 0, NULL, &v, err));
}

static int i64_const(mr_graph *g, const char *name, int ndim, const int64_t *dims, const int64_t *v,
                     mr_err *err) {
    return MUST(mr_graph_add_const(g, name, MR_DTYPE_I64, ndim, dims, v, err));
}

static void set_ints(mr_graph *g, int nd, const char *name, int n, const int64_t *v, mr_err *err) {
    MUST(mr_node_set_ints(g, nd, name, n, v, err) == MR_OK ? 0 : -1);
}

static int find_node(const mr_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

/* Conv with 3x3 kernels, pads 1, stride 1 and its weights "<name>.w" [m,c,3,3], "<name>.b". */
static int conv3x3(mr_graph *g, mr_rng *r, const char *name, int x, int64_t c, int64_t m, int bias,
                   int *out, mr_err *err) {
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s.w", name);
    snprintf(bn, sizeof bn, "%s.b", name);
    int64_t wd[4] = {m, c, 3, 3};
    int w = mr_test_rand_const(g, r, wn, 4, wd, -0.5f, 0.5f, err);
    int ins[3] = {x, w, -1};
    if (bias) ins[2] = mr_test_rand_const(g, r, bn, 1, &m, -0.5f, 0.5f, err);
    int nd = mr_test_add_node1(g, name, "Conv", bias ? 3 : 2, ins, out, err);
    static const int64_t k[2] = {3, 3}, pads[4] = {1, 1, 1, 1};
    set_ints(g, nd, "kernel_shape", 2, k, err);
    set_ints(g, nd, "pads", 4, pads, err);
    return nd;
}

/* BatchNormalization with non-trivial statistics: gamma U(0.5,1.5), beta U(-0.5,0.5),
 * mean U(-0.5,0.5), var U(0.2,2). */
static int batchnorm(mr_graph *g, mr_rng *r, const char *name, int x, int64_t c, float eps,
                     int *out, mr_err *err) {
    const char *sfx[4] = {"gamma", "beta", "mean", "var"};
    const float lo[4] = {0.5f, -0.5f, -0.5f, 0.2f}, hi[4] = {1.5f, 0.5f, 0.5f, 2.0f};
    int ins[5] = {x};
    for (int i = 0; i < 4; i++) {
        char tn[64];
        snprintf(tn, sizeof tn, "%s.%s", name, sfx[i]);
        ins[1 + i] = mr_test_rand_const(g, r, tn, 1, &c, lo[i], hi[i], err);
    }
    int nd = mr_test_add_node1(g, name, "BatchNormalization", 5, ins, out, err);
    MUST(mr_node_set_float(g, nd, "epsilon", eps, err) == MR_OK ? 0 : -1);
    return nd;
}

/* ---- running a graph ---- */

typedef void (*build_fn)(mr_graph *g, mr_err *err);

#define MAX_OUT 4
typedef struct result {
    mr_status st;
    char msg[MR_ERR_MSG_MAX];
    mr_model_stats stats;
    int n_plan_steps;    /* mr_model_n_steps: includes aliased views */
    char labels[16][96]; /* op labels of the executed plan steps */
    int n_in, n_out;
    float *in[MAX_OUT];
    float *out[MAX_OUT];
    int64_t in_numel[MAX_OUT], out_numel[MAX_OUT];
    int dead[32]; /* dead flag of each source node after finalisation */
} result;

static void result_free(result *r) {
    for (int i = 0; i < MAX_OUT; i++) {
        free(r->in[i]);
        free(r->out[i]);
    }
}

/* Builds the graph, loads it as a model and runs it on inputs drawn from a fixed seed (so
 * every call sees the same inputs, U(-2,2): never zero, and both signs for the
 * activations). */
static result run_graph(mr_runtime *rt, build_fn build, int optimize) {
    result r;
    memset(&r, 0, sizeof r);
    mr_err e, *err = &e;
    mr_err_clear(err);
    mr_graph *g = mr_graph_create(err);
    if (!g) exit(1);
    build(g, err);
    mr_model_params p = mr_model_default_params();
    p.optimize = optimize;
    mr_model *m = NULL;
    r.st = mr_model_from_graph(rt, g, &p, &m);
    if (r.st != MR_OK) {
        snprintf(r.msg, sizeof r.msg, "%s", mr_runtime_last_error(rt));
        return r;
    }
    const mr_graph *mg = mr_model_graph(m);
    for (int i = 0; i < mg->n_nodes && i < 32; i++) r.dead[i] = mg->nodes[i].dead;
    mr_model_get_stats(m, &r.stats);
    r.n_plan_steps = mr_model_n_steps(m);
    for (int i = 0, k = 0; i < r.n_plan_steps && k < 16; i++) {
        mr_step_info si;
        if (mr_model_step_info(m, i, &si) != MR_OK || si.n_blocks == 0) continue;
        snprintf(r.labels[k++], sizeof r.labels[0], "%s", si.op);
    }
    r.n_in = mr_model_n_inputs(m);
    r.n_out = mr_model_n_outputs(m);
    mr_tensor ins[MAX_OUT], outs[MAX_OUT];
    mr_rng rng;
    mr_rng_seed(&rng, 1234);
    for (int i = 0; i < r.n_in; i++) {
        mr_tensor_info ti;
        mr_model_input_info(m, i, &ti);
        ins[i] = (mr_tensor){ti.dtype, ti.ndim, {0}, NULL};
        memcpy(ins[i].dims, ti.dims, sizeof ti.dims);
        r.in_numel[i] = mr_tensor_numel(&ins[i]);
        r.in[i] = malloc(sizeof(float) * (size_t)r.in_numel[i]);
        /* Scalars are run-time bounds (Clip's max): positive, inside the data's range. */
        if (r.in_numel[i] == 1)
            mr_rng_fill(&rng, r.in[i], 1, 1.0f, 4.0f);
        else
            mr_rng_fill(&rng, r.in[i], r.in_numel[i], -2.0f, 2.0f);
        ins[i].data = r.in[i];
    }
    for (int i = 0; i < r.n_out; i++) {
        mr_tensor_info ti;
        mr_model_output_info(m, i, &ti);
        outs[i] = (mr_tensor){ti.dtype, ti.ndim, {0}, NULL};
        memcpy(outs[i].dims, ti.dims, sizeof ti.dims);
        r.out_numel[i] = mr_tensor_numel(&outs[i]);
        r.out[i] = malloc(sizeof(float) * (size_t)r.out_numel[i]);
        for (int64_t k = 0; k < r.out_numel[i]; k++) r.out[i][k] = NAN;
        outs[i].data = r.out[i];
    }
    r.st = mr_model_run(m, r.n_in, ins, r.n_out, outs);
    if (r.st != MR_OK) snprintf(r.msg, sizeof r.msg, "%s", mr_runtime_last_error(rt));
    mr_model_destroy(m);
    return r;
}

static void check_close(const char *what, const float *got, const float *want, int64_t n) {
    double max_abs = 0;
    int64_t worst = 0;
    int ok = mr_allclose(got, want, n, RTOL, ATOL, &max_abs, &worst);
    CHECK_MSG(ok, "%s: max |diff| %.3g at %lld (got %g, want %g)", what, max_abs, (long long)worst,
              got[worst], want[worst]);
}

/* Runs unoptimised and optimised; both must succeed and agree output by output. */
static void run_both(mr_runtime *rt, build_fn build, const char *what, result *r0, result *r1) {
    *r0 = run_graph(rt, build, 0);
    *r1 = run_graph(rt, build, 1);
    CHECK_MSG(r0->st == MR_OK, "%s (optimize=0): %s", what, r0->msg);
    CHECK_MSG(r1->st == MR_OK, "%s (optimize=1): %s", what, r1->msg);
    if (r0->st != MR_OK || r1->st != MR_OK) return;
    CHECK(r0->n_out == r1->n_out);
    for (int i = 0; i < r0->n_out && i < r1->n_out; i++) {
        CHECK(r0->out_numel[i] == r1->out_numel[i]);
        char w[128];
        snprintf(w, sizeof w, "%s output %d, optimised vs not", what, i);
        check_close(w, r1->out[i], r0->out[i], r0->out_numel[i]);
    }
}

/* ---- naive references (double accumulation) ---- */

static void conv3x3_ref(const float *x, int64_t c, int64_t h, int64_t w, const float *wt,
                        const float *bias, int64_t m, double *y) {
    for (int64_t o = 0; o < m; o++)
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++) {
                double acc = bias ? bias[o] : 0.0;
                for (int64_t ci = 0; ci < c; ci++)
                    for (int64_t ki = 0; ki < 3; ki++)
                        for (int64_t kj = 0; kj < 3; kj++) {
                            int64_t ii = i + ki - 1, jj = j + kj - 1;
                            if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                            acc += (double)wt[((o * c + ci) * 3 + ki) * 3 + kj] *
                                   x[(ci * h + ii) * w + jj];
                        }
                y[(o * h + i) * w + j] = acc;
            }
}

static void to_float(const double *d, float *f, int64_t n) {
    for (int64_t i = 0; i < n; i++) f[i] = (float)d[i];
}

static const float *const_data(const mr_graph *g, const char *name) {
    int t = mr_graph_find_tensor(g, name);
    return t >= 0 ? g->tensors[t].data : NULL;
}

/* The weights are regenerated by building the graph again (same seeds): the reference reads
 * them from an unfinalised graph. */
static mr_graph *rebuild(build_fn build) {
    mr_err e, *err = &e;
    mr_err_clear(err);
    mr_graph *g = mr_graph_create(err);
    if (!g) exit(1);
    build(g, err);
    return g;
}

static double relu_d(double v) {
    return v > 0 ? v : 0;
}
static double sigmoid_d(double v) {
    return 1.0 / (1.0 + exp(-v));
}

/* ======================================================================================== */
/* Topological sorting                                                                      */

/* Nodes added consumers-first: d = Add(Relu(s), s) with s = Sigmoid(x), then Tanh(d). */
static void build_out_of_order(mr_graph *g, mr_err *err) {
    int64_t dims[2] = {3, 7};
    int x = mr_test_add_input(g, "x", 2, dims, err);
    int s = MUST(mr_graph_add_tensor(g, "s", err));
    int r = MUST(mr_graph_add_tensor(g, "r", err));
    int d = MUST(mr_graph_add_tensor(g, "d", err));
    int y = MUST(mr_graph_add_tensor(g, "y", err));
    MUST(mr_graph_add_node(g, "tanh", "Tanh", 1, &d, 1, &y, err));
    MUST(mr_graph_add_node(g, "add", "Add", 2, (int[]){r, s}, 1, &d, err));
    MUST(mr_graph_add_node(g, "relu", "Relu", 1, &s, 1, &r, err));
    MUST(mr_graph_add_node(g, "sigmoid", "Sigmoid", 1, &x, 1, &s, err));
    mr_test_mark_output(g, y);
}

/* Every live node appears once, after the producers of all its inputs. */
static void check_topo(const mr_graph *g) {
    int *pos = malloc(sizeof(int) * (size_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++) pos[i] = -1;
    for (int k = 0; k < g->n_order; k++) {
        int nd = g->order[k];
        CHECK(nd >= 0 && nd < g->n_nodes && !g->nodes[nd].dead);
        CHECK_MSG(pos[nd] < 0, "node %d ordered twice", nd);
        pos[nd] = k;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const mr_node *n = &g->nodes[i];
        if (n->dead) continue;
        CHECK_MSG(pos[i] >= 0, "live node '%s' is not ordered", n->name);
        for (int k = 0; k < n->n_in; k++) {
            int t = n->in[k];
            if (t < 0 || g->tensors[t].data || g->tensors[t].is_input) continue;
            int p = -1;
            for (int j = 0; j < g->n_nodes; j++)
                for (int o = 0; !g->nodes[j].dead && o < g->nodes[j].n_out; o++)
                    if (g->nodes[j].out[o] == t) p = j;
            CHECK_MSG(p >= 0 && pos[p] >= 0 && pos[p] < pos[i],
                      "node '%s' runs before the producer of '%s'", n->name, g->tensors[t].name);
        }
    }
    free(pos);
}

static void test_topo_order(mr_runtime *rt) {
    mr_err e, *err = &e;
    mr_err_clear(err);
    mr_graph *g = rebuild(build_out_of_order);
    mr_status st = mr_graph_finalize(g, 0, err);
    CHECK_STATUS(st, MR_OK, err->msg, NULL);
    CHECK(g->n_order == 4);
    check_topo(g);
    if (g->n_order == 4) {
        /* The only valid order of this chain. */
        CHECK(strcmp(g->nodes[g->order[0]].name, "sigmoid") == 0);
        CHECK(strcmp(g->nodes[g->order[1]].name, "relu") == 0);
        CHECK(strcmp(g->nodes[g->order[2]].name, "add") == 0);
        CHECK(strcmp(g->nodes[g->order[3]].name, "tanh") == 0);
    }
    mr_graph_destroy(g);

    result r0, r1;
    run_both(rt, build_out_of_order, "out-of-order graph", &r0, &r1);
    if (r0.st == MR_OK) {
        float want[21];
        for (int i = 0; i < 21; i++) {
            double s = sigmoid_d(r0.in[0][i]);
            want[i] = (float)tanh(relu_d(s) + s);
        }
        check_close("out-of-order graph vs reference", r0.out[0], want, 21);
        CHECK(r0.stats.n_steps == 4 && r1.stats.n_steps == 4);
    }
    result_free(&r0);
    result_free(&r1);
}

/* ======================================================================================== */
/* Graph errors                                                                             */

/* A cycle a -> b -> c -> a, with nodes downstream of it added first (lower indices) so that
 * an error naming "the first node that could not be ordered" would name a node that is not on
 * the cycle. */
static void test_cycle(void) {
    mr_err e, *err = &e;
    mr_err_clear(err);
    mr_graph *g = mr_graph_create(err);
    int64_t dims[1] = {4};
    int x = mr_test_add_input(g, "x", 1, dims, err);
    int a = MUST(mr_graph_add_tensor(g, "a", err));
    int b = MUST(mr_graph_add_tensor(g, "b", err));
    int c = MUST(mr_graph_add_tensor(g, "c", err));
    int y = MUST(mr_graph_add_tensor(g, "y", err));
    int z = MUST(mr_graph_add_tensor(g, "z", err));
    MUST(mr_graph_add_node(g, "after2", "Relu", 1, &y, 1, &z, err));
    MUST(mr_graph_add_node(g, "after1", "Relu", 1, &c, 1, &y, err));
    MUST(mr_graph_add_node(g, "cyc_a", "Add", 2, (int[]){x, c}, 1, &a, err));
    MUST(mr_graph_add_node(g, "cyc_b", "Relu", 1, &a, 1, &b, err));
    MUST(mr_graph_add_node(g, "cyc_c", "Sigmoid", 1, &b, 1, &c, err));
    mr_test_mark_output(g, z);
    mr_status st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "cycle");
    CHECK_MSG(strstr(err->msg, "'cyc_a'") || strstr(err->msg, "'cyc_b'") ||
                  strstr(err->msg, "'cyc_c'"),
              "the message names no node on the cycle: %s", err->msg);
    mr_graph_destroy(g);

    /* A node reading its own output. */
    mr_err_clear(err);
    g = mr_graph_create(err);
    x = mr_test_add_input(g, "x", 1, dims, err);
    a = MUST(mr_graph_add_tensor(g, "a", err));
    MUST(mr_graph_add_node(g, "selfloop", "Add", 2, (int[]){x, a}, 1, &a, err));
    mr_test_mark_output(g, a);
    st = mr_graph_finalize(g, 0, err);
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "selfloop");
    mr_graph_destroy(g);
}

static void test_dangling(mr_runtime *rt) {
    mr_err e, *err = &e;
    mr_err_clear(err);
    mr_graph *g = mr_graph_create(err);
    int64_t dims[1] = {4};
    int x = mr_test_add_input(g, "x", 1, dims, err);
    int ghost = MUST(mr_graph_add_tensor(g, "ghost", err));
    int y;
    mr_test_add_node1(g, "adder", "Add", 2, (int[]){x, ghost}, &y, err);
    mr_test_mark_output(g, y);
    mr_status st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "'adder'");
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "'ghost'");
    mr_graph_destroy(g);

    /* Through the model API: the same error reaches the runtime's last error. */
    g = mr_graph_create(err);
    x = mr_test_add_input(g, "x", 1, dims, err);
    ghost = MUST(mr_graph_add_tensor(g, "ghost", err));
    mr_test_add_node1(g, "adder", "Add", 2, (int[]){x, ghost}, &y, err);
    mr_test_mark_output(g, y);
    mr_model *m = (mr_model *)1;
    st = mr_model_from_graph(rt, g, NULL, &m);
    CHECK_STATUS(st, MR_ERR_GRAPH, mr_runtime_last_error(rt), "'ghost'");
    CHECK(m == NULL);

    /* A graph output nothing produces. */
    g = mr_graph_create(err);
    x = mr_test_add_input(g, "x", 1, dims, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &x, &y, err);
    mr_test_mark_output(g, y);
    mr_test_mark_output(g, MUST(mr_graph_add_tensor(g, "nowhere", err)));
    st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "'nowhere'");
    mr_graph_destroy(g);

    /* A tensor written by two nodes. */
    g = mr_graph_create(err);
    x = mr_test_add_input(g, "x", 1, dims, err);
    y = MUST(mr_graph_add_tensor(g, "twice", err));
    MUST(mr_graph_add_node(g, "writer1", "Relu", 1, &x, 1, &y, err));
    MUST(mr_graph_add_node(g, "writer2", "Sigmoid", 1, &x, 1, &y, err));
    mr_test_mark_output(g, y);
    st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "'twice'");
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "'writer1'");
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "'writer2'");
    mr_graph_destroy(g);

    /* A node writing into a constant (the weights would change under the next run) or into a
     * graph input. */
    for (int v = 0; v < 2; v++) {
        g = mr_graph_create(err);
        x = mr_test_add_input(g, "x", 1, dims, err);
        int z = mr_test_add_input(g, "xin", 1, dims, err);
        float c[4] = {1, 2, 3, 4};
        int w = MUST(mr_graph_add_const(g, "wconst", MR_DTYPE_F32, 1, dims, c, err));
        int target = v ? z : w;
        MUST(mr_graph_add_node(g, "clobber", "Relu", 1, &x, 1, &target, err));
        mr_test_add_node1(g, "use", "Add", 2, (int[]){x, target}, &y, err);
        mr_test_mark_output(g, y);
        st = mr_graph_finalize(g, 1, err);
        CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "'clobber'");
        CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, v ? "'xin'" : "'wconst'");
        mr_graph_destroy(g);
    }

    /* No outputs at all. */
    g = mr_graph_create(err);
    x = mr_test_add_input(g, "x", 1, dims, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &x, &y, err);
    st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "output");
    mr_graph_destroy(g);
}

static void test_unknown_op_attr(void) {
    mr_err e, *err = &e;
    mr_err_clear(err);
    mr_graph *g = mr_graph_create(err);
    int64_t dims[1] = {4};
    int x = mr_test_add_input(g, "x", 1, dims, err);
    int y, z;
    mr_test_add_node1(g, "relu", "Relu", 1, &x, &y, err);
    mr_test_add_node1(g, "mystery_node", "FrobnicateV2", 1, &y, &z, err);
    mr_test_mark_output(g, z);
    mr_status st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err->msg, "FrobnicateV2");
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err->msg, "'mystery_node'");
    mr_graph_destroy(g);

    /* A known op type from a foreign domain is not the ONNX op. */
    g = mr_graph_create(err);
    x = mr_test_add_input(g, "x", 1, dims, err);
    int nd = mr_test_add_node1(g, "ms_relu", "Relu", 1, &x, &y, err);
    free(g->nodes[nd].domain);
    g->nodes[nd].domain = strdup("com.example");
    mr_test_mark_output(g, y);
    st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err->msg, "com.example");
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err->msg, "'ms_relu'");
    mr_graph_destroy(g);

    /* An attribute the op does not know. */
    g = mr_graph_create(err);
    x = mr_test_add_input(g, "x", 1, dims, err);
    nd = mr_test_add_node1(g, "relu_attr", "Relu", 1, &x, &y, err);
    MUST(mr_node_set_int(g, nd, "bogus_flag", 3, err) == MR_OK ? 0 : -1);
    mr_test_mark_output(g, y);
    st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err->msg, "'bogus_flag'");
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err->msg, "'relu_attr'");
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, err->msg, "Relu");
    mr_graph_destroy(g);

    /* Too many inputs for the op. */
    g = mr_graph_create(err);
    x = mr_test_add_input(g, "x", 1, dims, err);
    mr_test_add_node1(g, "relu3", "Relu", 3, (int[]){x, x, x}, &y, err);
    mr_test_mark_output(g, y);
    st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_ERR_GRAPH, err->msg, "'relu3'");
    mr_graph_destroy(g);
}

/* ======================================================================================== */
/* Constant folding                                                                         */

/* torch.flatten(x, 1) as PyTorch exports it with dynamic shapes:
 *   s = Shape(x); b = Gather(s, 0); u = Unsqueeze(b, [0]); shp = Concat(u, [-1]);
 *   y = Relu(Reshape(x, shp)) */
static void build_flatten_chain(mr_graph *g, mr_err *err) {
    int64_t dims[4] = {2, 3, 4, 5};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int s, b, u, shp, f, y;
    mr_test_add_node1(g, "shape", "Shape", 1, &x, &s, err);
    int64_t zero = 0, minus1 = -1, one = 1;
    int idx = i64_const(g, "idx0", 0, NULL, &zero, err);
    int nd = mr_test_add_node1(g, "gather", "Gather", 2, (int[]){s, idx}, &b, err);
    MUST(mr_node_set_int(g, nd, "axis", 0, err) == MR_OK ? 0 : -1);
    int axes = i64_const(g, "axes0", 1, &one, &zero, err);
    mr_test_add_node1(g, "unsqueeze", "Unsqueeze", 2, (int[]){b, axes}, &u, err);
    int m1 = i64_const(g, "minus1", 1, &one, &minus1, err);
    nd = mr_test_add_node1(g, "concat", "Concat", 2, (int[]){u, m1}, &shp, err);
    MUST(mr_node_set_int(g, nd, "axis", 0, err) == MR_OK ? 0 : -1);
    mr_test_add_node1(g, "reshape", "Reshape", 2, (int[]){x, shp}, &f, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &f, &y, err);
    mr_test_mark_output(g, y);
}

/* y = x * (a + b): the Add of two constants folds into one constant. */
static void build_const_add(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 77);
    int64_t dims[2] = {3, 5};
    int x = mr_test_add_input(g, "x", 2, dims, err);
    int a = mr_test_rand_const(g, &r, "ca", 2, dims, -1.0f, 1.0f, err);
    int b = mr_test_rand_const(g, &r, "cb", 1, &dims[1], -1.0f, 1.0f, err);
    int c, y;
    mr_test_add_node1(g, "const_add", "Add", 2, (int[]){a, b}, &c, err);
    mr_test_add_node1(g, "mul", "Mul", 2, (int[]){x, c}, &y, err);
    mr_test_mark_output(g, y);
}

static void test_const_fold(mr_runtime *rt) {
    mr_err e, *err = &e;
    mr_err_clear(err);
    for (int opt = 0; opt <= 1; opt++) {
        mr_graph *g = rebuild(build_flatten_chain);
        mr_status st = mr_graph_finalize(g, opt, err);
        CHECK_STATUS(st, MR_OK, err->msg, NULL);
        if (st == MR_OK) {
            const char *folded[] = {"shape", "gather", "unsqueeze", "concat"};
            for (int i = 0; i < 4; i++)
                CHECK_MSG(g->nodes[find_node(g, folded[i])].dead, "%s was not folded", folded[i]);
            CHECK(!g->nodes[find_node(g, "reshape")].dead);
            const mr_tensor_desc *shp = &g->tensors[mr_graph_find_tensor(g, "concat")];
            CHECK(shp->data && shp->dtype == MR_DTYPE_I64 && shp->ndim == 1 && shp->dims[0] == 2);
            if (shp->data) {
                const int64_t *v = shp->data;
                CHECK(v[0] == 2 && v[1] == -1);
            }
            const mr_tensor_desc *y = &g->tensors[g->outputs[0]];
            CHECK(y->ndim == 2 && y->dims[0] == 2 && y->dims[1] == 60);
            CHECK(g->n_order == 2);
        }
        mr_graph_destroy(g);
    }
    result r0, r1;
    run_both(rt, build_flatten_chain, "flatten chain", &r0, &r1);
    if (r0.st == MR_OK) {
        CHECK(r0.out_numel[0] == 120);
        float want[120];
        for (int i = 0; i < 120; i++) want[i] = r0.in[0][i] > 0 ? r0.in[0][i] : 0;
        check_close("flatten chain vs reference", r0.out[0], want, 120);
        /* Reshape aliases its input: only the Relu executes. */
        CHECK(r0.stats.n_steps == 1 && r1.stats.n_steps == 1);
    }
    result_free(&r0);
    result_free(&r1);

    mr_graph *g = rebuild(build_const_add);
    mr_status st = mr_graph_finalize(g, 1, err);
    CHECK_STATUS(st, MR_OK, err->msg, NULL);
    if (st == MR_OK) {
        CHECK(g->nodes[find_node(g, "const_add")].dead);
        CHECK(g->n_order == 1);
        const mr_tensor_desc *c = &g->tensors[mr_graph_find_tensor(g, "const_add")];
        CHECK(c->data && c->ndim == 2 && c->dims[0] == 3 && c->dims[1] == 5);
    }
    mr_graph_destroy(g);
    run_both(rt, build_const_add, "constant Add", &r0, &r1);
    if (r0.st == MR_OK) {
        mr_graph *rg = rebuild(build_const_add);
        const float *a = const_data(rg, "ca"), *b = const_data(rg, "cb");
        float want[15];
        for (int i = 0; i < 15; i++) want[i] = (float)(r0.in[0][i] * ((double)a[i] + b[i % 5]));
        check_close("constant Add vs reference", r0.out[0], want, 15);
        CHECK(r0.stats.n_steps == 1 && r1.stats.n_steps == 1);
        mr_graph_destroy(rg);
    }
    result_free(&r0);
    result_free(&r1);
}

/* ======================================================================================== */
/* BatchNorm folding                                                                        */

enum { BN_C = 3, BN_M = 5, BN_H = 7, BN_W = 6 };
#define BN_EPS 1e-3f

static void build_conv_bn(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 11);
    int64_t dims[4] = {1, BN_C, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int c, y;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    batchnorm(g, &r, "bn", c, BN_M, BN_EPS, &y, err);
    mr_test_mark_output(g, y);
}

/* Without a Conv bias, then a Relu that fuses too. */
static void build_conv_bn_relu(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 12);
    int64_t dims[4] = {1, BN_C, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int c, b, y;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 0, &c, err);
    batchnorm(g, &r, "bn", c, BN_M, BN_EPS, &b, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &b, &y, err);
    mr_test_mark_output(g, y);
}

/* The Conv result also feeds a Sigmoid: folding would change that consumer's input. */
static void build_conv_bn_shared(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 13);
    int64_t dims[4] = {1, BN_C, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int c, y1, y2;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    batchnorm(g, &r, "bn", c, BN_M, BN_EPS, &y1, err);
    mr_test_add_node1(g, "sig", "Sigmoid", 1, &c, &y2, err);
    mr_test_mark_output(g, y1);
    mr_test_mark_output(g, y2);
}

/* The Conv result is itself a graph output. */
static void build_conv_bn_output(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 14);
    int64_t dims[4] = {1, BN_C, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int c, y;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    batchnorm(g, &r, "bn", c, BN_M, BN_EPS, &y, err);
    mr_test_mark_output(g, c);
    mr_test_mark_output(g, y);
}

/* conv -> (optional) BN -> (optional) relu, computed from the weights of a rebuilt graph. */
static void conv_bn_ref(build_fn build, const float *x, int bias, int bn, int relu, float *conv_out,
                        float *y) {
    mr_graph *g = rebuild(build);
    enum { N = BN_M * BN_H * BN_W };
    double c[N];
    conv3x3_ref(x, BN_C, BN_H, BN_W, const_data(g, "conv.w"), bias ? const_data(g, "conv.b") : NULL,
                BN_M, c);
    if (conv_out) to_float(c, conv_out, N);
    const float *ga = const_data(g, "bn.gamma"), *be = const_data(g, "bn.beta");
    const float *mu = const_data(g, "bn.mean"), *va = const_data(g, "bn.var");
    for (int i = 0; i < N; i++) {
        int ch = i / (BN_H * BN_W);
        double v = c[i];
        if (bn) v = ga[ch] * (v - mu[ch]) / sqrt((double)va[ch] + BN_EPS) + be[ch];
        if (relu) v = relu_d(v);
        y[i] = (float)v;
    }
    mr_graph_destroy(g);
}

static void test_fold_batchnorm(mr_runtime *rt) {
    enum { N = BN_M * BN_H * BN_W };
    float want[N], want_c[N];
    result r0, r1;

    run_both(rt, build_conv_bn, "Conv+BN", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        conv_bn_ref(build_conv_bn, r0.in[0], 1, 1, 0, NULL, want);
        check_close("Conv+BN (optimize=0) vs reference", r0.out[0], want, N);
        check_close("Conv+BN (optimize=1) vs reference", r1.out[0], want, N);
        CHECK(r0.stats.n_steps == 2);
        CHECK_MSG(r1.stats.n_steps == 1, "%d steps", r1.stats.n_steps);
        CHECK_MSG(strcmp(r1.labels[0], "Conv+BatchNormalization") == 0, "label %s", r1.labels[0]);
        CHECK(strcmp(r0.labels[0], "Conv") == 0);
        CHECK(strcmp(r0.labels[1], "BatchNormalization") == 0);
        /* conv weight + bias + gamma + beta; running mean/var are buffers, not parameters */
        int64_t want_params = BN_M * BN_C * 9 + BN_M + 2 * BN_M;
        CHECK_MSG(r0.stats.n_params == want_params, "n_params %lld, want %lld",
                  (long long)r0.stats.n_params, (long long)want_params);
        CHECK(r1.stats.n_params == want_params);
        CHECK(r0.stats.n_nodes == 2 && r1.stats.n_nodes == 2);
        CHECK(r1.dead[1] && !r1.dead[0]);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_conv_bn_relu, "Conv+BN+Relu", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        conv_bn_ref(build_conv_bn_relu, r0.in[0], 0, 1, 1, NULL, want);
        check_close("Conv+BN+Relu (optimize=1) vs reference", r1.out[0], want, N);
        check_close("Conv+BN+Relu (optimize=0) vs reference", r0.out[0], want, N);
        CHECK(r0.stats.n_steps == 3);
        CHECK(r1.stats.n_steps == 1);
        CHECK_MSG(strcmp(r1.labels[0], "Conv+BatchNormalization+Relu") == 0, "label %s",
                  r1.labels[0]);
        CHECK(r0.stats.n_params == BN_M * BN_C * 9 + 2 * BN_M);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_conv_bn_shared, "Conv+BN, shared Conv output", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        conv_bn_ref(build_conv_bn_shared, r0.in[0], 1, 1, 0, want_c, want);
        check_close("shared Conv output: BN", r1.out[0], want, N);
        for (int i = 0; i < N; i++) want_c[i] = (float)sigmoid_d(want_c[i]);
        check_close("shared Conv output: Sigmoid", r1.out[1], want_c, N);
        CHECK(r0.stats.n_steps == 3 && r1.stats.n_steps == 3);
        CHECK(strcmp(r1.labels[0], "Conv") == 0);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_conv_bn_output, "Conv+BN, Conv output is a graph output", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        conv_bn_ref(build_conv_bn_output, r0.in[0], 1, 1, 0, want_c, want);
        check_close("Conv output as graph output: Conv", r1.out[0], want_c, N);
        check_close("Conv output as graph output: BN", r1.out[1], want, N);
        CHECK(r0.stats.n_steps == 2 && r1.stats.n_steps == 2);
    }
    result_free(&r0);
    result_free(&r1);
}

/* ======================================================================================== */
/* Activation and bias fusion                                                               */

enum { FC_M = 3, FC_K = 8, FC_N = 6 };

static void build_conv_relu(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 21);
    int64_t dims[4] = {1, BN_C, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int c, y;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &c, &y, err);
    mr_test_mark_output(g, y);
}

/* Gemm(transB=1) -> Clip(0, 6) (ReLU6 with the bounds as constant inputs, opset >= 11).
 * Weights U(-2,2) over 8 inputs in U(-2,2) give pre-activations well beyond both bounds. */
static void build_gemm_clip(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 22);
    int64_t xd[2] = {FC_M, FC_K}, wd[2] = {FC_N, FC_K}, n = FC_N;
    int x = mr_test_add_input(g, "x", 2, xd, err);
    int w = mr_test_rand_const(g, &r, "fc.w", 2, wd, -2.0f, 2.0f, err);
    int b = mr_test_rand_const(g, &r, "fc.b", 1, &n, -1.0f, 1.0f, err);
    int lo = scalar_const(g, "lo", 0.0f, err), hi = scalar_const(g, "hi", 6.0f, err);
    int f, y;
    int nd = mr_test_add_node1(g, "fc", "Gemm", 3, (int[]){x, w, b}, &f, err);
    MUST(mr_node_set_int(g, nd, "transB", 1, err) == MR_OK ? 0 : -1);
    mr_test_add_node1(g, "relu6", "Clip", 3, (int[]){f, lo, hi}, &y, err);
    mr_test_mark_output(g, y);
}

/* MatMul -> Add(bias) -> Relu: "MatMul+Add+Relu". */
static void build_matmul_add_relu(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 23);
    int64_t xd[2] = {FC_M, FC_K}, wd[2] = {FC_K, FC_N}, n = FC_N;
    int x = mr_test_add_input(g, "x", 2, xd, err);
    int w = mr_test_rand_const(g, &r, "mm.w", 2, wd, -1.0f, 1.0f, err);
    int b = mr_test_rand_const(g, &r, "mm.b", 1, &n, -1.0f, 1.0f, err);
    int m, a, y;
    mr_test_add_node1(g, "mm", "MatMul", 2, (int[]){x, w}, &m, err);
    mr_test_add_node1(g, "bias", "Add", 2, (int[]){m, b}, &a, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &a, &y, err);
    mr_test_mark_output(g, y);
}

/* The same with the bias as Add's first input. */
static void build_matmul_add_swapped(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 23);
    int64_t xd[2] = {FC_M, FC_K}, wd[2] = {FC_K, FC_N}, n = FC_N;
    int x = mr_test_add_input(g, "x", 2, xd, err);
    int w = mr_test_rand_const(g, &r, "mm.w", 2, wd, -1.0f, 1.0f, err);
    int b = mr_test_rand_const(g, &r, "mm.b", 1, &n, -1.0f, 1.0f, err);
    int m, a, y;
    mr_test_add_node1(g, "mm", "MatMul", 2, (int[]){x, w}, &m, err);
    mr_test_add_node1(g, "bias", "Add", 2, (int[]){b, m}, &a, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &a, &y, err);
    mr_test_mark_output(g, y);
}

/* Batched: [2,3,8] x [8,6] + [6] -> Relu; the fused bias covers every row of every batch. */
static void build_matmul_batched(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 23);
    int64_t xd[3] = {2, FC_M, FC_K}, wd[2] = {FC_K, FC_N}, n = FC_N;
    int x = mr_test_add_input(g, "x", 3, xd, err);
    int w = mr_test_rand_const(g, &r, "mm.w", 2, wd, -1.0f, 1.0f, err);
    int b = mr_test_rand_const(g, &r, "mm.b", 1, &n, -1.0f, 1.0f, err);
    int m, a, y;
    mr_test_add_node1(g, "mm", "MatMul", 2, (int[]){x, w}, &m, err);
    mr_test_add_node1(g, "bias", "Add", 2, (int[]){m, b}, &a, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &a, &y, err);
    mr_test_mark_output(g, y);
}

/* The MatMul result also feeds a Tanh, and the Add result is a graph output besides feeding
 * the Relu: neither the bias nor the activation may fuse. */
static void build_matmul_shared(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 23);
    int64_t xd[2] = {FC_M, FC_K}, wd[2] = {FC_K, FC_N}, n = FC_N;
    int x = mr_test_add_input(g, "x", 2, xd, err);
    int w = mr_test_rand_const(g, &r, "mm.w", 2, wd, -1.0f, 1.0f, err);
    int b = mr_test_rand_const(g, &r, "mm.b", 1, &n, -1.0f, 1.0f, err);
    int m, a, y, t;
    mr_test_add_node1(g, "mm", "MatMul", 2, (int[]){x, w}, &m, err);
    mr_test_add_node1(g, "bias", "Add", 2, (int[]){m, b}, &a, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &a, &y, err);
    mr_test_add_node1(g, "tanh", "Tanh", 1, &m, &t, err);
    mr_test_mark_output(g, y);
    mr_test_mark_output(g, t);
    mr_test_mark_output(g, a);
}

/* Conv output with two consumers (Relu and Sigmoid): no fusion. */
static void build_conv_two_consumers(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 21);
    int64_t dims[4] = {1, BN_C, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int c, y1, y2;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &c, &y1, err);
    mr_test_add_node1(g, "sig", "Sigmoid", 1, &c, &y2, err);
    mr_test_mark_output(g, y1);
    mr_test_mark_output(g, y2);
}

/* Conv output is a graph output and feeds a Relu: no fusion (the output must stay
 * pre-activation). */
static void build_conv_out_relu(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 21);
    int64_t dims[4] = {1, BN_C, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int c, y;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &c, &y, err);
    mr_test_mark_output(g, c);
    mr_test_mark_output(g, y);
}

static void fc_ref(build_fn build, const float *x, const char *wname, const char *bname,
                   int trans_b, double *y) {
    mr_graph *g = rebuild(build);
    const float *w = const_data(g, wname), *b = const_data(g, bname);
    for (int i = 0; i < FC_M; i++)
        for (int j = 0; j < FC_N; j++) {
            double acc = b[j];
            for (int k = 0; k < FC_K; k++)
                acc += (double)x[i * FC_K + k] * (trans_b ? w[j * FC_K + k] : w[k * FC_N + j]);
            y[i * FC_N + j] = acc;
        }
    mr_graph_destroy(g);
}

static void test_fuse_activation(mr_runtime *rt) {
    enum { N = BN_M * BN_H * BN_W, F = FC_M * FC_N };
    float want[N], want2[N];
    double d[N];
    result r0, r1;

    run_both(rt, build_conv_relu, "Conv+Relu", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        conv_bn_ref(build_conv_relu, r0.in[0], 1, 0, 1, NULL, want);
        check_close("Conv+Relu vs reference", r1.out[0], want, N);
        CHECK(r0.stats.n_steps == 2 && r1.stats.n_steps == 1);
        CHECK_MSG(strcmp(r1.labels[0], "Conv+Relu") == 0, "label %s", r1.labels[0]);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_gemm_clip, "Gemm+Clip", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        fc_ref(build_gemm_clip, r0.in[0], "fc.w", "fc.b", 1, d);
        int below = 0, above = 0;
        for (int i = 0; i < F; i++) {
            below += d[i] < 0;
            above += d[i] > 6;
            want[i] = (float)(d[i] < 0 ? 0 : d[i] > 6 ? 6 : d[i]);
        }
        CHECK_MSG(below > 0 && above > 0, "test data does not reach both bounds (%d, %d)", below,
                  above);
        check_close("Gemm+Clip vs reference", r1.out[0], want, F);
        /* Gemm weight + bias; Clip's bounds are not learnable parameters. */
        CHECK_MSG(r0.stats.n_params == FC_N * FC_K + FC_N && r1.stats.n_params == r0.stats.n_params,
                  "n_params %lld / %lld, want %d", (long long)r0.stats.n_params,
                  (long long)r1.stats.n_params, FC_N * FC_K + FC_N);
        CHECK(r0.stats.n_steps == 2 && r1.stats.n_steps == 1);
        CHECK_MSG(strcmp(r1.labels[0], "Gemm+Clip") == 0, "label %s", r1.labels[0]);
    }
    result_free(&r0);
    result_free(&r1);

    build_fn mm_variants[2] = {build_matmul_add_relu, build_matmul_add_swapped};
    for (int v = 0; v < 2; v++) {
        run_both(rt, mm_variants[v], v ? "MatMul+Add(swapped)+Relu" : "MatMul+Add+Relu", &r0, &r1);
        if (r0.st == MR_OK && r1.st == MR_OK) {
            fc_ref(mm_variants[v], r0.in[0], "mm.w", "mm.b", 0, d);
            for (int i = 0; i < F; i++) want[i] = (float)relu_d(d[i]);
            check_close("MatMul+Add+Relu vs reference", r1.out[0], want, F);
            CHECK(r0.stats.n_steps == 3);
            CHECK_MSG(r1.stats.n_steps == 1, "%d steps", r1.stats.n_steps);
            CHECK_MSG(strcmp(r1.labels[0], "MatMul+Add+Relu") == 0, "label %s", r1.labels[0]);
        }
        result_free(&r0);
        result_free(&r1);
    }

    run_both(rt, build_matmul_batched, "batched MatMul+Add+Relu", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        float wb[2 * F];
        for (int bt = 0; bt < 2; bt++) {
            fc_ref(build_matmul_batched, r0.in[0] + bt * FC_M * FC_K, "mm.w", "mm.b", 0, d);
            for (int i = 0; i < F; i++) wb[bt * F + i] = (float)relu_d(d[i]);
        }
        check_close("batched MatMul+Add+Relu vs reference", r1.out[0], wb, 2 * F);
        CHECK(r0.stats.n_steps == 3 && r1.stats.n_steps == 1);
        CHECK_MSG(strcmp(r1.labels[0], "MatMul+Add+Relu") == 0, "label %s", r1.labels[0]);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_matmul_shared, "MatMul with shared results", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        fc_ref(build_matmul_shared, r0.in[0], "mm.w", "mm.b", 0, d);
        mr_graph *g = rebuild(build_matmul_shared);
        const float *b = const_data(g, "mm.b");
        float wt[F], wa[F];
        for (int i = 0; i < F; i++) {
            want[i] = (float)relu_d(d[i]);
            wa[i] = (float)d[i];
            wt[i] = (float)tanh(d[i] - b[i % FC_N]);
        }
        mr_graph_destroy(g);
        check_close("shared MatMul: Relu", r1.out[0], want, F);
        check_close("shared MatMul: Tanh", r1.out[1], wt, F);
        check_close("shared MatMul: Add", r1.out[2], wa, F);
        CHECK_MSG(r0.stats.n_steps == 4 && r1.stats.n_steps == 4, "%d / %d steps", r0.stats.n_steps,
                  r1.stats.n_steps);
        for (int i = 0; i < 4; i++) CHECK_MSG(!strchr(r1.labels[i], '+'), "%s", r1.labels[i]);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_conv_two_consumers, "Conv with two consumers", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        conv_bn_ref(build_conv_two_consumers, r0.in[0], 1, 0, 1, want2, want);
        check_close("Conv with two consumers: Relu", r1.out[0], want, N);
        for (int i = 0; i < N; i++) want2[i] = (float)sigmoid_d(want2[i]);
        check_close("Conv with two consumers: Sigmoid", r1.out[1], want2, N);
        CHECK(r0.stats.n_steps == 3 && r1.stats.n_steps == 3);
        CHECK(strcmp(r1.labels[0], "Conv") == 0);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_conv_out_relu, "Conv output is a graph output", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        conv_bn_ref(build_conv_out_relu, r0.in[0], 1, 0, 1, want2, want);
        check_close("Conv graph output (pre-activation)", r1.out[0], want2, N);
        check_close("Conv graph output: Relu", r1.out[1], want, N);
        CHECK(r0.stats.n_steps == 2 && r1.stats.n_steps == 2);
        CHECK(strcmp(r1.labels[0], "Conv") == 0);
    }
    result_free(&r0);
    result_free(&r1);
}

/* ---- residual fusion: Conv then Add of a tensor of its shape ---- */

/* y = Relu(Conv(x) + s), s a second graph input: the residual joins the Conv's epilogue and
 * the Relu then fuses after it. */
static void build_conv_add_relu(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 31);
    int64_t dx[4] = {1, BN_C, BN_H, BN_W}, ds[4] = {1, BN_M, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dx, err);
    int s = mr_test_add_input(g, "s", 4, ds, err);
    int c, a, y;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    mr_test_add_node1(g, "add", "Add", 2, (int[]){c, s}, &a, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &a, &y, err);
    mr_test_mark_output(g, y);
}

/* Add(s, Conv(x)) (the Conv result second), Conv without a bias, no activation. */
static void build_add_conv_swapped(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 32);
    int64_t dx[4] = {1, BN_C, BN_H, BN_W}, ds[4] = {1, BN_M, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dx, err);
    int s = mr_test_add_input(g, "s", 4, ds, err);
    int c, y;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 0, &c, err);
    mr_test_add_node1(g, "add", "Add", 2, (int[]){s, c}, &y, err);
    mr_test_mark_output(g, y);
}

/* ResNet's downsampling block: Relu(Conv_a(x) + Conv_b(x)); one Conv takes the other's result
 * as its residual, whichever order the re-sort gives them. */
static void build_two_convs_add(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 33);
    int64_t dx[4] = {1, BN_C, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dx, err);
    int ca, cb, a, y;
    conv3x3(g, &r, "conv_a", x, BN_C, BN_M, 1, &ca, err);
    conv3x3(g, &r, "conv_b", x, BN_C, BN_M, 1, &cb, err);
    mr_test_add_node1(g, "add", "Add", 2, (int[]){ca, cb}, &a, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &a, &y, err);
    mr_test_mark_output(g, y);
}

/* A depthwise Conv (group = channels: the CPU's DIRECT kernel) with a residual and Relu. */
static void build_dw_add_relu(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 34);
    int64_t dx[4] = {1, BN_M, BN_H, BN_W}, wd[4] = {BN_M, 1, 3, 3}, nb = BN_M;
    int x = mr_test_add_input(g, "x", 4, dx, err);
    int s = mr_test_add_input(g, "s", 4, dx, err);
    int w = mr_test_rand_const(g, &r, "dw.w", 4, wd, -0.5f, 0.5f, err);
    int b = mr_test_rand_const(g, &r, "dw.b", 1, &nb, -0.5f, 0.5f, err);
    int c, a, y;
    int nd = mr_test_add_node1(g, "dw", "Conv", 3, (int[]){x, w, b}, &c, err);
    static const int64_t k[2] = {3, 3}, pads[4] = {1, 1, 1, 1};
    set_ints(g, nd, "kernel_shape", 2, k, err);
    set_ints(g, nd, "pads", 4, pads, err);
    mr_attr *ga = mr_node_add_attr(g, nd, "group", MR_ATTR_INT, err);
    MUST(ga ? 0 : -1);
    ga->i = BN_M;
    mr_test_add_node1(g, "add", "Add", 2, (int[]){c, s}, &a, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &a, &y, err);
    mr_test_mark_output(g, y);
}

/* Not fused: the Add broadcasts a per-channel tensor over the Conv result. */
static void build_conv_add_broadcast(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 35);
    int64_t dx[4] = {1, BN_C, BN_H, BN_W}, ds[4] = {1, BN_M, 1, 1};
    int x = mr_test_add_input(g, "x", 4, dx, err);
    int s = mr_test_add_input(g, "s", 4, ds, err);
    int c, y;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    mr_test_add_node1(g, "add", "Add", 2, (int[]){c, s}, &y, err);
    mr_test_mark_output(g, y);
}

/* Not fused: the Conv result is also a graph output. */
static void build_conv_add_out(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 36);
    int64_t dx[4] = {1, BN_C, BN_H, BN_W}, ds[4] = {1, BN_M, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dx, err);
    int s = mr_test_add_input(g, "s", 4, ds, err);
    int c, y;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    mr_test_add_node1(g, "add", "Add", 2, (int[]){c, s}, &y, err);
    mr_test_mark_output(g, c);
    mr_test_mark_output(g, y);
}

/* Not fused: Relu before the Add (the activation fuses, the Add stays after it), and an Add of
 * the Conv result to itself. */
static void build_conv_relu_add(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 37);
    int64_t dx[4] = {1, BN_C, BN_H, BN_W}, ds[4] = {1, BN_M, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dx, err);
    int s = mr_test_add_input(g, "s", 4, ds, err);
    int c, rl, y, c2, y2;
    conv3x3(g, &r, "conv", x, BN_C, BN_M, 1, &c, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &c, &rl, err);
    mr_test_add_node1(g, "add", "Add", 2, (int[]){rl, s}, &y, err);
    conv3x3(g, &r, "conv2", x, BN_C, BN_M, 1, &c2, err);
    mr_test_add_node1(g, "twice", "Add", 2, (int[]){c2, c2}, &y2, err);
    mr_test_mark_output(g, y);
    mr_test_mark_output(g, y2);
}

/* 1 if the optimised run's outputs are bitwise the unoptimised run's. */
static int same_bits(const result *r0, const result *r1) {
    if (r0->n_out != r1->n_out) return 0;
    for (int i = 0; i < r0->n_out; i++)
        if (r0->out_numel[i] != r1->out_numel[i] ||
            memcmp(r0->out[i], r1->out[i], sizeof(float) * (size_t)r0->out_numel[i]) != 0)
            return 0;
    return 1;
}

static int count_label(const result *r, const char *label) {
    int n = 0;
    for (int k = 0; k < 16; k++) n += strcmp(r->labels[k], label) == 0;
    return n;
}

static void test_fuse_residual(mr_runtime *rt) {
    enum { N = BN_M * BN_H * BN_W };
    float want[N], conv_out[N];
    result r0, r1;

    /* The fused sums are the Add's, in the same order (bias, then the residual): the same
     * bits as the unfused graph, and close to a double-precision reference. */
    run_both(rt, build_conv_add_relu, "Conv+Add+Relu", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        conv_bn_ref(build_conv_add_relu, r0.in[0], 1, 0, 0, conv_out, want);
        for (int i = 0; i < N; i++) want[i] = (float)relu_d((double)conv_out[i] + r0.in[1][i]);
        check_close("Conv+Add+Relu vs reference", r1.out[0], want, N);
        CHECK_MSG(same_bits(&r0, &r1), "Conv+Add+Relu: not the unfused graph's bits");
        CHECK_MSG(r0.stats.n_steps == 3 && r1.stats.n_steps == 1, "%d / %d steps", r0.stats.n_steps,
                  r1.stats.n_steps);
        CHECK_MSG(strcmp(r1.labels[0], "Conv+Add+Relu") == 0, "label %s", r1.labels[0]);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_add_conv_swapped, "Add(s, Conv)", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        CHECK_MSG(same_bits(&r0, &r1), "Add(s, Conv): not the unfused graph's bits");
        CHECK(r0.stats.n_steps == 2 && r1.stats.n_steps == 1);
        CHECK_MSG(strcmp(r1.labels[0], "Conv+Add") == 0, "label %s", r1.labels[0]);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_two_convs_add, "Conv_a + Conv_b", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        CHECK_MSG(same_bits(&r0, &r1), "Conv_a + Conv_b: not the unfused graph's bits");
        CHECK_MSG(r0.stats.n_steps == 4 && r1.stats.n_steps == 2, "%d / %d steps", r0.stats.n_steps,
                  r1.stats.n_steps);
        CHECK_MSG(strcmp(r1.labels[0], "Conv") == 0 && strcmp(r1.labels[1], "Conv+Add+Relu") == 0,
                  "labels %s, %s", r1.labels[0], r1.labels[1]);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_dw_add_relu, "depthwise Conv+Add+Relu", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        CHECK_MSG(same_bits(&r0, &r1), "depthwise Conv+Add+Relu: not the unfused graph's bits");
        CHECK(r0.stats.n_steps == 3 && r1.stats.n_steps == 1);
        CHECK_MSG(strcmp(r1.labels[0], "Conv+Add+Relu") == 0, "label %s", r1.labels[0]);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_conv_add_broadcast, "Conv + broadcast", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        CHECK(r1.stats.n_steps == 2 && count_label(&r1, "Add") == 1);
        CHECK(strcmp(r1.labels[0], "Conv") == 0);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_conv_add_out, "Conv result also an output", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        CHECK(r1.stats.n_steps == 2 && count_label(&r1, "Add") == 1);
        CHECK(strcmp(r1.labels[0], "Conv") == 0);
    }
    result_free(&r0);
    result_free(&r1);

    run_both(rt, build_conv_relu_add, "Conv, Relu, Add; Add(c, c)", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        CHECK_MSG(r1.stats.n_steps == 4, "%d steps", r1.stats.n_steps);
        CHECK(count_label(&r1, "Conv+Relu") == 1 && count_label(&r1, "Conv") == 1);
        CHECK(count_label(&r1, "Add") == 2);
    }
    result_free(&r0);
    result_free(&r1);
}

/* Clip whose upper bound is a graph input: only known at run time, so it cannot move into
 * the Gemm's epilogue. */
static void build_gemm_clip_runtime(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 22);
    int64_t xd[2] = {FC_M, FC_K}, wd[2] = {FC_N, FC_K}, n = FC_N;
    int x = mr_test_add_input(g, "x", 2, xd, err);
    int hi = mr_test_add_input(g, "hi", 0, NULL, err);
    int w = mr_test_rand_const(g, &r, "fc.w", 2, wd, -2.0f, 2.0f, err);
    int b = mr_test_rand_const(g, &r, "fc.b", 1, &n, -1.0f, 1.0f, err);
    int lo = scalar_const(g, "lo", 0.0f, err);
    int f, y;
    int nd = mr_test_add_node1(g, "fc", "Gemm", 3, (int[]){x, w, b}, &f, err);
    MUST(mr_node_set_int(g, nd, "transB", 1, err) == MR_OK ? 0 : -1);
    mr_test_add_node1(g, "clip", "Clip", 3, (int[]){f, lo, hi}, &y, err);
    mr_test_mark_output(g, y);
}

/* An output that folds to a constant next to a computed one; and a graph with no inputs at
 * all, whose only output is a folded constant (nothing to execute, an empty arena). */
static void build_const_output(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 41);
    int64_t dims[1] = {6};
    int x = mr_test_add_input(g, "x", 1, dims, err);
    int a = mr_test_rand_const(g, &r, "ca", 1, dims, -1.0f, 1.0f, err);
    int b = mr_test_rand_const(g, &r, "cb", 1, dims, -1.0f, 1.0f, err);
    int c, y;
    mr_test_add_node1(g, "const_add", "Add", 2, (int[]){a, b}, &c, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &x, &y, err);
    mr_test_mark_output(g, c);
    mr_test_mark_output(g, y);
}

static void build_all_const(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 41);
    int64_t dims[1] = {6};
    int a = mr_test_rand_const(g, &r, "ca", 1, dims, -1.0f, 1.0f, err);
    int b = mr_test_rand_const(g, &r, "cb", 1, dims, -1.0f, 1.0f, err);
    int c;
    mr_test_add_node1(g, "const_add", "Add", 2, (int[]){a, b}, &c, err);
    mr_test_mark_output(g, c);
}

static void test_runtime_bounds_and_const_outputs(mr_runtime *rt) {
    enum { F = FC_M * FC_N };
    result r0, r1;
    run_both(rt, build_gemm_clip_runtime, "Gemm + Clip with a run-time bound", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        double d[F];
        float want[F];
        fc_ref(build_gemm_clip_runtime, r0.in[0], "fc.w", "fc.b", 1, d);
        double hi = r0.in[1][0];
        int below = 0, above = 0;
        for (int i = 0; i < F; i++) {
            double v = d[i] < 0 ? 0 : d[i]; /* ONNX: min(max(x, lo), hi) */
            want[i] = (float)(v > hi ? hi : v);
            below += d[i] < 0;
            above += d[i] > hi;
        }
        CHECK(below > 0 && above > 0);
        check_close("Gemm + Clip(run-time bound) vs reference", r1.out[0], want, F);
        CHECK(r0.stats.n_steps == 2 && r1.stats.n_steps == 2);
    }
    result_free(&r0);
    result_free(&r1);

    build_fn builds[2] = {build_const_output, build_all_const};
    for (int v = 0; v < 2; v++) {
        run_both(rt, builds[v], v ? "all-constant graph" : "constant output", &r0, &r1);
        if (r0.st == MR_OK && r1.st == MR_OK) {
            mr_graph *g = rebuild(builds[v]);
            const float *a = const_data(g, "ca"), *b = const_data(g, "cb");
            float want[6], wr[6];
            for (int i = 0; i < 6; i++) want[i] = (float)((double)a[i] + b[i]);
            check_close("constant output", r1.out[0], want, 6);
            if (!v) {
                for (int i = 0; i < 6; i++) wr[i] = (float)relu_d(r1.in[0][i]);
                check_close("output next to a constant output", r1.out[1], wr, 6);
            }
            CHECK(r1.stats.n_steps == 1 - v);
            mr_graph_destroy(g);
        }
        result_free(&r0);
        result_free(&r1);
    }
}

/* ======================================================================================== */
/* Identity / Dropout                                                                        */

/* x -> Relu -> Identity -> Sigmoid -> Dropout -> Tanh = e (output) -> Identity = f (output);
 * plus Dropout -> g (output) directly. */
static void build_identity(mr_graph *g, mr_err *err) {
    int64_t dims[2] = {2, 5};
    int x = mr_test_add_input(g, "x", 2, dims, err);
    int a, b, c, d, e, f, o;
    mr_test_add_node1(g, "relu", "Relu", 1, &x, &a, err);        /* 0 */
    mr_test_add_node1(g, "id_mid", "Identity", 1, &a, &b, err);  /* 1: dropped */
    mr_test_add_node1(g, "sig", "Sigmoid", 1, &b, &c, err);      /* 2 */
    mr_test_add_node1(g, "drop_mid", "Dropout", 1, &c, &d, err); /* 3: dropped */
    mr_test_add_node1(g, "tanh", "Tanh", 1, &d, &e, err);        /* 4 */
    mr_test_add_node1(g, "id_out", "Identity", 1, &e, &f, err);  /* 5: kept, graph output */
    mr_test_add_node1(g, "drop_out", "Dropout", 1, &c, &o, err); /* 6: kept, graph output */
    mr_test_mark_output(g, e);
    mr_test_mark_output(g, f);
    mr_test_mark_output(g, o);
}

static void test_identity(mr_runtime *rt) {
    result r0, r1;
    run_both(rt, build_identity, "Identity/Dropout", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        float we[10], wc[10];
        for (int i = 0; i < 10; i++) {
            wc[i] = (float)sigmoid_d(relu_d(r0.in[0][i]));
            we[i] = (float)tanh(wc[i]);
        }
        check_close("Identity/Dropout: e", r1.out[0], we, 10);
        check_close("Identity/Dropout: f", r1.out[1], we, 10);
        check_close("Identity/Dropout: o", r1.out[2], wc, 10);
        CHECK(r0.n_plan_steps == 7);
        CHECK_MSG(r1.n_plan_steps == 5, "%d plan steps", r1.n_plan_steps);
        CHECK(!r0.dead[1] && !r0.dead[3]);
        CHECK(r1.dead[1] && r1.dead[3]);
        CHECK(!r1.dead[5] && !r1.dead[6]);
        CHECK(r0.stats.n_nodes == 7 && r1.stats.n_nodes == 7);
    }
    result_free(&r0);
    result_free(&r1);
}

/* ======================================================================================== */
/* Parameter counting                                                                       */

/* Two Convs sharing one weight tensor and a BN: shared constants count once, the Shape's
 * int64 index constants and the BN statistics not at all. */
static void build_shared_weights(mr_graph *g, mr_err *err) {
    mr_rng r;
    mr_rng_seed(&r, 31);
    int64_t dims[4] = {1, BN_C, BN_H, BN_W};
    int x = mr_test_add_input(g, "x", 4, dims, err);
    int c1, c2, s, y;
    int n1 = conv3x3(g, &r, "conv", x, BN_C, BN_C, 1, &c1, err);
    int w = g->nodes[n1].in[1], b = g->nodes[n1].in[2];
    int n2 = mr_test_add_node1(g, "conv2", "Conv", 3, (int[]){c1, w, b}, &c2, err);
    static const int64_t k[2] = {3, 3}, pads[4] = {1, 1, 1, 1};
    set_ints(g, n2, "kernel_shape", 2, k, err);
    set_ints(g, n2, "pads", 4, pads, err);
    batchnorm(g, &r, "bn", c2, BN_C, BN_EPS, &s, err);
    mr_test_add_node1(g, "relu", "Relu", 1, &s, &y, err);
    mr_test_mark_output(g, y);
}

static void test_n_params(mr_runtime *rt) {
    result r0, r1;
    run_both(rt, build_shared_weights, "shared weights", &r0, &r1);
    if (r0.st == MR_OK && r1.st == MR_OK) {
        int64_t want = BN_C * BN_C * 9 + BN_C + 2 * BN_C;
        CHECK_MSG(r0.stats.n_params == want, "n_params %lld, want %lld",
                  (long long)r0.stats.n_params, (long long)want);
        CHECK(r1.stats.n_params == want);
        CHECK(r0.stats.n_steps == 4 && r1.stats.n_steps == 2);
        CHECK_MSG(strcmp(r1.labels[1], "Conv+BatchNormalization+Relu") == 0, "label %s",
                  r1.labels[1]);
    }
    result_free(&r0);
    result_free(&r1);
}

/* ---- stacked recurrent layers (mr_pass_stack_rnn) ----
 * Layers built as PyTorch exports nn.LSTM/nn.GRU(num_layers > 1): LSTM/GRU, Squeeze of Y's
 * num_directions axis (opset 13: axes as an input), next layer. */
typedef struct stack_cfg {
    int gru, batch, layers;
    int yh0_out; /* layer 0's Y_h is a graph output too: the layers must not be stacked */
} stack_cfg;

enum { ST_S = 6, ST_I = 12, ST_H = 16 };

static void build_rnn_layers(mr_graph *g, mr_err *err, const stack_cfg *c) {
    mr_rng r;
    mr_rng_seed(&r, 40 + (uint64_t)c->gru);
    const int64_t G = c->gru ? 3 : 4;
    const float k = 0.25f; /* 1/sqrt(H), PyTorch's init range */
    int64_t xd[3] = {ST_S, c->batch, ST_I}, one = 1;
    int x = mr_test_add_input(g, "x", 3, xd, err);
    for (int l = 0; l < c->layers; l++) {
        char name[64];
        int64_t in = l ? ST_H : ST_I, wd[3] = {1, G * ST_H, in}, rd[3] = {1, G * ST_H, ST_H};
        int64_t bd[2] = {1, 2 * G * ST_H};
        snprintf(name, sizeof name, "w%d", l);
        int w = mr_test_rand_const(g, &r, name, 3, wd, -k, k, err);
        snprintf(name, sizeof name, "r%d", l);
        int rr = mr_test_rand_const(g, &r, name, 3, rd, -k, k, err);
        snprintf(name, sizeof name, "b%d", l);
        int b = mr_test_rand_const(g, &r, name, 2, bd, -k, k, err);
        int outs[2];
        for (int o = 0; o < 2; o++) {
            snprintf(name, sizeof name, "rnn%d.%s", l, o ? "y_h" : "y");
            outs[o] = mr_graph_add_tensor(g, name, err);
        }
        snprintf(name, sizeof name, "rnn%d", l);
        int nd = mr_graph_add_node(g, name, c->gru ? "GRU" : "LSTM", 4, (int[]){x, w, rr, b}, 2,
                                   outs, err);
        MUST(mr_node_set_int(g, nd, "hidden_size", ST_H, err) == MR_OK ? 0 : -1);
        if (c->gru) MUST(mr_node_set_int(g, nd, "linear_before_reset", 1, err) == MR_OK ? 0 : -1);
        if (l == c->layers - 1 || (l == 0 && c->yh0_out)) mr_test_mark_output(g, outs[1]);
        if (l == c->layers - 1) {
            mr_test_mark_output(g, outs[0]);
            break;
        }
        snprintf(name, sizeof name, "axes%d", l);
        int ax = mr_test_add_const(g, name, MR_DTYPE_I64, 1, &one, &one);
        snprintf(name, sizeof name, "squeeze%d", l);
        mr_test_add_node1(g, name, "Squeeze", 2, (int[]){outs[0], ax}, &x, err);
    }
}

#define STACK_BUILD(NAME, GRU, BATCH, LAYERS, YH0)                                                 \
    static void NAME(mr_graph *g, mr_err *err) {                                                   \
        const stack_cfg c = {GRU, BATCH, LAYERS, YH0};                                             \
        build_rnn_layers(g, err, &c);                                                              \
    }
STACK_BUILD(build_lstm2, 0, 1, 2, 0)
STACK_BUILD(build_gru2, 1, 1, 2, 0)
STACK_BUILD(build_lstm3, 0, 1, 3, 0)
STACK_BUILD(build_lstm2_b2, 0, 2, 2, 0)
STACK_BUILD(build_lstm2_yh0, 0, 1, 2, 1)

/* The stacked node computes each layer as the single-layer op does (checked against a
 * double-precision reference in test_ops_rnn), so its outputs are those of the unstacked
 * graph bit for bit. Where a condition of the pass fails, the layers stay apart. */
static void test_stack_rnn(mr_runtime *rt) {
    static const struct {
        build_fn build;
        const char *what;
        int n_labels;
        const char *labels[3];
    } cases[] = {
        {build_lstm2, "2-layer LSTM", 1, {"LSTM+LSTM"}},
        {build_gru2, "2-layer GRU", 1, {"GRU+GRU"}},
        {build_lstm3, "3-layer LSTM", 2, {"LSTM+LSTM", "LSTM"}},
        {build_lstm2_b2, "2-layer LSTM, batch 2", 2, {"LSTM", "LSTM"}},
        {build_lstm2_yh0, "2-layer LSTM, layer 0's Y_h used", 2, {"LSTM", "LSTM"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r0, r1;
        run_both(rt, cases[i].build, cases[i].what, &r0, &r1);
        if (r0.st == MR_OK && r1.st == MR_OK) {
            for (int o = 0; o < r0.n_out && o < r1.n_out; o++)
                CHECK_MSG(memcmp(r0.out[o], r1.out[o], sizeof(float) * (size_t)r0.out_numel[o]) ==
                              0,
                          "%s: output %d differs from the unstacked graph's", cases[i].what, o);
            int n = 0;
            for (int k = 0; k < 16 && r1.labels[k][0]; k++) {
                if (strcmp(r1.labels[k], "Squeeze") == 0) continue;
                CHECK_MSG(n < cases[i].n_labels && strcmp(r1.labels[k], cases[i].labels[n]) == 0,
                          "%s: step %d is %s", cases[i].what, k, r1.labels[k]);
                n++;
            }
            CHECK_MSG(n == cases[i].n_labels, "%s: %d recurrent steps, want %d", cases[i].what, n,
                      cases[i].n_labels);
        }
        result_free(&r0);
        result_free(&r1);
    }
}

int main(void) {
    mr_runtime_params rp = mr_runtime_default_params();
    rp.backend = MR_BACKEND_CPU;
    rp.n_threads = 2;
    mr_runtime *rt = NULL;
    char eb[256];
    if (mr_runtime_create(&rp, &rt, eb, sizeof eb) != MR_OK) {
        fprintf(stderr, "runtime: %s\n", eb);
        return 1;
    }
    test_topo_order(rt);
    test_cycle();
    test_dangling(rt);
    test_unknown_op_attr();
    test_const_fold(rt);
    test_fold_batchnorm(rt);
    test_fuse_activation(rt);
    test_fuse_residual(rt);
    test_stack_rnn(rt);
    test_runtime_bounds_and_const_outputs(rt);
    test_identity(rt);
    test_n_params(rt);
    mr_runtime_destroy(rt);
    return mr_test_finish("graph");
}
