#ifndef BLIP_THREAD_POOL_H
#define BLIP_THREAD_POOL_H

/* A process-wide pool of worker threads that spin briefly between jobs, for the many short
 * parallel loops of a decode step (about 100 per generated token, each 10-100 us of work).
 * Waking a sleeping thread (Dispatch, a condition variable) costs tens of microseconds, which
 * made a second thread slower than none for decode steps; a worker that is still spinning from
 * the previous loop starts within a microsecond. Workers spin for about 100 us, then sleep.
 *
 * bs_pool_run calls fn(context, part) once for every part in [0, parts): the caller takes parts
 * too, so the call completes even when no worker is free. Parts are handed out one by one, so
 * which thread runs a part varies; callers make parts independent of that. Returns 0 when done,
 * or -1 without calling fn when the pool is busy with another caller's job (the caller then
 * uses another way to run the parts). Workers are started on first use, up to
 * max(parts - 1, 0) of them, at most 63. */
typedef void (*bs_pool_fn)(void *context, int part);
int bs_pool_run(int parts, bs_pool_fn fn, void *context);

/* bs_pool_run on at most `threads` threads (the caller and threads - 1 workers; other workers
 * leave the job alone), for more parts than threads: parts go to whichever thread is free, so
 * a thread slowed by the machine's other load takes fewer of them. */
int bs_pool_run_threads(int parts, int threads, bs_pool_fn fn, void *context);

#endif
