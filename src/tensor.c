/* Tensor and storage lifetime, creation, copies and conversion. */
#include "tensor.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "error.h"
#include "iter.h"

static atomic_llong live_tensors = 0;
static void (*node_release_hook)(struct ty_node *) = NULL;

int64_t ty_live_tensors(void) {
    return (int64_t)atomic_load(&live_tensors);
}
void ty_set_node_release_hook(void (*release)(struct ty_node *)) {
    node_release_hook = release;
}

/* ---- storage ---- */

/* Recycled headers. Every op makes a tensor struct and a storage header and
 * frees them soon after; for the small tensors of scalar-heavy code (and
 * of autograd's bookkeeping) malloc/free of these ~300-byte blocks cost more
 * than the arithmetic. A short per-thread list of freed headers makes them
 * nearly free. The Lua GC frees tensors in bursts, hence room for many.
 * Memory kept is bounded: HEADER_CACHE headers per kind (under 1 MB). */
#define HEADER_CACHE 1024
static _Thread_local void *free_tensors[HEADER_CACHE];
static _Thread_local int n_free_tensors;
static _Thread_local void *free_storages[HEADER_CACHE];
static _Thread_local int n_free_storages;

/* A recycled block gets its first `clear` bytes zeroed, a new one all. */
static void *header_alloc(void **list, int *n, size_t size, size_t clear) {
    if (*n > 0) {
        void *p = list[--*n];
        memset(p, 0, clear);
        return p;
    }
    return calloc(1, size);
}

/* A tensor struct is mostly its shape and strides arrays, which the caller
 * fills for the dims in use: only the other fields need clearing. */
static ty_tensor *tensor_header_alloc(void) {
    if (n_free_tensors == 0) return calloc(1, sizeof(ty_tensor));
    ty_tensor *t = free_tensors[--n_free_tensors];
    t->offset = 0;
    t->ndim = 0;
    t->requires_grad = false;
    t->grad = NULL;
    t->grad_fn = NULL;
    t->output_nr = 0;
    return t;
}

static void header_free(void **list, int *n, void *p) {
    if (*n < HEADER_CACHE)
        list[(*n)++] = p;
    else
        free(p);
}

/* Every storage header carries room for a small CPU tensor's data right
 * after it, so a scalar or a 4-element tensor costs no allocation of its
 * own (and, with the recycled headers, usually no malloc at all). */
#define INLINE_DATA_BYTES 128
typedef struct {
    ty_storage header;
    _Alignas(16) unsigned char data[INLINE_DATA_BYTES];
} storage_block;

static bool data_is_inline(const ty_storage *s) {
    return s->data == ((storage_block *)s)->data;
}

static ty_storage *storage_header_alloc(void) {
    return header_alloc(free_storages, &n_free_storages, sizeof(storage_block), sizeof(ty_storage));
}

static ty_storage *storage_new(size_t nbytes, ty_device dev) {
    const ty_backend *be = ty_backend_for(dev.type);
    if (!be) return NULL;
    ty_storage *s = storage_header_alloc();
    if (!s) {
        ty_error("out of memory allocating a storage header");
        return NULL;
    }
    if (dev.type == TY_DEV_CPU && nbytes <= INLINE_DATA_BYTES)
        s->data = ((storage_block *)s)->data;
    else
        s->data = be->alloc(dev, nbytes);
    if (!s->data) {
        header_free(free_storages, &n_free_storages, s);
        return NULL;
    }
    s->nbytes = nbytes;
    s->device = dev;
    s->refcount = 1;
    return s;
}

static void storage_release(ty_storage *s) {
    if (!s || --s->refcount > 0) return;
    if (s->deleter) {
        s->deleter(s->data, s->deleter_ctx);
    } else {
        const ty_backend *be = ty_backend_for(s->device.type);
        if (be && !data_is_inline(s)) be->free(s->device, s->data, s->nbytes);
    }
    header_free(free_storages, &n_free_storages, s);
}

/* ---- tensor structs ---- */

static ty_tensor *tensor_struct_new(ty_storage *storage, ty_dtype dt) {
    ty_tensor *t = tensor_header_alloc();
    if (!t) {
        ty_error("out of memory allocating a tensor header");
        return NULL;
    }
    t->storage = storage;
    t->dtype = dt;
    t->device = storage->device;
    t->refcount = 1;
    atomic_fetch_add(&live_tensors, 1);
    return t;
}

ty_tensor *ty_tensor_retain(ty_tensor *t) {
    if (t) t->refcount++;
    return t;
}

void ty_tensor_release(ty_tensor *t) {
    if (!t || --t->refcount > 0) return;
    if (t->grad) ty_tensor_release(t->grad);
    if (t->grad_fn && node_release_hook) node_release_hook(t->grad_fn);
    storage_release(t->storage);
    atomic_fetch_sub(&live_tensors, 1);
    header_free(free_tensors, &n_free_tensors, t);
}

/* Fills contiguous row-major strides for t's shape. */
static void set_contiguous_strides(ty_tensor *t) {
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        t->strides[d] = s;
        s *= t->shape[d] > 0 ? t->shape[d] : 1;
    }
}

/* Validates a shape and computes its element count, refusing negative
 * sizes and counts whose byte size overflows. */
static int checked_numel(const char *fn, int ndim, const int64_t *shape, ty_dtype dt,
                         int64_t *out) {
    if (ndim < 0 || ndim > TY_MAX_DIMS)
        return ty_error("%s: %d dims is out of range (at most %d)", fn, ndim, TY_MAX_DIMS);
    int64_t n = 1, bytes;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            char buf[256];
            return ty_error("%s: negative size %lld in shape %s", fn, (long long)shape[d],
                            ty_shape_str_n(ndim, shape, buf, sizeof buf));
        }
        /* overflow checks by the compiler's builtin: divisions here showed
         * up in profiles of small-tensor code */
        if (__builtin_mul_overflow(n, shape[d], &n) ||
            __builtin_mul_overflow(n, (int64_t)ty_dtype_size(dt), &bytes)) {
            char buf[256];
            return ty_error("%s: shape %s is too large", fn,
                            ty_shape_str_n(ndim, shape, buf, sizeof buf));
        }
    }
    *out = n;
    return 0;
}

ty_tensor *ty_empty(int ndim, const int64_t *shape, ty_dtype dt, ty_device dev) {
    int64_t n;
    if ((int)dt < 0 || dt >= TY_NUM_DTYPES) {
        ty_error("empty: bad dtype %d", (int)dt);
        return NULL;
    }
    if (checked_numel("empty", ndim, shape, dt, &n) < 0) return NULL;
    ty_storage *s = storage_new((size_t)n * ty_dtype_size(dt), dev);
    if (!s) return NULL;
    ty_tensor *t = tensor_struct_new(s, dt);
    if (!t) {
        storage_release(s);
        return NULL;
    }
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    set_contiguous_strides(t);
    return t;
}

ty_tensor *ty_empty_like(const ty_tensor *t) {
    return ty_empty(t->ndim, t->shape, t->dtype, t->device);
}

ty_tensor *ty_from_buffer(const void *data, int ndim, const int64_t *shape, ty_dtype dt) {
    ty_tensor *t = ty_empty(ndim, shape, dt, ty_cpu());
    if (!t) return NULL;
    size_t nbytes = (size_t)ty_nbytes(t);
    if (nbytes) memcpy(t->storage->data, data, nbytes);
    return t;
}

static void keep_caller_memory(void *data, void *ctx) {
    (void)data;
    (void)ctx;
}

ty_tensor *ty_from_blob(void *data, int ndim, const int64_t *shape, ty_dtype dt,
                        void (*deleter)(void *, void *), void *ctx) {
    int64_t n;
    if (checked_numel("from_blob", ndim, shape, dt, &n) < 0) return NULL;
    ty_storage *s = storage_header_alloc();
    if (!s) {
        ty_error("out of memory allocating a storage header");
        return NULL;
    }
    s->data = data;
    s->nbytes = (size_t)n * ty_dtype_size(dt);
    s->device = ty_cpu();
    s->refcount = 1;
    /* Without a deleter the memory stays the caller's: storage_release
     * would call the backend's free, so a no-op deleter stands in. */
    s->deleter = deleter ? deleter : keep_caller_memory;
    s->deleter_ctx = ctx;
    ty_tensor *t = tensor_struct_new(s, dt);
    if (!t) {
        header_free(free_storages, &n_free_storages, s);
        return NULL;
    }
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    set_contiguous_strides(t);
    return t;
}

ty_tensor *ty_scalar(double v, ty_dtype dt) {
    ty_tensor *t = ty_empty(0, NULL, dt, ty_cpu());
    if (t) ty_store_from_double(t->storage->data, dt, v);
    return t;
}

/* ---- inspection ---- */

int64_t ty_numel(const ty_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

int64_t ty_nbytes(const ty_tensor *t) {
    return ty_numel(t) * (int64_t)ty_dtype_size(t->dtype);
}

bool ty_same_shape(const ty_tensor *a, const ty_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

bool ty_is_contiguous(const ty_tensor *t) {
    int64_t expected = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] == 0) return true;
        if (t->shape[d] != 1 && t->strides[d] != expected) return false;
        expected *= t->shape[d];
    }
    return true;
}

void *ty_data(const ty_tensor *t) {
    return (char *)t->storage->data + t->offset * (int64_t)ty_dtype_size(t->dtype);
}

const char *ty_shape_str_n(int ndim, const int64_t *shape, char *buf, size_t size) {
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < ndim && used < size; d++)
        used +=
            (size_t)snprintf(buf + used, size - used, d ? ",%lld" : "%lld", (long long)shape[d]);
    if (used < size) snprintf(buf + used, size - used, ")");
    return buf;
}

const char *ty_shape_str(const ty_tensor *t, char *buf, size_t size) {
    return ty_shape_str_n(t->ndim, t->shape, buf, size);
}

int ty_wrap_dim(const char *fn, int dim, int ndim) {
    int n = ndim > 0 ? ndim : 1;
    if (dim < -n || dim >= n)
        return ty_error("%s: dim %d is out of range for a tensor with %d dims", fn, dim, ndim);
    return dim < 0 ? dim + n : dim;
}

/* Offset in elements of the element with flat row-major index i. */
static int64_t flat_to_offset(const ty_tensor *t, int64_t i) {
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t size = t->shape[d];
        off += (i % size) * t->strides[d];
        i /= size;
    }
    return off;
}

double ty_get_flat(const ty_tensor *t, int64_t i) {
    size_t es = ty_dtype_size(t->dtype);
    return ty_load_as_double((char *)t->storage->data + flat_to_offset(t, i) * (int64_t)es,
                             t->dtype);
}

int ty_item(const ty_tensor *t, double *out) {
    if (ty_numel(t) != 1) {
        char buf[256];
        return ty_error("item: a tensor of shape %s has %lld elements, not 1",
                        ty_shape_str(t, buf, sizeof buf), (long long)ty_numel(t));
    }
    if (t->device.type != TY_DEV_CPU) {
        ty_tensor *c = ty_to_device((ty_tensor *)t, ty_cpu());
        if (!c) return -1;
        *out = ty_get_flat(c, 0);
        ty_tensor_release(c);
        return 0;
    }
    *out = ty_get_flat(t, 0);
    return 0;
}

/* ---- device checks ---- */

int ty_check_cpu(const char *fn, const ty_tensor *t) {
    if (t->device.type == TY_DEV_CPU) return 0;
    char buf[16];
    return ty_error("%s: not implemented on %s", fn, ty_device_name(t->device, buf, sizeof buf));
}

int ty_check_same_device(const char *fn, const ty_tensor *a, const ty_tensor *b) {
    if (ty_device_equal(a->device, b->device)) return 0;
    char ba[16], bb[16];
    return ty_error("%s: tensors are on different devices: %s and %s", fn,
                    ty_device_name(a->device, ba, sizeof ba),
                    ty_device_name(b->device, bb, sizeof bb));
}

/* ---- copies ---- */

typedef struct {
    ty_dtype dst_dt, src_dt;
} copy_ctx;

static void copy_kernel(char **ptrs, const int64_t *strides, int64_t n, void *vctx) {
    const copy_ctx *c = vctx;
    size_t ds = ty_dtype_size(c->dst_dt), ss = ty_dtype_size(c->src_dt);
    if (strides[0] == (int64_t)ds && strides[1] == (int64_t)ss) {
        ty_convert(ptrs[0], c->dst_dt, ptrs[1], c->src_dt, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        ty_convert(ptrs[0] + i * strides[0], c->dst_dt, ptrs[1] + i * strides[1], c->src_dt, 1);
}

/* The copy itself, without autograd: every internal caller (clone, cast,
 * the cross-device path, and ty_copy_ once autograd is taken care of). */
static int copy_values(ty_tensor *dst, const ty_tensor *src) {
    if (dst->device.type != TY_DEV_CPU || src->device.type != TY_DEV_CPU) {
        /* Cross-device copies go through the backend on contiguous data. */
        if (!ty_is_contiguous(dst) || dst->dtype != src->dtype || ty_numel(dst) != ty_numel(src)) {
            ty_tensor *tmp = ty_to_device((ty_tensor *)src, dst->device);
            if (!tmp) return -1;
            if (!ty_device_equal(tmp->device, dst->device) || tmp == src) {
                ty_tensor_release(tmp);
                return ty_error("copy_: unsupported copy between devices");
            }
            int rc = copy_values(dst, tmp);
            ty_tensor_release(tmp);
            return rc;
        }
        ty_tensor *s = ty_contiguous((ty_tensor *)src);
        if (!s) return -1;
        size_t nbytes = (size_t)ty_nbytes(dst);
        int rc;
        if (src->device.type == TY_DEV_CPU) {
            rc = ty_backend_for(dst->device.type)
                     ->copy_from_host(dst->device, ty_data(dst), ty_data(s), nbytes);
        } else if (dst->device.type == TY_DEV_CPU) {
            rc = ty_backend_for(src->device.type)
                     ->copy_to_host(src->device, ty_data(dst), ty_data(s), nbytes);
        } else {
            rc = ty_backend_for(dst->device.type)
                     ->copy_device(dst->device, ty_data(dst), ty_data(s), nbytes);
        }
        ty_tensor_release(s);
        if (rc == 0) ty_bump_version(dst);
        return rc;
    }
    ty_tensor *ops[2] = {dst, (ty_tensor *)src};
    ty_iter it;
    if (ty_iter_init(&it, "copy_", 2, ops, dst->ndim, dst->shape) < 0) return -1;
    copy_ctx c = {dst->dtype, src->dtype};
    ty_iter_run(&it, copy_kernel, &c);
    ty_bump_version(dst);
    return 0;
}

/* copy_: dst's old values are overwritten, so they get no gradient (input
 * 0); src's gradient is g summed over the dims it was broadcast along, on
 * src's device (input 1). The engine casts it to src's dtype. */
static int copy_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    if (!ty_node_needs_grad(n, 1)) return 0;
    const ty_meta *m = &n->input_meta[1];
    ty_tensor *s = ty_sum_to(g[0], m->ndim, m->shape);
    if (!s) return -1;
    gi[1] = ty_to_device(s, m->device);
    ty_tensor_release(s);
    return gi[1] ? 0 : -1;
}

int ty_copy_(ty_tensor *dst, const ty_tensor *src) {
    ty_tensor *s = (ty_tensor *)src; /* borrowed; only recorded, never written */
    /* an integer dst cannot carry a gradient: a plain copy */
    if (!ty_dtype_is_float(dst->dtype) || !ty_inplace_needs_grad(dst, 1, &s))
        return copy_values(dst, src);
    /* Under autograd: the new value of dst is computed aside, as an op on
     * src (and on dst, so that dst's old history is cut even when src needs
     * no gradient), and dst takes it over as its result. */
    ty_tensor *result = ty_empty(dst->ndim, dst->shape, dst->dtype, dst->device);
    if (!result) return -1;
    if (copy_values(result, src) < 0) {
        ty_tensor_release(result);
        return -1;
    }
    ty_record("copy_", copy_backward, 2, (ty_tensor *[]){dst, s}, 1, &result);
    return ty_inplace_commit("copy_", dst, result);
}

/* clone and contiguous pass the gradient through unchanged. */
static int clone_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    (void)n;
    gi[0] = ty_tensor_retain(g[0]);
    return 0;
}

ty_tensor *ty_clone(const ty_tensor *t) {
    ty_tensor *out = ty_empty(t->ndim, t->shape, t->dtype, t->device);
    if (!out) return NULL;
    if (copy_values(out, t) < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    ty_tensor *in = (ty_tensor *)t; /* borrowed; only recorded */
    ty_record("clone", clone_backward, 1, &in, 1, &out);
    return out;
}

ty_tensor *ty_contiguous(ty_tensor *t) {
    if (ty_is_contiguous(t)) return ty_tensor_retain(t);
    return ty_clone(t);
}

/* The gradient of a float-to-float cast is cast back to the input's dtype.
 * (Casts to integer types record nothing: their outputs are not float.) */
static int cast_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = ty_cast(g[0], n->input_meta[0].dtype);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_cast(ty_tensor *t, ty_dtype dt) {
    if (t->dtype == dt) return ty_tensor_retain(t);
    ty_tensor *out = ty_empty(t->ndim, t->shape, dt, t->device);
    if (!out) return NULL;
    if (copy_values(out, t) < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    ty_record("cast", cast_backward, 1, &t, 1, &out);
    return out;
}

/* The gradient goes back to the input's device. */
static int to_device_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = ty_to_device(g[0], n->input_meta[0].device);
    return gi[0] ? 0 : -1;
}

static ty_tensor *to_device_fwd(ty_tensor *t, ty_device dev);

ty_tensor *ty_to_device(ty_tensor *t, ty_device dev) {
    if (ty_device_equal(t->device, dev)) return ty_tensor_retain(t);
    /* the contiguous copy inside must not record a node of its own */
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *out = to_device_fwd(t, dev);
    ty_set_grad_enabled(prev);
    if (out) ty_record("to", to_device_backward, 1, &t, 1, &out);
    return out;
}

static ty_tensor *to_device_fwd(ty_tensor *t, ty_device dev) {
    const ty_backend *dst_be = ty_backend_for(dev.type);
    const ty_backend *src_be = ty_backend_for(t->device.type);
    if (!dst_be || !src_be) return NULL;
    ty_tensor *src = t;
    if (t->device.type == TY_DEV_CPU) {
        src = ty_contiguous(t);
        if (!src) return NULL;
    } else if (!ty_is_contiguous(t)) {
        /* a device-side contiguous copy needs device kernels */
        ty_error("to: non-contiguous tensors on this device cannot be copied yet");
        return NULL;
    } else {
        ty_tensor_retain(src);
    }
    ty_tensor *out = ty_empty(t->ndim, t->shape, t->dtype, dev);
    int rc = -1;
    if (out) {
        size_t nbytes = (size_t)ty_nbytes(out);
        if (dev.type == TY_DEV_CPU)
            rc = src_be->copy_to_host(src->device, ty_data(out), ty_data(src), nbytes);
        else if (src->device.type == TY_DEV_CPU)
            rc = dst_be->copy_from_host(dev, ty_data(out), ty_data(src), nbytes);
        else
            rc = ty_error("to: copies between two accelerators are not supported");
    }
    ty_tensor_release(src);
    if (rc < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    return out;
}

static void fill_kernel(char **ptrs, const int64_t *strides, int64_t n, void *vctx) {
    const ty_tensor *value = vctx; /* a one-element tensor of the right dtype */
    size_t es = ty_dtype_size(value->dtype);
    const char *v = ty_data(value);
    for (int64_t i = 0; i < n; i++) memcpy(ptrs[0] + i * strides[0], v, es);
}

int ty_fill_(ty_tensor *t, double v) {
    if (ty_check_cpu("fill_", t) < 0) return -1;
    ty_tensor *value = ty_scalar(v, t->dtype);
    if (!value) return -1;
    ty_iter it;
    ty_tensor *ops[1] = {t};
    int rc = ty_iter_init(&it, "fill_", 1, ops, t->ndim, t->shape);
    if (rc == 0) {
        ty_iter_run(&it, fill_kernel, value);
        ty_bump_version(t);
    }
    ty_tensor_release(value);
    return rc;
}

ty_tensor *ty_alias(ty_tensor *t) {
    ty_tensor *v = tensor_struct_new(t->storage, t->dtype);
    if (!v) return NULL;
    t->storage->refcount++;
    v->offset = t->offset;
    v->ndim = t->ndim;
    memcpy(v->shape, t->shape, sizeof v->shape);
    memcpy(v->strides, t->strides, sizeof v->strides);
    v->device = t->device;
    return v;
}
