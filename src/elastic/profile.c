/* Kernel profiles (src/elastic/profile.h): the model hash, device keys, the cache directory,
 * the JSON file format with strict validation (docs/TUNING.md), and the coordinator's
 * lookups.
 *
 * Every parse error names the file and the JSON path of the field at fault
 * ("entries[3].points[0].shard_us"); unknown keys are errors, because a profile edited by
 * hand with a misspelt key would otherwise silently steer the coordinator by defaults. */
#include "elastic/profile.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "runtime_internal.h"
#ifdef MIRIAM_HAVE_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/drain.h"
#endif

/* Profiles are small (a few hundred bytes per kept point); anything larger is not one. */
#define PROFILE_MAX_FILE_BYTES (64 << 20)
/* Longest JSON path we build ("entries[1234].points[567].rel_throughput"). */
#define PATH_LEN 96
/* Integers in the file are JSON numbers (doubles): exact up to 2^53. */
#define MAX_EXACT 9007199254740992.0

/* ---------------------------------------------------------------------------------------- */
/* The model hash                                                                           */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull

typedef struct hasher {
    uint64_t h;
} hasher;

static void hash_bytes(hasher *hs, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        hs->h ^= p[i];
        hs->h *= FNV_PRIME;
    }
}

/* One token of the canonical description: its text and a separator, so that "ab","c" and
 * "a","bc" hash differently. */
static void hash_tok(hasher *hs, const char *fmt, ...) MR_PRINTF(2, 3);
static void hash_tok(hasher *hs, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
    hash_bytes(hs, buf, (size_t)n);
    hash_bytes(hs, "\n", 1);
}

static void hash_str(hasher *hs, const char *s) {
    s = s ? s : "";
    hash_bytes(hs, s, strlen(s));
    hash_bytes(hs, "\n", 1);
}

static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* dtype and dims of a tensor; the values of small integer constants (shapes, axes, indices,
 * which steer kernels), never those of float constants (weights: a retrained model keeps its
 * profile). */
static void hash_tensor(hasher *hs, const mr_graph *g, int t) {
    const mr_tensor_desc *d = &g->tensors[t];
    hash_tok(hs, "dtype %d ndim %d", (int)d->dtype, d->ndim);
    for (int i = 0; i < d->ndim && i < MR_MAX_DIMS; i++)
        hash_tok(hs, "%lld", (long long)d->dims[i]);
    int64_t n = d->ndim >= 0 ? mr_desc_numel(d) : -1;
    if (d->data && n >= 0 && n <= 64 && (d->dtype == MR_DTYPE_I64 || d->dtype == MR_DTYPE_I32)) {
        for (int64_t i = 0; i < n; i++)
            hash_tok(hs, "%lld",
                     d->dtype == MR_DTYPE_I64 ? (long long)((const int64_t *)d->data)[i]
                                              : (long long)((const int32_t *)d->data)[i]);
    }
}

/* Where a step's input comes from, by position (names do not matter): a graph input, a
 * constant, or output o of step s. */
static void hash_source(hasher *hs, const mr_graph *g, int t) {
    const mr_tensor_desc *d = &g->tensors[t];
    for (int k = 0; k < g->n_inputs; k++)
        if (g->inputs[k] == t) {
            hash_tok(hs, "input %d", k);
            return;
        }
    if (d->producer >= 0) {
        for (int s = 0; s < g->n_order; s++) {
            if (g->order[s] != d->producer) continue;
            const mr_node *p = &g->nodes[d->producer];
            for (int o = 0; o < p->n_out; o++)
                if (p->out[o] == t) {
                    hash_tok(hs, "step %d out %d", s, o);
                    return;
                }
        }
    }
    hash_str(hs, d->data ? "const" : "other");
}

static void hash_attr(hasher *hs, const mr_graph *g, const mr_attr *a) {
    hash_tok(hs, "attr %s type %d", a->name ? a->name : "", (int)a->type);
    switch (a->type) {
    case MR_ATTR_INT:
        hash_tok(hs, "%lld", (long long)a->i);
        break;
    case MR_ATTR_FLOAT:
        hash_tok(hs, "%08x", float_bits(a->f));
        break;
    case MR_ATTR_STRING:
        hash_str(hs, a->s);
        break;
    case MR_ATTR_INTS:
        hash_tok(hs, "n %d", a->n);
        for (int i = 0; i < a->n; i++) hash_tok(hs, "%lld", (long long)a->ints[i]);
        break;
    case MR_ATTR_FLOATS:
        hash_tok(hs, "n %d", a->n);
        for (int i = 0; i < a->n; i++) hash_tok(hs, "%08x", float_bits(a->floats[i]));
        break;
    case MR_ATTR_STRINGS:
        hash_tok(hs, "n %d", a->n);
        for (int i = 0; i < a->n; i++) hash_str(hs, a->strings[i]);
        break;
    case MR_ATTR_TENSOR:
        if (a->tensor >= 0 && a->tensor < g->n_tensors) hash_tensor(hs, g, a->tensor);
        break;
    case MR_ATTR_OTHER:
        break;
    }
}

/* (name, index) order: attributes hash the same whatever order the exporter wrote them in. */
static int attr_before(const mr_attr *attrs, int i, int j) {
    int c = strcmp(attrs[i].name ? attrs[i].name : "", attrs[j].name ? attrs[j].name : "");
    return c < 0 || (c == 0 && i < j);
}

uint64_t mr_profile_model_hash(const mr_graph *g) {
    hasher hs = {FNV_OFFSET};
    hash_tok(&hs, "miriam-plan 1");
    hash_tok(&hs, "inputs %d", g->n_inputs);
    for (int k = 0; k < g->n_inputs; k++) hash_tensor(&hs, g, g->inputs[k]);
    hash_tok(&hs, "steps %d", g->n_order);
    for (int s = 0; s < g->n_order; s++) {
        const mr_node *n = &g->nodes[g->order[s]];
        hash_tok(&hs, "step %d", s);
        hash_str(&hs, n->op_type);
        hash_str(&hs, n->domain);
        hash_str(&hs, n->label);
        hash_tok(&hs, "act %d %08x %08x", (int)n->act.kind, float_bits(n->act.alpha),
                 float_bits(n->act.beta));
        /* Attributes in (name, index) order: repeatedly the smallest after the previous. */
        int prev = -1;
        for (int round = 0; round < n->n_attrs; round++) {
            int best = -1;
            for (int i = 0; i < n->n_attrs; i++) {
                if (prev >= 0 && !attr_before(n->attrs, prev, i)) continue;
                if (best < 0 || attr_before(n->attrs, i, best)) best = i;
            }
            if (best < 0) break;
            hash_attr(&hs, g, &n->attrs[best]);
            prev = best;
        }
        hash_tok(&hs, "in %d", n->n_in);
        for (int k = 0; k < n->n_in; k++) {
            if (n->in[k] < 0) {
                hash_tok(&hs, "none");
                continue;
            }
            hash_source(&hs, g, n->in[k]);
            hash_tensor(&hs, g, n->in[k]);
        }
        hash_tok(&hs, "out %d", n->n_out);
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0)
                hash_tok(&hs, "none");
            else
                hash_tensor(&hs, g, n->out[k]);
        }
    }
    hash_tok(&hs, "outputs %d", g->n_outputs);
    for (int k = 0; k < g->n_outputs; k++) {
        hash_source(&hs, g, g->outputs[k]);
        hash_tensor(&hs, g, g->outputs[k]);
    }
    return hs.h;
}

void mr_profile_hash_str(uint64_t hash, char out[17]) {
    snprintf(out, 17, "%016llx", (unsigned long long)hash);
}

static int parse_hash(const char *s, uint64_t *out) {
    if (strlen(s) != 16) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return 0;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Devices and the cache directory                                                          */

void mr_profile_device_key(mr_profile_device *dev) {
    if (dev->backend == MR_PROFILE_CPU) {
        snprintf(dev->key, sizeof dev->key, "cpu_%dt", dev->units);
        return;
    }
    /* The name goes into a file name: keep it to characters that need no quoting. */
    char name[sizeof dev->name];
    size_t n = 0;
    for (const char *p = dev->name; *p && n + 1 < sizeof name; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-';
        name[n++] = ok ? c : '-';
    }
    name[n] = '\0';
    snprintf(dev->key, sizeof dev->key, "cuda_%s_%dsm_%s", n ? name : "gpu", dev->units,
             mr_precision_name(dev->precision));
}

mr_status mr_profile_runtime_device(mr_runtime *rt, mr_profile_device *out, mr_err *err) {
    memset(out, 0, sizeof *out);
    if (!rt) return mr_errf(err, MR_ERR_INVALID_ARG, "no runtime");
    if (mr_runtime_backend(rt) == MR_BACKEND_CPU) {
        out->backend = MR_PROFILE_CPU;
        snprintf(out->name, sizeof out->name, "cpu");
        out->units = mr_runtime_n_threads(rt);
        mr_profile_device_key(out);
        return MR_OK;
    }
#ifdef MIRIAM_HAVE_CUDA
    out->backend = MR_PROFILE_CUDA;
    out->precision = rt->params.precision;
    mr_cuda_sm_info sm;
    int device_sms = 0;
    MR_TRY(mr_cuda_sm_limits(rt->be, &sm, err));
    MR_TRY(mr_cuda_device_info(rt->params.gpu, out->name, sizeof out->name, &device_sms, err));
    out->units = sm.sms; /* the runtime's SMs: a green-context partition tunes apart */
    out->sm_threads = sm.threads;
    out->sm_regs = sm.regs;
    out->sm_smem = sm.smem;
    out->sm_blocks = sm.blocks;
    out->smem_reserved = sm.smem_reserved;
    mr_profile_device_key(out);
    return MR_OK;
#else
    return mr_errf(err, MR_ERR_UNSUPPORTED, "this build has no CUDA backend");
#endif
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

mr_status mr_profile_cache_dir(char *out, size_t size, mr_err *err) {
    const char *v;
    int n;
    if ((v = env_nonempty("MIRIAM_CACHE_DIR")))
        n = snprintf(out, size, "%s", v);
    else if ((v = env_nonempty("XDG_CACHE_HOME")))
        n = snprintf(out, size, "%s/miriam", v);
    else if ((v = env_nonempty("HOME")))
        n = snprintf(out, size, "%s/.cache/miriam", v);
    else
        return mr_errf(err, MR_ERR_NOT_FOUND,
                       "no cache directory: set MIRIAM_CACHE_DIR (or XDG_CACHE_HOME or HOME)");
    if (n < 0 || (size_t)n >= size)
        return mr_errf(err, MR_ERR_INVALID_ARG, "the cache directory path is too long");
    return MR_OK;
}

mr_status mr_profile_cache_path(uint64_t model_hash, const char *device_key, char *out, size_t size,
                                mr_err *err) {
    char dir[4096], hs[17];
    MR_TRY(mr_profile_cache_dir(dir, sizeof dir, err));
    mr_profile_hash_str(model_hash, hs);
    int n = snprintf(out, size, "%s/%s_%s.json", dir, hs, device_key);
    if (n < 0 || (size_t)n >= size)
        return mr_errf(err, MR_ERR_INVALID_ARG, "the profile path is too long");
    return MR_OK;
}

/* mkdir -p */
static mr_status make_dirs(const char *path, mr_err *err) {
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n < 0 || (size_t)n >= sizeof buf)
        return mr_errf(err, MR_ERR_INVALID_ARG, "the cache directory path is too long");
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return mr_errf(err, MR_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0') break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return mr_errf(err, MR_ERR_IO, "%s is not a directory", path);
    return MR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Writing                                                                                  */

static void profile_free_entries(mr_profile *p) {
    if (p->entries)
        for (int i = 0; i < p->n_entries; i++) free(p->entries[i].points);
    free(p->entries);
    p->entries = NULL;
    p->n_entries = 0;
}

void mr_profile_free(mr_profile *p) {
    if (!p) return;
    profile_free_entries(p);
    free(p);
}

static const char *backend_name(mr_profile_backend b) {
    return b == MR_PROFILE_CUDA ? "cuda" : "cpu";
}

/* cJSON_Add*ToObject returns NULL on allocation failure; the first failure is remembered and
 * the document discarded at the end. */
typedef struct builder {
    int failed;
} builder;

static cJSON *add_obj(builder *b, cJSON *parent, const char *key) {
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    if (!o) b->failed = 1;
    return o;
}
static cJSON *add_arr(builder *b, cJSON *parent, const char *key) {
    cJSON *o = cJSON_AddArrayToObject(parent, key);
    if (!o) b->failed = 1;
    return o;
}
static void add_num(builder *b, cJSON *parent, const char *key, double v) {
    if (!parent || !cJSON_AddNumberToObject(parent, key, v)) b->failed = 1;
}
static void add_str(builder *b, cJSON *parent, const char *key, const char *v) {
    if (!parent || !cJSON_AddStringToObject(parent, key, v)) b->failed = 1;
}
static void add_bool(builder *b, cJSON *parent, const char *key, int v) {
    if (!parent || !cJSON_AddBoolToObject(parent, key, v)) b->failed = 1;
}
static cJSON *push_obj(builder *b, cJSON *arr) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !arr || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        b->failed = 1;
        return NULL;
    }
    return o;
}

mr_status mr_profile_to_json(const mr_profile *p, char **out, mr_err *err) {
    *out = NULL;
    builder b = {0};
    char hs[17];
    cJSON *root = cJSON_CreateObject();
    if (!root) return mr_errf(err, MR_ERR_NO_MEMORY, "out of memory writing a profile");
    add_str(&b, root, "format", "miriam-profile");
    add_num(&b, root, "version", MR_PROFILE_VERSION);
    cJSON *model = add_obj(&b, root, "model");
    mr_profile_hash_str(p->model_hash, hs);
    add_str(&b, model, "hash", hs);
    add_str(&b, model, "name", p->model);
    add_num(&b, model, "steps", p->n_steps);
    const mr_profile_device *d = &p->device;
    cJSON *dev = add_obj(&b, root, "device");
    add_str(&b, dev, "key", d->key);
    add_str(&b, dev, "backend", backend_name(d->backend));
    add_str(&b, dev, "name", d->name);
    add_num(&b, dev, "units", d->units);
    if (d->backend == MR_PROFILE_CUDA) {
        add_str(&b, dev, "precision", mr_precision_name(d->precision));
        cJSON *sm = add_obj(&b, dev, "sm");
        add_num(&b, sm, "threads", d->sm_threads);
        add_num(&b, sm, "regs", d->sm_regs);
        add_num(&b, sm, "smem", d->sm_smem);
        add_num(&b, sm, "blocks", d->sm_blocks);
        add_num(&b, sm, "smem_reserved", d->smem_reserved);
    }
    cJSON *tun = add_obj(&b, root, "tuning");
    add_num(&b, tun, "repeat", p->repeat);
    add_bool(&b, tun, "quick", p->quick);
    add_num(&b, tun, "wall_s", p->wall_s);
    cJSON *ents = add_arr(&b, root, "entries");
    for (int i = 0; i < p->n_entries && !b.failed; i++) {
        const mr_profile_entry *e = &p->entries[i];
        cJSON *eo = push_obj(&b, ents);
        add_num(&b, eo, "step", e->step);
        add_num(&b, eo, "phase", e->phase);
        add_num(&b, eo, "phases", e->n_phases);
        add_str(&b, eo, "op", e->op);
        add_num(&b, eo, "blocks", (double)e->phase_blocks);
        add_num(&b, eo, "candidates", (double)e->candidates);
        cJSON *vars = add_arr(&b, eo, "variants");
        for (int v = 0; v < e->n_variants && !b.failed; v++) {
            const mr_profile_variant *pv = &e->variants[v];
            cJSON *vo = push_obj(&b, vars);
            if (d->backend == MR_PROFILE_CUDA) {
                add_num(&b, vo, "threads", pv->threads);
                add_num(&b, vo, "regs", pv->regs);
                add_num(&b, vo, "smem", pv->smem);
                add_num(&b, vo, "blocks_per_sm", pv->blocks_per_sm);
            }
            add_num(&b, vo, "full_blocks", pv->full_blocks);
            add_num(&b, vo, "block_us", pv->block_us);
        }
        cJSON *pts = add_arr(&b, eo, "points");
        for (int k = 0; k < e->n_points && !b.failed; k++) {
            const mr_profile_point *pt = &e->points[k];
            cJSON *po = push_obj(&b, pts);
            add_num(&b, po, "variant", pt->variant);
            add_num(&b, po, "blocks", pt->blocks);
            add_num(&b, po, "shard_blocks", (double)pt->shard_blocks);
            add_num(&b, po, "block_us", pt->block_us);
            add_num(&b, po, "shard_us", pt->shard_us);
            add_num(&b, po, "rel_throughput", pt->rel_throughput);
            add_num(&b, po, "overhead_us", pt->overhead_us);
        }
    }
    char *text = b.failed ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return mr_errf(err, MR_ERR_NO_MEMORY, "out of memory writing a profile");
    *out = text;
    return MR_OK;
}

mr_status mr_profile_save(const mr_profile *p, const char *path, mr_err *err) {
    char *text;
    MR_TRY(mr_profile_to_json(p, &text, err));
    /* Write a sibling temporary file and rename it over the target, so a reader (another
     * process loading its profile at task creation) never sees half a file. */
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        free(text);
        return mr_errf(err, MR_ERR_NO_MEMORY, "out of memory writing %s", path);
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    mr_status st = MR_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = mr_errf(err, MR_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        size_t len = strlen(text);
        int bad = fwrite(text, 1, len, f) != len || fputc('\n', f) == EOF;
        bad |= fclose(f) != 0;
        if (bad)
            st = mr_errf(err, MR_ERR_IO, "cannot write %s", tmp);
        else if (rename(tmp, path) != 0)
            st = mr_errf(err, MR_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        if (st != MR_OK) remove(tmp);
    }
    free(tmp);
    free(text);
    return st;
}

mr_status mr_profile_save_cached(const mr_profile *p, char *path_out, size_t path_size,
                                 mr_err *err) {
    char dir[4096], path[4096 + 256];
    MR_TRY(mr_profile_cache_dir(dir, sizeof dir, err));
    MR_TRY(make_dirs(dir, err));
    MR_TRY(mr_profile_cache_path(p->model_hash, p->device.key, path, sizeof path, err));
    MR_TRY(mr_profile_save(p, path, err));
    if (path_out && path_size) snprintf(path_out, path_size, "%s", path);
    return MR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading                                                                                  */

typedef struct parse_ctx {
    const char *file;
    mr_err *err;
} parse_ctx;

/* "file: PATH: message" (or "file: message" for the document itself). */
static mr_status fail(const parse_ctx *c, const char *path, const char *fmt, ...) MR_PRINTF(3, 4);
static mr_status fail(const parse_ctx *c, const char *path, const char *fmt, ...) {
    char msg[MR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path) return mr_errf(c->err, MR_ERR_PARSE, "%s: %s: %s", c->file, path, msg);
    return mr_errf(c->err, MR_ERR_PARSE, "%s: %s", c->file, msg);
}

static const char *describe(const cJSON *v, char *buf, size_t size) {
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (strlen(s) > 40)
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

static void join(char *out, const char *base, const char *key) {
    if (base && *base)
        snprintf(out, PATH_LEN, "%s.%s", base, key);
    else
        snprintf(out, PATH_LEN, "%s", key);
}

/* Unknown keys (with the list of the expected ones) and keys given twice are errors. */
static mr_status check_keys(const parse_ctx *c, const cJSON *obj, const char *path,
                            const char *const *allowed) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        const char *k = it->string ? it->string : "";
        int known = 0;
        for (int i = 0; allowed[i]; i++)
            if (strcmp(k, allowed[i]) == 0) known = 1;
        if (!known) {
            char list[256] = "";
            size_t len = 0;
            for (int i = 0; allowed[i] && len < sizeof list; i++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                        allowed[i]);
            return fail(c, path, "unknown key \"%.64s\" (expected: %s)", k, list);
        }
        for (const cJSON *p = obj->child; p != it; p = p->next)
            if (p->string && strcmp(p->string, k) == 0)
                return fail(c, path, "key \"%s\" is given twice", k);
    }
    return MR_OK;
}

static mr_status get_item(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                          const cJSON **out) {
    *out = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!*out) return fail(c, path, "missing required key \"%s\"", key);
    return MR_OK;
}

static mr_status get_object(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                            const cJSON **out) {
    char p[PATH_LEN], got[64];
    MR_TRY(get_item(c, obj, path, key, out));
    join(p, path, key);
    if (!cJSON_IsObject(*out))
        return fail(c, p, "must be an object (got %s)", describe(*out, got, sizeof got));
    return MR_OK;
}

static mr_status get_array(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                           const cJSON **out) {
    char p[PATH_LEN], got[64];
    MR_TRY(get_item(c, obj, path, key, out));
    join(p, path, key);
    if (!cJSON_IsArray(*out))
        return fail(c, p, "must be an array (got %s)", describe(*out, got, sizeof got));
    return MR_OK;
}

static mr_status get_int(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                         double lo, double hi, int64_t *out) {
    char p[PATH_LEN], got[64];
    const cJSON *v;
    MR_TRY(get_item(c, obj, path, key, &v));
    join(p, path, key);
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || !isfinite(x) || x != floor(x) || x < lo || x > hi)
        return fail(c, p, "must be an integer in [%.0f, %.0f] (got %s)", lo, hi,
                    describe(v, got, sizeof got));
    *out = (int64_t)x;
    return MR_OK;
}

static mr_status get_int32(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                           double lo, double hi, int *out) {
    int64_t v;
    MR_TRY(get_int(c, obj, path, key, lo, hi, &v));
    *out = (int)v;
    return MR_OK;
}

/* A finite number >= lo (> lo when lo_open). */
static mr_status get_num(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                         double lo, int lo_open, double *out) {
    char p[PATH_LEN], got[64];
    const cJSON *v;
    MR_TRY(get_item(c, obj, path, key, &v));
    join(p, path, key);
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || !isfinite(x) || (lo_open ? !(x > lo) : !(x >= lo)))
        return fail(c, p, "must be a number %s %g (got %s)", lo_open ? ">" : ">=", lo,
                    describe(v, got, sizeof got));
    *out = x;
    return MR_OK;
}

static mr_status get_str(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                         int allow_empty, char *out, size_t size) {
    char p[PATH_LEN], got[64];
    const cJSON *v;
    MR_TRY(get_item(c, obj, path, key, &v));
    join(p, path, key);
    if (!cJSON_IsString(v) || !v->valuestring)
        return fail(c, p, "must be a string (got %s)", describe(v, got, sizeof got));
    size_t n = strlen(v->valuestring);
    if (n == 0 && !allow_empty) return fail(c, p, "must not be empty");
    if (n >= size) return fail(c, p, "is too long (%zu bytes, at most %zu)", n, size - 1);
    memcpy(out, v->valuestring, n + 1);
    return MR_OK;
}

static mr_status get_bool(const parse_ctx *c, const cJSON *obj, const char *path, const char *key,
                          int *out) {
    char p[PATH_LEN], got[64];
    const cJSON *v;
    MR_TRY(get_item(c, obj, path, key, &v));
    join(p, path, key);
    if (!cJSON_IsBool(v))
        return fail(c, p, "must be true or false (got %s)", describe(v, got, sizeof got));
    *out = cJSON_IsTrue(v);
    return MR_OK;
}

static mr_status parse_device(const parse_ctx *c, const cJSON *root, mr_profile_device *d) {
    static const char *const keys_cpu[] = {"key", "backend", "name", "units", NULL};
    static const char *const keys_cuda[] = {"key",       "backend", "name", "units",
                                            "precision", "sm",      NULL};
    static const char *const keys_sm[] = {"threads", "regs",          "smem",
                                          "blocks",  "smem_reserved", NULL};
    const cJSON *dev;
    char backend[16], key[MR_PROFILE_KEY_MAX], p[PATH_LEN];
    MR_TRY(get_object(c, root, "", "device", &dev));
    MR_TRY(get_str(c, dev, "device", "backend", 0, backend, sizeof backend));
    if (strcmp(backend, "cpu") == 0)
        d->backend = MR_PROFILE_CPU;
    else if (strcmp(backend, "cuda") == 0)
        d->backend = MR_PROFILE_CUDA;
    else
        return fail(c, "device.backend", "must be \"cpu\" or \"cuda\" (got \"%s\")", backend);
    MR_TRY(check_keys(c, dev, "device", d->backend == MR_PROFILE_CUDA ? keys_cuda : keys_cpu));
    MR_TRY(get_str(c, dev, "device", "key", 0, key, sizeof key));
    MR_TRY(get_str(c, dev, "device", "name", 0, d->name, sizeof d->name));
    MR_TRY(get_int32(c, dev, "device", "units", 1, 1 << 20, &d->units));
    if (d->backend == MR_PROFILE_CUDA) {
        char prec[16];
        MR_TRY(get_str(c, dev, "device", "precision", 0, prec, sizeof prec));
        if (mr_precision_parse(prec, &d->precision) != MR_OK)
            return fail(c, "device.precision", "must be \"fp32\" or \"tf32\" (got \"%s\")", prec);
        const cJSON *sm;
        MR_TRY(get_object(c, dev, "device", "sm", &sm));
        snprintf(p, sizeof p, "device.sm");
        MR_TRY(check_keys(c, sm, p, keys_sm));
        MR_TRY(get_int32(c, sm, p, "threads", 1, 1 << 20, &d->sm_threads));
        MR_TRY(get_int32(c, sm, p, "regs", 1, 1 << 24, &d->sm_regs));
        MR_TRY(get_int32(c, sm, p, "smem", 1, 1 << 30, &d->sm_smem));
        MR_TRY(get_int32(c, sm, p, "blocks", 1, 1 << 20, &d->sm_blocks));
        MR_TRY(get_int32(c, sm, p, "smem_reserved", 0, 1 << 30, &d->smem_reserved));
    }
    mr_profile_device_key(d);
    if (strcmp(key, d->key) != 0)
        return fail(c, "device.key", "\"%s\" does not match the device described (\"%s\")", key,
                    d->key);
    return MR_OK;
}

static mr_status parse_variant(const parse_ctx *c, const mr_profile_device *d, const cJSON *vo,
                               const char *path, mr_profile_variant *v) {
    static const char *const keys_cpu[] = {"full_blocks", "block_us", NULL};
    static const char *const keys_cuda[] = {"threads",     "regs",     "smem", "blocks_per_sm",
                                            "full_blocks", "block_us", NULL};
    char got[64];
    if (!cJSON_IsObject(vo))
        return fail(c, path, "must be an object (got %s)", describe(vo, got, sizeof got));
    MR_TRY(check_keys(c, vo, path, d->backend == MR_PROFILE_CUDA ? keys_cuda : keys_cpu));
    if (d->backend == MR_PROFILE_CUDA) {
        MR_TRY(get_int32(c, vo, path, "threads", 1, 1 << 20, &v->threads));
        MR_TRY(get_int32(c, vo, path, "regs", 0, 1 << 20, &v->regs));
        MR_TRY(get_int32(c, vo, path, "smem", 0, 1 << 30, &v->smem));
        MR_TRY(get_int32(c, vo, path, "blocks_per_sm", 1, 1 << 20, &v->blocks_per_sm));
    }
    MR_TRY(get_int32(c, vo, path, "full_blocks", 1, 2147483647.0, &v->full_blocks));
    MR_TRY(get_num(c, vo, path, "block_us", 0, 0, &v->block_us));
    return MR_OK;
}

static mr_status parse_point(const parse_ctx *c, const mr_profile_entry *e, const cJSON *po,
                             const char *path, mr_profile_point *pt) {
    static const char *const keys[] = {"variant",  "blocks",         "shard_blocks", "block_us",
                                       "shard_us", "rel_throughput", "overhead_us",  NULL};
    char got[64];
    if (!cJSON_IsObject(po))
        return fail(c, path, "must be an object (got %s)", describe(po, got, sizeof got));
    MR_TRY(check_keys(c, po, path, keys));
    MR_TRY(get_int32(c, po, path, "variant", 0, e->n_variants - 1, &pt->variant));
    MR_TRY(get_int32(c, po, path, "blocks", 1, 2147483647.0, &pt->blocks));
    MR_TRY(get_int(c, po, path, "shard_blocks", 1, (double)e->phase_blocks, &pt->shard_blocks));
    MR_TRY(get_num(c, po, path, "block_us", 0, 0, &pt->block_us));
    MR_TRY(get_num(c, po, path, "shard_us", 0, 1, &pt->shard_us));
    MR_TRY(get_num(c, po, path, "rel_throughput", 0, 1, &pt->rel_throughput));
    MR_TRY(get_num(c, po, path, "overhead_us", 0, 0, &pt->overhead_us));
    return MR_OK;
}

static mr_status parse_entry(const parse_ctx *c, const mr_profile *prof, const cJSON *eo,
                             const char *path, mr_profile_entry *e) {
    static const char *const keys[] = {"step",       "phase",    "phases", "op", "blocks",
                                       "candidates", "variants", "points", NULL};
    char got[64], p[PATH_LEN], q[PATH_LEN];
    if (!cJSON_IsObject(eo))
        return fail(c, path, "must be an object (got %s)", describe(eo, got, sizeof got));
    MR_TRY(check_keys(c, eo, path, keys));
    MR_TRY(get_int32(c, eo, path, "step", 0, prof->n_steps - 1, &e->step));
    MR_TRY(get_int32(c, eo, path, "phases", 1, 2147483647.0, &e->n_phases));
    MR_TRY(get_int32(c, eo, path, "phase", 0, e->n_phases - 1, &e->phase));
    MR_TRY(get_str(c, eo, path, "op", 0, e->op, sizeof e->op));
    MR_TRY(get_int(c, eo, path, "blocks", 1, MAX_EXACT, &e->phase_blocks));
    MR_TRY(get_int(c, eo, path, "candidates", 1, MAX_EXACT, &e->candidates));
    const cJSON *vars, *pts;
    MR_TRY(get_array(c, eo, path, "variants", &vars));
    join(p, path, "variants");
    int nv = cJSON_GetArraySize(vars);
    int max_v = prof->device.backend == MR_PROFILE_CUDA ? MR_PROFILE_MAX_VARIANTS : 1;
    if (nv < 1 || nv > max_v)
        return fail(c, p, "must hold 1 to %d variants on %s (got %d)", max_v,
                    backend_name(prof->device.backend), nv);
    e->n_variants = nv;
    int i = 0;
    for (const cJSON *vo = vars->child; vo; vo = vo->next, i++) {
        snprintf(q, sizeof q, "%s[%d]", p, i);
        MR_TRY(parse_variant(c, &prof->device, vo, q, &e->variants[i]));
    }
    MR_TRY(get_array(c, eo, path, "points", &pts));
    join(p, path, "points");
    int np = cJSON_GetArraySize(pts);
    if (np < 1) return fail(c, p, "must hold at least one point");
    if ((int64_t)np > e->candidates)
        return fail(c, p, "holds %d points, more than the %lld candidates tuned", np,
                    (long long)e->candidates);
    e->points = calloc((size_t)np, sizeof *e->points);
    if (!e->points) return mr_errf(c->err, MR_ERR_NO_MEMORY, "%s: out of memory", c->file);
    e->n_points = np;
    i = 0;
    for (const cJSON *po = pts->child; po; po = po->next, i++) {
        snprintf(q, sizeof q, "%s[%d]", p, i);
        MR_TRY(parse_point(c, e, po, q, &e->points[i]));
    }
    return MR_OK;
}

static mr_status parse_root(const parse_ctx *c, const cJSON *root, mr_profile *prof) {
    static const char *const keys[] = {"format", "version", "model", "device",
                                       "tuning", "entries", NULL};
    static const char *const keys_model[] = {"hash", "name", "steps", NULL};
    static const char *const keys_tuning[] = {"repeat", "quick", "wall_s", NULL};
    char got[64], hs[32], p[PATH_LEN];
    if (!cJSON_IsObject(root))
        return fail(c, NULL, "must be a JSON object (got %s)", describe(root, got, sizeof got));
    MR_TRY(check_keys(c, root, "", keys));
    char format[32];
    MR_TRY(get_str(c, root, "", "format", 0, format, sizeof format));
    if (strcmp(format, "miriam-profile") != 0)
        return fail(c, "format", "must be \"miriam-profile\" (got \"%s\")", format);
    int version;
    MR_TRY(get_int32(c, root, "", "version", 0, 1 << 20, &version));
    if (version != MR_PROFILE_VERSION)
        return fail(c, "version", "%d is not supported (this miriam reads version %d: tune again)",
                    version, MR_PROFILE_VERSION);
    const cJSON *model, *tun, *ents;
    MR_TRY(get_object(c, root, "", "model", &model));
    MR_TRY(check_keys(c, model, "model", keys_model));
    MR_TRY(get_str(c, model, "model", "hash", 0, hs, sizeof hs));
    if (!parse_hash(hs, &prof->model_hash))
        return fail(c, "model.hash", "must be 16 lower-case hex digits (got \"%s\")", hs);
    MR_TRY(get_str(c, model, "model", "name", 1, prof->model, sizeof prof->model));
    MR_TRY(get_int32(c, model, "model", "steps", 1, 2147483647.0, &prof->n_steps));
    MR_TRY(parse_device(c, root, &prof->device));
    MR_TRY(get_object(c, root, "", "tuning", &tun));
    MR_TRY(check_keys(c, tun, "tuning", keys_tuning));
    MR_TRY(get_int32(c, tun, "tuning", "repeat", 1, 1 << 20, &prof->repeat));
    MR_TRY(get_bool(c, tun, "tuning", "quick", &prof->quick));
    MR_TRY(get_num(c, tun, "tuning", "wall_s", 0, 0, &prof->wall_s));
    MR_TRY(get_array(c, root, "", "entries", &ents));
    int n = cJSON_GetArraySize(ents);
    if (n < 1) return fail(c, "entries", "must hold at least one entry");
    prof->entries = calloc((size_t)n, sizeof *prof->entries);
    if (!prof->entries) return mr_errf(c->err, MR_ERR_NO_MEMORY, "%s: out of memory", c->file);
    prof->n_entries = n;
    int i = 0;
    for (const cJSON *eo = ents->child; eo; eo = eo->next, i++) {
        snprintf(p, sizeof p, "entries[%d]", i);
        mr_profile_entry *e = &prof->entries[i];
        MR_TRY(parse_entry(c, prof, eo, p, e));
        /* Sorted and unique, so lookups can rely on it. */
        if (i > 0) {
            const mr_profile_entry *b = &prof->entries[i - 1];
            if (e->step < b->step || (e->step == b->step && e->phase <= b->phase))
                return fail(c, p,
                            "step %d phase %d comes after step %d phase %d: entries must be "
                            "sorted by step and phase, each once",
                            e->step, e->phase, b->step, b->phase);
            if (e->step == b->step && e->n_phases != b->n_phases)
                return fail(c, p, "step %d has %d phases here and %d in entries[%d]", e->step,
                            e->n_phases, b->n_phases, i - 1);
        }
    }
    return MR_OK;
}

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

mr_status mr_profile_parse(const char *data, size_t size, const char *file, mr_profile **out,
                           mr_err *err) {
    parse_ctx c = {file ? file : "<profile>", err};
    if (!out) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_profile_parse: out is NULL");
    *out = NULL;
    if (!data && size > 0) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_profile_parse: no data");
    if (size == 0) return fail(&c, NULL, "empty file (expected a JSON object)");
    if (size > (size_t)PROFILE_MAX_FILE_BYTES)
        return fail(&c, NULL, "larger than %d MiB", PROFILE_MAX_FILE_BYTES >> 20);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, size, &end, 0);
    if (!root) {
        size_t off = end && end >= data && end <= data + size ? (size_t)(end - data) : 0;
        int line, col;
        line_col(data, off, &line, &col);
        return mr_errf(err, MR_ERR_PARSE, "%s:%d:%d: invalid JSON", c.file, line, col);
    }
    size_t off = (size_t)(end - data);
    while (off < size && (data[off] == ' ' || data[off] == '\t' || data[off] == '\n' ||
                          data[off] == '\r' || data[off] == '\0'))
        off++;
    if (off < size) {
        cJSON_Delete(root);
        int line, col;
        line_col(data, off, &line, &col);
        return mr_errf(err, MR_ERR_PARSE, "%s:%d:%d: unexpected text after the JSON value", c.file,
                       line, col);
    }
    mr_profile *p = calloc(1, sizeof *p);
    if (!p) {
        cJSON_Delete(root);
        return mr_errf(err, MR_ERR_NO_MEMORY, "%s: out of memory", c.file);
    }
    mr_status st = parse_root(&c, root, p);
    cJSON_Delete(root);
    if (st != MR_OK) {
        mr_profile_free(p);
        return st;
    }
    *out = p;
    return MR_OK;
}

mr_status mr_profile_load(const char *path, mr_profile **out, mr_err *err) {
    if (!out || !path) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_profile_load: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        mr_status st = errno == ENOENT ? MR_ERR_NOT_FOUND : MR_ERR_IO;
        return mr_errf(err, st, "cannot read %s: %s", path, strerror(errno));
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    mr_status st = MR_OK;
    while (buf) {
        if (n == cap) {
            if (cap > (size_t)PROFILE_MAX_FILE_BYTES) {
                st = mr_errf(err, MR_ERR_PARSE, "%s: larger than %d MiB", path,
                             PROFILE_MAX_FILE_BYTES >> 20);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) st = mr_errf(err, MR_ERR_IO, "cannot read %s", path);
            break;
        }
    }
    fclose(f);
    if (!buf) return mr_errf(err, MR_ERR_NO_MEMORY, "%s: out of memory", path);
    if (st == MR_OK) st = mr_profile_parse(buf, n, path, out, err);
    free(buf);
    return st;
}

mr_status mr_profile_load_cached(uint64_t model_hash, const char *device_key, mr_profile **out,
                                 mr_err *err) {
    char path[4096 + 256];
    *out = NULL;
    MR_TRY(mr_profile_cache_path(model_hash, device_key, path, sizeof path, err));
    mr_profile *p;
    MR_TRY(mr_profile_load(path, &p, err));
    if (p->model_hash != model_hash || strcmp(p->device.key, device_key) != 0) {
        char want[17], got[17];
        mr_profile_hash_str(model_hash, want);
        mr_profile_hash_str(p->model_hash, got);
        mr_errf(err, MR_ERR_PARSE,
                "%s: holds the profile of model %s on %s, not of model %s on %s (the file was "
                "renamed)",
                path, got, p->device.key, want, device_key);
        mr_profile_free(p);
        return MR_ERR_PARSE;
    }
    *out = p;
    return MR_OK;
}

mr_status mr_profile_for_model(mr_model *m, mr_profile **out, mr_err *err) {
    if (!m || !out) return mr_errf(err, MR_ERR_INVALID_ARG, "mr_profile_for_model: NULL argument");
    *out = NULL;
    mr_profile_device dev;
    MR_TRY(mr_profile_runtime_device(mr_model_runtime(m), &dev, err));
    const mr_graph *g = mr_model_graph(m);
    mr_profile *p;
    MR_TRY(mr_profile_load_cached(mr_profile_model_hash(g), dev.key, &p, err));
    if (p->n_steps != g->n_order) {
        mr_errf(err, MR_ERR_PARSE, "the cached profile has %d steps, the model %d: tune again",
                p->n_steps, g->n_order);
        mr_profile_free(p);
        return MR_ERR_PARSE;
    }
    *out = p;
    return MR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Lookups                                                                                  */

const mr_profile_entry *mr_profile_find(const mr_profile *p, int step, int phase) {
    if (!p || step < 0 || phase < 0) return NULL;
    /* Binary search for the first entry at or after (step, phase'). */
    int lo = 0, hi = p->n_entries;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const mr_profile_entry *e = &p->entries[mid];
        if (e->step < step)
            lo = mid + 1;
        else
            hi = mid;
    }
    const mr_profile_entry *phase1 = NULL;
    for (int i = lo; i < p->n_entries && p->entries[i].step == step; i++) {
        const mr_profile_entry *e = &p->entries[i];
        if (phase >= e->n_phases) return NULL;
        if (e->phase == phase) return e;
        if (e->phase == 1) phase1 = e;
    }
    return phase >= 2 ? phase1 : NULL;
}

/* Registers of one block as the SM allocates them: per warp, in units of 256. */
static long long block_regs(int threads, int regs) {
    long long warps = (threads + 31) / 32;
    long long per_warp = ((long long)regs * 32 + 255) / 256 * 256;
    return warps * per_warp;
}

mr_profile_res mr_profile_point_footprint(const mr_profile_device *dev, const mr_profile_entry *e,
                                          const mr_profile_point *pt) {
    mr_profile_res r = {0, 0, 0, 0};
    if (dev->backend == MR_PROFILE_CPU) {
        r.threads = pt->blocks;
        return r;
    }
    const mr_profile_variant *v = &e->variants[pt->variant];
    long long sms = dev->units > 0 ? dev->units : 1;
    long long k = (pt->blocks + sms - 1) / sms; /* blocks per SM */
    r.threads = k * v->threads;
    r.regs = k * block_regs(v->threads, v->regs);
    r.smem = k * ((long long)v->smem + dev->smem_reserved);
    r.blocks = k;
    return r;
}

int mr_profile_footprint_le(const mr_profile_res *a, const mr_profile_res *b) {
    return a->threads <= b->threads && a->regs <= b->regs && a->smem <= b->smem &&
           a->blocks <= b->blocks;
}

int mr_profile_dominates(const mr_profile_device *dev, const mr_profile_entry *e,
                         const mr_profile_point *a, const mr_profile_point *b) {
    mr_profile_res fa = mr_profile_point_footprint(dev, e, a);
    mr_profile_res fb = mr_profile_point_footprint(dev, e, b);
    if (!mr_profile_footprint_le(&fa, &fb) || a->shard_us > b->shard_us ||
        a->rel_throughput < b->rel_throughput)
        return 0;
    int smaller =
        fa.threads < fb.threads || fa.regs < fb.regs || fa.smem < fb.smem || fa.blocks < fb.blocks;
    return smaller || a->shard_us < b->shard_us || a->rel_throughput > b->rel_throughput;
}

/* Does the point fit in `left`? CUDA: as the engine fits blocks beside critical kernels. */
static int point_fits(const mr_profile_device *dev, const mr_profile_entry *e,
                      const mr_profile_point *pt, const mr_profile_res *left) {
    if (dev->backend == MR_PROFILE_CPU) return pt->blocks <= left->threads;
    if (left->threads <= 0 || left->regs <= 0 || left->smem <= 0 || left->blocks <= 0) return 0;
    mr_profile_res need = mr_profile_point_footprint(dev, e, pt);
    return mr_profile_footprint_le(&need, left);
}

int mr_profile_shard(const mr_profile *p, int step, int phase, const mr_profile_res *left,
                     double max_duration_us, int *variant, int *blocks, int64_t *shard_blocks) {
    if (!p || !left) return 0;
    const mr_profile_entry *e = mr_profile_find(p, step, phase);
    if (!e) return 0;
    const mr_profile_point *best = NULL;
    for (int i = 0; i < e->n_points; i++) {
        const mr_profile_point *pt = &e->points[i];
        if (max_duration_us > 0 && pt->shard_us > max_duration_us) continue;
        if (!point_fits(&p->device, e, pt, left)) continue;
        if (!best || pt->rel_throughput > best->rel_throughput ||
            (pt->rel_throughput == best->rel_throughput && pt->shard_us < best->shard_us))
            best = pt;
    }
    if (!best) return 0;
    if (variant) *variant = best->variant;
    if (blocks) *blocks = best->blocks;
    if (shard_blocks) *shard_blocks = best->shard_blocks;
    return 1;
}

double mr_profile_block_us(const mr_profile *p, int step, int phase, int variant) {
    const mr_profile_entry *e = mr_profile_find(p, step, phase);
    if (!e || variant < 0 || variant >= e->n_variants) return -1;
    return e->variants[variant].block_us;
}
