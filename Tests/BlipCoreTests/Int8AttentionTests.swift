import Foundation
import Testing
@testable import BlipKernels
import CBlipSupport

/// The int8 attention of int8 models (CBlipSupport/q8_attention.c) against the float32
/// attention: close to int8 rounding, the same bits for any thread count, never NaN on zero
/// rows, and used exactly where the CPU has an int8 kernel in C (AVX-512 VNNI, or AVX2 with
/// 7-bit queries and probabilities).
@Suite struct Int8AttentionTests {
    static let runsHere = Int8Kernel.active != .portable
    /// The AVX2 kernel's queries and probabilities have half the VNNI kernel's levels.
    static let boundFactor = Int8Kernel.active.unsignedActivations ? 1.0 : 2.0

    /// Uniform in [-scale, scale), from a seed (the generator of the int8 GEMM tests).
    private static func random(_ count: Int, seed: UInt64, scale: Float) -> [Float] {
        var rng = Int8GemmTests.Rng(state: seed)
        return rng.array(count, scale: scale)
    }

    private static func relativeRMS(_ x: [Float], _ reference: [Float]) -> Double {
        var error = 0.0, norm = 0.0
        for (a, b) in zip(x, reference) { error += Double(a - b) * Double(a - b); norm += Double(b) * Double(b) }
        return (error / max(norm, 1e-30)).squareRoot()
    }

    /// (float32 reference, int8 with 1 thread, int8 with 2 threads, whether int8 ran).
    private static func run(_ s: AttentionShape, _ qkv: [Float]) throws -> ([Float], [[Float]], Bool) {
        try Blas.load()
        let width = s.heads * s.headDim, stride = 3 * width
        let scale = 1 / Float(s.headDim).squareRoot()
        var expected = [Float](repeating: .nan, count: s.queries * width)
        var scores = [Float](repeating: 0, count: s.scratchCount)
        var outputs: [[Float]] = []
        var ran = true
        qkv.withUnsafeBufferPointer { p in
            let q = p.baseAddress!, k = q + width, v = q + 2 * width
            blasAttention(shape: s, q: q, qStride: stride, k: k, kStride: stride, v: v, vStride: stride, scale: scale,
                          causalOffset: nil, scores: &scores, out: &expected, outStride: width)
            for threads in [1, 2] {
                var out = [Float](repeating: .nan, count: s.queries * width)
                Parallel.withThreads(threads) {
                    ran = int8Attention(shape: s, q: q, qStride: stride, k: k, kStride: stride, v: v, vStride: stride,
                                        scale: scale, out: &out, outStride: width) && ran
                }
                outputs.append(out)
            }
        }
        return (expected, outputs, ran)
    }

    /// Relative RMS bounds from measurement with margin (the VNNI kernel's; the AVX2 kernel
    /// measured 0.0074 to 0.060 on these cases): the error grows with how sharp the softmax rows
    /// are (input scale), since a score's int8 error moves exp(score) relatively.
    @Test(.enabled(if: runsHere), arguments: [
        (577, 577, 12, 64, Float(1), 0.01), (577, 577, 12, 64, Float(3), 0.04), (7, 50, 3, 64, Float(2), 0.03),
        (50, 61, 2, 16, Float(2), 0.03), (1, 1, 1, 64, Float(2), 0.01), (5, 3, 2, 32, Float(2), 0.03),
        (70, 577, 12, 64, Float(2), 0.03),
    ])
    func closeToFloat32AndThreadIndependent(queries: Int, keys: Int, heads: Int, headDim: Int, scale: Float, bound: Double) throws {
        let s = AttentionShape(queries: queries, keys: keys, heads: heads, headDim: headDim)
        let qkv = Self.random(max(queries, keys) * 3 * heads * headDim, seed: 11, scale: scale)
        let (expected, outputs, ran) = try Self.run(s, qkv)
        #expect(ran)
        let error = Self.relativeRMS(outputs[0], expected)
        #expect(error < bound * Self.boundFactor, "relative RMS \(error) for \(s)")
        #expect(outputs[0] == outputs[1], "the thread count changed the bits")
    }

    /// A head whose keys and values are all zero attends uniformly to zero values: zero output,
    /// no division by a zero scale.
    @Test(.enabled(if: runsHere)) func zeroRowsGiveZeroNotNaN() throws {
        let s = AttentionShape(queries: 9, keys: 20, heads: 2, headDim: 16)
        let (_, outputs, ran) = try Self.run(s, [Float](repeating: 0, count: 20 * 3 * 32))
        #expect(ran)
        #expect(outputs[0].allSatisfy { $0 == 0 })
    }

    /// One key: the output is that key's value row, up to its int8 rounding (1/254 of the
    /// column's largest value).
    @Test(.enabled(if: runsHere)) func singleKeyReturnsItsValue() throws {
        let s = AttentionShape(queries: 4, keys: 1, heads: 1, headDim: 32)
        let qkv = Self.random(4 * 96, seed: 5, scale: 2)
        let (expected, outputs, _) = try Self.run(s, qkv)
        for (a, b) in zip(outputs[0], expected) { #expect(abs(a - b) <= 2 / 254 + 1e-6) }
    }

    /// Where the kernel cannot run it says so and leaves the output alone, so the caller runs
    /// the float32 attention: CPUs without VNNI, and head widths it does not take.
    @Test func declinesWhereItCannotRun() throws {
        let s = AttentionShape(queries: 3, keys: 5, heads: 2, headDim: 40)
        var out = [Float](repeating: 7, count: 3 * 80)
        let qkv = Self.random(5 * 240, seed: 3, scale: 1)
        let ran = qkv.withUnsafeBufferPointer { p in
            int8Attention(shape: s, q: p.baseAddress!, qStride: 240, k: p.baseAddress! + 80, kStride: 240,
                          v: p.baseAddress! + 160, vStride: 240, scale: 0.5, out: &out, outStride: 80)
        }
        #expect(!ran)
        #expect(out.allSatisfy { $0 == 7 })
        if !Self.runsHere {
            let square = AttentionShape(queries: 3, keys: 5, heads: 2, headDim: 64)
            var other = [Float](repeating: 7, count: 3 * 128)
            let values = Self.random(5 * 384, seed: 3, scale: 1)
            let declined = !values.withUnsafeBufferPointer { p in
                int8Attention(shape: square, q: p.baseAddress!, qStride: 384, k: p.baseAddress! + 128, kStride: 384,
                              v: p.baseAddress! + 256, vStride: 384, scale: 0.5, out: &other, outStride: 128)
            }
            #expect(declined)
        }
    }
}
