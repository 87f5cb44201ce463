/* Checked allocation and size arithmetic. Every size derived from untrusted input (a model
 * file, a .npy header) goes through these so a crafted dimension cannot overflow or trigger a
 * giant allocation. */
#ifndef MR_CORE_ALLOC_H
#define MR_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Upper bound for any single allocation (16 GiB): the helpers below refuse larger sizes, and
 * every size derived from file contents is checked against it before anything is allocated.
 * The fuzzing build lowers it (MR_MAX_ALLOC_LOG2) below the fuzzer's own allocation limit, so
 * that a model that legitimately asks for gigabytes is rejected through the same checks
 * instead of being reported as a crash. */
#ifndef MR_MAX_ALLOC_LOG2
#define MR_MAX_ALLOC_LOG2 34
#endif
#define MR_MAX_ALLOC ((size_t)1 << MR_MAX_ALLOC_LOG2)

/* a*b into *out; returns 0 on overflow (or negative operands). */
static inline int mr_mul_i64(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return 0;
    if (a != 0 && b > INT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int mr_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int mr_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* malloc/calloc/realloc that record MR_ERR_NO_MEMORY in err on failure. `what` names the
 * object for the message. Sizes above MR_MAX_ALLOC are refused. */
void *mr_malloc(size_t size, const char *what, mr_err *err);
void *mr_calloc(size_t n, size_t size, const char *what, mr_err *err);
void *mr_realloc(void *p, size_t size, const char *what, mr_err *err);
/* count*size with overflow check, then mr_malloc. */
void *mr_malloc_array(size_t count, size_t size, const char *what, mr_err *err);
/* 64-byte aligned allocation, freed with mr_free_aligned (for arenas and weights). */
void *mr_malloc_aligned(size_t size, const char *what, mr_err *err);
void mr_free_aligned(void *p);
char *mr_strdup(const char *s, mr_err *err);

/* Grows a dynamic array *items (with *cap slots) to hold at least `need` items of `elem`
 * bytes. Returns 0 and records the error on failure. */
int mr_grow(void **items, int *cap, int need, size_t elem, const char *what, mr_err *err);

#ifdef MR_FAULT_INJECTION
/* Fault injection (test builds configured with MIRIAM_FAULT_INJECTION=ON only): the helpers
 * above count their calls on the calling thread, and the n-th call after mr_fault_arm(n)
 * fails as if the system were out of memory. Only that one call fails; later ones succeed, so
 * tests can check that the library recovers. Allocations made on other threads (workers,
 * dispatchers) are not counted. */
void mr_fault_arm(long n); /* n >= 1: fail the n-th allocation from now; 0: never */
int mr_fault_fired(void);  /* 1 once the armed failure has happened */
long mr_fault_count(void); /* allocations counted since the last mr_fault_arm() */
/* For allocations made outside the helpers (the CUDA backend's cudaMalloc and cudaHostAlloc):
 * counts one allocation in the same sequence and returns 1 if it must fail. */
int mr_fault_alloc_now(void);
/* Device and pinned allocations made through the CUDA backend's wrappers and not yet freed,
 * over all threads (a leak check for memory LeakSanitizer does not see). */
void mr_fault_device_add(long delta);
long mr_fault_device_live(void);
/* Kernel launches. They are issued on the coordinator's dispatcher thread, so this countdown
 * is process-wide rather than per thread, and it counts only the launches of one execution
 * context (`target`, a model's mr_exec), so that the failure lands in the chosen task: the
 * n-th launch of `target` from now fails (n = 0 or target = NULL: never). */
void mr_fault_arm_launch(const void *target, long n);
int mr_fault_launch_now(const void *ctx); /* 1 if this launch of ctx must fail */
int mr_fault_launch_fired(void);          /* 1 once the armed launch failure has happened */
#endif

#endif
