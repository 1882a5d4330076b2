/* The autograd engine itself: recording, the backward walk, accumulation,
 * modes, version checks, freed graphs, higher order, ty_grad and the
 * gradient checker.
 *
 * So that these tests do not depend on the backward of any library op, they
 * use three tiny ops of their own (scale, mul, sum) recorded with
 * ty_record, whose backward functions are written with the same three ops
 * and are therefore differentiable to any order. */
#include <string.h>

#include "testutil.h"

static ty_tensor *t_scale(ty_tensor *x, double a);
static ty_tensor *t_mul(ty_tensor *a, ty_tensor *b);
static ty_tensor *t_sum(ty_tensor *x);

/* d[0] = a */
static int scale_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = t_scale(g[0], n->d[0]);
    return gi[0] ? 0 : -1;
}

static ty_tensor *t_scale(ty_tensor *x, double a) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = ty_axpb(x, a, 0);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_node *n = ty_record("scale", scale_backward, 1, &x, 1, &out);
    if (n) n->d[0] = a;
    return out;
}

/* saved: 0 = a, 1 = b */
static int mul_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    for (int k = 0; k < 2; k++) {
        if (!ty_node_needs_grad(n, k)) continue;
        ty_tensor *other = ty_saved(n, 1 - k);
        if (!other) return -1;
        ty_tensor *p = t_mul(g[0], other);
        ty_tensor_release(other);
        if (!p) return -1;
        gi[k] = ty_sum_to(p, n->input_meta[k].ndim, n->input_meta[k].shape);
        ty_tensor_release(p);
        if (!gi[k]) return -1;
    }
    return 0;
}

static ty_tensor *t_mul(ty_tensor *a, ty_tensor *b) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = ty_mul(a, b);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_node *n = ty_record("mul", mul_backward, 2, (ty_tensor *[]){a, b}, 1, &out);
    if (n) {
        ty_save(n, 0, a);
        ty_save(n, 1, b);
    }
    return out;
}

/* The gradient of a full sum is g broadcast to the input's shape, made with
 * t_mul against ones so that it stays differentiable. */
static int sum_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *ones =
        ty_ones(n->input_meta[0].ndim, n->input_meta[0].shape, n->input_meta[0].dtype, ty_cpu());
    if (!ones) return -1;
    gi[0] = t_mul(ones, g[0]);
    ty_tensor_release(ones);
    return gi[0] ? 0 : -1;
}

static ty_tensor *t_sum(ty_tensor *x) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = ty_sum(x, 0, NULL, false);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_record("sum", sum_backward, 1, &x, 1, &out);
    return out;
}

static ty_tensor *leaf(const double *v, int64_t n, ty_dtype dt) {
    ty_tensor *t = ty_from_buffer(v, 1, &n, TY_F64);
    if (dt != TY_F64) {
        ty_tensor *c = ty_cast(t, dt);
        ty_tensor_release(t);
        t = c;
    }
    ck_assert_int_eq(ty_set_requires_grad(t, true), 0);
    return t;
}

/* loss = sum(3 * x * x): d/dx = 6x */
static ty_tensor *cubic_loss(ty_tensor *x) {
    ty_tensor *s = t_scale(x, 3.0);
    ty_tensor *p = t_mul(s, x);
    ty_tensor *l = t_sum(p);
    ty_tensor_release(s);
    ty_tensor_release(p);
    return l;
}

START_TEST(test_backward_accumulates_into_leaves) {
    const double xv[3] = {1, -2, 0.5};
    ty_tensor *x = leaf(xv, 3, TY_F64);
    ty_tensor *l = cubic_loss(x);
    ck_assert(l->requires_grad && l->grad_fn && !ty_is_leaf(l));
    ck_assert_str_eq(l->grad_fn->name, "sum");
    ck_assert_int_eq(ty_backward(l, NULL, true, false), 0);
    tu_assert_values(x->grad, ((double[]){6, -12, 3}), 3, 1e-12);
    /* a second pass (graph retained) adds into .grad */
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){12, -24, 6}), 3, 1e-12);
    /* now the graph is freed: a third pass is an error, nothing changes */
    tu_assert_error(ty_backward(l, NULL, false, false) < 0, "backward", "second time",
                    "retain_graph");
    tu_assert_values(x->grad, ((double[]){12, -24, 6}), 3, 1e-12);
    ty_zero_grad(x);
    ck_assert_ptr_null(x->grad);
    ty_tensor_release(l);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_grad_of_shared_subexpression) {
    /* y = 2x is used twice: z = y * y, dz/dx = 8x. Gradients from both
     * uses must be summed before y's node runs. */
    const double xv[2] = {1.5, -1};
    ty_tensor *x = leaf(xv, 2, TY_F64);
    ty_tensor *y = t_scale(x, 2.0);
    ty_tensor *z = t_mul(y, y);
    ty_tensor *l = t_sum(z);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){12, -8}), 2, 1e-12);
    ty_tensor_release(l);
    ty_tensor_release(z);
    ty_tensor_release(y);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_explicit_gradient_and_dtype_cast) {
    /* an f32 leaf used by an op that computes in f64: the gradient that
     * reaches the leaf is converted back to f32 */
    const double xv[2] = {1, 2};
    ty_tensor *x = leaf(xv, 2, TY_F32);
    ty_tensor *c = ty_from_buffer((double[]){3, 4}, 1, (int64_t[]){2}, TY_F64);
    ty_tensor *y = t_mul(x, c);
    ck_assert_int_eq(y->dtype, TY_F64);
    ty_tensor *g = ty_from_buffer((double[]){1, 10}, 1, (int64_t[]){2}, TY_F64);
    ck_assert_int_eq(ty_backward(y, g, false, false), 0);
    ck_assert_int_eq(x->grad->dtype, TY_F32);
    tu_assert_values(x->grad, ((double[]){3, 40}), 2, 1e-6);
    /* the gradient given by the caller was copied, not adopted */
    ck_assert_ptr_ne(x->grad, g);
    tu_assert_values(g, ((double[]){1, 10}), 2, 0);
    ty_tensor_release(g);
    ty_tensor_release(y);
    ty_tensor_release(c);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_bad_backward_calls) {
    const double xv[3] = {1, 2, 3};
    ty_tensor *plain = ty_from_buffer(xv, 1, (int64_t[]){3}, TY_F64);
    tu_assert_error(ty_backward(plain, NULL, false, false) < 0, "backward",
                    "does not require grad");
    ty_tensor *x = leaf(xv, 3, TY_F64);
    ty_tensor *y = t_scale(x, 2.0);
    tu_assert_error(ty_backward(y, NULL, false, false) < 0, "backward", "(3)", "gradient argument");
    ty_tensor *g = ty_ones(1, (int64_t[]){4}, TY_F64, ty_cpu());
    tu_assert_error(ty_backward(y, g, false, false) < 0, "backward", "(4)", "(3)");
    ck_assert_ptr_null(x->grad);
    /* the graph is intact after the failures */
    ty_tensor *g3 = ty_ones(1, (int64_t[]){3}, TY_F64, ty_cpu());
    ck_assert_int_eq(ty_backward(y, g3, false, false), 0);
    tu_assert_values(x->grad, ((double[]){2, 2, 2}), 3, 0);
    /* requires_grad rules */
    ty_tensor *i = ty_zeros(1, (int64_t[]){2}, TY_I64, ty_cpu());
    tu_assert_error(ty_set_requires_grad(i, true) < 0, "requires_grad", "float", "i64");
    tu_assert_error(ty_set_requires_grad(y, false) < 0, "requires_grad", "non-leaf", "scale");
    ty_tensor_release(i);
    ty_tensor_release(g3);
    ty_tensor_release(g);
    ty_tensor_release(y);
    ty_tensor_release(x);
    ty_tensor_release(plain);
}
END_TEST

START_TEST(test_no_grad_and_detach) {
    const double xv[2] = {1, 2};
    ty_tensor *x = leaf(xv, 2, TY_F64);
    bool prev = ty_set_grad_enabled(false);
    ck_assert(prev);
    ty_tensor *y = t_scale(x, 2.0);
    ck_assert(!ty_set_grad_enabled(prev));
    ck_assert(!y->requires_grad && y->grad_fn == NULL);
    ty_tensor *d = ty_detach(x);
    ck_assert(!d->requires_grad && d->grad_fn == NULL);
    ck_assert_ptr_eq(d->storage, x->storage);
    ty_tensor *z = t_mul(d, x); /* only x's side records a gradient */
    ty_tensor *l = t_sum(z);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    tu_assert_values(x->grad, xv, 2, 0);
    ck_assert_ptr_null(d->grad);
    ty_tensor_release(l);
    ty_tensor_release(z);
    ty_tensor_release(d);
    ty_tensor_release(y);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_inplace_modification_of_saved_tensor) {
    const double xv[2] = {1, 2};
    ty_tensor *x = leaf(xv, 2, TY_F64);
    ty_tensor *y = t_scale(x, 1.0);
    ty_tensor *z = t_mul(y, y); /* saves y */
    bool prev = ty_set_grad_enabled(false);
    ck_assert_int_eq(ty_fill_(y, 5), 0);
    ty_set_grad_enabled(prev);
    ty_tensor *l = t_sum(z);
    tu_assert_error(ty_backward(l, NULL, false, false) < 0, "mul", "(2)",
                    "modified by an in-place operation", "version");
    ck_assert_ptr_null(x->grad);
    ty_tensor_release(l);
    ty_tensor_release(z);
    ty_tensor_release(y);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_inplace_commit_rewrites_history) {
    const double xv[2] = {1, 2};
    ty_tensor *x = leaf(xv, 2, TY_F64);
    /* a leaf that requires grad cannot be overwritten */
    ty_tensor *r = t_scale(x, 3.0);
    tu_assert_error(ty_inplace_commit("mul_", x, r) < 0, "mul_", "leaf");
    tu_assert_values(x, xv, 2, 0);
    /* a non-leaf can: y = 2x, then y *= 3 in place; dy/dx = 6 */
    ty_tensor *y = t_scale(x, 2.0);
    ck_assert(ty_inplace_needs_grad(y, 0, NULL));
    ck_assert_int_eq(ty_inplace_commit("mul_", y, t_scale(y, 3.0)), 0);
    tu_assert_values(y, ((double[]){6, 12}), 2, 0);
    ty_tensor *l = t_sum(y);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){6, 6}), 2, 0);
    /* a view shares memory: refused */
    ty_tensor *y2 = t_scale(x, 2.0);
    ty_tensor *v = ty_alias(y2);
    tu_assert_error(ty_inplace_commit("add_", y2, t_scale(y2, 1.0)) < 0, "add_", "shares memory");
    ty_tensor_release(v);
    ty_tensor_release(y2);
    ty_tensor_release(l);
    ty_tensor_release(y);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_long_chain_has_no_recursion) {
    /* 100,000 nodes: backward and freeing must both be iterative */
    const double xv[1] = {1};
    ty_tensor *x = leaf(xv, 1, TY_F64);
    ty_tensor *y = ty_tensor_retain(x);
    for (int i = 0; i < 100000; i++) {
        ty_tensor *next = t_scale(y, (i % 2) ? 0.5 : 2.0);
        ck_assert_ptr_nonnull(next);
        ty_tensor_release(y);
        y = next;
    }
    ck_assert_int_eq(ty_backward(y, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){1}), 1, 1e-12);
    ty_tensor_release(y);
    /* a chain freed without ever running backward */
    y = ty_tensor_retain(x);
    for (int i = 0; i < 100000; i++) {
        ty_tensor *next = t_scale(y, 1.0);
        ty_tensor_release(y);
        y = next;
    }
    ty_tensor_release(y);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_grad_returns_without_touching_dot_grad) {
    const double xv[2] = {1, 3}, wv[2] = {2, -1};
    ty_tensor *x = leaf(xv, 2, TY_F64);
    ty_tensor *w = leaf(wv, 2, TY_F64);
    ty_tensor *u = leaf(wv, 2, TY_F64); /* unused */
    ty_tensor *h = t_mul(x, w);         /* a non-leaf input */
    ty_tensor *hh = t_mul(h, h);
    ty_tensor *l = t_sum(hh);
    ty_tensor_release(hh);
    ty_tensor *grads[3];
    ck_assert_int_eq(ty_grad(1, &l, NULL, 3, (ty_tensor *[]){x, h, u}, true, false, true, grads),
                     0);
    /* l = sum((xw)^2): dl/dx = 2 x w^2, dl/dh = 2h */
    tu_assert_values(grads[0], ((double[]){8, 6}), 2, 1e-12);
    tu_assert_values(grads[1], ((double[]){4, -6}), 2, 1e-12);
    ck_assert_ptr_null(grads[2]);
    ck_assert_ptr_null(x->grad);
    ck_assert_ptr_null(w->grad);
    for (int k = 0; k < 3; k++) ty_tensor_release(grads[k]);
    tu_assert_error(ty_grad(1, &l, NULL, 3, (ty_tensor *[]){x, h, u}, true, false, false, grads) <
                        0,
                    "grad", "input 2", "not used");
    for (int k = 0; k < 3; k++) ck_assert_ptr_null(grads[k]);
    ty_tensor_release(l);
    ty_tensor_release(h);
    ty_tensor_release(u);
    ty_tensor_release(w);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_create_graph_second_derivative) {
    /* f = sum(x^3) through mul: f' = 3x^2, f'' = 6x */
    const double xv[3] = {1, -2, 0.5};
    ty_tensor *x = leaf(xv, 3, TY_F64);
    ty_tensor *x2 = t_mul(x, x);
    ty_tensor *x3 = t_mul(x2, x);
    ty_tensor *f = t_sum(x3);
    ty_tensor *g;
    ck_assert_int_eq(ty_grad(1, &f, NULL, 1, &x, false, true, false, &g), 0);
    tu_assert_values(g, ((double[]){3, 12, 0.75}), 3, 1e-12);
    ck_assert(g->requires_grad && g->grad_fn);
    ty_tensor *gs = t_sum(g);
    ck_assert_int_eq(ty_backward(gs, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){6, -12, 3}), 3, 1e-12);
    ty_tensor_release(gs);
    ty_tensor_release(g);
    ty_tensor_release(f);
    ty_tensor_release(x3);
    ty_tensor_release(x2);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_backward_create_graph_leaves_differentiable_grad) {
    const double xv[2] = {2, 3};
    ty_tensor *x = leaf(xv, 2, TY_F64);
    ty_tensor *x2 = t_mul(x, x);
    ty_tensor *f = t_sum(x2);
    ck_assert_int_eq(ty_backward(f, NULL, false, true), 0);
    tu_assert_values(x->grad, ((double[]){4, 6}), 2, 0);
    ck_assert(x->grad->grad_fn != NULL);
    ty_tensor *g = ty_tensor_retain(x->grad);
    ty_zero_grad(x);
    ty_tensor *gs = t_sum(g);
    ck_assert_int_eq(ty_backward(gs, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){2, 2}), 2, 0);
    ty_tensor_release(gs);
    ty_tensor_release(g);
    ty_tensor_release(f);
    ty_tensor_release(x2);
    ty_tensor_release(x);
}
END_TEST

static ty_tensor *gc_mul(void *ctx, int n, ty_tensor *const *in) {
    (void)ctx;
    (void)n;
    ty_tensor *p = t_mul(in[0], in[1]);
    ty_tensor *q = p ? t_mul(p, in[0]) : NULL;
    ty_tensor_release(p);
    return q;
}

/* A deliberately wrong backward: the gradient is off by a factor 1.5. */
static int wrong_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    (void)n;
    gi[0] = t_scale(g[0], 1.5);
    return gi[0] ? 0 : -1;
}

static ty_tensor *gc_wrong(void *ctx, int n, ty_tensor *const *in) {
    (void)ctx;
    (void)n;
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = ty_axpb(in[0], 1.0, 0);
    ty_set_grad_enabled(prev);
    ty_record("wrong", wrong_backward, 1, in, 1, &out);
    return out;
}

/* Right first derivative, but computed without history, so its own
 * derivative is lost: gradgradcheck must notice. */
static int flat_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *x = ty_saved(n, 0);
    if (!x) return -1;
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *two_x = ty_axpb(x, 2.0, 0);
    ty_set_grad_enabled(prev);
    gi[0] = t_mul(g[0], two_x);
    ty_tensor_release(two_x);
    ty_tensor_release(x);
    return gi[0] ? 0 : -1;
}

static ty_tensor *gc_flat_square(void *ctx, int n, ty_tensor *const *in) {
    (void)ctx;
    (void)n;
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = ty_mul(in[0], in[0]);
    ty_set_grad_enabled(prev);
    ty_node *node = ty_record("flat_square", flat_backward, 1, in, 1, &out);
    if (node) ty_save(node, 0, in[0]);
    return out;
}

START_TEST(test_gradcheck_passes_and_fails) {
    int64_t s[2] = {3, 4};
    ty_tensor *a = tu_randn(2, s, TY_F64, 1), *b = tu_randn(2, s, TY_F64, 2);
    ty_tensor *an = tu_noncontiguous(a); /* a non-contiguous input */
    ty_set_requires_grad(an, true);
    ty_set_requires_grad(b, true);
    ty_gradcheck_report rep;
    ck_assert_int_eq(ty_gradcheck(gc_mul, NULL, 2, (ty_tensor *[]){an, b}, 1e-6, 1e-6, 1e-4, &rep),
                     1);
    ck_assert(rep.max_abs_err < 1e-6);
    ck_assert_int_eq(
        ty_gradgradcheck(gc_mul, NULL, 2, (ty_tensor *[]){an, b}, 1e-6, 1e-5, 1e-3, &rep), 1);

    ck_assert_int_eq(ty_gradcheck(gc_wrong, NULL, 1, &b, 1e-6, 1e-6, 1e-4, &rep), 0);
    ck_assert(strstr(rep.message, "input 0") != NULL);
    ck_assert(rep.analytic / rep.numeric > 1.49 && rep.analytic / rep.numeric < 1.51);

    ck_assert_int_eq(ty_gradcheck(gc_flat_square, NULL, 1, &b, 1e-6, 1e-6, 1e-4, &rep), 1);
    ck_assert_int_eq(ty_gradgradcheck(gc_flat_square, NULL, 1, &b, 1e-6, 1e-6, 1e-4, &rep), 0);

    /* bad inputs */
    ty_tensor *f = ty_cast(b, TY_F32);
    ty_set_requires_grad(f, true);
    tu_assert_error(ty_gradcheck(gc_wrong, NULL, 1, &f, 1e-6, 1e-6, 1e-4, &rep) < 0, "gradcheck",
                    "f32", "f64");
    ty_tensor *plain = ty_detach(b);
    tu_assert_error(ty_gradcheck(gc_wrong, NULL, 1, &plain, 1e-6, 1e-6, 1e-4, &rep) < 0,
                    "gradcheck", "no input requires grad");
    ty_tensor_release(plain);
    ty_tensor_release(f);
    ty_tensor_release(an);
    ty_tensor_release(a);
    ty_tensor_release(b);
}
END_TEST

START_TEST(test_leaf_root_and_no_leak_of_graph) {
    const double xv[1] = {4};
    ty_tensor *x = leaf(xv, 1, TY_F64);
    ck_assert_int_eq(ty_backward(x, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){1}), 1, 0);
    ty_zero_grad(x);
    /* the graph holds its inputs alive; dropping the output frees it all */
    int64_t before = ty_live_tensors();
    for (int i = 0; i < 100; i++) {
        ty_tensor *l = cubic_loss(x);
        ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
        ty_tensor_release(l);
    }
    ck_assert_int_eq(ty_live_tensors(), before + 1); /* x->grad */
    tu_assert_values(x->grad, ((double[]){2400}), 1, 1e-9);
    ty_tensor_release(x);
}
END_TEST

static Suite *autograd_suite(void) {
    Suite *s = suite_create("autograd");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_backward_accumulates_into_leaves);
    tcase_add_test(tc, test_grad_of_shared_subexpression);
    tcase_add_test(tc, test_explicit_gradient_and_dtype_cast);
    tcase_add_test(tc, test_bad_backward_calls);
    tcase_add_test(tc, test_no_grad_and_detach);
    tcase_add_test(tc, test_inplace_modification_of_saved_tensor);
    tcase_add_test(tc, test_inplace_commit_rewrites_history);
    tcase_add_test(tc, test_long_chain_has_no_recursion);
    tcase_add_test(tc, test_grad_returns_without_touching_dot_grad);
    tcase_add_test(tc, test_create_graph_second_derivative);
    tcase_add_test(tc, test_backward_create_graph_leaves_differentiable_grad);
    tcase_add_test(tc, test_gradcheck_passes_and_fails);
    tcase_add_test(tc, test_leaf_root_and_no_leak_of_graph);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(autograd_suite());
}
