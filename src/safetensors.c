/* safetensors checkpoints, the named tensor dict they hold, and the atomic
 * file writer shared by every saver of the I/O module.
 *
 * File layout: an 8-byte little-endian header length N, N bytes of UTF-8
 * JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
 * ..., "__metadata__": {"k": "v"}}, then the raw little-endian row-major
 * data; offsets count from the start of the data section, and the tensors
 * must tile it exactly.
 *
 * Only little-endian hosts are supported: tensor bytes are copied to and
 * from the file as they are, with no swapping. */
#include "io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* The reference implementation refuses bigger headers; so do we, so that a
 * corrupt length cannot make us parse (or allocate for) gigabytes of JSON. */
#define MAX_HEADER_BYTES 100000000ULL
/* Integers above 2^53 do not survive cJSON's doubles. */
#define MAX_JSON_INT 9007199254740992.0

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* ---- the dict ---- */

/* Arrays grow to 4, 8, 16, ... entries; the capacity is implied by the
 * count, so the struct needs no capacity field. Returns p unchanged when
 * there is room for one more, a bigger block, or NULL (p still valid). */
static void *grow(void *p, int n, size_t elem) {
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0)) return p;
    size_t cap = n == 0 ? 4 : (size_t)n * 2;
    return realloc(p, cap * elem);
}

ty_tensor_dict *ty_dict_new(void) {
    ty_tensor_dict *d = calloc(1, sizeof *d);
    if (!d) ty_error("dict_new: out of memory");
    return d;
}

void ty_dict_free(ty_tensor_dict *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        free(d->names[i]);
        ty_tensor_release(d->tensors[i]);
    }
    for (int i = 0; i < d->nmeta; i++) {
        free(d->meta_keys[i]);
        free(d->meta_values[i]);
    }
    free(d->names);
    free(d->tensors);
    free(d->meta_keys);
    free(d->meta_values);
    free(d);
}

static int find_name(char **names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

/* Appends without looking for an existing entry (the loader has already
 * checked that names are unique). Takes over `name`, retains t. */
static int dict_append(ty_tensor_dict *d, char *name, ty_tensor *t) {
    char **names = grow(d->names, d->n, sizeof *names);
    if (!names) return ty_error("dict_set: out of memory");
    d->names = names;
    ty_tensor **tensors = grow(d->tensors, d->n, sizeof *tensors);
    if (!tensors) return ty_error("dict_set: out of memory");
    d->tensors = tensors;
    d->names[d->n] = name;
    d->tensors[d->n] = ty_tensor_retain(t);
    d->n++;
    return 0;
}

int ty_dict_set(ty_tensor_dict *d, const char *name, ty_tensor *t) {
    if (!d || !name || !t) return ty_error("dict_set: NULL dict, name or tensor");
    if (strcmp(name, "__metadata__") == 0)
        return ty_error("dict_set: the name '__metadata__' is reserved for metadata");
    int i = find_name(d->names, d->n, name);
    if (i >= 0) {
        ty_tensor_retain(t); /* before the release, in case t is the old entry */
        ty_tensor_release(d->tensors[i]);
        d->tensors[i] = t;
        return 0;
    }
    char *copy = copy_string(name);
    if (!copy) return ty_error("dict_set: out of memory");
    if (dict_append(d, copy, t) < 0) {
        free(copy);
        return -1;
    }
    return 0;
}

ty_tensor *ty_dict_get(const ty_tensor_dict *d, const char *name) {
    if (!d || !name) {
        ty_error("dict_get: NULL dict or name");
        return NULL;
    }
    int i = find_name(d->names, d->n, name);
    if (i < 0) {
        ty_error("dict_get: no tensor named '%s'", name);
        return NULL;
    }
    return ty_tensor_retain(d->tensors[i]);
}

int ty_dict_set_meta(ty_tensor_dict *d, const char *key, const char *value) {
    if (!d || !key || !value) return ty_error("dict_set_meta: NULL dict, key or value");
    char *v = copy_string(value);
    if (!v) return ty_error("dict_set_meta: out of memory");
    int i = find_name(d->meta_keys, d->nmeta, key);
    if (i >= 0) {
        free(d->meta_values[i]);
        d->meta_values[i] = v;
        return 0;
    }
    char *k = copy_string(key);
    char **keys = k ? grow(d->meta_keys, d->nmeta, sizeof *keys) : NULL;
    if (keys) d->meta_keys = keys;
    char **values = keys ? grow(d->meta_values, d->nmeta, sizeof *values) : NULL;
    if (!values) {
        free(k);
        free(v);
        return ty_error("dict_set_meta: out of memory");
    }
    d->meta_values = values;
    d->meta_keys[d->nmeta] = k;
    d->meta_values[d->nmeta] = v;
    d->nmeta++;
    return 0;
}

const char *ty_dict_get_meta(const ty_tensor_dict *d, const char *key) {
    if (!d || !key) return NULL;
    int i = find_name(d->meta_keys, d->nmeta, key);
    return i < 0 ? NULL : d->meta_values[i];
}

/* ---- atomic writes ---- */

/* fsyncs the directory holding path, so that the rename itself survives a
 * crash. Best effort: some file systems refuse to fsync directories. */
static void sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? malloc((size_t)(slash - path) + 2) : copy_string(".");
    if (!dir) return;
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/x" lives in "/" */
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int ty_write_file_atomic(const char *fn, const char *path, int (*writer)(FILE *f, void *ctx),
                         void *ctx) {
    if (!path || !writer) return ty_error("%s: NULL path", fn);
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp) return ty_error("%s: out of memory", fn);
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ty_error("%s: cannot create %s: %s", fn, tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = writer(f, ctx);
    if (rc == 0 && (fflush(f) != 0 || ferror(f)))
        rc = ty_error("%s: writing %s failed: %s", fn, tmp, strerror(errno));
    if (rc == 0 && fsync(fileno(f)) != 0)
        rc = ty_error("%s: fsync of %s failed: %s", fn, tmp, strerror(errno));
    /* fclose can report a delayed write error (NFS), so its result counts */
    if (fclose(f) != 0 && rc == 0)
        rc = ty_error("%s: closing %s failed: %s", fn, tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = ty_error("%s: cannot rename %s to %s: %s", fn, tmp, path, strerror(errno));
    if (rc == 0)
        sync_parent_dir(path);
    else
        unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- dtypes ---- */

static const char *st_dtype_name(ty_dtype dt) {
    switch (dt) {
    case TY_BOOL:
        return "BOOL";
    case TY_U8:
        return "U8";
    case TY_I64:
        return "I64";
    case TY_BF16:
        return "BF16";
    case TY_F16:
        return "F16";
    case TY_F32:
        return "F32";
    case TY_F64:
        return "F64";
    default:
        return NULL;
    }
}

static int st_dtype_parse(const char *name, ty_dtype *out) {
    for (int dt = 0; dt < TY_NUM_DTYPES; dt++) {
        const char *known = st_dtype_name((ty_dtype)dt);
        if (known && strcmp(name, known) == 0) {
            *out = (ty_dtype)dt;
            return 0;
        }
    }
    return -1;
}

/* ---- saving ---- */

typedef struct {
    const char *path;
    const ty_tensor_dict *d;
    const int *order; /* tensor indices sorted by name */
    const char *header;
    size_t header_len; /* padded, without the 8 length bytes */
} st_writer;

typedef struct {
    const char *name;
    int index;
} name_index;

static int by_name(const void *a, const void *b) {
    return strcmp(((const name_index *)a)->name, ((const name_index *)b)->name);
}

static int put(FILE *f, const void *p, size_t n, const char *path) {
    if (n && fwrite(p, 1, n, f) != n)
        return ty_error("safetensors_save: writing %s failed: %s", path, strerror(errno));
    return 0;
}

static int write_safetensors(FILE *f, void *ctx) {
    st_writer *w = ctx;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)w->header_len >> (8 * i));
    if (put(f, len8, 8, w->path) < 0 || put(f, w->header, w->header_len, w->path) < 0) return -1;
    for (int k = 0; k < w->d->n; k++) {
        if (ty_check_interrupt("safetensors_save") < 0) return -1;
        ty_tensor *c = ty_contiguous(w->d->tensors[w->order[k]]);
        if (!c) return -1;
        int rc = put(f, ty_data(c), (size_t)ty_nbytes(c), w->path);
        ty_tensor_release(c);
        if (rc < 0) return -1;
    }
    return 0;
}

/* "[2,3]": integers printed by us, so values past 2^53 stay exact and
 * never turn into "1e+16" (which strict loaders reject). */
static char *int_list(const int64_t *v, int n) {
    char *s = malloc((size_t)n * 21 + 3), *p = s;
    if (!s) return NULL;
    *p++ = '[';
    for (int i = 0; i < n; i++) p += sprintf(p, i ? ",%lld" : "%lld", (long long)v[i]);
    *p++ = ']';
    *p = '\0';
    return s;
}

static int add_raw_list(cJSON *obj, const char *key, const int64_t *v, int n) {
    char *s = int_list(v, n);
    int ok = s && cJSON_AddRawToObject(obj, key, s) != NULL;
    free(s);
    return ok ? 0 : -1;
}

/* The JSON header, space-padded so that 8 + its length is a multiple of 8. */
static char *build_header(const ty_tensor_dict *d, const int *order, size_t *len) {
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && d->nmeta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < d->nmeta; i++)
            ok = cJSON_AddStringToObject(meta, d->meta_keys[i], d->meta_values[i]) != NULL;
    }
    int64_t offset = 0;
    for (int k = 0; ok && k < d->n; k++) {
        const ty_tensor *t = d->tensors[order[k]];
        cJSON *entry = cJSON_AddObjectToObject(root, d->names[order[k]]);
        int64_t offs[2] = {offset, offset + ty_nbytes(t)};
        ok = entry && cJSON_AddStringToObject(entry, "dtype", st_dtype_name(t->dtype)) &&
             add_raw_list(entry, "shape", t->shape, t->ndim) == 0 &&
             add_raw_list(entry, "data_offsets", offs, 2) == 0;
        offset = offs[1];
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        ty_error("safetensors_save: out of memory building the header");
        return NULL;
    }
    size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    char *header = malloc(padded + 1);
    if (header) {
        memcpy(header, text, n);
        memset(header + n, ' ', padded - n);
        header[padded] = '\0';
        *len = padded;
    } else {
        ty_error("safetensors_save: out of memory building the header");
    }
    cJSON_free(text);
    return header;
}

int ty_safetensors_save(const char *path, const ty_tensor_dict *d) {
    if (!path || !d) return ty_error("safetensors_save: NULL path or dict");
    for (int i = 0; i < d->n; i++) {
        if (ty_check_cpu("safetensors_save", d->tensors[i]) < 0) return -1;
        if (!st_dtype_name(d->tensors[i]->dtype))
            return ty_error("safetensors_save: tensor '%s' has unsupported dtype %d", d->names[i],
                            (int)d->tensors[i]->dtype);
    }
    name_index *sorted = malloc(((size_t)d->n + 1) * sizeof *sorted);
    int *order = malloc(((size_t)d->n + 1) * sizeof *order);
    if (!sorted || !order) {
        free(sorted);
        free(order);
        return ty_error("safetensors_save: out of memory");
    }
    for (int i = 0; i < d->n; i++) sorted[i] = (name_index){d->names[i], i};
    qsort(sorted, (size_t)d->n, sizeof *sorted, by_name);
    for (int i = 0; i < d->n; i++) order[i] = sorted[i].index;
    free(sorted);
    st_writer w = {path, d, order, NULL, 0};
    char *header = build_header(d, order, &w.header_len);
    int rc = -1;
    if (header) {
        w.header = header;
        rc = ty_write_file_atomic("safetensors_save", path, write_safetensors, &w);
    }
    free(header);
    free(order);
    return rc;
}

/* ---- loading ---- */

typedef struct {
    const char *name; /* points into the parsed JSON */
    ty_dtype dtype;
    int ndim;
    int64_t shape[TY_MAX_DIMS];
    int64_t begin, end;
} st_entry;

typedef struct {
    const char *path;
    const unsigned char *map;
    size_t map_size;
    cJSON *json;
    st_entry *entries;
    int n;
    ty_tensor_dict *dict;
} st_loader;

static void loader_free(st_loader *l) {
    if (l->map) munmap((void *)l->map, l->map_size);
    cJSON_Delete(l->json);
    free(l->entries);
    ty_dict_free(l->dict);
}

/* Returns the index of the first byte that is not valid UTF-8, or n. */
static size_t utf8_prefix(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        int len;
        uint32_t min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return i;
        }
        if (n - i < (size_t)len) return i;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        /* overlong forms, surrogates and values past Unicode are invalid */
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return i;
        i += (size_t)len;
    }
    return n;
}

/* Reads a JSON number that must be a whole number in [0, 2^53]; otherwise
 * writes what is wrong with it into why and returns -1. */
static int json_count(const cJSON *v, int64_t *out, char *why, size_t size) {
    if (!cJSON_IsNumber(v)) {
        snprintf(why, size, "is not a number");
        return -1;
    }
    double x = v->valuedouble;
    const char *problem = x < 0              ? "is negative"
                          : x != floor(x)    ? "is not an integer"
                          : x > MAX_JSON_INT ? "is too large"
                                             : NULL;
    if (problem) {
        snprintf(why, size, "%s: %.17g", problem, x);
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

static int parse_entry(st_loader *l, const cJSON *item, st_entry *e) {
    const char *fn = "safetensors_load", *name = item->string;
    e->name = name;
    if (!cJSON_IsObject(item))
        return ty_error("%s: %s: tensor '%s': entry is not an object", fn, l->path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!dtype || !shape || !offs)
        return ty_error("%s: %s: tensor '%s': missing field '%s'", fn, l->path, name,
                        !dtype   ? "dtype"
                        : !shape ? "shape"
                                 : "data_offsets");
    if (!cJSON_IsString(dtype))
        return ty_error("%s: %s: tensor '%s': dtype is not a string", fn, l->path, name);
    if (st_dtype_parse(dtype->valuestring, &e->dtype) < 0)
        return ty_error("%s: %s: tensor '%s': unsupported dtype %s (tycho reads F32, F64, I64, "
                        "U8, BOOL, BF16, F16)",
                        fn, l->path, name, dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return ty_error("%s: %s: tensor '%s': shape is not a list", fn, l->path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > TY_MAX_DIMS)
        return ty_error("%s: %s: tensor '%s': shape has %d dims (at most %d)", fn, l->path, name,
                        ndim, TY_MAX_DIMS);
    e->ndim = ndim;
    int64_t numel = 1, limit = INT64_MAX / (int64_t)ty_dtype_size(e->dtype);
    int d = 0, too_large = 0;
    char why[64];
    for (const cJSON *v = shape->child; v; v = v->next, d++) {
        if (json_count(v, &e->shape[d], why, sizeof why) < 0)
            return ty_error("%s: %s: tensor '%s': shape entry %d %s", fn, l->path, name, d, why);
        if (e->shape[d] != 0 && numel > limit / e->shape[d]) too_large = 1;
        if (!too_large) numel *= e->shape[d];
    }
    char sbuf[256];
    ty_shape_str_n(ndim, e->shape, sbuf, sizeof sbuf);
    /* a 0 dim after an overflowing prefix still makes the tensor empty */
    for (d = 0; d < ndim; d++)
        if (e->shape[d] == 0) too_large = 0, numel = 0;
    if (too_large)
        return ty_error("%s: %s: tensor '%s': shape %s is too large", fn, l->path, name, sbuf);
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return ty_error("%s: %s: tensor '%s': data_offsets is not a list of 2 numbers", fn, l->path,
                        name);
    if (json_count(offs->child, &e->begin, why, sizeof why) < 0 ||
        json_count(offs->child->next, &e->end, why, sizeof why) < 0)
        return ty_error("%s: %s: tensor '%s': data offset %s", fn, l->path, name, why);
    if (e->end < e->begin)
        return ty_error("%s: %s: tensor '%s': data_offsets [%lld,%lld] are out of order", fn,
                        l->path, name, (long long)e->begin, (long long)e->end);
    int64_t need = numel * (int64_t)ty_dtype_size(e->dtype);
    if (e->end - e->begin != need)
        return ty_error("%s: %s: tensor '%s': data_offsets [%lld,%lld] hold %lld bytes but shape "
                        "%s of %s needs %lld",
                        fn, l->path, name, (long long)e->begin, (long long)e->end,
                        (long long)(e->end - e->begin), sbuf, dtype->valuestring, (long long)need);
    return 0;
}

static int parse_metadata(st_loader *l, const cJSON *meta) {
    if (!cJSON_IsObject(meta))
        return ty_error("safetensors_load: %s: __metadata__ is not an object", l->path);
    for (const cJSON *v = meta->child; v; v = v->next) {
        if (!cJSON_IsString(v))
            return ty_error("safetensors_load: %s: metadata value '%s' is not a string", l->path,
                            v->string);
        if (ty_dict_get_meta(l->dict, v->string))
            return ty_error("safetensors_load: %s: metadata key '%s' appears twice", l->path,
                            v->string);
        if (ty_dict_set_meta(l->dict, v->string, v->valuestring) < 0) return -1;
    }
    return 0;
}

static int entry_by_name(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int entry_by_offset(const void *a, const void *b) {
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* The tensors must cover [0, data_len) exactly, without gaps or overlaps
 * (what the reference loader demands too). */
static int check_tiling(st_loader *l, int64_t data_len) {
    st_entry **by_off = malloc(((size_t)l->n + 1) * sizeof *by_off);
    if (!by_off) return ty_error("safetensors_load: out of memory");
    for (int i = 0; i < l->n; i++) by_off[i] = &l->entries[i];
    qsort(by_off, (size_t)l->n, sizeof *by_off, entry_by_offset);
    int64_t pos = 0;
    int rc = 0;
    for (int i = 0; i < l->n && rc == 0; i++) {
        st_entry *e = by_off[i];
        if (e->begin < pos)
            rc = ty_error("safetensors_load: %s: tensor '%s': data_offsets [%lld,%lld] overlap "
                          "tensor '%s' (which ends at %lld)",
                          l->path, e->name, (long long)e->begin, (long long)e->end,
                          by_off[i - 1]->name, (long long)pos);
        else if (e->begin > pos)
            rc = ty_error("safetensors_load: %s: tensor '%s': data_offsets [%lld,%lld] leave a "
                          "gap after byte %lld of the data",
                          l->path, e->name, (long long)e->begin, (long long)e->end, (long long)pos);
        else if (e->end > data_len)
            rc = ty_error("safetensors_load: %s: tensor '%s': data_offsets [%lld,%lld] run past "
                          "the end of the data (%lld bytes)",
                          l->path, e->name, (long long)e->begin, (long long)e->end,
                          (long long)data_len);
        pos = e->end;
    }
    if (rc == 0 && pos != data_len)
        rc = ty_error("safetensors_load: %s: the tensors cover %lld bytes of data but the file "
                      "holds %lld",
                      l->path, (long long)pos, (long long)data_len);
    free(by_off);
    return rc;
}

/* Maps the file and checks the header length; fills l->map. */
static int map_file(st_loader *l, uint64_t *header_len) {
    const char *fn = "safetensors_load", *path = l->path;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ty_error("%s: cannot open %s: %s", fn, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ty_error("%s: %s is not a regular file", fn, path);
    }
    if (st.st_size < 8) {
        close(fd);
        return ty_error("%s: %s is %lld bytes, too short for the 8-byte header length", fn, path,
                        (long long)st.st_size);
    }
    /* One mapping, read once; the data is copied out into tensors. */
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return ty_error("%s: cannot map %s: %s", fn, path, strerror(err));
    l->map = map;
    l->map_size = (size_t)st.st_size;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | l->map[i];
    if (n > MAX_HEADER_BYTES)
        return ty_error("%s: %s: header length %llu is over the 100 MB limit", fn, path,
                        (unsigned long long)n);
    if (n > l->map_size - 8)
        return ty_error("%s: %s: header length %llu runs past the end of the file (%zu bytes)", fn,
                        path, (unsigned long long)n, l->map_size);
    *header_len = n;
    return 0;
}

static int parse_header(st_loader *l, uint64_t hlen) {
    const char *fn = "safetensors_load", *path = l->path;
    const char *text = (const char *)l->map + 8;
    size_t bad = utf8_prefix((const unsigned char *)text, hlen);
    if (bad < hlen) return ty_error("%s: %s: header is not valid UTF-8 (byte %zu)", fn, path, bad);
    if (memchr(text, '\0', hlen)) return ty_error("%s: %s: header contains a NUL byte", fn, path);
    const char *end = NULL;
    l->json = cJSON_ParseWithLengthOpts(text, hlen, &end, 0);
    if (!l->json)
        return ty_error("%s: %s: header is not valid JSON (error near byte %td)", fn, path,
                        end ? end - text : (ptrdiff_t)0);
    for (; end < text + hlen; end++)
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
            return ty_error("%s: %s: header has text after the JSON (byte %td)", fn, path,
                            end - text);
    if (!cJSON_IsObject(l->json)) return ty_error("%s: %s: header is not a JSON object", fn, path);
    int count = cJSON_GetArraySize(l->json);
    l->entries = calloc((size_t)count + 1, sizeof *l->entries);
    if (!l->entries) return ty_error("%s: out of memory", fn);
    int nmeta = 0;
    for (const cJSON *item = l->json->child; item; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (nmeta++) return ty_error("%s: %s: __metadata__ appears twice", fn, path);
            if (parse_metadata(l, item) < 0) return -1;
        } else {
            if (parse_entry(l, item, &l->entries[l->n]) < 0) return -1;
            l->n++;
        }
    }
    qsort(l->entries, (size_t)l->n, sizeof *l->entries, entry_by_name);
    for (int i = 1; i < l->n; i++)
        if (strcmp(l->entries[i].name, l->entries[i - 1].name) == 0)
            return ty_error("%s: %s: tensor '%s' appears twice", fn, path, l->entries[i].name);
    return 0;
}

ty_tensor_dict *ty_safetensors_load(const char *path) {
    if (!path) {
        ty_error("safetensors_load: NULL path");
        return NULL;
    }
    st_loader l = {.path = path};
    uint64_t hlen = 0;
    if (map_file(&l, &hlen) < 0) goto fail;
    l.dict = ty_dict_new();
    if (!l.dict || parse_header(&l, hlen) < 0) goto fail;
    int64_t data_len = (int64_t)(l.map_size - 8 - hlen);
    if (check_tiling(&l, data_len) < 0) goto fail;
    /* Everything is validated: now allocate and copy. */
    const unsigned char *data = l.map + 8 + hlen;
    for (int i = 0; i < l.n; i++) {
        st_entry *e = &l.entries[i];
        if (ty_check_interrupt("safetensors_load") < 0) goto fail;
        char *name = copy_string(e->name);
        if (!name) {
            ty_error("safetensors_load: out of memory");
            goto fail;
        }
        ty_tensor *t = ty_empty(e->ndim, e->shape, e->dtype, ty_cpu());
        if (!t) {
            ty_error_prefix("safetensors_load");
            free(name);
            goto fail;
        }
        if (dict_append(l.dict, name, t) < 0) {
            free(name);
            ty_tensor_release(t);
            goto fail;
        }
        if (e->end > e->begin) memcpy(ty_data(t), data + e->begin, (size_t)(e->end - e->begin));
        ty_tensor_release(t); /* the dict holds it */
    }
    ty_tensor_dict *d = l.dict;
    l.dict = NULL;
    loader_free(&l);
    return d;
fail:
    loader_free(&l);
    return NULL;
}
