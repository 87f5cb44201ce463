/* Error reporting inside the library: every fallible internal function takes an mr_err and
 * fills it on failure; public entry points copy it into the runtime's last-error message. */
#ifndef MR_CORE_ERR_H
#define MR_CORE_ERR_H

#include "miriam.h"

#define MR_ERR_MSG_MAX 512

typedef struct mr_err {
    mr_status status;
    char msg[MR_ERR_MSG_MAX];
} mr_err;

#if defined(__GNUC__)
#define MR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MR_PRINTF(a, b)
#endif

/* Records status + formatted message (if err is not NULL) and returns status. A message
 * already recorded is kept when `status` is MR_OK. */
mr_status mr_errf(mr_err *err, mr_status status, const char *fmt, ...) MR_PRINTF(3, 4);
/* Prepends context ("while loading 'x.onnx': ") to an existing message; returns its status. */
mr_status mr_err_prefix(mr_err *err, const char *fmt, ...) MR_PRINTF(2, 3);
void mr_err_clear(mr_err *err);
/* Copies err->msg into a caller buffer (snprintf semantics; buf may be NULL). */
void mr_err_copy(const mr_err *err, char *buf, size_t size);

#define MR_TRY(expr)                                                                               \
    do {                                                                                           \
        mr_status mr_try_st_ = (expr);                                                             \
        if (mr_try_st_ != MR_OK) return mr_try_st_;                                                \
    } while (0)

#endif
