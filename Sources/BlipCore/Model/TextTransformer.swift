import BlipKernels

/// BLIP's text tower: a post-LayerNorm BERT whose every layer has self-attention, an optional
/// cross-attention to encoder states (image or question tokens), and an exact-GELU FFN.
/// Embeddings are LN(word[id] + position[past + i]) with no token types.
///
/// The same class serves the three roles transformers gives `BlipTextModel`:
/// the captioning / answer decoder (`text_decoder.bert.`, causal, KV cache), the VQA question
/// encoder and the ITM encoder (`text_encoder.`, bidirectional, cross-attention to the image),
/// and the ITC text encoder (`text_encoder.`, bidirectional, no cross-attention).
public final class TextTransformer: @unchecked Sendable {
    struct Attention {
        let query: Linear
        let key: Linear
        let value: Linear
        let output: Linear
        let norm: LayerNorm
    }

    struct Layer {
        let selfAttention: Attention
        let crossAttention: Attention?
        let intermediate: Linear
        let output: Linear
        let outputNorm: LayerNorm
    }

    public let config: TextConfig
    public let prefix: String
    /// [vocab, hidden]; also the tied LM-head decoder matrix.
    public let wordEmbeddings: FloatBuffer
    let positionEmbeddings: FloatBuffer
    let embeddingNorm: LayerNorm
    let layers: [Layer]

    /// `prefix` is "text_decoder.bert." or "text_encoder.". `*.position_ids` buffers are ignored.
    public init(_ w: WeightSource, prefix: String, config c: TextConfig) throws {
        config = c
        self.prefix = prefix
        let d = c.hiddenSize
        wordEmbeddings = try w.floats(prefix + "embeddings.word_embeddings.weight", shape: [c.vocabSize, d])
        positionEmbeddings = try w.floats(prefix + "embeddings.position_embeddings.weight", shape: [c.maxPositionEmbeddings, d])
        embeddingNorm = try LayerNorm(w, prefix + "embeddings.LayerNorm", size: d, eps: c.layerNormEps)
        layers = try (0..<c.numHiddenLayers).map { i in
            let l = prefix + "encoder.layer.\(i)."
            // Cross-attention keys and values are computed once per image, over all its 577
            // tokens (`crossKeysValues`), never in a decode step: their weights get the vision
            // encoder's packed GEMM, where OpenBLAS would repack them on every call.
            func attention(_ p: String, keyWidth: Int, cross: Bool) throws -> Attention {
                let key = try Linear(w, p + "self.key", in: keyWidth, out: d)
                let value = try Linear(w, p + "self.value", in: keyWidth, out: d)
                return Attention(query: try Linear(w, p + "self.query", in: d, out: d),
                                 key: cross ? key.packedForManyRows() : key,
                                 value: cross ? value.packedForManyRows() : value,
                                 output: try Linear(w, p + "output.dense", in: d, out: d),
                                 norm: try LayerNorm(w, p + "output.LayerNorm", size: d, eps: c.layerNormEps))
            }
            let hasCross = w.contains(l + "crossattention.self.query.weight")
            return Layer(selfAttention: try attention(l + "attention.", keyWidth: d, cross: false),
                         crossAttention: hasCross ? try attention(l + "crossattention.", keyWidth: c.encoderHiddenSize,
                                                                  cross: true) : nil,
                         intermediate: try Linear(w, l + "intermediate.dense", in: d, out: c.intermediateSize),
                         output: try Linear(w, l + "output.dense", in: c.intermediateSize, out: d),
                         outputNorm: try LayerNorm(w, l + "output.LayerNorm", size: d, eps: c.layerNormEps))
        }
    }

    public var width: Int { config.hiddenSize }
    public var vocabSize: Int { config.vocabSize }
    public var maxPositions: Int { config.maxPositionEmbeddings }
    /// Width of the states cross-attention keys/values are computed from (config encoder_hidden_size).
    public var crossWidth: Int { config.encoderHiddenSize }
    public var hasCrossAttention: Bool { layers.allSatisfy { $0.crossAttention != nil } }

    // MARK: inputs

    /// Throws unless every id indexes the embedding table and the sequence fits the position table.
    func validate(ids: [Int32], past: Int = 0, what: String) throws {
        guard !ids.isEmpty else { throw BlipError.invalidArgument("\(what) is empty") }
        guard past + ids.count <= maxPositions else {
            throw BlipError.invalidArgument("\(what) has \(past + ids.count) tokens, more than the model's \(maxPositions) positions")
        }
        for id in ids where id < 0 || Int(id) >= vocabSize {
            throw BlipError.invalidArgument("\(what) contains token id \(id) outside the vocabulary (0..<\(vocabSize))")
        }
    }

    // MARK: cross-attention keys / values

    /// Cross-attention keys and values of every layer for one set of encoder states, computed
    /// once per image (or question) and shared by every beam. `decoding`: they are read again at
    /// every decode step, so an int8 model's are stored as int8 where the CPU's kernels read that
    /// (a quarter of float32's bytes, see CrossKeysValues); a single pass (the ITM and question
    /// encoders) keeps float32, which costs it no more than one read and rounds nothing.
    public func crossKeysValues(states: UnsafePointer<Float>, tokens: Int, decoding: Bool) -> CrossKeysValues {
        let hd = config.headDim
        let int8 = layers.contains { $0.crossAttention?.key.weight.int8 != nil }
        let kv = CrossKeysValues(layers: layers.count, tokens: tokens, width: width, headDim: hd,
                                 compact: decoding && int8 && CrossKeysValues.compactSupported(headDim: hd))
        let keys = ScratchBuffer(count: tokens * width), values = ScratchBuffer(count: tokens * width)
        let staging = ScratchBuffer(count: kv.compact ? tokens * width : 1)
        for (i, layer) in layers.enumerated() {
            guard let ca = layer.crossAttention else { continue }
            ca.key(states, rows: tokens, out: keys.pointer)
            ca.value(states, rows: tokens, out: values.pointer)
            kv.store(layer: i, keys: keys.pointer, values: values.pointer, staging: staging.pointer)
        }
        return kv
    }

    // MARK: forward

    /// Runs `tokens` new tokens for each of `beams` sequences that already have `past` cached
    /// positions. Writes the new keys/values into `cache`, and leaves the final hidden states
    /// [beams · tokens, width] in `scratch.hidden`.
    /// Either `beams == 1` (prefill, encoders) or `tokens == 1` (decode steps). With
    /// `.perRow` cross-attention sources (one per beam), `tokens` must be 1.
    func forward(ids: UnsafePointer<Int32>, beams: Int, tokens: Int, past: Int, causal: Bool,
                 cache: SelfAttentionCache, cross: CrossAttentionSource?, scratch: TextScratch) {
        let d = width, rows = beams * tokens
        let heads = config.numAttentionHeads, hd = config.headDim
        let scale = 1 / Float(hd).squareRoot()
        let h = scratch.hidden, tmp = scratch.temp, q = scratch.query, ctx = scratch.context
        // embeddings
        for b in 0..<beams {
            for t in 0..<tokens {
                let r = b * tokens + t
                let row = tmp + r * d
                row.update(from: wordEmbeddings.pointer + Int(ids[r]) * d, count: d)
                addInPlace(row, positionEmbeddings.pointer + (past + t) * d, count: d)
            }
        }
        embeddingNorm(tmp, rows: rows, out: h)

        let keysTotal = past + tokens
        for (li, layer) in layers.enumerated() {
            // self-attention: new keys/values go straight into the cache rows
            let sa = layer.selfAttention
            sa.query.auto(h, rows: rows, out: q)
            let kc = cache.keys[li].pointer, vc = cache.values[li].pointer
            let beamStride = cache.capacity * d
            if tokens == 1 {
                // row b → cache[b][past]
                sa.key.auto(h, rows: beams, out: kc + past * d, outStride: beamStride)
                sa.value.auto(h, rows: beams, out: vc + past * d, outStride: beamStride)
                for b in 0..<beams {
                    fewQueryAttention(rows: 1, q: q + b * d, qStride: d, k: kc + b * beamStride, v: vc + b * beamStride,
                                      kvStride: d, keys: keysTotal, heads: heads, headDim: hd, scale: scale,
                                      scores: scratch.scores, out: ctx + b * d, outStride: d)
                }
            } else {
                sa.key.auto(h, rows: tokens, out: kc + past * d)
                sa.value.auto(h, rows: tokens, out: vc + past * d)
                attention(shape: AttentionShape(queries: tokens, keys: keysTotal, heads: heads, headDim: hd),
                          q: q, qStride: d, k: kc, kStride: d, v: vc, vStride: d, scale: scale,
                          causalOffset: causal ? past : nil, scores: scratch.scores, out: ctx, outStride: d)
            }
            sa.output.auto(ctx, rows: rows, out: tmp)
            addInPlace(tmp, h, count: rows * d)
            sa.norm(tmp, rows: rows, out: h)

            if let source = cross, let ca = layer.crossAttention {
                ca.query.auto(h, rows: rows, out: q)
                switch source {
                case .perRow(let crosses):
                    // several images decoded together: each row reads its own image's keys/values
                    for (b, own) in crosses.enumerated() {
                        own.attend(layer: li, rows: 1, q: q + b * d, qStride: d, heads: heads, scale: scale,
                                   scores: scratch.scores, out: ctx + b * d, outStride: d)
                    }
                case .shared(let cross):
                    // all beams' queries (or a prompt's, a question's tokens) at once
                    cross.attend(layer: li, rows: rows, q: q, qStride: d, heads: heads, scale: scale,
                                 scores: scratch.scores, out: ctx, outStride: d)
                }
                ca.output.auto(ctx, rows: rows, out: tmp)
                addInPlace(tmp, h, count: rows * d)
                ca.norm(tmp, rows: rows, out: h)
            }

            // feed-forward
            layer.intermediate.auto(h, rows: rows, out: scratch.intermediate)
            geluInPlace(scratch.intermediate, count: rows * config.intermediateSize)
            layer.output.auto(scratch.intermediate, rows: rows, out: tmp)
            addInPlace(tmp, h, count: rows * d)
            layer.outputNorm(tmp, rows: rows, out: h)
        }
    }

    /// Bidirectional encoding of one unpadded sequence (VQA question / ITM / ITC text encoder):
    /// last_hidden_state [ids.count, width]. `cross` = encoder states [crossTokens, crossWidth] or nil.
    public func encode(ids: [Int32], cross: UnsafePointer<Float>?, crossTokens: Int) throws -> [Float] {
        if cross != nil, !hasCrossAttention {
            throw BlipError.unsupported("\(prefix)* has no cross-attention weights")
        }
        // Refuse bad ids before paying for the cross-attention keys and values.
        try validate(ids: ids, what: "token sequence")
        return try encode(ids: ids, crossKeysValues: cross.map { crossKeysValues(states: $0, tokens: crossTokens, decoding: false) })
    }

    /// `encode` against cross-attention keys/values computed beforehand (several texts against
    /// one image compute them once).
    public func encode(ids: [Int32], crossKeysValues kv: CrossKeysValues?) throws -> [Float] {
        try validate(ids: ids, what: "token sequence")
        let crossTokens = kv?.tokens ?? 0
        let n = ids.count
        let cache = SelfAttentionCache(layers: layers.count, beams: 1, capacity: n, width: width)
        let scratch = TextScratch(config: config, rows: n, maxKeys: max(n, crossTokens))
        ids.withUnsafeBufferPointer { p in
            forward(ids: p.baseAddress!, beams: 1, tokens: n, past: 0, causal: false,
                    cache: cache, cross: kv.map { .shared($0) }, scratch: scratch)
        }
        return Array(UnsafeBufferPointer(start: scratch.hidden, count: n * width))
    }
}
