import ArgumentParser
import BlipCore

/// Decoding flags shared by `caption` and `answer`; unset flags keep the preset's values.
struct GenerationFlags: ParsableArguments {
    @Option(help: "Start from a preset: \(GenerationOptions.presetNames.joined(separator: ", ")).")
    var preset: String = "hf"
    @Option(help: "Beam count (1 = greedy).") var beams: Int?
    @Option(name: .customLong("max-length"), help: "Maximum total length, counting [DEC] and the prompt (default: prompt + 20 new tokens, as transformers).")
    var maxLength: Int?
    @Option(name: .customLong("max-new-tokens"), help: "Maximum number of new tokens (overrides --max-length).")
    var maxNewTokens: Int?
    @Option(name: .customLong("min-length"), help: "Minimum total length before [SEP] may end the text.")
    var minLength: Int?
    @Flag(help: "Sample instead of searching.") var sample = false
    @Option(name: .customLong("top-k")) var topK: Int?
    @Option(name: .customLong("top-p")) var topP: Float?
    @Option var temperature: Float?
    @Option(name: .customLong("repetition-penalty")) var repetitionPenalty: Float?
    @Option(name: .customLong("length-penalty")) var lengthPenalty: Float?
    @Option(name: .customLong("no-repeat-ngram-size")) var noRepeatNgramSize: Int?
    @Option(help: "Seed for --sample (same seed, same text).") var seed: UInt64?

    func options() throws -> GenerationOptions {
        var o = try GenerationOptions.preset(named: preset)
        if let beams { o.numBeams = beams }
        if let maxLength { o.maxLength = maxLength }
        if let maxNewTokens { o.maxNewTokens = maxNewTokens }
        if let minLength { o.minLength = minLength }
        if sample { o.doSample = true }
        if let topK { o.topK = topK }
        if let topP { o.topP = topP }
        if let temperature { o.temperature = temperature }
        if let repetitionPenalty { o.repetitionPenalty = repetitionPenalty }
        if let lengthPenalty { o.lengthPenalty = lengthPenalty }
        if let noRepeatNgramSize { o.noRepeatNgramSize = noRepeatNgramSize }
        if let seed { o.seed = seed }
        return o
    }
}
