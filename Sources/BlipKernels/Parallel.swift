import Dispatch

/// Splits independent work across the threads a call may use.
public enum Parallel {
    /// Threads used by libblip's own loops (BLAS has its own pool). Set from the model params.
    nonisolated(unsafe) public static var maxThreads: Int = 1

    /// Calls `body` on disjoint chunks covering 0..<count, in parallel when worthwhile.
    public static func forEachChunk(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let threads = min(maxThreads, max(1, count / max(minChunk, 1)))
        if threads <= 1 { body(0..<count); return }
        let chunk = (count + threads - 1) / threads
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let start = t * chunk
            let end = min(count, start + chunk)
            if start < end { body(start..<end) }
        }
    }
}
