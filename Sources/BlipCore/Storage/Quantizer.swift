import BlipKernels
import Glibc

/// What `quantizeModel` keeps in higher precision.
public struct QuantizeOptions: Sendable {
    /// Run the LM head's vocabulary projection (30,524 × 768, 3/4 of a decode step's weight
    /// traffic) in int8. A tied head (the usual BLIP checkpoint) is not stored twice: the
    /// loader quantizes it per channel from the word embeddings (metadata `tied_lm_head`).
    /// false keeps it in float, which costs decode speed, not file size.
    public var quantizeLMHead = true
    /// How word-embedding tables (30,524 × 768) are stored; they are expanded to F32 at load
    /// for the lookup. F16 (default) keeps them as precise as the lookup needs: int8 rows
    /// measurably hurt ITM and caption agreement (BENCHMARKS.md), for 23 MB less per table.
    /// Position embeddings, LayerNorm, patch projection and heads always stay F32.
    public enum EmbeddingStorage: String, Sendable { case int8 = "I8", f16 = "F16", f32 = "F32" }
    public var wordEmbeddings = EmbeddingStorage.f16
    /// Activation levels for the linears whose inputs come from the image: the vision encoder
    /// and the decoder's cross-attention keys and values (over 577 image tokens, 9/10 of a
    /// caption's multiply-adds). `.unsigned7` (default) runs them 1.35–1.5× faster on AVX2; the
    /// accuracy cost was measured (BENCHMARKS.md) and stays within the targets. Text-side
    /// linears always take 8-bit activations: 7 bits there made the ITM error 1.7× larger.
    public var imageActivations = Int8ActivationRange.unsigned7
    public init() {}

    /// `wordEmbeddings` as the CLI and the C API name it ("f16", "int8", "f32"); `label` names
    /// the caller's field in the error ("--embeddings", "params->embeddings").
    public mutating func setWordEmbeddings(named name: String, label: String) throws {
        switch name.lowercased() {
        case "f16": wordEmbeddings = .f16
        case "int8", "i8": wordEmbeddings = .int8
        case "f32": wordEmbeddings = .f32
        default: throw BlipError.invalidArgument("\(label) must be f16, int8 or f32, not '\(name)'")
        }
    }

    /// `imageActivations` from a bit count: 7 (`.unsigned7`) or 8 (`.signed8`).
    public mutating func setImageActivationBits(_ bits: Int, label: String) throws {
        switch bits {
        case 7: imageActivations = .unsigned7
        case 8: imageActivations = .signed8
        default: throw BlipError.invalidArgument("\(label) must be 7 or 8, not \(bits)")
        }
    }

    /// Whether tensor `name` is a linear whose input is image features.
    static func readsImageFeatures(_ name: String) -> Bool {
        name.hasPrefix("vision_model.encoder.layers.")
            || name.hasSuffix("crossattention.self.key.weight") || name.hasSuffix("crossattention.self.value.weight")
    }
}

/// Writes the single-file int8 model (format "libblip-int8" v1, see `QuantizedFile`) for the
/// Hugging Face model directory `directory` (config.json, model.safetensors, vocab.txt, ...)
/// to `path` (written to `path.partial`, then renamed).
///
/// Quantized to int8 (per output channel, symmetric): every linear layer inside the vision
/// and text transformer blocks (ViT qkv / projection / fc1 / fc2, BERT query / key / value /
/// attention output / intermediate / output, self- and cross-attention) and, by default, the
/// LM head (a tied head is quantized at load from the stored word embeddings). Kept as float:
/// embeddings (F16 by default), patch embedding, LayerNorms, biases, the LM-head transform,
/// vision/text projections and the ITM head.
public func quantizeModel(directory: String, to path: String, options: QuantizeOptions = QuantizeOptions(),
                          progress: ((String) -> Void)? = nil) throws {
    let dir = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
    // Validate the source as a whole first: a file that loads here also loads quantized.
    progress?("checking \(dir)")
    let model = try BlipModel.load(directory: dir, threads: 0)
    guard let src = model.weights as? SafetensorsFile else {
        throw BlipError.invalidArgument("\(directory): already a quantized model file; pass the original model directory")
    }

    // Embedded text files.
    var metadata: [(String, String)] = [("format", QuantizedFile.formatName),
                                        ("format_version", String(QuantizedFile.formatVersion))]
    for (name, required) in [("config.json", true), ("vocab.txt", true), ("tokenizer_config.json", false),
                             ("preprocessor_config.json", false), ("generation_config.json", false)] {
        let file = dir + "/" + name
        if access(file, F_OK) != 0 {
            if required { throw BlipError.io("\(file): missing") }
            continue
        }
        let bytes = try readFile(file, limit: maxConfigFileBytes)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw BlipError.modelFormat("\(file): not valid UTF-8, cannot be embedded")
        }
        metadata.append((name, text))
    }
    metadata.append(("quantization", """
        {"weights": "int8 symmetric, one F32 scale per output channel (tensor NAME + NAME.scale)", \
        "layout": "panel16x4: I8 [ceil(out/16), ceil(in/4), 16, 4]", \
        "activations": "int8 asymmetric per row, dynamic (at run time): 255 levels, or 128 levels (0...127) for the tensors in activations_u7", \
        "lm_head": "\(options.quantizeLMHead ? "int8 per channel; top 16 logits recomputed in float" : "float")", \
        "word_embeddings": "\(options.wordEmbeddings.rawValue)"}
        """))
    metadata.append(("source", dir))
    let lmName = "text_decoder.cls.predictions.decoder.weight"
    let decoderEmbeddings = "text_decoder.bert.embeddings.word_embeddings.weight"
    let tiedHead = model.text.lmHead?.tied == true
    // A tied head reads the word embeddings: the int8 tensor itself (alias) when they are
    // int8, else the loader quantizes it from them (`tied_lm_head`).
    let lmAlias = options.quantizeLMHead && options.wordEmbeddings == .int8 && tiedHead
    if lmAlias {
        metadata.append(("aliases", "{" + jsonQuote(lmName) + ":" + jsonQuote(decoderEmbeddings) + "}"))
    } else if tiedHead {
        metadata.append((QuantizedFile.tiedLMHeadKey, options.quantizeLMHead ? "int8" : "float"))
    }

    // Plan: which tensor is written how.
    enum Kind { case int8(out: Int, in: Int), f32, f16, raw }
    struct Item { let name: String; let source: String; let kind: Kind; let dtype: String; let shape: [Int]; let bytes: Int }
    var items: [Item] = []
    func isFloat(_ d: SafetensorsFile.DType) -> Bool { d == .f32 || d == .f16 || d == .bf16 }
    for name in src.entries.keys.sorted() {
        let e = src.entries[name]!
        if name == lmName && options.quantizeLMHead { continue }   // written below from its source
        let isEmbedding = e.shape.count == 2 && name.hasSuffix("word_embeddings.weight")
        if isFloat(e.dtype), e.shape.count == 2,
           (name.hasSuffix(".weight") && name.contains("encoder.layer")) || (isEmbedding && options.wordEmbeddings == .int8) {
            let (o, i) = (e.shape[0], e.shape[1])
            items.append(Item(name: name, source: name, kind: .int8(out: o, in: i), dtype: "I8",
                              shape: [Int8Matrix.panels(o), Int8Matrix.paddedIn(i) / 4, 16, 4],
                              bytes: Int8Matrix.packedCount(out: o, in: i)))
        } else if isFloat(e.dtype) {
            let half = options.wordEmbeddings == .f16 && isEmbedding
            items.append(Item(name: name, source: name, kind: half ? .f16 : .f32, dtype: half ? "F16" : "F32",
                              shape: e.shape, bytes: e.elementCount * (half ? 2 : 4)))
        } else {
            items.append(Item(name: name, source: name, kind: .raw, dtype: e.dtype.rawValue, shape: e.shape,
                              bytes: e.end - e.begin))
        }
    }
    // An untied head (its own tensor in the source) is stored quantized like any linear layer.
    if options.quantizeLMHead, !tiedHead, src.contains(lmName), let head = model.text.lmHead {
        let (o, i) = (head.vocabSize, head.width)
        items.append(Item(name: lmName, source: lmName, kind: .int8(out: o, in: i), dtype: "I8",
                          shape: [Int8Matrix.panels(o), Int8Matrix.paddedIn(i) / 4, 16, 4],
                          bytes: Int8Matrix.packedCount(out: o, in: i)))
    }
    // Linears reading image features take 7-bit activations (their weights are made pair-safe).
    let unsigned7Names = options.imageActivations == .unsigned7
        ? items.filter { if case .int8 = $0.kind { return QuantizeOptions.readsImageFeatures($0.name) } else { return false } }.map(\.name)
        : []
    if !unsigned7Names.isEmpty {
        metadata.append((QuantizedFile.unsigned7Key, "[" + unsigned7Names.map(jsonQuote).joined(separator: ",") + "]"))
    }
    let unsigned7 = Set(unsigned7Names)

    // Scales follow their matrix; data order: F32 first (stays 4-byte aligned → mmap'd in
    // place), then int8, then F16 and anything else.
    func rank(_ k: Kind) -> Int { switch k { case .f32: return 0; case .int8: return 1; case .f16: return 2; case .raw: return 3 } }
    var ordered: [Item] = []
    for item in items.sorted(by: { (rank($0.kind), $0.name) < (rank($1.kind), $1.name) }) {
        ordered.append(item)
    }
    var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
    var offset = 0
    for item in ordered where rank(item.kind) == 0 {
        entries.append((item.name, item.dtype, item.shape, offset, offset + item.bytes)); offset += item.bytes
    }
    for item in ordered { if case .int8(let o, _) = item.kind {
        entries.append((item.name + QuantizedFile.scaleSuffix, "F32", [o], offset, offset + 4 * o)); offset += 4 * o
    } }
    for item in ordered where rank(item.kind) > 0 {
        entries.append((item.name, item.dtype, item.shape, offset, offset + item.bytes)); offset += item.bytes
    }

    // Header: JSON padded with spaces so the data buffer starts 64-byte aligned.
    var header = "{\"__metadata__\":{" + metadata.map { jsonQuote($0.0) + ":" + jsonQuote($0.1) }.joined(separator: ",") + "}"
    for e in entries {
        header += "," + jsonQuote(e.name) + ":{\"dtype\":\"\(e.dtype)\",\"shape\":[" + e.shape.map(String.init).joined(separator: ",")
            + "],\"data_offsets\":[\(e.begin),\(e.end)]}"
    }
    header += "}"
    var headerBytes = Array(header.utf8)
    while (8 + headerBytes.count) % 64 != 0 { headerBytes.append(UInt8(ascii: " ")) }

    let partial = path + ".partial"
    guard let f = fopen(partial, "wb") else {
        throw BlipError.io("\(partial): cannot create (\(String(cString: strerror(errno))))")
    }
    var ok = false
    defer { if !ok { fclose(f); unlink(partial) } }
    func write(_ p: UnsafeRawPointer, _ n: Int) throws {
        if n > 0, fwrite(p, 1, n, f) != n { throw BlipError.io("\(partial): write failed (\(String(cString: strerror(errno))))") }
    }
    var length = UInt64(headerBytes.count).littleEndian
    try write(&length, 8)
    try headerBytes.withUnsafeBytes { try write($0.baseAddress!, $0.count) }

    // Data, in entry order. Quantized matrices are computed once (scales, then packed bytes).
    var quantized: [String: (packed: [Int8], scales: [Float])] = [:]
    func quantize(_ item: Item) throws -> (packed: [Int8], scales: [Float]) {
        if let q = quantized[item.name] { return q }
        guard case .int8(let o, let i) = item.kind else { throw BlipError(.internalError, "not int8") }
        progress?("quantizing \(item.name) [\(o) x \(i)]")
        let w = try src.floats(item.source, shape: [o, i])
        let q = Int8Matrix.quantizePack(w.pointer, out: o, in: i, pairSafe: unsigned7.contains(item.name))
        if q.widened > 0 { progress?("  \(q.widened) of \(o) output scales widened to be pair-safe (7-bit activations)") }
        quantized[item.name] = (q.packed, q.scales)
        return (q.packed, q.scales)
    }
    let byName = Dictionary(uniqueKeysWithValues: ordered.map { ($0.name, $0) })
    for e in entries {
        if e.name.hasSuffix(QuantizedFile.scaleSuffix), let item = byName[String(e.name.dropLast(QuantizedFile.scaleSuffix.count))],
           case .int8 = item.kind {
            try quantize(item).scales.withUnsafeBytes { try write($0.baseAddress!, $0.count) }
            continue
        }
        guard let item = byName[e.name] else { throw BlipError(.internalError, "unplanned tensor \(e.name)") }
        switch item.kind {
        case .int8:
            try quantize(item).packed.withUnsafeBytes { try write($0.baseAddress!, $0.count) }
            quantized[item.name] = nil
        case .f32:
            let w = try src.floats(item.source, shape: item.shape)
            try write(w.pointer, w.count * 4)
        case .f16:
            let w = try src.floats(item.source, shape: item.shape)
            var half = [UInt16](repeating: 0, count: w.count)
            for i in 0..<w.count { half[i] = Float16(w.pointer[i]).bitPattern.littleEndian }
            try half.withUnsafeBytes { try write($0.baseAddress!, $0.count) }
        case .raw:
            let raw = src.bytes(of: try src.entry(item.source))
            if let base = raw.baseAddress { try write(base, raw.count) }
        }
    }
    guard fflush(f) == 0, fsync(fileno(f)) == 0 else { throw BlipError.io("\(partial): write failed (\(String(cString: strerror(errno))))") }
    ok = true
    guard fclose(f) == 0 else { unlink(partial); throw BlipError.io("\(partial): close failed") }
    guard rename(partial, path) == 0 else {
        unlink(partial)
        throw BlipError.io("\(path): cannot rename from \(partial) (\(String(cString: strerror(errno))))")
    }
    progress?("verifying \(path)")
    _ = try BlipModel.load(directory: path, threads: model.threads)
    progress?("wrote \(path)")
}
