#ifndef BLIP_SUPPORT_F32_KERNELS_H
#define BLIP_SUPPORT_F32_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/* float32 kernels for AVX-512 CPUs, compiled per function with __attribute__((target(...)))
 * so the baseline x86-64 build carries them; BlipKernels (Swift) calls them only when CPUID
 * reports AVX-512 F (bs_cpu_has_avx512). On other architectures every entry returns -1.
 *
 * Why not OpenBLAS for these GEMMs: a linear layer multiplies the same weight matrix on every
 * call, and OpenBLAS repacks it each time (9% of a ViT-B image encode on Zen 4) and runs a
 * separate pass to zero C (3%) before a third adds the bias. Here the weight is packed once at
 * load time and bias (and GELU) are applied to each output tile while it is in registers. */

/* The weight W [n x k] (row-major, as torch's Linear stores it) is packed in panels of 32 of
 * its rows: panel p holds, for each kk in 0..<k, W[32p + j][kk] for j in 0..<32 (rows past n
 * are zero). */
#define BS_SGEMM_PANEL 32
size_t bs_sgemm_packed_floats(int n, int k);
void bs_sgemm_pack(const float *w, int n, int k, float *packed);

/* Floats of scratch one bs_sgemm_packed call needs for m rows. */
size_t bs_sgemm_work_floats(int m);

/* C[r][col] = act(bias[col] + sum_kk A[r][kk] * W[col][kk]) for r < m and the columns of
 * panels [panel_begin, panel_end) that are < n; with BS_SGEMM_ACCUMULATE in flags, C's old value
 * is added too (C += ..., a residual connection). A is row-major with stride lda, C with stride
 * ldc; bias may be NULL; act is the identity, or exact GELU with BS_SGEMM_GELU (the erf
 * approximation of BlipKernels/VectorMath.swift). work: bs_sgemm_work_floats(m) floats, not
 * shared with another concurrent call. Returns 0, or -1 when not compiled for this machine. */
#define BS_SGEMM_GELU 1
#define BS_SGEMM_ACCUMULATE 2
int bs_sgemm_packed_avx512(int m, int n, int k, const float *a, long lda, const float *packed,
                           const float *bias, float *c, long ldc, int panel_begin, int panel_end,
                           int flags, float *work);

/* Scaled dot-product attention without a mask, for heads [head_begin, head_end):
 * out[i][h d + c] = sum_j softmax_j(scale . Q_h[i] . K_h[j]) V_h[j][c], where Q_h is the head_dim
 * columns of Q starting at h . head_dim, K_h and V_h the head_dim columns starting at
 * h . kv_head_stride (head_dim when heads are column blocks of one row, keys . head_dim when
 * each head's keys are a block of their own), and rows have the given strides. Query rows are done
 * in blocks whose scores stay in cache (no queries x keys matrix). work:
 * bs_attention_work_floats(keys, head_dim) floats, private to the call. Returns 0, or -1 when
 * not compiled for this machine. */
size_t bs_attention_work_floats(int keys, int head_dim);
int bs_attention_avx512(int queries, int keys, int head_dim, const float *q, long q_stride,
                        const float *k, long k_stride, const float *v, long v_stride, long kv_head_stride,
                        float scale, float *out, long out_stride, int head_begin, int head_end, float *work);

/* out[r . ldo + j] = x_r . W_j + bias[j] for rows r < rows (a few: decode steps) and output
 * columns j in [col_begin, col_end) of a row-major W [n x k] (bias may be NULL): each weight
 * row streamed once per 4 input rows, front to back, into 4 partial sums per input row.
 * Returns 0, or -1 when not compiled for this machine. */
int bs_small_batch_linear_avx512(int rows, const float *x, long ldx, const float *w, int k, int col_begin,
                                 int col_end, const float *bias, float *out, long ldo);

/* Attention of a few query rows (decode steps) against keys x head_dim keys and values with
 * row stride kv_stride, head h's starting at h . kv_head_stride (as bs_attention_avx512), for
 * heads [head_begin, head_end): the scores of head h, row r go to
 * scores[(h . rows + r) . keys ...] (softmax of scale . q . k), the output to
 * out[r . out_stride + h . head_dim ...]. Keys four at a time, the output 64 columns at a time
 * in registers. Returns 0, or -1 when not compiled for this machine. */
int bs_few_query_attention_avx512(int rows, const float *q, long q_stride, const float *k, const float *v,
                                  long kv_stride, long kv_head_stride, int keys, int head_dim, float scale,
                                  float *scores, float *out, long out_stride, int head_begin, int head_end);

/* bs_few_query_attention_avx512 over keys and values stored as int8 levels with one scale per
 * head and key (int8 models' image keys and values: a quarter of float32's bytes): key j of
 * head h is k_scales[h . keys + j] times its levels (bs_quantize_rows_i8_avx512), the same for
 * values; head_dim must be a multiple of 16. Returns 0, or -1 (nothing done) when not compiled
 * for this machine or head_dim % 16 != 0. */
int bs_few_query_attention_i8_avx512(int rows, const float *q, long q_stride, const int8_t *k, const float *k_scales,
                                     const int8_t *v, const float *v_scales, long kv_stride, long kv_head_stride,
                                     int keys, int head_dim, float scale, float *scores, float *out, long out_stride,
                                     int head_begin, int head_end);

/* Each of `rows` rows of `cols` floats (a multiple of 16) as symmetric int8 levels
 * round(x / s) in [-127, 127] (ties to even), s = max|x| / 127 (0, all levels 0, for a zero row)
 * into scales[r]; and back: out = s . levels. Return -1 when not compiled for this machine or
 * cols % 16 != 0. */
int bs_quantize_rows_i8_avx512(const float *x, long rows, int cols, int8_t *out, float *scales);
int bs_dequantize_rows_i8_avx512(const int8_t *x, const float *scales, long rows, int cols, float *out);

/* out[i] = exact GELU of x[i] for i < count (out may equal x): the same operations as
 * BlipKernels' Swift gelu, so the same bits. Returns -1 when not compiled for this machine. */
int bs_gelu_avx512(const float *x, float *out, long count);

/* dx[i] = dy[i] . GELU'(x[i]) for i < count, x the pre-activation (dx may equal dy): the same
 * operations as BlipKernels' Swift geluBackward, so the same bits. Returns -1 when not compiled
 * for this machine. */
int bs_gelu_backward_avx512(const float *dy, const float *x, float *dx, long count);

/* One counted row of softmax cross-entropy with label smoothing (BlipKernels' softmaxCrossEntropy):
 * *loss = logZ - (1-s) x[label] - (s/C) sum(x); x is overwritten with grad_scale . (p - s/C), minus
 * grad_scale . (1-s) at the label. Sums in double per block of 1,024 classes, so not the Swift
 * loop's bits (it sums every 8 values in double). Returns -1 when not compiled for this machine
 * or for a label outside [0, classes). */
int bs_cross_entropy_row_avx512(float *x, int classes, int label, float smoothing, float grad_scale, double *loss);

/* One LayerNorm row as BlipKernels' layerNormRow computes it (statistics in double, output in
 * float in the same operation order); the mean and 1/std it used go to mean_out, rstd_out. */
int bs_layernorm_row_avx512(const float *row, int cols, const float *gamma, const float *beta, float eps,
                            float *out, float *mean_out, float *rstd_out);

/* The same kernels for CPUs with AVX2 and FMA but no AVX-512 (f32_kernels_avx2.c; call only when
 * bs_cpu_has_avx2_fma): the same packed weight layout, arguments, work sizes and results (to
 * float rounding: the GEMMs sum in the same order per element, 8 lanes wide instead of 16; GELU
 * is the same bits). Each returns -1 when not compiled for this machine. */
int bs_sgemm_packed_avx2(int m, int n, int k, const float *a, long lda, const float *packed,
                         const float *bias, float *c, long ldc, int panel_begin, int panel_end,
                         int flags, float *work);
int bs_attention_avx2(int queries, int keys, int head_dim, const float *q, long q_stride,
                      const float *k, long k_stride, const float *v, long v_stride, long kv_head_stride,
                      float scale, float *out, long out_stride, int head_begin, int head_end, float *work);
int bs_small_batch_linear_avx2(int rows, const float *x, long ldx, const float *w, int k, int col_begin,
                               int col_end, const float *bias, float *out, long ldo);
int bs_few_query_attention_avx2(int rows, const float *q, long q_stride, const float *k, const float *v,
                                long kv_stride, long kv_head_stride, int keys, int head_dim, float scale,
                                float *scores, float *out, long out_stride, int head_begin, int head_end);
int bs_few_query_attention_i8_avx2(int rows, const float *q, long q_stride, const int8_t *k, const float *k_scales,
                                   const int8_t *v, const float *v_scales, long kv_stride, long kv_head_stride,
                                   int keys, int head_dim, float scale, float *scores, float *out, long out_stride,
                                   int head_begin, int head_end);
int bs_quantize_rows_i8_avx2(const float *x, long rows, int cols, int8_t *out, float *scales);
int bs_dequantize_rows_i8_avx2(const int8_t *x, const float *scales, long rows, int cols, float *out);
int bs_gelu_avx2(const float *x, float *out, long count);
int bs_gelu_backward_avx2(const float *dy, const float *x, float *dx, long count);
int bs_layernorm_row_avx2(const float *row, int cols, const float *gamma, const float *beta, float eps,
                          float *out, float *mean_out, float *rstd_out);

#endif
