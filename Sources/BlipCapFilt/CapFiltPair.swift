/// One (image, web text) pair as a source hands it to the pipeline: everything read, nothing
/// decoded. A pair that cannot be processed carries its `problem` and becomes an error record.
public struct CapFiltPair: Sendable {
    /// The sample key (seeds and output names derive from it); nil when a damaged shard gave none.
    public let key: String?
    /// The image as the input names it (manifest path as written, or the shard member name).
    public let image: String?
    /// The image file's bytes, copied unchanged to output shards.
    public let imageBytes: [UInt8]?
    /// The web text (alt text) as UTF-8.
    public let webText: String?
    /// Modification time given to this sample's members in output shards.
    public let mtime: Int
    public let problem: String?

    public init(key: String?, image: String?, imageBytes: [UInt8]?, webText: String?, mtime: Int = 0, problem: String? = nil) {
        self.key = key
        self.image = image
        self.imageBytes = imageBytes
        self.webText = webText
        self.mtime = mtime
        self.problem = problem
    }
}

extension CapFiltPair {
    /// The web text from a file's bytes: valid UTF-8 and not blank, trimmed (img2dataset writes
    /// the caption as is; a trailing newline is not part of it).
    static func webText(fromFile bytes: [UInt8]) -> Result<String, CapFiltProblem> {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(CapFiltProblem("the text is not valid UTF-8"))
        }
        return webText(text)
    }

    static func webText(_ text: String) -> Result<String, CapFiltProblem> {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { return .failure(CapFiltProblem("the text is empty")) }
        return .success(trimmed)
    }
}

/// Why a pair cannot be processed (becomes the record's "error").
struct CapFiltProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
