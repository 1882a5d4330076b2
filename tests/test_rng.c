/* The random stream: Philox known answers, the documented stream layout
 * (recomputed here from the formulas in rng.c's header), seeding,
 * non-overlapping draws, thread-count independence, statistics, and the
 * random creation functions' errors. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- reference stream, written from rng.c's comment ---- */

static void ref_block(uint64_t seed, uint64_t b, uint32_t x[4]) {
    uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), 0, 0};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    ty_philox4x32_10(ctr, key, x);
}

static uint32_t ref_bits32(uint64_t seed, uint64_t first, int64_t i) {
    uint32_t x[4];
    ref_block(seed, first + (uint64_t)(i / 4), x);
    return x[i % 4];
}

static uint64_t ref_bits64(uint64_t seed, uint64_t first, int64_t i) {
    uint32_t x[4];
    ref_block(seed, first + (uint64_t)(i / 2), x);
    int j = (int)(i % 2);
    return (uint64_t)x[2 * j] << 32 | x[2 * j + 1];
}

static float ref_uniform_f32(uint64_t seed, uint64_t first, int64_t i) {
    return (float)(ref_bits32(seed, first, i) >> 8) * 0x1p-24f;
}

static double ref_uniform_f64(uint64_t seed, uint64_t first, int64_t i) {
    return (double)(ref_bits64(seed, first, i) >> 11) * 0x1p-53;
}

static double ref_normal(uint64_t seed, uint64_t first, int64_t i) {
    int64_t j = i / 2;
    uint64_t a = ref_bits64(seed, first, 2 * j), b = ref_bits64(seed, first, 2 * j + 1);
    double u1 = (double)((a >> 11) + 1) * 0x1p-53, u2 = (double)(b >> 11) * 0x1p-53;
    double r = sqrt(-2.0 * log(u1)), t = 2.0 * M_PI * u2;
    return i % 2 == 0 ? r * cos(t) : r * sin(t);
}

/* ---- Philox itself ---- */

START_TEST(test_philox_known_answers) {
    /* Random123's kat_vectors for philox4x32_10. */
    const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                                {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                                {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}};
    const uint32_t key[3][2] = {{0, 0}, {0xffffffff, 0xffffffff}, {0xa4093822, 0x299f31d0}};
    const uint32_t want[3][4] = {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                                 {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                                 {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        ty_philox4x32_10(ctr[t], key[t], out);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(out[j] == want[t][j], "vector %d lane %d: %08x, want %08x", t, j, out[j],
                          want[t][j]);
    }
    /* ty_philox_block is the same function with the documented packing. */
    uint32_t a[4], b[4];
    ty_philox_block(0, 0, a);
    ck_assert_uint_eq(a[0], 0x6627e8d5);
    ck_assert_uint_eq(a[3], 0x9b00dbd8);
    ty_philox_block(0xffffffffffffffffull, 0xffffffffull, a);
    ref_block(0xffffffffffffffffull, 0xffffffffull, b);
    ck_assert(memcmp(a, b, sizeof a) == 0);
}
END_TEST

/* ---- the documented layout, value by value ---- */

START_TEST(test_stream_layout_uniform) {
    const uint64_t seed = 0x0123456789abcdefull;
    ty_generator g;
    ty_generator_init(&g, seed);
    /* 6 f32 uniforms: block 0 lanes 0..3, block 1 lanes 0..1. */
    ty_tensor *a = ty_rand(1, (int64_t[]){6}, TY_F32, &g);
    ck_assert_uint_eq(g.offset, 2);
    const float *af = ty_data(a);
    for (int i = 0; i < 6; i++) ck_assert(af[i] == ref_uniform_f32(seed, 0, i));
    uint32_t x[4];
    ref_block(seed, 1, x);
    ck_assert(af[5] == (float)(x[1] >> 8) / 16777216.0f);
    /* 3 f64 uniforms next: blocks 2 and 3, x0:x1 then x2:x3. */
    ty_tensor *b = ty_rand(1, (int64_t[]){3}, TY_F64, &g);
    ck_assert_uint_eq(g.offset, 4);
    const double *bd = ty_data(b);
    ref_block(seed, 3, x);
    ck_assert(bd[2] == (double)(((uint64_t)x[0] << 32 | x[1]) >> 11) / 9007199254740992.0);
    for (int i = 0; i < 3; i++) ck_assert(bd[i] == ref_uniform_f64(seed, 2, i));
    /* A draw that crosses 2^32 blocks carries into the counter's second
     * word; a seed above 2^32 reaches the key's second word. */
    ty_generator h = {((uint64_t)7 << 32) | 5, 0xfffffffeull};
    ty_tensor *c = ty_rand(1, (int64_t[]){12}, TY_F32, &h);
    ck_assert_uint_eq(h.offset, 0x100000001ull);
    const float *cf = ty_data(c);
    ref_block(h.seed, 0x100000000ull, x);
    ck_assert(cf[8] == (float)(x[0] >> 8) * 0x1p-24f);
    for (int i = 0; i < 12; i++) ck_assert(cf[i] == ref_uniform_f32(h.seed, 0xfffffffeull, i));
    ty_tensor_release(a);
    ty_tensor_release(b);
    ty_tensor_release(c);
}
END_TEST

START_TEST(test_stream_layout_normal) {
    const uint64_t seed = 99;
    ty_generator g;
    ty_generator_init(&g, seed);
    ty_tensor *a = ty_randn(1, (int64_t[]){5}, TY_F64, &g);
    ck_assert_uint_eq(g.offset, 3); /* two per block */
    ty_tensor *b = ty_randn(1, (int64_t[]){5}, TY_F32, &g);
    ck_assert_uint_eq(g.offset, 6);
    ty_tensor *c = ty_normal(3.0, 0.5, 1, (int64_t[]){3}, TY_F32, &g);
    ty_tensor *d = ty_normal(-1.0, 2.0, 1, (int64_t[]){3}, TY_F64, &g);
    ck_assert_uint_eq(g.offset, 10);
    const double *ad = ty_data(a), *dd = ty_data(d);
    const float *bf = ty_data(b), *cf = ty_data(c);
    for (int i = 0; i < 5; i++) {
        ck_assert(ad[i] == ref_normal(seed, 0, i));
        ck_assert(bf[i] == (float)ref_normal(seed, 3, i));
    }
    for (int i = 0; i < 3; i++) {
        ck_assert(cf[i] == (float)(3.0 + 0.5 * ref_normal(seed, 6, i)));
        ck_assert(dd[i] == -1.0 + 2.0 * ref_normal(seed, 8, i));
    }
    /* The same seed gives the same normals in every float dtype. */
    ty_generator_init(&g, seed);
    ty_tensor *e = ty_randn(1, (int64_t[]){5}, TY_F32, &g);
    ty_generator_init(&g, seed);
    ty_tensor *f = ty_randn(1, (int64_t[]){5}, TY_BF16, &g);
    const float *ef = ty_data(e);
    const uint16_t *fh = ty_data(f);
    for (int i = 0; i < 5; i++) {
        ck_assert(ef[i] == (float)ad[i]);
        ck_assert_uint_eq(fh[i], ty_f32_to_bf16(ef[i]));
    }
    ty_tensor_release(a);
    ty_tensor_release(b);
    ty_tensor_release(c);
    ty_tensor_release(d);
    ty_tensor_release(e);
    ty_tensor_release(f);
}
END_TEST

START_TEST(test_stream_layout_integers) {
    const uint64_t seed = 2024;
    ty_generator g;
    ty_generator_init(&g, seed);
    /* range 12 <= 2^32: one lane per element, low + (x * r) >> 32 */
    ty_tensor *a = ty_randint(-5, 7, 1, (int64_t[]){5}, TY_I64, &g);
    ck_assert_uint_eq(g.offset, 2);
    const int64_t *ai = ty_data(a);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(ai[i], -5 + (int64_t)(((uint64_t)ref_bits32(seed, 0, i) * 12) >> 32));
    /* range 2^40 > 2^32: bits64 per element, the high word of the product */
    int64_t big = (int64_t)1 << 40;
    ty_tensor *b = ty_randint(0, big, 1, (int64_t[]){3}, TY_I64, &g);
    ck_assert_uint_eq(g.offset, 4);
    const int64_t *bi = ty_data(b);
    for (int i = 0; i < 3; i++) {
        /* x * 2^40 >> 64 is x >> 24 */
        ck_assert_int_eq(bi[i], (int64_t)(ref_bits64(seed, 2, i) >> 24));
    }
    /* the whole int64 range: r = 2^64 - 1 */
    ty_tensor *w = ty_randint(INT64_MIN, INT64_MAX, 1, (int64_t[]){2}, TY_I64, &g);
    ck_assert_uint_eq(g.offset, 5);
    const int64_t *wi = ty_data(w);
    for (int i = 0; i < 2; i++) {
        uint64_t x = ref_bits64(seed, 4, i);
        /* high word of x * (2^64 - 1) is x - 1 for x > 0 */
        uint64_t hi = x ? x - 1 : 0;
        ck_assert_int_eq(wi[i], (int64_t)((uint64_t)INT64_MIN + hi));
    }
    /* bernoulli: 1 iff u < p, u the f32 uniform */
    ty_tensor *c = ty_bernoulli_scalar(0.5, 1, (int64_t[]){7}, TY_U8, &g);
    ck_assert_uint_eq(g.offset, 7);
    const uint8_t *cu = ty_data(c);
    for (int i = 0; i < 7; i++) ck_assert_int_eq(cu[i], ref_uniform_f32(seed, 5, i) < 0.5);
    /* randperm: indices sorted by their bits64 key */
    ty_tensor *p = ty_randperm(5, TY_I64, &g);
    ck_assert_uint_eq(g.offset, 10);
    const int64_t *pi = ty_data(p);
    for (int i = 0; i + 1 < 5; i++)
        ck_assert(ref_bits64(seed, 7, pi[i]) < ref_bits64(seed, 7, pi[i + 1]));
    ty_tensor_release(a);
    ty_tensor_release(b);
    ty_tensor_release(w);
    ty_tensor_release(c);
    ty_tensor_release(p);
}
END_TEST

START_TEST(test_raw_bits_and_block_counts) {
    uint32_t b32[7];
    uint64_t b64[5];
    ty_philox_bits32(5, 10, b32, 7);
    ty_philox_bits64(5, 10, b64, 5);
    for (int i = 0; i < 7; i++) ck_assert_uint_eq(b32[i], ref_bits32(5, 10, i));
    for (int i = 0; i < 5; i++) ck_assert(b64[i] == ref_bits64(5, 10, i));
    /* bits64 is made of bits32's lanes, high word first */
    ck_assert(b64[0] == ((uint64_t)b32[0] << 32 | b32[1]));
    ck_assert(b64[1] == ((uint64_t)b32[2] << 32 | b32[3]));
    ck_assert_uint_eq(ty_philox_blocks_uniform_f32(0), 0);
    ck_assert_uint_eq(ty_philox_blocks_uniform_f32(9), 3);
    ck_assert_uint_eq(ty_philox_blocks_uniform_f64(9), 5);
    ck_assert_uint_eq(ty_philox_blocks_normal(4), 2);
    ck_assert_uint_eq(ty_philox_blocks_randint((uint64_t)1 << 32, 9), 3);
    ck_assert_uint_eq(ty_philox_blocks_randint(((uint64_t)1 << 32) + 1, 9), 5);
    ty_generator g;
    ty_generator_init(&g, 1);
    ck_assert_uint_eq(ty_generator_reserve(&g, 3), 0);
    ck_assert_uint_eq(ty_generator_reserve(&g, 2), 3);
    ck_assert_uint_eq(g.offset, 5);
}
END_TEST

/* ---- seeding and draws ---- */

static bool same_bytes(const ty_tensor *a, const ty_tensor *b) {
    return ty_nbytes(a) == ty_nbytes(b) &&
           memcmp(ty_data(a), ty_data(b), (size_t)ty_nbytes(a)) == 0;
}

START_TEST(test_same_seed_same_numbers) {
    int64_t shape[2] = {7, 9};
    ty_manual_seed(42);
    ty_tensor *a = ty_randn(2, shape, TY_F32, NULL);
    ty_tensor *a2 = ty_rand(2, shape, TY_F64, NULL);
    ck_assert_uint_eq(ty_default_generator()->seed, 42);
    ty_manual_seed(42);
    ck_assert_uint_eq(ty_default_generator()->offset, 0);
    ty_tensor *b = ty_randn(2, shape, TY_F32, NULL);
    ty_tensor *b2 = ty_rand(2, shape, TY_F64, NULL);
    ck_assert(same_bytes(a, b));
    ck_assert(same_bytes(a2, b2));
    /* a local generator with the same seed gives the same stream */
    ty_generator g;
    ty_generator_init(&g, 42);
    ty_tensor *c = ty_randn(2, shape, TY_F32, &g);
    ck_assert(same_bytes(a, c));
    /* a different seed gives different numbers */
    ty_manual_seed(43);
    ty_tensor *d = ty_randn(2, shape, TY_F32, NULL);
    const float *ad = ty_data(a), *dd = ty_data(d);
    int equal = 0;
    for (int i = 0; i < 63; i++) equal += ad[i] == dd[i];
    ck_assert_int_eq(equal, 0);
    ty_tensor *ts[] = {a, a2, b, b2, c, d};
    for (int i = 0; i < 6; i++) ty_tensor_release(ts[i]);
}
END_TEST

START_TEST(test_consecutive_draws_do_not_overlap) {
    ty_generator g, h;
    ty_generator_init(&g, 7);
    ty_generator_init(&h, 7);
    ty_tensor *a = ty_rand(1, (int64_t[]){10}, TY_F32, &g); /* blocks 0..2 */
    ty_tensor *b = ty_rand(1, (int64_t[]){10}, TY_F32, &g); /* blocks 3..5 */
    ty_tensor *all = ty_rand(1, (int64_t[]){24}, TY_F32, &h);
    const float *af = ty_data(a), *bf = ty_data(b), *all_f = ty_data(all);
    for (int i = 0; i < 10; i++) {
        ck_assert(af[i] == all_f[i]);
        ck_assert(bf[i] == all_f[12 + i]);
        for (int j = 0; j < 10; j++) ck_assert(af[i] != bf[j]);
    }
    /* every kind of draw moves the generator on */
    uint64_t before = g.offset;
    ty_tensor *ts[6];
    ts[0] = ty_randn(1, (int64_t[]){3}, TY_F32, &g);
    ts[1] = ty_randint(0, 3, 1, (int64_t[]){3}, TY_I64, &g);
    ts[2] = ty_bernoulli_scalar(0.5, 1, (int64_t[]){3}, TY_F32, &g);
    ts[3] = ty_randperm(3, TY_I64, &g);
    ts[4] = ty_normal(0, 1, 1, (int64_t[]){3}, TY_F64, &g);
    ts[5] = ty_rand(0, NULL, TY_F32, &g); /* a 0-d scalar: one element */
    ck_assert_uint_eq(g.offset, before + 2 + 1 + 1 + 2 + 2 + 1);
    ck_assert_int_eq(ts[5]->ndim, 0);
    for (int i = 0; i < 6; i++) ty_tensor_release(ts[i]);
    /* an empty draw uses no blocks */
    before = g.offset;
    ty_tensor *e = ty_randn(2, (int64_t[]){0, 5}, TY_F32, &g);
    ck_assert_int_eq(ty_numel(e), 0);
    ck_assert_uint_eq(g.offset, before);
    ty_tensor_release(e);
    ty_tensor_release(a);
    ty_tensor_release(b);
    ty_tensor_release(all);
}
END_TEST

/* Draws every kind of tensor at the current thread count. */
static void draw_all(ty_tensor **out, int64_t n) {
    ty_generator g;
    ty_generator_init(&g, 123);
    out[0] = ty_rand(1, &n, TY_F32, &g);
    out[1] = ty_rand(1, &n, TY_F64, &g);
    out[2] = ty_randn(1, &n, TY_F32, &g);
    out[3] = ty_randn(1, &n, TY_F64, &g);
    out[4] = ty_randint(-3, 1000, 1, &n, TY_I64, &g);
    out[5] = ty_randint(0, (int64_t)1 << 50, 1, &n, TY_I64, &g);
    out[6] = ty_bernoulli_scalar(0.3, 1, &n, TY_BOOL, &g);
    out[7] = ty_randperm(n, TY_I64, &g);
    out[8] = ty_normal(1, 3, 1, &n, TY_F32, &g);
    out[9] = ty_rand(1, &n, TY_BF16, &g);
}

START_TEST(test_thread_count_independence) {
    int saved = ty_get_num_threads();
    /* odd, and large enough that the loops do go parallel */
    int64_t n = 2 * 65536 + 3;
    ty_tensor *one[10], *two[10], *four[10];
    ty_set_num_threads(1);
    draw_all(one, n);
    ty_set_num_threads(2);
    draw_all(two, n);
    ty_set_num_threads(4);
    draw_all(four, n);
    ty_set_num_threads(saved);
    for (int k = 0; k < 10; k++) {
        ck_assert_msg(same_bytes(one[k], two[k]), "draw %d differs between 1 and 2 threads", k);
        ck_assert_msg(same_bytes(one[k], four[k]), "draw %d differs between 1 and 4 threads", k);
        ty_tensor_release(one[k]);
        ty_tensor_release(two[k]);
        ty_tensor_release(four[k]);
    }
}
END_TEST

START_TEST(test_chunked_draw_matches_stream) {
    /* Past one fill chunk (2^20 elements) the stream carries on unbroken. */
    int64_t n = ((int64_t)1 << 20) + 5;
    ty_generator g;
    ty_generator_init(&g, 11);
    ty_tensor *a = ty_rand(1, &n, TY_F32, &g);
    ty_tensor *b = ty_randn(1, &n, TY_F64, &g);
    const float *af = ty_data(a);
    const double *bd = ty_data(b);
    uint64_t nb = ty_philox_blocks_uniform_f32(n);
    for (int64_t i = n - 12; i < n; i++) {
        ck_assert(af[i] == ref_uniform_f32(11, 0, i));
        ck_assert(bd[i] == ref_normal(11, nb, i));
    }
    ty_tensor_release(a);
    ty_tensor_release(b);
}
END_TEST

/* ---- statistics ---- */

static void moments(const ty_tensor *t, double *mean, double *var, double *lo, double *hi) {
    int64_t n = ty_numel(t);
    double s = 0, s2 = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double v = t->dtype == TY_F32   ? ((const float *)ty_data(t))[i]
                   : t->dtype == TY_F64 ? ((const double *)ty_data(t))[i]
                                        : ty_get_flat(t, i);
        s += v;
        s2 += v * v;
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
    }
    *mean = s / (double)n;
    *var = s2 / (double)n - *mean * *mean;
}

START_TEST(test_uniform_statistics) {
    int64_t n = 1000000;
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int k = 0; k < 2; k++) {
        ty_tensor *u = ty_rand(1, &n, dts[k], NULL);
        double mean, var, lo, hi;
        moments(u, &mean, &var, &lo, &hi);
        /* the mean's standard error is 0.29e-3, the variance's 0.075e-3 */
        ck_assert_msg(fabs(mean - 0.5) < 2e-3, "mean %g", mean);
        ck_assert_msg(fabs(var - 1.0 / 12) < 1e-3, "var %g", var);
        ck_assert(lo >= 0 && lo < 1e-5 && hi < 1 && hi > 1 - 1e-5);
        ty_tensor_release(u);
    }
    /* half uniforms stay below 1 even where f32 values round up to it */
    int64_t m = 200000;
    ty_dtype halves[2] = {TY_BF16, TY_F16};
    for (int k = 0; k < 2; k++) {
        ty_generator g, h;
        ty_generator_init(&g, 5);
        ty_generator_init(&h, 5);
        ty_tensor *u = ty_rand(1, &m, halves[k], &g);
        ty_tensor *f = ty_rand(1, &m, TY_F32, &h);
        const uint16_t *uh = ty_data(u);
        const float *ff = ty_data(f);
        uint16_t one = halves[k] == TY_F16 ? 0x3C00 : 0x3F80;
        /* (Check's asserts are slow in bulk: loops count, then assert once.) */
        int top = 0, bad = 0;
        for (int64_t i = 0; i < m; i++) {
            uint16_t r = halves[k] == TY_F16 ? ty_f32_to_f16(ff[i]) : ty_f32_to_bf16(ff[i]);
            top += r == one;
            bad += uh[i] != (r == one ? one - 1 : r);
        }
        ck_assert_int_eq(bad, 0);
        ck_assert_int_gt(top, 0); /* the case was exercised */
        double mean, var, lo, hi;
        moments(u, &mean, &var, &lo, &hi);
        ck_assert(lo >= 0 && hi < 1 && fabs(mean - 0.5) < 5e-3);
        ty_tensor_release(u);
        ty_tensor_release(f);
    }
}
END_TEST

START_TEST(test_normal_statistics) {
    int64_t n = 1000000;
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int k = 0; k < 2; k++) {
        ty_tensor *z = ty_randn(1, &n, dts[k], NULL);
        double mean, var, lo, hi;
        moments(z, &mean, &var, &lo, &hi);
        ck_assert_msg(fabs(mean) < 5e-3, "mean %g", mean);
        ck_assert_msg(fabs(var - 1) < 1e-2, "var %g", var);
        ck_assert(lo < -4 && hi > 4 && isfinite(lo) && isfinite(hi));
        int64_t within = 0;
        for (int64_t i = 0; i < n; i++) within += fabs(ty_get_flat(z, i)) < 1;
        ck_assert_msg(fabs((double)within / (double)n - 0.682689) < 3e-3, "P(|z|<1) = %g",
                      (double)within / (double)n);
        ty_tensor_release(z);
    }
    ty_tensor *y = ty_normal(3, 2, 1, &n, TY_F32, NULL);
    double mean, var, lo, hi;
    moments(y, &mean, &var, &lo, &hi);
    ck_assert_msg(fabs(mean - 3) < 1e-2 && fabs(var - 4) < 4e-2, "mean %g var %g", mean, var);
    ty_tensor_release(y);
    /* std 0 gives the mean exactly; half dtypes round the f32 draw */
    ty_tensor *c = ty_normal(1.5, 0, 1, (int64_t[]){4}, TY_F16, NULL);
    tu_assert_values(c, ((double[]){1.5, 1.5, 1.5, 1.5}), 4, 0);
    ty_tensor_release(c);
}
END_TEST

START_TEST(test_randint_statistics) {
    int64_t n = 1000000;
    ty_tensor *r = ty_randint(-3, 7, 1, &n, TY_I64, NULL);
    int64_t count[10] = {0};
    const int64_t *ri = ty_data(r);
    int64_t outside = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ri[i] >= -3 && ri[i] < 7)
            count[ri[i] + 3]++;
        else
            outside++;
    }
    ck_assert_int_eq(outside, 0);
    double chi2 = 0, e = (double)n / 10;
    for (int b = 0; b < 10; b++) chi2 += (count[b] - e) * (count[b] - e) / e;
    /* 9 degrees of freedom: P(chi2 > 33) < 1e-4 */
    ck_assert_msg(chi2 < 33, "chi2 %g", chi2);
    ty_tensor_release(r);
    /* u8 over its whole range, every value hit */
    ty_tensor *u = ty_randint(0, 256, 1, &n, TY_U8, NULL);
    int64_t c8[256] = {0};
    const uint8_t *uu = ty_data(u);
    for (int64_t i = 0; i < n; i++) c8[uu[i]]++;
    chi2 = 0;
    e = (double)n / 256;
    for (int b = 0; b < 256; b++) chi2 += (c8[b] - e) * (c8[b] - e) / e;
    ck_assert_msg(chi2 < 255 + 5 * sqrt(2 * 255.0), "chi2 %g", chi2);
    ty_tensor_release(u);
    /* a range above 2^32 uses its top half too */
    int64_t m = 100000, big = (int64_t)3 << 40;
    ty_tensor *w = ty_randint(-big, big, 1, &m, TY_I64, NULL);
    const int64_t *wi = ty_data(w);
    int64_t above = 0;
    outside = 0;
    for (int64_t i = 0; i < m; i++) {
        outside += wi[i] < -big || wi[i] >= big;
        above += wi[i] >= big / 2;
    }
    ck_assert_int_eq(outside, 0);
    ck_assert_msg(fabs((double)above / (double)m - 0.25) < 0.01, "%lld above", (long long)above);
    ty_tensor_release(w);
    /* float dtypes hold the integers exactly; a single value is constant */
    ty_tensor *f = ty_randint(5, 6, 1, (int64_t[]){3}, TY_F32, NULL);
    tu_assert_values(f, ((double[]){5, 5, 5}), 3, 0);
    ty_tensor_release(f);
}
END_TEST

START_TEST(test_bernoulli_statistics) {
    int64_t n = 1000000;
    ty_tensor *b = ty_bernoulli_scalar(0.3, 1, &n, TY_F32, NULL);
    double mean, var, lo, hi;
    moments(b, &mean, &var, &lo, &hi);
    ck_assert_msg(fabs(mean - 0.3) < 2e-3, "mean %g", mean);
    ck_assert(lo == 0 && hi == 1 && fabs(var - mean * (1 - mean)) < 1e-9);
    ty_tensor_release(b);
    /* p = 0 and p = 1 are exact */
    ty_tensor *z = ty_bernoulli_scalar(0, 1, (int64_t[]){1000}, TY_BOOL, NULL);
    ty_tensor *o = ty_bernoulli_scalar(1, 1, (int64_t[]){1000}, TY_I64, NULL);
    for (int64_t i = 0; i < 1000; i++) {
        ck_assert_int_eq(((const uint8_t *)ty_data(z))[i], 0);
        ck_assert_int_eq(((const int64_t *)ty_data(o))[i], 1);
    }
    ty_tensor_release(z);
    ty_tensor_release(o);
}
END_TEST

START_TEST(test_bernoulli_tensor) {
    /* per-element p, strided and in each float dtype: p 0 and 1 exact, p
     * 0.5 about half, the result in p's dtype and shape */
    ty_dtype dts[4] = {TY_F32, TY_F64, TY_BF16, TY_F16};
    int64_t rows = 4, cols = 50000;
    for (int k = 0; k < 4; k++) {
        ty_tensor *base = ty_empty(2, (int64_t[]){cols, rows}, dts[k], ty_cpu());
        for (int64_t i = 0; i < cols; i++) {
            double pv[4] = {0, 1, 0.5, 0.25};
            for (int r = 0; r < rows; r++)
                ty_store_from_double((char *)ty_data(base) +
                                         (i * rows + r) * (int64_t)ty_dtype_size(dts[k]),
                                     dts[k], pv[r]);
        }
        ty_tensor *p = ty_transpose(base, 0, 1); /* (rows, cols), not contiguous */
        ty_generator g;
        ty_generator_init(&g, 17);
        ty_tensor *b = ty_bernoulli(p, &g);
        ck_assert_int_eq(b->dtype, dts[k]);
        ck_assert_int_eq(b->ndim, 2);
        ck_assert_int_eq(b->shape[0], rows);
        ck_assert(ty_is_contiguous(b));
        ck_assert_uint_eq(g.offset, ty_philox_blocks_uniform_f32(rows * cols));
        double sum[4] = {0};
        int64_t not01 = 0;
        for (int r = 0; r < rows; r++) {
            for (int64_t i = 0; i < cols; i++) {
                double v = ty_get_flat(b, r * cols + i);
                not01 += v != 0 && v != 1;
                sum[r] += v;
            }
        }
        ck_assert_int_eq(not01, 0);
        ck_assert(sum[0] == 0 && sum[1] == cols);
        ck_assert_msg(fabs(sum[2] / cols - 0.5) < 0.01 && fabs(sum[3] / cols - 0.25) < 0.01,
                      "%s: %g %g", ty_dtype_name(dts[k]), sum[2] / cols, sum[3] / cols);
        /* element i is u(i) < p(i) */
        for (int64_t i = 2 * cols; i < 2 * cols + 100; i++)
            ck_assert(ty_get_flat(b, i) == (ref_uniform_f32(17, 0, i) < 0.5));
        ty_tensor_release(b);
        ty_tensor_release(p);
        ty_tensor_release(base);
    }
    /* a 0-d p */
    ty_tensor *s = ty_scalar(1.0, TY_F64);
    ty_tensor *b = ty_bernoulli(s, NULL);
    ck_assert_int_eq(b->ndim, 0);
    ck_assert(ty_get_flat(b, 0) == 1);
    ty_tensor_release(s);
    ty_tensor_release(b);
}
END_TEST

static bool is_permutation(const ty_tensor *t, int64_t n) {
    if (t->ndim != 1 || t->shape[0] != n) return false;
    char *seen = calloc((size_t)n + 1, 1);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; i++) {
        double v = ty_get_flat(t, i);
        int64_t k = (int64_t)v;
        ok = v == (double)k && k >= 0 && k < n && !seen[k];
        if (ok) seen[k] = 1;
    }
    free(seen);
    return ok;
}

START_TEST(test_randperm) {
    int64_t sizes[6] = {0, 1, 2, 17, 1000, 100003};
    for (int k = 0; k < 6; k++) {
        ty_tensor *p = ty_randperm(sizes[k], TY_I64, NULL);
        ck_assert_msg(is_permutation(p, sizes[k]), "randperm(%lld)", (long long)sizes[k]);
        ty_tensor_release(p);
    }
    /* other dtypes up to their exact limit */
    ty_tensor *u = ty_randperm(256, TY_U8, NULL);
    ty_tensor *f = ty_randperm(2048 + 1, TY_F16, NULL);
    ty_tensor *d = ty_randperm(300, TY_F64, NULL);
    ck_assert(is_permutation(u, 256) && is_permutation(f, 2049) && is_permutation(d, 300));
    ty_tensor_release(u);
    ty_tensor_release(f);
    ty_tensor_release(d);
    /* every value is equally likely in the first place */
    int64_t first[5] = {0};
    ty_generator g;
    ty_generator_init(&g, 3);
    int trials = 20000;
    for (int t = 0; t < trials; t++) {
        ty_tensor *p = ty_randperm(5, TY_I64, &g);
        first[((const int64_t *)ty_data(p))[0]]++;
        ty_tensor_release(p);
    }
    double chi2 = 0, e = trials / 5.0;
    for (int b = 0; b < 5; b++) chi2 += (first[b] - e) * (first[b] - e) / e;
    ck_assert_msg(chi2 < 23, "chi2 %g", chi2); /* 4 dof: P(> 23) < 2e-4 */
    /* a large permutation is not nearly the identity */
    ty_tensor *p = ty_randperm(1000, TY_I64, NULL);
    int fixed = 0;
    for (int i = 0; i < 1000; i++) fixed += ((const int64_t *)ty_data(p))[i] == i;
    ck_assert_int_lt(fixed, 10);
    ty_tensor_release(p);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_random_errors) {
    ty_generator g;
    ty_generator_init(&g, 1);
    int64_t s3[1] = {3};
    tu_assert_error(ty_rand(1, s3, TY_I64, &g) == NULL, "rand", "i64", "not a floating type");
    tu_assert_error(ty_randn(1, s3, TY_U8, &g) == NULL, "randn", "u8");
    tu_assert_error(ty_normal(0, 1, 1, s3, TY_BOOL, &g) == NULL, "normal", "bool");
    tu_assert_error(ty_normal(0, -1, 1, s3, TY_F32, &g) == NULL, "normal", "std -1");
    tu_assert_error(ty_normal(NAN, 1, 1, s3, TY_F32, &g) == NULL, "normal", "nan");
    tu_assert_error(ty_rand(2, (int64_t[]){2, -3}, TY_F32, &g) == NULL, "rand", "negative size",
                    "-3", "(2,-3)");
    tu_assert_error(ty_randn(17, (int64_t[17]){0}, TY_F32, &g) == NULL, "randn", "17 dims");
    tu_assert_error(ty_rand(1, s3, (ty_dtype)42, &g) == NULL, "rand", "bad dtype 42");
    tu_assert_error(ty_rand(1, (int64_t[]){INT64_MAX / 2}, TY_F32, &g) == NULL, "rand",
                    "too large");
    tu_assert_error(ty_randint(5, 5, 1, s3, TY_I64, &g) == NULL, "randint", "low 5", "high 5");
    tu_assert_error(ty_randint(7, 2, 1, s3, TY_I64, &g) == NULL, "randint", "low 7", "high 2");
    tu_assert_error(ty_randint(0, 300, 1, s3, TY_U8, &g) == NULL, "randint", "[0, 300)", "u8");
    tu_assert_error(ty_randint(-1, 1, 1, s3, TY_BOOL, &g) == NULL, "randint", "[-1, 1)", "bool");
    tu_assert_error(ty_randint(0, 4, 1, (int64_t[]){-1}, TY_I64, &g) == NULL, "randint", "-1");
    tu_assert_error(ty_bernoulli_scalar(1.5, 1, s3, TY_F32, &g) == NULL, "bernoulli", "[0, 1]",
                    "1.5");
    tu_assert_error(ty_bernoulli_scalar(-0.1, 1, s3, TY_F32, &g) == NULL, "bernoulli", "-0.1");
    tu_assert_error(ty_bernoulli_scalar(NAN, 1, s3, TY_F32, &g) == NULL, "bernoulli", "nan");
    ty_tensor *p = ty_from_buffer((float[]){0.5f, 0.1f, 1.5f}, 1, s3, TY_F32);
    tu_assert_error(ty_bernoulli(p, &g) == NULL, "bernoulli", "1.5", "index 2");
    ty_tensor *pi = ty_from_buffer((int64_t[]){0, 1, 1}, 1, s3, TY_I64);
    tu_assert_error(ty_bernoulli(pi, &g) == NULL, "bernoulli", "floating", "i64");
    tu_assert_error(ty_randperm(-1, TY_I64, &g) == NULL, "randperm", "-1");
    tu_assert_error(ty_randperm(300, TY_U8, &g) == NULL, "randperm", "300", "u8");
    tu_assert_error(ty_randperm(3000, TY_F16, &g) == NULL, "randperm", "3000", "f16");
    tu_assert_error(ty_randperm(3, TY_BOOL, &g) == NULL, "randperm", "bool");
    /* none of the failures used the generator */
    ck_assert_uint_eq(g.offset, 0);
    ty_tensor_release(p);
    ty_tensor_release(pi);
}
END_TEST

START_TEST(test_interrupted_draw_leaves_generator) {
    /* a draw over more than one chunk polls the interrupt flag */
    int64_t n = ((int64_t)1 << 20) * 2;
    ty_generator g;
    ty_generator_init(&g, 1);
    ty_interrupt();
    tu_assert_error(ty_rand(1, &n, TY_F32, &g) == NULL, "rand", "interrupted");
    ck_assert_uint_eq(g.offset, 0);
    ty_interrupt();
    tu_assert_error(ty_randint(0, 9, 1, &n, TY_U8, &g) == NULL, "randint", "interrupted");
    ty_interrupt();
    tu_assert_error(ty_bernoulli_scalar(0.5, 1, &n, TY_BOOL, &g) == NULL, "bernoulli",
                    "interrupted");
    ty_interrupt();
    tu_assert_error(ty_randperm(n, TY_I64, &g) == NULL, "randperm", "interrupted");
    ck_assert_uint_eq(g.offset, 0);
    ck_assert(!ty_interrupted());
    /* the next draw runs normally and starts where it would have */
    ty_tensor *t = ty_rand(1, (int64_t[]){4}, TY_F32, &g);
    ck_assert(((const float *)ty_data(t))[0] == ref_uniform_f32(1, 0, 0));
    ty_tensor_release(t);
}
END_TEST

static Suite *rng_suite(void) {
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("rng");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_philox_known_answers);
    tcase_add_test(tc, test_stream_layout_uniform);
    tcase_add_test(tc, test_stream_layout_normal);
    tcase_add_test(tc, test_stream_layout_integers);
    tcase_add_test(tc, test_raw_bits_and_block_counts);
    tcase_add_test(tc, test_same_seed_same_numbers);
    tcase_add_test(tc, test_consecutive_draws_do_not_overlap);
    tcase_add_test(tc, test_thread_count_independence);
    tcase_add_test(tc, test_chunked_draw_matches_stream);
    tcase_add_test(tc, test_uniform_statistics);
    tcase_add_test(tc, test_normal_statistics);
    tcase_add_test(tc, test_randint_statistics);
    tcase_add_test(tc, test_bernoulli_statistics);
    tcase_add_test(tc, test_bernoulli_tensor);
    tcase_add_test(tc, test_randperm);
    tcase_add_test(tc, test_random_errors);
    tcase_add_test(tc, test_interrupted_draw_leaves_generator);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(rng_suite());
}
