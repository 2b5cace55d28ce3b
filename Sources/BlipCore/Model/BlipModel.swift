import BlipKernels
import FoundationEssentials
import Glibc

/// A loaded BLIP model: immutable after loading and safe to share between threads.
/// Each call allocates its own scratch memory.
public final class BlipModel: @unchecked Sendable {
    public let directory: String
    public let config: BlipConfig
    public let weights: WeightSource
    public let vision: VisionTransformer
    /// ITC projections, present in BlipForImageTextRetrieval.
    public let visionProjection: Linear?
    public let textProjection: Linear?
    public let threads: Int
    public let preprocessor: ImagePreprocessor
    public let tokenizer: BertTokenizer
    /// Text decoder + LM head, text encoder, ITM head — whichever the task class has.
    public let text: BlipTextParts

    public init(directory: String, config: BlipConfig, weights: WeightSource, preprocessor: ImagePreprocessor,
                tokenizer: BertTokenizer, threads: Int) throws {
        self.directory = directory
        self.tokenizer = tokenizer
        self.preprocessor = preprocessor
        self.config = config
        self.weights = weights
        self.threads = threads
        vision = try VisionTransformer(weights, config: config.vision)
        if config.architecture == .retrieval {
            visionProjection = try Linear(weights, "vision_proj", in: config.vision.hiddenSize, out: config.imageTextHiddenSize)
            textProjection = try Linear(weights, "text_proj", in: config.text.hiddenSize, out: config.imageTextHiddenSize)
        } else {
            visionProjection = nil
            textProjection = nil
        }
        text = try BlipTextParts(weights, config: config)
    }

    /// Runs `body` with this model's thread count as the call's parallelism (`Parallel`): every
    /// public computation goes through here, so models with different counts used at the same
    /// time from different threads keep their own.
    @inline(__always)
    func withModelThreads<T>(_ body: () throws -> T) rethrows -> T {
        try Parallel.withThreads(threads, body)
    }

    /// Loads a Hugging Face model directory (config.json + model.safetensors + tokenizer and
    /// preprocessor files). `threads` 0 means every core.
    public static func load(directory: String, threads: Int = 0) throws -> BlipModel {
        do { try Blas.load() } catch { throw BlipError(.internalError, error.message) }
        let n = threads > 0 ? threads : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        // Loading converts and packs weights with the new model's own parallelism.
        return try Parallel.withThreads(n) { try load(directory: directory, resolvedThreads: n) }
    }

    private static func load(directory: String, resolvedThreads n: Int) throws -> BlipModel {
        var st = stat()
        guard stat(directory, &st) == 0 else { throw BlipError.io("\(directory): no such file or directory") }
        // A regular file is a single-file int8 model (Storage/QuantizedFile.swift).
        if (st.st_mode & S_IFMT) == S_IFREG { return try loadQuantized(path: directory, threads: n) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw BlipError.invalidArgument("\(directory): not a model directory (expected a folder with config.json and model.safetensors, or a file written by `blip quantize`)")
        }
        let config = try BlipConfig.load(path: directory + "/config.json")
        let weightsPath = directory + "/model.safetensors"
        if access(weightsPath, F_OK) != 0 {
            if access(directory + "/pytorch_model.bin", F_OK) == 0 {
                throw BlipError.io("\(directory): has pytorch_model.bin but no model.safetensors; convert it once with scripts/convert_to_safetensors.py (see README)")
            }
            if access(directory + "/model.safetensors.index.json", F_OK) == 0 {
                throw BlipError.unsupported("\(directory): sharded safetensors are not supported; save with a larger max_shard_size")
            }
            throw BlipError.io("\(directory): no model.safetensors (the weights file) in this directory")
        }
        let weights = try SafetensorsFile(path: weightsPath)
        let preprocessor = ImagePreprocessor(config: try PreprocessorConfig.load(directory: directory))
        let tokenizer = try BertTokenizer.load(directory: directory)
        return try BlipModel(directory: directory, config: config, weights: weights, preprocessor: preprocessor,
                             tokenizer: tokenizer, threads: n)
    }

    // MARK: vision

    public var visionTokens: Int { vision.tokens }
    public var visionWidth: Int { vision.width }
    public var embeddingDim: Int { visionProjection?.outFeatures ?? 0 }

    /// last_hidden_state for each preprocessed image ([3, S, S] floats each) → [tokens × width] each.
    public func imageStates(_ pixels: [[Float]]) throws -> [[Float]] {
        try withModelThreads {
            let expected = 3 * config.vision.imageSize * config.vision.imageSize
            let scratch = vision.makeScratch()
            return try pixels.map { px in
                guard px.count == expected else {
                    throw BlipError.invalidArgument("pixel tensor has \(px.count) values, expected \(expected)")
                }
                var out = [Float](repeating: 0, count: visionTokens * visionWidth)
                px.withUnsafeBufferPointer { p in
                    out.withUnsafeMutableBufferPointer { o in
                        vision.encode(pixels: p.baseAddress!, out: o.baseAddress!, scratch: scratch)
                    }
                }
                return out
            }
        }
    }

    /// pixel_values for one image: RGB conversion, PIL-exact bicubic resize, rescale, normalise.
    public func pixelValues(_ image: PixelView) throws -> [Float] {
        try withModelThreads {
            let pixels = try preprocessor.preprocess(image)
            let side = config.vision.imageSize
            guard pixels.count == 3 * side * side else {
                throw BlipError.modelFormat("\(directory)/preprocessor_config.json resizes to \(pixels.count / 3) pixels but the vision model expects \(side)x\(side)")
            }
            return pixels
        }
    }

    /// Retrieval embeddings for several images, normalize(vision_proj(vision(x)[0])).
    public func imageEmbeddings(_ images: [PixelView]) throws -> [[Float]] {
        try images.map { try imageEmbedding(states: imageStates($0)) }
    }

    /// normalize(vision_proj(states[0])) for one image's states.
    public func imageEmbedding(states: [Float]) throws -> [Float] {
        try withModelThreads {
            guard let proj = visionProjection else {
                throw BlipError.unsupported("this \(config.architecture.rawValue) model has no vision_proj: image embeddings need a BlipForImageTextRetrieval model")
            }
            return normalizedProjection(proj, ofFirstRow: states)
        }
    }

    /// normalize(proj(states[0])): the ITC embedding of a vision or text encoder output.
    func normalizedProjection(_ proj: Linear, ofFirstRow states: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: proj.outFeatures)
        states.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                proj(s.baseAddress!, rows: 1, out: o.baseAddress!)
                l2Normalize(o.baseAddress!, count: proj.outFeatures)
            }
        }
        return out
    }
}

extension BlipModel {
    /// `info` as a JSON object string.
    public var infoJSON: String {
        "{" + info.map { "\(jsonQuote($0.0)): \(jsonQuote($0.1))" }.joined(separator: ", ") + "}"
    }

    /// A compact description for `blip info` and blip_model_info().
    public var info: [(String, String)] {
        var items: [(String, String)] = [
            ("architecture", config.architecture.rawValue),
            ("vision", "ViT \(config.vision.numHiddenLayers) layers, width \(config.vision.hiddenSize), \(config.vision.numAttentionHeads) heads, \(config.vision.imageSize)px / patch \(config.vision.patchSize) (\(visionTokens) tokens)"),
            ("text", "BERT \(config.text.numHiddenLayers) layers, width \(config.text.hiddenSize), \(config.text.numAttentionHeads) heads, vocab \(config.text.vocabSize)"),
            ("parameters", String(weights.parameterCount)),
            ("storage", weights.storageDescription),
            ("threads", String(threads)),
            ("gemm", "OpenBLAS \(Blas.coreName) kernels" + (Blas.requestedCoreType.isEmpty ? "" : " (core type chosen by libblip from CPUID)")
                + (weights is QuantizedFile ? "; int8 linear layers: \(Int8Kernel.active.displayName) kernel" : "")
                + (Int8Kernel.selectionNote.isEmpty ? "" : " (\(Int8Kernel.selectionNote))")),
            ("vision_kernels", visionKernelsDescription),
        ]
        if embeddingDim > 0 { items.append(("embedding_dim", String(embeddingDim))) }
        return items
    }

    private var visionKernelsDescription: String {
        let isa: String
        switch Float32Kernels.active {
        case .avx512: isa = "AVX-512"
        case .avx2: isa = "AVX2"
        case .openblas:
            let widest: Float32Kernels.Path? = Float32Kernels.Path.avx512.isSupported ? .avx512
                : Float32Kernels.Path.avx2.isSupported ? .avx2 : nil
            return "OpenBLAS" + (widest.map { " (BLIP_F32_KERNEL=openblas, or the \($0.rawValue) kernels failed their self-check)" } ?? "")
        }
        return isa + (weights is QuantizedFile ? " float32 blocked attention" : " float32 (packed-weight GEMM, blocked attention)")
    }
}
