import Testing
@testable import BlipCore

/// The radix sort under top-p: ascending keys, payload permuted alongside, equal keys in their
/// original order (what a stable comparison sort gives), whether it ends in the input or the
/// scratch buffers.
@Suite struct StableRadixSortTests {
    static func reference(_ keys: [UInt32], _ payload: [UInt32]) -> ([UInt32], [UInt32]) {
        let sorted = keys.indices.sorted { (keys[$0], $0) < (keys[$1], $1) }
        return (sorted.map { keys[$0] }, sorted.map { payload[$0] })
    }

    @Test func matchesAStableComparisonSort() {
        var rng = SystemRandomNumberGenerator()
        let shapes: [(count: Int, key: (inout SystemRandomNumberGenerator) -> UInt32)] = [
            (0, { _ in 0 }),
            (1, { UInt32.random(in: 0...UInt32.max, using: &$0) }),
            (1000, { _ in 42 }),                                            // every pass skipped
            (5000, { UInt32.random(in: 0..<8, using: &$0) << 24 }),        // only the top byte differs
            (30522, { UInt32.random(in: 0..<300, using: &$0) }),            // many ties, two bytes
            (30522, { UInt32.random(in: 0...UInt32.max, using: &$0) }),
            (17, { UInt32.random(in: 0...3, using: &$0) * 0x0101_0101 }),   // every byte at once
            (33, { UInt32.random(in: 0...3, using: &$0) * 0x0001_0101 }),   // three passes: an odd count
        ]
        for shape in shapes {
            let keys = (0..<shape.count).map { _ in shape.key(&rng) }
            let payload = (0..<shape.count).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }
            let (expectedKeys, expectedPayload) = Self.reference(keys, payload)
            // input and scratch rows, the scratch full of stale values
            var work = keys + payload + [UInt32](repeating: 7, count: 2 * shape.count)
            let (sortedKeys, sortedPayload) = work.withUnsafeMutableBufferPointer { w -> ([UInt32], [UInt32]) in
                let n = shape.count, base = w.baseAddress!
                let out = stableRadixSort(keys: base, payload: base + n, count: n,
                                          keyScratch: base + 2 * n, payloadScratch: base + 3 * n)
                return (Array(UnsafeBufferPointer(start: out.keys, count: n)),
                        Array(UnsafeBufferPointer(start: out.payload, count: n)))
            }
            #expect(sortedKeys == expectedKeys, "\(shape.count) keys")
            #expect(sortedPayload == expectedPayload, "\(shape.count) keys: equal keys out of their order")
        }
    }

    /// Top-p over a vocabulary-sized row whose boundary falls inside a run of equal scores: the
    /// lower token ids of the run go first (they come first in ascending order), as before.
    @Test func topPDropsTiedTokensInIdOrder() {
        var options = GenerationOptions()
        options.doSample = true
        options.topK = 0
        options.topP = 0.5
        let vocab = 30522
        var row = [Float](repeating: -30, count: vocab)
        for i in 100..<110 { row[i] = 0 }                // ten equal tokens hold the whole mass
        let processors = LogitsProcessors(options: options, vocab: vocab, eos: 2, minLength: 0)
        row.withUnsafeMutableBufferPointer { processors.warp($0.baseAddress!, minKeep: 1) }
        let kept = row.indices.filter { row[$0] != -.infinity }
        // cumulative of the ten: 0.1 … 1.0 (+ ~1e-9 from the rest); ≤ 0.5 drops five of them
        #expect(kept == Array(105..<110))
    }
}
