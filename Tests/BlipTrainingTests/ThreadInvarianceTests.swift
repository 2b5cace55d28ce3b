import Foundation
import Testing
@testable import BlipKernels
@testable import BlipTraining

/// A training run's weights do not depend on its thread count: every split GEMM is whole
/// OpenBLAS calls on blocks of C (Blas.sgemm), and every other split kernel sums each output
/// in one order. So `scripts/train_scene_models.py` gives the same models with any
/// `--threads`, and experiments can run side by side on one thread each.
///
/// The fixture models are too small for any GEMM to be split, so these runs train from
/// scratch a config widened until the LM head, the vision layers and the cross-attention
/// keys and values pass `Blas.parallelMinimumWork` twice over (checked below).
@Suite struct ThreadInvarianceTests {
    static let width = 64, vocab = 8192, imageSize = 64, patch = 8

    /// The fixture's config for `model`, widened; tokenizer and preprocessor files beside it.
    static func widenedConfig(_ model: String, in dir: String) throws -> String {
        let source = TrainingFixtures.path("models/" + model)
        let folder = dir + "/config-" + model
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: folder + "/" + name)
        }
        var pre = TrainingFixtures.json("models/\(model)/preprocessor_config.json")
        pre["size"] = ["height": imageSize, "width": imageSize]
        try JSONSerialization.data(withJSONObject: pre).write(to: URL(fileURLWithPath: folder + "/preprocessor_config.json"))
        var config = TrainingFixtures.json("models/\(model)/config.json")
        var text = config["text_config"] as! [String: Any], vision = config["vision_config"] as! [String: Any]
        text["hidden_size"] = width; text["intermediate_size"] = 4 * width; text["vocab_size"] = vocab
        text["encoder_hidden_size"] = width
        vision["hidden_size"] = width; vision["intermediate_size"] = 4 * width
        vision["image_size"] = imageSize; vision["patch_size"] = patch; vision["initializer_range"] = 0.02
        config["text_config"] = text; config["vision_config"] = vision; config["image_text_hidden_size"] = width
        let path = folder + "/config.json"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func weights(_ task: FinetuneTask, threads: Int, in dir: String) throws -> Data {
        let out = dir + "/\(threads)/out"
        var o = TrainingFixtures.options(task, batchSize: 8, out: out)
        o.modelPath = nil; o.configPath = try widenedConfig(task.rawValue, in: dir + "/\(threads)")
        o.maxSteps = 3; o.lr = 1e-3; o.visionInit = .mimetic; o.threads = threads
        o.clipNorm = 0.01   // always clips: the global norm's sum must not depend on the threads either
        _ = try Finetuner(options: o).run()
        return try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
    }

    @Test func theWidenedConfigSplitsItsGemms() {
        let visionTokens = (Self.imageSize / Self.patch) * (Self.imageSize / Self.patch) + 1
        let rows = 8 * visionTokens
        // LM head (8 captions of at least 4 counted tokens), the vision QKV, cross-attention K/V.
        for work in [8 * 4 * Self.vocab * Self.width, rows * Self.width * 3 * Self.width, rows * Self.width * Self.width] {
            #expect(work >= 2 * Blas.parallelMinimumWork)
        }
    }

    @Test(arguments: [FinetuneTask.caption, .vqa, .match])
    func sameWeightsOnOneAndTwoThreads(task: FinetuneTask) throws {
        let dir = TrainingFixtures.temporaryDirectory("threads-\(task.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let one = try Self.weights(task, threads: 1, in: dir)
        let two = try Self.weights(task, threads: 2, in: dir)
        #expect(one.count > 100_000)
        // A Bool, not `one == two`: a failing Data comparison would be diffed byte by byte.
        let identical = one == two
        #expect(identical, "\(task.rawValue): weights trained on 1 and 2 threads differ")
    }
}
