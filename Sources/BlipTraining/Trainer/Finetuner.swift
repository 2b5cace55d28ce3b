import BlipCore
import BlipData
import BlipKernels
import Glibc

/// `blip finetune`: loads a model (or a config), a manifest, and runs the training loop with
/// progress, logging, checkpoints, evaluation and an atomic Hugging Face output directory.
public final class Finetuner {
    public let options: FinetuneOptions
    let source: ModelSource
    let model: TrainingModel
    let manifest: Manifest
    let encoded: [EncodedRow]
    let encoding: TextEncoding
    let preprocessor: ImagePreprocessor
    let tokenizer: BertTokenizer
    let optimizer: AdamW
    let threads: Int
    /// Frozen vision states by manifest row (only with the encoder frozen and augmentation off).
    private var visionCache: [Int: [Float]] = [:]
    private var visionCacheBytes = 0
    /// Manifest lines whose image failed to load (each reported once).
    private var failedLines: Set<Int> = []

    /// Reports for the caller (stderr in the CLI): skipped rows, resumes, evaluations.
    public var report: (String) -> Void = { _ in }

    public init(options: FinetuneOptions) throws {
        try options.validate()
        self.options = options
        do { try Blas.load() } catch { throw BlipError(.internalError, error.message) }
        threads = options.threads > 0 ? options.threads : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        try Self.checkWritable(output: options.outPath)
        source = try ModelSource(options: options)
        let config = source.config
        tokenizer = try BertTokenizer.load(directory: source.folder)
        preprocessor = ImagePreprocessor(config: try PreprocessorConfig.load(directory: source.folder))
        model = try TrainingModel(task: options.task, config: config)
        if let weights = source.weightsPath {
            try model.store.load(from: try SafetensorsFile(path: weights), skipping: [TrainingModel.temperatureName])
        } else {
            RandomInitialization.apply(model.store, seed: options.seed, vision: options.visionInit, visionConfig: config.vision)
        }
        switch options.freeze {
        case .none: break
        case .vision: model.store.freeze(prefixes: ["vision_model."])
        case .text: model.store.freeze(prefixes: ["text_encoder.", "text_decoder."])
        }
        guard model.store.trainableCount > 0 else { throw BlipError.invalidArgument("--freeze leaves nothing to train") }
        model.store.prepareGradients()
        let manifestTask: ManifestTask = options.task == .vqa ? .vqa : (options.task == .caption ? .caption : .match)
        manifest = try Manifest.read(path: options.trainPath, task: manifestTask, strict: options.strict)
        let encoding = TextEncoding(task: options.task, tokenizer: tokenizer, prompt: options.prompt,
                                maxTextLength: min(options.maxTextLength, config.text.maxPositionEmbeddings),
                                maxAnswerLength: min(10, config.text.maxPositionEmbeddings),
                                bos: Int32(clamping: config.text.bosTokenId), vocabSize: config.text.vocabSize)
        self.encoding = encoding
        encoded = try manifest.rows.map { try encoding.encode($0) }
        optimizer = AdamW(parameterCount: model.store.gradientCount, weightDecay: options.weightDecay)
    }

    /// Fails before any training when the output directory could not be created: its parent
    /// must be a writable directory.
    static func checkWritable(output: String) throws {
        let trimmed = output.hasSuffix("/") && output.count > 1 ? String(output.dropLast()) : output
        let parent = trimmed.lastIndex(of: "/").map { $0 == trimmed.startIndex ? "/" : String(trimmed[..<$0]) } ?? "."
        var st = stat()
        guard stat(parent, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw BlipError.io("\(output): cannot create (\(parent) is not a directory)")
        }
        guard access(parent, W_OK) == 0 else { throw BlipError.io("\(output): cannot create (\(parent) is not writable)") }
        if stat(trimmed, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR {
            throw BlipError.io("\(output) exists and is not a directory")
        }
    }

    public var parameterCount: Int { model.store.parameterCount }
    public var trainableParameterCount: Int { model.store.trainableCount }
    public var manifestProblems: [ManifestProblem] { manifest.problems }

    // MARK: plan

    var microBatchesPerEpoch: Int { (manifest.rows.count + options.batchSize - 1) / options.batchSize }
    var stepsPerEpoch: Int { (microBatchesPerEpoch + options.gradAccum - 1) / options.gradAccum }
    public var totalSteps: Int { options.maxSteps ?? options.epochs * stepsPerEpoch }
    /// The step this run ends after: the schedule's last, or `stopAfter` when that comes first.
    /// Not part of the fingerprint: a stopped stage's checkpoint resumes under any stop.
    public var lastStep: Int { min(totalSteps, options.stopAfter ?? .max) }

    /// The settings a checkpoint must share with the run resuming it.
    var fingerprint: String {
        let o = options
        return [o.task.rawValue, o.trainPath, String(manifest.rows.count), String(o.batchSize), String(o.gradAccum),
                String(totalSteps), "\(o.lr)", "\(o.minLR)", "\(o.weightDecay)", String(o.warmupSteps), o.schedule.rawValue,
                "\(o.clipNorm)", "\(o.labelSmoothing)", o.prompt ?? "", String(o.maxTextLength), o.freeze.rawValue,
                o.augment.rawValue, String(o.shuffle), String(o.seed)].joined(separator: "|")
    }

    /// A stream seed for (purpose, a, b) derived from the run's seed.
    func derivedSeed(_ purpose: UInt64, _ a: Int, _ b: Int = 0) -> UInt64 {
        var r = SeededRandom(seed: options.seed &* 0x9E37_79B9_7F4A_7C15 ^ purpose &+ UInt64(truncatingIfNeeded: a) &* 0xBF58_476D_1CE4_E5B9
                             ^ UInt64(truncatingIfNeeded: b))
        return r.next()
    }

    // MARK: run

    /// Trains to the end (or until `shouldAbort` returns true: BlipError.aborted, with the last
    /// checkpoint kept). `onProgress` is called after every optimizer step.
    /// Runs with `options.threads` as the parallelism of every kernel (loaded models keep theirs).
    public func run(onProgress: (FinetuneProgress) -> Void = { _ in },
                    onEvaluation: (FinetuneEvaluation) -> Void = { _ in },
                    shouldAbort: () -> Bool = { false }) throws -> FinetuneSummary {
        try Parallel.withThreads(threads) {
            try train(onProgress: onProgress, onEvaluation: onEvaluation, shouldAbort: shouldAbort)
        }
    }

    private func train(onProgress: (FinetuneProgress) -> Void, onEvaluation: (FinetuneEvaluation) -> Void,
                       shouldAbort: () -> Bool) throws -> FinetuneSummary {
        let total = totalSteps, last = lastStep
        let schedule = LearningRateSchedule(shape: options.schedule, lr: options.lr, minLR: options.minLR,
                                            warmup: options.warmupSteps, total: total)
        let checkpointPath = Checkpoint.path(forOutput: options.outPath)
        var step = 0
        if options.resume {
            if access(checkpointPath, F_OK) == 0 {
                step = try Checkpoint.load(model, optimizer: optimizer, fingerprint: fingerprint, from: checkpointPath)
                report("resuming from \(checkpointPath) after step \(step) of \(total)")
            } else {
                report("--resume: no checkpoint at \(checkpointPath); starting from the beginning")
            }
        }
        let validation = try options.valPath.map { try Evaluator(finetuner: self, path: $0) }
        let log = try options.logPath.map { try LogFile(path: $0, resumingAfter: options.resume ? step : 0) }
        var lastLoss = Double.nan, best: FinetuneEvaluation?
        var loader: (epoch: Int, loader: EpochLoader)?
        let started = monotonicSeconds()
        let firstStep = step
        var samples = 0, trainedSamples = 0
        while step < last {
            step += 1
            let epoch = (step - 1) / stepsPerEpoch
            let stepInEpoch = (step - 1) % stepsPerEpoch
            if loader?.epoch != epoch {
                loader = (epoch, EpochLoader(finetuner: self, epoch: epoch, firstMicroBatch: stepInEpoch * options.gradAccum))
            }
            guard let epochLoader = loader?.loader else { break }
            let firstMicro = stepInEpoch * options.gradAccum
            let micros = min(options.gradAccum, microBatchesPerEpoch - firstMicro)
            let stepStarted = monotonicSeconds()
            model.store.zeroGradients()
            var random = SeededRandom(seed: derivedSeed(2, step))
            var lossSum = 0.0, itcSum = 0.0, itmSum = 0.0, counted = 0
            for _ in 0..<micros {
                if shouldAbort() { throw BlipError(.aborted, "finetune aborted at step \(step) of \(total)") }
                guard let batch = try nextBatch(epochLoader) else { continue }
                let r = try model.forwardBackward(batch, lossScale: 1 / Float(micros), smoothing: options.labelSmoothing,
                                                  random: &random)
                lossSum += r.loss; itcSum += r.contrastive; itmSum += r.matching
                counted += 1
                samples += batch.size
                trainedSamples += batch.size
            }
            let norm = clipGradientNorm(model.store, maxNorm: options.clipNorm)
            let lr = schedule.rate(atStep: step)
            optimizer.update(model.store, lr: lr)
            lastLoss = counted > 0 ? lossSum / Double(counted) : .nan
            let elapsed = monotonicSeconds() - started
            let perStep = elapsed / Double(step - firstStep)
            let progress = FinetuneProgress(step: step, totalSteps: total, epoch: epoch, loss: lastLoss, lr: lr,
                                            samplesPerSecond: elapsed > 0 ? Double(samples) / elapsed : 0,
                                            etaSeconds: perStep * Double(last - step),
                                            contrastiveLoss: options.task == .match ? itcSum / Double(max(counted, 1)) : nil,
                                            matchingLoss: options.task == .match ? itmSum / Double(max(counted, 1)) : nil,
                                            gradientNorm: norm, stepSeconds: monotonicSeconds() - stepStarted)
            try log?.write(progress)
            onProgress(progress)
            if step < last && shouldAbort() { throw BlipError(.aborted, "finetune aborted after step \(step) of \(total)") }
            if options.saveEvery > 0 && step % options.saveEvery == 0 && step < last {
                try Checkpoint.save(model, optimizer: optimizer, step: step, fingerprint: fingerprint, to: checkpointPath)
            }
            let endOfEpoch = stepInEpoch == stepsPerEpoch - 1 || step == last
            if endOfEpoch, let validation {
                let evaluation = try validation.evaluate(epoch: epoch, step: step)
                try log?.write(evaluation)
                onEvaluation(evaluation)
                if best.map({ evaluation.loss.isFinite && (!$0.loss.isFinite || evaluation.loss < $0.loss) }) ?? true {
                    best = evaluation
                    try source.writeModel(model, to: options.outPath)
                    report("epoch \(epoch): new best validation loss \(formatted(evaluation.loss)); wrote \(options.outPath)")
                }
            }
        }
        guard trainedSamples > 0 || step == firstStep else {
            throw BlipError.imageFormat("\(options.trainPath): no training image could be loaded (\(failedLines.count) failed); nothing was written")
        }
        if validation == nil { try source.writeModel(model, to: options.outPath) }
        if access(checkpointPath, F_OK) == 0 { unlink(checkpointPath) }
        return FinetuneSummary(steps: step, finalLoss: lastLoss, skippedRows: failedLines.count + manifest.problems.count,
                               bestEvaluation: best, outPath: options.outPath)
    }

    /// The next micro-batch with its text, or nil when every image in it failed to load.
    private func nextBatch(_ loader: EpochLoader) throws -> TrainingBatch? {
        guard let loaded = loader.next() else { return nil }
        for failure in loaded.failures {
            if options.strict { throw BlipError.imageFormat("\(failure)") }
            // Reported once: the same image fails the same way every epoch.
            if failedLines.insert(failure.line).inserted { report("skipping \(failure)") }
        }
        let rows = loaded.images.map(\.row)
        guard !rows.isEmpty else { return nil }
        var batch = TrainingBatch(pixels: [], size: rows.count, encoded: encoding.batch(rows.map { encoded[$0] }),
                                  imageIds: rows.map { manifest.rows[$0].imageId })
        if cachesVisionStates {
            batch.imageStates = try cachedStates(loaded)
        } else {
            batch.pixels.reserveCapacity(loaded.images.reduce(0) { $0 + $1.pixels.count })
            for image in loaded.images { batch.pixels.append(contentsOf: image.pixels) }
        }
        return batch
    }

    /// With the vision encoder frozen and no augmentation, each image's states never change.
    var cachesVisionStates: Bool { !model.visionTrainable && options.augment == .none }

    private func cachedStates(_ loaded: LoadedBatch) throws -> [Float] {
        let per = model.vision.tokens * model.vision.width
        var out = [Float](repeating: 0, count: loaded.images.count * per)
        for (i, image) in loaded.images.enumerated() {
            if let hit = visionCache[image.row] {
                out.replaceSubrange((i * per)..<((i + 1) * per), with: hit)
                continue
            }
            var states = [Float](repeating: 0, count: per)
            try states.withUnsafeMutableBufferPointer { try model.encodeFrozen(image.pixels, count: 1, into: $0.baseAddress!) }
            out.replaceSubrange((i * per)..<((i + 1) * per), with: states)
            if visionCacheBytes + per * 4 <= options.visionCacheBytes {
                visionCache[image.row] = states
                visionCacheBytes += per * 4
            }
        }
        return out
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func formatted(_ x: Double) -> String {
    guard x.isFinite else { return String(x) }
    let scaled = (x * 10000).rounded() / 10000
    return String(scaled)
}

extension Finetuner {
    /// Zeroes the gradients and runs forward + backward on the first micro-batch of epoch 0
    /// (tests compare the resulting gradients with torch autograd's).
    func gradientsOfFirstBatch(negatives: FixedNegatives? = nil) throws -> StepLoss {
        model.store.zeroGradients()
        guard let batch = try nextBatch(EpochLoader(finetuner: self, epoch: 0, firstMicroBatch: 0)) else {
            throw BlipError.invalidArgument("the first batch has no loadable rows")
        }
        var random = SeededRandom(seed: derivedSeed(2, 1))
        return try model.forwardBackward(batch, lossScale: 1, smoothing: options.labelSmoothing, random: &random, negatives: negatives)
    }
}
