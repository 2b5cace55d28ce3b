// The spinning worker pool of thread_pool.h.
//
// One job slot, reused. Its fields are written only while no worker holds a reference to it,
// by a seqlock-like protocol on `generation`: odd while the caller writes the fields, even
// once they are published. A worker that sees a new even generation takes a reference, then
// re-reads the generation: if it moved, the caller may be writing, so it lets go and looks
// again; if not, the caller will not write until the reference is dropped (it waits for
// `refs` to reach 0 after making the generation odd). Both sides use sequentially consistent
// operations for that handshake, so one of them always sees the other.
#include "thread_pool.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

enum { MAX_WORKERS = 63, SPIN_NANOSECONDS = 100000 };

static struct {
    atomic_uint generation;    // odd: fields being written
    atomic_int refs;           // workers that may read the fields
    atomic_int next;           // next part to hand out
    atomic_int done;           // parts finished
    atomic_int helpers;        // workers that joined the job
    int helper_limit;          // workers the job may use
    atomic_flag busy;          // a caller owns the slot
    int parts;
    bs_pool_fn fn;
    void *context;
    atomic_int sleepers;
    pthread_mutex_t lock;      // guards workers, started and sleeping
    pthread_cond_t wake;
    int workers;
} pool = {.busy = ATOMIC_FLAG_INIT, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void take_parts(void) {
    const int parts = pool.parts;
    for (int p; (p = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed)) < parts;) {
        pool.fn(pool.context, p);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    }
}

// Waits for a generation other than `seen` that is even; spins first, then sleeps.
static unsigned next_generation(unsigned seen) {
    const long long until = now_ns() + SPIN_NANOSECONDS;
    for (int i = 0;; i++) {
        const unsigned g = atomic_load(&pool.generation);
        if (g != seen && !(g & 1)) return g;
        cpu_relax();
        if ((i & 63) == 63 && now_ns() > until) break;
    }
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add(&pool.sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&pool.generation)) == seen || (g & 1)) pthread_cond_wait(&pool.wake, &pool.lock);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.lock);
    return g;
}

static void *worker(void *unused) {
    (void)unused;
    unsigned seen = atomic_load(&pool.generation);
    if (seen & 1) seen--;   // started while a job is being written: that job counts as new
    for (;;) {
        const unsigned g = next_generation(seen);
        atomic_fetch_add(&pool.refs, 1);
        if (atomic_load(&pool.generation) == g) {
            seen = g;
            if (atomic_fetch_add(&pool.helpers, 1) < pool.helper_limit) take_parts();
        }
        atomic_fetch_sub(&pool.refs, 1);
    }
    return NULL;
}

static void start_workers(int wanted) {
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    pthread_mutex_lock(&pool.lock);
    while (pool.workers < wanted) {
        pthread_t id;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const int failed = pthread_create(&id, &attr, worker, NULL);
        pthread_attr_destroy(&attr);
        if (failed) break;   // fewer workers: the caller takes the remaining parts itself
        pool.workers++;
    }
    pthread_mutex_unlock(&pool.lock);
}

int bs_pool_run(int parts, bs_pool_fn fn, void *context) {
    return bs_pool_run_threads(parts, parts, fn, context);
}

int bs_pool_run_threads(int parts, int threads, bs_pool_fn fn, void *context) {
    if (parts <= 0) return 0;
    if (threads > parts) threads = parts;
    if (threads < 1) threads = 1;
    if (atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) return -1;
    if (threads > 1 && pool.workers < threads - 1) start_workers(threads - 1);
    // Close the slot (odd generation), wait for late workers of the last job to let go, write.
    atomic_fetch_add(&pool.generation, 1);
    while (atomic_load(&pool.refs) != 0) cpu_relax();
    pool.parts = parts;
    pool.fn = fn;
    pool.context = context;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.helpers, 0, memory_order_relaxed);
    pool.helper_limit = threads - 1;
    atomic_fetch_add(&pool.generation, 1);   // published
    if (threads > 1 && atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    take_parts();
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < parts) cpu_relax();
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
    return 0;
}
