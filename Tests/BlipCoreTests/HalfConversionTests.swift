import Testing
@testable import BlipCore

/// F16 tensors (tiny fixtures, word embeddings of quantized files) are widened with integer
/// arithmetic; it must agree with the language's Float16 → Float conversion on every bit pattern.
@Suite struct HalfConversionTests {
    @Test func everyHalfBitPatternConvertsExactly() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits)), got = halfToFloat(bits)
            if expected.isNaN {
                #expect(got.isNaN, "0x\(String(bits, radix: 16))")
            } else {
                #expect(got.bitPattern == expected.bitPattern, "0x\(String(bits, radix: 16))")
            }
        }
    }
}
