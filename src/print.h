/* (being written) */
#ifndef TYCHO_PRINT_H
#define TYCHO_PRINT_H

#include "tensor.h"

#endif
