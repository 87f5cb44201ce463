#include "core/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "core/alloc.h"

struct mr_pool {
    int n;
    pthread_t *threads;
    int started; /* threads successfully created */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    unsigned long generation; /* bumped for each job */
    int remaining;            /* workers (besides the caller) still running the job */
    int quit;
    mr_pool_fn fn;
    void *arg;
};

typedef struct worker_arg {
    mr_pool *pool;
    int id;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg *wa = p;
    mr_pool *pool = wa->pool;
    int id = wa->id;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        while (!pool->quit && pool->generation == seen)
            pthread_cond_wait(&pool->work_cv, &pool->mu);
        if (pool->quit) {
            pthread_mutex_unlock(&pool->mu);
            return NULL;
        }
        seen = pool->generation;
        mr_pool_fn fn = pool->fn;
        void *arg = pool->arg;
        pthread_mutex_unlock(&pool->mu);
        fn(arg, id, pool->n);
        pthread_mutex_lock(&pool->mu);
        if (--pool->remaining == 0) pthread_cond_signal(&pool->done_cv);
        pthread_mutex_unlock(&pool->mu);
    }
}

mr_pool *mr_pool_create(int n_workers, mr_err *err) {
    if (n_workers < 1) n_workers = 1;
    mr_pool *pool = mr_calloc(1, sizeof *pool, "thread pool", err);
    if (!pool) return NULL;
    pool->n = n_workers;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    if (n_workers > 1) {
        pool->threads = mr_calloc((size_t)n_workers, sizeof(pthread_t), "thread pool", err);
        if (!pool->threads) {
            mr_pool_destroy(pool);
            return NULL;
        }
        for (int i = 1; i < n_workers; i++) {
            worker_arg *wa = mr_malloc(sizeof *wa, "thread pool", err);
            if (!wa) {
                mr_pool_destroy(pool);
                return NULL;
            }
            wa->pool = pool;
            wa->id = i;
            if (pthread_create(&pool->threads[i], NULL, worker_main, wa) != 0) {
                free(wa);
                mr_errf(err, MR_ERR_BACKEND, "could not start worker thread %d of %d", i,
                        n_workers);
                mr_pool_destroy(pool);
                return NULL;
            }
            pool->started = i;
        }
    }
    return pool;
}

void mr_pool_destroy(mr_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    pool->quit = 1;
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i <= pool->started; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->done_cv);
    free(pool->threads);
    free(pool);
}

int mr_pool_size(const mr_pool *pool) {
    return pool->n;
}

void mr_pool_run(mr_pool *pool, mr_pool_fn fn, void *arg) {
    if (pool->n > 1) {
        pthread_mutex_lock(&pool->mu);
        pool->fn = fn;
        pool->arg = arg;
        pool->remaining = pool->n - 1;
        pool->generation++;
        pthread_cond_broadcast(&pool->work_cv);
        pthread_mutex_unlock(&pool->mu);
    }
    fn(arg, 0, pool->n);
    if (pool->n > 1) {
        pthread_mutex_lock(&pool->mu);
        while (pool->remaining > 0) pthread_cond_wait(&pool->done_cv, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
    }
}

void mr_barrier_init(mr_barrier *b, int n) {
    b->count = 0;
    b->generation = 0;
    b->n = n;
}

void mr_barrier_wait(mr_barrier *b) {
    if (b->n <= 1) return;
    int gen = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->n) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->generation, gen + 1, __ATOMIC_RELEASE);
        return;
    }
    for (int spin = 0; __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE) == gen; spin++)
        if (spin > 256) sched_yield();
}
