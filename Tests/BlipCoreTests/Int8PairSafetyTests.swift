import Testing
@testable import BlipKernels

/// Pair safety (see `Int8Matrix`): the AVX2 kernel for 7-bit activations adds two groups'
/// 16-bit lane sums before widening, which is exact only when every lane's four weights have
/// positive and negative parts within ±258. These tests pin the detection, the quantizer's
/// scale widening, and exactness at the worst case the limit allows.
@Suite struct Int8PairSafetyTests {
    /// Packed bytes for one panel (16 outputs) × `groups` groups, zero except where `set` writes.
    static func panel(groups: Int, _ set: (UnsafeMutablePointer<Int8>) -> Void) -> [Int8] {
        var bytes = [Int8](repeating: 0, count: 16 * 4 * groups)
        bytes.withUnsafeMutableBufferPointer { set($0.baseAddress!) }
        return bytes
    }

    static func matrix(_ bytes: [Int8], out: Int = 16, in k: Int) -> Int8Matrix {
        let owned = UnsafeMutablePointer<Int8>.allocate(capacity: bytes.count)   // kept for the process
        owned.initialize(from: bytes, count: bytes.count)
        let scales = [Float](repeating: 1, count: out)
        return scales.withUnsafeBufferPointer {
            Int8Matrix(packed: owned, scales: $0.baseAddress!, out: out, in: k, activations: .unsigned7, owner: nil)
        }
    }

    @Test func detectsLanesOverTheLimitInEitherSign() {
        // lane 5 = output 2, inputs 2, 3 of group 0 and 6, 7 of group 1
        let atLimit = Self.panel(groups: 2) { p in p[10] = 127; p[11] = 127; p[74] = 4 }
        #expect(Self.matrix(atLimit, in: 8).pairSafe)
        let over = Self.panel(groups: 2) { p in p[10] = 127; p[11] = 127; p[74] = 5 }
        #expect(!Self.matrix(over, in: 8).pairSafe)
        let negativeOver = Self.panel(groups: 2) { p in p[10] = -127; p[75] = -127; p[11] = -5; p[74] = 100 }
        #expect(!Self.matrix(negativeOver, in: 8).pairSafe)
        // the same bytes in an odd, unpaired last group are safe: one group never overflows
        let lastGroup = Self.panel(groups: 3) { p in for t in 128..<192 { p[t] = 127 } }
        #expect(Self.matrix(lastGroup, in: 12).pairSafe)
    }

    /// The quantizer makes 7-bit weights pair-safe by widening the scale of the outputs that
    /// need it, and only theirs: every other output keeps its bytes and scale, the widened ones
    /// stay within half a step of W and widen no more than their worst lane asks.
    @Test func pairSafeQuantizationWidensOnlyOffendingOutputs() {
        let out = 20, k = 24
        var state: UInt64 = 3
        var w = (0..<(out * k)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23) * 0.3   // levels <= 39
        }
        for o in 0..<out { w[o * k + 9] = 1 }   // each output's largest weight: 127 levels
        for i in [0, 1, 4, 5] { w[3 * k + i] = 1 }     // output 3: inputs 0, 1, 4, 5 meet in lane 0: 508
        for i in [18, 19, 22, 23] { w[17 * k + i] = -0.9 }   // output 17: a negative lane
        let plain = Int8Matrix.quantizePack(w, out: out, in: k)
        let safe = Int8Matrix.quantizePack(w, out: out, in: k, pairSafe: true)
        #expect(safe.widened == 2)
        let kp = Int8Matrix.paddedIn(k)
        func levels(_ q: [Int8], _ o: Int) -> [Int8] { (0..<kp).map { i in q[((o / 16) * kp / 4 + i / 4) * 64 + (o % 16) * 4 + i % 4] } }
        for o in 0..<out {
            if o == 3 || o == 17 {
                #expect(safe.scales[o] > plain.scales[o])
                #expect(Int8Matrix.worstPairLane(levels(safe.packed, o)) <= Int(Int8Matrix.pairLaneLimit))
                let needed = Float(Int8Matrix.worstPairLane(levels(plain.packed, o))) / Float(Int8Matrix.pairLaneLimit)
                #expect(safe.scales[o] <= plain.scales[o] * needed * 1.03, "output \(o)")
                let q = levels(safe.packed, o)
                for i in 0..<k { #expect(abs(Float(q[i]) * safe.scales[o] - w[o * k + i]) <= safe.scales[o] * 0.5001) }
            } else {
                #expect(levels(safe.packed, o) == levels(plain.packed, o) && safe.scales[o] == plain.scales[o], "output \(o)")
            }
        }
        #expect(!Self.matrix(plain.packed, out: out, in: k).pairSafe)
        #expect(Self.matrix(safe.packed, out: out, in: k).pairSafe)
        #expect(w.withUnsafeBufferPointer { Int8Matrix(quantizing: $0.baseAddress!, out: out, in: k, activations: .unsigned7) }.pairSafe)
    }

    /// The largest lane sums the limit allows, against 127-level activations: every kernel
    /// must still match the reference exactly (no int16 wraparound).
    @Test(arguments: Int8Kernel.allCases.filter(\.isSupported))
    func worstCaseLanesStayExact(kernel: Int8Kernel) {
        let k = 16
        let bytes = Self.panel(groups: 4) { p in
            for j in 0..<16 {
                for g in [0, 2] {
                    // positive lanes at exactly 258, negative lanes at exactly -258
                    let sign: Int8 = j % 2 == 0 ? 1 : -1
                    p[g * 64 + j * 4] = 127 * sign; p[g * 64 + j * 4 + 1] = 127 * sign
                    p[(g + 1) * 64 + j * 4] = 2 * sign; p[(g + 1) * 64 + j * 4 + 1] = 2 * sign
                    p[g * 64 + j * 4 + 2] = 127 * sign; p[(g + 1) * 64 + j * 4 + 3] = 127 * sign
                    p[(g + 1) * 64 + j * 4 + 2] = 4 * sign
                }
            }
        }
        let m = Self.matrix(bytes, in: k)
        #expect(m.pairSafe)
        // rows whose top levels land on the big weights: all-max, and zero point at 0
        let x: [Float] = (0..<(3 * k)).map { i in i / k == 1 ? Float(i % 3) : 1 }
        var got = [Float](repeating: 0, count: 3 * 16), ref = got
        Int8Gemm.multiply(x, rows: 3, inStride: k, weight: m, bias: nil, out: &got, outStride: 16, kernel: kernel)
        Int8Gemm.reference(x, rows: 3, inStride: k, weight: m, bias: nil, out: &ref, outStride: 16)
        #expect(got == ref)
        // row 0 is all level 127 (scale 1/127): output j = ±(2 pairs · 2 lanes · 258)
        #expect(abs(ref[0] - 1032) < 1e-3 && abs(ref[1] + 1032) < 1e-3)
    }
}
