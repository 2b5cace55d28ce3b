import Foundation
import Testing
@testable import BlipKernels

/// Every backward kernel in BlipKernels against central finite differences of its forward,
/// on small odd shapes (sizes not divisible by 8 exercise the SIMD tails). The objective is
/// L = Σ w ⊙ output with random w, so the analytic gradient is the backward of dOut = w.
@Suite(.serialized) struct KernelGradientTests {
    init() throws {
        try Blas.load()
    }

    // MARK: LayerNorm

    @Test func layerNormForwardSavingIsBitIdenticalToLayerNorm() {
        var rng = Rng(state: 1)
        let rows = 37, cols = 77
        let x = rng.array(rows * cols, scale: 3), gamma = rng.array(cols), beta = rng.array(cols)
        let expected = runLayerNorm(x, rows: rows, cols: cols, gamma: gamma, beta: beta).out
        var out = [Float](repeating: 0, count: rows * cols)
        var mean = [Float](repeating: 0, count: rows), rstd = mean
        layerNormForwardSaving(x, rows: rows, cols: cols, gamma: gamma, beta: beta, eps: 1e-5,
                               out: &out, mean: &mean, rstd: &rstd)
        #expect(out == expected)
        // The saved statistics are the row's mean and 1/std (to float precision).
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let m = row.reduce(0, +) / Double(cols)
            let v = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(cols)
            #expect(abs(Double(mean[r]) - m) < 1e-6)
            #expect(abs(Double(rstd[r]) * (v + 1e-5).squareRoot() - 1) < 1e-6)
        }
    }

    @Test func layerNormGradientsMatchFiniteDifferences() {
        var rng = Rng(state: 2)
        let rows = 5, cols = 13
        let x = rng.array(rows * cols, scale: 2).map { $0 + 0.5 }
        let gamma = rng.array(cols).map { $0 + 1 }, beta = rng.array(cols)
        let w = rng.array(rows * cols)
        func loss(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> Double {
            weighted(runLayerNorm(x, rows: rows, cols: cols, gamma: gamma, beta: beta).out, w)
        }
        let saved = runLayerNorm(x, rows: rows, cols: cols, gamma: gamma, beta: beta)
        // dGamma/dBeta accumulate: start from a known offset and subtract it.
        let offset = rng.array(cols)
        var dx = [Float](repeating: .nan, count: rows * cols)
        var dGamma = offset, dBeta = offset
        layerNormBackward(dy: w, x: x, mean: saved.mean, rstd: saved.rstd, gamma: gamma, rows: rows, cols: cols,
                          dx: &dx, dGamma: &dGamma, dBeta: &dBeta)
        expectClose(dx, numericGradient(x) { loss($0, gamma, beta) }, "LayerNorm dx")
        expectClose(zip(dGamma, offset).map { $0 - $1 }, numericGradient(gamma) { loss(x, $0, beta) }, "LayerNorm dGamma")
        expectClose(zip(dBeta, offset).map { $0 - $1 }, numericGradient(beta) { loss(x, gamma, $0) }, "LayerNorm dBeta")

        // In place (dx == dy) and with frozen parameters: the same dx.
        var inPlace = w
        inPlace.withUnsafeMutableBufferPointer { buffer in
            guard let p = buffer.baseAddress else { return }
            layerNormBackward(dy: p, x: x, mean: saved.mean, rstd: saved.rstd, gamma: gamma, rows: rows, cols: cols,
                              dx: p, dGamma: nil, dBeta: nil)
        }
        #expect(inPlace == dx)
    }

    /// Parameter sums are reduced column by column in row order, and dx row by row: the thread
    /// count must not change a bit (a resumed run on another machine must match).
    @Test func layerNormBackwardIsThreadCountIndependent() {
        var rng = Rng(state: 3)
        let rows = 333, cols = 200   // ≥ 64K elements: column blocks run in parallel
        let x = rng.array(rows * cols), gamma = rng.array(cols), beta = rng.array(cols), dy = rng.array(rows * cols)
        let saved = runLayerNorm(x, rows: rows, cols: cols, gamma: gamma, beta: beta)
        var results: [[Float]] = []
        for threads in [1, 2] {
            var dx = [Float](repeating: 0, count: rows * cols)
            var dGamma = [Float](repeating: 0, count: cols), dBeta = dGamma
            Parallel.withThreads(threads) {
                layerNormBackward(dy: dy, x: x, mean: saved.mean, rstd: saved.rstd, gamma: gamma, rows: rows, cols: cols,
                                  dx: &dx, dGamma: &dGamma, dBeta: &dBeta)
            }
            results.append(dx + dGamma + dBeta)
        }
        #expect(results[0] == results[1])
    }

    // MARK: GELU and column sums

    @Test func geluOutOfPlaceIsBitIdenticalToInPlace() {
        var rng = Rng(state: 4)
        for count in [0, 1, 7, 8, 13, 100, 70_001] {   // the last runs in parallel chunks
            let x = rng.array(count, scale: 4)
            var inPlace = x
            geluInPlace(&inPlace, count: count)
            var out = [Float](repeating: .nan, count: count)
            gelu(x, out: &out, count: count)
            #expect(out == inPlace, "count \(count)")
        }
    }

    @Test func geluGradientMatchesFiniteDifferences() {
        var rng = Rng(state: 5)
        let count = 29
        let x = rng.array(count, scale: 4), w = rng.array(count)
        func loss(_ x: [Float]) -> Double {
            var out = [Float](repeating: 0, count: count)
            gelu(x, out: &out, count: count)
            return weighted(out, w)
        }
        var dx = [Float](repeating: .nan, count: count)
        geluBackward(dy: w, preActivation: x, dx: &dx, count: count)
        expectClose(dx, numericGradient(x, loss), "GELU")

        // In place, and the parallel path for a large count, against the scalar derivative.
        var inPlace = w
        inPlace.withUnsafeMutableBufferPointer { buffer in
            guard let p = buffer.baseAddress else { return }
            geluBackward(dy: p, preActivation: x, dx: p, count: count)
        }
        #expect(inPlace == dx)
        let large = rng.array(70_001, scale: 4), dy = rng.array(70_001)
        var dLarge = [Float](repeating: .nan, count: large.count)
        geluBackward(dy: dy, preActivation: large, dx: &dLarge, count: large.count)
        var worst = 0.0
        for i in 0..<large.count {
            let v = Double(large[i])
            let derivative = 0.5 * (1 + erf(v / 2.0.squareRoot())) + v * exp(-v * v / 2) / (2 * Double.pi).squareRoot()
            worst = max(worst, abs(Double(dLarge[i]) - Double(dy[i]) * derivative))
        }
        #expect(worst < 1e-5, "worst |error| \(worst)")
    }

    @Test(arguments: [(1, 1), (5, 13), (70, 9), (333, 201)])   // the last: parallel, several blocks, flushes
    func columnSumsMatchDoubleSums(rows: Int, cols: Int) {
        var rng = Rng(state: 6)
        let x = rng.array(rows * cols), start = rng.array(cols)
        var sums = start
        accumulateColumnSums(x, rows: rows, cols: cols, into: &sums)
        // Tolerance relative to Σ|x| (the sum itself may cancel): float rounding is ~1e-7 of
        // that, a wrong index or a lost row is of order 1.
        for c in 0..<cols {
            var expected = Double(start[c]), magnitude = abs(Double(start[c]))
            for r in 0..<rows { expected += Double(x[r * cols + c]); magnitude += abs(Double(x[r * cols + c])) }
            #expect(abs(Double(sums[c]) - expected) <= 1e-6 * magnitude, "column \(c)")
        }
    }

    // MARK: Attention

    struct AttentionCase: CustomStringConvertible, Sendable {
        var name: String
        var batch = 2, queries = 5, keys = 5, heads = 2, headDim = 3
        var causal = false
        var keyMask: [Float]? = nil
        /// q, k, v as column blocks of one [rows × 3D] buffer (self-attention only).
        var fused = false
        /// Attention-probability dropout (the mask is a function of the seed, so the forward
        /// stays a deterministic function of the inputs and finite differences apply).
        var dropout: Float = 0
        var description: String { name }
    }

    static let attentionCases: [AttentionCase] = [
        AttentionCase(name: "no mask", keys: 6, headDim: 5),
        AttentionCase(name: "causal", queries: 6, keys: 6, causal: true),
        AttentionCase(name: "key mask with holes", keys: 9,
                      keyMask: [1, 0, 1, 1, 0, 1, 1, 0, 0,
                                1, 1, 1, 1, 1, 1, 1, 1, 0]),
        AttentionCase(name: "cross-attention", batch: 3, queries: 4, keys: 11, heads: 3, headDim: 4),
        AttentionCase(name: "fused qkv", queries: 7, keys: 7, headDim: 9, causal: true, fused: true),
        // Sequence 0's first key is masked: under the causal limit query 0 has no key at all.
        // Sequence 1 is all padding.
        AttentionCase(name: "causal + mask, empty rows", batch: 2, queries: 4, keys: 4, causal: true,
                      keyMask: [0, 1, 1, 0,
                                0, 0, 0, 0]),
        AttentionCase(name: "dropout 0.3", batch: 2, queries: 6, keys: 7, heads: 2, headDim: 4, dropout: 0.3),
        AttentionCase(name: "dropout + causal + fused", queries: 7, keys: 7, headDim: 5, causal: true, fused: true, dropout: 0.5),
    ]

    @Test(arguments: attentionCases)
    func attentionGradientsMatchFiniteDifferences(_ c: AttentionCase) {
        var rng = Rng(state: 7)
        let problem = AttentionProblem(c)
        let inputs = rng.array(problem.inputCount, scale: 1.5)
        let w = rng.array(problem.outCount)
        let forward = problem.forward(inputs)

        // Probabilities: exact zeros where masked, rows summing to one or all zero.
        for b in 0..<c.batch {
            for h in 0..<c.heads {
                for i in 0..<c.queries {
                    let row = Array(forward.probs[(((b * c.heads + h) * c.queries + i) * c.keys)...].prefix(c.keys))
                    let allowed = (0..<c.keys).map { j in
                        (!c.causal || j <= i) && (c.keyMask.map { $0[b * c.keys + j] != 0 } ?? true)
                    }
                    for j in 0..<c.keys where !allowed[j] { #expect(row[j] == 0, "\(c) b\(b) h\(h) i\(i) j\(j)") }
                    let sum = row.reduce(0, +)
                    #expect(abs(sum - (allowed.contains(true) ? 1 : 0)) < 1e-5, "\(c) row sum \(sum)")
                    if !allowed.contains(true) {
                        let o = (b * c.queries + i) * problem.outStride + h * c.headDim
                        #expect(forward.out[o..<(o + c.headDim)].allSatisfy { $0 == 0 }, "\(c) empty row output")
                    }
                }
            }
        }

        var analytic = problem.backward(inputs, probs: forward.probs, dOut: w)
        // Columns outside the heads (stride padding) are left untouched by the backward; their
        // true gradient is zero.
        for i in problem.paddingIndices {
            #expect(analytic[i] == AttentionProblem.sentinel, "\(c) padding \(i)")
            analytic[i] = 0
        }
        let numeric = numericGradient(inputs) { weighted(problem.forward($0).out, w) }
        for (part, range) in problem.parts {
            expectClose(Array(analytic[range]), Array(numeric[range]), "\(c) \(part)")
        }
    }

    /// The dropout mask keeps about 1 − p of the probabilities, scaled by 1/(1 − p), the same
    /// mask for the same seed, a different one for another seed.
    @Test func attentionDropoutMask() {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: 4096), out = UnsafeMutablePointer<Float>.allocate(capacity: 4096)
        defer { p.deallocate(); out.deallocate() }
        p.initialize(repeating: 1, count: 4096)
        let d = AttentionDropout(probability: 0.25, seed: 9)
        d.apply(p, block: 3, rows: 64, cols: 64, into: out)
        let kept = (0..<4096).filter { out[$0] != 0 }
        #expect(abs(Double(kept.count) / 4096 - 0.75) < 0.03, "kept \(kept.count) of 4096")
        #expect(kept.allSatisfy { abs(out[$0] - 1 / 0.75) < 1e-6 })
        let first = Array(UnsafeBufferPointer(start: out, count: 4096))
        d.apply(p, block: 3, rows: 64, cols: 64, into: out)
        #expect(Array(UnsafeBufferPointer(start: out, count: 4096)) == first)
        AttentionDropout(probability: 0.25, seed: 10).apply(p, block: 3, rows: 64, cols: 64, into: out)
        #expect(Array(UnsafeBufferPointer(start: out, count: 4096)) != first)
    }

    /// Large enough that the softmax rows are split across threads: same bits as one thread.
    @Test func attentionIsThreadCountIndependent() {
        var rng = Rng(state: 10)
        let c = AttentionCase(name: "large", batch: 2, queries: 70, keys: 70, heads: 2, headDim: 8, causal: true,
                              keyMask: (0..<140).map { $0 % 11 == 5 ? 0 : 1 })
        let problem = AttentionProblem(c)
        let inputs = rng.array(problem.inputCount), dOut = rng.array(problem.outCount)
        var results: [[Float]] = []
        for threads in [1, 2] {
            results.append(Parallel.withThreads(threads) {
                let forward = problem.forward(inputs)
                return forward.out + forward.probs + problem.backward(inputs, probs: forward.probs, dOut: dOut)
            })
        }
        #expect(results[0] == results[1])
    }

    // MARK: Cross-entropy

    @Test(arguments: [Float(0), 0.1])
    func crossEntropyMatchesDoubleLossAndFiniteDifferences(smoothing: Float) {
        var rng = Rng(state: 8)
        let rows = 7, classes = 37
        let logits = rng.array(rows * classes, scale: 3)
        // -100 is ignored; 37 and -5 are invalid and must be skipped without being read.
        let labels: [Int32] = [3, -100, 36, 0, 37, 17, -5]
        let gradScale: Float = 0.25
        func run(_ logits: [Float]) -> (loss: Double, counted: Int, gradient: [Float]) {
            var g = logits
            let r = softmaxCrossEntropy(logits: &g, rows: rows, classes: classes, labels: labels,
                                        smoothing: smoothing, gradScale: gradScale)
            return (r.loss, r.counted, g)
        }
        let result = run(logits)
        #expect(result.counted == 4)
        let expected = referenceCrossEntropy(logits, classes: classes, labels: labels, smoothing: Double(smoothing))
        #expect(abs(result.loss - expected) < 1e-6 * abs(expected), "loss \(result.loss) vs \(expected)")

        let numeric = numericGradient(logits) { run($0).loss }.map { $0 * Double(gradScale) }
        expectClose(result.gradient, numeric, "cross-entropy s=\(smoothing)")
        for r in [1, 4, 6] {
            #expect(result.gradient[(r * classes)..<((r + 1) * classes)].allSatisfy { $0 == 0 }, "ignored row \(r)")
        }
    }

    /// The LM head's shape (30,524 classes), parallel over rows: loss and gradient against Double.
    @Test func crossEntropyAtVocabularySize() {
        var rng = Rng(state: 9)
        let rows = 5, classes = 30_524
        let logits = rng.array(rows * classes, scale: 4)
        let labels: [Int32] = [30_523, 0, -100, 12_345, 101]
        var g = logits
        let result = softmaxCrossEntropy(logits: &g, rows: rows, classes: classes, labels: labels,
                                         smoothing: 0.1, gradScale: 1)
        let expected = referenceCrossEntropy(logits, classes: classes, labels: labels, smoothing: 0.1)
        #expect(result.counted == 4)
        #expect(abs(result.loss - expected) < 1e-6 * expected)
        var worst = 0.0
        for r in 0..<rows where labels[r] >= 0 {
            let row = logits[(r * classes)..<((r + 1) * classes)].map(Double.init)
            let m = row.max() ?? 0
            let z = row.reduce(0) { $0 + exp($1 - m) }
            for c in 0..<classes {
                let target = c == Int(labels[r]) ? 0.9 : 0
                let grad = exp(row[c] - m) / z - target - 0.1 / Double(classes)
                worst = max(worst, abs(Double(g[r * classes + c]) - grad))
            }
        }
        #expect(worst < 1e-6, "worst |gradient error| \(worst)")
    }

    // MARK: AdamW

    /// The lane-wise AdamW update gives every element the bits of the scalar operations
    /// (torch.optim.AdamW's order), on a count with a tail, across the parallel split.
    @Test func adamWUpdateLanesEqualScalarOperations() {
        var rng = Rng(state: 12)
        let n = 100_003
        let g = rng.array(n, scale: 0.3)
        var p = rng.array(n), m = rng.array(n, scale: 0.01), v = rng.array(n, scale: 0.001).map { abs($0) }
        let s = AdamWScalars(decay: 1 - 1e-3 * 0.05, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: 0.001,
                             bias2Sqrt: Float((1 - pow(0.999, 3.0)).squareRoot()), eps: 1e-8,
                             stepSize: Float(1e-3 / (1 - pow(0.9, 3.0))))
        let p0 = p
        var ep = p, em = m, ev = v
        for i in 0..<n {
            ep[i] *= s.decay
            em[i] += (g[i] - em[i]) * s.oneMinusBeta1
            ev[i] = ev[i] * s.beta2 + s.oneMinusBeta2 * g[i] * g[i]
            let denom = ev[i].squareRoot() / s.bias2Sqrt + s.eps
            ep[i] -= s.stepSize * em[i] / denom
        }
        adamWUpdate(parameters: &p, firstMoment: &m, secondMoment: &v, gradient: g, count: n, s)
        #expect(p.map(\.bitPattern) == ep.map(\.bitPattern))
        #expect(m.map(\.bitPattern) == em.map(\.bitPattern))
        #expect(v.map(\.bitPattern) == ev.map(\.bitPattern))
        #expect(zip(p, p0).filter { $0 != $1 }.count > n / 2)   // the update really moved them
    }
}

// MARK: - Helpers

/// A tiny deterministic generator (LCG): uniform in [-scale, scale).
struct Rng {
    var state: UInt64
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
    }
    mutating func array(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in next() * scale } }
}

/// Σ w ⊙ y in Double.
func weighted(_ y: [Float], _ w: [Float]) -> Double {
    zip(y, w).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

/// Central differences of f at x, each element moved by ±eps (dividing by the step the float
/// grid actually took). Float forwards at O(1) values: eps = 1e-2 balances the O(eps²)
/// truncation against float rounding in f (~1e-7·|f|/eps).
func numericGradient(_ x: [Float], eps: Float = 1e-2, _ f: ([Float]) -> Double) -> [Double] {
    var probe = x
    return (0..<x.count).map { i in
        probe[i] = x[i] + eps
        let up = f(probe), upStep = Double(probe[i])
        probe[i] = x[i] - eps
        let down = f(probe), downStep = Double(probe[i])
        probe[i] = x[i]
        return (up - down) / (upStep - downStep)
    }
}

/// Global relative L2 error ‖a − n‖/‖n‖ < 1e-3, and no element off by more than 0.2% of the
/// largest gradient. Correct kernels measure 1e-6…5e-5 on both; each of these bugs fails
/// (checked by hand): LayerNorm without the mean(g·xhat) term (0.1), GELU without x·φ(x) (0.16),
/// attention without rowsum(dP⊙P) (0.4…2), cross-entropy without the −s/C term (0.018).
func expectClose(_ analytic: [Float], _ numeric: [Double], _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(analytic.count == numeric.count, sourceLocation: sourceLocation)
    var diff = 0.0, norm = 0.0, worst = 0.0, largest = 0.0
    for (a, n) in zip(analytic, numeric) {
        let d = Double(a) - n
        diff += d * d; norm += n * n
        worst = max(worst, abs(d)); largest = max(largest, abs(n))
    }
    let relative = diff.squareRoot() / max(norm.squareRoot(), 1e-12)
    #expect(norm > 0, "\(label): zero gradient tests nothing", sourceLocation: sourceLocation)
    #expect(relative < 1e-3, "\(label): relative L2 error \(relative)", sourceLocation: sourceLocation)
    #expect(worst <= 2e-3 * largest, "\(label): worst element error \(worst) of \(largest)", sourceLocation: sourceLocation)
}

func runLayerNorm(_ x: [Float], rows: Int, cols: Int, gamma: [Float], beta: [Float])
    -> (out: [Float], mean: [Float], rstd: [Float]) {
    var out = [Float](repeating: 0, count: rows * cols)
    var mean = [Float](repeating: 0, count: rows), rstd = mean
    layerNorm(x, rows: rows, cols: cols, gamma: gamma, beta: beta, eps: 1e-5, out: &out)
    var check = out
    layerNormForwardSaving(x, rows: rows, cols: cols, gamma: gamma, beta: beta, eps: 1e-5,
                           out: &check, mean: &mean, rstd: &rstd)
    return (out, mean, rstd)
}

/// torch's label-smoothed cross-entropy summed over counted rows, in Double.
func referenceCrossEntropy(_ logits: [Float], classes: Int, labels: [Int32], smoothing s: Double) -> Double {
    var total = 0.0
    for (r, label) in labels.enumerated() where label >= 0 && Int(label) < classes {
        let row = logits[(r * classes)..<((r + 1) * classes)].map(Double.init)
        let m = row.max() ?? 0
        let logZ = m + log(row.reduce(0) { $0 + exp($1 - m) })
        let nll = logZ - row[Int(label)]
        let uniform = row.reduce(0) { $0 + (logZ - $1) } / Double(classes)
        total += (1 - s) * nll + s * uniform
    }
    return total
}

/// An attention case's buffers: q, k, v (separate with padded strides, or fused qkv) packed
/// into one input array so finite differences can walk every element; the gradient array has
/// the same layout.
struct AttentionProblem {
    static let sentinel: Float = 1e3
    let c: KernelGradientTests.AttentionCase
    let shape: BatchedAttentionShape
    let width: Int
    let qOffset: Int, kOffset: Int, vOffset: Int
    let qStride: Int, kStride: Int, vStride: Int
    let inputCount: Int
    let outStride: Int
    var outCount: Int { c.batch * c.queries * outStride }

    init(_ c: KernelGradientTests.AttentionCase) {
        self.c = c
        shape = BatchedAttentionShape(batch: c.batch, queries: c.queries, keys: c.keys, heads: c.heads, headDim: c.headDim)
        width = c.heads * c.headDim
        outStride = width + 2
        if c.fused {
            qStride = 3 * width; kStride = qStride; vStride = qStride
            qOffset = 0; kOffset = width; vOffset = 2 * width
            inputCount = c.batch * c.queries * qStride
        } else {
            // Padded strides catch a kernel that assumes contiguous rows.
            qStride = width + 3; kStride = width + 1; vStride = width + 2
            qOffset = 0
            kOffset = c.batch * c.queries * qStride
            vOffset = kOffset + c.batch * c.keys * kStride
            inputCount = vOffset + c.batch * c.keys * vStride
        }
    }

    /// Named index ranges for reporting: q, k, v separately, or the fused buffer.
    var parts: [(String, Range<Int>)] {
        c.fused ? [("dqkv", 0..<inputCount)]
                : [("dq", qOffset..<kOffset), ("dk", kOffset..<vOffset), ("dv", vOffset..<inputCount)]
    }

    /// Indices of stride padding (not in any head column).
    var paddingIndices: [Int] {
        c.fused ? [] : (0..<inputCount).filter { !isHeadColumn($0) }
    }

    private func isHeadColumn(_ i: Int) -> Bool {
        let (offset, stride) = i < kOffset ? (qOffset, qStride) : i < vOffset ? (kOffset, kStride) : (vOffset, vStride)
        return (i - offset) % stride < width
    }

    var dropout: AttentionDropout? { c.dropout > 0 ? AttentionDropout(probability: c.dropout, seed: 42) : nil }

    func forward(_ inputs: [Float]) -> (out: [Float], probs: [Float]) {
        var probs = [Float](repeating: .nan, count: shape.probabilityCount)
        var out = [Float](repeating: 0, count: outCount)
        inputs.withUnsafeBufferPointer { x in
            guard let base = x.baseAddress else { return }
            let mask = c.keyMask
            withOptionalPointer(mask) { maskPointer in
                attentionForwardTraining(shape: shape, q: base + qOffset, qStride: qStride,
                                         k: base + kOffset, kStride: kStride, v: base + vOffset, vStride: vStride,
                                         scale: 1 / Float(c.headDim).squareRoot(), causal: c.causal, keyMask: maskPointer,
                                         dropout: dropout, probs: &probs, out: &out, outStride: outStride)
            }
        }
        return (out, probs)
    }

    /// dInputs for dOut, starting from a gradient buffer whose head columns hold a sentinel
    /// (they must be overwritten) and whose padding holds the sentinel too (must survive).
    func backward(_ inputs: [Float], probs: [Float], dOut: [Float]) -> [Float] {
        var grad = [Float](repeating: Self.sentinel, count: inputCount)
        var scratch = [Float](repeating: .nan, count: attentionBackwardScratchCount(shape, dropout: dropout != nil))
        inputs.withUnsafeBufferPointer { x in
            grad.withUnsafeMutableBufferPointer { g in
                guard let base = x.baseAddress, let gBase = g.baseAddress else { return }
                attentionBackward(shape: shape, dOut: dOut, dOutStride: outStride, probs: probs,
                                  q: base + qOffset, qStride: qStride, k: base + kOffset, kStride: kStride,
                                  v: base + vOffset, vStride: vStride, scale: 1 / Float(c.headDim).squareRoot(),
                                  dropout: dropout, dq: gBase + qOffset, dqStride: qStride, dk: gBase + kOffset, dkStride: kStride,
                                  dv: gBase + vOffset, dvStride: vStride, scratch: &scratch)
            }
        }
        return grad
    }
}

func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
