/* (being written) */
#ifndef TYCHO_IO_H
#define TYCHO_IO_H

#include "tensor.h"

#endif
