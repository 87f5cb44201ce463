/* miriam info MODEL: what a model needs and does. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_tensor(const char *kind, const mr_tensor_info *t) {
    printf("  %-6s %-24s %-8s [", kind, t->name, mr_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++) printf(d ? ",%lld" : "%lld", (long long)t->dims[d]);
    printf("]\n");
}

int cmd_info(int argc, char **argv) {
    cli_common c;
    cli_common_init(&c);
    c.backend = MR_BACKEND_CPU;
    const char *model_spec = NULL;
    int steps = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: miriam info MODEL [--steps] [--device D] [--sms N] [--verbose]\n\n"
                   "Prints the model's inputs and outputs, parameter count, FLOPs per inference,\n"
                   "weight memory and the planned activation arena. --steps lists every kernel\n"
                   "step of the execution plan with its logical grid.\n\n"
                   "  --device D     cpu (default), cuda or auto: the backend that loads the\n"
                   "                 model\n"
                   "  --threads N    CPU worker threads\n");
            cli_cuda_options_help(15);
            cli_op_library_help(15);
            return 0;
        }
        int r = cli_common_option(&c, argc, argv, &i);
        if (r == 1) return 1;
        if (r == -1) continue;
        if (strcmp(argv[i], "--steps") == 0)
            steps = 1;
        else if (argv[i][0] == '-')
            return cli_error("info: unknown option '%s'", argv[i]);
        else if (!model_spec)
            model_spec = argv[i];
        else
            return cli_error("info: more than one MODEL given");
    }
    if (!model_spec) return cli_error("info: no MODEL given (a .onnx path or zoo:NAME)");
    mr_runtime *rt;
    if (cli_runtime(&c, &rt)) return 1;
    mr_model *m;
    if (mr_model_load(rt, model_spec, NULL, &m) != MR_OK) {
        cli_error("%s", mr_runtime_last_error(rt));
        mr_runtime_destroy(rt);
        return 1;
    }
    mr_model_stats s;
    mr_model_get_stats(m, &s);
    printf("model: %s\n", model_spec);
    for (int i = 0; i < mr_model_n_inputs(m); i++) {
        mr_tensor_info t;
        mr_model_input_info(m, i, &t);
        print_tensor("input", &t);
    }
    for (int i = 0; i < mr_model_n_outputs(m); i++) {
        mr_tensor_info t;
        mr_model_output_info(m, i, &t);
        print_tensor("output", &t);
    }
    printf("parameters:        %lld\n", (long long)s.n_params);
    printf("FLOPs:             %.3f G per inference\n", (double)s.flops / 1e9);
    printf("weights:           %.2f MiB\n", (double)s.weight_bytes / (1024.0 * 1024.0));
    if (s.device_bytes)
        printf("device memory:     %.2f MiB (weights + arena + workspaces on the GPU)\n",
               (double)s.device_bytes / (1024.0 * 1024.0));
    printf("activation arena:  %.2f MiB (largest tensor %.2f MiB)\n",
           (double)s.arena_bytes / (1024.0 * 1024.0), (double)s.largest_tensor / (1024.0 * 1024.0));
    printf("nodes:             %d in the graph, %d kernel steps after passes\n", s.n_nodes,
           s.n_steps);
    printf("logical blocks:    %lld per inference\n", (long long)s.n_blocks);
    if (steps) {
        printf("\n%4s  %-36s %-28s %10s %12s\n", "step", "op", "output", "blocks", "MFLOP");
        for (int i = 0; i < mr_model_n_steps(m); i++) {
            mr_step_info si;
            mr_model_step_info(m, i, &si);
            printf("%4d  %-36s %-28s %10lld %12.3f\n", i, si.op, si.output, (long long)si.n_blocks,
                   (double)si.flops / 1e6);
        }
    }
    mr_model_destroy(m);
    mr_runtime_destroy(rt);
    return 0;
}
