/* NumPy .npy files: versions 1.0-3.0, little-endian float32 / int64 / int32, C order.
 * The header is untrusted: every field is validated, sizes are checked for overflow and the
 * data length must match the shape exactly. Files and memory buffers share one parser
 * (parse_prefix); the file reader reads the data only once the header has been accepted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/npy.h"
#include "miriam.h"

#define NPY_MAX_HEADER 65536

static mr_status fail(char *errbuf, size_t n, mr_status st, const char *path, const char *why) {
    if (errbuf && n) snprintf(errbuf, n, "%s: %s", path ? path : "(null)", why);
    return st;
}

/* Finds the value following 'key': in a Python dict literal. */
static const char *dict_value(const char *h, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static mr_status parse_header(const char *h, mr_tensor *t, char *why, size_t whylen) {
    const char *d = dict_value(h, "descr");
    if (!d || *d != '\'') {
        snprintf(why, whylen, "header has no 'descr'");
        return MR_ERR_PARSE;
    }
    d++;
    if (strncmp(d, "<f4'", 4) == 0)
        t->dtype = MR_DTYPE_F32;
    else if (strncmp(d, "<i8'", 4) == 0)
        t->dtype = MR_DTYPE_I64;
    else if (strncmp(d, "<i4'", 4) == 0)
        t->dtype = MR_DTYPE_I32;
    else {
        const char *end = strchr(d, '\'');
        int len = end ? (int)(end - d) : 8;
        if (len > 16) len = 16;
        snprintf(why, whylen,
                 "unsupported dtype '%.*s' (float32 '<f4', int64 '<i8' or int32 '<i4' only; "
                 "convert with arr.astype(np.float32))",
                 len, d);
        return MR_ERR_UNSUPPORTED;
    }
    const char *f = dict_value(h, "fortran_order");
    if (!f) {
        snprintf(why, whylen, "header has no 'fortran_order'");
        return MR_ERR_PARSE;
    }
    if (strncmp(f, "True", 4) == 0) {
        snprintf(why, whylen,
                 "Fortran-ordered arrays are not supported (use np.ascontiguousarray)");
        return MR_ERR_UNSUPPORTED;
    }
    if (strncmp(f, "False", 5) != 0) {
        snprintf(why, whylen, "bad 'fortran_order' value");
        return MR_ERR_PARSE;
    }
    const char *s = dict_value(h, "shape");
    if (!s || *s != '(') {
        snprintf(why, whylen, "header has no 'shape' tuple");
        return MR_ERR_PARSE;
    }
    s++;
    t->ndim = 0;
    for (;;) {
        while (*s == ' ') s++;
        if (*s == ')') break;
        if (*s < '0' || *s > '9') {
            snprintf(why, whylen, "bad 'shape' tuple");
            return MR_ERR_PARSE;
        }
        if (t->ndim == MR_MAX_DIMS) {
            snprintf(why, whylen, "more than %d dimensions", MR_MAX_DIMS);
            return MR_ERR_UNSUPPORTED;
        }
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno || v < 0) {
            snprintf(why, whylen, "bad dimension in 'shape'");
            return MR_ERR_PARSE;
        }
        t->dims[t->ndim++] = v;
        s = end;
        while (*s == ' ') s++;
        if (*s == ',')
            s++;
        else if (*s != ')') {
            snprintf(why, whylen, "bad 'shape' tuple");
            return MR_ERR_PARSE;
        }
    }
    return MR_OK;
}

/* The part of a .npy file before the data: magic, version, header length and header. `p`
 * holds the file's first `n` bytes, which must include the whole header if the file does.
 * Fills out's dtype and shape (not its data), *data_off with where the data starts and *bytes
 * with the length the shape implies (checked against MR_MAX_ALLOC). */
static mr_status parse_prefix(const unsigned char *p, size_t n, mr_tensor *out, size_t *data_off,
                              size_t *bytes, char *why, size_t whylen) {
    if (n < 10 || memcmp(p, "\x93NUMPY", 6) != 0) {
        snprintf(why, whylen, "not a .npy file (bad magic)");
        return MR_ERR_PARSE;
    }
    size_t hlen, pre;
    if (p[6] == 1) {
        hlen = (size_t)p[8] | (size_t)p[9] << 8;
        pre = 10;
    } else if (p[6] == 2 || p[6] == 3) {
        if (n < 12) {
            snprintf(why, whylen, "truncated header");
            return MR_ERR_PARSE;
        }
        hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
        pre = 12;
    } else {
        snprintf(why, whylen, "unsupported .npy version %d.%d", p[6], p[7]);
        return MR_ERR_UNSUPPORTED;
    }
    if (hlen == 0 || hlen > NPY_MAX_HEADER) {
        snprintf(why, whylen, "bad header length");
        return MR_ERR_PARSE;
    }
    if (n - pre < hlen) {
        snprintf(why, whylen, "truncated header");
        return MR_ERR_PARSE;
    }
    /* A NUL inside the header would make the string functions below stop early and accept
     * whatever precedes it. */
    if (memchr(p + pre, '\0', hlen)) {
        snprintf(why, whylen, "NUL byte in header");
        return MR_ERR_PARSE;
    }
    mr_err err;
    char *header = mr_malloc(hlen + 1, "a .npy header", &err);
    if (!header) {
        snprintf(why, whylen, "out of memory");
        return MR_ERR_NO_MEMORY;
    }
    memcpy(header, p + pre, hlen);
    header[hlen] = '\0';
    mr_status st = parse_header(header, out, why, whylen);
    free(header);
    if (st != MR_OK) return st;
    int64_t numel = mr_tensor_numel(out);
    if (numel < 0 || !mr_mul_size((size_t)numel, mr_dtype_size(out->dtype), bytes) ||
        *bytes > MR_MAX_ALLOC) {
        snprintf(why, whylen, "shape is too large");
        return MR_ERR_PARSE;
    }
    *data_off = pre + hlen;
    return MR_OK;
}

/* A malloc()ed copy of `bytes` bytes (mr_tensor_free_data releases it with free()). */
static void *copy_data(const void *src, size_t bytes) {
    mr_err err;
    void *data = mr_malloc(bytes, "tensor data", &err);
    if (data && bytes) memcpy(data, src, bytes);
    return data;
}

mr_status mr_npy_parse(const void *buf, size_t size, const char *name, mr_tensor *out, char *errbuf,
                       size_t errbuf_size) {
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!name) name = "<buffer>";
    if ((!buf && size) || !out)
        return fail(errbuf, errbuf_size, MR_ERR_INVALID_ARG, name, "NULL argument");
    memset(out, 0, sizeof *out);
    char why[256];
    size_t off, bytes;
    mr_status st = parse_prefix(buf, size, out, &off, &bytes, why, sizeof why);
    if (st == MR_OK && size - off != bytes) {
        snprintf(why, sizeof why, "data is %zu bytes, the shape needs %zu", size - off, bytes);
        st = MR_ERR_PARSE;
    }
    if (st == MR_OK && !(out->data = copy_data((const unsigned char *)buf + off, bytes))) {
        snprintf(why, sizeof why, "out of memory for the data");
        st = MR_ERR_NO_MEMORY;
    }
    if (st != MR_OK) {
        memset(out, 0, sizeof *out);
        return fail(errbuf, errbuf_size, st, name, why);
    }
    return MR_OK;
}

mr_status mr_npy_read(const char *path, mr_tensor *out, char *errbuf, size_t errbuf_size) {
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!path || !out) return fail(errbuf, errbuf_size, MR_ERR_INVALID_ARG, path, "NULL argument");
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return fail(errbuf, errbuf_size, MR_ERR_IO, path, strerror(errno));
    /* Only the header is read before the shape is validated: the data is read once its length
     * is known to match, so a huge or inconsistent file costs nothing. */
    char why[256];
    mr_status st = MR_OK;
    mr_err err;
    const size_t prefix_max = 12 + NPY_MAX_HEADER;
    unsigned char *prefix = mr_malloc(prefix_max, "a .npy header", &err);
    void *data = NULL;
    if (!prefix) {
        st = fail(errbuf, errbuf_size, MR_ERR_NO_MEMORY, path, "out of memory");
        goto done;
    }
    size_t got = fread(prefix, 1, prefix_max, fp);
    if (got < prefix_max && ferror(fp)) { /* e.g. a directory: fopen succeeds, reading not */
        st = fail(errbuf, errbuf_size, MR_ERR_IO, path, strerror(errno));
        goto done;
    }
    size_t off, bytes;
    st = parse_prefix(prefix, got, out, &off, &bytes, why, sizeof why);
    if (st != MR_OK) {
        fail(errbuf, errbuf_size, st, path, why);
        goto done;
    }
    /* The data must be exactly as long as the shape says. */
    if (fseek(fp, 0, SEEK_END) != 0) {
        st = fail(errbuf, errbuf_size, MR_ERR_IO, path, "cannot seek");
        goto done;
    }
    long end = ftell(fp);
    if (end < 0) {
        st = fail(errbuf, errbuf_size, MR_ERR_IO, path, "cannot seek");
        goto done;
    }
    if ((size_t)end < off || (size_t)end - off != bytes) {
        snprintf(why, sizeof why, "data is %ld bytes, the shape needs %zu", end - (long)off, bytes);
        st = fail(errbuf, errbuf_size, MR_ERR_PARSE, path, why);
        goto done;
    }
    data = mr_malloc(bytes, "tensor data", &err);
    if (!data) {
        st = fail(errbuf, errbuf_size, MR_ERR_NO_MEMORY, path, "out of memory for the data");
        goto done;
    }
    if (fseek(fp, (long)off, SEEK_SET) != 0 || (bytes && fread(data, 1, bytes, fp) != bytes)) {
        st = fail(errbuf, errbuf_size, MR_ERR_IO, path, "short read");
        goto done;
    }
    out->data = data;
    data = NULL;
done:
    free(prefix);
    free(data);
    fclose(fp);
    if (st != MR_OK) memset(out, 0, sizeof *out);
    return st;
}

mr_status mr_npy_write(const char *path, const mr_tensor *t, char *errbuf, size_t errbuf_size) {
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!path || !t || (!t->data && mr_tensor_numel(t) != 0))
        return fail(errbuf, errbuf_size, MR_ERR_INVALID_ARG, path, "NULL argument");
    const char *descr = t->dtype == MR_DTYPE_F32   ? "<f4"
                        : t->dtype == MR_DTYPE_I64 ? "<i8"
                        : t->dtype == MR_DTYPE_I32 ? "<i4"
                                                   : NULL;
    if (!descr) return fail(errbuf, errbuf_size, MR_ERR_UNSUPPORTED, path, "unsupported dtype");
    int64_t numel = mr_tensor_numel(t);
    if (numel < 0) return fail(errbuf, errbuf_size, MR_ERR_INVALID_ARG, path, "bad shape");
    char shape[MR_MAX_DIMS * 24 + 8];
    shape[0] = '\0'; /* a scalar's shape is "()" */
    size_t pos = 0;
    for (int i = 0; i < t->ndim; i++)
        pos += (size_t)snprintf(shape + pos, sizeof shape - pos, "%lld,%s", (long long)t->dims[i],
                                i + 1 < t->ndim ? " " : "");
    if (t->ndim > 1) shape[pos - 1] = '\0'; /* "(2, 3)" but "(5,)" */
    char header[512];
    int n = snprintf(header, sizeof header,
                     "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape);
    /* Pad with spaces so magic + header is a multiple of 64 bytes, ending in '\n'. */
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    memset(header + n, ' ', padded - total);
    header[padded - 10 - 1] = '\n';
    size_t hlen = padded - 10;
    FILE *fp = fopen(path, "wb");
    if (!fp) return fail(errbuf, errbuf_size, MR_ERR_IO, path, strerror(errno));
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    size_t bytes = (size_t)numel * mr_dtype_size(t->dtype);
    int ok = fwrite(pre, 1, 10, fp) == 10 && fwrite(header, 1, hlen, fp) == hlen &&
             (bytes == 0 || fwrite(t->data, 1, bytes, fp) == bytes);
    if (fclose(fp) != 0) ok = 0;
    if (!ok) return fail(errbuf, errbuf_size, MR_ERR_IO, path, "write failed");
    return MR_OK;
}
