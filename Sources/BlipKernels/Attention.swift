/// Scaled dot-product attention for one sequence, all heads, with an optional causal limit
/// (inputs are never padded, so no padding mask is needed). Q, K, V are row-major with
/// arbitrary row strides (so a fused qkv projection can be read in place); heads are contiguous blocks of `headDim` columns.
///
/// out[i, h·d:(h+1)·d] = softmax(Q_h[i] · K_hᵀ · scale) · V_h
public struct AttentionShape {
    public var queries: Int
    public var keys: Int
    public var heads: Int
    public var headDim: Int
    public init(queries: Int, keys: Int, heads: Int, headDim: Int) {
        self.queries = queries; self.keys = keys; self.heads = heads; self.headDim = headDim
    }
    /// Floats of scratch `attention` needs.
    public var scratchCount: Int { queries * keys }
}

/// `causalOffset`: when not nil, query i may attend to keys 0...(causalOffset + i) (decoder
/// self-attention with `causalOffset` cached positions); other keys get exactly zero weight.
public func attention(shape s: AttentionShape,
                      q: UnsafePointer<Float>, qStride: Int,
                      k: UnsafePointer<Float>, kStride: Int,
                      v: UnsafePointer<Float>, vStride: Int,
                      scale: Float, causalOffset: Int? = nil,
                      scores: UnsafeMutablePointer<Float>,
                      out: UnsafeMutablePointer<Float>, outStride: Int) {
    for h in 0..<s.heads {
        let col = h * s.headDim
        Blas.sgemm(transB: true, m: s.queries, n: s.keys, k: s.headDim, alpha: scale,
                   a: q + col, lda: qStride, b: k + col, ldb: kStride, c: scores, ldc: s.keys)
        Parallel.forEachChunk(s.queries, minChunk: 32) { range in
            for i in range {
                let row = scores + i * s.keys
                if let offset = causalOffset {
                    let valid = min(s.keys, offset + i + 1)
                    softmaxRow(row, count: valid)
                    for j in valid..<s.keys { row[j] = 0 }
                } else {
                    softmaxRow(row, count: s.keys)
                }
            }
        }
        Blas.sgemm(m: s.queries, n: s.headDim, k: s.keys,
                   a: scores, lda: s.keys, b: v + col, ldb: vStride, c: out + col, ldc: outStride)
    }
}
