/* IDX files, the format of MNIST and Fashion-MNIST: bytes 0 0 <type> <ndim>,
 * ndim big-endian u32 sizes, then the big-endian row-major data. The files
 * are usually distributed gzip-compressed; zlib's gzread reads both kinds.
 *
 * A gzip file's size says nothing about what it holds, so a corrupt header
 * must not make us allocate what it claims: the data is read in chunks
 * into a buffer that grows as bytes actually arrive, and claims past
 * 2^34 bytes are refused outright. */
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "error.h"

#define MAX_CLAIM_BYTES ((int64_t)1 << 34)
#define CHUNK_BYTES ((int64_t)1 << 24)

typedef struct {
    int code;
    int size;
    ty_dtype dtype;
    const char *name;
} idx_type;

static const idx_type idx_types[] = {
    {0x08, 1, TY_U8, "u8"},   {0x09, 1, TY_I64, "i8"},  {0x0B, 2, TY_I64, "i16"},
    {0x0C, 4, TY_I64, "i32"}, {0x0D, 4, TY_F32, "f32"}, {0x0E, 8, TY_F64, "f64"},
};

/* Reads up to n bytes; the count read (short only at the end of the file),
 * or -1 with an error when zlib reports one (corrupt or truncated gzip). */
static int64_t read_up_to(gzFile gz, void *buf, int64_t n, const char *path) {
    int64_t got = 0;
    while (got < n) {
        int64_t want = n - got < CHUNK_BYTES ? n - got : CHUNK_BYTES;
        int r = gzread(gz, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int code;
            const char *msg = gzerror(gz, &code);
            return ty_error("idx_load: %s: read error: %s", path,
                            code == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0) break;
        got += r;
    }
    return got;
}

static void free_blob(void *data, void *ctx) {
    (void)ctx;
    free(data);
}

/* Reads `bytes` bytes of data, growing the buffer as it fills. NULL with
 * an error on early end of file. */
static unsigned char *read_data(gzFile gz, int64_t bytes, const char *path) {
    int64_t cap = bytes < CHUNK_BYTES ? bytes : CHUNK_BYTES, got = 0;
    unsigned char *buf = malloc((size_t)cap + 1);
    if (!buf) {
        ty_error("idx_load: out of memory");
        return NULL;
    }
    while (got < bytes) {
        if (got == cap) {
            int64_t grown = cap * 2 < bytes ? cap * 2 : bytes;
            unsigned char *b = realloc(buf, (size_t)grown + 1);
            if (!b) {
                ty_error("idx_load: out of memory reading %lld bytes", (long long)grown);
                free(buf);
                return NULL;
            }
            buf = b;
            cap = grown;
        }
        if (ty_check_interrupt("idx_load") < 0) break;
        int64_t want = cap - got < CHUNK_BYTES ? cap - got : CHUNK_BYTES;
        int64_t r = read_up_to(gz, buf + got, want, path);
        if (r < 0) break;
        got += r;
        if (r < want) {
            ty_error("idx_load: %s is truncated: the header claims %lld bytes of data, the file "
                     "holds %lld",
                     path, (long long)bytes, (long long)got);
            break;
        }
    }
    if (got < bytes) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Big-endian elements to host (little-endian) order, in place. */
static void swap_bytes(unsigned char *p, int64_t n, int size) {
    for (int64_t i = 0; i < n; i++, p += size)
        for (int a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char tmp = p[a];
            p[a] = p[b];
            p[b] = tmp;
        }
}

/* Wraps or converts the raw data into the result; takes over raw. */
static ty_tensor *make_tensor(unsigned char *raw, const idx_type *ty, int ndim,
                              const int64_t *shape, int64_t numel) {
    ty_tensor *t;
    if (ty->dtype != TY_I64) {
        swap_bytes(raw, numel, ty->size);
        t = ty_from_blob(raw, ndim, shape, ty->dtype, free_blob, NULL);
        if (!t) free(raw);
        return t;
    }
    t = ty_empty(ndim, shape, TY_I64, ty_cpu());
    if (t) {
        int64_t *out = ty_data(t);
        for (int64_t i = 0; i < numel; i++) {
            const unsigned char *p = raw + i * ty->size;
            switch (ty->size) {
            case 1:
                out[i] = (int8_t)p[0];
                break;
            case 2:
                out[i] = (int16_t)(uint16_t)(p[0] << 8 | p[1]);
                break;
            default:
                out[i] = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                                   (uint32_t)p[2] << 8 | p[3]);
            }
        }
    }
    free(raw);
    return t;
}

ty_tensor *ty_idx_load(const char *path) {
    if (!path) {
        ty_error("idx_load: NULL path");
        return NULL;
    }
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        ty_error("idx_load: cannot open %s: %s", path, errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    ty_tensor *result = NULL;
    unsigned char head[4 + 4 * TY_MAX_DIMS];
    int64_t r = read_up_to(gz, head, 4, path);
    if (r < 0) goto done;
    if (r < 4 || head[0] != 0 || head[1] != 0) {
        ty_error("idx_load: %s is not an IDX file (bad magic)", path);
        goto done;
    }
    const idx_type *ty = NULL;
    for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
        if (idx_types[i].code == head[2]) ty = &idx_types[i];
    if (!ty) {
        ty_error("idx_load: %s: unknown type code 0x%02X (known: 08 09 0B 0C 0D 0E)", path,
                 head[2]);
        goto done;
    }
    int ndim = head[3];
    if (ndim < 1 || ndim > TY_MAX_DIMS) {
        ty_error("idx_load: %s: %d dims is out of range (1 to %d)", path, ndim, TY_MAX_DIMS);
        goto done;
    }
    r = read_up_to(gz, head + 4, 4 * ndim, path);
    if (r < 0) goto done;
    if (r < 4 * ndim) {
        ty_error("idx_load: %s is truncated in the sizes of its %d dims", path, ndim);
        goto done;
    }
    int64_t shape[TY_MAX_DIMS], numel = 1;
    int too_big = 0;
    for (int d = 0; d < ndim; d++) {
        const unsigned char *p = head + 4 + 4 * d;
        shape[d] =
            (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
        if (shape[d] != 0 && numel > MAX_CLAIM_BYTES / shape[d]) too_big = 1;
        if (!too_big) numel *= shape[d];
    }
    for (int d = 0; d < ndim; d++)
        if (shape[d] == 0) numel = 0, too_big = 0;
    char sbuf[256];
    ty_shape_str_n(ndim, shape, sbuf, sizeof sbuf);
    if (too_big || numel > MAX_CLAIM_BYTES / ty->size) {
        ty_error("idx_load: %s: shape %s of %s is over the 2^34-byte limit", path, sbuf, ty->name);
        goto done;
    }
    int64_t bytes = numel * ty->size;
    struct stat st;
    /* An uncompressed file tells its size up front: a cheap, clear check. */
    if (gzdirect(gz) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        int64_t have = (int64_t)st.st_size - 4 - 4 * ndim;
        if (have < bytes) {
            ty_error("idx_load: %s: shape %s of %s needs %lld bytes of data but the file holds "
                     "%lld (truncated?)",
                     path, sbuf, ty->name, (long long)bytes, (long long)have);
            goto done;
        }
        if (have > bytes) {
            ty_error("idx_load: %s: %lld bytes after the data of shape %s of %s", path,
                     (long long)(have - bytes), sbuf, ty->name);
            goto done;
        }
    }
    unsigned char *raw = read_data(gz, bytes, path);
    if (!raw) goto done;
    unsigned char extra;
    r = read_up_to(gz, &extra, 1, path);
    if (r != 0) {
        if (r > 0)
            ty_error("idx_load: %s: bytes after the data of shape %s of %s", path, sbuf, ty->name);
        free(raw);
        goto done;
    }
    result = make_tensor(raw, ty, ndim, shape, numel);
done:
    gzclose(gz);
    return result;
}
