/* Spherical harmonics with e3nn's conventions.
 *
 * e3nn builds its real spherical harmonics (in "component" normalisation) by
 * a recurrence on Clebsch-Gordan coefficients:
 *   Y^0 = 1,  Y^1 = sqrt(3) (x, y, z),
 *   Y^{l+1}_k = b_l sum_{i,j} C(l, 1, l+1)[i, j, k] Y^l_i v_j,
 * v the (possibly normalised) input vector, with b_l > 0 up to the sign
 * relating C(l, 1, l+1) to the C(l+1, 1, l) e3nn writes it with, and fixed
 * so that |Y^{l+1}(0, 1, 0)| = sqrt(2l+3). The same recurrence runs here.
 * "norm" divides degree l by sqrt(2l+1), "integral" everything by
 * sqrt(4 pi).
 *
 * Without autograd one fused pass computes every degree of a point at once.
 * With it, the recurrence is written with the differentiable tensor product
 * (one single-path "uuu" product per degree), so gradients of every order
 * come from it: forces are -dE/dx, and training on forces differentiates
 * them again. */
#include <math.h>
#include <stdlib.h>

#include "autograd.h"
#include "creation.h"
#include "e3_internal.h"
#include "elementwise.h"
#include "error.h"
#include "indexing.h"
#include "parallel.h"
#include "reduce.h"

#define CHUNK_POINTS ((int64_t)1 << 16)

/* Per degree l (0..TY_E3_LMAX - 1): b_l, and the single-path product of
 * the recurrence step from l to l + 1. */
typedef struct {
    double b[TY_E3_LMAX];
    const e3_cg *cg[TY_E3_LMAX];
    ty_e3_tp *step[TY_E3_LMAX];
} sh_tables;

static sh_tables *tables;

/* sum C(l,1,l+1)[i,j,k] a_i v_j into y (2l+3 values) */
static void couple(const e3_cg *cg, const double *a, const double *v, double *y, int l) {
    for (int k = 0; k < 2 * l + 3; k++) y[k] = 0;
    for (int e = 0; e < cg->n; e++) y[cg->k[e]] += cg->c[e] * a[cg->i[e]] * v[cg->j[e]];
}

static sh_tables *compute_tables(void) {
    const char *fn = "spherical_harmonics";
    sh_tables *t = calloc(1, sizeof *t);
    double *y = malloc(2 * (2 * TY_E3_LMAX + 3) * sizeof *y);
    if (!t || !y) {
        free(t);
        free(y);
        ty_error("%s: out of memory", fn);
        return NULL;
    }
    double *next = y + 2 * TY_E3_LMAX + 3, ey[3] = {0, 1, 0};
    /* Y^1 at the pole (0, 1, 0) */
    y[0] = 0, y[1] = sqrt(3.0), y[2] = 0;
    for (int l = 1; l < TY_E3_LMAX; l++) {
        const e3_cg *up = e3_cg_get(fn, l, 1, l + 1), *down = e3_cg_get(fn, l + 1, 1, l);
        if (!up || !down) goto fail;
        /* the sign between e3nn's C(l+1, 1, l)[k, j, i] and C(l, 1, l+1)[i, j, k] */
        int n1 = 2 * l + 1, n3 = 2 * l + 3;
        double dot = 0;
        for (int e = 0; e < up->n; e++)
            dot += up->c[e] * down->dense[(up->k[e] * 3 + up->j[e]) * n1 + up->i[e]];
        couple(up, y, ey, next, l);
        double norm = 0;
        for (int k = 0; k < n3; k++) norm += next[k] * next[k];
        t->b[l] = (dot < 0 ? -1 : 1) * sqrt(2 * l + 3.0) / sqrt(norm);
        t->cg[l] = up;
        for (int k = 0; k < n3; k++) y[k] = t->b[l] * next[k];
        ty_e3_path path = {.l1 = l,
                           .l2 = 1,
                           .lo = l + 1,
                           .mul1 = 1,
                           .mul2 = 1,
                           .mulo = 1,
                           .mode = TY_E3_UUU,
                           .coef = t->b[l]};
        if (!(t->step[l] = ty_e3_tp_new(n1, 3, n3, 1, &path))) goto fail;
    }
    free(y);
    return t;
fail:
    for (int l = 0; l < TY_E3_LMAX; l++) ty_e3_tp_release(t->step[l]);
    free(t);
    free(y);
    return NULL;
}

static const sh_tables *get_tables(void) {
    sh_tables *t;
#pragma omp critical(e3_sh_tables)
    {
        if (!tables) tables = compute_tables();
        t = tables;
    }
    return t;
}

/* The factor of degree l for a normalisation (the recurrence gives
 * "component"). */
static double scale_of(int l, ty_e3_normalization nz) {
    if (nz == TY_E3_NORM_NORM) return 1 / sqrt(2 * l + 1.0);
    if (nz == TY_E3_NORM_INTEGRAL) return 1 / sqrt(4 * M_PI);
    return 1;
}

/* Points handled together by the fused pass: every step of the recurrence
 * is a loop over a block of points, which vectorises. */
#define BLOCK 32

/* The fused pass over points p0..p1 of x (n, 3) into out (n, (lmax+1)^2),
 * for T = float and double. */
#define DEFINE_SH_BLOCK(T)                                                                         \
    static void sh_block_##T(const sh_tables *t, int lmax, const T *x, bool normalize,             \
                             const double *scale, int64_t p0, int64_t p1, T *out) {                \
        T u[3][BLOCK], y[(TY_E3_LMAX + 1) * (TY_E3_LMAX + 1)][BLOCK];                              \
        int64_t n = p1 - p0, w = (int64_t)(lmax + 1) * (lmax + 1);                                 \
        for (int64_t q = 0; q < n; q++)                                                            \
            for (int j = 0; j < 3; j++) u[j][q] = x[3 * (p0 + q) + j];                             \
        if (normalize) {                                                                           \
            _Pragma("omp simd") for (int64_t q = 0; q < n; q++) {                                  \
                T r =                                                                              \
                    (T)sqrt((double)(u[0][q] * u[0][q] + u[1][q] * u[1][q] + u[2][q] * u[2][q]));  \
                T inv = (T)1 / (r > (T)1e-12 ? r : (T)1e-12);                                      \
                u[0][q] *= inv, u[1][q] *= inv, u[2][q] *= inv;                                    \
            }                                                                                      \
        }                                                                                          \
        for (int64_t q = 0; q < n; q++) y[0][q] = 1;                                               \
        if (lmax >= 1)                                                                             \
            for (int j = 0; j < 3; j++)                                                            \
                for (int64_t q = 0; q < n; q++) y[1 + j][q] = (T)sqrt(3.0) * u[j][q];              \
        for (int l = 1; l < lmax; l++) {                                                           \
            const e3_cg *cg = t->cg[l];                                                            \
            T(*a)[BLOCK] = y + l * l, (*yl)[BLOCK] = y + (l + 1) * (l + 1);                        \
            for (int k = 0; k < 2 * l + 3; k++)                                                    \
                for (int64_t q = 0; q < n; q++) yl[k][q] = 0;                                      \
            for (int e = 0; e < cg->n; e++) {                                                      \
                T c = (T)(t->b[l] * cg->c[e]), *dst = yl[cg->k[e]];                                \
                const T *ai = a[cg->i[e]], *uj = u[cg->j[e]];                                      \
                _Pragma("omp simd") for (int64_t q = 0; q < n; q++) dst[q] += c * ai[q] * uj[q];   \
            }                                                                                      \
        }                                                                                          \
        /* row by row: the output is written contiguously */                                       \
        for (int64_t q = 0; q < n; q++) {                                                          \
            T *o = out + (p0 + q) * w;                                                             \
            for (int64_t k = 0; k < w; k++) o[k] = y[k][q] * (T)scale[k];                          \
        }                                                                                          \
    }

DEFINE_SH_BLOCK(float)
DEFINE_SH_BLOCK(double)

/* The fused pass: xc is contiguous (n, 3) in f32 or f64, out (n,
 * (lmax+1)^2) of the same dtype. */
static int sh_fused(const sh_tables *t, int lmax, const ty_tensor *xc, bool normalize,
                    ty_e3_normalization nz, ty_tensor *out) {
    double scale[(TY_E3_LMAX + 1) * (TY_E3_LMAX + 1)]; /* per column */
    for (int l = 0; l <= lmax; l++)
        for (int k = l * l; k < (l + 1) * (l + 1); k++) scale[k] = scale_of(l, nz);
    int64_t n = ty_numel(xc) / 3, w = (int64_t)(lmax + 1) * (lmax + 1);
    bool f64 = xc->dtype == TY_F64;
    for (int64_t p0 = 0; p0 < n; p0 += CHUNK_POINTS) {
        if (ty_check_interrupt("spherical_harmonics") < 0) return -1;
        int64_t p1 = p0 + CHUNK_POINTS < n ? p0 + CHUNK_POINTS : n;
        int64_t nb = (p1 - p0 + BLOCK - 1) / BLOCK;
        int nt = ty_threads_for((p1 - p0) * w * 4);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t b = 0; b < nb; b++) {
            int64_t q0 = p0 + b * BLOCK, q1 = q0 + BLOCK < p1 ? q0 + BLOCK : p1;
            if (f64)
                sh_block_double(t, lmax, ty_data(xc), normalize, scale, q0, q1, ty_data(out));
            else
                sh_block_float(t, lmax, ty_data(xc), normalize, scale, q0, q1, ty_data(out));
        }
    }
    return 0;
}

/* The recurrence as differentiable ops on x (n, 3). */
static ty_tensor *sh_composed(const sh_tables *t, int lmax, ty_tensor *x, bool normalize,
                              ty_e3_normalization nz) {
    ty_temps s = {0};
    ty_tensor *u = x;
    if (normalize) {
        int last = 1;
        ty_tensor *r = ty_temps_keep(&s, ty_norm(x, 2, 1, &last, true));
        ty_tensor *rc = r ? ty_temps_keep(&s, ty_clamp_min(r, 1e-12)) : NULL;
        u = rc ? ty_temps_keep(&s, ty_div(x, rc)) : NULL;
    }
    ty_tensor *parts[TY_E3_LMAX + 1] = {0}, *y[TY_E3_LMAX + 1] = {0};
    int64_t ones_shape[2] = {x->shape[0], 1};
    y[0] = ty_temps_keep(&s, ty_ones(2, ones_shape, x->dtype, ty_cpu()));
    if (lmax >= 1 && u) y[1] = ty_temps_keep(&s, ty_mul_scalar(u, sqrt(3.0)));
    for (int l = 1; l < lmax; l++)
        y[l + 1] = y[l] ? ty_temps_keep(&s, ty_e3_tensor_product(t->step[l], y[l], u, NULL)) : NULL;
    ty_tensor *out = NULL;
    bool ok = true;
    for (int l = 0; l <= lmax; l++) {
        double sc = scale_of(l, nz);
        parts[l] = !y[l] ? NULL : sc == 1 ? y[l] : ty_temps_keep(&s, ty_mul_scalar(y[l], sc));
        ok = ok && parts[l];
    }
    if (ok) out = ty_cat(lmax + 1, parts, 1);
    ty_temps_release(&s);
    return out;
}

ty_tensor *ty_e3_spherical_harmonics(int lmax, ty_tensor *x, bool normalize,
                                     ty_e3_normalization normalization) {
    const char *fn = "spherical_harmonics";
    char b[256];
    if (e3_check_l(fn, "lmax", lmax, TY_E3_LMAX) < 0 || ty_check_cpu(fn, x) < 0) return NULL;
    if (!ty_dtype_is_float(x->dtype) || x->ndim < 1 || x->shape[x->ndim - 1] != 3) {
        ty_error("%s: expected float vectors of shape (..., 3), got %s %s", fn,
                 ty_dtype_name(x->dtype), ty_shape_str(x, b, sizeof b));
        return NULL;
    }
    if (normalization < TY_E3_NORM_INTEGRAL || normalization > TY_E3_NORM_NORM) {
        ty_error("%s: unknown normalization %d", fn, (int)normalization);
        return NULL;
    }
    const sh_tables *t = get_tables();
    if (!t) return NULL;
    int64_t shape[TY_MAX_DIMS], n = ty_numel(x) / 3, flat[2] = {n, 3};
    for (int i = 0; i < x->ndim - 1; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = (int64_t)(lmax + 1) * (lmax + 1);
    ty_dtype ct = x->dtype == TY_F64 ? TY_F64 : TY_F32;
    ty_tensor *xc = NULL, *res = NULL;
    if (ty_grad_enabled() && x->requires_grad) {
        ty_tensor *cast = ty_cast(x, ct), *x2 = cast ? ty_reshape(cast, 2, flat) : NULL;
        ty_tensor *y = x2 ? sh_composed(t, lmax, x2, normalize, normalization) : NULL;
        res = y ? ty_reshape(y, x->ndim, shape) : NULL;
        ty_tensor_release(cast);
        ty_tensor_release(x2);
        ty_tensor_release(y);
    } else {
        bool prev = ty_set_grad_enabled(false);
        ty_tensor *cast = ty_cast(x, ct);
        xc = cast ? ty_contiguous(cast) : NULL;
        ty_tensor_release(cast);
        res = xc ? ty_empty(x->ndim, shape, ct, ty_cpu()) : NULL;
        if (res && sh_fused(t, lmax, xc, normalize, normalization, res) < 0) {
            ty_tensor_release(res);
            res = NULL;
        }
        ty_tensor_release(xc);
        ty_set_grad_enabled(prev);
    }
    if (res && res->dtype != x->dtype) {
        ty_tensor *h = ty_cast(res, x->dtype);
        ty_tensor_release(res);
        res = h;
    }
    if (!res) e3_error_prefix(fn);
    return res;
}
