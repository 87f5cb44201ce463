/* gnuplot scripts and data for the plots of `miriam compare`. Each plot NAME is two files in
 * the output directory: NAME.dat (the data, whitespace-separated columns described in its
 * header comment) and NAME.gp (a script that reads NAME.dat and writes NAME.png, run from that
 * directory: `gnuplot NAME.gp`), so a report can be restyled and redrawn without re-running the
 * benchmark. The scripts use the pngcairo terminal when gnuplot has it, else png. Nothing here
 * runs gnuplot. */
#ifndef MR_BENCH_PLOT_H
#define MR_BENCH_PLOT_H

#include <stdint.h>

#include "bench/driver.h"
#include "core/err.h"

/* A latency CDF: y[i] of the requests took at most x[i] ms (x non-decreasing, y in (0, 1]). */
typedef struct mr_plot_series {
    const char *label; /* the legend entry (a policy) */
    const double *x, *y;
    int n;
    int dashed; /* drawn dashed (runs of another system, from --include) */
} mr_plot_series;

typedef struct mr_plot_panel {
    const char *title; /* a task */
    const mr_plot_series *series;
    int n_series;
} mr_plot_panel;

/* Most panels one CDF plot lays out. */
#define MR_PLOT_MAX_PANELS 6

/* Latency CDFs, one panel per entry of `panels` (at most MR_PLOT_MAX_PANELS), one curve per
 * series. A panel's x axis is logarithmic when its latencies span more than 20x. Series
 * without points are left out. */
mr_status mr_plot_cdf(const char *dir, const char *name, const char *title,
                      const mr_plot_panel *panels, int n_panels, mr_err *err);

/* One policy's summary for the throughput plot; NaN where it does not apply. */
typedef struct mr_plot_bar {
    const char *label;   /* the policy */
    double critical_p99; /* worst critical p99 / solo p99 */
    double normal_tput;  /* mean normal throughput / solo throughput */
    double system_tput;  /* sum over tasks of throughput / solo throughput */
} mr_plot_bar;

/* Two panels: critical p99 / solo next to normal throughput / solo per policy (a line at 1,
 * the solo value), and the system throughput per policy (a line at n_tasks: every task at its
 * solo throughput). */
mr_status mr_plot_bars(const char *dir, const char *name, const char *title,
                       const mr_plot_bar *bars, int n_bars, int n_tasks, mr_err *err);

/* "Which kernel ran when": one row per lane, a box per event from t0 to t1, red for critical
 * tasks and blue for normal ones. task_names[e.task] names the task of event e in the data
 * file (n_tasks of them). The script shows a 100 ms window starting 10 ms before the first
 * critical event (edit its xrange to look elsewhere); the data file holds every event. */
mr_status mr_plot_timeline(const char *dir, const char *name, const char *title,
                           const mr_bench_trace_event *events, int64_t n_events,
                           const char *const *task_names, int n_tasks, mr_err *err);

#endif
