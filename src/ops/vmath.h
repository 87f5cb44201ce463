/* Vectorisable single-precision math for kernel inner loops (private to src/ops).
 *
 * libm's expf/tanhf are opaque calls that stop GCC from vectorising a loop (without
 * -ffast-math, which we do not want library-wide), and elementwise activations and softmax
 * are dominated by them. These inline versions use only arithmetic, comparisons/selects and
 * integer bit operations on the float representation, so a plain `for` loop calling them
 * vectorises at -O3 on baseline x86-64 (SSE2) and on AArch64.
 *
 * Accuracy: mr_vexpf is Cephes' expf (range reduction by ln2 split in two parts, degree-6
 * polynomial), within 2 ulp of the correctly rounded result over its normal range. The
 * activations built on it stay within a few ulp (see the tests in test_ops_elementwise.c).
 */
#ifndef MR_OPS_VMATH_H
#define MR_OPS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t mr_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float mr_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* c ? a : b as a bit blend. GCC turns float ternaries whose arms need computing into
 * branches under -ftrapping-math (the default), which stops vectorisation; integer masks
 * keep the loop straight-line. */
static inline float mr_vsel(int c, float a, float b) {
    uint32_t m = 0u - (uint32_t)c;
    return mr_bits_f32((mr_f32_bits(a) & m) | (mr_f32_bits(b) & ~m));
}

/* exp(x). Results below FLT_MIN (x < ln(FLT_MIN)) are flushed to 0 rather than rounded to a
 * denormal; x above ln(FLT_MAX) gives +inf; NaN gives NaN. */
static inline float mr_vexpf(float x) {
    const float hi = 88.7228391f, lo = -87.3365448f; /* ln(FLT_MAX), ln(FLT_MIN) */
    /* 1.5 * 2^23: adding it rounds to an integer, which lands in the low mantissa bits. */
    const float magic = 12582912.0f;
    float xc = mr_vsel(x > hi, hi, x);
    xc = mr_vsel(xc < lo, lo, xc);
    float t = xc * 1.44269504088896341f + magic;
    float n = t - magic; /* round(x / ln2) in [-126, 128] */
    /* r = x - n*ln2, with ln2 split so that n*C1 is exact. */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * z + r + 1.0f; /* exp(r), r in [-ln2/2, ln2/2]: y in [0.70, 1.42] */
    /* y * 2^n by adding n to the exponent field (unsigned arithmetic: n may be negative).
     * Never overflows the field for n <= 128 since y < 2 has exponent <= 127 and the result
     * is finite whenever exp(x) is. */
    uint32_t nb = mr_f32_bits(t) - mr_f32_bits(magic);
    float e = mr_bits_f32(mr_f32_bits(y) + (nb << 23));
    e = mr_vsel(x < lo, 0.0f, e);
    e = mr_vsel(x > hi, INFINITY, e);
    return mr_vsel(x != x, x, e);
}

/* 1 / (1 + exp(-x)). */
static inline float mr_vsigmoidf(float x) {
    return 1.0f / (1.0f + mr_vexpf(-x));
}

/* tanh(x): Cephes' odd polynomial below |x| = 0.625 (where 1 - 2/(e^2x + 1) would lose
 * relative accuracy to cancellation), the exp form above. */
static inline float mr_vtanhf(float x) {
    float ax = fabsf(x);
    float s = ax * ax;
    float p = -5.70498872745e-3f;
    p = p * s + 2.06390887954e-2f;
    p = p * s - 5.37397155531e-2f;
    p = p * s + 1.33314422036e-1f;
    p = p * s - 3.33332819422e-1f;
    float small = p * s * ax + ax;
    /* Above |x| = 9.1, tanh rounds to +-1 in float; clamping at 10 keeps exp finite. */
    float ac = mr_vsel(ax > 10.0f, 10.0f, ax);
    float large = 1.0f - 2.0f / (mr_vexpf(2.0f * ac) + 1.0f);
    float r = mr_vsel(ax < 0.625f, small, large);
    r = copysignf(r, x);
    return mr_vsel(x != x, x, r);
}

#endif
