/* (being written) */
#ifndef TYCHO_NN_KERNELS_H
#define TYCHO_NN_KERNELS_H

#include "tensor.h"

#endif
