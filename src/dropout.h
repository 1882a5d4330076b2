/* Dropout: during training each element is zeroed with probability p and
 * the survivors are scaled by 1 / (1 - p), so the expected value is kept.
 * The mask comes from the Philox stream specified in rng.c (element i, in
 * row-major order, is kept iff its f32 uniform u >= p), so the CUDA backend
 * draws the same mask for the same seed. */
#ifndef TYCHO_DROPOUT_H
#define TYCHO_DROPOUT_H

#include <stdbool.h>

#include "rng.h"
#include "tensor.h"

/* x (float dtype, any strides) with dropout applied; p in [0, 1]; g NULL
 * means the default generator. In train mode with p > 0 the result is a
 * fresh tensor: x[i] * (1 / (1 - p)), formed in double and rounded once,
 * where kept, and exactly 0 where dropped (also for NaN or inf x, and
 * everywhere when p = 1). When !train or p = 0 it is
 * a new reference to x itself and nothing is drawn. When mask_out is not
 * NULL it receives a new bool tensor of x's shape, true where the element
 * was kept (all true when nothing was drawn), for the backward; NULL on
 * failure. Under autograd the result records a node whose backward applies
 * the same mask (through ty_dropout_apply_mask, which records itself too,
 * so higher derivatives reuse it). */
ty_tensor *ty_dropout(ty_tensor *x, double p, bool train, ty_generator *g, ty_tensor **mask_out);

/* The backward's half of dropout: grad[i] * (1 / (1 - p)) where mask[i] is
 * nonzero, 0 elsewhere (0 everywhere when p = 1). grad has a float dtype,
 * mask is bool or u8 of exactly grad's shape; the result is fresh and
 * contiguous in grad's dtype. */
ty_tensor *ty_dropout_apply_mask(ty_tensor *grad, ty_tensor *mask, double p);

#endif
