import BlipKernels

/// BERT LM head: logits = LN(GELU(h·Wtᵀ + bt)) · W_decᵀ + bias, vocab-wide.
/// The decoder matrix is `cls.predictions.decoder.weight` when the file has it, else the
/// word-embedding matrix (tied, as transformers 5 saves it), used as is or quantized to int8
/// at load when the storage asks for it (`WeightSource.quantizesTiedLMHead`).
public final class LMHead: @unchecked Sendable {
    let transform: Linear
    let norm: LayerNorm
    let decoder: Linear
    public let tied: Bool

    public init(_ w: WeightSource, prefix: String = "text_decoder.cls.predictions.", config c: TextConfig,
                wordEmbeddings: FloatBuffer) throws {
        let d = c.hiddenSize
        transform = try Linear(w, prefix + "transform.dense", in: d, out: d)
        norm = try LayerNorm(w, prefix + "transform.LayerNorm", size: d, eps: c.layerNormEps)
        let bias = try w.floats(prefix + "bias", shape: [c.vocabSize])
        let weight: LinearWeight
        if w.contains(prefix + "decoder.weight") {
            // float or int8, whatever the storage holds (a quantized file stores the tied matrix here)
            weight = try w.linearWeight(prefix + "decoder.weight", out: c.vocabSize, in: d)
            tied = false
        } else if w.quantizesTiedLMHead {
            // Per-channel int8 from the (F16-stored) embeddings: ~0.1 s at load, and each
            // decode step reads 23 MB instead of 94 MB.
            weight = .int8(Int8Matrix(quantizing: wordEmbeddings.pointer, out: c.vocabSize, in: d))
            tied = true
        } else {
            weight = .f32(wordEmbeddings)
            tied = true
        }
        decoder = Linear(weight: weight, bias: bias, in: d, out: c.vocabSize)
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
    }
}
