// exp, exact GELU and tail masks for 8 floats at a time: the AVX2 float32 kernels'
// (f32_kernels_avx2.c) counterpart of simd_math512.h, with the same constants and operation
// order (no fused multiply-adds), so GELU here equals the Swift kernel and the AVX-512 one bit
// for bit. Private to CBlipSupport; x86-64 only.
#ifndef BLIP_SUPPORT_SIMD_MATH256_H
#define BLIP_SUPPORT_SIMD_MATH256_H
#include <immintrin.h>

#define SIMD_MATH256 __attribute__((target("avx2,fma")))

// The first `count` of 8 lanes as an all-ones lane mask (none for count <= 0, all for >= 8),
// for _mm256_maskload_ps / _mm256_maskstore_ps on row tails.
SIMD_MATH256 static inline __m256i lane_mask8(int count) {
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), index);
}

// 8 floats from p, or the first `valid` of them (the rest zero): AMD's vmaskmovps costs many
// micro-ops, so whole vectors take plain loads and stores.
SIMD_MATH256 static inline __m256 load_valid256(const float *p, int valid, __m256i mask) {
    return valid >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}
SIMD_MATH256 static inline void store_valid256(float *p, int valid, __m256i mask, __m256 v) {
    if (valid >= 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, mask, v);
}

SIMD_MATH256 static inline float reduce_add256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SIMD_MATH256 static inline float reduce_max256(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SIMD_MATH256 static inline __m256 exp256(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3f));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 shifted = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), magic);
    __m256 n = _mm256_sub_ps(shifted, magic);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(-2.12194440e-4f)));
    __m256 r2 = _mm256_mul_ps(r, r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, r2), r), _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_castps_si256(magic));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// exp(x) for x <= 0 (softmax's shifted scores), exp256's polynomial in fused multiply-adds,
// n by rounding and 2^n added into the exponent: 17 operations where exp256 takes 26 (exp256
// keeps Swift's vectorExp bits for GELU, which need no FMA; a softmax only needs float
// accuracy, and this is within 2 ulp of exp256).
SIMD_MATH256 static inline __m256 exp256_nonpositive(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    const __m256 r2 = _mm256_mul_ps(r, r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0f));
    // 2^n . p by adding n to p's exponent field: x >= -87.3 keeps the result >= 2^-126, a normal float
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23)));
}

// erf(x) as BlipKernels' vectorErf (see erf512 for the clamp before exp).
SIMD_MATH256 static inline __m256 erf256(__m256 x) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    const __m256 negative = _mm256_cmp_ps(x, zero, _CMP_LT_OQ);
    __m256 ax = _mm256_blendv_ps(x, _mm256_sub_ps(zero, x), negative);
    __m256 t = _mm256_div_ps(one, _mm256_add_ps(_mm256_mul_ps(ax, _mm256_set1_ps(0.3275911f)), one));
    __m256 r = _mm256_set1_ps(1.061405429f);
    r = _mm256_sub_ps(_mm256_mul_ps(r, t), _mm256_set1_ps(1.453152027f));
    r = _mm256_add_ps(_mm256_mul_ps(r, t), _mm256_set1_ps(1.421413741f));
    r = _mm256_sub_ps(_mm256_mul_ps(r, t), _mm256_set1_ps(0.284496736f));
    r = _mm256_add_ps(_mm256_mul_ps(r, t), _mm256_set1_ps(0.254829592f));
    __m256 e = exp256(_mm256_sub_ps(zero, _mm256_min_ps(_mm256_mul_ps(ax, ax), _mm256_set1_ps(80.0f))));
    __m256 y = _mm256_sub_ps(one, _mm256_mul_ps(_mm256_mul_ps(r, t), e));
    return _mm256_blendv_ps(y, _mm256_sub_ps(zero, y), negative);
}

SIMD_MATH256 static inline __m256 gelu256(__m256 v) {
    __m256 y = erf256(_mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f)));
    return _mm256_mul_ps(_mm256_mul_ps(v, _mm256_set1_ps(0.5f)), _mm256_add_ps(_mm256_set1_ps(1.0f), y));
}

// GELU'(v) . dy as gelu_backward512 (BlipKernels' geluBackward), 8 lanes wide.
SIMD_MATH256 static inline __m256 gelu_backward256(__m256 v, __m256 dy) {
    __m256 cdf = _mm256_mul_ps(_mm256_set1_ps(0.5f),
                               _mm256_add_ps(_mm256_set1_ps(1.0f), erf256(_mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f)))));
    __m256 pdf = _mm256_mul_ps(exp256(_mm256_mul_ps(_mm256_mul_ps(v, v), _mm256_set1_ps(-0.5f))),
                               _mm256_set1_ps(0.39894228040143268f));
    return _mm256_mul_ps(dy, _mm256_add_ps(cdf, _mm256_mul_ps(v, pdf)));
}

#endif
