import BlipKernels
import CBlipSupport

extension Linear {
    /// Rows at or below this use `smallBatch` (decode steps: one row per beam).
    static let smallBatchRows = 8

    /// y = x · Wᵀ + b for a few rows (decode steps), streaming each weight row once for all
    /// input rows and splitting the output features across threads. A decode step is bound by
    /// reading the weights; BLAS sgemm packs the whole weight matrix first for every call,
    /// which costs more than the product itself when there are 1–3 rows.
    /// Float weights only; int8 weights go through their own kernel.
    /// On AVX-512 CPUs the columns go through `bs_small_batch_linear_avx512` (this Swift loop
    /// is compiled for baseline x86-64, SSE2: it was 60% of a float32 caption).
    func smallBatch(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>,
                    inStride: Int? = nil, outStride: Int? = nil, avx512: Bool = Float32Kernels.avx512Active) {
        guard let buffer = weight.f32 else {
            self(x, rows: rows, out: out, inStride: inStride, outStride: outStride)
            return
        }
        let k = inFeatures, n = outFeatures
        let lda = inStride ?? k, ldo = outStride ?? n
        let w = buffer.pointer, b = bias?.pointer
        Parallel.forEachChunk(n, minChunk: 256) { range in
            if avx512 {
                _ = bs_small_batch_linear_avx512(Int32(rows), x, lda, w, Int32(k), Int32(range.lowerBound),
                                                 Int32(range.upperBound), b, out, ldo)
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

    /// `callAsFunction` for many rows, `smallBatch` for a few.
    func auto(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>,
              inStride: Int? = nil, outStride: Int? = nil) {
        if rows <= Linear.smallBatchRows {
            smallBatch(x, rows: rows, out: out, inStride: inStride, outStride: outStride)
        } else {
            self(x, rows: rows, out: out, inStride: inStride, outStride: outStride)
        }
    }
}
