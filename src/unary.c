/* Unary elementwise ops, the fused a*x + b, and the plumbing every
 * elementwise kernel shares (ty_elementwise_run, ty_check_inplace_target).
 *
 * Each op is one row of `unary_ops`: its name, a row kernel (see iter.h) per
 * dtype, its parameters' defaults, a relative cost for the parallel
 * threshold, and what its backward saves. A kernel handles one strided
 * line: a contiguous branch that the compiler vectorises and a general
 * branch. Ops whose integer slots are all NULL are float-only: integer and
 * bool inputs are converted to f32 first. Every float op is recorded for
 * autograd (see the autograd section). */
#include <math.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdio.h>

#include "vecmath.h"
#include "autograd.h"
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
#define DEFINE_UNARY(NAME, SUF, T, EXPR) DEFINE_UNARY_ATTR(, NAME, SUF, T, EXPR)
#define DEFINE_UNARY_ATTR(ATTR, NAME, SUF, T, EXPR)                                                \
    ATTR static void NAME##_##SUF(char **p, const int64_t *s, int64_t n, void *ctx) {              \
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
/* GELU in f32 uses the vectorisable erf of vecmath.h (error below 3e-7
 * relative to 1 + erf), as PyTorch's vectorised CPU kernel does. */
DEFINE_UNARY_ATTR(TY_VECTOR_CLONES, gelu, f32, float,
                  0.5f * x * (1.0f + ty_erff(x * (float)SQRT1_2)))
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
/* axpb f32 by hand: for a large fresh output, non-temporal stores skip
 * reading the destination into cache before overwriting it (a third of the
 * memory traffic), which is what lets memcpy reach full bandwidth too. */
#define STREAM_MIN_ELEMENTS (1 << 16)
static void axpb_f32(char **p, const int64_t *s, int64_t n, void *ctx) {
    const double *prm = ctx;
    const float a = (float)prm[0], b = (float)prm[1];
    if (s[0] != (int64_t)sizeof(float) || s[1] != (int64_t)sizeof(float)) {
        for (int64_t i = 0; i < n; i++) {
            float x = *(const float *)(p[1] + i * s[1]);
            *(float *)(p[0] + i * s[0]) = x * a + b;
        }
        return;
    }
    float *o = (float *)p[0];
    const float *in = (const float *)p[1];
    int64_t i = 0;
#ifdef __SSE2__
    if (n >= STREAM_MIN_ELEMENTS && o != in) {
        /* scalar head up to a 16-byte boundary, then 4 floats a store */
        for (; i < n && ((uintptr_t)(o + i) & 15) != 0; i++) o[i] = in[i] * a + b;
        const __m128 va = _mm_set1_ps(a), vb = _mm_set1_ps(b);
        for (; i + 16 <= n; i += 16) {
            __m128 x0 = _mm_loadu_ps(in + i), x1 = _mm_loadu_ps(in + i + 4);
            __m128 x2 = _mm_loadu_ps(in + i + 8), x3 = _mm_loadu_ps(in + i + 12);
            _mm_stream_ps(o + i, _mm_add_ps(_mm_mul_ps(x0, va), vb));
            _mm_stream_ps(o + i + 4, _mm_add_ps(_mm_mul_ps(x1, va), vb));
            _mm_stream_ps(o + i + 8, _mm_add_ps(_mm_mul_ps(x2, va), vb));
            _mm_stream_ps(o + i + 12, _mm_add_ps(_mm_mul_ps(x3, va), vb));
        }
        _mm_sfence(); /* streamed stores are visible before the op returns */
    }
#endif
    _Pragma("omp simd") for (int64_t j = i; j < n; j++) o[j] = in[j] * a + b;
}
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

/* ---- gradient kernels ----
 *
 * The first-order backward of the activations in one pass: gx = g * f'(v),
 * v being the saved input or output. They run only when the backward is
 * not itself recorded (no create_graph); otherwise the same formulas are
 * built from differentiable ops (unary_grad_composed below), and the tests
 * check that both agree. Operands are (gx, g, v), all of one type T. */
#define DEFINE_GRAD(NAME, SUF, T, EXPR) DEFINE_GRAD_ATTR(, NAME, SUF, T, EXPR)
#define DEFINE_GRAD_ATTR(ATTR, NAME, SUF, T, EXPR)                                                 \
    ATTR static void NAME##_##SUF(char **p, const int64_t *s, int64_t n, void *ctx) {              \
        const double *prm = ctx;                                                                   \
        const double p0 = prm[0], p1 = prm[1];                                                     \
        (void)p0;                                                                                  \
        (void)p1;                                                                                  \
        const int64_t sz = (int64_t)sizeof(T);                                                     \
        if (s[0] == sz && s[1] == sz && s[2] == sz) {                                              \
            T *o = (T *)p[0];                                                                      \
            const T *gs = (const T *)p[1], *vs = (const T *)p[2];                                  \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                  \
                T g = gs[i], v = vs[i];                                                            \
                o[i] = (T)(EXPR);                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T g = *(const T *)(p[1] + i * s[1]), v = *(const T *)(p[2] + i * s[2]);            \
                *(T *)(p[0] + i * s[0]) = (T)(EXPR);                                               \
            }                                                                                      \
        }                                                                                          \
    }

#define INV_SQRT_2PI 0.39894228040143267794 /* 1/sqrt(2 pi) */
#define GELU_KAPPA 0.044715

/* d/dx of x Phi(x) = Phi(x) + x phi(x) (Phi, phi: the normal cdf and pdf). */
__attribute__((always_inline)) static inline float gelu_deriv_f(float x) {
    float cdf = 0.5f * (1.0f + ty_erff(x * (float)SQRT1_2));
    return cdf + x * ty_expf(-0.5f * x * x) * (float)INV_SQRT_2PI;
}
static inline double gelu_deriv_d(double x) {
    double cdf = 0.5 * (1.0 + erf(x * SQRT1_2));
    return cdf + x * exp(-0.5 * x * x) * INV_SQRT_2PI;
}

/* d/dx of x/2 (1 + tanh(u)), u = k (x + kappa x^3), as PyTorch writes it. */
static inline float gelu_tanh_deriv_f(float x) {
    const float k = (float)SQRT_2_OVER_PI, kappa = (float)GELU_KAPPA;
    float x2 = x * x, t = tanhf(k * (x + kappa * x2 * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * kappa * x2);
}
static inline double gelu_tanh_deriv_d(double x) {
    const double k = SQRT_2_OVER_PI, kappa = GELU_KAPPA;
    double x2 = x * x, t = tanh(k * (x + kappa * x2 * x));
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * kappa * x2);
}

/* silu'(x) = s (1 + x (1 - s)) with s = sigmoid(x). */
static inline float silu_deriv_f(float x) {
    float s = 1.0f / (1.0f + expf(-x));
    return s * (1.0f + x * (1.0f - s));
}
static inline double silu_deriv_d(double x) {
    double s = 1.0 / (1.0 + exp(-x));
    return s * (1.0 + x * (1.0 - s));
}

/* relu passes g where y > 0, also for NaN y (as PyTorch's threshold_backward). */
DEFINE_GRAD(relu_grad, f32, float, v <= 0 ? 0.0f : g)
DEFINE_GRAD(relu_grad, f64, double, v <= 0 ? 0.0 : g)
DEFINE_GRAD(tanh_grad, f32, float, g *(1.0f - v * v))
DEFINE_GRAD(tanh_grad, f64, double, g *(1.0 - v * v))
DEFINE_GRAD(sigmoid_grad, f32, float, g *v *(1.0f - v))
DEFINE_GRAD(sigmoid_grad, f64, double, g *v *(1.0 - v))
DEFINE_GRAD_ATTR(TY_VECTOR_CLONES, gelu_grad, f32, float, g *gelu_deriv_f(v))
DEFINE_GRAD(gelu_grad, f64, double, g *gelu_deriv_d(v))
DEFINE_GRAD(gelu_tanh_grad, f32, float, g *gelu_tanh_deriv_f(v))
DEFINE_GRAD(gelu_tanh_grad, f64, double, g *gelu_tanh_deriv_d(v))
DEFINE_GRAD(silu_grad, f32, float, g *silu_deriv_f(v))
DEFINE_GRAD(silu_grad, f64, double, g *silu_deriv_d(v))
/* softplus: g where beta x > threshold (the forward is x there), else
 * g sigmoid(beta x). */
DEFINE_GRAD(softplus_grad, f32, float,
            v *(float)p0 > (float)p1 ? g : g / (1.0f + expf(-v * (float)p0)))
DEFINE_GRAD(softplus_grad, f64, double, v *p0 > p1 ? g : g / (1.0 + exp(-v * p0)))

/* The normal cdf Phi(x) = erfc(-x/sqrt 2)/2, a building block of gelu's
 * differentiable backward (erfc stays accurate in the far left tail). */
DEFINE_UNARY(normal_cdf, f32, float, 0.5f * erfcf(-x * (float)SQRT1_2))
DEFINE_UNARY(normal_cdf, f64, double, 0.5 * erfc(-x * SQRT1_2))

/* ---- the table ---- */

/* What an op's backward reads: nothing (its gradient does not depend on
 * the values), its input x, or its output y (where the formula is simplest
 * in y, as for exp, tanh and sigmoid). */
typedef enum { SAVE_NOTHING, SAVE_INPUT, SAVE_OUTPUT } saved_kind;

typedef struct {
    const char *name;
    ty_iter_kernel f32, f64;
    /* Kernels for integer inputs. All NULL: a float-only op (integers and
     * bool are computed in f32). Some NULL: that dtype is an error. */
    ty_iter_kernel i64, u8, b;
    int cost;           /* per element, relative to an add */
    double defaults[2]; /* parameters p0, p1 */
    saved_kind save;    /* what its backward reads (see the autograd section) */
} unary_op;

static const unary_op unary_ops[TY_UNARY_NUM] = {
    [TY_UNARY_NEG] = {"neg", neg_f32, neg_f64, neg_i64, neg_u8, NULL, 1, {0, 0}, SAVE_NOTHING},
    [TY_UNARY_ABS] = {"abs", abs_f32, abs_f64, abs_i64, ident_u8, ident_u8, 1, {0, 0}, SAVE_INPUT},
    [TY_UNARY_SIGN] =
        {"sign", sign_f32, sign_f64, sign_i64, sign_u8, ident_u8, 1, {0, 0}, SAVE_NOTHING},
    [TY_UNARY_EXP] = {"exp", exp_f32, exp_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_OUTPUT},
    [TY_UNARY_LOG] = {"log", log_f32, log_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_INPUT},
    [TY_UNARY_LOG1P] = {"log1p", log1p_f32, log1p_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_INPUT},
    [TY_UNARY_EXPM1] = {"expm1", expm1_f32, expm1_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_OUTPUT},
    [TY_UNARY_SQRT] = {"sqrt", sqrt_f32, sqrt_f64, NULL, NULL, NULL, 2, {0, 0}, SAVE_OUTPUT},
    [TY_UNARY_RSQRT] = {"rsqrt", rsqrt_f32, rsqrt_f64, NULL, NULL, NULL, 2, {0, 0}, SAVE_OUTPUT},
    [TY_UNARY_SIN] = {"sin", sin_f32, sin_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_INPUT},
    [TY_UNARY_COS] = {"cos", cos_f32, cos_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_INPUT},
    [TY_UNARY_TANH] = {"tanh", tanh_f32, tanh_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_OUTPUT},
    [TY_UNARY_SIGMOID] =
        {"sigmoid", sigmoid_f32, sigmoid_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_OUTPUT},
    [TY_UNARY_RELU] =
        {"relu", relu_f32, relu_f64, relu_i64, ident_u8, ident_u8, 1, {0, 0}, SAVE_OUTPUT},
    [TY_UNARY_GELU] = {"gelu", gelu_f32, gelu_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_INPUT},
    [TY_UNARY_GELU_TANH] =
        {"gelu_tanh", gelu_tanh_f32, gelu_tanh_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_INPUT},
    [TY_UNARY_SILU] = {"silu", silu_f32, silu_f64, NULL, NULL, NULL, 8, {0, 0}, SAVE_INPUT},
    [TY_UNARY_SOFTPLUS] =
        {"softplus", softplus_f32, softplus_f64, NULL, NULL, NULL, 8, {1, 20}, SAVE_INPUT},
    [TY_UNARY_CLAMP] = {"clamp",
                        clamp_f32,
                        clamp_f64,
                        clamp_i64,
                        clamp_u8,
                        NULL,
                        1,
                        {-INFINITY, INFINITY},
                        SAVE_INPUT},
    [TY_UNARY_FLOOR] =
        {"floor", floor_f32, floor_f64, ident_i64, ident_u8, ident_u8, 1, {0, 0}, SAVE_NOTHING},
    [TY_UNARY_CEIL] =
        {"ceil", ceil_f32, ceil_f64, ident_i64, ident_u8, ident_u8, 1, {0, 0}, SAVE_NOTHING},
    [TY_UNARY_ROUND] =
        {"round", round_f32, round_f64, ident_i64, ident_u8, ident_u8, 1, {0, 0}, SAVE_NOTHING},
    [TY_UNARY_RECIPROCAL] =
        {"reciprocal", reciprocal_f32, reciprocal_f64, NULL, NULL, NULL, 1, {0, 0}, SAVE_OUTPUT},
    [TY_UNARY_AXPB] = {"axpb", axpb_f32, axpb_f64, NULL, NULL, NULL, 1, {1, 0}, SAVE_NOTHING},
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

/* ---- autograd ----
 *
 * Every unary op records one node with unary_backward, laid out as:
 *   n->i[0]     the op (a ty_unary_op)
 *   n->d[0..1]  its parameters p0, p1 (softplus: beta, threshold; clamp:
 *               lo, hi; axpb: a, b)
 *   saved 0     x or y, as the table's `save` says (empty for SAVE_NOTHING)
 * The formulas are PyTorch's (tools/autograd/derivatives.yaml): relu'(0) =
 * abs'(0) = 0, clamp passes the gradient where lo <= x <= hi, sqrt'(0) is
 * inf, sign/floor/ceil/round give zeros. They are built from the public
 * differentiable ops, so a backward run with create_graph records itself
 * and gives second derivatives; the activations also have a one-pass
 * kernel (above) for the usual first-order case. */

/* A formula's temporaries live in a ty_temps (autograd.h); these short
 * names keep the formulas below readable. */
typedef ty_temps temps;
static ty_tensor *keep(temps *s, ty_tensor *t) {
    return ty_temps_keep(s, t);
}
static void temps_release(temps *s) {
    ty_temps_release(s);
}

static ty_tensor *t_mul(temps *s, ty_tensor *a, ty_tensor *b) {
    return a && b ? keep(s, ty_mul(a, b)) : NULL;
}
static ty_tensor *t_div(temps *s, ty_tensor *a, ty_tensor *b) {
    return a && b ? keep(s, ty_div(a, b)) : NULL;
}
static ty_tensor *t_add(temps *s, ty_tensor *a, ty_tensor *b) {
    return a && b ? keep(s, ty_add(a, b)) : NULL;
}
/* f(a) for a unary op f (ty_neg, ty_sin, ...) */
static ty_tensor *t_un(temps *s, ty_tensor *(*f)(ty_tensor *), ty_tensor *a) {
    return a ? keep(s, f(a)) : NULL;
}
/* alpha a + beta in one pass (1 - a is t_axpb(s, a, -1, 1)) */
static ty_tensor *t_axpb(temps *s, ty_tensor *a, double alpha, double beta) {
    return a ? keep(s, ty_axpb(a, alpha, beta)) : NULL;
}
static ty_tensor *t_scale(temps *s, ty_tensor *a, double c) {
    return a ? keep(s, ty_mul_scalar(a, c)) : NULL;
}
/* a comparison with a number (ty_le_scalar, ...), giving bool */
static ty_tensor *t_cmp(temps *s, ty_tensor *(*f)(ty_tensor *, double), ty_tensor *a, double v) {
    return a ? keep(s, f(a, v)) : NULL;
}
static ty_tensor *t_where(temps *s, ty_tensor *cond, ty_tensor *a, ty_tensor *b) {
    return cond && a && b ? keep(s, ty_where(cond, a, b)) : NULL;
}
/* 0 as a 0-d tensor of like's dtype, for where(mask, 0, g) */
static ty_tensor *t_zero(temps *s, ty_tensor *like) {
    return like ? keep(s, ty_scalar(0, like->dtype)) : NULL;
}

/* phi(x) = exp(-x^2/2) / sqrt(2 pi), the normal density. */
static ty_tensor *normal_pdf(temps *s, ty_tensor *x) {
    ty_tensor *e = t_un(s, ty_exp, t_axpb(s, t_mul(s, x, x), -0.5, 0));
    return t_scale(s, e, INV_SQRT_2PI);
}

/* The node of normal_cdf: one input x (saved in slot 0); gx = g phi(x). */
static int normal_cdf_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    temps s = {0};
    ty_tensor *x = keep(&s, ty_saved(n, 0));
    ty_tensor *r = t_mul(&s, g[0], normal_pdf(&s, x));
    gi[0] = r ? ty_tensor_retain(r) : NULL;
    temps_release(&s);
    return gi[0] ? 0 : -1;
}

/* Phi(x) for a float x, recorded with its own derivative, so that gelu's
 * backward (which uses it) can be differentiated again. */
static ty_tensor *normal_cdf(ty_tensor *x) {
    bool prev = ty_set_grad_enabled(false);
    ty_dtype cdt = x->dtype == TY_F64 ? TY_F64 : TY_F32;
    ty_tensor *src = ty_cast(x, cdt);
    ty_tensor *r = src ? ty_empty(x->ndim, x->shape, cdt, x->device) : NULL;
    double prm[2] = {0, 0};
    if (r && ty_elementwise_run("normal_cdf", cdt == TY_F64 ? normal_cdf_f64 : normal_cdf_f32, 2,
                                (ty_tensor *[]){r, src}, 8, prm) < 0) {
        ty_tensor_release(r);
        r = NULL;
    }
    ty_tensor_release(src);
    if (r && cdt != x->dtype) {
        ty_tensor *conv = ty_cast(r, x->dtype);
        ty_tensor_release(r);
        r = conv;
    }
    ty_set_grad_enabled(prev);
    if (!r) return NULL;
    ty_node *n = ty_record("normal_cdf", normal_cdf_backward, 1, &x, 1, &r);
    if (n) ty_save(n, 0, x);
    return r;
}

/* clamp's gradient: g where lo <= x <= hi (a bound that is absent, +-inf,
 * is not tested, so clamp_min and clamp_max compare once), else 0. */
static ty_tensor *clamp_grad(temps *s, ty_tensor *g, ty_tensor *x, double lo, double hi) {
    bool has_lo = lo != -INFINITY, has_hi = hi != INFINITY;
    if (!has_lo && !has_hi) return g;
    ty_tensor *mask;
    if (has_lo && has_hi) {
        ty_tensor *a = t_cmp(s, ty_ge_scalar, x, lo), *b = t_cmp(s, ty_le_scalar, x, hi);
        mask = a && b ? keep(s, ty_logical_and(a, b)) : NULL;
    } else if (has_lo) {
        mask = t_cmp(s, ty_ge_scalar, x, lo);
    } else {
        mask = t_cmp(s, ty_le_scalar, x, hi);
    }
    return t_where(s, mask, g, t_zero(s, g));
}

/* gx for op from g and the saved v (x or y; NULL for SAVE_NOTHING), built
 * from differentiable ops; every tensor made is kept in s. m is the input's
 * meta, d the node's parameters. */
static ty_tensor *unary_grad_composed(temps *s, ty_unary_op op, ty_tensor *g, ty_tensor *v,
                                      const ty_meta *m, const double *d) {
    switch (op) {
    case TY_UNARY_NEG:
        return t_un(s, ty_neg, g);
    case TY_UNARY_ABS: /* sign(0) = 0 gives abs'(0) = 0 */
        return t_mul(s, g, t_un(s, ty_sign, v));
    case TY_UNARY_SIGN:
    case TY_UNARY_FLOOR:
    case TY_UNARY_CEIL:
    case TY_UNARY_ROUND:
        return keep(s, ty_zeros_meta(m));
    case TY_UNARY_EXP: /* v = y */
        return t_mul(s, g, v);
    case TY_UNARY_LOG:
        return t_div(s, g, v);
    case TY_UNARY_LOG1P:
        return t_div(s, g, t_axpb(s, v, 1, 1));
    case TY_UNARY_EXPM1: /* y + 1 */
        return t_mul(s, g, t_axpb(s, v, 1, 1));
    case TY_UNARY_SQRT: /* g / (2y): inf at 0 */
        return t_div(s, g, t_scale(s, v, 2));
    case TY_UNARY_RSQRT: /* -g y^3 / 2 */
        return t_mul(s, g, t_scale(s, t_mul(s, v, t_mul(s, v, v)), -0.5));
    case TY_UNARY_SIN:
        return t_mul(s, g, t_un(s, ty_cos, v));
    case TY_UNARY_COS:
        return t_mul(s, g, t_un(s, ty_neg, t_un(s, ty_sin, v)));
    case TY_UNARY_TANH: /* 1 - y^2 */
        return t_mul(s, g, t_axpb(s, t_mul(s, v, v), -1, 1));
    case TY_UNARY_SIGMOID: /* y (1 - y) */
        return t_mul(s, g, t_mul(s, v, t_axpb(s, v, -1, 1)));
    case TY_UNARY_RELU: /* 0 where y <= 0 (so at 0), g elsewhere */
        return t_where(s, t_cmp(s, ty_le_scalar, v, 0), t_zero(s, g), g);
    case TY_UNARY_GELU: { /* Phi(x) + x phi(x) */
        ty_tensor *cdf = v ? keep(s, normal_cdf(v)) : NULL;
        return t_mul(s, g, t_add(s, cdf, t_mul(s, v, normal_pdf(s, v))));
    }
    case TY_UNARY_GELU_TANH: {
        /* t = tanh(k x (1 + kappa x^2)); the derivative is
         * (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 kappa x^2) */
        ty_tensor *x2 = t_mul(s, v, v);
        ty_tensor *u = t_mul(s, v, t_axpb(s, x2, SQRT_2_OVER_PI * GELU_KAPPA, SQRT_2_OVER_PI));
        ty_tensor *t = t_un(s, ty_tanh, u);
        ty_tensor *left = t_axpb(s, t, 0.5, 0.5);
        ty_tensor *sech2 = t_axpb(s, t_mul(s, t, t), -1, 1);
        ty_tensor *right = t_mul(s, t_mul(s, t_scale(s, v, 0.5 * SQRT_2_OVER_PI), sech2),
                                 t_axpb(s, x2, 3 * GELU_KAPPA, 1));
        return t_mul(s, g, t_add(s, left, right));
    }
    case TY_UNARY_SILU: { /* s (1 + x (1 - s)), s = sigmoid(x) */
        ty_tensor *sg = t_un(s, ty_sigmoid, v);
        ty_tensor *inner = t_axpb(s, t_mul(s, v, t_axpb(s, sg, -1, 1)), 1, 1);
        return t_mul(s, g, t_mul(s, sg, inner));
    }
    case TY_UNARY_SOFTPLUS: { /* g where beta x > threshold, else g sigmoid(beta x) */
        ty_tensor *z = t_axpb(s, v, d[0], 0);
        return t_where(s, t_cmp(s, ty_gt_scalar, z, d[1]), g, t_mul(s, g, t_un(s, ty_sigmoid, z)));
    }
    case TY_UNARY_CLAMP:
        return clamp_grad(s, g, v, d[0], d[1]);
    case TY_UNARY_RECIPROCAL: /* -g y^2 */
        return t_mul(s, g, t_un(s, ty_neg, t_mul(s, v, v)));
    case TY_UNARY_AXPB:
        return t_scale(s, g, d[0]);
    default:
        ty_error("unary backward: unknown op %d", (int)op);
        return NULL;
    }
}

/* The one-pass kernel for op's first-order gradient, or NULL if it has
 * none (the composed formula is one or two passes anyway). */
static ty_iter_kernel fused_grad_kernel(ty_unary_op op, bool f64) {
    switch (op) {
    case TY_UNARY_RELU:
        return f64 ? relu_grad_f64 : relu_grad_f32;
    case TY_UNARY_TANH:
        return f64 ? tanh_grad_f64 : tanh_grad_f32;
    case TY_UNARY_SIGMOID:
        return f64 ? sigmoid_grad_f64 : sigmoid_grad_f32;
    case TY_UNARY_GELU:
        return f64 ? gelu_grad_f64 : gelu_grad_f32;
    case TY_UNARY_GELU_TANH:
        return f64 ? gelu_tanh_grad_f64 : gelu_tanh_grad_f32;
    case TY_UNARY_SILU:
        return f64 ? silu_grad_f64 : silu_grad_f32;
    case TY_UNARY_SOFTPLUS:
        return f64 ? softplus_grad_f64 : softplus_grad_f32;
    default:
        return NULL;
    }
}

/* gx = kernel(g, v) in v's compute dtype (half types in f32 and back). */
static ty_tensor *unary_grad_fused(ty_unary_op op, ty_tensor *g, ty_tensor *v, const double *d) {
    ty_dtype cdt = v->dtype == TY_F64 ? TY_F64 : TY_F32;
    ty_tensor *gc = ty_cast(g, cdt);
    ty_tensor *vc = gc ? ty_cast(v, cdt) : NULL;
    ty_tensor *r = vc ? ty_empty(v->ndim, v->shape, cdt, v->device) : NULL;
    if (r && ty_elementwise_run(unary_ops[op].name, fused_grad_kernel(op, cdt == TY_F64), 3,
                                (ty_tensor *[]){r, gc, vc}, unary_ops[op].cost, (void *)d) < 0) {
        ty_tensor_release(r);
        r = NULL;
    }
    ty_tensor_release(gc);
    ty_tensor_release(vc);
    if (r && cdt != v->dtype) {
        ty_tensor *conv = ty_cast(r, v->dtype);
        ty_tensor_release(r);
        r = conv;
    }
    return r;
}

static int unary_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_unary_op op = (ty_unary_op)n->i[0];
    ty_tensor *v = NULL;
    if (unary_ops[op].save != SAVE_NOTHING && !(v = ty_saved(n, 0))) return -1;
    if (!ty_grad_enabled() && fused_grad_kernel(op, false)) {
        gi[0] = unary_grad_fused(op, g[0], v, n->d);
    } else {
        temps s = {0};
        ty_tensor *r = unary_grad_composed(&s, op, g[0], v, &n->input_meta[0], n->d);
        gi[0] = r ? ty_tensor_retain(r) : NULL;
        temps_release(&s);
    }
    ty_tensor_release(v);
    return gi[0] ? 0 : -1;
}

/* Records y = op(x) (name: a string literal naming the op). */
static void unary_record(const char *name, ty_unary_op op, ty_tensor *x, ty_tensor *y,
                         const double *prm) {
    ty_node *n = ty_record(name, unary_backward, 1, &x, 1, &y);
    if (!n) return;
    n->i[0] = op;
    n->d[0] = prm[0];
    n->d[1] = prm[1];
    if (unary_ops[op].save == SAVE_INPUT)
        ty_save(n, 0, x);
    else if (unary_ops[op].save == SAVE_OUTPUT)
        ty_save_output(n, 0, y);
}

/* op(x) into a fresh tensor, recorded for autograd. fn names the op in
 * errors and in the node (a string literal). */
static ty_tensor *unary_out(const char *fn, ty_unary_op op, ty_tensor *x, const double *prm) {
    ty_tensor *r = NULL;
    /* The casts inside are part of this op, not nodes of their own. */
    bool prev = ty_set_grad_enabled(false);
    int rc = unary_run(fn, op, x, prm, &r);
    ty_set_grad_enabled(prev);
    if (rc < 0) return NULL;
    unary_record(fn, op, x, r, prm);
    return r;
}

/* x = op(x) while autograd records: computed out of place (recording the
 * node), then committed into x, which takes over the node. An op whose
 * backward reads its input reads a clone, since x itself is overwritten. */
static int unary_in_recorded(const char *fn, ty_unary_op op, ty_tensor *x, const double *prm) {
    if (ty_check_cpu(fn, x) < 0 || ty_check_inplace_target(fn, x, x->dtype) < 0) return -1;
    ty_tensor *src = unary_ops[op].save == SAVE_INPUT ? ty_clone(x) : ty_tensor_retain(x);
    if (!src) return -1;
    ty_tensor *r = unary_out(unary_ops[op].name, op, src, prm);
    ty_tensor_release(src);
    return ty_inplace_commit(fn, x, r);
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
    if (ty_inplace_needs_grad(x, 0, NULL))
        return unary_in_recorded(fn, op, x, unary_ops[op].defaults);
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
    if (ty_inplace_needs_grad(x, 0, NULL))
        return unary_in_recorded("softplus_", TY_UNARY_SOFTPLUS, x, prm);
    return unary_run("softplus_", TY_UNARY_SOFTPLUS, x, prm, NULL);
}

ty_tensor *ty_axpb(ty_tensor *x, double a, double b) {
    double prm[2] = {a, b};
    return unary_out("axpb", TY_UNARY_AXPB, x, prm);
}

int ty_axpb_(ty_tensor *x, double a, double b) {
    double prm[2] = {a, b};
    if (ty_inplace_needs_grad(x, 0, NULL)) return unary_in_recorded("axpb_", TY_UNARY_AXPB, x, prm);
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

/* clamp into a fresh tensor, recorded for autograd under name (a literal). */
static ty_tensor *clamp_out(const char *name, ty_tensor *x, double lo, double hi) {
    ty_tensor *r = NULL;
    bool prev = ty_set_grad_enabled(false);
    int rc = clamp_run(name, x, lo, hi, &r);
    ty_set_grad_enabled(prev);
    if (rc < 0) return NULL;
    unary_record(name, TY_UNARY_CLAMP, x, r, (double[]){lo, hi});
    return r;
}

/* The in-place clamps; under autograd as unary_in_recorded (clamp's
 * backward reads its input, so the op reads a clone of x). */
static int clamp_in(const char *fn, const char *name, ty_tensor *x, double lo, double hi) {
    if (!ty_inplace_needs_grad(x, 0, NULL)) return clamp_run(fn, x, lo, hi, NULL);
    if (ty_check_cpu(fn, x) < 0 || ty_check_inplace_target(fn, x, x->dtype) < 0) return -1;
    ty_tensor *src = ty_clone(x);
    if (!src) return -1;
    ty_tensor *r = clamp_out(name, src, lo, hi);
    ty_tensor_release(src);
    return ty_inplace_commit(fn, x, r);
}

ty_tensor *ty_clamp(ty_tensor *x, double lo, double hi) {
    return clamp_out("clamp", x, lo, hi);
}

ty_tensor *ty_clamp_min(ty_tensor *x, double lo) {
    return clamp_out("clamp_min", x, lo, INFINITY);
}

ty_tensor *ty_clamp_max(ty_tensor *x, double hi) {
    return clamp_out("clamp_max", x, -INFINITY, hi);
}

int ty_clamp_(ty_tensor *x, double lo, double hi) {
    return clamp_in("clamp_", "clamp", x, lo, hi);
}

int ty_clamp_min_(ty_tensor *x, double lo) {
    return clamp_in("clamp_min_", "clamp_min", x, lo, INFINITY);
}

int ty_clamp_max_(ty_tensor *x, double hi) {
    return clamp_in("clamp_max_", "clamp_max", x, -INFINITY, hi);
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
    /* The 0/1 result has no gradient, so it cannot take over x's history. */
    if (ty_inplace_needs_grad(x, 0, NULL))
        return ty_error("logical_not_: not differentiable, so it cannot overwrite a tensor that "
                        "requires grad; use logical_not");
    if (ty_check_inplace_target("logical_not_", x, TY_BOOL) < 0) return -1;
    ty_tensor *r = ty_logical_not(x);
    if (!r) return -1;
    int rc = ty_copy_(x, r);
    ty_tensor_release(r);
    return rc;
}
