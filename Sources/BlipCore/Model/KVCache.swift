/// Self-attention keys and values of every layer for `beams` sequences, preallocated for
/// `capacity` positions: layout [layer] → [beam][position][width].
public final class SelfAttentionCache {
    let keys: [ScratchBuffer]
    let values: [ScratchBuffer]
    let beams: Int
    let capacity: Int
    let width: Int
    /// Reorder staging area [beams][capacity][width], allocated once.
    private let staging: ScratchBuffer

    init(layers: Int, beams: Int, capacity: Int, width: Int) {
        self.beams = beams
        self.capacity = capacity
        self.width = width
        let count = beams * capacity * width
        keys = (0..<layers).map { _ in ScratchBuffer(count: count) }
        values = (0..<layers).map { _ in ScratchBuffer(count: count) }
        staging = ScratchBuffer(count: beams > 1 ? count : 1)
    }

    /// Copies beam `from`'s first `length` positions into every other beam (after a
    /// single-sequence prefill, all beams start from the same prompt).
    func broadcast(from: Int = 0, length: Int) {
        let count = length * width, stride = capacity * width
        for buffers in [keys, values] {
            for buffer in buffers {
                for b in 0..<beams where b != from {
                    (buffer.pointer + b * stride).update(from: buffer.pointer + from * stride, count: count)
                }
            }
        }
    }

    /// Copies the first `length` positions of `source`'s beam 0 into beam `beam` (a sequence
    /// prefilled on its own joins a batch).
    func copy(into beam: Int, from source: SelfAttentionCache, length: Int) {
        precondition(source.width == width && length <= capacity && length <= source.capacity && beam < beams)
        let count = length * width, stride = capacity * width
        for (mine, theirs) in zip(keys + values, source.keys + source.values) {
            (mine.pointer + beam * stride).update(from: theirs.pointer, count: count)
        }
    }

    /// New beam b continues old beam `order[b]`: reorders the first `length` positions.
    func reorder(_ order: UnsafePointer<Int>, length: Int) {
        var identity = true
        for b in 0..<beams where order[b] != b { identity = false }
        if identity { return }
        let count = length * width, stride = capacity * width
        let stage = staging.pointer
        for buffers in [keys, values] {
            for buffer in buffers {
                for b in 0..<beams { (stage + b * stride).update(from: buffer.pointer + order[b] * stride, count: count) }
                for b in 0..<beams { (buffer.pointer + b * stride).update(from: stage + b * stride, count: count) }
            }
        }
    }
}

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
