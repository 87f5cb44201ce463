/* Shared pieces of the miriam command-line tool. */
#ifndef MIRIAM_CLI_H
#define MIRIAM_CLI_H

#include "miriam.h"

#define CLI_MAX_OP_LIBRARIES 16

typedef struct cli_common {
    mr_backend_kind backend;
    int threads;        /* 0 = default */
    int sms;            /* CUDA: SMs of the green-context partition; 0 = the whole GPU */
    int gpu;            /* CUDA device ordinal */
    int plain_launch;   /* CUDA: --launch plain (ordinary grids instead of elastic kernels) */
    int no_graphs;      /* CUDA: --no-graphs (launch every kernel instead of replaying a graph) */
    int no_pdl;         /* CUDA: --no-pdl (no programmatic dependent launch) */
    int persistent_rnn; /* CUDA: mr_runtime_params.persistent_recurrence: -1 (default), 0
                           (--no-persistent-rnn), 1 (--persistent-rnn) */
    mr_precision precision; /* CUDA: --precision fp32|tf32 */
    int verbose;
    /* --op-library PATH (repeatable): shared libraries of custom operators */
    const char *op_libraries[CLI_MAX_OP_LIBRARIES];
    int n_op_libraries;
} cli_common;

void cli_common_init(cli_common *c);
/* Parses --device/--threads/--sms/--gpu/--launch/--precision/--no-graphs/--no-pdl/
 * --persistent-rnn/--verbose/--op-library
 * at argv[*i]: -1 consumed, 1 error, 2 not common. */
int cli_common_option(cli_common *c, int argc, char **argv, int *i);
/* Creates the runtime of the options, with the custom operators of every --op-library
 * registered (cli_load_op_libraries). */
int cli_runtime(const cli_common *c, mr_runtime **rt);
/* dlopen()s each --op-library and calls its miriam_register_ops(rt). Prints the error (naming
 * the file) and returns 1 on failure. The libraries stay loaded until the process exits: the
 * runtime calls into them until it is destroyed. */
int cli_load_op_libraries(const cli_common *c, mr_runtime *rt);
/* Prints the help of --op-library, its name padded to `width` columns. */
void cli_op_library_help(int width);
/* The backend as tables and reports name it: "cpu", "cuda", "cuda/16sm/plain" (SM partition
 * and launch mode appended on CUDA; "/nographs" when CUDA graphs are off, "/nopdl" without
 * programmatic dependent launch). */
const char *cli_backend_label(const cli_common *c, const mr_runtime *rt, char *buf, size_t size);
/* The same label from the backend kind a run reports. */
void cli_backend_label_kind(const cli_common *c, mr_backend_kind k, char *buf, size_t size);
/* "plain" or "elastic" on CUDA, "-" on other backends (the option does not apply). */
const char *cli_launch_name(const cli_common *c, const mr_runtime *rt);
/* Prints the help of the CUDA options every command takes (--sms, --gpu, --launch,
 * --no-graphs), option names padded to `width` columns. */
void cli_cuda_options_help(int width);

/* Prints "miriam: error: ..." to stderr; returns 1. */
int cli_error(const char *fmt, ...);
int cli_parse_int(const char *opt, const char *s, long long lo, long long hi, long long *out);
int cli_parse_float(const char *opt, const char *s, double *out);
double cli_now_ms(void);
/* Sorts v in place; nearest-rank percentile. */
double cli_percentile(double *v, int n, double p);

/* Allocates a tensor matching an input/output description (data zeroed). */
int cli_alloc_tensor(const mr_tensor_info *info, mr_tensor *t);
/* Fills a float tensor with deterministic values in [-1, 1) from `seed`. */
void cli_fill_random(mr_tensor *t, unsigned long long seed);
/* A model's tensors: in[i] for each input, filled by cli_fill_random(seed + i), and (out not
 * NULL) out[i] for each output, zeroed. Returns 1 (reported) on failure; whatever was
 * allocated has its data set, for the caller to free as on success. */
int cli_model_tensors(const mr_model *m, unsigned long long seed, mr_tensor *in, mr_tensor *out);

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_drain(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_steps(int argc, char **argv);

#endif
