/* Layer normalisation over the last dims of a tensor.
 *
 * x is seen as M rows of N elements (N = product of the normalised dims).
 * Each row's mean and variance are accumulated in double with two passes
 * (mean first, then squared deviations), which is as accurate as Welford and
 * simpler; a third pass writes the normalised, scaled and shifted row. The
 * mean and 1/sqrt(var + eps) of every row can be handed back because the
 * backward needs exactly those. */
#include <math.h>

#include "error.h"
#include "nn_kernels.h"
#include "parallel.h"

/* Elements handled between two interrupt checks. */
#define CHUNK_ELEMS ((int64_t)1 << 22)

/* One row for T = float and double; w and b may be NULL. */
#define DEFINE_LAYER_NORM_ROW(T)                                                                   \
    static void layer_norm_row_##T(const T *x, T *y, int64_t n, const T *w, const T *b,            \
                                   double eps, T *mean_out, T *rstd_out) {                         \
        double sum = 0;                                                                            \
        for (int64_t i = 0; i < n; i++) sum += x[i];                                               \
        double mean = sum / (double)n;                                                             \
        double sq = 0;                                                                             \
        for (int64_t i = 0; i < n; i++) {                                                          \
            double dev = x[i] - mean;                                                              \
            sq += dev * dev;                                                                       \
        }                                                                                          \
        double rstd = 1.0 / sqrt(sq / (double)n + eps);                                            \
        /* (x - mean) in double: a float mean would be off by half an ulp of x */                  \
        if (w && b)                                                                                \
            for (int64_t i = 0; i < n; i++) y[i] = (T)((x[i] - mean) * rstd * w[i] + b[i]);        \
        else if (w)                                                                                \
            for (int64_t i = 0; i < n; i++) y[i] = (T)((x[i] - mean) * rstd * w[i]);               \
        else if (b)                                                                                \
            for (int64_t i = 0; i < n; i++) y[i] = (T)((x[i] - mean) * rstd + b[i]);               \
        else                                                                                       \
            for (int64_t i = 0; i < n; i++) y[i] = (T)((x[i] - mean) * rstd);                      \
        *mean_out = (T)mean;                                                                       \
        *rstd_out = (T)rstd;                                                                       \
    }

DEFINE_LAYER_NORM_ROW(float)
DEFINE_LAYER_NORM_ROW(double)

/* A contiguous copy of t in dtype ct (or t itself, retained). */
static ty_tensor *compute_copy(ty_tensor *t, ty_dtype ct) {
    ty_tensor *cast = ty_cast(t, ct);
    if (!cast) return NULL;
    ty_tensor *c = ty_contiguous(cast);
    ty_tensor_release(cast);
    return c;
}

/* weight and bias must be float and shaped like the normalised dims. */
static int check_param(const char *what, const ty_tensor *p, const ty_tensor *x, int k) {
    char bp[256], bx[256], be[256];
    if (!p) return 0;
    if (ty_check_cpu("layer_norm", p) < 0 || ty_check_same_device("layer_norm", x, p) < 0)
        return -1;
    if (!ty_dtype_is_float(p->dtype))
        return ty_error("layer_norm: %s must be a floating-point tensor, got %s", what,
                        ty_dtype_name(p->dtype));
    int same = p->ndim == k;
    for (int i = 0; same && i < k; i++) same = p->shape[i] == x->shape[x->ndim - k + i];
    if (!same)
        return ty_error("layer_norm: %s has shape %s, expected %s (the last %d dims of %s)", what,
                        ty_shape_str(p, bp, sizeof bp),
                        ty_shape_str_n(k, x->shape + x->ndim - k, be, sizeof be), k,
                        ty_shape_str(x, bx, sizeof bx));
    return 0;
}

ty_tensor *ty_layer_norm(ty_tensor *x, int normalized_ndim, ty_tensor *weight, ty_tensor *bias,
                         double eps, ty_tensor **mean_out, ty_tensor **rstd_out) {
    const char *fn = "layer_norm";
    char bx[256];
    if (mean_out) *mean_out = NULL;
    if (rstd_out) *rstd_out = NULL;
    if (ty_check_cpu(fn, x) < 0) return NULL;
    if (!ty_dtype_is_float(x->dtype)) {
        ty_error("layer_norm: expected a floating-point tensor, got %s", ty_dtype_name(x->dtype));
        return NULL;
    }
    int k = normalized_ndim;
    if (k < 1 || k > x->ndim) {
        ty_error("layer_norm: normalized_ndim %d is out of range for shape %s (1 to %d)", k,
                 ty_shape_str(x, bx, sizeof bx), x->ndim);
        return NULL;
    }
    if (check_param("weight", weight, x, k) < 0 || check_param("bias", bias, x, k) < 0) return NULL;

    int lead = x->ndim - k;
    int64_t M = 1, N = 1;
    for (int i = 0; i < lead; i++) M *= x->shape[i];
    for (int i = lead; i < x->ndim; i++) N *= x->shape[i];

    ty_dtype ct = ty_compute_dtype(x->dtype);
    ty_tensor *xc = NULL, *wc = NULL, *bc = NULL, *y = NULL, *mean = NULL, *rstd = NULL;
    int ok = (xc = compute_copy(x, ct)) && (!weight || (wc = compute_copy(weight, ct))) &&
             (!bias || (bc = compute_copy(bias, ct))) &&
             (y = ty_empty(x->ndim, x->shape, ct, x->device)) &&
             (mean = ty_empty(lead, x->shape, ct, x->device)) &&
             (rstd = ty_empty(lead, x->shape, ct, x->device));
    if (!ok) {
        ty_error_prefix(fn);
        goto fail;
    }

    int64_t chunk = N > 0 && CHUNK_ELEMS / N > 0 ? CHUNK_ELEMS / N : 1;
    for (int64_t r0 = 0; r0 < M; r0 += chunk) {
        if (ty_check_interrupt(fn) < 0) goto fail;
        int64_t r1 = r0 + chunk < M ? r0 + chunk : M;
        int nt = ty_threads_for((r1 - r0) * N * 3);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t r = r0; r < r1; r++) {
            if (ct == TY_F64)
                layer_norm_row_double((const double *)ty_data(xc) + r * N,
                                      (double *)ty_data(y) + r * N, N, wc ? ty_data(wc) : NULL,
                                      bc ? ty_data(bc) : NULL, eps, (double *)ty_data(mean) + r,
                                      (double *)ty_data(rstd) + r);
            else
                layer_norm_row_float((const float *)ty_data(xc) + r * N,
                                     (float *)ty_data(y) + r * N, N, wc ? ty_data(wc) : NULL,
                                     bc ? ty_data(bc) : NULL, eps, (float *)ty_data(mean) + r,
                                     (float *)ty_data(rstd) + r);
        }
    }

    if (ct != x->dtype) {
        ty_tensor *h = ty_cast(y, x->dtype);
        if (!h) {
            ty_error_prefix(fn);
            goto fail;
        }
        ty_tensor_release(y);
        y = h;
    }
    ty_tensor_release(xc);
    ty_tensor_release(wc);
    ty_tensor_release(bc);
    if (mean_out)
        *mean_out = mean;
    else
        ty_tensor_release(mean);
    if (rstd_out)
        *rstd_out = rstd;
    else
        ty_tensor_release(rstd);
    return y;

fail:
    ty_tensor_release(xc);
    ty_tensor_release(wc);
    ty_tensor_release(bc);
    ty_tensor_release(y);
    ty_tensor_release(mean);
    ty_tensor_release(rstd);
    return NULL;
}
