/* Printing: ty_format's output checked character for character against what
 * NumPy prints for the same values (np.array2string(a, separator=", ") with
 * precision 4), plus the footer, the options and bad input. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

/* Formats t and compares the whole text with the expected values and footer. */
#define expect_format(t, opts, values, footer)                                                     \
    expect_format_impl((t), (opts), (values), (footer), __FILE__, __LINE__)
static void expect_format_impl(const ty_tensor *t, const ty_print_options *opts, const char *values,
                               const char *footer, const char *file, int line) {
    char *s = ty_format(t, opts);
    ck_assert_msg(s != NULL, "%s:%d: format failed: %s", file, line, ty_last_error());
    size_t n = strlen(values) + strlen(footer) + 2;
    char *want = malloc(n);
    snprintf(want, n, "%s\n%s", values, footer);
    int same = strcmp(s, want) == 0;
    if (!same) fprintf(stderr, "%s:%d:\n--- got:\n%s\n--- want:\n%s\n", file, line, s, want);
    free(want);
    free(s);
    ck_assert_msg(same, "%s:%d: output differs (printed above)", file, line);
}

static ty_tensor *f32(int ndim, const int64_t *shape, const float *v) {
    return ty_from_buffer(v, ndim, shape, TY_F32);
}
static ty_tensor *f64(int ndim, const int64_t *shape, const double *v) {
    return ty_from_buffer(v, ndim, shape, TY_F64);
}
static ty_tensor *from_doubles(int64_t n, const double *v, ty_dtype dt) {
    ty_tensor *d = f64(1, (int64_t[]){n}, v);
    ty_tensor *t = ty_cast(d, dt);
    ty_tensor_release(d);
    return t;
}

START_TEST(test_integral_floats) {
    ty_tensor *t = f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
    expect_format(t, NULL, "[[1., 2., 3.],\n [4., 5., 6.]]",
                  "tensor(shape=(2,3), dtype=f32, device=cpu)");
    ty_tensor_release(t);
    ty_tensor *one = f32(1, (int64_t[]){1}, (float[]){-5});
    expect_format(one, NULL, "[-5.]", "tensor(shape=(1), dtype=f32, device=cpu)");
    ty_tensor_release(one);
}
END_TEST

START_TEST(test_mixed_decimals_align) {
    ty_tensor *t = f32(2, (int64_t[]){2, 3}, (float[]){1.5f, -2.25f, 3, -0.125f, 10, 0.3333333f});
    expect_format(t, NULL,
                  "[[ 1.5   , -2.25  ,  3.    ],\n"
                  " [-0.125 , 10.    ,  0.3333]]",
                  "tensor(shape=(2,3), dtype=f32, device=cpu)");
    ty_tensor_release(t);
    /* shorter fractions are padded with spaces, as NumPy's default float mode does */
    ty_tensor *u = f64(1, (int64_t[]){3}, (double[]){1.5, 2.25, 1.0 / 3});
    expect_format(u, NULL, "[1.5   , 2.25  , 0.3333]", "tensor(shape=(3), dtype=f64, device=cpu)");
    ty_tensor_release(u);
    ty_tensor *z = f64(1, (int64_t[]){2}, (double[]){-0.0, 1});
    expect_format(z, NULL, "[-0.,  1.]", "tensor(shape=(2), dtype=f64, device=cpu)");
    ty_tensor_release(z);
}
END_TEST

START_TEST(test_scientific) {
    ty_tensor *a = f64(1, (int64_t[]){3}, (double[]){1e-5, 1, 123456});
    expect_format(a, NULL, "[1.0000e-05, 1.0000e+00, 1.2346e+05]",
                  "tensor(shape=(3), dtype=f64, device=cpu)");
    ty_tensor_release(a);
    /* >= 1e8 alone is enough; the sign widens the integer part */
    ty_tensor *b = f64(1, (int64_t[]){2}, (double[]){-1e10, 2.5});
    expect_format(b, NULL, "[-1.0e+10,  2.5e+00]", "tensor(shape=(2), dtype=f64, device=cpu)");
    ty_tensor_release(b);
    /* a ratio just over 1e3 */
    ty_tensor *c = f32(1, (int64_t[]){2}, (float[]){1, 1001});
    expect_format(c, NULL, "[1.000e+00, 1.001e+03]", "tensor(shape=(2), dtype=f32, device=cpu)");
    ty_tensor_release(c);
    /* exactly 1e3 is not over it */
    ty_tensor *d = f32(1, (int64_t[]){2}, (float[]){1, 1000});
    expect_format(d, NULL, "[   1., 1000.]", "tensor(shape=(2), dtype=f32, device=cpu)");
    ty_tensor_release(d);
    /* three-digit exponents widen every exponent */
    ty_tensor *e = f64(1, (int64_t[]){2}, (double[]){1e-100, 1});
    expect_format(e, NULL, "[1.e-100, 1.e+000]", "tensor(shape=(2), dtype=f64, device=cpu)");
    ty_tensor_release(e);
    /* 2-D: columns still line up */
    ty_tensor *m = f32(2, (int64_t[]){2, 2}, (float[]){0.00012345f, -3, 0, 5e6f});
    expect_format(m, NULL,
                  "[[ 1.2345e-04, -3.0000e+00],\n"
                  " [ 0.0000e+00,  5.0000e+06]]",
                  "tensor(shape=(2,2), dtype=f32, device=cpu)");
    ty_tensor_release(m);
}
END_TEST

START_TEST(test_nan_inf) {
    ty_tensor *a = f32(1, (int64_t[]){4}, (float[]){1, NAN, INFINITY, -INFINITY});
    expect_format(a, NULL, "[  1.,  nan,  inf, -inf]", "tensor(shape=(4), dtype=f32, device=cpu)");
    ty_tensor_release(a);
    ty_tensor *b = f32(1, (int64_t[]){2}, (float[]){1.5f, NAN});
    expect_format(b, NULL, "[1.5, nan]", "tensor(shape=(2), dtype=f32, device=cpu)");
    ty_tensor_release(b);
    ty_tensor *c = f64(1, (int64_t[]){2}, (double[]){NAN, -INFINITY});
    expect_format(c, NULL, "[ nan, -inf]", "tensor(shape=(2), dtype=f64, device=cpu)");
    ty_tensor_release(c);
    /* with scientific notation */
    ty_tensor *d = f64(1, (int64_t[]){3}, (double[]){1e-5, NAN, -INFINITY});
    expect_format(d, NULL, "[1.e-05,    nan,   -inf]", "tensor(shape=(3), dtype=f64, device=cpu)");
    ty_tensor_release(d);
    /* a wide fraction leaves room for nan without widening */
    ty_tensor *e = f32(2, (int64_t[]){2, 2}, (float[]){0.25f, INFINITY, -1, NAN});
    expect_format(e, NULL, "[[ 0.25,   inf],\n [-1.  ,   nan]]",
                  "tensor(shape=(2,2), dtype=f32, device=cpu)");
    ty_tensor_release(e);
}
END_TEST

START_TEST(test_integers_and_bool) {
    int64_t iv[6] = {1, -20, 300, 4, 5, 6};
    ty_tensor *i = ty_from_buffer(iv, 2, (int64_t[]){2, 3}, TY_I64);
    expect_format(i, NULL, "[[  1, -20, 300],\n [  4,   5,   6]]",
                  "tensor(shape=(2,3), dtype=i64, device=cpu)");
    ty_tensor_release(i);
    /* past 2^53: no rounding through double */
    int64_t big[2] = {9007199254740993LL, -1};
    ty_tensor *b = ty_from_buffer(big, 1, (int64_t[]){2}, TY_I64);
    expect_format(b, NULL, "[9007199254740993,               -1]",
                  "tensor(shape=(2), dtype=i64, device=cpu)");
    ty_tensor_release(b);
    uint8_t uv[3] = {0, 255, 7};
    ty_tensor *u = ty_from_buffer(uv, 1, (int64_t[]){3}, TY_U8);
    expect_format(u, NULL, "[  0, 255,   7]", "tensor(shape=(3), dtype=u8, device=cpu)");
    ty_tensor_release(u);
    bool bv[4] = {true, false, true, true};
    ty_tensor *m = ty_from_buffer(bv, 2, (int64_t[]){2, 2}, TY_BOOL);
    expect_format(m, NULL, "[[ true, false],\n [ true,  true]]",
                  "tensor(shape=(2,2), dtype=bool, device=cpu)");
    ty_tensor_release(m);
    /* NumPy pads True even when there is no False */
    ty_tensor *all = ty_from_buffer(bv + 2, 1, (int64_t[]){2}, TY_BOOL);
    expect_format(all, NULL, "[ true,  true]", "tensor(shape=(2), dtype=bool, device=cpu)");
    ty_tensor_release(all);
}
END_TEST

START_TEST(test_scalars_and_empty) {
    ty_tensor *s = ty_scalar(3.5, TY_F32);
    expect_format(s, NULL, "3.5", "tensor(shape=(), dtype=f32, device=cpu)");
    ty_tensor_release(s);
    s = ty_scalar(2, TY_F64);
    expect_format(s, NULL, "2.", "tensor(shape=(), dtype=f64, device=cpu)");
    ty_tensor_release(s);
    s = ty_scalar(-42, TY_I64);
    expect_format(s, NULL, "-42", "tensor(shape=(), dtype=i64, device=cpu)");
    ty_tensor_release(s);
    s = ty_scalar(1, TY_BOOL);
    expect_format(s, NULL, "true", "tensor(shape=(), dtype=bool, device=cpu)");
    ty_tensor_release(s);
    s = ty_scalar(NAN, TY_F32);
    expect_format(s, NULL, "nan", "tensor(shape=(), dtype=f32, device=cpu)");
    ty_tensor_release(s);
    s = ty_scalar(1e-7, TY_F64);
    expect_format(s, NULL, "1.e-07", "tensor(shape=(), dtype=f64, device=cpu)");
    ty_tensor_release(s);
    ty_tensor *e = ty_empty(2, (int64_t[]){0, 3}, TY_F32, ty_cpu());
    expect_format(e, NULL, "[]", "tensor(shape=(0,3), dtype=f32, device=cpu)");
    ty_tensor_release(e);
    e = ty_empty(3, (int64_t[]){2, 0, 4}, TY_I64, ty_cpu());
    expect_format(e, NULL, "[]", "tensor(shape=(2,0,4), dtype=i64, device=cpu)");
    ty_tensor_release(e);
}
END_TEST

START_TEST(test_wrapping) {
    ty_tensor *a = tu_arange(1, (int64_t[]){30}, TY_F32);
    expect_format(
        a, NULL,
        "[ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13., 14., 15.,\n"
        " 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27., 28., 29.]",
        "tensor(shape=(30), dtype=f32, device=cpu)");
    ty_tensor_release(a);
    ty_print_options o = ty_print_options_default();
    o.linewidth = 40;
    ty_tensor *b = tu_arange(1, (int64_t[]){20}, TY_F32);
    expect_format(b, &o,
                  "[ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,\n"
                  "  8.,  9., 10., 11., 12., 13., 14., 15.,\n"
                  " 16., 17., 18., 19.]",
                  "tensor(shape=(20), dtype=f32, device=cpu)");
    ty_tensor_release(b);
    /* rows of a matrix wrap one column further in, one column narrower */
    ty_tensor *m = tu_arange(2, (int64_t[]){2, 20}, TY_F32);
    expect_format(m, &o,
                  "[[ 0.,  1.,  2.,  3.,  4.,  5.,  6.,\n"
                  "   7.,  8.,  9., 10., 11., 12., 13.,\n"
                  "  14., 15., 16., 17., 18., 19.],\n"
                  " [20., 21., 22., 23., 24., 25., 26.,\n"
                  "  27., 28., 29., 30., 31., 32., 33.,\n"
                  "  34., 35., 36., 37., 38., 39.]]",
                  "tensor(shape=(2,20), dtype=f32, device=cpu)");
    ty_tensor_release(m);
    /* a line never wraps before its first word, however narrow */
    o.linewidth = 1;
    ty_tensor *c = tu_arange(1, (int64_t[]){3}, TY_I64);
    expect_format(c, &o, "[0,\n 1,\n 2]", "tensor(shape=(3), dtype=i64, device=cpu)");
    ty_tensor_release(c);
}
END_TEST

START_TEST(test_nested_dims) {
    ty_tensor *t = tu_arange(3, (int64_t[]){2, 2, 3}, TY_F32);
    expect_format(t, NULL,
                  "[[[ 0.,  1.,  2.],\n"
                  "  [ 3.,  4.,  5.]],\n"
                  "\n"
                  " [[ 6.,  7.,  8.],\n"
                  "  [ 9., 10., 11.]]]",
                  "tensor(shape=(2,2,3), dtype=f32, device=cpu)");
    ty_tensor_release(t);
    ty_tensor *u = tu_arange(4, (int64_t[]){2, 1, 1, 2}, TY_I64);
    expect_format(u, NULL, "[[[[0, 1]]],\n\n\n [[[2, 3]]]]",
                  "tensor(shape=(2,1,1,2), dtype=i64, device=cpu)");
    ty_tensor_release(u);
    /* summarised outer dim: "..." keeps the blank lines around it */
    ty_print_options o = ty_print_options_default();
    o.threshold = 5;
    o.edgeitems = 2;
    ty_tensor *v = tu_arange(3, (int64_t[]){7, 1, 1}, TY_I64);
    expect_format(v, &o, "[[[0]],\n\n [[1]],\n\n ...,\n\n [[5]],\n\n [[6]]]",
                  "tensor(shape=(7,1,1), dtype=i64, device=cpu)");
    ty_tensor_release(v);
}
END_TEST

START_TEST(test_summarised) {
    ty_tensor *a = tu_arange(1, (int64_t[]){2000}, TY_F64);
    expect_format(a, NULL,
                  "[0.000e+00, 1.000e+00, 2.000e+00, ..., 1.997e+03, 1.998e+03, 1.999e+03]",
                  "tensor(shape=(2000), dtype=f64, device=cpu)");
    ty_tensor_release(a);
    ty_tensor *i = tu_arange(1, (int64_t[]){2000}, TY_I64);
    expect_format(i, NULL, "[   0,    1,    2, ..., 1997, 1998, 1999]",
                  "tensor(shape=(2000), dtype=i64, device=cpu)");
    ty_tensor_release(i);
    /* exactly at the threshold nothing is summarised */
    ty_print_options o = ty_print_options_default();
    o.threshold = 6;
    ty_tensor *six = tu_arange(1, (int64_t[]){6}, TY_I64);
    expect_format(six, &o, "[0, 1, 2, 3, 4, 5]", "tensor(shape=(6), dtype=i64, device=cpu)");
    o.threshold = 5;
    o.edgeitems = 1;
    expect_format(six, &o, "[0, ..., 5]", "tensor(shape=(6), dtype=i64, device=cpu)");
    ty_tensor_release(six);

    /* the format comes from the shown values only: the hidden 1e9 would
     * switch everything to scientific */
    double v[100 * 100];
    for (int r = 0; r < 100; r++)
        for (int c = 0; c < 100; c++) v[r * 100 + c] = (r + 1) + c / 100.0;
    v[50 * 100 + 50] = 1e9;
    ty_tensor *m = from_doubles(100 * 100, v, TY_F32);
    ty_tensor *m2 = ty_reshape(m, 2, (int64_t[]){100, 100});
    expect_format(m2, NULL,
                  "[[  1.  ,   1.01,   1.02, ...,   1.97,   1.98,   1.99],\n"
                  " [  2.  ,   2.01,   2.02, ...,   2.97,   2.98,   2.99],\n"
                  " [  3.  ,   3.01,   3.02, ...,   3.97,   3.98,   3.99],\n"
                  " ...,\n"
                  " [ 98.  ,  98.01,  98.02, ...,  98.97,  98.98,  98.99],\n"
                  " [ 99.  ,  99.01,  99.02, ...,  99.97,  99.98,  99.99],\n"
                  " [100.  , 100.01, 100.02, ..., 100.97, 100.98, 100.99]]",
                  "tensor(shape=(100,100), dtype=f32, device=cpu)");
    ty_tensor_release(m);
    ty_tensor_release(m2);
}
END_TEST

START_TEST(test_huge_tensors_print_instantly) {
    /* 1e10 elements that share one float: reading them all would take
     * minutes and time the test out */
    ty_tensor *s = ty_scalar(7, TY_F32);
    ty_tensor *e = ty_expand(s, 2, (int64_t[]){100000, 100000});
    expect_format(e, NULL,
                  "[[7., 7., 7., ..., 7., 7., 7.],\n"
                  " [7., 7., 7., ..., 7., 7., 7.],\n"
                  " [7., 7., 7., ..., 7., 7., 7.],\n"
                  " ...,\n"
                  " [7., 7., 7., ..., 7., 7., 7.],\n"
                  " [7., 7., 7., ..., 7., 7., 7.],\n"
                  " [7., 7., 7., ..., 7., 7., 7.]]",
                  "tensor(shape=(100000,100000), dtype=f32, device=cpu)");
    ty_tensor_release(e);
    ty_tensor_release(s);
    ty_tensor *big = tu_arange(1, (int64_t[]){10000000}, TY_F32);
    clock_t t0 = clock();
    expect_format(big, NULL, "[0.e+00, 1.e+00, 2.e+00, ..., 1.e+07, 1.e+07, 1.e+07]",
                  "tensor(shape=(10000000), dtype=f32, device=cpu)");
    double ms = 1000.0 * (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (ms > 10) fprintf(stderr, "note: formatting 1e7 elements took %.1f ms\n", ms);
    ty_tensor_release(big);
}
END_TEST

START_TEST(test_views_print_logical_order) {
    ty_tensor *t = f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
    ty_tensor *tt = ty_transpose(t, 0, 1);
    ck_assert(!ty_is_contiguous(tt));
    expect_format(tt, NULL, "[[1., 4.],\n [2., 5.],\n [3., 6.]]",
                  "tensor(shape=(3,2), dtype=f32, device=cpu)");
    ty_tensor *nc = tu_noncontiguous(t);
    expect_format(nc, NULL, "[[1., 2., 3.],\n [4., 5., 6.]]",
                  "tensor(shape=(2,3), dtype=f32, device=cpu)");
    ty_tensor *st = tu_strided(t);
    expect_format(st, NULL, "[[1., 2., 3.],\n [4., 5., 6.]]",
                  "tensor(shape=(2,3), dtype=f32, device=cpu)");
    /* a summarised, strided view reads the right edge elements */
    ty_tensor *a = tu_arange(1, (int64_t[]){4000}, TY_I64);
    ty_tensor *sl = ty_slice(a, 0, 1, 4000, 2);
    expect_format(sl, NULL, "[   1,    3,    5, ..., 3995, 3997, 3999]",
                  "tensor(shape=(2000), dtype=i64, device=cpu)");
    ty_tensor_release(sl);
    ty_tensor_release(a);
    ty_tensor_release(st);
    ty_tensor_release(nc);
    ty_tensor_release(tt);
    ty_tensor_release(t);
}
END_TEST

START_TEST(test_precision) {
    ty_tensor *t = f64(1, (int64_t[]){2}, (double[]){1.0 / 3, 2.0 / 3});
    ty_print_options o = ty_print_options_default();
    expect_format(t, &o, "[0.3333, 0.6667]", "tensor(shape=(2), dtype=f64, device=cpu)");
    o.precision = 2;
    expect_format(t, &o, "[0.33, 0.67]", "tensor(shape=(2), dtype=f64, device=cpu)");
    o.precision = 8;
    expect_format(t, &o, "[0.33333333, 0.66666667]", "tensor(shape=(2), dtype=f64, device=cpu)");
    o.precision = 0;
    expect_format(t, &o, "[0., 1.]", "tensor(shape=(2), dtype=f64, device=cpu)");
    ty_tensor_release(t);
    /* rounding that ends in zeros trims them */
    ty_tensor *r = f64(1, (int64_t[]){2}, (double[]){1.00001, 2.5});
    expect_format(r, NULL, "[1. , 2.5]", "tensor(shape=(2), dtype=f64, device=cpu)");
    ty_tensor_release(r);
    /* scientific digits follow the precision too */
    ty_tensor *s = f64(1, (int64_t[]){2}, (double[]){123456789, 1});
    o.precision = 2;
    expect_format(s, &o, "[1.23e+08, 1.00e+00]", "tensor(shape=(2), dtype=f64, device=cpu)");
    ty_tensor_release(s);
}
END_TEST

START_TEST(test_sci_mode) {
    ty_tensor *t = f64(1, (int64_t[]){2}, (double[]){1e-5, 1});
    ty_print_options o = ty_print_options_default();
    o.sci_mode = TY_SCI_NEVER;
    expect_format(t, &o, "[0., 1.]", "tensor(shape=(2), dtype=f64, device=cpu)");
    ty_tensor_release(t);
    ty_tensor *big = f32(1, (int64_t[]){2}, (float[]){3e10f, 0.5f});
    /* positional f32 shows the digits that identify the float, not 30000001024 */
    expect_format(big, &o, "[30000000000. ,           0.5]",
                  "tensor(shape=(2), dtype=f32, device=cpu)");
    o.sci_mode = TY_SCI_ALWAYS;
    expect_format(big, &o, "[3.e+10, 5.e-01]", "tensor(shape=(2), dtype=f32, device=cpu)");
    ty_tensor_release(big);
    ty_tensor *small = f32(1, (int64_t[]){3}, (float[]){1, 2, 0.5f});
    expect_format(small, &o, "[1.e+00, 2.e+00, 5.e-01]",
                  "tensor(shape=(3), dtype=f32, device=cpu)");
    ty_tensor_release(small);
}
END_TEST

START_TEST(test_f64_and_half_types) {
    ty_tensor *a = f64(1, (int64_t[]){3}, (double[]){0.1, 0.2, 0.1 + 0.2});
    expect_format(a, NULL, "[0.1, 0.2, 0.3]", "tensor(shape=(3), dtype=f64, device=cpu)");
    ty_tensor_release(a);
    /* shortest digits are per dtype: 0.1f is 0.1 as f32, 0.1000000015 as f64 */
    ty_print_options o = ty_print_options_default();
    o.precision = 10;
    ty_tensor *f = f32(1, (int64_t[]){1}, (float[]){0.1f});
    expect_format(f, &o, "[0.1]", "tensor(shape=(1), dtype=f32, device=cpu)");
    ty_tensor *d = ty_cast(f, TY_F64);
    expect_format(d, &o, "[0.1000000015]", "tensor(shape=(1), dtype=f64, device=cpu)");
    ty_tensor_release(d);
    ty_tensor_release(f);
    /* bf16 0.1 is 0.10009765625 and f16 0.1 is 0.0999755859375, but the
     * shortest digits that identify them in their own type are 0.1 */
    double hv[3] = {1, 0.1, -2.5};
    ty_tensor *b = from_doubles(3, hv, TY_BF16);
    expect_format(b, NULL, "[ 1. ,  0.1, -2.5]", "tensor(shape=(3), dtype=bf16, device=cpu)");
    ty_tensor_release(b);
    ty_tensor *h = from_doubles(3, hv, TY_F16);
    expect_format(h, NULL, "[ 1. ,  0.1, -2.5]", "tensor(shape=(3), dtype=f16, device=cpu)");
    ty_tensor_release(h);
    /* without the cut the difference shows */
    o.precision = 17;
    ty_tensor *b1 = from_doubles(1, hv + 1, TY_BF16);
    ty_tensor *b1f = ty_cast(b1, TY_F32);
    expect_format(b1, &o, "[0.1]", "tensor(shape=(1), dtype=bf16, device=cpu)");
    expect_format(b1f, &o, "[0.100097656]", "tensor(shape=(1), dtype=f32, device=cpu)");
    ty_tensor_release(b1f);
    ty_tensor_release(b1);
    /* bf16 has 2-3 significant digits: from 100 on it prints in scientific */
    double hb[2] = {100, 3};
    ty_tensor *b2 = from_doubles(2, hb, TY_BF16);
    expect_format(b2, NULL, "[1.e+02, 3.e+00]", "tensor(shape=(2), dtype=bf16, device=cpu)");
    ty_tensor_release(b2);
    /* 6.55e+04 is the shortest decimal that reads back as the f16 65504 */
    double big[2] = {65504, -1};
    ty_tensor *h2 = from_doubles(2, big, TY_F16);
    expect_format(h2, NULL, "[ 6.55e+04, -1.00e+00]", "tensor(shape=(2), dtype=f16, device=cpu)");
    ty_tensor_release(h2);
}
END_TEST

START_TEST(test_global_options_and_print) {
    ty_print_options d = ty_get_print_options();
    ck_assert_int_eq(d.threshold, 1000);
    ck_assert_int_eq(d.edgeitems, 3);
    ck_assert_int_eq(d.precision, 4);
    ck_assert_int_eq(d.linewidth, 80);
    ck_assert_int_eq(d.sci_mode, TY_SCI_AUTO);
    ty_print_options o = d;
    o.precision = 2;
    ck_assert_int_eq(ty_set_print_options(&o), 0);
    ck_assert_int_eq(ty_get_print_options().precision, 2);

    ty_tensor *t = f32(1, (int64_t[]){2}, (float[]){1.0f / 3, 2});
    t->requires_grad = true;
    expect_format(t, NULL, "[0.33, 2.  ]",
                  "tensor(shape=(2), dtype=f32, device=cpu, requires_grad=true)");
    t->requires_grad = false;

    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ty_print(f, t), 0);
    rewind(f);
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    ck_assert_str_eq(buf, "[0.33, 2.  ]\ntensor(shape=(2), dtype=f32, device=cpu)\n");

    /* a bad setting is refused and leaves the options as they were */
    o.linewidth = 0;
    tu_assert_error(ty_set_print_options(&o) < 0, "set_print_options", "linewidth", "0");
    ck_assert_int_eq(ty_get_print_options().linewidth, 80);
    ck_assert_int_eq(ty_get_print_options().precision, 2);
    tu_assert_error(ty_set_print_options(NULL) < 0, "set_print_options", "NULL");

    ty_print_options def = ty_print_options_default();
    ck_assert_int_eq(ty_set_print_options(&def), 0);
    expect_format(t, NULL, "[0.3333, 2.    ]", "tensor(shape=(2), dtype=f32, device=cpu)");
    ty_tensor_release(t);
}
END_TEST

START_TEST(test_bad_input) {
    ty_tensor *t = tu_arange(1, (int64_t[]){3}, TY_F32);
    ty_print_options o = ty_print_options_default();
    o.precision = 18;
    tu_assert_error(ty_format(t, &o) == NULL, "format", "precision", "18");
    o.precision = -1;
    tu_assert_error(ty_format(t, &o) == NULL, "format", "precision", "-1");
    o = ty_print_options_default();
    o.edgeitems = 0;
    tu_assert_error(ty_format(t, &o) == NULL, "format", "edgeitems", "0");
    o = ty_print_options_default();
    o.threshold = -5;
    tu_assert_error(ty_format(t, &o) == NULL, "format", "threshold", "-5");
    o = ty_print_options_default();
    o.linewidth = -2;
    tu_assert_error(ty_format(t, &o) == NULL, "format", "linewidth", "-2");
    o = ty_print_options_default();
    o.sci_mode = (ty_sci_mode)7;
    tu_assert_error(ty_format(t, &o) == NULL, "format", "sci_mode", "7");
    tu_assert_error(ty_format(NULL, NULL) == NULL, "format", "NULL");
    tu_assert_error(ty_print(stdout, NULL) < 0, "format", "NULL");
    /* Ctrl-C during a (user-enlarged) print stops it */
    ty_interrupt();
    tu_assert_error(ty_format(t, NULL) == NULL, "format", "interrupted");
    ck_assert(!ty_interrupted());
    char *s = ty_format(t, NULL);
    ck_assert_ptr_nonnull(s);
    free(s);
    ty_tensor_release(t);
}
END_TEST

/* Cases from NumPy's own tests (numpy/_core/tests/test_arrayprint.py), as
 * np.array2string(a, separator=", ") prints them. */
START_TEST(test_numpy_reference_cases) {
    ty_print_options o = ty_print_options_default();
    /* TestPrintOptions.test_basic */
    ty_tensor *a = f64(1, (int64_t[]){3}, (double[]){1.5, 0, 1.234567890});
    expect_format(a, NULL, "[1.5   , 0.    , 1.2346]", "tensor(shape=(3), dtype=f64, device=cpu)");
    ty_tensor_release(a);
    /* test_float_spacing */
    ty_tensor *b = f64(1, (int64_t[]){3}, (double[]){INFINITY, 100000, 1.1234});
    ty_tensor *c = f64(1, (int64_t[]){3}, (double[]){INFINITY, 100000, -1.1234});
    ty_tensor *d = f64(1, (int64_t[]){3}, (double[]){INFINITY, 1.1234, -1e120});
    o.precision = 2;
    expect_format(b, &o, "[     inf, 1.00e+05, 1.12e+00]",
                  "tensor(shape=(3), dtype=f64, device=cpu)");
    expect_format(c, &o, "[      inf,  1.00e+05, -1.12e+00]",
                  "tensor(shape=(3), dtype=f64, device=cpu)");
    expect_format(d, &o, "[       inf,  1.12e+000, -1.00e+120]",
                  "tensor(shape=(3), dtype=f64, device=cpu)");
    ty_tensor_release(b);
    ty_tensor_release(c);
    ty_tensor_release(d);
    ty_tensor *y = f64(1, (int64_t[]){3}, (double[]){1, 2, -10});
    expect_format(y, NULL, "[  1.,   2., -10.]", "tensor(shape=(3), dtype=f64, device=cpu)");
    ty_tensor_release(y);
    /* test_precision_zero */
    o.precision = 0;
    ty_tensor *p0 = f64(1, (int64_t[]){3}, (double[]){.2, -1, 122.51});
    expect_format(p0, &o, "[  0.,  -1., 123.]", "tensor(shape=(3), dtype=f64, device=cpu)");
    ty_tensor_release(p0);
    ty_tensor *p1 = f64(1, (int64_t[]){1}, (double[]){-.3});
    expect_format(p1, &o, "[-0.]", "tensor(shape=(1), dtype=f64, device=cpu)");
    ty_tensor_release(p1);
    /* test_floatmode, maxprec with precision 8 */
    o.precision = 8;
    o.linewidth = 200;
    double xv[10] = {0.6104, 0.922, 0.457, 0.0906, 0.3733, 0.007244, 0.5933, 0.947, 0.2383, 0.4226};
    ty_tensor *x = from_doubles(10, xv, TY_F16);
    expect_format(x, &o,
                  "[0.6104  , 0.922   , 0.457   , 0.0906  , 0.3733  , 0.007244, 0.5933  , "
                  "0.947   , 0.2383  , 0.4226  ]",
                  "tensor(shape=(10), dtype=f16, device=cpu)");
    ty_tensor_release(x);
    ty_tensor *yv = f64(1, (int64_t[]){8},
                        (double[]){0.2918820979355541, 0.5064172631089138, 0.2848750619642916,
                                   0.4342965294660567, 0.7326538397312751, 0.3459503329096204,
                                   0.0862072768214508, 0.39112753029631175});
    expect_format(yv, &o,
                  "[0.2918821 , 0.50641726, 0.28487506, 0.43429653, 0.73265384, 0.34595033, "
                  "0.08620728, 0.39112753]",
                  "tensor(shape=(8), dtype=f64, device=cpu)");
    ty_tensor_release(yv);
    double zv[6] = {0, 0.1, 0.2, 0.3, 0.4, 0.5};
    ty_tensor *z = from_doubles(6, zv, TY_F16);
    expect_format(z, &o, "[0. , 0.1, 0.2, 0.3, 0.4, 0.5]",
                  "tensor(shape=(6), dtype=f16, device=cpu)");
    ty_tensor_release(z);
    ty_tensor *w = f64(1, (int64_t[]){5}, (double[]){1e0, 1e5, 1e10, 1e15, 1e20});
    expect_format(w, &o, "[1.e+00, 1.e+05, 1.e+10, 1.e+15, 1.e+20]",
                  "tensor(shape=(5), dtype=f64, device=cpu)");
    ty_tensor_release(w);
    ty_tensor *wp = f64(1, (int64_t[]){3}, (double[]){1.234e1, 1e2, 1e123});
    expect_format(wp, &o, "[1.234e+001, 1.000e+002, 1.000e+123]",
                  "tensor(shape=(3), dtype=f64, device=cpu)");
    ty_tensor_release(wp);
    /* test_gh_28679: the large-value cutoff depends on the type */
    ty_tensor *s1 = from_doubles(2, (double[]){999999, 999999}, TY_F32);
    ty_tensor *s2 = from_doubles(2, (double[]){999999, -1000000}, TY_F32);
    ty_tensor *h1 = from_doubles(2, (double[]){999, 999}, TY_F16);
    ty_tensor *h2 = from_doubles(2, (double[]){999, 1000}, TY_F16);
    expect_format(s1, &o, "[999999., 999999.]", "tensor(shape=(2), dtype=f32, device=cpu)");
    expect_format(s2, &o, "[ 9.99999e+05, -1.00000e+06]",
                  "tensor(shape=(2), dtype=f32, device=cpu)");
    expect_format(h1, &o, "[999., 999.]", "tensor(shape=(2), dtype=f16, device=cpu)");
    expect_format(h2, &o, "[9.99e+02, 1.00e+03]", "tensor(shape=(2), dtype=f16, device=cpu)");
    ty_tensor_release(s1);
    ty_tensor_release(s2);
    ty_tensor_release(h1);
    ty_tensor_release(h2);
    ty_tensor *f6 = f64(1, (int64_t[]){2}, (double[]){1e6, 2e6});
    expect_format(f6, NULL, "[1000000., 2000000.]", "tensor(shape=(2), dtype=f64, device=cpu)");
    ty_tensor_release(f6);
    /* test_edgeitems */
    o = ty_print_options_default();
    o.edgeitems = 1;
    o.threshold = 1;
    ty_tensor *e3 = tu_arange(3, (int64_t[]){3, 3, 3}, TY_I64);
    expect_format(e3, &o,
                  "[[[ 0, ...,  2],\n"
                  "  ...,\n"
                  "  [ 6, ...,  8]],\n"
                  "\n"
                  " ...,\n"
                  "\n"
                  " [[18, ..., 20],\n"
                  "  ...,\n"
                  "  [24, ..., 26]]]",
                  "tensor(shape=(3,3,3), dtype=i64, device=cpu)");
    ty_tensor_release(e3);
    ty_tensor *e4 = ty_empty(4, (int64_t[]){3, 3, 1, 1}, TY_F64, ty_cpu());
    ty_fill_(e4, 0);
    expect_format(e4, &o,
                  "[[[[0.]],\n"
                  "\n"
                  "  ...,\n"
                  "\n"
                  "  [[0.]]],\n"
                  "\n"
                  "\n"
                  " ...,\n"
                  "\n"
                  "\n"
                  " [[[0.]],\n"
                  "\n"
                  "  ...,\n"
                  "\n"
                  "  [[0.]]]]",
                  "tensor(shape=(3,3,1,1), dtype=f64, device=cpu)");
    ty_tensor_release(e4);
    /* test_summarize_2d and test_linewidth_repr (7 twos at width 17 - 6 for "array(") */
    ty_tensor *s2d = tu_arange(2, (int64_t[]){2, 501}, TY_I64);
    expect_format(s2d, NULL,
                  "[[   0,    1,    2, ...,  498,  499,  500],\n"
                  " [ 501,  502,  503, ...,  999, 1000, 1001]]",
                  "tensor(shape=(2,501), dtype=i64, device=cpu)");
    ty_tensor_release(s2d);
    o = ty_print_options_default();
    o.linewidth = 11;
    ty_tensor *twos = ty_empty(1, (int64_t[]){7}, TY_I64, ty_cpu());
    ty_fill_(twos, 2);
    expect_format(twos, &o, "[2, 2, 2,\n 2, 2, 2,\n 2]",
                  "tensor(shape=(7), dtype=i64, device=cpu)");
    ty_tensor_release(twos);
}
END_TEST

Suite *print_suite(void) {
    Suite *s = suite_create("print");
    TCase *tc = tcase_create("print");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_integral_floats);
    tcase_add_test(tc, test_mixed_decimals_align);
    tcase_add_test(tc, test_scientific);
    tcase_add_test(tc, test_nan_inf);
    tcase_add_test(tc, test_integers_and_bool);
    tcase_add_test(tc, test_scalars_and_empty);
    tcase_add_test(tc, test_wrapping);
    tcase_add_test(tc, test_nested_dims);
    tcase_add_test(tc, test_summarised);
    tcase_add_test(tc, test_huge_tensors_print_instantly);
    tcase_add_test(tc, test_views_print_logical_order);
    tcase_add_test(tc, test_precision);
    tcase_add_test(tc, test_sci_mode);
    tcase_add_test(tc, test_f64_and_half_types);
    tcase_add_test(tc, test_global_options_and_print);
    tcase_add_test(tc, test_numpy_reference_cases);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(print_suite());
}
