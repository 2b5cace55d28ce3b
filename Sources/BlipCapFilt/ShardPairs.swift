import BlipCore
import BlipData

/// Pairs from one WebDataset shard as img2dataset writes it: `KEY.jpg` (or `.jpeg`, `.png`)
/// with `KEY.txt`, and `KEY.json` (metadata, not needed here). A sample missing either half,
/// with unreadable members or undecodable text becomes a pair with its problem.
struct ShardPairs {
    static let imageExtensions = ["jpg", "jpeg", "png"]
    private let reader: WebDatasetReader
    let name: String

    init(path: String, name: String, maxFileBytes: Int) throws {
        reader = try WebDatasetReader(path: path, maxMemberBytes: maxFileBytes)
        self.name = name
    }

    mutating func next() -> CapFiltPair? {
        guard let sample = reader.next() else { return nil }
        let image = Self.imageExtensions.lazy.compactMap { sample.files[$0] }.first
        let text = sample.files["txt"]
        let mtime = image?.mtime ?? text?.mtime ?? 0
        func pair(_ webText: String?, problem: String?) -> CapFiltPair {
            CapFiltPair(key: sample.key.isEmpty ? nil : sample.key, image: image?.name, imageBytes: image?.bytes,
                        webText: webText, mtime: mtime, problem: problem)
        }
        if sample.key.isEmpty {
            return pair(nil, problem: "\(name): " + (sample.problems.first ?? "a member without a name"))
        }
        if !sample.problems.isEmpty { return pair(nil, problem: sample.problems.joined(separator: "; ")) }
        guard image != nil else {
            let others = sample.files.keys.filter { $0 != "txt" && $0 != "json" }.sorted()
            let detail = others.isEmpty ? "" : " (has \(others.map { sample.key + "." + $0 }.joined(separator: ", ")): not a JPEG or PNG member)"
            return pair(nil, problem: "no image member \(sample.key).jpg or .png\(detail)")
        }
        guard let text else { return pair(nil, problem: "no text member \(sample.key).txt") }
        switch CapFiltPair.webText(fromFile: text.bytes) {
        case .success(let t): return pair(t, problem: nil)
        case .failure(let p): return pair(nil, problem: "\(text.name): \(p.message)")
        }
    }
}
