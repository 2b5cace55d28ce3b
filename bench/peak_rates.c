/* This CPU's arithmetic and memory ceilings, with N threads busy at once, as one JSON line:
 * what bench/floors.py turns into the floor of each benchmark row (no engine can be faster
 * than its arithmetic at these rates plus its unavoidable memory reads at this bandwidth).
 *
 *     cc -O2 -pthread bench/peak_rates.c -o /tmp/peak_rates && /tmp/peak_rates 2
 *
 * - fp32_gflops: register-only FMA throughput (AVX-512 where the CPU has it, else AVX2), 2
 *   FLOPs per lane. An upper bound on any sgemm; bench.py also times real sgemm calls.
 * - int8_gmacs: register-only int8 multiply-accumulate throughput of the instruction libblip's
 *   int8 path uses on this CPU: vpdpbusd (AVX-512 VNNI, 4 MACs per 32-bit lane) where present,
 *   else the AVX2 pair vpmaddubsw + vpmaddubsw, vpaddw, vpmaddwd, vpaddd (32 MACs per lane
 *   group, the 7-bit paired tile of Int8Matrix).
 * - read_gbps: streaming read of a 256 MB-per-thread buffer (larger than any L3), best of 5.
 * Each figure is the sum over the threads, all running together, one per CPU (turbo, shared
 * ports and memory channels are what the benchmarks see too). */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ITERATIONS = 20 * 1000 * 1000, ACCUMULATORS = 12 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Each kernel returns the operations it did (FLOPs or MACs) and writes a value derived from
 * its accumulators, so the compiler cannot drop the loop. */
__attribute__((target("avx512f"))) static double fma512(float *sink) {
    __m512 acc[ACCUMULATORS];
    const __m512 a = _mm512_set1_ps(1.0000001f), b = _mm512_set1_ps(0.9999999f);
    for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < ITERATIONS; n++)
#pragma GCC unroll 12
        for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    for (int i = 1; i < ACCUMULATORS; i++) acc[0] = _mm512_add_ps(acc[0], acc[i]);
    *sink = _mm512_reduce_add_ps(acc[0]);
    return 2.0 * 16 * ACCUMULATORS * ITERATIONS;
}

__attribute__((target("avx2,fma"))) static double fma256(float *sink) {
    __m256 acc[ACCUMULATORS];
    const __m256 a = _mm256_set1_ps(1.0000001f), b = _mm256_set1_ps(0.9999999f);
    for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < ITERATIONS; n++)
#pragma GCC unroll 12
        for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    for (int i = 1; i < ACCUMULATORS; i++) acc[0] = _mm256_add_ps(acc[0], acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, acc[0]);
    *sink = lanes[0];
    return 2.0 * 8 * ACCUMULATORS * ITERATIONS;
}

__attribute__((target("avx512f,avx512vnni"))) static double vnni512(float *sink) {
    __m512i acc[ACCUMULATORS];
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(5);
    for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm512_set1_epi32(i);
    for (long n = 0; n < ITERATIONS; n++)
#pragma GCC unroll 12
        for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    for (int i = 1; i < ACCUMULATORS; i++) acc[0] = _mm512_add_epi32(acc[0], acc[i]);
    *sink = (float)_mm512_reduce_add_epi32(acc[0]);
    return 64.0 * ACCUMULATORS * ITERATIONS;
}

__attribute__((target("avx2"))) static double paired256(float *sink) {
    enum { PAIRS = ACCUMULATORS / 2 };
    __m256i acc[PAIRS];
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(5), ones = _mm256_set1_epi16(1);
    for (int i = 0; i < PAIRS; i++) acc[i] = _mm256_set1_epi32(i);
    for (long n = 0; n < ITERATIONS; n++)
#pragma GCC unroll 6
        for (int i = 0; i < PAIRS; i++) {
            /* acc[i] feeds the multiplies too, so each step depends on the last, as in a tile */
            const __m256i x = _mm256_xor_si256(a, acc[i]);
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(
                _mm256_add_epi16(_mm256_maddubs_epi16(x, b), _mm256_maddubs_epi16(a, b)), ones));
        }
    for (int i = 1; i < PAIRS; i++) acc[0] = _mm256_add_epi32(acc[0], acc[i]);
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, acc[0]);
    *sink = (float)lanes[0];
    return 64.0 * PAIRS * ITERATIONS;
}

static double read_stream(float *sink, const float *buffer, size_t count) {
    double best = 0;
    for (int pass = 0; pass < 5; pass++) {
        const double t = now();
        __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(), s3 = _mm_setzero_ps();
        for (size_t i = 0; i + 16 <= count; i += 16) {
            s0 = _mm_add_ps(s0, _mm_load_ps(buffer + i));
            s1 = _mm_add_ps(s1, _mm_load_ps(buffer + i + 4));
            s2 = _mm_add_ps(s2, _mm_load_ps(buffer + i + 8));
            s3 = _mm_add_ps(s3, _mm_load_ps(buffer + i + 12));
        }
        const double seconds = now() - t;
        float lanes[4];
        _mm_storeu_ps(lanes, _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
        *sink += lanes[0];
        const double rate = count * sizeof(float) / seconds;
        if (rate > best) best = rate;
    }
    return best;
}

typedef struct {
    int kind;   /* 0 fp32, 1 int8, 2 memory */
    int cpu;    /* pinned there (-1: not pinned), so no two threads share a core */
    double rate;
    float sink;
    pthread_barrier_t *barrier;
} Job;

static int has_avx512, has_vnni;

static void *run(void *arg) {
    Job *job = arg;
    if (job->cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(job->cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
    if (job->kind == 2) {
        const size_t count = (256u << 20) / sizeof(float);
        float *buffer = aligned_alloc(64, count * sizeof(float));
        if (!buffer) return NULL;
        for (size_t i = 0; i < count; i++) buffer[i] = (float)(i & 7);   /* touch every page first */
        pthread_barrier_wait(job->barrier);
        job->rate = read_stream(&job->sink, buffer, count) / 1e9;
        free(buffer);
        return NULL;
    }
    pthread_barrier_wait(job->barrier);
    const double t = now();
    double ops;
    if (job->kind == 0) ops = has_avx512 ? fma512(&job->sink) : fma256(&job->sink);
    else ops = has_vnni ? vnni512(&job->sink) : paired256(&job->sink);
    job->rate = ops / (now() - t) / 1e9;
    return NULL;
}

static double together(int kind, int threads) {
    pthread_t ids[64];
    Job jobs[64];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    // The i-th CPU this process may use, for thread i: a short kernel ends before the
    // scheduler would move a thread off a shared core, and two threads on one core measure one.
    cpu_set_t allowed;
    int cpus[64], count = 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        for (int c = 0; c < CPU_SETSIZE && count < 64; c++)
            if (CPU_ISSET(c, &allowed)) cpus[count++] = c;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (Job){.kind = kind, .cpu = count >= threads ? cpus[i] : -1, .barrier = &barrier};
        pthread_create(&ids[i], NULL, run, &jobs[i]);
    }
    double total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        total += jobs[i].rate;
    }
    pthread_barrier_destroy(&barrier);
    return total;
}

int main(int argc, char **argv) {
    const int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "usage: peak_rates [threads 1-64]\n");
        return 2;
    }
    __builtin_cpu_init();
    has_avx512 = __builtin_cpu_supports("avx512f");
    has_vnni = has_avx512 && __builtin_cpu_supports("avx512vnni");
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "peak_rates: needs AVX2 and FMA\n");
        return 1;
    }
    const double fp32 = together(0, threads), int8 = together(1, threads), memory = together(2, threads);
    printf("{\"threads\": %d, \"fp32_gflops\": %.1f, \"fp32_kind\": \"%s\", \"int8_gmacs\": %.1f, "
           "\"int8_kind\": \"%s\", \"read_gbps\": %.1f}\n",
           threads, fp32, has_avx512 ? "avx512 fma" : "avx2 fma", int8, has_vnni ? "avx512 vnni" : "avx2 paired",
           memory);
    return 0;
}
