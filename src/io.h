/* File I/O: safetensors checkpoints, NumPy .npy arrays and IDX (MNIST)
 * files, plus the named tensor collection that checkpoints hold.
 *
 * Every loader validates the whole file before trusting any of it, never
 * runs code, and fails with an error naming the function, the file and
 * (where there is one) the tensor. Every writer is atomic: it writes
 * "<path>.tmp.<pid>", fsyncs it and renames it over path, so a failed or
 * interrupted save leaves the previous file intact.
 *
 * Only little-endian hosts are supported (the formats store little-endian
 * data that is copied as is). */
#ifndef TYCHO_IO_H
#define TYCHO_IO_H

#include <stdio.h>

#include "tensor.h"

/* ---- named tensors ---- */

/* Tensors by name plus string metadata, in insertion order. The dict owns
 * one reference to each tensor and its own copies of every string. The
 * fields may be read directly; change them only through the functions. */
typedef struct {
    int n;
    char **names;
    ty_tensor **tensors;
    int nmeta;
    char **meta_keys;
    char **meta_values;
} ty_tensor_dict;

/* An empty dict (NULL only when out of memory); free with ty_dict_free. */
ty_tensor_dict *ty_dict_new(void);
/* Frees the dict and releases its tensors. NULL is allowed. */
void ty_dict_free(ty_tensor_dict *d);
/* Stores t under name, retaining it; an existing entry of that name is
 * released and replaced in place. "__metadata__" is reserved. 0 or -1. */
int ty_dict_set(ty_tensor_dict *d, const char *name, ty_tensor *t);
/* A new reference to the tensor called name, or NULL with an error. */
ty_tensor *ty_dict_get(const ty_tensor_dict *d, const char *name);
/* Sets (or replaces) a metadata entry; both strings are copied. 0 or -1. */
int ty_dict_set_meta(ty_tensor_dict *d, const char *key, const char *value);
/* The metadata value for key (owned by the dict), or NULL if absent. */
const char *ty_dict_get_meta(const ty_tensor_dict *d, const char *key);

/* ---- safetensors ---- */

/* Writes every tensor of d (CPU, any dtype; non-contiguous ones are written
 * contiguously) and its metadata. Tensors are stored sorted by name and the
 * header is padded with spaces so the data starts 8-byte aligned. 0 or -1. */
int ty_safetensors_save(const char *path, const ty_tensor_dict *d);
/* Reads a safetensors file into a new dict (tensors in name order).
 * Dtypes F32, F64, I64, U8, BOOL, BF16, F16; anything else is an error
 * naming the dtype and the tensor. NULL with an error on any defect. */
ty_tensor_dict *ty_safetensors_load(const char *path);

/* ---- NumPy .npy ---- */

/* Writes t as a version 1.0 .npy file: '<f4' '<f8' '<i8' '|u1' '|b1' '<f2'.
 * bf16 has no NumPy dtype and is widened (exactly) to '<f4'. 0 or -1. */
int ty_npy_save(const char *path, const ty_tensor *t);
/* Reads a .npy file (versions 1.0, 2.0, 3.0). f4 f8 f2 i8 u1 b1 load as
 * f32 f64 f16 i64 u8 bool; the other integers (i1 i2 i4 u2 u4, and u8
 * when every value fits) are widened to i64. Big-endian data is swapped;
 * fortran_order arrays come back as ordinary row-major tensors. */
ty_tensor *ty_npy_load(const char *path);

/* ---- IDX (MNIST, Fashion-MNIST) ---- */

/* Reads an IDX file, plain or gzip-compressed (detected from the content).
 * Type codes: 0x08 u8 -> u8; 0x09 i8, 0x0B i16, 0x0C i32 -> i64;
 * 0x0D f32 -> f32; 0x0E f64 -> f64. Claims over 2^34 bytes are refused. */
ty_tensor *ty_idx_load(const char *path);

/* ---- atomic writes (used by the savers above, and by anyone else) ---- */

/* Calls writer(f, ctx) on "<path>.tmp.<pid>", then flushes, fsyncs, closes
 * and renames it over path. writer returns 0, or -1 with an error set. On
 * any failure the temporary file is removed, path is left as it was, and
 * the error names fn and the file. 0 or -1. */
int ty_write_file_atomic(const char *fn, const char *path, int (*writer)(FILE *f, void *ctx),
                         void *ctx);

#endif
