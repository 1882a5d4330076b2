/* Binary elementwise ops (arithmetic, comparisons, logical), their scalar
 * and in-place forms, where, dtype promotion, and the fused optimizer
 * kernels addcmul_, addcdiv_ and lerp.
 *
 * Each op is one row of `binary_ops`: its name, its kind (which decides the
 * result dtype), a row kernel (see iter.h) per compute dtype, a relative
 * cost, and a backward slot for the autograd issue. Operands are converted
 * to the compute dtype first (a copy only when the dtype differs), so every
 * kernel sees one element type; a scalar becomes a 0-d tensor, which the
 * kernels see as a stride-0 operand with a loop of its own. */
#include <math.h>
#include <stdio.h>

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
    void *backward;                       /* the autograd issue fills this in */
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
                       1,
                       NULL},
    [TY_BINARY_SUB] =
        {"sub",
         KIND_ARITH,
         {[TY_U8] = sub_u8, [TY_I64] = sub_i64, [TY_F32] = sub_f32, [TY_F64] = sub_f64},
         1,
         NULL},
    [TY_BINARY_MUL] = {"mul",
                       KIND_ARITH,
                       {[TY_BOOL] = and_b,
                        [TY_U8] = mul_u8,
                        [TY_I64] = mul_i64,
                        [TY_F32] = mul_f32,
                        [TY_F64] = mul_f64},
                       1,
                       NULL},
    [TY_BINARY_DIV] = {"div", KIND_TRUEDIV, {[TY_F32] = div_f32, [TY_F64] = div_f64}, 1, NULL},
    [TY_BINARY_POW] =
        {"pow",
         KIND_ARITH,
         {[TY_U8] = pow_u8, [TY_I64] = pow_i64, [TY_F32] = pow_f32, [TY_F64] = pow_f64},
         16,
         NULL},
    [TY_BINARY_MAXIMUM] = {"maximum",
                           KIND_ARITH,
                           {[TY_BOOL] = or_b,
                            [TY_U8] = maximum_u8,
                            [TY_I64] = maximum_i64,
                            [TY_F32] = maximum_f32,
                            [TY_F64] = maximum_f64},
                           1,
                           NULL},
    [TY_BINARY_MINIMUM] = {"minimum",
                           KIND_ARITH,
                           {[TY_BOOL] = and_b,
                            [TY_U8] = minimum_u8,
                            [TY_I64] = minimum_i64,
                            [TY_F32] = minimum_f32,
                            [TY_F64] = minimum_f64},
                           1,
                           NULL},
    [TY_BINARY_EQ] = {"eq",
                      KIND_COMPARE,
                      {[TY_BOOL] = eq_u8,
                       [TY_U8] = eq_u8,
                       [TY_I64] = eq_i64,
                       [TY_F32] = eq_f32,
                       [TY_F64] = eq_f64},
                      1,
                      NULL},
    [TY_BINARY_NE] = {"ne",
                      KIND_COMPARE,
                      {[TY_BOOL] = ne_u8,
                       [TY_U8] = ne_u8,
                       [TY_I64] = ne_i64,
                       [TY_F32] = ne_f32,
                       [TY_F64] = ne_f64},
                      1,
                      NULL},
    [TY_BINARY_LT] = {"lt",
                      KIND_COMPARE,
                      {[TY_BOOL] = lt_u8,
                       [TY_U8] = lt_u8,
                       [TY_I64] = lt_i64,
                       [TY_F32] = lt_f32,
                       [TY_F64] = lt_f64},
                      1,
                      NULL},
    [TY_BINARY_LE] = {"le",
                      KIND_COMPARE,
                      {[TY_BOOL] = le_u8,
                       [TY_U8] = le_u8,
                       [TY_I64] = le_i64,
                       [TY_F32] = le_f32,
                       [TY_F64] = le_f64},
                      1,
                      NULL},
    [TY_BINARY_GT] = {"gt",
                      KIND_COMPARE,
                      {[TY_BOOL] = gt_u8,
                       [TY_U8] = gt_u8,
                       [TY_I64] = gt_i64,
                       [TY_F32] = gt_f32,
                       [TY_F64] = gt_f64},
                      1,
                      NULL},
    [TY_BINARY_GE] = {"ge",
                      KIND_COMPARE,
                      {[TY_BOOL] = ge_u8,
                       [TY_U8] = ge_u8,
                       [TY_I64] = ge_i64,
                       [TY_F32] = ge_f32,
                       [TY_F64] = ge_f64},
                      1,
                      NULL},
    [TY_BINARY_LOGICAL_AND] = {"logical_and", KIND_LOGICAL, {[TY_BOOL] = and_b}, 1, NULL},
    [TY_BINARY_LOGICAL_OR] = {"logical_or", KIND_LOGICAL, {[TY_BOOL] = or_b}, 1, NULL},
    [TY_BINARY_LOGICAL_XOR] = {"logical_xor", KIND_LOGICAL, {[TY_BOOL] = xor_b}, 1, NULL},
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

static const binary_op *lookup(ty_binary_op op) {
    if ((unsigned)op < TY_BINARY_NUM) return &binary_ops[op];
    ty_error("binary: unknown op %d", (int)op);
    return NULL;
}

ty_tensor *ty_binary(ty_binary_op op, ty_tensor *a, ty_tensor *b) {
    const binary_op *o = lookup(op);
    return o ? binary_out(o->name, o, a, b, ty_result_type(a, b)) : NULL;
}

int ty_binary_(ty_binary_op op, ty_tensor *a, ty_tensor *b) {
    const binary_op *o = lookup(op);
    if (!o) return -1;
    char fn[32];
    snprintf(fn, sizeof fn, "%s_", o->name);
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
    if (special) return binary_out(o->name, &binary_ops[TY_BINARY_MUL], x, x, x->dtype);
    ty_dtype pdt;
    ty_tensor *st = scalar_operand(o, x, s, &pdt);
    if (!st) return NULL;
    ty_tensor *r = binary_out(o->name, o, x, st, pdt);
    ty_tensor_release(st);
    return r;
}

ty_tensor *ty_binary_rscalar(ty_binary_op op, double s, ty_tensor *x) {
    const binary_op *o = lookup(op);
    if (!o || ty_check_cpu(o->name, x) < 0) return NULL;
    ty_dtype pdt;
    ty_tensor *st = scalar_operand(o, x, s, &pdt);
    if (!st) return NULL;
    ty_tensor *r = binary_out(o->name, o, st, x, pdt);
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
    if (special) return binary_in(fn, &binary_ops[TY_BINARY_MUL], x, x, x->dtype);
    ty_dtype pdt;
    ty_tensor *st = scalar_operand(o, x, s, &pdt);
    if (!st) return -1;
    int rc = binary_in(fn, o, x, st, pdt);
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

ty_tensor *ty_where(ty_tensor *cond, ty_tensor *a, ty_tensor *b) {
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

/* self = kernel(self, y, z) for a floating-point self; y and z broadcast to
 * self's shape. Half types are computed in an f32 copy. */
static int fused_inplace(const char *fn, ty_iter_kernel k32, ty_iter_kernel k64, ty_tensor *self,
                         ty_tensor *y, ty_tensor *z, double p0) {
    if (check_operands(fn, self, y) < 0 || check_operands(fn, self, z) < 0) return -1;
    if (!ty_dtype_is_float(self->dtype))
        return ty_error("%s: expected a floating-point tensor, got %s", fn,
                        ty_dtype_name(self->dtype));
    if (check_fits_target(fn, self, y) < 0 || check_fits_target(fn, self, z) < 0) return -1;
    if (ty_check_inplace_target(fn, self, self->dtype) < 0) return -1;
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

int ty_addcmul_(ty_tensor *self, ty_tensor *t1, ty_tensor *t2, double value) {
    return fused_inplace("addcmul_", addcmul_f32, addcmul_f64, self, t1, t2, value);
}

int ty_addcdiv_(ty_tensor *self, ty_tensor *t1, ty_tensor *t2, double value) {
    return fused_inplace("addcdiv_", addcdiv_f32, addcdiv_f64, self, t1, t2, value);
}

int ty_lerp_(ty_tensor *self, ty_tensor *end, double weight) {
    if (ty_check_cpu("lerp_", self) < 0) return -1;
    ty_tensor *w = ty_scalar(weight, ty_compute_dtype(self->dtype));
    if (!w) return -1;
    int rc = fused_inplace("lerp_", lerp_f32, lerp_f64, self, end, w, 0);
    ty_tensor_release(w);
    return rc;
}

ty_tensor *ty_lerp(ty_tensor *start, ty_tensor *end, double weight) {
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
