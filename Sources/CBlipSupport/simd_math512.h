// exp, exact GELU, symmetric int8 rows and tail masks for 16 floats at a time, shared by the
// AVX-512 float32 kernels (f32_kernels.c), the int8 attention (q8_attention.c) and the int8
// epilogue (q8_epilogue.h). Private to CBlipSupport; x86-64 only.
#ifndef BLIP_SUPPORT_SIMD_MATH512_H
#define BLIP_SUPPORT_SIMD_MATH512_H
#include <immintrin.h>
#include <stdint.h>

#define SIMD_MATH512 __attribute__((target("avx512f")))

// The first `count` of 16 lanes (none for count <= 0, all for count >= 16): masks for row tails.
static inline __mmask16 lane_mask(int count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

// round(x . inv) (to nearest even) clamped to [-127, 127].
SIMD_MATH512 static inline __m512i levels127(__m512 x, __m512 inv) {
    const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(x, inv));
    return _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
}

// The n (a multiple of 16) values of x as symmetric int8 levels round(x / s), s = max|x| / 127
// (s = 0 and all levels 0 for a zero row), plus `offset`; returns s.
SIMD_MATH512 static inline float quantize_symmetric_row512(const float *x, int n, int offset, int8_t *out) {
    __m512 amax = _mm512_setzero_ps();
    for (int c = 0; c < n; c += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + c)));
    const float m = _mm512_reduce_max_ps(amax);
    const float s = m > 0 ? m / 127.0f : 0.0f;
    const __m512 inv = _mm512_set1_ps(m > 0 ? 127.0f / m : 0.0f);
    const __m512i shift = _mm512_set1_epi32(offset);
    for (int c = 0; c < n; c += 16)
        _mm_storeu_si128((__m128i *)(out + c), _mm512_cvtepi32_epi8(_mm512_add_epi32(levels127(_mm512_loadu_ps(x + c), inv), shift)));
    return s;
}

// exp and erf as BlipKernels/VectorMath.swift computes them (same constants, same operation
// order, no fused multiply-adds), so GELU here equals the Swift kernel's bit for bit.
SIMD_MATH512 static inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.3f));
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 shifted = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), magic);
    __m512 n = _mm512_sub_ps(shifted, magic);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, r2), r), _mm512_set1_ps(1.0f));
    __m512i ni = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(magic));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(ni, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

// erf(x) as BlipKernels' vectorErf (Abramowitz-Stegun 7.1.26 on |x|, the sign put back).
SIMD_MATH512 static inline __m512 erf512(__m512 x) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    __mmask16 negative = _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ);
    __m512 ax = _mm512_mask_sub_ps(x, negative, zero, x);
    __m512 t = _mm512_div_ps(one, _mm512_add_ps(_mm512_mul_ps(ax, _mm512_set1_ps(0.3275911f)), one));
    __m512 r = _mm512_set1_ps(1.061405429f);
    r = _mm512_sub_ps(_mm512_mul_ps(r, t), _mm512_set1_ps(1.453152027f));
    r = _mm512_add_ps(_mm512_mul_ps(r, t), _mm512_set1_ps(1.421413741f));
    r = _mm512_sub_ps(_mm512_mul_ps(r, t), _mm512_set1_ps(0.284496736f));
    r = _mm512_add_ps(_mm512_mul_ps(r, t), _mm512_set1_ps(0.254829592f));
    // exp(-min(x², 80)): beyond x² = 80, 1 - r·t·e rounds to 1 either way, but r·t·exp(-87)
    // is a denormal, and denormal products cost a microcode assist (GELU of large inputs ran
    // at half speed in the int8 GEMM's epilogue on Zen 4).
    __m512 e = exp512(_mm512_sub_ps(zero, _mm512_min_ps(_mm512_mul_ps(ax, ax), _mm512_set1_ps(80.0f))));
    __m512 y = _mm512_sub_ps(one, _mm512_mul_ps(_mm512_mul_ps(r, t), e));
    return _mm512_mask_sub_ps(y, negative, zero, y);
}

SIMD_MATH512 static inline __m512 gelu512(__m512 v) {
    __m512 y = erf512(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)));
    return _mm512_mul_ps(_mm512_mul_ps(v, _mm512_set1_ps(0.5f)), _mm512_add_ps(_mm512_set1_ps(1.0f), y));
}

// GELU'(v) . dy as BlipKernels' geluBackward: dy . (0.5 (1 + erf(v/sqrt2)) + v . exp(v v (-0.5)) / sqrt(2 pi)).
SIMD_MATH512 static inline __m512 gelu_backward512(__m512 v, __m512 dy) {
    __m512 cdf = _mm512_mul_ps(_mm512_set1_ps(0.5f),
                               _mm512_add_ps(_mm512_set1_ps(1.0f), erf512(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)))));
    __m512 pdf = _mm512_mul_ps(exp512(_mm512_mul_ps(_mm512_mul_ps(v, v), _mm512_set1_ps(-0.5f))),
                               _mm512_set1_ps(0.39894228040143268f));
    return _mm512_mul_ps(dy, _mm512_add_ps(cdf, _mm512_mul_ps(v, pdf)));
}

#endif
