/* Unary elementwise ops, the fused a*x + b, and the plumbing every
 * elementwise kernel shares (ty_elementwise_run, ty_check_inplace_target).
 *
 * Each op is one row of `unary_ops`: its name, a row kernel (see iter.h) per
 * dtype, its parameters' defaults, a relative cost for the parallel
 * threshold, and a backward slot for the autograd issue. A kernel handles
 * one strided line: a contiguous branch that the compiler vectorises and a
 * general branch. Ops whose integer slots are all NULL are float-only:
 * integer and bool inputs are converted to f32 first. */
#include <math.h>
#include <stdio.h>

#include "elementwise.h"
#include "error.h"
#include "iter.h"
#include "parallel.h"

/* ---- plumbing ---- */

/* True when t, contiguous, holds its elements in the same order as a
 * contiguous tensor of out's shape, so one flat loop walks both. Leading
 * size-1 dims do not matter; anything else goes through ty_iter, which also
 * reports shapes that do not broadcast. */
static bool same_shape(const ty_tensor *t, const ty_tensor *out) {
    int i = 0, j = 0;
    while (i < t->ndim && t->shape[i] == 1 && t->ndim - i > out->ndim - j) i++;
    while (j < out->ndim && out->shape[j] == 1 && out->ndim - j > t->ndim - i) j++;
    if (t->ndim - i != out->ndim - j) return false;
    for (; i < t->ndim; i++, j++)
        if (t->shape[i] != out->shape[j]) return false;
    return true;
}

int ty_elementwise_run(const char *fn, ty_iter_kernel kernel, int nops, ty_tensor *const *ops,
                       int cost, void *ctx) {
    if (nops < 1 || nops > TY_ITER_MAX_OPS)
        return ty_error("%s: %d operands, at most %d are supported", fn, nops, TY_ITER_MAX_OPS);
    ty_tensor *out = ops[0];
    int64_t n = ty_numel(out);
    char *base[TY_ITER_MAX_OPS];
    int64_t strides[TY_ITER_MAX_OPS];
    bool flat = ty_is_contiguous(out);
    for (int k = 0; k < nops && flat; k++) {
        base[k] = ty_data(ops[k]);
        if (k > 0 && ty_numel(ops[k]) == 1 && ops[k]->ndim <= out->ndim)
            strides[k] = 0;
        else if (ty_is_contiguous(ops[k]) && same_shape(ops[k], out))
            strides[k] = (int64_t)ty_dtype_size(ops[k]->dtype);
        else
            flat = false;
    }
    if (!flat) {
        ty_iter it;
        if (ty_iter_init(&it, fn, nops, ops, out->ndim, out->shape) < 0) return -1;
        ty_iter_run(&it, kernel, ctx);
        return 0;
    }
    if (n == 0) return 0;
    int nt = ty_threads_for(n * (cost > 0 ? cost : 1));
    if (nt <= 1) {
        kernel(base, strides, n, ctx);
        return 0;
    }
    /* Pieces of a multiple of 64 elements keep every thread's start aligned
     * as well as the buffer's. */
    int64_t per = ((n + nt - 1) / nt + 63) / 64 * 64;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; t++) {
        int64_t begin = t * per, end = begin + per < n ? begin + per : n;
        if (begin >= end) continue;
        char *ptrs[TY_ITER_MAX_OPS];
        for (int k = 0; k < nops; k++) ptrs[k] = base[k] + begin * strides[k];
        kernel(ptrs, strides, end - begin, ctx);
    }
    return 0;
}

int ty_check_inplace_target(const char *fn, const ty_tensor *t, ty_dtype result) {
    bool ok = true;
    if (ty_dtype_is_float(result) && !ty_dtype_is_float(t->dtype)) ok = false;
    if (result != TY_BOOL && t->dtype == TY_BOOL) ok = false;
    if (!ok)
        return ty_error("%s: result dtype %s cannot be stored in place in a %s tensor", fn,
                        ty_dtype_name(result), ty_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++) {
        if (t->strides[d] == 0 && t->shape[d] > 1) {
            char buf[256];
            return ty_error("%s: the in-place target of shape %s is a broadcast view whose "
                            "elements share memory (dim %d has stride 0); clone it first",
                            fn, ty_shape_str(t, buf, sizeof buf), d);
        }
    }
    return 0;
}

/* ---- kernels ---- */

/* One row kernel: o = EXPR over x, for element type T. EXPR may use the
 * op's parameters p0 and p1 (doubles; float kernels convert them, which the
 * compiler hoists out of the loop).
 *
 * `omp simd` rather than restrict: at -O2 GCC 12 does not vectorise a loop
 * of unknown length even with restrict pointers, and `omp simd` also stays
 * correct when the output is the input (in-place ops), where restrict would
 * be a lie. */
#define DEFINE_UNARY(NAME, SUF, T, EXPR)                                                           \
    static void NAME##_##SUF(char **p, const int64_t *s, int64_t n, void *ctx) {                   \
        const double *prm = ctx;                                                                   \
        const double p0 = prm[0], p1 = prm[1];                                                     \
        (void)p0;                                                                                  \
        (void)p1;                                                                                  \
        if (s[0] == (int64_t)sizeof(T) && s[1] == (int64_t)sizeof(T)) {                            \
            T *o = (T *)p[0];                                                                      \
            const T *in = (const T *)p[1];                                                         \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                  \
                T x = in[i];                                                                       \
                o[i] = (T)(EXPR);                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = *(const T *)(p[1] + i * s[1]);                                               \
                *(T *)(p[0] + i * s[0]) = (T)(EXPR);                                               \
            }                                                                                      \
        }                                                                                          \
    }

#define SQRT1_2 0.70710678118654752440        /* 1/sqrt(2) */
#define SQRT_2_OVER_PI 0.79788456080286535588 /* sqrt(2/pi) */

/* Integer negation and abs go through uint64_t so INT64_MIN wraps instead
 * of overflowing (undefined behaviour in C). */
static inline int64_t wrap_neg(int64_t x) {
    return (int64_t)(0 - (uint64_t)x);
}

/* Two steps so that hi wins when lo > hi, and NaN fails both tests and
 * stays NaN. */
static inline float clamp_float(float x, float lo, float hi) {
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}
static inline double clamp_double(double x, double lo, double hi) {
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}

DEFINE_UNARY(neg, f32, float, -x)
DEFINE_UNARY(neg, f64, double, -x)
DEFINE_UNARY(neg, i64, int64_t, wrap_neg(x))
DEFINE_UNARY(neg, u8, uint8_t, -x)
DEFINE_UNARY(abs, f32, float, fabsf(x))
DEFINE_UNARY(abs, f64, double, fabs(x))
DEFINE_UNARY(abs, i64, int64_t, x < 0 ? wrap_neg(x) : x)
DEFINE_UNARY(sign, f32, float, x > 0 ? 1.0f : x < 0 ? -1.0f : x)
DEFINE_UNARY(sign, f64, double, x > 0 ? 1.0 : x < 0 ? -1.0 : x)
DEFINE_UNARY(sign, i64, int64_t, (x > 0) - (x < 0))
DEFINE_UNARY(sign, u8, uint8_t, x > 0)
DEFINE_UNARY(exp, f32, float, expf(x))
DEFINE_UNARY(exp, f64, double, exp(x))
DEFINE_UNARY(log, f32, float, logf(x))
DEFINE_UNARY(log, f64, double, log(x))
DEFINE_UNARY(log1p, f32, float, log1pf(x))
DEFINE_UNARY(log1p, f64, double, log1p(x))
DEFINE_UNARY(expm1, f32, float, expm1f(x))
DEFINE_UNARY(expm1, f64, double, expm1(x))
DEFINE_UNARY(sqrt, f32, float, sqrtf(x))
DEFINE_UNARY(sqrt, f64, double, sqrt(x))
DEFINE_UNARY(rsqrt, f32, float, 1.0f / sqrtf(x))
DEFINE_UNARY(rsqrt, f64, double, 1.0 / sqrt(x))
DEFINE_UNARY(sin, f32, float, sinf(x))
DEFINE_UNARY(sin, f64, double, sin(x))
DEFINE_UNARY(cos, f32, float, cosf(x))
DEFINE_UNARY(cos, f64, double, cos(x))
DEFINE_UNARY(tanh, f32, float, tanhf(x))
DEFINE_UNARY(tanh, f64, double, tanh(x))
/* exp of a non-positive number only, so it never overflows: 1/(1+e^-x) for
 * x >= 0 and e^x/(1+e^x) below (NaN takes the second branch and stays). */
DEFINE_UNARY(sigmoid, f32, float, x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x)))
DEFINE_UNARY(sigmoid, f64, double, x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)))
DEFINE_UNARY(relu, f32, float, x > 0 || x != x ? x : 0.0f)
DEFINE_UNARY(relu, f64, double, x > 0 || x != x ? x : 0.0)
DEFINE_UNARY(relu, i64, int64_t, x > 0 ? x : 0)
DEFINE_UNARY(gelu, f32, float, 0.5f * x * (1.0f + erff(x * (float)SQRT1_2)))
DEFINE_UNARY(gelu, f64, double, 0.5 * x * (1.0 + erf(x * SQRT1_2)))
DEFINE_UNARY(gelu_tanh, f32, float,
             0.5f * x * (1.0f + tanhf((float)SQRT_2_OVER_PI * (x + 0.044715f * x * x * x))))
DEFINE_UNARY(gelu_tanh, f64, double,
             0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))))
/* x / (1 + e^-x): for very negative x the denominator is inf and the result
 * a signed zero, never NaN. */
DEFINE_UNARY(silu, f32, float, x / (1.0f + expf(-x)))
DEFINE_UNARY(silu, f64, double, x / (1.0 + exp(-x)))
DEFINE_UNARY(softplus, f32, float,
             x *(float)p0 > (float)p1 ? x : log1pf(expf(x * (float)p0)) / (float)p0)
DEFINE_UNARY(softplus, f64, double, x *p0 > p1 ? x : log1p(exp(x * p0)) / p0)
DEFINE_UNARY(clamp, f32, float, clamp_float(x, (float)p0, (float)p1))
DEFINE_UNARY(clamp, f64, double, clamp_double(x, p0, p1))
DEFINE_UNARY(floor, f32, float, floorf(x))
DEFINE_UNARY(floor, f64, double, floor(x))
DEFINE_UNARY(ceil, f32, float, ceilf(x))
DEFINE_UNARY(ceil, f64, double, ceil(x))
/* nearbyint rounds in the default mode, to nearest with ties to even. */
DEFINE_UNARY(round, f32, float, nearbyintf(x))
DEFINE_UNARY(round, f64, double, nearbyint(x))
DEFINE_UNARY(reciprocal, f32, float, 1.0f / x)
DEFINE_UNARY(reciprocal, f64, double, 1.0 / x)
DEFINE_UNARY(axpb, f32, float, x *(float)p0 + (float)p1)
DEFINE_UNARY(axpb, f64, double, x *p0 + p1)
/* Integer ops that leave every value as it is (floor of an integer, abs of
 * an unsigned byte); bool uses the u8 one. */
DEFINE_UNARY(ident, i64, int64_t, x)
DEFINE_UNARY(ident, u8, uint8_t, x)

/* Integer clamps convert the double bounds once, saturating (an absent
 * bound is +-inf), so no value is compared through a lossy double. */
static int64_t bound_i64(double v, int64_t lo, int64_t hi) {
    if (v != v) return lo;
    if (v <= (double)lo) return lo;
    if (v >= (double)hi) return hi;
    return (int64_t)v;
}

static void clamp_i64(char **p, const int64_t *s, int64_t n, void *ctx) {
    const double *prm = ctx;
    int64_t lo = bound_i64(prm[0], INT64_MIN, INT64_MAX);
    int64_t hi = bound_i64(prm[1], INT64_MIN, INT64_MAX);
    for (int64_t i = 0; i < n; i++) {
        int64_t x = *(const int64_t *)(p[1] + i * s[1]);
        x = x < lo ? lo : x;
        *(int64_t *)(p[0] + i * s[0]) = x > hi ? hi : x;
    }
}

static void clamp_u8(char **p, const int64_t *s, int64_t n, void *ctx) {
    const double *prm = ctx;
    uint8_t lo = (uint8_t)bound_i64(prm[0], 0, 255), hi = (uint8_t)bound_i64(prm[1], 0, 255);
    for (int64_t i = 0; i < n; i++) {
        uint8_t x = *(const uint8_t *)(p[1] + i * s[1]);
        x = x < lo ? lo : x;
        *(uint8_t *)(p[0] + i * s[0]) = x > hi ? hi : x;
    }
}

/* ---- the table ---- */

typedef struct {
    const char *name;
    ty_iter_kernel f32, f64;
    /* Kernels for integer inputs. All NULL: a float-only op (integers and
     * bool are computed in f32). Some NULL: that dtype is an error. */
    ty_iter_kernel i64, u8, b;
    int cost;           /* per element, relative to an add */
    double defaults[2]; /* parameters p0, p1 */
    void *backward;     /* the autograd issue fills this in */
} unary_op;

static const unary_op unary_ops[TY_UNARY_NUM] = {
    [TY_UNARY_NEG] = {"neg", neg_f32, neg_f64, neg_i64, neg_u8, NULL, 1, {0, 0}, NULL},
    [TY_UNARY_ABS] = {"abs", abs_f32, abs_f64, abs_i64, ident_u8, ident_u8, 1, {0, 0}, NULL},
    [TY_UNARY_SIGN] = {"sign", sign_f32, sign_f64, sign_i64, sign_u8, ident_u8, 1, {0, 0}, NULL},
    [TY_UNARY_EXP] = {"exp", exp_f32, exp_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_LOG] = {"log", log_f32, log_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_LOG1P] = {"log1p", log1p_f32, log1p_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_EXPM1] = {"expm1", expm1_f32, expm1_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_SQRT] = {"sqrt", sqrt_f32, sqrt_f64, NULL, NULL, NULL, 2, {0, 0}, NULL},
    [TY_UNARY_RSQRT] = {"rsqrt", rsqrt_f32, rsqrt_f64, NULL, NULL, NULL, 2, {0, 0}, NULL},
    [TY_UNARY_SIN] = {"sin", sin_f32, sin_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_COS] = {"cos", cos_f32, cos_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_TANH] = {"tanh", tanh_f32, tanh_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_SIGMOID] = {"sigmoid", sigmoid_f32, sigmoid_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_RELU] = {"relu", relu_f32, relu_f64, relu_i64, ident_u8, ident_u8, 1, {0, 0}, NULL},
    [TY_UNARY_GELU] = {"gelu", gelu_f32, gelu_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_GELU_TANH] =
        {"gelu_tanh", gelu_tanh_f32, gelu_tanh_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_SILU] = {"silu", silu_f32, silu_f64, NULL, NULL, NULL, 8, {0, 0}, NULL},
    [TY_UNARY_SOFTPLUS] =
        {"softplus", softplus_f32, softplus_f64, NULL, NULL, NULL, 8, {1, 20}, NULL},
    [TY_UNARY_CLAMP] =
        {"clamp", clamp_f32, clamp_f64, clamp_i64, clamp_u8, NULL, 1, {-INFINITY, INFINITY}, NULL},
    [TY_UNARY_FLOOR] =
        {"floor", floor_f32, floor_f64, ident_i64, ident_u8, ident_u8, 1, {0, 0}, NULL},
    [TY_UNARY_CEIL] = {"ceil", ceil_f32, ceil_f64, ident_i64, ident_u8, ident_u8, 1, {0, 0}, NULL},
    [TY_UNARY_ROUND] =
        {"round", round_f32, round_f64, ident_i64, ident_u8, ident_u8, 1, {0, 0}, NULL},
    [TY_UNARY_RECIPROCAL] =
        {"reciprocal", reciprocal_f32, reciprocal_f64, NULL, NULL, NULL, 1, {0, 0}, NULL},
    [TY_UNARY_AXPB] = {"axpb", axpb_f32, axpb_f64, NULL, NULL, NULL, 1, {1, 0}, NULL},
};

const char *ty_unary_name(ty_unary_op op) {
    return (unsigned)op < TY_UNARY_NUM ? unary_ops[op].name : NULL;
}

/* op(x) with parameters prm, into a fresh tensor *out, or into x itself
 * when out is NULL. fn is the public name for errors ("exp" or "exp_"). */
static int unary_run(const char *fn, ty_unary_op op, ty_tensor *x, const double *prm,
                     ty_tensor **out) {
    if ((unsigned)op >= TY_UNARY_NUM) return ty_error("%s: unknown op %d", fn, (int)op);
    const unary_op *u = &unary_ops[op];
    if (ty_check_cpu(fn, x) < 0) return -1;
    ty_dtype cdt; /* compute dtype */
    ty_iter_kernel k;
    if (ty_dtype_is_float(x->dtype) || (!u->i64 && !u->u8 && !u->b)) {
        cdt = x->dtype == TY_F64 ? TY_F64 : TY_F32;
        k = cdt == TY_F64 ? u->f64 : u->f32;
    } else {
        cdt = x->dtype;
        k = cdt == TY_I64 ? u->i64 : cdt == TY_U8 ? u->u8 : u->b;
        if (!k) return ty_error("%s: not supported for %s tensors", fn, ty_dtype_name(cdt));
    }
    /* Half types come back as themselves; integers fed to a float op stay f32. */
    ty_dtype rdt = ty_dtype_is_half(x->dtype) ? x->dtype : cdt;
    if (!out && ty_check_inplace_target(fn, x, rdt) < 0) return -1;

    if (!out && cdt == x->dtype) {
        ty_tensor *ops[2] = {x, x};
        if (ty_elementwise_run(fn, k, 2, ops, u->cost, (void *)prm) < 0) return -1;
        ty_bump_version(x);
        return 0;
    }
    /* A converted copy is ours to overwrite, which saves an allocation. */
    ty_tensor *src = ty_cast(x, cdt);
    if (!src) return -1;
    ty_tensor *r = src != x ? ty_tensor_retain(src) : ty_empty(x->ndim, x->shape, cdt, x->device);
    ty_tensor *ops[2] = {r, src};
    int rc = r ? ty_elementwise_run(fn, k, 2, ops, u->cost, (void *)prm) : -1;
    ty_tensor_release(src);
    if (rc == 0 && !out) rc = ty_copy_(x, r); /* converts back into a half x */
    if (rc == 0 && out && rdt != cdt) {
        ty_tensor *conv = ty_cast(r, rdt);
        ty_tensor_release(r);
        r = conv;
        rc = r ? 0 : -1;
    }
    if (rc == 0 && out)
        *out = r;
    else
        ty_tensor_release(r);
    return rc;
}

static ty_tensor *unary_out(const char *fn, ty_unary_op op, ty_tensor *x, const double *prm) {
    ty_tensor *r = NULL;
    return unary_run(fn, op, x, prm, &r) == 0 ? r : NULL;
}

ty_tensor *ty_unary(ty_unary_op op, ty_tensor *x) {
    if ((unsigned)op >= TY_UNARY_NUM) {
        ty_error("unary: unknown op %d", (int)op);
        return NULL;
    }
    return unary_out(unary_ops[op].name, op, x, unary_ops[op].defaults);
}

int ty_unary_(ty_unary_op op, ty_tensor *x) {
    if ((unsigned)op >= TY_UNARY_NUM) return ty_error("unary_: unknown op %d", (int)op);
    char fn[32];
    snprintf(fn, sizeof fn, "%s_", unary_ops[op].name);
    return unary_run(fn, op, x, unary_ops[op].defaults, NULL);
}

/* ---- named ops ---- */

ty_tensor *ty_neg(ty_tensor *x) {
    return ty_unary(TY_UNARY_NEG, x);
}
ty_tensor *ty_abs(ty_tensor *x) {
    return ty_unary(TY_UNARY_ABS, x);
}
ty_tensor *ty_sign(ty_tensor *x) {
    return ty_unary(TY_UNARY_SIGN, x);
}
ty_tensor *ty_exp(ty_tensor *x) {
    return ty_unary(TY_UNARY_EXP, x);
}
ty_tensor *ty_log(ty_tensor *x) {
    return ty_unary(TY_UNARY_LOG, x);
}
ty_tensor *ty_log1p(ty_tensor *x) {
    return ty_unary(TY_UNARY_LOG1P, x);
}
ty_tensor *ty_expm1(ty_tensor *x) {
    return ty_unary(TY_UNARY_EXPM1, x);
}
ty_tensor *ty_sqrt(ty_tensor *x) {
    return ty_unary(TY_UNARY_SQRT, x);
}
ty_tensor *ty_rsqrt(ty_tensor *x) {
    return ty_unary(TY_UNARY_RSQRT, x);
}
ty_tensor *ty_sin(ty_tensor *x) {
    return ty_unary(TY_UNARY_SIN, x);
}
ty_tensor *ty_cos(ty_tensor *x) {
    return ty_unary(TY_UNARY_COS, x);
}
ty_tensor *ty_tanh(ty_tensor *x) {
    return ty_unary(TY_UNARY_TANH, x);
}
ty_tensor *ty_sigmoid(ty_tensor *x) {
    return ty_unary(TY_UNARY_SIGMOID, x);
}
ty_tensor *ty_relu(ty_tensor *x) {
    return ty_unary(TY_UNARY_RELU, x);
}
ty_tensor *ty_gelu(ty_tensor *x) {
    return ty_unary(TY_UNARY_GELU, x);
}
ty_tensor *ty_gelu_tanh(ty_tensor *x) {
    return ty_unary(TY_UNARY_GELU_TANH, x);
}
ty_tensor *ty_silu(ty_tensor *x) {
    return ty_unary(TY_UNARY_SILU, x);
}
ty_tensor *ty_floor(ty_tensor *x) {
    return ty_unary(TY_UNARY_FLOOR, x);
}
ty_tensor *ty_ceil(ty_tensor *x) {
    return ty_unary(TY_UNARY_CEIL, x);
}
ty_tensor *ty_round(ty_tensor *x) {
    return ty_unary(TY_UNARY_ROUND, x);
}
ty_tensor *ty_reciprocal(ty_tensor *x) {
    return ty_unary(TY_UNARY_RECIPROCAL, x);
}

int ty_neg_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_NEG, x);
}
int ty_abs_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_ABS, x);
}
int ty_sign_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_SIGN, x);
}
int ty_exp_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_EXP, x);
}
int ty_log_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_LOG, x);
}
int ty_log1p_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_LOG1P, x);
}
int ty_expm1_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_EXPM1, x);
}
int ty_sqrt_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_SQRT, x);
}
int ty_rsqrt_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_RSQRT, x);
}
int ty_sin_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_SIN, x);
}
int ty_cos_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_COS, x);
}
int ty_tanh_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_TANH, x);
}
int ty_sigmoid_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_SIGMOID, x);
}
int ty_relu_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_RELU, x);
}
int ty_gelu_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_GELU, x);
}
int ty_gelu_tanh_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_GELU_TANH, x);
}
int ty_silu_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_SILU, x);
}
int ty_floor_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_FLOOR, x);
}
int ty_ceil_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_CEIL, x);
}
int ty_round_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_ROUND, x);
}
int ty_reciprocal_(ty_tensor *x) {
    return ty_unary_(TY_UNARY_RECIPROCAL, x);
}

ty_tensor *ty_softplus(ty_tensor *x, double beta, double threshold) {
    double prm[2] = {beta, threshold};
    return unary_out("softplus", TY_UNARY_SOFTPLUS, x, prm);
}

int ty_softplus_(ty_tensor *x, double beta, double threshold) {
    double prm[2] = {beta, threshold};
    return unary_run("softplus_", TY_UNARY_SOFTPLUS, x, prm, NULL);
}

ty_tensor *ty_axpb(ty_tensor *x, double a, double b) {
    double prm[2] = {a, b};
    return unary_out("axpb", TY_UNARY_AXPB, x, prm);
}

int ty_axpb_(ty_tensor *x, double a, double b) {
    double prm[2] = {a, b};
    return unary_run("axpb_", TY_UNARY_AXPB, x, prm, NULL);
}

/* ---- clamp ---- */

static bool is_integral(double v) {
    return isfinite(v) && v == floor(v);
}

/* Shared by the six clamp functions: into *out, or into x when out is
 * NULL. An absent bound is +-inf. */
static int clamp_run(const char *fn, ty_tensor *x, double lo, double hi, ty_tensor **out) {
    if (ty_check_cpu(fn, x) < 0) return -1;
    double prm[2] = {lo, hi};
    bool lo_given = lo != -INFINITY, hi_given = hi != INFINITY;
    /* The scalar rule: an integer tensor with a non-integral bound is
     * clamped in f32. */
    bool to_float = !ty_dtype_is_float(x->dtype) &&
                    ((lo_given && !is_integral(lo)) || (hi_given && !is_integral(hi)));
    bool nan_bound = isnan(lo) || isnan(hi);
    if (!to_float && !nan_bound) return unary_run(fn, TY_UNARY_CLAMP, x, prm, out);
    ty_dtype rdt = to_float ? TY_F32 : x->dtype;
    if (!out && ty_check_inplace_target(fn, x, rdt) < 0) return -1;
    ty_tensor *r = NULL;
    int rc = -1;
    if (nan_bound) {
        /* PyTorch propagates a NaN bound to every element. */
        r = ty_empty(x->ndim, x->shape, rdt, x->device);
        rc = r ? ty_fill_(r, NAN) : -1;
    } else {
        ty_tensor *xf = ty_cast(x, TY_F32);
        rc = xf ? unary_run(fn, TY_UNARY_CLAMP, xf, prm, &r) : -1;
        ty_tensor_release(xf);
    }
    if (rc == 0 && !out) rc = ty_copy_(x, r);
    if (rc == 0 && out)
        *out = r;
    else
        ty_tensor_release(r);
    return rc;
}

ty_tensor *ty_clamp(ty_tensor *x, double lo, double hi) {
    ty_tensor *r = NULL;
    return clamp_run("clamp", x, lo, hi, &r) == 0 ? r : NULL;
}

ty_tensor *ty_clamp_min(ty_tensor *x, double lo) {
    ty_tensor *r = NULL;
    return clamp_run("clamp_min", x, lo, INFINITY, &r) == 0 ? r : NULL;
}

ty_tensor *ty_clamp_max(ty_tensor *x, double hi) {
    ty_tensor *r = NULL;
    return clamp_run("clamp_max", x, -INFINITY, hi, &r) == 0 ? r : NULL;
}

int ty_clamp_(ty_tensor *x, double lo, double hi) {
    return clamp_run("clamp_", x, lo, hi, NULL);
}

int ty_clamp_min_(ty_tensor *x, double lo) {
    return clamp_run("clamp_min_", x, lo, INFINITY, NULL);
}

int ty_clamp_max_(ty_tensor *x, double hi) {
    return clamp_run("clamp_max_", x, -INFINITY, hi, NULL);
}

/* ---- logical not ---- */

ty_tensor *ty_logical_not(ty_tensor *x) {
    if (ty_check_cpu("logical_not", x) < 0) return NULL;
    ty_tensor *r = ty_eq_scalar(x, 0);
    if (!r) ty_error_prefix("logical_not: ");
    return r;
}

int ty_logical_not_(ty_tensor *x) {
    if (ty_check_cpu("logical_not_", x) < 0) return -1;
    if (ty_check_inplace_target("logical_not_", x, TY_BOOL) < 0) return -1;
    ty_tensor *r = ty_logical_not(x);
    if (!r) return -1;
    int rc = ty_copy_(x, r);
    ty_tensor_release(r);
    return rc;
}
