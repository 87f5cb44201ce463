/* Minimal test harness shared by the test programs: CHECK macros that report file:line and
 * keep going, a summary line ctest shows, and random-data helpers. */
#ifndef MR_TESTUTIL_H
#define MR_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "miriam.h"

extern int mr_test_failures;
extern int mr_test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        mr_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            mr_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        mr_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            mr_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Expects `st` == `want` and, when want != MR_OK, a non-empty message containing `needle`
 * (may be NULL) in `msg`. */
#define CHECK_STATUS(st, want, msg, needle)                                                        \
    mr_test_check_status(__FILE__, __LINE__, (st), (want), (msg), (needle))

void mr_test_check_status(const char *file, int line, mr_status st, mr_status want, const char *msg,
                          const char *needle);

/* Prints "N checks, M failed" and returns the process exit code. */
int mr_test_finish(const char *name);

/* Deterministic xorshift random numbers. */
typedef struct mr_rng {
    uint64_t s;
} mr_rng;
void mr_rng_seed(mr_rng *r, uint64_t seed);
uint64_t mr_rng_u64(mr_rng *r);
float mr_rng_uniform(mr_rng *r, float lo, float hi);
void mr_rng_fill(mr_rng *r, float *x, int64_t n, float lo, float hi);

/* max |a-b| / and whether every element satisfies |a-b| <= atol + rtol*|b|. */
int mr_allclose(const float *a, const float *b, int64_t n, float rtol, float atol, double *max_abs,
                int64_t *worst);

/* Environment / path helpers. */
const char *mr_test_env(const char *name, const char *fallback);
/* Writes `size` bytes to a fresh temporary file and returns its path (static buffer per call
 * site is not used: caller provides buf). */
const char *mr_test_tmpfile(const void *data, size_t size, char *buf, size_t bufsize);

#endif
