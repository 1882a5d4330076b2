/* Threads: one setting for OpenMP and OpenBLAS, and the size below which a
 * loop stays on one thread (forking a team costs microseconds, so small
 * tensors must not pay for it). */
#ifndef TYCHO_PARALLEL_H
#define TYCHO_PARALLEL_H

#include <stdint.h>

/* Elements of simple elementwise work worth one extra thread. */
#define TY_PARALLEL_GRAIN 32768

/* Sets OpenMP's and OpenBLAS's thread counts; n < 1 means "all cores". */
void ty_set_num_threads(int n);
int ty_get_num_threads(void);

/* How many threads a loop over `work` cheap elements should use. */
int ty_threads_for(int64_t work);

/* The calling thread's number inside a parallel region (0 outside one):
 * for per-thread scratch buffers. */
int ty_thread_num(void);

#endif
