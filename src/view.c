/* Views: new tensor headers over the same storage. Nothing here copies data
 * except ty_reshape when the strides leave no choice. Each function checks
 * its arguments completely before making the view, so a failure leaves
 * nothing behind. */
#include <string.h>

#include "error.h"
#include "tensor.h"

int ty_broadcast_shapes(const char *fn, int nda, const int64_t *a, int ndb, const int64_t *b,
                        int *out_ndim, int64_t *out_shape) {
    int nd = nda > ndb ? nda : ndb;
    int64_t result[TY_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        int ia = nda - nd + i, ib = ndb - nd + i;
        int64_t sa = ia >= 0 ? a[ia] : 1, sb = ib >= 0 ? b[ib] : 1;
        if (sa == sb || sb == 1) result[i] = sa;
        else if (sa == 1) result[i] = sb;
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
            if (np < op) np *= shape[nj++];
            else op *= os[oj++];
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

ty_tensor *ty_reshape(ty_tensor *t, int ndim, const int64_t *shape) {
    return reshape_impl("reshape", t, ndim, shape, 1);
}

ty_tensor *ty_view(ty_tensor *t, int ndim, const int64_t *shape) {
    return reshape_impl("view", t, ndim, shape, 0);
}

ty_tensor *ty_transpose(ty_tensor *t, int d0, int d1) {
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

ty_tensor *ty_permute(ty_tensor *t, const int *perm) {
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

ty_tensor *ty_slice(ty_tensor *t, int dim, int64_t start, int64_t stop, int64_t step) {
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

ty_tensor *ty_select(ty_tensor *t, int dim, int64_t i) {
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

ty_tensor *ty_narrow(ty_tensor *t, int dim, int64_t start, int64_t length) {
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
    return ty_slice(t, d, start, start + length, 1);
}

ty_tensor *ty_expand(ty_tensor *t, int ndim, const int64_t *shape) {
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

ty_tensor *ty_squeeze(ty_tensor *t) {
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

ty_tensor *ty_squeeze_dim(ty_tensor *t, int dim) {
    int d = ty_wrap_dim("squeeze", dim, t->ndim);
    if (d < 0) return NULL;
    if (t->ndim == 0 || t->shape[d] != 1) return ty_alias(t);
    return ty_select(t, d, 0);
}

ty_tensor *ty_unsqueeze(ty_tensor *t, int dim) {
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

ty_tensor *ty_flatten(ty_tensor *t, int start_dim, int end_dim) {
    if (t->ndim == 0) {
        int64_t one = 1;
        return ty_reshape(t, 1, &one);
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
    return ty_reshape(t, nd, shape);
}

ty_tensor *ty_unfold(ty_tensor *t, int dim, int64_t size, int64_t step) {
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

ty_tensor *ty_diagonal(ty_tensor *t, int64_t offset, int d0, int d1) {
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
