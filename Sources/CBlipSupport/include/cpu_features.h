#ifndef BLIP_SUPPORT_CPU_FEATURES_H
#define BLIP_SUPPORT_CPU_FEATURES_H

/* Run-time CPU feature detection, so one build runs on any x86-64 and picks the widest kernels. */
int bs_cpu_has_avx2_fma(void);
int bs_cpu_has_avx512(void);      /* F, BW, VL, DQ */
int bs_cpu_has_avx512_vnni(void);
int bs_cpu_has_avx_vnni(void);
int bs_cpu_has_amx_int8(void);   /* AMX-TILE + AMX-INT8 and AVX-512 (for the epilogue) */
int bs_cpu_is_amd(void);

#endif
