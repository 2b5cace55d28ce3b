// The epilogue shared by the int8 kernels whose activations are unsigned (q + 128): AVX-512 VNNI
// (q8_kernels.c) and AMX (q8_amx.c). Private to CBlipSupport; x86-64 only.
#ifndef BLIP_SUPPORT_Q8_EPILOGUE_H
#define BLIP_SUPPORT_Q8_EPILOGUE_H
#include <immintrin.h>
#include <stdint.h>
#include "q8_kernels.h"
#include "simd_math512.h"

// 16 integer sums of one row -> floats: removes (128 + zp) . colsum (the activations were
// q + 128), scales by sa . sw, adds the bias, then (flags) adds what dst holds (a residual
// connection) and applies exact GELU; stores the first `valid` lanes.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
static inline void q8_store_unsigned(__m512i acc, const int32_t *colsum, int32_t zp, float sa, const float *sw,
                                     const float *bias, float *dst, int valid, int flags) {
    if (valid <= 0) return;
    acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_loadu_si512((const void *)colsum), _mm512_set1_epi32(128 + zp)));
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_mul_ps(_mm512_set1_ps(sa), _mm512_loadu_ps(sw)));
    const __mmask16 mask = lane_mask(valid);
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias));
    if (flags & BS_Q8_ACCUMULATE) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, dst), v);
    if (flags & BS_Q8_GELU) v = gelu512(v);
    _mm512_mask_storeu_ps(dst, mask, v);
}
#endif
