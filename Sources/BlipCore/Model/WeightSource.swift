/// Where model code gets its parameters: by name, with the shape it expects. Implemented by
/// each storage format (safetensors directory, quantized file); model code never sees formats.
public protocol WeightSource: AnyObject {
    /// True when a tensor with this name exists.
    func contains(_ name: String) -> Bool
    /// The tensor as float32, checked against `shape`. Errors name the file and tensor.
    func floats(_ name: String, shape: [Int]) throws -> FloatBuffer
    /// A human-readable storage description, e.g. "safetensors F32 (mmap)".
    var storageDescription: String { get }
    /// Total number of parameters in the file.
    var parameterCount: Int { get }
}
