/* Per-core throughput of the two multiply-accumulate paths libblip has on x86 AVX2, and of
 * both interleaved in one loop: the int8 tile of the AVX2 kernel (4 rows x 16 columns,
 * vpmaddubsw with the sign trick, vpmaddwd, vpaddd) and a 4 x 16 fp32 FMA tile, over a
 * BLIP-base vision MLP shape (576 x 768 activations in 64-row blocks, 768 outputs).
 *
 *     clang -O2 bench/kernel_peak.c -o /tmp/kernel_peak && /tmp/kernel_peak   (gcc -O2 spills the fp32 tile)
 *
 * It answers two questions BENCHMARKS.md relies on: can int8 beat fp32 on this CPU (only if
 * the int8 rate is well above the FMA rate), and can a kernel mix both to use more execution
 * ports (only if "both" takes less time than the two alone summed). On AMD Zen 1 neither holds.
 *
 * A fourth row measures the tile of libblip's kernel for 7-bit activations on pair-safe
 * weights (no sign trick; two vpmaddubsw added in int16 per vpmaddwd, see Int8Matrix): on
 * Zen 1 both multiplies issue on one port, so one widening multiply less per two groups is
 * what makes it faster. */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TGT __attribute__((target("avx2,fma")))

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static inline int32_t load_i32(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

TGT static void tile(const int8_t *a, const float *x, int k, const int8_t *wq, const float *wf,
                     float *out, int use_int8, int use_fp32) {
    __m256i acc[4][2];
    __m256 facc[4][2];
    for (int r = 0; r < 4; r++) {
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
        facc[r][0] = facc[r][1] = _mm256_setzero_ps();
    }
    const __m256i ones = _mm256_set1_epi16(1);
    for (int g = 0; g < k / 4; g++) {
        if (use_int8) {
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(wq + 64 * g));
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wq + 64 * g + 32));
            for (int r = 0; r < 4; r++) {
                const __m256i av = _mm256_set1_epi32(load_i32(a + (long)r * k + 4 * g));
                const __m256i aa = _mm256_sign_epi8(av, av);
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w0, av)), ones));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(aa, _mm256_sign_epi8(w1, av)), ones));
            }
        }
        if (use_fp32) {
            for (int t = 0; t < 4; t++) {
                const int kk = 4 * g + t;
                const __m256 w0 = _mm256_loadu_ps(wf + 16L * kk), w1 = _mm256_loadu_ps(wf + 16L * kk + 8);
                for (int r = 0; r < 4; r++) {
                    const __m256 xb = _mm256_broadcast_ss(x + (long)r * k + kk);
                    facc[r][0] = _mm256_fmadd_ps(xb, w0, facc[r][0]);
                    facc[r][1] = _mm256_fmadd_ps(xb, w1, facc[r][1]);
                }
            }
        }
    }
    for (int r = 0; r < 4; r++)
        for (int h = 0; h < 2; h++)
            out[r * 16 + 8 * h] += _mm256_cvtss_f32(_mm256_add_ps(_mm256_cvtepi32_ps(acc[r][h]), facc[r][h]));
}

/* timing only: the random weights here are not pair-safe, so the sums may wrap */
TGT static void tile_u7_paired(const int8_t *a, int k, const int8_t *wq, float *out) {
    __m256i acc[4][2];
    for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int g = 0; g + 2 <= k / 4; g += 2) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(wq + 64 * g));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wq + 64 * g + 32));
        const __m256i w2 = _mm256_loadu_si256((const __m256i *)(wq + 64 * g + 64));
        const __m256i w3 = _mm256_loadu_si256((const __m256i *)(wq + 64 * g + 96));
        for (int r = 0; r < 4; r++) {
            const __m256i av = _mm256_set1_epi32(load_i32(a + (long)r * k + 4 * g));
            const __m256i bv = _mm256_set1_epi32(load_i32(a + (long)r * k + 4 * g + 4));
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(av, w0), _mm256_maddubs_epi16(bv, w2)), ones));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(av, w1), _mm256_maddubs_epi16(bv, w3)), ones));
        }
    }
    for (int r = 0; r < 4; r++)
        for (int h = 0; h < 2; h++) out[r * 16 + 8 * h] += _mm256_cvtss_f32(_mm256_cvtepi32_ps(acc[r][h]));
}

int main(void) {
    const int m = 576, k = 768, panels = 48, reps = 5;
    int8_t *a = malloc((size_t)m * k), *wq = malloc((size_t)panels * 16 * k);
    float *x = malloc(sizeof(float) * m * k), *wf = malloc(sizeof(float) * panels * 16 * k), out[64] = {0};
    for (long i = 0; i < (long)m * k; i++) { a[i] = (int8_t)(rand() % 255 - 127); x[i] = a[i] * 0.01f; }
    for (long i = 0; i < (long)panels * 16 * k; i++) { wq[i] = (int8_t)(rand() % 255 - 127); wf[i] = wq[i] * 0.01f; }
    const char *names[4] = {"int8 (vpmaddubsw)", "fp32 (FMA)", "both, interleaved", "int8 7-bit, paired"};
    double seconds[4];
    for (int mode = 0; mode < 4; mode++) {
        const double t = now();
        for (int rep = 0; rep < reps; rep++)
            for (int rb = 0; rb < m; rb += 64)          /* 64-row blocks stay in L2, as in the kernel */
            for (int p = 0; p < panels; p++)
                for (int r = rb; r < rb + 64; r += 4)
                    if (mode == 3) tile_u7_paired(a + (long)r * k, k, wq + (long)p * 16 * k, out);
                    else tile(a + (long)r * k, x + (long)r * k, k, wq + (long)p * 16 * k, wf + (long)p * 16 * k, out,
                              mode != 1, mode != 0);
        seconds[mode] = (now() - t) / reps;
        const double macs = (double)m * panels * 16 * k * (mode == 2 ? 2 : 1);
        printf("%-20s %7.1f ms  %5.1f GMAC/s per core\n", names[mode], seconds[mode] * 1e3, macs / seconds[mode] / 1e9);
    }
    printf("both / (int8 + fp32) time: %.2f (1.00 = no overlap, 0.50 = perfect overlap)  [%g]\n",
           seconds[2] / (seconds[0] + seconds[1]), out[0]);
    return 0;
}
