/* File I/O: the tensor dict, safetensors (exact bytes, files as Python's
 * safetensors writes them, corrupt files), .npy (hand-written headers,
 * round trips, bad files) and IDX (plain and gzip, bad files). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

/* ---- helpers ---- */

/* A scratch file name unique to this process. */
static const char *tmp_path(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/tycho_io_%ld_%s", tu_tmpdir(), (long)getpid(), name);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* The whole file in a malloc'd buffer; *n gets its size. */
static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

/* Writes a safetensors file from a header string (padded with spaces to
 * pad bytes when pad > strlen) and raw data. */
static void write_st(const char *path, const char *header, size_t pad, const void *data,
                     size_t ndata) {
    size_t hlen = strlen(header) > pad ? strlen(header) : pad;
    unsigned char *buf = malloc(8 + hlen + ndata + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memset(buf + 8, ' ', hlen);
    memcpy(buf + 8, header, strlen(header));
    if (ndata) memcpy(buf + 8 + hlen, data, ndata);
    write_bytes(path, buf, 8 + hlen + ndata);
    free(buf);
}

static void assert_same_tensor(const ty_tensor *a, const ty_tensor *b) {
    ck_assert_int_eq(a->dtype, b->dtype);
    ck_assert(ty_is_contiguous(a));
    tu_assert_close(a, b, 0, 0);
}

/* One tensor of every dtype, with negative, fractional and large values
 * where the dtype holds them. */
static ty_tensor *sample(ty_dtype dt, int ndim, const int64_t *shape, uint64_t seed) {
    if (dt == TY_BOOL || dt == TY_U8)
        return tu_uniform(ndim, shape, dt, 0, dt == TY_U8 ? 256 : 2, seed);
    if (dt == TY_I64) {
        ty_tensor *t = tu_uniform(ndim, shape, dt, -1e6, 1e6, seed);
        if (ty_numel(t) > 0) ((int64_t *)ty_data(t))[0] = INT64_MIN + 3; /* not a double */
        return t;
    }
    return tu_randn(ndim, shape, dt, seed);
}

static const ty_dtype all_dtypes[] = {TY_F32, TY_F64, TY_I64, TY_U8, TY_BOOL, TY_BF16, TY_F16};
#define NDTYPES 7

/* ---- the dict ---- */

START_TEST(test_dict_set_get_replace) {
    ty_tensor_dict *d = ty_dict_new();
    ty_tensor *a = tu_arange(1, (int64_t[]){3}, TY_F32);
    ty_tensor *b = tu_arange(1, (int64_t[]){4}, TY_I64);
    ck_assert_int_eq(ty_dict_set(d, "w", a), 0);
    ck_assert_int_eq(a->refcount, 2); /* retained */
    ck_assert_int_eq(ty_dict_set(d, "w", b), 0);
    ck_assert_int_eq(a->refcount, 1); /* the replaced tensor is released */
    ck_assert_int_eq(d->n, 1);
    ck_assert_int_eq(ty_dict_set(d, "w", b), 0); /* setting the same tensor again */
    ck_assert_int_eq(b->refcount, 2);
    for (int i = 0; i < 20; i++) { /* grows past the first blocks */
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        ck_assert_int_eq(ty_dict_set(d, name, a), 0);
    }
    ck_assert_int_eq(d->n, 21);
    ty_tensor *g = ty_dict_get(d, "t17");
    ck_assert_ptr_eq(g, a);
    ck_assert_int_eq(a->refcount, 22); /* dict 20 + ours + the get */
    ty_tensor_release(g);
    tu_assert_error(ty_dict_get(d, "nope") == NULL, "dict_get", "nope");
    tu_assert_error(ty_dict_set(d, "__metadata__", a) < 0, "dict_set", "__metadata__");
    tu_assert_error(ty_dict_set(d, NULL, a) < 0, "dict_set", "NULL");
    ck_assert_ptr_null(ty_dict_get_meta(d, "format"));
    ck_assert_int_eq(ty_dict_set_meta(d, "format", "pt"), 0);
    ck_assert_int_eq(ty_dict_set_meta(d, "format", "tycho"), 0);
    ck_assert_int_eq(ty_dict_set_meta(d, "epoch", "3"), 0);
    ck_assert_int_eq(d->nmeta, 2);
    ck_assert_str_eq(ty_dict_get_meta(d, "format"), "tycho");
    ck_assert_str_eq(ty_dict_get_meta(d, "epoch"), "3");
    ty_dict_free(d);
    ck_assert_int_eq(a->refcount, 1);
    ck_assert_int_eq(b->refcount, 1);
    ty_tensor_release(a);
    ty_tensor_release(b);
    ty_dict_free(NULL);
}
END_TEST

/* ---- safetensors ---- */

START_TEST(test_st_roundtrip_every_dtype) {
    char path[512];
    tmp_path(path, sizeof path, "rt.safetensors");
    ty_tensor_dict *d = ty_dict_new();
    ty_tensor *keep[4 * NDTYPES];
    int nkeep = 0;
    for (int k = 0; k < NDTYPES; k++) {
        ty_dtype dt = all_dtypes[k];
        char name[64];
        ty_tensor *t = sample(dt, 3, (int64_t[]){2, 3, 5}, 10 + k);
        snprintf(name, sizeof name, "%s.plain", ty_dtype_name(dt));
        ck_assert_int_eq(ty_dict_set(d, name, t), 0);
        keep[nkeep++] = t;
        ty_tensor *nc = tu_noncontiguous(t);
        snprintf(name, sizeof name, "%s.transposed", ty_dtype_name(dt));
        ck_assert_int_eq(ty_dict_set(d, name, nc), 0);
        keep[nkeep++] = nc;
        ty_tensor *st = tu_strided(t);
        snprintf(name, sizeof name, "%s.strided", ty_dtype_name(dt));
        ck_assert_int_eq(ty_dict_set(d, name, st), 0);
        keep[nkeep++] = st;
        ty_tensor *s = ty_scalar(dt == TY_BOOL ? 1 : 3, dt);
        snprintf(name, sizeof name, "%s.scalar", ty_dtype_name(dt));
        ck_assert_int_eq(ty_dict_set(d, name, s), 0);
        keep[nkeep++] = s;
    }
    ty_tensor *empty = ty_empty(2, (int64_t[]){0, 4}, TY_F32, ty_cpu());
    ck_assert_int_eq(ty_dict_set(d, "empty", empty), 0);
    ck_assert_int_eq(ty_dict_set_meta(d, "format", "pt"), 0);
    ck_assert_int_eq(ty_dict_set_meta(d, "note", "caf\xc3\xa9 \"quoted\"\n"), 0);
    ck_assert_int_eq(ty_safetensors_save(path, d), 0);

    ty_tensor_dict *l = ty_safetensors_load(path);
    ck_assert_msg(l != NULL, "%s", ty_last_error());
    ck_assert_int_eq(l->n, d->n);
    for (int i = 0; i < d->n; i++) {
        ty_tensor *got = ty_dict_get(l, d->names[i]);
        ck_assert_msg(got != NULL, "%s", ty_last_error());
        assert_same_tensor(got, d->tensors[i]);
        ty_tensor_release(got);
    }
    for (int i = 1; i < l->n; i++) ck_assert(strcmp(l->names[i - 1], l->names[i]) < 0);
    ty_tensor *ie = ty_dict_get(l, "i64.plain");
    ck_assert(((int64_t *)ty_data(ie))[0] == INT64_MIN + 3);
    ty_tensor_release(ie);
    ck_assert_int_eq(l->nmeta, 2);
    ck_assert_str_eq(ty_dict_get_meta(l, "format"), "pt");
    ck_assert_str_eq(ty_dict_get_meta(l, "note"), "caf\xc3\xa9 \"quoted\"\n");
    /* the data section starts 8-byte aligned */
    size_t n;
    unsigned char *bytes = read_bytes(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i];
    ck_assert_uint_eq(hlen % 8, 0);
    free(bytes);
    ty_dict_free(l);
    ty_dict_free(d);
    for (int i = 0; i < nkeep; i++) ty_tensor_release(keep[i]);
    ty_tensor_release(empty);
    unlink(path);
}
END_TEST

START_TEST(test_st_exact_bytes) {
    char path[512];
    tmp_path(path, sizeof path, "exact.safetensors");
    ty_tensor_dict *d = ty_dict_new();
    ty_tensor *b = ty_from_buffer((float[]){1.0f, -2.5f}, 1, (int64_t[]){2}, TY_F32);
    ty_tensor *a = ty_from_buffer((uint8_t[]){7}, 1, (int64_t[]){1}, TY_U8);
    ck_assert_int_eq(ty_dict_set(d, "b", b), 0); /* written sorted by name: a first */
    ck_assert_int_eq(ty_dict_set(d, "a", a), 0);
    ck_assert_int_eq(ty_dict_set_meta(d, "format", "pt"), 0);
    ck_assert_int_eq(ty_safetensors_save(path, d), 0);
    static const char expected[] = "\x90\x00\x00\x00\x00\x00\x00\x00"
                                   "{\"__metadata__\":{\"format\":\"pt\"},"
                                   "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}"
                                   "       "
                                   "\x07"
                                   "\x00\x00\x80\x3f"
                                   "\x00\x00\x20\xc0";
    size_t n;
    unsigned char *got = read_bytes(path, &n);
    ck_assert_uint_eq(n, sizeof expected - 1);
    ck_assert(memcmp(got, expected, n) == 0);
    free(got);
    /* no temporary file is left behind */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_ne(access(tmp, F_OK), 0);
    ty_dict_free(d);
    ty_tensor_release(a);
    ty_tensor_release(b);
    unlink(path);
}
END_TEST

START_TEST(test_st_load_python_written) {
    char path[512];
    tmp_path(path, sizeof path, "py.safetensors");
    /* what safetensors.torch.save_file({"a": torch.tensor([1., -2.5])},
     * metadata={"format": "pt"}) writes: header padded to 88 bytes */
    const char *header =
        "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
        "\"data_offsets\":[0,8]}}";
    float data[2] = {1.0f, -2.5f};
    write_st(path, header, 88, data, sizeof data);
    ty_tensor_dict *d = ty_safetensors_load(path);
    ck_assert_msg(d != NULL, "%s", ty_last_error());
    ck_assert_int_eq(d->n, 1);
    ck_assert_str_eq(d->names[0], "a");
    ck_assert_int_eq(d->tensors[0]->dtype, TY_F32);
    ck_assert_int_eq(d->tensors[0]->ndim, 1);
    tu_assert_values(d->tensors[0], ((double[]){1.0, -2.5}), 2, 0);
    ck_assert_str_eq(ty_dict_get_meta(d, "format"), "pt");
    ty_dict_free(d);
    /* the reference writer orders by dtype then name, so data offsets need
     * not follow the header order; an empty header loads as an empty dict;
     * header whitespace of any kind is fine */
    const char *mixed = " { \"z\": {\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},\n"
                        "\"y\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[8,10]},"
                        "\"x\":{\"data_offsets\":[10,10],\"shape\":[0,3],\"dtype\":\"BOOL\"}}\t\n";
    unsigned char raw[10];
    double z = 0.125;
    memcpy(raw, &z, 8);
    raw[8] = 0x80, raw[9] = 0x3f; /* bf16 1.0 */
    write_st(path, mixed, 0, raw, sizeof raw);
    d = ty_safetensors_load(path);
    ck_assert_msg(d != NULL, "%s", ty_last_error());
    ck_assert_int_eq(d->n, 3);
    ck_assert_str_eq(d->names[0], "x");
    ck_assert_int_eq(d->tensors[0]->shape[1], 3);
    ck_assert_int_eq(d->tensors[1]->ndim, 0);
    tu_assert_values(d->tensors[1], ((double[]){1.0}), 1, 0);
    tu_assert_values(d->tensors[2], ((double[]){0.125}), 1, 0);
    ck_assert_int_eq(d->nmeta, 0);
    ty_dict_free(d);
    write_st(path, "{}", 8, NULL, 0);
    d = ty_safetensors_load(path);
    ck_assert_msg(d != NULL && d->n == 0, "%s", ty_last_error());
    ty_dict_free(d);
    unlink(path);
}
END_TEST

START_TEST(test_st_failed_save_keeps_old_file) {
    char path[512], tmp[600];
    tmp_path(path, sizeof path, "keep.safetensors");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ty_tensor_dict *old = ty_dict_new();
    ty_tensor *a = tu_arange(1, (int64_t[]){5}, TY_F32);
    ck_assert_int_eq(ty_dict_set(old, "a", a), 0);
    ck_assert_int_eq(ty_safetensors_save(path, old), 0);
    size_t n0, n1;
    unsigned char *before = read_bytes(path, &n0);

    ty_tensor_dict *neu = ty_dict_new();
    ty_tensor *b = tu_arange(2, (int64_t[]){30, 30}, TY_F64);
    ck_assert_int_eq(ty_dict_set(neu, "b", b), 0);
    ck_assert_int_eq(ty_dict_set(neu, "c", b), 0);
    /* Ctrl-C in the middle of a save: the new file is abandoned */
    ty_interrupt();
    tu_assert_error(ty_safetensors_save(path, neu) < 0, "safetensors_save", "interrupted");
    unsigned char *after = read_bytes(path, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert(memcmp(before, after, n0) == 0);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    free(after);
    /* a directory that does not exist */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no-such-dir-%ld/x.safetensors", tu_tmpdir(), (long)getpid());
    tu_assert_error(ty_safetensors_save(bad, neu) < 0, "safetensors_save", "cannot create", bad,
                    "No such file");
    tu_assert_error(ty_npy_save(bad, b) < 0, "npy_save", "cannot create", bad);
    /* the target is a directory: the rename fails, nothing is left behind */
    char dir[600], dirtmp[700];
    snprintf(dir, sizeof dir, "%s/tycho_io_%ld_dir", tu_tmpdir(), (long)getpid());
    snprintf(dirtmp, sizeof dirtmp, "%s.tmp.%ld", dir, (long)getpid());
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    tu_assert_error(ty_safetensors_save(dir, neu) < 0, "safetensors_save", "rename", dir);
    ck_assert_int_ne(access(dirtmp, F_OK), 0);
    rmdir(dir);
    /* the old file still loads */
    ty_tensor_dict *l = ty_safetensors_load(path);
    ck_assert_msg(l != NULL, "%s", ty_last_error());
    assert_same_tensor(l->tensors[0], a);
    ty_dict_free(l);
    /* and a save that works replaces it */
    ck_assert_int_eq(ty_safetensors_save(path, neu), 0);
    l = ty_safetensors_load(path);
    ck_assert_int_eq(l->n, 2);
    assert_same_tensor(l->tensors[1], b);
    ty_dict_free(l);
    free(before);
    ty_dict_free(old);
    ty_dict_free(neu);
    ty_tensor_release(a);
    ty_tensor_release(b);
    unlink(path);
}
END_TEST

START_TEST(test_st_truncated) {
    char path[512], cut[512];
    tmp_path(path, sizeof path, "full.safetensors");
    tmp_path(cut, sizeof cut, "cut.safetensors");
    ty_tensor_dict *d = ty_dict_new();
    ty_tensor *a = tu_arange(2, (int64_t[]){3, 4}, TY_F32);
    ty_tensor *w = tu_arange(1, (int64_t[]){6}, TY_I64);
    ck_assert_int_eq(ty_dict_set(d, "a", a), 0);
    ck_assert_int_eq(ty_dict_set(d, "w", w), 0);
    ck_assert_int_eq(ty_safetensors_save(path, d), 0);
    size_t n;
    unsigned char *bytes = read_bytes(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i];
    struct {
        size_t len;
        const char *want;
    } cases[] = {
        {0, "too short"},
        {5, "too short"},
        {8, "runs past the end of the file"},
        {8 + hlen / 2, "runs past the end of the file"},
        {8 + hlen, "tensor 'a'"},          /* no data at all */
        {8 + hlen + 20, "tensor 'a'"},     /* inside the first tensor */
        {8 + hlen + 48 + 8, "tensor 'w'"}, /* inside the second */
        {n - 1, "tensor 'w'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_bytes(cut, bytes, cases[k].len);
        tu_assert_error(ty_safetensors_load(cut) == NULL, "safetensors_load", cut, cases[k].want);
    }
    /* trailing bytes past the last tensor */
    unsigned char *longer = malloc(n + 4);
    memcpy(longer, bytes, n);
    memset(longer + n, 0, 4);
    write_bytes(cut, longer, n + 4);
    tu_assert_error(ty_safetensors_load(cut) == NULL, "safetensors_load", cut, "cover 96 bytes",
                    "holds 100");
    /* header length far past the file and past the 100 MB limit */
    memcpy(longer, bytes, n);
    longer[5] = 1; /* 2^40 + hlen */
    write_bytes(cut, longer, n);
    tu_assert_error(ty_safetensors_load(cut) == NULL, "safetensors_load", cut, "100 MB limit");
    memcpy(longer, bytes, 8);
    longer[0] = (unsigned char)((n - 7) & 0xFF), longer[1] = (unsigned char)((n - 7) >> 8);
    write_bytes(cut, longer, n);
    tu_assert_error(ty_safetensors_load(cut) == NULL, "safetensors_load", "runs past the end");
    tu_assert_error(ty_safetensors_load("/nonexistent/x.safetensors") == NULL, "safetensors_load",
                    "cannot open", "/nonexistent/x.safetensors");
    tu_assert_error(ty_safetensors_load(tu_tmpdir()) == NULL, "safetensors_load",
                    "not a regular file");
    free(longer);
    free(bytes);
    ty_dict_free(d);
    ty_tensor_release(a);
    ty_tensor_release(w);
    unlink(path);
    unlink(cut);
}
END_TEST

START_TEST(test_st_corrupt_headers) {
    char path[512];
    tmp_path(path, sizeof path, "bad.safetensors");
    unsigned char data[16] = {0};
    struct {
        const char *header;
        size_t ndata;
        const char *want1, *want2;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",", 8, "not valid JSON", NULL},
        {"", 0, "not valid JSON", NULL},
        {"[1,2]", 0, "not a JSON object", NULL},
        {"{} x", 0, "text after the JSON", NULL},
        {"{\"a\xff\":{}}", 0, "not valid UTF-8", NULL},
        {"{\"a\":[1]}", 0, "tensor 'a'", "not an object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "tensor 'a'", "data_offsets"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a'", "dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "tensor 'a'", "shape"},
        {"{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
         "not a string"},
        {"{\"qq\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'qq'",
         "unsupported dtype I32"},
        {"{\"e4\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8, "tensor 'e4'",
         "F8_E4M3"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
         "is negative: -2"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
         "is not an integer: 2.5"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
         "not a number"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
         "not a list"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
         "\"data_offsets\":[0,4]}}",
         4, "tensor 'a'", "17 dims"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,8]}}",
         8, "tensor 'a'", "too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "tensor 'a'",
         "list of 2"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "tensor 'a'",
         "out of order"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}", 8, "tensor 'a'",
         "negative"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "tensor 'a'",
         "run past the end of the data (8 bytes)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
         "hold 8 bytes but shape (3) of F32 needs 12"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "tensor 'b'", "overlap tensor 'a'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, "tensor 'b'", "gap after byte 4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 'a'",
         "gap after byte 0"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, "tensor 'a'", "appears twice"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "metadata value 'k'", "not a string"},
        {"{\"__metadata__\":[]}", 0, "__metadata__", "not an object"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__", "twice"},
        {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "'k'", "twice"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_st(path, cases[k].header, 0, data, cases[k].ndata);
        ty_clear_error();
        ck_assert_msg(ty_safetensors_load(path) == NULL, "case %zu loaded", k);
        tu_assert_error(1, "safetensors_load", path, cases[k].want1);
        if (cases[k].want2) tu_assert_error(1, cases[k].want2);
    }
    unlink(path);
}
END_TEST

/* ---- npy ---- */

/* A .npy file with the given version and dict text, padded the way NumPy
 * pads (to 64 bytes, newline last). */
static void write_npy(const char *path, int major, const char *dict, const void *data,
                      size_t ndata) {
    size_t lenbytes = major == 1 ? 2 : 4, pre = 8 + lenbytes;
    size_t total = (pre + strlen(dict) + 1 + 63) / 64 * 64, hlen = total - pre;
    unsigned char *buf = malloc(total + ndata);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t i = 0; i < lenbytes; i++) buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memset(buf + pre, ' ', hlen);
    memcpy(buf + pre, dict, strlen(dict));
    buf[total - 1] = '\n';
    if (ndata) memcpy(buf + total, data, ndata);
    write_bytes(path, buf, total + ndata);
    free(buf);
}

START_TEST(test_npy_hand_written) {
    char path[512];
    tmp_path(path, sizeof path, "hand.npy");
    float f4[6] = {0, 1.5f, -2, 3, 4, 5};
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4,
              sizeof f4);
    ty_tensor *t = ty_npy_load(path);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    ck_assert_int_eq(t->dtype, TY_F32);
    ck_assert(t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    tu_assert_values(t, ((double[]){0, 1.5, -2, 3, 4, 5}), 6, 0);
    ty_tensor_release(t);

    int64_t i8[3] = {-1, INT64_MAX, 7};
    write_npy(path, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", i8, sizeof i8);
    t = ty_npy_load(path);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    ck_assert_int_eq(t->dtype, TY_I64);
    ck_assert(((int64_t *)ty_data(t))[1] == INT64_MAX && ((int64_t *)ty_data(t))[0] == -1);
    ty_tensor_release(t);

    /* Fortran order: column-major data of a (2,3) array [[0,1,2],[3,4,5]] */
    double f8[6] = {0, 3, 1, 4, 2, 5};
    write_npy(path, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", f8, sizeof f8);
    t = ty_npy_load(path);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    ck_assert(t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && ty_is_contiguous(t));
    tu_assert_values(t, ((double[]){0, 1, 2, 3, 4, 5}), 6, 0);
    ty_tensor_release(t);
    /* 3-d Fortran order: element (i,j,k) at i + 2j + 6k */
    float f3[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) f3[i + 2 * j + 6 * k] = (float)(100 * i + 10 * j + k);
    write_npy(path, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4), }", f3,
              sizeof f3);
    t = ty_npy_load(path);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                ck_assert_double_eq(ty_get_flat(t, i * 12 + j * 4 + k), 100 * i + 10 * j + k);
    ty_tensor_release(t);

    /* big-endian float and int (keys in another order, double quotes) */
    unsigned char be[8] = {0x3f, 0x80, 0x00, 0x00, 0xc0, 0x20, 0x00, 0x00}; /* 1.0, -2.5 */
    write_npy(path, 1, "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \">f4\"}", be, 8);
    t = ty_npy_load(path);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    tu_assert_values(t, ((double[]){1.0, -2.5}), 2, 0);
    ty_tensor_release(t);
    unsigned char bei4[8] = {0xff, 0xff, 0xff, 0xfe, 0x00, 0x01, 0x00, 0x00}; /* -2, 65536 */
    write_npy(path, 1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", bei4, 8);
    t = ty_npy_load(path);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    ck_assert_int_eq(t->dtype, TY_I64);
    tu_assert_values(t, ((double[]){-2, 65536}), 2, 0);
    ty_tensor_release(t);
    unsigned char be8[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd}; /* -3 */
    write_npy(path, 1, "{'descr': '>i8', 'fortran_order': False, 'shape': (), }", be8, 8);
    t = ty_npy_load(path);
    ck_assert_msg(t != NULL && t->ndim == 0, "%s", ty_last_error());
    tu_assert_values(t, ((double[]){-3}), 1, 0);
    ty_tensor_release(t);

    /* narrow integers widen to i64 */
    struct {
        const char *descr;
        unsigned char bytes[8];
        size_t n;
        double want[2];
    } ints[] = {
        {"|i1", {0xff, 0x7f}, 2, {-1, 127}},
        {"<i2", {0x00, 0x80, 0x05, 0x00}, 4, {-32768, 5}},
        {"<u2", {0xff, 0xff, 0x01, 0x00}, 4, {65535, 1}},
        {"<u4", {0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0}, 8, {4294967295.0, 2}},
        {">u2", {0x01, 0x00, 0x00, 0x02}, 4, {256, 2}},
        {"|b1", {0x00, 0x05}, 2, {0, 1}},
        {"|u1", {0xfe, 0x03}, 2, {254, 3}},
        {"<f2", {0x00, 0x3c, 0x00, 0xc0}, 4, {1, -2}},
    };
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2,), }",
                 ints[k].descr);
        write_npy(path, 1, dict, ints[k].bytes, ints[k].n);
        t = ty_npy_load(path);
        ck_assert_msg(t != NULL, "%s: %s", ints[k].descr, ty_last_error());
        tu_assert_values(t, ints[k].want, 2, 0);
        if (k == 5) ck_assert_int_eq(((uint8_t *)ty_data(t))[1], 1);
        ty_tensor_release(t);
    }
    /* versions 2.0 and 3.0 have a 4-byte header length */
    write_npy(path, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4,
              sizeof f4);
    t = ty_npy_load(path);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    tu_assert_values(t, ((double[]){0, 1.5, -2, 3, 4, 5}), 6, 0);
    ty_tensor_release(t);
    write_npy(path, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (6L,), }", f4, sizeof f4);
    t = ty_npy_load(path);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    ck_assert_int_eq(t->shape[0], 6);
    ty_tensor_release(t);
    unlink(path);
}
END_TEST

START_TEST(test_npy_roundtrip) {
    char path[512];
    tmp_path(path, sizeof path, "rt.npy");
    for (int k = 0; k < NDTYPES; k++) {
        ty_dtype dt = all_dtypes[k];
        ty_tensor *t = sample(dt, 3, (int64_t[]){3, 2, 5}, 40 + k);
        ty_tensor *views[5] = {t, tu_noncontiguous(t), tu_strided(t), ty_scalar(1, dt),
                               ty_empty(2, (int64_t[]){4, 0}, dt, ty_cpu())};
        for (int v = 0; v < 5; v++) {
            ck_assert_int_eq(ty_npy_save(path, views[v]), 0);
            ty_tensor *l = ty_npy_load(path);
            ck_assert_msg(l != NULL, "%s", ty_last_error());
            ck_assert_int_eq(l->dtype, dt == TY_BF16 ? TY_F32 : dt); /* bf16 is widened */
            ck_assert(ty_is_contiguous(l));
            tu_assert_close(l, views[v], 0, 0);
            ty_tensor_release(l);
        }
        for (int v = 0; v < 5; v++) ty_tensor_release(views[v]);
    }
    /* the exact header NumPy writes: 10 + 60 + newline padded to 128 */
    ty_tensor *t = tu_arange(2, (int64_t[]){2, 3}, TY_F32);
    ck_assert_int_eq(ty_npy_save(path, t), 0);
    size_t n;
    unsigned char *bytes = read_bytes(path, &n);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    ck_assert_uint_eq(n, 128 + 24);
    ck_assert(memcmp(bytes, "\x93NUMPY\x01\x00\x76\x00", 10) == 0);
    ck_assert(memcmp(bytes + 10, dict, strlen(dict)) == 0);
    for (size_t i = 10 + strlen(dict); i < 127; i++) ck_assert_int_eq(bytes[i], ' ');
    ck_assert_int_eq(bytes[127], '\n');
    ck_assert(memcmp(bytes + 128, ty_data(t), 24) == 0);
    free(bytes);
    ty_tensor *v = tu_arange(1, (int64_t[]){4}, TY_U8);
    ck_assert_int_eq(ty_npy_save(path, v), 0);
    bytes = read_bytes(path, &n);
    const char *dict1 = "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }";
    ck_assert(memcmp(bytes + 10, dict1, strlen(dict1)) == 0);
    free(bytes);
    ty_tensor_release(v);
    ty_tensor_release(t);
    unlink(path);
}
END_TEST

START_TEST(test_npy_bad_files) {
    char path[512];
    tmp_path(path, sizeof path, "bad.npy");
    float f4[6] = {0};
    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    /* truncated data, and at several points in the header */
    write_npy(path, 1, good, f4, sizeof f4 - 1);
    tu_assert_error(ty_npy_load(path) == NULL, "npy_load", path, "(2,3)", "24 bytes", "only 23",
                    "truncated");
    size_t n;
    write_npy(path, 1, good, f4, sizeof f4);
    unsigned char *bytes = read_bytes(path, &n);
    size_t cuts[] = {0, 3, 8, 9, 40};
    const char *why[] = {"bad magic", "bad magic", "header length", "header length",
                         "runs past the end"};
    for (int k = 0; k < 5; k++) {
        write_bytes(path, bytes, cuts[k]);
        tu_assert_error(ty_npy_load(path) == NULL, "npy_load", path, why[k]);
    }
    /* trailing bytes */
    unsigned char *longer = malloc(n + 2);
    memcpy(longer, bytes, n);
    longer[n] = longer[n + 1] = 0;
    write_bytes(path, longer, n + 2);
    tu_assert_error(ty_npy_load(path) == NULL, "npy_load", "2 bytes after the data");
    /* bad magic and version */
    memcpy(longer, bytes, n);
    longer[1] = 'X';
    write_bytes(path, longer, n);
    tu_assert_error(ty_npy_load(path) == NULL, "npy_load", path, "bad magic");
    memcpy(longer, bytes, n);
    longer[6] = 4;
    write_bytes(path, longer, n);
    tu_assert_error(ty_npy_load(path) == NULL, "npy_load", "version 4.0");
    free(longer);
    free(bytes);
    struct {
        const char *dict;
        const char *want;
    } cases[] = {
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", "unsupported descr '<c8'"},
        {"{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", "unsupported descr '<U3'"},
        {"{'descr': 'O', 'fortran_order': False, 'shape': (2,), }", "unsupported descr 'O'"},
        {"{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", "unsupported descr"},
        {"{'descr': '<f3', 'fortran_order': False, 'shape': (2,), }", "unsupported descr"},
        {"{'descr': '<f4x', 'fortran_order': False, 'shape': (2,), }", "unsupported descr"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured"},
        {"{'descr': '<f4', 'fortran_order': False, }", "missing 'shape'"},
        {"{'descr': '<f4', 'shape': (2,), }", "missing 'fortran_order'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unknown key"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "repeated"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", "tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "non-negative"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", "expected ','"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,) } junk", "text after"},
        {"'descr': '<f4'", "expected '{'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
         "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1)}",
         "too many dims"},
        /* huge claims are compared with the file before anything is allocated */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }",
         "needs 4000000000000 bytes"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
         "too large"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_npy(path, 1, cases[k].dict, f4, 8);
        ty_clear_error();
        ck_assert_msg(ty_npy_load(path) == NULL, "case %zu loaded", k);
        tu_assert_error(1, "npy_load", path, cases[k].want);
    }
    /* uint64 values past the i64 range */
    uint64_t big[2] = {1, (uint64_t)1 << 63};
    write_npy(path, 1, "{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }", big, 16);
    tu_assert_error(ty_npy_load(path) == NULL, "npy_load", "element 1", "9223372036854775808");
    big[1] = 5;
    write_npy(path, 1, "{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }", big, 16);
    ty_tensor *t = ty_npy_load(path);
    tu_assert_values(t, ((double[]){1, 5}), 2, 0);
    ty_tensor_release(t);
    tu_assert_error(ty_npy_load("/nonexistent/a.npy") == NULL, "npy_load", "cannot open",
                    "/nonexistent/a.npy");
    tu_assert_error(ty_npy_save(NULL, NULL) < 0, "npy_save");
    unlink(path);
}
END_TEST

/* Cross-check with NumPy when the system Python has it; silent otherwise. */
START_TEST(test_npy_numpy_crosscheck) {
    if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) return;
    char ours[512], theirs[512], cmd[2048];
    tmp_path(ours, sizeof ours, "ours.npy");
    tmp_path(theirs, sizeof theirs, "theirs.npy");
    ty_tensor *t = tu_arange(2, (int64_t[]){3, 4}, TY_F64);
    ty_tensor *nc = tu_noncontiguous(t);
    ck_assert_int_eq(ty_npy_save(ours, nc), 0);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; a = np.load('%s'); "
             "assert a.dtype == np.float64 and a.shape == (3, 4); "
             "assert (a == np.arange(12.0).reshape(3, 4)).all(); "
             "np.save('%s', np.asfortranarray(np.arange(12, dtype='>i4').reshape(3, 4)))\"",
             ours, theirs);
    ck_assert_int_eq(system(cmd), 0);
    ty_tensor *l = ty_npy_load(theirs);
    ck_assert_msg(l != NULL, "%s", ty_last_error());
    ck_assert_int_eq(l->dtype, TY_I64);
    tu_assert_close(l, t, 0, 0);
    ty_tensor_release(l);
    ty_tensor_release(nc);
    ty_tensor_release(t);
    unlink(ours);
    unlink(theirs);
}
END_TEST

/* ---- IDX ---- */

/* An IDX file: magic, big-endian sizes, then data already big-endian.
 * gz selects zlib's gzip writer. */
static void write_idx(const char *path, int gz, int type, int ndim, const uint32_t *dims,
                      const void *data, size_t ndata) {
    unsigned char head[4 + 4 * 20] = {0, 0, (unsigned char)type, (unsigned char)ndim};
    for (int d = 0; d < ndim; d++)
        for (int b = 0; b < 4; b++) head[4 + 4 * d + b] = (unsigned char)(dims[d] >> (24 - 8 * b));
    size_t nhead = 4 + 4 * (size_t)ndim;
    if (!gz) {
        unsigned char *buf = malloc(nhead + ndata + 1);
        memcpy(buf, head, nhead);
        if (ndata) memcpy(buf + nhead, data, ndata);
        write_bytes(path, buf, nhead + ndata);
        free(buf);
        return;
    }
    gzFile f = gzopen(path, "wb");
    ck_assert(f != NULL);
    ck_assert_int_eq(gzwrite(f, head, (unsigned)nhead), (int)nhead);
    if (ndata) ck_assert_int_eq(gzwrite(f, data, (unsigned)ndata), (int)ndata);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

START_TEST(test_idx_u8_plain_and_gzip) {
    char path[512];
    tmp_path(path, sizeof path, "images.idx");
    uint8_t px[2 * 2 * 3] = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
    double want[12] = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
    for (int gz = 0; gz < 2; gz++) {
        write_idx(path, gz, 0x08, 3, (uint32_t[]){2, 2, 3}, px, sizeof px);
        ty_tensor *t = ty_idx_load(path);
        ck_assert_msg(t != NULL, "%s", ty_last_error());
        ck_assert_int_eq(t->dtype, TY_U8);
        ck_assert(t->ndim == 3 && t->shape[0] == 2 && t->shape[1] == 2 && t->shape[2] == 3);
        tu_assert_values(t, want, 12, 0);
        /* the result is an ordinary tensor: views and copies work */
        ty_tensor *img = ty_select(t, 0, 1);
        ty_tensor *f = ty_cast(img, TY_F32);
        tu_assert_values(f, want + 6, 6, 0);
        ty_tensor_release(f);
        ty_tensor_release(img);
        ty_tensor_release(t);
    }
    /* labels: 1-d, and a big one read across several chunks (gz) */
    int64_t n = (1 << 24) + 1000;
    uint8_t *labels = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) labels[i] = (uint8_t)(i % 10);
    write_idx(path, 1, 0x08, 1, (uint32_t[]){(uint32_t)n}, labels, (size_t)n);
    ty_tensor *t = ty_idx_load(path);
    ck_assert_msg(t != NULL, "%s", ty_last_error());
    ck_assert_int_eq(t->shape[0], n);
    ck_assert(memcmp(ty_data(t), labels, (size_t)n) == 0);
    ty_tensor_release(t);
    free(labels);
    /* an empty one */
    write_idx(path, 1, 0x08, 2, (uint32_t[]){0, 28}, NULL, 0);
    t = ty_idx_load(path);
    ck_assert_msg(t != NULL && ty_numel(t) == 0 && t->shape[1] == 28, "%s", ty_last_error());
    ty_tensor_release(t);
    unlink(path);
}
END_TEST

START_TEST(test_idx_other_types) {
    char path[512];
    tmp_path(path, sizeof path, "types.idx");
    struct {
        int code;
        unsigned char bytes[16];
        size_t n;
        ty_dtype dtype;
        double want[2];
    } cases[] = {
        {0x09, {0xff, 0x7f}, 2, TY_I64, {-1, 127}},
        {0x0B, {0x80, 0x00, 0x01, 0x02}, 4, TY_I64, {-32768, 258}},
        {0x0C, {0xff, 0xff, 0xff, 0xfe, 0x7f, 0xff, 0xff, 0xff}, 8, TY_I64, {-2, 2147483647}},
        {0x0D, {0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0}, 8, TY_F32, {1, -2.5}},
        {0x0E, {0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0}, 16, TY_F64, {1.5, -2}},
    };
    for (int gz = 0; gz < 2; gz++) {
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            write_idx(path, gz, cases[k].code, 1, (uint32_t[]){2}, cases[k].bytes, cases[k].n);
            ty_tensor *t = ty_idx_load(path);
            ck_assert_msg(t != NULL, "type 0x%02X: %s", cases[k].code, ty_last_error());
            ck_assert_int_eq(t->dtype, cases[k].dtype);
            tu_assert_values(t, cases[k].want, 2, 0);
            ty_tensor_release(t);
        }
    }
    unlink(path);
}
END_TEST

START_TEST(test_idx_bad_files) {
    char path[512];
    tmp_path(path, sizeof path, "bad.idx");
    uint8_t px[12] = {0};
    for (int gz = 0; gz < 2; gz++) {
        /* truncated data */
        write_idx(path, gz, 0x08, 2, (uint32_t[]){3, 4}, px, 11);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", path, "12 bytes", "11", "truncated");
        /* truncated in the sizes and in the magic */
        write_idx(path, gz, 0x08, 3, (uint32_t[]){3, 4, 5}, NULL, 0);
        ty_tensor *t = ty_idx_load(path); /* sizes complete, no data */
        tu_assert_error(t == NULL, "idx_load", "truncated");
        unsigned char head[6] = {0, 0, 0x08, 3, 0, 0};
        if (gz) {
            gzFile f = gzopen(path, "wb");
            gzwrite(f, head, 6);
            gzclose(f);
        } else {
            write_bytes(path, head, 6);
        }
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", path, "sizes of its 3 dims");
        write_bytes(path, head, 2);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", path, "bad magic");
        /* bad magic, unknown type, bad ndim */
        unsigned char bad[16] = {0x1f, 0x00, 0x08, 1, 0, 0, 0, 1, 9};
        write_bytes(path, bad, 9);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", path, "bad magic");
        write_idx(path, gz, 0x0A, 1, (uint32_t[]){2}, px, 2);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", path, "unknown type code 0x0A");
        write_idx(path, gz, 0x08, 0, NULL, px, 1);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", "0 dims");
        write_idx(path, gz, 0x08, 17, (uint32_t[20]){1}, px, 1);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", "17 dims");
        /* claims past 2^34 bytes are refused before reading */
        write_idx(path, gz, 0x08, 3, (uint32_t[]){65536, 65536, 16}, px, 12);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", "(65536,65536,16)", "2^34");
        write_idx(path, gz, 0x0E, 3, (uint32_t[]){4294967295u, 4294967295u, 4294967295u}, px, 12);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", "2^34");
        /* a claim under the cap but far past the data: fails at the end of
         * the data instead of trusting the claim */
        write_idx(path, gz, 0x0D, 2, (uint32_t[]){60000, 28 * 28}, px, 12);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", "188160000 bytes", "12");
        /* bytes after the data */
        write_idx(path, gz, 0x08, 1, (uint32_t[]){10}, px, 12);
        tu_assert_error(ty_idx_load(path) == NULL, "idx_load", path, "after the data");
    }
    /* a corrupt gzip stream */
    write_idx(path, 1, 0x08, 1, (uint32_t[]){12}, px, 12);
    size_t n;
    unsigned char *bytes = read_bytes(path, &n);
    write_bytes(path, bytes, n - 10); /* cut inside the deflate data and trailer */
    tu_assert_error(ty_idx_load(path) == NULL, "idx_load", path);
    free(bytes);
    tu_assert_error(ty_idx_load("/nonexistent/train-images-idx3-ubyte.gz") == NULL, "idx_load",
                    "cannot open", "/nonexistent/train-images-idx3-ubyte.gz");
    unlink(path);
}
END_TEST

Suite *io_suite(void) {
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("io");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, tu_leak_setup, tu_leak_teardown);
    tcase_add_test(tc, test_dict_set_get_replace);
    tcase_add_test(tc, test_st_roundtrip_every_dtype);
    tcase_add_test(tc, test_st_exact_bytes);
    tcase_add_test(tc, test_st_load_python_written);
    tcase_add_test(tc, test_st_failed_save_keeps_old_file);
    tcase_add_test(tc, test_st_truncated);
    tcase_add_test(tc, test_st_corrupt_headers);
    tcase_add_test(tc, test_npy_hand_written);
    tcase_add_test(tc, test_npy_roundtrip);
    tcase_add_test(tc, test_npy_bad_files);
    tcase_add_test(tc, test_npy_numpy_crosscheck);
    tcase_add_test(tc, test_idx_u8_plain_and_gzip);
    tcase_add_test(tc, test_idx_other_types);
    tcase_add_test(tc, test_idx_bad_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return tu_run_suite(io_suite());
}
