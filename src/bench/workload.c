/* Workload files (docs/WORKLOADS.md): parsing with cJSON, strict validation, trace CSV files,
 * and the open-loop arrival generators.
 *
 * Every error names the file and the JSON path of the field at fault ("tasks[1].arrival.rate_hz")
 * so a typo in a long workload is found at once; unknown keys are errors, because a misspelt
 * optional key ("deadline_sm") would otherwise silently give a different benchmark. */
#include "bench/workload.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest JSON path we build ("tasks[63].arrival.concurrency" and the like). */
#define PATH_MAX_LEN 96

typedef struct parse_ctx {
    const char *file;     /* name used in messages */
    const char *base_dir; /* for relative model and trace paths; NULL: current directory */
    mr_err *err;
} parse_ctx;

const char *mr_arrival_kind_name(mr_arrival_kind kind) {
    switch (kind) {
    case MR_ARRIVAL_CLOSED:
        return "closed";
    case MR_ARRIVAL_PERIODIC:
        return "periodic";
    case MR_ARRIVAL_POISSON:
        return "poisson";
    case MR_ARRIVAL_TRACE:
        return "trace";
    }
    return "invalid";
}

/* "file: PATH: message" (or "file: message" for the document itself). */
static mr_status fail(const parse_ctx *c, mr_status st, const char *path, const char *fmt, ...)
    MR_PRINTF(4, 5);
static mr_status fail(const parse_ctx *c, mr_status st, const char *path, const char *fmt, ...) {
    char msg[MR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path) return mr_errf(c->err, st, "%s: %s: %s", c->file, path, msg);
    return mr_errf(c->err, st, "%s: %s", c->file, msg);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static mr_status oom(const parse_ctx *c) {
    return fail(c, MR_ERR_NO_MEMORY, NULL, "out of memory");
}

/* A value as the "(got ...)" part of a message shows it: strings quoted and shortened, numbers
 * as written, containers by kind. */
static const char *describe(const cJSON *v, char *buf, size_t size) {
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        size_t n = strlen(s);
        if (n > 40)
            snprintf(buf, size, "\"%.37s...\"", s);
        else
            snprintf(buf, size, "\"%s\"", s);
    } else if (cJSON_IsNumber(v)) {
        snprintf(buf, size, "%.17g", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        snprintf(buf, size, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNull(v)) {
        snprintf(buf, size, "null");
    } else if (cJSON_IsArray(v)) {
        snprintf(buf, size, "an array");
    } else {
        snprintf(buf, size, "an object");
    }
    return buf;
}

static void join_path(char *out, const char *base, const char *key) {
    if (base && *base)
        snprintf(out, PATH_MAX_LEN, "%s.%s", base, key);
    else
        snprintf(out, PATH_MAX_LEN, "%s", key);
}

/* Levenshtein distance of short keys, to suggest the intended key of a typo. */
static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 31 || lb > 31) return 99;
    int d[32][32];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* Rejects keys outside `allowed` (with a suggestion when one is close) and keys given twice
 * (cJSON keeps both, and which one wins would be an accident of the lookup). */
static mr_status check_keys(const parse_ctx *c, const cJSON *obj, const char *path,
                            const char *const *allowed, int n_allowed, const char *what) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *k = it->string ? it->string : "";
        int known = 0, best = -1, best_d = 99;
        for (int i = 0; i < n_allowed; i++) {
            if (strcmp(k, allowed[i]) == 0) known = 1;
            /* A close spelling, or a key cut short or given a unit ("rate" for "rate_hz"). */
            size_t lk = strlen(k), la = strlen(allowed[i]), lmin = lk < la ? lk : la;
            int d = edit_distance(k, allowed[i]);
            int prefix = lmin >= 3 && strncmp(k, allowed[i], lmin) == 0;
            if ((d <= 2 || prefix) && d < best_d) best_d = d, best = i;
        }
        if (!known) {
            char list[256] = "";
            size_t len = 0;
            for (int i = 0; i < n_allowed && len < sizeof list; i++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                        allowed[i]);
            if (best >= 0)
                return fail(c, MR_ERR_PARSE, path ? path : "",
                            "unknown key \"%.64s\"%s (did you mean \"%s\"? expected: %s)", k, what,
                            allowed[best], list);
            return fail(c, MR_ERR_PARSE, path ? path : "", "unknown key \"%.64s\"%s (expected: %s)",
                        k, what, list);
        }
        for (const cJSON *p = obj->child; p != it; p = p->next)
            if (p->string && strcmp(p->string, k) == 0)
                return fail(c, MR_ERR_PARSE, path ? path : "", "key \"%s\" is given twice", k);
    }
    return MR_OK;
}

/* A number in [lo, hi] (lo excluded when lo_open). Absent: *out = def, or an error when
 * required. */
static mr_status get_number(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                            int required, double def, double lo, int lo_open, double hi,
                            double *out) {
    char p[PATH_MAX_LEN], got[64];
    join_path(p, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required) return fail(c, MR_ERR_PARSE, path, "missing required key \"%s\"", key);
        *out = def;
        return MR_OK;
    }
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || !isfinite(x) || (lo_open ? !(x > lo) : !(x >= lo)) || !(x <= hi))
        return fail(c, MR_ERR_PARSE, p, "must be a number %s %g and <= %g (got %s)",
                    lo_open ? ">" : ">=", lo, hi, describe(v, got, sizeof got));
    *out = x;
    return MR_OK;
}

static mr_status get_int(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                         double def, double lo, double hi, double *out) {
    char p[PATH_MAX_LEN], got[64];
    join_path(p, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        *out = def;
        return MR_OK;
    }
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || !isfinite(x) || x != floor(x) || x < lo || x > hi)
        return fail(c, MR_ERR_PARSE, p, "must be an integer in [%.0f, %.0f] (got %s)", lo, hi,
                    describe(v, got, sizeof got));
    *out = x;
    return MR_OK;
}

/* A string of 1..max_len bytes; *out points into the JSON tree (NULL when absent and not
 * required). */
static mr_status get_string(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                            int required, size_t max_len, const char **out) {
    char p[PATH_MAX_LEN], got[64];
    join_path(p, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v) {
        if (required) return fail(c, MR_ERR_PARSE, path, "missing required key \"%s\"", key);
        return MR_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return fail(c, MR_ERR_PARSE, p, "must be a string (got %s)", describe(v, got, sizeof got));
    size_t n = strlen(v->valuestring);
    if (n == 0) return fail(c, MR_ERR_PARSE, p, "must not be empty");
    if (n > max_len)
        return fail(c, MR_ERR_PARSE, p, "is too long (%zu bytes, at most %zu)", n, max_len);
    *out = v->valuestring;
    return MR_OK;
}

/* Names appear in tables, CSV and JSON reports and select trace columns: keep them to
 * characters that need no quoting anywhere. */
static int valid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return 0;
    }
    return 1;
}

static mr_status get_name(const parse_ctx *c, const cJSON *obj, const char *path, int required,
                          const char **out) {
    char p[PATH_MAX_LEN];
    join_path(p, path, "name");
    MR_TRY(get_string(c, obj, path, "name", required, MR_WL_MAX_NAME, out));
    if (*out && !valid_name(*out))
        return fail(c, MR_ERR_PARSE, p,
                    "\"%s\" may use only letters, digits, '_', '-' and '.' (names appear in CSV "
                    "and JSON reports)",
                    *out);
    return MR_OK;
}

/* `rel` against base_dir, unless it is absolute or there is no base directory. */
static char *resolve_path(const char *base_dir, const char *rel) {
    if (rel[0] == '/' || !base_dir || !*base_dir) return dup_str(rel);
    size_t nb = strlen(base_dir), nr = strlen(rel);
    int slash = base_dir[nb - 1] != '/';
    char *s = malloc(nb + (size_t)slash + nr + 1);
    if (!s) return NULL;
    memcpy(s, base_dir, nb);
    if (slash) s[nb] = '/';
    memcpy(s + nb + (size_t)slash, rel, nr + 1);
    return s;
}

/* Reads a whole file (at most MR_WL_MAX_FILE_BYTES). The message is left to the caller;
 * *errno_out says why it failed (0: too large, ENOMEM: no memory). */
static int read_file(const char *path, char **data, size_t *size, int *errno_out) {
    *data = NULL;
    *size = 0;
    *errno_out = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *errno_out = errno;
        return 0;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= (size_t)MR_WL_MAX_FILE_BYTES) {
                free(buf);
                fclose(f);
                return 0; /* too large */
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            int bad = ferror(f);
            fclose(f);
            if (bad) {
                free(buf);
                *errno_out = EIO;
                return 0;
            }
            *data = buf;
            *size = n;
            return 1;
        }
    }
    free(buf);
    fclose(f);
    *errno_out = ENOMEM;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Trace files                                                                              */

/* Splits one CSV line (no quoting) into cells, trimming blanks around each; returns the cell
 * count. Cells point into `line`, which is modified. */
static int split_cells(char *line, char **cells, int max_cells) {
    int n = 0;
    char *p = line;
    for (;;) {
        char *end = strchr(p, ',');
        if (end) *end = '\0';
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strlen(p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
            p[--len] = '\0';
        if (n < max_cells) cells[n] = p;
        n++;
        if (!end) return n;
        p = end + 1;
    }
}

static int blank_line(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
    return 1;
}

#define TRACE_MAX_COLUMNS 256

/* Loads the timestamps of `column` from a trace CSV: a header row naming the columns, then one
 * row per line; each cell a time in ms from the start of the run, or empty. Messages say
 * "PATH: trace.csv:LINE: ...". */
static mr_status load_trace(const parse_ctx *c, const char *path, mr_wl_arrival *a) {
    char *data;
    size_t size;
    int e;
    if (!read_file(a->trace_path, &data, &size, &e)) {
        if (e == ENOMEM) return oom(c);
        if (e == 0)
            return fail(c, MR_ERR_IO, path, "trace %s is larger than %d MiB", a->trace_file,
                        MR_WL_MAX_FILE_BYTES >> 20);
        return fail(c, MR_ERR_IO, path, "cannot read trace %s: %s", a->trace_path, strerror(e));
    }
    if (memchr(data, '\0', size)) {
        free(data);
        return fail(c, MR_ERR_PARSE, path, "%s: not a text file (NUL byte)", a->trace_file);
    }
    char *text = realloc(data, size + 1);
    if (!text) {
        free(data);
        return oom(c);
    }
    text[size] = '\0';

    char **cells = malloc(sizeof(char *) * TRACE_MAX_COLUMNS);
    /* Timestamps use '.' whatever locale the application has set (strtod would follow it). */
    locale_t cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    mr_status st = MR_OK;
    int col = -1, n_cols = 0, line_no = 0;
    int64_t cap = 0;
    double prev = 0;
    if (!cells || !cloc) {
        free(cells);
        if (cloc) freelocale(cloc);
        free(text);
        return oom(c);
    }
    char *line = text;
    while (line && st == MR_OK) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        line_no++;
        if (blank_line(line)) {
            line = nl ? nl + 1 : NULL;
            continue;
        }
        int n = split_cells(line, cells, TRACE_MAX_COLUMNS);
        if (col < 0) { /* the header */
            if (n > TRACE_MAX_COLUMNS) {
                st = fail(c, MR_ERR_PARSE, path, "%s:%d: more than %d columns", a->trace_file,
                          line_no, TRACE_MAX_COLUMNS);
                break;
            }
            n_cols = n;
            for (int i = 0; i < n && st == MR_OK; i++) {
                if (!*cells[i])
                    st = fail(c, MR_ERR_PARSE, path, "%s:%d: header column %d has no name",
                              a->trace_file, line_no, i + 1);
                for (int j = 0; j < i && st == MR_OK; j++)
                    if (strcmp(cells[i], cells[j]) == 0)
                        st = fail(c, MR_ERR_PARSE, path, "%s:%d: column \"%.64s\" appears twice",
                                  a->trace_file, line_no, cells[i]);
                if (st == MR_OK && strcmp(cells[i], a->column) == 0) col = i;
            }
            if (st == MR_OK && col < 0)
                st = fail(c, MR_ERR_PARSE, path, "%s:%d: no column \"%s\" in the header",
                          a->trace_file, line_no, a->column);
            line = nl ? nl + 1 : NULL;
            continue;
        }
        if (n > n_cols) {
            st = fail(c, MR_ERR_PARSE, path, "%s:%d: %d cells, but the header has %d columns",
                      a->trace_file, line_no, n, n_cols);
            break;
        }
        /* Rows may stop early: missing trailing cells are empty. */
        const char *cell = col < n ? cells[col] : "";
        if (*cell) {
            char *end;
            errno = 0;
            double t = strtod_l(cell, &end, cloc);
            if (*end || errno || !isfinite(t) || t < 0 || t > MR_WL_MAX_MS) {
                st = fail(c, MR_ERR_PARSE, path,
                          "%s:%d: column \"%s\": \"%.32s\" is not a time in ms in [0, %.0f]",
                          a->trace_file, line_no, a->column, cell, MR_WL_MAX_MS);
                break;
            }
            if (a->n_times > 0 && t < prev) {
                st = fail(c, MR_ERR_PARSE, path,
                          "%s:%d: column \"%s\": %g ms comes before the previous time %g ms "
                          "(times must not decrease)",
                          a->trace_file, line_no, a->column, t, prev);
                break;
            }
            if (a->n_times == cap) {
                int64_t ncap = cap ? cap * 2 : 256;
                double *nt = realloc(a->times_ms, sizeof(double) * (size_t)ncap);
                if (!nt) {
                    st = oom(c);
                    break;
                }
                a->times_ms = nt;
                cap = ncap;
            }
            a->times_ms[a->n_times++] = t;
            prev = t;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (st == MR_OK && col < 0)
        st = fail(c, MR_ERR_PARSE, path, "%s: no header row", a->trace_file);
    if (st == MR_OK && a->n_times == 0)
        st = fail(c, MR_ERR_PARSE, path, "%s: column \"%s\" has no timestamps", a->trace_file,
                  a->column);
    freelocale(cloc);
    free(cells);
    free(text);
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* Tasks                                                                                    */

static mr_status parse_arrival(const parse_ctx *c, const cJSON *obj, const char *path,
                               mr_wl_task *t) {
    char got[64], p[PATH_MAX_LEN];
    mr_wl_arrival *a = &t->arrival;
    if (!cJSON_IsObject(obj))
        return fail(c, MR_ERR_PARSE, path, "must be an object with a \"type\" (got %s)",
                    describe(obj, got, sizeof got));
    const char *type;
    MR_TRY(get_string(c, obj, path, "type", 1, 32, &type));
    double v;
    join_path(p, path, "type");
    if (strcmp(type, "closed") == 0) {
        static const char *const keys[] = {"type", "concurrency"};
        MR_TRY(check_keys(c, obj, path, keys, 2, " for arrival type \"closed\""));
        a->kind = MR_ARRIVAL_CLOSED;
        MR_TRY(get_int(c, obj, path, "concurrency", 1, 1, MR_WL_MAX_CONCURRENCY, &v));
        a->concurrency = (int)v;
    } else if (strcmp(type, "periodic") == 0) {
        static const char *const keys[] = {"type", "rate_hz", "offset_ms"};
        MR_TRY(check_keys(c, obj, path, keys, 3, " for arrival type \"periodic\""));
        a->kind = MR_ARRIVAL_PERIODIC;
        MR_TRY(get_number(c, obj, path, "rate_hz", 1, 0, 0, 1, MR_WL_MAX_RATE_HZ, &a->rate_hz));
        MR_TRY(get_number(c, obj, path, "offset_ms", 0, 0, 0, 0, MR_WL_MAX_MS, &a->offset_ms));
    } else if (strcmp(type, "poisson") == 0) {
        static const char *const keys[] = {"type", "rate_hz"};
        MR_TRY(check_keys(c, obj, path, keys, 2, " for arrival type \"poisson\""));
        a->kind = MR_ARRIVAL_POISSON;
        MR_TRY(get_number(c, obj, path, "rate_hz", 1, 0, 0, 1, MR_WL_MAX_RATE_HZ, &a->rate_hz));
    } else if (strcmp(type, "trace") == 0) {
        static const char *const keys[] = {"type", "file", "column"};
        MR_TRY(check_keys(c, obj, path, keys, 3, " for arrival type \"trace\""));
        a->kind = MR_ARRIVAL_TRACE;
        const char *file, *column;
        MR_TRY(get_string(c, obj, path, "file", 1, 4096, &file));
        MR_TRY(get_string(c, obj, path, "column", 0, 256, &column));
        a->trace_file = dup_str(file);
        a->trace_path = resolve_path(c->base_dir, file);
        a->column = dup_str(column ? column : t->name);
        if (!a->trace_file || !a->trace_path || !a->column) return oom(c);
        join_path(p, path, "file");
        MR_TRY(load_trace(c, p, a));
    } else {
        return fail(c, MR_ERR_PARSE, p,
                    "must be \"closed\", \"periodic\", \"poisson\" or \"trace\" (got \"%.40s\")",
                    type);
    }
    return MR_OK;
}

static mr_status parse_task(const parse_ctx *c, const cJSON *obj, const char *path, mr_wl_task *t) {
    static const char *const keys[] = {"name",    "model",       "criticality",
                                       "arrival", "deadline_ms", "max_in_flight"};
    char got[64], p[PATH_MAX_LEN];
    if (!cJSON_IsObject(obj))
        return fail(c, MR_ERR_PARSE, path, "must be an object (got %s)",
                    describe(obj, got, sizeof got));
    MR_TRY(check_keys(c, obj, path, keys, 6, ""));
    const char *name, *model, *crit;
    MR_TRY(get_name(c, obj, path, 1, &name));
    if (!(t->name = dup_str(name))) return oom(c);

    MR_TRY(get_string(c, obj, path, "model", 1, 4096, &model));
    if (!(t->model = dup_str(model))) return oom(c);
    join_path(p, path, "model");
    if (strncmp(model, "zoo:", 4) == 0) {
        if (!mr_zoo_description(model + 4))
            return fail(c, MR_ERR_NOT_FOUND, p, "unknown zoo model \"%.64s\" (see `miriam zoo`)",
                        model + 4);
        t->model_spec = dup_str(model);
    } else {
        t->model_spec = resolve_path(c->base_dir, model);
    }
    if (!t->model_spec) return oom(c);

    MR_TRY(get_string(c, obj, path, "criticality", 1, 32, &crit));
    join_path(p, path, "criticality");
    if (strcmp(crit, "critical") == 0)
        t->criticality = MR_TASK_CRITICAL;
    else if (strcmp(crit, "normal") == 0)
        t->criticality = MR_TASK_NORMAL;
    else
        return fail(c, MR_ERR_PARSE, p, "must be \"critical\" or \"normal\" (got \"%.40s\")", crit);

    MR_TRY(get_number(c, obj, path, "deadline_ms", 0, 0, 0, 0, MR_WL_MAX_MS, &t->deadline_ms));

    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, "arrival");
    if (!arr) return fail(c, MR_ERR_PARSE, path, "missing required key \"arrival\"");
    join_path(p, path, "arrival");
    MR_TRY(parse_arrival(c, arr, p, t));

    /* A closed loop keeps `concurrency` requests in flight, so the task must admit them. */
    int need = t->arrival.kind == MR_ARRIVAL_CLOSED ? t->arrival.concurrency : 1;
    double mif;
    MR_TRY(get_int(c, obj, path, "max_in_flight", need > 8 ? need : 8, 1, MR_WL_MAX_CONCURRENCY,
                   &mif));
    t->max_in_flight = (int)mif;
    if (t->max_in_flight < need) {
        join_path(p, path, "max_in_flight");
        return fail(c, MR_ERR_PARSE, p,
                    "%d is less than arrival.concurrency %d (a closed loop keeps that many "
                    "requests in flight)",
                    t->max_in_flight, need);
    }
    return MR_OK;
}

/* The default workload name: the file's base name without ".json", with characters outside
 * the name alphabet replaced. */
static char *default_name(const char *file) {
    if (strcmp(file, "<workload>") == 0) return dup_str("workload");
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".json") == 0) n -= 5;
    if (n > MR_WL_MAX_NAME) n = MR_WL_MAX_NAME;
    if (n == 0) return dup_str("workload");
    char *s = malloc(n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '-' || ch == '.';
        s[i] = ok ? ch : '_';
    }
    s[n] = '\0';
    return s;
}

static mr_status parse_root(const parse_ctx *c, const cJSON *root, mr_workload *w) {
    static const char *const keys[] = {"name",     "description", "duration_s",
                                       "warmup_s", "seed",        "tasks"};
    char got[64], p[PATH_MAX_LEN];
    if (!cJSON_IsObject(root))
        return fail(c, MR_ERR_PARSE, NULL, "the workload must be a JSON object (got %s)",
                    describe(root, got, sizeof got));
    MR_TRY(check_keys(c, root, NULL, keys, 6, ""));
    const char *name, *desc;
    MR_TRY(get_name(c, root, NULL, 0, &name));
    w->name = name ? dup_str(name) : default_name(c->file);
    MR_TRY(get_string(c, root, NULL, "description", 0, 4096, &desc));
    w->description = dup_str(desc ? desc : "");
    if (!w->name || !w->description) return oom(c);
    MR_TRY(get_number(c, root, NULL, "duration_s", 1, 0, 0, 1, MR_WL_MAX_SECONDS, &w->duration_s));
    MR_TRY(get_number(c, root, NULL, "warmup_s", 0, 1.0, 0, 0, MR_WL_MAX_SECONDS, &w->warmup_s));
    double seed;
    /* 2^53: every integer up to it is exact in a JSON number (a double). */
    MR_TRY(get_int(c, root, NULL, "seed", 1, 0, 9007199254740992.0, &seed));
    w->seed = (uint64_t)seed;

    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(root, "tasks");
    if (!tasks) return fail(c, MR_ERR_PARSE, NULL, "missing required key \"tasks\"");
    if (!cJSON_IsArray(tasks))
        return fail(c, MR_ERR_PARSE, "tasks", "must be an array of tasks (got %s)",
                    describe(tasks, got, sizeof got));
    int n = cJSON_GetArraySize(tasks);
    if (n < 1 || n > MR_WL_MAX_TASKS)
        return fail(c, MR_ERR_PARSE, "tasks", "must hold 1 to %d tasks (got %d)", MR_WL_MAX_TASKS,
                    n);
    w->tasks = calloc((size_t)n, sizeof(mr_wl_task));
    if (!w->tasks) return oom(c);
    int i = 0;
    for (const cJSON *t = tasks->child; t; t = t->next, i++) {
        snprintf(p, sizeof p, "tasks[%d]", i);
        w->n_tasks = i + 1; /* so that mr_workload_free releases what this task got */
        MR_TRY(parse_task(c, t, p, &w->tasks[i]));
        for (int j = 0; j < i; j++)
            if (strcmp(w->tasks[j].name, w->tasks[i].name) == 0) {
                snprintf(p, sizeof p, "tasks[%d].name", i);
                return fail(c, MR_ERR_PARSE, p, "duplicate task name \"%s\" (also tasks[%d].name)",
                            w->tasks[i].name, j);
            }
    }
    return MR_OK;
}

/* Line and column (1-based) of byte `off` of the text, for JSON syntax errors. */
static void line_col(const char *data, size_t off, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (data[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

mr_status mr_workload_parse(const char *data, size_t size, const char *file, const char *base_dir,
                            mr_workload **out, mr_err *err) {
    parse_ctx c = {file ? file : "<workload>", base_dir, err};
    if (!out) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_workload_parse: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_workload_parse: data is NULL");
    if (size > (size_t)MR_WL_MAX_FILE_BYTES)
        return fail(&c, MR_ERR_PARSE, NULL, "larger than %d MiB", MR_WL_MAX_FILE_BYTES >> 20);
    const char *end = NULL;
    cJSON *root = size ? cJSON_ParseWithLengthOpts(data, size, &end, 0) : NULL;
    if (root) { /* cJSON stops after the first value: anything but blanks after it is an error */
        size_t off = (size_t)(end - data);
        while (off < size &&
               (data[off] == ' ' || data[off] == '\t' || data[off] == '\n' || data[off] == '\r'))
            off++;
        if (off < size) {
            cJSON_Delete(root);
            int line, col;
            line_col(data, off, &line, &col);
            return mr_errf(err, MR_ERR_PARSE, "%s:%d:%d: unexpected text after the JSON value",
                           c.file, line, col);
        }
    } else {
        size_t off = end && end >= data && end <= data + size ? (size_t)(end - data) : 0;
        int line, col;
        line_col(data, off, &line, &col);
        if (size == 0) return fail(&c, MR_ERR_PARSE, NULL, "empty file (expected a JSON object)");
        return mr_errf(err, MR_ERR_PARSE, "%s:%d:%d: invalid JSON", c.file, line, col);
    }
    mr_workload *w = calloc(1, sizeof *w);
    if (!w) {
        cJSON_Delete(root);
        return oom(&c);
    }
    mr_status st = MR_OK;
    if (!(w->file = dup_str(c.file))) st = oom(&c);
    if (st == MR_OK) st = parse_root(&c, root, w);
    cJSON_Delete(root);
    if (st != MR_OK) {
        mr_workload_free(w);
        return st;
    }
    *out = w;
    return MR_OK;
}

mr_status mr_workload_load(const char *path, mr_workload **out, mr_err *err) {
    if (!out || !path) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_workload_load: NULL argument");
    *out = NULL;
    char *data;
    size_t size;
    int e;
    if (!read_file(path, &data, &size, &e)) {
        if (e == ENOMEM) return mr_errf(err, MR_ERR_NO_MEMORY, "%s: out of memory", path);
        if (e == 0)
            return mr_errf(err, MR_ERR_IO, "%s: larger than %d MiB", path,
                           MR_WL_MAX_FILE_BYTES >> 20);
        return mr_errf(err, MR_ERR_IO, "cannot read %s: %s", path, strerror(e));
    }
    /* Relative model and trace paths resolve against the workload file's directory, so a
     * workload runs the same from any working directory. */
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    mr_status st;
    if (slash && !dir)
        st = mr_errf(err, MR_ERR_NO_MEMORY, "%s: out of memory", path);
    else
        st = mr_workload_parse(data, size, path, dir, out, err);
    free(dir);
    free(data);
    return st;
}

void mr_workload_free(mr_workload *w) {
    if (!w) return;
    for (int i = 0; w->tasks && i < w->n_tasks; i++) {
        mr_wl_task *t = &w->tasks[i];
        free(t->name);
        free(t->model);
        free(t->model_spec);
        free(t->arrival.trace_file);
        free(t->arrival.trace_path);
        free(t->arrival.column);
        free(t->arrival.times_ms);
    }
    free(w->tasks);
    free(w->name);
    free(w->description);
    free(w->file);
    free(w);
}

int mr_workload_find_task(const mr_workload *w, const char *name) {
    for (int i = 0; w && name && i < w->n_tasks; i++)
        if (strcmp(w->tasks[i].name, name) == 0) return i;
    return -1;
}

void mr_arrival_describe(const mr_wl_arrival *a, char *buf, size_t size) {
    switch (a->kind) {
    case MR_ARRIVAL_CLOSED:
        snprintf(buf, size, "closed x%d", a->concurrency);
        return;
    case MR_ARRIVAL_PERIODIC:
        if (a->offset_ms > 0)
            snprintf(buf, size, "periodic %g Hz +%g ms", a->rate_hz, a->offset_ms);
        else
            snprintf(buf, size, "periodic %g Hz", a->rate_hz);
        return;
    case MR_ARRIVAL_POISSON:
        snprintf(buf, size, "poisson %g Hz", a->rate_hz);
        return;
    case MR_ARRIVAL_TRACE: {
        const char *b = a->trace_file ? strrchr(a->trace_file, '/') : NULL;
        b = b ? b + 1 : a->trace_file ? a->trace_file : "";
        snprintf(buf, size, "trace %s:%s", b, a->column ? a->column : "");
        return;
    }
    }
    snprintf(buf, size, "invalid");
}

/* ---------------------------------------------------------------------------------------- */
/* Arrival generation                                                                       */

/* splitmix64 (Steele, Lea, Flood 2014): a full-period 64-bit generator whose output passes
 * BigCrush; also used as the mixing function of the hash below. */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t mr_workload_hash(uint64_t seed, const char *name, uint64_t index) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the name */
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    uint64_t s = seed ^ splitmix64(&h);
    s ^= index * 0xD1B54A32D192ED03ull;
    return splitmix64(&s);
}

void mr_arrivals_init(mr_arrivals *a, const mr_wl_task *task, uint64_t seed) {
    memset(a, 0, sizeof *a);
    const mr_wl_arrival *ar = &task->arrival;
    a->kind = ar->kind;
    if (ar->rate_hz > 0) {
        a->period_ms = 1000.0 / ar->rate_hz;
        a->mean_gap_ms = 1000.0 / ar->rate_hz;
    }
    a->offset_ms = ar->offset_ms;
    a->times_ms = ar->times_ms;
    a->n_times = ar->n_times;
    /* Index 0 is the arrival stream; the driver derives input data from other indices. */
    a->rng = mr_workload_hash(seed, task->name, 0);
}

int mr_arrivals_next(mr_arrivals *a, double *t_ms) {
    switch (a->kind) {
    case MR_ARRIVAL_PERIODIC:
        /* offset + k * period, not a running sum: no drift however long the run. */
        *t_ms = a->offset_ms + (double)a->k * a->period_ms;
        a->k++;
        return 1;
    case MR_ARRIVAL_POISSON: {
        /* Exponential gap by inversion: u uniform in [0, 1) with 53 random bits, so 1 - u is
         * in (0, 1] and the logarithm is finite. */
        double u = (double)(splitmix64(&a->rng) >> 11) * 0x1.0p-53;
        a->t_ms += -log1p(-u) * a->mean_gap_ms;
        a->k++;
        *t_ms = a->t_ms;
        return 1;
    }
    case MR_ARRIVAL_TRACE:
        if (a->k >= a->n_times) return 0;
        *t_ms = a->times_ms[a->k++];
        return 1;
    case MR_ARRIVAL_CLOSED:
        return 0;
    }
    return 0;
}
