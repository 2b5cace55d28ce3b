/// Greedy decoding or sampling of several sequences at once, each with its own image (cross-
/// attention keys/values) and its own seed: CapFilt's synthetic captions. A decode step is
/// bound by reading the decoder's weights; with up to `maxRows` rows one read serves them all.
///
/// Every per-row operation is the one `GreedySearch` runs for a single sequence: the prompt is
/// prefilled per row by a one-beam session (then copied in), and at decode steps the linear
/// layers (`Linear.auto` up to `Linear.smallBatchRows` rows), attention, norms and the LM head
/// compute each row on its own. So a row's tokens are those of a one-image call with its seed,
/// whatever the other rows hold, and results do not depend on how work is batched.
struct BatchSampler {
    static let maxRows = Linear.smallBatchRows
    /// Options shared by every row; each row's seed replaces `plan.options.seed`.
    let plan: GenerationPlan

    func run(decoder: TextTransformer, head: LMHead, crosses: [CrossKeysValues], seeds: [UInt64]) throws -> [[Int32]] {
        let rows = crosses.count
        precondition(rows == seeds.count && (1...Self.maxRows).contains(rows) && plan.options.numBeams == 1)
        let session = DecoderSession(decoder: decoder, head: head, beams: rows, capacity: plan.maxLength,
                                     promptLength: plan.prompt.count, cross: .perRow(crosses))
        for (b, own) in crosses.enumerated() {
            let single = DecoderSession(decoder: decoder, head: head, beams: 1, capacity: plan.maxLength,
                                        promptLength: plan.prompt.count, cross: .shared(own))
            plan.prompt.withUnsafeBufferPointer { single.prefill($0) }
            session.adopt(single, asBeam: b)
        }
        let search = GreedySearch(plan: plan)
        let processors = LogitsProcessors(options: plan.options, vocab: session.vocabSize, eos: plan.eos, minLength: plan.minLength)
        var rngs = seeds.map { SeededRandom(seed: $0) }
        var sequences = [[Int32]](repeating: plan.prompt + [Int32](repeating: plan.pad, count: plan.maxLength - plan.prompt.count),
                                  count: rows)
        var lengths = [Int](repeating: plan.prompt.count, count: rows)
        var finished = [Bool](repeating: false, count: rows)
        var stepTokens = [Int32](repeating: plan.pad, count: rows)
        while true {
            for b in 0..<rows where !finished[b] {
                let token = try sequences[b].withUnsafeBufferPointer {
                    try search.nextToken(session.logitsRow(b), sequence: $0.baseAddress!, length: lengths[b],
                                         processors: processors, rng: &rngs[b])
                }
                sequences[b][lengths[b]] = token
                lengths[b] += 1
                stepTokens[b] = token
                finished[b] = token == plan.eos || lengths[b] >= plan.maxLength
            }
            if !finished.contains(false) { break }
            // Finished rows ride along (their logits are ignored): the weights are read once anyway.
            stepTokens.withUnsafeBufferPointer { session.step($0.baseAddress!) }
        }
        return (0..<rows).map { Array(sequences[$0][0..<lengths[$0]]) }
    }
}
