import BlipCore
import Glibc

/// Pairs from a JSONL manifest: one `{"image", "text"}` object per line, optional `"key"`
/// (string or integer; default: the 1-based line number). `image` is relative to the
/// manifest's folder unless absolute. Every non-blank line gives one pair, a bad line a pair
/// with its problem; image files are read when their pair is taken, not up front.
struct ManifestPairs {
    let path: String
    private let bytes: [UInt8]
    private let folder: String
    private let maxFileBytes: Int
    private var offset = 0
    private var line = 0
    /// Non-blank lines (pairs in all), for progress.
    let count: Int

    init(path: String, maxFileBytes: Int) throws {
        self.path = path
        self.maxFileBytes = maxFileBytes
        bytes = try readFile(path)
        folder = path.lastIndex(of: "/").map { String(path[...$0]) } ?? ""
        count = bytes.split(separator: UInt8(ascii: "\n")).filter { !Self.isBlank($0) }.count
    }

    mutating func next() -> CapFiltPair? {
        while offset < bytes.count {
            line += 1
            let end = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let text = bytes[offset..<end]
            offset = end + 1
            if Self.isBlank(text) { continue }
            return pair(text)
        }
        return nil
    }

    private static func isBlank(_ line: ArraySlice<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }

    private func pair(_ text: ArraySlice<UInt8>) -> CapFiltPair {
        let lineKey = String(line)
        func bad(_ message: String, key: String = lineKey, image: String? = nil) -> CapFiltPair {
            CapFiltPair(key: key, image: image, imageBytes: nil, webText: nil, problem: "\(path):\(line): \(message)")
        }
        guard String(validating: text, as: UTF8.self) != nil else { return bad("not valid UTF-8") }
        guard let row = try? JSONValue.parse(text, file: path), let object = row.objectValue else {
            return bad("not a JSON object")
        }
        let key: String
        switch object["key"] {
        case nil, .null?: key = lineKey
        case .string(let s)?: key = s
        case .number?: guard let i = row["key"]?.intValue else { return bad("\"key\" must be a string or an integer") }
                       key = String(i)
        default: return bad("\"key\" must be a string or an integer")
        }
        guard !key.isEmpty else { return bad("\"key\" is empty") }
        guard let image = object["image"]?.stringValue, !image.isEmpty, !image.utf8.contains(0) else {
            return bad("missing \"image\" (a path)", key: key)
        }
        guard let rawText = object["text"]?.stringValue else { return bad("missing \"text\" (a string)", key: key, image: image) }
        let webText: String
        switch CapFiltPair.webText(rawText) {
        case .success(let t): webText = t
        case .failure(let p): return bad(p.message, key: key, image: image)
        }
        let imagePath = image.hasPrefix("/") ? image : folder + image
        do {
            let imageBytes = try readFile(imagePath, limit: maxFileBytes)
            return CapFiltPair(key: key, image: image, imageBytes: imageBytes, webText: webText)
        } catch let e as BlipError {
            return bad(e.message, key: key, image: image)
        } catch {
            return bad("\(error)", key: key, image: image)
        }
    }
}
