import BlipCore
import BlipKernels

/// A parameter tensor's place in the store's arenas.
struct ParameterRef: Hashable {
    let index: Int
    let offset: Int
    let count: Int
}

/// Every parameter of a model being trained, in contiguous arenas (values; gradients and
/// AdamW's two moments for the trainable tensors only, so a frozen vision encoder costs no
/// optimizer memory), addressed by the names transformers gives them. Contiguity makes
/// zeroing, clipping and the optimizer one vector loop each, and saving a walk over names.
/// Modules register tensors while they are built; `allocate()` fixes the value layout, and
/// `prepareGradients()` the gradient layout once freezing is decided.
final class ParameterStore {
    struct Tensor {
        let name: String
        let shape: [Int]
        let offset: Int
        let count: Int
        var trainable: Bool
        /// Where the tensor's gradient (and AdamW moments) start; -1 when frozen.
        var gradientOffset = -1
    }

    private(set) var tensors: [Tensor] = []
    private var byName: [String: Int] = [:]
    private(set) var count = 0
    /// Floats in the gradient arena (the trainable tensors).
    private(set) var gradientCount = 0
    private(set) var values: UnsafeMutablePointer<Float>
    private(set) var grads: UnsafeMutablePointer<Float>

    init() {
        values = .allocate(capacity: 1)
        grads = .allocate(capacity: 1)
    }

    deinit { values.deallocate(); grads.deallocate() }

    /// Declares a tensor; registering the same name twice returns the first (tied weights).
    @discardableResult
    func register(_ name: String, _ shape: [Int], trainable: Bool = true) -> ParameterRef {
        if let i = byName[name] { let t = tensors[i]; return ParameterRef(index: i, offset: t.offset, count: t.count) }
        let n = shape.reduce(1, *)
        // 16-float alignment keeps every tensor on its own cache lines for the vector loops.
        let offset = (count + 15) & ~15
        tensors.append(Tensor(name: name, shape: shape, offset: offset, count: n, trainable: trainable))
        byName[name] = tensors.count - 1
        count = offset + n
        return ParameterRef(index: tensors.count - 1, offset: offset, count: n)
    }

    /// Allocates the value arena (zeroed). Call once, after registration.
    func allocate() {
        values.deallocate()
        values = .allocate(capacity: max(count, 1))
        values.initialize(repeating: 0, count: max(count, 1))
    }

    /// Lays out and zeroes the gradient arena for the tensors trainable now. Call after freezing.
    func prepareGradients() {
        var offset = 0
        for i in tensors.indices {
            if tensors[i].trainable {
                tensors[i].gradientOffset = offset
                offset = (offset + tensors[i].count + 15) & ~15
            } else {
                tensors[i].gradientOffset = -1
            }
        }
        gradientCount = offset
        grads.deallocate()
        grads = .allocate(capacity: max(offset, 1))
        grads.initialize(repeating: 0, count: max(offset, 1))
    }

    func ref(_ name: String) -> ParameterRef? {
        byName[name].map { ParameterRef(index: $0, offset: tensors[$0].offset, count: tensors[$0].count) }
    }

    @inline(__always) func value(_ r: ParameterRef) -> UnsafeMutablePointer<Float> { values + r.offset }
    /// The gradient of a trainable tensor (callers check `isTrainable` first).
    @inline(__always) func grad(_ r: ParameterRef) -> UnsafeMutablePointer<Float> { grads + tensors[r.index].gradientOffset }
    @inline(__always) func isTrainable(_ r: ParameterRef) -> Bool { tensors[r.index].trainable }

    /// Marks every tensor whose name starts with one of `prefixes` frozen.
    func freeze(prefixes: [String]) {
        for i in tensors.indices where prefixes.contains(where: { tensors[i].name.hasPrefix($0) }) {
            tensors[i].trainable = false
        }
    }

    var trainableCount: Int { tensors.reduce(0) { $0 + ($1.trainable ? $1.count : 0) } }
    var parameterCount: Int { tensors.reduce(0) { $0 + $1.count } }

    func zeroGradients() { grads.initialize(repeating: 0, count: max(gradientCount, 1)) }

    /// Copies every registered tensor except `skipping` from `source` (any storage; converted to float32).
    func load(from source: WeightSource, skipping: Set<String> = []) throws {
        for t in tensors where !skipping.contains(t.name) {
            let buffer = try source.floats(t.name, shape: t.shape)
            (values + t.offset).update(from: buffer.pointer, count: t.count)
        }
    }
}
