#ifndef BLIP_SUPPORT_BLAS_LOADER_H
#define BLIP_SUPPORT_BLAS_LOADER_H
#include <stddef.h>

/* OpenBLAS is loaded with dlopen rather than linked, because OpenBLAS picks its kernels in
 * a constructor that runs when the library loads, reading OPENBLAS_CORETYPE. Debian's build
 * does not recognise recent CPUs and falls back to Prescott kernels (5x slower). Loading it
 * ourselves lets us choose the core type from CPUID first, without the user knowing. */

/* Loads OpenBLAS once (thread-safe). Returns 0 on success, -1 with a message in err. */
int bs_blas_load(char *err, size_t err_len);
/* Kernel set OpenBLAS runs ("SkylakeX", "Haswell", "Zen", "Prescott", ...), or "none". */
const char *bs_blas_corename(void);
/* The core type libblip asked for ("" when the user's OPENBLAS_CORETYPE was kept or none was needed). */
const char *bs_blas_requested_coretype(void);
/* OpenBLAS's own thread count: libblip keeps it at 1 (see blas_loader.c). */
int bs_blas_get_threads(void);

/* Row-major C = alpha * op(A) * op(B) + beta * C, as cblas_sgemm. trans_a/trans_b: 0 or 1. */
void bs_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
