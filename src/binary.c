/* Binary elementwise ops (arithmetic, comparisons, logical), their scalar
 * and in-place forms, where, dtype promotion, and the fused optimizer
 * kernels addcmul_, addcdiv_ and lerp.
 *
 * Each op is one row of `binary_ops`: its name, its kind (which decides the
 * result dtype), a row kernel (see iter.h) per compute dtype and a relative
 * cost. Operands are converted to the compute dtype first (a copy only when
 * the dtype differs), so every kernel sees one element type; a scalar
 * becomes a 0-d tensor, which the kernels see as a stride-0 operand with a
 * loop of its own. The autograd section records the differentiable ops. */
#include <math.h>
#include <stdio.h>

#include "autograd.h"
#include "elementwise.h"
#include "error.h"
#include "iter.h"

/* ---- promotion ---- */

/* bool < integer < float: a 0-d tensor only matters across categories. */
static int category(ty_dtype dt) {
    if (dt == TY_BOOL) return 0;
    return ty_dtype_is_float(dt) ? 2 : 1;
}

ty_dtype ty_result_type(const ty_tensor *a, const ty_tensor *b) {
    bool za = a->ndim == 0, zb = b->ndim == 0;
    if (za == zb) return ty_promote(a->dtype, b->dtype);
    const ty_tensor *dim = za ? b : a, *zero = za ? a : b;
    if (category(zero->dtype) <= category(dim->dtype)) return dim->dtype;
    /* A 0-d tensor of a higher category decides the dtype, as in PyTorch
     * (i64 tensor + 0-d f64 tensor gives f64). Plain numbers are different:
     * they go through ty_scalar_result_type and give the default f32. */
    return zero->dtype;
}

static bool is_integral(double v) {
    return isfinite(v) && v == floor(v);
}

ty_dtype ty_scalar_result_type(ty_dtype dt, double s) {
    if (ty_dtype_is_float(dt)) return dt;
    if (!is_integral(s)) return TY_F32;
    return dt == TY_BOOL ? TY_I64 : dt;
}

/* ---- kernels ---- */

/* One row kernel: o = EXPR(x, y) with inputs of type T and output of type
 * TO. Besides the general strided loop there are contiguous loops for the
 * common layouts: both inputs full, or one of them a broadcast scalar.
 * `omp simd` rather than restrict: at -O2 GCC 12 does not vectorise a loop of
 * unknown length even with restrict pointers, and `omp simd` stays correct
 * when the output is also an input (in-place ops). */
#define DEFINE_BINARY(NAME, SUF, TO, T, EXPR)                                                      \
    static void NAME##_##SUF(char **p, const int64_t *s, int64_t n, void *ctx) {                   \
        (void)ctx;                                                                                 \
        const int64_t so = (int64_t)sizeof(TO), si = (int64_t)sizeof(T);                           \
        TO *o = (TO *)p[0];                                                                        \
        const T *a = (const T *)p[1], *b = (const T *)p[2];                                        \
        if (s[0] == so && s[1] == si && s[2] == si) {                                              \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                  \
                T x = a[i], y = b[i];                                                              \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (s[0] == so && s[1] == si && s[2] == 0) {                                        \
            const T y = b[0];                                                                      \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                  \
                T x = a[i];                                                                        \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (s[0] == so && s[1] == 0 && s[2] == si) {                                        \
            const T x = a[0];                                                                      \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                  \
                T y = b[i];                                                                        \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = *(const T *)(p[1] + i * s[1]), y = *(const T *)(p[2] + i * s[2]);            \
                *(TO *)(p[0] + i * s[0]) = (TO)(EXPR);                                             \
            }                                                                                      \
        }                                                                                          \
    }

/* Signed overflow is undefined in C; i64 arithmetic wraps through
 * uint64_t, as PyTorch's (two's complement) results do. */
#define WRAP(x, OP, y) ((int64_t)((uint64_t)(x)OP(uint64_t)(y)))

/* Exact integer power by squaring, wrapping. A negative exponent gives 0
 * unless the base is 1 or -1 (the integer part of 1/base^-e). */
static inline int64_t ipow(int64_t base, int64_t e) {
    if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)base;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

DEFINE_BINARY(add, f32, float, float, x + y)
DEFINE_BINARY(add, f64, double, double, x + y)
DEFINE_BINARY(add, i64, int64_t, int64_t, WRAP(x, +, y))
DEFINE_BINARY(add, u8, uint8_t, uint8_t, x + y)
DEFINE_BINARY(sub, f32, float, float, x - y)
DEFINE_BINARY(sub, f64, double, double, x - y)
DEFINE_BINARY(sub, i64, int64_t, int64_t, WRAP(x, -, y))
DEFINE_BINARY(sub, u8, uint8_t, uint8_t, x - y)
DEFINE_BINARY(mul, f32, float, float, x *y)
DEFINE_BINARY(mul, f64, double, double, x *y)
DEFINE_BINARY(mul, i64, int64_t, int64_t, WRAP(x, *, y))
DEFINE_BINARY(mul, u8, uint8_t, uint8_t, x *y)
DEFINE_BINARY(div, f32, float, float, x / y)
DEFINE_BINARY(div, f64, double, double, x / y)
DEFINE_BINARY(pow, f32, float, float, powf(x, y))
DEFINE_BINARY(pow, f64, double, double, pow(x, y))
DEFINE_BINARY(pow, i64, int64_t, int64_t, ipow(x, y))
DEFINE_BINARY(pow, u8, uint8_t, uint8_t, ipow(x, y))
/* NaN in either input wins: x when x > y or x is NaN, else y (which is
 * NaN when y is). */
DEFINE_BINARY(maximum, f32, float, float, x > y || x != x ? x : y)
DEFINE_BINARY(maximum, f64, double, double, x > y || x != x ? x : y)
DEFINE_BINARY(maximum, i64, int64_t, int64_t, x > y ? x : y)
DEFINE_BINARY(maximum, u8, uint8_t, uint8_t, x > y ? x : y)
DEFINE_BINARY(minimum, f32, float, float, x < y || x != x ? x : y)
DEFINE_BINARY(minimum, f64, double, double, x < y || x != x ? x : y)
DEFINE_BINARY(minimum, i64, int64_t, int64_t, x < y ? x : y)
DEFINE_BINARY(minimum, u8, uint8_t, uint8_t, x < y ? x : y)
/* bool holds 0 or 1, so bitwise operators are the logical ones; they serve
 * add/maximum (or), mul/minimum (and) and the logical ops. */
DEFINE_BINARY(or, b, uint8_t, uint8_t, x | y)
DEFINE_BINARY(and, b, uint8_t, uint8_t, x &y)
DEFINE_BINARY(xor, b, uint8_t, uint8_t, x ^ y)
/* Comparisons: the output is bool whatever the input type. */
DEFINE_BINARY(eq, f32, uint8_t, float, x == y)
DEFINE_BINARY(eq, f64, uint8_t, double, x == y)
DEFINE_BINARY(eq, i64, uint8_t, int64_t, x == y)
DEFINE_BINARY(eq, u8, uint8_t, uint8_t, x == y)
DEFINE_BINARY(ne, f32, uint8_t, float, x != y)
DEFINE_BINARY(ne, f64, uint8_t, double, x != y)
DEFINE_BINARY(ne, i64, uint8_t, int64_t, x != y)
DEFINE_BINARY(ne, u8, uint8_t, uint8_t, x != y)
DEFINE_BINARY(lt, f32, uint8_t, float, x < y)
DEFINE_BINARY(lt, f64, uint8_t, double, x < y)
DEFINE_BINARY(lt, i64, uint8_t, int64_t, x < y)
DEFINE_BINARY(lt, u8, uint8_t, uint8_t, x < y)
DEFINE_BINARY(le, f32, uint8_t, float, x <= y)
DEFINE_BINARY(le, f64, uint8_t, double, x <= y)
DEFINE_BINARY(le, i64, uint8_t, int64_t, x <= y)
DEFINE_BINARY(le, u8, uint8_t, uint8_t, x <= y)
DEFINE_BINARY(gt, f32, uint8_t, float, x > y)
DEFINE_BINARY(gt, f64, uint8_t, double, x > y)
DEFINE_BINARY(gt, i64, uint8_t, int64_t, x > y)
DEFINE_BINARY(gt, u8, uint8_t, uint8_t, x > y)
DEFINE_BINARY(ge, f32, uint8_t, float, x >= y)
DEFINE_BINARY(ge, f64, uint8_t, double, x >= y)
DEFINE_BINARY(ge, i64, uint8_t, int64_t, x >= y)
DEFINE_BINARY(ge, u8, uint8_t, uint8_t, x >= y)

/* ---- the table ---- */

typedef enum {
    KIND_ARITH,   /* result: the promoted dtype */
    KIND_TRUEDIV, /* result: the promoted dtype, f32 if that is an integer */
    KIND_COMPARE, /* computed in the promoted dtype, result bool */
    KIND_LOGICAL  /* inputs read as bool, result bool */
} binary_kind;

typedef struct {
    const char *name;
    binary_kind kind;
    ty_iter_kernel kernel[TY_NUM_DTYPES]; /* by compute dtype; NULL: not supported */
    int cost;                             /* per element, relative to an add */
} binary_op;

/* Ordering comparisons on bool compare 0 and 1, which the u8 kernels do. */
static const binary_op binary_ops[TY_BINARY_NUM] = {
    [TY_BINARY_ADD] = {"add",
                       KIND_ARITH,
                       {[TY_BOOL] = or_b,
                        [TY_U8] = add_u8,
                        [TY_I64] = add_i64,
                        [TY_F32] = add_f32,
                        [TY_F64] = add_f64},
                       1},
    [TY_BINARY_SUB] =
        {"sub",
         KIND_ARITH,
         {[TY_U8] = sub_u8, [TY_I64] = sub_i64, [TY_F32] = sub_f32, [TY_F64] = sub_f64},
         1},
    [TY_BINARY_MUL] = {"mul",
                       KIND_ARITH,
                       {[TY_BOOL] = and_b,
                        [TY_U8] = mul_u8,
                        [TY_I64] = mul_i64,
                        [TY_F32] = mul_f32,
                        [TY_F64] = mul_f64},
                       1},
    [TY_BINARY_DIV] = {"div", KIND_TRUEDIV, {[TY_F32] = div_f32, [TY_F64] = div_f64}, 1},
    [TY_BINARY_POW] =
        {"pow",
         KIND_ARITH,
         {[TY_U8] = pow_u8, [TY_I64] = pow_i64, [TY_F32] = pow_f32, [TY_F64] = pow_f64},
         16},
    [TY_BINARY_MAXIMUM] = {"maximum",
                           KIND_ARITH,
                           {[TY_BOOL] = or_b,
                            [TY_U8] = maximum_u8,
                            [TY_I64] = maximum_i64,
                            [TY_F32] = maximum_f32,
                            [TY_F64] = maximum_f64},
                           1},
    [TY_BINARY_MINIMUM] = {"minimum",
                           KIND_ARITH,
                           {[TY_BOOL] = and_b,
                            [TY_U8] = minimum_u8,
                            [TY_I64] = minimum_i64,
                            [TY_F32] = minimum_f32,
                            [TY_F64] = minimum_f64},
                           1},
    [TY_BINARY_EQ] = {"eq",
                      KIND_COMPARE,
                      {[TY_BOOL] = eq_u8,
                       [TY_U8] = eq_u8,
                       [TY_I64] = eq_i64,
                       [TY_F32] = eq_f32,
                       [TY_F64] = eq_f64},
                      1},
    [TY_BINARY_NE] = {"ne",
                      KIND_COMPARE,
                      {[TY_BOOL] = ne_u8,
                       [TY_U8] = ne_u8,
                       [TY_I64] = ne_i64,
                       [TY_F32] = ne_f32,
                       [TY_F64] = ne_f64},
                      1},
    [TY_BINARY_LT] = {"lt",
                      KIND_COMPARE,
                      {[TY_BOOL] = lt_u8,
                       [TY_U8] = lt_u8,
                       [TY_I64] = lt_i64,
                       [TY_F32] = lt_f32,
                       [TY_F64] = lt_f64},
                      1},
    [TY_BINARY_LE] = {"le",
                      KIND_COMPARE,
                      {[TY_BOOL] = le_u8,
                       [TY_U8] = le_u8,
                       [TY_I64] = le_i64,
                       [TY_F32] = le_f32,
                       [TY_F64] = le_f64},
                      1},
    [TY_BINARY_GT] = {"gt",
                      KIND_COMPARE,
                      {[TY_BOOL] = gt_u8,
                       [TY_U8] = gt_u8,
                       [TY_I64] = gt_i64,
                       [TY_F32] = gt_f32,
                       [TY_F64] = gt_f64},
                      1},
    [TY_BINARY_GE] = {"ge",
                      KIND_COMPARE,
                      {[TY_BOOL] = ge_u8,
                       [TY_U8] = ge_u8,
                       [TY_I64] = ge_i64,
                       [TY_F32] = ge_f32,
                       [TY_F64] = ge_f64},
                      1},
    [TY_BINARY_LOGICAL_AND] = {"logical_and", KIND_LOGICAL, {[TY_BOOL] = and_b}, 1},
    [TY_BINARY_LOGICAL_OR] = {"logical_or", KIND_LOGICAL, {[TY_BOOL] = or_b}, 1},
    [TY_BINARY_LOGICAL_XOR] = {"logical_xor", KIND_LOGICAL, {[TY_BOOL] = xor_b}, 1},
};

const char *ty_binary_name(ty_binary_op op) {
    return (unsigned)op < TY_BINARY_NUM ? binary_ops[op].name : NULL;
}

/* ---- the drivers ---- */

/* Compute and result dtypes of op on operands promoting to pdt. */
static int op_dtypes(const char *fn, const binary_op *op, ty_dtype pdt, ty_dtype *cdt,
                     ty_dtype *rdt) {
    switch (op->kind) {
    case KIND_ARITH:
        *rdt = pdt;
        *cdt = ty_compute_dtype(pdt);
        break;
    case KIND_TRUEDIV:
        *rdt = ty_dtype_is_float(pdt) ? pdt : TY_F32;
        *cdt = ty_compute_dtype(*rdt);
        break;
    case KIND_COMPARE:
        *rdt = TY_BOOL;
        *cdt = ty_compute_dtype(pdt);
        break;
    case KIND_LOGICAL:
        *rdt = TY_BOOL;
        *cdt = TY_BOOL;
        break;
    }
    if (!op->kernel[*cdt])
        return ty_error("%s: not supported for %s tensors", fn, ty_dtype_name(pdt));
    return 0;
}

static int check_operands(const char *fn, const ty_tensor *a, const ty_tensor *b) {
    if (ty_check_cpu(fn, a) < 0 || ty_check_cpu(fn, b) < 0) return -1;
    return ty_check_same_device(fn, a, b);
}

/* Fails unless `t` broadcasts to exactly the shape of the in-place target. */
static int check_fits_target(const char *fn, const ty_tensor *target, const ty_tensor *t) {
    int nd;
    int64_t shape[TY_MAX_DIMS];
    if (ty_broadcast_shapes(fn, target->ndim, target->shape, t->ndim, t->shape, &nd, shape) < 0)
        return -1;
    bool same = nd == target->ndim;
    for (int d = 0; same && d < nd; d++) same = shape[d] == target->shape[d];
    if (same) return 0;
    char st[256], so[256], sb[256];
    return ty_error("%s: the in-place target has shape %s but the operands broadcast to %s "
                    "(other operand %s)",
                    fn, ty_shape_str(target, st, sizeof st),
                    ty_shape_str_n(nd, shape, sb, sizeof sb), ty_shape_str(t, so, sizeof so));
}

/* t converted to dt for reading while `target` is written: a private copy
 * when t shares target's memory other than element for element, so the
 * writes cannot change values still to be read. */
static ty_tensor *input_for(ty_tensor *t, ty_dtype dt, const ty_tensor *target) {
    ty_tensor *c = ty_cast(t, dt);
    if (!c || c->storage != target->storage) return c;
    bool same = c->offset == target->offset && c->ndim == target->ndim;
    for (int d = 0; same && d < c->ndim; d++)
        same = c->shape[d] == target->shape[d] && c->strides[d] == target->strides[d];
    if (same) return c;
    ty_tensor *copy = ty_clone(c);
    ty_tensor_release(c);
    return copy;
}

/* a op b into a fresh tensor; pdt is the operands' promoted dtype. */
static ty_tensor *binary_out(const char *fn, const binary_op *op, ty_tensor *a, ty_tensor *b,
                             ty_dtype pdt) {
    if (check_operands(fn, a, b) < 0) return NULL;
    int ndim;
    int64_t shape[TY_MAX_DIMS];
    if (ty_broadcast_shapes(fn, a->ndim, a->shape, b->ndim, b->shape, &ndim, shape) < 0)
        return NULL;
    ty_dtype cdt, rdt;
    if (op_dtypes(fn, op, pdt, &cdt, &rdt) < 0) return NULL;
    ty_dtype odt = op->kind == KIND_COMPARE || op->kind == KIND_LOGICAL ? TY_BOOL : cdt;
    ty_tensor *ac = ty_cast(a, cdt);
    ty_tensor *bc = ac ? ty_cast(b, cdt) : NULL;
    ty_tensor *out = bc ? ty_empty(ndim, shape, odt, a->device) : NULL;
    if (out) {
        ty_tensor *ops[3] = {out, ac, bc};
        if (ty_elementwise_run(fn, op->kernel[cdt], 3, ops, op->cost, NULL) < 0) {
            ty_tensor_release(out);
            out = NULL;
        }
    }
    ty_tensor_release(ac);
    ty_tensor_release(bc);
    if (out && odt != rdt) {
        ty_tensor *conv = ty_cast(out, rdt);
        ty_tensor_release(out);
        out = conv;
    }
    return out;
}

/* a = a op b. Everything is checked before the first write. */
static int binary_in(const char *fn, const binary_op *op, ty_tensor *a, ty_tensor *b,
                     ty_dtype pdt) {
    if (check_operands(fn, a, b) < 0 || check_fits_target(fn, a, b) < 0) return -1;
    ty_dtype cdt, rdt;
    if (op_dtypes(fn, op, pdt, &cdt, &rdt) < 0) return -1;
    if (ty_check_inplace_target(fn, a, rdt) < 0) return -1;
    if (cdt != a->dtype || rdt != a->dtype) {
        /* Mixed dtypes: compute aside, then convert into a. */
        ty_tensor *r = binary_out(fn, op, a, b, pdt);
        if (!r) return -1;
        int rc = ty_copy_(a, r);
        ty_tensor_release(r);
        return rc;
    }
    ty_tensor *bc = input_for(b, cdt, a);
    if (!bc) return -1;
    ty_tensor *ops[3] = {a, a, bc};
    int rc = ty_elementwise_run(fn, op->kernel[cdt], 3, ops, op->cost, NULL);
    ty_tensor_release(bc);
    if (rc == 0) ty_bump_version(a);
    return rc;
}

/* ---- autograd ----
 *
 * add, sub, mul, div, pow, maximum and minimum (also their scalar forms,
 * where the number is a 0-d operand that needs no gradient) record one
 * node with binary_backward:
 *   inputs      a, b
 *   n->i[0]     the op (a ty_binary_op)
 *   saved 0, 1  a and b, where a formula reads them (binary_saves)
 *   saved 2     the output y (pow, for the exponent's gradient)
 * Comparisons and logical ops give bool and record nothing. The formulas
 * are PyTorch's (tools/autograd/derivatives.yaml), built from the public
 * differentiable ops so that a backward run with create_graph records
 * itself; each gradient is summed back to its input's shape (ty_sum_to),
 * and the engine casts it to the input's dtype. */

/* A formula's temporaries live in a ty_temps (autograd.h); these short
 * names keep the formulas below readable. */
typedef ty_temps temps;
static ty_tensor *keep(temps *s, ty_tensor *t) {
    return ty_temps_keep(s, t);
}
static void temps_release(temps *s) {
    ty_temps_release(s);
}

/* f(a, b) for a binary op f (ty_mul, ty_eq, ty_logical_and, ...) */
static ty_tensor *t_bin(temps *s, ty_tensor *(*f)(ty_tensor *, ty_tensor *), ty_tensor *a,
                        ty_tensor *b) {
    return a && b ? keep(s, f(a, b)) : NULL;
}
static ty_tensor *t_un(temps *s, ty_tensor *(*f)(ty_tensor *), ty_tensor *a) {
    return a ? keep(s, f(a)) : NULL;
}
/* f(a, v) for an op with a number (ty_mul_scalar, ty_eq_scalar, ...) */
static ty_tensor *t_num(temps *s, ty_tensor *(*f)(ty_tensor *, double), ty_tensor *a, double v) {
    return a ? keep(s, f(a, v)) : NULL;
}
static ty_tensor *t_where(temps *s, ty_tensor *cond, ty_tensor *a, ty_tensor *b) {
    return cond && a && b ? keep(s, ty_where(cond, a, b)) : NULL;
}
/* 0 as a 0-d tensor of like's dtype, for where(mask, 0, g) */
static ty_tensor *t_zero(temps *s, ty_tensor *like) {
    return like ? keep(s, ty_scalar(0, like->dtype)) : NULL;
}

/* g summed to input i's shape, as a new reference the caller owns. */
static ty_tensor *grad_for(const ty_node *n, int i, ty_tensor *g) {
    return g ? ty_sum_to(g, n->input_meta[i].ndim, n->input_meta[i].shape) : NULL;
}

/* Which of a, b and the output the backward of op reads, given which
 * inputs want a gradient (the same answer when recording and when
 * running the backward). */
static void binary_saves(ty_binary_op op, bool need_a, bool need_b, bool *sa, bool *sb, bool *sy) {
    *sa = *sb = *sy = false;
    switch (op) {
    case TY_BINARY_MUL: /* ga = g b, gb = g a */
        *sa = need_b;
        *sb = need_a;
        break;
    case TY_BINARY_DIV: /* ga = g / b, gb = -g a / b^2 */
        *sa = need_b;
        *sb = true;
        break;
    case TY_BINARY_POW:
        *sa = *sb = true;
        *sy = need_b;
        break;
    case TY_BINARY_MAXIMUM:
    case TY_BINARY_MINIMUM:
        *sa = *sb = true;
        break;
    default: /* add, sub */
        break;
    }
}

/* The gradients of a and b (before summing to their shapes) into *ga and
 * *gb, for the inputs that want one. Everything made is kept in s. */
static void binary_grads(temps *s, ty_binary_op op, ty_tensor *g, ty_tensor *a, ty_tensor *b,
                         ty_tensor *y, bool need_a, bool need_b, ty_tensor **ga, ty_tensor **gb) {
    switch (op) {
    case TY_BINARY_ADD:
        *ga = g;
        *gb = g;
        break;
    case TY_BINARY_SUB:
        *ga = g;
        *gb = need_b ? t_un(s, ty_neg, g) : NULL;
        break;
    case TY_BINARY_MUL:
        *ga = need_a ? t_bin(s, ty_mul, g, b) : NULL;
        *gb = need_b ? t_bin(s, ty_mul, g, a) : NULL;
        break;
    case TY_BINARY_DIV:
        *ga = need_a ? t_bin(s, ty_div, g, b) : NULL;
        /* -g ((a / b) / b), PyTorch's order */
        *gb = need_b ? t_bin(s, ty_mul, t_un(s, ty_neg, g),
                             t_bin(s, ty_div, t_bin(s, ty_div, a, b), b))
                     : NULL;
        break;
    case TY_BINARY_POW:
        /* ga = g b a^(b-1), and 0 where b == 0 (also for a == 0) */
        if (need_a) {
            ty_tensor *p = t_bin(s, ty_pow, a, t_num(s, ty_sub_scalar, b, 1));
            ty_tensor *d = t_bin(s, ty_mul, g, t_bin(s, ty_mul, b, p));
            *ga = t_where(s, t_num(s, ty_eq_scalar, b, 0), t_zero(s, d), d);
        }
        /* gb = g y log(a), and 0 where a == 0 and b >= 0 (the limit from
         * the right, where log(0) would give -inf or NaN) */
        if (need_b) {
            ty_tensor *d = t_bin(s, ty_mul, g, t_bin(s, ty_mul, y, t_un(s, ty_log, a)));
            ty_tensor *at0 = t_bin(s, ty_logical_and, t_num(s, ty_eq_scalar, a, 0),
                                   t_num(s, ty_ge_scalar, b, 0));
            *gb = t_where(s, at0, t_zero(s, d), d);
        }
        break;
    case TY_BINARY_MAXIMUM:
    case TY_BINARY_MINIMUM: {
        /* ties split the gradient evenly; the smaller (maximum) or larger
         * (minimum) input gets 0; NaN makes both comparisons false, so
         * both inputs get g */
        ty_tensor *w = t_where(s, t_bin(s, ty_eq, a, b), t_num(s, ty_mul_scalar, g, 0.5), g);
        ty_tensor *(*lose_a)(ty_tensor *, ty_tensor *) = op == TY_BINARY_MAXIMUM ? ty_lt : ty_gt;
        ty_tensor *(*lose_b)(ty_tensor *, ty_tensor *) = op == TY_BINARY_MAXIMUM ? ty_gt : ty_lt;
        *ga = need_a ? t_where(s, t_bin(s, lose_a, a, b), t_zero(s, g), w) : NULL;
        *gb = need_b ? t_where(s, t_bin(s, lose_b, a, b), t_zero(s, g), w) : NULL;
        break;
    }
    default:
        ty_error("binary backward: %s is not differentiable", ty_binary_name(op));
        break;
    }
}

static int binary_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_binary_op op = (ty_binary_op)n->i[0];
    bool need_a = ty_node_needs_grad(n, 0), need_b = ty_node_needs_grad(n, 1), sa, sb, sy;
    binary_saves(op, need_a, need_b, &sa, &sb, &sy);
    temps s = {0};
    ty_tensor *a = NULL, *b = NULL, *y = NULL, *ga = NULL, *gb = NULL;
    if ((sa && !(a = keep(&s, ty_saved(n, 0)))) || (sb && !(b = keep(&s, ty_saved(n, 1)))) ||
        (sy && !(y = keep(&s, ty_saved(n, 2))))) {
        temps_release(&s);
        return -1;
    }
    binary_grads(&s, op, g[0], a, b, y, need_a, need_b, &ga, &gb);
    int rc = 0;
    if (need_a && !(gi[0] = grad_for(n, 0, ga))) rc = -1;
    if (rc == 0 && need_b && !(gi[1] = grad_for(n, 1, gb))) rc = -1;
    temps_release(&s);
    return rc;
}

/* Comparisons and logical ops give bool: no gradient. */
static bool differentiable(ty_binary_op op) {
    return binary_ops[op].kind == KIND_ARITH || binary_ops[op].kind == KIND_TRUEDIV;
}

/* Records y = a op b for the differentiable ops. */
static void binary_record(ty_binary_op op, ty_tensor *a, ty_tensor *b, ty_tensor *y) {
    if (!differentiable(op)) return;
    ty_node *n = ty_record(binary_ops[op].name, binary_backward, 2, (ty_tensor *[]){a, b}, 1, &y);
    if (!n) return;
    n->i[0] = op;
    bool sa, sb, sy;
    binary_saves(op, ty_node_needs_grad(n, 0), ty_node_needs_grad(n, 1), &sa, &sb, &sy);
    if (sa) ty_save(n, 0, a);
    if (sb) ty_save(n, 1, b);
    if (sy) ty_save_output(n, 2, y);
}

/* a op b into a fresh tensor, recorded for autograd; pdt is the operands'
 * promoted dtype. square: pow's x^2 (b is the 2), computed as x*x. */
static ty_tensor *binary_out_recorded(ty_binary_op op, ty_tensor *a, ty_tensor *b, ty_dtype pdt,
                                      bool square) {
    const binary_op *o = &binary_ops[op];
    /* The casts inside are part of this op, not nodes of their own. */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *r = square ? binary_out(o->name, &binary_ops[TY_BINARY_MUL], a, a, a->dtype)
                          : binary_out(o->name, o, a, b, pdt);
    ty_set_grad_enabled(prev);
    if (r) binary_record(op, a, b, r);
    return r;
}

/* r converted to target's dtype (a recorded cast) and committed into
 * target, which takes over r's history; r is consumed. */
static int commit_into(const char *fn, ty_tensor *target, ty_tensor *r) {
    if (r && r->dtype != target->dtype) {
        ty_tensor *c = ty_cast(r, target->dtype);
        ty_tensor_release(r);
        r = c;
    }
    return ty_inplace_commit(fn, target, r);
}

/* a = a op b while autograd records: checked as binary_in does, computed
 * out of place (recording the node) and committed into a. When the
 * backward reads a, it reads a clone, since a itself is overwritten. */
static int binary_in_recorded(const char *fn, ty_binary_op op, ty_tensor *a, ty_tensor *b,
                              ty_dtype pdt, bool square) {
    const binary_op *o = &binary_ops[op];
    if (check_operands(fn, a, b) < 0 || check_fits_target(fn, a, b) < 0) return -1;
    ty_dtype cdt, rdt;
    if (op_dtypes(fn, o, pdt, &cdt, &rdt) < 0) return -1;
    if (ty_check_inplace_target(fn, a, rdt) < 0) return -1;
    if (!differentiable(op)) {
        /* A bool result has no gradient, so it cannot take over a's history. */
        if (a->requires_grad)
            return ty_error("%s: not differentiable, so it cannot overwrite a tensor that "
                            "requires grad",
                            fn);
        bool prev = ty_set_grad_enabled(false);
        int rc = binary_in(fn, o, a, b, pdt);
        ty_set_grad_enabled(prev);
        return rc;
    }
    bool reads_a = op != TY_BINARY_ADD && op != TY_BINARY_SUB;
    ty_tensor *src = reads_a ? ty_clone(a) : ty_tensor_retain(a);
    if (!src) return -1;
    ty_tensor *r = binary_out_recorded(op, src, b == a ? src : b, pdt, square);
    ty_tensor_release(src);
    return commit_into(fn, a, r);
}

static const binary_op *lookup(ty_binary_op op) {
    if ((unsigned)op < TY_BINARY_NUM) return &binary_ops[op];
    ty_error("binary: unknown op %d", (int)op);
    return NULL;
}

ty_tensor *ty_binary(ty_binary_op op, ty_tensor *a, ty_tensor *b) {
    const binary_op *o = lookup(op);
    return o ? binary_out_recorded(op, a, b, ty_result_type(a, b), false) : NULL;
}

int ty_binary_(ty_binary_op op, ty_tensor *a, ty_tensor *b) {
    const binary_op *o = lookup(op);
    if (!o) return -1;
    char fn[32];
    snprintf(fn, sizeof fn, "%s_", o->name);
    if (ty_inplace_needs_grad(a, 1, &b))
        return binary_in_recorded(fn, op, a, b, ty_result_type(a, b), false);
    return binary_in(fn, o, a, b, ty_result_type(a, b));
}

/* ---- scalar forms ---- */

/* Whether s is exactly representable in the integer dtype dt. */
static bool fits(ty_dtype dt, double s) {
    if (!is_integral(s)) return false;
    switch (dt) {
    case TY_BOOL:
        return s == 0 || s == 1;
    case TY_U8:
        return s >= 0 && s <= 255;
    default:
        return s >= -9223372036854775808.0 && s < 9223372036854775808.0;
    }
}

/* The promoted dtype of `x op s` and s as a 0-d tensor in its compute
 * dtype. Comparisons of integers with a value their dtype cannot hold are
 * done in f64, where both sides are close to exact. */
static ty_tensor *scalar_operand(const binary_op *op, const ty_tensor *x, double s, ty_dtype *pdt) {
    if (op->kind == KIND_COMPARE && !ty_dtype_is_float(x->dtype) && !fits(x->dtype, s))
        *pdt = TY_F64;
    else
        *pdt = ty_scalar_result_type(x->dtype, s);
    ty_dtype sdt = op->kind == KIND_LOGICAL ? TY_BOOL : ty_compute_dtype(*pdt);
    return ty_scalar(s, sdt);
}

/* pow's scalar special cases: x^2 is x*x (exact either way, much cheaper),
 * and integers cannot take negative integer powers (as PyTorch). Returns 1
 * when x^2 should run as a multiplication, -1 on error, else 0. */
static int pow_scalar_case(const char *fn, ty_binary_op op, const ty_tensor *x, double s) {
    if (op != TY_BINARY_POW) return 0;
    if (!ty_dtype_is_float(x->dtype) && is_integral(s) && s < 0)
        return ty_error("%s: integers to negative integer powers are not allowed: %s tensor, "
                        "exponent %g",
                        fn, ty_dtype_name(x->dtype), s);
    return s == 2 && ty_scalar_result_type(x->dtype, s) == x->dtype;
}

ty_tensor *ty_binary_scalar(ty_binary_op op, ty_tensor *x, double s) {
    const binary_op *o = lookup(op);
    if (!o || ty_check_cpu(o->name, x) < 0) return NULL;
    int special = pow_scalar_case(o->name, op, x, s);
    if (special < 0) return NULL;
    ty_dtype pdt;
    ty_tensor *st = scalar_operand(o, x, s, &pdt);
    if (!st) return NULL;
    ty_tensor *r = binary_out_recorded(op, x, st, pdt, special);
    ty_tensor_release(st);
    return r;
}

ty_tensor *ty_binary_rscalar(ty_binary_op op, double s, ty_tensor *x) {
    const binary_op *o = lookup(op);
    if (!o || ty_check_cpu(o->name, x) < 0) return NULL;
    ty_dtype pdt;
    ty_tensor *st = scalar_operand(o, x, s, &pdt);
    if (!st) return NULL;
    ty_tensor *r = binary_out_recorded(op, st, x, pdt, false);
    ty_tensor_release(st);
    return r;
}

int ty_binary_scalar_(ty_binary_op op, ty_tensor *x, double s) {
    const binary_op *o = lookup(op);
    if (!o) return -1;
    char fn[32];
    snprintf(fn, sizeof fn, "%s_", o->name);
    if (ty_check_cpu(fn, x) < 0) return -1;
    int special = pow_scalar_case(fn, op, x, s);
    if (special < 0) return -1;
    ty_dtype pdt;
    ty_tensor *st = scalar_operand(o, x, s, &pdt);
    if (!st) return -1;
    int rc;
    if (ty_inplace_needs_grad(x, 0, NULL))
        rc = binary_in_recorded(fn, op, x, st, pdt, special);
    else if (special)
        rc = binary_in(fn, &binary_ops[TY_BINARY_MUL], x, x, x->dtype);
    else
        rc = binary_in(fn, o, x, st, pdt);
    ty_tensor_release(st);
    return rc;
}

/* ---- named ops ---- */

ty_tensor *ty_add(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_ADD, a, b);
}
ty_tensor *ty_sub(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_SUB, a, b);
}
ty_tensor *ty_mul(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_MUL, a, b);
}
ty_tensor *ty_div(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_DIV, a, b);
}
ty_tensor *ty_pow(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_POW, a, b);
}
ty_tensor *ty_maximum(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_MAXIMUM, a, b);
}
ty_tensor *ty_minimum(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_MINIMUM, a, b);
}
ty_tensor *ty_eq(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_EQ, a, b);
}
ty_tensor *ty_ne(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_NE, a, b);
}
ty_tensor *ty_lt(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_LT, a, b);
}
ty_tensor *ty_le(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_LE, a, b);
}
ty_tensor *ty_gt(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_GT, a, b);
}
ty_tensor *ty_ge(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_GE, a, b);
}
ty_tensor *ty_logical_and(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_LOGICAL_AND, a, b);
}
ty_tensor *ty_logical_or(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_LOGICAL_OR, a, b);
}
ty_tensor *ty_logical_xor(ty_tensor *a, ty_tensor *b) {
    return ty_binary(TY_BINARY_LOGICAL_XOR, a, b);
}

int ty_add_(ty_tensor *a, ty_tensor *b) {
    return ty_binary_(TY_BINARY_ADD, a, b);
}
int ty_sub_(ty_tensor *a, ty_tensor *b) {
    return ty_binary_(TY_BINARY_SUB, a, b);
}
int ty_mul_(ty_tensor *a, ty_tensor *b) {
    return ty_binary_(TY_BINARY_MUL, a, b);
}
int ty_div_(ty_tensor *a, ty_tensor *b) {
    return ty_binary_(TY_BINARY_DIV, a, b);
}
int ty_pow_(ty_tensor *a, ty_tensor *b) {
    return ty_binary_(TY_BINARY_POW, a, b);
}

ty_tensor *ty_add_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_ADD, x, s);
}
ty_tensor *ty_sub_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_SUB, x, s);
}
ty_tensor *ty_rsub_scalar(ty_tensor *x, double s) {
    return ty_binary_rscalar(TY_BINARY_SUB, s, x);
}
ty_tensor *ty_mul_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_MUL, x, s);
}
ty_tensor *ty_div_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_DIV, x, s);
}
ty_tensor *ty_rdiv_scalar(ty_tensor *x, double s) {
    return ty_binary_rscalar(TY_BINARY_DIV, s, x);
}
ty_tensor *ty_pow_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_POW, x, s);
}
ty_tensor *ty_rpow_scalar(ty_tensor *x, double s) {
    return ty_binary_rscalar(TY_BINARY_POW, s, x);
}
ty_tensor *ty_eq_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_EQ, x, s);
}
ty_tensor *ty_ne_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_NE, x, s);
}
ty_tensor *ty_lt_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_LT, x, s);
}
ty_tensor *ty_le_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_LE, x, s);
}
ty_tensor *ty_gt_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_GT, x, s);
}
ty_tensor *ty_ge_scalar(ty_tensor *x, double s) {
    return ty_binary_scalar(TY_BINARY_GE, x, s);
}

int ty_add_scalar_(ty_tensor *x, double s) {
    return ty_binary_scalar_(TY_BINARY_ADD, x, s);
}
int ty_sub_scalar_(ty_tensor *x, double s) {
    return ty_binary_scalar_(TY_BINARY_SUB, x, s);
}
int ty_mul_scalar_(ty_tensor *x, double s) {
    return ty_binary_scalar_(TY_BINARY_MUL, x, s);
}
int ty_div_scalar_(ty_tensor *x, double s) {
    return ty_binary_scalar_(TY_BINARY_DIV, x, s);
}
int ty_pow_scalar_(ty_tensor *x, double s) {
    return ty_binary_scalar_(TY_BINARY_POW, x, s);
}

/* ---- where ---- */

/* Selecting copies bytes, so one kernel per element size serves every
 * dtype, half types included. */
#define DEFINE_WHERE(SUF, T)                                                                       \
    static void where_##SUF(char **p, const int64_t *s, int64_t n, void *ctx) {                    \
        (void)ctx;                                                                                 \
        const int64_t sz = (int64_t)sizeof(T);                                                     \
        if (s[0] == sz && s[1] == 1 && s[2] == sz && s[3] == sz) {                                 \
            T *o = (T *)p[0];                                                                      \
            const uint8_t *c = (const uint8_t *)p[1];                                              \
            const T *a = (const T *)p[2], *b = (const T *)p[3];                                    \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) o[i] = c[i] ? a[i] : b[i];         \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                const char *src =                                                                  \
                    *(const uint8_t *)(p[1] + i * s[1]) ? p[2] + i * s[2] : p[3] + i * s[3];       \
                *(T *)(p[0] + i * s[0]) = *(const T *)src;                                         \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_WHERE(8, uint8_t)
DEFINE_WHERE(16, uint16_t)
DEFINE_WHERE(32, uint32_t)
DEFINE_WHERE(64, uint64_t)

static ty_tensor *where_forward(ty_tensor *cond, ty_tensor *a, ty_tensor *b) {
    const char *fn = "where";
    if (check_operands(fn, cond, a) < 0 || check_operands(fn, cond, b) < 0) return NULL;
    if (cond->dtype != TY_BOOL && cond->dtype != TY_U8) {
        ty_error("where: the condition must be bool or u8, got %s", ty_dtype_name(cond->dtype));
        return NULL;
    }
    int nd1, nd;
    int64_t s1[TY_MAX_DIMS], shape[TY_MAX_DIMS];
    if (ty_broadcast_shapes(fn, cond->ndim, cond->shape, a->ndim, a->shape, &nd1, s1) < 0 ||
        ty_broadcast_shapes(fn, nd1, s1, b->ndim, b->shape, &nd, shape) < 0)
        return NULL;
    ty_dtype rdt = ty_result_type(a, b);
    ty_iter_kernel k;
    switch (ty_dtype_size(rdt)) {
    case 1:
        k = where_8;
        break;
    case 2:
        k = where_16;
        break;
    case 4:
        k = where_32;
        break;
    default:
        k = where_64;
        break;
    }
    ty_tensor *ac = ty_cast(a, rdt);
    ty_tensor *bc = ac ? ty_cast(b, rdt) : NULL;
    ty_tensor *out = bc ? ty_empty(nd, shape, rdt, a->device) : NULL;
    if (out) {
        ty_tensor *ops[4] = {out, cond, ac, bc};
        if (ty_elementwise_run(fn, k, 4, ops, 1, NULL) < 0) {
            ty_tensor_release(out);
            out = NULL;
        }
    }
    ty_tensor_release(ac);
    ty_tensor_release(bc);
    return out;
}

/* where's node: inputs a and b, the condition saved in slot 0. Each
 * branch gets g where it was chosen and 0 elsewhere, summed to its shape;
 * the condition gets nothing. */
static int where_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    temps s = {0};
    ty_tensor *cond = keep(&s, ty_saved(n, 0));
    ty_tensor *zero = t_zero(&s, g[0]);
    int rc = cond && zero ? 0 : -1;
    if (rc == 0 && ty_node_needs_grad(n, 0) &&
        !(gi[0] = grad_for(n, 0, t_where(&s, cond, g[0], zero))))
        rc = -1;
    if (rc == 0 && ty_node_needs_grad(n, 1) &&
        !(gi[1] = grad_for(n, 1, t_where(&s, cond, zero, g[0]))))
        rc = -1;
    temps_release(&s);
    return rc;
}

ty_tensor *ty_where(ty_tensor *cond, ty_tensor *a, ty_tensor *b) {
    /* The casts inside are part of this op, not nodes of their own. */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = where_forward(cond, a, b);
    ty_set_grad_enabled(prev);
    ty_node *n = out ? ty_record("where", where_backward, 2, (ty_tensor *[]){a, b}, 1, &out) : NULL;
    if (n) ty_save(n, 0, cond);
    return out;
}

/* ---- fused optimizer kernels ---- */

/* o = EXPR(x, y, z) with parameter p0, for ops (out, x, y, z). The second
 * contiguous loop is for a broadcast z (lerp's scalar weight). */
#define DEFINE_TERNARY(NAME, SUF, T, EXPR)                                                         \
    static void NAME##_##SUF(char **p, const int64_t *s, int64_t n, void *ctx) {                   \
        const T p0 = (T)(*(const double *)ctx);                                                    \
        (void)p0;                                                                                  \
        const int64_t sz = (int64_t)sizeof(T);                                                     \
        T *o = (T *)p[0];                                                                          \
        const T *xs = (const T *)p[1], *ys = (const T *)p[2], *zs = (const T *)p[3];               \
        if (s[0] == sz && s[1] == sz && s[2] == sz && s[3] == sz) {                                \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                  \
                T x = xs[i], y = ys[i], z = zs[i];                                                 \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (s[0] == sz && s[1] == sz && s[2] == sz && s[3] == 0) {                          \
            const T z = zs[0];                                                                     \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                  \
                T x = xs[i], y = ys[i];                                                            \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = *(const T *)(p[1] + i * s[1]), y = *(const T *)(p[2] + i * s[2]);            \
                T z = *(const T *)(p[3] + i * s[3]);                                               \
                *(T *)(p[0] + i * s[0]) = (EXPR);                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_TERNARY(addcmul, f32, float, x + p0 * y * z)
DEFINE_TERNARY(addcmul, f64, double, x + p0 * y * z)
DEFINE_TERNARY(addcdiv, f32, float, x + p0 * y / z)
DEFINE_TERNARY(addcdiv, f64, double, x + p0 * y / z)
/* PyTorch's lerp: from the nearer end, so weight 0 gives start and weight 1
 * gives end exactly. */
DEFINE_TERNARY(lerp, f32, float, fabsf(z) < 0.5f ? x + z * (y - x) : y - (y - x) * (1.0f - z))
DEFINE_TERNARY(lerp, f64, double, fabs(z) < 0.5 ? x + z * (y - x) : y - (y - x) * (1.0 - z))

/* What the fused in-place ops require of self (floating point, writable)
 * and of the operands y and z (broadcasting to self's shape). */
static int check_fused(const char *fn, ty_tensor *self, ty_tensor *y, ty_tensor *z) {
    if (check_operands(fn, self, y) < 0 || check_operands(fn, self, z) < 0) return -1;
    if (!ty_dtype_is_float(self->dtype))
        return ty_error("%s: expected a floating-point tensor, got %s", fn,
                        ty_dtype_name(self->dtype));
    if (check_fits_target(fn, self, y) < 0 || check_fits_target(fn, self, z) < 0) return -1;
    return ty_check_inplace_target(fn, self, self->dtype);
}

/* self = kernel(self, y, z) for a floating-point self; y and z broadcast to
 * self's shape. Half types are computed in an f32 copy. */
static int fused_inplace(const char *fn, ty_iter_kernel k32, ty_iter_kernel k64, ty_tensor *self,
                         ty_tensor *y, ty_tensor *z, double p0) {
    if (check_fused(fn, self, y, z) < 0) return -1;
    ty_dtype cdt = ty_compute_dtype(self->dtype);
    ty_tensor *target = ty_cast(self, cdt);
    ty_tensor *yc = target ? input_for(y, cdt, target) : NULL;
    ty_tensor *zc = yc ? input_for(z, cdt, target) : NULL;
    int rc = -1;
    if (zc) {
        ty_tensor *ops[4] = {target, target, yc, zc};
        rc = ty_elementwise_run(fn, cdt == TY_F64 ? k64 : k32, 4, ops, 2, &p0);
    }
    if (rc == 0) {
        if (target != self)
            rc = ty_copy_(self, target);
        else
            ty_bump_version(self);
    }
    ty_tensor_release(target);
    ty_tensor_release(yc);
    ty_tensor_release(zc);
    return rc;
}

/* self += value * t1 * t2 (or / t2) while autograd records: composed from
 * the differentiable ops and committed into self. mul and div save their
 * operands, so an operand that is self itself is read through a clone. */
static int addc_recorded(const char *fn, bool divide, ty_tensor *self, ty_tensor *t1, ty_tensor *t2,
                         double value) {
    if (check_fused(fn, self, t1, t2) < 0) return -1;
    ty_tensor *a = t1 == self ? ty_clone(self) : ty_tensor_retain(t1);
    ty_tensor *b = t2 == t1     ? ty_tensor_retain(a)
                   : t2 == self ? ty_clone(self)
                                : ty_tensor_retain(t2);
    ty_tensor *p = a && b ? (divide ? ty_div(a, b) : ty_mul(a, b)) : NULL;
    ty_tensor *q = p ? ty_mul_scalar(p, value) : NULL;
    ty_tensor *r = q ? ty_add(self, q) : NULL;
    ty_tensor_release(a);
    ty_tensor_release(b);
    ty_tensor_release(p);
    ty_tensor_release(q);
    if (!r) return -1;
    return commit_into(fn, self, r);
}

int ty_addcmul_(ty_tensor *self, ty_tensor *t1, ty_tensor *t2, double value) {
    if (ty_inplace_needs_grad(self, 2, (ty_tensor *[]){t1, t2}))
        return addc_recorded("addcmul_", false, self, t1, t2, value);
    return fused_inplace("addcmul_", addcmul_f32, addcmul_f64, self, t1, t2, value);
}

int ty_addcdiv_(ty_tensor *self, ty_tensor *t1, ty_tensor *t2, double value) {
    if (ty_inplace_needs_grad(self, 2, (ty_tensor *[]){t1, t2}))
        return addc_recorded("addcdiv_", true, self, t1, t2, value);
    return fused_inplace("addcdiv_", addcdiv_f32, addcdiv_f64, self, t1, t2, value);
}

int ty_lerp_(ty_tensor *self, ty_tensor *end, double weight) {
    if (ty_check_cpu("lerp_", self) < 0) return -1;
    if (ty_inplace_needs_grad(self, 1, &end)) {
        /* lerp saves nothing, so self can be read directly. */
        if (check_fused("lerp_", self, end, end) < 0) return -1;
        return commit_into("lerp_", self, ty_lerp(self, end, weight));
    }
    ty_tensor *w = ty_scalar(weight, ty_compute_dtype(self->dtype));
    if (!w) return -1;
    int rc = fused_inplace("lerp_", lerp_f32, lerp_f64, self, end, w, 0);
    ty_tensor_release(w);
    return rc;
}

static ty_tensor *lerp_forward(ty_tensor *start, ty_tensor *end, double weight) {
    const char *fn = "lerp";
    if (check_operands(fn, start, end) < 0) return NULL;
    ty_dtype rdt = ty_result_type(start, end);
    if (!ty_dtype_is_float(rdt)) {
        ty_error("lerp: expected floating-point tensors, got %s and %s",
                 ty_dtype_name(start->dtype), ty_dtype_name(end->dtype));
        return NULL;
    }
    int nd;
    int64_t shape[TY_MAX_DIMS];
    if (ty_broadcast_shapes(fn, start->ndim, start->shape, end->ndim, end->shape, &nd, shape) < 0)
        return NULL;
    ty_dtype cdt = ty_compute_dtype(rdt);
    ty_tensor *sc = ty_cast(start, cdt);
    ty_tensor *ec = sc ? ty_cast(end, cdt) : NULL;
    ty_tensor *w = ec ? ty_scalar(weight, cdt) : NULL;
    ty_tensor *out = w ? ty_empty(nd, shape, cdt, start->device) : NULL;
    if (out) {
        ty_tensor *ops[4] = {out, sc, ec, w};
        double unused = 0;
        if (ty_elementwise_run(fn, cdt == TY_F64 ? lerp_f64 : lerp_f32, 4, ops, 2, &unused) < 0) {
            ty_tensor_release(out);
            out = NULL;
        }
    }
    ty_tensor_release(sc);
    ty_tensor_release(ec);
    ty_tensor_release(w);
    if (out && cdt != rdt) {
        ty_tensor *conv = ty_cast(out, rdt);
        ty_tensor_release(out);
        out = conv;
    }
    return out;
}

/* lerp's node: inputs start and end, the weight in n->d[0]. start gets
 * g (1 - w) and end g w, each summed to its shape. */
static int lerp_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    double w = n->d[0];
    temps s = {0};
    int rc = 0;
    if (ty_node_needs_grad(n, 0) &&
        !(gi[0] = grad_for(n, 0, t_num(&s, ty_mul_scalar, g[0], 1 - w))))
        rc = -1;
    if (rc == 0 && ty_node_needs_grad(n, 1) &&
        !(gi[1] = grad_for(n, 1, t_num(&s, ty_mul_scalar, g[0], w))))
        rc = -1;
    temps_release(&s);
    return rc;
}

ty_tensor *ty_lerp(ty_tensor *start, ty_tensor *end, double weight) {
    /* The casts inside are part of this op, not nodes of their own. */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = lerp_forward(start, end, weight);
    ty_set_grad_enabled(prev);
    ty_node *n =
        out ? ty_record("lerp", lerp_backward, 2, (ty_tensor *[]){start, end}, 1, &out) : NULL;
    if (n) n->d[0] = weight;
    return out;
}
