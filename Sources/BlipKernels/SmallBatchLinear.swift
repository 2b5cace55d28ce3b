import CBlipSupport

/// out[r, j] = x[r] · W[j] + bias[j] for a few rows (decode steps: one row per beam) and a
/// row-major W [n × k], streaming each weight row once for all input rows and splitting the
/// output features across threads. A decode step is bound by reading the weights; BLAS sgemm
/// packs the whole weight matrix first for every call, which costs more than the product
/// itself when there are 1–3 rows. On the C paths the columns go through
/// `bs_small_batch_linear_avx512` or `_avx2` (this Swift loop is compiled for baseline x86-64,
/// SSE2: it was 60% of a float32 caption).
public func smallBatchLinear(_ x: UnsafePointer<Float>, rows: Int, inStride lda: Int, weight w: UnsafePointer<Float>,
                             in k: Int, out n: Int, bias b: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>,
                             outStride ldo: Int, path: Float32Kernels.Path = Float32Kernels.active) {
    Parallel.forEachChunk(n, minChunk: 256) { range in
        if path != .openblas {
            let kernel = path == .avx512 ? bs_small_batch_linear_avx512 : bs_small_batch_linear_avx2
            _ = kernel(Int32(rows), x, lda, w, Int32(k), Int32(range.lowerBound), Int32(range.upperBound), b, out, ldo)
            return
        }
        var r0 = 0
        while r0 < rows {
            let m = min(4, rows - r0)
            let x0 = x + r0 * lda
            let x1 = x0 + (m > 1 ? lda : 0), x2 = x0 + (m > 2 ? 2 * lda : 0), x3 = x0 + (m > 3 ? 3 * lda : 0)
            for j in range {
                let wr = w + j * k
                var a0 = FloatVector(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                var i = 0
                while i + 8 <= k {
                    let wv = UnsafeRawPointer(wr + i).loadUnaligned(as: FloatVector.self)
                    a0 += wv * UnsafeRawPointer(x0 + i).loadUnaligned(as: FloatVector.self)
                    if m > 1 { a1 += wv * UnsafeRawPointer(x1 + i).loadUnaligned(as: FloatVector.self) }
                    if m > 2 { a2 += wv * UnsafeRawPointer(x2 + i).loadUnaligned(as: FloatVector.self) }
                    if m > 3 { a3 += wv * UnsafeRawPointer(x3 + i).loadUnaligned(as: FloatVector.self) }
                    i += 8
                }
                var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
                while i < k {
                    s0 += wr[i] * x0[i]; s1 += wr[i] * x1[i]; s2 += wr[i] * x2[i]; s3 += wr[i] * x3[i]
                    i += 1
                }
                let bj = b?[j] ?? 0
                out[r0 * ldo + j] = s0 + bj
                if m > 1 { out[(r0 + 1) * ldo + j] = s1 + bj }
                if m > 2 { out[(r0 + 2) * ldo + j] = s2 + bj }
                if m > 3 { out[(r0 + 3) * ldo + j] = s3 + bj }
            }
            r0 += m
        }
    }
}
