import BlipCore

/// Settings of a CapFilt run (the `blip capfilt` flags).
public struct CapFiltOptions: Sendable {
    /// Synthetic captions sampled per image (BLIP: 1).
    public var captionsPerImage = 1
    /// A text is kept when the filter's ITM match probability is at least this (BLIP's released
    /// data: 0.5).
    public var threshold: Float = 0.5
    /// Decoding of synthetic captions; `seed` is replaced per caption by `CaptionSeed`.
    public var generation: GenerationOptions = .capfilt
    /// Text every synthetic caption starts from (a captioner finetuned with `--prompt` expects
    /// it, as BLIP's does "a picture of "); it is not part of the caption the filter scores or
    /// the record holds, as BLIP strips it. nil: none.
    public var prompt: String?
    /// Run seed: with the sample key and caption index it gives each caption's sampler seed.
    public var seed: UInt64 = 0
    /// Pairs read and processed together (bounds memory; results do not depend on it).
    public var batchSize = 8
    /// Skip outputs that already exist (finished shards); otherwise existing outputs are an error.
    public var resume = false
    /// Images above this many pixels are rejected before decoding (ImageDecoder's limit).
    public var maxImagePixels = ImageDecoder.maxPixels
    /// Members and image files above this many bytes are rejected unread.
    public var maxFileBytes = ImageDecoder.maxFileBytes

    public init() {}

    public func validate() throws {
        guard (1...64).contains(captionsPerImage) else {
            throw BlipError.invalidArgument("captions per image must be 1...64 (got \(captionsPerImage))")
        }
        guard threshold.isFinite, (0...1).contains(threshold) else {
            throw BlipError.invalidArgument("the threshold must be a probability in [0, 1] (got \(threshold))")
        }
        if let prompt { try BlipModel.checkCaptionPrompt(prompt) }
        guard (1...4096).contains(batchSize) else {
            throw BlipError.invalidArgument("the batch size must be 1...4096 (got \(batchSize))")
        }
    }
}
