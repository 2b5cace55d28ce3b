import Glibc
import BlipKernels

/// Beam search with transformers 5.24 `_beam_search` semantics for one input (batch size 1):
///
/// * log-softmax → processors (→ warpers when sampling) → add the running beam scores;
/// * keep the top 2·numBeams continuations over all beams (or sample them without replacement);
/// * continuations ending in EOS, or reaching `maxLength`, that rank among the top numBeams are
///   offered to the finished list with score `sum_logprobs / (new_tokens) ** lengthPenalty`
///   (`new_tokens` counts the EOS and excludes the prompt);
/// * the best numBeams unfinished continuations run on; the KV cache is reordered to follow them;
/// * stop per `earlyStopping` (false = heuristic, true = all beams finished, "never"), or when
///   every continuation hits a stopping criterion.
///
/// The result is the best finished hypothesis. Every float step (additions of −1e9 masks,
/// divisions by the length penalty) is done in float32 as transformers does, so rankings match.
struct BeamSearch {
    let plan: GenerationPlan

    func run(session: DecoderSession, onToken: ((Int32) -> Bool)?) throws -> [Int32] {
        let nb = plan.options.numBeams, vocab = session.vocabSize
        let maxLength = plan.maxLength, promptLength = plan.prompt.count
        let keep = 2 * nb   // max(2, 1 + number of EOS ids) · numBeams
        let lengthPenalty = Double(plan.options.lengthPenalty)
        let early = plan.options.earlyStopping
        let processors = LogitsProcessors(options: plan.options, vocab: vocab, eos: plan.eos, minLength: plan.minLength)
        var rng = SeededRandom(seed: plan.options.seed)
        let big: Float = -1.0e9

        // running and finished hypotheses: [nb][maxLength] token rows
        var running = [Int32](repeating: plan.pad, count: nb * maxLength)
        var nextRunning = running
        var finished = running
        var nextFinished = running
        for b in 0..<nb { for (i, t) in plan.prompt.enumerated() { running[b * maxLength + i] = t } }
        var runningScores = [Float](repeating: big, count: nb)
        runningScores[0] = 0
        var finishedScores = [Float](repeating: big, count: nb)
        var finishedFlags = [Bool](repeating: false, count: nb)
        var finishedLengths = [Int](repeating: 0, count: nb)   // generated tokens (beam_indices ≠ -1)
        var nextFinishedScores = finishedScores, nextFinishedFlags = finishedFlags, nextFinishedLengths = finishedLengths
        var earlyUnsatisfied = true

        // candidates
        var candValue = [Float](repeating: 0, count: keep)
        var candBeam = [Int](repeating: 0, count: keep)
        var candToken = [Int32](repeating: 0, count: keep)
        var candHits = [Bool](repeating: false, count: keep)
        var runningLogProbs = [Float](repeating: 0, count: keep)
        var order = [Int](repeating: 0, count: nb)
        var stepTokens = [Int32](repeating: 0, count: nb)
        var mergedScores = [Float](repeating: 0, count: nb + keep)
        var best = [Int](repeating: 0, count: nb)
        var topValues = [Float](repeating: 0, count: nb)
        let sampleWeights: UnsafeMutablePointer<Double>? = plan.options.doSample ? .allocate(capacity: 2 * nb * vocab + 1) : nil
        defer { sampleWeights?.deallocate() }

        plan.prompt.withUnsafeBufferPointer { session.prefill($0) }
        var cur = promptLength
        while true {
            // 1. scores of every continuation
            for b in 0..<nb {
                let row = session.logitsRow(b)
                logSoftmaxInPlace(row, count: vocab)
                running.withUnsafeBufferPointer { processors.process(row, sequence: $0.baseAddress! + b * maxLength, length: cur) }
                if plan.options.doSample { processors.warp(row, minKeep: 2) }
                let s = runningScores[b]
                for v in 0..<vocab { row[v] = row[v] + s }
            }
            // 2. the top `keep` continuations over all beams, best first
            let all = session.logits.pointer
            if let weights = sampleWeights {
                try sampleWithoutReplacement(all, count: nb * vocab, keep: keep, weights: weights, rng: &rng,
                                             value: &candValue, index: &candBeam)
            } else {
                topK(all, count: nb * vocab, keep: keep, value: &candValue, index: &candBeam)
            }
            for k in 0..<keep {
                let flat = candBeam[k]
                candBeam[k] = flat / vocab
                candToken[k] = Int32(flat % vocab)
                candHits[k] = candToken[k] == plan.eos || cur + 1 >= maxLength
            }

            // 3. the best unfinished continuations run on
            for k in 0..<keep { runningLogProbs[k] = candValue[k] + (candHits[k] ? big : 0) }
            topIndices(runningLogProbs, keep: nb, into: &order, scratch: &topValues)
            for j in 0..<nb {
                let k = order[j]
                let src = candBeam[k]
                for i in 0..<cur { nextRunning[j * maxLength + i] = running[src * maxLength + i] }
                nextRunning[j * maxLength + cur] = candToken[k]
                stepTokens[j] = candToken[k]
                runningScores[j] = runningLogProbs[k]
            }
            // the cache follows the chosen source beams
            for j in 0..<nb { order[j] = candBeam[order[j]] }

            // 4. finished hypotheses: merge the old list with the newly finished top-nb continuations
            let denominator = Float(pow(Double(cur + 1 - promptLength), lengthPenalty))
            let allFinished = finishedFlags.allSatisfy { $0 }
            for j in 0..<nb { mergedScores[j] = finishedScores[j] }
            for k in 0..<keep {
                var s = candValue[k] / denominator
                if allFinished && early == .allBeamsFinished { s += big }
                if !earlyUnsatisfied { s += big }
                if !(candHits[k] && k < nb) { s += big }
                mergedScores[nb + k] = s
            }
            topIndices(mergedScores, keep: nb, into: &best, scratch: &topValues)
            for j in 0..<nb {
                let m = best[j]
                if m < nb {
                    for i in 0..<maxLength { nextFinished[j * maxLength + i] = finished[m * maxLength + i] }
                    nextFinishedFlags[j] = finishedFlags[m]
                    nextFinishedLengths[j] = finishedLengths[m]
                } else {
                    let k = m - nb, src = candBeam[k]
                    for i in 0..<cur { nextFinished[j * maxLength + i] = running[src * maxLength + i] }
                    nextFinished[j * maxLength + cur] = candToken[k]
                    for i in (cur + 1)..<maxLength { nextFinished[j * maxLength + i] = plan.pad }
                    nextFinishedFlags[j] = candHits[k] && k < nb
                    nextFinishedLengths[j] = cur + 1 - promptLength
                }
                nextFinishedScores[j] = mergedScores[m]
            }
            swap(&finished, &nextFinished)
            swap(&finishedScores, &nextFinishedScores)
            swap(&finishedFlags, &nextFinishedFlags)
            swap(&finishedLengths, &nextFinishedLengths)
            swap(&running, &nextRunning)

            // 5. stopping
            cur += 1
            let bestLength = (early == .never && lengthPenalty > 0) ? maxLength - promptLength : cur - promptLength
            let bestPossible = runningScores[0] / Float(pow(Double(bestLength), lengthPenalty))
            let minFinished = finishedScores.min() ?? big
            var improvable = false
            for j in 0..<nb where bestPossible > (finishedFlags[j] ? minFinished : big) { improvable = true }
            earlyUnsatisfied = earlyUnsatisfied && improvable
            let everyBeamDone = finishedFlags.allSatisfy { $0 } && early == .allBeamsFinished
            let allHit = candHits.allSatisfy { $0 }
            if !earlyUnsatisfied || everyBeamDone || allHit { break }

            order.withUnsafeBufferPointer { session.reorder($0.baseAddress!) }
            stepTokens.withUnsafeBufferPointer { session.step($0.baseAddress!) }
        }

        let length = promptLength + finishedLengths[0]
        let result = Array(finished[0..<length])
        if let onToken {
            for t in result[promptLength...] where !onToken(t) {
                throw BlipError(.aborted, "generation stopped by the token callback")
            }
        }
        return result
    }
}

/// The `keep` largest values of a flat array, best first (ties: lower index first), as
/// (value, flat index). One pass with a small sorted buffer.
func topK(_ x: UnsafePointer<Float>, count: Int, keep: Int, value: inout [Float], index: inout [Int]) {
    var filled = 0
    for i in 0..<count {
        let v = x[i]
        if filled == keep && !(v > value[keep - 1]) { continue }
        var pos = filled == keep ? keep - 1 : filled
        if filled < keep { filled += 1 }
        while pos > 0 && v > value[pos - 1] {
            value[pos] = value[pos - 1]; index[pos] = index[pos - 1]; pos -= 1
        }
        value[pos] = v; index[pos] = i
    }
}

/// Indices of the `keep` largest entries, best first (ties: lower index first).
func topIndices(_ x: [Float], keep: Int, into out: inout [Int], scratch value: inout [Float]) {
    x.withUnsafeBufferPointer { p in topK(p.baseAddress!, count: x.count, keep: keep, value: &value, index: &out) }
}

/// torch.multinomial(softmax(x), keep, replacement=False) followed by a descending sort of
/// the drawn values (beam sampling), with libblip's random stream. `weights` holds 2·count + 1
/// doubles: the weights, then a Fenwick tree of them, so each draw costs O(log count) instead
/// of a scan of beams × vocabulary entries (64 beams drew 128 times from 2 M entries per step).
func sampleWithoutReplacement(_ x: UnsafePointer<Float>, count: Int, keep: Int, weights: UnsafeMutablePointer<Double>,
                              rng: inout SeededRandom, value: inout [Float], index: inout [Int]) throws {
    var m = -Float.infinity
    for i in 0..<count where x[i] > m { m = x[i] }
    let tree = weights + count   // 1-based: tree[j] sums the weights of (j - lowbit(j), j]
    tree.initialize(repeating: 0, count: count + 1)
    var total = 0.0, available = 0
    for i in 0..<count {
        let w = x[i] > -.infinity && m.isFinite ? Double(expf(x[i] - m)) : 0
        weights[i] = w.isFinite ? w : 0
        total += weights[i]
        if weights[i] > 0 { available += 1 }
    }
    guard available >= keep else {
        throw BlipError.invalidArgument("beam sampling needs at least \(keep) candidate tokens per step (2 × num_beams); raise top_k / top_p")
    }
    for j in 1...count {
        tree[j] += weights[j - 1]
        let parent = j + (j & -j)
        if parent <= count { tree[parent] += tree[j] }
    }
    var highBit = 1
    while highBit * 2 <= count { highBit *= 2 }
    var drawn: [(Float, Int)] = []
    drawn.reserveCapacity(keep)
    for _ in 0..<keep {
        // the first entry whose running sum exceeds the target
        var remaining = rng.nextUnit() * total
        var position = 0
        var step = highBit
        while step > 0 {
            if position + step <= count, tree[position + step] <= remaining {
                position += step
                remaining -= tree[position]
            }
            step /= 2
        }
        // rounding can land past the end or on a drawn entry: take the next undrawn one (or the last)
        var pick = min(position, count - 1)
        if weights[pick] == 0 {
            var forward = pick
            while forward < count, weights[forward] == 0 { forward += 1 }
            if forward < count {
                pick = forward
            } else {
                while weights[pick] == 0 { pick -= 1 }
            }
        }
        let w = weights[pick]
        total -= w
        weights[pick] = 0
        var j = pick + 1
        while j <= count { tree[j] -= w; j += j & -j }
        drawn.append((x[pick], pick))
    }
    drawn.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
    for (k, d) in drawn.enumerated() { value[k] = d.0; index[k] = d.1 }
}
