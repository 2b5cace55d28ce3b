/// What a text transformer's cross-attention reads: one image's (or question's) keys and
/// values shared by every row (the beams of one sequence), or one set per row (several
/// images decoded together).
enum CrossAttentionSource {
    case shared(CrossKeysValues)
    case perRow([CrossKeysValues])
}

/// Cross-attention keys and values of every layer for one set of encoder states, computed
/// once and shared by all beams. Each layer's are stored head by head, [heads, tokens,
/// headDim]: a decode step reads every head's keys and values as one contiguous stream, where
/// the projection's [tokens, width] layout would have it gather 577 slices 3 KB apart per head
/// (twice as slow on Zen 4, and these reads are a fifth of an int8 decode step).
public final class CrossKeysValues {
    let keys: [ScratchBuffer]
    let values: [ScratchBuffer]
    public let tokens: Int
    let headDim: Int
    /// Row stride within a head, and the offset from one head's block to the next.
    var rowStride: Int { headDim }
    var headStride: Int { tokens * headDim }

    init(layers: Int, tokens: Int, width: Int, headDim: Int) {
        self.tokens = tokens
        self.headDim = headDim
        keys = (0..<layers).map { _ in ScratchBuffer(count: tokens * width) }
        values = (0..<layers).map { _ in ScratchBuffer(count: tokens * width) }
    }

    /// Stores `rows` ([tokens, width], heads as column blocks) into `target` head by head.
    static func storeByHead(_ rows: UnsafePointer<Float>, tokens: Int, width: Int, headDim: Int,
                            into target: UnsafeMutablePointer<Float>) {
        for h in 0..<(width / headDim) {
            let block = target + h * tokens * headDim
            for t in 0..<tokens {
                (block + t * headDim).update(from: rows + t * width + h * headDim, count: headDim)
            }
        }
    }
}
