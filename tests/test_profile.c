/* Kernel profiles (src/elastic/profile.h): the JSON format round trip, strict validation with
 * the JSON path in every message, the cache directory and file names, lookups (misses, the
 * phase-1 stand-in for later RNN phases, mr_profile_shard and mr_profile_block_us on a
 * hand-written profile) and the stability of the model hash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elastic/profile.h"
#include "model.h"
#include "testutil.h"

/* A CUDA profile of a 4-SM device. Step 0 has two variants and four points whose footprints
 * per SM are (threads, registers, shared memory + 1 KiB reserved, blocks):
 *   [0] v0 P=8  -> 2 blocks: 512, 32768, 67584, 2   100 us, rel 1.0
 *   [1] v0 P=4  -> 1 block:  256, 16384, 33792, 1    20 us, rel 0.8
 *   [2] v1 P=4  -> 1 block:  128,  4096,  9216, 1    10 us, rel 0.5
 *   [3] v1 P=16 -> 4 blocks: 512, 16384, 36864, 4    30 us, rel 0.9
 * Step 2 is an RNN of 51 phases with phases 0 and 1 tuned. */
static const char *base_json =
    "{\n"
    "  \"format\": \"miriam-profile\",\n"
    "  \"version\": 1,\n"
    "  \"model\": {\"hash\": \"00000000000000ab\", \"name\": \"hand-written\", \"steps\": 3},\n"
    "  \"device\": {\"key\": \"cuda_Test-GPU_4sm_fp32\", \"backend\": \"cuda\", \"name\": \"Test "
    "GPU\",\n"
    "             \"units\": 4, \"precision\": \"fp32\",\n"
    "             \"sm\": {\"threads\": 2048, \"regs\": 65536, \"smem\": 233472, \"blocks\": 32,\n"
    "                    \"smem_reserved\": 1024}},\n"
    "  \"tuning\": {\"repeat\": 5, \"quick\": false, \"wall_s\": 1.5},\n"
    "  \"entries\": [\n"
    "    {\"step\": 0, \"phase\": 0, \"phases\": 1, \"op\": \"Conv+Relu\", \"blocks\": 64,\n"
    "     \"candidates\": 40,\n"
    "     \"variants\": [\n"
    "       {\"threads\": 256, \"regs\": 64, \"smem\": 32768, \"blocks_per_sm\": 2,\n"
    "        \"full_blocks\": 8, \"block_us\": 12.5},\n"
    "       {\"threads\": 128, \"regs\": 32, \"smem\": 8192, \"blocks_per_sm\": 8,\n"
    "        \"full_blocks\": 32, \"block_us\": 7.25}],\n"
    "     \"points\": [\n"
    "       {\"variant\": 0, \"blocks\": 8, \"shard_blocks\": 64, \"block_us\": 12.5,\n"
    "        \"shard_us\": 100, \"rel_throughput\": 1, \"overhead_us\": 3},\n"
    "       {\"variant\": 0, \"blocks\": 4, \"shard_blocks\": 8, \"block_us\": 9,\n"
    "        \"shard_us\": 20, \"rel_throughput\": 0.8, \"overhead_us\": 2.5},\n"
    "       {\"variant\": 1, \"blocks\": 4, \"shard_blocks\": 4, \"block_us\": 7,\n"
    "        \"shard_us\": 10, \"rel_throughput\": 0.5, \"overhead_us\": 2},\n"
    "       {\"variant\": 1, \"blocks\": 16, \"shard_blocks\": 32, \"block_us\": 7.5,\n"
    "        \"shard_us\": 30, \"rel_throughput\": 0.9, \"overhead_us\": 2.75}]},\n"
    "    {\"step\": 2, \"phase\": 0, \"phases\": 51, \"op\": \"LSTM\", \"blocks\": 32, "
    "\"candidates\": 8,\n"
    "     \"variants\": [{\"threads\": 256, \"regs\": 96, \"smem\": 0, \"blocks_per_sm\": 2,\n"
    "                   \"full_blocks\": 8, \"block_us\": 4}],\n"
    "     \"points\": [{\"variant\": 0, \"blocks\": 8, \"shard_blocks\": 32, \"block_us\": 4,\n"
    "                 \"shard_us\": 18, \"rel_throughput\": 1, \"overhead_us\": 2}]},\n"
    "    {\"step\": 2, \"phase\": 1, \"phases\": 51, \"op\": \"LSTM\", \"blocks\": 16, "
    "\"candidates\": 8,\n"
    "     \"variants\": [{\"threads\": 256, \"regs\": 96, \"smem\": 0, \"blocks_per_sm\": 2,\n"
    "                   \"full_blocks\": 8, \"block_us\": 1.5}],\n"
    "     \"points\": [{\"variant\": 0, \"blocks\": 8, \"shard_blocks\": 16, \"block_us\": 1.5,\n"
    "                 \"shard_us\": 5, \"rel_throughput\": 1, \"overhead_us\": 2}]}\n"
    "  ]\n"
    "}\n";

static const char *cpu_json =
    "{\"format\": \"miriam-profile\", \"version\": 1,\n"
    " \"model\": {\"hash\": \"0123456789abcdef\", \"name\": \"\", \"steps\": 1},\n"
    " \"device\": {\"key\": \"cpu_4t\", \"backend\": \"cpu\", \"name\": \"cpu\", \"units\": 4},\n"
    " \"tuning\": {\"repeat\": 3, \"quick\": true, \"wall_s\": 0.25},\n"
    " \"entries\": [{\"step\": 0, \"phase\": 0, \"phases\": 1, \"op\": \"Gemm\", \"blocks\": 100,\n"
    "   \"candidates\": 6, \"variants\": [{\"full_blocks\": 4, \"block_us\": 10}],\n"
    "   \"points\": [\n"
    "     {\"variant\": 0, \"blocks\": 1, \"shard_blocks\": 100, \"block_us\": 9, \"shard_us\": "
    "905,\n"
    "      \"rel_throughput\": 0.28, \"overhead_us\": 4},\n"
    "     {\"variant\": 0, \"blocks\": 4, \"shard_blocks\": 100, \"block_us\": 10, \"shard_us\": "
    "255,\n"
    "      \"rel_throughput\": 1, \"overhead_us\": 6}]}]}";

static char tmpdir[64];

static mr_profile *parse_ok(const char *text, const char *what) {
    mr_profile *p = NULL;
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_profile_parse(text, strlen(text), what, &p, &err);
    CHECK_MSG(st == MR_OK, "%s: %s", what, err.msg);
    return p;
}

/* base_json with the first occurrence of `from` replaced by `to`. */
static char *mutate(const char *base, const char *from, const char *to) {
    const char *at = strstr(base, from);
    CHECK_MSG(at != NULL, "the test text lacks '%s'", from);
    if (!at) return NULL;
    size_t nb = strlen(base), nf = strlen(from), nt = strlen(to);
    char *s = malloc(nb - nf + nt + 1);
    size_t pre = (size_t)(at - base);
    memcpy(s, base, pre);
    memcpy(s + pre, to, nt);
    memcpy(s + pre + nt, at + nf, nb - pre - nf + 1);
    return s;
}

static void expect_bad(int line, const char *text, const char *needle) {
    mr_profile *p = NULL;
    mr_err err;
    mr_err_clear(&err);
    mr_status st = mr_profile_parse(text, text ? strlen(text) : 0, "bad.json", &p, &err);
    mr_test_checks++;
    if (st != MR_ERR_PARSE || p != NULL || strncmp(err.msg, "bad.json", 8) != 0 ||
        !strstr(err.msg, needle)) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: expected a parse error with '%s', got status %d: %s\n", __FILE__,
                line, needle, (int)st, err.msg);
    }
    mr_profile_free(p);
}

#define EXPECT_BAD_MUT(from, to, needle)                                                           \
    do {                                                                                           \
        char *t_ = mutate(base_json, from, to);                                                    \
        if (t_) expect_bad(__LINE__, t_, needle);                                                  \
        free(t_);                                                                                  \
    } while (0)

static int same_profile(const mr_profile *a, const mr_profile *b) {
    if (a->model_hash != b->model_hash || strcmp(a->model, b->model) || a->n_steps != b->n_steps ||
        a->repeat != b->repeat || a->quick != b->quick || a->wall_s != b->wall_s ||
        a->n_entries != b->n_entries || memcmp(&a->device, &b->device, sizeof a->device))
        return 0;
    for (int i = 0; i < a->n_entries; i++) {
        const mr_profile_entry *x = &a->entries[i], *y = &b->entries[i];
        if (x->step != y->step || x->phase != y->phase || x->n_phases != y->n_phases ||
            x->phase_blocks != y->phase_blocks || strcmp(x->op, y->op) ||
            x->n_variants != y->n_variants || x->candidates != y->candidates ||
            x->n_points != y->n_points ||
            memcmp(x->variants, y->variants, sizeof x->variants[0] * (size_t)x->n_variants) ||
            memcmp(x->points, y->points, sizeof x->points[0] * (size_t)x->n_points))
            return 0;
    }
    return 1;
}

static void test_round_trip(void) {
    const char *texts[] = {base_json, cpu_json};
    for (int k = 0; k < 2; k++) {
        mr_profile *p = parse_ok(texts[k], k ? "cpu" : "cuda");
        if (!p) continue;
        mr_err err;
        mr_err_clear(&err);
        char *j1 = NULL, *j2 = NULL;
        CHECK(mr_profile_to_json(p, &j1, &err) == MR_OK);
        mr_profile *q = j1 ? parse_ok(j1, "written") : NULL;
        CHECK(q && same_profile(p, q));
        if (q) CHECK(mr_profile_to_json(q, &j2, &err) == MR_OK);
        CHECK(j1 && j2 && strcmp(j1, j2) == 0);
        /* Through a file. */
        char path[128];
        snprintf(path, sizeof path, "%s/rt%d.json", tmpdir, k);
        CHECK(mr_profile_save(p, path, &err) == MR_OK);
        mr_profile *r = NULL;
        CHECK_MSG(mr_profile_load(path, &r, &err) == MR_OK, "%s", err.msg);
        CHECK(r && same_profile(p, r));
        unlink(path);
        mr_profile_free(r);
        mr_profile_free(q);
        mr_profile_free(p);
        free(j1);
        free(j2);
    }
    /* What the hand-written one holds. */
    mr_profile *p = parse_ok(base_json, "cuda");
    if (p) {
        CHECK(p->model_hash == 0xab);
        CHECK(strcmp(p->device.key, "cuda_Test-GPU_4sm_fp32") == 0);
        CHECK(p->device.units == 4 && p->device.smem_reserved == 1024);
        CHECK(p->n_entries == 3 && p->entries[0].n_points == 4 && p->entries[0].n_variants == 2);
        CHECK(p->entries[0].variants[1].full_blocks == 32);
        CHECK(p->entries[0].points[3].shard_us == 30 && p->entries[0].points[1].overhead_us == 2.5);
    }
    mr_profile_free(p);
}

static void test_bad_files(void) {
    EXPECT_BAD_MUT("\"shard_us\": 20", "\"shard_us\": \"20\"",
                   "entries[0].points[1].shard_us: must be a number > 0 (got \"20\")");
    EXPECT_BAD_MUT("\"rel_throughput\": 0.5", "\"rel_throughput\": 0.5, \"speed\": 1",
                   "entries[0].points[2]: unknown key \"speed\"");
    EXPECT_BAD_MUT("\"version\": 1", "\"version\": 2", "version: 2 is not supported");
    EXPECT_BAD_MUT("00000000000000ab", "00000000000000AB", "model.hash: must be 16 lower-case");
    EXPECT_BAD_MUT("\"units\": 4", "\"units\": 8",
                   "device.key: \"cuda_Test-GPU_4sm_fp32\" does "
                   "not match");
    EXPECT_BAD_MUT("\"variant\": 1, \"blocks\": 16", "\"variant\": 2, \"blocks\": 16",
                   "entries[0].points[3].variant: must be an integer in [0, 1]");
    EXPECT_BAD_MUT("\"step\": 2, \"phase\": 1", "\"step\": 2, \"phase\": 0",
                   "entries[2]: step 2 phase 0 comes after step 2 phase 0");
    EXPECT_BAD_MUT("\"step\": 2, \"phase\": 0", "\"step\": 3, \"phase\": 0",
                   "entries[1].step: must be an integer in [0, 2]");
    EXPECT_BAD_MUT("\"shard_blocks\": 64", "\"shard_blocks\": 65",
                   "entries[0].points[0].shard_blocks: must be an integer in [1, 64]");
    EXPECT_BAD_MUT("\"format\": \"miriam-profile\"", "\"format\": \"other\"", "format: must be");
    EXPECT_BAD_MUT("\"quick\": false", "\"quick\": 0", "tuning.quick: must be true or false");
    EXPECT_BAD_MUT("\"precision\": \"fp32\"", "\"precision\": \"fp16\"", "device.precision");
    EXPECT_BAD_MUT("\"candidates\": 40,", "", "entries[0]: missing required key \"candidates\"");
    EXPECT_BAD_MUT("\"step\": 0, \"phase\": 0,", "\"step\": 0, \"step\": 0, \"phase\": 0,",
                   "entries[0]: key \"step\" is given twice");
    EXPECT_BAD_MUT("\"block_us\": 12.5,\n        \"shard_us\"", "\"block_us\": -1,\n \"shard_us\"",
                   "entries[0].points[0].block_us: must be a number >= 0 (got -1)");
    EXPECT_BAD_MUT("\"backend\": \"cuda\"", "\"backend\": \"cpu\"",
                   "device: unknown key \"precision\"");
    EXPECT_BAD_MUT("\"blocks_per_sm\": 8,", "\"blocks_per_sm\": 8, \"bpsm\": 1,",
                   "entries[0].variants[1]: unknown key \"bpsm\"");
    EXPECT_BAD_MUT("\"candidates\": 40", "\"candidates\": 3",
                   "entries[0].points: holds 4 points, more than the 3 candidates");
    EXPECT_BAD_MUT("\"points\": [{\"variant\": 0, \"blocks\": 8, \"shard_blocks\": 32",
                   "\"points\": 1, \"x\": [{\"variant\": 0, \"blocks\": 8, \"shard_blocks\": 32",
                   "entries[1]: unknown key \"x\"");
    EXPECT_BAD_MUT("\"wall_s\": 1.5", "\"wall_s\": null", "tuning.wall_s: must be a number >= 0");
    /* Not JSON, or more than one value. */
    char half[64];
    snprintf(half, sizeof half, "%.40s", base_json);
    expect_bad(__LINE__, half, "invalid JSON");
    size_t nb = strlen(base_json);
    char *trail = malloc(nb + 3);
    memcpy(trail, base_json, nb);
    memcpy(trail + nb, "[]", 3);
    expect_bad(__LINE__, trail, "unexpected text after the JSON value");
    free(trail);
    expect_bad(__LINE__, "", "empty file");
    expect_bad(__LINE__, "[1]", "must be a JSON object (got an array)");
    /* A missing file is MR_ERR_NOT_FOUND, with the path. */
    mr_profile *p = NULL;
    mr_err err;
    mr_err_clear(&err);
    char path[128];
    snprintf(path, sizeof path, "%s/none.json", tmpdir);
    CHECK_STATUS(mr_profile_load(path, &p, &err), MR_ERR_NOT_FOUND, err.msg, "none.json");
    CHECK(p == NULL);
}

static void test_lookups(void) {
    mr_profile *p = parse_ok(base_json, "cuda");
    if (!p) return;
    /* Misses. */
    CHECK(mr_profile_find(p, 1, 0) == NULL);  /* step not tuned */
    CHECK(mr_profile_find(p, 3, 0) == NULL);  /* past the last step */
    CHECK(mr_profile_find(p, -1, 0) == NULL); /* nonsense */
    CHECK(mr_profile_find(p, 0, 1) == NULL);  /* step 0 has one phase */
    CHECK(mr_profile_find(p, 2, 51) == NULL); /* step 2 has 51 */
    CHECK(mr_profile_find(NULL, 0, 0) == NULL);
    CHECK(mr_profile_block_us(p, 1, 0, 0) == -1);
    CHECK(mr_profile_block_us(p, 0, 0, 2) == -1);
    CHECK(mr_profile_block_us(p, 0, 0, -1) == -1);
    /* Hits; phases >= 2 stand in for phase 1. */
    CHECK(mr_profile_find(p, 2, 0) == &p->entries[1]);
    CHECK(mr_profile_find(p, 2, 1) == &p->entries[2]);
    CHECK(mr_profile_find(p, 2, 2) == &p->entries[2]);
    CHECK(mr_profile_find(p, 2, 50) == &p->entries[2]);
    CHECK(mr_profile_block_us(p, 0, 0, 0) == 12.5);
    CHECK(mr_profile_block_us(p, 0, 0, 1) == 7.25);
    CHECK(mr_profile_block_us(p, 2, 0, 0) == 4);
    CHECK(mr_profile_block_us(p, 2, 17, 0) == 1.5);

    /* mr_profile_shard: the best throughput that fits the leftover and the duration bound. */
    const mr_profile_res all = {2048, 65536, 233472, 32};
    int v = -7, P = -7;
    int64_t S = -7;
#define SHARD(left, bound, want)                                                                   \
    do {                                                                                           \
        mr_profile_res l_ = left;                                                                  \
        v = -7, P = -7, S = -7;                                                                    \
        int got_ = mr_profile_shard(p, 0, 0, &l_, bound, &v, &P, &S);                              \
        int w_ = want;                                                                             \
        if (w_ < 0) {                                                                              \
            CHECK_MSG(got_ == 0 && v == -7 && P == -7 && S == -7,                                  \
                      "expected no point, got %d:%d/%lld", v, P, (long long)S);                    \
        } else {                                                                                   \
            const mr_profile_point *pt_ = &p->entries[0].points[w_];                               \
            CHECK_MSG(got_ == 1 && v == pt_->variant && P == pt_->blocks &&                        \
                          S == pt_->shard_blocks,                                                  \
                      "expected point %d, got %d (%d:%d/%lld)", w_, got_, v, P, (long long)S);     \
        }                                                                                          \
    } while (0)
    SHARD(all, 0, 0);                                          /* no bound: the full-width launch */
    SHARD(all, 100, 0);                                        /* a bound it meets */
    SHARD(all, 50, 3);                                         /* 30 us at 0.9 */
    SHARD(all, 25, 1);                                         /* 20 us at 0.8 */
    SHARD(all, 15, 2);                                         /* 10 us at 0.5 */
    SHARD(all, 5, -1);                                         /* nothing is that short */
    SHARD(((mr_profile_res){300, 65536, 233472, 32}), 0, 1);   /* one v0 block per SM */
    SHARD(((mr_profile_res){200, 65536, 233472, 32}), 0, 2);   /* only the small tile */
    SHARD(((mr_profile_res){2048, 16384, 233472, 32}), 0, 3);  /* registers rule out [0] */
    SHARD(((mr_profile_res){2048, 65536, 9000, 32}), 0, -1);   /* 9216 bytes with reservation */
    SHARD(((mr_profile_res){2048, 65536, 9216, 32}), 0, 2);    /* exactly enough */
    SHARD(((mr_profile_res){2048, 65536, 233472, 1}), 0, 1);   /* one block slot */
    SHARD(((mr_profile_res){0, 65536, 233472, 32}), 0, -1);    /* nothing left */
    SHARD(((mr_profile_res){2048, 65536, 233472, -3}), 0, -1); /* over-committed */
#undef SHARD
    /* Untuned step: no point. */
    CHECK(mr_profile_shard(p, 1, 0, &all, 0, &v, &P, &S) == 0);
    /* Later RNN phases use phase 1's points. */
    CHECK(mr_profile_shard(p, 2, 30, &all, 0, &v, &P, &S) == 1 && P == 8 && S == 16);
    mr_profile_free(p);

    /* On a CPU profile the leftover is idle workers. */
    p = parse_ok(cpu_json, "cpu");
    if (!p) return;
    mr_profile_res w1 = {1, 0, 0, 0}, w4 = {4, 0, 0, 0}, w0 = {0, 0, 0, 0};
    CHECK(mr_profile_shard(p, 0, 0, &w4, 0, &v, &P, &S) == 1 && P == 4 && S == 100);
    CHECK(mr_profile_shard(p, 0, 0, &w1, 0, &v, &P, &S) == 1 && P == 1 && v == 0);
    CHECK(mr_profile_shard(p, 0, 0, &w0, 0, &v, &P, &S) == 0);
    CHECK(mr_profile_shard(p, 0, 0, &w4, 300, &v, &P, &S) == 1 && P == 4);
    CHECK(mr_profile_shard(p, 0, 0, &w4, 200, &v, &P, &S) == 0);
    CHECK(mr_profile_block_us(p, 0, 0, 0) == 10);
    /* Footprints and dominance (what the tuner's pruning uses). */
    const mr_profile_entry *e = &p->entries[0];
    mr_profile_res f = mr_profile_point_footprint(&p->device, e, &e->points[1]);
    CHECK(f.threads == 4 && f.regs == 0 && f.smem == 0 && f.blocks == 0);
    CHECK(!mr_profile_dominates(&p->device, e, &e->points[0], &e->points[1]));
    CHECK(!mr_profile_dominates(&p->device, e, &e->points[1], &e->points[0]));
    CHECK(!mr_profile_dominates(&p->device, e, &e->points[0], &e->points[0]));
    mr_profile_free(p);
}

static void setenv_or_unset(const char *name, const char *value) {
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

static void test_cache(void) {
    char dir[256], want[512];
    mr_err err;
    mr_err_clear(&err);
    /* Where the cache is. */
    setenv_or_unset("MIRIAM_CACHE_DIR", "/c/d");
    setenv_or_unset("XDG_CACHE_HOME", "/x");
    setenv_or_unset("HOME", "/h");
    CHECK(mr_profile_cache_dir(dir, sizeof dir, &err) == MR_OK && strcmp(dir, "/c/d") == 0);
    setenv_or_unset("MIRIAM_CACHE_DIR", ""); /* empty = unset */
    CHECK(mr_profile_cache_dir(dir, sizeof dir, &err) == MR_OK && strcmp(dir, "/x/miriam") == 0);
    setenv_or_unset("XDG_CACHE_HOME", NULL);
    CHECK(mr_profile_cache_dir(dir, sizeof dir, &err) == MR_OK &&
          strcmp(dir, "/h/.cache/miriam") == 0);
    setenv_or_unset("HOME", NULL);
    CHECK_STATUS(mr_profile_cache_dir(dir, sizeof dir, &err), MR_ERR_NOT_FOUND, err.msg,
                 "MIRIAM_CACHE_DIR");

    /* Saving creates the directories; the name comes from the keys. */
    snprintf(dir, sizeof dir, "%s/cache/a/b", tmpdir);
    setenv_or_unset("MIRIAM_CACHE_DIR", dir);
    mr_profile *p = parse_ok(base_json, "cuda");
    if (!p) return;
    char path[1024];
    CHECK_MSG(mr_profile_save_cached(p, path, sizeof path, &err) == MR_OK, "%s", err.msg);
    snprintf(want, sizeof want, "%s/00000000000000ab_cuda_Test-GPU_4sm_fp32.json", dir);
    CHECK_MSG(strcmp(path, want) == 0, "cached at %s", path);
    char path2[1024];
    CHECK(mr_profile_cache_path(0xab, "cuda_Test-GPU_4sm_fp32", path2, sizeof path2, &err) ==
              MR_OK &&
          strcmp(path2, want) == 0);
    mr_profile *q = NULL;
    CHECK_MSG(mr_profile_load_cached(0xab, "cuda_Test-GPU_4sm_fp32", &q, &err) == MR_OK, "%s",
              err.msg);
    CHECK(q && same_profile(p, q));
    mr_profile_free(q);
    q = NULL;
    /* Misses: another model, another device. */
    CHECK_STATUS(mr_profile_load_cached(0xac, "cuda_Test-GPU_4sm_fp32", &q, &err), MR_ERR_NOT_FOUND,
                 err.msg, "00000000000000ac_cuda_Test-GPU_4sm_fp32.json");
    CHECK_STATUS(mr_profile_load_cached(0xab, "cpu_4t", &q, &err), MR_ERR_NOT_FOUND, err.msg,
                 "cpu_4t");
    CHECK(q == NULL);
    /* A file renamed to another model's name is refused. */
    char renamed[1024];
    mr_profile_cache_path(0xac, "cuda_Test-GPU_4sm_fp32", renamed, sizeof renamed, &err);
    CHECK(rename(path, renamed) == 0);
    CHECK_STATUS(mr_profile_load_cached(0xac, "cuda_Test-GPU_4sm_fp32", &q, &err), MR_ERR_PARSE,
                 err.msg, "renamed");
    CHECK(q == NULL);
    unlink(renamed);
    mr_profile_free(p);
    /* Leave no directories behind. */
    for (int i = 0; i < 3; i++) {
        rmdir(dir);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
    }
}

/* Device keys: names made safe for file names; the precision is part of a CUDA key. */
static void test_device_keys(void) {
    mr_profile_device d;
    memset(&d, 0, sizeof d);
    d.backend = MR_PROFILE_CUDA;
    snprintf(d.name, sizeof d.name, "NVIDIA H200");
    d.units = 132;
    mr_profile_device_key(&d);
    CHECK(strcmp(d.key, "cuda_NVIDIA-H200_132sm_fp32") == 0);
    d.precision = MR_PRECISION_TF32;
    snprintf(d.name, sizeof d.name, "a/b c:d");
    d.units = 16;
    mr_profile_device_key(&d);
    CHECK(strcmp(d.key, "cuda_a-b-c-d_16sm_tf32") == 0);
    d.backend = MR_PROFILE_CPU;
    d.units = 8;
    mr_profile_device_key(&d);
    CHECK(strcmp(d.key, "cpu_8t") == 0);
    char hs[17];
    mr_profile_hash_str(0x0123456789abcdefull, hs);
    CHECK(strcmp(hs, "0123456789abcdef") == 0);
    mr_profile_hash_str(0xab, hs);
    CHECK(strcmp(hs, "00000000000000ab") == 0);
}

static mr_runtime *cpu_runtime(int threads) {
    mr_runtime_params rp = mr_runtime_default_params();
    rp.backend = MR_BACKEND_CPU;
    rp.n_threads = threads;
    mr_runtime *rt = NULL;
    char msg[256];
    CHECK_MSG(mr_runtime_create(&rp, &rt, msg, sizeof msg) == MR_OK, "%s", msg);
    return rt;
}

static uint64_t hash_of(mr_runtime *rt, const char *spec, const mr_model_params *mp) {
    mr_model *m = NULL;
    if (mr_model_load(rt, spec, mp, &m) != MR_OK) {
        CHECK_MSG(0, "cannot load %s: %s", spec, mr_runtime_last_error(rt));
        return 0;
    }
    uint64_t h = mr_profile_model_hash(mr_model_graph(m));
    mr_model_destroy(m);
    return h;
}

static void test_model_hash(void) {
    mr_runtime *rt1 = cpu_runtime(1), *rt2 = cpu_runtime(2);
    if (!rt1 || !rt2) {
        mr_runtime_destroy(rt1);
        mr_runtime_destroy(rt2);
        return;
    }
    uint64_t a = hash_of(rt1, "zoo:cifarnet", NULL);
    uint64_t b = hash_of(rt1, "zoo:cifarnet", NULL);
    uint64_t c = hash_of(rt2, "zoo:cifarnet", NULL); /* the device is not part of it */
    uint64_t d = hash_of(rt1, "zoo:lstm", NULL);
    uint64_t e = hash_of(rt1, "zoo:gru", NULL);
    mr_model_params mp = mr_model_default_params();
    mp.optimize = 0; /* another plan: Conv, Relu, ... unfused */
    uint64_t f = hash_of(rt1, "zoo:cifarnet", &mp);
    CHECK(a != 0 && a == b && a == c);
    CHECK(a != d && a != e && d != e && a != f);
    /* The same model through an ONNX file: names differ, the plan does not. */
    char path[128];
    snprintf(path, sizeof path, "%s/cifarnet.onnx", tmpdir);
    char msg[256];
    if (mr_zoo_export_onnx("cifarnet", path, msg, sizeof msg) == MR_OK) {
        uint64_t g = hash_of(rt1, path, NULL);
        CHECK_MSG(g == a, "the exported cifarnet hashes to %016llx, the zoo one to %016llx",
                  (unsigned long long)g, (unsigned long long)a);
        unlink(path);
    } else {
        CHECK_MSG(0, "export: %s", msg);
    }

    /* mr_profile_for_model: the cache, by hash and device; a profile of another step count
     * is refused. */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/formodel", tmpdir);
    setenv("MIRIAM_CACHE_DIR", dir, 1);
    mr_model *m = NULL;
    mr_err err;
    mr_err_clear(&err);
    if (mr_model_load(rt2, "zoo:cifarnet", NULL, &m) == MR_OK) {
        mr_profile *p = NULL;
        CHECK_STATUS(mr_profile_for_model(m, &p, &err), MR_ERR_NOT_FOUND, err.msg, "cpu_2t");
        mr_profile_device dev;
        CHECK(mr_profile_runtime_device(rt2, &dev, &err) == MR_OK);
        CHECK(strcmp(dev.key, "cpu_2t") == 0 && dev.units == 2);
        mr_profile *q = parse_ok(cpu_json, "cpu");
        if (q) {
            q->model_hash = a;
            q->device = dev;
            q->n_steps = mr_model_n_steps(m);
            CHECK(mr_profile_save_cached(q, NULL, 0, &err) == MR_OK);
            CHECK_MSG(mr_profile_for_model(m, &p, &err) == MR_OK, "%s", err.msg);
            CHECK(p && p->model_hash == a && p->n_steps == q->n_steps);
            mr_profile_free(p);
            p = NULL;
            q->n_steps++;
            CHECK(mr_profile_save_cached(q, NULL, 0, &err) == MR_OK);
            CHECK_STATUS(mr_profile_for_model(m, &p, &err), MR_ERR_PARSE, err.msg, "tune again");
            CHECK(p == NULL);
            char file[512];
            mr_profile_cache_path(a, dev.key, file, sizeof file, &err);
            unlink(file);
            rmdir(dir);
        }
        mr_profile_free(q);
    }
    mr_model_destroy(m);
    mr_runtime_destroy(rt1);
    mr_runtime_destroy(rt2);
}

/* The example of docs/TUNING.md is a valid profile whose points lie on the pruning rules'
 * frontier (none dominates another). */
static void test_doc_example(void) {
    const char *path = MIRIAM_SOURCE_DIR "/docs/TUNING.md";
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot read %s", path);
    if (!f) return;
    static char doc[65536];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *start = strstr(doc, "```json\n");
    char *end = start ? strstr(start + 8, "```") : NULL;
    CHECK(start && end);
    if (!start || !end) return;
    *end = '\0';
    mr_profile *p = parse_ok(start + 8, "docs/TUNING.md");
    if (!p) return;
    const mr_profile_entry *e = &p->entries[0];
    for (int i = 0; i < e->n_points; i++)
        for (int j = 0; j < e->n_points; j++)
            CHECK(i == j || !mr_profile_dominates(&p->device, e, &e->points[j], &e->points[i]));
    mr_profile_free(p);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/miriam-test-profile-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_bad_files();
    test_lookups();
    test_device_keys();
    test_cache();
    test_model_hash();
    test_doc_example();
    rmdir(tmpdir);
    return mr_test_finish("profile");
}
