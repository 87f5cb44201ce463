/* ONNX golden tests: the models and reference inputs/outputs of ONNX's own backend test suite
 * (Debian's libonnx-testdata), run through the importer and the public mr_model_run.
 *
 * For each test directory of node/, pytorch-converted/, pytorch-operator/ and simple/:
 *  - not applicable: some node's op_type is not registered (or not in the default domain);
 *  - otherwise every data set is run with the graph passes off and on (optimize = 0 / 1); the
 *    test passes when every output matches the reference in both runs;
 *  - a test that fails and is listed in SKIPS below (a known, named unsupported feature) is
 *    counted as skipped; any other failure fails this program.
 * Finally every registered op must be exercised by at least one passing test.
 *
 * Graph inputs whose data set value is not float32 (shapes, axes, indices, starts/ends) are
 * bound as constants with mr_graph_bind_input_const: this runtime requires them to be known
 * at load time. Float inputs stay runtime inputs.
 *
 * When the build has the CUDA backend and a GPU is present, every applicable test runs a
 * second time on a CUDA runtime, with the same tolerances, and is counted separately
 * ("golden (cuda): ..."); a failure there fails this program too, unless the test is listed
 * in SKIPS or CUDA_SKIPS. Without a GPU the CUDA pass is skipped (and says so).
 *
 * Environment: MIRIAM_TESTDATA (data directory), MIRIAM_GOLDEN_FILTER (only tests whose
 * "suite/name" contains it), MIRIAM_GOLDEN_VERBOSE=1 (one line per test). */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graph/ir.h"
#include "model.h"
#include "onnx/onnx.pb-c.h"
#include "onnx/onnx_import.h"
#include "ops/op.h"
#include "testutil.h"
#ifdef MIRIAM_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

/* float32: |got - want| <= atol + rtol * |want|. Our kernels accumulate in a different order
 * (blocked BLAS, per-block partial sums, fused epilogues) than numpy/PyTorch did when the
 * reference was produced; a few ulps per accumulation over a few hundred terms gives relative
 * differences of ~1e-6..1e-5, and atol covers results that cancel to near zero. */
#define RTOL 1e-4f
#define ATOL 1e-5f

typedef struct skip_entry {
    const char *test; /* "suite/test_name" */
    const char *reason;
} skip_entry;

/* Known unsupported features. Every entry says why; a listed test that starts passing is
 * reported so the entry can be removed. */
#define UINT8  "uint8 tensors are not supported (float32, int64 and int32 only)"
#define INT8   "int8 tensors are not supported (float32, int64 and int32 only)"
#define F64    "float64 data (the PyTorch test was traced in double): unsupported dtype"
#define CONV3D "3-D convolution is not supported (1-D and 2-D only)"
#define TRAIN_DROPOUT                                                                              \
    "training-mode Dropout (bool training_mode input, random output): inference only"
#define TRAIN_BN                                                                                   \
    "BatchNormalization training mode (batch statistics, running-stat outputs): inference only"
static const skip_entry SKIPS[] = {
    {"node/test_add_uint8", UINT8},
    {"node/test_sub_uint8", UINT8},
    {"node/test_mul_uint8", UINT8},
    {"node/test_div_uint8", UINT8},
    {"node/test_maxpool_2d_uint8", UINT8},
    {"node/test_clip_default_int8_inbounds", INT8},
    {"node/test_clip_default_int8_max", INT8},
    {"node/test_clip_default_int8_min", INT8},
    {"node/test_identity_opt",
     "optional-typed graph input (OptionalProto data): only dense tensors are supported"},
    {"node/test_identity_sequence",
     "sequence-typed graph input (SequenceProto data): only dense tensors are supported"},
    {"node/test_dropout_default_mask", "Dropout's mask output is bool: unsupported dtype"},
    {"node/test_dropout_default_mask_ratio", "Dropout's mask output is bool: unsupported dtype"},
    {"node/test_training_dropout", TRAIN_DROPOUT},
    {"node/test_training_dropout_default", TRAIN_DROPOUT},
    {"node/test_training_dropout_default_mask", TRAIN_DROPOUT},
    {"node/test_training_dropout_mask", TRAIN_DROPOUT},
    {"node/test_training_dropout_zero_ratio", TRAIN_DROPOUT},
    {"node/test_training_dropout_zero_ratio_mask", TRAIN_DROPOUT},
    {"node/test_batchnorm_epsilon_training_mode", TRAIN_BN},
    {"node/test_batchnorm_example_training_mode", TRAIN_BN},
    {"node/test_maxpool_with_argmax_2d_precomputed_pads",
     "MaxPool's second output (Indices) is not supported"},
    {"node/test_maxpool_with_argmax_2d_precomputed_strides",
     "MaxPool's second output (Indices) is not supported"},
    {"pytorch-converted/test_Conv3d", CONV3D},
    {"pytorch-converted/test_Conv3d_dilated", CONV3D},
    {"pytorch-converted/test_Conv3d_dilated_strided", CONV3D},
    {"pytorch-converted/test_Conv3d_groups", CONV3D},
    {"pytorch-converted/test_Conv3d_no_bias", CONV3D},
    {"pytorch-converted/test_Conv3d_stride", CONV3D},
    {"pytorch-converted/test_Conv3d_stride_padding", CONV3D},
    {"pytorch-operator/test_operator_add_broadcast", F64},
    {"pytorch-operator/test_operator_add_size1_broadcast", F64},
    {"pytorch-operator/test_operator_add_size1_right_broadcast", F64},
    {"pytorch-operator/test_operator_add_size1_singleton_broadcast", F64},
    {"pytorch-operator/test_operator_addconstant", F64},
    {NULL, NULL},
};

/* Known gaps of the CUDA backend only (the CPU passes): same format as SKIPS. */
static const skip_entry CUDA_SKIPS[] = {
    {NULL, NULL},
};

typedef struct tol_entry {
    const char *test;
    float rtol, atol;
    const char *why;
} tol_entry;

/* Per-test tolerances looser than the default, each justified. */
static const tol_entry TOLERANCES[] = {
    {NULL, 0, 0, NULL},
};

/* Op inputs this runtime requires to be constants (weights packed at load time), which ONNX's
 * node tests nevertheless feed as graph inputs: the runner binds them like the non-float
 * inputs, which is what an exported model (weights as initializers) looks like. */
typedef struct const_input_rule {
    const char *op;
    unsigned inputs; /* bit k: input k */
} const_input_rule;

static const const_input_rule CONST_INPUTS[] = {
    {"Conv", 1u << 1},               /* W */
    {"LSTM", (1u << 1) | (1u << 2)}, /* W, R */
    {"GRU", (1u << 1) | (1u << 2)},  /* W, R */
    {NULL, 0},
};

static const char *const SUITES[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

#define MAX_DATA_IO 32
#define REASON_MAX  768

static int verbose;

/* ---- small helpers ---- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of the entries of `dir` starting with `prefix`; caller frees. */
static int list_dir(const char *dir, const char *prefix, char ***out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, sizeof(char *) * (size_t)cap);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof(char *), cmp_str);
    *out = names;
    return n;
}
static void free_list(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static const skip_entry *find_skip_in(const skip_entry *list, const char *test) {
    for (const skip_entry *s = list; s->test; s++)
        if (strcmp(s->test, test) == 0) return s;
    return NULL;
}
static const skip_entry *find_skip(const char *test) {
    return find_skip_in(SKIPS, test);
}
static void tolerance_for(const char *test, float *rtol, float *atol) {
    *rtol = RTOL;
    *atol = ATOL;
    for (const tol_entry *t = TOLERANCES; t->test; t++)
        if (strcmp(t->test, test) == 0) {
            *rtol = t->rtol;
            *atol = t->atol;
        }
}

static int op_index(const char *op_type) {
    const mr_op_def *const *all = mr_op_all();
    for (int i = 0; all[i]; i++)
        if (strcmp(all[i]->name, op_type) == 0) return i;
    return -1;
}

/* ---- one data set ---- */

typedef struct data_set {
    int n_in, n_out;
    mr_tensor in[MAX_DATA_IO], out[MAX_DATA_IO];
} data_set;

static void free_data_set(data_set *ds) {
    for (int i = 0; i < ds->n_in; i++) mr_tensor_free_data(&ds->in[i]);
    for (int i = 0; i < ds->n_out; i++) mr_tensor_free_data(&ds->out[i]);
    ds->n_in = ds->n_out = 0;
}

static int read_pb(const char *path, mr_tensor *t, char *reason) {
    mr_err err;
    mr_err_clear(&err);
    void *buf = NULL;
    size_t size = 0;
    mr_status st = mr_read_file(path, &buf, &size, &err);
    if (st == MR_OK) st = mr_onnx_read_tensor(buf, size, t, NULL, &err);
    free(buf);
    if (st != MR_OK) {
        const char *base = strrchr(path, '/');
        snprintf(reason, REASON_MAX, "%s: %s", base ? base + 1 : path, err.msg);
        return 0;
    }
    return 1;
}

static int load_data_set(const char *dir, data_set *ds, char *reason) {
    memset(ds, 0, sizeof *ds);
    char path[1024];
    for (int k = 0; k < 2; k++) {
        const char *kind = k ? "output" : "input";
        for (int i = 0;; i++) {
            snprintf(path, sizeof path, "%s/%s_%d.pb", dir, kind, i);
            if (!file_exists(path)) break;
            int *n = k ? &ds->n_out : &ds->n_in;
            if (*n == MAX_DATA_IO) {
                snprintf(reason, REASON_MAX, "more than %d %ss", MAX_DATA_IO, kind);
                return 0;
            }
            if (!read_pb(path, k ? &ds->out[*n] : &ds->in[*n], reason)) return 0;
            (*n)++;
        }
    }
    if (ds->n_out == 0) {
        snprintf(reason, REASON_MAX, "data set has no output_0.pb");
        return 0;
    }
    return 1;
}

static const char *dims_str(int ndim, const int64_t *dims, char *buf) {
    return mr_dims_str(ndim, dims, buf, 128);
}

/* The declared dim `d` of graph input `name` in the model proto is concrete (dim_value). */
static int proto_dim_fixed(const Onnx__ModelProto *mp, const char *name, int d) {
    const Onnx__GraphProto *gp = mp->graph;
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || strcmp(vi->name, name) != 0) continue;
        if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
            !vi->type->tensor_type->shape || (size_t)d >= vi->type->tensor_type->shape->n_dim)
            return 0;
        return vi->type->tensor_type->shape->dim[d]->value_case ==
               ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    }
    return 0;
}

static int compare_output(const char *oname, const mr_tensor *got, const mr_tensor *want,
                          float rtol, float atol, char *reason) {
    int64_t n = mr_tensor_numel(want);
    if (want->dtype == MR_DTYPE_F32) {
        double max_abs = 0;
        int64_t worst = -1;
        if (mr_allclose(got->data, want->data, n, rtol, atol, &max_abs, &worst)) return 1;
        const float *g = got->data, *w = want->data;
        snprintf(reason, REASON_MAX,
                 "output '%s': max |diff| %.3g at element %lld: got %.9g, expected %.9g "
                 "(rtol %g, atol %g)",
                 oname, max_abs, (long long)worst, worst >= 0 ? g[worst] : 0.0,
                 worst >= 0 ? w[worst] : 0.0, rtol, atol);
        return 0;
    }
    size_t esize = mr_dtype_size(want->dtype);
    for (int64_t i = 0; i < n; i++) {
        const char *g = (const char *)got->data + i * (int64_t)esize;
        const char *w = (const char *)want->data + i * (int64_t)esize;
        if (memcmp(g, w, esize) != 0) {
            long long gv, wv;
            if (want->dtype == MR_DTYPE_I64) {
                int64_t a, b;
                memcpy(&a, g, 8);
                memcpy(&b, w, 8);
                gv = a, wv = b;
            } else {
                int32_t a, b;
                memcpy(&a, g, 4);
                memcpy(&b, w, 4);
                gv = a, wv = b;
            }
            snprintf(reason, REASON_MAX, "output '%s': element %lld is %lld, expected %lld", oname,
                     (long long)i, gv, wv);
            return 0;
        }
    }
    return 1;
}

/* Import, bind, build and run one data set with the passes on or off. */
static int run_once(mr_runtime *rt, const char *test, const void *model_buf, size_t model_size,
                    const Onnx__ModelProto *mp, const data_set *ds, int optimize, char *reason) {
    mr_err err;
    mr_err_clear(&err);
    mr_graph *g = NULL;
    char b1[128], b2[128];
    if (mr_onnx_import(model_buf, model_size, 1, &g, &err) != MR_OK) {
        snprintf(reason, REASON_MAX, "import: %s", err.msg);
        return 0;
    }
    if (g->n_inputs != ds->n_in) {
        snprintf(reason, REASON_MAX, "the graph has %d inputs, the data set %d", g->n_inputs,
                 ds->n_in);
        mr_graph_destroy(g);
        return 0;
    }
    /* Symbolic dims of float inputs were given default_dim: the data set says what they are
     * (constant-bound inputs take the value's shape anyway). */
    for (int i = 0; i < ds->n_in; i++) {
        mr_tensor_desc *t = &g->tensors[g->inputs[i]];
        const mr_tensor *v = &ds->in[i];
        if (v->dtype == MR_DTYPE_F32 && t->ndim == v->ndim)
            for (int d = 0; d < t->ndim; d++)
                if (!proto_dim_fixed(mp, t->name, d)) t->dims[d] = v->dims[d];
    }
    /* Graph inputs feeding an input position listed in CONST_INPUTS become constants too. */
    char bind[MAX_DATA_IO] = {0};
    for (int i = 0; i < ds->n_in; i++) bind[i] = ds->in[i].dtype != MR_DTYPE_F32;
    for (int k = 0; k < g->n_nodes; k++) {
        const mr_node *n = &g->nodes[k];
        for (const const_input_rule *r = CONST_INPUTS; r->op; r++) {
            if (strcmp(r->op, n->op_type) != 0) continue;
            for (int j = 0; j < n->n_in; j++) {
                if (!(r->inputs & (1u << j)) || n->in[j] < 0) continue;
                for (int i = 0; i < g->n_inputs; i++)
                    if (g->inputs[i] == n->in[j]) bind[i] = 1;
            }
        }
    }
    int n_runtime = 0;
    int runtime_in[MAX_DATA_IO];
    for (int i = 0; i < ds->n_in; i++)
        if (!bind[i]) runtime_in[n_runtime++] = i;
    for (int i = ds->n_in - 1; i >= 0; i--) {
        if (!bind[i]) continue;
        if (mr_graph_bind_input_const(g, i, &ds->in[i], &err) != MR_OK) {
            snprintf(reason, REASON_MAX, "binding input %d as a constant: %s", i, err.msg);
            mr_graph_destroy(g);
            return 0;
        }
    }
    mr_model_params params = mr_model_default_params();
    params.optimize = optimize;
    mr_model *model = NULL;
    if (mr_model_from_graph(rt, g, &params, &model) != MR_OK) {
        snprintf(reason, REASON_MAX, "load: %s", mr_runtime_last_error(rt));
        return 0;
    }
    int ok = 1;
    int n_out = mr_model_n_outputs(model);
    mr_tensor outs[MAX_DATA_IO];
    memset(outs, 0, sizeof outs);
    if (mr_model_n_inputs(model) != n_runtime) {
        snprintf(reason, REASON_MAX, "the model has %d inputs after binding, expected %d",
                 mr_model_n_inputs(model), n_runtime);
        ok = 0;
    } else if (n_out != ds->n_out) {
        snprintf(reason, REASON_MAX, "the model has %d outputs, the data set %d", n_out, ds->n_out);
        ok = 0;
    }
    mr_tensor ins[MAX_DATA_IO];
    for (int i = 0; ok && i < n_runtime; i++) ins[i] = ds->in[runtime_in[i]];
    for (int i = 0; ok && i < n_out; i++) {
        mr_tensor_info info;
        mr_model_output_info(model, i, &info);
        const mr_tensor *w = &ds->out[i];
        int same = info.dtype == w->dtype && info.ndim == w->ndim;
        for (int d = 0; same && d < w->ndim; d++) same = info.dims[d] == w->dims[d];
        if (!same) {
            snprintf(reason, REASON_MAX, "output '%s' is %s%s, expected %s%s", info.name,
                     mr_dtype_name(info.dtype), dims_str(info.ndim, info.dims, b1),
                     mr_dtype_name(w->dtype), dims_str(w->ndim, w->dims, b2));
            ok = 0;
            break;
        }
        outs[i] = *w;
        size_t bytes = (size_t)mr_tensor_numel(w) * mr_dtype_size(w->dtype);
        /* NaN-filled so an element the kernel forgets to write cannot pass by accident. */
        outs[i].data = malloc(bytes ? bytes : 1);
        memset(outs[i].data, 0xff, bytes);
    }
    if (ok && mr_model_run(model, n_runtime, ins, n_out, outs) != MR_OK) {
        snprintf(reason, REASON_MAX, "run: %s", mr_runtime_last_error(rt));
        ok = 0;
    }
    float rtol, atol;
    tolerance_for(test, &rtol, &atol);
    for (int i = 0; ok && i < n_out; i++) {
        mr_tensor_info info;
        mr_model_output_info(model, i, &info);
        ok = compare_output(info.name, &outs[i], &ds->out[i], rtol, atol, reason);
    }
    for (int i = 0; i < n_out && i < MAX_DATA_IO; i++) free(outs[i].data);
    mr_model_destroy(model);
    return ok;
}

/* ---- one test directory ---- */

typedef struct totals {
    int passed, failed, skipped, not_applicable;
    int *op_has_test, *op_passed;
} totals;

/* Returns 1 if applicable; marks every registered op the model uses in op_has_test. */
static int scan_ops(const Onnx__ModelProto *mp, totals *tot, char *missing, size_t size) {
    int applicable = 1;
    missing[0] = '\0';
    const Onnx__GraphProto *gp = mp->graph;
    for (size_t i = 0; gp && i < gp->n_node; i++) {
        const Onnx__NodeProto *n = gp->node[i];
        const char *op = n->op_type ? n->op_type : "";
        int default_domain = !n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0;
        int k = default_domain ? op_index(op) : -1;
        if (k >= 0) {
            tot->op_has_test[k] = 1;
        } else {
            if (!strstr(missing, op)) {
                size_t len = strlen(missing);
                snprintf(missing + len, size - len, "%s%s", len ? " " : "", op);
            }
            applicable = 0;
        }
    }
    return applicable && gp;
}

/* Every data set of one test on runtime rt, passes off and on; 1 when all match. */
static int run_sets(mr_runtime *rt, const char *test, const char *dir, const void *buf, size_t size,
                    const Onnx__ModelProto *mp, char *reason, size_t reason_size) {
    char **sets = NULL;
    int n_sets = list_dir(dir, "test_data_set_", &sets);
    int ok = n_sets > 0;
    if (!ok) snprintf(reason, reason_size, "no test_data_set_* directory");
    for (int s = 0; ok && s < n_sets; s++) {
        char sdir[1400];
        snprintf(sdir, sizeof sdir, "%s/%s", dir, sets[s]);
        data_set ds;
        ok = load_data_set(sdir, &ds, reason);
        for (int opt = 0; ok && opt <= 1; opt++) {
            char r[REASON_MAX];
            ok = run_once(rt, test, buf, size, mp, &ds, opt, r);
            if (!ok) snprintf(reason, reason_size, "%s, optimize=%d: %s", sets[s], opt, r);
        }
        free_data_set(&ds);
    }
    free_list(sets, n_sets);
    return ok;
}

/* Counts one test's result in tot. `tag` is "" for the CPU pass, " (cuda)" for the CUDA one;
 * `skip` is the test's entry in the applicable skip list, or NULL. */
static void record(totals *tot, const char *test, const Onnx__ModelProto *mp, int ok,
                   const char *reason, const skip_entry *skip, const char *tag) {
    if (ok) {
        tot->passed++;
        const Onnx__GraphProto *gp = mp->graph;
        for (size_t i = 0; i < gp->n_node; i++) tot->op_passed[op_index(gp->node[i]->op_type)] = 1;
        if (skip)
            printf("NOTE%s %s passes but is listed as unsupported (%s): remove the entry\n", tag,
                   test, skip->reason);
        else if (verbose)
            printf("PASS%s %s\n", tag, test);
    } else if (skip) {
        tot->skipped++;
        printf("SKIP%s %s: %s [%s]\n", tag, test, skip->reason, reason);
    } else {
        tot->failed++;
        printf("FAIL%s %s: %s\n", tag, test, reason);
    }
    fflush(stdout);
}

static void run_test(mr_runtime *rt, mr_runtime *rt_cuda, const char *root, const char *suite,
                     const char *name, totals *tot, totals *tot_cuda) {
    char test[512], dir[1024], path[1200], reason[REASON_MAX + 128] = "", missing[256];
    snprintf(test, sizeof test, "%s/%s", suite, name);
    snprintf(dir, sizeof dir, "%s/%s/%s", root, suite, name);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (!file_exists(path)) return; /* e.g. real/: models downloaded on demand */
    const char *filter = getenv("MIRIAM_GOLDEN_FILTER");
    if (filter && filter[0] && !strstr(test, filter)) return;

    mr_err err;
    mr_err_clear(&err);
    void *buf = NULL;
    size_t size = 0;
    if (mr_read_file(path, &buf, &size, &err) != MR_OK) {
        printf("FAIL %s: %s\n", test, err.msg);
        tot->failed++;
        return;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, buf);
    if (!mp || !mp->graph) {
        /* Not ours to judge, but the data must at least be readable. */
        printf("FAIL %s: model.onnx does not parse as an ONNX model\n", test);
        tot->failed++;
        if (mp) onnx__model_proto__free_unpacked(mp, NULL);
        free(buf);
        return;
    }
    if (!scan_ops(mp, tot, missing, sizeof missing)) {
        tot->not_applicable++;
        if (rt_cuda) tot_cuda->not_applicable++;
        if (verbose) printf("N/A  %s: unsupported ops: %s\n", test, missing);
        onnx__model_proto__free_unpacked(mp, NULL);
        free(buf);
        return;
    }

    int ok = run_sets(rt, test, dir, buf, size, mp, reason, sizeof reason);
    record(tot, test, mp, ok, reason, find_skip(test), "");
    if (rt_cuda) {
        /* Same data, same tolerance, on the GPU. CPU-unsupported features stay skipped;
         * CUDA_SKIPS lists what only the CUDA backend lacks. */
        const skip_entry *skip = find_skip(test);
        if (!skip) skip = find_skip_in(CUDA_SKIPS, test);
        reason[0] = '\0';
        ok = run_sets(rt_cuda, test, dir, buf, size, mp, reason, sizeof reason);
        record(tot_cuda, test, mp, ok, reason, skip, " (cuda)");
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    free(buf);
}

int main(void) {
    const char *root = mr_test_env("MIRIAM_TESTDATA", "/usr/share/libonnx-testdata/data");
    verbose = atoi(mr_test_env("MIRIAM_GOLDEN_VERBOSE", "0"));
    char node_dir[1024];
    snprintf(node_dir, sizeof node_dir, "%s/node", root);
    if (!file_exists(node_dir)) {
        printf("golden: ONNX test data not found at '%s' (install libonnx-testdata or set "
               "MIRIAM_TESTDATA): skipped\n",
               root);
        return 77;
    }

    char errbuf[512] = "";
    mr_runtime_params rp = mr_runtime_default_params();
    rp.backend = MR_BACKEND_CPU;
    rp.n_threads = 2; /* several workers, so blocks really run concurrently */
    mr_runtime *rt = NULL;
    mr_status st = mr_runtime_create(&rp, &rt, errbuf, sizeof errbuf);
    CHECK_STATUS(st, MR_OK, errbuf, NULL);
    if (st != MR_OK) return mr_test_finish("golden");

    /* The CUDA pass, when this build and this machine have it. */
    mr_runtime *rt_cuda = NULL;
    char no_cuda[512] = "this build has no CUDA backend";
#ifdef MIRIAM_HAVE_CUDA
    if (mr_cuda_available(no_cuda, sizeof no_cuda)) {
        rp.backend = MR_BACKEND_CUDA;
        st = mr_runtime_create(&rp, &rt_cuda, errbuf, sizeof errbuf);
        CHECK_STATUS(st, MR_OK, errbuf, NULL);
    }
#endif
    if (!rt_cuda) printf("golden (cuda): %s: CUDA pass skipped\n", no_cuda);

    int n_ops = 0;
    const mr_op_def *const *all = mr_op_all();
    while (all[n_ops]) n_ops++;
    totals tot = {0}, tot_cuda = {0};
    tot.op_has_test = calloc((size_t)n_ops + 1, sizeof(int));
    tot.op_passed = calloc((size_t)n_ops + 1, sizeof(int));
    tot_cuda.op_has_test = calloc((size_t)n_ops + 1, sizeof(int));
    tot_cuda.op_passed = calloc((size_t)n_ops + 1, sizeof(int));

    for (size_t s = 0; s < sizeof SUITES / sizeof SUITES[0]; s++) {
        char sdir[1200];
        snprintf(sdir, sizeof sdir, "%s/%s", root, SUITES[s]);
        char **names = NULL;
        int n = list_dir(sdir, "test_", &names);
        for (int i = 0; i < n; i++)
            run_test(rt, rt_cuda, root, SUITES[s], names[i], &tot, &tot_cuda);
        free_list(names, n);
    }

    printf("golden: %d passed, %d failed, %d skipped (unsupported feature), %d not applicable "
           "(unsupported ops)\n",
           tot.passed, tot.failed, tot.skipped, tot.not_applicable);
    CHECK_MSG(tot.failed == 0, "%d golden tests failed", tot.failed);
    if (rt_cuda) {
        printf("golden (cuda): %d passed, %d failed, %d skipped (unsupported feature), %d not "
               "applicable (unsupported ops)\n",
               tot_cuda.passed, tot_cuda.failed, tot_cuda.skipped, tot_cuda.not_applicable);
        CHECK_MSG(tot_cuda.failed == 0, "%d golden tests failed on the CUDA backend",
                  tot_cuda.failed);
    }

    /* Coverage: with a filter only part of the data ran, so it is not judged. */
    const char *filter = getenv("MIRIAM_GOLDEN_FILTER");
    if (!(filter && filter[0])) {
        for (int k = 0; k < n_ops; k++) {
            if (tot.op_passed[k]) continue;
            if (!tot.op_has_test[k]) {
                printf("golden: op %s: no golden test in libonnx-testdata\n", all[k]->name);
                continue;
            }
            CHECK_MSG(0, "op %s is not covered by any passing golden test", all[k]->name);
        }
        /* Informational on the GPU: every op's kernel failing would already fail above. */
        for (int k = 0; rt_cuda && k < n_ops; k++)
            if (tot.op_passed[k] && !tot_cuda.op_passed[k])
                printf("golden (cuda): op %s: no golden test passes on the CUDA backend\n",
                       all[k]->name);
    }
    free(tot.op_has_test);
    free(tot.op_passed);
    free(tot_cuda.op_has_test);
    free(tot_cuda.op_passed);
    mr_runtime_destroy(rt_cuda);
    mr_runtime_destroy(rt);
    return mr_test_finish("golden");
}
