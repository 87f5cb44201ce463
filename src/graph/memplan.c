#include "graph/memplan.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"
#include "ops/transform.h"

typedef struct buf {
    size_t size, offset;
    int first, last; /* step positions; -1 = before the first step */
    int tensor;      /* root tensor, or -1 for a workspace */
    int step;        /* workspace owner step */
} buf;

int mr_plan_in_arena(const mr_graph *g, int t) {
    const mr_tensor_desc *d = &g->tensors[t];
    return !d->data && (d->producer >= 0 || d->is_input);
}

static int root_of(const mr_graph *g, int t) {
    while (g->tensors[t].alias_of >= 0) t = g->tensors[t].alias_of;
    return t;
}

static int is_graph_output(const mr_graph *g, int t) {
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == t) return 1;
    return 0;
}

/* A Concat whose inputs can be placed inside its output, one after another, so that their
 * producers write the concatenation and nothing has to copy it: every dimension before the
 * axis is 1 (each input is then one contiguous piece of the output: batch-1 channel
 * concatenation, SqueezeNet's and Inception's), each input is an activation this plan
 * places (produced by a step, not a graph input or output, not already a view or a piece
 * of another Concat, listed once), and every piece starts on the arena's alignment, which
 * kernels may rely on for vector access. */
static int concat_in_place(const mr_graph *g, const mr_node *n) {
    if (n->n_out < 1 || n->out[0] < 0 || !mr_plan_in_arena(g, n->out[0])) return 0;
    const mr_tensor_desc *o = &g->tensors[n->out[0]];
    if (o->is_input || o->alias_of >= 0) return 0;
    const int axis = mr_concat_axis(n);
    for (int d = 0; d < axis; d++)
        if (o->dims[d] != 1) return 0;
    size_t off = 0;
    for (int k = 0; k < n->n_in; k++) {
        const int t = n->in[k];
        if (t < 0 || t == n->out[0] || !mr_plan_in_arena(g, t)) return 0;
        const mr_tensor_desc *d = &g->tensors[t];
        if (d->is_input || d->producer < 0 || d->alias_of >= 0 || is_graph_output(g, t)) return 0;
        for (int j = 0; j < k; j++)
            if (n->in[j] == t) return 0;
        if (off % MR_ARENA_ALIGN) return 0;
        off += mr_desc_bytes(d);
    }
    return 1;
}

/* Byte offset of t in its root's storage. */
static size_t offset_in_root(const mr_graph *g, int t) {
    size_t off = 0;
    for (; g->tensors[t].alias_of >= 0; t = g->tensors[t].alias_of) off += g->tensors[t].alias_off;
    return off;
}

static int cmp_size_desc(const void *a, const void *b) {
    const buf *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->first - y->first;
}

static size_t align_up(size_t v) {
    return (v + MR_ARENA_ALIGN - 1) & ~(size_t)(MR_ARENA_ALIGN - 1);
}

void mr_plan_free(mr_plan *p) {
    if (!p) return;
    free(p->steps);
    free(p->skip);
    free(p->ws_offset);
    memset(p, 0, sizeof *p);
}

mr_status mr_plan_build(mr_graph *g, mr_plan *p, mr_err *err) {
    memset(p, 0, sizeof *p);
    mr_graph_link(g);
    int ns = g->n_order, nt = g->n_tensors;
    p->n_steps = ns;
    p->steps = mr_malloc_array((size_t)(ns ? ns : 1), sizeof(int), "plan", err);
    p->skip = mr_calloc((size_t)(ns ? ns : 1), 1, "plan", err);
    p->ws_offset = mr_calloc((size_t)(ns ? ns : 1), sizeof(size_t), "plan", err);
    int *first = mr_malloc_array((size_t)(nt ? nt : 1), sizeof(int), "plan", err);
    int *last = mr_malloc_array((size_t)(nt ? nt : 1), sizeof(int), "plan", err);
    buf *bufs = mr_malloc_array((size_t)(nt + ns + 1), sizeof(buf), "plan", err);
    if (!p->steps || !p->skip || !p->ws_offset || !first || !last || !bufs) {
        free(first);
        free(last);
        free(bufs);
        mr_plan_free(p);
        return err->status;
    }
    for (int t = 0; t < nt; t++) {
        g->tensors[t].alias_of = -1;
        g->tensors[t].alias_off = 0;
        g->tensors[t].offset = 0;
        first[t] = -1;
        last[t] = -1;
    }
    /* Views alias their input: the output shares its root's storage. The inputs of a Concat
     * that allows it (concat_in_place) alias pieces of its output instead. In step order, so
     * that a tensor is a view or a piece before a later Concat considers it. */
    for (int s = 0; s < ns; s++) {
        int ni = g->order[s];
        const mr_node *n = &g->nodes[ni];
        p->steps[s] = ni;
        if (n->scratch_bytes > p->scratch_bytes) p->scratch_bytes = n->scratch_bytes;
        if ((n->op->flags & MR_OP_VIEW) && n->in[0] >= 0 && n->out[0] >= 0 &&
            mr_plan_in_arena(g, n->in[0])) {
            g->tensors[n->out[0]].alias_of = root_of(g, n->in[0]);
            g->tensors[n->out[0]].alias_off = offset_in_root(g, n->in[0]);
            p->skip[s] = 1;
        } else if ((n->op->flags & MR_OP_CONCAT) && concat_in_place(g, n)) {
            size_t off = 0;
            for (int k = 0; k < n->n_in; k++) {
                mr_tensor_desc *d = &g->tensors[n->in[k]];
                d->alias_of = n->out[0];
                d->alias_off = off;
                off += mr_desc_bytes(d);
            }
            p->skip[s] = 1;
        }
    }
    /* Lifetimes of root buffers, in step positions: from the first step that writes the root
     * or a piece of it (a Concat's inputs are written before the Concat). */
    for (int s = 0; s < ns; s++) {
        const mr_node *n = &g->nodes[p->steps[s]];
        for (int k = 0; k < n->n_out; k++) {
            int t = n->out[k];
            if (t < 0 || p->skip[s] || !mr_plan_in_arena(g, t)) continue;
            t = root_of(g, t);
            if (first[t] < 0 || s < first[t]) first[t] = s;
            if (last[t] < s) last[t] = s;
        }
        for (int k = 0; k < n->n_in; k++) {
            int t = n->in[k];
            if (t < 0 || !mr_plan_in_arena(g, t)) continue;
            int r = root_of(g, t);
            if (last[r] < s) last[r] = s;
        }
    }
    int nb = 0;
    for (int t = 0; t < nt; t++) {
        const mr_tensor_desc *d = &g->tensors[t];
        if (!mr_plan_in_arena(g, t) || d->alias_of >= 0) continue;
        int f = d->is_input ? -1 : first[t], l = last[t];
        if (!d->is_input && f < 0) continue; /* produced by a dead node: unused */
        if (l < f) l = f;
        bufs[nb++] = (buf){align_up(mr_desc_bytes(d)), 0, f, l, t, -1};
        if (mr_desc_bytes(d) > p->largest) p->largest = mr_desc_bytes(d);
    }
    /* Graph outputs (and their roots) stay alive to the end of the run. */
    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->outputs[i];
        if (!mr_plan_in_arena(g, t)) continue;
        int r = root_of(g, t);
        for (int b = 0; b < nb; b++)
            if (bufs[b].tensor == r) bufs[b].last = ns;
    }
    for (int s = 0; s < ns; s++) {
        const mr_node *n = &g->nodes[p->steps[s]];
        if (n->workspace_bytes && !p->skip[s])
            bufs[nb++] = (buf){align_up(n->workspace_bytes), 0, s, s, -1, s};
    }
    /* Greedy by size: each buffer takes the lowest offset that does not overlap a placed
     * buffer whose lifetime intersects its own. */
    qsort(bufs, (size_t)nb, sizeof(buf), cmp_size_desc);
    size_t arena = 0;
    for (int b = 0; b < nb; b++) {
        size_t off = 0;
        int moved = 1;
        while (moved) {
            moved = 0;
            for (int o = 0; o < b; o++) {
                if (bufs[o].last < bufs[b].first || bufs[b].last < bufs[o].first) continue;
                if (off < bufs[o].offset + bufs[o].size && bufs[o].offset < off + bufs[b].size) {
                    off = bufs[o].offset + bufs[o].size;
                    moved = 1;
                }
            }
        }
        bufs[b].offset = off;
        if (off + bufs[b].size > arena) arena = off + bufs[b].size;
        if (bufs[b].tensor >= 0)
            g->tensors[bufs[b].tensor].offset = off;
        else
            p->ws_offset[bufs[b].step] = off;
    }
    for (int t = 0; t < nt; t++)
        if (g->tensors[t].alias_of >= 0)
            g->tensors[t].offset = g->tensors[root_of(g, t)].offset + offset_in_root(g, t);
    p->arena_bytes = arena;
    free(first);
    free(last);
    free(bufs);
    return MR_OK;
}
