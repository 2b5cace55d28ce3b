import Foundation
@testable import BlipCore
@testable import BlipTraining

/// The tiny training fixtures made by scripts/make_training_fixtures.py (transformers +
/// torch.optim.AdamW as the reference).
enum TrainingFixtures {
    static let root: String = Bundle.module.resourcePath! + "/Fixtures"
    static func path(_ name: String) -> String { root + "/" + name }

    static func json(_ name: String) -> [String: Any] {
        let data = try! Data(contentsOf: URL(fileURLWithPath: path(name)))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// The options the reference ran with: no augmentation, manifest order, constant lr.
    static func options(_ task: FinetuneTask, batchSize: Int, out: String) -> FinetuneOptions {
        var o = FinetuneOptions(task: task, modelPath: path("models/" + task.rawValue), trainPath: path(task.rawValue + ".jsonl"), outPath: out)
        o.augment = .none; o.shuffle = false; o.schedule = .constant; o.warmupSteps = 0
        o.batchSize = batchSize; o.labelSmoothing = 0.1; o.threads = 2
        if task == .caption { o.prompt = "a picture of" }
        return o
    }

    static func temporaryDirectory(_ tag: String) -> String {
        let dir = NSTemporaryDirectory() + "blip-train-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// max |a − b| / max(|b|, tiny) over a tensor: relative error of the whole tensor.
func relativeError(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
    var diff = 0.0, norm = 0.0
    for i in 0..<count {
        diff = max(diff, abs(Double(a[i]) - Double(b[i])))
        norm = max(norm, abs(Double(b[i])))
    }
    return norm > 0 ? diff / norm : diff
}
