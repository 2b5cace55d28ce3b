import ArgumentParser
import BlipCore
import BlipData
import BlipTraining
import Foundation

/// `blip finetune`: trains a captioner, a VQA model or an ITM/ITC filter on a JSONL manifest
/// and writes a Hugging Face directory (interface.md).
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Finetune a BLIP model (caption, vqa, or match = the ITM/ITC filter) on a JSONL manifest; writes a Hugging Face model directory.")

    @Option(help: "caption, vqa or match.") var task: String
    @Option(help: "Model directory to start from (Hugging Face layout).") var model: String?
    @Option(help: "config.json to train from scratch (tokenizer and preprocessor files beside it).") var config: String?
    @Option(help: "Training manifest (JSONL; image paths relative to its folder).") var train: String
    @Option(help: "Output model directory (replaced atomically when the run ends).") var out: String
    @Option(help: "Validation manifest, evaluated after every epoch; the best epoch is kept.") var val: String?
    @Option(help: "Epochs (default 1).") var epochs: Int = 1
    @Option(name: .customLong("max-steps"), help: "Optimizer steps in all (overrides --epochs).") var maxSteps: Int?
    @Option(name: .customLong("stop-after"),
            help: "End after N optimizer steps of that schedule, the learning rate not decayed: one stage of a longer run.")
    var stopAfter: Int?
    @Option(name: .customLong("batch-size"), help: "Rows per micro-batch (default 8).") var batchSize: Int = 8
    @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step (default 1).") var gradAccum: Int = 1
    @Option(help: "Peak learning rate (default 1e-5).") var lr: Float = 1e-5
    @Option(name: .customLong("min-lr"), help: "Final learning rate of the cosine schedule (default 0).") var minLR: Float = 0
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay (default 0.05).") var weightDecay: Float = 0.05
    @Option(name: .customLong("warmup-steps"), help: "Linear warmup steps (default 0).") var warmupSteps: Int = 0
    @Option(help: "cosine (default) or constant.") var schedule: String = "cosine"
    @Option(name: .customLong("clip-norm"), help: "Clip the global gradient norm to this value (default: off).") var clipNorm: Float = 0
    @Option(name: .customLong("label-smoothing"), help: "LM label smoothing (default 0.1, as BLIP trains).") var labelSmoothing: Float = 0.1
    @Option(help: "Caption prompt prepended to every caption, e.g. \"a picture of\".") var prompt: String?
    @Option(name: .customLong("max-text-length"), help: "Token limit for texts and questions (default 40).") var maxTextLength: Int = 40
    @Option(help: "Freeze vision, text or none (default none).") var freeze: String = "none"
    @Option(name: .customLong("vision-init"),
            help: "With --config: how the ViT starts, normal (transformers' N(0, 0.02)) or mimetic (attention that starts local; learns object shape from far fewer images). Default normal.")
    var visionInit: String = "normal"
    @Option(help: "none, crop (default) or crop-flip.") var augment: String = "crop"
    @Flag(inversion: .prefixedNo, help: "Shuffle rows each epoch (default on).") var shuffle = true
    @Option(help: "Seed for shuffling, crops, negatives and dropout (default 0).") var seed: UInt64 = 0
    @Option(name: .customLong("save-every"), help: "Write a resumable checkpoint every N steps (default: never).") var saveEvery: Int = 0
    @Flag(help: "Resume from OUT.checkpoint.safetensors when it exists.") var resume = false
    @Option(help: "Write one JSON line per optimizer step to this file.") var log: String?
    @Option(help: "Threads (0 = all cores).") var threads: Int = 0
    @Flag(help: "Stop at the first bad manifest row or unreadable image instead of skipping it.") var strict = false
    @Flag(help: "No progress line on stderr.") var quiet = false

    func run() throws {
        do {
            try runFinetune()
        } catch let e as BlipError {
            reportError(e.message)
            throw ExitCode(2)
        }
    }

    private func runFinetune() throws {
        guard let task = FinetuneTask(rawValue: task) else { throw BlipError.invalidArgument("--task must be caption, vqa or match, not '\(task)'") }
        var o = FinetuneOptions(task: task, modelPath: model, configPath: config, trainPath: train, outPath: out)
        o.valPath = val; o.epochs = epochs; o.maxSteps = maxSteps; o.stopAfter = stopAfter; o.batchSize = batchSize; o.gradAccum = gradAccum
        o.lr = lr; o.minLR = minLR; o.weightDecay = weightDecay; o.warmupSteps = warmupSteps
        guard let shape = LearningRateSchedule.Shape(rawValue: schedule) else {
            throw BlipError.invalidArgument("--schedule must be cosine or constant, not '\(schedule)'")
        }
        o.schedule = shape
        o.clipNorm = clipNorm; o.labelSmoothing = labelSmoothing; o.prompt = prompt; o.maxTextLength = maxTextLength
        guard let f = FinetuneOptions.Freeze(rawValue: freeze) else { throw BlipError.invalidArgument("--freeze must be vision, text or none, not '\(freeze)'") }
        o.freeze = f
        guard let v = FinetuneOptions.VisionInitialization(rawValue: visionInit) else {
            throw BlipError.invalidArgument("--vision-init must be normal or mimetic, not '\(visionInit)'")
        }
        guard v == .normal || config != nil else { throw BlipError.invalidArgument("--vision-init applies to --config (training from scratch), not to --model") }
        o.visionInit = v
        guard let a = Augmentation(rawValue: augment) else { throw BlipError.invalidArgument("--augment must be none, crop or crop-flip, not '\(augment)'") }
        o.augment = a
        o.shuffle = shuffle; o.seed = seed; o.saveEvery = saveEvery; o.resume = resume; o.logPath = log
        o.threads = threads; o.strict = strict

        let stderr = FileHandle.standardError
        let finetuner = try Finetuner(options: o)
        finetuner.report = { stderr.write(Data("blip finetune: \($0)\n".utf8)) }
        for p in finetuner.manifestProblems { finetuner.report("skipping \(p)") }
        finetuner.report("\(task.rawValue): \(finetuner.trainableParameterCount) of \(finetuner.parameterCount) parameters trainable, \(finetuner.totalSteps) steps"
                         + (finetuner.lastStep < finetuner.totalSteps ? " (stopping after \(finetuner.lastStep))" : ""))
        let summary = try finetuner.run(onProgress: { p in
            guard !quiet else { return }
            let line = "step \(p.step)/\(p.totalSteps)  epoch \(p.epoch)  loss \(fmt(p.loss, 4))  lr \(String(format: "%.3g", Double(p.lr)))  \(fmt(p.samplesPerSecond, 2)) samples/s  ETA \(duration(p.etaSeconds))"
            stderr.write(Data("\r\(line)\u{1B}[K".utf8))
            if p.step == finetuner.lastStep { stderr.write(Data("\n".utf8)) }
        }, onEvaluation: { e in
            let metrics = e.metrics.map { "\($0.0) \(fmt($0.1, 4))" }.joined(separator: "  ")
            stderr.write(Data("\nepoch \(e.epoch) validation: loss \(fmt(e.loss, 4))  \(metrics)\n".utf8))
        })
        finetuner.report("wrote \(summary.outPath) after \(summary.steps) steps (final loss \(fmt(summary.finalLoss, 4)))")
    }
}

private func fmt(_ x: Double, _ digits: Int) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "nan" }

private func duration(_ s: Double) -> String {
    guard s.isFinite, s >= 0 else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : (t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s")
}
