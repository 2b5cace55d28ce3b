import BlipKernels
import Glibc

/// The text towers and heads of a BLIP checkpoint; which ones exist depends on the task class:
///
/// | class | decoder (`text_decoder.bert.`) + LM head | encoder (`text_encoder.`) | ITM head |
/// |---|---|---|---|
/// | BlipForConditionalGeneration | ✓ | | |
/// | BlipForQuestionAnswering | ✓ (answer decoder) | ✓ (question encoder) | |
/// | BlipForImageTextRetrieval | | ✓ | ✓ |
public final class BlipTextParts: @unchecked Sendable {
    public let decoder: TextTransformer?
    public let lmHead: LMHead?
    public let encoder: TextTransformer?
    public let itmHead: Linear?

    public init(_ w: WeightSource, config: BlipConfig) throws {
        let arch = config.architecture
        if arch == .captioning || arch == .questionAnswering {
            let d = try TextTransformer(w, prefix: "text_decoder.bert.", config: config.text)
            guard d.hasCrossAttention else {
                throw BlipError.modelFormat("text_decoder.bert.* has no crossattention weights")
            }
            decoder = d
            lmHead = try LMHead(w, config: config.text, wordEmbeddings: d.wordEmbeddings)
        } else {
            decoder = nil
            lmHead = nil
        }
        if arch == .questionAnswering || arch == .retrieval {
            encoder = try TextTransformer(w, prefix: "text_encoder.", config: config.text)
        } else {
            encoder = nil
        }
        itmHead = arch == .retrieval ? try Linear(w, "itm_head", in: config.text.hiddenSize, out: 2) : nil
    }
}

extension BlipModel {
    /// ITC text embedding (BlipForImageTextRetrieval with `use_itm_head=False`):
    /// normalize(text_proj(text_encoder(ids)[0])), bidirectional, without cross-attention.
    /// `ids` are the tokenizer's `[CLS] ... [SEP]` ids, unpadded.
    public func textEmbedding(ids: [Int32]) throws -> [Float] {
        try withModelThreads {
            guard let encoder = text.encoder, let proj = textProjection else {
                throw BlipError.unsupported("text embeddings need a BlipForImageTextRetrieval model (this is \(config.architecture.rawValue))")
            }
            return normalizedProjection(proj, ofFirstRow: try encoder.encode(ids: ids, cross: nil, crossTokens: 0))
        }
    }

    /// ITM logits [no-match, match] = itm_head(text_encoder(ids, cross-attention to the image)[0]).
    public func itmLogits(imageStates: [Float], textIds: [Int32]) throws -> [Float] {
        try itmLogits(imageStates: imageStates, texts: [textIds])[0]
    }

    /// ITM logits of several texts against one image, whose cross-attention keys and values
    /// (most of the cost of a short text) are computed once.
    public func itmLogits(imageStates: [Float], texts: [[Int32]]) throws -> [[Float]] {
        try withModelThreads {
            guard let encoder = text.encoder, let head = text.itmHead, encoder.hasCrossAttention else {
                throw BlipError.unsupported("image-text matching needs a BlipForImageTextRetrieval model (this is \(config.architecture.rawValue))")
            }
            try checkImageStates(imageStates)
            let kv = imageStates.withUnsafeBufferPointer { encoder.crossKeysValues(states: $0.baseAddress!, tokens: visionTokens, decoding: false) }
            return try texts.map { ids in
                let states = try encoder.encode(ids: ids, crossKeysValues: kv)
                var logits = [Float](repeating: 0, count: 2)
                states.withUnsafeBufferPointer { s in
                    logits.withUnsafeMutableBufferPointer { head(s.baseAddress!, rows: 1, out: $0.baseAddress!) }
                }
                return logits
            }
        }
    }

    /// Probability that the text matches the image: softmax(itm_logits)[1].
    public func itmProbability(imageStates: [Float], textIds: [Int32]) throws -> Float {
        try itmProbabilities(imageStates: imageStates, texts: [textIds])[0]
    }

    /// `itmProbability` of several texts against one image (its keys and values computed once).
    public func itmProbabilities(imageStates: [Float], texts: [[Int32]]) throws -> [Float] {
        try itmLogits(imageStates: imageStates, texts: texts).map { l in
            let m = max(l[0], l[1])
            let e0 = Double(l[0] - m), e1 = Double(l[1] - m)
            return Float(1 / (1 + exp(e0 - e1)))
        }
    }

    /// Decoder logits for every position of `decoderIds` (for tests and scoring): [n, vocab].
    func decoderLogits(crossStates: [Float], crossTokens: Int, decoderIds: [Int32]) throws -> [Float] {
        guard let decoder = text.decoder, let head = text.lmHead else {
            throw BlipError.unsupported("this model has no text decoder")
        }
        try decoder.validate(ids: decoderIds, what: "decoder input")
        let n = decoderIds.count, d = decoder.width, v = head.vocabSize
        let kv = crossStates.withUnsafeBufferPointer { decoder.crossKeysValues(states: $0.baseAddress!, tokens: crossTokens, decoding: false) }
        let cache = SelfAttentionCache(layers: decoder.config.numHiddenLayers, beams: 1, capacity: n, width: d)
        let scratch = TextScratch(config: decoder.config, rows: n, maxKeys: max(n, crossTokens))
        decoderIds.withUnsafeBufferPointer { p in
            decoder.forward(ids: p.baseAddress!, beams: 1, tokens: n, past: 0, causal: true, cache: cache, cross: .shared(kv), scratch: scratch)
        }
        var out = [Float](repeating: 0, count: n * v)
        let t1 = ScratchBuffer(count: n * d), t2 = ScratchBuffer(count: n * d)
        out.withUnsafeMutableBufferPointer { o in
            head(scratch.hidden, rows: n, inStride: d, temp: t1.pointer, temp2: t2.pointer, logits: o.baseAddress!)
        }
        return out
    }
}
