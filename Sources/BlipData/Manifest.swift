import BlipCore
import Glibc

/// What a manifest's rows hold: caption and match rows are `{"image", "text"}` (plus an
/// optional `"image_id"`), VQA rows `{"image", "question", "answer"}`.
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

    /// Reads and validates the manifest. Throws `.io` when the file cannot be read,
    /// `.invalidArgument` when no row is valid, and under `strict` at the first problem.
    public static func read(path: String, task: ManifestTask, strict: Bool) throws -> Manifest {
        let bytes = try readFile(path)
        let folder = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
        var rows: [ManifestRow] = []
        var problems: [ManifestProblem] = []
        var line = 0
        var start = 0
        while start < bytes.count {
            line += 1
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let text = bytes[start..<end]
            start = end + 1
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }  // blank
            switch parseRow(text, line: line, task: task, folder: folder) {
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
                                 folder: String) -> Result<ManifestRow, RowError> {
        guard bytes.count <= maxLineBytes else {
            return .failure(RowError("line is longer than 1 MB (\(bytes.count) bytes)"))
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .failure(RowError("not valid UTF-8"))
        }
        guard let json = try? JSONValue.parse(bytes, file: "") else { return .failure(RowError("not valid JSON")) }
        guard json.objectValue != nil else { return .failure(RowError("not a JSON object")) }
        do {
            let image = try field(json, "image")
            let imagePath = try resolveImage(image, folder: folder)
            let text: String, answer: String?
            switch task {
            case .caption, .match:
                text = try field(json, "text")
                answer = nil
            case .vqa:
                text = try field(json, "question")
                answer = try field(json, "answer")
            }
            let imageId: String
            switch json["image_id"] {
            case nil, .null?:
                imageId = imagePath
            case .string(let s)?:
                imageId = s
            case let value?:
                guard let i = value.intValue else { throw RowError("\"image_id\" must be an integer or a string") }
                imageId = String(i)
            }
            return .success(ManifestRow(line: line, imagePath: imagePath, text: text, answer: answer, imageId: imageId))
        } catch let e as RowError {
            return .failure(e)
        } catch {
            return .failure(RowError("\(error)"))
        }
    }

    /// A required string field that is not blank.
    private static func field(_ json: JSONValue, _ key: String) throws(RowError) -> String {
        guard let value = json[key] else { throw RowError("missing \"\(key)\"") }
        guard let s = value.stringValue else { throw RowError("\"\(key)\" must be a string") }
        guard !s.allSatisfy(\.isWhitespace) else { throw RowError("\"\(key)\" is empty") }
        return s
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
