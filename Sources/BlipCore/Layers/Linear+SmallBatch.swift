import BlipKernels

extension Linear {
    /// Rows at or below this use `smallBatch` (decode steps: one row per beam).
    static let smallBatchRows = 8

    /// y = x · Wᵀ + b for a few rows (decode steps) by BlipKernels' `smallBatchLinear`, which
    /// streams each weight row once for all of them. Float weights only; int8 weights go
    /// through their own kernel.
    func smallBatch(_ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>,
                    inStride: Int? = nil, outStride: Int? = nil, path: Float32Kernels.Path = Float32Kernels.active) {
        guard let buffer = weight.f32 else {
            self(x, rows: rows, out: out, inStride: inStride, outStride: outStride)
            return
        }
        smallBatchLinear(x, rows: rows, inStride: inStride ?? inFeatures, weight: buffer.pointer, in: inFeatures,
                         out: outFeatures, bias: bias?.pointer, into: out, outStride: outStride ?? outFeatures,
                         path: path)
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
