import BlipKernels

/// y = x · Wᵀ + b with W stored [out, in] as in PyTorch. The weight is whatever the storage
/// holds (float32 → BLAS sgemm; int8 with per-channel scales → `Int8Gemm` with dynamic per-row
/// activation quantization); callers never branch on it.
public struct Linear: @unchecked Sendable {
    public let weight: LinearWeight
    public let bias: FloatBuffer?
    public let inFeatures: Int
    public let outFeatures: Int

    public init(_ source: WeightSource, _ prefix: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) throws {
        weight = try source.linearWeight(prefix + ".weight", out: outFeatures, in: inFeatures)
        bias = hasBias ? try source.floats(prefix + ".bias", shape: [outFeatures]) : nil
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// Wraps raw float parameters (used for the patch embedding and for tests).
    public init(weight: FloatBuffer, bias: FloatBuffer?, in inFeatures: Int, out outFeatures: Int) {
        self.init(weight: .f32(weight), bias: bias, in: inFeatures, out: outFeatures)
    }

    /// Wraps a weight in any storage (e.g. the LM head, whose bias has its own name).
    public init(weight: LinearWeight, bias: FloatBuffer?, in inFeatures: Int, out outFeatures: Int) {
        self.weight = weight
        self.bias = bias
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// This layer with a float32 weight packed for the C GEMM when this CPU runs it
    /// (`Float32Kernels.packedGemmActive`: AVX-512 or AVX2), else unchanged. For layers that always see many rows (the
    /// vision encoder): a one-row call is faster on OpenBLAS. The packed copy replaces the
    /// original in this layer, whose pages leave memory (a heap copy with its last reference,
    /// a file mapping through `releaseMappedPages`): the weights are not held twice.
    public func packedForManyRows() -> Linear {
        guard Float32Kernels.packedGemmActive, let w = weight.f32 else { return self }
        let packed = PackedF32Matrix(packing: w.pointer, out: outFeatures, in: inFeatures)
        w.releaseMappedPages()
        return Linear(weight: .packedF32(packed), bias: bias, in: inFeatures, out: outFeatures)
    }

    /// `rows` input rows of `inFeatures` (row stride `inStride`) → `out` [rows × outFeatures]
    /// (stride `outStride`), then exact GELU over the outputs when `gelu` (fused into the GEMM
    /// where the kernel allows it).
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>,
                               inStride: Int? = nil, outStride: Int? = nil, gelu: Bool = false) {
        let ldo = outStride ?? outFeatures
        if let w = weight.packedF32 {
            w.multiply(x, rows: rows, inStride: inStride ?? inFeatures, bias: bias?.pointer, out: out, outStride: ldo,
                       gelu: gelu)
            return
        } else if let w = weight.int8 {
            Int8Gemm.multiply(x, rows: rows, inStride: inStride ?? inFeatures, weight: w, bias: bias?.pointer,
                              out: out, outStride: ldo, gelu: gelu)
            return
        } else if let w = weight.f32 {
            Blas.sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures,
                       a: x, lda: inStride ?? inFeatures, b: w.pointer, ldb: inFeatures,
                       c: out, ldc: ldo)
            if let bias {
                if ldo == outFeatures {
                    addBias(out, rows: rows, cols: outFeatures, bias: bias.pointer)
                } else {
                    for r in 0..<rows { addBias(out + r * ldo, rows: 1, cols: outFeatures, bias: bias.pointer) }
                }
            }
        }
        if gelu {
            if ldo == outFeatures {
                geluInPlace(out, count: rows * outFeatures)
            } else {
                for r in 0..<rows { geluInPlace(out + r * ldo, count: outFeatures) }
            }
        }
    }

    /// `norm`(x) through this layer (a pre-norm block's LayerNorm and the linear layer after it):
    /// an int8 weight normalizes each row as it quantizes it, with no normalized copy; other
    /// weights normalize into `scratch` ([rows × inFeatures]) first. Same results either way.
    public func callAsFunction(normalizing x: UnsafePointer<Float>, with norm: LayerNorm, rows: Int,
                               out: UnsafeMutablePointer<Float>, outStride: Int? = nil,
                               scratch: UnsafeMutablePointer<Float>, gelu: Bool = false) {
        if let w = weight.int8 {
            Int8Gemm.multiply(x, rows: rows, inStride: inFeatures, weight: w, bias: bias?.pointer, out: out,
                              outStride: outStride ?? outFeatures, gelu: gelu, normalizing: norm.rowNormalization)
        } else {
            norm(x, rows: rows, out: scratch)
            self(scratch, rows: rows, out: out, outStride: outStride, gelu: gelu)
        }
    }

    /// h[r] += x[r] · Wᵀ + b (a residual connection): in the GEMM itself for a packed or int8
    /// weight, else through `scratch` ([rows × outFeatures]) and one add.
    /// x's rows are `inStride` apart (default: inFeatures).
    public func add(_ x: UnsafePointer<Float>, rows: Int, inStride: Int? = nil, to h: UnsafeMutablePointer<Float>,
                    scratch: UnsafeMutablePointer<Float>) {
        let ldx = inStride ?? inFeatures
        if let w = weight.packedF32 {
            w.multiply(x, rows: rows, inStride: ldx, bias: bias?.pointer, out: h, outStride: outFeatures,
                       gelu: false, accumulate: true)
        } else if let w = weight.int8 {
            Int8Gemm.multiply(x, rows: rows, inStride: ldx, weight: w, bias: bias?.pointer, out: h,
                              outStride: outFeatures, accumulate: true)
        } else {
            self(x, rows: rows, out: scratch, inStride: ldx)
            addInPlace(h, scratch, count: rows * outFeatures)
        }
    }

    public var parameterCount: Int { inFeatures * outFeatures + (bias?.count ?? 0) }
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

    var rowNormalization: RowNormalization { RowNormalization(gamma: gamma.pointer, beta: beta.pointer, eps: eps) }
}
