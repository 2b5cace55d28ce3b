#include "cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static int cpu_init_done;
static void cpu_init(void) {
    if (!cpu_init_done) { __builtin_cpu_init(); cpu_init_done = 1; }
}
int bs_cpu_has_avx2_fma(void) {
    cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
int bs_cpu_has_avx512(void) {
    cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}
int bs_cpu_has_avx512_vnni(void) {
    cpu_init();
    return bs_cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
}
int bs_cpu_has_avx_vnni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 4) & 1;
}
int bs_cpu_has_amx_int8(void) {
    unsigned a, b, c, d;
    if (!bs_cpu_has_avx512() || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (d >> 24) & (d >> 25) & 1;   /* AMX-TILE, AMX-INT8 */
}
int bs_cpu_is_amd(void) {
    cpu_init();
    return __builtin_cpu_is("amd");
}
#else
int bs_cpu_has_avx2_fma(void) { return 0; }
int bs_cpu_has_avx512(void) { return 0; }
int bs_cpu_has_avx512_vnni(void) { return 0; }
int bs_cpu_has_avx_vnni(void) { return 0; }
int bs_cpu_has_amx_int8(void) { return 0; }
int bs_cpu_is_amd(void) { return 0; }
#endif
