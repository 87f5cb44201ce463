/* Operator definitions: what every op family (src/ops/<family>.c) provides.
 *
 * The elastic-kernel contract (DESIGN.md) on the CPU: a prepared node has a logical grid of
 * `n_blocks` logical blocks; `run_block(step, i, scratch)` computes logical block i and must
 *  - touch only the outputs that block i owns (blocks run concurrently, in any order, on any
 *    worker, and a step may be split into shards or preempted between blocks);
 *  - be short: a logical block is the unit of work and of preemption. Aim for roughly
 *    1-10 MFLOP (well under a millisecond on one CPU core) while keeping BLAS efficient, and
 *    for enough blocks (several per worker) to balance load on large layers;
 *  - use only `scratch` (node->scratch_bytes, per worker, 64-byte aligned, uninitialised) as
 *    temporary memory: no allocation, no locks, no I/O.
 *
 * Life of a node:
 *   init(g, node)      parse and validate attributes into node->params (once, at load time).
 *                      Unknown attributes are already rejected by the graph using op->attrs.
 *   infer(g, node)     set output dtypes and shapes from the inputs' (and constant inputs'
 *                      values where the op needs them: Reshape's shape, Slice's starts...).
 *   prepare(g, node)   set node->n_blocks, node->scratch_bytes, node->flops (and, if needed,
 *                      node->n_phases, node->workspace_bytes); may precompute into params
 *                      (tiling, packed weights). Called after the passes; may be called
 *                      again (it must not leak what an earlier call set up).
 *   run_block(step, i, scratch)   the kernel body for logical block i.
 *
 * Phases: an op whose work has sequential dependencies (LSTM/GRU over time) sets n_phases > 1.
 * The executor runs phase 0's n_blocks blocks, waits for all of them, then phase 1's, ...;
 * run_block receives the global index i in [0, n_phases * n_blocks): phase = i / n_blocks.
 * Blocks of one phase are independent; data flows between phases through outputs or the
 * step's workspace.
 */
#ifndef MR_OPS_OP_H
#define MR_OPS_OP_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "graph/ir.h"

#define MR_MAX_IO 16

/* Op flags */
enum {
    MR_OP_FUSE_ACT = 1 << 0,   /* the kernel applies node->act in its epilogue */
    MR_OP_VIEW = 1 << 1,       /* output 0 is input 0 reinterpreted (Reshape, Flatten, ...):
                                  the planner aliases them and the step is skipped */
    MR_OP_SHAPE_ONLY = 1 << 2, /* reads only input shapes, never data: always folded (Shape) */
    MR_OP_NO_FOLD = 1 << 3,    /* never constant-folded */
    MR_OP_CUSTOM = 1 << 4,     /* a registered custom operator (ops/custom.h): accepts the
                                  attributes its `attrs` lists, or any when that is NULL */
    MR_OP_CONCAT = 1 << 5,     /* output 0 is the inputs one after another along an axis
                                  (mr_concat_axis): where that makes each input a contiguous
                                  piece of it, the planner places the inputs there and the
                                  step is skipped (graph/memplan.c) */
};

/* A bound tensor: shape/dtype from the graph, data in the arena or in constant storage. */
typedef struct mr_tview {
    void *data; /* NULL for an omitted optional input/output */
    mr_dtype dtype;
    int ndim;
    const int64_t *dims;
    int64_t numel;
} mr_tview;

/* One kernel step bound to memory: what run_block sees. */
typedef struct mr_step {
    const struct mr_op_def *op;
    const mr_node *node; /* params, act, attributes, n_blocks, n_phases */
    int n_in, n_out;
    mr_tview in[MR_MAX_IO];
    mr_tview out[MR_MAX_IO];
    void *workspace; /* node->workspace_bytes, 64-byte aligned, uninitialised at phase 0 */
} mr_step;

typedef struct mr_op_def {
    const char *name; /* ONNX op_type */
    int min_in, max_in, min_out, max_out;
    unsigned flags;
    const char *const *attrs; /* NULL-terminated list of accepted attribute names (may be NULL
                                 for none) */
    mr_status (*init)(mr_graph *g, mr_node *n, mr_err *err);           /* may be NULL */
    mr_status (*infer)(mr_graph *g, mr_node *n, mr_err *err);          /* required */
    mr_status (*prepare)(mr_graph *g, mr_node *n, mr_err *err);        /* required */
    void (*run_block)(const mr_step *s, int64_t block, void *scratch); /* required */
    void (*free_params)(void *params);                                 /* NULL: free() */
} mr_op_def;

/* Registry (src/ops/registry.c): the op for an ONNX op_type in the default domain, or NULL. */
const mr_op_def *mr_op_find(const char *op_type);
/* All registered ops, NULL-terminated (for listing supported operators). */
const mr_op_def *const *mr_op_all(void);

/* ---- helpers for op implementations (src/ops/op_util.c) ---- */

/* Attribute getters with defaults; a present attribute of the wrong type is an error. */
mr_status mr_attr_get_int(const mr_node *n, const char *name, int64_t def, int64_t *out,
                          mr_err *err);
mr_status mr_attr_get_float(const mr_node *n, const char *name, float def, float *out, mr_err *err);
/* Copies up to `cap` ints; *count = number present (0 if absent). More than cap: error. */
mr_status mr_attr_get_ints(const mr_node *n, const char *name, int64_t *out, int cap, int *count,
                           mr_err *err);
mr_status mr_attr_get_floats(const mr_node *n, const char *name, float *out, int cap, int *count,
                             mr_err *err);
/* String attribute or `def`; the returned pointer is owned by the node. */
mr_status mr_attr_get_string(const mr_node *n, const char *name, const char *def, const char **out,
                             mr_err *err);

/* "int", "floats", ...: an attribute type as messages name it. */
const char *mr_attr_type_name(mr_attr_type t);

/* Standard error for an attribute value the op does not support. */
mr_status mr_err_attr(mr_err *err, const mr_node *n, const char *attr, const char *why);
/* Standard error for bad input shapes: "Conv node 'x': <why>". */
mr_status mr_err_node(mr_err *err, mr_status st, const mr_node *n, const char *fmt, ...)
    MR_PRINTF(4, 5);

/* The i-th input/output descriptor of a node, or NULL if absent/omitted. */
mr_tensor_desc *mr_node_input(mr_graph *g, const mr_node *n, int i);
mr_tensor_desc *mr_node_output(mr_graph *g, const mr_node *n, int i);
/* Requires input i to be a constant of the given dtype (MR_DTYPE_INVALID = any); error names
 * the node and `what` otherwise. */
mr_status mr_node_const_input(mr_graph *g, const mr_node *n, int i, mr_dtype dtype,
                              const char *what, const mr_tensor_desc **out, mr_err *err);
/* Reads an int64/int32 constant 1-D (or scalar) tensor into out[cap]; *count = elements. */
mr_status mr_const_ints(const mr_tensor_desc *t, int64_t *out, int cap, int *count, mr_err *err);

/* Sets an output's dtype and shape. */
void mr_set_shape(mr_tensor_desc *t, mr_dtype dtype, int ndim, const int64_t *dims);

/* Normalises a possibly negative axis against rank; error if out of range. */
mr_status mr_norm_axis(const mr_node *n, int64_t axis, int rank, int *out, mr_err *err);

/* Numpy-style multidirectional broadcast of two shapes. */
mr_status mr_broadcast_shape(const mr_node *n, int na, const int64_t *a, int nb, const int64_t *b,
                             int *nout, int64_t *out, mr_err *err);

/* Applies an activation in place to n floats. */
void mr_act_apply(const mr_act *act, float *x, int64_t n);
/* Parses the activation of a unary op node (Relu, Clip, LeakyRelu, Sigmoid, Tanh); returns 0
 * if the node is not a (constant-parameter) activation. */
int mr_act_from_node(mr_graph *g, const mr_node *n, mr_act *out);

/* Splits [0, total) into ceil(total/chunk) pieces: block b covers [*begin, *end). */
static inline void mr_block_range(int64_t total, int64_t chunk, int64_t b, int64_t *begin,
                                  int64_t *end) {
    int64_t s = b * chunk, e = s + chunk;
    *begin = s < total ? s : total;
    *end = e < total ? e : total;
}
static inline int64_t mr_div_up(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/* Reference evaluation of one node on the host, single-threaded: looks up the op (if
 * node->op is NULL), checks attribute names, runs init (if params is NULL), infer, prepare,
 * allocates the outputs as constants (owned data) and runs every logical block of every
 * phase, in order, with one scratch buffer. Used by constant folding and by op unit tests.
 * All present inputs must have data. */
mr_status mr_node_eval(mr_graph *g, int node, mr_err *err);

/* Looks up n->op (built-in ops of the default domain first, then the custom operators of
 * g->custom; unknown op or foreign domain: MR_ERR_UNSUPPORTED naming the node), checks
 * input/output counts and attribute names, and runs op->init once. */
mr_status mr_node_bind_op(mr_graph *g, mr_node *n, mr_err *err);

#endif
