import CBlipSupport
#if canImport(Glibc)
import Glibc
#endif

/// The float32 kernels of CBlipSupport (a GEMM against a weight packed once with bias, GELU and
/// residual adds in its epilogue, blocked attention, GELU and LayerNorm rows), chosen at run
/// time from CPUID like the int8 kernels: one baseline x86-64 build runs everywhere.
///
/// 1. `avx512` — f32_kernels.c (AVX-512 F/BW/VL/DQ CPUs), which also has the training kernels
///    (GELU backward, cross-entropy rows);
/// 2. `avx2` — f32_kernels_avx2.c (AVX2 + FMA: Zen 1–3, Haswell and newer Intel cores), the
///    same GEMM, attention, GELU, LayerNorm and decode-step kernels (small-batch linear layers,
///    few-query attention over float32 or int8 image keys and values) on 8 lanes; the training
///    kernels as `openblas`;
/// 3. `openblas` — OpenBLAS for the products and the Swift loops (baseline x86-64) around them.
public enum Float32Kernels {
    public enum Path: String, Sendable {
        case avx512
        case avx2
        case openblas

        /// True when this CPU runs the path's kernels.
        public var isSupported: Bool {
            #if arch(x86_64)
            switch self {
            case .avx512: return bs_cpu_has_avx512() != 0
            case .avx2: return bs_cpu_has_avx2_fma() != 0
            case .openblas: return true
            }
            #else
            return self == .openblas
            #endif
        }
    }

    /// The path in use: the widest supported one whose kernels pass their self-check, unless
    /// `BLIP_F32_KERNEL=openblas|avx2` asks for a narrower one (tests and benchmarks compare them).
    public static let active: Path = {
        let forced = getenv("BLIP_F32_KERNEL").map { String(cString: $0) }
        if forced == "openblas" { return .openblas }
        if forced != "avx2", Path.avx512.isSupported, selfCheck(.avx512) { return .avx512 }
        if Path.avx2.isSupported, selfCheck(.avx2) { return .avx2 }
        return .openblas
    }()

    /// The AVX-512 kernels are in use (the training kernels exist only there).
    public static var avx512Active: Bool { active == .avx512 }

    /// Weights of many-row layers are packed and multiplied by the C GEMM (AVX-512 or AVX2).
    public static var packedGemmActive: Bool { active != .openblas }

    public static var avx512Supported: Bool { Path.avx512.isSupported }

    /// Runs `path`'s GEMM and attention on odd shapes (edge rows and columns, two k blocks, GELU,
    /// strided heads) against a double-precision reference; true when every element agrees to
    /// float rounding. False for `openblas` and for a path this CPU cannot run.
    public static func selfCheck(_ path: Path) -> Bool {
        guard path != .openblas, path.isSupported else { return false }
        var seed: UInt32 = 2024
        func next() -> Float {
            seed = seed &* 1664525 &+ 1013904223
            return Float(Int32(bitPattern: seed) >> 8) / Float(1 << 23)
        }
        func close(_ x: Float, _ y: Double) -> Bool { abs(Double(x) - y) <= 1e-4 * (1 + abs(y)) }
        for (m, n, k, gelu) in [(13, 37, 45, false), (5, 70, 800, true)] {
            let w = (0..<(n * k)).map { _ in next() }, x = (0..<(m * k)).map { _ in next() }
            let b = (0..<n).map { _ in next() }
            var out = [Float](repeating: .nan, count: m * n)
            let matrix = w.withUnsafeBufferPointer { PackedF32Matrix(packing: $0.baseAddress!, out: n, in: k) }
            x.withUnsafeBufferPointer { xp in
                b.withUnsafeBufferPointer { bp in
                    matrix.multiply(xp.baseAddress!, rows: m, inStride: k, bias: bp.baseAddress!, out: &out,
                                    outStride: n, gelu: gelu, path: path)
                }
            }
            for r in 0..<m {
                for c in 0..<n {
                    var s = Double(b[c])
                    for i in 0..<k { s += Double(x[r * k + i]) * Double(w[c * k + i]) }
                    if gelu { s = s * 0.5 * (1 + erf(s / 2.0.squareRoot())) }
                    if !close(out[r * n + c], s) { return false }
                }
            }
        }
        // attention: 2 heads of 40 columns read from a fused [q | k | v] row of 3 · 80 floats
        let (queries, keys, hd, heads) = (50, 61, 40, 2)
        let width = heads * hd, stride = 3 * width
        let qkv = (0..<(max(queries, keys) * stride)).map { _ in next() * 4 }
        var out = [Float](repeating: .nan, count: queries * width)
        qkv.withUnsafeBufferPointer { p in
            let base = p.baseAddress!
            blockedAttention(shape: AttentionShape(queries: queries, keys: keys, heads: heads, headDim: hd),
                             q: base, qStride: stride, k: base + width, kStride: stride, v: base + 2 * width,
                             vStride: stride, scale: 0.3, out: &out, outStride: width, path: path)
        }
        for h in 0..<heads {
            for i in 0..<queries {
                var s = (0..<keys).map { j in
                    (0..<hd).reduce(0.0) { $0 + Double(qkv[i * stride + h * hd + $1]) * Double(qkv[j * stride + width + h * hd + $1]) } * 0.3
                }
                let mx = s.max()!
                s = s.map { exp($0 - mx) }
                let total = s.reduce(0, +)
                for c in 0..<hd {
                    let y = (0..<keys).reduce(0.0) { $0 + s[$1] / total * Double(qkv[$1 * stride + 2 * width + h * hd + c]) }
                    if !close(out[i * width + h * hd + c], y) { return false }
                }
            }
        }
        return true
    }
}

/// A float32 weight matrix W [out × in] packed once for the GEMM of CBlipSupport/f32_kernels.c
/// (AVX-512) or f32_kernels_avx2.c (AVX2; same layout), which computes act(x · Wᵀ + b) in one
/// pass over the output.
///
/// Why: OpenBLAS repacks the weight on every call and zeroes the output in a separate pass
/// before a third adds the bias; for a ViT-B image encode on Zen 4 that was 12% of the time
/// (perf, BENCHMARKS.md session 7), and on Zen 3 10% went to repacking and zeroing (session 28).
/// The packed kernel also runs the GEMM itself 5–10% faster on Zen 4 (one k block for k ≤ 768,
/// so each output tile is written once).
///
/// Used where many rows meet the same weight (the vision encoder: 577 rows per image); decode
/// steps (one row) stay on OpenBLAS, whose GEMV is faster there.
public final class PackedF32Matrix: @unchecked Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    let panels: Int
    let packed: UnsafeMutablePointer<Float>

    /// Packs `weight` [out × in] (row-major); the source may be released afterwards.
    public init(packing weight: UnsafePointer<Float>, out: Int, in inFeatures: Int) {
        outFeatures = out
        self.inFeatures = inFeatures
        panels = (out + Int(BS_SGEMM_PANEL) - 1) / Int(BS_SGEMM_PANEL)
        packed = .allocate(capacity: max(1, bs_sgemm_packed_floats(Int32(out), Int32(inFeatures))))
        bs_sgemm_pack(weight, Int32(out), Int32(inFeatures), packed)
    }

    deinit { packed.deallocate() }

    /// Floats held (the packed copy, panels padded to 32 rows).
    public var floatCount: Int { bs_sgemm_packed_floats(Int32(outFeatures), Int32(inFeatures)) }

    /// Rows below which aliased rows are left to the kernels' own packing (a copy is not worth a pass).
    static let paddingRows = 32

    /// Whether rows `stride` floats apart share L1 sets (a multiple of 4 KB), which `multiply`
    /// avoids by copying them to a padded stride first.
    static func aliasedRows(_ stride: Int) -> Bool { (stride * MemoryLayout<Float>.size) % 4096 == 0 }

    /// A row stride for `width`-float rows that `multiply` reads in place: `width`, or 16 floats
    /// more where `width` rows would alias. Buffers an encoder writes for a packed layer to read
    /// (the MLP's hidden rows) use it, so no call pays for the padded copy.
    public static func unaliasedStride(_ width: Int) -> Int { aliasedRows(width) ? width + 16 : width }

    /// out[r, c] = act(bias[c] + Σ_i x[r, i] · W[c, i]) for `rows` rows (strides in floats);
    /// act is exact GELU when `gelu`, else the identity; with `accumulate`, out[r, c] += that
    /// instead (a residual connection, no separate pass). Threads split the output panels;
    /// every element is one thread's whole sum, so results are the same bits for any thread count.
    public func multiply(_ x: UnsafePointer<Float>, rows: Int, inStride: Int, bias: UnsafePointer<Float>?,
                         out: UnsafeMutablePointer<Float>, outStride: Int, gelu: Bool, accumulate: Bool = false,
                         path: Float32Kernels.Path = Float32Kernels.active) {
        let flags = (gelu ? BS_SGEMM_GELU : 0) | (accumulate ? BS_SGEMM_ACCUMULATE : 0)
        guard rows > 0, outFeatures > 0, inFeatures > 0 else { return }
        // Rows whose stride is a multiple of 4 KB share L1 sets, so the kernels would pack every
        // sliver of A in each piece (fc2's input, rows of 3,072 floats, once per piece and k
        // block): copy them once to a padded stride instead. The same bits either way
        // (Float32KernelTests.packedLinearAliasedRowsSameBits).
        if rows >= 2 * Self.paddingRows, Self.aliasedRows(inStride) {
            let padded = Self.unaliasedStride(inStride)
            let copy = UnsafeMutablePointer<Float>.allocate(capacity: rows * padded)
            defer { copy.deallocate() }
            Parallel.forEachChunk(rows, minChunk: Self.paddingRows) { range in
                for r in range { (copy + r * padded).update(from: x + r * inStride, count: inFeatures) }
            }
            multiply(copy, rows: rows, inStride: padded, bias: bias, out: out, outStride: outStride, gelu: gelu,
                     accumulate: accumulate, path: path)
            return
        }
        let perPanel = rows * Int(BS_SGEMM_PANEL) * inFeatures
        // Pieces of panels, handed to threads as they become free: on a shared machine one
        // thread is often slowed, and even halves left the other waiting 7% of a ViT-B encode (Zen 3).
        Parallel.forEachPiece(panels, minChunk: max(1, Blas.parallelMinimumWork / max(1, perPanel))) { range in
            let work = UnsafeMutablePointer<Float>.allocate(capacity: bs_sgemm_work_floats(Int32(rows)))
            defer { work.deallocate() }
            let gemm = path == .avx512 ? bs_sgemm_packed_avx512 : bs_sgemm_packed_avx2
            _ = gemm(Int32(rows), Int32(outFeatures), Int32(inFeatures), x, inStride, packed, bias, out, outStride,
                     Int32(range.lowerBound), Int32(range.upperBound), Int32(flags), work)
        }
    }
}
