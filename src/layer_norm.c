/* Layer normalisation over the last dims of a tensor.
 *
 * x is seen as M rows of N elements (N = product of the normalised dims).
 * Each row's mean and variance are accumulated in double with two passes
 * (mean first, then squared deviations), which is as accurate as Welford and
 * simpler; a third pass writes the normalised, scaled and shifted row. The
 * mean and 1/sqrt(var + eps) of every row can be handed back because the
 * backward needs exactly those. */
#include <math.h>

#include "autograd.h"
#include "elementwise.h"
#include "error.h"
#include "nn_kernels.h"
#include "parallel.h"
#include "reduce.h"

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

/* The forward pass on checked arguments, with no autograd; y, mean and
 * rstd are all returned. */
static ty_tensor *layer_norm_forward(ty_tensor *x, int k, ty_tensor *weight, ty_tensor *bias,
                                     double eps, ty_tensor **mean_out, ty_tensor **rstd_out) {
    const char *fn = "layer_norm";
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
    *mean_out = mean;
    *rstd_out = rstd;
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

/* ---- autograd ----
 *
 * The node has three outputs: y, mean and rstd (so mean_out and rstd_out are
 * differentiable too), and three inputs: x, weight, bias. Per row, with
 * xhat = (x - mean) * rstd, gh = g * weight (g when there is no weight) and
 * gm, gr the gradients reaching mean and rstd:
 *   gx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)) + gm / N
 *        - gr * rstd^2 * xhat / N
 *   gweight = sum over rows of g * xhat,   gbias = sum over rows of g
 * (d mean / dx = 1/N, d rstd / dx = -rstd^3 (x - mean) / N). The saved mean
 * and rstd are used, never recomputed. Under create_graph the formula is
 * built from differentiable ops, and mean and rstd come back from the node
 * as its own outputs, so their dependence on x is part of the new graph and
 * second derivatives are exact; otherwise a fused pass over the rows (and
 * one over the columns for weight and bias) does the same. */

/* Columns of weight / bias one thread accumulates together. */
#define COL_BLOCK 64
/* The simd pragmas let the compiler vectorise the loops, reductions in
 * double included (it may reorder their terms). */
#define SIMD_SUMS _Pragma("omp simd reduction(+ : s1, s2)")
#define SIMD _Pragma("omp simd")
/* gx for one row of n elements, T = float and double; w may be NULL. */
#define DEFINE_LAYER_NORM_BACKWARD_ROW(T)                                                          \
    static void layer_norm_bwd_row_##T(const T *x, const T *g, const T *w, double mean,            \
                                       double rstd, double gm, double gr, int64_t n, T *gx) {      \
        double s1 = 0, s2 = 0;                                                                     \
        if (w) {                                                                                   \
            SIMD_SUMS for (int64_t j = 0; j < n; j++) {                                            \
                double gh = (double)g[j] * w[j];                                                   \
                s1 += gh;                                                                          \
                s2 += gh * ((x[j] - mean) * rstd);                                                 \
            }                                                                                      \
        } else {                                                                                   \
            SIMD_SUMS for (int64_t j = 0; j < n; j++) {                                            \
                s1 += g[j];                                                                        \
                s2 += g[j] * ((x[j] - mean) * rstd);                                               \
            }                                                                                      \
        }                                                                                          \
        double a = s1 / (double)n, b = s2 / (double)n;                                             \
        double c = gm / (double)n, e = gr * rstd * rstd / (double)n;                               \
        /* gx = rstd * (gh - a) + c - (rstd * b + e) * xhat */                                     \
        double f = rstd * b + e;                                                                   \
        if (w) {                                                                                   \
            SIMD for (int64_t j = 0; j < n; j++) {                                                 \
                double gh = (double)g[j] * w[j];                                                   \
                gx[j] = (T)(rstd * (gh - a) + c - f * ((x[j] - mean) * rstd));                     \
            }                                                                                      \
        } else {                                                                                   \
            SIMD for (int64_t j = 0; j < n; j++) {                                                 \
                gx[j] = (T)(rstd * (g[j] - a) + c - f * ((x[j] - mean) * rstd));                   \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* gweight and gbias for columns [j0, j1) over all m rows (either may be NULL) */              \
    static void layer_norm_bwd_cols_##T(const T *x, const T *g, const T *mean, const T *rstd,      \
                                        int64_t m, int64_t n, int64_t j0, int64_t j1, T *gw,       \
                                        T *gb) {                                                   \
        double aw[COL_BLOCK] = {0}, ab[COL_BLOCK] = {0};                                           \
        for (int64_t r = 0; r < m; r++) {                                                          \
            const T *xr = x + r * n, *gr = g + r * n;                                              \
            double mu = mean[r], rs = rstd[r];                                                     \
            SIMD for (int64_t j = j0; j < j1; j++) {                                               \
                aw[j - j0] += (double)gr[j] * ((xr[j] - mu) * rs);                                 \
                ab[j - j0] += gr[j];                                                               \
            }                                                                                      \
        }                                                                                          \
        for (int64_t j = j0; j < j1; j++) {                                                        \
            if (gw) gw[j] = (T)aw[j - j0];                                                         \
            if (gb) gb[j] = (T)ab[j - j0];                                                         \
        }                                                                                          \
    }

DEFINE_LAYER_NORM_BACKWARD_ROW(float)
DEFINE_LAYER_NORM_BACKWARD_ROW(double)

/* Everything the backward reads, in one place. */
typedef struct {
    ty_tensor *x, *w, *mean, *rstd; /* saved (w NULL without weight) */
    ty_tensor *g, *gm, *gr;         /* gradients of y, mean, rstd (borrowed) */
    int k;                          /* normalized_ndim */
    bool need[3];                   /* x, weight, bias */
} ln_grad_args;

static int layer_norm_grad_fused(const ln_grad_args *a, ty_tensor **grad_in) {
    const char *fn = "layer_norm_backward";
    ty_tensor *x = a->x;
    int lead = x->ndim - a->k;
    int64_t M = 1, N = 1;
    for (int i = 0; i < lead; i++) M *= x->shape[i];
    for (int i = lead; i < x->ndim; i++) N *= x->shape[i];
    ty_dtype ct = a->mean->dtype; /* the compute dtype the forward used */
    ty_tensor *xc = NULL, *gc = NULL, *wc = NULL, *mc = NULL, *rsc = NULL, *gmc = NULL, *grc = NULL;
    ty_tensor *gx = NULL, *gw = NULL, *gb = NULL;
    int rc = -1;
    int ok = (xc = compute_copy(x, ct)) && (gc = compute_copy(a->g, ct)) &&
             (!a->w || (wc = compute_copy(a->w, ct))) && (mc = compute_copy(a->mean, ct)) &&
             (rsc = compute_copy(a->rstd, ct)) && (gmc = compute_copy(a->gm, ct)) &&
             (grc = compute_copy(a->gr, ct)) &&
             (!a->need[0] || (gx = ty_empty(x->ndim, x->shape, ct, x->device))) &&
             (!a->need[1] || (gw = ty_empty(a->k, x->shape + lead, ct, x->device))) &&
             (!a->need[2] || (gb = ty_empty(a->k, x->shape + lead, ct, x->device)));
    if (!ok) goto fail;

    int64_t chunk = N > 0 && CHUNK_ELEMS / N > 0 ? CHUNK_ELEMS / N : 1;
    for (int64_t r0 = 0; gx && r0 < M; r0 += chunk) {
        if (ty_check_interrupt(fn) < 0) goto fail;
        int64_t r1 = r0 + chunk < M ? r0 + chunk : M;
        int nt = ty_threads_for((r1 - r0) * N * 4);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t r = r0; r < r1; r++) {
            if (ct == TY_F64)
                layer_norm_bwd_row_double(
                    (const double *)ty_data(xc) + r * N, (const double *)ty_data(gc) + r * N,
                    wc ? ty_data(wc) : NULL, ((double *)ty_data(mc))[r],
                    ((double *)ty_data(rsc))[r], ((double *)ty_data(gmc))[r],
                    ((double *)ty_data(grc))[r], N, (double *)ty_data(gx) + r * N);
            else
                layer_norm_bwd_row_float(
                    (const float *)ty_data(xc) + r * N, (const float *)ty_data(gc) + r * N,
                    wc ? ty_data(wc) : NULL, ((float *)ty_data(mc))[r], ((float *)ty_data(rsc))[r],
                    ((float *)ty_data(gmc))[r], ((float *)ty_data(grc))[r], N,
                    (float *)ty_data(gx) + r * N);
        }
    }
    if (gw || gb) {
        if (ty_check_interrupt(fn) < 0) goto fail;
        int64_t nblocks = (N + COL_BLOCK - 1) / COL_BLOCK;
        int nt = ty_threads_for(M * N * 3);
        if (nt > nblocks) nt = nblocks > 0 ? (int)nblocks : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t bl = 0; bl < nblocks; bl++) {
            int64_t j0 = bl * COL_BLOCK, j1 = j0 + COL_BLOCK < N ? j0 + COL_BLOCK : N;
            if (ct == TY_F64)
                layer_norm_bwd_cols_double(ty_data(xc), ty_data(gc), ty_data(mc), ty_data(rsc), M,
                                           N, j0, j1, gw ? ty_data(gw) : NULL,
                                           gb ? ty_data(gb) : NULL);
            else
                layer_norm_bwd_cols_float(ty_data(xc), ty_data(gc), ty_data(mc), ty_data(rsc), M, N,
                                          j0, j1, gw ? ty_data(gw) : NULL, gb ? ty_data(gb) : NULL);
        }
    }
    grad_in[0] = gx;
    grad_in[1] = gw;
    grad_in[2] = gb;
    gx = gw = gb = NULL;
    rc = 0;

fail:
    ty_tensor_release(xc);
    ty_tensor_release(gc);
    ty_tensor_release(wc);
    ty_tensor_release(mc);
    ty_tensor_release(rsc);
    ty_tensor_release(gmc);
    ty_tensor_release(grc);
    ty_tensor_release(gx);
    ty_tensor_release(gw);
    ty_tensor_release(gb);
    return rc;
}

/* Shorthands for the composed path: each consumes nothing, returns a new
 * reference or NULL, and passes NULL through, so a chain of them needs one
 * check at the end. */
static ty_tensor *op2(ty_tensor *(*f)(ty_tensor *, ty_tensor *), ty_tensor *a, ty_tensor *b) {
    return a && b ? f(a, b) : NULL;
}

static ty_tensor *sum_dims(ty_tensor *t, int d0, int d1, bool keepdim, bool mean) {
    if (!t) return NULL;
    if (d0 == d1) return ty_tensor_retain(t); /* no dims: nothing to reduce */
    int dims[TY_MAX_DIMS];
    for (int d = d0; d < d1; d++) dims[d - d0] = d;
    return mean ? ty_mean(t, d1 - d0, dims, keepdim) : ty_sum(t, d1 - d0, dims, keepdim);
}

static int layer_norm_grad_composed(const ln_grad_args *a, ty_tensor **grad_in) {
    ty_tensor *x = a->x;
    int nd = x->ndim, lead = nd - a->k;
    int64_t N = 1, kshape[TY_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        kshape[i] = i < lead ? x->shape[i] : 1;
        if (i >= lead) N *= x->shape[i];
    }
    /* per-row statistics as (lead dims, 1, ..., 1) to broadcast over rows */
    ty_tensor *mk = ty_reshape(a->mean, nd, kshape);
    ty_tensor *rk = mk ? ty_reshape(a->rstd, nd, kshape) : NULL;
    ty_tensor *xc = op2(ty_sub, x, mk);
    ty_tensor *xhat = op2(ty_mul, xc, rk);
    ty_tensor_release(xc);
    int rc = xhat ? 0 : -1;

    if (rc == 0 && a->need[1]) {
        ty_tensor *gxh = op2(ty_mul, a->g, xhat);
        grad_in[1] = sum_dims(gxh, 0, lead, false, false);
        ty_tensor_release(gxh);
        if (!grad_in[1]) rc = -1;
    }
    if (rc == 0 && a->need[2]) {
        grad_in[2] = sum_dims(a->g, 0, lead, false, false);
        if (!grad_in[2]) rc = -1;
    }
    if (rc == 0 && a->need[0]) {
        ty_tensor *gh = a->w ? ty_mul(a->g, a->w) : ty_tensor_retain(a->g);
        ty_tensor *s1 = sum_dims(gh, lead, nd, true, true);
        ty_tensor *ghx = op2(ty_mul, gh, xhat);
        ty_tensor *s2 = sum_dims(ghx, lead, nd, true, true);
        ty_tensor *t1 = op2(ty_sub, gh, s1);
        ty_tensor *t2 = op2(ty_mul, xhat, s2);
        ty_tensor *t3 = op2(ty_sub, t1, t2);
        ty_tensor *core = op2(ty_mul, rk, t3);
        /* the paths through mean and rstd */
        ty_tensor *gmk = ty_reshape(a->gm, nd, kshape);
        ty_tensor *gmn = gmk ? ty_mul_scalar(gmk, 1.0 / (double)N) : NULL;
        ty_tensor *grk = ty_reshape(a->gr, nd, kshape);
        ty_tensor *r2 = op2(ty_mul, rk, rk);
        ty_tensor *grr = op2(ty_mul, grk, r2);
        ty_tensor *grn = grr ? ty_mul_scalar(grr, 1.0 / (double)N) : NULL;
        ty_tensor *viar = op2(ty_mul, xhat, grn);
        ty_tensor *sum1 = op2(ty_add, core, gmn);
        grad_in[0] = op2(ty_sub, sum1, viar);
        ty_tensor *tmp[] = {gh,  s1,  ghx, s2, t1,  t2,  t3,   core,
                            gmk, gmn, grk, r2, grr, grn, viar, sum1};
        for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) ty_tensor_release(tmp[i]);
        if (!grad_in[0]) rc = -1;
    }
    ty_tensor_release(mk);
    ty_tensor_release(rk);
    ty_tensor_release(xhat);
    return rc;
}

/* Node layout: saved 0 = x, 1 = weight (when i[1] is 1), 2 = mean and
 * 3 = rstd (outputs 1 and 2); i[0] = normalized_ndim. */
static int layer_norm_backward(ty_node *n, ty_tensor *const *grad_out, ty_tensor **grad_in) {
    ln_grad_args a = {.g = grad_out[0], .gm = grad_out[1], .gr = grad_out[2], .k = (int)n->i[0]};
    for (int i = 0; i < 3; i++) a.need[i] = ty_node_needs_grad(n, i);
    int rc = -1;
    if ((a.x = ty_saved(n, 0)) && (!n->i[1] || (a.w = ty_saved(n, 1))) &&
        (a.mean = ty_saved(n, 2)) && (a.rstd = ty_saved(n, 3)))
        rc = ty_grad_enabled() ? layer_norm_grad_composed(&a, grad_in)
                               : layer_norm_grad_fused(&a, grad_in);
    ty_tensor_release(a.x);
    ty_tensor_release(a.w);
    ty_tensor_release(a.mean);
    ty_tensor_release(a.rstd);
    return rc;
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

    /* the casts and copies inside are not part of the graph */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *mean = NULL, *rstd = NULL;
    ty_tensor *y = layer_norm_forward(x, k, weight, bias, eps, &mean, &rstd);
    ty_set_grad_enabled(prev);
    if (!y) return NULL;

    ty_node *n = ty_record("layer_norm", layer_norm_backward, 3, (ty_tensor *[]){x, weight, bias},
                           3, (ty_tensor *[]){y, mean, rstd});
    if (n) {
        ty_save(n, 0, x);
        if (weight) ty_save(n, 1, weight);
        ty_save_output(n, 2, mean);
        ty_save_output(n, 3, rstd);
        n->i[0] = k;
        n->i[1] = weight != NULL;
    }
    if (mean_out)
        *mean_out = mean;
    else
        ty_tensor_release(mean);
    if (rstd_out)
        *rstd_out = rstd;
    else
        ty_tensor_release(rstd);
    return y;
}
