import CBlipSupport

/// OpenBLAS, loaded on first use with the widest kernels this CPU supports
/// (see CBlipSupport/blas_loader.c for why it is not simply linked).
public enum Blas {
    /// Loads OpenBLAS if needed. Throws a message when the library cannot be found.
    public static func load() throws(KernelError) {
        var buffer = [CChar](repeating: 0, count: 512)
        if bs_blas_load(&buffer, buffer.count) != 0 {
            throw KernelError(message: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// The OpenBLAS kernel family in use, e.g. "Haswell", "SkylakeX", "Zen".
    public static var coreName: String { String(cString: bs_blas_corename()) }
    /// The core type libblip requested from OpenBLAS ("" if the user's OPENBLAS_CORETYPE was kept).
    public static var requestedCoreType: String { String(cString: bs_blas_requested_coretype()) }

    /// OpenBLAS's thread pool is process-wide.
    public static func setThreads(_ n: Int) { bs_blas_set_threads(Int32(clamping: n)) }
    public static var threads: Int { Int(bs_blas_get_threads()) }

    /// Runs `body` with OpenBLAS limited to one thread (when `condition`), so callers can run
    /// many small GEMMs in parallel on their own threads; restores the previous count.
    public static func withSingleThread<T>(when condition: Bool = true, _ body: () -> T) -> T {
        guard condition else { return body() }
        let previous = threads
        guard previous > 1 else { return body() }
        setThreads(1)
        defer { setThreads(previous) }
        return body()
    }

    /// Row-major C[m×n] = alpha · op(A) · op(B) + beta · C.
    @inlinable
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        bs_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                 a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

public struct KernelError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
