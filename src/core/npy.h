/* Internal .npy parsing (the public reader is mr_npy_read in miriam.h). */
#ifndef MR_CORE_NPY_H
#define MR_CORE_NPY_H

#include <stddef.h>

#include "miriam.h"

/* Parses a whole .npy file held in memory, with the same validation and messages as
 * mr_npy_read(); `name` (may be NULL: "<buffer>") stands for the path in messages. On success
 * out->data is a malloc()ed copy of the data (release with mr_tensor_free_data()); on failure
 * *out is zeroed. */
mr_status mr_npy_parse(const void *buf, size_t size, const char *name, mr_tensor *out, char *errbuf,
                       size_t errbuf_size);

#endif
