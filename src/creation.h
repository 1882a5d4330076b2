/* (being written) */
#ifndef TYCHO_CREATION_H
#define TYCHO_CREATION_H

#include "tensor.h"

#endif
