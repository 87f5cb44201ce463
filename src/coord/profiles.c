/* Tuned kernel profiles for the engines (coord.h: mr_coord_load_profile). */
#include "coord/coord.h"
#include "elastic/profile.h"
#include "model.h"
#include "runtime_internal.h"

mr_status mr_coord_load_profile(mr_coord *c, mr_task *t, mr_profile **out, mr_err *err) {
    *out = NULL;
    mr_profile_use use = c->rt->params.profiles;
    if (use == MR_PROFILES_OFF) return MR_OK;
    mr_err perr;
    mr_err_clear(&perr);
    mr_status st = mr_profile_for_model(t->model, out, &perr);
    if (st == MR_OK) {
        mr_log(c->rt, MR_LOG_INFO,
               "task '%s': elastic scheduling from the tuned profile (%d steps)", t->name,
               (*out)->n_steps);
        return MR_OK;
    }
    if (use == MR_PROFILES_REQUIRE && t->crit == MR_TASK_NORMAL)
        return mr_errf(err, st,
                       "task '%s': no usable tuned profile (%s); run `miriam tune` on this model "
                       "with the same device, --sms and --precision",
                       t->name, perr.msg);
    mr_log(c->rt, st == MR_ERR_NOT_FOUND ? MR_LOG_INFO : MR_LOG_WARN,
           "task '%s': elastic scheduling from the analytic estimate (%s)", t->name, perr.msg);
    return MR_OK;
}
