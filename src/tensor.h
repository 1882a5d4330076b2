/* The tensor: a strided view of a refcounted storage.
 *
 * Ownership. Every function that returns a `ty_tensor *` returns a new
 * reference that the caller owns and must give back with ty_tensor_release.
 * Arguments are borrowed: a function never releases what it was passed.
 * Views (reshape, transpose, slice, ...) are new tensor structs that share
 * the storage; releasing a view never frees its base's memory while the
 * base (or any other view) is alive.
 *
 * Indices, dims and offsets in the C API are 0-based; negative dims and
 * indices count from the end where the doc says so. */
#ifndef TYCHO_TENSOR_H
#define TYCHO_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "dtype.h"

#define TY_MAX_DIMS 16

typedef struct ty_storage {
    void *data;
    size_t nbytes;
    ty_device device;
    int refcount;
    /* Bumped by every in-place write, shared by all views of the storage:
     * autograd compares it with the value saved at record time. */
    uint64_t version;
    /* Non-NULL when the memory belongs to someone else (ty_from_blob); it
     * is called instead of the backend's free. */
    void (*deleter)(void *data, void *ctx);
    void *deleter_ctx;
} ty_storage;

struct ty_node; /* autograd graph node, defined by the autograd module */

typedef struct ty_tensor {
    ty_storage *storage;
    int64_t offset; /* in elements, not bytes */
    int ndim;
    int64_t shape[TY_MAX_DIMS];
    int64_t strides[TY_MAX_DIMS]; /* in elements; may be 0 (broadcast) */
    ty_dtype dtype;
    ty_device device;
    int refcount;
    /* autograd */
    bool requires_grad;
    struct ty_tensor *grad;  /* owned reference or NULL */
    struct ty_node *grad_fn; /* owned reference or NULL */
    int output_nr;           /* which output of grad_fn this tensor is */
} ty_tensor;

/* ---- lifetime ---- */
ty_tensor *ty_tensor_retain(ty_tensor *t); /* returns t */
void ty_tensor_release(ty_tensor *t);      /* NULL is allowed */
/* Number of live tensor structs, for leak tests (every test ends at 0). */
int64_t ty_live_tensors(void);
/* Hook the autograd module installs to free a node reference; src/tensor.c
 * calls it when a tensor with a grad_fn dies. */
void ty_set_node_release_hook(void (*release)(struct ty_node *));

/* ---- creation (contiguous, row-major) ---- */
/* Uninitialised memory of the given shape. ndim may be 0 (a scalar). */
ty_tensor *ty_empty(int ndim, const int64_t *shape, ty_dtype dt, ty_device dev);
ty_tensor *ty_empty_like(const ty_tensor *t);
/* Copies n = prod(shape) elements of type dt from a host buffer. */
ty_tensor *ty_from_buffer(const void *data, int ndim, const int64_t *shape, ty_dtype dt);
/* Wraps memory without copying; deleter(data, ctx) runs when the last view
 * dies (may be NULL if the caller keeps the memory alive longer). */
ty_tensor *ty_from_blob(void *data, int ndim, const int64_t *shape, ty_dtype dt,
                        void (*deleter)(void *, void *), void *ctx);
/* A 0-d tensor holding v. */
ty_tensor *ty_scalar(double v, ty_dtype dt);

/* ---- inspection ---- */
int64_t ty_numel(const ty_tensor *t);
int64_t ty_nbytes(const ty_tensor *t);
bool ty_is_contiguous(const ty_tensor *t);
/* Whether a and b have the same ndim and sizes (no broadcasting). */
bool ty_same_shape(const ty_tensor *a, const ty_tensor *b);
/* Pointer to element [0,...,0] (host pointer only for CPU tensors). */
void *ty_data(const ty_tensor *t);
/* "(2,3)" into buf; returns buf. For error messages. */
const char *ty_shape_str(const ty_tensor *t, char *buf, size_t size);
const char *ty_shape_str_n(int ndim, const int64_t *shape, char *buf, size_t size);
/* Normalises a possibly negative dim into [0, ndim); -1 with an error
 * naming fn otherwise. ndim 0 accepts dims 0 and -1 (as PyTorch does). */
int ty_wrap_dim(const char *fn, int dim, int ndim);
/* Element at a flat row-major index, as double (slow; for printing/tests). */
double ty_get_flat(const ty_tensor *t, int64_t i);
/* The single value of a one-element tensor. */
int ty_item(const ty_tensor *t, double *out);

/* ---- copies and conversion ---- */
/* A contiguous tensor with the same values; a new reference to t itself if
 * t is already contiguous (cheap, so callers can always call it). */
ty_tensor *ty_contiguous(ty_tensor *t);
/* Always a fresh contiguous copy. */
ty_tensor *ty_clone(const ty_tensor *t);
/* Copies src into dst (shapes broadcast src to dst; dtypes convert).
 * Bumps dst's version. Returns 0 or -1. */
int ty_copy_(ty_tensor *dst, const ty_tensor *src);
/* A copy in another dtype (a new reference to t if the dtype matches). */
ty_tensor *ty_cast(ty_tensor *t, ty_dtype dt);
/* A copy on another device (a new reference to t if already there). */
ty_tensor *ty_to_device(ty_tensor *t, ty_device dev);
/* Fills every element with v; bumps the version. */
int ty_fill_(ty_tensor *t, double v);
/* Marks an in-place write for autograd's version check. */
static inline void ty_bump_version(ty_tensor *t) {
    t->storage->version++;
}

/* ---- views (no copies; see view.c) ---- */
/* Reshape: a view when strides allow it, else a contiguous copy. One dim
 * may be -1 (inferred). */
ty_tensor *ty_reshape(ty_tensor *t, int ndim, const int64_t *shape);
/* Like reshape but fails instead of copying. */
ty_tensor *ty_view(ty_tensor *t, int ndim, const int64_t *shape);
ty_tensor *ty_transpose(ty_tensor *t, int d0, int d1);
ty_tensor *ty_permute(ty_tensor *t, const int *perm); /* perm has t->ndim entries */
/* Elements start, start+step, ... < stop along dim (Python slice rules
 * with clamping; negative start/stop count from the end; step >= 1). */
ty_tensor *ty_slice(ty_tensor *t, int dim, int64_t start, int64_t stop, int64_t step);
/* Removes dim, taking index i (negative counts from the end). */
ty_tensor *ty_select(ty_tensor *t, int dim, int64_t i);
ty_tensor *ty_narrow(ty_tensor *t, int dim, int64_t start, int64_t length);
/* Broadcast to shape (ndim >= t->ndim); -1 keeps a dim. */
ty_tensor *ty_expand(ty_tensor *t, int ndim, const int64_t *shape);
ty_tensor *ty_squeeze(ty_tensor *t);              /* all size-1 dims */
ty_tensor *ty_squeeze_dim(ty_tensor *t, int dim); /* that dim, if size 1 */
ty_tensor *ty_unsqueeze(ty_tensor *t, int dim);   /* dim in [-ndim-1, ndim] */
ty_tensor *ty_flatten(ty_tensor *t, int start_dim, int end_dim);
/* Sliding windows of `size` every `step` along dim; the window is a new
 * last dim (PyTorch's unfold). */
ty_tensor *ty_unfold(ty_tensor *t, int dim, int64_t size, int64_t step);
/* Diagonal of dims d0, d1 with offset (>0 above the main diagonal); it
 * becomes the last dim. */
ty_tensor *ty_diagonal(ty_tensor *t, int64_t offset, int d0, int d1);
/* A view sharing storage with every field copied (used by detach). */
ty_tensor *ty_alias(ty_tensor *t);

/* ---- broadcasting ---- */
/* NumPy rules. Writes the result into out_shape/out_ndim; -1 with an error
 * naming fn and both shapes when they do not broadcast. */
int ty_broadcast_shapes(const char *fn, int nda, const int64_t *a, int ndb, const int64_t *b,
                        int *out_ndim, int64_t *out_shape);

/* ---- device checks used by every op ---- */
/* Fails with "<fn>: not implemented on cuda" when t is not on the CPU. */
int ty_check_cpu(const char *fn, const ty_tensor *t);
/* Fails when a and b live on different devices. */
int ty_check_same_device(const char *fn, const ty_tensor *a, const ty_tensor *b);

#endif
