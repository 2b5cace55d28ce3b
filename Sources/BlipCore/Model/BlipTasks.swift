/// The tasks as users ask for them: images and strings in, text and numbers out. The CLI, the
/// C API and the Python binding all go through these, so they give identical results.
extension BlipModel {
    /// A generated text and the full token sequence `generate` returns.
    public struct GeneratedText: Sendable, Equatable {
        public let text: String
        public let tokens: [Int32]
    }

    /// Vision states for one image (preprocessing + ViT).
    public func imageStates(_ image: PixelView) throws -> [Float] {
        try imageStates([pixelValues(image)])[0]
    }

    /// Caption one image, optionally continuing `prompt` (kept in the output, as transformers does).
    /// `onToken` receives each new token id and the caption decoded so far; returning false
    /// stops with `.aborted`.
    public func caption(_ image: PixelView, prompt: String? = nil, options: GenerationOptions = .hf,
                        onToken: ((Int32, String) -> Bool)? = nil) throws -> GeneratedText {
        guard text.decoder != nil else {
            throw BlipError.unsupported("captions need a BlipForConditionalGeneration model (this is \(config.architecture.rawValue))")
        }
        var promptIds: [Int32] = []
        if let prompt {
            guard !prompt.allSatisfy(\.isWhitespace) else {
                throw BlipError.invalidArgument("the prompt is empty; omit it (NULL in C) for an unprompted caption")
            }
            promptIds = try encodeText(prompt, what: "prompt")
        }
        let states = try imageStates(image)
        let tokens = try caption(imageStates: states, promptIds: promptIds, options: options,
                                 onToken: streaming(onToken))
        return GeneratedText(text: tokenizer.decode(tokens), tokens: tokens)
    }

    /// Answer a question about one image (BlipForQuestionAnswering).
    public func answer(_ image: PixelView, question: String, options: GenerationOptions = .hf,
                       onToken: ((Int32, String) -> Bool)? = nil) throws -> GeneratedText {
        guard text.encoder != nil, text.decoder != nil else {
            throw BlipError.unsupported("answers need a BlipForQuestionAnswering model (this is \(config.architecture.rawValue))")
        }
        let questionIds = try encodeText(question, what: "question")
        let states = try imageStates(image)
        let tokens = try answer(imageStates: states, questionIds: questionIds, options: options, onToken: streaming(onToken))
        return GeneratedText(text: tokenizer.decode(tokens), tokens: tokens)
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
