import CBlipSupport

/// LayerNorm over the last dimension of a row-major [rows × cols] matrix.
/// Statistics are accumulated in Double so long rows lose nothing to float summation order.
public func layerNorm(_ x: UnsafePointer<Float>, rows: Int, cols: Int,
                      gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                      out: UnsafeMutablePointer<Float>) {
    Parallel.forEachChunk(rows, minChunk: 16) { range in
        for r in range {
            _ = layerNormRow(x + r * cols, cols: cols, gamma: gamma, beta: beta, eps: eps, out: out + r * cols)
        }
    }
}

/// A LayerNorm's parameters, for kernels that normalize rows on the way in
/// (`Int8Gemm.multiply(..., normalizing:)`).
public struct RowNormalization {
    public let gamma: UnsafePointer<Float>
    public let beta: UnsafePointer<Float>
    public let eps: Float
    public init(gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float) {
        self.gamma = gamma
        self.beta = beta
        self.eps = eps
    }
}

/// One LayerNorm row; returns the statistics it used so training can save them
/// (`layerNormForwardSaving`). The single definition keeps inference and training bit-identical.
@inline(__always)
func layerNormRow(_ row: UnsafePointer<Float>, cols: Int,
                  gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                  out o: UnsafeMutablePointer<Float>) -> (mean: Float, rstd: Float) {
    var mean: Float = 0, rstd: Float = 0
    switch layerNormPath {   // the same computation 8 or 4 doubles, 16 or 8 floats wide
    case .avx512: _ = bs_layernorm_row_avx512(row, Int32(cols), gamma, beta, eps, o, &mean, &rstd)
    case .avx2: _ = bs_layernorm_row_avx2(row, Int32(cols), gamma, beta, eps, o, &mean, &rstd)
    case .openblas: return portableLayerNormRow(row, cols: cols, gamma: gamma, beta: beta, eps: eps, out: o)
    }
    return (mean, rstd)
}

private let layerNormPath = Float32Kernels.active

/// `layerNormRow` in Swift (any CPU).
func portableLayerNormRow(_ row: UnsafePointer<Float>, cols: Int,
                          gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                          out o: UnsafeMutablePointer<Float>) -> (mean: Float, rstd: Float) {
    var sum = 0.0
    for c in 0..<cols { sum += Double(row[c]) }
    let mean = sum / Double(cols)
    var sq = 0.0
    for c in 0..<cols { let d = Double(row[c]) - mean; sq += d * d }
    let rstd = Float(1.0 / (sq / Double(cols) + Double(eps)).squareRoot())
    let m = Float(mean)
    for c in 0..<cols { o[c] = (row[c] - m) * rstd * gamma[c] + beta[c] }
    return (m, rstd)
}

/// Scales a vector to unit L2 norm (torch.nn.functional.normalize: divides by max(norm, 1e-12)).
public func l2Normalize(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var sq = 0.0
    for i in 0..<count { sq += Double(x[i]) * Double(x[i]) }
    let norm = max(sq.squareRoot(), 1e-12)
    let inv = Float(1.0 / norm)
    for i in 0..<count { x[i] *= inv }
}
