/* A training loop must run in flat memory: a small MLP (8-16-1, tanh,
 * mean squared error) trained for 10,000 steps with ty_backward and the
 * optimizers of optim.h. After every step the number of live tensors must
 * equal the number after the first step (which is when the optimizer state
 * and the grads appear), and the loss must go down.
 *
 * A leak of one tensor per step anywhere in forward, backward (the engine
 * or an op's backward function), gradient accumulation or the optimizer
 * shows up here as a count that grows. */
#include <string.h>

#include "optim.h"
#include <stdlib.h>

#include "testutil.h"

enum { N = 64, IN = 8, HIDDEN = 16, STEPS = 10000, SHORT_STEPS = 1000 };

/* make check-valgrind sets TY_TEST_SHORT: 1,000 steps still show a flat
 * footprint, at a tenth of the time under valgrind. */
static int steps(void) {
    return getenv("TY_TEST_SHORT") ? SHORT_STEPS : STEPS;
}

typedef struct {
    ty_tensor *x, *y;     /* (N, IN) inputs, (N, 1) targets */
    ty_tensor *w1, *b1;   /* (HIDDEN, IN), (HIDDEN) */
    ty_tensor *w2, *b2;   /* (1, HIDDEN), (1) */
    ty_tensor *params[4]; /* w1, b1, w2, b2 (borrowed from above) */
} mlp;

static ty_tensor *param(int ndim, const int64_t *shape, double scale, uint64_t seed) {
    ty_tensor *p = tu_uniform(ndim, shape, TY_F32, -scale, scale, seed);
    ck_assert_int_eq(ty_set_requires_grad(p, true), 0);
    return p;
}

/* Inputs in [-1, 1) and a smooth target the net can fit:
 * y = sin(2 x0) + x1 x2 - 0.5 x3. */
static void mlp_init(mlp *m) {
    m->x = tu_uniform(2, (int64_t[]){N, IN}, TY_F32, -1, 1, 11);
    m->y = ty_empty(2, (int64_t[]){N, 1}, TY_F32, ty_cpu());
    const float *x = ty_data(m->x);
    float *y = ty_data(m->y);
    for (int i = 0; i < N; i++) {
        const float *r = x + i * IN;
        y[i] = sinf(2 * r[0]) + r[1] * r[2] - 0.5f * r[3];
    }
    m->w1 = param(2, (int64_t[]){HIDDEN, IN}, 1 / sqrt(IN), 1);
    m->b1 = param(1, (int64_t[]){HIDDEN}, 1 / sqrt(IN), 2);
    m->w2 = param(2, (int64_t[]){1, HIDDEN}, 1 / sqrt(HIDDEN), 3);
    m->b2 = param(1, (int64_t[]){1}, 1 / sqrt(HIDDEN), 4);
    ty_tensor *ps[4] = {m->w1, m->b1, m->w2, m->b2};
    memcpy(m->params, ps, sizeof ps);
}

static void mlp_free(mlp *m) {
    ty_tensor_release(m->x);
    ty_tensor_release(m->y);
    for (int i = 0; i < 4; i++) ty_tensor_release(m->params[i]);
}

/* mean((linear(tanh(linear(x, w1, b1)), w2, b2) - y)^2), or NULL. Every
 * intermediate is released here; the graph lives on through the loss. */
static ty_tensor *mlp_loss(mlp *m) {
    ty_tensor *z = ty_linear(m->x, m->w1, m->b1);
    ty_tensor *h = z ? ty_tanh(z) : NULL;
    ty_tensor *out = h ? ty_linear(h, m->w2, m->b2) : NULL;
    ty_tensor *diff = out ? ty_sub(out, m->y) : NULL;
    ty_tensor *sq = diff ? ty_mul(diff, diff) : NULL;
    ty_tensor *loss = sq ? ty_mean(sq, 0, NULL, false) : NULL;
    ty_tensor_release(z);
    ty_tensor_release(h);
    ty_tensor_release(out);
    ty_tensor_release(diff);
    ty_tensor_release(sq);
    return loss;
}

typedef enum { USE_SGD, USE_ADAM, USE_ADAMW } optimizer;

/* Trains for STEPS steps; checks the live tensor count after each one and
 * returns the first and the final loss. */
static void train(optimizer opt, double *first_loss, double *last_loss) {
    mlp m;
    mlp_init(&m);
    ty_optim_state *state = ty_optim_state_new(4);
    int64_t live_after_first = -1;
    int n_steps = steps();
    for (int it = 0; it < n_steps; it++) {
        for (int i = 0; i < 4; i++) ty_zero_grad(m.params[i]);
        ty_tensor *loss = mlp_loss(&m);
        if (!loss) ck_abort_msg("step %d: forward failed: %s", it, ty_last_error());
        double l = NAN;
        ty_item(loss, &l);
        if (ty_backward(loss, NULL, false, false) < 0)
            ck_abort_msg("step %d: backward failed: %s", it, ty_last_error());
        ty_tensor_release(loss);
        for (int i = 0; i < 4; i++)
            if (!m.params[i]->grad) ck_abort_msg("step %d: param %d got no grad", it, i);
        int rc;
        if (opt == USE_SGD) {
            rc = ty_clip_grad_norm(4, m.params, 5.0, 2, NULL);
            if (rc == 0) rc = ty_sgd_step(4, m.params, state, 0.05, 0.9, 0, 1e-4, true);
        } else if (opt == USE_ADAM) {
            rc = ty_adam_step(4, m.params, state, 0.003, 0.9, 0.999, 1e-8, 0, false);
        } else {
            rc = ty_adamw_step(4, m.params, state, 0.003, 0.9, 0.999, 1e-8, 0.01, true);
        }
        if (rc < 0) ck_abort_msg("step %d: optimizer failed: %s", it, ty_last_error());

        int64_t live = ty_live_tensors();
        if (it == 0) {
            live_after_first = live;
            *first_loss = l;
        } else if (live != live_after_first) {
            ck_abort_msg("step %d: %lld live tensors, %lld after the first step", it,
                         (long long)live, (long long)live_after_first);
        }
        if (!isfinite(l)) ck_abort_msg("step %d: loss %g", it, l);
        *last_loss = l;
    }
    ty_optim_state_free(state);
    mlp_free(&m);
}

static void check_training(optimizer opt, const char *name) {
    double first = 0, last = 0;
    train(opt, &first, &last);
    /* The untrained net's loss is about 0.8; all three optimizers fit the 64
     * points to below 1e-4 in 10,000 steps (seen: 1e-5 SGD, 1e-7 Adam, 3e-6
     * AdamW), so a factor of 100 leaves a wide margin. */
    double factor = steps() == STEPS ? 0.01 : 0.5;
    ck_assert_msg(last < factor * first, "%s: loss went from %g to %g only", name, first, last);
}

START_TEST(test_train_sgd_flat_memory) {
    check_training(USE_SGD, "sgd");
}
END_TEST

START_TEST(test_train_adam_flat_memory) {
    check_training(USE_ADAM, "adam");
}
END_TEST

START_TEST(test_train_adamw_flat_memory) {
    check_training(USE_ADAMW, "adamw");
}
END_TEST

Suite *train_memory_suite(void) {
    Suite *s = suite_create("train_memory");
    TCase *tc = tcase_create("train_memory");
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    /* 10,000 steps each; valgrind makes them slow */
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_train_sgd_flat_memory);
    tcase_add_test(tc, test_train_adam_flat_memory);
    tcase_add_test(tc, test_train_adamw_flat_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(train_memory_suite());
}
