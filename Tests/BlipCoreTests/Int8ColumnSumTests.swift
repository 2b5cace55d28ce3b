import Testing
@testable import BlipKernels

/// The per-output sums of quantized weights that the zero-point correction of asymmetric
/// activations needs, against a direct sum over the dequantized matrix.
@Suite struct Int8ColumnSumTests {
    @Test(arguments: [(1, 1), (17, 5), (33, 70), (64, 768)])
    func columnSumsMatchWeights(shape: (Int, Int)) {
        let (out, k) = shape
        var state: UInt64 = 12345
        let w: [Float] = (0..<(out * k)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(state >> 33) % 2001 - 1000) / 997
        }
        let m = w.withUnsafeBufferPointer { Int8Matrix(quantizing: $0.baseAddress!, out: out, in: k) }
        let deq = m.dequantized()
        let sums = m.columnSums
        for o in 0..<out {
            var expected: Int32 = 0
            for c in 0..<k where m.scales[o] != 0 { expected += Int32((deq[o * k + c] / m.scales[o]).rounded()) }
            #expect(sums[o] == expected, "output \(o)")
        }
        for o in out..<(m.panels * 16) { #expect(sums[o] == 0) }
    }
}
