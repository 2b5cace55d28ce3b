/// Greedy decoding and multinomial sampling for one sequence (transformers `_sample`):
/// each step processes the logits, takes the argmax (or samples), appends, and stops on EOS
/// or at `maxLength`.
struct GreedySearch {
    let plan: GenerationPlan

    func run(session: DecoderSession, onToken: ((Int32) -> Bool)?) throws -> [Int32] {
        let processors = LogitsProcessors(options: plan.options, vocab: session.vocabSize, eos: plan.eos, minLength: plan.minLength)
        var rng = SeededRandom(seed: plan.options.seed)
        // the whole output sequence, preallocated
        var sequence = [Int32](repeating: plan.pad, count: plan.maxLength)
        for (i, t) in plan.prompt.enumerated() { sequence[i] = t }
        var length = plan.prompt.count
        plan.prompt.withUnsafeBufferPointer { session.prefill($0) }
        var token: Int32 = 0
        while true {
            token = try sequence.withUnsafeBufferPointer {
                try nextToken(session.logitsRow(0), sequence: $0.baseAddress!, length: length,
                              processors: processors, rng: &rng)
            }
            sequence[length] = token
            length += 1
            if let onToken, !onToken(token) {
                throw BlipError(.aborted, "generation stopped by the token callback after \(length) tokens")
            }
            if token == plan.eos || length >= plan.maxLength { break }
            withUnsafePointer(to: &token) { session.step($0) }
        }
        return Array(sequence[0..<length])
    }

    /// One sequence's next token from its logits row (processed, and warped when sampling, in
    /// place): the argmax, or a draw from `rng`.
    func nextToken(_ row: UnsafeMutablePointer<Float>, sequence: UnsafePointer<Int32>, length: Int,
                   processors: LogitsProcessors, rng: inout SeededRandom) throws -> Int32 {
        processors.process(row, sequence: sequence, length: length)
        guard plan.options.doSample else { return Int32(argmax(row, count: processors.vocab)) }
        processors.warp(row, minKeep: 1)
        guard let next = sampleSoftmax(row, count: processors.vocab, rng: &rng) else {
            throw BlipError.invalidArgument("every token was filtered out: check top_k / top_p / min_length")
        }
        return Int32(next)
    }
}
