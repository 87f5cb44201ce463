/* Data-movement ops: Concat, Transpose, Gather, Slice, Expand.
 *
 * All are dtype-generic (elements move as mr_dtype_size bytes). Transpose, Slice and Expand
 * share one kernel: the output is a strided view of the input (output index -> input offset
 * through a per-dimension stride, possibly negative, 0 for a broadcast dim), coalesced and
 * walked in output order, so writes are sequential and each logical block owns a contiguous
 * range of output elements.
 */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/op.h"
#include "ops/transform.h"

/* Bytes per logical block of the contiguous copy kernels (Concat, Gather): a 256 KiB memcpy
 * takes some tens of microseconds, short enough to preempt promptly. */
#define COPY_CHUNK ((int64_t)1 << 18)
/* Elements per logical block of the strided kernel (element-wise, so fewer than COPY_CHUNK
 * bytes' worth). */
#define STRIDED_CHUNK ((int64_t)1 << 16)

/* Graphs built without an opset (0) get the newest semantics we implement. */
static int opset_of(const mr_graph *g) {
    return g->opset > 0 ? g->opset : 17;
}

static int has_input(const mr_node *n, int i) {
    return i < n->n_in && n->in[i] >= 0;
}

static int64_t max64(int64_t a, int64_t b) {
    return a > b ? a : b;
}
static int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

/* Reads constant input i (a scalar or 1-D int64/int32 tensor) into out[cap]. */
static mr_status const_ints(mr_graph *g, const mr_node *n, int i, const char *what, int64_t *out,
                            int cap, int *count, mr_err *err) {
    const mr_tensor_desc *t = mr_node_input(g, n, i);
    if (!t) return mr_err_node(err, MR_ERR_GRAPH, n, "the %s input is missing", what);
    if (!t->data)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the %s input must be constant (an initializer or computable from "
                           "constants), but '%s' is computed at run time",
                           what, t->name);
    if (t->dtype != MR_DTYPE_I64 && t->dtype != MR_DTYPE_I32)
        return mr_err_node(err, MR_ERR_SHAPE, n, "the %s input '%s' must be int64 or int32, not %s",
                           what, t->name, mr_dtype_name(t->dtype));
    if (t->ndim > 1)
        return mr_err_node(err, MR_ERR_SHAPE, n, "the %s input '%s' must be 1-D, not of rank %d",
                           what, t->name, t->ndim);
    int64_t numel = mr_desc_numel(t);
    if (numel < 0 || numel > cap)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "the %s input '%s' has %lld values (at most %d supported)", what,
                           t->name, (long long)numel, cap);
    for (int64_t k = 0; k < numel; k++)
        out[k] = t->dtype == MR_DTYPE_I64 ? ((const int64_t *)t->data)[k]
                                          : ((const int32_t *)t->data)[k];
    *count = (int)numel;
    return MR_OK;
}

static mr_status norm_axis(const mr_node *n, const char *what, int64_t axis, int rank, int *out,
                           mr_err *err) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return mr_err_node(err, MR_ERR_SHAPE, n, "%s %lld is out of range for an input of rank %d",
                           what, (long long)axis, rank);
    *out = (int)a;
    return MR_OK;
}

static void set_grid(mr_node *n, int64_t total, int64_t chunk, int64_t flops) {
    int64_t nb = mr_div_up(total, chunk);
    n->n_blocks = nb > 0 ? nb : 1;
    n->scratch_bytes = 0;
    n->flops = flops;
}

/* ---- strided copy (Transpose, Slice) ---- */

/* Declared in ops/transform.h: the CUDA planner reads it from n->params. */
typedef mr_strided_plan strided_plan;

/* Drops size-1 dims and merges neighbours that are contiguous in the input too, so a
 * transpose that moves whole rows, or a slice of full trailing dims, becomes long runs. */
static void plan_build(strided_plan *p, int nd, const int64_t *dims, const int64_t *stride,
                       int64_t base) {
    int k = 0;
    for (int d = 0; d < nd; d++) {
        if (dims[d] == 1) continue;
        if (k > 0 && p->stride[k - 1] == stride[d] * dims[d]) {
            p->dims[k - 1] *= dims[d];
            p->stride[k - 1] = stride[d];
        } else {
            p->dims[k] = dims[d];
            p->stride[k] = stride[d];
            k++;
        }
    }
    if (k == 0) {
        p->dims[0] = 1;
        p->stride[0] = 1;
        k = 1;
    }
    p->nd = k;
    p->base = base;
}

/* Copies cnt elements of esz bytes, reading with element stride `st`. Fixed-size memcpy
 * compiles to plain loads/stores without assuming alignment. */
static void copy_run(char *dst, const char *src, int64_t st, int64_t cnt, size_t esz) {
    if (st == 1) {
        memcpy(dst, src, (size_t)cnt * esz);
        return;
    }
    ptrdiff_t sb = (ptrdiff_t)(st * (int64_t)esz);
    switch (esz) {
    case 4:
        for (int64_t i = 0; i < cnt; i++, dst += 4, src += sb) memcpy(dst, src, 4);
        break;
    case 8:
        for (int64_t i = 0; i < cnt; i++, dst += 8, src += sb) memcpy(dst, src, 8);
        break;
    default:
        for (int64_t i = 0; i < cnt; i++, dst += esz, src += sb) memcpy(dst, src, esz);
    }
}

/* Output elements [e0, e1) of the plan. */
static void strided_copy(const strided_plan *p, const void *src, void *dst, size_t esz, int64_t e0,
                         int64_t e1) {
    if (e0 >= e1) return;
    int nd = p->nd;
    int64_t idx[MR_MAX_DIMS], off = p->base, rem = e0;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % p->dims[d];
        rem /= p->dims[d];
        off += idx[d] * p->stride[d];
    }
    const int64_t last = p->dims[nd - 1], ls = p->stride[nd - 1];
    for (int64_t e = e0; e < e1;) {
        int64_t cnt = min64(last - idx[nd - 1], e1 - e);
        copy_run((char *)dst + e * (int64_t)esz, (const char *)src + off * (int64_t)esz, ls, cnt,
                 esz);
        e += cnt;
        off += cnt * ls;
        idx[nd - 1] += cnt;
        for (int d = nd - 1; d > 0 && idx[d] == p->dims[d]; d--) {
            off += p->stride[d - 1] - idx[d] * p->stride[d];
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

static void strided_run(const mr_step *s, int64_t b, void *scratch) {
    const strided_plan *p = s->node->params;
    const mr_tview *out = &s->out[0];
    int64_t lo, hi;
    mr_block_range(out->numel, STRIDED_CHUNK, b, &lo, &hi);
    strided_copy(p, s->in[0].data, out->data, mr_dtype_size(out->dtype), lo, hi);
}

static void contiguous_strides(int nd, const int64_t *dims, int64_t *st) {
    int64_t acc = 1;
    for (int d = nd - 1; d >= 0; d--) {
        st[d] = acc;
        acc *= dims[d];
    }
}

/* ---- Concat ---- */

typedef struct concat_params {
    int64_t axis_attr;
    int axis; /* normalised by infer */
} concat_params;

static const char *const concat_attrs[] = {"axis", NULL};

static mr_status concat_init(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_attr *a = mr_node_attr(n, "axis");
    /* Concat-1 defaulted axis to 1; from opset 4 it is required. */
    if (!a && opset_of(g) >= 4)
        return mr_err_node(err, MR_ERR_GRAPH, n, "the axis attribute is required");
    int64_t axis;
    MR_TRY(mr_attr_get_int(n, "axis", 1, &axis, err));
    concat_params *p = mr_calloc(1, sizeof *p, "Concat parameters", err);
    if (!p) return err->status;
    p->axis_attr = axis;
    n->params = p;
    return MR_OK;
}

static mr_status concat_infer(mr_graph *g, mr_node *n, mr_err *err) {
    concat_params *p = n->params;
    const mr_tensor_desc *in0 = mr_node_input(g, n, 0);
    if (!in0) return mr_err_node(err, MR_ERR_GRAPH, n, "input 0 is missing");
    if (in0->ndim == 0) return mr_err_node(err, MR_ERR_SHAPE, n, "cannot concatenate scalars");
    int axis = 0;
    MR_TRY(norm_axis(n, "attribute 'axis'", p->axis_attr, in0->ndim, &axis, err));
    int64_t dims[MR_MAX_DIMS];
    memcpy(dims, in0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        const mr_tensor_desc *t = mr_node_input(g, n, i);
        if (!t) return mr_err_node(err, MR_ERR_GRAPH, n, "input %d is missing", i);
        if (t->dtype != in0->dtype)
            return mr_err_node(err, MR_ERR_SHAPE, n, "input %d ('%s') is %s but input 0 is %s", i,
                               t->name, mr_dtype_name(t->dtype), mr_dtype_name(in0->dtype));
        int bad = t->ndim != in0->ndim;
        for (int d = 0; d < in0->ndim && !bad; d++)
            if (d != axis && t->dims[d] != in0->dims[d]) bad = 1;
        if (bad) {
            char sa[160], sb[160];
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "input %d has shape %s, incompatible with input 0's %s on axis %d",
                               i, mr_dims_str(t->ndim, t->dims, sa, sizeof sa),
                               mr_dims_str(in0->ndim, in0->dims, sb, sizeof sb), axis);
        }
        dims[axis] += t->dims[axis];
    }
    p->axis = axis;
    mr_set_shape(mr_node_output(g, n, 0), in0->dtype, in0->ndim, dims);
    return MR_OK;
}

static mr_status concat_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *out = mr_node_output(g, n, 0);
    set_grid(n, (int64_t)mr_desc_bytes(out), COPY_CHUNK, mr_desc_numel(out));
    return MR_OK;
}

/* The output is `outer` rows; in each row input k owns the byte range [pref[k], pref[k+1]).
 * Block b owns output bytes [lo, hi) and copies the pieces of inputs that fall in it. */
static void concat_run(const mr_step *s, int64_t b, void *scratch) {
    const concat_params *p = s->node->params;
    const mr_tview *out = &s->out[0];
    int64_t esz = (int64_t)mr_dtype_size(out->dtype), inner = esz;
    for (int d = p->axis + 1; d < out->ndim; d++) inner *= out->dims[d];
    int64_t pref[MR_MAX_IO + 1];
    pref[0] = 0;
    for (int k = 0; k < s->n_in; k++) pref[k + 1] = pref[k] + s->in[k].dims[p->axis] * inner;
    int64_t row = pref[s->n_in];
    int64_t lo, hi;
    mr_block_range(out->numel * esz, COPY_CHUNK, b, &lo, &hi);
    if (row == 0) return;
    char *dst = out->data;
    int k = 0;
    for (int64_t o = lo; o < hi;) {
        int64_t r = o / row, off = o % row;
        while (off >= pref[k + 1]) k++;
        while (off < pref[k]) k--; /* back to the start of a new row */
        int64_t seg = pref[k + 1] - pref[k];
        int64_t cnt = min64(pref[k + 1] - off, hi - o);
        memcpy(dst + o, (const char *)s->in[k].data + r * seg + (off - pref[k]), (size_t)cnt);
        o += cnt;
    }
}

int mr_concat_axis(const mr_node *n) {
    return ((const concat_params *)n->params)->axis;
}

const mr_op_def mr_op_concat = {
    .name = "Concat",
    .flags = MR_OP_CONCAT,
    .min_in = 1,
    .max_in = MR_MAX_IO,
    .min_out = 1,
    .max_out = 1,
    .attrs = concat_attrs,
    .init = concat_init,
    .infer = concat_infer,
    .prepare = concat_prepare,
    .run_block = concat_run,
};

/* ---- Transpose ---- */

/* params: the strided plan (prepare) followed by the perm attribute (init). */
typedef struct transpose_params {
    strided_plan plan;
    int nperm; /* 0: default (reverse the dims) */
    int64_t perm[MR_MAX_DIMS];
} transpose_params;

static const char *const transpose_attrs[] = {"perm", NULL};

static mr_status transpose_init(mr_graph *g, mr_node *n, mr_err *err) {
    int64_t perm[MR_MAX_DIMS];
    int cnt;
    MR_TRY(mr_attr_get_ints(n, "perm", perm, MR_MAX_DIMS, &cnt, err));
    transpose_params *p = mr_calloc(1, sizeof *p, "Transpose parameters", err);
    if (!p) return err->status;
    p->nperm = cnt;
    memcpy(p->perm, perm, sizeof perm);
    n->params = p;
    return MR_OK;
}

/* The permutation for an input of `rank`, validated. */
static mr_status transpose_perm(const mr_node *n, int rank, int *perm, mr_err *err) {
    const transpose_params *p = n->params;
    if (!mr_node_attr(n, "perm")) {
        for (int d = 0; d < rank; d++) perm[d] = rank - 1 - d;
        return MR_OK;
    }
    if (p->nperm != rank)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "attribute 'perm' has %d entries for an input of rank %d", p->nperm,
                           rank);
    int seen[MR_MAX_DIMS] = {0};
    for (int d = 0; d < rank; d++) {
        int64_t v = p->perm[d];
        if (v < 0 || v >= rank || seen[v])
            return mr_err_node(err, MR_ERR_SHAPE, n,
                               "attribute 'perm' is not a permutation of 0..%d (entry %d is %lld)",
                               rank - 1, d, (long long)v);
        seen[v] = 1;
        perm[d] = (int)v;
    }
    return MR_OK;
}

static mr_status transpose_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int perm[MR_MAX_DIMS];
    MR_TRY(transpose_perm(n, in->ndim, perm, err));
    int64_t dims[MR_MAX_DIMS];
    for (int d = 0; d < in->ndim; d++) dims[d] = in->dims[perm[d]];
    mr_set_shape(mr_node_output(g, n, 0), in->dtype, in->ndim, dims);
    return MR_OK;
}

static mr_status transpose_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    transpose_params *p = n->params;
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int perm[MR_MAX_DIMS];
    MR_TRY(transpose_perm(n, in->ndim, perm, err));
    int64_t ist[MR_MAX_DIMS], dims[MR_MAX_DIMS], st[MR_MAX_DIMS];
    contiguous_strides(in->ndim, in->dims, ist);
    for (int d = 0; d < in->ndim; d++) {
        dims[d] = in->dims[perm[d]];
        st[d] = ist[perm[d]];
    }
    plan_build(&p->plan, in->ndim, dims, st, 0);
    int64_t numel = mr_desc_numel(in);
    set_grid(n, numel, STRIDED_CHUNK, numel);
    return MR_OK;
}

const mr_op_def mr_op_transpose = {
    .name = "Transpose",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .attrs = transpose_attrs,
    .init = transpose_init,
    .infer = transpose_infer,
    .prepare = transpose_prepare,
    .run_block = strided_run,
};

/* ---- Gather ---- */

typedef struct gather_params {
    int64_t axis_attr;
    int axis; /* normalised by infer */
} gather_params;

static const char *const gather_attrs[] = {"axis", NULL};

static mr_status gather_init(mr_graph *g, mr_node *n, mr_err *err) {
    int64_t axis;
    MR_TRY(mr_attr_get_int(n, "axis", 0, &axis, err));
    gather_params *p = mr_calloc(1, sizeof *p, "Gather parameters", err);
    if (!p) return err->status;
    p->axis_attr = axis;
    n->params = p;
    return MR_OK;
}

static mr_status gather_infer(mr_graph *g, mr_node *n, mr_err *err) {
    gather_params *p = n->params;
    const mr_tensor_desc *data = mr_node_input(g, n, 0), *ind = mr_node_input(g, n, 1);
    if (!ind) return mr_err_node(err, MR_ERR_GRAPH, n, "the indices input is missing");
    if (data->ndim == 0) return mr_err_node(err, MR_ERR_SHAPE, n, "cannot gather from a scalar");
    int axis = 0;
    MR_TRY(norm_axis(n, "attribute 'axis'", p->axis_attr, data->ndim, &axis, err));
    if (ind->dtype != MR_DTYPE_I64 && ind->dtype != MR_DTYPE_I32)
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "the indices ('%s') must be int64 or int32, not %s", ind->name,
                           mr_dtype_name(ind->dtype));
    int rank = data->ndim - 1 + ind->ndim;
    if (rank > MR_MAX_DIMS)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n, "the output would have rank %d (at most %d)",
                           rank, MR_MAX_DIMS);
    /* Constant indices are checked now; run-time ones cannot fail inside the kernel, which
     * writes zeros for an out-of-range index instead. */
    int64_t dim = data->dims[axis];
    if (ind->data) {
        int64_t cnt = mr_desc_numel(ind);
        for (int64_t j = 0; j < cnt; j++) {
            int64_t v = ind->dtype == MR_DTYPE_I64 ? ((const int64_t *)ind->data)[j]
                                                   : ((const int32_t *)ind->data)[j];
            if (v < -dim || v >= dim)
                return mr_err_node(err, MR_ERR_SHAPE, n,
                                   "index %lld (at position %lld) is out of range for axis %d "
                                   "of size %lld",
                                   (long long)v, (long long)j, axis, (long long)dim);
        }
    }
    int64_t dims[MR_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < axis; d++) dims[k++] = data->dims[d];
    for (int d = 0; d < ind->ndim; d++) dims[k++] = ind->dims[d];
    for (int d = axis + 1; d < data->ndim; d++) dims[k++] = data->dims[d];
    p->axis = axis;
    mr_set_shape(mr_node_output(g, n, 0), data->dtype, rank, dims);
    return MR_OK;
}

static mr_status gather_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *out = mr_node_output(g, n, 0);
    set_grid(n, (int64_t)mr_desc_bytes(out), COPY_CHUNK, mr_desc_numel(out));
    return MR_OK;
}

/* The output is rows (outer index o, index position j) of `inner` elements each; block b
 * owns output bytes [lo, hi), which may start or end inside a row. */
static void gather_run(const mr_step *s, int64_t b, void *scratch) {
    const gather_params *p = s->node->params;
    const mr_tview *data = &s->in[0], *ind = &s->in[1], *out = &s->out[0];
    int64_t esz = (int64_t)mr_dtype_size(out->dtype), row = esz;
    for (int d = p->axis + 1; d < data->ndim; d++) row *= data->dims[d];
    int64_t dim = data->dims[p->axis], nidx = ind->numel;
    int64_t lo, hi;
    mr_block_range(out->numel * esz, COPY_CHUNK, b, &lo, &hi);
    if (row == 0) return;
    const char *src = data->data;
    char *dst = out->data;
    for (int64_t o = lo; o < hi;) {
        int64_t r = o / row, off = o % row, cnt = min64(row - off, hi - o);
        int64_t outer = r / nidx, j = r % nidx;
        int64_t v = ind->dtype == MR_DTYPE_I64 ? ((const int64_t *)ind->data)[j]
                                               : ((const int32_t *)ind->data)[j];
        if (v < 0) v += dim;
        if (v < 0 || v >= dim)
            memset(dst + o, 0, (size_t)cnt);
        else
            memcpy(dst + o, src + (outer * dim + v) * row + off, (size_t)cnt);
        o += cnt;
    }
}

const mr_op_def mr_op_gather = {
    .name = "Gather",
    .min_in = 2,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .attrs = gather_attrs,
    .init = gather_init,
    .infer = gather_infer,
    .prepare = gather_prepare,
    .run_block = gather_run,
};

/* ---- Slice ---- */

static const char *const slice_attrs[] = {"starts", "ends", "axes", NULL};

static mr_status slice_init(mr_graph *g, mr_node *n, mr_err *err) {
    n->params = mr_calloc(1, sizeof(strided_plan), "Slice parameters", err);
    return n->params ? MR_OK : err->status;
}

/* Resolves starts/ends/axes/steps (attributes before opset 10, constant inputs after) against
 * the input shape: per input dim, the first element taken, the step and the output size. */
static mr_status slice_resolve(mr_graph *g, const mr_node *n, const mr_tensor_desc *in,
                               int64_t *first, int64_t *step, int64_t *outd, mr_err *err) {
    int64_t st[MR_MAX_DIMS], en[MR_MAX_DIMS], ax[MR_MAX_DIMS], sp[MR_MAX_DIMS];
    int ns = 0, ne = 0, na = 0, nsp = 0, has_axes, has_steps = 0;
    if (opset_of(g) < 10) {
        for (int i = 1; i < n->n_in; i++)
            if (has_input(n, i))
                return mr_err_node(err, MR_ERR_GRAPH, n,
                                   "takes starts/ends/axes as attributes before opset 10, not "
                                   "inputs");
        if (!mr_node_attr(n, "starts") || !mr_node_attr(n, "ends"))
            return mr_err_node(err, MR_ERR_GRAPH, n, "the starts and ends attributes are required");
        MR_TRY(mr_attr_get_ints(n, "starts", st, MR_MAX_DIMS, &ns, err));
        MR_TRY(mr_attr_get_ints(n, "ends", en, MR_MAX_DIMS, &ne, err));
        MR_TRY(mr_attr_get_ints(n, "axes", ax, MR_MAX_DIMS, &na, err));
        has_axes = mr_node_attr(n, "axes") != NULL;
    } else {
        for (int k = 0; slice_attrs[k]; k++)
            if (mr_node_attr(n, slice_attrs[k]))
                return mr_err_attr(err, n, slice_attrs[k], "is an input since opset 10");
        MR_TRY(const_ints(g, n, 1, "starts", st, MR_MAX_DIMS, &ns, err));
        MR_TRY(const_ints(g, n, 2, "ends", en, MR_MAX_DIMS, &ne, err));
        has_axes = has_input(n, 3);
        if (has_axes) MR_TRY(const_ints(g, n, 3, "axes", ax, MR_MAX_DIMS, &na, err));
        has_steps = has_input(n, 4);
        if (has_steps) MR_TRY(const_ints(g, n, 4, "steps", sp, MR_MAX_DIMS, &nsp, err));
    }
    if (ne != ns || (has_axes && na != ns) || (has_steps && nsp != ns))
        return mr_err_node(err, MR_ERR_SHAPE, n,
                           "starts, ends, axes and steps must have the same length (%d, %d, %d, "
                           "%d)",
                           ns, ne, has_axes ? na : ns, has_steps ? nsp : ns);
    int rank = in->ndim, seen[MR_MAX_DIMS] = {0};
    for (int d = 0; d < rank; d++) {
        first[d] = 0;
        step[d] = 1;
        outd[d] = in->dims[d];
    }
    for (int i = 0; i < ns; i++) {
        int a = 0;
        MR_TRY(norm_axis(n, "slice axis", has_axes ? ax[i] : i, rank, &a, err));
        if (seen[a])
            return mr_err_node(err, MR_ERR_SHAPE, n, "axis %d is sliced more than once", a);
        seen[a] = 1;
        int64_t s = has_steps ? sp[i] : 1, dim = in->dims[a];
        if (s == 0) return mr_err_node(err, MR_ERR_SHAPE, n, "steps must not be 0");
        /* A step longer than the dim takes at most the first element; clamping it avoids
         * overflow (INT64_MIN has no negation). */
        if (s > dim) s = dim > 0 ? dim : 1;
        if (s < -dim) s = dim > 0 ? -dim : -1;
        step[a] = s;
        if (dim == 0) {
            outd[a] = 0;
            continue;
        }
        /* ONNX: negative starts/ends count from the back, then clamp to [0, dim] for a
         * positive step and to [0, dim-1] / [-1, dim-1] for a negative one. Adding dim to a
         * negative value cannot overflow (INT64_MIN + dim >= INT64_MIN). */
        int64_t b = st[i] < 0 ? st[i] + dim : st[i];
        int64_t e = en[i] < 0 ? en[i] + dim : en[i];
        int64_t cnt;
        if (s > 0) {
            b = min64(max64(b, 0), dim);
            e = min64(max64(e, 0), dim);
            cnt = e > b ? (e - b - 1) / s + 1 : 0;
        } else {
            b = min64(max64(b, 0), dim - 1);
            e = min64(max64(e, -1), dim - 1);
            cnt = b > e ? (b - e - 1) / -s + 1 : 0;
        }
        first[a] = cnt > 0 ? b : 0;
        outd[a] = cnt;
    }
    return MR_OK;
}

static mr_status slice_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int64_t first[MR_MAX_DIMS], step[MR_MAX_DIMS], dims[MR_MAX_DIMS];
    MR_TRY(slice_resolve(g, n, in, first, step, dims, err));
    mr_set_shape(mr_node_output(g, n, 0), in->dtype, in->ndim, dims);
    return MR_OK;
}

static mr_status slice_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int64_t first[MR_MAX_DIMS], step[MR_MAX_DIMS], dims[MR_MAX_DIMS], ist[MR_MAX_DIMS];
    MR_TRY(slice_resolve(g, n, in, first, step, dims, err));
    contiguous_strides(in->ndim, in->dims, ist);
    int64_t base = 0, numel = 1;
    for (int d = 0; d < in->ndim; d++) {
        base += first[d] * ist[d];
        ist[d] *= step[d];
        numel *= dims[d];
    }
    plan_build(n->params, in->ndim, dims, ist, base);
    set_grid(n, numel, STRIDED_CHUNK, numel);
    return MR_OK;
}

const mr_op_def mr_op_slice = {
    .name = "Slice",
    .min_in = 1,
    .max_in = 5,
    .min_out = 1,
    .max_out = 1,
    .attrs = slice_attrs,
    .init = slice_init,
    .infer = slice_infer,
    .prepare = slice_prepare,
    .run_block = strided_run,
};

/* ---- Expand ---- */

/* torch.onnx emits Expand for the zero initial states of nn.LSTM/nn.GRU (a [1, 1, H]
 * constant expanded to [layers, batch, H] with a shape computed from the input's Shape), so
 * every exported recurrent model needs it. The output is the input broadcast to
 * broadcast(input shape, shape): a strided view with stride 0 on the broadcast dims. */

static mr_status expand_init(mr_graph *g, mr_node *n, mr_err *err) {
    n->params = mr_calloc(1, sizeof(strided_plan), "Expand parameters", err);
    return n->params ? MR_OK : err->status;
}

static mr_status expand_shape(mr_graph *g, const mr_node *n, const mr_tensor_desc *in, int *rank,
                              int64_t *dims, mr_err *err) {
    int64_t shape[MR_MAX_DIMS];
    int ns = 0;
    MR_TRY(const_ints(g, n, 1, "shape", shape, MR_MAX_DIMS, &ns, err));
    for (int i = 0; i < ns; i++)
        if (shape[i] < 0)
            return mr_err_node(err, MR_ERR_SHAPE, n, "the shape input has a negative entry (%lld)",
                               (long long)shape[i]);
    return mr_broadcast_shape(n, in->ndim, in->dims, ns, shape, rank, dims, err);
}

static mr_status expand_infer(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int64_t dims[MR_MAX_DIMS];
    int rank = 0;
    MR_TRY(expand_shape(g, n, in, &rank, dims, err));
    mr_set_shape(mr_node_output(g, n, 0), in->dtype, rank, dims);
    return MR_OK;
}

static mr_status expand_prepare(mr_graph *g, mr_node *n, mr_err *err) {
    const mr_tensor_desc *in = mr_node_input(g, n, 0);
    int64_t dims[MR_MAX_DIMS], ist[MR_MAX_DIMS], st[MR_MAX_DIMS];
    int rank = 0;
    MR_TRY(expand_shape(g, n, in, &rank, dims, err));
    contiguous_strides(in->ndim, in->dims, ist);
    int64_t numel = 1;
    for (int d = 0; d < rank; d++) {
        int k = d - (rank - in->ndim); /* the input dim aligned with output dim d, if any */
        st[d] = k < 0 || in->dims[k] == 1 ? 0 : ist[k];
        numel *= dims[d];
    }
    plan_build(n->params, rank, dims, st, 0);
    set_grid(n, numel, STRIDED_CHUNK, numel);
    return MR_OK;
}

const mr_op_def mr_op_expand = {
    .name = "Expand",
    .min_in = 2,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .init = expand_init,
    .infer = expand_infer,
    .prepare = expand_prepare,
    .run_block = strided_run,
};
