/* Static memory plan: every activation (and per-step workspace) gets an offset in one arena,
 * assigned by liveness so tensors whose lifetimes do not overlap share memory. View ops
 * (Reshape, Flatten, ...) alias their input and are not executed. */
#ifndef MR_GRAPH_MEMPLAN_H
#define MR_GRAPH_MEMPLAN_H

#include <stddef.h>

#include "graph/ir.h"

#define MR_ARENA_ALIGN 64

typedef struct mr_plan {
    int n_steps;
    int *steps;          /* node indices in execution order */
    unsigned char *skip; /* 1: an aliased view, nothing to execute */
    size_t *ws_offset;   /* arena offset of each step's workspace (if any) */
    size_t arena_bytes;
    size_t scratch_bytes; /* largest per-worker scratch of any step */
    size_t largest;       /* largest single activation */
} mr_plan;

/* Plans g (finalised). Writes tensor offsets/alias_of into g->tensors. */
mr_status mr_plan_build(mr_graph *g, mr_plan *plan, mr_err *err);
void mr_plan_free(mr_plan *plan);

/* Tensor t lives in the arena (an activation or graph input, not a constant). */
int mr_plan_in_arena(const mr_graph *g, int t);

#endif
