/* Elementwise ops: unary math (exp, tanh, gelu, clamp, ...), binary
 * arithmetic and comparisons with NumPy broadcasting, where, and a few fused
 * kernels (axpb, addcmul_, addcdiv_, lerp).
 *
 * Results are fresh contiguous tensors the caller releases; in-place forms
 * (names ending in `_`) write into their first argument, bump its version
 * and return 0, or -1 with an error and the target unchanged.
 *
 * dtypes. Float-only ops (exp, log, sigmoid, div, ...) on integer or bool
 * inputs compute and return f32, as PyTorch does; neg, abs, sign, relu,
 * clamp, floor, ceil and round keep integer dtypes. bf16/f16 inputs are
 * computed in f32 and the result is converted back to the half type.
 *
 * Promotion of two tensors is ty_promote's (bool < u8 < i64 < half < f32 <
 * f64), except that a 0-d tensor does not widen a tensor with dims of the
 * same category (bool, integer, float): i64 (3) + f64 () gives f32 (the
 * default float), f32 (3) + f64 () gives f32, u8 (3) + i64 () gives u8.
 * Scalar forms take a double on the right: an integer tensor stays integer
 * when the value is integral (a bool tensor becomes i64), and becomes f32
 * otherwise; a float tensor keeps its dtype.
 *
 * An in-place op fails (changing nothing) when the operands broadcast to a
 * shape other than the target's, when the result dtype cannot be stored in
 * the target (a float into an integer tensor, anything but bool into a bool
 * tensor), or when the target is a broadcast view whose elements share
 * memory.
 *
 * Autograd (autograd.h). Every op with a floating-point result records its
 * backward when an input requires grad, with PyTorch's formulas: a
 * broadcast operand's gradient is summed back to its shape and comes back
 * in its own dtype; relu'(0) = abs'(0) = 0; clamp passes the gradient where
 * lo <= x <= hi; sqrt'(0) = inf; maximum and minimum split ties evenly;
 * sign, floor, ceil and round have zero gradients; where gives none to the
 * condition. Comparisons and logical ops record nothing. The backward
 * passes are built from these same ops, so second derivatives work. Under
 * autograd an in-place op computes out of place and hands the result to
 * ty_inplace_commit, so it fails on a leaf that requires grad and on a
 * tensor that shares memory with another (a view, or one saved for a
 * backward); comparisons and logical_not_ cannot overwrite a tensor that
 * requires grad. */
#ifndef TYCHO_ELEMENTWISE_H
#define TYCHO_ELEMENTWISE_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"

/* ---- promotion ---- */

/* dtype of a binary op's result on a and b under the 0-d rule above
 * (before an op's own rule, such as true division giving a float). */
ty_dtype ty_result_type(const ty_tensor *a, const ty_tensor *b);
/* dtype of `tensor of dt` op `scalar s` under the scalar rule above. */
ty_dtype ty_scalar_result_type(ty_dtype dt, double s);

/* ---- unary ops ---- */

/* Every unary op is one row of the table in unary.c (name, kernels per
 * dtype, parameters, backward); ty_unary dispatches on this enum. */
typedef enum {
    TY_UNARY_NEG, /* integer dtypes kept; bool is an error */
    TY_UNARY_ABS,
    TY_UNARY_SIGN, /* -1, 0 or 1; NaN stays NaN */
    TY_UNARY_EXP,
    TY_UNARY_LOG,
    TY_UNARY_LOG1P,
    TY_UNARY_EXPM1,
    TY_UNARY_SQRT,
    TY_UNARY_RSQRT,
    TY_UNARY_SIN,
    TY_UNARY_COS,
    TY_UNARY_TANH,
    TY_UNARY_SIGMOID, /* stays finite and exact at 0 / 1 for huge |x| */
    TY_UNARY_RELU,    /* NaN stays NaN */
    TY_UNARY_GELU,    /* exact: x/2 (1 + erf(x/sqrt 2)) */
    TY_UNARY_GELU_TANH,
    TY_UNARY_SILU,
    TY_UNARY_SOFTPLUS, /* parameters beta (default 1) and threshold (20) */
    TY_UNARY_CLAMP,    /* parameters min (default -inf) and max (+inf) */
    TY_UNARY_FLOOR,
    TY_UNARY_CEIL,
    TY_UNARY_ROUND, /* half to even, as torch.round */
    TY_UNARY_RECIPROCAL,
    TY_UNARY_AXPB, /* parameters a (default 1) and b (0): a*x + b */
    TY_UNARY_NUM
} ty_unary_op;

/* "exp", "gelu_tanh", ... (NULL for a value outside the enum). */
const char *ty_unary_name(ty_unary_op op);
/* op(x) with the op's default parameters. */
ty_tensor *ty_unary(ty_unary_op op, ty_tensor *x);
int ty_unary_(ty_unary_op op, ty_tensor *x);

ty_tensor *ty_neg(ty_tensor *x);
ty_tensor *ty_abs(ty_tensor *x);
ty_tensor *ty_sign(ty_tensor *x);
ty_tensor *ty_exp(ty_tensor *x);
ty_tensor *ty_log(ty_tensor *x);
ty_tensor *ty_log1p(ty_tensor *x);
ty_tensor *ty_expm1(ty_tensor *x);
ty_tensor *ty_sqrt(ty_tensor *x);
ty_tensor *ty_rsqrt(ty_tensor *x);
ty_tensor *ty_sin(ty_tensor *x);
ty_tensor *ty_cos(ty_tensor *x);
ty_tensor *ty_tanh(ty_tensor *x);
ty_tensor *ty_sigmoid(ty_tensor *x);
ty_tensor *ty_relu(ty_tensor *x);
ty_tensor *ty_gelu(ty_tensor *x);
ty_tensor *ty_gelu_tanh(ty_tensor *x);
ty_tensor *ty_silu(ty_tensor *x);
ty_tensor *ty_floor(ty_tensor *x);
ty_tensor *ty_ceil(ty_tensor *x);
ty_tensor *ty_round(ty_tensor *x);
ty_tensor *ty_reciprocal(ty_tensor *x);

int ty_neg_(ty_tensor *x);
int ty_abs_(ty_tensor *x);
int ty_sign_(ty_tensor *x);
int ty_exp_(ty_tensor *x);
int ty_log_(ty_tensor *x);
int ty_log1p_(ty_tensor *x);
int ty_expm1_(ty_tensor *x);
int ty_sqrt_(ty_tensor *x);
int ty_rsqrt_(ty_tensor *x);
int ty_sin_(ty_tensor *x);
int ty_cos_(ty_tensor *x);
int ty_tanh_(ty_tensor *x);
int ty_sigmoid_(ty_tensor *x);
int ty_relu_(ty_tensor *x);
int ty_gelu_(ty_tensor *x);
int ty_gelu_tanh_(ty_tensor *x);
int ty_silu_(ty_tensor *x);
int ty_floor_(ty_tensor *x);
int ty_ceil_(ty_tensor *x);
int ty_round_(ty_tensor *x);
int ty_reciprocal_(ty_tensor *x);

/* log(1 + exp(beta x)) / beta, or x where beta x > threshold (PyTorch's
 * defaults: beta 1, threshold 20). */
ty_tensor *ty_softplus(ty_tensor *x, double beta, double threshold);
int ty_softplus_(ty_tensor *x, double beta, double threshold);

/* min(max(x, lo), hi) (so hi wins when lo > hi); clamp_min and clamp_max
 * bound one side only. Integer tensors stay integer when the bounds are
 * integral, else the result is f32 (the scalar rule). NaN in x stays NaN; a
 * NaN bound gives NaN everywhere, as in PyTorch. */
ty_tensor *ty_clamp(ty_tensor *x, double lo, double hi);
ty_tensor *ty_clamp_min(ty_tensor *x, double lo);
ty_tensor *ty_clamp_max(ty_tensor *x, double hi);
int ty_clamp_(ty_tensor *x, double lo, double hi);
int ty_clamp_min_(ty_tensor *x, double lo);
int ty_clamp_max_(ty_tensor *x, double hi);

/* a*x + b in one pass over memory (f32 math for f32 and half inputs, f64
 * for f64; integer inputs give f32). */
ty_tensor *ty_axpb(ty_tensor *x, double a, double b);
int ty_axpb_(ty_tensor *x, double a, double b);

/* x == 0 as bool, for any dtype (NaN counts as true, so gives false). The
 * in-place form stores 0/1 in x's own dtype. */
ty_tensor *ty_logical_not(ty_tensor *x);
int ty_logical_not_(ty_tensor *x);

/* ---- binary ops ---- */

typedef enum {
    TY_BINARY_ADD,     /* on bool: logical or */
    TY_BINARY_SUB,     /* bool is an error (use logical_xor) */
    TY_BINARY_MUL,     /* on bool: logical and */
    TY_BINARY_DIV,     /* true division: integer inputs give f32 */
    TY_BINARY_POW,     /* integers: exact, wrapping; a negative exponent gives 0
                          unless the base is 1 or -1 */
    TY_BINARY_MAXIMUM, /* NaN in either input gives NaN */
    TY_BINARY_MINIMUM,
    TY_BINARY_EQ, /* comparisons give bool, computed in the promoted dtype */
    TY_BINARY_NE,
    TY_BINARY_LT,
    TY_BINARY_LE,
    TY_BINARY_GT,
    TY_BINARY_GE,
    TY_BINARY_LOGICAL_AND, /* any dtypes, nonzero (and NaN) is true; gives bool */
    TY_BINARY_LOGICAL_OR,
    TY_BINARY_LOGICAL_XOR,
    TY_BINARY_NUM
} ty_binary_op;

const char *ty_binary_name(ty_binary_op op);
/* a op b, broadcasting a and b (NumPy rules; the error names both shapes). */
ty_tensor *ty_binary(ty_binary_op op, ty_tensor *a, ty_tensor *b);
/* a = a op b; b broadcasts to a's shape. */
int ty_binary_(ty_binary_op op, ty_tensor *a, ty_tensor *b);
/* x op s, s op x, and x = x op s. Comparisons of integer tensors with a
 * value their dtype cannot hold (2.5, 300 for u8) are done in f64. */
ty_tensor *ty_binary_scalar(ty_binary_op op, ty_tensor *x, double s);
ty_tensor *ty_binary_rscalar(ty_binary_op op, double s, ty_tensor *x);
int ty_binary_scalar_(ty_binary_op op, ty_tensor *x, double s);

ty_tensor *ty_add(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_sub(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_mul(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_div(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_pow(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_maximum(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_minimum(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_eq(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_ne(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_lt(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_le(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_gt(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_ge(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_logical_and(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_logical_or(ty_tensor *a, ty_tensor *b);
ty_tensor *ty_logical_xor(ty_tensor *a, ty_tensor *b);

int ty_add_(ty_tensor *a, ty_tensor *b);
int ty_sub_(ty_tensor *a, ty_tensor *b);
int ty_mul_(ty_tensor *a, ty_tensor *b);
int ty_div_(ty_tensor *a, ty_tensor *b);
int ty_pow_(ty_tensor *a, ty_tensor *b);

ty_tensor *ty_add_scalar(ty_tensor *x, double s);
ty_tensor *ty_sub_scalar(ty_tensor *x, double s);
ty_tensor *ty_rsub_scalar(ty_tensor *x, double s); /* s - x */
ty_tensor *ty_mul_scalar(ty_tensor *x, double s);
ty_tensor *ty_div_scalar(ty_tensor *x, double s);
ty_tensor *ty_rdiv_scalar(ty_tensor *x, double s); /* s / x */
/* x ^ s; an integer tensor with a negative integral exponent is an error. */
ty_tensor *ty_pow_scalar(ty_tensor *x, double s);
ty_tensor *ty_rpow_scalar(ty_tensor *x, double s); /* s ^ x */
ty_tensor *ty_eq_scalar(ty_tensor *x, double s);
ty_tensor *ty_ne_scalar(ty_tensor *x, double s);
ty_tensor *ty_lt_scalar(ty_tensor *x, double s);
ty_tensor *ty_le_scalar(ty_tensor *x, double s);
ty_tensor *ty_gt_scalar(ty_tensor *x, double s);
ty_tensor *ty_ge_scalar(ty_tensor *x, double s);

int ty_add_scalar_(ty_tensor *x, double s);
int ty_sub_scalar_(ty_tensor *x, double s);
int ty_mul_scalar_(ty_tensor *x, double s);
int ty_div_scalar_(ty_tensor *x, double s);
int ty_pow_scalar_(ty_tensor *x, double s);

/* cond ? a : b, elementwise; cond is bool or u8 (nonzero is true); cond, a
 * and b broadcast together; the dtype is ty_result_type(a, b). */
ty_tensor *ty_where(ty_tensor *cond, ty_tensor *a, ty_tensor *b);

/* ---- fused kernels for optimizers ---- */

/* self += value * t1 * t2 and self += value * t1 / t2 (self floating
 * point; t1 and t2 broadcast to self's shape). */
int ty_addcmul_(ty_tensor *self, ty_tensor *t1, ty_tensor *t2, double value);
int ty_addcdiv_(ty_tensor *self, ty_tensor *t1, ty_tensor *t2, double value);
/* start + weight (end - start), with PyTorch's formula (exact at weight 0
 * and 1); start and end broadcast; the dtype is their float result type. */
ty_tensor *ty_lerp(ty_tensor *start, ty_tensor *end, double weight);
int ty_lerp_(ty_tensor *self, ty_tensor *end, double weight);

/* ---- for kernel writers ---- */

/* Runs a row kernel over the shape of ops[0], usually the output, with the
 * other operands (nops <= 4 in all) broadcast to it. The kernel has the
 * signature of ty_iter_kernel (src/iter.h): it handles one strided line of
 * n elements at ptrs[k], strides[k] bytes apart. When every operand is contiguous
 * with the output's shape or has a single element, the iterator's set-up is
 * skipped (tiny ops stay cheap) and the kernel sees strides of one element
 * (0 for single elements), split across threads above ty_threads_for(numel *
 * cost). cost is the work per element relative to an add. */
int ty_elementwise_run(const char *fn,
                       void (*kernel)(char **ptrs, const int64_t *strides, int64_t n, void *ctx),
                       int nops, ty_tensor *const *ops, int cost, void *ctx);
/* Checks that t can be written in place with a result of dtype `result`:
 * castable (no float into integer, nothing but bool into bool) and no two
 * elements sharing memory. -1 with an error naming fn otherwise. */
int ty_check_inplace_target(const char *fn, const ty_tensor *t, ty_dtype result);

#endif
