import BlipCore
import BlipKernels

/// What a text tower cross-attends to: `count` sets of states [tokens, width] back to back
/// (images, or VQA questions), which sequence reads which set, and an optional key mask per
/// set (question padding; images have none). The cross keys/values are computed once per set
/// and shared by every sequence that reads it (ITM's negatives reuse the batch's images).
struct CrossInput {
    let states: UnsafePointer<Float>
    let count: Int
    let tokens: Int
    let width: Int
    let setOfSequence: [Int]
    let keyMask: UnsafePointer<Float>?   // [count, tokens], 1 = attend
}

/// A padded batch of token sequences.
struct TokenBatch {
    let ids: [Int32]          // [B, L], right-padded
    let mask: [Float]         // [B, L], 1 = real token
    let sequences: Int
    let length: Int
}

/// BLIP's text tower (post-LN BERT with optional cross-attention) for training: the decoder
/// (`text_decoder.bert.`, causal) and the encoder (`text_encoder.`, bidirectional, with
/// cross-attention for ITM and VQA questions, without for ITC). Names and math as
/// BlipCore's `TextTransformer`; dropout sites as transformers' `BlipText*` modules.
struct TextTransformerTraining {
    struct AttentionBlock {
        let query: TrainableLinear
        let key: TrainableLinear
        let value: TrainableLinear
        let output: TrainableLinear
        let norm: TrainableLayerNorm
    }

    struct Layer {
        let selfAttention: AttentionBlock
        let crossAttention: AttentionBlock?
        let intermediate: TrainableLinear
        let output: TrainableLinear
        let outputNorm: TrainableLayerNorm
    }

    struct AttentionActivations {
        let input: UnsafeMutablePointer<Float>     // [R, D], the sublayer input (and residual)
        let query: UnsafeMutablePointer<Float>
        let key: UnsafeMutablePointer<Float>       // self: [R, D]; cross: [sets·tokens, D]
        let value: UnsafeMutablePointer<Float>
        let probs: UnsafeMutablePointer<Float>
        let probsDropout: AttentionDropout?
        let context: UnsafeMutablePointer<Float>
        let dropout: UnsafeMutablePointer<Float>?
        let norm: TrainableLayerNorm.Saved
    }

    struct LayerActivations {
        let selfAttention: AttentionActivations
        let crossAttention: AttentionActivations?
        let ffnInput: UnsafeMutablePointer<Float>
        let preGelu: UnsafeMutablePointer<Float>
        let postGelu: UnsafeMutablePointer<Float>
        let dropout: UnsafeMutablePointer<Float>?
        let outputNorm: TrainableLayerNorm.Saved
    }

    struct Activations {
        let batch: TokenBatch
        let causal: Bool
        let cross: CrossInput?
        let selfMask: UnsafeMutablePointer<Float>   // [B, L]
        let embeddingNorm: TrainableLayerNorm.Saved
        let embeddingDropout: UnsafeMutablePointer<Float>?
        let layers: [LayerActivations]
        /// last_hidden_state [B·L, D].
        let output: UnsafeMutablePointer<Float>
    }

    let config: TextConfig
    let prefix: String
    let wordEmbeddings: ParameterRef
    let positionEmbeddings: ParameterRef
    let embeddingNorm: TrainableLayerNorm
    let layers: [Layer]
    let hiddenDropout: Dropout

    /// `crossWidth`: width of the states cross-attention reads, or nil for a tower without it.
    init(_ store: ParameterStore, prefix: String, config c: TextConfig, crossWidth: Int?) {
        config = c
        self.prefix = prefix
        let d = c.hiddenSize
        wordEmbeddings = store.register(prefix + "embeddings.word_embeddings.weight", [c.vocabSize, d])
        positionEmbeddings = store.register(prefix + "embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, d])
        embeddingNorm = TrainableLayerNorm(store, prefix + "embeddings.LayerNorm", size: d, eps: c.layerNormEps)
        layers = (0..<c.numHiddenLayers).map { i in
            let l = prefix + "encoder.layer.\(i)."
            func block(_ p: String, keyWidth: Int) -> AttentionBlock {
                AttentionBlock(query: TrainableLinear(store, p + "self.query", in: d, out: d),
                               key: TrainableLinear(store, p + "self.key", in: keyWidth, out: d),
                               value: TrainableLinear(store, p + "self.value", in: keyWidth, out: d),
                               output: TrainableLinear(store, p + "output.dense", in: d, out: d),
                               norm: TrainableLayerNorm(store, p + "output.LayerNorm", size: d, eps: c.layerNormEps))
            }
            return Layer(selfAttention: block(l + "attention.", keyWidth: d),
                         crossAttention: crossWidth.map { block(l + "crossattention.", keyWidth: $0) },
                         intermediate: TrainableLinear(store, l + "intermediate.dense", in: d, out: c.intermediateSize),
                         output: TrainableLinear(store, l + "output.dense", in: c.intermediateSize, out: d),
                         outputNorm: TrainableLayerNorm(store, l + "output.LayerNorm", size: d, eps: c.layerNormEps))
        }
        hiddenDropout = Dropout(probability: c.hiddenDropout)
    }

    var width: Int { config.hiddenSize }
    var hasCrossAttention: Bool { layers.first?.crossAttention != nil }

    private func selfShape(_ b: TokenBatch) -> BatchedAttentionShape {
        BatchedAttentionShape(batch: b.sequences, queries: b.length, keys: b.length,
                              heads: config.numAttentionHeads, headDim: config.headDim)
    }

    private func crossShape(_ b: TokenBatch, _ cross: CrossInput) -> BatchedAttentionShape {
        BatchedAttentionShape(batch: 1, queries: b.length, keys: cross.tokens,
                              heads: config.numAttentionHeads, headDim: config.headDim)
    }

    private var scale: Float { 1 / Float(config.headDim).squareRoot() }

    /// Cross-attention runs one sequence per kernel call (each reads its own image's keys):
    /// each sequence gets its own dropout seed, the same in the forward and the backward.
    private static func sequenceDropout(_ d: AttentionDropout?, _ sequence: Int) -> AttentionDropout? {
        d.map { AttentionDropout(probability: $0.probability, seed: $0.seed &+ UInt64(sequence)) }
    }

    /// `cross` nil runs without cross-attention (the ITC text encoder).
    func forward(_ s: ParameterStore, batch: TokenBatch, causal: Bool, cross: CrossInput?,
                 random: inout SeededRandom, arena: ActivationArena) -> Activations {
        let d = width, rows = batch.sequences * batch.length, len = batch.length
        let words = s.value(wordEmbeddings), positions = s.value(positionEmbeddings)
        let embedded = arena.allocate(rows * d)
        for r in 0..<rows {
            let row = embedded + r * d
            row.update(from: words + Int(batch.ids[r]) * d, count: d)
            addInPlace(row, positions + (r % len) * d, count: d)
        }
        var h = arena.allocate(rows * d)
        let embNorm = embeddingNorm.forward(s, embedded, rows: rows, out: h, arena: arena)
        let embDrop = hiddenDropout.mask(count: rows * d, random: &random, arena: arena)
        applyMask(embDrop, to: h, count: rows * d)

        var saved: [LayerActivations] = []
        // The padding mask lives in the arena so the backward can read it after the forward returns.
        let selfMask = arena.allocate(rows)
        batch.mask.withUnsafeBufferPointer { selfMask.update(from: $0.baseAddress!, count: rows) }
        for layer in layers {
            let sa = attentionForward(s, layer.selfAttention, input: h, batch: batch, causal: causal,
                                      mask: selfMask, cross: nil, random: &random, arena: arena)
            h = sa.output
            var ca: AttentionActivations?
            if let cross, let block = layer.crossAttention {
                let r = attentionForward(s, block, input: h, batch: batch, causal: false, mask: nil, cross: cross,
                                         random: &random, arena: arena)
                h = r.output
                ca = r.saved
            }
            let pre = arena.allocate(rows * config.intermediateSize), post = arena.allocate(rows * config.intermediateSize)
            layer.intermediate.forward(s, h, rows: rows, out: pre)
            gelu(pre, out: post, count: rows * config.intermediateSize)
            let sum = arena.allocate(rows * d)
            layer.output.forward(s, post, rows: rows, out: sum)
            let drop = hiddenDropout.mask(count: rows * d, random: &random, arena: arena)
            applyMask(drop, to: sum, count: rows * d)
            addInPlace(sum, h, count: rows * d)
            let next = arena.allocate(rows * d)
            let norm = layer.outputNorm.forward(s, sum, rows: rows, out: next, arena: arena)
            saved.append(LayerActivations(selfAttention: sa.saved, crossAttention: ca, ffnInput: h, preGelu: pre,
                                          postGelu: post, dropout: drop, outputNorm: norm))
            h = next
        }
        return Activations(batch: batch, causal: causal, cross: cross, selfMask: selfMask, embeddingNorm: embNorm,
                           embeddingDropout: embDrop, layers: saved, output: h)
    }

    /// out = LN(dropout(dense(attention(...))) + input): self-attention (`cross` nil) or
    /// cross-attention over `cross`'s states.
    private func attentionForward(_ s: ParameterStore, _ block: AttentionBlock, input: UnsafeMutablePointer<Float>,
                                  batch: TokenBatch, causal: Bool, mask: UnsafePointer<Float>?, cross: CrossInput?,
                                  random: inout SeededRandom, arena: ActivationArena)
        -> (saved: AttentionActivations, output: UnsafeMutablePointer<Float>) {
        let d = width, rows = batch.sequences * batch.length
        let q = arena.allocate(rows * d)
        block.query.forward(s, input, rows: rows, out: q)
        let context = arena.allocate(rows * d)
        let p = config.attentionProbsDropout
        let probsDropout = p > 0 ? AttentionDropout(probability: p, seed: random.next()) : nil
        let k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>
        if let cross {
            let keyRows = cross.count * cross.tokens
            k = arena.allocate(keyRows * d); v = arena.allocate(keyRows * d)
            block.key.forward(s, cross.states, rows: keyRows, out: k)
            block.value.forward(s, cross.states, rows: keyRows, out: v)
            let shape = crossShape(batch, cross), perSeq = shape.probabilityCount
            probs = arena.allocate(batch.sequences * perSeq)
            for b in 0..<batch.sequences {
                let set = cross.setOfSequence[b], qo = b * batch.length * d
                attentionForwardTraining(shape: shape, q: q + qo, qStride: d,
                                         k: k + set * cross.tokens * d, kStride: d, v: v + set * cross.tokens * d, vStride: d,
                                         scale: scale, causal: false, keyMask: cross.keyMask.map { $0 + set * cross.tokens },
                                         dropout: Self.sequenceDropout(probsDropout, b),
                                         probs: probs + b * perSeq, out: context + qo, outStride: d)
            }
        } else {
            k = arena.allocate(rows * d); v = arena.allocate(rows * d)
            block.key.forward(s, input, rows: rows, out: k)
            block.value.forward(s, input, rows: rows, out: v)
            let shape = selfShape(batch)
            probs = arena.allocate(shape.probabilityCount)
            attentionForwardTraining(shape: shape, q: q, qStride: d, k: k, kStride: d, v: v, vStride: d, scale: scale,
                                     causal: causal, keyMask: mask, dropout: probsDropout, probs: probs, out: context, outStride: d)
        }
        let sum = arena.allocate(rows * d)
        block.output.forward(s, context, rows: rows, out: sum)
        let drop = hiddenDropout.mask(count: rows * d, random: &random, arena: arena)
        applyMask(drop, to: sum, count: rows * d)
        addInPlace(sum, input, count: rows * d)
        let out = arena.allocate(rows * d)
        let norm = block.norm.forward(s, sum, rows: rows, out: out, arena: arena)
        return (AttentionActivations(input: input, query: q, key: k, value: v, probs: probs, probsDropout: probsDropout, context: context,
                                     dropout: drop, norm: norm), out)
    }

    /// Accumulates parameter gradients from `dOutput` (d loss / d last_hidden_state, used as
    /// scratch). When `dCrossStates` is given, adds d loss / d cross states into it.
    func backward(_ s: ParameterStore, _ a: Activations, dOutput: UnsafeMutablePointer<Float>,
                  dCrossStates: UnsafeMutablePointer<Float>?, arena: ActivationArena) {
        let d = width, batch = a.batch, rows = batch.sequences * batch.length
        let dh = dOutput
        let dWide = arena.allocate(rows * config.intermediateSize)
        let dTemp = arena.allocate(rows * d)
        for (layer, act) in zip(layers, a.layers).reversed() {
            // next = LN(dropout(output(gelu(intermediate(h)))) + h)
            layer.outputNorm.backward(s, act.outputNorm, dy: dh, dx: dh)
            dTemp.update(from: dh, count: rows * d)
            applyMask(act.dropout, to: dTemp, count: rows * d)
            layer.output.backward(s, x: act.postGelu, dy: dTemp, rows: rows, dx: dWide)
            geluBackward(dy: dWide, preActivation: act.preGelu, dx: dWide, count: rows * config.intermediateSize)
            layer.intermediate.backward(s, x: act.ffnInput, dy: dWide, rows: rows, dx: dh, accumulate: true)
            if let ca = act.crossAttention, let block = layer.crossAttention, let cross = a.cross {
                attentionBackward(s, block, ca, dOutput: dh, batch: batch, causal: false, mask: nil, cross: cross,
                                  dCrossStates: dCrossStates, arena: arena)
            }
            attentionBackward(s, layer.selfAttention, act.selfAttention, dOutput: dh, batch: batch, causal: a.causal,
                              mask: a.selfMask, cross: nil, dCrossStates: nil, arena: arena)
        }
        // The embedding dropout came after the norm, so its mask applies first on the way back.
        applyMask(a.embeddingDropout, to: dh, count: rows * d)
        embeddingNorm.backward(s, a.embeddingNorm, dy: dh, dx: dh)
        let words = s.grad(wordEmbeddings), positions = s.grad(positionEmbeddings)
        let len = batch.length
        if s.isTrainable(wordEmbeddings) {
            // nn.Embedding(padding_idx: pad_token_id): the padding row never gets a gradient.
            let pad = Int32(clamping: config.padTokenId)
            for r in 0..<rows where batch.ids[r] != pad { addInPlace(words + Int(batch.ids[r]) * d, dh + r * d, count: d) }
        }
        if s.isTrainable(positionEmbeddings) {
            for r in 0..<rows { addInPlace(positions + (r % len) * d, dh + r * d, count: d) }
        }
    }

    /// Backward of `attentionForward`: dOutput (d out) in, d input written back into dOutput.
    private func attentionBackward(_ s: ParameterStore, _ block: AttentionBlock, _ act: AttentionActivations,
                                   dOutput dh: UnsafeMutablePointer<Float>, batch: TokenBatch, causal: Bool,
                                   mask: UnsafePointer<Float>?, cross: CrossInput?,
                                   dCrossStates: UnsafeMutablePointer<Float>?, arena: ActivationArena) {
        let d = width, rows = batch.sequences * batch.length
        block.norm.backward(s, act.norm, dy: dh, dx: dh)      // dh = d(sum) = d(input) via the residual
        let dSum = arena.allocate(rows * d)
        dSum.update(from: dh, count: rows * d)
        applyMask(act.dropout, to: dSum, count: rows * d)
        let dContext = arena.allocate(rows * d)
        block.output.backward(s, x: act.context, dy: dSum, rows: rows, dx: dContext)
        let dq = arena.allocate(rows * d)
        if let cross {
            let keyRows = cross.count * cross.tokens
            let dk = arena.zeroed(keyRows * d), dv = arena.zeroed(keyRows * d)
            let shape = crossShape(batch, cross), perSeq = shape.probabilityCount
            let scratch = arena.allocate(attentionBackwardScratchCount(shape, dropout: act.probsDropout != nil))
            let dkOne = arena.allocate(cross.tokens * d), dvOne = arena.allocate(cross.tokens * d)
            for b in 0..<batch.sequences {
                let set = cross.setOfSequence[b], qo = b * batch.length * d, ko = set * cross.tokens * d
                BlipKernels.attentionBackward(shape: shape, dOut: dContext + qo, dOutStride: d, probs: act.probs + b * perSeq,
                                  q: act.query + qo, qStride: d, k: act.key + ko, kStride: d, v: act.value + ko, vStride: d,
                                  scale: scale,
                                  dropout: Self.sequenceDropout(act.probsDropout, b),
                                  dq: dq + qo, dqStride: d, dk: dkOne, dkStride: d, dv: dvOne, dvStride: d,
                                  scratch: scratch)
                addInPlace(dk + ko, dkOne, count: cross.tokens * d)
                addInPlace(dv + ko, dvOne, count: cross.tokens * d)
            }
            block.key.backward(s, x: cross.states, dy: dk, rows: keyRows, dx: dCrossStates, accumulate: true)
            block.value.backward(s, x: cross.states, dy: dv, rows: keyRows, dx: dCrossStates, accumulate: true)
            block.query.backward(s, x: act.input, dy: dq, rows: rows, dx: dh, accumulate: true)
        } else {
            let shape = selfShape(batch)
            let dk = arena.allocate(rows * d), dv = arena.allocate(rows * d)
            BlipKernels.attentionBackward(shape: shape, dOut: dContext, dOutStride: d, probs: act.probs, q: act.query, qStride: d,
                              k: act.key, kStride: d, v: act.value, vStride: d, scale: scale, dropout: act.probsDropout,
                              dq: dq, dqStride: d, dk: dk, dkStride: d, dv: dv, dvStride: d,
                              scratch: arena.allocate(attentionBackwardScratchCount(shape, dropout: act.probsDropout != nil)))
            block.query.backward(s, x: act.input, dy: dq, rows: rows, dx: dh, accumulate: true)
            block.key.backward(s, x: act.input, dy: dk, rows: rows, dx: dh, accumulate: true)
            block.value.backward(s, x: act.input, dy: dv, rows: rows, dx: dh, accumulate: true)
        }
    }
}
