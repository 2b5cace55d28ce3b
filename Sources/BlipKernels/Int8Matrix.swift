import CBlipSupport

/// A weight matrix W [outFeatures × inFeatures] quantized to int8 with one float scale per
/// output channel (row of W), symmetric: W[o, i] ≈ q[o, i] · scale[o], q ∈ [-127, 127].
///
/// Packed layout ("panel16x4", the one every int8 kernel reads, and the one the quantized
/// file stores): K is padded with zeros to `paddedIn` (a multiple of 4) and the outputs to
/// `panels · 16`. Panel p holds outputs 16p ..< 16p+16; inside it, for each group g of four
/// inputs, 64 bytes = [16 outputs][4 inputs]:
///
///     packed[(p · paddedIn/4 + g) · 64 + j · 4 + t] = q[16p + j, 4g + t]
///
/// A 64-byte group is one AVX-512 register (two AVX2 registers) and matches `vpdpbusd` /
/// `vpmaddubsw` operand order: each output lane sums 4 adjacent byte products.
///
/// Pair safety: `vpmaddubsw` sums byte products into 16-bit lanes; lane (j, h) of group g
/// holds inputs 4g + 2h and 4g + 2h + 1 of output j. The weights are *pair-safe* when, for
/// every even g with g + 1 < paddedIn / 4, the four weights of lane (j, h) in groups g and
/// g + 1 have positive part ≤ 258 and negative part ≥ −258. Then, with activations in
/// [0, 127] (`Int8ActivationRange.unsigned7`), two groups' lane sums add in int16 without
/// overflow (127 · 258 = 32766), which the AVX2 kernel uses to save a widening multiply.
public final class Int8Matrix: @unchecked Sendable {
    public static let panelWidth = 16
    public static let groupSize = 4

    public let outFeatures: Int
    public let inFeatures: Int
    public let paddedIn: Int
    public let panels: Int
    /// Packed weights, `packedCount` bytes (borrowed from a mapping or owned).
    public let packed: UnsafePointer<Int8>
    /// Scale per output, padded with zeros to panels · 16.
    public let scales: UnsafePointer<Float>
    /// Σ_k q[o, k] per padded output: the zero-point correction of asymmetric activations.
    public let columnSums: UnsafePointer<Int32>
    /// How the input rows are quantized at run time (a property of the stored model: the
    /// quantizer chooses it per matrix).
    public let activationRange: Int8ActivationRange
    /// The weights are pair-safe (see above); found at init, never trusted from a file.
    public let pairSafe: Bool
    private let owner: AnyObject?
    private let ownedPacked: UnsafeMutablePointer<Int8>?
    private let ownedScales: UnsafeMutablePointer<Float>
    private let ownedSums: UnsafeMutablePointer<Int32>

    public static func paddedIn(_ inFeatures: Int) -> Int { (inFeatures + 3) / 4 * 4 }
    public static func panels(_ outFeatures: Int) -> Int { (outFeatures + 15) / 16 }
    public static func packedCount(out: Int, in k: Int) -> Int { panels(out) * 16 * paddedIn(k) }
    public var packedCount: Int { panels * 16 * paddedIn }

    /// Wraps packed weights that `owner` keeps alive (e.g. a memory-mapped file) and `scales`
    /// (outFeatures values). The caller has checked `packed` holds `packedCount(out:in:)` bytes.
    public init(packed: UnsafePointer<Int8>, scales s: UnsafePointer<Float>, out: Int, in k: Int,
                activations: Int8ActivationRange = .signed8, owner: AnyObject?) {
        activationRange = activations
        outFeatures = out
        inFeatures = k
        paddedIn = Self.paddedIn(k)
        panels = Self.panels(out)
        self.packed = packed
        self.owner = owner
        ownedPacked = nil
        let padded = panels * 16
        ownedScales = .allocate(capacity: padded)
        ownedScales.initialize(repeating: 0, count: padded)
        ownedScales.update(from: s, count: out)
        scales = UnsafePointer(ownedScales)
        ownedSums = .allocate(capacity: padded)
        columnSums = UnsafePointer(ownedSums)
        pairSafe = Self.computeColumnSums(packed, panels: panels, paddedIn: paddedIn, into: ownedSums)
    }

    /// Quantizes a float matrix W [out × in] (row-major) per output channel and packs it; for
    /// `.unsigned7` activations the weights are also made pair-safe (`enforcePairSafety`).
    public convenience init(quantizing w: UnsafePointer<Float>, out: Int, in k: Int,
                            activations: Int8ActivationRange = .signed8) {
        var (q, s) = Self.quantizePack(w, out: out, in: k)
        if activations == .unsigned7 { _ = Self.enforcePairSafety(&q, panels: Self.panels(out), paddedIn: Self.paddedIn(k)) }
        self.init(ownedPacked: q, scales: s, out: out, in: k, activations: activations)
    }

    private init(ownedPacked q: [Int8], scales s: [Float], out: Int, in k: Int, activations: Int8ActivationRange) {
        activationRange = activations
        outFeatures = out
        inFeatures = k
        paddedIn = Self.paddedIn(k)
        panels = Self.panels(out)
        let buffer = UnsafeMutablePointer<Int8>.allocate(capacity: max(q.count, 1))
        q.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: q.count) }
        ownedPacked = buffer
        packed = UnsafePointer(buffer)
        owner = nil
        let padded = panels * 16
        let sc = UnsafeMutablePointer<Float>.allocate(capacity: padded)
        sc.initialize(repeating: 0, count: padded)
        s.withUnsafeBufferPointer { sc.update(from: $0.baseAddress!, count: out) }
        ownedScales = sc
        scales = UnsafePointer(sc)
        ownedSums = .allocate(capacity: padded)
        columnSums = UnsafePointer(ownedSums)
        pairSafe = Self.computeColumnSums(packed, panels: panels, paddedIn: paddedIn, into: ownedSums)
    }

    deinit {
        ownedPacked?.deallocate()
        ownedScales.deallocate()
        ownedSums.deallocate()
    }

    /// Column sums, and whether the weights are pair-safe (the return value). Plain integer
    /// loops: the generic SIMD64 shuffles this replaced were scalarised by the compiler and made
    /// loading an int8 BLIP-base take 8 s; this takes a few hundred ms.
    static func computeColumnSums(_ packed: UnsafePointer<Int8>, panels: Int, paddedIn: Int,
                                  into sums: UnsafeMutablePointer<Int32>) -> Bool {
        let groups = paddedIn / 4
        let unsafePanels = UnsafeMutablePointer<Bool>.allocate(capacity: max(panels, 1))
        defer { unsafePanels.deallocate() }
        Parallel.forEachChunk(panels, minChunk: 8) { range in
            for p in range {
                let base = packed + p * 16 * paddedIn
                var acc = SIMD16<Int32>(repeating: 0)
                for g in 0..<groups {
                    let group = base + g * 64
                    for t in 0..<4 {
                        var lane = SIMD16<Int32>(repeating: 0)
                        for j in 0..<16 { lane[j] = Int32(group[j * 4 + t]) }
                        acc &+= lane
                    }
                }
                for j in 0..<16 { sums[p * 16 + j] = acc[j] }
                unsafePanels[p] = bs_q8_panel_pair_safe(base, Int32(groups), pairLaneLimit) == 0
            }
        }
        return !(0..<panels).contains { unsafePanels[$0] }
    }

    /// The largest positive part and negative part (as a positive number) a pair-safe lane may have.
    public static let pairLaneLimit: Int32 = 258

    /// Makes packed weights pair-safe: in each lane whose positive (negative) part exceeds
    /// `pairLaneLimit`, the positive (negative) weights are scaled by limit / part, rounded
    /// toward zero. Returns how many lanes changed (about 0.1% of a BLIP-base matrix's lanes,
    /// e.g. 170 of 147,456: a lane exceeds the limit only when large same-sign weights meet in it).
    @discardableResult
    public static func enforcePairSafety(_ packed: inout [Int8], panels: Int, paddedIn: Int) -> Int {
        packed.withUnsafeMutableBufferPointer { buffer in
            (0..<panels).reduce(0) { changed, p in
                changed + Int(bs_q8_panel_make_pair_safe(buffer.baseAddress! + p * 16 * paddedIn, Int32(paddedIn / 4), pairLaneLimit))
            }
        }
    }

    /// Symmetric per-output-channel quantization: scale = max|W[o,:]| / 127, q = round(W/scale), half to even.
    /// Returns the packed bytes (`packedCount(out:in:)`) and `out` scales.
    public static func quantizePack(_ w: UnsafePointer<Float>, out: Int, in k: Int) -> (packed: [Int8], scales: [Float]) {
        let kp = paddedIn(k)
        var packed = [Int8](repeating: 0, count: packedCount(out: out, in: k))
        var scales = [Float](repeating: 0, count: out)
        let panelCount = panels(out)
        packed.withUnsafeMutableBufferPointer { dst in
            scales.withUnsafeMutableBufferPointer { scaleOut in
                // Threads take whole panels (16 outputs), so no two write the same cache line.
                Parallel.forEachChunk(panelCount, minChunk: 16) { range in
                    for o in (range.lowerBound * 16)..<min(out, range.upperBound * 16) {
                        let row = w + o * k
                        var amax: Float = 0
                        for i in 0..<k where row[i].isFinite { amax = max(amax, abs(row[i])) }
                        let scale = amax / 127
                        scaleOut[o] = scale
                        let inv: Float = scale > 0 ? 1 / scale : 0
                        let base = (o / 16) * kp * 16 + (o % 16) * 4
                        for i in 0..<k {
                            // |row[i] · inv| ≤ 127 for finite values: round half to even by
                            // the 1.5·2²³ trick (rounded() is a library call on baseline x86-64).
                            let x = row[i] * inv
                            let q: Int8 = x.isFinite ? Int8(max(-127, min(127, (x + 12582912) - 12582912))) : 0
                            dst[base + (i >> 2) * 64 + (i & 3)] = q
                        }
                    }
                }
            }
        }
        return (packed, scales)
    }

    /// q[o, i] from the packed layout (tests, dequantization).
    @inline(__always)
    public func quantized(_ o: Int, _ i: Int) -> Int8 {
        packed[((o / 16) * paddedIn / 4 + i / 4) * 64 + (o % 16) * 4 + i % 4]
    }

    /// W ≈ q · scale as floats [out × in].
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: outFeatures * inFeatures)
        for o in 0..<outFeatures {
            for i in 0..<inFeatures { out[o * inFeatures + i] = Float(quantized(o, i)) * scales[o] }
        }
        return out
    }
}
