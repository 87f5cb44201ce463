/* Workload files (src/bench/workload.c): every shipped workload parses with the fields it
 * states; defaults; many malformed workloads and trace files, each of which must fail with its
 * status and a message naming the file and the JSON path (or trace line) at fault, without
 * leaking (the ASan build checks that); and the arrival generators: exact periodic times,
 * deterministic Poisson streams with the right mean, trace replay; and the driver's ratios
 * against the solo baseline. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/driver.h"
#include "bench/workload.h"
#include "testutil.h"

static char tmpdir[64];

/* A valid task for building workloads around one bad field. */
#define TASK_A                                                                                     \
    "{\"name\":\"a\",\"model\":\"zoo:cifarnet\",\"criticality\":\"critical\","                     \
    "\"arrival\":{\"type\":\"periodic\",\"rate_hz\":10}}"

static mr_workload *parse_ok(int line, const char *json) {
    mr_err err;
    mr_err_clear(&err);
    mr_workload *w = NULL;
    mr_status st = mr_workload_parse(json, strlen(json), "good.json", tmpdir, &w, &err);
    mr_test_checks++;
    if (st != MR_OK || !w) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: parse failed: %s\n  input: %s\n", __FILE__, line, err.msg, json);
    }
    return w;
}

/* Expects status `want` and every needle (NULL-terminated) in the message, which must also
 * name the file. */
static void parse_bad(int line, const char *json, mr_status want, const char *const *needles) {
    mr_err err;
    mr_err_clear(&err);
    mr_workload *w = (mr_workload *)1;
    mr_status st = mr_workload_parse(json, strlen(json), "bad.json", tmpdir, &w, &err);
    int ok = st == want && w == NULL && strstr(err.msg, "bad.json") != NULL;
    for (int i = 0; needles[i]; i++)
        if (!strstr(err.msg, needles[i])) ok = 0;
    mr_test_checks++;
    if (!ok) {
        mr_test_failures++;
        fprintf(stderr, "%s:%d: want %s, got %s (%s)\n  input: %s\n  needles:", __FILE__, line,
                mr_status_str(want), mr_status_str(st), err.msg, json);
        for (int i = 0; needles[i]; i++) fprintf(stderr, " [%s]", needles[i]);
        fputc('\n', stderr);
    }
    if (st == MR_OK) mr_workload_free(w);
}

#define NEEDLES(...)             ((const char *const[]){__VA_ARGS__, NULL})
#define PARSE_OK(json)           parse_ok(__LINE__, json)
#define PARSE_BAD(json, st, ...) parse_bad(__LINE__, json, st, NEEDLES(__VA_ARGS__))
#define BAD_TASK(task, st, ...)                                                                    \
    parse_bad(__LINE__, "{\"duration_s\":1,\"tasks\":[" task "]}", st, NEEDLES(__VA_ARGS__))
#define BAD_ARRIVAL(arr, st, ...)                                                                  \
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:cifarnet\",\"criticality\":\"normal\","              \
             "\"arrival\":" arr "}",                                                               \
             st, __VA_ARGS__)

static void write_text(const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* ---------------------------------------------------------------------------------------- */

static mr_workload *load_shipped(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/bench/workloads/%s", MIRIAM_SOURCE_DIR, name);
    mr_err err;
    mr_err_clear(&err);
    mr_workload *w = NULL;
    mr_status st = mr_workload_load(path, &w, &err);
    CHECK_STATUS(st, MR_OK, err.msg, NULL);
    CHECK_MSG(st == MR_OK, "%s: %s", name, err.msg);
    return w;
}

static void test_shipped(void) {
    /* Every .json in bench/workloads parses (a new workload cannot be shipped broken). */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bench/workloads", MIRIAM_SOURCE_DIR);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        mr_workload *w = load_shipped(e->d_name);
        if (w) {
            CHECK(w->n_tasks >= 1 && w->duration_s > 0 && w->warmup_s >= 0);
            CHECK_MSG(w->description[0] != '\0', "%s has no description", e->d_name);
            for (int i = 0; i < w->n_tasks; i++) {
                CHECK(strncmp(w->tasks[i].model_spec, "zoo:", 4) == 0);
                CHECK(w->tasks[i].max_in_flight >= 1);
            }
        }
        mr_workload_free(w);
        n++;
    }
    if (d) closedir(d);
    CHECK_MSG(n >= 7, "found %d workloads", n);

    static const char *const expected[] = {"a.json", "b.json", "c.json",        "d.json",
                                           "e.json", "f.json", "cpu-smoke.json"};
    for (int i = 0; i < 7; i++) {
        mr_workload *w = load_shipped(expected[i]);
        CHECK_MSG(w != NULL, "%s", expected[i]);
        mr_workload_free(w);
    }

    mr_workload *w = load_shipped("a.json");
    if (w) {
        CHECK(strcmp(w->name, "A") == 0);
        CHECK(w->duration_s == 10.0 && w->warmup_s == 2.0 && w->seed == 1);
        CHECK(w->n_tasks == 2);
        mr_wl_task *t = &w->tasks[0];
        CHECK(strcmp(t->name, "detector") == 0 && strcmp(t->model, "zoo:resnet50") == 0);
        CHECK(strcmp(t->model_spec, "zoo:resnet50") == 0);
        CHECK(t->criticality == MR_TASK_CRITICAL);
        CHECK(t->arrival.kind == MR_ARRIVAL_PERIODIC && t->arrival.rate_hz == 30);
        CHECK(t->arrival.offset_ms == 0);
        CHECK(t->deadline_ms == 33.3 && t->max_in_flight == 4);
        t = &w->tasks[1];
        CHECK(strcmp(t->name, "background") == 0 && strcmp(t->model, "zoo:vgg16") == 0);
        CHECK(t->criticality == MR_TASK_NORMAL);
        CHECK(t->arrival.kind == MR_ARRIVAL_CLOSED && t->arrival.concurrency == 1);
        CHECK(t->deadline_ms == 0 && t->max_in_flight == 8);
        CHECK(mr_workload_find_task(w, "background") == 1);
        CHECK(mr_workload_find_task(w, "nobody") == -1);
    }
    mr_workload_free(w);

    w = load_shipped("b.json");
    if (w) {
        int crit = 0, normal = 0;
        for (int i = 0; i < w->n_tasks; i++)
            w->tasks[i].criticality == MR_TASK_CRITICAL ? crit++ : normal++;
        CHECK(crit == 1 && normal == 2);
        CHECK(w->tasks[0].arrival.kind == MR_ARRIVAL_POISSON);
    }
    mr_workload_free(w);

    w = load_shipped("c.json");
    if (w) {
        int crit = 0, normal = 0;
        for (int i = 0; i < w->n_tasks; i++)
            w->tasks[i].criticality == MR_TASK_CRITICAL ? crit++ : normal++;
        CHECK(crit == 2 && normal == 3);
        CHECK(w->tasks[0].arrival.rate_hz != w->tasks[1].arrival.rate_hz);
    }
    mr_workload_free(w);

    w = load_shipped("d.json");
    if (w) {
        CHECK(strcmp(w->tasks[0].model, "zoo:lstm") == 0 ||
              strcmp(w->tasks[0].model, "zoo:gru") == 0);
        CHECK(w->tasks[0].criticality == MR_TASK_CRITICAL);
    }
    mr_workload_free(w);

    w = load_shipped("e.json");
    for (int i = 0; w && i < w->n_tasks; i++) CHECK(w->tasks[i].arrival.kind == MR_ARRIVAL_CLOSED);
    mr_workload_free(w);

    /* f.json replays both columns of the example trace, resolved against its directory. */
    w = load_shipped("f.json");
    if (w) {
        int cam = mr_workload_find_task(w, "camera"), rep = mr_workload_find_task(w, "replayed");
        CHECK(cam >= 0 && rep >= 0);
        if (cam >= 0 && rep >= 0) {
            const mr_wl_arrival *a = &w->tasks[cam].arrival, *b = &w->tasks[rep].arrival;
            CHECK(a->kind == MR_ARRIVAL_TRACE && strcmp(a->column, "camera") == 0);
            CHECK(b->kind == MR_ARRIVAL_TRACE && strcmp(b->column, "bursts") == 0);
            CHECK(strstr(a->trace_path, "bench/workloads/traces/example.csv") != NULL);
            CHECK(a->n_times == 201 && a->times_ms[0] == 0 && a->times_ms[200] == 9997.5);
            CHECK(b->n_times == 100);
            for (int64_t k = 1; k < a->n_times; k++) CHECK(a->times_ms[k] >= a->times_ms[k - 1]);
            char desc[64];
            mr_arrival_describe(b, desc, sizeof desc);
            CHECK_MSG(strcmp(desc, "trace example.csv:bursts") == 0, "%s", desc);
        }
    }
    mr_workload_free(w);

    w = load_shipped("cpu-smoke.json");
    if (w) {
        CHECK(w->duration_s == 2.0 && w->warmup_s == 0.5 && w->n_tasks == 2);
        CHECK(strcmp(w->tasks[0].model, "zoo:cifarnet") == 0);
        CHECK(strcmp(w->tasks[1].model, "zoo:squeezenet1_1") == 0);
    }
    mr_workload_free(w);
}

static void test_defaults(void) {
    mr_workload *w = PARSE_OK("{\"duration_s\": 0.5, \"tasks\": [" TASK_A "]}");
    if (w) {
        CHECK(strcmp(w->name, "good") == 0); /* the file name without .json */
        CHECK(w->description[0] == '\0');
        CHECK(w->warmup_s == 1.0 && w->seed == 1 && w->duration_s == 0.5);
        CHECK(w->tasks[0].max_in_flight == 8 && w->tasks[0].deadline_ms == 0);
        CHECK(w->tasks[0].arrival.offset_ms == 0);
        char desc[64];
        mr_arrival_describe(&w->tasks[0].arrival, desc, sizeof desc);
        CHECK_MSG(strcmp(desc, "periodic 10 Hz") == 0, "%s", desc);
    }
    mr_workload_free(w);

    /* A closed loop deeper than the default admission raises the default max_in_flight. */
    w = PARSE_OK("{\"duration_s\":1,\"warmup_s\":0,\"seed\":0,\"tasks\":[{\"name\":\"x\",\"model\":"
                 "\"zoo:lstm\",\"criticality\":\"normal\",\"arrival\":{\"type\":\"closed\","
                 "\"concurrency\":12}}]}");
    if (w) {
        CHECK(w->tasks[0].max_in_flight == 12 && w->tasks[0].arrival.concurrency == 12);
        CHECK(w->warmup_s == 0 && w->seed == 0);
        char desc[64];
        mr_arrival_describe(&w->tasks[0].arrival, desc, sizeof desc);
        CHECK_MSG(strcmp(desc, "closed x12") == 0, "%s", desc);
    }
    mr_workload_free(w);

    /* Model paths: relative ones resolve against the base directory, absolute ones stay. */
    w = PARSE_OK("{\"duration_s\":1,\"tasks\":[{\"name\":\"x\",\"model\":\"sub/m.onnx\","
                 "\"criticality\":\"normal\",\"arrival\":{\"type\":\"poisson\",\"rate_hz\":5}},"
                 "{\"name\":\"y\",\"model\":\"/abs/m.onnx\",\"criticality\":\"critical\","
                 "\"arrival\":{\"type\":\"periodic\",\"rate_hz\":5,\"offset_ms\":2.5}}]}");
    if (w) {
        char want[256];
        snprintf(want, sizeof want, "%s/sub/m.onnx", tmpdir);
        CHECK_MSG(strcmp(w->tasks[0].model_spec, want) == 0, "%s", w->tasks[0].model_spec);
        CHECK(strcmp(w->tasks[0].model, "sub/m.onnx") == 0);
        CHECK(strcmp(w->tasks[1].model_spec, "/abs/m.onnx") == 0);
        char desc[64];
        mr_arrival_describe(&w->tasks[1].arrival, desc, sizeof desc);
        CHECK_MSG(strcmp(desc, "periodic 5 Hz +2.5 ms") == 0, "%s", desc);
        mr_arrival_describe(&w->tasks[0].arrival, desc, sizeof desc);
        CHECK_MSG(strcmp(desc, "poisson 5 Hz") == 0, "%s", desc);
    }
    mr_workload_free(w);

    /* Without a base directory paths stay as written; without a file name messages say
     * "<workload>". */
    mr_err err;
    mr_err_clear(&err);
    const char *j = "{\"duration_s\":1,\"tasks\":[{\"name\":\"x\",\"model\":\"m.onnx\","
                    "\"criticality\":\"normal\",\"arrival\":{\"type\":\"closed\"}}]}";
    w = NULL;
    CHECK_STATUS(mr_workload_parse(j, strlen(j), NULL, NULL, &w, &err), MR_OK, err.msg, NULL);
    if (w) {
        CHECK(strcmp(w->tasks[0].model_spec, "m.onnx") == 0);
        CHECK(strcmp(w->name, "workload") == 0);
    }
    mr_workload_free(w);
    CHECK_STATUS(mr_workload_parse("[]", 2, NULL, NULL, &w, &err), MR_ERR_PARSE, err.msg,
                 "<workload>");

    /* The buffer need not be NUL-terminated: only `size` bytes are read. */
    const char *twice = "{\"duration_s\":1,\"tasks\":[" TASK_A "]}GARBAGE";
    w = NULL;
    CHECK_STATUS(mr_workload_parse(twice, strlen(twice) - 7, "x.json", NULL, &w, &err), MR_OK,
                 err.msg, NULL);
    mr_workload_free(w);

    /* Every limit accepted at its bound. */
    w = PARSE_OK("{\"duration_s\":86400,\"warmup_s\":86400,\"seed\":9007199254740992,\"tasks\":["
                 "{\"name\":\"x\",\"model\":\"zoo:cifarnet\",\"criticality\":\"normal\","
                 "\"deadline_ms\":86400000,\"max_in_flight\":1024,"
                 "\"arrival\":{\"type\":\"closed\",\"concurrency\":1024}},"
                 "{\"name\":\"y\",\"model\":\"zoo:cifarnet\",\"criticality\":\"normal\","
                 "\"arrival\":{\"type\":\"periodic\",\"rate_hz\":100000,\"offset_ms\":86400000}}"
                 "]}");
    if (w) CHECK(w->seed == 9007199254740992ull);
    mr_workload_free(w);

    /* 64 tasks are allowed, 65 are not. */
    char *big = malloc(65 * 200 + 100);
    if (big) {
        for (int n = 64; n <= 65; n++) {
            size_t len = (size_t)sprintf(big, "{\"duration_s\":1,\"tasks\":[");
            for (int i = 0; i < n; i++)
                len += (size_t)sprintf(big + len,
                                       "%s{\"name\":\"t%d\",\"model\":\"zoo:cifarnet\","
                                       "\"criticality\":\"normal\",\"arrival\":{\"type\":"
                                       "\"closed\"}}",
                                       i ? "," : "", i);
            sprintf(big + len, "]}");
            if (n == 64) {
                w = PARSE_OK(big);
                if (w) CHECK(w->n_tasks == 64);
                mr_workload_free(w);
            } else {
                PARSE_BAD(big, MR_ERR_PARSE, "tasks: must hold 1 to 64 tasks (got 65)");
            }
        }
        free(big);
    }
}

static void test_bad_documents(void) {
    PARSE_BAD("", MR_ERR_PARSE, "empty");
    PARSE_BAD("   \n", MR_ERR_PARSE, "bad.json:", "invalid JSON");
    PARSE_BAD("{\"duration_s\": 1,,}", MR_ERR_PARSE, "bad.json:1:", "invalid JSON");
    PARSE_BAD("{\n  \"duration_s\": 1,\n  \"tasks\": [ nope ]\n}", MR_ERR_PARSE,
              "bad.json:3:", "invalid JSON");
    PARSE_BAD("{\"duration_s\":1,\"tasks\":[" TASK_A "]}\n x", MR_ERR_PARSE,
              "bad.json:2:2:", "unexpected text");
    PARSE_BAD("[]", MR_ERR_PARSE, "must be a JSON object (got an array)");
    PARSE_BAD("42", MR_ERR_PARSE, "must be a JSON object (got 42)");
    PARSE_BAD("{\"tasks\":[" TASK_A "]}", MR_ERR_PARSE, "missing required key \"duration_s\"");
    PARSE_BAD("{\"duration_s\":0,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "bad.json: duration_s: must be a number > 0", "(got 0)");
    PARSE_BAD("{\"duration_s\":\"ten\",\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "duration_s:", "(got \"ten\")");
    PARSE_BAD("{\"duration_s\":86401,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE, "duration_s:");
    PARSE_BAD("{\"duration_s\":1e999,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE, "duration_s:");
    PARSE_BAD("{\"duration_s\":null,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "duration_s:", "(got null)");
    PARSE_BAD("{\"duration_s\":1,\"warmup_s\":-1,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "warmup_s: must be a number >= 0");
    PARSE_BAD("{\"duration_s\":1,\"warmup_s\":true,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "warmup_s:", "(got true)");
    PARSE_BAD("{\"duration_s\":1,\"seed\":1.5,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "seed: must be an integer", "(got 1.5)");
    PARSE_BAD("{\"duration_s\":1,\"seed\":-1,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE, "seed:");
    PARSE_BAD("{\"duration_s\":1,\"seed\":\"1\",\"tasks\":[" TASK_A "]}", MR_ERR_PARSE, "seed:");
    PARSE_BAD("{\"durations_s\":1,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "unknown key \"durations_s\"", "did you mean \"duration_s\"");
    PARSE_BAD("{\"duration_s\":1,\"tasks\":[" TASK_A "],\"colour\":1}", MR_ERR_PARSE,
              "bad.json: unknown key \"colour\"");
    PARSE_BAD("{\"duration_s\":1,\"duration_s\":2,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "key \"duration_s\" is given twice");
    PARSE_BAD("{\"name\":\"A B\",\"duration_s\":1,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "bad.json: name: \"A B\" may use only");
    PARSE_BAD("{\"name\":7,\"duration_s\":1,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "name: must be a string (got 7)");
    PARSE_BAD("{\"description\":[],\"duration_s\":1,\"tasks\":[" TASK_A "]}", MR_ERR_PARSE,
              "description: must be a string (got an array)");
    PARSE_BAD("{\"duration_s\":1}", MR_ERR_PARSE, "missing required key \"tasks\"");
    PARSE_BAD("{\"duration_s\":1,\"tasks\":{}}", MR_ERR_PARSE,
              "tasks: must be an array of tasks (got an object)");
    PARSE_BAD("{\"duration_s\":1,\"tasks\":[]}", MR_ERR_PARSE, "tasks: must hold 1 to 64");
}

static void test_bad_tasks(void) {
    BAD_TASK("5", MR_ERR_PARSE, "bad.json: tasks[0]: must be an object (got 5)");
    BAD_TASK(TASK_A ",\"x\"", MR_ERR_PARSE, "tasks[1]: must be an object (got \"x\")");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:cifarnet\",\"criticallity\":\"critical\","
             "\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "bad.json: tasks[0]: unknown key \"criticallity\"",
             "did you mean \"criticality\"");
    BAD_TASK("{\"name\":\"a\",\"criticality\":\"critical\",\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0]: missing required key \"model\"");
    BAD_TASK("{\"model\":\"zoo:cifarnet\",\"criticality\":\"critical\",\"arrival\":{\"type\":"
             "\"closed\"}}",
             MR_ERR_PARSE, "tasks[0]: missing required key \"name\"");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:cifarnet\",\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0]: missing required key \"criticality\"");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:cifarnet\",\"criticality\":\"normal\"}", MR_ERR_PARSE,
             "tasks[0]: missing required key \"arrival\"");
    BAD_TASK("{\"name\":\"a b\",\"model\":\"zoo:cifarnet\",\"criticality\":\"normal\","
             "\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].name: \"a b\" may use only");
    BAD_TASK("{\"name\":\"\",\"model\":\"zoo:cifarnet\",\"criticality\":\"normal\","
             "\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].name: must not be empty");
    BAD_TASK("{\"name\":\"a12345678901234567890123456789012345678901234567890123456789012345\","
             "\"model\":\"zoo:cifarnet\",\"criticality\":\"normal\",\"arrival\":{\"type\":"
             "\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].name: is too long");
    BAD_TASK("{\"name\":false,\"model\":\"zoo:cifarnet\",\"criticality\":\"normal\","
             "\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].name: must be a string (got false)");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:cifarnet\",\"criticality\":\"urgent\","
             "\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].criticality: must be \"critical\" or \"normal\"",
             "\"urgent\"");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:cifarnet\",\"criticality\":1,"
             "\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].criticality: must be a string (got 1)");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:resnet5\",\"criticality\":\"normal\","
             "\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_NOT_FOUND, "tasks[0].model: unknown zoo model \"resnet5\"");
    BAD_TASK("{\"name\":\"a\",\"model\":\"\",\"criticality\":\"normal\","
             "\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].model: must not be empty");
    BAD_TASK("{\"name\":\"a\",\"model\":[\"zoo:lstm\"],\"criticality\":\"normal\","
             "\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].model: must be a string (got an array)");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:lstm\",\"criticality\":\"normal\","
             "\"deadline_ms\":-1,\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].deadline_ms: must be a number >= 0", "(got -1)");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:lstm\",\"criticality\":\"normal\","
             "\"deadline_ms\":\"33\",\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].deadline_ms:", "(got \"33\")");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:lstm\",\"criticality\":\"normal\","
             "\"max_in_flight\":0,\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].max_in_flight: must be an integer in [1, 1024]");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:lstm\",\"criticality\":\"normal\","
             "\"max_in_flight\":1025,\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].max_in_flight:");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:lstm\",\"criticality\":\"normal\","
             "\"max_in_flight\":2.5,\"arrival\":{\"type\":\"closed\"}}",
             MR_ERR_PARSE, "tasks[0].max_in_flight:", "(got 2.5)");
    BAD_TASK("{\"name\":\"a\",\"model\":\"zoo:lstm\",\"criticality\":\"normal\","
             "\"max_in_flight\":8,\"arrival\":{\"type\":\"closed\",\"concurrency\":16}}",
             MR_ERR_PARSE, "tasks[0].max_in_flight: 8 is less than arrival.concurrency 16");
    BAD_TASK(TASK_A "," TASK_A, MR_ERR_PARSE, "tasks[1].name: duplicate task name \"a\"",
             "tasks[0].name");
    BAD_TASK(TASK_A ",{\"name\":\"b\",\"model\":\"zoo:lstm\",\"criticality\":\"normal\","
                    "\"arrival\":{\"type\":\"periodic\",\"rate_hz\":\"fast\"}}",
             MR_ERR_PARSE, "bad.json: tasks[1].arrival.rate_hz: must be a number > 0",
             "(got \"fast\")");
}

static void test_bad_arrivals(void) {
    BAD_ARRIVAL("3", MR_ERR_PARSE, "tasks[0].arrival: must be an object", "(got 3)");
    BAD_ARRIVAL("{}", MR_ERR_PARSE, "tasks[0].arrival: missing required key \"type\"");
    BAD_ARRIVAL("{\"type\":\"bursty\"}", MR_ERR_PARSE,
                "tasks[0].arrival.type: must be \"closed\", \"periodic\", \"poisson\" or "
                "\"trace\"",
                "\"bursty\"");
    BAD_ARRIVAL("{\"type\":5}", MR_ERR_PARSE, "tasks[0].arrival.type: must be a string (got 5)");
    BAD_ARRIVAL("{\"type\":\"periodic\"}", MR_ERR_PARSE,
                "tasks[0].arrival: missing required key \"rate_hz\"");
    BAD_ARRIVAL("{\"type\":\"periodic\",\"rate_hz\":0}", MR_ERR_PARSE,
                "tasks[0].arrival.rate_hz: must be a number > 0", "(got 0)");
    BAD_ARRIVAL("{\"type\":\"periodic\",\"rate_hz\":100001}", MR_ERR_PARSE,
                "tasks[0].arrival.rate_hz:", "<= 100000", "(got 100001)");
    BAD_ARRIVAL("{\"type\":\"periodic\",\"rate_hz\":10,\"offset_ms\":-5}", MR_ERR_PARSE,
                "tasks[0].arrival.offset_ms: must be a number >= 0");
    BAD_ARRIVAL("{\"type\":\"periodic\",\"rate_hz\":10,\"concurrency\":2}", MR_ERR_PARSE,
                "tasks[0].arrival: unknown key \"concurrency\" for arrival type \"periodic\"");
    BAD_ARRIVAL("{\"type\":\"periodic\",\"rate\":10}", MR_ERR_PARSE,
                "tasks[0].arrival: unknown key \"rate\"", "did you mean \"rate_hz\"");
    BAD_ARRIVAL("{\"type\":\"poisson\",\"rate_hz\":-3}", MR_ERR_PARSE,
                "tasks[0].arrival.rate_hz: must be a number > 0");
    BAD_ARRIVAL("{\"type\":\"poisson\",\"rate_hz\":3,\"offset_ms\":1}", MR_ERR_PARSE,
                "unknown key \"offset_ms\" for arrival type \"poisson\"");
    BAD_ARRIVAL("{\"type\":\"closed\",\"concurrency\":0}", MR_ERR_PARSE,
                "tasks[0].arrival.concurrency: must be an integer in [1, 1024]");
    BAD_ARRIVAL("{\"type\":\"closed\",\"concurrency\":1025}", MR_ERR_PARSE,
                "tasks[0].arrival.concurrency:");
    BAD_ARRIVAL("{\"type\":\"closed\",\"concurrency\":\"2\"}", MR_ERR_PARSE,
                "tasks[0].arrival.concurrency:", "(got \"2\")");
    BAD_ARRIVAL("{\"type\":\"closed\",\"rate_hz\":2}", MR_ERR_PARSE,
                "unknown key \"rate_hz\" for arrival type \"closed\"");
    BAD_ARRIVAL("{\"type\":\"trace\"}", MR_ERR_PARSE,
                "tasks[0].arrival: missing required key \"file\"");
    BAD_ARRIVAL("{\"type\":\"trace\",\"file\":\"nope.csv\"}", MR_ERR_IO,
                "tasks[0].arrival.file:", "nope.csv");
    BAD_ARRIVAL("{\"type\":\"trace\",\"file\":\"t.csv\",\"column\":\"\"}", MR_ERR_PARSE,
                "tasks[0].arrival.column: must not be empty");
}

static void test_traces(void) {
    /* Blank lines, CRLF, blanks around cells, empty cells and short rows are fine. */
    write_text("good.csv", "b , a\r\n\r\n 1, 10\n,20\n3\n\n4,20\n");
    mr_workload *w = PARSE_OK(
        "{\"duration_s\":1,\"tasks\":[{\"name\":\"a\",\"model\":\"zoo:gru\",\"criticality\":"
        "\"critical\",\"arrival\":{\"type\":\"trace\",\"file\":\"good.csv\"}},{\"name\":\"x\","
        "\"model\":\"zoo:gru\",\"criticality\":\"normal\",\"arrival\":{\"type\":\"trace\","
        "\"file\":\"good.csv\",\"column\":\"b\"}}]}");
    if (w) {
        const mr_wl_arrival *a = &w->tasks[0].arrival, *b = &w->tasks[1].arrival;
        CHECK(a->n_times == 3 && a->times_ms[0] == 10 && a->times_ms[1] == 20 &&
              a->times_ms[2] == 20);
        CHECK(b->n_times == 3 && b->times_ms[0] == 1 && b->times_ms[1] == 3 && b->times_ms[2] == 4);
        CHECK(strcmp(a->column, "a") == 0 && strcmp(b->column, "b") == 0);
        /* Replayed once, in order, then nothing more. */
        mr_arrivals g;
        mr_arrivals_init(&g, &w->tasks[0], 1);
        double t;
        CHECK(mr_arrivals_next(&g, &t) && t == 10);
        CHECK(mr_arrivals_next(&g, &t) && t == 20);
        CHECK(mr_arrivals_next(&g, &t) && t == 20);
        CHECK(!mr_arrivals_next(&g, &t));
        CHECK(!mr_arrivals_next(&g, &t));
    }
    mr_workload_free(w);

#define BAD_TRACE(text, column, st, ...)                                                           \
    do {                                                                                           \
        write_text("t.csv", text);                                                                 \
        BAD_ARRIVAL("{\"type\":\"trace\",\"file\":\"t.csv\"" column "}", st, __VA_ARGS__);         \
    } while (0)
    BAD_TRACE("a\n1\n5\n3\n", "", MR_ERR_PARSE,
              "tasks[0].arrival.file: t.csv:4:", "3 ms comes before the previous time 5 ms");
    BAD_TRACE("a\n1\nsoon\n", "", MR_ERR_PARSE, "t.csv:3:", "\"soon\" is not a time");
    BAD_TRACE("a\n1\n2x\n", "", MR_ERR_PARSE, "t.csv:3:", "\"2x\"");
    BAD_TRACE("a\n-1\n", "", MR_ERR_PARSE, "t.csv:2:", "\"-1\"");
    BAD_TRACE("a\n1e12\n", "", MR_ERR_PARSE, "t.csv:2:");
    BAD_TRACE("a\nnan\n", "", MR_ERR_PARSE, "t.csv:2:");
    BAD_TRACE("a,b\n1,2\n1,2,3\n", "", MR_ERR_PARSE,
              "t.csv:3:", "3 cells, but the header has 2 columns");
    BAD_TRACE("x,y\n1,2\n", "", MR_ERR_PARSE, "t.csv:1:", "no column \"a\"");
    BAD_TRACE("a,b\n1,2\n", ",\"column\":\"c\"", MR_ERR_PARSE, "no column \"c\"");
    BAD_TRACE("a,b\n,1\n,2\n", "", MR_ERR_PARSE, "column \"a\" has no timestamps");
    BAD_TRACE("a,a\n1,2\n", "", MR_ERR_PARSE, "t.csv:1:", "column \"a\" appears twice");
    BAD_TRACE("b,,a\n1,2,3\n", "", MR_ERR_PARSE, "t.csv:1:", "header column 2 has no name");
    BAD_TRACE("", "", MR_ERR_PARSE, "t.csv: no header row");
    BAD_TRACE("\n\n", "", MR_ERR_PARSE, "no header row");
    BAD_TRACE("a\n", "", MR_ERR_PARSE, "has no timestamps");
    char path[256];
    snprintf(path, sizeof path, "%s/t.csv", tmpdir);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite("a\n1\0\n", 1, 5, f);
        fclose(f);
    }
    BAD_ARRIVAL("{\"type\":\"trace\",\"file\":\"t.csv\"}", MR_ERR_PARSE, "not a text file");
#undef BAD_TRACE
}

static void test_load_file(void) {
    mr_err err;
    mr_err_clear(&err);
    mr_workload *w = (mr_workload *)1;
    char path[256];
    snprintf(path, sizeof path, "%s/missing.json", tmpdir);
    CHECK_STATUS(mr_workload_load(path, &w, &err), MR_ERR_IO, err.msg, "missing.json");
    CHECK(w == NULL);

    /* A file in a directory: errors name the path as given; traces resolve next to it. */
    write_text("w.csv", "fast\n0\n1\n2\n");
    write_text("w.json", "{\"name\":\"W\",\"duration_s\":1,\"tasks\":[{\"name\":\"fast\","
                         "\"model\":\"net.onnx\",\"criticality\":\"critical\",\"arrival\":"
                         "{\"type\":\"trace\",\"file\":\"w.csv\"}}]}");
    snprintf(path, sizeof path, "%s/w.json", tmpdir);
    w = NULL;
    CHECK_STATUS(mr_workload_load(path, &w, &err), MR_OK, err.msg, NULL);
    if (w) {
        char want[256];
        snprintf(want, sizeof want, "%s/net.onnx", tmpdir);
        CHECK(strcmp(w->tasks[0].model_spec, want) == 0);
        CHECK(w->tasks[0].arrival.n_times == 3);
        CHECK(strcmp(w->file, path) == 0);
    }
    mr_workload_free(w);
    write_text("w.json", "{\"duration_s\":1,\"tasks\":[{\"name\":\"fast\",\"model\":\"zoo:gru\","
                         "\"criticality\":\"critical\",\"arrival\":{\"type\":\"periodic\","
                         "\"rate_hz\":\"fast\"}}]}");
    char want[300];
    snprintf(want, sizeof want, "%s: tasks[0].arrival.rate_hz: must be a number > 0", path);
    CHECK_STATUS(mr_workload_load(path, &w, &err), MR_ERR_PARSE, err.msg, want);
    snprintf(path, sizeof path, "%s/w.csv", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/w.json", tmpdir);
    unlink(path);
}

/* ---------------------------------------------------------------------------------------- */

static mr_wl_task make_task(const char *name, mr_arrival_kind kind, double rate, double offset) {
    mr_wl_task t;
    memset(&t, 0, sizeof t);
    t.name = (char *)name;
    t.arrival.kind = kind;
    t.arrival.rate_hz = rate;
    t.arrival.offset_ms = offset;
    t.arrival.concurrency = 1;
    return t;
}

static void test_arrivals(void) {
    /* Periodic: exactly offset + k * 1000 / rate (no accumulated drift), whatever the seed. */
    mr_wl_task t = make_task("p", MR_ARRIVAL_PERIODIC, 30, 7.5);
    mr_arrivals g;
    mr_arrivals_init(&g, &t, 99);
    int exact = 1;
    for (int64_t k = 0; k < 1000000; k++) {
        double x;
        if (!mr_arrivals_next(&g, &x) || x != 7.5 + (double)k * (1000.0 / 30)) exact = 0;
    }
    CHECK(exact);
    double x;
    mr_arrivals_init(&g, &t, 1);
    CHECK(mr_arrivals_next(&g, &x) && x == 7.5);
    CHECK(mr_arrivals_next(&g, &x) && x == 7.5 + 1000.0 / 30);

    /* Closed loop: no open-loop arrivals. */
    mr_wl_task c = make_task("c", MR_ARRIVAL_CLOSED, 0, 0);
    mr_arrivals_init(&g, &c, 1);
    CHECK(!mr_arrivals_next(&g, &x));

    /* Poisson: the same (seed, name) gives the same stream; another seed or name another. */
    mr_wl_task p = make_task("poisson", MR_ARRIVAL_POISSON, 50, 0);
    mr_wl_task q = make_task("other", MR_ARRIVAL_POISSON, 50, 0);
    mr_arrivals a, b, s2, n2;
    mr_arrivals_init(&a, &p, 1);
    mr_arrivals_init(&b, &p, 1);
    mr_arrivals_init(&s2, &p, 2);
    mr_arrivals_init(&n2, &q, 1);
    int same = 1, diff_seed = 0, diff_name = 0, monotone = 1;
    double prev = 0;
    for (int k = 0; k < 1000; k++) {
        double xa, xb, xs, xn;
        mr_arrivals_next(&a, &xa);
        mr_arrivals_next(&b, &xb);
        mr_arrivals_next(&s2, &xs);
        mr_arrivals_next(&n2, &xn);
        if (xa != xb) same = 0;
        if (xa != xs) diff_seed++;
        if (xa != xn) diff_name++;
        if (xa < prev) monotone = 0;
        prev = xa;
    }
    CHECK(same && monotone);
    CHECK(diff_seed > 990 && diff_name > 990);

    /* Mean and standard deviation of the gaps over 20000 draws, within 5% of 1/rate. The
     * gaps are exponential, whose standard deviation equals its mean m, so the sample mean
     * has standard deviation m / sqrt(20000) = 0.71% of m: 5% is 7 standard deviations. The
     * sample standard deviation has relative standard deviation about sqrt((9 - 1) / 4 / n) =
     * 1.0% (exponential kurtosis 9), so 5% is 5 of them. The streams are fixed by their seeds,
     * so the check cannot flake; it guards against a wrong scale (Hz vs ms, rate used as the
     * mean) or a broken uniform draw, which miss by far more. */
    const double rates[] = {0.5, 30, 1000, 1e5};
    for (int r = 0; r < 4; r++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            mr_wl_task e = make_task("exp", MR_ARRIVAL_POISSON, rates[r], 0);
            mr_arrivals_init(&g, &e, seed);
            const int n = 20000;
            double last = 0, sum = 0, sum2 = 0, min_gap = 1e300;
            for (int k = 0; k < n; k++) {
                double tk;
                mr_arrivals_next(&g, &tk);
                double gap = tk - last;
                last = tk;
                sum += gap;
                sum2 += gap * gap;
                if (gap < min_gap) min_gap = gap;
            }
            double want = 1000.0 / rates[r], mean = sum / n;
            double sd = sqrt(sum2 / n - mean * mean);
            CHECK_MSG(fabs(mean - want) < 0.05 * want, "rate %g seed %llu: mean gap %g, want %g",
                      rates[r], (unsigned long long)seed, mean, want);
            CHECK_MSG(fabs(sd - want) < 0.05 * want, "rate %g: gap sd %g, want %g", rates[r], sd,
                      want);
            CHECK(min_gap >= 0);
        }
    }

    /* The stream depends on the task's name and the seed only. */
    CHECK(mr_workload_hash(1, "a", 0) == mr_workload_hash(1, "a", 0));
    CHECK(mr_workload_hash(1, "a", 0) != mr_workload_hash(2, "a", 0));
    CHECK(mr_workload_hash(1, "a", 0) != mr_workload_hash(1, "b", 0));
    CHECK(mr_workload_hash(1, "a", 0) != mr_workload_hash(1, "a", 1));
    CHECK(strcmp(mr_arrival_kind_name(MR_ARRIVAL_TRACE), "trace") == 0);
    CHECK(strcmp(mr_arrival_kind_name(MR_ARRIVAL_CLOSED), "closed") == 0);
}

/* The report's ratios against the solo baseline (src/bench/driver.c), on made-up results. */
static void test_ratios(void) {
    mr_workload *w =
        PARSE_OK("{\"duration_s\":1,\"tasks\":[" TASK_A ",{\"name\":\"b\",\"model\":\"zoo:lstm\","
                 "\"criticality\":\"critical\",\"arrival\":{\"type\":\"poisson\",\"rate_hz\":5}},"
                 "{\"name\":\"n1\",\"model\":\"zoo:gru\",\"criticality\":\"normal\",\"arrival\":"
                 "{\"type\":\"closed\"}},{\"name\":\"n2\",\"model\":\"zoo:gru\",\"criticality\":"
                 "\"normal\",\"arrival\":{\"type\":\"closed\"}}]}");
    mr_bench_result *r = calloc(2, sizeof *r);
    if (!w || !r) {
        mr_workload_free(w);
        free(r);
        return;
    }
    mr_bench_result *run = &r[0], *solo = &r[1];
    solo->solo = 1;
    const double p99[4] = {10, 4, 0, 0}, solo_p99[4] = {5, 4, 0, 0};
    const double tput[4] = {0, 0, 30, 5}, solo_tput[4] = {0, 0, 60, 10};
    for (int i = 0; i < 4; i++) {
        run->tasks[i].ran = solo->tasks[i].ran = 1;
        run->tasks[i].p99_ms = p99[i];
        solo->tasks[i].p99_ms = solo_p99[i];
        run->tasks[i].throughput_rps = tput[i];
        solo->tasks[i].throughput_rps = solo_tput[i];
    }
    CHECK(mr_bench_vs_solo(w, run, solo, 0) == 2.0);
    CHECK(mr_bench_vs_solo(w, run, solo, 1) == 1.0);
    CHECK(mr_bench_vs_solo(w, run, solo, 2) == 0.5);
    CHECK(isnan(mr_bench_vs_solo(w, run, NULL, 0)));
    CHECK(isnan(mr_bench_vs_solo(w, solo, solo, 0))); /* the baseline against itself */
    double cp, nt;
    mr_bench_summary(w, run, solo, &cp, &nt);
    CHECK(cp == 2.0 && nt == 0.5); /* worst critical, mean normal */
    mr_bench_summary(w, run, NULL, &cp, &nt);
    CHECK(isnan(cp) && isnan(nt));
    /* A task that completed nothing alone gives no ratio and is left out of the summary. */
    solo->tasks[0].p99_ms = NAN;
    mr_bench_summary(w, run, solo, &cp, &nt);
    CHECK(cp == 1.0);
    mr_bench_params p = mr_bench_default_params();
    CHECK(p.solo_task == -1 && p.grace_s == 2.0 && p.runtime.policy == MR_POLICY_ELASTIC);
    free(r);
    mr_workload_free(w);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/miriam-test-workload-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_shipped();
    test_defaults();
    test_bad_documents();
    test_bad_tasks();
    test_bad_arrivals();
    test_traces();
    test_load_file();
    test_arrivals();
    test_ratios();
    char path[256];
    snprintf(path, sizeof path, "%s/good.csv", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/t.csv", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    return mr_test_finish("workload");
}
