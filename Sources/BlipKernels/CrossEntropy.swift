import CBlipSupport
import Foundation

/// Softmax cross-entropy with label smoothing over rows of logits, as
/// torch.nn.CrossEntropyLoss(label_smoothing: s, ignore_index: -100, reduction: sum).
///
/// Per counted row with target y and p = softmax(logits):
///   loss = (1−s)·(−log p_y) + (s/C)·Σ_c(−log p_c),   d loss/d logits = p − (1−s)·onehot(y) − s/C.
/// Returns the summed loss over counted rows (Double) and how many rows were counted;
/// overwrites `logits` with the gradient of the summed loss times `gradScale` (e.g. 1/counted
/// for a mean). Rows labelled -100 are skipped: zero gradient, not counted. A label outside
/// [0, classes) is a caller error (validate labels first); such rows are treated the same
/// way rather than read out of bounds. The result does not depend on the thread count.
public func softmaxCrossEntropy(logits: UnsafeMutablePointer<Float>, rows: Int, classes: Int,
                                labels: UnsafePointer<Int32>, smoothing: Float, gradScale: Float) -> (loss: Double, counted: Int) {
    guard rows > 0, classes > 0 else { return (0, 0) }
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: rows) { rowLoss in
        // Each row is ~30K classes for the LM head: parallel over rows, per-row losses summed
        // in row order afterwards so the total is the same for any thread count.
        let avx512 = Float32Kernels.avx512Active && classes <= Int(Int32.max)
        Parallel.forEachChunk(rows, minChunk: max(1, (1 << 15) / classes)) { range in
            for r in range {
                let row = logits + r * classes
                if let label = countedLabel(labels[r], classes: classes) {
                    // 16 lanes and one double per 1,024 classes instead of one per 8: the LM
                    // head's 30,524-class rows took 7% of a scene-captioner training step.
                    if avx512 {
                        _ = bs_cross_entropy_row_avx512(row, Int32(classes), Int32(label), smoothing, gradScale, rowLoss.baseAddress! + r)
                    } else {
                        rowLoss[r] = crossEntropyRow(row, classes: classes, label: label,
                                                     smoothing: smoothing, gradScale: gradScale)
                    }
                } else {
                    row.update(repeating: 0, count: classes)
                    rowLoss[r] = 0
                }
            }
        }
        var loss = 0.0, counted = 0
        for r in 0..<rows where countedLabel(labels[r], classes: classes) != nil {
            loss += rowLoss[r]
            counted += 1
        }
        return (loss, counted)
    }
}

/// The class index of a row that counts: nil for -100 (ignored) and for out-of-range labels.
@inline(__always)
private func countedLabel(_ label: Int32, classes: Int) -> Int? {
    let y = Int(label)
    return y >= 0 && y < classes ? y : nil
}

/// One counted row: returns its loss and overwrites it with its scaled gradient (any CPU; the
/// AVX-512 kernel `bs_cross_entropy_row_avx512` computes the same sums in another order).
/// loss = logZ − (1−s)·x_y − (s/C)·Σ_c x_c, with logZ = max + log Σ exp(x − max).
func crossEntropyRow(_ x: UnsafeMutablePointer<Float>, classes: Int, label: Int,
                     smoothing s: Float, gradScale: Float) -> Double {
    var maxVector = FloatVector(repeating: -.infinity)
    var sumX = 0.0
    var c = 0
    while c + 8 <= classes {
        let v = loadLanes(x + c)
        maxVector = laneMaximum(maxVector, v)
        sumX += Double(v.sum())
        c += 8
    }
    var maxValue = maxVector.max()
    for j in c..<classes { maxValue = max(maxValue, x[j]); sumX += Double(x[j]) }
    let target = Double(x[label])

    // x ← exp(x − max), summed in Double.
    let m = FloatVector(repeating: maxValue)
    var sumExp = 0.0
    c = 0
    while c + 8 <= classes {
        let e = vectorExp(loadLanes(x + c) - m)
        storeLanes(e, x + c)
        sumExp += Double(e.sum())
        c += 8
    }
    if c < classes {
        var tail = FloatVector(repeating: 0)
        for j in 0..<(classes - c) { tail[j] = x[c + j] }
        let e = vectorExp(tail - m)
        for j in 0..<(classes - c) { x[c + j] = e[j]; sumExp += Double(e[j]) }
    }
    let logZ = Double(maxValue) + log(sumExp)
    let loss = logZ - Double(1 - s) * target - Double(s) / Double(classes) * sumX

    // x ← gradScale · (p − s/C), then the target's −(1−s).
    let scaleP = FloatVector(repeating: Float(Double(gradScale) / sumExp))
    let offset = FloatVector(repeating: gradScale * s / Float(classes))
    c = 0
    while c + 8 <= classes { storeLanes(loadLanes(x + c) * scaleP - offset, x + c); c += 8 }
    for j in c..<classes { x[j] = x[j] * scaleP[0] - offset[0] }
    x[label] -= gradScale * (1 - s)
    return loss
}
