/* Devices and the backend table.
 *
 * Every storage belongs to a device; the device's backend says how to
 * allocate, free and copy its memory. The CPU is the only backend compiled
 * into src/; gpu/ registers a CUDA backend at start-up through
 * ty_register_backend, so src/ never includes a CUDA header. */
#ifndef TYCHO_DEVICE_H
#define TYCHO_DEVICE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { TY_DEV_CPU = 0, TY_DEV_CUDA = 1, TY_NUM_DEVICE_TYPES } ty_device_type;

typedef struct {
    ty_device_type type;
    int index; /* cuda:1 has index 1; always 0 on the CPU */
} ty_device;

static inline ty_device ty_cpu(void) {
    ty_device d = {TY_DEV_CPU, 0};
    return d;
}
static inline int ty_device_equal(ty_device a, ty_device b) {
    return a.type == b.type && a.index == b.index;
}

/* "cpu", "cuda", "cuda:1" -> device; -1 with an error on a bad name. */
int ty_device_parse(const char *name, ty_device *out);
/* Writes "cpu" or "cuda:N" into buf (at least 16 bytes); returns buf. */
const char *ty_device_name(ty_device d, char *buf, size_t size);

typedef struct ty_backend {
    const char *name;
    /* NULL on failure with an error set (naming the size asked for). */
    void *(*alloc)(ty_device dev, size_t nbytes);
    void (*free)(ty_device dev, void *ptr, size_t nbytes);
    /* Copies between host memory and this device, and within the device. */
    int (*copy_to_host)(ty_device dev, void *dst, const void *src, size_t nbytes);
    int (*copy_from_host)(ty_device dev, void *dst, const void *src, size_t nbytes);
    int (*copy_device)(ty_device dev, void *dst, const void *src, size_t nbytes);
    int (*memset_zero)(ty_device dev, void *ptr, size_t nbytes);
    int (*synchronize)(ty_device dev);
    int (*device_count)(void);
} ty_backend;

/* The backend of a device type, or NULL (with an error) when none is
 * registered, e.g. "cuda" in a build or on a machine without CUDA. */
const ty_backend *ty_backend_for(ty_device_type type);
void ty_register_backend(ty_device_type type, const ty_backend *backend);

/* The CPU allocator keeps freed large blocks (1 MiB and up) for reuse, so a
 * training loop stops paying page faults after its first steps; this gives
 * them all back to the system. */
void ty_cpu_empty_cache(void);
size_t ty_cpu_cached_bytes(void);
/* The most bytes of freed big blocks kept for reuse (default 2 GiB); a
 * smaller limit empties the cache when it holds more. */
void ty_cpu_set_cache_limit(size_t bytes);

#endif
