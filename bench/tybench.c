/* tycho's benchmark: prints the figures of ../shared/bench/BENCHMARKS.md
 * that the C library can produce today, each next to its peer measured in
 * the same run, as `NAME: VALUE UNIT  (peer ..., ratio ...)`.
 *
 *   bench/tybench [--threads N] [--only NAME[,NAME...]]
 *
 * sgemm-1024  ty_matmul on 1024x1024 f32 against raw cblas_sgemm.
 * axpb-16m    y = a*x + b over 16M f32 (64 MB in, 64 MB out) against
 *             memcpy of the same bytes: both move 128 MB per call.
 * small-mul-sum-backward
 *             (a*b):sum():backward() on two 4-element f32 tensors that
 *             both require grad, grads dropped every iteration: the cost of
 *             recording and walking a tiny graph. Next to it the same
 *             forward with grad mode off, so the ratio is the overhead.
 *             (peer_torch.py gives requires_grad to `a` only, so this row
 *             does a little more work than its PyTorch peer.) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tycho.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of `reps` calls after `warmup` calls. */
typedef int (*bench_fn)(void *ctx);
static double median_time(bench_fn fn, void *ctx, int reps, int warmup) {
    double ts[64];
    if (reps > 64) reps = 64;
    for (int i = 0; i < warmup; i++) fn(ctx);
    for (int i = 0; i < reps; i++) {
        double t = now();
        if (fn(ctx) < 0) {
            fprintf(stderr, "tybench: %s\n", ty_last_error());
            exit(1);
        }
        ts[i] = now() - t;
    }
    qsort(ts, (size_t)reps, sizeof ts[0], cmp_double);
    return ts[reps / 2];
}

/* ---- sgemm-1024 ---- */

typedef struct {
    ty_tensor *a, *b;
    float *raw_c;
} gemm_ctx;

static int run_ty_matmul(void *vctx) {
    gemm_ctx *c = vctx;
    ty_tensor *out = ty_matmul(c->a, c->b);
    if (!out) return -1;
    ty_tensor_release(out);
    return 0;
}

static int run_raw_sgemm(void *vctx) {
    gemm_ctx *c = vctx;
    int n = (int)c->a->shape[0];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, ty_data(c->a), n,
                ty_data(c->b), n, 0.0f, c->raw_c, n);
    return 0;
}

static void bench_sgemm(void) {
    const int n = 1024;
    int64_t shape[2] = {n, n};
    gemm_ctx c = {ty_randn(2, shape, TY_F32, NULL), ty_randn(2, shape, TY_F32, NULL),
                  malloc(sizeof(float) * n * n)};
    double flops = 2.0 * n * n * n;
    /* Interleave the two so that drifting clocks affect both alike. */
    double t_ty = 1e9, t_raw = 1e9;
    for (int round = 0; round < 3; round++) {
        double a = median_time(run_ty_matmul, &c, 5, 2);
        double b = median_time(run_raw_sgemm, &c, 5, 2);
        if (a < t_ty) t_ty = a;
        if (b < t_raw) t_raw = b;
    }
    printf("sgemm-1024: %.1f GFLOP/s  (openblas cblas_sgemm: %.1f GFLOP/s, ratio %.3f)\n",
           flops / t_ty / 1e9, flops / t_raw / 1e9, t_raw / t_ty);
    ty_tensor_release(c.a);
    ty_tensor_release(c.b);
    free(c.raw_c);
}

/* ---- axpb-16m ---- */

typedef struct {
    ty_tensor *x;
    void *src, *dst;
    size_t nbytes;
} axpb_ctx;

static int run_axpb(void *vctx) {
    axpb_ctx *c = vctx;
    ty_tensor *y = ty_axpb(c->x, 1.0001, 0.5);
    if (!y) return -1;
    ty_tensor_release(y);
    return 0;
}

static int run_axpb_inplace(void *vctx) {
    axpb_ctx *c = vctx;
    return ty_axpb_(c->x, 0.9999, 0.0001);
}

static int run_memcpy(void *vctx) {
    axpb_ctx *c = vctx;
    memcpy(c->dst, c->src, c->nbytes);
    return 0;
}

static void bench_axpb(void) {
    const int64_t n = 16 * 1024 * 1024;
    axpb_ctx c = {ty_rand(1, &n, TY_F32, NULL), NULL, NULL, (size_t)n * sizeof(float)};
    c.src = malloc(c.nbytes);
    c.dst = malloc(c.nbytes);
    memset(c.src, 1, c.nbytes);
    memset(c.dst, 2, c.nbytes);
    double bytes = 2.0 * (double)c.nbytes; /* read + write */
    double t_new = 1e9, t_inplace = 1e9, t_copy = 1e9;
    for (int round = 0; round < 3; round++) {
        double a = median_time(run_axpb, &c, 7, 2);
        double b = median_time(run_axpb_inplace, &c, 7, 2);
        double m = median_time(run_memcpy, &c, 7, 2);
        if (a < t_new) t_new = a;
        if (b < t_inplace) t_inplace = b;
        if (m < t_copy) t_copy = m;
    }
    printf("axpb-16m: %.2f GB/s  (memcpy: %.2f GB/s, ratio %.3f; in place: %.2f GB/s, ratio %.3f)\n",
           bytes / t_new / 1e9, bytes / t_copy / 1e9, t_copy / t_new, bytes / t_inplace / 1e9,
           t_copy / t_inplace);
    ty_tensor_release(c.x);
    free(c.src);
    free(c.dst);
}

/* ---- small-mul-sum-backward ---- */

typedef struct {
    ty_tensor *a, *b;
    int iters; /* per timed call: one iteration is a few microseconds */
} small_ctx;

static int run_mul_sum_backward(void *vctx) {
    small_ctx *c = vctx;
    for (int i = 0; i < c->iters; i++) {
        ty_tensor *p = ty_mul(c->a, c->b);
        ty_tensor *s = p ? ty_sum_all(p) : NULL;
        ty_tensor_release(p);
        if (!s) return -1;
        int rc = ty_backward(s, NULL, false, false);
        ty_tensor_release(s);
        if (rc < 0) return -1;
        /* set_to_none, so memory stays flat from one iteration to the next */
        ty_zero_grad(c->a);
        ty_zero_grad(c->b);
    }
    return 0;
}

static int run_mul_sum_no_grad(void *vctx) {
    small_ctx *c = vctx;
    bool prev = ty_set_grad_enabled(false);
    int rc = 0;
    for (int i = 0; i < c->iters && rc == 0; i++) {
        ty_tensor *p = ty_mul(c->a, c->b);
        ty_tensor *s = p ? ty_sum_all(p) : NULL;
        ty_tensor_release(p);
        if (!s) rc = -1;
        ty_tensor_release(s);
    }
    ty_set_grad_enabled(prev);
    return rc;
}

static void bench_small_backward(void) {
    const int64_t n = 4;
    small_ctx c = {ty_randn(1, &n, TY_F32, NULL), ty_randn(1, &n, TY_F32, NULL), 20000};
    ty_set_requires_grad(c.a, true);
    ty_set_requires_grad(c.b, true);
    int64_t live = ty_live_tensors();
    double t_bwd = 1e9, t_fwd = 1e9;
    for (int round = 0; round < 3; round++) {
        double a = median_time(run_mul_sum_backward, &c, 5, 1);
        double b = median_time(run_mul_sum_no_grad, &c, 5, 1);
        if (a < t_bwd) t_bwd = a;
        if (b < t_fwd) t_fwd = b;
    }
    if (ty_live_tensors() != live) {
        fprintf(stderr, "tybench: small-mul-sum-backward leaks: %lld live tensors, was %lld\n",
                (long long)ty_live_tensors(), (long long)live);
        exit(1);
    }
    double us_bwd = t_bwd / c.iters * 1e6, us_fwd = t_fwd / c.iters * 1e6;
    printf("small-mul-sum-backward: %.2f us/iter  (forward without grad: %.2f us/iter, ratio "
           "%.3f)\n",
           us_bwd, us_fwd, us_fwd / us_bwd);
    ty_tensor_release(c.a);
    ty_tensor_release(c.b);
}

static int wanted(const char *only, const char *name) {
    if (!only) return 1;
    size_t len = strlen(name);
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += len)
        if ((p == only || p[-1] == ',') && (p[len] == ',' || p[len] == '\0')) return 1;
    return 0;
}

int main(int argc, char **argv) {
    const char *only = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--threads N] [--only NAME[,NAME...]]\n", argv[0]);
            return 2;
        }
    }
    ty_set_num_threads(threads); /* 0: all cores */
    ty_manual_seed(0);
    if (wanted(only, "sgemm-1024")) bench_sgemm();
    if (wanted(only, "axpb-16m")) bench_axpb();
    if (wanted(only, "small-mul-sum-backward")) bench_small_backward();
    printf("# tycho %s, %d threads\n", TY_VERSION, ty_get_num_threads());
    return 0;
}
