/* Sorting along a dim: sort, argsort and topk.
 *
 * The input is made contiguous (halves widened to f32, which converts back
 * exactly) and seen as (outer, n, inner): a "line" is the n elements of one
 * (outer, inner) pair, `inner` apart. Each line is copied into a buffer of
 * (value, position) pairs, merge sorted, and written out. Merge sort is
 * stable, so equal keys keep their order in both directions and top-k ties
 * keep the lower index first, which makes every result deterministic. NaN
 * sorts as the largest value, as in PyTorch: last ascending, first
 * descending. Lines are spread across threads, each with its own buffers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "creation.h"
#include "error.h"
#include "indexing.h"
#include "parallel.h"

/* Elements handled between two interrupt checks. */
#define CHUNK_ELEMS ((int64_t)1 << 20)
/* Runs shorter than this are insertion sorted before merging. */
#define RUN 16

/* Strict "a before b" for ascending order; descending swaps the arguments.
 * For floats NaN is above everything, including infinity. */
#define LESS_FLOAT(a, b) ((a) < (b) || (isnan(b) && !isnan(a)))
#define LESS_INT(a, b) ((a) < (b))

/* sort_lines_SUF sorts lines [l0, l1) of a contiguous (outer, n, inner)
 * tensor x of T and writes the first `keep` entries of each sorted line to
 * vals / idx, shaped (outer, keep, inner). buf holds 2n pairs. */
#define DEFINE_SORT(SUF, T, LESS)                                                                  \
    typedef struct {                                                                               \
        T v;                                                                                       \
        int64_t i;                                                                                 \
    } pair_##SUF;                                                                                  \
                                                                                                   \
    static inline bool before_##SUF(const pair_##SUF *a, const pair_##SUF *b, bool desc) {         \
        return desc ? LESS(b->v, a->v) : LESS(a->v, b->v);                                         \
    }                                                                                              \
                                                                                                   \
    /* Stable: returns the buffer (a or tmp) holding the sorted pairs. */                          \
    static pair_##SUF *merge_sort_##SUF(pair_##SUF *a, pair_##SUF *tmp, int64_t n, bool desc) {    \
        for (int64_t s = 0; s < n; s += RUN) {                                                     \
            int64_t e = s + RUN < n ? s + RUN : n;                                                 \
            for (int64_t i = s + 1; i < e; i++) {                                                  \
                pair_##SUF key = a[i];                                                             \
                int64_t j = i;                                                                     \
                while (j > s && before_##SUF(&key, &a[j - 1], desc)) {                             \
                    a[j] = a[j - 1];                                                               \
                    j--;                                                                           \
                }                                                                                  \
                a[j] = key;                                                                        \
            }                                                                                      \
        }                                                                                          \
        pair_##SUF *src = a, *dst = tmp;                                                           \
        for (int64_t w = RUN; w < n; w *= 2) {                                                     \
            for (int64_t s = 0; s < n; s += 2 * w) {                                               \
                int64_t m = s + w < n ? s + w : n, e = s + 2 * w < n ? s + 2 * w : n;              \
                int64_t i = s, j = m, k = s;                                                       \
                /* Take from the right only when strictly before: stable. */                       \
                while (i < m && j < e)                                                             \
                    dst[k++] = before_##SUF(&src[j], &src[i], desc) ? src[j++] : src[i++];         \
                while (i < m) dst[k++] = src[i++];                                                 \
                while (j < e) dst[k++] = src[j++];                                                 \
            }                                                                                      \
            pair_##SUF *t = src;                                                                   \
            src = dst;                                                                             \
            dst = t;                                                                               \
        }                                                                                          \
        return src;                                                                                \
    }                                                                                              \
                                                                                                   \
    static void sort_lines_##SUF(const T *x, T *vals, int64_t *idx, int64_t n, int64_t inner,      \
                                 int64_t keep, bool desc, int64_t l0, int64_t l1, void *buf) {     \
        pair_##SUF *a = buf, *tmp = a + n;                                                         \
        for (int64_t l = l0; l < l1; l++) {                                                        \
            int64_t o = l / inner, j = l % inner;                                                  \
            const T *xl = x + o * n * inner + j;                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                a[i].v = xl[i * inner];                                                            \
                a[i].i = i;                                                                        \
            }                                                                                      \
            const pair_##SUF *s = merge_sort_##SUF(a, tmp, n, desc);                               \
            int64_t base = o * keep * inner + j;                                                   \
            for (int64_t i = 0; i < keep; i++) {                                                   \
                if (vals) vals[base + i * inner] = s[i].v;                                         \
                if (idx) idx[base + i * inner] = s[i].i;                                           \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_SORT(f32, float, LESS_FLOAT)
DEFINE_SORT(f64, double, LESS_FLOAT)
DEFINE_SORT(i64, int64_t, LESS_INT)
DEFINE_SORT(u8, uint8_t, LESS_INT) /* also bool: false < true */

/* Bytes of one (value, position) pair of dtype dt. */
static size_t pair_size(ty_dtype dt) {
    switch (dt) {
    case TY_F32:
        return sizeof(pair_f32);
    case TY_F64:
        return sizeof(pair_f64);
    case TY_I64:
        return sizeof(pair_i64);
    default:
        return sizeof(pair_u8);
    }
}

static void sort_lines(const ty_tensor *x, void *vals, int64_t *idx, int64_t n, int64_t inner,
                       int64_t keep, bool desc, int64_t l0, int64_t l1, void *buf) {
    const void *xd = ty_data(x);
    switch (x->dtype) {
    case TY_F32:
        sort_lines_f32(xd, vals, idx, n, inner, keep, desc, l0, l1, buf);
        break;
    case TY_F64:
        sort_lines_f64(xd, vals, idx, n, inner, keep, desc, l0, l1, buf);
        break;
    case TY_I64:
        sort_lines_i64(xd, vals, idx, n, inner, keep, desc, l0, l1, buf);
        break;
    default:
        sort_lines_u8(xd, vals, idx, n, inner, keep, desc, l0, l1, buf);
        break;
    }
}

/* Sorts x along dim and keeps the first `keep` entries of each line (all of
 * them when keep_arg < 0). The outputs have x's shape with size keep at dim. */
static int sort_impl(const char *fn, ty_tensor *x, int dim, int64_t keep_arg, bool desc,
                     ty_tensor **values, ty_tensor **indices) {
    if (values) *values = NULL;
    if (indices) *indices = NULL;
    if (ty_check_cpu(fn, x) < 0) return -1;
    int d = ty_wrap_dim(fn, dim, x->ndim);
    if (d < 0) return -1;
    int64_t n = x->ndim > 0 ? x->shape[d] : 1;
    int64_t keep = keep_arg < 0 ? n : keep_arg;
    if (keep > n)
        return ty_error("%s: k %lld is out of range for dim %d of size %lld", fn, (long long)keep,
                        d, (long long)n);

    int64_t outer = 1, inner = 1, shape[TY_MAX_DIMS];
    int nd = x->ndim;
    for (int k = 0; k < x->ndim; k++) {
        shape[k] = k == d ? keep : x->shape[k];
        if (k < d) outer *= x->shape[k];
        if (k > d) inner *= x->shape[k];
    }
    if (nd == 0 && keep == 0) { /* an empty top-k of a scalar */
        nd = 1;
        shape[0] = 0;
    }
    ty_dtype cd = ty_compute_dtype(x->dtype);
    ty_tensor *xc = ty_cast(x, cd), *c = NULL, *vals = NULL, *idx = NULL;
    void *buf = NULL;
    int rc = -1;
    if (!xc || !(c = ty_contiguous(xc))) goto done;
    if (values && !(vals = ty_empty(nd, shape, cd, x->device))) goto done;
    if (indices && !(idx = ty_empty(nd, shape, TY_I64, x->device))) goto done;

    int64_t lines = outer * inner;
    if (lines > 0 && n > 0 && keep > 0) {
        int64_t per_line = n * 8; /* about n log n comparisons for typical n */
        int64_t chunk = CHUNK_ELEMS / per_line > 0 ? CHUNK_ELEMS / per_line : 1;
        int max_nt = ty_threads_for(lines * per_line);
        if (max_nt > lines) max_nt = (int)lines;
        size_t line_bytes = 2 * (size_t)n * pair_size(cd);
        if (!(buf = malloc(line_bytes * (size_t)max_nt))) {
            ty_error("%s: out of memory for lines of %lld elements", fn, (long long)n);
            goto done;
        }
        void *vd = vals ? ty_data(vals) : NULL;
        int64_t *id = idx ? ty_data(idx) : NULL;
        for (int64_t l0 = 0; l0 < lines; l0 += chunk) {
            if (ty_check_interrupt(fn) < 0) goto done;
            int64_t l1 = lines - l0 > chunk ? l0 + chunk : lines;
            int nt = ty_threads_for((l1 - l0) * per_line);
            if (nt > max_nt) nt = max_nt;
            int64_t per = (l1 - l0 + nt - 1) / nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
            for (int t = 0; t < nt; t++) {
                int64_t b = l0 + t * per, e = b + per < l1 ? b + per : l1;
                if (b < e)
                    sort_lines(c, vd, id, n, inner, keep, desc, b, e,
                               (char *)buf + line_bytes * (size_t)t);
            }
        }
    }
    if (vals && cd != x->dtype) { /* back to the half type: exact */
        ty_tensor *h = ty_cast(vals, x->dtype);
        if (!h) goto done;
        ty_tensor_release(vals);
        vals = h;
    }
    if (values) {
        *values = vals;
        vals = NULL;
    }
    if (indices) {
        *indices = idx;
        idx = NULL;
    }
    rc = 0;
done:
    free(buf);
    ty_tensor_release(xc);
    ty_tensor_release(c);
    ty_tensor_release(vals);
    ty_tensor_release(idx);
    return rc;
}

/* ---- autograd ----
 * The values of sort and top-k are entries of x, so each one's gradient goes
 * back to the position it came from: dx = zeros.scatter(dim, indices, g), as
 * PyTorch does (positions within a line are distinct, so nothing is
 * overwritten). Ties follow the sort's stable order: the gradient goes to
 * the position the indices name. scatter is differentiable, so second
 * derivatives work. Indices never receive gradients. */

/* saved: 0 = indices; i[0] = dim (wrapped). */
static int sort_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    const ty_meta *m = &n->input_meta[0];
    ty_tensor *z = ty_zeros(m->ndim, m->shape, g[0]->dtype, m->device);
    if (!z) return -1;
    if (ty_numel(g[0]) == 0) { /* also an empty top-k of a 0-d x */
        gi[0] = z;
        return 0;
    }
    ty_tensor *idx = ty_saved(n, 0);
    gi[0] = idx ? ty_scatter(z, (int)n->i[0], idx, g[0]) : NULL;
    ty_tensor_release(idx);
    ty_tensor_release(z);
    return gi[0] ? 0 : -1;
}

/* sort_impl with grad mode off, recording a node on the values when x
 * requires grad (the indices are then computed even when not asked for). */
static int sort_recorded(const char *fn, ty_tensor *x, int dim, int64_t keep, bool desc,
                         ty_tensor **values, ty_tensor **indices) {
    bool want = values && ty_any_requires_grad(1, &x);
    ty_tensor *own_idx = NULL;
    ty_tensor **idx = indices ? indices : want ? &own_idx : NULL;
    bool prev = ty_set_grad_enabled(false);
    int rc = sort_impl(fn, x, dim, keep, desc, values, idx);
    ty_set_grad_enabled(prev);
    if (rc == 0 && want) {
        ty_node *n = ty_record(fn, sort_backward, 1, &x, 1, values);
        if (n) {
            ty_save(n, 0, *idx);
            n->i[0] = x->ndim == 0 ? 0 : dim < 0 ? dim + x->ndim : dim;
        }
    }
    ty_tensor_release(own_idx);
    return rc;
}

int ty_sort(ty_tensor *x, int dim, bool descending, bool stable, ty_tensor **values,
            ty_tensor **indices) {
    (void)stable; /* always stable */
    return sort_recorded("sort", x, dim, -1, descending, values, indices);
}

ty_tensor *ty_argsort(ty_tensor *x, int dim, bool descending, bool stable) {
    ty_tensor *indices = NULL;
    (void)stable;
    bool prev = ty_set_grad_enabled(false);
    int rc = sort_impl("argsort", x, dim, -1, descending, NULL, &indices);
    ty_set_grad_enabled(prev);
    if (rc < 0) return NULL;
    return indices;
}

int ty_topk(ty_tensor *x, int64_t k, int dim, bool largest, bool sorted, ty_tensor **values,
            ty_tensor **indices) {
    (void)sorted; /* always sorted */
    if (k < 0) {
        if (values) *values = NULL;
        if (indices) *indices = NULL;
        if (ty_check_cpu("topk", x) < 0) return -1;
        int d = ty_wrap_dim("topk", dim, x->ndim);
        if (d < 0) return -1;
        return ty_error("topk: k %lld is out of range for dim %d of size %lld", (long long)k, d,
                        (long long)(x->ndim > 0 ? x->shape[d] : 1));
    }
    return sort_recorded("topk", x, dim, k, largest, values, indices);
}
