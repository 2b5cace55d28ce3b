import Testing
@testable import BlipCore
@testable import BlipTraining

/// Whole-model gradients of the first batch against torch autograd (fixtures from
/// scripts/make_training_fixtures.py): every trainable tensor, relative 1e-4.
@Suite struct GradientParityTests {
    @Test(arguments: [FinetuneTask.caption, .vqa, .match])
    func gradientsMatchTorchAutograd(task: FinetuneTask) throws {
        try compareFirstBatchGradients(task, manifest: task.rawValue + ".jsonl", expected: "expected_grads_\(task.rawValue).safetensors")
    }

    /// The filter with explicit `"negatives"` on some rows (2, 0, 1 and 3 texts, one longer
    /// than every batch text): extra (negative text, image) ITM pairs.
    @Test func filterGradientsWithExplicitNegativesMatchTorchAutograd() throws {
        try compareFirstBatchGradients(.match, manifest: "match_negatives.jsonl", expected: "expected_grads_match_negatives.safetensors")
    }

    private func compareFirstBatchGradients(_ task: FinetuneTask, manifest: String, expected expectedFile: String) throws {
        let out = TrainingFixtures.temporaryDirectory("grad")
        var options = TrainingFixtures.options(task, batchSize: 4, out: out + "/model")
        options.trainPath = TrainingFixtures.path(manifest)
        let f = try Finetuner(options: options)
        var negatives: FixedNegatives?
        if task == .match {
            let n = (TrainingFixtures.json("negatives_grads.json")["steps"] as! [[String: [Int]]])[0]
            negatives = FixedNegatives(imageForText: n["neg_image_for_text"]!, textForImage: n["neg_text_for_image"]!)
        }
        let loss = try f.gradientsOfFirstBatch(negatives: negatives)
        let expected = try SafetensorsFile(path: TrainingFixtures.path(expectedFile))
        for (key, value) in [("loss", loss.loss), ("loss_itm", loss.matching)] where task == .match || key == "loss" {
            let reference = Double(expected.metadata[key] ?? "") ?? .nan
            #expect(abs(value - reference) < 1e-5 * max(1, abs(reference)), "\(task) \(manifest) \(key): \(value) vs \(reference)")
        }
        // Tensors whose true gradient is zero (attention key biases: softmax ignores a constant
        // added to every score) hold float noise on both sides: they are compared against the
        // model's largest gradient instead of their own.
        var largest: Float = 0
        for t in f.model.store.tensors {
            let ref = try expected.floats(t.name, shape: t.shape)
            for i in 0..<t.count { largest = max(largest, abs(ref.pointer[i])) }
        }
        var compared = 0
        for t in f.model.store.tensors where t.trainable {
            let ref = try expected.floats(t.name, shape: t.shape)
            let own = (0..<t.count).reduce(Float(0)) { max($0, abs(ref.pointer[$1])) }
            let err = own < 1e-5 * largest
                ? Double((0..<t.count).reduce(Float(0)) { max($0, abs(f.model.store.grads[t.gradientOffset + $1] - ref.pointer[$1])) } / largest)
                : relativeError(f.model.store.grads + t.gradientOffset, ref.pointer, count: t.count)
            #expect(err < 1e-4, "\(task) \(t.name): relative error \(err)")
            compared += 1
        }
        #expect(compared == f.model.store.tensors.count)
        #expect(expected.entries.count == compared, "the reference has tensors libblip does not train")
    }
}
