import Testing
import BlipKernels

/// Pair safety (see `Int8Matrix`): the AVX2 kernel for 7-bit activations adds two groups'
/// 16-bit lane sums before widening, which is exact only when every lane's four weights have
/// positive and negative parts within ±258. These tests pin the detection, the quantizer's
/// enforcement, and exactness at the worst case the limit allows.
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

    @Test func enforcementChangesOnlyViolatingLanesAndMakesThemSafe() {
        var bytes = Self.panel(groups: 4) { p in
            p[0] = 127; p[1] = 127; p[64] = 127; p[65] = 1          // lane 0: positive part 382
            p[130] = -100; p[131] = -100; p[194] = -100              // lane 1 of pair 2: negative part 300
            p[3] = 50; p[66] = -60                                   // safe lanes stay as they are
        }
        let before = bytes
        let changed = Int8Matrix.enforcePairSafety(&bytes, panels: 1, paddedIn: 16)
        #expect(changed == 2)
        #expect(Self.matrix(bytes, in: 16).pairSafe)
        #expect(bytes[3] == 50 && bytes[66] == -60)
        #expect(Int32(bytes[0]) + Int32(bytes[1]) + Int32(bytes[64]) + Int32(bytes[65]) <= Int8Matrix.pairLaneLimit)
        #expect(bytes[0] == Int8(127 * 258 / 382) && bytes[65] == 0)
        #expect(bytes[130] == Int8(-100 * 258 / 300))
        var changedBytes = 0
        for i in bytes.indices where bytes[i] != before[i] { changedBytes += 1 }
        #expect(changedBytes == 7)
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
