/* (being written) */
#ifndef TYCHO_INDEXING_H
#define TYCHO_INDEXING_H

#include "tensor.h"

#endif
