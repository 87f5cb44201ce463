/* CUDA backend correctness, with the CPU backend as the reference.
 *
 * Every case builds a small graph twice from the same seed (the graph builders are
 * deterministic; mr_model_from_graph takes ownership, so there is no graph copy), loads one
 * copy on a CPU runtime and one on a CUDA runtime, runs both on the same random input (never
 * zeros) and compares every output with the case's tolerance:
 *
 *   TOL_GEMM  rtol 1e-4, atol 5e-5  Conv, Gemm, MatMul: K up to ~600 products of O(1) values,
 *                                   summed in a different order (BLIS / our direct loops vs
 *                                   GPU tiles): ~sqrt(K) ulps of the partial sums, and an output
 *                                   that cancels to near zero keeps that absolute error.
 *   TOL_RNN   rtol 1e-4, atol 5e-5  LSTM/GRU: the same GEMM error, carried through the time
 *                                   steps by the recurrence (bounded: gates saturate).
 *   TOL_RNN_TF32 rtol 5e-3, atol 5e-3  LSTM/GRU under TF32 ("tf32/.../op/rnn/"): TF32's 2^-11
 *                                   relative rounding of the projections' operands and, where
 *                                   the 16-SM LSTM stack's step runs on tensor cores, of R and
 *                                   h_{t-1} (halves, cuda/rnn.cu): sums of up to 512 products
 *                                   of |w| <= 0.4, ~sqrt(K) 2^-12 of sum |w h| per gate input,
 *                                   through the gates (slope <= 1) and the steps; the largest
 *                                   measured on an H200: 3.9e-3 on h, 9.7e-3 on c (whose
 *                                   values exceed 1 there; KERNEL_NOTES 24).
 *   TOL_RED   rtol 1e-5, atol 1e-6  Softmax, LRN, BatchNorm, AveragePool, elementwise math
 *                                   (expf/tanhf/powf differ by a few ulps between libm/vmath
 *                                   and CUDA; reductions of <= 1000 terms in another order).
 *   TOL_EXACT exact                 MaxPool, Relu, Clip, data movement, Add/Sub/Mul/Div (IEEE
 *                                   single-rounded on both sides), every int64/int32 result.
 *   zoo       |d| <= 1e-3 x (max - min of the reference logits): fp32 through tens of layers
 *             with different summation orders everywhere; a real mistake moves logits by a
 *             sizeable part of their range.
 *   TF32      |d| <= (2^-10 + K*2^-23) * S + 1e-6 per output, S = the op on |inputs| and
 *             |weights| (see compare_tf32); zoo models under TF32: 1e-2 x the logits' range
 *             (ZOO_TF32_RANGE_TOL).
 *
 * Precision: the main CUDA runtime is created with MR_PRECISION_FP32 explicitly and held to the
 * float32 tolerances above, unchanged by TF32. A second CUDA runtime with MR_PRECISION_TF32
 * runs every Conv / Gemm / MatMul case marked tf32 in the case table ("tf32/<label>",
 * run_case_tf32) in every launch mode below: within the TF32 bound of the CPU, every mode
 * bit-identical to the first run (the two TF32 variants are bit-identical by construction),
 * and, against the float32 runtime, different somewhere where a tensor-core kernel runs (the
 * TF32 path is really taken) and bit-identical where a float32 kernel runs under either
 * precision (depthwise DIRECT Conv, M = 1 GEMV). Also under TF32: the long/ preemption cases,
 * zoo CNNs (run and three launch modes) and resnet18 in a 16-SM partition.
 *
 * Launch modes, driven through the internal API of src/cuda/cuda_backend.h on the CUDA model's
 * execution context (mr_model_exec):
 *   run               mr_model_run (the backend's own schedule: elastic, full width)
 *   plain/vK          one ordinary launch per step/phase, tile variant K
 *   elastic/vK        elastic launches at full width (blocks = 0), variant K; elastic/hi on the
 *                     high-priority stream
 *   prefilled         the counters prefilled (mr_cuda_exec_prefill_counters), then elastic
 *                     launches at full width whose first wave takes no block (as mr_model_run
 *                     launches them); the counter must end at nb. Also: a prefilled launch
 *                     that is preemptible, sharded or of another variant is refused
 *   sharded/P/V       each phase split into shards of odd sizes 1, 7, 13, 19, ... (ends 1, 8,
 *                     21, 40, ..., nb) with P = 1, 7 or full physical blocks and variant V =
 *                     0, 1 or mixed (the variant alternates between the shards of one phase);
 *                     after every shard the step counter must equal the shard end
 *   preempt/P/V       per phase, with the yield word SET: a non-preemptible shard to nb/2 (must
 *                     ignore the yield: counter = nb/2), then a preemptible launch of the rest
 *                     (must take no block at all: counter still nb/2), then the yield cleared and
 *                     a preemptible relaunch to the end (counter = nb)
 *   long/...          a big MatMul and a big Conv launched elastic with P = 1 (tens of ms), the
 *                     yield set while it runs: afterwards the counter is in [0, nb] (and at
 *                     least one try stops strictly inside), a relaunch finishes it, and the
 *                     output equals the CPU's. A block lost or run twice would show in the
 *                     output or in a counter that does not end at nb.
 * Output poisoning: before every mode the CUDA model is run once on a *different* random input,
 * so the device arena (every intermediate and output) holds other values; a logical block that
 * a mode skipped leaves those behind and the comparison fails. Host output buffers are NaN-
 * filled before every run as well.
 *
 * Also: per-variant footprints (threads > 0, >= 1 block per SM, variant 1 no larger than
 * variant 0 in registers and shared memory per block and smaller in one of them), whole zoo
 * models CUDA vs CPU (plain run and preempt/full/mixed), errors on the CUDA backend (wrong
 * input shape, --sms not a multiple of the SM group, a GPU that does not exist, a model whose
 * 16 x 12 GiB of live activations do not fit: MR_ERR_NO_MEMORY; the runtime still works
 * afterwards), a 16-SM green-context runtime running resnet18, runtimes with plain_launch = 1 (zoo
 * models vs the CPU), with dependent_launch = 0 (bit-identical to the default programmatic
 * dependent launch; also the long/ preemption case, whose preemptible launches then keep
 * ordinary stream order) and with cuda_graphs = 0 (bit-identical to graph replay, over changing
 * inputs), and the drain of the long/ launches through the non-blocking mr_cuda_exec_poll.
 *
 * Without a CUDA device (or in a build without CUDA) the op cases are still built and run on
 * two CPU runtimes (2 workers vs 1), which checks the cases themselves, then the program exits
 * with 77 (ctest: skipped).
 *
 * Environment: MIRIAM_CUDA_FILTER=a,b,...  only labels containing one of the substrings
 * ("op/", "op/conv", "long/", "zoo/resnet18", "errors", "green", "tf32/", ...);
 * MIRIAM_CUDA_MODES=a,b,...  only launch modes containing one of the substrings ("plain/v0",
 * "sharded/P7", "preempt", ...; the sanitizer runs use it to stay short);
 * MIRIAM_CUDA_VERBOSE=1  one line per case and mode, and every footprint; 2: also every float
 *                        output's largest |difference| from the CPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/ir.h"
#include "model.h"
#include "ops/op.h"
#include "testutil.h"
#ifdef MIRIAM_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cuda_backend.h"
#include "cuda/probe.h"
#include "cuda/tf32.h"
#endif

#define MAX_IO 12

typedef struct tol {
    float rtol, atol;
} tol;

static const tol TOL_GEMM = {1e-4f, 5e-5f};
static const tol TOL_RNN = {1e-4f, 5e-5f};
static const tol TOL_RNN_TF32 = {5e-3f, 5e-3f};
static const tol TOL_RED = {1e-5f, 1e-6f};
static const tol TOL_EXACT = {0.0f, 0.0f};

static int verbose;
static const char *filter, *mode_filter;

/* Whether `s` contains one of the comma-separated substrings of `list` (NULL or "": yes). */
static int matches(const char *list, const char *s) {
    if (!list || !list[0]) return 1;
    const char *p = list;
    while (*p) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        char sub[128];
        if (len >= sizeof sub) len = sizeof sub - 1;
        memcpy(sub, p, len);
        sub[len] = '\0';
        if (len && strstr(s, sub)) return 1;
        p += len + (q ? 1 : 0);
    }
    return 0;
}

static int selected(const char *label) {
    return matches(filter, label);
}
#ifdef MIRIAM_HAVE_CUDA
static int mode_selected(const char *mode) {
    return matches(mode_filter, mode);
}
#endif

/* ======================================================================================== */
/* Case builder: a sticky graph builder (the first failure is kept, later calls do nothing). */

typedef struct cb {
    mr_graph *g;
    mr_err err;
    int bad;
    mr_rng rng;
    int n_in;
    mr_tensor in[MAX_IO]; /* values of the runtime inputs, in graph-input order (owned) */
    int node;             /* last node added */
    int abs; /* every float32 value and float attribute made |.|: the TF32 error bound's S */
} cb;

#define D(...)                                                                                     \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]) {           \
        __VA_ARGS__                                                                                \
    }
#define NARGS_INT(...)    (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))
#define OP(b, type, ...)  op1((b), (type), NARGS_INT(__VA_ARGS__), (const int[]){__VA_ARGS__})
#define AIS(b, name, ...) attr_ints((b), (name), D(__VA_ARGS__))
#define KI(b, ...)        k_ints((b), D(__VA_ARGS__))

static void cb_fail(cb *b, const char *what) {
    if (b->bad) return;
    b->bad = 1;
    fprintf(stderr, "case builder: %s: %s\n", what, b->err.msg[0] ? b->err.msg : "failed");
}

static int push(int **list, int *n, int t) {
    int *grown = realloc(*list, sizeof(int) * (size_t)(*n + 1));
    if (!grown) return -1;
    *list = grown;
    grown[(*n)++] = t;
    return 0;
}

static int64_t numel_of(int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    return n;
}

/* Random values: uniform in [lo, hi); "away" = magnitude in [lo, hi] with a random sign (for
 * divisors and variances: never near zero). */
static void fill_f32(mr_rng *r, float *x, int64_t n, float lo, float hi, int away) {
    for (int64_t i = 0; i < n; i++) {
        float v = mr_rng_uniform(r, lo, hi);
        if (away && (mr_rng_u64(r) & 1)) v = -v;
        x[i] = v;
    }
}

static void abs_f32(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = fabsf(x[i]);
}

static void fill_int(mr_rng *r, mr_dtype dt, void *x, int64_t n, int64_t lo, int64_t hi,
                     int nonzero) {
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        do {
            v = lo + (int64_t)(mr_rng_u64(r) % (uint64_t)(hi - lo + 1));
        } while (nonzero && v == 0);
        if (dt == MR_DTYPE_I64)
            ((int64_t *)x)[i] = v;
        else
            ((int32_t *)x)[i] = (int32_t)v;
    }
}

static int new_tensor(cb *b) {
    if (b->bad) return -1;
    char name[32];
    snprintf(name, sizeof name, "t%d", b->g->n_tensors);
    int t = mr_graph_add_tensor(b->g, name, &b->err);
    if (t < 0) cb_fail(b, "add tensor");
    return t;
}

/* A runtime (graph) input; its random value is kept in b->in. */
static int input_any(cb *b, mr_dtype dt, int ndim, const int64_t *dims, float lo, float hi,
                     int away, int64_t ilo, int64_t ihi, int nonzero) {
    int t = new_tensor(b);
    if (t < 0) return -1;
    if (b->n_in == MAX_IO || push(&b->g->inputs, &b->g->n_inputs, t)) {
        cb_fail(b, "too many inputs");
        return -1;
    }
    mr_tensor_desc *d = &b->g->tensors[t];
    mr_set_shape(d, dt, ndim, dims);
    d->is_input = 1;
    mr_tensor *v = &b->in[b->n_in++];
    memset(v, 0, sizeof *v);
    v->dtype = dt;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->dims[i] = dims[i];
    int64_t n = numel_of(ndim, dims);
    v->data = malloc((size_t)(n ? n : 1) * mr_dtype_size(dt));
    if (!v->data) {
        cb_fail(b, "out of memory");
        return -1;
    }
    if (dt == MR_DTYPE_F32) {
        fill_f32(&b->rng, v->data, n, lo, hi, away);
        if (b->abs) abs_f32(v->data, n);
    } else {
        fill_int(&b->rng, dt, v->data, n, ilo, ihi, nonzero);
    }
    return t;
}

static int in_f(cb *b, int ndim, const int64_t *dims, float lo, float hi) {
    return input_any(b, MR_DTYPE_F32, ndim, dims, lo, hi, 0, 0, 0, 0);
}
static int in_away(cb *b, int ndim, const int64_t *dims, float lo, float hi) {
    return input_any(b, MR_DTYPE_F32, ndim, dims, lo, hi, 1, 0, 0, 0);
}
static int in_int(cb *b, mr_dtype dt, int ndim, const int64_t *dims, int64_t lo, int64_t hi,
                  int nonzero) {
    return input_any(b, dt, ndim, dims, 0, 0, 0, lo, hi, nonzero);
}

static int k_data(cb *b, mr_dtype dt, int ndim, const int64_t *dims, const void *data) {
    if (b->bad) return -1;
    char name[32];
    snprintf(name, sizeof name, "t%d", b->g->n_tensors);
    float *absv = NULL;
    if (b->abs && dt == MR_DTYPE_F32) {
        int64_t n = numel_of(ndim, dims);
        absv = malloc(sizeof(float) * (size_t)(n ? n : 1));
        if (!absv) {
            cb_fail(b, "out of memory");
            return -1;
        }
        memcpy(absv, data, sizeof(float) * (size_t)n);
        abs_f32(absv, n);
        data = absv;
    }
    int t = mr_graph_add_const(b->g, name, dt, ndim, dims, data, &b->err);
    free(absv);
    if (t < 0) cb_fail(b, "add constant");
    return t;
}

/* A float32 constant (weights) with random values. */
static int k_f_any(cb *b, int ndim, const int64_t *dims, float lo, float hi, int away) {
    int64_t n = numel_of(ndim, dims);
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!v) {
        cb_fail(b, "out of memory");
        return -1;
    }
    fill_f32(&b->rng, v, n, lo, hi, away);
    int t = k_data(b, MR_DTYPE_F32, ndim, dims, v);
    free(v);
    return t;
}
static int k_f(cb *b, int ndim, const int64_t *dims, float lo, float hi) {
    return k_f_any(b, ndim, dims, lo, hi, 0);
}
static int k_away(cb *b, int ndim, const int64_t *dims, float lo, float hi) {
    return k_f_any(b, ndim, dims, lo, hi, 1);
}
/* A 1-D int64 constant with the given values. */
static int k_ints(cb *b, int n, const int64_t *v) {
    int64_t dims[1] = {n};
    return k_data(b, MR_DTYPE_I64, 1, dims, v);
}
static int k_scalar_f(cb *b, float v) {
    return k_data(b, MR_DTYPE_F32, 0, NULL, &v);
}

/* Adds a node with n_out fresh output tensors (outs[k] = -1 where bit k of omit is set).
 * Returns the node index. */
static int opn(cb *b, const char *type, int n_in, const int *in, int n_out, int *outs,
               unsigned omit) {
    for (int k = 0; k < n_out; k++) outs[k] = (omit >> k) & 1 ? -1 : new_tensor(b);
    if (b->bad) return -1;
    for (int k = 0; k < n_in; k++)
        if (in[k] < -1) {
            cb_fail(b, "bad input");
            return -1;
        }
    char name[32];
    snprintf(name, sizeof name, "n%d_%s", b->g->n_nodes, type);
    int node = mr_graph_add_node(b->g, name, type, n_in, in, n_out, outs, &b->err);
    if (node < 0) cb_fail(b, "add node");
    b->node = node;
    return node;
}

static int op1(cb *b, const char *type, int n_in, const int *in) {
    int out = -1;
    opn(b, type, n_in, in, 1, &out, 0);
    return b->bad ? -1 : out;
}

static void out(cb *b, int t) {
    if (b->bad) return;
    if (t < 0 || push(&b->g->outputs, &b->g->n_outputs, t)) {
        cb_fail(b, "mark output");
        return;
    }
    b->g->tensors[t].is_output = 1;
}

static void attr_int(cb *b, const char *name, int64_t v) {
    if (!b->bad && mr_node_set_int(b->g, b->node, name, v, &b->err) != MR_OK) cb_fail(b, name);
}
static void attr_float(cb *b, const char *name, float v) {
    if (b->abs) v = fabsf(v); /* Gemm's alpha and beta scale what they multiply */
    if (!b->bad && mr_node_set_float(b->g, b->node, name, v, &b->err) != MR_OK) cb_fail(b, name);
}
static void attr_str(cb *b, const char *name, const char *v) {
    if (!b->bad && mr_node_set_string(b->g, b->node, name, v, &b->err) != MR_OK) cb_fail(b, name);
}
static void attr_ints(cb *b, const char *name, int n, const int64_t *v) {
    if (!b->bad && mr_node_set_ints(b->g, b->node, name, n, v, &b->err) != MR_OK) cb_fail(b, name);
}

/* ======================================================================================== */
/* The op cases. Each builder makes one configuration `v` of an op family. */

typedef void (*build_fn)(cb *b, int v);

/* ---- Conv ---- */
static void c_conv(cb *b, int v) {
    int x, w, bias = -1, y;
    switch (v) {
    case 0: /* 3x3, pad 1, batch 2 */
        x = in_f(b, D(2, 8, 12, 12), -1, 1);
        w = k_f(b, D(16, 8, 3, 3), -0.5f, 0.5f);
        bias = k_f(b, D(16), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "pads", 1, 1, 1, 1);
        break;
    case 1: /* stride 2, asymmetric pads */
        x = in_f(b, D(1, 6, 15, 13), -1, 1);
        w = k_f(b, D(10, 6, 3, 3), -0.5f, 0.5f);
        bias = k_f(b, D(10), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "strides", 2, 2);
        AIS(b, "pads", 1, 0, 2, 1);
        break;
    case 2: /* dilation 2 */
        x = in_f(b, D(1, 4, 16, 16), -1, 1);
        w = k_f(b, D(8, 4, 3, 3), -0.5f, 0.5f);
        bias = k_f(b, D(8), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "dilations", 2, 2);
        AIS(b, "pads", 2, 2, 2, 2);
        break;
    case 3: /* 2 groups */
        x = in_f(b, D(2, 8, 10, 10), -1, 1);
        w = k_f(b, D(12, 4, 3, 3), -0.5f, 0.5f);
        bias = k_f(b, D(12), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        attr_int(b, "group", 2);
        AIS(b, "pads", 1, 1, 1, 1);
        break;
    case 4: /* depthwise, stride 2 */
        x = in_f(b, D(1, 16, 14, 14), -1, 1);
        w = k_f(b, D(16, 1, 3, 3), -0.5f, 0.5f);
        bias = k_f(b, D(16), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        attr_int(b, "group", 16);
        AIS(b, "strides", 2, 2);
        AIS(b, "pads", 1, 1, 1, 1);
        break;
    case 5: /* depthwise with channel multiplier 2, no bias */
        x = in_f(b, D(1, 8, 9, 9), -1, 1);
        w = k_f(b, D(16, 1, 3, 3), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w);
        attr_int(b, "group", 8);
        AIS(b, "pads", 1, 1, 1, 1);
        break;
    case 6: /* 1x1, no bias */
        x = in_f(b, D(1, 32, 7, 7), -1, 1);
        w = k_f(b, D(64, 32, 1, 1), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w);
        break;
    case 7: /* 1-D, stride 2 */
        x = in_f(b, D(2, 5, 20), -1, 1);
        w = k_f(b, D(7, 5, 3), -0.5f, 0.5f);
        bias = k_f(b, D(7), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "strides", 2);
        AIS(b, "pads", 1, 1);
        break;
    case 8: /* 1-D, dilated, grouped, asymmetric pads */
        x = in_f(b, D(1, 6, 25), -1, 1);
        w = k_f(b, D(6, 3, 5), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w);
        attr_int(b, "group", 2);
        AIS(b, "dilations", 2);
        AIS(b, "pads", 3, 1);
        break;
    case 9: /* auto_pad SAME_UPPER, even kernel, stride 2 */
        x = in_f(b, D(1, 3, 11, 11), -1, 1);
        w = k_f(b, D(4, 3, 4, 4), -0.5f, 0.5f);
        bias = k_f(b, D(4), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        attr_str(b, "auto_pad", "SAME_UPPER");
        AIS(b, "strides", 2, 2);
        break;
    case 10: /* 7x7 stride 2 pad 3 (ResNet stem) */
        x = in_f(b, D(1, 3, 32, 32), -1, 1);
        w = k_f(b, D(16, 3, 7, 7), -0.3f, 0.3f);
        y = OP(b, "Conv", x, w);
        AIS(b, "strides", 2, 2);
        AIS(b, "pads", 3, 3, 3, 3);
        AIS(b, "kernel_shape", 7, 7);
        break;
    case 11: /* deep: many output channels and K = 576 */
        x = in_f(b, D(1, 64, 8, 8), -1, 1);
        w = k_f(b, D(128, 64, 3, 3), -0.1f, 0.1f);
        bias = k_f(b, D(128), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "pads", 1, 1, 1, 1);
        break;
    case 12: /* rectangular kernel, mixed strides/dilations/pads */
        x = in_f(b, D(1, 3, 10, 12), -1, 1);
        w = k_f(b, D(5, 3, 2, 5), -0.5f, 0.5f);
        bias = k_f(b, D(5), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "strides", 1, 2);
        AIS(b, "pads", 0, 2, 1, 0);
        AIS(b, "dilations", 2, 1);
        break;
    case 13: /* Conv + Relu, fused */
        x = in_f(b, D(2, 8, 12, 12), -1, 1);
        w = k_f(b, D(16, 8, 3, 3), -0.5f, 0.5f);
        bias = k_f(b, D(16), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "pads", 1, 1, 1, 1);
        y = OP(b, "Relu", y);
        break;
    case 14: { /* depthwise Conv + Clip(0, 6) (ReLU6), fused; values reach past 6 */
        x = in_f(b, D(1, 8, 9, 9), -4, 4);
        w = k_f(b, D(8, 1, 3, 3), -1, 1);
        y = OP(b, "Conv", x, w);
        attr_int(b, "group", 8);
        AIS(b, "pads", 1, 1, 1, 1);
        int lo = k_scalar_f(b, 0.0f), hi = k_scalar_f(b, 6.0f);
        y = OP(b, "Clip", y, lo, hi);
        break;
    }
    case 15: /* 1x1 + LeakyRelu, fused */
        x = in_f(b, D(1, 16, 6, 6), -1, 1);
        w = k_f(b, D(24, 16, 1, 1), -0.5f, 0.5f);
        bias = k_f(b, D(24), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        y = OP(b, "LeakyRelu", y);
        attr_float(b, "alpha", 0.2f);
        break;
    case 16: /* 5x5 valid, batch 2 (CifarNet) */
        x = in_f(b, D(2, 3, 32, 32), -1, 1);
        w = k_f(b, D(6, 3, 5, 5), -0.5f, 0.5f);
        bias = k_f(b, D(6), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        break;
    case 17: /* 1x1 stride 2 (ResNet downsample) */
        x = in_f(b, D(1, 16, 14, 14), -1, 1);
        w = k_f(b, D(32, 16, 1, 1), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w);
        AIS(b, "strides", 2, 2);
        break;
    case 18: /* 1x1 + Relu, batch 2, HW % 4 == 0, K = 256 split in 2 (both precisions), a
                partial channel tile */
        x = in_f(b, D(2, 256, 8, 8), -1, 1);
        w = k_f(b, D(96, 256, 1, 1), -0.1f, 0.1f);
        bias = k_f(b, D(96), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        y = OP(b, "Relu", y);
        break;
    case 20: /* 3x3 stride 1 over 24 channels (the TF32 patch kernel: three 8-channel
                chunks, 8 x 8 tiles), asymmetric pads, a partial channel tile, batch 2, odd
                output width (no paired stores), tiles past the bottom and right edges */
        x = in_f(b, D(2, 24, 13, 30), -1, 1);
        w = k_f(b, D(70, 24, 3, 3), -0.3f, 0.3f);
        bias = k_f(b, D(70), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "pads", 1, 0, 2, 1);
        break;
    case 21: /* 3x3 stride 1, 28 x 28 (the patch kernel's 4 x 16 tiles), K = 1152 cut into
                K slices, fused Relu */
        x = in_f(b, D(1, 128, 28, 28), -1, 1);
        w = k_f(b, D(40, 128, 3, 3), -0.05f, 0.05f);
        bias = k_f(b, D(40), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "pads", 1, 1, 1, 1);
        y = OP(b, "Relu", y);
        break;
    case 22: /* depthwise 3x3 of 3744 logical blocks, 3.5 waves of the whole H200 (132 SMs x 8
                blocks): the elastic forms' blocks go on taking past the first wave */
        x = in_f(b, D(1, 288, 112, 112), -1, 1);
        w = k_f(b, D(288, 1, 3, 3), -0.5f, 0.5f);
        bias = k_f(b, D(288), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        attr_int(b, "group", 288);
        AIS(b, "pads", 1, 1, 1, 1);
        break;
    case 23: /* depthwise with channel multiplier 2 over three images, odd plane, stride 2 on
                one axis: a DIRECT block's image, channel and input channel (n C + m / Mg) from
                its outputs' indices */
        x = in_f(b, D(3, 6, 13, 11), -1, 1);
        w = k_f(b, D(12, 1, 3, 3), -0.5f, 0.5f);
        bias = k_f(b, D(12), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        attr_int(b, "group", 6);
        AIS(b, "strides", 1, 2);
        AIS(b, "pads", 1, 0, 1, 2);
        break;
    /* 24-31: a residual Add fused into the Conv's epilogue (mr_pass_fuse_residual), the
     * activation after it: every kernel's epilogue and the split-K reduction's */
    case 24: /* 3x3 batch 2 (the TF32 patch kernel) + residual + Relu */
        x = in_f(b, D(2, 8, 12, 12), -1, 1);
        w = k_f(b, D(16, 8, 3, 3), -0.5f, 0.5f);
        bias = k_f(b, D(16), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "pads", 1, 1, 1, 1);
        y = OP(b, "Add", y, in_f(b, D(2, 16, 12, 12), -1, 1));
        y = OP(b, "Relu", y);
        break;
    case 25: /* Add(residual, 1x1 split-K) + Relu, batch 2: the float4 reduction */
        x = in_f(b, D(2, 256, 8, 8), -1, 1);
        w = k_f(b, D(96, 256, 1, 1), -0.1f, 0.1f);
        bias = k_f(b, D(96), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        y = OP(b, "Add", in_f(b, D(2, 96, 8, 8), -1, 1), y);
        y = OP(b, "Relu", y);
        break;
    case 26: /* 1x1 without bias over an odd plane (no paired stores) + residual, no
                activation (MobileNet-V2's projections) */
        x = in_f(b, D(1, 32, 7, 7), -1, 1);
        w = k_f(b, D(64, 32, 1, 1), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w);
        y = OP(b, "Add", y, in_f(b, D(1, 64, 7, 7), -1, 1));
        break;
    case 27: { /* depthwise (DIRECT) + residual + Clip(0, 6) */
        x = in_f(b, D(1, 8, 9, 9), -4, 4);
        w = k_f(b, D(8, 1, 3, 3), -1, 1);
        bias = k_f(b, D(8), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        attr_int(b, "group", 8);
        AIS(b, "pads", 1, 1, 1, 1);
        y = OP(b, "Add", y, in_f(b, D(1, 8, 9, 9), -4, 4));
        int lo = k_scalar_f(b, 0.0f), hi = k_scalar_f(b, 6.0f);
        y = OP(b, "Clip", y, lo, hi);
        break;
    }
    case 28: /* 3x3 patch, odd output width, asymmetric pads, tiles past the edges +
                residual */
        x = in_f(b, D(2, 24, 13, 30), -1, 1);
        w = k_f(b, D(70, 24, 3, 3), -0.3f, 0.3f);
        bias = k_f(b, D(70), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "pads", 1, 0, 2, 1);
        y = OP(b, "Add", y, in_f(b, D(2, 70, 14, 29), -1, 1));
        break;
    case 29: /* 3x3 patch, K = 1152 in K slices (the reduction) + residual + Relu */
        x = in_f(b, D(1, 128, 28, 28), -1, 1);
        w = k_f(b, D(40, 128, 3, 3), -0.05f, 0.05f);
        bias = k_f(b, D(40), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "pads", 1, 1, 1, 1);
        y = OP(b, "Add", y, in_f(b, D(1, 40, 28, 28), -1, 1));
        y = OP(b, "Relu", y);
        break;
    case 30: { /* ResNet's downsampling block: Relu(3x3 stride 2 + 1x1 stride 2) */
        x = in_f(b, D(1, 16, 14, 14), -1, 1);
        w = k_f(b, D(32, 16, 3, 3), -0.3f, 0.3f);
        bias = k_f(b, D(32), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        AIS(b, "strides", 2, 2);
        AIS(b, "pads", 1, 1, 1, 1);
        int wd = k_f(b, D(32, 16, 1, 1), -0.5f, 0.5f);
        int d = OP(b, "Conv", x, wd);
        AIS(b, "strides", 2, 2);
        y = OP(b, "Add", y, d);
        y = OP(b, "Relu", y);
        break;
    }
    case 31: /* 3x3, 2 groups, K split, odd plane (the scalar reduction) + residual */
        x = in_f(b, D(1, 64, 9, 11), -1, 1);
        w = k_f(b, D(80, 32, 3, 3), -0.2f, 0.2f);
        bias = k_f(b, D(80), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        attr_int(b, "group", 2);
        AIS(b, "pads", 1, 1, 1, 1);
        y = OP(b, "Add", y, in_f(b, D(1, 80, 9, 11), -1, 1));
        break;
    default: /* 3x3, 2 groups of 32 channels (K = 288, split in 2), odd plane, two position
                tiles */
        x = in_f(b, D(1, 64, 9, 11), -1, 1);
        w = k_f(b, D(80, 32, 3, 3), -0.2f, 0.2f);
        bias = k_f(b, D(80), -0.5f, 0.5f);
        y = OP(b, "Conv", x, w, bias);
        attr_int(b, "group", 2);
        AIS(b, "pads", 1, 1, 1, 1);
        break;
    }
    out(b, y);
}

/* ---- Gemm ---- */
static void c_gemm(cb *b, int v) {
    int a, w, c = -1, y;
    switch (v) {
    case 0:
        a = in_f(b, D(4, 32), -1, 1);
        w = k_f(b, D(32, 24), -0.5f, 0.5f);
        c = k_f(b, D(24), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        break;
    case 1: /* transA, C [M, N] */
        a = in_f(b, D(32, 4), -1, 1);
        w = k_f(b, D(32, 24), -0.5f, 0.5f);
        c = k_f(b, D(4, 24), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        attr_int(b, "transA", 1);
        break;
    case 2: /* transB, alpha, beta, C [M, 1] */
        a = in_f(b, D(4, 32), -1, 1);
        w = k_f(b, D(24, 32), -0.5f, 0.5f);
        c = k_f(b, D(4, 1), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        attr_int(b, "transB", 1);
        attr_float(b, "alpha", 0.5f);
        attr_float(b, "beta", 2.0f);
        break;
    case 3: /* transA + transB, C [1], negative beta */
        a = in_f(b, D(32, 5), -1, 1);
        w = k_f(b, D(24, 32), -0.5f, 0.5f);
        c = k_f(b, D(1), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        attr_int(b, "transA", 1);
        attr_int(b, "transB", 1);
        attr_float(b, "alpha", 1.5f);
        attr_float(b, "beta", -0.5f);
        break;
    case 4: /* no C, odd sizes */
        a = in_f(b, D(7, 33), -1, 1);
        w = k_f(b, D(33, 19), -0.5f, 0.5f);
        y = OP(b, "Gemm", a, w);
        break;
    case 5: /* batch-1 fully connected layer */
        a = in_f(b, D(1, 512), -1, 1);
        w = k_f(b, D(10, 512), -0.1f, 0.1f);
        c = k_f(b, D(10), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        attr_int(b, "transB", 1);
        break;
    case 6: /* C [1, N] */
        a = in_f(b, D(3, 20), -1, 1);
        w = k_f(b, D(20, 17), -0.5f, 0.5f);
        c = k_f(b, D(1, 17), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        break;
    case 7: /* every operand a runtime input */
        a = in_f(b, D(6, 16), -1, 1);
        w = in_f(b, D(16, 12), -1, 1);
        c = in_f(b, D(6, 12), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        break;
    case 8: /* larger, sizes not multiples of any tile */
        a = in_f(b, D(65, 300), -1, 1);
        w = k_f(b, D(201, 300), -0.1f, 0.1f);
        c = k_f(b, D(201), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        attr_int(b, "transB", 1);
        break;
    case 9: /* Gemm + Relu, fused */
        a = in_f(b, D(8, 40), -1, 1);
        w = k_f(b, D(40, 30), -0.5f, 0.5f);
        c = k_f(b, D(30), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        y = OP(b, "Relu", y);
        break;
    case 10: /* scalar (rank-0) C */
        a = in_f(b, D(5, 9), -1, 1);
        w = k_f(b, D(9, 6), -0.5f, 0.5f);
        c = k_data(b, MR_DTYPE_F32, 0, NULL, (const float[]){0.75f});
        y = OP(b, "Gemm", a, w, c);
        break;
    default: /* beta 0 with C present (C ignored) */
        a = in_f(b, D(5, 9), -1, 1);
        w = k_f(b, D(9, 6), -0.5f, 0.5f);
        c = k_f(b, D(5, 6), -1, 1);
        y = OP(b, "Gemm", a, w, c);
        attr_float(b, "beta", 0.0f);
        break;
    }
    out(b, y);
}

/* ---- MatMul ---- */
static void c_matmul(cb *b, int v) {
    int a, w, y;
    switch (v) {
    case 0:
        a = in_f(b, D(33, 47), -1, 1);
        w = in_f(b, D(47, 29), -1, 1);
        break;
    case 1: /* batched */
        a = in_f(b, D(3, 17, 20), -1, 1);
        w = in_f(b, D(3, 20, 9), -1, 1);
        break;
    case 2: /* broadcast batch dims */
        a = in_f(b, D(2, 1, 5, 8), -1, 1);
        w = in_f(b, D(3, 8, 6), -1, 1);
        break;
    case 3: /* B without batch dims (weights) */
        a = in_f(b, D(4, 5, 16), -1, 1);
        w = k_f(b, D(16, 7), -0.5f, 0.5f);
        break;
    case 4: /* 1-D A */
        a = in_f(b, D(16), -1, 1);
        w = in_f(b, D(16, 5), -1, 1);
        break;
    case 5: /* 1-D B */
        a = in_f(b, D(3, 4, 16), -1, 1);
        w = in_f(b, D(16), -1, 1);
        break;
    case 6: /* 1-D both: a scalar */
        a = in_f(b, D(16), -1, 1);
        w = in_f(b, D(16), -1, 1);
        break;
    case 7: { /* MatMul + Add(bias), fused into one MatMul with a bias */
        a = in_f(b, D(6, 32), -1, 1);
        w = k_f(b, D(32, 20), -0.5f, 0.5f);
        int bias = k_f(b, D(20), -1, 1);
        y = OP(b, "MatMul", a, w);
        y = OP(b, "Add", y, bias);
        out(b, y);
        return;
    }
    case 8: { /* 3-D MatMul + Add(bias) + Relu, fused */
        a = in_f(b, D(2, 5, 32), -1, 1);
        w = k_f(b, D(32, 20), -0.5f, 0.5f);
        int bias = k_f(b, D(20), -1, 1);
        y = OP(b, "MatMul", a, w);
        y = OP(b, "Add", bias, y);
        y = OP(b, "Relu", y);
        out(b, y);
        return;
    }
    case 9: /* A broadcast against batched B */
        a = in_f(b, D(8, 12), -1, 1);
        w = in_f(b, D(2, 3, 12, 10), -1, 1);
        break;
    default: /* larger */
        a = in_f(b, D(128, 256), -1, 1);
        w = k_f(b, D(256, 192), -0.2f, 0.2f);
        break;
    }
    y = OP(b, "MatMul", a, w);
    out(b, y);
}

/* ---- MaxPool / AveragePool / GlobalAveragePool ---- */
static void c_pool(cb *b, int v) {
    int x, y;
    switch (v) {
    case 0:
        x = in_f(b, D(1, 4, 12, 12), -1, 1);
        y = OP(b, "MaxPool", x);
        AIS(b, "kernel_shape", 2, 2);
        AIS(b, "strides", 2, 2);
        break;
    case 1: /* ResNet's 3x3/2 pad 1 */
        x = in_f(b, D(2, 3, 13, 13), -1, 1);
        y = OP(b, "MaxPool", x);
        AIS(b, "kernel_shape", 3, 3);
        AIS(b, "strides", 2, 2);
        AIS(b, "pads", 1, 1, 1, 1);
        break;
    case 2: /* ceil_mode */
        x = in_f(b, D(1, 2, 10, 10), -1, 1);
        y = OP(b, "MaxPool", x);
        AIS(b, "kernel_shape", 3, 3);
        AIS(b, "strides", 2, 2);
        attr_int(b, "ceil_mode", 1);
        break;
    case 3: /* dilations */
        x = in_f(b, D(1, 2, 9, 9), -1, 1);
        y = OP(b, "MaxPool", x);
        AIS(b, "kernel_shape", 2, 2);
        AIS(b, "dilations", 2, 2);
        break;
    case 4: /* 1-D */
        x = in_f(b, D(1, 3, 17), -1, 1);
        y = OP(b, "MaxPool", x);
        AIS(b, "kernel_shape", 3);
        AIS(b, "strides", 2);
        AIS(b, "pads", 1, 1);
        break;
    case 5: /* asymmetric pads */
        x = in_f(b, D(1, 2, 8, 7), -1, 1);
        y = OP(b, "MaxPool", x);
        AIS(b, "kernel_shape", 3, 3);
        AIS(b, "pads", 0, 1, 2, 0);
        break;
    case 6: /* SAME_UPPER */
        x = in_f(b, D(1, 2, 9, 9), -1, 1);
        y = OP(b, "MaxPool", x);
        AIS(b, "kernel_shape", 3, 3);
        AIS(b, "strides", 2, 2);
        attr_str(b, "auto_pad", "SAME_UPPER");
        break;
    case 7: /* 3-D */
        x = in_f(b, D(1, 2, 5, 6, 7), -1, 1);
        y = OP(b, "MaxPool", x);
        AIS(b, "kernel_shape", 2, 3, 2);
        AIS(b, "strides", 2, 1, 2);
        break;
    case 8: /* SAME_LOWER */
        x = in_f(b, D(1, 3, 8, 8), -1, 1);
        y = OP(b, "MaxPool", x);
        AIS(b, "kernel_shape", 2, 2);
        attr_str(b, "auto_pad", "SAME_LOWER");
        break;
    case 9: /* AveragePool, pads not counted */
        x = in_f(b, D(1, 3, 8, 8), -1, 1);
        y = OP(b, "AveragePool", x);
        AIS(b, "kernel_shape", 3, 3);
        AIS(b, "pads", 1, 1, 1, 1);
        break;
    case 10: /* count_include_pad */
        x = in_f(b, D(1, 3, 8, 8), -1, 1);
        y = OP(b, "AveragePool", x);
        AIS(b, "kernel_shape", 3, 3);
        AIS(b, "pads", 1, 1, 1, 1);
        attr_int(b, "count_include_pad", 1);
        break;
    case 11: /* ceil_mode + count_include_pad + pads */
        x = in_f(b, D(1, 2, 9, 9), -1, 1);
        y = OP(b, "AveragePool", x);
        AIS(b, "kernel_shape", 3, 3);
        AIS(b, "strides", 2, 2);
        AIS(b, "pads", 1, 1, 1, 1);
        attr_int(b, "ceil_mode", 1);
        attr_int(b, "count_include_pad", 1);
        break;
    case 12: /* ceil_mode, pads not counted */
        x = in_f(b, D(1, 2, 10, 10), -1, 1);
        y = OP(b, "AveragePool", x);
        AIS(b, "kernel_shape", 3, 3);
        AIS(b, "strides", 2, 2);
        attr_int(b, "ceil_mode", 1);
        break;
    case 13: /* 1-D, asymmetric pads */
        x = in_f(b, D(2, 3, 11), -1, 1);
        y = OP(b, "AveragePool", x);
        AIS(b, "kernel_shape", 4);
        AIS(b, "strides", 3);
        AIS(b, "pads", 1, 2);
        break;
    case 14:
        x = in_f(b, D(1, 5, 12, 12), -1, 1);
        y = OP(b, "AveragePool", x);
        AIS(b, "kernel_shape", 2, 2);
        AIS(b, "strides", 2, 2);
        break;
    case 15: /* 3-D, count_include_pad */
        x = in_f(b, D(1, 2, 6, 5, 4), -1, 1);
        y = OP(b, "AveragePool", x);
        AIS(b, "kernel_shape", 2, 2, 2);
        AIS(b, "pads", 1, 0, 1, 1, 0, 0);
        attr_int(b, "count_include_pad", 1);
        break;
    case 16: /* SAME_UPPER average */
        x = in_f(b, D(1, 2, 7, 7), -1, 1);
        y = OP(b, "AveragePool", x);
        AIS(b, "kernel_shape", 3, 3);
        AIS(b, "strides", 2, 2);
        attr_str(b, "auto_pad", "SAME_UPPER");
        break;
    case 17:
        x = in_f(b, D(2, 16, 7, 7), -1, 1);
        y = OP(b, "GlobalAveragePool", x);
        break;
    case 18: /* 1x1 planes */
        x = in_f(b, D(1, 8, 1, 1), -1, 1);
        y = OP(b, "GlobalAveragePool", x);
        break;
    case 19:
        x = in_f(b, D(1, 5, 13, 11), -1, 1);
        y = OP(b, "GlobalAveragePool", x);
        break;
    case 20: /* 1-D */
        x = in_f(b, D(2, 3, 10), -1, 1);
        y = OP(b, "GlobalAveragePool", x);
        break;
    default: /* many channels */
        x = in_f(b, D(1, 256, 14, 14), -1, 1);
        y = OP(b, "GlobalAveragePool", x);
        break;
    }
    out(b, y);
}

/* ---- activations ---- */
static void c_act(cb *b, int v) {
    int x, y;
    switch (v) {
    case 0:
        x = in_f(b, D(3, 5, 7, 11), -1, 1);
        y = OP(b, "Relu", x);
        break;
    case 1: /* several logical blocks */
        x = in_f(b, D(1, 32, 56, 57), -1, 1);
        y = OP(b, "Relu", x);
        break;
    case 2: /* Clip with attributes (opset 6) */
        x = in_f(b, D(4, 33), -1, 1);
        y = OP(b, "Clip", x);
        attr_float(b, "min", -0.5f);
        attr_float(b, "max", 0.7f);
        break;
    case 3: { /* Clip with constant bound inputs (opset 13) */
        x = in_f(b, D(2, 3, 50), -4, 4);
        int lo = k_scalar_f(b, -1.0f), hi = k_scalar_f(b, 2.0f);
        y = OP(b, "Clip", x, lo, hi);
        break;
    }
    case 4: { /* Clip with runtime bounds */
        x = in_f(b, D(2, 50), -2, 2);
        int lo = in_f(b, 0, NULL, -1.0f, -0.5f), hi = in_f(b, 0, NULL, 0.5f, 1.0f);
        y = OP(b, "Clip", x, lo, hi);
        break;
    }
    case 5: { /* Clip with only a max */
        x = in_f(b, D(3, 41), -2, 2);
        int hi = k_scalar_f(b, 0.25f);
        y = OP(b, "Clip", x, -1, hi);
        break;
    }
    case 6:
        x = in_f(b, D(2, 3, 17), -1, 1);
        y = OP(b, "LeakyRelu", x);
        attr_float(b, "alpha", 0.1f);
        break;
    case 7: /* default alpha */
        x = in_f(b, D(2, 3, 17), -1, 1);
        y = OP(b, "LeakyRelu", x);
        break;
    case 8:
        x = in_f(b, D(5, 999), -8, 8);
        y = OP(b, "Sigmoid", x);
        break;
    default:
        x = in_f(b, D(7, 301), -4, 4);
        y = OP(b, "Tanh", x);
        break;
    }
    out(b, y);
}

/* ---- Add / Sub / Mul / Div: v = 4 * shape config + op ---- */
static void c_bin(cb *b, int v) {
    static const char *const ops[4] = {"Add", "Sub", "Mul", "Div"};
    const char *op = ops[v % 4];
    int div = v % 4 == 3, a, c;
    switch (v / 4) {
    case 0: /* same shape */
        a = in_f(b, D(3, 4, 5), -1, 1);
        c = div ? in_away(b, D(3, 4, 5), 0.5f, 2) : in_f(b, D(3, 4, 5), -1, 1);
        break;
    case 1: /* per-channel constant */
        a = in_f(b, D(2, 3, 4, 5), -1, 1);
        c = div ? k_away(b, D(1, 3, 1, 1), 0.5f, 2) : k_f(b, D(1, 3, 1, 1), -1, 1);
        break;
    case 2: /* runtime scalar */
        a = in_f(b, D(2, 3, 4), -1, 1);
        c = div ? in_away(b, 0, NULL, 0.5f, 2) : in_f(b, 0, NULL, -1, 1);
        break;
    case 3: /* both sides broadcast */
        a = in_f(b, D(2, 1, 4), -1, 1);
        c = div ? in_away(b, D(3, 1), 0.5f, 2) : in_f(b, D(3, 1), -1, 1);
        break;
    case 4: /* the left operand broadcast */
        a = in_f(b, D(5), -1, 1);
        c = div ? in_away(b, D(2, 3, 5), 0.5f, 2) : in_f(b, D(2, 3, 5), -1, 1);
        break;
    case 5: /* int64, broadcast; Div truncates toward zero */
        a = in_int(b, MR_DTYPE_I64, D(4, 6), -50, 50, 0);
        c = in_int(b, MR_DTYPE_I64, D(6), -9, 9, 1);
        break;
    case 6: /* int32 */
        a = in_int(b, MR_DTYPE_I32, D(3, 7), -1000, 1000, 0);
        c = in_int(b, MR_DTYPE_I32, D(3, 7), -30, 30, 1);
        break;
    case 7: /* large, several blocks */
        a = in_f(b, D(1, 64, 56, 56), -1, 1);
        c = div ? in_away(b, D(1, 64, 56, 56), 0.5f, 2) : in_f(b, D(1, 64, 56, 56), -1, 1);
        break;
    case 8: /* interleaved broadcast */
        a = in_f(b, D(1, 3, 1, 5), -1, 1);
        c = div ? in_away(b, D(2, 1, 4, 1), 0.5f, 2) : in_f(b, D(2, 1, 4, 1), -1, 1);
        break;
    default: { /* int64 with a constant scalar */
        a = in_int(b, MR_DTYPE_I64, D(5, 5), -100, 100, 0);
        int64_t k = -3;
        c = k_data(b, MR_DTYPE_I64, 0, NULL, &k);
        break;
    }
    }
    int y = OP(b, op, a, c);
    out(b, y);
}

/* ---- Softmax (opset set by the case table) ---- */
static void c_softmax(cb *b, int v) {
    int x, y;
    switch (v) {
    case 0:
        x = in_f(b, D(4, 10), -3, 3);
        y = OP(b, "Softmax", x);
        attr_int(b, "axis", -1);
        break;
    case 1: /* not the last axis */
        x = in_f(b, D(2, 5, 6), -3, 3);
        y = OP(b, "Softmax", x);
        attr_int(b, "axis", 1);
        break;
    case 2: /* opset 11: coerced to 2-D at axis 1 */
        x = in_f(b, D(2, 3, 4), -3, 3);
        y = OP(b, "Softmax", x);
        attr_int(b, "axis", 1);
        break;
    case 3: /* long rows */
        x = in_f(b, D(2, 1000), -10, 10);
        y = OP(b, "Softmax", x);
        break;
    case 4: /* long reduction over a strided axis */
        x = in_f(b, D(3, 7, 300), -3, 3);
        y = OP(b, "Softmax", x);
        attr_int(b, "axis", 1);
        break;
    case 5:
        x = in_f(b, D(6, 4), -3, 3);
        y = OP(b, "Softmax", x);
        attr_int(b, "axis", 0);
        break;
    default: /* many rows, large values (max subtraction matters) */
        x = in_f(b, D(64, 1000), -30, 30);
        y = OP(b, "Softmax", x);
        break;
    }
    out(b, y);
}

/* ---- BatchNormalization / LRN ---- */
static void c_norm(cb *b, int v) {
    int x, y;
    switch (v) {
    case 0: { /* constant parameters (not folded: no Conv before it) */
        x = in_f(b, D(2, 6, 5, 5), -2, 2);
        int s = k_f(b, D(6), 0.5f, 1.5f), bb = k_f(b, D(6), -0.5f, 0.5f);
        int m = k_f(b, D(6), -0.5f, 0.5f), var = k_f(b, D(6), 0.5f, 2);
        y = OP(b, "BatchNormalization", x, s, bb, m, var);
        break;
    }
    case 1: { /* runtime parameters */
        x = in_f(b, D(1, 4, 7, 3), -2, 2);
        int s = in_f(b, D(4), 0.5f, 1.5f), bb = in_f(b, D(4), -0.5f, 0.5f);
        int m = in_f(b, D(4), -0.5f, 0.5f), var = in_f(b, D(4), 0.2f, 1.5f);
        y = OP(b, "BatchNormalization", x, s, bb, m, var);
        break;
    }
    case 2: { /* rank 2 */
        x = in_f(b, D(4, 6), -2, 2);
        int s = k_f(b, D(6), 0.5f, 1.5f), bb = k_f(b, D(6), -0.5f, 0.5f);
        int m = k_f(b, D(6), -0.5f, 0.5f), var = k_f(b, D(6), 0.5f, 2);
        y = OP(b, "BatchNormalization", x, s, bb, m, var);
        break;
    }
    case 3: { /* rank 3, epsilon */
        x = in_f(b, D(2, 3, 10), -2, 2);
        int s = k_f(b, D(3), 0.5f, 1.5f), bb = k_f(b, D(3), -0.5f, 0.5f);
        int m = k_f(b, D(3), -0.5f, 0.5f), var = k_f(b, D(3), 0.01f, 0.1f);
        y = OP(b, "BatchNormalization", x, s, bb, m, var);
        attr_float(b, "epsilon", 1e-3f);
        break;
    }
    case 4: /* AlexNet's LRN */
        x = in_f(b, D(1, 16, 7, 7), -3, 3);
        y = OP(b, "LRN", x);
        attr_int(b, "size", 5);
        attr_float(b, "alpha", 1e-4f);
        attr_float(b, "beta", 0.75f);
        attr_float(b, "bias", 1.0f);
        break;
    case 5:
        x = in_f(b, D(2, 5, 6, 6), -3, 3);
        y = OP(b, "LRN", x);
        attr_int(b, "size", 3);
        attr_float(b, "alpha", 0.01f);
        attr_float(b, "beta", 0.5f);
        attr_float(b, "bias", 2.0f);
        break;
    default: /* even size: asymmetric window */
        x = in_f(b, D(1, 7, 5, 5), -3, 3);
        y = OP(b, "LRN", x);
        attr_int(b, "size", 4);
        attr_float(b, "alpha", 0.1f);
        attr_float(b, "beta", 0.9f);
        attr_float(b, "bias", 1.5f);
        break;
    }
    out(b, y);
}

/* ---- Concat / Transpose / Gather / Slice / Expand (opset 13 unless the table says) ---- */
static void c_xform(cb *b, int v) {
    int x, y;
    switch (v) {
    case 0: { /* Concat axis 1, runtime and constant pieces */
        x = in_f(b, D(2, 3, 4), -1, 1);
        int x2 = in_f(b, D(2, 5, 4), -1, 1), k = k_f(b, D(2, 1, 4), -1, 1);
        y = OP(b, "Concat", x, x2, k);
        attr_int(b, "axis", 1);
        break;
    }
    case 1: {
        x = in_f(b, D(1, 6), -1, 1);
        int x2 = in_f(b, D(3, 6), -1, 1);
        y = OP(b, "Concat", x, x2);
        attr_int(b, "axis", 0);
        break;
    }
    case 2: { /* int64, negative axis */
        x = in_int(b, MR_DTYPE_I64, D(2, 3), -1000, 1000, 0);
        int64_t kv[4] = {7, -8, 9, 1LL << 40};
        int k = k_data(b, MR_DTYPE_I64, D(2, 2), kv);
        y = OP(b, "Concat", x, k);
        attr_int(b, "axis", -1);
        break;
    }
    case 3: { /* four pieces along the last axis */
        x = in_f(b, D(1, 2, 3, 2), -1, 1);
        int x2 = in_f(b, D(1, 2, 3, 1), -1, 1), x3 = in_f(b, D(1, 2, 3, 5), -1, 1);
        int x4 = in_f(b, D(1, 2, 3, 3), -1, 1);
        y = OP(b, "Concat", x, x2, x3, x4);
        attr_int(b, "axis", 3);
        break;
    }
    case 4:
        x = in_f(b, D(2, 3, 4, 5), -1, 1);
        y = OP(b, "Transpose", x);
        AIS(b, "perm", 0, 2, 3, 1);
        break;
    case 5: /* default perm: reversed */
        x = in_f(b, D(3, 4, 5), -1, 1);
        y = OP(b, "Transpose", x);
        break;
    case 6:
        x = in_f(b, D(37, 53), -1, 1);
        y = OP(b, "Transpose", x);
        AIS(b, "perm", 1, 0);
        break;
    case 7:
        x = in_int(b, MR_DTYPE_I64, D(2, 3, 4), -1000, 1000, 0);
        y = OP(b, "Transpose", x);
        AIS(b, "perm", 1, 0, 2);
        break;
    case 8: { /* Gather axis 0, negative index */
        x = in_f(b, D(10, 4), -1, 1);
        int idx = KI(b, 0, 9, -1);
        y = OP(b, "Gather", x, idx);
        break;
    }
    case 9: { /* Gather axis 1, 2-D indices */
        x = in_f(b, D(3, 8, 5), -1, 1);
        int idx = k_data(b, MR_DTYPE_I64, D(2, 2), (const int64_t[]){1, 7, -2, 0});
        y = OP(b, "Gather", x, idx);
        attr_int(b, "axis", 1);
        break;
    }
    case 10: { /* scalar index: the axis disappears */
        x = in_f(b, D(2, 3, 6), -1, 1);
        int64_t i = 3;
        int idx = k_data(b, MR_DTYPE_I64, 0, NULL, &i);
        y = OP(b, "Gather", x, idx);
        attr_int(b, "axis", 2);
        break;
    }
    case 11: { /* int64 data, int32 indices */
        x = in_int(b, MR_DTYPE_I64, D(5, 3), -1000, 1000, 0);
        int idx = k_data(b, MR_DTYPE_I32, D(3), (const int32_t[]){4, 0, 4});
        y = OP(b, "Gather", x, idx);
        break;
    }
    case 12: { /* Slice with steps */
        x = in_f(b, D(10, 12), -1, 1);
        int st = KI(b, 1, 2), en = KI(b, 8, -1), ax = KI(b, 0, 1), sp = KI(b, 2, 3);
        y = OP(b, "Slice", x, st, en, ax, sp);
        break;
    }
    case 13: { /* negative steps, clamped ends */
        x = in_f(b, D(6, 7, 8), -1, 1);
        int st = KI(b, -1, 5), en = KI(b, -1000, 0), ax = KI(b, 2, 1), sp = KI(b, -3, -2);
        y = OP(b, "Slice", x, st, en, ax, sp);
        break;
    }
    case 14: { /* int64 data, ends = INT64_MAX, no axes/steps */
        x = in_int(b, MR_DTYPE_I64, D(4, 9), -1000, 1000, 0);
        int st = KI(b, 0, 1), en = KI(b, INT64_MAX, 8);
        y = OP(b, "Slice", x, st, en);
        break;
    }
    case 15: /* Slice-1 attributes (opset 9 in the table) */
        x = in_f(b, D(4, 5, 6), -1, 1);
        y = OP(b, "Slice", x);
        AIS(b, "starts", 1);
        AIS(b, "ends", 3);
        AIS(b, "axes", 1);
        break;
    case 16: { /* Expand */
        x = in_f(b, D(3, 1), -1, 1);
        int shape = KI(b, 2, 3, 4);
        y = OP(b, "Expand", x, shape);
        break;
    }
    case 17: { /* Expand to a shape with ones: bidirectional broadcast */
        x = in_f(b, D(1, 4), -1, 1);
        int shape = KI(b, 3, 1);
        y = OP(b, "Expand", x, shape);
        break;
    }
    default: { /* int64 Expand */
        x = in_int(b, MR_DTYPE_I64, D(2, 1), -1000, 1000, 0);
        int shape = KI(b, 2, 3);
        y = OP(b, "Expand", x, shape);
        break;
    }
    }
    out(b, y);
}

/* ---- views (normally aliased; as graph outputs or after compute) ---- */
static void c_view(cb *b, int v) {
    int x, y;
    switch (v) {
    case 0: {
        x = in_f(b, D(2, 3, 4), -1, 1);
        int shape = KI(b, 4, -1);
        y = OP(b, "Reshape", x, shape);
        break;
    }
    case 1: { /* Relu -> Flatten -> Unsqueeze, then Sigmoid so views sit between kernels */
        x = in_f(b, D(2, 3, 4, 5), -1, 1);
        y = OP(b, "Relu", x);
        y = OP(b, "Flatten", y);
        attr_int(b, "axis", 2);
        int axes = KI(b, 0);
        y = OP(b, "Unsqueeze", y, axes);
        y = OP(b, "Sigmoid", y);
        break;
    }
    case 2:
        x = in_f(b, D(3, 7), -1, 1);
        y = OP(b, "Identity", x);
        break;
    case 3: {
        x = in_f(b, D(1, 3, 1, 5), -1, 1);
        int axes = KI(b, 0, 2);
        y = OP(b, "Squeeze", x, axes);
        break;
    }
    default: /* inference Dropout is the identity */
        x = in_f(b, D(4, 9), -1, 1);
        y = OP(b, "Dropout", x);
        break;
    }
    out(b, y);
}

/* ---- LSTM / GRU ---- */
typedef struct rnn_cfg {
    int gru, dirs, reverse, layout, lbr;
    int64_t S, B, I, H;
    int bias, h0, c0, seq, peep;
    unsigned omit; /* outputs left out: bit 0 Y, 1 Y_h, 2 Y_c */
} rnn_cfg;

static void c_rnn(cb *b, int v) {
    static const rnn_cfg cfgs[] = {
        /* gru dirs rev layout lbr  S  B  I  H  bias h0 c0 seq peep omit */
        {0, 1, 0, 0, 0, 7, 3, 10, 20, 1, 0, 0, 0, 0, 0},  /* LSTM forward */
        {0, 1, 1, 0, 0, 6, 2, 9, 16, 0, 0, 0, 0, 0, 2},   /* LSTM reverse, no bias, no Y_h */
        {0, 2, 0, 0, 0, 5, 3, 8, 12, 1, 1, 1, 1, 1, 0},   /* LSTM bidirectional, everything */
        {0, 1, 0, 1, 0, 7, 3, 10, 20, 1, 1, 1, 0, 0, 1},  /* LSTM batch-first, Y left out */
        {1, 1, 0, 0, 0, 7, 3, 10, 20, 1, 0, 0, 0, 0, 0},  /* GRU forward lbr 0 */
        {1, 1, 0, 0, 1, 7, 3, 10, 20, 1, 1, 0, 0, 0, 0},  /* GRU forward lbr 1 */
        {1, 1, 1, 0, 0, 6, 2, 9, 16, 1, 0, 0, 0, 0, 0},   /* GRU reverse lbr 0 */
        {1, 1, 1, 0, 1, 6, 2, 9, 16, 0, 0, 0, 0, 0, 0},   /* GRU reverse lbr 1, no bias */
        {1, 2, 0, 0, 0, 5, 3, 8, 12, 1, 1, 0, 1, 0, 0},   /* GRU bidirectional lbr 0 */
        {1, 2, 0, 0, 1, 5, 3, 8, 12, 1, 1, 0, 0, 0, 0},   /* GRU bidirectional lbr 1 */
        {1, 1, 0, 1, 1, 7, 2, 10, 20, 1, 1, 0, 0, 0, 0},  /* GRU batch-first lbr 1 */
        {0, 2, 0, 0, 0, 12, 1, 32, 64, 1, 0, 0, 0, 0, 0}, /* larger LSTM */
        {1, 1, 0, 0, 0, 10, 2, 24, 96, 1, 1, 0, 0, 0, 0}, /* larger GRU lbr 0 */
        /* One batch entry at a time (the kernel's batch-1 path, several rows per warp): */
        {1, 2, 0, 0, 0, 9, 1, 16, 32, 1, 1, 0, 0, 0, 0}, /* GRU bidirectional lbr 0, B 1 */
        {0, 1, 0, 0, 0, 6, 5, 12, 40, 1, 1, 1, 0, 1, 0}, /* LSTM B 5: its last chunk has 1 */
        /* B 1, H 1024: several passes of RNN_ROWS rows per warp (ht 8 on the whole GPU: 32
         * LSTM rows, 24 GRU, per block) */
        {0, 1, 0, 0, 0, 4, 1, 16, 1024, 1, 1, 1, 0, 0, 0}, /* LSTM B 1 */
        {1, 1, 1, 0, 1, 4, 1, 16, 1024, 1, 0, 0, 0, 0, 0}, /* GRU reverse lbr 1, B 1 */
        {1, 1, 0, 0, 0, 4, 1, 16, 1024, 0, 1, 0, 0, 0, 0}, /* GRU lbr 0 (two phases), B 1 */
        /* Not the persistent recurrence (one phase per step): H not a multiple of 4, and a
         * vector chunk (4 x 1028 floats) past the small variant's shared memory. */
        {0, 1, 0, 0, 0, 5, 2, 8, 18, 1, 1, 1, 0, 0, 0},   /* LSTM H 18 */
        {1, 1, 0, 0, 0, 3, 4, 8, 1028, 1, 1, 0, 0, 0, 0}, /* GRU lbr 0, B 4, H 1028 */
        /* B 1, H <= 512: on 16 SMs (test_green) tiles of 16 units, the fused step */
        {0, 1, 0, 0, 0, 5, 1, 16, 512, 1, 1, 1, 0, 1, 0}, /* LSTM, initial state, peepholes */
        {1, 1, 1, 0, 1, 5, 1, 16, 512, 1, 1, 0, 0, 0, 0}, /* GRU reverse lbr 1 */
        {0, 2, 0, 1, 0, 4, 1, 16, 256, 1, 1, 1, 0, 0, 0}, /* LSTM bidirectional batch-first */
        /* tiles of 8 units (one per warp) and H / 4 = 34 columns of float4 (two lanes take
         * two), on 16 SMs */
        {1, 2, 0, 0, 1, 4, 1, 12, 136, 1, 1, 0, 0, 0, 0}, /* GRU bidirectional lbr 1 */
        /* B 1, H a multiple of 128, no initial_h (the fused step's h_{t-1} from its tags from
         * the first step on), tiles of 16 units on 16 SMs, 8 elsewhere */
        {0, 1, 0, 0, 0, 6, 1, 16, 512, 1, 0, 1, 0, 1, 0}, /* LSTM, initial_c, peepholes */
        {1, 2, 0, 0, 1, 5, 1, 12, 256, 1, 0, 0, 0, 0, 0}, /* GRU bidirectional lbr 1 */
    };
    const rnn_cfg *c = &cfgs[v];
    int64_t G = c->gru ? 3 : 4, D_ = c->dirs;
    int x = c->layout ? in_f(b, D(c->B, c->S, c->I), -1, 1) : in_f(b, D(c->S, c->B, c->I), -1, 1);
    int w = k_f(b, D(D_, G * c->H, c->I), -0.4f, 0.4f);
    int r = k_f(b, D(D_, G * c->H, c->H), -0.4f, 0.4f);
    int bias = c->bias ? k_f(b, D(D_, 2 * G * c->H), -0.5f, 0.5f) : -1;
    int seq = -1;
    if (c->seq) {
        int32_t lens[8];
        for (int64_t i = 0; i < c->B; i++) lens[i] = (int32_t)c->S;
        seq = k_data(b, MR_DTYPE_I32, D(c->B), lens);
    }
    int h0 = -1, c0 = -1, p = -1;
    if (c->h0)
        h0 = c->layout ? in_f(b, D(c->B, D_, c->H), -1, 1) : in_f(b, D(D_, c->B, c->H), -1, 1);
    if (c->c0)
        c0 = c->layout ? in_f(b, D(c->B, D_, c->H), -1, 1) : in_f(b, D(D_, c->B, c->H), -1, 1);
    if (c->peep) p = k_f(b, D(D_, 3 * c->H), -0.5f, 0.5f);
    int in[8] = {x, w, r, bias, seq, h0, c0, p};
    int n_in = c->gru ? 6 : (c->peep ? 8 : (c->c0 ? 7 : 6));
    int outs[3];
    int n_out = c->gru ? 2 : 3;
    opn(b, c->gru ? "GRU" : "LSTM", n_in, in, n_out, outs, c->omit);
    attr_int(b, "hidden_size", c->H);
    if (c->dirs == 2) attr_str(b, "direction", "bidirectional");
    if (c->reverse) attr_str(b, "direction", "reverse");
    if (c->layout) attr_int(b, "layout", 1);
    if (c->gru) attr_int(b, "linear_before_reset", c->lbr);
    for (int k = 0; k < n_out; k++)
        if (outs[k] >= 0) out(b, outs[k]);
}

/* ---- two stacked layers (LSTM/GRU, Squeeze, LSTM/GRU, as PyTorch exports num_layers = 2):
 * the graph pass makes them one node, whose CUDA kernel runs layer 1's step t beside layer 0's
 * step t + 1 (cuda/rnn.cu, stack_prepare) ---- */
static void c_rnn_stack(cb *b, int v) {
    static const struct {
        int gru, S, I, H, init, peep;
        float w; /* W and R from U(-w, w) */
    } cfgs[] = {
        {0, 12, 64, 512, 0, 0, 0.3f}, /* the zoo's layers, shorter */
        {1, 9, 24, 136, 0, 0, 0.3f},  /* GRU: H / 4 = 34 float4 columns */
        {0, 7, 16, 64, 1, 1, 0.3f},   /* initial states and peepholes in both layers */
        /* GRU, on 16 SMs one layer after the other; weights nearer PyTorch's initial
         * U(-0.044, 0.044) at H 512 (with 0.3, gate inputs reach sums of |w h| ~ 40) */
        {1, 8, 32, 512, 0, 0, 0.1f},
        /* constant initial states (init 2), as exporters may write the zero state: under TF32
         * on 16 SMs still the tensor-core step (|h0| <= 1), tiles of 8 units, 4 rows per warp */
        {0, 6, 32, 256, 2, 0, 0.3f},
    };
    const int gru = cfgs[v].gru, S = cfgs[v].S, H = cfgs[v].H;
    const int64_t G = gru ? 3 : 4;
    int x = in_f(b, D(S, 1, cfgs[v].I), -1, 1);
    int outs[3];
    for (int l = 0; l < 2; l++) {
        int64_t ni = l ? H : cfgs[v].I;
        int in[8] = {x,
                     k_f(b, D(1, G * H, ni), -cfgs[v].w, cfgs[v].w),
                     k_f(b, D(1, G * H, H), -cfgs[v].w, cfgs[v].w),
                     k_f(b, D(1, 2 * G * H), -0.5f, 0.5f),
                     -1,
                     -1,
                     -1,
                     -1};
        if (cfgs[v].init == 1) {
            in[5] = in_f(b, D(1, 1, H), -1, 1);
            in[6] = in_f(b, D(1, 1, H), -1, 1);
        } else if (cfgs[v].init == 2) {
            in[5] = k_f(b, D(1, 1, H), -1, 1);
            in[6] = k_f(b, D(1, 1, H), -1, 1);
        }
        if (cfgs[v].peep) in[7] = k_f(b, D(1, 3 * H), -0.5f, 0.5f);
        int n_in = gru ? 4 : cfgs[v].peep ? 8 : cfgs[v].init ? 7 : 4;
        opn(b, gru ? "GRU" : "LSTM", n_in, in, gru ? 2 : 3, outs, l ? 0 : 6u);
        attr_int(b, "hidden_size", H);
        if (gru) attr_int(b, "linear_before_reset", 1);
        if (l == 0) {
            int64_t axis = 1;
            int sq_in[2] = {outs[0], k_ints(b, 1, &axis)};
            x = op1(b, "Squeeze", 2, sq_in);
        }
    }
    for (int k = 0; k < (gru ? 2 : 3); k++) out(b, outs[k]);
}

/* ---- a small multi-step network: Conv+BN(folded)+Relu, MaxPool, Flatten, Gemm, Softmax ---- */
static void c_chain(cb *b, int v) {
    int x = in_f(b, D(1, 3, 16, 16), -1, 1);
    int w = k_f(b, D(8, 3, 3, 3), -0.5f, 0.5f);
    int y = OP(b, "Conv", x, w);
    AIS(b, "pads", 1, 1, 1, 1);
    int s = k_f(b, D(8), 0.5f, 1.5f), bb = k_f(b, D(8), -0.5f, 0.5f);
    int m = k_f(b, D(8), -0.5f, 0.5f), var = k_f(b, D(8), 0.5f, 2);
    y = OP(b, "BatchNormalization", y, s, bb, m, var);
    y = OP(b, "Relu", y);
    y = OP(b, "MaxPool", y);
    AIS(b, "kernel_shape", 2, 2);
    AIS(b, "strides", 2, 2);
    y = OP(b, "Flatten", y);
    int fw = k_f(b, D(10, 512), -0.1f, 0.1f), fb = k_f(b, D(10), -0.5f, 0.5f);
    y = OP(b, "Gemm", y, fw, fb);
    attr_int(b, "transB", 1);
    if (v == 1) {
        int h = y;
        y = OP(b, "Softmax", h);
        out(b, h); /* an intermediate that is also a graph output */
    }
    out(b, y);
}

/* Which cases also run on a TF32 runtime (run_case_tf32), and what their kernels are there. */
enum {
    TF32_NO = 0,
    TF32_TC = 1, /* a tensor-core kernel: the output must differ from the float32 runtime's */
    TF32_FP = 2, /* a float32 kernel under either precision (DIRECT Conv, GEMV): the output must
                    equal the float32 runtime's bit for bit */
};

typedef struct op_case {
    const char *label;
    build_fn build;
    int v;
    const tol *tol;
    int opset;      /* 0: 13 */
    int want_steps; /* > 0: the model must have this many kernel steps (fusion happened) */
    int tf32;       /* TF32_* */
} op_case;

static const op_case CASES[] = {
    {"op/conv/basic", c_conv, 0, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/stride2_asym_pads", c_conv, 1, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/dilation2", c_conv, 2, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/groups2", c_conv, 3, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/depthwise_s2", c_conv, 4, &TOL_GEMM, 0, 0, TF32_FP},
    {"op/conv/depthwise_mult2", c_conv, 5, &TOL_GEMM, 0, 0, TF32_FP},
    {"op/conv/1x1", c_conv, 6, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/1d_s2", c_conv, 7, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/1d_dil_group", c_conv, 8, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/same_upper", c_conv, 9, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/7x7_stem", c_conv, 10, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/deep_k576", c_conv, 11, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/rect_mixed", c_conv, 12, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/fused_relu", c_conv, 13, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/conv/fused_clip_dw", c_conv, 14, &TOL_GEMM, 0, 1, TF32_FP},
    {"op/conv/fused_leakyrelu", c_conv, 15, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/conv/5x5_batch2", c_conv, 16, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/1x1_s2", c_conv, 17, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/1x1_relu_splitk_b2", c_conv, 18, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/conv/grouped_3x3_splitk", c_conv, 19, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/3x3_patch_asym", c_conv, 20, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/conv/3x3_patch_4x16_relu", c_conv, 21, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/conv/depthwise_waves", c_conv, 22, &TOL_GEMM, 0, 0, TF32_FP},
    {"op/conv/depthwise_batch3_mult2", c_conv, 23, &TOL_GEMM, 0, 0, TF32_FP},
    {"op/conv/residual_relu_b2", c_conv, 24, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/conv/residual_1x1_splitk_relu", c_conv, 25, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/conv/residual_1x1_odd", c_conv, 26, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/conv/residual_dw_clip", c_conv, 27, &TOL_GEMM, 0, 1, TF32_FP},
    {"op/conv/residual_patch_asym", c_conv, 28, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/conv/residual_patch_splitk_relu", c_conv, 29, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/conv/residual_downsample", c_conv, 30, &TOL_GEMM, 0, 2, TF32_TC},
    {"op/conv/residual_grouped_splitk", c_conv, 31, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/gemm/bias_n", c_gemm, 0, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/gemm/transA_c_mn", c_gemm, 1, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/gemm/transB_alpha_beta_c_m1", c_gemm, 2, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/gemm/transAB_c_1", c_gemm, 3, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/gemm/no_c", c_gemm, 4, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/gemm/fc_m1", c_gemm, 5, &TOL_GEMM, 0, 0, TF32_FP},
    {"op/gemm/c_1n", c_gemm, 6, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/gemm/all_runtime", c_gemm, 7, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/gemm/odd_65x201x300", c_gemm, 8, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/gemm/fused_relu", c_gemm, 9, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/gemm/c_scalar", c_gemm, 10, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/gemm/beta0", c_gemm, 11, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/matmul/2d", c_matmul, 0, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/matmul/batched", c_matmul, 1, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/matmul/broadcast_batch", c_matmul, 2, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/matmul/weights_2d", c_matmul, 3, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/matmul/1d_a", c_matmul, 4, &TOL_GEMM, 0, 0, TF32_FP},
    {"op/matmul/1d_b", c_matmul, 5, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/matmul/1d_both", c_matmul, 6, &TOL_GEMM, 0, 0, TF32_FP},
    {"op/matmul/fused_bias", c_matmul, 7, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/matmul/fused_bias_relu_3d", c_matmul, 8, &TOL_GEMM, 0, 1, TF32_TC},
    {"op/matmul/a_broadcast", c_matmul, 9, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/matmul/128x192x256", c_matmul, 10, &TOL_GEMM, 0, 0, TF32_TC},
    {"op/pool/max_2x2", c_pool, 0, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/pool/max_3x3s2p1", c_pool, 1, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/pool/max_ceil", c_pool, 2, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/pool/max_dilation", c_pool, 3, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/pool/max_1d", c_pool, 4, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/pool/max_asym_pads", c_pool, 5, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/pool/max_same_upper", c_pool, 6, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/pool/max_3d", c_pool, 7, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/pool/max_same_lower", c_pool, 8, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/pool/avg_pads", c_pool, 9, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/avg_count_include_pad", c_pool, 10, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/avg_ceil_cip", c_pool, 11, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/avg_ceil", c_pool, 12, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/avg_1d", c_pool, 13, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/avg_2x2", c_pool, 14, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/avg_3d_cip", c_pool, 15, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/avg_same_upper", c_pool, 16, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/gap", c_pool, 17, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/gap_1x1", c_pool, 18, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/gap_odd", c_pool, 19, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/gap_1d", c_pool, 20, &TOL_RED, 0, 0, TF32_NO},
    {"op/pool/gap_256ch", c_pool, 21, &TOL_RED, 0, 0, TF32_NO},
    {"op/act/relu", c_act, 0, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/act/relu_large", c_act, 1, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/act/clip_attrs", c_act, 2, &TOL_EXACT, 6, 0, TF32_NO},
    {"op/act/clip_const", c_act, 3, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/act/clip_runtime", c_act, 4, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/act/clip_max_only", c_act, 5, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/act/leakyrelu", c_act, 6, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/act/leakyrelu_default", c_act, 7, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/act/sigmoid", c_act, 8, &TOL_RED, 0, 0, TF32_NO},
    {"op/act/tanh", c_act, 9, &TOL_RED, 0, 0, TF32_NO},
/* clang-format off */
#define BIN4(name, cfg)                                                    \
    {"op/bin/add_" name, c_bin, 4 * (cfg) + 0, &TOL_EXACT, 0, 0, TF32_NO}, \
    {"op/bin/sub_" name, c_bin, 4 * (cfg) + 1, &TOL_EXACT, 0, 0, TF32_NO}, \
    {"op/bin/mul_" name, c_bin, 4 * (cfg) + 2, &TOL_EXACT, 0, 0, TF32_NO}, \
    {"op/bin/div_" name, c_bin, 4 * (cfg) + 3, &TOL_EXACT, 0, 0, TF32_NO}
    BIN4("same", 0),
    BIN4("channel_const", 1),
    BIN4("scalar", 2),
    BIN4("both_broadcast", 3),
    BIN4("left_broadcast", 4),
    BIN4("i64_broadcast", 5),
    BIN4("i32", 6),
    BIN4("large", 7),
    BIN4("interleaved", 8),
    BIN4("i64_const_scalar", 9),
#undef BIN4
    /* clang-format on */
    {"op/softmax/last", c_softmax, 0, &TOL_RED, 0, 0, TF32_NO},
    {"op/softmax/axis1", c_softmax, 1, &TOL_RED, 0, 0, TF32_NO},
    {"op/softmax/legacy_opset11", c_softmax, 2, &TOL_RED, 11, 0, TF32_NO},
    {"op/softmax/row1000", c_softmax, 3, &TOL_RED, 0, 0, TF32_NO},
    {"op/softmax/strided300", c_softmax, 4, &TOL_RED, 0, 0, TF32_NO},
    {"op/softmax/axis0", c_softmax, 5, &TOL_RED, 0, 0, TF32_NO},
    {"op/softmax/64x1000", c_softmax, 6, &TOL_RED, 0, 0, TF32_NO},
    {"op/norm/bn_const", c_norm, 0, &TOL_RED, 0, 0, TF32_NO},
    {"op/norm/bn_runtime", c_norm, 1, &TOL_RED, 0, 0, TF32_NO},
    {"op/norm/bn_rank2", c_norm, 2, &TOL_RED, 0, 0, TF32_NO},
    {"op/norm/bn_rank3_eps", c_norm, 3, &TOL_RED, 0, 0, TF32_NO},
    {"op/norm/lrn5", c_norm, 4, &TOL_RED, 0, 0, TF32_NO},
    {"op/norm/lrn3", c_norm, 5, &TOL_RED, 0, 0, TF32_NO},
    {"op/norm/lrn4_even", c_norm, 6, &TOL_RED, 0, 0, TF32_NO},
    {"op/xform/concat_axis1", c_xform, 0, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/concat_axis0", c_xform, 1, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/concat_i64", c_xform, 2, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/concat_4", c_xform, 3, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/transpose_nhwc", c_xform, 4, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/transpose_default", c_xform, 5, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/transpose_2d", c_xform, 6, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/transpose_i64", c_xform, 7, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/gather_axis0", c_xform, 8, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/gather_2d_idx", c_xform, 9, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/gather_scalar", c_xform, 10, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/gather_i64_i32idx", c_xform, 11, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/slice_steps", c_xform, 12, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/slice_negative", c_xform, 13, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/slice_i64_max", c_xform, 14, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/slice_opset9", c_xform, 15, &TOL_EXACT, 9, 0, TF32_NO},
    {"op/xform/expand", c_xform, 16, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/expand_bidir", c_xform, 17, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/xform/expand_i64", c_xform, 18, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/view/reshape_out", c_view, 0, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/view/flatten_unsqueeze", c_view, 1, &TOL_RED, 0, 0, TF32_NO},
    {"op/view/identity_out", c_view, 2, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/view/squeeze_out", c_view, 3, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/view/dropout_out", c_view, 4, &TOL_EXACT, 0, 0, TF32_NO},
    {"op/rnn/lstm_fwd", c_rnn, 0, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_rev_nobias", c_rnn, 1, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_bidir_full", c_rnn, 2, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_batch_first", c_rnn, 3, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_fwd_lbr0", c_rnn, 4, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_fwd_lbr1", c_rnn, 5, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_rev_lbr0", c_rnn, 6, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_rev_lbr1_nobias", c_rnn, 7, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_bidir_lbr0", c_rnn, 8, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_bidir_lbr1", c_rnn, 9, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_batch_first_lbr1", c_rnn, 10, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_bidir_h64", c_rnn, 11, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_h96_lbr0", c_rnn, 12, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_bidir_lbr0_b1", c_rnn, 13, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_peep_b5", c_rnn, 14, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_b1_h1024", c_rnn, 15, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_rev_lbr1_b1_h1024", c_rnn, 16, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_lbr0_b1_h1024", c_rnn, 17, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_h18_steps", c_rnn, 18, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_lbr0_b4_h1028_steps", c_rnn, 19, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_b1_h512_peep", c_rnn, 20, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_rev_lbr1_b1_h512", c_rnn, 21, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_bidir_b1_h256_layout1", c_rnn, 22, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_bidir_lbr1_b1_h136", c_rnn, 23, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/stack_lstm_h512", c_rnn_stack, 0, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/stack_gru_h136", c_rnn_stack, 1, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/stack_lstm_init_peep", c_rnn_stack, 2, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/stack_gru_h512", c_rnn_stack, 3, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/stack_lstm_h256_const_init", c_rnn_stack, 4, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/lstm_b1_h512_c0_peep", c_rnn, 24, &TOL_RNN, 0, 0, TF32_NO},
    {"op/rnn/gru_bidir_lbr1_b1_h256", c_rnn, 25, &TOL_RNN, 0, 0, TF32_NO},
    {"op/chain/cnn", c_chain, 0, &TOL_GEMM, 0, 0, TF32_NO},
    {"op/chain/cnn_softmax_2out", c_chain, 1, &TOL_GEMM, 0, 0, TF32_NO},
    {NULL, NULL, 0, NULL, 0, 0, 0},
};

/* ======================================================================================== */
/* Harness */

typedef struct ctx {
    mr_runtime *cpu;  /* the reference */
    mr_runtime *dev;  /* CUDA runtime (float32), or a second CPU runtime in the self-check */
    mr_runtime *tf32; /* CUDA runtime with MR_PRECISION_TF32, or a third CPU runtime */
    int have_cuda;
    int n_cases, n_modes;
    int n_tf32;             /* TF32 cases run */
    double tf32_worst;      /* largest |y_tf32 - y_ref| / bound seen */
    char tf32_worst_at[96]; /* where */
} ctx;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static void free_inputs(cb *b) {
    for (int i = 0; i < b->n_in; i++) free(b->in[i].data);
    b->n_in = 0;
}

/* Builds case `c` into b->g (NULL on failure, reported); abs: every float32 value |.| (the
 * same graph computes S for the TF32 bound). */
static mr_graph *build_case_abs(const op_case *c, cb *b, int abs) {
    memset(b, 0, sizeof *b);
    b->abs = abs;
    mr_err_clear(&b->err);
    b->g = mr_graph_create(&b->err);
    if (!b->g) return NULL;
    b->g->opset = c->opset ? c->opset : 13;
    mr_rng_seed(&b->rng, hash_str(c->label));
    c->build(b, c->v);
    if (b->bad) {
        CHECK_MSG(0, "%s: the case graph could not be built", c->label);
        mr_graph_destroy(b->g);
        b->g = NULL;
        free_inputs(b);
        return NULL;
    }
    return b->g;
}

static mr_graph *build_case(const op_case *c, cb *b) {
    return build_case_abs(c, b, 0);
}

static mr_model *load_graph(mr_runtime *rt, mr_graph *g, const char *label, const char *what) {
    mr_model *m = NULL;
    mr_status st = mr_model_from_graph(rt, g, NULL, &m);
    CHECK_MSG(st == MR_OK, "%s: load on the %s backend: %s", label, what,
              mr_runtime_last_error(rt));
    return st == MR_OK ? m : NULL;
}

/* Output buffers matching the model's outputs (NaN-filled by poison_outputs). */
static int alloc_outputs(const mr_model *m, mr_tensor *outs) {
    int n = mr_model_n_outputs(m);
    if (n > MAX_IO) return 0;
    memset(outs, 0, sizeof(mr_tensor) * (size_t)n);
    for (int i = 0; i < n; i++) {
        mr_tensor_info info;
        mr_model_output_info(m, i, &info);
        memset(&outs[i], 0, sizeof outs[i]);
        outs[i].dtype = info.dtype;
        outs[i].ndim = info.ndim;
        memcpy(outs[i].dims, info.dims, sizeof outs[i].dims);
        int64_t ne = mr_tensor_numel(&outs[i]);
        outs[i].data = malloc((size_t)(ne > 0 ? ne : 1) * mr_dtype_size(info.dtype));
        if (!outs[i].data) return 0;
    }
    return 1;
}

static void free_outputs(mr_tensor *outs, int n) {
    for (int i = 0; i < n && i < MAX_IO; i++) {
        free(outs[i].data);
        outs[i].data = NULL;
    }
}

/* 0xff bytes: NaN for float32, -1 for integers: an element nobody writes shows up. */
static void poison_outputs(mr_tensor *outs, int n) {
    for (int i = 0; i < n; i++)
        memset(outs[i].data, 0xff,
               (size_t)mr_tensor_numel(&outs[i]) * mr_dtype_size(outs[i].dtype));
}

/* Compares every output: |got - ref| <= atol + rtol * |ref| for float32 (NaN in either fails),
 * equality for integers. `scale_range` > 0: atol = scale_range * (max - min of ref), rtol 0
 * (zoo logits). Reports the worst element. */
static int compare(const char *label, const char *mode, int n, const mr_tensor *got,
                   const mr_tensor *ref, const tol *t, double scale_range) {
    int ok = 1;
    for (int o = 0; o < n; o++) {
        int64_t ne = mr_tensor_numel(&ref[o]);
        if (ref[o].dtype == MR_DTYPE_F32) {
            const float *g = got[o].data, *r = ref[o].data;
            double rtol = t->rtol, atol = t->atol;
            if (scale_range > 0) {
                double lo = INFINITY, hi = -INFINITY;
                for (int64_t i = 0; i < ne; i++) {
                    if (r[i] < lo) lo = r[i];
                    if (r[i] > hi) hi = r[i];
                }
                rtol = 0;
                atol = scale_range * (hi - lo);
            }
            double worst_excess = 0, max_abs = 0;
            int64_t worst = -1, bad = 0;
            for (int64_t i = 0; i < ne; i++) {
                double d = fabs((double)g[i] - (double)r[i]);
                double excess =
                    isnan(g[i]) || isnan(r[i]) ? INFINITY : d - (atol + rtol * fabs((double)r[i]));
                if (!isnan(d) && d > max_abs) max_abs = d;
                if (excess > 0) {
                    bad++;
                    if (worst < 0 || excess > worst_excess) worst_excess = excess, worst = i;
                }
            }
            if (verbose > 1)
                printf("  %s [%s] output %d: max |diff| %.3g\n", label, mode, o, max_abs);
            if (bad) {
                ok = 0;
                CHECK_MSG(0,
                          "%s [%s] output %d: %lld of %lld elements differ (rtol %g, atol %g); "
                          "worst at %lld: got %.9g, want %.9g; max |diff| %.3g",
                          label, mode, o, (long long)bad, (long long)ne, rtol, atol,
                          (long long)worst, g[worst], r[worst], max_abs);
            } else {
                mr_test_checks++;
            }
        } else {
            size_t es = mr_dtype_size(ref[o].dtype);
            int64_t first = -1, bad = 0;
            for (int64_t i = 0; i < ne; i++)
                if (memcmp((const char *)got[o].data + i * (int64_t)es,
                           (const char *)ref[o].data + i * (int64_t)es, es) != 0) {
                    if (first < 0) first = i;
                    bad++;
                }
            if (bad) {
                ok = 0;
                long long gv = 0, rv = 0;
                if (ref[o].dtype == MR_DTYPE_I64) {
                    gv = ((const int64_t *)got[o].data)[first];
                    rv = ((const int64_t *)ref[o].data)[first];
                } else {
                    gv = ((const int32_t *)got[o].data)[first];
                    rv = ((const int32_t *)ref[o].data)[first];
                }
                CHECK_MSG(0,
                          "%s [%s] output %d (%s): %lld of %lld elements differ; first at %lld: "
                          "got %lld, want %lld",
                          label, mode, o, mr_dtype_name(ref[o].dtype), (long long)bad,
                          (long long)ne, (long long)first, gv, rv);
            } else {
                mr_test_checks++;
            }
        }
    }
    if (verbose) printf("  %-44s %-22s %s\n", label, mode, ok ? "ok" : "FAIL");
    return ok;
}

/* ---- TF32 ----
 * Tolerance of a TF32 result. Under MR_PRECISION_TF32 a product a*b is formed from
 * a' = tf32(a), b' = tf32(b), both rounded to nearest (|a' - a| <= 2^-11 |a|), so each
 * product a'b' has relative error <= 2*2^-11 + 2^-22; a'b' is exact in float32 (11-bit
 * significands), and float32 accumulation (the GPU's and the CPU reference's, in different
 * orders) adds at most ~K*2^-24 each, relative to the sum of the |terms|. Hence, per output,
 *     |y_tf32 - y_ref| <= (2^-10 + K*2^-23) * S + 1e-6,   S = sum_k |a_k| |b_k| + |bias|
 * (Gemm: |alpha| sum |a||b| + |beta| |C|; the 2^-22 is within K*2^-23; 1e-6 covers outputs
 * that round near zero). S is computed by the CPU reference running the same graph on
 * |inputs| and |weights| (and |alpha|, |beta|: build_case_abs), which stays valid after a fused
 * ReLU or LeakyRelu: they are 1-Lipschitz and pass S >= 0 unchanged. (For the one Clip case,
 * a float32 DIRECT kernel, S is clipped too; its error is float32-sized, far inside.)
 * K is the reduction length of the case's Conv (Cg*KH*KW), Gemm or MatMul. */
static int64_t reduction_length(const mr_graph *g) {
    int64_t K = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const mr_node *n = &g->nodes[i];
        int64_t k = 0;
        if (strcmp(n->op_type, "Conv") == 0 && n->n_in > 1) {
            const mr_tensor_desc *w = &g->tensors[n->in[1]];
            k = 1;
            for (int d = 1; d < w->ndim; d++) k *= w->dims[d];
        } else if (strcmp(n->op_type, "Gemm") == 0) {
            const mr_tensor_desc *a = &g->tensors[n->in[0]];
            int64_t ta = 0;
            mr_attr_get_int(n, "transA", 0, &ta, NULL);
            k = ta ? a->dims[0] : a->dims[1];
        } else if (strcmp(n->op_type, "MatMul") == 0) {
            const mr_tensor_desc *a = &g->tensors[n->in[0]];
            k = a->dims[a->ndim - 1];
        }
        if (k > K) K = k;
    }
    return K;
}

/* Compares every float32 output with the TF32 bound above (NaN fails); records the largest
 * |diff| / bound in cx. Returns 1 when everything is within. */
static int compare_tf32(ctx *cx, const char *label, const char *mode, int n, const mr_tensor *got,
                        const mr_tensor *ref, const mr_tensor *sabs, int64_t K) {
    const double rel = ldexp(1.0, -10) + (double)K * ldexp(1.0, -23);
    int ok = 1;
    double case_worst = 0;
    for (int o = 0; o < n; o++) {
        if (ref[o].dtype != MR_DTYPE_F32) continue;
        const float *g = got[o].data, *r = ref[o].data, *sa = sabs[o].data;
        int64_t ne = mr_tensor_numel(&ref[o]), bad = 0, worst = -1;
        double worst_ratio = 0;
        for (int64_t i = 0; i < ne; i++) {
            double bound = rel * (double)sa[i] + 1e-6;
            double d = fabs((double)g[i] - (double)r[i]);
            double ratio = isnan(g[i]) || isnan(r[i]) || isnan(sa[i]) ? INFINITY : d / bound;
            if (ratio > 1) bad++;
            if (worst < 0 || ratio > worst_ratio) worst_ratio = ratio, worst = i;
        }
        if (worst_ratio > case_worst) case_worst = worst_ratio;
        if (bad) {
            ok = 0;
            CHECK_MSG(0,
                      "%s [%s] output %d: %lld of %lld elements outside the TF32 bound (K %lld); "
                      "worst at %lld: got %.9g, want %.9g, S %.6g, |diff| / bound %.3g",
                      label, mode, o, (long long)bad, (long long)ne, (long long)K, (long long)worst,
                      g[worst], r[worst], sa[worst], worst_ratio);
        } else {
            mr_test_checks++;
        }
    }
    if (case_worst > cx->tf32_worst) {
        cx->tf32_worst = case_worst;
        snprintf(cx->tf32_worst_at, sizeof cx->tf32_worst_at, "%s [%s]", label, mode);
    }
    if (verbose)
        printf("  %-44s %-22s %s (|diff| / bound <= %.3g)\n", label, mode, ok ? "ok" : "FAIL",
               case_worst);
    return ok;
}

#ifdef MIRIAM_HAVE_CUDA

/* Whether two sets of outputs are equal bit for bit (reports the first difference). */
static int same_bits(const char *label, const char *what, int n, const mr_tensor *a,
                     const mr_tensor *b) {
    for (int o = 0; o < n; o++) {
        size_t es = mr_dtype_size(a[o].dtype);
        int64_t ne = mr_tensor_numel(&a[o]);
        for (int64_t i = 0; i < ne; i++)
            if (memcmp((const char *)a[o].data + i * (int64_t)es,
                       (const char *)b[o].data + i * (int64_t)es, es) != 0) {
                double va = a[o].dtype == MR_DTYPE_F32 ? ((const float *)a[o].data)[i] : 0;
                double vb = b[o].dtype == MR_DTYPE_F32 ? ((const float *)b[o].data)[i] : 0;
                CHECK_MSG(0, "%s [%s] output %d differs at %lld: %.9g vs %.9g", label, what, o,
                          (long long)i, va, vb);
                return 0;
            }
    }
    mr_test_checks++;
    return 1;
}

/* Whether two sets of outputs are equal bit for bit (silent). */
static int outputs_identical(int n, const mr_tensor *a, const mr_tensor *b) {
    for (int o = 0; o < n; o++)
        if (memcmp(a[o].data, b[o].data,
                   (size_t)mr_tensor_numel(&a[o]) * mr_dtype_size(a[o].dtype)) != 0)
            return 0;
    return 1;
}

/* Other random values of the same shapes: the "garbage" run that overwrites the device arena
 * before a launch mode. Integers stay small and nonzero (Div). */
static void make_garbage(const mr_tensor *in, int n, mr_tensor *out, uint64_t seed) {
    mr_rng r;
    mr_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        out[i] = in[i];
        int64_t ne = mr_tensor_numel(&in[i]);
        out[i].data = malloc((size_t)(ne ? ne : 1) * mr_dtype_size(in[i].dtype));
        if (!out[i].data) continue;
        if (in[i].dtype == MR_DTYPE_F32)
            fill_f32(&r, out[i].data, ne, 0.25f, 1.5f, 1);
        else
            fill_int(&r, in[i].dtype, out[i].data, ne, -9, 9, 1);
    }
}

/* ---- launch modes through src/cuda/cuda_backend.h ---- */

typedef enum mode_kind {
    M_PLAIN,
    M_ELASTIC,
    M_PREFILLED,
    M_SHARDED,
    M_PREEMPT,
    M_PREEMPT_KNOWN,
    M_WHOLE,        /* each phase one launch from a known counter of 0: a whole-phase shard */
    M_PREEMPT_WHOLE /* the same, preemptible, the yield word clear */
} mode_kind;

typedef struct mode {
    const char *name;
    mode_kind kind;
    int blocks;  /* P; 0 = full width */
    int variant; /* -1: alternate between shards */
    int hi;      /* high-priority stream */
} mode;

static const mode MODES[] = {
    {"plain/v0", M_PLAIN, 0, 0, 0},
    {"plain/v1", M_PLAIN, 0, 1, 0},
    {"elastic/v0", M_ELASTIC, 0, 0, 0},
    {"elastic/v1", M_ELASTIC, 0, 1, 0},
    {"elastic/hi", M_ELASTIC, 0, 0, 1},
    {"prefilled", M_PREFILLED, 0, 0, 0},
    {"sharded/P1/v0", M_SHARDED, 1, 0, 0},
    {"sharded/P1/v1", M_SHARDED, 1, 1, 0},
    {"sharded/P1/mixed", M_SHARDED, 1, -1, 0},
    {"sharded/P7/v0", M_SHARDED, 7, 0, 0},
    {"sharded/P7/v1", M_SHARDED, 7, 1, 0},
    {"sharded/P7/mixed", M_SHARDED, 7, -1, 0},
    {"sharded/full/v0", M_SHARDED, 0, 0, 0},
    {"sharded/full/v1", M_SHARDED, 0, 1, 0},
    {"sharded/full/mixed", M_SHARDED, 0, -1, 1},
    {"preempt/full/v0", M_PREEMPT, 0, 0, 0},
    {"preempt/P7/mixed", M_PREEMPT, 7, -1, 0},
    {"preempt/known/full/v0", M_PREEMPT_KNOWN, 0, 0, 0},
    {"preempt/known/P7/mixed", M_PREEMPT_KNOWN, 7, -1, 0},
    {"whole/v0", M_WHOLE, 0, 0, 0},
    {"preempt/whole/v0", M_PREEMPT_WHOLE, 0, 0, 0},
    {NULL, M_PLAIN, 0, 0, 0},
};

static int pick_variant(const mode *md, int nv, int shard) {
    if (md->variant < 0) return shard % nv;
    return md->variant < nv ? md->variant : nv - 1;
}

static int max_variants(mr_exec *ex) {
    int m = 1;
    for (int s = 0; s < mr_cuda_exec_n_steps(ex); s++)
        if (!mr_cuda_exec_step_skipped(ex, s) && mr_cuda_exec_n_variants(ex, s) > m)
            m = mr_cuda_exec_n_variants(ex, s);
    return m;
}

/* Launches l and, when want >= 0, checks the step counter afterwards. Returns 0 on a failed
 * call (reported). */
/* Each of the n launches must be refused with MR_ERR_INVALID_ARG and a message naming `what`,
 * before anything is enqueued. */
static void expect_refused(mr_exec *ex, const mr_launch *bad, int n, const char *what,
                           const char *label, const char *mode, int step) {
    for (int b = 0; b < n; b++) {
        mr_err err;
        mr_err_clear(&err);
        mr_status st = mr_cuda_exec_launch(ex, &bad[b], &err);
        CHECK_MSG(st == MR_ERR_INVALID_ARG && strstr(err.msg, what),
                  "%s [%s] step %d: bad %s launch %d: status %d (%s)", label, mode, step, what, b,
                  (int)st, err.msg);
    }
}

static int launch_check(mr_exec *ex, const mr_launch *l, long long want, const char *label,
                        const char *mode, const char *what) {
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_cuda_exec_launch(ex, l, &err);
    CHECK_MSG(st == MR_OK, "%s [%s] step %d phase %d %s: launch: %s", label, mode, l->step,
              l->phase, what, err.msg);
    if (st != MR_OK) return 0;
    if (want < 0) return 1;
    long long c = -1;
    st = mr_cuda_exec_counter(ex, l->step, l->phase, &c, &err);
    CHECK_MSG(st == MR_OK, "%s [%s] step %d phase %d %s: %s", label, mode, l->step, l->phase, what,
              err.msg);
    CHECK_MSG(c == want, "%s [%s] step %d phase %d %s: counter %lld, expected %lld", label, mode,
              l->step, l->phase, what, c, want);
    return st == MR_OK && c == want;
}

/* A phase as the elastic policy runs it with preemptible launches whose first wave does not
 * take (mr_launch.known with preemptible): its first half as a shard; then, with the yield
 * word set, a preemptible launch from there, every block of whose first wave (of every wave,
 * where it runs the wave form over all its blocks) must find the word set and leave a hole:
 * the counter raised past exactly the holes the record lists,
 * [half, counter); those re-run as two plain launches over ranges, the record cleared as the
 * coordinator clears it, and the rest resumed with the word clear. (The outputs are compared
 * with the CPU's afterwards.) A kernel that takes blocks itself, or a width the record cannot
 * hold, takes its first blocks instead: no hole, the counter unmoved. */
static int preempt_known(mr_exec *ex, mr_launch *l, long long nb, int nv, const mode *md,
                         const char *label) {
    mr_err err;
    mr_err_clear(&err);
    long long half = nb / 2;
    int ok = 1;
    if (half > 0) {
        l->known = 1;
        l->from = 0;
        l->end = half;
        ok = launch_check(ex, l, half, label, md->name, "shard");
    }
    mr_cuda_exec_set_yield(ex, 1);
    l->known = 1;
    l->from = half;
    l->end = -1;
    l->preemptible = 1;
    l->variant = pick_variant(md, nv, 1);
    if (ok) ok = launch_check(ex, l, -1, label, md->name, "yielded");
    mr_status st = ok ? mr_cuda_exec_read_counters(ex, NULL, &err) : MR_OK;
    CHECK_MSG(st == MR_OK, "%s [%s]: read counters: %s", label, md->name, err.msg);
    if (!ok || st != MR_OK) {
        mr_cuda_exec_set_yield(ex, 0);
        return 0;
    }
    const long long cap = mr_cuda_exec_hole_capacity(ex);
    long long c = mr_cuda_exec_counter_value(ex, l->step, l->phase);
    long long *off = malloc((size_t)cap * sizeof *off);
    CHECK(off != NULL);
    long long h = off ? mr_cuda_exec_holes(ex, l->step, l->phase, cap, off) : -1;
    int exact = h == c - half && h <= nb - half && h <= cap;
    for (long long i = 0; exact && i < h; i++) exact = off[i] == i;
    const long long first = h > 0 && off ? off[0] : -1;
    free(off);
    CHECK_MSG(exact,
              "%s [%s] step %d phase %d: counter %lld after a launch from %lld with the "
              "yield set, %lld holes (first %lld)",
              label, md->name, l->step, l->phase, c, half, h, first);
    if (!exact) {
        mr_cuda_exec_set_yield(ex, 0);
        return 0;
    }
    /* the holes, as two plain launches over ranges (refused: an empty or a negative range) */
    mr_launch p = *l;
    p.mode = MR_LAUNCH_PLAIN;
    p.preemptible = 0;
    p.known = 1;
    p.variant = pick_variant(md, nv, 2);
    mr_launch bad[2] = {p, p};
    bad[0].from = -1;
    bad[0].end = half;
    bad[1].from = nb;
    bad[1].end = -1;
    expect_refused(ex, bad, 2, "a plain launch over logical blocks", label, md->name, l->step);
    long long mid = half + h / 2;
    if (h > 0 && mid > half) {
        p.from = half;
        p.end = mid;
        ok = launch_check(ex, &p, c, label, md->name, "holes, first run");
    }
    if (ok && h > 0) {
        p.from = mid;
        p.end = c;
        ok = launch_check(ex, &p, c, label, md->name, "holes, second run");
    }
    mr_cuda_exec_set_counter(ex, l->step, l->phase, c);
    st = mr_cuda_exec_write_counters(ex, NULL, &err);
    CHECK_MSG(st == MR_OK, "%s [%s]: write counters: %s", label, md->name, err.msg);
    mr_cuda_exec_set_yield(ex, 0);
    l->from = c;
    l->variant = pick_variant(md, nv, 3);
    if (ok && st == MR_OK && c < nb) ok = launch_check(ex, l, nb, label, md->name, "resumed");
    if (ok && mr_cuda_exec_read_counters(ex, NULL, &err) == MR_OK)
        CHECK_MSG(mr_cuda_exec_holes(ex, l->step, l->phase, 0, NULL) == 0,
                  "%s [%s] step %d phase %d: holes with the yield word clear", label, md->name,
                  l->step, l->phase);
    return ok && st == MR_OK;
}

/* One inference of model m in launch mode md. Returns 0 when a call failed. */
static int run_mode(mr_model *m, const mr_tensor *ins, mr_tensor *outs, const mode *md,
                    const char *label) {
    mr_exec *ex = mr_model_exec(m);
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_cuda_exec_begin(ex, ins, &err);
    CHECK_MSG(st == MR_OK, "%s [%s] begin: %s", label, md->name, err.msg);
    if (st != MR_OK) return 0;
    if (md->kind == M_PREFILLED) {
        st = mr_cuda_exec_prefill_counters(ex, &err);
        CHECK_MSG(st == MR_OK, "%s [%s] prefill: %s", label, md->name, err.msg);
        if (st != MR_OK) return 0;
    }
    int ok = 1;
    for (int s = 0; ok && s < mr_cuda_exec_n_steps(ex); s++) {
        if (mr_cuda_exec_step_skipped(ex, s)) continue;
        int nv = mr_cuda_exec_n_variants(ex, s);
        for (int ph = 0; ok && ph < mr_cuda_exec_n_phases(ex, s); ph++) {
            long long nb = mr_cuda_exec_phase_blocks(ex, s, ph);
            mr_launch l = {
                s, ph, pick_variant(md, nv, 0), MR_LAUNCH_ELASTIC, -1, md->blocks, 0, md->hi, 0,
                0, 0};
            switch (md->kind) {
            case M_PLAIN:
                l.mode = MR_LAUNCH_PLAIN;
                ok = launch_check(ex, &l, -1, label, md->name, "plain");
                break;
            case M_ELASTIC:
                ok = launch_check(ex, &l, nb > 0 ? nb : 0, label, md->name, "elastic");
                break;
            case M_PREFILLED: {
                /* Misuse first (refused before anything is enqueued), then the real launch. */
                mr_launch bad[3] = {l, l, l};
                bad[0].preemptible = 1;
                bad[1].end = nb / 2;
                bad[2].variant = nv > 1 ? 1 : 0;
                bad[2].blocks = nv > 1 ? 0 : 1;
                for (int b = 0; b < 3; b++) bad[b].prefilled = 1;
                if (nb > 1) expect_refused(ex, bad, 3, "prefilled", label, md->name, s);
                l.prefilled = 1;
                ok = launch_check(ex, &l, nb > 0 ? nb : 0, label, md->name, "prefilled");
                break;
            }
            case M_SHARDED: {
                /* Misuse of a known counter (refused before anything is enqueued). */
                mr_launch bad[2] = {l, l};
                bad[0].prefilled = 1;
                bad[1].from = -1;
                for (int b = 0; b < 2; b++) bad[b].known = 1;
                if (nb > 0) expect_refused(ex, bad, 2, "known counter", label, md->name, s);
                /* Every other shard as the elastic policy launches its shards: the counter
                 * known (launch_check has waited for the shard before), the first wave
                 * started without taking. */
                long long end = 0, size = 1;
                for (int j = 0; ok && end < nb; j++, size += 6) {
                    l.known = j % 2 == 0;
                    l.from = end;
                    end = end + size < nb ? end + size : nb;
                    l.end = end;
                    l.variant = pick_variant(md, nv, j);
                    ok = launch_check(ex, &l, end, label, md->name,
                                      l.known ? "shard (known counter)" : "shard");
                }
                break;
            }
            case M_PREEMPT: {
                if (nb <= 0) break;
                long long half = nb / 2;
                mr_cuda_exec_set_yield(ex, 1);
                /* Not preemptible: runs to its end whatever the yield word says (with the
                 * counter known, as the elastic policy's shards: its first wave takes
                 * nothing, and the yield word is not read at all). */
                l.end = half;
                l.preemptible = 0;
                l.known = 1;
                l.from = 0;
                ok = launch_check(ex, &l, half, label, md->name, "non-preemptible half");
                /* Preemptible with the yield set: takes no logical block at all. */
                l.known = 0;
                l.end = -1;
                l.preemptible = 1;
                l.variant = pick_variant(md, nv, 1);
                if (ok) ok = launch_check(ex, &l, half, label, md->name, "yielded");
                mr_cuda_exec_set_yield(ex, 0);
                /* Resumed: continues from the counter to the end. */
                l.variant = pick_variant(md, nv, 2);
                if (ok) ok = launch_check(ex, &l, nb, label, md->name, "resumed");
                break;
            }
            case M_PREEMPT_KNOWN:
                if (nb > 0) ok = preempt_known(ex, &l, nb, nv, md, label);
                break;
            case M_WHOLE:
            case M_PREEMPT_WHOLE:
                /* As the elastic policy launches a phase it runs whole: where a prefilled
                 * launch hands its later wave on by block index, so does this one. */
                l.known = 1;
                l.from = 0;
                l.preemptible = md->kind == M_PREEMPT_WHOLE;
                ok = launch_check(ex, &l, nb > 0 ? nb : 0, label, md->name, "whole phase");
                break;
            }
        }
    }
    mr_cuda_exec_set_yield(ex, 0);
    st = mr_cuda_exec_end(ex, outs, &err);
    CHECK_MSG(st == MR_OK, "%s [%s] end: %s", label, md->name, err.msg);
    return ok && st == MR_OK;
}

/* Footprints of every variant of every step. */
static void check_footprints(mr_model *m, const char *label) {
    mr_exec *ex = mr_model_exec(m);
    for (int s = 0; s < mr_cuda_exec_n_steps(ex); s++) {
        if (mr_cuda_exec_step_skipped(ex, s)) continue;
        int nv = mr_cuda_exec_n_variants(ex, s);
        CHECK_MSG(nv >= 1 && nv <= MR_CUDA_MAX_VARIANTS, "%s step %d: %d variants", label, s, nv);
        mr_footprint fp[MR_CUDA_MAX_VARIANTS];
        for (int v = 0; v < nv && v < MR_CUDA_MAX_VARIANTS; v++) {
            mr_err err;
            mr_err_clear(&err);
            mr_status st = mr_cuda_exec_footprint(ex, s, v, &fp[v], &err);
            CHECK_MSG(st == MR_OK, "%s step %d variant %d footprint: %s", label, s, v, err.msg);
            if (st != MR_OK) return;
            CHECK_MSG(fp[v].threads > 0 && fp[v].blocks_per_sm >= 1,
                      "%s step %d variant %d: %d threads, %d blocks per SM (%d regs, %d B smem)",
                      label, s, v, fp[v].threads, fp[v].blocks_per_sm, fp[v].regs_per_thread,
                      fp[v].smem_per_block);
            if (verbose)
                printf("  %-44s step %d variant %d: %d threads, %d regs, %d B smem, %d/SM\n", label,
                       s, v, fp[v].threads, fp[v].regs_per_thread, fp[v].smem_per_block,
                       fp[v].blocks_per_sm);
        }
        if (nv >= 2) {
            /* The small-footprint tile: no more registers or shared memory per block than the
             * full-speed one, and less of at least one. */
            long long r0 = (long long)fp[0].threads * fp[0].regs_per_thread;
            long long r1 = (long long)fp[1].threads * fp[1].regs_per_thread;
            int smaller = r1 <= r0 && fp[1].smem_per_block <= fp[0].smem_per_block &&
                          (r1 < r0 || fp[1].smem_per_block < fp[0].smem_per_block);
            CHECK_MSG(smaller,
                      "%s step %d: variant 1 (%d threads x %d regs, %d B smem) is not smaller "
                      "than variant 0 (%d threads x %d regs, %d B smem)",
                      label, s, fp[1].threads, fp[1].regs_per_thread, fp[1].smem_per_block,
                      fp[0].threads, fp[0].regs_per_thread, fp[0].smem_per_block);
        }
    }
}

/* Every launch mode on model g (CUDA) against ref; garbage inputs run first each time. */
static void run_all_modes(ctx *cx, mr_model *g, const mr_tensor *ins, const mr_tensor *garbage,
                          int n_in, mr_tensor *outs, const mr_tensor *ref, int n_out,
                          const char *label, const tol *t, double scale_range) {
    int nv = max_variants(mr_model_exec(g));
    for (const mode *md = MODES; md->name; md++) {
        if (nv < 2 && (md->variant != 0)) continue; /* same as the v0 modes */
        if (!mode_selected(md->name)) continue;
        poison_outputs(outs, n_out);
        if (mr_model_run(g, n_in, garbage, n_out, outs) != MR_OK) {
            CHECK_MSG(0, "%s: run on other inputs: %s", label, mr_runtime_last_error(cx->dev));
            return;
        }
        poison_outputs(outs, n_out);
        if (run_mode(g, ins, outs, md, label))
            compare(label, md->name, n_out, outs, ref, t, scale_range);
        cx->n_modes++;
    }
}

#endif /* MIRIAM_HAVE_CUDA */

static void run_case(ctx *cx, const op_case *c) {
    if (!selected(c->label)) return;
    cb ba, bb;
    mr_graph *ga = build_case(c, &ba);
    if (!ga) return;
    mr_graph *gb = build_case(c, &bb);
    if (!gb) {
        mr_graph_destroy(ga);
        free_inputs(&ba);
        return;
    }
    cx->n_cases++;
    mr_model *mc = load_graph(cx->cpu, ga, c->label, "CPU");
    mr_model *md = load_graph(cx->dev, gb, c->label, cx->have_cuda ? "CUDA" : "second CPU");
    int n_out = mc ? mr_model_n_outputs(mc) : 0;
    mr_tensor ref[MAX_IO], got[MAX_IO], garbage[MAX_IO];
    memset(ref, 0, sizeof ref);
    memset(got, 0, sizeof got);
    memset(garbage, 0, sizeof garbage);
    int ok = mc && md && alloc_outputs(mc, ref) && alloc_outputs(mc, got);
    if (ok) {
        /* Same builder, same seed: both graphs got the same inputs. */
        CHECK(ba.n_in == bb.n_in && mr_model_n_inputs(mc) == ba.n_in);
        poison_outputs(ref, n_out);
        ok = mr_model_run(mc, ba.n_in, ba.in, n_out, ref) == MR_OK;
        CHECK_MSG(ok, "%s: CPU run: %s", c->label, mr_runtime_last_error(cx->cpu));
    }
    if (ok && c->want_steps) {
        mr_model_stats s;
        mr_model_get_stats(md, &s);
        CHECK_MSG(s.n_steps == c->want_steps, "%s: %d kernel steps, expected %d (fusion)", c->label,
                  s.n_steps, c->want_steps);
    }
    if (ok) {
        poison_outputs(got, n_out);
        int r = mr_model_run(md, bb.n_in, bb.in, n_out, got) == MR_OK;
        CHECK_MSG(r, "%s: %s run: %s", c->label, cx->have_cuda ? "CUDA" : "second CPU",
                  mr_runtime_last_error(cx->dev));
        if (r) compare(c->label, "run", n_out, got, ref, c->tol, 0);
    }
#ifdef MIRIAM_HAVE_CUDA
    if (ok && cx->have_cuda) {
        make_garbage(bb.in, bb.n_in, garbage, hash_str(c->label) + 77);
        check_footprints(md, c->label);
        run_all_modes(cx, md, bb.in, garbage, bb.n_in, got, ref, n_out, c->label, c->tol, 0);
    }
#endif
    for (int i = 0; i < bb.n_in; i++) free(garbage[i].data);
    free_outputs(ref, n_out);
    free_outputs(got, n_out);
    mr_model_destroy(mc);
    mr_model_destroy(md);
    free_inputs(&ba);
    free_inputs(&bb);
}

/* A case marked tf32 on the TF32 runtime ("tf32/<label>"): every launch mode within the TF32
 * bound of the CPU reference (compare_tf32, S from the same graph on |values|) and bit-identical
 * to the first run (the two variants run the same k8 steps in the same order, and a logical
 * block's result does not depend on the launch); and, against the float32 CUDA runtime,
 * different somewhere for a tensor-core kernel (so the TF32 path did run: TF32 rounding moves
 * outputs by ~1e-4 relative, far more than an ulp) or identical for a float32 one. Without a
 * GPU the TF32 runtime is a CPU runtime (it ignores the precision): only the bound is checked. */
enum { R_REF, R_ABS, R_TF32, R_FP32, R_N };

static void run_case_tf32(ctx *cx, const op_case *c) {
    char label[96];
    snprintf(label, sizeof label, "tf32/%s", c->label);
    if (c->tf32 == TF32_NO || !cx->tf32 || !selected(label)) return;
    mr_runtime *rts[R_N] = {cx->cpu, cx->cpu, cx->tf32, cx->dev};
    static const char *const what[R_N] = {"CPU", "CPU (|values|)", "TF32", "float32 CUDA"};
    const int nr = cx->have_cuda ? R_N : R_FP32;
    cb b[R_N];
    mr_model *m[R_N] = {NULL, NULL, NULL, NULL};
    int64_t K = 1;
    int ok = 1, built = 0;
    for (int i = 0; i < nr && ok; i++) {
        mr_graph *g = build_case_abs(c, &b[i], i == R_ABS);
        if (!g) {
            ok = 0;
            break;
        }
        built = i + 1;
        if (i == R_TF32) K = reduction_length(g);
        m[i] = load_graph(rts[i], g, label, what[i]);
        ok = m[i] != NULL;
    }
    int n_out = ok ? mr_model_n_outputs(m[R_REF]) : 0, n_in = ok ? b[R_TF32].n_in : 0;
    mr_tensor out[R_N][MAX_IO], first[MAX_IO], garbage[MAX_IO];
    memset(out, 0, sizeof out);
    memset(first, 0, sizeof first);
    memset(garbage, 0, sizeof garbage);
    for (int i = 0; ok && i < nr; i++) ok = alloc_outputs(m[R_REF], out[i]);
    ok = ok && alloc_outputs(m[R_REF], first);
    if (ok) cx->n_cases++, cx->n_tf32++;
    for (int i = 0; ok && i < nr; i++) {
        poison_outputs(out[i], n_out);
        ok = mr_model_run(m[i], b[i].n_in, b[i].in, n_out, out[i]) == MR_OK;
        CHECK_MSG(ok, "%s: %s run: %s", label, what[i], mr_runtime_last_error(rts[i]));
    }
    if (ok) {
        compare_tf32(cx, label, "run", n_out, out[R_TF32], out[R_REF], out[R_ABS], K);
        for (int o = 0; o < n_out; o++)
            memcpy(first[o].data, out[R_TF32][o].data,
                   (size_t)mr_tensor_numel(&first[o]) * mr_dtype_size(first[o].dtype));
    }
#ifdef MIRIAM_HAVE_CUDA
    if (ok && cx->have_cuda) {
        int same = outputs_identical(n_out, out[R_TF32], out[R_FP32]);
        if (c->tf32 == TF32_TC)
            CHECK_MSG(!same,
                      "%s: the TF32 runtime's output equals the float32 runtime's bit for bit: "
                      "no tensor-core kernel ran",
                      label);
        else
            same_bits(label, "float32 kernel: TF32 vs float32 runtime", n_out, out[R_TF32],
                      out[R_FP32]);
        mr_model *mt = m[R_TF32];
        mr_tensor *got = out[R_TF32];
        make_garbage(b[R_TF32].in, n_in, garbage, hash_str(label) + 77);
        check_footprints(mt, label);
        int nv = max_variants(mr_model_exec(mt));
        for (const mode *md = MODES; md->name; md++) {
            if (nv < 2 && md->variant != 0) continue;
            if (!mode_selected(md->name)) continue;
            poison_outputs(got, n_out);
            if (mr_model_run(mt, n_in, garbage, n_out, got) != MR_OK) {
                CHECK_MSG(0, "%s: run on other inputs: %s", label, mr_runtime_last_error(cx->tf32));
                break;
            }
            poison_outputs(got, n_out);
            if (run_mode(mt, b[R_TF32].in, got, md, label)) {
                compare_tf32(cx, label, md->name, n_out, got, out[R_REF], out[R_ABS], K);
                same_bits(label, md->name, n_out, got, first);
            }
            cx->n_modes++;
        }
    }
#endif
    for (int i = 0; i < n_in; i++) free(garbage[i].data);
    for (int i = 0; i < nr; i++) {
        free_outputs(out[i], n_out);
        mr_model_destroy(m[i]);
    }
    free_outputs(first, n_out);
    for (int i = 0; i < built; i++) free_inputs(&b[i]);
}

/* ======================================================================================== */
/* Whole models, errors, green contexts (CUDA only) */

/* A model's inputs filled with random values in [-1, 1). */
static int make_inputs(const mr_model *m, mr_tensor *ins, uint64_t seed) {
    mr_rng r;
    mr_rng_seed(&r, seed);
    int n = mr_model_n_inputs(m);
    for (int i = 0; i < n; i++) {
        mr_tensor_info info;
        mr_model_input_info(m, i, &info);
        memset(&ins[i], 0, sizeof ins[i]);
        ins[i].dtype = info.dtype;
        ins[i].ndim = info.ndim;
        memcpy(ins[i].dims, info.dims, sizeof ins[i].dims);
        int64_t ne = mr_tensor_numel(&ins[i]);
        ins[i].data = malloc((size_t)(ne ? ne : 1) * mr_dtype_size(info.dtype));
        if (!ins[i].data) return 0;
        if (info.dtype == MR_DTYPE_F32)
            mr_rng_fill(&r, ins[i].data, ne, -1.0f, 1.0f);
        else
            fill_int(&r, info.dtype, ins[i].data, ne, 0, 9, 0);
    }
    return 1;
}

#define ZOO_RANGE_TOL 1e-3
/* TF32: each layer's products carry <= 2^-10 relative error (compare_tf32), random in sign, so
 * a layer adds ~2^-11 of its output's scale and the errors of L layers add up to ~sqrt(L) x
 * 5e-4 of the activations' scale (the zoo's CNNs keep activations at a similar scale with
 * BatchNorm): ~2.5e-3 of the logits' scale for ResNet-18, below 1e-3 of their range. 1e-2 of
 * the range leaves a margin of several times and still fails on a real mistake (a wrong tap,
 * slice or bias moves logits by a sizeable part of their range). */
#define ZOO_TF32_RANGE_TOL 1e-2
/* The recurrent models' TF32 products are their input projections (one per layer; the
 * recurrence stays float32): ~5e-4 of the gates' scale per layer, which the cell does not
 * amplify (sigmoid's slope is at most 1/4, tanh's 1; c_t's error is damped by the forget
 * gate), so the same 1e-2 of the range holds with a wider margin. */
static const char *const ZOO_TF32[] = {
    "cifarnet", "resnet18", "mobilenet_v2", "squeezenet1_1", "lstm", "gru", NULL};

/* The recurrent models on the TF32 runtime run their projections on tensor cores: their
 * output must differ from the float32 runtime's (within ZOO_TF32_RANGE_TOL of the CPU, the
 * zoo cases above), or the TF32 tile was not used. */
static void rnn_tf32_differs(ctx *cx, mr_runtime *f32, mr_runtime *tf32, const char *name,
                             const char *label) {
    if (!selected(label)) return;
    cx->n_cases++;
    mr_model *mf = NULL, *mt = NULL;
    int ok = mr_model_load_zoo(f32, name, NULL, &mf) == MR_OK &&
             mr_model_load_zoo(tf32, name, NULL, &mt) == MR_OK;
    CHECK_MSG(ok, "%s: load: %s / %s", label, mr_runtime_last_error(f32),
              mr_runtime_last_error(tf32));
    int n_in = ok ? mr_model_n_inputs(mf) : 0, n_out = ok ? mr_model_n_outputs(mf) : 0;
    mr_tensor ins[MAX_IO], a[MAX_IO], b[MAX_IO];
    memset(ins, 0, sizeof ins);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    ok = ok && n_in <= MAX_IO && n_out <= MAX_IO && make_inputs(mf, ins, 4321) &&
         alloc_outputs(mf, a) && alloc_outputs(mf, b);
    if (ok) {
        ok = mr_model_run(mf, n_in, ins, n_out, a) == MR_OK &&
             mr_model_run(mt, n_in, ins, n_out, b) == MR_OK;
        CHECK_MSG(ok, "%s: run: %s / %s", label, mr_runtime_last_error(f32),
                  mr_runtime_last_error(tf32));
    }
    if (ok) {
        int differ = 0;
        for (int o = 0; o < n_out; o++)
            differ |= memcmp(a[o].data, b[o].data,
                             (size_t)mr_tensor_numel(&a[o]) * mr_dtype_size(a[o].dtype)) != 0;
        CHECK_MSG(differ, "%s: the TF32 runtime's output is the float32 runtime's bit for bit",
                  label);
    }
    for (int i = 0; i < n_in && i < MAX_IO; i++) free(ins[i].data);
    free_outputs(a, n_out);
    free_outputs(b, n_out);
    mr_model_destroy(mf);
    mr_model_destroy(mt);
}

static const char *const ZOO[] = {"cifarnet", "resnet18", "mobilenet_v2", "squeezenet1_1", "lstm",
                                  "gru",      NULL};

/* Runs zoo model `name` on rt and on the CPU and compares; modes 1: also three launch modes
 * (preempt/P7/mixed, plain/v1, sharded/full/mixed); 2: those and the prefilled mode, and
 * some prefilled launch of the model must hand its later wave out by block index. */
static void zoo_case_tol(ctx *cx, mr_runtime *rt, const char *name, const char *label, int modes,
                         double range_tol) {
    if (!selected(label)) return;
    cx->n_cases++;
    mr_model *mc = NULL, *mg = NULL;
    mr_status st = mr_model_load_zoo(cx->cpu, name, NULL, &mc);
    CHECK_MSG(st == MR_OK, "%s: CPU load: %s", label, mr_runtime_last_error(cx->cpu));
    if (st != MR_OK) return;
    st = mr_model_load_zoo(rt, name, NULL, &mg);
    CHECK_MSG(st == MR_OK, "%s: CUDA load: %s", label, mr_runtime_last_error(rt));
    int n_in = mr_model_n_inputs(mc), n_out = mr_model_n_outputs(mc);
    mr_tensor ins[MAX_IO], ref[MAX_IO], got[MAX_IO], garbage[MAX_IO];
    memset(ins, 0, sizeof ins);
    memset(ref, 0, sizeof ref);
    memset(got, 0, sizeof got);
    memset(garbage, 0, sizeof garbage);
    int ok = st == MR_OK && n_in <= MAX_IO && make_inputs(mc, ins, 12345) &&
             alloc_outputs(mc, ref) && alloc_outputs(mc, got);
    if (ok) {
        poison_outputs(ref, n_out);
        ok = mr_model_run(mc, n_in, ins, n_out, ref) == MR_OK;
        CHECK_MSG(ok, "%s: CPU run: %s", label, mr_runtime_last_error(cx->cpu));
    }
    tol t = {0, 0};
    if (ok) {
        poison_outputs(got, n_out);
        int r = mr_model_run(mg, n_in, ins, n_out, got) == MR_OK;
        CHECK_MSG(r, "%s: CUDA run: %s", label, mr_runtime_last_error(rt));
        if (r) compare(label, "run", n_out, got, ref, &t, range_tol);
    }
#ifdef MIRIAM_HAVE_CUDA
    if (ok && modes == 2) {
        /* The model's prefilled launches include some that hand the blocks past their first
         * wave out by block index (the "run" above and the "prefilled" mode below run them;
         * the "whole" modes launch the same phases so from a known counter), or this case
         * would not test that path (docs/KERNEL_NOTES.md, 28 and 34). */
        mr_exec *ex = mr_model_exec(mg);
        int n_by_index = 0;
        for (int s = 0; s < mr_cuda_exec_n_steps(ex); s++)
            for (int ph = 0; ph < mr_cuda_exec_n_phases(ex, s); ph++)
                n_by_index += mr_cuda_exec_prefilled_by_index(ex, s, ph);
        CHECK_MSG(n_by_index > 0, "%s: no prefilled launch of the model goes by index", label);
        printf("%s: %d phases launched prefilled, the later wave by index\n", label, n_by_index);
    }
    if (ok && modes) {
        make_garbage(ins, n_in, garbage, 999);
        for (const mode *md = MODES; md->name; md++) {
            if (strcmp(md->name, "preempt/P7/mixed") != 0 && strcmp(md->name, "plain/v1") != 0 &&
                strcmp(md->name, "sharded/full/mixed") != 0 &&
                !(modes == 2 &&
                  (strcmp(md->name, "prefilled") == 0 || strcmp(md->name, "whole/v0") == 0 ||
                   strcmp(md->name, "preempt/whole/v0") == 0)))
                continue;
            if (!mode_selected(md->name)) continue;
            poison_outputs(got, n_out);
            if (mr_model_run(mg, n_in, garbage, n_out, got) != MR_OK) {
                CHECK_MSG(0, "%s: run on other inputs: %s", label, mr_runtime_last_error(rt));
                break;
            }
            poison_outputs(got, n_out);
            if (run_mode(mg, ins, got, md, label))
                compare(label, md->name, n_out, got, ref, &t, range_tol);
            cx->n_modes++;
        }
    }
#else
    (void)modes;
#endif
    for (int i = 0; i < n_in && i < MAX_IO; i++) {
        free(ins[i].data);
        free(garbage[i].data);
    }
    free_outputs(ref, n_out);
    free_outputs(got, n_out);
    mr_model_destroy(mc);
    mr_model_destroy(mg);
}

static void zoo_case(ctx *cx, mr_runtime *rt, const char *name, const char *label, int modes) {
    zoo_case_tol(cx, rt, name, label, modes, ZOO_RANGE_TOL);
}

#ifdef MIRIAM_HAVE_CUDA

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* A big single-step model; the yield word is set while an elastic launch with P = 1 runs. */
static void c_long(cb *b, int v) {
    if (v == 0) {
        int a = in_f(b, D(2048, 2048), -1, 1);
        int w = k_f(b, D(2048, 2048), -0.05f, 0.05f);
        out(b, OP(b, "MatMul", a, w));
    } else {
        int x = in_f(b, D(1, 256, 56, 56), -1, 1);
        int w = k_f(b, D(256, 256, 3, 3), -0.05f, 0.05f);
        int y = OP(b, "Conv", x, w);
        AIS(b, "pads", 1, 1, 1, 1);
        out(b, y);
    }
}

/* rt: the float32 CUDA runtime (compared with TOL_GEMM) or, tf32 = 1, the TF32 one (the TF32
 * bound, S from the graph on |values|). */
static void long_preempt_on(ctx *cx, mr_runtime *rt, const char *label, int v, int tf32) {
    if (!selected(label) || !rt) return;
    op_case c = {label, c_long, v, &TOL_GEMM, 0, 0, 0};
    cb ba, bb, bs;
    mr_graph *ga = build_case(&c, &ba);
    if (!ga) return;
    mr_graph *gb = build_case(&c, &bb);
    if (!gb) {
        mr_graph_destroy(ga);
        free_inputs(&ba);
        return;
    }
    mr_graph *gs = tf32 ? build_case_abs(&c, &bs, 1) : NULL;
    if (tf32 && !gs) {
        mr_graph_destroy(ga);
        mr_graph_destroy(gb);
        free_inputs(&ba);
        free_inputs(&bb);
        return;
    }
    int64_t K = reduction_length(gb);
    cx->n_cases++;
    mr_model *mc = load_graph(cx->cpu, ga, label, "CPU");
    mr_model *mg = load_graph(rt, gb, label, "CUDA");
    mr_model *ms = tf32 ? load_graph(cx->cpu, gs, label, "CPU (|values|)") : NULL;
    mr_tensor ref[MAX_IO], got[MAX_IO], garbage[MAX_IO], sabs[MAX_IO];
    memset(ref, 0, sizeof ref);
    memset(got, 0, sizeof got);
    memset(garbage, 0, sizeof garbage);
    memset(sabs, 0, sizeof sabs);
    int ok = mc && mg && (!tf32 || ms) && alloc_outputs(mc, ref) && alloc_outputs(mc, got) &&
             (!tf32 || alloc_outputs(mc, sabs));
    if (ok) {
        poison_outputs(ref, 1);
        ok = mr_model_run(mc, ba.n_in, ba.in, 1, ref) == MR_OK;
        CHECK_MSG(ok, "%s: CPU run: %s", label, mr_runtime_last_error(cx->cpu));
    }
    if (ok && tf32) {
        ok = mr_model_run(ms, bs.n_in, bs.in, 1, sabs) == MR_OK;
        CHECK_MSG(ok, "%s: CPU run on |values|: %s", label, mr_runtime_last_error(cx->cpu));
    }
    make_garbage(bb.in, bb.n_in, garbage, 4242);
    mr_exec *ex = ok ? mr_model_exec(mg) : NULL;
    int step = -1;
    for (int s = 0; ex && s < mr_cuda_exec_n_steps(ex); s++)
        if (!mr_cuda_exec_step_skipped(ex, s)) step = s;
    if (ex) CHECK_MSG(step >= 0 && mr_cuda_exec_n_steps(ex) == 1, "%s: expected one step", label);
    int mid_seen = 0;
    /* Delays after the launch before the yield: the P = 1 launch takes tens of ms (one SM
     * doing a multi-GFLOP product), so at least one of them lands strictly inside it. */
    static const long delays_us[] = {300, 2000, 10000};
    for (int k = 0; ok && step >= 0 && k < 3; k++) {
        mr_err err;
        mr_err_clear(&err);
        poison_outputs(got, 1);
        if (mr_model_run(mg, bb.n_in, garbage, 1, got) != MR_OK) {
            CHECK_MSG(0, "%s: run on other inputs: %s", label, mr_runtime_last_error(rt));
            break;
        }
        poison_outputs(got, 1);
        CHECK(mr_cuda_exec_begin(ex, bb.in, &err) == MR_OK);
        for (int ph = 0; ph < mr_cuda_exec_n_phases(ex, step); ph++) {
            long long nb = mr_cuda_exec_phase_blocks(ex, step, ph), c0 = -1, c1 = -1;
            mr_launch l = {
                step, ph, k % mr_cuda_exec_n_variants(ex, step), MR_LAUNCH_ELASTIC, -1, 1, 1, 0, 0,
                0,    0};
            mr_status st = mr_cuda_exec_launch(ex, &l, &err);
            CHECK_MSG(st == MR_OK, "%s: launch: %s", label, err.msg);
            /* A launch of tens of ms was just enqueued: the stream cannot be idle yet. */
            int idle = -1;
            st = mr_cuda_exec_poll(ex, &idle, &err);
            CHECK_MSG(st == MR_OK && idle == 0, "%s: poll right after the launch: idle %d (%s)",
                      label, idle, err.msg);
            sleep_us(delays_us[k]);
            mr_cuda_exec_set_yield(ex, 1);
            /* Drain: spin on the non-blocking poll until the yielded kernel has left the GPU
             * (bounded, so a kernel that ignores the yield fails here rather than hangs). */
            struct timespec y0, y1;
            clock_gettime(CLOCK_MONOTONIC, &y0);
            double drain_us = 0;
            for (idle = 0; st == MR_OK && !idle && drain_us < 5e6;) {
                st = mr_cuda_exec_poll(ex, &idle, &err);
                clock_gettime(CLOCK_MONOTONIC, &y1);
                drain_us =
                    (double)(y1.tv_sec - y0.tv_sec) * 1e6 + (double)(y1.tv_nsec - y0.tv_nsec) / 1e3;
            }
            CHECK_MSG(st == MR_OK && idle == 1,
                      "%s phase %d: not idle %.0f us after the yield (%s)", label, ph, drain_us,
                      err.msg);
            st = mr_cuda_exec_counter(ex, step, ph, &c0, &err); /* syncs */
            CHECK_MSG(st == MR_OK, "%s: counter: %s", label, err.msg);
            CHECK_MSG(c0 >= 0 && c0 <= nb, "%s phase %d: counter %lld outside [0, %lld]", label, ph,
                      c0, nb);
            if (c0 > 0 && c0 < nb) mid_seen = 1;
            /* Still yielding: a relaunch takes nothing. */
            l.blocks = 0;
            CHECK(mr_cuda_exec_launch(ex, &l, &err) == MR_OK);
            CHECK(mr_cuda_exec_counter(ex, step, ph, &c1, &err) == MR_OK);
            CHECK_MSG(c1 == c0, "%s phase %d: a yielded launch moved the counter %lld -> %lld",
                      label, ph, c0, c1);
            mr_cuda_exec_set_yield(ex, 0);
            /* Resume at full width with the other variant. */
            l.variant = (k + 1) % mr_cuda_exec_n_variants(ex, step);
            CHECK(mr_cuda_exec_launch(ex, &l, &err) == MR_OK);
            CHECK(mr_cuda_exec_counter(ex, step, ph, &c1, &err) == MR_OK);
            CHECK_MSG(c1 == nb, "%s phase %d: resumed counter %lld, expected %lld", label, ph, c1,
                      nb);
            printf("%s: try %d phase %d: yield after %ld us stopped at block %lld of %lld, idle "
                   "%.1f us after the yield\n",
                   label, k, ph, delays_us[k], c0, nb, drain_us);
        }
        mr_status st = mr_cuda_exec_end(ex, got, &err);
        CHECK_MSG(st == MR_OK, "%s: end: %s", label, err.msg);
        char mode[48];
        snprintf(mode, sizeof mode, "yield-mid-launch/%ldus", delays_us[k]);
        if (st == MR_OK && tf32)
            compare_tf32(cx, label, mode, 1, got, ref, sabs, K);
        else if (st == MR_OK)
            compare(label, mode, 1, got, ref, &TOL_GEMM, 0);
        cx->n_modes++;
    }
    if (ok)
        CHECK_MSG(mid_seen, "%s: no try stopped strictly inside the launch (see the lines above)",
                  label);
    for (int i = 0; i < bb.n_in; i++) free(garbage[i].data);
    free_outputs(ref, 1);
    free_outputs(got, 1);
    free_outputs(sabs, 1);
    mr_model_destroy(mc);
    mr_model_destroy(mg);
    mr_model_destroy(ms);
    free_inputs(&ba);
    free_inputs(&bb);
    if (tf32) free_inputs(&bs);
}

static void long_preempt(ctx *cx, const char *label, int v) {
    long_preempt_on(cx, cx->dev, label, v, 0);
}

#ifdef MIRIAM_HAVE_CUDA
/* mr_cuda_spread_chunk (cuda/cuda_op.h), host arithmetic, so it runs without a GPU too: a
 * layer that fills the SMs keeps its chunk; a small one gets the smallest multiple of the
 * unit that makes MR_CUDA_SPREAD_PER_SM blocks per SM, never below the unit nor above the
 * chunk; no SM count or a chunk of one pass leaves it alone. */
static void test_spread_chunk(void) {
    /* cifarnet's first max pool: 1176 outputs in chunks of 2048, on 132 SMs -> 256 */
    CHECK(mr_cuda_spread_chunk(1176, 2048, 256, 132) == 256);
    CHECK(mr_cuda_spread_chunk(1000000, 2048, 256, 132) == 2048);
    CHECK(mr_cuda_spread_chunk(1176, 2048, 256, 0) == 2048);
    CHECK(mr_cuda_spread_chunk(1176, 256, 256, 132) == 256);
    CHECK(mr_cuda_spread_chunk(0, 2048, 256, 132) == 2048);
    mr_rng r;
    mr_rng_seed(&r, 11);
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        const long long unit = 1LL << (int)mr_rng_uniform(&r, 0.0f, 9.0f);
        const long long chunk = unit * (1 + (long long)mr_rng_uniform(&r, 0.0f, 64.0f));
        const long long total = 1 + (long long)mr_rng_uniform(&r, 0.0f, 4.0e6f);
        const int sms = 1 + (int)mr_rng_uniform(&r, 0.0f, 200.0f);
        const long long c = mr_cuda_spread_chunk(total, chunk, unit, sms);
        const long long want = (long long)MR_CUDA_SPREAD_PER_SM * sms;
        const long long need = (total + want - 1) / want; /* items per block for `want` */
        int ok = c >= unit && c <= chunk && c % unit == 0;
        if ((total + chunk - 1) / chunk >= want)
            ok = ok && c == chunk; /* enough blocks already */
        else
            ok = ok && (c == chunk || c >= need) && (c == unit || c - unit < need);
        if (!ok && bad++ < 5)
            CHECK_MSG(0, "spread_chunk(%lld, %lld, %lld, %d) = %lld", total, chunk, unit, sms, c);
    }
    CHECK_MSG(bad == 0, "%d bad spread_chunk results", bad);
}
#endif

/* Runs zoo:cifarnet on rt and checks it against the CPU: the runtime still works. */
static void still_works(ctx *cx, mr_runtime *rt, const char *after) {
    char label[96];
    snprintf(label, sizeof label, "errors/still-works-after-%s", after);
    zoo_case(cx, rt, "cifarnet", label, 0);
}

static void test_errors(ctx *cx) {
    if (!selected("errors")) return;
    /* Wrong input shape and dtype on a CUDA model. */
    mr_model *m = NULL;
    mr_status st = mr_model_load_zoo(cx->dev, "cifarnet", NULL, &m);
    CHECK_MSG(st == MR_OK, "cifarnet on CUDA: %s", mr_runtime_last_error(cx->dev));
    if (st == MR_OK) {
        /* Twice the bytes of the float input: the int64 attempt must be refused before any copy,
         * but a wrong size must not read out of bounds either way. */
        float *x = calloc(2 * 3 * 32 * 32, sizeof(float)), y[10];
        mr_tensor in = {MR_DTYPE_F32, 4, {1, 3, 32, 31}, x};
        mr_tensor outt = {MR_DTYPE_F32, 2, {1, 10}, y};
        st = mr_model_run(m, 1, &in, 1, &outt);
        CHECK_STATUS(st, MR_ERR_SHAPE, mr_runtime_last_error(cx->dev), NULL);
        in.dims[3] = 32;
        in.dtype = MR_DTYPE_I64;
        st = mr_model_run(m, 1, &in, 1, &outt);
        CHECK_STATUS(st, MR_ERR_SHAPE, mr_runtime_last_error(cx->dev), NULL);
        free(x);
        mr_model_destroy(m);
        still_works(cx, cx->dev, "wrong-shape");
    }

    /* --sms that is not a multiple of the SM group. */
    char eb[512] = "";
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CUDA;
    p.sms = 12;
    mr_runtime *rt = NULL;
    st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    CHECK_STATUS(st, MR_ERR_INVALID_ARG, eb, "multiple of");
    CHECK(rt == NULL);
    printf("errors: --sms 12: %s\n", eb);
    mr_runtime_destroy(rt);
    /* More SMs than the device has. */
    p.sms = 100000;
    st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    CHECK_STATUS(st, MR_ERR_INVALID_ARG, eb, "100000");
    mr_runtime_destroy(rt);
    rt = NULL;
    still_works(cx, cx->dev, "bad-sms");

    /* A GPU that does not exist. */
    p.sms = 0;
    p.gpu = 99;
    st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    CHECK_STATUS(st, MR_ERR_NOT_FOUND, eb, "99");
    printf("errors: gpu 99: %s\n", eb);
    mr_runtime_destroy(rt);
    rt = NULL;
    /* A fresh runtime after the failures works. */
    p.gpu = 0;
    st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    CHECK_STATUS(st, MR_OK, eb, NULL);
    if (st == MR_OK) still_works(cx, rt, "bad-gpu");
    mr_runtime_destroy(rt);
}

/* The recurrent op cases, in every launch mode, on runtime rt, labelled prefix + label, held to
 * t (NULL: each case's own tolerance). */
static void run_rnn_cases(ctx *cx, mr_runtime *rt, const char *prefix, const tol *t) {
    ctx g = *cx;
    g.dev = rt;
    for (const op_case *c = CASES; c->label; c++) {
        if (strncmp(c->label, "op/rnn/", 7) != 0) continue;
        char label[96];
        snprintf(label, sizeof label, "%s%s", prefix, c->label);
        op_case gc = *c;
        gc.label = label;
        if (t) gc.tol = t;
        run_case(&g, &gc);
    }
    cx->n_cases = g.n_cases;
    cx->n_modes = g.n_modes;
}

/* One launch per time step (persistent_recurrence 0; the default for batches over 1): the
 * recurrent op cases and the zoo's lstm. */
static void test_rnn_per_step(ctx *cx) {
    if (!selected("perstep/op/rnn/") && !selected("perstep/lstm") && !selected("tf32/perstep/lstm"))
        return;
    char eb[512] = "";
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CUDA;
    p.persistent_recurrence = 0;
    mr_runtime *rt = NULL;
    mr_status st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    CHECK_STATUS(st, MR_OK, eb, NULL);
    if (st != MR_OK) return;
    run_rnn_cases(cx, rt, "perstep/", NULL);
    zoo_case(cx, rt, "lstm", "perstep/lstm", 0);
    mr_runtime_destroy(rt);
    /* the per-step kernels' projection in TF32 */
    p.precision = MR_PRECISION_TF32;
    rt = NULL;
    st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    CHECK_STATUS(st, MR_OK, eb, NULL);
    if (st != MR_OK) return;
    zoo_case_tol(cx, rt, "lstm", "tf32/perstep/lstm", 0, ZOO_TF32_RANGE_TOL);
    mr_runtime_destroy(rt);
}

static void test_green(ctx *cx) {
    /* float32, then TF32 kernels in the partition (another full width from the occupancy API) */
    for (int tf32 = 0; tf32 < 2; tf32++) {
        if (!selected(tf32 ? "tf32/green" : "green") &&
            !selected(tf32 ? "tf32/green/sms16/op/rnn/" : "green/sms16/op/rnn/"))
            continue;
        char eb[512] = "";
        mr_runtime_params p = mr_runtime_default_params();
        p.backend = MR_BACKEND_CUDA;
        p.sms = 16;
        p.precision = tf32 ? MR_PRECISION_TF32 : MR_PRECISION_FP32;
        /* float32: the persistent recurrence wherever it can run; on 16 SMs the batch-1
         * cases of H <= 512 take its fused step with tiles of 16 units (the whole GPU's
         * are 8: fewer blocks, twice the rows each) */
        if (!tf32) p.persistent_recurrence = 1;
        mr_runtime *rt = NULL;
        mr_status st = mr_runtime_create(&p, &rt, eb, sizeof eb);
        CHECK_STATUS(st, MR_OK, eb, NULL);
        if (st != MR_OK) continue;
        if (tf32) {
            /* modes 2: also the prefilled launches, of which ResNet-18's 3x3 layers (56-84
             * blocks on 48 slots) hand their later wave out by block index here */
            zoo_case_tol(cx, rt, "resnet18", "tf32/green/sms16/resnet18", 2, ZOO_TF32_RANGE_TOL);
            /* the stacked layers one after the other: both projections in TF32 */
            zoo_case_tol(cx, rt, "lstm", "tf32/green/sms16/lstm", 1, ZOO_TF32_RANGE_TOL);
            zoo_case_tol(cx, rt, "gru", "tf32/green/sms16/gru", 1, ZOO_TF32_RANGE_TOL);
            run_rnn_cases(cx, rt, "tf32/green/sms16/", &TOL_RNN_TF32);
        } else {
            zoo_case(cx, rt, "resnet18", "green/sms16/resnet18", 0);
            zoo_case(cx, rt, "lstm", "green/sms16/lstm", 0);
            zoo_case(cx, rt, "gru", "green/sms16/gru", 0);
            run_rnn_cases(cx, rt, "green/sms16/", NULL);
        }
        mr_runtime_destroy(rt);
    }
}

/* Out of device memory at model load: 16 Relu nodes over one float input of [3, 1024, 1024,
 * 1024], each output a model output (12 GiB each, under the per-tensor limit MR_MAX_ALLOC, so
 * the graph is valid; all 16 are live at the end, so the activation arena needs over 200 GiB:
 * more than any GPU holds) must fail mr_model_from_graph with MR_ERR_NO_MEMORY and a message
 * naming CUDA and the shortage, free what the load had allocated (host side: LeakSanitizer in
 * the sanitizer build), and leave the runtime able to run a model. The tensors are declared,
 * never allocated on the host. */
#define OOM_OUTPUTS 16
static void test_oom(ctx *cx) {
    if (!selected("errors/oom")) return;
    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = mr_graph_create(&err);
    CHECK_MSG(g != NULL, "oom: graph: %s", err.msg);
    if (!g) return;
    g->opset = 13;
    static const int64_t dims[4] = {3, 1024, 1024, 1024};
    int x = mr_graph_add_tensor(g, "x", &err);
    int ok = x >= 0 && push(&g->inputs, &g->n_inputs, x) == 0;
    if (ok) {
        mr_set_shape(&g->tensors[x], MR_DTYPE_F32, 4, dims);
        g->tensors[x].is_input = 1;
    }
    for (int i = 0; ok && i < OOM_OUTPUTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "y%d", i);
        int y = mr_graph_add_tensor(g, name, &err);
        snprintf(name, sizeof name, "relu%d", i);
        ok = y >= 0 && mr_graph_add_node(g, name, "Relu", 1, &x, 1, &y, &err) >= 0 &&
             push(&g->outputs, &g->n_outputs, y) == 0;
        if (ok) g->tensors[y].is_output = 1;
    }
    CHECK_MSG(ok, "oom: building the graph: %s", err.msg);
    if (!ok) {
        mr_graph_destroy(g);
        return;
    }
    cx->n_cases++;
    mr_model *m = NULL;
    mr_status st = mr_model_from_graph(cx->dev, g, NULL, &m); /* takes g */
    const char *msg = mr_runtime_last_error(cx->dev);
    CHECK_STATUS(st, MR_ERR_NO_MEMORY, msg, "out of memory");
    CHECK_MSG(strstr(msg, "CUDA") != NULL, "oom: the message does not name CUDA: %s", msg);
    CHECK(m == NULL);
    printf("errors/oom: 16 x 12 GiB of activations: %s\n", msg);
    mr_model_destroy(m);
    zoo_case(cx, cx->dev, "cifarnet", "errors/oom/still-works", 0);
}

/* A depthwise convolution of 2^31 output elements ([2, 16384, 256, 256], the input as large;
 * each image fits 32-bit indices, which every convolution kernel needs): the DIRECT kernel's
 * block and element arithmetic is 32-bit over all images too, so the load must fail with
 * MR_ERR_UNSUPPORTED and a message saying why, leak nothing, and leave the runtime usable.
 * The input is declared, never allocated on the host. */
static void test_huge_depthwise(ctx *cx) {
    if (!selected("errors/huge-depthwise")) return;
    cb b;
    memset(&b, 0, sizeof b);
    mr_err_clear(&b.err);
    b.g = mr_graph_create(&b.err);
    CHECK_MSG(b.g != NULL, "huge-depthwise: graph: %s", b.err.msg);
    if (!b.g) return;
    b.g->opset = 13;
    mr_rng_seed(&b.rng, 7);
    static const int64_t dims[4] = {2, 16384, 256, 256};
    int x = new_tensor(&b);
    if (x >= 0 && push(&b.g->inputs, &b.g->n_inputs, x) == 0) {
        mr_set_shape(&b.g->tensors[x], MR_DTYPE_F32, 4, dims);
        b.g->tensors[x].is_input = 1;
    } else {
        cb_fail(&b, "input");
    }
    int w = k_f(&b, D(16384, 1, 3, 3), -0.5f, 0.5f);
    int y = OP(&b, "Conv", x, w);
    attr_int(&b, "group", 16384);
    AIS(&b, "pads", 1, 1, 1, 1);
    out(&b, y);
    CHECK_MSG(!b.bad, "huge-depthwise: building the graph: %s", b.err.msg);
    if (b.bad) {
        mr_graph_destroy(b.g);
        return;
    }
    cx->n_cases++;
    mr_model *m = NULL;
    mr_status st = mr_model_from_graph(cx->dev, b.g, NULL, &m); /* takes the graph */
    const char *msg = mr_runtime_last_error(cx->dev);
    CHECK_STATUS(st, MR_ERR_UNSUPPORTED, msg, "2^31");
    CHECK(m == NULL);
    printf("errors/huge-depthwise: %s\n", msg);
    mr_model_destroy(m);
    zoo_case(cx, cx->dev, "cifarnet", "errors/huge-depthwise/still-works", 0);
}

/* A CUDA runtime with the given launch options; NULL (reported) on failure. */
static mr_runtime *cuda_runtime(int plain_launch, int cuda_graphs, int dependent_launch) {
    char eb[512] = "";
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CUDA;
    p.plain_launch = plain_launch;
    p.cuda_graphs = cuda_graphs;
    p.dependent_launch = dependent_launch;
    mr_runtime *rt = NULL;
    mr_status st = mr_runtime_create(&p, &rt, eb, sizeof eb);
    CHECK_MSG(st == MR_OK,
              "CUDA runtime (plain_launch %d, cuda_graphs %d, dependent_launch %d): %s",
              plain_launch, cuda_graphs, dependent_launch, eb);
    return st == MR_OK ? rt : NULL;
}

/* Graph replay vs launching every kernel: the same kernels on the same data, so the outputs
 * must be identical bit for bit (no op uses atomics or a launch-dependent order). Input A,
 * then B, then A again from another host buffer: a replayed graph must read the current
 * inputs (not values or host pointers baked in at capture). Also, informational: a
 * plain-launch runtime against the elastic one (the same bodies per logical block).
 * kind "pdl": `without` also has programmatic dependent launch off, so every kernel starts
 * only after the one before it has ended; a kernel of `with` that read its input before its
 * grid-dependency wait would see the previous input's values and differ. */
static void graphs_case(ctx *cx, mr_runtime *with, mr_runtime *without, mr_runtime *plain,
                        const char *kind, const char *name) {
    char label[64];
    snprintf(label, sizeof label, "launch-options/%s/%s", kind, name);
    if (!selected(label)) return;
    cx->n_cases++;
    mr_model *mg = NULL, *mn = NULL, *mp = NULL;
    mr_status st = mr_model_load_zoo(with, name, NULL, &mg);
    CHECK_MSG(st == MR_OK, "%s: load (graphs): %s", label, mr_runtime_last_error(with));
    st = mr_model_load_zoo(without, name, NULL, &mn);
    CHECK_MSG(st == MR_OK, "%s: load (no graphs): %s", label, mr_runtime_last_error(without));
    if (plain) {
        st = mr_model_load_zoo(plain, name, NULL, &mp);
        CHECK_MSG(st == MR_OK, "%s: load (plain): %s", label, mr_runtime_last_error(plain));
    }
    mr_tensor a[MAX_IO], b[MAX_IO], a2[MAX_IO], ra[MAX_IO], rb[MAX_IO], got[MAX_IO];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(a2, 0, sizeof a2);
    memset(ra, 0, sizeof ra);
    memset(rb, 0, sizeof rb);
    memset(got, 0, sizeof got);
    int n_in = mg ? mr_model_n_inputs(mg) : 0, n_out = mg ? mr_model_n_outputs(mg) : 0;
    int ok = mg && mn && n_in <= MAX_IO && make_inputs(mg, a, 7) && make_inputs(mg, b, 8) &&
             make_inputs(mg, a2, 7) && alloc_outputs(mg, ra) && alloc_outputs(mg, rb) &&
             alloc_outputs(mg, got);
    if (ok) {
        poison_outputs(ra, n_out);
        poison_outputs(rb, n_out);
        ok = mr_model_run(mn, n_in, a, n_out, ra) == MR_OK &&
             mr_model_run(mn, n_in, b, n_out, rb) == MR_OK;
        CHECK_MSG(ok, "%s: run without graphs: %s", label, mr_runtime_last_error(without));
    }
    const mr_tensor *ins[3] = {a, b, a2}, *refs[3] = {ra, rb, ra};
    static const char *const what[3] = {"A (capture)", "B (replay)", "A again (replay)"};
    for (int k = 0; ok && k < 3; k++) {
        poison_outputs(got, n_out);
        ok = mr_model_run(mg, n_in, ins[k], n_out, got) == MR_OK;
        CHECK_MSG(ok, "%s: run with graphs, input %s: %s", label, what[k],
                  mr_runtime_last_error(with));
        if (ok) same_bits(label, what[k], n_out, got, refs[k]);
    }
    if (ok && mp) {
        poison_outputs(got, n_out);
        if (mr_model_run(mp, n_in, a, n_out, got) == MR_OK) {
            double worst = 0;
            for (int o = 0; o < n_out; o++)
                if (got[o].dtype == MR_DTYPE_F32)
                    for (int64_t i = 0; i < mr_tensor_numel(&got[o]); i++) {
                        double d = fabs((double)((const float *)got[o].data)[i] -
                                        (double)((const float *)ra[o].data)[i]);
                        if (!(d <= worst)) worst = d; /* NaN counts as worst */
                    }
            printf("%s: plain vs elastic launches: max |diff| %.3g%s\n", label, worst,
                   worst == 0 ? " (bit-identical)" : "");
        } else {
            CHECK_MSG(0, "%s: plain run: %s", label, mr_runtime_last_error(plain));
        }
    }
    for (int i = 0; i < MAX_IO; i++) {
        free(a[i].data);
        free(b[i].data);
        free(a2[i].data);
    }
    free_outputs(ra, n_out);
    free_outputs(rb, n_out);
    free_outputs(got, n_out);
    mr_model_destroy(mg);
    mr_model_destroy(mn);
    mr_model_destroy(mp);
}

/* Runtime launch options: plain_launch = 1 (ordinary grids for every step) matches the CPU;
 * cuda_graphs = 0 and 1 give identical outputs. */
static void test_launch_options(ctx *cx) {
    if (!selected("launch-options")) return;
    mr_runtime *plain = cuda_runtime(1, 1, 1);
    if (plain) {
        zoo_case(cx, plain, "resnet18", "launch-options/plain/resnet18", 0);
        zoo_case(cx, plain, "lstm", "launch-options/plain/lstm", 0);
    }
    mr_runtime *plain_nog = cuda_runtime(1, 0, 1);
    if (plain_nog) zoo_case(cx, plain_nog, "resnet18", "launch-options/plain-nographs/resnet18", 0);
    mr_runtime *nog = cuda_runtime(0, 0, 1);
    if (nog) {
        graphs_case(cx, cx->dev, nog, plain, "graphs", "resnet18");
        graphs_case(cx, cx->dev, nog, plain, "graphs", "lstm");
        graphs_case(cx, cx->dev, nog, plain, "graphs", "mobilenet_v2");
    }
    /* Programmatic dependent launch (the default, with graphs and without) against none. */
    mr_runtime *nopdl = cuda_runtime(0, 0, 0);
    if (nopdl) {
        graphs_case(cx, cx->dev, nopdl, NULL, "pdl", "resnet18");
        graphs_case(cx, cx->dev, nopdl, NULL, "pdl", "gru");
        graphs_case(cx, nog, nopdl, NULL, "pdl-nographs", "lstm");
        graphs_case(cx, nog, nopdl, NULL, "pdl-nographs", "squeezenet1_1");
        /* Preemptible launches in ordinary stream order too (GPUs before compute capability
         * 9.0 have no other): the drain, the counter and the resume. */
        long_preempt_on(cx, nopdl, "launch-options/nopdl/long/matmul2048", 0, 0);
    }
    mr_runtime_destroy(plain);
    mr_runtime_destroy(plain_nog);
    mr_runtime_destroy(nog);
    mr_runtime_destroy(nopdl);
}

/* The backend rounds TF32 weights on the host (mr_round_tf32) and the convolution kernels read
 * them without converting: the host's rounding must give the bits the device's conversion
 * (mr_tf32) gives, on compute capability 9.0 and later (before, the device rounds ties away
 * from zero: exact ties may differ there by one TF32 unit). Edge cases (ties both ways, carries
 * into the exponent, the largest finite values, subnormals, zeros, infinities, NaN) and random
 * bit patterns; a NaN must stay a NaN (its payload may differ). */
static void test_tf32_rounding(ctx *cx) {
    if (!selected("tf32/rounding")) return;
    cx->n_cases++;
    enum { N = 4096 };
    static const uint32_t edge[] = {
        0x00000000u, 0x80000000u, 0x3f800000u, 0x3f801000u, /* 1 + exactly half a TF32 ulp */
        0x3f803000u, 0xbf801000u, 0x3f800fffu, 0x3f801001u, 0x3fffffffu, /* carry to 2 */
        0x3f807000u, 0xbf803000u, 0x3f802fffu,                           /* more ties */
        0x7f7fffffu, 0xff7fffffu, 0x7f7fefffu, 0x7f7ff000u, /* near the largest finite */
        0x00000001u, 0x00001000u, 0x00001fffu, 0x007fffffu, 0x807ff000u, /* subnormals */
        0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffc01234u, /* Inf, NaN */
    };
    const int ne = (int)(sizeof edge / sizeof edge[0]);
    float in[N], host[N];
    uint32_t dev[N];
    mr_rng r;
    mr_rng_seed(&r, 42);
    for (int i = 0; i < N; i++) {
        uint32_t u = i < ne ? edge[i] : (uint32_t)mr_rng_u64(&r);
        memcpy(&in[i], &u, 4);
    }
    mr_round_tf32(in, host, N);
    char why[256] = "";
    if (mr_cuda_round_tf32_device(0, in, dev, N, why, sizeof why) != 0) {
        CHECK_MSG(0, "tf32/rounding: device rounding: %s", why);
        return;
    }
    int major = 0, bad = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
    for (int i = 0; i < N; i++) {
        uint32_t h, u;
        memcpy(&h, &host[i], 4);
        memcpy(&u, &in[i], 4);
        int nan_in = (u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu);
        int nan_h = (h & 0x7f800000u) == 0x7f800000u && (h & 0x7fffffu);
        int nan_d = (dev[i] & 0x7f800000u) == 0x7f800000u && (dev[i] & 0x7fffffu);
        int tie = (u & 0x1fffu) == 0x1000u;
        int same =
            nan_in ? nan_h && nan_d : h == dev[i] || (major < 9 && tie && (h ^ dev[i]) == 0x2000u);
        if (!same && bad++ < 8)
            CHECK_MSG(0, "tf32/rounding: 0x%08x -> host 0x%08x, device 0x%08x", u, h, dev[i]);
        CHECK(same);
    }
    printf("tf32/rounding: %d values, host and device agree%s\n", N, bad ? " NOT" : "");
}

#endif /* MIRIAM_HAVE_CUDA */

int main(void) {
    verbose = atoi(mr_test_env("MIRIAM_CUDA_VERBOSE", "0"));
    filter = getenv("MIRIAM_CUDA_FILTER");
    mode_filter = getenv("MIRIAM_CUDA_MODES");
    setvbuf(stdout, NULL, _IOLBF, 0);

    char why[512] = "this build has no CUDA backend (no CUDA compiler was found at configure "
                    "time)";
    int have_cuda = 0;
#ifdef MIRIAM_HAVE_CUDA
    have_cuda = mr_cuda_available(why, sizeof why);
#endif

#ifdef MIRIAM_HAVE_CUDA
    test_spread_chunk();
#endif

    ctx cx;
    memset(&cx, 0, sizeof cx);
    cx.have_cuda = have_cuda;
    char eb[512] = "";
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = MR_BACKEND_CPU;
    p.n_threads = have_cuda ? 0 : 2; /* the GPU machine has many cores; CI has two */
    mr_status st = mr_runtime_create(&p, &cx.cpu, eb, sizeof eb);
    CHECK_STATUS(st, MR_OK, eb, NULL);
    if (st != MR_OK) return mr_test_finish("cuda");
    if (have_cuda) {
        p.backend = MR_BACKEND_CUDA;
        p.n_threads = 0;
    } else {
        p.n_threads = 1; /* self-check: a different block schedule on the CPU */
    }
    /* The main device runtime is float32, stated rather than defaulted: its results are held
     * to the float32 tolerances above (TOL_GEMM ...), as before TF32 existed. */
    p.precision = MR_PRECISION_FP32;
    /* The persistent recurrence (mr_runtime_params.persistent_recurrence) by default runs
     * at batch 1; this runtime asks for it wherever the shapes allow, so that every launch
     * mode (shards, P = 1, 7, preemption, mixed variants, plain) covers its fused step (batch
     * 1) and its generic one (larger batches) over the LSTM/GRU cases and the zoo's
     * recurrent models (test_green covers the fused step's 16-SM tiles, test_rnn_per_step
     * one launch per time step, as do the two cases the persistent form cannot run). */
    p.persistent_recurrence = 1;
    st = mr_runtime_create(&p, &cx.dev, eb, sizeof eb);
    CHECK_STATUS(st, MR_OK, eb, NULL);
    if (st != MR_OK) {
        mr_runtime_destroy(cx.cpu);
        return mr_test_finish("cuda");
    }
    p.persistent_recurrence = -1;
    p.precision = MR_PRECISION_TF32;
    st = mr_runtime_create(&p, &cx.tf32, eb, sizeof eb);
    CHECK_STATUS(st, MR_OK, eb, NULL);
    p.precision = MR_PRECISION_FP32;

    for (const op_case *c = CASES; c->label; c++) {
        run_case(&cx, c);
        run_case_tf32(&cx, c);
    }

    if (!have_cuda) {
        printf("cuda: %d op cases built and checked on two CPU runtimes (%d of them also against "
               "the TF32 bound)\n",
               cx.n_cases, cx.n_tf32);
        printf("no CUDA device: %s — CUDA tests skipped\n", why);
        mr_runtime_destroy(cx.tf32);
        mr_runtime_destroy(cx.dev);
        mr_runtime_destroy(cx.cpu);
        if (mr_test_failures) return mr_test_finish("cuda");
        return 77;
    }

#ifdef MIRIAM_HAVE_CUDA
    {
        /* Dynamic shared memory on the same 128-byte line in both forms of an elastic kernel:
         * 16 bytes of the elastic form's own once made 16-byte copies move twice the sectors
         * (docs/KERNEL_NOTES.md, 26). */
        int eo = -1, po = -1;
        cudaError_t e = mr_cuda_probe_dyn_smem(&eo, &po);
        CHECK_MSG(e == cudaSuccess && eo % 128 == 0 && po % 128 == 0,
                  "elastic smem probe: %s, dynamic shared memory at %d (elastic) and %d (plain) "
                  "modulo 1024",
                  cudaGetErrorString(e), eo, po);
        if (verbose) printf("  dynamic shared memory at %d (elastic), %d (plain)\n", eo, po);
    }
    long_preempt(&cx, "long/matmul2048", 0);
    long_preempt(&cx, "long/conv256x56x56", 1);
    long_preempt_on(&cx, cx.tf32, "tf32/long/matmul2048", 0, 1);
    long_preempt_on(&cx, cx.tf32, "tf32/long/conv256x56x56", 1, 1);
#endif
    for (int i = 0; ZOO[i]; i++) {
        char label[64];
        snprintf(label, sizeof label, "zoo/%s", ZOO[i]);
        zoo_case(&cx, cx.dev, ZOO[i], label, 1);
    }
    for (int i = 0; ZOO_TF32[i] && cx.tf32; i++) {
        char label[64];
        snprintf(label, sizeof label, "tf32/zoo/%s", ZOO_TF32[i]);
        zoo_case_tol(&cx, cx.tf32, ZOO_TF32[i], label, 1, ZOO_TF32_RANGE_TOL);
    }
    if (cx.tf32) {
        rnn_tf32_differs(&cx, cx.dev, cx.tf32, "lstm", "tf32/differs/lstm");
        rnn_tf32_differs(&cx, cx.dev, cx.tf32, "gru", "tf32/differs/gru");
        run_rnn_cases(&cx, cx.tf32, "tf32/", &TOL_RNN_TF32);
    }
#ifdef MIRIAM_HAVE_CUDA
    test_errors(&cx);
    test_oom(&cx);
    test_huge_depthwise(&cx);
    test_green(&cx);
    test_rnn_per_step(&cx);
    test_launch_options(&cx);
    test_tf32_rounding(&cx);
#endif

    printf("cuda: %d cases, %d launch-mode runs compared with the CPU\n", cx.n_cases, cx.n_modes);
    printf("tf32: %d op cases on the TF32 runtime; largest |diff| / TF32 bound %.3g%s%s\n",
           cx.n_tf32, cx.tf32_worst, cx.tf32_worst_at[0] ? " at " : "", cx.tf32_worst_at);
    mr_runtime_destroy(cx.tf32);
    mr_runtime_destroy(cx.dev);
    mr_runtime_destroy(cx.cpu);
    return mr_test_finish("cuda");
}
