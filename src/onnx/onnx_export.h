/* Graph IR -> ONNX ModelProto file (protobuf-c bindings generated from Debian's onnx.proto). */
#ifndef MR_ONNX_EXPORT_H
#define MR_ONNX_EXPORT_H

#include "core/err.h"
#include "graph/ir.h"

/* Writes `g` to `path` as an ONNX model: IR version 8, the default domain at g->opset,
 * producer "miriam"; the graph named `graph_name` with `doc` (may be NULL) as its doc string.
 * Every live node is written as built (names, attributes of every supported type; a TENSOR
 * attribute carries its constant's data), every constant as a named initializer (raw_data,
 * little-endian), the graph inputs and outputs with their dtypes and static shapes.
 *
 * `g` must not have been finalised yet: the exporter finalises it without optimisation
 * (mr_graph_finalize(g, 0)) to learn the output shapes, so on return it is finalised and must
 * not be finalised again. Nodes folded by that are still written as they were built.
 *
 * Tensor data is streamed from the graph to the file, not copied. On failure the partial file
 * is removed. Errors: MR_ERR_IO (cannot create or write the file), MR_ERR_UNSUPPORTED
 * (attribute types, domains or sizes ONNX files without external data cannot carry), and those
 * of mr_graph_finalize. */
mr_status mr_onnx_export(mr_graph *g, const char *graph_name, const char *doc, const char *path,
                         mr_err *err);

#endif
