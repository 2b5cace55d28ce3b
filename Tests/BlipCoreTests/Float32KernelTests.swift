import Foundation
import Testing
@testable import BlipCore
@testable import BlipKernels
import CBlipSupport

/// The AVX-512 float32 kernels (packed-weight GEMM with fused bias and GELU, blocked attention)
/// against OpenBLAS and the serial reference, on the shapes the ViT uses and on edge shapes.
/// On CPUs without AVX-512 the comparisons have nothing to compare and are skipped by their
/// `enabled` trait; `avx512KernelsActiveWhereSupported` still runs and says so.
@Suite struct Float32KernelTests {
    static let hasAVX512 = Float32Kernels.avx512Supported

    private static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23) * scale
        }
    }

    private static func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1) / (1 + abs($1.1))) }
    }

    /// On an AVX-512 CPU the kernels must be in use: a self-check failure (which silently falls
    /// back to OpenBLAS in production) fails here, loudly.
    @Test func avx512KernelsActiveWhereSupported() {
        let forcedOff = ProcessInfo.processInfo.environment["BLIP_F32_KERNEL"] == "openblas"
        if Self.hasAVX512 {
            #expect(Float32Kernels.selfCheck(), "the AVX-512 float32 kernels disagree with the reference")
            #expect(Float32Kernels.avx512Active == !forcedOff)
        } else {
            #expect(!Float32Kernels.avx512Active)
            #expect(!Float32Kernels.selfCheck())
        }
    }

    @Test(.enabled(if: hasAVX512), arguments: [(577, 768, 768), (577, 3072, 768), (577, 768, 3072), (1, 70, 45), (13, 33, 1000), (25, 32, 1537), (30, 40, 1024),
                                                  (4, 64, 64), (20, 33, 200), (11, 70, 130)])
    func packedLinearMatchesOpenBLAS(shape: (Int, Int, Int)) throws {
        try Blas.load()
        let (m, n, k) = shape
        let w = Self.random(n * k, seed: 1, scale: 0.05), x = Self.random(m * k, seed: 2), b = Self.random(n, seed: 3)
        let wb = FloatBuffer(w), bb = FloatBuffer(b)
        let plain = Linear(weight: wb, bias: bb, in: k, out: n)
        let packed = plain.packedForManyRows()
        guard packed.weight.packedF32 != nil else { Issue.record("not packed on an AVX-512 CPU"); return }
        for gelu in [false, true] {
            var expected = [Float](repeating: .nan, count: m * n), got = expected
            Parallel.withThreads(2) {
                x.withUnsafeBufferPointer { xp in
                    plain(xp.baseAddress!, rows: m, out: &expected, gelu: gelu)
                    packed(xp.baseAddress!, rows: m, out: &got, gelu: gelu)
                }
            }
            #expect(Self.maxRelativeError(got, expected) < 2e-5, "m \(m) n \(n) k \(k) gelu \(gelu)")
        }
        // the residual form, h += x · Wᵀ + b (accumulated in the GEMM for the packed weight)
        let h0 = Self.random(m * n, seed: 9, scale: 2)
        var expected = h0, got = h0, scratch = [Float](repeating: .nan, count: m * n)
        Parallel.withThreads(2) {
            x.withUnsafeBufferPointer { xp in
                plain.add(xp.baseAddress!, rows: m, to: &expected, scratch: &scratch)
                packed.add(xp.baseAddress!, rows: m, to: &got, scratch: &scratch)
            }
        }
        #expect(Self.maxRelativeError(got, expected) < 2e-5, "m \(m) n \(n) k \(k) accumulate")
    }

    @Test(.enabled(if: hasAVX512)) func packedLinearSameBitsForAnyThreadCount() {
        let (m, n, k) = (577, 2304, 768)
        let x = Self.random(m * k, seed: 4)
        let layer = Linear(weight: FloatBuffer(Self.random(n * k, seed: 5, scale: 0.05)),
                           bias: FloatBuffer(Self.random(n, seed: 6)), in: k, out: n).packedForManyRows()
        let runs = [1, 2, 3].map { threads -> [Float] in
            var out = [Float](repeating: .nan, count: m * n)
            Parallel.withThreads(threads) { x.withUnsafeBufferPointer { layer($0.baseAddress!, rows: m, out: &out, gelu: true) } }
            return out
        }
        #expect(runs[0] == runs[1] && runs[1] == runs[2])
    }

    /// Blocked attention against OpenBLAS attention on the ViT-B shape (577 tokens, 12 heads of
    /// 64, read in place from a fused qkv row) and an edge shape; and the same bits for 1 or 2 threads.
    @Test(.enabled(if: hasAVX512), arguments: [(577, 577, 12, 64), (7, 50, 3, 40), (50, 61, 16, 64)])
    func blockedAttentionMatchesOpenBLAS(shape: (Int, Int, Int, Int)) throws {
        try Blas.load()
        let (queries, keys, heads, hd) = shape
        let width = heads * hd, stride = 3 * width
        let qkv = Self.random(max(queries, keys) * stride, seed: 7, scale: 3)
        let s = AttentionShape(queries: queries, keys: keys, heads: heads, headDim: hd)
        let scale = 1 / Float(hd).squareRoot()
        var expected = [Float](repeating: .nan, count: queries * width)
        var scores = [Float](repeating: 0, count: s.scratchCount)
        var blocked: [[Float]] = []
        qkv.withUnsafeBufferPointer { p in
            let q = p.baseAddress!, k = q + width, v = q + 2 * width
            blasAttention(shape: s, q: q, qStride: stride, k: k, kStride: stride, v: v, vStride: stride, scale: scale,
                          causalOffset: nil, scores: &scores, out: &expected, outStride: width)
            for threads in [1, 2] {
                var out = [Float](repeating: .nan, count: queries * width)
                Parallel.withThreads(threads) {
                    blockedAttention(shape: s, q: q, qStride: stride, k: k, kStride: stride, v: v, vStride: stride,
                                     scale: scale, out: &out, outStride: width)
                }
                blocked.append(out)
            }
        }
        #expect(Self.maxRelativeError(blocked[0], expected) < 2e-5)
        #expect(blocked[0] == blocked[1])
    }

    /// The decode-step linear layer in C equals the Swift loop up to float rounding: 1-8 rows
    /// (beams), widths with and without a 16-lane tail, output counts with a 4-column tail,
    /// with and without a bias, row strides wider than the rows.
    @Test(.enabled(if: hasAVX512), arguments: [(1, 768, 768, true), (3, 768, 3072, true), (8, 45, 70, false), (5, 16, 3, true), (2, 100, 1, false)])
    func smallBatchLinearMatchesSwift(shape: (Int, Int, Int, Bool)) {
        let (rows, k, n, hasBias) = shape
        let layer = Linear(weight: FloatBuffer(Self.random(n * k, seed: 8, scale: 0.1)),
                           bias: hasBias ? FloatBuffer(Self.random(n, seed: 9)) : nil, in: k, out: n)
        let x = Self.random(rows * (k + 3), seed: 10)
        var results: [[Float]] = []
        for avx512 in [false, true] {
            var out = [Float](repeating: .nan, count: rows * (n + 2))
            Parallel.withThreads(2) {
                layer.smallBatch(x, rows: rows, out: &out, inStride: k + 3, outStride: n + 2, avx512: avx512)
            }
            results.append(out)
        }
        let written = (0..<rows).flatMap { r in (0..<n).map { r * (n + 2) + $0 } }
        #expect(written.allSatisfy { results[1][$0].isFinite })
        #expect(Self.maxRelativeError(written.map { results[1][$0] }, written.map { results[0][$0] }) < 1e-5)
    }

    /// The decode-step attention in C equals the Swift code up to float rounding, over head
    /// widths with and without a 16-lane tail, key counts with and without a 4-key tail, and
    /// with one or several query rows (a beam's new tokens).
    @Test(.enabled(if: hasAVX512), arguments: [(1, 577, 12, 64), (3, 10, 12, 64), (2, 7, 3, 40), (1, 1, 2, 16), (4, 33, 1, 100)])
    func fewQueryAttentionMatchesSwift(shape: (Int, Int, Int, Int)) {
        let (rows, keys, heads, hd) = shape
        let width = heads * hd
        let q = Self.random(rows * width, seed: 3, scale: 2), k = Self.random(keys * width, seed: 4, scale: 2)
        let v = Self.random(keys * width, seed: 5)
        var results: [[Float]] = []
        for avx512 in [false, true] {
            var scores = [Float](repeating: .nan, count: heads * rows * keys)
            var out = [Float](repeating: .nan, count: rows * width)
            fewQueryAttention(rows: rows, q: q, qStride: width, k: k, v: v, kvStride: width, keys: keys, heads: heads,
                              headDim: hd, scale: 1 / Float(hd).squareRoot(), scores: &scores, out: &out, outStride: width,
                              avx512: avx512)
            results.append(out)
        }
        #expect(results[1].allSatisfy { $0.isFinite })
        #expect(Self.maxRelativeError(results[1], results[0]) < 1e-5)
    }

    /// Keys and values stored head by head (`kvHeadStride`, the layout of CrossKeysValues) give
    /// the same bits as the same numbers in column blocks, in every attention path: the few-query
    /// kernels (C and Swift) and the many-query ones (blocked and OpenBLAS).
    @Test(arguments: [(1, 577, 12, 64), (3, 10, 12, 64), (12, 61, 3, 40), (20, 33, 2, 16)])
    func headByHeadKeysValuesEqualColumnBlocks(shape: (Int, Int, Int, Int)) throws {
        try Blas.load()
        let (rows, keys, heads, hd) = shape
        let width = heads * hd, scale = 1 / Float(hd).squareRoot()
        let q = Self.random(rows * width, seed: 13, scale: 2), k = Self.random(keys * width, seed: 14, scale: 2)
        let v = Self.random(keys * width, seed: 15)
        func byHead(_ x: [Float]) -> [Float] {
            var out = [Float](repeating: .nan, count: x.count)
            x.withUnsafeBufferPointer { src in
                CrossKeysValues.storeByHead(src.baseAddress!, tokens: keys, width: width, headDim: hd, into: &out)
            }
            return out
        }
        let kh = byHead(k), vh = byHead(v)
        #expect(kh[hd] == k[width] && kh[keys * hd] == k[hd])   // row 1 of head 0; row 0 of head 1
        let s = AttentionShape(queries: rows, keys: keys, heads: heads, headDim: hd)
        var scores = [Float](repeating: 0, count: max(s.scratchCount, heads * rows * keys))
        var paths: [(String, ([Float], [Float], Int, Int?) -> [Float])] = [
            ("few-query Swift", { k, v, stride, headStride in
                var out = [Float](repeating: .nan, count: rows * width)
                fewQueryAttention(rows: rows, q: q, qStride: width, k: k, v: v, kvStride: stride, kvHeadStride: headStride,
                                  keys: keys, heads: heads, headDim: hd, scale: scale, scores: &scores, out: &out,
                                  outStride: width, avx512: false)
                return out
            }),
            ("OpenBLAS", { k, v, stride, headStride in
                var out = [Float](repeating: .nan, count: rows * width)
                blasAttention(shape: s, q: q, qStride: width, k: k, kStride: stride, v: v, vStride: stride,
                              kvHeadStride: headStride, scale: scale, causalOffset: nil, scores: &scores, out: &out,
                              outStride: width)
                return out
            }),
        ]
        if Self.hasAVX512 {
            paths.append(("few-query C", { k, v, stride, headStride in
                var out = [Float](repeating: .nan, count: rows * width)
                fewQueryAttention(rows: rows, q: q, qStride: width, k: k, v: v, kvStride: stride, kvHeadStride: headStride,
                                  keys: keys, heads: heads, headDim: hd, scale: scale, scores: &scores, out: &out,
                                  outStride: width, avx512: true)
                return out
            }))
            paths.append(("blocked", { k, v, stride, headStride in
                var out = [Float](repeating: .nan, count: rows * width)
                blockedAttention(shape: s, q: q, qStride: width, k: k, kStride: stride, v: v, vStride: stride,
                                 kvHeadStride: headStride, scale: scale, out: &out, outStride: width)
                return out
            }))
        }
        for (name, run) in paths {
            let columns = run(k, v, width, nil), blocks = run(kh, vh, hd, keys * hd)
            #expect(columns.allSatisfy { $0.isFinite }, "\(name)")
            #expect(columns == blocks, "\(name)")
        }
    }

    /// Keys and values stored as int8 with a scale per head and key (int8 models'
    /// cross-attention) attend like the float32 ones up to that rounding, for a few query rows
    /// (the C kernel reading int8) and for many (converted back to float32 first), with one or
    /// several threads; each stored vector's largest value maps to ±127 and every value comes
    /// back within half a step of its scale.
    @Test(.enabled(if: hasAVX512), arguments: [(1, 577, 12, 64), (3, 10, 4, 16), (8, 33, 2, 32), (20, 61, 3, 48)])
    func int8KeysValuesAttendLikeFloat(shape: (Int, Int, Int, Int)) {
        let (rows, tokens, heads, hd) = shape
        let width = heads * hd, scale = 1 / Float(hd).squareRoot()
        let q = Self.random(rows * width, seed: 23, scale: 2), k = Self.random(tokens * width, seed: 24, scale: 2)
        let v = Self.random(tokens * width, seed: 25)
        var staging = [Float](repeating: 0, count: tokens * width)
        let stores = [false, true].map { compact in
            let kv = CrossKeysValues(layers: 1, tokens: tokens, width: width, headDim: hd, compact: compact)
            kv.store(layer: 0, keys: k, values: v, staging: &staging)
            return kv
        }
        #expect(!stores[0].compact && stores[1].compact)
        var results: [[Float]] = []
        for (kv, threads) in [(stores[0], 1), (stores[1], 1), (stores[1], 2)] {
            var scores = [Float](repeating: .nan, count: max(rows, min(rows, TextScratch.fewRows) * heads) * tokens)
            var out = [Float](repeating: .nan, count: rows * width)
            Parallel.withThreads(threads) {
                kv.attend(layer: 0, rows: rows, q: q, qStride: width, heads: heads, scale: scale, scores: &scores,
                          out: &out, outStride: width)
            }
            results.append(out)
        }
        #expect(results[0].allSatisfy { $0.isFinite })
        #expect(Self.maxRelativeError(results[1], results[0]) < 1e-2)   // measured 1.1e-3 to 3.7e-3
        #expect(Self.maxRelativeError(results[1], results[0]) > 0)   // the int8 path really ran
        #expect(results[1] == results[2])
        // rows of 16: one all zero, one with a single value, one with a tie for the largest magnitude
        let x: [Float] = Self.random(48, seed: 26, scale: 5) + [Float](repeating: 0, count: 16)
            + [0, 0, 0, -3] + [Float](repeating: 0, count: 12) + [2, -2] + Self.random(14, seed: 27)
        let vectors = x.count / 16
        var levels = [Int8](repeating: 0, count: x.count), scales = [Float](repeating: .nan, count: vectors)
        var back = [Float](repeating: .nan, count: x.count)
        #expect(bs_quantize_rows_i8_avx512(x, vectors, 16, &levels, &scales) == 0)
        #expect(bs_dequantize_rows_i8_avx512(levels, scales, vectors, 16, &back) == 0)
        for r in 0..<vectors {
            let row = x[(16 * r)..<(16 * r + 16)], largest = row.map(abs).max()!
            #expect(scales[r] == largest / 127)
            #expect(levels[(16 * r)..<(16 * r + 16)].map { abs(Int($0)) }.max() == (largest > 0 ? 127 : 0))
            for c in 0..<16 { #expect(abs(back[16 * r + c] - x[16 * r + c]) <= scales[r] * 0.5 * 1.0001, "row \(r)") }
        }
    }

    /// The AVX-512 GELU is the Swift one 16 lanes wide: same operations, same bits, over the
    /// whole float range that matters (and the fused GEMM epilogue uses the same function).
    @Test(.enabled(if: hasAVX512)) func avx512GeluEqualsSwiftGelu() {
        let x = Self.random(100_003, seed: 8, scale: 12) + [0, -0, 1e-30, -1e-30, 40, -40, 90, -90]
        var portable = [Float](repeating: .nan, count: x.count), fast = portable
        x.withUnsafeBufferPointer { p in
            portableGelu(p.baseAddress!, out: &portable, count: x.count)
            _ = bs_gelu_avx512(p.baseAddress!, &fast, x.count)
        }
        #expect(portable.map(\.bitPattern) == fast.map(\.bitPattern))
    }

    /// The AVX-512 GELU derivative is the Swift one 16 lanes wide: the same bits, tail included.
    @Test(.enabled(if: hasAVX512)) func avx512GeluBackwardEqualsSwift() {
        let x = Self.random(100_005, seed: 9, scale: 12) + [0, -0, 1e-30, -1e-30, 40, -40, 90, -90]
        let dy = Self.random(x.count, seed: 10, scale: 3)
        var portable = [Float](repeating: .nan, count: x.count), fast = portable
        portableGeluBackward(dy: dy, preActivation: x, dx: &portable, count: x.count)
        _ = bs_gelu_backward_avx512(dy, x, &fast, x.count)
        #expect(portable.allSatisfy { $0.isFinite })
        #expect(portable.map(\.bitPattern) == fast.map(\.bitPattern))
    }

    /// The AVX-512 cross-entropy row against the Swift one: the same loss and gradient up to
    /// summation order, for vocabulary-sized and odd-sized rows, with and without smoothing.
    @Test(.enabled(if: hasAVX512), arguments: [(30524, 29_000, Float(0.1)), (30524, 3, Float(0)), (1025, 1024, Float(0.1)),
                                                (17, 16, Float(0.2)), (1, 0, Float(0.1))])
    func avx512CrossEntropyRowMatchesSwift(shape: (Int, Int, Float)) {
        let (classes, label, smoothing) = shape
        let x = Self.random(classes, seed: UInt64(classes), scale: 8).map { $0 + 30 }
        var portable = x, fast = x
        let expected = crossEntropyRow(&portable, classes: classes, label: label, smoothing: smoothing, gradScale: 0.25)
        var loss = Double.nan
        #expect(bs_cross_entropy_row_avx512(&fast, Int32(classes), Int32(label), smoothing, 0.25, &loss) == 0)
        #expect(abs(loss - expected) <= 1e-5 * max(1, abs(expected)), "loss \(loss) vs \(expected)")
        let worst = zip(portable, fast).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-7, "gradient differs by \(worst)")
        #expect(abs(fast[label] - portable[label]) <= 1e-7)
        var dummy = x
        #expect(bs_cross_entropy_row_avx512(&dummy, Int32(classes), Int32(classes), smoothing, 1, &loss) == -1)
    }

    /// The AVX-512 LayerNorm row is the Swift one wider (statistics in double, the same float
    /// operations): on these rows, the same bits and the same saved statistics.
    @Test(.enabled(if: hasAVX512)) func avx512LayerNormEqualsSwift() {
        for (cols, shift) in [(768, 0), (37, 3), (128, 100), (5, -7)] as [(Int, Float)] {
            let rows = 50
            let x = Self.random(rows * cols, seed: UInt64(cols), scale: 4).map { $0 + shift }
            let gamma = Self.random(cols, seed: 11), beta = Self.random(cols, seed: 12)
            var portable = [Float](repeating: .nan, count: cols), fast = portable
            for r in 0..<rows {
                x.withUnsafeBufferPointer { p in
                    let row = p.baseAddress! + r * cols
                    let a = portableLayerNormRow(row, cols: cols, gamma: gamma, beta: beta, eps: 1e-5, out: &portable)
                    var mean: Float = 0, rstd: Float = 0
                    _ = bs_layernorm_row_avx512(row, Int32(cols), gamma, beta, 1e-5, &fast, &mean, &rstd)
                    #expect(a.mean == mean && a.rstd == rstd, "cols \(cols) row \(r)")
                }
                #expect(portable == fast, "cols \(cols) row \(r)")
            }
        }
    }
}
