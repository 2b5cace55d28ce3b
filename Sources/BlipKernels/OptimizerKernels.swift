// The elementwise update of an Adam-family optimizer, kept here because it is a memory-bound
// kernel (seven streams over every parameter) and knows nothing of the model.

/// The float32 scalars of one AdamW step (torch computes the bias corrections in double and
/// applies them as float32).
public struct AdamWScalars: Sendable {
    /// 1 − lr·weightDecay (decoupled weight decay).
    public var decay: Float
    public var oneMinusBeta1: Float
    public var beta2: Float
    public var oneMinusBeta2: Float
    /// √(1 − β2ᵗ).
    public var bias2Sqrt: Float
    public var eps: Float
    /// lr / (1 − β1ᵗ).
    public var stepSize: Float

    public init(decay: Float, oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float, bias2Sqrt: Float,
                eps: Float, stepSize: Float) {
        self.decay = decay; self.oneMinusBeta1 = oneMinusBeta1; self.beta2 = beta2
        self.oneMinusBeta2 = oneMinusBeta2; self.bias2Sqrt = bias2Sqrt; self.eps = eps; self.stepSize = stepSize
    }
}

/// p ← p·decay; m ← m + (g − m)(1 − β1); v ← v·β2 + (1 − β2)·g·g;
/// p ← p − stepSize·m / (√v / √(1 − β2ᵗ) + ε), in torch.optim.AdamW's operation order, for
/// `count` elements. Eight lanes at a time (a scalar loop does not vectorise: the four
/// pointers may alias), the tail with the same scalar operations, so every element gets the
/// same bits either way; threads split the range.
public func adamWUpdate(parameters p: UnsafeMutablePointer<Float>, firstMoment m: UnsafeMutablePointer<Float>,
                        secondMoment v: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
                        count: Int, _ s: AdamWScalars) {
    Parallel.forEachChunk(count, minChunk: 1 << 15) { range in
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let gi = loadLanes(g + i)
            var mi = loadLanes(m + i), vi = loadLanes(v + i)
            mi += (gi - mi) * s.oneMinusBeta1
            vi = vi * s.beta2 + s.oneMinusBeta2 * gi * gi
            let denom = vi.squareRoot() / s.bias2Sqrt + s.eps
            let pi = loadLanes(p + i) * s.decay
            storeLanes(pi - s.stepSize * mi / denom, p + i)
            storeLanes(mi, m + i)
            storeLanes(vi, v + i)
            i += 8
        }
        while i < range.upperBound {
            p[i] *= s.decay
            m[i] += (g[i] - m[i]) * s.oneMinusBeta1
            v[i] = v[i] * s.beta2 + s.oneMinusBeta2 * g[i] * g[i]
            let denom = v[i].squareRoot() / s.bias2Sqrt + s.eps
            p[i] -= s.stepSize * m[i] / denom
            i += 1
        }
    }
}
