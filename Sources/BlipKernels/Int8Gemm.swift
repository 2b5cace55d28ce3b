import CBlipSupport

/// How an int8 matrix's input rows are quantized at run time (per row, asymmetric).
public enum Int8ActivationRange: String, Sendable {
    /// 255 levels, −127…127: the precise choice.
    case signed8
    /// 128 levels, 0…127 (as fbgemm's "reduce_range"): half the resolution, but the AVX2
    /// kernel needs no sign trick and, with pair-safe weights, one widening multiply per two
    /// groups: 1.35–1.5× the int8 throughput on AMD Zen 1. The quantizer uses it only where the
    /// accuracy measurements allow (BENCHMARKS.md).
    case unsigned7

    /// Smallest and largest level.
    public var levels: ClosedRange<Int32> { self == .signed8 ? -127...127 : 0...127 }
}

/// y = x · Wᵀ (+ bias) with W int8 (per-output-channel scales, `Int8Matrix`) and x quantized on
/// the fly, per row and asymmetrically: row r's range [min(x_r, 0), max(x_r, 0)] maps onto the
/// levels of the matrix's `activationRange` (255 levels -127...127, or 128 levels 0...127),
/// x ≈ scale_x[r] · (q - zero[r]). Products accumulate exactly in int32
/// and the float result is (acc - zero[r] · Σ_k W_q[o, k]) · scale_x[r] · scale_w[o].
/// Asymmetric rows matter after GELU (fc2's input lies in [-0.17, max]): a symmetric scale
/// would leave half of the levels unused there.
///
/// Every kernel (portable Swift SIMD, AVX2, AVX-512 VNNI, AMX) computes the same integer sums, so
/// outputs do not depend on the CPU; `int8GemmReference` is the scalar definition.
public enum Int8Gemm {
    /// Quantized activations for one call: rows × paddedIn bytes plus a scale and a zero point per row.
    public struct Activations {
        public let rows: Int
        public let paddedIn: Int
        public let data: UnsafeMutablePointer<Int8>
        public let scales: UnsafeMutablePointer<Float>
        public let zeroPoints: UnsafeMutablePointer<Int32>
        public init(rows: Int, paddedIn: Int) {
            self.rows = rows
            self.paddedIn = paddedIn
            data = .allocate(capacity: max(rows * paddedIn, 1))
            scales = .allocate(capacity: max(rows, 1))
            zeroPoints = .allocate(capacity: max(rows, 1))
        }
        public func deallocate() { data.deallocate(); scales.deallocate(); zeroPoints.deallocate() }
    }

    /// Quantizes `rows` rows of `k` floats (stride `stride`) into `a`: with levels qmin...qmax
    /// of `range`, lo = min(x, 0), hi = max(x, 0), scale = (hi - lo) / (qmax - qmin),
    /// zero = qmin - round(lo / scale), q = clamp(round(x / scale) + zero, qmin, qmax) (ties to
    /// even); padding columns hold zero (they meet zero weights). `unsigned` stores q + 128 (as
    /// the bit pattern of a UInt8) for kernels whose activation operand is unsigned. With
    /// `normalizing`, each row is first LayerNorm-ed (the same bits as `layerNorm`) into a
    /// row-sized buffer, so a pre-norm layer reads its input once and writes no normalized copy.
    public static func quantizeActivations(_ x: UnsafePointer<Float>, rows: Int, k: Int, stride: Int,
                                           range: Int8ActivationRange, unsigned: Bool,
                                           normalizing norm: RowNormalization? = nil, into a: Activations) {
        Parallel.forEachChunk(rows, minChunk: 16) { rowRange in
            let normed: UnsafeMutablePointer<Float>? = norm == nil ? nil : .allocate(capacity: k)
            defer { normed?.deallocate() }
            for r in rowRange {
                var row = x + r * stride
                if let norm, let normed {
                    _ = layerNormRow(row, cols: k, gamma: norm.gamma, beta: norm.beta, eps: norm.eps, out: normed)
                    row = UnsafePointer(normed)
                }
                quantizeRow(row, k: k, out: a.data + r * a.paddedIn, paddedIn: a.paddedIn,
                            range: range, unsigned: unsigned, scale: a.scales + r, zeroPoint: a.zeroPoints + r)
            }
        }
    }

    /// Whether quantizeRow's levels loop runs 16 lanes at a time in C (AVX-512 CPUs; same bits).
    public static let avx512Levels = bs_cpu_has_avx512() != 0

    /// Weight bytes per thread below which a GEMM of a few rows stays on one thread (128 KB:
    /// a 768 x 768 layer of a decode step splits in two; 4.7 against 6.1-6.8 ms per int8 step
    /// on Zen 4 with 2 threads, where 512 KB kept it on one).
    static let fewRowsMinimumBytes = 128 << 10

    /// One row of `quantizeActivations`; `avx512` picks the C loop (tests compare the two).
    @inline(__always)
    public static func quantizeRow(_ x: UnsafePointer<Float>, k: Int, out: UnsafeMutablePointer<Int8>, paddedIn: Int,
                                   range: Int8ActivationRange, unsigned: Bool,
                                   scale: UnsafeMutablePointer<Float>, zeroPoint: UnsafeMutablePointer<Int32>,
                                   avx512: Bool = avx512Levels) {
        var lo: Float = 0, hi: Float = 0
        bs_minmax_f32(x, k, &lo, &hi)
        lo = min(lo, 0)
        hi = max(hi, 0)
        let qmin = range.levels.lowerBound, qmax = range.levels.upperBound
        let s = (hi - lo) / Float(qmax - qmin)
        let inv: Float = s > 0 && s.isFinite ? 1 / s : 0
        let zero: Int32 = inv > 0 ? qmin - Int32((lo * inv).rounded(.toNearestOrEven)) : 0
        scale.pointee = inv > 0 ? s : 0
        zeroPoint.pointee = zero
        let offset: Int32 = unsigned ? 128 : 0
        if avx512 {
            _ = bs_q8_quantize_row_avx512(x, Int32(k), inv, zero, qmin, qmax, offset, out)
            for i in k..<paddedIn { out[i] = Int8(truncatingIfNeeded: offset) }
            return
        }
        // round-to-nearest-even through the 1.5·2^23 trick (the generic SIMD float→int
        // conversion is scalarised on baseline x86-64); |x·inv| ≤ 254 so the trick is exact.
        let magic = SIMD8<Float>(repeating: 12582912.0)
        let magicBits = unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let low = SIMD8<Int32>(repeating: qmin), high = SIMD8<Int32>(repeating: qmax)
        let shift = SIMD8<Int32>(repeating: zero), bias = SIMD8<Int32>(repeating: offset)
        @inline(__always) func levels(_ v: SIMD8<Float>) -> SIMD8<Int32> {
            var q = unsafeBitCast(v * inv + magic, to: SIMD8<Int32>.self) &- magicBits &+ shift
            q.replace(with: low, where: q .< low)
            q.replace(with: high, where: q .> high)
            return q &+ bias
        }
        var i = 0
        while i + 8 <= k {
            let q = levels(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
            UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: q), as: SIMD8<Int8>.self)
            i += 8
        }
        if i < k {
            var tail = SIMD8<Float>(repeating: 0)
            for j in 0..<(k - i) { tail[j] = x[i + j] }
            let q = levels(tail)
            for j in 0..<(k - i) { out[i + j] = Int8(truncatingIfNeeded: q[j]) }
            i = k
        }
        while i < paddedIn { out[i] = Int8(truncatingIfNeeded: offset); i += 1 }
    }

    /// out[r, o] (stride `outStride`) = Σ_i x[r, i] · W[o, i] + bias[o], for `rows` rows of x
    /// (stride `inStride`), through the kernel `Int8Kernel.active`. With `accumulate`, out's old
    /// value is added (a residual connection); with `gelu`, exact GELU is applied last. The C
    /// kernels do both in their epilogue; after the portable one they are separate passes. With
    /// `normalizing`, x's rows are LayerNorm-ed first (as they are quantized: see
    /// `quantizeActivations`).
    public static func multiply(_ x: UnsafePointer<Float>, rows: Int, inStride: Int, weight w: Int8Matrix,
                                bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, outStride: Int,
                                kernel: Int8Kernel = .active, gelu: Bool = false, accumulate: Bool = false,
                                normalizing norm: RowNormalization? = nil) {
        guard rows > 0, w.outFeatures > 0 else { return }
        let a = Activations(rows: rows, paddedIn: w.paddedIn)
        defer { a.deallocate() }
        quantizeActivations(x, rows: rows, k: w.inFeatures, stride: inStride, range: w.activationRange,
                            unsigned: kernel.unsignedActivations, normalizing: norm, into: a)
        // The AMX kernel reads the activations in tile order; products it does not take (fewer
        // than 16 rows, a depth that is not a multiple of 64) run on the VNNI kernel.
        let amx = kernel == .amx && rows >= 16 && w.paddedIn % 64 == 0
        let tiles: UnsafeMutablePointer<Int8>? = amx ? .allocate(capacity: bs_q8_amx_packed_bytes(Int32(rows), Int32(w.paddedIn))) : nil
        defer { tiles?.deallocate() }
        if let tiles { bs_q8_amx_pack(a.data, Int32(rows), Int32(w.paddedIn), tiles) }
        let fused = kernel != .portable
        let flags = fused ? (gelu ? BS_Q8_GELU : 0) | (accumulate ? BS_Q8_ACCUMULATE : 0) : 0
        // an unfused kernel writes the plain products; to be added, they go to a temporary first
        let n = w.outFeatures
        let products: UnsafeMutablePointer<Float> = !fused && accumulate ? .allocate(capacity: rows * n) : out
        let productStride = products == out ? outStride : n
        // Threads split the output panels; each thread sweeps all rows (row-blocked inside the kernel).
        // A few rows (decode steps) are bound by reading the weights: a second thread pays off
        // only when its share is large enough to outweigh handing it the work (~1 µs to a
        // spinning pool worker, see Parallel.onWorkers).
        let minPanels = rows >= 16 ? 1 : max(8, Self.fewRowsMinimumBytes / (16 * w.paddedIn))
        let body: (Range<Int>) -> Void = { panels in
            run(kernel, a, tiles, w, panels: panels, bias: bias, out: products, outStride: productStride, flags: flags)
        }
        if rows >= 16 {
            Parallel.forEachPiece(w.panels, minChunk: minPanels, body)
        } else {
            Parallel.forEachChunk(w.panels, minChunk: minPanels, body)   // one piece per thread
        }
        guard !fused else { return }
        if products != out {
            for r in 0..<rows { addInPlace(out + r * outStride, products + r * n, count: n) }
            products.deallocate()
        }
        if gelu { for r in 0..<rows { geluInPlace(out + r * outStride, count: n) } }
    }

    static func run(_ kernel: Int8Kernel, _ a: Activations, _ tiles: UnsafePointer<Int8>?, _ w: Int8Matrix,
                    panels: Range<Int>, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, outStride: Int,
                    flags: Int32) {
        let m = Int32(a.rows), kp = Int32(w.paddedIn), n = Int32(w.outFeatures)
        let p0 = Int32(panels.lowerBound), p1 = Int32(panels.upperBound)
        switch kernel {
        case .amx where tiles != nil:
            _ = bs_q8_gemm_amx(tiles, m, kp, w.packed, p0, p1, n, w.columnSums, a.scales, a.zeroPoints, w.scales, bias, out, outStride, flags)
        case .amx, .avx512vnni:
            _ = bs_q8_gemm_avx512vnni(a.data, m, kp, w.packed, p0, p1, n, w.columnSums, a.scales, a.zeroPoints, w.scales, bias, out, outStride, flags)
        case .avx2 where w.activationRange == .unsigned7:
            _ = bs_q8_gemm_avx2_u7(a.data, m, kp, w.packed, w.pairSafe ? 1 : 0, p0, p1, n, w.columnSums, a.scales, a.zeroPoints, w.scales, bias, out, outStride, flags)
        case .avx2:
            _ = bs_q8_gemm_avx2(a.data, m, kp, w.packed, p0, p1, n, w.columnSums, a.scales, a.zeroPoints, w.scales, bias, out, outStride, flags)
        case .portable:
            portable(a, w, panels: panels, bias: bias, out: out, outStride: outStride)
        }
    }

    // MARK: portable Swift SIMD kernel

    /// One panel (16 outputs) × up to 2 rows at a time. A 64-byte weight group is four
    /// `SIMD16<Int8>` chunks (chunk c = outputs 4c..4c+3 × 4 inputs); each is widened to Int16,
    /// multiplied by the row's 4 activation bytes repeated 4 times, widened to Int32 and
    /// accumulated; the 4 lanes of each output are added once at the end. This shape (no
    /// shuffles in the loop, only widen/multiply/add) is what Swift SIMD compiles to straight
    /// vector code on baseline x86-64 (SSE2) and arm64 (NEON).
    ///
    /// Measured (AMD EPYC Zen 1, 1 thread, inner loop 16 outputs × 3072 inputs): this shape
    /// 5.4 GOP/s; with `evenHalf`/`oddHalf` pair sums 4.7 GOP/s; with SIMD64 operands 0.05
    /// GOP/s (generic, not specialised); and no faster with `-target-cpu haswell` (5.2). The
    /// AVX2 C kernel reaches ~30 GOP/s per thread, hence the C kernels for x86.
    static func portable(_ a: Activations, _ w: Int8Matrix, panels: Range<Int>,
                         bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, outStride: Int) {
        let kp = w.paddedIn, groups = kp / 4, n = w.outFeatures
        let rowBlock = 64
        var rb = 0
        while rb < a.rows {
            let re = min(a.rows, rb + rowBlock)
            for p in panels {
                let wp = UnsafeRawPointer(w.packed + p * 16 * kp)
                var r = rb
                while r < re {
                    let two = r + 1 < re
                    let a0 = UnsafeRawPointer(a.data + r * kp)
                    let a1 = UnsafeRawPointer(a.data + (two ? r + 1 : r) * kp)
                    var x0 = SIMD16<Int32>(repeating: 0), x1 = x0, x2 = x0, x3 = x0
                    var y0 = x0, y1 = x0, y2 = x0, y3 = x0
                    for g in 0..<groups {
                        let av = SIMD16<Int16>(truncatingIfNeeded: unsafeBitCast(SIMD4<Int32>(repeating: a0.loadUnaligned(fromByteOffset: g * 4, as: Int32.self)), to: SIMD16<Int8>.self))
                        let bv = SIMD16<Int16>(truncatingIfNeeded: unsafeBitCast(SIMD4<Int32>(repeating: a1.loadUnaligned(fromByteOffset: g * 4, as: Int32.self)), to: SIMD16<Int8>.self))
                        let w0 = SIMD16<Int16>(truncatingIfNeeded: wp.loadUnaligned(fromByteOffset: g * 64, as: SIMD16<Int8>.self))
                        let w1 = SIMD16<Int16>(truncatingIfNeeded: wp.loadUnaligned(fromByteOffset: g * 64 + 16, as: SIMD16<Int8>.self))
                        let w2 = SIMD16<Int16>(truncatingIfNeeded: wp.loadUnaligned(fromByteOffset: g * 64 + 32, as: SIMD16<Int8>.self))
                        let w3 = SIMD16<Int16>(truncatingIfNeeded: wp.loadUnaligned(fromByteOffset: g * 64 + 48, as: SIMD16<Int8>.self))
                        x0 &+= SIMD16<Int32>(truncatingIfNeeded: w0 &* av)
                        x1 &+= SIMD16<Int32>(truncatingIfNeeded: w1 &* av)
                        x2 &+= SIMD16<Int32>(truncatingIfNeeded: w2 &* av)
                        x3 &+= SIMD16<Int32>(truncatingIfNeeded: w3 &* av)
                        y0 &+= SIMD16<Int32>(truncatingIfNeeded: w0 &* bv)
                        y1 &+= SIMD16<Int32>(truncatingIfNeeded: w1 &* bv)
                        y2 &+= SIMD16<Int32>(truncatingIfNeeded: w2 &* bv)
                        y3 &+= SIMD16<Int32>(truncatingIfNeeded: w3 &* bv)
                    }
                    store((x0, x1, x2, x3), row: r, panel: p, a: a, w: w, n: n, bias: bias, out: out, outStride: outStride)
                    if two { store((y0, y1, y2, y3), row: r + 1, panel: p, a: a, w: w, n: n, bias: bias, out: out, outStride: outStride) }
                    r += two ? 2 : 1
                }
            }
            rb = re
        }
    }

    @inline(__always)
    static func store(_ acc: (SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>, SIMD16<Int32>), row r: Int, panel p: Int,
                      a: Activations, w: Int8Matrix, n: Int,
                      bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, outStride: Int) {
        var sums = SIMD16<Int32>(repeating: 0)
        for c in 0..<4 {
            let v = c == 0 ? acc.0 : c == 1 ? acc.1 : c == 2 ? acc.2 : acc.3
            for j in 0..<4 { sums[c * 4 + j] = v[4 * j] &+ v[4 * j + 1] &+ v[4 * j + 2] &+ v[4 * j + 3] }
        }
        let sa = a.scales[r], zero = a.zeroPoints[r]
        let col = p * 16
        let dst = out + r * outStride + col
        for j in 0..<min(16, n - col) {
            dst[j] = Float(sums[j] &- zero &* w.columnSums[col + j]) * (sa * w.scales[col + j]) + (bias?[col + j] ?? 0)
        }
    }

    // MARK: scalar reference

    /// The definition every kernel must match exactly (tests): same activation quantization,
    /// plain integer loops.
    public static func reference(_ x: UnsafePointer<Float>, rows: Int, inStride: Int, weight w: Int8Matrix,
                                 bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, outStride: Int) {
        let a = Activations(rows: rows, paddedIn: w.paddedIn)
        defer { a.deallocate() }
        for r in 0..<rows {
            quantizeRow(x + r * inStride, k: w.inFeatures, out: a.data + r * a.paddedIn, paddedIn: a.paddedIn,
                        range: w.activationRange, unsigned: false, scale: a.scales + r, zeroPoint: a.zeroPoints + r)
        }
        for r in 0..<rows {
            for o in 0..<w.outFeatures {
                var acc: Int32 = 0, weightSum: Int32 = 0
                for i in 0..<w.inFeatures {
                    acc &+= Int32(a.data[r * a.paddedIn + i]) * Int32(w.quantized(o, i))
                    weightSum &+= Int32(w.quantized(o, i))
                }
                out[r * outStride + o] = Float(acc - a.zeroPoints[r] * weightSum) * (a.scales[r] * w.scales[o]) + (bias?[o] ?? 0)
            }
        }
    }
}
