#include "iter.h"

#include <string.h>

#include "error.h"
#include "parallel.h"

int ty_iter_init(ty_iter *it, const char *fn, int nops, ty_tensor *const *ops, int ndim,
                 const int64_t *shape) {
    memset(it, 0, sizeof *it);
    it->nops = nops;
    it->numel = 1;
    for (int d = 0; d < ndim; d++) it->numel *= shape[d];

    /* Broadcast each operand: align trailing dims, stride 0 where it has
     * size 1 (or lacks the dim), error where sizes differ. */
    int64_t full[TY_ITER_MAX_OPS][TY_MAX_DIMS];
    for (int k = 0; k < nops; k++) {
        const ty_tensor *t = ops[k];
        if (t->ndim > ndim) goto mismatch;
        int lead = ndim - t->ndim;
        for (int d = 0; d < ndim; d++) {
            if (d < lead) {
                full[k][d] = 0;
                continue;
            }
            int64_t size = t->shape[d - lead];
            if (size == shape[d]) full[k][d] = t->strides[d - lead] * (int64_t)ty_dtype_size(t->dtype);
            else if (size == 1) full[k][d] = 0;
            else goto mismatch;
        }
        it->base[k] = ty_data(t);
    }

    /* Drop size-1 dims and merge dim d into the previous kept one when every
     * operand steps through them as one run. */
    int out = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        if (out > 0) {
            int mergeable = 1;
            for (int k = 0; k < nops; k++)
                if (it->strides[k][out - 1] != full[k][d] * shape[d]) mergeable = 0;
            if (mergeable) {
                it->shape[out - 1] *= shape[d];
                for (int k = 0; k < nops; k++) it->strides[k][out - 1] = full[k][d];
                continue;
            }
        }
        it->shape[out] = shape[d];
        for (int k = 0; k < nops; k++) it->strides[k][out] = full[k][d];
        out++;
    }
    if (out == 0) { /* a scalar, or all dims of size 1 */
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++) it->strides[k][0] = 0;
        out = 1;
    }
    it->ndim = out;
    return 0;

mismatch : {
    char a[256], b[256];
    for (int k = 0; k < nops; k++) {
        const ty_tensor *t = ops[k];
        int bad = t->ndim > ndim;
        for (int d = 0; !bad && d < t->ndim; d++) {
            int64_t size = t->shape[d], target = shape[ndim - t->ndim + d];
            if (size != target && size != 1) bad = 1;
        }
        if (bad)
            return ty_error("%s: shape %s cannot be broadcast to %s", fn,
                            ty_shape_str(t, a, sizeof a), ty_shape_str_n(ndim, shape, b, sizeof b));
    }
    return ty_error("%s: shapes do not broadcast", fn);
}
}

/* Runs rows [row_begin, row_end) of the iteration; a row is one run of the
 * innermost dim. */
static void run_rows(const ty_iter *it, ty_iter_kernel kernel, void *ctx, int64_t row_begin,
                     int64_t row_end) {
    int nd = it->ndim;
    int64_t inner = it->shape[nd - 1];
    int64_t idx[TY_MAX_DIMS] = {0};
    char *ptrs[TY_ITER_MAX_OPS];
    int64_t inner_strides[TY_ITER_MAX_OPS];
    for (int k = 0; k < it->nops; k++) inner_strides[k] = it->strides[k][nd - 1];

    /* Decompose the first row index into outer coordinates. */
    int64_t r = row_begin;
    for (int d = nd - 2; d >= 0; d--) {
        idx[d] = r % it->shape[d];
        r /= it->shape[d];
    }
    for (int64_t row = row_begin; row < row_end; row++) {
        for (int k = 0; k < it->nops; k++) {
            char *p = it->base[k];
            for (int d = 0; d < nd - 1; d++) p += idx[d] * it->strides[k][d];
            ptrs[k] = p;
        }
        kernel(ptrs, inner_strides, inner, ctx);
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < it->shape[d]) break;
            idx[d] = 0;
        }
    }
}

void ty_iter_run_serial(const ty_iter *it, ty_iter_kernel kernel, void *ctx) {
    if (it->numel == 0) return;
    int64_t rows = it->numel / it->shape[it->ndim - 1];
    run_rows(it, kernel, ctx, 0, rows);
}

void ty_iter_run(const ty_iter *it, ty_iter_kernel kernel, void *ctx) {
    if (it->numel == 0) return;
    int64_t inner = it->shape[it->ndim - 1];
    int64_t rows = it->numel / inner;
    int nthreads = ty_threads_for(it->numel);
    if (nthreads <= 1) {
        run_rows(it, kernel, ctx, 0, rows);
        return;
    }
    if (rows < nthreads) {
        /* One long row: split the row itself into pieces. */
        if (it->ndim == 1) {
            int64_t per = (inner + nthreads - 1) / nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
            for (int t = 0; t < nthreads; t++) {
                int64_t begin = t * per, end = begin + per < inner ? begin + per : inner;
                if (begin >= end) continue;
                char *ptrs[TY_ITER_MAX_OPS];
                int64_t strides[TY_ITER_MAX_OPS];
                for (int k = 0; k < it->nops; k++) {
                    ptrs[k] = it->base[k] + begin * it->strides[k][0];
                    strides[k] = it->strides[k][0];
                }
                kernel(ptrs, strides, end - begin, ctx);
            }
            return;
        }
        nthreads = (int)rows;
    }
    int64_t per = (rows + nthreads - 1) / nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int t = 0; t < nthreads; t++) {
        int64_t begin = t * per, end = begin + per < rows ? begin + per : rows;
        if (begin < end) run_rows(it, kernel, ctx, begin, end);
    }
}
