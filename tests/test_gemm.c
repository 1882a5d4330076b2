/* tycho's own f32 GEMM (src/gemm.c) against a double-precision reference,
 * over shapes that hit every edge of its blocking (partial 6 x 16 tiles,
 * K above one 256-deep block, M above one 96-row block), every operand
 * layout (transposed, strided), alpha and beta, one and two threads; and
 * the vectorisable exp and erf of src/vecmath.h against libm. */
#include <stdlib.h>

#include "gemm.h"
#include "parallel.h"
#include "testutil.h"
#include "vecmath.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / (float)0x1000000 - 0.5f;
}

/* C = alpha A B + beta C0 with A, B read through (rs, cs) strides; checks
 * every element against a double reference to a tolerance scaled by K. */
static void check_product(int64_t M, int64_t N, int64_t K, int ta, int tb, int64_t pad, float alpha,
                          float beta) {
    uint64_t seed = (uint64_t)(M * 131 + N * 17 + K * 7 + ta * 3 + tb);
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    float *a = malloc(sizeof(float) * (size_t)((ta ? K : M) * lda + 1));
    float *b = malloc(sizeof(float) * (size_t)((tb ? N : K) * ldb + 1));
    float *c = malloc(sizeof(float) * (size_t)(M * ldc + 1));
    double *want = malloc(sizeof(double) * (size_t)(M * N + 1));
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(want);
    for (int64_t i = 0; i < (ta ? K : M) * lda; i++) a[i] = frand(&seed);
    for (int64_t i = 0; i < (tb ? N : K) * ldb; i++) b[i] = frand(&seed);
    for (int64_t i = 0; i < M * ldc; i++) c[i] = frand(&seed);
    int64_t ars = ta ? 1 : lda, acs = ta ? lda : 1, brs = tb ? 1 : ldb, bcs = tb ? ldb : 1;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (double)a[i * ars + k * acs] * b[k * brs + j * bcs];
            want[i * N + j] = alpha * s + (beta != 0 ? beta * (double)c[i * ldc + j] : 0);
        }
    if (beta == 0) /* beta 0 must not read C: NaN there must not leak in */
        for (int64_t i = 0; i < M * ldc; i++) c[i] = NAN;
    ck_assert_int_eq(ty_sgemm(M, N, K, alpha, a, ars, acs, b, brs, bcs, beta, c, ldc), 0);
    double tol = 1e-5 * (double)(K + 1);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            ck_assert_msg(fabs(c[i * ldc + j] - want[i * N + j]) <= tol,
                          "%lldx%lldx%lld ta=%d tb=%d: C[%lld][%lld] = %g, expected %g",
                          (long long)M, (long long)N, (long long)K, ta, tb, (long long)i,
                          (long long)j, c[i * ldc + j], want[i * N + j]);
    free(a);
    free(b);
    free(c);
    free(want);
}

START_TEST(test_gemm_shapes_and_layouts) {
    static const int64_t shapes[][3] = {{1, 1, 1},    {5, 7, 3},    {6, 16, 8},    {7, 17, 9},
                                        {50, 50, 16}, {50, 16, 50}, {97, 33, 300}, {200, 70, 64},
                                        {13, 300, 2}, {1, 40, 513}};
    for (int threads = 1; threads <= 2; threads++) {
        ty_set_num_threads(threads);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++)
                    check_product(shapes[s][0], shapes[s][1], shapes[s][2], ta, tb,
                                  (ta + tb) % 2 ? 3 : 0, 1.0f, 0.0f);
    }
}
END_TEST

START_TEST(test_gemm_alpha_beta_and_big) {
    ty_set_num_threads(2);
    check_product(37, 29, 45, 0, 1, 2, 0.5f, 1.0f);
    check_product(37, 29, 45, 1, 0, 0, -2.0f, 0.25f);
    check_product(300, 200, 600, 0, 1, 0, 1.0f, 1.0f); /* several K blocks, many tasks */
    /* K = 0: C = beta C */
    float c[4] = {1, 2, 3, 4}, dummy = 0;
    ck_assert_int_eq(ty_sgemm(2, 2, 0, 1.0f, &dummy, 1, 1, &dummy, 1, 1, 0.5f, c, 2), 0);
    ck_assert_float_eq(c[3], 2.0f);
    ck_assert_int_eq(ty_sgemm(2, 2, 0, 1.0f, &dummy, 1, 1, &dummy, 1, 1, 0.0f, c, 2), 0);
    ck_assert_float_eq(c[0], 0.0f);
}
END_TEST

START_TEST(test_vecmath_exp_erf) {
    double worst_exp = 0, worst_erf = 0;
    for (float x = -87.0f; x < 88.7f; x += 0.001f) {
        double e = exp((double)x);
        worst_exp = fmax(worst_exp, fabs(ty_expf(x) - e) / e);
    }
    for (float x = -10.0f; x < 10.0f; x += 0.0001f)
        worst_erf = fmax(worst_erf, fabs(ty_erff(x) - erf((double)x)));
    ck_assert_msg(worst_exp < 3e-7, "exp relative error %g", worst_exp);
    ck_assert_msg(worst_erf < 4e-7, "erf absolute error %g", worst_erf);
    ck_assert(isinf(ty_expf(100.0f)) && ty_expf(100.0f) > 0);
    ck_assert_float_eq(ty_expf(-100.0f), 0.0f);
    ck_assert(isnan(ty_expf(NAN)) && isnan(ty_erff(NAN)));
    ck_assert_float_eq(ty_erff(0.0f), 0.0f);
    ck_assert_float_eq(ty_erff(12.0f), 1.0f);
    ck_assert_float_eq(ty_erff(-12.0f), -1.0f);
    /* near 0 erf is relative-accurate (Taylor branch) */
    ck_assert(fabs(ty_erff(1e-4f) / erf(1e-4) - 1) < 1e-6);
}
END_TEST

Suite *gemm_suite(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gemm_shapes_and_layouts);
    tcase_add_test(tc, test_gemm_alpha_beta_and_big);
    tcase_add_test(tc, test_vecmath_exp_erf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(gemm_suite());
}
