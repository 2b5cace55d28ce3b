/// Decoding parameters, with the meaning and defaults of transformers 5.24 `generate`.
///
/// Lengths count the whole sequence `generate` returns: `[DEC]`, the prompt and the new tokens.
/// `maxLength == nil` is transformers' "no max_length given" default: 20 new tokens
/// (prompt length + 20), capped at the position table (512 for BLIP). Note this is *not* a total
/// of 20: transformers 5 changed that default from the v4 behaviour.
public struct GenerationOptions: Sendable, Equatable {
    /// transformers `early_stopping`, which only matters for beam search.
    public enum EarlyStopping: Sendable, Equatable {
        /// `False` (default): stop when the heuristic says no running beam can beat the finished ones.
        case heuristic
        /// `True`: stop as soon as `numBeams` hypotheses are finished.
        case allBeamsFinished
        /// `"never"`: canonical beam search; only stop when no better hypothesis can exist.
        case never
    }

    /// Maximum total length (nil: prompt + 20, capped at the position table).
    public var maxLength: Int? = nil
    /// Maximum number of new tokens; takes precedence over `maxLength` (transformers `max_new_tokens`).
    public var maxNewTokens: Int? = nil
    /// The end-of-sequence token is forbidden while the total length is below this.
    public var minLength = 0
    public var numBeams = 1
    /// Multinomial sampling (with `numBeams > 1`: beam sampling).
    public var doSample = false
    /// Sampling only: logits are divided by this.
    public var temperature: Float = 1
    /// Sampling only: keep the `topK` most likely tokens (0 disables).
    public var topK = 50
    /// Sampling only: nucleus filtering (1 disables).
    public var topP: Float = 1
    /// Scores of tokens already in the sequence (prompt and `[DEC]` included) are divided by this
    /// (multiplied when negative). 1 disables.
    public var repetitionPenalty: Float = 1
    /// Beam search only: finished hypotheses score `sum_logprobs / new_tokens ** lengthPenalty`.
    public var lengthPenalty: Float = 1
    /// Forbid any n-gram of this size from occurring twice (0 disables).
    public var noRepeatNgramSize = 0
    public var earlyStopping: EarlyStopping = .heuristic
    /// Seed of the sampler's random generator: the same seed gives the same tokens.
    /// (The stream is libblip's own, so sampled tokens differ from torch's.)
    public var seed: UInt64 = 0

    public init() {}

    public init(maxLength: Int? = nil, maxNewTokens: Int? = nil, minLength: Int = 0, numBeams: Int = 1,
                doSample: Bool = false, temperature: Float = 1, topK: Int = 50, topP: Float = 1,
                repetitionPenalty: Float = 1, lengthPenalty: Float = 1, noRepeatNgramSize: Int = 0,
                earlyStopping: EarlyStopping = .heuristic, seed: UInt64 = 0) {
        self.maxLength = maxLength
        self.maxNewTokens = maxNewTokens
        self.minLength = minLength
        self.numBeams = numBeams
        self.doSample = doSample
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.lengthPenalty = lengthPenalty
        self.noRepeatNgramSize = noRepeatNgramSize
        self.earlyStopping = earlyStopping
        self.seed = seed
    }

    /// transformers' defaults for BLIP (no generation_config keys set): greedy, 20 new tokens.
    public static let hf = GenerationOptions()

    /// The BLIP paper's caption evaluation (COCO / NoCaps, Salesforce `caption_coco.yaml`, the
    /// demo): beam search, 3 beams, total length 5...20. Use it with the prompt "a picture of".
    public static let paper = GenerationOptions(maxLength: 20, minLength: 5, numBeams: 3)

    /// The BLIP paper's VQA generation (Salesforce `blip_vqa.py`): beam 3, total length 1...10.
    public static let paperVQA = GenerationOptions(maxLength: 10, minLength: 1, numBeams: 3)

    /// CapFilt's synthetic captions (Salesforce `BLIP_Decoder.generate(sample=True)`): nucleus
    /// sampling top-p 0.9, the hard-coded repetition penalty 1.1, and top-k 50 (transformers'
    /// default that the original inherits because it does not pass top_k). Lengths 5...20 as in
    /// the Salesforce demo (the function's own defaults are 10...30).
    public static let capfilt = GenerationOptions(maxLength: 20, minLength: 5, doSample: true, topK: 50, topP: 0.9,
                                                  repetitionPenalty: 1.1)
}
