/* Linear algebra: matrix products (every GEMM goes through OpenBLAS), the
 * linear layer's forward, and einsum.
 *
 * Shared rules. Inputs may be any float dtype: f32 and f64 are computed
 * directly, bf16 and f16 in f32 with the result converted back; mixed float
 * dtypes promote (f32 with f64 gives f64). Integer and bool inputs fail with
 * "matmul: dtype i64 is not supported, cast to f32 or f64". Inputs may be
 * transposed, strided or expanded views; the result is always a fresh
 * contiguous tensor. Size-0 dims are allowed: a product over an empty inner
 * dim gives zeros.
 *
 * Autograd: every function here records one node when an input requires
 * grad (see autograd.h), with gradients for all float inputs (linear's bias
 * included), summed over broadcast batch dims; the backward is written with
 * these same ops, so second derivatives work. einsum's gradient for an
 * operand is another einsum and needs at most 52 distinct labels. */
#ifndef TYCHO_LINALG_H
#define TYCHO_LINALG_H

#include "tensor.h"

/* torch.matmul: 1-D x 1-D is a dot product (a 0-d result); a 1-D first
 * argument becomes a row (1,K) and a 1-D second one a column (K,1), the
 * added dim being removed from the result; with 3 or more dims the leading
 * (batch) dims broadcast: (2,1,3,4) @ (5,4,6) -> (2,5,3,6). */
ty_tensor *ty_matmul(ty_tensor *a, ty_tensor *b);
/* (M,K) @ (K,N) -> (M,N); both must be 2-D. */
ty_tensor *ty_mm(ty_tensor *a, ty_tensor *b);
/* (B,M,K) @ (B,K,N) -> (B,M,N); both 3-D with the same B (no broadcasting). */
ty_tensor *ty_bmm(ty_tensor *a, ty_tensor *b);
/* (M,K) @ (K) -> (M). */
ty_tensor *ty_mv(ty_tensor *a, ty_tensor *v);
/* Dot product of two 1-D tensors of the same length; a 0-d result. */
ty_tensor *ty_dot(ty_tensor *a, ty_tensor *b);
/* Outer product of two 1-D tensors: (N) and (M) -> (N,M). */
ty_tensor *ty_outer(ty_tensor *a, ty_tensor *b);

/* nn.Linear's forward: x @ w^T + bias for x (..., in), w (out, in) and
 * bias (out) or NULL; the result is (..., out). One GEMM, w is never
 * copied to a transposed layout. */
ty_tensor *ty_linear(ty_tensor *x, ty_tensor *w, ty_tensor *bias);

/* Einstein summation over n operands, as torch.einsum: labels a-z and A-Z,
 * "->" for an explicit output (otherwise the labels that appear once,
 * sorted, with any "..." dims first), "..." for broadcast batch dims,
 * repeated labels within an operand take its diagonal. Labels missing from
 * the output are summed. Operands are contracted left to right, each pair as
 * one batched GEMM. Spaces in the equation are ignored. */
ty_tensor *ty_einsum(const char *equation, int n, ty_tensor *const *operands);

#endif
