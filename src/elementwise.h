/* (being written) */
#ifndef TYCHO_ELEMENTWISE_H
#define TYCHO_ELEMENTWISE_H

#include "tensor.h"

#endif
