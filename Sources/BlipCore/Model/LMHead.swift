import BlipKernels

/// BERT LM head: logits = LN(GELU(h·Wtᵀ + bt)) · W_decᵀ + bias, vocab-wide.
/// The decoder matrix is `cls.predictions.decoder.weight` when the file has it, else the
/// word-embedding matrix (tied, as transformers 5 saves it), used as is or quantized to int8
/// at load when the storage asks for it (`WeightSource.quantizesTiedLMHead`); then the top
/// logits of every step are recomputed in float (`refinedCandidates`).
public final class LMHead: @unchecked Sendable {
    let transform: Linear
    let norm: LayerNorm
    let decoder: Linear
    let bias: FloatBuffer
    public let tied: Bool
    /// Float rows of the vocabulary matrix when `decoder` runs in int8 from them: the
    /// `refinedCandidates` highest int8 logits of every row are recomputed from these.
    let refinementRows: FloatBuffer?
    /// Candidates per row recomputed in float: the int8 error of a logit is far smaller than
    /// the gap between the 1st and the 16th logit, so the tokens greedy and beam search choose
    /// between carry float logits, at int8 cost (16 × 768 MACs per row instead of 30,524 × 768).
    static let refinedCandidates = 16

    public init(_ w: WeightSource, prefix: String = "text_decoder.cls.predictions.", config c: TextConfig,
                wordEmbeddings: FloatBuffer) throws {
        let d = c.hiddenSize
        transform = try Linear(w, prefix + "transform.dense", in: d, out: d)
        norm = try LayerNorm(w, prefix + "transform.LayerNorm", size: d, eps: c.layerNormEps)
        // transformers 5 computes the logits with `decoder.bias`; published checkpoints store it
        // equal to `predictions.bias` (or not at all), but when both exist and differ, the
        // decoder's is the one transformers uses.
        bias = try w.floats(prefix + (w.contains(prefix + "decoder.bias") ? "decoder.bias" : "bias"), shape: [c.vocabSize])
        let weight: LinearWeight
        var refinement: FloatBuffer? = nil
        if w.contains(prefix + "decoder.weight") {
            // float or int8, whatever the storage holds (a quantized file stores the tied matrix here)
            weight = try w.linearWeight(prefix + "decoder.weight", out: c.vocabSize, in: d)
            tied = false
        } else if w.quantizesTiedLMHead {
            // Per-channel int8 from the (F16-stored) embeddings: ~0.1 s at load, and each
            // decode step reads 23 MB instead of 94 MB.
            weight = .int8(Int8Matrix(quantizing: wordEmbeddings.pointer, out: c.vocabSize, in: d))
            refinement = wordEmbeddings
            tied = true
        } else {
            weight = .f32(wordEmbeddings)
            tied = true
        }
        decoder = Linear(weight: weight, bias: bias, in: d, out: c.vocabSize)
        refinementRows = refinement
    }

    public var vocabSize: Int { decoder.outFeatures }
    public var width: Int { transform.inFeatures }

    /// `rows` hidden rows (stride `inStride`) → logits [rows, vocab]. `temp` holds rows × width.
    /// The vocab projection is one product over all rows (all beams): the weight matrix is read once per step.
    func callAsFunction(_ h: UnsafePointer<Float>, rows: Int, inStride: Int, temp: UnsafeMutablePointer<Float>,
                        temp2: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>) {
        transform.auto(h, rows: rows, out: temp, inStride: inStride)
        geluInPlace(temp, count: rows * width)
        norm(temp, rows: rows, out: temp2)
        decoder.auto(temp2, rows: rows, out: logits)
        if let rowsF32 = refinementRows {
            for r in 0..<rows {
                refineTopLogits(logits + r * vocabSize, hidden: temp2 + r * width, rows: rowsF32.pointer)
            }
        }
    }

    /// Recomputes the `refinedCandidates` largest logits of one row in float.
    private func refineTopLogits(_ logits: UnsafeMutablePointer<Float>, hidden: UnsafePointer<Float>,
                                 rows matrix: UnsafePointer<Float>) {
        let k = min(Self.refinedCandidates, vocabSize), d = width
        // The k best so far, smallest first (insertion into a tiny sorted array on the stack:
        // this runs every decode step).
        withUnsafeTemporaryAllocation(of: (value: Float, index: Int).self, capacity: k) { best in
            best.initialize(repeating: (-.infinity, -1))
            for v in 0..<vocabSize where logits[v] > best[0].value {
                var slot = 0
                while slot + 1 < k && best[slot + 1].value < logits[v] { best[slot] = best[slot + 1]; slot += 1 }
                best[slot] = (logits[v], v)
            }
            for (_, v) in best where v >= 0 {
                logits[v] = dot(hidden, matrix + v * d, count: d) + bias.pointer[v]
            }
        }
    }
}
