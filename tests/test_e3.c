/* The e3 core: wigner_3j, wigner_D, matrix_to_angles, spherical harmonics
 * and tensor products.
 *
 * Identities rather than stored numbers (tests/lua/test_e3_reference.lua
 * compares with real e3nn): wigner_3j is orthonormal, invariant under
 * D x D x D and symmetric under swapping l1 and l2; D^1 is the rotation
 * matrix Ry(a) Rx(b) Ry(c), D is a representation and orthogonal, for any
 * l; spherical harmonics are equivariant and normalised; tensor products
 * equal a dense loop over wigner_3j written here for every mode, with shared
 * and per-sample weights, and are equivariant; gradients pass gradcheck and
 * gradgradcheck in f64, and the fused backward equals the composed one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e3.h"
#include "testutil.h"

/* TY_TEST_SHORT (valgrind runs): fewer degrees and cases. */
static bool short_run(void) {
    return getenv("TY_TEST_SHORT") != NULL;
}

static ty_tensor *scalar64(double v) {
    ty_tensor *t = ty_scalar(v, TY_F64);
    ck_assert_ptr_nonnull(t);
    return t;
}

static double at3(const ty_tensor *t, int64_t i, int64_t j, int64_t k) {
    return ty_get_flat(t, (i * t->shape[1] + j) * t->shape[2] + k);
}

/* D^l of YXY angles (a, b, c), f64. */
static ty_tensor *wigner(int l, double a, double b, double c) {
    ty_tensor *ta = scalar64(a), *tb = scalar64(b), *tc = scalar64(c);
    ty_tensor *d = ty_e3_wigner_D(l, ta, tb, tc);
    ck_assert_msg(d != NULL, "%s", ty_last_error());
    ty_tensor_release(ta);
    ty_tensor_release(tb);
    ty_tensor_release(tc);
    return d;
}

/* Deterministic angles for rotation number s. */
static void angles_of_seed(int s, double *a, double *b, double *c) {
    *a = 0.3 + 1.7 * s, *b = 0.2 + 0.9 * s, *c = -0.4 + 2.3 * s;
}

/* ---- wigner_3j ---- */

START_TEST(test_w3j_orthonormal_and_symmetric) {
    int lmax = short_run() ? 3 : 6;
    for (int l1 = 0; l1 <= lmax; l1++)
        for (int l2 = 0; l2 <= lmax; l2++)
            for (int l3 = abs(l1 - l2); l3 <= l1 + l2 && l3 <= 8; l3++) {
                ty_tensor *c = ty_e3_wigner_3j(l1, l2, l3, TY_F64);
                ck_assert_msg(c != NULL, "%s", ty_last_error());
                int n1 = 2 * l1 + 1, n2 = 2 * l2 + 1, n3 = 2 * l3 + 1;
                /* sum_ij C_ijk C_ijm = delta_km / (2 l3 + 1) */
                for (int k = 0; k < n3; k++)
                    for (int m = 0; m < n3; m++) {
                        double s = 0;
                        for (int i = 0; i < n1; i++)
                            for (int j = 0; j < n2; j++) s += at3(c, i, j, k) * at3(c, i, j, m);
                        ck_assert_double_eq_tol(s, k == m ? 1.0 / n3 : 0.0, 1e-12);
                    }
                /* C(l2, l1, l3)[j, i, k] = (-1)^(l1+l2+l3) C(l1, l2, l3)[i, j, k] */
                ty_tensor *d = ty_e3_wigner_3j(l2, l1, l3, TY_F64);
                double sign = (l1 + l2 + l3) % 2 ? -1 : 1;
                for (int i = 0; i < n1; i++)
                    for (int j = 0; j < n2; j++)
                        for (int k = 0; k < n3; k++)
                            ck_assert_double_eq_tol(at3(d, j, i, k), sign * at3(c, i, j, k), 1e-12);
                ty_tensor_release(c);
                ty_tensor_release(d);
            }
}
END_TEST

START_TEST(test_w3j_known_values) {
    /* (0, l, l): delta / sqrt(2l+1); (1, 1, 1): the Levi-Civita symbol / sqrt(6) */
    ty_tensor *c = ty_e3_wigner_3j(0, 2, 2, TY_F64);
    for (int j = 0; j < 5; j++)
        for (int k = 0; k < 5; k++)
            ck_assert_double_eq_tol(at3(c, 0, j, k), j == k ? 1 / sqrt(5.0) : 0, 1e-15);
    ty_tensor_release(c);
    c = ty_e3_wigner_3j(1, 1, 1, TY_F32);
    ck_assert_int_eq(c->dtype, TY_F32);
    ck_assert_double_eq_tol(at3(c, 0, 1, 2), 1 / sqrt(6.0), 1e-7);
    ck_assert_double_eq_tol(at3(c, 1, 0, 2), -1 / sqrt(6.0), 1e-7);
    ck_assert_double_eq_tol(at3(c, 2, 0, 1), 1 / sqrt(6.0), 1e-7);
    ck_assert_double_eq(at3(c, 0, 0, 0), 0);
    ty_tensor_release(c);
    /* the largest allowed l */
    int lm = short_run() ? 6 : TY_E3_LMAX;
    c = ty_e3_wigner_3j(lm, lm, lm, TY_F64);
    ck_assert_msg(c != NULL, "%s", ty_last_error());
    double s = 0;
    for (int64_t i = 0; i < ty_numel(c); i++) s += ty_get_flat(c, i) * ty_get_flat(c, i);
    ck_assert_double_eq_tol(s, 1, 1e-12);
    ty_tensor_release(c);
}
END_TEST

START_TEST(test_w3j_invariant) {
    static const int triples[][3] = {{1, 1, 2}, {2, 3, 4}, {3, 3, 3}, {6, 5, 4}, {2, 2, 1}};
    for (size_t t = 0; t < sizeof triples / sizeof *triples; t++) {
        int l1 = triples[t][0], l2 = triples[t][1], l3 = triples[t][2];
        ty_tensor *c = ty_e3_wigner_3j(l1, l2, l3, TY_F64);
        ty_tensor *d1 = wigner(l1, 0.7, 1.1, -2.0), *d2 = wigner(l2, 0.7, 1.1, -2.0),
                  *d3 = wigner(l3, 0.7, 1.1, -2.0);
        ty_tensor *r = ty_einsum("il,jm,kn,lmn->ijk", 4, (ty_tensor *[]){d1, d2, d3, c});
        ck_assert_msg(r != NULL, "%s", ty_last_error());
        tu_assert_close(r, c, 1e-12, 0);
        ty_tensor *all[] = {c, d1, d2, d3, r};
        for (int i = 0; i < 5; i++) ty_tensor_release(all[i]);
    }
}
END_TEST

START_TEST(test_w3j_errors) {
    tu_assert_error(ty_e3_wigner_3j(1, 1, 3, TY_F64) == NULL, "wigner_3j", "l3 = 3",
                    "0 <= l3 <= 2");
    tu_assert_error(ty_e3_wigner_3j(-1, 1, 1, TY_F64) == NULL, "wigner_3j", "l1 -1");
    tu_assert_error(ty_e3_wigner_3j(TY_E3_LMAX + 1, 1, TY_E3_LMAX, TY_F64) == NULL, "wigner_3j",
                    "out of range");
    tu_assert_error(ty_e3_wigner_3j(1, 1, 1, TY_I64) == NULL, "wigner_3j", "i64");
}
END_TEST

/* ---- wigner_D and rotations ---- */

/* Ry(a) Rx(b) Ry(c), written out. */
static void rotation_yxy(double a, double b, double c, double *r) {
    double ry1[9] = {cos(a), 0, sin(a), 0, 1, 0, -sin(a), 0, cos(a)};
    double rx[9] = {1, 0, 0, 0, cos(b), -sin(b), 0, sin(b), cos(b)};
    double ry2[9] = {cos(c), 0, sin(c), 0, 1, 0, -sin(c), 0, cos(c)}, t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            t[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) t[i * 3 + j] += ry1[i * 3 + k] * rx[k * 3 + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            r[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) r[i * 3 + j] += t[i * 3 + k] * ry2[k * 3 + j];
        }
}

START_TEST(test_wigner_D_l1_is_the_rotation) {
    for (int s = 0; s < 5; s++) {
        double a, b, c, r[9];
        angles_of_seed(s, &a, &b, &c);
        rotation_yxy(a, b, c, r);
        ty_tensor *d = wigner(1, a, b, c);
        tu_assert_values(d, r, 9, 1e-13);
        ty_tensor_release(d);
    }
    ty_tensor *d0 = wigner(0, 1, 2, 3);
    tu_assert_values(d0, ((double[]){1}), 1, 1e-15);
    ty_tensor_release(d0);
}
END_TEST

START_TEST(test_wigner_D_is_a_representation) {
    static const int ls[] = {2, 3, 5, 8, 13, 30};
    size_t nl = short_run() ? 3 : sizeof ls / sizeof *ls;
    for (size_t li = 0; li < nl; li++) {
        int l = ls[li];
        double a1 = 0.4, b1 = 1.3, c1 = 2.9, a2 = -1.2, b2 = 2.2, c2 = 0.5;
        double r1[9], r2[9], r12[9];
        rotation_yxy(a1, b1, c1, r1);
        rotation_yxy(a2, b2, c2, r2);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                r12[i * 3 + j] = 0;
                for (int k = 0; k < 3; k++) r12[i * 3 + j] += r1[i * 3 + k] * r2[k * 3 + j];
            }
        ty_tensor *rt = ty_from_buffer(r12, 2, (int64_t[]){3, 3}, TY_F64);
        ty_tensor *ang = ty_e3_matrix_to_angles(rt);
        ck_assert_msg(ang != NULL, "%s", ty_last_error());
        ty_tensor *d1 = wigner(l, a1, b1, c1), *d2 = wigner(l, a2, b2, c2);
        ty_tensor *d12 = wigner(l, ty_get_flat(ang, 0), ty_get_flat(ang, 1), ty_get_flat(ang, 2));
        ty_tensor *prod = ty_matmul(d1, d2);
        tu_assert_close(d12, prod, 1e-10, 0);
        /* orthogonal */
        ty_tensor *dt = ty_transpose(d1, 0, 1), *id = ty_matmul(d1, dt);
        ty_tensor *eye = ty_eye(2 * l + 1, 2 * l + 1, TY_F64);
        tu_assert_close(id, eye, 1e-11, 0);
        ty_tensor *all[] = {rt, ang, d1, d2, d12, prod, dt, id, eye};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
    }
}
END_TEST

START_TEST(test_wigner_D_batched_and_errors) {
    /* angles of shapes (2, 1), (3) and () broadcast to (2, 3) */
    double av[2] = {0.1, 0.2}, bv[3] = {0.5, 1.0, 1.5};
    ty_tensor *a = ty_from_buffer(av, 2, (int64_t[]){2, 1}, TY_F64);
    ty_tensor *b = ty_from_buffer(bv, 1, (int64_t[]){3}, TY_F64), *c = scalar64(-0.3);
    ty_tensor *d = ty_e3_wigner_D(2, a, b, c);
    ck_assert_msg(d != NULL, "%s", ty_last_error());
    ck_assert_int_eq(d->ndim, 4);
    ck_assert(d->shape[0] == 2 && d->shape[1] == 3 && d->shape[2] == 5 && d->shape[3] == 5);
    ty_tensor *one = wigner(2, 0.2, 1.0, -0.3);
    ty_tensor *s0 = ty_select(d, 0, 1), *s1 = ty_select(s0, 0, 1);
    tu_assert_close(s1, one, 1e-14, 0);
    ty_tensor *ai = ty_from_buffer((int64_t[]){1}, 0, NULL, TY_I64);
    tu_assert_error(ty_e3_wigner_D(1, ai, b, c) == NULL, "wigner_D", "alpha", "i64");
    tu_assert_error(ty_e3_wigner_D(TY_E3_LMAX_D + 1, a, b, c) == NULL, "wigner_D", "out of range");
    ty_tensor *b2 = ty_from_buffer(bv, 1, (int64_t[]){2}, TY_F64);
    tu_assert_error(ty_e3_wigner_D(1, b, b2, c) == NULL, "wigner_D");
    ty_tensor *all[] = {a, b, c, d, one, s0, s1, ai, b2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
}
END_TEST

START_TEST(test_matrix_to_angles) {
    double m[5 * 9];
    for (int s = 0; s < 5; s++) {
        double a, b, c;
        angles_of_seed(s, &a, &b, &c);
        rotation_yxy(a, b, c, m + 9 * s);
    }
    ty_tensor *R = ty_from_buffer(m, 3, (int64_t[]){5, 3, 3}, TY_F64);
    ty_tensor *ang = ty_e3_matrix_to_angles(R);
    ck_assert_msg(ang != NULL, "%s", ty_last_error());
    for (int s = 0; s < 5; s++) {
        double r[9];
        rotation_yxy(ty_get_flat(ang, 3 * s), ty_get_flat(ang, 3 * s + 1),
                     ty_get_flat(ang, 3 * s + 2), r);
        for (int i = 0; i < 9; i++) ck_assert_double_eq_tol(r[i], m[9 * s + i], 1e-12);
        ck_assert(ty_get_flat(ang, 3 * s + 1) >= 0 && ty_get_flat(ang, 3 * s + 1) <= M_PI);
    }
    m[0] = -m[0], m[1] = -m[1], m[2] = -m[2];
    ty_tensor *bad = ty_from_buffer(m, 3, (int64_t[]){5, 3, 3}, TY_F64);
    tu_assert_error(ty_e3_matrix_to_angles(bad) == NULL, "matrix_to_angles", "determinant -1");
    ty_tensor *v = ty_from_buffer(m, 2, (int64_t[]){3, 2}, TY_F64);
    tu_assert_error(ty_e3_matrix_to_angles(v) == NULL, "matrix_to_angles", "(3,2)");
    ty_tensor_release(R);
    ty_tensor_release(ang);
    ty_tensor_release(bad);
    ty_tensor_release(v);
}
END_TEST

/* gradients of wigner_D in the angles */
static ty_tensor *f_wigner(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    return ty_e3_wigner_D(*(int *)ctx, in[0], in[1], in[2]);
}

START_TEST(test_wigner_D_gradients) {
    for (int l = 1; l <= (short_run() ? 1 : 3); l++) {
        ty_tensor *in[3];
        for (int i = 0; i < 3; i++) {
            in[i] = tu_uniform(1, (int64_t[]){2}, TY_F64, -3, 3, 10 + i);
            ty_set_requires_grad(in[i], true);
        }
        ty_gradcheck_report rep;
        ck_assert_msg(ty_gradcheck(f_wigner, &l, 3, in, 1e-6, 1e-6, 1e-4, &rep) == 1, "%s",
                      rep.message);
        ck_assert_msg(ty_gradgradcheck(f_wigner, &l, 3, in, 1e-6, 1e-5, 1e-3, &rep) == 1, "%s",
                      rep.message);
        for (int i = 0; i < 3; i++) ty_tensor_release(in[i]);
    }
}
END_TEST

/* ---- spherical harmonics ---- */

START_TEST(test_sh_equivariant_and_normalised) {
    int lmax = 8;
    ty_tensor *x = tu_randn(2, (int64_t[]){6, 3}, TY_F64, 7);
    ty_tensor *y = ty_e3_spherical_harmonics(lmax, x, true, TY_E3_NORM_COMPONENT);
    ck_assert_msg(y != NULL, "%s", ty_last_error());
    ck_assert(y->shape[0] == 6 && y->shape[1] == 81);
    /* |Y^l|^2 = 2l+1 on the sphere */
    for (int p = 0; p < 6; p++)
        for (int l = 0; l <= lmax; l++) {
            double s = 0;
            for (int k = l * l; k < (l + 1) * (l + 1); k++) s += pow(ty_get_flat(y, p * 81 + k), 2);
            ck_assert_double_eq_tol(s, 2 * l + 1, 1e-10);
        }
    /* Y(R x) = D(R) Y(x) for each degree */
    double a = 0.9, b = 2.1, c = -1.4;
    ty_tensor *R = wigner(1, a, b, c), *Rt = ty_transpose(R, 0, 1), *xr = ty_matmul(x, Rt);
    ty_tensor *yr = ty_e3_spherical_harmonics(lmax, xr, true, TY_E3_NORM_COMPONENT);
    for (int l = 0; l <= lmax; l++) {
        ty_tensor *D = wigner(l, a, b, c), *Dt = ty_transpose(D, 0, 1);
        ty_tensor *yl = ty_narrow(y, 1, l * l, 2 * l + 1),
                  *yrl = ty_narrow(yr, 1, l * l, 2 * l + 1);
        ty_tensor *rot = ty_matmul(yl, Dt);
        tu_assert_close(yrl, rot, 1e-10, 0);
        ty_tensor *all[] = {D, Dt, yl, yrl, rot};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
    }
    /* the other normalisations, and without normalize: degree l scales as |x|^l */
    ty_tensor *yn = ty_e3_spherical_harmonics(lmax, x, true, TY_E3_NORM_NORM);
    ty_tensor *yi = ty_e3_spherical_harmonics(lmax, x, true, TY_E3_NORM_INTEGRAL);
    ty_tensor *x2 = ty_mul_scalar(x, 2.0);
    ty_tensor *yu = ty_e3_spherical_harmonics(lmax, x2, false, TY_E3_NORM_COMPONENT);
    ty_tensor *y1 = ty_e3_spherical_harmonics(lmax, x, false, TY_E3_NORM_COMPONENT);
    for (int p = 0; p < 6; p++)
        for (int l = 0; l <= lmax; l++)
            for (int k = l * l; k < (l + 1) * (l + 1); k++) {
                double v = ty_get_flat(y, p * 81 + k);
                ck_assert_double_eq_tol(ty_get_flat(yn, p * 81 + k), v / sqrt(2 * l + 1), 1e-12);
                ck_assert_double_eq_tol(ty_get_flat(yi, p * 81 + k), v / sqrt(4 * M_PI), 1e-12);
                double u = ty_get_flat(y1, p * 81 + k);
                ck_assert_double_eq_tol(ty_get_flat(yu, p * 81 + k), u * pow(2, l),
                                        1e-9 * (1 + fabs(u) * pow(2, l)));
            }
    ty_tensor *all[] = {x, y, R, Rt, xr, yr, yn, yi, x2, yu, y1};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
}
END_TEST

START_TEST(test_sh_known_values_and_errors) {
    /* e3nn: Y^1 = sqrt(3) (x, y, z); Y^2 at (0, 1, 0) is (0, 0, sqrt(5), 0, 0) */
    float v[6] = {0, 1, 0, 0.6f, 0.0f, 0.8f};
    ty_tensor *x = ty_from_buffer(v, 2, (int64_t[]){2, 3}, TY_F32);
    ty_tensor *y = ty_e3_spherical_harmonics(2, x, false, TY_E3_NORM_COMPONENT);
    ck_assert_int_eq(y->dtype, TY_F32);
    double s3 = sqrt(3.0), s5 = sqrt(5.0), s15 = sqrt(15.0);
    /* e3nn's degree 2: sqrt(15) x z, sqrt(15) x y, sqrt(5) (y^2 - (x^2 + z^2) / 2),
     * sqrt(15) y z, sqrt(15) / 2 (z^2 - x^2) */
    double e[18] = {1,        0,          s3, 0,           0,        0,
                    s5,       0,          0,  1,           0.6 * s3, 0,
                    0.8 * s3, s15 * 0.48, 0,  s5 * (-0.5), 0,        s15 / 2 * (0.64 - 0.36)};
    tu_assert_values(y, e, 18, 1e-6);
    /* the zero vector with normalize: 1 for l = 0, 0 beyond */
    ty_tensor *z = ty_zeros(1, (int64_t[]){3}, TY_F64, ty_cpu());
    ty_tensor *yz = ty_e3_spherical_harmonics(3, z, true, TY_E3_NORM_COMPONENT);
    ck_assert_int_eq(yz->ndim, 1);
    ck_assert_int_eq(yz->shape[0], 16);
    ck_assert_double_eq(ty_get_flat(yz, 0), 1);
    for (int k = 1; k < 16; k++) ck_assert_double_eq(ty_get_flat(yz, k), 0);
    ty_tensor *bad = ty_zeros(2, (int64_t[]){2, 2}, TY_F64, ty_cpu());
    tu_assert_error(ty_e3_spherical_harmonics(2, bad, true, TY_E3_NORM_NORM) == NULL,
                    "spherical_harmonics", "(2,2)");
    tu_assert_error(ty_e3_spherical_harmonics(TY_E3_LMAX + 1, x, true, TY_E3_NORM_NORM) == NULL,
                    "spherical_harmonics", "lmax 17");
    tu_assert_error(ty_e3_spherical_harmonics(2, x, true, (ty_e3_normalization)7) == NULL,
                    "spherical_harmonics", "normalization 7");
    ty_tensor *all[] = {x, y, z, yz, bad};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
}
END_TEST

typedef struct {
    int lmax;
    bool normalize;
} sh_ctx;

static ty_tensor *f_sh(void *vctx, int n, ty_tensor *const *in) {
    (void)n;
    sh_ctx *c = vctx;
    return ty_e3_spherical_harmonics(c->lmax, in[0], c->normalize, TY_E3_NORM_INTEGRAL);
}

START_TEST(test_sh_gradients) {
    for (int normalize = short_run(); normalize < 2; normalize++) {
        sh_ctx c = {4, normalize};
        ty_tensor *x = tu_randn(2, (int64_t[]){3, 3}, TY_F64, 21);
        ty_set_requires_grad(x, true);
        ty_gradcheck_report rep;
        ck_assert_msg(ty_gradcheck(f_sh, &c, 1, &x, 1e-6, 1e-6, 1e-4, &rep) == 1, "%s",
                      rep.message);
        ck_assert_msg(ty_gradgradcheck(f_sh, &c, 1, &x, 1e-6, 1e-5, 1e-3, &rep) == 1, "%s",
                      rep.message);
        /* the autograd path gives the fused path's values */
        ty_tensor *a = ty_e3_spherical_harmonics(6, x, normalize, TY_E3_NORM_COMPONENT);
        ck_assert(a->requires_grad);
        ty_tensor *xd = ty_detach(x);
        ty_tensor *b = ty_e3_spherical_harmonics(6, xd, normalize, TY_E3_NORM_COMPONENT);
        ck_assert(!b->requires_grad);
        tu_assert_close(a, b, 1e-12, 1e-12);
        ty_tensor_release(a);
        ty_tensor_release(b);
        ty_tensor_release(xd);
        ty_tensor_release(x);
    }
}
END_TEST

/* ---- tensor products ---- */

/* A dense reference: loops over wigner_3j for every path, sample by sample. */
static ty_tensor *tp_reference(int n, const ty_e3_path *paths, int64_t dimo, ty_tensor *x1,
                               ty_tensor *x2, ty_tensor *w) {
    int64_t Z = x1->shape[0], d1 = x1->shape[1], d2 = x2->shape[1];
    int64_t nw = w ? w->shape[w->ndim - 1] : 0;
    bool ps = w && w->ndim == 2;
    ty_tensor *out = ty_zeros(2, (int64_t[]){Z, dimo}, TY_F64, ty_cpu());
    double *o = ty_data(out);
    int64_t woff = 0;
    for (int pi = 0; pi < n; pi++) {
        const ty_e3_path *p = &paths[pi];
        ty_tensor *c = ty_e3_wigner_3j(p->l1, p->l2, p->lo, TY_F64);
        int n1 = 2 * p->l1 + 1, n2 = 2 * p->l2 + 1, n3 = 2 * p->lo + 1;
        for (int64_t z = 0; z < Z; z++)
            for (int64_t u = 0; u < p->mul1; u++)
                for (int64_t v = 0; v < p->mul2; v++)
                    for (int64_t wo = 0; wo < p->mulo; wo++) {
                        double wt = 1;
                        bool uu = p->mode == TY_E3_UUW || p->mode == TY_E3_UUU;
                        if (uu && u != v) continue;
                        if ((p->mode == TY_E3_UVU || p->mode == TY_E3_UUU) && wo != u) continue;
                        if (p->mode == TY_E3_UVV && wo != v) continue;
                        if (p->has_weight) {
                            int64_t idx = p->mode == TY_E3_UVW   ? (u * p->mul2 + v) * p->mulo + wo
                                          : p->mode == TY_E3_UUW ? u * p->mulo + wo
                                          : p->mode == TY_E3_UUU ? u
                                                                 : u * p->mul2 + v;
                            wt = ty_get_flat(w, (ps ? z * nw : 0) + woff + idx);
                        }
                        for (int i = 0; i < n1; i++)
                            for (int j = 0; j < n2; j++)
                                for (int k = 0; k < n3; k++)
                                    o[z * dimo + p->offo + wo * n3 + k] +=
                                        p->coef * wt * at3(c, i, j, k) *
                                        ty_get_flat(x1, z * d1 + p->off1 + u * n1 + i) *
                                        ty_get_flat(x2, z * d2 + p->off2 + v * n2 + j);
                    }
        if (p->has_weight) {
            int64_t k = p->mode == TY_E3_UVW   ? p->mul1 * p->mul2 * p->mulo
                        : p->mode == TY_E3_UUW ? p->mul1 * p->mulo
                        : p->mode == TY_E3_UUU ? p->mul1
                                               : p->mul1 * p->mul2;
            woff += k;
        }
        ty_tensor_release(c);
    }
    return out;
}

/* input 1: 3x0e + 2x1o + 2x2e (dim 19); input 2: 2x0e + 2x1o (dim 8);
 * output blocks at their offsets below (dim 52). */
static const ty_e3_path mixed_paths[] = {
    {0, 0, 0, 0, 3, 0, 2, 0, 4, TY_E3_UVW, true, 0.5},   /* 3x0e x 2x0e -> 4x0e */
    {1, 1, 0, 3, 2, 2, 2, 4, 2, TY_E3_UVU, true, 0.7},   /* 2x1o x 2x1o -> 2x0e */
    {2, 1, 1, 9, 2, 2, 2, 6, 2, TY_E3_UVV, true, 1.3},   /* 2x2e x 2x1o -> 2x1o */
    {1, 1, 2, 3, 2, 2, 2, 12, 3, TY_E3_UUW, true, 0.9},  /* 2x1o x 2x1o -> 3x2e */
    {2, 1, 3, 9, 2, 2, 2, 27, 2, TY_E3_UUU, true, 1.1},  /* 2x2e x 2x1o -> 2x3o */
    {1, 0, 1, 3, 2, 0, 2, 41, 2, TY_E3_UVU, false, 0.8}, /* 2x1o x 2x0e -> 2x1o */
    {0, 1, 1, 0, 3, 2, 2, 41, 2, TY_E3_UVV, false, 0.6}, /* 3x0e x 2x1o -> 2x1o */
    {2, 1, 2, 9, 2, 2, 2, 47, 1, TY_E3_UUW, false, 0.4}, /* 2x2e x 2x1o -> 1x2o */
    {1, 1, 1, 3, 2, 2, 2, 6, 2, TY_E3_UUU, false, 1.2},  /* 2x1o x 2x1o -> 2x1e */
    {2, 0, 2, 9, 2, 0, 2, 12, 3, TY_E3_UVW, true, 0.3},  /* 2x2e x 2x0e -> 3x2e */
};
#define N_MIXED ((int)(sizeof mixed_paths / sizeof *mixed_paths))

static ty_e3_tp *mixed_tp(void) {
    ty_e3_tp *tp = ty_e3_tp_new(19, 8, 52, N_MIXED, mixed_paths);
    ck_assert_msg(tp != NULL, "%s", ty_last_error());
    return tp;
}

START_TEST(test_tp_matches_dense_reference) {
    ty_e3_tp *tp = mixed_tp();
    int64_t nw = ty_e3_tp_weight_numel(tp);
    ck_assert_int_eq(nw, 24 + 4 + 4 + 6 + 2 + 12);
    for (int dt = 0; dt < 2; dt++)
        for (int ps = 0; ps < 2; ps++) {
            ty_dtype t = dt ? TY_F64 : TY_F32;
            int64_t Z = 5;
            ty_tensor *x1 = tu_randn(2, (int64_t[]){Z, 19}, t, 1),
                      *x2 = tu_randn(2, (int64_t[]){Z, 8}, t, 2);
            ty_tensor *w = ps ? tu_randn(2, (int64_t[]){Z, nw}, t, 3) : tu_randn(1, &nw, t, 3);
            ty_tensor *out = ty_e3_tensor_product(tp, x1, x2, w);
            ck_assert_msg(out != NULL, "%s", ty_last_error());
            ck_assert_int_eq(out->dtype, t);
            ty_tensor *ref = tp_reference(N_MIXED, mixed_paths, 52, x1, x2, w);
            ty_tensor *o64 = ty_cast(out, TY_F64);
            tu_assert_close(o64, ref, dt ? 1e-12 : 1e-5, dt ? 1e-12 : 1e-5);
            /* non-contiguous inputs give the same */
            ty_tensor *x1n = tu_strided(x1), *x2n = tu_strided(x2);
            ty_tensor *out2 = ty_e3_tensor_product(tp, x1n, x2n, w);
            tu_assert_close(out2, out, 0, 0);
            ty_tensor *all[] = {x1, x2, w, out, ref, o64, x1n, x2n, out2};
            for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
        }
    ty_e3_tp_release(tp);
}
END_TEST

/* A batch of several chunks of scratch (a wide block makes the chunks
 * small): every row equals the product of that row alone, and the shared
 * weight gradient sums all chunks. And an empty batch. */
START_TEST(test_tp_chunks_and_empty) {
    int64_t M = 4096, Z = 300;
    ty_e3_path p = {0, 0, 0, 0, M, 0, 1, 0, 2, TY_E3_UVW, true, 0.5};
    ty_e3_tp *tp = ty_e3_tp_new(M, 1, 2, 1, &p);
    int64_t nw = 2 * M;
    ty_tensor *x1 = tu_randn(2, (int64_t[]){Z, M}, TY_F64, 4);
    ty_tensor *x2 = tu_randn(2, (int64_t[]){Z, 1}, TY_F64, 5), *w = tu_randn(1, &nw, TY_F64, 6);
    ty_set_requires_grad(w, true);
    ty_tensor *out = ty_e3_tensor_product(tp, x1, x2, w);
    for (int64_t z = 0; z < Z; z += 37) {
        ty_tensor *r1 = ty_narrow(x1, 0, z, 1), *r2 = ty_narrow(x2, 0, z, 1);
        ty_tensor *one = ty_e3_tensor_product(tp, r1, r2, w), *row = ty_narrow(out, 0, z, 1);
        tu_assert_close(row, one, 1e-12, 1e-12);
        ty_tensor *all[] = {r1, r2, one, row};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
    }
    /* d(sum out)/dW[u, c] = 0.5 sum_z x1[z, u] x2[z] (wigner_3j(0,0,0) = 1) */
    ty_tensor *s = ty_sum_all(out), *gw = NULL;
    ck_assert_int_eq(ty_grad(1, &s, NULL, 1, &w, false, false, false, &gw), 0);
    for (int64_t u = 0; u < M; u += 511) {
        double e = 0;
        for (int64_t z = 0; z < Z; z++) e += 0.5 * ty_get_flat(x1, z * M + u) * ty_get_flat(x2, z);
        ck_assert_double_eq_tol(ty_get_flat(gw, 2 * u), e, 1e-10);
        ck_assert_double_eq_tol(ty_get_flat(gw, 2 * u + 1), e, 1e-10);
    }
    ty_tensor *e1 = ty_zeros(2, (int64_t[]){0, M}, TY_F64, ty_cpu());
    ty_tensor *e2 = ty_zeros(2, (int64_t[]){0, 1}, TY_F64, ty_cpu());
    ty_tensor *eo = ty_e3_tensor_product(tp, e1, e2, w);
    ck_assert_msg(eo != NULL, "%s", ty_last_error());
    ck_assert(eo->shape[0] == 0 && eo->shape[1] == 2);
    ty_tensor *all[] = {x1, x2, w, out, s, gw, e1, e2, eo};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
    ty_e3_tp_release(tp);
}
END_TEST

typedef struct {
    ty_e3_tp *tp;
} tp_ctx;

static ty_tensor *f_tp(void *vctx, int n, ty_tensor *const *in) {
    tp_ctx *c = vctx;
    return ty_e3_tensor_product(c->tp, in[0], in[1], n > 2 ? in[2] : NULL);
}

START_TEST(test_tp_gradients) {
    ty_e3_tp *tp = mixed_tp();
    int64_t nw = ty_e3_tp_weight_numel(tp);
    tp_ctx c = {tp};
    for (int ps = short_run(); ps < 2; ps++) {
        ty_tensor *in[3] = {
            tu_randn(2, (int64_t[]){3, 19}, TY_F64, 11), tu_randn(2, (int64_t[]){3, 8}, TY_F64, 12),
            ps ? tu_randn(2, (int64_t[]){3, nw}, TY_F64, 13) : tu_randn(1, &nw, TY_F64, 13)};
        for (int i = 0; i < 3; i++) ty_set_requires_grad(in[i], true);
        ty_gradcheck_report rep;
        ck_assert_msg(ty_gradcheck(f_tp, &c, 3, in, 1e-6, 1e-6, 1e-5, &rep) == 1, "%s",
                      rep.message);
        ck_assert_msg(ty_gradgradcheck(f_tp, &c, 3, in, 1e-6, 1e-6, 1e-4, &rep) == 1, "%s",
                      rep.message);
        /* fused (no create_graph) and composed backward agree */
        ty_tensor *out = ty_e3_tensor_product(tp, in[0], in[1], in[2]);
        ty_tensor *g = tu_randn(2, (int64_t[]){3, 52}, TY_F64, 14);
        ty_tensor *a[3] = {0}, *b[3] = {0};
        ck_assert_int_eq(ty_grad(1, &out, &g, 3, in, true, false, false, a), 0);
        ck_assert_int_eq(ty_grad(1, &out, &g, 3, in, true, true, false, b), 0);
        for (int i = 0; i < 3; i++) {
            ck_assert(!a[i]->requires_grad && b[i]->requires_grad);
            tu_assert_close(a[i], b[i], 1e-12, 1e-12);
            ty_tensor_release(a[i]);
            ty_tensor_release(b[i]);
            ty_tensor_release(in[i]);
        }
        ty_tensor_release(out);
        ty_tensor_release(g);
    }
    ty_e3_tp_release(tp);
}
END_TEST

/* The block-diagonal representation of a list of (mul, l, parity) blocks. */
static ty_tensor *block_D(int n, const int (*blocks)[3], double a, double b, double c, bool flip) {
    int64_t dim = 0;
    for (int i = 0; i < n; i++) dim += blocks[i][0] * (2 * blocks[i][1] + 1);
    ty_tensor *D = ty_zeros(2, (int64_t[]){dim, dim}, TY_F64, ty_cpu());
    double *d = ty_data(D);
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        int l = blocks[i][1], m = 2 * l + 1;
        ty_tensor *w = wigner(l, a, b, c);
        double s = flip && blocks[i][2] < 0 ? -1 : 1;
        for (int u = 0; u < blocks[i][0]; u++, off += m)
            for (int r = 0; r < m; r++)
                for (int q = 0; q < m; q++)
                    d[(off + r) * dim + off + q] = s * ty_get_flat(w, r * m + q);
        ty_tensor_release(w);
    }
    return D;
}

START_TEST(test_tp_equivariant) {
    static const int in1[][3] = {{3, 0, 1}, {2, 1, -1}, {2, 2, 1}};
    static const int in2[][3] = {{2, 0, 1}, {2, 1, -1}};
    static const int out[][3] = {{4, 0, 1},  {2, 0, 1},  {2, 1, -1}, {3, 2, 1},
                                 {2, 3, -1}, {2, 1, -1}, {1, 2, -1}};
    /* path 8 (1o x 1o -> 1e) writes into a 1o block, which breaks parity:
     * leave it (and path 9) out */
    ty_e3_tp *tp2 = ty_e3_tp_new(19, 8, 52, N_MIXED - 2, mixed_paths);
    int64_t nw = ty_e3_tp_weight_numel(tp2);
    ty_tensor *x1 = tu_randn(2, (int64_t[]){4, 19}, TY_F64, 31);
    ty_tensor *x2 = tu_randn(2, (int64_t[]){4, 8}, TY_F64, 32), *w = tu_randn(1, &nw, TY_F64, 33);
    for (int flip = 0; flip < 2; flip++) {
        ty_tensor *D1 = block_D(3, in1, 0.3, 1.9, -2.2, flip),
                  *D2 = block_D(2, in2, 0.3, 1.9, -2.2, flip);
        ty_tensor *Do = block_D(7, out, 0.3, 1.9, -2.2, flip);
        ty_tensor *D1t = ty_transpose(D1, 0, 1), *D2t = ty_transpose(D2, 0, 1),
                  *Dot = ty_transpose(Do, 0, 1);
        ty_tensor *r1 = ty_matmul(x1, D1t), *r2 = ty_matmul(x2, D2t);
        ty_tensor *y = ty_e3_tensor_product(tp2, x1, x2, w),
                  *yr = ty_e3_tensor_product(tp2, r1, r2, w);
        ty_tensor *ry = ty_matmul(y, Dot);
        tu_assert_close(yr, ry, 1e-10, 0);
        ty_tensor *all[] = {D1, D2, Do, D1t, D2t, Dot, r1, r2, y, yr, ry};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
    }
    ty_tensor_release(x1);
    ty_tensor_release(x2);
    ty_tensor_release(w);
    ty_e3_tp_release(tp2);
}
END_TEST

START_TEST(test_tp_errors) {
    ty_e3_path p = {1, 1, 3, 0, 2, 0, 1, 0, 2, TY_E3_UVW, true, 1};
    tu_assert_error(ty_e3_tp_new(6, 3, 14, 1, &p) == NULL, "e3_tp_new", "l3 = 3", "path 0");
    p.lo = 2;
    tu_assert_error(ty_e3_tp_new(5, 3, 10, 1, &p) == NULL, "e3_tp_new", "input 1", "2 x 3",
                    "5 features");
    p.mode = TY_E3_UVU, p.mulo = 3;
    tu_assert_error(ty_e3_tp_new(6, 3, 15, 1, &p) == NULL, "e3_tp_new", "uvu", "mulo 3", "2");
    p.mode = TY_E3_UVW, p.mulo = 2, p.has_weight = false;
    tu_assert_error(ty_e3_tp_new(6, 3, 10, 1, &p) == NULL, "e3_tp_new", "uvw", "needs weights");
    p.mode = TY_E3_UUU, p.has_weight = true;
    tu_assert_error(ty_e3_tp_new(6, 3, 10, 1, &p) == NULL, "e3_tp_new", "mul1 2", "mul2 1");
    p.mode = TY_E3_UVW, p.coef = NAN;
    tu_assert_error(ty_e3_tp_new(6, 3, 10, 1, &p) == NULL, "e3_tp_new", "coef");
    p.coef = 1;
    ty_e3_tp *tp = ty_e3_tp_new(6, 3, 10, 1, &p);
    ck_assert_ptr_nonnull(tp);
    ck_assert_int_eq(ty_e3_tp_weight_numel(tp), 4);
    ck_assert_int_eq(ty_e3_tp_dim(tp, 2), 10);
    ty_tensor *x1 = tu_randn(2, (int64_t[]){2, 6}, TY_F32, 1),
              *x2 = tu_randn(2, (int64_t[]){2, 3}, TY_F32, 2);
    ty_tensor *w = tu_randn(1, (int64_t[]){4}, TY_F32, 3),
              *w5 = tu_randn(1, (int64_t[]){5}, TY_F32, 3);
    ty_tensor *x2b = tu_randn(2, (int64_t[]){3, 3}, TY_F32, 2),
              *x1d = tu_randn(2, (int64_t[]){2, 6}, TY_F64, 1);
    ty_tensor *x1i = ty_zeros(2, (int64_t[]){2, 6}, TY_I64, ty_cpu());
    tu_assert_error(ty_e3_tensor_product(tp, x1, x2b, w) == NULL, "e3_tensor_product", "x2",
                    "(3,3)", "(2,3)");
    tu_assert_error(ty_e3_tensor_product(tp, x1, x2, w5) == NULL, "e3_tensor_product", "w", "(5)",
                    "(4)");
    tu_assert_error(ty_e3_tensor_product(tp, x1, x2, NULL) == NULL, "e3_tensor_product",
                    "weights are required");
    tu_assert_error(ty_e3_tensor_product(tp, x1d, x2, w) == NULL, "e3_tensor_product", "x2 is f32",
                    "f64");
    tu_assert_error(ty_e3_tensor_product(tp, x1i, x2, w) == NULL, "e3_tensor_product", "i64");
    ty_tensor *all[] = {x1, x2, w, w5, x2b, x1d, x1i};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) ty_tensor_release(all[i]);
    ty_e3_tp_release(tp);
}
END_TEST

static Suite *e3_suite(void) {
    Suite *s = suite_create("e3");
    TCase *tc = tcase_create("e3");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_w3j_orthonormal_and_symmetric);
    tcase_add_test(tc, test_w3j_known_values);
    tcase_add_test(tc, test_w3j_invariant);
    tcase_add_test(tc, test_w3j_errors);
    tcase_add_test(tc, test_wigner_D_l1_is_the_rotation);
    tcase_add_test(tc, test_wigner_D_is_a_representation);
    tcase_add_test(tc, test_wigner_D_batched_and_errors);
    tcase_add_test(tc, test_matrix_to_angles);
    tcase_add_test(tc, test_wigner_D_gradients);
    tcase_add_test(tc, test_sh_equivariant_and_normalised);
    tcase_add_test(tc, test_sh_known_values_and_errors);
    tcase_add_test(tc, test_sh_gradients);
    tcase_add_test(tc, test_tp_matches_dense_reference);
    tcase_add_test(tc, test_tp_chunks_and_empty);
    tcase_add_test(tc, test_tp_gradients);
    tcase_add_test(tc, test_tp_equivariant);
    tcase_add_test(tc, test_tp_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(e3_suite());
}
