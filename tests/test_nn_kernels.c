/* Fused NN kernels: softmax, log_softmax, layer_norm, cross_entropy,
 * nll_loss and attention, each against a naive double reference written
 * here, plus edge values, layouts, dtypes and errors. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- helpers ---- */

/* Every element of t in row-major order, as doubles (caller frees). */
static double *values(const ty_tensor *t) {
    int64_t n = ty_numel(t);
    double *v = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < n; i++) v[i] = ty_get_flat(t, i);
    return v;
}

/* An f64 tensor holding v (takes ownership of v). */
static ty_tensor *tensor_of(double *v, int ndim, const int64_t *shape) {
    ty_tensor *t = ty_from_buffer(v, ndim, shape, TY_F64);
    free(v);
    ck_assert_ptr_nonnull(t);
    return t;
}

static ty_tensor *from_doubles(const double *v, int ndim, const int64_t *shape, ty_dtype dt) {
    ty_tensor *t64 = ty_from_buffer(v, ndim, shape, TY_F64);
    ty_tensor *t = ty_cast(t64, dt);
    ty_tensor_release(t64);
    ck_assert_ptr_nonnull(t);
    return t;
}

static ty_tensor *labels_of(const int64_t *v, int ndim, const int64_t *shape) {
    ty_tensor *t = ty_from_buffer(v, ndim, shape, TY_I64);
    ck_assert_ptr_nonnull(t);
    return t;
}

static double scalar_of(const ty_tensor *t) {
    double v;
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->ndim, 0);
    ck_assert_int_eq(ty_item(t, &v), 0);
    return v;
}

static double tol_for(ty_dtype dt) {
    return dt == TY_F64 ? 1e-12 : 2e-6;
}

static void release_all(ty_tensor **ts, int n) {
    for (int i = 0; i < n; i++) ty_tensor_release(ts[i]);
}

/* ---- softmax ---- */

/* Naive softmax / log-softmax of x along dim, in double. */
static ty_tensor *ref_softmax(const ty_tensor *x, int dim, int take_log) {
    int nd = x->ndim;
    int d = dim < 0 ? dim + (nd > 0 ? nd : 1) : dim;
    int64_t outer = 1, C = nd > 0 ? x->shape[d] : 1, inner = 1;
    for (int i = 0; i < d; i++) outer *= x->shape[i];
    for (int i = d + 1; i < nd; i++) inner *= x->shape[i];
    double *v = values(x);
    double *r = malloc(sizeof(double) * (size_t)(outer * C * inner + 1));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            double max = -INFINITY, sum = 0;
            for (int64_t c = 0; c < C; c++) max = fmax(max, v[(o * C + c) * inner + in]);
            for (int64_t c = 0; c < C; c++) sum += exp(v[(o * C + c) * inner + in] - max);
            for (int64_t c = 0; c < C; c++) {
                double z = v[(o * C + c) * inner + in] - max;
                r[(o * C + c) * inner + in] = take_log ? z - log(sum) : exp(z) / sum;
            }
        }
    free(v);
    return tensor_of(r, nd, x->shape);
}

/* softmax and log_softmax of x along every dim against the reference */
static void check_softmax_all_dims(ty_tensor *x, double tol) {
    for (int dim = -x->ndim; dim < x->ndim; dim++)
        for (int lg = 0; lg < 2; lg++) {
            ty_tensor *y = lg ? ty_log_softmax(x, dim) : ty_softmax(x, dim);
            ty_tensor *r = ref_softmax(x, dim, lg);
            ck_assert_ptr_nonnull(y);
            ck_assert_int_eq(y->dtype, x->dtype);
            ck_assert(ty_is_contiguous(y));
            tu_assert_close(y, r, tol, tol);
            ty_tensor_release(y);
            ty_tensor_release(r);
        }
}

START_TEST(test_softmax_every_dim_and_layout) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int i = 0; i < 2; i++) {
        ty_tensor *x = tu_randn(3, (int64_t[]){3, 4, 5}, dts[i], 11);
        ty_tensor *nc = tu_noncontiguous(x);
        ty_tensor *st = tu_strided(x);
        ty_tensor *tr = ty_transpose(x, 0, 2); /* (5,4,3) */
        check_softmax_all_dims(x, tol_for(dts[i]));
        check_softmax_all_dims(nc, tol_for(dts[i]));
        check_softmax_all_dims(st, tol_for(dts[i]));
        check_softmax_all_dims(tr, tol_for(dts[i]));
        ty_tensor *objs[] = {x, nc, st, tr};
        release_all(objs, 4);
    }
}
END_TEST

START_TEST(test_softmax_large_parallel) {
    /* big enough for several threads and, along dim 0, long strided rows */
    ty_tensor *x = tu_uniform(2, (int64_t[]){300, 1000}, TY_F32, -20, 20, 5);
    check_softmax_all_dims(x, 2e-6);
    ty_tensor *x64 = tu_uniform(2, (int64_t[]){1000, 300}, TY_F64, -20, 20, 6);
    check_softmax_all_dims(x64, 1e-12);
    ty_tensor_release(x);
    ty_tensor_release(x64);
}
END_TEST

START_TEST(test_softmax_extreme_values) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int i = 0; i < 2; i++) {
        /* no overflow: exact 0 and 1 */
        ty_tensor *x = from_doubles((double[]){1e4, -1e4, -1e4, 1e4}, 2, (int64_t[]){2, 2}, dts[i]);
        ty_tensor *s = ty_softmax(x, 1);
        tu_assert_values(s, ((double[]){1, 0, 0, 1}), 4, 0);
        ty_tensor *ls = ty_log_softmax(x, -1);
        tu_assert_values(ls, ((double[]){0, -2e4, -2e4, 0}), 4, 0);
        /* -inf entries drop out; a row of all -inf is NaN, as PyTorch */
        ty_tensor *xi = from_doubles((double[]){0, -INFINITY, 0, -INFINITY, -INFINITY, -INFINITY},
                                     2, (int64_t[]){2, 3}, dts[i]);
        ty_tensor *si = ty_softmax(xi, 1);
        tu_assert_values(si, ((double[]){0.5, 0, 0.5, NAN, NAN, NAN}), 6, 1e-7);
        ty_tensor *lsi = ty_log_softmax(xi, 1);
        tu_assert_values(lsi, ((double[]){-log(2), -INFINITY, -log(2), NAN, NAN, NAN}), 6, 1e-6);
        /* NaN spreads over its row only */
        ty_tensor *xn = from_doubles((double[]){1, NAN, 2, 1, 1, 1}, 2, (int64_t[]){2, 3}, dts[i]);
        ty_tensor *sn = ty_softmax(xn, 1);
        double third = 1.0 / 3;
        tu_assert_values(sn, ((double[]){NAN, NAN, NAN, third, third, third}), 6, 1e-7);
        ty_tensor *objs[] = {x, s, ls, xi, si, lsi, xn, sn};
        release_all(objs, 8);
    }
}
END_TEST

START_TEST(test_softmax_scalar_empty_half) {
    ty_tensor *sc = ty_scalar(3.0, TY_F32);
    ty_tensor *s = ty_softmax(sc, 0);
    ck_assert_double_eq(scalar_of(s), 1.0);
    ty_tensor *ls = ty_log_softmax(sc, -1);
    ck_assert_double_eq(scalar_of(ls), 0.0);
    ty_tensor *e = ty_empty(2, (int64_t[]){0, 3}, TY_F32, ty_cpu());
    ty_tensor *se = ty_softmax(e, 1);
    ck_assert_ptr_nonnull(se);
    ck_assert(se->ndim == 2 && se->shape[0] == 0 && se->shape[1] == 3);
    ty_tensor *e2 = ty_empty(2, (int64_t[]){3, 0}, TY_F64, ty_cpu());
    ty_tensor *se2 = ty_log_softmax(e2, 1);
    ck_assert_ptr_nonnull(se2);
    ck_assert_int_eq(ty_numel(se2), 0);
    /* half types are computed in f32 and come back in their dtype */
    ty_tensor *x = tu_randn(2, (int64_t[]){4, 9}, TY_F32, 3);
    ty_dtype halves[2] = {TY_BF16, TY_F16};
    for (int i = 0; i < 2; i++) {
        ty_tensor *h = ty_cast(x, halves[i]);
        ty_tensor *sh = ty_softmax(h, 1);
        ck_assert_int_eq(sh->dtype, halves[i]);
        ty_tensor *r = ref_softmax(h, 1, 0);
        tu_assert_close(sh, r, 4e-3, 1e-2);
        ty_tensor *objs[] = {h, sh, r};
        release_all(objs, 3);
    }
    ty_tensor *objs[] = {sc, s, ls, e, se, e2, se2, x};
    release_all(objs, 8);
}
END_TEST

START_TEST(test_softmax_errors) {
    ty_tensor *xi = tu_arange(2, (int64_t[]){2, 3}, TY_I64);
    tu_assert_error(ty_softmax(xi, 1) == NULL, "softmax", "floating-point", "i64");
    ty_tensor *xb = tu_arange(1, (int64_t[]){3}, TY_BOOL);
    tu_assert_error(ty_log_softmax(xb, 0) == NULL, "log_softmax", "bool");
    ty_tensor *x = tu_randn(3, (int64_t[]){2, 3, 4}, TY_F32, 1);
    tu_assert_error(ty_softmax(x, 3) == NULL, "softmax", "dim 3", "3 dims");
    tu_assert_error(ty_log_softmax(x, -4) == NULL, "log_softmax", "dim -4");
    /* a pending interrupt stops the kernel cleanly */
    ty_interrupt();
    tu_assert_error(ty_softmax(x, 2) == NULL, "softmax: interrupted");
    ty_tensor *ok = ty_softmax(x, 2);
    ck_assert_ptr_nonnull(ok);
    ty_tensor *objs[] = {xi, xb, x, ok};
    release_all(objs, 4);
}
END_TEST

/* ---- layer norm ---- */

/* Naive layer norm over the last k dims; mean/rstd into the given tensors. */
static ty_tensor *ref_layer_norm(const ty_tensor *x, int k, const ty_tensor *w, const ty_tensor *b,
                                 double eps, ty_tensor **mean, ty_tensor **rstd) {
    int64_t M = 1, N = 1;
    for (int i = 0; i < x->ndim - k; i++) M *= x->shape[i];
    for (int i = x->ndim - k; i < x->ndim; i++) N *= x->shape[i];
    double *v = values(x), *r = malloc(sizeof(double) * (size_t)(M * N + 1));
    double *mv = malloc(sizeof(double) * (size_t)(M + 1)),
           *rv = malloc(sizeof(double) * (size_t)(M + 1));
    double *wv = w ? values(w) : NULL, *bv = b ? values(b) : NULL;
    for (int64_t m = 0; m < M; m++) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < N; i++) sum += v[m * N + i];
        double mean_m = sum / N;
        for (int64_t i = 0; i < N; i++) sq += (v[m * N + i] - mean_m) * (v[m * N + i] - mean_m);
        double rs = 1 / sqrt(sq / N + eps);
        for (int64_t i = 0; i < N; i++)
            r[m * N + i] = (v[m * N + i] - mean_m) * rs * (wv ? wv[i] : 1) + (bv ? bv[i] : 0);
        mv[m] = mean_m;
        rv[m] = rs;
    }
    free(v);
    free(wv);
    free(bv);
    *mean = tensor_of(mv, x->ndim - k, x->shape);
    *rstd = tensor_of(rv, x->ndim - k, x->shape);
    return tensor_of(r, x->ndim, x->shape);
}

static void check_layer_norm(ty_tensor *x, int k, ty_tensor *w, ty_tensor *b, double tol) {
    ty_tensor *mean, *rstd, *rm, *rr;
    ty_tensor *y = ty_layer_norm(x, k, w, b, 1e-5, &mean, &rstd);
    ty_tensor *r = ref_layer_norm(x, k, w, b, 1e-5, &rm, &rr);
    tu_assert_close(y, r, tol, tol);
    ck_assert_int_eq(y->dtype, x->dtype);
    tu_assert_close(mean, rm, tol, tol);
    tu_assert_close(rstd, rr, tol, tol);
    ck_assert_int_eq(mean->dtype, ty_compute_dtype(x->dtype));
    /* the out-parameters are optional */
    ty_tensor *y2 = ty_layer_norm(x, k, w, b, 1e-5, NULL, NULL);
    tu_assert_close(y2, y, 0, 0);
    ty_tensor *objs[] = {y, mean, rstd, r, rm, rr, y2};
    release_all(objs, 7);
}

START_TEST(test_layer_norm_against_reference) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int i = 0; i < 2; i++) {
        double tol = dts[i] == TY_F64 ? 1e-12 : 1e-5;
        ty_tensor *x = tu_randn(2, (int64_t[]){4, 6}, dts[i], 21);
        ty_tensor *w = tu_uniform(1, (int64_t[]){6}, dts[i], 0.5, 2, 22);
        ty_tensor *b = tu_randn(1, (int64_t[]){6}, dts[i], 23);
        check_layer_norm(x, 1, NULL, NULL, tol);
        check_layer_norm(x, 1, w, NULL, tol);
        check_layer_norm(x, 1, NULL, b, tol);
        check_layer_norm(x, 1, w, b, tol);
        check_layer_norm(x, 2, NULL, NULL, tol); /* mean and rstd are 0-d */
        /* normalized_ndim 2 on a 3-D tensor, weight (3,5) */
        ty_tensor *x3 = tu_randn(3, (int64_t[]){2, 3, 5}, dts[i], 24);
        ty_tensor *w2 = tu_uniform(2, (int64_t[]){3, 5}, dts[i], 0.5, 2, 25);
        ty_tensor *b2 = tu_randn(2, (int64_t[]){3, 5}, dts[i], 26);
        check_layer_norm(x3, 2, w2, b2, tol);
        check_layer_norm(x3, 1, NULL, NULL, tol);
        /* transposed and strided inputs and parameters */
        ty_tensor *xn = tu_noncontiguous(x3), *xs = tu_strided(x3), *wn = tu_noncontiguous(w2);
        check_layer_norm(xn, 2, wn, b2, tol);
        check_layer_norm(xs, 1, NULL, NULL, tol);
        ty_tensor *objs[] = {x, w, b, x3, w2, b2, xn, xs, wn};
        release_all(objs, 9);
    }
}
END_TEST

START_TEST(test_layer_norm_accuracy_large_half) {
    /* a large offset: one-pass E[x^2] - E[x]^2 in float would lose it all */
    ty_tensor *x = tu_uniform(2, (int64_t[]){3, 1000}, TY_F32, 1e4, 1e4 + 1, 31);
    check_layer_norm(x, 1, NULL, NULL, 1e-5);
    /* parallel path */
    ty_tensor *big = tu_randn(2, (int64_t[]){512, 768}, TY_F32, 32);
    ty_tensor *w = tu_randn(1, (int64_t[]){768}, TY_F32, 33);
    check_layer_norm(big, 1, w, w, 1e-5);
    /* bf16 in, bf16 out; mean and rstd in f32 */
    ty_tensor *h = ty_cast(big, TY_BF16);
    ty_tensor *mean, *rstd;
    ty_tensor *yh = ty_layer_norm(h, 1, NULL, NULL, 1e-5, &mean, &rstd);
    ck_assert_int_eq(yh->dtype, TY_BF16);
    ck_assert_int_eq(mean->dtype, TY_F32);
    ck_assert(mean->ndim == 1 && mean->shape[0] == 512);
    ty_tensor *rm, *rr, *r = ref_layer_norm(h, 1, NULL, NULL, 1e-5, &rm, &rr);
    tu_assert_close(yh, r, 2e-2, 1e-2);
    tu_assert_close(rstd, rr, 1e-5, 1e-5);
    ty_tensor *objs[] = {x, big, w, h, mean, rstd, yh, rm, rr, r};
    release_all(objs, 10);
}
END_TEST

START_TEST(test_layer_norm_errors) {
    ty_tensor *x = tu_randn(2, (int64_t[]){4, 6}, TY_F32, 1);
    ty_tensor *mean = (ty_tensor *)x, *rstd = (ty_tensor *)x;
    tu_assert_error(ty_layer_norm(x, 3, NULL, NULL, 1e-5, &mean, &rstd) == NULL, "layer_norm",
                    "normalized_ndim 3", "(4,6)");
    ck_assert(mean == NULL && rstd == NULL);
    tu_assert_error(ty_layer_norm(x, 0, NULL, NULL, 1e-5, NULL, NULL) == NULL, "layer_norm",
                    "normalized_ndim 0");
    ty_tensor *w5 = tu_randn(1, (int64_t[]){5}, TY_F32, 2);
    tu_assert_error(ty_layer_norm(x, 1, w5, NULL, 1e-5, NULL, NULL) == NULL, "layer_norm", "weight",
                    "(5)", "(6)");
    ty_tensor *b46 = tu_randn(2, (int64_t[]){4, 6}, TY_F32, 3);
    tu_assert_error(ty_layer_norm(x, 1, NULL, b46, 1e-5, NULL, NULL) == NULL, "layer_norm", "bias",
                    "(4,6)", "(6)");
    ty_tensor *wi = tu_arange(1, (int64_t[]){6}, TY_I64);
    tu_assert_error(ty_layer_norm(x, 1, wi, NULL, 1e-5, NULL, NULL) == NULL, "layer_norm", "weight",
                    "i64");
    ty_tensor *xu = tu_arange(2, (int64_t[]){2, 3}, TY_U8);
    tu_assert_error(ty_layer_norm(xu, 1, NULL, NULL, 1e-5, NULL, NULL) == NULL, "layer_norm", "u8");
    ty_tensor *sc = ty_scalar(1, TY_F32);
    tu_assert_error(ty_layer_norm(sc, 1, NULL, NULL, 1e-5, NULL, NULL) == NULL, "layer_norm",
                    "normalized_ndim 1");
    ty_tensor *objs[] = {x, w5, b46, wi, xu, sc};
    release_all(objs, 6);
}
END_TEST

/* ---- cross entropy ---- */

/* Naive per-target losses of logits (N,C,S...) or (C); ignored targets 0. */
static double *ref_ce_losses(const ty_tensor *x, const int64_t *lab, int64_t ignore, double eps,
                             int64_t *count) {
    int64_t C = x->ndim == 1 ? x->shape[0] : x->shape[1];
    int64_t N = x->ndim == 1 ? 1 : x->shape[0], S = 1;
    for (int d = 2; d < x->ndim; d++) S *= x->shape[d];
    double *v = values(x), *loss = malloc(sizeof(double) * (size_t)(N * S + 1));
    *count = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++) {
            int64_t r = n * S + s;
            loss[r] = 0;
            if (lab[r] == ignore) continue;
            ++*count;
            double max = -INFINITY, sum = 0;
            for (int64_t c = 0; c < C; c++) max = fmax(max, v[(n * C + c) * S + s]);
            for (int64_t c = 0; c < C; c++) sum += exp(v[(n * C + c) * S + s] - max);
            double lse = max + log(sum);
            for (int64_t c = 0; c < C; c++) {
                double logp = v[(n * C + c) * S + s] - lse;
                double target = (c == lab[r] ? 1 - eps : 0) + eps / C;
                loss[r] -= target * logp;
            }
        }
    free(v);
    return loss;
}

/* Checks all three reductions of cross_entropy (and of nll_loss on the
 * reference log-probabilities when eps is 0) against the reference. */
static void check_ce(ty_tensor *x, ty_tensor *labels, int64_t ignore, double eps, double tol) {
    ty_tensor *lc = ty_contiguous(labels);
    const int64_t *lab = ty_data(lc);
    int64_t count, n = ty_numel(labels);
    double *loss = ref_ce_losses(x, lab, ignore, eps, &count);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += loss[i];
    ty_tensor *none_ref = ty_from_buffer(loss, labels->ndim, labels->shape, TY_F64);
    ty_loss_opts o = TY_LOSS_OPTS_DEFAULT;
    o.ignore_index = ignore;
    o.label_smoothing = eps;
    ty_tensor *logp = ty_log_softmax(x, x->ndim == 1 ? 0 : 1);
    for (int red = 0; red < 3; red++) {
        o.reduction = (ty_reduction)red;
        ty_tensor *l = ty_cross_entropy(x, labels, &o, NULL);
        ty_tensor *nll = eps == 0 ? ty_nll_loss(logp, labels, &o) : NULL;
        ck_assert_ptr_nonnull(l);
        ck_assert_int_eq(l->dtype, x->dtype);
        if (o.reduction == TY_REDUCTION_NONE) {
            tu_assert_close(l, none_ref, tol, tol);
            if (nll) tu_assert_close(nll, none_ref, tol, tol);
        } else {
            double want = o.reduction == TY_REDUCTION_SUM ? sum : sum / count;
            ck_assert_msg(fabs(scalar_of(l) - want) <= tol * (1 + fabs(want)), "loss %.9g != %.9g",
                          scalar_of(l), want);
            if (nll) ck_assert(fabs(scalar_of(nll) - want) <= tol * (1 + fabs(want)));
        }
        ty_tensor_release(l);
        ty_tensor_release(nll);
    }
    free(loss);
    ty_tensor_release(none_ref);
    ty_tensor_release(logp);
    ty_tensor_release(lc);
}

START_TEST(test_cross_entropy_2d) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int i = 0; i < 2; i++) {
        double tol = dts[i] == TY_F64 ? 1e-12 : 1e-5;
        ty_tensor *x = tu_randn(2, (int64_t[]){6, 7}, dts[i], 41);
        ty_tensor *lab = labels_of((int64_t[]){3, 0, 6, -100, 2, 3}, 1, (int64_t[]){6});
        check_ce(x, lab, -100, 0, tol);
        check_ce(x, lab, -100, 0.1, tol);
        check_ce(x, lab, -100, 1.0, tol);
        /* another ignore_index: the 3s drop out, also from the smoothing term */
        ty_tensor *lab3 = labels_of((int64_t[]){3, 0, 6, 1, 2, 3}, 1, (int64_t[]){6});
        check_ce(x, lab3, 3, 0, tol);
        check_ce(x, lab3, 3, 0.25, tol);
        ty_tensor_release(lab3);
        ty_tensor *nc = tu_noncontiguous(x), *st = tu_strided(x);
        check_ce(nc, lab, -100, 0.1, tol);
        check_ce(st, lab, -100, 0, tol);
        ty_tensor *objs[] = {x, lab, nc, st};
        release_all(objs, 4);
    }
}
END_TEST

START_TEST(test_cross_entropy_spatial_and_1d) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int i = 0; i < 2; i++) {
        double tol = dts[i] == TY_F64 ? 1e-12 : 1e-5;
        /* (N,C,d1,d2) with labels (N,d1,d2) */
        ty_tensor *x = tu_randn(4, (int64_t[]){2, 4, 3, 2}, dts[i], 42);
        int64_t lv[12] = {0, 1, 2, 3, -100, 1, 3, 3, 0, -100, 2, 1};
        ty_tensor *lab = labels_of(lv, 3, (int64_t[]){2, 3, 2});
        check_ce(x, lab, -100, 0, tol);
        check_ce(x, lab, -100, 0.2, tol);
        ty_tensor *nc = tu_noncontiguous(x);
        check_ce(nc, lab, -100, 0.2, tol);
        /* strided labels */
        ty_tensor *ls = tu_strided(lab);
        check_ce(x, ls, -100, 0, tol);
        /* (C) with a 0-d label */
        ty_tensor *x1 = tu_randn(1, (int64_t[]){5}, dts[i], 43);
        ty_tensor *l0 = labels_of((int64_t[]){4}, 0, NULL);
        check_ce(x1, l0, -100, 0, tol);
        check_ce(x1, l0, -100, 0.3, tol);
        ty_tensor *objs[] = {x, lab, nc, ls, x1, l0};
        release_all(objs, 6);
    }
}
END_TEST

START_TEST(test_cross_entropy_probs_and_edges) {
    /* probs_out is the softmax over the class dim */
    ty_tensor *x = tu_randn(3, (int64_t[]){2, 5, 3}, TY_F32, 44);
    ty_tensor *lab = labels_of((int64_t[]){0, 1, 2, 3, 4, 0}, 2, (int64_t[]){2, 3});
    ty_tensor *probs = NULL;
    ty_tensor *l = ty_cross_entropy(x, lab, NULL, &probs);
    ck_assert_ptr_nonnull(l);
    ty_tensor *rp = ref_softmax(x, 1, 0);
    tu_assert_close(probs, rp, 1e-7, 1e-6);
    /* large logits stay finite: loss 0 and 2e4 exactly */
    ty_tensor *big = from_doubles((double[]){1e4, -1e4, 1e4, -1e4}, 2, (int64_t[]){2, 2}, TY_F32);
    ty_tensor *bl = labels_of((int64_t[]){0, 1}, 1, (int64_t[]){2});
    ty_loss_opts none = TY_LOSS_OPTS_DEFAULT;
    none.reduction = TY_REDUCTION_NONE;
    ty_tensor *lb = ty_cross_entropy(big, bl, &none, NULL);
    tu_assert_values(lb, ((double[]){0, 2e4}), 2, 0);
    /* every target ignored: mean is NaN (0/0, as PyTorch), sum is 0 */
    ty_tensor *ign = labels_of((int64_t[]){-100, -100}, 1, (int64_t[]){2});
    ty_tensor *lm = ty_cross_entropy(big, ign, NULL, NULL);
    ck_assert(isnan(scalar_of(lm)));
    ty_loss_opts sum = TY_LOSS_OPTS_DEFAULT;
    sum.reduction = TY_REDUCTION_SUM;
    ty_tensor *ls = ty_cross_entropy(big, ign, &sum, NULL);
    ck_assert_double_eq(scalar_of(ls), 0);
    /* bf16 logits: bf16 loss and probabilities */
    ty_tensor *h = ty_cast(x, TY_BF16);
    ty_tensor *ph = NULL;
    ty_tensor *lh = ty_cross_entropy(h, lab, NULL, &ph);
    ck_assert(lh->dtype == TY_BF16 && ph->dtype == TY_BF16);
    ck_assert(fabs(scalar_of(lh) - scalar_of(l)) < 0.05);
    tu_assert_close(ph, rp, 1e-2, 2e-2);
    /* an empty batch: sum 0 */
    ty_tensor *e = ty_empty(2, (int64_t[]){0, 4}, TY_F32, ty_cpu());
    ty_tensor *el = ty_empty(1, (int64_t[]){0}, TY_I64, ty_cpu());
    ty_tensor *le = ty_cross_entropy(e, el, &sum, NULL);
    ck_assert_double_eq(scalar_of(le), 0);
    ty_tensor *objs[] = {x, lab, probs, l, rp, big, bl, lb, ign, lm, ls, h, ph, lh, e, el, le};
    release_all(objs, 17);
}
END_TEST

START_TEST(test_cross_entropy_errors) {
    ty_tensor *x = tu_randn(2, (int64_t[]){4, 5}, TY_F32, 45);
    ty_tensor *probs = x;
    ty_tensor *bad = labels_of((int64_t[]){0, 1, 7, 2}, 1, (int64_t[]){4});
    tu_assert_error(ty_cross_entropy(x, bad, NULL, &probs) == NULL, "cross_entropy", "label 7",
                    "position 2", "5 classes");
    ck_assert_ptr_null(probs);
    ty_tensor *neg = labels_of((int64_t[]){0, -1, 1, 2}, 1, (int64_t[]){4});
    tu_assert_error(ty_cross_entropy(x, neg, NULL, NULL) == NULL, "label -1", "position 1",
                    "5 classes");
    tu_assert_error(ty_nll_loss(x, bad, NULL) == NULL, "nll_loss", "label 7", "5 classes");
    /* the ignore_index is only skipped when it is the one configured */
    ty_tensor *ign = labels_of((int64_t[]){0, -100, 1, 2}, 1, (int64_t[]){4});
    ty_loss_opts o = TY_LOSS_OPTS_DEFAULT;
    o.ignore_index = -1;
    tu_assert_error(ty_cross_entropy(x, ign, &o, NULL) == NULL, "label -100", "position 1");
    /* multi-dim labels name the index */
    ty_tensor *x4 = tu_randn(3, (int64_t[]){2, 3, 2}, TY_F32, 46);
    ty_tensor *bad2 = labels_of((int64_t[]){0, 1, 3, 0}, 2, (int64_t[]){2, 2});
    tu_assert_error(ty_cross_entropy(x4, bad2, NULL, NULL) == NULL, "label 3", "(1,0)",
                    "3 classes");
    ty_tensor *l0 = labels_of((int64_t[]){5}, 0, NULL);
    ty_tensor *x1 = tu_randn(1, (int64_t[]){5}, TY_F32, 47);
    tu_assert_error(ty_cross_entropy(x1, l0, NULL, NULL) == NULL, "label 5", "5 classes");
    /* shapes and dtypes */
    ty_tensor *l3 = labels_of((int64_t[]){0, 1, 2}, 1, (int64_t[]){3});
    tu_assert_error(ty_cross_entropy(x, l3, NULL, NULL) == NULL, "cross_entropy", "(3)", "(4,5)",
                    "expected (4)");
    ty_tensor *lf = tu_arange(1, (int64_t[]){4}, TY_F32);
    tu_assert_error(ty_cross_entropy(x, lf, NULL, NULL) == NULL, "cross_entropy", "i64", "f32");
    ty_tensor *xi = tu_arange(2, (int64_t[]){4, 5}, TY_I64);
    tu_assert_error(ty_cross_entropy(xi, ign, NULL, NULL) == NULL, "cross_entropy", "i64");
    ty_tensor *sc = ty_scalar(1, TY_F32);
    tu_assert_error(ty_cross_entropy(sc, l0, NULL, NULL) == NULL, "cross_entropy", "class dim");
    o = TY_LOSS_OPTS_DEFAULT;
    o.label_smoothing = 1.5;
    tu_assert_error(ty_cross_entropy(x, ign, &o, NULL) == NULL, "label_smoothing 1.5");
    o.label_smoothing = 0.1;
    tu_assert_error(ty_nll_loss(x, ign, &o) == NULL, "nll_loss", "label_smoothing");
    o.label_smoothing = 0;
    o.reduction = (ty_reduction)7;
    tu_assert_error(ty_cross_entropy(x, ign, &o, NULL) == NULL, "reduction 7");
    ty_tensor *objs[] = {x, bad, neg, ign, x4, bad2, l0, x1, l3, lf, xi, sc};
    release_all(objs, 12);
}
END_TEST

/* ---- attention ---- */

/* t broadcast to `nd` dims: batch dims bshape (bnd of them) + its last two. */
static double *expanded_values(ty_tensor *t, int bnd, const int64_t *bshape, int64_t r, int64_t c) {
    int64_t shape[TY_MAX_DIMS];
    for (int d = 0; d < bnd; d++) shape[d] = bshape[d];
    shape[bnd] = r;
    shape[bnd + 1] = c;
    ty_tensor *e = ty_expand(t, bnd + 2, shape);
    ck_assert_msg(e != NULL, "%s", ty_last_error());
    double *v = values(e);
    ty_tensor_release(e);
    return v;
}

/* Naive attention in double; fully masked rows give zeros. */
static ty_tensor *ref_attention(ty_tensor *q, ty_tensor *k, ty_tensor *v, ty_tensor *mask,
                                double scale, int causal, ty_tensor **weights) {
    int bnd;
    int64_t bs[TY_MAX_DIMS];
    ck_assert_int_eq(
        ty_broadcast_shapes("ref", q->ndim - 2, q->shape, k->ndim - 2, k->shape, &bnd, bs), 0);
    ck_assert_int_eq(ty_broadcast_shapes("ref", bnd, bs, v->ndim - 2, v->shape, &bnd, bs), 0);
    int64_t Lq = q->shape[q->ndim - 2], D = q->shape[q->ndim - 1];
    int64_t Lk = k->shape[k->ndim - 2], Dv = v->shape[v->ndim - 1], B = 1;
    for (int d = 0; d < bnd; d++) B *= bs[d];
    if (scale <= 0) scale = 1 / sqrt((double)D);
    double *qv = expanded_values(q, bnd, bs, Lq, D), *kv = expanded_values(k, bnd, bs, Lk, D);
    double *vv = expanded_values(v, bnd, bs, Lk, Dv);
    double *mv = mask ? expanded_values(mask, bnd, bs, Lq, Lk) : NULL;
    int float_mask = mask && ty_dtype_is_float(mask->dtype);
    double *w = calloc((size_t)(B * Lq * Lk + 1), sizeof(double));
    double *o = calloc((size_t)(B * Lq * Dv + 1), sizeof(double));
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < Lq; i++) {
            double *wr = w + (b * Lq + i) * Lk, max = -INFINITY, sum = 0;
            for (int64_t j = 0; j < Lk; j++) {
                double sc = 0;
                for (int64_t d = 0; d < D; d++)
                    sc += qv[(b * Lq + i) * D + d] * kv[(b * Lk + j) * D + d];
                sc *= scale;
                double m = mv ? mv[(b * Lq + i) * Lk + j] : 1;
                if (float_mask)
                    sc += m;
                else if (m == 0)
                    sc = -INFINITY;
                if (causal && j > i) sc = -INFINITY;
                wr[j] = sc;
                max = fmax(max, sc);
            }
            if (max == -INFINITY) {
                for (int64_t j = 0; j < Lk; j++) wr[j] = 0;
                continue;
            }
            for (int64_t j = 0; j < Lk; j++) sum += exp(wr[j] - max);
            for (int64_t j = 0; j < Lk; j++) wr[j] = exp(wr[j] - max) / sum;
            for (int64_t e = 0; e < Dv; e++)
                for (int64_t j = 0; j < Lk; j++)
                    o[(b * Lq + i) * Dv + e] += wr[j] * vv[(b * Lk + j) * Dv + e];
        }
    free(qv);
    free(kv);
    free(vv);
    free(mv);
    int64_t shape[TY_MAX_DIMS];
    memcpy(shape, bs, sizeof(int64_t) * (size_t)bnd);
    shape[bnd] = Lq;
    shape[bnd + 1] = Lk;
    *weights = tensor_of(w, bnd + 2, shape);
    shape[bnd + 1] = Dv;
    return tensor_of(o, bnd + 2, shape);
}

/* Checks output and weights against the reference, with and without
 * weights_out, and that every weight row sums to 1 (or 0 when masked). */
static void check_attention(ty_tensor *q, ty_tensor *k, ty_tensor *v, ty_tensor *mask, double scale,
                            bool causal, double tol) {
    ty_attention_opts o = {scale, causal};
    ty_tensor *w = NULL, *rw;
    ty_tensor *out = ty_attention(q, k, v, mask, &o, &w);
    ck_assert_msg(out != NULL, "%s", ty_last_error());
    ty_tensor *ref = ref_attention(q, k, v, mask, scale, causal, &rw);
    ck_assert_int_eq(out->dtype, q->dtype);
    ck_assert_int_eq(w->dtype, q->dtype);
    tu_assert_close(out, ref, tol, tol);
    tu_assert_close(w, rw, tol, tol);
    int64_t Lk = w->shape[w->ndim - 1], rows = Lk > 0 ? ty_numel(w) / Lk : 0;
    for (int64_t r = 0; r < rows; r++) {
        double sum = 0;
        for (int64_t j = 0; j < Lk; j++) sum += ty_get_flat(w, r * Lk + j);
        ck_assert_msg(fabs(sum - 1) < 1e-5 || sum == 0, "row %lld sums to %g", (long long)r, sum);
    }
    ty_tensor *out2 = ty_attention(q, k, v, mask, &o, NULL);
    tu_assert_close(out2, out, 0, 0);
    ty_tensor *objs[] = {w, rw, out, ref, out2};
    release_all(objs, 5);
}

START_TEST(test_attention_basic_and_broadcast) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int i = 0; i < 2; i++) {
        double tol = dts[i] == TY_F64 ? 1e-12 : 1e-5;
        /* Lq != Lk, D != Dv, two batch dims */
        ty_tensor *q = tu_randn(4, (int64_t[]){2, 3, 4, 8}, dts[i], 51);
        ty_tensor *k = tu_randn(4, (int64_t[]){2, 3, 6, 8}, dts[i], 52);
        ty_tensor *v = tu_randn(4, (int64_t[]){2, 3, 6, 5}, dts[i], 53);
        check_attention(q, k, v, NULL, 0, false, tol);
        check_attention(q, k, v, NULL, 0.5, false, tol); /* scale override */
        /* k shared by the first batch dim, v with no batch dims at all */
        ty_tensor *kb = tu_randn(3, (int64_t[]){3, 6, 8}, dts[i], 54);
        ty_tensor *vb = tu_randn(2, (int64_t[]){6, 5}, dts[i], 55);
        check_attention(q, kb, vb, NULL, 0, false, tol);
        /* q broadcast over k's batch */
        ty_tensor *q1 = tu_randn(3, (int64_t[]){1, 4, 8}, dts[i], 56);
        check_attention(q1, k, v, NULL, 0, false, tol);
        /* transposed and strided operands */
        ty_tensor *qn = tu_noncontiguous(q), *ks = tu_strided(k), *vn = tu_noncontiguous(v);
        check_attention(qn, ks, vn, NULL, 0, false, tol);
        /* plain 2-D */
        ty_tensor *q2 = tu_randn(2, (int64_t[]){7, 3}, dts[i], 57);
        ty_tensor *k2 = tu_randn(2, (int64_t[]){2, 3}, dts[i], 58);
        ty_tensor *v2 = tu_randn(2, (int64_t[]){2, 4}, dts[i], 59);
        check_attention(q2, k2, v2, NULL, 0, false, tol);
        ty_tensor *objs[] = {q, k, v, kb, vb, q1, qn, ks, vn, q2, k2, v2};
        release_all(objs, 12);
    }
}
END_TEST

START_TEST(test_attention_masks_and_causal) {
    ty_dtype dts[2] = {TY_F32, TY_F64};
    for (int i = 0; i < 2; i++) {
        double tol = dts[i] == TY_F64 ? 1e-12 : 1e-5;
        ty_tensor *q = tu_randn(3, (int64_t[]){2, 5, 4}, dts[i], 61);
        ty_tensor *k = tu_randn(3, (int64_t[]){2, 3, 4}, dts[i], 62);
        ty_tensor *v = tu_randn(3, (int64_t[]){2, 3, 2}, dts[i], 63);
        /* causal with Lq > Lk and Lq < Lk (top-left aligned) */
        check_attention(q, k, v, NULL, 0, true, tol);
        check_attention(k, q, q, NULL, 0, true, tol);
        /* a bool mask (5,3) broadcast over the batch; row 1 keeps no key */
        ty_tensor *m64 = from_doubles((double[]){1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0}, 2,
                                      (int64_t[]){5, 3}, TY_F64);
        ty_tensor *mb = ty_cast(m64, TY_BOOL), *mu = ty_cast(m64, TY_U8);
        check_attention(q, k, v, mb, 0, false, tol);
        check_attention(q, k, v, mu, 0, true, tol);
        ty_tensor *w = NULL;
        ty_tensor *out = ty_attention(q, k, v, mb, NULL, &w);
        for (int b = 0; b < 2; b++) {
            /* the fully masked row 1 is zeros, not NaN */
            for (int j = 0; j < 3; j++) ck_assert_double_eq(ty_get_flat(w, b * 15 + 3 + j), 0);
            for (int e = 0; e < 2; e++) ck_assert_double_eq(ty_get_flat(out, b * 10 + 2 + e), 0);
            /* masked keys get weight 0 */
            ck_assert_double_eq(ty_get_flat(w, b * 15 + 1), 0);
        }
        /* a float mask (2,1,3) added to the scores, with -inf entries */
        ty_tensor *mf = from_doubles((double[]){0.5, -1, -INFINITY, 0, 2, 0.25}, 3,
                                     (int64_t[]){2, 1, 3}, dts[i]);
        check_attention(q, k, v, mf, 0, false, tol);
        check_attention(q, k, v, mf, 0, true, tol);
        /* a per-batch bool mask (2,5,3), transposed in memory */
        ty_tensor *mr = tu_uniform(3, (int64_t[]){2, 5, 3}, TY_F64, 0, 2, 64);
        ty_tensor *mrb = ty_cast(mr, TY_BOOL);
        ty_tensor *mrn = tu_noncontiguous(mrb);
        check_attention(q, k, v, mrn, 0, false, tol);
        ty_tensor *objs[] = {q, k, v, m64, mb, mu, w, out, mf, mr, mrb, mrn};
        release_all(objs, 12);
    }
}
END_TEST

START_TEST(test_attention_large_half_empty) {
    /* big enough for OpenBLAS to thread the GEMMs */
    ty_tensor *q = tu_randn(4, (int64_t[]){2, 2, 200, 64}, TY_F32, 71);
    ty_tensor *k = tu_randn(4, (int64_t[]){2, 2, 150, 64}, TY_F32, 72);
    ty_tensor *v = tu_randn(4, (int64_t[]){2, 2, 150, 48}, TY_F32, 73);
    check_attention(q, k, v, NULL, 0, true, 1e-5);
    /* bf16 in, bf16 out */
    ty_tensor *qs = tu_randn(3, (int64_t[]){2, 4, 8}, TY_F32, 74);
    ty_tensor *qh = ty_cast(qs, TY_BF16);
    ty_tensor *w = NULL, *rw;
    ty_tensor *oh = ty_attention(qh, qh, qh, NULL, NULL, &w);
    ck_assert(oh->dtype == TY_BF16 && w->dtype == TY_BF16);
    ty_tensor *ref = ref_attention(qh, qh, qh, NULL, 0, 0, &rw);
    tu_assert_close(oh, ref, 2e-2, 2e-2);
    tu_assert_close(w, rw, 1e-2, 2e-2);
    /* no keys: weights (.,4,0) and output zeros */
    ty_tensor *k0 = ty_empty(3, (int64_t[]){2, 0, 8}, TY_F32, ty_cpu());
    ty_tensor *v0 = ty_empty(3, (int64_t[]){2, 0, 3}, TY_F32, ty_cpu());
    ty_tensor *w0 = NULL;
    ty_tensor *o0 = ty_attention(qs, k0, v0, NULL, NULL, &w0);
    ck_assert(o0 && o0->shape[1] == 4 && o0->shape[2] == 3 && w0->shape[2] == 0);
    for (int64_t i = 0; i < ty_numel(o0); i++) ck_assert_double_eq(ty_get_flat(o0, i), 0);
    /* D == 0: every score is 0, so the weights are uniform */
    ty_tensor *qz = ty_empty(2, (int64_t[]){2, 0}, TY_F64, ty_cpu());
    ty_tensor *kz = ty_empty(2, (int64_t[]){4, 0}, TY_F64, ty_cpu());
    ty_tensor *vz = tu_arange(2, (int64_t[]){4, 1}, TY_F64);
    ty_tensor *oz = ty_attention(qz, kz, vz, NULL, NULL, NULL);
    tu_assert_values(oz, ((double[]){1.5, 1.5}), 2, 1e-12);
    ty_tensor *objs[] = {q, k, v, qs, qh, w, rw, oh, ref, k0, v0, w0, o0, qz, kz, vz, oz};
    release_all(objs, 17);
}
END_TEST

START_TEST(test_attention_errors) {
    ty_tensor *q = tu_randn(3, (int64_t[]){2, 4, 8}, TY_F32, 81);
    ty_tensor *k6 = tu_randn(3, (int64_t[]){2, 5, 6}, TY_F32, 82);
    ty_tensor *k = tu_randn(3, (int64_t[]){2, 5, 8}, TY_F32, 83);
    ty_tensor *v = tu_randn(3, (int64_t[]){2, 5, 3}, TY_F32, 84);
    ty_tensor *w = q;
    tu_assert_error(ty_attention(q, k6, v, NULL, NULL, &w) == NULL, "attention", "(2,4,8)",
                    "(2,5,6)", "8 ~= 6");
    ck_assert_ptr_null(w);
    ty_tensor *v4 = tu_randn(3, (int64_t[]){2, 4, 3}, TY_F32, 85);
    tu_assert_error(ty_attention(q, k, v4, NULL, NULL, NULL) == NULL, "attention", "keys",
                    "5 ~= 4");
    ty_tensor *k3 = tu_randn(3, (int64_t[]){3, 5, 8}, TY_F32, 86);
    tu_assert_error(ty_attention(q, k3, v, NULL, NULL, NULL) == NULL, "attention", "2 ~= 3");
    ty_tensor *m = tu_uniform(2, (int64_t[]){3, 5}, TY_BOOL, 0, 2, 87);
    tu_assert_error(ty_attention(q, k, v, m, NULL, NULL) == NULL, "attention", "mask", "(3,5)",
                    "(2,4,5)");
    ty_tensor *mbig = tu_uniform(4, (int64_t[]){3, 2, 4, 5}, TY_BOOL, 0, 2, 88);
    tu_assert_error(ty_attention(q, k, v, mbig, NULL, NULL) == NULL, "mask", "(3,2,4,5)");
    ty_tensor *mi = tu_arange(2, (int64_t[]){4, 5}, TY_I64);
    tu_assert_error(ty_attention(q, k, v, mi, NULL, NULL) == NULL, "mask", "i64");
    ty_tensor *k64 = ty_cast(k, TY_F64);
    tu_assert_error(ty_attention(q, k64, v, NULL, NULL, NULL) == NULL, "attention", "f32", "f64");
    ty_tensor *qi = tu_arange(2, (int64_t[]){4, 8}, TY_I64);
    tu_assert_error(ty_attention(qi, qi, qi, NULL, NULL, NULL) == NULL, "attention", "i64");
    ty_tensor *q1 = tu_randn(1, (int64_t[]){8}, TY_F32, 89);
    tu_assert_error(ty_attention(q1, k, v, NULL, NULL, NULL) == NULL, "attention", "q", "(8)",
                    "2 dims");
    ty_interrupt();
    tu_assert_error(ty_attention(q, k, v, NULL, NULL, NULL) == NULL, "attention: interrupted");
    ty_tensor *objs[] = {q, k6, k, v, v4, k3, m, mbig, mi, k64, qi, q1};
    release_all(objs, 12);
}
END_TEST

Suite *nn_kernels_suite(void) {
    Suite *s = suite_create("nn_kernels");
    TCase *tc = tcase_create("nn_kernels");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_softmax_every_dim_and_layout);
    tcase_add_test(tc, test_softmax_large_parallel);
    tcase_add_test(tc, test_softmax_extreme_values);
    tcase_add_test(tc, test_softmax_scalar_empty_half);
    tcase_add_test(tc, test_softmax_errors);
    tcase_add_test(tc, test_layer_norm_against_reference);
    tcase_add_test(tc, test_layer_norm_accuracy_large_half);
    tcase_add_test(tc, test_layer_norm_errors);
    tcase_add_test(tc, test_cross_entropy_2d);
    tcase_add_test(tc, test_cross_entropy_spatial_and_1d);
    tcase_add_test(tc, test_cross_entropy_probs_and_edges);
    tcase_add_test(tc, test_cross_entropy_errors);
    tcase_add_test(tc, test_attention_basic_and_broadcast);
    tcase_add_test(tc, test_attention_masks_and_causal);
    tcase_add_test(tc, test_attention_large_half_empty);
    tcase_add_test(tc, test_attention_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(nn_kernels_suite());
}
