#include "device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* ---- the CPU backend ---- */

/* 64-byte alignment: a cache line, and enough for AVX-512 loads. */
#define TY_CPU_ALIGN 64

static void *cpu_alloc(ty_device dev, size_t nbytes) {
    (void)dev;
    size_t rounded = (nbytes + TY_CPU_ALIGN - 1) / TY_CPU_ALIGN * TY_CPU_ALIGN;
    if (rounded < nbytes) rounded = 0; /* overflow; caught below */
    if (rounded == 0) rounded = TY_CPU_ALIGN;
    void *p = aligned_alloc(TY_CPU_ALIGN, rounded);
    if (!p) ty_error("out of memory: tried to allocate %zu bytes on the cpu", nbytes);
    return p;
}

static void cpu_free(ty_device dev, void *ptr, size_t nbytes) {
    (void)dev;
    (void)nbytes;
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

static int cpu_device_count(void) { return 1; }

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
    if (d.type == TY_DEV_CPU) snprintf(buf, size, "cpu");
    else if (d.index == 0) snprintf(buf, size, "cuda");
    else snprintf(buf, size, "cuda:%d", d.index);
    return buf;
}
