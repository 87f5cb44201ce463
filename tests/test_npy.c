/* NumPy .npy reading and writing (src/core/npy.c): exact round trips of every supported dtype
 * and rank, hand-written files of format versions 1.0, 2.0 and 3.0, every kind of malformed
 * file (each must give its status and a message naming the file, and leak nothing), and, when
 * python3 with numpy is available, interoperability with numpy itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/npy.h"
#include "miriam.h"
#include "testutil.h"

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */

/* Writes a .npy file by hand: magic, version `major`.0, the header length field (2 bytes for
 * 1.0, 4 for 2.0/3.0), the header dict padded with spaces to a multiple of 64 and ended by
 * '\n' (when `pad`), then `data`. Returns the path in buf. */
static const char *write_raw(char *buf, size_t bufsize, int major, const char *dict, int pad,
                             const void *data, size_t data_len) {
    size_t dlen = strlen(dict);
    size_t pre = major == 1 ? 10 : 12;
    size_t hlen = dlen + (pad ? 1 : 0);
    if (pad) hlen = (pre + hlen + 63) / 64 * 64 - pre;
    size_t total = pre + hlen + data_len;
    unsigned char *f = malloc(total ? total : 1);
    memcpy(f, "\x93NUMPY", 6);
    f[6] = (unsigned char)major;
    f[7] = 0;
    if (major == 1) {
        f[8] = (unsigned char)(hlen & 0xff);
        f[9] = (unsigned char)(hlen >> 8);
    } else {
        for (int i = 0; i < 4; i++) f[8 + i] = (unsigned char)(hlen >> (8 * i));
    }
    memcpy(f + pre, dict, dlen);
    if (pad) {
        memset(f + pre + dlen, ' ', hlen - dlen);
        f[pre + hlen - 1] = '\n';
    }
    if (data_len) memcpy(f + pre + hlen, data, data_len);
    const char *p = mr_test_tmpfile(f, total, buf, bufsize);
    free(f);
    return p;
}

static const char *write_bytes(char *buf, size_t bufsize, const void *bytes, size_t n) {
    return mr_test_tmpfile(bytes, n, buf, bufsize);
}

/* Reads `path` expecting failure with `want` and a message naming the file and mentioning
 * `needle`; the output tensor must come back empty. */
static void expect_read_error(int line, const char *path, mr_status want, const char *needle) {
    mr_tensor t;
    memset(&t, 0x5a, sizeof t);
    char eb[512];
    mr_status st = mr_npy_read(path, &t, eb, sizeof eb);
    mr_test_check_status(__FILE__, line, st, want, eb, needle);
    mr_test_check_status(__FILE__, line, st, want, eb, path);
    mr_test_checks++;
    if (t.data != NULL || t.ndim != 0) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: a failed read left data %p ndim %d\n", __FILE__, line, t.data,
                t.ndim);
        if (st == MR_OK) mr_tensor_free_data(&t);
    }
}
#define EXPECT_READ_ERROR(path, want, needle) expect_read_error(__LINE__, path, want, needle)

static void fill_values(mr_dtype dt, void *data, int64_t n, mr_rng *r) {
    for (int64_t i = 0; i < n; i++) {
        uint64_t u = mr_rng_u64(r);
        if (dt == MR_DTYPE_F32)
            ((float *)data)[i] = mr_rng_uniform(r, -1e6f, 1e6f);
        else if (dt == MR_DTYPE_I64)
            ((int64_t *)data)[i] = (int64_t)u; /* full 64-bit range, negatives included */
        else
            ((int32_t *)data)[i] = (int32_t)(uint32_t)u;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Round trips                                                                              */

static void roundtrip(mr_dtype dt, int ndim, const int64_t *dims, mr_rng *r) {
    mr_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) t.dims[i] = dims[i];
    int64_t n = mr_tensor_numel(&t);
    size_t bytes = (size_t)n * mr_dtype_size(dt);
    t.data = malloc(bytes ? bytes : 1);
    fill_values(dt, t.data, n, r);
    if (dt == MR_DTYPE_F32 && n >= 4) {
        /* Special values must survive bit for bit. */
        float *f = t.data;
        f[0] = -0.0f;
        f[1] = 1.0f / 0.0f;
        f[2] = -1.0f / 0.0f;
        f[3] = 1e-45f; /* denormal */
    }
    char path[64], eb[512];
    snprintf(path, sizeof path, "/tmp/miriam-test-npy-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK_STATUS(mr_npy_write(path, &t, eb, sizeof eb), MR_OK, eb, NULL);

    /* The layout numpy requires: version 1.0, header padded so the data starts at a multiple
     * of 64, ending in '\n'. */
    FILE *fp = fopen(path, "rb");
    unsigned char pre[10];
    CHECK(fp && fread(pre, 1, 10, fp) == 10);
    if (fp) {
        size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        CHECK(memcmp(pre, "\x93NUMPY\x01\x00", 8) == 0);
        CHECK((10 + hlen) % 64 == 0);
        char *h = malloc(hlen + 1);
        CHECK(fread(h, 1, hlen, fp) == hlen);
        h[hlen] = '\0';
        CHECK(hlen > 0 && h[hlen - 1] == '\n');
        CHECK(strncmp(h, "{'descr': '", 11) == 0);
        CHECK(strstr(h, "'fortran_order': False") != NULL);
        if (ndim == 0) CHECK(strstr(h, "'shape': ()") != NULL);
        if (ndim == 1) {
            char want[64];
            snprintf(want, sizeof want, "'shape': (%lld,)", (long long)dims[0]);
            CHECK_MSG(strstr(h, want) != NULL, "header %s lacks %s", h, want);
        }
        free(h);
        fclose(fp);
    }

    mr_tensor u;
    CHECK_STATUS(mr_npy_read(path, &u, eb, sizeof eb), MR_OK, eb, NULL);
    CHECK(u.dtype == dt);
    CHECK_MSG(u.ndim == ndim, "rank %d read back as %d", ndim, u.ndim);
    int same = u.ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = u.dims[i] == dims[i];
    CHECK_MSG(same, "%s rank %d: shape differs", mr_dtype_name(dt), ndim);
    CHECK(u.data != NULL);
    if (same && u.data)
        CHECK_MSG(memcmp(u.data, t.data, bytes) == 0, "%s rank %d: data differs", mr_dtype_name(dt),
                  ndim);
    mr_tensor_free_data(&u);
    CHECK(u.data == NULL);
    free(t.data);
    unlink(path);
}

static void test_roundtrip(void) {
    mr_rng r;
    mr_rng_seed(&r, 42);
    const mr_dtype dts[] = {MR_DTYPE_F32, MR_DTYPE_I64, MR_DTYPE_I32};
    const int64_t dims[][4] = {{0}, {7}, {3, 5}, {2, 3, 4}, {2, 1, 3, 5}};
    for (int d = 0; d < 3; d++) {
        for (int rank = 0; rank <= 4; rank++) roundtrip(dts[d], rank, dims[rank], &r);
        /* Empty tensors and the largest rank. */
        const int64_t zero[3] = {4, 0, 3};
        roundtrip(dts[d], 1, zero + 1, &r);
        roundtrip(dts[d], 3, zero, &r);
        const int64_t eight[MR_MAX_DIMS] = {2, 1, 2, 1, 3, 1, 2, 2};
        roundtrip(dts[d], MR_MAX_DIMS, eight, &r);
    }
    /* A large dimension (header with many digits). */
    const int64_t big[2] = {1, 100003};
    roundtrip(MR_DTYPE_F32, 2, big, &r);
}

static void test_write_errors(void) {
    char eb[512];
    float x[6] = {1, 2, 3, 4, 5, 6};
    mr_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = MR_DTYPE_F32;
    t.ndim = 2;
    t.dims[0] = 2, t.dims[1] = 3;
    t.data = x;
    const char *nodir = "/tmp/miriam-test-npy-no-such-dir/out.npy";
    CHECK_STATUS(mr_npy_write(nodir, &t, eb, sizeof eb), MR_ERR_IO, eb, nodir);
    CHECK_STATUS(mr_npy_write(NULL, &t, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, NULL);
    CHECK_STATUS(mr_npy_write("/tmp/x.npy", NULL, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, NULL);
    char path[64];
    snprintf(path, sizeof path, "/tmp/miriam-test-npy-w-%d.npy", (int)getpid());
    mr_tensor bad = t;
    bad.dtype = MR_DTYPE_INVALID;
    CHECK_STATUS(mr_npy_write(path, &bad, eb, sizeof eb), MR_ERR_UNSUPPORTED, eb, path);
    bad = t;
    bad.data = NULL;
    CHECK_STATUS(mr_npy_write(path, &bad, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, path);
    bad = t;
    bad.dims[1] = -3;
    CHECK_STATUS(mr_npy_write(path, &bad, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, path);
    bad = t;
    bad.ndim = MR_MAX_DIMS + 1;
    CHECK_STATUS(mr_npy_write(path, &bad, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, path);
    bad.ndim = -1;
    CHECK_STATUS(mr_npy_write(path, &bad, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, path);
    CHECK(access(path, F_OK) != 0);                  /* nothing written by the failures */
    CHECK(mr_npy_write(path, &t, NULL, 0) == MR_OK); /* errbuf may be NULL */
    unlink(path);
    /* A NULL errbuf on failure, and a tiny one that truncates. */
    CHECK(mr_npy_write(nodir, &t, NULL, 0) == MR_ERR_IO);
    char tiny[5];
    CHECK(mr_npy_write(nodir, &t, tiny, sizeof tiny) == MR_ERR_IO);
    CHECK(strlen(tiny) == sizeof tiny - 1);
}

/* ---------------------------------------------------------------------------------------- */
/* Hand-written files                                                                       */

static void check_read(int line, const char *path, mr_dtype dt, int ndim, const int64_t *dims,
                       const void *data, size_t bytes) {
    mr_tensor t;
    char eb[512];
    mr_status st = mr_npy_read(path, &t, eb, sizeof eb);
    mr_test_check_status(__FILE__, line, st, MR_OK, eb, NULL);
    if (st != MR_OK) return;
    int ok = t.dtype == dt && t.ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t.dims[i] == dims[i];
    if (ok && bytes) ok = memcmp(t.data, data, bytes) == 0;
    mr_test_checks++;
    if (!ok) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: %s read back wrong (dtype %s ndim %d)\n", __FILE__, line, path,
                mr_dtype_name(t.dtype), t.ndim);
    }
    mr_tensor_free_data(&t);
}
#define CHECK_READ(path, dt, ndim, dims, data, bytes)                                              \
    check_read(__LINE__, path, dt, ndim, dims, data, bytes)

static void test_handwritten(void) {
    char p[64];
    float f6[6] = {0.5f, -1.25f, 3.0f, 1e-3f, -7.5f, 42.0f};
    int64_t i3[3] = {-1, 0, INT64_MAX};
    int32_t i4[4] = {INT32_MIN, -2, 3, INT32_MAX};
    const int64_t d23[2] = {2, 3}, d3[1] = {3}, d4[1] = {4}, d221[3] = {2, 2, 1};

    /* Version 1.0, as numpy writes it. */
    write_raw(p, sizeof p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, f6,
              sizeof f6);
    CHECK_READ(p, MR_DTYPE_F32, 2, d23, f6, sizeof f6);
    unlink(p);
    /* Version 2.0 (4-byte header length) and 3.0 (utf-8 header). */
    write_raw(p, sizeof p, 2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 1, i3,
              sizeof i3);
    CHECK_READ(p, MR_DTYPE_I64, 1, d3, i3, sizeof i3);
    unlink(p);
    write_raw(p, sizeof p, 3, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", 1, i4,
              sizeof i4);
    CHECK_READ(p, MR_DTYPE_I32, 1, d4, i4, sizeof i4);
    unlink(p);
    /* Other key orders and spacing, no padding, no trailing comma. */
    write_raw(p, sizeof p, 1, "{'shape': (2,2,1), 'fortran_order': False, 'descr': '<i4'}", 0, i4,
              sizeof i4);
    CHECK_READ(p, MR_DTYPE_I32, 3, d221, i4, sizeof i4);
    unlink(p);
    write_raw(p, sizeof p, 2, "{'descr':'<f4','fortran_order':False,'shape':( 2 , 3 )}", 0, f6,
              sizeof f6);
    CHECK_READ(p, MR_DTYPE_F32, 2, d23, f6, sizeof f6);
    unlink(p);
    /* A scalar, an empty array, and '<f4' spelt with numpy's other little-endian code. */
    write_raw(p, sizeof p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1, f6, 4);
    CHECK_READ(p, MR_DTYPE_F32, 0, d3, f6, 4);
    unlink(p);
    const int64_t d0[2] = {0, 5};
    write_raw(p, sizeof p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", 1,
              NULL, 0);
    CHECK_READ(p, MR_DTYPE_F32, 2, d0, NULL, 0);
    unlink(p);
}

/* ---------------------------------------------------------------------------------------- */
/* Malformed files                                                                          */

static void test_malformed(void) {
    char p[64];
    float f6[6] = {1, 2, 3, 4, 5, 6};

    const char *missing = "/tmp/miriam-test-npy-missing.npy";
    EXPECT_READ_ERROR(missing, MR_ERR_IO, "No such file");
    EXPECT_READ_ERROR("/tmp", MR_ERR_IO, NULL); /* a directory */

    write_bytes(p, sizeof p, "", 0);
    EXPECT_READ_ERROR(p, MR_ERR_PARSE, NULL);
    unlink(p);
    write_bytes(p, sizeof p, "\x93NUMPZ\x01\x00\x10\x00{'descr': '<f4'}", 26);
    EXPECT_READ_ERROR(p, MR_ERR_PARSE, "magic");
    unlink(p);
    write_bytes(p, sizeof p, "PK\x03\x04 this is a zip archive (.npz)", 34);
    EXPECT_READ_ERROR(p, MR_ERR_PARSE, "magic");
    unlink(p);
    write_bytes(p, sizeof p, "\x93NUMPY\x01", 7); /* truncated before the length */
    EXPECT_READ_ERROR(p, MR_ERR_PARSE, NULL);
    unlink(p);
    write_bytes(p, sizeof p, "\x93NUMPY\x02\x00\x40\x00", 10); /* v2: length needs 4 bytes */
    EXPECT_READ_ERROR(p, MR_ERR_PARSE, "truncated");
    unlink(p);
    write_bytes(p, sizeof p, "\x93NUMPY\x04\x00\x10\x00{'descr': '<f4'}", 26);
    EXPECT_READ_ERROR(p, MR_ERR_UNSUPPORTED, "version 4.0");
    unlink(p);
    write_bytes(p, sizeof p, "\x93NUMPY\x01\x00\x00\x00", 10); /* empty header */
    EXPECT_READ_ERROR(p, MR_ERR_PARSE, "header length");
    unlink(p);

    /* Header length beyond the end of the file. */
    {
        const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
        unsigned char f[10 + sizeof dict];
        memcpy(f, "\x93NUMPY\x01\x00\x00\x02", 10); /* claims 512 bytes */
        memcpy(f + 10, dict, sizeof dict - 1);
        write_bytes(p, sizeof p, f, 10 + sizeof dict - 1);
        EXPECT_READ_ERROR(p, MR_ERR_PARSE, "truncated header");
        unlink(p);
        /* v2.0 with a 4 GiB header length. */
        memcpy(f, "\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
        memcpy(f + 12, dict, sizeof dict - 3);
        write_bytes(p, sizeof p, f, 12 + sizeof dict - 3);
        EXPECT_READ_ERROR(p, MR_ERR_PARSE, "header length");
        unlink(p);
    }

    struct {
        const char *dict;
        size_t data_len;
        mr_status want;
        const char *needle;
    } cases[] = {
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 24, MR_ERR_UNSUPPORTED,
         "'<f8'"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", 24, MR_ERR_UNSUPPORTED,
         "'>f4'"},
        {"{'descr': '|b1', 'fortran_order': False, 'shape': (24,), }", 24, MR_ERR_UNSUPPORTED,
         "'|b1'"},
        {"{'descr': '<u4', 'fortran_order': False, 'shape': (6,), }", 24, MR_ERR_UNSUPPORTED,
         "'<u4'"},
        {"{'descr': '<f4x', 'fortran_order': False, 'shape': (6,), }", 24, MR_ERR_UNSUPPORTED,
         "dtype"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", 24, MR_ERR_PARSE,
         "descr"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, MR_ERR_UNSUPPORTED,
         "Fortran"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", 24, MR_ERR_PARSE,
         "fortran_order"},
        {"{'descr': '<f4', 'shape': (2, 3), }", 24, MR_ERR_PARSE, "fortran_order"},
        {"{'fortran_order': False, 'shape': (2, 3), }", 24, MR_ERR_PARSE, "descr"},
        {"{'descr': '<f4', 'fortran_order': False, }", 24, MR_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", 24, MR_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2; 3), }", 24, MR_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 24, MR_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3", 24, MR_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3), }", 24, MR_ERR_PARSE, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -3), }", 24, MR_ERR_PARSE,
         "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6, -0), }", 24, MR_ERR_PARSE, "shape"},
        /* Overflowing digits, an overflowing product, and a size beyond the 16 GiB limit. */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 24,
         MR_ERR_PARSE, "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 24,
         MR_ERR_PARSE, "too large"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (2305843009213693952,), }", 24,
         MR_ERR_PARSE, "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5000000000,), }", 24, MR_ERR_PARSE,
         "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4,
         MR_ERR_UNSUPPORTED, "dimensions"},
        /* Data shorter and longer than the shape. */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, MR_ERR_PARSE, "24"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0, MR_ERR_PARSE, "24"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 24, MR_ERR_PARSE, "20"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 8, MR_ERR_PARSE, "bytes"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 4, MR_ERR_PARSE, "bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int major = 1; major <= 2; major++) {
            write_raw(p, sizeof p, major, cases[i].dict, 1, f6, cases[i].data_len);
            mr_tensor t;
            char eb[512];
            mr_status st = mr_npy_read(p, &t, eb, sizeof eb);
            if (st != cases[i].want || !strstr(eb, cases[i].needle) || !strstr(eb, p))
                fprintf(stderr, "case %zu (v%d.0): %s\n", i, major, cases[i].dict);
            EXPECT_READ_ERROR(p, cases[i].want, cases[i].needle);
            if (st == MR_OK) mr_tensor_free_data(&t);
            unlink(p);
        }
    }

    /* A NUL byte inside the header: the parser must not stop reading at it and accept what
     * precedes it. */
    {
        char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }#garbage";
        char *hash = strchr(dict, '#');
        *hash = '\0';
        size_t dlen = sizeof dict - 1;
        unsigned char f[10 + sizeof dict + 24];
        memcpy(f, "\x93NUMPY\x01\x00", 8);
        f[8] = (unsigned char)dlen;
        f[9] = 0;
        memcpy(f + 10, dict, dlen);
        memcpy(f + 10 + dlen, f6, 24);
        write_bytes(p, sizeof p, f, 10 + dlen + 24);
        EXPECT_READ_ERROR(p, MR_ERR_PARSE, "NUL");
        unlink(p);
    }

    /* Argument errors. */
    mr_tensor t;
    char eb[256];
    CHECK_STATUS(mr_npy_read(NULL, &t, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, NULL);
    CHECK_STATUS(mr_npy_read(missing, NULL, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, NULL);
    CHECK(mr_npy_read(missing, &t, NULL, 0) == MR_ERR_IO);
}

/* ---------------------------------------------------------------------------------------- */
/* numpy interoperability                                                                   */

static const char *find_numpy_python(void) {
    static const char *const candidates[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", candidates[i]);
        if (system(cmd) == 0) return candidates[i];
    }
    return NULL;
}

static int run_python(const char *py, const char *script, const char *a, const char *b) {
    char sp[64];
    if (!mr_test_tmpfile(script, strlen(script), sp, sizeof sp)) return -1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s %s %s", py, sp, a, b ? b : "");
    int rc = system(cmd);
    unlink(sp);
    return rc;
}

static void test_numpy(void) {
    const char *py = find_numpy_python();
    if (!py) {
        printf("npy: python3 with numpy not found: numpy interoperability part skipped\n");
        return;
    }
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/miriam-test-npy-np-XXXXXX");
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    /* numpy writes; we read and compare with the same formula computed here. */
    const char *writer =
        "import sys, numpy as np\n"
        "d = sys.argv[1]\n"
        "np.save(d + '/f32.npy', (np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.25 - 3))\n"
        "np.save(d + '/i64.npy', np.arange(-5, 7, dtype=np.int64).reshape(3, 4) * 1000000007)\n"
        "np.save(d + '/i32.npy', np.arange(10, dtype=np.int32) * -3)\n"
        "np.save(d + '/scalar.npy', np.float32(2.5))\n"
        "np.save(d + '/empty.npy', np.zeros((0, 3), dtype=np.float32))\n"
        "np.save(d + '/f64.npy', np.ones(3))\n"
        "np.save(d + '/fortran.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float32)))\n"
        "np.save(d + '/big_endian.npy', np.ones(3, dtype='>f4'))\n"
        "np.save(d + '/bool.npy', np.ones(3, dtype=bool))\n";
    CHECK(run_python(py, writer, dir, NULL) == 0);
    char p[160];
    float f32[24];
    for (int i = 0; i < 24; i++) f32[i] = (float)i * 0.25f - 3.0f;
    int64_t i64[12];
    for (int i = 0; i < 12; i++) i64[i] = (int64_t)(i - 5) * 1000000007;
    int32_t i32[10];
    for (int i = 0; i < 10; i++) i32[i] = i * -3;
    float s = 2.5f;
    const int64_t d234[3] = {2, 3, 4}, d34[2] = {3, 4}, d10[1] = {10}, d03[2] = {0, 3};
    snprintf(p, sizeof p, "%s/f32.npy", dir);
    CHECK_READ(p, MR_DTYPE_F32, 3, d234, f32, sizeof f32);
    snprintf(p, sizeof p, "%s/i64.npy", dir);
    CHECK_READ(p, MR_DTYPE_I64, 2, d34, i64, sizeof i64);
    snprintf(p, sizeof p, "%s/i32.npy", dir);
    CHECK_READ(p, MR_DTYPE_I32, 1, d10, i32, sizeof i32);
    snprintf(p, sizeof p, "%s/scalar.npy", dir);
    CHECK_READ(p, MR_DTYPE_F32, 0, d10, &s, sizeof s);
    snprintf(p, sizeof p, "%s/empty.npy", dir);
    CHECK_READ(p, MR_DTYPE_F32, 2, d03, NULL, 0);
    snprintf(p, sizeof p, "%s/f64.npy", dir);
    EXPECT_READ_ERROR(p, MR_ERR_UNSUPPORTED, "'<f8'");
    snprintf(p, sizeof p, "%s/fortran.npy", dir);
    EXPECT_READ_ERROR(p, MR_ERR_UNSUPPORTED, "Fortran");
    snprintf(p, sizeof p, "%s/big_endian.npy", dir);
    EXPECT_READ_ERROR(p, MR_ERR_UNSUPPORTED, "'>f4'");
    snprintf(p, sizeof p, "%s/bool.npy", dir);
    EXPECT_READ_ERROR(p, MR_ERR_UNSUPPORTED, "'|b1'");

    /* We write; numpy loads each file, checks dtype/shape/contiguity and saves it again; we
     * read numpy's copy back and require identical bytes. */
    mr_rng r;
    mr_rng_seed(&r, 9);
    const mr_dtype dts[] = {MR_DTYPE_F32, MR_DTYPE_I64, MR_DTYPE_I32};
    const char *np_names[] = {"float32", "int64", "int32"};
    const int64_t shapes[][4] = {{0}, {5}, {2, 7}, {3, 1, 4}, {2, 2, 3, 2}};
    for (int d = 0; d < 3; d++)
        for (int rank = 0; rank <= 4; rank++) {
            mr_tensor t;
            memset(&t, 0, sizeof t);
            t.dtype = dts[d];
            t.ndim = rank;
            for (int i = 0; i < rank; i++) t.dims[i] = shapes[rank][i];
            int64_t n = mr_tensor_numel(&t);
            size_t bytes = (size_t)n * mr_dtype_size(t.dtype);
            t.data = malloc(bytes);
            fill_values(t.dtype, t.data, n, &r);
            char ours[160], theirs[160], shape[96] = "";
            snprintf(ours, sizeof ours, "%s/ours_%d_%d.npy", dir, d, rank);
            snprintf(theirs, sizeof theirs, "%s/theirs_%d_%d.npy", dir, d, rank);
            size_t pos = 0;
            for (int i = 0; i < rank; i++)
                pos += (size_t)snprintf(shape + pos, sizeof shape - pos, "%lld,",
                                        (long long)shapes[rank][i]);
            char eb[512];
            CHECK_STATUS(mr_npy_write(ours, &t, eb, sizeof eb), MR_OK, eb, NULL);
            char script[512];
            snprintf(script, sizeof script,
                     "import sys, numpy as np\n"
                     "a = np.load(sys.argv[1], allow_pickle=False)\n"
                     "ok = a.dtype == np.dtype('%s') and a.shape == (%s) and "
                     "a.flags['C_CONTIGUOUS']\n"
                     "np.save(sys.argv[2], a)\n"
                     "sys.exit(0 if ok else 3)\n",
                     np_names[d], shape);
            int rc = run_python(py, script, ours, theirs);
            CHECK_MSG(rc == 0, "numpy rejected %s (%s rank %d): rc %d", ours, np_names[d], rank,
                      rc);
            if (rc == 0) CHECK_READ(theirs, t.dtype, rank, shapes[rank], t.data, bytes);
            free(t.data);
            unlink(ours);
            unlink(theirs);
        }
    const char *names[] = {"f32", "i64",     "i32",        "scalar", "empty",
                           "f64", "fortran", "big_endian", "bool"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s.npy", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    printf("npy: numpy interoperability checked with %s\n", py);
}

/* ---------------------------------------------------------------------------------------- */
/* Untrusted sizes and the in-memory parser                                                */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A whole .npy file in memory (version `major`.0, dict padded with spaces and '\n'). */
static size_t build_npy(unsigned char *f, size_t cap, int major, const char *dict,
                        size_t data_len) {
    size_t pre = major == 1 ? 10 : 12, dlen = strlen(dict);
    size_t hlen = (pre + dlen + 1 + 63) / 64 * 64 - pre;
    if (pre + hlen + data_len > cap) return 0;
    memcpy(f, "\x93NUMPY", 6);
    f[6] = (unsigned char)major;
    f[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) f[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(f + pre, dict, dlen);
    memset(f + pre + dlen, ' ', hlen - dlen);
    f[pre + hlen - 1] = '\n';
    memset(f + pre + hlen, 0x3f, data_len);
    return pre + hlen + data_len;
}

/* The buffer parser and the file reader agree: same status, same message (but for the name).
 * Every crafted size must be refused from the header alone, quickly, without allocating it. */
static void expect_both(int line, const unsigned char *f, size_t n, mr_status want,
                        const char *needle) {
    mr_tensor t;
    memset(&t, 0x5a, sizeof t);
    char eb[512], eb2[512], p[64];
    mr_status st = mr_npy_parse(f, n, "crafted.npy", &t, eb, sizeof eb);
    mr_test_check_status(__FILE__, line, st, want, eb, needle);
    mr_test_check_status(__FILE__, line, st, want, eb, "crafted.npy");
    mr_test_checks++;
    if (st != MR_OK && (t.data != NULL || t.ndim != 0)) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: a failed parse left data %p ndim %d\n", __FILE__, line, t.data,
                t.ndim);
    }
    if (st == MR_OK) mr_tensor_free_data(&t);
    write_bytes(p, sizeof p, f, n);
    mr_status st2 = mr_npy_read(p, &t, eb2, sizeof eb2);
    mr_test_checks++;
    /* "crafted.npy: why" and "/tmp/...: why" */
    const char *why = strstr(eb, ": "), *why2 = strstr(eb2, ": ");
    if (st2 != st || (st != MR_OK && (!why || !why2 || strcmp(why, why2) != 0))) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: buffer: %s (%s), file: %s (%s)\n", __FILE__, line,
                mr_status_str(st), eb, mr_status_str(st2), eb2);
    }
    if (st2 == MR_OK) mr_tensor_free_data(&t);
    unlink(p);
}
#define EXPECT_BOTH(f, n, want, needle) expect_both(__LINE__, f, n, want, needle)

static void test_untrusted_sizes(void) {
    static unsigned char f[4096];
    double t0 = now_s();
    struct {
        const char *dict;
        mr_status want;
        const char *needle;
    } cases[] = {
        /* 2^62 elements: the element count fits in 64 bits, the byte count does not. */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 2147483648), }",
         MR_ERR_PARSE, "too large"},
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (1152921504606846976, 16), }",
         MR_ERR_PARSE, "too large"},
        /* 64 GiB, 32 GiB: representable, beyond the 16 GiB limit of one allocation. */
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (8, 1073741824), }", MR_ERR_PARSE,
         "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (8589934592,), }", MR_ERR_PARSE,
         "too large"},
        /* Products overflowing int64 on the last and on a middle dimension. */
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 0), }",
         MR_ERR_PARSE, "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 9223372036854775807, 3), }",
         MR_ERR_PARSE, "too large"},
        /* A dimension beyond int64, a negative one. */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551616,), }",
         MR_ERR_PARSE, "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", MR_ERR_PARSE, "shape"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int major = 1; major <= 3; major++) {
            size_t n = build_npy(f, sizeof f, major, cases[i].dict, 16);
            CHECK(n > 0);
            EXPECT_BOTH(f, n, cases[i].want, cases[i].needle);
        }
    /* A zero dimension makes any other dimension harmless: an empty tensor. */
    size_t n = build_npy(
        f, sizeof f, 1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904), }", 0);
    EXPECT_BOTH(f, n, MR_OK, NULL);
    /* Header lengths: 4 GiB (v2.0) and 64 KiB - 1 (v1.0) against a short file. */
    n = build_npy(f, sizeof f, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    memset(f + 8, 0xff, 4);
    EXPECT_BOTH(f, n, MR_ERR_PARSE, "header length");
    n = build_npy(f, sizeof f, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    memset(f + 8, 0xff, 2);
    EXPECT_BOTH(f, n, MR_ERR_PARSE, "truncated header");
    /* Data one byte short of and one byte past the shape. */
    n = build_npy(f, sizeof f, 3, "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1), }",
                  23);
    EXPECT_BOTH(f, n, MR_ERR_PARSE, "needs 24");
    n = build_npy(f, sizeof f, 3, "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1), }",
                  25);
    EXPECT_BOTH(f, n, MR_ERR_PARSE, "needs 24");
    /* Every prefix of a valid file is refused (the full one is accepted). */
    n = build_npy(f, sizeof f, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                  16);
    for (size_t k = 0; k < n; k++) {
        mr_tensor t;
        char eb[256];
        CHECK(mr_npy_parse(f, k, NULL, &t, eb, sizeof eb) == MR_ERR_PARSE &&
              strstr(eb, "<buffer>"));
    }
    EXPECT_BOTH(f, n, MR_OK, NULL);
    mr_tensor t;
    char eb[256];
    CHECK_STATUS(mr_npy_parse(NULL, 4, NULL, &t, eb, sizeof eb), MR_ERR_INVALID_ARG, eb, NULL);
    double dt = now_s() - t0;
    CHECK_MSG(dt < 5.0, "crafted sizes took %.2f s", dt);
}

int main(void) {
    test_roundtrip();
    test_write_errors();
    test_handwritten();
    test_malformed();
    test_untrusted_sizes();
    test_numpy();
    return mr_test_finish("npy");
}
