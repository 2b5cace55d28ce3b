import BlipKernels

/// BLIP's ViT: 16×16 patch embedding, class token, learned positions, pre-LN blocks with a
/// fused qkv projection and exact-erf GELU, and a final LayerNorm over every token.
public final class VisionTransformer: @unchecked Sendable {
    struct Block {
        let norm1: LayerNorm
        let qkv: Linear          // [3·D, D]: rows are q | k | v
        let projection: Linear
        let norm2: LayerNorm
        let fc1: Linear
        let fc2: Linear
    }

    public let config: VisionConfig
    let patchEmbedding: Linear     // Conv2d weight [D, 3, p, p] as a [D, 3·p·p] matrix (c, ky, kx order)
    let classEmbedding: FloatBuffer
    let positionEmbedding: FloatBuffer
    let blocks: [Block]
    let postLayerNorm: LayerNorm

    public init(_ w: WeightSource, config c: VisionConfig, prefix: String = "vision_model.") throws {
        config = c
        let d = c.hiddenSize, p = c.patchSize
        let patchLen = c.numChannels * p * p
        patchEmbedding = Linear(weight: try w.floats(prefix + "embeddings.patch_embedding.weight", shape: [d, c.numChannels, p, p]),
                                bias: try w.floats(prefix + "embeddings.patch_embedding.bias", shape: [d]),
                                in: patchLen, out: d).packedForManyRows()
        classEmbedding = try w.floats(prefix + "embeddings.class_embedding", shape: [1, 1, d])
        positionEmbedding = try w.floats(prefix + "embeddings.position_embedding", shape: [1, c.numPositions, d])
        blocks = try (0..<c.numHiddenLayers).map { i in
            let l = prefix + "encoder.layers.\(i)."
            return Block(
                norm1: try LayerNorm(w, l + "layer_norm1", size: d, eps: c.layerNormEps),
                qkv: try Linear(w, l + "self_attn.qkv", in: d, out: 3 * d).packedForManyRows(),
                projection: try Linear(w, l + "self_attn.projection", in: d, out: d).packedForManyRows(),
                norm2: try LayerNorm(w, l + "layer_norm2", size: d, eps: c.layerNormEps),
                fc1: try Linear(w, l + "mlp.fc1", in: d, out: c.intermediateSize).packedForManyRows(),
                fc2: try Linear(w, l + "mlp.fc2", in: c.intermediateSize, out: d).packedForManyRows())
        }
        postLayerNorm = try LayerNorm(w, prefix + "post_layernorm", size: d, eps: c.layerNormEps)
    }

    /// Tokens per image (patches + class token).
    public var tokens: Int { config.numPositions }
    public var width: Int { config.hiddenSize }

    public var parameterCount: Int {
        patchEmbedding.parameterCount + classEmbedding.count + positionEmbedding.count + 2 * width
            + blocks.reduce(0) { $0 + $1.qkv.parameterCount + $1.projection.parameterCount + $1.fc1.parameterCount + $1.fc2.parameterCount + 4 * width }
    }

    /// Encodes one preprocessed image `pixels` [3, S, S] (channels-first, normalised) into
    /// `out` [tokens, width]: the post-LayerNorm last_hidden_state.
    public func encode(pixels: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, scratch: VisionScratch) {
        let c = config, n = tokens, d = width, p = c.patchSize, grid = c.gridSize, s = c.imageSize
        let patchLen = c.numChannels * p * p
        let h = out   // the residual stream lives in `out` until the final LayerNorm
        // Patch embedding as a GEMM over unfolded patches: rows = patches, cols = (c, ky, kx).
        let patches = scratch.a
        for gy in 0..<grid {
            for gx in 0..<grid {
                let row = patches + (gy * grid + gx) * patchLen
                for ch in 0..<c.numChannels {
                    for ky in 0..<p {
                        let src = pixels + ch * s * s + (gy * p + ky) * s + gx * p
                        (row + ch * p * p + ky * p).update(from: src, count: p)
                    }
                }
            }
        }
        patchEmbedding(patches, rows: n - 1, out: h + d)
        h.update(from: classEmbedding.pointer, count: d)
        addInPlace(h, positionEmbedding.pointer, count: n * d)

        let normed = scratch.b, qkv = scratch.c, attn = scratch.d, mlp = scratch.c
        let heads = c.numAttentionHeads, hd = c.headDim
        let shape = AttentionShape(queries: n, keys: n, heads: heads, headDim: hd)
        let scale = 1 / Float(hd).squareRoot()
        for block in blocks {
            block.qkv(normalizing: h, with: block.norm1, rows: n, out: qkv, scratch: normed)
            // An int8 model's attention is int8 too where the CPU has an int8 kernel in C (VNNI or
            // AVX2; as ONNX Runtime's dynamic quantization does it); float32 otherwise.
            if !(block.qkv.weight.int8 != nil
                 && int8Attention(shape: shape, q: qkv, qStride: 3 * d, k: qkv + d, kStride: 3 * d, v: qkv + 2 * d,
                                  vStride: 3 * d, scale: scale, out: attn, outStride: d)) {
                attention(shape: shape, q: qkv, qStride: 3 * d, k: qkv + d, kStride: 3 * d, v: qkv + 2 * d, vStride: 3 * d,
                          scale: scale, scores: scratch.scores, out: attn, outStride: d)
            }
            block.projection.add(attn, rows: n, to: h, scratch: normed)
            block.fc1(normalizing: h, with: block.norm2, rows: n, out: mlp, outStride: scratch.mlpStride,
                      scratch: normed, gelu: true)
            block.fc2.add(mlp, rows: n, inStride: scratch.mlpStride, to: h, scratch: attn)
        }
        postLayerNorm(h, rows: n, out: normed)
        out.update(from: normed, count: n * d)
    }

    public func makeScratch() -> VisionScratch { VisionScratch(config: config) }
}

/// Per-call working memory for the vision encoder, sized once for the largest layer.
public final class VisionScratch {
    let buffers: [ScratchBuffer]
    var a: UnsafeMutablePointer<Float> { buffers[0].pointer }
    var b: UnsafeMutablePointer<Float> { buffers[1].pointer }
    var c: UnsafeMutablePointer<Float> { buffers[2].pointer }
    var d: UnsafeMutablePointer<Float> { buffers[3].pointer }
    var scores: UnsafeMutablePointer<Float> { buffers[4].pointer }

    /// Floats from one MLP hidden row to the next: the intermediate size, padded where its rows
    /// would alias in L1 (3,072 floats are 12 KB), so fc2 reads them in place.
    let mlpStride: Int

    init(config: VisionConfig) {
        let n = config.numPositions, d = config.hiddenSize
        let patchLen = config.numChannels * config.patchSize * config.patchSize
        mlpStride = PackedF32Matrix.unaliasedStride(config.intermediateSize)
        let wide = n * max(3 * d, mlpStride)
        buffers = [ScratchBuffer(count: n * max(patchLen, d)), ScratchBuffer(count: n * d),
                   ScratchBuffer(count: wide), ScratchBuffer(count: n * d), ScratchBuffer(count: n * n)]
    }
}
