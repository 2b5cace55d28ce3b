import Foundation
import Testing
import BlipKernels
import CBlipSupport

/// int8 GEMM kernels against the scalar reference: every kernel this CPU supports must give
/// bit-identical results (they all compute the same integer sums), on odd sizes too.
@Suite struct Int8GemmTests {
    struct Rng {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        mutating func array(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in next() * scale } }
    }

    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (1, 16, 4), (1, 17, 5), (2, 31, 33), (3, 47, 63), (4, 64, 64), (5, 33, 7),
        (7, 100, 130), (13, 48, 96), (65, 40, 77), (70, 130, 200), (1, 300, 768),
        // shapes the AMX kernel takes (16+ rows, depth a multiple of 64): one whole tile, a
        // partial row block, an odd panel count, a partial last panel
        (16, 16, 64), (33, 50, 192), (70, 47, 256), (40, 33, 768),
    ]

    static var kernels: [Int8Kernel] { Int8Kernel.allCases.filter(\.isSupported) }

    /// The activation range comes from min/max; check the vectorised C reduction against a
    /// plain loop at every length around its 8-wide blocks, with the extremes in every
    /// position, and NaNs ignored.
    /// On AVX-512 CPUs the levels loop runs in C, 16 lanes at a time: the same bytes, scale and
    /// zero point as the Swift loop, for every tail length, both ranges, both encodings, rows
    /// at the clamps, constant rows and NaNs.
    @Test(.enabled(if: Int8Gemm.avx512Levels)) func avx512LevelsMatchSwiftLoop() {
        var rng = Rng(state: 3)
        for k in [1, 7, 8, 15, 16, 17, 31, 33, 64, 77, 768] {
            var rows = [rng.array(k, scale: 3), rng.array(k, scale: 3).map { abs($0) + 0.5 },
                        [Float](repeating: 0, count: k), [Float](repeating: -2, count: k)]
            var special = rng.array(k, scale: 1e3)
            special[k / 2] = .nan
            rows.append(special)
            for x in rows {
                for range in [Int8ActivationRange.signed8, .unsigned7] {
                    for unsigned in [false, true] {
                        let padded = (k + 3) / 4 * 4
                        var a = [Int8](repeating: 99, count: padded), b = a
                        var sa: Float = 0, sb: Float = 0, za: Int32 = 0, zb: Int32 = 0
                        Int8Gemm.quantizeRow(x, k: k, out: &a, paddedIn: padded, range: range, unsigned: unsigned,
                                             scale: &sa, zeroPoint: &za, avx512: true)
                        Int8Gemm.quantizeRow(x, k: k, out: &b, paddedIn: padded, range: range, unsigned: unsigned,
                                             scale: &sb, zeroPoint: &zb, avx512: false)
                        #expect(a == b && sa == sb && za == zb, "k=\(k) \(range) unsigned=\(unsigned)")
                    }
                }
            }
        }
    }

    @Test func minimumAndMaximumMatchPlainLoop() {
        var rng = Rng(state: 11)
        for n in 0..<40 {
            let base = rng.array(n, scale: 2)
            for position in 0..<max(n, 1) {
                var x = base
                if n > 0 { x[position] = (position % 2 == 0 ? -1 : 1) * 7.5 }
                if n > 2 { x[(position + 1) % n] = .nan }
                let finite = x.filter { !$0.isNaN }
                var lo: Float = .nan, hi: Float = .nan
                x.withUnsafeBufferPointer { bs_minmax_f32($0.baseAddress, n, &lo, &hi) }
                #expect(lo == (finite.min() ?? 0) && hi == (finite.max() ?? 0), "n \(n) position \(position)")
            }
        }
        var lo: Float = 1, hi: Float = 1
        let nans = [Float](repeating: .nan, count: 9)
        nans.withUnsafeBufferPointer { bs_minmax_f32($0.baseAddress, 9, &lo, &hi) }
        #expect(lo == 0 && hi == 0)
    }

    /// Asymmetric rows: every value is recovered within half a step, levels stay in the
    /// range's bounds, and rows that are all positive (e.g. after GELU) use the full range,
    /// i.e. a step half as large as a symmetric scale's.
    @Test(arguments: [Int8ActivationRange.signed8, .unsigned7])
    func activationRowsQuantizeWithinHalfAStep(range: Int8ActivationRange) {
        var rng = Rng(state: 5)
        let k = 77
        let rows: [[Float]] = [
            rng.array(k, scale: 3),                               // symmetric
            rng.array(k, scale: 1).map { abs($0) + 0.5 },         // all positive
            rng.array(k, scale: 1).map { -abs($0) - 2 },          // all negative
            rng.array(k, scale: 1).map { max($0, -0.17) * 4 },    // GELU-like
            [Float](repeating: 0, count: k),                      // zeros
        ]
        let a = Int8Gemm.Activations(rows: rows.count, paddedIn: Int8Matrix.paddedIn(k))
        defer { a.deallocate() }
        let flat = rows.flatMap { $0 }
        flat.withUnsafeBufferPointer {
            Int8Gemm.quantizeActivations($0.baseAddress!, rows: rows.count, k: k, stride: k, range: range,
                                         unsigned: false, into: a)
        }
        let steps = Float(range.levels.upperBound - range.levels.lowerBound)
        for (r, row) in rows.enumerated() {
            let s = a.scales[r], z = a.zeroPoints[r]
            for i in 0..<k {
                let q = Int32(a.data[r * a.paddedIn + i])
                #expect(range.levels.contains(q), "row \(r) column \(i): level \(q)")
                let back = s * Float(q - z)
                #expect(abs(back - row[i]) <= s * 0.5 + 1e-6, "row \(r) column \(i)")
            }
            let lo = min(row.min()!, 0), hi = max(row.max()!, 0)
            #expect(abs(s - (hi - lo) / steps) <= 1e-6)
            for i in k..<a.paddedIn { #expect(a.data[r * a.paddedIn + i] == 0) }
        }
        #expect(a.scales[1] * steps / 2 <= rows[1].max()! * 0.51)
    }

    /// Every kernel against the reference, for both activation ranges; 7-bit activations run
    /// on pair-safe weights (the paired AVX2 path) and on weights that are not (the unpaired one).
    @Test(arguments: Int8GemmTests.kernels, ["signed8", "unsigned7", "unsigned7-unsafe"])
    func kernelMatchesScalarReference(kernel: Int8Kernel, variant: String) throws {
        var rng = Rng(state: 7)
        for (m, n, k) in Self.shapes {
            let w = rng.array(n * k, scale: 0.2), x = rng.array(m * k, scale: 3), bias = rng.array(n)
            let safe = w.withUnsafeBufferPointer {
                Int8Matrix(quantizing: $0.baseAddress!, out: n, in: k, activations: variant == "signed8" ? .signed8 : .unsigned7)
            }
            let mat = variant == "unsigned7-unsafe" ? Self.unsafeCopy(of: safe) : safe
            if variant == "unsigned7" { #expect(mat.pairSafe) }
            if variant == "unsigned7-unsafe", k >= 6 { #expect(!mat.pairSafe) }
            // strided input and output (as the fused-qkv and KV-cache writes use)
            let inStride = k + 3, outStride = n + 5
            var xs = [Float](repeating: 0, count: m * inStride)
            for r in 0..<m { for i in 0..<k { xs[r * inStride + i] = x[r * k + i] } }
            var got = [Float](repeating: -999, count: m * outStride)
            var ref = [Float](repeating: -999, count: m * outStride)
            Int8Gemm.multiply(xs, rows: m, inStride: inStride, weight: mat, bias: bias, out: &got, outStride: outStride, kernel: kernel)
            Int8Gemm.reference(xs, rows: m, inStride: inStride, weight: mat, bias: bias, out: &ref, outStride: outStride)
            #expect(got == ref, "kernel \(kernel) m=\(m) n=\(n) k=\(k)")
            // and without bias
            Int8Gemm.multiply(xs, rows: m, inStride: inStride, weight: mat, bias: nil, out: &got, outStride: outStride, kernel: kernel)
            Int8Gemm.reference(xs, rows: m, inStride: inStride, weight: mat, bias: nil, out: &ref, outStride: outStride)
            #expect(got == ref, "kernel \(kernel) (no bias) m=\(m) n=\(n) k=\(k)")
            // padding columns of the output are untouched
            for r in 0..<m { for c in n..<outStride { #expect(got[r * outStride + c] == -999) } }
        }
    }

    /// GELU and the residual add, fused into the VNNI and AMX epilogues and separate passes
    /// after the other kernels, give the bits of the plain product followed by those passes.
    @Test(arguments: Int8GemmTests.kernels)
    func geluAndResidualAddMatchSeparatePasses(kernel: Int8Kernel) {
        var rng = Rng(state: 5)
        for (m, n, k) in [(3, 40, 70), (40, 33, 768)] {
            let w = rng.array(n * k, scale: 0.1), x = rng.array(m * k, scale: 2), bias = rng.array(n)
            let old = rng.array(m * n, scale: 4)
            let mat = w.withUnsafeBufferPointer { Int8Matrix(quantizing: $0.baseAddress!, out: n, in: k) }
            var plain = [Float](repeating: 0, count: m * n)
            Int8Gemm.multiply(x, rows: m, inStride: k, weight: mat, bias: bias, out: &plain, outStride: n, kernel: kernel)
            var gelu = [Float](repeating: 0, count: m * n)
            Int8Gemm.multiply(x, rows: m, inStride: k, weight: mat, bias: bias, out: &gelu, outStride: n, kernel: kernel,
                              gelu: true)
            var expected = plain
            geluInPlace(&expected, count: m * n)
            #expect(gelu == expected, "gelu, kernel \(kernel) m=\(m) n=\(n) k=\(k)")
            var sum = old
            Int8Gemm.multiply(x, rows: m, inStride: k, weight: mat, bias: bias, out: &sum, outStride: n, kernel: kernel,
                              accumulate: true)
            #expect(sum == zip(old, plain).map { $0 + $1 }, "residual, kernel \(kernel) m=\(m) n=\(n) k=\(k)")
        }
    }

    /// A LayerNorm applied as the rows are quantized (a pre-norm block's norm and the linear
    /// layer after it, no normalized copy) gives the bits of LayerNorm then the product, on every
    /// kernel, with strided input rows, and with and without GELU.
    @Test(arguments: Int8GemmTests.kernels)
    func layerNormOnTheWayInMatchesSeparatePass(kernel: Int8Kernel) {
        var rng = Rng(state: 11)
        for (m, n, k) in [(1, 40, 70), (3, 33, 768), (40, 50, 96)] {
            let w = rng.array(n * k, scale: 0.1), bias = rng.array(n)
            let gamma = rng.array(k, scale: 2), beta = rng.array(k)
            let inStride = k + 5
            let x = rng.array(m * inStride, scale: 3).enumerated().map { $0.offset % inStride < k ? $0.element + 1.5 : .nan }
            let mat = w.withUnsafeBufferPointer { Int8Matrix(quantizing: $0.baseAddress!, out: n, in: k) }
            var normed = [Float](repeating: 0, count: m * k)
            for r in 0..<m {
                let row = Array(x[(r * inStride)..<(r * inStride + k)])
                var out = [Float](repeating: 0, count: k)
                layerNorm(row, rows: 1, cols: k, gamma: gamma, beta: beta, eps: 1e-5, out: &out)
                normed.replaceSubrange((r * k)..<((r + 1) * k), with: out)
            }
            for gelu in [false, true] {
                var expected = [Float](repeating: 0, count: m * n), got = expected
                Int8Gemm.multiply(normed, rows: m, inStride: k, weight: mat, bias: bias, out: &expected, outStride: n,
                                  kernel: kernel, gelu: gelu)
                gamma.withUnsafeBufferPointer { g in
                    beta.withUnsafeBufferPointer { b in
                        Int8Gemm.multiply(x, rows: m, inStride: inStride, weight: mat, bias: bias, out: &got, outStride: n,
                                          kernel: kernel, gelu: gelu,
                                          normalizing: RowNormalization(gamma: g.baseAddress!, beta: b.baseAddress!, eps: 1e-5))
                    }
                }
                #expect(got == expected, "kernel \(kernel) m=\(m) n=\(n) k=\(k) gelu=\(gelu)")
            }
        }
    }

    /// The matrix with 7-bit activations whose first lane pair (output 0, inputs 0, 1, 4, 5)
    /// is made to exceed the pair limit, so that kernels must not pair its groups.
    static func unsafeCopy(of m: Int8Matrix) -> Int8Matrix {
        let bytes = UnsafeMutablePointer<Int8>.allocate(capacity: m.packedCount)   // lives as long as the test process
        bytes.update(from: m.packed, count: m.packedCount)
        if m.inFeatures >= 6 { for t in [0, 1, 64, 65] { bytes[t] = 127 } }   // never the zero padding
        let scales = (0..<m.outFeatures).map { m.scales[$0] }
        return scales.withUnsafeBufferPointer {
            Int8Matrix(packed: bytes, scales: $0.baseAddress!, out: m.outFeatures, in: m.inFeatures, activations: .unsigned7, owner: nil)
        }
    }

    @Test func quantizedProductIsCloseToFloatProduct() {
        var rng = Rng(state: 11)
        let m = 9, n = 70, k = 300
        let w = rng.array(n * k, scale: 0.05), x = rng.array(m * k)
        let mat = w.withUnsafeBufferPointer { Int8Matrix(quantizing: $0.baseAddress!, out: n, in: k) }
        var got = [Float](repeating: 0, count: m * n)
        Int8Gemm.multiply(x, rows: m, inStride: k, weight: mat, bias: nil, out: &got, outStride: n)
        var err: Double = 0, norm: Double = 0
        for r in 0..<m {
            for o in 0..<n {
                var exact: Double = 0
                for i in 0..<k { exact += Double(x[r * k + i]) * Double(w[o * k + i]) }
                err += (Double(got[r * n + o]) - exact) * (Double(got[r * n + o]) - exact)
                norm += exact * exact
            }
        }
        #expect((err / norm).squareRoot() < 0.02)
    }

    @Test func weightQuantizationRoundTrips() {
        var rng = Rng(state: 3)
        let n = 19, k = 23
        var w = rng.array(n * k)
        w[5] = .nan; w[40] = .infinity    // non-finite weights become 0, never trap
        for i in 0..<k { w[2 * k + i] = 0 } // an all-zero row: scale 0
        let mat = w.withUnsafeBufferPointer { Int8Matrix(quantizing: $0.baseAddress!, out: n, in: k) }
        #expect(mat.scales[2] == 0)
        let back = mat.dequantized()
        for o in 0..<n where o != 0 && o != 1 {
            for i in 0..<k {
                #expect(abs(back[o * k + i] - w[o * k + i]) <= mat.scales[o] * 0.5 + 1e-6)
            }
        }
        #expect(back[5] == 0)
        // column sums match the packed values
        for o in 0..<n {
            var s: Int32 = 0
            for i in 0..<k { s += Int32(mat.quantized(o, i)) }
            #expect(mat.columnSums[o] == s)
        }
    }

    /// The widest kernel this CPU supports is the one in use: on an AVX-512 VNNI CPU a VNNI
    /// kernel that failed its self-check (and was disabled) fails here, loudly, with the reason.
    /// Only BLIP_INT8_KERNEL may choose another, and then the choice is checked instead.
    @Test func widestSupportedKernelIsActive() throws {
        let widest = try #require(Int8Kernel.allCases.first { $0.isSupported })
        if let forced = ProcessInfo.processInfo.environment["BLIP_INT8_KERNEL"], !forced.isEmpty {
            #expect(Int8Kernel.active.rawValue == forced, "\(Int8Kernel.selectionNote)")
        } else {
            #expect(Int8Kernel.active == widest, "widest supported: \(widest.rawValue); \(Int8Kernel.selectionNote)")
            #expect(Int8Kernel.selectionNote.isEmpty, "\(Int8Kernel.selectionNote)")
        }
        for kernel in Int8Kernel.allCases where kernel.isSupported {
            #expect(kernel.selfCheck(), "\(kernel.rawValue) disagrees with the portable kernel")
        }
    }

    @Test func activeKernelPassesSelfCheck() {
        #expect(Int8Kernel.active.isSupported)
        #expect(Int8Kernel.active.selfCheck())
        #expect(Int8Kernel.portable.selfCheck())
    }

    /// Throughput on the model's shapes; runs only with BLIP_BENCH_INT8=1, in a release build:
    /// `BLIP_BENCH_INT8=1 swift test -c release -Xswiftc -enable-testing --filter benchmark`
    /// (2 threads: 7-bit 577×768×3072 ≈ 96 GOP/s, 8-bit ≈ 70 GOP/s on AMD Zen 1).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BLIP_BENCH_INT8"] == "1"))
    func benchmark() {
        Parallel.withThreads(Int(ProcessInfo.processInfo.environment["BLIP_BENCH_THREADS"] ?? "2") ?? 2) { benchmarkShapes() }
    }

    private func benchmarkShapes() {
        var rng = Rng(state: 5)
        for (m, k, n, range) in [(577, 768, 3072, Int8ActivationRange.unsigned7), (577, 3072, 768, .unsigned7),
                                 (577, 768, 2304, .unsigned7), (577, 768, 3072, .signed8), (1, 768, 3072, .signed8),
                                 (3, 768, 30524, .signed8)] {
            let w = rng.array(n * k, scale: 0.05), x = rng.array(m * k)
            let mat = w.withUnsafeBufferPointer { Int8Matrix(quantizing: $0.baseAddress!, out: n, in: k, activations: range) }
            var out = [Float](repeating: 0, count: m * n)
            for kernel in Self.kernels {
                Int8Gemm.multiply(x, rows: m, inStride: k, weight: mat, bias: nil, out: &out, outStride: n, kernel: kernel)
                let reps = max(3, Int(2e9 / Double(2 * m * n * k)))
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<reps {
                    Int8Gemm.multiply(x, rows: m, inStride: k, weight: mat, bias: nil, out: &out, outStride: n, kernel: kernel)
                }
                let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(reps)
                print(String(format: "int8 gemm %@ %@ %dx%dx%d: %.3f ms, %.1f GOP/s", kernel.rawValue, range.rawValue, m, k, n, s * 1e3, 2 * Double(m * n * k) / s / 1e9))
            }
        }
    }
}
