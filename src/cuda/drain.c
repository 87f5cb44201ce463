/* CUDA-side helper of `miriam drain` (tools/drain.c): the tools do not include the CUDA
 * runtime headers. */
#include <cuda_runtime_api.h>
#include <stdio.h>

#include "cuda/drain.h"

mr_status mr_cuda_device_info(int gpu, char *name, size_t name_size, int *sms, mr_err *err) {
    struct cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceProperties(&prop, gpu);
    if (e != cudaSuccess) {
        cudaGetLastError(); /* not sticky: keep the runtime usable */
        return mr_errf(err, e == cudaErrorInvalidDevice ? MR_ERR_NOT_FOUND : MR_ERR_BACKEND,
                       "cannot query CUDA device %d: %s", gpu, cudaGetErrorString(e));
    }
    if (name && name_size) snprintf(name, name_size, "%s", prop.name);
    *sms = prop.multiProcessorCount;
    return MR_OK;
}
