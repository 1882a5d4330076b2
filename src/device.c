#include "device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

#include "error.h"

/* ---- the CPU backend ---- */

/* 64-byte alignment: a cache line, and enough for AVX-512 loads. */
#define TY_CPU_ALIGN 64
/* Up to this size a block needs no more than malloc's alignment. */
#define TY_SMALL_BLOCK 1024

/* Large blocks (at least 1 MiB) are 2 MiB aligned and advised as huge pages,
 * and freed ones are kept for reuse: a training loop allocates the same big
 * activations every step, and handing them back to the kernel means paying
 * page faults and zeroing on every fresh allocation (that was a third of a
 * ViT training step). Sizes are rounded up to 2 MiB, so blocks fall into a
 * few bins; each bin is a stack of free blocks linked through their first
 * bytes. The cache holds at most 2 GiB by default (a training step's working
 * set fits; ty_cpu_set_cache_limit changes it); ty_cpu_empty_cache() gives
 * everything back. */
#define TY_BIG_BLOCK (1u << 20)
#define TY_HUGE_ALIGN (2u << 20)
#define TY_CACHE_BINS 128
#define TY_CACHE_DEFAULT_LIMIT ((size_t)2 << 30)

typedef struct free_block {
    struct free_block *next;
} free_block;

typedef struct {
    size_t size; /* 0: an unused bin */
    free_block *head;
} cache_bin;

static cache_bin bins[TY_CACHE_BINS];
static size_t cached_bytes = 0;
static size_t cache_limit = TY_CACHE_DEFAULT_LIMIT;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t round_up(size_t n, size_t align) {
    size_t r = (n + align - 1) / align * align;
    return r < n ? 0 : r; /* 0 on overflow */
}

/* The bin of blocks of exactly `size` bytes; with create, an empty bin is
 * claimed for it when there is none. NULL when there is no such bin (or no
 * room for one). Call with cache_lock held. */
static cache_bin *find_bin(size_t size, int create) {
    cache_bin *unused = NULL;
    for (int i = 0; i < TY_CACHE_BINS; i++) {
        if (bins[i].size == size) return &bins[i];
        if (!unused && bins[i].head == NULL) unused = &bins[i];
    }
    if (!create || !unused) return NULL;
    unused->size = size;
    return unused;
}

/* Takes a cached block of exactly `size` bytes, or NULL. */
static void *cache_take(size_t size) {
    void *p = NULL;
    pthread_mutex_lock(&cache_lock);
    cache_bin *b = find_bin(size, 0);
    if (b && b->head) {
        p = b->head;
        b->head = b->head->next;
        cached_bytes -= size;
    }
    pthread_mutex_unlock(&cache_lock);
    return p;
}

/* Keeps a block for reuse if there is room; returns 0 if it did not. */
static int cache_put(void *p, size_t size) {
    int kept = 0;
    pthread_mutex_lock(&cache_lock);
    if (cached_bytes + size <= cache_limit) {
        cache_bin *b = find_bin(size, 1);
        if (b) {
            free_block *f = p;
            f->next = b->head;
            b->head = f;
            cached_bytes += size;
            kept = 1;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return kept;
}

void ty_cpu_empty_cache(void) {
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < TY_CACHE_BINS; i++) {
        while (bins[i].head) {
            free_block *f = bins[i].head;
            bins[i].head = f->next;
            free(f);
        }
        bins[i].size = 0;
    }
    cached_bytes = 0;
    pthread_mutex_unlock(&cache_lock);
}

void ty_cpu_set_cache_limit(size_t bytes) {
    pthread_mutex_lock(&cache_lock);
    cache_limit = bytes;
    pthread_mutex_unlock(&cache_lock);
    if (ty_cpu_cached_bytes() > bytes) ty_cpu_empty_cache();
}

size_t ty_cpu_cached_bytes(void) {
    pthread_mutex_lock(&cache_lock);
    size_t n = cached_bytes;
    pthread_mutex_unlock(&cache_lock);
    return n;
}

static void *cpu_alloc(ty_device dev, size_t nbytes) {
    (void)dev;
    int big = nbytes >= TY_BIG_BLOCK;
    size_t rounded = round_up(nbytes ? nbytes : 1, big ? TY_HUGE_ALIGN : TY_CPU_ALIGN);
    void *p = NULL;
    if (rounded == 0) {
        ty_error("out of memory: tried to allocate %zu bytes on the cpu", nbytes);
        return NULL;
    }
    if (big) p = cache_take(rounded);
    if (!p) {
        /* Small blocks come from plain malloc (16-byte aligned): memalign
         * fragments glibc's heap and costs more than the tiny kernel that
         * uses the block. */
        p = rounded <= TY_SMALL_BLOCK ? malloc(rounded)
                                      : aligned_alloc(big ? TY_HUGE_ALIGN : TY_CPU_ALIGN, rounded);
        if (!p && big) {
            ty_cpu_empty_cache(); /* the cache may be what stands in the way */
            p = aligned_alloc(TY_HUGE_ALIGN, rounded);
        }
        if (!p) {
            ty_error("out of memory: tried to allocate %zu bytes on the cpu", nbytes);
            return NULL;
        }
        if (big) madvise(p, rounded, MADV_HUGEPAGE); /* advice only: failure is harmless */
    }
    return p;
}

static void cpu_free(ty_device dev, void *ptr, size_t nbytes) {
    (void)dev;
    if (nbytes >= TY_BIG_BLOCK) {
        size_t rounded = round_up(nbytes, TY_HUGE_ALIGN);
        if (rounded && cache_put(ptr, rounded)) return;
    }
    free(ptr);
}

static int cpu_copy(ty_device dev, void *dst, const void *src, size_t nbytes) {
    (void)dev;
    if (nbytes) memmove(dst, src, nbytes);
    return 0;
}

static int cpu_memset_zero(ty_device dev, void *ptr, size_t nbytes) {
    (void)dev;
    if (nbytes) memset(ptr, 0, nbytes);
    return 0;
}

static int cpu_synchronize(ty_device dev) {
    (void)dev;
    return 0;
}

static int cpu_device_count(void) {
    return 1;
}

static const ty_backend cpu_backend = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy_to_host = cpu_copy,
    .copy_from_host = cpu_copy,
    .copy_device = cpu_copy,
    .memset_zero = cpu_memset_zero,
    .synchronize = cpu_synchronize,
    .device_count = cpu_device_count,
};

/* ---- registry ---- */

static const ty_backend *backends[TY_NUM_DEVICE_TYPES] = {[TY_DEV_CPU] = &cpu_backend};

const ty_backend *ty_backend_for(ty_device_type type) {
    if ((int)type < 0 || type >= TY_NUM_DEVICE_TYPES || !backends[type]) {
        ty_error("device '%s' is not available in this build or on this machine",
                 type == TY_DEV_CUDA ? "cuda" : "?");
        return NULL;
    }
    return backends[type];
}

void ty_register_backend(ty_device_type type, const ty_backend *backend) {
    if ((int)type >= 0 && type < TY_NUM_DEVICE_TYPES) backends[type] = backend;
}

int ty_device_parse(const char *name, ty_device *out) {
    if (strcmp(name, "cpu") == 0) {
        *out = ty_cpu();
        return 0;
    }
    if (strncmp(name, "cuda", 4) == 0) {
        const char *rest = name + 4;
        int index = 0;
        if (*rest == ':') {
            char *end;
            long v = strtol(rest + 1, &end, 10);
            if (end == rest + 1 || *end != '\0' || v < 0 || v > 255)
                return ty_error("bad device '%s' (expected cpu, cuda or cuda:N)", name);
            index = (int)v;
        } else if (*rest != '\0') {
            return ty_error("bad device '%s' (expected cpu, cuda or cuda:N)", name);
        }
        out->type = TY_DEV_CUDA;
        out->index = index;
        return 0;
    }
    return ty_error("bad device '%s' (expected cpu, cuda or cuda:N)", name);
}

const char *ty_device_name(ty_device d, char *buf, size_t size) {
    if (d.type == TY_DEV_CPU)
        snprintf(buf, size, "cpu");
    else if (d.index == 0)
        snprintf(buf, size, "cuda");
    else
        snprintf(buf, size, "cuda:%d", d.index);
    return buf;
}
