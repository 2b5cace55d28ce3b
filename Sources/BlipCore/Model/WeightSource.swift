import BlipKernels

/// Where model code gets its parameters: by name, with the shape it expects. Implemented by
/// each storage format (safetensors directory, quantized file); model code never sees formats.
public protocol WeightSource: AnyObject {
    /// True when a tensor with this name exists.
    func contains(_ name: String) -> Bool
    /// The tensor as float32, checked against `shape`. Errors name the file and tensor.
    func floats(_ name: String, shape: [Int]) throws -> FloatBuffer
    /// The weight matrix [out × in] of a linear layer, in whatever form the storage holds it
    /// (float32, or int8 with per-channel scales); `Linear` picks the matching kernel.
    func linearWeight(_ name: String, out: Int, in: Int) throws -> LinearWeight
    /// A human-readable storage description, e.g. "safetensors F32 (mmap)".
    var storageDescription: String { get }
    /// Total number of parameters in the file.
    var parameterCount: Int { get }
    /// True when a tied LM head (the word-embedding matrix) should run in int8: the storage
    /// asks for it but stores the matrix once, as embeddings, so the model quantizes it at load.
    var quantizesTiedLMHead: Bool { get }
}

extension WeightSource {
    public var quantizesTiedLMHead: Bool { false }

    /// Float storage: the matrix as float32.
    public func linearWeight(_ name: String, out: Int, in inFeatures: Int) throws -> LinearWeight {
        .f32(try floats(name, shape: [out, inFeatures]))
    }
}

/// A linear layer's weight matrix W [out × in] as stored: exactly one of the three is set.
///
/// A struct of optionals, not an enum with three class payloads: Swift keeps such an enum's
/// case in spare bits of the stored pointer, which LeakSanitizer cannot see through, so the
/// packed weights of a model still alive at exit were reported as leaks.
public struct LinearWeight: @unchecked Sendable {
    /// Row-major float32 (BLAS sgemm).
    public let f32: FloatBuffer?
    /// int8, one scale per output channel, packed for the int8 kernels (`Int8Gemm`).
    public let int8: Int8Matrix?
    /// float32 packed once for the AVX-512 GEMM (`PackedF32Matrix`): layers that always see
    /// many rows, on CPUs that run it (`Linear.packedForManyRows`).
    public let packedF32: PackedF32Matrix?

    public static func f32(_ w: FloatBuffer) -> LinearWeight { LinearWeight(f32: w, int8: nil, packedF32: nil) }
    public static func int8(_ w: Int8Matrix) -> LinearWeight { LinearWeight(f32: nil, int8: w, packedF32: nil) }
    public static func packedF32(_ w: PackedF32Matrix) -> LinearWeight { LinearWeight(f32: nil, int8: nil, packedF32: w) }
}
