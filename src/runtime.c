/* The runtime object: backend instance, logging, last error. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "coord/coord.h"
#include "core/alloc.h"
#include "model.h"
#include "runtime_internal.h"
#ifdef MIRIAM_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

mr_runtime_params mr_runtime_default_params(void) {
    mr_runtime_params p;
    memset(&p, 0, sizeof p);
    p.backend = MR_BACKEND_AUTO;
    p.n_threads = 0;
    p.gpu = 0;
    p.log_fn = NULL;
    p.log_user_data = NULL;
    p.log_level = MR_LOG_WARN;
    p.plain_launch = 0;
    p.cuda_graphs = 1;
    p.dependent_launch = 1;
    p.persistent_recurrence = -1;
    p.precision = MR_PRECISION_FP32;
    p.policy = MR_POLICY_ELASTIC;
    p.partition_critical = 0;
    p.profiles = MR_PROFILES_AUTO;
    return p;
}

const char *mr_precision_name(mr_precision precision) {
    switch (precision) {
    case MR_PRECISION_FP32:
        return "fp32";
    case MR_PRECISION_TF32:
        return "tf32";
    }
    return "invalid";
}

mr_status mr_precision_parse(const char *name, mr_precision *out) {
    if (!name || !out) return MR_ERR_INVALID_ARG;
    if (strcmp(name, "fp32") == 0)
        *out = MR_PRECISION_FP32;
    else if (strcmp(name, "tf32") == 0)
        *out = MR_PRECISION_TF32;
    else
        return MR_ERR_INVALID_ARG;
    return MR_OK;
}

const char *mr_backend_name(mr_backend_kind kind) {
    switch (kind) {
    case MR_BACKEND_AUTO:
        return "auto";
    case MR_BACKEND_CPU:
        return "cpu";
    case MR_BACKEND_CUDA:
        return "cuda";
    }
    return "invalid";
}

mr_status mr_backend_parse(const char *name, mr_backend_kind *out) {
    if (!name || !out) return MR_ERR_INVALID_ARG;
    if (strcmp(name, "auto") == 0)
        *out = MR_BACKEND_AUTO;
    else if (strcmp(name, "cpu") == 0)
        *out = MR_BACKEND_CPU;
    else if (strcmp(name, "cuda") == 0)
        *out = MR_BACKEND_CUDA;
    else
        return MR_ERR_INVALID_ARG;
    return MR_OK;
}

void mr_log(const mr_runtime *rt, mr_log_level level, const char *fmt, ...) {
    if (!rt || !rt->params.log_fn || level > rt->params.log_level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rt->params.log_fn(level, msg, rt->params.log_user_data);
}

mr_status mr_runtime_fail(mr_runtime *rt, const mr_err *err) {
    if (!rt) return err->status;
    pthread_mutex_lock(&rt->err_mu);
    snprintf(rt->last_error, sizeof rt->last_error, "%s", err->msg);
    pthread_mutex_unlock(&rt->err_mu);
    mr_log(rt, MR_LOG_ERROR, "%s", err->msg);
    return err->status;
}

static mr_status select_backend(mr_runtime *rt, mr_err *err) {
    switch (rt->params.backend) {
    case MR_BACKEND_AUTO:
#ifdef MIRIAM_HAVE_CUDA
    {
        char why[256];
        if (mr_cuda_available(why, sizeof why)) {
            rt->iface = &mr_backend_cuda_iface;
            return MR_OK;
        }
        mr_log(rt, MR_LOG_INFO, "auto backend: %s; using the CPU", why);
    }
#endif
        rt->iface = &mr_backend_cpu_iface;
        return MR_OK;
    case MR_BACKEND_CPU:
        rt->iface = &mr_backend_cpu_iface;
        return MR_OK;
    case MR_BACKEND_CUDA:
#ifdef MIRIAM_HAVE_CUDA
        rt->iface = &mr_backend_cuda_iface;
        return MR_OK;
#else
        return mr_errf(err, MR_ERR_BACKEND,
                       "this build of miriam has no CUDA backend (no CUDA compiler was found "
                       "when it was built); use the cpu or auto backend");
#endif
    }
    return mr_errf(err, MR_ERR_INVALID_ARG, "unknown backend %d", (int)rt->params.backend);
}

mr_status mr_runtime_create(const mr_runtime_params *params, mr_runtime **out, char *errbuf,
                            size_t errbuf_size) {
    mr_err err;
    mr_err_clear(&err);
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!out) {
        mr_errf(&err, MR_ERR_INVALID_ARG, "mr_runtime_create: out is NULL");
        mr_err_copy(&err, errbuf, errbuf_size);
        return err.status;
    }
    *out = NULL;
    mr_runtime_params p = params ? *params : mr_runtime_default_params();
    if (p.n_threads < 0 || p.gpu < 0 || p.sms < 0 || p.partition_critical < 0 ||
        (int)p.policy < 0 || (int)p.policy > (int)MR_POLICY_ELASTIC || p.log_level < MR_LOG_ERROR ||
        p.log_level > MR_LOG_DEBUG ||
        (p.precision != MR_PRECISION_FP32 && p.precision != MR_PRECISION_TF32) ||
        (int)p.profiles < 0 || (int)p.profiles > (int)MR_PROFILES_REQUIRE) {
        mr_errf(&err, MR_ERR_INVALID_ARG,
                "mr_runtime_create: invalid parameters (n_threads %d, gpu %d, sms %d, log_level "
                "%d, precision %d, policy %d, partition_critical %d, profiles %d)",
                p.n_threads, p.gpu, p.sms, (int)p.log_level, (int)p.precision, (int)p.policy,
                p.partition_critical, (int)p.profiles);
        mr_err_copy(&err, errbuf, errbuf_size);
        return err.status;
    }
    mr_runtime *rt = mr_calloc(1, sizeof *rt, "runtime", &err);
    if (!rt) {
        mr_err_copy(&err, errbuf, errbuf_size);
        return err.status;
    }
    rt->params = p;
    pthread_mutex_init(&rt->err_mu, NULL);
    pthread_mutex_init(&rt->run_mu, NULL);
    pthread_mutex_init(&rt->coord_mu, NULL);
    mr_custom_registry_init(&rt->custom_ops);
    if (select_backend(rt, &err) != MR_OK ||
        rt->iface->create(&rt->params, &rt->be, &err) != MR_OK) {
        mr_err_copy(&err, errbuf, errbuf_size);
        mr_runtime_destroy(rt);
        return err.status;
    }
    mr_log(rt, MR_LOG_INFO, "runtime: %s backend, %d threads", rt->iface->name,
           rt->iface->n_threads(rt->be));
    *out = rt;
    return MR_OK;
}

void mr_runtime_destroy(mr_runtime *rt) {
    if (!rt) return;
    /* Models first: each destroys its task (cancelling and waiting for its requests). */
    for (;;) {
        pthread_mutex_lock(&rt->run_mu);
        mr_model *m = rt->models;
        pthread_mutex_unlock(&rt->run_mu);
        if (!m) break;
        mr_model_destroy(m);
    }
    if (rt->coord) {
        mr_coord_destroy_tasks(rt->coord);
        mr_coord_destroy(rt->coord);
    }
    if (rt->be) rt->iface->destroy(rt->be);
    /* After the models: their graphs point at the registered operators. */
    mr_custom_registry_clear(&rt->custom_ops);
    pthread_mutex_destroy(&rt->coord_mu);
    pthread_mutex_destroy(&rt->err_mu);
    pthread_mutex_destroy(&rt->run_mu);
    free(rt);
}

mr_backend_kind mr_runtime_backend(const mr_runtime *rt) {
    return rt && rt->iface ? rt->iface->kind : MR_BACKEND_AUTO;
}

int mr_runtime_n_threads(const mr_runtime *rt) {
    return rt && rt->be && rt->iface->kind == MR_BACKEND_CPU ? rt->iface->n_threads(rt->be) : 0;
}

const char *mr_runtime_last_error(const mr_runtime *rt) {
    return rt ? rt->last_error : "";
}
