/* Gradient checking: analytic vector-Jacobian products from the autograd
 * engine against central finite differences, in f64.
 *
 * Instead of building the whole Jacobian we project the output on a fixed
 * random vector v: the analytic side is one ty_grad call giving v^T J, the
 * numeric side perturbs each input element by +-eps and differences
 * <f(x), v>. A wrong gradient in any element shows up with probability 1. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autograd.h"
#include "creation.h"
#include "elementwise.h"
#include "error.h"
#include "reduce.h"
#include "rng.h"

static ty_tensor *random_like(int ndim, const int64_t *shape, uint64_t seed) {
    ty_generator g;
    ty_generator_init(&g, seed);
    ty_tensor *u = ty_rand(ndim, shape, TY_F64, &g);
    if (!u) return NULL;
    /* uniform in [-1, 1), away from special values like 0 and 1 */
    ty_tensor *v = ty_axpb(u, 2.0, -1.0);
    ty_tensor_release(u);
    return v;
}

/* <t, v> as a double; t any float dtype, v f64 of the same shape. */
static int dot_value(ty_tensor *t, ty_tensor *v, double *out) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *p = ty_mul(t, v);
    ty_tensor *s = p ? ty_sum(p, 0, NULL, false) : NULL;
    ty_set_grad_enabled(prev);
    int rc = s ? ty_item(s, out) : -1;
    ty_tensor_release(p);
    ty_tensor_release(s);
    return rc;
}

/* Offset (in elements) of row-major element i of t. */
static int64_t element_offset(const ty_tensor *t, int64_t i) {
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->strides[d];
        i /= t->shape[d];
    }
    return off;
}

static int check_inputs(const char *fn, int n, ty_tensor *const *inputs, int *n_req) {
    *n_req = 0;
    for (int k = 0; k < n; k++) {
        ty_tensor *t = inputs[k];
        if (!t) return ty_error("%s: input %d is missing", fn, k);
        if (!t->requires_grad) continue;
        if (t->dtype != TY_F64)
            return ty_error("%s: input %d has dtype %s; gradients are checked in f64", fn, k,
                            ty_dtype_name(t->dtype));
        if (ty_check_cpu(fn, t) < 0) return -1;
        for (int d = 0; d < t->ndim; d++)
            if (t->strides[d] == 0 && t->shape[d] > 1)
                return ty_error("%s: input %d is a broadcast view whose elements share memory; "
                                "pass a contiguous copy",
                                fn, k);
        (*n_req)++;
    }
    if (*n_req == 0) return ty_error("%s: no input requires grad", fn);
    /* both checks keep per-input arrays of this size */
    if (*n_req > 64) return ty_error("%s: at most 64 inputs may require grad, got %d", fn, *n_req);
    return 0;
}

/* create_graph: compute the analytic side through the recorded (create_graph)
 * backward formulas, which some ops implement separately from their fused
 * first-order path. */
static int gradcheck_impl(ty_gradcheck_fn f, void *ctx, int n, ty_tensor *const *inputs, double eps,
                          double atol, double rtol, bool create_graph,
                          ty_gradcheck_report *report) {
    ty_gradcheck_report local;
    ty_gradcheck_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    rep->input = -1;
    int n_req;
    if (check_inputs("gradcheck", n, inputs, &n_req) < 0) return -1;

    bool prev = ty_set_grad_enabled(true);
    ty_tensor *out = f(ctx, n, inputs);
    ty_set_grad_enabled(prev);
    if (!out) {
        ty_error_prefix("gradcheck");
        return -1;
    }
    ty_tensor *v = random_like(out->ndim, out->shape, 0x9e3779b9u);
    ty_tensor *req[64];
    int idx[64], m = 0;
    ty_tensor *grads[64] = {0};
    int rc = v ? 0 : -1;
    for (int k = 0; k < n && m < 64; k++)
        if (inputs[k]->requires_grad) {
            req[m] = inputs[k];
            idx[m++] = k;
        }
    /* analytic: v^T J for every input (an output that does not depend on
     * the inputs at all has zero gradients) */
    if (rc == 0 && out->requires_grad) {
        rc = ty_grad(1, &out, &v, m, req, false, create_graph, true, grads);
    }
    for (int j = 0; j < m && rc == 0; j++) {
        if (grads[j]) continue;
        grads[j] = ty_zeros(req[j]->ndim, req[j]->shape, TY_F64, req[j]->device);
        if (!grads[j]) rc = -1;
    }
    ty_tensor_release(out);

    /* numeric: central differences of <f(x), v>, element by element */
    int result = 1;
    double worst_bad = 0;
    prev = ty_set_grad_enabled(false);
    for (int j = 0; j < m && rc == 0; j++) {
        ty_tensor *x = req[j];
        double *data = (double *)x->storage->data;
        int64_t numel = ty_numel(x);
        for (int64_t i = 0; i < numel && rc == 0; i++) {
            int64_t off = element_offset(x, i);
            double orig = data[off], plus, minus;
            /* each value is read before the element changes again: f may
             * return a view of its input */
            data[off] = orig + eps;
            ty_tensor *op = f(ctx, n, inputs);
            int ok = op && dot_value(op, v, &plus) == 0;
            ty_tensor_release(op);
            ty_tensor *om = NULL;
            if (ok) {
                data[off] = orig - eps;
                om = f(ctx, n, inputs);
                ok = om && dot_value(om, v, &minus) == 0;
                ty_tensor_release(om);
            }
            data[off] = orig;
            if (!ok) {
                ty_error_prefix("gradcheck");
                rc = -1;
                break;
            }
            double numeric = (plus - minus) / (2 * eps);
            double analytic = ty_get_flat(grads[j], i);
            double err = fabs(analytic - numeric);
            if (isnan(err) && !(isnan(analytic) && isnan(numeric))) err = INFINITY;
            if (isinf(analytic) && analytic == numeric) err = 0; /* e.g. sqrt'(0) */
            bool bad = !(err <= atol + rtol * fabs(numeric));
            /* report the worst failing element, or the worst one overall */
            if ((bad && (result == 1 || err > worst_bad)) ||
                (result == 1 && err >= rep->max_abs_err)) {
                rep->max_abs_err = err;
                rep->input = idx[j];
                rep->element = i;
                rep->analytic = analytic;
                rep->numeric = numeric;
            }
            if (bad && (result == 1 || err > worst_bad)) {
                result = 0;
                worst_bad = err;
                snprintf(rep->message, sizeof rep->message,
                         "gradient of input %d differs at element %lld: analytic %.10g, "
                         "numeric %.10g (|diff| %.3g > atol %.3g + rtol %.3g * |numeric|)",
                         idx[j], (long long)i, analytic, numeric, err, atol, rtol);
            }
        }
    }
    ty_set_grad_enabled(prev);
    for (int j = 0; j < m; j++) ty_tensor_release(grads[j]);
    ty_tensor_release(v);
    return rc ? -1 : result;
}

int ty_gradcheck(ty_gradcheck_fn f, void *ctx, int n, ty_tensor *const *inputs, double eps,
                 double atol, double rtol, ty_gradcheck_report *report) {
    return gradcheck_impl(f, ctx, n, inputs, eps, atol, rtol, false, report);
}

/* ---- second derivatives ---- */

typedef struct {
    ty_gradcheck_fn f;
    void *ctx;
    ty_tensor *v;     /* projection of f's output */
    ty_tensor *w[64]; /* projections of the first-order gradients */
} gradgrad_ctx;

/* sum_k <d<f(x), v>/dx_k, w_k>, built with create_graph so the outer
 * gradcheck can differentiate it. */
static ty_tensor *first_order(void *vctx, int n, ty_tensor *const *inputs) {
    gradgrad_ctx *c = vctx;
    bool prev = ty_set_grad_enabled(true);
    ty_tensor *out = c->f(c->ctx, n, inputs);
    ty_tensor *req[64], *grads[64] = {0};
    int m = 0;
    for (int k = 0; k < n && m < 64; k++)
        if (inputs[k]->requires_grad) req[m++] = inputs[k];
    ty_tensor *total = NULL;
    int rc = out ? 0 : -1;
    if (rc == 0 && out->requires_grad)
        rc = ty_grad(1, &out, &c->v, m, req, true, true, true, grads);
    if (rc == 0) total = ty_zeros(0, NULL, TY_F64, ty_cpu());
    for (int j = 0; j < m && total; j++) {
        if (!grads[j]) continue;
        ty_tensor *p = ty_mul(grads[j], c->w[j]);
        ty_tensor *s = p ? ty_sum(p, 0, NULL, false) : NULL;
        ty_tensor *t = s ? ty_add(total, s) : NULL;
        ty_tensor_release(p);
        ty_tensor_release(s);
        ty_tensor_release(total);
        total = t;
    }
    for (int j = 0; j < m; j++) ty_tensor_release(grads[j]);
    ty_tensor_release(out);
    ty_set_grad_enabled(prev);
    return total;
}

int ty_gradgradcheck(ty_gradcheck_fn f, void *ctx, int n, ty_tensor *const *inputs, double eps,
                     double atol, double rtol, ty_gradcheck_report *report) {
    int n_req;
    if (check_inputs("gradgradcheck", n, inputs, &n_req) < 0) return -1;
    /* The first derivative as the create_graph pass computes it must be
     * right too: the second-order check below only tests consistency with
     * it. */
    int first = gradcheck_impl(f, ctx, n, inputs, eps, atol, rtol, true, report);
    if (first != 1) return first;
    gradgrad_ctx c = {.f = f, .ctx = ctx};
    bool prev = ty_set_grad_enabled(true);
    ty_tensor *out = f(ctx, n, inputs);
    ty_set_grad_enabled(prev);
    if (!out) {
        ty_error_prefix("gradgradcheck");
        return -1;
    }
    c.v = random_like(out->ndim, out->shape, 0x51ed27u);
    ty_tensor_release(out);
    int rc = c.v ? 0 : -1;
    for (int k = 0, m = 0; k < n && rc == 0; k++) {
        if (!inputs[k]->requires_grad) continue;
        c.w[m] = random_like(inputs[k]->ndim, inputs[k]->shape, 0xabcdefu + (uint64_t)k);
        if (!c.w[m++]) rc = -1;
    }
    int result = rc == 0 ? ty_gradcheck(first_order, &c, n, inputs, eps, atol, rtol, report) : -1;
    ty_tensor_release(c.v);
    for (int k = 0; k < 64; k++) ty_tensor_release(c.w[k]);
    return result;
}
