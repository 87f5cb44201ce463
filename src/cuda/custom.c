/* CUDA side of custom operators (ops/custom.h): the plan the CPU adapter derived from the
 * user's plan callback becomes an mr_cuda_plan over the user's kernels. From there on a
 * custom step is like any other: the backend queries its variants' footprints with the
 * occupancy API, the coordinator shards and preempts it, the tuner measures it. */
#include <cuda_runtime_api.h>
#include <string.h>

#include "cuda/cuda_op.h"
#include "ops/custom.h"

/* Kernels asking for more than the default 48 KiB of dynamic shared memory per block must
 * opt in, once per function. */
static mr_status opt_in_smem(const mr_node *n, const mr_cuda_variant *v, mr_err *err) {
    if (v->smem <= 48 * 1024) return MR_OK;
    const void *fns[2] = {v->elastic, v->plain};
    for (int i = 0; i < 2; i++) {
        cudaError_t e =
            cudaFuncSetAttribute(fns[i], cudaFuncAttributeMaxDynamicSharedMemorySize, v->smem);
        if (e != cudaSuccess) {
            cudaGetLastError();
            return mr_err_node(err, MR_ERR_BACKEND, n,
                               "kernel %s cannot have %d bytes of dynamic shared memory: %s",
                               v->name, v->smem, cudaGetErrorString(e));
        }
    }
    return MR_OK;
}

static mr_status custom_prepare(const mr_graph *g, const mr_node *n, const mr_cuda_cfg *cfg,
                                mr_cuda_plan *plan, mr_err *err) {
    const mr_custom_entry *e = mr_custom_node_entry(n);
    const mr_custom_node_params *p = n->params;
    if (!e || !p) return mr_err_node(err, MR_ERR_INTERNAL, n, "not a bound custom operator");
    if (e->op.n_kernels < 1)
        return mr_err_node(err, MR_ERR_UNSUPPORTED, n,
                           "custom operator %s has no CUDA kernels (it was registered for the CPU "
                           "only); use the CPU backend",
                           e->def.name);
    plan->n_phases = p->plan.n_phases;
    plan->n_blocks = p->plan.n_blocks;
    plan->workspace_bytes = p->plan.workspace_bytes;
    plan->n_variants = e->op.n_kernels;
    for (int k = 0; k < e->op.n_kernels; k++) {
        MR_TRY(opt_in_smem(n, &e->variants[k], err));
        plan->variants[k] = &e->variants[k];
    }
    return mr_cuda_set_params(plan, p->plan.params, sizeof p->plan.params, n, err);
}

const mr_cuda_op mr_cuda_op_custom = {"(custom)", custom_prepare};
