#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t lcg_next(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state >> 11;
}

static double lcg_unit(uint64_t *state) { return (double)lcg_next(state) / 9007199254740992.0; }

ty_tensor *tu_uniform(int ndim, const int64_t *shape, ty_dtype dt, double lo, double hi,
                      uint64_t seed) {
    ty_tensor *t = ty_empty(ndim, shape, dt, ty_cpu());
    ck_assert_msg(t != NULL, "tu_uniform: %s", ty_last_error());
    uint64_t state = seed * 2654435761ULL + 1;
    int64_t n = ty_numel(t);
    size_t es = ty_dtype_size(dt);
    for (int64_t i = 0; i < n; i++) {
        double v = lo + (hi - lo) * lcg_unit(&state);
        ty_store_from_double((char *)ty_data(t) + i * (int64_t)es, dt, v);
    }
    return t;
}

ty_tensor *tu_randn(int ndim, const int64_t *shape, ty_dtype dt, uint64_t seed) {
    ty_tensor *t = ty_empty(ndim, shape, dt, ty_cpu());
    ck_assert_msg(t != NULL, "tu_randn: %s", ty_last_error());
    uint64_t state = seed * 2654435761ULL + 7;
    int64_t n = ty_numel(t);
    size_t es = ty_dtype_size(dt);
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < 12; k++) s += lcg_unit(&state);
        ty_store_from_double((char *)ty_data(t) + i * (int64_t)es, dt, s - 6.0);
    }
    return t;
}

ty_tensor *tu_arange(int ndim, const int64_t *shape, ty_dtype dt) {
    ty_tensor *t = ty_empty(ndim, shape, dt, ty_cpu());
    ck_assert_msg(t != NULL, "tu_arange: %s", ty_last_error());
    int64_t n = ty_numel(t);
    size_t es = ty_dtype_size(dt);
    for (int64_t i = 0; i < n; i++)
        ty_store_from_double((char *)ty_data(t) + i * (int64_t)es, dt, (double)i);
    return t;
}

ty_tensor *tu_noncontiguous(ty_tensor *t) {
    ck_assert_int_ge(t->ndim, 2);
    int nd = t->ndim;
    ty_tensor *tt = ty_transpose(t, nd - 2, nd - 1);
    ty_tensor *c = ty_clone(tt); /* contiguous in the transposed layout */
    ty_tensor *back = ty_transpose(c, nd - 2, nd - 1);
    ty_tensor_release(tt);
    ty_tensor_release(c);
    ck_assert_msg(back != NULL, "tu_noncontiguous: %s", ty_last_error());
    return back;
}

ty_tensor *tu_strided(ty_tensor *t) {
    ck_assert_int_ge(t->ndim, 1);
    int64_t shape[TY_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
    int last = t->ndim - 1;
    shape[last] *= 2;
    ty_tensor *big = ty_empty(t->ndim, shape, t->dtype, ty_cpu());
    ck_assert_msg(big != NULL, "tu_strided: %s", ty_last_error());
    ck_assert_int_eq(ty_fill_(big, -777.0), 0);
    ty_tensor *view = ty_slice(big, last, 0, shape[last], 2);
    ty_tensor_release(big);
    ck_assert_int_eq(ty_copy_(view, t), 0);
    return view;
}

static int values_close(double a, double e, double atol, double rtol) {
    if (isnan(a) || isnan(e)) return isnan(a) && isnan(e);
    if (isinf(e) || isinf(a)) return a == e;
    return fabs(a - e) <= atol + rtol * fabs(e);
}

void tu_assert_close_impl(const ty_tensor *actual, const ty_tensor *expected, double atol,
                          double rtol, const char *file, int line) {
    char sa[256], se[256];
    ck_assert_msg(actual != NULL, "%s:%d: result is NULL: %s", file, line, ty_last_error());
    int same_shape = actual->ndim == expected->ndim;
    for (int d = 0; same_shape && d < actual->ndim; d++)
        same_shape = actual->shape[d] == expected->shape[d];
    ck_assert_msg(same_shape, "%s:%d: shape %s, expected %s", file, line,
                  ty_shape_str(actual, sa, sizeof sa), ty_shape_str(expected, se, sizeof se));
    int64_t n = ty_numel(actual), worst = -1;
    double worst_err = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = ty_get_flat(actual, i), e = ty_get_flat(expected, i);
        if (!values_close(a, e, atol, rtol)) {
            double err = isnan(a - e) ? INFINITY : fabs(a - e);
            if (worst < 0 || err > worst_err) {
                worst = i;
                worst_err = err;
            }
        }
    }
    if (worst >= 0)
        ck_abort_msg("%s:%d: element %lld is %.9g, expected %.9g (atol %g, rtol %g)", file, line,
                     (long long)worst, ty_get_flat(actual, worst), ty_get_flat(expected, worst),
                     atol, rtol);
}

void tu_assert_values_impl(const ty_tensor *actual, const double *values, int64_t n, double tol,
                           const char *file, int line) {
    ck_assert_msg(actual != NULL, "%s:%d: result is NULL: %s", file, line, ty_last_error());
    ck_assert_msg(ty_numel(actual) == n, "%s:%d: %lld elements, expected %lld", file, line,
                  (long long)ty_numel(actual), (long long)n);
    for (int64_t i = 0; i < n; i++) {
        double a = ty_get_flat(actual, i);
        ck_assert_msg(values_close(a, values[i], tol, 0), "%s:%d: element %lld is %.9g, expected %.9g",
                      file, line, (long long)i, a, values[i]);
    }
}

void tu_assert_error_impl(int failed, const char *file, int line, ...) {
    ck_assert_msg(failed, "%s:%d: the call succeeded but should have failed", file, line);
    const char *msg = ty_last_error();
    va_list ap;
    va_start(ap, line);
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL)
        ck_assert_msg(strstr(msg, want) != NULL, "%s:%d: error \"%s\" does not mention \"%s\"", file,
                      line, msg, want);
    va_end(ap);
}

static int64_t live_at_start;

void tu_leak_setup(void) {
    live_at_start = ty_live_tensors();
    ty_clear_error();
}

void tu_leak_teardown(void) {
    int64_t now = ty_live_tensors();
    ck_assert_msg(now == live_at_start, "leak: %lld live tensors at the start, %lld at the end",
                  (long long)live_at_start, (long long)now);
}

int tu_run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

const char *tu_tmpdir(void) {
    const char *d = getenv("TY_TEST_TMPDIR");
    return d && *d ? d : "/tmp";
}
