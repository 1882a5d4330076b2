/* The tensor core: dtypes, creation from buffers, views, copies, the
 * strided iterator, errors and ownership. */
#include <string.h>

#include "testutil.h"

START_TEST(test_dtype_names_and_sizes) {
    ty_dtype dt;
    ck_assert_int_eq(ty_dtype_from_name("f32", &dt), 0);
    ck_assert_int_eq(dt, TY_F32);
    ck_assert_int_eq(ty_dtype_from_name("float64", &dt), 0);
    ck_assert_int_eq(dt, TY_F64);
    tu_assert_error(ty_dtype_from_name("f33", &dt) < 0, "unknown dtype", "f33");
    ck_assert_uint_eq(ty_dtype_size(TY_BF16), 2);
    ck_assert_uint_eq(ty_dtype_size(TY_I64), 8);
    ck_assert_int_eq(ty_promote(TY_I64, TY_F32), TY_F32);
    ck_assert_int_eq(ty_promote(TY_BOOL, TY_U8), TY_U8);
    ck_assert_int_eq(ty_promote(TY_BF16, TY_F16), TY_F32);
    ck_assert_int_eq(ty_promote(TY_F64, TY_F32), TY_F64);
}
END_TEST

START_TEST(test_half_conversions) {
    /* exact values */
    ck_assert_uint_eq(ty_f32_to_f16(1.0f), 0x3C00);
    ck_assert_uint_eq(ty_f32_to_f16(-2.0f), 0xC000);
    ck_assert_uint_eq(ty_f32_to_f16(65504.0f), 0x7BFF);
    ck_assert_uint_eq(ty_f32_to_f16(1e6f), 0x7C00);
    ck_assert_uint_eq(ty_f32_to_bf16(1.0f), 0x3F80);
    ck_assert(ty_f16_to_f32(0x3555) > 0.333f && ty_f16_to_f32(0x3555) < 0.3334f);
    ck_assert(isnan(ty_f16_to_f32(ty_f32_to_f16(NAN))));
    ck_assert(isnan(ty_bf16_to_f32(ty_f32_to_bf16(NAN))));
    ck_assert(isinf(ty_f16_to_f32(0x7C00)));
    /* smallest subnormal half */
    ck_assert_float_eq(ty_f16_to_f32(0x0001), 5.9604644775390625e-8f);
    ck_assert_uint_eq(ty_f32_to_f16(5.9604644775390625e-8f), 0x0001);
    /* round to nearest even: 1 + 2^-11 is halfway between 1 and 1+2^-10 */
    ck_assert_uint_eq(ty_f32_to_f16(1.0f + 0.00048828125f), 0x3C00);
    ck_assert_uint_eq(ty_f32_to_bf16(1.0f + 0.00390625f), 0x3F80);
    /* every half value round-trips */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = ty_f16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        ck_assert_uint_eq(ty_f32_to_f16(f), h);
        ck_assert_uint_eq(ty_f32_to_bf16(ty_bf16_to_f32((uint16_t)h)), h);
    }
}
END_TEST

START_TEST(test_float_to_int_conversion_is_defined) {
    double v[4] = {NAN, 1e300, -1e300, -3.7};
    ty_tensor *t = ty_from_buffer(v, 1, (int64_t[]){4}, TY_F64);
    ty_tensor *i = ty_cast(t, TY_I64);
    int64_t *d = ty_data(i);
    ck_assert(d[0] == 0 && d[1] == INT64_MAX && d[2] == INT64_MIN && d[3] == -3);
    ty_tensor *b = ty_cast(t, TY_BOOL);
    tu_assert_values(b, ((double[]){1, 1, 1, 1}), 4, 0);
    ty_tensor_release(t);
    ty_tensor_release(i);
    ty_tensor_release(b);
}
END_TEST

START_TEST(test_empty_and_from_buffer) {
    float vals[6] = {1, 2, 3, 4, 5, 6};
    ty_tensor *t = ty_from_buffer(vals, 2, (int64_t[]){2, 3}, TY_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_int_eq(t->strides[0], 3);
    ck_assert_int_eq(t->strides[1], 1);
    ck_assert_int_eq(ty_numel(t), 6);
    ck_assert(ty_is_contiguous(t));
    tu_assert_values(t, ((double[]){1, 2, 3, 4, 5, 6}), 6, 0);
    ty_tensor *s = ty_scalar(2.5, TY_F64);
    double x;
    ck_assert_int_eq(ty_item(s, &x), 0);
    ck_assert_double_eq(x, 2.5);
    tu_assert_error(ty_item(t, &x) < 0, "item", "(2,3)", "6 elements");
    ty_tensor *z = ty_empty(2, (int64_t[]){0, 4}, TY_F32, ty_cpu());
    ck_assert_int_eq(ty_numel(z), 0);
    ty_tensor_release(z);
    ty_tensor_release(s);
    ty_tensor_release(t);
}
END_TEST

START_TEST(test_bad_shapes) {
    tu_assert_error(ty_empty(2, (int64_t[]){2, -3}, TY_F32, ty_cpu()) == NULL, "negative size",
                    "-3");
    tu_assert_error(ty_empty(2, (int64_t[]){INT64_MAX / 2, 4}, TY_F32, ty_cpu()) == NULL,
                    "too large");
    tu_assert_error(ty_empty(17, (int64_t[17]){0}, TY_F32, ty_cpu()) == NULL, "17 dims");
    ty_device dev;
    tu_assert_error(ty_device_parse("cuda:x", &dev) < 0, "cuda:x");
    ck_assert_int_eq(ty_device_parse("cuda:1", &dev), 0);
    ck_assert_int_eq(dev.index, 1);
    /* allocating on a device without a backend fails cleanly */
    tu_assert_error(ty_empty(1, (int64_t[]){4}, TY_F32, dev) == NULL, "cuda", "not available");
}
END_TEST

START_TEST(test_transpose_permute_contiguous) {
    ty_tensor *t = tu_arange(3, (int64_t[]){2, 3, 4}, TY_F32);
    ty_tensor *p = ty_permute(t, (int[]){2, 0, 1});
    ck_assert_int_eq(p->shape[0], 4);
    ck_assert_int_eq(p->shape[1], 2);
    ck_assert_int_eq(p->shape[2], 3);
    ck_assert(!ty_is_contiguous(p));
    ck_assert(p->storage == t->storage);
    ty_tensor *c = ty_contiguous(p);
    ck_assert(ty_is_contiguous(c));
    /* c[k][i][j] = t[i][j][k] = 12 i + 4 j + k */
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                ck_assert_double_eq(ty_get_flat(c, k * 6 + i * 3 + j), 12 * i + 4 * j + k);
    tu_assert_error(ty_permute(t, (int[]){0, 0, 1}) == NULL, "permute", "twice");
    tu_assert_error(ty_transpose(t, 0, 3) == NULL, "transpose", "dim 3", "3 dims");
    ty_tensor *tt = ty_transpose(t, -1, 0);
    ck_assert_int_eq(tt->shape[0], 4);
    ty_tensor_release(tt);
    ty_tensor_release(c);
    ty_tensor_release(p);
    ty_tensor_release(t);
}
END_TEST

START_TEST(test_slice_select_narrow) {
    ty_tensor *t = tu_arange(1, (int64_t[]){10}, TY_I64);
    ty_tensor *s = ty_slice(t, 0, 1, 8, 3); /* 1 4 7 */
    tu_assert_values(s, ((double[]){1, 4, 7}), 3, 0);
    ty_tensor *neg = ty_slice(t, 0, -3, 100, 1); /* 7 8 9 */
    tu_assert_values(neg, ((double[]){7, 8, 9}), 3, 0);
    ty_tensor *empty = ty_slice(t, 0, 5, 2, 1);
    ck_assert_int_eq(ty_numel(empty), 0);
    tu_assert_error(ty_slice(t, 0, 0, 5, 0) == NULL, "step", "0");
    ty_tensor *m = tu_arange(2, (int64_t[]){3, 4}, TY_F32);
    ty_tensor *row = ty_select(m, 0, -1);
    tu_assert_values(row, ((double[]){8, 9, 10, 11}), 4, 0);
    ty_tensor *col = ty_select(m, 1, 2);
    tu_assert_values(col, ((double[]){2, 6, 10}), 3, 0);
    tu_assert_error(ty_select(m, 0, 3) == NULL, "select", "index 3", "size 3");
    ty_tensor *nar = ty_narrow(m, 1, 1, 2);
    tu_assert_values(nar, ((double[]){1, 2, 5, 6, 9, 10}), 6, 0);
    tu_assert_error(ty_narrow(m, 1, 3, 2) == NULL, "narrow", "size 4");
    ty_tensor *objs[] = {t, s, neg, empty, m, row, col, nar};
    for (int i = 0; i < 8; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_reshape_view) {
    ty_tensor *t = tu_arange(2, (int64_t[]){4, 6}, TY_F32);
    ty_tensor *v = ty_view(t, 3, (int64_t[]){2, -1, 3});
    ck_assert_int_eq(v->shape[1], 4);
    ck_assert(v->storage == t->storage);
    tu_assert_error(ty_view(t, 2, (int64_t[]){5, -1}) == NULL, "view", "24 elements");
    tu_assert_error(ty_reshape(t, 2, (int64_t[]){-1, -1}) == NULL, "only one dim");
    /* a transposed tensor cannot be viewed flat, but can be reshaped */
    ty_tensor *tt = ty_transpose(t, 0, 1);
    tu_assert_error(ty_view(tt, 1, (int64_t[]){24}) == NULL, "view", "reshape");
    ty_tensor *r = ty_reshape(tt, 1, (int64_t[]){24});
    ck_assert(r->storage != t->storage);
    ck_assert_double_eq(ty_get_flat(r, 1), 6); /* tt[0][1] = t[1][0] */
    /* splitting a dim of a transposed tensor is a view */
    ty_tensor *split = ty_view(tt, 3, (int64_t[]){2, 3, 4});
    ck_assert(split->storage == t->storage);
    ck_assert_double_eq(ty_get_flat(split, 5), ty_get_flat(tt, 5));
    ty_tensor *f = ty_flatten(split, 0, 1);
    ck_assert_int_eq(f->ndim, 2);
    ck_assert_int_eq(f->shape[0], 6);
    ty_tensor *objs[] = {t, v, tt, r, split, f};
    for (int i = 0; i < 6; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_expand_squeeze_unsqueeze) {
    ty_tensor *t = tu_arange(2, (int64_t[]){3, 1}, TY_F32);
    ty_tensor *e = ty_expand(t, 3, (int64_t[]){2, 3, 4});
    ck_assert_int_eq(e->strides[0], 0);
    ck_assert_int_eq(e->strides[2], 0);
    ck_assert_double_eq(ty_get_flat(e, 23), 2);
    tu_assert_error(ty_expand(t, 2, (int64_t[]){4, 4}) == NULL, "expand", "(3,1)", "(4,4)");
    ty_tensor *u = ty_unsqueeze(t, 0);
    ck_assert_int_eq(u->ndim, 3);
    ck_assert_int_eq(u->shape[0], 1);
    ty_tensor *s = ty_squeeze(u);
    ck_assert_int_eq(s->ndim, 1);
    ck_assert_int_eq(s->shape[0], 3);
    ty_tensor *sd = ty_squeeze_dim(u, -1);
    ck_assert_int_eq(sd->ndim, 2);
    ty_tensor *c = ty_contiguous(e);
    ck_assert_double_eq(ty_get_flat(c, 4), 1);
    ty_tensor *objs[] = {t, e, u, s, sd, c};
    for (int i = 0; i < 6; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_unfold_diagonal) {
    ty_tensor *t = tu_arange(1, (int64_t[]){7}, TY_F32);
    ty_tensor *w = ty_unfold(t, 0, 3, 2); /* [0,1,2],[2,3,4],[4,5,6] */
    ck_assert_int_eq(w->shape[0], 3);
    ck_assert_int_eq(w->shape[1], 3);
    tu_assert_values(w, ((double[]){0, 1, 2, 2, 3, 4, 4, 5, 6}), 9, 0);
    tu_assert_error(ty_unfold(t, 0, 8, 1) == NULL, "unfold", "size 7");
    /* ViT patches: (H,W) -> (H/2, W/2, 2, 2) */
    ty_tensor *img = tu_arange(2, (int64_t[]){4, 4}, TY_F32);
    ty_tensor *a = ty_unfold(img, 0, 2, 2);
    ty_tensor *p = ty_unfold(a, 1, 2, 2);
    ck_assert_int_eq(p->ndim, 4);
    ty_tensor *pc = ty_contiguous(p);
    /* patch (0,1) is rows 0-1, cols 2-3 */
    ty_tensor *row0 = ty_select(pc, 0, 0);
    ty_tensor *patch = ty_select(row0, 0, 1);
    tu_assert_values(patch, ((double[]){2, 3, 6, 7}), 4, 0);
    ty_tensor_release(patch);
    ty_tensor_release(row0);
    ty_tensor *m = tu_arange(2, (int64_t[]){3, 4}, TY_F32);
    ty_tensor *d = ty_diagonal(m, 0, 0, 1);
    tu_assert_values(d, ((double[]){0, 5, 10}), 3, 0);
    ty_tensor *d1 = ty_diagonal(m, 1, 0, 1);
    tu_assert_values(d1, ((double[]){1, 6, 11}), 3, 0);
    ty_tensor *dm = ty_diagonal(m, -1, 0, 1);
    tu_assert_values(dm, ((double[]){4, 9}), 2, 0);
    ty_tensor *objs[] = {t, w, img, a, p, pc, m, d, d1, dm};
    for (int i = 0; i < 10; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_copy_broadcast_and_convert) {
    ty_tensor *dst = ty_empty(2, (int64_t[]){2, 3}, TY_F64, ty_cpu());
    ty_tensor *src = tu_arange(1, (int64_t[]){3}, TY_I64);
    ck_assert_int_eq(ty_copy_(dst, src), 0);
    tu_assert_values(dst, ((double[]){0, 1, 2, 0, 1, 2}), 6, 0);
    uint64_t v = dst->storage->version;
    ty_tensor *bad = tu_arange(1, (int64_t[]){4}, TY_I64);
    tu_assert_error(ty_copy_(dst, bad) < 0, "copy_", "(4)", "(2,3)");
    ck_assert_uint_eq(dst->storage->version, v); /* failed op changed nothing */
    ty_tensor *h = ty_cast(dst, TY_BF16);
    ty_tensor *back = ty_cast(h, TY_F32);
    tu_assert_values(back, ((double[]){0, 1, 2, 0, 1, 2}), 6, 0);
    ck_assert_int_eq(ty_fill_(dst, 3.5), 0);
    tu_assert_values(dst, ((double[]){3.5, 3.5, 3.5, 3.5, 3.5, 3.5}), 6, 0);
    ty_tensor *objs[] = {dst, src, bad, h, back};
    for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_copy_noncontiguous_large) {
    /* big enough to go through the parallel path */
    ty_tensor *t = tu_randn(2, (int64_t[]){300, 257}, TY_F32, 3);
    ty_tensor *nc = tu_noncontiguous(t);
    ty_tensor *st = tu_strided(t);
    ck_assert(!ty_is_contiguous(nc) && !ty_is_contiguous(st));
    tu_assert_close(nc, t, 0, 0);
    tu_assert_close(st, t, 0, 0);
    ty_tensor *c = ty_clone(st);
    tu_assert_close(c, t, 0, 0);
    ty_tensor *objs[] = {t, nc, st, c};
    for (int i = 0; i < 4; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_views_keep_storage_alive) {
    ty_tensor *t = tu_arange(1, (int64_t[]){5}, TY_F32);
    ty_tensor *s = ty_slice(t, 0, 2, 5, 1);
    ty_tensor_release(t);
    tu_assert_values(s, ((double[]){2, 3, 4}), 3, 0);
    ty_tensor_release(s);
}
END_TEST

START_TEST(test_broadcast_shapes) {
    int nd;
    int64_t out[TY_MAX_DIMS];
    ck_assert_int_eq(ty_broadcast_shapes("add", 2, (int64_t[]){3, 1}, 3, (int64_t[]){2, 1, 4}, &nd, out), 0);
    ck_assert_int_eq(nd, 3);
    ck_assert(out[0] == 2 && out[1] == 3 && out[2] == 4);
    tu_assert_error(ty_broadcast_shapes("add", 1, (int64_t[]){3}, 1, (int64_t[]){4}, &nd, out) < 0,
                    "add", "(3)", "(4)", "3 ~= 4");
}
END_TEST

static void blob_deleter(void *data, void *ctx) {
    (void)data;
    *(int *)ctx += 1;
}

START_TEST(test_from_blob_and_interrupt) {
    float mem[4] = {1, 2, 3, 4};
    int calls = 0;
    ty_tensor *t = ty_from_blob(mem, 1, (int64_t[]){4}, TY_F32, blob_deleter, &calls);
    ty_tensor *v = ty_slice(t, 0, 1, 3, 1);
    ty_tensor_release(t);
    ck_assert_int_eq(calls, 0);
    ty_tensor_release(v);
    ck_assert_int_eq(calls, 1);
    ty_interrupt();
    tu_assert_error(ty_check_interrupt("matmul") < 0, "matmul: interrupted");
    ck_assert_int_eq(ty_check_interrupt("matmul"), 0); /* cleared once reported */
}
END_TEST

START_TEST(test_cpu_block_cache) {
    ty_cpu_empty_cache();
    ck_assert_uint_eq(ty_cpu_cached_bytes(), 0);
    int64_t n = 1 << 20; /* 4 MB of f32 */
    ty_tensor *a = ty_empty(1, &n, TY_F32, ty_cpu());
    void *p = a->storage->data;
    ck_assert_uint_eq((uintptr_t)p % (2u << 20), 0); /* huge-page aligned */
    ty_tensor_release(a);
    ck_assert_uint_eq(ty_cpu_cached_bytes(), 4u << 20);
    ty_tensor *b = ty_empty(1, &n, TY_F32, ty_cpu());
    ck_assert_ptr_eq(b->storage->data, p); /* reused, no page faults */
    ck_assert_uint_eq(ty_cpu_cached_bytes(), 0);
    ty_tensor_release(b);
    /* the cache is capped: 100 big blocks do not all stay */
    ty_cpu_set_cache_limit(256u << 20);
    ty_tensor *many[100];
    for (int i = 0; i < 100; i++) many[i] = ty_empty(1, &n, TY_F32, ty_cpu());
    for (int i = 0; i < 100; i++) ty_tensor_release(many[i]);
    ck_assert_uint_le(ty_cpu_cached_bytes(), 256u << 20);
    ck_assert_uint_ge(ty_cpu_cached_bytes(), 200u << 20); /* but most of them do */
    ty_cpu_set_cache_limit(2u << 30);
    ty_cpu_empty_cache();
    ck_assert_uint_eq(ty_cpu_cached_bytes(), 0);
}
END_TEST

Suite *core_suite(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_dtype_names_and_sizes);
    tcase_add_test(tc, test_half_conversions);
    tcase_add_test(tc, test_float_to_int_conversion_is_defined);
    tcase_add_test(tc, test_empty_and_from_buffer);
    tcase_add_test(tc, test_bad_shapes);
    tcase_add_test(tc, test_transpose_permute_contiguous);
    tcase_add_test(tc, test_slice_select_narrow);
    tcase_add_test(tc, test_reshape_view);
    tcase_add_test(tc, test_expand_squeeze_unsqueeze);
    tcase_add_test(tc, test_unfold_diagonal);
    tcase_add_test(tc, test_copy_broadcast_and_convert);
    tcase_add_test(tc, test_copy_noncontiguous_large);
    tcase_add_test(tc, test_views_keep_storage_alive);
    tcase_add_test(tc, test_broadcast_shapes);
    tcase_add_test(tc, test_from_blob_and_interrupt);
    tcase_add_test(tc, test_cpu_block_cache);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run_suite(core_suite()); }
