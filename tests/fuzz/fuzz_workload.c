/* libFuzzer harness: workload files (mr_workload_parse from src/bench/workload.h).
 *
 * Whatever the bytes, parsing must end in a status with a message. An accepted workload is
 * walked the way the driver uses it: every task is looked up by name, described, and its
 * first arrivals are generated (bounded), which must be finite and non-decreasing. Relative
 * trace paths resolve against FUZZ_WORKLOAD_DIR (the repository's bench/workloads, whose
 * traces/example.csv the seeds use).
 *
 * Also compiled into tests/test_fuzz_regressions.c with FUZZ_ENTRY renamed. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/workload.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
#ifndef FUZZ_WORKLOAD_DIR
#define FUZZ_WORKLOAD_DIR NULL
#endif

#define FUZZ_WL_MAX_ARRIVALS 64

void fuzz_workload_cleanup(void) {}

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    mr_workload *w = NULL;
    mr_err err;
    mr_err_clear(&err);
    mr_status st =
        mr_workload_parse((const char *)data, size, "fuzz.json", FUZZ_WORKLOAD_DIR, &w, &err);
    if (st != MR_OK) {
        if (w != NULL || err.msg[0] == '\0' || st == MR_ERR_INTERNAL) abort();
        return 0;
    }
    if (!w || w->n_tasks < 1 || w->n_tasks > MR_WL_MAX_TASKS) abort();
    for (int i = 0; i < w->n_tasks; i++) {
        const mr_wl_task *t = &w->tasks[i];
        if (mr_workload_find_task(w, t->name) != i) abort();
        char desc[256];
        mr_arrival_describe(&t->arrival, desc, sizeof desc);
        mr_arrivals a;
        mr_arrivals_init(&a, t, w->seed);
        double prev = -INFINITY, ms;
        for (int k = 0; k < FUZZ_WL_MAX_ARRIVALS && mr_arrivals_next(&a, &ms); k++) {
            if (!isfinite(ms) || ms < prev) abort();
            prev = ms;
        }
    }
    mr_workload_free(w);
    return 0;
}
