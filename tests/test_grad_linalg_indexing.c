/* Backward passes of the linear algebra and indexing ops: matmul and its
 * fixed-rank forms, linear, einsum, gather/scatter and friends, masks,
 * sort/top-k, and the joining and rearranging ops.
 *
 * Every differentiable op goes through ty_gradcheck and ty_gradgradcheck in
 * f64 on random shapes, including non-contiguous and broadcasting inputs.
 * For ops that are linear in their input the second derivative is zero, so
 * their gradgradcheck also runs on the op's output squared (with einsum,
 * "...,...->..."), which makes the first-order gradient depend on the input
 * and checks that the backward itself is differentiable. Exact-value tests
 * cover ties, diagonals, in-place forms under autograd and the errors. */
#include <string.h>

#include "testutil.h"

#define EPS 1e-6
#define ATOL 1e-5
#define RTOL 1e-3

/* ---- the function under test, chosen by kind ---- */

typedef enum {
    OP_MATMUL,
    OP_MM,
    OP_BMM,
    OP_MV,
    OP_DOT,
    OP_OUTER,
    OP_LINEAR,
    OP_EINSUM,
    OP_GATHER,
    OP_SCATTER,
    OP_SCATTER_VALUE,
    OP_SCATTER_ADD,
    OP_INDEX_ADD,
    OP_INDEX_SELECT,
    OP_MASKED_FILL,
    OP_MASKED_SELECT,
    OP_SORT,
    OP_TOPK,
    OP_CAT,
    OP_STACK,
    OP_SPLIT_REVERSED, /* the pieces of split_sizes concatenated in reverse order */
    OP_SPLIT_ONE,      /* one piece of a split only */
    OP_CHUNK_WEIGHTED, /* chunk, pieces scaled by 1, 2, 3, ... and stacked */
    OP_REPEAT,
    OP_FLIP,
    OP_ROLL,
    OP_ROLL_FLAT,
    OP_PAD,
} op_kind;

typedef struct {
    op_kind kind;
    int dim;
    ty_tensor *index; /* borrowed: gather/scatter/index ops */
    ty_tensor *mask;  /* borrowed */
    double value;
    const char *eq;
    int64_t ints[32]; /* sizes, repeats, pads, dims ... */
    int nints;
    bool flag;   /* descending / largest */
    bool square; /* return the output squared */
} op_ctx;

static ty_tensor *squared(ty_tensor *t) {
    if (!t) return NULL;
    ty_tensor *r = ty_einsum("...,...->...", 2, (ty_tensor *[]){t, t});
    ty_tensor_release(t);
    return r;
}

/* Pieces of a split joined back by f: see OP_SPLIT_REVERSED etc. */
static ty_tensor *join_pieces(const op_ctx *c, ty_tensor **arr, int64_t cnt) {
    ty_tensor *out = NULL;
    if (!arr || cnt < 1 || cnt > 64) {
        ty_tensor_array_free(arr, cnt);
        return NULL;
    }
    if (c->kind == OP_SPLIT_REVERSED) {
        ty_tensor *rev[64] = {0};
        for (int64_t k = 0; k < cnt; k++) rev[k] = arr[cnt - 1 - k];
        out = ty_cat((int)cnt, rev, c->dim);
    } else if (c->kind == OP_SPLIT_ONE) {
        /* a copy: gradcheck perturbs x in place, which a view would follow */
        out = ty_einsum("...->...", 1, &arr[c->ints[0]]);
    } else {
        /* piece k scaled by k + 1 with an einsum against a constant */
        ty_tensor *scaled[64] = {0};
        int64_t made = 0;
        for (; made < cnt; made++) {
            ty_tensor *s = ty_scalar((double)(made + 1), TY_F64);
            scaled[made] = ty_einsum("...,->...", 2, (ty_tensor *[]){arr[made], s});
            ty_tensor_release(s);
            if (!scaled[made]) break;
        }
        if (made == cnt) out = ty_cat((int)cnt, scaled, c->dim);
        for (int64_t k = 0; k < made; k++) ty_tensor_release(scaled[k]);
    }
    ty_tensor_array_free(arr, cnt);
    return out;
}

static ty_tensor *f_op(void *vctx, int n, ty_tensor *const *in) {
    const op_ctx *c = vctx;
    ty_tensor *out = NULL, *idx = NULL, **arr = NULL;
    int64_t cnt = 0;
    switch (c->kind) {
    case OP_MATMUL:
        out = ty_matmul(in[0], in[1]);
        break;
    case OP_MM:
        out = ty_mm(in[0], in[1]);
        break;
    case OP_BMM:
        out = ty_bmm(in[0], in[1]);
        break;
    case OP_MV:
        out = ty_mv(in[0], in[1]);
        break;
    case OP_DOT:
        out = ty_dot(in[0], in[1]);
        break;
    case OP_OUTER:
        out = ty_outer(in[0], in[1]);
        break;
    case OP_LINEAR:
        out = ty_linear(in[0], in[1], n > 2 ? in[2] : NULL);
        break;
    case OP_EINSUM:
        out = ty_einsum(c->eq, n, in);
        break;
    case OP_GATHER:
        out = ty_gather(in[0], c->dim, c->index);
        break;
    case OP_SCATTER:
        out = ty_scatter(in[0], c->dim, c->index, in[1]);
        break;
    case OP_SCATTER_VALUE:
        out = ty_scatter_value(in[0], c->dim, c->index, c->value);
        break;
    case OP_SCATTER_ADD:
        out = ty_scatter_add(in[0], c->dim, c->index, in[1]);
        break;
    case OP_INDEX_ADD:
        out = ty_index_add(in[0], c->dim, c->index, in[1]);
        break;
    case OP_INDEX_SELECT:
        out = ty_index_select(in[0], c->dim, c->index);
        break;
    case OP_MASKED_FILL:
        out = ty_masked_fill(in[0], c->mask, c->value);
        break;
    case OP_MASKED_SELECT:
        out = ty_masked_select(in[0], c->mask);
        break;
    case OP_SORT:
        if (ty_sort(in[0], c->dim, c->flag, true, &out, NULL) < 0) out = NULL;
        break;
    case OP_TOPK:
        if (ty_topk(in[0], c->ints[0], c->dim, c->flag, true, &out, &idx) < 0) out = NULL;
        ty_tensor_release(idx);
        break;
    case OP_CAT:
        out = ty_cat(n, in, c->dim);
        break;
    case OP_STACK:
        out = ty_stack(n, in, c->dim);
        break;
    case OP_SPLIT_REVERSED:
        arr = ty_split_sizes(in[0], c->nints, c->ints, c->dim, &cnt);
        out = join_pieces(c, arr, cnt);
        break;
    case OP_SPLIT_ONE:
        arr = ty_split(in[0], c->ints[1], c->dim, &cnt);
        out = join_pieces(c, arr, cnt);
        break;
    case OP_CHUNK_WEIGHTED:
        arr = ty_chunk(in[0], c->ints[0], c->dim, &cnt);
        out = join_pieces(c, arr, cnt);
        break;
    case OP_REPEAT:
        out = ty_repeat(in[0], c->nints, c->ints);
        break;
    case OP_FLIP: {
        int dims[TY_MAX_DIMS];
        for (int k = 0; k < c->nints; k++) dims[k] = (int)c->ints[k];
        out = ty_flip(in[0], c->nints, dims);
        break;
    }
    case OP_ROLL:
        out = ty_roll(in[0], c->ints[0], c->dim);
        break;
    case OP_ROLL_FLAT:
        out = ty_roll_flat(in[0], c->ints[0]);
        break;
    case OP_PAD:
        out = ty_pad_constant(in[0], c->nints, c->ints, c->value);
        break;
    }
    return c->square ? squared(out) : out;
}

/* ---- helpers ---- */

/* A leaf of random f64 values that requires grad; layout 0 contiguous, 1
 * transposed in memory (ndim >= 2), 2 every other element. */
static ty_tensor *leaf(int ndim, const int64_t *shape, uint64_t seed, int layout) {
    ty_tensor *t = tu_uniform(ndim, shape, TY_F64, -1.0, 1.0, seed);
    if (layout == 1 && ndim >= 2) {
        ty_tensor *nc = tu_noncontiguous(t);
        ty_tensor_release(t);
        t = nc;
    } else if (layout == 2 && ndim >= 1) {
        ty_tensor *s = tu_strided(t);
        ty_tensor_release(t);
        t = s;
    }
    ck_assert_int_eq(ty_set_requires_grad(t, true), 0);
    return t;
}

static ty_tensor *i64_tensor(int ndim, const int64_t *shape, const int64_t *v) {
    ty_tensor *t = ty_from_buffer(v, ndim, shape, TY_I64);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    return t;
}

static ty_tensor *bool_tensor(int ndim, const int64_t *shape, const uint8_t *v) {
    ty_tensor *t = ty_from_buffer(v, ndim, shape, TY_BOOL);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    return t;
}

static void release_all(int n, ty_tensor **t) {
    for (int i = 0; i < n; i++) ty_tensor_release(t[i]);
}

/* gradcheck and gradgradcheck of c at the inputs; `what` names the case. */
static void check_at(const char *what, op_ctx *c, int n, ty_tensor *const *in) {
    ty_gradcheck_report rep;
    int r = ty_gradcheck(f_op, c, n, in, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "%s: gradcheck gave %d: %s %s", what, r, rep.message,
                  r < 0 ? ty_last_error() : "");
    r = ty_gradgradcheck(f_op, c, n, in, EPS, ATOL, RTOL, &rep);
    ck_assert_msg(r == 1, "%s: gradgradcheck gave %d: %s %s", what, r, rep.message,
                  r < 0 ? ty_last_error() : "");
}

/* check_at, then for ops linear in their inputs the same on the square. */
static void check_linear_op(const char *what, op_ctx *c, int n, ty_tensor *const *in) {
    char buf[256];
    c->square = false;
    check_at(what, c, n, in);
    c->square = true;
    snprintf(buf, sizeof buf, "%s (squared)", what);
    check_at(buf, c, n, in);
    c->square = false;
}

/* A small deterministic generator for random shapes. */
static uint64_t rng_state = 12345;
static int64_t rnd(int64_t lo, int64_t hi) { /* in [lo, hi] */
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int64_t)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

/* The gradient of sum(w * f(inputs)) for inputs[k], by ty_grad. */
static ty_tensor *grad_of(ty_tensor *out, ty_tensor *input) {
    ty_tensor *g = NULL;
    ck_assert_msg(ty_grad(1, &out, NULL, 1, &input, false, false, false, &g) == 0, "%s",
                  ty_last_error());
    return g;
}

/* sum of all elements, recorded (einsum "...->"). */
static ty_tensor *total(ty_tensor *t) {
    ty_tensor *s = ty_einsum("...->", 1, &t);
    ck_assert_msg(s != NULL, "%s", ty_last_error());
    return s;
}

/* ---- matmul and friends ---- */

typedef struct {
    int na, nb;
    int64_t a[4], b[4];
} shape_pair;

START_TEST(test_matmul_rank_cases) {
    static const shape_pair cases[] = {
        {1, 1, {3}, {3}},                /* dot */
        {1, 2, {3}, {3, 4}},             /* vector @ matrix */
        {2, 1, {2, 3}, {3}},             /* matrix @ vector */
        {2, 2, {2, 3}, {3, 4}},          /* mm */
        {1, 3, {3}, {2, 3, 4}},          /* vector @ batch */
        {3, 1, {2, 3, 4}, {4}},          /* batch @ vector */
        {3, 2, {2, 3, 4}, {4, 2}},       /* batch @ matrix (folded dB) */
        {2, 3, {3, 4}, {2, 4, 5}},       /* matrix @ batch */
        {3, 3, {2, 3, 4}, {2, 4, 2}},    /* bmm */
        {4, 3, {2, 1, 3, 4}, {5, 4, 2}}, /* broadcast batch dims */
        {3, 4, {1, 2, 3}, {2, 3, 3, 1}}, /* broadcast the other way, N = 1 */
        {4, 1, {2, 2, 3, 4}, {4}},       /* 4-D @ vector */
        {2, 2, {1, 1}, {1, 1}},          /* 1 x 1 */
        {2, 2, {3, 0}, {0, 2}},          /* empty inner dim */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const shape_pair *p = &cases[k];
        for (int layout = 0; layout < 3; layout++) {
            ty_tensor *in[2] = {leaf(p->na, p->a, 10 + k, layout),
                                leaf(p->nb, p->b, 20 + k, layout == 1 ? 0 : layout)};
            char what[64];
            snprintf(what, sizeof what, "matmul case %zu layout %d", k, layout);
            op_ctx c = {.kind = OP_MATMUL};
            check_at(what, &c, 2, in);
            release_all(2, in);
        }
    }
}
END_TEST

START_TEST(test_matmul_random_shapes) {
    rng_state = 777;
    for (int it = 0; it < 12; it++) {
        int na = (int)rnd(1, 4), nb = (int)rnd(1, 4);
        int64_t a[4], b[4], K = rnd(1, 4);
        /* batch dims, right-aligned, broadcasting with 1s */
        int nba = na > 2 ? na - 2 : 0, nbb = nb > 2 ? nb - 2 : 0;
        int64_t batch[2] = {rnd(1, 3), rnd(2, 3)};
        for (int j = 0; j < nba; j++) a[j] = rnd(0, 2) == 0 ? 1 : batch[2 - nba + j];
        for (int j = 0; j < nbb; j++) b[j] = rnd(0, 2) == 0 ? 1 : batch[2 - nbb + j];
        if (na == 1) {
            a[0] = K;
        } else {
            a[na - 2] = rnd(1, 4);
            a[na - 1] = K;
        }
        if (nb == 1) {
            b[0] = K;
        } else {
            b[nb - 2] = K;
            b[nb - 1] = rnd(1, 4);
        }
        ty_tensor *in[2] = {leaf(na, a, 100 + it, (int)rnd(0, 2)),
                            leaf(nb, b, 200 + it, (int)rnd(0, 2))};
        char what[64];
        snprintf(what, sizeof what, "matmul random %d (%d-D @ %d-D)", it, na, nb);
        op_ctx c = {.kind = OP_MATMUL};
        check_at(what, &c, 2, in);
        release_all(2, in);
    }
}
END_TEST

START_TEST(test_matmul_one_input_requires_grad) {
    /* only b requires grad, a is a constant: a is saved, b is not */
    ty_tensor *a = tu_uniform(2, (int64_t[]){3, 4}, TY_F64, -1, 1, 1);
    ty_tensor *b = leaf(2, (int64_t[]){4, 2}, 2, 1);
    op_ctx c = {.kind = OP_MATMUL};
    check_at("matmul const a", &c, 2, (ty_tensor *[]){a, b});
    ck_assert_int_eq(ty_set_requires_grad(a, true), 0);
    ck_assert_int_eq(ty_set_requires_grad(b, false), 0);
    check_at("matmul const b", &c, 2, (ty_tensor *[]){a, b});
    ty_tensor_release(a);
    ty_tensor_release(b);
}
END_TEST

START_TEST(test_matmul_exact_values) {
    /* loss = sum(a @ b): da = 1 b^T (row sums of b), db = a^T 1 */
    ty_tensor *a = ty_from_buffer((double[]){1, 2, 3, 4}, 2, (int64_t[]){2, 2}, TY_F64);
    ty_tensor *b = ty_from_buffer((double[]){5, 6, 7, 8}, 2, (int64_t[]){2, 2}, TY_F64);
    ty_set_requires_grad(a, true);
    ty_set_requires_grad(b, true);
    ty_tensor *p = ty_matmul(a, b);
    ck_assert_ptr_nonnull(p->grad_fn);
    ck_assert_str_eq(p->grad_fn->name, "matmul");
    ty_tensor *l = total(p);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    tu_assert_values(a->grad, ((double[]){11, 15, 11, 15}), 4, 1e-12);
    tu_assert_values(b->grad, ((double[]){4, 4, 6, 6}), 4, 1e-12);
    ty_tensor_release(l);
    ty_tensor_release(p);

    /* a mixed second derivative: ga = d sum(a @ b) / da = 1 b^T (built with
     * create_graph), and d sum(ga * w) / db = w^T 1 */
    ty_zero_grad(a);
    ty_zero_grad(b);
    p = ty_matmul(a, b);
    l = total(p);
    ty_tensor *ga = NULL;
    ck_assert_int_eq(ty_grad(1, &l, NULL, 1, &a, false, true, false, &ga), 0);
    ck_assert(ga->requires_grad);
    ty_tensor *w = ty_from_buffer((double[]){1, 2, 3, 4}, 2, (int64_t[]){2, 2}, TY_F64);
    ty_tensor *gw = ty_einsum("ij,ij->", 2, (ty_tensor *[]){ga, w});
    ty_tensor *gb = grad_of(gw, b);
    /* sum_ij w_ij sum_k b_jk -> d/db_jk = sum_i w_ij */
    tu_assert_values(gb, ((double[]){4, 4, 6, 6}), 4, 1e-12);
    ty_tensor *objs[] = {ga, w, gw, gb, l, p, a, b};
    release_all(8, objs);
}
END_TEST

START_TEST(test_fixed_rank_products) {
    for (int layout = 0; layout < 3; layout++) {
        op_ctx c = {.kind = OP_MM};
        ty_tensor *in[2] = {leaf(2, (int64_t[]){3, 4}, 1, layout),
                            leaf(2, (int64_t[]){4, 2}, 2, layout)};
        check_at("mm", &c, 2, in);
        release_all(2, in);

        c.kind = OP_BMM;
        in[0] = leaf(3, (int64_t[]){2, 3, 4}, 3, layout);
        in[1] = leaf(3, (int64_t[]){2, 4, 2}, 4, layout);
        check_at("bmm", &c, 2, in);
        release_all(2, in);

        c.kind = OP_MV;
        in[0] = leaf(2, (int64_t[]){3, 4}, 5, layout);
        in[1] = leaf(1, (int64_t[]){4}, 6, layout == 1 ? 0 : layout);
        check_at("mv", &c, 2, in);
        release_all(2, in);

        c.kind = OP_DOT;
        in[0] = leaf(1, (int64_t[]){5}, 7, layout == 1 ? 0 : layout);
        in[1] = leaf(1, (int64_t[]){5}, 8, layout == 1 ? 2 : layout);
        check_at("dot", &c, 2, in);
        release_all(2, in);

        c.kind = OP_OUTER;
        in[0] = leaf(1, (int64_t[]){3}, 9, layout == 1 ? 0 : layout);
        in[1] = leaf(1, (int64_t[]){4}, 10, layout == 1 ? 2 : layout);
        check_at("outer", &c, 2, in);
        release_all(2, in);
    }
}
END_TEST

START_TEST(test_linear) {
    static const struct {
        int nx;
        int64_t x[3];
    } xs[] = {{1, {4}}, {2, {3, 4}}, {3, {2, 3, 4}}, {2, {0, 4}}};
    for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
        for (int bias = 0; bias < 2; bias++) {
            int layout = (int)(k % 3);
            ty_tensor *in[3] = {leaf(xs[k].nx, xs[k].x, 30 + k, layout),
                                leaf(2, (int64_t[]){5, 4}, 40 + k, 1),
                                leaf(1, (int64_t[]){5}, 50 + k, 0)};
            char what[64];
            snprintf(what, sizeof what, "linear x %zu bias %d", k, bias);
            op_ctx c = {.kind = OP_LINEAR};
            check_at(what, &c, bias ? 3 : 2, in);
            release_all(3, in);
        }
    }
}
END_TEST

START_TEST(test_mixed_dtypes_and_no_record) {
    /* f32 a with f64 b: the result is f64, a's gradient comes back as f32 */
    ty_tensor *a32 = tu_uniform(2, (int64_t[]){2, 3}, TY_F32, -1, 1, 1);
    ty_tensor *b = tu_uniform(2, (int64_t[]){3, 2}, TY_F64, -1, 1, 2);
    ty_set_requires_grad(a32, true);
    ty_tensor *p = ty_matmul(a32, b);
    ck_assert_int_eq(p->dtype, TY_F64);
    ty_tensor *l = total(p);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    ck_assert_int_eq(a32->grad->dtype, TY_F32);
    ck_assert_ptr_null(b->grad);
    ty_tensor_release(l);
    ty_tensor_release(p);

    /* nothing is recorded without requires_grad, under no_grad, or for
     * integer results */
    ty_tensor *bt = ty_transpose(b, 0, 1);
    ty_tensor *c = ty_matmul(b, bt);
    ty_tensor_release(bt);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(c->grad_fn);
    ck_assert(!c->requires_grad);
    ty_tensor_release(c);
    bool prev = ty_set_grad_enabled(false);
    c = ty_matmul(a32, b);
    ty_set_grad_enabled(prev);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(c->grad_fn);
    ty_tensor_release(c);
    ty_tensor *x = leaf(1, (int64_t[]){5}, 3, 0);
    ty_tensor *idx = ty_argsort(x, 0, false, true);
    ck_assert_ptr_null(idx->grad_fn);
    ty_tensor *vals = NULL, *ind = NULL;
    ck_assert_int_eq(ty_sort(x, 0, false, true, &vals, &ind), 0);
    ck_assert_ptr_nonnull(vals->grad_fn);
    ck_assert_ptr_null(ind->grad_fn);
    ck_assert(!ind->requires_grad);
    ty_tensor *objs[] = {a32, b, x, idx, vals, ind};
    release_all(6, objs);
}
END_TEST

START_TEST(test_saved_tensor_modified_in_place) {
    ty_tensor *a = leaf(2, (int64_t[]){2, 3}, 1, 0);
    ty_tensor *b = tu_uniform(2, (int64_t[]){3, 2}, TY_F64, -1, 1, 2);
    ty_tensor *p = ty_matmul(a, b);
    ty_tensor *l = total(p);
    ck_assert_int_eq(ty_fill_(b, 1.0), 0); /* b was saved for a's gradient */
    tu_assert_error(ty_backward(l, NULL, false, false) < 0, "matmul", "in-place");
    ty_tensor *objs[] = {a, b, p, l};
    release_all(4, objs);
}
END_TEST

/* ---- einsum ---- */

typedef struct {
    const char *eq;
    int n;
    int nd[3];
    int64_t shape[3][4];
} einsum_case;

START_TEST(test_einsum_equations) {
    static const einsum_case cases[] = {
        {"ij,jk->ik", 2, {2, 2}, {{2, 3}, {3, 4}}},
        {"ij,jk", 2, {2, 2}, {{2, 3}, {3, 4}}}, /* implicit output */
        {"bij,bjk->bik", 2, {3, 3}, {{2, 2, 3}, {2, 3, 2}}},
        {"i,j->ij", 2, {1, 1}, {{3}, {4}}},
        {"i,i->", 2, {1, 1}, {{5}, {5}}},
        {"ij->ji", 1, {2}, {{2, 3}}},
        {"ij->", 1, {2}, {{2, 3}}},
        {"ij->j", 1, {2}, {{2, 3}}},     /* i summed out */
        {"ii->i", 1, {2}, {{3, 3}}},     /* diagonal */
        {"ii->", 1, {2}, {{3, 3}}},      /* trace */
        {"iij->j", 1, {3}, {{2, 2, 3}}}, /* diagonal, then summed */
        {"iji->ij", 1, {3}, {{2, 3, 2}}},
        {"ii,i->i", 2, {2, 1}, {{3, 3}, {3}}},
        {"ij,kj->", 2, {2, 2}, {{2, 3}, {4, 3}}},
        {"ba,ab->", 2, {2, 2}, {{2, 3}, {3, 2}}},
        {"abc,cd,de->abe", 3, {3, 2, 2}, {{2, 2, 3}, {3, 2}, {2, 2}}},
        {"i,i,i->", 3, {1, 1, 1}, {{4}, {4}, {4}}},
        {"ij,jk,kl->il", 3, {2, 2, 2}, {{2, 3}, {3, 2}, {2, 3}}},
        {"bi,ij,bj->b", 3, {2, 2, 2}, {{2, 3}, {3, 4}, {2, 4}}},
        {"...ij,...jk->...ik", 2, {4, 3}, {{3, 1, 2, 3}, {4, 3, 2}}}, /* broadcast */
        {"...ij,...jk", 2, {3, 2}, {{2, 2, 3}, {3, 2}}},
        {"...i,...i->...", 2, {3, 2}, {{3, 1, 2}, {4, 2}}}, /* "..." (3,1) with (4,) */
        {"i...->...", 1, {3}, {{2, 3, 1}}},
        {"...->", 1, {2}, {{2, 3}}},
        {"ij,->ij", 2, {2, 0}, {{2, 3}, {0}}},
        {"b...i,b...i->b", 2, {3, 2}, {{2, 3, 2}, {2, 2}}}, /* "..." of width 1 and 0 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const einsum_case *e = &cases[k];
        for (int layout = 0; layout < 2; layout++) {
            ty_tensor *in[3] = {NULL, NULL, NULL};
            for (int i = 0; i < e->n; i++)
                in[i] = leaf(e->nd[i], e->shape[i], 60 + 3 * k + i, e->nd[i] >= 2 ? layout : 0);
            char what[96];
            snprintf(what, sizeof what, "einsum '%s' layout %d", e->eq, layout);
            op_ctx c = {.kind = OP_EINSUM, .eq = e->eq};
            check_at(what, &c, e->n, in);
            release_all(e->n, in);
        }
    }
}
END_TEST

START_TEST(test_einsum_random_contractions) {
    /* random matrix chains "ab,bc,...": shapes and operand counts vary */
    rng_state = 4242;
    for (int it = 0; it < 6; it++) {
        int n = (int)rnd(1, 3);
        char eq[64];
        int w = 0;
        int64_t dims[4];
        for (int i = 0; i <= n; i++) dims[i] = rnd(1, 4);
        ty_tensor *in[3];
        for (int i = 0; i < n; i++) {
            if (i) eq[w++] = ',';
            eq[w++] = (char)('a' + i);
            eq[w++] = (char)('a' + i + 1);
            in[i] = leaf(2, (int64_t[]){dims[i], dims[i + 1]}, 300 + 10 * it + i, (int)rnd(0, 2));
        }
        w += snprintf(eq + w, sizeof eq - (size_t)w, "->a%c", 'a' + n);
        op_ctx c = {.kind = OP_EINSUM, .eq = eq};
        check_at(eq, &c, n, in);
        release_all(n, in);
    }
}
END_TEST

START_TEST(test_einsum_many_operands) {
    /* more operands than a node has saved slots: the rest live in its ctx */
    ty_tensor *in[10];
    for (int i = 0; i < 10; i++) in[i] = leaf(1, (int64_t[]){3}, 500 + i, 0);
    op_ctx c = {.kind = OP_EINSUM, .eq = "a,a,a,a,a,a,a,a,a,a->a"};
    check_at("einsum with 10 operands", &c, 10, in);
    /* a saved operand past slot 8 modified in place is detected */
    ty_tensor *out = ty_einsum(c.eq, 10, in);
    ty_tensor *l = total(out);
    ck_assert_int_eq(ty_fill_(in[9], 0.5), 0);
    tu_assert_error(ty_backward(l, NULL, false, false) < 0, "einsum", "in-place");
    ty_tensor_release(l);
    ty_tensor_release(out);
    release_all(10, in);
}
END_TEST

START_TEST(test_einsum_diagonal_exact) {
    /* trace: d tr(x)/dx = I; "iij->j" sends g_j to x[i,i,j] for every i */
    ty_tensor *x = leaf(2, (int64_t[]){3, 3}, 1, 0);
    ty_tensor *t = ty_einsum("ii->", 1, &x);
    ck_assert_int_eq(ty_backward(t, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){1, 0, 0, 0, 1, 0, 0, 0, 1}), 9, 0);
    ty_tensor_release(t);
    ty_tensor_release(x);

    x = leaf(3, (int64_t[]){2, 2, 2}, 2, 0);
    t = ty_einsum("iij->j", 1, &x);
    ty_tensor *w = ty_from_buffer((double[]){10, 20}, 1, (int64_t[]){2}, TY_F64);
    ck_assert_int_eq(ty_backward(t, w, false, false), 0);
    tu_assert_values(x->grad, ((double[]){10, 20, 0, 0, 0, 0, 10, 20}), 8, 0);
    ty_tensor *objs[] = {t, w, x};
    release_all(3, objs);
}
END_TEST

/* ---- gather / scatter / index ---- */

START_TEST(test_gather_scatter) {
    /* x (3,4); index (3,2) along dim 1, with a repeated column for gather */
    ty_tensor *gidx = i64_tensor(2, (int64_t[]){3, 2}, (int64_t[]){0, 3, 2, 2, 1, 0});
    /* scatter needs distinct positions per row for a well-defined src grad */
    ty_tensor *sidx = i64_tensor(2, (int64_t[]){2, 3}, (int64_t[]){2, 0, 1, 0, 1, 2});
    for (int layout = 0; layout < 3; layout++) {
        ty_tensor *x = leaf(2, (int64_t[]){3, 4}, 1 + layout, layout);
        op_ctx c = {.kind = OP_GATHER, .dim = 1, .index = gidx};
        check_linear_op("gather dim 1", &c, 1, &x);
        c.dim = -1;
        check_linear_op("gather dim -1", &c, 1, &x);

        /* scatter along dim 0: x (3,4), index (2,3) covers part of src (2,4) */
        ty_tensor *src = leaf(2, (int64_t[]){2, 4}, 10 + layout, layout);
        ty_tensor *in[2] = {x, src};
        c = (op_ctx){.kind = OP_SCATTER, .dim = 0, .index = sidx};
        check_linear_op("scatter", &c, 2, in);
        c.kind = OP_SCATTER_ADD;
        check_linear_op("scatter_add", &c, 2, in);
        c.kind = OP_SCATTER_VALUE;
        c.value = 2.5;
        check_linear_op("scatter_value", &c, 1, in);
        ty_tensor_release(src);
        ty_tensor_release(x);
    }
    /* scatter_add with duplicates: both sources add into one place */
    ty_tensor *dup = i64_tensor(1, (int64_t[]){4}, (int64_t[]){1, 1, 0, 1});
    ty_tensor *x = leaf(1, (int64_t[]){3}, 7, 0), *src = leaf(1, (int64_t[]){5}, 8, 0);
    op_ctx c = {.kind = OP_SCATTER_ADD, .dim = 0, .index = dup};
    check_linear_op("scatter_add duplicates", &c, 2, (ty_tensor *[]){x, src});
    ty_tensor *objs[] = {gidx, sidx, dup, x, src};
    release_all(5, objs);
}
END_TEST

START_TEST(test_gather_random_shapes) {
    rng_state = 99;
    for (int it = 0; it < 6; it++) {
        int nd = (int)rnd(1, 3), dim = (int)rnd(0, nd - 1);
        int64_t xs[3], is[3];
        for (int d = 0; d < nd; d++) {
            xs[d] = rnd(1, 4);
            is[d] = d == dim ? rnd(1, 5) : rnd(1, xs[d]);
        }
        int64_t count = 1;
        for (int d = 0; d < nd; d++) count *= is[d];
        int64_t vals[64];
        for (int64_t i = 0; i < count; i++) vals[i] = rnd(0, xs[dim] - 1);
        ty_tensor *idx = i64_tensor(nd, is, vals);
        ty_tensor *x = leaf(nd, xs, 700 + it, (int)rnd(0, 2));
        op_ctx c = {.kind = OP_GATHER, .dim = dim, .index = idx};
        check_linear_op("gather random", &c, 1, &x);
        ty_tensor_release(idx);
        ty_tensor_release(x);
    }
}
END_TEST

START_TEST(test_index_select_index_add) {
    ty_tensor *idx = i64_tensor(1, (int64_t[]){4}, (int64_t[]){2, 0, 2, 1});
    for (int layout = 0; layout < 3; layout++) {
        ty_tensor *x = leaf(2, (int64_t[]){3, 2}, 1 + layout, layout);
        op_ctx c = {.kind = OP_INDEX_SELECT, .dim = 0, .index = idx};
        check_linear_op("index_select dim 0", &c, 1, &x);
        ty_tensor_release(x);
        x = leaf(2, (int64_t[]){2, 3}, 4 + layout, layout);
        c.dim = 1;
        check_linear_op("index_select dim 1", &c, 1, &x);

        /* index_add along dim 1: src (2,4) into x (2,3), duplicates add */
        ty_tensor *src = leaf(2, (int64_t[]){2, 4}, 7 + layout, layout);
        c = (op_ctx){.kind = OP_INDEX_ADD, .dim = 1, .index = idx};
        check_linear_op("index_add", &c, 2, (ty_tensor *[]){x, src});
        ty_tensor_release(src);
        ty_tensor_release(x);
    }
    /* a 0-d index selects one entry */
    ty_tensor *i0 = ty_scalar(1, TY_I64);
    ty_tensor *x = leaf(2, (int64_t[]){3, 2}, 11, 0);
    op_ctx c = {.kind = OP_INDEX_SELECT, .dim = 0, .index = i0};
    check_linear_op("index_select 0-d index", &c, 1, &x);
    ty_tensor *objs[] = {idx, i0, x};
    release_all(3, objs);
}
END_TEST

START_TEST(test_masked_fill_select) {
    /* broadcasting: x (3,1) against mask (4,) */
    ty_tensor *mask = bool_tensor(1, (int64_t[]){4}, (uint8_t[]){1, 0, 0, 1});
    ty_tensor *x = leaf(2, (int64_t[]){3, 1}, 1, 0);
    op_ctx c = {.kind = OP_MASKED_FILL, .mask = mask, .value = -3};
    check_linear_op("masked_fill broadcast", &c, 1, &x);
    c.kind = OP_MASKED_SELECT;
    check_linear_op("masked_select broadcast", &c, 1, &x);
    ty_tensor_release(x);
    ty_tensor_release(mask);

    /* same shapes, non-contiguous x, a u8 mask */
    ty_tensor *m2 = ty_from_buffer((uint8_t[]){0, 1, 1, 0, 1, 0}, 2, (int64_t[]){2, 3}, TY_U8);
    for (int layout = 0; layout < 3; layout++) {
        x = leaf(2, (int64_t[]){2, 3}, 2 + layout, layout);
        c = (op_ctx){.kind = OP_MASKED_FILL, .mask = m2, .value = 7};
        check_linear_op("masked_fill", &c, 1, &x);
        c.kind = OP_MASKED_SELECT;
        check_linear_op("masked_select", &c, 1, &x);
        ty_tensor_release(x);
    }
    /* exact: filled positions get no gradient */
    x = leaf(2, (int64_t[]){2, 3}, 9, 0);
    ty_tensor *f = ty_masked_fill(x, m2, 0);
    ty_tensor *l = total(f);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){1, 0, 0, 1, 0, 1}), 6, 0);
    ty_tensor *objs[] = {m2, x, f, l};
    release_all(4, objs);
}
END_TEST

/* ---- sort and top-k ---- */

START_TEST(test_sort_topk) {
    for (int layout = 0; layout < 3; layout++) {
        ty_tensor *x = leaf(2, (int64_t[]){3, 5}, 1 + layout, layout);
        op_ctx c = {.kind = OP_SORT, .dim = 1};
        check_linear_op("sort ascending", &c, 1, &x);
        c.flag = true;
        c.dim = 0;
        check_linear_op("sort descending dim 0", &c, 1, &x);
        c = (op_ctx){.kind = OP_TOPK, .dim = -1, .flag = true, .ints = {2}};
        check_linear_op("topk largest", &c, 1, &x);
        c.flag = false;
        c.ints[0] = 3;
        c.dim = 0;
        check_linear_op("topk smallest dim 0", &c, 1, &x);
        c.ints[0] = 0;
        check_linear_op("topk k=0", &c, 1, &x);
        ty_tensor_release(x);
    }
    ty_tensor *s = leaf(0, NULL, 5, 0);
    op_ctx c = {.kind = OP_SORT, .dim = 0};
    check_linear_op("sort 0-d", &c, 1, &s);
    ty_tensor_release(s);
}
END_TEST

START_TEST(test_sort_topk_ties) {
    /* ties: the sort is stable, so the gradient of each sorted entry goes to
     * the position its index names (the lower index first) */
    ty_tensor *x = ty_from_buffer((double[]){2, 1, 2, 1, 3}, 1, (int64_t[]){5}, TY_F64);
    ty_set_requires_grad(x, true);
    ty_tensor *vals = NULL, *idx = NULL;
    ck_assert_int_eq(ty_sort(x, 0, false, true, &vals, &idx), 0);
    tu_assert_values(idx, ((double[]){1, 3, 0, 2, 4}), 5, 0);
    ty_tensor *w = ty_from_buffer((double[]){10, 20, 30, 40, 50}, 1, (int64_t[]){5}, TY_F64);
    ck_assert_int_eq(ty_backward(vals, w, false, false), 0);
    tu_assert_values(x->grad, ((double[]){30, 10, 40, 20, 50}), 5, 0);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    ty_zero_grad(x);

    /* top-2 largest of {2,1,2,1,3}: 3 (pos 4), then the first 2 (pos 0) */
    vals = NULL;
    ck_assert_int_eq(ty_topk(x, 2, 0, true, true, &vals, NULL), 0);
    ty_tensor *w2 = ty_from_buffer((double[]){1, 5}, 1, (int64_t[]){2}, TY_F64);
    ck_assert_int_eq(ty_backward(vals, w2, false, false), 0);
    tu_assert_values(x->grad, ((double[]){5, 0, 0, 0, 1}), 5, 0);
    ty_tensor *objs[] = {vals, w, w2, x};
    release_all(4, objs);
}
END_TEST

/* ---- joining and rearranging ---- */

START_TEST(test_cat_stack) {
    for (int layout = 0; layout < 3; layout++) {
        ty_tensor *in[3] = {leaf(2, (int64_t[]){2, 3}, 1 + layout, layout),
                            leaf(2, (int64_t[]){1, 3}, 4 + layout, layout == 1 ? 2 : layout),
                            leaf(2, (int64_t[]){3, 3}, 7 + layout, layout)};
        op_ctx c = {.kind = OP_CAT, .dim = 0};
        check_linear_op("cat dim 0", &c, 3, in);
        release_all(3, in);
        in[0] = leaf(2, (int64_t[]){2, 1}, 11 + layout, layout);
        in[1] = leaf(2, (int64_t[]){2, 3}, 12 + layout, layout);
        in[2] = leaf(2, (int64_t[]){2, 2}, 13 + layout, layout);
        c.dim = -1;
        check_linear_op("cat dim -1", &c, 3, in);
        release_all(3, in);
        for (int i = 0; i < 3; i++) in[i] = leaf(2, (int64_t[]){2, 3}, 20 + i + layout, layout);
        c = (op_ctx){.kind = OP_STACK, .dim = 1};
        check_linear_op("stack dim 1", &c, 3, in);
        c.dim = -1;
        check_linear_op("stack dim -1", &c, 3, in);
        c.dim = 0;
        check_linear_op("stack dim 0", &c, 3, in);
        release_all(3, in);
    }
    /* a legacy empty (0) tensor is skipped but still gets a gradient, and an
     * input that does not require grad gets none */
    ty_tensor *e = leaf(1, (int64_t[]){0}, 1, 0);
    ty_tensor *a = leaf(2, (int64_t[]){2, 2}, 2, 0);
    ty_tensor *k = tu_uniform(2, (int64_t[]){1, 2}, TY_F64, -1, 1, 3);
    op_ctx c = {.kind = OP_CAT, .dim = 0};
    check_linear_op("cat with legacy empty", &c, 3, (ty_tensor *[]){e, a, k});
    ty_tensor *out = ty_cat(3, (ty_tensor *[]){a, e, k}, 0);
    ty_tensor *l = total(out);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    ck_assert_int_eq(e->grad->ndim, 1);
    ck_assert_int_eq(e->grad->shape[0], 0);
    tu_assert_values(a->grad, ((double[]){1, 1, 1, 1}), 4, 0);
    ck_assert_ptr_null(k->grad);
    ty_tensor *objs[] = {e, a, k, out, l};
    release_all(5, objs);
}
END_TEST

START_TEST(test_split_chunk) {
    for (int layout = 0; layout < 3; layout++) {
        ty_tensor *x = leaf(2, (int64_t[]){3, 7}, 1 + layout, layout);
        op_ctx c = {.kind = OP_SPLIT_REVERSED, .dim = 1, .ints = {2, 0, 4, 1}, .nints = 4};
        check_linear_op("split_sizes reversed", &c, 1, &x);
        c = (op_ctx){.kind = OP_SPLIT_ONE, .dim = -1, .ints = {1, 3}};
        check_linear_op("one piece of split", &c, 1, &x);
        c = (op_ctx){.kind = OP_CHUNK_WEIGHTED, .dim = 1, .ints = {3}};
        check_linear_op("chunk weighted", &c, 1, &x);
        c = (op_ctx){.kind = OP_CHUNK_WEIGHTED, .dim = 0, .ints = {2}};
        check_linear_op("chunk weighted dim 0", &c, 1, &x);
        ty_tensor_release(x);
    }
    /* more pieces than a node has outputs: one node per piece */
    ty_tensor *x = leaf(2, (int64_t[]){20, 2}, 9, 1);
    op_ctx c = {.kind = OP_CHUNK_WEIGHTED, .dim = 0, .ints = {20}};
    check_linear_op("chunk into 20", &c, 1, &x);
    c = (op_ctx){.kind = OP_SPLIT_ONE, .dim = 0, .ints = {17, 1}};
    check_linear_op("piece 17 of 20", &c, 1, &x);

    /* exact: only piece 1 of 3 used; the others get zeros */
    int64_t cnt = 0;
    ty_tensor *y = leaf(1, (int64_t[]){6}, 10, 0);
    ty_tensor **arr = ty_split(y, 2, 0, &cnt);
    ck_assert_int_eq(cnt, 3);
    ck_assert_ptr_eq(arr[0]->grad_fn, arr[2]->grad_fn);
    ck_assert_int_eq(arr[2]->output_nr, 2);
    ty_tensor *w = ty_from_buffer((double[]){3, 4}, 1, (int64_t[]){2}, TY_F64);
    ck_assert_int_eq(ty_backward(arr[1], w, false, false), 0);
    tu_assert_values(y->grad, ((double[]){0, 0, 3, 4, 0, 0}), 6, 0);
    ty_tensor_array_free(arr, cnt);
    ty_tensor *objs[] = {x, y, w};
    release_all(3, objs);
}
END_TEST

START_TEST(test_repeat_flip_roll_pad) {
    for (int layout = 0; layout < 3; layout++) {
        ty_tensor *x = leaf(2, (int64_t[]){2, 3}, 1 + layout, layout);
        op_ctx c = {.kind = OP_REPEAT, .ints = {2, 1, 3}, .nints = 3};
        check_linear_op("repeat (2,1,3)", &c, 1, &x);
        c = (op_ctx){.kind = OP_REPEAT, .ints = {3, 2}, .nints = 2};
        check_linear_op("repeat (3,2)", &c, 1, &x);
        c = (op_ctx){.kind = OP_REPEAT, .ints = {0, 2}, .nints = 2};
        check_linear_op("repeat (0,2)", &c, 1, &x);
        c = (op_ctx){.kind = OP_FLIP, .ints = {0, -1}, .nints = 2};
        check_linear_op("flip both", &c, 1, &x);
        c = (op_ctx){.kind = OP_FLIP, .ints = {1}, .nints = 1};
        check_linear_op("flip last", &c, 1, &x);
        c = (op_ctx){.kind = OP_ROLL, .dim = 1, .ints = {-4}};
        check_linear_op("roll", &c, 1, &x);
        c = (op_ctx){.kind = OP_ROLL, .dim = 0, .ints = {1}};
        check_linear_op("roll dim 0", &c, 1, &x);
        c = (op_ctx){.kind = OP_ROLL_FLAT, .ints = {4}};
        check_linear_op("roll flat", &c, 1, &x);
        c = (op_ctx){.kind = OP_PAD, .ints = {1, 2}, .nints = 2, .value = 5};
        check_linear_op("pad last dim", &c, 1, &x);
        c = (op_ctx){.kind = OP_PAD, .ints = {-1, 1, 2, 0}, .nints = 4, .value = -1};
        check_linear_op("pad and crop", &c, 1, &x);
        c = (op_ctx){.kind = OP_PAD, .ints = {0, -3}, .nints = 2};
        check_linear_op("crop to empty", &c, 1, &x);
        ty_tensor_release(x);
    }
    /* random repeats of random shapes */
    rng_state = 31337;
    for (int it = 0; it < 5; it++) {
        int nd = (int)rnd(1, 3), nr = nd + (int)rnd(0, 1);
        int64_t shape[3];
        op_ctx c = {.kind = OP_REPEAT, .nints = nr};
        for (int d = 0; d < nd; d++) shape[d] = rnd(1, 3);
        for (int d = 0; d < nr; d++) c.ints[d] = rnd(1, 3);
        ty_tensor *x = leaf(nd, shape, 50 + it, (int)rnd(0, 2));
        check_linear_op("repeat random", &c, 1, &x);
        ty_tensor_release(x);
    }
}
END_TEST

/* ---- in-place forms under autograd ---- */

START_TEST(test_inplace_under_autograd) {
    ty_tensor *x = leaf(2, (int64_t[]){2, 3}, 1, 0);
    ty_tensor *src = leaf(2, (int64_t[]){1, 2}, 2, 0);
    ty_tensor *idx = i64_tensor(2, (int64_t[]){1, 2}, (int64_t[]){2, 0});

    /* on a leaf that requires grad: the documented error, x unchanged */
    double before = ty_get_flat(x, 2);
    tu_assert_error(ty_scatter_(x, 1, idx, src) < 0, "scatter_", "leaf");
    ck_assert(ty_get_flat(x, 2) == before);
    ty_tensor *mask = bool_tensor(2, (int64_t[]){2, 3}, (uint8_t[]){1, 0, 0, 0, 0, 1});
    tu_assert_error(ty_masked_fill_(x, mask, 1) < 0, "masked_fill_", "leaf");

    /* on a non-leaf: y = roll(x, 0) is a fresh tensor with history */
    ty_tensor *y = ty_roll(x, 0, 0);
    ck_assert_int_eq(ty_scatter_(y, 1, idx, src), 0);
    ck_assert_str_eq(y->grad_fn->name, "scatter");
    ck_assert(ty_get_flat(y, 2) == ty_get_flat(src, 0));
    ty_tensor *l = total(y);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    tu_assert_values(x->grad, ((double[]){0, 1, 0, 1, 1, 1}), 6, 0);
    tu_assert_values(src->grad, ((double[]){1, 1}), 2, 0);
    ty_tensor_release(l);
    ty_tensor_release(y);
    ty_zero_grad(x);
    ty_zero_grad(src);

    /* scatter_add_, index_add_, masked_fill_ and scatter_value_ likewise */
    y = ty_roll(x, 0, 0);
    ck_assert_int_eq(ty_scatter_add_(y, 1, idx, src), 0);
    ty_tensor *idx1 = i64_tensor(1, (int64_t[]){2}, (int64_t[]){1, 1});
    ty_tensor *src2 = leaf(2, (int64_t[]){2, 2}, 3, 0);
    ck_assert_int_eq(ty_index_add_(y, 1, idx1, src2), 0);
    ck_assert_int_eq(ty_masked_fill_(y, mask, 9), 0);
    ck_assert(ty_get_flat(y, 0) == 9);
    ty_tensor *vidx = i64_tensor(2, (int64_t[]){1, 1}, (int64_t[]){1});
    ck_assert_int_eq(ty_scatter_value_(y, 0, vidx, -2), 0);
    l = total(y);
    ck_assert_int_eq(ty_backward(l, NULL, false, false), 0);
    /* x: masked at (0,0) and (1,2), value-scattered at (1,0) */
    tu_assert_values(x->grad, ((double[]){0, 1, 1, 0, 1, 0}), 6, 0);
    /* src went to (0,2) and (0,0); (0,0) was masked afterwards */
    tu_assert_values(src->grad, ((double[]){1, 0}), 2, 0);
    /* src2's rows both add into column 1, which nothing overwrote */
    tu_assert_values(src2->grad, ((double[]){1, 1, 1, 1}), 4, 0);
    ty_tensor_release(l);

    /* a masked_fill_ mask that would grow the target is refused */
    ty_tensor *big = bool_tensor(3, (int64_t[]){2, 2, 3}, (uint8_t[12]){0});
    ty_tensor *z = ty_roll(x, 0, 0);
    tu_assert_error(ty_masked_fill_(z, big, 1) < 0, "masked_fill_");
    ty_tensor *objs[] = {x, src, idx, y, idx1, src2, mask, vidx, big, z};
    release_all(10, objs);
}
END_TEST

START_TEST(test_inplace_without_grad_unchanged) {
    /* no requires_grad anywhere: the in-place forms run as before */
    ty_tensor *x = ty_zeros(2, (int64_t[]){2, 2}, TY_F64, ty_cpu());
    ty_tensor *idx = i64_tensor(2, (int64_t[]){1, 2}, (int64_t[]){1, 0});
    ty_tensor *src = ty_ones(2, (int64_t[]){1, 2}, TY_F64, ty_cpu());
    ck_assert_int_eq(ty_scatter_add_(x, 1, idx, src), 0);
    ck_assert_int_eq(ty_scatter_add_(x, 1, idx, src), 0);
    tu_assert_values(x, ((double[]){2, 2, 0, 0}), 4, 0);
    ck_assert_ptr_null(x->grad_fn);
    ty_tensor *objs[] = {x, idx, src};
    release_all(3, objs);
}
END_TEST

static Suite *grad_suite(void) {
    Suite *s = suite_create("grad_linalg_indexing");
    TCase *tc = tcase_create("linalg");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_matmul_rank_cases);
    tcase_add_test(tc, test_matmul_random_shapes);
    tcase_add_test(tc, test_matmul_one_input_requires_grad);
    tcase_add_test(tc, test_matmul_exact_values);
    tcase_add_test(tc, test_fixed_rank_products);
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_mixed_dtypes_and_no_record);
    tcase_add_test(tc, test_saved_tensor_modified_in_place);
    tcase_add_test(tc, test_einsum_equations);
    tcase_add_test(tc, test_einsum_random_contractions);
    tcase_add_test(tc, test_einsum_many_operands);
    tcase_add_test(tc, test_einsum_diagonal_exact);
    suite_add_tcase(s, tc);
    tc = tcase_create("indexing");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_gather_scatter);
    tcase_add_test(tc, test_gather_random_shapes);
    tcase_add_test(tc, test_index_select_index_add);
    tcase_add_test(tc, test_masked_fill_select);
    tcase_add_test(tc, test_sort_topk);
    tcase_add_test(tc, test_sort_topk_ties);
    tcase_add_test(tc, test_cat_stack);
    tcase_add_test(tc, test_split_chunk);
    tcase_add_test(tc, test_repeat_flip_roll_pad);
    tcase_add_test(tc, test_inplace_under_autograd);
    tcase_add_test(tc, test_inplace_without_grad_unchanged);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(grad_suite());
}
