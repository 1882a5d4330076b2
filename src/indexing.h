/* Indexing and shape ops: gather/scatter and friends (gather_scatter.c),
 * sorting and top-k (sort.c), and joining, splitting and rearranging
 * tensors (join.c).
 *
 * Shared rules.
 * - Dims are 0-based; negative dims count from the end (ty_wrap_dim).
 * - Index tensors must be i64. Index VALUES are never wrapped: a negative or
 *   too large index is an error naming the op, the value, the dim and its
 *   size ("gather: index 7 is out of range for dim 1 of size 5"). Every index
 *   is checked before anything is written, so a failing in-place op leaves
 *   its target unchanged.
 * - Results are fresh contiguous tensors the caller releases, except where a
 *   function is documented as returning views. In-place forms (ending in `_`)
 *   write into their first argument, bump its version and return 0, or -1
 *   with an error and the target unchanged; the target may be any strided
 *   view except a broadcast one whose elements share memory.
 * - Duplicate indices in scatter keep the value written last in row-major
 *   order of `index`; scatter_add and index_add add duplicates in that order,
 *   so every result is deterministic, whatever the number of threads. f32
 *   sums are accumulated in double and rounded once.
 * - bf16/f16 are supported wherever values are only moved or compared; sums
 *   are computed in f32 and converted back.
 *
 * - Autograd: the float result of every op here records a node when an input
 *   requires grad (see autograd.h); index and mask tensors never get
 *   gradients. Gradients follow PyTorch: a scatter's src gets g gathered at
 *   index (also for duplicates, where only the last write survived), sort
 *   and top-k send each value's gradient to the position its index names,
 *   and the pieces of a split (up to 16) are outputs of one node. In-place
 *   forms under autograd compute out of place and commit the result
 *   (ty_inplace_commit), so they fail on a leaf that requires grad.
 *
 * Arrays of outputs (split, split_sizes, chunk) are returned as a malloc'd
 * array of new tensor references: the caller releases every tensor and
 * frees the array, in one call with ty_tensor_array_free(arr, n). */
#ifndef TYCHO_INDEXING_H
#define TYCHO_INDEXING_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"

/* ---- gather / scatter (gather_scatter.c) ---- */

/* out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (likewise for any dim).
 * index has x's number of dims and index.size(d) <= x.size(d) for d != dim;
 * the result has index's shape and x's dtype. */
ty_tensor *ty_gather(ty_tensor *x, int dim, ty_tensor *index);

/* A copy of x with x[i][index[i][j][k]][k] = src[i][j][k] (for dim 1).
 * index has x's number of dims, index.size(d) <= src.size(d) for every d and
 * index.size(d) <= x.size(d) for d != dim; src has x's dtype. */
ty_tensor *ty_scatter(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src);
int ty_scatter_(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src);
/* The same with one value written at every indexed position. */
ty_tensor *ty_scatter_value(ty_tensor *x, int dim, ty_tensor *index, double value);
int ty_scatter_value_(ty_tensor *x, int dim, ty_tensor *index, double value);

/* Like scatter but adds: x[i][index[i][j][k]][k] += src[i][j][k]. For the
 * message-passing layout (x (N,F), dim 0, index (E) expanded to (E,F)) each
 * output row is summed by one thread over its incoming rows in order. */
ty_tensor *ty_scatter_add(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src);
int ty_scatter_add_(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src);

/* x.select(dim, index[i]) += src.select(dim, i) for a 1-D index of length E;
 * src has x's shape except src.size(dim) == E, and x's dtype. */
ty_tensor *ty_index_add(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src);
int ty_index_add_(ty_tensor *x, int dim, ty_tensor *index, ty_tensor *src);

/* The entries index[0], index[1], ... of x along dim: a 1-D (or 0-d, giving
 * one entry) index of length E gives x's shape with size E at dim. */
ty_tensor *ty_index_select(ty_tensor *x, int dim, ty_tensor *index);

/* x with `value` where mask is true. mask is bool or u8 (nonzero is true)
 * and broadcasts with x; the result has the broadcast shape. The in-place
 * form requires mask to broadcast to x's shape. */
ty_tensor *ty_masked_fill(ty_tensor *x, ty_tensor *mask, double value);
int ty_masked_fill_(ty_tensor *x, ty_tensor *mask, double value);
/* The elements of x where mask (bool or u8, broadcast with x) is true, in
 * row-major order of the broadcast shape: a 1-D tensor of x's dtype. */
ty_tensor *ty_masked_select(ty_tensor *x, ty_tensor *mask);
/* Coordinates of the nonzero elements of x (NaN counts as nonzero), in
 * row-major order: an (N, ndim) i64 tensor. */
ty_tensor *ty_nonzero(ty_tensor *x);
/* labels (i64, any shape) -> labels.shape + (num_classes), i64 zeros with a
 * 1 at each label. num_classes -1 means max(labels) + 1. Labels must lie in
 * [0, num_classes). */
ty_tensor *ty_one_hot(ty_tensor *labels, int64_t num_classes);

/* ---- sorting (sort.c) ---- */

/* Sorts x along dim. *values (x's dtype) and *indices (i64, positions along
 * dim) receive new tensors of x's shape; either pointer may be NULL when that
 * output is not wanted. NaN sorts as the largest value. The sort is always
 * stable (equal keys keep their order, also when descending); `stable` is
 * accepted for PyTorch compatibility. For f32, f64, bf16, f16, i64, u8 and
 * bool. Returns 0 or -1. */
int ty_sort(ty_tensor *x, int dim, bool descending, bool stable, ty_tensor **values,
            ty_tensor **indices);
/* The indices of ty_sort alone. */
ty_tensor *ty_argsort(ty_tensor *x, int dim, bool descending, bool stable);
/* The k largest (or smallest) entries along dim, 0 <= k <= x.size(dim), in
 * sorted order (also when `sorted` is false); ties keep the lower index first.
 * Outputs have x's shape with size k at dim; either pointer may be NULL. */
int ty_topk(ty_tensor *x, int64_t k, int dim, bool largest, bool sorted, ty_tensor **values,
            ty_tensor **indices);

/* ---- joining and rearranging (join.c) ---- */

/* Releases arr[0..n) and frees arr (NULL is allowed). */
void ty_tensor_array_free(ty_tensor **arr, int64_t n);

/* Concatenates n tensors along dim. The result dtype promotes over all
 * inputs (ty_promote); 1-D tensors of shape (0) are skipped, as in PyTorch;
 * the others must have the same number of dims and equal sizes except at
 * dim. */
ty_tensor *ty_cat(int n, ty_tensor *const *tensors, int dim);
/* Stacks n tensors of the same shape along a new dim (in [-ndim-1, ndim]). */
ty_tensor *ty_stack(int n, ty_tensor *const *tensors, int dim);

/* Views of x in pieces of split_size along dim (the last may be smaller).
 * Returns a malloc'd array of *n_out views (see ty_tensor_array_free). */
ty_tensor **ty_split(ty_tensor *x, int64_t split_size, int dim, int64_t *n_out);
/* Views of x in n pieces of the given sizes along dim (they must sum to
 * x.size(dim)). */
ty_tensor **ty_split_sizes(ty_tensor *x, int n, const int64_t *sizes, int dim, int64_t *n_out);
/* torch.chunk: split with split_size = ceil(size / chunks), so there may be
 * fewer than `chunks` pieces. Views, as ty_split. */
ty_tensor **ty_chunk(ty_tensor *x, int64_t chunks, int dim, int64_t *n_out);

/* torch.repeat: x tiled repeats[d] times along each dim. ndim >= x->ndim;
 * x is treated as having leading dims of size 1. */
ty_tensor *ty_repeat(ty_tensor *x, int ndim, const int64_t *repeats);
/* x reversed along each of the ndims dims listed (each at most once). */
ty_tensor *ty_flip(ty_tensor *x, int ndims, const int *dims);
/* x shifted by `shift` along dim, wrapping around: out[(i + shift) mod n] =
 * x[i]. */
ty_tensor *ty_roll(ty_tensor *x, int64_t shift, int dim);
/* torch.roll without dims: rolls the flattened tensor and restores the
 * shape. */
ty_tensor *ty_roll_flat(ty_tensor *x, int64_t shift);
/* F.pad with a constant: pad holds npad (even, npad/2 <= ndim) sizes, last
 * dim first: (left, right) of the last dim, then of the second-last, ...
 * Negative sizes crop. New elements are `value`. */
ty_tensor *ty_pad_constant(ty_tensor *x, int npad, const int64_t *pad, double value);

#endif
