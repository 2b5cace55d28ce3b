import BlipCore
import BlipKernels

/// BLIP's LM head (`cls.predictions`: dense → exact GELU → LayerNorm → decoder, whose matrix
/// is the decoder's word embeddings when tied) and transformers' LM loss: next-token
/// cross-entropy of position t's logits against label t+1, positions labelled -100 ignored,
/// label smoothing, mean over the counted tokens of the whole batch.
struct LanguageModelLoss {
    let transform: TrainableLinear
    let transformNorm: TrainableLayerNorm
    let decoder: TrainableLinear
    let vocabSize: Int
    let width: Int

    init(_ store: ParameterStore, config c: TextConfig, wordEmbeddings: ParameterRef, tied: Bool,
         prefix: String = "text_decoder.cls.predictions.") {
        let d = c.hiddenSize
        transform = TrainableLinear(store, prefix + "transform.dense", in: d, out: d)
        transformNorm = TrainableLayerNorm(store, prefix + "transform.LayerNorm", size: d, eps: c.layerNormEps)
        let weight = tied ? wordEmbeddings : store.register(prefix + "decoder.weight", [c.vocabSize, d])
        decoder = TrainableLinear(weight: weight, bias: store.register(prefix + "bias", [c.vocabSize]), in: d, out: c.vocabSize)
        vocabSize = c.vocabSize
        width = d
    }

    /// The (row, target) pairs that count: row b·L + t predicts labels[b·L + t + 1].
    static func targets(labels: [Int32], sequences: Int, length: Int) -> (rows: [Int], targets: [Int32]) {
        var rows: [Int] = [], targets: [Int32] = []
        for b in 0..<sequences {
            for t in 0..<(length - 1) where labels[b * length + t + 1] != -100 {
                rows.append(b * length + t)
                targets.append(labels[b * length + t + 1])
            }
        }
        return (rows, targets)
    }

    /// Loss over `hidden` [B·L, D] (the decoder's last_hidden_state). Writes d loss / d hidden
    /// · `gradScale`·count into `dHidden` (zero on rows that do not count). Returns the summed
    /// loss and the number of counted tokens; the caller divides (mean) and scales the
    /// gradient by 1/count through `gradScale`.
    func lossAndBackward(_ s: ParameterStore, hidden: UnsafePointer<Float>, rows allRows: Int, labels: [Int32],
                         sequences: Int, length: Int, smoothing: Float, gradScale: (Int) -> Float,
                         dHidden: UnsafeMutablePointer<Float>, arena: ActivationArena) -> (sum: Double, count: Int) {
        let d = width
        dHidden.initialize(repeating: 0, count: allRows * d)
        let (rows, targets) = Self.targets(labels: labels, sequences: sequences, length: length)
        let m = rows.count
        guard m > 0 else { return (0, 0) }
        // Only the rows that count go through the head: padding never reaches the vocab GEMM.
        let x = arena.allocate(m * d)
        for (i, r) in rows.enumerated() { (x + i * d).update(from: hidden + r * d, count: d) }
        let pre = arena.allocate(m * d), post = arena.allocate(m * d), normed = arena.allocate(m * d)
        transform.forward(s, x, rows: m, out: pre)
        gelu(pre, out: post, count: m * d)
        let norm = transformNorm.forward(s, post, rows: m, out: normed, arena: arena)
        let logits = arena.allocate(m * vocabSize)
        decoder.forward(s, normed, rows: m, out: logits)
        let result = targets.withUnsafeBufferPointer { t in
            softmaxCrossEntropy(logits: logits, rows: m, classes: vocabSize, labels: t.baseAddress!,
                                smoothing: smoothing, gradScale: gradScale(m))
        }
        let dx = arena.allocate(m * d)
        decoder.backward(s, x: normed, dy: logits, rows: m, dx: dx)
        transformNorm.backward(s, norm, dy: dx, dx: dx)
        geluBackward(dy: dx, preActivation: pre, dx: dx, count: m * d)
        let dIn = arena.allocate(m * d)
        transform.backward(s, x: x, dy: dx, rows: m, dx: dIn)
        for (i, r) in rows.enumerated() { (dHidden + r * d).update(from: dIn + i * d, count: d) }
        return (result.loss, result.counted)
    }
}
