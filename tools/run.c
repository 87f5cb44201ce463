/* miriam run MODEL: one model, synchronous inference, latency percentiles, .npy in and out,
 * comparison with a reference output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_FILES 16

int cli_alloc_tensor(const mr_tensor_info *info, mr_tensor *t) {
    memset(t, 0, sizeof *t);
    t->dtype = info->dtype;
    t->ndim = info->ndim;
    memcpy(t->dims, info->dims, sizeof t->dims);
    int64_t n = mr_tensor_numel(t);
    if (n < 0) return cli_error("tensor '%s' has an invalid shape", info->name);
    t->data = calloc((size_t)(n ? n : 1), mr_dtype_size(t->dtype));
    if (!t->data) return cli_error("out of memory for tensor '%s'", info->name);
    return 0;
}

int cli_model_tensors(const mr_model *m, unsigned long long seed, mr_tensor *in, mr_tensor *out) {
    mr_tensor_info info;
    for (int i = 0; i < mr_model_n_inputs(m); i++) {
        mr_model_input_info(m, i, &info);
        if (cli_alloc_tensor(&info, &in[i])) return 1;
        cli_fill_random(&in[i], seed + (unsigned long long)i);
    }
    for (int i = 0; out && i < mr_model_n_outputs(m); i++) {
        mr_model_output_info(m, i, &info);
        if (cli_alloc_tensor(&info, &out[i])) return 1;
    }
    return 0;
}

void cli_fill_random(mr_tensor *t, unsigned long long seed) {
    int64_t n = mr_tensor_numel(t);
    unsigned long long s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) / (double)(1ull << 53);
        if (t->dtype == MR_DTYPE_F32)
            ((float *)t->data)[i] = (float)(2.0 * u - 1.0);
        else if (t->dtype == MR_DTYPE_I64)
            ((int64_t *)t->data)[i] = (int64_t)(u * 10);
        else
            ((int32_t *)t->data)[i] = (int32_t)(u * 10);
    }
}

static void run_usage(void) {
    printf("usage: miriam run MODEL [options]\n\n"
           "Runs MODEL (a .onnx path or zoo:NAME) and prints its latency and outputs.\n\n"
           "  --input FILE.npy     input tensor, once per model input in order\n"
           "                       (default: deterministic random data, see --seed)\n"
           "  --output FILE.npy    write an output tensor, once per model output in order\n"
           "  --compare FILE.npy   reference for an output, once per output in order; fails\n"
           "                       (exit 1) unless |y - ref| <= atol + rtol * |ref| everywhere\n"
           "  --rtol R             relative tolerance for --compare (default 1e-4)\n"
           "  --atol A             absolute tolerance for --compare (default 1e-5)\n"
           "  --repeat N           timed runs (default 10); latency p50/p99 over them\n"
           "  --warmup N           untimed runs before timing (default 2)\n"
           "  --device D           cpu, cuda or auto (default auto)\n"
           "  --threads N          CPU worker threads (default: one per core)\n"
           "  --seed S             seed of the random input (default 1)\n"
           "  --verbose            log what the runtime does\n");
    cli_cuda_options_help(21);
    cli_op_library_help(21);
}

static int add_file(const char **list, int *n, const char *opt, const char *v) {
    if (!v) return cli_error("%s expects a file name", opt);
    if (*n == MAX_FILES) return cli_error("too many %s options", opt);
    list[(*n)++] = v;
    return 0;
}

static void print_output(const mr_tensor_info *info, const mr_tensor *t) {
    int64_t n = mr_tensor_numel(t);
    printf("output %s %s [", info->name, mr_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++) printf(d ? ",%lld" : "%lld", (long long)t->dims[d]);
    printf("]:");
    for (int64_t i = 0; i < n && i < 6; i++) {
        if (t->dtype == MR_DTYPE_F32)
            printf(" %.6g", ((const float *)t->data)[i]);
        else if (t->dtype == MR_DTYPE_I64)
            printf(" %lld", (long long)((const int64_t *)t->data)[i]);
        else
            printf(" %d", ((const int32_t *)t->data)[i]);
    }
    if (n > 6) printf(" ...");
    if (t->dtype == MR_DTYPE_F32 && n > 1) {
        const float *x = t->data;
        int64_t arg = 0;
        for (int64_t i = 1; i < n; i++)
            if (x[i] > x[arg]) arg = i;
        printf("  (argmax %lld)", (long long)arg);
    }
    printf("\n");
}

/* Returns 0 when y matches ref within tolerance, else prints the worst element. */
static int compare(const mr_tensor_info *info, const mr_tensor *y, const mr_tensor *ref,
                   double rtol, double atol) {
    int same = y->ndim == ref->ndim && y->dtype == ref->dtype;
    for (int d = 0; same && d < y->ndim; d++) same = y->dims[d] == ref->dims[d];
    if (!same)
        return cli_error("compare %s: the reference has a different dtype or shape", info->name);
    int64_t n = mr_tensor_numel(y), bad = 0, worst = -1;
    double max_abs = 0, max_rel = 0;
    for (int64_t i = 0; i < n; i++) {
        double a, b;
        if (y->dtype == MR_DTYPE_F32) {
            a = ((const float *)y->data)[i];
            b = ((const float *)ref->data)[i];
        } else if (y->dtype == MR_DTYPE_I64) {
            a = (double)((const int64_t *)y->data)[i];
            b = (double)((const int64_t *)ref->data)[i];
        } else {
            a = ((const int32_t *)y->data)[i];
            b = ((const int32_t *)ref->data)[i];
        }
        double d = fabs(a - b);
        if (isnan(a) || isnan(b)) d = isnan(a) && isnan(b) ? 0 : INFINITY;
        if (d > max_abs) {
            max_abs = d;
            worst = i;
        }
        if (fabs(b) > 0 && d / fabs(b) > max_rel) max_rel = d / fabs(b);
        if (d > atol + rtol * fabs(b)) bad++;
    }
    printf("compare %s: max abs diff %.3g, max rel diff %.3g, %lld of %lld outside "
           "atol %.3g + rtol %.3g: %s\n",
           info->name, max_abs, max_rel, (long long)bad, (long long)n, atol, rtol,
           bad ? "FAIL" : "ok");
    if (bad && worst >= 0 && y->dtype == MR_DTYPE_F32)
        printf("  worst element %lld: got %.8g, expected %.8g\n", (long long)worst,
               ((const float *)y->data)[worst], ((const float *)ref->data)[worst]);
    return bad ? 1 : 0;
}

int cmd_run(int argc, char **argv) {
    cli_common c;
    cli_common_init(&c);
    const char *spec = NULL, *inputs[MAX_FILES], *outputs[MAX_FILES], *refs[MAX_FILES];
    int n_inputs = 0, n_outputs = 0, n_refs = 0;
    double rtol = 1e-4, atol = 1e-5;
    long long repeat = 10, warmup = 2, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            run_usage();
            return 0;
        }
        int r = cli_common_option(&c, argc, argv, &i);
        if (r == 1) return 1;
        if (r == -1) continue;
        int bad = 0;
        if (strcmp(a, "--input") == 0)
            bad = add_file(inputs, &n_inputs, a, v), i++;
        else if (strcmp(a, "--output") == 0)
            bad = add_file(outputs, &n_outputs, a, v), i++;
        else if (strcmp(a, "--compare") == 0)
            bad = add_file(refs, &n_refs, a, v), i++;
        else if (strcmp(a, "--rtol") == 0)
            bad = cli_parse_float(a, v, &rtol), i++;
        else if (strcmp(a, "--atol") == 0)
            bad = cli_parse_float(a, v, &atol), i++;
        else if (strcmp(a, "--repeat") == 0)
            bad = cli_parse_int(a, v, 1, 1000000, &repeat), i++;
        else if (strcmp(a, "--warmup") == 0)
            bad = cli_parse_int(a, v, 0, 1000000, &warmup), i++;
        else if (strcmp(a, "--seed") == 0)
            bad = cli_parse_int(a, v, 0, (1ll << 62), &seed), i++;
        else if (a[0] == '-')
            return cli_error("run: unknown option '%s' (see miriam run --help)", a);
        else if (!spec)
            spec = a;
        else
            return cli_error("run: more than one MODEL given");
        if (bad) return 1;
    }
    if (!spec) return cli_error("run: no MODEL given (a .onnx path or zoo:NAME)");

    mr_runtime *rt;
    if (cli_runtime(&c, &rt)) return 1;
    mr_model *m = NULL;
    int rc = 1, ni = 0, no = 0;
    mr_tensor in[MAX_FILES], out[MAX_FILES];
    memset(in, 0, sizeof in);
    memset(out, 0, sizeof out);
    double *lat = NULL;
    if (mr_model_load(rt, spec, NULL, &m) != MR_OK) {
        cli_error("%s", mr_runtime_last_error(rt));
        goto done;
    }
    ni = mr_model_n_inputs(m);
    no = mr_model_n_outputs(m);
    if (ni > MAX_FILES || no > MAX_FILES) {
        cli_error("the model has more than %d inputs or outputs", MAX_FILES);
        goto done;
    }
    if (n_inputs && n_inputs != ni) {
        cli_error("the model has %d inputs, %d --input given", ni, n_inputs);
        goto done;
    }
    if (n_outputs > no || n_refs > no) {
        cli_error("the model has %d outputs: too many --output/--compare", no);
        goto done;
    }
    for (int i = 0; i < ni; i++) {
        mr_tensor_info info;
        mr_model_input_info(m, i, &info);
        if (n_inputs) {
            char err[512];
            if (mr_npy_read(inputs[i], &in[i], err, sizeof err) != MR_OK) {
                cli_error("%s", err);
                goto done;
            }
        } else {
            if (cli_alloc_tensor(&info, &in[i])) goto done;
            cli_fill_random(&in[i], (unsigned long long)seed + (unsigned long long)i);
        }
    }
    for (int i = 0; i < no; i++) {
        mr_tensor_info info;
        mr_model_output_info(m, i, &info);
        if (cli_alloc_tensor(&info, &out[i])) goto done;
    }
    for (long long w = 0; w < warmup; w++)
        if (mr_model_run(m, ni, in, no, out) != MR_OK) {
            cli_error("%s", mr_runtime_last_error(rt));
            goto done;
        }
    lat = malloc(sizeof(double) * (size_t)repeat);
    if (!lat) {
        cli_error("out of memory");
        goto done;
    }
    for (long long r = 0; r < repeat; r++) {
        double t0 = cli_now_ms();
        if (mr_model_run(m, ni, in, no, out) != MR_OK) {
            cli_error("%s", mr_runtime_last_error(rt));
            goto done;
        }
        lat[r] = cli_now_ms() - t0;
    }
    char be[48];
    printf("model %s on %s (%d threads): latency p50 %.3f ms, p99 %.3f ms over %lld runs "
           "(after %lld warm-up)\n",
           spec, cli_backend_label(&c, rt, be, sizeof be), mr_runtime_n_threads(rt),
           cli_percentile(lat, (int)repeat, 50), cli_percentile(lat, (int)repeat, 99), repeat,
           warmup);
    rc = 0;
    for (int i = 0; i < no; i++) {
        mr_tensor_info info;
        mr_model_output_info(m, i, &info);
        print_output(&info, &out[i]);
        if (i < n_outputs) {
            char err[512];
            if (mr_npy_write(outputs[i], &out[i], err, sizeof err) != MR_OK) {
                cli_error("%s", err);
                rc = 1;
            }
        }
        if (i < n_refs) {
            mr_tensor ref;
            char err[512];
            if (mr_npy_read(refs[i], &ref, err, sizeof err) != MR_OK) {
                cli_error("%s", err);
                rc = 1;
                continue;
            }
            if (compare(&info, &out[i], &ref, rtol, atol)) rc = 1;
            mr_tensor_free_data(&ref);
        }
    }
done:
    free(lat);
    for (int i = 0; i < MAX_FILES; i++) {
        free(in[i].data);
        free(out[i].data);
    }
    mr_model_destroy(m);
    mr_runtime_destroy(rt);
    return rc;
}
