/* Host-side TF32 rounding (tf32.h). */
#include "cuda/tf32.h"

#include <string.h>

void mr_round_tf32(const float *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &in[i], sizeof u);
        if ((u & 0x7f800000u) == 0x7f800000u) {
            /* Inf stays; a NaN stays a NaN (quiet) */
            if (u & 0x7fffffu) u |= 0x00400000u;
        } else {
            /* Add just under half of the 13 dropped bits' unit, plus the kept last bit, and
             * drop them: to nearest, ties to even; a carry into the exponent is the correct
             * rounding (up to an infinity past the largest TF32). */
            u += 0xfffu + ((u >> 13) & 1u);
        }
        u &= 0xffffe000u;
        memcpy(&out[i], &u, sizeof u);
    }
}
