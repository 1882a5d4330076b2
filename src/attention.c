/* Scaled dot-product attention: softmax(q k^T * scale + mask) v.
 *
 * q, k and v are made contiguous once (never expanded: a k shared by every
 * head stays one copy) and the batch dims are walked with per-operand
 * strides that are 0 on broadcast dims. Each batch item is two GEMMs with
 * the softmax in between:
 *   scores (Lq,Lk) = scale * Q K^T        cblas ?gemm, written straight into
 *                                          the weights output when asked for
 *   mask, causal, softmax in place         row by row
 *   out (Lq,Dv)    = weights V            cblas ?gemm
 *
 * Threads: the batch items run one after another and OpenBLAS threads each
 * GEMM itself when it is large enough; the softmax between them stays on
 * one thread. Measured on 2 cores, splitting the softmax rows over OpenMP
 * threads made (2,8,1024,64) twice slower (OpenBLAS's pthreads, still
 * spinning after the GEMM, fight the OpenMP team), and running the items in
 * parallel would need cblas calls inside an OpenMP region, which the
 * pthreads OpenBLAS does not promise to keep single-threaded. The interrupt
 * flag is polled between items.
 *
 * A query row whose scores are all -inf (every key masked) gets weights 0
 * and output 0, as PyTorch's SDPA does since 2.5, instead of NaN. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "autograd.h"
#include "elementwise.h"
#include "error.h"
#include "gemm.h"
#include "parallel.h"
#include "vecmath.h"
#include "linalg.h"
#include "nn_kernels.h"
#include "reduce.h"

/* The mask of one batch item: element (i, j) is at i * si + j * sj (strides 0
 * where the mask broadcasts). At most one of keep and add is set. */
typedef struct {
    const uint8_t *keep; /* bool/u8 mask: 0 drops the key */
    const void *add;     /* float mask in the compute dtype, added to the scores */
    int64_t si, sj;
} item_mask;

/* One batch item for T = float and double; s is the (Lq,Lk) score buffer,
 * left holding the softmax weights. */
#define DEFINE_ATTEND(T, GEMM, EXP)                                                                \
    static int attend_##T(const T *q, const T *k, const T *v, T *s, T *o, const item_mask *m,      \
                          int64_t Lq, int64_t Lk, int64_t D, int64_t Dv, T scale, bool causal) {   \
        if (Lq == 0) return 0;                                                                     \
        if (Lk > 0 && D > 0) {                                                                     \
            if (GEMM(true, Lq, Lk, D, scale, q, D, k, D, s, Lk) < 0) return -1;                    \
        } else /* D == 0: every score is an empty sum */                                           \
            memset(s, 0, sizeof(T) * (size_t)(Lq * Lk));                                           \
        for (int64_t i = 0; i < Lq; i++) {                                                         \
            T *row = s + i * Lk;                                                                   \
            if (m->keep) {                                                                         \
                for (int64_t j = 0; j < Lk; j++)                                                   \
                    if (!m->keep[i * m->si + j * m->sj]) row[j] = -INFINITY;                       \
            } else if (m->add) {                                                                   \
                const T *add = m->add;                                                             \
                for (int64_t j = 0; j < Lk; j++) row[j] += add[i * m->si + j * m->sj];             \
            }                                                                                      \
            if (causal)                                                                            \
                for (int64_t j = i + 1; j < Lk; j++) row[j] = -INFINITY;                           \
            /* safe softmax: all -inf gives zeros; a NaN still spreads. Each                       \
             * loop is a separate simd loop (the reductions may be reordered:                      \
             * that is what lets them vectorise). */                                               \
            T max = -INFINITY;                                                                     \
            int nan = 0;                                                                           \
            _Pragma("omp simd reduction(max : max) reduction(| : nan)") for (int64_t j = 0;        \
                                                                             j < Lk; j++) {        \
                max = row[j] > max ? row[j] : max;                                                 \
                nan |= row[j] != row[j];                                                           \
            }                                                                                      \
            if (nan) max = NAN;                                                                    \
            if (max == -INFINITY) {                                                                \
                for (int64_t j = 0; j < Lk; j++) row[j] = 0;                                       \
                continue;                                                                          \
            }                                                                                      \
            _Pragma("omp simd") for (int64_t j = 0; j < Lk; j++) row[j] = EXP(row[j] - max);       \
            T sum = 0;                                                                             \
            _Pragma("omp simd reduction(+ : sum)") for (int64_t j = 0; j < Lk; j++) sum += row[j]; \
            T inv = (T)1 / sum;                                                                    \
            _Pragma("omp simd") for (int64_t j = 0; j < Lk; j++) row[j] *= inv;                    \
        }                                                                                          \
        if (Dv == 0) return 0;                                                                     \
        if (Lk > 0) {                                                                              \
            if (GEMM(false, Lq, Dv, Lk, 1, s, Lk, v, Dv, o, Dv) < 0) return -1;                    \
        } else {                                                                                   \
            memset(o, 0, sizeof(T) * (size_t)(Lq * Dv));                                           \
        }                                                                                          \
        return 0;                                                                                  \
    }

/* C (M x N) = alpha A B (bt: B given as N x K, i.e. A B^T), row-major with
 * leading dims; f32 on tycho's kernel (single-threaded at these sizes, so
 * batch items can run in parallel), f64 on OpenBLAS. */
static int gemm_f(bool bt, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc) {
    return ty_sgemm(M, N, K, alpha, a, lda, 1, b, bt ? 1 : ldb, bt ? ldb : 1, 0.0f, c, ldc);
}
static int gemm_d(bool bt, int64_t M, int64_t N, int64_t K, double alpha, const double *a,
                  int64_t lda, const double *b, int64_t ldb, double *c, int64_t ldc) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, bt ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
                alpha, a, (int)lda, b, (int)ldb, 0.0, c, (int)ldc);
    return 0;
}

DEFINE_ATTEND(float, gemm_f, ty_expf)
DEFINE_ATTEND(double, gemm_d, exp)

/* A contiguous copy of t in dtype dt (or t itself, retained). */
static ty_tensor *compute_copy(ty_tensor *t, ty_dtype dt) {
    ty_tensor *cast = ty_cast(t, dt);
    if (!cast) return NULL;
    ty_tensor *c = ty_contiguous(cast);
    ty_tensor_release(cast);
    return c;
}

/* Element strides of contiguous t seen with `nd` dims aligned to the right
 * of a broadcast shape: 0 on dims t lacks or has as size 1. */
static void broadcast_strides(const ty_tensor *t, int nd, int64_t *strides) {
    int lead = nd - t->ndim;
    for (int d = 0; d < nd; d++)
        strides[d] = d < lead || t->shape[d - lead] == 1 ? 0 : t->strides[d - lead];
}

static int check_args(const ty_tensor *q, const ty_tensor *k, const ty_tensor *v,
                      const ty_tensor *mask) {
    const char *fn = "attention";
    char bq[256], bk[256], bv[256];
    const ty_tensor *all[4] = {q, k, v, mask};
    for (int i = 0; i < 4; i++)
        if (all[i] && (ty_check_cpu(fn, all[i]) < 0 || ty_check_same_device(fn, q, all[i]) < 0))
            return -1;
    if (!ty_dtype_is_float(q->dtype) || k->dtype != q->dtype || v->dtype != q->dtype)
        return ty_error("attention: q, k and v must share one floating-point dtype, got %s, %s "
                        "and %s",
                        ty_dtype_name(q->dtype), ty_dtype_name(k->dtype), ty_dtype_name(v->dtype));
    const char *names[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++)
        if (all[i]->ndim < 2)
            return ty_error("attention: %s must have at least 2 dims (..., L, D), got shape %s",
                            names[i], ty_shape_str(all[i], bq, sizeof bq));
    ty_shape_str(q, bq, sizeof bq);
    ty_shape_str(k, bk, sizeof bk);
    ty_shape_str(v, bv, sizeof bv);
    if (q->shape[q->ndim - 1] != k->shape[k->ndim - 1])
        return ty_error("attention: q %s and k %s must have the same last dim: %lld ~= %lld", bq,
                        bk, (long long)q->shape[q->ndim - 1], (long long)k->shape[k->ndim - 1]);
    if (k->shape[k->ndim - 2] != v->shape[v->ndim - 2])
        return ty_error("attention: k %s and v %s must have the same number of keys: %lld ~= %lld",
                        bk, bv, (long long)k->shape[k->ndim - 2], (long long)v->shape[v->ndim - 2]);
    /* cblas takes int sizes */
    const ty_tensor *qkv[3] = {q, k, v};
    for (int i = 0; i < 3; i++)
        for (int d = qkv[i]->ndim - 2; d < qkv[i]->ndim; d++)
            if (qkv[i]->shape[d] > INT_MAX)
                return ty_error("attention: %s has shape %s: matrix dims above %d are not "
                                "supported",
                                names[i], ty_shape_str(qkv[i], bq, sizeof bq), INT_MAX);
    if (mask && mask->dtype == TY_I64)
        return ty_error("attention: mask must be bool, u8 or floating-point, got i64");
    return 0;
}

/* The forward pass with no autograd (ty_attention is below). */
static ty_tensor *attention_forward(ty_tensor *q, ty_tensor *k, ty_tensor *v, ty_tensor *mask,
                                    ty_attention_opts o, ty_tensor **weights_out) {
    const char *fn = "attention";
    char bm[256], bw[256];
    if (weights_out) *weights_out = NULL;
    if (check_args(q, k, v, mask) < 0) return NULL;

    /* batch shape: q, k and v's leading dims broadcast together */
    int bnd;
    int64_t bshape[TY_MAX_DIMS];
    if (ty_broadcast_shapes(fn, q->ndim - 2, q->shape, k->ndim - 2, k->shape, &bnd, bshape) < 0 ||
        ty_broadcast_shapes(fn, bnd, bshape, v->ndim - 2, v->shape, &bnd, bshape) < 0)
        return NULL;
    int64_t Lq = q->shape[q->ndim - 2], D = q->shape[q->ndim - 1];
    int64_t Lk = k->shape[k->ndim - 2], Dv = v->shape[v->ndim - 1];
    int64_t oshape[TY_MAX_DIMS], wshape[TY_MAX_DIMS], nbatch = 1;
    for (int d = 0; d < bnd; d++) {
        oshape[d] = wshape[d] = bshape[d];
        nbatch *= bshape[d];
    }
    oshape[bnd] = wshape[bnd] = Lq;
    oshape[bnd + 1] = Dv;
    wshape[bnd + 1] = Lk;
    int wnd = bnd + 2;

    /* the mask broadcasts to the scores without growing them */
    if (mask) {
        int ok = mask->ndim <= wnd;
        for (int d = 0; ok && d < mask->ndim; d++) {
            int64_t ms = mask->shape[mask->ndim - 1 - d], ws = wshape[wnd - 1 - d];
            ok = ms == ws || ms == 1;
        }
        if (!ok) {
            ty_error("attention: mask of shape %s cannot be broadcast to the scores' shape %s",
                     ty_shape_str(mask, bm, sizeof bm), ty_shape_str_n(wnd, wshape, bw, sizeof bw));
            return NULL;
        }
    }

    ty_dtype ct = ty_compute_dtype(q->dtype);
    bool keep_mask = mask && !ty_dtype_is_float(mask->dtype);
    ty_tensor *qc = NULL, *kc = NULL, *vc = NULL, *mc = NULL, *out = NULL, *w = NULL;
    int ok = (qc = compute_copy(q, ct)) && (kc = compute_copy(k, ct)) &&
             (vc = compute_copy(v, ct)) &&
             (!mask || (mc = keep_mask ? ty_contiguous(mask) : compute_copy(mask, ct))) &&
             (out = ty_empty(wnd, oshape, ct, q->device)) &&
             (w = weights_out ? ty_empty(wnd, wshape, ct, q->device)
                              : ty_empty(2, (int64_t[]){Lq, Lk}, ct, q->device));
    if (!ok) {
        ty_error_prefix(fn);
        goto fail;
    }

    int64_t qs[TY_MAX_DIMS], ks[TY_MAX_DIMS], vs[TY_MAX_DIMS], ms[TY_MAX_DIMS] = {0};
    broadcast_strides(qc, wnd, qs);
    broadcast_strides(kc, wnd, ks);
    broadcast_strides(vc, wnd, vs);
    if (mc) broadcast_strides(mc, wnd, ms);
    double scale = o.scale > 0 ? o.scale : D > 0 ? 1.0 / sqrt((double)D) : 1.0;
    size_t es = ty_dtype_size(ct);

    /* Items run in parallel when the scores are small enough for the
     * single-threaded GEMMs (always in f32); each thread has its own score
     * buffer unless the weights are kept. f64 items run one after another
     * with OpenBLAS threading each GEMM. Chunks of items poll the interrupt. */
    int threads = ct == TY_F32 ? ty_threads_for(nbatch * Lq * Lk * (D + Dv) / 4) : 1;
    if (threads > 1 && !weights_out) {
        ty_tensor *wt = ty_empty(3, (int64_t[]){threads, Lq, Lk}, ct, q->device);
        if (!wt) {
            ty_error_prefix(fn);
            goto fail;
        }
        ty_tensor_release(w);
        w = wt;
    }
    int failed = 0;
    const int64_t chunk = 256;
    for (int64_t b0 = 0; b0 < nbatch && !failed; b0 += chunk) {
        if (ty_check_interrupt(fn) < 0) goto fail;
        int64_t b1 = b0 + chunk < nbatch ? b0 + chunk : nbatch;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (int64_t b = b0; b < b1; b++) {
            int64_t qoff = 0, koff = 0, voff = 0, moff = 0, rest = b;
            for (int d = bnd - 1; d >= 0; d--) {
                int64_t i = rest % bshape[d];
                rest /= bshape[d];
                qoff += i * qs[d];
                koff += i * ks[d];
                voff += i * vs[d];
                moff += i * ms[d];
            }
            item_mask m = {NULL, NULL, ms[bnd], ms[bnd + 1]};
            if (mc && keep_mask)
                m.keep = (const uint8_t *)ty_data(mc) + moff;
            else if (mc)
                m.add = (const char *)ty_data(mc) + moff * (int64_t)es;
            const char *qp = (const char *)ty_data(qc) + qoff * (int64_t)es;
            const char *kp = (const char *)ty_data(kc) + koff * (int64_t)es;
            const char *vp = (const char *)ty_data(vc) + voff * (int64_t)es;
            int64_t slot = weights_out ? b : threads > 1 ? ty_thread_num() : 0;
            char *sp = (char *)ty_data(w) + slot * Lq * Lk * (int64_t)es;
            char *op = (char *)ty_data(out) + b * Lq * Dv * (int64_t)es;
            int rc;
            if (ct == TY_F64)
                rc = attend_double((const double *)qp, (const double *)kp, (const double *)vp,
                                   (double *)sp, (double *)op, &m, Lq, Lk, D, Dv, scale, o.causal);
            else
                rc = attend_float((const float *)qp, (const float *)kp, (const float *)vp,
                                  (float *)sp, (float *)op, &m, Lq, Lk, D, Dv, (float)scale,
                                  o.causal);
            if (rc < 0) {
#pragma omp atomic write
                failed = 1;
            }
        }
    }
    if (failed) {
        ty_error("%s: out of memory for the GEMM packing buffers", fn);
        goto fail;
    }

    if (ct != q->dtype) {
        ty_tensor *oh = ty_cast(out, q->dtype);
        ty_tensor *wh = oh && weights_out ? ty_cast(w, q->dtype) : NULL;
        ty_tensor_release(out);
        ty_tensor_release(w);
        out = oh;
        w = wh;
        if (!oh || (weights_out && !wh)) {
            ty_error_prefix(fn);
            goto fail;
        }
    }
    ty_tensor_release(qc);
    ty_tensor_release(kc);
    ty_tensor_release(vc);
    ty_tensor_release(mc);
    if (weights_out)
        *weights_out = w;
    else
        ty_tensor_release(w);
    return out;

fail:
    ty_tensor_release(qc);
    ty_tensor_release(kc);
    ty_tensor_release(vc);
    ty_tensor_release(mc);
    ty_tensor_release(out);
    ty_tensor_release(w);
    return NULL;
}

/* ---- autograd ----
 *
 * The node has two outputs, the result O and the weights P (so weights_out
 * is differentiable), and four inputs: q, k, v and a float mask (a bool
 * mask cannot require grad and is not an input). With S the masked scores,
 * gO and gP the gradients reaching O and P, and the batch dims broadcast:
 *   dP = gO v^T + gP
 *   dS = P * (dP - rowsum(dP * P))      (softmax's backward)
 *   dq = scale dS k,   dk = scale dS^T q,   dv = P^T gO,   dmask = dS
 * each summed back to its input's shape. A fully masked query row has P = 0,
 * so its dS, and with it its share of every gradient, is exactly 0 (no
 * NaN). Masked entries (P = 0) get dS = 0 too. There is one path only:
 * built from differentiable ops (matmul, mul, sum, ...) with P coming back
 * from the node with its history, it serves create_graph as it is, and the
 * four GEMMs dominate its cost anyway, so a fused path would buy little. */

/* The last two dims of t swapped (a view). */
static ty_tensor *mT(ty_tensor *t) {
    return t ? ty_transpose(t, t->ndim - 2, t->ndim - 1) : NULL;
}

/* scale * (a @ b), summed down to meta's shape. */
static ty_tensor *scaled_product_to(ty_tensor *a, ty_tensor *b, double scale, const ty_meta *m) {
    ty_tensor *p = a && b ? ty_matmul(a, b) : NULL;
    ty_tensor *ps = p && scale != 1 ? ty_mul_scalar(p, scale) : ty_tensor_retain(p);
    ty_tensor *r = ps ? ty_sum_to(ps, m->ndim, m->shape) : NULL;
    ty_tensor_release(p);
    ty_tensor_release(ps);
    return r;
}

/* The first-order backward in one pass over the batch items, for the
 * common case: f32, q, k and v with the same batch dims (nothing
 * broadcast), no float mask to differentiate, and no create_graph. Per
 * item, with scratch dP (Lq x Lk) per thread:
 *   dv = P^T gO;  dP = gO v^T + gP;  dS = P (dP - rowsum(dP P));
 *   dq = scale dS k;  dk = scale dS^T q
 * The items run in parallel on tycho's single-threaded GEMM. Returns 1 when
 * it handled the node, 0 to fall back to the general path, -1 on error. */
static int attention_backward_fused(ty_node *n, ty_tensor *q, ty_tensor *k, ty_tensor *v,
                                    ty_tensor *P, ty_tensor *gO, ty_tensor *gP,
                                    ty_tensor **grad_in) {
    if (ty_grad_enabled() || ty_node_needs_grad(n, 3)) return 0;
    if (q->dtype != TY_F32 || k->dtype != TY_F32 || v->dtype != TY_F32 || P->dtype != TY_F32 ||
        gO->dtype != TY_F32 || (gP && gP->dtype != TY_F32))
        return 0;
    int nd = q->ndim;
    if (nd < 2 || k->ndim != nd || v->ndim != nd || P->ndim != nd) return 0;
    for (int d = 0; d < nd - 2; d++)
        if (k->shape[d] != q->shape[d] || v->shape[d] != q->shape[d] || P->shape[d] != q->shape[d])
            return 0;
    int64_t Lq = q->shape[nd - 2], D = q->shape[nd - 1], Lk = k->shape[nd - 2],
            Dv = v->shape[nd - 1];
    int64_t nbatch = 1;
    for (int d = 0; d < nd - 2; d++) nbatch *= q->shape[d];
    if (nbatch == 0 || Lq == 0 || Lk == 0) return 0;
    /* gO has the output's shape (batch..., Lq, Dv): the engine checks it */
    if (gO->ndim != nd || gO->shape[nd - 2] != Lq || gO->shape[nd - 1] != Dv) return 0;
    if (gP && !ty_same_shape(gP, P)) return 0;
    float scale = (float)n->d[0];

    ty_tensor *qc = ty_contiguous(q), *kc = qc ? ty_contiguous(k) : NULL;
    ty_tensor *vc = kc ? ty_contiguous(v) : NULL, *Pc = vc ? ty_contiguous(P) : NULL;
    ty_tensor *gOc = Pc ? ty_contiguous(gO) : NULL;
    ty_tensor *gPc = gOc && gP ? ty_contiguous(gP) : NULL;
    bool need_q = ty_node_needs_grad(n, 0), need_k = ty_node_needs_grad(n, 1),
         need_v = ty_node_needs_grad(n, 2);
    ty_tensor *dq = NULL, *dk = NULL, *dv = NULL, *scratch = NULL;
    int threads = ty_threads_for(nbatch * Lq * Lk * (D + Dv) / 4);
    int ok = gOc && (!gP || gPc) && (!need_q || (dq = ty_empty(nd, q->shape, TY_F32, q->device))) &&
             (!need_k || (dk = ty_empty(nd, k->shape, TY_F32, k->device))) &&
             (!need_v || (dv = ty_empty(nd, v->shape, TY_F32, v->device))) &&
             (scratch = ty_empty(3, (int64_t[]){threads, Lq, Lk}, TY_F32, q->device));
    int failed = !ok;
    if (ok) {
        const float *Q = ty_data(qc), *K = ty_data(kc), *V = ty_data(vc), *PP = ty_data(Pc);
        const float *GO = ty_data(gOc), *GP = gPc ? ty_data(gPc) : NULL;
        float *DQ = dq ? ty_data(dq) : NULL, *DK = dk ? ty_data(dk) : NULL;
        float *DV = dv ? ty_data(dv) : NULL, *S = ty_data(scratch);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (int64_t b = 0; b < nbatch; b++) {
            const float *q_ = Q + b * Lq * D, *k_ = K + b * Lk * D, *v_ = V + b * Lk * Dv;
            const float *p_ = PP + b * Lq * Lk, *go = GO + b * Lq * Dv;
            float *dP = S + (threads > 1 ? ty_thread_num() : 0) * Lq * Lk;
            int rc = 0;
            /* dv (Lk x Dv) = P^T gO */
            if (DV)
                rc |= ty_sgemm(Lk, Dv, Lq, 1.0f, p_, 1, Lk, go, Dv, 1, 0.0f, DV + b * Lk * Dv, Dv);
            if (DQ || DK) {
                /* dP (Lq x Lk) = gO v^T (+ gP) */
                rc |= ty_sgemm(Lq, Lk, Dv, 1.0f, go, Dv, 1, v_, 1, Dv, 0.0f, dP, Lk);
                const float *gp = GP ? GP + b * Lq * Lk : NULL;
                for (int64_t i = 0; i < Lq; i++) {
                    float *row = dP + i * Lk;
                    const float *prow = p_ + i * Lk;
                    if (gp) {
                        const float *grow = gp + i * Lk;
#pragma omp simd
                        for (int64_t j = 0; j < Lk; j++) row[j] += grow[j];
                    }
                    float dot = 0;
#pragma omp simd reduction(+ : dot)
                    for (int64_t j = 0; j < Lk; j++) dot += row[j] * prow[j];
#pragma omp simd
                    for (int64_t j = 0; j < Lk; j++) row[j] = prow[j] * (row[j] - dot);
                }
                /* dq = scale dS k;  dk = scale dS^T q */
                if (DQ)
                    rc |= ty_sgemm(Lq, D, Lk, scale, dP, Lk, 1, k_, D, 1, 0.0f, DQ + b * Lq * D, D);
                if (DK)
                    rc |= ty_sgemm(Lk, D, Lq, scale, dP, 1, Lk, q_, D, 1, 0.0f, DK + b * Lk * D, D);
            }
            if (rc) {
#pragma omp atomic write
                failed = 1;
            }
        }
    }
    ty_tensor *tmp[] = {qc, kc, vc, Pc, gOc, gPc, scratch};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) ty_tensor_release(tmp[i]);
    if (failed) {
        ty_tensor_release(dq);
        ty_tensor_release(dk);
        ty_tensor_release(dv);
        ty_error("attention backward: out of memory");
        return -1;
    }
    grad_in[0] = dq;
    grad_in[1] = dk;
    grad_in[2] = dv;
    return 1;
}

/* Node layout: saved 0 = q, 1 = k, 2 = v, 3 = P (output 1); d[0] = scale. */
static int attention_backward(ty_node *n, ty_tensor *const *grad_out, ty_tensor **grad_in) {
    double scale = n->d[0];
    ty_tensor *gO = grad_out[0], *gP = grad_out[1];
    ty_tensor *q = ty_saved(n, 0), *k = q ? ty_saved(n, 1) : NULL;
    ty_tensor *v = k ? ty_saved(n, 2) : NULL, *P = v ? ty_saved(n, 3) : NULL;
    int rc = P ? 0 : -1;
    if (rc == 0) {
        int fused = attention_backward_fused(n, q, k, v, P, gO, gP, grad_in);
        if (fused != 0) {
            ty_tensor_release(q);
            ty_tensor_release(k);
            ty_tensor_release(v);
            ty_tensor_release(P);
            return fused < 0 ? -1 : 0;
        }
    }

    if (rc == 0 && ty_node_needs_grad(n, 2)) {
        ty_tensor *Pt = mT(P);
        grad_in[2] = scaled_product_to(Pt, gO, 1, &n->input_meta[2]);
        ty_tensor_release(Pt);
        if (!grad_in[2]) rc = -1;
    }
    bool need_scores =
        ty_node_needs_grad(n, 0) || ty_node_needs_grad(n, 1) || ty_node_needs_grad(n, 3);
    if (rc == 0 && need_scores) {
        ty_tensor *vt = mT(v);
        ty_tensor *gov = vt ? ty_matmul(gO, vt) : NULL;
        ty_tensor *dP = gov ? ty_add(gov, gP) : NULL;
        ty_tensor *dPP = dP ? ty_mul(dP, P) : NULL;
        int last = P->ndim - 1;
        ty_tensor *rs = dPP ? ty_sum(dPP, 1, &last, true) : NULL;
        ty_tensor *diff = rs ? ty_sub(dP, rs) : NULL;
        ty_tensor *dS = diff ? ty_mul(P, diff) : NULL;
        ty_tensor *tmp[] = {vt, gov, dP, dPP, rs, diff};
        for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) ty_tensor_release(tmp[i]);
        if (!dS) rc = -1;
        if (rc == 0 && ty_node_needs_grad(n, 0)) {
            grad_in[0] = scaled_product_to(dS, k, scale, &n->input_meta[0]);
            if (!grad_in[0]) rc = -1;
        }
        if (rc == 0 && ty_node_needs_grad(n, 1)) {
            ty_tensor *dSt = mT(dS);
            grad_in[1] = scaled_product_to(dSt, q, scale, &n->input_meta[1]);
            ty_tensor_release(dSt);
            if (!grad_in[1]) rc = -1;
        }
        if (rc == 0 && ty_node_needs_grad(n, 3)) {
            grad_in[3] = ty_sum_to(dS, n->input_meta[3].ndim, n->input_meta[3].shape);
            if (!grad_in[3]) rc = -1;
        }
        ty_tensor_release(dS);
    }
    ty_tensor_release(q);
    ty_tensor_release(k);
    ty_tensor_release(v);
    ty_tensor_release(P);
    return rc;
}

ty_tensor *ty_attention(ty_tensor *q, ty_tensor *k, ty_tensor *v, ty_tensor *mask,
                        const ty_attention_opts *opts, ty_tensor **weights_out) {
    ty_attention_opts o = opts ? *opts : (ty_attention_opts){0};
    if (weights_out) *weights_out = NULL;
    /* a float mask is added to the scores and can take a gradient too */
    ty_tensor *fmask = mask && ty_dtype_is_float(mask->dtype) ? mask : NULL;
    ty_tensor *inputs[4] = {q, k, v, fmask};
    /* the backward needs the weights of every batch item, not just one
     * item's scratch: keep them when recording */
    bool record = ty_any_requires_grad(4, inputs);
    ty_tensor *w = NULL;
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = attention_forward(q, k, v, mask, o, weights_out || record ? &w : NULL);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_node *n = ty_record("attention", attention_backward, 4, inputs, 2, (ty_tensor *[]){out, w});
    if (n) {
        int64_t D = q->shape[q->ndim - 1];
        ty_save(n, 0, q);
        ty_save(n, 1, k);
        ty_save(n, 2, v);
        ty_save_output(n, 3, w);
        n->d[0] = o.scale > 0 ? o.scale : D > 0 ? 1.0 / sqrt((double)D) : 1.0;
    }
    if (weights_out)
        *weights_out = w;
    else
        ty_tensor_release(w);
    return out;
}
