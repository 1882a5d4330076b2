/* Element types. f32 is the default; f64 is for gradient checks; i64 for
 * indices and labels; u8 and bool for images and masks. bf16 and f16 are
 * storage types only: every op converts them to f32, computes, and converts
 * the result back. */
#ifndef TYCHO_DTYPE_H
#define TYCHO_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TY_BOOL = 0,
    TY_U8,
    TY_I64,
    TY_BF16,
    TY_F16,
    TY_F32,
    TY_F64,
    TY_NUM_DTYPES
} ty_dtype;

/* "f32", "i64", ... (the names of API.md). */
const char *ty_dtype_name(ty_dtype dt);
/* Parses a name; returns 0 and sets *out, or -1 with an error naming it. */
int ty_dtype_from_name(const char *name, ty_dtype *out);
size_t ty_dtype_size(ty_dtype dt);
bool ty_dtype_is_float(ty_dtype dt);    /* f16, bf16, f32, f64 */
bool ty_dtype_is_half(ty_dtype dt);     /* f16, bf16: storage-only types */
bool ty_dtype_is_integral(ty_dtype dt); /* bool, u8, i64 */

/* NumPy/PyTorch-style promotion of two dtypes:
 * bool < u8 < i64 < (bf16, f16) < f32 < f64; bf16 with f16 gives f32. */
ty_dtype ty_promote(ty_dtype a, ty_dtype b);

/* The dtype math is done in: f32 for half types, else the type itself. */
ty_dtype ty_compute_dtype(ty_dtype dt);

/* Half conversions (round to nearest even, NaN kept). */
float ty_bf16_to_f32(uint16_t h);
uint16_t ty_f32_to_bf16(float f);
float ty_f16_to_f32(uint16_t h);
uint16_t ty_f32_to_f16(float f);

/* Reading and writing one element of any dtype as a double (slow path for
 * printing, item(), scalar fill; never inside a hot loop). */
double ty_load_as_double(const void *p, ty_dtype dt);
void ty_store_from_double(void *p, ty_dtype dt, double v);
/* i64 without passing through double, so values past 2^53 stay exact. */
int64_t ty_load_as_i64(const void *p, ty_dtype dt);
void ty_store_from_i64(void *p, ty_dtype dt, int64_t v);

/* Converts n contiguous elements from one dtype to another. Float to
 * integer truncates toward zero (as C and PyTorch do); to bool is != 0. */
void ty_convert(void *dst, ty_dtype dst_dt, const void *src, ty_dtype src_dt, int64_t n);

#endif
