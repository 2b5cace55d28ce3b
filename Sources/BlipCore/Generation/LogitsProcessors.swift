import Glibc

/// transformers' logits processors and warpers, in its order, over one vocab-wide row:
/// repetition penalty → no-repeat n-gram → min length (always), then for sampling
/// temperature → top-k → top-p. Buffers are allocated once per call.
final class LogitsProcessors {
    let vocab: Int
    let eos: Int32
    let minLength: Int
    let repetitionPenalty: Float
    let noRepeatNgramSize: Int
    let temperature: Float
    let topK: Int
    let topP: Float
    private let stamps: UnsafeMutablePointer<UInt32>
    private var stamp: UInt32 = 0
    // top-k's work (allocated only when top-k is on): the row's sort keys and radix select's scratch
    private let topKKeys: UnsafeMutablePointer<UInt32>
    // top-p's work (allocated only when top-p is on): sort keys, token ids and their two
    // scratch rows, then the weights in sorted order
    private let topPBuffers: UnsafeMutablePointer<UInt32>
    private let topPWeights: UnsafeMutablePointer<Double>

    init(options o: GenerationOptions, vocab: Int, eos: Int32, minLength: Int) {
        self.vocab = vocab
        self.eos = eos
        self.minLength = minLength
        repetitionPenalty = o.repetitionPenalty
        noRepeatNgramSize = o.noRepeatNgramSize
        temperature = o.temperature
        topK = o.topK
        topP = o.topP
        stamps = .allocate(capacity: vocab)
        stamps.initialize(repeating: 0, count: vocab)
        topKKeys = .allocate(capacity: o.topK != 0 ? 2 * vocab : 0)
        let topPRows = o.topP < 1 ? vocab : 0
        topPBuffers = .allocate(capacity: 4 * topPRows)
        topPWeights = .allocate(capacity: topPRows)
    }

    deinit {
        stamps.deallocate()
        topKKeys.deallocate()
        topPBuffers.deallocate()
        topPWeights.deallocate()
    }

    /// The processors every decoding mode applies. `sequence` = all tokens so far ([DEC], prompt, new).
    func process(_ row: UnsafeMutablePointer<Float>, sequence: UnsafePointer<Int32>, length: Int) {
        if repetitionPenalty != 1 { applyRepetitionPenalty(row, sequence, length) }
        if noRepeatNgramSize > 0 { banRepeatedNgrams(row, sequence, length) }
        if length < minLength, Int(eos) < vocab { row[Int(eos)] = -.infinity }
    }

    /// The sampling warpers. `minKeep` is 1 for sampling, 2 for beam sampling (as transformers).
    func warp(_ row: UnsafeMutablePointer<Float>, minKeep: Int) {
        if temperature != 1 {
            for i in 0..<vocab { row[i] = row[i] / temperature }
        }
        if topK != 0 { applyTopK(row, k: max(topK, minKeep)) }
        if topP < 1 { applyTopP(row, minKeep: minKeep) }
    }

    /// Each distinct token in the sequence: s < 0 ? s · p : s / p.
    private func applyRepetitionPenalty(_ row: UnsafeMutablePointer<Float>, _ seq: UnsafePointer<Int32>, _ n: Int) {
        stamp &+= 1
        if stamp == 0 { stamps.update(repeating: 0, count: vocab); stamp = 1 }
        let p = repetitionPenalty
        for i in 0..<n {
            let id = Int(seq[i])
            guard id >= 0, id < vocab, stamps[id] != stamp else { continue }
            stamps[id] = stamp
            let s = row[id]
            row[id] = s < 0 ? s * p : s / p
        }
    }

    /// Bans every token that would complete an n-gram already present in the sequence.
    private func banRepeatedNgrams(_ row: UnsafeMutablePointer<Float>, _ seq: UnsafePointer<Int32>, _ n: Int) {
        let size = noRepeatNgramSize
        guard n >= size else { return }
        let prefix = seq + (n - size + 1)   // the last size-1 tokens
        for start in 0...(n - size) {
            var match = true
            for j in 0..<(size - 1) where seq[start + j] != prefix[j] { match = false; break }
            if match {
                let banned = Int(seq[start + size - 1])
                if banned >= 0, banned < vocab { row[banned] = -.infinity }
            }
        }
    }

    /// Removes every score below the k-th largest (ties with it survive).
    private func applyTopK(_ row: UnsafeMutablePointer<Float>, k: Int) {
        guard k < vocab else { return }
        for i in 0..<vocab { topKKeys[i] = ascendingKey(row[i]) }
        let threshold = radixSelectLargest(keys: topKKeys, count: vocab, k: k, scratch: topKKeys + vocab)
        for i in 0..<vocab where topKKeys[i] < threshold { row[i] = -.infinity }
    }

    /// Nucleus filtering: sorted ascending, remove tokens whose cumulative probability is
    /// ≤ 1 − top_p, always keeping the `minKeep` most likely. Equal scores stay in token order.
    private func applyTopP(_ row: UnsafeMutablePointer<Float>, minKeep: Int) {
        let keys = topPBuffers, tokens = keys + vocab
        var n = 0
        var maxValue = -Float.infinity
        for i in 0..<vocab where row[i] > -.infinity {
            keys[n] = ascendingKey(row[i])
            tokens[n] = UInt32(i)
            n += 1
            maxValue = max(maxValue, row[i])
        }
        guard n > 0 else { return }
        let sorted = stableRadixSort(keys: keys, payload: tokens, count: n,
                                     keyScratch: tokens + vocab, payloadScratch: tokens + 2 * vocab).payload
        var total = 0.0
        for i in 0..<n {
            let w = Double(expf(row[Int(sorted[i])] - maxValue))
            topPWeights[i] = w
            total += w
        }
        let limit = Float(1 - topP)
        var cumulative = 0.0
        for i in 0..<max(0, n - minKeep) {
            cumulative += topPWeights[i] / total
            // the cumulative sum only grows: once past the limit, every later token is kept
            guard Float(cumulative) <= limit else { break }
            row[Int(sorted[i])] = -.infinity
        }
    }
}

/// A UInt32 that orders as the float does (-0 and +0 alike). A NaN score (only a broken model
/// makes one) gets a key above +inf's or below -inf's: an ordering, so nothing traps.
@inline(__always)
private func ascendingKey(_ value: Float) -> UInt32 {
    let bits = (value + 0).bitPattern          // + 0 turns -0 into +0
    return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
}

/// Index of the first maximum (torch.argmax).
func argmax(_ row: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    var bestValue = row[0]
    for i in 1..<count where row[i] > bestValue { bestValue = row[i]; best = i }
    return best
}

/// Draws an index with probability ∝ softmax(row) (-inf entries never). nil if nothing is finite.
func sampleSoftmax(_ row: UnsafePointer<Float>, count: Int, rng: inout SeededRandom) -> Int? {
    var m = -Float.infinity
    for i in 0..<count where row[i] > m { m = row[i] }
    guard m > -.infinity else { return nil }
    var total = 0.0
    for i in 0..<count where row[i] > -.infinity { total += Double(expf(row[i] - m)) }
    let target = rng.nextUnit() * total
    var cumulative = 0.0
    var last = 0
    for i in 0..<count where row[i] > -.infinity {
        cumulative += Double(expf(row[i] - m))
        last = i
        if cumulative > target { return i }
    }
    return last
}
