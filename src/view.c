/* Views: new tensor headers over the same storage. Nothing here copies data
 * except ty_reshape when the strides leave no choice. Each function checks
 * its arguments completely before making the view, so a failure leaves
 * nothing behind.
 *
 * The forward of each view is a static *_fwd function that records nothing;
 * the public ty_ functions at the end of the file call it and record the
 * autograd node (see "autograd" below). */
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "error.h"
#include "iter.h"
#include "tensor.h"

int ty_broadcast_shapes(const char *fn, int nda, const int64_t *a, int ndb, const int64_t *b,
                        int *out_ndim, int64_t *out_shape) {
    int nd = nda > ndb ? nda : ndb;
    int64_t result[TY_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        int ia = nda - nd + i, ib = ndb - nd + i;
        int64_t sa = ia >= 0 ? a[ia] : 1, sb = ib >= 0 ? b[ib] : 1;
        if (sa == sb || sb == 1)
            result[i] = sa;
        else if (sa == 1)
            result[i] = sb;
        else {
            char ba[256], bb[256];
            return ty_error("%s: shapes %s and %s do not broadcast: %lld ~= %lld at dim %d", fn,
                            ty_shape_str_n(nda, a, ba, sizeof ba),
                            ty_shape_str_n(ndb, b, bb, sizeof bb), (long long)sa, (long long)sb,
                            i - nd);
        }
    }
    *out_ndim = nd;
    memcpy(out_shape, result, sizeof(int64_t) * (size_t)nd);
    return 0;
}

/* Resolves a -1 in a requested shape and checks the element count. */
static int infer_shape(const char *fn, const ty_tensor *t, int ndim, const int64_t *req,
                       int64_t *shape) {
    if (ndim < 0 || ndim > TY_MAX_DIMS)
        return ty_error("%s: %d dims is out of range (at most %d)", fn, ndim, TY_MAX_DIMS);
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < ndim; d++) {
        if (req[d] == -1) {
            if (infer >= 0) return ty_error("%s: only one dim can be -1", fn);
            infer = d;
        } else if (req[d] < 0) {
            return ty_error("%s: invalid size %lld at dim %d", fn, (long long)req[d], d + 1);
        } else {
            known *= req[d];
        }
        shape[d] = req[d];
    }
    int64_t n = ty_numel(t);
    char a[256], b[256];
    if (infer >= 0) {
        if (known == 0 || n % known != 0)
            return ty_error("%s: shape %s is invalid for a tensor of %lld elements (shape %s)", fn,
                            ty_shape_str_n(ndim, req, a, sizeof a), (long long)n,
                            ty_shape_str(t, b, sizeof b));
        shape[infer] = n / known;
    } else if (known != n) {
        return ty_error("%s: shape %s is invalid for a tensor of %lld elements (shape %s)", fn,
                        ty_shape_str_n(ndim, req, a, sizeof a), (long long)n,
                        ty_shape_str(t, b, sizeof b));
    }
    return 0;
}

/* Strides for viewing t as `shape` without a copy, if possible (the
 * algorithm of NumPy's _attempt_nocopy_reshape: match runs of old dims
 * that are contiguous among themselves to runs of new dims). */
static int view_strides(const ty_tensor *t, int ndim, const int64_t *shape, int64_t *strides) {
    if (ty_numel(t) == 0 || ty_is_contiguous(t)) {
        int64_t s = 1;
        for (int d = ndim - 1; d >= 0; d--) {
            strides[d] = s;
            s *= shape[d] > 0 ? shape[d] : 1;
        }
        return 0;
    }
    /* old dims without size-1 entries */
    int64_t os[TY_MAX_DIMS], ost[TY_MAX_DIMS];
    int ond = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] != 1) {
            os[ond] = t->shape[d];
            ost[ond] = t->strides[d];
            ond++;
        }
    }
    int oi = 0, oj = 1, ni = 0, nj = 1;
    while (ni < ndim && oi < ond) {
        int64_t np = shape[ni], op = os[oi];
        while (np != op) {
            if (np < op)
                np *= shape[nj++];
            else
                op *= os[oj++];
        }
        for (int ok = oi; ok < oj - 1; ok++)
            if (ost[ok] != os[ok + 1] * ost[ok + 1]) return -1;
        strides[nj - 1] = ost[oj - 1];
        for (int nk = nj - 1; nk > ni; nk--) strides[nk - 1] = strides[nk] * shape[nk];
        ni = nj++;
        oi = oj++;
    }
    /* trailing size-1 dims of the new shape */
    for (; ni < ndim; ni++) strides[ni] = 1;
    return 0;
}

static ty_tensor *reshape_impl(const char *fn, ty_tensor *t, int ndim, const int64_t *req,
                               int allow_copy) {
    int64_t shape[TY_MAX_DIMS], strides[TY_MAX_DIMS];
    if (infer_shape(fn, t, ndim, req, shape) < 0) return NULL;
    if (view_strides(t, ndim, shape, strides) < 0) {
        if (!allow_copy) {
            char a[256], b[256];
            ty_error("%s: a tensor of shape %s with these strides cannot be viewed as %s; "
                     "use reshape (which copies) or contiguous() first",
                     fn, ty_shape_str(t, a, sizeof a), ty_shape_str_n(ndim, shape, b, sizeof b));
            return NULL;
        }
        ty_tensor *c = ty_clone(t);
        if (!c) return NULL;
        ty_tensor *v = reshape_impl(fn, c, ndim, shape, 0);
        ty_tensor_release(c);
        return v;
    }
    ty_tensor *v = ty_alias(t);
    if (!v) return NULL;
    v->ndim = ndim;
    memcpy(v->shape, shape, sizeof(int64_t) * (size_t)ndim);
    memcpy(v->strides, strides, sizeof(int64_t) * (size_t)ndim);
    return v;
}

static ty_tensor *transpose_fwd(ty_tensor *t, int d0, int d1) {
    int a = ty_wrap_dim("transpose", d0, t->ndim), b;
    if (a < 0 || (b = ty_wrap_dim("transpose", d1, t->ndim)) < 0) return NULL;
    ty_tensor *v = ty_alias(t);
    if (!v || t->ndim == 0) return v;
    v->shape[a] = t->shape[b];
    v->shape[b] = t->shape[a];
    v->strides[a] = t->strides[b];
    v->strides[b] = t->strides[a];
    return v;
}

static ty_tensor *permute_fwd(ty_tensor *t, const int *perm) {
    int seen[TY_MAX_DIMS] = {0}, p[TY_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) {
        p[d] = ty_wrap_dim("permute", perm[d], t->ndim);
        if (p[d] < 0) return NULL;
        if (seen[p[d]]++) {
            ty_error("permute: dim %d appears twice in the permutation", perm[d]);
            return NULL;
        }
    }
    ty_tensor *v = ty_alias(t);
    if (!v) return NULL;
    for (int d = 0; d < t->ndim; d++) {
        v->shape[d] = t->shape[p[d]];
        v->strides[d] = t->strides[p[d]];
    }
    return v;
}

static ty_tensor *slice_fwd(ty_tensor *t, int dim, int64_t start, int64_t stop, int64_t step) {
    if (t->ndim == 0) {
        ty_error("slice: cannot slice a 0-d tensor");
        return NULL;
    }
    int d = ty_wrap_dim("slice", dim, t->ndim);
    if (d < 0) return NULL;
    if (step < 1) {
        ty_error("slice: step must be positive, got %lld", (long long)step);
        return NULL;
    }
    int64_t n = t->shape[d];
    if (start < 0) start += n;
    if (stop < 0) stop += n;
    if (start < 0) start = 0;
    if (start > n) start = n;
    if (stop > n) stop = n;
    if (stop < start) stop = start;
    ty_tensor *v = ty_alias(t);
    if (!v) return NULL;
    v->offset += start * t->strides[d];
    v->shape[d] = (stop - start + step - 1) / step;
    v->strides[d] = t->strides[d] * step;
    return v;
}

static ty_tensor *select_fwd(ty_tensor *t, int dim, int64_t i) {
    if (t->ndim == 0) {
        ty_error("select: cannot index a 0-d tensor");
        return NULL;
    }
    int d = ty_wrap_dim("select", dim, t->ndim);
    if (d < 0) return NULL;
    int64_t n = t->shape[d];
    if (i < -n || i >= n) {
        ty_error("select: index %lld is out of range for dim %d of size %lld", (long long)i, d,
                 (long long)n);
        return NULL;
    }
    if (i < 0) i += n;
    ty_tensor *v = ty_alias(t);
    if (!v) return NULL;
    v->offset += i * t->strides[d];
    for (int k = d; k < t->ndim - 1; k++) {
        v->shape[k] = t->shape[k + 1];
        v->strides[k] = t->strides[k + 1];
    }
    v->ndim--;
    return v;
}

static ty_tensor *narrow_fwd(ty_tensor *t, int dim, int64_t start, int64_t length) {
    if (t->ndim == 0) {
        ty_error("narrow: cannot narrow a 0-d tensor");
        return NULL;
    }
    int d = ty_wrap_dim("narrow", dim, t->ndim);
    if (d < 0) return NULL;
    int64_t n = t->shape[d];
    if (start < 0) start += n;
    if (start < 0 || length < 0 || start > n || length > n - start) {
        ty_error("narrow: start %lld and length %lld are out of range for dim %d of size %lld",
                 (long long)start, (long long)length, d, (long long)n);
        return NULL;
    }
    return slice_fwd(t, d, start, start + length, 1);
}

static ty_tensor *expand_fwd(ty_tensor *t, int ndim, const int64_t *shape) {
    char a[256], b[256];
    if (ndim < t->ndim || ndim > TY_MAX_DIMS) {
        ty_error("expand: cannot expand shape %s to %d dims", ty_shape_str(t, a, sizeof a), ndim);
        return NULL;
    }
    int lead = ndim - t->ndim;
    int64_t ns[TY_MAX_DIMS], nst[TY_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
        int64_t want = shape[d];
        if (d < lead) {
            if (want < 0) goto bad;
            ns[d] = want;
            nst[d] = 0;
            continue;
        }
        int64_t have = t->shape[d - lead];
        if (want == -1) want = have;
        if (want == have) {
            ns[d] = have;
            nst[d] = t->strides[d - lead];
        } else if (have == 1 && want >= 0) {
            ns[d] = want;
            nst[d] = 0;
        } else {
            goto bad;
        }
    }
    ty_tensor *v = ty_alias(t);
    if (!v) return NULL;
    v->ndim = ndim;
    memcpy(v->shape, ns, sizeof(int64_t) * (size_t)ndim);
    memcpy(v->strides, nst, sizeof(int64_t) * (size_t)ndim);
    return v;
bad:
    ty_error("expand: shape %s cannot be expanded to %s", ty_shape_str(t, a, sizeof a),
             ty_shape_str_n(ndim, shape, b, sizeof b));
    return NULL;
}

static ty_tensor *squeeze_fwd(ty_tensor *t) {
    ty_tensor *v = ty_alias(t);
    if (!v) return NULL;
    int out = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 1) continue;
        v->shape[out] = t->shape[d];
        v->strides[out] = t->strides[d];
        out++;
    }
    v->ndim = out;
    return v;
}

static ty_tensor *squeeze_dim_fwd(ty_tensor *t, int dim) {
    int d = ty_wrap_dim("squeeze", dim, t->ndim);
    if (d < 0) return NULL;
    if (t->ndim == 0 || t->shape[d] != 1) return ty_alias(t);
    return select_fwd(t, d, 0);
}

static ty_tensor *unsqueeze_fwd(ty_tensor *t, int dim) {
    int d = ty_wrap_dim("unsqueeze", dim, t->ndim + 1);
    if (d < 0) return NULL;
    if (t->ndim >= TY_MAX_DIMS) {
        ty_error("unsqueeze: a tensor cannot have more than %d dims", TY_MAX_DIMS);
        return NULL;
    }
    ty_tensor *v = ty_alias(t);
    if (!v) return NULL;
    for (int k = t->ndim; k > d; k--) {
        v->shape[k] = t->shape[k - 1];
        v->strides[k] = t->strides[k - 1];
    }
    v->shape[d] = 1;
    v->strides[d] = d < t->ndim ? t->shape[d] * t->strides[d] : 1;
    v->ndim = t->ndim + 1;
    return v;
}

static ty_tensor *flatten_fwd(ty_tensor *t, int start_dim, int end_dim) {
    if (t->ndim == 0) {
        int64_t one = 1;
        return reshape_impl("flatten", t, 1, &one, 1);
    }
    int s = ty_wrap_dim("flatten", start_dim, t->ndim), e;
    if (s < 0 || (e = ty_wrap_dim("flatten", end_dim, t->ndim)) < 0) return NULL;
    if (s > e) {
        ty_error("flatten: start dim %d comes after end dim %d", start_dim, end_dim);
        return NULL;
    }
    int64_t shape[TY_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < s; d++) shape[nd++] = t->shape[d];
    int64_t merged = 1;
    for (int d = s; d <= e; d++) merged *= t->shape[d];
    shape[nd++] = merged;
    for (int d = e + 1; d < t->ndim; d++) shape[nd++] = t->shape[d];
    return reshape_impl("flatten", t, nd, shape, 1);
}

static ty_tensor *unfold_fwd(ty_tensor *t, int dim, int64_t size, int64_t step) {
    if (t->ndim >= TY_MAX_DIMS) {
        ty_error("unfold: a tensor cannot have more than %d dims", TY_MAX_DIMS);
        return NULL;
    }
    int d = ty_wrap_dim("unfold", dim, t->ndim);
    if (d < 0) return NULL;
    int64_t n = t->ndim ? t->shape[d] : 1;
    int64_t stride = t->ndim ? t->strides[d] : 1;
    if (size < 0 || size > n || step < 1) {
        ty_error("unfold: window size %lld with step %lld does not fit dim %d of size %lld",
                 (long long)size, (long long)step, d, (long long)n);
        return NULL;
    }
    ty_tensor *v = ty_alias(t);
    if (!v) return NULL;
    if (t->ndim == 0) {
        v->ndim = 1;
        v->shape[0] = size;
        v->strides[0] = 1;
        return v;
    }
    v->shape[d] = (n - size) / step + 1;
    v->strides[d] = stride * step;
    v->shape[t->ndim] = size;
    v->strides[t->ndim] = stride;
    v->ndim = t->ndim + 1;
    return v;
}

static ty_tensor *diagonal_fwd(ty_tensor *t, int64_t offset, int d0, int d1) {
    if (t->ndim < 2) {
        ty_error("diagonal: needs at least 2 dims, got %d", t->ndim);
        return NULL;
    }
    int a = ty_wrap_dim("diagonal", d0, t->ndim), b;
    if (a < 0 || (b = ty_wrap_dim("diagonal", d1, t->ndim)) < 0) return NULL;
    if (a == b) {
        ty_error("diagonal: the two dims must differ, both are %d", d0);
        return NULL;
    }
    int64_t len, start;
    if (offset >= 0) {
        len = t->shape[b] - offset < t->shape[a] ? t->shape[b] - offset : t->shape[a];
        start = offset * t->strides[b];
    } else {
        len = t->shape[a] + offset < t->shape[b] ? t->shape[a] + offset : t->shape[b];
        start = -offset * t->strides[a];
    }
    if (len < 0) len = 0;
    ty_tensor *v = ty_alias(t);
    if (!v) return NULL;
    if (len > 0) v->offset += start;
    int out = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (d == a || d == b) continue;
        v->shape[out] = t->shape[d];
        v->strides[out] = t->strides[d];
        out++;
    }
    v->shape[out] = len;
    v->strides[out] = t->strides[a] + t->strides[b];
    v->ndim = out + 1;
    return v;
}

/* ---- autograd ----
 *
 * Every public view records a node when its input requires grad: a view is
 * a new tensor struct, so without a grad_fn it would silently drop the
 * history. The gradients are themselves made of views and differentiable
 * ops, so second derivatives work:
 *
 * - reshape, view, squeeze, unsqueeze and flatten only regroup the elements:
 *   the gradient is g reshaped back to the input's shape;
 * - transpose and permute: g transposed back, or permuted by the inverse;
 * - expand: g summed over the broadcast dims (ty_sum_to);
 * - slice, narrow, select, diagonal and unfold pick elements at a strided
 *   pattern: the gradient is g placed at the same pattern inside zeros of
 *   the input's shape ("strided_scatter" below), adding where the pattern
 *   visits an element more than once (unfold with step < size). That op's
 *   own gradient is the same pattern read out of its gradient
 *   ("as_strided"), and the two are each other's backward.
 *
 * unfold's overlapping windows are handled by that scatter, which adds
 * serially in the order of the elements: one O(numel) pass, where a loop of
 * narrow + add over the window positions would cost a full-size add per
 * window. */

/* Where a strided view's elements lie inside a contiguous tensor of its
 * base's shape: element (i0, i1, ...) of the view is element offset +
 * sum(ik * strides[k]) of the flat base. */
typedef struct {
    int base_ndim;
    int64_t base_shape[TY_MAX_DIMS];
    int ndim;
    int64_t shape[TY_MAX_DIMS];
    int64_t strides[TY_MAX_DIMS];
    int64_t offset;
    bool overlaps; /* elements visited twice (unfold): the scatter must add serially */
} strided_geom;

/* A header of t's shape laid out contiguously from offset 0, borrowing t's
 * storage only so that the view functions can run on it: they compute the
 * pattern of a view of a contiguous base, and nothing reads the memory. */
static ty_tensor contiguous_header(const ty_tensor *t) {
    ty_tensor h;
    memset(&h, 0, sizeof h);
    h.storage = t->storage;
    h.dtype = t->dtype;
    h.device = t->device;
    h.refcount = 1;
    h.ndim = t->ndim;
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        h.shape[d] = t->shape[d];
        h.strides[d] = s;
        s *= t->shape[d] > 0 ? t->shape[d] : 1;
    }
    return h;
}

/* The geometry of hv, a view of contiguous_header(base); a malloc'd copy
 * (node contexts own theirs). */
static strided_geom *geom_new(const ty_tensor *base, const ty_tensor *hv, bool overlaps) {
    strided_geom *g = malloc(sizeof *g);
    if (!g) {
        ty_error("out of memory recording a view for autograd");
        return NULL;
    }
    g->base_ndim = base->ndim;
    memcpy(g->base_shape, base->shape, sizeof g->base_shape);
    g->ndim = hv->ndim;
    memcpy(g->shape, hv->shape, sizeof g->shape);
    memcpy(g->strides, hv->strides, sizeof g->strides);
    g->offset = hv->offset;
    g->overlaps = overlaps;
    return g;
}

static strided_geom *geom_copy(const strided_geom *src) {
    strided_geom *g = malloc(sizeof *g);
    if (!g) {
        ty_error("out of memory recording a view for autograd");
        return NULL;
    }
    *g = *src;
    return g;
}

static ty_tensor *as_strided(ty_tensor *base, const strided_geom *geo);
static ty_tensor *strided_scatter(ty_tensor *g, const strided_geom *geo);

/* as_strided's gradient: g put back into the pattern. ctx: strided_geom. */
static int as_strided_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = strided_scatter(g[0], n->ctx);
    return gi[0] ? 0 : -1;
}

/* The pattern read out of a tensor of the base's shape (any layout: it is
 * made contiguous first, differentiably). */
static ty_tensor *as_strided(ty_tensor *base, const strided_geom *geo) {
    ty_tensor *c = ty_contiguous(base);
    if (!c) return NULL;
    ty_tensor *v = ty_alias(c);
    if (!v) {
        ty_tensor_release(c);
        return NULL;
    }
    v->offset = c->offset + geo->offset;
    v->ndim = geo->ndim;
    memcpy(v->shape, geo->shape, sizeof v->shape);
    memcpy(v->strides, geo->strides, sizeof v->strides);
    if (ty_any_requires_grad(1, &c)) {
        strided_geom *ctx = geom_copy(geo);
        if (!ctx) {
            ty_tensor_release(v);
            ty_tensor_release(c);
            return NULL;
        }
        ty_node *n = ty_record("as_strided", as_strided_backward, 1, &c, 1, &v);
        if (n)
            n->ctx = ctx;
        else
            free(ctx);
    }
    ty_tensor_release(c);
    return v;
}

typedef struct {
    ty_dtype dt;
} add_into_ctx;

/* dst += src along one strided line (dst is ptrs[0]). */
static void add_into_kernel(char **ptrs, const int64_t *strides, int64_t n, void *vctx) {
    const add_into_ctx *c = vctx;
    if (c->dt == TY_F64) {
        for (int64_t i = 0; i < n; i++)
            *(double *)(ptrs[0] + i * strides[0]) += *(const double *)(ptrs[1] + i * strides[1]);
    } else if (c->dt == TY_F32) {
        for (int64_t i = 0; i < n; i++)
            *(float *)(ptrs[0] + i * strides[0]) += *(const float *)(ptrs[1] + i * strides[1]);
    } else { /* half types: through double, one element at a time */
        for (int64_t i = 0; i < n; i++) {
            char *d = ptrs[0] + i * strides[0];
            double v =
                ty_load_as_double(d, c->dt) + ty_load_as_double(ptrs[1] + i * strides[1], c->dt);
            ty_store_from_double(d, c->dt, v);
        }
    }
}

/* strided_scatter's gradient: the pattern read back. ctx: strided_geom. */
static int strided_scatter_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = as_strided(g[0], n->ctx);
    return gi[0] ? 0 : -1;
}

/* Zeros of the base's shape with g added at the pattern's elements. */
static ty_tensor *strided_scatter(ty_tensor *g, const strided_geom *geo) {
    if (ty_check_cpu("strided_scatter", g) < 0) return NULL;
    bool ok = g->ndim == geo->ndim;
    for (int d = 0; ok && d < g->ndim; d++) ok = g->shape[d] == geo->shape[d];
    if (!ok || !ty_dtype_is_float(g->dtype)) {
        char b1[64], b2[64];
        ty_error("strided_scatter: expected a float gradient of shape %s, got %s %s",
                 ty_shape_str_n(geo->ndim, geo->shape, b1, sizeof b1), ty_dtype_name(g->dtype),
                 ty_shape_str(g, b2, sizeof b2));
        return NULL;
    }
    ty_tensor *out = ty_empty(geo->base_ndim, geo->base_shape, g->dtype, g->device);
    if (!out) return NULL;
    memset(ty_data(out), 0, (size_t)ty_nbytes(out));
    ty_tensor *w = ty_alias(out);
    if (!w) {
        ty_tensor_release(out);
        return NULL;
    }
    w->offset = geo->offset;
    w->ndim = geo->ndim;
    memcpy(w->shape, geo->shape, sizeof w->shape);
    memcpy(w->strides, geo->strides, sizeof w->strides);
    ty_iter it;
    add_into_ctx c = {g->dtype};
    int rc = ty_iter_init(&it, "strided_scatter", 2, (ty_tensor *[]){w, g}, w->ndim, w->shape);
    if (rc == 0 && ty_numel(w) > 0) {
        /* overlapping windows add into the same element: one thread, in order */
        if (geo->overlaps)
            ty_iter_run_serial(&it, add_into_kernel, &c);
        else
            ty_iter_run(&it, add_into_kernel, &c);
    }
    ty_tensor_release(w);
    if (rc < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    if (ty_any_requires_grad(1, &g)) {
        strided_geom *ctx = geom_copy(geo);
        if (!ctx) {
            ty_tensor_release(out);
            return NULL;
        }
        ty_node *n = ty_record("strided_scatter", strided_scatter_backward, 1, &g, 1, &out);
        if (n)
            n->ctx = ctx;
        else
            free(ctx);
    }
    return out;
}

/* The backward of slice, select, narrow, diagonal and unfold. ctx:
 * strided_geom of the view inside a contiguous input. */
static int strided_view_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = strided_scatter(g[0], n->ctx);
    return gi[0] ? 0 : -1;
}

/* Records a strided view v of t; hv is the same view taken of
 * contiguous_header(t). Returns v, or NULL (releasing v) when out of
 * memory. */
static ty_tensor *record_strided(const char *name, ty_tensor *t, ty_tensor *v, ty_tensor *hv,
                                 bool overlaps) {
    strided_geom *geo = hv ? geom_new(t, hv, overlaps) : NULL;
    ty_tensor_release(hv);
    if (!geo) {
        ty_tensor_release(v);
        return NULL;
    }
    ty_node *n = ty_record(name, strided_view_backward, 1, &t, 1, &v);
    if (n)
        n->ctx = geo;
    else
        free(geo);
    return v;
}

/* The backward of every view that keeps the elements in row-major order. */
static int reshape_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = ty_reshape(g[0], n->input_meta[0].ndim, n->input_meta[0].shape);
    return gi[0] ? 0 : -1;
}

static ty_tensor *record_reshape(const char *name, ty_tensor *t, ty_tensor *v) {
    if (v) ty_record(name, reshape_backward, 1, &t, 1, &v);
    return v;
}

ty_tensor *ty_reshape(ty_tensor *t, int ndim, const int64_t *shape) {
    /* a copy (ty_clone) must not record a node of its own */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *v = reshape_impl("reshape", t, ndim, shape, 1);
    ty_set_grad_enabled(prev);
    return record_reshape("reshape", t, v);
}

ty_tensor *ty_view(ty_tensor *t, int ndim, const int64_t *shape) {
    return record_reshape("view", t, reshape_impl("view", t, ndim, shape, 0));
}

ty_tensor *ty_squeeze(ty_tensor *t) {
    return record_reshape("squeeze", t, squeeze_fwd(t));
}

ty_tensor *ty_squeeze_dim(ty_tensor *t, int dim) {
    return record_reshape("squeeze", t, squeeze_dim_fwd(t, dim));
}

ty_tensor *ty_unsqueeze(ty_tensor *t, int dim) {
    return record_reshape("unsqueeze", t, unsqueeze_fwd(t, dim));
}

ty_tensor *ty_flatten(ty_tensor *t, int start_dim, int end_dim) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *v = flatten_fwd(t, start_dim, end_dim);
    ty_set_grad_enabled(prev);
    return record_reshape("flatten", t, v);
}

/* i[0], i[1]: the two dims (wrapped). */
static int transpose_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = ty_transpose(g[0], (int)n->i[0], (int)n->i[1]);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_transpose(ty_tensor *t, int d0, int d1) {
    ty_tensor *v = transpose_fwd(t, d0, d1);
    if (!v) return NULL;
    ty_node *n = ty_record("transpose", transpose_backward, 1, &t, 1, &v);
    if (n) {
        n->i[0] = ty_wrap_dim("transpose", d0, t->ndim);
        n->i[1] = ty_wrap_dim("transpose", d1, t->ndim);
    }
    return v;
}

/* i[0..ndim): the permutation (wrapped); the gradient uses its inverse. */
static int permute_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    int inv[TY_MAX_DIMS];
    for (int d = 0; d < n->input_meta[0].ndim; d++) inv[n->i[d]] = d;
    gi[0] = ty_permute(g[0], inv);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_permute(ty_tensor *t, const int *perm) {
    ty_tensor *v = permute_fwd(t, perm);
    if (!v) return NULL;
    ty_node *n = ty_record("permute", permute_backward, 1, &t, 1, &v);
    if (n)
        for (int d = 0; d < t->ndim; d++) n->i[d] = ty_wrap_dim("permute", perm[d], t->ndim);
    return v;
}

static int expand_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = ty_sum_to(g[0], n->input_meta[0].ndim, n->input_meta[0].shape);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_expand(ty_tensor *t, int ndim, const int64_t *shape) {
    ty_tensor *v = expand_fwd(t, ndim, shape);
    if (v) ty_record("expand", expand_backward, 1, &t, 1, &v);
    return v;
}

ty_tensor *ty_slice(ty_tensor *t, int dim, int64_t start, int64_t stop, int64_t step) {
    ty_tensor *v = slice_fwd(t, dim, start, stop, step);
    if (!v || !ty_any_requires_grad(1, &t)) return v;
    ty_tensor h = contiguous_header(t);
    return record_strided("slice", t, v, slice_fwd(&h, dim, start, stop, step), false);
}

ty_tensor *ty_select(ty_tensor *t, int dim, int64_t i) {
    ty_tensor *v = select_fwd(t, dim, i);
    if (!v || !ty_any_requires_grad(1, &t)) return v;
    ty_tensor h = contiguous_header(t);
    return record_strided("select", t, v, select_fwd(&h, dim, i), false);
}

ty_tensor *ty_narrow(ty_tensor *t, int dim, int64_t start, int64_t length) {
    ty_tensor *v = narrow_fwd(t, dim, start, length);
    if (!v || !ty_any_requires_grad(1, &t)) return v;
    ty_tensor h = contiguous_header(t);
    return record_strided("narrow", t, v, narrow_fwd(&h, dim, start, length), false);
}

ty_tensor *ty_diagonal(ty_tensor *t, int64_t offset, int d0, int d1) {
    ty_tensor *v = diagonal_fwd(t, offset, d0, d1);
    if (!v || !ty_any_requires_grad(1, &t)) return v;
    ty_tensor h = contiguous_header(t);
    return record_strided("diagonal", t, v, diagonal_fwd(&h, offset, d0, d1), false);
}

ty_tensor *ty_unfold(ty_tensor *t, int dim, int64_t size, int64_t step) {
    ty_tensor *v = unfold_fwd(t, dim, size, step);
    if (!v || !ty_any_requires_grad(1, &t)) return v;
    ty_tensor h = contiguous_header(t);
    return record_strided("unfold", t, v, unfold_fwd(&h, dim, size, step), size > step);
}
