/// Greedy decoding and multinomial sampling for one sequence (transformers `_sample`):
/// each step processes the logits, takes the argmax (or samples), appends, and stops on EOS
/// or at `maxLength`.
struct GreedySearch {
    let plan: GenerationPlan

    func run(session: DecoderSession, onToken: ((Int32) -> Bool)?) throws -> [Int32] {
        let vocab = session.vocabSize
        let processors = LogitsProcessors(options: plan.options, vocab: vocab, eos: plan.eos, minLength: plan.minLength)
        var rng = SeededRandom(seed: plan.options.seed)
        // the whole output sequence, preallocated
        var sequence = [Int32](repeating: plan.pad, count: plan.maxLength)
        for (i, t) in plan.prompt.enumerated() { sequence[i] = t }
        var length = plan.prompt.count
        plan.prompt.withUnsafeBufferPointer { session.prefill($0) }
        var token: Int32 = 0
        while true {
            let row = session.logitsRow(0)
            sequence.withUnsafeBufferPointer { processors.process(row, sequence: $0.baseAddress!, length: length) }
            if plan.options.doSample {
                processors.warp(row, minKeep: 1)
                guard let next = sampleSoftmax(row, count: vocab, rng: &rng) else {
                    throw BlipError.invalidArgument("every token was filtered out: check top_k / top_p / min_length")
                }
                token = Int32(next)
            } else {
                token = Int32(argmax(row, count: vocab))
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
}
