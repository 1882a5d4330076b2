#include "dtype.h"

#include <math.h>
#include <string.h>

#include "error.h"

static const char *const dtype_names[TY_NUM_DTYPES] = {
    [TY_BOOL] = "bool", [TY_U8] = "u8",   [TY_I64] = "i64", [TY_BF16] = "bf16",
    [TY_F16] = "f16",   [TY_F32] = "f32", [TY_F64] = "f64",
};

static const size_t dtype_sizes[TY_NUM_DTYPES] = {
    [TY_BOOL] = 1, [TY_U8] = 1, [TY_I64] = 8, [TY_BF16] = 2,
    [TY_F16] = 2,  [TY_F32] = 4, [TY_F64] = 8,
};

const char *ty_dtype_name(ty_dtype dt) {
    if ((int)dt < 0 || dt >= TY_NUM_DTYPES) return "?";
    return dtype_names[dt];
}

int ty_dtype_from_name(const char *name, ty_dtype *out) {
    for (int i = 0; i < TY_NUM_DTYPES; i++) {
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (ty_dtype)i;
            return 0;
        }
    }
    /* PyTorch spellings are accepted too, since users type them. */
    static const struct {
        const char *alias;
        ty_dtype dt;
    } aliases[] = {{"float32", TY_F32}, {"float", TY_F32},    {"float64", TY_F64},
                   {"double", TY_F64},  {"int64", TY_I64},    {"long", TY_I64},
                   {"uint8", TY_U8},    {"float16", TY_F16},  {"half", TY_F16},
                   {"bfloat16", TY_BF16}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(name, aliases[i].alias) == 0) {
            *out = aliases[i].dt;
            return 0;
        }
    }
    return ty_error("unknown dtype '%s' (expected f32, f64, bf16, f16, i64, u8 or bool)", name);
}

size_t ty_dtype_size(ty_dtype dt) { return dtype_sizes[dt]; }

bool ty_dtype_is_float(ty_dtype dt) {
    return dt == TY_F32 || dt == TY_F64 || dt == TY_F16 || dt == TY_BF16;
}
bool ty_dtype_is_half(ty_dtype dt) { return dt == TY_F16 || dt == TY_BF16; }
bool ty_dtype_is_integral(ty_dtype dt) { return dt == TY_BOOL || dt == TY_U8 || dt == TY_I64; }

ty_dtype ty_promote(ty_dtype a, ty_dtype b) {
    if (a == b) return a;
    if ((a == TY_BF16 && b == TY_F16) || (a == TY_F16 && b == TY_BF16)) return TY_F32;
    /* The enum is ordered by rank, so the larger one wins. */
    return a > b ? a : b;
}

ty_dtype ty_compute_dtype(ty_dtype dt) { return ty_dtype_is_half(dt) ? TY_F32 : dt; }

/* ---- half types ---- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float ty_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t ty_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if (isnan(f)) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN, sign kept */
    uint32_t rounding = 0x7FFF + ((u >> 16) & 1);   /* round to nearest even */
    return (uint16_t)((u + rounding) >> 16);
}

float ty_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    if (exp == 0x1F) return bits_f32(sign | 0x7F800000 | (mant << 13)); /* inf / NaN */
    if (exp == 0) {
        /* zero or subnormal: value = mant * 2^-24 */
        float v = (float)mant * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t ty_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    float a = fabsf(f);
    if (isnan(f)) return sign | 0x7E00;
    if (a >= 65520.0f) return sign | 0x7C00; /* overflows to inf after rounding */
    if (a < 6.103515625e-05f) {
        /* subnormal half: round a / 2^-24 to nearest even integer */
        float q = a * 16777216.0f;
        float r = nearbyintf(q); /* default rounding mode: to nearest even */
        return sign | (uint16_t)r;
    }
    uint32_t ua = f32_bits(a);
    uint32_t rounding = 0xFFF + ((ua >> 13) & 1);
    ua += rounding;
    uint32_t exp = (ua >> 23) - 112;
    uint32_t mant = (ua >> 13) & 0x3FF;
    return sign | (uint16_t)((exp << 10) | mant);
}

/* ---- single elements ---- */

double ty_load_as_double(const void *p, ty_dtype dt) {
    switch (dt) {
    case TY_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
    case TY_U8: return *(const uint8_t *)p;
    case TY_I64: return (double)*(const int64_t *)p;
    case TY_BF16: return ty_bf16_to_f32(*(const uint16_t *)p);
    case TY_F16: return ty_f16_to_f32(*(const uint16_t *)p);
    case TY_F32: return *(const float *)p;
    case TY_F64: return *(const double *)p;
    default: return 0.0;
    }
}

/* Float to integer conversion that never invokes undefined behaviour:
 * NaN gives 0 and out-of-range values saturate. */
static int64_t double_to_i64(double v) {
    if (isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static uint8_t double_to_u8(double v) {
    /* PyTorch wraps modulo 256 for in-range integers; we do the same through
     * i64, which keeps the conversion defined for every input. */
    return (uint8_t)(uint64_t)double_to_i64(v);
}

void ty_store_from_double(void *p, ty_dtype dt, double v) {
    switch (dt) {
    case TY_BOOL: *(uint8_t *)p = v != 0.0; break;
    case TY_U8: *(uint8_t *)p = double_to_u8(v); break;
    case TY_I64: *(int64_t *)p = double_to_i64(v); break;
    case TY_BF16: *(uint16_t *)p = ty_f32_to_bf16((float)v); break;
    case TY_F16: *(uint16_t *)p = ty_f32_to_f16((float)v); break;
    case TY_F32: *(float *)p = (float)v; break;
    case TY_F64: *(double *)p = v; break;
    default: break;
    }
}

int64_t ty_load_as_i64(const void *p, ty_dtype dt) {
    if (dt == TY_I64) return *(const int64_t *)p;
    return double_to_i64(ty_load_as_double(p, dt));
}

void ty_store_from_i64(void *p, ty_dtype dt, int64_t v) {
    if (dt == TY_I64) *(int64_t *)p = v;
    else if (dt == TY_U8) *(uint8_t *)p = (uint8_t)(uint64_t)v;
    else ty_store_from_double(p, dt, (double)v);
}

/* ---- bulk conversion ---- */

void ty_convert(void *dst, ty_dtype dst_dt, const void *src, ty_dtype src_dt, int64_t n) {
    if (dst_dt == src_dt) {
        memmove(dst, src, (size_t)n * ty_dtype_size(dst_dt));
        return;
    }
    /* The common pairs get tight loops; everything else goes through the
     * element functions above, which are correct for every pair. */
    if (src_dt == TY_F32 && dst_dt == TY_F64) {
        const float *s = src;
        double *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = s[i];
        return;
    }
    if (src_dt == TY_F64 && dst_dt == TY_F32) {
        const double *s = src;
        float *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = (float)s[i];
        return;
    }
    if (src_dt == TY_U8 && dst_dt == TY_F32) {
        const uint8_t *s = src;
        float *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = s[i];
        return;
    }
    if (src_dt == TY_I64 && dst_dt == TY_F32) {
        const int64_t *s = src;
        float *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = (float)s[i];
        return;
    }
    if (src_dt == TY_BF16 && dst_dt == TY_F32) {
        const uint16_t *s = src;
        float *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = ty_bf16_to_f32(s[i]);
        return;
    }
    if (src_dt == TY_F32 && dst_dt == TY_BF16) {
        const float *s = src;
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = ty_f32_to_bf16(s[i]);
        return;
    }
    size_t ss = ty_dtype_size(src_dt), ds = ty_dtype_size(dst_dt);
    const char *s = src;
    char *d = dst;
    if (src_dt == TY_I64 || dst_dt == TY_I64) {
        if (ty_dtype_is_integral(src_dt) && ty_dtype_is_integral(dst_dt)) {
            for (int64_t i = 0; i < n; i++)
                ty_store_from_i64(d + i * ds, dst_dt, ty_load_as_i64(s + i * ss, src_dt));
            return;
        }
    }
    for (int64_t i = 0; i < n; i++)
        ty_store_from_double(d + i * ds, dst_dt, ty_load_as_double(s + i * ss, src_dt));
}
