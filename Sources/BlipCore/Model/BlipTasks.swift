import Glibc

/// The tasks as users ask for them: images and strings in, text and numbers out. The CLI, the
/// C API and the Python binding all go through these, so they give identical results.
extension BlipModel {
    /// A generated text and the full token sequence `generate` returns.
    public struct GeneratedText: Sendable, Equatable {
        public let text: String
        public let tokens: [Int32]
    }

    /// A caption prompt must say something: a blank one is refused rather than silently read as
    /// "no prompt". Public so a tool can check its options before loading any model.
    public static func checkCaptionPrompt(_ prompt: String) throws {
        guard !prompt.allSatisfy(\.isWhitespace) else {
            throw BlipError.invalidArgument("the prompt is empty; omit it (NULL in C) for an unprompted caption")
        }
    }

    /// Vision states for one image (preprocessing + ViT).
    public func imageStates(_ image: PixelView) throws -> [Float] {
        try imageStates([pixelValues(image)])[0]
    }

    /// Caption one image, optionally continuing `prompt` (kept in the output, as transformers does).
    /// `onToken` receives each new token id and the text generated so far (prompt excluded); returning false
    /// stops with `.aborted`.
    public func caption(_ image: PixelView, prompt: String? = nil, options: GenerationOptions = .hf,
                        onToken: ((Int32, String) -> Bool)? = nil) throws -> GeneratedText {
        try withModelThreads {
            // A VQA model has a decoder too, but it is an answer decoder trained on question states.
            guard config.architecture == .captioning, text.decoder != nil else {
                throw BlipError.unsupported("captions need a BlipForConditionalGeneration model (this is \(config.architecture.rawValue))")
            }
            var promptIds: [Int32] = []
            if let prompt {
                try Self.checkCaptionPrompt(prompt)
                promptIds = try encodeText(prompt, what: "prompt")
            }
            let states = try imageStates(image)
            let tokens = try caption(imageStates: states, promptIds: promptIds, options: options,
                                     onToken: streaming(onToken))
            return GeneratedText(text: tokenizer.decode(tokens), tokens: tokens)
        }
    }

    /// Answer a question about one image (BlipForQuestionAnswering).
    public func answer(_ image: PixelView, question: String, options: GenerationOptions = .hf,
                       onToken: ((Int32, String) -> Bool)? = nil) throws -> GeneratedText {
        try withModelThreads {
            try checkAnswering()
            let questionIds = try encodeText(question, what: "question")
            let states = try imageStates(image)
            let tokens = try answer(imageStates: states, questionIds: questionIds, options: options, onToken: streaming(onToken))
            return GeneratedText(text: tokenizer.decode(tokens), tokens: tokens)
        }
    }

    /// Answers several questions about one image, encoding the image once. Every question is
    /// checked before any work starts.
    public func answer(_ image: PixelView, questions: [String], options: GenerationOptions = .hf) throws -> [GeneratedText] {
        try withModelThreads {
            try checkAnswering()
            guard !questions.isEmpty else { throw BlipError.invalidArgument("no question given") }
            let questionIds = try questions.map { try encodeText($0, what: "question") }
            let states = try imageStates(image)
            return try questionIds.map { ids in
                let tokens = try answer(imageStates: states, questionIds: ids, options: options)
                return GeneratedText(text: tokenizer.decode(tokens), tokens: tokens)
            }
        }
    }

    private func checkAnswering() throws {
        guard text.encoder != nil, text.decoder != nil else {
            throw BlipError.unsupported("answers need a BlipForQuestionAnswering model (this is \(config.architecture.rawValue))")
        }
    }

    /// Tokenizes user text as the BLIP processor does (`[CLS] ... [SEP]`), refusing empty text
    /// and text longer than the position table (transformers would fail on it with an index error).
    public func encodeText(_ s: String, what: String) throws -> [Int32] {
        guard !s.allSatisfy(\.isWhitespace) else { throw BlipError.invalidArgument("the \(what) is empty") }
        let ids = tokenizer.encode(s)
        let limit = config.text.maxPositionEmbeddings
        guard ids.count <= limit else {
            throw BlipError.tooLarge("the \(what) is \(ids.count) tokens long; the model takes at most \(limit) including [CLS] and [SEP]")
        }
        return ids
    }

    /// Wraps a (token, text so far) callback as the generator's per-token hook.
    private func streaming(_ onToken: ((Int32, String) -> Bool)?) -> ((Int32) -> Bool)? {
        guard let onToken else { return nil }
        var generated: [Int32] = []
        return { token in
            generated.append(token)
            return onToken(token, self.tokenizer.decode(generated))
        }
    }
}

extension BlipModel {
    /// ITC text embedding of a string: normalize(text_proj(text_encoder([CLS] text [SEP])[0])).
    public func embedText(_ s: String) throws -> [Float] {
        try textEmbedding(ids: encodeText(s, what: "text"))
    }

    /// Scores for every (image, text) pair, row-major [images × texts]: the ITM match
    /// probability (softmax(itm_logits)[1]) when `itm`, and the ITC cosine of the normalised
    /// projections when `itc`. Every image and every text embedding is computed once; ITM runs
    /// the text encoder with cross-attention once per pair.
    public func match(_ images: [PixelView], texts: [String], itm: Bool = true, itc: Bool = true)
        throws -> (itm: [Float], itc: [Float])
    {
        try withModelThreads {
            guard visionProjection != nil, text.itmHead != nil else {
                throw BlipError.unsupported("matching needs a BlipForImageTextRetrieval model (this is \(config.architecture.rawValue))")
            }
            let ids = try texts.map { try encodeText($0, what: "text") }
            let textEmbeddings = itc ? try ids.map { try textEmbedding(ids: $0) } : []
            var itmScores: [Float] = [], itcScores: [Float] = []
            for (i, image) in images.enumerated() {
                do {
                    let states = try imageStates(image)
                    if itc {
                        let e = try imageEmbedding(states: states)
                        for t in textEmbeddings { itcScores.append(zip(e, t).reduce(0) { $0 + $1.0 * $1.1 }) }
                    }
                    if itm {
                        for textIds in ids { itmScores.append(try itmProbability(imageStates: states, textIds: textIds)) }
                    }
                } catch let e as BlipError where images.count > 1 {
                    throw BlipError(e.kind, "images[\(i)]: \(e.message)")
                }
            }
            return (itmScores, itcScores)
        }
    }
}

extension BlipModel {
    /// VQA rank mode (the BLIP paper's evaluation): scores each candidate answer by its
    /// log-likelihood under the answer decoder, given the image and the question.
    ///
    /// For a candidate tokenised as `[CLS] a₁ … aₙ [SEP]`, the decoder input is
    /// `[DEC] a₁ … aₙ [SEP]` and the score is Σₜ log p(tokenₜ | [DEC], a₁ … aₜ₋₁) over
    /// a₁ … aₙ and the final `[SEP]` (natural log, no length normalisation, no label smoothing —
    /// Salesforce's code ranks by the negated training loss, which carries label smoothing 0.1;
    /// this is the plain log-probability). Higher is better. Returns one score per candidate,
    /// in the order given.
    public func rankAnswers(_ image: PixelView, question: String, candidates: [String]) throws -> [Float] {
        try withModelThreads {
            guard let encoder = text.encoder, let decoder = text.decoder else {
                throw BlipError.unsupported("answers need a BlipForQuestionAnswering model (this is \(config.architecture.rawValue))")
            }
            guard !candidates.isEmpty else { throw BlipError.invalidArgument("no candidate answers given") }
            let questionIds = try encodeText(question, what: "question")
            let candidateIds = try candidates.map { try encodeText($0, what: "candidate answer") }
            let states = try imageStates(image)
            let questionStates = try states.withUnsafeBufferPointer { s in
                try encoder.encode(ids: questionIds, cross: s.baseAddress!, crossTokens: visionTokens)
            }
            guard decoder.crossWidth == encoder.width else {
                throw BlipError.unsupported("the answer decoder's cross-attention expects width \(decoder.crossWidth) but question states have width \(encoder.width)")
            }
            let bos = Int32(config.text.bosTokenId)
            let vocab = config.text.vocabSize
            return try candidateIds.map { ids in
                var input = ids
                input[0] = bos
                let logits = try decoderLogits(crossStates: questionStates, crossTokens: questionIds.count, decoderIds: input)
                var total = 0.0
                for t in 0..<(input.count - 1) {
                    let row = logits[(t * vocab)..<((t + 1) * vocab)]
                    let m = Double(row.max() ?? 0)
                    let logSum = m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
                    total += Double(row[row.startIndex + Int(input[t + 1])]) - logSum
                }
                return Float(total)
            }
        }
    }
}

extension BlipModel {
    /// One retrieved image for a text query.
    public struct RetrievalHit: Sendable, Equatable {
        public let image: Int      // index into the images given
        public let itc: Float      // cosine of the normalised embeddings
        public let itm: Float?     // ITM match probability, when re-ranked
        public var score: Float { itm ?? itc }
    }

    /// Text-to-image retrieval: for each query, the `topK` images by ITC similarity, then —
    /// when `rerank` — those re-ordered by ITM match probability (the BLIP paper's two-stage
    /// retrieval: ITC shortlists, ITM decides). Each image and query is encoded once; ITM runs
    /// topK times per query.
    public func retrieve(_ images: [PixelView], queries: [String], topK: Int, rerank: Bool) throws -> [[RetrievalHit]] {
        try withModelThreads {
            guard topK > 0 else { throw BlipError.invalidArgument("top_k must be positive (got \(topK))") }
            guard !images.isEmpty, !queries.isEmpty else { throw BlipError.invalidArgument("retrieval needs at least one image and one query") }
            // before any image is encoded: a wrong model fails at once, not after the whole set
            guard visionProjection != nil, text.itmHead != nil else {
                throw BlipError.unsupported("retrieval needs a BlipForImageTextRetrieval model (this is \(config.architecture.rawValue))")
            }
            let k = min(topK, images.count)
            let states = try images.enumerated().map { i, image in
                do { return try imageStates(image) } catch let e as BlipError where images.count > 1 {
                    throw BlipError(e.kind, "images[\(i)]: \(e.message)")
                }
            }
            let imageEmbeddings = try states.map { try imageEmbedding(states: $0) }
            return try queries.map { query in
                let ids = try encodeText(query, what: "query")
                let t = try textEmbedding(ids: ids)
                let cosines = imageEmbeddings.map { e in zip(e, t).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
                var hits = cosines.indices.sorted { cosines[$0] > cosines[$1] }.prefix(k)
                    .map { RetrievalHit(image: $0, itc: cosines[$0], itm: nil) }
                if rerank {
                    hits = try hits.map { RetrievalHit(image: $0.image, itc: $0.itc, itm: try itmProbability(imageStates: states[$0.image], textIds: ids)) }
                    hits.sort { ($0.itm ?? 0) > ($1.itm ?? 0) }
                }
                return hits
            }
        }
    }
}
