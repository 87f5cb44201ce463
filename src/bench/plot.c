/* gnuplot scripts and data for the plots of `miriam compare` (see plot.h).
 *
 * Data files group the points of several curves into blocks separated by two blank lines,
 * which gnuplot addresses as `index N`; values that do not apply are written as "-", which the
 * scripts declare as the missing-data marker. */
#include "bench/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An output file of a plot: DIR/NAME.EXT. */
typedef struct pfile {
    FILE *f;
    char path[1024];
} pfile;

static mr_status pf_open(pfile *p, const char *dir, const char *name, const char *ext,
                         mr_err *err) {
    int n = snprintf(p->path, sizeof p->path, "%s/%s.%s", dir, name, ext);
    p->f = NULL;
    if (n < 0 || (size_t)n >= sizeof p->path)
        return mr_errf(err, MR_ERR_INVALID_ARG, "plot: path too long: %s/%s.%s", dir, name, ext);
    p->f = fopen(p->path, "w");
    if (!p->f) return mr_errf(err, MR_ERR_IO, "cannot write %s", p->path);
    return MR_OK;
}

/* Closes the file; a write error anywhere before shows up here. */
static mr_status pf_close(pfile *p, mr_status st, mr_err *err) {
    if (!p->f) return st;
    int bad = ferror(p->f);
    bad |= fclose(p->f) != 0;
    p->f = NULL;
    if (st == MR_OK && bad) return mr_errf(err, MR_ERR_IO, "cannot write %s", p->path);
    return st;
}

/* A string inside a gnuplot double-quoted string: backslashes and quotes escaped, control
 * characters (which would end or corrupt the command) replaced by blanks. */
static void gp_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(f, "\\%c", *p);
        else
            fputc(*p < 0x20 || *p == 0x7f ? ' ' : *p, f);
    }
    fputc('"', f);
}

/* A label column of a data file: quoted, with quotes (which data files cannot escape) turned
 * into apostrophes. */
static void dat_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
        fputc(*p == '"' ? '\'' : *p < 0x20 || *p == 0x7f ? ' ' : *p, f);
    fputc('"', f);
}

static void dat_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputc('-', f);
}

/* Terminal, output file and the settings every plot shares. */
static void gp_prologue(FILE *f, const char *name, const char *what, int width, int height) {
    fprintf(f,
            "# %s.gp: %s, written by `miriam compare`.\n"
            "# Redraw %s.png from %s.dat after editing: gnuplot %s.gp (in this directory).\n"
            "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
            "    set terminal pngcairo noenhanced size %d,%d font \"sans,10\"\n"
            "} else {\n"
            "    set terminal png noenhanced size %d,%d\n"
            "}\n"
            "set output \"%s.png\"\n"
            "set datafile missing \"-\"\n",
            name, what, name, name, name, width, height, width, height, name);
}

/* ---------------------------------------------------------------------------------------- */

mr_status mr_plot_cdf(const char *dir, const char *name, const char *title,
                      const mr_plot_panel *panels, int n_panels, mr_err *err) {
    if (!dir || !name || (!panels && n_panels > 0) || n_panels < 1 || n_panels > MR_PLOT_MAX_PANELS)
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_plot_cdf: 1 to %d panels expected",
                       MR_PLOT_MAX_PANELS);
    pfile dat, gp;
    MR_TRY(pf_open(&dat, dir, name, "dat", err));
    mr_status st = pf_open(&gp, dir, name, "gp", err);
    if (st != MR_OK) return pf_close(&dat, st, err);

    fprintf(dat.f, "# Latency CDFs: one block (gnuplot index) per panel and curve, as the comment\n"
                   "# opening each block says. Columns: latency_ms fraction (the fraction of\n"
                   "# requests that took at most latency_ms).\n");
    int cols = n_panels > 1 ? 2 : 1, rows = (n_panels + cols - 1) / cols;
    gp_prologue(gp.f, name, "latency CDFs", 900 * cols, 480 * rows);
    fprintf(gp.f, "set multiplot layout %d,%d title ", rows, cols);
    gp_str(gp.f, title);
    fprintf(gp.f, "\nset xlabel \"latency (ms)\"\nset ylabel \"fraction of requests\"\n"
                  "set yrange [0:1.02]\nset grid\nset key outside right top\n");
    int block = 0;
    for (int p = 0; p < n_panels; p++) {
        const mr_plot_panel *pa = &panels[p];
        double lo = INFINITY, hi = 0;
        int n_curves = 0;
        for (int s = 0; s < pa->n_series; s++) {
            const mr_plot_series *se = &pa->series[s];
            for (int i = 0; i < se->n; i++) {
                if (se->x[i] > 0 && se->x[i] < lo) lo = se->x[i];
                if (se->x[i] > hi) hi = se->x[i];
            }
            n_curves += se->n > 0;
        }
        fprintf(gp.f, "\nset title ");
        gp_str(gp.f, pa->title);
        /* A spread over 20x (a tail far beyond the median, or policies far apart) is
         * unreadable on a linear axis. */
        if (n_curves > 0 && isfinite(lo) && hi / lo > 20)
            fprintf(gp.f, "\nset logscale x\nset xrange [*:*]\n");
        else
            fprintf(gp.f, "\nunset logscale x\nset xrange [%s]\n", n_curves ? "*:*" : "0:1");
        if (n_curves == 0) {
            /* Nothing completed: an empty frame that says so. */
            fprintf(gp.f, "set label 1 \"no completed requests\" at graph 0.5,0.5 center\n"
                          "plot 2 notitle\nunset label 1\n");
            continue;
        }
        fprintf(gp.f, "plot");
        int first = 1;
        for (int s = 0; s < pa->n_series; s++) {
            const mr_plot_series *se = &pa->series[s];
            if (se->n <= 0) continue;
            fprintf(dat.f, "%s# panel %d (", block ? "\n\n" : "", p + 1);
            fputs(pa->title ? pa->title : "", dat.f);
            fprintf(dat.f, "), curve: %s\n", se->label ? se->label : "");
            for (int i = 0; i < se->n; i++) {
                dat_num(dat.f, se->x[i]);
                fputc(' ', dat.f);
                dat_num(dat.f, se->y[i]);
                fputc('\n', dat.f);
            }
            /* The colour follows the series' position, so a policy keeps its colour in every
             * panel. */
            fprintf(gp.f, "%s \"%s.dat\" index %d using 1:2 with steps lw 2 lc %d dt %d title ",
                    first ? "" : ", \\\n    ", name, block, s + 1, se->dashed ? 2 : 1);
            gp_str(gp.f, se->label);
            first = 0;
            block++;
        }
        fputc('\n', gp.f);
    }
    fprintf(gp.f, "unset multiplot\n");
    st = pf_close(&gp, MR_OK, err);
    return pf_close(&dat, st, err);
}

/* ---------------------------------------------------------------------------------------- */

mr_status mr_plot_bars(const char *dir, const char *name, const char *title,
                       const mr_plot_bar *bars, int n_bars, int n_tasks, mr_err *err) {
    if (!dir || !name || !bars || n_bars < 1)
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_plot_bars: no bars");
    pfile dat, gp;
    MR_TRY(pf_open(&dat, dir, name, "dat", err));
    mr_status st = pf_open(&gp, dir, name, "gp", err);
    if (st != MR_OK) return pf_close(&dat, st, err);

    fprintf(dat.f, "# One row per policy; \"-\" where a value does not apply. Columns:\n"
                   "# policy critical_p99_vs_solo normal_throughput_vs_solo system_throughput\n");
    double max_ratio = 1, min_ratio = INFINITY, max_sys = n_tasks > 0 ? n_tasks : 1;
    int any_ratio = 0, any_sys = 0;
    for (int i = 0; i < n_bars; i++) {
        const mr_plot_bar *b = &bars[i];
        dat_str(dat.f, b->label);
        fputc(' ', dat.f);
        dat_num(dat.f, b->critical_p99);
        fputc(' ', dat.f);
        dat_num(dat.f, b->normal_tput);
        fputc(' ', dat.f);
        dat_num(dat.f, b->system_tput);
        fputc('\n', dat.f);
        const double r2[2] = {b->critical_p99, b->normal_tput};
        for (int k = 0; k < 2; k++) {
            if (!isfinite(r2[k])) continue;
            if (r2[k] > max_ratio) max_ratio = r2[k];
            if (r2[k] < min_ratio) min_ratio = r2[k];
        }
        if (isfinite(b->system_tput) && b->system_tput > max_sys) max_sys = b->system_tput;
        any_ratio |= isfinite(b->critical_p99) || isfinite(b->normal_tput);
        any_sys |= isfinite(b->system_tput);
    }

    gp_prologue(gp.f, name, "policies against the solo baselines", 1280, 520);
    fprintf(gp.f, "set multiplot layout 1,2 title ");
    gp_str(gp.f, title);
    fprintf(gp.f, "\nset style data histograms\n"
                  "set style histogram clustered gap 1\n"
                  "set style fill solid 0.85 border -1\n"
                  "set boxwidth 0.9\n"
                  "set xtics rotate by -30 nomirror\n"
                  "set grid ytics\n"
                  "set key top left\n");
    /* Explicit ranges keep the reference lines (1 = solo; n_tasks = every task at its solo
     * throughput) inside the frame and leave room for the key. A critical p99 can be many
     * times its solo value while throughput ratios stay near 1: past 10x the ratios go on a
     * log axis, where both stay readable. */
    int logy = max_ratio > 10 && min_ratio > 0;
    fprintf(gp.f,
            "\nset title \"against each task alone (solo = 1)\"\n"
            "set ylabel \"ratio to solo%s\"\n",
            logy ? " (log scale)" : "");
    if (logy)
        fprintf(gp.f, "set logscale y\nset yrange [%.6g:%.6g]\n",
                (min_ratio < 1 ? min_ratio : 1) / 2, max_ratio * 4);
    else
        fprintf(gp.f, "set yrange [0:%.6g]\n", max_ratio * 1.3);
    fprintf(gp.f, "set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "
                  "\"gray40\"\n");
    /* Two bars per cluster, gap 1: their centres are 1/6 left and right of the policy's. */
    if (any_ratio)
        fprintf(gp.f,
                "plot \"%s.dat\" using 2:xtic(1) title \"critical p99 / solo (lower is better)\" "
                "lc rgb \"#d62728\", \\\n"
                "    \"\" using 3 title \"normal throughput / solo (higher is better)\" "
                "lc rgb \"#1f77b4\", \\\n"
                "    \"\" using ($0-1.0/6):2:(sprintf(\"%%.2f\", $2)) with labels offset 0,0.8 "
                "notitle, \\\n"
                "    \"\" using ($0+1.0/6):3:(sprintf(\"%%.2f\", $3)) with labels offset 0,0.8 "
                "notitle\n",
                name);
    else
        fprintf(gp.f, "set label 1 \"no ratios (no solo baseline)\" at graph 0.5,0.5 center\n"
                      "plot 2 notitle\nunset label 1\n");
    fprintf(gp.f, "unset logscale y\n");
    fprintf(gp.f,
            "unset arrow 1\n"
            "\nset title \"system throughput: sum over tasks of throughput / solo\"\n"
            "set ylabel \"system throughput\"\n"
            "set yrange [0:%.6g]\n"
            "set arrow 2 from graph 0, first %d to graph 1, first %d nohead dt 2 lc rgb "
            "\"gray40\"\n",
            max_sys * 1.3, n_tasks, n_tasks);
    if (any_sys)
        fprintf(gp.f,
                "plot \"%s.dat\" using 4:xtic(1) title \"system throughput (%d = every task at "
                "its solo throughput)\" lc rgb \"#2ca02c\", \\\n"
                "    \"\" using 0:4:(sprintf(\"%%.2f\", $4)) with labels offset 0,0.8 "
                "notitle\n",
                name, n_tasks);
    else
        fprintf(gp.f, "set label 1 \"no system throughput\" at graph 0.5,0.5 center\n"
                      "plot 2 notitle\nunset label 1\n");
    fprintf(gp.f, "unset arrow 2\nunset multiplot\n");
    st = pf_close(&gp, MR_OK, err);
    return pf_close(&dat, st, err);
}

/* ---------------------------------------------------------------------------------------- */

mr_status mr_plot_timeline(const char *dir, const char *name, const char *title,
                           const mr_bench_trace_event *events, int64_t n_events,
                           const char *const *task_names, int n_tasks, mr_err *err) {
    if (!dir || !name || !events || n_events < 1)
        return mr_errf(err, MR_ERR_INVALID_ARG, "mr_plot_timeline: no events");
    int max_lane = 0;
    double t_first = INFINITY, t_crit = INFINITY, t_last = -INFINITY;
    for (int64_t i = 0; i < n_events; i++) {
        const mr_bench_trace_event *e = &events[i];
        if (e->lane < 0 || e->task < 0 || !(e->t1_ms >= e->t0_ms))
            return mr_errf(err, MR_ERR_INVALID_ARG,
                           "mr_plot_timeline: event %lld: negative lane or task, or it ends "
                           "before it starts",
                           (long long)i);
        if (e->lane > max_lane) max_lane = e->lane;
        if (e->t0_ms < t_first) t_first = e->t0_ms;
        if (e->critical && e->t0_ms < t_crit) t_crit = e->t0_ms;
        if (e->t1_ms > t_last) t_last = e->t1_ms;
    }
    pfile dat, gp;
    MR_TRY(pf_open(&dat, dir, name, "dat", err));
    mr_status st = pf_open(&gp, dir, name, "gp", err);
    if (st != MR_OK) return pf_close(&dat, st, err);

    fprintf(dat.f, "# Kernel steps: one line per step execution. Columns:\n"
                   "# lane task step t0_ms t1_ms critical task_name\n"
                   "# lane: the CUDA stream or CPU worker it ran on; task: index in the\n"
                   "# workload; times: ms from the start of the run; critical: 1 or 0.\n");
    for (int64_t i = 0; i < n_events; i++) {
        const mr_bench_trace_event *e = &events[i];
        fprintf(dat.f, "%d %d %d %.6f %.6f %d ", e->lane, e->task, e->step, e->t0_ms, e->t1_ms,
                e->critical ? 1 : 0);
        dat_str(dat.f, e->task < n_tasks && task_names ? task_names[e->task] : "?");
        fputc('\n', dat.f);
    }

    /* A window around the first critical request: preemption is what the plot is for. */
    double x0 = (isfinite(t_crit) ? t_crit : t_first) - 10.0;
    if (x0 < t_first) x0 = t_first;
    double x1 = x0 + 100.0;
    if (x1 > t_last) x1 = t_last;
    if (!(x1 > x0)) x1 = x0 + 1.0;
    int lanes = max_lane + 1;
    int height = 160 + 40 * (lanes < 48 ? lanes : 48);
    gp_prologue(gp.f, name, "kernel-execution timeline", 1280, height);
    fprintf(gp.f, "set title ");
    gp_str(gp.f, title);
    fprintf(gp.f,
            "\nset xlabel \"time since the start of the run (ms)\"\n"
            "set ylabel \"lane (stream / worker)\"\n"
            "# The window shown; the data file holds the whole run.\n"
            "set xrange [%.3f:%.3f]\n"
            "set yrange [-0.6:%d.4] reverse\n"
            "set ytics 1\n"
            "set grid xtics\n"
            "# No borders: a border around each of hundreds of short kernels would paint the\n"
            "# lane in its colour instead of the kernels'.\n"
            "set style fill solid 0.9 noborder\n"
            "set key outside top center horizontal\n"
            "# x = the middle of the step, y = its lane, half-width and half-height.\n"
            "plot \"%s.dat\" using (($4+$5)/2):($6 == 0 ? $1 : 1/0):(($5-$4)/2):(0.35) "
            "with boxxyerror lc rgb \"#1f77b4\" title \"normal\", \\\n"
            "    \"\" using (($4+$5)/2):($6 != 0 ? $1 : 1/0):(($5-$4)/2):(0.35) "
            "with boxxyerror lc rgb \"#d62728\" title \"critical\"\n",
            x0, x1, lanes - 1, name);
    st = pf_close(&gp, MR_OK, err);
    return pf_close(&dat, st, err);
}
