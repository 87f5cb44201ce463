/* miriam export zoo:NAME OUT.onnx: writes a zoo model as an ONNX file, so the same network
 * (same weights) can be run by other runtimes or inspected in a viewer. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_export(int argc, char **argv) {
    const char *spec = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: miriam export zoo:NAME OUT.onnx\n\n"
                   "Writes a built-in model as an ONNX file (IR version 8, opset 13): the graph\n"
                   "as torch.onnx exports the PyTorch model (BatchNormalization, Relu, ... not\n"
                   "fused), with the zoo's weights as initializers named like the state_dict.\n"
                   "Other runtimes (onnxruntime, PyTorch's onnx loader) and viewers (netron)\n"
                   "can then run or show the same network.\n");
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return cli_error("export: unknown option '%s'", argv[i]);
        if (!spec)
            spec = argv[i];
        else if (!out)
            out = argv[i];
        else
            return cli_error("export: unexpected argument '%s' (see miriam export --help)",
                             argv[i]);
    }
    if (!spec || !out) return cli_error("export: expects zoo:NAME and an output .onnx path");
    if (strncmp(spec, "zoo:", 4) != 0)
        return cli_error("export: '%s' is not a zoo model (expected zoo:NAME, see miriam zoo)",
                         spec);
    char err[1024];
    if (mr_zoo_export_onnx(spec + 4, out, err, sizeof err) != MR_OK) return cli_error("%s", err);
    printf("wrote %s (%s)\n", out, spec);
    return 0;
}
