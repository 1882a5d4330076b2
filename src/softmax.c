/* Softmax and log-softmax along one dim.
 *
 * The input is made contiguous (a copy only when it is not), then seen as
 * (outer, C, inner) with the softmax dim in the middle: a "row" is the C
 * elements of one (outer, inner) pair, `inner` apart. The last dim is the
 * common case and the fast one (inner == 1, a plain contiguous row); other
 * dims process blocks of neighbouring rows together. Each row takes three
 * passes: the max, the sum of exp(x - max) in double, and the
 * scaling; subtracting the max keeps exp from overflowing, so rows like
 * (1e4, -1e4) give exactly (1, 0). */
#include <math.h>
#include <stdbool.h>

#include "autograd.h"
#include "elementwise.h"
#include "error.h"
#include "nn_kernels.h"
#include "parallel.h"
#include "reduce.h"

/* Elements handled between two interrupt checks. */
#define CHUNK_ELEMS ((int64_t)1 << 22)

/* Columns of the inner dim handled together when the softmax dim is not
 * the last: for each class c their BLOCK elements are contiguous, so every
 * pass streams memory instead of jumping `inner` elements per step. */
#define BLOCK 64

/* The kernels for T = float and double.
 * softmax_row_T: one contiguous row of n elements (the last-dim case).
 * softmax_cols_T: w <= BLOCK neighbouring rows of C elements `inner` apart.
 * NaN anywhere in a row makes its sum NaN and so the whole row NaN; a row of
 * all -inf gives -inf - -inf = NaN, as in PyTorch. */
#define DEFINE_SOFTMAX(T, EXP)                                                                     \
    static void softmax_row_##T(const T *x, T *y, int64_t n, bool take_log) {                      \
        T max = -INFINITY;                                                                         \
        for (int64_t i = 0; i < n; i++)                                                            \
            if (x[i] > max) max = x[i];                                                            \
        double sum = 0;                                                                            \
        if (take_log) {                                                                            \
            for (int64_t i = 0; i < n; i++) sum += EXP(x[i] - max);                                \
            T logsum = (T)log(sum);                                                                \
            for (int64_t i = 0; i < n; i++) y[i] = (x[i] - max) - logsum;                          \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                y[i] = EXP(x[i] - max);                                                            \
                sum += y[i];                                                                       \
            }                                                                                      \
            T inv = (T)(1.0 / sum);                                                                \
            for (int64_t i = 0; i < n; i++) y[i] *= inv;                                           \
        }                                                                                          \
    }                                                                                              \
    static void softmax_cols_##T(const T *x, T *y, int64_t C, int64_t inner, int64_t w,            \
                                 bool take_log) {                                                  \
        T max[BLOCK], scale[BLOCK];                                                                \
        double sum[BLOCK];                                                                         \
        for (int64_t j = 0; j < w; j++) {                                                          \
            max[j] = -INFINITY;                                                                    \
            sum[j] = 0;                                                                            \
        }                                                                                          \
        for (int64_t c = 0; c < C; c++)                                                            \
            for (int64_t j = 0; j < w; j++)                                                        \
                if (x[c * inner + j] > max[j]) max[j] = x[c * inner + j];                          \
        if (take_log) {                                                                            \
            for (int64_t c = 0; c < C; c++)                                                        \
                for (int64_t j = 0; j < w; j++) sum[j] += EXP(x[c * inner + j] - max[j]);          \
            for (int64_t j = 0; j < w; j++) scale[j] = (T)log(sum[j]);                             \
            for (int64_t c = 0; c < C; c++)                                                        \
                for (int64_t j = 0; j < w; j++)                                                    \
                    y[c * inner + j] = (x[c * inner + j] - max[j]) - scale[j];                     \
        } else {                                                                                   \
            for (int64_t c = 0; c < C; c++)                                                        \
                for (int64_t j = 0; j < w; j++) {                                                  \
                    y[c * inner + j] = EXP(x[c * inner + j] - max[j]);                             \
                    sum[j] += y[c * inner + j];                                                    \
                }                                                                                  \
            for (int64_t j = 0; j < w; j++) scale[j] = (T)(1.0 / sum[j]);                          \
            for (int64_t c = 0; c < C; c++)                                                        \
                for (int64_t j = 0; j < w; j++) y[c * inner + j] *= scale[j];                      \
        }                                                                                          \
    }

DEFINE_SOFTMAX(float, expf)
DEFINE_SOFTMAX(double, exp)

/* Work units [u0, u1) of a contiguous (outer, C, inner) tensor: one row each
 * when inner == 1, else one block of up to BLOCK columns of one outer index. */
static void softmax_units(const ty_tensor *x, ty_tensor *y, int64_t u0, int64_t u1, int64_t C,
                          int64_t inner, bool take_log) {
    int64_t width = inner == 1 ? 1 : BLOCK, nblocks = (inner + BLOCK - 1) / BLOCK;
    int nt = ty_threads_for((u1 - u0) * width * C * 4); /* exp costs a few simple ops */
    bool f64 = x->dtype == TY_F64;
    const char *xd = ty_data(x);
    char *yd = ty_data(y);
    int64_t es = f64 ? 8 : 4;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t u = u0; u < u1; u++) {
        if (inner == 1) {
            int64_t off = u * C * es;
            if (f64)
                softmax_row_double((const double *)(xd + off), (double *)(yd + off), C, take_log);
            else
                softmax_row_float((const float *)(xd + off), (float *)(yd + off), C, take_log);
        } else {
            int64_t o = u / nblocks, j0 = (u % nblocks) * BLOCK;
            int64_t w = inner - j0 < BLOCK ? inner - j0 : BLOCK;
            int64_t off = (o * C * inner + j0) * es;
            if (f64)
                softmax_cols_double((const double *)(xd + off), (double *)(yd + off), C, inner, w,
                                    take_log);
            else
                softmax_cols_float((const float *)(xd + off), (float *)(yd + off), C, inner, w,
                                   take_log);
        }
    }
}

/* The forward pass along the (already wrapped) dim d, with no autograd. */
static ty_tensor *softmax_forward(const char *fn, ty_tensor *x, int d, bool take_log) {
    ty_dtype ct = ty_compute_dtype(x->dtype);
    ty_tensor *xc = NULL, *y = NULL, *cast = ty_cast(x, ct);
    if (cast) xc = ty_contiguous(cast);
    ty_tensor_release(cast);
    if (xc) y = ty_empty(x->ndim, x->shape, ct, x->device);
    if (!y) {
        ty_error_prefix(fn); /* out of memory in a copy or the output */
        goto fail;
    }

    int64_t outer = 1, C = x->ndim > 0 ? x->shape[d] : 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) inner *= x->shape[i];
    int64_t units = inner == 1 ? outer : outer * ((inner + BLOCK - 1) / BLOCK);
    if (C > 0 && units > 0) {
        int64_t per_unit = C * (inner == 1 ? 1 : BLOCK);
        int64_t chunk = CHUNK_ELEMS / per_unit > 0 ? CHUNK_ELEMS / per_unit : 1;
        for (int64_t u0 = 0; u0 < units; u0 += chunk) {
            if (ty_check_interrupt(fn) < 0) goto fail;
            softmax_units(xc, y, u0, u0 + chunk < units ? u0 + chunk : units, C, inner, take_log);
        }
    }
    ty_tensor_release(xc);
    if (ct != x->dtype) {
        ty_tensor *h = ty_cast(y, x->dtype);
        ty_tensor_release(y);
        if (!h) ty_error_prefix(fn);
        return h;
    }
    return y;

fail:
    ty_tensor_release(xc);
    ty_tensor_release(y);
    return NULL;
}

/* ---- autograd ----
 *
 * With y the output and g its gradient, along the softmax dim:
 *   softmax:      gx = y * (g - sum(g * y))
 *   log_softmax:  gx = g - exp(y) * sum(g)
 * Both need only y. When grad mode is on inside the backward (create_graph)
 * the formula is built from the differentiable public ops, with y coming
 * back from the node with its history, so second derivatives work. When it
 * is off, one fused pass does the same (two reads of y and g, one write,
 * instead of four passes and three temporaries); the tests check that the
 * two agree. */

/* One block of w <= BLOCK rows of C elements `inner` apart (a softmax dim
 * that is not the last); sums in double as the forward does. */
#define DEFINE_SOFTMAX_BACKWARD(T, EXP)                                                            \
    static void softmax_bwd_cols_##T(const T *y, const T *g, T *gx, int64_t C, int64_t inner,      \
                                     int64_t w, bool take_log) {                                   \
        double acc[BLOCK];                                                                         \
        for (int64_t j = 0; j < w; j++) acc[j] = 0;                                                \
        for (int64_t c = 0; c < C; c++)                                                            \
            for (int64_t j = 0; j < w; j++) {                                                      \
                int64_t i = c * inner + j;                                                         \
                acc[j] += take_log ? (double)g[i] : (double)g[i] * y[i];                           \
            }                                                                                      \
        for (int64_t c = 0; c < C; c++)                                                            \
            for (int64_t j = 0; j < w; j++) {                                                      \
                int64_t i = c * inner + j;                                                         \
                gx[i] = take_log ? (T)(g[i] - EXP(y[i]) * acc[j]) : (T)(y[i] * (g[i] - acc[j]));   \
            }                                                                                      \
    }

/* The last-dim case: one contiguous row. The simd reductions let the
 * compiler vectorise the double sums (it may reorder their terms). */
#define SIMD_SUM_ACC _Pragma("omp simd reduction(+ : acc)")
#define SIMD _Pragma("omp simd")
#define DEFINE_SOFTMAX_BACKWARD_ROW(T, EXP)                                                        \
    static void softmax_bwd_row_##T(const T *y, const T *g, T *gx, int64_t n, bool take_log) {     \
        double acc = 0;                                                                            \
        if (take_log) {                                                                            \
            SIMD_SUM_ACC for (int64_t i = 0; i < n; i++) acc += g[i];                              \
            T a = (T)acc;                                                                          \
            for (int64_t i = 0; i < n; i++) gx[i] = g[i] - EXP(y[i]) * a;                          \
        } else {                                                                                   \
            SIMD_SUM_ACC for (int64_t i = 0; i < n; i++) acc += (double)g[i] * y[i];               \
            T a = (T)acc;                                                                          \
            SIMD for (int64_t i = 0; i < n; i++) gx[i] = y[i] * (g[i] - a);                        \
        }                                                                                          \
    }

DEFINE_SOFTMAX_BACKWARD(float, expf)
DEFINE_SOFTMAX_BACKWARD(double, exp)
DEFINE_SOFTMAX_BACKWARD_ROW(float, expf)
DEFINE_SOFTMAX_BACKWARD_ROW(double, exp)

/* The fused gradient: y and g are contiguous in the compute dtype. */
static ty_tensor *softmax_grad_fused(ty_tensor *y, ty_tensor *g, int d, bool take_log) {
    const char *fn = take_log ? "log_softmax_backward" : "softmax_backward";
    ty_tensor *gx = ty_empty(y->ndim, y->shape, y->dtype, y->device);
    if (!gx) return NULL;
    int64_t outer = 1, C = y->ndim > 0 ? y->shape[d] : 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= y->shape[i];
    for (int i = d + 1; i < y->ndim; i++) inner *= y->shape[i];
    int64_t width = inner == 1 ? 1 : BLOCK, nblocks = (inner + BLOCK - 1) / BLOCK;
    int64_t units = inner == 1 ? outer : outer * nblocks;
    bool f64 = y->dtype == TY_F64;
    int64_t es = f64 ? 8 : 4;
    const char *yd = ty_data(y), *gd = ty_data(g);
    char *od = ty_data(gx);
    int64_t chunk = C > 0 && CHUNK_ELEMS / (C * width) > 0 ? CHUNK_ELEMS / (C * width) : 1;
    for (int64_t u0 = 0; C > 0 && u0 < units; u0 += chunk) {
        if (ty_check_interrupt(fn) < 0) {
            ty_tensor_release(gx);
            return NULL;
        }
        int64_t u1 = u0 + chunk < units ? u0 + chunk : units;
        int nt = ty_threads_for((u1 - u0) * width * C * 3);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t u = u0; u < u1; u++) {
            int64_t o = inner == 1 ? u : u / nblocks, j0 = inner == 1 ? 0 : (u % nblocks) * BLOCK;
            int64_t w = inner - j0 < width ? inner - j0 : width;
            int64_t off = (o * C * inner + j0) * es;
            if (inner == 1 && f64)
                softmax_bwd_row_double((const double *)(yd + off), (const double *)(gd + off),
                                       (double *)(od + off), C, take_log);
            else if (inner == 1)
                softmax_bwd_row_float((const float *)(yd + off), (const float *)(gd + off),
                                      (float *)(od + off), C, take_log);
            else if (f64)
                softmax_bwd_cols_double((const double *)(yd + off), (const double *)(gd + off),
                                        (double *)(od + off), C, inner, w, take_log);
            else
                softmax_bwd_cols_float((const float *)(yd + off), (const float *)(gd + off),
                                       (float *)(od + off), C, inner, w, take_log);
        }
    }
    return gx;
}

/* The same gradient from differentiable ops (used under create_graph). */
static ty_tensor *softmax_grad_composed(ty_tensor *y, ty_tensor *g, int d, bool take_log) {
    /* a 0-d tensor is its own one-element "row": sum over all (no) dims */
    int nd = y->ndim > 0 ? 1 : 0;
    ty_tensor *gx = NULL;
    if (take_log) {
        ty_tensor *s = ty_sum(g, nd, &d, true);
        ty_tensor *p = s ? ty_exp(y) : NULL;
        ty_tensor *ps = p ? ty_mul(p, s) : NULL;
        gx = ps ? ty_sub(g, ps) : NULL;
        ty_tensor_release(s);
        ty_tensor_release(p);
        ty_tensor_release(ps);
    } else {
        ty_tensor *gy = ty_mul(g, y);
        ty_tensor *s = gy ? ty_sum(gy, nd, &d, true) : NULL;
        ty_tensor *diff = s ? ty_sub(g, s) : NULL;
        gx = diff ? ty_mul(y, diff) : NULL;
        ty_tensor_release(gy);
        ty_tensor_release(s);
        ty_tensor_release(diff);
    }
    return gx;
}

/* A contiguous copy of t in dtype ct (or t itself, retained). */
static ty_tensor *compute_copy(ty_tensor *t, ty_dtype ct) {
    ty_tensor *cast = ty_cast(t, ct);
    if (!cast) return NULL;
    ty_tensor *c = ty_contiguous(cast);
    ty_tensor_release(cast);
    return c;
}

/* Node layout: saved 0 = the output y; i[0] = the wrapped dim, i[1] = 1
 * for log_softmax. */
static int softmax_backward(ty_node *n, ty_tensor *const *grad_out, ty_tensor **grad_in) {
    if (!ty_node_needs_grad(n, 0)) return 0;
    int d = (int)n->i[0];
    bool take_log = n->i[1] != 0;
    ty_tensor *y = ty_saved(n, 0);
    if (!y) return -1;
    if (ty_grad_enabled()) {
        grad_in[0] = softmax_grad_composed(y, grad_out[0], d, take_log);
    } else {
        ty_dtype ct = ty_compute_dtype(y->dtype);
        ty_tensor *yc = compute_copy(y, ct);
        ty_tensor *gc = yc ? compute_copy(grad_out[0], ct) : NULL;
        grad_in[0] = gc ? softmax_grad_fused(yc, gc, d, take_log) : NULL;
        ty_tensor_release(yc);
        ty_tensor_release(gc);
    }
    ty_tensor_release(y);
    return grad_in[0] ? 0 : -1;
}

static ty_tensor *softmax_impl(const char *fn, ty_tensor *x, int dim, bool take_log) {
    if (ty_check_cpu(fn, x) < 0) return NULL;
    if (!ty_dtype_is_float(x->dtype)) {
        ty_error("%s: expected a floating-point tensor, got %s", fn, ty_dtype_name(x->dtype));
        return NULL;
    }
    int d = ty_wrap_dim(fn, dim, x->ndim);
    if (d < 0) return NULL;
    /* the casts and copies inside are not part of the graph */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *y = softmax_forward(fn, x, d, take_log);
    ty_set_grad_enabled(prev);
    if (!y) return NULL;
    ty_node *n = ty_record(fn, softmax_backward, 1, &x, 1, &y);
    if (n) {
        ty_save_output(n, 0, y);
        n->i[0] = d;
        n->i[1] = take_log;
    }
    return y;
}

ty_tensor *ty_softmax(ty_tensor *x, int dim) {
    return softmax_impl("softmax", x, dim, false);
}

ty_tensor *ty_log_softmax(ty_tensor *x, int dim) {
    return softmax_impl("log_softmax", x, dim, true);
}
