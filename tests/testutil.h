/* Minimal test harness shared by the test programs: CHECK macros that report file:line and
 * keep going, a summary line ctest shows, and random-data helpers. */
#ifndef MR_TESTUTIL_H
#define MR_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "graph/ir.h"
#include "miriam.h"

extern int mr_test_failures;
extern int mr_test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        mr_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            mr_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        mr_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            mr_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Expects `st` == `want` and, when want != MR_OK, a non-empty message containing `needle`
 * (may be NULL) in `msg`. */
#define CHECK_STATUS(st, want, msg, needle)                                                        \
    mr_test_check_status(__FILE__, __LINE__, (st), (want), (msg), (needle))

void mr_test_check_status(const char *file, int line, mr_status st, mr_status want, const char *msg,
                          const char *needle);

/* Prints "N checks, M failed" and returns the process exit code. */
int mr_test_finish(const char *name);

/* Deterministic xorshift random numbers. */
typedef struct mr_rng {
    uint64_t s;
} mr_rng;
void mr_rng_seed(mr_rng *r, uint64_t seed);
uint64_t mr_rng_u64(mr_rng *r);
float mr_rng_uniform(mr_rng *r, float lo, float hi);
void mr_rng_fill(mr_rng *r, float *x, int64_t n, float lo, float hi);

/* max |a-b| / and whether every element satisfies |a-b| <= atol + rtol*|b|. */
int mr_allclose(const float *a, const float *b, int64_t n, float rtol, float atol, double *max_abs,
                int64_t *worst);

/* Environment / path helpers. */
/* A whole file as a NUL-terminated string ("" when it cannot be read); free() it. */
char *mr_test_slurp(const char *path);
const char *mr_test_env(const char *name, const char *fallback);

/* A command-line run: `ENV 'CLI' ARGS` through the shell, stdin from /dev/null, stdout and
 * stderr caught in files under `dir` (removed again). rc is the exit status (-1 if the
 * program did not exit); out and err are the whole outputs: mr_test_run_free them. env may be
 * "" (or VAR=value ...). */
typedef struct mr_test_run {
    int rc;
    char *out, *err;
} mr_test_run;
mr_test_run mr_test_run_cli(const char *dir, const char *env, const char *cli, const char *args);
void mr_test_run_free(mr_test_run *r);
/* Writes `size` bytes to a fresh temporary file and returns its path (static buffer per call
 * site is not used: caller provides buf). */
const char *mr_test_tmpfile(const void *data, size_t size, char *buf, size_t bufsize);

/* ---- graph-building and op-evaluation helpers (src/graph/ir.h, src/ops/op.h) ----
 * Shared by the op and graph tests so that each test file holds only its cases and its naive
 * references. */
/* Product of dims[0..ndim). */
int64_t mr_test_numel(int ndim, const int64_t *dims);

/* n floats uniform in [lo, hi) (malloc'd, at least one element; caller frees). */
float *mr_test_rand_floats(mr_rng *r, size_t n, float lo, float hi);

/* A fresh graph with the given opset; creating it only fails on OOM, so that exits(1). */
mr_graph *mr_test_new_graph(int opset);

/* Adds an initializer; a failure is a CHECK failure (returns < 0). */
int mr_test_add_const(mr_graph *g, const char *name, mr_dtype dt, int ndim, const int64_t *dims,
                      const void *data);

/* Adds node `name` with n_out fresh output tensors "y0", "y1", ... (their indices in out[]);
 * returns the node index. A failure is a CHECK failure. */
int mr_test_add_node(mr_graph *g, const char *name, const char *op, int n_in, const int *in,
                     int n_out, int *out);

/* Re-runs the evaluated node's blocks (single phase, output 0 only) in a random order into
 * NaN-filled (0xff bytes) output and scratch buffers, and expects the output bytes to equal
 * those mr_node_eval produced: blocks must be independent, need no scratch initialisation and
 * write every output element. */
void mr_test_check_shuffled(mr_rng *rng, mr_graph *g, int node, const char *label);

/* Evaluates `node` with mr_node_eval and then mr_test_check_shuffled; on failure reports it
 * (a CHECK failure) and returns 0. */
int mr_test_eval_ok(mr_rng *rng, mr_graph *g, int node, const char *label);

/* Expects mr_node_eval to fail with `want` and a message naming the node and, when not NULL,
 * containing `needle`. */
void mr_test_eval_fails(mr_graph *g, int node, mr_status want, const char *needle);

/* Re-runs the evaluated node's blocks twice, first in reverse then in a random order (within
 * each phase, phases in sequence), on NaN-filled float output 0, scratch and workspace; the
 * output must be bit-identical to mr_node_eval's. */
void mr_test_check_block_order(mr_graph *g, int node, mr_rng *rng, const char *label);

/* Builders for whole-graph tests (test_graph, test_memplan): a failure here is a bug in the
 * test or in the builder API, so they print err->msg and exit(1) at once. */

/* A float32 graph input of the given shape. */
int mr_test_add_input(mr_graph *g, const char *name, int ndim, const int64_t *dims, mr_err *err);
/* Marks tensor t a graph output. */
void mr_test_mark_output(mr_graph *g, int t);
/* A float32 initializer of random values uniform in [lo, hi). */
int mr_test_rand_const(mr_graph *g, mr_rng *r, const char *name, int ndim, const int64_t *dims,
                       float lo, float hi, mr_err *err);
/* A node with one output tensor named like the node; returns the node index, *out (when not
 * NULL) the tensor. */
int mr_test_add_node1(mr_graph *g, const char *name, const char *op, int n_in, const int *in,
                      int *out, mr_err *err);

#endif
