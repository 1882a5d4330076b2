/* Elementwise ops: unary math, binary arithmetic and comparisons with
 * broadcasting and promotion, where, in-place forms and the fused kernels,
 * each against a naive reference computed here in double. */
#include <string.h>

#include "testutil.h"

/* ---- references ---- */

static char *elem(ty_tensor *t, int64_t i) {
    return (char *)ty_data(t) + i * (int64_t)ty_dtype_size(t->dtype);
}

/* f applied to every element of x (read as double), stored as dt. */
static ty_tensor *ref_map(ty_tensor *x, double (*f)(double), ty_dtype dt) {
    ty_tensor *e = ty_empty(x->ndim, x->shape, dt, ty_cpu());
    for (int64_t i = 0; i < ty_numel(x); i++)
        ty_store_from_double(elem(e, i), dt, f(ty_get_flat(x, i)));
    return e;
}

/* Row-major index into t of the element that broadcasts to out index idx. */
static int64_t bcast_index(const ty_tensor *t, int nd, const int64_t *idx) {
    int64_t flat = 0;
    for (int d = 0; d < t->ndim; d++) {
        int64_t i = t->shape[d] == 1 ? 0 : idx[nd - t->ndim + d];
        flat = flat * t->shape[d] + i;
    }
    return flat;
}

/* f(a, b) over the broadcast shape, stored as dt (a naive nested walk). */
static ty_tensor *ref_zip(ty_tensor *a, ty_tensor *b, double (*f)(double, double), ty_dtype dt) {
    int nd;
    int64_t shape[TY_MAX_DIMS], idx[TY_MAX_DIMS] = {0};
    ck_assert_int_eq(ty_broadcast_shapes("ref", a->ndim, a->shape, b->ndim, b->shape, &nd, shape),
                     0);
    ty_tensor *e = ty_empty(nd, shape, dt, ty_cpu());
    for (int64_t i = 0; i < ty_numel(e); i++) {
        int64_t r = i;
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = r % shape[d];
            r /= shape[d];
        }
        double x = ty_get_flat(a, bcast_index(a, nd, idx));
        double y = ty_get_flat(b, bcast_index(b, nd, idx));
        ty_store_from_double(elem(e, i), dt, f(x, y));
    }
    return e;
}

/* Values on a grid of quarters in [lo, hi), so that comparisons meet equal
 * values and results are exact enough to compare across dtypes. */
static ty_tensor *quarters(int ndim, const int64_t *shape, ty_dtype dt, double lo, double hi,
                           uint64_t seed) {
    ty_tensor *u = tu_uniform(ndim, shape, TY_F64, lo, hi, seed);
    double *d = ty_data(u);
    for (int64_t i = 0; i < ty_numel(u); i++) d[i] = floor(d[i] * 4) / 4;
    ty_tensor *t = ty_cast(u, dt);
    ty_tensor_release(u);
    return t;
}

static ty_tensor *vec(ty_dtype dt, int n, const double *v) {
    ty_tensor *t = ty_empty(1, (int64_t[]){n}, dt, ty_cpu());
    for (int i = 0; i < n; i++) ty_store_from_double(elem(t, i), dt, v[i]);
    return t;
}

static void release_all(ty_tensor **ts, int n) {
    for (int i = 0; i < n; i++) ty_tensor_release(ts[i]);
}

static double tol_for(ty_dtype dt) {
    return dt == TY_F64 ? 1e-12 : ty_dtype_is_half(dt) ? 1e-2 : dt == TY_F32 ? 1e-5 : 0;
}

/* ---- unary references ---- */

static double r_neg(double x) {
    return -x;
}
static double r_sign(double x) {
    return x > 0 ? 1 : x < 0 ? -1 : x;
}
static double r_rsqrt(double x) {
    return 1 / sqrt(x);
}
static double r_sigmoid(double x) {
    return 1 / (1 + exp(-x));
}
static double r_relu(double x) {
    return x > 0 || isnan(x) ? x : 0;
}
static double r_gelu(double x) {
    return 0.5 * x * (1 + erf(x / sqrt(2.0)));
}
static double r_gelu_tanh(double x) {
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double r_silu(double x) {
    return x / (1 + exp(-x));
}
static double r_softplus(double x) {
    return x > 20 ? x : log1p(exp(x));
}
static double r_ident(double x) {
    return x;
}
static double r_recip(double x) {
    return 1 / x;
}

typedef struct {
    ty_unary_op op;
    double (*f)(double);
    double lo, hi;  /* input range of the random tests */
    bool keeps_int; /* integer inputs keep their dtype */
} unary_case;

static const unary_case unary_cases[] = {
    {TY_UNARY_NEG, r_neg, -3, 3, true},
    {TY_UNARY_ABS, fabs, -3, 3, true},
    {TY_UNARY_SIGN, r_sign, -3, 3, true},
    {TY_UNARY_EXP, exp, -3, 3, false},
    {TY_UNARY_LOG, log, 0.01, 5, false},
    {TY_UNARY_LOG1P, log1p, -0.9, 5, false},
    {TY_UNARY_EXPM1, expm1, -3, 3, false},
    {TY_UNARY_SQRT, sqrt, 0, 5, false},
    {TY_UNARY_RSQRT, r_rsqrt, 0.01, 5, false},
    {TY_UNARY_SIN, sin, -4, 4, false},
    {TY_UNARY_COS, cos, -4, 4, false},
    {TY_UNARY_TANH, tanh, -4, 4, false},
    {TY_UNARY_SIGMOID, r_sigmoid, -6, 6, false},
    {TY_UNARY_RELU, r_relu, -3, 3, true},
    {TY_UNARY_GELU, r_gelu, -4, 4, false},
    {TY_UNARY_GELU_TANH, r_gelu_tanh, -4, 4, false},
    {TY_UNARY_SILU, r_silu, -4, 4, false},
    {TY_UNARY_SOFTPLUS, r_softplus, -4, 25, false},
    {TY_UNARY_CLAMP, r_ident, -3, 3, true},
    {TY_UNARY_FLOOR, floor, -3, 3, true},
    {TY_UNARY_CEIL, ceil, -3, 3, true},
    {TY_UNARY_ROUND, nearbyint, -3, 3, true},
    {TY_UNARY_RECIPROCAL, r_recip, 0.1, 3, false},
    {TY_UNARY_AXPB, r_ident, -3, 3, false},
};
#define NUM_UNARY_CASES ((int)(sizeof unary_cases / sizeof unary_cases[0]))

/* Every op of the table on f32, f64 and bf16, contiguous, transposed and
 * strided, out of place and in place. */
START_TEST(test_unary_float_layouts) {
    ck_assert_int_eq(NUM_UNARY_CASES, TY_UNARY_NUM);
    ty_dtype dts[3] = {TY_F32, TY_F64, TY_BF16};
    for (int c = 0; c < NUM_UNARY_CASES; c++) {
        const unary_case *uc = &unary_cases[c];
        for (int k = 0; k < 3; k++) {
            ty_dtype dt = dts[k];
            ty_tensor *x = tu_uniform(2, (int64_t[]){5, 7}, dt, uc->lo, uc->hi, 10 + c);
            ty_tensor *want = ref_map(x, uc->f, dt);
            ty_tensor *ins[3] = {x, tu_noncontiguous(x), tu_strided(x)};
            for (int l = 0; l < 3; l++) {
                ty_tensor *y = ty_unary(uc->op, ins[l]);
                ck_assert_msg(y != NULL, "%s: %s", ty_unary_name(uc->op), ty_last_error());
                ck_assert_int_eq(y->dtype, dt);
                ck_assert(ty_is_contiguous(y));
                tu_assert_close(y, want, tol_for(dt), tol_for(dt));
                ty_tensor_release(y);
                /* in place, on a copy laid out like the input */
                ty_tensor *z = l == 0 ? ty_clone(x) : l == 1 ? tu_noncontiguous(x) : tu_strided(x);
                uint64_t v = z->storage->version;
                ck_assert_int_eq(ty_unary_(uc->op, z), 0);
                ck_assert_uint_eq(z->storage->version, v + 1);
                tu_assert_close(z, want, tol_for(dt), tol_for(dt));
                ty_tensor_release(z);
            }
            ty_tensor_release(ins[1]);
            ty_tensor_release(ins[2]);
            ty_tensor_release(x);
            ty_tensor_release(want);
        }
    }
}
END_TEST

/* NaN, infinities, signed zeros and huge values against libm. */
START_TEST(test_unary_special_values) {
    double v[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e4, -1e4, 0.5, -2.5, 1.5, 3.0, -1.0};
    int n = (int)(sizeof v / sizeof v[0]);
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int c = 0; c < NUM_UNARY_CASES; c++) {
        for (int k = 0; k < 2; k++) {
            ty_tensor *x = vec(dts[k], n, v);
            ty_tensor *y = ty_unary(unary_cases[c].op, x);
            ty_tensor *want = ref_map(x, unary_cases[c].f, dts[k]);
            tu_assert_close(y, want, tol_for(dts[k]), tol_for(dts[k]));
            ty_tensor *objs[] = {x, y, want};
            release_all(objs, 3);
        }
    }
    /* stable at the extremes: finite, and exactly 0 / 1 / x */
    ty_tensor *big = vec(TY_F32, 4, (double[]){1e4, -1e4, 100, -100});
    ty_tensor *s = ty_sigmoid(big);
    tu_assert_values(s, ((double[]){1, 0, 1, 0}), 4, 1e-30);
    ty_tensor *sp = ty_softplus(big, 1, 20);
    tu_assert_values(sp, ((double[]){1e4, 0, 100, 0}), 4, 1e-30);
    ty_tensor *si = ty_silu(big);
    tu_assert_values(si, ((double[]){1e4, 0, 100, 0}), 4, 1e-30);
    for (int i = 0; i < 4; i++)
        ck_assert(isfinite(ty_get_flat(s, i)) && isfinite(ty_get_flat(sp, i)));
    /* softplus with beta and threshold: linear above threshold / beta */
    ty_tensor *sp2 = ty_softplus(big, 2, 10);
    tu_assert_values(sp2, ((double[]){1e4, 0, 100, 0}), 4, 1e-30);
    ty_tensor *x = vec(TY_F64, 3, (double[]){1, 4, 6});
    ty_tensor *sp3 = ty_softplus(x, 2, 10);
    tu_assert_values(sp3, ((double[]){log1p(exp(2.0)) / 2, log1p(exp(8.0)) / 2, 6}), 3, 1e-14);
    ty_tensor *objs[] = {big, s, sp, si, sp2, x, sp3};
    release_all(objs, 7);
}
END_TEST

START_TEST(test_round_half_to_even) {
    double v[] = {0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 3.7, -3.7, 8388609};
    double want[] = {0, 2, 2, -0.0, -2, -2, 0, 4, -4, 8388609};
    for (int k = 0; k < 2; k++) {
        ty_tensor *x = vec(k ? TY_F64 : TY_F32, 10, v);
        ty_tensor *r = ty_round(x);
        tu_assert_values(r, want, 10, 0);
        ck_assert(signbit(ty_get_flat(r, 3))); /* round(-0.5) is -0 */
        ty_tensor *f = ty_floor(x), *c = ty_ceil(x);
        ck_assert_double_eq(ty_get_flat(f, 5), -3);
        ck_assert_double_eq(ty_get_flat(c, 5), -2);
        ck_assert_double_eq(ty_get_flat(f, 7), 3);
        ck_assert_double_eq(ty_get_flat(c, 7), 4);
        ty_tensor *objs[] = {x, r, f, c};
        release_all(objs, 4);
    }
}
END_TEST

/* Integer and bool inputs: integer ops keep the dtype, float ops give f32. */
START_TEST(test_unary_integer_and_bool) {
    for (int c = 0; c < NUM_UNARY_CASES; c++) {
        const unary_case *uc = &unary_cases[c];
        ty_dtype dts[2] = {TY_I64, TY_U8};
        for (int k = 0; k < 2; k++) {
            ty_dtype dt = dts[k];
            double lo = dt == TY_U8 ? 1 : uc->lo < 0 ? -5 : 1, hi = 9;
            ty_tensor *x = tu_uniform(2, (int64_t[]){3, 4}, dt, lo, hi, 7 + c);
            ty_tensor *nc = tu_noncontiguous(x);
            ty_dtype out = uc->keeps_int ? dt : TY_F32;
            ty_tensor *want = ref_map(x, uc->f, out);
            ty_tensor *y = ty_unary(uc->op, nc);
            ck_assert_msg(y != NULL, "%s: %s", ty_unary_name(uc->op), ty_last_error());
            ck_assert_int_eq(y->dtype, out);
            tu_assert_close(y, want, 1e-6, 1e-5);
            if (uc->keeps_int) {
                ck_assert_int_eq(ty_unary_(uc->op, nc), 0);
                tu_assert_close(nc, want, 0, 0);
            } else {
                uint64_t v = nc->storage->version;
                tu_assert_error(ty_unary_(uc->op, nc) < 0, ty_unary_name(uc->op), "f32",
                                ty_dtype_name(dt));
                ck_assert_uint_eq(nc->storage->version, v);
                tu_assert_close(nc, x, 0, 0); /* unchanged */
            }
            ty_tensor *objs[] = {x, nc, want, y};
            release_all(objs, 4);
        }
    }
    /* i64 extremes wrap instead of overflowing */
    int64_t iv[3] = {INT64_MIN, -7, INT64_MAX};
    ty_tensor *i = ty_from_buffer(iv, 1, (int64_t[]){3}, TY_I64);
    ty_tensor *ni = ty_neg(i), *ai = ty_abs(i);
    const int64_t *pn = ty_data(ni), *pa = ty_data(ai);
    ck_assert(pn[0] == INT64_MIN && pn[1] == 7 && pn[2] == -INT64_MAX);
    ck_assert(pa[0] == INT64_MIN && pa[1] == 7 && pa[2] == INT64_MAX);
    /* u8 negation wraps like PyTorch */
    ty_tensor *u = vec(TY_U8, 3, (double[]){0, 1, 200});
    ty_tensor *nu = ty_neg(u);
    tu_assert_values(nu, ((double[]){0, 255, 56}), 3, 0);
    /* bool: identity ops keep bool, float ops give f32, neg is an error */
    ty_tensor *b = vec(TY_BOOL, 3, (double[]){1, 0, 1});
    ty_tensor *ab = ty_abs(b), *eb = ty_exp(b), *rb = ty_relu(b);
    ck_assert_int_eq(ab->dtype, TY_BOOL);
    ck_assert_int_eq(rb->dtype, TY_BOOL);
    tu_assert_values(ab, ((double[]){1, 0, 1}), 3, 0);
    ck_assert_int_eq(eb->dtype, TY_F32);
    tu_assert_values(eb, ((double[]){M_E, 1, M_E}), 3, 1e-6);
    tu_assert_error(ty_neg(b) == NULL, "neg", "bool");
    tu_assert_error(ty_clamp(b, 0, 1) == NULL, "clamp", "bool");
    ty_tensor *objs[] = {i, ni, ai, u, nu, b, ab, eb, rb};
    release_all(objs, 9);
}
END_TEST

START_TEST(test_clamp) {
    ty_tensor *x = vec(TY_F32, 6, (double[]){-2, -0.5, 0.25, 1, 3, NAN});
    ty_tensor *c = ty_clamp(x, -1, 1);
    tu_assert_values(c, ((double[]){-1, -0.5, 0.25, 1, 1, NAN}), 6, 0);
    ty_tensor *lo = ty_clamp_min(x, 0), *hi = ty_clamp_max(x, 0);
    tu_assert_values(lo, ((double[]){0, 0, 0.25, 1, 3, NAN}), 6, 0);
    tu_assert_values(hi, ((double[]){-2, -0.5, 0, 0, 0, NAN}), 6, 0);
    ty_tensor *inv = ty_clamp(x, 2, 1); /* min > max: everything is max */
    tu_assert_values(inv, ((double[]){1, 1, 1, 1, 1, NAN}), 6, 0);
    ty_tensor *nanb = ty_clamp(x, NAN, 1);
    for (int i = 0; i < 6; i++) ck_assert(isnan(ty_get_flat(nanb, i)));
    /* integer tensors: integral bounds keep i64, fractional ones give f32 */
    ty_tensor *i = vec(TY_I64, 4, (double[]){-5, 0, 3, 9});
    ty_tensor *ci = ty_clamp(i, -1, 4);
    ck_assert_int_eq(ci->dtype, TY_I64);
    tu_assert_values(ci, ((double[]){-1, 0, 3, 4}), 4, 0);
    ty_tensor *cf = ty_clamp_min(i, 0.5);
    ck_assert_int_eq(cf->dtype, TY_F32);
    tu_assert_values(cf, ((double[]){0.5, 0.5, 3, 9}), 4, 0);
    ty_tensor *cbig = ty_clamp(i, -1e30, 1e30); /* saturating bounds */
    tu_assert_values(cbig, ((double[]){-5, 0, 3, 9}), 4, 0);
    ty_tensor *u = vec(TY_U8, 3, (double[]){0, 100, 255});
    ty_tensor *cu = ty_clamp(u, -3, 200);
    tu_assert_values(cu, ((double[]){0, 100, 200}), 3, 0);
    /* in place, on a transposed f64 view and on i64 */
    ty_tensor *m = tu_uniform(2, (int64_t[]){4, 5}, TY_F64, -3, 3, 5);
    ty_tensor *mt = tu_noncontiguous(m);
    ck_assert_int_eq(ty_clamp_(mt, -1, 1), 0);
    for (int k = 0; k < 20; k++) {
        double a = ty_get_flat(m, k), b = ty_get_flat(mt, k);
        ck_assert_double_eq(b, a < -1 ? -1 : a > 1 ? 1 : a);
    }
    ck_assert_int_eq(ty_clamp_max_(i, 2), 0);
    tu_assert_values(i, ((double[]){-5, 0, 2, 2}), 4, 0);
    ck_assert_int_eq(ty_clamp_min_(i, -2), 0);
    tu_assert_values(i, ((double[]){-2, 0, 2, 2}), 4, 0);
    uint64_t v = i->storage->version;
    tu_assert_error(ty_clamp_(i, 0.5, 1) < 0, "clamp_", "f32", "i64");
    ck_assert_uint_eq(i->storage->version, v);
    tu_assert_values(i, ((double[]){-2, 0, 2, 2}), 4, 0);
    ty_tensor *objs[] = {x, c, lo, hi, inv, nanb, i, ci, cf, cbig, u, cu, m, mt};
    release_all(objs, 14);
}
END_TEST

START_TEST(test_axpb_and_large) {
    /* big enough for the threaded contiguous path, odd length for the tails */
    int64_t n = 200003;
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int k = 0; k < 2; k++) {
        ty_tensor *x = tu_uniform(1, &n, dts[k], -2, 2, 3 + k);
        ty_tensor *y = ty_axpb(x, 1.5, -0.25);
        ck_assert_int_eq(y->dtype, dts[k]);
        const void *xd = ty_data(x), *yd = ty_data(y);
        for (int64_t i = 0; i < n; i++) {
            if (k == 0) {
                float xi = ((const float *)xd)[i];
                ck_assert_float_eq(((const float *)yd)[i], xi * 1.5f + -0.25f);
            } else {
                double xi = ((const double *)xd)[i];
                ck_assert_double_eq(((const double *)yd)[i], xi * 1.5 - 0.25);
            }
        }
        ty_tensor *e = ty_exp(x);
        ty_tensor *want = ref_map(x, exp, dts[k]);
        tu_assert_close(e, want, 0, tol_for(dts[k]));
        ck_assert_int_eq(ty_axpb_(x, 1.5, -0.25), 0);
        tu_assert_close(x, y, 0, 0);
        ty_tensor *objs[] = {x, y, e, want};
        release_all(objs, 4);
    }
    /* strided and transposed inputs, integer input gives f32 */
    ty_tensor *m = tu_uniform(2, (int64_t[]){6, 9}, TY_F32, -2, 2, 8);
    ty_tensor *st = tu_strided(m), *nc = tu_noncontiguous(m);
    ty_tensor *y1 = ty_axpb(st, -2, 1), *y2 = ty_axpb(nc, -2, 1), *y0 = ty_axpb(m, -2, 1);
    tu_assert_close(y1, y0, 0, 0);
    tu_assert_close(y2, y0, 0, 0);
    ty_tensor *iv = vec(TY_I64, 3, (double[]){1, 2, 3});
    ty_tensor *yi = ty_axpb(iv, 0.5, 1);
    ck_assert_int_eq(yi->dtype, TY_F32);
    tu_assert_values(yi, ((double[]){1.5, 2, 2.5}), 3, 0);
    tu_assert_error(ty_axpb_(iv, 0.5, 1) < 0, "axpb_", "f32", "i64");
    ty_tensor *objs[] = {m, st, nc, y1, y2, y0, iv, yi};
    release_all(objs, 8);
}
END_TEST

START_TEST(test_unary_empty_and_scalar) {
    ty_tensor *z = ty_empty(2, (int64_t[]){2, 0}, TY_F32, ty_cpu());
    ty_tensor *ez = ty_exp(z);
    ck_assert_int_eq(ez->ndim, 2);
    ck_assert_int_eq(ty_numel(ez), 0);
    ck_assert_int_eq(ty_relu_(z), 0);
    ty_tensor *s = ty_scalar(-2, TY_F64);
    ty_tensor *as = ty_abs(s);
    ck_assert_int_eq(as->ndim, 0);
    ck_assert_double_eq(ty_get_flat(as, 0), 2);
    ck_assert_str_eq(ty_unary_name(TY_UNARY_GELU_TANH), "gelu_tanh");
    ck_assert(ty_unary_name(TY_UNARY_NUM) == NULL);
    tu_assert_error(ty_unary((ty_unary_op)999, s) == NULL, "unary", "999");
    tu_assert_error(ty_unary_((ty_unary_op)-1, s) < 0, "unary_", "-1");
    /* a broadcast view cannot be written in place */
    ty_tensor *e = ty_expand(s, 1, (int64_t[]){4});
    tu_assert_error(ty_exp_(e) < 0, "exp_", "(4)", "broadcast");
    ty_tensor *objs[] = {z, ez, s, as, e};
    release_all(objs, 5);
}
END_TEST

START_TEST(test_logical_not) {
    ty_tensor *x = vec(TY_F32, 4, (double[]){0, -0.0, 2, NAN});
    ty_tensor *n = ty_logical_not(x);
    ck_assert_int_eq(n->dtype, TY_BOOL);
    tu_assert_values(n, ((double[]){1, 1, 0, 0}), 4, 0);
    ty_tensor *b = vec(TY_BOOL, 2, (double[]){1, 0});
    ty_tensor *nb = ty_logical_not(b);
    tu_assert_values(nb, ((double[]){0, 1}), 2, 0);
    ck_assert_int_eq(ty_logical_not_(x), 0);
    ck_assert_int_eq(x->dtype, TY_F32);
    tu_assert_values(x, ((double[]){1, 1, 0, 0}), 4, 0);
    ty_tensor *objs[] = {x, n, b, nb};
    release_all(objs, 4);
}
END_TEST

/* ---- binary ---- */

static double r_add(double x, double y) {
    return x + y;
}
static double r_sub(double x, double y) {
    return x - y;
}
static double r_mul(double x, double y) {
    return x * y;
}
static double r_div(double x, double y) {
    return x / y;
}
static double r_max(double x, double y) {
    return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
}
static double r_min(double x, double y) {
    return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
}
static double r_eq(double x, double y) {
    return x == y;
}
static double r_ne(double x, double y) {
    return x != y;
}
static double r_lt(double x, double y) {
    return x < y;
}
static double r_le(double x, double y) {
    return x <= y;
}
static double r_gt(double x, double y) {
    return x > y;
}
static double r_ge(double x, double y) {
    return x >= y;
}
static double r_and(double x, double y) {
    return x != 0 && y != 0;
}
static double r_or(double x, double y) {
    return x != 0 || y != 0;
}
static double r_xor(double x, double y) {
    return (x != 0) != (y != 0);
}

typedef struct {
    ty_binary_op op;
    double (*f)(double, double);
    double lo_b, hi_b; /* range of the second operand */
    int kind;          /* 0 arithmetic, 1 true division, 2 bool result */
} binary_case;

static const binary_case binary_cases[] = {
    {TY_BINARY_ADD, r_add, -3, 3, 0},       {TY_BINARY_SUB, r_sub, -3, 3, 0},
    {TY_BINARY_MUL, r_mul, -3, 3, 0},       {TY_BINARY_DIV, r_div, -3, 3, 1},
    {TY_BINARY_POW, pow, 0, 3, 0},          {TY_BINARY_MAXIMUM, r_max, -3, 3, 0},
    {TY_BINARY_MINIMUM, r_min, -3, 3, 0},   {TY_BINARY_EQ, r_eq, -3, 3, 2},
    {TY_BINARY_NE, r_ne, -3, 3, 2},         {TY_BINARY_LT, r_lt, -3, 3, 2},
    {TY_BINARY_LE, r_le, -3, 3, 2},         {TY_BINARY_GT, r_gt, -3, 3, 2},
    {TY_BINARY_GE, r_ge, -3, 3, 2},         {TY_BINARY_LOGICAL_AND, r_and, -1, 2, 2},
    {TY_BINARY_LOGICAL_OR, r_or, -1, 2, 2}, {TY_BINARY_LOGICAL_XOR, r_xor, -1, 2, 2},
};
#define NUM_BINARY_CASES ((int)(sizeof binary_cases / sizeof binary_cases[0]))

/* Operand pairs: same shape contiguous, transposed, strided, broadcast in
 * both directions, 0-d on either side, and an empty dim. */
static void make_pair(int layout, ty_dtype dt, const binary_case *bc, uint64_t seed, ty_tensor **a,
                      ty_tensor **b) {
    double lo_a = bc->op == TY_BINARY_POW ? 0 : -3, hi_a = 3;
    if (dt == TY_U8) lo_a = 0;
    double lo_b = dt == TY_U8 && bc->lo_b < 0 ? 0 : bc->lo_b, hi_b = bc->hi_b;
    int64_t s46[2] = {4, 6}, s316[3] = {3, 1, 6}, s41[2] = {4, 1}, s6[1] = {6}, s06[2] = {0, 6};
    ty_tensor *x, *y;
    switch (layout) {
    case 0:
        *a = quarters(2, s46, dt, lo_a, hi_a, seed);
        *b = quarters(2, s46, dt, lo_b, hi_b, seed + 1);
        break;
    case 1:
        x = quarters(2, s46, dt, lo_a, hi_a, seed);
        *a = tu_noncontiguous(x);
        *b = quarters(2, s46, dt, lo_b, hi_b, seed + 1);
        ty_tensor_release(x);
        break;
    case 2:
        *a = quarters(2, s46, dt, lo_a, hi_a, seed);
        y = quarters(2, s46, dt, lo_b, hi_b, seed + 1);
        *b = tu_strided(y);
        ty_tensor_release(y);
        break;
    case 3:
        *a = quarters(3, s316, dt, lo_a, hi_a, seed);
        *b = quarters(2, s46, dt, lo_b, hi_b, seed + 1);
        break;
    case 4:
        *a = quarters(1, s6, dt, lo_a, hi_a, seed);
        *b = quarters(2, s41, dt, lo_b, hi_b, seed + 1);
        break;
    case 5:
        *a = quarters(2, s46, dt, lo_a, hi_a, seed);
        *b = quarters(0, NULL, dt, lo_b, hi_b, seed + 1);
        break;
    case 6:
        *a = quarters(0, NULL, dt, lo_a, hi_a, seed);
        *b = quarters(2, s46, dt, lo_b, hi_b, seed + 1);
        break;
    default:
        *a = quarters(2, s06, dt, lo_a, hi_a, seed);
        *b = quarters(1, s6, dt, lo_b, hi_b, seed + 1);
        break;
    }
}
#define NUM_LAYOUTS 8

START_TEST(test_binary_layouts_and_dtypes) {
    ty_dtype dts[5] = {TY_F32, TY_F64, TY_I64, TY_U8, TY_BF16};
    for (int c = 0; c < NUM_BINARY_CASES; c++) {
        const binary_case *bc = &binary_cases[c];
        for (int k = 0; k < 5; k++) {
            ty_dtype dt = dts[k];
            ty_dtype out = bc->kind == 2                             ? TY_BOOL
                           : bc->kind == 1 && !ty_dtype_is_float(dt) ? TY_F32
                                                                     : dt;
            for (int l = 0; l < NUM_LAYOUTS; l++) {
                ty_tensor *a, *b;
                make_pair(l, dt, bc, 100 * c + l, &a, &b);
                ty_tensor *r = ty_binary(bc->op, a, b);
                ck_assert_msg(r != NULL, "%s %s layout %d: %s", ty_binary_name(bc->op),
                              ty_dtype_name(dt), l, ty_last_error());
                ck_assert_int_eq(r->dtype, out);
                ck_assert(ty_is_contiguous(r));
                ty_tensor *want = ref_zip(a, b, bc->f, out);
                tu_assert_close(r, want, tol_for(out), tol_for(out));
                ty_tensor *objs[] = {a, b, r, want};
                release_all(objs, 4);
            }
        }
    }
}
END_TEST

START_TEST(test_binary_bool_inputs) {
    ty_tensor *a = vec(TY_BOOL, 4, (double[]){0, 0, 1, 1});
    ty_tensor *b = vec(TY_BOOL, 4, (double[]){0, 1, 0, 1});
    ty_tensor *add = ty_add(a, b), *mul = ty_mul(a, b), *mx = ty_maximum(a, b);
    ck_assert_int_eq(add->dtype, TY_BOOL);
    tu_assert_values(add, ((double[]){0, 1, 1, 1}), 4, 0);
    tu_assert_values(mul, ((double[]){0, 0, 0, 1}), 4, 0);
    tu_assert_values(mx, ((double[]){0, 1, 1, 1}), 4, 0);
    ty_tensor *lt = ty_lt(a, b), *dv = ty_div(a, b);
    tu_assert_values(lt, ((double[]){0, 1, 0, 0}), 4, 0);
    ck_assert_int_eq(dv->dtype, TY_F32);
    tu_assert_values(dv, ((double[]){NAN, 0, INFINITY, 1}), 4, 0);
    tu_assert_error(ty_sub(a, b) == NULL, "sub", "bool");
    tu_assert_error(ty_pow(a, b) == NULL, "pow", "bool");
    /* logical ops on other dtypes: nonzero and NaN are true */
    ty_tensor *f = vec(TY_F32, 4, (double[]){0, NAN, 2, -1});
    ty_tensor *i = vec(TY_I64, 4, (double[]){5, 0, 0, 3});
    ty_tensor *la = ty_logical_and(f, i), *lo = ty_logical_or(f, i), *lx = ty_logical_xor(f, i);
    ck_assert_int_eq(la->dtype, TY_BOOL);
    tu_assert_values(la, ((double[]){0, 0, 0, 1}), 4, 0);
    tu_assert_values(lo, ((double[]){1, 1, 1, 1}), 4, 0);
    tu_assert_values(lx, ((double[]){1, 1, 1, 0}), 4, 0);
    ty_tensor *objs[] = {a, b, add, mul, mx, lt, dv, f, i, la, lo, lx};
    release_all(objs, 12);
}
END_TEST

static ty_dtype add_dtype(ty_tensor *a, ty_tensor *b) {
    ty_tensor *r = ty_add(a, b);
    ck_assert_msg(r != NULL, "%s", ty_last_error());
    ty_dtype dt = r->dtype;
    ty_tensor_release(r);
    return dt;
}

START_TEST(test_promotion) {
    int64_t s3 = 3;
    ty_tensor *f32 = tu_arange(1, &s3, TY_F32), *f64 = tu_arange(1, &s3, TY_F64);
    ty_tensor *i64 = tu_arange(1, &s3, TY_I64), *u8 = tu_arange(1, &s3, TY_U8);
    ty_tensor *bl = tu_arange(1, &s3, TY_BOOL), *bf = tu_arange(1, &s3, TY_BF16);
    ty_tensor *f16 = tu_arange(1, &s3, TY_F16);
    ty_tensor *z64 = ty_scalar(1.5, TY_F64), *zi = ty_scalar(2, TY_I64),
              *zb = ty_scalar(1, TY_BOOL);
    ty_tensor *zf32 = ty_scalar(1, TY_F32);
    ck_assert_int_eq(add_dtype(i64, f32), TY_F32);
    ck_assert_int_eq(add_dtype(u8, i64), TY_I64);
    ck_assert_int_eq(add_dtype(bl, u8), TY_U8);
    ck_assert_int_eq(add_dtype(bl, bl), TY_BOOL);
    ck_assert_int_eq(add_dtype(f32, f64), TY_F64);
    ck_assert_int_eq(add_dtype(bf, bf), TY_BF16);
    ck_assert_int_eq(add_dtype(bf, f16), TY_F32);
    ck_assert_int_eq(add_dtype(bf, i64), TY_BF16);
    /* 0-d operands do not widen within a category; across categories the
     * 0-d tensor's dtype wins (PyTorch's rule) */
    ck_assert_int_eq(add_dtype(i64, z64), TY_F64);
    ck_assert_int_eq(add_dtype(z64, i64), TY_F64);
    ck_assert_int_eq(add_dtype(f32, z64), TY_F32);
    ck_assert_int_eq(add_dtype(bf, z64), TY_BF16);
    ck_assert_int_eq(add_dtype(u8, zi), TY_U8);
    ck_assert_int_eq(add_dtype(bl, zi), TY_I64);
    ck_assert_int_eq(add_dtype(i64, zb), TY_I64);
    ck_assert_int_eq(add_dtype(zi, z64), TY_F64); /* both 0-d: plain promotion */
    ck_assert_int_eq(add_dtype(zi, zf32), TY_F32);
    ck_assert_int_eq(ty_result_type(i64, z64), TY_F64);
    /* values of a promoted op */
    ty_tensor *r = ty_add(i64, z64);
    tu_assert_values(r, ((double[]){1.5, 2.5, 3.5}), 3, 0);
    /* true division */
    ty_tensor *seven = vec(TY_I64, 2, (double[]){7, -7});
    ty_tensor *two = vec(TY_I64, 2, (double[]){2, 2});
    ty_tensor *q = ty_div(seven, two);
    ck_assert_int_eq(q->dtype, TY_F32);
    tu_assert_values(q, ((double[]){3.5, -3.5}), 2, 0);
    ty_tensor *qb = ty_div(bf, bf);
    ck_assert_int_eq(qb->dtype, TY_BF16);
    /* comparisons give bool whatever the inputs */
    ty_tensor *c = ty_lt(u8, f64);
    ck_assert_int_eq(c->dtype, TY_BOOL);
    /* scalar rules */
    ty_tensor *s1 = ty_add_scalar(i64, 2), *s2 = ty_add_scalar(i64, 2.5),
              *s3b = ty_add_scalar(bl, 1);
    ty_tensor *s4 = ty_mul_scalar(u8, 2), *s5 = ty_add_scalar(f32, 1e300),
              *s6 = ty_div_scalar(i64, 2);
    ty_tensor *s7 = ty_add_scalar(bf, 0.5), *s8 = ty_mul_scalar(f64, 0.1);
    ck_assert_int_eq(s1->dtype, TY_I64);
    ck_assert_int_eq(s2->dtype, TY_F32);
    ck_assert_int_eq(s3b->dtype, TY_I64);
    ck_assert_int_eq(s4->dtype, TY_U8);
    ck_assert_int_eq(s5->dtype, TY_F32);
    ck_assert_int_eq(s6->dtype, TY_F32);
    ck_assert_int_eq(s7->dtype, TY_BF16);
    ck_assert_int_eq(s8->dtype, TY_F64);
    tu_assert_values(s1, ((double[]){2, 3, 4}), 3, 0);
    tu_assert_values(s2, ((double[]){2.5, 3.5, 4.5}), 3, 0);
    tu_assert_values(s3b, ((double[]){1, 2, 2}), 3, 0);
    tu_assert_values(s5, ((double[]){INFINITY, INFINITY, INFINITY}), 3, 0);
    tu_assert_values(s6, ((double[]){0, 0.5, 1}), 3, 0);
    tu_assert_values(s7, ((double[]){0.5, 1.5, 2.5}), 3, 0);
    tu_assert_values(s8, ((double[]){0, 0.1, 0.2}), 3, 1e-17);
    ck_assert_int_eq(ty_scalar_result_type(TY_U8, -1), TY_U8);
    ck_assert_int_eq(ty_scalar_result_type(TY_I64, NAN), TY_F32);
    ty_tensor *objs[] = {f32, f64, i64, u8, bl, bf, f16, z64, zi, zb, zf32, r, seven,
                         two, q,   qb,  c,  s1, s2, s3b, s4,  s5, s6, s7,   s8};
    release_all(objs, 25);
}
END_TEST

START_TEST(test_scalar_forms) {
    ty_tensor *x = vec(TY_F64, 4, (double[]){-2, 0.5, 1, 4});
    ty_tensor *r[14] = {ty_add_scalar(x, 1), ty_sub_scalar(x, 1),  ty_rsub_scalar(x, 1),
                        ty_mul_scalar(x, 3), ty_div_scalar(x, 2),  ty_rdiv_scalar(x, 2),
                        ty_pow_scalar(x, 2), ty_rpow_scalar(x, 2), ty_eq_scalar(x, 1),
                        ty_ne_scalar(x, 1),  ty_lt_scalar(x, 1),   ty_le_scalar(x, 1),
                        ty_gt_scalar(x, 1),  ty_ge_scalar(x, 1)};
    double want[14][4] = {
        {-1, 1.5, 2, 5},    {-3, -0.5, 0, 3}, {3, 0.5, 0, -3},  {-6, 1.5, 3, 12},
        {-1, 0.25, 0.5, 2}, {-1, 4, 2, 0.5},  {4, 0.25, 1, 16}, {0.25, sqrt(2), 2, 16},
        {0, 0, 1, 0},       {1, 1, 0, 1},     {1, 1, 0, 0},     {1, 1, 1, 0},
        {0, 0, 0, 1},       {0, 0, 1, 1}};
    for (int i = 0; i < 14; i++) {
        tu_assert_values(r[i], want[i], 4, 1e-15);
        ck_assert_int_eq(r[i]->dtype, i < 8 ? TY_F64 : TY_BOOL);
    }
    release_all(r, 14);
    /* pow with scalar exponents: x^2 on a strided view, fractional, integer */
    ty_tensor *m = tu_uniform(2, (int64_t[]){3, 5}, TY_F32, -2, 2, 4);
    ty_tensor *ms = tu_strided(m);
    ty_tensor *sq = ty_pow_scalar(ms, 2), *mm = ty_mul(m, m);
    tu_assert_close(sq, mm, 0, 0);
    ty_tensor *i = vec(TY_I64, 4, (double[]){-2, 0, 3, 10});
    ty_tensor *ip = ty_pow_scalar(i, 3), *ih = ty_pow_scalar(i, 0.5), *ri = ty_rpow_scalar(i, 2);
    ck_assert_int_eq(ip->dtype, TY_I64);
    tu_assert_values(ip, ((double[]){-8, 0, 27, 1000}), 4, 0);
    ck_assert_int_eq(ih->dtype, TY_F32);
    tu_assert_values(ih, ((double[]){NAN, 0, sqrt(3), sqrt(10)}), 4, 1e-6);
    tu_assert_values(ri, ((double[]){0, 1, 8, 1024}), 4, 0); /* 2^-2 truncates to 0 */
    tu_assert_error(ty_pow_scalar(i, -1) == NULL, "pow", "negative", "-1");
    /* comparisons with values an integer dtype cannot hold */
    ty_tensor *u = vec(TY_U8, 3, (double[]){0, 2, 255});
    ty_tensor *c1 = ty_lt_scalar(u, 300), *c2 = ty_eq_scalar(u, -1), *c3 = ty_gt_scalar(u, 1.5);
    ty_tensor *c4 = ty_ge_scalar(i, 2.5), *c5 = ty_eq_scalar(u, 255);
    tu_assert_values(c1, ((double[]){1, 1, 1}), 3, 0);
    tu_assert_values(c2, ((double[]){0, 0, 0}), 3, 0);
    tu_assert_values(c3, ((double[]){0, 1, 1}), 3, 0);
    tu_assert_values(c4, ((double[]){0, 0, 1, 1}), 4, 0);
    tu_assert_values(c5, ((double[]){0, 0, 1}), 3, 0);
    /* i64 wraps rather than overflowing (UBSan would object otherwise) */
    int64_t big[2] = {INT64_MAX, INT64_MIN};
    ty_tensor *bt = ty_from_buffer(big, 1, (int64_t[]){2}, TY_I64);
    ty_tensor *w = ty_add_scalar(bt, 1), *wm = ty_mul_scalar(bt, 2);
    const int64_t *pw = ty_data(w), *pm = ty_data(wm);
    ck_assert(pw[0] == INT64_MIN && pw[1] == INT64_MIN + 1);
    ck_assert(pm[0] == -2 && pm[1] == 0);
    ty_tensor *objs[] = {x, m, ms, sq, mm, i, ip, ih, ri, u, c1, c2, c3, c4, c5, bt, w, wm};
    release_all(objs, 18);
}
END_TEST

START_TEST(test_binary_nan_inf) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int k = 0; k < 2; k++) {
        ty_tensor *a = vec(dts[k], 5, (double[]){NAN, 1, INFINITY, -INFINITY, 0});
        ty_tensor *b = vec(dts[k], 5, (double[]){1, NAN, INFINITY, 2, 0});
        ty_tensor *add = ty_add(a, b), *mx = ty_maximum(a, b), *mn = ty_minimum(a, b);
        ty_tensor *mxr = ty_maximum(b, a), *dv = ty_div(a, b), *sb = ty_sub(a, b);
        ty_tensor *eq = ty_eq(a, b), *ne = ty_ne(a, b), *le = ty_le(a, b);
        tu_assert_values(add, ((double[]){NAN, NAN, INFINITY, -INFINITY, 0}), 5, 0);
        tu_assert_values(mx, ((double[]){NAN, NAN, INFINITY, 2, 0}), 5, 0);
        tu_assert_values(mxr, ((double[]){NAN, NAN, INFINITY, 2, 0}), 5, 0);
        tu_assert_values(mn, ((double[]){NAN, NAN, INFINITY, -INFINITY, 0}), 5, 0);
        tu_assert_values(dv, ((double[]){NAN, NAN, NAN, -INFINITY, NAN}), 5, 0);
        tu_assert_values(sb, ((double[]){NAN, NAN, NAN, -INFINITY, 0}), 5, 0);
        tu_assert_values(eq, ((double[]){0, 0, 1, 0, 1}), 5, 0);
        tu_assert_values(ne, ((double[]){1, 1, 0, 1, 0}), 5, 0);
        tu_assert_values(le, ((double[]){0, 0, 1, 1, 1}), 5, 0);
        ty_tensor *objs[] = {a, b, add, mx, mn, mxr, dv, sb, eq, ne, le};
        release_all(objs, 11);
    }
}
END_TEST

START_TEST(test_binary_large_parallel) {
    int64_t shape[2] = {300, 1031};
    ty_tensor *a = tu_randn(2, shape, TY_F32, 1), *b = tu_randn(2, shape, TY_F32, 2);
    ty_tensor *bt = tu_noncontiguous(b);
    ty_tensor *row = tu_randn(1, &shape[1], TY_F32, 3);
    ty_tensor *r1 = ty_add(a, b), *r2 = ty_mul(a, bt), *r3 = ty_sub(a, row);
    ty_tensor *w1 = ref_zip(a, b, r_add, TY_F32), *w2 = ref_zip(a, b, r_mul, TY_F32);
    ty_tensor *w3 = ref_zip(a, row, r_sub, TY_F32);
    tu_assert_close(r1, w1, 0, 0);
    tu_assert_close(r2, w2, 0, 0);
    tu_assert_close(r3, w3, 0, 0);
    ck_assert_int_eq(ty_add_(a, b), 0);
    tu_assert_close(a, w1, 0, 0);
    ty_tensor *objs[] = {a, b, bt, row, r1, r2, r3, w1, w2, w3};
    release_all(objs, 10);
}
END_TEST

START_TEST(test_binary_empty_and_0d) {
    ty_tensor *z = ty_empty(2, (int64_t[]){0, 3}, TY_F32, ty_cpu());
    ty_tensor *v = vec(TY_F32, 3, (double[]){1, 2, 3});
    ty_tensor *r = ty_add(z, v);
    ck_assert_int_eq(r->ndim, 2);
    ck_assert_int_eq(r->shape[0], 0);
    ck_assert_int_eq(r->shape[1], 3);
    ck_assert_int_eq(ty_add_(z, v), 0);
    ty_tensor *s1 = ty_scalar(2, TY_F32), *s2 = ty_scalar(5, TY_F32);
    ty_tensor *p = ty_pow(s1, s2);
    ck_assert_int_eq(p->ndim, 0);
    ck_assert_double_eq(ty_get_flat(p, 0), 32);
    ck_assert_str_eq(ty_binary_name(TY_BINARY_LOGICAL_XOR), "logical_xor");
    ck_assert(ty_binary_name(TY_BINARY_NUM) == NULL);
    tu_assert_error(ty_binary((ty_binary_op)77, s1, s2) == NULL, "binary", "77");
    ty_tensor *objs[] = {z, v, r, s1, s2, p};
    release_all(objs, 6);
}
END_TEST

/* ---- in place ---- */

START_TEST(test_binary_inplace) {
    ty_tensor *a = quarters(2, (int64_t[]){3, 4}, TY_F32, -3, 3, 1);
    ty_tensor *b = quarters(1, (int64_t[]){4}, TY_F32, -3, 3, 2);
    ty_tensor *want = ref_zip(a, b, r_add, TY_F32);
    void *data = ty_data(a);
    uint64_t v = a->storage->version;
    ck_assert_int_eq(ty_add_(a, b), 0);
    ck_assert(ty_data(a) == data);
    ck_assert_uint_eq(a->storage->version, v + 1);
    tu_assert_close(a, want, 0, 0);
    ty_tensor_release(want);
    /* into a transposed view: the base sees the writes */
    ty_tensor *at = ty_transpose(a, 0, 1); /* (4,3) */
    ty_tensor *c = quarters(2, (int64_t[]){4, 3}, TY_F32, -3, 3, 3);
    want = ref_zip(at, c, r_mul, TY_F32);
    ck_assert_int_eq(ty_mul_(at, c), 0);
    tu_assert_close(at, want, 0, 0);
    ck_assert_double_eq(ty_get_flat(a, 1), ty_get_flat(want, 3)); /* a[0][1] = at[1][0] */
    ty_tensor_release(want);
    /* operands that alias the target: itself, and its own transpose */
    ty_tensor *sq = quarters(2, (int64_t[]){4, 4}, TY_F64, -3, 3, 4);
    ty_tensor *sqt = ty_transpose(sq, 0, 1);
    want = ref_zip(sq, sqt, r_sub, TY_F64);
    ck_assert_int_eq(ty_sub_(sq, sqt), 0);
    tu_assert_close(sq, want, 0, 0);
    ty_tensor_release(want);
    want = ref_zip(sq, sq, r_mul, TY_F64);
    ck_assert_int_eq(ty_mul_(sq, sq), 0);
    tu_assert_close(sq, want, 0, 0);
    ty_tensor_release(want);
    ty_tensor *first = ty_select(sq, 0, 0); /* a row of the target, broadcast over it */
    want = ref_zip(sq, first, r_add, TY_F64);
    ck_assert_int_eq(ty_add_(sq, first), 0);
    tu_assert_close(sq, want, 0, 0);
    ty_tensor_release(want);
    /* into a strided view, with a transposed operand */
    ty_tensor *base = quarters(2, (int64_t[]){3, 3}, TY_F64, -3, 3, 5);
    ty_tensor *tgt = tu_strided(base), *oth = tu_noncontiguous(base);
    want = ref_zip(base, base, r_max, TY_F64);
    ck_assert_int_eq(ty_binary_(TY_BINARY_MAXIMUM, tgt, oth), 0);
    tu_assert_close(tgt, want, 0, 0);
    ty_tensor_release(want);
    want = ref_zip(tgt, oth, r_sub, TY_F64);
    ck_assert_int_eq(ty_sub_(tgt, oth), 0);
    tu_assert_close(tgt, want, 0, 0);
    ty_tensor_release(want);
    ty_tensor *rest[] = {base, tgt, oth};
    release_all(rest, 3);
    /* mixed dtypes that fit: f64 into f32, i64 into u8, f32 into bf16, bool into i64 */
    ty_tensor *f = vec(TY_F32, 3, (double[]){1, 2, 3});
    ty_tensor *d = vec(TY_F64, 3, (double[]){0.5, 0.25, 0.125});
    ck_assert_int_eq(ty_div_(f, d), 0);
    ck_assert_int_eq(f->dtype, TY_F32);
    tu_assert_values(f, ((double[]){2, 8, 24}), 3, 0);
    ty_tensor *u = vec(TY_U8, 3, (double[]){250, 1, 2});
    ty_tensor *i = vec(TY_I64, 3, (double[]){10, -2, 3});
    ck_assert_int_eq(ty_add_(u, i), 0);
    tu_assert_values(u, ((double[]){4, 255, 5}), 3, 0);
    ty_tensor *h = vec(TY_BF16, 3, (double[]){1, 2, 3});
    v = h->storage->version;
    ty_tensor *ex = vec(TY_F32, 3, (double[]){2, 3, 0.5});
    ck_assert_int_eq(ty_pow_(h, ex), 0);
    ck_assert_uint_eq(h->storage->version, v + 1);
    ck_assert_int_eq(h->dtype, TY_BF16);
    tu_assert_values(h, ((double[]){1, 8, 1.734375}), 3, 0); /* sqrt(3) in bf16 */
    ty_tensor *bl = vec(TY_BOOL, 3, (double[]){1, 0, 1});
    ck_assert_int_eq(ty_add_(i, bl), 0);
    tu_assert_values(i, ((double[]){11, -2, 4}), 3, 0);
    /* scalar in-place forms */
    ck_assert_int_eq(ty_add_scalar_(i, 2), 0);
    ck_assert_int_eq(ty_mul_scalar_(i, -1), 0);
    ck_assert_int_eq(ty_sub_scalar_(i, 1), 0);
    tu_assert_values(i, ((double[]){-14, -1, -7}), 3, 0);
    ck_assert_int_eq(ty_pow_scalar_(f, 2), 0);
    ck_assert_int_eq(ty_div_scalar_(f, 4), 0);
    tu_assert_values(f, ((double[]){1, 16, 144}), 3, 0);
    ck_assert_int_eq(ty_binary_(TY_BINARY_MAXIMUM, f, d), 0);
    tu_assert_values(f, ((double[]){1, 16, 144}), 3, 0);
    ck_assert_int_eq(ty_binary_scalar_(TY_BINARY_LT, f, 10), 0); /* bool result into f32 */
    tu_assert_values(f, ((double[]){1, 0, 0}), 3, 0);
    ty_tensor *objs[] = {a, b, at, c, sq, sqt, first, f, d, u, i, h, ex, bl};
    release_all(objs, 14);
}
END_TEST

/* Failed in-place ops name the problem and change nothing. */
START_TEST(test_inplace_errors) {
    ty_tensor *a = vec(TY_F32, 3, (double[]){1, 2, 3});
    ty_tensor *b = quarters(2, (int64_t[]){2, 3}, TY_F32, -3, 3, 9);
    ty_tensor *i = vec(TY_I64, 3, (double[]){1, 2, 3});
    ty_tensor *bl = vec(TY_BOOL, 3, (double[]){1, 0, 1});
    ty_tensor *z64 = ty_scalar(0.5, TY_F64);
    uint64_t va = a->storage->version, vi = i->storage->version, vb = bl->storage->version;
    tu_assert_error(ty_add_(a, b) < 0, "add_", "(3)", "(2,3)");
    tu_assert_error(ty_add_(i, a) < 0, "add_", "f32", "i64");
    tu_assert_error(ty_div_(i, i) < 0, "div_", "f32", "i64");
    tu_assert_error(ty_add_(i, z64) < 0, "add_", "f64", "i64");
    tu_assert_error(ty_add_scalar_(i, 0.5) < 0, "add_", "f32", "i64");
    tu_assert_error(ty_add_(bl, i) < 0, "add_", "i64", "bool");
    ty_tensor *empty = ty_empty(1, (int64_t[]){0}, TY_F32, ty_cpu());
    tu_assert_error(ty_sub_(a, empty) < 0, "sub_", "(0)", "(3)");
    tu_assert_error(ty_exp_(i) < 0, "exp_", "f32", "i64");
    tu_assert_error(ty_pow_scalar_(i, -2) < 0, "pow_", "-2");
    ty_tensor *e = ty_expand(a, 2, (int64_t[]){2, 3});
    tu_assert_error(ty_add_(e, b) < 0, "add_", "broadcast", "(2,3)");
    ck_assert_uint_eq(a->storage->version, va);
    ck_assert_uint_eq(i->storage->version, vi);
    ck_assert_uint_eq(bl->storage->version, vb);
    tu_assert_values(a, ((double[]){1, 2, 3}), 3, 0);
    tu_assert_values(i, ((double[]){1, 2, 3}), 3, 0);
    tu_assert_values(bl, ((double[]){1, 0, 1}), 3, 0);
    ty_tensor *objs[] = {a, b, i, bl, z64, e, empty};
    release_all(objs, 7);
}
END_TEST

START_TEST(test_binary_errors) {
    ty_tensor *a = vec(TY_F32, 3, (double[]){1, 2, 3});
    ty_tensor *b = vec(TY_F32, 4, (double[]){1, 2, 3, 4});
    ty_tensor *m = quarters(2, (int64_t[]){2, 3}, TY_F32, 0, 1, 1);
    ty_tensor *n = quarters(2, (int64_t[]){3, 2}, TY_F32, 0, 1, 2);
    tu_assert_error(ty_add(a, b) == NULL, "add", "(3)", "(4)");
    tu_assert_error(ty_lt(m, n) == NULL, "lt", "(2,3)", "(3,2)");
    tu_assert_error(ty_logical_and(m, n) == NULL, "logical_and", "(2,3)", "(3,2)");
    tu_assert_error(ty_where(a, a, a) == NULL, "where", "condition", "f32");
    ty_tensor *c = vec(TY_BOOL, 2, (double[]){1, 0});
    tu_assert_error(ty_where(c, a, a) == NULL, "where", "(2)", "(3)");
    ty_tensor *i = vec(TY_I64, 3, (double[]){1, 2, 3});
    tu_assert_error(ty_lerp(i, i, 0.5) == NULL, "lerp", "i64");
    tu_assert_error(ty_addcmul_(i, i, i, 1) < 0, "addcmul_", "i64");
    tu_assert_error(ty_addcmul_(a, b, a, 1) < 0, "addcmul_", "(3)", "(4)");
    ty_tensor *objs[] = {a, b, m, n, c, i};
    release_all(objs, 6);
}
END_TEST

/* ---- where ---- */

START_TEST(test_where) {
    ty_tensor *c = vec(TY_BOOL, 3, (double[]){1, 0, 1});
    ty_tensor *c2 = ty_reshape(c, 2, (int64_t[]){3, 1});
    ty_tensor *a = vec(TY_I64, 4, (double[]){1, 2, 3, 4});
    ty_tensor *b = ty_scalar(-1.5, TY_F64);
    ty_tensor *w = ty_where(c2, a, b); /* (3,1), (4), () -> (3,4); i64 with 0-d f64 -> f64 */
    ck_assert_int_eq(w->dtype, TY_F64);
    ck_assert_int_eq(w->ndim, 2);
    tu_assert_values(w, ((double[]){1, 2, 3, 4, -1.5, -1.5, -1.5, -1.5, 1, 2, 3, 4}), 12, 0);
    /* u8 condition with values > 1, strided and transposed operands, each dtype */
    ty_dtype dts[6] = {TY_F32, TY_F64, TY_I64, TY_U8, TY_BOOL, TY_BF16};
    ty_tensor *cu = tu_uniform(2, (int64_t[]){4, 5}, TY_U8, 0, 3, 1);
    for (int k = 0; k < 6; k++) {
        ty_tensor *x = tu_uniform(2, (int64_t[]){4, 5}, dts[k], 0, 9, 2);
        ty_tensor *y = tu_uniform(2, (int64_t[]){4, 5}, dts[k], 0, 9, 3);
        ty_tensor *xs = tu_strided(x), *yt = tu_noncontiguous(y);
        ty_tensor *r = ty_where(cu, xs, yt);
        ck_assert_int_eq(r->dtype, dts[k]);
        for (int64_t e = 0; e < 20; e++)
            ck_assert_double_eq(ty_get_flat(r, e),
                                ty_get_flat(cu, e) != 0 ? ty_get_flat(x, e) : ty_get_flat(y, e));
        ty_tensor *objs[] = {x, y, xs, yt, r};
        release_all(objs, 5);
    }
    /* NaN and inf are selected like any value; empty shapes work */
    ty_tensor *nv = vec(TY_F32, 3, (double[]){NAN, INFINITY, 1});
    ty_tensor *zero = ty_scalar(0, TY_F32);
    ty_tensor *wn = ty_where(c, nv, zero);
    tu_assert_values(wn, ((double[]){NAN, 0, 1}), 3, 0);
    ty_tensor *wn2 = ty_where(c, zero, nv);
    tu_assert_values(wn2, ((double[]){0, INFINITY, 0}), 3, 0);
    ty_tensor *ez = ty_empty(2, (int64_t[]){0, 3}, TY_BOOL, ty_cpu());
    ty_tensor *we = ty_where(ez, nv, nv);
    ck_assert_int_eq(ty_numel(we), 0);
    ty_tensor *objs[] = {c, c2, a, b, w, cu, nv, zero, wn, wn2, ez, we};
    release_all(objs, 12);
}
END_TEST

/* ---- fused optimizer kernels ---- */

static double g_value;
static double r_lerp_w(double x, double y) {
    return fabs(g_value) < 0.5 ? x + g_value * (y - x) : y - (y - x) * (1 - g_value);
}

START_TEST(test_fused_kernels) {
    ty_dtype dts[3] = {TY_F32, TY_F64, TY_BF16};
    for (int k = 0; k < 3; k++) {
        ty_dtype dt = dts[k];
        ty_tensor *s = quarters(2, (int64_t[]){3, 4}, dt, -2, 2, 1);
        ty_tensor *t1 = quarters(2, (int64_t[]){3, 4}, dt, -2, 2, 2);
        ty_tensor *t2 = quarters(1, (int64_t[]){4}, dt, 0.5, 2, 3);
        ty_tensor *t1n = tu_noncontiguous(t1);
        /* expected, from doubles */
        double want[12], wantd[12];
        for (int e = 0; e < 12; e++) {
            double x = ty_get_flat(s, e), y = ty_get_flat(t1, e), z = ty_get_flat(t2, e % 4);
            want[e] = x + 0.5 * y * z;
            wantd[e] = want[e] + -2.0 * y / z;
        }
        uint64_t v = s->storage->version;
        ck_assert_int_eq(ty_addcmul_(s, t1n, t2, 0.5), 0);
        ck_assert_uint_eq(s->storage->version, v + 1);
        ck_assert_int_eq(s->dtype, dt);
        tu_assert_values(s, want, 12, dt == TY_BF16 ? 0.05 : 1e-6);
        if (dt != TY_BF16) {
            for (int e = 0; e < 12; e++)
                wantd[e] = ty_get_flat(s, e) + -2.0 * ty_get_flat(t1, e) / ty_get_flat(t2, e % 4);
            ck_assert_int_eq(ty_addcdiv_(s, t1, t2, -2.0), 0);
            tu_assert_values(s, wantd, 12, 1e-5);
        }
        /* lerp, out of place with broadcasting and in place; exact at 0 and 1 */
        double ws[4] = {0, 0.25, 0.75, 1};
        for (int j = 0; j < 4; j++) {
            g_value = ws[j];
            ty_tensor *l = ty_lerp(t1n, t2, ws[j]);
            ck_assert_int_eq(l->dtype, dt);
            ty_tensor *wl = ref_zip(t1, t2, r_lerp_w, dt);
            tu_assert_close(l, wl, tol_for(dt), tol_for(dt));
            ty_tensor *ref0 = ws[j] == 0 ? ty_expand(t1, 2, (int64_t[]){3, 4}) : NULL;
            if (ref0) tu_assert_close(l, ref0, 0, 0);
            ty_tensor *c = ty_clone(t1);
            ck_assert_int_eq(ty_lerp_(c, t2, ws[j]), 0);
            tu_assert_close(c, wl, tol_for(dt), tol_for(dt));
            if (ws[j] == 1)
                for (int e = 0; e < 12; e++)
                    ck_assert_double_eq(ty_get_flat(c, e), ty_get_flat(t2, e % 4));
            ty_tensor *objs[] = {l, wl, ref0, c};
            release_all(objs, 4);
        }
        ty_tensor *objs[] = {s, t1, t2, t1n};
        release_all(objs, 4);
    }
    /* operands aliasing the target: addcmul_(x, x, x) is x + v x^2 */
    ty_tensor *x = vec(TY_F64, 3, (double[]){1, 2, 3});
    ty_tensor *xr = ty_slice(x, 0, 0, 3, 1);
    ck_assert_int_eq(ty_addcmul_(x, xr, x, 1), 0);
    tu_assert_values(x, ((double[]){2, 6, 12}), 3, 0);
    ty_tensor_release(x);
    ty_tensor_release(xr);
}
END_TEST

/* axpb's large-output path (streaming stores) on a misaligned input, with
 * a length that leaves a tail: every element must match a*x + b. */
START_TEST(test_axpb_large_streaming_path) {
    int64_t n = (1 << 17) + 37, big = n + 1;
    ty_tensor *base = tu_uniform(1, &big, TY_F32, -2, 2, 11);
    ty_tensor *x = ty_slice(base, 0, 1, big, 1); /* starts 4 bytes in */
    ty_tensor *y = ty_axpb(x, 1.5, -0.25);
    ck_assert_ptr_nonnull(y);
    const float *xv = ty_data(x), *yv = ty_data(y);
    for (int64_t i = 0; i < n; i++) ck_assert_float_eq(yv[i], xv[i] * 1.5f + -0.25f);
    ty_tensor_release(y);
    ty_tensor_release(x);
    ty_tensor_release(base);
}
END_TEST

Suite *elementwise_suite(void) {
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_unary_float_layouts);
    tcase_add_test(tc, test_unary_special_values);
    tcase_add_test(tc, test_round_half_to_even);
    tcase_add_test(tc, test_unary_integer_and_bool);
    tcase_add_test(tc, test_clamp);
    tcase_add_test(tc, test_axpb_and_large);
    tcase_add_test(tc, test_unary_empty_and_scalar);
    tcase_add_test(tc, test_logical_not);
    tcase_add_test(tc, test_binary_layouts_and_dtypes);
    tcase_add_test(tc, test_binary_bool_inputs);
    tcase_add_test(tc, test_promotion);
    tcase_add_test(tc, test_scalar_forms);
    tcase_add_test(tc, test_binary_nan_inf);
    tcase_add_test(tc, test_binary_large_parallel);
    tcase_add_test(tc, test_binary_empty_and_0d);
    tcase_add_test(tc, test_binary_inplace);
    tcase_add_test(tc, test_inplace_errors);
    tcase_add_test(tc, test_binary_errors);
    tcase_add_test(tc, test_where);
    tcase_add_test(tc, test_fused_kernels);
    tcase_add_test(tc, test_axpb_large_streaming_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(elementwise_suite());
}
