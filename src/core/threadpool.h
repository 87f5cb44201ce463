/* A fixed pool of worker threads that run one job at a time: every worker (the calling
 * thread is worker 0) calls the job function once, and mr_pool_run returns when all have
 * returned. The CPU backend's executor builds the elastic-kernel loop on top of it. */
#ifndef MR_CORE_THREADPOOL_H
#define MR_CORE_THREADPOOL_H

#include "core/err.h"

typedef struct mr_pool mr_pool;
typedef void (*mr_pool_fn)(void *arg, int worker, int n_workers);

/* n_workers >= 1 (the caller counts as one). */
mr_pool *mr_pool_create(int n_workers, mr_err *err);
void mr_pool_destroy(mr_pool *pool);
int mr_pool_size(const mr_pool *pool);
/* Not reentrant: one job at a time per pool (callers serialise). */
void mr_pool_run(mr_pool *pool, mr_pool_fn fn, void *arg);

/* A reusable barrier for the workers of one job: spins briefly, then yields the CPU. */
typedef struct mr_barrier {
    _Alignas(64) volatile int count;
    _Alignas(64) volatile int generation;
    int n;
} mr_barrier;

void mr_barrier_init(mr_barrier *b, int n);
void mr_barrier_wait(mr_barrier *b);

#endif
