/* Tensor creation (zeros, ones, full, the _like forms, arange, linspace,
 * eye) with exact expected values, and dropout: scaling, the mask's
 * stream, reusing the mask for the backward, p edge cases, bad input. */
#include <string.h>

#include "testutil.h"

static const ty_dtype all_dtypes[7] = {TY_BOOL, TY_U8, TY_I64, TY_BF16, TY_F16, TY_F32, TY_F64};

/* ---- constant fills ---- */

START_TEST(test_zeros_ones_full) {
    int64_t shape[3] = {2, 3, 4};
    for (int k = 0; k < 7; k++) {
        ty_dtype dt = all_dtypes[k];
        ty_tensor *z = ty_zeros(3, shape, dt, ty_cpu());
        ty_tensor *o = ty_ones(3, shape, dt, ty_cpu());
        ty_tensor *f = ty_full(3, shape, dt == TY_BOOL ? 1 : 7, dt, ty_cpu());
        ck_assert(z && o && f);
        ck_assert_int_eq(z->dtype, dt);
        ck_assert_int_eq(f->ndim, 3);
        ck_assert(ty_is_contiguous(z) && ty_is_contiguous(o) && ty_is_contiguous(f));
        for (int64_t i = 0; i < 24; i++) {
            ck_assert(ty_get_flat(z, i) == 0);
            ck_assert(ty_get_flat(o, i) == 1);
            ck_assert(ty_get_flat(f, i) == (dt == TY_BOOL ? 1 : 7));
        }
        ty_tensor_release(z);
        ty_tensor_release(o);
        ty_tensor_release(f);
    }
    /* conversions as ty_fill_ does them */
    ty_tensor *a = ty_full(1, (int64_t[]){2}, -2.7, TY_I64, ty_cpu());
    ty_tensor *b = ty_full(1, (int64_t[]){2}, 2.5, TY_BF16, ty_cpu());
    ty_tensor *c = ty_full(1, (int64_t[]){2}, 0.1, TY_F32, ty_cpu());
    ty_tensor *d = ty_full(1, (int64_t[]){2}, NAN, TY_F64, ty_cpu());
    tu_assert_values(a, ((double[]){-2, -2}), 2, 0);
    tu_assert_values(b, ((double[]){2.5, 2.5}), 2, 0);
    ck_assert(((const float *)ty_data(c))[1] == 0.1f);
    ck_assert(isnan(ty_get_flat(d, 0)) && isnan(ty_get_flat(d, 1)));
    /* 0-d and empty shapes */
    ty_tensor *s = ty_full(0, NULL, 3.5, TY_F32, ty_cpu());
    ty_tensor *e = ty_zeros(2, (int64_t[]){0, 5}, TY_F64, ty_cpu());
    ty_tensor *e1 = ty_ones(2, (int64_t[]){5, 0}, TY_F32, ty_cpu());
    ck_assert_int_eq(s->ndim, 0);
    tu_assert_values(s, ((double[]){3.5}), 1, 0);
    ck_assert_int_eq(ty_numel(e), 0);
    ck_assert_int_eq(e->shape[1], 5);
    ck_assert_int_eq(ty_numel(e1), 0);
    ty_tensor *ts[] = {a, b, c, d, s, e, e1};
    for (int i = 0; i < 7; i++) ty_tensor_release(ts[i]);
    /* large enough to fill in parallel */
    ty_tensor *big = ty_full(1, (int64_t[]){300001}, -1.25, TY_F32, ty_cpu());
    const float *bf = ty_data(big);
    int64_t bad = 0; /* Check's asserts are slow in bulk: count, then assert */
    for (int64_t i = 0; i < 300001; i++) bad += bf[i] != -1.25f;
    ck_assert_int_eq(bad, 0);
    ty_tensor_release(big);
}
END_TEST

START_TEST(test_like) {
    ty_tensor *base = tu_arange(2, (int64_t[]){3, 4}, TY_F64);
    ty_tensor *x = tu_noncontiguous(base); /* (3,4), not contiguous */
    ty_tensor *z = ty_zeros_like(x), *o = ty_ones_like(x), *f = ty_full_like(x, -3);
    ty_tensor *outs[3] = {z, o, f};
    double want[3] = {0, 1, -3};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(outs[k]->dtype, TY_F64);
        ck_assert_int_eq(outs[k]->ndim, 2);
        ck_assert(outs[k]->shape[0] == 3 && outs[k]->shape[1] == 4);
        ck_assert(ty_is_contiguous(outs[k]));
        for (int i = 0; i < 12; i++) ck_assert(ty_get_flat(outs[k], i) == want[k]);
        ty_tensor_release(outs[k]);
    }
    ty_tensor *h = ty_scalar(1, TY_F16);
    ty_tensor *hl = ty_full_like(h, 0.5);
    ck_assert_int_eq(hl->dtype, TY_F16);
    ck_assert_int_eq(hl->ndim, 0);
    tu_assert_values(hl, ((double[]){0.5}), 1, 0);
    ty_tensor_release(h);
    ty_tensor_release(hl);
    ty_tensor_release(x);
    ty_tensor_release(base);
}
END_TEST

START_TEST(test_fill_errors) {
    tu_assert_error(ty_zeros(2, (int64_t[]){2, -1}, TY_F32, ty_cpu()) == NULL, "zeros",
                    "negative size -1", "(2,-1)");
    tu_assert_error(ty_ones(17, (int64_t[17]){0}, TY_F32, ty_cpu()) == NULL, "ones", "17 dims");
    tu_assert_error(ty_full(-1, NULL, 1, TY_F32, ty_cpu()) == NULL, "full", "-1 dims");
    tu_assert_error(ty_full(1, (int64_t[]){2}, 1, (ty_dtype)99, ty_cpu()) == NULL, "full",
                    "bad dtype 99");
    tu_assert_error(ty_zeros(1, NULL, TY_F32, ty_cpu()) == NULL, "zeros", "NULL");
    tu_assert_error(ty_zeros(2, (int64_t[]){INT64_MAX / 2, 4}, TY_F32, ty_cpu()) == NULL, "zeros",
                    "too large");
    ty_device cuda = {TY_DEV_CUDA, 0};
    tu_assert_error(ty_zeros(1, (int64_t[]){2}, TY_F32, cuda) == NULL, "zeros",
                    "not implemented on cuda");
    tu_assert_error(ty_full(1, (int64_t[]){2}, 1, TY_F32, cuda) == NULL, "full", "cuda");
}
END_TEST

/* ---- ranges ---- */

START_TEST(test_arange) {
    ty_tensor *a = ty_arange(0, 5, 1, TY_I64);
    tu_assert_values(a, ((double[]){0, 1, 2, 3, 4}), 5, 0);
    ck_assert_int_eq(a->dtype, TY_I64);
    ty_tensor *b = ty_arange(1, 10, 2, TY_F32);
    tu_assert_values(b, ((double[]){1, 3, 5, 7, 9}), 5, 0);
    ty_tensor *c = ty_arange(5, 0, -1.5, TY_F64);
    tu_assert_values(c, ((double[]){5, 3.5, 2, 0.5}), 4, 0);
    /* PyTorch's length rule with a float step: 10 values, not 11 */
    ty_tensor *d = ty_arange(0, 1, 0.1, TY_F32);
    ck_assert_int_eq(ty_numel(d), 10);
    for (int i = 0; i < 10; i++)
        ck_assert(((const float *)ty_data(d))[i] == (float)((double)i * 0.1));
    ty_tensor *d64 = ty_arange(0, 1, 0.1, TY_F64);
    ck_assert(((const double *)ty_data(d64))[3] == 3 * 0.1);
    /* ceil: a partial last step still counts */
    ty_tensor *e = ty_arange(0, 1.05, 0.25, TY_F64);
    tu_assert_values(e, ((double[]){0, 0.25, 0.5, 0.75, 1.0}), 5, 0);
    /* empty ranges */
    ty_tensor *f = ty_arange(3, 3, 1, TY_F32);
    ty_tensor *f2 = ty_arange(3, 3, -1, TY_F32);
    ck_assert(ty_numel(f) == 0 && f->ndim == 1 && ty_numel(f2) == 0);
    /* integer dtype from fractional arguments truncates each value */
    ty_tensor *g = ty_arange(0, 2.5, 0.5, TY_I64);
    tu_assert_values(g, ((double[]){0, 0, 1, 1, 2}), 5, 0);
    /* whole numbers past 2^53 stay exact in i64 */
    double big = 9007199254740992.0; /* 2^53 */
    ty_tensor *h = ty_arange(big, big + 4, 1, TY_I64);
    const int64_t *hi = ty_data(h);
    ck_assert_int_eq(ty_numel(h), 4);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(hi[i], ((int64_t)1 << 53) + i);
    /* other dtypes */
    ty_tensor *u = ty_arange(250, 256, 2, TY_U8);
    tu_assert_values(u, ((double[]){250, 252, 254}), 3, 0);
    ty_tensor *bf = ty_arange(-1, 1, 0.5, TY_BF16);
    tu_assert_values(bf, ((double[]){-1, -0.5, 0, 0.5}), 4, 0);
    /* large, filled in parallel */
    ty_tensor *l = ty_arange(0, 200000, 1, TY_F32);
    const float *lf = ty_data(l);
    int bad = 0;
    for (int i = 0; i < 200000; i++) bad += lf[i] != (float)i;
    ck_assert_int_eq(bad, 0);
    ty_tensor *ts[] = {a, b, c, d, d64, e, f, f2, g, h, u, bf, l};
    for (int i = 0; i < 13; i++) ty_tensor_release(ts[i]);
}
END_TEST

START_TEST(test_arange_errors) {
    tu_assert_error(ty_arange(0, 5, 0, TY_F32) == NULL, "arange", "step must be nonzero");
    tu_assert_error(ty_arange(0, 5, -1, TY_F32) == NULL, "arange", "step -1", "wrong sign", "0",
                    "5");
    tu_assert_error(ty_arange(5, 0, 1, TY_F32) == NULL, "arange", "step 1", "wrong sign");
    tu_assert_error(ty_arange(0, INFINITY, 1, TY_F32) == NULL, "arange", "inf", "finite");
    tu_assert_error(ty_arange(NAN, 1, 1, TY_F32) == NULL, "arange", "nan");
    tu_assert_error(ty_arange(0, 300, 1, TY_U8) == NULL, "arange", "299", "u8");
    tu_assert_error(ty_arange(-1, 1, 1, TY_U8) == NULL, "arange", "-1", "u8");
    tu_assert_error(ty_arange(0, 1e300, 1e-300, TY_F32) == NULL, "arange", "too many");
    tu_assert_error(ty_arange(0, 2e19, 1e18, TY_I64) == NULL, "arange", "i64");
    tu_assert_error(ty_arange(0, 1, 1, (ty_dtype)-1) == NULL, "arange", "bad dtype");
}
END_TEST

START_TEST(test_linspace) {
    ty_tensor *a = ty_linspace(0, 1, 5, TY_F32);
    tu_assert_values(a, ((double[]){0, 0.25, 0.5, 0.75, 1}), 5, 0);
    ty_tensor *b = ty_linspace(0, 10, 4, TY_I64);
    tu_assert_values(b, ((double[]){0, 3, 6, 10}), 4, 0);
    ty_tensor *c = ty_linspace(1, -1, 3, TY_F64);
    tu_assert_values(c, ((double[]){1, 0, -1}), 3, 0);
    ty_tensor *d = ty_linspace(2, 7, 1, TY_F64);
    tu_assert_values(d, ((double[]){2}), 1, 0);
    ty_tensor *e = ty_linspace(2, 7, 0, TY_F32);
    ck_assert(ty_numel(e) == 0 && e->ndim == 1);
    /* both ends exact, the middle computed from the nearer end */
    ty_tensor *f = ty_linspace(0, 0.3, 7, TY_F64);
    const double *fd = ty_data(f);
    double step = 0.3 / 6;
    ck_assert(fd[0] == 0 && fd[6] == 0.3);
    ck_assert(fd[2] == 2 * step);
    ck_assert(fd[4] == 0.3 - 2 * step);
    ty_tensor *g = ty_linspace(0, 255, 256, TY_U8);
    for (int i = 0; i < 256; i++) ck_assert(ty_get_flat(g, i) == i);
    ty_tensor *ts[] = {a, b, c, d, e, f, g};
    for (int i = 0; i < 7; i++) ty_tensor_release(ts[i]);
    tu_assert_error(ty_linspace(0, 1, -1, TY_F32) == NULL, "linspace", "steps", "-1");
    tu_assert_error(ty_linspace(0, INFINITY, 3, TY_F32) == NULL, "linspace", "inf");
    tu_assert_error(ty_linspace(0, 256, 3, TY_U8) == NULL, "linspace", "256", "u8");
}
END_TEST

START_TEST(test_eye) {
    ty_tensor *a = ty_eye(3, -1, TY_F32);
    tu_assert_values(a, ((double[]){1, 0, 0, 0, 1, 0, 0, 0, 1}), 9, 0);
    ty_tensor *b = ty_eye(2, 3, TY_I64);
    tu_assert_values(b, ((double[]){1, 0, 0, 0, 1, 0}), 6, 0);
    ck_assert(b->shape[0] == 2 && b->shape[1] == 3 && b->dtype == TY_I64);
    ty_tensor *c = ty_eye(3, 2, TY_BOOL);
    tu_assert_values(c, ((double[]){1, 0, 0, 1, 0, 0}), 6, 0);
    ty_tensor *d = ty_eye(0, -1, TY_F64);
    ck_assert(d->ndim == 2 && ty_numel(d) == 0);
    ty_tensor *e = ty_eye(2, 2, TY_BF16);
    tu_assert_values(e, ((double[]){1, 0, 0, 1}), 4, 0);
    ty_tensor *ts[] = {a, b, c, d, e};
    for (int i = 0; i < 5; i++) ty_tensor_release(ts[i]);
    tu_assert_error(ty_eye(-2, 3, TY_F32) == NULL, "eye", "-2 x 3");
    tu_assert_error(ty_eye(2, -5, TY_F32) == NULL, "eye", "2 x -5");
    tu_assert_error(ty_eye(2, 2, (ty_dtype)12) == NULL, "eye", "bad dtype");
}
END_TEST

/* ---- dropout ---- */

START_TEST(test_dropout_scaling_and_stream) {
    int64_t n = 100003;
    double p = 0.3;
    ty_tensor *x = tu_randn(1, &n, TY_F32, 1);
    ty_generator g, h;
    ty_generator_init(&g, 77);
    ty_generator_init(&h, 77);
    ty_tensor *mask = NULL;
    ty_tensor *y = ty_dropout(x, p, true, &g, &mask);
    ck_assert(y && mask);
    ck_assert_int_eq(mask->dtype, TY_BOOL);
    ck_assert(mask->ndim == 1 && mask->shape[0] == n);
    ck_assert_int_eq(y->dtype, TY_F32);
    /* the mask is the documented f32 uniform stream: kept iff u >= p */
    ty_tensor *u = ty_rand(1, &n, TY_F32, &h);
    ck_assert_uint_eq(g.offset, h.offset);
    const float *xf = ty_data(x), *yf = ty_data(y), *uf = ty_data(u);
    const uint8_t *m = ty_data(mask);
    int64_t kept = 0, bad_mask = 0, bad_value = 0;
    for (int64_t i = 0; i < n; i++) {
        bad_mask += m[i] != ((double)uf[i] >= p);
        kept += m[i];
        float want = m[i] ? (float)((double)xf[i] * (1 / (1 - p))) : 0.0f;
        bad_value += yf[i] != want;
    }
    ck_assert_int_eq(bad_mask, 0);
    ck_assert_int_eq(bad_value, 0);
    ck_assert_msg(fabs((double)kept / (double)n - 0.7) < 0.01, "kept %lld", (long long)kept);
    /* the mask without the output: same draw, same mask */
    ty_generator_init(&g, 77);
    ty_tensor *y2 = ty_dropout(x, p, true, &g, NULL);
    ck_assert(memcmp(ty_data(y), ty_data(y2), (size_t)ty_nbytes(y)) == 0);
    /* consecutive calls draw different masks */
    ty_tensor *mask3 = NULL;
    ty_tensor *y3 = ty_dropout(x, p, true, &g, &mask3);
    ck_assert(memcmp(ty_data(mask), ty_data(mask3), (size_t)n) != 0);
    ty_tensor *ts[] = {x, y, mask, u, y2, y3, mask3};
    for (int i = 0; i < 7; i++) ty_tensor_release(ts[i]);
}
END_TEST

START_TEST(test_dropout_mask_reuse) {
    int64_t shape[2] = {64, 33};
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int k = 0; k < 2; k++) {
        double p = 0.4;
        ty_tensor *x = tu_randn(2, shape, dts[k], 3);
        ty_tensor *grad = tu_randn(2, shape, dts[k], 4);
        ty_tensor *mask = NULL;
        ty_tensor *y = ty_dropout(x, p, true, NULL, &mask);
        ty_tensor *gx = ty_dropout_apply_mask(grad, mask, p);
        ck_assert(gx && gx->dtype == dts[k]);
        /* the backward zeroes exactly where the forward did */
        for (int64_t i = 0; i < 64 * 33; i++) {
            double yv = ty_get_flat(y, i), xv = ty_get_flat(x, i);
            double gv = ty_get_flat(grad, i), gxv = ty_get_flat(gx, i);
            bool keep = ((const uint8_t *)ty_data(mask))[i];
            double want_y = keep ? xv * (1 / (1 - p)) : 0, want_g = keep ? gv * (1 / (1 - p)) : 0;
            if (dts[k] == TY_F32) {
                want_y = (float)want_y;
                want_g = (float)want_g;
            }
            ck_assert(yv == want_y && gxv == want_g);
        }
        /* a u8 mask, strided grad and mask work the same */
        ty_tensor *m8 = ty_cast(mask, TY_U8);
        ty_tensor *gn = tu_strided(grad), *mn = tu_strided(m8);
        ty_tensor *gx2 = ty_dropout_apply_mask(gn, mn, p);
        tu_assert_close(gx2, gx, 0, 0);
        ty_tensor *ts[] = {x, grad, mask, y, gx, m8, gn, mn, gx2};
        for (int i = 0; i < 9; i++) ty_tensor_release(ts[i]);
    }
}
END_TEST

START_TEST(test_dropout_layouts_and_dtypes) {
    /* a transposed x is dropped in its logical row-major order */
    ty_tensor *base = tu_randn(2, (int64_t[]){40, 30}, TY_F32, 9);
    ty_tensor *xt = tu_noncontiguous(base);
    ty_tensor *xc = ty_contiguous(xt);
    ck_assert(!ty_is_contiguous(xt));
    ty_generator g;
    ty_generator_init(&g, 5);
    ty_tensor *mt = NULL, *mc = NULL;
    ty_tensor *yt = ty_dropout(xt, 0.5, true, &g, &mt);
    ty_generator_init(&g, 5);
    ty_tensor *yc = ty_dropout(xc, 0.5, true, &g, &mc);
    tu_assert_close(yt, yc, 0, 0);
    tu_assert_close(mt, mc, 0, 0);
    /* half dtypes: computed in f32 and rounded */
    ty_dtype halves[2] = {TY_BF16, TY_F16};
    for (int k = 0; k < 2; k++) {
        ty_tensor *xh = ty_cast(xc, halves[k]);
        ty_tensor *mh = NULL;
        ty_generator_init(&g, 5);
        ty_tensor *yh = ty_dropout(xh, 0.5, true, &g, &mh);
        ck_assert_int_eq(yh->dtype, halves[k]);
        tu_assert_close(mh, mc, 0, 0);
        for (int64_t i = 0; i < 1200; i++) {
            float want = ((const uint8_t *)ty_data(mh))[i] ? (float)ty_get_flat(xh, i) * 2 : 0;
            ck_assert(ty_get_flat(yh, i) == want);
        }
        ty_tensor_release(xh);
        ty_tensor_release(mh);
        ty_tensor_release(yh);
    }
    /* NaN and inf propagate where kept and vanish where dropped */
    ty_tensor *special = ty_full(1, (int64_t[]){64}, NAN, TY_F64, ty_cpu());
    ((double *)ty_data(special))[1] = INFINITY;
    ty_tensor *ms = NULL;
    ty_tensor *ys = ty_dropout(special, 0.5, true, NULL, &ms);
    const uint8_t *msv = ty_data(ms);
    int kept = 0;
    for (int i = 0; i < 64; i++) {
        double v = ty_get_flat(ys, i);
        kept += msv[i];
        ck_assert(msv[i] ? (i == 1 ? isinf(v) : isnan(v)) : v == 0);
    }
    ck_assert(kept > 0 && kept < 64);
    /* 0-d and empty x */
    ty_tensor *s = ty_scalar(4, TY_F32), *e = ty_zeros(2, (int64_t[]){0, 3}, TY_F32, ty_cpu());
    ty_tensor *me = NULL;
    ty_tensor *ys0 = ty_dropout(s, 0.5, true, NULL, NULL);
    ty_tensor *ye = ty_dropout(e, 0.5, true, NULL, &me);
    ck_assert(ys0->ndim == 0 && (ty_get_flat(ys0, 0) == 0 || ty_get_flat(ys0, 0) == 8));
    ck_assert(ty_numel(ye) == 0 && ty_numel(me) == 0 && ye->shape[1] == 3);
    ty_tensor *ts[] = {base, xt, xc, mt, mc, yt, yc, special, ms, ys, s, e, me, ys0, ye};
    for (int i = 0; i < 15; i++) ty_tensor_release(ts[i]);
}
END_TEST

START_TEST(test_dropout_p_edges) {
    ty_tensor *x = tu_randn(2, (int64_t[]){5, 7}, TY_F32, 2);
    ty_generator g;
    ty_generator_init(&g, 8);
    /* p = 0 and eval mode: x itself, an all-true mask, nothing drawn */
    for (int k = 0; k < 2; k++) {
        ty_tensor *mask = NULL;
        ty_tensor *y =
            k == 0 ? ty_dropout(x, 0, true, &g, &mask) : ty_dropout(x, 0.9, false, &g, &mask);
        ck_assert_ptr_eq(y, x);
        ck_assert_int_eq(x->refcount, 2);
        ck_assert(mask && mask->dtype == TY_BOOL && mask->shape[1] == 7);
        for (int i = 0; i < 35; i++) ck_assert_int_eq(((const uint8_t *)ty_data(mask))[i], 1);
        ck_assert_uint_eq(g.offset, 0);
        ty_tensor_release(y);
        ty_tensor_release(mask);
    }
    /* p = 1: all zeros, even for NaN; the mask keeps nothing */
    ((float *)ty_data(x))[3] = NAN;
    ty_tensor *mask = NULL;
    ty_tensor *y = ty_dropout(x, 1, true, &g, &mask);
    for (int i = 0; i < 35; i++) {
        ck_assert(ty_get_flat(y, i) == 0);
        ck_assert(ty_get_flat(mask, i) == 0);
    }
    ty_tensor *gx = ty_dropout_apply_mask(x, mask, 1);
    for (int i = 0; i < 35; i++) ck_assert(ty_get_flat(gx, i) == 0);
    /* apply_mask with p = 1 is zero whatever the mask says */
    ty_tensor *ones = ty_ones(2, (int64_t[]){5, 7}, TY_BOOL, ty_cpu());
    ty_tensor *gz = ty_dropout_apply_mask(x, ones, 1);
    for (int i = 0; i < 35; i++) ck_assert(ty_get_flat(gz, i) == 0);
    /* p = 0 with an all-true mask is the identity */
    ty_tensor *gi = ty_dropout_apply_mask(x, ones, 0);
    tu_assert_close(gi, x, 0, 0);
    ty_tensor *ts[] = {x, mask, y, gx, ones, gz, gi};
    for (int i = 0; i < 7; i++) ty_tensor_release(ts[i]);
}
END_TEST

START_TEST(test_dropout_thread_independence) {
    int saved = ty_get_num_threads();
    int64_t n = 300001;
    ty_tensor *x = tu_randn(1, &n, TY_F32, 6);
    ty_tensor *y[2], *m[2];
    for (int k = 0; k < 2; k++) {
        ty_set_num_threads(k + 1);
        ty_generator g;
        ty_generator_init(&g, 31);
        y[k] = ty_dropout(x, 0.25, true, &g, &m[k]);
    }
    ty_set_num_threads(saved);
    ck_assert(memcmp(ty_data(y[0]), ty_data(y[1]), (size_t)ty_nbytes(x)) == 0);
    ck_assert(memcmp(ty_data(m[0]), ty_data(m[1]), (size_t)n) == 0);
    ty_tensor *ts[] = {x, y[0], y[1], m[0], m[1]};
    for (int i = 0; i < 5; i++) ty_tensor_release(ts[i]);
}
END_TEST

START_TEST(test_dropout_errors) {
    ty_tensor *x = tu_randn(2, (int64_t[]){2, 3}, TY_F32, 1);
    ty_tensor *xi = tu_arange(2, (int64_t[]){2, 3}, TY_I64);
    ty_tensor *mask = ty_ones(2, (int64_t[]){2, 3}, TY_BOOL, ty_cpu());
    ty_tensor *mask_t = ty_ones(2, (int64_t[]){3, 2}, TY_BOOL, ty_cpu());
    ty_tensor *mask_f = ty_ones(2, (int64_t[]){2, 3}, TY_F32, ty_cpu());
    ty_generator g;
    ty_generator_init(&g, 1);
    ty_tensor *out_mask = x; /* must be reset to NULL on failure */
    tu_assert_error(ty_dropout(x, -0.1, true, &g, &out_mask) == NULL, "dropout", "[0, 1]", "-0.1");
    ck_assert_ptr_null(out_mask);
    tu_assert_error(ty_dropout(x, 1.5, false, &g, NULL) == NULL, "dropout", "1.5");
    tu_assert_error(ty_dropout(x, NAN, true, &g, NULL) == NULL, "dropout", "nan");
    tu_assert_error(ty_dropout(xi, 0.5, true, &g, NULL) == NULL, "dropout", "floating", "i64");
    ck_assert_uint_eq(g.offset, 0);
    tu_assert_error(ty_dropout_apply_mask(x, mask_t, 0.5) == NULL, "dropout_apply_mask", "(2,3)",
                    "(3,2)");
    tu_assert_error(ty_dropout_apply_mask(x, mask_f, 0.5) == NULL, "dropout_apply_mask",
                    "bool or u8", "f32");
    tu_assert_error(ty_dropout_apply_mask(xi, mask, 0.5) == NULL, "dropout_apply_mask", "grad",
                    "i64");
    tu_assert_error(ty_dropout_apply_mask(x, mask, 2) == NULL, "dropout_apply_mask", "2");
    /* an interrupted draw fails cleanly and leaves the generator */
    int64_t n = ((int64_t)1 << 20) * 2;
    ty_tensor *big = ty_zeros(1, &n, TY_F32, ty_cpu());
    ty_interrupt();
    tu_assert_error(ty_dropout(big, 0.5, true, &g, &out_mask) == NULL, "dropout", "interrupted");
    ck_assert_ptr_null(out_mask);
    ck_assert_uint_eq(g.offset, 0);
    ty_tensor *ts[] = {x, xi, mask, mask_t, mask_f, big};
    for (int i = 0; i < 6; i++) ty_tensor_release(ts[i]);
}
END_TEST

static Suite *creation_suite(void) {
    Suite *s = suite_create("creation");
    TCase *tc = tcase_create("creation");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_zeros_ones_full);
    tcase_add_test(tc, test_like);
    tcase_add_test(tc, test_fill_errors);
    tcase_add_test(tc, test_arange);
    tcase_add_test(tc, test_arange_errors);
    tcase_add_test(tc, test_linspace);
    tcase_add_test(tc, test_eye);
    tcase_add_test(tc, test_dropout_scaling_and_stream);
    tcase_add_test(tc, test_dropout_mask_reuse);
    tcase_add_test(tc, test_dropout_layouts_and_dtypes);
    tcase_add_test(tc, test_dropout_p_edges);
    tcase_add_test(tc, test_dropout_thread_independence);
    tcase_add_test(tc, test_dropout_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(creation_suite());
}
