#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

mr_status mr_errf(mr_err *err, mr_status status, const char *fmt, ...) {
    if (!err) return status;
    err->status = status;
    if (status == MR_OK) return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

mr_status mr_err_prefix(mr_err *err, const char *fmt, ...) {
    if (!err) return MR_ERR_INTERNAL;
    char prefix[MR_ERR_MSG_MAX], old[MR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t plen = strlen(prefix);
    if (plen >= sizeof err->msg) plen = sizeof err->msg - 1;
    memcpy(err->msg, prefix, plen);
    size_t rest = sizeof err->msg - 1 - plen, olen = strlen(old);
    if (olen > rest) olen = rest;
    memcpy(err->msg + plen, old, olen);
    err->msg[plen + olen] = '\0';
    return err->status;
}

void mr_err_clear(mr_err *err) {
    if (!err) return;
    err->status = MR_OK;
    err->msg[0] = '\0';
}

void mr_err_copy(const mr_err *err, char *buf, size_t size) {
    if (!buf || size == 0) return;
    snprintf(buf, size, "%s", err ? err->msg : "");
}

const char *mr_status_str(mr_status status) {
    switch (status) {
    case MR_OK:
        return "ok";
    case MR_ERR_INVALID_ARG:
        return "invalid argument";
    case MR_ERR_IO:
        return "I/O error";
    case MR_ERR_PARSE:
        return "parse error";
    case MR_ERR_UNSUPPORTED:
        return "unsupported";
    case MR_ERR_SHAPE:
        return "shape or dtype mismatch";
    case MR_ERR_NO_MEMORY:
        return "out of memory";
    case MR_ERR_NOT_FOUND:
        return "not found";
    case MR_ERR_BACKEND:
        return "backend error";
    case MR_ERR_GRAPH:
        return "invalid graph";
    case MR_ERR_INTERNAL:
        return "internal error";
    case MR_ERR_BUSY:
        return "busy";
    case MR_ERR_CANCELLED:
        return "cancelled";
    case MR_ERR_DEADLINE:
        return "deadline cannot be met";
    }
    return "unknown status";
}
