/* Tensor products of irreps: the plan (paths checked once, with their
 * Clebsch-Gordan coefficients) and the differentiable op.
 *
 * The product is trilinear in (x1, x2, w), so with g the gradient of the
 * output, F(x1, x2, w, g) = sum g . product(x1, x2, w) is linear in each of
 * its four slots, and the product and every gradient are partial
 * derivatives of F: out = dF/dg, dx1 = dF/dx1, and so on. One op computes any
 * slot's derivative from the other three (e3_tp_run). Its backward is the
 * same op again: the derivative of dF/da (given b, c, d) along b, contracted
 * with an incoming gradient h, is dF/db with h put in slot a. Recorded with
 * grad mode on, that gives gradients of every order; with grad mode off the
 * backward computes all wanted gradients in one fused pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "autograd.h"
#include "creation.h"
#include "e3_internal.h"
#include "error.h"

static const char *const mode_names[] = {"uvw", "uvu", "uvv", "uuw", "uuu"};

/* The index of block (off, mul, d) of vector v, added when new. */
static int block_of(ty_e3_tp *tp, int v, int64_t off, int64_t mul, int d) {
    for (int b = 0; b < tp->nblk[v]; b++) {
        const e3_tp_block *k = &tp->blk[v][b];
        if (k->off == off && k->mul == mul && k->d == d) return b;
    }
    int b = tp->nblk[v]++;
    tp->blk[v][b] = (e3_tp_block){.off = off, .mul = mul, .toff = tp->tdim[v], .d = d};
    tp->tdim[v] += mul * d;
    return b;
}

/* Groups the dense paths by output block (see e3_tp_group). */
static int make_groups(ty_e3_tp *tp) {
    tp->groups = calloc((size_t)(tp->n ? tp->n : 1), sizeof *tp->groups);
    if (!tp->groups) return -1;
    for (int i = 0; i < tp->n; i++) {
        e3_tp_path *p = &tp->paths[i];
        if (!p->dense) continue;
        int g = 0;
        while (g < tp->ngroups && tp->groups[g].blk != p->blk[2]) g++;
        e3_tp_group *gr = &tp->groups[g];
        if (g == tp->ngroups) {
            tp->ngroups++;
            *gr = (e3_tp_group){.mulo = p->p.mulo, .dk = p->dk, .blk = p->blk[2]};
            if (!(gr->paths = calloc((size_t)tp->n, sizeof *gr->paths))) return -1;
        }
        gr->paths[gr->n++] = i;
        p->gcol = gr->K;
        gr->K += p->K;
    }
    for (int g = 0; g < tp->ngroups; g++) {
        e3_tp_group *gr = &tp->groups[g];
        gr->woff = tp->nw_dense;
        tp->nw_dense += gr->K * gr->mulo;
        if (gr->dk * gr->K > tp->max_pk) tp->max_pk = gr->dk * gr->K;
        if (gr->dk * gr->mulo > tp->max_ko) tp->max_ko = gr->dk * gr->mulo;
        if (gr->K * gr->mulo > tp->max_kw) tp->max_kw = gr->K * gr->mulo;
    }
    return 0;
}

static void free_paths(e3_tp_path *paths, int n) {
    for (int i = 0; paths && i < n; i++) {
        free(paths[i].cd);
        free(paths[i].cf);
    }
    free(paths);
}

/* Checks one path against the dims; fills the derived fields. */
static int prepare_path(const char *fn, int idx, const ty_e3_path *in, int64_t dims[3],
                        e3_tp_path *p) {
    p->p = *in;
    if (in->mode < TY_E3_UVW || in->mode > TY_E3_UUU)
        return ty_error("%s: path %d has an unknown mode %d", fn, idx, (int)in->mode);
    const char *mode = mode_names[in->mode];
    const e3_cg *cg = e3_cg_get(fn, in->l1, in->l2, in->lo);
    if (!cg) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ty_last_error());
        return ty_error("%s (path %d)", msg, idx);
    }
    p->d1 = 2 * in->l1 + 1, p->d2 = 2 * in->l2 + 1, p->dk = 2 * in->lo + 1;
    const char *names[3] = {"input 1", "input 2", "output"};
    int64_t off[3] = {in->off1, in->off2, in->offo}, mul[3] = {in->mul1, in->mul2, in->mulo};
    int d[3] = {p->d1, p->d2, p->dk};
    for (int s = 0; s < 3; s++)
        if (off[s] < 0 || mul[s] < 0 || mul[s] > (INT64_C(1) << 40) / d[s] ||
            off[s] > dims[s] - mul[s] * d[s])
            return ty_error("%s: path %d (%s): the %s block at offset %lld of %lld x %d "
                            "features does not fit in %lld features",
                            fn, idx, mode, names[s], (long long)off[s], (long long)mul[s], d[s],
                            (long long)dims[s]);
    p->uu = in->mode == TY_E3_UUW || in->mode == TY_E3_UUU;
    if (p->uu && in->mul1 != in->mul2)
        return ty_error("%s: path %d (%s): mul1 %lld must equal mul2 %lld", fn, idx, mode,
                        (long long)in->mul1, (long long)in->mul2);
    int64_t want = in->mode == TY_E3_UVU || in->mode == TY_E3_UUU ? in->mul1
                   : in->mode == TY_E3_UVV                        ? in->mul2
                   : in->mode == TY_E3_UUW && !in->has_weight     ? 1
                                                                  : in->mulo;
    if (in->mulo != want)
        return ty_error("%s: path %d (%s%s): mulo %lld must be %lld", fn, idx, mode,
                        in->has_weight ? "" : " without weights", (long long)in->mulo,
                        (long long)want);
    if (in->mode == TY_E3_UVW && !in->has_weight)
        return ty_error("%s: path %d (uvw) needs weights", fn, idx);
    if (!isfinite(in->coef))
        return ty_error("%s: path %d (%s): coef %g is not finite", fn, idx, mode, in->coef);
    p->K = p->uu ? in->mul1 : in->mul1 * in->mul2;
    p->dense = in->has_weight && (in->mode == TY_E3_UVW || in->mode == TY_E3_UUW);
    p->ident = in->mode == TY_E3_UUU || (in->mode == TY_E3_UVU && in->mul2 == 1) ||
               (in->mode == TY_E3_UVV && in->mul1 == 1);
    p->nnz = cg->n;
    p->ci = cg->i, p->cj = cg->j, p->ck = cg->k;
    p->cd = malloc((size_t)(cg->n + 1) * sizeof *p->cd);
    p->cf = malloc((size_t)(cg->n + 1) * sizeof *p->cf);
    if (!p->cd || !p->cf) return ty_error("%s: out of memory", fn);
    for (int e = 0; e < cg->n; e++) {
        p->cd[e] = in->coef * cg->c[e];
        p->cf[e] = (float)p->cd[e];
    }
    return 0;
}

/* The number of weights of a path. */
static int64_t path_weights(const e3_tp_path *p) {
    if (!p->p.has_weight) return 0;
    return p->dense ? p->K * p->p.mulo : p->K;
}

ty_e3_tp *ty_e3_tp_new(int64_t dim1, int64_t dim2, int64_t dimo, int n_paths,
                       const ty_e3_path *paths) {
    const char *fn = "e3_tp_new";
    if (dim1 < 0 || dim2 < 0 || dimo < 0 || n_paths < 0 || (n_paths > 0 && !paths)) {
        ty_error("%s: bad sizes: dims %lld, %lld, %lld and %d paths", fn, (long long)dim1,
                 (long long)dim2, (long long)dimo, n_paths);
        return NULL;
    }
    ty_e3_tp *tp = calloc(1, sizeof *tp);
    e3_tp_path *ps = calloc((size_t)(n_paths ? n_paths : 1), sizeof *ps);
    for (int v = 0; tp && v < 3; v++)
        tp->blk[v] = calloc((size_t)(n_paths ? n_paths : 1), sizeof *tp->blk[v]);
    if (!tp || !ps || !tp->blk[0] || !tp->blk[1] || !tp->blk[2]) {
        for (int v = 0; tp && v < 3; v++) free(tp->blk[v]);
        free(tp);
        free(ps);
        ty_error("%s: out of memory", fn);
        return NULL;
    }
    int64_t dims[3] = {dim1, dim2, dimo};
    tp->refcount = 1, tp->dim1 = dim1, tp->dim2 = dim2, tp->dimo = dimo;
    tp->n = n_paths, tp->paths = ps;
    for (int i = 0; i < n_paths; i++) {
        e3_tp_path *p = &ps[i];
        if (prepare_path(fn, i, &paths[i], dims, p) < 0) {
            tp->n = i + 1;
            ty_e3_tp_release(tp);
            return NULL;
        }
        p->blk[0] = block_of(tp, 0, p->p.off1, p->p.mul1, p->d1);
        p->blk[1] = block_of(tp, 1, p->p.off2, p->p.mul2, p->d2);
        p->blk[2] = block_of(tp, 2, p->p.offo, p->p.mulo, p->dk);
        p->woff = tp->nw;
        tp->nw += path_weights(p);
        int64_t pk = p->dk * p->K;
        if (pk > tp->max_pk) tp->max_pk = pk;
        int64_t blocks[3] = {p->d1 * p->p.mul1, p->d2 * p->p.mul2, p->dk * p->p.mulo};
        for (int b = 0; b < 3; b++)
            if (blocks[b] > tp->max_t) tp->max_t = blocks[b];
    }
    if (make_groups(tp) < 0) {
        ty_e3_tp_release(tp);
        ty_error("%s: out of memory", fn);
        return NULL;
    }
    return tp;
}

ty_e3_tp *ty_e3_tp_retain(ty_e3_tp *tp) {
    if (tp) {
#pragma omp atomic
        tp->refcount++;
    }
    return tp;
}

void ty_e3_tp_release(ty_e3_tp *tp) {
    if (!tp) return;
    int left;
#pragma omp atomic capture
    left = --tp->refcount;
    if (left > 0) return;
    free_paths(tp->paths, tp->n);
    for (int v = 0; v < 3; v++) free(tp->blk[v]);
    for (int g = 0; tp->groups && g < tp->ngroups; g++) free(tp->groups[g].paths);
    free(tp->groups);
    free(tp);
}

int64_t ty_e3_tp_weight_numel(const ty_e3_tp *tp) {
    return tp->nw;
}

int64_t ty_e3_tp_dim(const ty_e3_tp *tp, int which) {
    return which == 0 ? tp->dim1 : which == 1 ? tp->dim2 : tp->dimo;
}

/* ---- the op ---- */

/* A view of slot tensor t (cast to dt) that the kernels can read: rows of
 * unit inner stride, *rs elements apart. A row broadcast over the batch (the
 * gradient of a sum is one) keeps stride 0 instead of being copied Z times. */
static ty_tensor *kernel_view(ty_tensor *t, ty_dtype dt, int64_t *rs) {
    ty_tensor *c = ty_cast(t, dt);
    if (!c) return NULL;
    *rs = 0;
    if (c->ndim == 2 && c->strides[0] >= 0 && (c->shape[1] <= 1 || c->strides[1] == 1)) {
        *rs = c->shape[0] <= 1 ? 0 : c->strides[0];
        return c;
    }
    ty_tensor *v = c;
    if (c->ndim == 2 && (c->strides[0] == 0 || c->shape[0] <= 1)) {
        v = ty_select(c, 0, 0); /* one row serves every sample */
        ty_tensor_release(c);
        if (!v) return NULL;
    } else if (c->ndim == 2) {
        *rs = c->shape[1];
    }
    ty_tensor *out = ty_contiguous(v);
    ty_tensor_release(v);
    return out;
}

/* The slots in `targets` (new references in res) from the others, without
 * recording anything. The inputs may be of any float dtype and layout; the
 * work is done in f64 when one of them is f64, else in f32. */
static int tp_compute(ty_e3_tp *tp, unsigned targets, ty_tensor *const in[4], bool per_sample,
                      bool weighted_only, ty_tensor *res[4]) {
    ty_dtype dt = TY_F32;
    int64_t Z = 0;
    for (int s = 0; s < 4; s++) {
        if (!in[s]) continue;
        if (in[s]->dtype == TY_F64) dt = TY_F64;
        if (s != E3_W || per_sample) Z = in[s]->shape[0];
    }
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *c[4] = {0};
    const void *data[4] = {0};
    int64_t rs[4] = {0};
    int rc = 0;
    for (int s = 0; s < 4 && rc == 0; s++) {
        if (!in[s]) continue;
        if (!(c[s] = kernel_view(in[s], dt, &rs[s])))
            rc = -1;
        else
            data[s] = ty_data(c[s]);
    }
    int64_t rows[4] = {tp->dim1, tp->dim2, tp->nw, tp->dimo};
    for (int s = 0; s < 4 && rc == 0; s++) {
        if (!(targets & (1u << s))) continue;
        int64_t shape[2] = {Z, rows[s]};
        res[s] = s == E3_W && !per_sample ? ty_empty(1, &rows[s], dt, ty_cpu())
                                          : ty_empty(2, shape, dt, ty_cpu());
        if (!res[s]) rc = -1;
    }
    if (rc == 0) rc = e3_tp_run(tp, targets, data, rs, Z, per_sample, weighted_only, res);
    for (int s = 0; s < 4; s++) {
        ty_tensor_release(c[s]);
        if (rc < 0) {
            ty_tensor_release(res[s]);
            res[s] = NULL;
        }
    }
    ty_set_grad_enabled(prev);
    return rc;
}

static void tp_ctx_free(void *ctx) {
    ty_e3_tp_release(ctx);
}

static int tp_backward(ty_node *n, ty_tensor *const *grad_out, ty_tensor **grad_in);

/* The derivative of F in slot `target` from the other slots of in (in[target]
 * is ignored), recorded for autograd. */
static ty_tensor *tp_slot(ty_e3_tp *tp, int target, ty_tensor *const in[4], bool per_sample,
                          bool weighted_only) {
    ty_tensor *ins[4] = {in[0], in[1], in[2], in[3]};
    ins[target] = NULL;
    ty_tensor *res[4] = {0};
    if (tp_compute(tp, 1u << target, ins, per_sample, weighted_only, res) < 0) return NULL;
    ty_tensor *out = res[target];
    ty_node *n = ty_record(target == E3_OUT ? "e3_tensor_product" : "e3_tensor_product_grad",
                           tp_backward, 4, ins, 1, &out);
    if (n) {
        for (int s = 0; s < 4; s++)
            if (ins[s]) {
                ty_save(n, s, ins[s]);
                n->i[2] |= 1 << s;
            }
        n->i[0] = target;
        n->i[1] = per_sample;
        n->i[3] = weighted_only;
        n->ctx = ty_e3_tp_retain(tp);
        n->ctx_free = tp_ctx_free;
    }
    return out;
}

/* Node layout: inputs are the four slots (the target's is NULL), each saved
 * in the slot of its index; i[0] = target, i[1] = per_sample, i[2] = the
 * mask of saved slots, i[3] = weighted_only; ctx = the plan. Below a node
 * whose target is w, slot w holds a gradient of w, not weights: from there
 * on only the weighted paths count. */
static int tp_backward(ty_node *n, ty_tensor *const *grad_out, ty_tensor **grad_in) {
    ty_e3_tp *tp = n->ctx;
    int target = (int)n->i[0];
    bool per_sample = n->i[1] != 0, weighted_only = n->i[3] != 0 || target == E3_W;
    ty_tensor *in[4] = {0};
    int rc = 0;
    for (int s = 0; s < 4 && rc == 0; s++)
        if (s != target && (n->i[2] & (1 << s)) && !(in[s] = ty_saved(n, s))) rc = -1;
    ty_tensor *saved[4] = {in[0], in[1], in[2], in[3]};
    in[target] = grad_out[0];
    unsigned fused = 0;
    for (int s = 0; s < 4 && rc == 0; s++) {
        if (s == target || !ty_node_needs_grad(n, s)) continue;
        if (!ty_grad_enabled() && s != E3_OUT)
            fused |= 1u << s; /* all in one pass, below */
        else if (!(grad_in[s] = tp_slot(tp, s, in, per_sample, weighted_only)))
            rc = -1;
    }
    if (rc == 0 && fused) {
        ty_tensor *res[4] = {0};
        rc = tp_compute(tp, fused, in, per_sample, weighted_only, res);
        for (int s = 0; s < 4; s++)
            if (fused & (1u << s)) grad_in[s] = res[s];
    }
    for (int s = 0; s < 4; s++) ty_tensor_release(saved[s]);
    return rc;
}

static int check_tensor(const char *fn, const char *what, const ty_tensor *t, int ndim,
                        const int64_t *shape, ty_dtype dt) {
    char b[256], e[256];
    if (ty_check_cpu(fn, t) < 0) return -1;
    if (t->dtype != dt)
        return ty_error("%s: %s is %s but x1 is %s", fn, what, ty_dtype_name(t->dtype),
                        ty_dtype_name(dt));
    bool ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || t->shape[i] == shape[i];
    if (!ok) {
        int64_t s[2] = {shape[0], shape[ndim - 1]};
        return ty_error("%s: %s has shape %s, expected %s", fn, what, ty_shape_str(t, b, sizeof b),
                        ty_shape_str_n(ndim, ndim == 1 ? s + 1 : s, e, sizeof e));
    }
    return 0;
}

ty_tensor *ty_e3_tensor_product(ty_e3_tp *tp, ty_tensor *x1, ty_tensor *x2, ty_tensor *w) {
    const char *fn = "e3_tensor_product";
    char b[256];
    if (!tp || !x1 || !x2) {
        ty_error("%s: the plan, x1 and x2 are required", fn);
        return NULL;
    }
    if (ty_check_cpu(fn, x1) < 0) return NULL;
    if (x1->dtype != TY_F32 && x1->dtype != TY_F64) {
        ty_error("%s: expected f32 or f64 inputs, got %s", fn, ty_dtype_name(x1->dtype));
        return NULL;
    }
    if (x1->ndim != 2) {
        ty_error("%s: x1 must be 2-D (batch, %lld), got shape %s", fn, (long long)tp->dim1,
                 ty_shape_str(x1, b, sizeof b));
        return NULL;
    }
    int64_t Z = x1->shape[0];
    int64_t s1[2] = {Z, tp->dim1}, s2[2] = {Z, tp->dim2}, sw[2] = {Z, tp->nw};
    if (check_tensor(fn, "x1", x1, 2, s1, x1->dtype) < 0 ||
        check_tensor(fn, "x2", x2, 2, s2, x1->dtype) < 0)
        return NULL;
    bool per_sample = false;
    if (tp->nw == 0 && w && ty_numel(w) != 0) {
        ty_error("%s: this product has no weights, got a weight tensor of shape %s", fn,
                 ty_shape_str(w, b, sizeof b));
        return NULL;
    }
    if (tp->nw == 0) w = NULL;
    if (tp->nw > 0) {
        if (!w) {
            ty_error("%s: weights are required (%lld, shared, or (batch, %lld))", fn,
                     (long long)tp->nw, (long long)tp->nw);
            return NULL;
        }
        per_sample = w->ndim == 2;
        if (check_tensor(fn, "w", w, per_sample ? 2 : 1, per_sample ? sw : sw + 1, x1->dtype) < 0)
            return NULL;
    }
    ty_tensor *in[4] = {x1, x2, w, NULL};
    return tp_slot(tp, E3_OUT, in, per_sample, false);
}
