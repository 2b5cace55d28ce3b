import Testing
@testable import BlipCore

/// The radix select under top-k: the k-th largest key counted with multiplicity (what a
/// descending sort puts at position k), for every k on rows shaped to stop at each pass.
@Suite struct RadixSelectTests {
    @Test func matchesADescendingSort() {
        var rng = SystemRandomNumberGenerator()
        let shapes: [(count: Int, key: (inout SystemRandomNumberGenerator) -> UInt32)] = [
            (1, { UInt32.random(in: 0...UInt32.max, using: &$0) }),
            (700, { _ in 42 }),                                             // one value: no pass narrows
            (900, { UInt32.random(in: 0..<8, using: &$0) << 24 }),         // only the top byte differs
            (1000, { UInt32.random(in: 0..<300, using: &$0) }),             // many ties in the low bytes
            (1000, { UInt32.random(in: 0...UInt32.max, using: &$0) }),
            (257, { UInt32.random(in: 0...3, using: &$0) * 0x0101_0101 }),  // every byte at once
            (300, { [0, UInt32.max, 0x8000_0000, 0x7FFF_FFFF][Int.random(in: 0..<4, using: &$0)] }),
        ]
        for shape in shapes {
            let keys = (0..<shape.count).map { _ in shape.key(&rng) }
            let descending = keys.sorted(by: >)
            var scratch = [UInt32](repeating: 7, count: shape.count)
            for k in 1...shape.count {
                let got = keys.withUnsafeBufferPointer { kb in
                    scratch.withUnsafeMutableBufferPointer { sb in
                        radixSelectLargest(keys: kb.baseAddress!, count: shape.count, k: k, scratch: sb.baseAddress!)
                    }
                }
                #expect(got == descending[k - 1], "\(shape.count) keys, k \(k)")
                if got != descending[k - 1] { break }
            }
        }
    }

    /// Top-k over a vocabulary-sized row with k near the vocabulary (the case a min-heap made
    /// slow): everything below the k-th largest score goes, ties with it stay, -0 equals +0.
    @Test func topKKeepsTheKLargestAndTheirTies() {
        var rng = SystemRandomNumberGenerator()
        let vocab = 30522
        for k in [1, 2, 50, 1000, 27764, vocab - 1] {
            var options = GenerationOptions()
            options.doSample = true
            options.topK = k
            options.topP = 1
            // scores on a coarse grid, so many tie; some -inf (already removed) and signed zeros
            var row = (0..<vocab).map { _ in Float(Int.random(in: -400...400, using: &rng)) / 16 }
            for i in stride(from: 0, to: vocab, by: 97) { row[i] = -.infinity }
            for i in stride(from: 5, to: vocab, by: 89) { row[i] = -0.0 }
            let threshold = row.sorted(by: >)[k - 1]
            let expected = row.map { $0 < threshold ? -Float.infinity : $0 }
            let processors = LogitsProcessors(options: options, vocab: vocab, eos: 2, minLength: 0)
            row.withUnsafeMutableBufferPointer { processors.warp($0.baseAddress!, minKeep: 1) }
            #expect(row == expected, "k \(k)")
        }
    }
}
