/* Replays the inputs that once crashed a fuzz harness (tests/fuzz/regressions/<harness>/) and
 * the hand-written seeds (tests/fuzz/seeds/<harness>/) through the harnesses' own entry
 * points, compiled here by the ordinary compiler (with AddressSanitizer and UBSan in the
 * sanitizer builds): a bug that comes back fails this test, not only a fuzzing run. A harness
 * aborts on anything it does not accept; the sanitizers report the rest. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Each harness is compiled in with its entry point renamed. */
#define FUZZ_ENTRY fuzz_onnx_one
#include "fuzz/fuzz_onnx.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_npy_one
#include "fuzz/fuzz_npy.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY        fuzz_workload_one
#define FUZZ_WORKLOAD_DIR MIRIAM_SOURCE_DIR "/bench/workloads"
#include "fuzz/fuzz_workload.c"
#undef FUZZ_ENTRY

typedef int (*fuzz_entry)(const uint8_t *data, size_t size);

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feeds every regular file of `dir` (in name order) to `entry`; returns the count. */
static int replay_dir(const char *dir, fuzz_entry entry) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char *names[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 4096)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    int count = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
            if (len == cap) {
                cap = cap ? cap * 2 : 4096;
                uint8_t *nb = realloc(buf, cap);
                CHECK(nb != NULL);
                if (!nb) break;
                buf = nb;
            }
            size_t got = fread(buf + len, 1, cap - len, f);
            len += got;
            if (got == 0) break;
        }
        fclose(f);
        /* Like libFuzzer, hand over an exactly-sized copy so overreads are caught. */
        uint8_t *exact = malloc(len ? len : 1);
        CHECK(exact != NULL);
        if (exact) {
            if (len) memcpy(exact, buf, len);
            fprintf(stderr, "replay %s\n", path);
            CHECK(entry(exact, len) == 0);
            count++;
        }
        free(exact);
        free(buf);
    }
    return count;
}

int main(void) {
    static const struct {
        const char *name;
        fuzz_entry entry;
        void (*cleanup)(void);
    } harnesses[] = {
        {"fuzz_onnx", fuzz_onnx_one, fuzz_onnx_cleanup},
        {"fuzz_npy", fuzz_npy_one, fuzz_npy_cleanup},
        {"fuzz_workload", fuzz_workload_one, fuzz_workload_cleanup},
    };
    for (size_t h = 0; h < sizeof harnesses / sizeof harnesses[0]; h++) {
        int n = 0;
        for (int kind = 0; kind < 2; kind++) {
            char dir[512];
            snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", MIRIAM_SOURCE_DIR,
                     kind ? "seeds" : "regressions", harnesses[h].name);
            n += replay_dir(dir, harnesses[h].entry);
        }
        harnesses[h].cleanup();
        printf("fuzz_regressions: %s: %d inputs replayed\n", harnesses[h].name, n);
    }
    return mr_test_finish("fuzz_regressions");
}
