/* Layout probes of the elastic-kernel macro (src/cuda/probe.cu), for the tests. */
#ifndef MR_CUDA_PROBE_H
#define MR_CUDA_PROBE_H

#include <cuda_runtime_api.h>

/* The shared-memory address at which dynamic shared memory starts, modulo 1024, in a kernel
 * defined with MR_ELASTIC_KERNEL: *elastic_off in its elastic form, *plain_off in its plain
 * form (one block each, launched and waited for on the default stream). Both 0 modulo 128 keep
 * a body's buffers on the same 128-byte lines in both forms. */
cudaError_t mr_cuda_probe_dyn_smem(int *elastic_off, int *plain_off);

#endif
