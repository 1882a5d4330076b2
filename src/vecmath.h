/* Float exp and erf written so that the compiler can vectorise the loops
 * that call them (libm's expf and erff are opaque calls, one element at a
 * time: GELU spent a fifth of a ViT training step in erff).
 *
 * ty_expf: exp(x) = 2^n e^r with n = round(x / ln 2), |r| <= ln(2)/2, e^r
 * by its degree-6 Taylor polynomial (relative error below 2e-7, about two
 * float ulps at worst), 2^n built in the exponent bits. Overflows to inf
 * above 88.72, underflows to 0 below -87.33 (no subnormal results), and
 * NaN stays NaN.
 * ty_erff: the Taylor series below |x| = 0.5 (relative error below 1e-7),
 * Abramowitz and Stegun 7.1.26 above (absolute error below 3e-7 there,
 * where erf(x) > 0.5). */
#ifndef TYCHO_VECMATH_H
#define TYCHO_VECMATH_H

#include <math.h>

/* For the hottest loops: a second copy compiled for AVX2 + FMA (x86-64-v3),
 * picked at load time on CPUs that have it; the default copy stays
 * baseline x86-64. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__)
#define TY_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define TY_VECTOR_CLONES
#endif
#include <stdint.h>
#include <string.h>

__attribute__((always_inline)) static inline float ty_expf(float x) {
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187e-06f;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    /* clamped so that NaN becomes a number too (it is put back at the end):
     * the integer conversion below must only see values in range */
    float xc = x > -87.33f ? x : -87.33f;
    xc = xc < 88.72f ? xc : 88.72f;
    float n = (xc * log2e + round_magic) - round_magic;
    float r = xc - n * ln2_hi - n * ln2_lo;
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^n in two factors: n reaches 128 just below the overflow point, one
     * above the largest exponent a float holds */
    float n1 = n > 127.0f ? 127.0f : n;
    uint32_t bits = (uint32_t)((int32_t)n1 + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale * (n > n1 ? 2.0f : 1.0f);
    y = x > 88.72f ? INFINITY : y;
    y = x < -87.33f ? 0.0f : y;
    return x != x ? x : y;
}

__attribute__((always_inline)) static inline float ty_erff(float x) {
    float a = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    float y = 1.0f - p * t * ty_expf(-a * a);
    /* near 0 that difference cancels; the Taylor series is exact there */
    float x2 = a * a, q = -1.0f / 1320;
    q = q * x2 + 1.0f / 216;
    q = q * x2 - 1.0f / 42;
    q = q * x2 + 1.0f / 10;
    q = q * x2 - 1.0f / 3;
    q = q * x2 + 1.0f;
    float small = 1.12837916709551257f * a * q;
    y = a < 0.5f ? small : y;
    return copysignf(y, x);
}

#endif
