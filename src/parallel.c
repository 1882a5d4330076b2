#include "parallel.h"

#include <cblas.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static int num_threads = 0; /* 0: not set yet, use the OpenMP default */

void ty_set_num_threads(int n) {
#ifdef _OPENMP
    if (n < 1) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    if (n < 1) n = 1;
#endif
    num_threads = n;
    openblas_set_num_threads(n);
}

int ty_get_num_threads(void) {
    if (num_threads > 0) return num_threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int ty_threads_for(int64_t work) {
    int max = ty_get_num_threads();
    int64_t want = work / TY_PARALLEL_GRAIN;
    if (want < 1) return 1;
    return want < max ? (int)want : max;
}

int ty_thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
