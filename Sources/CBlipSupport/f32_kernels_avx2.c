// The float32 kernels of f32_kernels.c for CPUs with AVX2 and FMA but no AVX-512 (Zen 1-3,
// Haswell to Comet Lake): the GEMM against a weight packed once (same packed layout, so one
// packed copy serves either kernel), blocked attention, GELU and LayerNorm rows.
//
// Also the decode-step kernels (small-batch linear layers, few-query attention over float32
// or int8 keys and values, whose int8 rows are the AVX-512 kernel's bytes); the training
// kernels stay AVX-512 only.
//
// Why not OpenBLAS on these CPUs: its sgemm runs the ViT's shapes at the FMA peak, but it
// repacks the weight and zeroes C on every call and leaves bias, GELU and residual adds to
// separate passes (on Zen 3, 10% of a ViT-B image encode in repacking and zeroing alone), and
// the Swift elementwise loops around it are compiled for baseline x86-64 (SSE2, no FMA).
//
// GEMM: 16 ymm registers hold a 6 x 16 micro-tile (12 accumulators, two weight vectors, one
// broadcast), so each 32-column panel is done as two halves; for each 6-row sliver of A (read
// in place, or packed: see gemm256) both halves run back to back while the sliver is in L1.
#include "f32_kernels.h"
#include <math.h>
// No fused multiply-adds but the written ones: the scalar tails must round as the Swift code
// and the vector lanes do.
#pragma clang fp contract(off)
#include <string.h>
#include "f32_packing.h"

// MR x 16 micro-tile; KC values of k per block (the same as f32_kernels.c, whose work sizes
// this file's calls rely on: a 6-row sliver of 768 values is 18 KB, within L1); QB query rows
// per attention block.
enum { MR = 6, NR = BS_SGEMM_PANEL, KC = 768, QB = 48 };

#if defined(__x86_64__)
#include <immintrin.h>
#include "simd_math256.h"
#define TGT_256 __attribute__((target("avx2,fma")))

// acc[R][2] += A (R x kc) . half panel (kc x 16, at bs with row stride NR), A[i][kk] =
// as[i * si + kk * sk]; the C tile is read and written with row and column limits (cols: the
// valid columns of the half panel, m0, m1: lane masks of its two 8-column halves). first: start
// from the bias (or zero), plus C when accumulating; otherwise from C; last + gelu: GELU before
// the store. R (<= MR) is a constant after inlining. Each output's sum runs over k in the same
// order whatever R is.
TGT_256 static inline __attribute__((always_inline))
void micro_rx16(const int R, int kc, const float *as, long si, long sk, const float *bs, float *c, long ldc, int rows,
                int cols, __m256i m0, __m256i m1, const float *bias, int first, int last, int gelu, int accumulate) {
    __m256 acc[MR][2];
    const __m256 zero = _mm256_setzero_ps();
    const int v0 = cols, v1 = cols - 8;
    if (first) {
        const __m256 b0 = bias ? load_valid256(bias, v0, m0) : zero;
        const __m256 b1 = bias && v1 > 0 ? load_valid256(bias + 8, v1, m1) : zero;
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            if (accumulate && i < rows) {
                acc[i][0] = _mm256_add_ps(load_valid256(c + i * ldc, v0, m0), b0);
                acc[i][1] = v1 > 0 ? _mm256_add_ps(load_valid256(c + i * ldc + 8, v1, m1), b1) : zero;
            } else {
                acc[i][0] = accumulate ? zero : b0;
                acc[i][1] = accumulate ? zero : b1;
            }
        }
    } else {
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            acc[i][0] = i < rows ? load_valid256(c + i * ldc, v0, m0) : zero;
            acc[i][1] = i < rows && v1 > 0 ? load_valid256(c + i * ldc + 8, v1, m1) : zero;
        }
    }
    // One pointer per row, all indexed by kk: no serial chain of address additions (stepping a
    // single pointer down the rows cost one dependent add per row, as long as the FMAs).
    const float *rowp[MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++) rowp[i] = as + i * si;
    for (long kk = 0; kk < kc; kk++) {
        const __m256 w0 = _mm256_loadu_ps(bs), w1 = _mm256_loadu_ps(bs + 8);
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            const __m256 x = _mm256_broadcast_ss(rowp[i] + kk * sk);
            acc[i][0] = _mm256_fmadd_ps(x, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(x, w1, acc[i][1]);
        }
        bs += NR;
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++) {
        if (i < rows) {
            __m256 y0 = acc[i][0], y1 = acc[i][1];
            if (last && gelu) { y0 = gelu256(y0); y1 = gelu256(y1); }
            store_valid256(c + i * ldc, v0, m0, y0);
            if (v1 > 0) store_valid256(c + i * ldc + 8, v1, m1, y1);
        }
    }
}

// One sliver of `rows` (<= MR) rows against one half panel, with the tile height rounded up to
// 2, 4 or 6 so a short last sliver does not pay for six rows.
TGT_256 static inline __attribute__((always_inline))
void sliver_x16(int rows, int kc, const float *as, long si, long sk, const float *bs, float *c, long ldc, int cols,
                __m256i m0, __m256i m1, const float *bias, int first, int last, int gelu, int accumulate) {
    if (rows <= 2)
        micro_rx16(2, kc, as, si, sk, bs, c, ldc, rows, cols, m0, m1, bias, first, last, gelu, accumulate);
    else if (rows <= 4)
        micro_rx16(4, kc, as, si, sk, bs, c, ldc, rows, cols, m0, m1, bias, first, last, gelu, accumulate);
    else
        micro_rx16(MR, kc, as, si, sk, bs, c, ldc, rows, cols, m0, m1, bias, first, last, gelu, accumulate);
}

// C = act(bias + A . W^T) for panels [p0, p1) of a packed W. Whole slivers are read from A in
// place except when A's row stride is a multiple of 4 KB (its rows would share L1 sets: see
// gemm512), and a last partial sliver is always packed, zero-padded, into work.
TGT_256 static void gemm256(int m, int n, int k, const float *a, long lda, const float *packed, const float *bias,
                            float *c, long ldc, int p0, int p1, int flags, float *work) {
    const int gelu = (flags & BS_SGEMM_GELU) != 0, accumulate = (flags & BS_SGEMM_ACCUMULATE) != 0;
    const int aliased = (lda * (long)sizeof(float)) % 4096 == 0;
    const int full = aliased ? 0 : m / MR, rest = m - full * MR;
    for (int k0 = 0; k0 < k; k0 += KC) {
        const int kc = k - k0 < KC ? k - k0 : KC, first = k0 == 0, last = k0 + kc >= k;
        if (rest) pack_a(MR, a + (long)full * MR * lda, lda, rest, k0, kc, work);
        const int slivers = full + (rest + MR - 1) / MR;
        for (int p = p0; p < p1; p++) {
            const int col = p * NR, cols = n - col;
            const int halves = cols > 16 ? 2 : 1;
            __m256i masks[4];
            for (int u = 0; u < 4; u++) masks[u] = lane_mask8(cols - 8 * u);
            const float *panel = packed + (size_t)p * NR * k + (size_t)k0 * NR;
            for (int s = 0; s < slivers; s++) {
                const int in_place = s < full;
                const int rows = in_place ? MR : (rest - (s - full) * MR < MR ? rest - (s - full) * MR : MR);
                const float *as = in_place ? a + (long)s * MR * lda + k0 : work + (size_t)(s - full) * MR * kc;
                const long si = in_place ? lda : 1, sk = in_place ? 1 : MR;
                float *cs = c + (long)s * MR * ldc + col;
                for (int h = 0; h < halves; h++) {
                    const float *pb = bias ? bias + col + 16 * h : NULL;
                    const int half_cols = cols - 16 * h;
                    if (in_place)
                        micro_rx16(MR, kc, as, si, sk, panel + 16 * h, cs + 16 * h, ldc, MR, half_cols, masks[2 * h],
                                   masks[2 * h + 1], pb, first, last, gelu, accumulate);
                    else
                        sliver_x16(rows, kc, as, si, sk, panel + 16 * h, cs + 16 * h, ldc, half_cols, masks[2 * h],
                                   masks[2 * h + 1], pb, first, last, gelu, accumulate);
                }
            }
        }
    }
}

TGT_256 int bs_sgemm_packed_avx2(int m, int n, int k, const float *a, long lda, const float *packed,
                                 const float *bias, float *c, long ldc, int panel_begin, int panel_end,
                                 int flags, float *work) {
    gemm256(m, n, k, a, lda, packed, bias, c, ldc, panel_begin, panel_end, flags, work);
    return 0;
}

// row[j] = softmax(scale . row)[j] over count values, in place (max subtracted first).
TGT_256 static void softmax_row256(float *row, int count, float scale) {
    const __m256 sc = _mm256_set1_ps(scale);
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 8 <= count; j += 8) mx = _mm256_max_ps(mx, _mm256_mul_ps(_mm256_loadu_ps(row + j), sc));
    float max_value = reduce_max256(mx);
    for (int t = j; t < count; t++) max_value = fmaxf(max_value, row[t] * scale);
    if (max_value == -INFINITY) max_value = 0;
    const __m256 m = _mm256_set1_ps(max_value);
    __m256 sum = _mm256_setzero_ps();
    for (j = 0; j + 8 <= count; j += 8) {
        const __m256 e = exp256_nonpositive(_mm256_fmsub_ps(_mm256_loadu_ps(row + j), sc, m));
        _mm256_storeu_ps(row + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    const __m256i tail = lane_mask8(count - j);
    if (j < count) {
        const __m256 x = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_maskload_ps(row + j, tail),
                                          _mm256_castsi256_ps(tail));
        const __m256 e = _mm256_and_ps(exp256_nonpositive(_mm256_fmsub_ps(x, sc, m)), _mm256_castsi256_ps(tail));
        _mm256_maskstore_ps(row + j, tail, e);
        sum = _mm256_add_ps(sum, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / reduce_add256(sum));
    for (j = 0; j + 8 <= count; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
    if (j < count) _mm256_maskstore_ps(row + j, tail, _mm256_mul_ps(_mm256_maskload_ps(row + j, tail), inv));
}

TGT_256 int bs_attention_avx2(int queries, int keys, int head_dim, const float *q, long q_stride,
                              const float *k, long k_stride, const float *v, long v_stride, long kv_head_stride,
                              float scale, float *out, long out_stride, int head_begin, int head_end, float *work) {
    BLOCKED_ATTENTION(gemm256, softmax_row256);
}

// One output column for m (1-4) input rows, the weight row read once front to back (one
// sequential stream: see small_batch_column in f32_kernels.c), U vectors of 8 per step into U
// partial sums per input row (U = 4 for up to two rows, 2 for more, so the sums fit the 16
// registers).
TGT_256 static inline __attribute__((always_inline))
void small_batch_column256(const int m, const int U, const float *x, long ldx, const float *wr, int k, float bias,
                           float *out, long ldo) {
    __m256 acc[4][4];
    for (int r = 0; r < m; r++)
        for (int u = 0; u < U; u++) acc[r][u] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 * U <= k; i += 8 * U)
        for (int u = 0; u < U; u++) {
            const __m256 wv = _mm256_loadu_ps(wr + i + 8 * u);
            for (int r = 0; r < m; r++)
                acc[r][u] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + (long)r * ldx + i + 8 * u), acc[r][u]);
        }
    for (; i < k; i += 8) {
        const __m256i mask = lane_mask8(k - i);
        const __m256 wv = _mm256_maskload_ps(wr + i, mask);
        for (int r = 0; r < m; r++)
            acc[r][0] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(x + (long)r * ldx + i, mask), acc[r][0]);
    }
    for (int r = 0; r < m; r++) {
        __m256 sum = acc[r][0];
        for (int u = 1; u < U; u++) sum = _mm256_add_ps(sum, acc[r][u]);
        out[(long)r * ldo] = reduce_add256(sum) + bias;
    }
}

TGT_256 int bs_small_batch_linear_avx2(int rows, const float *x, long ldx, const float *w, int k, int col_begin,
                                       int col_end, const float *bias, float *out, long ldo) {
    for (int r0 = 0; r0 < rows; r0 += 4) {
        const int m = rows - r0 < 4 ? rows - r0 : 4;
        const float *xr = x + (long)r0 * ldx;
        float *o = out + (long)r0 * ldo;
        for (int j = col_begin; j < col_end; j++) {
            const float *wr = w + (long)j * k, b = bias ? bias[j] : 0.0f;
            switch (m) {   // constant row counts: the partial sums stay in registers
            case 1: small_batch_column256(1, 4, xr, ldx, wr, k, b, o + j, ldo); break;
            case 2: small_batch_column256(2, 4, xr, ldx, wr, k, b, o + j, ldo); break;
            case 3: small_batch_column256(3, 2, xr, ldx, wr, k, b, o + j, ldo); break;
            default: small_batch_column256(4, 2, xr, ldx, wr, k, b, o + j, ldo); break;
            }
        }
    }
    return 0;
}

// How a few-query attention's keys and values are stored: float32, or int8 with one scale per
// head and key (int8 models' image keys and values; whole 8-lane groups only).
enum { KV_F32 = 0, KV_I8 = 1 };

// 8 keys or values from float32 or int8 storage (int8: the levels, unscaled); `valid` of them
// for float32 row tails.
TGT_256 static inline __attribute__((always_inline))
__m256 load_kv256(const void *base, long index, int valid, __m256i m, const int kind) {
    if (kind == KV_I8)
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)base + index))));
    return load_valid256((const float *)base + index, valid, m);
}

// The 8 lanes' sums of a[0..7] as one vector (lane t: the sum of a[t]'s lanes), by three
// rounds of pairwise adds instead of a horizontal reduction per vector.
TGT_256 static inline __attribute__((always_inline)) __m256 transpose_sums256(const __m256 a[8]) {
    const __m256 s01 = _mm256_hadd_ps(a[0], a[1]), s23 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 s45 = _mm256_hadd_ps(a[4], a[5]), s67 = _mm256_hadd_ps(a[6], a[7]);
    const __m256 t0 = _mm256_hadd_ps(s01, s23), t1 = _mm256_hadd_ps(s45, s67);
    return _mm256_add_ps(_mm256_permute2f128_ps(t0, t1, 0x20), _mm256_permute2f128_ps(t0, t1, 0x31));
}

// o[0 .. 8n) = sum over keys of p_j . value row j (columns from `first`; p_j = sc[j], times the
// value's scale for int8), in n accumulators (n <= 8, a constant after inlining).
TGT_256 static inline __attribute__((always_inline))
void value_columns256(const int kind, const int n, const void *v, const float *vs, long first, long kv_stride, int keys,
                      const float *sc, float *o) {
    const __m256i all = _mm256_set1_epi32(-1);
    __m256 acc[8];
    for (int u = 0; u < n; u++) acc[u] = _mm256_setzero_ps();
    for (int jj = 0; jj < keys; jj++) {
        const __m256 p = _mm256_set1_ps(vs ? sc[jj] * vs[jj] : sc[jj]);
        const long row = first + (long)jj * kv_stride;
        for (int u = 0; u < n; u++) acc[u] = _mm256_fmadd_ps(p, load_kv256(v, row + 8 * u, 8, all, kind), acc[u]);
    }
    for (int u = 0; u < n; u++) _mm256_storeu_ps(o + 8 * u, acc[u]);
}

// One query row's scores against `keys` keys of head_dim values from `head` (row stride
// kv_stride; times each key's scale for int8), for head_dim a multiple of 8 (BLIP's 64): eight
// keys at a time, their dot products reduced together (transpose_sums256).
TGT_256 static inline __attribute__((always_inline))
void scores_whole256(const int kind, const float *qr, const void *k, long head, long kv_stride, int keys, int head_dim,
                     const float *ks, float *sc) {
    const __m256i all = _mm256_set1_epi32(-1);
    const int vectors = head_dim / 8;
    int j = 0;
    for (; j + 8 <= keys; j += 8) {
        __m256 acc[8];
        for (int t = 0; t < 8; t++) acc[t] = _mm256_setzero_ps();
        for (int c = 0; c < vectors; c++) {
            const __m256 x = _mm256_loadu_ps(qr + 8 * c);
            for (int t = 0; t < 8; t++)
                acc[t] = _mm256_fmadd_ps(x, load_kv256(k, head + (long)(j + t) * kv_stride + 8 * c, 8, all, kind), acc[t]);
        }
        __m256 sums = transpose_sums256(acc);
        if (ks) sums = _mm256_mul_ps(sums, _mm256_loadu_ps(ks + j));
        _mm256_storeu_ps(sc + j, sums);
    }
    for (; j < keys; j++) {
        __m256 acc = _mm256_setzero_ps();
        for (int c = 0; c < vectors; c++)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 8 * c), load_kv256(k, head + (long)j * kv_stride + 8 * c, 8, all, kind),
                                  acc);
        sc[j] = reduce_add256(acc) * (ks ? ks[j] : 1.0f);
    }
}

// The same for any head_dim (float32 only reaches it: int8 storage needs whole vectors): four
// keys at a time, each reduced on its own, the row tails through lane masks.
TGT_256 static inline __attribute__((always_inline))
void scores_masked256(const int kind, const float *qr, const void *k, long head, long kv_stride, int keys, int head_dim,
                      const float *ks, float *sc) {
    for (int j = 0; j < keys; j += 4) {
        const int live = keys - j < 4 ? keys - j : 4;
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int c = 0; c < head_dim; c += 8) {
            const int valid = head_dim - c;
            const __m256i m = lane_mask8(valid);
            const __m256 x = load_valid256(qr + c, valid, m);
            for (int t = 0; t < live; t++)
                acc[t] = _mm256_fmadd_ps(x, load_kv256(k, head + (long)(j + t) * kv_stride + c, valid, m, kind), acc[t]);
        }
        for (int t = 0; t < live; t++) sc[j + t] = reduce_add256(acc[t]) * (ks ? ks[j + t] : 1.0f);
    }
}

// bs_few_query_attention_avx512 8 lanes wide. With int8 storage a key's scale multiplies its
// score and a value's scale its probability. Head widths of whole vectors (BLIP's 64) reduce
// eight keys' scores together and read each value row once, for up to 64 columns in eight
// accumulators: a decode step's float32 cross-attention over BLIP-base's 42 MB of image keys
// and values took 3.0-5.2 ms with a reduction per key and two passes over the values, and
// 1.75-2.5 ms so (Zen 3, bench/gemm_bench). Other widths take four keys at a time and the
// output 32 columns at a time, with lane masks.
TGT_256 static inline __attribute__((always_inline))
void few_query_attention256(const int kind, int rows, const float *q, long q_stride, const void *k,
                            const float *k_scales, const void *v, const float *v_scales, long kv_stride,
                            long kv_head_stride, int keys, int head_dim, float scale, float *scores, float *out,
                            long out_stride, int head_begin, int head_end) {
    const int whole = head_dim % 8 == 0;
    for (int h = head_begin; h < head_end; h++) {
        const int col = h * head_dim;
        const long head = h * kv_head_stride;
        const float *ks = kind == KV_I8 ? k_scales + (long)h * keys : NULL;
        const float *vs = kind == KV_I8 ? v_scales + (long)h * keys : NULL;
        for (int r = 0; r < rows; r++) {
            const float *qr = q + (long)r * q_stride + col;
            float *sc = scores + ((size_t)h * rows + r) * keys;
            if (whole) scores_whole256(kind, qr, k, head, kv_stride, keys, head_dim, ks, sc);
            else scores_masked256(kind, qr, k, head, kv_stride, keys, head_dim, ks, sc);
            softmax_row256(sc, keys, scale);
            float *o = out + (long)r * out_stride + col;
            if (whole) {
                for (int c0 = 0; c0 < head_dim / 8; c0 += 8) {
                    const int n = head_dim / 8 - c0 < 8 ? head_dim / 8 - c0 : 8;
                    if (n == 8) value_columns256(kind, 8, v, vs, head + 8 * c0, kv_stride, keys, sc, o + 8 * c0);
                    else value_columns256(kind, n, v, vs, head + 8 * c0, kv_stride, keys, sc, o + 8 * c0);
                }
                continue;
            }
            for (int c0 = 0; c0 < head_dim; c0 += 32) {
                __m256i m[4];
                __m256 acc[4];
                for (int u = 0; u < 4; u++) { m[u] = lane_mask8(head_dim - c0 - 8 * u); acc[u] = _mm256_setzero_ps(); }
                const int vectors = head_dim - c0 >= 32 ? 4 : (head_dim - c0 + 7) / 8;
                for (int jj = 0; jj < keys; jj++) {
                    const __m256 p = _mm256_set1_ps(vs ? sc[jj] * vs[jj] : sc[jj]);
                    const long row = head + (long)jj * kv_stride + c0;
                    for (int u = 0; u < vectors; u++)
                        acc[u] = _mm256_fmadd_ps(p, load_kv256(v, row + 8 * u, head_dim - c0 - 8 * u, m[u], kind), acc[u]);
                }
                for (int u = 0; u < vectors; u++) store_valid256(o + c0 + 8 * u, head_dim - c0 - 8 * u, m[u], acc[u]);
            }
        }
    }
}

TGT_256 int bs_few_query_attention_avx2(int rows, const float *q, long q_stride, const float *k, const float *v,
                                        long kv_stride, long kv_head_stride, int keys, int head_dim, float scale,
                                        float *scores, float *out, long out_stride, int head_begin, int head_end) {
    few_query_attention256(KV_F32, rows, q, q_stride, k, NULL, v, NULL, kv_stride, kv_head_stride, keys, head_dim,
                           scale, scores, out, out_stride, head_begin, head_end);
    return 0;
}

TGT_256 int bs_few_query_attention_i8_avx2(int rows, const float *q, long q_stride, const int8_t *k,
                                           const float *k_scales, const int8_t *v, const float *v_scales,
                                           long kv_stride, long kv_head_stride, int keys, int head_dim, float scale,
                                           float *scores, float *out, long out_stride, int head_begin, int head_end) {
    if (head_dim % 16) return -1;
    few_query_attention256(KV_I8, rows, q, q_stride, k, k_scales, v, v_scales, kv_stride, kv_head_stride, keys,
                           head_dim, scale, scores, out, out_stride, head_begin, head_end);
    return 0;
}

// bs_quantize_rows_i8_avx512's levels 8 lanes at a time: the same scale, products and
// rounding (to nearest even), so the same bytes.
TGT_256 int bs_quantize_rows_i8_avx2(const float *x, long rows, int cols, int8_t *out, float *scales) {
    if (cols % 16) return -1;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        __m256 amax = _mm256_setzero_ps();
        for (int c = 0; c < cols; c += 8) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(row + c)));
        const float m = reduce_max256(amax);
        scales[r] = m > 0 ? m / 127.0f : 0.0f;
        const __m256 inv = _mm256_set1_ps(m > 0 ? 127.0f / m : 0.0f);
        for (int c = 0; c < cols; c += 8) {
            __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + c), inv));
            q = _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-127)), _mm256_set1_epi32(127));
            const __m128i q16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            _mm_storel_epi64((__m128i *)(out + r * cols + c), _mm_packs_epi16(q16, q16));
        }
    }
    return 0;
}

TGT_256 int bs_dequantize_rows_i8_avx2(const int8_t *x, const float *scales, long rows, int cols, float *out) {
    if (cols % 16) return -1;
    for (long r = 0; r < rows; r++) {
        const __m256 s = _mm256_set1_ps(scales[r]);
        for (int c = 0; c < cols; c += 8)
            _mm256_storeu_ps(out + r * cols + c, _mm256_mul_ps(s, load_kv256(x, r * cols + c, 8, _mm256_setzero_si256(), KV_I8)));
    }
    return 0;
}

TGT_256 int bs_gelu_avx2(const float *x, float *out, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(out + i, gelu256(_mm256_loadu_ps(x + i)));
    if (i < count) {
        const __m256i tail = lane_mask8((int)(count - i));
        _mm256_maskstore_ps(out + i, tail, gelu256(_mm256_maskload_ps(x + i, tail)));
    }
    return 0;
}

TGT_256 int bs_gelu_backward_avx2(const float *dy, const float *x, float *dx, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(dx + i, gelu_backward256(_mm256_loadu_ps(x + i), _mm256_loadu_ps(dy + i)));
    if (i < count) {
        const __m256i tail = lane_mask8((int)(count - i));
        _mm256_maskstore_ps(dx + i, tail, gelu_backward256(_mm256_maskload_ps(x + i, tail), _mm256_maskload_ps(dy + i, tail)));
    }
    return 0;
}

TGT_256 int bs_layernorm_row_avx2(const float *row, int cols, const float *gamma, const float *beta, float eps,
                                  float *out, float *mean_out, float *rstd_out) {
    // Statistics in double as the Swift kernel keeps them; the output is
    // ((x - mean) * rstd) * gamma + beta in float, its operation order.
    __m256d sum = _mm256_setzero_pd();
    int c = 0;
    for (; c + 4 <= cols; c += 4) sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm_loadu_ps(row + c)));
    __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(sum), _mm256_extractf128_pd(sum, 1));
    double total = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
    for (; c < cols; c++) total += (double)row[c];
    const double mean = total / (double)cols;
    const __m256d md = _mm256_set1_pd(mean);
    __m256d sq = _mm256_setzero_pd();
    for (c = 0; c + 4 <= cols; c += 4) {
        const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + c)), md);
        sq = _mm256_add_pd(sq, _mm256_mul_pd(d, d));
    }
    __m128d q2 = _mm_add_pd(_mm256_castpd256_pd128(sq), _mm256_extractf128_pd(sq, 1));
    double squares = _mm_cvtsd_f64(_mm_add_sd(q2, _mm_unpackhi_pd(q2, q2)));
    for (; c < cols; c++) { const double d = (double)row[c] - mean; squares += d * d; }
    const float rstd = (float)(1.0 / sqrt(squares / (double)cols + (double)eps));
    const float m = (float)mean;
    const __m256 mv = _mm256_set1_ps(m), rv = _mm256_set1_ps(rstd);
    for (c = 0; c + 8 <= cols; c += 8) {
        const __m256 y = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + c), mv), rv),
                                       _mm256_loadu_ps(gamma + c));
        _mm256_storeu_ps(out + c, _mm256_add_ps(y, _mm256_loadu_ps(beta + c)));
    }
    for (; c < cols; c++) out[c] = (row[c] - m) * rstd * gamma[c] + beta[c];
    *mean_out = m;
    *rstd_out = rstd;
    return 0;
}
#else
int bs_sgemm_packed_avx2(int m, int n, int k, const float *a, long lda, const float *packed, const float *bias,
                         float *c, long ldc, int panel_begin, int panel_end, int flags, float *work) {
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)packed; (void)bias; (void)c; (void)ldc;
    (void)panel_begin; (void)panel_end; (void)flags; (void)work;
    return -1;
}
int bs_attention_avx2(int queries, int keys, int head_dim, const float *q, long q_stride, const float *k,
                      long k_stride, const float *v, long v_stride, long kv_head_stride, float scale, float *out,
                      long out_stride, int head_begin, int head_end, float *work) {
    (void)queries; (void)keys; (void)head_dim; (void)q; (void)q_stride; (void)k; (void)k_stride; (void)v;
    (void)v_stride; (void)kv_head_stride; (void)scale; (void)out; (void)out_stride; (void)head_begin;
    (void)head_end; (void)work;
    return -1;
}
int bs_small_batch_linear_avx2(int rows, const float *x, long ldx, const float *w, int k, int col_begin, int col_end,
                               const float *bias, float *out, long ldo) {
    (void)rows; (void)x; (void)ldx; (void)w; (void)k; (void)col_begin; (void)col_end; (void)bias; (void)out; (void)ldo;
    return -1;
}
int bs_few_query_attention_avx2(int rows, const float *q, long q_stride, const float *k, const float *v, long kv_stride,
                                long kv_head_stride, int keys, int head_dim, float scale, float *scores, float *out,
                                long out_stride, int head_begin, int head_end) {
    (void)rows; (void)q; (void)q_stride; (void)k; (void)v; (void)kv_stride; (void)kv_head_stride; (void)keys;
    (void)head_dim; (void)scale; (void)scores; (void)out; (void)out_stride; (void)head_begin; (void)head_end;
    return -1;
}
int bs_few_query_attention_i8_avx2(int rows, const float *q, long q_stride, const int8_t *k, const float *k_scales,
                                   const int8_t *v, const float *v_scales, long kv_stride, long kv_head_stride,
                                   int keys, int head_dim, float scale, float *scores, float *out, long out_stride,
                                   int head_begin, int head_end) {
    (void)rows; (void)q; (void)q_stride; (void)k; (void)k_scales; (void)v; (void)v_scales; (void)kv_stride;
    (void)kv_head_stride; (void)keys; (void)head_dim; (void)scale; (void)scores; (void)out; (void)out_stride;
    (void)head_begin; (void)head_end;
    return -1;
}
int bs_quantize_rows_i8_avx2(const float *x, long rows, int cols, int8_t *out, float *scales) {
    (void)x; (void)rows; (void)cols; (void)out; (void)scales;
    return -1;
}
int bs_dequantize_rows_i8_avx2(const int8_t *x, const float *scales, long rows, int cols, float *out) {
    (void)x; (void)scales; (void)rows; (void)cols; (void)out;
    return -1;
}
int bs_gelu_avx2(const float *x, float *out, long count) {
    (void)x; (void)out; (void)count;
    return -1;
}
int bs_gelu_backward_avx2(const float *dy, const float *x, float *dx, long count) {
    (void)dy; (void)x; (void)dx; (void)count;
    return -1;
}
int bs_layernorm_row_avx2(const float *row, int cols, const float *gamma, const float *beta, float eps, float *out,
                          float *mean_out, float *rstd_out) {
    (void)row; (void)cols; (void)gamma; (void)beta; (void)eps; (void)out; (void)mean_out; (void)rstd_out;
    return -1;
}
#endif
