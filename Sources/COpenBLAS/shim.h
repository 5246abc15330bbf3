#ifndef MCJEPA_COPENBLAS_SHIM_H
#define MCJEPA_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
