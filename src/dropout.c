/* Dropout and the mask application its backward reuses. The mask is a
 * bernoulli(p) draw (creation.c, stream in rng.c) inverted: dropped where
 * u < p, kept where u >= p. Both are recorded for autograd. */
#include "dropout.h"

#include "autograd.h"
#include "creation.h"
#include "error.h"
#include "parallel.h"

static int check_p(const char *fn, double p) {
    if (!(p >= 0 && p <= 1)) return ty_error("%s: p must be in [0, 1], got %g", fn, p);
    return 0;
}

static int check_float(const char *fn, const char *what, const ty_tensor *t) {
    if (ty_dtype_is_float(t->dtype)) return 0;
    return ty_error("%s: %s must have a floating dtype, got %s", fn, what, ty_dtype_name(t->dtype));
}

/* x * scale where mask is nonzero, 0 elsewhere, for already checked x and
 * mask of the same shape. Half x is computed in f32 and rounded back. The
 * scaled value is formed in double so both devices round it once, alike. */
static ty_tensor *masked_scale(const char *fn, ty_tensor *x, ty_tensor *mask, double p) {
    /* p = 1 keeps nothing; the scale is then never used. */
    double scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    bool keep_any = p < 1;
    ty_dtype wd = ty_compute_dtype(x->dtype);
    ty_tensor *xc = ty_contiguous(x);
    ty_tensor *xw = xc ? ty_cast(xc, wd) : NULL;
    ty_tensor *mc = ty_contiguous(mask);
    ty_tensor *out = xw && mc ? ty_empty(x->ndim, x->shape, wd, ty_cpu()) : NULL;
    ty_tensor_release(xc);
    if (!out) {
        ty_error_prefix(fn);
        ty_tensor_release(xw);
        ty_tensor_release(mc);
        return NULL;
    }
    int64_t n = ty_numel(out);
    const uint8_t *m = ty_data(mc);
    int nt = ty_threads_for(n);
    if (wd == TY_F32) {
        const float *xv = ty_data(xw);
        float *o = ty_data(out);
#pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t i = 0; i < n; i++)
            o[i] = keep_any && m[i] ? (float)((double)xv[i] * scale) : 0.0f;
    } else {
        const double *xv = ty_data(xw);
        double *o = ty_data(out);
#pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t i = 0; i < n; i++) o[i] = keep_any && m[i] ? xv[i] * scale : 0.0;
    }
    ty_tensor_release(xw);
    ty_tensor_release(mc);
    if (wd != x->dtype) {
        ty_tensor *half = ty_cast(out, x->dtype);
        ty_tensor_release(out);
        if (!half) ty_error_prefix(fn);
        out = half;
    }
    return out;
}

/* ---- autograd ----
 *
 * dropout and dropout_apply_mask are the same linear map g -> g * mask /
 * (1 - p), so one backward serves both: the node's input is x (or grad),
 * the mask is saved in slot 0 and p is n->d[0]. Its backward applies the
 * mask again through ty_dropout_apply_mask, which records itself the same
 * way, so gradients of any order reuse the one mask. */
static int dropout_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *mask = ty_saved(n, 0);
    if (!mask) return -1;
    gi[0] = ty_dropout_apply_mask(g[0], mask, n->d[0]);
    ty_tensor_release(mask);
    return gi[0] ? 0 : -1;
}

static void record_masked(const char *name, ty_tensor *in, ty_tensor *out, ty_tensor *mask,
                          double p) {
    ty_node *n = ty_record(name, dropout_backward, 1, &in, 1, &out);
    if (!n) return;
    ty_save(n, 0, mask);
    n->d[0] = p;
}

ty_tensor *ty_dropout(ty_tensor *x, double p, bool train, ty_generator *g, ty_tensor **mask_out) {
    if (mask_out) *mask_out = NULL;
    if (ty_check_cpu("dropout", x) < 0 || check_float("dropout", "x", x) < 0 ||
        check_p("dropout", p) < 0)
        return NULL;
    if (!train || p == 0) {
        if (mask_out) {
            *mask_out = ty_ones(x->ndim, x->shape, TY_BOOL, ty_cpu());
            if (!*mask_out) {
                ty_error_prefix("dropout");
                return NULL;
            }
        }
        return ty_tensor_retain(x);
    }
    ty_generator *gen = g ? g : ty_default_generator();
    uint64_t saved_offset = gen->offset;
    ty_tensor *mask = ty_bernoulli_scalar(p, x->ndim, x->shape, TY_BOOL, gen);
    if (!mask) {
        ty_error_prefix("dropout");
        return NULL;
    }
    /* bernoulli marks the dropped elements; the mask marks the kept ones. */
    uint8_t *m = ty_data(mask);
    int64_t n = ty_numel(mask);
    int nt = ty_threads_for(n);
#pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t i = 0; i < n; i++) m[i] = !m[i];
    /* The casts inside are part of this op, not nodes of their own. */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = masked_scale("dropout", x, mask, p);
    ty_set_grad_enabled(prev);
    if (!out) {
        gen->offset = saved_offset;
        ty_tensor_release(mask);
        return NULL;
    }
    record_masked("dropout", x, out, mask, p);
    if (mask_out)
        *mask_out = mask;
    else
        ty_tensor_release(mask);
    return out;
}

ty_tensor *ty_dropout_apply_mask(ty_tensor *grad, ty_tensor *mask, double p) {
    const char *fn = "dropout_apply_mask";
    if (ty_check_cpu(fn, grad) < 0 || ty_check_cpu(fn, mask) < 0 ||
        ty_check_same_device(fn, grad, mask) < 0 || check_float(fn, "grad", grad) < 0 ||
        check_p(fn, p) < 0)
        return NULL;
    if (mask->dtype != TY_BOOL && mask->dtype != TY_U8) {
        ty_error("%s: mask must be bool or u8, got %s", fn, ty_dtype_name(mask->dtype));
        return NULL;
    }
    bool same = grad->ndim == mask->ndim;
    for (int d = 0; same && d < grad->ndim; d++) same = grad->shape[d] == mask->shape[d];
    if (!same) {
        char bg[256], bm[256];
        ty_error("%s: grad shape %s does not match mask shape %s", fn,
                 ty_shape_str(grad, bg, sizeof bg), ty_shape_str(mask, bm, sizeof bm));
        return NULL;
    }
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = masked_scale(fn, grad, mask, p);
    ty_set_grad_enabled(prev);
    if (out) record_masked(fn, grad, out, mask, p);
    return out;
}
