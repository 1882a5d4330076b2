/* libtycho: tensors, autograd and kernels. The one header to include.
 *
 *   #include <tycho.h>      (cflags from `pkg-config --cflags tycho`)
 *
 * Conventions shared by every function (see error.h and tensor.h):
 * returned tensors are new references the caller releases; arguments are
 * borrowed; failures return NULL or -1 and leave a message in
 * ty_last_error(); C indices and dims are 0-based. */
#ifndef TYCHO_H
#define TYCHO_H

#include "error.h"
#include "dtype.h"
#include "device.h"
#include "tensor.h"
#include "autograd.h"
#include "optim.h"
#include "parallel.h"
#include "rng.h"
#include "creation.h"
#include "elementwise.h"
#include "reduce.h"
#include "linalg.h"
#include "indexing.h"
#include "nn_kernels.h"
#include "dropout.h"
#include "io.h"
#include "print.h"

#define TY_VERSION "0.1.0"

#endif
