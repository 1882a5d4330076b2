/* Random numbers: a counter-based Philox 4x32-10 generator.
 *
 * Counter-based means a number is a pure function of (seed, position), so
 * the CUDA backend reproduces the CPU's stream bit for bit by computing the
 * same function at the same positions in parallel. The exact stream is
 * specified in rng.c's header comment; keep the two in step.
 *
 * A generator is (seed, offset): offset counts the 128-bit Philox blocks
 * already used. Each draw reserves the blocks it needs, so consecutive
 * draws never overlap and a draw's numbers do not depend on thread count. */
#ifndef TYCHO_RNG_H
#define TYCHO_RNG_H

#include <stdint.h>

typedef struct ty_generator {
    uint64_t seed;
    uint64_t offset; /* next unused block */
} ty_generator;

/* The process-wide generator used when a function gets NULL. Seeded with
 * 0 until ty_manual_seed is called, so runs are reproducible by default. */
ty_generator *ty_default_generator(void);
void ty_manual_seed(uint64_t seed);
void ty_generator_init(ty_generator *g, uint64_t seed);

/* One Philox 4x32-10 block: 10 rounds on the counter with the key. */
void ty_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* The four lanes of block `block` of seed's stream: Philox with counter
 * (block low 32, block high 32, 0, 0) and key (seed low 32, seed high 32). */
void ty_philox_block(uint64_t seed, uint64_t block, uint32_t out[4]);

/* Reserves nblocks blocks and returns the index of the first. Not
 * thread-safe: give each thread that draws its own generator. */
uint64_t ty_generator_reserve(ty_generator *g, uint64_t nblocks);

/* The stream's building blocks (see rng.c for the layout), over contiguous
 * buffers of n elements. `first_block` is what ty_generator_reserve gave. */
void ty_philox_uniform_f32(uint64_t seed, uint64_t first_block, float *out, int64_t n);
void ty_philox_uniform_f64(uint64_t seed, uint64_t first_block, double *out, int64_t n);
void ty_philox_normal_f32(uint64_t seed, uint64_t first_block, float *out, int64_t n);
void ty_philox_normal_f64(uint64_t seed, uint64_t first_block, double *out, int64_t n);
/* Raw lanes: bits32 uses the blocks of uniform_f32, bits64 those of
 * uniform_f64 (randperm's sort keys are bits64). */
void ty_philox_bits32(uint64_t seed, uint64_t first_block, uint32_t *out, int64_t n);
void ty_philox_bits64(uint64_t seed, uint64_t first_block, uint64_t *out, int64_t n);
/* Integers in [low, low + range); range = high - low as unsigned, >= 1. */
void ty_philox_randint(uint64_t seed, uint64_t first_block, int64_t low, uint64_t range,
                       int64_t *out, int64_t n);
/* Blocks a draw of n elements of these kinds uses. */
uint64_t ty_philox_blocks_uniform_f32(int64_t n);
uint64_t ty_philox_blocks_uniform_f64(int64_t n);
uint64_t ty_philox_blocks_normal(int64_t n);
uint64_t ty_philox_blocks_randint(uint64_t range, int64_t n);

#endif
