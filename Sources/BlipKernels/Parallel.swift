import CBlipSupport
import Dispatch

/// Splits independent work across the threads a call may use.
///
/// The thread count belongs to the call, not to the process: a model call binds its model's
/// count with `withThreads` for its duration, on its own thread (a task-local value), so two
/// models with different counts used at once from two threads do not interfere, as llama.h and
/// whisper.h promise per call. OpenBLAS runs single-threaded (see `Blas`); large GEMMs are split
/// here with the same count. Worker threads see no binding (1): nested loops run serially
/// instead of oversubscribing the cores.
public enum Parallel {
    @TaskLocal static var boundThreads: Int = 1

    /// Threads the current call may use (1 when nothing is bound).
    public static var maxThreads: Int { boundThreads }

    /// Runs `body` with `threads` (at least 1) as the current call's thread count.
    public static func withThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
        try $boundThreads.withValue(max(1, threads), operation: body)
    }

    /// Calls `body` on disjoint chunks covering 0..<count, in parallel when worthwhile.
    public static func forEachChunk(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let threads = min(maxThreads, max(1, count / max(minChunk, 1)))
        if threads <= 1 { body(0..<count); return }
        let chunk = (count + threads - 1) / threads
        onWorkers(threads) { t in
            let start = t * chunk
            let end = min(count, start + chunk)
            if start < end { body(start..<end) }
        }
    }

    /// Calls `body` on disjoint chunks covering 0..<count, handed to the call's threads as they
    /// become free, in guided sizes: each chunk is 1/(2 · threads) of what is left (at least
    /// `minChunk`; only the last may be smaller). The first chunks are large, so there are few
    /// hand-offs; the last are small, so a thread that runs out of work waits at most for a small
    /// chunk. Equal chunks, about four per thread, left the calling thread waiting for 5-6% of a
    /// ViT-B encode's parallel loops on a shared 2-vCPU Zen 3; guided ones made the encode 4-8%
    /// faster (BENCHMARKS.md, session 32). Which thread runs a chunk varies, so `body`'s results
    /// must not depend on the chunk boundaries.
    public static func forEachPiece(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let minimum = max(minChunk, 1)
        let threads = min(maxThreads, max(1, count / minimum))
        if threads <= 1 { body(0..<count); return }
        var bounds = [0]
        while bounds[bounds.count - 1] < count {
            let start = bounds[bounds.count - 1], remaining = count - start
            bounds.append(start + min(remaining, max(minimum, (remaining + 2 * threads - 1) / (2 * threads))))
        }
        onWorkers(bounds.count - 1, threads: threads) { p in body(bounds[p]..<bounds[p + 1]) }
    }

    /// Runs `body(0..<parts)` in parallel, each part bound to one thread: the part that runs on
    /// the calling thread must not see the call's binding, or its own loops would fan out again.
    /// With `threads` (fewer than `parts`), at most that many threads take the parts.
    ///
    /// On the spinning worker pool of CBlipSupport (thread_pool.c): a decode step runs about
    /// 100 of these loops of 10-100 us each, and waking a sleeping Dispatch worker for every one
    /// made two threads slower than one. Dispatch runs the parts when another call holds the pool.
    public static func onWorkers(_ parts: Int, threads: Int? = nil, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var job = PoolJob(body: body)
            let ran = withUnsafeMutablePointer(to: &job) { pointer in
                bs_pool_run_threads(Int32(parts), Int32(threads ?? parts), { context, part in
                    let job = context!.assumingMemoryBound(to: PoolJob.self)
                    Parallel.$boundThreads.withValue(1) { job.pointee.body(Int(part)) }
                }, pointer) == 0
            }
            if !ran {
                DispatchQueue.concurrentPerform(iterations: parts) { p in
                    $boundThreads.withValue(1) { body(p) }
                }
            }
        }
    }
}

/// What `bs_pool_run` hands each part: the loop body, through a C context pointer.
private struct PoolJob {
    let body: (Int) -> Void
}
