/* Strided iteration over several tensors at once.
 *
 * Almost every CPU kernel walks one output and some inputs of the same
 * (broadcast) shape. ty_iter does the bookkeeping once: it broadcasts each
 * operand to the iteration shape (stride 0 on broadcast dims), drops size-1
 * dims, merges dims that are contiguous in every operand, and then calls a
 * kernel on 1-D runs: kernel(ptrs, byte_strides, n, ctx). A kernel only has
 * to handle one strided line, and gets a fast contiguous case for free when
 * strides[k] equals the element size.
 *
 * Large iterations are split across OpenMP threads by rows; small ones run
 * on the calling thread so tiny tensors stay cheap. */
#ifndef TYCHO_ITER_H
#define TYCHO_ITER_H

#include <stdint.h>

#include "tensor.h"

#define TY_ITER_MAX_OPS 4

typedef struct {
    int nops;
    int ndim;                                       /* after merging; >= 1 */
    int64_t shape[TY_MAX_DIMS];                     /* innermost dim last */
    int64_t strides[TY_ITER_MAX_OPS][TY_MAX_DIMS];  /* in bytes */
    char *base[TY_ITER_MAX_OPS];                    /* address of element 0 */
    int64_t numel;
} ty_iter;

typedef void (*ty_iter_kernel)(char **ptrs, const int64_t *strides, int64_t n, void *ctx);

/* Prepares iteration over `shape`; each operand must broadcast to it
 * (fails with an error naming fn otherwise). Operand 0 is usually the
 * output. All operands must be CPU tensors. */
int ty_iter_init(ty_iter *it, const char *fn, int nops, ty_tensor *const *ops, int ndim,
                 const int64_t *shape);

/* Calls kernel over every element, in parallel when large. The kernel must
 * be safe to run concurrently on disjoint rows. */
void ty_iter_run(const ty_iter *it, ty_iter_kernel kernel, void *ctx);
/* The same, always on the calling thread (for kernels with shared state). */
void ty_iter_run_serial(const ty_iter *it, ty_iter_kernel kernel, void *ctx);

#endif
