import Foundation
import Testing
@testable import BlipCore
@testable import BlipKernels
import CBlipSupport

/// The float32 C kernels (packed-weight GEMM with fused bias and GELU, blocked attention,
/// decode-step kernels, GELU and LayerNorm rows), AVX-512 and AVX2, against OpenBLAS and the
/// Swift code, on the shapes the ViT uses and on edge shapes. Each test runs every C path this
/// CPU supports (an AVX-512 CPU runs both), so the AVX2 kernels are tested on AVX-512 machines
/// too; on a CPU with neither the comparisons are skipped by their `enabled` trait and
/// `widestKernelsActiveWhereSupported` still runs and says so.
@Suite struct Float32KernelTests {
    static let hasAVX512 = Float32Kernels.avx512Supported
    static let cPaths: [Float32Kernels.Path] = [.avx512, .avx2].filter(\.isSupported)
    static let hasCPath = !cPaths.isEmpty

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

    /// The widest C path this CPU supports must be in use: a self-check failure (which silently
    /// falls back to a narrower path in production) fails here, loudly.
    @Test func widestKernelsActiveWhereSupported() {
        let forced = ProcessInfo.processInfo.environment["BLIP_F32_KERNEL"]
        for path in Self.cPaths {
            #expect(Float32Kernels.selfCheck(path), "the \(path.rawValue) float32 kernels disagree with the reference")
        }
        let expected: Float32Kernels.Path = forced == "openblas" ? .openblas
            : forced == "avx2" ? (Self.cPaths.contains(.avx2) ? .avx2 : .openblas)
            : Self.cPaths.first ?? .openblas
        #expect(Float32Kernels.active == expected)
        #expect(!Float32Kernels.selfCheck(.openblas))
        if !Self.hasAVX512 { #expect(!Float32Kernels.selfCheck(.avx512)) }
    }

    /// The packed GEMM of every C path against OpenBLAS plus the Swift bias and GELU, plain,
    /// with GELU and in the residual form (h += x · Wᵀ + b, accumulated in the GEMM); and the
    /// layer a model builds (`packedForManyRows`) uses the active path.
    @Test(.enabled(if: hasCPath), arguments: [(577, 768, 768), (577, 3072, 768), (577, 768, 3072), (1, 70, 45), (13, 33, 1000), (25, 32, 1537), (30, 40, 1024),
                                                  (4, 64, 64), (20, 33, 200), (11, 70, 130), (7, 8, 9), (3, 17, 5)])
    func packedLinearMatchesOpenBLAS(shape: (Int, Int, Int)) throws {
        try Blas.load()
        let (m, n, k) = shape
        let w = Self.random(n * k, seed: 1, scale: 0.05), x = Self.random(m * k, seed: 2), b = Self.random(n, seed: 3)
        let plain = Linear(weight: FloatBuffer(w), bias: FloatBuffer(b), in: k, out: n)
        #expect((plain.packedForManyRows().weight.packedF32 != nil) == Float32Kernels.packedGemmActive)
        let matrix = w.withUnsafeBufferPointer { PackedF32Matrix(packing: $0.baseAddress!, out: n, in: k) }
        for path in Self.cPaths {
            for gelu in [false, true] {
                var expected = [Float](repeating: .nan, count: m * n), got = expected
                Parallel.withThreads(2) {
                    x.withUnsafeBufferPointer { xp in
                        plain(xp.baseAddress!, rows: m, out: &expected, gelu: gelu)
                        matrix.multiply(xp.baseAddress!, rows: m, inStride: k, bias: b, out: &got, outStride: n, gelu: gelu,
                                        path: path)
                    }
                }
                #expect(Self.maxRelativeError(got, expected) < 2e-5, "\(path) m \(m) n \(n) k \(k) gelu \(gelu)")
            }
            let h0 = Self.random(m * n, seed: 9, scale: 2)
            var expected = h0, got = h0, scratch = [Float](repeating: .nan, count: m * n)
            Parallel.withThreads(2) {
                x.withUnsafeBufferPointer { xp in
                    plain.add(xp.baseAddress!, rows: m, to: &expected, scratch: &scratch)
                    matrix.multiply(xp.baseAddress!, rows: m, inStride: k, bias: b, out: &got, outStride: n, gelu: false,
                                    accumulate: true, path: path)
                }
            }
            #expect(Self.maxRelativeError(got, expected) < 2e-5, "\(path) m \(m) n \(n) k \(k) accumulate")
        }
    }

    /// Rows whose stride is a multiple of 4 KB (packed by the kernel for a few rows, see gemm512;
    /// copied to a padded stride first for many) and rows read in place give the same bits.
    @Test(.enabled(if: hasCPath), arguments: [29, 100])
    func packedLinearAliasedRowsSameBits(rows m: Int) {
        let (n, k) = (70, 1024)
        let x = Self.random(m * (k + 1), seed: 31)
        let w = Self.random(n * k, seed: 32, scale: 0.05)
        let matrix = w.withUnsafeBufferPointer { PackedF32Matrix(packing: $0.baseAddress!, out: n, in: k) }
        var dense = [Float](repeating: 0, count: m * k)
        for r in 0..<m { for i in 0..<k { dense[r * k + i] = x[r * (k + 1) + i] } }
        for path in Self.cPaths {
            var aliased = [Float](repeating: .nan, count: m * n), inPlace = aliased
            matrix.multiply(dense, rows: m, inStride: k, bias: nil, out: &aliased, outStride: n, gelu: true, path: path)
            matrix.multiply(x, rows: m, inStride: k + 1, bias: nil, out: &inPlace, outStride: n, gelu: true, path: path)
            #expect(aliased == inPlace, "\(path)")
        }
    }

    @Test(.enabled(if: hasCPath)) func packedLinearSameBitsForAnyThreadCount() {
        let (m, n, k) = (577, 2304, 768)
        let x = Self.random(m * k, seed: 4), b = Self.random(n, seed: 6)
        let w = Self.random(n * k, seed: 5, scale: 0.05)
        let matrix = w.withUnsafeBufferPointer { PackedF32Matrix(packing: $0.baseAddress!, out: n, in: k) }
        for path in Self.cPaths {
            let runs = [1, 2, 3].map { threads -> [Float] in
                var out = [Float](repeating: .nan, count: m * n)
                Parallel.withThreads(threads) {
                    matrix.multiply(x, rows: m, inStride: k, bias: b, out: &out, outStride: n, gelu: true, path: path)
                }
                return out
            }
            #expect(runs[0] == runs[1] && runs[1] == runs[2], "\(path)")
        }
    }

    /// Blocked attention against OpenBLAS attention on the ViT-B shape (577 tokens, 12 heads of
    /// 64, read in place from a fused qkv row) and an edge shape; and the same bits for 1 or 2 threads.
    @Test(.enabled(if: hasCPath), arguments: [(577, 577, 12, 64), (7, 50, 3, 40), (50, 61, 16, 64)])
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
            for path in Self.cPaths {
                for threads in [1, 2] {
                    var out = [Float](repeating: .nan, count: queries * width)
                    Parallel.withThreads(threads) {
                        blockedAttention(shape: s, q: q, qStride: stride, k: k, kStride: stride, v: v, vStride: stride,
                                         scale: scale, out: &out, outStride: width, path: path)
                    }
                    blocked.append(out)
                }
            }
        }
        for (i, path) in Self.cPaths.enumerated() {
            #expect(Self.maxRelativeError(blocked[2 * i], expected) < 2e-5, "\(path)")
            #expect(blocked[2 * i] == blocked[2 * i + 1], "\(path)")
        }
    }

    /// The decode-step linear layer in C equals the Swift loop up to float rounding: 1-8 rows
    /// (beams), widths with and without a 16-lane tail, output counts with a 4-column tail,
    /// with and without a bias, row strides wider than the rows.
    @Test(.enabled(if: hasCPath), arguments: [(1, 768, 768, true), (3, 768, 3072, true), (8, 45, 70, false), (5, 16, 3, true), (2, 100, 1, false),
                                              (4, 37, 9, true)])
    func smallBatchLinearMatchesSwift(shape: (Int, Int, Int, Bool)) {
        let (rows, k, n, hasBias) = shape
        let layer = Linear(weight: FloatBuffer(Self.random(n * k, seed: 8, scale: 0.1)),
                           bias: hasBias ? FloatBuffer(Self.random(n, seed: 9)) : nil, in: k, out: n)
        let x = Self.random(rows * (k + 3), seed: 10)
        var results: [[Float]] = []
        for path in [.openblas] + Self.cPaths {
            var out = [Float](repeating: .nan, count: rows * (n + 2))
            Parallel.withThreads(2) {
                layer.smallBatch(x, rows: rows, out: &out, inStride: k + 3, outStride: n + 2, path: path)
            }
            results.append(out)
        }
        let written = (0..<rows).flatMap { r in (0..<n).map { r * (n + 2) + $0 } }
        for (i, path) in Self.cPaths.enumerated() {
            #expect(written.allSatisfy { results[i + 1][$0].isFinite }, "\(path)")
            #expect(Self.maxRelativeError(written.map { results[i + 1][$0] }, written.map { results[0][$0] }) < 1e-5, "\(path)")
        }
    }

    /// The decode-step attention in C equals the Swift code up to float rounding, over head
    /// widths with and without a 16-lane tail, key counts with and without a 4-key tail, and
    /// with one or several query rows (a beam's new tokens).
    @Test(.enabled(if: hasCPath), arguments: [(1, 577, 12, 64), (3, 10, 12, 64), (2, 7, 3, 40), (1, 1, 2, 16), (4, 33, 1, 100),
                                              (2, 9, 2, 5)])
    func fewQueryAttentionMatchesSwift(shape: (Int, Int, Int, Int)) {
        let (rows, keys, heads, hd) = shape
        let width = heads * hd
        let q = Self.random(rows * width, seed: 3, scale: 2), k = Self.random(keys * width, seed: 4, scale: 2)
        let v = Self.random(keys * width, seed: 5)
        var results: [[Float]] = []
        for path in [.openblas] + Self.cPaths {
            var scores = [Float](repeating: .nan, count: heads * rows * keys)
            var out = [Float](repeating: .nan, count: rows * width)
            fewQueryAttention(rows: rows, q: q, qStride: width, k: k, v: v, kvStride: width, keys: keys, heads: heads,
                              headDim: hd, scale: 1 / Float(hd).squareRoot(), scores: &scores, out: &out, outStride: width,
                              path: path)
            results.append(out)
        }
        for (i, path) in Self.cPaths.enumerated() {
            #expect(results[i + 1].allSatisfy { $0.isFinite }, "\(path)")
            #expect(Self.maxRelativeError(results[i + 1], results[0]) < 1e-5, "\(path)")
        }
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
                                  outStride: width, path: .openblas)
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
        for path in Self.cPaths {
            paths.append(("few-query \(path)", { k, v, stride, headStride in
                var out = [Float](repeating: .nan, count: rows * width)
                fewQueryAttention(rows: rows, q: q, qStride: width, k: k, v: v, kvStride: stride, kvHeadStride: headStride,
                                  keys: keys, heads: heads, headDim: hd, scale: scale, scores: &scores, out: &out,
                                  outStride: width, path: path)
                return out
            }))
            paths.append(("blocked \(path)", { k, v, stride, headStride in
                var out = [Float](repeating: .nan, count: rows * width)
                blockedAttention(shape: s, q: q, qStride: width, k: k, kStride: stride, v: v, vStride: stride,
                                 kvHeadStride: headStride, scale: scale, out: &out, outStride: width, path: path)
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
    @Test(.enabled(if: hasCPath), arguments: [(1, 577, 12, 64), (3, 10, 4, 16), (8, 33, 2, 32), (20, 61, 3, 48)])
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
        for path in Self.cPaths {
            var levels = [Int8](repeating: 0, count: x.count), scales = [Float](repeating: .nan, count: vectors)
            var back = [Float](repeating: .nan, count: x.count)
            let (quantize, dequantize) = path == .avx512 ? (bs_quantize_rows_i8_avx512, bs_dequantize_rows_i8_avx512)
                : (bs_quantize_rows_i8_avx2, bs_dequantize_rows_i8_avx2)
            #expect(quantize(x, vectors, 16, &levels, &scales) == 0)
            #expect(dequantize(levels, scales, vectors, 16, &back) == 0)
            for r in 0..<vectors {
                let row = x[(16 * r)..<(16 * r + 16)], largest = row.map(abs).max()!
                #expect(scales[r] == largest / 127)
                #expect(levels[(16 * r)..<(16 * r + 16)].map { abs(Int($0)) }.max() == (largest > 0 ? 127 : 0))
                for c in 0..<16 { #expect(abs(back[16 * r + c] - x[16 * r + c]) <= scales[r] * 0.5 * 1.0001, "row \(r)") }
            }
        }
    }

    /// The AVX2 int8 decode attention and row quantizer equal the AVX-512 ones (same levels,
    /// same scales; attention to float rounding), so an int8 model's keys and values are the same
    /// bytes on either CPU kind.
    @Test(.enabled(if: cPaths.count == 2)) func int8KeysValuesSameOnBothPaths() {
        let (rows, keys, heads, hd) = (3, 61, 4, 32)
        let width = heads * hd
        let kv = Self.random(2 * keys * width, seed: 41, scale: 3), q = Self.random(rows * width, seed: 42)
        var results: [[Float]] = [], packed: [[Int8]] = []
        for path in Self.cPaths {
            var levels = [Int8](repeating: 0, count: kv.count), scales = [Float](repeating: .nan, count: kv.count / hd)
            let quantize = path == .avx512 ? bs_quantize_rows_i8_avx512 : bs_quantize_rows_i8_avx2
            #expect(quantize(kv, kv.count / hd, Int32(hd), &levels, &scales) == 0)
            packed.append(levels + scales.flatMap { withUnsafeBytes(of: $0) { $0.map { Int8(bitPattern: $0) } } })
            var scores = [Float](repeating: .nan, count: heads * rows * keys), out = [Float](repeating: .nan, count: rows * width)
            let attend = path == .avx512 ? bs_few_query_attention_i8_avx512 : bs_few_query_attention_i8_avx2
            levels.withUnsafeBufferPointer { l in
                scales.withUnsafeBufferPointer { s in
                    let n = keys * width
                    #expect(attend(Int32(rows), q, width, l.baseAddress!, s.baseAddress!, l.baseAddress! + n,
                                   s.baseAddress! + n / hd, hd, keys * hd, Int32(keys), Int32(hd), 0.2, &scores, &out,
                                   width, 0, Int32(heads)) == 0)
                }
            }
            results.append(out)
        }
        #expect(packed[0] == packed[1])
        #expect(results[0].allSatisfy { $0.isFinite })
        #expect(Self.maxRelativeError(results[1], results[0]) < 1e-5)
    }

    /// The AVX-512 and AVX2 GELUs are the Swift one 16 or 8 lanes wide: same operations, same
    /// bits, over the whole float range that matters, tails included (and the fused GEMM
    /// epilogues use the same functions).
    @Test(.enabled(if: hasCPath)) func cGeluEqualsSwiftGelu() {
        let x = Self.random(100_003, seed: 8, scale: 12) + [0, -0, 1e-30, -1e-30, 40, -40, 90, -90]
        var portable = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { p in portableGelu(p.baseAddress!, out: &portable, count: x.count) }
        for path in Self.cPaths {
            var fast = [Float](repeating: .nan, count: x.count)
            x.withUnsafeBufferPointer { p in
                _ = (path == .avx512 ? bs_gelu_avx512 : bs_gelu_avx2)(p.baseAddress!, &fast, x.count)
            }
            #expect(portable.map(\.bitPattern) == fast.map(\.bitPattern), "\(path)")
        }
    }

    /// The AVX-512 and AVX2 GELU derivatives are the Swift one 16 or 8 lanes wide: the same
    /// bits, tails included.
    @Test(.enabled(if: hasCPath)) func cGeluBackwardEqualsSwift() {
        let x = Self.random(100_005, seed: 9, scale: 12) + [0, -0, 1e-30, -1e-30, 40, -40, 90, -90]
        let dy = Self.random(x.count, seed: 10, scale: 3)
        var portable = [Float](repeating: .nan, count: x.count)
        portableGeluBackward(dy: dy, preActivation: x, dx: &portable, count: x.count)
        #expect(portable.allSatisfy { $0.isFinite })
        for path in Self.cPaths {
            var fast = [Float](repeating: .nan, count: x.count)
            _ = (path == .avx512 ? bs_gelu_backward_avx512 : bs_gelu_backward_avx2)(dy, x, &fast, x.count)
            #expect(portable.map(\.bitPattern) == fast.map(\.bitPattern), "\(path)")
        }
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

    /// The AVX-512 and AVX2 LayerNorm rows are the Swift one wider (statistics in double, the
    /// same float operations): on these rows, the same bits and the same saved statistics.
    @Test(.enabled(if: hasCPath)) func cLayerNormEqualsSwift() {
        for (cols, shift) in [(768, 0), (37, 3), (128, 100), (5, -7)] as [(Int, Float)] {
            let rows = 50
            let x = Self.random(rows * cols, seed: UInt64(cols), scale: 4).map { $0 + shift }
            let gamma = Self.random(cols, seed: 11), beta = Self.random(cols, seed: 12)
            var portable = [Float](repeating: .nan, count: cols), fast = portable
            for r in 0..<rows {
                x.withUnsafeBufferPointer { p in
                    let row = p.baseAddress! + r * cols
                    let a = portableLayerNormRow(row, cols: cols, gamma: gamma, beta: beta, eps: 1e-5, out: &portable)
                    for path in Self.cPaths {
                        var mean: Float = 0, rstd: Float = 0
                        _ = (path == .avx512 ? bs_layernorm_row_avx512 : bs_layernorm_row_avx2)(
                            row, Int32(cols), gamma, beta, 1e-5, &fast, &mean, &rstd)
                        #expect(a.mean == mean && a.rstd == rstd, "\(path) cols \(cols) row \(r)")
                        #expect(portable == fast, "\(path) cols \(cols) row \(r)")
                    }
                }
            }
        }
    }
}
