/* Writes the example model (model.h) to a file: 64 x 256 inputs, 256 -> 1024 fully connected,
 * then ScaledTanh(alpha = 1.7159, beta = 2/3) over 16 logical blocks. Weights are
 * deterministic pseudo-random values.
 *
 *   miriam_example_make_model scaled_tanh.onnx */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.onnx\n", argv[0]);
        return 2;
    }
    enum { BATCH = 64, K = 256, N = 1024 };
    static float w[K * N], b[N];
    unsigned long long s = 12345;
    for (int i = 0; i < K * N + N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float v = ((float)(s >> 40) / (float)(1 << 24) - 0.5f) * 0.125f; /* [-1/16, 1/16) */
        if (i < K * N)
            w[i] = v;
        else
            b[i - K * N] = v;
    }
    example_model m = {BATCH, K, N, w, b, "com.example", "ScaledTanh", 1.7159f, 2.0f / 3.0f};
    size_t size = 0;
    uint8_t *buf = example_model_build(&m, &size);
    FILE *f = buf ? fopen(argv[1], "wb") : NULL;
    int ok = f && fwrite(buf, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = 0;
    free(buf);
    if (!ok) {
        fprintf(stderr, "%s: cannot write %s\n", argv[0], argv[1]);
        return 1;
    }
    printf("wrote %s (%zu bytes)\n", argv[1], size);
    return 0;
}
