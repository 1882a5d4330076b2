/* Creating tensors: constant fills, ranges, identity matrices, and random
 * tensors drawn from the Philox stream specified in rng.c.
 *
 * Every function returns a fresh contiguous tensor (a new reference) or NULL
 * with an error naming it. Shapes are (ndim, shape) pairs; ndim 0 makes a
 * 0-d scalar, sizes must be >= 0. The random functions take a generator
 * (NULL means ty_default_generator()) and advance it by the blocks they use,
 * so consecutive draws never overlap; a failed call leaves it unchanged. */
#ifndef TYCHO_CREATION_H
#define TYCHO_CREATION_H

#include <stdint.h>

#include "rng.h"
#include "tensor.h"

/* ---- constant fills (any dtype; only the CPU device for now) ---- */
ty_tensor *ty_zeros(int ndim, const int64_t *shape, ty_dtype dt, ty_device dev);
ty_tensor *ty_ones(int ndim, const int64_t *shape, ty_dtype dt, ty_device dev);
/* value converted to dt as ty_fill_ does (truncation toward zero for ints). */
ty_tensor *ty_full(int ndim, const int64_t *shape, double value, ty_dtype dt, ty_device dev);
/* t's shape, dtype and device. */
ty_tensor *ty_zeros_like(const ty_tensor *t);
ty_tensor *ty_ones_like(const ty_tensor *t);
ty_tensor *ty_full_like(const ty_tensor *t, double value);

/* ---- ranges ---- */
/* start, start + step, ... below end (above it for step < 0): PyTorch's
 * length ceil((end - start) / step), values start + i * step computed in
 * double (exactly in i64 when start and step are whole numbers and dt is
 * i64), then converted to dt. Fails on step 0, a step whose sign points
 * away from end, non-finite arguments, or values that do not fit u8/bool. */
ty_tensor *ty_arange(double start, double end, double step, ty_dtype dt);
/* `steps` evenly spaced values from start to end inclusive (steps >= 0;
 * steps 1 gives [start]). The first half counts up from start and the
 * second down from end, as PyTorch does, so both ends are exact. */
ty_tensor *ty_linspace(double start, double end, int64_t steps, ty_dtype dt);
/* n x m matrix with ones on the main diagonal; m = -1 means m = n. */
ty_tensor *ty_eye(int64_t n, int64_t m, ty_dtype dt);

/* ---- random (see rng.c for the exact stream) ---- */
/* Uniform in [0, 1). Float dtypes only; bf16/f16 round the f32 draw. */
ty_tensor *ty_rand(int ndim, const int64_t *shape, ty_dtype dt, ty_generator *g);
/* Standard normal (Box-Muller). Float dtypes only. */
ty_tensor *ty_randn(int ndim, const int64_t *shape, ty_dtype dt, ty_generator *g);
/* mean + std * standard normal, computed in double; std >= 0. */
ty_tensor *ty_normal(double mean, double std, int ndim, const int64_t *shape, ty_dtype dt,
                     ty_generator *g);
/* Integers uniform in [low, high) (low < high), any dtype but the values
 * must fit it (u8 needs [0, 256), bool [0, 2)); TY_I64 is the usual one. */
ty_tensor *ty_randint(int64_t low, int64_t high, int ndim, const int64_t *shape, ty_dtype dt,
                      ty_generator *g);
/* 1 with probability p[i], else 0, in p's shape and (float) dtype. Every p
 * must be in [0, 1]. p may be strided. */
ty_tensor *ty_bernoulli(ty_tensor *p, ty_generator *g);
/* The same with one p for every element, in any dtype (bool for masks). */
ty_tensor *ty_bernoulli_scalar(double p, int ndim, const int64_t *shape, ty_dtype dt,
                               ty_generator *g);
/* A random permutation of 0 .. n-1 (n >= 0); dt must hold n-1 exactly. */
ty_tensor *ty_randperm(int64_t n, ty_dtype dt, ty_generator *g);

#endif
