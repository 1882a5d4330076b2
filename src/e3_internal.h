/* Private helpers shared by the e3 sources (not installed). */
#ifndef TYCHO_E3_INTERNAL_H
#define TYCHO_E3_INTERNAL_H

#include <stdint.h>

#include "e3.h"

/* The nonzero entries of wigner_3j(l1, l2, l3): C[i[e], j[e], k[e]] = c[e].
 * Computed once and owned by the cache (never freed by callers). */
typedef struct {
    int l1, l2, l3;
    int n;
    int16_t *i, *j, *k;
    double *c;
    double *dense; /* the full (2l1+1)(2l2+1)(2l3+1) tensor, row-major */
} e3_cg;

/* The cached coefficients, or NULL with an error naming fn and the l's when
 * the triple is not allowed. Thread-safe. */
const e3_cg *e3_cg_get(const char *fn, int l1, int l2, int l3);

/* ty_error_prefix(fn) unless the message already starts with fn (a
 * failure inside a composite op keeps one name in front). */
void e3_error_prefix(const char *fn);

/* Checks that l is in 0..lmax; otherwise an error naming fn and what. */
int e3_check_l(const char *fn, const char *what, int l, int lmax);

/* e3nn's change of basis between the real and the complex (|l m>) forms of
 * irrep l, a (2l+1)^2 row-major complex matrix: row = complex index l + m,
 * column = real index. Written as separate real and imaginary parts. */
void e3_basis_q(int l, double *re, double *im);

/* ---- tensor products (e3_tp.c, e3_tp_kernels.c) ---- */

/* One path as the kernels see it. Pairs are the (u, v) products a path
 * forms: u * mul2 + v for the uv modes, u for the uu modes. A dense path
 * mixes its pairs into the output copies with a pairs x mulo weight matrix
 * (uvw, weighted uuw); the others route each pair to one output copy with
 * one weight (or none). */
typedef struct {
    ty_e3_path p;
    int d1, d2, dk; /* 2l+1 of input 1, input 2, output */
    int64_t K;      /* number of pairs */
    bool uu;        /* pairs are (u, u) */
    bool dense;
    bool ident;   /* routed, pair q to output copy q (uuu; uvu, uvv over one copy) */
    int64_t woff; /* first weight of the path, when it has weights */
    int blk[3];   /* its blocks of input 1, input 2, output (see e3_tp_block) */
    int64_t gcol; /* a dense path: its first column in its group's GEMMs */
    int nnz;      /* nonzero Clebsch-Gordan entries, times coef: */
    const int16_t *ci, *cj, *ck;
    double *cd;
    float *cf;
} e3_tp_path;

/* A block of mul copies of an irrep of dimension d at offset off of a
 * feature vector. The kernels work on blocks transposed ([i][u], so that
 * loops over copies have unit stride), kept one after the other in a
 * scratch vector: toff is the block's place there. Blocks that several paths
 * share are transposed once. */
typedef struct {
    int64_t off, mul, toff;
    int d;
} e3_tp_block;

/* The dense paths into one output block, done together: their pair
 * products side by side (K columns in all) against their weight matrices
 * stacked (K x mulo), so one GEMM serves them all. */
typedef struct {
    int n, *paths;
    int64_t K, mulo, woff; /* woff: the group's place in the stacked weights */
    int dk, blk;
} e3_tp_group;

struct ty_e3_tp {
    int refcount;
    int64_t dim1, dim2, dimo, nw;
    int n;
    e3_tp_path *paths;
    int nblk[3]; /* blocks of input 1, input 2, output */
    e3_tp_block *blk[3];
    int64_t tdim[3]; /* length of each transposed scratch vector */
    int ngroups;
    e3_tp_group *groups;
    int64_t nw_dense; /* weights of all dense paths */
    int64_t max_pk;   /* largest dk * K of a path, or of a group */
    int64_t max_ko;   /* largest dk * mulo of a group */
    int64_t max_kw;   /* largest K * mulo of a group */
    int64_t max_t;    /* largest block (mul x (2l+1)) of any input or output */
};

/* The slots of the multilinear form
 *   F(x1, x2, w, g) = sum g . tensor_product(x1, x2, w),
 * of which the product and all its derivatives are partial derivatives:
 * the product is dF/dg, the gradients are dF/dx1, dF/dx2 and dF/dw. */
enum { E3_X1, E3_X2, E3_W, E3_OUT };

/* Computes the slots in `targets` (a bit mask: either 1 << E3_OUT alone, or
 * any of x1, x2, w) from the others, for a batch of Z samples. in[s] is the
 * data of slot s (f32 or f64, one dtype; NULL for targets, and for w without
 * weights): rows of unit inner stride, rs[s] elements apart (0 repeats one
 * row for the whole batch). res[s] receive contiguous results, written in
 * full; per_sample says how w is laid out.
 * weighted_only leaves out the paths without weights: F is linear in w only
 * on the weighted paths, so where slot w holds a direction (a gradient of w)
 * rather than weights, the others contribute nothing. Returns 0, or -1 with
 * an error (interrupted, out of memory). */
int e3_tp_run(const ty_e3_tp *tp, unsigned targets, const void *const in[4], const int64_t rs[4],
              int64_t Z, bool per_sample, bool weighted_only, ty_tensor *res[4]);

#endif
