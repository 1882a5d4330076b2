/* The kernels of the tensor products: one pass over the batch computes the
 * product or any of its gradients.
 *
 * For one sample and one path, the Clebsch-Gordan coefficients couple the
 * inputs into pair products P[k][pair] = sum_(i,j,k,c) c x1[u,i] x2[v,j],
 * walking only the nonzero coefficients. The weights then mix pairs into
 * output copies. Everything else is the same data read the other way round:
 *   out  = mix(W, P)                     (the product)
 *   G    = mix^T(W, g)                   (the gradient reaching P)
 *   dx1  = sum c G[k][pair] x2[v,j],   dx2 = sum c G[k][pair] x1[u,i]
 *   dW   = P against g
 * The dense paths into one output block (uvw, and weighted uuw, with weights
 * shared by the batch) do their mixing together, as GEMMs over a chunk of
 * samples; all other paths go sample by sample. The batch is cut into
 * chunks of about a megabyte of scratch, and OpenMP threads take whole
 * chunks, calling a single-threaded OpenBLAS. Shared-weight gradients are
 * summed over the batch in double. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "e3_internal.h"
#include "error.h"
#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Elements of scratch a thread uses for one chunk of samples (about 4 MB
 * in f32): big enough for efficient GEMMs, small enough to stay in cache. */
#define CHUNK_ELEMS ((int64_t)1 << 20)

/* The output copy a pair of a routed path goes to. */
static inline int64_t route(const e3_tp_path *p, int64_t pair) {
    switch (p->p.mode) {
    case TY_E3_UVU:
        return pair / p->p.mul2;
    case TY_E3_UVV:
        return pair % p->p.mul2;
    case TY_E3_UUU:
        return pair;
    default:
        return 0; /* uuw without weights sums every pair into one copy */
    }
}

/* Per-sample kernels for T = float and double. A block of mul copies of an
 * irrep of dimension d is stored copy-major (x[u * d + i]); the kernels work
 * on it transposed (At[i * mul + u]), so that every inner loop runs over
 * the copies with unit stride and vectorises. P and G are dk x K (pairs
 * last; row stride ld where a GEMM needs several paths side by side), O (an output block, or the
 * gradient reaching one) dk x mulo; w and dw are the path's own weights. */
#define SIMD _Pragma("omp simd")
#define SIMD_SUM _Pragma("omp simd reduction(+ : s)")
#define DEFINE_TP_KERNELS(T, COEF, NAME, ATTR)                                                     \
    ATTR static void load_t_##NAME(const void *xv, int64_t mul, int d, void *atv) {                \
        const T *x = xv;                                                                           \
        T *at = atv;                                                                               \
        for (int64_t u = 0; u < mul; u++)                                                          \
            for (int i = 0; i < d; i++) at[i * mul + u] = x[u * d + i];                            \
    }                                                                                              \
    ATTR static void store_t_##NAME(const void *atv, int64_t mul, int d, void *xv) {               \
        const T *at = atv;                                                                         \
        T *x = xv;                                                                                 \
        for (int64_t u = 0; u < mul; u++)                                                          \
            for (int i = 0; i < d; i++) x[u * d + i] += at[i * mul + u];                           \
    }                                                                                              \
    ATTR static void pair_product_##NAME(const e3_tp_path *p, const void *Av, const void *Bv,      \
                                         void *Pv, int64_t ld) {                                   \
        const T *A = Av, *B = Bv;                                                                  \
        T *P = Pv;                                                                                 \
        int64_t m1 = p->p.mul1, m2 = p->p.mul2;                                                    \
        for (int k = 0; k < p->dk; k++) memset(P + k * ld, 0, sizeof(T) * (size_t)p->K);           \
        for (int e = 0; e < p->nnz; e++) {                                                         \
            T c = (T)p->COEF[e], *pk = P + p->ck[e] * ld;                                          \
            const T *a = A + p->ci[e] * m1, *b = B + p->cj[e] * m2;                                \
            if (p->uu) {                                                                           \
                SIMD for (int64_t u = 0; u < m1; u++) pk[u] += c * a[u] * b[u];                    \
            } else if (m2 == 1) {                                                                  \
                T cb = c * b[0];                                                                   \
                SIMD for (int64_t u = 0; u < m1; u++) pk[u] += cb * a[u];                          \
            } else {                                                                               \
                for (int64_t u = 0; u < m1; u++) {                                                 \
                    T cu = c * a[u], *row = pk + u * m2;                                           \
                    SIMD for (int64_t v = 0; v < m2; v++) row[v] += cu * b[v];                     \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* dA += dP/dA . G, dB += dP/dB . G (either may be NULL: dA needs only B,                      \
     * dB only A) */                                                                               \
    ATTR static void pair_grad_##NAME(const e3_tp_path *p, const void *Gv, int64_t ld,             \
                                      const void *Av, const void *Bv, void *dAv, void *dBv) {      \
        const T *G = Gv, *A = Av, *B = Bv;                                                         \
        T *dA = dAv, *dB = dBv;                                                                    \
        int64_t m1 = p->p.mul1, m2 = p->p.mul2;                                                    \
        for (int e = 0; e < p->nnz; e++) {                                                         \
            T c = (T)p->COEF[e];                                                                   \
            const T *gk = G + p->ck[e] * ld;                                                       \
            const T *a = dB ? A + p->ci[e] * m1 : NULL, *b = dA ? B + p->cj[e] * m2 : NULL;        \
            T *da = dA ? dA + p->ci[e] * m1 : NULL, *db = dB ? dB + p->cj[e] * m2 : NULL;          \
            if (p->uu) {                                                                           \
                if (da) SIMD for (int64_t u = 0; u < m1; u++) da[u] += c * gk[u] * b[u];           \
                if (db) SIMD for (int64_t u = 0; u < m1; u++) db[u] += c * gk[u] * a[u];           \
            } else if (m2 == 1) {                                                                  \
                if (da) {                                                                          \
                    T cb = c * b[0];                                                               \
                    SIMD for (int64_t u = 0; u < m1; u++) da[u] += cb * gk[u];                     \
                }                                                                                  \
                if (db) {                                                                          \
                    T s = 0;                                                                       \
                    SIMD_SUM for (int64_t u = 0; u < m1; u++) s += gk[u] * a[u];                   \
                    db[0] += c * s;                                                                \
                }                                                                                  \
            } else {                                                                               \
                for (int64_t u = 0; u < m1; u++) {                                                 \
                    const T *row = gk + u * m2;                                                    \
                    if (da) {                                                                      \
                        T s = 0;                                                                   \
                        SIMD_SUM for (int64_t v = 0; v < m2; v++) s += row[v] * b[v];              \
                        da[u] += c * s;                                                            \
                    }                                                                              \
                    if (db) {                                                                      \
                        T ca = c * a[u];                                                           \
                        SIMD for (int64_t v = 0; v < m2; v++) db[v] += ca * row[v];                \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* O += mix(w, P), for a routed path or per-sample dense weights */                            \
    ATTR static void mix_##NAME(const e3_tp_path *p, const void *Pv, const void *wv, void *Ov) {   \
        const T *P = Pv, *w = wv;                                                                  \
        T *O = Ov;                                                                                 \
        int64_t K = p->K, mo = p->p.mulo;                                                          \
        for (int64_t k = 0; k < p->dk; k++) {                                                      \
            const T *pk = P + k * K;                                                               \
            T *ok = O + k * mo;                                                                    \
            if (p->dense) {                                                                        \
                for (int64_t q = 0; q < K; q++) {                                                  \
                    T v = pk[q];                                                                   \
                    const T *wq = w + q * mo;                                                      \
                    SIMD for (int64_t c = 0; c < mo; c++) ok[c] += v * wq[c];                      \
                }                                                                                  \
            } else if (p->ident) {                                                                 \
                if (w)                                                                             \
                    SIMD for (int64_t q = 0; q < K; q++) ok[q] += w[q] * pk[q];                    \
                else                                                                               \
                    SIMD for (int64_t q = 0; q < K; q++) ok[q] += pk[q];                           \
            } else {                                                                               \
                for (int64_t q = 0; q < K; q++) ok[route(p, q)] += (w ? w[q] : (T)1) * pk[q];      \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* G = mix^T(w, O) */                                                                          \
    ATTR static void mix_t_##NAME(const e3_tp_path *p, const void *Ov, const void *wv, void *Gv) { \
        const T *O = Ov, *w = wv;                                                                  \
        T *G = Gv;                                                                                 \
        int64_t K = p->K, mo = p->p.mulo;                                                          \
        for (int64_t k = 0; k < p->dk; k++) {                                                      \
            const T *ok = O + k * mo;                                                              \
            T *gk = G + k * K;                                                                     \
            if (p->dense) {                                                                        \
                for (int64_t q = 0; q < K; q++) {                                                  \
                    const T *wq = w + q * mo;                                                      \
                    T s = 0;                                                                       \
                    SIMD_SUM for (int64_t c = 0; c < mo; c++) s += wq[c] * ok[c];                  \
                    gk[q] = s;                                                                     \
                }                                                                                  \
            } else if (p->ident) {                                                                 \
                if (w)                                                                             \
                    SIMD for (int64_t q = 0; q < K; q++) gk[q] = w[q] * ok[q];                     \
                else                                                                               \
                    SIMD for (int64_t q = 0; q < K; q++) gk[q] = ok[q];                            \
            } else {                                                                               \
                for (int64_t q = 0; q < K; q++) gk[q] = (w ? w[q] : (T)1) * ok[route(p, q)];       \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* dw = d(O . mix(w, P))/dw for one sample (overwritten) */                                    \
    ATTR static void dweight_##NAME(const e3_tp_path *p, const void *Pv, const void *Ov,           \
                                    void *dwv) {                                                   \
        const T *P = Pv, *O = Ov;                                                                  \
        T *dw = dwv;                                                                               \
        int64_t K = p->K, mo = p->p.mulo;                                                          \
        memset(dw, 0, sizeof(T) * (size_t)(p->dense ? K * mo : K));                                \
        for (int64_t k = 0; k < p->dk; k++) {                                                      \
            const T *pk = P + k * K, *ok = O + k * mo;                                             \
            if (p->dense) {                                                                        \
                for (int64_t q = 0; q < K; q++) {                                                  \
                    T v = pk[q], *dq = dw + q * mo;                                                \
                    SIMD for (int64_t c = 0; c < mo; c++) dq[c] += v * ok[c];                      \
                }                                                                                  \
            } else if (p->ident) {                                                                 \
                SIMD for (int64_t q = 0; q < K; q++) dw[q] += pk[q] * ok[q];                       \
            } else {                                                                               \
                for (int64_t q = 0; q < K; q++) dw[q] += pk[q] * ok[route(p, q)];                  \
            }                                                                                      \
        }                                                                                          \
    }

/* Each kernel twice: for the build's baseline, and for AVX2 with FMA,
 * chosen at run time (the loops over copies then run eight floats wide). */
#define AVX2 __attribute__((target("avx2,fma")))
DEFINE_TP_KERNELS(float, cf, float, )
DEFINE_TP_KERNELS(double, cd, double, )
#if defined(__x86_64__) && defined(__GNUC__)
DEFINE_TP_KERNELS(float, cf, float_avx2, AVX2)
DEFINE_TP_KERNELS(double, cd, double_avx2, AVX2)
#define HAVE_AVX2_KERNELS 1
#endif

/* The kernels of one dtype; they take void pointers so that one table
 * type serves both. */
typedef struct {
    void (*load_t)(const void *, int64_t, int, void *);
    void (*store_t)(const void *, int64_t, int, void *);
    void (*pair_product)(const e3_tp_path *, const void *, const void *, void *, int64_t);
    void (*pair_grad)(const e3_tp_path *, const void *, int64_t, const void *, const void *, void *,
                      void *);
    void (*mix)(const e3_tp_path *, const void *, const void *, void *);
    void (*mix_t)(const e3_tp_path *, const void *, const void *, void *);
    void (*dweight)(const e3_tp_path *, const void *, const void *, void *);
} tp_kernels;

#define KERNEL_TABLE(N)                                                                            \
    { load_t_##N, store_t_##N, pair_product_##N, pair_grad_##N, mix_##N, mix_t_##N, dweight_##N }
static const tp_kernels kernels_f32 = KERNEL_TABLE(float);
static const tp_kernels kernels_f64 = KERNEL_TABLE(double);
#ifdef HAVE_AVX2_KERNELS
static const tp_kernels kernels_f32_avx2 = KERNEL_TABLE(float_avx2);
static const tp_kernels kernels_f64_avx2 = KERNEL_TABLE(double_avx2);
#endif

static const tp_kernels *kernels_for(ty_dtype dt) {
#ifdef HAVE_AVX2_KERNELS
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return dt == TY_F64 ? &kernels_f64_avx2 : &kernels_f32_avx2;
#endif
    return dt == TY_F64 ? &kernels_f64 : &kernels_f32;
}

/* C (m x n) = op(A) op(B) + beta C, row-major, through OpenBLAS. Returns 0
 * (the int leaves room for a GEMM that can fail, as ty_sgemm can). */
static int gemm(ty_dtype dt, bool ta, bool tb, int m, int n, int k, const void *a, int lda,
                const void *b, int ldb, double beta, void *c, int ldc) {
    if (m == 0 || n == 0) return 0;
    CBLAS_TRANSPOSE A = ta ? CblasTrans : CblasNoTrans, B = tb ? CblasTrans : CblasNoTrans;
    if (dt == TY_F64)
        cblas_dgemm(CblasRowMajor, A, B, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
    else
        cblas_sgemm(CblasRowMajor, A, B, m, n, k, 1.0f, a, lda, b, ldb, (float)beta, c, ldc);
    return 0;
}

/* What one run reads and writes: the slots (NULL where a slot is a target
 * or absent) with their row strides, and the results (contiguous rows of
 * dim1, dim2, dimo and, for per-sample weights, nw elements). */
typedef struct {
    const ty_e3_tp *tp;
    const tp_kernels *k;
    ty_dtype dt;
    size_t es;
    bool per_sample, weighted_only;
    const char *x1, *x2, *w, *g;
    int64_t rs1, rs2, rsw, rsg; /* their row strides */
    char *out, *dx1, *dx2, *dw;
    const char *Wall; /* the shared weights of each group, stacked */
} tp_job;

/* One thread's scratch for a chunk of samples. The blocks of every vector
 * read are transposed once into X1t, X2t, Gt, and the targets accumulate
 * transposed in DX1t, DX2t, OUTt (rows of tdim elements), to be transposed
 * back into the results at the end of the chunk. P, G, T hold a group's
 * GEMM operands, R the per-sample gradients of routed shared weights,
 * dw_acc the thread's sum of the shared weight gradient. */
typedef struct {
    char *X1t, *X2t, *Gt, *DX1t, *DX2t, *OUTt, *P, *G, *T, *Wt, *R;
    double *dw_acc;
} tp_scratch;

/* Element `at` of row z of a buffer of rows `row` elements long; NULL stays
 * NULL (a slot that is the target of the run has no data). */
static inline char *elem(const tp_job *j, const char *base, int64_t z, int64_t row, int64_t at) {
    return base ? (char *)base + ((size_t)z * (size_t)row + (size_t)at) * j->es : NULL;
}

/* The transposed block b of vector v (0: input 1, 1: input 2, 2: output)
 * of chunk row zz in buffer base. */
static inline char *tblock(const tp_job *j, const char *base, int v, int64_t zz, int b) {
    return elem(j, base, zz, j->tp->tdim[v], j->tp->blk[v][b].toff);
}

/* The weights a sample uses for path p (NULL when the path has none). */
static const char *weights_of(const tp_job *j, const e3_tp_path *p, int64_t z) {
    if (!p->p.has_weight) return NULL;
    return elem(j, j->w, j->per_sample ? z : 0, j->rsw, p->woff);
}

/* Transposes the blocks of the vectors read for sample z (chunk row zz) and
 * zeroes its target rows. */
static void load_sample(const tp_job *j, tp_scratch *s, int64_t z, int64_t zz) {
    const ty_e3_tp *tp = j->tp;
    const char *src[3] = {j->x1, j->x2, j->g};
    char *dst[3] = {s->X1t, s->X2t, s->Gt}, *tgt[3] = {s->DX1t, s->DX2t, s->OUTt};
    int64_t rows[3] = {j->rs1, j->rs2, j->rsg};
    for (int v = 0; v < 3; v++) {
        if (tgt[v]) memset(elem(j, tgt[v], zz, tp->tdim[v], 0), 0, (size_t)tp->tdim[v] * j->es);
        if (!src[v]) continue;
        for (int b = 0; b < tp->nblk[v]; b++) {
            const e3_tp_block *k = &tp->blk[v][b];
            j->k->load_t(elem(j, src[v], z, rows[v], k->off), k->mul, k->d,
                         tblock(j, dst[v], v, zz, b));
        }
    }
}

/* Writes the transposed target rows of sample z into the results (zeros
 * where no block lies). */
static void store_sample(const tp_job *j, const tp_scratch *s, int64_t z, int64_t zz) {
    const ty_e3_tp *tp = j->tp;
    const char *src[3] = {s->DX1t, s->DX2t, s->OUTt};
    char *dst[3] = {j->dx1, j->dx2, j->out};
    int64_t rows[3] = {tp->dim1, tp->dim2, tp->dimo};
    for (int v = 0; v < 3; v++) {
        if (!src[v]) continue;
        memset(elem(j, dst[v], z, rows[v], 0), 0, (size_t)rows[v] * j->es);
        for (int b = 0; b < tp->nblk[v]; b++) {
            const e3_tp_block *k = &tp->blk[v][b];
            j->k->store_t(tblock(j, src[v], v, zz, b), k->mul, k->d,
                          elem(j, dst[v], z, rows[v], k->off));
        }
    }
}

/* Sample z (chunk row zz) of every path that is not a shared dense one. */
static void run_sample(const tp_job *j, tp_scratch *s, int64_t z, int64_t zz) {
    const ty_e3_tp *tp = j->tp;
    char *P = s->P, *G = s->G;
    for (int pi = 0; pi < tp->n; pi++) {
        const e3_tp_path *p = &tp->paths[pi];
        if ((p->dense && !j->per_sample) || (j->weighted_only && !p->p.has_weight)) continue;
        const char *w = weights_of(j, p, z);
        const char *A = tblock(j, s->X1t, 0, zz, p->blk[0]);
        const char *B = tblock(j, s->X2t, 1, zz, p->blk[1]);
        if (j->out) {
            j->k->pair_product(p, A, B, P, p->K);
            j->k->mix(p, P, w, tblock(j, s->OUTt, 2, zz, p->blk[2]));
            continue;
        }
        const char *O = tblock(j, s->Gt, 2, zz, p->blk[2]);
        if (j->dw && p->p.has_weight) {
            j->k->pair_product(p, A, B, P, p->K);
            char *dw = j->per_sample ? elem(j, j->dw, z, tp->nw, p->woff)
                                     : elem(j, s->R, zz, tp->nw, p->woff);
            j->k->dweight(p, P, O, dw);
        }
        if (j->dx1 || j->dx2) j->k->mix_t(p, O, w, G);
        if (j->dx1 || j->dx2)
            j->k->pair_grad(p, G, p->K, A, B, tblock(j, s->DX1t, 0, zz, p->blk[0]),
                            tblock(j, s->DX2t, 1, zz, p->blk[1]));
    }
}

/* Adds the per-sample gradients of routed shared weights (R) into dw_acc. */
static void reduce_routed(const tp_job *j, tp_scratch *s, int64_t nz) {
    const ty_e3_tp *tp = j->tp;
    for (int pi = 0; pi < tp->n; pi++) {
        const e3_tp_path *p = &tp->paths[pi];
        if (p->dense || !p->p.has_weight) continue;
        for (int64_t z = 0; z < nz; z++)
            for (int64_t q = p->woff; q < p->woff + p->K; q++)
                s->dw_acc[q] += j->dt == TY_F64 ? ((const double *)s->R)[z * tp->nw + q]
                                                : ((const float *)s->R)[z * tp->nw + q];
    }
}

/* Adds n contiguous elements. */
static void add_n(ty_dtype dt, const void *src, void *dst, int64_t n) {
    if (dt == TY_F64) {
        const double *a = src;
        double *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] += a[i];
    } else {
        const float *a = src;
        float *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] += a[i];
    }
}

/* Chunk rows 0..nz of one group of dense paths with shared weights, as
 * GEMMs over the chunk: GEMM rows are (sample, k), dk per sample; columns
 * are the pairs of all the group's paths. */
static int run_group(const tp_job *j, tp_scratch *s, const e3_tp_group *gr, int64_t nz) {
    const ty_e3_tp *tp = j->tp;
    int64_t dk = gr->dk, K = gr->K, mo = gr->mulo;
    if (nz == 0 || K == 0 || mo == 0) return 0; /* no weights: nothing flows */
    int rows = (int)(nz * dk);
    const char *Wg = elem(j, j->Wall, 0, 0, gr->woff);
    for (int64_t zz = 0; zz < nz; zz++) {
        for (int i = 0; i < gr->n && (j->out || j->dw); i++) {
            const e3_tp_path *p = &tp->paths[gr->paths[i]];
            j->k->pair_product(p, tblock(j, s->X1t, 0, zz, p->blk[0]),
                               tblock(j, s->X2t, 1, zz, p->blk[1]),
                               elem(j, s->P, zz, dk * K, p->gcol), K);
        }
        if (!j->out)
            memcpy(elem(j, s->T, zz, dk * mo, 0), tblock(j, s->Gt, 2, zz, gr->blk),
                   (size_t)(dk * mo) * j->es);
    }
    if (j->out) {
        /* T = P W, then into the output block */
        if (gemm(j->dt, false, false, rows, (int)mo, (int)K, s->P, (int)K, Wg, (int)mo, 0, s->T,
                 (int)mo) < 0)
            return -1;
        for (int64_t zz = 0; zz < nz; zz++)
            add_n(j->dt, elem(j, s->T, zz, dk * mo, 0), tblock(j, s->OUTt, 2, zz, gr->blk),
                  dk * mo);
        return 0;
    }
    if (j->dw) {
        /* dW = P^T T, summed over the chunk's rows, then to each path's place */
        if (gemm(j->dt, true, false, (int)K, (int)mo, rows, s->P, (int)K, s->T, (int)mo, 0, s->Wt,
                 (int)mo) < 0)
            return -1;
        for (int i = 0; i < gr->n; i++) {
            const e3_tp_path *p = &tp->paths[gr->paths[i]];
            for (int64_t q = 0; q < p->K * mo; q++) {
                int64_t at = p->gcol * mo + q;
                s->dw_acc[p->woff + q] +=
                    j->dt == TY_F64 ? ((double *)s->Wt)[at] : ((float *)s->Wt)[at];
            }
        }
    }
    if (j->dx1 || j->dx2) {
        /* G = T W^T */
        if (gemm(j->dt, false, true, rows, (int)K, (int)mo, s->T, (int)mo, Wg, (int)mo, 0, s->G,
                 (int)K) < 0)
            return -1;
        for (int64_t zz = 0; zz < nz; zz++)
            for (int i = 0; i < gr->n; i++) {
                const e3_tp_path *p = &tp->paths[gr->paths[i]];
                j->k->pair_grad(
                    p, elem(j, s->G, zz, dk * K, p->gcol), K, tblock(j, s->X1t, 0, zz, p->blk[0]),
                    tblock(j, s->X2t, 1, zz, p->blk[1]), tblock(j, s->DX1t, 0, zz, p->blk[0]),
                    tblock(j, s->DX2t, 1, zz, p->blk[1]));
            }
    }
    return 0;
}

/* Samples z0 .. z0+nz, everything, on one thread. -1: out of memory. */
static int run_chunk(const tp_job *j, tp_scratch *s, int64_t z0, int64_t nz) {
    for (int64_t zz = 0; zz < nz; zz++) {
        load_sample(j, s, z0 + zz, zz);
        run_sample(j, s, z0 + zz, zz);
    }
    if (s->R) reduce_routed(j, s, nz);
    for (int g = 0; g < j->tp->ngroups && !j->per_sample; g++)
        if (run_group(j, s, &j->tp->groups[g], nz) < 0) return -1;
    for (int64_t zz = 0; zz < nz; zz++) store_sample(j, s, z0 + zz, zz);
    return 0;
}

/* The shared weights of every group stacked (see e3_tp_group) into Wall. */
static void stack_weights(const tp_job *j, char *Wall) {
    const ty_e3_tp *tp = j->tp;
    for (int g = 0; g < tp->ngroups; g++) {
        const e3_tp_group *gr = &tp->groups[g];
        for (int i = 0; i < gr->n; i++) {
            const e3_tp_path *p = &tp->paths[gr->paths[i]];
            memcpy(Wall + (size_t)(gr->woff + p->gcol * gr->mulo) * j->es,
                   elem(j, j->w, 0, 0, p->woff), (size_t)(p->K * gr->mulo) * j->es);
        }
    }
}

/* n elements (at least one) of the job's dtype, or NULL when not wanted. */
static void *scratch_alloc(const tp_job *j, bool wanted, int64_t n, bool *failed) {
    if (!wanted) return NULL;
    void *p = malloc((size_t)(n > 0 ? n : 1) * j->es);
    if (!p) *failed = true;
    return p;
}

static void scratch_free(tp_scratch *s) {
    char *bufs[] = {s->X1t, s->X2t, s->Gt, s->DX1t, s->DX2t, s->OUTt,
                    s->P,   s->G,   s->T,  s->Wt,   s->R};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(s->dw_acc);
}

static bool scratch_init(const tp_job *j, tp_scratch *s, int64_t chunk, bool shared_dw) {
    const ty_e3_tp *tp = j->tp;
    bool failed = false;
    s->X1t = scratch_alloc(j, j->x1 != NULL, chunk * tp->tdim[0], &failed);
    s->X2t = scratch_alloc(j, j->x2 != NULL, chunk * tp->tdim[1], &failed);
    s->Gt = scratch_alloc(j, j->g != NULL, chunk * tp->tdim[2], &failed);
    s->DX1t = scratch_alloc(j, j->dx1 != NULL, chunk * tp->tdim[0], &failed);
    s->DX2t = scratch_alloc(j, j->dx2 != NULL, chunk * tp->tdim[1], &failed);
    s->OUTt = scratch_alloc(j, j->out != NULL, chunk * tp->tdim[2], &failed);
    s->P = scratch_alloc(j, true, chunk * tp->max_pk, &failed);
    s->G = scratch_alloc(j, true, chunk * tp->max_pk, &failed);
    s->T = scratch_alloc(j, true, chunk * tp->max_ko, &failed);
    s->Wt = scratch_alloc(j, true, tp->max_kw, &failed);
    s->R = scratch_alloc(j, shared_dw, chunk * tp->nw, &failed);
    s->dw_acc = shared_dw ? calloc((size_t)tp->nw, sizeof(double)) : NULL;
    return !failed && (!shared_dw || s->dw_acc);
}

static char *data_of(ty_tensor *t) {
    return t ? (char *)ty_data(t) : NULL;
}

int e3_tp_run(const ty_e3_tp *tp, unsigned targets, const void *const in[4], const int64_t rs[4],
              int64_t Z, bool per_sample, bool weighted_only, ty_tensor *res[4]) {
    const char *fn = "e3_tensor_product";
    ty_tensor *any = res[0] ? res[0] : res[1] ? res[1] : res[2] ? res[2] : res[3];
    ty_dtype dt = any->dtype;
    tp_job job = {.tp = tp,
                  .k = kernels_for(dt),
                  .dt = dt,
                  .es = ty_dtype_size(dt),
                  .per_sample = per_sample,
                  .weighted_only = weighted_only};
    tp_job *j = &job;
    j->x1 = in[E3_X1], j->x2 = in[E3_X2], j->w = in[E3_W], j->g = in[E3_OUT];
    j->rs1 = rs[E3_X1], j->rs2 = rs[E3_X2], j->rsw = rs[E3_W], j->rsg = rs[E3_OUT];
    if (targets & (1u << E3_OUT)) j->out = data_of(res[E3_OUT]);
    if (targets & (1u << E3_X1)) j->dx1 = data_of(res[E3_X1]);
    if (targets & (1u << E3_X2)) j->dx2 = data_of(res[E3_X2]);
    if (targets & (1u << E3_W)) j->dw = data_of(res[E3_W]);
    bool shared_dw = j->dw && !per_sample && tp->nw > 0;

    /* samples per chunk: a thread's scratch stays near CHUNK_ELEMS */
    int64_t per = 2 * (tp->tdim[0] + tp->tdim[1] + tp->tdim[2]) + 2 * tp->max_pk + tp->max_ko +
                  (shared_dw ? tp->nw : 0);
    int64_t chunk = Z > 0 ? Z : 1;
    if (per > 0 && CHUNK_ELEMS / per < chunk) chunk = CHUNK_ELEMS / per;
    if (chunk < 1) chunk = 1;
    if (tp->max_pk > 0 && chunk > INT_MAX / tp->max_pk)
        chunk = INT_MAX / tp->max_pk; /* GEMM ints */
    int64_t nchunks = (Z + chunk - 1) / chunk;
    int nt = ty_threads_for(Z * (tp->dim1 + tp->dim2 + tp->dimo + tp->nw) * 8);
    if (nt > nchunks) nt = nchunks > 0 ? (int)nchunks : 1;

    tp_scratch *sc = calloc((size_t)nt, sizeof *sc);
    bool failed = !sc;
    char *Wall = scratch_alloc(j, true, tp->nw_dense, &failed);
    for (int t = 0; t < nt && !failed; t++) failed = !scratch_init(j, &sc[t], chunk, shared_dw);
    int rc = 0;
    if (failed) {
        rc = ty_error("%s: out of memory for the scratch of %lld samples", fn, (long long)chunk);
        goto done;
    }
    if (!per_sample && j->w && tp->ngroups > 0) stack_weights(j, Wall);
    j->Wall = Wall;

    /* Threads take whole chunks, each doing its GEMMs itself: OpenBLAS is
     * told to stay on the calling thread meanwhile, or its own threads would
     * spin against ours. */
    bool blas = nt > 1;
    if (blas) openblas_set_num_threads(1);
    int stop = 0, oom = 0;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int64_t c = 0; c < nchunks; c++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        int halt;
#pragma omp atomic read
        halt = stop;
        if (halt) continue;
        if (ty_interrupted()) {
#pragma omp atomic write
            stop = 1;
            continue;
        }
        int64_t z0 = c * chunk, nz = z0 + chunk < Z ? chunk : Z - z0;
        if (run_chunk(j, &sc[t], z0, nz) < 0) {
#pragma omp atomic write
            oom = 1;
#pragma omp atomic write
            stop = 1;
        }
    }
    if (blas) openblas_set_num_threads(ty_get_num_threads());
    if (oom) {
        rc = ty_error("%s: out of memory for a GEMM's packing buffers", fn);
        goto done;
    }
    if (stop || ty_check_interrupt(fn) < 0) {
        if (stop) ty_check_interrupt(fn);
        rc = -1;
        goto done;
    }
    if (shared_dw)
        for (int64_t q = 0; q < tp->nw; q++) {
            double v = 0;
            for (int t = 0; t < nt; t++) v += sc[t].dw_acc[q];
            if (dt == TY_F64)
                ((double *)j->dw)[q] = v;
            else
                ((float *)j->dw)[q] = (float)v;
        }

done:
    for (int t = 0; sc && t < nt; t++) scratch_free(&sc[t]);
    free(sc);
    free(Wall);
    return rc;
}
