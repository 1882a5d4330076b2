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

ty_tensor *ty_cross_entropy(ty_tensor *logits, ty_tensor *labels, const ty_loss_opts *opts,
                            ty_tensor **probs_out) {
    const char *fn = "cross_entropy";
    ty_loss_opts o = opts ? *opts : TY_LOSS_OPTS_DEFAULT;
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

ty_tensor *ty_nll_loss(ty_tensor *logp, ty_tensor *labels, const ty_loss_opts *opts) {
    const char *fn = "nll_loss";
    ty_loss_opts o = opts ? *opts : TY_LOSS_OPTS_DEFAULT;
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
