import BlipCore
import BlipKernels

/// BLIP's ViT for training: the forward saves what the backward needs (llm.c's style: an
/// explicit pass per layer, activations in the step's arena). Same math, names and layout as
/// BlipCore's `VisionTransformer`.
struct VisionEncoderTraining {
    struct Block {
        let norm1: TrainableLayerNorm
        let qkv: TrainableLinear
        let projection: TrainableLinear
        let norm2: TrainableLayerNorm
        let fc1: TrainableLinear
        let fc2: TrainableLinear
    }

    /// One block's saved activations.
    struct BlockActivations {
        let input: UnsafeMutablePointer<Float>     // residual stream entering the block [R, D]
        let norm1: TrainableLayerNorm.Saved
        let normed1: UnsafeMutablePointer<Float>
        let qkv: UnsafeMutablePointer<Float>       // [R, 3D]
        let probs: UnsafeMutablePointer<Float>     // [B, H, N, N]
        let dropout: AttentionDropout?
        let context: UnsafeMutablePointer<Float>
        let middle: UnsafeMutablePointer<Float>    // after the attention residual
        let norm2: TrainableLayerNorm.Saved
        let normed2: UnsafeMutablePointer<Float>
        let preGelu: UnsafeMutablePointer<Float>   // [R, I]
        let postGelu: UnsafeMutablePointer<Float>
    }

    struct Activations {
        let batch: Int
        let patches: UnsafeMutablePointer<Float>   // [B·P, 3·p·p]
        let blocks: [BlockActivations]
        let final: TrainableLayerNorm.Saved
        /// last_hidden_state [B·N, D].
        let output: UnsafeMutablePointer<Float>
    }

    let config: VisionConfig
    let patchEmbedding: TrainableLinear   // the Conv2d weight [D, 3, p, p] read as [D, 3·p·p]
    let classEmbedding: ParameterRef
    let positionEmbedding: ParameterRef
    let blocks: [Block]
    let postLayerNorm: TrainableLayerNorm

    init(_ store: ParameterStore, config c: VisionConfig, prefix: String = "vision_model.") {
        config = c
        let d = c.hiddenSize, p = c.patchSize
        let w = store.register(prefix + "embeddings.patch_embedding.weight", [d, c.numChannels, p, p])
        let b = store.register(prefix + "embeddings.patch_embedding.bias", [d])
        patchEmbedding = TrainableLinear(weight: w, bias: b, in: c.numChannels * p * p, out: d)
        classEmbedding = store.register(prefix + "embeddings.class_embedding", [1, 1, d])
        positionEmbedding = store.register(prefix + "embeddings.position_embedding", [1, c.numPositions, d])
        blocks = (0..<c.numHiddenLayers).map { i in
            let l = prefix + "encoder.layers.\(i)."
            return Block(norm1: TrainableLayerNorm(store, l + "layer_norm1", size: d, eps: c.layerNormEps),
                         qkv: TrainableLinear(store, l + "self_attn.qkv", in: d, out: 3 * d),
                         projection: TrainableLinear(store, l + "self_attn.projection", in: d, out: d),
                         norm2: TrainableLayerNorm(store, l + "layer_norm2", size: d, eps: c.layerNormEps),
                         fc1: TrainableLinear(store, l + "mlp.fc1", in: d, out: c.intermediateSize),
                         fc2: TrainableLinear(store, l + "mlp.fc2", in: c.intermediateSize, out: d))
        }
        postLayerNorm = TrainableLayerNorm(store, prefix + "post_layernorm", size: d, eps: c.layerNormEps)
    }

    var tokens: Int { config.numPositions }
    var width: Int { config.hiddenSize }

    private var attentionShape: (Int) -> BatchedAttentionShape {
        { b in BatchedAttentionShape(batch: b, queries: tokens, keys: tokens, heads: config.numAttentionHeads, headDim: config.headDim) }
    }

    /// `pixels`: `batch` preprocessed images [3, S, S] back to back.
    func forward(_ s: ParameterStore, pixels: UnsafePointer<Float>, batch: Int, random: inout SeededRandom,
                 arena: ActivationArena) -> Activations {
        let c = config, n = tokens, d = width, p = c.patchSize, grid = c.gridSize, side = c.imageSize
        let patchLen = c.numChannels * p * p, perImage = n - 1, rows = batch * n
        // Patch embedding as a GEMM over unfolded patches (rows = patches, cols = (c, ky, kx)).
        let patches = arena.allocate(batch * perImage * patchLen)
        for b in 0..<batch {
            let image = pixels + b * c.numChannels * side * side
            for gy in 0..<grid {
                for gx in 0..<grid {
                    let row = patches + (b * perImage + gy * grid + gx) * patchLen
                    for ch in 0..<c.numChannels {
                        for ky in 0..<p {
                            (row + ch * p * p + ky * p).update(from: image + ch * side * side + (gy * p + ky) * side + gx * p, count: p)
                        }
                    }
                }
            }
        }
        let embedded = arena.allocate(batch * perImage * d)
        patchEmbedding.forward(s, patches, rows: batch * perImage, out: embedded)
        var h = arena.allocate(rows * d)
        let position = s.value(positionEmbedding)
        for b in 0..<batch {
            let seq = h + b * n * d
            seq.update(from: s.value(classEmbedding), count: d)
            (seq + d).update(from: embedded + b * perImage * d, count: perImage * d)
            addInPlace(seq, position, count: n * d)
        }

        let shape = attentionShape(batch)
        let scale = 1 / Float(c.headDim).squareRoot()
        var saved: [BlockActivations] = []
        saved.reserveCapacity(blocks.count)
        for block in blocks {
            let normed1 = arena.allocate(rows * d)
            let n1 = block.norm1.forward(s, h, rows: rows, out: normed1, arena: arena)
            let qkv = arena.allocate(rows * 3 * d)
            block.qkv.forward(s, normed1, rows: rows, out: qkv)
            let probs = arena.allocate(shape.probabilityCount)
            let context = arena.allocate(rows * d)
            let dropout = c.attentionDropout > 0 ? AttentionDropout(probability: c.attentionDropout, seed: random.next()) : nil
            attentionForwardTraining(shape: shape, q: qkv, qStride: 3 * d, k: qkv + d, kStride: 3 * d,
                                     v: qkv + 2 * d, vStride: 3 * d, scale: scale, causal: false, keyMask: nil,
                                     dropout: dropout, probs: probs, out: context, outStride: d)
            let middle = arena.allocate(rows * d)
            block.projection.forward(s, context, rows: rows, out: middle)
            addInPlace(middle, h, count: rows * d)
            let normed2 = arena.allocate(rows * d)
            let n2 = block.norm2.forward(s, middle, rows: rows, out: normed2, arena: arena)
            let pre = arena.allocate(rows * c.intermediateSize), post = arena.allocate(rows * c.intermediateSize)
            block.fc1.forward(s, normed2, rows: rows, out: pre)
            gelu(pre, out: post, count: rows * c.intermediateSize)
            let next = arena.allocate(rows * d)
            block.fc2.forward(s, post, rows: rows, out: next)
            addInPlace(next, middle, count: rows * d)
            saved.append(BlockActivations(input: h, norm1: n1, normed1: normed1, qkv: qkv, probs: probs, dropout: dropout, context: context,
                                          middle: middle, norm2: n2, normed2: normed2, preGelu: pre, postGelu: post))
            h = next
        }
        let output = arena.allocate(rows * d)
        let final = postLayerNorm.forward(s, h, rows: rows, out: output, arena: arena)
        return Activations(batch: batch, patches: patches, blocks: saved, final: final, output: output)
    }

    /// Accumulates parameter gradients from `dOutput` (d loss / d last_hidden_state, [B·N, D]).
    /// `dOutput` is used as scratch.
    func backward(_ s: ParameterStore, _ a: Activations, dOutput: UnsafeMutablePointer<Float>, arena: ActivationArena) {
        let c = config, n = tokens, d = width, batch = a.batch, rows = batch * n
        let shape = attentionShape(batch)
        let scale = 1 / Float(c.headDim).squareRoot()
        let dh = dOutput
        postLayerNorm.backward(s, a.final, dy: dh, dx: dh)
        let dWide = arena.allocate(rows * max(c.intermediateSize, 3 * d))
        let dNarrow = arena.allocate(rows * d)
        let attentionScratch = arena.allocate(attentionBackwardScratchCount(shape, dropout: c.attentionDropout > 0))
        for (block, act) in zip(blocks, a.blocks).reversed() {
            // next = middle + fc2(gelu(fc1(norm2(middle))))
            block.fc2.backward(s, x: act.postGelu, dy: dh, rows: rows, dx: dWide)
            geluBackward(dy: dWide, preActivation: act.preGelu, dx: dWide, count: rows * c.intermediateSize)
            block.fc1.backward(s, x: act.normed2, dy: dWide, rows: rows, dx: dNarrow)
            block.norm2.backward(s, act.norm2, dy: dNarrow, dx: dNarrow)
            addInPlace(dh, dNarrow, count: rows * d)
            // middle = input + projection(attention(qkv(norm1(input))))
            block.projection.backward(s, x: act.context, dy: dh, rows: rows, dx: dNarrow)
            attentionBackward(shape: shape, dOut: dNarrow, dOutStride: d, probs: act.probs,
                              q: act.qkv, qStride: 3 * d, k: act.qkv + d, kStride: 3 * d, v: act.qkv + 2 * d, vStride: 3 * d,
                              scale: scale, dropout: act.dropout, dq: dWide, dqStride: 3 * d, dk: dWide + d, dkStride: 3 * d,
                              dv: dWide + 2 * d, dvStride: 3 * d, scratch: attentionScratch)
            block.qkv.backward(s, x: act.normed1, dy: dWide, rows: rows, dx: dNarrow)
            block.norm1.backward(s, act.norm1, dy: dNarrow, dx: dNarrow)
            addInPlace(dh, dNarrow, count: rows * d)
        }
        // Embeddings: class token, positions, and the patch projection (pixels need no gradient).
        let perImage = n - 1
        if s.isTrainable(classEmbedding) {
            for b in 0..<batch { addInPlace(s.grad(classEmbedding), dh + b * n * d, count: d) }
        }
        if s.isTrainable(positionEmbedding) {
            for b in 0..<batch { addInPlace(s.grad(positionEmbedding), dh + b * n * d, count: n * d) }
        }
        let dEmbedded = arena.allocate(batch * perImage * d)
        for b in 0..<batch { (dEmbedded + b * perImage * d).update(from: dh + (b * n + 1) * d, count: perImage * d) }
        patchEmbedding.backward(s, x: a.patches, dy: dEmbedded, rows: batch * perImage, dx: nil)
    }
}
