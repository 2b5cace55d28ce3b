import Foundation
import Testing
@testable import BlipCore
@testable import BlipTraining

/// Several optimizer steps against transformers + torch.optim.AdamW on the tiny fixtures
/// (scripts/make_training_fixtures.py): every step's loss, and the final weights.
@Suite struct StepParityTests {
    @Test(arguments: [FinetuneTask.caption, .vqa])
    func lossesAndUpdatesMatchTorch(task: FinetuneTask) throws {
        let expected = TrainingFixtures.json("expected_steps_\(task.rawValue).json")
        let settings = expected["settings"] as! [String: Any]
        let losses = (expected["losses"] as! [NSNumber]).map(\.doubleValue)
        let dir = TrainingFixtures.temporaryDirectory("steps")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = TrainingFixtures.options(task, batchSize: settings["batch_size"] as! Int, out: dir + "/model")
        o.maxSteps = settings["max_steps"] as? Int
        o.lr = (settings["lr"] as! NSNumber).floatValue
        o.weightDecay = (settings["weight_decay"] as! NSNumber).floatValue
        o.prompt = settings["prompt"] as? String
        let f = try Finetuner(options: o)
        var reported: [Double] = []
        _ = try f.run(onProgress: { reported.append($0.loss) })
        #expect(reported.count == losses.count)
        for (i, (ours, theirs)) in zip(reported, losses).enumerated() {
            #expect(abs(ours - theirs) / abs(theirs) < 2e-4, "\(task) step \(i + 1): \(ours) vs torch \(theirs)")
        }
        // Final weights: every tensor's update points the same way as torch's.
        guard let finalName = expected["final_weights"] as? String else { return }
        let initial = try SafetensorsFile(path: o.modelPath! + "/model.safetensors")
        let theirs = try SafetensorsFile(path: TrainingFixtures.path(finalName))
        let ours = try SafetensorsFile(path: dir + "/model/model.safetensors")
        #expect(Set(ours.entries.keys) == Set(theirs.entries.keys), "the output directory holds exactly transformers' tensors")
        // Attention key biases are skipped: their true gradient is zero (softmax ignores a
        // constant added to a row of scores), so both sides hold float noise that AdamW
        // normalises into lr-sized steps in arbitrary directions.
        for (name, entry) in theirs.entries where !name.hasSuffix("key.bias") {
            let a = try ours.floats(name, shape: entry.shape), b = try theirs.floats(name, shape: entry.shape)
            let w = try initial.floats(name, shape: entry.shape)
            var dot = 0.0, na = 0.0, nb = 0.0
            for i in 0..<entry.elementCount {
                let da = Double(a.pointer[i] - w.pointer[i]), db = Double(b.pointer[i] - w.pointer[i])
                dot += da * db; na += da * da; nb += db * db
            }
            if nb == 0 { #expect(na == 0, "\(name) moved, torch's did not"); continue }
            #expect(dot / (na * nb).squareRoot() >= 0.995, "\(task) \(name): update cosine \(dot / (na * nb).squareRoot())")
        }
    }

    /// A caption row's own "prompt" trains exactly as --prompt does (here the option says
    /// something else and every row overrides it): the same losses as torch with the prompt.
    @Test func rowPromptsTrainAsTheOptionDoes() throws {
        let expected = TrainingFixtures.json("expected_steps_caption.json")
        let settings = expected["settings"] as! [String: Any]
        let losses = (expected["losses"] as! [NSNumber]).map(\.doubleValue)
        let dir = TrainingFixtures.temporaryDirectory("row-prompt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = TrainingFixtures.options(.caption, batchSize: settings["batch_size"] as! Int, out: dir + "/model")
        let prompt = try #require(settings["prompt"] as? String)
        let rows = try String(contentsOfFile: o.trainPath, encoding: .utf8).split(separator: "\n").map { line in
            var row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            row["image"] = TrainingFixtures.path(row["image"] as! String)
            row["prompt"] = prompt
            return String(decoding: try JSONSerialization.data(withJSONObject: row), as: UTF8.self)
        }
        o.trainPath = dir + "/rows.jsonl"
        try rows.joined(separator: "\n").write(toFile: o.trainPath, atomically: true, encoding: .utf8)
        o.maxSteps = settings["max_steps"] as? Int
        o.lr = (settings["lr"] as! NSNumber).floatValue
        o.weightDecay = (settings["weight_decay"] as! NSNumber).floatValue
        o.prompt = "an image showing"
        var reported: [Double] = []
        _ = try Finetuner(options: o).run(onProgress: { reported.append($0.loss) })
        #expect(reported.count == losses.count)
        for (i, (ours, theirs)) in zip(reported, losses).enumerated() {
            #expect(abs(ours - theirs) / abs(theirs) < 2e-4, "step \(i + 1): \(ours) vs torch \(theirs)")
        }
    }
}
