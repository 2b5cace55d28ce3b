import Glibc

/// The learning rate of optimizer step `step` (1-based) of `total`: linear warmup from
/// lr/warmup to lr over the first `warmup` steps, then either constant or a cosine from lr
/// down to `minLR` at the last step (BLIP's finetuning uses cosine to 0, no warmup).
public struct LearningRateSchedule: Sendable {
    public enum Shape: String, Sendable { case cosine, constant }
    public let shape: Shape
    public let lr: Float
    public let minLR: Float
    public let warmup: Int
    public let total: Int

    public init(shape: Shape, lr: Float, minLR: Float, warmup: Int, total: Int) {
        self.shape = shape; self.lr = lr; self.minLR = minLR; self.warmup = warmup; self.total = total
    }

    public func rate(atStep step: Int) -> Float {
        if warmup > 0 && step <= warmup { return lr * Float(step) / Float(warmup) }
        switch shape {
        case .constant: return lr
        case .cosine:
            let span = max(total - max(warmup, 0), 1)
            // step warmup+1 → progress 0 (full lr) ... step total → progress 1 (minLR)
            let progress = span <= 1 ? 0 : Double(step - max(warmup, 0) - 1) / Double(span - 1)
            let c = 0.5 * (1 + cos(Double.pi * min(max(progress, 0), 1)))
            return minLR + (lr - minLR) * Float(c)
        }
    }
}
