import FoundationEssentials

/// A WordPiece vocabulary read from `vocab.txt` (one token per line, id = line number), plus
/// the two tokens BLIP appends after it (`[DEC]`, `[ENC]`).
///
/// Parsing matches transformers' `load_vocab` (Python text mode): lines end at `\n`, `\r\n` or
/// `\r`; nothing else is stripped (a BOM or trailing blanks stay part of the token); a final line
/// without a terminator is still a token; empty lines are tokens (the empty string).
/// Duplicate tokens are accepted like transformers: the token maps to its **last** id and the
/// earlier ids map to no token (they decode to nothing, like the `tokenizers` backend).
///
/// Tokens are compared as exact UTF-8 byte strings, never with Swift's canonical-equivalence
/// `String ==` (which would merge e.g. precomposed and decomposed accents).
public struct Vocabulary: Sendable {
    /// Largest accepted `vocab.txt`, in bytes and in lines.
    public static let maxFileBytes = 64 << 20
    public static let maxTokens = 4_000_000

    /// id → token for every id (file lines, then BLIP's additions); nil for shadowed duplicates.
    private let idToToken: [String?]
    /// token UTF-8 → id (last id wins for duplicates).
    private let tokenToID: [[UInt8]: Int32]

    /// Number of lines in `vocab.txt` (ids `0..<fileTokenCount` come from the file).
    public let fileTokenCount: Int
    /// Number of ids, including the appended `[DEC]`/`[ENC]` (30524 for BERT base uncased).
    public var count: Int { idToToken.count }

    /// BLIP's decoder start token `[DEC]` (bos): 30522 with the BERT vocabulary.
    public let decID: Int32
    /// BLIP's encoder token `[ENC]`: 30523 with the BERT vocabulary.
    public let encID: Int32

    /// Builds a vocabulary from tokens in id order. `[DEC]` and `[ENC]` are looked up first and,
    /// when absent (the Hub files), appended as BLIP's `init_tokenizer` does (ids = number of
    /// file tokens, then + 1).
    public init(tokens: [String], file: String = "vocab.txt") throws {
        guard !tokens.isEmpty else { throw BlipError.modelFormat("\(file): the vocabulary is empty") }
        guard tokens.count <= Self.maxTokens else {
            throw BlipError.modelFormat("\(file): \(tokens.count) tokens (more than \(Self.maxTokens))")
        }
        var table: [String?] = tokens
        var map: [[UInt8]: Int32] = [:]
        map.reserveCapacity(tokens.count + 2)
        for (i, t) in tokens.enumerated() {
            let key = Array(t.utf8)
            if let old = map[key] { table[Int(old)] = nil }
            map[key] = Int32(i)
        }
        fileTokenCount = tokens.count
        func addIfMissing(_ name: String) -> Int32 {
            if let id = map[Array(name.utf8)] { return id }
            let id = Int32(table.count)
            table.append(name)
            map[Array(name.utf8)] = id
            return id
        }
        decID = addIfMissing("[DEC]")
        encID = addIfMissing("[ENC]")
        idToToken = table
        tokenToID = map
    }

    /// Parses the bytes of a `vocab.txt`. `file` names the file in error messages.
    public init(bytes: some Collection<UInt8>, file: String = "vocab.txt") throws {
        guard bytes.count <= Self.maxFileBytes else {
            throw BlipError.modelFormat("\(file): \(bytes.count) bytes is too large for a vocabulary")
        }
        let data = Array(bytes)
        var tokens: [String] = []
        var start = 0
        var i = 0
        func emit(_ end: Int) throws {
            guard let s = String(validating: data[start..<end], as: UTF8.self) else {
                throw BlipError.modelFormat("\(file): line \(tokens.count + 1) is not valid UTF-8")
            }
            tokens.append(s)
            guard tokens.count <= Self.maxTokens else {
                throw BlipError.modelFormat("\(file): more than \(Self.maxTokens) tokens")
            }
        }
        while i < data.count {
            let b = data[i]
            if b == 0x0A || b == 0x0D {
                try emit(i)
                i += (b == 0x0D && i + 1 < data.count && data[i + 1] == 0x0A) ? 2 : 1
                start = i
            } else {
                i += 1
            }
        }
        if start < data.count { try emit(data.count) }
        try self.init(tokens: tokens, file: file)
    }

    /// Reads `vocab.txt` from disk.
    public static func load(path: String) throws -> Vocabulary {
        try Vocabulary(bytes: readFile(path, limit: maxFileBytes), file: path)
    }

    /// The id of `token` (exact byte match), or nil.
    public func id(for token: String) -> Int32? { tokenToID[Array(token.utf8)] }

    /// The id of a token given as UTF-8 bytes, or nil.
    public func id(utf8 token: [UInt8]) -> Int32? { tokenToID[token] }

    /// The token of `id`, or nil when the id is out of range or a shadowed duplicate.
    public func token(for id: Int32) -> String? {
        guard id >= 0, Int(id) < idToToken.count else { return nil }
        return idToToken[Int(id)]
    }

    /// (token UTF-8, id) for every token that maps to an id (duplicates: the last id only),
    /// excluding BLIP's appended `[DEC]`/`[ENC]` unless they were in the file.
    func fileEntries() -> [([UInt8], Int32)] {
        var out: [([UInt8], Int32)] = []
        out.reserveCapacity(fileTokenCount)
        for i in 0..<fileTokenCount {
            if let t = idToToken[i] { out.append((Array(t.utf8), Int32(i))) }
        }
        return out
    }
}
