/* Real Clebsch-Gordan coefficients: e3nn's wigner_3j.
 *
 * e3nn defines them from the ordinary (complex, Condon-Shortley) SU(2)
 * Clebsch-Gordan coefficients <l1 m1 l2 m2 | l3 m3>, carried into its real
 * basis by a fixed change of basis Q(l) per irrep, then normalised to unit
 * Frobenius norm:
 *   C[a,b,c] = Re sum_{i,k,n} Q1[i,a] Q2[k,b] conj(Q3[n,c]) CG[i,k,n] / norm.
 * Q's factor (-i)^l makes the sum real. The same steps are followed here, in
 * double (long double for Racah's alternating sum), once per (l1, l2, l3);
 * the dense tensor and the list of its nonzero entries are cached for the
 * life of the process. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "e3_internal.h"
#include "error.h"

int e3_check_l(const char *fn, const char *what, int l, int lmax) {
    if (l < 0 || l > lmax)
        return ty_error("%s: %s %d is out of range (0 to %d)", fn, what, l, lmax);
    return 0;
}

void e3_error_prefix(const char *fn) {
    const char *msg = ty_last_error();
    size_t n = strlen(fn);
    if (strncmp(msg, fn, n) != 0 || msg[n] != ':') ty_error_prefix(fn);
}

void e3_basis_q(int l, double *re, double *im) {
    int n = 2 * l + 1;
    double h = 1 / sqrt(2.0);
    for (int i = 0; i < n * n; i++) re[i] = im[i] = 0;
    for (int m = -l; m < 0; m++) {
        re[(l + m) * n + l - m] = h;  /* column l + |m| */
        im[(l + m) * n + l + m] = -h; /* column l - |m| */
    }
    re[l * n + l] = 1;
    for (int m = 1; m <= l; m++) {
        double s = m % 2 ? -h : h;
        re[(l + m) * n + l + m] = s;
        im[(l + m) * n + l - m] = s;
    }
    /* times (-i)^l, which makes the real Clebsch-Gordan coefficients real */
    for (int i = 0; i < n * n; i++) {
        double a = re[i], b = im[i];
        switch (l % 4) {
        case 1:
            re[i] = b, im[i] = -a;
            break;
        case 2:
            re[i] = -a, im[i] = -b;
            break;
        case 3:
            re[i] = -b, im[i] = a;
            break;
        default:
            break;
        }
    }
}

/* n! for n up to 3 TY_E3_LMAX + 1 (the largest Racah needs), in long
 * double: exact up to 25!, and within an ulp beyond. */
static long double factorial(int n) {
    long double f = 1;
    for (int i = 2; i <= n; i++) f *= i;
    return f;
}

/* <j1 m1 j2 m2 | j3 m1+m2> by Racah's formula (the triangle holds). */
static double su2_cg(int j1, int m1, int j2, int m2, int j3) {
    int m3 = m1 + m2;
    if (m3 < -j3 || m3 > j3) return 0;
    long double pre = (2 * j3 + 1) * factorial(j3 + j1 - j2) * factorial(j3 - j1 + j2) *
                      factorial(j1 + j2 - j3) / factorial(j1 + j2 + j3 + 1);
    pre *= factorial(j3 + m3) * factorial(j3 - m3) * factorial(j1 - m1) * factorial(j1 + m1) *
           factorial(j2 - m2) * factorial(j2 + m2);
    long double sum = 0;
    for (int k = 0; k <= j1 + j2 - j3; k++) {
        int d[5] = {j1 + j2 - j3 - k, j1 - m1 - k, j2 + m2 - k, j3 - j2 + m1 + k, j3 - j1 - m2 + k};
        bool ok = true;
        long double den = factorial(k);
        for (int e = 0; e < 5 && ok; e++) {
            ok = d[e] >= 0;
            if (ok) den *= factorial(d[e]);
        }
        if (ok) sum += (k % 2 ? -1.0L : 1.0L) / den;
    }
    return (double)(sqrtl(pre) * sum);
}

/* The nonzero columns of row r of a basis matrix (at most two). */
static int row_nonzeros(const double *re, const double *im, int n, int r, int *cols, double *vre,
                        double *vim) {
    int c = 0;
    for (int j = 0; j < n; j++)
        if (re[r * n + j] != 0 || im[r * n + j] != 0) {
            cols[c] = j, vre[c] = re[r * n + j], vim[c] = im[r * n + j];
            c++;
        }
    return c;
}

/* Computes the real coefficients of one triple into a new cache entry. */
static e3_cg *compute_cg(int l1, int l2, int l3) {
    int n1 = 2 * l1 + 1, n2 = 2 * l2 + 1, n3 = 2 * l3 + 1, nmax = 2 * TY_E3_LMAX + 1;
    size_t total = (size_t)n1 * n2 * n3;
    e3_cg *cg = calloc(1, sizeof *cg);
    double *cre = calloc(total, sizeof *cre), *cim = calloc(total, sizeof *cim);
    double *q = malloc(6 * (size_t)nmax * nmax * sizeof *q);
    if (!cg || !cre || !cim || !q) goto oom;
    double *q1r = q, *q1i = q1r + nmax * nmax, *q2r = q1i + nmax * nmax, *q2i = q2r + nmax * nmax,
           *q3r = q2i + nmax * nmax, *q3i = q3r + nmax * nmax;
    e3_basis_q(l1, q1r, q1i);
    e3_basis_q(l2, q2r, q2i);
    e3_basis_q(l3, q3r, q3i);

    for (int m1 = -l1; m1 <= l1; m1++)
        for (int m2 = -l2; m2 <= l2; m2++) {
            double v = su2_cg(l1, m1, l2, m2, l3);
            if (v == 0) continue;
            int i = l1 + m1, k = l2 + m2, r = l3 + m1 + m2;
            int ca[2], cb[2], cc[2];
            double ar[2], ai[2], br[2], bi[2], cr[2], ci[2];
            int na = row_nonzeros(q1r, q1i, n1, i, ca, ar, ai);
            int nb = row_nonzeros(q2r, q2i, n2, k, cb, br, bi);
            int nc = row_nonzeros(q3r, q3i, n3, r, cc, cr, ci);
            for (int a = 0; a < na; a++)
                for (int b = 0; b < nb; b++) {
                    double pr = ar[a] * br[b] - ai[a] * bi[b], pi = ar[a] * bi[b] + ai[a] * br[b];
                    for (int c = 0; c < nc; c++) {
                        /* times conj(Q3) */
                        size_t at = ((size_t)ca[a] * n2 + cb[b]) * n3 + cc[c];
                        cre[at] += v * (pr * cr[c] + pi * ci[c]);
                        cim[at] += v * (pi * cr[c] - pr * ci[c]);
                    }
                }
        }

    double norm = 0, imag = 0;
    for (size_t e = 0; e < total; e++) {
        norm += cre[e] * cre[e];
        imag = fmax(imag, fabs(cim[e]));
    }
    norm = sqrt(norm);
    if (norm == 0 || imag > 1e-9 * norm) {
        ty_error("wigner_3j: internal error: coefficients of (%d, %d, %d) are not real", l1, l2,
                 l3);
        goto fail;
    }
    int nnz = 0;
    for (size_t e = 0; e < total; e++) {
        cre[e] /= norm;
        /* exact zeros come out as rounding noise of the complex sum */
        if (fabs(cre[e]) < 1e-13) cre[e] = 0;
        nnz += cre[e] != 0;
    }
    cg->l1 = l1, cg->l2 = l2, cg->l3 = l3, cg->n = nnz;
    cg->i = malloc((size_t)(nnz ? nnz : 1) * sizeof *cg->i);
    cg->j = malloc((size_t)(nnz ? nnz : 1) * sizeof *cg->j);
    cg->k = malloc((size_t)(nnz ? nnz : 1) * sizeof *cg->k);
    cg->c = malloc((size_t)(nnz ? nnz : 1) * sizeof *cg->c);
    if (!cg->i || !cg->j || !cg->k || !cg->c) goto oom;
    int e = 0;
    for (int a = 0; a < n1; a++)
        for (int b = 0; b < n2; b++)
            for (int c = 0; c < n3; c++) {
                double v = cre[((size_t)a * n2 + b) * n3 + c];
                if (v == 0) continue;
                cg->i[e] = (int16_t)a, cg->j[e] = (int16_t)b, cg->k[e] = (int16_t)c;
                cg->c[e++] = v;
            }
    cg->dense = cre;
    free(cim);
    free(q);
    return cg;

oom:
    ty_error("wigner_3j: out of memory for (%d, %d, %d)", l1, l2, l3);
fail:
    if (cg) {
        free(cg->i);
        free(cg->j);
        free(cg->k);
        free(cg->c);
    }
    free(cg);
    free(cre);
    free(cim);
    free(q);
    return NULL;
}

#define NL (TY_E3_LMAX + 1)
static e3_cg *cache[NL][NL][NL];

const e3_cg *e3_cg_get(const char *fn, int l1, int l2, int l3) {
    if (e3_check_l(fn, "l1", l1, TY_E3_LMAX) < 0 || e3_check_l(fn, "l2", l2, TY_E3_LMAX) < 0 ||
        e3_check_l(fn, "l3", l3, TY_E3_LMAX) < 0)
        return NULL;
    if (l3 < abs(l1 - l2) || l3 > l1 + l2) {
        ty_error("%s: l3 = %d cannot couple l1 = %d and l2 = %d (need %d <= l3 <= %d)", fn, l3, l1,
                 l2, abs(l1 - l2), l1 + l2);
        return NULL;
    }
    e3_cg *cg;
#pragma omp critical(e3_cg_cache)
    {
        if (!cache[l1][l2][l3]) cache[l1][l2][l3] = compute_cg(l1, l2, l3);
        cg = cache[l1][l2][l3];
    }
    return cg;
}

ty_tensor *ty_e3_wigner_3j(int l1, int l2, int l3, ty_dtype dt) {
    const char *fn = "wigner_3j";
    if (dt != TY_F32 && dt != TY_F64) {
        ty_error("%s: dtype must be f32 or f64, got %s", fn, ty_dtype_name(dt));
        return NULL;
    }
    const e3_cg *cg = e3_cg_get(fn, l1, l2, l3);
    if (!cg) return NULL;
    int64_t shape[3] = {2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1};
    ty_tensor *d = ty_from_buffer(cg->dense, 3, shape, TY_F64);
    if (!d || dt == TY_F64) return d;
    ty_tensor *c = ty_cast(d, dt);
    ty_tensor_release(d);
    return c;
}
