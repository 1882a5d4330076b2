/* Matrix products: matmul, mm, bmm, mv, dot, outer and linear.
 *
 * Everything funnels into gemm_batched, which hands each matrix to OpenBLAS
 * as it lies in memory: a row-major matrix goes in as NoTrans, a transposed
 * view (strides (1, ld)) as Trans, and only a layout BLAS cannot describe
 * (stride 0 inside the matrix, or both strides > 1) is copied to contiguous
 * first. Batch dims are walked with per-operand strides that are 0 where an
 * operand broadcasts, so a broadcast operand is never materialised. When the
 * second operand is the same matrix for every batch item and the first one's
 * batch rows are evenly spaced, the batch is folded into M: one big GEMM is
 * much faster than many small ones (this is nn.Linear on (B,T,C) input).
 *
 * f32 products go to tycho's own GEMM (src/gemm.c) except big ones in every
 * dimension; f64 ones to OpenBLAS. Batch items run one after another, each
 * GEMM threaded itself, except many small f32 items (attention heads), which
 * run one per thread on the single-threaded kernel: the pthreads OpenBLAS
 * does not promise single-threaded behaviour inside an OpenMP region, but
 * tycho's kernel is plain code. The serial loop polls the interrupt flag
 * between items. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "autograd.h"
#include "elementwise.h"
#include "error.h"
#include "gemm.h"
#include "linalg.h"
#include "parallel.h"

/* One GEMM operand as cblas sees it, plus its per-batch-dim strides. */
typedef struct {
    const char *base;
    CBLAS_TRANSPOSE trans;
    int ld;
    int64_t bstride[TY_MAX_DIMS]; /* in elements, for each output batch dim */
} gemm_operand;

/* Can a rows x cols matrix with strides (rs, cs) be passed to row-major
 * cblas without a copy? Sets trans and ld when it can. Strides of size-1
 * dims are never read, so they do not matter. */
static int blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, CBLAS_TRANSPOSE *trans,
                       int *ld) {
    int64_t minr = rows > 1 ? rows : 1, minc = cols > 1 ? cols : 1, l;
    if ((cols <= 1 || cs == 1) && (rows <= 1 || rs >= minc)) {
        l = rows <= 1 ? minc : rs;
        *trans = CblasNoTrans;
    } else if ((rows <= 1 || rs == 1) && (cols <= 1 || cs >= minr)) {
        l = cols <= 1 ? minr : cs;
        *trans = CblasTrans;
    } else {
        return 0;
    }
    if (l > INT_MAX) return 0;
    *ld = (int)l;
    return 1;
}

/* Fills op for matrix t (ndim >= 2, last two dims rows x cols) against nb
 * output batch dims. *owned receives a contiguous copy when one was needed
 * (NULL otherwise); the caller releases it. */
static int prepare_operand(gemm_operand *op, ty_tensor *t, int nb, const int64_t *bshape,
                           ty_tensor **owned) {
    int nd = t->ndim;
    int64_t rows = t->shape[nd - 2], cols = t->shape[nd - 1];
    *owned = NULL;
    if (!blas_layout(rows, cols, t->strides[nd - 2], t->strides[nd - 1], &op->trans, &op->ld)) {
        t = *owned = ty_contiguous(t);
        if (!t) return -1;
        blas_layout(rows, cols, t->strides[nd - 2], t->strides[nd - 1], &op->trans, &op->ld);
    }
    op->base = ty_data(t);
    int lead = nb - (nd - 2);
    for (int j = 0; j < nb; j++) {
        int d = j - lead;
        op->bstride[j] = d < 0 || t->shape[d] == 1 || bshape[j] == 1 ? 0 : t->strides[d];
    }
    return 0;
}

/* Are a's matrices, stacked over the batch dims, one (batch*M) x K
 * row-major matrix with row stride ld? */
static int rows_mergeable(const gemm_operand *a, int nb, const int64_t *bshape, int64_t M) {
    if (a->trans != CblasNoTrans) return 0;
    int64_t expected = M * a->ld;
    for (int j = nb - 1; j >= 0; j--) {
        if (bshape[j] == 1) continue;
        if (a->bstride[j] != expected) return 0;
        expected *= bshape[j];
    }
    return 1;
}

/* Whether OpenBLAS should do an f32 product: only big ones in every
 * dimension, where its tuned blocking is worth its threads (see gemm.c for
 * why the rest goes to tycho's own kernel). */
static int prefer_blas(int M, int N, int K) {
    return M >= 512 && N >= 512 && K >= 512;
}

static int gemm_call(ty_dtype dt, const gemm_operand *a, const gemm_operand *b, int64_t oa,
                     int64_t ob, int M, int N, int K, double beta, void *c, int ldc) {
    if (M == 1 && N == 1) {
        /* A single dot product. einsum lowers elementwise-like contractions
         * ("ij,ij->i") to many of these, and a level-1 call skips the
         * per-call setup of GEMM, which would dominate. */
        int inca = a->trans == CblasNoTrans ? 1 : a->ld;
        int incb = b->trans == CblasNoTrans ? b->ld : 1;
        if (dt == TY_F32) {
            float d =
                cblas_sdot(K, (const float *)a->base + oa, inca, (const float *)b->base + ob, incb);
            float *cf = c;
            *cf = beta != 0 ? (float)beta * *cf + d : d;
        } else {
            double d = cblas_ddot(K, (const double *)a->base + oa, inca,
                                  (const double *)b->base + ob, incb);
            double *cd = c;
            *cd = beta != 0 ? beta * *cd + d : d;
        }
    } else if (dt == TY_F32 && !prefer_blas(M, N, K)) {
        int64_t ars = a->trans == CblasNoTrans ? a->ld : 1,
                acs = a->trans == CblasNoTrans ? 1 : a->ld;
        int64_t brs = b->trans == CblasNoTrans ? b->ld : 1,
                bcs = b->trans == CblasNoTrans ? 1 : b->ld;
        if (ty_sgemm(M, N, K, 1.0f, (const float *)a->base + oa, ars, acs,
                     (const float *)b->base + ob, brs, bcs, (float)beta, c, ldc) < 0)
            return ty_error("out of memory in a matrix product of %d x %d x %d", M, K, N);
    } else if (dt == TY_F32) {
        cblas_sgemm(CblasRowMajor, a->trans, b->trans, M, N, K, 1.0f, (const float *)a->base + oa,
                    a->ld, (const float *)b->base + ob, b->ld, (float)beta, c, ldc);
    } else {
        cblas_dgemm(CblasRowMajor, a->trans, b->trans, M, N, K, 1.0, (const double *)a->base + oa,
                    a->ld, (const double *)b->base + ob, b->ld, beta, c, ldc);
    }
    return 0;
}

/* out = a @ b + beta * out over nb batch dims of shape bshape. a is
 * (..., M, K) and b (..., K, N), both of out's dtype (f32 or f64), with
 * batch dims that broadcast to bshape; out is contiguous (batch..., M, N). */
static int gemm_batched(const char *fn, ty_tensor *a, ty_tensor *b, int nb, const int64_t *bshape,
                        ty_tensor *out, double beta) {
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    int64_t batch = 1;
    for (int j = 0; j < nb; j++) batch *= bshape[j];
    size_t es = ty_dtype_size(out->dtype);
    if (batch == 0 || M == 0 || N == 0) return 0;
    if (K == 0) {
        /* an empty sum is 0 (or leaves the bias); no BLAS call needed */
        if (beta == 0) memset(ty_data(out), 0, (size_t)(batch * M * N) * es);
        return 0;
    }
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX)
        return ty_error("%s: matrix dims %lld x %lld x %lld are too large for BLAS", fn,
                        (long long)M, (long long)K, (long long)N);

    gemm_operand ga, gb;
    ty_tensor *owned_a = NULL, *owned_b = NULL;
    int rc = 0;
    if (prepare_operand(&ga, a, nb, bshape, &owned_a) < 0 ||
        prepare_operand(&gb, b, nb, bshape, &owned_b) < 0) {
        ty_tensor_release(owned_a);
        return -1;
    }
    char *c = ty_data(out);
    int ldc = (int)N;

    int b_shared = 1;
    for (int j = 0; j < nb; j++) b_shared &= gb.bstride[j] == 0;
    if (batch == 1 || (b_shared && batch * M <= INT_MAX && rows_mergeable(&ga, nb, bshape, M))) {
        rc = gemm_call(out->dtype, &ga, &gb, 0, 0, (int)(batch * M), (int)N, (int)K, beta, c, ldc);
    } else {
        if (out->dtype == TY_F32 && 2.0 * (double)M * (double)N * (double)K < 4e6 &&
            ty_get_num_threads() > 1 && batch >= 4) {
            /* many small f32 products (attention heads): one item per
             * thread, each on tycho's single-threaded kernel */
            rc = ty_check_interrupt(fn);
            int failed = 0;
            int threads = ty_threads_for(batch * M * N * K / 8);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
            for (int64_t i = 0; i < batch; i++) {
                if (rc < 0) continue;
                int64_t oa = 0, ob = 0, rest = i;
                for (int j = nb - 1; j >= 0; j--) {
                    int64_t at = rest % bshape[j];
                    rest /= bshape[j];
                    oa += at * ga.bstride[j];
                    ob += at * gb.bstride[j];
                }
                if (gemm_call(out->dtype, &ga, &gb, oa, ob, (int)M, (int)N, (int)K, beta,
                              c + (size_t)(i * M * N) * es, ldc) < 0) {
#pragma omp atomic write
                    failed = 1;
                }
            }
            if (failed) rc = ty_error("%s: out of memory for the packing buffers", fn);
        } else {
            int64_t idx[TY_MAX_DIMS] = {0}, oa = 0, ob = 0;
            for (int64_t i = 0; i < batch; i++) {
                if (ty_check_interrupt(fn) < 0 ||
                    gemm_call(out->dtype, &ga, &gb, oa, ob, (int)M, (int)N, (int)K, beta,
                              c + (size_t)(i * M * N) * es, ldc) < 0) {
                    rc = -1;
                    break;
                }
                /* advance the batch index like an odometer */
                for (int j = nb - 1; j >= 0; j--) {
                    oa += ga.bstride[j];
                    ob += gb.bstride[j];
                    if (++idx[j] < bshape[j]) break;
                    oa -= ga.bstride[j] * bshape[j];
                    ob -= gb.bstride[j] * bshape[j];
                    idx[j] = 0;
                }
            }
        }
    }
    ty_tensor_release(owned_a);
    ty_tensor_release(owned_b);
    return rc;
}

static int check_float(const char *fn, const ty_tensor *t) {
    if (ty_dtype_is_float(t->dtype)) return 0;
    return ty_error("%s: dtype %s is not supported, cast to f32 or f64", fn,
                    ty_dtype_name(t->dtype));
}

/* Releases a and replaces it by its cast to dt (a itself when it matches). */
static int cast_in_place(ty_tensor **t, ty_dtype dt) {
    ty_tensor *c = ty_cast(*t, dt);
    ty_tensor_release(*t);
    *t = c;
    return c ? 0 : -1;
}

/* matmul with torch's rules, plus an optional bias (N) added to every row
 * (used by linear, whose caller has already checked the bias's shape). */
static ty_tensor *product_impl(const char *fn, ty_tensor *a, ty_tensor *b, ty_tensor *bias) {
    char sa[256], sb[256];
    if (ty_check_cpu(fn, a) < 0 || ty_check_cpu(fn, b) < 0 || ty_check_same_device(fn, a, b) < 0)
        return NULL;
    if (bias && (ty_check_cpu(fn, bias) < 0 || ty_check_same_device(fn, a, bias) < 0)) return NULL;
    if (a->ndim == 0 || b->ndim == 0) {
        ty_error("%s: both arguments need at least 1 dim, got shapes %s and %s", fn,
                 ty_shape_str(a, sa, sizeof sa), ty_shape_str(b, sb, sizeof sb));
        return NULL;
    }
    if (check_float(fn, a) < 0 || check_float(fn, b) < 0 || (bias && check_float(fn, bias) < 0))
        return NULL;
    int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim == 1 ? 0 : b->ndim - 2];
    if (ka != kb) {
        ty_error("%s: shapes %s and %s cannot be multiplied: %lld ~= %lld", fn,
                 ty_shape_str(a, sa, sizeof sa), ty_shape_str(b, sb, sizeof sb), (long long)ka,
                 (long long)kb);
        return NULL;
    }
    /* batch dims: everything before the matrix dims, right-aligned */
    int nba = a->ndim > 2 ? a->ndim - 2 : 0, nbb = b->ndim > 2 ? b->ndim - 2 : 0;
    int nb = nba > nbb ? nba : nbb;
    int64_t shape[TY_MAX_DIMS + 2];
    for (int j = 0; j < nb; j++) {
        int ia = j - (nb - nba), ib = j - (nb - nbb);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            ty_error("%s: batch dims of %s and %s do not broadcast: %lld ~= %lld", fn,
                     ty_shape_str(a, sa, sizeof sa), ty_shape_str(b, sb, sizeof sb), (long long)da,
                     (long long)db);
            return NULL;
        }
        shape[j] = da == 1 ? db : da;
    }
    int ndim = nb;
    if (a->ndim >= 2) shape[ndim++] = a->shape[a->ndim - 2];
    if (b->ndim >= 2) shape[ndim++] = b->shape[b->ndim - 1];

    ty_dtype dt = ty_promote(a->dtype, b->dtype);
    if (bias) dt = ty_promote(dt, bias->dtype);
    ty_dtype cdt = ty_compute_dtype(dt);

    /* 1-D operands become a row / a column; the output shape above already
     * leaves that dim out, and out is contiguous, so it is the same memory */
    ty_tensor *am = a->ndim == 1 ? ty_unsqueeze(a, 0) : ty_tensor_retain(a);
    ty_tensor *bm = b->ndim == 1 ? ty_unsqueeze(b, 1) : ty_tensor_retain(b);
    ty_tensor *bc = NULL, *out = NULL;
    if (!am || !bm || cast_in_place(&am, cdt) < 0 || cast_in_place(&bm, cdt) < 0) goto fail;
    out = ty_empty(ndim, shape, cdt, a->device);
    if (!out) goto fail;
    if (bias) {
        /* out starts as the bias in every row and the GEMM adds to it (beta 1) */
        bc = ty_cast(bias, cdt);
        if (!bc) goto fail;
        ty_tensor *contig = ty_contiguous(bc);
        ty_tensor_release(bc);
        bc = contig;
        if (!bc) goto fail;
        int64_t n = ty_numel(bc), rows = n ? ty_numel(out) / n : 0;
        size_t row_bytes = (size_t)n * ty_dtype_size(cdt);
        char *dst = ty_data(out);
        for (int64_t r = 0; r < rows; r++)
            memcpy(dst + (size_t)r * row_bytes, ty_data(bc), row_bytes);
    }
    if (gemm_batched(fn, am, bm, nb, shape, out, bias ? 1.0 : 0.0) < 0) goto fail;
    ty_tensor_release(am);
    ty_tensor_release(bm);
    ty_tensor_release(bc);
    if (cdt != dt && cast_in_place(&out, dt) < 0) return NULL;
    return out;
fail:
    ty_tensor_release(am);
    ty_tensor_release(bm);
    ty_tensor_release(bc);
    ty_tensor_release(out);
    return NULL;
}

/* The forward of every product runs with grad mode off: it makes views and
 * casts of its inputs internally, and those must not record nodes of their
 * own. The public functions record one node for the whole product. */
static ty_tensor *matmul_impl(const char *fn, ty_tensor *a, ty_tensor *b, ty_tensor *bias) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = product_impl(fn, a, b, bias);
    ty_set_grad_enabled(prev);
    return out;
}

/* ---- backward ----
 *
 * Every gradient below is written with ty_matmul, views and sums, so that
 * with create_graph the backward records its own graph and second
 * derivatives work. Inputs are saved only when the other input needs a
 * gradient: dL/da needs b and dL/db needs a. */

/* The last two dims swapped (a view). */
static ty_tensor *mT(ty_tensor *t) {
    return ty_transpose(t, t->ndim - 2, t->ndim - 1);
}

/* Reshapes t to (rows, cols), rows being the product of all dims but the
 * last (which is cols): the batch of a product folded into its rows. */
static ty_tensor *fold_rows(ty_tensor *t) {
    int64_t cols = t->shape[t->ndim - 1], rows = 1;
    for (int d = 0; d < t->ndim - 1; d++) rows *= t->shape[d];
    return ty_reshape(t, 2, (int64_t[]){rows, cols});
}

/* Reduces a gradient to an input's shape: sums broadcast batch dims, then
 * reshapes (the matrix form of a 1-D input back to 1-D). Releases g. */
static ty_tensor *to_input_shape(ty_tensor *g, int mdim, const int64_t *mshape,
                                 const ty_meta *meta) {
    if (!g) return NULL;
    ty_tensor *s = ty_sum_to(g, mdim, mshape);
    ty_tensor_release(g);
    if (!s || (s->ndim == meta->ndim)) return s;
    ty_tensor *r = ty_reshape(s, meta->ndim, meta->shape);
    ty_tensor_release(s);
    return r;
}

/* Gradients of out = matmul(a, b) (torch's rank rules) for output gradient
 * g. A 1-D a is the row (1,K) and a 1-D b the column (K,1); g gets those
 * removed dims back, and then
 *     dA = G @ B^T   summed over the batch dims A was broadcast along,
 *     dB = A^T @ G   likewise.
 * When B is a plain matrix and A carries batch dims, dB folds the batch
 * into the rows: one (K, R) @ (R, N) GEMM instead of a batch of products
 * summed afterwards. *ga / *gb are only computed when wanted (non-NULL). */
static int matmul_grads(ty_tensor *a, ty_tensor *b, const ty_meta *ma, const ty_meta *mb,
                        ty_tensor *g, ty_tensor **ga, ty_tensor **gb) {
    if (ma->ndim == 1 && mb->ndim == 1) { /* dot: out = sum(a * b) */
        if (ga && !(*ga = ty_mul(g, b))) return -1;
        if (gb && !(*gb = ty_mul(g, a))) return -1;
        return 0;
    }
    int64_t ashape[TY_MAX_DIMS], bshape[TY_MAX_DIMS];
    int andim = ma->ndim == 1 ? 2 : ma->ndim, bndim = mb->ndim == 1 ? 2 : mb->ndim;
    if (ma->ndim == 1) {
        ashape[0] = 1;
        ashape[1] = ma->shape[0];
    } else {
        memcpy(ashape, ma->shape, sizeof(int64_t) * (size_t)ma->ndim);
    }
    if (mb->ndim == 1) {
        bshape[0] = mb->shape[0];
        bshape[1] = 1;
    } else {
        memcpy(bshape, mb->shape, sizeof(int64_t) * (size_t)mb->ndim);
    }
    /* G: g with the dims a 1-D operand dropped put back */
    ty_tensor *G = ma->ndim == 1   ? ty_unsqueeze(g, g->ndim - 1)
                   : mb->ndim == 1 ? ty_unsqueeze(g, g->ndim)
                                   : ty_tensor_retain(g);
    if (!G) return -1;
    int rc = 0;
    if (ga) {
        ty_tensor *B = mb->ndim == 1 ? ty_unsqueeze(b, 1) : ty_tensor_retain(b);
        ty_tensor *Bt = B ? mT(B) : NULL;
        ty_tensor *p = Bt ? ty_matmul(G, Bt) : NULL;
        *ga = to_input_shape(p, andim, ashape, ma);
        ty_tensor_release(B);
        ty_tensor_release(Bt);
        if (!*ga) rc = -1;
    }
    if (gb && rc == 0) {
        ty_tensor *A = ma->ndim == 1 ? ty_unsqueeze(a, 0) : ty_tensor_retain(a);
        ty_tensor *A2 = NULL, *G2 = NULL, *At = NULL, *p = NULL;
        if (A && bndim == 2 && A->ndim > 2) {
            A2 = fold_rows(A);
            G2 = A2 ? fold_rows(G) : NULL;
        } else if (A) {
            A2 = ty_tensor_retain(A);
            G2 = ty_tensor_retain(G);
        }
        if (A2 && G2 && (At = mT(A2))) p = ty_matmul(At, G2);
        *gb = to_input_shape(p, bndim, bshape, mb);
        ty_tensor_release(A);
        ty_tensor_release(A2);
        ty_tensor_release(G2);
        ty_tensor_release(At);
        if (!*gb) rc = -1;
    }
    ty_tensor_release(G);
    return rc;
}

/* Loads the saved operands a (slot 0) and b (slot 1) that the wanted
 * gradients need; returns -1 when one cannot be had. */
static int load_operands(ty_node *n, ty_tensor **a, ty_tensor **b) {
    *a = *b = NULL;
    if (ty_node_needs_grad(n, 1) && !(*a = ty_saved(n, 0))) return -1;
    if (ty_node_needs_grad(n, 0) && !(*b = ty_saved(n, 1))) {
        ty_tensor_release(*a);
        *a = NULL;
        return -1;
    }
    return 0;
}

/* matmul, mm, bmm, mv and dot. saved: 0 = a (when b needs a gradient),
 * 1 = b (when a needs one). */
static int matmul_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *a, *b;
    if (load_operands(n, &a, &b) < 0) return -1;
    int rc = matmul_grads(a, b, &n->input_meta[0], &n->input_meta[1], g[0],
                          ty_node_needs_grad(n, 0) ? &gi[0] : NULL,
                          ty_node_needs_grad(n, 1) ? &gi[1] : NULL);
    ty_tensor_release(a);
    ty_tensor_release(b);
    return rc;
}

/* Records a two-operand product whose backward is `fn`, saving each operand
 * for the other's gradient. */
static ty_tensor *record_product(const char *name, ty_backward_fn fn, ty_tensor *a, ty_tensor *b,
                                 ty_tensor *out) {
    if (!out) return NULL;
    ty_node *n = ty_record(name, fn, 2, (ty_tensor *[]){a, b}, 1, &out);
    if (n) {
        if (ty_node_needs_grad(n, 1)) ty_save(n, 0, a);
        if (ty_node_needs_grad(n, 0)) ty_save(n, 1, b);
    }
    return out;
}

ty_tensor *ty_matmul(ty_tensor *a, ty_tensor *b) {
    return record_product("matmul", matmul_backward, a, b, matmul_impl("matmul", a, b, NULL));
}

/* Shared by the fixed-rank products: both operands must have these ranks. */
static int check_ranks(const char *fn, const ty_tensor *a, int na, const ty_tensor *b, int nb) {
    char sa[256], sb[256];
    if (a->ndim == na && b->ndim == nb) return 0;
    return ty_error("%s: expected %d-D and %d-D tensors, got shapes %s and %s", fn, na, nb,
                    ty_shape_str(a, sa, sizeof sa), ty_shape_str(b, sb, sizeof sb));
}

ty_tensor *ty_mm(ty_tensor *a, ty_tensor *b) {
    if (check_ranks("mm", a, 2, b, 2) < 0) return NULL;
    return record_product("mm", matmul_backward, a, b, matmul_impl("mm", a, b, NULL));
}

ty_tensor *ty_bmm(ty_tensor *a, ty_tensor *b) {
    char sa[256], sb[256];
    if (check_ranks("bmm", a, 3, b, 3) < 0) return NULL;
    if (a->shape[0] != b->shape[0]) {
        ty_error("bmm: batch sizes of %s and %s differ: %lld ~= %lld",
                 ty_shape_str(a, sa, sizeof sa), ty_shape_str(b, sb, sizeof sb),
                 (long long)a->shape[0], (long long)b->shape[0]);
        return NULL;
    }
    return record_product("bmm", matmul_backward, a, b, matmul_impl("bmm", a, b, NULL));
}

ty_tensor *ty_mv(ty_tensor *a, ty_tensor *v) {
    if (check_ranks("mv", a, 2, v, 1) < 0) return NULL;
    return record_product("mv", matmul_backward, a, v, matmul_impl("mv", a, v, NULL));
}

ty_tensor *ty_dot(ty_tensor *a, ty_tensor *b) {
    if (check_ranks("dot", a, 1, b, 1) < 0) return NULL;
    return record_product("dot", matmul_backward, a, b, matmul_impl("dot", a, b, NULL));
}

/* out = a b^T for 1-D a (N) and b (M): da = g @ b, db = a @ g (= g^T a).
 * saved: 0 = a (when b needs a gradient), 1 = b (when a needs one). */
static int outer_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *a, *b;
    if (load_operands(n, &a, &b) < 0) return -1;
    int rc = 0;
    if (ty_node_needs_grad(n, 0) && !(gi[0] = ty_matmul(g[0], b))) rc = -1;
    if (rc == 0 && ty_node_needs_grad(n, 1) && !(gi[1] = ty_matmul(a, g[0]))) rc = -1;
    ty_tensor_release(a);
    ty_tensor_release(b);
    return rc;
}

ty_tensor *ty_outer(ty_tensor *a, ty_tensor *b) {
    if (check_ranks("outer", a, 1, b, 1) < 0) return NULL;
    /* a column times a row: a GEMM with K = 1 */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *col = ty_unsqueeze(a, 1), *row = col ? ty_unsqueeze(b, 0) : NULL;
    ty_tensor *out = row ? matmul_impl("outer", col, row, NULL) : NULL;
    ty_set_grad_enabled(prev);
    ty_tensor_release(col);
    ty_tensor_release(row);
    return record_product("outer", outer_backward, a, b, out);
}

/* out = x @ w^T + bias, x (..., in), w (out, in):
 *     dx = g @ w,
 *     dw = g^T @ x with the batch folded into the rows: (out, R) @ (R, in),
 *     dbias = g summed over everything but its last dim.
 * saved: 0 = x (when w needs a gradient), 1 = w (when x needs one). */
static int linear_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    ty_tensor *x, *w;
    if (load_operands(n, &x, &w) < 0) return -1;
    int rc = 0;
    if (ty_node_needs_grad(n, 0) && !(gi[0] = ty_matmul(g[0], w))) rc = -1;
    if (rc == 0 && ty_node_needs_grad(n, 1)) {
        ty_tensor *g2 = fold_rows(g[0]), *x2 = g2 ? fold_rows(x) : NULL;
        ty_tensor *g2t = x2 ? mT(g2) : NULL;
        gi[1] = g2t ? ty_matmul(g2t, x2) : NULL;
        ty_tensor_release(g2);
        ty_tensor_release(x2);
        ty_tensor_release(g2t);
        if (!gi[1]) rc = -1;
    }
    if (rc == 0 && ty_node_needs_grad(n, 2) &&
        !(gi[2] = ty_sum_to(g[0], n->input_meta[2].ndim, n->input_meta[2].shape)))
        rc = -1;
    ty_tensor_release(x);
    ty_tensor_release(w);
    return rc;
}

ty_tensor *ty_linear(ty_tensor *x, ty_tensor *w, ty_tensor *bias) {
    char sx[256], sw[256], sbias[256];
    if (ty_check_cpu("linear", x) < 0 || ty_check_cpu("linear", w) < 0 ||
        ty_check_same_device("linear", x, w) < 0)
        return NULL;
    if (x->ndim < 1 || w->ndim != 2) {
        ty_error("linear: expected input (..., in) and weight (out, in), got %s and %s",
                 ty_shape_str(x, sx, sizeof sx), ty_shape_str(w, sw, sizeof sw));
        return NULL;
    }
    if (x->shape[x->ndim - 1] != w->shape[1]) {
        ty_error("linear: input %s and weight %s do not match: %lld ~= %lld",
                 ty_shape_str(x, sx, sizeof sx), ty_shape_str(w, sw, sizeof sw),
                 (long long)x->shape[x->ndim - 1], (long long)w->shape[1]);
        return NULL;
    }
    if (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0])) {
        ty_error("linear: bias must have shape (%lld) for weight %s, got %s",
                 (long long)w->shape[0], ty_shape_str(w, sw, sizeof sw),
                 ty_shape_str(bias, sbias, sizeof sbias));
        return NULL;
    }
    /* w^T as a view: gemm_batched passes it to BLAS as Trans, no copy */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *wt = ty_transpose(w, 0, 1);
    ty_tensor *out = wt ? matmul_impl("linear", x, wt, bias) : NULL;
    ty_set_grad_enabled(prev);
    ty_tensor_release(wt);
    if (!out) return NULL;
    ty_node *n = ty_record("linear", linear_backward, 3, (ty_tensor *[]){x, w, bias}, 1, &out);
    if (n) {
        if (ty_node_needs_grad(n, 1)) ty_save(n, 0, x);
        if (ty_node_needs_grad(n, 0)) ty_save(n, 1, w);
    }
    return out;
}
