#define _GNU_SOURCE
#include "blas_loader.h"
#include "cpu_features.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CBLAS ABI (enums are ints; OpenBLAS's blasint is int in distribution builds). Declared
 * here instead of including cblas.h so that nothing links libopenblas: if libblip.so had it as
 * a NEEDED entry, OpenBLAS would pick its kernels before our code could run. */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };
typedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
typedef char *(*corename_fn)(void);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_error[512];
static char requested_coretype[32];
static sgemm_fn p_sgemm;
static corename_fn p_corename;
static set_threads_fn p_set_threads;
static get_threads_fn p_get_threads;

/* The widest kernel family OpenBLAS 0.3.x has for this CPU. */
static const char *best_coretype(void) {
#if defined(__x86_64__)
    if (bs_cpu_has_avx512()) return "SkylakeX";
    if (bs_cpu_has_avx2_fma()) return bs_cpu_is_amd() ? "Zen" : "Haswell";
#endif
    return NULL;
}

static void load_openblas(void) {
    const char *user = getenv("OPENBLAS_CORETYPE");
    const char *chosen = (user && *user) ? NULL : best_coretype();
    if (chosen) {
        snprintf(requested_coretype, sizeof requested_coretype, "%s", chosen);
        setenv("OPENBLAS_CORETYPE", chosen, 1);
    }
    /* OpenBLAS stays single-threaded: libblip splits large GEMMs over each call's own threads
     * (Blas.swift), because OpenBLAS 0.3.21's thread count is process-wide and two models with
     * different n_threads would fight over it. With one thread OpenBLAS starts no worker pool
     * (and no idle workers spin between our GEMMs). Restored below like the core type. */
    const char *num_threads = getenv("OPENBLAS_NUM_THREADS");
    const int set_num_threads = !(num_threads && *num_threads && strcmp(num_threads, "1") == 0);
    char saved_num_threads[32] = "";
    if (num_threads) snprintf(saved_num_threads, sizeof saved_num_threads, "%s", num_threads);
    if (set_num_threads) setenv("OPENBLAS_NUM_THREADS", "1", 1);
    /* BLIP_OPENBLAS_LIBRARY overrides; then the directory pkg-config reported at build time
     * (BLIP_OPENBLAS_LIBDIR, set by the Makefile); then the dynamic linker's search path. */
    const char *names[5] = {getenv("BLIP_OPENBLAS_LIBRARY"), NULL, "libopenblas.so.0", "libopenblas.so", NULL};
#ifdef BLIP_OPENBLAS_LIBDIR
    names[1] = BLIP_OPENBLAS_LIBDIR "/libopenblas.so.0";
#endif
    void *handle = NULL;
    for (int i = 0; i < 4 && !handle; i++) {
        if (names[i] && *names[i]) handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    }
    /* Leave the host's environment as we found it: OpenBLAS read the variable while loading. */
    if (chosen) unsetenv("OPENBLAS_CORETYPE");
    if (set_num_threads) {
        if (num_threads) setenv("OPENBLAS_NUM_THREADS", saved_num_threads, 1);
        else unsetenv("OPENBLAS_NUM_THREADS");
    }
    if (!handle) {
        snprintf(load_error, sizeof load_error, "cannot load OpenBLAS (libopenblas.so.0): %s", dlerror());
        return;
    }
    p_sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    p_corename = (corename_fn)dlsym(handle, "openblas_get_corename");
    p_set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
    p_get_threads = (get_threads_fn)dlsym(handle, "openblas_get_num_threads");
    if (!p_sgemm) {
        snprintf(load_error, sizeof load_error, "the loaded BLAS has no cblas_sgemm");
        return;
    }
    /* OpenBLAS may have been loaded by the host already, with its own thread count. */
    if (p_set_threads) p_set_threads(1);
    load_status = 0;
}

int bs_blas_load(char *err, size_t err_len) {
    pthread_once(&load_once, load_openblas);
    if (load_status != 0 && err && err_len) snprintf(err, err_len, "%s", load_error);
    return load_status;
}

const char *bs_blas_corename(void) {
    if (load_status != 0 || !p_corename) return "none";
    const char *name = p_corename();
    return name ? name : "unknown";
}

const char *bs_blas_requested_coretype(void) { return requested_coretype; }

int bs_blas_get_threads(void) {
    return (load_status == 0 && p_get_threads) ? p_get_threads() : 1;
}

void bs_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    p_sgemm(CBLAS_ROW_MAJOR, trans_a ? CBLAS_TRANS : CBLAS_NO_TRANS, trans_b ? CBLAS_TRANS : CBLAS_NO_TRANS,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
