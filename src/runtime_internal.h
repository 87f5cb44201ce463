/* The runtime object's layout, shared by runtime.c, model.c and the coordinator. */
#ifndef MR_RUNTIME_INTERNAL_H
#define MR_RUNTIME_INTERNAL_H

#include <pthread.h>

#include "backend/backend.h"
#include "core/err.h"
#include "ops/custom.h"

struct mr_coord;

struct mr_runtime {
    mr_runtime_params params;
    const mr_backend_iface *iface;
    mr_backend *be;
    pthread_mutex_t err_mu; /* guards last_error */
    pthread_mutex_t run_mu; /* one inference at a time on the backend */
    char last_error[MR_ERR_MSG_MAX];
    pthread_mutex_t coord_mu;      /* guards the creation of coord */
    struct mr_coord *coord;        /* tasks and requests; created by the first mr_task_create */
    mr_model *models;              /* every loaded model (guarded by run_mu) */
    mr_custom_registry custom_ops; /* mr_runtime_register_op; outlives every model */
};

#endif
