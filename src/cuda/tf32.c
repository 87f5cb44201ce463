/* Host-side TF32 rounding (tf32.h). */
#include "cuda/tf32.h"

#include <string.h>

void mr_round_tf32(const float *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &in[i], sizeof u);
        /* Finite: add half of the 13 dropped bits' unit to the magnitude and drop them: ties
         * go up in magnitude, i.e. away from zero, and a carry into the exponent is the
         * correct rounding (up to an infinity past the largest TF32). Inf and NaN: the bits
         * are dropped, as the device does (a NaN whose payload lies only in them becomes an
         * infinity there too). */
        if ((u & 0x7f800000u) != 0x7f800000u) u += 0x1000u;
        u &= 0xffffe000u;
        memcpy(&out[i], &u, sizeof u);
    }
}
