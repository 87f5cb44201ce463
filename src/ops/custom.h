/* Custom operators (the public "Custom operators" API of miriam.h): the per-runtime registry
 * and the adapter that makes a registered operator look like a built-in op family.
 *
 * Each registered operator becomes an mr_op_def (flag MR_OP_CUSTOM) whose callbacks forward
 * to the user's; a node bound to it keeps the user's plan in node->params
 * (mr_custom_node_params), which the CUDA adapter (src/cuda/custom.c) turns into an
 * mr_cuda_plan. Entries are allocated one by one and live until the runtime is destroyed, so
 * the graphs of its models may point at them. */
#ifndef MR_OPS_CUSTOM_H
#define MR_OPS_CUSTOM_H

#include <pthread.h>

#include "cuda/cuda_op.h"
#include "ops/op.h"

typedef struct mr_custom_entry {
    mr_op_def def;   /* what nodes bind to; def.name is "domain.op_type" */
    mr_custom_op op; /* the user's descriptor; its strings are the entry's copies */
    char **attrs;    /* NULL-terminated copy of op.attrs (NULL: any attribute) */
    /* The kernels as the CUDA backend sees them (the plans point at these). */
    mr_cuda_variant variants[MR_CUDA_MAX_VARIANTS];
} mr_custom_entry;

typedef struct mr_custom_registry {
    pthread_mutex_t mu; /* guards n, cap, entries: models load while others register */
    int n, cap;
    mr_custom_entry **entries;
} mr_custom_registry;

/* What a bound custom node keeps in node->params. */
typedef struct mr_custom_node_params {
    const mr_custom_entry *entry;
    mr_custom_plan plan; /* from the last prepare */
} mr_custom_node_params;

void mr_custom_registry_init(mr_custom_registry *r);
/* Calls each operator's destroy callback and frees the entries. */
void mr_custom_registry_clear(mr_custom_registry *r);

/* The operator registered for (domain, op_type), or NULL ("ai.onnx" is the default domain). */
const mr_op_def *mr_custom_find(mr_custom_registry *r, const char *domain, const char *op_type);
/* 1 if some registered operator is of `domain` (the ONNX importer accepts its nodes). */
int mr_custom_has_domain(mr_custom_registry *r, const char *domain);

/* The entry behind a node bound to a custom operator, or NULL if the node's op is not one. */
const mr_custom_entry *mr_custom_node_entry(const mr_node *n);

#endif
