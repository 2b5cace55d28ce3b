// float32 GEMM with a pre-packed weight, blocked attention, GELU and LayerNorm rows for AVX-512
// CPUs (see include/f32_kernels.h).
//
// GEMM: for each block of KC values of k, every 32-column weight panel (packed once, at load)
// meets the 12-row slivers of A, read in place (see gemm512 for when they are packed first);
// the 12 x 32 micro-kernel keeps its 24 accumulators in zmm registers, starts them at the bias
// (plus C, for a residual add) and applies GELU after the last k block, so C is written once
// per k block with no separate bias, activation or residual sweep. Attention reuses the same
// micro-kernel against keys and values packed per head.
#include "f32_kernels.h"
#include <math.h>
#include <string.h>
#include "f32_packing.h"

// MR x NR micro-tile; KC values of k per block (768 keeps the ViT-B layers in one block, which
// measured 5-10% faster than 256 or 384 on Zen 4: each output tile is written once); QB query
// rows per attention block (their scores, QB x keys floats, stay in L2).
enum { MR = 12, NR = BS_SGEMM_PANEL, KC = 768, QB = 48 };

size_t bs_sgemm_packed_floats(int n, int k) {
    return (size_t)((n + NR - 1) / NR) * NR * (size_t)k;
}

void bs_sgemm_pack(const float *w, int n, int k, float *packed) {
    pack_rows(w, k, n, k, packed);
}

size_t bs_sgemm_work_floats(int m) {
    /* every sliver of a k block when A's rows alias in L1 (see gemm512), else one partial one */
    return (size_t)((m + MR - 1) / MR) * MR * KC;
}

size_t bs_attention_work_floats(int keys, int head_dim) {
    size_t widest_k = (size_t)(keys > head_dim ? keys : head_dim);
    if (widest_k > KC) widest_k = KC;
    return (size_t)((keys + NR - 1) / NR) * NR * head_dim + (size_t)((head_dim + NR - 1) / NR) * NR * keys
         + (size_t)QB * keys + (size_t)((QB + MR - 1) / MR) * MR * widest_k;   /* slivers: see gemm512 */
}

#if defined(__x86_64__)
#include <immintrin.h>
#define TGT_512 __attribute__((target("avx512f")))
#include "simd_math512.h"

// acc[R][2] += A (R x kc) . panel block (kc x 32), where A[i][kk] = as[i * si + kk * sk]
// (a packed sliver: si = 1, sk = 12; rows of A in place: si = lda, sk = 1); C tile load/store
// with row and column limits. first: start from the bias (or zero) instead of C, plus C when
// accumulating; last + gelu: apply GELU. R (at most MR) is a constant after inlining: the tile's
// height, so a last sliver of a few rows does not pay for twelve (577 = 48 x 12 + 1 rows in the
// ViT-B encoder: the twelve-row tile spent 2% of every product on eleven zero rows). Each
// output's sum runs over k in the same order whatever R is: the same bits.
TGT_512 static inline __attribute__((always_inline))
void micro_rx32(const int R, int kc, const float *as, long si, long sk, const float *bs, float *c, long ldc, int rows,
                __mmask16 m0, __mmask16 m1, const float *bias, int first, int last, int gelu, int accumulate) {
    __m512 acc[MR][2];
    if (first && !accumulate) {
        __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
        __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) { acc[i][0] = b0; acc[i][1] = b1; }
    } else if (first) {
        __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
        __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            if (i < rows) {
                acc[i][0] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c + i * ldc), b0);
                acc[i][1] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + i * ldc + 16), b1);
            } else {
                acc[i][0] = _mm512_setzero_ps(); acc[i][1] = _mm512_setzero_ps();
            }
        }
    } else {
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            if (i < rows) {
                acc[i][0] = _mm512_maskz_loadu_ps(m0, c + i * ldc);
                acc[i][1] = _mm512_maskz_loadu_ps(m1, c + i * ldc + 16);
            } else {
                acc[i][0] = _mm512_setzero_ps(); acc[i][1] = _mm512_setzero_ps();
            }
        }
    }
    for (int kk = 0; kk < kc; kk++) {
        __m512 w0 = _mm512_loadu_ps(bs), w1 = _mm512_loadu_ps(bs + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            __m512 x = _mm512_set1_ps(as[i * si]);
            acc[i][0] = _mm512_fmadd_ps(x, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(x, w1, acc[i][1]);
        }
        as += sk; bs += NR;
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++) {
        if (i < rows) {
            __m512 v0 = acc[i][0], v1 = acc[i][1];
            if (last && gelu) { v0 = gelu512(v0); v1 = gelu512(v1); }
            _mm512_mask_storeu_ps(c + i * ldc, m0, v0);
            _mm512_mask_storeu_ps(c + i * ldc + 16, m1, v1);
        }
    }
}

// C = act(bias + A . W^T) for panels [p0, p1) of a packed W (see bs_sgemm_packed_avx512).
// Whole 12-row slivers are read from A in place (each sliver's kc x 12 values stay in L1/L2
// while the panels stream past), except when A's row stride is a multiple of 4 KB: then the 12
// rows of a sliver fall in the same L1 sets and evict each other, so every sliver of the k block
// is packed into work first (ViT-B's fc2, rows of 3072 floats, one Zen 4 core: 84-87 GFLOP/s
// in place, 94-102 packed; copying the rows to a padded stride instead gave 97-99). A last
// partial sliver is always packed, zero-padded.
TGT_512 static void gemm512(int m, int n, int k, const float *a, long lda, const float *packed, const float *bias,
                            float *c, long ldc, int p0, int p1, int flags, float *work) {
    const int gelu = (flags & BS_SGEMM_GELU) != 0, accumulate = (flags & BS_SGEMM_ACCUMULATE) != 0;
    const int aliased = (lda * (long)sizeof(float)) % 4096 == 0;
    const int full = aliased ? 0 : m / MR, rest = m - full * MR;
    for (int k0 = 0; k0 < k; k0 += KC) {
        const int kc = k - k0 < KC ? k - k0 : KC;
        if (rest) pack_a(MR, a + (long)full * MR * lda, lda, rest, k0, kc, work);
        for (int p = p0; p < p1; p++) {
            int col = p * NR, cols = n - col;
            __mmask16 m0 = lane_mask(cols), m1 = lane_mask(cols - 16);
            const float *panel = packed + (size_t)p * NR * k + (size_t)k0 * NR;
            const float *pb = bias ? bias + col : NULL;
            for (int s = 0; s < full; s++)
                micro_rx32(MR, kc, a + (long)s * MR * lda + k0, lda, 1, panel, c + (long)s * MR * ldc + col, ldc, MR,
                           m0, m1, pb, k0 == 0, k0 + kc >= k, gelu, accumulate);
            for (int s = 0; s * MR < rest; s++) {
                int rows = rest - s * MR < MR ? rest - s * MR : MR;
                const float *as = work + (size_t)s * MR * kc;
                float *cs = c + (long)(full + s) * MR * ldc + col;
                if (rows <= 4)
                    micro_rx32(4, kc, as, 1, MR, panel, cs, ldc, rows, m0, m1, pb, k0 == 0, k0 + kc >= k, gelu, accumulate);
                else if (rows <= 8)
                    micro_rx32(8, kc, as, 1, MR, panel, cs, ldc, rows, m0, m1, pb, k0 == 0, k0 + kc >= k, gelu, accumulate);
                else
                    micro_rx32(MR, kc, as, 1, MR, panel, cs, ldc, rows, m0, m1, pb, k0 == 0, k0 + kc >= k, gelu, accumulate);
            }
        }
    }
}

TGT_512 int bs_sgemm_packed_avx512(int m, int n, int k, const float *a, long lda, const float *packed,
                                   const float *bias, float *c, long ldc, int panel_begin, int panel_end,
                                   int flags, float *work) {
    gemm512(m, n, k, a, lda, packed, bias, c, ldc, panel_begin, panel_end, flags, work);
    return 0;
}

// row[j] = softmax(scale . row)[j] over count values, in place (max subtracted first).
TGT_512 static void softmax_row512(float *row, int count, float scale) {
    const __m512 sc = _mm512_set1_ps(scale);
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 16 <= count; j += 16) mx = _mm512_max_ps(mx, _mm512_mul_ps(_mm512_loadu_ps(row + j), sc));
    __mmask16 tail = lane_mask(count - j);
    if (tail) mx = _mm512_mask_max_ps(mx, tail, mx, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, row + j), sc));
    float maxValue = _mm512_reduce_max_ps(mx);
    if (maxValue == -INFINITY) maxValue = 0;
    const __m512 m = _mm512_set1_ps(maxValue);
    __m512 sum = _mm512_setzero_ps();
    for (j = 0; j + 16 <= count; j += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_mul_ps(_mm512_loadu_ps(row + j), sc), m));
        _mm512_storeu_ps(row + j, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (tail) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail, row + j), sc), m));
        _mm512_mask_storeu_ps(row + j, tail, e);
        sum = _mm512_mask_add_ps(sum, tail, sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (j = 0; j + 16 <= count; j += 16) _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(row + j), inv));
    if (tail) _mm512_mask_storeu_ps(row + j, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, row + j), inv));
}

TGT_512 int bs_attention_avx512(int queries, int keys, int head_dim, const float *q, long q_stride,
                                const float *k, long k_stride, const float *v, long v_stride, long kv_head_stride,
                                float scale, float *out, long out_stride, int head_begin, int head_end, float *work) {
    BLOCKED_ATTENTION(gemm512, softmax_row512);
}
// One output column for m (1-4, a constant after inlining) input rows: the weight row is
// read once, front to back, 64 floats per step into 4 partial sums per input row. One
// sequential stream is what lets a decode step read its weights at the memory's streaming
// rate: reading 4 weight rows side by side (4 interleaved streams, 3 KB apart) ran at half of
// it on Zen 4 (13 against 27 GB/s on one core).
TGT_512 static inline __attribute__((always_inline))
void small_batch_column(const int m, const float *x, long ldx, const float *wr, int k, float bias, float *out,
                        long ldo) {
    __m512 acc[4][4];
    for (int r = 0; r < m; r++)
        for (int u = 0; u < 4; u++) acc[r][u] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 64 <= k; i += 64)
        for (int u = 0; u < 4; u++) {
            const __m512 wv = _mm512_loadu_ps(wr + i + 16 * u);
            for (int r = 0; r < m; r++)
                acc[r][u] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + (long)r * ldx + i + 16 * u), acc[r][u]);
        }
    for (; i < k; i += 16) {
        const __mmask16 mask = lane_mask(k - i);
        const __m512 wv = _mm512_maskz_loadu_ps(mask, wr + i);
        for (int r = 0; r < m; r++)
            acc[r][0] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mask, x + (long)r * ldx + i), acc[r][0]);
    }
    for (int r = 0; r < m; r++) {
        const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]), _mm512_add_ps(acc[r][2], acc[r][3]));
        out[(long)r * ldo] = _mm512_reduce_add_ps(sum) + bias;
    }
}
TGT_512 int bs_small_batch_linear_avx512(int rows, const float *x, long ldx, const float *w, int k, int col_begin,
                                         int col_end, const float *bias, float *out, long ldo) {
    for (int r0 = 0; r0 < rows; r0 += 4) {
        const int m = rows - r0 < 4 ? rows - r0 : 4;
        const float *xr = x + (long)r0 * ldx;
        float *o = out + (long)r0 * ldo;
        for (int j = col_begin; j < col_end; j++) {
            const float *wr = w + (long)j * k, b = bias ? bias[j] : 0.0f;
            switch (m) {   // constant row counts: the partial sums stay in registers
            case 1: small_batch_column(1, xr, ldx, wr, k, b, o + j, ldo); break;
            case 2: small_batch_column(2, xr, ldx, wr, k, b, o + j, ldo); break;
            case 3: small_batch_column(3, xr, ldx, wr, k, b, o + j, ldo); break;
            default: small_batch_column(4, xr, ldx, wr, k, b, o + j, ldo); break;
            }
        }
    }
    return 0;
}
// How a few-query attention's keys and values are stored: float32, or int8 with one scale per
// head and key (int8 models' image keys and values; whole 16-lane groups only).
enum { KV_F32 = 0, KV_I8 = 1 };

// 16 keys or values from float32 or int8 storage (int8: the levels, unscaled).
TGT_512 static inline __attribute__((always_inline))
__m512 load_kv(const void *base, long index, __mmask16 m, const int kind) {
    if (kind == KV_I8)
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)((const int8_t *)base + index))));
    return _mm512_maskz_loadu_ps(m, (const float *)base + index);
}
// With int8 storage, key j of head h is k_scales[h . keys + j] times its levels (the same for
// values): a key's scale multiplies its score, a value's scale its probability.
TGT_512 static inline __attribute__((always_inline))
void few_query_attention(const int kind, int rows, const float *q, long q_stride, const void *k, const float *k_scales,
                         const void *v, const float *v_scales, long kv_stride, long kv_head_stride, int keys,
                         int head_dim, float scale, float *scores, float *out, long out_stride, int head_begin,
                         int head_end) {
    for (int h = head_begin; h < head_end; h++) {
        const int col = h * head_dim;
        const long head = h * kv_head_stride;
        const float *ks = kind == KV_I8 ? k_scales + (long)h * keys : NULL;
        const float *vs = kind == KV_I8 ? v_scales + (long)h * keys : NULL;
        for (int r = 0; r < rows; r++) {
            const float *qr = q + (long)r * q_stride + col;
            float *sc = scores + ((size_t)h * rows + r) * keys;
            // Four keys at a time: four independent dot products hide the reductions' latency.
            int j = 0;
            for (; j < keys; j += 4) {
                const int live = keys - j < 4 ? keys - j : 4;
                __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
                for (int c = 0; c < head_dim; c += 16) {
                    const __mmask16 m = lane_mask(head_dim - c);
                    const __m512 x = _mm512_maskz_loadu_ps(m, qr + c);
                    for (int t = 0; t < live; t++)
                        acc[t] = _mm512_fmadd_ps(x, load_kv(k, head + (long)(j + t) * kv_stride + c, m, kind), acc[t]);
                }
                for (int t = 0; t < live; t++) sc[j + t] = _mm512_reduce_add_ps(acc[t]) * (ks ? ks[j + t] : 1.0f);
            }
            softmax_row512(sc, keys, scale);
            // The output 64 columns at a time, accumulated in registers across all keys.
            float *o = out + (long)r * out_stride + col;
            for (int c0 = 0; c0 < head_dim; c0 += 64) {
                __mmask16 m[4];
                __m512 acc[4];
                for (int u = 0; u < 4; u++) { m[u] = lane_mask(head_dim - c0 - 16 * u); acc[u] = _mm512_setzero_ps(); }
                for (int jj = 0; jj < keys; jj++) {
                    const __m512 p = _mm512_set1_ps(vs ? sc[jj] * vs[jj] : sc[jj]);
                    const long row = head + (long)jj * kv_stride + c0;
                    for (int u = 0; u < 4; u++)
                        if (m[u]) acc[u] = _mm512_fmadd_ps(p, load_kv(v, row + 16 * u, m[u], kind), acc[u]);
                }
                for (int u = 0; u < 4; u++) _mm512_mask_storeu_ps(o + c0 + 16 * u, m[u], acc[u]);
            }
        }
    }
}
TGT_512 int bs_few_query_attention_avx512(int rows, const float *q, long q_stride, const float *k, const float *v,
                                          long kv_stride, long kv_head_stride, int keys, int head_dim, float scale,
                                          float *scores, float *out, long out_stride, int head_begin, int head_end) {
    few_query_attention(KV_F32, rows, q, q_stride, k, NULL, v, NULL, kv_stride, kv_head_stride, keys, head_dim, scale,
                        scores, out, out_stride, head_begin, head_end);
    return 0;
}
TGT_512 int bs_few_query_attention_i8_avx512(int rows, const float *q, long q_stride, const int8_t *k,
                                             const float *k_scales, const int8_t *v, const float *v_scales,
                                             long kv_stride, long kv_head_stride, int keys, int head_dim, float scale,
                                             float *scores, float *out, long out_stride, int head_begin,
                                             int head_end) {
    if (head_dim % 16) return -1;
    few_query_attention(KV_I8, rows, q, q_stride, k, k_scales, v, v_scales, kv_stride, kv_head_stride, keys, head_dim,
                        scale, scores, out, out_stride, head_begin, head_end);
    return 0;
}
TGT_512 int bs_quantize_rows_i8_avx512(const float *x, long rows, int cols, int8_t *out, float *scales) {
    if (cols % 16) return -1;
    for (long r = 0; r < rows; r++) scales[r] = quantize_symmetric_row512(x + r * cols, cols, 0, out + r * cols);
    return 0;
}
TGT_512 int bs_dequantize_rows_i8_avx512(const int8_t *x, const float *scales, long rows, int cols, float *out) {
    if (cols % 16) return -1;
    for (long r = 0; r < rows; r++) {
        const __m512 s = _mm512_set1_ps(scales[r]);
        for (int c = 0; c < cols; c += 16)
            _mm512_storeu_ps(out + r * cols + c, _mm512_mul_ps(s, load_kv(x, r * cols + c, 0xFFFF, KV_I8)));
    }
    return 0;
}
TGT_512 int bs_gelu_avx512(const float *x, float *out, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) _mm512_storeu_ps(out + i, gelu512(_mm512_loadu_ps(x + i)));
    __mmask16 tail = lane_mask((int)(count - i));
    if (tail) _mm512_mask_storeu_ps(out + i, tail, gelu512(_mm512_maskz_loadu_ps(tail, x + i)));
    return 0;
}
TGT_512 int bs_gelu_backward_avx512(const float *dy, const float *x, float *dx, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16)
        _mm512_storeu_ps(dx + i, gelu_backward512(_mm512_loadu_ps(x + i), _mm512_loadu_ps(dy + i)));
    __mmask16 tail = lane_mask((int)(count - i));
    if (tail)
        _mm512_mask_storeu_ps(dx + i, tail, gelu_backward512(_mm512_maskz_loadu_ps(tail, x + i),
                                                             _mm512_maskz_loadu_ps(tail, dy + i)));
    return 0;
}
// Sum of 16 lanes into a double, per block of at most 64 vectors: float lanes would lose the
// small terms of a 30,000-class row; a double per vector (the Swift loop) costs a reduction
// per 8 values.
#define CE_BLOCK 1024
TGT_512 int bs_cross_entropy_row_avx512(float *x, int classes, int label, float smoothing, float grad_scale,
                                        double *loss) {
    if (classes <= 0 || label < 0 || label >= classes) return -1;
    __m512 mx = _mm512_set1_ps(-INFINITY);
    double sum_x = 0;
    for (int b = 0; b < classes; b += CE_BLOCK) {
        const int end = classes - b < CE_BLOCK ? classes : b + CE_BLOCK;
        __m512 acc = _mm512_setzero_ps();
        for (int j = b; j < end; j += 16) {
            __mmask16 m = lane_mask(end - j);
            __m512 v = _mm512_maskz_loadu_ps(m, x + j);
            mx = _mm512_mask_max_ps(mx, m, mx, v);
            acc = _mm512_add_ps(acc, v);
        }
        sum_x += _mm512_reduce_add_ps(acc);
    }
    const float max_value = _mm512_reduce_max_ps(mx);
    const double target = x[label];
    const __m512 shift = _mm512_set1_ps(max_value);
    double sum_exp = 0;
    for (int b = 0; b < classes; b += CE_BLOCK) {
        const int end = classes - b < CE_BLOCK ? classes : b + CE_BLOCK;
        __m512 acc = _mm512_setzero_ps();
        for (int j = b; j < end; j += 16) {
            __mmask16 m = lane_mask(end - j);
            __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), shift));
            _mm512_mask_storeu_ps(x + j, m, e);
            acc = _mm512_mask_add_ps(acc, m, acc, e);
        }
        sum_exp += _mm512_reduce_add_ps(acc);
    }
    const double log_z = (double)max_value + log(sum_exp);
    *loss = log_z - (double)(1 - smoothing) * target - (double)smoothing / classes * sum_x;
    const __m512 scale_p = _mm512_set1_ps((float)((double)grad_scale / sum_exp));
    const __m512 offset = _mm512_set1_ps(grad_scale * smoothing / (float)classes);
    for (int j = 0; j < classes; j += 16) {
        __mmask16 m = lane_mask(classes - j);
        _mm512_mask_storeu_ps(x + j, m, _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), scale_p), offset));
    }
    x[label] -= grad_scale * (1 - smoothing);
    return 0;
}
TGT_512 int bs_layernorm_row_avx512(const float *row, int cols, const float *gamma, const float *beta, float eps,
                                    float *out, float *mean_out, float *rstd_out) {
    // Statistics in double, as the Swift kernel keeps them (8 lanes of doubles, then the lanes
    // summed); the output is ((x - mean) * rstd) * gamma + beta in float, its operation order.
    __m512d sum = _mm512_setzero_pd();
    int c = 0;
    for (; c + 8 <= cols; c += 8) sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm256_loadu_ps(row + c)));
    double total = _mm512_reduce_add_pd(sum);
    for (; c < cols; c++) total += (double)row[c];
    const double mean = total / (double)cols;
    const __m512d md = _mm512_set1_pd(mean);
    __m512d sq = _mm512_setzero_pd();
    for (c = 0; c + 8 <= cols; c += 8) {
        __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(row + c)), md);
        sq = _mm512_add_pd(sq, _mm512_mul_pd(d, d));
    }
    double squares = _mm512_reduce_add_pd(sq);
    for (; c < cols; c++) { double d = (double)row[c] - mean; squares += d * d; }
    const float rstd = (float)(1.0 / sqrt(squares / (double)cols + (double)eps));
    const float m = (float)mean;
    const __m512 mv = _mm512_set1_ps(m), rv = _mm512_set1_ps(rstd);
    for (c = 0; c + 16 <= cols; c += 16) {
        __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(row + c), mv), rv), _mm512_loadu_ps(gamma + c));
        _mm512_storeu_ps(out + c, _mm512_add_ps(y, _mm512_loadu_ps(beta + c)));
    }
    __mmask16 tail = lane_mask(cols - c);
    if (tail) {
        __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, row + c), mv), rv),
                                 _mm512_maskz_loadu_ps(tail, gamma + c));
        _mm512_mask_storeu_ps(out + c, tail, _mm512_add_ps(y, _mm512_maskz_loadu_ps(tail, beta + c)));
    }
    *mean_out = m;
    *rstd_out = rstd;
    return 0;
}
#else
int bs_sgemm_packed_avx512(int m, int n, int k, const float *a, long lda, const float *packed,
                           const float *bias, float *c, long ldc, int panel_begin, int panel_end,
                           int flags, float *work) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)bias; (void)c; (void)ldc;
    (void)panel_begin; (void)panel_end; (void)flags; (void)work;
    return -1;
}
int bs_attention_avx512(int queries, int keys, int head_dim, const float *q, long q_stride,
                        const float *k, long k_stride, const float *v, long v_stride, long kv_head_stride,
                        float scale, float *out, long out_stride, int head_begin, int head_end, float *work) {
    (void)queries; (void)keys; (void)head_dim; (void)q; (void)q_stride; (void)k; (void)k_stride; (void)v;
    (void)v_stride; (void)kv_head_stride; (void)scale; (void)out; (void)out_stride; (void)head_begin; (void)head_end; (void)work;
    return -1;
}
int bs_small_batch_linear_avx512(int rows, const float *x, long ldx, const float *w, int k, int col_begin,
                                 int col_end, const float *bias, float *out, long ldo) {
    (void)rows; (void)x; (void)ldx; (void)w; (void)k; (void)col_begin; (void)col_end; (void)bias; (void)out; (void)ldo;
    return -1;
}
int bs_few_query_attention_avx512(int rows, const float *q, long q_stride, const float *k, const float *v,
                                  long kv_stride, long kv_head_stride, int keys, int head_dim, float scale,
                                  float *scores, float *out, long out_stride, int head_begin, int head_end) {
    (void)rows; (void)q; (void)q_stride; (void)k; (void)v; (void)kv_stride; (void)kv_head_stride; (void)keys; (void)head_dim; (void)scale;
    (void)scores; (void)out; (void)out_stride; (void)head_begin; (void)head_end;
    return -1;
}
int bs_few_query_attention_i8_avx512(int rows, const float *q, long q_stride, const int8_t *k, const float *k_scales,
                                     const int8_t *v, const float *v_scales, long kv_stride, long kv_head_stride,
                                     int keys, int head_dim, float scale, float *scores, float *out, long out_stride,
                                     int head_begin, int head_end) {
    (void)rows; (void)q; (void)q_stride; (void)k; (void)k_scales; (void)v; (void)v_scales; (void)kv_stride;
    (void)kv_head_stride; (void)keys; (void)head_dim; (void)scale; (void)scores; (void)out; (void)out_stride;
    (void)head_begin; (void)head_end;
    return -1;
}
int bs_quantize_rows_i8_avx512(const float *x, long rows, int cols, int8_t *out, float *scales) {
    (void)x; (void)rows; (void)cols; (void)out; (void)scales;
    return -1;
}
int bs_dequantize_rows_i8_avx512(const int8_t *x, const float *scales, long rows, int cols, float *out) {
    (void)x; (void)scales; (void)rows; (void)cols; (void)out;
    return -1;
}
int bs_gelu_avx512(const float *x, float *out, long count) {
    (void)x; (void)out; (void)count;
    return -1;
}
int bs_gelu_backward_avx512(const float *dy, const float *x, float *dx, long count) {
    (void)dy; (void)x; (void)dx; (void)count;
    return -1;
}
int bs_cross_entropy_row_avx512(float *x, int classes, int label, float smoothing, float grad_scale,
                                double *loss) {
    (void)x; (void)classes; (void)label; (void)smoothing; (void)grad_scale; (void)loss;
    return -1;
}
int bs_layernorm_row_avx512(const float *row, int cols, const float *gamma, const float *beta, float eps,
                            float *out, float *mean_out, float *rstd_out) {
    (void)row; (void)cols; (void)gamma; (void)beta; (void)eps; (void)out; (void)mean_out; (void)rstd_out;
    return -1;
}
#endif
