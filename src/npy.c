/* NumPy .npy files: one array per file.
 *
 * Layout: "\x93NUMPY", a major and minor version byte, the header length
 * (u16 little-endian in version 1.0, u32 in 2.0 and 3.0), a header that is
 * a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape':
 * (2, 3), } padded with spaces and a newline, then the raw data.
 *
 * The header is parsed by a small strict parser for exactly that literal;
 * nothing is evaluated. Only little-endian hosts are supported: '<' and '='
 * data is copied as is, '>' data is byte-swapped. */
#include "io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

/* A real header is under 200 bytes for any tycho shape; NumPy itself
 * refuses headers over 10000 bytes unless told otherwise. */
#define MAX_HEADER_BYTES (1 << 20)

/* ---- saving ---- */

static const char *npy_descr(ty_dtype dt) {
    switch (dt) {
    case TY_F32:
        return "<f4";
    case TY_F64:
        return "<f8";
    case TY_I64:
        return "<i8";
    case TY_U8:
        return "|u1";
    case TY_BOOL:
        return "|b1";
    case TY_F16:
        return "<f2";
    case TY_BF16:
        return "<f4"; /* no NumPy bf16: widened exactly to f32 */
    default:
        return NULL;
    }
}

typedef struct {
    const char *path;
    ty_tensor *data; /* contiguous, in the dtype written */
    const char *header;
    size_t header_len;
} npy_writer;

static int write_npy(FILE *f, void *ctx) {
    npy_writer *w = ctx;
    size_t n = (size_t)ty_nbytes(w->data);
    if (fwrite(w->header, 1, w->header_len, f) != w->header_len ||
        (n && fwrite(ty_data(w->data), 1, n, f) != n))
        return ty_error("npy_save: writing %s failed: %s", w->path, strerror(errno));
    return 0;
}

/* Magic, version 1.0, length and dict, padded with spaces and ended by a
 * newline so the data starts 64-byte aligned, as NumPy writes it. */
static size_t build_header(char *buf, size_t size, const char *descr, const ty_tensor *t) {
    char dict[TY_MAX_DIMS * 22 + 128];
    int k =
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int d = 0; d < t->ndim; d++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, d ? ", %lld" : "%lld",
                      (long long)t->shape[d]);
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%s), }", t->ndim == 1 ? "," : "");
    size_t total = (10 + (size_t)k + 1 + 63) / 64 * 64;
    if (total > size) return 0;
    size_t hlen = total - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hlen & 0xFF);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)k);
    memset(buf + 10 + k, ' ', hlen - (size_t)k - 1);
    buf[total - 1] = '\n';
    return total;
}

int ty_npy_save(const char *path, const ty_tensor *t) {
    if (!path || !t) return ty_error("npy_save: NULL path or tensor");
    if (ty_check_cpu("npy_save", t) < 0) return -1;
    const char *descr = npy_descr(t->dtype);
    if (!descr) return ty_error("npy_save: unsupported dtype %d", (int)t->dtype);
    /* ty_cast and ty_contiguous take a mutable tensor but do not change it;
     * a cast is a fresh contiguous copy */
    ty_tensor *src = (ty_tensor *)t;
    ty_tensor *c = t->dtype == TY_BF16 ? ty_cast(src, TY_F32) : ty_contiguous(src);
    if (!c) return -1;
    char header[512];
    npy_writer w = {path, c, header, build_header(header, sizeof header, descr, t)};
    int rc = ty_write_file_atomic("npy_save", path, write_npy, &w);
    ty_tensor_release(c);
    return rc;
}

/* ---- the header parser ---- */

typedef struct {
    const char *s;
    size_t pos, n;
    const char *path;
} parser;

static int parse_fail(parser *p, const char *what) {
    int shown = (int)(p->n < 200 ? p->n : 200); /* without the padding */
    while (shown > 0 && (p->s[shown - 1] == ' ' || p->s[shown - 1] == '\n')) shown--;
    return ty_error("npy_load: %s: bad header: %s at byte %zu of \"%.*s\"", p->path, what, p->pos,
                    shown, p->s);
}

static void skip_ws(parser *p) {
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                             p->s[p->pos] == '\r'))
        p->pos++;
}

static int accept(parser *p, char c) {
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == c) {
        p->pos++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes into out. */
static int parse_string(parser *p, char *out, size_t size) {
    skip_ws(p);
    if (p->pos >= p->n || (p->s[p->pos] != '\'' && p->s[p->pos] != '"'))
        return parse_fail(p, "expected a string");
    char quote = p->s[p->pos++];
    size_t k = 0;
    while (p->pos < p->n && p->s[p->pos] != quote) {
        if (p->s[p->pos] == '\\' || k + 1 >= size) return parse_fail(p, "unsupported string");
        out[k++] = p->s[p->pos++];
    }
    if (p->pos >= p->n) return parse_fail(p, "unterminated string");
    p->pos++;
    out[k] = '\0';
    return 0;
}

static int parse_bool(parser *p, int *out) {
    skip_ws(p);
    const char *rest = p->s + p->pos;
    size_t left = p->n - p->pos;
    if (left >= 4 && memcmp(rest, "True", 4) == 0) {
        *out = 1;
        p->pos += 4;
    } else if (left >= 5 && memcmp(rest, "False", 5) == 0) {
        *out = 0;
        p->pos += 5;
    } else {
        return parse_fail(p, "expected True or False");
    }
    return 0;
}

/* A tuple of non-negative integers: (), (3,), (2, 3) or (2, 3,). */
static int parse_shape(parser *p, int *ndim, int64_t *shape) {
    if (!accept(p, '(')) return parse_fail(p, "expected a tuple for shape");
    *ndim = 0;
    while (!accept(p, ')')) {
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return parse_fail(p, "expected a non-negative integer in shape");
        int64_t v = 0;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            int digit = p->s[p->pos++] - '0';
            if (v > (INT64_MAX - digit) / 10) return parse_fail(p, "shape entry is too large");
            v = v * 10 + digit;
        }
        if (p->pos < p->n && p->s[p->pos] == 'L') p->pos++; /* Python 2 longs */
        if (*ndim == TY_MAX_DIMS) return parse_fail(p, "too many dims in shape");
        shape[(*ndim)++] = v;
        if (!accept(p, ',')) {
            if (!accept(p, ')')) return parse_fail(p, "expected ',' or ')' in shape");
            break;
        }
    }
    return 0;
}

typedef struct {
    char descr[32];
    int fortran;
    int ndim;
    int64_t shape[TY_MAX_DIMS];
} npy_header;

/* Exactly the keys descr, fortran_order and shape, in any order. */
static int parse_header(parser *p, npy_header *h) {
    int seen[3] = {0, 0, 0};
    if (!accept(p, '{')) return parse_fail(p, "expected '{'");
    while (!accept(p, '}')) {
        char key[32];
        if (parse_string(p, key, sizeof key) < 0) return -1;
        if (!accept(p, ':')) return parse_fail(p, "expected ':'");
        int which = strcmp(key, "descr") == 0           ? 0
                    : strcmp(key, "fortran_order") == 0 ? 1
                    : strcmp(key, "shape") == 0         ? 2
                                                        : -1;
        if (which < 0) return parse_fail(p, "unknown key");
        if (seen[which]++) return parse_fail(p, "repeated key");
        skip_ws(p);
        if (which == 0 && p->pos < p->n && p->s[p->pos] != '\'' && p->s[p->pos] != '"')
            return parse_fail(p, "descr is not a string (structured dtypes are not supported)");
        int rc = which == 0   ? parse_string(p, h->descr, sizeof h->descr)
                 : which == 1 ? parse_bool(p, &h->fortran)
                              : parse_shape(p, &h->ndim, h->shape);
        if (rc < 0) return -1;
        if (!accept(p, ',')) {
            if (!accept(p, '}')) return parse_fail(p, "expected ',' or '}'");
            break;
        }
    }
    skip_ws(p);
    if (p->pos != p->n) return parse_fail(p, "text after the dict");
    if (!seen[0] || !seen[1] || !seen[2])
        return parse_fail(p, !seen[0]   ? "missing 'descr'"
                             : !seen[1] ? "missing 'fortran_order'"
                                        : "missing 'shape'");
    return 0;
}

/* ---- dtypes ---- */

typedef struct {
    char kind;      /* 'f', 'i', 'u', 'b' */
    int size;       /* bytes per element in the file */
    int swap;       /* big-endian data */
    ty_dtype dtype; /* what it loads as */
} npy_type;

static int parse_descr(const char *descr, npy_type *out) {
    if (strlen(descr) < 3 || !strchr("<>=|", descr[0]) || descr[2] < '0' || descr[2] > '9')
        return -1;
    char order = descr[0], kind = descr[1], *end;
    long size = strtol(descr + 2, &end, 10);
    if (*end != '\0' || (order == '|' && size != 1)) return -1;
    out->kind = kind;
    out->size = (int)size;
    out->swap = order == '>' && size > 1;
    switch (kind) {
    case 'f':
        if (size != 2 && size != 4 && size != 8) return -1;
        out->dtype = size == 2 ? TY_F16 : size == 4 ? TY_F32 : TY_F64;
        return 0;
    case 'i':
        if (size != 1 && size != 2 && size != 4 && size != 8) return -1;
        out->dtype = TY_I64;
        return 0;
    case 'u':
        if (size != 1 && size != 2 && size != 4 && size != 8) return -1;
        out->dtype = size == 1 ? TY_U8 : TY_I64;
        return 0;
    case 'b':
        if (size != 1) return -1;
        out->dtype = TY_BOOL;
        return 0;
    default:
        return -1;
    }
}

static uint64_t load_uint(const unsigned char *p, int size, int swap) {
    uint64_t v = 0;
    for (int i = 0; i < size; i++) v |= (uint64_t)p[swap ? size - 1 - i : i] << (8 * i);
    return v;
}

/* Converts n elements of the file's type at raw into out's dtype. */
static int convert(const npy_type *ty, const unsigned char *raw, void *out, int64_t n,
                   const char *path) {
    if (ty->kind == 'b') {
        unsigned char *o = out; /* any non-zero byte is true, stored as 1 */
        for (int64_t i = 0; i < n; i++) o[i] = raw[i] != 0;
        return 0;
    }
    if (ty->dtype != TY_I64 || ty->kind == 'f' || (ty->kind == 'i' && ty->size == 8)) {
        /* same type: only the byte order may differ */
        if (out != raw) memcpy(out, raw, (size_t)n * (size_t)ty->size);
        if (ty->swap) {
            unsigned char *o = out;
            for (int64_t i = 0; i < n; i++) {
                unsigned char *e = o + i * ty->size;
                for (int a = 0, b = ty->size - 1; a < b; a++, b--) {
                    unsigned char tmp = e[a];
                    e[a] = e[b];
                    e[b] = tmp;
                }
            }
        }
        return 0;
    }
    int64_t *o = out;
    int bits = 8 * ty->size;
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = load_uint(raw + i * ty->size, ty->size, ty->swap);
        if (ty->kind == 'i') {
            if (bits < 64 && (v >> (bits - 1)) & 1) v |= ~(uint64_t)0 << bits; /* sign-extend */
            o[i] = (int64_t)v;
        } else {
            if (v > (uint64_t)INT64_MAX)
                return ty_error("npy_load: %s: element %lld is %llu, past the i64 range", path,
                                (long long)i, (unsigned long long)v);
            o[i] = (int64_t)v;
        }
    }
    return 0;
}

/* ---- loading ---- */

static int read_exact(FILE *f, void *buf, size_t n) {
    return fread(buf, 1, n, f) == n ? 0 : -1;
}

/* Reads the prefix and header; leaves f at the first data byte. */
static int read_header(FILE *f, const char *path, int64_t file_size, npy_header *h,
                       int64_t *data_start) {
    unsigned char pre[12];
    if (read_exact(f, pre, 8) < 0 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return ty_error("npy_load: %s is not a .npy file (bad magic)", path);
    int major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return ty_error("npy_load: %s: unsupported .npy version %d.%d", path, major, minor);
    int lenbytes = major == 1 ? 2 : 4;
    if (read_exact(f, pre + 8, (size_t)lenbytes) < 0)
        return ty_error("npy_load: %s is truncated in the header length", path);
    uint64_t hlen = load_uint(pre + 8, lenbytes, 0);
    *data_start = 8 + lenbytes + (int64_t)hlen;
    if (hlen > MAX_HEADER_BYTES || *data_start > file_size)
        return ty_error("npy_load: %s: header length %llu runs past the end of the file (%lld "
                        "bytes)",
                        path, (unsigned long long)hlen, (long long)file_size);
    char *text = malloc((size_t)hlen + 1);
    if (!text) return ty_error("npy_load: out of memory");
    if (read_exact(f, text, (size_t)hlen) < 0) {
        free(text);
        return ty_error("npy_load: %s: cannot read the header: %s", path, strerror(errno));
    }
    text[hlen] = '\0';
    parser p = {text, 0, (size_t)hlen, path};
    if (memchr(text, '\0', (size_t)hlen)) {
        free(text);
        return ty_error("npy_load: %s: header contains a NUL byte", path);
    }
    int rc = parse_header(&p, h);
    free(text);
    return rc;
}

/* A contiguous row-major tensor from one laid out in Fortran (column-major)
 * order, which is its reversed-shape tensor transposed. */
static ty_tensor *from_fortran(ty_tensor *rev) {
    int perm[TY_MAX_DIMS];
    for (int d = 0; d < rev->ndim; d++) perm[d] = rev->ndim - 1 - d;
    ty_tensor *view = ty_permute(rev, perm);
    if (!view) return NULL;
    ty_tensor *c = ty_clone(view);
    ty_tensor_release(view);
    return c;
}

ty_tensor *ty_npy_load(const char *path) {
    if (!path) {
        ty_error("npy_load: NULL path");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        ty_error("npy_load: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    ty_tensor *t = NULL, *result = NULL;
    unsigned char *raw = NULL;
    int raw_owned = 0;
    struct stat st;
    npy_header h = {0};
    npy_type ty;
    int64_t start = 0;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        ty_error("npy_load: %s is not a regular file", path);
        goto done;
    }
    if (read_header(f, path, (int64_t)st.st_size, &h, &start) < 0) goto done;
    if (parse_descr(h.descr, &ty) < 0) {
        ty_error("npy_load: %s: unsupported descr '%s' (tycho reads f2 f4 f8 i1 i2 i4 i8 u1 u2 "
                 "u4 u8 b1)",
                 path, h.descr);
        goto done;
    }
    /* Check the claimed size against the file before allocating anything. */
    char sbuf[256];
    ty_shape_str_n(h.ndim, h.shape, sbuf, sizeof sbuf);
    int64_t numel = 1, have = (int64_t)st.st_size - start;
    for (int d = 0; d < h.ndim; d++) {
        if (h.shape[d] != 0 && numel > INT64_MAX / 8 / h.shape[d]) {
            numel = -1;
            break;
        }
        numel *= h.shape[d];
    }
    for (int d = 0; d < h.ndim; d++)
        if (h.shape[d] == 0) numel = 0;
    if (numel < 0) {
        ty_error("npy_load: %s: shape %s is too large (the file holds %lld bytes of data)", path,
                 sbuf, (long long)have);
        goto done;
    }
    if (numel * ty.size > have) {
        ty_error("npy_load: %s: shape %s of '%s' needs %lld bytes of data but the file holds "
                 "only %lld (truncated?)",
                 path, sbuf, h.descr, (long long)(numel * ty.size), (long long)have);
        goto done;
    }
    if (numel * ty.size < have) {
        ty_error("npy_load: %s: %lld bytes after the data of shape %s of '%s'", path,
                 (long long)(have - numel * ty.size), sbuf, h.descr);
        goto done;
    }
    int64_t shape[TY_MAX_DIMS];
    for (int d = 0; d < h.ndim; d++) shape[d] = h.shape[h.fortran ? h.ndim - 1 - d : d];
    t = ty_empty(h.ndim, shape, ty.dtype, ty_cpu());
    if (!t) {
        ty_error_prefix("npy_load");
        goto done;
    }
    size_t nbytes = (size_t)(numel * ty.size);
    /* Same element size: read straight into the tensor and convert in
     * place (element i only ever overwrites itself). */
    raw_owned = (size_t)ty_nbytes(t) != nbytes;
    raw = raw_owned ? malloc(nbytes) : ty_data(t);
    if (!raw) {
        ty_error("npy_load: out of memory reading %zu bytes", nbytes);
        goto done;
    }
    if (read_exact(f, raw, nbytes) < 0) {
        ty_error("npy_load: %s: cannot read the data: %s", path,
                 ferror(f) ? strerror(errno) : "file is truncated");
        goto done;
    }
    if (convert(&ty, raw, ty_data(t), numel, path) < 0) goto done;
    if (h.fortran && h.ndim > 1) {
        result = from_fortran(t);
    } else {
        result = t;
        t = NULL;
    }
done:
    if (raw_owned) free(raw);
    ty_tensor_release(t);
    fclose(f);
    return result;
}
