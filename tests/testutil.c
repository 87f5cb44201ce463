#include "testutil.h"

#include "ops/op.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int mr_test_failures = 0;
int mr_test_checks = 0;

void mr_test_check_status(const char *file, int line, mr_status st, mr_status want, const char *msg,
                          const char *needle) {
    mr_test_checks++;
    if (st != want) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: status %d (%s), want %d (%s); message: %s\n", file, line, st,
                mr_status_str(st), want, mr_status_str(want), msg ? msg : "(null)");
        return;
    }
    if (want != MR_OK) {
        if (!msg || !msg[0]) {
            mr_test_failures++;
            fprintf(stderr, "%s:%d: status %s without a message\n", file, line, mr_status_str(st));
        } else if (needle && !strstr(msg, needle)) {
            mr_test_failures++;
            fprintf(stderr, "%s:%d: message '%s' does not mention '%s'\n", file, line, msg, needle);
        }
    }
}

int mr_test_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, mr_test_checks, mr_test_failures);
    return mr_test_failures ? 1 : 0;
}

void mr_rng_seed(mr_rng *r, uint64_t seed) {
    r->s = seed * 0x9E3779B97F4A7C15ull + 1;
}

uint64_t mr_rng_u64(mr_rng *r) {
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return r->s = x;
}

float mr_rng_uniform(mr_rng *r, float lo, float hi) {
    double u = (double)(mr_rng_u64(r) >> 11) / (double)(1ull << 53);
    return (float)(lo + (hi - lo) * u);
}

void mr_rng_fill(mr_rng *r, float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = mr_rng_uniform(r, lo, hi);
}

int mr_allclose(const float *a, const float *b, int64_t n, float rtol, float atol, double *max_abs,
                int64_t *worst) {
    int ok = 1;
    double m = 0;
    int64_t w = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(a[i]) != isnan(b[i])) d = INFINITY;
        if (isnan(a[i]) && isnan(b[i])) d = 0;
        if (d > m || (w < 0 && d > 0)) {
            m = d;
            w = i;
        }
        if (d > atol + rtol * fabs((double)b[i])) ok = 0;
    }
    if (max_abs) *max_abs = m;
    if (worst) *worst = w;
    return ok;
}

const char *mr_test_env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && v[0] ? v : fallback;
}

const char *mr_test_tmpfile(const void *data, size_t size, char *buf, size_t bufsize) {
    snprintf(buf, bufsize, "/tmp/miriam-test-XXXXXX");
    int fd = mkstemp(buf);
    if (fd < 0) return NULL;
    const char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w <= 0) break;
        p += w;
        size -= (size_t)w;
    }
    close(fd);
    return buf;
}

/* ---- graph-building and op-evaluation helpers ---- */

int64_t mr_test_numel(int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) n *= dims[k];
    return n;
}

float *mr_test_rand_floats(mr_rng *r, size_t n, float lo, float hi) {
    float *v = malloc((n ? n : 1) * sizeof(float));
    if (!v) exit(1);
    mr_rng_fill(r, v, (int64_t)n, lo, hi);
    return v;
}

mr_graph *mr_test_new_graph(int opset) {
    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = mr_graph_create(&err);
    if (!g) {
        fprintf(stderr, "mr_graph_create: %s\n", err.msg);
        exit(1);
    }
    g->opset = opset;
    return g;
}

int mr_test_add_const(mr_graph *g, const char *name, mr_dtype dt, int ndim, const int64_t *dims,
                      const void *data) {
    mr_err err;
    mr_err_clear(&err);
    int t = mr_graph_add_const(g, name, dt, ndim, dims, data, &err);
    CHECK_MSG(t >= 0, "add_const %s: %s", name ? name : "(unnamed)", err.msg);
    return t;
}

int mr_test_add_node(mr_graph *g, const char *name, const char *op, int n_in, const int *in,
                     int n_out, int *out) {
    mr_err err;
    for (int i = 0; i < n_out; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "y%d", i);
        out[i] = mr_graph_add_tensor(g, nm, &err);
        CHECK(out[i] >= 0);
    }
    int node = mr_graph_add_node(g, name, op, n_in, in, n_out, out, &err);
    CHECK_MSG(node >= 0, "add_node %s: %s", name, err.msg);
    return node;
}

/* Binds the node's inputs (as mr_node_eval left them) into a fresh step. */
static void step_init(mr_graph *g, mr_node *n, mr_step *s) {
    memset(s, 0, sizeof *s);
    s->op = n->op;
    s->node = n;
    s->n_in = n->n_in;
    s->n_out = n->n_out;
    for (int i = 0; i < n->n_in; i++) {
        const mr_tensor_desc *t = mr_node_input(g, n, i);
        if (t) s->in[i] = (mr_tview){t->data, t->dtype, t->ndim, t->dims, mr_desc_numel(t)};
    }
}

void mr_test_check_shuffled(mr_rng *rng, mr_graph *g, int node, const char *label) {
    mr_node *n = &g->nodes[node];
    mr_step s;
    step_init(g, n, &s);
    const mr_tensor_desc *t = mr_node_output(g, n, 0);
    size_t bytes = mr_desc_bytes(t);
    void *out = malloc(bytes + 1);
    memset(out, 0xff, bytes);
    s.out[0] = (mr_tview){out, t->dtype, t->ndim, t->dims, mr_desc_numel(t)};
    void *sc = aligned_alloc(64, (n->scratch_bytes + 63) / 64 * 64 + 64);
    memset(sc, 0xff, n->scratch_bytes);
    int64_t nb = n->n_blocks;
    CHECK_MSG(nb >= 1, "%s: n_blocks %lld", label, (long long)nb);
    int64_t *perm = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *perm);
    for (int64_t i = 0; i < nb; i++) perm[i] = i;
    for (int64_t i = nb - 1; i > 0; i--) {
        int64_t j = (int64_t)(mr_rng_u64(rng) % (uint64_t)(i + 1)), tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (int64_t i = 0; i < nb; i++) n->op->run_block(&s, perm[i], sc);
    CHECK_MSG(bytes == 0 || memcmp(out, t->data, bytes) == 0,
              "%s: output differs when blocks run out of order", label);
    free(perm);
    free(sc);
    free(out);
}

int mr_test_eval_ok(mr_rng *rng, mr_graph *g, int node, const char *label) {
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_node_eval(g, node, &err);
    CHECK_MSG(st == MR_OK, "%s: %s", label, err.msg);
    if (st != MR_OK) return 0;
    mr_test_check_shuffled(rng, g, node, label);
    return 1;
}

void mr_test_eval_fails(mr_graph *g, int node, mr_status want, const char *needle) {
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_node_eval(g, node, &err);
    CHECK_STATUS(st, want, err.msg, g->nodes[node].name);
    if (needle) CHECK_STATUS(st, want, err.msg, needle);
}

void mr_test_check_block_order(mr_graph *g, int node, mr_rng *rng, const char *label) {
    mr_node *n = &g->nodes[node];
    mr_step s;
    step_init(g, n, &s);
    const mr_tensor_desc *yt = mr_node_output(g, n, 0);
    int64_t ne = mr_desc_numel(yt);
    float *out = malloc((size_t)(ne ? ne : 1) * sizeof(float));
    s.out[0] = (mr_tview){out, yt->dtype, yt->ndim, yt->dims, ne};
    size_t scf = n->scratch_bytes / sizeof(float), wsf = n->workspace_bytes / sizeof(float);
    float *sc = aligned_alloc(64, (n->scratch_bytes + 63) / 64 * 64 + 64);
    float *ws = aligned_alloc(64, (n->workspace_bytes + 63) / 64 * 64 + 64);
    s.workspace = ws;
    int64_t nb = n->n_blocks;
    int64_t *perm = malloc((size_t)(nb ? nb : 1) * sizeof(int64_t));
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t e = 0; e < ne; e++) out[e] = NAN;
        for (size_t e = 0; e < scf; e++) sc[e] = NAN;
        for (size_t e = 0; e < wsf; e++) ws[e] = NAN;
        for (int ph = 0; ph < n->n_phases; ph++) {
            for (int64_t i = 0; i < nb; i++) perm[i] = nb - 1 - i;
            if (pass == 1)
                for (int64_t i = nb - 1; i > 0; i--) {
                    int64_t j = (int64_t)(mr_rng_u64(rng) % (uint64_t)(i + 1)), t = perm[i];
                    perm[i] = perm[j];
                    perm[j] = t;
                }
            for (int64_t i = 0; i < nb; i++) n->op->run_block(&s, ph * nb + perm[i], sc);
        }
        CHECK_MSG(memcmp(out, yt->data, (size_t)ne * sizeof(float)) == 0,
                  "%s: output differs when blocks run in %s order", label,
                  pass ? "random" : "reverse");
    }
    free(perm);
    free(sc);
    free(ws);
    free(out);
}

static int must(int v, const mr_err *err, const char *what, const char *name) {
    if (v < 0) {
        fprintf(stderr, "%s %s failed: %s\n", what, name, err->msg);
        exit(1);
    }
    return v;
}

int mr_test_add_input(mr_graph *g, const char *name, int ndim, const int64_t *dims, mr_err *err) {
    int t = must(mr_graph_add_tensor(g, name, err), err, "add_input", name);
    mr_set_shape(&g->tensors[t], MR_DTYPE_F32, ndim, dims);
    g->tensors[t].is_input = 1;
    int *in = realloc(g->inputs, sizeof(int) * (size_t)(g->n_inputs + 1));
    if (!in) exit(1);
    g->inputs = in;
    g->inputs[g->n_inputs++] = t;
    return t;
}

void mr_test_mark_output(mr_graph *g, int t) {
    int *out = realloc(g->outputs, sizeof(int) * (size_t)(g->n_outputs + 1));
    if (!out) exit(1);
    g->outputs = out;
    g->outputs[g->n_outputs++] = t;
    g->tensors[t].is_output = 1;
}

int mr_test_rand_const(mr_graph *g, mr_rng *r, const char *name, int ndim, const int64_t *dims,
                       float lo, float hi, mr_err *err) {
    float *v = mr_test_rand_floats(r, (size_t)mr_test_numel(ndim, dims), lo, hi);
    int t = must(mr_graph_add_const(g, name, MR_DTYPE_F32, ndim, dims, v, err), err, "rand_const",
                 name);
    free(v);
    return t;
}

int mr_test_add_node1(mr_graph *g, const char *name, const char *op, int n_in, const int *in,
                      int *out, mr_err *err) {
    int t = must(mr_graph_add_tensor(g, name, err), err, "add_node", name);
    int nd = must(mr_graph_add_node(g, name, op, n_in, in, 1, &t, err), err, "add_node", name);
    if (out) *out = t;
    return nd;
}

mr_test_run mr_test_run_cli(const char *dir, const char *env, const char *cli, const char *args) {
    char out[512], err[512], cmd[8192];
    snprintf(out, sizeof out, "%s/stdout", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    snprintf(cmd, sizeof cmd, "%s '%s' %s >'%s' 2>'%s' </dev/null", env ? env : "", cli, args, out,
             err);
    int st = system(cmd);
    mr_test_run r;
    r.rc = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = mr_test_slurp(out);
    r.err = mr_test_slurp(err);
    unlink(out);
    unlink(err);
    return r;
}

void mr_test_run_free(mr_test_run *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

char *mr_test_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
    size_t got = n > 0 ? fread(s, 1, (size_t)n, f) : 0;
    s[got] = '\0';
    fclose(f);
    return s;
}
