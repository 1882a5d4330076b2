/* Reductions (sum, mean, var, prod, logsumexp, norm, all/any, amax/amin,
 * max/min with indices, argmax/argmin) and scans (cumsum, cumprod).
 *
 * Every reduction is planned the same way: the input, in the dtype the math
 * is done in, is seen as one contiguous (outer, R, inner) block where R is
 * the product of the reduced dims, so output (o, j) folds the R values
 * x[o][r][j], r < R, which lie `inner` elements apart. Reducing the last
 * dims gives inner == 1 (rows: one contiguous run per output); reducing the
 * leading dims gives outer == 1 (columns: the kernel walks the block row by
 * row, keeping a block of neighbouring outputs in flight, so memory is read
 * contiguously). When the reduced dims are not one run of the memory layout
 * (a transposed, strided or broadcast input, or dims like {0, 2} of three)
 * the input is first copied with the reduced dims moved to the end.
 *
 * Work is cut into units: one block of up to BLOCK outputs times one chunk
 * of at most `rchunk` reduced rows. A long reduction (a full sum, say) has
 * several chunks whose partial results are combined afterwards in chunk
 * order. The chunks depend on the shape only; the block width may follow
 * the thread count, but it only groups outputs and never changes how one is
 * computed. So the results are the same with 1 or 16 threads. Units run in
 * parallel with OpenMP when there is enough work. */
#include "reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "creation.h"
#include "elementwise.h"
#include "error.h"
#include "indexing.h"
#include "parallel.h"

/* Most outputs handled together by one unit of work: neighbouring columns
 * (wide, so that each row is read as one long run), or short rows. */
#define BLOCK 2048
/* The narrowest column block, when blocks are split to feed more threads. */
#define MIN_BLOCK 256
/* A chunk of a reduction covers about this many elements (and at least
 * MIN_RCHUNK rows, so that the partial results stay small). */
#define CHUNK_ELEMS 32768
#define MIN_RCHUNK 1024
/* Elements handled between two interrupt checks. */
#define GROUP_ELEMS ((int64_t)1 << 22)

/* ---- planning: dims, output shape and the (outer, R, inner) layout ---- */

typedef struct {
    ty_tensor *src;   /* owned: the data in the compute dtype; NULL if empty */
    const char *data; /* element (0, 0, 0) of the block */
    ty_dtype dt;      /* dtype of src */
    int64_t outer, R, inner;
    int out_ndim;
    int64_t out_shape[TY_MAX_DIMS];
    int empty_dim; /* first reduced dim of size 0, or -1 */
} plan;

/* Marks the reduced dims of x in red[]; ndims == 0 means all of them. */
static int parse_dims(const char *fn, const ty_tensor *x, int ndims, const int *dims, bool *red) {
    if (ndims < 0 || (ndims > 0 && !dims))
        return ty_error("%s: expected ndims >= 0 and a dims array, got ndims %d", fn, ndims);
    bool seen[TY_MAX_DIMS] = {false};
    for (int d = 0; d < x->ndim; d++) red[d] = ndims == 0;
    for (int k = 0; k < ndims; k++) {
        int d = ty_wrap_dim(fn, dims[k], x->ndim);
        if (d < 0) return -1;
        if (seen[d]) return ty_error("%s: dim %d appears more than once in the dims", fn, dims[k]);
        seen[d] = true;
        if (d < x->ndim) red[d] = true;
    }
    return 0;
}

/* Whether dims order[0..n) of t, in that order, are laid out row-major
 * without gaps (size-1 dims are left out of `order` by the caller). */
static bool dense(const ty_tensor *t, const int *order, int n) {
    int64_t expected = 1;
    for (int k = n - 1; k >= 0; k--) {
        if (t->strides[order[k]] != expected) return false;
        expected *= t->shape[order[k]];
    }
    return true;
}

/* Finds a layout of src (a fresh reference, released here) where the
 * reduced dims are one contiguous run, copying only when there is none. */
static int plan_layout(plan *pl, const char *fn, ty_tensor *src, const bool *red) {
    int all[TY_MAX_DIMS], kept[TY_MAX_DIMS], rdims[TY_MAX_DIMS], na = 0, nk = 0, nr = 0;
    int runs = 0, first = -1; /* runs of reduced dims among the size > 1 dims */
    int64_t before = 1, after = 1;
    for (int d = 0; d < src->ndim; d++) {
        if (src->shape[d] == 1) continue;
        if (red[d]) {
            if (na == 0 || !red[all[na - 1]]) runs++;
            if (first < 0) first = d;
            rdims[nr++] = d;
        } else {
            kept[nk++] = d;
            if (first < 0)
                before *= src->shape[d];
            else
                after *= src->shape[d];
        }
        all[na++] = d;
    }
    int order[TY_MAX_DIMS];
    pl->data = ty_data(src);
    if (runs <= 1 && dense(src, all, na)) { /* the natural layout: (before, R, after) */
        pl->outer = before;
        pl->inner = after;
        pl->src = src;
        return 0;
    }
    memcpy(order, kept, sizeof(int) * nk);
    memcpy(order + nk, rdims, sizeof(int) * nr);
    if (dense(src, order, na)) { /* e.g. a transposed matrix reduced over dim 0 */
        pl->outer = before * after;
        pl->inner = 1;
        pl->src = src;
        return 0;
    }
    memcpy(order, rdims, sizeof(int) * nr);
    memcpy(order + nr, kept, sizeof(int) * nk);
    if (dense(src, order, na)) {
        pl->outer = 1;
        pl->inner = before * after;
        pl->src = src;
        return 0;
    }
    /* General case: copy with every kept dim first and every reduced dim
     * last, so that each output is one contiguous row. */
    int perm[TY_MAX_DIMS], n = 0;
    for (int d = 0; d < src->ndim; d++)
        if (!red[d]) perm[n++] = d;
    for (int d = 0; d < src->ndim; d++)
        if (red[d]) perm[n++] = d;
    ty_tensor *view = ty_permute(src, perm);
    ty_tensor *copy = view ? ty_contiguous(view) : NULL;
    ty_tensor_release(view);
    ty_tensor_release(src);
    if (!copy) {
        ty_error_prefix(fn);
        return -1;
    }
    pl->src = copy;
    pl->data = ty_data(copy);
    pl->outer = before * after;
    pl->inner = 1;
    return 0;
}

/* Validates the dims, computes the output shape and lays x out for the
 * kernels in dtype cdt. On failure nothing is left to free. */
static int plan_init(plan *pl, const char *fn, ty_tensor *x, int ndims, const int *dims,
                     bool keepdim, ty_dtype cdt) {
    memset(pl, 0, sizeof *pl);
    bool red[TY_MAX_DIMS];
    if (parse_dims(fn, x, ndims, dims, red) < 0) return -1;
    int64_t R = 1, nout = 1;
    pl->empty_dim = -1;
    for (int d = 0; d < x->ndim; d++) {
        if (red[d]) {
            R *= x->shape[d];
            if (x->shape[d] == 0 && pl->empty_dim < 0) pl->empty_dim = d;
            if (keepdim) pl->out_shape[pl->out_ndim++] = 1;
        } else {
            nout *= x->shape[d];
            pl->out_shape[pl->out_ndim++] = x->shape[d];
        }
    }
    pl->R = R;
    pl->dt = cdt;
    if (R == 0 || nout == 0) { /* nothing to read */
        pl->outer = nout;
        pl->inner = 1;
        return 0;
    }
    ty_tensor *src = ty_cast(x, cdt);
    if (!src) {
        ty_error_prefix(fn);
        return -1;
    }
    return plan_layout(pl, fn, src, red);
}

static void plan_free(plan *pl) {
    ty_tensor_release(pl->src);
    pl->src = NULL;
}

/* The error for an op without an identity reduced over an empty dim. */
static void empty_error(const char *fn, const ty_tensor *x, int dim) {
    char s[256];
    ty_error("%s: cannot reduce over dim %d of size 0 of a tensor of shape %s: the op has no "
             "identity",
             fn, dim, ty_shape_str(x, s, sizeof s));
}

/* ---- the fold kernels ---- */

typedef enum {
    OP_SUM,
    OP_PROD,
    OP_MAX,
    OP_MIN,
    OP_NONZERO, /* count of x != 0 (any, norm 0) */
    OP_ZEROS,   /* count of x == 0 (all) */
    /* float inputs only */
    OP_ABS_SUM,
    OP_SQ_SUM,
    OP_POW_SUM, /* |x|^p */
    OP_ABS_MAX,
    OP_ABS_MIN,
    OP_SHIFT_SQ,  /* (x - shift)^2, shift per output: var's second pass */
    OP_SHIFT_EXP, /* exp(x - shift): logsumexp's second pass */
} fold_op;

/* What turns the folded value into the result. */
typedef enum {
    FIN_NONE,
    FIN_MEAN,
    FIN_SQRT,
    FIN_ROOT, /* a^(1/p) */
    FIN_VAR,
    FIN_STD,
    FIN_LSE,
    FIN_ALL,
    FIN_ANY,
} finish_kind;

/* A running value: double for float inputs, i64 for bool, u8 and i64. */
typedef union {
    double f;
    int64_t i;
} acc_t;

typedef struct {
    fold_op op;
    finish_kind fin;
    double p;            /* OP_POW_SUM / FIN_ROOT */
    double correction;   /* FIN_VAR / FIN_STD */
    const double *shift; /* one per output: OP_SHIFT_*, FIN_LSE */
    ty_dtype out_dt;
    void *out; /* one element of out_dt per output, contiguous */
} reduce_spec;

/* The loops every fold is made of, for a step STEP that updates the running
 * value `a` from the value `v`.
 *
 * FOLD_ROWS_F / FOLD_ROWS_I fold n rows, each `len` contiguous values
 * (row k starts at x[k * rstride]) into acc[k]. ROW_LOOP is the loop down
 * one row; RED is the OpenMP simd clause that lets the compiler vectorise
 * it (the order of the additions then depends on the vector width, never on
 * the thread count). Keep that loop alone: GCC keeps the vector running
 * value in registers only when nothing else in the row updates `a`.
 *
 * FOLD_COLS folds `rows` rows of w side-by-side outputs (row r starts at
 * x[r * stride]) into acc[j], reading each row contiguously.
 *
 * The float flavour reads values and keeps running values in double; max
 * and min let NaN win (`nan` tracks it where the vectorised max cannot).
 * The integer flavour keeps i64 running values, with sums and products in
 * unsigned arithmetic so that they wrap around as PyTorch's do. */
#define ROW_LOOP(V_TYPE, RED, STEP)                                                                \
    _Pragma(RED) for (int64_t i = 0; i < len; i++) {                                               \
        V_TYPE v = (V_TYPE)x[base + i];                                                            \
        STEP;                                                                                      \
    }

#define FOLD_ROWS_F(RED, STEP)                                                                     \
    for (int64_t k = 0; k < n; k++) {                                                              \
        int64_t base = k * rstride;                                                                \
        double a = acc[k].f;                                                                       \
        int nan = 0;                                                                               \
        ROW_LOOP(double, RED, STEP)                                                                \
        acc[k].f = nan ? NAN : a;                                                                  \
    }

#define FOLD_ROWS_I(A_TYPE, RED, STEP)                                                             \
    for (int64_t k = 0; k < n; k++) {                                                              \
        int64_t base = k * rstride;                                                                \
        A_TYPE a = (A_TYPE)acc[k].i;                                                               \
        ROW_LOOP(A_TYPE, RED, STEP)                                                                \
        acc[k].i = (int64_t)a;                                                                     \
    }

#define FOLD_COLS(V_TYPE, A_TYPE, A_FIELD, STEP)                                                   \
    for (int64_t r = 0; r < rows; r++) {                                                           \
        _Pragma("omp simd") for (int64_t j = 0; j < w; j++) {                                      \
            V_TYPE v = (V_TYPE)x[r * stride + j];                                                  \
            A_TYPE a = (A_TYPE)acc[j].A_FIELD;                                                     \
            STEP;                                                                                  \
            acc[j].A_FIELD = a;                                                                    \
        }                                                                                          \
    }

#define ADD "omp simd reduction(+ : a)"

/* fold_rows_T(s, x, n, len, rstride, acc, shift) and
 * fold_cols_T(s, x, rows, stride, w, acc, shift) as above; shift[k] is the
 * shift of output k (OP_SHIFT_*). */
#define DEFINE_FOLD_FLOAT(T, NAME, EXP)                                                            \
    static void fold_rows_##NAME(const reduce_spec *s, const T *x, int64_t n, int64_t len,         \
                                 int64_t rstride, acc_t *acc, const double *shift) {               \
        double p = s->p;                                                                           \
        switch (s->op) {                                                                           \
        case OP_SUM:                                                                               \
            FOLD_ROWS_F(ADD, a += v) break;                                                        \
        case OP_PROD:                                                                              \
            FOLD_ROWS_F("omp simd reduction(* : a)", a *= v) break;                                \
        case OP_MAX:                                                                               \
            FOLD_ROWS_F("omp simd reduction(max : a) reduction(| : nan)", a = v > a ? v : a;       \
                        nan |= v != v)                                                             \
            break;                                                                                 \
        case OP_MIN:                                                                               \
            FOLD_ROWS_F("omp simd reduction(min : a) reduction(| : nan)", a = v < a ? v : a;       \
                        nan |= v != v)                                                             \
            break;                                                                                 \
        case OP_NONZERO:                                                                           \
            FOLD_ROWS_F(ADD, a += v != 0) break;                                                   \
        case OP_ZEROS:                                                                             \
            FOLD_ROWS_F(ADD, a += v == 0) break;                                                   \
        case OP_ABS_SUM:                                                                           \
            FOLD_ROWS_F(ADD, a += fabs(v)) break;                                                  \
        case OP_SQ_SUM:                                                                            \
            FOLD_ROWS_F(ADD, a += v * v) break;                                                    \
        case OP_POW_SUM:                                                                           \
            FOLD_ROWS_F(ADD, a += pow(fabs(v), p)) break;                                          \
        case OP_ABS_MAX:                                                                           \
            FOLD_ROWS_F("omp simd reduction(max : a) reduction(| : nan)",                          \
                        a = fabs(v) > a ? fabs(v) : a;                                             \
                        nan |= v != v)                                                             \
            break;                                                                                 \
        case OP_ABS_MIN:                                                                           \
            FOLD_ROWS_F("omp simd reduction(min : a) reduction(| : nan)",                          \
                        a = fabs(v) < a ? fabs(v) : a;                                             \
                        nan |= v != v)                                                             \
            break;                                                                                 \
        case OP_SHIFT_SQ:                                                                          \
            FOLD_ROWS_F(ADD, a += (v - shift[k]) * (v - shift[k])) break;                          \
        case OP_SHIFT_EXP:                                                                         \
            FOLD_ROWS_F(ADD, a += EXP(v - shift[k])) break;                                        \
        }                                                                                          \
    }                                                                                              \
    static void fold_cols_##NAME(const reduce_spec *s, const T *x, int64_t rows, int64_t stride,   \
                                 int64_t w, acc_t *acc, const double *shift) {                     \
        double p = s->p;                                                                           \
        switch (s->op) {                                                                           \
        case OP_SUM:                                                                               \
            FOLD_COLS(double, double, f, a += v) break;                                            \
        case OP_PROD:                                                                              \
            FOLD_COLS(double, double, f, a *= v) break;                                            \
        case OP_MAX:                                                                               \
            FOLD_COLS(double, double, f, a = (v > a || v != v) ? v : a) break;                     \
        case OP_MIN:                                                                               \
            FOLD_COLS(double, double, f, a = (v < a || v != v) ? v : a) break;                     \
        case OP_NONZERO:                                                                           \
            FOLD_COLS(double, double, f, a += v != 0) break;                                       \
        case OP_ZEROS:                                                                             \
            FOLD_COLS(double, double, f, a += v == 0) break;                                       \
        case OP_ABS_SUM:                                                                           \
            FOLD_COLS(double, double, f, a += fabs(v)) break;                                      \
        case OP_SQ_SUM:                                                                            \
            FOLD_COLS(double, double, f, a += v * v) break;                                        \
        case OP_POW_SUM:                                                                           \
            FOLD_COLS(double, double, f, a += pow(fabs(v), p)) break;                              \
        case OP_ABS_MAX:                                                                           \
            FOLD_COLS(double, double, f, a = (fabs(v) > a || v != v) ? fabs(v) : a) break;         \
        case OP_ABS_MIN:                                                                           \
            FOLD_COLS(double, double, f, a = (fabs(v) < a || v != v) ? fabs(v) : a) break;         \
        case OP_SHIFT_SQ:                                                                          \
            FOLD_COLS(double, double, f, a += (v - shift[j]) * (v - shift[j])) break;              \
        case OP_SHIFT_EXP:                                                                         \
            FOLD_COLS(double, double, f, a += EXP(v - shift[j])) break;                            \
        }                                                                                          \
    }

/* Integer inputs (bool, u8, i64) only meet the ops that accept them. */
#define DEFINE_FOLD_INT(T, NAME)                                                                   \
    static void fold_rows_##NAME(const reduce_spec *s, const T *x, int64_t n, int64_t len,         \
                                 int64_t rstride, acc_t *acc) {                                    \
        switch (s->op) {                                                                           \
        case OP_SUM:                                                                               \
            FOLD_ROWS_I(uint64_t, "omp simd reduction(+ : a)", a += v) break;                      \
        case OP_PROD:                                                                              \
            FOLD_ROWS_I(uint64_t, "omp simd reduction(* : a)", a *= v) break;                      \
        case OP_NONZERO:                                                                           \
            FOLD_ROWS_I(uint64_t, "omp simd reduction(+ : a)", a += v != 0) break;                 \
        case OP_ZEROS:                                                                             \
            FOLD_ROWS_I(uint64_t, "omp simd reduction(+ : a)", a += v == 0) break;                 \
        case OP_MAX:                                                                               \
            FOLD_ROWS_I(int64_t, "omp simd reduction(max : a)", a = v > a ? v : a) break;          \
        case OP_MIN:                                                                               \
            FOLD_ROWS_I(int64_t, "omp simd reduction(min : a)", a = v < a ? v : a) break;          \
        default:                                                                                   \
            break;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    static void fold_cols_##NAME(const reduce_spec *s, const T *x, int64_t rows, int64_t stride,   \
                                 int64_t w, acc_t *acc) {                                          \
        switch (s->op) {                                                                           \
        case OP_SUM:                                                                               \
            FOLD_COLS(uint64_t, uint64_t, i, a += v) break;                                        \
        case OP_PROD:                                                                              \
            FOLD_COLS(uint64_t, uint64_t, i, a *= v) break;                                        \
        case OP_NONZERO:                                                                           \
            FOLD_COLS(int64_t, int64_t, i, a += v != 0) break;                                     \
        case OP_ZEROS:                                                                             \
            FOLD_COLS(int64_t, int64_t, i, a += v == 0) break;                                     \
        case OP_MAX:                                                                               \
            FOLD_COLS(int64_t, int64_t, i, a = v > a ? v : a) break;                               \
        case OP_MIN:                                                                               \
            FOLD_COLS(int64_t, int64_t, i, a = v < a ? v : a) break;                               \
        default:                                                                                   \
            break;                                                                                 \
        }                                                                                          \
    }

/* exp in float precision for f32 data: each term is still exact to f32's
 * precision and the sum stays in double, at a fraction of exp's cost. */
static double exp_f32(double x) {
    return expf((float)x);
}

DEFINE_FOLD_FLOAT(float, f32, exp_f32)
DEFINE_FOLD_FLOAT(double, f64, exp)
DEFINE_FOLD_INT(int64_t, i64)
DEFINE_FOLD_INT(uint8_t, u8) /* also bool, stored as one byte 0 or 1 */

static void fold_rows(const reduce_spec *s, ty_dtype dt, const char *x, int64_t n, int64_t len,
                      int64_t rstride, acc_t *acc, const double *shift) {
    switch (dt) {
    case TY_F32:
        fold_rows_f32(s, (const float *)x, n, len, rstride, acc, shift);
        break;
    case TY_F64:
        fold_rows_f64(s, (const double *)x, n, len, rstride, acc, shift);
        break;
    case TY_I64:
        fold_rows_i64(s, (const int64_t *)x, n, len, rstride, acc);
        break;
    default:
        fold_rows_u8(s, (const uint8_t *)x, n, len, rstride, acc);
        break;
    }
}

static void fold_cols(const reduce_spec *s, ty_dtype dt, const char *x, int64_t rows,
                      int64_t stride, int64_t w, acc_t *acc, const double *shift) {
    switch (dt) {
    case TY_F32:
        fold_cols_f32(s, (const float *)x, rows, stride, w, acc, shift);
        break;
    case TY_F64:
        fold_cols_f64(s, (const double *)x, rows, stride, w, acc, shift);
        break;
    case TY_I64:
        fold_cols_i64(s, (const int64_t *)x, rows, stride, w, acc);
        break;
    default:
        fold_cols_u8(s, (const uint8_t *)x, rows, stride, w, acc);
        break;
    }
}

static acc_t identity(fold_op op, bool is_int) {
    acc_t a;
    if (is_int) {
        a.i = op == OP_PROD ? 1 : op == OP_MAX ? INT64_MIN : op == OP_MIN ? INT64_MAX : 0;
    } else {
        switch (op) {
        case OP_PROD:
            a.f = 1;
            break;
        case OP_MAX:
            a.f = -INFINITY;
            break;
        case OP_MIN:
        case OP_ABS_MIN:
            a.f = INFINITY;
            break;
        default:
            a.f = 0;
            break;
        }
    }
    return a;
}

/* Combines the running value a with b, the value of a later chunk. */
static acc_t merge(fold_op op, bool is_int, acc_t a, acc_t b) {
    if (is_int) {
        switch (op) {
        case OP_PROD:
            a.i = (int64_t)((uint64_t)a.i * (uint64_t)b.i);
            break;
        case OP_MAX:
            a.i = b.i > a.i ? b.i : a.i;
            break;
        case OP_MIN:
            a.i = b.i < a.i ? b.i : a.i;
            break;
        default:
            a.i = (int64_t)((uint64_t)a.i + (uint64_t)b.i);
            break;
        }
        return a;
    }
    switch (op) {
    case OP_PROD:
        a.f *= b.f;
        break;
    case OP_MAX:
    case OP_ABS_MAX:
        a.f = (b.f > a.f || b.f != b.f) ? b.f : a.f;
        break;
    case OP_MIN:
    case OP_ABS_MIN:
        a.f = (b.f < a.f || b.f != b.f) ? b.f : a.f;
        break;
    default:
        a.f += b.f;
        break;
    }
    return a;
}

/* Writes the results of outputs first .. first + n - 1 from their folded
 * values acc[0 .. n-1]. */
static void finish(const reduce_spec *s, bool is_int, int64_t R, int64_t first, const acc_t *acc,
                   int64_t n) {
    for (int64_t k = 0; k < n; k++) {
        int64_t o = first + k;
        if (is_int) {
            int64_t v = acc[k].i;
            if (s->fin == FIN_ALL)
                v = v == 0;
            else if (s->fin == FIN_ANY)
                v = v != 0;
            switch (s->out_dt) {
            case TY_I64:
                ((int64_t *)s->out)[o] = v;
                break;
            case TY_U8:
                ((uint8_t *)s->out)[o] = (uint8_t)v;
                break;
            default: /* bool */
                ((uint8_t *)s->out)[o] = v != 0;
                break;
            }
            continue;
        }
        double v = acc[k].f;
        switch (s->fin) {
        case FIN_NONE:
            break;
        case FIN_MEAN:
            v /= (double)R;
            break;
        case FIN_SQRT:
            v = sqrt(v);
            break;
        case FIN_ROOT:
            v = pow(v, 1.0 / s->p);
            break;
        case FIN_VAR:
            v /= fmax(0.0, (double)R - s->correction);
            break;
        case FIN_STD:
            v = sqrt(v / fmax(0.0, (double)R - s->correction));
            break;
        case FIN_LSE: { /* max + log(sum(exp(x - max))); +-inf when the max is infinite */
            double m = s->shift[o];
            v = isinf(m) ? m : m + log(v);
            break;
        }
        case FIN_ALL:
            v = v == 0;
            break;
        case FIN_ANY:
            v = v != 0;
            break;
        }
        switch (s->out_dt) {
        case TY_F32:
            ((float *)s->out)[o] = (float)v;
            break;
        case TY_F64:
            ((double *)s->out)[o] = v;
            break;
        case TY_BF16:
            ((uint16_t *)s->out)[o] = ty_f32_to_bf16((float)v);
            break;
        case TY_F16:
            ((uint16_t *)s->out)[o] = ty_f32_to_f16((float)v);
            break;
        default: /* bool */
            ((uint8_t *)s->out)[o] = v != 0;
            break;
        }
    }
}

/* How the block is cut into units of work: each unit folds `width`
 * neighbouring outputs over one chunk of at most rchunk reduced rows. In
 * the rows case (inner == 1) the outputs of a unit are consecutive rows, so
 * that short rows share the cost of a unit; otherwise they are columns
 * j0 .. j0 + width - 1 of one outer index. */
typedef struct {
    int64_t width, nblocks, rchunk, nchunks, nunits, unit_elems;
} cut;

/* Sets the width of the blocks that group n outputs, each block making
 * per_block units, and what follows from it. Rows (inner == 1) are grouped
 * about CHUNK_ELEMS elements to a unit; columns BLOCK wide. Blocks are
 * narrowed while there would be fewer units than threads: the width never
 * changes how an output is computed, so it may follow the thread count. */
static void set_width(cut *c, bool rows, int64_t n, int64_t per_block, int64_t len) {
    int64_t threads = ty_get_num_threads(), min_width = rows ? 1 : MIN_BLOCK;
    c->width = rows ? CHUNK_ELEMS / len : BLOCK;
    c->width = c->width < 1 ? 1 : c->width > BLOCK ? BLOCK : c->width;
    while (c->width > min_width && per_block * ((n + c->width - 1) / c->width) < threads)
        c->width /= 2;
    c->nblocks = (n + c->width - 1) / c->width;
    c->nunits = per_block * c->nblocks;
    c->unit_elems = len * (c->width < n ? c->width : n);
}

static cut make_cut(const plan *pl) {
    cut c;
    c.rchunk = CHUNK_ELEMS / pl->inner > MIN_RCHUNK ? CHUNK_ELEMS / pl->inner : MIN_RCHUNK;
    if (c.rchunk > pl->R) c.rchunk = pl->R;
    c.nchunks = (pl->R + c.rchunk - 1) / c.rchunk;
    if (pl->inner == 1)
        set_width(&c, true, pl->outer, c.nchunks, c.rchunk);
    else
        set_width(&c, false, pl->inner, pl->outer * c.nchunks, c.rchunk);
    return c;
}

/* Unit u of a cut: outputs (o, j0) .. (o, j0 + w - 1) in the column case,
 * (o, 0) .. (o + w - 1, 0) in the rows case, folded over the reduced rows
 * r0 .. r1 - 1 (chunk ci). The divisions are skipped in the common cases. */
typedef struct {
    int64_t o, ci, j0, w, r0, r1;
} unit;

static unit unit_at(const cut *c, const plan *pl, int64_t u) {
    unit t;
    t.ci = c->nchunks == 1 ? 0 : u % c->nchunks;
    int64_t ob = c->nchunks == 1 ? u : u / c->nchunks;
    if (pl->inner == 1) {
        t.o = ob * c->width;
        t.j0 = 0;
        t.w = pl->outer - t.o < c->width ? pl->outer - t.o : c->width;
    } else {
        int64_t b = c->nblocks == 1 ? 0 : ob % c->nblocks;
        t.o = c->nblocks == 1 ? ob : ob / c->nblocks;
        t.j0 = b * c->width;
        t.w = pl->inner - t.j0 < c->width ? pl->inner - t.j0 : c->width;
    }
    t.r0 = t.ci * c->rchunk;
    t.r1 = t.r0 + c->rchunk < pl->R ? t.r0 + c->rchunk : pl->R;
    return t;
}

/* Folds unit t of the block into acc[0 .. t.w-1] (which start as the
 * identity). */
static void fold_unit(const reduce_spec *s, const plan *pl, const unit *t, acc_t *acc) {
    int64_t first = t->o * pl->inner + t->j0;
    const double *shift = s->shift ? s->shift + first : NULL;
    const char *x =
        pl->data + ((t->o * pl->R + t->r0) * pl->inner + t->j0) * (int64_t)ty_dtype_size(pl->dt);
    if (pl->inner == 1)
        fold_rows(s, pl->dt, x, t->w, t->r1 - t->r0, pl->R, acc, shift);
    else
        fold_cols(s, pl->dt, x, t->r1 - t->r0, pl->inner, t->w, acc, shift);
}

/* Runs f(ctx, u) for every unit u of a cut, in groups with an interrupt
 * check between them. A group with enough work runs on several threads;
 * otherwise it stays out of OpenMP altogether, which keeps small tensors
 * cheap. Returns 0, or -1 when interrupted. */
static int run_units(const char *fn, const cut *c, int cost, void (*f)(void *, int64_t),
                     void *ctx) {
    int64_t group = GROUP_ELEMS / c->unit_elems > 0 ? GROUP_ELEMS / c->unit_elems : 1;
    for (int64_t u0 = 0; u0 < c->nunits; u0 += group) {
        int64_t u1 = u0 + group < c->nunits ? u0 + group : c->nunits;
        if (ty_check_interrupt(fn) < 0) return -1;
        int nt = ty_threads_for((u1 - u0) * c->unit_elems * cost);
        if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
            for (int64_t u = u0; u < u1; u++) f(ctx, u);
        } else {
            for (int64_t u = u0; u < u1; u++) f(ctx, u);
        }
    }
    return 0;
}

/* A value reduction in progress: part holds the results of every (output,
 * chunk) when there is more than one chunk, else units finish directly. */
typedef struct {
    const reduce_spec *s;
    const plan *pl;
    cut c;
    bool is_int;
    acc_t id;
    acc_t *part;
} reduce_job;

static void reduce_unit(void *ctx, int64_t u) {
    const reduce_job *job = ctx;
    unit t = unit_at(&job->c, job->pl, u);
    int64_t first = t.o * job->pl->inner + t.j0;
    acc_t acc[BLOCK];
    for (int64_t j = 0; j < t.w; j++) acc[j] = job->id;
    fold_unit(job->s, job->pl, &t, acc);
    if (!job->part) {
        finish(job->s, job->is_int, job->pl->R, first, acc, t.w);
        return;
    }
    for (int64_t j = 0; j < t.w; j++) job->part[(first + j) * job->c.nchunks + t.ci] = acc[j];
}

/* Runs the reduction described by s over the planned block. Fails only when
 * interrupted or out of memory. */
static int run_reduce(const char *fn, const plan *pl, const reduce_spec *s) {
    int64_t nout = pl->outer * pl->inner;
    reduce_job job = {.s = s, .pl = pl, .is_int = ty_dtype_is_integral(pl->dt)};
    job.id = identity(s->op, job.is_int);
    if (nout == 0) return 0;
    if (pl->R == 0) {
        for (int64_t o = 0; o < nout; o++) finish(s, job.is_int, 0, o, &job.id, 1);
        return 0;
    }
    job.c = make_cut(pl);
    int64_t nchunks = job.c.nchunks;
    acc_t small[64]; /* a full reduction needs only a few partial results */
    if (nchunks > 1) {
        job.part = nout * nchunks <= 64 ? small : malloc(sizeof(acc_t) * nout * nchunks);
        if (!job.part) return ty_error("%s: out of memory", fn);
    }
    int cost = s->op == OP_POW_SUM || s->op == OP_SHIFT_EXP ? 8 : 1;
    int rc = run_units(fn, &job.c, cost, reduce_unit, &job);
    if (rc == 0 && job.part) { /* combine the chunks in order */
        for (int64_t o = 0; o < nout; o++) {
            acc_t a = job.part[o * nchunks];
            for (int64_t ci = 1; ci < nchunks; ci++)
                a = merge(s->op, job.is_int, a, job.part[o * nchunks + ci]);
            finish(s, job.is_int, pl->R, o, &a, 1);
        }
    }
    if (job.part != small) free(job.part);
    return rc;
}

/* ---- the reductions ---- */

typedef enum {
    K_SUM,
    K_MEAN,
    K_VAR,
    K_STD,
    K_PROD,
    K_LSE,
    K_NORM,
    K_ALL,
    K_ANY,
    K_AMAX,
    K_AMIN,
} reduce_kind;

/* The one entry point of the value reductions; param is var/std's
 * correction or norm's p. */
static ty_tensor *reduce(const char *fn, reduce_kind k, ty_tensor *x, int ndims, const int *dims,
                         bool keepdim, double param) {
    if (ty_check_cpu(fn, x) < 0) return NULL;
    bool float_only = k == K_MEAN || k == K_VAR || k == K_STD || k == K_LSE || k == K_NORM;
    if (float_only && !ty_dtype_is_float(x->dtype)) {
        ty_error("%s: expected a floating-point tensor, got %s (cast it first, e.g. to f32)", fn,
                 ty_dtype_name(x->dtype));
        return NULL;
    }
    if (k == K_NORM && isnan(param)) {
        ty_error("%s: p must be a number, got nan", fn);
        return NULL;
    }

    reduce_spec s = {0};
    s.correction = param;
    s.p = param;
    switch (k) {
    case K_SUM:
        s.op = OP_SUM;
        break;
    case K_MEAN:
        s.op = OP_SUM;
        s.fin = FIN_MEAN;
        break;
    case K_VAR:
        s.op = OP_SHIFT_SQ;
        s.fin = FIN_VAR;
        break;
    case K_STD:
        s.op = OP_SHIFT_SQ;
        s.fin = FIN_STD;
        break;
    case K_PROD:
        s.op = OP_PROD;
        break;
    case K_LSE:
        s.op = OP_SHIFT_EXP;
        s.fin = FIN_LSE;
        break;
    case K_ALL:
        s.op = OP_ZEROS;
        s.fin = FIN_ALL;
        break;
    case K_ANY:
        s.op = OP_NONZERO;
        s.fin = FIN_ANY;
        break;
    case K_AMAX:
        s.op = OP_MAX;
        break;
    case K_AMIN:
        s.op = OP_MIN;
        break;
    case K_NORM:
        if (param == 2) {
            s.op = OP_SQ_SUM;
            s.fin = FIN_SQRT;
        } else if (param == 1) {
            s.op = OP_ABS_SUM;
        } else if (param == 0) {
            s.op = OP_NONZERO;
        } else if (param == INFINITY) {
            s.op = OP_ABS_MAX;
        } else if (param == -INFINITY) {
            s.op = OP_ABS_MIN;
        } else {
            s.op = OP_POW_SUM;
            s.fin = FIN_ROOT;
        }
        break;
    }
    bool no_identity = k == K_AMAX || k == K_AMIN || s.op == OP_ABS_MAX || s.op == OP_ABS_MIN;

    ty_dtype cdt = ty_compute_dtype(x->dtype);
    s.out_dt = x->dtype;
    if ((k == K_SUM || k == K_PROD) && ty_dtype_is_integral(x->dtype)) s.out_dt = TY_I64;
    if (k == K_ALL || k == K_ANY) s.out_dt = TY_BOOL;

    plan pl;
    if (plan_init(&pl, fn, x, ndims, dims, keepdim, cdt) < 0) return NULL;
    if (no_identity && pl.empty_dim >= 0) {
        empty_error(fn, x, pl.empty_dim);
        plan_free(&pl);
        return NULL;
    }
    ty_tensor *out = ty_empty(pl.out_ndim, pl.out_shape, s.out_dt, x->device);
    double *shift = NULL;
    int64_t nout = pl.outer * pl.inner;
    if (out && (k == K_VAR || k == K_STD || k == K_LSE)) {
        shift = malloc(sizeof(double) * (nout > 0 ? nout : 1));
        if (!shift) ty_error("out of memory");
    }
    if (!out || ((k == K_VAR || k == K_STD || k == K_LSE) && !shift)) {
        ty_error_prefix(fn);
        goto fail;
    }
    if (shift) { /* first pass: the mean (var, std) or the max (logsumexp) */
        reduce_spec first = {.op = k == K_LSE ? OP_MAX : OP_SUM,
                             .fin = k == K_LSE ? FIN_NONE : FIN_MEAN,
                             .out_dt = TY_F64,
                             .out = shift};
        if (run_reduce(fn, &pl, &first) < 0) goto fail;
        s.shift = shift;
    }
    s.out = ty_data(out);
    if (run_reduce(fn, &pl, &s) < 0) goto fail;
    free(shift);
    plan_free(&pl);
    return out;

fail:
    free(shift);
    ty_tensor_release(out);
    plan_free(&pl);
    return NULL;
}

/* max_all / min_all: amax over every dim, with their own empty error. */
static ty_tensor *extreme_all(const char *fn, ty_tensor *x, reduce_kind k) {
    if (ty_check_cpu(fn, x) < 0) return NULL;
    if (ty_numel(x) == 0) {
        char s[256];
        ty_error("%s: cannot take the %s of an empty tensor of shape %s", fn, fn,
                 ty_shape_str(x, s, sizeof s));
        return NULL;
    }
    return reduce(fn, k, x, 0, NULL, false, 0);
}

/* ---- max / min with indices ---- */

#define IS_NAN_FLOAT(v) ((v) != (v))
#define IS_NAN_INT(v) 0

/* argcols_T(is_max, x, r0, rows, stride, w, best): best[j] = r0 + the first
 * r < rows where x[r * stride + j] is the max (min), or the first NaN; the
 * column case, reading row by row. */
#define DEFINE_ARGCOLS(T, NAME, IS_NAN)                                                            \
    static void argcols_##NAME(bool is_max, const T *x, int64_t r0, int64_t rows, int64_t stride,  \
                               int64_t w, int64_t *best) {                                         \
        T bv[BLOCK];                                                                               \
        for (int64_t j = 0; j < w; j++) {                                                          \
            bv[j] = x[j];                                                                          \
            best[j] = r0;                                                                          \
        }                                                                                          \
        for (int64_t r = 1; r < rows; r++) {                                                       \
            const T *xr = x + r * stride;                                                          \
            for (int64_t j = 0; j < w; j++) {                                                      \
                T v = xr[j];                                                                       \
                bool better = is_max ? v > bv[j] : v < bv[j];                                      \
                if (better || (IS_NAN(v) && !IS_NAN(bv[j]))) {                                     \
                    bv[j] = v;                                                                     \
                    best[j] = r0 + r;                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* first_T(x, len, target): the first i with x[i] equal to the folded max
 * (min) target, or the first NaN when target is NaN. */
#define DEFINE_FIRST(T, NAME, IS_NAN, TARGET)                                                      \
    static int64_t first_##NAME(const T *x, int64_t len, acc_t target) {                           \
        if (IS_NAN(target.TARGET)) {                                                               \
            for (int64_t i = 0; i < len; i++)                                                      \
                if (IS_NAN(x[i])) return i;                                                        \
        }                                                                                          \
        for (int64_t i = 0; i < len; i++)                                                          \
            if (x[i] == target.TARGET) return i;                                                   \
        return 0;                                                                                  \
    }

DEFINE_ARGCOLS(float, f32, IS_NAN_FLOAT)
DEFINE_ARGCOLS(double, f64, IS_NAN_FLOAT)
DEFINE_ARGCOLS(int64_t, i64, IS_NAN_INT)
DEFINE_ARGCOLS(uint8_t, u8, IS_NAN_INT)
DEFINE_FIRST(float, f32, IS_NAN_FLOAT, f)
DEFINE_FIRST(double, f64, IS_NAN_FLOAT, f)
DEFINE_FIRST(int64_t, i64, IS_NAN_INT, i)
DEFINE_FIRST(uint8_t, u8, IS_NAN_INT, i)

/* best[k] = the position (counted from chunk start r0) of the max (min) of
 * each output of unit t. Rows take two passes, the vectorised max fold and
 * a search for its first position, which beats one branchy pass. */
static void arg_unit(const plan *pl, bool is_max, const unit *t, int64_t *best) {
    int64_t es = (int64_t)ty_dtype_size(pl->dt), len = t->r1 - t->r0;
    const char *x = pl->data + ((t->o * pl->R + t->r0) * pl->inner + t->j0) * es;
    if (pl->inner > 1) {
        switch (pl->dt) {
        case TY_F32:
            argcols_f32(is_max, (const float *)x, t->r0, len, pl->inner, t->w, best);
            break;
        case TY_F64:
            argcols_f64(is_max, (const double *)x, t->r0, len, pl->inner, t->w, best);
            break;
        case TY_I64:
            argcols_i64(is_max, (const int64_t *)x, t->r0, len, pl->inner, t->w, best);
            break;
        default:
            argcols_u8(is_max, (const uint8_t *)x, t->r0, len, pl->inner, t->w, best);
            break;
        }
        return;
    }
    reduce_spec s = {.op = is_max ? OP_MAX : OP_MIN};
    acc_t acc[BLOCK], id = identity(s.op, ty_dtype_is_integral(pl->dt));
    for (int64_t k = 0; k < t->w; k++) acc[k] = id;
    fold_rows(&s, pl->dt, x, t->w, len, pl->R, acc, NULL);
    for (int64_t k = 0; k < t->w; k++) {
        const char *row = x + k * pl->R * es;
        switch (pl->dt) {
        case TY_F32:
            best[k] = first_f32((const float *)row, len, acc[k]);
            break;
        case TY_F64:
            best[k] = first_f64((const double *)row, len, acc[k]);
            break;
        case TY_I64:
            best[k] = first_i64((const int64_t *)row, len, acc[k]);
            break;
        default:
            best[k] = first_u8((const uint8_t *)row, len, acc[k]);
            break;
        }
        best[k] += t->r0;
    }
}

/* Element (o, r, j) of the planned block. */
static const char *element(const plan *pl, int64_t o, int64_t r, int64_t j) {
    return pl->data + ((o * pl->R + r) * pl->inner + j) * (int64_t)ty_dtype_size(pl->dt);
}

/* Whether (o, rb, j) beats the current best (o, ra, j) found in an earlier
 * chunk: strictly larger (smaller), or the first NaN. */
static bool beats(const plan *pl, bool is_max, int64_t o, int64_t ra, int64_t rb, int64_t j) {
    const char *pa = element(pl, o, ra, j), *pb = element(pl, o, rb, j);
    if (ty_dtype_is_float(pl->dt)) {
        double a = ty_load_as_double(pa, pl->dt), b = ty_load_as_double(pb, pl->dt);
        if (a != a) return false;
        if (b != b) return true;
        return is_max ? b > a : b < a;
    }
    int64_t a = ty_load_as_i64(pa, pl->dt), b = ty_load_as_i64(pb, pl->dt);
    return is_max ? b > a : b < a;
}

/* An index reduction in progress, like reduce_job. */
typedef struct {
    const plan *pl;
    cut c;
    bool is_max;
    int64_t *idx, *part;
} arg_job;

static void arg_unit_job(void *ctx, int64_t u) {
    const arg_job *job = ctx;
    unit t = unit_at(&job->c, job->pl, u);
    int64_t best[BLOCK], first = t.o * job->pl->inner + t.j0;
    arg_unit(job->pl, job->is_max, &t, best);
    for (int64_t j = 0; j < t.w; j++) {
        if (job->part)
            job->part[(first + j) * job->c.nchunks + t.ci] = best[j];
        else
            job->idx[first + j] = best[j];
    }
}

/* idx[o] = the position along R of the max (min) of output o. */
static int run_arg(const char *fn, const plan *pl, bool is_max, int64_t *idx) {
    int64_t nout = pl->outer * pl->inner;
    if (nout == 0) return 0;
    arg_job job = {.pl = pl, .c = make_cut(pl), .is_max = is_max, .idx = idx};
    int64_t nchunks = job.c.nchunks, small[64];
    if (nchunks > 1) {
        job.part = nout * nchunks <= 64 ? small : malloc(sizeof(int64_t) * nout * nchunks);
        if (!job.part) return ty_error("%s: out of memory", fn);
    }
    int rc = run_units(fn, &job.c, 1, arg_unit_job, &job);
    if (rc == 0 && job.part) { /* combine the chunks in order: an earlier one wins ties */
        for (int64_t out = 0; out < nout; out++) {
            int64_t o = out / pl->inner, j = out % pl->inner, r = job.part[out * nchunks];
            for (int64_t ci = 1; ci < nchunks; ci++)
                if (beats(pl, is_max, o, r, job.part[out * nchunks + ci], j))
                    r = job.part[out * nchunks + ci];
            idx[out] = r;
        }
    }
    if (job.part != small) free(job.part);
    return rc;
}

/* The common part of max_dim, min_dim, argmax and argmin: ndims == 0
 * reduces the flattened tensor. *values (may be NULL) gets the values. */
static int arg_reduce(const char *fn, ty_tensor *x, int ndims, const int *dims, bool keepdim,
                      bool is_max, ty_tensor **values, ty_tensor **indices) {
    *indices = NULL;
    if (values) *values = NULL;
    if (ty_check_cpu(fn, x) < 0) return -1;
    plan pl;
    if (plan_init(&pl, fn, x, ndims, dims, keepdim, ty_compute_dtype(x->dtype)) < 0) return -1;
    if (pl.empty_dim >= 0) {
        empty_error(fn, x, pl.empty_dim);
        plan_free(&pl);
        return -1;
    }
    ty_tensor *idx = ty_empty(pl.out_ndim, pl.out_shape, TY_I64, x->device);
    ty_tensor *val =
        idx && values ? ty_empty(pl.out_ndim, pl.out_shape, x->dtype, x->device) : NULL;
    if (!idx || (values && !val)) {
        ty_error_prefix(fn);
        goto fail;
    }
    int64_t *id = ty_data(idx);
    if (run_arg(fn, &pl, is_max, id) < 0) goto fail;
    if (val) {
        int64_t nout = pl.outer * pl.inner;
        size_t es = ty_dtype_size(x->dtype);
        char *vd = ty_data(val);
        for (int64_t out = 0; out < nout; out++) {
            const char *src = element(&pl, out / pl.inner, id[out], out % pl.inner);
            if (pl.dt == x->dtype)
                memcpy(vd + out * (int64_t)es, src, es);
            else
                ty_store_from_double(vd + out * (int64_t)es, x->dtype,
                                     ty_load_as_double(src, pl.dt));
        }
        *values = val;
    }
    plan_free(&pl);
    *indices = idx;
    return 0;

fail:
    ty_tensor_release(idx);
    ty_tensor_release(val);
    plan_free(&pl);
    return -1;
}

static int extreme_dim(const char *fn, ty_tensor *x, int dim, bool keepdim, bool is_max,
                       ty_tensor **values, ty_tensor **indices) {
    ty_tensor *v = NULL, *i = NULL;
    int rc = arg_reduce(fn, x, 1, &dim, keepdim, is_max, values ? &v : NULL, &i);
    if (values) *values = v;
    if (indices)
        *indices = i;
    else
        ty_tensor_release(i);
    return rc;
}

/* ---- cumsum / cumprod ---- */

/* scan_T(prod, x, y, R, inner, w): running sum (product) down R rows of w
 * columns `inner` apart; a single column (the last-dim case) keeps its
 * running value in a register. Floats accumulate in double; integers in
 * wrapping unsigned arithmetic into i64. */
#define DEFINE_SCAN(T, OUT_T, ACC_T, NAME)                                                         \
    static void scan_##NAME(bool prod, const T *x, OUT_T *y, int64_t R, int64_t inner,             \
                            int64_t w) {                                                           \
        if (w == 1) {                                                                              \
            ACC_T a = prod ? 1 : 0;                                                                \
            if (prod)                                                                              \
                for (int64_t r = 0; r < R; r++) y[r * inner] = (OUT_T)(a *= (ACC_T)x[r * inner]);  \
            else                                                                                   \
                for (int64_t r = 0; r < R; r++) y[r * inner] = (OUT_T)(a += (ACC_T)x[r * inner]);  \
            return;                                                                                \
        }                                                                                          \
        ACC_T acc[BLOCK];                                                                          \
        for (int64_t j = 0; j < w; j++) acc[j] = prod ? 1 : 0;                                     \
        for (int64_t r = 0; r < R; r++) {                                                          \
            const T *xr = x + r * inner;                                                           \
            OUT_T *yr = y + r * inner;                                                             \
            if (prod)                                                                              \
                for (int64_t j = 0; j < w; j++) yr[j] = (OUT_T)(acc[j] *= (ACC_T)xr[j]);           \
            else                                                                                   \
                for (int64_t j = 0; j < w; j++) yr[j] = (OUT_T)(acc[j] += (ACC_T)xr[j]);           \
        }                                                                                          \
    }

DEFINE_SCAN(float, float, double, f32)
DEFINE_SCAN(double, double, double, f64)
DEFINE_SCAN(int64_t, int64_t, uint64_t, i64)
DEFINE_SCAN(uint8_t, int64_t, uint64_t, u8)

static void scan_block(ty_dtype dt, bool prod, const char *x, char *y, int64_t R, int64_t inner,
                       int64_t w) {
    switch (dt) {
    case TY_F32:
        scan_f32(prod, (const float *)x, (float *)y, R, inner, w);
        break;
    case TY_F64:
        scan_f64(prod, (const double *)x, (double *)y, R, inner, w);
        break;
    case TY_I64:
        scan_i64(prod, (const int64_t *)x, (int64_t *)y, R, inner, w);
        break;
    default:
        scan_u8(prod, (const uint8_t *)x, (int64_t *)y, R, inner, w);
        break;
    }
}

/* A scan of a contiguous (outer, R, inner) block: a unit is `width`
 * consecutive rows when inner == 1, else `width` columns of one outer
 * index (R is never split: every output depends on the ones before). */
typedef struct {
    const char *x;
    char *y;
    ty_dtype xdt, ydt;
    bool prod;
    int64_t outer, R, inner;
    cut c;
} scan_job;

static void scan_unit(void *ctx, int64_t u) {
    const scan_job *job = ctx;
    int64_t xes = (int64_t)ty_dtype_size(job->xdt), yes = (int64_t)ty_dtype_size(job->ydt);
    int64_t R = job->R, inner = job->inner, width = job->c.width;
    if (inner == 1) {
        int64_t o0 = u * width, w = job->outer - o0 < width ? job->outer - o0 : width;
        for (int64_t k = 0; k < w; k++)
            scan_block(job->xdt, job->prod, job->x + (o0 + k) * R * xes,
                       job->y + (o0 + k) * R * yes, R, 1, 1);
        return;
    }
    int64_t nb = job->c.nblocks, o = nb == 1 ? u : u / nb, j0 = nb == 1 ? 0 : u % nb * width;
    int64_t w = inner - j0 < width ? inner - j0 : width, off = o * R * inner + j0;
    scan_block(job->xdt, job->prod, job->x + off * xes, job->y + off * yes, R, inner, w);
}

static ty_tensor *scan(const char *fn, ty_tensor *x, int dim, bool prod) {
    if (ty_check_cpu(fn, x) < 0) return NULL;
    int d = ty_wrap_dim(fn, dim, x->ndim);
    if (d < 0) return NULL;
    ty_dtype cdt = ty_compute_dtype(x->dtype);
    ty_dtype ydt = ty_dtype_is_integral(x->dtype) ? TY_I64 : cdt;
    ty_tensor *cast = ty_cast(x, cdt), *xc = cast ? ty_contiguous(cast) : NULL, *y = NULL;
    ty_tensor_release(cast);
    if (xc) y = ty_empty(x->ndim, x->shape, ydt, x->device);
    if (!y) {
        ty_error_prefix(fn);
        goto fail;
    }
    scan_job job = {.x = ty_data(xc), .y = ty_data(y), .xdt = cdt, .ydt = ydt, .prod = prod};
    job.outer = 1;
    job.R = x->ndim > 0 ? x->shape[d] : 1;
    job.inner = 1;
    for (int i = 0; i < d; i++) job.outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) job.inner *= x->shape[i];
    if (ty_numel(x) > 0) {
        if (job.inner == 1)
            set_width(&job.c, true, job.outer, 1, job.R);
        else
            set_width(&job.c, false, job.inner, job.outer, job.R);
        if (run_units(fn, &job.c, 1, scan_unit, &job) < 0) goto fail;
    }
    ty_tensor_release(xc);
    if (ydt != x->dtype && !ty_dtype_is_integral(x->dtype)) { /* back to bf16 / f16 */
        ty_tensor *h = ty_cast(y, x->dtype);
        ty_tensor_release(y);
        if (!h) ty_error_prefix(fn);
        return h;
    }
    return y;

fail:
    ty_tensor_release(xc);
    ty_tensor_release(y);
    return NULL;
}

/* ---- autograd and the public entry points ----
 *
 * Each public function runs its forward with grad mode off (the planning
 * copies and casts must not record nodes of their own) and then records one
 * node. The backward functions follow PyTorch's formulas (derivatives.yaml)
 * and are written with differentiable ops, so second derivatives work.
 *
 * Node layout shared by the reductions: i[d] = 1 when input dim d was
 * reduced, 0 otherwise (d < the input's ndim), which puts the output's
 * gradient back into keepdim shape; d[0] = the op's parameter (var/std's
 * correction, norm's p); saved slot 0 = the input x, slot 1 = the output. */

#define NO_GRAD(expr)                                                                              \
    do {                                                                                           \
        bool prev_ = ty_set_grad_enabled(false);                                                   \
        expr;                                                                                      \
        ty_set_grad_enabled(prev_);                                                                \
    } while (0)

static void save_reduced(ty_node *n, const ty_tensor *x, int ndims, const int *dims) {
    bool red[TY_MAX_DIMS];
    parse_dims("reduce", x, ndims, dims, red); /* cannot fail: the forward checked them */
    for (int d = 0; d < x->ndim; d++) n->i[d] = red[d];
}

/* The reduced dims as a list, for ty_sum(..., keepdim) and friends. */
static int reduced_dims(const ty_node *n, int *dims) {
    int nd = 0;
    for (int d = 0; d < n->input_meta[0].ndim; d++)
        if (n->i[d]) dims[nd++] = d;
    return nd;
}

/* How many input elements were folded into each output element. */
static int64_t reduced_count(const ty_node *n) {
    int64_t c = 1;
    for (int d = 0; d < n->input_meta[0].ndim; d++)
        if (n->i[d]) c *= n->input_meta[0].shape[d];
    return c;
}

/* t, shaped like the output (with or without keepdim), reshaped to the
 * input's shape with 1 at the reduced dims, so that it broadcasts against
 * the input. */
static ty_tensor *keepdim_view(const ty_node *n, ty_tensor *t) {
    const ty_meta *m = &n->input_meta[0];
    int64_t shape[TY_MAX_DIMS];
    for (int d = 0; d < m->ndim; d++) shape[d] = n->i[d] ? 1 : m->shape[d];
    return ty_reshape(t, m->ndim, shape);
}

/* t in keepdim shape broadcast to the input's shape (a view). */
static ty_tensor *expand_to_input(const ty_node *n, ty_tensor *t) {
    ty_tensor *k = keepdim_view(n, t);
    if (!k) return NULL;
    ty_tensor *e = ty_expand(k, n->input_meta[0].ndim, n->input_meta[0].shape);
    ty_tensor_release(k);
    return e;
}

/* Whether x holds an exact zero (outside autograd: it only picks a formula). */
static int has_zero(ty_tensor *x, bool *out) {
    ty_tensor *z = NULL, *a = NULL;
    NO_GRAD(z = ty_eq_scalar(x, 0); a = z ? ty_any(z, 0, NULL, false) : NULL);
    double v = 0;
    int rc = a ? ty_item(a, &v) : -1;
    ty_tensor_release(z);
    ty_tensor_release(a);
    *out = v != 0;
    return rc;
}

/* The mask (x == v) as bool, with NaN matching NaN when v_is_nan. */
static ty_tensor *equal_mask(ty_tensor *x, ty_tensor *v, bool v_is_nan) {
    return v_is_nan ? ty_ne(x, x) : ty_eq(x, v);
}

/* ---- sum, mean ---- */

/* The gradient of a sum is g broadcast back over the reduced dims. */
static int sum_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = expand_to_input(n, g[0]);
    return gi[0] ? 0 : -1;
}

/* mean: g / N broadcast back. */
static int mean_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *s = ty_div_scalar(g[0], (double)reduced_count(n));
    if (!s) return -1;
    gi[0] = expand_to_input(n, s);
    ty_tensor_release(s);
    return gi[0] ? 0 : -1;
}

/* ---- var, std ---- */

/* var's gradient for a gradient gv of the variance:
 * gv * 2 (x - mean) / max(0, N - correction). */
static ty_tensor *var_grad(ty_node *n, ty_tensor *x, ty_tensor *gv) {
    int dims[TY_MAX_DIMS], nd = reduced_dims(n, dims);
    double dof = (double)reduced_count(n) - n->d[0];
    if (dof < 0) dof = 0;
    ty_tensor *mean = NULL, *xm = NULL, *gk = NULL, *p = NULL, *r = NULL;
    if ((mean = ty_mean(x, nd, dims, true)) && (xm = ty_sub(x, mean)) &&
        (gk = keepdim_view(n, gv)) && (p = ty_mul(gk, xm)))
        r = ty_mul_scalar(p, 2.0 / dof);
    ty_tensor_release(mean);
    ty_tensor_release(xm);
    ty_tensor_release(gk);
    ty_tensor_release(p);
    return r;
}

static int var_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *x = ty_saved(n, 0);
    if (!x) return -1;
    gi[0] = var_grad(n, x, g[0]);
    ty_tensor_release(x);
    return gi[0] ? 0 : -1;
}

/* std = sqrt(var): var's gradient for g / (2 std), taking 0 where std is 0
 * (as PyTorch does, instead of NaN). */
static int std_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *x = ty_saved(n, 0), *s = x ? ty_saved(n, 1) : NULL;
    ty_tensor *s2 = NULL, *q = NULL, *z = NULL, *gv = NULL;
    if (s && (s2 = ty_mul_scalar(s, 2)) && (q = ty_div(g[0], s2)) && (z = ty_eq_scalar(s, 0)) &&
        (gv = ty_masked_fill(q, z, 0)))
        gi[0] = var_grad(n, x, gv);
    ty_tensor_release(x);
    ty_tensor_release(s);
    ty_tensor_release(s2);
    ty_tensor_release(q);
    ty_tensor_release(z);
    ty_tensor_release(gv);
    return gi[0] ? 0 : -1;
}

/* ---- prod ---- */

/* The product of every other element along dim 1 of a (K, R) tensor, as
 * prefix products times suffix products (no division, so zeros are fine):
 * e[j] = prod(x[:j]) * prod(x[j+1:]). */
static ty_tensor *exclusive_products(ty_tensor *xr) {
    int64_t R = xr->shape[1], pad[2] = {1, 0};
    int last = 1;
    ty_tensor *a = NULL, *pa = NULL, *left = NULL, *b = NULL, *fb = NULL, *pb = NULL, *cb = NULL;
    ty_tensor *right = NULL, *e = NULL;
    if ((a = ty_narrow(xr, 1, 0, R - 1)) && (pa = ty_pad_constant(a, 2, pad, 1.0)) &&
        (left = ty_cumprod(pa, 1)) && (b = ty_narrow(xr, 1, 1, R - 1)) &&
        (fb = ty_flip(b, 1, &last)) && (pb = ty_pad_constant(fb, 2, pad, 1.0)) &&
        (cb = ty_cumprod(pb, 1)) && (right = ty_flip(cb, 1, &last)))
        e = ty_mul(left, right);
    ty_tensor *tmp[] = {a, pa, left, b, fb, pb, cb, right};
    for (size_t k = 0; k < sizeof tmp / sizeof *tmp; k++) ty_tensor_release(tmp[k]);
    return e;
}

/* prod's gradient when x has zeros: the reduced dims are moved to the end
 * and flattened into one, and each element gets g times the product of the
 * others (PyTorch's prod_safe_zeros_backward). */
static ty_tensor *prod_grad_with_zeros(ty_node *n, ty_tensor *x, ty_tensor *g) {
    const ty_meta *m = &n->input_meta[0];
    int perm[TY_MAX_DIMS], inv[TY_MAX_DIMS], np = 0;
    int64_t K = 1, R = 1, pshape[TY_MAX_DIMS];
    for (int d = 0; d < m->ndim; d++)
        if (!n->i[d]) K *= m->shape[(perm[np++] = d)];
    for (int d = 0; d < m->ndim; d++)
        if (n->i[d]) R *= m->shape[(perm[np++] = d)];
    for (int d = 0; d < m->ndim; d++) {
        pshape[d] = m->shape[perm[d]];
        inv[perm[d]] = d;
    }
    ty_tensor *xp = NULL, *xr = NULL, *e = NULL, *gk = NULL, *p = NULL, *pr = NULL, *r = NULL;
    if ((xp = ty_permute(x, perm)) && (xr = ty_reshape(xp, 2, (int64_t[]){K, R})) &&
        (e = exclusive_products(xr)) && (gk = ty_reshape(g, 2, (int64_t[]){K, 1})) &&
        (p = ty_mul(gk, e)) && (pr = ty_reshape(p, m->ndim, pshape)))
        r = ty_permute(pr, inv);
    ty_tensor *tmp[] = {xp, xr, e, gk, p, pr};
    for (size_t k = 0; k < sizeof tmp / sizeof *tmp; k++) ty_tensor_release(tmp[k]);
    return r;
}

/* prod: g * prod / x when x has no zeros, else the exclusive products. */
static int prod_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *x = ty_saved(n, 0);
    if (!x) return -1;
    bool zero = false;
    int rc = has_zero(x, &zero);
    if (rc == 0 && (ty_numel(x) == 0 || x->ndim == 0)) {
        gi[0] = expand_to_input(n, g[0]);
    } else if (rc == 0 && !zero) {
        ty_tensor *y = ty_saved(n, 1), *yk = NULL, *gk = NULL, *q = NULL;
        if (y && (yk = keepdim_view(n, y)) && (gk = keepdim_view(n, g[0])) && (q = ty_div(yk, x)))
            gi[0] = ty_mul(gk, q);
        ty_tensor_release(y);
        ty_tensor_release(yk);
        ty_tensor_release(gk);
        ty_tensor_release(q);
    } else if (rc == 0) {
        gi[0] = prod_grad_with_zeros(n, x, g[0]);
    }
    ty_tensor_release(x);
    return gi[0] ? 0 : -1;
}

/* ---- logsumexp, norm ---- */

/* logsumexp: g * exp(x - result). */
static int logsumexp_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *x = ty_saved(n, 0), *y = x ? ty_saved(n, 1) : NULL;
    ty_tensor *yk = NULL, *gk = NULL, *d = NULL, *e = NULL;
    if (y && (yk = keepdim_view(n, y)) && (gk = keepdim_view(n, g[0])) && (d = ty_sub(x, yk)) &&
        (e = ty_exp(d)))
        gi[0] = ty_mul(gk, e);
    ty_tensor *tmp[] = {x, y, yk, gk, d, e};
    for (size_t k = 0; k < sizeof tmp / sizeof *tmp; k++) ty_tensor_release(tmp[k]);
    return gi[0] ? 0 : -1;
}

/* norm, by p (PyTorch's norm_backward; nk is the norm in keepdim shape):
 *   p = 0: no gradient (a count);
 *   p = 1: sign(x) g;
 *   p = 2: g x / nk, 0 where nk == 0;
 *   +-inf: g sign(x) spread evenly over the elements with |x| == nk;
 *   p < 1: g sign(x) |x|^(p-1) nk^(1-p), taking |x|^(p-1) as 0 at x == 0;
 *   else:  sign(x) |x|^(p-1) (or x |x|^(p-2) for p > 2) times g / nk^(p-1),
 *          0 where nk == 0. */
static int norm_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    double p = n->d[0];
    if (p == 0) return 0;
    ty_tensor *x = ty_saved(n, 0), *y = x ? ty_saved(n, 1) : NULL;
    ty_tensor *nk = NULL, *gk = NULL, *t[8] = {0};
    if (!y || !(nk = keepdim_view(n, y)) || !(gk = keepdim_view(n, g[0]))) goto done;
    if (p == 1) {
        if ((t[0] = ty_sign(x))) gi[0] = ty_mul(t[0], gk);
    } else if (p == 2) {
        if ((t[0] = ty_div(x, nk)) && (t[1] = ty_eq_scalar(nk, 0)) &&
            (t[2] = ty_masked_fill(t[0], t[1], 0)))
            gi[0] = ty_mul(gk, t[2]);
    } else if (isinf(p)) {
        int dims[TY_MAX_DIMS], nd = reduced_dims(n, dims);
        if ((t[0] = ty_abs(x)) && (t[1] = ty_eq(t[0], nk)) && (t[2] = ty_ne(x, x)) &&
            (t[3] = ty_logical_or(t[1], t[2])) && (t[4] = ty_sum(t[3], nd, dims, true)) &&
            (t[5] = ty_div(gk, t[4])) && (t[6] = ty_cast(t[3], x->dtype)) && (t[7] = ty_sign(x))) {
            ty_tensor *q = ty_mul(t[5], t[6]);
            if (q) gi[0] = ty_mul(t[7], q);
            ty_tensor_release(q);
        }
    } else if (p < 1) {
        /* t[3] = sign(x) |x|^(p-1) with 0 at x == 0 */
        if ((t[0] = ty_abs(x)) && (t[1] = ty_pow_scalar(t[0], p - 1)) &&
            (t[2] = ty_eq_scalar(x, 0)) && (t[3] = ty_masked_fill(t[1], t[2], 0)) &&
            (t[4] = ty_sign(x)) && (t[5] = ty_mul(t[4], t[3])) && (t[6] = ty_mul(t[5], gk)) &&
            (t[7] = ty_pow_scalar(nk, 1 - p)))
            gi[0] = ty_mul(t[6], t[7]);
    } else {
        /* t[2] = the per-element factor, t[6] = g / nk^(p-1) with 0 at nk == 0 */
        bool ok;
        if (p < 2)
            ok = (t[0] = ty_abs(x)) && (t[1] = ty_pow_scalar(t[0], p - 1)) && (t[3] = ty_sign(x)) &&
                 (t[2] = ty_mul(t[3], t[1]));
        else
            ok = (t[0] = ty_abs(x)) && (t[1] = ty_pow_scalar(t[0], p - 2)) &&
                 (t[2] = ty_mul(x, t[1]));
        if (ok && (t[4] = ty_pow_scalar(nk, p - 1)) && (t[5] = ty_div(gk, t[4])) &&
            (t[7] = ty_eq_scalar(nk, 0)) && (t[6] = ty_masked_fill(t[5], t[7], 0)))
            gi[0] = ty_mul(t[2], t[6]);
    }
done:
    ty_tensor_release(x);
    ty_tensor_release(y);
    ty_tensor_release(nk);
    ty_tensor_release(gk);
    for (int k = 0; k < 8; k++) ty_tensor_release(t[k]);
    return gi[0] ? 0 : -1;
}

/* ---- amax, amin, max, min ---- */

/* amax / amin: g spread evenly over the elements equal to the result in
 * each reduced group, (g / count) * mask, as PyTorch does. */
static int amax_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    int dims[TY_MAX_DIMS], nd = reduced_dims(n, dims);
    ty_tensor *x = ty_saved(n, 0), *y = x ? ty_saved(n, 1) : NULL;
    ty_tensor *yk = NULL, *gk = NULL, *mask = NULL, *cnt = NULL, *q = NULL, *mf = NULL;
    if (y && (yk = keepdim_view(n, y)) && (gk = keepdim_view(n, g[0])) && (mask = ty_eq(x, yk)) &&
        (cnt = ty_sum(mask, nd, dims, true)) && (q = ty_div(gk, cnt)) &&
        (mf = ty_cast(mask, x->dtype)))
        gi[0] = ty_mul(q, mf);
    ty_tensor *tmp[] = {x, y, yk, gk, mask, cnt, q, mf};
    for (size_t k = 0; k < sizeof tmp / sizeof *tmp; k++) ty_tensor_release(tmp[k]);
    return gi[0] ? 0 : -1;
}

/* max() / min() of every element: g spread evenly over the ties (the NaNs
 * when the result is NaN). */
static int extreme_all_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *x = ty_saved(n, 0), *y = x ? ty_saved(n, 1) : NULL;
    ty_tensor *mask = NULL, *cnt = NULL, *q = NULL, *mf = NULL;
    double v = 0;
    if (y && ty_item(y, &v) == 0 && (mask = equal_mask(x, y, isnan(v))) &&
        (cnt = ty_sum(mask, 0, NULL, false)) && (q = ty_div(g[0], cnt)) &&
        (mf = ty_cast(mask, x->dtype)))
        gi[0] = ty_mul(mf, q);
    ty_tensor *tmp[] = {x, y, mask, cnt, q, mf};
    for (size_t k = 0; k < sizeof tmp / sizeof *tmp; k++) ty_tensor_release(tmp[k]);
    return gi[0] ? 0 : -1;
}

/* max / min along a dim: the gradient goes to the index returned, by
 * scatter into zeros. saved 0: the indices; i[0] = dim (wrapped). */
static int extreme_dim_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    const ty_meta *m = &n->input_meta[0];
    if (m->ndim == 0) {
        gi[0] = ty_tensor_retain(g[0]);
        return 0;
    }
    int d = (int)n->i[0];
    int64_t shape[TY_MAX_DIMS];
    for (int k = 0; k < m->ndim; k++) shape[k] = k == d ? 1 : m->shape[k];
    ty_tensor *idx = ty_saved(n, 0), *ik = NULL, *gk = NULL, *z = NULL;
    if (idx && (ik = ty_reshape(idx, m->ndim, shape)) && (gk = ty_reshape(g[0], m->ndim, shape)) &&
        (z = ty_zeros_meta(m)))
        gi[0] = ty_scatter(z, d, ik, gk);
    ty_tensor *tmp[] = {idx, ik, gk, z};
    for (size_t k = 0; k < sizeof tmp / sizeof *tmp; k++) ty_tensor_release(tmp[k]);
    return gi[0] ? 0 : -1;
}

/* ---- cumsum, cumprod ---- */

/* reverse cumulative sum along dim: flip, cumsum, flip. */
static ty_tensor *reverse_cumsum(ty_tensor *t, int dim) {
    ty_tensor *a = ty_flip(t, 1, &dim), *b = a ? ty_cumsum(a, dim) : NULL;
    ty_tensor *r = b ? ty_flip(b, 1, &dim) : NULL;
    ty_tensor_release(a);
    ty_tensor_release(b);
    return r;
}

/* cumsum: the reverse cumulative sum of g. i[0] = dim (wrapped). */
static int cumsum_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    if (n->input_meta[0].ndim == 0)
        gi[0] = ty_tensor_retain(g[0]);
    else
        gi[0] = reverse_cumsum(g[0], (int)n->i[0]);
    return gi[0] ? 0 : -1;
}

/* cumprod's gradient on inputs with zeros, first order only (a plain loop
 * in double, O(n) per line): with z the first zero of a line, element
 * i < z gets sum_{k >= i} g_k y_k / x_i (terms past z vanish), element z
 * gets y_{z-1} sum_{k >= z} g_k prod_{z < j <= k} x_j, and the elements
 * after z get 0. */
static ty_tensor *cumprod_grad_with_zeros(ty_tensor *x, ty_tensor *g, int dim) {
    ty_tensor *xd = ty_cast(x, TY_F64), *xc = xd ? ty_contiguous(xd) : NULL;
    ty_tensor *gd = xc ? ty_cast(g, TY_F64) : NULL, *gc = gd ? ty_contiguous(gd) : NULL;
    ty_tensor *out = gc ? ty_zeros(x->ndim, x->shape, TY_F64, x->device) : NULL, *r = NULL;
    if (out) {
        const double *xv = ty_data(xc), *gv = ty_data(gc);
        double *o = ty_data(out);
        int64_t R = x->shape[dim], inner = 1, outer = 1;
        for (int d = 0; d < dim; d++) outer *= x->shape[d];
        for (int d = dim + 1; d < x->ndim; d++) inner *= x->shape[d];
        for (int64_t a = 0; a < outer; a++) {
            for (int64_t j = 0; j < inner; j++) {
                /* one line: element k at [k * inner] */
                const double *xl = xv + a * R * inner + j, *gl = gv + a * R * inner + j;
                double *ol = o + a * R * inner + j, y = 1;
                int64_t z = 0;
                for (; z < R && xl[z * inner] != 0; z++) ol[z * inner] = y *= xl[z * inner];
                double acc = 0;
                for (int64_t i = z - 1; i >= 0; i--) {
                    acc += gl[i * inner] * ol[i * inner];
                    ol[i * inner] = acc / xl[i * inner];
                }
                if (z < R) {
                    double s = 0, p = 1;
                    for (int64_t k = z; k < R; k++) {
                        if (k > z) p *= xl[k * inner];
                        s += gl[k * inner] * p;
                    }
                    ol[z * inner] = y * s;
                }
            }
        }
        r = ty_cast(out, x->dtype);
    }
    ty_tensor *tmp[] = {xd, xc, gd, gc, out};
    for (size_t k = 0; k < sizeof tmp / sizeof *tmp; k++) ty_tensor_release(tmp[k]);
    return r;
}

/* The same, differentiably (for create_graph), in O(n^2) per line as
 * PyTorch does: element k gets sum_{m >= k} g_m prod_{j <= m, j != k} x_j,
 * which is cumprod of x with x_k replaced by 1, read from k on. */
static ty_tensor *cumprod_grad_with_zeros_differentiable(ty_tensor *x, ty_tensor *g, int dim) {
    int64_t R = x->shape[dim], bshape[TY_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) bshape[d] = d == dim ? R : 1;
    ty_tensor **parts = calloc((size_t)R, sizeof *parts);
    ty_tensor *one = ty_scalar(1.0, x->dtype), *r = NULL;
    int64_t made = 0;
    for (; parts && one && made < R; made++) {
        int64_t k = made;
        /* a fresh mask each time: the where node may keep it */
        ty_tensor *line = ty_zeros(1, &R, TY_BOOL, ty_cpu());
        if (line) ((bool *)ty_data(line))[k] = true;
        ty_tensor *mask = line ? ty_reshape(line, x->ndim, bshape) : NULL;
        ty_tensor_release(line);
        ty_tensor *xk = mask ? ty_where(mask, one, x) : NULL;
        ty_tensor *ck = xk ? ty_cumprod(xk, dim) : NULL;
        ty_tensor *gn = ck ? ty_narrow(g, dim, k, R - k) : NULL;
        ty_tensor *cn = gn ? ty_narrow(ck, dim, k, R - k) : NULL;
        ty_tensor *p = cn ? ty_mul(gn, cn) : NULL;
        parts[k] = p ? ty_sum(p, 1, &dim, true) : NULL;
        ty_tensor *tmp[] = {mask, xk, ck, gn, cn, p};
        for (size_t t = 0; t < sizeof tmp / sizeof *tmp; t++) ty_tensor_release(tmp[t]);
        if (!parts[k]) break;
    }
    if (parts && made == R) r = ty_cat((int)R, parts, dim);
    if (parts) ty_tensor_array_free(parts, made);
    ty_tensor_release(one);
    if (!parts) ty_error("cumprod: out of memory");
    return r;
}

/* cumprod: reverse_cumsum(g * y) / x when x has no zeros (PyTorch's
 * formula); see the two functions above for zeros. saved 0: x, 1: y;
 * i[0] = dim (wrapped). */
static int cumprod_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    int d = (int)n->i[0];
    const ty_meta *m = &n->input_meta[0];
    if (m->ndim == 0 || m->shape[d] <= 1) {
        gi[0] = ty_tensor_retain(g[0]);
        return 0;
    }
    ty_tensor *x = ty_saved(n, 0);
    bool zero = false;
    if (!x || has_zero(x, &zero) < 0) {
        ty_tensor_release(x);
        return -1;
    }
    if (!zero) {
        ty_tensor *y = ty_saved(n, 1), *w = y ? ty_mul(y, g[0]) : NULL;
        ty_tensor *rc = w ? reverse_cumsum(w, d) : NULL;
        if (rc) gi[0] = ty_div(rc, x);
        ty_tensor_release(y);
        ty_tensor_release(w);
        ty_tensor_release(rc);
    } else if (!ty_grad_enabled()) {
        gi[0] = cumprod_grad_with_zeros(x, g[0], d);
    } else {
        gi[0] = cumprod_grad_with_zeros_differentiable(x, g[0], d);
    }
    ty_tensor_release(x);
    return gi[0] ? 0 : -1;
}

/* ---- the public functions ---- */

/* A value reduction and its node: saves x (slot 0) and the output (slot 1)
 * when asked, d[0] = param. */
static ty_tensor *reduce_recorded(const char *fn, reduce_kind k, ty_backward_fn backward,
                                  bool save_x, bool save_out, ty_tensor *x, int ndims,
                                  const int *dims, bool keepdim, double param) {
    ty_tensor *out;
    NO_GRAD(out = reduce(fn, k, x, ndims, dims, keepdim, param));
    if (!out) return NULL;
    ty_node *n = ty_record(fn, backward, 1, &x, 1, &out);
    if (n) {
        save_reduced(n, x, ndims, dims);
        n->d[0] = param;
        if (save_x) ty_save(n, 0, x);
        if (save_out) ty_save_output(n, 1, out);
    }
    return out;
}

ty_tensor *ty_sum(ty_tensor *x, int ndims, const int *dims, bool keepdim) {
    return reduce_recorded("sum", K_SUM, sum_backward, false, false, x, ndims, dims, keepdim, 0);
}

ty_tensor *ty_sum_all(ty_tensor *x) {
    return ty_sum(x, 0, NULL, false);
}

ty_tensor *ty_mean(ty_tensor *x, int ndims, const int *dims, bool keepdim) {
    return reduce_recorded("mean", K_MEAN, mean_backward, false, false, x, ndims, dims, keepdim, 0);
}

ty_tensor *ty_mean_all(ty_tensor *x) {
    return ty_mean(x, 0, NULL, false);
}

ty_tensor *ty_var(ty_tensor *x, int ndims, const int *dims, double correction, bool keepdim) {
    return reduce_recorded("var", K_VAR, var_backward, true, false, x, ndims, dims, keepdim,
                           correction);
}

ty_tensor *ty_std(ty_tensor *x, int ndims, const int *dims, double correction, bool keepdim) {
    return reduce_recorded("std", K_STD, std_backward, true, true, x, ndims, dims, keepdim,
                           correction);
}

ty_tensor *ty_prod(ty_tensor *x, int ndims, const int *dims, bool keepdim) {
    return reduce_recorded("prod", K_PROD, prod_backward, true, true, x, ndims, dims, keepdim, 0);
}

ty_tensor *ty_logsumexp(ty_tensor *x, int ndims, const int *dims, bool keepdim) {
    return reduce_recorded("logsumexp", K_LSE, logsumexp_backward, true, true, x, ndims, dims,
                           keepdim, 0);
}

ty_tensor *ty_norm(ty_tensor *x, double p, int ndims, const int *dims, bool keepdim) {
    return reduce_recorded("norm", K_NORM, norm_backward, true, true, x, ndims, dims, keepdim, p);
}

ty_tensor *ty_amax(ty_tensor *x, int ndims, const int *dims, bool keepdim) {
    return reduce_recorded("amax", K_AMAX, amax_backward, true, true, x, ndims, dims, keepdim, 0);
}

ty_tensor *ty_amin(ty_tensor *x, int ndims, const int *dims, bool keepdim) {
    return reduce_recorded("amin", K_AMIN, amax_backward, true, true, x, ndims, dims, keepdim, 0);
}

/* all / any give bool: nothing to record. */
ty_tensor *ty_all(ty_tensor *x, int ndims, const int *dims, bool keepdim) {
    ty_tensor *out;
    NO_GRAD(out = reduce("all", K_ALL, x, ndims, dims, keepdim, 0));
    return out;
}

ty_tensor *ty_any(ty_tensor *x, int ndims, const int *dims, bool keepdim) {
    ty_tensor *out;
    NO_GRAD(out = reduce("any", K_ANY, x, ndims, dims, keepdim, 0));
    return out;
}

static ty_tensor *extreme_all_recorded(const char *fn, ty_tensor *x, reduce_kind k) {
    ty_tensor *out;
    NO_GRAD(out = extreme_all(fn, x, k));
    if (!out) return NULL;
    ty_node *n = ty_record(fn, extreme_all_backward, 1, &x, 1, &out);
    if (n) {
        ty_save(n, 0, x);
        ty_save_output(n, 1, out);
    }
    return out;
}

ty_tensor *ty_max_all(ty_tensor *x) {
    return extreme_all_recorded("max", x, K_AMAX);
}

ty_tensor *ty_min_all(ty_tensor *x) {
    return extreme_all_recorded("min", x, K_AMIN);
}

/* The values are differentiable, the indices are not; the node keeps the
 * indices even when the caller did not ask for them. */
static int extreme_dim_recorded(const char *fn, ty_tensor *x, int dim, bool keepdim, bool is_max,
                                ty_tensor **values, ty_tensor **indices) {
    ty_tensor *v = NULL, *i = NULL;
    int rc;
    NO_GRAD(rc = extreme_dim(fn, x, dim, keepdim, is_max, values ? &v : NULL, &i));
    if (rc == 0 && v) {
        ty_node *n = ty_record(fn, extreme_dim_backward, 1, &x, 1, &v);
        if (n) {
            ty_save(n, 0, i);
            n->i[0] = ty_wrap_dim(fn, dim, x->ndim);
        }
    }
    if (values) *values = v;
    if (indices)
        *indices = i;
    else
        ty_tensor_release(i);
    return rc;
}

int ty_max_dim(ty_tensor *x, int dim, bool keepdim, ty_tensor **values, ty_tensor **indices) {
    return extreme_dim_recorded("max", x, dim, keepdim, true, values, indices);
}

int ty_min_dim(ty_tensor *x, int dim, bool keepdim, ty_tensor **values, ty_tensor **indices) {
    return extreme_dim_recorded("min", x, dim, keepdim, false, values, indices);
}

/* Indices are not differentiable: argmax and argmin record nothing (the
 * forward still runs without grad, so its planning copies record nothing
 * either). */
ty_tensor *ty_argmax(ty_tensor *x, int dim, bool keepdim) {
    ty_tensor *i;
    NO_GRAD(arg_reduce("argmax", x, 1, &dim, keepdim, true, NULL, &i));
    return i;
}

ty_tensor *ty_argmin(ty_tensor *x, int dim, bool keepdim) {
    ty_tensor *i;
    NO_GRAD(arg_reduce("argmin", x, 1, &dim, keepdim, false, NULL, &i));
    return i;
}

ty_tensor *ty_argmax_all(ty_tensor *x) {
    ty_tensor *i;
    NO_GRAD(arg_reduce("argmax", x, 0, NULL, false, true, NULL, &i));
    return i;
}

ty_tensor *ty_argmin_all(ty_tensor *x) {
    ty_tensor *i;
    NO_GRAD(arg_reduce("argmin", x, 0, NULL, false, false, NULL, &i));
    return i;
}

ty_tensor *ty_cumsum(ty_tensor *x, int dim) {
    ty_tensor *out;
    NO_GRAD(out = scan("cumsum", x, dim, false));
    if (!out) return NULL;
    ty_node *n = ty_record("cumsum", cumsum_backward, 1, &x, 1, &out);
    if (n) n->i[0] = ty_wrap_dim("cumsum", dim, x->ndim);
    return out;
}

ty_tensor *ty_cumprod(ty_tensor *x, int dim) {
    ty_tensor *out;
    NO_GRAD(out = scan("cumprod", x, dim, true));
    if (!out) return NULL;
    ty_node *n = ty_record("cumprod", cumprod_backward, 1, &x, 1, &out);
    if (n) {
        n->i[0] = ty_wrap_dim("cumprod", dim, x->ndim);
        ty_save(n, 0, x);
        ty_save_output(n, 1, out);
    }
    return out;
}
