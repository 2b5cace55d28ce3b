import BlipCore
import Glibc

/// Initial weights for training from a config alone, with transformers' distributions for
/// BLIP: weights and embeddings N(0, 0.02) (the class and position embeddings truncated at
/// ±2σ), biases 0, LayerNorm 1 and 0. Seeded, so a run from scratch is reproducible; torch's
/// generator is not reproduced.
///
/// `--vision-init mimetic` then gives the ViT's attention a structure to start from (see
/// `mimeticVision`); the architecture, and so what transformers loads, is unchanged.
enum RandomInitialization {
    static func apply(_ store: ParameterStore, seed: UInt64, std: Double = 0.02,
                      vision: FinetuneOptions.VisionInitialization = .normal, visionConfig: VisionConfig? = nil) {
        var random = SeededRandom(seed: seed ^ 0x1D17_1A11_7E16_5EED)
        func normal() -> Double {
            let u1 = max(random.nextUnit(), 1e-300), u2 = random.nextUnit()
            return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        }
        defer { if vision == .mimetic, let visionConfig { mimeticVision(store, config: visionConfig, normal: normal) } }
        for t in store.tensors {
            let p = store.values + t.offset
            let isNorm = t.name.contains("LayerNorm") || t.name.contains("layer_norm") || t.name.contains("post_layernorm")
            if t.name == TrainingModel.temperatureName {
                p[0] = 0.07
            } else if isNorm {
                let one: Float = t.name.hasSuffix(".weight") ? 1 : 0
                p.initialize(repeating: one, count: t.count)
            } else if t.name.hasSuffix(".bias") || t.name.hasSuffix("predictions.bias") {
                p.initialize(repeating: 0, count: t.count)
            } else {
                let truncated = t.name.hasSuffix("class_embedding") || t.name.hasSuffix("position_embedding")
                for i in 0..<t.count {
                    var x = normal()
                    while truncated && abs(x) > 2 { x = normal() }
                    p[i] = Float(x * std)
                }
            }
        }
    }

    /// Mimetic initialisation of the ViT's self-attention (Trockman & Kolter, "Mimetic
    /// Initialization of Self-Attention Layers", 2023) with 2-D sine-cosine patch positions
    /// (MAE's). A ViT trained from scratch on a small dataset learns colour at once but object
    /// shape only after tens of thousands of images (BENCHMARKS.md, session 6); attention that
    /// starts out attending to similar tokens, with positions that make neighbouring patches
    /// similar, starts out local, like a convolution.
    ///
    /// Per layer, with D the width and Z1…Z4 standard normal D × D matrices:
    /// W_q = √(0.7/D)·Z1 and W_k = W_q + ½√(0.7/D)·Z2, so W_qᵀW_k ≈ 0.7·I plus noise (a token
    /// attends to tokens like itself); W_v = Z3/√D and W_o = −0.4·W_vᵀ + 0.4·Z4/√D, so the
    /// value-output map ≈ −0.4·I plus noise. The paper takes an SVD of 0.7·Z + 0.7·I per head;
    /// this reaches the same products in expectation without a factorisation. Positions: the
    /// class token 0; patch (row y, column x) the sines and cosines of x and y at D/4
    /// frequencies 10000^(−i/(D/4)).
    static func mimeticVision(_ store: ParameterStore, config c: VisionConfig, normal: () -> Double) {
        let d = c.hiddenSize
        for layer in 0..<c.numHiddenLayers {
            let prefix = "vision_model.encoder.layers.\(layer).self_attn."
            guard let qkvRef = store.ref(prefix + "qkv.weight"), let projRef = store.ref(prefix + "projection.weight"),
                  qkvRef.count == 3 * d * d, projRef.count == d * d else { continue }
            let qkv = store.value(qkvRef), proj = store.value(projRef)
            let qkScale = (0.7 / Double(d)).squareRoot(), unit = 1 / Double(d).squareRoot()
            for i in 0..<(d * d) { qkv[i] = Float(normal() * qkScale) }
            for i in 0..<(d * d) { qkv[d * d + i] = qkv[i] + Float(0.5 * normal() * qkScale) }
            for i in 0..<(d * d) { qkv[2 * d * d + i] = Float(normal() * unit) }
            let wv = qkv + 2 * d * d
            for r in 0..<d {
                for col in 0..<d { proj[r * d + col] = -0.4 * wv[col * d + r] + Float(0.4 * normal() * unit) }
            }
        }
        let grid = c.gridSize, quarter = d / 4
        guard d % 4 == 0, let posRef = store.ref("vision_model.embeddings.position_embedding"),
              posRef.count == (grid * grid + 1) * d else { return }
        let pos = store.value(posRef)
        pos.initialize(repeating: 0, count: d)
        for y in 0..<grid {
            for x in 0..<grid {
                let row = pos + (1 + y * grid + x) * d
                for i in 0..<quarter {
                    let omega = 1 / pow(10000, Double(i) / Double(quarter))
                    row[i] = Float(sin(Double(x) * omega))
                    row[quarter + i] = Float(cos(Double(x) * omega))
                    row[2 * quarter + i] = Float(sin(Double(y) * omega))
                    row[3 * quarter + i] = Float(cos(Double(y) * omega))
                }
            }
        }
    }
}
