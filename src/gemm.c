/* Single-precision GEMM for the shapes of small models.
 *
 * Why not OpenBLAS for everything: the transformer GEMMs of a small model
 * are tall and thin (6400 x 64 times 64 x 192), and Debian's OpenBLAS 0.3.21
 * runs some of them at a fifth of the machine's peak (N = 192 was slower than
 * N = 384). Its pthreads also keep spinning after a call and fight the
 * OpenMP threads of the elementwise kernels that run next, which made a 2
 * thread ViT step slower than a 1 thread one. This GEMM runs on tycho's own
 * OpenMP threads, so both problems go away; OpenBLAS stays for f64 and for
 * big square products (see ty_sgemm_prefer).
 *
 * The structure is the classic one of GotoBLAS/BLIS:
 *   for each block of KC rows of B (and columns of A):
 *     pack B (KC x N) into panels of NR = 16 columns, k-major
 *     for each block of MC rows of A   (in parallel, with column chunks):
 *       for each 6 x 16 tile: the micro-kernel, 12 AVX2 accumulators
 * The kernel reads A in place through its strides (packing A cost a quarter
 * of the time of the N = 64 products of a small transformer); only a last
 * panel of fewer than 6 rows is copied, zero-padded. Packing B and reading
 * A go through arbitrary strides, so transposed and strided operands cost
 * nothing extra. The micro-kernel is compiled for
 * AVX2+FMA and chosen at run time; other CPUs get a plain C kernel of the
 * same shape, which the compiler vectorises for whatever it targets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "parallel.h"

#define MR 6
#define NR 16
#define KC 256
#define MC 96      /* 16 panels of A: 96 KB, fits L2 */
#define NCHUNK 256 /* columns of C per parallel task */

/* ---- micro-kernels: acc(6x16) = sum_k a[k][0..5] (x) b[k][0..15] ---- */

/* The kernels write acc (row-major 6 x 16) when c is NULL; otherwise they
 * update the full 6 x 16 tile of C at c directly: C = alpha acc + beta C. */
typedef void (*kernel_fn)(int kc, const float *a, int64_t ars, int64_t acs, const float *bp,
                          int64_t bs, float *acc, float *c, int64_t ldc, float alpha, float beta);

static void store_tile(const float *acc, float *c, int64_t ldc, int mr, int nr, float alpha,
                       float beta);

static void kernel_generic(int kc, const float *a, int64_t ars, int64_t acs, const float *bp,
                           int64_t bs, float *acc, float *c_out, int64_t ldc, float alpha,
                           float beta) {
    float *cout = c_out;
    float c[MR][NR];
    memset(c, 0, sizeof c);
    for (int k = 0; k < kc; k++) {
        for (int r = 0; r < MR; r++) {
            float av = a[r * ars + k * acs];
            for (int j = 0; j < NR; j++) c[r][j] += av * bp[j];
        }
        bp += bs;
    }
    if (cout)
        store_tile(&c[0][0], cout, ldc, MR, NR, alpha, beta);
    else
        memcpy(acc, c, sizeof c);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* One row of the tile: C[0..15] = alpha acc + beta C. */
__attribute__((target("avx2,fma"))) static inline void update_row(float *c, __m256 lo, __m256 hi,
                                                                  __m256 va, float beta) {
    lo = _mm256_mul_ps(lo, va);
    hi = _mm256_mul_ps(hi, va);
    if (beta != 0) {
        __m256 vb = _mm256_set1_ps(beta);
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(c), vb, lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(c + 8), vb, hi);
    }
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + 8, hi);
}

__attribute__((target("avx2,fma"))) static void kernel_avx2(int kc, const float *a, int64_t ars,
                                                            int64_t acs, const float *bp,
                                                            int64_t bs, float *acc, float *c,
                                                            int64_t ldc, float alpha, float beta) {
    const float *a0 = a, *a1 = a + ars, *a2 = a + 2 * ars, *a3 = a + 3 * ars, *a4 = a + 4 * ars,
                *a5 = a + 5 * ars;
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t k = 0, off = 0; k < kc; k++, off += acs) {
        __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
        __m256 av;
        av = _mm256_broadcast_ss(a0 + off);
        c00 = _mm256_fmadd_ps(av, b0, c00);
        c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a1 + off);
        c10 = _mm256_fmadd_ps(av, b0, c10);
        c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a2 + off);
        c20 = _mm256_fmadd_ps(av, b0, c20);
        c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a3 + off);
        c30 = _mm256_fmadd_ps(av, b0, c30);
        c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a4 + off);
        c40 = _mm256_fmadd_ps(av, b0, c40);
        c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a5 + off);
        c50 = _mm256_fmadd_ps(av, b0, c50);
        c51 = _mm256_fmadd_ps(av, b1, c51);
        bp += bs;
    }
    if (c) {
        __m256 va = _mm256_set1_ps(alpha);
        update_row(c, c00, c01, va, beta);
        update_row(c + ldc, c10, c11, va, beta);
        update_row(c + 2 * ldc, c20, c21, va, beta);
        update_row(c + 3 * ldc, c30, c31, va, beta);
        update_row(c + 4 * ldc, c40, c41, va, beta);
        update_row(c + 5 * ldc, c50, c51, va, beta);
        return;
    }
    _mm256_storeu_ps(acc + 0, c00);
    _mm256_storeu_ps(acc + 8, c01);
    _mm256_storeu_ps(acc + 16, c10);
    _mm256_storeu_ps(acc + 24, c11);
    _mm256_storeu_ps(acc + 32, c20);
    _mm256_storeu_ps(acc + 40, c21);
    _mm256_storeu_ps(acc + 48, c30);
    _mm256_storeu_ps(acc + 56, c31);
    _mm256_storeu_ps(acc + 64, c40);
    _mm256_storeu_ps(acc + 72, c41);
    _mm256_storeu_ps(acc + 80, c50);
    _mm256_storeu_ps(acc + 88, c51);
}

static kernel_fn pick_kernel(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kernel_avx2;
    return kernel_generic;
}
#else
static kernel_fn pick_kernel(void) {
    return kernel_generic;
}
#endif

static kernel_fn micro_kernel(void) {
    static kernel_fn k = NULL; /* a benign race: every thread computes the same pointer */
    if (!k) k = pick_kernel();
    return k;
}

/* ---- packing ---- */

/* Panel p of B (b already at row k0): columns p*NR .. p*NR+15 of kc rows,
 * B(k0 + k, p*NR + j) at dst[k*NR + j], zero beyond N. */
static void pack_b_panel(int64_t p, int kc, int64_t N, const float *b, int64_t brs, int64_t bcs,
                         float *dst) {
    int64_t j0 = p * NR;
    int nr = N - j0 < NR ? (int)(N - j0) : NR;
    if (bcs == 1 && nr == NR) {
        for (int k = 0; k < kc; k++) memcpy(dst + k * NR, b + k * brs + j0, NR * sizeof(float));
        return;
    }
    for (int k = 0; k < kc; k++) {
        const float *src = b + k * brs + j0 * bcs;
        int j = 0;
        for (; j < nr; j++) dst[k * NR + j] = src[j * bcs];
        for (; j < NR; j++) dst[k * NR + j] = 0;
    }
}

/* A rows i0..i0+mc, columns k0..k0+kc (a already offset), into panels of MR
 * rows: A(i, k) of panel q at ap[q*kc*MR + k*MR + r], zero beyond mc. */
static void pack_a(int mc, int kc, const float *a, int64_t ars, int64_t acs, float *ap) {
    for (int q = 0; q * MR < mc; q++) {
        int mr = mc - q * MR < MR ? mc - q * MR : MR;
        float *dst = ap + q * kc * MR;
        const float *src = a + q * MR * ars;
        if (acs == 1) {
            /* rows are contiguous: read each row once, scatter into the panel */
            for (int r = 0; r < mr; r++)
                for (int k = 0; k < kc; k++) dst[k * MR + r] = src[r * ars + k];
        } else {
            for (int k = 0; k < kc; k++)
                for (int r = 0; r < mr; r++) dst[k * MR + r] = src[r * ars + k * acs];
        }
        for (int r = mr; r < MR; r++)
            for (int k = 0; k < kc; k++) dst[k * MR + r] = 0;
    }
}

/* ---- the blocked product ---- */

/* 64-byte aligned memory for n floats; aligned_alloc wants a size that is a
 * multiple of the alignment. */
static float *alloc_floats(size_t n) {
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes ? bytes : 64);
}

/* C tile (mr x nr at c) = alpha * acc + beta * C (beta 0: C is not read). */
static void store_tile(const float *acc, float *c, int64_t ldc, int mr, int nr, float alpha,
                       float beta) {
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        const float *ar = acc + r * NR;
        if (beta == 0) {
            for (int j = 0; j < nr; j++) cr[j] = alpha * ar[j];
        } else if (beta == 1) {
            for (int j = 0; j < nr; j++) cr[j] += alpha * ar[j];
        } else {
            for (int j = 0; j < nr; j++) cr[j] = alpha * ar[j] + beta * cr[j];
        }
    }
}

/* One task: rows i0..i0+mc of C, columns j0..j0+nc, for one K block whose
 * B panels are packed in bp. ap is this thread's A buffer. */
/* One task: rows i0..i0+mc of C, columns j0..j0+nc, for one K block. B
 * comes packed in bp (panels of kc x NR), or, when bp is NULL, straight
 * from b (row stride brs, unit column stride), with only a last partial
 * panel packed into bpart. ap holds a packed partial panel of A. */
static void run_task(kernel_fn kern, int64_t i0, int mc, int64_t j0, int64_t nc, int kc,
                     const float *a, int64_t ars, int64_t acs, const float *bp, const float *b,
                     int64_t brs, int64_t N, float *bpart, float *ap, float *c, int64_t ldc,
                     float alpha, float beta) {
    float acc[MR * NR] __attribute__((aligned(64)));
    /* Full panels of 6 rows are read from A where it lies (the kernel takes
     * strides); only a last, partial panel is packed, zero-padded, into ap. */
    int full = mc / MR, rest = mc - full * MR;
    const float *ai = a + i0 * ars;
    if (rest) pack_a(rest, kc, ai + full * MR * ars, ars, acs, ap);
    for (int64_t j = j0; j < j0 + nc; j += NR) {
        int nr = j0 + nc - j < NR ? (int)(j0 + nc - j) : NR;
        const float *bpanel;
        int64_t bs = NR;
        if (bp) {
            bpanel = bp + (j / NR) * kc * NR;
        } else if (nr == NR) {
            bpanel = b + j;
            bs = brs;
        } else {
            pack_b_panel(j / NR, kc, N, b, brs, 1, bpart);
            bpanel = bpart;
        }
        for (int q = 0; q <= full; q++) {
            int mr = q < full ? MR : rest;
            if (mr == 0) break;
            const float *ap_q = q < full ? ai + q * MR * ars : ap;
            int64_t pr = q < full ? ars : 1, pc = q < full ? acs : MR;
            float *ct = c + (i0 + q * MR) * ldc + j;
            if (mr == MR && nr == NR) {
                kern(kc, ap_q, pr, pc, bpanel, bs, NULL, ct, ldc, alpha, beta);
            } else {
                kern(kc, ap_q, pr, pc, bpanel, bs, acc, NULL, ldc, alpha, beta);
                store_tile(acc, ct, ldc, mr, nr, alpha, beta);
            }
        }
    }
}

int ty_sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float *a, int64_t ars, int64_t acs,
             const float *b, int64_t brs, int64_t bcs, float beta, float *c, int64_t ldc) {
    if (M <= 0 || N <= 0) return 0;
    if (K <= 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return 0;
    }
    kernel_fn kern = micro_kernel();
    int64_t npanels = (N + NR - 1) / NR;
    int kcmax = K < KC ? (int)K : KC;
    /* Packing B pays off when many rows of A reuse each panel; with few
     * rows (a hypernetwork's chunk batch, a small head) the kernel reads
     * row-major B in place instead. */
    int direct_b = bcs == 1 && M <= 4 * MR;
    float *bp = direct_b ? NULL : alloc_floats((size_t)(npanels * kcmax * NR));
    if (!direct_b && !bp) return -1;

    int64_t mblocks = (M + MC - 1) / MC;
    int64_t nchunks = (N + NCHUNK - 1) / NCHUNK;
    int64_t tasks = mblocks * nchunks;
    double flops = 2.0 * (double)M * (double)N * (double)K;
    int threads = flops < 4e6 ? 1 : ty_get_num_threads();
    if (threads > tasks) threads = (int)tasks;
    if (threads < 1) threads = 1;
    int failed = 0;

    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? (int)(K - k0) : KC;
        float beta_k = k0 == 0 ? beta : 1.0f; /* later K blocks add to what is there */
        const float *bk = b + k0 * brs;
        const float *ak = a + k0 * acs;
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            /* a partial panel of A, then (direct B) a partial panel of B */
            float *ap = alloc_floats((size_t)((MR + NR) * kc));
            if (!direct_b) {
#pragma omp for schedule(static)
                for (int64_t p = 0; p < npanels; p++)
                    pack_b_panel(p, kc, N, bk, brs, bcs, bp + p * kc * NR);
            }
            if (!ap) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < tasks; t++) {
                if (!ap) continue;
                int64_t i0 = (t / nchunks) * MC, j0 = (t % nchunks) * NCHUNK;
                int mc = M - i0 < MC ? (int)(M - i0) : MC;
                int64_t nc = N - j0 < NCHUNK ? N - j0 : NCHUNK;
                run_task(kern, i0, mc, j0, nc, kc, ak, ars, acs, bp, bk, brs, N, ap + MR * kc, ap,
                         c, ldc, alpha, beta_k);
            }
            free(ap);
        }
        if (failed) break;
    }
    free(bp);
    return failed ? -1 : 0;
}
