/* Reductions and scans: every op against a naive reference loop over every
 * element (read with ty_get_flat), on contiguous, transposed, strided and
 * broadcast inputs, for several dim sets, keepdim both ways and each dtype
 * an op accepts; then the edge cases (empty, 0-d, NaN and inf, exact
 * integers, large mean), the chunked paths of long reductions, thread-count
 * independence and the error messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- the reference ---- */

typedef enum {
    R_SUM,
    R_MEAN,
    R_VAR,
    R_STD,
    R_PROD,
    R_LSE,
    R_NORM,
    R_ALL,
    R_ANY,
    R_AMAX,
    R_AMIN,
    R_NUM_OPS
} rop;

static const char *rop_name[R_NUM_OPS] = {"sum",  "mean", "var", "std",  "prod", "logsumexp",
                                          "norm", "all",  "any", "amax", "amin"};

static bool float_only(rop op) {
    return op == R_MEAN || op == R_VAR || op == R_STD || op == R_LSE || op == R_NORM;
}

static ty_tensor *call_op(rop op, ty_tensor *x, int ndims, const int *dims, bool keepdim,
                          double param) {
    switch (op) {
    case R_SUM:
        return ty_sum(x, ndims, dims, keepdim);
    case R_MEAN:
        return ty_mean(x, ndims, dims, keepdim);
    case R_VAR:
        return ty_var(x, ndims, dims, param, keepdim);
    case R_STD:
        return ty_std(x, ndims, dims, param, keepdim);
    case R_PROD:
        return ty_prod(x, ndims, dims, keepdim);
    case R_LSE:
        return ty_logsumexp(x, ndims, dims, keepdim);
    case R_NORM:
        return ty_norm(x, param, ndims, dims, keepdim);
    case R_ALL:
        return ty_all(x, ndims, dims, keepdim);
    case R_ANY:
        return ty_any(x, ndims, dims, keepdim);
    case R_AMAX:
        return ty_amax(x, ndims, dims, keepdim);
    default:
        return ty_amin(x, ndims, dims, keepdim);
    }
}

static ty_dtype result_dtype(rop op, ty_dtype dt) {
    if ((op == R_SUM || op == R_PROD) && ty_dtype_is_integral(dt)) return TY_I64;
    if (op == R_ALL || op == R_ANY) return TY_BOOL;
    return dt;
}

/* The values of x grouped by output: vals[o * R + k] is the k-th reduced
 * element (row-major over the reduced dims) of output o. Fills the output
 * shape. The caller frees the result. */
static double *gather(ty_tensor *x, int ndims, const int *dims, bool keepdim, int64_t *nout_out,
                      int64_t *R_out, int *out_nd, int64_t *out_shape) {
    bool red[TY_MAX_DIMS] = {false};
    int nd = x->ndim;
    for (int d = 0; d < nd; d++) red[d] = ndims == 0;
    for (int k = 0; k < ndims && nd > 0; k++) red[(dims[k] + nd) % nd] = true;
    int64_t nout = 1, R = 1;
    *out_nd = 0;
    for (int d = 0; d < nd; d++) {
        if (red[d]) {
            R *= x->shape[d];
            if (keepdim) out_shape[(*out_nd)++] = 1;
        } else {
            nout *= x->shape[d];
            out_shape[(*out_nd)++] = x->shape[d];
        }
    }
    double *vals = malloc(sizeof(double) * (size_t)(nout * R + 1));
    int64_t *count = calloc((size_t)nout + 1, sizeof(int64_t));
    int64_t n = ty_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t idx[TY_MAX_DIMS], rem = i, o = 0;
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = rem % x->shape[d];
            rem /= x->shape[d];
        }
        for (int d = 0; d < nd; d++)
            if (!red[d]) o = o * x->shape[d] + idx[d];
        vals[o * R + count[o]++] = ty_get_flat(x, i);
    }
    free(count);
    *nout_out = nout;
    *R_out = R;
    return vals;
}

static double ref_apply(rop op, const double *v, int64_t n, double param) {
    double a = 0, m = 0;
    bool nan = false;
    for (int64_t k = 0; k < n; k++) nan |= isnan(v[k]);
    switch (op) {
    case R_SUM:
        for (int64_t k = 0; k < n; k++) a += v[k];
        return a;
    case R_MEAN:
        for (int64_t k = 0; k < n; k++) a += v[k];
        return a / (double)n;
    case R_VAR:
    case R_STD:
        for (int64_t k = 0; k < n; k++) m += v[k];
        m /= (double)n;
        for (int64_t k = 0; k < n; k++) a += (v[k] - m) * (v[k] - m);
        a /= fmax(0.0, (double)n - param);
        return op == R_VAR ? a : sqrt(a);
    case R_PROD:
        a = 1;
        for (int64_t k = 0; k < n; k++) a *= v[k];
        return a;
    case R_LSE:
        for (int64_t k = 0; k < n; k++) a += exp(v[k]);
        return log(a);
    case R_NORM:
        if (nan) return NAN;
        if (isinf(param)) {
            a = param > 0 ? 0 : INFINITY;
            for (int64_t k = 0; k < n; k++)
                a = param > 0 ? fmax(a, fabs(v[k])) : fmin(a, fabs(v[k]));
            return a;
        }
        for (int64_t k = 0; k < n; k++) a += param == 0 ? (v[k] != 0) : pow(fabs(v[k]), param);
        return param == 0 ? a : pow(a, 1 / param);
    case R_ALL:
        for (int64_t k = 0; k < n; k++)
            if (v[k] == 0) return 0;
        return 1;
    case R_ANY:
        for (int64_t k = 0; k < n; k++)
            if (v[k] != 0) return 1;
        return 0;
    case R_AMAX:
    case R_AMIN:
        if (nan) return NAN;
        a = v[0];
        for (int64_t k = 1; k < n; k++) a = op == R_AMAX ? fmax(a, v[k]) : fmin(a, v[k]);
        return a;
    default:
        return NAN;
    }
}

static ty_tensor *ref_reduce(rop op, ty_tensor *x, int ndims, const int *dims, bool keepdim,
                             double param) {
    int64_t nout, R, shape[TY_MAX_DIMS];
    int nd;
    double *vals = gather(x, ndims, dims, keepdim, &nout, &R, &nd, shape);
    double *res = malloc(sizeof(double) * (size_t)(nout + 1));
    for (int64_t o = 0; o < nout; o++) res[o] = ref_apply(op, vals + o * R, R, param);
    ty_tensor *e = ty_from_buffer(res, nd, shape, TY_F64);
    free(vals);
    free(res);
    return e;
}

/* |a - e| <= tol (1 + |e|), NaN equal to NaN, infinities exact. */
static bool close_to(double a, double e, double tol) {
    if (isnan(a) || isnan(e)) return isnan(a) && isnan(e);
    if (isinf(a) || isinf(e)) return a == e;
    return fabs(a - e) <= tol * (1 + fabs(e));
}

static void expect_close(const ty_tensor *got, const ty_tensor *exp, double tol, const char *what) {
    char sg[128], se[128];
    ck_assert_msg(got != NULL, "%s: failed: %s", what, ty_last_error());
    bool same = got->ndim == exp->ndim;
    for (int d = 0; same && d < got->ndim; d++) same = got->shape[d] == exp->shape[d];
    ck_assert_msg(same, "%s: shape %s, expected %s", what, ty_shape_str(got, sg, sizeof sg),
                  ty_shape_str(exp, se, sizeof se));
    for (int64_t i = 0; i < ty_numel(exp); i++) {
        double a = ty_get_flat(got, i), e = ty_get_flat(exp, i);
        ck_assert_msg(close_to(a, e, tol), "%s: element %lld is %.10g, expected %.10g", what,
                      (long long)i, a, e);
    }
}

/* ---- inputs ---- */

/* Random values of dtype dt: normal floats, small integers (-1..2, so that
 * products stay exact and ties are common), or 0/1 booleans. */
static ty_tensor *make_input(ty_dtype dt, int nd, const int64_t *shape, uint64_t seed) {
    if (ty_dtype_is_float(dt)) return tu_randn(nd, shape, dt, seed);
    if (dt == TY_BOOL) {
        ty_tensor *u = tu_uniform(nd, shape, TY_U8, 0, 2, seed);
        ty_tensor *b = ty_cast(u, TY_BOOL);
        ty_tensor_release(u);
        return b;
    }
    return tu_uniform(nd, shape, dt, dt == TY_U8 ? 0 : -1.99, 3, seed);
}

/* The same kind of data in four layouts: contiguous, transposed in memory
 * (ndim >= 2), every other element of a bigger buffer, and broadcast from
 * one slice along dim 0 (stride 0). Returns how many it made. */
static int make_variants(ty_tensor *base, ty_tensor **v, const char **names) {
    int n = 0;
    names[n] = "contiguous";
    v[n++] = ty_tensor_retain(base);
    if (base->ndim >= 2) {
        names[n] = "transposed";
        v[n++] = tu_noncontiguous(base);
    }
    if (base->ndim >= 1) {
        names[n] = "strided";
        v[n++] = tu_strided(base);
        ty_tensor *one = ty_slice(base, 0, 0, 1, 1);
        names[n] = "expanded";
        v[n++] = ty_expand(one, base->ndim, base->shape);
        ck_assert_int_eq(v[n - 1]->strides[0], 0);
        ty_tensor_release(one);
    }
    return n;
}

typedef struct {
    int n;
    int dims[3];
} dimset;

static const dimset dims3[] = {{0, {0}},    {1, {0}},      {1, {1}},      {1, {2}},
                               {1, {-1}},   {2, {0, 1}},   {2, {1, 2}},   {2, {0, 2}},
                               {2, {2, 0}}, {2, {-1, -3}}, {3, {0, 1, 2}}};
static const dimset dims2[] = {{0, {0}}, {1, {0}}, {1, {1}}, {1, {-2}}, {2, {1, 0}}};
static const dimset dims1[] = {{0, {0}}, {1, {0}}, {1, {-1}}};
static const dimset dims0[] = {{0, {0}}, {1, {0}}, {1, {-1}}};

static double tolerance(ty_dtype dt) {
    switch (dt) {
    case TY_F64:
        return 1e-12;
    case TY_F32:
        return 2e-6;
    case TY_BF16:
    case TY_F16:
        return 1e-2;
    default:
        return 0;
    }
}

/* Runs op over every layout, dim set and keepdim of one shape, against the
 * reference. Returns the number of comparisons. */
static int check_op_all_layouts(rop op, ty_dtype dt, int nd, const int64_t *shape, double param) {
    const dimset *sets = nd == 3 ? dims3 : nd == 2 ? dims2 : nd == 1 ? dims1 : dims0;
    int nsets = nd == 3   ? (int)(sizeof dims3 / sizeof *dims3)
                : nd == 2 ? (int)(sizeof dims2 / sizeof *dims2)
                          : 3;
    ty_tensor *base = make_input(dt, nd, shape, 11 + (uint64_t)op);
    ty_tensor *v[4];
    const char *names[4];
    int nv = make_variants(base, v, names), checks = 0;
    for (int k = 0; k < nv; k++)
        for (int s = 0; s < nsets; s++)
            for (int keep = 0; keep < 2; keep++) {
                char what[256];
                snprintf(what, sizeof what, "%s(p %g) %s %s dims#%d keepdim %d", rop_name[op],
                         param, ty_dtype_name(dt), names[k], s, keep);
                ty_tensor *got = call_op(op, v[k], sets[s].n, sets[s].dims, keep, param);
                ck_assert_msg(got != NULL, "%s: %s", what, ty_last_error());
                ck_assert_msg(got->dtype == result_dtype(op, dt), "%s: dtype %s", what,
                              ty_dtype_name(got->dtype));
                ck_assert(ty_is_contiguous(got));
                ty_tensor *exp = ref_reduce(op, v[k], sets[s].n, sets[s].dims, keep, param);
                expect_close(got, exp, tolerance(dt), what);
                ty_tensor_release(got);
                ty_tensor_release(exp);
                checks++;
            }
    for (int k = 0; k < nv; k++) ty_tensor_release(v[k]);
    ty_tensor_release(base);
    return checks;
}

static const int64_t shape3[] = {3, 4, 5}, shape2[] = {4, 5}, shape1[] = {7};

static int check_op_all_shapes(rop op, ty_dtype dt, double param) {
    return check_op_all_layouts(op, dt, 3, shape3, param) +
           check_op_all_layouts(op, dt, 2, shape2, param) +
           check_op_all_layouts(op, dt, 1, shape1, param) +
           check_op_all_layouts(op, dt, 0, NULL, param);
}

/* ---- the matrix: op x dtype x layout x dims x keepdim ---- */

static const ty_dtype all_dtypes[] = {TY_F32, TY_F64, TY_I64, TY_U8, TY_BOOL, TY_BF16};
static const ty_dtype float_dtypes[] = {TY_F32, TY_F64, TY_BF16};

START_TEST(test_sum_prod_all_any_amax_amin) {
    rop ops[] = {R_SUM, R_PROD, R_ALL, R_ANY, R_AMAX, R_AMIN};
    int checks = 0;
    for (int i = 0; i < 6; i++)
        for (int d = 0; d < 6; d++) checks += check_op_all_shapes(ops[i], all_dtypes[d], 0);
    ck_assert_int_gt(checks, 1000);
}
END_TEST

START_TEST(test_mean_var_std_logsumexp) {
    int checks = 0;
    for (int d = 0; d < 3; d++) {
        checks += check_op_all_shapes(R_MEAN, float_dtypes[d], 0);
        checks += check_op_all_shapes(R_VAR, float_dtypes[d], 1);
        checks += check_op_all_shapes(R_VAR, float_dtypes[d], 0);
        checks += check_op_all_shapes(R_STD, float_dtypes[d], 1);
        checks += check_op_all_shapes(R_LSE, float_dtypes[d], 0);
    }
    ck_assert_int_gt(checks, 1000);
}
END_TEST

START_TEST(test_norm_every_p) {
    double ps[] = {2, 1, INFINITY, -INFINITY, 0, 3, 0.5};
    int checks = 0;
    for (int i = 0; i < 7; i++)
        for (int d = 0; d < 3; d++) checks += check_op_all_shapes(R_NORM, float_dtypes[d], ps[i]);
    ck_assert_int_gt(checks, 1000);
}
END_TEST

START_TEST(test_integer_inputs_by_op) {
    /* float-only ops reject every integer dtype, the others accept it */
    ty_dtype ints[] = {TY_I64, TY_U8, TY_BOOL};
    for (int d = 0; d < 3; d++) {
        ty_tensor *x = make_input(ints[d], 2, shape2, 1);
        for (int op = 0; op < R_NUM_OPS; op++) {
            ty_tensor *r = call_op((rop)op, x, 1, (int[]){1}, false, 2);
            if (float_only((rop)op)) {
                tu_assert_error(r == NULL, rop_name[op], "floating-point", ty_dtype_name(ints[d]));
            } else {
                ck_assert_msg(r != NULL, "%s: %s", rop_name[op], ty_last_error());
                ck_assert_int_eq(r->dtype, result_dtype((rop)op, ints[d]));
            }
            ty_tensor_release(r);
        }
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_f16_sum_and_mean) {
    ck_assert_int_gt(check_op_all_layouts(R_SUM, TY_F16, 3, shape3, 0), 0);
    ck_assert_int_gt(check_op_all_layouts(R_MEAN, TY_F16, 3, shape3, 0), 0);
}
END_TEST

/* ---- max/min with indices, argmax/argmin ---- */

/* Reference max/min along dims (one dim, or all when ndims == 0): value and
 * first index, NaN winning. */
static void ref_arg(ty_tensor *x, int ndims, const int *dims, bool keepdim, bool is_max,
                    ty_tensor **vals, ty_tensor **idx) {
    int64_t nout, R, shape[TY_MAX_DIMS];
    int nd;
    double *v = gather(x, ndims, dims, keepdim, &nout, &R, &nd, shape);
    double *bv = malloc(sizeof(double) * (size_t)(nout + 1));
    double *bi = malloc(sizeof(double) * (size_t)(nout + 1));
    for (int64_t o = 0; o < nout; o++) {
        const double *row = v + o * R;
        int64_t best = 0;
        for (int64_t k = 1; k < R && !isnan(row[best]); k++)
            if (isnan(row[k]) || (is_max ? row[k] > row[best] : row[k] < row[best])) best = k;
        bv[o] = row[best];
        bi[o] = (double)best;
    }
    *vals = ty_from_buffer(bv, nd, shape, TY_F64);
    *idx = ty_from_buffer(bi, nd, shape, TY_F64);
    free(v);
    free(bv);
    free(bi);
}

static int check_arg_layouts(ty_dtype dt, int nd, const int64_t *shape) {
    ty_tensor *base = make_input(dt, nd, shape, 5);
    ty_tensor *v[4];
    const char *names[4];
    int nv = make_variants(base, v, names), checks = 0;
    for (int k = 0; k < nv; k++)
        for (int dim = -1; dim < (nd > 0 ? nd : 1); dim++)
            for (int keep = 0; keep < 2; keep++)
                for (int is_max = 0; is_max < 2; is_max++) {
                    char what[256];
                    snprintf(what, sizeof what, "%s %s %s dim %d keepdim %d",
                             is_max ? "max" : "min", ty_dtype_name(dt), names[k], dim, keep);
                    ty_tensor *val, *idx, *ev, *ei;
                    int rc = is_max ? ty_max_dim(v[k], dim, keep, &val, &idx)
                                    : ty_min_dim(v[k], dim, keep, &val, &idx);
                    ck_assert_msg(rc == 0, "%s: %s", what, ty_last_error());
                    ck_assert_int_eq(val->dtype, dt);
                    ck_assert_int_eq(idx->dtype, TY_I64);
                    ref_arg(v[k], 1, &dim, keep, is_max, &ev, &ei);
                    expect_close(val, ev, 0, what);
                    expect_close(idx, ei, 0, what);
                    ty_tensor *am =
                        is_max ? ty_argmax(v[k], dim, keep) : ty_argmin(v[k], dim, keep);
                    expect_close(am, ei, 0, what);
                    ty_tensor *objs[] = {val, idx, ev, ei, am};
                    for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
                    checks += 3;
                }
    for (int k = 0; k < nv; k++) {
        for (int is_max = 0; is_max < 2; is_max++) {
            ty_tensor *ev, *ei;
            ty_tensor *am = is_max ? ty_argmax_all(v[k]) : ty_argmin_all(v[k]);
            ty_tensor *mv = is_max ? ty_max_all(v[k]) : ty_min_all(v[k]);
            ref_arg(v[k], 0, NULL, false, is_max, &ev, &ei);
            expect_close(am, ei, 0, "argmax_all");
            expect_close(mv, ev, 0, "max_all");
            ck_assert_int_eq(mv->dtype, dt);
            ty_tensor *objs[] = {am, mv, ev, ei};
            for (int i = 0; i < 4; i++) ty_tensor_release(objs[i]);
            checks += 2;
        }
        ty_tensor_release(v[k]);
    }
    ty_tensor_release(base);
    return checks;
}

START_TEST(test_max_min_dim_argmax) {
    int checks = 0;
    for (int d = 0; d < 6; d++) {
        checks += check_arg_layouts(all_dtypes[d], 3, shape3);
        checks += check_arg_layouts(all_dtypes[d], 2, shape2);
        checks += check_arg_layouts(all_dtypes[d], 1, shape1);
        checks += check_arg_layouts(all_dtypes[d], 0, NULL);
    }
    ck_assert_int_gt(checks, 1000);
}
END_TEST

START_TEST(test_max_dim_optional_outputs) {
    ty_tensor *x = tu_arange(2, (int64_t[]){2, 3}, TY_F32);
    ty_tensor *val, *idx;
    ck_assert_int_eq(ty_max_dim(x, 1, true, &val, NULL), 0);
    ck_assert_int_eq(val->ndim, 2);
    tu_assert_values(val, ((double[]){2, 5}), 2, 0);
    ck_assert_int_eq(ty_min_dim(x, 0, false, NULL, &idx), 0);
    tu_assert_values(idx, ((double[]){0, 0, 0}), 3, 0);
    ty_tensor_release(val);
    ty_tensor_release(idx);
    /* on failure both outputs are NULL */
    val = idx = x;
    tu_assert_error(ty_max_dim(x, 2, false, &val, &idx) < 0, "max", "dim 2");
    ck_assert_ptr_null(val);
    ck_assert_ptr_null(idx);
    ty_tensor_release(x);
}
END_TEST

/* ---- scans ---- */

static ty_tensor *ref_scan(ty_tensor *x, int dim, bool prod) {
    int nd = x->ndim, d = nd > 0 ? (dim + nd) % nd : 0;
    int64_t n = ty_numel(x);
    double *res = malloc(sizeof(double) * (size_t)(n + 1));
    int64_t inner = 1, len = nd > 0 ? x->shape[d] : 1;
    for (int i = d + 1; i < nd; i++) inner *= x->shape[i];
    for (int64_t i = 0; i < n; i++) {
        int64_t pos = i / inner % len; /* position along dim */
        double a = prod ? 1 : 0;
        for (int64_t k = 0; k <= pos; k++) {
            double v = ty_get_flat(x, i - (pos - k) * inner);
            a = prod ? a * v : a + v;
        }
        res[i] = a;
    }
    ty_tensor *e = ty_from_buffer(res, nd, x->shape, TY_F64);
    free(res);
    return e;
}

START_TEST(test_cumsum_cumprod) {
    const int64_t *shapes[] = {shape3, shape2, shape1, NULL};
    int nds[] = {3, 2, 1, 0}, checks = 0;
    for (int di = 0; di < 6; di++) {
        ty_dtype dt = all_dtypes[di];
        for (int si = 0; si < 4; si++) {
            ty_tensor *base = make_input(dt, nds[si], shapes[si], 3);
            ty_tensor *v[4];
            const char *names[4];
            int nv = make_variants(base, v, names);
            for (int k = 0; k < nv; k++)
                for (int dim = -1; dim < (nds[si] > 0 ? nds[si] : 1); dim++)
                    for (int prod = 0; prod < 2; prod++) {
                        char what[256];
                        snprintf(what, sizeof what, "%s %s %s dim %d", prod ? "cumprod" : "cumsum",
                                 ty_dtype_name(dt), names[k], dim);
                        ty_tensor *got = prod ? ty_cumprod(v[k], dim) : ty_cumsum(v[k], dim);
                        ck_assert_msg(got != NULL, "%s: %s", what, ty_last_error());
                        ck_assert_int_eq(got->dtype, ty_dtype_is_integral(dt) ? TY_I64 : dt);
                        ty_tensor *exp = ref_scan(v[k], dim, prod);
                        expect_close(got, exp, tolerance(dt) * 4, what);
                        ty_tensor_release(got);
                        ty_tensor_release(exp);
                        checks++;
                    }
            for (int k = 0; k < nv; k++) ty_tensor_release(v[k]);
            ty_tensor_release(base);
        }
    }
    ck_assert_int_gt(checks, 300);
}
END_TEST

/* ---- edge cases ---- */

START_TEST(test_empty_reductions) {
    ty_tensor *x = ty_empty(2, (int64_t[]){0, 3}, TY_F32, ty_cpu());
    int d0[] = {0}, d1[] = {1};
    ty_tensor *r;
    r = ty_sum(x, 1, d0, false);
    tu_assert_values(r, ((double[]){0, 0, 0}), 3, 0);
    ty_tensor_release(r);
    r = ty_prod(x, 1, d0, false);
    tu_assert_values(r, ((double[]){1, 1, 1}), 3, 0);
    ty_tensor_release(r);
    r = ty_mean(x, 1, d0, true);
    ck_assert_int_eq(r->ndim, 2);
    tu_assert_values(r, ((double[]){NAN, NAN, NAN}), 3, 0);
    ty_tensor_release(r);
    r = ty_var(x, 1, d0, 1, false);
    tu_assert_values(r, ((double[]){NAN, NAN, NAN}), 3, 0);
    ty_tensor_release(r);
    r = ty_logsumexp(x, 1, d0, false);
    tu_assert_values(r, ((double[]){-INFINITY, -INFINITY, -INFINITY}), 3, 0);
    ty_tensor_release(r);
    r = ty_norm(x, 2, 1, d0, false);
    tu_assert_values(r, ((double[]){0, 0, 0}), 3, 0);
    ty_tensor_release(r);
    r = ty_all(x, 1, d0, false);
    tu_assert_values(r, ((double[]){1, 1, 1}), 3, 0);
    ty_tensor_release(r);
    r = ty_any(x, 0, NULL, false);
    ck_assert_int_eq(r->ndim, 0);
    tu_assert_values(r, ((double[]){0}), 1, 0);
    ty_tensor_release(r);
    r = ty_sum_all(x);
    tu_assert_values(r, ((double[]){0}), 1, 0);
    ty_tensor_release(r);
    r = ty_mean_all(x);
    tu_assert_values(r, ((double[]){NAN}), 1, 0);
    ty_tensor_release(r);
    /* reducing the non-empty dim of an empty tensor gives an empty result */
    r = ty_amax(x, 1, d1, false);
    ck_assert_int_eq(r->ndim, 1);
    ck_assert_int_eq(r->shape[0], 0);
    ty_tensor_release(r);
    ty_tensor *idx;
    ck_assert_int_eq(ty_max_dim(x, 1, false, NULL, &idx), 0);
    ck_assert_int_eq(ty_numel(idx), 0);
    ty_tensor_release(idx);
    r = ty_cumsum(x, 0);
    ck_assert_int_eq(ty_numel(r), 0);
    ty_tensor_release(r);
    /* ops without an identity fail, naming the dim */
    tu_assert_error(ty_amax(x, 1, d0, false) == NULL, "amax", "dim 0", "size 0");
    tu_assert_error(ty_amin(x, 0, NULL, false) == NULL, "amin", "dim 0", "(0,3)");
    tu_assert_error(ty_max_dim(x, 0, false, NULL, &idx) < 0, "max", "dim 0", "size 0");
    tu_assert_error(ty_argmin(x, -2, true) == NULL, "argmin", "dim 0");
    tu_assert_error(ty_argmax_all(x) == NULL, "argmax", "dim 0");
    tu_assert_error(ty_max_all(x) == NULL, "max", "empty", "(0,3)");
    tu_assert_error(ty_min_all(x) == NULL, "min", "empty", "(0,3)");
    tu_assert_error(ty_norm(x, INFINITY, 1, d0, false) == NULL, "norm", "dim 0");
    ty_tensor_release(x);
    /* integer empties */
    ty_tensor *e = ty_empty(1, (int64_t[]){0}, TY_I64, ty_cpu());
    r = ty_sum_all(e);
    ck_assert_int_eq(r->dtype, TY_I64);
    tu_assert_values(r, ((double[]){0}), 1, 0);
    ty_tensor_release(r);
    r = ty_prod(e, 0, NULL, false);
    tu_assert_values(r, ((double[]){1}), 1, 0);
    ty_tensor_release(r);
    ty_tensor_release(e);
}
END_TEST

START_TEST(test_zero_dim_inputs) {
    ty_tensor *s = ty_scalar(-3, TY_F32);
    int d0[] = {0}, dm[] = {-1};
    ty_tensor *r = ty_sum(s, 1, d0, true);
    ck_assert_int_eq(r->ndim, 0);
    tu_assert_values(r, ((double[]){-3}), 1, 0);
    ty_tensor_release(r);
    r = ty_norm(s, 1, 1, dm, false);
    tu_assert_values(r, ((double[]){3}), 1, 0);
    ty_tensor_release(r);
    r = ty_var(s, 0, NULL, 1, false); /* one element, correction 1: 0 / 0 */
    tu_assert_values(r, ((double[]){NAN}), 1, 0);
    ty_tensor_release(r);
    r = ty_var(s, 0, NULL, 0, false);
    tu_assert_values(r, ((double[]){0}), 1, 0);
    ty_tensor_release(r);
    ty_tensor *val, *idx;
    ck_assert_int_eq(ty_max_dim(s, 0, false, &val, &idx), 0);
    ck_assert_int_eq(val->ndim, 0);
    tu_assert_values(val, ((double[]){-3}), 1, 0);
    tu_assert_values(idx, ((double[]){0}), 1, 0);
    ty_tensor_release(val);
    ty_tensor_release(idx);
    r = ty_argmax_all(s);
    ck_assert_int_eq(r->ndim, 0);
    tu_assert_values(r, ((double[]){0}), 1, 0);
    ty_tensor_release(r);
    r = ty_cumprod(s, -1);
    ck_assert_int_eq(r->ndim, 0);
    tu_assert_values(r, ((double[]){-3}), 1, 0);
    ty_tensor_release(r);
    tu_assert_error(ty_sum(s, 1, (int[]){1}, false) == NULL, "sum", "dim 1", "out of range");
    tu_assert_error(ty_sum(s, 2, (int[]){0, -1}, false) == NULL, "sum", "dim -1", "more than once");
    ty_tensor_release(s);
}
END_TEST

START_TEST(test_nan_and_inf) {
    float v[8] = {1, NAN, 3, NAN, -INFINITY, 2, INFINITY, 0};
    ty_tensor *x = ty_from_buffer(v, 2, (int64_t[]){2, 4}, TY_F32);
    int d1[] = {1};
    ty_tensor *r = ty_sum(x, 1, d1, false);
    tu_assert_values(r, ((double[]){NAN, NAN}), 2, 0);
    ty_tensor_release(r);
    r = ty_amax(x, 1, d1, false);
    tu_assert_values(r, ((double[]){NAN, INFINITY}), 2, 0);
    ty_tensor_release(r);
    r = ty_amin(x, 1, d1, false);
    tu_assert_values(r, ((double[]){NAN, -INFINITY}), 2, 0);
    ty_tensor_release(r);
    ty_tensor *val, *idx;
    ck_assert_int_eq(ty_max_dim(x, 1, false, &val, &idx), 0);
    tu_assert_values(val, ((double[]){NAN, INFINITY}), 2, 0);
    tu_assert_values(idx, ((double[]){1, 2}), 2, 0); /* the first NaN */
    ty_tensor_release(val);
    ty_tensor_release(idx);
    ck_assert_int_eq(ty_min_dim(x, 1, false, &val, &idx), 0);
    tu_assert_values(val, ((double[]){NAN, -INFINITY}), 2, 0);
    tu_assert_values(idx, ((double[]){1, 0}), 2, 0);
    ty_tensor_release(val);
    ty_tensor_release(idx);
    r = ty_argmax_all(x);
    tu_assert_values(r, ((double[]){1}), 1, 0);
    ty_tensor_release(r);
    r = ty_max_all(x);
    tu_assert_values(r, ((double[]){NAN}), 1, 0);
    ty_tensor_release(r);
    r = ty_norm(x, INFINITY, 1, d1, false);
    tu_assert_values(r, ((double[]){NAN, INFINITY}), 2, 0);
    ty_tensor_release(r);
    r = ty_any(x, 1, d1, false); /* NaN is non-zero */
    tu_assert_values(r, ((double[]){1, 1}), 2, 0);
    ty_tensor_release(r);
    r = ty_all(x, 1, d1, false);
    tu_assert_values(r, ((double[]){1, 0}), 2, 0);
    ty_tensor_release(r);
    r = ty_var(x, 1, d1, 1, false); /* inf - inf */
    tu_assert_values(r, ((double[]){NAN, NAN}), 2, 0);
    ty_tensor_release(r);
    ty_tensor_release(x);
    /* NaN in a column reduction (the blocked path) */
    double c[6] = {1, 2, NAN, 5, 0, 6};
    ty_tensor *m = ty_from_buffer(c, 2, (int64_t[]){3, 2}, TY_F64);
    int d0[] = {0};
    r = ty_amax(m, 1, d0, false);
    tu_assert_values(r, ((double[]){NAN, 6}), 2, 0);
    ty_tensor_release(r);
    ck_assert_int_eq(ty_max_dim(m, 0, false, &val, &idx), 0);
    tu_assert_values(idx, ((double[]){1, 2}), 2, 0);
    ty_tensor_release(val);
    ty_tensor_release(idx);
    ty_tensor_release(m);
}
END_TEST

START_TEST(test_logsumexp_stability) {
    double v[8] = {1e4, -1e4, -1e4, -1e4, -INFINITY, -INFINITY, INFINITY, 1};
    ty_tensor *x = ty_from_buffer(v, 2, (int64_t[]){4, 2}, TY_F64);
    int d1[] = {1};
    ty_tensor *r = ty_logsumexp(x, 1, d1, false);
    tu_assert_values(r, ((double[]){1e4, -1e4 + log(2.0), -INFINITY, INFINITY}), 4, 1e-9);
    ty_tensor_release(r);
    ty_tensor *f = ty_cast(x, TY_F32);
    r = ty_logsumexp(f, 1, d1, true);
    ck_assert_int_eq(r->dtype, TY_F32);
    ck_assert_int_eq(r->shape[1], 1);
    tu_assert_values(r, ((double[]){1e4, -1e4 + log(2.0), -INFINITY, INFINITY}), 4, 1e-3);
    ty_tensor_release(r);
    /* over dim 0 (columns): one holds +inf, the other's max is 1 */
    int d0[] = {0};
    r = ty_logsumexp(f, 1, d0, false);
    tu_assert_values(r, ((double[]){INFINITY, 1}), 2, 1e-6);
    ty_tensor_release(r);
    ty_tensor_release(f);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_norm_values) {
    double v[4] = {3, -4, 0, 0};
    ty_tensor *x = ty_from_buffer(v, 1, (int64_t[]){4}, TY_F64);
    double ps[] = {2, 1, INFINITY, -INFINITY, 0, 3, 0.5};
    double want[] = {5, 7, 4, 0, 2, cbrt(91.0), pow(sqrt(3.0) + 2, 2)};
    for (int i = 0; i < 7; i++) {
        ty_tensor *r = ty_norm(x, ps[i], 0, NULL, false);
        ck_assert_msg(r != NULL, "p %g: %s", ps[i], ty_last_error());
        ck_assert_msg(fabs(ty_get_flat(r, 0) - want[i]) < 1e-12, "p %g: %.17g, expected %.17g",
                      ps[i], ty_get_flat(r, 0), want[i]);
        ty_tensor_release(r);
    }
    tu_assert_error(ty_norm(x, NAN, 0, NULL, false) == NULL, "norm", "nan");
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_var_correction_and_large_mean) {
    double v[4] = {1, 2, 3, 4};
    ty_tensor *x = ty_from_buffer(v, 1, (int64_t[]){4}, TY_F64);
    double corr[] = {1, 0, 2, 4, 5};
    double want[] = {5.0 / 3, 1.25, 2.5, INFINITY, INFINITY};
    for (int i = 0; i < 5; i++) {
        ty_tensor *r = ty_var(x, 0, NULL, corr[i], false);
        tu_assert_values(r, &want[i], 1, 1e-12);
        ty_tensor_release(r);
        r = ty_std(x, 1, (int[]){0}, corr[i], false);
        tu_assert_values(r, ((double[]){sqrt(want[i])}), 1, 1e-12);
        ty_tensor_release(r);
    }
    ty_tensor_release(x);

    /* 1e4 + small noise in f32: a one-pass float algorithm loses every digit */
    int64_t n = 100000;
    ty_tensor *noise = tu_randn(1, &n, TY_F64, 9);
    float *buf = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) buf[i] = (float)(1e4 + 0.01 * ty_get_flat(noise, i));
    ty_tensor *big = ty_from_buffer(buf, 1, &n, TY_F32);
    long double mean = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) mean += buf[i];
    mean /= n;
    for (int64_t i = 0; i < n; i++) ss += (buf[i] - mean) * (buf[i] - mean);
    double want_var = (double)(ss / (n - 1));
    ty_tensor *r = ty_var(big, 0, NULL, 1, false);
    ck_assert_msg(fabs(ty_get_flat(r, 0) / want_var - 1) < 1e-4, "var %.9g, expected %.9g",
                  ty_get_flat(r, 0), want_var);
    ty_tensor_release(r);
    /* the same data as 1000 columns of 100: the blocked column path */
    ty_tensor *cols = ty_view(big, 2, (int64_t[]){100, 1000});
    r = ty_var(cols, 1, (int[]){0}, 1, false);
    ty_tensor *exp = ref_reduce(R_VAR, cols, 1, (int[]){0}, false, 1);
    for (int64_t i = 0; i < 1000; i++)
        ck_assert_msg(fabs(ty_get_flat(r, i) / ty_get_flat(exp, i) - 1) < 1e-4,
                      "column %lld: var %.9g, expected %.9g", (long long)i, ty_get_flat(r, i),
                      ty_get_flat(exp, i));
    ty_tensor *objs[] = {r, exp, cols, big, noise};
    for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
    free(buf);
}
END_TEST

START_TEST(test_exact_integers) {
    int64_t v[4] = {(int64_t)1 << 62, (int64_t)1 << 62, -((int64_t)1 << 62), 5};
    ty_tensor *x = ty_from_buffer(v, 1, (int64_t[]){4}, TY_I64);
    ty_tensor *r = ty_sum_all(x);
    ck_assert(*(int64_t *)ty_data(r) == ((int64_t)1 << 62) + 5);
    ty_tensor_release(r);
    r = ty_amax(x, 0, NULL, false);
    ck_assert(*(int64_t *)ty_data(r) == (int64_t)1 << 62);
    ty_tensor_release(r);
    r = ty_cumsum(x, 0);
    ck_assert(((int64_t *)ty_data(r))[3] == ((int64_t)1 << 62) + 5);
    ty_tensor_release(r);
    ty_tensor_release(x);
    /* ties between values 2^53 apart are told apart (no rounding through double) */
    int64_t t[3] = {((int64_t)1 << 60) + 1, ((int64_t)1 << 60) + 2, (int64_t)1 << 60};
    x = ty_from_buffer(t, 1, (int64_t[]){3}, TY_I64);
    r = ty_argmax_all(x);
    ck_assert(*(int64_t *)ty_data(r) == 1);
    ty_tensor_release(r);
    r = ty_min_all(x);
    ck_assert(*(int64_t *)ty_data(r) == (int64_t)1 << 60);
    ty_tensor_release(r);
    ty_tensor *val, *idx;
    ck_assert_int_eq(ty_max_dim(x, 0, false, &val, &idx), 0);
    ck_assert(*(int64_t *)ty_data(val) == ((int64_t)1 << 60) + 2);
    ty_tensor_release(val);
    ty_tensor_release(idx);
    ty_tensor_release(x);
    /* overflow wraps, as in PyTorch */
    int64_t w[2] = {INT64_MAX, 1};
    x = ty_from_buffer(w, 1, (int64_t[]){2}, TY_I64);
    r = ty_sum_all(x);
    ck_assert(*(int64_t *)ty_data(r) == INT64_MIN);
    ty_tensor_release(r);
    ty_tensor_release(x);
    /* u8 and bool sums and products give i64 */
    uint8_t u[3] = {200, 100, 3};
    x = ty_from_buffer(u, 1, (int64_t[]){3}, TY_U8);
    r = ty_sum_all(x);
    ck_assert_int_eq(r->dtype, TY_I64);
    tu_assert_values(r, ((double[]){303}), 1, 0);
    ty_tensor_release(r);
    r = ty_prod(x, 0, NULL, false);
    tu_assert_values(r, ((double[]){60000}), 1, 0);
    ty_tensor_release(r);
    r = ty_amax(x, 0, NULL, false);
    ck_assert_int_eq(r->dtype, TY_U8);
    tu_assert_values(r, ((double[]){200}), 1, 0);
    ty_tensor_release(r);
    ty_tensor_release(x);
    int64_t bs = 100001;
    ty_tensor *ones = ty_empty(1, &bs, TY_BOOL, ty_cpu());
    ty_fill_(ones, 1);
    r = ty_sum_all(ones);
    tu_assert_values(r, ((double[]){100001}), 1, 0);
    ty_tensor_release(r);
    ty_tensor_release(ones);
}
END_TEST

/* ---- long reductions: several chunks, several column blocks ---- */

START_TEST(test_chunked_paths) {
    struct {
        int nd;
        int64_t shape[2];
        int ndims;
        int dims[2];
    } cases[] = {
        {2, {3, 70000}, 1, {1}},  /* long rows, 3 chunks each */
        {2, {40000, 3}, 1, {0}},  /* tall narrow columns, chunks of rows */
        {2, {1100, 300}, 1, {0}}, /* two chunks of columns */
        {2, {300, 1100}, 1, {1}}, /* rows folded 29 to a unit */
        {2, {300, 1100}, 0, {0}}, /* everything */
        {1, {100003}, 0, {0}},    /* everything, uneven last chunk */
        {2, {5, 5000}, 1, {0}},   /* three column blocks */
    };
    rop ops[] = {R_SUM, R_MEAN, R_VAR, R_LSE, R_NORM, R_AMAX, R_AMIN, R_PROD, R_ANY};
    for (int c = 0; c < 7; c++) {
        ty_tensor *x = tu_randn(cases[c].nd, cases[c].shape, TY_F32, 100 + (uint64_t)c);
        ty_tensor *xt = cases[c].nd == 2 ? tu_noncontiguous(x) : ty_tensor_retain(x);
        for (int i = 0; i < 9; i++) {
            char what[128];
            snprintf(what, sizeof what, "%s case %d", rop_name[ops[i]], c);
            double param = ops[i] == R_VAR ? 1 : ops[i] == R_NORM ? 3 : 0;
            ty_tensor *in = ops[i] == R_PROD ? ty_tensor_retain(xt) : ty_tensor_retain(x);
            ty_tensor *got = call_op(ops[i], in, cases[c].ndims, cases[c].dims, false, param);
            ty_tensor *exp = ref_reduce(ops[i], in, cases[c].ndims, cases[c].dims, false, param);
            expect_close(got, exp, 1e-5, what);
            ty_tensor_release(got);
            ty_tensor_release(exp);
            ty_tensor_release(in);
        }
        /* max with indices across chunks and blocks */
        ty_tensor *val, *idx, *ev, *ei;
        int dim = cases[c].ndims ? cases[c].dims[0] : 0;
        ty_tensor *flat = cases[c].ndims ? ty_tensor_retain(x) : ty_reshape(x, 1, (int64_t[]){-1});
        ck_assert_int_eq(ty_max_dim(flat, dim, true, &val, &idx), 0);
        ref_arg(flat, 1, &dim, true, true, &ev, &ei);
        expect_close(val, ev, 0, "chunked max values");
        expect_close(idx, ei, 0, "chunked max indices");
        ty_tensor *objs[] = {val, idx, ev, ei, flat, x, xt};
        for (int i = 0; i < 7; i++) ty_tensor_release(objs[i]);
    }
}
END_TEST

START_TEST(test_column_blocks_and_chunks_together) {
    /* 2 chunks of rows times 2 column blocks, against the reference */
    ty_tensor *x = tu_randn(2, (int64_t[]){1030, 2100}, TY_F32, 77);
    int d0[] = {0};
    ty_tensor *got = ty_sum(x, 1, d0, false), *exp = ref_reduce(R_SUM, x, 1, d0, false, 0);
    expect_close(got, exp, 1e-5, "sum of 1030x2100 columns");
    ty_tensor_release(got);
    ty_tensor_release(exp);
    got = ty_amin(x, 1, d0, true);
    exp = ref_reduce(R_AMIN, x, 1, d0, true, 0);
    expect_close(got, exp, 0, "amin of 1030x2100 columns");
    ty_tensor_release(got);
    ty_tensor_release(exp);
    ty_tensor *val, *idx, *ev, *ei;
    ck_assert_int_eq(ty_min_dim(x, 0, false, &val, &idx), 0);
    ref_arg(x, 1, d0, false, false, &ev, &ei);
    expect_close(val, ev, 0, "min values of 1030x2100 columns");
    expect_close(idx, ei, 0, "min indices of 1030x2100 columns");
    ty_tensor *objs[] = {val, idx, ev, ei, x};
    for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_argmax_ties_and_nan_across_chunks) {
    int64_t n = 200000;
    ty_tensor *x = tu_uniform(1, &n, TY_F32, 0, 1, 4);
    float *d = ty_data(x);
    d[150000] = 7; /* the same max in the 5th and 2nd chunk: the first wins */
    d[40000] = 7;
    ty_tensor *r = ty_argmax_all(x);
    tu_assert_values(r, ((double[]){40000}), 1, 0);
    ty_tensor_release(r);
    d[120000] = NAN;
    d[190000] = NAN;
    r = ty_argmax_all(x);
    tu_assert_values(r, ((double[]){120000}), 1, 0);
    ty_tensor_release(r);
    r = ty_argmin_all(x);
    tu_assert_values(r, ((double[]){120000}), 1, 0);
    ty_tensor_release(r);
    r = ty_max_all(x);
    tu_assert_values(r, ((double[]){NAN}), 1, 0);
    ty_tensor_release(r);
    r = ty_sum_all(x);
    tu_assert_values(r, ((double[]){NAN}), 1, 0);
    ty_tensor_release(r);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_threads_do_not_change_results) {
    int saved = ty_get_num_threads(), counts[3] = {1, 2, 8};
    int64_t n = 1000000;
    ty_tensor *x = tu_randn(1, &n, TY_F32, 21);
    ty_tensor *m = ty_view(x, 2, (int64_t[]){1000, 1000});
    ty_tensor *w = ty_view(x, 2, (int64_t[]){100, 10000});
    double sums[3];
    ty_tensor *cols[3], *lse[3], *wide[3], *arg[3];
    for (int t = 0; t < 3; t++) {
        ty_set_num_threads(counts[t]);
        ty_tensor *s = ty_sum_all(x);
        sums[t] = ty_get_flat(s, 0);
        ty_tensor_release(s);
        cols[t] = ty_sum(m, 1, (int[]){0}, false);
        lse[t] = ty_logsumexp(m, 1, (int[]){1}, false);
        wide[t] = ty_var(w, 1, (int[]){0}, 1, false);
        arg[t] = ty_argmax(w, 0, false);
    }
    ty_set_num_threads(saved);
    for (int t = 1; t < 3; t++) {
        ck_assert_double_eq_tol(sums[0], sums[t], 1e-6 * fabs(sums[0]));
        expect_close(cols[t], cols[0], 1e-6, "column sums");
        expect_close(lse[t], lse[0], 1e-6, "logsumexp of rows");
        expect_close(wide[t], wide[0], 1e-6, "var of wide columns");
        expect_close(arg[t], arg[0], 0, "argmax of wide columns");
    }
    for (int t = 0; t < 3; t++) {
        ty_tensor_release(cols[t]);
        ty_tensor_release(lse[t]);
        ty_tensor_release(wide[t]);
        ty_tensor_release(arg[t]);
    }
    /* and accurate: against a long double sum of the same floats */
    long double want = 0;
    const float *d = ty_data(x);
    for (int64_t i = 0; i < n; i++) want += d[i];
    ck_assert_double_eq_tol(sums[0], (double)want, 1e-6 * fabs((double)want) + 1e-3);
    ty_tensor_release(w);
    ty_tensor_release(m);
    ty_tensor_release(x);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_errors) {
    ty_tensor *x = tu_arange(3, (int64_t[]){2, 3, 4}, TY_F32);
    tu_assert_error(ty_sum(x, 1, (int[]){3}, false) == NULL, "sum", "dim 3", "3 dims");
    tu_assert_error(ty_mean(x, 2, (int[]){0, -4}, false) == NULL, "mean", "dim -4");
    tu_assert_error(ty_amax(x, 2, (int[]){1, 1}, false) == NULL, "amax", "dim 1", "more than once");
    tu_assert_error(ty_var(x, 3, (int[]){0, 2, -1}, 1, false) == NULL, "var", "dim -1",
                    "more than once");
    tu_assert_error(ty_sum(x, -1, NULL, false) == NULL, "sum", "ndims -1");
    tu_assert_error(ty_prod(x, 1, NULL, false) == NULL, "prod", "ndims 1");
    tu_assert_error(ty_argmax(x, -4, false) == NULL, "argmax", "dim -4");
    tu_assert_error(ty_cumsum(x, 3) == NULL, "cumsum", "dim 3");
    tu_assert_error(ty_cumprod(x, -5) == NULL, "cumprod", "dim -5");
    ty_tensor *v = NULL;
    tu_assert_error(ty_min_dim(x, 7, false, &v, NULL) < 0, "min", "dim 7");
    ck_assert_ptr_null(v);
    ty_tensor *i = ty_cast(x, TY_I64), *b = ty_cast(x, TY_BOOL), *u = ty_cast(x, TY_U8);
    tu_assert_error(ty_mean(i, 0, NULL, false) == NULL, "mean", "floating-point", "i64");
    tu_assert_error(ty_var(b, 0, NULL, 1, false) == NULL, "var", "bool");
    tu_assert_error(ty_std(i, 1, (int[]){0}, 1, false) == NULL, "std", "i64");
    tu_assert_error(ty_logsumexp(u, 0, NULL, false) == NULL, "logsumexp", "u8");
    tu_assert_error(ty_norm(i, 2, 0, NULL, false) == NULL, "norm", "i64");
    tu_assert_error(ty_mean_all(b) == NULL, "mean", "bool");
    /* an interrupt fails the op once, then everything runs again */
    ty_interrupt();
    tu_assert_error(ty_sum_all(x) == NULL, "sum: interrupted");
    ty_tensor *ok = ty_sum_all(x);
    tu_assert_values(ok, ((double[]){276}), 1, 0);
    ty_interrupt();
    tu_assert_error(ty_argmax(x, 1, false) == NULL, "argmax: interrupted");
    ty_interrupt();
    tu_assert_error(ty_cumsum(x, 1) == NULL, "cumsum: interrupted");
    ty_interrupt();
    tu_assert_error(ty_var(x, 0, NULL, 1, false) == NULL, "var: interrupted");
    ty_tensor *objs[] = {x, i, b, u, ok};
    for (int k = 0; k < 5; k++) ty_tensor_release(objs[k]);
}
END_TEST

Suite *reduce_suite(void) {
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("reduce");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_sum_prod_all_any_amax_amin);
    tcase_add_test(tc, test_mean_var_std_logsumexp);
    tcase_add_test(tc, test_norm_every_p);
    tcase_add_test(tc, test_integer_inputs_by_op);
    tcase_add_test(tc, test_f16_sum_and_mean);
    tcase_add_test(tc, test_max_min_dim_argmax);
    tcase_add_test(tc, test_max_dim_optional_outputs);
    tcase_add_test(tc, test_cumsum_cumprod);
    tcase_add_test(tc, test_empty_reductions);
    tcase_add_test(tc, test_zero_dim_inputs);
    tcase_add_test(tc, test_nan_and_inf);
    tcase_add_test(tc, test_logsumexp_stability);
    tcase_add_test(tc, test_norm_values);
    tcase_add_test(tc, test_var_correction_and_large_mean);
    tcase_add_test(tc, test_exact_integers);
    tcase_add_test(tc, test_chunked_paths);
    tcase_add_test(tc, test_column_blocks_and_chunks_together);
    tcase_add_test(tc, test_argmax_ties_and_nan_across_chunks);
    tcase_add_test(tc, test_threads_do_not_change_results);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(reduce_suite());
}
