/* (being written) */
#ifndef TYCHO_LINALG_H
#define TYCHO_LINALG_H

#include "tensor.h"

#endif
