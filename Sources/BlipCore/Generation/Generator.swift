/// Validated, resolved decoding parameters for one `generate` call.
struct GenerationPlan {
    let options: GenerationOptions
    /// Decoder input ids: `[DEC]` followed by the prompt tokens (kept in the output).
    let prompt: [Int32]
    let maxLength: Int
    let minLength: Int
    let eos: Int32
    let pad: Int32

    init(options o: GenerationOptions, decoderInput: [Int32], config c: TextConfig) throws {
        func bad(_ m: String) -> BlipError { BlipError.invalidArgument(m) }
        guard o.numBeams >= 1 else { throw bad("num_beams must be at least 1 (got \(o.numBeams))") }
        guard o.numBeams <= 64 else { throw bad("num_beams \(o.numBeams) is too large (at most 64)") }
        guard o.minLength >= 0 else { throw bad("min_length must not be negative (got \(o.minLength))") }
        guard o.noRepeatNgramSize >= 0 else { throw bad("no_repeat_ngram_size must not be negative (got \(o.noRepeatNgramSize))") }
        guard o.temperature.isFinite, o.temperature > 0 else { throw bad("temperature must be a positive number (got \(o.temperature))") }
        guard o.topK >= 0 else { throw bad("top_k must not be negative (got \(o.topK))") }
        guard o.topP >= 0, o.topP <= 1 else { throw bad("top_p must be in [0, 1] (got \(o.topP))") }
        guard o.repetitionPenalty.isFinite, o.repetitionPenalty > 0 else {
            throw bad("repetition_penalty must be a positive number (got \(o.repetitionPenalty))")
        }
        guard o.lengthPenalty.isFinite else { throw bad("length_penalty must be finite") }
        let positions = c.maxPositionEmbeddings
        let p = decoderInput.count
        guard p >= 1 else { throw bad("the decoder input is empty") }
        guard p <= positions else {
            throw bad("the prompt has \(p) tokens with [DEC], more than the model's \(positions) positions")
        }
        let resolved: Int
        if let n = o.maxNewTokens {
            guard n > 0 else { throw bad("max_new_tokens must be positive (got \(n))") }
            resolved = p + n
        } else if let m = o.maxLength {
            guard m > 0 else { throw bad("max_length must be positive (got \(m))") }
            resolved = m
        } else {
            resolved = min(p + 20, positions)   // transformers' default: 20 new tokens
        }
        guard p < resolved else {
            throw bad("the prompt has \(p) tokens with [DEC] but max_length is \(resolved): nothing to generate (increase max_length or use max_new_tokens)")
        }
        guard resolved <= positions else {
            throw bad("max_length \(resolved) exceeds the model's \(positions) positions")
        }
        for id in decoderInput where id < 0 || Int(id) >= c.vocabSize {
            throw bad("prompt token id \(id) is outside the vocabulary (0..<\(c.vocabSize))")
        }
        options = o
        prompt = decoderInput
        maxLength = resolved
        minLength = o.minLength
        eos = Int32(c.sepTokenId)
        pad = Int32(c.padTokenId)
    }
}

/// Runs one decoding call: builds the session (KV cache, shared cross K/V) and dispatches to
/// greedy/sampling or beam search.
enum Generator {
    static func generate(decoder: TextTransformer, head: LMHead, plan: GenerationPlan,
                         crossStates: UnsafePointer<Float>, crossTokens: Int,
                         onToken: ((Int32) -> Bool)?) throws -> [Int32] {
        let session = DecoderSession(decoder: decoder, head: head, beams: plan.options.numBeams,
                                     capacity: plan.maxLength, promptLength: plan.prompt.count,
                                     crossStates: crossStates, crossTokens: crossTokens)
        if plan.options.numBeams == 1 {
            return try GreedySearch(plan: plan).run(session: session, onToken: onToken)
        }
        return try BeamSearch(plan: plan).run(session: session, onToken: onToken)
    }
}

extension BlipModel {
    /// Decoder input for a caption prompt, as `BlipForConditionalGeneration.generate` builds it:
    /// no prompt → `[DEC]`; otherwise the tokenizer's ids with the first replaced by `[DEC]` and
    /// the last (the trailing `[SEP]`) dropped — transformers drops the last column blindly.
    public func captionDecoderInput(promptIds: [Int32]) throws -> [Int32] {
        let bos = Int32(config.text.bosTokenId)
        if promptIds.isEmpty { return [bos] }
        guard promptIds.count >= 2 else {
            throw BlipError.invalidArgument("a caption prompt must be the tokenizer's [CLS] ... [SEP] ids (got \(promptIds.count) token)")
        }
        var ids = Array(promptIds.dropLast())
        ids[0] = bos
        return ids
    }

    /// Generates a caption for one image's vision states ([visionTokens × visionWidth], from
    /// `imageStates`), optionally continuing a prompt given as tokenizer ids
    /// (`[CLS] a picture of [SEP]`). Returns the full id sequence as transformers' `generate`
    /// does for batch size 1: `[DEC]`, the prompt, the new tokens, and `[SEP]` if it stopped on it.
    ///
    /// `onToken` streams tokens: with greedy decoding and sampling it is called with each new
    /// token as soon as it is chosen; with beam search the best sequence is only known at the
    /// end, so it is called for each new token of the result after the search finishes.
    /// Returning false stops generation with a `BlipError` of kind `.aborted`.
    public func caption(imageStates: [Float], promptIds: [Int32] = [], options: GenerationOptions = .hf,
                        onToken: ((Int32) -> Bool)? = nil) throws -> [Int32] {
        try withModelThreads {
            guard let decoder = text.decoder, let head = text.lmHead else {
                throw BlipError.unsupported("captions need a BlipForConditionalGeneration model (this is \(config.architecture.rawValue))")
            }
            try checkImageStates(imageStates)
            let plan = try GenerationPlan(options: options, decoderInput: captionDecoderInput(promptIds: promptIds),
                                          config: decoder.config)
            return try imageStates.withUnsafeBufferPointer { s in
                try Generator.generate(decoder: decoder, head: head, plan: plan, crossStates: s.baseAddress!,
                                       crossTokens: visionTokens, onToken: onToken)
            }
        }
    }

    /// Captions decoded together by `captions(imageStates:seeds:promptIds:options:)`.
    public static let captionBatchRows = BatchSampler.maxRows

    /// Captions of several images, `seeds[i].count` of them for image i, each decoded with its
    /// own seed in place of `options.seed`: the same tokens as one `caption(imageStates:
    /// promptIds:options:)` call per (image, seed), but greedy decoding and sampling run up to
    /// `captionBatchRows` captions together, so each decode step reads the decoder's weights
    /// once for all of them (CapFilt's synthetic captions). Beam search decodes one at a time.
    public func captions(imageStates: [[Float]], seeds: [[UInt64]], promptIds: [Int32] = [],
                         options: GenerationOptions) throws -> [[[Int32]]] {
        guard imageStates.count == seeds.count else {
            throw BlipError.invalidArgument("\(imageStates.count) images but \(seeds.count) seed lists")
        }
        guard options.numBeams == 1 else {
            return try zip(imageStates, seeds).map { states, imageSeeds in
                try imageSeeds.map { seed in
                    var o = options
                    o.seed = seed
                    return try caption(imageStates: states, promptIds: promptIds, options: o)
                }
            }
        }
        return try withModelThreads {
            guard let decoder = text.decoder, let head = text.lmHead else {
                throw BlipError.unsupported("captions need a BlipForConditionalGeneration model (this is \(config.architecture.rawValue))")
            }
            for states in imageStates { try checkImageStates(states) }
            let plan = try GenerationPlan(options: options, decoderInput: captionDecoderInput(promptIds: promptIds),
                                          config: decoder.config)
            let rows = seeds.enumerated().flatMap { image, list in list.indices.map { (image: image, caption: $0) } }
            var result = seeds.map { [[Int32]](repeating: [], count: $0.count) }
            for start in stride(from: 0, to: rows.count, by: BatchSampler.maxRows) {
                let group = rows[start..<min(start + BatchSampler.maxRows, rows.count)]
                // keys/values only for this group's images: at most maxRows of them live at once
                var crosses: [Int: CrossKeysValues] = [:]
                for row in group where crosses[row.image] == nil {
                    crosses[row.image] = imageStates[row.image].withUnsafeBufferPointer {
                        decoder.crossKeysValues(states: $0.baseAddress!, tokens: visionTokens, decoding: true)
                    }
                }
                let tokens = try BatchSampler(plan: plan).run(
                    decoder: decoder, head: head, crosses: group.map { crosses[$0.image]! },
                    seeds: group.map { seeds[$0.image][$0.caption] })
                for (row, sequence) in zip(group, tokens) { result[row.image][row.caption] = sequence }
            }
            return result
        }
    }

    /// Captions several images, one after the other (identical to batch-size-1 `generate` per image).
    public func caption(imageStates: [[Float]], promptIds: [Int32] = [], options: GenerationOptions = .hf) throws -> [[Int32]] {
        try imageStates.map { try caption(imageStates: $0, promptIds: promptIds, options: options) }
    }

    /// VQA answer (transformers `BlipForQuestionAnswering.generate`): the question ids
    /// (`[CLS] question [SEP]` from the tokenizer) are encoded with cross-attention to the image,
    /// then the answer decoder starts from `[DEC]` and cross-attends to all question states.
    /// Returns `[DEC] answer... [SEP]`. `onToken` as in `caption`.
    public func answer(imageStates: [Float], questionIds: [Int32], options: GenerationOptions = .hf,
                       onToken: ((Int32) -> Bool)? = nil) throws -> [Int32] {
        try withModelThreads {
            guard let encoder = text.encoder, let decoder = text.decoder, let head = text.lmHead else {
                throw BlipError.unsupported("answers need a BlipForQuestionAnswering model (this is \(config.architecture.rawValue))")
            }
            guard decoder.crossWidth == encoder.width else {
                // transformers sizes the answer decoder's cross-attention for the vision width but feeds it
                // question states; that only works when both widths agree (true for every published VQA model).
                throw BlipError.unsupported("the answer decoder's cross-attention expects width \(decoder.crossWidth) but question states have width \(encoder.width)")
            }
            try checkImageStates(imageStates)
            let plan = try GenerationPlan(options: options, decoderInput: [Int32(config.text.bosTokenId)], config: decoder.config)
            let question = try imageStates.withUnsafeBufferPointer { s in
                try encoder.encode(ids: questionIds, cross: s.baseAddress!, crossTokens: visionTokens)
            }
            return try question.withUnsafeBufferPointer { q in
                try Generator.generate(decoder: decoder, head: head, plan: plan, crossStates: q.baseAddress!,
                                       crossTokens: questionIds.count, onToken: onToken)
            }
        }
    }

    func checkImageStates(_ states: [Float]) throws {
        guard states.count == visionTokens * visionWidth else {
            throw BlipError.invalidArgument("image states have \(states.count) values, expected \(visionTokens) × \(visionWidth)")
        }
    }
}
