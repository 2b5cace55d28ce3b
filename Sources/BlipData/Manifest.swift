import BlipCore
import FoundationEssentials
import Glibc

/// What a manifest's rows hold: caption and match rows are `{"image", "text"}` (plus an
/// optional `"image_id"`; match rows also an optional `"negatives"`), VQA rows `{"image",
/// "question", "answer"}`.
public enum ManifestTask: Sendable {
    case caption, vqa, match
}

/// One usable manifest row.
public struct ManifestRow: Sendable, Equatable {
    /// 1-based line number in the manifest.
    public let line: Int
    /// The image path, resolved against the manifest's folder unless absolute.
    public let imagePath: String
    /// The caption / match text, or the VQA question (as written; known not to be blank).
    public let text: String
    /// The VQA answer (nil for caption and match rows).
    public let answer: String?
    /// The explicit `image_id` (an integer is kept in its decimal form), else `imagePath`:
    /// rows with equal ids show the same image (positives of each other in ITC).
    public let imageId: String
    /// match: texts known not to describe this image (e.g. the text with one word swapped), extra
    /// ITM negatives beside the ones drawn from the batch; empty for caption and VQA rows.
    public let negatives: [String]
    /// caption: this row's own prompt in place of `--prompt` (an auxiliary task the captioner
    /// should learn without producing it after the usual prompt); nil for the default.
    public let prompt: String?
}

/// A rejected row, or an image that failed to load: "train.jsonl:12: message".
public struct ManifestProblem: Sendable, Equatable, CustomStringConvertible {
    /// The manifest's path as given.
    public let file: String
    /// 1-based line number.
    public let line: Int
    public let message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): \(message)" }
}

/// A JSONL training manifest: one JSON object per line. Bad rows are skipped and reported as
/// problems (or, under `strict`, the first one is an error); image files are checked to exist
/// but not decoded (the loader reports undecodable images with their line).
public struct Manifest: Sendable {
    public let path: String
    public let rows: [ManifestRow]
    public let problems: [ManifestProblem]

    /// Longest line accepted: a row is a path and a sentence or two, so anything near this is
    /// not a row (and an unbounded line would let one bad file exhaust memory in the parser).
    public static let maxLineBytes = 1 << 20
    /// Most `"negatives"` one match row may list: each is one more text-encoder pass per step.
    public static let maxNegativesPerRow = 16

    /// Reads and validates the manifest. Throws `.io` when the file cannot be read,
    /// `.invalidArgument` when no row is valid, and under `strict` at the first problem.
    public static func read(path: String, task: ManifestTask, strict: Bool) throws -> Manifest {
        let bytes = try readFile(path)
        let folder = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
        var rows: [ManifestRow] = []
        var problems: [ManifestProblem] = []
        let decoder = JSONDecoder()
        var line = 0
        var start = 0
        while start < bytes.count {
            line += 1
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let text = bytes[start..<end]
            start = end + 1
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }  // blank
            switch parseRow(text, line: line, task: task, folder: folder, decoder: decoder) {
            case .success(let row):
                rows.append(row)
            case .failure(let message):
                let problem = ManifestProblem(file: path, line: line, message: message.text)
                if strict { throw BlipError.invalidArgument(problem.description) }
                problems.append(problem)
            }
        }
        guard !rows.isEmpty else {
            let detail = problems.first.map { "\(problems.count) problems; first: line \($0.line): \($0.message)" } ?? "no rows"
            throw BlipError.invalidArgument("\(path): no valid rows (\(detail))")
        }
        return Manifest(path: path, rows: rows, problems: problems)
    }

    // MARK: Rows

    private struct RowError: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    private static func parseRow(_ bytes: ArraySlice<UInt8>, line: Int, task: ManifestTask,
                                 folder: String, decoder: JSONDecoder) -> Result<ManifestRow, RowError> {
        guard bytes.count <= maxLineBytes else {
            return .failure(RowError("line is longer than 1 MB (\(bytes.count) bytes)"))
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .failure(RowError("not valid UTF-8"))
        }
        guard let raw = try? decoder.decode(RawRow.self, from: Data(bytes)) else {
            return .failure(RowError("not valid JSON"))
        }
        guard raw.isObject else { return .failure(RowError("not a JSON object")) }
        do throws(RowError) {
            let imagePath = try resolveImage(try string(raw.image, "image"), folder: folder)
            let text: String, answer: String?
            switch task {
            case .caption, .match:
                text = try string(raw.text, "text")
                answer = nil
            case .vqa:
                text = try string(raw.question, "question")
                answer = try string(raw.answer, "answer")
            }
            let imageId: String
            switch raw.imageId {
            case .missing, .null: imageId = imagePath
            case .string(let s): imageId = s
            case .integer(let i): imageId = String(i)
            case .other: throw RowError("\"image_id\" must be an integer or a string")
            }
            let negatives = task == .match ? try negativeTexts(raw.negatives) : []
            let prompt: String?
            switch (raw.prompt, task) {
            case (.missing, _): prompt = nil
            case (_, .caption): prompt = try string(raw.prompt, "prompt")
            default: throw RowError("\"prompt\" applies to caption rows only")
            }
            return .success(ManifestRow(line: line, imagePath: imagePath, text: text, answer: answer, imageId: imageId,
                                        negatives: negatives, prompt: prompt))
        } catch {
            return .failure(error)
        }
    }

    /// A required string field that is not blank.
    private static func string(_ field: RawField, _ key: String) throws(RowError) -> String {
        switch field {
        case .missing: throw RowError("missing \"\(key)\"")
        case .string(let s):
            guard !s.allSatisfy(\.isWhitespace) else { throw RowError("\"\(key)\" is empty") }
            return s
        case .null, .integer, .other: throw RowError("\"\(key)\" must be a string")
        }
    }

    /// The optional `"negatives"` of a match row: an array of non-blank strings.
    private static func negativeTexts(_ field: RawNegatives) throws(RowError) -> [String] {
        switch field {
        case .missing: return []
        case .invalid: throw RowError("\"negatives\" must be an array of strings")
        case .texts(let texts):
            guard texts.count <= maxNegativesPerRow else {
                throw RowError("\"negatives\" lists \(texts.count) texts (at most \(maxNegativesPerRow))")
            }
            if let blank = texts.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }) {
                throw RowError("\"negatives\"[\(blank)] is empty")
            }
            return texts
        }
    }

    /// Resolves against the manifest's folder and checks (stat only) that a regular file is there.
    private static func resolveImage(_ image: String, folder: String) throws(RowError) -> String {
        // A NUL would silently cut the path short at every C call.
        guard !image.utf8.contains(0) else { throw RowError("\"image\" contains a NUL character") }
        let path = image.hasPrefix("/") ? image : folder + image
        var st = stat()
        guard stat(path, &st) == 0 else {
            let reason = errno == ENOENT ? "not found" : "cannot be read (\(String(cString: strerror(errno))))"
            throw RowError("image \(path) \(reason)")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw RowError("image \(path) is not a regular file") }
        return path
    }
}

/// A manifest line decoded with the row's keys typed. Decoding into `JSONValue` would try
/// each JSON type in turn and pay a thrown error per miss (measured 25x slower per row, 67 µs
/// against 2.6); here only malformed fields take the slow path. Unknown keys are ignored.
private struct RawRow: Decodable {
    var isObject = true
    var image = RawField.missing, text = RawField.missing
    var question = RawField.missing, answer = RawField.missing, imageId = RawField.missing
    var negatives = RawNegatives.missing, prompt = RawField.missing

    private enum Key: String, CodingKey {
        case image, text, question, answer, imageId = "image_id", negatives, prompt
    }

    init(from decoder: Decoder) throws {
        // JSONDecoder has parsed the whole line before calling this: failing here means valid
        // JSON that is not an object.
        guard let c = try? decoder.container(keyedBy: Key.self) else {
            isObject = false
            return
        }
        image = RawField(c, .image)
        text = RawField(c, .text)
        question = RawField(c, .question)
        answer = RawField(c, .answer)
        imageId = RawField(c, .imageId, integerFirst: true)
        prompt = RawField(c, .prompt)
        if c.contains(.negatives) {
            negatives = (try? c.decode([String].self, forKey: .negatives)).map(RawNegatives.texts) ?? .invalid
        }
    }
}

/// A match row's `"negatives"` field.
private enum RawNegatives {
    case missing, invalid, texts([String])
}

/// One field of a manifest row, as far as validation needs to know it.
private enum RawField {
    case missing, null, string(String), integer(Int), other

    init<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K, integerFirst: Bool = false) {
        guard c.contains(key) else { self = .missing; return }
        if integerFirst, let i = try? c.decode(Int.self, forKey: key) { self = .integer(i); return }
        if let s = try? c.decode(String.self, forKey: key) { self = .string(s); return }
        if (try? c.decodeNil(forKey: key)) == true { self = .null; return }
        if let i = try? c.decode(Int.self, forKey: key) { self = .integer(i); return }
        self = .other
    }
}
