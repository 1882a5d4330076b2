/* (being written) */
#include "tensor.h"
