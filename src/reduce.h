/* (being written) */
#ifndef TYCHO_REDUCE_H
#define TYCHO_REDUCE_H

#include "tensor.h"

#endif
