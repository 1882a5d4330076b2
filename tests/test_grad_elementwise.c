/* Backward passes of the elementwise ops: unary math and activations,
 * binary arithmetic with broadcasting and mixed dtypes, the scalar forms,
 * where, lerp, the in-place forms (through ty_inplace_commit) and dropout.
 *
 * Every differentiable op is checked with ty_gradcheck and ty_gradgradcheck
 * (f64) on contiguous, non-contiguous, 0-d and broadcast inputs; the
 * one-pass gradient kernels of the activations (used without create_graph)
 * are compared with the composed formulas (used with it); and the ties and
 * edge cases have exact tests: relu'(0) = abs'(0) = 0, clamp at its bounds,
 * sqrt'(0) = inf, maximum/minimum ties, 0^b. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define EPS 1e-6
#define ATOL 1e-5
#define RTOL 1e-3

/* ---- helpers ---- */

/* f64 values uniform in [lo, hi) that require grad; layout 0 contiguous,
 * 1 transposed in memory (ndim >= 2), 2 every other element of a buffer. */
static ty_tensor *leaf(int ndim, const int64_t *shape, double lo, double hi, uint64_t seed,
                       int layout) {
    ty_tensor *t = tu_uniform(ndim, shape, TY_F64, lo, hi, seed);
    ck_assert_ptr_nonnull(t);
    if (layout) {
        ty_tensor *nc = layout == 1 ? tu_noncontiguous(t) : tu_strided(t);
        ty_tensor_release(t);
        t = nc;
        ck_assert(!ty_is_contiguous(t));
    }
    ck_assert_int_eq(ty_set_requires_grad(t, true), 0);
    return t;
}

static ty_tensor *from(const double *v, int ndim, const int64_t *shape) {
    ty_tensor *t = ty_from_buffer(v, ndim, shape, TY_F64);
    ck_assert_ptr_nonnull(t);
    return t;
}

static ty_tensor *leaf_from(const double *v, int64_t n) {
    ty_tensor *t = from(v, 1, &n);
    ck_assert_int_eq(ty_set_requires_grad(t, true), 0);
    return t;
}

/* gradcheck and gradgradcheck must both pass. */
#define check_grads(what, f, ctx, n, inputs)                                                       \
    check_grads_impl((what), (f), (ctx), (n), (inputs), __LINE__)
static void check_grads_impl(const char *what, ty_gradcheck_fn f, void *ctx, int n,
                             ty_tensor *const *inputs, int line) {
    ty_gradcheck_report rep;
    int r = ty_gradcheck(f, ctx, n, inputs, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "line %d, %s: gradcheck gave %d: %s", line, what, r,
                  r < 0 ? ty_last_error() : rep.message);
    r = ty_gradgradcheck(f, ctx, n, inputs, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "line %d, %s: gradgradcheck gave %d: %s", line, what, r,
                  r < 0 ? ty_last_error() : rep.message);
}

/* d(sum(g * y))/dx for y = the output of the graph ending in y, with
 * create_graph on or off; a new tensor. */
static ty_tensor *grad_of(ty_tensor *y, ty_tensor *g, ty_tensor *x, bool create_graph) {
    ty_tensor *gx = NULL;
    ck_assert_msg(ty_grad(1, &y, &g, 1, &x, true, create_graph, false, &gx) == 0, "%s",
                  ty_last_error());
    return gx;
}

static ty_tensor *ones_like(const ty_tensor *t) {
    ty_tensor *o = ty_ones(t->ndim, t->shape, t->dtype, ty_cpu());
    ck_assert_ptr_nonnull(o);
    return o;
}

/* The gradient of sum(op(x)) at the values v, checked exactly, with and
 * without create_graph (the fused kernels and the composed formulas). */
static void check_unary_grad_values(ty_tensor *(*op)(ty_tensor *), const double *v,
                                    const double *want, int64_t n) {
    for (int cg = 0; cg < 2; cg++) {
        ty_tensor *x = leaf_from(v, n);
        ty_tensor *y = op(x);
        ck_assert_ptr_nonnull(y);
        ty_tensor *g = ones_like(y);
        ty_tensor *gx = grad_of(y, g, x, cg);
        tu_assert_values(gx, want, n, 1e-15);
        ty_tensor_release(gx);
        ty_tensor_release(g);
        ty_tensor_release(y);
        ty_tensor_release(x);
    }
}

/* ---- unary ops ---- */

static ty_tensor *softplus_default(ty_tensor *x) {
    return ty_softplus(x, 1, 20);
}
static ty_tensor *softplus_steep(ty_tensor *x) {
    return ty_softplus(x, 2, 1); /* beta x > 1 takes the linear branch */
}
static ty_tensor *clamp_both(ty_tensor *x) {
    return ty_clamp(x, -0.5, 0.5);
}
static ty_tensor *clamp_lo(ty_tensor *x) {
    return ty_clamp_min(x, 0.2);
}
static ty_tensor *clamp_hi(ty_tensor *x) {
    return ty_clamp_max(x, -0.2);
}
static ty_tensor *axpb_op(ty_tensor *x) {
    return ty_axpb(x, 2.5, -1);
}

typedef struct {
    const char *name;
    ty_tensor *(*f)(ty_tensor *);
    double lo, hi; /* where the inputs are drawn: inside the op's domain */
} unary_case;

static const unary_case unary_cases[] = {
    {"neg", ty_neg, -2, 2},
    {"abs", ty_abs, -2, 2},
    {"sign", ty_sign, -2, 2},
    {"exp", ty_exp, -2, 2},
    {"log", ty_log, 0.3, 3},
    {"log1p", ty_log1p, -0.7, 3},
    {"expm1", ty_expm1, -2, 2},
    {"sqrt", ty_sqrt, 0.3, 3},
    {"rsqrt", ty_rsqrt, 0.3, 3},
    {"sin", ty_sin, -3, 3},
    {"cos", ty_cos, -3, 3},
    {"tanh", ty_tanh, -2, 2},
    {"sigmoid", ty_sigmoid, -4, 4},
    {"relu", ty_relu, -2, 2},
    {"gelu", ty_gelu, -3, 3},
    {"gelu_tanh", ty_gelu_tanh, -3, 3},
    {"silu", ty_silu, -4, 4},
    {"softplus", softplus_default, -3, 3},
    {"softplus(beta 2, threshold 1)", softplus_steep, -2, 2},
    {"clamp", clamp_both, -1, 1},
    {"clamp_min", clamp_lo, -1, 1},
    {"clamp_max", clamp_hi, -1, 1},
    {"floor", ty_floor, -3, 3},
    {"ceil", ty_ceil, -3, 3},
    {"round", ty_round, -3, 3},
    {"reciprocal", ty_reciprocal, 0.4, 3},
    {"axpb", axpb_op, -2, 2},
};
#define N_UNARY (sizeof unary_cases / sizeof *unary_cases)

static ty_tensor *f_unary(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    return ((const unary_case *)ctx)->f(in[0]);
}

/* shapes and layouts every unary op is checked on */
static const struct {
    int ndim;
    int64_t shape[3];
    int layout;
} unary_shapes[] = {{1, {7}, 0}, {2, {3, 4}, 1}, {0, {0}, 0}, {3, {2, 3, 2}, 2}};

START_TEST(test_unary_gradcheck) {
    const unary_case *c = &unary_cases[_i];
    for (size_t k = 0; k < sizeof unary_shapes / sizeof *unary_shapes; k++) {
        ty_tensor *x = leaf(unary_shapes[k].ndim, unary_shapes[k].shape, c->lo, c->hi,
                            17 * _i + k + 1, unary_shapes[k].layout);
        char what[96];
        snprintf(what, sizeof what, "%s, shape case %zu", c->name, k);
        check_grads(what, f_unary, (void *)c, 1, &x);
        ty_tensor_release(x);
    }
}
END_TEST

/* The one-pass kernels (no create_graph) against the composed formulas
 * (create_graph), in f64 and f32, over a wide range of values. */
START_TEST(test_unary_fused_matches_composed) {
    ty_tensor *(*ops[])(ty_tensor *) = {ty_relu,      ty_tanh, ty_sigmoid,       ty_gelu,
                                        ty_gelu_tanh, ty_silu, softplus_default, softplus_steep};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        for (int f32 = 0; f32 < 2; f32++) {
            ty_dtype dt = f32 ? TY_F32 : TY_F64;
            ty_tensor *x = tu_uniform(2, (int64_t[]){5, 40}, dt, -12, 12, 100 + k);
            ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
            ty_tensor *y = ops[k](x);
            ck_assert_ptr_nonnull(y);
            ty_tensor *g = tu_randn(2, (int64_t[]){5, 40}, dt, 200 + k);
            ty_tensor *a = grad_of(y, g, x, false), *b = grad_of(y, g, x, true);
            ck_assert_int_eq(a->dtype, dt);
            ck_assert(!a->requires_grad);
            tu_assert_close(b, a, f32 ? 1e-5 : 1e-12, f32 ? 1e-5 : 1e-12);
            ty_tensor_release(a);
            ty_tensor_release(b);
            ty_tensor_release(g);
            ty_tensor_release(y);
            ty_tensor_release(x);
        }
}
END_TEST

START_TEST(test_unary_ties_and_edges) {
    /* relu'(0) = 0, abs'(0) = 0 (PyTorch) */
    check_unary_grad_values(ty_relu, (double[]){-1, 0, 2}, (double[]){0, 0, 1}, 3);
    check_unary_grad_values(ty_abs, (double[]){-2, 0, 3}, (double[]){-1, 0, 1}, 3);
    /* clamp passes the gradient where lo <= x <= hi, bounds included */
    check_unary_grad_values(clamp_both, (double[]){-2, -0.5, 0, 0.5, 2}, (double[]){0, 1, 1, 1, 0},
                            5);
    check_unary_grad_values(clamp_lo, (double[]){0.1, 0.2, 0.3}, (double[]){0, 1, 1}, 3);
    check_unary_grad_values(clamp_hi, (double[]){-0.3, -0.2, 0}, (double[]){1, 1, 0}, 3);
    /* sqrt'(0) = inf; rsqrt'(1) = -1/2 */
    check_unary_grad_values(ty_sqrt, (double[]){0, 4}, (double[]){INFINITY, 0.25}, 2);
    check_unary_grad_values(ty_rsqrt, (double[]){1}, (double[]){-0.5}, 1);
    /* the piecewise-constant ops give zeros (not nothing) */
    check_unary_grad_values(ty_sign, (double[]){-1, 0, 2}, (double[]){0, 0, 0}, 3);
    check_unary_grad_values(ty_floor, (double[]){-1.5, 0, 2.5}, (double[]){0, 0, 0}, 3);
    check_unary_grad_values(ty_ceil, (double[]){-1.5, 0, 2.5}, (double[]){0, 0, 0}, 3);
    check_unary_grad_values(ty_round, (double[]){-1.5, 0, 2.5}, (double[]){0, 0, 0}, 3);
    /* the activations stay finite far out: sigmoid'(+-800) = 0, silu and
     * gelu tend to 0 on the left and 1 on the right, softplus above its
     * threshold is exactly 1 */
    check_unary_grad_values(ty_sigmoid, (double[]){-800, 0, 800}, (double[]){0, 0.25, 0}, 3);
    check_unary_grad_values(ty_silu, (double[]){-800, 0, 800}, (double[]){0, 0.5, 1}, 3);
    check_unary_grad_values(ty_gelu, (double[]){-40, 0, 40}, (double[]){0, 0.5, 1}, 3);
    check_unary_grad_values(ty_gelu_tanh, (double[]){-40, 0, 40}, (double[]){0, 0.5, 1}, 3);
    check_unary_grad_values(softplus_default, (double[]){-800, 0, 25}, (double[]){0, 0.5, 1}, 3);
    check_unary_grad_values(ty_tanh, (double[]){0, 30}, (double[]){1, 0}, 2);
}
END_TEST

START_TEST(test_unary_node_names_and_dtypes) {
    /* each op names its node; half inputs get half gradients */
    ty_tensor *x = tu_uniform(1, (int64_t[]){6}, TY_F16, -2, 2, 3);
    ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
    ty_tensor *y = ty_gelu(x);
    ck_assert_str_eq(y->grad_fn->name, "gelu");
    ty_tensor *z = ty_clamp_min(y, 0);
    ck_assert_str_eq(z->grad_fn->name, "clamp_min");
    ty_tensor *g = ones_like(z);
    ck_assert_int_eq(ty_backward(z, g, false, false), 0);
    ck_assert_int_eq(x->grad->dtype, TY_F16);
    ty_tensor_release(g);
    ty_tensor_release(z);
    ty_tensor_release(y);
    ty_tensor_release(x);

    /* integer inputs and grad mode off record nothing */
    ty_tensor *i = tu_arange(1, (int64_t[]){4}, TY_I64);
    ty_tensor *e = ty_exp(i);
    ck_assert_ptr_null(e->grad_fn);
    ck_assert(!e->requires_grad);
    ty_tensor_release(e);
    ty_tensor_release(i);
    ty_tensor *w = leaf(1, (int64_t[]){4}, -1, 1, 9, 0);
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *t = ty_tanh(w);
    ty_set_grad_enabled(prev);
    ck_assert_ptr_null(t->grad_fn);
    ck_assert(!t->requires_grad);
    ty_tensor_release(t);
    ty_tensor_release(w);
}
END_TEST

/* ---- binary ops ---- */

typedef struct {
    const char *name;
    ty_tensor *(*f)(ty_tensor *, ty_tensor *);
    double alo, ahi, blo, bhi;
} binary_case;

static const binary_case binary_cases[] = {
    {"add", ty_add, -2, 2, -2, 2},         {"sub", ty_sub, -2, 2, -2, 2},
    {"mul", ty_mul, -2, 2, -2, 2},         {"div", ty_div, -2, 2, 0.5, 2},
    {"pow", ty_pow, 0.5, 2, -1.5, 1.5},    {"maximum", ty_maximum, -2, 2, -2, 2},
    {"minimum", ty_minimum, -2, 2, -2, 2},
};
#define N_BINARY (sizeof binary_cases / sizeof *binary_cases)

static ty_tensor *f_binary(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    return ((const binary_case *)ctx)->f(in[0], in[1]);
}

/* op(x, x): both edges lead to the same leaf */
static ty_tensor *f_binary_self(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    return ((const binary_case *)ctx)->f(in[0], in[0]);
}

START_TEST(test_binary_gradcheck) {
    const binary_case *c = &binary_cases[_i];
    static const struct {
        int an, bn;
        int64_t as[3], bs[3];
        int alayout, blayout;
    } shapes[] = {
        {2, 2, {3, 4}, {3, 4}, 0, 0}, /* same shapes */
        {2, 1, {3, 1}, {4}, 0, 0},    /* both broadcast: (3,1) with (4,) */
        {2, 1, {3, 4}, {4}, 1, 0},    /* non-contiguous with a row */
        {0, 2, {0}, {2, 3}, 0, 1},    /* 0-d with non-contiguous */
        {1, 3, {3}, {2, 2, 3}, 2, 0}, /* strided, leading dims added */
    };
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        ty_tensor *in[2] = {
            leaf(shapes[k].an, shapes[k].as, c->alo, c->ahi, 31 * _i + k + 1, shapes[k].alayout),
            leaf(shapes[k].bn, shapes[k].bs, c->blo, c->bhi, 57 * _i + k + 2, shapes[k].blayout)};
        char what[64];
        snprintf(what, sizeof what, "%s, shape case %zu", c->name, k);
        check_grads(what, f_binary, (void *)c, 2, in);
        /* only one side requiring grad */
        for (int side = 0; side < 2; side++) {
            ck_assert_int_eq(ty_set_requires_grad(in[side], false), 0);
            check_grads(what, f_binary, (void *)c, 2, in);
            ck_assert_int_eq(ty_set_requires_grad(in[side], true), 0);
        }
        ty_tensor_release(in[0]);
        ty_tensor_release(in[1]);
    }
    /* x op x */
    ty_tensor *x = leaf(2, (int64_t[]){2, 3}, 0.5, 2, 77 + _i, 1);
    check_grads(c->name, f_binary_self, (void *)c, 1, &x);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_binary_ties_and_edges) {
    /* maximum/minimum split ties evenly */
    double av[] = {1, 2, 3}, bv[] = {1, 3, 2};
    for (int cg = 0; cg < 2; cg++)
        for (int mx = 0; mx < 2; mx++) {
            ty_tensor *a = leaf_from(av, 3), *b = leaf_from(bv, 3);
            ty_tensor *y = mx ? ty_maximum(a, b) : ty_minimum(a, b);
            ty_tensor *g = ones_like(y), *gs[2];
            ck_assert_int_eq(ty_grad(1, &y, &g, 2, (ty_tensor *[]){a, b}, false, cg, false, gs), 0);
            tu_assert_values(gs[0], mx ? ((double[]){0.5, 0, 1}) : ((double[]){0.5, 1, 0}), 3, 0);
            tu_assert_values(gs[1], mx ? ((double[]){0.5, 1, 0}) : ((double[]){0.5, 0, 1}), 3, 0);
            ty_tensor_release(gs[0]);
            ty_tensor_release(gs[1]);
            ty_tensor_release(g);
            ty_tensor_release(y);
            ty_tensor_release(a);
            ty_tensor_release(b);
        }

    /* pow: 0^b with b >= 0 gives the exponent gradient 0 (not NaN or -inf),
     * b == 0 gives the base gradient 0 even at 0; 0^-1 keeps inf/NaN as
     * PyTorch does */
    ty_tensor *a = leaf_from((double[]){0, 0, 2, 0}, 4);
    ty_tensor *b = leaf_from((double[]){0, 2, 0, 0.5}, 4);
    ty_tensor *y = ty_pow(a, b);
    ty_tensor *g = ones_like(y), *gs[2];
    ck_assert_int_eq(ty_grad(1, &y, &g, 2, (ty_tensor *[]){a, b}, false, false, false, gs), 0);
    tu_assert_values(gs[0], ((double[]){0, 0, 0, INFINITY}), 4, 0);
    tu_assert_values(gs[1], ((double[]){0, 0, log(2), 0}), 4, 1e-15);
    ty_tensor_release(gs[0]);
    ty_tensor_release(gs[1]);
    ty_tensor_release(g);
    ty_tensor_release(y);
    ty_tensor_release(a);
    ty_tensor_release(b);

    /* the scalar forms: x^0 has zero gradient, x^2 (computed as x*x) 2x,
     * 2^x gives 2^x log 2, 0^x gives 0 for x >= 0 */
    ty_tensor *x = leaf_from((double[]){0, 1.5, -2}, 3);
    ty_tensor *p0 = ty_pow_scalar(x, 0), *p2 = ty_pow_scalar(x, 2), *r2 = ty_rpow_scalar(x, 2);
    ck_assert_str_eq(p2->grad_fn->name, "pow");
    g = ones_like(x);
    ty_tensor *gx = grad_of(p0, g, x, false);
    tu_assert_values(gx, ((double[]){0, 0, 0}), 3, 0);
    ty_tensor_release(gx);
    gx = grad_of(p2, g, x, false);
    tu_assert_values(gx, ((double[]){0, 3, -4}), 3, 0);
    ty_tensor_release(gx);
    gx = grad_of(r2, g, x, false);
    tu_assert_values(gx, ((double[]){log(2), pow(2, 1.5) * log(2), 0.25 * log(2)}), 3, 1e-15);
    ty_tensor_release(gx);
    ty_tensor *z = ty_rpow_scalar(x, 0);
    gx = grad_of(z, g, x, false);
    tu_assert_values(gx, ((double[]){0, 0, -INFINITY}), 3, 0);
    ty_tensor_release(gx);
    ty_tensor_release(z);
    ty_tensor_release(g);
    ty_tensor_release(p0);
    ty_tensor_release(p2);
    ty_tensor_release(r2);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_binary_mixed_dtypes) {
    /* f32 (3,1) * f64 (4,): the product is f64, each gradient comes back in
     * its input's dtype and shape */
    ty_tensor *a = tu_uniform(2, (int64_t[]){3, 1}, TY_F32, -1, 1, 1);
    ty_tensor *b = tu_uniform(1, (int64_t[]){4}, TY_F64, -1, 1, 2);
    ck_assert_int_eq(ty_set_requires_grad(a, true), 0);
    ck_assert_int_eq(ty_set_requires_grad(b, true), 0);
    ty_tensor *y = ty_mul(a, b);
    ck_assert_int_eq(y->dtype, TY_F64);
    ty_tensor *s = ty_sum(y, 0, NULL, false);
    ck_assert_int_eq(ty_backward(s, NULL, false, false), 0);
    ck_assert_int_eq(a->grad->dtype, TY_F32);
    ck_assert_int_eq(b->grad->dtype, TY_F64);
    ck_assert_int_eq(a->grad->ndim, 2);
    ck_assert_int_eq(a->grad->shape[0], 3);
    ck_assert_int_eq(a->grad->shape[1], 1);
    /* a's gradient is sum_j b_j in every row; b's is sum_i a_i */
    double sb = 0, sa = 0;
    for (int j = 0; j < 4; j++) sb += ty_get_flat(b, j);
    for (int i = 0; i < 3; i++) sa += ty_get_flat(a, i);
    for (int i = 0; i < 3; i++) ck_assert_double_eq_tol(ty_get_flat(a->grad, i), sb, 1e-6);
    for (int j = 0; j < 4; j++) ck_assert_double_eq_tol(ty_get_flat(b->grad, j), sa, 1e-6);
    ty_tensor_release(s);
    ty_tensor_release(y);

    /* an integer operand needs no gradient; comparisons record nothing */
    ty_tensor *i = tu_arange(1, (int64_t[]){4}, TY_I64);
    ty_tensor *d = ty_div(b, i);
    ck_assert_str_eq(d->grad_fn->name, "div");
    ty_tensor *lt = ty_lt(b, d);
    ck_assert_ptr_null(lt->grad_fn);
    ck_assert(!lt->requires_grad);
    ty_tensor_release(lt);
    ty_tensor_release(d);
    ty_tensor_release(i);
    ty_tensor_release(a);
    ty_tensor_release(b);
}
END_TEST

/* ---- scalar forms ---- */

typedef struct {
    const char *name;
    ty_tensor *(*f)(ty_tensor *, double);
    double s, lo, hi;
} scalar_case;

static const scalar_case scalar_cases[] = {
    {"add_scalar", ty_add_scalar, 1.5, -2, 2},
    {"sub_scalar", ty_sub_scalar, 1.5, -2, 2},
    {"rsub_scalar", ty_rsub_scalar, 1.5, -2, 2},
    {"mul_scalar", ty_mul_scalar, -2.5, -2, 2},
    {"div_scalar", ty_div_scalar, -2.5, -2, 2},
    {"rdiv_scalar", ty_rdiv_scalar, 3, 0.5, 2},
    {"pow_scalar 2", ty_pow_scalar, 2, -2, 2},
    {"pow_scalar 3", ty_pow_scalar, 3, -2, 2},
    {"pow_scalar 0.5", ty_pow_scalar, 0.5, 0.5, 2},
    {"pow_scalar -1.5", ty_pow_scalar, -1.5, 0.5, 2},
    {"pow_scalar 0", ty_pow_scalar, 0, -2, 2},
    {"rpow_scalar", ty_rpow_scalar, 2.5, -2, 2},
};
#define N_SCALAR (sizeof scalar_cases / sizeof *scalar_cases)

static ty_tensor *f_scalar(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    const scalar_case *c = ctx;
    return c->f(in[0], c->s);
}

START_TEST(test_scalar_gradcheck) {
    const scalar_case *c = &scalar_cases[_i];
    for (size_t k = 0; k < sizeof unary_shapes / sizeof *unary_shapes; k++) {
        ty_tensor *x = leaf(unary_shapes[k].ndim, unary_shapes[k].shape, c->lo, c->hi,
                            13 * _i + k + 5, unary_shapes[k].layout);
        char what[64];
        snprintf(what, sizeof what, "%s, shape case %zu", c->name, k);
        check_grads(what, f_scalar, (void *)c, 1, &x);
        ty_tensor_release(x);
    }
}
END_TEST

/* ---- where, lerp ---- */

static ty_tensor *f_where(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    return ty_where(ctx, in[0], in[1]);
}

START_TEST(test_where_gradcheck) {
    /* cond (3,4) with a (3,1) and b (4,) broadcast; a u8 condition too */
    uint8_t cv[12] = {1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0};
    for (int u8 = 0; u8 < 2; u8++) {
        ty_tensor *cond = ty_from_buffer(cv, 2, (int64_t[]){3, 4}, u8 ? TY_U8 : TY_BOOL);
        ty_tensor *in[2] = {leaf(2, (int64_t[]){3, 1}, -1, 1, 3, 0),
                            leaf(1, (int64_t[]){4}, -1, 1, 4, 0)};
        check_grads("where", f_where, cond, 2, in);
        /* exact: a's row i gets the count of true in row i, b's column j
         * the count of false in column j */
        ty_tensor *y = ty_where(cond, in[0], in[1]);
        ck_assert_str_eq(y->grad_fn->name, "where");
        ty_tensor *g = ones_like(y), *gs[2];
        ck_assert_int_eq(ty_grad(1, &y, &g, 2, in, false, false, false, gs), 0);
        tu_assert_values(gs[0], ((double[]){2, 2, 2}), 3, 0);
        tu_assert_values(gs[1], ((double[]){1, 1, 2, 2}), 4, 0);
        ty_tensor_release(gs[0]);
        ty_tensor_release(gs[1]);
        ty_tensor_release(g);
        ty_tensor_release(y);
        ty_tensor_release(in[0]);
        ty_tensor_release(in[1]);
        ty_tensor_release(cond);
    }
    /* a non-contiguous branch and a 0-d one */
    ty_tensor *cond = ty_from_buffer(cv, 2, (int64_t[]){3, 4}, TY_BOOL);
    ty_tensor *in[2] = {leaf(2, (int64_t[]){3, 4}, -1, 1, 5, 1), leaf(0, NULL, -1, 1, 6, 0)};
    check_grads("where nc", f_where, cond, 2, in);
    ty_tensor_release(in[0]);
    ty_tensor_release(in[1]);
    ty_tensor_release(cond);
}
END_TEST

static ty_tensor *f_lerp(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    return ty_lerp(in[0], in[1], *(const double *)ctx);
}

START_TEST(test_lerp_gradcheck) {
    double weights[] = {0.3, 0.7, 0, 1, -0.5};
    for (size_t k = 0; k < sizeof weights / sizeof *weights; k++) {
        ty_tensor *in[2] = {leaf(2, (int64_t[]){3, 4}, -1, 1, 7 + k, 1),
                            leaf(1, (int64_t[]){4}, -1, 1, 8 + k, 0)};
        check_grads("lerp", f_lerp, &weights[k], 2, in);
        ty_tensor_release(in[0]);
        ty_tensor_release(in[1]);
    }
}
END_TEST

/* ---- in-place forms ---- */

/* The in-place op runs on a clone of the input (a non-leaf), so the
 * gradient reaches the input through it. */
typedef struct {
    const char *name;
    int (*f)(ty_tensor *);
    double lo, hi;
} inplace_unary_case;

static int softplus_inplace(ty_tensor *x) {
    return ty_softplus_(x, 2, 1);
}
static int clamp_inplace(ty_tensor *x) {
    return ty_clamp_(x, -0.5, 0.5);
}
static int clamp_min_inplace(ty_tensor *x) {
    return ty_clamp_min_(x, 0.2);
}
static int clamp_max_inplace(ty_tensor *x) {
    return ty_clamp_max_(x, -0.2);
}
static int axpb_inplace(ty_tensor *x) {
    return ty_axpb_(x, -1.5, 2);
}
static int pow_scalar_inplace(ty_tensor *x) {
    return ty_pow_scalar_(x, 3);
}
static int square_inplace(ty_tensor *x) {
    return ty_pow_scalar_(x, 2);
}
static int mul_scalar_inplace(ty_tensor *x) {
    return ty_mul_scalar_(x, -2);
}
static int div_scalar_inplace(ty_tensor *x) {
    return ty_div_scalar_(x, 4);
}
static int sub_scalar_inplace(ty_tensor *x) {
    return ty_sub_scalar_(x, 4);
}
static int add_scalar_inplace(ty_tensor *x) {
    return ty_add_scalar_(x, 4);
}
static int mul_self_inplace(ty_tensor *x) {
    return ty_mul_(x, x);
}

static const inplace_unary_case inplace_unary_cases[] = {
    {"neg_", ty_neg_, -2, 2},
    {"abs_", ty_abs_, -2, 2},
    {"sign_", ty_sign_, -2, 2},
    {"exp_", ty_exp_, -2, 2},
    {"log_", ty_log_, 0.3, 3},
    {"log1p_", ty_log1p_, -0.5, 3},
    {"expm1_", ty_expm1_, -2, 2},
    {"sqrt_", ty_sqrt_, 0.3, 3},
    {"rsqrt_", ty_rsqrt_, 0.3, 3},
    {"sin_", ty_sin_, -3, 3},
    {"cos_", ty_cos_, -3, 3},
    {"tanh_", ty_tanh_, -2, 2},
    {"sigmoid_", ty_sigmoid_, -3, 3},
    {"relu_", ty_relu_, -2, 2},
    {"gelu_", ty_gelu_, -3, 3},
    {"gelu_tanh_", ty_gelu_tanh_, -3, 3},
    {"silu_", ty_silu_, -3, 3},
    {"softplus_", softplus_inplace, -2, 2},
    {"clamp_", clamp_inplace, -1, 1},
    {"clamp_min_", clamp_min_inplace, -1, 1},
    {"clamp_max_", clamp_max_inplace, -1, 1},
    {"floor_", ty_floor_, -3, 3},
    {"ceil_", ty_ceil_, -3, 3},
    {"round_", ty_round_, -3, 3},
    {"reciprocal_", ty_reciprocal_, 0.4, 3},
    {"axpb_", axpb_inplace, -2, 2},
    {"pow_scalar_ 3", pow_scalar_inplace, -2, 2},
    {"pow_scalar_ 2", square_inplace, -2, 2},
    {"mul_scalar_", mul_scalar_inplace, -2, 2},
    {"div_scalar_", div_scalar_inplace, -2, 2},
    {"sub_scalar_", sub_scalar_inplace, -2, 2},
    {"add_scalar_", add_scalar_inplace, -2, 2},
    {"mul_(x, x)", mul_self_inplace, -2, 2},
};
#define N_INPLACE_UNARY (sizeof inplace_unary_cases / sizeof *inplace_unary_cases)

static ty_tensor *f_inplace_unary(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    ty_tensor *c = ty_clone(in[0]);
    if (c && ((const inplace_unary_case *)ctx)->f(c) < 0) {
        ty_tensor_release(c);
        return NULL;
    }
    return c;
}

START_TEST(test_inplace_unary_gradcheck) {
    const inplace_unary_case *c = &inplace_unary_cases[_i];
    ty_tensor *x = leaf(2, (int64_t[]){3, 4}, c->lo, c->hi, 41 + _i, 1);
    check_grads(c->name, f_inplace_unary, (void *)c, 1, &x);
    /* the clone took over the op's node */
    ty_tensor *y = f_inplace_unary((void *)c, 1, &x);
    ck_assert_msg(y != NULL, "%s", ty_last_error());
    ck_assert_ptr_nonnull(y->grad_fn);
    ck_assert_str_ne(y->grad_fn->name, "clone");
    ty_tensor_release(y);
    ty_tensor_release(x);
}
END_TEST

/* binary in-place forms: out = clone(a) op= b */
typedef struct {
    const char *name;
    int (*f)(ty_tensor *, ty_tensor *);
    double alo, ahi, blo, bhi;
} inplace_binary_case;

static const inplace_binary_case inplace_binary_cases[] = {
    {"add_", ty_add_, -2, 2, -2, 2},      {"sub_", ty_sub_, -2, 2, -2, 2},
    {"mul_", ty_mul_, -2, 2, -2, 2},      {"div_", ty_div_, -2, 2, 0.5, 2},
    {"pow_", ty_pow_, 0.5, 2, -1.5, 1.5},
};

static ty_tensor *f_inplace_binary(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    ty_tensor *c = ty_clone(in[0]);
    if (c && ((const inplace_binary_case *)ctx)->f(c, in[1]) < 0) {
        ty_tensor_release(c);
        return NULL;
    }
    return c;
}

START_TEST(test_inplace_binary_gradcheck) {
    for (size_t k = 0; k < sizeof inplace_binary_cases / sizeof *inplace_binary_cases; k++) {
        const inplace_binary_case *c = &inplace_binary_cases[k];
        /* b broadcasts to a's shape; a non-contiguous b too */
        ty_tensor *in[2] = {leaf(2, (int64_t[]){3, 4}, c->alo, c->ahi, 60 + k, 0),
                            leaf(1, (int64_t[]){4}, c->blo, c->bhi, 70 + k, 0)};
        check_grads(c->name, f_inplace_binary, (void *)c, 2, in);
        ty_tensor *b2 = leaf(2, (int64_t[]){3, 4}, c->blo, c->bhi, 80 + k, 1);
        ty_tensor *in2[2] = {in[0], b2};
        check_grads(c->name, f_inplace_binary, (void *)c, 2, in2);
        /* only the operand requires grad: the target gets a history */
        ck_assert_int_eq(ty_set_requires_grad(in[0], false), 0);
        check_grads(c->name, f_inplace_binary, (void *)c, 2, in);
        ty_tensor_release(b2);
        ty_tensor_release(in[0]);
        ty_tensor_release(in[1]);
    }
}
END_TEST

typedef struct {
    int which; /* 0 addcmul_, 1 addcdiv_, 2 lerp_ */
    double v;
} fused_ctx;

static ty_tensor *f_fused_inplace(void *vctx, int n, ty_tensor *const *in) {
    (void)n;
    const fused_ctx *c = vctx;
    ty_tensor *s = ty_clone(in[0]);
    int rc = -1;
    if (s && c->which == 0) rc = ty_addcmul_(s, in[1], in[2], c->v);
    if (s && c->which == 1) rc = ty_addcdiv_(s, in[1], in[2], c->v);
    if (s && c->which == 2) rc = ty_lerp_(s, in[1], c->v);
    if (rc < 0) {
        ty_tensor_release(s);
        return NULL;
    }
    return s;
}

START_TEST(test_fused_inplace_gradcheck) {
    for (int which = 0; which < 3; which++) {
        ty_tensor *in[3] = {leaf(2, (int64_t[]){3, 4}, -1, 1, 90, 0),
                            leaf(1, (int64_t[]){4}, -1, 1, 91, 0),
                            leaf(2, (int64_t[]){3, 4}, 0.5, 2, 92, 1)};
        fused_ctx c = {which, which == 2 ? 0.3 : -0.7};
        check_grads(which == 0   ? "addcmul_"
                    : which == 1 ? "addcdiv_"
                                 : "lerp_",
                    f_fused_inplace, &c, which == 2 ? 2 : 3, in);
        ty_tensor_release(in[0]);
        ty_tensor_release(in[1]);
        ty_tensor_release(in[2]);
    }
    /* f32 self with f64 operands: self stays f32, each gradient in its dtype */
    ty_tensor *x = tu_uniform(1, (int64_t[]){4}, TY_F32, -1, 1, 93);
    ty_tensor *t = leaf(1, (int64_t[]){4}, -1, 1, 94, 0);
    ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
    ty_tensor *s = ty_mul_scalar(x, 1);
    ck_assert_int_eq(ty_addcmul_(s, t, t, 2), 0);
    ck_assert_int_eq(s->dtype, TY_F32);
    ty_tensor *g = ones_like(s);
    ck_assert_int_eq(ty_backward(s, g, false, false), 0);
    ck_assert_int_eq(x->grad->dtype, TY_F32);
    ck_assert_int_eq(t->grad->dtype, TY_F64);
    for (int i = 0; i < 4; i++) {
        ck_assert_double_eq(ty_get_flat(x->grad, i), 1);
        ck_assert_double_eq_tol(ty_get_flat(t->grad, i), 4 * ty_get_flat(t, i), 1e-6);
    }
    ty_tensor_release(g);
    ty_tensor_release(s);
    ty_tensor_release(t);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_inplace_errors) {
    /* a leaf that requires grad cannot be written in place under autograd */
    ty_tensor *x = leaf(1, (int64_t[]){3}, -1, 1, 1, 0);
    ty_tensor *w = leaf(1, (int64_t[]){3}, -1, 1, 2, 0);
    tu_assert_error(ty_relu_(x) < 0, "relu_", "leaf");
    tu_assert_error(ty_add_(x, w) < 0, "add_", "leaf");
    tu_assert_error(ty_clamp_(x, 0, 1) < 0, "clamp_", "leaf");
    tu_assert_error(ty_mul_scalar_(x, 2) < 0, "mul_", "leaf");
    tu_assert_error(ty_addcmul_(x, w, w, 1) < 0, "addcmul_", "leaf");
    tu_assert_error(ty_lerp_(x, w, 0.5) < 0, "lerp_", "leaf");
    /* ... but can under no_grad, keeping it a leaf */
    bool prev = ty_set_grad_enabled(false);
    ck_assert_int_eq(ty_relu_(x), 0);
    ck_assert_int_eq(ty_add_(x, w), 0);
    ty_set_grad_enabled(prev);
    ck_assert(ty_is_leaf(x));

    /* a non-leaf viewed by another tensor: the view would go stale */
    ty_tensor *y = ty_mul_scalar(x, 2);
    ty_tensor *v = ty_reshape(y, 2, (int64_t[]){1, 3});
    tu_assert_error(ty_exp_(y) < 0, "exp_", "shares memory");
    ty_tensor_release(v);
    /* saved for a backward (exp saves its output): the in-place write is
     * refused, and the saved value stays usable */
    ty_tensor *e = ty_exp(y);
    tu_assert_error(ty_add_scalar_(e, 1) < 0, "add_", "shares memory");
    ty_tensor *g = ones_like(e);
    ty_tensor *gx = grad_of(e, g, x, false);
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq_tol(ty_get_flat(gx, i), 2 * ty_get_flat(e, i), 1e-15);
    ty_tensor_release(gx);
    ty_tensor_release(g);
    ty_tensor_release(e);

    /* a wrong shape or dtype is still reported before anything runs */
    ty_tensor *big = leaf(2, (int64_t[]){2, 3}, -1, 1, 3, 0);
    tu_assert_error(ty_add_(y, big) < 0, "add_", "(2,3)");
    ty_tensor *iy = tu_arange(1, (int64_t[]){3}, TY_I64);
    tu_assert_error(ty_add_(iy, w) < 0, "add_", "cannot be stored");
    ty_tensor_release(iy);
    ty_tensor_release(big);

    /* results without a gradient cannot overwrite a tensor with history */
    tu_assert_error(ty_logical_not_(y) < 0, "logical_not_", "not differentiable");
    tu_assert_error(ty_binary_(TY_BINARY_EQ, y, w) < 0, "eq_", "not differentiable");
    tu_assert_error(ty_binary_scalar_(TY_BINARY_GT, y, 0) < 0, "gt_", "not differentiable");
    ty_tensor_release(y);
    ty_tensor_release(w);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_inplace_chain_values) {
    /* y = 3x; y.mul_(w); y.relu_(); y.add_(x): dy/dx = 3w [3xw > 0] + 1,
     * dy/dw = 3x [3xw > 0] */
    ty_tensor *x = leaf_from((double[]){1, -2, 0.5, 2}, 4);
    ty_tensor *w = leaf_from((double[]){2, 1, -1, 0.5}, 4);
    ty_tensor *y = ty_mul_scalar(x, 3);
    ck_assert_int_eq(ty_mul_(y, w), 0);
    ck_assert_int_eq(ty_relu_(y), 0);
    ck_assert_int_eq(ty_add_(y, x), 0);
    ck_assert_str_eq(y->grad_fn->name, "add");
    tu_assert_values(y, ((double[]){7, -2, 0.5, 5}), 4, 1e-15);
    ty_tensor *s = ty_sum(y, 0, NULL, false);
    ck_assert_int_eq(ty_backward(s, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){7, 1, 1, 2.5}), 4, 1e-15);
    tu_assert_values(w->grad, ((double[]){3, 0, 0, 6}), 4, 1e-15);
    ty_tensor_release(s);
    ty_tensor_release(y);
    ty_tensor_release(w);
    ty_tensor_release(x);

    /* a plain target taking a history from its operand: a.add_(w) */
    ty_tensor *a = ty_zeros(1, (int64_t[]){3}, TY_F32, ty_cpu());
    ty_tensor *b = leaf_from((double[]){1, 2, 3}, 3);
    ck_assert_int_eq(ty_add_(a, b), 0);
    ck_assert_int_eq(a->dtype, TY_F32);
    ck_assert(a->requires_grad);
    ty_tensor *g = ones_like(a);
    ck_assert_int_eq(ty_backward(a, g, false, false), 0);
    ck_assert_int_eq(b->grad->dtype, TY_F64);
    tu_assert_values(b->grad, ((double[]){1, 1, 1}), 3, 0);
    ty_tensor_release(g);
    ty_tensor_release(b);
    ty_tensor_release(a);
}
END_TEST

/* ---- second derivatives, explicitly ---- */

START_TEST(test_second_derivatives_exact) {
    /* d2/dx2 of tanh, sigmoid, sin, cos and gelu at a few points */
    double xv[] = {-1.3, 0.2, 0.9};
    ty_tensor *(*ops[])(ty_tensor *) = {ty_tanh, ty_sigmoid, ty_sin, ty_cos, ty_gelu};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        ty_tensor *x = leaf_from(xv, 3);
        ty_tensor *y = ops[k](x);
        ty_tensor *g = ones_like(y);
        ty_tensor *gx = grad_of(y, g, x, true);
        ck_assert(gx->requires_grad);
        ty_tensor *gg = grad_of(gx, g, x, false);
        for (int i = 0; i < 3; i++) {
            double v = xv[i], want;
            switch (k) {
            case 0:
                want = -2 * tanh(v) * (1 - tanh(v) * tanh(v));
                break;
            case 1: {
                double s = 1 / (1 + exp(-v));
                want = s * (1 - s) * (1 - 2 * s);
                break;
            }
            case 2:
                want = -sin(v);
                break;
            case 3:
                want = -cos(v);
                break;
            default:
                want = exp(-v * v / 2) / sqrt(2 * M_PI) * (2 - v * v);
                break;
            }
            ck_assert_double_eq_tol(ty_get_flat(gg, i), want, 1e-12);
        }
        ty_tensor_release(gg);
        ty_tensor_release(gx);
        ty_tensor_release(g);
        ty_tensor_release(y);
        ty_tensor_release(x);
    }
    /* mul and pow: d2(a*b)/da db = 1, d2(a^b)/da2 = b (b-1) a^(b-2) */
    ty_tensor *a = leaf_from((double[]){1.5, 2}, 2), *b = leaf_from((double[]){3, -0.5}, 2);
    ty_tensor *y = ty_pow(a, b);
    ty_tensor *g = ones_like(y);
    ty_tensor *ga = grad_of(y, g, a, true);
    ty_tensor *gaa = grad_of(ga, g, a, false);
    tu_assert_values(gaa, ((double[]){3 * 2 * 1.5, -0.5 * -1.5 * pow(2, -2.5)}), 2, 1e-12);
    ty_tensor *gab = grad_of(ga, g, b, false); /* a^(b-1) (1 + b log a) */
    tu_assert_values(
        gab, ((double[]){1.5 * 1.5 * (1 + 3 * log(1.5)), pow(2, -1.5) * (1 - 0.5 * log(2))}), 2,
        1e-12);
    ty_tensor *m = ty_mul(a, b);
    ty_tensor *gm = grad_of(m, g, a, true);
    ty_tensor *gmb = grad_of(gm, g, b, false);
    tu_assert_values(gmb, ((double[]){1, 1}), 2, 0);
    ty_tensor_release(gmb);
    ty_tensor_release(gm);
    ty_tensor_release(m);
    ty_tensor_release(gab);
    ty_tensor_release(gaa);
    ty_tensor_release(ga);
    ty_tensor_release(g);
    ty_tensor_release(y);
    ty_tensor_release(a);
    ty_tensor_release(b);
}
END_TEST

/* ---- dropout ---- */

typedef struct {
    double p;
} dropout_ctx;

/* The same seed every call, so the mask is the same in every evaluation. */
static ty_tensor *f_dropout(void *vctx, int n, ty_tensor *const *in) {
    (void)n;
    ty_generator g;
    ty_generator_init(&g, 1234);
    return ty_dropout(in[0], ((dropout_ctx *)vctx)->p, true, &g, NULL);
}

START_TEST(test_dropout_gradcheck) {
    double ps[] = {0.3, 0.7, 1};
    for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
        dropout_ctx c = {ps[k]};
        ty_tensor *x = leaf(2, (int64_t[]){5, 6}, -1, 1, 20 + k, 1);
        check_grads("dropout", f_dropout, &c, 1, &x);
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_dropout_uses_the_mask) {
    /* the gradient is g / (1 - p) exactly where the mask kept, 0 elsewhere,
     * for f32 and f64, and equals dropout_apply_mask of g */
    for (int f32 = 0; f32 < 2; f32++) {
        ty_dtype dt = f32 ? TY_F32 : TY_F64;
        ty_tensor *x = tu_uniform(2, (int64_t[]){8, 9}, dt, -1, 1, 5);
        ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
        ty_generator gen;
        ty_generator_init(&gen, 99);
        ty_tensor *mask = NULL;
        ty_tensor *y = ty_dropout(x, 0.4, true, &gen, &mask);
        ck_assert_ptr_nonnull(y);
        ck_assert_str_eq(y->grad_fn->name, "dropout");
        ty_tensor *g = tu_randn(2, (int64_t[]){8, 9}, dt, 6);
        for (int cg = 0; cg < 2; cg++) {
            ty_tensor *gx = grad_of(y, g, x, cg);
            ck_assert_int_eq(gx->dtype, dt);
            ty_tensor *want = ty_dropout_apply_mask(g, mask, 0.4);
            tu_assert_close(gx, want, 0, 0);
            for (int64_t i = 0; i < 72; i++) {
                double gi = ty_get_flat(g, i), kept = ty_get_flat(mask, i);
                double scale = 1.0 / (1.0 - 0.4);
                double w = kept ? (f32 ? (double)(float)(gi * scale) : gi * scale) : 0;
                ck_assert_double_eq(ty_get_flat(gx, i), w);
            }
            ty_tensor_release(want);
            ty_tensor_release(gx);
        }
        ty_tensor_release(g);
        ty_tensor_release(y);
        ty_tensor_release(mask);
        ty_tensor_release(x);
    }
    /* eval mode and p = 0 return x itself: no node, x's own history */
    ty_tensor *x = leaf(1, (int64_t[]){4}, -1, 1, 7, 0);
    ty_tensor *y = ty_dropout(x, 0.5, false, NULL, NULL);
    ck_assert_ptr_eq(y, x);
    ty_tensor_release(y);
    y = ty_dropout(x, 0, true, NULL, NULL);
    ck_assert_ptr_eq(y, x);
    ty_tensor_release(y);
    ty_tensor_release(x);
}
END_TEST

/* ---- suite ---- */

static Suite *grad_elementwise_suite(void) {
    Suite *s = suite_create("grad_elementwise");
    TCase *tc = tcase_create("unary");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_loop_test(tc, test_unary_gradcheck, 0, N_UNARY);
    tcase_add_test(tc, test_unary_fused_matches_composed);
    tcase_add_test(tc, test_unary_ties_and_edges);
    tcase_add_test(tc, test_unary_node_names_and_dtypes);
    suite_add_tcase(s, tc);

    tc = tcase_create("binary");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_loop_test(tc, test_binary_gradcheck, 0, N_BINARY);
    tcase_add_test(tc, test_binary_ties_and_edges);
    tcase_add_test(tc, test_binary_mixed_dtypes);
    tcase_add_loop_test(tc, test_scalar_gradcheck, 0, N_SCALAR);
    tcase_add_test(tc, test_where_gradcheck);
    tcase_add_test(tc, test_lerp_gradcheck);
    tcase_add_test(tc, test_second_derivatives_exact);
    suite_add_tcase(s, tc);

    tc = tcase_create("inplace");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_loop_test(tc, test_inplace_unary_gradcheck, 0, N_INPLACE_UNARY);
    tcase_add_test(tc, test_inplace_binary_gradcheck);
    tcase_add_test(tc, test_fused_inplace_gradcheck);
    tcase_add_test(tc, test_inplace_errors);
    tcase_add_test(tc, test_inplace_chain_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("dropout");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_dropout_gradcheck);
    tcase_add_test(tc, test_dropout_uses_the_mask);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(grad_elementwise_suite());
}
