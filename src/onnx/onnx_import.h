/* ONNX ModelProto -> graph IR (protobuf-c bindings generated from Debian's onnx.proto). */
#ifndef MR_ONNX_IMPORT_H
#define MR_ONNX_IMPORT_H

#include <stddef.h>

#include "core/err.h"
#include "graph/ir.h"

/* Parses a serialised ModelProto into a new (not yet finalised) graph. Symbolic or unknown
 * input dimensions become `default_dim`. */
mr_status mr_onnx_import(const void *data, size_t size, int64_t default_dim, mr_graph **out,
                         mr_err *err);
/* The same, also accepting the nodes of every domain that a custom operator of `custom`
 * (may be NULL) belongs to; their domain is kept for binding (mr_node_bind_op). */
struct mr_custom_registry;
mr_status mr_onnx_import_custom(const void *data, size_t size, int64_t default_dim,
                                struct mr_custom_registry *custom, mr_graph **out, mr_err *err);

/* Reads a whole file into memory (bounded by MR_MAX_ALLOC); caller frees *data. */
mr_status mr_read_file(const char *path, void **data, size_t *size, mr_err *err);

/* Parses a serialised TensorProto (the input_N.pb / output_N.pb files of ONNX test data) into
 * a tensor whose data is malloc()ed (release with mr_tensor_free_data). *name (may be NULL) is
 * set to a malloc()ed copy of the tensor's name. */
mr_status mr_onnx_read_tensor(const void *data, size_t size, mr_tensor *out, char **name,
                              mr_err *err);

#endif
