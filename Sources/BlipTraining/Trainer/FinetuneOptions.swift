import BlipData

/// Everything `blip finetune` / `blip_finetune` / `blip.finetune` take (interface.md), with
/// its documented defaults.
public struct FinetuneOptions: Sendable {
    public enum Freeze: String, Sendable { case none, vision, text }
    /// `normal`: transformers' N(0, 0.02); `mimetic`: attention that starts local (see
    /// `RandomInitialization.mimeticVision`), for ViTs trained from scratch on little data.
    public enum VisionInitialization: String, Sendable, CaseIterable { case normal, mimetic }

    public var task: FinetuneTask
    /// A Hugging Face model directory to start from, or nil with `configPath` (from scratch).
    public var modelPath: String?
    /// A config.json to train from scratch; tokenizer and preprocessor files come from its folder.
    public var configPath: String?
    public var trainPath: String
    public var valPath: String?
    public var outPath: String
    public var epochs = 1
    /// Optimizer steps to run in all (overrides `epochs` when set).
    public var maxSteps: Int?
    /// End after this many optimizer steps of the schedule that `epochs`/`maxSteps` set, writing
    /// the model as a finished run would: one stage of a longer schedule (the learning rate where
    /// that schedule has it, not decayed to `minLR`). nil = the whole schedule.
    public var stopAfter: Int?
    public var batchSize = 8
    public var gradAccum = 1
    public var lr: Float = 1e-5
    public var minLR: Float = 0
    public var weightDecay: Float = 0.05
    public var warmupSteps = 0
    public var schedule: LearningRateSchedule.Shape = .cosine
    /// Global-norm gradient clipping; 0 = off.
    public var clipNorm: Float = 0
    public var labelSmoothing: Float = 0.1
    public var prompt: String?
    public var maxTextLength = 40
    public var freeze: Freeze = .none
    /// How the vision encoder starts when training from `--config` (no effect with `--model`).
    public var visionInit: VisionInitialization = .normal
    public var augment: Augmentation = .crop
    public var shuffle = true
    public var seed: UInt64 = 0
    /// Write a resumable checkpoint every N optimizer steps; 0 = never.
    public var saveEvery = 0
    public var resume = false
    public var logPath: String?
    public var threads = 0
    public var strict = false
    /// Budget for the frozen vision encoder's cached states (bytes).
    public var visionCacheBytes = 2 << 30

    public init(task: FinetuneTask, modelPath: String?, configPath: String? = nil, trainPath: String, outPath: String) {
        self.task = task
        self.modelPath = modelPath
        self.configPath = configPath
        self.trainPath = trainPath
        self.outPath = outPath
    }

    /// Throws a message naming the first invalid option.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw BlipError.invalidArgument(message) } }
        try check((modelPath == nil) != (configPath == nil), "give exactly one of --model DIR or --config CONFIG.json")
        try check(epochs >= 1 && epochs <= 100_000, "--epochs must be between 1 and 100000")
        try check(maxSteps.map { $0 >= 1 && $0 <= 100_000_000 } ?? true, "--max-steps must be at least 1")
        try check(stopAfter.map { $0 >= 1 && $0 <= 100_000_000 } ?? true, "--stop-after must be at least 1")
        try check(batchSize >= 1 && batchSize <= 4096, "--batch-size must be between 1 and 4096")
        try check(gradAccum >= 1 && gradAccum <= 4096, "--grad-accum must be between 1 and 4096")
        try check(lr.isFinite && lr >= 0 && lr < 10, "--lr must be a finite number in [0, 10)")
        try check(minLR.isFinite && minLR >= 0 && minLR <= lr, "--min-lr must be in [0, lr]")
        try check(weightDecay.isFinite && weightDecay >= 0 && weightDecay < 10, "--weight-decay must be in [0, 10)")
        try check(warmupSteps >= 0, "--warmup-steps must not be negative")
        try check(clipNorm.isFinite && clipNorm >= 0, "--clip-norm must be a non-negative number")
        try check(labelSmoothing.isFinite && labelSmoothing >= 0 && labelSmoothing <= 1, "--label-smoothing must be in [0, 1]")
        try check(maxTextLength >= 3 && maxTextLength <= 512, "--max-text-length must be between 3 and 512")
        try check(saveEvery >= 0, "--save-every must not be negative")
        try check(threads >= 0 && threads <= 1024, "--threads must be between 0 and 1024")
        try check(!outPath.isEmpty, "--out must name a directory")
    }
}

import BlipCore
import Foundation
