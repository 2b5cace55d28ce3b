import FoundationEssentials
import Glibc

/// BLIP's text tokenizer: BERT uncased WordPiece, matching what transformers v5 builds for a
/// BLIP checkpoint (`AutoTokenizer` / `BlipProcessor` → `BertTokenizer`, backed by the Rust
/// `tokenizers` library), plus BLIP's `[DEC]` (30522) and `[ENC]` (30523).
public struct BertTokenizer: Sendable {
    public let vocabulary: Vocabulary
    public let basic: BasicTokenizer
    public let wordPiece: WordPiece

    public let unkID: Int32
    public let clsID: Int32
    public let sepID: Int32
    /// nil when the vocabulary has no `[PAD]` / `[MASK]`.
    public let padID: Int32?
    public let maskID: Int32?
    /// BLIP's decoder start (`bos`) token `[DEC]`.
    public var decID: Int32 { vocabulary.decID }
    /// BLIP's `[ENC]` token (image-grounded text encoder input).
    public var encID: Int32 { vocabulary.encID }

    /// `model_max_length` from `tokenizer_config.json` (512 for BLIP), informational: `encode`
    /// never truncates, like transformers without `truncation=True`.
    public let modelMaxLength: Int?
    /// `clean_up_tokenization_spaces` (transformers v5 default: false). The WordPiece decoder's
    /// own cleanup (`" ."→"."` etc., per token) always runs, as in `tokenizer.json`.
    public let cleanUpTokenizationSpaces: Bool

    /// Special tokens: matched verbatim in input text, skipped by `decode(skipSpecialTokens:)`.
    public let specialTokens: [String]
    private let specialIDs: [Int32]  // parallel to specialTokens

    public init(vocabulary: Vocabulary, lowercase: Bool = true, stripAccents: Bool? = nil,
                tokenizeChineseChars: Bool = true, modelMaxLength: Int? = nil,
                cleanUpTokenizationSpaces: Bool = false,
                unkToken: String = "[UNK]", sepToken: String = "[SEP]", padToken: String = "[PAD]",
                clsToken: String = "[CLS]", maskToken: String = "[MASK]",
                file: String = "vocab.txt") throws {
        self.vocabulary = vocabulary
        func required(_ t: String) throws -> Int32 {
            guard let id = vocabulary.id(for: t) else {
                throw BlipError.modelFormat("\(file): the special token \(t) is missing from the vocabulary")
            }
            return id
        }
        unkID = try required(unkToken)
        clsID = try required(clsToken)
        sepID = try required(sepToken)
        padID = vocabulary.id(for: padToken)
        maskID = vocabulary.id(for: maskToken)
        var names: [String] = []
        var ids: [Int32] = []
        for (name, id) in [(padToken, padID), (unkToken, unkID), (clsToken, clsID), (sepToken, sepID),
                           (maskToken, maskID)] {
            if let id, !names.contains(where: { Array($0.utf8) == Array(name.utf8) }) {
                names.append(name)
                ids.append(id)
            }
        }
        specialTokens = names
        specialIDs = ids
        self.modelMaxLength = modelMaxLength
        self.cleanUpTokenizationSpaces = cleanUpTokenizationSpaces
        basic = BasicTokenizer(lowercase: lowercase, stripAccents: stripAccents,
                               tokenizeChineseChars: tokenizeChineseChars, neverSplit: names)
        wordPiece = WordPiece(vocabulary: vocabulary, unkID: unkID)
    }

    /// Loads `vocab.txt` and, if present, `tokenizer_config.json` from a model directory.
    /// Recognised config keys: `do_lower_case` (default true), `strip_accents` (null/bool),
    /// `tokenize_chinese_chars` (default true), `model_max_length`,
    /// `clean_up_tokenization_spaces` (default false), `unk_token`, `sep_token`, `pad_token`,
    /// `cls_token`, `mask_token` (string or `{"content": ...}`).
    public static func load(directory: String) throws -> BertTokenizer {
        let dir = directory.hasSuffix("/") ? directory : directory + "/"
        let vocabPath = dir + "vocab.txt"
        let vocab = try Vocabulary.load(path: vocabPath)
        let configPath = dir + "tokenizer_config.json"
        guard access(configPath, F_OK) == 0 else {
            return try BertTokenizer(vocabulary: vocab, file: vocabPath)
        }
        let bytes = try readFile(configPath, limit: maxConfigFileBytes)
        return try load(vocabulary: vocab, vocabPath: vocabPath, config: bytes, configPath: configPath)
    }

    /// The same from bytes already in memory (the single-file quantized model embeds
    /// `vocab.txt` and `tokenizer_config.json`); `config` nil means transformers' defaults.
    public static func load(vocabulary vocab: Vocabulary, vocabPath: String,
                            config bytes: (some Collection<UInt8>)?, configPath: String) throws -> BertTokenizer {
        guard let bytes else { return try BertTokenizer(vocabulary: vocab, file: vocabPath) }
        guard bytes.count <= maxConfigFileBytes else { throw BlipError.modelFormat("\(configPath): too large") }
        let json = try JSONValue.parse(bytes, file: configPath)
        guard json.objectValue != nil else {
            throw BlipError.modelFormat("\(configPath): expected a JSON object")
        }
        func bool(_ key: String, _ def: Bool?) throws -> Bool? {
            guard let v = json[key], v != .null else { return def }
            guard let b = v.boolValue else {
                throw BlipError.modelFormat("\(configPath): \(key) must be true, false or null")
            }
            return b
        }
        func token(_ key: String, _ def: String) throws -> String {
            guard let v = json[key], v != .null else { return def }
            if let s = v.stringValue ?? v["content"]?.stringValue, !s.isEmpty { return s }
            throw BlipError.modelFormat("\(configPath): \(key) must be a non-empty string")
        }
        if let cls = json["tokenizer_class"]?.stringValue, !cls.contains("Bert") {
            throw BlipError.unsupported("\(configPath): tokenizer_class \(cls) is not a BERT tokenizer")
        }
        var maxLength: Int? = nil
        if let v = json["model_max_length"], v != .null {
            // transformers writes a huge float (1e30) for "no limit".
            if let n = v.intValue, n > 0 { maxLength = n }
            else if let d = v.doubleValue, d >= 9.0e15 { maxLength = nil }
            else { throw BlipError.modelFormat("\(configPath): model_max_length must be a positive integer") }
        }
        return try BertTokenizer(
            vocabulary: vocab,
            lowercase: try bool("do_lower_case", true)!,
            stripAccents: try bool("strip_accents", nil),
            tokenizeChineseChars: try bool("tokenize_chinese_chars", true)!,
            modelMaxLength: maxLength,
            cleanUpTokenizationSpaces: try bool("clean_up_tokenization_spaces", false)!,
            unkToken: try token("unk_token", "[UNK]"), sepToken: try token("sep_token", "[SEP]"),
            padToken: try token("pad_token", "[PAD]"), clsToken: try token("cls_token", "[CLS]"),
            maskToken: try token("mask_token", "[MASK]"), file: vocabPath)
    }

    /// Token ids of `text`: `[CLS] … [SEP]` when `addSpecialTokens`; no truncation.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecialTokens { out.append(clsID) }
        var bytes: [UInt8] = []
        basic.forEachPiece(text) { piece in
            switch piece {
            case .special(let k):
                out.append(specialIDs[k])
            case .word(let w):
                bytes.removeAll(keepingCapacity: true)
                for c in w { bytes.append(contentsOf: UTF8.encode(c)!) }
                wordPiece.tokenize(utf8: bytes, scalarCount: w.count, into: &out)
            }
        }
        if addSpecialTokens { out.append(sepID) }
        return out
    }

    /// The WordPiece token strings of `text` (no `[CLS]`/`[SEP]` added).
    public func tokenize(_ text: String) -> [String] {
        encode(text, addSpecialTokens: false).map { vocabulary.token(for: $0) ?? "" }
    }

    /// Text of `ids`, as `tokenizer.decode(ids, skip_special_tokens:)` in transformers v5.
    ///
    /// - Ids without a token are dropped: negative ids, ids ≥ `vocabulary.count`, shadowed
    ///   duplicates, and BLIP's `[DEC]`/`[ENC]` when they were appended (the Hub tokenizer
    ///   does not know them, so transformers drops them too).
    /// - With `skipSpecialTokens`, `[PAD] [UNK] [CLS] [SEP] [MASK]` are dropped.
    /// - Tokens are joined with a space, except `##` continuations which are glued on; then
    ///   each token gets the WordPiece decoder's cleanup (`" ."`, `" ?"`, `" !"`, `" ,"` lose
    ///   their space; applied token by token, so `don ' t` stays as it is).
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        var out: [UInt8] = []
        var piece: [UInt8] = []
        var first = true
        for id in ids {
            // Ids ≥ fileTokenCount are BLIP's appended [DEC]/[ENC] or out of range.
            guard id >= 0, Int(id) < vocabulary.fileTokenCount, let tok = vocabulary.token(for: id) else { continue }
            // A token spelled like a special token has that token's id (duplicates map to nil).
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            let bytes = tok.utf8
            piece.removeAll(keepingCapacity: true)
            if first {
                piece.append(contentsOf: bytes)
                first = false
            } else if bytes.starts(with: [0x23, 0x23]) {
                piece.append(contentsOf: bytes.dropFirst(2))
            } else {
                piece.append(0x20)
                piece.append(contentsOf: bytes)
            }
            if piece.contains(0x20) {
                out.append(contentsOf: TextCleanup.wordPieceDecoder(piece))
            } else {
                out.append(contentsOf: piece)
            }
        }
        if cleanUpTokenizationSpaces { out = TextCleanup.cleanUpTokenization(out) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The two "cleanup" passes of transformers' decoding, on UTF-8 bytes (Swift's `String`
/// replacement works on grapheme clusters and would miss `" ."` before a combining mark).
enum TextCleanup {
    private static let decoderRules: [([UInt8], [UInt8])] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
        (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    private static let pythonRules: [([UInt8], [UInt8])] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
        (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    /// `tokenizers`' `decoders::wordpiece::cleanup` (applied to each decoded token).
    static func wordPieceDecoder(_ s: [UInt8]) -> [UInt8] { apply(decoderRules, s) }

    /// `PreTrainedTokenizerBase.clean_up_tokenization` (applied to the whole text).
    static func cleanUpTokenization(_ s: [UInt8]) -> [UInt8] { apply(pythonRules, s) }

    private static func apply(_ rules: [([UInt8], [UInt8])], _ input: [UInt8]) -> [UInt8] {
        guard input.contains(0x20) else { return input }
        var s = input
        for (from, to) in rules { s = replaceAll(s, from, to) }
        return s
    }

    /// Non-overlapping left-to-right replacement, like Python's `str.replace`.
    static func replaceAll(_ s: [UInt8], _ from: [UInt8], _ to: [UInt8]) -> [UInt8] {
        guard s.count >= from.count else { return s }
        var out: [UInt8] = []
        var i = 0
        var changed = false
        let first = from[0]
        while i < s.count {
            if s[i] == first && i + from.count <= s.count && s[i..<i + from.count].elementsEqual(from) {
                if !changed { out.reserveCapacity(s.count); out.append(contentsOf: s[0..<i]); changed = true }
                out.append(contentsOf: to)
                i += from.count
            } else {
                if changed { out.append(s[i]) }
                i += 1
            }
        }
        return changed ? out : s
    }
}
