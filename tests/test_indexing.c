/* Indexing and shape ops: gather/scatter and friends, sort/topk, and
 * cat/stack/split/chunk/repeat/flip/roll/pad, each against a naive loop
 * written here, on contiguous, transposed, strided and broadcast inputs. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- naive helpers: elements by coordinates, through the strides ---- */

static char *elem_ptr(const ty_tensor *t, const int64_t *c) {
    int64_t off = t->offset;
    for (int d = 0; d < t->ndim; d++) off += c[d] * t->strides[d];
    return (char *)t->storage->data + off * (int64_t)ty_dtype_size(t->dtype);
}

static double at(const ty_tensor *t, const int64_t *c) {
    return ty_load_as_double(elem_ptr(t, c), t->dtype);
}

static void set_at(ty_tensor *t, const int64_t *c, double v) {
    ty_store_from_double(elem_ptr(t, c), t->dtype, v);
}

/* Row-major coordinates of flat index i in `shape`. */
static void unravel(int ndim, const int64_t *shape, int64_t i, int64_t *c) {
    for (int d = ndim - 1; d >= 0; d--) {
        c[d] = i % shape[d];
        i /= shape[d];
    }
}

static ty_tensor *zeros(int ndim, const int64_t *shape, ty_dtype dt) {
    ty_tensor *t = ty_empty(ndim, shape, dt, ty_cpu());
    ck_assert_int_eq(ty_fill_(t, 0), 0);
    return t;
}

/* Random integers in [0, hi) as i64 (an index tensor). */
static ty_tensor *rand_index(int ndim, const int64_t *shape, int64_t hi, uint64_t seed) {
    return tu_uniform(ndim, shape, TY_I64, 0, (double)hi, seed);
}

/* Small integer values that every dtype holds exactly (bool: 0/1). */
static ty_tensor *rand_values(int ndim, const int64_t *shape, ty_dtype dt, uint64_t seed) {
    if (dt == TY_BOOL) return tu_uniform(ndim, shape, dt, 0, 2, seed);
    ty_tensor *f = tu_uniform(ndim, shape, TY_F64, 0, 20, seed);
    int64_t n = ty_numel(f);
    double *p = ty_data(f);
    for (int64_t i = 0; i < n; i++) p[i] = floor(p[i]);
    ty_tensor *t = ty_cast(f, dt);
    ty_tensor_release(f);
    return t;
}

/* The layouts every op is tried on: 0 contiguous, 1 transposed, 2 strided.
 * Returns a new reference with t's values. */
static ty_tensor *in_layout(ty_tensor *t, int layout_kind) {
    if (layout_kind == 1 && t->ndim >= 2) return tu_noncontiguous(t);
    if (layout_kind == 2 && t->ndim >= 1) return tu_strided(t);
    return ty_tensor_retain(t);
}

static bool same_values(const ty_tensor *a, const ty_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    int64_t n = ty_numel(a);
    for (int64_t i = 0; i < n; i++) {
        double x = ty_get_flat(a, i), y = ty_get_flat(b, i);
        if (!(x == y || (isnan(x) && isnan(y)))) return false;
    }
    return true;
}

static const ty_dtype all_dtypes[] = {TY_F32, TY_F64, TY_I64, TY_U8, TY_BOOL, TY_BF16, TY_F16};
#define N_DTYPES 7

/* ---- gather ---- */

static ty_tensor *naive_gather(const ty_tensor *x, int d, const ty_tensor *index) {
    ty_tensor *out = ty_empty(index->ndim, index->shape, x->dtype, ty_cpu());
    int64_t c[TY_MAX_DIMS], xc[TY_MAX_DIMS];
    for (int64_t i = 0; i < ty_numel(index); i++) {
        unravel(index->ndim, index->shape, i, c);
        memcpy(xc, c, sizeof c);
        xc[d] = (int64_t)at(index, c);
        set_at(out, c, at(x, xc));
    }
    return out;
}

START_TEST(test_gather_matches_naive) {
    for (int k = 0; k < N_DTYPES; k++) {
        ty_dtype dt = all_dtypes[k];
        ty_tensor *x0 = rand_values(3, (int64_t[]){4, 5, 6}, dt, 1 + k);
        for (int lay = 0; lay < 3; lay++) {
            ty_tensor *x = in_layout(x0, lay);
            int dims[] = {0, 1, 2, -1, -3};
            for (int di = 0; di < 5; di++) {
                int d = (dims[di] + 3) % 3;
                int64_t ishape[3] = {3, 4, 5};
                ishape[d] = 7; /* any size along dim */
                ty_tensor *i0 = rand_index(3, ishape, x->shape[d], 10 * k + di);
                ty_tensor *idx = in_layout(i0, 2 - lay); /* mix the layouts */
                ty_tensor *out = ty_gather(x, dims[di], idx);
                ty_tensor *ref = naive_gather(x, d, idx);
                ck_assert(ty_is_contiguous(out));
                ck_assert_int_eq(out->dtype, dt);
                tu_assert_close(out, ref, 0, 0);
                ty_tensor_release(out);
                ty_tensor_release(ref);
                ty_tensor_release(idx);
                ty_tensor_release(i0);
            }
            ty_tensor_release(x);
        }
        ty_tensor_release(x0);
    }
}
END_TEST

START_TEST(test_gather_broadcast_zero_size_scalar) {
    /* an index expanded along dim 1 (stride 0), as message passing uses */
    ty_tensor *x = tu_arange(2, (int64_t[]){5, 4}, TY_F32);
    ty_tensor *col = ty_from_buffer((int64_t[]){4, 0, 0, 2, 1, 3}, 2, (int64_t[]){6, 1}, TY_I64);
    ty_tensor *idx = ty_expand(col, 2, (int64_t[]){6, 4});
    ty_tensor *out = ty_gather(x, 0, idx);
    ty_tensor *ref = naive_gather(x, 0, idx);
    tu_assert_close(out, ref, 0, 0);
    ck_assert_double_eq(ty_get_flat(out, 0), 16); /* row 4, col 0 */
    ty_tensor_release(out);
    ty_tensor_release(ref);
    /* a large one goes through the parallel path */
    ty_tensor *big = tu_randn(2, (int64_t[]){500, 300}, TY_F32, 5);
    ty_tensor *bidx = rand_index(2, (int64_t[]){400, 300}, 500, 6);
    out = ty_gather(big, 0, bidx);
    ref = naive_gather(big, 0, bidx);
    tu_assert_close(out, ref, 0, 0);
    ty_tensor_release(out);
    ty_tensor_release(ref);
    /* 0-size index: an empty result of its shape */
    ty_tensor *e = ty_empty(2, (int64_t[]){0, 4}, TY_I64, ty_cpu());
    out = ty_gather(x, 1, e);
    ck_assert_int_eq(out->shape[0], 0);
    ck_assert_int_eq(out->shape[1], 4);
    ty_tensor_release(out);
    /* x with a 0-size dim and an empty index along it */
    ty_tensor *x0 = ty_empty(2, (int64_t[]){3, 0}, TY_F32, ty_cpu());
    ty_tensor *e2 = ty_empty(2, (int64_t[]){3, 0}, TY_I64, ty_cpu());
    out = ty_gather(x0, 1, e2);
    ck_assert_int_eq(ty_numel(out), 0);
    ty_tensor_release(out);
    /* 0-d */
    ty_tensor *s = ty_scalar(2.5, TY_F64), *si = ty_scalar(0, TY_I64);
    out = ty_gather(s, 0, si);
    ck_assert_int_eq(out->ndim, 0);
    tu_assert_values(out, ((double[]){2.5}), 1, 0);
    ty_tensor_release(out);
    ty_tensor *objs[] = {x, col, idx, big, bidx, e, x0, e2, s, si};
    for (int i = 0; i < 10; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* ---- scatter family ---- */

typedef enum { NAIVE_ASSIGN, NAIVE_VALUE, NAIVE_ADD } naive_mode;

/* Serial row-major reference: the last write wins, sums go in double in
 * index order and are rounded once (u8 wraps, bool is or). */
static ty_tensor *naive_scatter(const ty_tensor *x, int d, const ty_tensor *index,
                                const ty_tensor *src, double value, naive_mode mode) {
    ty_tensor *out = ty_clone(x);
    int64_t n = ty_numel(x);
    double *acc = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    int64_t c[TY_MAX_DIMS], oc[TY_MAX_DIMS];
    for (int64_t i = 0; i < n; i++) acc[i] = ty_get_flat(x, i);
    for (int64_t i = 0; i < ty_numel(index); i++) {
        unravel(index->ndim, index->shape, i, c);
        memcpy(oc, c, sizeof c);
        oc[d] = (int64_t)at(index, c);
        int64_t flat = 0;
        for (int k = 0; k < x->ndim; k++) flat = flat * x->shape[k] + oc[k];
        double v = mode == NAIVE_VALUE ? value : at(src, c);
        if (mode == NAIVE_ADD && x->dtype == TY_BOOL)
            acc[flat] = acc[flat] != 0 || v != 0;
        else if (mode == NAIVE_ADD)
            acc[flat] += v;
        else
            acc[flat] = v;
    }
    for (int64_t i = 0; i < n; i++) {
        unravel(x->ndim, x->shape, i, c);
        double v = x->dtype == TY_U8 ? fmod(acc[i], 256) : acc[i];
        set_at(out, c, v);
    }
    free(acc);
    return out;
}

START_TEST(test_scatter_matches_naive) {
    for (int k = 0; k < N_DTYPES; k++) {
        ty_dtype dt = all_dtypes[k];
        ty_tensor *x0 = rand_values(3, (int64_t[]){4, 5, 6}, dt, 3 + k);
        ty_tensor *src0 = rand_values(3, (int64_t[]){5, 6, 7}, dt, 30 + k);
        for (int lay = 0; lay < 3; lay++) {
            ty_tensor *x = in_layout(x0, lay), *src = in_layout(src0, (lay + 1) % 3);
            for (int d = -1; d < 3; d++) {
                int wd = (d + 3) % 3;
                int64_t ishape[3] = {3, 4, 5};
                ty_tensor *i0 = rand_index(3, ishape, x->shape[wd], 100 + 10 * k + d);
                ty_tensor *idx = in_layout(i0, (lay + 2) % 3);
                for (int mode = 0; mode < 3; mode++) {
                    ty_tensor *ref = naive_scatter(x, wd, idx, src, 7, (naive_mode)mode);
                    ty_tensor *out = mode == 0   ? ty_scatter(x, d, idx, src)
                                     : mode == 1 ? ty_scatter_value(x, d, idx, 7)
                                                 : ty_scatter_add(x, d, idx, src);
                    tu_assert_close(out, ref, 0, 0);
                    ck_assert(ty_is_contiguous(out));
                    /* in place, into a copy in x's own (strided) layout */
                    ty_tensor *tgt = in_layout(x0, lay);
                    uint64_t v0 = tgt->storage->version;
                    int rc = mode == 0   ? ty_scatter_(tgt, d, idx, src)
                             : mode == 1 ? ty_scatter_value_(tgt, d, idx, 7)
                                         : ty_scatter_add_(tgt, d, idx, src);
                    ck_assert_int_eq(rc, 0);
                    ck_assert_uint_gt(tgt->storage->version, v0);
                    tu_assert_close(tgt, ref, 0, 0);
                    ty_tensor_release(tgt);
                    ty_tensor_release(out);
                    ty_tensor_release(ref);
                }
                ty_tensor_release(idx);
                ty_tensor_release(i0);
            }
            ty_tensor_release(x);
            ty_tensor_release(src);
        }
        ty_tensor_release(x0);
        ty_tensor_release(src0);
    }
}
END_TEST

START_TEST(test_scatter_add_repeated_indices_exact) {
    /* every row hit several times; integer values: sums are exact */
    ty_tensor *x = zeros(2, (int64_t[]){3, 2}, TY_F32);
    ty_tensor *col = ty_from_buffer((int64_t[]){0, 2, 0, 0, 2}, 2, (int64_t[]){5, 1}, TY_I64);
    ty_tensor *idx = ty_expand(col, 2, (int64_t[]){5, 2});
    float sv[10] = {1, 10, 2, 20, 3, 30, 4, 40, 5, 50};
    ty_tensor *src = ty_from_buffer(sv, 2, (int64_t[]){5, 2}, TY_F32);
    ty_tensor *out = ty_scatter_add(x, 0, idx, src);
    tu_assert_values(out, ((double[]){8, 80, 0, 0, 7, 70}), 6, 0);
    ty_tensor_release(out);
    /* the same through index_add with the 1-D index */
    ty_tensor *flat = ty_from_buffer((int64_t[]){0, 2, 0, 0, 2}, 1, (int64_t[]){5}, TY_I64);
    out = ty_index_add(x, 0, flat, src);
    tu_assert_values(out, ((double[]){8, 80, 0, 0, 7, 70}), 6, 0);
    ty_tensor_release(out);
    /* u8 wraps, bool is or, i64 exact */
    ty_tensor *xu = ty_cast(x, TY_U8), *su = ty_cast(src, TY_U8);
    ck_assert_int_eq(ty_fill_(su, 200), 0);
    out = ty_scatter_add(xu, 0, idx, su);
    tu_assert_values(out, ((double[]){88, 88, 0, 0, 144, 144}), 6, 0); /* 600 and 400 mod 256 */
    ty_tensor_release(out);
    ty_tensor *xb = ty_cast(x, TY_BOOL), *sb = ty_cast(src, TY_BOOL);
    out = ty_scatter_add(xb, 0, idx, sb);
    tu_assert_values(out, ((double[]){1, 1, 0, 0, 1, 1}), 6, 0);
    ck_assert_int_eq(out->dtype, TY_BOOL);
    ty_tensor_release(out);
    ty_tensor *objs[] = {x, col, idx, src, flat, xu, su, xb, sb};
    for (int i = 0; i < 9; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* The message-passing layout: x (N,F), index (E) expanded to (E,F). */
START_TEST(test_scatter_add_message_passing_fast_path) {
    int saved = ty_get_num_threads();
    int64_t N = 700, F = 300, E = 20000; /* rows wider than one accumulator block */
    ty_tensor *x = tu_randn(2, (int64_t[]){N, F}, TY_F32, 11);
    ty_tensor *src = tu_randn(2, (int64_t[]){E, F}, TY_F32, 12);
    ty_tensor *rows = rand_index(1, &E, N, 13);
    ty_tensor *col = ty_unsqueeze(rows, 1);
    ty_tensor *idx = ty_expand(col, 2, (int64_t[]){E, F});
    ty_tensor *ref = naive_scatter(x, 0, idx, src, 0, NAIVE_ADD);
    ty_tensor *out = ty_scatter_add(x, 0, idx, src);
    tu_assert_close(out, ref, 0, 0); /* same order, double sums: bit-identical */
    ty_tensor *ia = ty_index_add(x, 0, rows, src);
    tu_assert_close(ia, ref, 0, 0);
    /* the same on one thread */
    ty_set_num_threads(1);
    ty_tensor *one = ty_scatter_add(x, 0, idx, src);
    ty_set_num_threads(saved);
    tu_assert_close(one, out, 0, 0);
    /* in place, contiguous target */
    ty_tensor *tgt = ty_clone(x);
    ck_assert_int_eq(ty_scatter_add_(tgt, 0, idx, src), 0);
    tu_assert_close(tgt, ref, 0, 0);
    /* f64 and i64 */
    ty_tensor *x64 = ty_cast(x, TY_F64), *s64 = ty_cast(src, TY_F64);
    ty_tensor *r64 = naive_scatter(x64, 0, idx, s64, 0, NAIVE_ADD);
    ty_tensor *o64 = ty_scatter_add(x64, 0, idx, s64);
    tu_assert_close(o64, r64, 1e-12, 1e-12);
    ty_tensor *xi = rand_values(2, (int64_t[]){N, F}, TY_I64, 14);
    ty_tensor *si = rand_values(2, (int64_t[]){E, F}, TY_I64, 15);
    ty_tensor *ri = naive_scatter(xi, 0, idx, si, 0, NAIVE_ADD);
    ty_tensor *oi = ty_scatter_add(xi, 0, idx, si);
    tu_assert_close(oi, ri, 0, 0);
    ty_tensor *objs[] = {x,   src, rows, col, idx, ref, out, ia, one,
                         tgt, x64, s64,  r64, o64, xi,  si,  ri, oi};
    for (int i = 0; i < 18; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_scatter_add_fast_path_other_dims) {
    /* index constant along dim 0, scattered along dim -1; transposed src */
    ty_tensor *x = rand_values(2, (int64_t[]){5, 7}, TY_F32, 20);
    ty_tensor *row = rand_index(2, (int64_t[]){1, 20}, 7, 21);
    ty_tensor *idx = ty_expand(row, 2, (int64_t[]){5, 20});
    ty_tensor *s0 = rand_values(2, (int64_t[]){6, 22}, TY_F32, 22);
    ty_tensor *src = tu_noncontiguous(s0);
    ty_tensor *ref = naive_scatter(x, 1, idx, src, 0, NAIVE_ADD);
    ty_tensor *out = ty_scatter_add(x, -1, idx, src);
    tu_assert_close(out, ref, 0, 0);
    /* half dtypes sum in f32 and round back */
    ty_tensor *xh = ty_cast(x, TY_BF16), *sh = ty_cast(src, TY_BF16);
    ty_tensor *rh = naive_scatter(xh, 1, idx, sh, 0, NAIVE_ADD);
    ty_tensor *oh = ty_scatter_add(xh, 1, idx, sh);
    ck_assert_int_eq(oh->dtype, TY_BF16);
    tu_assert_close(oh, rh, 0, 0);
    /* E = 0: x unchanged */
    ty_tensor *e = ty_empty(2, (int64_t[]){5, 0}, TY_I64, ty_cpu());
    ty_tensor *o0 = ty_scatter_add(x, 1, e, src);
    tu_assert_close(o0, x, 0, 0);
    /* 0-d */
    ty_tensor *sx = ty_scalar(1, TY_F32), *si = ty_scalar(0, TY_I64), *ss = ty_scalar(2, TY_F32);
    ty_tensor *so = ty_scatter_add(sx, 0, si, ss);
    tu_assert_values(so, ((double[]){3}), 1, 0);
    ck_assert_int_eq(so->ndim, 0);
    ty_tensor *objs[] = {x, row, idx, s0, src, ref, out, xh, sh, rh, oh, e, o0, sx, si, ss, so};
    for (int i = 0; i < 17; i++) ty_tensor_release(objs[i]);
}
END_TEST

static ty_tensor *naive_index_add(const ty_tensor *x, int d, const ty_tensor *index,
                                  const ty_tensor *src) {
    ty_tensor *out = ty_clone(x);
    int64_t c[TY_MAX_DIMS], oc[TY_MAX_DIMS];
    int64_t n = ty_numel(out);
    double *acc = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) acc[i] = ty_get_flat(x, i);
    for (int64_t i = 0; i < ty_numel(src); i++) {
        unravel(src->ndim, src->shape, i, c);
        memcpy(oc, c, sizeof c);
        oc[d] = (int64_t)ty_get_flat(index, c[d]);
        int64_t flat = 0;
        for (int k = 0; k < x->ndim; k++) flat = flat * x->shape[k] + oc[k];
        acc[flat] += at(src, c);
    }
    for (int64_t i = 0; i < n; i++) {
        unravel(x->ndim, x->shape, i, c);
        set_at(out, c, acc[i]);
    }
    free(acc);
    return out;
}

START_TEST(test_index_add_matches_naive) {
    ty_dtype dts[] = {TY_F32, TY_F64, TY_I64, TY_BF16};
    for (int k = 0; k < 4; k++) {
        ty_tensor *x0 = rand_values(3, (int64_t[]){4, 5, 6}, dts[k], 40 + k);
        for (int lay = 0; lay < 3; lay++) {
            for (int d = -1; d < 3; d++) {
                int wd = (d + 3) % 3;
                int64_t E = 9, sshape[3] = {4, 5, 6};
                sshape[wd] = E;
                ty_tensor *index = rand_index(1, &E, x0->shape[wd], 50 + d);
                ty_tensor *s0 = rand_values(3, sshape, dts[k], 60 + d);
                ty_tensor *src = in_layout(s0, lay), *idx = in_layout(index, lay ? 2 : 0);
                ty_tensor *ref = naive_index_add(x0, wd, idx, src);
                ty_tensor *out = ty_index_add(x0, d, idx, src);
                tu_assert_close(out, ref, 0, 0);
                ty_tensor *tgt = in_layout(x0, lay);
                ck_assert_int_eq(ty_index_add_(tgt, d, idx, src), 0);
                tu_assert_close(tgt, ref, 0, 0);
                ty_tensor *objs[] = {index, s0, src, idx, ref, out, tgt};
                for (int i = 0; i < 7; i++) ty_tensor_release(objs[i]);
            }
        }
        ty_tensor_release(x0);
    }
}
END_TEST

START_TEST(test_gather_scatter_round_trip) {
    /* each row of idx is a permutation: scatter then gather gives x back */
    int64_t perm[4][6] = {
        {5, 4, 3, 2, 1, 0}, {0, 2, 4, 1, 3, 5}, {3, 0, 5, 2, 1, 4}, {1, 0, 3, 2, 5, 4}};
    ty_tensor *idx = ty_from_buffer(perm, 2, (int64_t[]){4, 6}, TY_I64);
    ty_tensor *x = tu_randn(2, (int64_t[]){4, 6}, TY_F64, 70);
    ty_tensor *z = zeros(2, (int64_t[]){4, 6}, TY_F64);
    ty_tensor *y = ty_scatter(z, 1, idx, x);
    ty_tensor *back = ty_gather(y, 1, idx);
    tu_assert_close(back, x, 0, 0);
    ck_assert_double_eq(ty_get_flat(y, 5), ty_get_flat(x, 0)); /* y[0][5] = x[0][0] */
    ty_tensor *objs[] = {idx, x, z, y, back};
    for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* ---- index_select, masks, nonzero, one_hot ---- */

START_TEST(test_index_select_matches_naive) {
    for (int k = 0; k < N_DTYPES; k++) {
        ty_tensor *x0 = rand_values(3, (int64_t[]){4, 5, 6}, all_dtypes[k], 80 + k);
        for (int lay = 0; lay < 3; lay++) {
            ty_tensor *x = in_layout(x0, lay);
            for (int d = -3; d < 3; d++) {
                int wd = (d + 3) % 3;
                int64_t E = 8;
                ty_tensor *i0 = rand_index(1, &E, x->shape[wd], 90 + d);
                ty_tensor *idx = in_layout(i0, lay == 2 ? 2 : 0);
                ty_tensor *out = ty_index_select(x, d, idx);
                ck_assert_int_eq(out->shape[wd], E);
                int64_t c[3], xc[3];
                for (int64_t i = 0; i < ty_numel(out); i++) {
                    unravel(3, out->shape, i, c);
                    memcpy(xc, c, sizeof c);
                    xc[wd] = (int64_t)ty_get_flat(idx, c[wd]);
                    ck_assert_double_eq(at(out, c), at(x, xc));
                }
                ty_tensor_release(out);
                ty_tensor_release(idx);
                ty_tensor_release(i0);
            }
            ty_tensor_release(x);
        }
        ty_tensor_release(x0);
    }
    /* empty index, 0-d index, 0-d x */
    ty_tensor *x = tu_arange(2, (int64_t[]){3, 4}, TY_F32);
    ty_tensor *e = ty_empty(1, (int64_t[]){0}, TY_I64, ty_cpu());
    ty_tensor *out = ty_index_select(x, 1, e);
    ck_assert(out->shape[0] == 3 && out->shape[1] == 0);
    ty_tensor_release(out);
    ty_tensor *s = ty_scalar(2, TY_I64);
    out = ty_index_select(x, 0, s);
    ck_assert(out->ndim == 2 && out->shape[0] == 1);
    tu_assert_values(out, ((double[]){8, 9, 10, 11}), 4, 0);
    ty_tensor_release(out);
    ty_tensor *zi = ty_scalar(0, TY_I64), *sx = ty_scalar(4, TY_F32);
    out = ty_index_select(sx, 0, zi);
    tu_assert_values(out, ((double[]){4}), 1, 0);
    ty_tensor_release(out);
    ty_tensor *objs[] = {x, e, s, zi, sx};
    for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_masked_fill_and_select) {
    ty_tensor *x = tu_arange(2, (int64_t[]){3, 4}, TY_F32);
    uint8_t mrow[4] = {1, 0, 0, 1};
    ty_tensor *m = ty_from_buffer(mrow, 1, (int64_t[]){4}, TY_BOOL);
    ty_tensor *out = ty_masked_fill(x, m, -1);
    tu_assert_values(out, ((double[]){-1, 1, 2, -1, -1, 5, 6, -1, -1, 9, 10, -1}), 12, 0);
    ty_tensor_release(out);
    /* the mask may widen the result */
    ty_tensor *m3 = ty_from_buffer((uint8_t[]){0, 1}, 3, (int64_t[]){2, 1, 1}, TY_U8);
    out = ty_masked_fill(x, m3, 7);
    ck_assert(out->ndim == 3 && out->shape[0] == 2);
    ck_assert_double_eq(ty_get_flat(out, 5), 5);
    ck_assert_double_eq(ty_get_flat(out, 12 + 5), 7);
    ty_tensor_release(out);
    /* in place on transposed and strided targets, several dtypes, vs a loop */
    ty_tensor *mc = ty_from_buffer((uint8_t[]){2, 0, 1}, 2, (int64_t[]){3, 1}, TY_U8);
    for (int k = 0; k < N_DTYPES; k++) {
        ty_tensor *x0 = rand_values(2, (int64_t[]){3, 4}, all_dtypes[k], 100 + k);
        for (int lay = 0; lay < 3; lay++) {
            ty_tensor *t = in_layout(x0, lay);
            ck_assert_int_eq(ty_masked_fill_(t, mc, 1), 0);
            for (int64_t i = 0; i < 12; i++)
                ck_assert_double_eq(ty_get_flat(t, i), i / 4 == 1 ? ty_get_flat(x0, i) : 1);
            ty_tensor_release(t);
        }
        ty_tensor_release(x0);
    }
    /* masked_select over the broadcast shape, in row-major order */
    ty_tensor *sel = ty_masked_select(x, m);
    tu_assert_values(sel, ((double[]){0, 3, 4, 7, 8, 11}), 6, 0);
    ck_assert_int_eq(sel->ndim, 1);
    ty_tensor *xt = tu_noncontiguous(x);
    ty_tensor *sel2 = ty_masked_select(xt, mc);
    tu_assert_values(sel2, ((double[]){0, 1, 2, 3, 8, 9, 10, 11}), 8, 0);
    ty_tensor *none = zeros(1, (int64_t[]){4}, TY_BOOL);
    ty_tensor *sel3 = ty_masked_select(x, none);
    ck_assert_int_eq(ty_numel(sel3), 0);
    ty_tensor *objs[] = {x, m, m3, mc, sel, xt, sel2, none, sel3};
    for (int i = 0; i < 9; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_nonzero_one_hot) {
    float v[6] = {0, 1.5f, -0.0f, NAN, 0, -2};
    ty_tensor *x = ty_from_buffer(v, 2, (int64_t[]){2, 3}, TY_F32);
    ty_tensor *nz = ty_nonzero(x);
    ck_assert(nz->shape[0] == 3 && nz->shape[1] == 2 && nz->dtype == TY_I64);
    tu_assert_values(nz, ((double[]){0, 1, 1, 0, 1, 2}), 6, 0);
    ty_tensor *xt = tu_noncontiguous(x), *xh = ty_cast(xt, TY_F16);
    ty_tensor *nzh = ty_nonzero(xh);
    tu_assert_close(nzh, nz, 0, 0);
    ty_tensor *s = ty_scalar(3, TY_I64), *nzs = ty_nonzero(s);
    ck_assert(nzs->shape[0] == 1 && nzs->shape[1] == 0);
    ty_tensor *z = zeros(1, (int64_t[]){5}, TY_U8), *nzz = ty_nonzero(z);
    ck_assert(nzz->shape[0] == 0 && nzz->shape[1] == 1);

    ty_tensor *lab = ty_from_buffer((int64_t[]){2, 0, 3, 2}, 2, (int64_t[]){2, 2}, TY_I64);
    ty_tensor *oh = ty_one_hot(lab, -1);
    ck_assert(oh->ndim == 3 && oh->shape[2] == 4 && oh->dtype == TY_I64);
    tu_assert_values(oh, ((double[]){0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0}), 16, 0);
    ty_tensor *oh5 = ty_one_hot(lab, 5);
    ck_assert_int_eq(oh5->shape[2], 5);
    ck_assert_double_eq(ty_get_flat(oh5, 5 + 0), 1);
    tu_assert_error(ty_one_hot(lab, 3) == NULL, "one_hot", "label 3", "3 classes");
    ty_tensor *neg = ty_from_buffer((int64_t[]){1, -2}, 1, (int64_t[]){2}, TY_I64);
    tu_assert_error(ty_one_hot(neg, 4) == NULL, "one_hot", "label -2");
    ty_tensor *fl = ty_cast(lab, TY_F32);
    tu_assert_error(ty_one_hot(fl, 4) == NULL, "one_hot", "i64", "f32");
    ty_tensor *el = ty_empty(1, (int64_t[]){0}, TY_I64, ty_cpu());
    tu_assert_error(ty_one_hot(el, -1) == NULL, "one_hot", "empty");
    ty_tensor *oe = ty_one_hot(el, 3);
    ck_assert(oe->shape[0] == 0 && oe->shape[1] == 3);
    ty_tensor *objs[] = {x, nz, xt, xh, nzh, s, nzs, z, nzz, lab, oh, oh5, neg, fl, el, oe};
    for (int i = 0; i < 16; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_gather_scatter_errors) {
    ty_tensor *x = tu_arange(2, (int64_t[]){3, 5}, TY_F32);
    ty_tensor *bad = ty_from_buffer((int64_t[]){0, 7, 1, 2}, 2, (int64_t[]){2, 2}, TY_I64);
    tu_assert_error(ty_gather(x, 1, bad) == NULL, "gather", "index 7", "dim 1", "size 5");
    ty_tensor *negi = ty_from_buffer((int64_t[]){0, -1}, 2, (int64_t[]){1, 2}, TY_I64);
    tu_assert_error(ty_gather(x, -1, negi) == NULL, "gather", "index -1", "dim 1", "size 5");
    ty_tensor *i1 = ty_from_buffer((int64_t[]){0, 1}, 1, (int64_t[]){2}, TY_I64);
    tu_assert_error(ty_gather(x, 1, i1) == NULL, "gather", "1 dims", "2", "(2)", "(3,5)");
    ty_tensor *fi = ty_cast(bad, TY_F32);
    tu_assert_error(ty_gather(x, 1, fi) == NULL, "gather", "i64", "f32");
    ty_tensor *big = zeros(2, (int64_t[]){4, 2}, TY_I64);
    tu_assert_error(ty_gather(x, 1, big) == NULL, "gather", "(4,2)", "(3,5)", "dim 0", "4 > 3");
    tu_assert_error(ty_gather(x, 2, i1) == NULL, "gather", "dim 2");

    /* a failing in-place scatter changes nothing (the bad index is last) */
    ty_tensor *tgt = tu_noncontiguous(x), *before = ty_clone(tgt);
    ty_tensor *idx = ty_from_buffer((int64_t[]){0, 1, 2, 5}, 2, (int64_t[]){1, 4}, TY_I64);
    ty_tensor *src = tu_arange(2, (int64_t[]){1, 4}, TY_F32);
    uint64_t v0 = tgt->storage->version;
    tu_assert_error(ty_scatter_(tgt, 1, idx, src) < 0, "scatter_", "index 5", "dim 1", "size 5");
    tu_assert_error(ty_scatter_add_(tgt, 1, idx, src) < 0, "scatter_add_", "index 5");
    tu_assert_error(ty_scatter_value_(tgt, 1, idx, 3) < 0, "scatter_", "index 5");
    ty_tensor *col = ty_from_buffer((int64_t[]){0, 9}, 2, (int64_t[]){2, 1}, TY_I64);
    ty_tensor *ecol = ty_expand(col, 2, (int64_t[]){2, 5}),
              *src2 = zeros(2, (int64_t[]){2, 5}, TY_F32);
    tu_assert_error(ty_scatter_add_(tgt, 0, ecol, src2) < 0, "scatter_add_", "index 9", "dim 0",
                    "size 3");
    tu_assert_error(ty_scatter_add(tgt, 0, ecol, src2) == NULL, "scatter_add", "index 9");
    ck_assert(same_values(tgt, before));
    ck_assert_uint_eq(tgt->storage->version, v0);
    /* wrong src dtype / shapes */
    ty_tensor *src64 = ty_cast(src, TY_F64);
    ty_tensor *ok = ty_from_buffer((int64_t[]){0, 1, 2, 3}, 2, (int64_t[]){1, 4}, TY_I64);
    tu_assert_error(ty_scatter_(tgt, 1, ok, src64) < 0, "scatter_", "f64", "f32");
    ty_tensor *small = zeros(2, (int64_t[]){1, 3}, TY_F32);
    tu_assert_error(ty_scatter(tgt, 1, ok, small) == NULL, "scatter", "(1,4)", "(1,3)", "4 > 3");
    /* broadcast targets share memory */
    ty_tensor *row = zeros(2, (int64_t[]){1, 5}, TY_F32);
    ty_tensor *ex = ty_expand(row, 2, (int64_t[]){3, 5});
    tu_assert_error(ty_scatter_(ex, 1, ok, src) < 0, "scatter_", "broadcast");
    ty_tensor *brow = zeros(1, (int64_t[]){5}, TY_BOOL);
    tu_assert_error(ty_masked_fill_(ex, brow, 1) < 0, "masked_fill_", "broadcast");
    /* index_add and index_select */
    ty_tensor *ia = ty_from_buffer((int64_t[]){0, 3}, 1, (int64_t[]){2}, TY_I64);
    ty_tensor *ias = zeros(2, (int64_t[]){2, 5}, TY_F32);
    tu_assert_error(ty_index_add_(tgt, 0, ia, ias) < 0, "index_add_", "index 3", "dim 0", "size 3");
    ck_assert(same_values(tgt, before));
    ck_assert_uint_eq(tgt->storage->version, v0);
    ty_tensor *ias3 = zeros(2, (int64_t[]){3, 5}, TY_F32);
    tu_assert_error(ty_index_add(x, 0, ia, ias3) == NULL, "index_add", "(3,5)", "2 indices");
    tu_assert_error(ty_index_select(x, 0, bad) == NULL, "index_select", "0-d or 1-D", "(2,2)");
    tu_assert_error(ty_index_select(x, 0, ia) == NULL, "index_select", "index 3", "size 3");
    ty_tensor *fia = ty_cast(ia, TY_F32);
    tu_assert_error(ty_index_select(x, 0, fia) == NULL, "index_select", "i64", "f32");
    /* masks */
    ty_tensor *fm = zeros(1, (int64_t[]){5}, TY_F32);
    tu_assert_error(ty_masked_fill(x, fm, 0) == NULL, "masked_fill", "bool or u8", "f32");
    ty_tensor *m4 = zeros(1, (int64_t[]){4}, TY_BOOL);
    tu_assert_error(ty_masked_fill(x, m4, 0) == NULL, "masked_fill", "(3,5)", "(4)");
    ty_tensor *m25 = zeros(2, (int64_t[]){2, 5}, TY_BOOL);
    tu_assert_error(ty_masked_fill_(tgt, m25, 0) < 0, "masked_fill_", "(2,5)", "(3,5)");
    tu_assert_error(ty_masked_select(x, m4) == NULL, "masked_select", "(4)");
    ck_assert(same_values(tgt, before));
    ty_tensor *objs[] = {x,     bad, negi,  i1,  fi, big, tgt, before, idx, src, col, ecol, src2,
                         src64, ok,  small, row, ex, ia,  ias, ias3,   fia, fm,  m4,  m25,  brow};
    for (int i = 0; i < 26; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* ---- sort and topk ---- */

/* NaN above everything; `desc` reverses. Strict. */
static bool naive_before(double a, double b, bool desc) {
    if (desc) {
        double t = a;
        a = b;
        b = t;
    }
    if (isnan(b)) return !isnan(a);
    if (isnan(a)) return false;
    return a < b;
}

/* Checks values/indices (first `keep` of each line) of a sort of x along d
 * against a stable insertion sort per line. */
static void check_sorted(const ty_tensor *x, int d, bool desc, int64_t keep, const ty_tensor *vals,
                         const ty_tensor *idx) {
    int64_t n = x->shape[d], lines = ty_numel(x) / (n > 0 ? n : 1);
    double *v = malloc(sizeof(double) * (size_t)(n + 1));
    int64_t *p = malloc(sizeof(int64_t) * (size_t)(n + 1));
    int64_t c[TY_MAX_DIMS], lshape[TY_MAX_DIMS];
    memcpy(lshape, x->shape, sizeof lshape);
    lshape[d] = 1;
    for (int64_t l = 0; l < lines; l++) {
        unravel(x->ndim, lshape, l, c);
        for (int64_t i = 0; i < n; i++) {
            c[d] = i;
            double key = at(x, c);
            int64_t j = i;
            while (j > 0 && naive_before(key, v[j - 1], desc)) {
                v[j] = v[j - 1];
                p[j] = p[j - 1];
                j--;
            }
            v[j] = key;
            p[j] = i;
        }
        for (int64_t i = 0; i < keep; i++) {
            c[d] = i;
            if (vals) {
                double got = at(vals, c);
                ck_assert_msg(got == v[i] || (isnan(got) && isnan(v[i])), "line %lld: %g vs %g",
                              (long long)l, got, v[i]);
            }
            if (idx) ck_assert_int_eq((int64_t)at(idx, c), p[i]);
        }
    }
    free(v);
    free(p);
}

START_TEST(test_sort_matches_naive) {
    for (int k = 0; k < N_DTYPES; k++) {
        ty_dtype dt = all_dtypes[k];
        /* few distinct values: many ties, so stability is exercised */
        ty_tensor *x0 = rand_values(3, (int64_t[]){3, 40, 5}, dt, 200 + k);
        if (ty_dtype_is_float(dt)) { /* some NaN and inf */
            set_at(x0, (int64_t[]){0, 3, 1}, NAN);
            set_at(x0, (int64_t[]){1, 7, 2}, INFINITY);
            set_at(x0, (int64_t[]){2, 9, 4}, -INFINITY);
            set_at(x0, (int64_t[]){0, 30, 1}, NAN);
        }
        for (int lay = 0; lay < 3; lay++) {
            ty_tensor *x = in_layout(x0, lay);
            for (int d = -1; d < 3; d++) {
                for (int desc = 0; desc < 2; desc++) {
                    ty_tensor *vals = NULL, *idx = NULL;
                    ck_assert_int_eq(ty_sort(x, d, desc, true, &vals, &idx), 0);
                    ck_assert_int_eq(vals->dtype, dt);
                    ck_assert_int_eq(idx->dtype, TY_I64);
                    check_sorted(x, (d + 3) % 3, desc, x->shape[(d + 3) % 3], vals, idx);
                    ty_tensor *a = ty_argsort(x, d, desc, false);
                    tu_assert_close(a, idx, 0, 0);
                    int64_t kk = x->shape[(d + 3) % 3] < 4 ? 2 : 4;
                    ty_tensor *tv = NULL, *ti = NULL;
                    ck_assert_int_eq(ty_topk(x, kk, d, desc, true, &tv, &ti), 0);
                    ck_assert_int_eq(tv->shape[(d + 3) % 3], kk);
                    check_sorted(x, (d + 3) % 3, desc, kk, tv, ti);
                    ty_tensor *objs[] = {vals, idx, a, tv, ti};
                    for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
                }
            }
            ty_tensor_release(x);
        }
        ty_tensor_release(x0);
    }
    /* long lines go through the merge passes and the threads */
    ty_tensor *big = tu_randn(2, (int64_t[]){64, 5000}, TY_F32, 210);
    ty_tensor *vals = NULL, *idx = NULL;
    ck_assert_int_eq(ty_sort(big, 1, false, false, &vals, &idx), 0);
    check_sorted(big, 1, false, 5000, vals, idx);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    ty_tensor_release(big);
}
END_TEST

START_TEST(test_sort_stability_nan_ties) {
    float v[7] = {2, NAN, 1, 2, -INFINITY, 1, NAN};
    ty_tensor *x = ty_from_buffer(v, 1, (int64_t[]){7}, TY_F32);
    ty_tensor *vals = NULL, *idx = NULL;
    ck_assert_int_eq(ty_sort(x, 0, false, true, &vals, &idx), 0);
    tu_assert_values(vals, ((double[]){-INFINITY, 1, 1, 2, 2, NAN, NAN}), 7, 0);
    tu_assert_values(idx, ((double[]){4, 2, 5, 0, 3, 1, 6}), 7, 0);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    ck_assert_int_eq(ty_sort(x, -1, true, true, &vals, &idx), 0);
    tu_assert_values(vals, ((double[]){NAN, NAN, 2, 2, 1, 1, -INFINITY}), 7, 0);
    tu_assert_values(idx, ((double[]){1, 6, 0, 3, 2, 5, 4}), 7, 0); /* equal keys keep order */
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    /* topk: ties keep the lower index first; NaN counts as the largest */
    ck_assert_int_eq(ty_topk(x, 3, 0, true, true, &vals, &idx), 0);
    tu_assert_values(idx, ((double[]){1, 6, 0}), 3, 0);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    ck_assert_int_eq(ty_topk(x, 2, 0, false, false, NULL, &idx), 0);
    tu_assert_values(idx, ((double[]){4, 2}), 2, 0);
    ty_tensor_release(idx);
    ty_tensor *t = ty_from_buffer((int64_t[]){5, 5, 5, 5}, 1, (int64_t[]){4}, TY_I64);
    ck_assert_int_eq(ty_topk(t, 2, 0, true, true, &vals, &idx), 0);
    tu_assert_values(idx, ((double[]){0, 1}), 2, 0);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    /* k = 0 and k = size; a 0-size dim; bool; a 0-d scalar */
    ck_assert_int_eq(ty_topk(x, 0, 0, true, true, &vals, &idx), 0);
    ck_assert(ty_numel(vals) == 0 && ty_numel(idx) == 0);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    ck_assert_int_eq(ty_topk(x, 7, 0, false, true, &vals, NULL), 0);
    ck_assert_int_eq(ty_numel(vals), 7);
    ty_tensor_release(vals);
    ty_tensor *e = ty_empty(2, (int64_t[]){3, 0}, TY_F32, ty_cpu());
    ck_assert_int_eq(ty_sort(e, 1, false, false, &vals, &idx), 0);
    ck_assert(vals->shape[0] == 3 && vals->shape[1] == 0);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    ty_tensor *b = ty_from_buffer((uint8_t[]){1, 0, 1, 0}, 1, (int64_t[]){4}, TY_BOOL);
    ck_assert_int_eq(ty_sort(b, 0, true, true, &vals, &idx), 0);
    tu_assert_values(vals, ((double[]){1, 1, 0, 0}), 4, 0);
    tu_assert_values(idx, ((double[]){0, 2, 1, 3}), 4, 0);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    ty_tensor *s = ty_scalar(3, TY_F64);
    ck_assert_int_eq(ty_sort(s, 0, false, false, &vals, &idx), 0);
    ck_assert(vals->ndim == 0 && ty_get_flat(idx, 0) == 0);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    /* errors */
    tu_assert_error(ty_topk(x, 8, 0, true, true, &vals, &idx) < 0, "topk", "k 8", "dim 0",
                    "size 7");
    ck_assert(vals == NULL && idx == NULL);
    tu_assert_error(ty_topk(x, -1, 0, true, true, &vals, &idx) < 0, "topk", "k -1");
    tu_assert_error(ty_sort(x, 1, false, false, &vals, &idx) < 0, "sort", "dim 1");
    tu_assert_error(ty_argsort(x, -2, false, false) == NULL, "argsort", "dim -2");
    ty_tensor *objs[] = {x, t, e, b, s};
    for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* ---- cat and stack ---- */

START_TEST(test_cat_promotion_empty_layouts) {
    ty_tensor *a = tu_arange(2, (int64_t[]){2, 3}, TY_I64);
    ty_tensor *b0 = tu_arange(2, (int64_t[]){2, 3}, TY_F32);
    ty_tensor *b = tu_noncontiguous(b0);
    ty_tensor *empty = ty_empty(1, (int64_t[]){0}, TY_F64, ty_cpu());
    ty_tensor *c0 = ty_empty(2, (int64_t[]){0, 3}, TY_U8, ty_cpu());
    ty_tensor *ins[] = {a, empty, b, c0};
    ty_tensor *out = ty_cat(4, ins, 0);
    ck_assert_int_eq(out->dtype, TY_F64); /* the skipped tensor still promotes */
    ck_assert(out->shape[0] == 4 && out->shape[1] == 3);
    tu_assert_values(out, ((double[]){0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}), 12, 0);
    ty_tensor_release(out);
    ty_tensor *ins2[] = {a, b};
    out = ty_cat(2, ins2, -1);
    ck_assert_int_eq(out->dtype, TY_F32);
    tu_assert_values(out, ((double[]){0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}), 12, 0);
    ty_tensor_release(out);
    /* many dtypes and layouts against a loop: cat along each dim of 3-D */
    for (int k = 0; k < N_DTYPES; k++) {
        ty_tensor *p0 = rand_values(3, (int64_t[]){2, 3, 4}, all_dtypes[k], 300 + k);
        ty_tensor *p = tu_strided(p0), *q = tu_noncontiguous(p0);
        for (int d = 0; d < 3; d++) {
            ty_tensor *pq[] = {p, q, p0};
            ty_tensor *o = ty_cat(3, pq, d);
            int64_t c[3], sc[3];
            for (int64_t i = 0; i < ty_numel(o); i++) {
                unravel(3, o->shape, i, c);
                memcpy(sc, c, sizeof c);
                int which = (int)(c[d] / p0->shape[d]);
                sc[d] = c[d] % p0->shape[d];
                ck_assert_double_eq(at(o, c), at(pq[which], sc));
            }
            ty_tensor_release(o);
        }
        ty_tensor_release(p0);
        ty_tensor_release(p);
        ty_tensor_release(q);
    }
    /* all inputs skipped */
    ty_tensor *only[] = {empty, empty};
    out = ty_cat(2, only, 0);
    ck_assert(out->ndim == 1 && out->shape[0] == 0);
    ty_tensor_release(out);
    /* errors */
    ty_tensor *w = zeros(2, (int64_t[]){2, 4}, TY_F32);
    ty_tensor *bad[] = {a, w};
    tu_assert_error(ty_cat(2, bad, 0) == NULL, "cat", "tensor 1", "size 4", "dim 1", "expected 3",
                    "(2,4)", "(2,3)");
    ty_tensor *v1 = zeros(1, (int64_t[]){3}, TY_F32);
    ty_tensor *bad2[] = {a, v1};
    tu_assert_error(ty_cat(2, bad2, 0) == NULL, "cat", "tensor 1", "1 dims", "(3)");
    ty_tensor *sc = ty_scalar(1, TY_F32);
    ty_tensor *bad3[] = {sc};
    tu_assert_error(ty_cat(1, bad3, 0) == NULL, "cat", "0-d");
    tu_assert_error(ty_cat(0, bad3, 0) == NULL, "cat", "non-empty");
    tu_assert_error(ty_cat(2, ins2, 2) == NULL, "cat", "dim 2");
    ty_tensor *objs[] = {a, b0, b, empty, c0, w, v1, sc};
    for (int i = 0; i < 8; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_stack) {
    ty_tensor *a = tu_arange(2, (int64_t[]){2, 3}, TY_F32);
    ty_tensor *b0 = ty_scalar(10, TY_F32);
    ty_tensor *b = ty_expand(b0, 2, (int64_t[]){2, 3});
    ty_tensor *ins[] = {a, b};
    ty_tensor *s0 = ty_stack(2, ins, 0);
    ck_assert(s0->ndim == 3 && s0->shape[0] == 2 && s0->shape[1] == 2 && s0->shape[2] == 3);
    tu_assert_values(s0, ((double[]){0, 1, 2, 3, 4, 5, 10, 10, 10, 10, 10, 10}), 12, 0);
    ty_tensor *s2 = ty_stack(2, ins, -1);
    ck_assert(s2->shape[0] == 2 && s2->shape[1] == 3 && s2->shape[2] == 2);
    tu_assert_values(s2, ((double[]){0, 10, 1, 10, 2, 10, 3, 10, 4, 10, 5, 10}), 12, 0);
    ty_tensor *s1 = ty_stack(2, ins, 1);
    tu_assert_values(s1, ((double[]){0, 1, 2, 10, 10, 10, 3, 4, 5, 10, 10, 10}), 12, 0);
    /* scalars and empties */
    ty_tensor *sc[] = {b0, b0, b0};
    ty_tensor *v = ty_stack(3, sc, 0);
    ck_assert(v->ndim == 1 && v->shape[0] == 3);
    ty_tensor *e = ty_empty(1, (int64_t[]){0}, TY_F32, ty_cpu());
    ty_tensor *es[] = {e, e};
    ty_tensor *ve = ty_stack(2, es, 0);
    ck_assert(ve->ndim == 2 && ve->shape[0] == 2 && ve->shape[1] == 0);
    ty_tensor *w = zeros(2, (int64_t[]){3, 2}, TY_F32);
    ty_tensor *bad[] = {a, w};
    tu_assert_error(ty_stack(2, bad, 0) == NULL, "stack", "tensor 1", "(3,2)", "(2,3)");
    tu_assert_error(ty_stack(2, ins, 3) == NULL, "stack", "dim 3");
    ty_tensor *objs[] = {a, b0, b, s0, s2, s1, v, e, ve, w};
    for (int i = 0; i < 10; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* ---- split and chunk ---- */

static void check_pieces(ty_tensor *x, int d, ty_tensor **arr, int64_t n, const int64_t *sizes) {
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        ck_assert_ptr_eq(arr[i]->storage, x->storage); /* a view */
        ck_assert_int_eq(arr[i]->shape[d], sizes[i]);
        ty_tensor *expect = ty_narrow(x, d, off, sizes[i]);
        tu_assert_close(arr[i], expect, 0, 0);
        ty_tensor_release(expect);
        off += sizes[i];
    }
}

START_TEST(test_split_chunk_views) {
    ty_tensor *x0 = tu_arange(2, (int64_t[]){5, 4}, TY_F32);
    ty_tensor *x = tu_noncontiguous(x0);
    int64_t n;
    ty_tensor **arr = ty_split(x, 2, 0, &n);
    ck_assert_int_eq(n, 3);
    check_pieces(x, 0, arr, n, (int64_t[]){2, 2, 1});
    /* writing through a piece changes x: shared storage */
    ck_assert_int_eq(ty_fill_(arr[2], -5), 0);
    ck_assert_double_eq(ty_get_flat(x, 16), -5);
    ty_tensor_array_free(arr, n);
    arr = ty_split(x, 10, -1, &n);
    ck_assert_int_eq(n, 1);
    check_pieces(x, 1, arr, n, (int64_t[]){4});
    ty_tensor_array_free(arr, n);
    arr = ty_split_sizes(x, 3, (int64_t[]){1, 0, 3}, 1, &n);
    ck_assert_int_eq(n, 3);
    check_pieces(x, 1, arr, n, (int64_t[]){1, 0, 3});
    ty_tensor_array_free(arr, n);
    arr = ty_chunk(x, 3, 0, &n); /* ceil(5/3) = 2: sizes 2, 2, 1 */
    ck_assert_int_eq(n, 3);
    check_pieces(x, 0, arr, n, (int64_t[]){2, 2, 1});
    ty_tensor_array_free(arr, n);
    arr = ty_chunk(x, 4, 1, &n); /* 4 of size 1 */
    check_pieces(x, 1, arr, n, (int64_t[]){1, 1, 1, 1});
    ty_tensor_array_free(arr, n);
    ty_tensor *six = tu_arange(1, (int64_t[]){6}, TY_I64);
    arr = ty_chunk(six, 4, 0, &n); /* ceil(6/4) = 2: only 3 pieces, as torch.chunk */
    ck_assert_int_eq(n, 3);
    check_pieces(six, 0, arr, n, (int64_t[]){2, 2, 2});
    ty_tensor_array_free(arr, n);
    ty_tensor *e = ty_empty(2, (int64_t[]){0, 3}, TY_F32, ty_cpu());
    arr = ty_chunk(e, 3, 0, &n);
    ck_assert_int_eq(n, 3);
    check_pieces(e, 0, arr, n, (int64_t[]){0, 0, 0});
    ty_tensor_array_free(arr, n);
    arr = ty_split(e, 2, 0, &n);
    ck_assert_int_eq(n, 1);
    ty_tensor_array_free(arr, n);
    ty_tensor_array_free(NULL, 0);
    /* errors */
    tu_assert_error(ty_split(x, 0, 0, &n) == NULL, "split", "positive", "size 5");
    ck_assert_int_eq(n, 0);
    tu_assert_error(ty_split_sizes(x, 2, (int64_t[]){2, 2}, 0, &n) == NULL, "split_sizes", "(2,2)",
                    "sum to 4", "size 5");
    tu_assert_error(ty_split_sizes(x, 2, (int64_t[]){6, -1}, 0, &n) == NULL, "split_sizes",
                    "negative", "-1");
    tu_assert_error(ty_chunk(x, 0, 0, &n) == NULL, "chunk", "positive", "0");
    tu_assert_error(ty_chunk(x, 2, 2, &n) == NULL, "chunk", "dim 2");
    ty_tensor *s = ty_scalar(1, TY_F32);
    tu_assert_error(ty_split(s, 1, 0, &n) == NULL, "split", "0-d");
    ty_tensor *objs[] = {x0, x, six, e, s};
    for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* ---- repeat, flip, roll, pad ---- */

START_TEST(test_repeat_flip_roll) {
    for (int k = 0; k < N_DTYPES; k++) {
        ty_tensor *x0 = rand_values(2, (int64_t[]){3, 4}, all_dtypes[k], 400 + k);
        for (int lay = 0; lay < 3; lay++) {
            ty_tensor *x = in_layout(x0, lay);
            /* repeat to 3-D: out[a][b][c] = x[b % 3][c % 4] */
            ty_tensor *r = ty_repeat(x, 3, (int64_t[]){2, 2, 3});
            ck_assert(r->ndim == 3 && r->shape[0] == 2 && r->shape[1] == 6 && r->shape[2] == 12);
            int64_t c[3];
            for (int64_t i = 0; i < ty_numel(r); i++) {
                unravel(3, r->shape, i, c);
                ck_assert_double_eq(at(r, c), at(x, (int64_t[]){c[1] % 3, c[2] % 4}));
            }
            ty_tensor_release(r);
            /* flip both dims, and one */
            ty_tensor *f = ty_flip(x, 2, (int[]){0, -1});
            ty_tensor *f1 = ty_flip(x, 1, (int[]){1});
            for (int64_t i = 0; i < 12; i++) {
                unravel(2, x->shape, i, c);
                ck_assert_double_eq(at(f, c), at(x, (int64_t[]){2 - c[0], 3 - c[1]}));
                ck_assert_double_eq(at(f1, c), at(x, (int64_t[]){c[0], 3 - c[1]}));
            }
            ty_tensor_release(f);
            ty_tensor_release(f1);
            /* roll: out[(i + s) mod n] = x[i] */
            int64_t shifts[] = {1, -1, 5, -9, 0, 4};
            for (int si = 0; si < 6; si++) {
                for (int d = 0; d < 2; d++) {
                    ty_tensor *o = ty_roll(x, shifts[si], d - 2);
                    int64_t nd = x->shape[d];
                    for (int64_t i = 0; i < 12; i++) {
                        unravel(2, x->shape, i, c);
                        int64_t oc[2] = {c[0], c[1]};
                        oc[d] = (((c[d] + shifts[si]) % nd) + nd) % nd;
                        ck_assert_double_eq(at(o, oc), at(x, c));
                    }
                    ty_tensor_release(o);
                }
                ty_tensor *o = ty_roll_flat(x, shifts[si]);
                ck_assert(o->ndim == 2 && o->shape[0] == 3);
                for (int64_t i = 0; i < 12; i++)
                    ck_assert_double_eq(ty_get_flat(o, (((i + shifts[si]) % 12) + 12) % 12),
                                        ty_get_flat(x, i));
                ty_tensor_release(o);
            }
            ty_tensor_release(x);
        }
        ty_tensor_release(x0);
    }
    /* broadcast input, zero repeats, 0-d */
    ty_tensor *s = ty_scalar(3, TY_F32);
    ty_tensor *e = ty_expand(s, 2, (int64_t[]){2, 2});
    ty_tensor *r = ty_repeat(e, 2, (int64_t[]){1, 2});
    tu_assert_values(r, ((double[]){3, 3, 3, 3, 3, 3, 3, 3}), 8, 0);
    ty_tensor *r0 = ty_repeat(e, 3, (int64_t[]){2, 0, 1});
    ck_assert(r0->ndim == 3 && ty_numel(r0) == 0);
    ty_tensor *rs = ty_repeat(s, 1, (int64_t[]){3});
    tu_assert_values(rs, ((double[]){3, 3, 3}), 3, 0);
    ty_tensor *fs = ty_flip(s, 0, NULL), *ros = ty_roll_flat(s, 3);
    tu_assert_values(fs, ((double[]){3}), 1, 0);
    tu_assert_values(ros, ((double[]){3}), 1, 0);
    ty_tensor *z = ty_empty(2, (int64_t[]){0, 3}, TY_F32, ty_cpu());
    ty_tensor *fz = ty_flip(z, 1, (int[]){0}), *roz = ty_roll(z, 2, 0);
    ck_assert(ty_numel(fz) == 0 && ty_numel(roz) == 0);
    /* errors */
    tu_assert_error(ty_repeat(e, 1, (int64_t[]){2}) == NULL, "repeat", "1 repeats", "2 dims");
    tu_assert_error(ty_repeat(e, 2, (int64_t[]){2, -1}) == NULL, "repeat", "-1", "dim 1");
    tu_assert_error(ty_flip(e, 2, (int[]){0, -2}) == NULL, "flip", "twice");
    tu_assert_error(ty_flip(e, 1, (int[]){2}) == NULL, "flip", "dim 2");
    tu_assert_error(ty_roll(e, 1, -3) == NULL, "roll", "dim -3");
    ty_tensor *objs[] = {s, e, r, r0, rs, fs, ros, z, fz, roz};
    for (int i = 0; i < 10; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_pad_constant) {
    for (int k = 0; k < N_DTYPES; k++) {
        ty_tensor *x0 = rand_values(3, (int64_t[]){2, 3, 4}, all_dtypes[k], 500 + k);
        for (int lay = 0; lay < 3; lay++) {
            ty_tensor *x = in_layout(x0, lay);
            /* last dim (1, -2), second-last (-1, 2): F.pad ordering */
            int64_t pad[4] = {1, -2, -1, 2};
            ty_tensor *p = ty_pad_constant(x, 4, pad, 1);
            ck_assert(p->shape[0] == 2 && p->shape[1] == 4 && p->shape[2] == 3);
            int64_t c[3];
            for (int64_t i = 0; i < ty_numel(p); i++) {
                unravel(3, p->shape, i, c);
                int64_t j = c[1] + 1, l = c[2] - 1; /* source coordinates */
                double want = (j < 3 && l >= 0 && l < 4) ? at(x, (int64_t[]){c[0], j, l}) : 1;
                ck_assert_double_eq(at(p, c), want);
            }
            ty_tensor_release(p);
            ty_tensor_release(x);
        }
        ty_tensor_release(x0);
    }
    ty_tensor *x = tu_arange(1, (int64_t[]){4}, TY_F32);
    ty_tensor *p = ty_pad_constant(x, 2, (int64_t[]){2, 1}, -7);
    tu_assert_values(p, ((double[]){-7, -7, 0, 1, 2, 3, -7}), 7, 0);
    ty_tensor *crop = ty_pad_constant(x, 2, (int64_t[]){-1, -3}, 9);
    ck_assert_int_eq(crop->shape[0], 0);
    ty_tensor *shift = ty_pad_constant(x, 2, (int64_t[]){-3, 2}, 5); /* crop more than kept */
    tu_assert_values(shift, ((double[]){3, 5, 5}), 3, 0);
    ty_tensor *none = ty_pad_constant(x, 0, NULL, 0);
    tu_assert_close(none, x, 0, 0);
    ty_tensor *all = ty_pad_constant(x, 2, (int64_t[]){-6, 3}, 4); /* nothing of x left */
    tu_assert_values(all, ((double[]){4}), 1, 0);
    tu_assert_error(ty_pad_constant(x, 3, (int64_t[]){1, 1, 1}, 0) == NULL, "pad_constant", "even",
                    "3");
    tu_assert_error(ty_pad_constant(x, 4, (int64_t[]){1, 1, 1, 1}, 0) == NULL, "pad_constant",
                    "4 pad sizes", "1 dims");
    tu_assert_error(ty_pad_constant(x, 2, (int64_t[]){-3, -2}, 0) == NULL, "pad_constant",
                    "(-3,-2)", "size 4", "-1");
    ty_tensor *objs[] = {x, p, crop, shift, none, all};
    for (int i = 0; i < 6; i++) ty_tensor_release(objs[i]);
}
END_TEST

Suite *indexing_suite(void) {
    Suite *s = suite_create("indexing");
    TCase *tc = tcase_create("indexing");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_gather_matches_naive);
    tcase_add_test(tc, test_gather_broadcast_zero_size_scalar);
    tcase_add_test(tc, test_scatter_matches_naive);
    tcase_add_test(tc, test_scatter_add_repeated_indices_exact);
    tcase_add_test(tc, test_scatter_add_message_passing_fast_path);
    tcase_add_test(tc, test_scatter_add_fast_path_other_dims);
    tcase_add_test(tc, test_index_add_matches_naive);
    tcase_add_test(tc, test_gather_scatter_round_trip);
    tcase_add_test(tc, test_index_select_matches_naive);
    tcase_add_test(tc, test_masked_fill_and_select);
    tcase_add_test(tc, test_nonzero_one_hot);
    tcase_add_test(tc, test_gather_scatter_errors);
    tcase_add_test(tc, test_sort_matches_naive);
    tcase_add_test(tc, test_sort_stability_nan_ties);
    tcase_add_test(tc, test_cat_promotion_empty_layouts);
    tcase_add_test(tc, test_stack);
    tcase_add_test(tc, test_split_chunk_views);
    tcase_add_test(tc, test_repeat_flip_roll);
    tcase_add_test(tc, test_pad_constant);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(indexing_suite());
}
