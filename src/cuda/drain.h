/* Helpers of `miriam drain` (tools/drain.c) that need the CUDA runtime API, which the tools
 * do not include. */
#ifndef MR_CUDA_DRAIN_H
#define MR_CUDA_DRAIN_H

#include <stddef.h>

#include "core/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Name and SM count of CUDA device `gpu` (the whole device, not a green-context partition). */
mr_status mr_cuda_device_info(int gpu, char *name, size_t name_size, int *sms, mr_err *err);

#ifdef __cplusplus
}
#endif

#endif
