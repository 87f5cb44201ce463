/* Built-in model zoo: architectures identical to torchvision's, with deterministic weights. */
#ifndef MR_ZOO_H
#define MR_ZOO_H

#include "core/err.h"
#include "graph/ir.h"

/* Builds zoo model `name` into a new, not yet finalised graph. MR_ERR_NOT_FOUND for an
 * unknown name (the message lists the valid ones). */
mr_status mr_zoo_build(const char *name, mr_graph **out, mr_err *err);

#endif
