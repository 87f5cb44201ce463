/* CPU backend internals for the coordinator's CPU engine (src/coord/cpu_engine.c): the steps,
 * phases and logical blocks of an execution context, and running one block on one worker. */
#ifndef MR_BACKEND_CPU_H
#define MR_BACKEND_CPU_H

#include <stdint.h>

#include "backend/backend.h"

int mr_cpu_exec_n_steps(const mr_exec *ex);
/* 1 if the step has nothing to run (a view the planner aliased). */
int mr_cpu_exec_step_skipped(const mr_exec *ex, int step);
int mr_cpu_exec_n_phases(const mr_exec *ex, int step);
int64_t mr_cpu_exec_phase_blocks(const mr_exec *ex, int step);
/* Worker slots with their own scratch memory (the backend's thread count). */
int mr_cpu_exec_n_workers(const mr_exec *ex);
/* Runs logical block i of a step's phase with worker slot `worker`'s scratch memory. Blocks
 * of one phase may run concurrently on distinct slots. */
void mr_cpu_exec_run_block(mr_exec *ex, int step, int phase, int64_t i, int worker);
/* Copies a request's inputs into the arena / its outputs out of it. */
void mr_cpu_exec_copy_inputs(mr_exec *ex, const mr_tensor *inputs);
void mr_cpu_exec_copy_outputs(const mr_exec *ex, mr_tensor *outputs);

#endif
