import Foundation
import Testing
@testable import BlipCore
import BlipData
@testable import BlipTraining

/// `--vision-init mimetic` (RandomInitialization.mimeticVision): the structure it promises is in
/// the weights, `normal` does not have it, and a model started that way still learns.
@Suite struct VisionInitializationTests {
    private static func finetuner(_ start: FinetuneOptions.VisionInitialization, out: String) throws -> Finetuner {
        var o = FilterLearningTests.options(out: out)
        o.visionInit = start
        return try Finetuner(options: o)
    }

    @Test func mimeticStructureIsInTheWeights() throws {
        let dir = TrainingFixtures.temporaryDirectory("mimetic")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mimetic = try Self.finetuner(.mimetic, out: dir + "/a"), normal = try Self.finetuner(.normal, out: dir + "/b")
        let c = mimetic.source.config.vision, d = c.hiddenSize, grid = c.gridSize, quarter = d / 4
        func tensor(_ f: Finetuner, _ name: String) throws -> UnsafeMutablePointer<Float> {
            f.model.store.value(try #require(f.model.store.ref(name)))
        }
        // Positions: class token zero, patch (y, x) = sin/cos of x then y at D/4 frequencies.
        let pos = try tensor(mimetic, "vision_model.embeddings.position_embedding")
        #expect((0..<d).allSatisfy { pos[$0] == 0 })
        let (y, x) = (grid - 1, 1 % grid)
        let row = pos + (1 + y * grid + x) * d
        for i in 0..<quarter {
            let omega = 1 / pow(10000, Double(i) / Double(quarter))
            #expect(abs(Double(row[i]) - sin(Double(x) * omega)) < 1e-6)
            #expect(abs(Double(row[quarter + i]) - cos(Double(x) * omega)) < 1e-6)
            #expect(abs(Double(row[2 * quarter + i]) - sin(Double(y) * omega)) < 1e-6)
            #expect(abs(Double(row[3 * quarter + i]) - cos(Double(y) * omega)) < 1e-6)
        }
        // Attention: trace(W_qᵀ W_k) / D ≈ 0.7 and trace(W_vᵀ W_oᵀ) / D ≈ −0.4, averaged over the
        // layers (D is 32 here, so each layer's trace is noisy); transformers' N(0, 0.02) gives ≈ 0.
        func traces(_ f: Finetuner) throws -> (qk: Double, vo: Double) {
            var qk = 0.0, vo = 0.0
            for layer in 0..<c.numHiddenLayers {
                let p = "vision_model.encoder.layers.\(layer).self_attn."
                let qkv = try tensor(f, p + "qkv.weight"), proj = try tensor(f, p + "projection.weight")
                for i in 0..<d {
                    for r in 0..<d {
                        qk += Double(qkv[r * d + i]) * Double(qkv[d * d + r * d + i])        // (W_qᵀ W_k)[i][i]
                        vo += Double(qkv[2 * d * d + r * d + i]) * Double(proj[i * d + r])   // (W_vᵀ W_oᵀ)[i][i]
                    }
                }
            }
            let n = Double(c.numHiddenLayers * d)
            return (qk / n, vo / n)
        }
        let m = try traces(mimetic), z = try traces(normal)
        #expect(m.qk > 0.45 && m.qk < 0.95, "mimetic trace(W_qᵀW_k)/D = \(m.qk)")
        #expect(m.vo < -0.25 && m.vo > -0.55, "mimetic trace(W_vᵀW_oᵀ)/D = \(m.vo)")
        #expect(abs(z.qk) < 0.05 && abs(z.vo) < 0.05, "normal: \(z)")
        let normalPos = try tensor(normal, "vision_model.embeddings.position_embedding")
        #expect((0..<d).contains { normalPos[d + $0] != pos[d + $0] })
    }

    /// The filter-learning run of FilterLearningTests started from the mimetic initialisation
    /// trains: held-out loss falls and retrieval rises well above chance. (Seed 0 on this tiny
    /// colour-only fixture, D = 32: R@1 0.92 against `normal`'s 0.75, held-out loss 1.65, but
    /// ITM accuracy 0.60 against 0.79 after the same 960 steps, so ITM is not asserted here.
    /// The scheme is for shape-heavy vision learnt from scratch; BENCHMARKS.md, session 7.)
    @Test func mimeticModelTrains() throws {
        let dir = TrainingFixtures.temporaryDirectory("mimetic-learn")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try Self.finetuner(.mimetic, out: dir + "/model")
        let path = try #require(f.options.valPath)
        let before = try Evaluator(finetuner: f, path: path).evaluate(epoch: -1, step: 0)
        var evaluations: [FinetuneEvaluation] = []
        _ = try f.run(onEvaluation: { evaluations.append($0) })
        let after = try #require(evaluations.last)
        let itm = (FilterLearningTests.metric(before, "itm_accuracy"), FilterLearningTests.metric(after, "itm_accuracy"))
        let recall = (FilterLearningTests.metric(before, "r_at_1"), FilterLearningTests.metric(after, "r_at_1"))
        let report = "loss \(before.loss) → \(after.loss), ITM \(itm.0) → \(itm.1), R@1 \(recall.0) → \(recall.1)"
        print("VisionInitializationTests: " + report)
        #expect(after.loss < 0.8 * before.loss, "\(report)")
        #expect(recall.1 >= FilterLearningTests.recallThreshold, "\(report)")
    }
}
