import BlipCore
import Glibc

/// Initial weights for training from a config alone, with transformers' distributions for
/// BLIP: weights and embeddings N(0, 0.02) (the class and position embeddings truncated at
/// ±2σ), biases 0, LayerNorm 1 and 0. Seeded, so a run from scratch is reproducible; torch's
/// generator is not reproduced.
enum RandomInitialization {
    static func apply(_ store: ParameterStore, seed: UInt64, std: Double = 0.02) {
        var random = SeededRandom(seed: seed ^ 0x1D17_1A11_7E16_5EED)
        func normal() -> Double {
            let u1 = max(random.nextUnit(), 1e-300), u2 = random.nextUnit()
            return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        }
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
}
