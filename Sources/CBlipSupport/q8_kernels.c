// int8 GEMM micro-kernels for x86-64 (see include/q8_kernels.h for the contract).
//
// Why C: Swift cannot set the target CPU per function, and the portable Swift SIMD kernel
// (BlipKernels/Int8Gemm.swift), compiled for baseline x86-64 (SSE2), reaches only a fraction
// of what AVX2 `vpmaddubsw` or AVX-512 VNNI `vpdpbusd` do (measured numbers in
// BlipKernels/Int8Gemm.swift). These functions carry their own target attributes; the build
// stays baseline and Swift dispatches on CPUID, so an older CPU never executes them.
#include "q8_kernels.h"
#include <string.h>

int bs_q8_worst_pair_lane(const int8_t *levels, int groups) {
    int worst = 0;
    for (int g = 0; g + 2 <= groups; g += 2)
        for (int first = 4 * g; first <= 4 * g + 2; first += 2) {
            const int v[4] = {levels[first], levels[first + 1], levels[first + 4], levels[first + 5]};
            int pos = 0, neg = 0;
            for (int t = 0; t < 4; t++) { if (v[t] > 0) pos += v[t]; else neg -= v[t]; }
            if (pos > worst) worst = pos;
            if (neg > worst) worst = neg;
        }
    return worst;
}

int bs_q8_panel_pair_safe(const int8_t *panel, int groups, int limit) {
    int8_t levels[4 * 1024];   // one output's levels, gathered from the panel in chunks of 1,024 groups
    for (int column = 0; column < 16; column++)
        for (int g0 = 0; g0 < groups; g0 += 1024) {
            // chunks start at even groups, so no lane straddles two chunks
            const int count = groups - g0 < 1024 ? groups - g0 : 1024;
            for (int g = 0; g < count; g++) memcpy(levels + 4 * g, panel + 64 * (g0 + g) + 4 * column, 4);
            if (bs_q8_worst_pair_lane(levels, count) > limit) return 0;
        }
    return 1;
}

#if defined(__x86_64__)
#include <immintrin.h>
#include "q8_epilogue.h"
#include "simd_math256.h"

void bs_minmax_f32(const float *x, long n, float *min_out, float *max_out) {
    /* SSE2 is part of x86-64, so no dispatch is needed. minps/maxps return the second operand
     * when either is NaN, so a NaN input never replaces the running values. */
    long first = 0;
    while (first < n && x[first] != x[first]) first++;
    if (first == n) { *min_out = *max_out = 0; return; }
    __m128 lo0 = _mm_set1_ps(x[first]), lo1 = lo0, hi0 = lo0, hi1 = lo0;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(x + i + 4);
        lo0 = _mm_min_ps(a, lo0); lo1 = _mm_min_ps(b, lo1);
        hi0 = _mm_max_ps(a, hi0); hi1 = _mm_max_ps(b, hi1);
    }
    float l[4], h[4];
    _mm_storeu_ps(l, _mm_min_ps(lo0, lo1));
    _mm_storeu_ps(h, _mm_max_ps(hi0, hi1));
    float mn = l[0], mx = h[0];
    for (int j = 1; j < 4; j++) { mn = l[j] < mn ? l[j] : mn; mx = h[j] > mx ? h[j] : mx; }
    for (; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    *min_out = mn;
    *max_out = mx;
}

// Row blocks: an activation block (ROW_BLOCK × kp bytes) and one weight panel (16 × kp) stay
// in L2 while every panel of the thread's range is multiplied against the block.
#define ROW_BLOCK 64

static inline int32_t load_i32(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

// ---------------------------------------------------------------------------------------
// AVX2, two activation ranges, one tile template:
// - signed (-127..127): the sign trick of ggml, |a| (u8) · (w · sign(a)) (s8) with
//   vpmaddubsw; |a|, |w| <= 127 so pair sums (<= 32258) never saturate;
// - 7-bit (0..127): vpmaddubsw takes them as unsigned directly (pair sums <= 2 · 127 · 127).
//   With `paired`, the weights are pair-safe (Int8Matrix.pairSafe): in every 16-bit lane, the
//   four weights that meet over groups g and g + 1 have positive part <= 258 and negative part
//   >= -258, so the two vpmaddubsw results add in int16 without overflow (127 · 258 = 32766)
//   and one vpmaddwd widens both. On Zen 1 both multiplies run on one port: 3 ops per 2
//   groups instead of 4 is 1.35-1.5x (bench/kernel_peak.c).
// vpmaddwd by ones widens pairs to int32. The zero-point correction zp · colsum is applied
// once per output.

#define TGT_AVX2 __attribute__((target("avx2,fma")))

// 8 integer sums of one row -> floats: removes zp . colsum, scales by sa . sw, adds the bias,
// then (flags) adds what dst holds and applies exact GELU, in q8_store_unsigned's order;
// stores the first `valid` lanes.
TGT_AVX2 static inline void avx2_store(__m256i acc, const int32_t *colsum, int32_t zp, float sa, const float *sw,
                                       const float *bias, float *dst, int valid, int flags) {
    if (valid <= 0) return;
    acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)colsum), _mm256_set1_epi32(zp)));
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(_mm256_set1_ps(sa), _mm256_loadu_ps(sw)));
    const __m256i mask = lane_mask8(valid);
    if (bias) v = _mm256_add_ps(v, load_valid256(bias, valid, mask));
    if (flags & BS_Q8_ACCUMULATE) v = _mm256_add_ps(load_valid256(dst, valid, mask), v);
    if (flags & BS_Q8_GELU) v = gelu256(v);
    store_valid256(dst, valid, mask, v);
}

// 16-bit pair sums of one group: activations broadcast in av, weights w.
#define AVX2_PRODUCT_SIGNED(av, w) _mm256_maddubs_epi16(_mm256_sign_epi8(av, av), _mm256_sign_epi8(w, av))
#define AVX2_PRODUCT_U7(av, w) _mm256_maddubs_epi16(av, w)
#define AVX2_BROADCAST(r, g) _mm256_set1_epi32(load_i32(a + (long)(r) * kp + 4 * (g)))

typedef void (*avx2_tile_fn)(const int8_t *, int, const int8_t *, int, const int32_t *, const float *,
                             const int32_t *, const float *, const float *, float *, long, int, int);

#define AVX2_TILE(NAME, MR, PRODUCT, CAN_PAIR)                                                   \
TGT_AVX2 static void NAME(const int8_t *a, int kp, const int8_t *wp, int paired, const int32_t *colsum, \
                          const float *sa, const int32_t *zp, const float *sw, const float *bias, \
                          float *c, long ldc, int valid, int flags) {                            \
    __m256i acc[MR][2];                                                                          \
    for (int r = 0; r < MR; r++) { acc[r][0] = _mm256_setzero_si256(); acc[r][1] = _mm256_setzero_si256(); } \
    const __m256i ones = _mm256_set1_epi16(1);                                                   \
    const int groups = kp / 4;                                                                   \
    int g = 0;                                                                                   \
    if (CAN_PAIR && paired)                                                                      \
        for (; g + 2 <= groups; g += 2) {                                                        \
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(wp + 64 * g));               \
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 64 * g + 32));          \
            const __m256i w2 = _mm256_loadu_si256((const __m256i *)(wp + 64 * g + 64));          \
            const __m256i w3 = _mm256_loadu_si256((const __m256i *)(wp + 64 * g + 96));          \
            for (int r = 0; r < MR; r++) {                                                       \
                const __m256i av = AVX2_BROADCAST(r, g), bv = AVX2_BROADCAST(r, g + 1);          \
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_add_epi16(PRODUCT(av, w0), PRODUCT(bv, w2)), ones)); \
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_add_epi16(PRODUCT(av, w1), PRODUCT(bv, w3)), ones)); \
            }                                                                                    \
        }                                                                                        \
    for (; g < groups; g++) {                                                                    \
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(wp + 64 * g));                   \
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 64 * g + 32));              \
        for (int r = 0; r < MR; r++) {                                                           \
            const __m256i av = AVX2_BROADCAST(r, g);                                             \
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(PRODUCT(av, w0), ones));   \
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(PRODUCT(av, w1), ones));   \
        }                                                                                        \
    }                                                                                            \
    for (int r = 0; r < MR; r++) {                                                               \
        avx2_store(acc[r][0], colsum, zp[r], sa[r], sw, bias, c + r * ldc, valid, flags);        \
        avx2_store(acc[r][1], colsum + 8, zp[r], sa[r], sw + 8, bias ? bias + 8 : 0, c + r * ldc + 8, valid - 8, flags); \
    }                                                                                            \
}
AVX2_TILE(avx2s8_tile_1, 1, AVX2_PRODUCT_SIGNED, 0)
AVX2_TILE(avx2s8_tile_2, 2, AVX2_PRODUCT_SIGNED, 0)
AVX2_TILE(avx2s8_tile_3, 3, AVX2_PRODUCT_SIGNED, 0)
AVX2_TILE(avx2s8_tile_4, 4, AVX2_PRODUCT_SIGNED, 0)
AVX2_TILE(avx2u7_tile_1, 1, AVX2_PRODUCT_U7, 1)
AVX2_TILE(avx2u7_tile_2, 2, AVX2_PRODUCT_U7, 1)
AVX2_TILE(avx2u7_tile_3, 3, AVX2_PRODUCT_U7, 1)
AVX2_TILE(avx2u7_tile_4, 4, AVX2_PRODUCT_U7, 1)
static const avx2_tile_fn avx2s8_tiles[5] = {0, avx2s8_tile_1, avx2s8_tile_2, avx2s8_tile_3, avx2s8_tile_4};
static const avx2_tile_fn avx2u7_tiles[5] = {0, avx2u7_tile_1, avx2u7_tile_2, avx2u7_tile_3, avx2u7_tile_4};

static int avx2_gemm(const avx2_tile_fn *tiles, const int8_t *a, int m, int kp, const int8_t *w, int paired,
                     int panel_begin, int panel_end, int n, const int32_t *colsum, const float *sa,
                     const int32_t *zp, const float *sw, const float *bias, float *c, long ldc, int flags) {
    for (int rb = 0; rb < m; rb += ROW_BLOCK) {
        const int re = rb + ROW_BLOCK < m ? rb + ROW_BLOCK : m;
        for (int p = panel_begin; p < panel_end; p++) {
            const int col = 16 * p;
            const int valid = n - col < 16 ? n - col : 16;
            for (int r = rb; r < re; r += 4) {
                const int mr = re - r < 4 ? re - r : 4;
                tiles[mr](a + (long)r * kp, kp, w + (long)col * kp, paired, colsum + col, sa + r, zp + r,
                          sw + col, bias ? bias + col : 0, c + r * ldc + col, ldc, valid, flags);
            }
        }
    }
    return 0;
}

int bs_q8_gemm_avx2(const int8_t *a, int m, int kp, const int8_t *w, int panel_begin, int panel_end, int n,
                    const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw, const float *bias,
                    float *c, long ldc, int flags) {
    return avx2_gemm(avx2s8_tiles, a, m, kp, w, 0, panel_begin, panel_end, n, colsum, sa, zp, sw, bias, c, ldc, flags);
}

int bs_q8_gemm_avx2_u7(const int8_t *a, int m, int kp, const int8_t *w, int paired, int panel_begin, int panel_end,
                       int n, const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw,
                       const float *bias, float *c, long ldc, int flags) {
    return avx2_gemm(avx2u7_tiles, a, m, kp, w, paired, panel_begin, panel_end, n, colsum, sa, zp, sw, bias, c, ldc,
                     flags);
}

// ---------------------------------------------------------------------------------------
// Activation levels with AVX-512: the operations of Int8Gemm.quantizeRow's SIMD8 loop (x . inv
// + 1.5 . 2^23 rounds to nearest even, no fused multiply-add), 16 lanes at a time.

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
int bs_q8_quantize_row_avx512(const float *x, int k, float inv, int32_t zero, int32_t qmin, int32_t qmax,
                              int32_t offset, int8_t *out) {
    const __m512 vinv = _mm512_set1_ps(inv), magic = _mm512_set1_ps(12582912.0f);
    const __m512i magic_bits = _mm512_castps_si512(magic), shift = _mm512_set1_epi32(zero);
    const __m512i low = _mm512_set1_epi32(qmin), high = _mm512_set1_epi32(qmax), bias = _mm512_set1_epi32(offset);
    for (int i = 0; i < k; i += 16) {
        const __mmask16 mask = lane_mask(k - i);
        const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
        __m512i q = _mm512_castps_si512(_mm512_add_ps(_mm512_mul_ps(v, vinv), magic));
        q = _mm512_add_epi32(_mm512_sub_epi32(q, magic_bits), shift);
        q = _mm512_min_epi32(_mm512_max_epi32(q, low), high);
        _mm512_mask_cvtepi32_storeu_epi8(out + i, mask, _mm512_add_epi32(q, bias));
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// AVX-512 VNNI: unsigned activations (a + 128) · signed weights with vpdpbusd (no
// saturation), minus 128 · column sum. Two panels (32 columns) per tile, up to 6 rows.

#define TGT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

#define VNNI_TILE(MR, NP)                                                                        \
TGT_VNNI static void vnni_tile_##MR##_##NP(const int8_t *a, int kp, const int8_t *wp, const int32_t *colsum, \
                                           const float *sa, const int32_t *zp, const float *sw,   \
                                           const float *bias, float *c, long ldc, int valid, int flags) { \
    __m512i acc[MR][NP];                                                                         \
    for (int r = 0; r < MR; r++) for (int j = 0; j < NP; j++) acc[r][j] = _mm512_setzero_si512(); \
    const int groups = kp / 4;                                                                   \
    const long panel = 16L * kp;                                                                 \
    for (int g = 0; g < groups; g++) {                                                           \
        __m512i wv[NP];                                                                          \
        for (int j = 0; j < NP; j++) wv[j] = _mm512_loadu_si512((const void *)(wp + j * panel + 64 * g)); \
        for (int r = 0; r < MR; r++) {                                                           \
            const __m512i av = _mm512_set1_epi32(load_i32(a + (long)r * kp + 4 * g));            \
            for (int j = 0; j < NP; j++) acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], av, wv[j]);  \
        }                                                                                        \
    }                                                                                            \
    for (int r = 0; r < MR; r++)                                                                 \
        for (int j = 0; j < NP; j++)                                                             \
            q8_store_unsigned(acc[r][j], colsum + 16 * j, zp[r], sa[r], sw + 16 * j, bias ? bias + 16 * j : 0, \
                       c + r * ldc + 16 * j, valid - 16 * j, flags);                             \
}
VNNI_TILE(1, 2) VNNI_TILE(2, 2) VNNI_TILE(3, 2) VNNI_TILE(4, 2) VNNI_TILE(5, 2) VNNI_TILE(6, 2)
VNNI_TILE(1, 1) VNNI_TILE(2, 1) VNNI_TILE(3, 1) VNNI_TILE(4, 1) VNNI_TILE(5, 1) VNNI_TILE(6, 1)

typedef void (*vnni_tile_fn)(const int8_t *, int, const int8_t *, const int32_t *, const float *,
                             const int32_t *, const float *, const float *, float *, long, int, int);
static const vnni_tile_fn vnni_tiles[2][7] = {
    {0, vnni_tile_1_1, vnni_tile_2_1, vnni_tile_3_1, vnni_tile_4_1, vnni_tile_5_1, vnni_tile_6_1},
    {0, vnni_tile_1_2, vnni_tile_2_2, vnni_tile_3_2, vnni_tile_4_2, vnni_tile_5_2, vnni_tile_6_2},
};

// One activation row (a decode step) against one panel: the panel's 16 x kp bytes are read
// front to back as one stream, its k groups dealt over 4 accumulators so that no vpdpbusd
// waits for the previous one. The 2-panel tile reads two panels side by side (two streams 12 KB
// apart), which streamed the weights at well under the memory's rate when a step is all reads.
// Integer sums: the result is bit-identical to the tile's.
TGT_VNNI static void vnni_row_panel(const int8_t *a, int kp, const int8_t *wp, const int32_t *colsum, float sa,
                                    int32_t zp, const float *sw, const float *bias, float *c, int valid, int flags) {
    __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    const int groups = kp / 4;
    int g = 0;
    for (; g + 4 <= groups; g += 4)
        for (int u = 0; u < 4; u++)
            acc[u] = _mm512_dpbusd_epi32(acc[u], _mm512_set1_epi32(load_i32(a + 4 * (g + u))),
                                         _mm512_loadu_si512((const void *)(wp + 64 * (g + u))));
    for (; g < groups; g++)
        acc[0] = _mm512_dpbusd_epi32(acc[0], _mm512_set1_epi32(load_i32(a + 4 * g)),
                                     _mm512_loadu_si512((const void *)(wp + 64 * g)));
    const __m512i sum = _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]), _mm512_add_epi32(acc[2], acc[3]));
    q8_store_unsigned(sum, colsum, zp, sa, sw, bias, c, valid, flags);
}

int bs_q8_gemm_avx512vnni(const int8_t *a, int m, int kp, const int8_t *w, int panel_begin, int panel_end, int n,
                          const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw, const float *bias,
                          float *c, long ldc, int flags) {
    if (m == 1) {
        for (int p = panel_begin; p < panel_end; p++) {
            const int col = 16 * p;
            vnni_row_panel(a, kp, w + (long)col * kp, colsum + col, sa[0], zp[0], sw + col, bias ? bias + col : 0,
                           c + col, n - col < 16 ? n - col : 16, flags);
        }
        return 0;
    }
    for (int rb = 0; rb < m; rb += ROW_BLOCK) {
        const int re = rb + ROW_BLOCK < m ? rb + ROW_BLOCK : m;
        for (int p = panel_begin; p < panel_end; p += 2) {
            const int np = p + 2 <= panel_end ? 2 : 1;
            const int col = 16 * p;
            const int8_t *wp = w + (long)col * kp;
            const int valid = n - col < 16 * np ? n - col : 16 * np;
            const float *b = bias ? bias + col : 0;
            for (int r = rb; r < re; r += 6) {
                const int mr = re - r < 6 ? re - r : 6;
                vnni_tiles[np - 1][mr](a + (long)r * kp, kp, wp, colsum + col, sa + r, zp + r, sw + col, b,
                                       c + r * ldc + col, ldc, valid, flags);
            }
        }
    }
    return 0;
}

#else

void bs_minmax_f32(const float *x, long n, float *min_out, float *max_out) {
    float mn = 0, mx = 0;
    int seen = 0;
    for (long i = 0; i < n; i++) {
        if (x[i] != x[i]) continue;
        if (!seen) { mn = mx = x[i]; seen = 1; }
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    *min_out = mn;
    *max_out = mx;
}

int bs_q8_quantize_row_avx512(const float *x, int k, float inv, int32_t zero, int32_t qmin, int32_t qmax,
                              int32_t offset, int8_t *out) {
    (void)x; (void)k; (void)inv; (void)zero; (void)qmin; (void)qmax; (void)offset; (void)out;
    return -1;
}

int bs_q8_gemm_avx2(const int8_t *a, int m, int kp, const int8_t *w, int panel_begin, int panel_end, int n,
                    const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw, const float *bias,
                    float *c, long ldc, int flags) {
    (void)a; (void)m; (void)kp; (void)w; (void)panel_begin; (void)panel_end; (void)n;
    (void)colsum; (void)sa; (void)zp; (void)sw; (void)bias; (void)c; (void)ldc; (void)flags;
    return -1;
}
int bs_q8_gemm_avx2_u7(const int8_t *a, int m, int kp, const int8_t *w, int paired, int panel_begin, int panel_end,
                       int n, const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw,
                       const float *bias, float *c, long ldc, int flags) {
    (void)paired;
    return bs_q8_gemm_avx2(a, m, kp, w, panel_begin, panel_end, n, colsum, sa, zp, sw, bias, c, ldc, flags);
}
int bs_q8_gemm_avx512vnni(const int8_t *a, int m, int kp, const int8_t *w, int panel_begin, int panel_end, int n,
                          const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw, const float *bias,
                          float *c, long ldc, int flags) {
    return bs_q8_gemm_avx2(a, m, kp, w, panel_begin, panel_end, n, colsum, sa, zp, sw, bias, c, ldc, flags);
}

#endif
