/* Helpers shared by the Check suites. They depend only on the tensor core
 * (tensor.c, view.c), so every suite can be built on its own. */
#ifndef TYCHO_TESTUTIL_H
#define TYCHO_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>

#include "tycho.h"

/* Deterministic pseudo-random values (a 64-bit LCG; not the library's RNG,
 * so suites do not depend on it). Uniform in [lo, hi). */
ty_tensor *tu_uniform(int ndim, const int64_t *shape, ty_dtype dt, double lo, double hi,
                      uint64_t seed);
/* Standard-normal-ish values (sum of uniforms), deterministic. */
ty_tensor *tu_randn(int ndim, const int64_t *shape, ty_dtype dt, uint64_t seed);
/* 0, 1, 2, ... in row-major order. */
ty_tensor *tu_arange(int ndim, const int64_t *shape, ty_dtype dt);
/* A tensor with t's values whose memory is laid out transposed (last two
 * dims swapped in storage), so it is not contiguous. ndim >= 2. */
ty_tensor *tu_noncontiguous(ty_tensor *t);
/* A tensor with t's values stored at every other element of a bigger
 * buffer (a strided slice view), not contiguous. ndim >= 1. */
ty_tensor *tu_strided(ty_tensor *t);

/* Fails the test (with the worst element) unless shapes match and every
 * element satisfies |a - e| <= atol + rtol * |e|; NaN equals NaN. */
#define tu_assert_close(actual, expected, atol, rtol)                                         \
    tu_assert_close_impl((actual), (expected), (atol), (rtol), __FILE__, __LINE__)
void tu_assert_close_impl(const ty_tensor *actual, const ty_tensor *expected, double atol,
                          double rtol, const char *file, int line);
/* Same, against a plain array of expected values in row-major order. */
#define tu_assert_values(actual, values, n, tol)                                             \
    tu_assert_values_impl((actual), (values), (n), (tol), __FILE__, __LINE__)
void tu_assert_values_impl(const ty_tensor *actual, const double *values, int64_t n, double tol,
                           const char *file, int line);

/* The call must have failed (NULL / -1) and the error must contain every
 * given substring: tu_assert_error(ptr == NULL, "matmul", "(2,3)"). */
#define tu_assert_error(failed, ...)                                                          \
    tu_assert_error_impl((failed), __FILE__, __LINE__, __VA_ARGS__, (const char *)NULL)
void tu_assert_error_impl(int failed, const char *file, int line, ...);

/* Checked fixture that fails a test which leaks tensor structs. Add with
 * tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown). */
void tu_leak_setup(void);
void tu_leak_teardown(void);

/* Runs the suite, prints Check's summary, returns the exit status. */
int tu_run_suite(Suite *s);

/* A scratch directory for files (from $TY_TEST_TMPDIR or /tmp). */
const char *tu_tmpdir(void);

#endif
