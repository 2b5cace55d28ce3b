import Foundation
import Testing
@testable import BlipCore
@testable import BlipTraining

/// With dropout on (hidden, text attention and vision attention), the whole model's gradient
/// still matches finite differences of its loss: the masks are functions of the step's seed,
/// so the loss is a deterministic function of the weights.
@Suite struct DropoutGradientTests {
    @Test(arguments: [FinetuneTask.caption, .match])
    func wholeModelGradientWithDropoutMatchesFiniteDifferences(task: FinetuneTask) throws {
        let dir = TrainingFixtures.temporaryDirectory("dropout")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = TrainingFixtures.path("models/" + task.rawValue)
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: dir + "/" + name)
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as! [String: Any]
        var text = config["text_config"] as! [String: Any], vision = config["vision_config"] as! [String: Any]
        text["hidden_dropout_prob"] = 0.2; text["attention_probs_dropout_prob"] = 0.2; vision["attention_dropout"] = 0.2
        config["text_config"] = text; config["vision_config"] = vision
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))

        var o = TrainingFixtures.options(task, batchSize: 4, out: dir + "/out")
        o.modelPath = dir
        let f = try Finetuner(options: o)
        let store = f.model.store
        let negatives = task == .match ? FixedNegatives(imageForText: [1, 2, 3, 0], textForImage: [3, 0, 1, 2]) : nil
        func loss() throws -> Double { try f.gradientsOfFirstBatch(negatives: negatives).loss }
        _ = try loss()
        let analytic = Array(UnsafeBufferPointer(start: store.grads, count: store.gradientCount))
        // The few largest-gradient weights of a handful of tensors, from the vision encoder to the heads.
        var checked = 0
        for t in store.tensors where t.trainable && t.count > 1 && !t.name.hasSuffix("key.bias") && checked < 12 {
            let g = (0..<t.count).map { abs(analytic[t.gradientOffset + $0]) }
            guard let i = g.indices.max(by: { g[$0] < g[$1] }), g[i] > 1e-3 else { continue }
            let p = store.values + t.offset + i, saved = p.pointee, eps: Float = 2e-3
            p.pointee = saved + eps; let plus = try loss()
            p.pointee = saved - eps; let minus = try loss()
            p.pointee = saved
            let numeric = (plus - minus) / Double(2 * eps), exact = Double(analytic[t.gradientOffset + i])
            #expect(abs(numeric - exact) <= 0.03 * abs(exact) + 2e-4, "\(task) \(t.name)[\(i)]: analytic \(exact), numeric \(numeric)")
            checked += 1
        }
        #expect(checked >= 8)
        // Dropout is really on: the same weights without it give another loss, and the same
        // step's masks give the same loss again.
        let withDropout = try loss()
        #expect(withDropout == (try loss()))
        let plain = try Finetuner(options: TrainingFixtures.options(task, batchSize: 4, out: dir + "/plain"))
        #expect(try plain.gradientsOfFirstBatch(negatives: negatives).loss != withDropout)
    }
}
