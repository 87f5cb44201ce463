/* Internal model/runtime interface shared by the importer, the zoo, the CLI and the tests. */
#ifndef MR_MODEL_H
#define MR_MODEL_H

#include "core/err.h"
#include "graph/ir.h"
#include "miriam.h"

/* Builds a model from a graph that has not been finalised yet: finalises it (ordering, shape
 * inference, passes), plans memory and prepares the backend. Takes ownership of `g`, also on
 * failure. On failure the runtime's last error holds the message. */
mr_status mr_model_from_graph(mr_runtime *rt, mr_graph *g, const mr_model_params *params,
                              mr_model **out);

/* Records err as the runtime's last error (and logs it at MR_LOG_ERROR level at most once).
 * Returns err->status. */
mr_status mr_runtime_fail(mr_runtime *rt, const mr_err *err);

/* Logging through the runtime's callback (no-op when none is set). */
void mr_log(const mr_runtime *rt, mr_log_level level, const char *fmt, ...) MR_PRINTF(3, 4);

/* The graph of a model (read-only; for info and tests). */
const mr_graph *mr_model_graph(const mr_model *m);

struct mr_exec;
/* The backend execution context of a model (for backend-specific tests and the coordinator). */
struct mr_exec *mr_model_exec(const mr_model *m);

/* The runtime a model was loaded into. */
mr_runtime *mr_model_runtime(const mr_model *m);
/* Binds `task` to the model (the task runs in the model's execution context), or unbinds it
 * (task NULL; err may then be NULL). Binding fails with MR_ERR_INVALID_ARG if the model
 * already backs a task; it waits for a mr_model_run in progress. */
mr_status mr_model_bind_task(mr_model *m, mr_task *task, mr_err *err);
/* Checks inputs/outputs against the model as mr_model_run does; `fn` names the caller in the
 * message. */
mr_status mr_model_check_io(const mr_model *m, int n_inputs, const mr_tensor *inputs, int n_outputs,
                            const mr_tensor *outputs, const char *fn, mr_err *err);

#endif
