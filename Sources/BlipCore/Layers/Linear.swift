import BlipKernels

/// y = x · Wᵀ + b with W stored [out, in] as in PyTorch.
public struct Linear: @unchecked Sendable {
    public let weight: FloatBuffer
    public let bias: FloatBuffer?
    public let inFeatures: Int
    public let outFeatures: Int

    public init(_ source: WeightSource, _ prefix: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) throws {
        weight = try source.floats(prefix + ".weight", shape: [outFeatures, inFeatures])
        bias = hasBias ? try source.floats(prefix + ".bias", shape: [outFeatures]) : nil
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// Wraps raw parameters (used for the fused vision qkv and for tests).
    public init(weight: FloatBuffer, bias: FloatBuffer?, in inFeatures: Int, out outFeatures: Int) {
        self.weight = weight
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// `rows` input rows of `inFeatures` (row stride `inStride`) → `out` [rows × outFeatures] (stride `outStride`).
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>,
                               inStride: Int? = nil, outStride: Int? = nil) {
        let ldo = outStride ?? outFeatures
        Blas.sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures,
                   a: x, lda: inStride ?? inFeatures, b: weight.pointer, ldb: inFeatures,
                   c: out, ldc: ldo)
        if let bias {
            if ldo == outFeatures {
                addBias(out, rows: rows, cols: outFeatures, bias: bias.pointer)
            } else {
                for r in 0..<rows { addBias(out + r * ldo, rows: 1, cols: outFeatures, bias: bias.pointer) }
            }
        }
    }

    public var parameterCount: Int { weight.count + (bias?.count ?? 0) }
}

/// LayerNorm parameters over the last dimension.
public struct LayerNorm: @unchecked Sendable {
    public let gamma: FloatBuffer
    public let beta: FloatBuffer
    public let eps: Float
    public let size: Int

    public init(_ source: WeightSource, _ prefix: String, size: Int, eps: Float) throws {
        gamma = try source.floats(prefix + ".weight", shape: [size])
        beta = try source.floats(prefix + ".bias", shape: [size])
        self.eps = eps
        self.size = size
    }

    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        layerNorm(x, rows: rows, cols: size, gamma: gamma.pointer, beta: beta.pointer, eps: eps, out: out)
    }
}
