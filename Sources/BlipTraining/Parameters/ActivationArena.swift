/// Memory for one training step's saved activations and backward temporaries: a bump
/// allocator over a list of large blocks. `reset()` at the start of each step makes the next
/// step reuse the same memory, so the hot loop never calls malloc and pointers handed out
/// stay valid until the reset (blocks never move).
final class ActivationArena {
    private var blocks: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private var block = 0
    private var used = 0
    private let minimumBlock: Int

    init(minimumBlock: Int = 1 << 22) { self.minimumBlock = minimumBlock }

    deinit { for b in blocks { b.pointer.deallocate() } }

    /// `count` floats, 64-byte aligned, uninitialised.
    func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = (max(count, 1) + 15) & ~15
        while block < blocks.count {
            if used + n <= blocks[block].capacity {
                defer { used += n }
                return blocks[block].pointer + used
            }
            block += 1
            used = 0
        }
        let capacity = max(n, minimumBlock)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
        blocks.append((raw.bindMemory(to: Float.self, capacity: capacity), capacity))
        used = n
        return blocks[block].pointer
    }

    /// `count` floats set to zero.
    func zeroed(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = allocate(count)
        p.initialize(repeating: 0, count: count)
        return p
    }

    /// Marks everything free; memory is kept for the next step.
    func reset() { block = 0; used = 0 }
}
