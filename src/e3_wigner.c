/* Wigner D matrices (e3nn's wigner_D) and rotation matrices to Euler angles.
 *
 * e3nn defines D^l(a, b, c) = exp(a X1) exp(b X0) exp(c X1), where X0 and X1
 * are the su(2) generators of irrep l carried into its real basis (X1
 * generates rotations about y, X0 about x). A rotation about a fixed axis by
 * t has eigenvalues e^{i m t}, m = -l..l, so exp(t X) is a trigonometric
 * polynomial of degree l in t:
 *   exp(t X) = sum_{m=0..l} cos(m t) A_m + sin(m t) B_m.
 * The matrices A_m, B_m are found once per l and axis from 2l+1 samples of
 * exp(t X) (a discrete Fourier transform, exact for that degree), the
 * exponentials coming from scaling and squaring of a Taylor series. D is then
 * built from cos, sin and matmul, ordinary differentiable ops, so it has
 * gradients of every order in the angles. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "creation.h"
#include "e3_internal.h"
#include "elementwise.h"
#include "error.h"
#include "linalg.h"

/* y = a b for n x n row-major matrices. */
static void matmul_n(int n, const double *a, const double *b, double *y) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
            y[i * n + j] = s;
        }
}

/* exp(x) of an n x n matrix: halve x until its norm is below 1/2, sum 24
 * Taylor terms (far below double rounding there), square back. tmp holds
 * 3 n^2 doubles. */
static void expm(int n, const double *x, double *y, double *tmp) {
    double norm = 0;
    for (int i = 0; i < n; i++) {
        double row = 0;
        for (int j = 0; j < n; j++) row += fabs(x[i * n + j]);
        norm = fmax(norm, row);
    }
    int squarings = 0;
    double scale = 1;
    while (norm * scale > 0.5) scale /= 2, squarings++;
    double *term = tmp, *next = tmp + n * n, *xs = tmp + 2 * n * n;
    for (int i = 0; i < n * n; i++) {
        xs[i] = x[i] * scale;
        y[i] = term[i] = i % (n + 1) == 0;
    }
    for (int k = 1; k <= 24; k++) {
        matmul_n(n, term, xs, next);
        for (int i = 0; i < n * n; i++) {
            term[i] = next[i] / k;
            y[i] += term[i];
        }
    }
    for (int s = 0; s < squarings; s++) {
        matmul_n(n, y, y, next);
        memcpy(y, next, (size_t)n * n * sizeof *y);
    }
}

/* The real generator of irrep l about x (which = 0) or y (which = 1):
 * Q^H X Q with e3nn's complex generators X0 = (raising + lowering) / 2 and
 * X1 = diag(i m), where raising has -sqrt(l(l+1) - m(m+1)) below the
 * diagonal. The result is real; out gets n^2 doubles. */
static void so3_generator(int l, int which, double *out, double *work) {
    int n = 2 * l + 1;
    double *qr = work, *qi = qr + n * n, *xr = qi + n * n, *xi = xr + n * n;
    e3_basis_q(l, qr, qi);
    for (int i = 0; i < n * n; i++) xr[i] = xi[i] = 0;
    if (which == 0) {
        for (int i = 0; i + 1 < n; i++) {
            double m = -l + i; /* raising: row i + 1, column i */
            xr[(i + 1) * n + i] = -0.5 * sqrt(l * (l + 1.0) - m * (m + 1));
            double m2 = -l + i + 1; /* lowering: row i, column i + 1 */
            xr[i * n + i + 1] = 0.5 * sqrt(l * (l + 1.0) - m2 * (m2 - 1));
        }
    } else {
        for (int i = 0; i < n; i++) xi[i * n + i] = -l + i;
    }
    /* out[a,b] = Re sum_{r,s} conj(Q[r,a]) X[r,s] Q[s,b] */
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double s = 0;
            for (int r = 0; r < n; r++) {
                if (qr[r * n + a] == 0 && qi[r * n + a] == 0) continue;
                for (int c = 0; c < n; c++) {
                    /* (X Q)[r,b] */
                    double pr = xr[r * n + c] * qr[c * n + b] - xi[r * n + c] * qi[c * n + b];
                    double pi = xr[r * n + c] * qi[c * n + b] + xi[r * n + c] * qr[c * n + b];
                    s += qr[r * n + a] * pr + qi[r * n + a] * pi;
                }
            }
            out[a * n + b] = s;
        }
}

/* Fourier tables of one l: for axis x (0) and y (1), the cos and sin
 * coefficient matrices, each (l+1) x n^2 row-major. */
typedef struct {
    double *cos[2], *sin[2];
} wigner_tables;

static wigner_tables *compute_tables(int l) {
    int n = 2 * l + 1, ns = 2 * l + 1;
    size_t nn = (size_t)n * n;
    wigner_tables *t = calloc(1, sizeof *t);
    double *block = calloc(4 * (l + 1) * nn, sizeof *block);
    double *work = malloc(8 * nn * sizeof *work);
    if (!t || !block || !work) {
        free(t);
        free(block);
        free(work);
        ty_error("wigner_D: out of memory for l = %d", l);
        return NULL;
    }
    double *gen = work, *x = work + nn, *e = work + 2 * nn, *tmp = work + 3 * nn;
    for (int axis = 0; axis < 2; axis++) {
        t->cos[axis] = block + (2 * axis) * (l + 1) * nn;
        t->sin[axis] = block + (2 * axis + 1) * (l + 1) * nn;
        so3_generator(l, axis, gen, tmp);
        for (int s = 0; s < ns; s++) {
            double th = 2 * M_PI * s / ns;
            for (size_t i = 0; i < nn; i++) x[i] = th * gen[i];
            expm(n, x, e, tmp);
            for (int m = 0; m <= l; m++) {
                double wc = (m == 0 ? 1.0 : 2.0) / ns * cos(m * th), ws = 2.0 / ns * sin(m * th);
                for (size_t i = 0; i < nn; i++) {
                    t->cos[axis][m * nn + i] += wc * e[i];
                    if (m > 0) t->sin[axis][m * nn + i] += ws * e[i];
                }
            }
        }
    }
    free(work);
    return t;
}

static wigner_tables *tables[TY_E3_LMAX_D + 1];

static const wigner_tables *get_tables(int l) {
    wigner_tables *t;
#pragma omp critical(e3_wigner_tables)
    {
        if (!tables[l]) tables[l] = compute_tables(l);
        t = tables[l];
    }
    return t;
}

/* exp(t X_axis) for every angle of a: (shape of a..., n, n), from cos and
 * sin of m t (differentiable ops). */
static ty_tensor *axis_rotation(int l, int axis, ty_tensor *a, const wigner_tables *tb) {
    int n = 2 * l + 1;
    ty_dtype dt = a->dtype;
    ty_temps s = {0};
    int64_t tshape[2] = {l + 1, (int64_t)n * n};
    ty_tensor *freq = ty_temps_keep(&s, ty_arange(0, l + 1, 1, dt));
    ty_tensor *tc = ty_temps_keep(&s, ty_from_buffer(tb->cos[axis], 2, tshape, TY_F64));
    ty_tensor *ts = ty_temps_keep(&s, ty_from_buffer(tb->sin[axis], 2, tshape, TY_F64));
    ty_tensor *tcd = tc ? ty_temps_keep(&s, ty_cast(tc, dt)) : NULL;
    ty_tensor *tsd = ts ? ty_temps_keep(&s, ty_cast(ts, dt)) : NULL;
    ty_tensor *au = ty_temps_keep(&s, ty_unsqueeze(a, a->ndim));
    ty_tensor *th = au && freq ? ty_temps_keep(&s, ty_mul(au, freq)) : NULL;
    ty_tensor *c = th ? ty_temps_keep(&s, ty_cos(th)) : NULL;
    ty_tensor *sn = th ? ty_temps_keep(&s, ty_sin(th)) : NULL;
    ty_tensor *pc = c && tcd ? ty_temps_keep(&s, ty_matmul(c, tcd)) : NULL;
    ty_tensor *ps = sn && tsd ? ty_temps_keep(&s, ty_matmul(sn, tsd)) : NULL;
    ty_tensor *sum = pc && ps ? ty_temps_keep(&s, ty_add(pc, ps)) : NULL;
    ty_tensor *out = NULL;
    if (sum) {
        int64_t shape[TY_MAX_DIMS];
        for (int i = 0; i < a->ndim; i++) shape[i] = a->shape[i];
        shape[a->ndim] = n;
        shape[a->ndim + 1] = n;
        out = ty_reshape(sum, a->ndim + 2, shape);
    }
    ty_temps_release(&s);
    return out;
}

static int check_angle(const char *fn, const char *what, const ty_tensor *a) {
    if (ty_check_cpu(fn, a) < 0) return -1;
    if (!ty_dtype_is_float(a->dtype))
        return ty_error("%s: %s must be a floating-point tensor, got %s", fn, what,
                        ty_dtype_name(a->dtype));
    if (a->ndim > TY_MAX_DIMS - 2)
        return ty_error("%s: %s has %d dims, at most %d are allowed", fn, what, a->ndim,
                        TY_MAX_DIMS - 2);
    return 0;
}

ty_tensor *ty_e3_wigner_D(int l, ty_tensor *alpha, ty_tensor *beta, ty_tensor *gamma) {
    const char *fn = "wigner_D";
    if (e3_check_l(fn, "l", l, TY_E3_LMAX_D) < 0 || check_angle(fn, "alpha", alpha) < 0 ||
        check_angle(fn, "beta", beta) < 0 || check_angle(fn, "gamma", gamma) < 0)
        return NULL;
    if (alpha->dtype != beta->dtype || alpha->dtype != gamma->dtype) {
        ty_error("%s: the angles must have one dtype, got %s, %s and %s", fn,
                 ty_dtype_name(alpha->dtype), ty_dtype_name(beta->dtype),
                 ty_dtype_name(gamma->dtype));
        return NULL;
    }
    int nd;
    int64_t bshape[TY_MAX_DIMS];
    if (ty_broadcast_shapes(fn, alpha->ndim, alpha->shape, beta->ndim, beta->shape, &nd, bshape) <
            0 ||
        ty_broadcast_shapes(fn, nd, bshape, gamma->ndim, gamma->shape, &nd, bshape) < 0)
        return NULL;
    const wigner_tables *tb = get_tables(l);
    if (!tb) return NULL;
    ty_temps s = {0};
    ty_tensor *da = ty_temps_keep(&s, axis_rotation(l, 1, alpha, tb));
    ty_tensor *db = ty_temps_keep(&s, axis_rotation(l, 0, beta, tb));
    ty_tensor *dc = ty_temps_keep(&s, axis_rotation(l, 1, gamma, tb));
    ty_tensor *ab = da && db ? ty_temps_keep(&s, ty_matmul(da, db)) : NULL;
    ty_tensor *d = ab && dc ? ty_matmul(ab, dc) : NULL;
    ty_temps_release(&s);
    if (!d) e3_error_prefix(fn);
    return d;
}

/* ---- rotation matrices to YXY Euler angles ---- */

/* One matrix (row-major doubles) to (alpha, beta, gamma), as e3nn: the image
 * of the y axis gives alpha and beta; what is left after undoing them is a
 * rotation about y by gamma. */
static void angles_of(const double *r, double *out) {
    double x = r[1], y = r[4], z = r[7]; /* R (0, 1, 0) */
    double len = sqrt(x * x + y * y + z * z);
    len = len > 1e-12 ? len : 1e-12;
    x /= len, y /= len, z /= len;
    double beta = acos(fmin(1, fmax(-1, y))), alpha = atan2(x, z);
    double ca = cos(alpha), sa = sin(alpha), cb = cos(beta), sb = sin(beta);
    /* M = Ry(alpha) Rx(beta); R' = M^T R, of which row 0 gives gamma */
    double m[9] = {ca, sa * sb, sa * cb, 0, cb, -sb, -sa, ca * sb, ca * cb};
    double r00 = m[0] * r[0] + m[3] * r[3] + m[6] * r[6];
    double r02 = m[0] * r[2] + m[3] * r[5] + m[6] * r[8];
    out[0] = alpha, out[1] = beta, out[2] = atan2(r02, r00);
}

ty_tensor *ty_e3_matrix_to_angles(ty_tensor *R) {
    const char *fn = "matrix_to_angles";
    char b[256];
    if (ty_check_cpu(fn, R) < 0) return NULL;
    if (!ty_dtype_is_float(R->dtype) || R->ndim < 2 || R->shape[R->ndim - 1] != 3 ||
        R->shape[R->ndim - 2] != 3) {
        ty_error("%s: expected float rotation matrices of shape (..., 3, 3), got %s %s", fn,
                 ty_dtype_name(R->dtype), ty_shape_str(R, b, sizeof b));
        return NULL;
    }
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *rd = ty_cast(R, TY_F64), *rc = rd ? ty_contiguous(rd) : NULL;
    int64_t shape[TY_MAX_DIMS];
    for (int i = 0; i < R->ndim - 2; i++) shape[i] = R->shape[i];
    shape[R->ndim - 2] = 3;
    ty_tensor *out = rc ? ty_empty(R->ndim - 1, shape, TY_F64, R->device) : NULL;
    ty_tensor *res = NULL;
    if (out) {
        int64_t n = ty_numel(out) / 3;
        const double *r = ty_data(rc);
        double *o = ty_data(out);
        int64_t bad = -1;
        for (int64_t i = 0; i < n && bad < 0; i++) {
            const double *m = r + 9 * i;
            double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                         m[2] * (m[3] * m[7] - m[4] * m[6]);
            if (!(fabs(det - 1) < 1e-3)) {
                ty_error("%s: the matrix at flat index %lld has determinant %g, not a rotation "
                         "(determinant 1)",
                         fn, (long long)i, det);
                bad = i;
            } else {
                angles_of(m, o + 3 * i);
            }
        }
        if (bad < 0) res = ty_cast(out, R->dtype);
    }
    ty_tensor_release(rd);
    ty_tensor_release(rc);
    ty_tensor_release(out);
    ty_set_grad_enabled(prev);
    return res;
}
