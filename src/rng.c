/* Random numbers: Philox 4x32-10 and the exact layout of tycho's random
 * stream. This comment is the specification the CUDA backend follows; a
 * change here is a change of every seeded result, on both devices.
 *
 * Philox 4x32-10 is Random123's: a block maps a 128-bit counter c0..c3 and
 * a 64-bit key k0,k1 to four 32-bit lanes x0..x3 in 10 rounds. One round:
 *     (hi0, lo0) = 0xD2511F53 * c0,  (hi1, lo1) = 0xCD9E8D57 * c2  (64-bit products)
 *     c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
 * and between rounds k0 += 0x9E3779B9, k1 += 0xBB67AE85 (mod 2^32).
 *
 * The stream of a generator (seed, offset):
 *   key      = (seed & 0xffffffff, seed >> 32)
 *   block b  = Philox(counter (b & 0xffffffff, b >> 32, 0, 0), key) -> lanes x0..x3
 * A draw of n elements first reserves its blocks (ty_generator_reserve), and
 * gets `first`, the generator's offset before the draw; element i of the draw
 * then reads block first + (i's block) below. Elements are numbered in the
 * row-major order of the result's shape. A number therefore depends only on
 * (seed, first, i), never on how the work is split between threads.
 *
 * Raw bits:
 *   bits32(i) = lane i % 4 of block first + i / 4                  (4 per block)
 *   bits64(i) = (lane 2j << 32) | lane 2j+1 of block first + i / 2,
 *               j = i % 2, i.e. x0:x1 for even i, x2:x3 for odd i  (2 per block)
 *
 * What each kind of draw computes from them (blocks used for n elements):
 *   uniform f32   u = (bits32(i) >> 8) * 2^-24, in [0, 1)               ceil(n/4)
 *   uniform f64   u = (bits64(i) >> 11) * 2^-53, in [0, 1)              ceil(n/2)
 *   uniform bf16/f16: the f32 value rounded to nearest even; a result of
 *                 exactly 1 becomes the largest value below 1           ceil(n/4)
 *   normal        Box-Muller in double, one block per pair of elements: for
 *                 i = 2j and 2j+1, a = bits64(2j), b = bits64(2j+1),
 *                 u1 = ((a >> 11) + 1) * 2^-53 in (0, 1],
 *                 u2 = (b >> 11) * 2^-53,  r = sqrt(-2 log u1),  t = 2 pi u2,
 *                 z(2j) = r cos t,  z(2j+1) = r sin t                   ceil(n/2)
 *                 f64 stores z; f32 stores (float)z; bf16/f16 round the f32
 *                 value. normal(mean, std) stores mean + std * z computed in
 *                 double, then rounded the same way. (The same seed gives the
 *                 same normals in every float dtype, up to rounding.)
 *   randint(low, high), range r = high - low as an unsigned 64-bit number:
 *                 r <= 2^32: low + ((bits32(i) * r) >> 32)  (64-bit product)  ceil(n/4)
 *                 r >  2^32: low + high 64 bits of bits64(i) * r (128-bit)    ceil(n/2)
 *                 (multiply-shift without rejection: a fixed number of lanes
 *                 per element; the bias is at most r / 2^32 resp. r / 2^64.)
 *                 The result is computed as i64 and converted to the dtype.
 *   bernoulli(p)  1 if u < p else 0, u the uniform f32 of element i and the
 *                 comparison in double (p converted exactly from its dtype,
 *                 half p through f32)                                  ceil(n/4)
 *   dropout(p)    element i is kept iff u >= p (u as for bernoulli), so the
 *                 keep mask is 1 - bernoulli(p) of the same stream     ceil(n/4)
 *   randperm(n)   key(i) = bits64(i) for i in [0, n); the result lists the
 *                 indices sorted by (key, index) ascending (a stable sort by
 *                 key), so ties, however unlikely, break the same way  ceil(n/2)
 *
 * Bit-exactness: uniform, randint, bernoulli, dropout and randperm are
 * integer arithmetic plus exact conversions and are reproduced bit for bit.
 * Normals go through log, sqrt, cos and sin, which no two libms round
 * identically in every case: f64 normals may differ from the GPU's in the
 * last bit or so; f32 normals (rounded from the double result) agree except
 * where the double lands within an ulp of a float rounding boundary. */
#include "rng.h"

#include <math.h>

#include "parallel.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static ty_generator default_generator = {0, 0};

ty_generator *ty_default_generator(void) {
    return &default_generator;
}

void ty_manual_seed(uint64_t seed) {
    ty_generator_init(&default_generator, seed);
}

void ty_generator_init(ty_generator *g, uint64_t seed) {
    g->seed = seed;
    g->offset = 0;
}

uint64_t ty_generator_reserve(ty_generator *g, uint64_t nblocks) {
    uint64_t first = g->offset;
    g->offset += nblocks;
    return first;
}

void ty_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void ty_philox_block(uint64_t seed, uint64_t block, uint32_t out[4]) {
    uint32_t counter[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    ty_philox4x32_10(counter, key, out);
}

static uint64_t blocks_for(int64_t n, int per_block) {
    return n <= 0 ? 0 : ((uint64_t)n + (uint64_t)per_block - 1) / (uint64_t)per_block;
}

uint64_t ty_philox_blocks_uniform_f32(int64_t n) {
    return blocks_for(n, 4);
}
uint64_t ty_philox_blocks_uniform_f64(int64_t n) {
    return blocks_for(n, 2);
}
uint64_t ty_philox_blocks_normal(int64_t n) {
    return blocks_for(n, 2);
}
uint64_t ty_philox_blocks_randint(uint64_t range, int64_t n) {
    return blocks_for(n, range <= ((uint64_t)1 << 32) ? 4 : 2);
}

/* Block work is worth a thread per TY_PARALLEL_GRAIN elements, as elsewhere;
 * a block is four elements of about ten multiplies each. */
static int threads_for_blocks(uint64_t nblocks) {
    return ty_threads_for((int64_t)nblocks * 8);
}

/* The loops below share one shape: every block but a partial last one is
 * written straight into `out` (in parallel when large), and the last one
 * goes through a local array so no element past n is touched. */

void ty_philox_bits32(uint64_t seed, uint64_t first_block, uint32_t *out, int64_t n) {
    int64_t full = n / 4;
    int nt = threads_for_blocks((uint64_t)full);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < full; k++)
        ty_philox_block(seed, first_block + (uint64_t)k, out + 4 * k);
    if (n % 4) {
        uint32_t x[4];
        ty_philox_block(seed, first_block + (uint64_t)full, x);
        for (int64_t i = 4 * full; i < n; i++) out[i] = x[i - 4 * full];
    }
}

static inline void bits64_of_block(uint64_t seed, uint64_t block, uint64_t out[2]) {
    uint32_t x[4];
    ty_philox_block(seed, block, x);
    out[0] = (uint64_t)x[0] << 32 | x[1];
    out[1] = (uint64_t)x[2] << 32 | x[3];
}

void ty_philox_bits64(uint64_t seed, uint64_t first_block, uint64_t *out, int64_t n) {
    int64_t full = n / 2;
    int nt = threads_for_blocks((uint64_t)full);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < full; k++)
        bits64_of_block(seed, first_block + (uint64_t)k, out + 2 * k);
    if (n % 2) {
        uint64_t x[2];
        bits64_of_block(seed, first_block + (uint64_t)full, x);
        out[n - 1] = x[0];
    }
}

static inline float uniform_f32_of(uint32_t u) {
    return (float)(u >> 8) * 0x1p-24f;
}
static inline double uniform_f64_of(uint64_t u) {
    return (double)(u >> 11) * 0x1p-53;
}

void ty_philox_uniform_f32(uint64_t seed, uint64_t first_block, float *out, int64_t n) {
    int64_t full = n / 4;
    int nt = threads_for_blocks((uint64_t)full);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < full; k++) {
        uint32_t x[4];
        ty_philox_block(seed, first_block + (uint64_t)k, x);
        for (int j = 0; j < 4; j++) out[4 * k + j] = uniform_f32_of(x[j]);
    }
    if (n % 4) {
        uint32_t x[4];
        ty_philox_block(seed, first_block + (uint64_t)full, x);
        for (int64_t i = 4 * full; i < n; i++) out[i] = uniform_f32_of(x[i - 4 * full]);
    }
}

void ty_philox_uniform_f64(uint64_t seed, uint64_t first_block, double *out, int64_t n) {
    int64_t full = n / 2;
    int nt = threads_for_blocks((uint64_t)full);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < full; k++) {
        uint64_t x[2];
        bits64_of_block(seed, first_block + (uint64_t)k, x);
        out[2 * k] = uniform_f64_of(x[0]);
        out[2 * k + 1] = uniform_f64_of(x[1]);
    }
    if (n % 2) {
        uint64_t x[2];
        bits64_of_block(seed, first_block + (uint64_t)full, x);
        out[n - 1] = uniform_f64_of(x[0]);
    }
}

/* The Box-Muller pair of one block. u1 is in (0, 1] so the log is finite. */
static inline void normal_pair(uint64_t seed, uint64_t block, double z[2]) {
    const double two_pi = 6.283185307179586476925286766559;
    uint64_t x[2];
    bits64_of_block(seed, block, x);
    double u1 = (double)((x[0] >> 11) + 1) * 0x1p-53;
    double u2 = (double)(x[1] >> 11) * 0x1p-53;
    double r = sqrt(-2.0 * log(u1));
    double t = two_pi * u2;
    z[0] = r * cos(t);
    z[1] = r * sin(t);
}

/* Normal draws cost a log, a sqrt and a sincos: more work per element. */
static int threads_for_normals(uint64_t nblocks) {
    return ty_threads_for((int64_t)nblocks * 32);
}

void ty_philox_normal_f64(uint64_t seed, uint64_t first_block, double *out, int64_t n) {
    int64_t full = n / 2;
    int nt = threads_for_normals((uint64_t)full);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < full; k++) normal_pair(seed, first_block + (uint64_t)k, out + 2 * k);
    if (n % 2) {
        double z[2];
        normal_pair(seed, first_block + (uint64_t)full, z);
        out[n - 1] = z[0];
    }
}

void ty_philox_normal_f32(uint64_t seed, uint64_t first_block, float *out, int64_t n) {
    int64_t full = n / 2;
    int nt = threads_for_normals((uint64_t)full);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < full; k++) {
        double z[2];
        normal_pair(seed, first_block + (uint64_t)k, z);
        out[2 * k] = (float)z[0];
        out[2 * k + 1] = (float)z[1];
    }
    if (n % 2) {
        double z[2];
        normal_pair(seed, first_block + (uint64_t)full, z);
        out[n - 1] = (float)z[0];
    }
}

/* High 64 bits of a 64x64-bit product from four 32-bit partial products,
 * as CUDA's __umul64hi computes it, without relying on a 128-bit type. */
static inline uint64_t mulhi64(uint64_t a, uint64_t b) {
    uint64_t a_lo = (uint32_t)a, a_hi = a >> 32, b_lo = (uint32_t)b, b_hi = b >> 32;
    uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
    uint64_t cross = (lo_lo >> 32) + (uint32_t)hi_lo + lo_hi;
    return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

/* low + off without signed overflow: the sum is in [low, high) by design. */
static inline int64_t add_offset(int64_t low, uint64_t off) {
    return (int64_t)((uint64_t)low + off);
}

void ty_philox_randint(uint64_t seed, uint64_t first_block, int64_t low, uint64_t range,
                       int64_t *out, int64_t n) {
    if (range <= ((uint64_t)1 << 32)) {
        int64_t full = n / 4;
        int nt = threads_for_blocks((uint64_t)full);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t k = 0; k < full; k++) {
            uint32_t x[4];
            ty_philox_block(seed, first_block + (uint64_t)k, x);
            for (int j = 0; j < 4; j++) out[4 * k + j] = add_offset(low, (x[j] * range) >> 32);
        }
        if (n % 4) {
            uint32_t x[4];
            ty_philox_block(seed, first_block + (uint64_t)full, x);
            for (int64_t i = 4 * full; i < n; i++)
                out[i] = add_offset(low, (x[i - 4 * full] * range) >> 32);
        }
        return;
    }
    int64_t full = n / 2;
    int nt = threads_for_blocks((uint64_t)full);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int64_t k = 0; k < full; k++) {
        uint64_t x[2];
        bits64_of_block(seed, first_block + (uint64_t)k, x);
        out[2 * k] = add_offset(low, mulhi64(x[0], range));
        out[2 * k + 1] = add_offset(low, mulhi64(x[1], range));
    }
    if (n % 2) {
        uint64_t x[2];
        bits64_of_block(seed, first_block + (uint64_t)full, x);
        out[n - 1] = add_offset(low, mulhi64(x[0], range));
    }
}
