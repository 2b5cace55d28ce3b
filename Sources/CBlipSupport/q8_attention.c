// Attention with int8 products (see include/q8_kernels.h for the contract): on AVX-512 VNNI
// CPUs, and on AVX2 CPUs through the 7-bit kernel.
//
// Both products of attention go through an int8 GEMM of q8_kernels.c, which multiplies 4x
// (VNNI) or 2-3x (AVX2 vpmaddubsw) as many values per instruction as a float32 FMA:
// - scores: each query row quantized (its own scale, the attention scale folded in) against
//   each key row quantized symmetrically (127 levels);
// - output: the unnormalised softmax row exp(s - max), whose largest value is exactly 1, as
//   bytes round(L . p) against V quantized per head column. The row is normalised by the
//   sum of its bytes in the GEMM's epilogue scale, so the weights used sum to exactly 1 and
//   no pass divides the probabilities.
// VNNI takes 8-bit unsigned operands: queries symmetric (+ 128), L = 255. vpmaddubsw on AVX2
// needs its unsigned operand below 128 (two products per 16-bit lane must not saturate), so
// there queries are asymmetric levels 0..127 with a zero point (the 7-bit activations of the
// int8 linear layers) and L = 127. Measured on BLIP-base over bench.py's 16 photos (PyTorch's
// float32 model with only its attention quantized this way: BENCHMARKS.md, session 30), the
// states move by 1.1e-3 relative RMS, against the 3.0e-2 of the whole int8 encoder.
// This is what ONNX Runtime's dynamic quantization does to BLIP's attention MatMuls (both
// operands quantized), with finer scales (per row and per column instead of per tensor).
#include "q8_kernels.h"
#include <math.h>
#include <string.h>

// Query rows per block: their scores (ROWS x keys floats) and bytes stay in L2.
enum { ROWS = 64 };

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

// The work buffer's regions, each 64-byte aligned, for one (keys, head_dim).
typedef struct {
    size_t key_panels, dim_panels, key_depth;   // key_depth: keys padded to a multiple of 4
    size_t zero_count;                           // int32 zeros: V's column sums and Q's zero points
    size_t k_bytes, k_sums, k_scales, v_bytes, v_scales, zeros, q_bytes, q_scales, p_bytes, p_scales, row_zero,
        scores, total;
} q8_attention_layout;

static q8_attention_layout layout_for(int keys, int head_dim) {
    q8_attention_layout l;
    l.key_panels = round_up((size_t)keys, 16) / 16;
    l.dim_panels = round_up((size_t)head_dim, 16) / 16;
    l.key_depth = round_up((size_t)keys, 4);
    l.zero_count = l.dim_panels * 16 > ROWS ? l.dim_panels * 16 : ROWS;
    size_t at = 0;
#define REGION(field, bytes) do { l.field = at; at = round_up(at + (bytes), 64); } while (0)
    REGION(k_bytes, l.key_panels * 16 * (size_t)head_dim);
    REGION(k_sums, l.key_panels * 16 * sizeof(int32_t));
    REGION(k_scales, l.key_panels * 16 * sizeof(float));
    REGION(v_bytes, l.dim_panels * 16 * l.key_depth);
    REGION(v_scales, l.dim_panels * 16 * sizeof(float));
    REGION(zeros, l.zero_count * sizeof(int32_t));
    REGION(q_bytes, (size_t)ROWS * (size_t)head_dim);
    REGION(q_scales, ROWS * sizeof(float));
    REGION(p_bytes, (size_t)ROWS * l.key_depth);
    REGION(p_scales, ROWS * sizeof(float));
    REGION(row_zero, ROWS * sizeof(int32_t));   // zero points of a block's activation rows
    REGION(scores, (size_t)ROWS * (size_t)keys * sizeof(float));
#undef REGION
    l.total = at + 64;   // + 64: the caller's buffer need not be aligned
    return l;
}

// The work buffer's per-block regions as pointers (work: any alignment).
typedef struct {
    uint8_t *base, *p_bytes;
    int8_t *q_bytes;
    float *q_scales, *p_scales, *scores;
    int32_t *zeros, *row_zero;
} q8_attention_regions;

static inline q8_attention_regions regions_of(void *work, const q8_attention_layout *l) {
    q8_attention_regions r;
    r.base = (uint8_t *)round_up((size_t)work, 64);
    r.q_bytes = (int8_t *)(r.base + l->q_bytes);
    r.p_bytes = r.base + l->p_bytes;
    r.q_scales = (float *)(r.base + l->q_scales);
    r.p_scales = (float *)(r.base + l->p_scales);
    r.scores = (float *)(r.base + l->scores);
    r.zeros = (int32_t *)(r.base + l->zeros);
    r.row_zero = (int32_t *)(r.base + l->row_zero);
    memset(r.zeros, 0, l->zero_count * sizeof(int32_t));
    return r;
}

size_t bs_q8_attention_work_bytes(int keys, int head_dim) {
    if (keys <= 0 || head_dim <= 0) return 64;
    return layout_for(keys, head_dim).total;
}

#if defined(__x86_64__)
#include <immintrin.h>
#include "simd_math256.h"
#include "simd_math512.h"

#define TGT_Q8A __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

// Keys of one head as GEMM weights: key j is output column j, its head_dim values the depth
// (layout of q8_kernels.h: panel p, group g, column l, byte t at 16 hd p + 64 g + 4 l + t), each
// key row quantized by `quantize_row` (symmetric, 127 levels; returns the row's scale). Plain
// C: the quantizer is the one part each instruction set does its own way.
typedef float (*key_row_quantizer)(const float *x, int n, int8_t *out);
static void pack_keys(const float *k, long k_stride, int keys, int head_dim, const q8_attention_layout *l,
                      uint8_t *base, key_row_quantizer quantize_row) {
    int8_t *bytes = (int8_t *)(base + l->k_bytes);
    int32_t *sums = (int32_t *)(base + l->k_sums);
    float *scales = (float *)(base + l->k_scales);
    memset(bytes, 0, l->key_panels * 16 * (size_t)head_dim);
    memset(sums, 0, l->key_panels * 16 * sizeof(int32_t));
    memset(scales, 0, l->key_panels * 16 * sizeof(float));
    int8_t row[256];
    for (int j = 0; j < keys; j++) {
        scales[j] = quantize_row(k + (long)j * k_stride, head_dim, row);
        int8_t *panel = bytes + (size_t)(j / 16) * 16 * head_dim + 4 * (j % 16);
        int32_t sum = 0;
        for (int g = 0; g < head_dim / 4; g++) {
            memcpy(panel + 64 * g, row + 4 * g, 4);
            sum += row[4 * g] + row[4 * g + 1] + row[4 * g + 2] + row[4 * g + 3];
        }
        sums[j] = sum;
    }
}

// Four keys' levels of 16 value columns (r[t]: key j0 + t) as one 64-byte group of the packed
// layout: 16 dwords, column l holding keys j0..j0+3. SSE2, so every x86-64 kernel shares it.
static inline void store_value_group(const __m128i r[4], int8_t *group) {
    const __m128i a = _mm_unpacklo_epi8(r[0], r[1]), b = _mm_unpackhi_epi8(r[0], r[1]);
    const __m128i c = _mm_unpacklo_epi8(r[2], r[3]), d = _mm_unpackhi_epi8(r[2], r[3]);
    _mm_storeu_si128((__m128i *)group, _mm_unpacklo_epi16(a, c));
    _mm_storeu_si128((__m128i *)(group + 16), _mm_unpackhi_epi16(a, c));
    _mm_storeu_si128((__m128i *)(group + 32), _mm_unpacklo_epi16(b, d));
    _mm_storeu_si128((__m128i *)(group + 48), _mm_unpackhi_epi16(b, d));
}

TGT_Q8A static float quantize_key_row512(const float *x, int n, int8_t *out) {
    return quantize_symmetric_row512(x, n, 0, out);
}

// Values of one head as GEMM weights: head column c is output column c, the keys the depth;
// one scale per column (max over keys / 127). Four keys' levels of 16 columns are
// interleaved into one 64-byte group.
TGT_Q8A static void pack_values(const float *v, long v_stride, int keys, int head_dim, const q8_attention_layout *l,
                                uint8_t *base) {
    int8_t *bytes = (int8_t *)(base + l->v_bytes);
    float *scales = (float *)(base + l->v_scales);
    const size_t depth = l->key_depth;
    for (int p = 0; p < head_dim / 16; p++) {
        // four running maxima: one would be a chain of `keys` dependent instructions
        __m512 m4[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        for (int j = 0; j < keys; j++)
            m4[j & 3] = _mm512_max_ps(m4[j & 3], _mm512_abs_ps(_mm512_loadu_ps(v + (long)j * v_stride + 16 * p)));
        const __m512 amax = _mm512_max_ps(_mm512_max_ps(m4[0], m4[1]), _mm512_max_ps(m4[2], m4[3]));
        const __mmask16 live = _mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ);
        _mm512_storeu_ps(scales + 16 * p, _mm512_maskz_div_ps(live, amax, _mm512_set1_ps(127.0f)));
        const __m512 inv = _mm512_maskz_div_ps(live, _mm512_set1_ps(127.0f), amax);
        int8_t *panel = bytes + (size_t)p * 16 * depth;
        for (size_t j0 = 0; j0 < depth; j0 += 4) {
            __m128i r[4];
            for (int t = 0; t < 4; t++) {
                const size_t j = j0 + (size_t)t;
                r[t] = j < (size_t)keys ? _mm512_cvtepi32_epi8(levels127(_mm512_loadu_ps(v + (long)j * v_stride + 16 * p), inv))
                                        : _mm_setzero_si128();
            }
            store_value_group(r, panel + 16 * j0);
        }
    }
}

// 255 . 2^t for t <= 0: 2^t = 2^n . 2^f with n = round(t), f in [-1/2, 1/2], and 2^f a degree-5
// polynomial (least-squares minimax on that interval, its constant 1 exact, 1.1e-7 relative)
// with 255 folded into the coefficients: 5 fused multiply-adds where the exp this replaced
// took 9 for the same accuracy (largest error 3.7e-5 of a level against 4.4e-5, over 4 million
// scores). The probabilities become 8-bit levels, so the exact exp512 of the float32 kernels
// (no FMA, for bit parity with Swift) would be wasted here.
TGT_Q8A static inline __m512 exp2_times_255(__m512 t) {
    const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(255.0f * 0.001326472731307149f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(255.0f * 0.009671512991189957f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(255.0f * 0.05550733581185341f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(255.0f * 0.24022242426872253f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(255.0f * 0.6931470036506653f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(255.0f));
    return _mm512_scalef_ps(p, n);   // 2^n . p, 0 below the smallest float
}

// One score row -> bytes round(255 . exp(s - max)) (0..255, the maximum exactly 255) padded
// with zeros to `depth`; returns the bytes' sum (>= 255). exp(s - max) = 2^(s log2 e - max log2 e),
// one fused multiply-subtract per lane.
TGT_Q8A static int32_t softmax_bytes(const float *s, int keys, size_t depth, uint8_t *out) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 16 <= keys; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + j));
    const __mmask16 tail = lane_mask(keys - j);
    if (tail) mx = _mm512_mask_max_ps(mx, tail, mx, _mm512_maskz_loadu_ps(tail, s + j));
    const float log2e = 1.44269504088896341f;
    const __m512 scale = _mm512_set1_ps(log2e), offset = _mm512_set1_ps(_mm512_reduce_max_ps(mx) * log2e);
    __m512i sum = _mm512_setzero_si512();
    for (j = 0; j < keys; j += 16) {
        const __mmask16 live = lane_mask(keys - j);
        const __m512 t = _mm512_min_ps(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(live, s + j), scale, offset), _mm512_setzero_ps());
        const __m512i b = _mm512_cvtps_epi32(exp2_times_255(t));
        sum = _mm512_mask_add_epi32(sum, live, sum, b);
        _mm512_mask_cvtepi32_storeu_epi8(out + j, live, b);
    }
    for (size_t t = (size_t)keys; t < depth; t++) out[t] = 0;
    return _mm512_reduce_add_epi32(sum);
}

TGT_Q8A int bs_q8_attention_avx512vnni(int queries, int keys, int head_dim, const float *q, long q_stride,
                                       const float *k, long k_stride, const float *v, long v_stride, float scale,
                                       float *out, long out_stride, int head_begin, int head_end, void *work) {
    if (head_dim <= 0 || head_dim % 16 != 0 || head_dim > 256 || keys <= 0 || queries < 0) return -1;
    const q8_attention_layout l = layout_for(keys, head_dim);
    const q8_attention_regions w = regions_of(work, &l);
    uint8_t *base = w.base, *p_bytes = w.p_bytes;
    int8_t *q_bytes = w.q_bytes;
    float *q_scales = w.q_scales, *p_scales = w.p_scales, *scores = w.scores;
    int32_t *zeros = w.zeros, *p_zero = w.row_zero;
    // Bytes b = round(255 p) are the unsigned operand as they are: zero point -128 makes the
    // GEMM's (128 + zp) . colsum correction vanish.
    for (int r = 0; r < ROWS; r++) p_zero[r] = -128;
    for (int h = head_begin; h < head_end; h++) {
        const int col = h * head_dim;
        pack_keys(k + col, k_stride, keys, head_dim, &l, base, quantize_key_row512);
        pack_values(v + col, v_stride, keys, head_dim, &l, base);
        for (int q0 = 0; q0 < queries; q0 += ROWS) {
            const int rows = queries - q0 < ROWS ? queries - q0 : ROWS;
            for (int r = 0; r < rows; r++)
                q_scales[r] = scale * quantize_symmetric_row512(q + (long)(q0 + r) * q_stride + col, head_dim, 128,
                                                        q_bytes + (size_t)r * head_dim);
            bs_q8_gemm_avx512vnni(q_bytes, rows, head_dim, (const int8_t *)(base + l.k_bytes), 0, (int)l.key_panels, keys,
                                  (const int32_t *)(base + l.k_sums), q_scales, zeros, (const float *)(base + l.k_scales),
                                  NULL, scores, keys, 0);
            for (int r = 0; r < rows; r++)
                p_scales[r] = 1.0f / (float)softmax_bytes(scores + (size_t)r * keys, keys, l.key_depth,
                                                          p_bytes + (size_t)r * l.key_depth);
            bs_q8_gemm_avx512vnni((const int8_t *)p_bytes, rows, (int)l.key_depth, (const int8_t *)(base + l.v_bytes), 0,
                                  (int)l.dim_panels, head_dim, zeros, p_scales, p_zero, (const float *)(base + l.v_scales),
                                  NULL, out + (long)q0 * out_stride + col, out_stride, 0);
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// AVX2: the same attention on the 7-bit kernel (bs_q8_gemm_avx2_u7, unpaired: keys and
// values are not pair-safe).

#define TGT_Q8A2 __attribute__((target("avx2,fma")))

// round(x . inv) (to nearest even) clamped to [-127, 127].
TGT_Q8A2 static inline __m256i levels127_256(__m256 x, __m256 inv) {
    const __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(x, inv));
    return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-127)), _mm256_set1_epi32(127));
}

// Two vectors of 8 levels (each in int8 range) as 16 bytes, in order.
TGT_Q8A2 static inline __m128i bytes16_256(__m256i lo, __m256i hi) {
    const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);   // packs works per 128-bit lane
    return _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
}

TGT_Q8A2 static inline float reduce_max_abs256(const float *x, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 amax = _mm256_setzero_ps();
    for (int c = 0; c < n; c += 8) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + c)));
    return reduce_max256(amax);
}

// One key row (head_dim a multiple of 16) as symmetric levels; returns its scale.
TGT_Q8A2 static float quantize_key_row256(const float *x, int n, int8_t *out) {
    const float m = reduce_max_abs256(x, n);
    const __m256 inv = _mm256_set1_ps(m > 0 ? 127.0f / m : 0.0f);
    for (int c = 0; c < n; c += 16)
        _mm_storeu_si128((__m128i *)(out + c), bytes16_256(levels127_256(_mm256_loadu_ps(x + c), inv),
                                                           levels127_256(_mm256_loadu_ps(x + c + 8), inv)));
    return m > 0 ? m / 127.0f : 0.0f;
}

// Values of one head as GEMM weights, as pack_values.
TGT_Q8A2 static void pack_values256(const float *v, long v_stride, int keys, int head_dim,
                                    const q8_attention_layout *l, uint8_t *base) {
    int8_t *bytes = (int8_t *)(base + l->v_bytes);
    float *scales = (float *)(base + l->v_scales);
    const size_t depth = l->key_depth;
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps(), levels = _mm256_set1_ps(127.0f);
    for (int p = 0; p < head_dim / 16; p++) {
        __m256 inv[2];
        for (int half = 0; half < 2; half++) {
            const float *column = v + 16 * p + 8 * half;
            // four running maxima: one would be a chain of `keys` dependent instructions
            __m256 m4[4] = {zero, zero, zero, zero};
            for (int j = 0; j < keys; j++)
                m4[j & 3] = _mm256_max_ps(m4[j & 3], _mm256_andnot_ps(sign, _mm256_loadu_ps(column + (long)j * v_stride)));
            const __m256 amax = _mm256_max_ps(_mm256_max_ps(m4[0], m4[1]), _mm256_max_ps(m4[2], m4[3]));
            const __m256 live = _mm256_cmp_ps(amax, zero, _CMP_GT_OQ);
            _mm256_storeu_ps(scales + 16 * p + 8 * half, _mm256_and_ps(_mm256_div_ps(amax, levels), live));
            inv[half] = _mm256_and_ps(_mm256_div_ps(levels, amax), live);
        }
        int8_t *panel = bytes + (size_t)p * 16 * depth;
        for (size_t j0 = 0; j0 < depth; j0 += 4) {
            __m128i r[4];
            for (int t = 0; t < 4; t++) {
                const size_t j = j0 + (size_t)t;
                const float *row = v + (long)j * v_stride + 16 * p;
                r[t] = j < (size_t)keys ? bytes16_256(levels127_256(_mm256_loadu_ps(row), inv[0]),
                                                      levels127_256(_mm256_loadu_ps(row + 8), inv[1]))
                                        : _mm_setzero_si128();
            }
            store_value_group(r, panel + 16 * j0);
        }
    }
}

// One query row (head_dim a multiple of 16) as 7-bit levels with a zero point, as the int8
// linear layers quantize their activations (Int8Gemm.quantizeRow, range 0...127): the row's
// range widened to include 0, s = (hi - lo) / 127, levels round(x / s) + zero. Returns s (0 for
// a zero row, whose levels are all 0) and sets *zero_out.
TGT_Q8A2 static float quantize_row_u7_256(const float *x, int n, int8_t *out, int32_t *zero_out) {
    __m256 mn = _mm256_setzero_ps(), mx = _mm256_setzero_ps();
    for (int c = 0; c < n; c += 8) {
        const __m256 v = _mm256_loadu_ps(x + c);
        mn = _mm256_min_ps(mn, v);
        mx = _mm256_max_ps(mx, v);
    }
    const float lo = -reduce_max256(_mm256_sub_ps(_mm256_setzero_ps(), mn)), hi = reduce_max256(mx);
    const float s = (hi - lo) / 127.0f;
    const float inv = s > 0 && s < INFINITY ? 1.0f / s : 0.0f;
    const int32_t zero = inv > 0 ? -(int32_t)lrintf(lo * inv) : 0;
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i shift = _mm256_set1_epi32(zero), low = _mm256_setzero_si256(), high = _mm256_set1_epi32(127);
    for (int c = 0; c < n; c += 16) {
        __m256i q0 = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + c), vinv)), shift);
        __m256i q1 = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + c + 8), vinv)), shift);
        q0 = _mm256_min_epi32(_mm256_max_epi32(q0, low), high);
        q1 = _mm256_min_epi32(_mm256_max_epi32(q1, low), high);
        _mm_storeu_si128((__m128i *)(out + c), bytes16_256(q0, q1));
    }
    *zero_out = zero;
    return inv > 0 ? s : 0.0f;
}

// 8 scores (lanes past `live` ignored) -> levels round(127 . exp(s - max)) as int32, 0 in dead lanes.
TGT_Q8A2 static inline __m256i probability_levels(__m256 s, __m256 max, __m256i live) {
    const __m256 x = _mm256_min_ps(_mm256_sub_ps(s, max), _mm256_setzero_ps());
    return _mm256_and_si256(_mm256_cvtps_epi32(_mm256_mul_ps(exp256_nonpositive(x), _mm256_set1_ps(127.0f))), live);
}

// One score row -> bytes round(127 . exp(s - max)) (0..127, the maximum exactly 127) padded
// with zeros to `depth`; returns the bytes' sum (>= 127). 32 scores per step, packed to bytes
// together (one store instead of four).
TGT_Q8A2 static int32_t softmax_bytes127(const float *s, int keys, size_t depth, uint8_t *out) {
    __m256 mx0 = _mm256_set1_ps(-INFINITY), mx1 = mx0;
    int j = 0;
    for (; j + 16 <= keys; j += 16) {
        mx0 = _mm256_max_ps(mx0, _mm256_loadu_ps(s + j));
        mx1 = _mm256_max_ps(mx1, _mm256_loadu_ps(s + j + 8));
    }
    float max_value = reduce_max256(_mm256_max_ps(mx0, mx1));
    for (int t = j; t < keys; t++) max_value = fmaxf(max_value, s[t]);
    const __m256 m = _mm256_set1_ps(max_value);
    const __m256i all = _mm256_set1_epi32(-1);
    __m256i sum = _mm256_setzero_si256();
    for (j = 0; j + 32 <= keys; j += 32) {
        const __m256i b0 = probability_levels(_mm256_loadu_ps(s + j), m, all);
        const __m256i b1 = probability_levels(_mm256_loadu_ps(s + j + 8), m, all);
        const __m256i b2 = probability_levels(_mm256_loadu_ps(s + j + 16), m, all);
        const __m256i b3 = probability_levels(_mm256_loadu_ps(s + j + 24), m, all);
        sum = _mm256_add_epi32(sum, _mm256_add_epi32(_mm256_add_epi32(b0, b1), _mm256_add_epi32(b2, b3)));
        // packs and packus work within 128-bit lanes: dwords 0-3 of b0, b1, b2, b3 then 4-7 of
        // each; the dword permutation puts the bytes back in order.
        const __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(b0, b1), _mm256_packs_epi32(b2, b3));
        _mm256_storeu_si256((__m256i *)(out + j),
                            _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
    for (; j < keys; j += 8) {
        const __m256i live = lane_mask8(keys - j);
        const __m256i b = probability_levels(load_valid256(s + j, keys - j, live), m, live);
        sum = _mm256_add_epi32(sum, b);
        const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
        uint8_t eight[16];
        _mm_storeu_si128((__m128i *)eight, _mm_packus_epi16(words, words));
        memcpy(out + j, eight, (size_t)(keys - j < 8 ? keys - j : 8));
    }
    for (size_t t = (size_t)keys; t < depth; t++) out[t] = 0;
    const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    const __m128i s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    return _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, 1)));
}

TGT_Q8A2 int bs_q8_attention_avx2(int queries, int keys, int head_dim, const float *q, long q_stride, const float *k,
                                  long k_stride, const float *v, long v_stride, float scale, float *out,
                                  long out_stride, int head_begin, int head_end, void *work) {
    if (head_dim <= 0 || head_dim % 16 != 0 || head_dim > 256 || keys <= 0 || queries < 0) return -1;
    const q8_attention_layout l = layout_for(keys, head_dim);
    // zeros: V's column sums and the probability bytes' zero points (the bytes are the levels).
    const q8_attention_regions w = regions_of(work, &l);
    uint8_t *base = w.base, *p_bytes = w.p_bytes;
    int8_t *q_bytes = w.q_bytes;
    float *q_scales = w.q_scales, *p_scales = w.p_scales, *scores = w.scores;
    int32_t *zeros = w.zeros, *q_zero = w.row_zero;
    for (int h = head_begin; h < head_end; h++) {
        const int col = h * head_dim;
        pack_keys(k + col, k_stride, keys, head_dim, &l, base, quantize_key_row256);
        pack_values256(v + col, v_stride, keys, head_dim, &l, base);
        for (int q0 = 0; q0 < queries; q0 += ROWS) {
            const int rows = queries - q0 < ROWS ? queries - q0 : ROWS;
            for (int r = 0; r < rows; r++)
                q_scales[r] = scale * quantize_row_u7_256(q + (long)(q0 + r) * q_stride + col, head_dim,
                                                          q_bytes + (size_t)r * head_dim, q_zero + r);
            bs_q8_gemm_avx2_u7(q_bytes, rows, head_dim, (const int8_t *)(base + l.k_bytes), 0, 0, (int)l.key_panels,
                               keys, (const int32_t *)(base + l.k_sums), q_scales, q_zero,
                               (const float *)(base + l.k_scales), NULL, scores, keys, 0);
            for (int r = 0; r < rows; r++)
                p_scales[r] = 1.0f / (float)softmax_bytes127(scores + (size_t)r * keys, keys, l.key_depth,
                                                             p_bytes + (size_t)r * l.key_depth);
            bs_q8_gemm_avx2_u7((const int8_t *)p_bytes, rows, (int)l.key_depth, (const int8_t *)(base + l.v_bytes), 0,
                               0, (int)l.dim_panels, head_dim, zeros, p_scales, zeros,
                               (const float *)(base + l.v_scales), NULL, out + (long)q0 * out_stride + col, out_stride,
                               0);
        }
    }
    return 0;
}
#else
int bs_q8_attention_avx512vnni(int queries, int keys, int head_dim, const float *q, long q_stride,
                               const float *k, long k_stride, const float *v, long v_stride, float scale,
                               float *out, long out_stride, int head_begin, int head_end, void *work) {
    (void)queries; (void)keys; (void)head_dim; (void)q; (void)q_stride; (void)k; (void)k_stride; (void)v;
    (void)v_stride; (void)scale; (void)out; (void)out_stride; (void)head_begin; (void)head_end; (void)work;
    return -1;
}
int bs_q8_attention_avx2(int queries, int keys, int head_dim, const float *q, long q_stride, const float *k,
                         long k_stride, const float *v, long v_stride, float scale, float *out, long out_stride,
                         int head_begin, int head_end, void *work) {
    return bs_q8_attention_avx512vnni(queries, keys, head_dim, q, q_stride, k, k_stride, v, v_stride, scale, out,
                                      out_stride, head_begin, head_end, work);
}
#endif
