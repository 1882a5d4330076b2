/* Backward passes of the fused NN kernels: softmax, log_softmax,
 * layer_norm, cross_entropy, nll_loss and attention.
 *
 * Every op is checked with ty_gradcheck and ty_gradgradcheck (f64) on a few
 * shapes, dims and layouts; the fused first-order kernels (used without
 * create_graph) are compared with the composed ones (used with it); and
 * the edge cases have exact tests: ignored targets, fully masked attention
 * rows, -inf logits, in-place changes of saved tensors. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

/* ---- helpers ---- */

#define EPS 1e-6
#define ATOL 1e-5
#define RTOL 1e-3

/* f64 standard-normal-ish values that require grad; noncontig stores them
 * transposed in memory. */
static ty_tensor *leaf(int ndim, const int64_t *shape, uint64_t seed, bool noncontig) {
    ty_tensor *t = tu_randn(ndim, shape, TY_F64, seed);
    ck_assert_ptr_nonnull(t);
    if (noncontig) {
        ty_tensor *nc = tu_noncontiguous(t);
        ty_tensor_release(t);
        t = nc;
        ck_assert(!ty_is_contiguous(t));
    }
    ck_assert_int_eq(ty_set_requires_grad(t, true), 0);
    return t;
}

/* t in dtype dt as a new leaf (no history even when t requires grad). */
static ty_tensor *leaf_cast(ty_tensor *t, ty_dtype dt) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *c = ty_cast(t, dt);
    ty_set_grad_enabled(prev);
    ck_assert_ptr_nonnull(c);
    if (c == t) {
        ty_tensor_release(c);
        c = ty_clone(t);
    }
    ck_assert_int_eq(ty_set_requires_grad(c, true), 0);
    return c;
}

static ty_tensor *labels_of(const int64_t *v, int ndim, const int64_t *shape) {
    ty_tensor *t = ty_from_buffer(v, ndim, shape, TY_I64);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* gradcheck and (when second) gradgradcheck must both pass. */
#define check_grads(what, f, ctx, n, inputs, second)                                               \
    check_grads_impl((what), (f), (ctx), (n), (inputs), (second), __LINE__)
static void check_grads_impl(const char *what, ty_gradcheck_fn f, void *ctx, int n,
                             ty_tensor *const *inputs, bool second, int line) {
    ty_gradcheck_report rep;
    int r = ty_gradcheck(f, ctx, n, inputs, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "line %d, %s: gradcheck gave %d: %s", line, what, r,
                  r < 0 ? ty_last_error() : rep.message);
    if (!second) return;
    r = ty_gradgradcheck(f, ctx, n, inputs, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "line %d, %s: gradgradcheck gave %d: %s", line, what, r,
                  r < 0 ? ty_last_error() : rep.message);
}

/* The gradients of outs w.r.t. ins (grad_outputs gs) computed twice, once
 * without create_graph (the fused kernels) and once with it (the composed
 * ops): they must agree. */
static void check_fused_matches_composed(int n_out, ty_tensor *const *outs, ty_tensor *const *gs,
                                         int n_in, ty_tensor *const *ins, double tol) {
    ty_tensor *a[8] = {0}, *b[8] = {0};
    ck_assert_int_le(n_in, 8);
    ck_assert_msg(ty_grad(n_out, outs, gs, n_in, ins, true, false, false, a) == 0, "%s",
                  ty_last_error());
    ck_assert_msg(ty_grad(n_out, outs, gs, n_in, ins, true, true, false, b) == 0, "%s",
                  ty_last_error());
    for (int i = 0; i < n_in; i++) {
        ck_assert_int_eq(a[i]->dtype, ins[i]->dtype);
        ck_assert(!a[i]->requires_grad);
        tu_assert_close(b[i], a[i], tol, tol);
        ty_tensor_release(a[i]);
        ty_tensor_release(b[i]);
    }
}

/* Whether every element of t is finite. */
static bool all_finite(const ty_tensor *t) {
    for (int64_t i = 0; i < ty_numel(t); i++)
        if (!isfinite(ty_get_flat(t, i))) return false;
    return true;
}

/* ---- softmax / log_softmax ---- */

typedef struct {
    int dim;
    bool take_log;
} softmax_ctx;

static ty_tensor *f_softmax(void *vctx, int n, ty_tensor *const *in) {
    (void)n;
    softmax_ctx *c = vctx;
    return c->take_log ? ty_log_softmax(in[0], c->dim) : ty_softmax(in[0], c->dim);
}

START_TEST(test_softmax_gradcheck) {
    static const struct {
        int ndim;
        int64_t shape[3];
        int dim;
        bool noncontig;
    } cases[] = {
        {1, {5}, 0, false},      {2, {3, 4}, 1, false},    {2, {3, 4}, 0, false},
        {2, {3, 4}, -1, true},   {2, {4, 3}, 0, true},     {3, {2, 3, 4}, 1, false},
        {3, {2, 3, 4}, 0, true}, {3, {2, 3, 4}, -1, true}, {0, {0}, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int lg = 0; lg < 2; lg++) {
            ty_tensor *x = leaf(cases[i].ndim, cases[i].shape, 11 + i, cases[i].noncontig);
            softmax_ctx c = {cases[i].dim, lg};
            char what[64];
            snprintf(what, sizeof what, "%s case %zu", lg ? "log_softmax" : "softmax", i);
            check_grads(what, f_softmax, &c, 1, &x, true);
            ty_tensor_release(x);
        }
}
END_TEST

START_TEST(test_softmax_fused_matches_composed) {
    /* last dim, a middle dim with inner > the kernel's 64-column block, and
     * the first dim; f64 and f32 */
    static const struct {
        int ndim;
        int64_t shape[3];
        int dim;
    } cases[] = {{2, {6, 130}, -1}, {3, {3, 7, 70}, 1}, {3, {9, 4, 5}, 0}, {3, {2, 3, 200}, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int lg = 0; lg < 2; lg++)
            for (int f32 = 0; f32 < 2; f32++) {
                ty_dtype dt = f32 ? TY_F32 : TY_F64;
                ty_tensor *x = tu_randn(cases[i].ndim, cases[i].shape, dt, 100 + i);
                ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
                ty_tensor *y = lg ? ty_log_softmax(x, cases[i].dim) : ty_softmax(x, cases[i].dim);
                ck_assert_ptr_nonnull(y);
                ck_assert_str_eq(y->grad_fn->name, lg ? "log_softmax" : "softmax");
                ty_tensor *g = tu_randn(cases[i].ndim, cases[i].shape, dt, 200 + i);
                check_fused_matches_composed(1, &y, &g, 1, &x, f32 ? 1e-5 : 1e-12);
                ty_tensor_release(g);
                ty_tensor_release(y);
                ty_tensor_release(x);
            }
}
END_TEST

START_TEST(test_softmax_exact_values) {
    /* log_softmax with g = ones: gx = 1 - C * softmax(x) */
    ty_tensor *x = ty_from_buffer((double[]){1, 2, 3}, 1, (int64_t[]){3}, TY_F64);
    ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
    ty_tensor *y = ty_log_softmax(x, 0);
    ty_tensor *g = ty_ones(1, (int64_t[]){3}, TY_F64, ty_cpu());
    ck_assert_int_eq(ty_backward(y, g, false, false), 0);
    double z = exp(1) + exp(2) + exp(3);
    tu_assert_values(x->grad,
                     ((double[]){1 - 3 * exp(1) / z, 1 - 3 * exp(2) / z, 1 - 3 * exp(3) / z}), 3,
                     1e-14);
    /* softmax with g = ones: the rows sum to 1 whatever x is, so gx = 0 */
    ty_zero_grad(x);
    ty_tensor *s = ty_softmax(x, 0);
    ck_assert_int_eq(ty_backward(s, g, false, false), 0);
    tu_assert_values(x->grad, ((double[]){0, 0, 0}), 3, 1e-15);
    ty_tensor_release(s);
    ty_tensor_release(g);
    ty_tensor_release(y);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_softmax_with_minus_inf) {
    /* a -inf logit (a masked position) has probability 0 and gets gradient
     * 0 from softmax, g from log_softmax (its output is -inf, exp of it 0);
     * nothing is NaN, in either path */
    for (int cg = 0; cg < 2; cg++) {
        ty_tensor *x = ty_from_buffer((double[]){0.5, -INFINITY, 1}, 1, (int64_t[]){3}, TY_F64);
        ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
        ty_tensor *g = ty_from_buffer((double[]){1, 2, 3}, 1, (int64_t[]){3}, TY_F64);
        ty_tensor *s = ty_softmax(x, 0), *ls = ty_log_softmax(x, 0), *gx[1];
        ck_assert_int_eq(ty_grad(1, &s, &g, 1, &x, false, cg, false, gx), 0);
        ck_assert(all_finite(gx[0]));
        ck_assert(ty_get_flat(gx[0], 1) == 0);
        ty_tensor_release(gx[0]);
        ck_assert_int_eq(ty_grad(1, &ls, &g, 1, &x, false, cg, false, gx), 0);
        ck_assert(all_finite(gx[0]));
        ck_assert(ty_get_flat(gx[0], 1) == 2);
        ty_tensor_release(gx[0]);
        ty_tensor_release(s);
        ty_tensor_release(ls);
        ty_tensor_release(g);
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_softmax_half_and_no_record) {
    /* f16 in, f16 gradient out; under no_grad nothing is recorded */
    ty_tensor *x = tu_randn(2, (int64_t[]){3, 8}, TY_F16, 5);
    ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
    ty_tensor *y = ty_softmax(x, 1);
    ty_tensor *g = tu_randn(2, (int64_t[]){3, 8}, TY_F16, 6);
    ck_assert_int_eq(ty_backward(y, g, false, false), 0);
    ck_assert_int_eq(x->grad->dtype, TY_F16);
    /* against the f64 gradient */
    ty_tensor *x64 = leaf_cast(x, TY_F64), *g64 = ty_cast(g, TY_F64);
    ty_tensor *y64 = ty_softmax(x64, 1);
    ck_assert_int_eq(ty_backward(y64, g64, false, false), 0);
    tu_assert_close(x->grad, x64->grad, 2e-3, 1e-2);
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *z = ty_softmax(x, 1);
    ty_set_grad_enabled(prev);
    ck_assert(!z->requires_grad && z->grad_fn == NULL);
    ty_tensor *r[] = {x, y, g, x64, g64, y64, z};
    for (int i = 0; i < 7; i++) ty_tensor_release(r[i]);
}
END_TEST

START_TEST(test_softmax_saved_output_modified) {
    ty_tensor *x = leaf(2, (int64_t[]){2, 3}, 3, false);
    ty_tensor *y = ty_softmax(x, 1);
    bool prev = ty_set_grad_enabled(false);
    ck_assert_int_eq(ty_fill_(y, 0.5), 0);
    ty_set_grad_enabled(prev);
    ty_tensor *g = ty_ones(2, (int64_t[]){2, 3}, TY_F64, ty_cpu());
    tu_assert_error(ty_backward(y, g, false, false) < 0, "softmax", "in-place");
    ty_tensor_release(g);
    ty_tensor_release(y);
    ty_tensor_release(x);
}
END_TEST

/* ---- layer norm ---- */

typedef struct {
    int k;
    bool weight, bias;
    int output; /* 0: y, 1: mean, 2: rstd */
} ln_ctx;

static ty_tensor *f_layer_norm(void *vctx, int n, ty_tensor *const *in) {
    (void)n;
    ln_ctx *c = vctx;
    ty_tensor *w = c->weight ? in[1] : NULL, *b = c->bias ? in[c->weight ? 2 : 1] : NULL;
    ty_tensor *mean = NULL, *rstd = NULL;
    ty_tensor *y = ty_layer_norm(in[0], c->k, w, b, 1e-5, &mean, &rstd);
    ty_tensor *outs[3] = {y, mean, rstd}, *r = outs[c->output];
    ty_tensor_retain(r);
    for (int i = 0; i < 3; i++) ty_tensor_release(outs[i]);
    return r;
}

START_TEST(test_layer_norm_gradcheck) {
    static const struct {
        int ndim;
        int64_t shape[3];
        int k;
        bool noncontig;
    } cases[] = {
        {2, {4, 5}, 1, false}, {3, {2, 3, 4}, 2, false}, {1, {6}, 1, false},
        {2, {3, 5}, 1, true},  {3, {2, 4, 3}, 2, true},  {3, {2, 3, 4}, 3, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int variant = 0; variant < 4; variant++) {
            /* 0: weight and bias, 1: weight, 2: bias, 3: neither */
            ln_ctx c = {cases[i].k, variant < 2, variant == 0 || variant == 2, 0};
            int ndim = cases[i].ndim, k = c.k;
            const int64_t *nshape = cases[i].shape + ndim - k;
            ty_tensor *in[3] = {leaf(ndim, cases[i].shape, 30 + i, cases[i].noncontig)};
            int n = 1;
            /* weight and bias are non-contiguous too when they have 2 dims */
            if (c.weight) in[n++] = leaf(k, nshape, 40 + i, cases[i].noncontig && k >= 2);
            if (c.bias) in[n++] = leaf(k, nshape, 50 + i, false);
            char what[64];
            snprintf(what, sizeof what, "layer_norm case %zu variant %d", i, variant);
            check_grads(what, f_layer_norm, &c, n, in, true);
            for (int j = 0; j < n; j++) ty_tensor_release(in[j]);
        }
}
END_TEST

START_TEST(test_layer_norm_mean_rstd_outputs) {
    /* mean_out and rstd_out are differentiable outputs */
    for (int out = 1; out <= 2; out++) {
        ln_ctx c = {1, true, true, out};
        ty_tensor *in[3] = {leaf(2, (int64_t[]){3, 4}, 60, out == 2),
                            leaf(1, (int64_t[]){4}, 61, false), leaf(1, (int64_t[]){4}, 62, false)};
        check_grads(out == 1 ? "layer_norm mean" : "layer_norm rstd", f_layer_norm, &c, 3, in,
                    true);
        ty_tensor *mean = NULL, *rstd = NULL;
        ty_tensor *y = ty_layer_norm(in[0], 1, in[1], in[2], 1e-5, &mean, &rstd);
        ck_assert(mean->requires_grad && rstd->requires_grad);
        ck_assert_ptr_eq(mean->grad_fn, y->grad_fn);
        ck_assert_str_eq(y->grad_fn->name, "layer_norm");
        ty_tensor_release(y);
        ty_tensor_release(mean);
        ty_tensor_release(rstd);
        for (int j = 0; j < 3; j++) ty_tensor_release(in[j]);
    }
}
END_TEST

START_TEST(test_layer_norm_fused_matches_composed) {
    static const struct {
        int ndim;
        int64_t shape[3];
        int k;
    } cases[] = {{2, {5, 150}, 1}, {3, {4, 3, 70}, 2}, {1, {33}, 1}, {3, {2, 3, 4}, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int f32 = 0; f32 < 2; f32++) {
            ty_dtype dt = f32 ? TY_F32 : TY_F64;
            int nd = cases[i].ndim, k = cases[i].k, lead = nd - k;
            const int64_t *shape = cases[i].shape;
            ty_tensor *x = tu_randn(nd, shape, dt, 70 + i);
            ty_tensor *w = tu_randn(k, shape + lead, dt, 71 + i);
            ty_tensor *b = tu_randn(k, shape + lead, dt, 72 + i);
            ty_tensor *ins[3] = {x, w, b};
            for (int j = 0; j < 3; j++) ck_assert_int_eq(ty_set_requires_grad(ins[j], true), 0);
            ty_tensor *mean = NULL, *rstd = NULL;
            ty_tensor *y = ty_layer_norm(x, k, w, b, 1e-5, &mean, &rstd);
            ck_assert_ptr_nonnull(y);
            ck_assert_int_eq(mean->dtype, dt);
            /* gradients reach all three outputs */
            ty_tensor *gs[3] = {tu_randn(nd, shape, dt, 73 + i), tu_randn(lead, shape, dt, 74 + i),
                                tu_randn(lead, shape, dt, 75 + i)};
            ty_tensor *outs[3] = {y, mean, rstd};
            check_fused_matches_composed(3, outs, gs, 3, ins, f32 ? 2e-4 : 1e-10);
            /* and only y's */
            check_fused_matches_composed(1, outs, gs, 3, ins, f32 ? 2e-4 : 1e-10);
            for (int j = 0; j < 3; j++) {
                ty_tensor_release(gs[j]);
                ty_tensor_release(outs[j]);
                ty_tensor_release(ins[j]);
            }
        }
}
END_TEST

START_TEST(test_layer_norm_partial_inputs_and_f32) {
    /* only the weight requires grad: x gets nothing, the weight's gradient
     * is sum(g * xhat); an f32 run matches the f64 one */
    ty_tensor *x64 = tu_randn(2, (int64_t[]){6, 9}, TY_F64, 80);
    ty_tensor *w64 = leaf(1, (int64_t[]){9}, 81, false);
    ty_tensor *g64 = tu_randn(2, (int64_t[]){6, 9}, TY_F64, 82);
    ty_tensor *y = ty_layer_norm(x64, 1, w64, NULL, 1e-5, NULL, NULL);
    ck_assert_int_eq(ty_backward(y, g64, false, false), 0);
    ck_assert_ptr_null(x64->grad);
    ck_assert_ptr_nonnull(w64->grad);
    ty_tensor *x32 = leaf_cast(x64, TY_F32), *g32 = ty_cast(g64, TY_F32);
    ty_tensor *w32 = leaf_cast(w64, TY_F32);
    ty_tensor *y32 = ty_layer_norm(x32, 1, w32, NULL, 1e-5, NULL, NULL);
    ck_assert_int_eq(ty_backward(y32, g32, false, false), 0);
    ck_assert_int_eq(w32->grad->dtype, TY_F32);
    ck_assert_int_eq(x32->grad->dtype, TY_F32);
    tu_assert_close(w32->grad, w64->grad, 1e-4, 1e-4);
    ty_tensor *r[] = {x64, w64, g64, y, x32, g32, w32, y32};
    for (int i = 0; i < 8; i++) ty_tensor_release(r[i]);
}
END_TEST

/* ---- cross entropy / nll ---- */

typedef struct {
    ty_tensor *labels;
    ty_loss_opts opts;
    int kind; /* 0: cross_entropy, 1: nll_loss, 2: nll_loss(log_softmax) */
} loss_ctx;

static ty_tensor *f_loss(void *vctx, int n, ty_tensor *const *in) {
    (void)n;
    loss_ctx *c = vctx;
    if (c->kind == 0) return ty_cross_entropy(in[0], c->labels, &c->opts, NULL);
    if (c->kind == 1) return ty_nll_loss(in[0], c->labels, &c->opts);
    int cdim = in[0]->ndim == 1 ? 0 : 1;
    ty_tensor *lp = ty_log_softmax(in[0], cdim);
    ty_tensor *l = lp ? ty_nll_loss(lp, c->labels, &c->opts) : NULL;
    ty_tensor_release(lp);
    return l;
}

/* Logit and label layouts the loss tests run over. */
static const struct {
    int ndim;
    int64_t shape[3];
    int64_t labels[8];
    int64_t ignore_index;
    bool noncontig;
} loss_cases[] = {
    {2, {4, 5}, {1, -100, 4, 0}, -100, false},          /* one ignored row */
    {2, {4, 5}, {2, 3, 0, 3}, -100, true},              /* non-contiguous logits */
    {3, {2, 3, 4}, {0, 1, 2, 1, 1, 1, 0, 2}, 1, false}, /* (N,C,d1), ignore_index 1 */
    {1, {4}, {2}, -100, false},                         /* (C) with a 0-d label */
};

static ty_tensor *case_labels(size_t i) {
    int nd = loss_cases[i].ndim;
    int64_t lshape[2] = {0};
    int lnd = 0;
    for (int d = 0; d < nd; d++)
        if (d != (nd == 1 ? 0 : 1)) lshape[lnd++] = loss_cases[i].shape[d];
    return labels_of(loss_cases[i].labels, lnd, lshape);
}

START_TEST(test_cross_entropy_gradcheck) {
    const ty_reduction reds[3] = {TY_REDUCTION_MEAN, TY_REDUCTION_SUM, TY_REDUCTION_NONE};
    for (size_t i = 0; i < sizeof loss_cases / sizeof *loss_cases; i++)
        for (int r = 0; r < 3; r++)
            for (int sm = 0; sm < 2; sm++) {
                ty_tensor *x =
                    leaf(loss_cases[i].ndim, loss_cases[i].shape, 90 + i, loss_cases[i].noncontig);
                loss_ctx c = {
                    case_labels(i), {reds[r], loss_cases[i].ignore_index, sm ? 0.2 : 0}, 0};
                char what[96];
                snprintf(what, sizeof what, "cross_entropy case %zu reduction %d smoothing %d", i,
                         r, sm);
                check_grads(what, f_loss, &c, 1, &x, true);
                if (!sm) { /* nll_loss alone, and composed with log_softmax */
                    c.kind = 1;
                    check_grads(what, f_loss, &c, 1, &x, true);
                    c.kind = 2;
                    check_grads(what, f_loss, &c, 1, &x, true);
                }
                ty_tensor_release(c.labels);
                ty_tensor_release(x);
            }
}
END_TEST

START_TEST(test_cross_entropy_fused_matches_composed) {
    const ty_reduction reds[3] = {TY_REDUCTION_MEAN, TY_REDUCTION_SUM, TY_REDUCTION_NONE};
    for (size_t i = 0; i < sizeof loss_cases / sizeof *loss_cases; i++)
        for (int r = 0; r < 3; r++)
            for (int f32 = 0; f32 < 2; f32++) {
                ty_dtype dt = f32 ? TY_F32 : TY_F64;
                ty_tensor *x = tu_randn(loss_cases[i].ndim, loss_cases[i].shape, dt, 95 + i);
                ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
                ty_tensor *labels = case_labels(i);
                ty_loss_opts o = {reds[r], loss_cases[i].ignore_index, 0.1};
                ty_tensor *l = ty_cross_entropy(x, labels, &o, NULL);
                ck_assert_ptr_nonnull(l);
                ck_assert_str_eq(l->grad_fn->name, "cross_entropy");
                ty_tensor *g = ty_full(l->ndim, l->shape, 1.5, dt, ty_cpu());
                check_fused_matches_composed(1, &l, &g, 1, &x, f32 ? 1e-6 : 1e-14);
                /* cross_entropy's gradient equals nll_loss(log_softmax)'s */
                if (o.label_smoothing == 0.1) {
                    o.label_smoothing = 0;
                    ty_tensor *l1 = ty_cross_entropy(x, labels, &o, NULL);
                    ty_tensor *lp = ty_log_softmax(x, loss_cases[i].ndim == 1 ? 0 : 1);
                    ty_tensor *l2 = ty_nll_loss(lp, labels, &o);
                    ty_tensor *g1[1], *g2[1];
                    ck_assert_int_eq(ty_grad(1, &l1, &g, 1, &x, false, false, false, g1), 0);
                    ck_assert_int_eq(ty_grad(1, &l2, &g, 1, &x, false, false, false, g2), 0);
                    tu_assert_close(g1[0], g2[0], f32 ? 1e-6 : 1e-14, 1e-5);
                    ty_tensor *rel[] = {l1, lp, l2, g1[0], g2[0]};
                    for (int j = 0; j < 5; j++) ty_tensor_release(rel[j]);
                }
                ty_tensor_release(g);
                ty_tensor_release(l);
                ty_tensor_release(labels);
                ty_tensor_release(x);
            }
}
END_TEST

START_TEST(test_cross_entropy_ignored_rows_get_zero) {
    /* rows 1 and 3 are ignored: their gradient is exactly 0 in every
     * reduction, with and without create_graph, also with smoothing */
    const ty_reduction reds[3] = {TY_REDUCTION_MEAN, TY_REDUCTION_SUM, TY_REDUCTION_NONE};
    ty_tensor *labels = labels_of((int64_t[]){2, 7, 0, 7}, 1, (int64_t[]){4});
    for (int r = 0; r < 3; r++)
        for (int cg = 0; cg < 2; cg++)
            for (int kind = 0; kind < 2; kind++) {
                ty_tensor *x = leaf(2, (int64_t[]){4, 3}, 110, false);
                ty_loss_opts o = {reds[r], 7, kind == 0 ? 0.3 : 0};
                ty_tensor *l =
                    kind == 0 ? ty_cross_entropy(x, labels, &o, NULL) : ty_nll_loss(x, labels, &o);
                ty_tensor *g = ty_ones(l->ndim, l->shape, TY_F64, ty_cpu()), *gx[1];
                ck_assert_int_eq(ty_grad(1, &l, &g, 1, &x, false, cg, false, gx), 0);
                for (int c = 0; c < 3; c++) {
                    ck_assert(ty_get_flat(gx[0], 1 * 3 + c) == 0);
                    ck_assert(ty_get_flat(gx[0], 3 * 3 + c) == 0);
                    ck_assert(ty_get_flat(gx[0], 0 * 3 + c) != 0 || kind == 1);
                }
                /* mean divides by the 2 counted targets: nll gives -1/2 */
                if (kind == 1 && r == 0) ck_assert(ty_get_flat(gx[0], 2) == -0.5);
                ty_tensor_release(gx[0]);
                ty_tensor_release(g);
                ty_tensor_release(l);
                ty_tensor_release(x);
            }
    ty_tensor_release(labels);
}
END_TEST

START_TEST(test_cross_entropy_all_ignored) {
    /* every target ignored: the mean loss is NaN, the gradient all 0 */
    ty_tensor *labels = labels_of((int64_t[]){-100, -100}, 1, (int64_t[]){2});
    for (int cg = 0; cg < 2; cg++) {
        ty_tensor *x = leaf(2, (int64_t[]){2, 3}, 120, false);
        ty_loss_opts o = TY_LOSS_OPTS_DEFAULT;
        o.label_smoothing = 0.1;
        ty_tensor *l = ty_cross_entropy(x, labels, &o, NULL), *gx[1];
        double v;
        ck_assert_int_eq(ty_item(l, &v), 0);
        ck_assert(isnan(v));
        ck_assert_int_eq(ty_grad(1, &l, NULL, 1, &x, false, cg, false, gx), 0);
        tu_assert_values(gx[0], ((double[]){0, 0, 0, 0, 0, 0}), 6, 0);
        ty_tensor_release(gx[0]);
        ty_tensor_release(l);
        ty_tensor_release(x);
    }
    ty_tensor_release(labels);
}
END_TEST

START_TEST(test_cross_entropy_exact_and_probs) {
    /* one row, mean: gx = softmax(x) - onehot; probs_out has no history,
     * and changing it in place (it is saved) makes backward fail */
    ty_tensor *x = ty_from_buffer((double[]){0, 1, 2}, 2, (int64_t[]){1, 3}, TY_F64);
    ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
    ty_tensor *labels = labels_of((int64_t[]){1}, 1, (int64_t[]){1}), *probs = NULL;
    ty_tensor *l = ty_cross_entropy(x, labels, NULL, &probs);
    ck_assert(!probs->requires_grad && probs->grad_fn == NULL);
    double z = 1 + exp(1) + exp(2);
    ck_assert_int_eq(ty_backward(l, NULL, true, false), 0);
    tu_assert_values(x->grad, ((double[]){1 / z, exp(1) / z - 1, exp(2) / z}), 3, 1e-15);
    bool prev = ty_set_grad_enabled(false);
    ck_assert_int_eq(ty_fill_(probs, 0), 0);
    ty_set_grad_enabled(prev);
    tu_assert_error(ty_backward(l, NULL, false, false) < 0, "cross_entropy", "in-place");
    /* labels are integers: the loss is not differentiable w.r.t. them and
     * the node has one input */
    ck_assert_int_eq(l->grad_fn->n_inputs, 1);
    ty_tensor_release(probs);
    ty_tensor_release(l);
    ty_tensor_release(labels);
    ty_tensor_release(x);
}
END_TEST

/* ---- attention ---- */

typedef struct {
    ty_tensor *mask;        /* bool mask, or NULL */
    ty_attention_opts opts; /* scale, causal */
    bool float_mask;        /* in[3] is a float mask that requires grad */
    bool weights;           /* check the weights output instead of the result */
} attn_ctx;

static ty_tensor *f_attention(void *vctx, int n, ty_tensor *const *in) {
    (void)n;
    attn_ctx *c = vctx;
    ty_tensor *w = NULL;
    ty_tensor *o = ty_attention(in[0], in[1], in[2], c->float_mask ? in[3] : c->mask, &c->opts,
                                c->weights ? &w : NULL);
    if (!c->weights) return o;
    ty_tensor_release(o);
    return w;
}

START_TEST(test_attention_gradcheck) {
    static const struct {
        int nq, nk, nv;
        int64_t q[4], k[4], v[4];
        bool causal, noncontig;
        double scale;
    } cases[] = {
        {3, 3, 3, {2, 3, 4}, {2, 5, 4}, {2, 5, 3}, false, false, 0},
        {3, 3, 3, {2, 3, 4}, {2, 5, 4}, {2, 5, 3}, true, true, 0},
        {2, 2, 2, {4, 3}, {4, 3}, {4, 2}, true, false, 0.7},
        /* k and v shared by the 2 heads */
        {4, 4, 4, {2, 2, 3, 4}, {2, 1, 4, 4}, {2, 1, 4, 2}, false, true, 0},
        /* k and v without the batch dim, q without the head dim */
        {3, 2, 2, {2, 3, 4}, {5, 4}, {5, 2}, false, false, 0},
        {2, 4, 3, {3, 4}, {2, 2, 5, 4}, {2, 5, 2}, true, false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int wts = 0; wts < 2; wts++) {
            ty_tensor *in[3] = {leaf(cases[i].nq, cases[i].q, 130 + i, cases[i].noncontig),
                                leaf(cases[i].nk, cases[i].k, 140 + i, cases[i].noncontig),
                                leaf(cases[i].nv, cases[i].v, 150 + i, false)};
            attn_ctx c = {NULL, {cases[i].scale, cases[i].causal}, false, wts};
            char what[64];
            snprintf(what, sizeof what, "attention case %zu weights %d", i, wts);
            check_grads(what, f_attention, &c, 3, in, true);
            for (int j = 0; j < 3; j++) ty_tensor_release(in[j]);
        }
}
END_TEST

START_TEST(test_attention_masks_gradcheck) {
    /* a bool mask broadcast over the batch, with causal on top, and a float
     * mask that takes a gradient itself */
    ty_tensor *in[4] = {
        leaf(3, (int64_t[]){2, 3, 4}, 160, false), leaf(3, (int64_t[]){2, 4, 4}, 161, true),
        leaf(3, (int64_t[]){2, 4, 2}, 162, false), leaf(2, (int64_t[]){3, 4}, 163, false)};
    bool keep[12] = {1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1};
    ty_tensor *mask = ty_from_buffer(keep, 2, (int64_t[]){3, 4}, TY_BOOL);
    attn_ctx c = {mask, {0, true}, false, false};
    check_grads("attention bool mask + causal", f_attention, &c, 3, in, true);
    attn_ctx cf = {NULL, {0, false}, true, false};
    check_grads("attention float mask", f_attention, &cf, 4, in, true);
    cf.weights = true;
    check_grads("attention float mask, weights", f_attention, &cf, 4, in, true);
    ty_tensor_release(mask);
    for (int j = 0; j < 4; j++) ty_tensor_release(in[j]);
}
END_TEST

START_TEST(test_attention_fully_masked_rows) {
    /* query row 1 has no key (bool mask row all false), query row 2's float
     * mask is all -inf: output rows 0, gradients finite, and q's gradient in
     * those rows exactly 0, with and without create_graph */
    bool keep[12] = {1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1};
    ty_tensor *bmask = ty_from_buffer(keep, 2, (int64_t[]){3, 4}, TY_BOOL);
    double addv[12] = {0, 1, -INFINITY, 0, 0, 0, 0, 0, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    ty_tensor *fmask = ty_from_buffer(addv, 2, (int64_t[]){3, 4}, TY_F64);
    ck_assert_int_eq(ty_set_requires_grad(fmask, true), 0);
    for (int which = 0; which < 2; which++)
        for (int cg = 0; cg < 2; cg++) {
            int dead = which == 0 ? 1 : 2;
            ty_tensor *q = leaf(3, (int64_t[]){2, 3, 5}, 170, false);
            ty_tensor *k = leaf(3, (int64_t[]){2, 4, 5}, 171, false);
            ty_tensor *v = leaf(3, (int64_t[]){2, 4, 3}, 172, false);
            ty_tensor *w = NULL;
            ty_tensor *o = ty_attention(q, k, v, which == 0 ? bmask : fmask, NULL, &w);
            ck_assert_ptr_nonnull(o);
            ck_assert(all_finite(o) && all_finite(w));
            ty_tensor *go = ty_ones(3, o->shape, TY_F64, ty_cpu());
            ty_tensor *ins[4] = {q, k, v, fmask}, *gs[4] = {0};
            int nin = which == 0 ? 3 : 4;
            ck_assert_msg(ty_grad(1, &o, &go, nin, ins, false, cg, false, gs) == 0, "%s",
                          ty_last_error());
            for (int j = 0; j < nin; j++) ck_assert(all_finite(gs[j]));
            for (int b = 0; b < 2; b++)
                for (int d = 0; d < 5; d++) {
                    ck_assert(ty_get_flat(gs[0], (b * 3 + dead) * 5 + d) == 0);
                    ck_assert(ty_get_flat(gs[0], (b * 3 + 0) * 5 + d) != 0);
                }
            for (int j = 0; j < nin; j++) ty_tensor_release(gs[j]);
            ty_tensor *r[] = {q, k, v, w, o, go};
            for (int j = 0; j < 6; j++) ty_tensor_release(r[j]);
        }
    ty_tensor_release(bmask);
    ty_tensor_release(fmask);
}
END_TEST

START_TEST(test_attention_weights_are_differentiable) {
    /* a loss on the attention map alone reaches q and k, not v */
    ty_tensor *q = leaf(2, (int64_t[]){3, 4}, 180, false);
    ty_tensor *k = leaf(2, (int64_t[]){5, 4}, 181, false);
    ty_tensor *v = leaf(2, (int64_t[]){5, 2}, 182, false);
    ty_tensor *w = NULL;
    ty_tensor *o = ty_attention(q, k, v, NULL, NULL, &w);
    ck_assert(w->requires_grad);
    ck_assert_ptr_eq(w->grad_fn, o->grad_fn);
    ty_tensor *g = tu_randn(2, (int64_t[]){3, 5}, TY_F64, 183);
    ck_assert_int_eq(ty_backward(w, g, false, false), 0);
    ck_assert_ptr_nonnull(q->grad);
    ck_assert_ptr_nonnull(k->grad);
    ck_assert(v->grad == NULL || ty_get_flat(v->grad, 0) == 0);
    ty_tensor *r[] = {q, k, v, w, o, g};
    for (int j = 0; j < 6; j++) ty_tensor_release(r[j]);
}
END_TEST

/* The fused first-order backward (f32, no create_graph) against the
 * composed one, with a gradient on the weights output too and q given as a
 * non-contiguous view. */
START_TEST(test_attention_fused_matches_composed) {
    ty_tensor *qt = tu_randn(4, (int64_t[]){3, 2, 9, 5}, TY_F32, 210);
    ty_tensor *q = ty_transpose(qt, 2, 3); /* (3, 2, 5, 9), not contiguous */
    ty_tensor *k = tu_randn(4, (int64_t[]){3, 2, 7, 9}, TY_F32, 211);
    ty_tensor *v = tu_randn(4, (int64_t[]){3, 2, 7, 4}, TY_F32, 212);
    ty_tensor *ins[3] = {q, k, v};
    for (int i = 0; i < 3; i++) ty_set_requires_grad(ins[i], true);
    ty_tensor *w = NULL;
    ty_tensor *o = ty_attention(q, k, v, NULL, &(ty_attention_opts){0}, &w);
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_nonnull(w);
    ty_tensor *gs[2] = {tu_randn(4, (int64_t[]){3, 2, 5, 4}, TY_F32, 213),
                        tu_randn(4, (int64_t[]){3, 2, 5, 7}, TY_F32, 214)};
    ty_tensor *outs[2] = {o, w};
    check_fused_matches_composed(2, outs, gs, 3, ins, 2e-5);
    check_fused_matches_composed(1, outs, gs, 3, ins, 2e-5);
    ty_tensor *r[] = {qt, q, k, v, w, o, gs[0], gs[1]};
    for (size_t j = 0; j < sizeof r / sizeof *r; j++) ty_tensor_release(r[j]);
}
END_TEST

START_TEST(test_attention_f32_matches_f64) {
    ty_tensor *q = tu_randn(4, (int64_t[]){2, 2, 6, 8}, TY_F64, 190);
    ty_tensor *k = tu_randn(4, (int64_t[]){2, 2, 7, 8}, TY_F64, 191);
    ty_tensor *v = tu_randn(4, (int64_t[]){2, 2, 7, 5}, TY_F64, 192);
    ty_tensor *g = tu_randn(4, (int64_t[]){2, 2, 6, 5}, TY_F64, 193);
    ty_tensor *grads[2][3];
    for (int f32 = 0; f32 < 2; f32++) {
        ty_dtype dt = f32 ? TY_F32 : TY_F64;
        ty_tensor *ins[3] = {leaf_cast(q, dt), leaf_cast(k, dt), leaf_cast(v, dt)};
        ty_tensor *o =
            ty_attention(ins[0], ins[1], ins[2], NULL, &(ty_attention_opts){0, true}, NULL);
        ck_assert_int_eq(ty_grad(1, &o, &g, 3, ins, false, false, false, grads[f32]), 0);
        for (int j = 0; j < 3; j++) {
            ck_assert_int_eq(grads[f32][j]->dtype, dt);
            ty_tensor_release(ins[j]);
        }
        ty_tensor_release(o);
    }
    for (int j = 0; j < 3; j++) {
        tu_assert_close(grads[1][j], grads[0][j], 1e-5, 1e-4);
        ty_tensor_release(grads[0][j]);
        ty_tensor_release(grads[1][j]);
    }
    ty_tensor *r[] = {q, k, v, g};
    for (int j = 0; j < 4; j++) ty_tensor_release(r[j]);
}
END_TEST

static Suite *grad_nn_suite(void) {
    Suite *s = suite_create("grad_nn");
    TCase *tc = tcase_create("softmax");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_softmax_gradcheck);
    tcase_add_test(tc, test_softmax_fused_matches_composed);
    tcase_add_test(tc, test_softmax_exact_values);
    tcase_add_test(tc, test_softmax_with_minus_inf);
    tcase_add_test(tc, test_softmax_half_and_no_record);
    tcase_add_test(tc, test_softmax_saved_output_modified);
    suite_add_tcase(s, tc);

    tc = tcase_create("layer_norm");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_layer_norm_gradcheck);
    tcase_add_test(tc, test_layer_norm_mean_rstd_outputs);
    tcase_add_test(tc, test_layer_norm_fused_matches_composed);
    tcase_add_test(tc, test_layer_norm_partial_inputs_and_f32);
    suite_add_tcase(s, tc);

    tc = tcase_create("losses");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_cross_entropy_gradcheck);
    tcase_add_test(tc, test_cross_entropy_fused_matches_composed);
    tcase_add_test(tc, test_attention_fused_matches_composed);
    tcase_add_test(tc, test_cross_entropy_ignored_rows_get_zero);
    tcase_add_test(tc, test_cross_entropy_all_ignored);
    tcase_add_test(tc, test_cross_entropy_exact_and_probs);
    suite_add_tcase(s, tc);

    tc = tcase_create("attention");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_attention_gradcheck);
    tcase_add_test(tc, test_attention_masks_gradcheck);
    tcase_add_test(tc, test_attention_fully_masked_rows);
    tcase_add_test(tc, test_attention_weights_are_differentiable);
    tcase_add_test(tc, test_attention_f32_matches_f64);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(grad_nn_suite());
}
