/* E(3)-equivariant building blocks with e3nn's conventions.
 *
 * Everything here follows e3nn (github.com/e3nn/e3nn) so that numbers can be
 * checked against it: the real basis of each irrep l (2l+1 components, e3nn's
 * order and signs: the l = 1 components are (x, y, z) and y is the polar
 * axis), Euler angles in the YXY convention, wigner_3j normalised to unit
 * Frobenius norm, spherical harmonics built by e3nn's recurrence, and the
 * tensor-product paths and normalisations of e3nn's TensorProduct.
 *
 * Every function returning a tensor returns a new reference; failures return
 * NULL with a message naming the function and the values. All results are
 * differentiable (to any order) where their inputs require grad. */
#ifndef TYCHO_E3_H
#define TYCHO_E3_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"

/* Largest l of wigner_3j, of the tensor-product paths and of the spherical
 * harmonics. */
#define TY_E3_LMAX 16
/* Largest l of wigner_D. */
#define TY_E3_LMAX_D 48

/* ---- Clebsch-Gordan coefficients ---- */

/* e3nn's wigner_3j(l1, l2, l3): the real coupling tensor of shape
 * (2l1+1, 2l2+1, 2l3+1), invariant under D(g) x D(g) x D(g) and of unit
 * Frobenius norm; computed once per triple and cached. Fails unless
 * |l1 - l2| <= l3 <= l1 + l2 and every l is in 0..TY_E3_LMAX. dt: f32/f64. */
ty_tensor *ty_e3_wigner_3j(int l1, int l2, int l3, ty_dtype dt);

/* ---- rotations ---- */

/* e3nn's wigner_D(l, alpha, beta, gamma) = exp(alpha Jy) exp(beta Jx)
 * exp(gamma Jy) in the real basis: angle tensors of one float dtype that
 * broadcast together to shape S give (S..., 2l+1, 2l+1). For l = 1 it is the
 * rotation matrix itself. Differentiable in the angles. l in 0..TY_E3_LMAX_D. */
ty_tensor *ty_e3_wigner_D(int l, ty_tensor *alpha, ty_tensor *beta, ty_tensor *gamma);

/* e3nn's matrix_to_angles: the YXY Euler angles (alpha, beta, gamma) of
 * rotation matrices R of shape (..., 3, 3), as a tensor (..., 3). Not
 * differentiable (the result has no history). */
ty_tensor *ty_e3_matrix_to_angles(ty_tensor *R);

/* ---- spherical harmonics ---- */

typedef enum {
    TY_E3_NORM_INTEGRAL,  /* integral over the sphere of Y_lm^2 is 1 */
    TY_E3_NORM_COMPONENT, /* |Y^l(x)|^2 = 2l+1 on the unit sphere */
    TY_E3_NORM_NORM,      /* |Y^l(x)| = 1 on the unit sphere */
} ty_e3_normalization;

/* Spherical harmonics of degrees 0..lmax of the vectors x (..., 3):
 * (..., (lmax+1)^2), degree l in columns l^2 .. (l+1)^2 - 1. normalize
 * projects x onto the unit sphere first (x / max(|x|, 1e-12), so the zero
 * vector gives 0 for l > 0). lmax in 0..TY_E3_LMAX. */
ty_tensor *ty_e3_spherical_harmonics(int lmax, ty_tensor *x, bool normalize,
                                     ty_e3_normalization normalization);

/* ---- tensor products ----
 *
 * A tensor product is a list of paths. Path p couples the block of mul1
 * copies of irrep l1 that starts at offset off1 of the first input (stored
 * as mul1 x (2 l1 + 1), the copy index major) with a block of the second
 * input, through wigner_3j(l1, l2, lo) times coef, into a block of the
 * output. The mode says how the copies (u of input 1, v of input 2, w of
 * the output) are connected, as in e3nn:
 *   uvw  out[w] += sum_uv W[u,v,w] (x1[u] (x) x2[v])    weights mul1 x mul2 x mulo
 *   uvu  out[u] += sum_v  W[u,v]   (x1[u] (x) x2[v])    mulo = mul1, weights mul1 x mul2
 *   uvv  out[v] += sum_u  W[u,v]   (x1[u] (x) x2[v])    mulo = mul2, weights mul1 x mul2
 *   uuw  out[w] += sum_u  W[u,w]   (x1[u] (x) x2[u])    mul1 = mul2, weights mul1 x mulo
 *   uuu  out[u] +=        W[u]     (x1[u] (x) x2[u])    all three muls equal, weights mul1
 * A path without weight uses W = 1 (uvw must have one; uuw without one sums
 * into a single output copy, mulo = 1). The weights of the weighted paths
 * lie one after the other in path order, each row-major in the shape above:
 * e3nn's flat weight layout. */
typedef enum { TY_E3_UVW, TY_E3_UVU, TY_E3_UVV, TY_E3_UUW, TY_E3_UUU } ty_e3_mode;

typedef struct {
    int l1, l2, lo;
    int64_t off1, mul1; /* block of input 1 */
    int64_t off2, mul2; /* block of input 2 */
    int64_t offo, mulo; /* block of the output */
    ty_e3_mode mode;
    bool has_weight;
    double coef; /* e3nn's normalisation (and path weight) of this path */
} ty_e3_path;

typedef struct ty_e3_tp ty_e3_tp;

/* Builds (and checks) a tensor product with inputs of dim1 and dim2 features
 * and dimo output features. Returns a new reference, or NULL with an error
 * naming the bad path and values. */
ty_e3_tp *ty_e3_tp_new(int64_t dim1, int64_t dim2, int64_t dimo, int n_paths,
                       const ty_e3_path *paths);
ty_e3_tp *ty_e3_tp_retain(ty_e3_tp *tp);
void ty_e3_tp_release(ty_e3_tp *tp); /* NULL is allowed */
/* Number of weights: the length of a shared weight vector, or the last dim
 * of per-sample weights. */
int64_t ty_e3_tp_weight_numel(const ty_e3_tp *tp);
int64_t ty_e3_tp_dim(const ty_e3_tp *tp, int which); /* 0: dim1, 1: dim2, 2: dimo */

/* The product of x1 (Z, dim1) and x2 (Z, dim2): (Z, dimo). w holds shared
 * weights (weight_numel) or per-sample ones (Z, weight_numel); it may be
 * NULL only when weight_numel is 0. f32 or f64, all of one dtype; any
 * layout. Differentiable in x1, x2 and w to any order. */
ty_tensor *ty_e3_tensor_product(ty_e3_tp *tp, ty_tensor *x1, ty_tensor *x2, ty_tensor *w);

#endif
