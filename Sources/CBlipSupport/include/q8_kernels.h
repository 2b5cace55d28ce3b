#ifndef BLIP_SUPPORT_Q8_KERNELS_H
#define BLIP_SUPPORT_Q8_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/* x86 int8 GEMM micro-kernels, compiled per function with __attribute__((target(...))) so one
 * baseline x86-64 build carries them all; BlipKernels (Swift) picks one from CPUID at run time
 * and never calls a kernel the CPU lacks. On other architectures every entry returns -1.
 *
 * All kernels compute exactly the same integer sums (no saturation), so results are
 * bit-identical to the portable Swift kernel and to the scalar reference.
 *
 * Operands (see BlipKernels/Int8Matrix.swift for the layout):
 *   a      activations, m rows of kp bytes (kp = K padded to a multiple of 4; padding bytes
 *          are multiplied by zero weights): int8 in [-127, 127] ("signed"), or that value
 *          + 128 as uint8 ("unsigned" kernels)
 *   w      weights, panels of 16 output columns: panel p is kp/4 groups of [16 columns][4 k]
 *          int8 in [-127, 127] (64 bytes per group, padding columns are zero)
 *   colsum per padded column, sum over k of w
 *   sa     activation scale per row; zp activation zero point per row (x ≈ sa · (q - zp));
 *   sw     weight scale per padded column; bias per column or NULL
 *   c      output: c[r * ldc + col] = (sum_k a*w - zp[r] * colsum[col]) * (sa[r] * sw[col]) + bias[col],
 *          for col < n
 * Only panels [panel_begin, panel_end) are computed (threads split the panels).
 * Every x86 kernel takes flags: BS_Q8_ACCUMULATE adds the output's old value (c +=, a
 * residual connection), BS_Q8_GELU then applies exact GELU (the erf approximation of
 * BlipKernels/VectorMath.swift, same bits), in the epilogue, with no separate pass.
 * Returns 0, or -1 when the kernel is not compiled for this architecture. */
int bs_q8_gemm_avx2(const int8_t *a, int m, int kp, const int8_t *w, int panel_begin, int panel_end, int n,
                    const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw, const float *bias,
                    float *c, long ldc, int flags);
/* The AVX2 kernel for 7-bit activations (a in [0, 127]), without the sign trick. paired != 0
 * adds two vpmaddubsw results in int16 before widening, which is exact only for pair-safe
 * weights (Int8Matrix.pairSafe: in each 16-bit lane, the 4 weights of groups g, g + 1 (g even)
 * have positive sum <= 258 and negative sum >= -258); the caller checks that. */
int bs_q8_gemm_avx2_u7(const int8_t *a, int m, int kp, const int8_t *w, int paired, int panel_begin, int panel_end,
                       int n, const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw,
                       const float *bias, float *c, long ldc, int flags);
#define BS_Q8_GELU 1
#define BS_Q8_ACCUMULATE 2
int bs_q8_gemm_avx512vnni(const int8_t *a, int m, int kp, const int8_t *w, int panel_begin, int panel_end, int n,
                          const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw, const float *bias,
                          float *c, long ldc, int flags);

/* AMX tiles (tdpbusd), same weights and sums as the VNNI kernel, for kp a multiple of 64 (the
 * depth of one tile). The unsigned activations are first copied into tile order by
 * bs_q8_amx_pack (bs_q8_amx_packed_bytes(m, kp) bytes), which bs_q8_gemm_amx reads as `tiles`.
 * bs_q8_amx_enable asks Linux for the AMX state (once per process) and returns 1 when granted;
 * until then, or when kp % 64 != 0, bs_q8_gemm_amx does nothing and returns -1. The caller
 * checks CPUID first (bs_cpu_has_amx_int8). */
int bs_q8_amx_enable(void);
size_t bs_q8_amx_packed_bytes(int m, int kp);
void bs_q8_amx_pack(const int8_t *a, int m, int kp, int8_t *dst);
int bs_q8_gemm_amx(const int8_t *tiles, int m, int kp, const int8_t *w, int panel_begin, int panel_end, int n,
                   const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw, const float *bias,
                   float *c, long ldc, int flags);

/* Pair safety (see Int8Matrix): in every 16-bit lane of the paired AVX2 kernel, the four
 * weights of groups g and g + 1 (g even) must have positive part <= limit and negative part
 * <= limit in magnitude. Plain C on every architecture: the quantizer checks each output and
 * loading checks every panel.
 * bs_q8_worst_pair_lane: the largest positive or negative part over one output's lanes, from
 * its 4 . groups levels in input order (the lanes: inputs 4g + 2h, 4g + 2h + 1, 4g + 4 + 2h,
 * 4g + 5 + 2h for even g with g + 1 < groups, h = 0, 1).
 * bs_q8_panel_pair_safe: 1 when each of the packed panel's 16 outputs has no lane over limit.
 * (The quantizer makes weights pair-safe by widening an output's scale:
 * Int8Matrix.quantizePack.) */
int bs_q8_worst_pair_lane(const int8_t *levels, int groups);
int bs_q8_panel_pair_safe(const int8_t *panel, int groups, int limit);

/* Activation levels of one row with AVX-512 (call only when bs_cpu_has_avx512): out[i] =
 * clamp(round_even(x[i] . inv) + zero, qmin, qmax) + offset for i < k, the same bits as
 * BlipKernels' Int8Gemm.quantizeRow computes. Returns -1 when not compiled for this machine. */
int bs_q8_quantize_row_avx512(const float *x, int k, float inv, int32_t zero, int32_t qmin, int32_t qmax,
                              int32_t offset, int8_t *out);

/* min and max of n floats (NaNs are ignored; both 0 for n = 0). In C because Swift's generic
 * pointwiseMin/Max are not vectorised: they were 6% of an int8 caption. */
void bs_minmax_f32(const float *x, long n, float *min_out, float *max_out);
/* Scaled dot-product attention without a mask, for heads [head_begin, head_end), with both
 * products in int8 on the VNNI GEMM (call only when bs_cpu_has_avx512_vnni): out[i][h d + c] ≈
 * sum_j softmax_j(scale . Q_h[i] . K_h[j]) V_h[j][c], as bs_attention_avx512 defines it. Query
 * and key rows are quantized per row (127 levels), V per head column, the unnormalised
 * probabilities exp(s - max) to round(255 p) and normalised by their sum (q8_attention.c).
 * work: bs_q8_attention_work_bytes(keys, head_dim) bytes, private to the call, any alignment.
 * Returns 0, or -1 when not compiled for this machine or head_dim is not a multiple of 16 in
 * 16...256 (the caller then runs the float attention). */
size_t bs_q8_attention_work_bytes(int keys, int head_dim);
int bs_q8_attention_avx512vnni(int queries, int keys, int head_dim, const float *q, long q_stride,
                               const float *k, long k_stride, const float *v, long v_stride, float scale,
                               float *out, long out_stride, int head_begin, int head_end, void *work);
/* The same on AVX2 (call only when bs_cpu_has_avx2_fma) through bs_q8_gemm_avx2_u7: query
 * rows as 7-bit levels with a zero point, the probabilities as round(127 p); keys and values as
 * above. Same work size and return values. */
int bs_q8_attention_avx2(int queries, int keys, int head_dim, const float *q, long q_stride, const float *k,
                         long k_stride, const float *v, long v_stride, float scale, float *out, long out_stride,
                         int head_begin, int head_end, void *work);
#endif
