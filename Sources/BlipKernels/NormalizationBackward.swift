// LayerNorm for training: a forward that saves per-row statistics, and its backward.

/// `layerNorm` (bit-identical: the same row code) that also saves each row's mean and
/// 1/√(var + eps) for `layerNormBackward`. `mean` and `rstd` hold `rows` floats.
public func layerNormForwardSaving(_ x: UnsafePointer<Float>, rows: Int, cols: Int,
                                   gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                   out: UnsafeMutablePointer<Float>,
                                   mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>) {
    Parallel.forEachChunk(rows, minChunk: 16) { range in
        for r in range {
            let stats = layerNormRow(x + r * cols, cols: cols, gamma: gamma, beta: beta, eps: eps, out: out + r * cols)
            mean[r] = stats.mean
            rstd[r] = stats.rstd
        }
    }
}

/// Backward of y = xhat·gamma + beta, xhat = (x − mean)·rstd, over rows of [rows × cols].
///
/// - `dx` is overwritten and may equal `dy` (in-place use): the parameter gradients read `dy`
///   first, and each row reads all of its `dy` before writing its `dx`.
/// - `dGamma += Σ_r dy·xhat`, `dBeta += Σ_r dy` when non-nil (nil: frozen parameters).
///   Each column is summed by one thread in row order, so results do not depend on the
///   thread count.
public func layerNormBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                              mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                              gamma: UnsafePointer<Float>, rows: Int, cols: Int,
                              dx: UnsafeMutablePointer<Float>,
                              dGamma: UnsafeMutablePointer<Float>?, dBeta: UnsafeMutablePointer<Float>?) {
    guard rows > 0, cols > 0 else { return }
    if dGamma != nil || dBeta != nil {
        layerNormParameterGradients(dy: dy, x: x, mean: mean, rstd: rstd, rows: rows, cols: cols,
                                    dGamma: dGamma, dBeta: dBeta)
    }
    Parallel.forEachChunk(rows, minChunk: 16) { range in
        for r in range {
            let o = r * cols
            layerNormInputGradientRow(dy: dy + o, x: x + o, mean: mean[r], rstd: rstd[r], gamma: gamma,
                                      cols: cols, dx: dx + o)
        }
    }
}

/// dx = rstd · (g − mean(g) − xhat · mean(g·xhat)), g = dy·gamma, for one row. The two means
/// are the gradients through the row's mean and variance.
@inline(__always)
private func layerNormInputGradientRow(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: Float, rstd: Float,
                                       gamma: UnsafePointer<Float>, cols: Int, dx: UnsafeMutablePointer<Float>) {
    let m = FloatVector(repeating: mean), rs = FloatVector(repeating: rstd)
    var sumG = FloatVector(repeating: 0), sumGX = sumG
    var c = 0
    while c + 8 <= cols {
        let g = loadLanes(dy + c) * loadLanes(gamma + c)
        sumG += g
        sumGX += g * ((loadLanes(x + c) - m) * rs)
        c += 8
    }
    var sg = sumG.sum(), sgx = sumGX.sum()
    for j in c..<cols {
        let g = dy[j] * gamma[j]
        sg += g
        sgx += g * ((x[j] - mean) * rstd)
    }
    let invCols = 1 / Float(cols)
    let meanG = FloatVector(repeating: sg * invCols), meanGX = FloatVector(repeating: sgx * invCols)
    c = 0
    while c + 8 <= cols {
        let g = loadLanes(dy + c) * loadLanes(gamma + c)
        let xhat = (loadLanes(x + c) - m) * rs
        storeLanes(rs * (g - meanG - xhat * meanGX), dx + c)
        c += 8
    }
    for j in c..<cols {
        let xhat = (x[j] - mean) * rstd
        dx[j] = rstd * (dy[j] * gamma[j] - meanG[0] - xhat * meanGX[0])
    }
}

/// dGamma += Σ_r dy·xhat, dBeta += Σ_r dy, column blocks in parallel.
private func layerNormParameterGradients(dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                         rows: Int, cols: Int,
                                         dGamma: UnsafeMutablePointer<Float>?, dBeta: UnsafeMutablePointer<Float>?) {
    forEachColumnBlock(rows: rows, cols: cols) { c0, width in
        withColumnBlockSum(width: width) { gammaSum in
            withColumnBlockSum(width: width) { betaSum in
                for r in 0..<rows {
                    let o = r * cols + c0
                    let m = mean[r], rs = rstd[r]
                    let mv = FloatVector(repeating: m), rsv = FloatVector(repeating: rs)
                    var j = 0
                    while j + 8 <= width {
                        let d = loadLanes(dy + o + j)
                        gammaSum.add(d * ((loadLanes(x + o + j) - mv) * rsv), at: j)
                        betaSum.add(d, at: j)
                        j += 8
                    }
                    while j < width {
                        let d = dy[o + j]
                        gammaSum.add(d * ((x[o + j] - m) * rs), at: j)
                        betaSum.add(d, at: j)
                        j += 1
                    }
                    gammaSum.endRow(r)
                    betaSum.endRow(r)
                }
                if let dGamma { gammaSum.finish(into: dGamma + c0) }
                if let dBeta { betaSum.finish(into: dBeta + c0) }
            }
        }
    }
}
