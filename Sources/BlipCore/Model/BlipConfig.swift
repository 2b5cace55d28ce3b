import FoundationEssentials

/// The three BLIP task classes transformers saves.
public enum BlipArchitecture: String, Sendable {
    case captioning = "BlipForConditionalGeneration"
    case questionAnswering = "BlipForQuestionAnswering"
    case retrieval = "BlipForImageTextRetrieval"
}

/// Vision tower hyper-parameters (transformers `BlipVisionConfig`).
public struct VisionConfig: Sendable, Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var numChannels = 3
    public var imageSize = 384
    public var patchSize = 16
    public var layerNormEps: Float = 1e-5
    public var hiddenAct = "gelu"
    /// Dropout on the attention probabilities (training only; 0 in every published checkpoint).
    public var attentionDropout: Float = 0

    public var gridSize: Int { imageSize / patchSize }
    public var numPositions: Int { gridSize * gridSize + 1 }
    public var headDim: Int { hiddenSize / numAttentionHeads }
    public init() {}
}

/// Text tower hyper-parameters (transformers `BlipTextConfig`). Note the code default of
/// 8 attention heads: configs that omit the key get 8, as in transformers.
public struct TextConfig: Sendable, Equatable {
    public var vocabSize = 30524
    public var hiddenSize = 768
    public var encoderHiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 512
    public var layerNormEps: Float = 1e-12
    public var hiddenAct = "gelu"
    public var bosTokenId = 30522
    public var eosTokenId = 2
    public var padTokenId = 0
    public var sepTokenId = 102
    /// Training-only settings: dropout after embeddings and sublayer outputs, on attention
    /// probabilities, and the LM loss's label smoothing (transformers' defaults: all 0).
    public var hiddenDropout: Float = 0
    public var attentionProbsDropout: Float = 0
    public var labelSmoothing: Float = 0
    public var headDim: Int { hiddenSize / numAttentionHeads }
    public init() {}
}

/// `config.json` of a BLIP model with transformers' defaults filled in for missing keys.
public struct BlipConfig: Sendable, Equatable {
    public var architecture: BlipArchitecture
    public var vision = VisionConfig()
    public var text = TextConfig()
    public var imageTextHiddenSize = 256
    /// The LM head's decoder matrix is the decoder's word-embedding matrix (transformers 5
    /// default). Checkpoints may still store both; inference reads `decoder.weight` when present.
    public var tieWordEmbeddings = true

    public init(architecture: BlipArchitecture) { self.architecture = architecture }

    public static func load(path: String) throws -> BlipConfig {
        let bytes = try readFile(path, limit: maxConfigFileBytes)
        return try parse(JSONValue.parse(bytes, file: path), file: path)
    }

    public static func parse(_ json: JSONValue, file: String) throws -> BlipConfig {
        guard let root = json.objectValue else { throw BlipError.modelFormat("\(file): not a JSON object") }
        guard let archs = root["architectures"]?.arrayValue, let first = archs.first?.stringValue else {
            throw BlipError.modelFormat("\(file): missing required key 'architectures' (which BLIP task class this model is)")
        }
        guard let arch = BlipArchitecture(rawValue: first) else {
            throw BlipError.unsupported("\(file): architecture '\(first)' is not supported; expected BlipForConditionalGeneration, BlipForQuestionAnswering or BlipForImageTextRetrieval")
        }
        if let type = root["model_type"]?.stringValue, type != "blip" {
            throw BlipError.unsupported("\(file): model_type '\(type)' is not 'blip'")
        }
        var config = BlipConfig(architecture: arch)
        let reader = KeyReader(file: file)
        if let v = root["vision_config"] {
            guard let o = v.objectValue else { throw BlipError.modelFormat("\(file): vision_config is not an object") }
            try reader.read(o, "hidden_size", into: &config.vision.hiddenSize)
            try reader.read(o, "intermediate_size", into: &config.vision.intermediateSize)
            try reader.read(o, "num_hidden_layers", into: &config.vision.numHiddenLayers)
            try reader.read(o, "num_attention_heads", into: &config.vision.numAttentionHeads)
            try reader.read(o, "num_channels", into: &config.vision.numChannels)
            try reader.read(o, "image_size", into: &config.vision.imageSize)
            try reader.read(o, "patch_size", into: &config.vision.patchSize)
            try reader.read(o, "layer_norm_eps", into: &config.vision.layerNormEps)
            try reader.read(o, "hidden_act", into: &config.vision.hiddenAct)
            try reader.read(o, "attention_dropout", into: &config.vision.attentionDropout)
        }
        if let t = root["text_config"] {
            guard let o = t.objectValue else { throw BlipError.modelFormat("\(file): text_config is not an object") }
            try reader.read(o, "vocab_size", into: &config.text.vocabSize)
            try reader.read(o, "hidden_size", into: &config.text.hiddenSize)
            try reader.read(o, "intermediate_size", into: &config.text.intermediateSize)
            try reader.read(o, "num_hidden_layers", into: &config.text.numHiddenLayers)
            try reader.read(o, "num_attention_heads", into: &config.text.numAttentionHeads)
            try reader.read(o, "max_position_embeddings", into: &config.text.maxPositionEmbeddings)
            try reader.read(o, "layer_norm_eps", into: &config.text.layerNormEps)
            try reader.read(o, "hidden_act", into: &config.text.hiddenAct)
            try reader.read(o, "bos_token_id", into: &config.text.bosTokenId)
            try reader.read(o, "eos_token_id", into: &config.text.eosTokenId)
            try reader.read(o, "pad_token_id", into: &config.text.padTokenId)
            try reader.read(o, "sep_token_id", into: &config.text.sepTokenId)
            try reader.read(o, "hidden_dropout_prob", into: &config.text.hiddenDropout)
            try reader.read(o, "attention_probs_dropout_prob", into: &config.text.attentionProbsDropout)
            try reader.read(o, "label_smoothing", into: &config.text.labelSmoothing)
            try reader.read(o, "tie_word_embeddings", into: &config.tieWordEmbeddings)
        }
        try reader.read(root, "image_text_hidden_size", into: &config.imageTextHiddenSize)
        try reader.read(root, "tie_word_embeddings", into: &config.tieWordEmbeddings)
        // transformers forces the cross-attention input width to the vision width.
        config.text.encoderHiddenSize = config.vision.hiddenSize
        try config.validate(file: file)
        return config
    }

    func validate(file: String) throws {
        func require(_ ok: Bool, _ what: String) throws {
            if !ok { throw BlipError.modelFormat("\(file): \(what)") }
        }
        let v = vision, t = text
        try require(v.hiddenSize > 0 && v.hiddenSize <= 8192, "vision hidden_size \(v.hiddenSize) out of range")
        try require(v.numAttentionHeads > 0 && v.hiddenSize % v.numAttentionHeads == 0, "vision hidden_size \(v.hiddenSize) is not divisible by num_attention_heads \(v.numAttentionHeads)")
        try require(v.intermediateSize > 0 && v.intermediateSize <= 65536, "vision intermediate_size out of range")
        try require(v.numHiddenLayers > 0 && v.numHiddenLayers <= 256, "vision num_hidden_layers out of range")
        try require(v.numChannels == 3, "vision num_channels must be 3")
        try require(v.patchSize > 0 && v.imageSize >= v.patchSize && v.imageSize <= 4096 && v.imageSize % v.patchSize == 0, "vision image_size \(v.imageSize) / patch_size \(v.patchSize) invalid")
        try require(v.layerNormEps > 0 && t.layerNormEps > 0, "layer_norm_eps must be positive")
        try require(t.hiddenSize > 0 && t.hiddenSize <= 8192, "text hidden_size out of range")
        try require(t.numAttentionHeads > 0 && t.hiddenSize % t.numAttentionHeads == 0, "text hidden_size \(t.hiddenSize) is not divisible by num_attention_heads \(t.numAttentionHeads)")
        try require(t.intermediateSize > 0 && t.intermediateSize <= 65536, "text intermediate_size out of range")
        try require(t.numHiddenLayers > 0 && t.numHiddenLayers <= 256, "text num_hidden_layers out of range")
        try require(t.vocabSize > 0 && t.vocabSize <= 1_000_000, "text vocab_size out of range")
        try require(t.maxPositionEmbeddings > 0 && t.maxPositionEmbeddings <= 65536, "text max_position_embeddings out of range")
        try require(imageTextHiddenSize > 0 && imageTextHiddenSize <= 65536, "image_text_hidden_size out of range")
        // Special token ids index the embedding and logits tables: a negative or too-large id
        // would read or write outside them (a logits processor writes at eos/sep).
        for (name, id) in [("bos_token_id", t.bosTokenId), ("eos_token_id", t.eosTokenId),
                           ("pad_token_id", t.padTokenId), ("sep_token_id", t.sepTokenId)] {
            try require(id >= 0 && id < t.vocabSize, "\(name) \(id) is outside the vocabulary (0..<\(t.vocabSize))")
        }
        // Each field can be in range while their products are absurd: bound what gets allocated.
        let tokens = v.numPositions
        try require(tokens <= 16_385, "vision image_size / patch_size give \(tokens) tokens (at most 16,385 = 128 × 128 patches + 1)")
        try require(tokens * tokens * v.numAttentionHeads <= 1 << 31,
                    "vision attention scores need \(tokens)² × \(v.numAttentionHeads) heads floats (more than 2³¹)")
        try require(v.numHiddenLayers * v.hiddenSize * v.intermediateSize <= 1 << 34 &&
                    t.numHiddenLayers * t.hiddenSize * t.intermediateSize <= 1 << 34,
                    "layers × hidden_size × intermediate_size is too large (more than 2³⁴ parameters)")
        try require(t.vocabSize * t.hiddenSize <= 1 << 32, "vocab_size × hidden_size is too large (more than 2³² parameters)")
        try require(t.maxPositionEmbeddings * t.hiddenSize <= 1 << 30, "max_position_embeddings × hidden_size is too large")
        for p in [v.attentionDropout, t.hiddenDropout, t.attentionProbsDropout] {
            try require(p >= 0 && p < 1, "dropout probabilities must be in [0, 1)")
        }
        try require(t.labelSmoothing >= 0 && t.labelSmoothing <= 1, "label_smoothing must be in [0, 1]")
        for act in [v.hiddenAct, t.hiddenAct] where act != "gelu" {
            throw BlipError.unsupported("\(file): hidden_act '\(act)' is not supported (BLIP uses 'gelu')")
        }
    }
}

/// Reads optional typed keys; a present key of the wrong type is an error naming it.
private struct KeyReader {
    let file: String
    func read(_ o: [String: JSONValue], _ key: String, into value: inout Int) throws {
        guard let v = o[key], v != .null else { return }
        guard let i = v.intValue else { throw BlipError.modelFormat("\(file): '\(key)' must be an integer") }
        value = i
    }
    func read(_ o: [String: JSONValue], _ key: String, into value: inout Float) throws {
        guard let v = o[key], v != .null else { return }
        guard let d = v.doubleValue else { throw BlipError.modelFormat("\(file): '\(key)' must be a number") }
        value = Float(d)
    }
    func read(_ o: [String: JSONValue], _ key: String, into value: inout Bool) throws {
        guard let v = o[key], v != .null else { return }
        guard case .bool(let b) = v else { throw BlipError.modelFormat("\(file): '\(key)' must be true or false") }
        value = b
    }
    func read(_ o: [String: JSONValue], _ key: String, into value: inout String) throws {
        guard let v = o[key], v != .null else { return }
        guard let s = v.stringValue else { throw BlipError.modelFormat("\(file): '\(key)' must be a string") }
        value = s
    }
}

