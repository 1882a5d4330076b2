/* Creating tensors: constant fills, ranges, eye, and random tensors.
 *
 * The random stream itself (which Philox lanes make which number) is
 * specified and generated in rng.c; this file validates the request,
 * reserves the draw's blocks, and fills the tensor chunk by chunk so that a
 * huge draw can be interrupted and needs only a bounded scratch buffer. */
#include "creation.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "parallel.h"

/* Elements per chunk of a random fill. A multiple of 4, so every chunk
 * starts on a block boundary whatever the draw's lanes per element. */
#define CHUNK ((int64_t)1 << 20)

/* ---- validation ---- */

static int check_dtype(const char *fn, ty_dtype dt) {
    if ((int)dt < 0 || dt >= TY_NUM_DTYPES) return ty_error("%s: bad dtype %d", fn, (int)dt);
    return 0;
}

static int check_float_dtype(const char *fn, ty_dtype dt) {
    if (check_dtype(fn, dt) < 0) return -1;
    if (!ty_dtype_is_float(dt))
        return ty_error("%s: dtype %s is not a floating type", fn, ty_dtype_name(dt));
    return 0;
}

/* Checked here rather than left to ty_empty so the message names fn. */
static int check_shape(const char *fn, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > TY_MAX_DIMS)
        return ty_error("%s: %d dims is out of range (at most %d)", fn, ndim, TY_MAX_DIMS);
    if (ndim > 0 && !shape) return ty_error("%s: shape is NULL for %d dims", fn, ndim);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            char buf[256];
            return ty_error("%s: negative size %lld in shape %s", fn, (long long)shape[d],
                            ty_shape_str_n(ndim, shape, buf, sizeof buf));
        }
    }
    return 0;
}

/* An uninitialised CPU tensor, every argument checked with fn's name. */
static ty_tensor *new_tensor(const char *fn, int ndim, const int64_t *shape, ty_dtype dt,
                             ty_device dev) {
    if (check_dtype(fn, dt) < 0 || check_shape(fn, ndim, shape) < 0) return NULL;
    if (dev.type != TY_DEV_CPU) {
        char buf[16];
        ty_error("%s: not implemented on %s", fn, ty_device_name(dev, buf, sizeof buf));
        return NULL;
    }
    ty_tensor *t = ty_empty(ndim, shape, dt, dev);
    if (!t) ty_error_prefix(fn);
    return t;
}

/* ---- constant fills ---- */

ty_tensor *ty_zeros(int ndim, const int64_t *shape, ty_dtype dt, ty_device dev) {
    ty_tensor *t = new_tensor("zeros", ndim, shape, dt, dev);
    /* All-zero bytes are 0 in every dtype, halves included. */
    if (t && ty_nbytes(t) > 0) memset(ty_data(t), 0, (size_t)ty_nbytes(t));
    return t;
}

static ty_tensor *full_named(const char *fn, int ndim, const int64_t *shape, double value,
                             ty_dtype dt, ty_device dev) {
    ty_tensor *t = new_tensor(fn, ndim, shape, dt, dev);
    if (t && ty_fill_(t, value) < 0) {
        ty_error_prefix(fn);
        ty_tensor_release(t);
        return NULL;
    }
    return t;
}

ty_tensor *ty_ones(int ndim, const int64_t *shape, ty_dtype dt, ty_device dev) {
    return full_named("ones", ndim, shape, 1.0, dt, dev);
}

ty_tensor *ty_full(int ndim, const int64_t *shape, double value, ty_dtype dt, ty_device dev) {
    return full_named("full", ndim, shape, value, dt, dev);
}

ty_tensor *ty_zeros_like(const ty_tensor *t) {
    return ty_zeros(t->ndim, t->shape, t->dtype, t->device);
}

ty_tensor *ty_ones_like(const ty_tensor *t) {
    return full_named("ones_like", t->ndim, t->shape, 1.0, t->dtype, t->device);
}

ty_tensor *ty_full_like(const ty_tensor *t, double value) {
    return full_named("full_like", t->ndim, t->shape, value, t->dtype, t->device);
}

/* ---- ranges ---- */

/* The values an integral dtype holds; range results outside it would wrap
 * or saturate silently, so arange and linspace refuse them instead. */
static int check_fits(const char *fn, ty_dtype dt, double a, double b) {
    double lo = trunc(fmin(a, b)), hi = trunc(fmax(a, b));
    bool ok = true;
    switch (dt) {
    case TY_BOOL:
        ok = lo >= 0 && hi <= 1;
        break;
    case TY_U8:
        ok = lo >= 0 && hi <= 255;
        break;
    case TY_I64:
        ok = lo >= -0x1p63 && hi < 0x1p63;
        break;
    default:
        break;
    }
    if (ok) return 0;
    return ty_error("%s: values from %g to %g do not fit dtype %s", fn, lo, hi, ty_dtype_name(dt));
}

ty_tensor *ty_arange(double start, double end, double step, ty_dtype dt) {
    if (check_dtype("arange", dt) < 0) return NULL;
    if (!isfinite(start) || !isfinite(end) || !isfinite(step)) {
        ty_error("arange: start %g, end %g and step %g must be finite", start, end, step);
        return NULL;
    }
    if (step == 0) {
        ty_error("arange: step must be nonzero (start %g, end %g)", start, end);
        return NULL;
    }
    if ((end > start && step < 0) || (end < start && step > 0)) {
        ty_error("arange: step %g has the wrong sign for the range from %g to %g", step, start,
                 end);
        return NULL;
    }
    double len = ceil((end - start) / step);
    if (!(len < 0x1p62)) {
        ty_error("arange: %g elements (start %g, end %g, step %g) is too many", len, start, end,
                 step);
        return NULL;
    }
    int64_t n = (int64_t)len;
    if (n > 0 && check_fits("arange", dt, start, start + (double)(n - 1) * step) < 0) return NULL;
    ty_tensor *t = new_tensor("arange", 1, &n, dt, ty_cpu());
    if (!t) return NULL;
    void *data = ty_data(t);
    int nt = ty_threads_for(n);
    if (dt == TY_I64 && start == trunc(start) && step == trunc(step)) {
        /* Whole numbers stay exact past 2^53 when counted in integers. */
        uint64_t s0 = (uint64_t)(int64_t)start, st = (uint64_t)(int64_t)step;
        int64_t *d = data;
#pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t i = 0; i < n; i++) d[i] = (int64_t)(s0 + (uint64_t)i * st);
    } else if (dt == TY_F32) {
        float *d = data;
#pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t i = 0; i < n; i++) d[i] = (float)(start + (double)i * step);
    } else if (dt == TY_F64) {
        double *d = data;
#pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t i = 0; i < n; i++) d[i] = start + (double)i * step;
    } else {
        size_t size = ty_dtype_size(dt);
        for (int64_t i = 0; i < n; i++)
            ty_store_from_double((char *)data + i * size, dt, start + (double)i * step);
    }
    return t;
}

ty_tensor *ty_linspace(double start, double end, int64_t steps, ty_dtype dt) {
    if (check_dtype("linspace", dt) < 0) return NULL;
    if (!isfinite(start) || !isfinite(end)) {
        ty_error("linspace: start %g and end %g must be finite", start, end);
        return NULL;
    }
    if (steps < 0) {
        ty_error("linspace: steps must be >= 0, got %lld", (long long)steps);
        return NULL;
    }
    if (steps > 0 && check_fits("linspace", dt, start, end) < 0) return NULL;
    ty_tensor *t = new_tensor("linspace", 1, &steps, dt, ty_cpu());
    if (!t) return NULL;
    double step = steps > 1 ? (end - start) / (double)(steps - 1) : 0.0;
    /* steps = 1 falls in the second half but must give start, as PyTorch's does. */
    int64_t half = steps == 1 ? 1 : steps / 2;
    size_t size = ty_dtype_size(dt);
    for (int64_t i = 0; i < steps; i++) {
        double v = i < half ? start + step * (double)i : end - step * (double)(steps - 1 - i);
        ty_store_from_double((char *)ty_data(t) + i * size, dt, v);
    }
    return t;
}

ty_tensor *ty_eye(int64_t n, int64_t m, ty_dtype dt) {
    if (m == -1) m = n;
    if (n < 0 || m < 0) {
        ty_error("eye: sizes must be >= 0, got %lld x %lld", (long long)n, (long long)m);
        return NULL;
    }
    ty_tensor *t = ty_zeros(2, (int64_t[]){n, m}, dt, ty_cpu());
    if (!t) {
        ty_error_prefix("eye");
        return NULL;
    }
    size_t size = ty_dtype_size(dt);
    int64_t k = n < m ? n : m;
    for (int64_t i = 0; i < k; i++)
        ty_store_from_double((char *)ty_data(t) + (i * m + i) * size, dt, 1.0);
    return t;
}

/* ---- random: shared plumbing ---- */

static ty_generator *gen_or_default(ty_generator *g) {
    return g ? g : ty_default_generator();
}

/* Gives back the blocks of a draw that failed part-way (interrupted), so a
 * failed call leaves the generator as it was. */
static void unreserve(ty_generator *g, uint64_t first, uint64_t nblocks) {
    if (g->offset == first + nblocks) g->offset = first;
}

static void *scratch(const char *fn, int64_t n, size_t size) {
    void *p = malloc((size_t)(n > 0 ? n : 1) * size);
    if (!p)
        ty_error("%s: out of memory allocating %lld bytes of scratch", fn,
                 (long long)(n * (int64_t)size));
    return p;
}

static int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

/* Stores f32 uniforms as a half type. Rounding to nearest can carry values
 * just below 1 up to 1 itself; those become the largest half below 1 so
 * the result stays in [0, 1) (see rng.c). */
static void uniform_to_half(void *dst, ty_dtype dt, const float *u, int64_t n) {
    uint16_t *d = dst;
    if (dt == TY_F16) {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = ty_f32_to_f16(u[i]);
            d[i] = h == 0x3C00 ? 0x3BFF : h;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = ty_f32_to_bf16(u[i]);
            d[i] = h == 0x3F80 ? 0x3F7F : h;
        }
    }
}

typedef enum { DRAW_UNIFORM, DRAW_STD_NORMAL, DRAW_NORMAL } draw_kind;

/* Fills the fresh contiguous float tensor t from g: uniforms, standard
 * normals, or mean + std * normal. */
static int fill_random(const char *fn, ty_tensor *t, draw_kind kind, double mean, double std,
                       ty_generator *g) {
    ty_dtype dt = t->dtype;
    int64_t n = ty_numel(t);
    size_t size = ty_dtype_size(dt);
    char *data = ty_data(t);
    /* uniform f64 reads two lanes per element; every other uniform one. */
    bool wide = kind != DRAW_UNIFORM || dt == TY_F64;
    uint64_t nblocks = kind != DRAW_UNIFORM ? ty_philox_blocks_normal(n)
                       : wide               ? ty_philox_blocks_uniform_f64(n)
                                            : ty_philox_blocks_uniform_f32(n);
    int64_t chunk = min64(n, CHUNK);
    float *tmpf = NULL;
    double *tmpd = NULL;
    if (ty_dtype_is_half(dt) && !(tmpf = scratch(fn, chunk, sizeof *tmpf))) return -1;
    if (kind == DRAW_NORMAL && dt != TY_F64 && !(tmpd = scratch(fn, chunk, sizeof *tmpd))) {
        free(tmpf);
        return -1;
    }
    uint64_t first = ty_generator_reserve(g, nblocks);
    int rc = 0;
    for (int64_t e = 0; e < n; e += CHUNK) {
        if (e > 0 && ty_check_interrupt(fn) < 0) {
            unreserve(g, first, nblocks);
            rc = -1;
            break;
        }
        int64_t len = min64(CHUNK, n - e);
        uint64_t block = first + (uint64_t)(wide ? e / 2 : e / 4);
        char *dst = data + e * (int64_t)size;
        float *f32 = ty_dtype_is_half(dt) ? tmpf : (float *)dst;
        int nt = ty_threads_for(len);
        if (kind == DRAW_UNIFORM) {
            if (dt == TY_F64)
                ty_philox_uniform_f64(g->seed, block, (double *)dst, len);
            else
                ty_philox_uniform_f32(g->seed, block, f32, len);
            if (ty_dtype_is_half(dt)) uniform_to_half(dst, dt, tmpf, len);
        } else if (kind == DRAW_STD_NORMAL) {
            if (dt == TY_F64)
                ty_philox_normal_f64(g->seed, block, (double *)dst, len);
            else
                ty_philox_normal_f32(g->seed, block, f32, len);
            if (ty_dtype_is_half(dt)) ty_convert(dst, dt, tmpf, TY_F32, len);
        } else if (dt == TY_F64) {
            double *d = (double *)dst;
            ty_philox_normal_f64(g->seed, block, d, len);
#pragma omp parallel for num_threads(nt) if (nt > 1)
            for (int64_t i = 0; i < len; i++) d[i] = mean + std * d[i];
        } else {
            ty_philox_normal_f64(g->seed, block, tmpd, len);
#pragma omp parallel for num_threads(nt) if (nt > 1)
            for (int64_t i = 0; i < len; i++) f32[i] = (float)(mean + std * tmpd[i]);
            if (ty_dtype_is_half(dt)) ty_convert(dst, dt, tmpf, TY_F32, len);
        }
    }
    free(tmpf);
    free(tmpd);
    return rc;
}

static ty_tensor *random_float(const char *fn, int ndim, const int64_t *shape, ty_dtype dt,
                               ty_generator *g, draw_kind kind, double mean, double std) {
    if (check_float_dtype(fn, dt) < 0) return NULL;
    ty_tensor *t = new_tensor(fn, ndim, shape, dt, ty_cpu());
    if (!t) return NULL;
    if (fill_random(fn, t, kind, mean, std, gen_or_default(g)) < 0) {
        ty_tensor_release(t);
        return NULL;
    }
    return t;
}

/* ---- random: the public draws ---- */

ty_tensor *ty_rand(int ndim, const int64_t *shape, ty_dtype dt, ty_generator *g) {
    return random_float("rand", ndim, shape, dt, g, DRAW_UNIFORM, 0, 1);
}

ty_tensor *ty_randn(int ndim, const int64_t *shape, ty_dtype dt, ty_generator *g) {
    return random_float("randn", ndim, shape, dt, g, DRAW_STD_NORMAL, 0, 1);
}

ty_tensor *ty_normal(double mean, double std, int ndim, const int64_t *shape, ty_dtype dt,
                     ty_generator *g) {
    if (!isfinite(mean) || !isfinite(std) || std < 0) {
        ty_error("normal: mean %g must be finite and std %g finite and >= 0", mean, std);
        return NULL;
    }
    return random_float("normal", ndim, shape, dt, g, DRAW_NORMAL, mean, std);
}

ty_tensor *ty_randint(int64_t low, int64_t high, int ndim, const int64_t *shape, ty_dtype dt,
                      ty_generator *g) {
    if (check_dtype("randint", dt) < 0) return NULL;
    if (low >= high) {
        ty_error("randint: low %lld must be less than high %lld", (long long)low, (long long)high);
        return NULL;
    }
    int64_t max = dt == TY_BOOL ? 2 : dt == TY_U8 ? 256 : INT64_MAX;
    if ((dt == TY_BOOL || dt == TY_U8) && (low < 0 || high > max)) {
        ty_error("randint: range [%lld, %lld) does not fit dtype %s", (long long)low,
                 (long long)high, ty_dtype_name(dt));
        return NULL;
    }
    ty_tensor *t = new_tensor("randint", ndim, shape, dt, ty_cpu());
    if (!t) return NULL;
    g = gen_or_default(g);
    uint64_t range = (uint64_t)high - (uint64_t)low;
    int64_t n = ty_numel(t);
    int64_t *tmp = NULL;
    if (dt != TY_I64 && !(tmp = scratch("randint", min64(n, CHUNK), sizeof *tmp))) {
        ty_tensor_release(t);
        return NULL;
    }
    uint64_t nblocks = ty_philox_blocks_randint(range, n);
    int per_block = range <= ((uint64_t)1 << 32) ? 4 : 2;
    uint64_t first = ty_generator_reserve(g, nblocks);
    size_t size = ty_dtype_size(dt);
    for (int64_t e = 0; e < n; e += CHUNK) {
        if (e > 0 && ty_check_interrupt("randint") < 0) {
            unreserve(g, first, nblocks);
            free(tmp);
            ty_tensor_release(t);
            return NULL;
        }
        int64_t len = min64(CHUNK, n - e);
        char *dst = (char *)ty_data(t) + e * (int64_t)size;
        uint64_t block = first + (uint64_t)(e / per_block);
        ty_philox_randint(g->seed, block, low, range, tmp ? tmp : (int64_t *)dst, len);
        if (tmp) ty_convert(dst, dt, tmp, TY_I64, len);
    }
    free(tmp);
    return t;
}

/* Fills the fresh contiguous tensor t with (u < p) as 1 or 0, u the f32
 * uniforms of g's stream; p is the constant p or, when p32/p64 is given,
 * the contiguous per-element probabilities. */
static int fill_bernoulli(const char *fn, ty_tensor *t, double p, const float *p32,
                          const double *p64, ty_generator *g) {
    ty_dtype dt = t->dtype;
    int64_t n = ty_numel(t);
    size_t size = ty_dtype_size(dt);
    float *tmpf = NULL;
    if (dt != TY_F32 && !(tmpf = scratch(fn, min64(n, CHUNK), sizeof *tmpf))) return -1;
    uint64_t nblocks = ty_philox_blocks_uniform_f32(n);
    uint64_t first = ty_generator_reserve(g, nblocks);
    for (int64_t e = 0; e < n; e += CHUNK) {
        if (e > 0 && ty_check_interrupt(fn) < 0) {
            unreserve(g, first, nblocks);
            free(tmpf);
            return -1;
        }
        int64_t len = min64(CHUNK, n - e);
        char *dst = (char *)ty_data(t) + e * (int64_t)size;
        float *u = tmpf ? tmpf : (float *)dst;
        ty_philox_uniform_f32(g->seed, first + (uint64_t)(e / 4), u, len);
        int nt = ty_threads_for(len);
        if (p32) {
            const float *pe = p32 + e;
#pragma omp parallel for num_threads(nt) if (nt > 1)
            for (int64_t i = 0; i < len; i++) u[i] = (double)u[i] < (double)pe[i] ? 1.0f : 0.0f;
        } else if (p64) {
            const double *pe = p64 + e;
#pragma omp parallel for num_threads(nt) if (nt > 1)
            for (int64_t i = 0; i < len; i++) u[i] = (double)u[i] < pe[i] ? 1.0f : 0.0f;
        } else {
#pragma omp parallel for num_threads(nt) if (nt > 1)
            for (int64_t i = 0; i < len; i++) u[i] = (double)u[i] < p ? 1.0f : 0.0f;
        }
        /* 0 and 1 are exact in every dtype, so the conversion is too. */
        if (tmpf) ty_convert(dst, dt, tmpf, TY_F32, len);
    }
    free(tmpf);
    return 0;
}

ty_tensor *ty_bernoulli_scalar(double p, int ndim, const int64_t *shape, ty_dtype dt,
                               ty_generator *g) {
    if (!(p >= 0 && p <= 1)) {
        ty_error("bernoulli: p must be in [0, 1], got %g", p);
        return NULL;
    }
    ty_tensor *t = new_tensor("bernoulli", ndim, shape, dt, ty_cpu());
    if (t && fill_bernoulli("bernoulli", t, p, NULL, NULL, gen_or_default(g)) < 0) {
        ty_tensor_release(t);
        return NULL;
    }
    return t;
}

ty_tensor *ty_bernoulli(ty_tensor *p, ty_generator *g) {
    if (ty_check_cpu("bernoulli", p) < 0) return NULL;
    if (!ty_dtype_is_float(p->dtype)) {
        ty_error("bernoulli: p must have a floating dtype, got %s", ty_dtype_name(p->dtype));
        return NULL;
    }
    /* Half p compares through f32; f32 and f64 p are read as they are. */
    ty_tensor *pc = ty_contiguous(p);
    ty_tensor *pw = pc ? ty_cast(pc, ty_compute_dtype(p->dtype)) : NULL;
    ty_tensor_release(pc);
    if (!pw) {
        ty_error_prefix("bernoulli");
        return NULL;
    }
    int64_t n = ty_numel(pw);
    const float *p32 = pw->dtype == TY_F32 ? ty_data(pw) : NULL;
    const double *p64 = pw->dtype == TY_F64 ? ty_data(pw) : NULL;
    for (int64_t i = 0; i < n; i++) {
        double v = p32 ? p32[i] : p64[i];
        if (!(v >= 0 && v <= 1)) {
            ty_error("bernoulli: p must be in [0, 1], got %g at flat index %lld", v, (long long)i);
            ty_tensor_release(pw);
            return NULL;
        }
    }
    ty_tensor *t = new_tensor("bernoulli", p->ndim, p->shape, p->dtype, ty_cpu());
    if (t && fill_bernoulli("bernoulli", t, 0, p32, p64, gen_or_default(g)) < 0) {
        ty_tensor_release(t);
        t = NULL;
    }
    ty_tensor_release(pw);
    return t;
}

/* ---- randperm ---- */

/* The largest n whose values 0..n-1 dt holds exactly. */
static int64_t perm_limit(ty_dtype dt) {
    switch (dt) {
    case TY_BOOL:
        return 2;
    case TY_U8:
        return 256;
    case TY_BF16:
        return 257; /* 8 significant bits: every integer up to 256 */
    case TY_F16:
        return 2049; /* 11 bits: up to 2048 */
    case TY_F32:
        return ((int64_t)1 << 24) + 1;
    case TY_F64:
        return ((int64_t)1 << 53) + 1;
    default:
        return INT64_MAX;
    }
}

/* Stable LSD radix sort of (key, idx) pairs by key, 8 bits per pass. Stable
 * means equal keys keep index order: the (key, index) order of rng.c. The
 * sorted indices end up in idx. */
static int radix_sort(const char *fn, uint64_t *key, int64_t *idx, int64_t n) {
    uint64_t *key2 = malloc((size_t)(n > 0 ? n : 1) * sizeof *key2);
    int64_t *idx2 = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx2);
    if (!key2 || !idx2) {
        free(key2);
        free(idx2);
        return ty_error("%s: out of memory sorting %lld keys", fn, (long long)n);
    }
    uint64_t *ks = key, *kd = key2;
    int64_t *is = idx, *id = idx2;
    for (int shift = 0; shift < 64; shift += 8) {
        if (n > CHUNK && ty_check_interrupt(fn) < 0) {
            free(key2);
            free(idx2);
            return -1;
        }
        int64_t count[257] = {0};
        for (int64_t i = 0; i < n; i++) count[((ks[i] >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++) count[b + 1] += count[b];
        for (int64_t i = 0; i < n; i++) {
            int64_t at = count[(ks[i] >> shift) & 0xff]++;
            kd[at] = ks[i];
            id[at] = is[i];
        }
        uint64_t *kt = ks;
        ks = kd;
        kd = kt;
        int64_t *it = is;
        is = id;
        id = it;
    }
    /* Eight passes: the result is back in the caller's arrays. */
    free(key2);
    free(idx2);
    return 0;
}

ty_tensor *ty_randperm(int64_t n, ty_dtype dt, ty_generator *g) {
    if (check_dtype("randperm", dt) < 0) return NULL;
    if (n < 0) {
        ty_error("randperm: n must be >= 0, got %lld", (long long)n);
        return NULL;
    }
    if (n > perm_limit(dt)) {
        ty_error("randperm: n %lld is too large for dtype %s", (long long)n, ty_dtype_name(dt));
        return NULL;
    }
    ty_tensor *t = new_tensor("randperm", 1, &n, dt, ty_cpu());
    if (!t) return NULL;
    g = gen_or_default(g);
    uint64_t *key = scratch("randperm", n, sizeof *key);
    int64_t *idx = key ? scratch("randperm", n, sizeof *idx) : NULL;
    if (!idx) {
        free(key);
        ty_tensor_release(t);
        return NULL;
    }
    uint64_t nblocks = ty_philox_blocks_uniform_f64(n);
    uint64_t first = ty_generator_reserve(g, nblocks);
    ty_philox_bits64(g->seed, first, key, n);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    if (radix_sort("randperm", key, idx, n) < 0) {
        unreserve(g, first, nblocks);
        free(key);
        free(idx);
        ty_tensor_release(t);
        return NULL;
    }
    ty_convert(ty_data(t), dt, idx, TY_I64, n);
    free(key);
    free(idx);
    return t;
}
