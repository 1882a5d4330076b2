/* Optimizers (see optim.h): SGD, Adam, AdamW and clip_grad_norm.
 *
 * Every entry point works in three phases so that a failed call changes
 * nothing: check every parameter, grad and state buffer; create the state
 * buffers this step needs (released again if one allocation fails); then
 * run the update kernels, which cannot fail.
 *
 * The kernels are plain loops over contiguous memory, one per dtype,
 * written once as a macro over the element type T. They do the arithmetic
 * in T with the scalars rounded to T, one operation at a time in the order
 * PyTorch's single-tensor CPU path does (torch 1.13: exp_avg.mul_(beta1)
 * .add_(grad, alpha=1-beta1), addcmul_, addcdiv_, ...), so f32 results agree
 * with PyTorch's f32 results to an ulp or so. */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "creation.h"
#include "error.h"
#include "parallel.h"

/* ---- state ---- */

ty_optim_state *ty_optim_state_new(int n) {
    if (n < 0) {
        ty_error("optim_state_new: negative number of parameters %d", n);
        return NULL;
    }
    ty_optim_state *s = calloc(1, sizeof *s);
    /* calloc(0, ...) may return NULL; ask for one entry at least */
    ty_param_state *param = calloc(n > 0 ? (size_t)n : 1, sizeof *param);
    if (!s || !param) {
        free(s);
        free(param);
        ty_error("optim_state_new: out of memory for %d parameters", n);
        return NULL;
    }
    s->n = n;
    s->param = param;
    return s;
}

void ty_optim_state_free(ty_optim_state *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        ty_tensor_release(s->param[i].momentum_buffer);
        ty_tensor_release(s->param[i].exp_avg);
        ty_tensor_release(s->param[i].exp_avg_sq);
        ty_tensor_release(s->param[i].max_exp_avg_sq);
    }
    free(s->param);
    free(s);
}

/* ---- checks ---- */

/* The kernels read and write raw memory: CPU, f32 or f64, contiguous.
 * `what` names the tensor in the message ("param 2", "grad of param 2"). */
static int check_raw(const char *fn, const char *what, int i, const ty_tensor *t) {
    if (ty_check_cpu(fn, t) < 0) return -1;
    if (t->dtype != TY_F32 && t->dtype != TY_F64)
        return ty_error("%s: %s %d has dtype %s, only f32 and f64 are supported", fn, what, i,
                        ty_dtype_name(t->dtype));
    if (!ty_is_contiguous(t))
        return ty_error("%s: %s %d is not contiguous (call contiguous() on it first)", fn, what, i);
    return 0;
}

/* `other` must have param's shape and dtype. */
static int check_like(const char *fn, const char *what, int i, const ty_tensor *other,
                      const ty_tensor *param) {
    if (check_raw(fn, what, i, other) < 0) return -1;
    char b1[64], b2[64];
    if (!ty_same_shape(other, param))
        return ty_error("%s: %s %d has shape %s but the param has shape %s", fn, what, i,
                        ty_shape_str(other, b1, sizeof b1), ty_shape_str(param, b2, sizeof b2));
    if (other->dtype != param->dtype)
        return ty_error("%s: %s %d has dtype %s but the param has dtype %s", fn, what, i,
                        ty_dtype_name(other->dtype), ty_dtype_name(param->dtype));
    return 0;
}

/* The list itself, each param, its grad and the state buffers it already
 * has. state may be NULL (plain SGD). */
static int check_params(const char *fn, int n, ty_tensor *const *params,
                        const ty_optim_state *state) {
    if (n < 0) return ty_error("%s: negative number of parameters %d", fn, n);
    if (n > 0 && !params) return ty_error("%s: params is NULL for %d parameters", fn, n);
    if (state && state->n != n)
        return ty_error("%s: the state was made for %d parameters, got %d", fn, state->n, n);
    for (int i = 0; i < n; i++) {
        ty_tensor *p = params[i];
        if (!p) return ty_error("%s: param %d is NULL", fn, i);
        if (check_raw(fn, "param", i, p) < 0) return -1;
        if (p->grad_fn)
            return ty_error("%s: param %d is not a leaf (made by %s); optimize leaves only", fn, i,
                            p->grad_fn->name);
        if (p->grad && check_like(fn, "grad of param", i, p->grad, p) < 0) return -1;
        if (!state) continue;
        const ty_param_state *ps = &state->param[i];
        const ty_tensor *bufs[4] = {ps->momentum_buffer, ps->exp_avg, ps->exp_avg_sq,
                                    ps->max_exp_avg_sq};
        const char *names[4] = {"momentum_buffer of param", "exp_avg of param",
                                "exp_avg_sq of param", "max_exp_avg_sq of param"};
        for (int k = 0; k < 4; k++)
            if (bufs[k] && check_like(fn, names[k], i, bufs[k], p) < 0) return -1;
    }
    return 0;
}

static int check_nonneg(const char *fn, const char *name, double v) {
    if (!(v >= 0) || isinf(v))
        return ty_error("%s: invalid %s %g: must be finite and >= 0", fn, name, v);
    return 0;
}

/* ---- creating state buffers ----
 *
 * A step first lists the buffers it will create (slot pointers into the
 * state) and makes them all; only when every allocation worked are they
 * stored, so a failure leaves the state as it was. */

typedef struct {
    ty_tensor **slot; /* where the buffer goes in the state */
    ty_tensor *made;
} pending_buf;

/* Creates zeroed buffers like the params for each slot in pend[0..k);
 * stores them on success, releases them all on failure. */
static int make_buffers(const char *fn, int k, pending_buf *pend, ty_tensor *const *like) {
    for (int j = 0; j < k; j++) {
        pend[j].made = ty_zeros_like(like[j]);
        if (!pend[j].made) {
            for (int m = 0; m < j; m++) ty_tensor_release(pend[m].made);
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s: ", fn);
            ty_error_prefix(prefix);
            return -1;
        }
    }
    for (int j = 0; j < k; j++) *pend[j].slot = pend[j].made;
    return 0;
}

/* ---- kernels ---- */

/* The loops below split across threads above ty_threads_for's threshold
 * (nt is a local in each kernel) and ask the compiler to vectorise them. */
#define PAR_FOR _Pragma("omp parallel for simd num_threads(nt) if (nt > 1)")
#define PAR_SUM _Pragma("omp parallel for simd num_threads(nt) if (nt > 1) reduction(+ : acc)")
#define PAR_MAX                                                                                    \
    _Pragma("omp parallel for num_threads(nt) if (nt > 1) reduction(max : acc, has_nan)")

/* SGD on one parameter (see ty_sgd_step for the formula). buf is NULL
 * without momentum; `first` copies the gradient into it instead of
 * decaying it. The scalars come already rounded to T. */
#define DEFINE_SGD_KERNEL(T, SUF)                                                                  \
    static void sgd_kernel_##SUF(int64_t n, T *p, const T *g, T *buf, bool first, T neg_lr, T wd,  \
                                 T momentum, T one_minus_damp, bool nesterov) {                    \
        int nt = ty_threads_for(n);                                                                \
        PAR_FOR for (int64_t i = 0; i < n; i++) {                                                  \
            T d = g[i];                                                                            \
            if (wd != 0) d = d + wd * p[i];                                                        \
            if (buf) {                                                                             \
                T b = first ? d : buf[i] * momentum;                                               \
                if (!first) b = b + one_minus_damp * d;                                            \
                buf[i] = b;                                                                        \
                d = nesterov ? d + momentum * b : b;                                               \
            }                                                                                      \
            p[i] = p[i] + neg_lr * d;                                                              \
        }                                                                                          \
    }
DEFINE_SGD_KERNEL(float, f32)
DEFINE_SGD_KERNEL(double, f64)

/* Adam/AdamW on one parameter: the scalars of one step, already combined
 * from lr, betas and the step count in double, as PyTorch does in Python. */
typedef struct {
    double decay; /* AdamW: param *= decay (1 - lr * weight_decay); 1 for Adam */
    double l2;    /* Adam: grad += l2 * param (weight_decay); 0 for AdamW */
    double beta1, one_minus_beta1;
    double beta2, one_minus_beta2;
    double bias2_sqrt; /* sqrt(1 - beta2^step) */
    double eps;
    double neg_step_size; /* -lr / (1 - beta1^step) */
} adam_scalars;

/* GCC 12 vectorises these loops only at -O3 (at -O2 its cost model finds
 * the sqrt and division "not profitable"; they are 4 to 8 times faster
 * vectorised). */
#if defined(__GNUC__) && !defined(__clang__)
#define ADAM_OPT __attribute__((optimize("O3")))
#else
#define ADAM_OPT
#endif

/* vmax is NULL without amsgrad. The maximum propagates NaN like
 * torch.maximum. Each line is one PyTorch op: mul_, add_, addcmul_,
 * maximum, sqrt()/bc2 + eps, addcdiv_. The options are selects, not
 * branches, and amsgrad has a loop of its own, so that both loops
 * vectorise. */
#define DEFINE_ADAM_KERNEL(T, SUF, SQRT)                                                           \
    ADAM_OPT static void adam_kernel_##SUF(int64_t n, T *p, const T *g, T *m, T *v, T *vmax,       \
                                           const adam_scalars *s) {                                \
        const T decay = (T)s->decay, l2 = (T)s->l2, b1 = (T)s->beta1, c1 = (T)s->one_minus_beta1,  \
                b2 = (T)s->beta2, c2 = (T)s->one_minus_beta2, bc2 = (T)s->bias2_sqrt,              \
                eps = (T)s->eps, step = (T)s->neg_step_size;                                       \
        const bool decoupled = s->decay != 1, coupled = s->l2 != 0;                                \
        int nt = ty_threads_for(4 * n);                                                            \
        if (!vmax) {                                                                               \
            PAR_FOR for (int64_t i = 0; i < n; i++) {                                              \
                T pi = p[i], gi = g[i];                                                            \
                pi = decoupled ? pi * decay : pi;                                                  \
                gi = coupled ? gi + l2 * pi : gi;                                                  \
                T mi = m[i] * b1;                                                                  \
                mi = mi + c1 * gi;                                                                 \
                T vi = v[i] * b2;                                                                  \
                vi = vi + c2 * gi * gi;                                                            \
                m[i] = mi;                                                                         \
                v[i] = vi;                                                                         \
                T denom = SQRT(vi) / bc2 + eps;                                                    \
                p[i] = pi + step * mi / denom;                                                     \
            }                                                                                      \
        } else {                                                                                   \
            PAR_FOR for (int64_t i = 0; i < n; i++) {                                              \
                T pi = p[i], gi = g[i];                                                            \
                pi = decoupled ? pi * decay : pi;                                                  \
                gi = coupled ? gi + l2 * pi : gi;                                                  \
                T mi = m[i] * b1;                                                                  \
                mi = mi + c1 * gi;                                                                 \
                T vi = v[i] * b2;                                                                  \
                vi = vi + c2 * gi * gi;                                                            \
                m[i] = mi;                                                                         \
                v[i] = vi;                                                                         \
                T old = vmax[i];                                                                   \
                vi = (old > vi || old != old) ? old : vi;                                          \
                vmax[i] = vi;                                                                      \
                T denom = SQRT(vi) / bc2 + eps;                                                    \
                p[i] = pi + step * mi / denom;                                                     \
            }                                                                                      \
        }                                                                                          \
    }
DEFINE_ADAM_KERNEL(float, f32, sqrtf)
DEFINE_ADAM_KERNEL(double, f64, sqrt)

/* ---- SGD ---- */

int ty_sgd_step(int n, ty_tensor *const *params, ty_optim_state *state, double lr, double momentum,
                double dampening, double weight_decay, bool nesterov) {
    const char *fn = "sgd_step";
    if (check_nonneg(fn, "lr", lr) < 0 || check_nonneg(fn, "momentum", momentum) < 0 ||
        check_nonneg(fn, "weight_decay", weight_decay) < 0)
        return -1;
    if (!isfinite(dampening)) return ty_error("%s: invalid dampening %g", fn, dampening);
    if (nesterov && (momentum <= 0 || dampening != 0))
        return ty_error("%s: nesterov momentum needs momentum > 0 and dampening 0, got "
                        "momentum %g and dampening %g",
                        fn, momentum, dampening);
    if (momentum != 0 && !state)
        return ty_error("%s: momentum %g needs a state (ty_optim_state_new)", fn, momentum);
    if (check_params(fn, n, params, state) < 0) return -1;

    /* Momentum buffers start as a copy of the first gradient; the kernel
     * fills the fresh (zeroed) buffer, so only its memory is made here. */
    bool *first = calloc(n > 0 ? (size_t)n : 1, sizeof *first);
    pending_buf *pend = calloc(n > 0 ? (size_t)n : 1, sizeof *pend);
    ty_tensor **like = calloc(n > 0 ? (size_t)n : 1, sizeof *like);
    int k = 0, rc = 0;
    if (!first || !pend || !like) {
        rc = ty_error("%s: out of memory", fn);
        goto done;
    }
    for (int i = 0; momentum != 0 && i < n; i++) {
        if (!params[i]->grad || state->param[i].momentum_buffer) continue;
        first[i] = true;
        pend[k].slot = &state->param[i].momentum_buffer;
        like[k++] = params[i];
    }
    if (make_buffers(fn, k, pend, like) < 0) {
        rc = -1;
        goto done;
    }

    for (int i = 0; i < n; i++) {
        ty_tensor *p = params[i];
        if (!p->grad) continue;
        ty_tensor *buf = momentum != 0 ? state->param[i].momentum_buffer : NULL;
        int64_t count = ty_numel(p);
        if (p->dtype == TY_F32)
            sgd_kernel_f32(count, ty_data(p), ty_data(p->grad), buf ? ty_data(buf) : NULL, first[i],
                           (float)-lr, (float)weight_decay, (float)momentum, (float)(1 - dampening),
                           nesterov);
        else
            sgd_kernel_f64(count, ty_data(p), ty_data(p->grad), buf ? ty_data(buf) : NULL, first[i],
                           -lr, weight_decay, momentum, 1 - dampening, nesterov);
        ty_bump_version(p);
        if (buf) ty_bump_version(buf);
        if (state) state->param[i].step++;
    }
done:
    free(first);
    free(pend);
    free(like);
    return rc;
}

/* ---- Adam and AdamW ---- */

static int adam_step(const char *fn, bool decoupled, int n, ty_tensor *const *params,
                     ty_optim_state *state, double lr, double beta1, double beta2, double eps,
                     double weight_decay, bool amsgrad) {
    if (check_nonneg(fn, "lr", lr) < 0 || check_nonneg(fn, "eps", eps) < 0 ||
        check_nonneg(fn, "weight_decay", weight_decay) < 0)
        return -1;
    if (!(beta1 >= 0 && beta1 < 1))
        return ty_error("%s: invalid beta1 %g: must be in [0, 1)", fn, beta1);
    if (!(beta2 >= 0 && beta2 < 1))
        return ty_error("%s: invalid beta2 %g: must be in [0, 1)", fn, beta2);
    if (!state) return ty_error("%s: state is NULL (make one with ty_optim_state_new)", fn);
    if (check_params(fn, n, params, state) < 0) return -1;

    /* up to three buffers per parameter */
    size_t cap = n > 0 ? 3 * (size_t)n : 1;
    pending_buf *pend = calloc(cap, sizeof *pend);
    ty_tensor **like = calloc(cap, sizeof *like);
    int k = 0, rc = 0;
    if (!pend || !like) {
        rc = ty_error("%s: out of memory", fn);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (!params[i]->grad) continue;
        ty_param_state *ps = &state->param[i];
        ty_tensor **slots[3] = {&ps->exp_avg, &ps->exp_avg_sq,
                                amsgrad ? &ps->max_exp_avg_sq : NULL};
        for (int j = 0; j < 3; j++) {
            if (!slots[j] || *slots[j]) continue;
            pend[k].slot = slots[j];
            like[k++] = params[i];
        }
    }
    if (make_buffers(fn, k, pend, like) < 0) {
        rc = -1;
        goto done;
    }

    for (int i = 0; i < n; i++) {
        ty_tensor *p = params[i];
        if (!p->grad) continue;
        ty_param_state *ps = &state->param[i];
        ps->step++;
        double step = (double)ps->step;
        adam_scalars s = {
            .decay = decoupled ? 1 - lr * weight_decay : 1,
            .l2 = decoupled ? 0 : weight_decay,
            .beta1 = beta1,
            .one_minus_beta1 = 1 - beta1,
            .beta2 = beta2,
            .one_minus_beta2 = 1 - beta2,
            .bias2_sqrt = sqrt(1 - pow(beta2, step)),
            .eps = eps,
            .neg_step_size = -(lr / (1 - pow(beta1, step))),
        };
        ty_tensor *vmax = amsgrad ? ps->max_exp_avg_sq : NULL;
        int64_t count = ty_numel(p);
        if (p->dtype == TY_F32)
            adam_kernel_f32(count, ty_data(p), ty_data(p->grad), ty_data(ps->exp_avg),
                            ty_data(ps->exp_avg_sq), vmax ? ty_data(vmax) : NULL, &s);
        else
            adam_kernel_f64(count, ty_data(p), ty_data(p->grad), ty_data(ps->exp_avg),
                            ty_data(ps->exp_avg_sq), vmax ? ty_data(vmax) : NULL, &s);
        ty_bump_version(p);
        ty_bump_version(ps->exp_avg);
        ty_bump_version(ps->exp_avg_sq);
        if (vmax) ty_bump_version(vmax);
    }
done:
    free(pend);
    free(like);
    return rc;
}

int ty_adam_step(int n, ty_tensor *const *params, ty_optim_state *state, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool amsgrad) {
    return adam_step("adam_step", false, n, params, state, lr, beta1, beta2, eps, weight_decay,
                     amsgrad);
}

int ty_adamw_step(int n, ty_tensor *const *params, ty_optim_state *state, double lr, double beta1,
                  double beta2, double eps, double weight_decay, bool amsgrad) {
    return adam_step("adamw_step", true, n, params, state, lr, beta1, beta2, eps, weight_decay,
                     amsgrad);
}

/* ---- clip_grad_norm ---- */

/* sum |x|^p over one grad (p finite), or max |x| (p infinite). Summed in
 * double; the p = 1 and p = 2 loops avoid pow. */
#define DEFINE_NORM_KERNEL(T, SUF)                                                                 \
    static double norm_kernel_##SUF(int64_t n, const T *x, double p) {                             \
        int nt = ty_threads_for(n);                                                                \
        double acc = 0;                                                                            \
        if (isinf(p)) {                                                                            \
            int has_nan = 0; /* OpenMP's max drops NaNs: count them apart */                       \
            PAR_MAX for (int64_t i = 0; i < n; i++) {                                              \
                double a = fabs((double)x[i]);                                                     \
                if (a != a)                                                                        \
                    has_nan = 1;                                                                   \
                else if (a > acc)                                                                  \
                    acc = a;                                                                       \
            }                                                                                      \
            return has_nan ? NAN : acc;                                                            \
        }                                                                                          \
        if (p == 2) {                                                                              \
            PAR_SUM for (int64_t i = 0; i < n; i++) acc += (double)x[i] * (double)x[i];            \
        } else if (p == 1) {                                                                       \
            PAR_SUM for (int64_t i = 0; i < n; i++) acc += fabs((double)x[i]);                     \
        } else {                                                                                   \
            PAR_SUM for (int64_t i = 0; i < n; i++) acc += pow(fabs((double)x[i]), p);             \
        }                                                                                          \
        return acc;                                                                                \
    }
DEFINE_NORM_KERNEL(float, f32)
DEFINE_NORM_KERNEL(double, f64)

#define DEFINE_SCALE_KERNEL(T, SUF)                                                                \
    static void scale_kernel_##SUF(int64_t n, T *x, T c) {                                         \
        int nt = ty_threads_for(n);                                                                \
        PAR_FOR for (int64_t i = 0; i < n; i++) x[i] = x[i] * c;                                   \
    }
DEFINE_SCALE_KERNEL(float, f32)
DEFINE_SCALE_KERNEL(double, f64)

int ty_clip_grad_norm(int n, ty_tensor *const *params, double max_norm, double norm_type,
                      double *total_norm) {
    const char *fn = "clip_grad_norm";
    if (!(max_norm >= 0)) return ty_error("%s: invalid max_norm %g: must be >= 0", fn, max_norm);
    if (!(norm_type > 0))
        return ty_error("%s: invalid norm_type %g: must be > 0 (or inf)", fn, norm_type);
    if (n < 0) return ty_error("%s: negative number of parameters %d", fn, n);
    if (n > 0 && !params) return ty_error("%s: params is NULL for %d parameters", fn, n);
    for (int i = 0; i < n; i++) {
        if (!params[i]) return ty_error("%s: param %d is NULL", fn, i);
        if (params[i]->grad && check_raw(fn, "grad of param", i, params[i]->grad) < 0) return -1;
    }

    /* The norm of the concatenation: max of the maxima, or the p-th root
     * of the summed p-th powers. */
    bool inf_norm = isinf(norm_type);
    double acc = 0;
    for (int i = 0; i < n; i++) {
        ty_tensor *g = params[i]->grad;
        if (!g) continue;
        double part = g->dtype == TY_F32 ? norm_kernel_f32(ty_numel(g), ty_data(g), norm_type)
                                         : norm_kernel_f64(ty_numel(g), ty_data(g), norm_type);
        if (inf_norm) {
            if (!isnan(acc) && (isnan(part) || part > acc)) acc = part; /* NaN sticks */
        } else
            acc += part;
    }
    double total = inf_norm ? acc : norm_type == 2 ? sqrt(acc) : pow(acc, 1 / norm_type);
    if (total_norm) *total_norm = total;

    /* PyTorch multiplies by min(coef, 1) unconditionally; multiplying by 1
     * changes no value, so it is skipped. NaN coefficients (NaN total)
     * are applied, as PyTorch does. */
    double coef = max_norm / (total + 1e-6);
    if (!(coef < 1) && !isnan(coef)) return 0;
    for (int i = 0; i < n; i++) {
        ty_tensor *g = params[i]->grad;
        if (!g) continue;
        if (g->dtype == TY_F32)
            scale_kernel_f32(ty_numel(g), ty_data(g), (float)coef);
        else
            scale_kernel_f64(ty_numel(g), ty_data(g), coef);
        ty_bump_version(g);
    }
    return 0;
}
