import BlipKernels
import Glibc

/// The single-file int8 model written by `blip quantize` (`quantizeModel`): a safetensors
/// file, memory-mapped and validated by `SafetensorsFile`, whose `__metadata__` carries
/// everything else a model directory has.
///
/// Format "libblip-int8", version 1 (`QuantizedFile.formatVersion`):
///
/// `__metadata__` (all values strings):
/// - `format` = "libblip-int8", `format_version` = "1" (readers refuse larger versions)
/// - `config.json`, `vocab.txt` (required), `tokenizer_config.json`,
///   `preprocessor_config.json`, `generation_config.json` (when the source had them): the
///   source files' text, verbatim
/// - `quantization`: a JSON description of the scheme (informative only)
/// - `source`: informative, the directory the file was made from
///
/// Tensors:
/// - an int8 linear weight W [out × in] named N (e.g. `vision_model.encoder.layers.0.mlp.fc1.weight`)
///   is stored as `N`: I8, shape [ceil(out/16), ceil(in/4), 16, 4] — the "panel16x4" packed
///   layout documented on `Int8Matrix` (zero padding) — plus `N.scale`: F32 [out], the
///   per-output-channel scale (W ≈ q · scale, q ∈ [-127, 127], symmetric);
/// - word-embedding tables are F16 (default) or stored like a linear weight (int8, per-row
///   scales); either way they are expanded to F32 at load for the lookup;
/// - every other tensor keeps its name and shape, as F32 or F16 (converted to F32 at load).
/// The tied LM head (`text_decoder.cls.predictions.decoder.weight` = the decoder's word
/// embeddings) is not stored again. Either `tied_lm_head` (optional metadata: "int8" or
/// "float") says how to run it — "int8": quantize the embeddings per channel at load — or
/// `aliases` (optional metadata, JSON {name: target}) names the int8 embedding tensor it reads.
/// `activations_u7` (optional metadata, JSON array of int8 tensor names) lists the matrices
/// whose inputs are quantized to 128 levels (0...127) instead of 255 at run time; the
/// quantizer makes their weights pair-safe (`Int8Matrix`), which the loader checks again and
/// which only decides the kernel's speed, never its result. Readers that predate the key run
/// those matrices with 255 levels, which is as correct.
public final class QuantizedFile: WeightSource {
    public static let formatName = "libblip-int8"
    public static let formatVersion = 1
    public static let scaleSuffix = ".scale"
    public static let tiedLMHeadKey = "tied_lm_head"
    /// Optional metadata: JSON array of the int8 tensors whose activations are quantized to
    /// 128 levels (0...127, `Int8ActivationRange.unsigned7`); every other int8 tensor takes 255.
    public static let unsigned7Key = "activations_u7"

    public let file: SafetensorsFile
    public var path: String { file.path }
    public var metadata: [String: String] { file.metadata }

    /// Opens and validates `path`; refuses files that are not libblip int8 models or come from
    /// a newer format version.
    public init(path: String) throws {
        let f = try SafetensorsFile(path: path)
        guard let format = f.metadata["format"], format == Self.formatName else {
            let what = f.metadata["format"].map { "format '\($0)'" } ?? "no libblip format metadata"
            throw BlipError.modelFormat("\(path): not a libblip quantized model (\(what)); pass a model directory or a file written by `blip quantize`")
        }
        guard let versionText = f.metadata["format_version"], let version = Int(versionText), version >= 1 else {
            throw BlipError.modelFormat("\(path): missing or invalid format_version in the quantized model metadata")
        }
        guard version <= Self.formatVersion else {
            throw BlipError.unsupported("\(path): quantized model format version \(version) was written by a newer libblip; this build reads version \(Self.formatVersion) (re-run `blip quantize` with this version, or upgrade libblip)")
        }
        for key in ["config.json", "vocab.txt"] where f.metadata[key] == nil {
            throw BlipError.modelFormat("\(path): quantized model metadata lacks '\(key)' (truncated or not written by `blip quantize`)")
        }
        file = f
        if let text = f.metadata["aliases"] {
            guard let object = (try? JSONValue.parse(Array(text.utf8), file: path))?.objectValue else {
                throw BlipError.modelFormat("\(path): metadata 'aliases' is not a JSON object")
            }
            var map: [String: String] = [:]
            for (k, v) in object {
                guard let target = v.stringValue, f.contains(target) else {
                    throw BlipError.modelFormat("\(path): alias '\(k)' points to a missing tensor")
                }
                map[k] = target
            }
            aliases = map
        } else {
            aliases = [:]
        }
        if let text = f.metadata[Self.unsigned7Key] {
            guard let array = (try? JSONValue.parse(Array(text.utf8), file: path))?.arrayValue else {
                throw BlipError.modelFormat("\(path): metadata '\(Self.unsigned7Key)' is not a JSON array")
            }
            var names = Set<String>()
            for v in array {
                guard let name = v.stringValue, f.entries[name]?.dtype == .i8 else {
                    throw BlipError.modelFormat("\(path): metadata '\(Self.unsigned7Key)' names \(v.stringValue.map { "'\($0)'" } ?? "a non-string"), which is not an int8 tensor")
                }
                names.insert(name)
            }
            unsigned7Tensors = names
        } else {
            unsigned7Tensors = []
        }
    }

    /// Int8 tensors that take 7-bit activations (metadata `activations_u7`).
    public let unsigned7Tensors: Set<String>

    /// Tensor names that read another tensor (metadata `aliases`, JSON {name: target}): the
    /// tied LM head reads the int8 word-embedding table.
    public let aliases: [String: String]
    private func resolve(_ name: String) -> String { file.contains(name) ? name : aliases[name] ?? name }

    /// The text of an embedded source file (e.g. "config.json"), or nil.
    public func embedded(_ name: String) -> [UInt8]? { file.metadata[name].map { Array($0.utf8) } }

    // MARK: WeightSource

    public func contains(_ name: String) -> Bool { file.contains(name) || aliases[name] != nil }

    private func isQuantized(_ name: String) -> Bool {
        file.entries[name]?.dtype == .i8 && file.contains(name + Self.scaleSuffix)
    }

    public func floats(_ name: String, shape: [Int]) throws -> FloatBuffer {
        let name = resolve(name)
        // A float view of an int8 matrix (dequantized), so any consumer still works.
        if isQuantized(name), shape.count == 2 {
            guard let m = try linearWeight(name, out: shape[0], in: shape[1]).int8 else {
                throw BlipError(.internalError, "\(path): '\(name)' is not int8")
            }
            return FloatBuffer(m.dequantized())
        }
        return try file.floats(name, shape: shape)
    }

    public func linearWeight(_ name: String, out: Int, in inFeatures: Int) throws -> LinearWeight {
        let name = resolve(name)
        guard let e = file.entries[name] else { throw BlipError.modelFormat("\(path): tensor '\(name)' is missing") }
        guard e.dtype == .i8 else { return .f32(try file.floats(name, shape: [out, inFeatures])) }
        let packedShape = [Int8Matrix.panels(out), Int8Matrix.paddedIn(inFeatures) / 4, 16, 4]
        guard e.shape == packedShape else {
            throw BlipError.modelFormat("\(path): int8 tensor '\(name)' has shape \(e.shape), expected \(packedShape) (panel16x4 packing of [\(out), \(inFeatures)] from config.json)")
        }
        let scaleName = name + Self.scaleSuffix
        guard let s = file.entries[scaleName] else { throw BlipError.modelFormat("\(path): int8 tensor '\(name)' has no '\(scaleName)'") }
        guard s.dtype == .f32, s.shape == [out] else {
            throw BlipError.modelFormat("\(path): '\(scaleName)' must be F32 [\(out)], found \(s.dtype.rawValue) \(s.shape)")
        }
        let scales = try file.floats(scaleName, shape: [out])
        let raw = file.bytes(of: e)
        guard let base = raw.baseAddress, raw.count == Int8Matrix.packedCount(out: out, in: inFeatures) else {
            throw BlipError.modelFormat("\(path): int8 tensor '\(name)' has \(raw.count) bytes, expected \(Int8Matrix.packedCount(out: out, in: inFeatures))")
        }
        // 7-bit activations exist for the AVX2 kernel (no sign trick, paired vpmaddubsw); the
        // VNNI and AMX kernels (unsigned activations, dpbusd) are as fast with all 255 levels,
        // which halve the activation rounding error, so on such CPUs every matrix takes 8 bits.
        let sevenBit = unsigned7Tensors.contains(name) && !Int8Kernel.active.unsignedActivations
        return .int8(Int8Matrix(packed: base.assumingMemoryBound(to: Int8.self), scales: scales.pointer,
                                out: out, in: inFeatures, activations: sevenBit ? .unsigned7 : .signed8, owner: file))
    }

    public var quantizesTiedLMHead: Bool { metadata[Self.tiedLMHeadKey] == "int8" }

    public var quantizedMatrixCount: Int {
        file.entries.values.filter { $0.dtype == .i8 && file.contains($0.name + Self.scaleSuffix) }.count
    }

    public var storageDescription: String {
        var present = Set<String>()
        for e in file.entries.values where e.dtype == .f32 || e.dtype == .f16 || e.dtype == .bf16 {
            present.insert(e.dtype.rawValue)
        }
        let names = present.sorted().joined(separator: "+")
        return "\(Self.formatName) v\(metadata["format_version"] ?? "?") single file (memory-mapped): \(quantizedMatrixCount) int8 matrices with per-channel scales, other tensors \(names)\(unsigned7Tensors.isEmpty ? "" : "; \(unsigned7Tensors.count) take 7-bit activations")\(quantizesTiedLMHead ? "; tied LM head int8 (quantized at load)" : ""); int8 GEMM kernel \(Int8Kernel.active.displayName)"
    }

    public var parameterCount: Int {
        var n = 0
        for e in file.entries.values {
            if e.name.hasSuffix(Self.scaleSuffix), isQuantized(String(e.name.dropLast(Self.scaleSuffix.count))) {
                continue
            }
            if e.dtype == .i8, e.shape.count == 4, let s = file.entries[e.name + Self.scaleSuffix] {
                n += s.elementCount * e.shape[1] * 4   // out × in (in padded to a multiple of 4)
                continue
            }
            n += e.elementCount
        }
        return n
    }
}

extension BlipModel {
    /// Loads a single-file quantized model (see `QuantizedFile`). Called by `load(directory:)`
    /// when the path is a regular file.
    static func loadQuantized(path: String, threads n: Int) throws -> BlipModel {
        let q = try QuantizedFile(path: path)
        let configJSON = try JSONValue.parse(q.embedded("config.json") ?? [], file: path + ":config.json")
        let config = try BlipConfig.parse(configJSON, file: path + ":config.json")
        let preprocessor: PreprocessorConfig
        if let bytes = q.embedded("preprocessor_config.json") {
            preprocessor = try PreprocessorConfig.parse(try JSONValue.parse(bytes, file: path + ":preprocessor_config.json"),
                                                        file: path + ":preprocessor_config.json")
        } else {
            preprocessor = .default
        }
        let vocab = try Vocabulary(bytes: q.embedded("vocab.txt") ?? [], file: path + ":vocab.txt")
        let tokenizer = try BertTokenizer.load(vocabulary: vocab, vocabPath: path + ":vocab.txt",
                                               config: q.embedded("tokenizer_config.json"),
                                               configPath: path + ":tokenizer_config.json")
        return try BlipModel(directory: path, config: config, weights: q, preprocessor: ImagePreprocessor(config: preprocessor),
                             tokenizer: tokenizer, threads: n)
    }
}
