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
