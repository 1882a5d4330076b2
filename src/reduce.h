/* Reductions: sum, mean, var/std, prod, logsumexp, norm, all/any, amax/amin,
 * max/min with indices, argmax/argmin, and the scans cumsum/cumprod.
 *
 * Dims. Most reductions take a set of dims: `ndims` entries of `dims`
 * (0-based, negative counts from the end); ndims == 0 reduces over every
 * dim. A dim out of range or given twice is an error naming it. With
 * keepdim the reduced dims stay as size 1, otherwise they are removed (a
 * full reduction gives a 0-d tensor). A 0-d input accepts dims 0 and -1.
 *
 * dtypes (PyTorch's rules). sum and prod of bool, u8 and i64 give i64
 * (wrapping on overflow); of floats, the input's dtype. mean, var, std,
 * logsumexp and norm need a floating-point input and fail on integer and
 * bool tensors (cast first, e.g. to f32). all and any accept every dtype and
 * give bool. amax/amin, max/min keep the dtype; indices are i64. bf16/f16
 * inputs are computed in f32 and the result is returned in their dtype.
 * f32 data is accumulated in double.
 *
 * Empty reductions: sum 0, prod 1, mean/var/std NaN, logsumexp -inf, all
 * true, any false, p-norms (p > 0) 0. Ops without an identity (amax, amin,
 * max, min, argmax, argmin, and the inf / -inf norms) fail on a reduced dim
 * of size 0, naming it.
 *
 * NaN propagates through every reduction; max/min/argmax/argmin return the
 * (first) NaN and its index, as PyTorch does. Results are fresh contiguous
 * tensors the caller releases, and do not depend on the thread count.
 *
 * Autograd. The float reductions and scans record a node (PyTorch's
 * derivatives, differentiable again): max_all / min_all spread the gradient
 * evenly over tied elements, amax / amin over the ties of each reduced
 * group, and max_dim / min_dim send it to the index returned; prod and
 * cumprod are exact with zeros in the input; norm's gradient at a zero norm
 * is 0 (not NaN), as is std's at a zero std; the p = 0 norm has gradient 0.
 * Indices, argmax/argmin, all/any and integer results record nothing. */
#ifndef TYCHO_REDUCE_H
#define TYCHO_REDUCE_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"

/* ---- sums and moments ---- */

/* Sum over dims (ndims == 0: all dims). */
ty_tensor *ty_sum(ty_tensor *x, int ndims, const int *dims, bool keepdim);
/* Sum of every element, as a 0-d tensor. */
ty_tensor *ty_sum_all(ty_tensor *x);
/* Mean over dims; float inputs only. */
ty_tensor *ty_mean(ty_tensor *x, int ndims, const int *dims, bool keepdim);
ty_tensor *ty_mean_all(ty_tensor *x);
/* Variance sum((x - mean)^2) / max(0, N - correction) over dims, N the number
 * of reduced elements. correction 1 is PyTorch's default (unbiased), 0 the
 * population variance; N <= correction gives inf (or NaN for 0 / 0). Two
 * passes in double, so a large mean does not cancel the result. */
ty_tensor *ty_var(ty_tensor *x, int ndims, const int *dims, double correction, bool keepdim);
/* sqrt of ty_var. */
ty_tensor *ty_std(ty_tensor *x, int ndims, const int *dims, double correction, bool keepdim);
/* Product over dims. */
ty_tensor *ty_prod(ty_tensor *x, int ndims, const int *dims, bool keepdim);
/* log(sum(exp(x))) over dims, computed as max + log(sum(exp(x - max))) so
 * that 1e4 does not overflow; all -inf gives -inf, and +inf gives +inf. */
ty_tensor *ty_logsumexp(ty_tensor *x, int ndims, const int *dims, bool keepdim);
/* Vector p-norm over dims: p = 2 (Euclidean), 1, INFINITY (max |x|),
 * -INFINITY (min |x|), 0 (number of non-zeros), or any other p as
 * (sum |x|^p)^(1/p). p NaN is an error. */
ty_tensor *ty_norm(ty_tensor *x, double p, int ndims, const int *dims, bool keepdim);

/* ---- logical ---- */

/* Whether every / some element over dims is non-zero (NaN counts as
 * non-zero); bool result. */
ty_tensor *ty_all(ty_tensor *x, int ndims, const int *dims, bool keepdim);
ty_tensor *ty_any(ty_tensor *x, int ndims, const int *dims, bool keepdim);

/* ---- max and min ---- */

/* Max / min over several dims (values only). */
ty_tensor *ty_amax(ty_tensor *x, int ndims, const int *dims, bool keepdim);
ty_tensor *ty_amin(ty_tensor *x, int ndims, const int *dims, bool keepdim);
/* Max / min along one dim: *values (x's dtype) and *indices (i64, the first
 * position of the max, or of the first NaN). Either pointer may be NULL
 * when that output is not wanted. Returns 0, or -1 with both set to NULL. */
int ty_max_dim(ty_tensor *x, int dim, bool keepdim, ty_tensor **values, ty_tensor **indices);
int ty_min_dim(ty_tensor *x, int dim, bool keepdim, ty_tensor **values, ty_tensor **indices);
/* Max / min of every element as a 0-d tensor; an empty x is an error. */
ty_tensor *ty_max_all(ty_tensor *x);
ty_tensor *ty_min_all(ty_tensor *x);
/* i64 index of the first max / min along dim. */
ty_tensor *ty_argmax(ty_tensor *x, int dim, bool keepdim);
ty_tensor *ty_argmin(ty_tensor *x, int dim, bool keepdim);
/* 0-d i64 index of the first max / min in x flattened (row-major). */
ty_tensor *ty_argmax_all(ty_tensor *x);
ty_tensor *ty_argmin_all(ty_tensor *x);

/* ---- scans ---- */

/* Running sum / product along dim, shaped like x: bool, u8 and i64 give
 * i64, floats keep their dtype (accumulated in double). */
ty_tensor *ty_cumsum(ty_tensor *x, int dim);
ty_tensor *ty_cumprod(ty_tensor *x, int dim);

#endif
