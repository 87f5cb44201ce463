/* The backend interface (a vtable, as ggml does): the runtime owns one backend instance; each
 * model gets an execution context (arena + steps bound to memory) from it. The CPU backend is
 * src/backend/cpu.c; the CUDA backend comes in src/cuda/. */
#ifndef MR_BACKEND_BACKEND_H
#define MR_BACKEND_BACKEND_H

#include "core/err.h"
#include "graph/ir.h"
#include "graph/memplan.h"
#include "miriam.h"

typedef struct mr_backend mr_backend; /* backend instance (defined by each backend) */
typedef struct mr_exec mr_exec;       /* execution context of one model */

typedef struct mr_backend_iface {
    const char *name;
    mr_backend_kind kind;
    mr_status (*create)(const mr_runtime_params *params, mr_backend **out, mr_err *err);
    void (*destroy)(mr_backend *be);
    int (*n_threads)(const mr_backend *be);
    /* Allocates the arena of `plan` and binds every step; `g` and `plan` must outlive it. */
    mr_status (*exec_create)(mr_backend *be, const mr_graph *g, const mr_plan *plan, mr_exec **out,
                             mr_err *err);
    void (*exec_destroy)(mr_exec *ex);
    /* One inference. Inputs/outputs are already validated against the graph. */
    mr_status (*run)(mr_exec *ex, const mr_tensor *inputs, mr_tensor *outputs, mr_err *err);
    /* Device memory held by the context (0 for host backends). */
    size_t (*device_bytes)(const mr_exec *ex);
} mr_backend_iface;

extern const mr_backend_iface mr_backend_cpu_iface;

#endif
