import BlipCore
import BlipKernels

extension TrainingModel {
    /// The filter's loss, as BLIP trains it: ITC over the batch (learnable temperature,
    /// positives by image id) + ITM over B positive pairs, B (text, hard-negative image) pairs
    /// and B (hard-negative text, image) pairs, plus one (text, image) pair per explicit negative
    /// of the manifest (`"negatives"`: texts known not to match, e.g. with one word swapped, which
    /// in-batch sampling rarely finds). The ITM text's first token is [CLS], as transformers'
    /// inference feeds it (BLIP's own training swapped in [ENC]).
    func matchStep(_ batch: TrainingBatch, states: UnsafeMutablePointer<Float>, dStates: UnsafeMutablePointer<Float>?,
                   lossScale: Float, random: inout SeededRandom, negatives fixed: FixedNegatives?) -> StepLoss {
        guard let encoder, let visionProjection, let textProjection, let itmHead, let temperature else { return StepLoss(loss: 0) }
        let s = store, b = batch.size, e = config.imageTextHiddenSize
        let dv = vision.width, n = vision.tokens, dt = encoder.width
        let text = batch.text, len = text.length
        // BLIP clamps the temperature in place before every forward.
        let tempValue = min(max(s.value(temperature)[0], 0.001), 0.5)
        s.value(temperature)[0] = tempValue

        // ITC features: vision_proj(image CLS), text_proj(text-only encoder CLS), normalised.
        let imageCLS = arena.allocate(b * dv)
        for i in 0..<b { (imageCLS + i * dv).update(from: states + i * n * dv, count: dv) }
        let imageProj = arena.allocate(b * e)
        visionProjection.forward(s, imageCLS, rows: b, out: imageProj)
        let textActs = encoder.forward(s, batch: text, causal: false, cross: nil, random: &random, arena: arena)
        let textCLS = arena.allocate(b * dt)
        for i in 0..<b { (textCLS + i * dt).update(from: textActs.output + i * len * dt, count: dt) }
        let textProj = arena.allocate(b * e)
        textProjection.forward(s, textCLS, rows: b, out: textProj)
        let imageNorm = RowNormalization.forward(Array(UnsafeBufferPointer(start: imageProj, count: b * e)), rows: b, dim: e)
        let textNorm = RowNormalization.forward(Array(UnsafeBufferPointer(start: textProj, count: b * e)), rows: b, dim: e)
        let itc = ContrastiveLoss.evaluate(image: imageNorm.y, text: textNorm.y, dim: e, ids: batch.imageIds, temperature: tempValue)

        // Hard negatives (no gradient flows through the choice).
        let negImage: [Int?], negText: [Int?]
        if let fixed {
            negImage = fixed.imageForText.map { $0 }
            negText = fixed.textForImage.map { $0 }
        } else {
            negImage = HardNegatives.draw(weights: itc.textToImage, ids: batch.imageIds, random: &random)
            negText = HardNegatives.draw(weights: itc.imageToText, ids: batch.imageIds, random: &random)
        }

        // ITM batch: positives, then (text i, image negImage[i]), then (text negText[i], image i),
        // then each row's explicit negatives with its image. One padded length for all of them
        // (extra padding is masked: the [CLS] states do not change).
        var seqText: [Int] = [], seqImage: [Int] = [], labels: [Int32] = []
        for i in 0..<b { seqText.append(i); seqImage.append(i); labels.append(1) }
        for i in 0..<b { if let j = negImage[i] { seqText.append(i); seqImage.append(j); labels.append(0) } }
        for i in 0..<b { if let j = negText[i] { seqText.append(j); seqImage.append(i); labels.append(0) } }
        let itmLength = max(len, batch.negatives?.length ?? 0)
        var ids: [Int32] = [], mask: [Float] = []
        func appendRow(_ source: TokenBatch, _ row: Int) {
            let range = (row * source.length)..<((row + 1) * source.length)
            ids.append(contentsOf: source.ids[range]); ids.append(contentsOf: repeatElement(0, count: itmLength - source.length))
            mask.append(contentsOf: source.mask[range]); mask.append(contentsOf: repeatElement(0, count: itmLength - source.length))
        }
        for t in seqText { appendRow(text, t) }
        if let explicit = batch.negatives {
            for (k, owner) in batch.negativeOwners.enumerated() {
                appendRow(explicit, k); seqImage.append(owner); labels.append(0)
            }
        }
        let m = seqImage.count
        let itmText = TokenBatch(ids: ids, mask: mask, sequences: m, length: itmLength)
        let cross = CrossInput(states: states, count: b, tokens: n, width: dv, setOfSequence: seqImage, keyMask: nil)
        let itmActs = encoder.forward(s, batch: itmText, causal: false, cross: cross, random: &random, arena: arena)
        let cls = arena.allocate(m * dt)
        for i in 0..<m { (cls + i * dt).update(from: itmActs.output + i * itmLength * dt, count: dt) }
        let logits = arena.allocate(m * 2)
        itmHead.forward(s, cls, rows: m, out: logits)
        let itm = labels.withUnsafeBufferPointer {
            softmaxCrossEntropy(logits: logits, rows: m, classes: 2, labels: $0.baseAddress!, smoothing: 0,
                                gradScale: lossScale / Float(m))
        }
        // ITM backward (logits now hold d loss / d logits).
        let dCLS = arena.allocate(m * dt)
        itmHead.backward(s, x: cls, dy: logits, rows: m, dx: dCLS)
        let dItm = arena.zeroed(m * itmLength * dt)
        for i in 0..<m { (dItm + i * itmLength * dt).update(from: dCLS + i * dt, count: dt) }
        encoder.backward(s, itmActs, dOutput: dItm, dCrossStates: dStates, arena: arena)

        // ITC backward: through the normalisations and projections to the two CLS rows.
        if s.isTrainable(temperature) { s.grad(temperature)[0] += Float(itc.dTemperature) * lossScale }
        let scaled = { (g: [Float]) in g.map { $0 * lossScale } }
        let dImageProj = RowNormalization.backward(y: imageNorm.y, norms: imageNorm.norms, dy: scaled(itc.dImage), rows: b, dim: e)
        let dTextProj = RowNormalization.backward(y: textNorm.y, norms: textNorm.norms, dy: scaled(itc.dText), rows: b, dim: e)
        let dImageCLS = arena.allocate(b * dv), dTextCLS = arena.allocate(b * dt)
        dImageProj.withUnsafeBufferPointer {
            visionProjection.backward(s, x: imageCLS, dy: $0.baseAddress!, rows: b, dx: dImageCLS)
        }
        dTextProj.withUnsafeBufferPointer {
            textProjection.backward(s, x: textCLS, dy: $0.baseAddress!, rows: b, dx: dTextCLS)
        }
        if let dStates {
            for i in 0..<b { addInPlace(dStates + i * n * dv, dImageCLS + i * dv, count: dv) }
        }
        let dText = arena.zeroed(b * len * dt)
        for i in 0..<b { (dText + i * len * dt).update(from: dTextCLS + i * dt, count: dt) }
        encoder.backward(s, textActs, dOutput: dText, dCrossStates: nil, arena: arena)

        let itmLoss = itm.loss / Double(max(m, 1))
        return StepLoss(loss: itc.loss + itmLoss, contrastive: itc.loss, matching: itmLoss)
    }
}
