// int8 GEMM on AMX tiles (Intel Sapphire Rapids and newer; contract in include/q8_kernels.h).
//
// `tdpbusd` multiplies a 16 x 64 tile of unsigned activation bytes by a 64 x 16 tile of signed
// weight bytes into 16 x 16 int32 sums: 16,384 multiply-adds per instruction against 64 for an
// AVX-512 `vpdpbusd`. The weight layout libblip packs for VNNI (panels of 16 columns, groups of
// [16 columns][4 k] bytes) is already AMX's "VNNI layout" for the B operand: 16 consecutive
// groups of a panel are one B tile with a 64-byte row stride, so both kernels share the packed
// matrices and the unsigned activations (q + 128) and compute the same integer sums.
//
// Each call works on 32 x 32 output blocks (4 accumulator tiles, 2 activation tiles, 2 weight
// tiles: all 8 tile registers); a panel pair's weights (32 x kp bytes) stay in L1 while the
// row blocks of A pass. A is first copied into tile order (bs_q8_amx_pack: each 16 x 64 tile
// contiguous, rows past m zero), so every tile load reads 1 KB in sequence and a partial last
// row block needs no special case (against loads straight from rows kp bytes apart, the one
// AMX machine measured showed no difference within its noise).
#include "q8_kernels.h"
#include <string.h>

size_t bs_q8_amx_packed_bytes(int m, int kp) { return (size_t)((m + 31) / 32) * 32 * (size_t)kp; }

// Tile order: row block b (32 rows), depth chunk j (64 bytes), half h (rows 16h ..< 16h + 16)
// is the 1 KB tile at ((b . chunks + j) . 2 + h) . 1024; rows past m are zero.
void bs_q8_amx_pack(const int8_t *a, int m, int kp, int8_t *dst) {
    const int chunks = kp / 64, blocks = (m + 31) / 32;
    for (int b = 0; b < blocks; b++)
        for (int j = 0; j < chunks; j++)
            for (int h = 0; h < 2; h++) {
                int8_t *tile = dst + ((size_t)(b * chunks + j) * 2 + h) * 1024;
                for (int r = 0; r < 16; r++) {
                    const int row = 32 * b + 16 * h + r;
                    if (row < m) memcpy(tile + 64 * r, a + (long)row * kp + 64 * j, 64);
                    else memset(tile + 64 * r, 0, 64);
                }
            }
}

#if defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#include "q8_epilogue.h"
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

// Linux hands out AMX state only to processes that ask for it (arch/x86 XSTATE permission).
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_permitted;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static void amx_request(void) {
    amx_permitted = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

int bs_q8_amx_enable(void) {
    pthread_once(&amx_once, amx_request);
    return amx_permitted;
}

#define TGT_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,amx-tile,amx-int8")))

// The 64-byte tile configuration of `ldtilecfg` (palette 1).
struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
};

// tmm0-3: accumulators (row block 0/1 x panel 0/1); tmm4, tmm5: activations of row blocks 0, 1;
// tmm6, tmm7: weights of panels 0, 1. Every tile is 16 rows of 64 bytes.
TGT_AMX static void configure_tiles(void) {
    struct tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) { cfg.rows[t] = 16; cfg.bytes_per_row[t] = 64; }
    _tile_loadconfig(&cfg);
}

// One 32-row block (its tiles in pack order) against one or two panels: sums[32][32] int32.
TGT_AMX static void block_sums(const int8_t *tiles, int kp, const int8_t *wp, int two_panels, int32_t sums[32][32]) {
    const long panel = 16L * kp;
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    for (int k0 = 0; k0 < kp; k0 += 64, tiles += 2048) {
        _tile_loadd(4, tiles, 64);
        _tile_loadd(5, tiles + 1024, 64);
        _tile_loadd(6, wp + 16L * k0, 64);   /* groups k0/4 ..< k0/4 + 16 of panel 0 */
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(2, 5, 6);
        if (two_panels) {
            _tile_loadd(7, wp + panel + 16L * k0, 64);
            _tile_dpbusd(1, 4, 7);
            _tile_dpbusd(3, 5, 7);
        }
    }
    _tile_stored(0, &sums[0][0], 128);
    _tile_stored(2, &sums[16][0], 128);
    if (two_panels) {
        _tile_stored(1, &sums[0][16], 128);
        _tile_stored(3, &sums[16][16], 128);
    }
}

TGT_AMX int bs_q8_gemm_amx(const int8_t *tiles, int m, int kp, const int8_t *w, int panel_begin, int panel_end,
                           int n, const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw,
                           const float *bias, float *c, long ldc, int flags) {
    if (kp % 64 != 0 || m <= 0 || !amx_permitted) return -1;
    configure_tiles();
    int32_t sums[32][32] __attribute__((aligned(64)));
    const long block_bytes = 32L * kp;
    for (int p = panel_begin; p < panel_end; p += 2) {
        const int two = p + 2 <= panel_end;
        const int col = 16 * p;
        const int8_t *wp = w + (long)col * kp;
        const int valid = n - col;
        const float *b0 = bias ? bias + col : NULL, *b1 = bias ? bias + col + 16 : NULL;
        for (int r0 = 0; r0 < m; r0 += 32) {
            block_sums(tiles + (r0 / 32) * block_bytes, kp, wp, two, sums);
            const int rows = m - r0 < 32 ? m - r0 : 32;
            for (int r = 0; r < rows; r++) {
                float *dst = c + (long)(r0 + r) * ldc + col;
                const int32_t z = zp[r0 + r];
                const float scale = sa[r0 + r];
                q8_store_unsigned(_mm512_load_si512((const void *)sums[r]), colsum + col, z, scale, sw + col, b0, dst,
                                  valid, flags);
                if (two)
                    q8_store_unsigned(_mm512_load_si512((const void *)(sums[r] + 16)), colsum + col + 16, z, scale,
                                      sw + col + 16, b1, dst + 16, valid - 16, flags);
            }
        }
    }
    _tile_release();
    return 0;
}

#else

int bs_q8_amx_enable(void) { return 0; }

int bs_q8_gemm_amx(const int8_t *a, int m, int kp, const int8_t *w, int panel_begin, int panel_end, int n,
                   const int32_t *colsum, const float *sa, const int32_t *zp, const float *sw,
                   const float *bias, float *c, long ldc, int flags) {
    (void)a; (void)flags; (void)m; (void)kp; (void)w; (void)panel_begin; (void)panel_end; (void)n;
    (void)colsum; (void)sa; (void)zp; (void)sw; (void)bias; (void)c; (void)ldc;
    return -1;
}

#endif
