/* miriam: command-line front end of libmiriam.
 *
 *   miriam info MODEL [--steps]
 *   miriam run MODEL [--input x.npy ...] [--output y.npy ...] [--compare ref.npy ...]
 *                    [--rtol R] [--atol A] [--device cpu|cuda|auto] [--repeat N] [--warmup N]
 *                    [--threads N] [--sms N] [--gpu N] [--launch plain|elastic] [--no-graphs]
 *                    [--seed S]
 *   miriam bench WORKLOAD.json [--policy P[,P...]|all] [--duration S] [--warmup S] [--seed N]
 *                [-o md|json|csv] [--out FILE] [--device D] [--sms N] ...
 *   miriam compare WORKLOAD.json [--policies all|LIST] [-o DIR] [--include FILE.csv ...]
 *                  [--duration S] [--warmup S] [--seed N] [--no-plots] [--device D] [--sms N] ...
 *   miriam bench [MODEL ...] [--repeat N] [--warmup N] [--threads N] [--device D] [--sms N]
 *                [--gpu N] [--launch plain|elastic] [--no-graphs] [--csv FILE]
 *   miriam drain MODEL [--sms N] [--gpu N] [--repeat N] [--step K] [--seed S]
 *   miriam steps MODEL... [--sms N] [--gpu N] [--precision P] [--repeat N] [--top N] [--csv F]
 *   miriam tune MODEL... [--device D] [--sms N] [--threads N] [-o FILE] [--repeat N] [--quick]
 *
 * run, info, tune, drain, steps and the model table of bench also take --op-library PATH
 * (repeatable): custom operators from a shared library (docs/CUSTOM_OPS.md).
 *   miriam zoo
 *   miriam export zoo:NAME OUT.onnx
 *
 * MODEL is a path to an .onnx file or zoo:NAME.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "miriam.h"

static void log_stderr(mr_log_level level, const char *msg, void *user) {
    static const char *names[] = {"error", "warning", "info", "debug"};
    (void)user;
    /* Every failure is also returned to the command, which reports it once with its context
     * (cli_error); printing the runtime's error log too would show each message twice. */
    if (level == MR_LOG_ERROR) return;
    if (level < MR_LOG_ERROR || level > MR_LOG_DEBUG) return;
    fprintf(stderr, "miriam: %s: %s\n", names[level], msg);
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "miriam: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_parse_int(const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return cli_error("%s expects an integer in [%lld, %lld], got '%s'", opt, lo, hi,
                         s ? s : "");
    *out = v;
    return 0;
}

int cli_parse_float(const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s ? s : "", &end);
    if (!s || !*s || *end || errno || !(v >= 0))
        return cli_error("%s expects a non-negative number, got '%s'", opt, s ? s : "");
    *out = v;
    return 0;
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double cli_percentile(double *v, int n, double p) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    /* Nearest-rank: the smallest value with at least p% of the samples at or below it. */
    int rank = (int)ceil(p / 100.0 * n);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return v[rank - 1];
}

int cli_runtime(const cli_common *c, mr_runtime **rt) {
    mr_runtime_params p = mr_runtime_default_params();
    p.backend = c->backend;
    p.n_threads = c->threads;
    p.sms = c->sms;
    p.gpu = c->gpu;
    p.plain_launch = c->plain_launch;
    p.cuda_graphs = !c->no_graphs;
    p.dependent_launch = !c->no_pdl;
    p.persistent_recurrence = c->persistent_rnn;
    p.precision = c->precision;
    p.log_fn = log_stderr;
    p.log_level = c->verbose ? MR_LOG_INFO : MR_LOG_WARN;
    char err[512];
    if (mr_runtime_create(&p, rt, err, sizeof err) != MR_OK)
        return cli_error("cannot create the runtime: %s", err);
    if (cli_load_op_libraries(c, *rt)) {
        mr_runtime_destroy(*rt);
        *rt = NULL;
        return 1;
    }
    return 0;
}

/* The entry point every custom-operator library exports (docs/CUSTOM_OPS.md). */
typedef mr_status (*register_ops_fn)(mr_runtime *rt);

int cli_load_op_libraries(const cli_common *c, mr_runtime *rt) {
    for (int i = 0; i < c->n_op_libraries; i++) {
        const char *path = c->op_libraries[i];
        /* Never closed: the runtime calls the library's callbacks and launches its kernels
         * until it is destroyed, and the process ends soon after that. */
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) return cli_error("--op-library %s: cannot load it: %s", path, dlerror());
        dlerror();
        register_ops_fn fn;
        /* POSIX allows this conversion of dlsym's result; ISO C does not spell it. */
        *(void **)&fn = dlsym(h, "miriam_register_ops");
        if (!fn) {
            cli_error("--op-library %s: no miriam_register_ops() entry point: %s", path, dlerror());
            dlclose(h); /* nothing of it was registered */
            return 1;
        }
        mr_status st = fn(rt);
        if (st != MR_OK) {
            const char *msg = mr_runtime_last_error(rt);
            return cli_error("--op-library %s: miriam_register_ops() failed: %s", path,
                             msg[0] ? msg : mr_status_str(st));
        }
    }
    return 0;
}

int cli_common_option(cli_common *c, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long long n = 0;
    if (strcmp(a, "--device") == 0) {
        if (!v || mr_backend_parse(v, &c->backend) != MR_OK)
            return cli_error("--device expects cpu, cuda or auto, got '%s'", v ? v : "");
    } else if (strcmp(a, "--threads") == 0) {
        if (cli_parse_int(a, v, 1, 256, &n)) return 1;
        c->threads = (int)n;
    } else if (strcmp(a, "--sms") == 0) {
        /* Validated against the device when the runtime is created (the SM group size and
         * count depend on the GPU). */
        if (cli_parse_int(a, v, 0, 1 << 20, &n)) return 1;
        c->sms = (int)n;
    } else if (strcmp(a, "--gpu") == 0) {
        /* Checked against the GPUs present when the runtime is created. */
        if (cli_parse_int(a, v, 0, 1 << 20, &n)) return 1;
        c->gpu = (int)n;
    } else if (strcmp(a, "--launch") == 0) {
        if (v && strcmp(v, "plain") == 0)
            c->plain_launch = 1;
        else if (v && strcmp(v, "elastic") == 0)
            c->plain_launch = 0;
        else
            return cli_error("--launch expects plain or elastic, got '%s'", v ? v : "");
    } else if (strcmp(a, "--precision") == 0) {
        if (!v || mr_precision_parse(v, &c->precision) != MR_OK)
            return cli_error("--precision expects fp32 or tf32, got '%s'", v ? v : "");
    } else if (strcmp(a, "--op-library") == 0) {
        if (!v || !*v) return cli_error("--op-library expects the path of a shared library");
        if (c->n_op_libraries == CLI_MAX_OP_LIBRARIES)
            return cli_error("at most %d --op-library options", CLI_MAX_OP_LIBRARIES);
        c->op_libraries[c->n_op_libraries++] = v;
    } else if (strcmp(a, "--no-graphs") == 0) {
        c->no_graphs = 1;
        return -1;
    } else if (strcmp(a, "--no-pdl") == 0) {
        c->no_pdl = 1;
        return -1;
    } else if (strcmp(a, "--persistent-rnn") == 0) {
        c->persistent_rnn = 1;
        return -1;
    } else if (strcmp(a, "--no-persistent-rnn") == 0) {
        c->persistent_rnn = 0;
        return -1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
        c->verbose = 1;
        return -1;
    } else {
        return 2; /* not a common option */
    }
    (*i)++;
    return -1;
}

void cli_backend_label_kind(const cli_common *c, mr_backend_kind k, char *buf, size_t size) {
    if (k != MR_BACKEND_CUDA) {
        snprintf(buf, size, "%s", mr_backend_name(k));
        return;
    }
    char part[32] = "";
    if (c->sms > 0) snprintf(part, sizeof part, "/%dsm", c->sms);
    snprintf(buf, size, "cuda%s/%s%s%s%s%s", part, c->plain_launch ? "plain" : "elastic",
             c->precision == MR_PRECISION_TF32 ? "/tf32" : "", c->no_graphs ? "/nographs" : "",
             c->no_pdl ? "/nopdl" : "",
             c->persistent_rnn > 0    ? "/prnn"
             : c->persistent_rnn == 0 ? "/noprnn"
                                      : "");
}

const char *cli_backend_label(const cli_common *c, const mr_runtime *rt, char *buf, size_t size) {
    cli_backend_label_kind(c, mr_runtime_backend(rt), buf, size);
    return buf;
}

const char *cli_launch_name(const cli_common *c, const mr_runtime *rt) {
    if (mr_runtime_backend(rt) != MR_BACKEND_CUDA) return "-";
    return c->plain_launch ? "plain" : "elastic";
}

/* One option of a help text: the name padded to `width`, the description's lines (separated
 * by '\n') aligned under each other. */
static void help_option(int width, const char *name, const char *desc) {
    printf("  %-*s", width, name);
    for (const char *p = desc; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("%.*s\n", len, p);
        if (!nl) break;
        p = nl + 1;
        printf("  %-*s", width, "");
    }
}

void cli_cuda_options_help(int width) {
    help_option(width, "--sms N",
                "CUDA: confine the runtime to N SMs with a green context (a\n"
                "multiple of 8 on Hopper; default 0 = the whole GPU)");
    help_option(width, "--gpu N", "CUDA: the device to use (default 0)");
    help_option(width, "--launch MODE",
                "CUDA: elastic (default): persistent blocks take logical blocks\n"
                "from a counter (preemptible, resizable); plain: ordinary grids,\n"
                "one block per logical block (persistent LSTM/GRU kernels aside;\n"
                "the baseline for the elastic overhead)");
    help_option(width, "--precision P",
                "CUDA: fp32 (default) or tf32: convolutions and matrix products\n"
                "on tensor cores with TF32 inputs (as PyTorch runs cuDNN\n"
                "convolutions by default); ~1e-3 relative error");
    help_option(width, "--no-graphs",
                "CUDA: launch every kernel from the host instead of replaying\n"
                "the model's launches as a CUDA graph");
    help_option(width, "--no-pdl",
                "CUDA: no programmatic dependent launch (Hopper and later: a\n"
                "model's next kernel is dispatched while the previous one\n"
                "finishes); for measuring what it saves");
    help_option(width, "--no-persistent-rnn",
                "CUDA: one launch per LSTM/GRU time step; by default, at batch\n"
                "1, a layer's time steps run in one persistent launch, one block\n"
                "per tile of units, each keeping its rows of R on chip");
    help_option(width, "--persistent-rnn",
                "CUDA: the persistent LSTM/GRU launch wherever the shapes\n"
                "allow, batches over 1 included (for study)");
}

void cli_op_library_help(int width) {
    const char *name = "--op-library PATH";
    /* Narrow option columns: the name on a line of its own. */
    if ((int)strlen(name) >= width) {
        printf("  %s\n", name);
        name = "";
    }
    help_option(width, name,
                "load custom operators from the shared library PATH (a path\n"
                "with a '/'; it exports miriam_register_ops(), see\n"
                "docs/CUSTOM_OPS.md); repeatable");
}

void cli_common_init(cli_common *c) {
    memset(c, 0, sizeof *c);
    c->backend = MR_BACKEND_AUTO;
    c->persistent_rnn = -1;
}

static int cmd_zoo(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: miriam zoo\n\nLists the built-in models (use them as zoo:NAME).\n");
        return 0;
    }
    if (argc > 1)
        return cli_error("zoo: unexpected argument '%s' (see miriam zoo --help)", argv[1]);
    printf("%-16s %s\n", "name", "description");
    for (int i = 0; mr_zoo_name(i); i++)
        printf("%-16s %s\n", mr_zoo_name(i), mr_zoo_description(mr_zoo_name(i)));
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: miriam COMMAND [options]\n\n"
               "Commands:\n"
               "  info MODEL      inputs, outputs, parameters, FLOPs, planned activation memory\n"
               "  run MODEL       run inference (random or .npy input), print latency p50/p99\n"
               "  bench WORKLOAD.json  run a multi-task workload under sharing policies\n"
               "  bench [MODEL..] batch-1 latency table of models (default: the whole zoo)\n"
               "  compare WORKLOAD.json  every sharing policy against the solo baselines:\n"
               "                  table, results.json/.csv and plots in a directory\n"
               "  zoo             list the built-in models\n"
               "  export ZOO OUT  write a built-in model (zoo:NAME) as an ONNX file OUT\n"
               "  drain MODEL     CUDA: how fast a running elastic kernel leaves the GPU\n"
               "                  after the yield word is set (preemption latency)\n"
               "  steps MODEL..   CUDA: per-step kernel time, plain vs elastic (overhead)\n"
               "  tune MODEL..    measure the elastic kernels' design space, write a profile\n\n"
               "MODEL is a path to an .onnx file or zoo:NAME (see `miriam zoo`).\n"
               "`miriam COMMAND --help` describes each command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cli_error("no command given");
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("miriam %d.%d.%d\n", MR_VERSION_MAJOR, MR_VERSION_MINOR, MR_VERSION_PATCH);
        return 0;
    }
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "zoo") == 0) return cmd_zoo(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0) return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "drain") == 0) return cmd_drain(argc - 1, argv + 1);
    if (strcmp(cmd, "steps") == 0) return cmd_steps(argc - 1, argv + 1);
    if (strcmp(cmd, "tune") == 0) return cmd_tune(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cmd_compare(argc - 1, argv + 1);
    cli_error("unknown command '%s'", cmd);
    usage(stderr);
    return 2;
}
