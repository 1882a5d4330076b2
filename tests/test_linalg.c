/* Linear algebra: matmul and its fixed-rank relatives, linear and einsum,
 * each against plain loops in double written here, over 1-D, 2-D, batched
 * and broadcast shapes, contiguous, transposed, strided and expanded
 * layouts, every float dtype, size-0 dims and the error messages. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- references ---- */

/* A fresh contiguous f64 copy of t. */
static ty_tensor *to_f64(ty_tensor *t) {
    ty_tensor *c = ty_empty(t->ndim, t->shape, TY_F64, ty_cpu());
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(ty_copy_(c, t), 0);
    return c;
}

/* torch.matmul with triple loops in double. */
static ty_tensor *ref_matmul(ty_tensor *a, ty_tensor *b) {
    ty_tensor *ad = to_f64(a), *bd = to_f64(b);
    int64_t M = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1, K = a->shape[a->ndim - 1];
    int64_t N = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
    int nba = a->ndim > 2 ? a->ndim - 2 : 0, nbb = b->ndim > 2 ? b->ndim - 2 : 0;
    int nb = nba > nbb ? nba : nbb, nd = 0;
    int64_t bs[TY_MAX_DIMS], shape[TY_MAX_DIMS], batch = 1;
    for (int j = 0; j < nb; j++) {
        int ja = j - (nb - nba), jb = j - (nb - nbb);
        int64_t da = ja >= 0 ? a->shape[ja] : 1, db = jb >= 0 ? b->shape[jb] : 1;
        bs[j] = da == 1 ? db : da;
        shape[nd++] = bs[j];
        batch *= bs[j];
    }
    if (a->ndim >= 2) shape[nd++] = M;
    if (b->ndim >= 2) shape[nd++] = N;
    ty_tensor *out = ty_empty(nd, shape, TY_F64, ty_cpu());
    const double *A = ty_data(ad), *B = ty_data(bd);
    double *C = ty_data(out);
    for (int64_t bi = 0; bi < batch; bi++) {
        int64_t rem = bi, ia = 0, ib = 0, sa = 1, sb = 1;
        for (int j = nb - 1; j >= 0; j--) {
            int64_t idx = rem % bs[j];
            rem /= bs[j];
            int ja = j - (nb - nba), jb = j - (nb - nbb);
            if (ja >= 0) {
                ia += (a->shape[ja] == 1 ? 0 : idx) * sa;
                sa *= a->shape[ja];
            }
            if (jb >= 0) {
                ib += (b->shape[jb] == 1 ? 0 : idx) * sb;
                sb *= b->shape[jb];
            }
        }
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += A[ia * M * K + m * K + k] * B[ib * K * N + k * N + n];
                C[bi * M * N + m * N + n] = s;
            }
    }
    ty_tensor_release(ad);
    ty_tensor_release(bd);
    return out;
}

/* Brute-force einsum for explicit equations of letters only: every
 * assignment of every label, the product of the operands' elements added
 * into the output element. */
static ty_tensor *ref_einsum(const char *eq, int n, ty_tensor *const *ops) {
    char terms[8][TY_MAX_DIMS + 1] = {{0}}, out[TY_MAX_DIMS + 1] = {0};
    int t = 0, len = 0;
    const char *c = eq;
    for (; *c && *c != '-'; c++) {
        if (*c == ',') {
            t++;
            len = 0;
        } else {
            terms[t][len++] = *c;
        }
    }
    ck_assert_int_eq(t + 1, n);
    ck_assert(c[0] == '-' && c[1] == '>');
    strcpy(out, c + 2);
    int64_t size[128] = {0};
    char labels[64], seen[128] = {0};
    int nl = 0;
    ty_tensor *d[8];
    for (int i = 0; i < n; i++) {
        d[i] = to_f64(ops[i]);
        for (int k = 0; terms[i][k]; k++) {
            unsigned char l = (unsigned char)terms[i][k];
            if (!seen[l]++) labels[nl++] = (char)l;
            size[l] = ops[i]->shape[k];
        }
    }
    int64_t oshape[TY_MAX_DIMS];
    int no = (int)strlen(out);
    for (int k = 0; k < no; k++) oshape[k] = size[(unsigned char)out[k]];
    ty_tensor *res = ty_empty(no, oshape, TY_F64, ty_cpu());
    ck_assert_int_eq(ty_fill_(res, 0), 0);
    int64_t total = 1, val[128] = {0};
    for (int k = 0; k < nl; k++) total *= size[(unsigned char)labels[k]];
    for (int64_t idx = 0; idx < total; idx++) {
        int64_t rem = idx;
        for (int k = nl - 1; k >= 0; k--) {
            int64_t s = size[(unsigned char)labels[k]];
            val[(unsigned char)labels[k]] = rem % s;
            rem /= s;
        }
        double p = 1;
        for (int i = 0; i < n; i++) {
            int64_t off = 0;
            for (int k = 0; terms[i][k]; k++)
                off = off * ops[i]->shape[k] + val[(unsigned char)terms[i][k]];
            p *= ((double *)ty_data(d[i]))[off];
        }
        int64_t off = 0;
        for (int k = 0; k < no; k++) off = off * oshape[k] + val[(unsigned char)out[k]];
        ((double *)ty_data(res))[off] += p;
    }
    for (int i = 0; i < n; i++) ty_tensor_release(d[i]);
    return res;
}

/* ---- layouts ---- */

enum { CONTIG, TRANSPOSED, STRIDED, NUM_LAYOUTS };

/* t's values in the given memory layout (a new reference). Transposed needs
 * 2 dims; a 1-D tensor gets the strided layout instead. */
static ty_tensor *in_layout(ty_tensor *t, int kind) {
    if (kind == TRANSPOSED && t->ndim >= 2) return tu_noncontiguous(t);
    if (kind != CONTIG && t->ndim >= 1) return tu_strided(t);
    return ty_tensor_retain(t);
}

static void check_shape(const ty_tensor *t, int nd, const int64_t *shape) {
    char s[256], e[256];
    ck_assert_ptr_nonnull(t);
    int same = t->ndim == nd;
    for (int d = 0; same && d < nd; d++) same = t->shape[d] == shape[d];
    ck_assert_msg(same, "shape %s, expected %s", ty_shape_str(t, s, sizeof s),
                  ty_shape_str_n(nd, shape, e, sizeof e));
}

/* |error| allowed for a length-K f32 dot product of values in [-1, 1]. */
static double f32_tol(int64_t K) {
    return 2e-7 * (double)(K + 1) * 4;
}

/* ---- matmul ---- */

typedef struct {
    int na;
    int64_t a[4];
    int nb;
    int64_t b[4];
    int nout;
    int64_t out[4];
} shape_case;

static const shape_case cases[] = {
    {1, {3}, 1, {3}, 0, {0}},
    {1, {5}, 2, {5, 4}, 1, {4}},
    {2, {2, 5}, 1, {5}, 1, {2}},
    {2, {3, 4}, 2, {4, 5}, 2, {3, 5}},
    {2, {1, 7}, 2, {7, 1}, 2, {1, 1}},
    {2, {33, 65}, 2, {65, 17}, 2, {33, 17}},
    {3, {5, 2, 3}, 3, {5, 3, 4}, 3, {5, 2, 4}},
    {3, {5, 2, 3}, 2, {3, 4}, 3, {5, 2, 4}},
    {2, {2, 3}, 3, {5, 3, 4}, 3, {5, 2, 4}},
    {1, {3}, 3, {5, 3, 4}, 2, {5, 4}},
    {3, {5, 2, 3}, 1, {3}, 2, {5, 2}},
    {4, {2, 1, 3, 4}, 3, {5, 4, 6}, 4, {2, 5, 3, 6}},
    {3, {1, 3, 4}, 3, {5, 4, 2}, 3, {5, 3, 2}},
    {4, {2, 1, 2, 3}, 4, {1, 3, 3, 2}, 4, {2, 3, 2, 2}},
    {4, {3, 2, 1, 6}, 2, {6, 2}, 4, {3, 2, 1, 2}},
};

START_TEST(test_matmul_shapes_and_layouts) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int c = 0; c < ncases; c++) {
        const shape_case *sc = &cases[c];
        for (int di = 0; di < 2; di++) {
            ty_tensor *a = tu_uniform(sc->na, sc->a, dts[di], -1, 1, 10 + (uint64_t)c);
            ty_tensor *b = tu_uniform(sc->nb, sc->b, dts[di], -1, 1, 100 + (uint64_t)c);
            ty_tensor *want = ref_matmul(a, b);
            check_shape(want, sc->nout, sc->out);
            int64_t K = sc->a[sc->na - 1];
            double tol = dts[di] == TY_F32 ? f32_tol(K) : 1e-13 * (double)(K + 1);
            for (int la = 0; la < NUM_LAYOUTS; la++) {
                for (int lb = 0; lb < NUM_LAYOUTS; lb++) {
                    ty_tensor *x = in_layout(a, la), *y = in_layout(b, lb);
                    ty_tensor *got = ty_matmul(x, y);
                    ck_assert_msg(got != NULL, "case %d layouts %d %d: %s", c, la, lb,
                                  ty_last_error());
                    ck_assert_int_eq(got->dtype, dts[di]);
                    ck_assert(ty_is_contiguous(got));
                    check_shape(got, sc->nout, sc->out);
                    tu_assert_close(got, want, tol, 1e-5);
                    ty_tensor_release(got);
                    ty_tensor_release(x);
                    ty_tensor_release(y);
                }
            }
            ty_tensor_release(a);
            ty_tensor_release(b);
            ty_tensor_release(want);
        }
    }
}
END_TEST

/* Both operands transposed views in all four combinations, on a size that
 * goes through OpenBLAS's blocked and threaded kernels. */
START_TEST(test_matmul_trans_combinations_large) {
    int64_t M = 130, K = 257, N = 96;
    for (int dt = 0; dt < 2; dt++) {
        ty_dtype d = dt ? TY_F64 : TY_F32;
        ty_tensor *a = tu_uniform(2, (int64_t[]){M, K}, d, -1, 1, 1);
        ty_tensor *b = tu_uniform(2, (int64_t[]){K, N}, d, -1, 1, 2);
        ty_tensor *want = ref_matmul(a, b);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                ty_tensor *x = ta ? tu_noncontiguous(a) : ty_tensor_retain(a);
                ty_tensor *y = tb ? tu_noncontiguous(b) : ty_tensor_retain(b);
                ck_assert(ta == !ty_is_contiguous(x) && tb == !ty_is_contiguous(y));
                ty_tensor *got = ty_matmul(x, y);
                tu_assert_close(got, want, d == TY_F32 ? f32_tol(K) : 1e-12, 1e-5);
                ty_tensor *got_mm = ty_mm(x, y);
                tu_assert_close(got_mm, want, d == TY_F32 ? f32_tol(K) : 1e-12, 1e-5);
                ty_tensor *objs[] = {x, y, got, got_mm};
                for (int i = 0; i < 4; i++) ty_tensor_release(objs[i]);
            }
        ty_tensor_release(a);
        ty_tensor_release(b);
        ty_tensor_release(want);
    }
}
END_TEST

/* Expanded operands: stride 0 on batch dims (no copy needed) and inside the
 * matrix (copied first), slices along the batch, a column of a matrix. */
START_TEST(test_matmul_expanded_and_sliced) {
    ty_tensor *small = tu_uniform(3, (int64_t[]){1, 3, 4}, TY_F64, -1, 1, 3);
    ty_tensor *a = ty_expand(small, 3, (int64_t[]){5, 3, 4});
    ty_tensor *b = tu_uniform(3, (int64_t[]){5, 4, 2}, TY_F64, -1, 1, 4);
    ty_tensor *got = ty_matmul(a, b), *want = ref_matmul(a, b);
    tu_assert_close(got, want, 1e-13, 0);
    /* b broadcast over the batch via stride 0, a contiguous: one merged GEMM */
    ty_tensor *b2 = ty_select(b, 0, 1);
    ty_tensor *b2e = ty_expand(b2, 3, (int64_t[]){5, 4, 2});
    ty_tensor *a2 = tu_uniform(3, (int64_t[]){5, 3, 4}, TY_F64, -1, 1, 5);
    ty_tensor *got2 = ty_matmul(a2, b2e), *want2 = ref_matmul(a2, b2e);
    tu_assert_close(got2, want2, 1e-13, 0);
    /* stride 0 inside the matrices: rows (1,4)->(3,4) and columns (4,1)->(4,2) */
    ty_tensor *row = tu_uniform(2, (int64_t[]){1, 4}, TY_F64, -1, 1, 6);
    ty_tensor *rows = ty_expand(row, 2, (int64_t[]){3, 4});
    ty_tensor *col = tu_uniform(2, (int64_t[]){4, 1}, TY_F64, -1, 1, 7);
    ty_tensor *cols = ty_expand(col, 2, (int64_t[]){4, 2});
    ty_tensor *got3 = ty_matmul(rows, cols), *want3 = ref_matmul(rows, cols);
    tu_assert_close(got3, want3, 1e-13, 0);
    /* every other batch item of a bigger tensor: batch stride is not M*K */
    ty_tensor *big = tu_uniform(3, (int64_t[]){10, 3, 4}, TY_F32, -1, 1, 8);
    ty_tensor *every2 = ty_slice(big, 0, 0, 10, 2);
    ty_tensor *w = tu_uniform(2, (int64_t[]){4, 6}, TY_F32, -1, 1, 9);
    ty_tensor *got4 = ty_matmul(every2, w), *want4 = ref_matmul(every2, w);
    tu_assert_close(got4, want4, f32_tol(4), 1e-5);
    /* a column of a matrix as the vector of mv and dot */
    ty_tensor *m = tu_uniform(2, (int64_t[]){4, 3}, TY_F32, -1, 1, 10);
    ty_tensor *v = ty_select(m, 1, 2);
    ty_tensor *mt = tu_uniform(2, (int64_t[]){5, 4}, TY_F32, -1, 1, 11);
    ty_tensor *got5 = ty_mv(mt, v), *want5 = ref_matmul(mt, v);
    tu_assert_close(got5, want5, f32_tol(4), 1e-5);
    ty_tensor *got6 = ty_dot(v, v), *want6 = ref_matmul(v, v);
    ck_assert_int_eq(got6->ndim, 0);
    tu_assert_close(got6, want6, f32_tol(4), 1e-5);
    /* a scalar expanded into a vector: stride 0 on the only dim */
    ty_tensor *one = ty_scalar(2.0, TY_F32);
    ty_tensor *ones = ty_expand(one, 1, (int64_t[]){4});
    ty_tensor *got7 = ty_dot(ones, v), *want7 = ref_matmul(ones, v);
    tu_assert_close(got7, want7, f32_tol(4), 1e-5);
    ty_tensor *objs[] = {small, a,   b,    got,   want,  b2,    b2e,    a2,   got2, want2, row,
                         rows,  col, cols, got3,  want3, big,   every2, w,    got4, want4, m,
                         v,     mt,  got5, want5, got6,  want6, one,    ones, got7, want7};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_mm_bmm_mv_dot_outer) {
    ty_tensor *a = tu_uniform(3, (int64_t[]){4, 3, 5}, TY_F64, -1, 1, 20);
    ty_tensor *b = tu_uniform(3, (int64_t[]){4, 5, 2}, TY_F64, -1, 1, 21);
    ty_tensor *got = ty_bmm(a, b), *want = ref_matmul(a, b);
    tu_assert_close(got, want, 1e-13, 0);
    ty_tensor *bt = tu_noncontiguous(b);
    ty_tensor *got_t = ty_bmm(a, bt);
    tu_assert_close(got_t, want, 1e-13, 0);
    ty_tensor *x = tu_uniform(1, (int64_t[]){3}, TY_F64, -1, 1, 22);
    ty_tensor *y = tu_uniform(1, (int64_t[]){4}, TY_F64, -1, 1, 23);
    ty_tensor *o = ty_outer(x, y);
    check_shape(o, 2, (int64_t[]){3, 4});
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            ck_assert_double_eq_tol(ty_get_flat(o, i * 4 + j),
                                    ty_get_flat(x, i) * ty_get_flat(y, j), 1e-15);
    ty_tensor *ys = tu_strided(y);
    ty_tensor *o2 = ty_outer(x, ys);
    tu_assert_close(o2, o, 0, 0);
    double va[3] = {1, 2, 3}, vb[3] = {4, -5, 6};
    ty_tensor *p = ty_from_buffer(va, 1, (int64_t[]){3}, TY_F64);
    ty_tensor *q = ty_from_buffer(vb, 1, (int64_t[]){3}, TY_F64);
    ty_tensor *pc = ty_cast(p, TY_F32);
    ty_tensor *d = ty_dot(pc, q); /* f32 . f64 -> f64 */
    ck_assert_int_eq(d->dtype, TY_F64);
    ck_assert_int_eq(d->ndim, 0);
    tu_assert_values(d, ((double[]){12}), 1, 0);
    ty_tensor *objs[] = {a, b, got, want, bt, got_t, x, y, o, ys, o2, p, q, pc, d};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* Exact small values, NaN and inf propagate like BLAS arithmetic does. */
START_TEST(test_matmul_exact_values_nan_inf) {
    double va[6] = {1, 2, 3, 4, 5, 6}, vb[6] = {7, 8, 9, 10, 11, 12};
    ty_tensor *a = ty_from_buffer(va, 2, (int64_t[]){2, 3}, TY_F64);
    ty_tensor *b = ty_from_buffer(vb, 2, (int64_t[]){3, 2}, TY_F64);
    ty_tensor *c = ty_matmul(a, b);
    tu_assert_values(c, ((double[]){58, 64, 139, 154}), 4, 0);
    double vn[4] = {1, NAN, 0, 1}, vi[4] = {INFINITY, 1, 1, 1};
    ty_tensor *n = ty_from_buffer(vn, 2, (int64_t[]){2, 2}, TY_F64);
    ty_tensor *i = ty_from_buffer(vi, 2, (int64_t[]){2, 2}, TY_F64);
    ty_tensor *ni = ty_matmul(n, i);
    /* row 0: [1*inf + nan*1, 1*1 + nan*1] = [nan, nan]; row 1: [0*inf + 1, 0 + 1] */
    ck_assert(isnan(ty_get_flat(ni, 0)) && isnan(ty_get_flat(ni, 1)));
    ck_assert(isnan(ty_get_flat(ni, 2)));
    ck_assert_double_eq(ty_get_flat(ni, 3), 1);
    ty_tensor *objs[] = {a, b, c, n, i, ni};
    for (size_t k = 0; k < sizeof objs / sizeof objs[0]; k++) ty_tensor_release(objs[k]);
}
END_TEST

START_TEST(test_matmul_half_and_mixed_dtypes) {
    ty_dtype halves[2] = {TY_BF16, TY_F16};
    for (int h = 0; h < 2; h++) {
        ty_tensor *a = tu_uniform(3, (int64_t[]){2, 3, 8}, halves[h], -1, 1, 30);
        ty_tensor *b = tu_uniform(2, (int64_t[]){8, 5}, halves[h], -1, 1, 31);
        ty_tensor *want = ref_matmul(a, b); /* from the exact half values */
        ty_tensor *got = ty_matmul(a, b);
        ck_assert_int_eq(got->dtype, halves[h]);
        /* one rounding to half at the end */
        tu_assert_close(got, want, 1e-3, halves[h] == TY_BF16 ? 8e-3 : 1e-3);
        ty_tensor *bt = tu_noncontiguous(b);
        ty_tensor *got_t = ty_matmul(a, bt);
        tu_assert_close(got_t, got, 0, 0);
        /* half with f32 promotes to f32, computed from the same values */
        ty_tensor *b32 = ty_cast(b, TY_F32);
        ty_tensor *mixed = ty_matmul(a, b32);
        ck_assert_int_eq(mixed->dtype, TY_F32);
        tu_assert_close(mixed, want, f32_tol(8), 1e-5);
        ty_tensor *objs[] = {a, b, want, got, bt, got_t, b32, mixed};
        for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
    }
    /* bf16 with f16 gives f32; f32 with f64 gives f64 */
    ty_tensor *x = tu_uniform(2, (int64_t[]){2, 3}, TY_BF16, -1, 1, 32);
    ty_tensor *y = tu_uniform(2, (int64_t[]){3, 2}, TY_F16, -1, 1, 33);
    ty_tensor *xy = ty_matmul(x, y), *want = ref_matmul(x, y);
    ck_assert_int_eq(xy->dtype, TY_F32);
    tu_assert_close(xy, want, f32_tol(3), 1e-5);
    ty_tensor *z = tu_uniform(2, (int64_t[]){3, 2}, TY_F64, -1, 1, 34);
    ty_tensor *x32 = ty_cast(x, TY_F32);
    ty_tensor *xz = ty_matmul(x32, z), *want2 = ref_matmul(x32, z);
    ck_assert_int_eq(xz->dtype, TY_F64);
    tu_assert_close(xz, want2, 1e-14, 0);
    ty_tensor *objs[] = {x, y, xy, want, z, x32, xz, want2};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_matmul_zero_size) {
    /* K = 0: an empty sum is 0, never uninitialised memory */
    ty_tensor *a = ty_empty(2, (int64_t[]){2, 0}, TY_F32, ty_cpu());
    ty_tensor *b = ty_empty(2, (int64_t[]){0, 3}, TY_F32, ty_cpu());
    ty_tensor *c = ty_matmul(a, b);
    check_shape(c, 2, (int64_t[]){2, 3});
    tu_assert_values(c, ((double[]){0, 0, 0, 0, 0, 0}), 6, 0);
    ty_tensor *ab = ty_empty(3, (int64_t[]){4, 2, 0}, TY_F64, ty_cpu());
    ty_tensor *c2 = ty_matmul(ab, b);
    ck_assert_int_eq(c2->dtype, TY_F64);
    check_shape(c2, 3, (int64_t[]){4, 2, 3});
    for (int i = 0; i < 24; i++) ck_assert_double_eq(ty_get_flat(c2, i), 0);
    ty_tensor *e = ty_empty(1, (int64_t[]){0}, TY_F32, ty_cpu());
    ty_tensor *d = ty_dot(e, e);
    ck_assert_int_eq(d->ndim, 0);
    tu_assert_values(d, ((double[]){0}), 1, 0);
    /* M, N or batch 0: empty results of the right shape */
    ty_tensor *m0 = ty_empty(2, (int64_t[]){0, 3}, TY_F32, ty_cpu());
    ty_tensor *w = tu_uniform(2, (int64_t[]){3, 4}, TY_F32, -1, 1, 40);
    ty_tensor *r1 = ty_matmul(m0, w);
    check_shape(r1, 2, (int64_t[]){0, 4});
    ty_tensor *n0 = ty_empty(2, (int64_t[]){3, 0}, TY_F32, ty_cpu());
    ty_tensor *wt = ty_transpose(w, 0, 1);
    ty_tensor *r2 = ty_matmul(wt, n0);
    check_shape(r2, 2, (int64_t[]){4, 0});
    ty_tensor *b0 = ty_empty(3, (int64_t[]){0, 2, 3}, TY_F32, ty_cpu());
    ty_tensor *r3 = ty_matmul(b0, w);
    check_shape(r3, 3, (int64_t[]){0, 2, 4});
    ty_tensor *objs[] = {a, b, c, ab, c2, e, d, m0, w, r1, n0, wt, r2, b0, r3};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_matmul_errors) {
    ty_tensor *a = ty_empty(2, (int64_t[]){2, 3}, TY_F32, ty_cpu());
    ty_tensor *b = ty_empty(2, (int64_t[]){4, 5}, TY_F32, ty_cpu());
    ck_assert_ptr_null(ty_matmul(a, b));
    ck_assert_str_eq(ty_last_error(),
                     "matmul: shapes (2,3) and (4,5) cannot be multiplied: 3 ~= 4");
    ty_tensor *v3 = ty_empty(1, (int64_t[]){3}, TY_F32, ty_cpu());
    ty_tensor *v4 = ty_empty(1, (int64_t[]){4}, TY_F32, ty_cpu());
    ck_assert_ptr_null(ty_matmul(v3, v4));
    ck_assert_str_eq(ty_last_error(), "matmul: shapes (3) and (4) cannot be multiplied: 3 ~= 4");
    tu_assert_error(ty_matmul(b, v3) == NULL, "matmul", "(4,5)", "(3)", "5 ~= 3");
    ty_tensor *i64 = ty_empty(2, (int64_t[]){3, 2}, TY_I64, ty_cpu());
    ck_assert_ptr_null(ty_matmul(a, i64));
    ck_assert_str_eq(ty_last_error(), "matmul: dtype i64 is not supported, cast to f32 or f64");
    ty_tensor *u8 = ty_empty(2, (int64_t[]){3, 2}, TY_U8, ty_cpu());
    tu_assert_error(ty_matmul(u8, a) == NULL, "matmul: dtype u8 is not supported");
    ty_tensor *bl = ty_empty(1, (int64_t[]){3}, TY_BOOL, ty_cpu());
    tu_assert_error(ty_dot(bl, bl) == NULL, "dot: dtype bool is not supported");
    ty_tensor *s = ty_scalar(1, TY_F32);
    tu_assert_error(ty_matmul(s, a) == NULL, "matmul", "at least 1 dim", "()", "(2,3)");
    ty_tensor *x = ty_empty(3, (int64_t[]){2, 3, 4}, TY_F32, ty_cpu());
    ty_tensor *y = ty_empty(3, (int64_t[]){3, 4, 5}, TY_F32, ty_cpu());
    tu_assert_error(ty_matmul(x, y) == NULL, "matmul: batch dims of (2,3,4) and (3,4,5)", "2 ~= 3");
    tu_assert_error(ty_bmm(x, y) == NULL, "bmm", "batch sizes", "2 ~= 3");
    tu_assert_error(ty_bmm(a, a) == NULL, "bmm", "3-D", "(2,3)");
    tu_assert_error(ty_mm(x, a) == NULL, "mm: expected 2-D and 2-D", "(2,3,4)", "(2,3)");
    tu_assert_error(ty_mm(a, b) == NULL, "mm: shapes (2,3) and (4,5)", "3 ~= 4");
    tu_assert_error(ty_mv(a, v4) == NULL, "mv", "(2,3)", "(4)", "3 ~= 4");
    tu_assert_error(ty_mv(a, a) == NULL, "mv", "1-D");
    tu_assert_error(ty_dot(v3, v4) == NULL, "dot", "(3)", "(4)", "3 ~= 4");
    tu_assert_error(ty_dot(a, v3) == NULL, "dot", "1-D", "(2,3)");
    tu_assert_error(ty_outer(a, v3) == NULL, "outer", "(2,3)");
    tu_assert_error(ty_outer(i64, i64) == NULL, "outer", "1-D");
    ty_tensor *iv = ty_empty(1, (int64_t[]){2}, TY_I64, ty_cpu());
    tu_assert_error(ty_outer(iv, v3) == NULL, "outer: dtype i64 is not supported");
    ty_tensor *objs[] = {a, b, v3, v4, i64, u8, bl, s, x, y, iv};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_matmul_interrupt) {
    /* a batch that cannot be merged into one GEMM: polled between items */
    ty_tensor *a = tu_uniform(3, (int64_t[]){4, 3, 5}, TY_F32, -1, 1, 50);
    ty_tensor *b = tu_uniform(3, (int64_t[]){4, 5, 2}, TY_F32, -1, 1, 51);
    ty_interrupt();
    tu_assert_error(ty_matmul(a, b) == NULL, "matmul: interrupted");
    ck_assert(!ty_interrupted());
    ty_tensor *c = ty_matmul(a, b); /* the next call runs normally */
    ty_tensor *want = ref_matmul(a, b);
    tu_assert_close(c, want, f32_tol(5), 1e-5);
    ty_interrupt();
    tu_assert_error(ty_einsum("bij,bjk->bik", 2, (ty_tensor *[]){a, b}) == NULL, "interrupted");
    ck_assert(!ty_interrupted());
    ty_tensor *objs[] = {a, b, c, want};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* ---- linear ---- */

/* x @ w^T + bias from the references. */
static ty_tensor *ref_linear(ty_tensor *x, ty_tensor *w, ty_tensor *bias) {
    ty_tensor *wt = ty_transpose(w, 0, 1);
    ty_tensor *y = ref_matmul(x, wt);
    ty_tensor_release(wt);
    if (bias) {
        int64_t out = w->shape[0], rows = out ? ty_numel(y) / out : 0;
        double *d = ty_data(y);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < out; j++) d[r * out + j] += ty_get_flat(bias, j);
    }
    return y;
}

START_TEST(test_linear) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int di = 0; di < 2; di++) {
        ty_dtype d = dts[di];
        double tol = d == TY_F32 ? f32_tol(7) : 1e-13;
        ty_tensor *x = tu_uniform(3, (int64_t[]){2, 3, 7}, d, -1, 1, 60);
        ty_tensor *w = tu_uniform(2, (int64_t[]){5, 7}, d, -1, 1, 61);
        ty_tensor *bias = tu_uniform(1, (int64_t[]){5}, d, -1, 1, 62);
        ty_tensor *want = ref_linear(x, w, bias), *want_nb = ref_linear(x, w, NULL);
        for (int lx = 0; lx < NUM_LAYOUTS; lx++) {
            for (int lw = 0; lw < NUM_LAYOUTS; lw++) {
                ty_tensor *xx = in_layout(x, lx), *ww = in_layout(w, lw);
                ty_tensor *bb = in_layout(bias, lw);
                ty_tensor *got = ty_linear(xx, ww, bb), *got_nb = ty_linear(xx, ww, NULL);
                ck_assert_int_eq(got->dtype, d);
                check_shape(got, 3, (int64_t[]){2, 3, 5});
                tu_assert_close(got, want, tol, 1e-5);
                tu_assert_close(got_nb, want_nb, tol, 1e-5);
                ty_tensor *objs[] = {xx, ww, bb, got, got_nb};
                for (int i = 0; i < 5; i++) ty_tensor_release(objs[i]);
            }
        }
        /* a single vector in, a vector out */
        ty_tensor *v = tu_uniform(1, (int64_t[]){7}, d, -1, 1, 63);
        ty_tensor *gv = ty_linear(v, w, bias), *wv = ref_linear(v, w, bias);
        check_shape(gv, 1, (int64_t[]){5});
        tu_assert_close(gv, wv, tol, 1e-5);
        ty_tensor *objs[] = {x, w, bias, want, want_nb, v, gv, wv};
        for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
    }
    /* bf16 input with f32 weights promotes to f32; bf16 everywhere stays bf16 */
    ty_tensor *x = tu_uniform(2, (int64_t[]){4, 6}, TY_BF16, -1, 1, 64);
    ty_tensor *w = tu_uniform(2, (int64_t[]){3, 6}, TY_F32, -1, 1, 65);
    ty_tensor *wb = ty_cast(w, TY_BF16);
    ty_tensor *bias = tu_uniform(1, (int64_t[]){3}, TY_BF16, -1, 1, 66);
    ty_tensor *g = ty_linear(x, w, bias), *e = ref_linear(x, w, bias);
    ck_assert_int_eq(g->dtype, TY_F32);
    tu_assert_close(g, e, f32_tol(6), 1e-5);
    ty_tensor *gb = ty_linear(x, wb, bias), *eb = ref_linear(x, wb, bias);
    ck_assert_int_eq(gb->dtype, TY_BF16);
    tu_assert_close(gb, eb, 1e-2, 1e-2);
    /* in = 0: just the bias; out = 0: an empty result */
    ty_tensor *x0 = ty_empty(2, (int64_t[]){2, 0}, TY_F32, ty_cpu());
    ty_tensor *w0 = ty_empty(2, (int64_t[]){3, 0}, TY_F32, ty_cpu());
    ty_tensor *b3 = ty_cast(bias, TY_F32);
    ty_tensor *g0 = ty_linear(x0, w0, b3);
    double bv[3] = {ty_get_flat(b3, 0), ty_get_flat(b3, 1), ty_get_flat(b3, 2)};
    tu_assert_values(g0, ((double[]){bv[0], bv[1], bv[2], bv[0], bv[1], bv[2]}), 6, 0);
    ty_tensor *g0n = ty_linear(x0, w0, NULL);
    tu_assert_values(g0n, ((double[]){0, 0, 0, 0, 0, 0}), 6, 0);
    ty_tensor *we = ty_empty(2, (int64_t[]){0, 6}, TY_F32, ty_cpu());
    ty_tensor *be = ty_empty(1, (int64_t[]){0}, TY_F32, ty_cpu());
    ty_tensor *ge = ty_linear(w, we, be);
    check_shape(ge, 2, (int64_t[]){3, 0});
    /* one output feature, batch items not evenly spaced: a dot product per
     * item, added to the bias */
    ty_tensor *xb = tu_uniform(3, (int64_t[]){10, 1, 6}, TY_F64, -1, 1, 67);
    ty_tensor *xs = ty_slice(xb, 0, 0, 10, 3);
    ty_tensor *w1 = tu_uniform(2, (int64_t[]){1, 6}, TY_F64, -1, 1, 68);
    ty_tensor *b1 = ty_scalar(0.5, TY_F64);
    ty_tensor *b1v = ty_unsqueeze(b1, 0);
    ty_tensor *g1 = ty_linear(xs, w1, b1v), *e1 = ref_linear(xs, w1, b1v);
    check_shape(g1, 3, (int64_t[]){4, 1, 1});
    tu_assert_close(g1, e1, 1e-14, 0);
    ty_tensor *objs[] = {x,   w,  wb, bias, g,  e,  gb, eb, x0,  w0, b3, g0,
                         g0n, we, be, ge,   xb, xs, w1, b1, b1v, g1, e1};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_linear_errors) {
    ty_tensor *x = ty_empty(2, (int64_t[]){2, 3}, TY_F32, ty_cpu());
    ty_tensor *w = ty_empty(2, (int64_t[]){4, 5}, TY_F32, ty_cpu());
    ty_tensor *w3 = ty_empty(2, (int64_t[]){4, 3}, TY_F32, ty_cpu());
    ty_tensor *b5 = ty_empty(1, (int64_t[]){5}, TY_F32, ty_cpu());
    ty_tensor *wi = ty_empty(2, (int64_t[]){4, 3}, TY_I64, ty_cpu());
    ty_tensor *s = ty_scalar(1, TY_F32);
    tu_assert_error(ty_linear(x, w, NULL) == NULL, "linear: input (2,3) and weight (4,5)",
                    "3 ~= 5");
    tu_assert_error(ty_linear(x, w3, b5) == NULL, "linear: bias must have shape (4)", "(5)");
    tu_assert_error(ty_linear(x, b5, NULL) == NULL, "linear", "weight (out, in)", "(5)");
    tu_assert_error(ty_linear(s, w3, NULL) == NULL, "linear", "()");
    tu_assert_error(ty_linear(x, wi, NULL) == NULL, "linear: dtype i64 is not supported");
    ty_tensor *objs[] = {x, w, w3, b5, wi, s};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* ---- einsum ---- */

typedef struct {
    const char *eq;  /* as given to ty_einsum */
    const char *ref; /* the same in explicit letters for ref_einsum */
    int n;
    int nd[3];
    int64_t shape[3][4];
} einsum_case;

static const einsum_case ecases[] = {
    {"ij,jk->ik", "ij,jk->ik", 2, {2, 2}, {{3, 4}, {4, 5}}},
    {"ij,jk", "ij,jk->ik", 2, {2, 2}, {{3, 4}, {4, 5}}},
    {"ij, jk -> ik", "ij,jk->ik", 2, {2, 2}, {{3, 4}, {4, 5}}},
    {"bij,bjk->bik", "bij,bjk->bik", 2, {3, 3}, {{2, 3, 4}, {2, 4, 5}}},
    {"ii", "ii->", 1, {2}, {{4, 4}}},
    {"ii->i", "ii->i", 1, {2}, {{4, 4}}},
    {"ij->ji", "ij->ji", 1, {2}, {{3, 5}}},
    {"ji", "ji->ij", 1, {2}, {{3, 5}}},
    {"i,j->ij", "i,j->ij", 2, {1, 1}, {{3}, {4}}},
    {"ij->", "ij->", 1, {2}, {{3, 5}}},
    {"ijk->j", "ijk->j", 1, {3}, {{3, 4, 5}}},
    {"iij->j", "iij->j", 1, {3}, {{3, 3, 2}}},
    {"bi,ij,bj->b", "bi,ij,bj->b", 3, {2, 2, 2}, {{4, 3}, {3, 5}, {4, 5}}},
    {"ij,jk,ki->", "ij,jk,ki->", 3, {2, 2, 2}, {{3, 4}, {4, 5}, {5, 3}}},
    {"ab,bc,ca->a", "ab,bc,ca->a", 3, {2, 2, 2}, {{3, 4}, {4, 2}, {2, 3}}},
    {"i,i,i->i", "i,i,i->i", 3, {1, 1, 1}, {{5}, {5}, {5}}},
    {"i,i,i", "i,i,i->", 3, {1, 1, 1}, {{5}, {5}, {5}}},
    {"ij,ij->ij", "ij,ij->ij", 2, {2, 2}, {{3, 4}, {3, 4}}},
    {"ij,ij->", "ij,ij->", 2, {2, 2}, {{3, 4}, {3, 4}}},
    {"bn,anm,bm->ba", "bn,anm,bm->ba", 3, {2, 3, 2}, {{2, 3}, {4, 3, 5}, {2, 5}}},
    {"Ab,bC->CA", "Ab,bC->CA", 2, {2, 2}, {{3, 2}, {2, 4}}},
    {"ik,kj", "ik,kj->ij", 2, {2, 2}, {{3, 2}, {2, 4}}},
    {"bik,bkj,jl->bil", "bik,bkj,jl->bil", 3, {3, 3, 2}, {{2, 3, 4}, {2, 4, 5}, {5, 2}}},
    {"abc,cd,bd->da", "abc,cd,bd->da", 3, {3, 2, 2}, {{2, 3, 4}, {4, 5}, {3, 5}}},
    {"iji,jk->k", "iji,jk->k", 2, {3, 2}, {{3, 2, 3}, {2, 4}}},
    {"ij,kl->ijkl", "ij,kl->ijkl", 2, {2, 2}, {{2, 3}, {2, 2}}},
    {"ij,jk->ik", "ij,jk->ik", 2, {2, 2}, {{3, 0}, {0, 4}}},
    {"ij->", "ij->", 1, {2}, {{0, 4}}},
};

START_TEST(test_einsum_against_loops) {
    ty_dtype dts[2] = {TY_F64, TY_F32};
    int ncases = (int)(sizeof ecases / sizeof ecases[0]);
    for (int c = 0; c < ncases; c++) {
        const einsum_case *ec = &ecases[c];
        for (int di = 0; di < 2; di++) {
            ty_tensor *ops[3];
            for (int i = 0; i < ec->n; i++)
                ops[i] =
                    tu_uniform(ec->nd[i], ec->shape[i], dts[di], -1, 1, 70 + (uint64_t)(c * 3 + i));
            ty_tensor *want = ref_einsum(ec->ref, ec->n, ops);
            double tol = dts[di] == TY_F32 ? 1e-5 : 1e-13;
            for (int layout = 0; layout < NUM_LAYOUTS; layout++) {
                ty_tensor *xs[3];
                for (int i = 0; i < ec->n; i++) xs[i] = in_layout(ops[i], layout);
                ty_tensor *got = ty_einsum(ec->eq, ec->n, xs);
                ck_assert_msg(got != NULL, "einsum '%s': %s", ec->eq, ty_last_error());
                ck_assert_int_eq(got->dtype, dts[di]);
                ck_assert(ty_is_contiguous(got));
                for (int i = 0; i < ec->n; i++) ck_assert(got->storage != xs[i]->storage);
                tu_assert_close(got, want, tol, 1e-5);
                ty_tensor_release(got);
                for (int i = 0; i < ec->n; i++) ty_tensor_release(xs[i]);
            }
            for (int i = 0; i < ec->n; i++) ty_tensor_release(ops[i]);
            ty_tensor_release(want);
        }
    }
}
END_TEST

START_TEST(test_einsum_exact_values) {
    ty_tensor *m = tu_arange(2, (int64_t[]){3, 3}, TY_F32);
    ty_tensor *tr = ty_einsum("ii", 1, &m);
    ck_assert_int_eq(tr->ndim, 0);
    tu_assert_values(tr, ((double[]){12}), 1, 0);
    ty_tensor *dg = ty_einsum("ii->i", 1, &m);
    tu_assert_values(dg, ((double[]){0, 4, 8}), 3, 0);
    ty_tensor *t = ty_einsum("ij->ji", 1, &m);
    tu_assert_values(t, ((double[]){0, 3, 6, 1, 4, 7, 2, 5, 8}), 9, 0);
    ty_tensor *s = ty_einsum("ij->", 1, &m);
    tu_assert_values(s, ((double[]){36}), 1, 0);
    ty_tensor *same = ty_einsum("ij->ij", 1, &m);
    ck_assert(same->storage != m->storage);
    tu_assert_close(same, m, 0, 0);
    /* a 0-d operand: "" and "->" copy it */
    ty_tensor *sc = ty_scalar(3.5, TY_F64);
    ty_tensor *e1 = ty_einsum("", 1, &sc), *e2 = ty_einsum("->", 1, &sc);
    ck_assert(e1->ndim == 0 && e2->ndim == 0 && e1->storage != sc->storage);
    tu_assert_values(e1, ((double[]){3.5}), 1, 0);
    tu_assert_values(e2, ((double[]){3.5}), 1, 0);
    ty_tensor *objs[] = {m, tr, dg, t, s, same, sc, e1, e2};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* "..." broadcasting, explicit and implicit, against matmul's reference
 * (which broadcasts batch dims the same way) and letter equations. */
START_TEST(test_einsum_ellipsis) {
    ty_tensor *a = tu_uniform(4, (int64_t[]){2, 1, 3, 4}, TY_F64, -1, 1, 80);
    ty_tensor *b = tu_uniform(3, (int64_t[]){5, 4, 2}, TY_F64, -1, 1, 81);
    ty_tensor *want = ref_matmul(a, b);
    ty_tensor *got = ty_einsum("...ij,...jk->...ik", 2, (ty_tensor *[]){a, b});
    check_shape(got, 4, (int64_t[]){2, 5, 3, 2});
    tu_assert_close(got, want, 1e-13, 0);
    ty_tensor *imp = ty_einsum("...ij,...jk", 2, (ty_tensor *[]){a, b});
    tu_assert_close(imp, want, 1e-13, 0);
    /* a transposed second operand and an expanded first one */
    ty_tensor *bt = tu_noncontiguous(b);
    ty_tensor *ae = ty_expand(a, 4, (int64_t[]){2, 5, 3, 4});
    ty_tensor *got2 = ty_einsum("...ij,...jk->...ik", 2, (ty_tensor *[]){ae, bt});
    tu_assert_close(got2, want, 1e-13, 0);
    /* "..." dims summed when the explicit output leaves them out */
    ty_tensor *x = tu_uniform(3, (int64_t[]){2, 3, 4}, TY_F64, -1, 1, 82);
    ty_tensor *sum = ty_einsum("...i->i", 1, &x), *ref = ref_einsum("abi->i", 1, &x);
    tu_assert_close(sum, ref, 1e-13, 0);
    ty_tensor *mid = ty_einsum("i...k->...", 1, &x), *ref2 = ref_einsum("ijk->j", 1, &x);
    tu_assert_close(mid, ref2, 1e-13, 0);
    /* "..." covering no dims at all */
    ty_tensor *m = tu_uniform(2, (int64_t[]){3, 4}, TY_F64, -1, 1, 83);
    ty_tensor *none = ty_einsum("...ij->...ji", 1, &m), *ref3 = ref_einsum("ij->ji", 1, &m);
    tu_assert_close(none, ref3, 1e-13, 0);
    /* implicit output: "..." first, then single labels sorted */
    ty_tensor *y = tu_uniform(3, (int64_t[]){3, 2, 4}, TY_F64, -1, 1, 84);
    ty_tensor *imp2 = ty_einsum("ba...", 1, &y), *ref4 = ref_einsum("bac->cab", 1, &y);
    tu_assert_close(imp2, ref4, 0, 0);
    ty_tensor *objs[] = {a,   b,   want, got, imp,  bt,   ae, got2, x,   sum,
                         ref, mid, ref2, m,   none, ref3, y,  imp2, ref4};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_einsum_dtypes_and_large) {
    /* bf16 operands are computed in f32 and come back as bf16 */
    ty_tensor *a = tu_uniform(2, (int64_t[]){3, 4}, TY_BF16, -1, 1, 90);
    ty_tensor *b = tu_uniform(2, (int64_t[]){4, 5}, TY_BF16, -1, 1, 91);
    ty_tensor *g = ty_einsum("ij,jk->ik", 2, (ty_tensor *[]){a, b});
    ty_tensor *w = ref_einsum("ij,jk->ik", 2, (ty_tensor *[]){a, b});
    ck_assert_int_eq(g->dtype, TY_BF16);
    tu_assert_close(g, w, 1e-2, 1e-2);
    /* f32 with f64 promotes */
    ty_tensor *c = tu_uniform(1, (int64_t[]){4}, TY_F64, -1, 1, 92);
    ty_tensor *a32 = ty_cast(a, TY_F32);
    ty_tensor *g2 = ty_einsum("ij,j->i", 2, (ty_tensor *[]){a32, c});
    ty_tensor *w2 = ref_einsum("ij,j->i", 2, (ty_tensor *[]){a32, c});
    ck_assert_int_eq(g2->dtype, TY_F64);
    tu_assert_close(g2, w2, 1e-14, 0);
    /* sums large enough to run on several threads, f32 accumulated in double */
    ty_tensor *big = tu_uniform(3, (int64_t[]){6, 200, 300}, TY_F32, -1, 1, 93);
    ty_tensor *g3 = ty_einsum("ijk->i", 1, &big);
    ty_tensor *w3 = ref_einsum("ijk->i", 1, &big);
    tu_assert_close(g3, w3, 1e-4, 1e-6);
    ty_tensor *g4 = ty_einsum("ijk->", 1, &big);
    ty_tensor *w4 = ref_einsum("ijk->", 1, &big);
    tu_assert_close(g4, w4, 1e-3, 1e-6);
    ty_tensor *objs[] = {a, b, g, w, c, a32, g2, w2, big, g3, w3, g4, w4};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

START_TEST(test_einsum_errors) {
    ty_tensor *a = ty_empty(2, (int64_t[]){2, 3}, TY_F32, ty_cpu());
    ty_tensor *b = ty_empty(2, (int64_t[]){4, 5}, TY_F32, ty_cpu());
    ty_tensor *sq = ty_empty(2, (int64_t[]){3, 3}, TY_F32, ty_cpu());
    ty_tensor *x3 = ty_empty(3, (int64_t[]){2, 3, 4}, TY_F32, ty_cpu());
    ty_tensor *i64 = ty_empty(2, (int64_t[]){2, 3}, TY_I64, ty_cpu());
    ty_tensor *ab[2] = {a, b};
    ck_assert_ptr_null(ty_einsum("ij,jk->ik", 2, ab));
    ck_assert_str_eq(ty_last_error(),
                     "einsum 'ij,jk->ik': label j is 3 in operand 1 and 4 in operand 2");
    tu_assert_error(ty_einsum("ij,jk->ik", 3, (ty_tensor *[]){a, b, a}) == NULL,
                    "einsum 'ij,jk->ik'", "2 operands", "3 were given");
    tu_assert_error(ty_einsum("ij->", 2, ab) == NULL, "einsum 'ij->'", "1 operand", "2 were");
    tu_assert_error(ty_einsum("i#j", 1, &a) == NULL, "einsum 'i#j'", "bad character '#'");
    tu_assert_error(ty_einsum("ij->i1", 1, &a) == NULL, "bad character '1'");
    tu_assert_error(ty_einsum("ij->->i", 1, &a) == NULL, "bad character '-'");
    tu_assert_error(ty_einsum("ij->k", 1, &a) == NULL, "einsum 'ij->k'",
                    "output label k is not in any input");
    tu_assert_error(ty_einsum("ij->ii", 1, &a) == NULL, "output label i appears twice");
    tu_assert_error(ty_einsum("ij", 1, &x3) == NULL, "einsum 'ij'", "operand 1", "(2,3,4)",
                    "2 labels");
    tu_assert_error(ty_einsum("ijkl...", 1, &x3) == NULL, "operand 1", "(2,3,4)", "4 labels");
    tu_assert_error(ty_einsum("ii", 1, &a) == NULL, "einsum 'ii'", "label i is 2 and 3",
                    "operand 1");
    tu_assert_error(ty_einsum("i.j", 1, &a) == NULL, "'.' must be part of a '...'");
    tu_assert_error(ty_einsum("...i...", 1, &a) == NULL, "more than one '...'");
    tu_assert_error(ty_einsum("...i->......", 1, &a) == NULL, "more than one '...'");
    tu_assert_error(ty_einsum("...j,...j", 2, (ty_tensor *[]){x3, b}) == NULL,
                    "'...' dims do not broadcast", "3 in operand 1", "4 in operand 2");
    tu_assert_error(ty_einsum("ij->", 1, &i64) == NULL, "einsum 'ij->'", "dtype i64", "operand 1",
                    "cast to f32 or f64");
    tu_assert_error(ty_einsum("ij,jk->ik", 2, (ty_tensor *[]){sq, i64}) == NULL, "operand 2");
    tu_assert_error(ty_einsum("ij", 0, NULL) == NULL, "einsum 'ij'", "at least one operand");
    tu_assert_error(ty_einsum(NULL, 1, &a) == NULL, "einsum", "equation");
    /* an intermediate with more than 16 dims */
    ty_tensor *d9 = ty_empty(9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, TY_F32, ty_cpu());
    tu_assert_error(
        ty_einsum("abcdefghi,jklmnopqr->abcdefghijklmnopqr", 2, (ty_tensor *[]){d9, d9}) == NULL,
        "the output has too many dims");
    tu_assert_error(ty_einsum("abcdefghi,jklmnopqr,abcdefghi,jklmnopqr->", 4,
                              (ty_tensor *[]){d9, d9, d9, d9}) == NULL,
                    "intermediate result would have 18 dims");
    ty_tensor *objs[] = {a, b, sq, x3, i64, d9};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) ty_tensor_release(objs[i]);
}
END_TEST

Suite *linalg_suite(void) {
    Suite *s = suite_create("linalg");
    TCase *tc = tcase_create("linalg");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matmul_shapes_and_layouts);
    tcase_add_test(tc, test_matmul_trans_combinations_large);
    tcase_add_test(tc, test_matmul_expanded_and_sliced);
    tcase_add_test(tc, test_mm_bmm_mv_dot_outer);
    tcase_add_test(tc, test_matmul_exact_values_nan_inf);
    tcase_add_test(tc, test_matmul_half_and_mixed_dtypes);
    tcase_add_test(tc, test_matmul_zero_size);
    tcase_add_test(tc, test_matmul_errors);
    tcase_add_test(tc, test_matmul_interrupt);
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_linear_errors);
    tcase_add_test(tc, test_einsum_against_loops);
    tcase_add_test(tc, test_einsum_exact_values);
    tcase_add_test(tc, test_einsum_ellipsis);
    tcase_add_test(tc, test_einsum_dtypes_and_large);
    tcase_add_test(tc, test_einsum_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(linalg_suite());
}
