#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#ifdef MR_FAULT_INJECTION
#include <stdatomic.h>

/* The only mutable global state in the library, and only in test builds: a countdown that a
 * test arms before calling into the library, which has no parameter through which a test
 * could reach every allocation site. It is thread-local so that the runtime's own threads
 * (and concurrent tests) neither consume nor trigger another thread's fault, which keeps the
 * failing allocation deterministic. */
static _Thread_local long fault_countdown;
static _Thread_local long fault_calls;
static _Thread_local int fault_hit;

void mr_fault_arm(long n) {
    fault_countdown = n > 0 ? n : 0;
    fault_calls = 0;
    fault_hit = 0;
}

int mr_fault_fired(void) {
    return fault_hit;
}

long mr_fault_count(void) {
    return fault_calls;
}

/* 1 if this allocation must fail. */
static int fault_now(void) {
    fault_calls++;
    if (fault_countdown == 0 || --fault_countdown > 0) return 0;
    fault_hit = 1;
    return 1;
}
#define FAULT_NOW() fault_now()

int mr_fault_alloc_now(void) {
    return fault_now();
}

/* Device memory and kernel launches are reached from the dispatcher thread as well as the
 * caller's, so their state is shared by every thread (atomics: no lock to leak or order). */
static _Atomic long device_live;
static const void *_Atomic launch_target;
static _Atomic long launch_countdown;
static _Atomic int launch_hit;

void mr_fault_device_add(long delta) {
    atomic_fetch_add(&device_live, delta);
}

long mr_fault_device_live(void) {
    return atomic_load(&device_live);
}

void mr_fault_arm_launch(const void *target, long n) {
    atomic_store(&launch_target, NULL); /* disarmed while the countdown changes */
    atomic_store(&launch_countdown, n > 0 ? n : 0);
    atomic_store(&launch_hit, 0);
    atomic_store(&launch_target, n > 0 ? target : NULL);
}

int mr_fault_launch_now(const void *ctx) {
    if (!ctx || atomic_load(&launch_target) != ctx) return 0;
    if (atomic_fetch_sub(&launch_countdown, 1) != 1) return 0;
    atomic_store(&launch_target, NULL);
    atomic_store(&launch_hit, 1);
    return 1;
}

int mr_fault_launch_fired(void) {
    return atomic_load(&launch_hit);
}
#else
#define FAULT_NOW() 0
#endif

static int too_big(size_t size, const char *what, mr_err *err) {
    if (size <= MR_MAX_ALLOC) return 0;
    mr_errf(err, MR_ERR_NO_MEMORY, "refusing to allocate %zu bytes for %s (limit %zu)", size,
            what ? what : "an object", (size_t)MR_MAX_ALLOC);
    return 1;
}

static void *oom(size_t size, const char *what, mr_err *err) {
    mr_errf(err, MR_ERR_NO_MEMORY, "out of memory allocating %zu bytes for %s", size,
            what ? what : "an object");
    return NULL;
}

void *mr_malloc(size_t size, const char *what, mr_err *err) {
    if (too_big(size, what, err)) return NULL;
    void *p = FAULT_NOW() ? NULL : malloc(size ? size : 1);
    return p ? p : oom(size, what, err);
}

void *mr_calloc(size_t n, size_t size, const char *what, mr_err *err) {
    size_t total;
    if (!mr_mul_size(n, size, &total)) {
        mr_errf(err, MR_ERR_NO_MEMORY, "size overflow allocating %s", what ? what : "an object");
        return NULL;
    }
    if (too_big(total, what, err)) return NULL;
    void *p = FAULT_NOW() ? NULL : calloc(n ? n : 1, size ? size : 1);
    return p ? p : oom(total, what, err);
}

void *mr_realloc(void *old, size_t size, const char *what, mr_err *err) {
    if (too_big(size, what, err)) return NULL;
    void *p = FAULT_NOW() ? NULL : realloc(old, size ? size : 1);
    return p ? p : oom(size, what, err);
}

void *mr_malloc_array(size_t count, size_t size, const char *what, mr_err *err) {
    size_t total;
    if (!mr_mul_size(count, size, &total)) {
        mr_errf(err, MR_ERR_NO_MEMORY, "size overflow allocating %s", what ? what : "an object");
        return NULL;
    }
    return mr_malloc(total, what, err);
}

void *mr_malloc_aligned(size_t size, const char *what, mr_err *err) {
    if (too_big(size, what, err)) return NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    void *p = FAULT_NOW() ? NULL : aligned_alloc(64, rounded ? rounded : 64);
    return p ? p : oom(size, what, err);
}

void mr_free_aligned(void *p) {
    free(p);
}

char *mr_strdup(const char *s, mr_err *err) {
    if (!s) s = "";
    size_t n = strlen(s) + 1;
    char *p = mr_malloc(n, "a string", err);
    if (p) memcpy(p, s, n);
    return p;
}

int mr_grow(void **items, int *cap, int need, size_t elem, const char *what, mr_err *err) {
    if (need <= *cap) return 1;
    if (need > (1 << 28)) {
        mr_errf(err, MR_ERR_NO_MEMORY, "too many %s (%d)", what, need);
        return 0;
    }
    int ncap = *cap ? *cap : 8;
    while (ncap < need) ncap *= 2;
    void *p = mr_realloc(*items, (size_t)ncap * elem, what, err);
    if (!p) return 0;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *items = p;
    *cap = ncap;
    return 1;
}
