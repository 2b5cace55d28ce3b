/// One WebDataset sample: the consecutive members sharing a key (`KEY.jpg`, `KEY.txt`, ...).
public struct WebDatasetSample: Sendable, Equatable {
    /// The member path up to the first dot of its file name (WebDataset's rule), e.g.
    /// "000000012" for "000000012.jpg"; dots in folder names do not count ("a.b/x.jpg" → "a.b/x").
    public let key: String
    /// The members by extension (what follows the key's dot: "jpg", "txt", "json", "seg.png").
    public var files: [String: TarMember] = [:]
    /// Members of this sample that could not be read, and duplicate members.
    public var problems: [String] = []

    public init(key: String) { self.key = key }
}

/// Reads a WebDataset shard (a tar archive as img2dataset writes it) sample by sample.
/// A damaged member becomes a problem of its sample; a damaged header ends the shard with a
/// key-less sample carrying the problem, so the caller can still report it.
public final class WebDatasetReader {
    private let tar: TarReader
    private var pending: WebDatasetSample?
    private var finished = false

    public init(path: String, maxMemberBytes: Int) throws {
        tar = try TarReader(path: path, maxMemberBytes: maxMemberBytes)
    }

    /// The next sample, or nil at the end.
    public func next() -> WebDatasetSample? {
        while !finished {
            guard let entry = tar.next() else {
                finished = true
                break
            }
            let name: String?
            switch entry {
            case .member(let m): name = m.name
            case .damaged(let n, _, _): name = n
            }
            guard let name else {
                // No name, no key: hand back what is pending, then the problem on its own.
                if case .damaged(_, let message, _) = entry {
                    var orphan = WebDatasetSample(key: "")
                    orphan.problems.append(message)
                    finished = true
                    return flush(then: orphan)
                }
                continue
            }
            let (key, ext) = Self.split(name)
            var emitted: WebDatasetSample?
            var sample = pending ?? WebDatasetSample(key: key)
            if sample.key != key {
                emitted = sample
                sample = WebDatasetSample(key: key)
            }
            switch entry {
            case .member(let m):
                if sample.files[ext] != nil {
                    sample.problems.append("\(name) appears twice")
                } else {
                    sample.files[ext] = m
                }
            case .damaged(_, let message, _):
                sample.problems.append("\(name): \(message)")
            }
            pending = sample
            if let emitted { return emitted }
        }
        defer { pending = nil }
        return pending
    }

    private func flush(then sample: WebDatasetSample) -> WebDatasetSample {
        if let p = pending {
            pending = sample
            return p
        }
        return sample
    }

    /// "dir/000012.seg.png" → ("dir/000012", "seg.png"): the key ends at the first dot of the
    /// file name (not of the folder). A name without a dot is a key with an empty extension.
    public static func split(_ name: String) -> (key: String, ext: String) {
        let fileStart = name.lastIndex(of: "/").map { name.index(after: $0) } ?? name.startIndex
        guard let dot = name[fileStart...].firstIndex(of: ".") else { return (name, "") }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }
}
