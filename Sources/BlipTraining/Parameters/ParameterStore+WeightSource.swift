import BlipCore

/// The store as a BlipCore weight source, so inference code (evaluation, the frozen vision
/// encoder) runs on the current parameters without a copy. The buffers borrow the store's
/// memory: they see later updates, and the store must outlive whatever holds them.
extension ParameterStore: WeightSource {
    func contains(_ name: String) -> Bool { ref(name) != nil }

    func floats(_ name: String, shape: [Int]) throws -> FloatBuffer {
        guard let r = ref(name) else { throw BlipError.modelFormat("training parameters: no tensor '\(name)'") }
        guard tensors[r.index].shape.reduce(1, *) == shape.reduce(1, *) else {
            throw BlipError.modelFormat("training parameters: '\(name)' has shape \(tensors[r.index].shape), expected \(shape)")
        }
        return FloatBuffer(borrowing: value(r), count: r.count, owner: self)
    }

    var storageDescription: String { "training parameters F32" }
}
