/* tycho's own single-precision GEMM (src/gemm.c), used for f32 products
 * instead of cblas_sgemm; see gemm.c for why. Internal to libtycho. */
#ifndef TYCHO_GEMM_H
#define TYCHO_GEMM_H

#include <stdint.h>

/* C = alpha * A B + beta * C, A (M x K), B (K x N), C (M x N) row-major
 * with row stride ldc. Element (i, k) of A is a[i * ars + k * acs] and
 * (k, j) of B is b[k * brs + j * bcs]: any strides, so transposes are just
 * swapped strides. beta == 0 never reads C (NaNs there do not leak in).
 * Runs on tycho's threads when the product is big enough. Returns 0, or
 * -1 when a packing buffer cannot be allocated (nothing is reported: the
 * caller sets the error). */
int ty_sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t ars, int64_t acs,
             const float *b, int64_t brs, int64_t bcs, float beta, float *c, int64_t ldc);

#endif
