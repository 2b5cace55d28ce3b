/* Only the header: libblip loads OpenBLAS itself with dlopen (see CBlipSupport/blas_loader.c). */
#include <cblas.h>
