/* Gather, scatter (assign, value, add), index_add, index_select, masked
 * fill and select, nonzero and one_hot.
 *
 * gather and scatter walk `index` row by row (a row is its last dim) and turn
 * each index value into an offset along `dim` of the tensor they read or
 * write; the other coordinates are shared. A 0-d tensor is walked as shape
 * (1) so every loop has a last dim. Data is only moved, so these loops are
 * written per element size, not per dtype.
 *
 * scatter_add and index_add have a second, fast path for the message-passing
 * layout (x (N,F), dim 0, index (E) or (E,F) expanded with stride 0): a
 * counting sort groups the E source rows by destination row, then each
 * destination row is summed by one thread over its sources in increasing
 * order, with contiguous vectorisable loops. Every output element depends on
 * one thread only and the order of its terms is fixed, so the result does not
 * depend on the thread count. The general path adds serially in row-major
 * order of index, which is the same order per element; both paths accumulate
 * f32 in double, so they give identical results.
 *
 * Every index is checked before anything is written. In-place forms do not
 * poll for Ctrl-C in the middle of their one pass: stopping there would leave
 * the target half-written. */
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "creation.h"
#include "error.h"
#include "indexing.h"
#include "iter.h"
#include "parallel.h"

/* Elements handled between two interrupt checks. */
#define CHUNK_ELEMS ((int64_t)1 << 22)
/* Columns of a destination row summed at once in the fast scatter_add path
 * (an accumulator of this many doubles lives on the stack). */
#define ACC_BLOCK 256

/* ---- shared helpers ---- */

/* A tensor's shape and strides (in elements), with a 0-d tensor seen as shape
 * (1) so that every loop has a last dim. */
typedef struct {
    int nd;
    int64_t shape[TY_MAX_DIMS];
    int64_t strides[TY_MAX_DIMS];
} layout;

static layout layout_of(const ty_tensor *t) {
    layout l;
    memset(&l, 0, sizeof l);
    l.nd = t->ndim > 0 ? t->ndim : 1;
    l.shape[0] = 1;
    l.strides[0] = 1;
    for (int d = 0; d < t->ndim; d++) {
        l.shape[d] = t->shape[d];
        l.strides[d] = t->strides[d];
    }
    return l;
}

static int64_t layout_numel(const layout *l) {
    int64_t n = 1;
    for (int d = 0; d < l->nd; d++) n *= l->shape[d];
    return n;
}

/* Element offset of the start of row r (a row is the last dim) of an
 * iteration over `shape`, in a tensor with `strides`. */
static int64_t row_offset(int nd, const int64_t *shape, const int64_t *strides, int64_t r) {
    int64_t off = 0;
    for (int d = nd - 2; d >= 0; d--) {
        off += (r % shape[d]) * strides[d];
        r /= shape[d];
    }
    return off;
}

/* Calls f(ctx, begin, end) over [0, n) units of about unit_cost elements
 * each, in chunks of about CHUNK_ELEMS with an interrupt check before each
 * (when interruptible); with `parallel`, a large chunk is split evenly across
 * threads (f must then be safe on disjoint ranges). */
typedef void (*range_fn)(void *ctx, int64_t begin, int64_t end);

static int run_units(const char *fn, range_fn f, void *ctx, int64_t n, int64_t unit_cost,
                     bool parallel, bool interruptible) {
    if (unit_cost < 1) unit_cost = 1;
    int64_t chunk = CHUNK_ELEMS / unit_cost > 0 ? CHUNK_ELEMS / unit_cost : 1;
    for (int64_t u0 = 0; u0 < n; u0 += chunk) {
        if (interruptible && ty_check_interrupt(fn) < 0) return -1;
        int64_t u1 = n - u0 > chunk ? u0 + chunk : n;
        int nt = parallel ? ty_threads_for((u1 - u0) * unit_cost) : 1;
        if (nt > u1 - u0) nt = (int)(u1 - u0);
        if (nt <= 1) {
            f(ctx, u0, u1);
            continue;
        }
        int64_t per = (u1 - u0 + nt - 1) / nt;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int t = 0; t < nt; t++) {
            int64_t b = u0 + t * per, e = b + per < u1 ? b + per : u1;
            if (b < e) f(ctx, b, e);
        }
    }
    return 0;
}

/* A target written in place must not be a broadcast view: two of its
 * elements would share memory and the result would depend on write order. */
static int check_no_overlap(const char *fn, const ty_tensor *t) {
    for (int d = 0; d < t->ndim; d++) {
        if (t->strides[d] == 0 && t->shape[d] > 1) {
            char buf[256];
            return ty_error("%s: the target of shape %s is a broadcast view whose elements share "
                            "memory; clone it first",
                            fn, ty_shape_str(t, buf, sizeof buf));
        }
    }
    return 0;
}

static int check_index_dtype(const char *fn, const ty_tensor *index) {
    if (index->dtype == TY_I64) return 0;
    return ty_error("%s: index must be i64, got %s", fn, ty_dtype_name(index->dtype));
}

/* Checks every value of index (any strides) against [0, size) of dim d. */
static int check_indices(const char *fn, const ty_tensor *index, int d, int64_t size) {
    layout l = layout_of(index);
    int64_t len = l.shape[l.nd - 1], s = l.strides[l.nd - 1];
    int64_t rows = len > 0 ? layout_numel(&l) / len : 0;
    const int64_t *base = ty_data(index);
    for (int64_t r = 0; r < rows; r++) {
        const int64_t *p = base + row_offset(l.nd, l.shape, l.strides, r);
        int64_t n = s == 0 ? 1 : len; /* an expanded row holds one value */
        for (int64_t j = 0; j < n; j++) {
            int64_t v = p[j * s];
            if (v < 0 || v >= size)
                return ty_error("%s: index %lld is out of range for dim %d of size %lld", fn,
                                (long long)v, d, (long long)size);
        }
    }
    return 0;
}

/* Validates the arguments shared by gather and the scatters (src may be
 * NULL) and every index value; *d_out receives the wrapped dim. */
static int check_gather_args(const char *fn, const ty_tensor *x, int dim, const ty_tensor *index,
                             const ty_tensor *src, int *d_out) {
    char a[256], b[256];
    if (ty_check_cpu(fn, x) < 0 || ty_check_cpu(fn, index) < 0 ||
        ty_check_same_device(fn, x, index) < 0)
        return -1;
    if (src && (ty_check_cpu(fn, src) < 0 || ty_check_same_device(fn, x, src) < 0)) return -1;
    int d = ty_wrap_dim(fn, dim, x->ndim);
    if (d < 0 || check_index_dtype(fn, index) < 0) return -1;
    if (index->ndim != x->ndim)
        return ty_error("%s: index has %d dims but x has %d (shapes %s and %s)", fn, index->ndim,
                        x->ndim, ty_shape_str(index, a, sizeof a), ty_shape_str(x, b, sizeof b));
    for (int k = 0; k < x->ndim; k++) {
        if (k != d && index->shape[k] > x->shape[k])
            return ty_error("%s: index shape %s does not fit x shape %s at dim %d: %lld > %lld", fn,
                            ty_shape_str(index, a, sizeof a), ty_shape_str(x, b, sizeof b), k,
                            (long long)index->shape[k], (long long)x->shape[k]);
    }
    if (src) {
        if (src->dtype != x->dtype)
            return ty_error("%s: src dtype %s differs from x dtype %s", fn,
                            ty_dtype_name(src->dtype), ty_dtype_name(x->dtype));
        if (src->ndim != index->ndim)
            return ty_error("%s: src has %d dims but index has %d (shapes %s and %s)", fn,
                            src->ndim, index->ndim, ty_shape_str(src, a, sizeof a),
                            ty_shape_str(index, b, sizeof b));
        for (int k = 0; k < src->ndim; k++) {
            if (index->shape[k] > src->shape[k])
                return ty_error(
                    "%s: index shape %s does not fit src shape %s at dim %d: %lld > %lld", fn,
                    ty_shape_str(index, a, sizeof a), ty_shape_str(src, b, sizeof b), k,
                    (long long)index->shape[k], (long long)src->shape[k]);
        }
    }
    *d_out = d;
    return check_indices(fn, index, d, x->ndim > 0 ? x->shape[d] : 1);
}

/* A fresh contiguous copy of t in dtype dt. */
static ty_tensor *fresh_copy(const ty_tensor *t, ty_dtype dt) {
    ty_tensor *out = ty_empty(t->ndim, t->shape, dt, t->device);
    if (out && ty_copy_(out, t) < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    return out;
}

/* A contiguous tensor of dtype dt with t's values: t itself (retained) when
 * it already is one. */
static ty_tensor *contiguous_as(ty_tensor *t, ty_dtype dt) {
    if (t->dtype == dt && ty_is_contiguous(t)) return ty_tensor_retain(t);
    return fresh_copy(t, dt);
}

/* The part of src that index covers: src narrowed to index's shape. */
static ty_tensor *narrow_to(ty_tensor *src, const ty_tensor *index) {
    ty_tensor *v = ty_alias(src);
    if (!v) return NULL;
    for (int k = 0; k < index->ndim; k++) v->shape[k] = index->shape[k];
    return v;
}

/* ---- gather and the serial scatter ---- */

/* One walk over index: `other` is the tensor addressed through the index (x
 * for gather, the target for scatter) with its stride at dim zeroed, and
 * `dense` the one addressed like index (gather's output, scatter's src). */
typedef struct {
    int nd;
    int64_t shape[TY_MAX_DIMS]; /* index's shape */
    const int64_t *ind;
    int64_t istr[TY_MAX_DIMS];
    char *other;
    int64_t ostr[TY_MAX_DIMS];
    int64_t odim; /* other's stride along dim */
    char *dense;
    int64_t dstr[TY_MAX_DIMS];
    size_t es;
    ty_dtype dt;
    uint64_t value; /* scatter_value's value in the target dtype (aligned storage) */
} walk;

static void walk_init(walk *w, const ty_tensor *index, ty_tensor *other, int d, ty_tensor *dense) {
    layout li = layout_of(index), lo = layout_of(other), ld = layout_of(dense);
    memset(w, 0, sizeof *w);
    w->nd = li.nd;
    memcpy(w->shape, li.shape, sizeof w->shape);
    w->ind = ty_data(index);
    memcpy(w->istr, li.strides, sizeof w->istr);
    w->other = ty_data(other);
    memcpy(w->ostr, lo.strides, sizeof w->ostr);
    w->odim = lo.strides[d];
    w->ostr[d] = 0;
    w->dense = ty_data(dense);
    memcpy(w->dstr, ld.strides, sizeof w->dstr);
    w->es = ty_dtype_size(other->dtype);
    w->dt = other->dtype;
}

static int64_t walk_rows(const walk *w) {
    int64_t n = 1;
    for (int d = 0; d < w->nd - 1; d++) n *= w->shape[d];
    return w->shape[w->nd - 1] > 0 ? n : 0;
}

/* The loop over one row of index, for element type T. The body sees `o`
 * (pointer to the element of `other`) and `e` (the element of `dense`). */
#define WALK_ROW(T, BODY)                                                                          \
    do {                                                                                           \
        T *ob = (T *)w->other + oo, *db = (T *)w->dense + dd;                                      \
        for (int64_t j = 0; j < len; j++) {                                                        \
            T *o = ob + j * osl + ip[j * isl] * w->odim;                                           \
            T *e = db + j * dsl;                                                                   \
            BODY;                                                                                  \
        }                                                                                          \
    } while (0)

/* Expands a data-moving BODY once per element size. */
#define BY_SIZE(ES, BODY)                                                                          \
    switch (ES) {                                                                                  \
    case 1:                                                                                        \
        WALK_ROW(uint8_t, BODY);                                                                   \
        break;                                                                                     \
    case 2:                                                                                        \
        WALK_ROW(uint16_t, BODY);                                                                  \
        break;                                                                                     \
    case 4:                                                                                        \
        WALK_ROW(uint32_t, BODY);                                                                  \
        break;                                                                                     \
    default:                                                                                       \
        WALK_ROW(uint64_t, BODY);                                                                  \
        break;                                                                                     \
    }

#define WALK_ROW_SETUP                                                                             \
    int nd = w->nd;                                                                                \
    int64_t len = w->shape[nd - 1], isl = w->istr[nd - 1], osl = w->ostr[nd - 1],                  \
            dsl = w->dstr[nd - 1];                                                                 \
    const int64_t *ip = w->ind + row_offset(nd, w->shape, w->istr, r);                             \
    int64_t oo = row_offset(nd, w->shape, w->ostr, r), dd = row_offset(nd, w->shape, w->dstr, r)

static void gather_range(void *ctx, int64_t r0, int64_t r1) {
    const walk *w = ctx;
    for (int64_t r = r0; r < r1; r++) {
        WALK_ROW_SETUP;
        BY_SIZE(w->es, *e = *o);
    }
}

static void scatter_range(void *ctx, int64_t r0, int64_t r1) {
    const walk *w = ctx;
    for (int64_t r = r0; r < r1; r++) {
        WALK_ROW_SETUP;
        BY_SIZE(w->es, *o = *e);
    }
}

static void scatter_value_range(void *ctx, int64_t r0, int64_t r1) {
    const walk *w = ctx;
    for (int64_t r = r0; r < r1; r++) {
        WALK_ROW_SETUP;
        BY_SIZE(w->es, memcpy(o, &w->value, sizeof *o); (void)e);
    }
}

/* The general scatter_add: the target is f64, i64, u8 or bool (see
 * add_dtype), src has the same dtype. i64 wraps as in two's complement and
 * bool adds as logical or, as PyTorch does. */
static void scatter_add_range(void *ctx, int64_t r0, int64_t r1) {
    const walk *w = ctx;
    for (int64_t r = r0; r < r1; r++) {
        WALK_ROW_SETUP;
        switch (w->dt) {
        case TY_F64:
            WALK_ROW(double, *o += *e);
            break;
        case TY_I64:
            WALK_ROW(int64_t, *o = (int64_t)((uint64_t)*o + (uint64_t)*e));
            break;
        case TY_U8:
            WALK_ROW(uint8_t, *o = (uint8_t)(*o + *e));
            break;
        default:
            WALK_ROW(uint8_t, *o = (uint8_t)(*o | *e));
            break;
        }
    }
}

static ty_tensor *gather_fwd(ty_tensor *x, int dim, ty_tensor *index) {
    int d;
    if (check_gather_args("gather", x, dim, index, NULL, &d) < 0) return NULL;
    ty_tensor *out = ty_empty(index->ndim, index->shape, x->dtype, x->device);
    if (!out) return NULL;
    walk w;
    walk_init(&w, index, x, d, out);
    int64_t rows = walk_rows(&w);
    if (run_units("gather", gather_range, &w, rows, w.shape[w.nd - 1], true, true) < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    return out;
}

/* scatter and scatter_value, in place on target (already validated). Serial,
 * so that the last of several writes to one element wins deterministically. */
static int scatter_into(const char *fn, ty_tensor *target, int d, ty_tensor *index, ty_tensor *src,
                        const double *value, bool interruptible) {
    walk w;
    walk_init(&w, index, target, d, src ? src : index);
    if (value) ty_store_from_double(&w.value, target->dtype, *value);
    int64_t rows = walk_rows(&w);
    return run_units(fn, value ? scatter_value_range : scatter_range, &w, rows, w.shape[w.nd - 1],
                     false, interruptible);
}

static ty_tensor *scatter_out(const char *fn, ty_tensor *x, int dim, ty_tensor *index,
                              ty_tensor *src, const double *value) {
    int d;
    if (check_gather_args(fn, x, dim, index, src, &d) < 0) return NULL;
    ty_tensor *out = ty_clone(x);
    if (!out) return NULL;
    if (scatter_into(fn, out, d, index, src, value, true) < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    return out;
}

static int scatter_inplace(const char *fn, ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src,
                           const double *value) {
    int d;
    if (check_gather_args(fn, x, dim, index, src, &d) < 0 || check_no_overlap(fn, x) < 0) return -1;
    if (scatter_into(fn, x, d, index, src, value, false) < 0) return -1;
    ty_bump_version(x);
    return 0;
}

/* The public scatters and their in-place forms are in the autograd section
 * at the end of the file. */

/* ---- scatter_add and index_add ---- */

/* Sums for destination rows of the fast path. A row (o, r) of work, `inner`
 * elements, receives the rows src[o][e] for the e listed in order[begin, end),
 * in that order. ACC is the accumulator type and ADD(acc, v) one step. */
#define DEFINE_ROWS_ADD(SUF, T, ACC, ADD)                                                          \
    static void rows_add_##SUF(T *dst, const T *src, const int64_t *order, int64_t begin,          \
                               int64_t end, int64_t inner) {                                       \
        ACC acc[ACC_BLOCK];                                                                        \
        for (int64_t f0 = 0; f0 < inner; f0 += ACC_BLOCK) {                                        \
            int64_t w = inner - f0 < ACC_BLOCK ? inner - f0 : ACC_BLOCK;                           \
            for (int64_t f = 0; f < w; f++) acc[f] = (ACC)dst[f0 + f];                             \
            for (int64_t k = begin; k < end; k++) {                                                \
                const T *s = src + order[k] * inner + f0;                                          \
                _Pragma("omp simd") for (int64_t f = 0; f < w; f++) ADD(acc[f], s[f]);             \
            }                                                                                      \
            for (int64_t f = 0; f < w; f++) dst[f0 + f] = (T)acc[f];                               \
        }                                                                                          \
    }

#define ADD_PLUS(a, v) ((a) += (v))
#define ADD_OR(a, v) ((a) |= (v))
DEFINE_ROWS_ADD(f32, float, double, ADD_PLUS)
DEFINE_ROWS_ADD(f64, double, double, ADD_PLUS)
DEFINE_ROWS_ADD(i64, int64_t, uint64_t, ADD_PLUS) /* unsigned: wraps without UB */
DEFINE_ROWS_ADD(u8, uint8_t, uint8_t, ADD_PLUS)
DEFINE_ROWS_ADD(bool, uint8_t, uint8_t, ADD_OR)

/* The fast path's data: work (outer, N, inner) and src (outer, E, inner),
 * both contiguous and of the same dtype; row r of each outer block gets the
 * src rows order[start[r] .. start[r+1]). */
typedef struct {
    char *work;
    const char *src;
    ty_dtype dt;
    int64_t outer, N, E, inner;
    const int64_t *start, *order;
} grouped;

static void grouped_unit(const grouped *g, int64_t u) {
    int64_t o = u / g->N, r = u % g->N;
    int64_t b = g->start[r], e = g->start[r + 1];
    if (b == e) return;
    int64_t es = (int64_t)ty_dtype_size(g->dt);
    char *dst = g->work + (o * g->N + r) * g->inner * es;
    const char *src = g->src + o * g->E * g->inner * es;
    switch (g->dt) {
    case TY_F32:
        rows_add_f32((float *)dst, (const float *)src, g->order, b, e, g->inner);
        break;
    case TY_F64:
        rows_add_f64((double *)dst, (const double *)src, g->order, b, e, g->inner);
        break;
    case TY_I64:
        rows_add_i64((int64_t *)dst, (const int64_t *)src, g->order, b, e, g->inner);
        break;
    case TY_U8:
        rows_add_u8((uint8_t *)dst, (const uint8_t *)src, g->order, b, e, g->inner);
        break;
    default:
        rows_add_bool((uint8_t *)dst, (const uint8_t *)src, g->order, b, e, g->inner);
        break;
    }
}

/* work[o][rows[e]] += src[o][e] for every e, grouped by destination row. */
static int grouped_add(const char *fn, ty_tensor *work, ty_tensor *src, const int64_t *rows,
                       int64_t outer, int64_t N, int64_t E, int64_t inner, bool interruptible) {
    if (outer == 0 || N == 0 || E == 0 || inner == 0) return 0;
    /* Counting sort of the sources by destination row, stable so that each
     * row adds its sources in increasing order. After the fill, row r's
     * sources are order[start[r] .. start[r+1]). */
    int64_t *start = calloc((size_t)N + 2, sizeof *start);
    int64_t *order = malloc((size_t)E * sizeof *order);
    if (!start || !order) {
        free(start);
        free(order);
        return ty_error("%s: out of memory grouping %lld indices", fn, (long long)E);
    }
    for (int64_t e = 0; e < E; e++) start[rows[e] + 2]++;
    for (int64_t r = 2; r < N + 2; r++) start[r] += start[r - 1];
    for (int64_t e = 0; e < E; e++) order[start[rows[e] + 1]++] = e;

    grouped g = {ty_data(work), ty_data(src), work->dtype, outer, N, E, inner, start, order};
    int64_t units = outer * N, u0 = 0;
    int rc = 0;
    while (u0 < units) {
        if (interruptible && ty_check_interrupt(fn) < 0) {
            rc = -1;
            break;
        }
        /* A chunk of about CHUNK_ELEMS elements of work. */
        int64_t u1 = u0, cost = 0;
        while (u1 < units && cost < CHUNK_ELEMS) {
            int64_t r = u1 % N;
            cost += (start[r + 1] - start[r] + 1) * inner;
            u1++;
        }
        int nt = ty_threads_for(cost);
        /* Dynamic: rows of a graph have very different numbers of sources. */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16) if (nt > 1)
        for (int64_t u = u0; u < u1; u++) grouped_unit(&g, u);
        u0 = u1;
    }
    free(start);
    free(order);
    return rc;
}

/* True when index (already validated) is one value per position along d,
 * broadcast over whole rows of x: the fast path's layout. */
static bool index_is_rowwise(const ty_tensor *x, int d, const ty_tensor *index) {
    for (int k = 0; k < x->ndim; k++) {
        if (k == d) continue;
        if (index->shape[k] != x->shape[k]) return false;
        if (index->strides[k] != 0 && index->shape[k] != 1) return false;
    }
    return true;
}

/* The E values of index along dim d (the other coordinates 0) in a fresh
 * array. */
static int64_t *index_column(const char *fn, const ty_tensor *index, int d, int64_t E) {
    int64_t *rows = malloc((size_t)(E > 0 ? E : 1) * sizeof *rows);
    if (!rows) {
        ty_error("%s: out of memory copying %lld indices", fn, (long long)E);
        return NULL;
    }
    const int64_t *p = ty_data(index);
    int64_t s = index->ndim > 0 ? index->strides[d] : 0;
    for (int64_t e = 0; e < E; e++) rows[e] = p[e * s];
    return rows;
}

/* The dtype sums are done in: the fast path sums f32 rows in double itself,
 * the general path needs a double target. */
static ty_dtype add_dtype(ty_dtype dt, bool fast) {
    if (ty_dtype_is_float(dt)) return fast && dt != TY_F64 ? TY_F32 : TY_F64;
    return dt;
}

/* x (+)= src at index along d, for scatter_add (is_index_add false) and
 * index_add; everything has been validated. In place the result goes into
 * x; otherwise *result receives a new tensor. */
static int add_impl(const char *fn, ty_tensor *x, int d, ty_tensor *index, ty_tensor *src,
                    bool is_index_add, bool inplace, ty_tensor **result) {
    bool fast = is_index_add || index_is_rowwise(x, d, index);
    ty_dtype wd = add_dtype(x->dtype, fast);
    ty_tensor *work = NULL, *s = NULL, *narrowed = NULL;
    int64_t *rows = NULL;
    int rc = -1;

    if (inplace && x->dtype == wd && ty_is_contiguous(x))
        work = ty_tensor_retain(x);
    else
        work = fresh_copy(x, wd);
    narrowed = is_index_add ? ty_tensor_retain(src) : narrow_to(src, index);
    if (!work || !narrowed || !(s = contiguous_as(narrowed, wd))) goto done;

    if (fast) {
        layout lx = layout_of(x);
        int64_t outer = 1, inner = 1, N = lx.shape[d];
        for (int k = 0; k < d; k++) outer *= lx.shape[k];
        for (int k = d + 1; k < lx.nd; k++) inner *= lx.shape[k];
        int64_t E = is_index_add ? ty_numel(index) : (index->ndim > 0 ? index->shape[d] : 1);
        if (!(rows = index_column(fn, index, is_index_add ? 0 : d, E))) goto done;
        if (grouped_add(fn, work, s, rows, outer, N, E, inner, !inplace) < 0) goto done;
    } else {
        walk w;
        walk_init(&w, index, work, d, s);
        if (run_units(fn, scatter_add_range, &w, walk_rows(&w), w.shape[w.nd - 1], false,
                      !inplace) < 0)
            goto done;
    }

    if (inplace) {
        /* Converts back and writes through x's strides; cannot fail now. */
        if (work != x) {
            rc = ty_copy_(x, work);
        } else {
            ty_bump_version(x);
            rc = 0;
        }
    } else {
        *result = ty_cast(work, x->dtype);
        rc = *result ? 0 : -1;
    }
done:
    free(rows);
    ty_tensor_release(s);
    ty_tensor_release(narrowed);
    ty_tensor_release(work);
    return rc;
}

static ty_tensor *scatter_add_fwd(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    int d;
    ty_tensor *out = NULL;
    if (check_gather_args("scatter_add", x, dim, index, src, &d) < 0) return NULL;
    if (add_impl("scatter_add", x, d, index, src, false, false, &out) < 0) return NULL;
    return out;
}

static int scatter_add_inplace(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    int d;
    if (check_gather_args("scatter_add_", x, dim, index, src, &d) < 0 ||
        check_no_overlap("scatter_add_", x) < 0)
        return -1;
    return add_impl("scatter_add_", x, d, index, src, false, true, NULL);
}

/* Checks a 1-D (or 0-d) i64 index along dim d of x. */
static int check_index_1d(const char *fn, const ty_tensor *x, int d, const ty_tensor *index) {
    char a[256];
    if (check_index_dtype(fn, index) < 0) return -1;
    if (index->ndim > 1)
        return ty_error("%s: index must be 0-d or 1-D, got shape %s", fn,
                        ty_shape_str(index, a, sizeof a));
    return check_indices(fn, index, d, x->ndim > 0 ? x->shape[d] : 1);
}

static int check_index_add_args(const char *fn, const ty_tensor *x, int dim, const ty_tensor *index,
                                const ty_tensor *src, int *d_out) {
    char a[256], b[256];
    if (ty_check_cpu(fn, x) < 0 || ty_check_cpu(fn, index) < 0 || ty_check_cpu(fn, src) < 0 ||
        ty_check_same_device(fn, x, index) < 0 || ty_check_same_device(fn, x, src) < 0)
        return -1;
    int d = ty_wrap_dim(fn, dim, x->ndim);
    if (d < 0) return -1;
    if (src->dtype != x->dtype)
        return ty_error("%s: src dtype %s differs from x dtype %s", fn, ty_dtype_name(src->dtype),
                        ty_dtype_name(x->dtype));
    int64_t E = ty_numel(index);
    bool ok = src->ndim == x->ndim && (x->ndim > 0 || E == 1);
    for (int k = 0; ok && k < x->ndim; k++) ok = src->shape[k] == (k == d ? E : x->shape[k]);
    if (!ok)
        return ty_error("%s: src shape %s does not match x shape %s with %lld indices at dim %d",
                        fn, ty_shape_str(src, a, sizeof a), ty_shape_str(x, b, sizeof b),
                        (long long)E, d);
    *d_out = d;
    return check_index_1d(fn, x, d, index);
}

static ty_tensor *index_add_fwd(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    int d;
    ty_tensor *out = NULL;
    if (check_index_add_args("index_add", x, dim, index, src, &d) < 0) return NULL;
    if (add_impl("index_add", x, d, index, src, true, false, &out) < 0) return NULL;
    return out;
}

static int index_add_inplace(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    int d;
    if (check_index_add_args("index_add_", x, dim, index, src, &d) < 0 ||
        check_no_overlap("index_add_", x) < 0)
        return -1;
    return add_impl("index_add_", x, d, index, src, true, true, NULL);
}

/* ---- index_select ---- */

typedef struct {
    const char *x;
    char *out;
    const int64_t *rows;
    int64_t N, E, row_bytes;
} select_job;

static void select_range(void *ctx, int64_t u0, int64_t u1) {
    const select_job *j = ctx;
    for (int64_t u = u0; u < u1; u++) {
        int64_t o = u / j->E, e = u % j->E;
        memcpy(j->out + u * j->row_bytes, j->x + (o * j->N + j->rows[e]) * j->row_bytes,
               (size_t)j->row_bytes);
    }
}

static ty_tensor *index_select_fwd(ty_tensor *x, int dim, ty_tensor *index) {
    const char *fn = "index_select";
    if (ty_check_cpu(fn, x) < 0 || ty_check_cpu(fn, index) < 0 ||
        ty_check_same_device(fn, x, index) < 0)
        return NULL;
    int d = ty_wrap_dim(fn, dim, x->ndim);
    if (d < 0 || check_index_1d(fn, x, d, index) < 0) return NULL;
    int64_t E = ty_numel(index);
    if (x->ndim == 0 && E != 1) {
        ty_error("%s: a 0-d x takes exactly one index, got %lld", fn, (long long)E);
        return NULL;
    }
    int64_t shape[TY_MAX_DIMS];
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < x->ndim; k++) {
        shape[k] = k == d ? E : x->shape[k];
        if (k < d) outer *= x->shape[k];
        if (k > d) inner *= x->shape[k];
    }
    ty_tensor *xc = ty_contiguous(x), *out = NULL;
    int64_t *rows = NULL;
    if (!xc || !(out = ty_empty(x->ndim, shape, x->dtype, x->device))) goto fail;
    if (!(rows = index_column(fn, index, 0, E))) goto fail;
    select_job j = {ty_data(xc), ty_data(out),
                    rows,        x->ndim ? x->shape[d] : 1,
                    E,           inner * (int64_t)ty_dtype_size(x->dtype)};
    if (run_units(fn, select_range, &j, outer * E, inner, true, true) < 0) goto fail;
    free(rows);
    ty_tensor_release(xc);
    return out;
fail:
    free(rows);
    ty_tensor_release(xc);
    ty_tensor_release(out);
    return NULL;
}

/* ---- masks ---- */

static int check_mask(const char *fn, const ty_tensor *x, const ty_tensor *mask) {
    if (ty_check_cpu(fn, x) < 0 || ty_check_cpu(fn, mask) < 0 ||
        ty_check_same_device(fn, x, mask) < 0)
        return -1;
    if (mask->dtype != TY_BOOL && mask->dtype != TY_U8)
        return ty_error("%s: mask must be bool or u8, got %s", fn, ty_dtype_name(mask->dtype));
    return 0;
}

typedef struct {
    size_t es;
    uint64_t value; /* the value in the target dtype (aligned storage) */
} fill_ctx;

#define MASKED_FILL_LOOP(T)                                                                        \
    do {                                                                                           \
        T v;                                                                                       \
        memcpy(&v, &c->value, sizeof v);                                                           \
        for (int64_t i = 0; i < n; i++)                                                            \
            if (p[1][i * s[1]]) *(T *)(p[0] + i * s[0]) = v;                                       \
    } while (0)

static void masked_fill_kernel(char **p, const int64_t *s, int64_t n, void *ctx) {
    const fill_ctx *c = ctx;
    switch (c->es) {
    case 1:
        MASKED_FILL_LOOP(uint8_t);
        break;
    case 2:
        MASKED_FILL_LOOP(uint16_t);
        break;
    case 4:
        MASKED_FILL_LOOP(uint32_t);
        break;
    default:
        MASKED_FILL_LOOP(uint64_t);
        break;
    }
}

/* Writes value into t where mask (broadcast to t's shape) is set. */
static int masked_fill_into(const char *fn, ty_tensor *t, ty_tensor *mask, double value) {
    ty_iter it;
    ty_tensor *ops[2] = {t, mask};
    if (ty_iter_init(&it, fn, 2, ops, t->ndim, t->shape) < 0) return -1;
    fill_ctx c = {ty_dtype_size(t->dtype), 0};
    ty_store_from_double(&c.value, t->dtype, value);
    ty_iter_run(&it, masked_fill_kernel, &c);
    ty_bump_version(t);
    return 0;
}

static int masked_fill_inplace(ty_tensor *x, ty_tensor *mask, double value) {
    if (check_no_overlap("masked_fill_", x) < 0 || check_mask("masked_fill_", x, mask) < 0)
        return -1;
    return masked_fill_into("masked_fill_", x, mask, value);
}

static ty_tensor *masked_fill_fwd(ty_tensor *x, ty_tensor *mask, double value) {
    int nd;
    int64_t shape[TY_MAX_DIMS];
    if (check_mask("masked_fill", x, mask) < 0 ||
        ty_broadcast_shapes("masked_fill", x->ndim, x->shape, mask->ndim, mask->shape, &nd, shape) <
            0)
        return NULL;
    ty_tensor *out = ty_empty(nd, shape, x->dtype, x->device);
    if (!out) return NULL;
    if (ty_copy_(out, x) < 0 || masked_fill_into("masked_fill", out, mask, value) < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    return out;
}

static ty_tensor *masked_select_fwd(ty_tensor *x, ty_tensor *mask) {
    const char *fn = "masked_select";
    int nd;
    int64_t shape[TY_MAX_DIMS];
    if (check_mask(fn, x, mask) < 0 ||
        ty_broadcast_shapes(fn, x->ndim, x->shape, mask->ndim, mask->shape, &nd, shape) < 0)
        return NULL;
    ty_tensor *xe = ty_expand(x, nd, shape), *me = ty_expand(mask, nd, shape);
    ty_tensor *xc = NULL, *mc = NULL, *out = NULL;
    if (!xe || !me || !(xc = ty_contiguous(xe)) || !(mc = ty_contiguous(me))) goto done;
    int64_t n = ty_numel(xc), count = 0;
    const uint8_t *m = ty_data(mc);
    for (int64_t i = 0; i < n; i++) count += m[i] != 0;
    if (!(out = ty_empty(1, &count, x->dtype, x->device))) goto done;
    size_t es = ty_dtype_size(x->dtype);
    const char *src = ty_data(xc);
    char *dst = ty_data(out);
    for (int64_t i = 0; i < n; i++) {
        if (!m[i]) continue;
        memcpy(dst, src + i * (int64_t)es, es);
        dst += es;
    }
done:
    ty_tensor_release(xe);
    ty_tensor_release(me);
    ty_tensor_release(xc);
    ty_tensor_release(mc);
    return out;
}

/* ---- nonzero and one_hot ---- */

/* Sets flags[i] = (x[i] != 0) for a contiguous x of a non-half dtype. */
static void nonzero_flags(const ty_tensor *x, uint8_t *flags, int64_t n) {
#define NZ(T)                                                                                      \
    do {                                                                                           \
        const T *p = ty_data(x);                                                                   \
        for (int64_t i = 0; i < n; i++) flags[i] = p[i] != 0;                                      \
    } while (0)
    switch (x->dtype) {
    case TY_F32:
        NZ(float);
        break;
    case TY_F64:
        NZ(double);
        break;
    case TY_I64:
        NZ(int64_t);
        break;
    default:
        NZ(uint8_t);
        break;
    }
#undef NZ
}

ty_tensor *ty_nonzero(ty_tensor *x) {
    if (ty_check_cpu("nonzero", x) < 0) return NULL;
    /* Halves compare exactly after widening, and -0.0 stays zero. */
    ty_tensor *c = contiguous_as(x, ty_compute_dtype(x->dtype)), *out = NULL;
    if (!c) return NULL;
    int64_t n = ty_numel(c), count = 0;
    uint8_t *flags = malloc((size_t)(n > 0 ? n : 1));
    if (!flags) {
        ty_error("nonzero: out of memory for %lld elements", (long long)n);
        goto done;
    }
    nonzero_flags(c, flags, n);
    for (int64_t i = 0; i < n; i++) count += flags[i];
    int64_t shape[2] = {count, x->ndim};
    if (!(out = ty_empty(2, shape, TY_I64, x->device))) goto done;
    int64_t *o = ty_data(out), coord[TY_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        if (flags[i]) {
            memcpy(o, coord, sizeof(int64_t) * (size_t)x->ndim);
            o += x->ndim;
        }
        for (int k = x->ndim - 1; k >= 0; k--) {
            if (++coord[k] < x->shape[k]) break;
            coord[k] = 0;
        }
    }
done:
    free(flags);
    ty_tensor_release(c);
    return out;
}

ty_tensor *ty_one_hot(ty_tensor *labels, int64_t num_classes) {
    const char *fn = "one_hot";
    if (ty_check_cpu(fn, labels) < 0) return NULL;
    if (labels->dtype != TY_I64) {
        ty_error("%s: labels must be i64, got %s", fn, ty_dtype_name(labels->dtype));
        return NULL;
    }
    if (labels->ndim >= TY_MAX_DIMS) {
        ty_error("%s: labels have %d dims, at most %d allowed", fn, labels->ndim, TY_MAX_DIMS - 1);
        return NULL;
    }
    if (num_classes < -1) {
        ty_error("%s: num_classes must be -1 or at least 0, got %lld", fn, (long long)num_classes);
        return NULL;
    }
    ty_tensor *c = ty_contiguous(labels), *out = NULL;
    if (!c) return NULL;
    const int64_t *lab = ty_data(c);
    int64_t n = ty_numel(c);
    if (num_classes == -1) {
        if (n == 0) {
            ty_error("%s: cannot infer the number of classes from an empty tensor", fn);
            goto done;
        }
        int64_t max = lab[0];
        for (int64_t i = 1; i < n; i++)
            if (lab[i] > max) max = lab[i];
        num_classes = max < 0 ? 0 : max + 1;
    }
    for (int64_t i = 0; i < n; i++) {
        if (lab[i] < 0 || lab[i] >= num_classes) {
            ty_error("%s: label %lld is out of range for %lld classes", fn, (long long)lab[i],
                     (long long)num_classes);
            goto done;
        }
    }
    int64_t shape[TY_MAX_DIMS];
    memcpy(shape, labels->shape, sizeof(int64_t) * (size_t)labels->ndim);
    shape[labels->ndim] = num_classes;
    if (!(out = ty_empty(labels->ndim + 1, shape, TY_I64, labels->device))) goto done;
    int64_t *o = ty_data(out);
    if (n * num_classes > 0) memset(o, 0, (size_t)(n * num_classes) * sizeof *o);
    for (int64_t i = 0; i < n; i++) o[i * num_classes + lab[i]] = 1;
done:
    ty_tensor_release(c);
    return out;
}

/* ---- autograd ----
 *
 * The forwards above run with grad mode off (some make views or copies of
 * their inputs, which must not record nodes of their own), and each public
 * function below records one node. The derivatives follow PyTorch's
 * derivatives.yaml and are written with these same ops, which are each
 * other's derivatives (gather <-> scatter_add, index_select <-> index_add,
 * scatter with a value <-> itself), so second derivatives work too. Index
 * and mask tensors never receive gradients. */

/* Zeros with a node input's shape and the gradient's dtype. */
static ty_tensor *zeros_meta_as(const ty_meta *m, ty_dtype dt) {
    return ty_zeros(m->ndim, m->shape, dt, m->device);
}

/* The dim as the forward used it (the call succeeded, so it is valid). */
static int wrapped_dim(int dim, int ndim) {
    if (ndim == 0) return 0;
    return dim < 0 ? dim + ndim : dim;
}

/* t (index's shape) padded with zeros at the end of each dim to the shape
 * of m (src's): scatter reads only the part of src that index covers, the
 * rest gets no gradient. */
static ty_tensor *pad_to_meta(ty_tensor *t, const ty_meta *m) {
    int64_t pad[2 * TY_MAX_DIMS];
    int npad = 0;
    bool any = false;
    for (int d = m->ndim - 1; d >= 0; d--) {
        pad[npad++] = 0;
        pad[npad++] = m->shape[d] - t->shape[d];
        any |= m->shape[d] != t->shape[d];
    }
    if (!any) return ty_tensor_retain(t);
    return ty_pad_constant(t, npad, pad, 0.0);
}

/* g gathered at index along d, padded to src's shape: the gradient of a
 * scatter's src. */
static ty_tensor *src_grad(ty_tensor *g, int d, ty_tensor *index, const ty_meta *src) {
    ty_tensor *gathered = ty_gather(g, d, index);
    if (!gathered) return NULL;
    ty_tensor *r = pad_to_meta(gathered, src);
    ty_tensor_release(gathered);
    return r;
}

/* gather: dx = zeros.scatter_add(dim, index, g). saved: 0 = index;
 * i[0] = dim. */
static int gather_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *index = ty_saved(n, 0);
    if (!index) return -1;
    ty_tensor *z = zeros_meta_as(&n->input_meta[0], g[0]->dtype);
    gi[0] = z ? ty_scatter_add(z, (int)n->i[0], index, g[0]) : NULL;
    ty_tensor_release(z);
    ty_tensor_release(index);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_gather(ty_tensor *x, int dim, ty_tensor *index) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = gather_fwd(x, dim, index);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_node *n = ty_record("gather", gather_backward, 1, &x, 1, &out);
    if (n) {
        ty_save(n, 0, index);
        n->i[0] = wrapped_dim(dim, x->ndim);
    }
    return out;
}

/* scatter, scatter_value and scatter_add (i[1] says which: 0, 1, 2):
 *     dx   = g with the scattered positions zeroed (g for scatter_add),
 *     dsrc = g.gather(dim, index), padded to src's shape.
 * saved: 0 = index; i[0] = dim. Inputs: x and src (none for a value). */
static int scatter_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *index = ty_saved(n, 0);
    if (!index) return -1;
    int d = (int)n->i[0], rc = 0;
    if (ty_node_needs_grad(n, 0)) {
        gi[0] = n->i[1] == 2 ? ty_tensor_retain(g[0]) : ty_scatter_value(g[0], d, index, 0.0);
        if (!gi[0]) rc = -1;
    }
    if (rc == 0 && n->i[1] != 1 && ty_node_needs_grad(n, 1) &&
        !(gi[1] = src_grad(g[0], d, index, &n->input_meta[1])))
        rc = -1;
    ty_tensor_release(index);
    return rc;
}

/* Records a scatter node of kind 0 (scatter), 1 (value) or 2 (add). */
static ty_tensor *record_scatter(const char *name, ty_tensor *out, ty_tensor *x, int dim,
                                 ty_tensor *index, ty_tensor *src, int kind) {
    if (!out) return NULL;
    ty_node *n =
        ty_record(name, scatter_backward, kind == 1 ? 1 : 2, (ty_tensor *[]){x, src}, 1, &out);
    if (n) {
        ty_save(n, 0, index);
        n->i[0] = wrapped_dim(dim, x->ndim);
        n->i[1] = kind;
    }
    return out;
}

ty_tensor *ty_scatter(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = scatter_out("scatter", x, dim, index, src, NULL);
    ty_set_grad_enabled(prev);
    return record_scatter("scatter", out, x, dim, index, src, 0);
}

ty_tensor *ty_scatter_value(ty_tensor *x, int dim, ty_tensor *index, double value) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = scatter_out("scatter", x, dim, index, NULL, &value);
    ty_set_grad_enabled(prev);
    return record_scatter("scatter", out, x, dim, index, NULL, 1);
}

ty_tensor *ty_scatter_add(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = scatter_add_fwd(x, dim, index, src);
    ty_set_grad_enabled(prev);
    return record_scatter("scatter_add", out, x, dim, index, src, 2);
}

/* The in-place forms under autograd compute out of place (recording the
 * node) and let ty_inplace_commit write the result into x and move the
 * history; it refuses a leaf that requires grad and a target sharing its
 * memory. A broadcast target is refused first, as without autograd. */
int ty_scatter_(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    if (ty_inplace_needs_grad(x, 1, &src)) {
        if (check_no_overlap("scatter_", x) < 0) return -1;
        return ty_inplace_commit("scatter_", x, ty_scatter(x, dim, index, src));
    }
    return scatter_inplace("scatter_", x, dim, index, src, NULL);
}

int ty_scatter_value_(ty_tensor *x, int dim, ty_tensor *index, double value) {
    if (ty_inplace_needs_grad(x, 0, NULL)) {
        if (check_no_overlap("scatter_", x) < 0) return -1;
        return ty_inplace_commit("scatter_", x, ty_scatter_value(x, dim, index, value));
    }
    return scatter_inplace("scatter_", x, dim, index, NULL, &value);
}

int ty_scatter_add_(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    if (ty_inplace_needs_grad(x, 1, &src)) {
        if (check_no_overlap("scatter_add_", x) < 0) return -1;
        return ty_inplace_commit("scatter_add_", x, ty_scatter_add(x, dim, index, src));
    }
    return scatter_add_inplace(x, dim, index, src);
}

/* index_add: dx = g, dsrc = g.index_select(dim, index). saved: 0 = index;
 * i[0] = dim. */
static int index_add_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    if (ty_node_needs_grad(n, 0)) gi[0] = ty_tensor_retain(g[0]);
    if (!ty_node_needs_grad(n, 1)) return 0;
    ty_tensor *index = ty_saved(n, 0);
    if (!index) return -1;
    gi[1] = ty_index_select(g[0], (int)n->i[0], index);
    ty_tensor_release(index);
    return gi[1] ? 0 : -1;
}

ty_tensor *ty_index_add(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = index_add_fwd(x, dim, index, src);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_node *n = ty_record("index_add", index_add_backward, 2, (ty_tensor *[]){x, src}, 1, &out);
    if (n) {
        ty_save(n, 0, index);
        n->i[0] = wrapped_dim(dim, x->ndim);
    }
    return out;
}

int ty_index_add_(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src) {
    if (ty_inplace_needs_grad(x, 1, &src)) {
        if (check_no_overlap("index_add_", x) < 0) return -1;
        return ty_inplace_commit("index_add_", x, ty_index_add(x, dim, index, src));
    }
    return index_add_inplace(x, dim, index, src);
}

/* index_select: dx = zeros.index_add(dim, index, g). saved: 0 = index;
 * i[0] = dim. */
static int index_select_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *index = ty_saved(n, 0);
    if (!index) return -1;
    ty_tensor *z = zeros_meta_as(&n->input_meta[0], g[0]->dtype);
    gi[0] = z ? ty_index_add(z, (int)n->i[0], index, g[0]) : NULL;
    ty_tensor_release(z);
    ty_tensor_release(index);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_index_select(ty_tensor *x, int dim, ty_tensor *index) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = index_select_fwd(x, dim, index);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_node *n = ty_record("index_select", index_select_backward, 1, &x, 1, &out);
    if (n) {
        ty_save(n, 0, index);
        n->i[0] = wrapped_dim(dim, x->ndim);
    }
    return out;
}

/* masked_fill: dx = g with the filled positions zeroed, summed back to x's
 * shape where x was broadcast against the mask. saved: 0 = mask. */
static int masked_fill_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *mask = ty_saved(n, 0);
    if (!mask) return -1;
    ty_tensor *m = ty_masked_fill(g[0], mask, 0.0);
    ty_tensor_release(mask);
    if (!m) return -1;
    gi[0] = ty_sum_to(m, n->input_meta[0].ndim, n->input_meta[0].shape);
    ty_tensor_release(m);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_masked_fill(ty_tensor *x, ty_tensor *mask, double value) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = masked_fill_fwd(x, mask, value);
    ty_set_grad_enabled(prev);
    if (!out) return NULL;
    ty_node *n = ty_record("masked_fill", masked_fill_backward, 1, &x, 1, &out);
    if (n) ty_save(n, 0, mask);
    return out;
}

int ty_masked_fill_(ty_tensor *x, ty_tensor *mask, double value) {
    if (ty_inplace_needs_grad(x, 0, NULL)) {
        int nd;
        int64_t shape[TY_MAX_DIMS];
        if (check_no_overlap("masked_fill_", x) < 0 || check_mask("masked_fill_", x, mask) < 0 ||
            ty_broadcast_shapes("masked_fill_", x->ndim, x->shape, mask->ndim, mask->shape, &nd,
                                shape) < 0)
            return -1;
        bool same = nd == x->ndim;
        for (int d = 0; same && d < nd; d++) same = shape[d] == x->shape[d];
        if (!same) {
            char a[256], b[256];
            return ty_error("masked_fill_: mask of shape %s does not broadcast to the target's "
                            "shape %s",
                            ty_shape_str(mask, a, sizeof a), ty_shape_str(x, b, sizeof b));
        }
        return ty_inplace_commit("masked_fill_", x, ty_masked_fill(x, mask, value));
    }
    return masked_fill_inplace(x, mask, value);
}

/* The flat row-major positions where mask, broadcast to shape, is set: a
 * 1-D i64 tensor (the order masked_select reads in). */
static ty_tensor *mask_positions(ty_tensor *mask, int nd, const int64_t *shape) {
    ty_tensor *me = ty_expand(mask, nd, shape), *mc = me ? ty_contiguous(me) : NULL, *pos = NULL;
    if (mc) {
        int64_t n = ty_numel(mc), count = 0;
        const uint8_t *m = ty_data(mc);
        for (int64_t i = 0; i < n; i++) count += m[i] != 0;
        if ((pos = ty_empty(1, &count, TY_I64, mask->device))) {
            int64_t *p = ty_data(pos);
            for (int64_t i = 0; i < n; i++)
                if (m[i]) *p++ = i;
        }
    }
    ty_tensor_release(me);
    ty_tensor_release(mc);
    return pos;
}

/* masked_select: g goes back to the selected positions of the broadcast
 * shape (index_add into flat zeros), then is summed to x's shape.
 * saved: 0 = the flat positions; i[0] = ndim and i[1..] the broadcast
 * shape. */
static int masked_select_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *pos = ty_saved(n, 0);
    if (!pos) return -1;
    int nd = (int)n->i[0];
    int64_t numel = 1;
    for (int d = 0; d < nd; d++) numel *= n->i[1 + d];
    ty_tensor *z = ty_zeros(1, &numel, g[0]->dtype, g[0]->device);
    ty_tensor *flat = z ? ty_index_add(z, 0, pos, g[0]) : NULL;
    ty_tensor *full = flat ? ty_reshape(flat, nd, &n->i[1]) : NULL;
    gi[0] = full ? ty_sum_to(full, n->input_meta[0].ndim, n->input_meta[0].shape) : NULL;
    ty_tensor_release(pos);
    ty_tensor_release(z);
    ty_tensor_release(flat);
    ty_tensor_release(full);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_masked_select(ty_tensor *x, ty_tensor *mask) {
    bool want = ty_any_requires_grad(1, &x);
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = masked_select_fwd(x, mask), *pos = NULL;
    int nd = 0;
    int64_t shape[TY_MAX_DIMS];
    if (out && want && ty_dtype_is_float(out->dtype)) {
        /* cannot fail: the forward checked the same shapes */
        ty_broadcast_shapes("masked_select", x->ndim, x->shape, mask->ndim, mask->shape, &nd,
                            shape);
        pos = mask_positions(mask, nd, shape);
        if (!pos) {
            ty_tensor_release(out);
            out = NULL;
        }
    }
    ty_set_grad_enabled(prev);
    if (!out || !pos) return out;
    ty_node *n = ty_record("masked_select", masked_select_backward, 1, &x, 1, &out);
    if (n) {
        ty_save(n, 0, pos);
        n->i[0] = nd;
        memcpy(&n->i[1], shape, sizeof(int64_t) * (size_t)nd);
    }
    ty_tensor_release(pos);
    return out;
}
