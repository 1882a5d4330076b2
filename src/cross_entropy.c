/* Cross-entropy (fused with log-softmax) and NLL losses over class indices.
 *
 * Logits are (N, C, d1, ...), (N, C) or (C); contiguous, they are seen as
 * N * S rows of C classes `S` apart (S = d1 * ...; S = 1 without spatial
 * dims). Each row's log-sum-exp is computed once, in double, and the row's
 * loss follows from it without writing log-probabilities anywhere:
 *   nll    = lse - x[label]
 *   smooth = sum_c (lse - x[c]) = C * lse - sum_c x[c]
 *   loss   = (1 - e) * nll + e / C * smooth     (e = label smoothing)
 * Labels are all checked before anything is computed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "autograd.h"
#include "elementwise.h"
#include "error.h"
#include "nn_kernels.h"
#include "parallel.h"

/* Rows handed to one parallel loop between two interrupt checks. */
#define CHUNK_ELEMS ((int64_t)1 << 22)

/* The (N, C, S) view of the class layout, with the checked labels. */
typedef struct {
    int64_t N, C, S;
    ty_tensor *labels; /* contiguous i64, shaped like the per-target losses */
} loss_layout;

/* One row's loss for T = float and double (0 when ignored). When p is not
 * NULL the row's softmax is written there, which costs only the stores
 * because the exps are computed for the sum anyway. */
#define DEFINE_CE_ROW(T, EXP)                                                                      \
    static double ce_row_##T(const T *x, T *p, int64_t C, int64_t s, int64_t label, bool ignored,  \
                             double smoothing) {                                                   \
        T max = -INFINITY;                                                                         \
        for (int64_t c = 0; c < C; c++)                                                            \
            if (x[c * s] > max) max = x[c * s];                                                    \
        double sum = 0, xsum = 0;                                                                  \
        for (int64_t c = 0; c < C; c++) {                                                          \
            T e = EXP(x[c * s] - max);                                                             \
            if (p) p[c * s] = e;                                                                   \
            sum += e;                                                                              \
            xsum += x[c * s];                                                                      \
        }                                                                                          \
        if (p) {                                                                                   \
            T inv = (T)(1.0 / sum);                                                                \
            for (int64_t c = 0; c < C; c++) p[c * s] *= inv;                                       \
        }                                                                                          \
        if (ignored) return 0;                                                                     \
        double lse = (double)max + log(sum);                                                       \
        double loss = lse - (double)x[label * s];                                                  \
        if (smoothing > 0)                                                                         \
            loss = (1 - smoothing) * loss + smoothing / (double)C * ((double)C * lse - xsum);      \
        return loss;                                                                               \
    }

DEFINE_CE_ROW(float, expf)
DEFINE_CE_ROW(double, exp)

/* A contiguous copy of t in dtype ct (or t itself, retained). */
static ty_tensor *compute_copy(ty_tensor *t, ty_dtype ct) {
    ty_tensor *cast = ty_cast(t, ct);
    if (!cast) return NULL;
    ty_tensor *c = ty_contiguous(cast);
    ty_tensor_release(cast);
    return c;
}

/* Checks dtypes, shapes, options and every label; fills *lay. */
static int check_loss_args(const char *fn, ty_tensor *x, ty_tensor *labels, const ty_loss_opts *o,
                           loss_layout *lay) {
    char bx[256], bl[256], be[256];
    if (ty_check_cpu(fn, x) < 0 || ty_check_cpu(fn, labels) < 0 ||
        ty_check_same_device(fn, x, labels) < 0)
        return -1;
    if (!ty_dtype_is_float(x->dtype))
        return ty_error("%s: expected floating-point logits, got %s", fn, ty_dtype_name(x->dtype));
    if (labels->dtype != TY_I64)
        return ty_error("%s: labels must be i64 class indices, got %s", fn,
                        ty_dtype_name(labels->dtype));
    if (x->ndim < 1)
        return ty_error("%s: logits must have a class dim, got shape %s", fn,
                        ty_shape_str(x, bx, sizeof bx));
    if (o->reduction != TY_REDUCTION_MEAN && o->reduction != TY_REDUCTION_SUM &&
        o->reduction != TY_REDUCTION_NONE)
        return ty_error("%s: unknown reduction %d", fn, (int)o->reduction);
    if (!(o->label_smoothing >= 0 && o->label_smoothing <= 1))
        return ty_error("%s: label_smoothing %g is not in [0, 1]", fn, o->label_smoothing);

    /* labels have the logits' shape without the class dim (dim 1, or 0 for 1-D) */
    int cdim = x->ndim == 1 ? 0 : 1;
    int64_t want[TY_MAX_DIMS];
    int nwant = 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != cdim) want[nwant++] = x->shape[d];
    int same = labels->ndim == nwant;
    for (int d = 0; same && d < nwant; d++) same = labels->shape[d] == want[d];
    if (!same)
        return ty_error("%s: labels of shape %s do not match logits of shape %s: expected %s", fn,
                        ty_shape_str(labels, bl, sizeof bl), ty_shape_str(x, bx, sizeof bx),
                        ty_shape_str_n(nwant, want, be, sizeof be));
    lay->C = x->shape[cdim];
    lay->N = x->ndim == 1 ? 1 : x->shape[0];
    lay->S = 1;
    for (int d = 2; d < x->ndim; d++) lay->S *= x->shape[d];

    lay->labels = ty_contiguous(labels);
    if (!lay->labels) {
        ty_error_prefix(fn);
        return -1;
    }
    const int64_t *lab = ty_data(lay->labels);
    int64_t n = ty_numel(lay->labels);
    for (int64_t i = 0; i < n; i++) {
        if (lab[i] == o->ignore_index || (lab[i] >= 0 && lab[i] < lay->C)) continue;
        char pos[256] = "";
        if (labels->ndim == 1) {
            snprintf(pos, sizeof pos, " at position %lld", (long long)i);
        } else if (labels->ndim > 1) {
            int64_t idx[TY_MAX_DIMS], rest = i;
            for (int d = labels->ndim - 1; d >= 0; d--) {
                idx[d] = rest % labels->shape[d];
                rest /= labels->shape[d];
            }
            char tuple[200];
            snprintf(pos, sizeof pos, " at position %s",
                     ty_shape_str_n(labels->ndim, idx, tuple, sizeof tuple));
        }
        ty_error("%s: label %lld%s is out of range for %lld classes (0 to %lld, or ignore_index "
                 "%lld)",
                 fn, (long long)lab[i], pos, (long long)lay->C, (long long)lay->C - 1,
                 (long long)o->ignore_index);
        ty_tensor_release(lay->labels);
        lay->labels = NULL;
        return -1;
    }
    return 0;
}

/* Reduces per-target losses (double) into the result tensor of dtype dt. */
static ty_tensor *reduce_losses(const char *fn, const double *loss, const loss_layout *lay,
                                const ty_loss_opts *o, ty_dtype dt) {
    int64_t n = lay->N * lay->S;
    const int64_t *lab = ty_data(lay->labels);
    ty_tensor *out;
    if (o->reduction == TY_REDUCTION_NONE) {
        out = ty_empty(lay->labels->ndim, lay->labels->shape, TY_F64, lay->labels->device);
        if (out)
            for (int64_t i = 0; i < n; i++) ((double *)ty_data(out))[i] = loss[i];
    } else {
        double sum = 0;
        int64_t count = 0;
        for (int64_t i = 0; i < n; i++) {
            sum += loss[i];
            count += lab[i] != o->ignore_index;
        }
        /* 0/0 = NaN when every target is ignored, as in PyTorch */
        out = ty_scalar(o->reduction == TY_REDUCTION_SUM ? sum : sum / (double)count, TY_F64);
    }
    if (!out) {
        ty_error_prefix(fn);
        return NULL;
    }
    ty_tensor *res = ty_cast(out, dt);
    ty_tensor_release(out);
    if (!res) ty_error_prefix(fn);
    return res;
}

/* The forward passes with no autograd (the public functions are below). */
static ty_tensor *cross_entropy_forward(ty_tensor *logits, ty_tensor *labels, ty_loss_opts o,
                                        ty_tensor **probs_out) {
    const char *fn = "cross_entropy";
    loss_layout lay = {0};
    if (probs_out) *probs_out = NULL;
    if (check_loss_args(fn, logits, labels, &o, &lay) < 0) return NULL;

    ty_dtype ct = ty_compute_dtype(logits->dtype);
    ty_tensor *xc = NULL, *probs = NULL, *out = NULL;
    int64_t rows = lay.N * lay.S;
    double *loss = malloc(sizeof(double) * (size_t)(rows > 0 ? rows : 1));
    if (!loss) {
        ty_error("cross_entropy: out of memory for %lld losses", (long long)rows);
        goto done;
    }
    if (!(xc = compute_copy(logits, ct)) ||
        (probs_out && !(probs = ty_empty(logits->ndim, logits->shape, ct, logits->device)))) {
        ty_error_prefix(fn);
        goto done;
    }

    const int64_t *lab = ty_data(lay.labels);
    int64_t C = lay.C, S = lay.S;
    int64_t chunk = C > 0 && CHUNK_ELEMS / C > 0 ? CHUNK_ELEMS / C : 1;
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        if (ty_check_interrupt(fn) < 0) goto done;
        int64_t r1 = r0 + chunk < rows ? r0 + chunk : rows;
        int nt = ty_threads_for((r1 - r0) * C * 4);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t r = r0; r < r1; r++) {
            int64_t base = (r / S) * C * S + r % S;
            bool ignored = lab[r] == o.ignore_index;
            if (ct == TY_F64)
                loss[r] = ce_row_double((const double *)ty_data(xc) + base,
                                        probs ? (double *)ty_data(probs) + base : NULL, C, S,
                                        lab[r], ignored, o.label_smoothing);
            else
                loss[r] = ce_row_float((const float *)ty_data(xc) + base,
                                       probs ? (float *)ty_data(probs) + base : NULL, C, S, lab[r],
                                       ignored, o.label_smoothing);
        }
    }

    out = reduce_losses(fn, loss, &lay, &o, logits->dtype);
    if (out && probs && ct != logits->dtype) {
        ty_tensor *h = ty_cast(probs, logits->dtype);
        ty_tensor_release(probs);
        probs = h;
        if (!h) {
            ty_error_prefix(fn);
            ty_tensor_release(out);
            out = NULL;
        }
    }

done:
    free(loss);
    ty_tensor_release(xc);
    ty_tensor_release(lay.labels);
    if (out && probs_out)
        *probs_out = probs;
    else
        ty_tensor_release(probs);
    return out;
}

static ty_tensor *nll_loss_forward(ty_tensor *logp, ty_tensor *labels, ty_loss_opts o) {
    const char *fn = "nll_loss";
    loss_layout lay = {0};
    if (o.label_smoothing != 0) {
        ty_error("nll_loss: label_smoothing %g is not supported (use cross_entropy)",
                 o.label_smoothing);
        return NULL;
    }
    if (check_loss_args(fn, logp, labels, &o, &lay) < 0) return NULL;

    ty_tensor *xc = NULL, *out = NULL;
    int64_t rows = lay.N * lay.S;
    double *loss = malloc(sizeof(double) * (size_t)(rows > 0 ? rows : 1));
    if (!loss) {
        ty_error("nll_loss: out of memory for %lld losses", (long long)rows);
        goto done;
    }
    if (!(xc = compute_copy(logp, ty_compute_dtype(logp->dtype)))) {
        ty_error_prefix(fn);
        goto done;
    }
    const int64_t *lab = ty_data(lay.labels);
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = (r / lay.S) * lay.C * lay.S + r % lay.S + lab[r] * lay.S;
        if (lab[r] == o.ignore_index)
            loss[r] = 0;
        else if (xc->dtype == TY_F64)
            loss[r] = -((const double *)ty_data(xc))[i];
        else
            loss[r] = -(double)((const float *)ty_data(xc))[i];
    }
    out = reduce_losses(fn, loss, &lay, &o, logp->dtype);

done:
    free(loss);
    ty_tensor_release(xc);
    ty_tensor_release(lay.labels);
    return out;
}

/* ---- autograd ----
 *
 * Only the logits (log-probabilities for nll_loss) get a gradient; labels
 * are integers. For target r with weight a_r (the loss's gradient: g[r] for
 * reduction none, g for sum, g / count for mean, count the non-ignored
 * targets; 0 for an ignored target) and q_r the target distribution
 * (1 - e) one-hot(label) + e / C:
 *   cross_entropy:  gx[r, c] = a_r * (softmax(x)[r, c] - q_r[c])
 *   nll_loss:       gx[r, c] = -a_r * one-hot(label)[c]
 * When every target is ignored the mean loss is NaN but the gradient is 0,
 * as in PyTorch. Under create_graph the cross-entropy gradient is built from
 * differentiable ops (the softmax recomputed with ty_softmax, the targets
 * and weights as constant tensors), so it can be differentiated again;
 * otherwise one fused pass uses the probabilities saved by the forward.
 * nll_loss's gradient does not depend on its input, so one product of
 * constants with g serves both cases. */

/* The logits' (N, C, S) layout from their shape. */
static void layout_of(const ty_meta *m, int64_t *N, int64_t *C, int64_t *S) {
    int cdim = m->ndim == 1 ? 0 : 1;
    *C = m->shape[cdim];
    *N = m->ndim == 1 ? 1 : m->shape[0];
    *S = 1;
    for (int d = 2; d < m->ndim; d++) *S *= m->shape[d];
}

/* a_r's factor besides g: 0 for ignored targets, 1 / count (mean) or 1. */
static double target_scale(const int64_t *lab, int64_t rows, const ty_loss_opts *o) {
    if (o->reduction != TY_REDUCTION_MEAN) return 1;
    int64_t count = 0;
    for (int64_t r = 0; r < rows; r++) count += lab[r] != o->ignore_index;
    return count > 0 ? 1.0 / (double)count : 0; /* count 0: every target is ignored */
}

#define DEFINE_CE_BACKWARD_ROW(T)                                                                  \
    static void ce_bwd_row_##T(const T *p, T *gx, int64_t C, int64_t s, int64_t label,             \
                               bool ignored, double a, double smoothing) {                         \
        double u = smoothing / (double)C, hit = 1 - smoothing;                                     \
        for (int64_t c = 0; c < C; c++)                                                            \
            gx[c * s] = ignored ? 0 : (T)(a * ((double)p[c * s] - u - (c == label ? hit : 0)));    \
    }

DEFINE_CE_BACKWARD_ROW(float)
DEFINE_CE_BACKWARD_ROW(double)

/* The fused cross-entropy gradient from the saved probabilities. */
static ty_tensor *ce_grad_fused(const ty_meta *m, ty_tensor *probs, ty_tensor *labels, ty_tensor *g,
                                const ty_loss_opts *o) {
    int64_t N, C, S;
    layout_of(m, &N, &C, &S);
    ty_dtype ct = ty_compute_dtype(probs->dtype);
    ty_tensor *pc = compute_copy(probs, ct), *gc = pc ? compute_copy(g, TY_F64) : NULL;
    ty_tensor *gx = gc ? ty_empty(m->ndim, m->shape, ct, m->device) : NULL;
    if (!gx) {
        ty_tensor_release(pc);
        ty_tensor_release(gc);
        return NULL;
    }
    const int64_t *lab = ty_data(labels);
    const double *gv = ty_data(gc);
    bool per_target = o->reduction == TY_REDUCTION_NONE;
    int64_t rows = N * S;
    double scale = target_scale(lab, rows, o);
    int64_t chunk = C > 0 && CHUNK_ELEMS / C > 0 ? CHUNK_ELEMS / C : 1;
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        if (ty_check_interrupt("cross_entropy_backward") < 0) {
            ty_tensor_release(gx);
            gx = NULL;
            break;
        }
        int64_t r1 = r0 + chunk < rows ? r0 + chunk : rows;
        int nt = ty_threads_for((r1 - r0) * C * 2);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t r = r0; r < r1; r++) {
            int64_t base = (r / S) * C * S + r % S;
            bool ignored = lab[r] == o->ignore_index;
            double a = (per_target ? gv[r] : gv[0]) * scale;
            if (ct == TY_F64)
                ce_bwd_row_double((const double *)ty_data(pc) + base, (double *)ty_data(gx) + base,
                                  C, S, lab[r], ignored, a, o->label_smoothing);
            else
                ce_bwd_row_float((const float *)ty_data(pc) + base, (float *)ty_data(gx) + base, C,
                                 S, lab[r], ignored, a, o->label_smoothing);
        }
    }
    ty_tensor_release(pc);
    ty_tensor_release(gc);
    return gx;
}

/* Constant tensors for the composed gradients, in dtype dt:
 *   *q: the logits' shape, sign * the target distribution of every row
 *       (whatever it is at ignored rows: *w zeroes them)
 *   *w: the logits' shape with the class dim 1, a_r / g. */
static int loss_constants(const ty_meta *m, const int64_t *lab, const ty_loss_opts *o, ty_dtype dt,
                          double sign, ty_tensor **q, ty_tensor **w) {
    int64_t N, C, S;
    layout_of(m, &N, &C, &S);
    int64_t wshape[TY_MAX_DIMS];
    for (int d = 0; d < m->ndim; d++) wshape[d] = d == (m->ndim == 1 ? 0 : 1) ? 1 : m->shape[d];
    ty_tensor *q64 = ty_empty(m->ndim, m->shape, TY_F64, m->device);
    ty_tensor *w64 = q64 ? ty_empty(m->ndim, wshape, TY_F64, m->device) : NULL;
    *q = *w = NULL;
    if (w64) {
        double *qv = ty_data(q64), *wv = ty_data(w64);
        int64_t rows = N * S;
        double scale = target_scale(lab, rows, o);
        double u = sign * o->label_smoothing / (double)C, hit = sign * (1 - o->label_smoothing);
        for (int64_t r = 0; r < rows; r++) {
            int64_t base = (r / S) * C * S + r % S;
            bool ignored = lab[r] == o->ignore_index;
            for (int64_t c = 0; c < C; c++)
                qv[base + c * S] = u + (!ignored && c == lab[r] ? hit : 0);
            wv[r] = ignored ? 0 : scale;
        }
        *q = ty_cast(q64, dt);
        *w = *q ? ty_cast(w64, dt) : NULL;
    }
    ty_tensor_release(q64);
    ty_tensor_release(w64);
    if (*w) return 0;
    ty_tensor_release(*q);
    *q = NULL;
    return -1;
}

/* g times the constant row weights, shaped to broadcast over the classes. */
static ty_tensor *row_weights(const ty_meta *m, ty_tensor *g, ty_tensor *w, const ty_loss_opts *o) {
    /* per-target gradients have the labels' shape: put the class dim back */
    if (o->reduction == TY_REDUCTION_NONE && m->ndim >= 2) {
        ty_tensor *gk = ty_unsqueeze(g, 1);
        ty_tensor *a = gk ? ty_mul(gk, w) : NULL;
        ty_tensor_release(gk);
        return a;
    }
    return ty_mul(g, w);
}

/* Node layout: saved 0 = logits (cross_entropy), 1 = labels, 2 = probs
 * (cross_entropy); i[0] = reduction, i[1] = ignore_index, i[2] = 1 for
 * nll_loss; d[0] = label_smoothing. */
static int loss_backward(ty_node *n, ty_tensor *const *grad_out, ty_tensor **grad_in) {
    if (!ty_node_needs_grad(n, 0)) return 0;
    ty_loss_opts o = {(ty_reduction)n->i[0], n->i[1], n->d[0]};
    bool nll = n->i[2] != 0;
    const ty_meta *m = &n->input_meta[0];
    ty_tensor *saved = ty_saved(n, 1);
    ty_tensor *labels = saved ? ty_contiguous(saved) : NULL;
    ty_tensor_release(saved);
    if (!labels) return -1;
    ty_dtype ct = ty_compute_dtype(m->dtype);
    ty_tensor *gx = NULL;
    if (!nll && !ty_grad_enabled()) {
        ty_tensor *probs = ty_saved(n, 2);
        gx = probs ? ce_grad_fused(m, probs, labels, grad_out[0], &o) : NULL;
        ty_tensor_release(probs);
    } else {
        ty_tensor *q = NULL, *w = NULL, *x = NULL, *p = NULL, *d = NULL, *a = NULL;
        if (loss_constants(m, ty_data(labels), &o, ct, nll ? -1 : 1, &q, &w) == 0 &&
            (a = row_weights(m, grad_out[0], w, &o))) {
            if (nll) {
                gx = ty_mul(q, a);
            } else if ((x = ty_saved(n, 0)) && (p = ty_softmax(x, m->ndim == 1 ? 0 : 1)) &&
                       (d = ty_sub(p, q))) {
                gx = ty_mul(d, a);
            }
        }
        ty_tensor *tmp[] = {q, w, x, p, d, a};
        for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) ty_tensor_release(tmp[i]);
    }
    ty_tensor_release(labels);
    grad_in[0] = gx;
    return gx ? 0 : -1;
}

ty_tensor *ty_cross_entropy(ty_tensor *logits, ty_tensor *labels, const ty_loss_opts *opts,
                            ty_tensor **probs_out) {
    ty_loss_opts o = opts ? *opts : TY_LOSS_OPTS_DEFAULT;
    if (probs_out) *probs_out = NULL;
    /* the backward's fused path needs the probabilities: keep them when
     * recording (they cost only the stores) */
    bool record = ty_any_requires_grad(1, &logits);
    ty_tensor *probs = NULL;
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = cross_entropy_forward(logits, labels, o, record || probs_out ? &probs : NULL);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_node *n = ty_record("cross_entropy", loss_backward, 1, &logits, 1, &out);
    if (n) {
        ty_save(n, 0, logits);
        ty_save(n, 1, labels);
        ty_save(n, 2, probs);
        n->i[0] = o.reduction;
        n->i[1] = o.ignore_index;
        n->i[2] = 0;
        n->d[0] = o.label_smoothing;
    }
    if (probs_out)
        *probs_out = probs;
    else
        ty_tensor_release(probs);
    return out;
}

ty_tensor *ty_nll_loss(ty_tensor *logp, ty_tensor *labels, const ty_loss_opts *opts) {
    ty_loss_opts o = opts ? *opts : TY_LOSS_OPTS_DEFAULT;
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = nll_loss_forward(logp, labels, o);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_node *n = ty_record("nll_loss", loss_backward, 1, &logp, 1, &out);
    if (n) {
        ty_save(n, 1, labels);
        n->i[0] = o.reduction;
        n->i[1] = o.ignore_index;
        n->i[2] = 1;
    }
    return out;
}
