/* Optimizers: SGD (momentum, dampening, nesterov, weight decay), Adam and
 * AdamW (weight decay, amsgrad, per-parameter step counts) and
 * clip_grad_norm, against numbers from real PyTorch, plus bad inputs that
 * must fail without changing anything.
 *
 * The expected values were computed with PyTorch 1.13 (Debian's
 * python3-torch) by running, for each optimizer configuration below,
 *
 *     p = torch.tensor([1.0, -2.0, 3.0], dtype=dt, requires_grad=True)
 *     opt = torch.optim.X([p], ...)
 *     for g in [[0.1, -0.2, 0.3], [0.5, 0.5, -0.5], [-0.01, 0.02, 0.03]]:
 *         p.grad = torch.tensor(g, dtype=dt); opt.step()
 *     print(p.tolist())
 *
 * with dt float64 and float32, and torch.nn.utils.clip_grad_norm_ on grads
 * [3, -4] and [12] (and a parameter without grad). f64 results must agree
 * to 1e-14 relative; f32 to 1e-6. */
#include <string.h>

#include "optim.h"
#include "testutil.h"

static const double P0[3] = {1.0, -2.0, 3.0};
static const double GRADS[3][3] = {{0.1, -0.2, 0.3}, {0.5, 0.5, -0.5}, {-0.01, 0.02, 0.03}};

/* A leaf parameter that requires grad, with the values vals. */
static ty_tensor *make_param(int n, const double *vals, ty_dtype dt) {
    ty_tensor *d = ty_from_buffer(vals, 1, (int64_t[]){n}, TY_F64);
    ty_tensor *p = ty_cast(d, dt);
    ty_tensor_release(d);
    ck_assert_int_eq(ty_set_requires_grad(p, true), 0);
    return p;
}

/* Replaces p's grad with vals (NULL: no grad). */
static void set_grad(ty_tensor *p, const double *vals) {
    ty_zero_grad(p);
    if (!vals) return;
    ty_tensor *d = ty_from_buffer(vals, 1, p->shape, TY_F64);
    p->grad = ty_cast(d, p->dtype);
    ty_tensor_release(d);
}

typedef enum { SGD, ADAM, ADAMW } kind;

typedef struct {
    kind k;
    double lr, a, b, c, wd; /* SGD: momentum, dampening; Adam: beta1, beta2, eps */
    bool flag;              /* SGD: nesterov; Adam: amsgrad */
} config;

static int step(const config *c, int n, ty_tensor *const *params, ty_optim_state *s) {
    switch (c->k) {
    case SGD:
        return ty_sgd_step(n, params, s, c->lr, c->a, c->b, c->wd, c->flag);
    case ADAM:
        return ty_adam_step(n, params, s, c->lr, c->a, c->b, c->c, c->wd, c->flag);
    default:
        return ty_adamw_step(n, params, s, c->lr, c->a, c->b, c->c, c->wd, c->flag);
    }
}

/* Three steps of c on P0 with GRADS; compares with the PyTorch results. */
static void check_three_steps(const config *c, const double *want64, const double *want32) {
    for (int t = 0; t < 2; t++) {
        ty_dtype dt = t == 0 ? TY_F64 : TY_F32;
        ty_tensor *p = make_param(3, P0, dt);
        ty_optim_state *s = ty_optim_state_new(1);
        for (int k = 0; k < 3; k++) {
            set_grad(p, GRADS[k]);
            uint64_t v = p->storage->version;
            ck_assert_msg(step(c, 1, &p, s) == 0, "%s", ty_last_error());
            ck_assert_uint_eq(p->storage->version, v + 1);
        }
        ck_assert_int_eq(s->param[0].step, 3);
        /* an optimizer step records nothing */
        ck_assert_ptr_null(p->grad_fn);
        ck_assert(p->requires_grad);
        ty_tensor *w = ty_from_buffer(t == 0 ? want64 : want32, 1, (int64_t[]){3}, TY_F64);
        tu_assert_close(p, w, 0, t == 0 ? 1e-14 : 1e-6);
        ty_tensor_release(w);
        ty_tensor_release(p);
        ty_optim_state_free(s);
    }
}

START_TEST(test_sgd_plain) {
    config c = {SGD, 0.1, 0, 0, 0, 0, false};
    check_three_steps(&c, (double[]){0.941, -2.0319999999999996, 3.017},
                      (double[]){0.9409999847412109, -2.0320000648498535, 3.0169999599456787});
    /* without momentum no state is needed */
    ty_tensor *p = make_param(3, P0, TY_F64);
    set_grad(p, GRADS[0]);
    ck_assert_int_eq(ty_sgd_step(1, &p, NULL, 0.1, 0, 0, 0, false), 0);
    tu_assert_values(p, ((double[]){0.99, -1.98, 2.97}), 3, 1e-15);
    ty_tensor_release(p);
}
END_TEST

START_TEST(test_sgd_momentum) {
    config c = {SGD, 0.1, 0.9, 0, 0, 0, false};
    check_three_steps(&c, (double[]){0.8788999999999999, -2.0428, 3.0107000000000004},
                      (double[]){0.8788999915122986, -2.042800188064575, 3.010699987411499});
}
END_TEST

START_TEST(test_sgd_dampening) {
    config c = {SGD, 0.1, 0.9, 0.5, 0, 0, false};
    check_three_steps(&c, (double[]){0.9259, -1.9943, 2.9647},
                      (double[]){0.9259000420570374, -1.9943000078201294, 2.9646999835968018});
    /* the momentum buffer itself: the first step copies the gradient, no
     * dampening applied (PyTorch: buf = clone(grad)) */
    ty_tensor *p = make_param(3, P0, TY_F64);
    ty_optim_state *s = ty_optim_state_new(1);
    set_grad(p, GRADS[0]);
    ck_assert_int_eq(ty_sgd_step(1, &p, s, 0.1, 0.9, 0.5, 0, false), 0);
    tu_assert_values(s->param[0].momentum_buffer, GRADS[0], 3, 0);
    for (int k = 1; k < 3; k++) {
        set_grad(p, GRADS[k]);
        ck_assert_int_eq(ty_sgd_step(1, &p, s, 0.1, 0.9, 0.5, 0, false), 0);
    }
    tu_assert_values(s->param[0].momentum_buffer,
                     ((double[]){0.30100000000000005, 0.07299999999999998, 0.033000000000000015}),
                     3, 1e-16);
    ty_tensor_release(p);
    ty_optim_state_free(s);
}
END_TEST

START_TEST(test_sgd_nesterov) {
    config c = {SGD, 0.1, 0.9, 0, 0, 0, true};
    check_three_steps(&c, (double[]){0.83201, -2.07052, 3.02663},
                      (double[]){0.83201003074646, -2.0705201625823975, 3.02662992477417});
}
END_TEST

START_TEST(test_sgd_weight_decay) {
    config c = {SGD, 0.1, 0.9, 0, 0, 0.01, false};
    check_three_steps(&c, (double[]){0.873382789, -2.0316155780000003, 2.9939483669999998},
                      (double[]){0.8733828067779541, -2.0316154956817627, 2.993948459625244});
}
END_TEST

START_TEST(test_adam) {
    /* torch.optim.Adam(lr=0.1), defaults betas (0.9, 0.999), eps 1e-8 */
    config c = {ADAM, 0.1, 0.9, 0.999, 1e-8, 0, false};
    check_three_steps(&c, (double[]){0.7486022985143187, -1.9807535276262458, 2.9487340772379613},
                      (double[]){0.7486022710800171, -1.9807535409927368, 2.9487340450286865});
}
END_TEST

START_TEST(test_adam_weight_decay) {
    /* Adam(lr=0.1, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1): L2 */
    config c = {ADAM, 0.1, 0.8, 0.99, 1e-3, 0.1, false};
    check_three_steps(&c, (double[]){0.7305589431028133, -1.8750620930939828, 2.813550609816508},
                      (double[]){0.7305589318275452, -1.875062108039856, 2.8135504722595215});
}
END_TEST

START_TEST(test_adam_amsgrad) {
    /* Adam(lr=0.1, amsgrad=True): only element 0 sees v decrease */
    config c = {ADAM, 0.1, 0.9, 0.999, 1e-8, 0, true};
    check_three_steps(&c, (double[]){0.7486223913031012, -1.9807535276262458, 2.9487340772379613},
                      (double[]){0.7486223578453064, -1.9807535409927368, 2.9487340450286865});
    /* the state buffers after the three steps */
    ty_tensor *p = make_param(3, P0, TY_F64);
    ty_optim_state *s = ty_optim_state_new(1);
    for (int k = 0; k < 3; k++) {
        set_grad(p, GRADS[k]);
        ck_assert_int_eq(ty_adam_step(1, &p, s, 0.1, 0.9, 0.999, 1e-8, 0, true), 0);
    }
    ty_param_state *ps = &s->param[0];
    tu_assert_values(
        ps->exp_avg,
        ((double[]){0.052099999999999994, 0.030799999999999987, -0.017699999999999997}), 3, 1e-16);
    tu_assert_values(
        ps->exp_avg_sq,
        ((double[]){0.00025983001000000024, 0.00029007004000000024, 0.0003404700900000003}), 3,
        1e-18);
    tu_assert_values(
        ps->max_exp_avg_sq,
        ((double[]){0.00025999000000000025, 0.00029007004000000024, 0.0003404700900000003}), 3,
        1e-18);
    ck_assert_ptr_null(ps->momentum_buffer);
    ty_tensor_release(p);
    ty_optim_state_free(s);
}
END_TEST

START_TEST(test_adamw) {
    /* AdamW(lr=0.1, weight_decay=0.1): decoupled decay */
    config c = {ADAMW, 0.1, 0.9, 0.999, 1e-8, 0.1, false};
    check_three_steps(&c, (double[]){0.7217523445535108, -1.9228993122745734, 2.8613275159739797},
                      (double[]){0.7217523455619812, -1.9228993654251099, 2.861327648162842});
}
END_TEST

START_TEST(test_adamw_amsgrad) {
    /* AdamW(lr=0.1, betas=(0.5, 0.9), weight_decay=0.5, amsgrad=True) */
    config c = {ADAMW, 0.1, 0.5, 0.9, 1e-8, 0.5, true};
    check_three_steps(&c, (double[]){0.6237966621156598, -1.7284937317727014, 2.558691708456839},
                      (double[]){0.6237966418266296, -1.7284936904907227, 2.5586917400360107});
}
END_TEST

/* A parameter without grad is skipped: its values, buffers and step count
 * stay, so its bias correction later uses its own count. PyTorch:
 *     p = [1, 2], q = [-1]; Adam([p, q], lr=0.1)
 *     grads (p; q): ([0.3, -0.1]; [0.2]), ([0.1, 0.1]; None), ([-0.2, 0.4]; [0.5])
 * gives p = [0.79017109101043, 2.033148652269349], q = [-1.1939707360866205],
 * state steps 3 and 2. */
START_TEST(test_adam_skips_params_without_grad) {
    ty_tensor *p = make_param(2, (double[]){1, 2}, TY_F64);
    ty_tensor *q = make_param(1, (double[]){-1}, TY_F64);
    ty_tensor *params[2] = {p, q};
    ty_optim_state *s = ty_optim_state_new(2);
    const double gp[3][2] = {{0.3, -0.1}, {0.1, 0.1}, {-0.2, 0.4}};
    const double gq[3][1] = {{0.2}, {0}, {0.5}};
    for (int k = 0; k < 3; k++) {
        set_grad(p, gp[k]);
        set_grad(q, k == 1 ? NULL : gq[k]);
        uint64_t vq = q->storage->version;
        ck_assert_int_eq(ty_adam_step(2, params, s, 0.1, 0.9, 0.999, 1e-8, 0, false), 0);
        if (k == 1) {
            ck_assert_uint_eq(q->storage->version, vq); /* not touched */
            ck_assert_int_eq(s->param[1].step, 1);
        }
    }
    tu_assert_values(p, ((double[]){0.79017109101043, 2.033148652269349}), 2, 1e-14);
    tu_assert_values(q, ((double[]){-1.1939707360866205}), 1, 1e-14);
    ck_assert_int_eq(s->param[0].step, 3);
    ck_assert_int_eq(s->param[1].step, 2);
    /* a parameter that never had a grad gets no state at all */
    ty_tensor *r = make_param(1, (double[]){5}, TY_F64);
    ty_optim_state *s2 = ty_optim_state_new(1);
    ck_assert_int_eq(ty_adam_step(1, &r, s2, 0.1, 0.9, 0.999, 1e-8, 0, true), 0);
    ck_assert_ptr_null(s2->param[0].exp_avg);
    ck_assert_int_eq(s2->param[0].step, 0);
    tu_assert_values(r, ((double[]){5}), 1, 0);
    ty_tensor_release(p);
    ty_tensor_release(q);
    ty_tensor_release(r);
    ty_optim_state_free(s);
    ty_optim_state_free(s2);
}
END_TEST

/* The step bumps the parameter's version, so a graph that saved the
 * parameter before the step refuses to backward instead of giving a
 * gradient for values that are gone (as in PyTorch). */
START_TEST(test_step_invalidates_saved_param) {
    ty_tensor *p = make_param(3, P0, TY_F64);
    ty_tensor *y = ty_dot(p, p); /* saves p */
    ck_assert_ptr_nonnull(y);
    set_grad(p, GRADS[0]);
    ck_assert_int_eq(ty_sgd_step(1, &p, NULL, 0.1, 0, 0, 0, false), 0);
    tu_assert_error(ty_backward(y, NULL, false, false) < 0, "dot");
    ty_tensor_release(y);
    ty_tensor_release(p);
}
END_TEST

/* Big enough for several threads; the threaded loops must give what the
 * element-by-element formula gives. */
START_TEST(test_large_param_matches_small) {
    const int64_t n = 200000;
    ty_tensor *big = tu_uniform(1, &n, TY_F32, -1, 1, 7);
    ty_tensor *g = tu_uniform(1, &n, TY_F32, -1, 1, 8);
    ck_assert_int_eq(ty_set_requires_grad(big, true), 0);
    big->grad = ty_clone(g);
    /* element 12345 alone, as a 1-element parameter */
    ty_tensor *one = ty_empty(1, (int64_t[]){1}, TY_F32, ty_cpu());
    ((float *)ty_data(one))[0] = ((float *)ty_data(big))[12345];
    ck_assert_int_eq(ty_set_requires_grad(one, true), 0);
    one->grad = ty_empty(1, (int64_t[]){1}, TY_F32, ty_cpu());
    ((float *)ty_data(one->grad))[0] = ((float *)ty_data(g))[12345];
    ty_optim_state *sb = ty_optim_state_new(1), *so = ty_optim_state_new(1);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(ty_adamw_step(1, &big, sb, 0.01, 0.9, 0.999, 1e-8, 0.01, true), 0);
        ck_assert_int_eq(ty_adamw_step(1, &one, so, 0.01, 0.9, 0.999, 1e-8, 0.01, true), 0);
        ck_assert_int_eq(ty_sgd_step(1, &big, sb, 0.01, 0.9, 0, 0.01, true), 0);
        ck_assert_int_eq(ty_sgd_step(1, &one, so, 0.01, 0.9, 0, 0.01, true), 0);
    }
    ck_assert_float_eq(((float *)ty_data(big))[12345], ((float *)ty_data(one))[0]);
    double total = 0;
    ck_assert_int_eq(ty_clip_grad_norm(1, &big, 1.0, 2, &total), 0);
    ck_assert_double_eq_tol(total, sqrt((double)n / 3), 0.01 * sqrt((double)n / 3));
    double after = 0;
    ck_assert_int_eq(ty_clip_grad_norm(1, &big, 1e9, 2, &after), 0);
    ck_assert_double_eq_tol(after, 1.0, 1e-5);
    ty_tensor_release(big);
    ty_tensor_release(g);
    ty_tensor_release(one);
    ty_optim_state_free(sb);
    ty_optim_state_free(so);
}
END_TEST

/* ---- clip_grad_norm ----
 * PyTorch: a.grad = [3, -4], c.grad = None, b.grad = [12];
 * clip_grad_norm_([a, c, b], max_norm, norm_type). */

typedef struct {
    double norm_type, total;
    double ga[2], gb;
} clip_case;

START_TEST(test_clip_grad_norm_values) {
    const clip_case cases[] = {
        {2, 13.0, {0.23076921301775288, -0.3076922840236705}, 0.9230768520710115},
        {INFINITY, 12.0, {0.24999997916666844, -0.3333333055555579}, 0.9999999166666738},
        {1, 19.0, {0.15789472853185638, -0.21052630470914185}, 0.6315789141274255},
        {3, 12.207054953820634, {0.24575950264740476, -0.3276793368632063}, 0.983038010589619},
    };
    for (int i = 0; i < 4; i++) {
        for (int big = 0; big < 2; big++) {
            ty_tensor *a = make_param(2, (double[]){0, 0}, TY_F64);
            ty_tensor *b = make_param(1, (double[]){0}, TY_F64);
            ty_tensor *c = make_param(2, (double[]){0, 0}, TY_F64);
            set_grad(a, (double[]){3, -4});
            set_grad(b, (double[]){12});
            double total = -1;
            /* max_norm 1 clips; 100 leaves the grads as they are */
            ck_assert_int_eq(ty_clip_grad_norm(3, (ty_tensor *[]){a, c, b}, big ? 100 : 1,
                                               cases[i].norm_type, &total),
                             0);
            ck_assert_double_eq_tol(total, cases[i].total, 1e-14 * cases[i].total);
            if (big) {
                tu_assert_values(a->grad, ((double[]){3, -4}), 2, 0);
                tu_assert_values(b->grad, ((double[]){12}), 1, 0);
            } else {
                tu_assert_values(a->grad, cases[i].ga, 2, 1e-15);
                tu_assert_values(b->grad, &cases[i].gb, 1, 1e-15);
            }
            ck_assert_ptr_null(c->grad);
            ty_tensor_release(a);
            ty_tensor_release(b);
            ty_tensor_release(c);
        }
    }
}
END_TEST

START_TEST(test_clip_grad_norm_edges) {
    /* f32 grads, same numbers as above within f32 precision */
    ty_tensor *a = make_param(2, (double[]){0, 0}, TY_F32);
    set_grad(a, (double[]){3, -4});
    double total;
    ck_assert_int_eq(ty_clip_grad_norm(1, &a, 1, 2, &total), 0);
    ck_assert_double_eq_tol(total, 5, 1e-12);
    tu_assert_values(a->grad, ((double[]){0.6 / (1 + 2e-7), -0.8 / (1 + 2e-7)}), 2, 1e-7);
    /* no grads at all: total 0, nothing to do (PyTorch returns 0) */
    ty_zero_grad(a);
    total = -1;
    ck_assert_int_eq(ty_clip_grad_norm(1, &a, 1, 2, &total), 0);
    ck_assert_double_eq(total, 0);
    ck_assert_int_eq(ty_clip_grad_norm(0, NULL, 1, 2, NULL), 0);
    /* a NaN in a grad: NaN total, and every grad becomes NaN as in PyTorch
     * (coef = max_norm / (NaN + 1e-6) is NaN, clamp keeps it) */
    ty_tensor *b = make_param(2, (double[]){0, 0}, TY_F64);
    set_grad(a, (double[]){NAN, 1});
    set_grad(b, (double[]){1, 2});
    for (int k = 0; k < 2; k++) {
        double nt = k == 0 ? 2 : INFINITY;
        ck_assert_int_eq(ty_clip_grad_norm(2, (ty_tensor *[]){b, a}, 1, nt, &total), 0);
        ck_assert(isnan(total));
        ck_assert(isnan(ty_get_flat(b->grad, 0)) && isnan(ty_get_flat(b->grad, 1)));
    }
    /* an infinite grad: total inf, coef 0, grads become 0 (inf * 0 = NaN) */
    set_grad(a, (double[]){INFINITY, 1});
    ck_assert_int_eq(ty_clip_grad_norm(1, &a, 1, 2, &total), 0);
    ck_assert(isinf(total));
    ck_assert(isnan(ty_get_flat(a->grad, 0)));
    ck_assert_double_eq(ty_get_flat(a->grad, 1), 0);
    ty_tensor_release(a);
    ty_tensor_release(b);
}
END_TEST

/* ---- bad inputs: each fails with a clear message and changes nothing ---- */

/* p0 and the state stay as they were after one good step. */
static void assert_untouched(ty_tensor *p0, const double *vals, uint64_t version,
                             const ty_optim_state *s, int64_t step) {
    tu_assert_values(p0, vals, 3, 0);
    ck_assert_uint_eq(p0->storage->version, version);
    ck_assert_int_eq(s->param[0].step, step);
}

START_TEST(test_bad_hyperparameters) {
    ty_tensor *p = make_param(3, P0, TY_F64);
    set_grad(p, GRADS[0]);
    ty_optim_state *s = ty_optim_state_new(1);
    uint64_t v = p->storage->version;
    tu_assert_error(ty_sgd_step(1, &p, s, -0.1, 0, 0, 0, false) < 0, "sgd_step", "lr", "-0.1");
    tu_assert_error(ty_sgd_step(1, &p, s, NAN, 0, 0, 0, false) < 0, "sgd_step", "lr", "nan");
    tu_assert_error(ty_sgd_step(1, &p, s, 0.1, -0.9, 0, 0, false) < 0, "momentum", "-0.9");
    tu_assert_error(ty_sgd_step(1, &p, s, 0.1, 0, 0, -1, false) < 0, "weight_decay", "-1");
    tu_assert_error(ty_sgd_step(1, &p, s, 0.1, 0, 0, 0, true) < 0, "nesterov", "momentum 0");
    tu_assert_error(ty_sgd_step(1, &p, s, 0.1, 0.9, 0.1, 0, true) < 0, "nesterov", "dampening 0.1");
    tu_assert_error(ty_sgd_step(1, &p, NULL, 0.1, 0.9, 0, 0, false) < 0, "sgd_step",
                    "needs a state");
    tu_assert_error(ty_adam_step(1, &p, s, -1, 0.9, 0.999, 1e-8, 0, false) < 0, "adam_step", "lr");
    tu_assert_error(ty_adam_step(1, &p, s, 0.1, 1.0, 0.999, 1e-8, 0, false) < 0, "adam_step",
                    "beta1 1");
    tu_assert_error(ty_adam_step(1, &p, s, 0.1, 0.9, -0.5, 1e-8, 0, false) < 0, "beta2 -0.5");
    tu_assert_error(ty_adamw_step(1, &p, s, 0.1, 0.9, 0.999, -1e-8, 0, false) < 0, "adamw_step",
                    "eps");
    tu_assert_error(ty_adamw_step(1, &p, s, 0.1, 0.9, 0.999, 1e-8, -0.01, false) < 0,
                    "weight_decay");
    tu_assert_error(ty_adam_step(1, &p, NULL, 0.1, 0.9, 0.999, 1e-8, 0, false) < 0, "adam_step",
                    "state is NULL");
    tu_assert_error(ty_clip_grad_norm(1, &p, -1, 2, NULL) < 0, "clip_grad_norm", "max_norm");
    tu_assert_error(ty_clip_grad_norm(1, &p, 1, 0, NULL) < 0, "clip_grad_norm", "norm_type 0");
    tu_assert_error(ty_clip_grad_norm(1, &p, 1, NAN, NULL) < 0, "norm_type");
    tu_assert_error(ty_sgd_step(-1, &p, s, 0.1, 0, 0, 0, false) < 0, "negative");
    tu_assert_error(ty_optim_state_new(-2) == NULL, "optim_state_new", "-2");
    assert_untouched(p, P0, v, s, 0);
    ck_assert_ptr_null(s->param[0].exp_avg);
    ck_assert_ptr_null(s->param[0].momentum_buffer);
    tu_assert_values(p->grad, GRADS[0], 3, 0);
    ty_tensor_release(p);
    ty_optim_state_free(s);
}
END_TEST

/* The second parameter of a list is bad: the first, which is fine, must not
 * be updated, and no state buffers may be created. */
START_TEST(test_bad_params_change_nothing) {
    ty_tensor *p = make_param(3, P0, TY_F64);
    ty_optim_state *s = ty_optim_state_new(2);
    /* one good Adam step on p alone so there is state to keep */
    ty_optim_state *s1 = ty_optim_state_new(1);
    set_grad(p, GRADS[0]);
    ck_assert_int_eq(ty_adam_step(1, &p, s1, 0.1, 0.9, 0.999, 1e-8, 0, false), 0);
    double after[3];
    for (int i = 0; i < 3; i++) after[i] = ty_get_flat(p, i);
    uint64_t v = p->storage->version;

    ty_tensor *q = make_param(3, P0, TY_F64);
    ty_tensor *both[2] = {p, q};
    const char *fns[3] = {"sgd_step", "adam_step", "adamw_step"};
    for (int f = 0; f < 3; f++) {
        /* grad shape differs */
        set_grad(q, (double[]){1, 2, 3});
        ty_tensor *g2 = ty_reshape(q->grad, 2, (int64_t[]){1, 3});
        ty_tensor_release(q->grad);
        q->grad = g2;
        config c = {
            f == 0 ? SGD : f == 1 ? ADAM : ADAMW, 0.1, 0.9, f == 0 ? 0 : 0.999, 1e-8, 0, false};
        tu_assert_error(step(&c, 2, both, s) < 0, fns[f], "grad of param 1", "(1,3)", "(3)");
        /* grad dtype differs */
        ty_tensor *g32 = ty_cast(q->grad, TY_F32);
        ty_tensor_release(q->grad);
        q->grad = ty_reshape(g32, 1, (int64_t[]){3});
        ty_tensor_release(g32);
        tu_assert_error(step(&c, 2, both, s) < 0, fns[f], "grad of param 1", "f32", "f64");
        ty_zero_grad(q);
        /* the state was made for another number of parameters */
        tu_assert_error(step(&c, 2, both, s1) < 0, fns[f], "1 parameters, got 2");
        /* a NULL entry */
        tu_assert_error(step(&c, 2, (ty_tensor *[]){p, NULL}, s) < 0, fns[f], "param 1 is NULL");
        ck_assert_ptr_null(s->param[0].momentum_buffer);
        ck_assert_ptr_null(s->param[0].exp_avg);
        tu_assert_values(p, after, 3, 0);
        ck_assert_uint_eq(p->storage->version, v);
    }

    /* a non-contiguous param, an integer param, a non-leaf param */
    int64_t sh[2] = {2, 3};
    ty_tensor *m = tu_uniform(2, sh, TY_F64, -1, 1, 3);
    ty_tensor *mt = ty_transpose(m, 0, 1);
    ck_assert_int_eq(ty_set_requires_grad(m, true), 0);
    mt->grad = ty_zeros(2, (int64_t[]){3, 2}, TY_F64, ty_cpu());
    tu_assert_error(ty_sgd_step(2, (ty_tensor *[]){p, mt}, NULL, 0.1, 0, 0, 0, false) < 0,
                    "sgd_step", "param 1", "not contiguous");
    ty_tensor *ip = ty_zeros(1, (int64_t[]){3}, TY_I64, ty_cpu());
    tu_assert_error(ty_sgd_step(2, (ty_tensor *[]){p, ip}, NULL, 0.1, 0, 0, 0, false) < 0,
                    "param 1", "i64", "f32 and f64");
    ty_tensor *nl = ty_mm(m, mt); /* recorded: m requires grad */
    ck_assert_ptr_nonnull(nl->grad_fn);
    tu_assert_error(ty_sgd_step(2, (ty_tensor *[]){p, nl}, NULL, 0.1, 0, 0, 0, false) < 0,
                    "param 1 is not a leaf");
    tu_assert_values(p, after, 3, 0);

    /* a state buffer whose shape no longer matches its param */
    ty_tensor *other = make_param(2, (double[]){1, 2}, TY_F64);
    set_grad(other, (double[]){1, 1});
    tu_assert_error(ty_adam_step(1, &other, s1, 0.1, 0.9, 0.999, 1e-8, 0, false) < 0,
                    "exp_avg of param 0", "(3)", "(2)");
    tu_assert_values(other, ((double[]){1, 2}), 2, 0);
    ck_assert_int_eq(s1->param[0].step, 1);

    /* clip_grad_norm checks every grad before it scales any */
    set_grad(q, (double[]){100, 100, 100});
    ip->grad = ty_zeros(1, (int64_t[]){3}, TY_I64, ty_cpu());
    tu_assert_error(ty_clip_grad_norm(2, (ty_tensor *[]){q, ip}, 1, 2, NULL) < 0, "clip_grad_norm",
                    "grad of param 1", "i64");
    tu_assert_values(q->grad, ((double[]){100, 100, 100}), 3, 0);

    ty_tensor_release(p);
    ty_tensor_release(q);
    ty_tensor_release(m);
    ty_tensor_release(mt);
    ty_tensor_release(ip);
    ty_tensor_release(nl);
    ty_tensor_release(other);
    ty_optim_state_free(s);
    ty_optim_state_free(s1);
}
END_TEST

Suite *optim_suite(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_sgd_plain);
    tcase_add_test(tc, test_sgd_momentum);
    tcase_add_test(tc, test_sgd_dampening);
    tcase_add_test(tc, test_sgd_nesterov);
    tcase_add_test(tc, test_sgd_weight_decay);
    tcase_add_test(tc, test_adam);
    tcase_add_test(tc, test_adam_weight_decay);
    tcase_add_test(tc, test_adam_amsgrad);
    tcase_add_test(tc, test_adamw);
    tcase_add_test(tc, test_adamw_amsgrad);
    tcase_add_test(tc, test_adam_skips_params_without_grad);
    tcase_add_test(tc, test_step_invalidates_saved_param);
    tcase_add_test(tc, test_large_param_matches_small);
    tcase_add_test(tc, test_clip_grad_norm_values);
    tcase_add_test(tc, test_clip_grad_norm_edges);
    tcase_add_test(tc, test_bad_hyperparameters);
    tcase_add_test(tc, test_bad_params_change_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(optim_suite());
}
