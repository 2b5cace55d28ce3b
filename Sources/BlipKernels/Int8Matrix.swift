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
    /// `.unsigned7` activations the weights are also made pair-safe (see `quantizePack`).
    public convenience init(quantizing w: UnsafePointer<Float>, out: Int, in k: Int,
                            activations: Int8ActivationRange = .signed8) {
        let q = Self.quantizePack(w, out: out, in: k, pairSafe: activations == .unsigned7)
        self.init(ownedPacked: q.packed, scales: q.scales, out: out, in: k, activations: activations)
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

    /// Symmetric per-output-channel quantization: scale = max|W[o,:]| / 127, q = round(W/scale),
    /// half to even. Returns the packed bytes (`packedCount(out:in:)`), `out` scales and how
    /// many outputs had their scale widened.
    ///
    /// With `pairSafe` (weights for 7-bit activations), an output whose quantized weights
    /// leave a lane over `pairLaneLimit` is quantized again with its scale widened by the
    /// lane's excess (until no lane is over): a slightly coarser grid for that one output
    /// (e.g. 97 of 127 levels) instead of cutting its largest weights by up to a quarter, as
    /// scaling the offending lane's weights down did. On a random-weight BLIP-base ViT this
    /// took the int8 states' error against float32 from 3.20e-2 to 3.02e-2 (BENCHMARKS.md,
    /// session 29). About 0.1% of lanes exceed the limit, so 15–20% of a BLIP-base layer's
    /// outputs are widened, by 7% at the median (19% at the 90th percentile).
    public static func quantizePack(_ w: UnsafePointer<Float>, out: Int, in k: Int,
                                    pairSafe: Bool = false) -> (packed: [Int8], scales: [Float], widened: Int) {
        let kp = paddedIn(k)
        var packed = [Int8](repeating: 0, count: packedCount(out: out, in: k))
        var scales = [Float](repeating: 0, count: out)
        var widenedOutputs = [Bool](repeating: false, count: out)
        let panelCount = panels(out)
        packed.withUnsafeMutableBufferPointer { dst in
            scales.withUnsafeMutableBufferPointer { scaleOut in
                widenedOutputs.withUnsafeMutableBufferPointer { widened in
                    // Threads take whole panels (16 outputs), so no two write the same cache line.
                    Parallel.forEachChunk(panelCount, minChunk: 16) { range in
                        var levels = [Int8](repeating: 0, count: kp)   // padding stays 0
                        for o in (range.lowerBound * 16)..<min(out, range.upperBound * 16) {
                            let row = w + o * k
                            var amax: Float = 0
                            for i in 0..<k where row[i].isFinite { amax = max(amax, abs(row[i])) }
                            var scale = amax / 127
                            while true {
                                quantizeRow(row, k: k, scale: scale, into: &levels)
                                let worst = pairSafe ? worstPairLane(levels) : 0
                                if worst <= Int(pairLaneLimit) { break }
                                // at least 0.2% wider per round: rounding may leave a lane just over
                                scale *= max(Float(worst) / Float(pairLaneLimit), 1.002)
                                widened[o] = true
                            }
                            scaleOut[o] = scale
                            let base = (o / 16) * kp * 16 + (o % 16) * 4
                            for i in 0..<k { dst[base + (i >> 2) * 64 + (i & 3)] = levels[i] }
                        }
                    }
                }
            }
        }
        return (packed, scales, widenedOutputs.filter { $0 }.count)
    }

    /// levels[i] = round(row[i] / scale) (half to even), clamped to ±127; 0 for non-finite values.
    private static func quantizeRow(_ row: UnsafePointer<Float>, k: Int, scale: Float, into levels: inout [Int8]) {
        let inv: Float = scale > 0 ? 1 / scale : 0
        for i in 0..<k {
            // |row[i] · inv| ≤ 127 for finite values: round half to even by the 1.5·2²³ trick
            // (rounded() is a library call on baseline x86-64).
            let x = row[i] * inv
            levels[i] = x.isFinite ? Int8(max(-127, min(127, (x + 12582912) - 12582912))) : 0
        }
    }

    /// The largest positive or negative part over one output's pair lanes, from its paddedIn
    /// levels (`bs_q8_worst_pair_lane`, the rule the load-time panel check applies too).
    static func worstPairLane(_ levels: [Int8]) -> Int {
        Int(bs_q8_worst_pair_lane(levels, Int32(levels.count / 4)))
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
