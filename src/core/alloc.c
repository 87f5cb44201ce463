#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

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
    void *p = malloc(size ? size : 1);
    return p ? p : oom(size, what, err);
}

void *mr_calloc(size_t n, size_t size, const char *what, mr_err *err) {
    size_t total;
    if (!mr_mul_size(n, size, &total)) {
        mr_errf(err, MR_ERR_NO_MEMORY, "size overflow allocating %s", what ? what : "an object");
        return NULL;
    }
    if (too_big(total, what, err)) return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : oom(total, what, err);
}

void *mr_realloc(void *old, size_t size, const char *what, mr_err *err) {
    if (too_big(size, what, err)) return NULL;
    void *p = realloc(old, size ? size : 1);
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
    void *p = aligned_alloc(64, rounded ? rounded : 64);
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
