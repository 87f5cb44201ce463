/* The entry point `miriam --op-library` (and any program using dlopen) calls: registers the
 * library's operators on a runtime. */
#include "miriam.h"
#include "scaled_tanh.h"

mr_status miriam_register_ops(mr_runtime *rt);

mr_status miriam_register_ops(mr_runtime *rt) {
    mr_custom_op op;
    scaled_tanh_describe(&op);
    return mr_runtime_register_op(rt, &op);
}
