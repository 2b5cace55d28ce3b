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

    /// OpenBLAS's thread count is process-wide (0.3.21 has no per-thread setting), so libblip
    /// keeps it at 1 (set once by `load`) and splits large GEMMs over the current call's threads
    /// itself (`Parallel.maxThreads`): each part is an ordinary single-threaded OpenBLAS call
    /// on its own thread, and concurrent calls from different models never change each other's
    /// parallelism.
    public static var threads: Int { Int(bs_blas_get_threads()) }

    /// Multiply-adds each thread's part of a split GEMM must have at least: smaller GEMMs run on
    /// the calling thread alone (a dispatch would cost more than it saves), and no part falls
    /// under OpenBLAS's small-matrix threshold (64³ on SkylakeX), whose kernels round differently.
    public static let parallelMinimumWork = 1 << 20
    /// Parts start at multiples of this many rows or columns, a multiple of every OpenBLAS
    /// micro-tile, so the edge tiles (which sum in another order) are those of the whole GEMM.
    static let splitAlignment = 64

    /// Whether OpenBLAS's result for an element depends only on the element's own row, column
    /// and k-sum, not on the shape of the call it is part of. True for the SkylakeX kernels
    /// (AVX-512: ParallelismTests, on Zen 4 and three Xeons); false for the Haswell / Zen
    /// kernels of AVX2 CPUs, where the same product computed by one call or by two calls on
    /// halves of C differs in the last bits in scattered 16-column groups (Zen 3, session 28),
    /// so `sgemm` splits those into blocks whose shapes do not depend on the thread count.
    static let shapeIndependentResults: Bool = {
        let name = coreName.lowercased()
        return ["skylakex", "cooperlake", "sapphirerapids"].contains { name.hasPrefix($0) }
    }()
    /// Most rows or columns of C per OpenBLAS call where results depend on the call's shape:
    /// each call repacks the other operand, so blocks stay large enough that packing is a few
    /// percent of the call.
    static let fixedBlock = 512

    /// Where results depend on the call's shape: the bounds of the blocks a GEMM's `size` rows
    /// or columns are cut into, which depend on `size` alone (never on the thread count). An
    /// even count of blocks equal to 16 rows or columns, of about `fixedBlock` at most: 2,308 rows
    /// (a finetune batch of 4 images) are six blocks of about 385, three per thread on two
    /// threads. Blocks of a fixed 512 made five there (four of 512 and 260), three against two
    /// on two threads: one thread idled a third of the GEMM, 8% of a finetune step (Zen 3).
    static func fixedBlockBounds(_ size: Int) -> [Int] {
        let count = 2 * ((size + 2 * fixedBlock - 1) / (2 * fixedBlock))
        return (0...count).map { i in i == count ? size : size * i / count / 16 * 16 }
    }

    /// Row-major C[m×n] = alpha · op(A) · op(B) + beta · C, over the current call's threads.
    ///
    /// Each part is a whole OpenBLAS call on its own rows or columns, with every element's
    /// k-sum whole and the edge tiles where they would be anyway: results are the same bits
    /// for any thread count (ParallelismTests). Splitting n (C's columns) gives each thread its
    /// own share of B to pack and repacks A in every thread; splitting m does the reverse, so
    /// the smaller operand is the one repacked. Where OpenBLAS's results depend on the call's
    /// shape (`shapeIndependentResults`), a GEMM worth splitting is always cut into the blocks of
    /// `fixedBlockBounds`, on one thread or several, so the calls are the same whatever the
    /// thread count.
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let splitColumns = n >= m
        let size = splitColumns ? n : m
        let blocks = (size + splitAlignment - 1) / splitAlignment
        let worthSplitting = m * n * k / parallelMinimumWork >= 2
        if !shapeIndependentResults, worthSplitting, size > fixedBlock {
            let bounds = fixedBlockBounds(size)
            Parallel.forEachChunk(bounds.count - 1, minChunk: 1) { range in
                for block in range { part(bounds[block], bounds[block + 1]) }
            }
            return
        }
        let parts = min(Parallel.maxThreads, blocks, m * n * k / parallelMinimumWork)
        guard shapeIndependentResults, parts > 1 else {
            sgemmOnThisThread(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                              b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        Parallel.onWorkers(parts) { p in
            part(blocks * p / parts * splitAlignment, min(size, blocks * (p + 1) / parts * splitAlignment))
        }
        /// C's rows or columns [first, last) by one OpenBLAS call.
        func part(_ first: Int, _ last: Int) {
            guard first < last else { return }
            if splitColumns {
                sgemmOnThisThread(transA: transA, transB: transB, m: m, n: last - first, k: k, alpha: alpha,
                                  a: a, lda: lda, b: transB ? b + first * ldb : b + first, ldb: ldb,
                                  beta: beta, c: c + first, ldc: ldc)
            } else {
                sgemmOnThisThread(transA: transA, transB: transB, m: last - first, n: n, k: k, alpha: alpha,
                                  a: transA ? a + first : a + first * lda, lda: lda, b: b, ldb: ldb,
                                  beta: beta, c: c + first * ldc, ldc: ldc)
            }
        }
    }

    /// One OpenBLAS call on the calling thread.
    @inlinable
    static func sgemmOnThisThread(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        bs_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                 a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

public struct KernelError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
