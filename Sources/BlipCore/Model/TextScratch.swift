/// Working memory for `TextTransformer.forward`, sized for at most `rows` rows and attention
/// over at most `maxKeys` keys, allocated once per call and reused by every layer and step.
final class TextScratch {
    /// Up to this many rows, attention runs per query (`fewQueryAttention`) rather than as GEMMs.
    static let fewRows = 8
    let buffers: [ScratchBuffer]
    let rows: Int
    var hidden: UnsafeMutablePointer<Float> { buffers[0].pointer }
    var temp: UnsafeMutablePointer<Float> { buffers[1].pointer }
    var query: UnsafeMutablePointer<Float> { buffers[2].pointer }
    var context: UnsafeMutablePointer<Float> { buffers[3].pointer }
    var intermediate: UnsafeMutablePointer<Float> { buffers[4].pointer }
    var scores: UnsafeMutablePointer<Float> { buffers[5].pointer }

    init(config: TextConfig, rows: Int, maxKeys: Int) {
        self.rows = rows
        let d = config.hiddenSize
        // GEMM attention needs rows × keys per head; per-query attention heads × rows × keys
        let scores = max(rows, min(rows, TextScratch.fewRows) * config.numAttentionHeads) * max(maxKeys, 1)
        buffers = [ScratchBuffer(count: rows * d), ScratchBuffer(count: rows * d), ScratchBuffer(count: rows * d),
                   ScratchBuffer(count: rows * d), ScratchBuffer(count: rows * config.intermediateSize),
                   ScratchBuffer(count: scores)]
    }
}
