/* miriam compare: one workload under every sharing policy against the solo baselines, in one
 * invocation: a markdown table on stdout, and results.json, results.csv and gnuplot plots in an
 * output directory (docs/WORKLOADS.md, "Comparing policies"). Rows of another system's run
 * (scripts/mdtb_torch.py writes them) join the report as extra policies with --include. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/driver.h"
#include "bench/plot.h"
#include "cli.h"

#define N_POLICIES     MR_BENCH_MAX_POLICIES /* every policy name */
#define N_ALL          6                     /* "all": the six sharing policies */
#define MAX_INCLUDES   16
#define MAX_EXTERNAL   32     /* policies read from --include files */
#define KEEP_LATENCIES 100000 /* latency samples per task and run (for the CDFs) */
/* The timeline shows the first TIMELINE_MS of each policy's measured window: a few periods
 * of a 30 Hz critical task. */
#define TIMELINE_MS   100.0
#define N_PCT         100 /* latency percentiles 1..100 per task and run */
#define MAX_CSV_COLS  256
#define MAX_CSV_BYTES (64 << 20)
#define MAX_RUNS      (1 + N_POLICIES + MAX_EXTERNAL)

/* results.csv, and what scripts/mdtb_torch.py writes and --include reads. Stable: columns are
 * only ever appended (the first 24 are those of `miriam bench WORKLOAD -o csv`). */
static const char csv_header[] =
    "workload,policy,task,model,criticality,arrival,deadline_ms,max_in_flight,submitted,"
    "completed,rejected,cancelled,p50_ms,p90_ms,p99_ms,max_ms,mean_ms,throughput_rps,"
    "deadline_misses,deadline_miss_pct,p99_vs_solo,throughput_vs_solo,backend,threads,"
    "measured_s,latency_samples,latency_pct_ms";

typedef struct run {
    char name[MR_WL_MAX_NAME + 1]; /* "solo", a policy, or an included run's policy column */
    const char *source;            /* NULL: measured here; else the --include file */
    char backend[64];
    int threads;
    mr_bench_result r;
    double pct[MR_WL_MAX_TASKS][N_PCT]; /* latency percentiles 1..100; NaN when unknown */
    int64_t n_samples[MR_WL_MAX_TASKS]; /* latency samples behind pct */
    double crit_p99, normal_tput, system_tput, vs_sequential;
    const struct run *base; /* the solo run its ratios divide by (see set_baselines) */
} run;

/* Ratios divide each run by its own system's solo run: miriam's runs by miriam's solo (run 0),
 * an included file's runs by that file's "...-solo" row when it has one (PyTorch's slower or
 * faster kernels must not count as sharing gains or losses), else by miriam's. */
static void set_baselines(run *runs, int n_runs) {
    for (int r = 0; r < n_runs; r++) {
        runs[r].base = &runs[0];
        if (!runs[r].source) continue;
        for (int q = 0; q < n_runs; q++) {
            size_t len = strlen(runs[q].name);
            if (runs[q].source == runs[r].source && len > 5 &&
                strcmp(runs[q].name + len - 5, "-solo") == 0) {
                runs[r].base = &runs[q];
                break;
            }
        }
    }
}

typedef struct cmp_opts {
    cli_common c;
    mr_bench_policy policies[N_POLICIES];
    int implicit[N_POLICIES]; /* from "all" or the default, not named one by one */
    int n_policies;
    double duration_s, warmup_s, grace_s; /* < 0: the workload's / the default */
    long long seed;                       /* < 0: the workload's */
    long long partition_critical;
    const char *workload, *out_dir;
    const char *includes[MAX_INCLUDES];
    int n_includes;
    int no_plots;
} cmp_opts;

static void compare_usage(void) {
    printf("usage: miriam compare WORKLOAD.json [options]\n\n"
           "Runs each task of the workload alone (the solo baselines), then the whole workload\n"
           "under each sharing policy, each on a fresh runtime, and reports per policy and task\n"
           "the latency percentiles, deadline misses and throughput, and per policy the critical\n"
           "tasks' p99 and the normal tasks' throughput against solo and the system throughput.\n"
           "Prints a markdown table and writes, in the output directory, results.json,\n"
           "results.csv and gnuplot plots (latency CDF of the critical tasks, throughput bars).\n"
           "See docs/WORKLOADS.md, \"Comparing policies\".\n\n"
           "  --policies LIST  comma-separated: sequential, multistream, priority, padding,\n"
           "                   partition, elastic, or all (default: all); the solo baselines\n"
           "                   always run; elastic-tuned / elastic-analytic: elastic with\n"
           "                   shards from the tuned profile (required) / the analytic\n"
           "                   estimate only, to compare the two\n"
           "  --duration S     measured seconds per run (default: the workload's duration_s)\n"
           "  --warmup S       warm-up seconds per run (default: the workload's warmup_s)\n"
           "  --seed N         seed of inputs and Poisson arrivals (default: the workload's)\n"
           "  --grace S        time in-flight requests get to finish at the end of a run\n"
           "                   (default 2)\n"
           "  --partition-critical N\n"
           "                   partition policy: SMs (CUDA) or workers (CPU) for critical tasks\n"
           "  -o DIR           output directory (default compare-out/WORKLOAD-NAME; created)\n"
           "  --include FILE   rows of another system's run in the results.csv schema (e.g.\n"
           "                   from scripts/mdtb_torch.py), added as extra policies; their ratios\n"
           "                   use this run's solo baselines. May be repeated\n"
           "  --no-plots       write no plot files\n"
           "  --device D       cpu, cuda or auto (default auto)\n"
           "  --threads N      CPU worker threads (default: one per core)\n"
           "  -v, --verbose    log what the runtime does on stderr\n");
    cli_cuda_options_help(17);
    cli_op_library_help(17);
    printf("\nPlots need gnuplot (Debian: gnuplot-nox); without it the .gp scripts and .dat\n"
           "files are still written, to be drawn later with `gnuplot NAME.gp` in DIR.\n");
}

/* ---------------------------------------------------------------------------------------- */
/* Arguments                                                                                */

static int parse_policies(cmp_opts *o, const char *list) {
    char buf[256];
    if (!list || !*list) return cli_error("--policies expects a list of policies");
    if (strlen(list) >= sizeof buf) return cli_error("--policies: list too long");
    snprintf(buf, sizeof buf, "%s", list);
    o->n_policies = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        mr_bench_policy one[N_POLICIES];
        int n = 0;
        if (strcmp(tok, "all") == 0) {
            for (n = 0; n < N_ALL; n++) mr_bench_policy_at(n, &one[n]);
            for (int k = 0; k < n; k++) o->implicit[o->n_policies + k] = 1;
        } else if (strcmp(tok, "solo") == 0) {
            continue; /* always run */
        } else if (mr_bench_policy_parse(tok, &one[0]) == MR_OK) {
            n = 1;
        } else {
            return cli_error("--policies: unknown policy '%s' (expected sequential, multistream, "
                             "priority, padding, partition, elastic, elastic-tuned, "
                             "elastic-analytic or all)",
                             tok);
        }
        for (int k = 0; k < n; k++) {
            for (int j = 0; j < o->n_policies; j++)
                if (o->policies[j].policy == one[k].policy &&
                    o->policies[j].profiles == one[k].profiles)
                    return cli_error("--policies: '%s' is given twice",
                                     mr_bench_policy_name(one[k]));
            if (n == 1) o->implicit[o->n_policies] = 0;
            o->policies[o->n_policies++] = one[k];
        }
    }
    if (o->n_policies == 0) return cli_error("--policies expects at least one policy");
    return 0;
}

static int parse_args(cmp_opts *o, int argc, char **argv, int *help) {
    memset(o, 0, sizeof *o);
    cli_common_init(&o->c);
    for (o->n_policies = 0; o->n_policies < N_ALL; o->n_policies++) {
        mr_bench_policy_at(o->n_policies, &o->policies[o->n_policies]);
        o->implicit[o->n_policies] = 1;
    }
    o->duration_s = o->warmup_s = o->grace_s = -1;
    o->seed = -1;
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            return 0;
        }
        int r = cli_common_option(&o->c, argc, argv, &i);
        if (r == 1) return 1;
        if (r == -1) continue;
        if (strcmp(a, "--policies") == 0 || strcmp(a, "--policy") == 0) {
            if (parse_policies(o, v)) return 1;
        } else if (strcmp(a, "--duration") == 0) {
            if (cli_parse_float(a, v, &o->duration_s)) return 1;
            if (!(o->duration_s > 0 && o->duration_s <= MR_WL_MAX_SECONDS))
                return cli_error("--duration expects seconds in (0, %g], got '%s'",
                                 MR_WL_MAX_SECONDS, v);
        } else if (strcmp(a, "--warmup") == 0) {
            if (cli_parse_float(a, v, &o->warmup_s)) return 1;
            if (o->warmup_s > MR_WL_MAX_SECONDS)
                return cli_error("--warmup expects seconds in [0, %g], got '%s'", MR_WL_MAX_SECONDS,
                                 v);
        } else if (strcmp(a, "--grace") == 0) {
            if (cli_parse_float(a, v, &o->grace_s)) return 1;
            if (o->grace_s > 3600) return cli_error("--grace expects seconds in [0, 3600]");
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_int(a, v, 0, 9007199254740992LL, &o->seed)) return 1;
        } else if (strcmp(a, "--partition-critical") == 0) {
            if (cli_parse_int(a, v, 1, 1 << 20, &o->partition_critical)) return 1;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0) {
            if (!v || !*v) return cli_error("%s expects a directory", a);
            o->out_dir = v;
        } else if (strcmp(a, "--include") == 0) {
            if (!v || !*v) return cli_error("--include expects a CSV file");
            if (o->n_includes == MAX_INCLUDES)
                return cli_error("--include: at most %d files", MAX_INCLUDES);
            o->includes[o->n_includes++] = v;
        } else if (strcmp(a, "--no-plots") == 0) {
            o->no_plots = 1;
            continue;
        } else if (a[0] == '-' && a[1]) {
            return cli_error("compare: unknown option '%s' (see miriam compare --help)", a);
        } else {
            if (o->workload)
                return cli_error("compare: unexpected argument '%s' (one workload file)", a);
            o->workload = a;
            continue;
        }
        i++;
    }
    if (!o->workload)
        return cli_error("compare: no workload file given (see miriam compare --help)");
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* --include: CSV rows of another run                                                       */

/* Splits the CSV text (RFC 4180: quoted fields with "" for a quote, CR LF or LF line ends) in
 * place. Each call reads one record into fields[]; returns the number of fields, 0 at the end,
 * -1 for a malformed record. *line is the line the record starts on. Unquoting only ever
 * shortens a field, so the text is rewritten in place, each field NUL-terminated where its
 * delimiter was (the buffer has one spare byte past the end for the last one). */
typedef struct csv_in {
    char *p, *end;
    int line;
} csv_in;

static int csv_record(csv_in *c, char **fields, int max_fields, int *line, const char **why) {
    /* Blank lines are skipped. */
    while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) {
        if (*c->p == '\n') c->line++;
        c->p++;
    }
    if (c->p >= c->end) return 0;
    *line = c->line;
    int n = 0;
    for (;;) {
        if (n == max_fields) {
            *why = "too many columns";
            return -1;
        }
        char *w = c->p;
        fields[n++] = w;
        if (c->p < c->end && *c->p == '"') {
            c->p++;
            for (;;) {
                if (c->p >= c->end) {
                    *why = "a quoted field is not closed";
                    return -1;
                }
                if (*c->p == '"') {
                    if (c->p + 1 < c->end && c->p[1] == '"') {
                        *w++ = '"';
                        c->p += 2;
                        continue;
                    }
                    c->p++;
                    break;
                }
                if (*c->p == '\n') c->line++;
                *w++ = *c->p++;
            }
            if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                *why = "text after a closing quote";
                return -1;
            }
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                if (*c->p == '"') {
                    *why = "a quote inside an unquoted field";
                    return -1;
                }
                *w++ = *c->p++;
            }
        }
        /* The delimiter: ',' another field; CR LF, LF or the end: the record's end. */
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            *w = '\0';
            continue;
        }
        if (c->p < c->end && *c->p == '\r') c->p++;
        if (c->p < c->end && *c->p == '\n') {
            c->p++;
            c->line++;
        }
        *w = '\0';
        return n;
    }
}

/* An empty cell is NaN (not applicable); anything else must be a finite number >= 0. */
static int cell_num(const char *s, double *out) {
    if (!*s) {
        *out = NAN;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v) || v < 0) return -1;
    *out = v;
    return 0;
}

static int cell_count(const char *s, int64_t *out) {
    double v;
    if (cell_num(s, &v)) return -1;
    if (isnan(v)) { /* empty: not reported */
        *out = 0;
        return 0;
    }
    if (v != floor(v) || v > 9e15) return -1;
    *out = (int64_t)v;
    return 0;
}

/* latency_pct_ms: N_PCT non-decreasing numbers separated by blanks, or empty. */
static int cell_pcts(const char *s, double *pct, int *have) {
    *have = 0;
    while (*s == ' ') s++;
    if (!*s) return 0;
    for (int k = 0; k < N_PCT; k++) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || !isfinite(v) || v < 0 || (k > 0 && v < pct[k - 1])) return -1;
        if (*end && *end != ' ') return -1;
        pct[k] = v;
        s = end;
        while (*s == ' ') s++;
    }
    if (*s) return -1;
    *have = 1;
    return 0;
}

enum {
    C_WORKLOAD,
    C_POLICY,
    C_TASK,
    C_MODEL,
    C_CRIT,
    C_SUBMITTED,
    C_COMPLETED,
    C_REJECTED,
    C_CANCELLED,
    C_P50,
    C_P90,
    C_P99,
    C_MAX,
    C_MEAN,
    C_TPUT,
    C_MISSES,
    C_MISS_PCT,
    C_BACKEND,
    C_THREADS,
    C_MEASURED,
    C_SAMPLES,
    C_PCT,
    C_N
};

static const char *const col_names[C_N] = {"workload",
                                           "policy",
                                           "task",
                                           "model",
                                           "criticality",
                                           "submitted",
                                           "completed",
                                           "rejected",
                                           "cancelled",
                                           "p50_ms",
                                           "p90_ms",
                                           "p99_ms",
                                           "max_ms",
                                           "mean_ms",
                                           "throughput_rps",
                                           "deadline_misses",
                                           "deadline_miss_pct",
                                           "backend",
                                           "threads",
                                           "measured_s",
                                           "latency_samples",
                                           "latency_pct_ms"};

/* Columns an included file must have; the others are optional (empty when absent). */
static int col_required(int c) {
    return c == C_POLICY || c == C_TASK || c == C_COMPLETED || c == C_P50 || c == C_P90 ||
           c == C_P99 || c == C_MAX || c == C_TPUT;
}

static char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("--include: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            if (cap > MAX_CSV_BYTES) {
                cli_error("--include: %s: larger than %d MiB", path, MAX_CSV_BYTES >> 20);
                free(buf);
                fclose(f);
                return NULL;
            }
            size_t nc = cap ? 2 * cap : 65536;
            char *nb = realloc(buf, nc);
            if (!nb) {
                cli_error("out of memory");
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        cli_error("--include: cannot read %s", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *size = n;
    return buf;
}

/* Policy names go into tables, CSV cells and plot legends: kept to a plain alphabet. */
static int valid_policy_name(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > MR_WL_MAX_NAME) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_-.+", *s)))
            return 0;
    return 1;
}

static int is_own_name(const char *name) {
    mr_bench_policy p;
    return strcmp(name, "solo") == 0 || mr_bench_policy_parse(name, &p) == MR_OK;
}

/* Reads an included CSV into runs[*n_runs...] (new policies) and checks that it describes this
 * workload. Returns 0, or 1 after printing the error. */
static int load_include(const char *path, const mr_workload *w, run *runs, int first_ext,
                        int *n_runs) {
    size_t size;
    char *text = read_file(path, &size);
    if (!text) return 1;
    csv_in c = {text, text + size, 1};
    char *f[MAX_CSV_COLS];
    int line, rc = 0, col[C_N];
    const char *why = NULL;
    int n_head = csv_record(&c, f, MAX_CSV_COLS, &line, &why);
    if (n_head <= 0) {
        rc = cli_error("--include: %s: %s", path, n_head == 0 ? "empty file" : why);
        goto out;
    }
    for (int k = 0; k < C_N; k++) {
        col[k] = -1;
        for (int j = 0; j < n_head; j++)
            if (strcmp(f[j], col_names[k]) == 0) col[k] = j;
        if (col[k] < 0 && col_required(k)) {
            rc = cli_error("--include: %s:%d: no column '%s' (expected the header of "
                           "results.csv; see docs/WORKLOADS.md)",
                           path, line, col_names[k]);
            goto out;
        }
    }
    int n_rows = 0;
    for (;;) {
        int n = csv_record(&c, f, MAX_CSV_COLS, &line, &why);
        if (n == 0) break;
        if (n < 0) {
            rc = cli_error("--include: %s:%d: %s", path, line, why);
            goto out;
        }
        if (n != n_head) {
            rc = cli_error("--include: %s:%d: %d fields, the header has %d", path, line, n, n_head);
            goto out;
        }
        const char *cell[C_N];
        for (int k = 0; k < C_N; k++) cell[k] = col[k] >= 0 ? f[col[k]] : "";
        if (cell[C_WORKLOAD][0] && strcmp(cell[C_WORKLOAD], w->name) != 0) {
            rc = cli_error("--include: %s:%d: a row of workload '%s', not '%s'", path, line,
                           cell[C_WORKLOAD], w->name);
            goto out;
        }
        const char *pol = cell[C_POLICY];
        if (!valid_policy_name(pol)) {
            rc = cli_error("--include: %s:%d: policy '%s': expected 1 to %d letters, digits, "
                           "'_', '-', '.' or '+'",
                           path, line, pol, MR_WL_MAX_NAME);
            goto out;
        }
        if (is_own_name(pol)) {
            rc = cli_error("--include: %s:%d: policy '%s' is a name of miriam's own runs: "
                           "rename it in the file (e.g. 'other-%s')",
                           path, line, pol, pol);
            goto out;
        }
        int ti = mr_workload_find_task(w, cell[C_TASK]);
        if (ti < 0) {
            rc = cli_error("--include: %s:%d: task '%s' is not in workload '%s'", path, line,
                           cell[C_TASK], w->name);
            goto out;
        }
        const mr_wl_task *wt = &w->tasks[ti];
        if (cell[C_CRIT][0] && strcmp(cell[C_CRIT], mr_criticality_name(wt->criticality)) != 0) {
            rc = cli_error("--include: %s:%d: task '%s' is %s here but %s in the workload", path,
                           line, wt->name, cell[C_CRIT], mr_criticality_name(wt->criticality));
            goto out;
        }
        if (cell[C_MODEL][0] && strcmp(cell[C_MODEL], wt->model) != 0) {
            rc = cli_error("--include: %s:%d: task '%s' runs %s here but %s in the workload", path,
                           line, wt->name, cell[C_MODEL], wt->model);
            goto out;
        }
        run *ru = NULL;
        for (int j = first_ext; j < *n_runs; j++)
            if (strcmp(runs[j].name, pol) == 0) ru = &runs[j];
        if (ru && ru->source != path) {
            rc = cli_error("--include: %s:%d: policy '%s' is also in %s", path, line, pol,
                           ru->source);
            goto out;
        }
        if (!ru) {
            if (*n_runs - first_ext >= MAX_EXTERNAL) {
                rc = cli_error("--include: at most %d included policies", MAX_EXTERNAL);
                goto out;
            }
            ru = &runs[(*n_runs)++];
            memset(ru, 0, sizeof *ru);
            snprintf(ru->name, sizeof ru->name, "%s", pol);
            ru->source = path;
            snprintf(ru->backend, sizeof ru->backend, "%s", cell[C_BACKEND]);
            ru->r.n_tasks = w->n_tasks;
            ru->r.measured_s = NAN;
            for (int i = 0; i < MR_WL_MAX_TASKS; i++)
                for (int k = 0; k < N_PCT; k++) ru->pct[i][k] = NAN;
        }
        mr_bench_task_result *t = &ru->r.tasks[ti];
        if (t->ran) {
            rc = cli_error("--include: %s:%d: a second row of policy '%s', task '%s'", path, line,
                           pol, wt->name);
            goto out;
        }
        t->ran = 1;
        double *dst[] = {&t->p50_ms,  &t->p90_ms,         &t->p99_ms,  &t->max_ms,
                         &t->mean_ms, &t->throughput_rps, &t->miss_pct};
        const int src[] = {C_P50, C_P90, C_P99, C_MAX, C_MEAN, C_TPUT, C_MISS_PCT};
        int64_t *cnt[] = {&t->submitted, &t->completed,       &t->rejected,
                          &t->cancelled, &t->deadline_misses, &ru->n_samples[ti]};
        const int csrc[] = {C_SUBMITTED, C_COMPLETED, C_REJECTED, C_CANCELLED, C_MISSES, C_SAMPLES};
        for (int k = 0; k < 7 && rc == 0; k++)
            if (cell_num(cell[src[k]], dst[k]))
                rc = cli_error("--include: %s:%d: %s: expected a number >= 0 or nothing, got "
                               "'%s'",
                               path, line, col_names[src[k]], cell[src[k]]);
        for (int k = 0; k < 6 && rc == 0; k++)
            if (cell_count(cell[csrc[k]], cnt[k]))
                rc = cli_error("--include: %s:%d: %s: expected a count, got '%s'", path, line,
                               col_names[csrc[k]], cell[csrc[k]]);
        double measured = NAN, threads = NAN;
        if (rc == 0 &&
            (cell_num(cell[C_MEASURED], &measured) || cell_num(cell[C_THREADS], &threads)))
            rc = cli_error("--include: %s:%d: measured_s and threads must be numbers >= 0", path,
                           line);
        int have = 0;
        if (rc == 0 && cell_pcts(cell[C_PCT], ru->pct[ti], &have))
            rc = cli_error("--include: %s:%d: latency_pct_ms: expected %d non-decreasing "
                           "numbers separated by blanks, or nothing",
                           path, line, N_PCT);
        if (rc) goto out;
        if (!have)
            for (int k = 0; k < N_PCT; k++) ru->pct[ti][k] = NAN;
        if (isfinite(measured)) ru->r.measured_s = measured;
        if (isfinite(threads)) ru->threads = (int)threads;
        n_rows++;
    }
    if (n_rows == 0) rc = cli_error("--include: %s: no rows", path);
out:
    free(text);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Metrics                                                                                  */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least fraction q of the samples at or below it. */
static double rank_value(const double *sorted, int64_t n, double q) {
    int64_t rank = (int64_t)ceil(q * (double)n - 1e-9);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

/* Percentiles of a measured run from its latency samples (sorted in place). */
static void measured_percentiles(run *ru, int n_tasks) {
    for (int i = 0; i < n_tasks; i++) {
        mr_bench_task_result *t = &ru->r.tasks[i];
        ru->n_samples[i] = t->n_latencies;
        if (t->n_latencies > 0)
            qsort(t->latencies_ms, (size_t)t->n_latencies, sizeof(double), cmp_double);
        for (int k = 0; k < N_PCT; k++)
            ru->pct[i][k] = t->n_latencies > 0
                                ? rank_value(t->latencies_ms, t->n_latencies, (k + 1) / 100.0)
                                : NAN;
    }
}

/* critical p99 / solo (worst), normal throughput / solo (mean), system throughput: the sum
 * over tasks of throughput / solo throughput, a task that did not run counting 0 (NaN when no
 * task has a solo throughput). */
static void summarize(const mr_workload *w, run *ru, const run *solo) {
    ru->crit_p99 = ru->normal_tput = ru->system_tput = ru->vs_sequential = NAN;
    if (ru == solo) return;
    mr_bench_summary(w, &ru->r, &solo->r, &ru->crit_p99, &ru->normal_tput);
    double sum = 0;
    int any = 0;
    for (int i = 0; i < w->n_tasks; i++) {
        double base = solo->r.tasks[i].throughput_rps, v = ru->r.tasks[i].throughput_rps;
        if (!(isfinite(base) && base > 0)) continue;
        any = 1;
        if (ru->r.tasks[i].ran && isfinite(v)) sum += v / base;
    }
    if (any) ru->system_tput = sum;
}

/* ---------------------------------------------------------------------------------------- */
/* Markdown                                                                                 */

#define TCOLS 12
#define TCELL 72

/* A table of strings printed with padded columns (row 0 is the header). */
typedef struct table {
    int n_cols;
    int right[TCOLS]; /* right-aligned (numbers) */
    int n_rows, cap;
    char (*cell)[TCOLS][TCELL];
} table;

static int table_row(table *t) {
    if (t->n_rows == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        void *p = realloc(t->cell, (size_t)cap * sizeof *t->cell);
        if (!p) return -1;
        t->cell = p;
        t->cap = cap;
    }
    memset(t->cell[t->n_rows], 0, sizeof *t->cell);
    return t->n_rows++;
}

static void table_set(table *t, int row, int col, const char *fmt, ...) MR_PRINTF(4, 5);
static void table_set(table *t, int row, int col, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->cell[row][col], TCELL, fmt, ap);
    va_end(ap);
}

static void table_print(FILE *f, const table *t) {
    int wd[TCOLS];
    for (int c = 0; c < t->n_cols; c++) {
        wd[c] = 3;
        for (int r = 0; r < t->n_rows; r++) {
            int n = (int)strlen(t->cell[r][c]);
            if (n > wd[c]) wd[c] = n;
        }
    }
    for (int r = 0; r < t->n_rows; r++) {
        fputc('|', f);
        for (int c = 0; c < t->n_cols; c++)
            fprintf(f, " %*s |", t->right[c] ? wd[c] : -wd[c], t->cell[r][c]);
        fputc('\n', f);
        if (r > 0) continue;
        fputc('|', f);
        for (int c = 0; c < t->n_cols; c++) {
            for (int k = 0; k < wd[c] + 2 - t->right[c]; k++) fputc('-', f);
            fputs(t->right[c] ? ":|" : "|", f);
        }
        fputc('\n', f);
    }
}

static const char *fmt_num(char *buf, size_t size, const char *f, double v) {
    if (!isfinite(v)) return "-";
    snprintf(buf, size, f, v);
    return buf;
}

static int print_markdown(FILE *f, const mr_workload *w, const run *runs, int n_runs,
                          const char *const *notes, int n_notes) {
    const run *solo = &runs[0];
    fprintf(f, "workload %s (%s): %d tasks, %g s measured after %g s warm-up, seed %llu, %s",
            w->name, w->file, w->n_tasks, w->duration_s, w->warmup_s, (unsigned long long)w->seed,
            solo->backend);
    if (solo->threads > 0) fprintf(f, " (%d threads)", solo->threads);
    fprintf(f, "\n\n");

    table t = {11, {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0}, 0, 0, NULL};
    int h = table_row(&t);
    if (h < 0) return cli_error("out of memory");
    static const char *const head[] = {"policy", "task",   "crit",   "completed", "p50 ms",
                                       "p90 ms", "p99 ms", "max ms", "req/s",     "deadline misses",
                                       "vs solo"};
    for (int c = 0; c < 11; c++) table_set(&t, h, c, "%s", head[c]);
    for (int r = 0; r < n_runs; r++)
        for (int i = 0; i < w->n_tasks; i++) {
            const mr_bench_task_result *x = &runs[r].r.tasks[i];
            const mr_wl_task *wt = &w->tasks[i];
            if (!x->ran) continue;
            int row = table_row(&t);
            if (row < 0) {
                free(t.cell);
                return cli_error("out of memory");
            }
            char b[32];
            table_set(&t, row, 0, "%s", runs[r].name);
            table_set(&t, row, 1, "%s", wt->name);
            table_set(&t, row, 2, "%s", mr_criticality_name(wt->criticality));
            table_set(&t, row, 3, "%lld", (long long)x->completed);
            table_set(&t, row, 4, "%s", fmt_num(b, sizeof b, "%.2f", x->p50_ms));
            table_set(&t, row, 5, "%s", fmt_num(b, sizeof b, "%.2f", x->p90_ms));
            table_set(&t, row, 6, "%s", fmt_num(b, sizeof b, "%.2f", x->p99_ms));
            table_set(&t, row, 7, "%s", fmt_num(b, sizeof b, "%.2f", x->max_ms));
            table_set(&t, row, 8, "%s", fmt_num(b, sizeof b, "%.1f", x->throughput_rps));
            if (wt->deadline_ms > 0 && isfinite(x->miss_pct))
                table_set(&t, row, 9, "%lld (%.1f%%)", (long long)x->deadline_misses, x->miss_pct);
            else
                table_set(&t, row, 9, "-");
            double v = runs[r].base == &runs[r]
                           ? NAN
                           : mr_bench_vs_solo(w, &runs[r].r, &runs[r].base->r, i);
            if (isfinite(v))
                table_set(&t, row, 10, "%s x%.2f",
                          wt->criticality == MR_TASK_CRITICAL ? "p99" : "tput", v);
            else
                table_set(&t, row, 10, "-");
        }
    table_print(f, &t);

    t.n_rows = 0;
    t.n_cols = 5;
    static const int right2[] = {0, 1, 1, 1, 1};
    memcpy(t.right, right2, sizeof right2);
    h = table_row(&t);
    table_set(&t, h, 0, "policy");
    table_set(&t, h, 1, "critical p99 / solo (worst)");
    table_set(&t, h, 2, "normal tput / solo (mean)");
    table_set(&t, h, 3, "system tput");
    table_set(&t, h, 4, "vs sequential");
    for (int r = 1; r < n_runs; r++) {
        int row = table_row(&t);
        if (row < 0) {
            free(t.cell);
            return cli_error("out of memory");
        }
        char b[32];
        table_set(&t, row, 0, "%s", runs[r].name);
        table_set(&t, row, 1, "%s", fmt_num(b, sizeof b, "%.2f", runs[r].crit_p99));
        table_set(&t, row, 2, "%s", fmt_num(b, sizeof b, "%.2f", runs[r].normal_tput));
        table_set(&t, row, 3, "%s", fmt_num(b, sizeof b, "%.2f", runs[r].system_tput));
        table_set(&t, row, 4, "%s", fmt_num(b, sizeof b, "x%.2f", runs[r].vs_sequential));
    }
    fputc('\n', f);
    table_print(f, &t);
    free(t.cell);
    if (n_notes > 0) fputc('\n', f);
    for (int k = 0; k < n_notes; k++) fprintf(f, "- %s\n", notes[k]);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* results.json, results.csv                                                                */

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

static void write_json(FILE *f, const mr_workload *w, const run *runs, int n_runs,
                       const char *const *notes, int n_notes) {
    const run *solo = &runs[0];
    fprintf(f, "{\n  \"workload\": ");
    json_string(f, w->name);
    fprintf(f, ",\n  \"file\": ");
    json_string(f, w->file);
    fprintf(f, ",\n  \"description\": ");
    json_string(f, w->description);
    fprintf(f, ",\n  \"backend\": ");
    json_string(f, solo->backend);
    fprintf(f, ",\n  \"threads\": %d,\n  \"duration_s\": ", solo->threads);
    json_num(f, w->duration_s);
    fprintf(f, ",\n  \"warmup_s\": ");
    json_num(f, w->warmup_s);
    fprintf(f, ",\n  \"seed\": %llu,\n  \"latency_samples_max\": %d,\n  \"tasks\": [",
            (unsigned long long)w->seed, KEEP_LATENCIES);
    for (int i = 0; i < w->n_tasks; i++) {
        const mr_wl_task *wt = &w->tasks[i];
        char arr[64];
        mr_arrival_describe(&wt->arrival, arr, sizeof arr);
        fprintf(f, "%s\n    {\"task\": ", i ? "," : "");
        json_string(f, wt->name);
        fprintf(f, ", \"model\": ");
        json_string(f, wt->model);
        fprintf(f,
                ", \"criticality\": \"%s\", \"arrival\": ", mr_criticality_name(wt->criticality));
        json_string(f, arr);
        fprintf(f, ", \"deadline_ms\": ");
        json_num(f, wt->deadline_ms > 0 ? wt->deadline_ms : NAN);
        fprintf(f, ", \"max_in_flight\": %d}", wt->max_in_flight);
    }
    fprintf(f, "\n  ],\n  \"runs\": [");
    for (int r = 0; r < n_runs; r++) {
        const run *ru = &runs[r];
        fprintf(f, "%s\n    {\"policy\": ", r ? "," : "");
        json_string(f, ru->name);
        fprintf(f, ", \"source\": ");
        json_string(f, ru->source ? ru->source : "miriam");
        fprintf(f, ", \"backend\": ");
        json_string(f, ru->backend);
        fprintf(f, ", \"measured_s\": ");
        json_num(f, ru->r.measured_s);
        fprintf(f, ",\n     \"critical_p99_vs_solo\": ");
        json_num(f, ru->crit_p99);
        fprintf(f, ", \"normal_throughput_vs_solo\": ");
        json_num(f, ru->normal_tput);
        fprintf(f, ", \"system_throughput\": ");
        json_num(f, ru->system_tput);
        fprintf(f, ", \"system_throughput_vs_sequential\": ");
        json_num(f, ru->vs_sequential);
        fprintf(f, ",\n     \"tasks\": [");
        int first = 1;
        for (int i = 0; i < w->n_tasks; i++) {
            const mr_bench_task_result *t = &ru->r.tasks[i];
            if (!t->ran) continue;
            fprintf(f, "%s\n      {\"task\": ", first ? "" : ",");
            first = 0;
            json_string(f, w->tasks[i].name);
            fprintf(f,
                    ", \"submitted\": %lld, \"completed\": %lld, \"rejected\": %lld, "
                    "\"cancelled\": %lld",
                    (long long)t->submitted, (long long)t->completed, (long long)t->rejected,
                    (long long)t->cancelled);
            static const char *const names[] = {"p50_ms", "p90_ms",  "p99_ms",
                                                "max_ms", "mean_ms", "throughput_rps"};
            const double vals[] = {t->p50_ms, t->p90_ms,  t->p99_ms,
                                   t->max_ms, t->mean_ms, t->throughput_rps};
            for (int k = 0; k < 6; k++) {
                fprintf(f, "%s\"%s\": ", k == 0 ? ",\n       " : ", ", names[k]);
                json_num(f, vals[k]);
            }
            fprintf(f, ",\n       \"deadline_misses\": %lld, \"deadline_miss_pct\": ",
                    (long long)t->deadline_misses);
            json_num(f, t->miss_pct);
            double v = ru->base == ru ? NAN : mr_bench_vs_solo(w, &ru->r, &ru->base->r, i);
            int crit = w->tasks[i].criticality == MR_TASK_CRITICAL;
            fprintf(f, ", \"p99_vs_solo\": ");
            json_num(f, crit ? v : NAN);
            fprintf(f, ", \"throughput_vs_solo\": ");
            json_num(f, crit ? NAN : v);
            fprintf(f, ",\n       \"latency_samples\": %lld, \"latency_pct_ms\": ",
                    (long long)ru->n_samples[i]);
            if (!isfinite(ru->pct[i][0])) {
                fputs("null", f);
            } else {
                fputc('[', f);
                for (int k = 0; k < N_PCT; k++) {
                    if (k) fputs(", ", f);
                    json_num(f, ru->pct[i][k]);
                }
                fputc(']', f);
            }
            fputc('}', f);
        }
        fprintf(f, "\n     ]}");
    }
    fprintf(f, "\n  ],\n  \"notes\": [");
    for (int k = 0; k < n_notes; k++) {
        fprintf(f, "%s\n    ", k ? "," : "");
        json_string(f, notes[k]);
    }
    fprintf(f, "\n  ]\n}\n");
}

/* A CSV cell: quoted (RFC 4180) when it holds a comma, quote or line break. */
static void csv_string(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.6g", v);
}

static void write_csv(FILE *f, const mr_workload *w, const run *runs, int n_runs) {
    fprintf(f, "%s\n", csv_header);
    for (int r = 0; r < n_runs; r++)
        for (int i = 0; i < w->n_tasks; i++) {
            const run *ru = &runs[r];
            const mr_bench_task_result *t = &ru->r.tasks[i];
            const mr_wl_task *wt = &w->tasks[i];
            if (!t->ran) continue;
            char arr[64];
            mr_arrival_describe(&wt->arrival, arr, sizeof arr);
            csv_string(f, w->name);
            fputc(',', f);
            csv_string(f, ru->name);
            fprintf(f, ",%s,", wt->name);
            csv_string(f, wt->model);
            fprintf(f, ",%s,%s,", mr_criticality_name(wt->criticality), arr);
            csv_num(f, wt->deadline_ms > 0 ? wt->deadline_ms : NAN);
            fprintf(f, ",%d,%lld,%lld,%lld,%lld,", wt->max_in_flight, (long long)t->submitted,
                    (long long)t->completed, (long long)t->rejected, (long long)t->cancelled);
            const double vals[] = {t->p50_ms, t->p90_ms,  t->p99_ms,
                                   t->max_ms, t->mean_ms, t->throughput_rps};
            for (int k = 0; k < 6; k++) {
                csv_num(f, vals[k]);
                fputc(',', f);
            }
            fprintf(f, "%lld,", (long long)t->deadline_misses);
            csv_num(f, t->miss_pct);
            double v = ru->base == ru ? NAN : mr_bench_vs_solo(w, &ru->r, &ru->base->r, i);
            int crit = wt->criticality == MR_TASK_CRITICAL;
            fputc(',', f);
            csv_num(f, crit ? v : NAN);
            fputc(',', f);
            csv_num(f, crit ? NAN : v);
            fputc(',', f);
            csv_string(f, ru->backend);
            fprintf(f, ",%d,", ru->threads);
            csv_num(f, ru->r.measured_s);
            fprintf(f, ",%lld,", (long long)ru->n_samples[i]);
            for (int k = 0; k < N_PCT && isfinite(ru->pct[i][0]); k++)
                fprintf(f, "%s%.6g", k ? " " : "", ru->pct[i][k]);
            fputc('\n', f);
        }
}

/* Writes DIR/NAME through `fn`; 0, or 1 after printing the error. */
static int write_report(const char *dir, const char *name, const mr_workload *w, const run *runs,
                        int n_runs, const char *const *notes, int n_notes, int json) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return cli_error("cannot write %s: %s", path, strerror(errno));
    if (json)
        write_json(f, w, runs, n_runs, notes, n_notes);
    else
        write_csv(f, w, runs, n_runs);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad) return cli_error("cannot write %s", path);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Plots                                                                                    */

/* The full path of `prog` found on PATH, or 0. */
static int find_on_path(const char *prog, char *out, size_t size) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (n > 0 && (size_t)snprintf(out, size, "%.*s/%s", (int)n, path, prog) < size &&
            access(out, X_OK) == 0)
            return 1;
        path += n;
        if (*path == ':') path++;
    }
    return 0;
}

/* Runs `gnuplot NAME.gp` in DIR, its output going to DIR/NAME.log, which is removed when
 * NAME.png came out. Returns 0 when it did; otherwise prints one warning and returns 1. */
static int run_gnuplot(const char *gnuplot, const char *dir, const char *name) {
    char script[128], log[128], png[1024];
    snprintf(script, sizeof script, "%s.gp", name);
    snprintf(log, sizeof log, "%s.log", name);
    snprintf(png, sizeof png, "%s/%s.png", dir, name);
    unlink(png);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "miriam: warning: cannot start gnuplot for %s/%s: %s\n", dir, script,
                strerror(errno));
        return 1;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec. */
        int in = open("/dev/null", O_RDONLY);
        if (chdir(dir) != 0 || in < 0) _exit(126);
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0) _exit(126);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        char *const argv[] = {(char *)"gnuplot", script, NULL};
        execv(gnuplot, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            status = -1;
            break;
        }
    struct stat st;
    int ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && stat(png, &st) == 0 &&
             st.st_size > 0;
    char logpath[1024];
    snprintf(logpath, sizeof logpath, "%s/%s", dir, log);
    if (ok) {
        unlink(logpath);
        return 0;
    }
    fprintf(stderr, "miriam: warning: gnuplot could not draw %s (see %s)\n", png, logpath);
    return 1;
}

/* The CDF of one task's latencies in a run: every sample up to 2000 of them, else 1000
 * evenly spaced ranks; an included run's 100 percentiles. */
static int cdf_points(const run *ru, int task, double **x, double **y) {
    const mr_bench_task_result *t = &ru->r.tasks[task];
    int n;
    if (t->n_latencies > 0)
        n = t->n_latencies <= 2000 ? (int)t->n_latencies : 1000;
    else if (t->ran && isfinite(ru->pct[task][0]))
        n = N_PCT;
    else
        return 0;
    *x = malloc(sizeof(double) * (size_t)n);
    *y = malloc(sizeof(double) * (size_t)n);
    if (!*x || !*y) return -1;
    for (int i = 0; i < n; i++) {
        if (t->n_latencies > 0 && t->n_latencies <= 2000) {
            (*x)[i] = t->latencies_ms[i];
            (*y)[i] = (double)(i + 1) / (double)n;
        } else if (t->n_latencies > 0) {
            (*y)[i] = (double)(i + 1) / 1000.0;
            (*x)[i] = rank_value(t->latencies_ms, t->n_latencies, (*y)[i]);
        } else {
            (*x)[i] = ru->pct[task][i];
            (*y)[i] = (double)(i + 1) / N_PCT;
        }
    }
    return n;
}

typedef struct plot_list {
    char names[2 + N_POLICIES][64]; /* the plots whose files were written */
    int drawn[2 + N_POLICIES];      /* ... and whose PNG gnuplot drew */
    int n;
} plot_list;

static int plot_cdf(const char *dir, const mr_workload *w, const run *runs, int n_runs,
                    plot_list *pl, char *note, size_t note_size) {
    int crit[MR_PLOT_MAX_PANELS], n_crit = 0, n_crit_all = 0;
    for (int i = 0; i < w->n_tasks; i++)
        if (w->tasks[i].criticality == MR_TASK_CRITICAL) {
            if (n_crit < MR_PLOT_MAX_PANELS) crit[n_crit++] = i;
            n_crit_all++;
        }
    if (n_crit == 0) {
        snprintf(note, note_size, "no critical task: no latency CDF plot");
        return 0;
    }
    if (n_crit_all > n_crit)
        snprintf(note, note_size, "latency CDF: the first %d of %d critical tasks", n_crit,
                 n_crit_all);
    mr_plot_panel panels[MR_PLOT_MAX_PANELS];
    mr_plot_series *series = calloc((size_t)(n_crit * n_runs), sizeof *series);
    char titles[MR_PLOT_MAX_PANELS][160];
    int rc = series ? 0 : cli_error("out of memory");
    for (int p = 0; p < n_crit && rc == 0; p++) {
        int ti = crit[p];
        snprintf(titles[p], sizeof titles[p], "%s (%s, critical)", w->tasks[ti].name,
                 w->tasks[ti].model);
        panels[p].title = titles[p];
        panels[p].series = &series[p * n_runs];
        panels[p].n_series = n_runs;
        for (int r = 0; r < n_runs && rc == 0; r++) {
            mr_plot_series *se = &series[p * n_runs + r];
            double *x = NULL, *y = NULL;
            int n = cdf_points(&runs[r], ti, &x, &y);
            se->label = runs[r].name;
            se->x = x;
            se->y = y;
            se->n = n > 0 ? n : 0;
            se->dashed = runs[r].source != NULL;
            if (n < 0) rc = cli_error("out of memory");
            if (n <= 0) {
                free(x);
                free(y);
                se->x = se->y = NULL;
            }
        }
    }
    if (rc == 0) {
        char title[160];
        snprintf(title, sizeof title, "workload %s: latency CDF of the critical tasks", w->name);
        mr_err err;
        mr_err_clear(&err);
        if (mr_plot_cdf(dir, "cdf_critical", title, panels, n_crit, &err) != MR_OK)
            rc = cli_error("%s", err.msg);
        else
            snprintf(pl->names[pl->n++], sizeof pl->names[0], "cdf_critical");
    }
    for (int k = 0; series && k < n_crit * n_runs; k++) {
        free((void *)series[k].x);
        free((void *)series[k].y);
    }
    free(series);
    return rc;
}

static int plot_bars(const char *dir, const mr_workload *w, const run *runs, int n_runs,
                     plot_list *pl) {
    mr_plot_bar bars[MAX_RUNS];
    int n = 0;
    for (int r = 1; r < n_runs; r++) {
        bars[n].label = runs[r].name;
        bars[n].critical_p99 = runs[r].crit_p99;
        bars[n].normal_tput = runs[r].normal_tput;
        bars[n].system_tput = runs[r].system_tput;
        n++;
    }
    if (n == 0) return 0;
    char title[160];
    snprintf(title, sizeof title, "workload %s: policies against the solo baselines", w->name);
    mr_err err;
    mr_err_clear(&err);
    if (mr_plot_bars(dir, "throughput", title, bars, n, w->n_tasks, &err) != MR_OK)
        return cli_error("%s", err.msg);
    snprintf(pl->names[pl->n++], sizeof pl->names[0], "throughput");
    return 0;
}

static int plot_timelines(const char *dir, const mr_workload *w, const run *runs, int n_runs,
                          plot_list *pl, char *note, size_t note_size) {
    const char *names[MR_WL_MAX_TASKS];
    for (int i = 0; i < w->n_tasks; i++) names[i] = w->tasks[i].name;
    int any = 0;
    for (int r = 1; r < n_runs; r++) {
        if (runs[r].source || runs[r].r.n_trace <= 0) continue;
        char name[64], title[160];
        snprintf(name, sizeof name, "timeline_%s", runs[r].name);
        snprintf(title, sizeof title, "workload %s, policy %s: which kernel ran when", w->name,
                 runs[r].name);
        mr_err err;
        mr_err_clear(&err);
        if (mr_plot_timeline(dir, name, title, runs[r].r.trace, runs[r].r.n_trace, names,
                             w->n_tasks, &err) != MR_OK)
            return cli_error("%s", err.msg);
        snprintf(pl->names[pl->n++], sizeof pl->names[0], "%s", name);
        any = 1;
    }
    if (!any)
        snprintf(note, note_size,
                 "no kernel-execution trace was recorded: no timeline plot (timeline_POLICY)");
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The command                                                                              */

/* Each run's runtime gets the --op-library operators. */
static int load_op_libraries(mr_runtime *rt, void *user) {
    return cli_load_op_libraries(user, rt);
}

static void log_to_stderr(mr_log_level level, const char *msg, void *user) {
    static const char *names[] = {"error", "warning", "info", "debug"};
    (void)user;
    /* Failures come back to the command, which reports them once with their context. */
    if (level <= MR_LOG_ERROR || level > MR_LOG_DEBUG) return;
    fprintf(stderr, "miriam: %s: %s\n", names[level], msg);
}

typedef struct progress_ctx {
    int run, n_runs; /* run 0 is solo: n_tasks runs of its own */
    const char *name;
    double run_s; /* one run: warm-up + duration */
    int n_tasks;
} progress_ctx;

/* "miriam compare: [#######.............] elastic (3/7), 41 s left" on one terminal line. */
static void show_progress(double elapsed_s, double total_s, void *user) {
    const progress_ctx *p = user;
    double all = p->run_s * (p->n_tasks + p->n_runs - 1);
    double done = (p->run == 0 ? 0 : p->run_s * (p->n_tasks + p->run - 1)) + elapsed_s;
    double left = total_s - elapsed_s + p->run_s * (p->n_runs - 1 - p->run);
    if (left < 0) left = 0;
    char bar[21];
    int fill = all > 0 ? (int)(20.0 * done / all) : 0;
    for (int k = 0; k < 20; k++) bar[k] = k < fill ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\rmiriam compare: [%s] %s (%d/%d), %.0f s left   ", bar, p->name, p->run + 1,
            p->n_runs, left);
    fflush(stderr);
}

/* mkdir -p, then a probe file: an unwritable directory fails before the benchmark runs. */
static int prepare_dir(const char *dir) {
    char path[1024];
    if (strlen(dir) >= sizeof path - 32) return cli_error("-o: path too long");
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return cli_error("cannot create directory %s: %s", path, strerror(errno));
        *p = c;
        if (!c) break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return cli_error("%s is not a directory", dir);
    snprintf(path, sizeof path, "%s/.miriam-compare-probe", dir);
    FILE *f = fopen(path, "w");
    if (!f) return cli_error("cannot write to %s: %s", dir, strerror(errno));
    fclose(f);
    unlink(path);
    return 0;
}

#define MAX_NOTES (6 + MAX_INCLUDES)
#define NOTE_LEN  512

int cmd_compare(int argc, char **argv) {
    cmp_opts o;
    int help;
    if (parse_args(&o, argc, argv, &help)) return 1;
    if (help) {
        compare_usage();
        return 0;
    }
    mr_err err;
    mr_err_clear(&err);
    mr_workload *w;
    if (mr_workload_load(o.workload, &w, &err) != MR_OK) return cli_error("%s", err.msg);
    if (o.duration_s > 0) w->duration_s = o.duration_s;
    if (o.warmup_s >= 0) w->warmup_s = o.warmup_s;
    if (o.seed >= 0) w->seed = (uint64_t)o.seed;

    int rc = 0, n_runs = 1 + o.n_policies;
    run *runs = calloc(MAX_RUNS, sizeof *runs);
    char(*notes)[NOTE_LEN] = calloc(MAX_NOTES, NOTE_LEN);
    const char *note_ptr[MAX_NOTES];
    int n_notes = 0;
    char dir[1024];
    if (!runs || !notes) rc = cli_error("out of memory");
    /* Everything that can be checked is, before the benchmark takes its minutes. */
    for (int k = 0; k < o.n_includes && rc == 0; k++)
        rc = load_include(o.includes[k], w, runs, 1 + o.n_policies, &n_runs);
    if (rc == 0) {
        if (o.out_dir)
            snprintf(dir, sizeof dir, "%s", o.out_dir);
        else
            snprintf(dir, sizeof dir, "compare-out/%s", w->name);
        rc = prepare_dir(dir);
    }

    mr_bench_params p = mr_bench_default_params();
    p.runtime.backend = o.c.backend;
    p.runtime.n_threads = o.c.threads;
    p.runtime.sms = o.c.sms;
    p.runtime.gpu = o.c.gpu;
    p.runtime.plain_launch = o.c.plain_launch;
    p.runtime.cuda_graphs = !o.c.no_graphs;
    p.runtime.dependent_launch = !o.c.no_pdl;
    p.runtime.persistent_recurrence = o.c.persistent_rnn;
    p.runtime.precision = o.c.precision;
    p.runtime.partition_critical = (int)o.partition_critical;
    p.runtime.log_fn = log_to_stderr;
    p.runtime.log_level = o.c.verbose ? MR_LOG_INFO : MR_LOG_WARN;
    p.keep_latencies = KEEP_LATENCIES;
    p.trace_ms = TIMELINE_MS;
    if (o.grace_s >= 0) p.grace_s = o.grace_s;
    p.setup_runtime = load_op_libraries;
    p.setup_user = &o.c;

    progress_ctx pc = {0, 1 + o.n_policies, NULL, w->warmup_s + w->duration_s, w->n_tasks};
    int tty = isatty(STDERR_FILENO);
    for (int r = 0; r < 1 + o.n_policies && rc == 0; r++) {
        run *ru = &runs[r];
        snprintf(ru->name, sizeof ru->name, "%s",
                 r == 0 ? "solo" : mr_bench_policy_name(o.policies[r - 1]));
        pc.run = r;
        pc.name = ru->name;
        p.runtime.policy = r == 0 ? MR_POLICY_ELASTIC : o.policies[r - 1].policy;
        p.runtime.profiles = r == 0 ? MR_PROFILES_AUTO : o.policies[r - 1].profiles;
        p.progress = tty ? show_progress : NULL;
        p.progress_user = &pc;
        mr_status st =
            r == 0 ? mr_bench_run_solo(w, &p, &ru->r, &err) : mr_bench_run(w, &p, &ru->r, &err);
        if (tty) fprintf(stderr, "\r\033[K");
        if (st == MR_ERR_INVALID_ARG && r > 0 && o.implicit[r - 1] &&
            o.policies[r - 1].policy == MR_POLICY_PARTITION) {
            /* A partition too small to split (e.g. 8 SMs: one SM group) is no reason to lose
             * the other policies' runs when partition was not asked for by name. */
            if (n_notes < MAX_NOTES)
                snprintf(notes[n_notes++], NOTE_LEN, "partition: not run (%s)", err.msg);
            memmove(&runs[r], &runs[r + 1], sizeof *runs * (size_t)(n_runs - r - 1));
            memset(&runs[n_runs - 1], 0, sizeof *runs);
            n_runs--;
            for (int k = r - 1; k + 1 < o.n_policies; k++) {
                o.policies[k] = o.policies[k + 1];
                o.implicit[k] = o.implicit[k + 1];
            }
            o.n_policies--;
            pc.n_runs--;
            r--;
            continue;
        }
        if (st != MR_OK) {
            rc = cli_error("%s", err.msg);
            break;
        }
        cli_backend_label_kind(&o.c, ru->r.backend, ru->backend, sizeof ru->backend);
        ru->threads = ru->r.n_threads;
        measured_percentiles(ru, w->n_tasks);
    }

    if (rc == 0) {
        const run *seq = NULL;
        for (int r = 1; r < 1 + o.n_policies; r++)
            if (runs[r].r.policy == MR_POLICY_SEQUENTIAL) seq = &runs[r];
        set_baselines(runs, n_runs);
        for (int r = 0; r < n_runs; r++) summarize(w, &runs[r], runs[r].base);
        for (int r = 1; seq && r < n_runs; r++)
            if (isfinite(seq->system_tput) && seq->system_tput > 0)
                runs[r].vs_sequential = runs[r].system_tput / seq->system_tput;

        snprintf(notes[n_notes++], NOTE_LEN,
                 "solo: each task alone (policy elastic, the same arrivals); \"vs solo\" is p99 "
                 "/ solo p99 for critical tasks and throughput / solo throughput for normal "
                 "ones");
        snprintf(notes[n_notes++], NOTE_LEN,
                 "system tput: the sum over the %d tasks of throughput / solo throughput (%d = "
                 "every task as fast as alone); vs sequential: its ratio to sequential's",
                 w->n_tasks, w->n_tasks);
        if (!seq)
            snprintf(notes[n_notes++], NOTE_LEN,
                     "vs sequential: sequential was not among --policies");
        for (int k = 0; k < o.n_includes; k++) {
            char list[NOTE_LEN / 2] = "";
            size_t len = 0;
            for (int r = 1 + o.n_policies; r < n_runs; r++)
                if (runs[r].source == o.includes[k] && len + 70 < sizeof list)
                    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "",
                                            runs[r].name);
            snprintf(notes[n_notes++], NOTE_LEN,
                     "%s: rows read from %s (another system's run); their ratios are computed "
                     "against that file's own solo row when it has one (a policy named "
                     "...-solo), else against miriam's solo baselines",
                     list, o.includes[k]);
        }
    }

    /* Plots first, so that their notes reach the reports. */
    plot_list pl;
    memset(&pl, 0, sizeof pl);
    char gnuplot[1024];
    if (rc == 0 && !o.no_plots) {
        char cdf_note[NOTE_LEN] = "", tl_note[NOTE_LEN] = "";
        rc = plot_cdf(dir, w, runs, n_runs, &pl, cdf_note, sizeof cdf_note);
        if (rc == 0) rc = plot_bars(dir, w, runs, n_runs, &pl);
        if (rc == 0) rc = plot_timelines(dir, w, runs, n_runs, &pl, tl_note, sizeof tl_note);
        if (cdf_note[0] && n_notes < MAX_NOTES)
            snprintf(notes[n_notes++], NOTE_LEN, "%s", cdf_note);
        if (tl_note[0] && n_notes < MAX_NOTES) snprintf(notes[n_notes++], NOTE_LEN, "%s", tl_note);
        int have_gnuplot = find_on_path("gnuplot", gnuplot, sizeof gnuplot);
        if (rc == 0 && pl.n > 0 && !have_gnuplot)
            fprintf(stderr,
                    "miriam: warning: gnuplot not found (Debian: gnuplot-nox): the plot scripts "
                    "and data are in %s; draw them there with `gnuplot NAME.gp`\n",
                    dir);
        for (int k = 0; rc == 0 && have_gnuplot && k < pl.n; k++)
            pl.drawn[k] = run_gnuplot(gnuplot, dir, pl.names[k]) == 0;
    }

    if (rc == 0) {
        for (int k = 0; k < n_notes; k++) note_ptr[k] = notes[k];
        rc = write_report(dir, "results.json", w, runs, n_runs, note_ptr, n_notes, 1);
        if (rc == 0) rc = write_report(dir, "results.csv", w, runs, n_runs, NULL, 0, 0);
    }
    if (rc == 0) rc = print_markdown(stdout, w, runs, n_runs, note_ptr, n_notes);
    if (rc == 0) {
        printf("\nwrote %s/results.json, %s/results.csv", dir, dir);
        for (int k = 0; k < pl.n; k++)
            printf(", %s/%s.%s", dir, pl.names[k], pl.drawn[k] ? "png" : "gp");
        printf("\n");
        fflush(stdout);
    }
    for (int r = 0; runs && r < MAX_RUNS; r++) mr_bench_result_free(&runs[r].r);
    free(runs);
    free(notes);
    mr_workload_free(w);
    return rc;
}
