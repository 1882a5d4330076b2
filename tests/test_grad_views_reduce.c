/* Backward passes of the views (reshape, transpose, slice, unfold, ...), the
 * copies and conversions (clone, contiguous, cast, copy_) and the
 * reductions and scans (sum, mean, var/std, prod, logsumexp, norm,
 * amax/amin, max/min, cumsum/cumprod).
 *
 * Every differentiable op goes through ty_gradcheck and ty_gradgradcheck in
 * f64 on random shapes, with contiguous, transposed-in-memory and strided
 * inputs. The gradgradcheck runs on the op's output squared (with einsum
 * "...,...->..."), so that the first-order gradient of the many ops that are
 * linear (views, sum, cumsum) depends on the input and the backward itself
 * is differentiated. The gradcheck runs on a copy of the output: gradcheck
 * perturbs the input in place, which a view would follow.
 *
 * Exact-value tests cover ties (max over all spreads evenly, max along a dim
 * picks the returned index), zeros (prod, cumprod, norm and std at 0),
 * overlapping unfold windows, views of views landing in the right places of
 * the base, and copy_ / cast under autograd. */
#include <string.h>

#include "testutil.h"

#define EPS 1e-6
#define ATOL 1e-5
#define RTOL 1e-3

typedef enum {
    V_RESHAPE,
    V_VIEW,
    V_TRANSPOSE,
    V_PERMUTE,
    V_SLICE,
    V_SELECT,
    V_NARROW,
    V_EXPAND,
    V_SQUEEZE,
    V_SQUEEZE_DIM,
    V_UNSQUEEZE,
    V_FLATTEN,
    V_UNFOLD,
    V_DIAGONAL,
    V_CLONE,
    V_CONTIGUOUS,
    V_CHAIN, /* transpose, slice with a step, unsqueeze, expand, sum */
    R_SUM,
    R_MEAN,
    R_VAR,
    R_STD,
    R_PROD,
    R_LOGSUMEXP,
    R_NORM,
    R_AMAX,
    R_AMIN,
    R_MAX_ALL,
    R_MIN_ALL,
    R_MAX_DIM,
    R_MIN_DIM,
    R_CUMSUM,
    R_CUMPROD,
} op_kind;

typedef struct {
    op_kind kind;
    int64_t a[TY_MAX_DIMS]; /* sizes, starts, steps, ... by kind */
    int na;
    int dims[TY_MAX_DIMS]; /* reduced dims, a permutation, ... */
    int nd;
    bool keepdim;
    double p; /* norm's p, var's correction */
    bool square;
} op_ctx;

static ty_tensor *f_raw(const op_ctx *c, ty_tensor *x) {
    ty_tensor *out = NULL;
    switch (c->kind) {
    case V_RESHAPE:
        return ty_reshape(x, c->na, c->a);
    case V_VIEW:
        return ty_view(x, c->na, c->a);
    case V_TRANSPOSE:
        return ty_transpose(x, c->dims[0], c->dims[1]);
    case V_PERMUTE:
        return ty_permute(x, c->dims);
    case V_SLICE:
        return ty_slice(x, c->dims[0], c->a[0], c->a[1], c->a[2]);
    case V_SELECT:
        return ty_select(x, c->dims[0], c->a[0]);
    case V_NARROW:
        return ty_narrow(x, c->dims[0], c->a[0], c->a[1]);
    case V_EXPAND:
        return ty_expand(x, c->na, c->a);
    case V_SQUEEZE:
        return ty_squeeze(x);
    case V_SQUEEZE_DIM:
        return ty_squeeze_dim(x, c->dims[0]);
    case V_UNSQUEEZE:
        return ty_unsqueeze(x, c->dims[0]);
    case V_FLATTEN:
        return ty_flatten(x, c->dims[0], c->dims[1]);
    case V_UNFOLD:
        return ty_unfold(x, c->dims[0], c->a[0], c->a[1]);
    case V_DIAGONAL:
        return ty_diagonal(x, c->a[0], c->dims[0], c->dims[1]);
    case V_CLONE:
        return ty_clone(x);
    case V_CONTIGUOUS:
        return ty_contiguous(x);
    case V_CHAIN: {
        ty_tensor *t = ty_transpose(x, 0, 1);
        ty_tensor *s = t ? ty_slice(t, 1, 1, 100, 2) : NULL;
        ty_tensor *u = s ? ty_unsqueeze(s, 0) : NULL;
        int64_t shape[TY_MAX_DIMS + 1];
        if (u) {
            for (int d = 0; d < u->ndim; d++) shape[d] = u->shape[d];
            shape[0] = 3;
        }
        ty_tensor *e = u ? ty_expand(u, u->ndim, shape) : NULL;
        out = e ? ty_sum(e, 1, (int[]){0}, false) : NULL;
        ty_tensor_release(t);
        ty_tensor_release(s);
        ty_tensor_release(u);
        ty_tensor_release(e);
        return out;
    }
    case R_SUM:
        return ty_sum(x, c->nd, c->dims, c->keepdim);
    case R_MEAN:
        return ty_mean(x, c->nd, c->dims, c->keepdim);
    case R_VAR:
        return ty_var(x, c->nd, c->dims, c->p, c->keepdim);
    case R_STD:
        return ty_std(x, c->nd, c->dims, c->p, c->keepdim);
    case R_PROD:
        return ty_prod(x, c->nd, c->dims, c->keepdim);
    case R_LOGSUMEXP:
        return ty_logsumexp(x, c->nd, c->dims, c->keepdim);
    case R_NORM:
        return ty_norm(x, c->p, c->nd, c->dims, c->keepdim);
    case R_AMAX:
        return ty_amax(x, c->nd, c->dims, c->keepdim);
    case R_AMIN:
        return ty_amin(x, c->nd, c->dims, c->keepdim);
    case R_MAX_ALL:
        return ty_max_all(x);
    case R_MIN_ALL:
        return ty_min_all(x);
    case R_MAX_DIM:
    case R_MIN_DIM: {
        ty_tensor *idx = NULL;
        int rc = c->kind == R_MAX_DIM ? ty_max_dim(x, c->dims[0], c->keepdim, &out, &idx)
                                      : ty_min_dim(x, c->dims[0], c->keepdim, &out, &idx);
        ty_tensor_release(idx);
        return rc == 0 ? out : NULL;
    }
    case R_CUMSUM:
        return ty_cumsum(x, c->dims[0]);
    case R_CUMPROD:
        return ty_cumprod(x, c->dims[0]);
    }
    return NULL;
}

static ty_tensor *f_op(void *vctx, int n, ty_tensor *const *in) {
    (void)n;
    const op_ctx *c = vctx;
    ty_tensor *out = f_raw(c, in[0]);
    if (!out) return NULL;
    ty_tensor *r =
        c->square ? ty_einsum("...,...->...", 2, (ty_tensor *[]){out, out}) : ty_clone(out);
    ty_tensor_release(out);
    return r;
}

/* gradcheck and gradgradcheck of c at x; `what` names the case. */
static void check_at(const char *what, op_ctx *c, ty_tensor *x) {
    ty_gradcheck_report rep;
    c->square = false;
    int r = ty_gradcheck(f_op, c, 1, &x, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "%s: gradcheck gave %d: %s %s", what, r, rep.message,
                  r < 0 ? ty_last_error() : "");
    c->square = true;
    r = ty_gradgradcheck(f_op, c, 1, &x, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "%s: gradgradcheck gave %d: %s %s", what, r, rep.message,
                  r < 0 ? ty_last_error() : "");
}

/* The three layouts of the same values: contiguous, transposed in memory,
 * and every other element of a bigger buffer. */
static ty_tensor *layout(ty_tensor *x, int variant) {
    ck_assert(!x->requires_grad); /* else the layouts below would have a history */
    ty_tensor *t = variant == 0 ? ty_clone(x) : variant == 1 ? tu_noncontiguous(x) : tu_strided(x);
    ck_assert_int_eq(ty_set_requires_grad(t, true), 0);
    return t;
}

/* Checks c on x in every layout (x needs >= 2 dims). */
static void check_layouts(int line, const char *name, op_ctx *c, ty_tensor *x) {
    for (int v = 0; v < 3; v++) {
        ty_tensor *t = layout(x, v);
        char what[128], shape[64];
        snprintf(what, sizeof what, "line %d, %s on %s (layout %d)", line, name,
                 ty_shape_str(x, shape, sizeof shape), v);
        check_at(what, c, t);
        ty_tensor_release(t);
    }
}

/* A deterministic 3-d shape with sizes in [2, 4]. */
static void random_shape(uint64_t *state, int64_t *shape) {
    for (int d = 0; d < 3; d++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        shape[d] = 2 + (int64_t)((*state >> 33) % 3);
    }
}

#define CHECK(name, ctx, x) check_layouts(__LINE__, name, ctx, x)

/* ---- views ---- */

START_TEST(test_views_random_shapes) {
    uint64_t state = 7;
    for (int trial = 0; trial < 3; trial++) {
        int64_t s[3];
        random_shape(&state, s);
        ty_tensor *x = tu_randn(3, s, TY_F64, 100 + (uint64_t)trial);
        op_ctx c = {.kind = V_RESHAPE, .a = {-1, s[2]}, .na = 2};
        CHECK("reshape", &c, x);
        c = (op_ctx){.kind = V_RESHAPE, .a = {s[0] * s[1] * s[2]}, .na = 1};
        CHECK("reshape to 1-d", &c, x);
        /* a view inserting a size-1 dim works on every layout */
        c = (op_ctx){.kind = V_VIEW, .a = {s[0], s[1], 1, s[2]}, .na = 4};
        CHECK("view", &c, x);
        c = (op_ctx){.kind = V_TRANSPOSE, .dims = {0, 2}};
        CHECK("transpose", &c, x);
        c = (op_ctx){.kind = V_TRANSPOSE, .dims = {-1, 1}};
        CHECK("transpose", &c, x);
        c = (op_ctx){.kind = V_PERMUTE, .dims = {2, 0, 1}};
        CHECK("permute", &c, x);
        c = (op_ctx){.kind = V_SLICE, .dims = {1}, .a = {1, 100, 2}};
        CHECK("slice step 2", &c, x);
        c = (op_ctx){.kind = V_SLICE, .dims = {-1}, .a = {-2, -1, 1}};
        CHECK("slice negative", &c, x);
        c = (op_ctx){.kind = V_SLICE, .dims = {0}, .a = {0, 100, 3}};
        CHECK("slice step 3", &c, x);
        c = (op_ctx){.kind = V_SELECT, .dims = {1}, .a = {-1}};
        CHECK("select", &c, x);
        c = (op_ctx){.kind = V_SELECT, .dims = {0}, .a = {1}};
        CHECK("select", &c, x);
        c = (op_ctx){.kind = V_NARROW, .dims = {2}, .a = {1, s[2] - 1}};
        CHECK("narrow", &c, x);
        c = (op_ctx){.kind = V_UNSQUEEZE, .dims = {-1}};
        CHECK("unsqueeze", &c, x);
        c = (op_ctx){.kind = V_UNSQUEEZE, .dims = {0}};
        CHECK("unsqueeze", &c, x);
        c = (op_ctx){.kind = V_FLATTEN, .dims = {1, 2}};
        CHECK("flatten", &c, x);
        c = (op_ctx){.kind = V_FLATTEN, .dims = {0, -1}};
        CHECK("flatten", &c, x);
        c = (op_ctx){.kind = V_UNFOLD, .dims = {1}, .a = {2, 1}};
        CHECK("unfold overlapping", &c, x);
        c = (op_ctx){.kind = V_UNFOLD, .dims = {2}, .a = {s[2], 1}};
        CHECK("unfold one window", &c, x);
        c = (op_ctx){.kind = V_UNFOLD, .dims = {0}, .a = {1, 2}};
        CHECK("unfold with gaps", &c, x);
        c = (op_ctx){.kind = V_UNFOLD, .dims = {-1}, .a = {2, 2}};
        CHECK("unfold disjoint", &c, x);
        c = (op_ctx){.kind = V_DIAGONAL, .a = {0}, .dims = {0, 1}};
        CHECK("diagonal", &c, x);
        c = (op_ctx){.kind = V_DIAGONAL, .a = {1}, .dims = {0, 2}};
        CHECK("diagonal above", &c, x);
        c = (op_ctx){.kind = V_DIAGONAL, .a = {-1}, .dims = {2, 1}};
        CHECK("diagonal below", &c, x);
        c = (op_ctx){.kind = V_CLONE};
        CHECK("clone", &c, x);
        c = (op_ctx){.kind = V_CONTIGUOUS};
        CHECK("contiguous", &c, x);
        c = (op_ctx){.kind = V_CHAIN};
        CHECK("transpose/slice/unsqueeze/expand/sum", &c, x);
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_views_size_one_dims) {
    /* expand and squeeze need size-1 dims */
    ty_tensor *x = tu_randn(3, (int64_t[]){3, 1, 4}, TY_F64, 5);
    op_ctx c = {.kind = V_EXPAND, .a = {2, 3, 5, 4}, .na = 4};
    CHECK("expand", &c, x);
    c = (op_ctx){.kind = V_EXPAND, .a = {-1, 2, -1}, .na = 3};
    CHECK("expand", &c, x);
    c = (op_ctx){.kind = V_SQUEEZE};
    CHECK("squeeze", &c, x);
    c = (op_ctx){.kind = V_SQUEEZE_DIM, .dims = {1}};
    CHECK("squeeze_dim", &c, x);
    c = (op_ctx){.kind = V_SQUEEZE_DIM, .dims = {0}}; /* not size 1: the same shape */
    CHECK("squeeze_dim no-op", &c, x);
    ty_tensor_release(x);

    /* broadcasting a (3,1) input against (4,) through expand */
    ty_tensor *b = tu_randn(2, (int64_t[]){3, 1}, TY_F64, 6);
    c = (op_ctx){.kind = V_EXPAND, .a = {3, 4}, .na = 2};
    CHECK("expand (3,1) to (3,4)", &c, b);
    ty_tensor_release(b);

    /* a 1-d input and a 0-d one */
    ty_tensor *v = tu_randn(1, (int64_t[]){5}, TY_F64, 7);
    ck_assert_int_eq(ty_set_requires_grad(v, true), 0);
    c = (op_ctx){.kind = V_UNFOLD, .dims = {0}, .a = {3, 1}};
    check_at("unfold 1-d", &c, v);
    c = (op_ctx){.kind = V_SLICE, .dims = {0}, .a = {4, 0, 1}}; /* empty */
    check_at("empty slice", &c, v);
    ty_tensor *s = ty_scalar(0.7, TY_F64);
    ck_assert_int_eq(ty_set_requires_grad(s, true), 0);
    c = (op_ctx){.kind = V_UNSQUEEZE, .dims = {0}};
    check_at("unsqueeze 0-d", &c, s);
    c = (op_ctx){.kind = V_EXPAND, .a = {2, 3}, .na = 2};
    check_at("expand 0-d", &c, s);
    c = (op_ctx){.kind = V_RESHAPE, .a = {1, 1}, .na = 2};
    check_at("reshape 0-d", &c, s);
    ty_tensor_release(v);
    ty_tensor_release(s);
}
END_TEST

/* x (rows, cols) with values 0, 1, 2, ... requiring grad. */
static ty_tensor *arange_leaf(int ndim, const int64_t *shape) {
    ty_tensor *x = tu_arange(ndim, shape, TY_F64);
    ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
    return x;
}

/* Backward of the sum of t, then releases t. */
static void backward_sum(ty_tensor *t) {
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    ty_tensor *s = ty_sum(t, 0, NULL, false);
    ck_assert_msg(s != NULL, "%s", ty_last_error());
    ck_assert_msg(ty_backward(s, NULL, false, false) == 0, "%s", ty_last_error());
    ty_tensor_release(s);
    ty_tensor_release(t);
}

START_TEST(test_view_gradients_land_in_place) {
    /* x (3,4): x.T is (4,3); rows 1 and 3 of x.T are columns 1 and 3 of x */
    ty_tensor *x = arange_leaf(2, (int64_t[]){3, 4});
    ty_tensor *t = ty_transpose(x, 0, 1);
    ck_assert_ptr_nonnull(t->grad_fn);
    ck_assert_str_eq(t->grad_fn->name, "transpose");
    ty_tensor *s = ty_slice(t, 0, 1, 4, 2);
    ck_assert_str_eq(s->grad_fn->name, "slice");
    ck_assert(s->storage == x->storage); /* still a view */
    ty_tensor_release(t);
    backward_sum(s);
    tu_assert_values(x->grad, ((double[]){0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}), 12, 0);
    ty_zero_grad(x);

    /* select of a slice of a transposed view, weighted by its own values */
    t = ty_transpose(x, 0, 1);
    s = ty_slice(t, 1, 0, 3, 2);        /* (4,2): x[0,:] and x[2,:] as columns */
    ty_tensor *r = ty_select(s, 0, -1); /* x[0,3], x[2,3] */
    ty_tensor_release(t);
    ty_tensor_release(s);
    backward_sum(r);
    tu_assert_values(x->grad, ((double[]){0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}), 12, 0);
    ty_zero_grad(x);

    /* diagonal with an offset, and narrow */
    r = ty_diagonal(x, 1, 0, 1); /* x[0,1], x[1,2], x[2,3] */
    backward_sum(r);
    tu_assert_values(x->grad, ((double[]){0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}), 12, 0);
    ty_zero_grad(x);
    r = ty_narrow(x, 1, 1, 2);
    backward_sum(r);
    tu_assert_values(x->grad, ((double[]){0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0}), 12, 0);
    ty_tensor_release(x);

    /* overlapping unfold windows add up: windows of 3 every 1 over 5 */
    ty_tensor *v = arange_leaf(1, (int64_t[]){5});
    r = ty_unfold(v, 0, 3, 1);
    ck_assert_str_eq(r->grad_fn->name, "unfold");
    backward_sum(r);
    tu_assert_values(v->grad, ((double[]){1, 2, 3, 2, 1}), 5, 0);
    ty_zero_grad(v);
    /* windows of 2 every 3 skip element 2 */
    r = ty_unfold(v, 0, 2, 3);
    backward_sum(r);
    tu_assert_values(v->grad, ((double[]){1, 1, 0, 1, 1}), 5, 0);
    ty_tensor_release(v);

    /* the same in f32 and bf16 (the scatter's other kernels) */
    const ty_dtype dts[2] = {TY_F32, TY_BF16};
    for (int k = 0; k < 2; k++) {
        ty_tensor *a = tu_arange(1, (int64_t[]){5}, dts[k]);
        ck_assert_int_eq(ty_set_requires_grad(a, true), 0);
        ty_tensor *u = ty_unfold(a, 0, 3, 1), *uf = ty_cast(u, TY_F32);
        ty_tensor_release(u);
        backward_sum(uf);
        ck_assert_int_eq(a->grad->dtype, dts[k]);
        tu_assert_values(a->grad, ((double[]){1, 2, 3, 2, 1}), 5, 0);
        ty_tensor_release(a);
    }

    /* expand sums over the broadcast dims */
    ty_tensor *b = arange_leaf(2, (int64_t[]){3, 1});
    r = ty_expand(b, 3, (int64_t[]){2, 3, 4});
    backward_sum(r);
    tu_assert_values(b->grad, ((double[]){8, 8, 8}), 3, 0);
    ty_tensor_release(b);
}
END_TEST

START_TEST(test_views_record_and_detach) {
    ty_tensor *x = arange_leaf(2, (int64_t[]){2, 3});
    ty_tensor *views[] = {
        ty_reshape(x, 1, (int64_t[]){6}),
        ty_view(x, 2, (int64_t[]){3, 2}),
        ty_transpose(x, 0, 1),
        ty_permute(x, (int[]){1, 0}),
        ty_slice(x, 1, 0, 3, 2),
        ty_select(x, 0, 1),
        ty_narrow(x, 1, 1, 1),
        ty_expand(x, 3, (int64_t[]){2, 2, 3}),
        ty_squeeze(x),
        ty_squeeze_dim(x, 0),
        ty_unsqueeze(x, 1),
        ty_flatten(x, 0, 1),
        ty_unfold(x, 1, 2, 1),
        ty_diagonal(x, 0, 0, 1),
    };
    int nv = (int)(sizeof views / sizeof *views);
    for (int k = 0; k < nv; k++) {
        ck_assert_msg(views[k] != NULL, "view %d: %s", k, ty_last_error());
        /* a new struct with its own history, even where nothing moved */
        ck_assert_msg(views[k] != x && views[k]->grad_fn != NULL && views[k]->requires_grad,
                      "view %d has no history", k);
        ck_assert(views[k]->storage == x->storage);
    }
    /* detach (an alias) has none */
    ty_tensor *d = ty_detach(views[2]);
    ck_assert_ptr_null(d->grad_fn);
    ck_assert(!d->requires_grad);
    ck_assert(d->storage == x->storage);
    ty_tensor *al = ty_alias(x);
    ck_assert_ptr_null(al->grad_fn);
    ck_assert(!al->requires_grad);
    /* without grad mode, or without requires_grad, views record nothing */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *nt = ty_transpose(x, 0, 1);
    ty_set_grad_enabled(prev);
    ck_assert_ptr_null(nt->grad_fn);
    ty_tensor *ns = ty_slice(d, 0, 0, 1, 1);
    ck_assert_ptr_null(ns->grad_fn);
    /* contiguous of a contiguous tensor is the tensor itself: no node */
    ty_tensor *same = ty_contiguous(x);
    ck_assert_ptr_eq(same, x);
    ty_tensor *moved = ty_to_device(x, ty_cpu());
    ck_assert_ptr_eq(moved, x);
    ty_tensor *objs[] = {d, al, nt, ns, same, moved};
    for (int k = 0; k < 6; k++) ty_tensor_release(objs[k]);
    for (int k = 0; k < nv; k++) ty_tensor_release(views[k]);
    ty_tensor_release(x);
}
END_TEST

/* ---- copies and conversions ---- */

START_TEST(test_cast_and_clone) {
    /* f32 leaf -> f64: the gradient comes back as f32 */
    ty_tensor *x64 = tu_randn(1, (int64_t[]){4}, TY_F64, 3);
    ty_tensor *x = ty_cast(x64, TY_F32);
    ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
    ty_tensor *y = ty_cast(x, TY_F64);
    ck_assert_str_eq(y->grad_fn->name, "cast");
    ty_tensor *w = tu_arange(1, (int64_t[]){4}, TY_F64);
    ty_tensor *yw = ty_einsum("i,i->", 2, (ty_tensor *[]){y, w});
    ck_assert_int_eq(ty_backward(yw, NULL, false, false), 0);
    ck_assert_int_eq(x->grad->dtype, TY_F32);
    tu_assert_values(x->grad, ((double[]){0, 1, 2, 3}), 4, 0);
    /* casting to an integer type records nothing */
    ty_tensor *xi = ty_cast(x, TY_I64);
    ck_assert_ptr_null(xi->grad_fn);
    ck_assert(!xi->requires_grad);
    /* clone: a copy with history */
    ty_tensor *c = ty_clone(x);
    ck_assert(c->storage != x->storage);
    ck_assert_str_eq(c->grad_fn->name, "clone");
    ty_tensor *objs[] = {x64, x, y, w, yw, xi, c};
    for (int k = 0; k < 7; k++) ty_tensor_release(objs[k]);

    /* gradcheck of f64 -> f64 casts through f64 (a no-op) and of clone on
     * a non-contiguous input with gradgradcheck */
    ty_tensor *a = tu_randn(2, (int64_t[]){3, 4}, TY_F64, 4);
    op_ctx cc = {.kind = V_CONTIGUOUS};
    CHECK("contiguous", &cc, a);
    ty_tensor_release(a);
}
END_TEST

START_TEST(test_copy_under_autograd) {
    ty_tensor *a = tu_randn(2, (int64_t[]){2, 3}, TY_F64, 11);
    ty_tensor *b = tu_randn(1, (int64_t[]){3}, TY_F64, 12);
    ck_assert_int_eq(ty_set_requires_grad(a, true), 0);
    ck_assert_int_eq(ty_set_requires_grad(b, true), 0);

    /* y = clone(a); y.copy_(b) (broadcast): y now depends on b only */
    ty_tensor *y = ty_clone(a);
    ck_assert_int_eq(ty_copy_(y, b), 0);
    ck_assert_str_eq(y->grad_fn->name, "copy_");
    ty_tensor *w = tu_arange(2, (int64_t[]){2, 3}, TY_F64);
    ty_tensor *l = ty_einsum("ij,ij->", 2, (ty_tensor *[]){y, w});
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    tu_assert_values(b->grad, ((double[]){3, 5, 7}), 3, 0);
    ck_assert_ptr_null(a->grad); /* a's values were overwritten */
    ty_tensor_release(l);
    ty_tensor_release(y);
    ty_zero_grad(b);

    /* copying a constant into a non-leaf cuts its history */
    ty_tensor *k = ty_zeros(2, (int64_t[]){2, 3}, TY_F64, ty_cpu());
    y = ty_clone(a);
    ck_assert_int_eq(ty_copy_(y, k), 0);
    ck_assert(y->requires_grad);
    l = ty_sum(y, 0, NULL, false);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    ck_assert_ptr_null(a->grad);
    ty_tensor_release(l);

    /* a leaf that requires grad cannot be overwritten while recording */
    tu_assert_error(ty_copy_(a, k) < 0, "copy_", "leaf");
    /* nor can a view of a tensor in the graph */
    ty_tensor *v = ty_select(y, 0, 1);
    tu_assert_error(ty_copy_(v, b) < 0, "copy_", "shares memory");
    ty_tensor_release(v);

    /* without grad mode it is a plain copy, and history is kept as is */
    bool prev = ty_set_grad_enabled(false);
    ck_assert_int_eq(ty_copy_(a, k), 0);
    ty_set_grad_enabled(prev);
    ck_assert_ptr_null(a->grad_fn);
    tu_assert_values(a, ((double[]){0, 0, 0, 0, 0, 0}), 6, 0);

    /* gradcheck of copy_ into a fresh non-leaf, as a function of src */
    ty_tensor_release(y);
    ty_tensor *objs[] = {a, b, k, w};
    for (int i = 0; i < 4; i++) ty_tensor_release(objs[i]);
}
END_TEST

/* out = clone(base) with copy_(out, in[0]): the gradient is in[0]'s. */
static ty_tensor *f_copy(void *ctx, int n, ty_tensor *const *in) {
    (void)n;
    ty_tensor *base = ctx;
    ty_tensor *out = ty_clone(base);
    if (out && ty_copy_(out, in[0]) < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    ty_tensor *sq = out ? ty_einsum("...,...->...", 2, (ty_tensor *[]){out, out}) : NULL;
    ty_tensor_release(out);
    return sq;
}

START_TEST(test_copy_gradcheck) {
    ty_tensor *base = tu_randn(2, (int64_t[]){3, 4}, TY_F64, 21);
    ty_tensor *src = tu_randn(2, (int64_t[]){3, 1}, TY_F64, 22); /* broadcast */
    ck_assert_int_eq(ty_set_requires_grad(base, true), 0);
    ck_assert_int_eq(ty_set_requires_grad(src, true), 0);
    ty_gradcheck_report rep;
    int r = ty_gradcheck(f_copy, base, 1, &src, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "copy_: gradcheck gave %d: %s %s", r, rep.message, ty_last_error());
    r = ty_gradgradcheck(f_copy, base, 1, &src, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "copy_: gradgradcheck gave %d: %s %s", r, rep.message, ty_last_error());
    ty_tensor_release(base);
    ty_tensor_release(src);
}
END_TEST

/* ---- reductions ---- */

START_TEST(test_sum_mean_random_shapes) {
    uint64_t state = 11;
    for (int trial = 0; trial < 3; trial++) {
        int64_t s[3];
        random_shape(&state, s);
        ty_tensor *x = tu_randn(3, s, TY_F64, 200 + (uint64_t)trial);
        op_ctx c = {.kind = R_SUM, .dims = {0, 2}, .nd = 2};
        CHECK("sum {0,2}", &c, x);
        c = (op_ctx){.kind = R_SUM, .dims = {1}, .nd = 1, .keepdim = true};
        CHECK("sum {1} keepdim", &c, x);
        c = (op_ctx){.kind = R_SUM};
        CHECK("sum all", &c, x);
        c = (op_ctx){.kind = R_MEAN, .dims = {-1}, .nd = 1};
        CHECK("mean {-1}", &c, x);
        c = (op_ctx){.kind = R_MEAN, .keepdim = true};
        CHECK("mean all keepdim", &c, x);
        c = (op_ctx){.kind = R_MEAN, .dims = {2, 0}, .nd = 2, .keepdim = true};
        CHECK("mean {2,0} keepdim", &c, x);
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_var_std) {
    uint64_t state = 13;
    for (int trial = 0; trial < 2; trial++) {
        int64_t s[3];
        random_shape(&state, s);
        ty_tensor *x = tu_randn(3, s, TY_F64, 300 + (uint64_t)trial);
        for (int k = R_VAR; k <= R_STD; k++) {
            const char *name = k == R_VAR ? "var" : "std";
            op_ctx c = {.kind = k, .dims = {0, 2}, .nd = 2, .p = 1};
            CHECK(name, &c, x);
            c = (op_ctx){.kind = k, .p = 0};
            CHECK(name, &c, x);
            c = (op_ctx){.kind = k, .dims = {1}, .nd = 1, .p = 0.5, .keepdim = true};
            CHECK(name, &c, x);
        }
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_prod) {
    uint64_t state = 17;
    for (int trial = 0; trial < 2; trial++) {
        int64_t s[3];
        random_shape(&state, s);
        ty_tensor *x = tu_uniform(3, s, TY_F64, 0.5, 1.5, 400 + (uint64_t)trial);
        op_ctx c = {.kind = R_PROD, .dims = {1}, .nd = 1};
        CHECK("prod {1}", &c, x);
        c = (op_ctx){.kind = R_PROD, .dims = {0, 2}, .nd = 2, .keepdim = true};
        CHECK("prod {0,2}", &c, x);
        c = (op_ctx){.kind = R_PROD};
        CHECK("prod all", &c, x);
        /* exact zeros: one in some groups, two in another */
        double *d = ty_data(x);
        d[0] = 0;
        d[s[2] * s[1] - 1] = 0;
        d[ty_numel(x) - 1] = 0;
        c = (op_ctx){.kind = R_PROD, .dims = {1}, .nd = 1};
        CHECK("prod {1} with zeros", &c, x);
        c = (op_ctx){.kind = R_PROD, .dims = {0, 2}, .nd = 2};
        CHECK("prod {0,2} with zeros", &c, x);
        c = (op_ctx){.kind = R_PROD};
        CHECK("prod all with zeros", &c, x);
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_logsumexp_norm) {
    uint64_t state = 19;
    for (int trial = 0; trial < 2; trial++) {
        int64_t s[3];
        random_shape(&state, s);
        ty_tensor *x = tu_randn(3, s, TY_F64, 500 + (uint64_t)trial);
        op_ctx c = {.kind = R_LOGSUMEXP, .dims = {1}, .nd = 1};
        CHECK("logsumexp {1}", &c, x);
        c = (op_ctx){.kind = R_LOGSUMEXP, .keepdim = true};
        CHECK("logsumexp all", &c, x);
        const double ps[] = {2, 1, INFINITY, -INFINITY, 3, 1.5, 0.5, 0, -1.5};
        for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
            char name[64];
            snprintf(name, sizeof name, "norm p=%g", ps[k]);
            c = (op_ctx){.kind = R_NORM, .p = ps[k], .dims = {2}, .nd = 1};
            CHECK(name, &c, x);
            c = (op_ctx){.kind = R_NORM, .p = ps[k], .dims = {0, 1}, .nd = 2, .keepdim = true};
            CHECK(name, &c, x);
        }
        c = (op_ctx){.kind = R_NORM, .p = 2};
        CHECK("norm all", &c, x);
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_max_min) {
    uint64_t state = 23;
    for (int trial = 0; trial < 2; trial++) {
        int64_t s[3];
        random_shape(&state, s);
        ty_tensor *x = tu_randn(3, s, TY_F64, 600 + (uint64_t)trial);
        for (int k = R_AMAX; k <= R_AMIN; k++) {
            op_ctx c = {.kind = k, .dims = {0, 2}, .nd = 2};
            CHECK("amax/amin {0,2}", &c, x);
            c = (op_ctx){.kind = k, .dims = {1}, .nd = 1, .keepdim = true};
            CHECK("amax/amin {1}", &c, x);
        }
        op_ctx c = {.kind = R_MAX_ALL};
        CHECK("max all", &c, x);
        c = (op_ctx){.kind = R_MIN_ALL};
        CHECK("min all", &c, x);
        for (int k = R_MAX_DIM; k <= R_MIN_DIM; k++) {
            c = (op_ctx){.kind = k, .dims = {1}};
            CHECK("max/min dim 1", &c, x);
            c = (op_ctx){.kind = k, .dims = {-1}, .keepdim = true};
            CHECK("max/min dim -1 keepdim", &c, x);
        }
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_cumsum_cumprod) {
    uint64_t state = 29;
    for (int trial = 0; trial < 2; trial++) {
        int64_t s[3];
        random_shape(&state, s);
        ty_tensor *x = tu_uniform(3, s, TY_F64, 0.5, 1.5, 700 + (uint64_t)trial);
        op_ctx c = {.kind = R_CUMSUM, .dims = {1}};
        CHECK("cumsum 1", &c, x);
        c = (op_ctx){.kind = R_CUMSUM, .dims = {-1}};
        CHECK("cumsum -1", &c, x);
        c = (op_ctx){.kind = R_CUMPROD, .dims = {1}};
        CHECK("cumprod 1", &c, x);
        c = (op_ctx){.kind = R_CUMPROD, .dims = {0}};
        CHECK("cumprod 0", &c, x);
        double *d = ty_data(x);
        d[s[2]] = 0;                   /* [0][1][0] */
        d[ty_numel(x) - 1 - s[2]] = 0; /* [-1][-2][-1] */
        d[ty_numel(x) - 1] = 0;        /* [-1][-1][-1]: two zeros in a line of dim 1 */
        c = (op_ctx){.kind = R_CUMPROD, .dims = {1}};
        CHECK("cumprod 1 with zeros", &c, x);
        c = (op_ctx){.kind = R_CUMPROD, .dims = {-1}};
        CHECK("cumprod -1 with zeros", &c, x);
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_reductions_of_scalars_and_vectors) {
    ty_tensor *s = ty_scalar(0.7, TY_F64);
    ty_tensor *v = tu_uniform(1, (int64_t[]){5}, TY_F64, 0.5, 1.5, 31);
    ck_assert_int_eq(ty_set_requires_grad(s, true), 0);
    ck_assert_int_eq(ty_set_requires_grad(v, true), 0);
    const op_ctx cases[] = {
        {.kind = R_SUM},
        {.kind = R_MEAN},
        {.kind = R_PROD},
        {.kind = R_LOGSUMEXP},
        {.kind = R_NORM, .p = 2},
        {.kind = R_NORM, .p = 3},
        {.kind = R_AMAX},
        {.kind = R_MAX_ALL},
        {.kind = R_MAX_DIM, .dims = {0}},
        {.kind = R_MIN_DIM, .dims = {0}, .keepdim = true},
        {.kind = R_CUMSUM, .dims = {0}},
        {.kind = R_CUMPROD, .dims = {0}},
        {.kind = R_VAR, .p = 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        op_ctx c = cases[k];
        char what[64];
        snprintf(what, sizeof what, "case %zu on a 1-d input", k);
        check_at(what, &c, v);
        if (c.kind == R_VAR) continue; /* var of one element is NaN */
        snprintf(what, sizeof what, "case %zu on a 0-d input", k);
        check_at(what, &c, s);
    }
    ty_tensor_release(s);
    ty_tensor_release(v);
}
END_TEST

/* ---- exact values: ties and zeros ---- */

static ty_tensor *leaf_values(int ndim, const int64_t *shape, const double *v) {
    ty_tensor *x = ty_from_buffer(v, ndim, shape, TY_F64);
    ck_assert_int_eq(ty_set_requires_grad(x, true), 0);
    return x;
}

static void backward_of(ty_tensor *out) {
    ck_assert_msg(out != NULL, "%s", ty_last_error());
    backward_sum(out);
}

START_TEST(test_max_min_ties) {
    ty_tensor *x = leaf_values(2, (int64_t[]){2, 3}, (double[]){1, 3, 3, 2, 2, 0});
    /* max over all: the gradient is spread evenly over the tied maxima */
    backward_of(ty_max_all(x));
    tu_assert_values(x->grad, ((double[]){0, 0.5, 0.5, 0, 0, 0}), 6, 0);
    ty_zero_grad(x);
    backward_of(ty_min_all(x));
    tu_assert_values(x->grad, ((double[]){0, 0, 0, 0, 0, 1}), 6, 0);
    ty_zero_grad(x);
    /* amax per row: spread over that row's ties */
    backward_of(ty_amax(x, 1, (int[]){1}, false));
    tu_assert_values(x->grad, ((double[]){0, 0.5, 0.5, 0.5, 0.5, 0}), 6, 0);
    ty_zero_grad(x);
    /* max along a dim: all of it to the returned (first) index */
    ty_tensor *v, *i;
    ck_assert_int_eq(ty_max_dim(x, 1, false, &v, &i), 0);
    tu_assert_values(i, ((double[]){1, 0}), 2, 0);
    ck_assert_str_eq(v->grad_fn->name, "max");
    ck_assert_ptr_null(i->grad_fn);
    backward_of(v);
    tu_assert_values(x->grad, ((double[]){0, 1, 0, 1, 0, 0}), 6, 0);
    ty_zero_grad(x);
    ck_assert_int_eq(ty_min_dim(x, 0, true, &v, NULL), 0); /* indices not asked for */
    backward_of(v);
    tu_assert_values(x->grad, ((double[]){1, 0, 0, 0, 1, 1}), 6, 0);
    ty_tensor_release(i);
    ty_zero_grad(x);
    /* all tied */
    ty_tensor *c = leaf_values(1, (int64_t[]){4}, (double[]){2, 2, 2, 2});
    backward_of(ty_max_all(c));
    tu_assert_values(c->grad, ((double[]){0.25, 0.25, 0.25, 0.25}), 4, 0);
    ty_zero_grad(c);
    /* the inf-norm spreads over the tied |x| like amax */
    ty_tensor *n = leaf_values(1, (int64_t[]){4}, (double[]){-3, 1, 3, 2});
    backward_of(ty_norm(n, INFINITY, 0, NULL, false));
    tu_assert_values(n->grad, ((double[]){-0.5, 0, 0.5, 0}), 4, 0);
    /* argmax records nothing */
    ty_tensor *am = ty_argmax(x, 1, false);
    ck_assert_ptr_null(am->grad_fn);
    ty_tensor_release(am);
    ty_tensor_release(x);
    ty_tensor_release(c);
    ty_tensor_release(n);
}
END_TEST

START_TEST(test_zeros_exact) {
    /* prod with one zero: only the zero gets the product of the others */
    ty_tensor *x = leaf_values(1, (int64_t[]){3}, (double[]){2, 0, 3});
    backward_of(ty_prod(x, 0, NULL, false));
    tu_assert_values(x->grad, ((double[]){0, 6, 0}), 3, 0);
    ty_tensor_release(x);
    x = leaf_values(1, (int64_t[]){3}, (double[]){0, 0, 3});
    backward_of(ty_prod(x, 0, NULL, false));
    tu_assert_values(x->grad, ((double[]){0, 0, 0}), 3, 0);
    ty_tensor_release(x);
    /* over two dims of a (2,2,2) with a zero in one group */
    x = leaf_values(3, (int64_t[]){2, 2, 2}, (double[]){1, 2, 3, 4, 5, 0, 7, 8});
    backward_of(ty_prod(x, 2, (int[]){0, 2}, false));
    /* groups: dim 1 = 0 holds 1,2,5,0; dim 1 = 1 holds 3,4,7,8 */
    tu_assert_values(x->grad, ((double[]){0, 0, 224, 168, 0, 10, 96, 84}), 8, 0);
    ty_tensor_release(x);

    /* cumprod with zeros: [2, 0, 3, 4], first order and create_graph agree */
    x = leaf_values(1, (int64_t[]){4}, (double[]){2, 0, 3, 4});
    backward_of(ty_cumprod(x, 0));
    tu_assert_values(x->grad, ((double[]){1, 32, 0, 0}), 4, 0);
    ty_tensor *y = ty_cumprod(x, 0), *l = ty_sum(y, 0, NULL, false), *g;
    ck_assert_int_eq(ty_grad(1, &l, NULL, 1, &x, false, true, false, &g), 0);
    tu_assert_values(g, ((double[]){1, 32, 0, 0}), 4, 1e-12);
    ty_tensor_release(g);
    ty_tensor_release(l);
    ty_tensor_release(y);
    ty_tensor_release(x);

    /* norms at 0: 0, not NaN */
    x = leaf_values(1, (int64_t[]){3}, (double[]){0, 0, 0});
    const double ps[] = {2, 1, 3, 1.5, 0.5};
    for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
        backward_of(ty_norm(x, ps[k], 0, NULL, false));
        tu_assert_values(x->grad, ((double[]){0, 0, 0}), 3, 0);
        ty_zero_grad(x);
    }
    /* std of a constant: 0 */
    backward_of(ty_std(x, 0, NULL, 1, false));
    tu_assert_values(x->grad, ((double[]){0, 0, 0}), 3, 0);
    ty_tensor_release(x);
    /* p = 2 with one zero element elsewhere fine: x / |x| */
    x = leaf_values(1, (int64_t[]){3}, (double[]){3, 0, -4});
    backward_of(ty_norm(x, 2, 0, NULL, false));
    tu_assert_values(x->grad, ((double[]){0.6, 0, -0.8}), 3, 1e-15);
    ty_zero_grad(x);
    backward_of(ty_norm(x, 1, 0, NULL, false));
    tu_assert_values(x->grad, ((double[]){1, 0, -1}), 3, 0);
    ty_tensor_release(x);
}
END_TEST

START_TEST(test_reduction_values) {
    ty_tensor *x = leaf_values(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 9});
    backward_of(ty_mean(x, 1, (int[]){1}, false));
    tu_assert_values(x->grad, ((double[]){1. / 3, 1. / 3, 1. / 3, 1. / 3, 1. / 3, 1. / 3}), 6,
                     1e-15);
    ty_zero_grad(x);
    /* var (correction 1) of rows: 2 (x - mean) / (N - 1) */
    backward_of(ty_var(x, 1, (int[]){1}, 1, false));
    tu_assert_values(x->grad, ((double[]){-1, 0, 1, -2, -1, 3}), 6, 1e-12);
    ty_zero_grad(x);
    backward_of(ty_cumsum(x, 1));
    tu_assert_values(x->grad, ((double[]){3, 2, 1, 3, 2, 1}), 6, 0);
    ty_zero_grad(x);
    backward_of(ty_logsumexp(x, 0, NULL, false)); /* softmax of all elements */
    ty_tensor *sm = ty_zeros(1, (int64_t[]){6}, TY_F64, ty_cpu());
    double z = 0, *p = ty_data(sm);
    for (int k = 0; k < 6; k++) z += exp(ty_get_flat(x, k));
    for (int k = 0; k < 6; k++) p[k] = exp(ty_get_flat(x, k)) / z;
    tu_assert_values(x->grad, p, 6, 1e-12);
    ty_tensor_release(sm);
    /* sum of an integer tensor records nothing */
    ty_tensor *xi = ty_cast(x, TY_I64);
    ty_tensor *si = ty_sum(xi, 0, NULL, false);
    ck_assert_ptr_null(si->grad_fn);
    ty_tensor_release(si);
    ty_tensor_release(xi);
    ty_tensor_release(x);
}
END_TEST

static Suite *grad_suite(void) {
    Suite *s = suite_create("grad_views_reduce");
    TCase *tc = tcase_create("views");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_views_random_shapes);
    tcase_add_test(tc, test_views_size_one_dims);
    tcase_add_test(tc, test_view_gradients_land_in_place);
    tcase_add_test(tc, test_views_record_and_detach);
    tcase_add_test(tc, test_cast_and_clone);
    tcase_add_test(tc, test_copy_under_autograd);
    tcase_add_test(tc, test_copy_gradcheck);
    suite_add_tcase(s, tc);
    tc = tcase_create("reductions");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_sum_mean_random_shapes);
    tcase_add_test(tc, test_var_std);
    tcase_add_test(tc, test_prod);
    tcase_add_test(tc, test_logsumexp_norm);
    tcase_add_test(tc, test_max_min);
    tcase_add_test(tc, test_cumsum_cumprod);
    tcase_add_test(tc, test_reductions_of_scalars_and_vectors);
    tcase_add_test(tc, test_max_min_ties);
    tcase_add_test(tc, test_zeros_exact);
    tcase_add_test(tc, test_reduction_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(grad_suite());
}
