#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

int mr_test_failures = 0;
int mr_test_checks = 0;

void mr_test_check_status(const char *file, int line, mr_status st, mr_status want, const char *msg,
                          const char *needle) {
    mr_test_checks++;
    if (st != want) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: status %d (%s), want %d (%s); message: %s\n", file, line, st,
                mr_status_str(st), want, mr_status_str(want), msg ? msg : "(null)");
        return;
    }
    if (want != MR_OK) {
        if (!msg || !msg[0]) {
            mr_test_failures++;
            fprintf(stderr, "%s:%d: status %s without a message\n", file, line, mr_status_str(st));
        } else if (needle && !strstr(msg, needle)) {
            mr_test_failures++;
            fprintf(stderr, "%s:%d: message '%s' does not mention '%s'\n", file, line, msg, needle);
        }
    }
}

int mr_test_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, mr_test_checks, mr_test_failures);
    return mr_test_failures ? 1 : 0;
}

void mr_rng_seed(mr_rng *r, uint64_t seed) {
    r->s = seed * 0x9E3779B97F4A7C15ull + 1;
}

uint64_t mr_rng_u64(mr_rng *r) {
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return r->s = x;
}

float mr_rng_uniform(mr_rng *r, float lo, float hi) {
    double u = (double)(mr_rng_u64(r) >> 11) / (double)(1ull << 53);
    return (float)(lo + (hi - lo) * u);
}

void mr_rng_fill(mr_rng *r, float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = mr_rng_uniform(r, lo, hi);
}

int mr_allclose(const float *a, const float *b, int64_t n, float rtol, float atol, double *max_abs,
                int64_t *worst) {
    int ok = 1;
    double m = 0;
    int64_t w = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(a[i]) != isnan(b[i])) d = INFINITY;
        if (isnan(a[i]) && isnan(b[i])) d = 0;
        if (d > m || (w < 0 && d > 0)) {
            m = d;
            w = i;
        }
        if (d > atol + rtol * fabs((double)b[i])) ok = 0;
    }
    if (max_abs) *max_abs = m;
    if (worst) *worst = w;
    return ok;
}

const char *mr_test_env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && v[0] ? v : fallback;
}

const char *mr_test_tmpfile(const void *data, size_t size, char *buf, size_t bufsize) {
    snprintf(buf, bufsize, "/tmp/miriam-test-XXXXXX");
    int fd = mkstemp(buf);
    if (fd < 0) return NULL;
    const char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w <= 0) break;
        p += w;
        size -= (size_t)w;
    }
    close(fd);
    return buf;
}
