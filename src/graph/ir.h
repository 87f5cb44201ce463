/* Graph IR: tensors and nodes, referred to by index (never by pointer, since the arrays grow).
 *
 * A graph is built by the ONNX importer or the zoo builder, then finalised:
 *   mr_graph_finalize():  topological order (cycle / dangling-input errors), op lookup and
 *                         attribute parsing (op->init), shape inference (op->infer) with
 *                         constant folding, then the optimisation passes and a second
 *                         shape inference.
 * Constants (initializers, folded results) own their data in tensor->data; activations get an
 * offset in the execution arena from the memory planner (graph/memplan.h).
 */
#ifndef MR_GRAPH_IR_H
#define MR_GRAPH_IR_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "miriam.h"

struct mr_op_def;

typedef enum mr_attr_type {
    MR_ATTR_INT,
    MR_ATTR_FLOAT,
    MR_ATTR_STRING,
    MR_ATTR_INTS,
    MR_ATTR_FLOATS,
    MR_ATTR_STRINGS,
    MR_ATTR_TENSOR,
    MR_ATTR_OTHER, /* graphs, sparse tensors, type protos: kept only to be named in errors */
} mr_attr_type;

typedef struct mr_attr {
    char *name;
    mr_attr_type type;
    int64_t i;
    float f;
    char *s;        /* STRING */
    int n;          /* element count of INTS / FLOATS / STRINGS */
    int64_t *ints;  /* INTS */
    float *floats;  /* FLOATS */
    char **strings; /* STRINGS */
    int tensor;     /* TENSOR: index of an (unnamed, constant) tensor in the graph */
} mr_attr;

/* Activation fused into the epilogue of a producer (Conv, Gemm, MatMul) or run on its own
 * (Relu, Clip, ...). */
typedef enum mr_act_kind {
    MR_ACT_NONE = 0,
    MR_ACT_RELU,
    MR_ACT_CLIP, /* min(max(x, alpha), beta) */
    MR_ACT_LEAKY_RELU,
    MR_ACT_SIGMOID,
    MR_ACT_TANH,
} mr_act_kind;

typedef struct mr_act {
    mr_act_kind kind;
    float alpha, beta;
} mr_act;

typedef struct mr_tensor_desc {
    char *name;
    mr_dtype dtype;
    int ndim;                  /* -1 while unknown */
    int64_t dims[MR_MAX_DIMS]; /* every dim >= 0 once inferred */
    void *data;                /* constant data (owned, mr_malloc_aligned), else NULL */
    int producer;              /* node index, -1 for graph inputs and constants */
    int is_input, is_output;   /* graph input / output */
    int n_consumers;           /* live nodes reading it (recomputed by mr_graph_link) */
    /* memory planner results */
    int alias_of;     /* tensor whose storage this one shares (views, Concat inputs), else -1 */
    size_t alias_off; /* byte offset of this tensor in alias_of's storage (Concat inputs) */
    size_t offset;    /* byte offset in the arena (activations only) */
} mr_tensor_desc;

typedef struct mr_node {
    char *name;
    char *op_type;
    char *domain; /* "" for the default ONNX domain */
    const struct mr_op_def *op;
    int n_in, n_out;
    int *in;  /* tensor indices; -1 for an omitted optional input */
    int *out; /* tensor indices; -1 for an omitted optional output */
    int n_attrs;
    mr_attr *attrs;
    void *params; /* parsed by op->init, freed by op->free_params (or free()) */
    mr_act act;   /* fused activation */
    char *label;  /* op type with fusions ("Conv+Relu"), for reports; NULL = op_type */
    int dead;     /* removed by a pass; skipped everywhere */
    /* filled by op->prepare */
    int n_phases;           /* sequential phases (default 1; e.g. one per RNN time step) */
    int64_t n_blocks;       /* logical blocks of each phase */
    size_t scratch_bytes;   /* per-worker scratch the kernel needs (not kept between blocks) */
    size_t workspace_bytes; /* per-step memory kept across the blocks and phases of one
                               execution (e.g. RNN cell state); planned in the arena */
    int64_t flops;
} mr_node;

typedef struct mr_graph {
    int opset; /* version of the default ONNX domain */
    int n_tensors, cap_tensors;
    mr_tensor_desc *tensors;
    int n_nodes, cap_nodes;
    mr_node *nodes;
    int n_inputs, n_outputs;
    int *inputs, *outputs; /* tensor indices */
    int *order;            /* live nodes in execution order (after mr_graph_finalize) */
    int n_order;
    int64_t n_params; /* counted before the passes, see mr_model_stats */
    int64_t default_dim;
    /* Custom operators of the runtime loading the graph (ops/custom.h), looked up when nodes
     * are bound; NULL: built-in ops only. Not owned. */
    struct mr_custom_registry *custom;
} mr_graph;

mr_graph *mr_graph_create(mr_err *err);
void mr_graph_destroy(mr_graph *g);

/* Adds a tensor (name may be NULL for an anonymous one; names must be unique). Returns its
 * index or -1 on error. */
int mr_graph_add_tensor(mr_graph *g, const char *name, mr_err *err);
/* Index of the tensor named `name`, or -1. */
int mr_graph_find_tensor(const mr_graph *g, const char *name);
/* Adds a constant tensor; `data` (size numel * dtype size) is copied. */
int mr_graph_add_const(mr_graph *g, const char *name, mr_dtype dtype, int ndim, const int64_t *dims,
                       const void *data, mr_err *err);
/* Adds a node; `in`/`out` are copied. Attributes are added with mr_node_add_attr(). Returns
 * the node index or -1. */
int mr_graph_add_node(mr_graph *g, const char *name, const char *op_type, int n_in, const int *in,
                      int n_out, const int *out, mr_err *err);
/* Appends an attribute; strings/arrays are copied. Returns a pointer valid until the next
 * attribute is added to the same node, or NULL on error. */
mr_attr *mr_node_add_attr(mr_graph *g, int node, const char *name, mr_attr_type type, mr_err *err);
mr_status mr_node_set_ints(mr_graph *g, int node, const char *name, int n, const int64_t *v,
                           mr_err *err);
mr_status mr_node_set_floats(mr_graph *g, int node, const char *name, int n, const float *v,
                             mr_err *err);
mr_status mr_node_set_int(mr_graph *g, int node, const char *name, int64_t v, mr_err *err);
mr_status mr_node_set_float(mr_graph *g, int node, const char *name, float v, mr_err *err);
mr_status mr_node_set_string(mr_graph *g, int node, const char *name, const char *v, mr_err *err);

/* Attribute lookup by name; NULL if absent. */
const mr_attr *mr_node_attr(const mr_node *n, const char *name);

/* Runs everything from ordering to the passes (see top of file). */
mr_status mr_graph_finalize(mr_graph *g, int optimize, mr_err *err);

/* Recomputes producers / consumer counts from the live nodes. */
void mr_graph_link(mr_graph *g);
/* Topological order of the live nodes into g->order; MR_ERR_GRAPH on a cycle. */
mr_status mr_graph_sort(mr_graph *g, mr_err *err);

/* Element count / byte size of a tensor with a known shape (-1 / 0 on overflow). */
int64_t mr_desc_numel(const mr_tensor_desc *t);
size_t mr_desc_bytes(const mr_tensor_desc *t);
/* MR_OK if a tensor of known shape fits in one allocation (MR_MAX_ALLOC bytes); otherwise
 * MR_ERR_UNSUPPORTED with a message naming it. Shapes come from files and from shape
 * inference on them: a crafted one must neither overflow a byte count (and be planned as a
 * tiny buffer) nor ask for terabytes. */
mr_status mr_desc_check_size(const mr_tensor_desc *t, mr_err *err);
/* "[1,3,224,224]" into buf. */
const char *mr_dims_str(int ndim, const int64_t *dims, char *buf, size_t size);

/* Replaces graph input `input_index` by a constant holding `value` (copied; dtype and shape
 * must match the declared input, whose unknown dims take the value's). The input is removed
 * from g->inputs, so later inputs shift down by one. Used by tests whose data sets feed
 * values (Reshape's shape, Gather's indices) that this runtime requires to be constant. */
mr_status mr_graph_bind_input_const(mr_graph *g, int input_index, const mr_tensor *value,
                                    mr_err *err);

/* Frees attributes, params and arrays of one node (used by passes that delete nodes). */
void mr_node_clear(mr_node *n);

#endif
