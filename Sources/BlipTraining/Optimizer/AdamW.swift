import BlipKernels
import Glibc

/// AdamW exactly as `torch.optim.AdamW` (single-tensor path, amsgrad off): decoupled weight
/// decay p ← p·(1 − lr·wd), then m ← m + (g − m)(1 − β1), v ← β2·v + (1 − β2)·g², and
/// p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε). Moments live in two arenas laid out
/// like the parameter store's, so a step is one pass over each trainable tensor.
final class AdamW {
    let beta1: Float = 0.9
    let beta2: Float = 0.999
    let eps: Float = 1e-8
    var weightDecay: Float
    /// Optimizer steps taken (torch's `state["step"]`).
    var step = 0
    let count: Int
    let m: UnsafeMutablePointer<Float>
    let v: UnsafeMutablePointer<Float>

    init(parameterCount: Int, weightDecay: Float) {
        count = max(parameterCount, 1)
        self.weightDecay = weightDecay
        m = .allocate(capacity: count); v = .allocate(capacity: count)
        m.initialize(repeating: 0, count: count); v.initialize(repeating: 0, count: count)
    }

    deinit { m.deallocate(); v.deallocate() }

    /// One update of every trainable tensor in `store` with learning rate `lr`.
    func update(_ store: ParameterStore, lr: Float) {
        step += 1
        let t = Double(step)
        let bc1 = 1 - pow(Double(beta1), t), bc2 = 1 - pow(Double(beta2), t)
        // torch computes these as Python floats (double) and applies them as float32 scalars.
        let stepSize = Float(Double(lr) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let scalars = AdamWScalars(decay: 1 - lr * weightDecay, oneMinusBeta1: 1 - beta1, beta2: beta2,
                                   oneMinusBeta2: 1 - beta2, bias2Sqrt: bc2Sqrt, eps: eps, stepSize: stepSize)
        for tensor in store.tensors where tensor.trainable {
            adamWUpdate(parameters: store.values + tensor.offset, firstMoment: m + tensor.gradientOffset,
                        secondMoment: v + tensor.gradientOffset, gradient: store.grads + tensor.gradientOffset,
                        count: tensor.count, scalars)
        }
    }
}

/// torch.nn.utils.clip_grad_norm_: scales every trainable gradient by max_norm / (norm + 1e-6)
/// when the global L2 norm exceeds max_norm. Returns the norm before clipping. The gradient
/// arena holds exactly the trainable tensors (and zero padding), so this is one pass over it.
@discardableResult
func clipGradientNorm(_ store: ParameterStore, maxNorm: Float) -> Double {
    let g = store.grads, n = store.gradientCount
    // Fixed blocks of 2^16 gradients, not one per thread: the norm (and so a clipped update) is
    // then the same bits whatever the thread count (ThreadInvarianceTests).
    let chunks = max(1, (n + (1 << 16) - 1) >> 16)
    var partial = [Double](repeating: 0, count: chunks)
    partial.withUnsafeMutableBufferPointer { out in
        let o = out.baseAddress!
        Parallel.forEachChunk(chunks, minChunk: 1) { range in
            for c in range {
                // float partial sums over short blocks, accumulated in double
                var i = n * c / chunks, sum = 0.0
                let end = n * (c + 1) / chunks
                while i < end {
                    let len = min(4096, end - i)
                    sum += Double(dot(g + i, g + i, count: len))
                    i += len
                }
                o[c] = sum
            }
        }
    }
    let norm = partial.reduce(0, +).squareRoot()
    if maxNorm > 0 && norm > Double(maxNorm) {
        let scale = Float(Double(maxNorm) / (norm + 1e-6))
        Parallel.forEachChunk(n, minChunk: 1 << 16) { range in
            for i in range { g[i] *= scale }
        }
    }
    return norm
}
