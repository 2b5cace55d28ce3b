import Foundation
import Testing
@testable import BlipCore

/// Beam sampling's draw of 2 × beams candidates without replacement from softmax(scores).
@Suite struct BeamSamplingTests {
    func draw(_ scores: [Float], keep: Int, seed: UInt64) throws -> [Int] {
        let weights = UnsafeMutablePointer<Double>.allocate(capacity: 2 * scores.count + 1)
        defer { weights.deallocate() }
        var rng = SeededRandom(seed: seed)
        var value = [Float](repeating: 0, count: keep), index = [Int](repeating: 0, count: keep)
        try scores.withUnsafeBufferPointer {
            try sampleWithoutReplacement($0.baseAddress!, count: scores.count, keep: keep, weights: weights,
                                         rng: &rng, value: &value, index: &index)
        }
        #expect(zip(value, value.dropFirst()).allSatisfy { $0 >= $1 }, "drawn values come best first")
        #expect(zip(value, index).allSatisfy { $0 == scores[$1] })
        return index
    }

    @Test func drawsDistinctEntriesInProportionToTheirProbability() throws {
        // log-probabilities of 0.5, 0.25, 0.125, 0.125 and a forbidden entry
        let scores: [Float] = [log(0.5), log(0.25), log(0.125), log(0.125), -.infinity]
        var timesDrawn = [Int](repeating: 0, count: 5)
        for seed in 0..<4000 {
            let drawn = try draw(scores, keep: 2, seed: UInt64(seed))
            #expect(Set(drawn).count == 2 && !drawn.contains(4))
            for i in drawn { timesDrawn[i] += 1 }
        }
        // P(i among 2 draws without replacement) = p_i + Σ_{j≠i} p_j · p_i / (1 − p_j)
        let expected: [Double] = [0.8095, 0.5714, 0.3095, 0.3095, 0]
        for i in 0..<5 {   // 3 standard deviations of a proportion over 4000 draws: 0.025
            #expect(abs(Double(timesDrawn[i]) / 4000 - expected[i]) < 0.025, "entry \(i): \(timesDrawn[i])")
        }
    }

    @Test func sameSeedSameDraw() throws {
        let scores = (0..<1000).map { Float(sin(Double($0))) }
        #expect(try draw(scores, keep: 16, seed: 7) == draw(scores, keep: 16, seed: 7))
        #expect(try draw(scores, keep: 16, seed: 7) != draw(scores, keep: 16, seed: 8))
    }

    /// 64 beams over a 30,522-word vocabulary: 128 draws from ~2 M entries must not scan them
    /// all per draw (a fuzzer found that as a timeout). A scan per draw is 1.3 G steps for these
    /// five calls, minutes in a debug build; the bound is loose for ASan on a busy machine.
    @Test func manyBeamsOverALargeVocabularyAreFast() throws {
        let scores = (0..<(64 * 30522)).map { Float(($0 * 7919) % 1000) / 100 }
        let started = Date()
        for seed in 0..<5 { _ = try draw(scores, keep: 128, seed: UInt64(seed)) }
        #expect(Date().timeIntervalSince(started) < 60)
    }

    @Test func tooFewCandidatesIsAnError() {
        #expect(throws: BlipError.self) { try draw([0, -.infinity, -.infinity], keep: 2, seed: 1) }
    }
}
