/* The example model, built in memory with the ONNX protobuf bindings:
 *
 *   X [batch, k] -> Gemm(X, W [k, n], B [n]) -> H -> ScaledTanh(alpha, beta) -> Y [batch, n]
 *
 * The custom node's domain and op type are parameters, so tests can also build models of
 * operators nobody registered. */
#ifndef EXAMPLE_MODEL_H
#define EXAMPLE_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct example_model {
    int64_t batch, k, n;
    const float *w; /* k x n, row-major */
    const float *b; /* n */
    const char *domain, *op_type;
    float alpha, beta;
} example_model;

/* The serialised ModelProto (malloc()ed; free() it), or NULL when out of memory. */
uint8_t *example_model_build(const example_model *m, size_t *size);

#endif
