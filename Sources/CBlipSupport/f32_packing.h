// Packing for the float32 GEMM kernels (f32_kernels.c for AVX-512, f32_kernels_avx2.c for
// AVX2): weights in panels of BS_SGEMM_PANEL rows (the layout of bs_sgemm_pack, shared by both),
// and slivers of A's rows, whose height is each kernel's micro-tile height; and the blocked
// attention both build from them. Private to CBlipSupport.
#ifndef BLIP_SUPPORT_F32_PACKING_H
#define BLIP_SUPPORT_F32_PACKING_H
#include "f32_kernels.h"
#include <stddef.h>

// W [n x k] with row stride ldw into panels of BS_SGEMM_PANEL rows: panel p, step kk holds
// W[32p + j][kk] for j in 0..<32 (rows past n are zero).
static inline void pack_rows(const float *w, long ldw, int n, int k, float *packed) {
    const int nr = BS_SGEMM_PANEL, panels = (n + nr - 1) / nr;
    for (int p = 0; p < panels; p++) {
        float *dst = packed + (size_t)p * nr * k;
        for (int j = 0; j < nr; j++) {
            int row = p * nr + j;
            if (row < n) {
                const float *src = w + (long)row * ldw;
                for (int kk = 0; kk < k; kk++) dst[(size_t)kk * nr + j] = src[kk];
            } else {
                for (int kk = 0; kk < k; kk++) dst[(size_t)kk * nr + j] = 0;
            }
        }
    }
}

// The transpose of V [k x n] (row stride ldv) in the same layout: panel p, step kk holds
// V[kk][32p + j], so a GEMM against it computes A . V.
static inline void pack_columns(const float *v, long ldv, int k, int n, float *packed) {
    const int nr = BS_SGEMM_PANEL, panels = (n + nr - 1) / nr;
    for (int p = 0; p < panels; p++) {
        float *dst = packed + (size_t)p * nr * k;
        int cols = n - p * nr < nr ? n - p * nr : nr;
        for (int kk = 0; kk < k; kk++) {
            const float *src = v + (long)kk * ldv + p * nr;
            float *out = dst + (size_t)kk * nr;
            for (int j = 0; j < cols; j++) out[j] = src[j];
            for (int j = cols; j < nr; j++) out[j] = 0;
        }
    }
}

// The caller's m rows, columns [k0, k0 + kc) of A, as slivers of mr rows: sliver s, step kk
// holds A[mr s + i][k0 + kk] for i in 0..<mr (rows past m are zero).
static inline void pack_a(int mr, const float *a, long lda, int m, int k0, int kc, float *dst) {
    for (int s = 0; s * mr < m; s++) {
        int rows = m - s * mr < mr ? m - s * mr : mr;
        float *out = dst + (size_t)s * mr * kc;
        for (int i = 0; i < mr; i++) {
            if (i < rows) {
                const float *src = a + (long)(s * mr + i) * lda + k0;
                for (int kk = 0; kk < kc; kk++) out[kk * mr + i] = src[kk];
            } else {
                for (int kk = 0; kk < kc; kk++) out[kk * mr + i] = 0;
            }
        }
    }
}

// The body of bs_attention_avx512 / _avx2 (the arguments of bs_attention_avx512 in scope, and
// the file's NR and QB), over that file's GEMM and softmax row: per head, keys and values packed
// once, then blocks of QB query rows whose scores (QB x keys) stay in cache.
#define BLOCKED_ATTENTION(GEMM, SOFTMAX_ROW)                                                             \
    const int key_panels = (keys + NR - 1) / NR, dim_panels = (head_dim + NR - 1) / NR;                 \
    float *packed_k = work;                                                                              \
    float *packed_v = packed_k + (size_t)key_panels * NR * head_dim;                                     \
    float *scores = packed_v + (size_t)dim_panels * NR * keys;                                           \
    float *slivers = scores + (size_t)QB * keys;                                                         \
    for (int h = head_begin; h < head_end; h++) {                                                        \
        const int col = h * head_dim;                                                                    \
        pack_rows(k + h * kv_head_stride, k_stride, keys, head_dim, packed_k);                           \
        pack_columns(v + h * kv_head_stride, v_stride, keys, head_dim, packed_v);                        \
        for (int q0 = 0; q0 < queries; q0 += QB) {                                                       \
            const int rows = queries - q0 < QB ? queries - q0 : QB;                                      \
            GEMM(rows, keys, head_dim, q + (long)q0 * q_stride + col, q_stride, packed_k, NULL, scores, keys, \
                 0, key_panels, 0, slivers);                                                             \
            for (int r = 0; r < rows; r++) SOFTMAX_ROW(scores + (size_t)r * keys, keys, scale);          \
            GEMM(rows, head_dim, keys, scores, keys, packed_v, NULL, out + (long)q0 * out_stride + col,   \
                 out_stride, 0, dim_panels, 0, slivers);                                                 \
        }                                                                                                \
    }                                                                                                    \
    return 0

#endif
