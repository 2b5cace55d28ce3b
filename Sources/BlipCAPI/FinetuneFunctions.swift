import BlipCore
import BlipData
import BlipTraining
import CBlip

@_cdecl("blip_finetune_default_params")
public func blip_finetune_default_params() -> blip_finetune_params {
    // One source of truth for the defaults: FinetuneOptions (= the CLI's and interface.md's).
    let o = FinetuneOptions(task: .caption, modelPath: nil, trainPath: "", outPath: "")
    var p = blip_finetune_params()
    p.size = MemoryLayout<blip_finetune_params>.size
    p.epochs = Int32(clamping: o.epochs)
    p.max_steps = Int32(clamping: o.maxSteps ?? 0)
    p.batch_size = Int32(clamping: o.batchSize)
    p.grad_accum = Int32(clamping: o.gradAccum)
    p.lr = o.lr
    p.min_lr = o.minLR
    p.weight_decay = o.weightDecay
    p.warmup_steps = Int32(clamping: o.warmupSteps)
    p.schedule = o.schedule == .cosine ? staticCString("cosine") : staticCString("constant")
    p.clip_norm = o.clipNorm
    p.label_smoothing = o.labelSmoothing
    p.max_text_length = Int32(clamping: o.maxTextLength)
    switch o.freeze {
    case .none: p.freeze = staticCString("none")
    case .vision: p.freeze = staticCString("vision")
    case .text: p.freeze = staticCString("text")
    }
    switch o.augment {
    case .none: p.augment = staticCString("none")
    case .crop: p.augment = staticCString("crop")
    case .cropFlip: p.augment = staticCString("crop-flip")
    }
    p.shuffle = o.shuffle ? 1 : 0
    p.seed = o.seed
    p.save_every = Int32(clamping: o.saveEvery)
    p.resume = o.resume ? 1 : 0
    p.n_threads = Int32(clamping: o.threads)
    p.strict = o.strict ? 1 : 0
    return p
}

/// An optional UTF-8 string field (NULL = nil).
private func optionalString(_ pointer: UnsafePointer<CChar>?, _ name: String) throws -> String? {
    guard let pointer else { return nil }
    return try utf8String(pointer, name)
}

/// An enumerated string field: NULL = the default, otherwise one of the raw values.
private func choice<T: RawRepresentable>(_ pointer: UnsafePointer<CChar>?, _ name: String, _ allowed: String,
                                         default value: T) throws -> T where T.RawValue == String {
    guard let s = try optionalString(pointer, name) else { return value }
    guard let v = T(rawValue: s) else { throw BlipError.invalidArgument("params->\(name) must be \(allowed), not '\(s)'") }
    return v
}

/// FinetuneOptions from C params: every field checked here or by FinetuneOptions.validate().
private func finetuneOptions(_ c: blip_finetune_params) throws -> FinetuneOptions {
    let taskName = try utf8String(c.task, "params->task")
    guard let task = FinetuneTask(rawValue: taskName) else {
        throw BlipError.invalidArgument("params->task must be caption, vqa or match, not '\(taskName)'")
    }
    let train = try utf8String(c.train, "params->train")
    let out = try utf8String(c.out, "params->out")
    guard !train.isEmpty else { throw BlipError.invalidArgument("params->train is empty") }
    guard !out.isEmpty else { throw BlipError.invalidArgument("params->out is empty") }
    let model = try optionalString(c.model, "params->model")
    let config = try optionalString(c.config, "params->config")
    guard (model == nil) != (config == nil) else {
        throw BlipError.invalidArgument("set exactly one of params->model (a model directory) and params->config (a config.json)")
    }
    var o = FinetuneOptions(task: task, modelPath: model, configPath: config, trainPath: train, outPath: out)
    o.valPath = try optionalString(c.val, "params->val")
    o.epochs = Int(c.epochs)
    guard c.max_steps >= 0 else { throw BlipError.invalidArgument("params->max_steps must be positive, or 0 to run by epochs (got \(c.max_steps))") }
    o.maxSteps = c.max_steps > 0 ? Int(c.max_steps) : nil
    o.batchSize = Int(c.batch_size)
    o.gradAccum = Int(c.grad_accum)
    o.lr = c.lr
    o.minLR = c.min_lr
    o.weightDecay = c.weight_decay
    o.warmupSteps = Int(c.warmup_steps)
    o.schedule = try choice(c.schedule, "schedule", "cosine or constant", default: o.schedule)
    o.clipNorm = c.clip_norm
    o.labelSmoothing = c.label_smoothing
    o.prompt = try optionalString(c.prompt, "params->prompt")
    o.maxTextLength = Int(c.max_text_length)
    o.freeze = try choice(c.freeze, "freeze", "none, vision or text", default: o.freeze)
    o.augment = try choice(c.augment, "augment", "none, crop or crop-flip", default: o.augment)
    o.shuffle = c.shuffle != 0
    o.seed = c.seed
    o.saveEvery = Int(c.save_every)
    o.resume = c.resume != 0
    o.logPath = try optionalString(c.log, "params->log")
    o.threads = Int(c.n_threads)
    o.strict = c.strict != 0
    // FinetuneOptions.validate names the CLI flags; the C caller sees the same messages.
    try o.validate()
    return o
}

@_cdecl("blip_finetune")
public func blip_finetune(_ p: UnsafePointer<blip_finetune_params>?) -> Int32 {
    guarded {
        guard let c = try sizedParams(p, "blip_finetune_params") else { throw BlipError.invalidArgument("params is NULL") }
        let options = try finetuneOptions(c)
        let shouldAbort: () -> Bool = {
            guard let abort = c.should_abort else { return false }
            return abort(c.abort_user_data) != 0
        }
        if shouldAbort() { throw BlipError(.aborted, "finetune aborted before it started") }
        let finetuner = try Finetuner(options: options)
        finetuner.report = { Log.info("finetune: \($0)") }
        for problem in finetuner.manifestProblems { Log.warn("finetune: skipping \(problem)") }
        Log.info("finetune: \(options.task.rawValue): \(finetuner.trainableParameterCount) of \(finetuner.parameterCount) parameters trainable, \(finetuner.totalSteps) steps")
        let summary = try finetuner.run(onProgress: { s in
            guard let callback = c.on_progress else { return }
            var progress = blip_finetune_progress(
                step: Int32(clamping: s.step), total_steps: Int32(clamping: s.totalSteps), epoch: Int32(clamping: s.epoch),
                loss: s.loss, lr: s.lr, samples_per_second: s.samplesPerSecond, eta_seconds: s.etaSeconds)
            callback(&progress, c.progress_user_data)
        }, onEvaluation: { e in
            let metrics = e.metrics.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
            Log.info("finetune: epoch \(e.epoch) validation: loss \(e.loss)\(metrics.isEmpty ? "" : ", " + metrics)")
        }, shouldAbort: shouldAbort)
        Log.info("finetune: wrote \(summary.outPath) after \(summary.steps) steps (final loss \(summary.finalLoss))")
        return BLIP_OK
    }
}
