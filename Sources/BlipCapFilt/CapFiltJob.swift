import BlipCore
import BlipData
import Glibc

/// A CapFilt run over an input and an output, in one of two layouts:
/// - a JSONL manifest in, a JSONL file of records out;
/// - a folder of WebDataset shards (`NNNNN.tar`) in, a folder out with, per input shard, the
///   same name holding `KEY.jpg` (original bytes), `KEY.txt` (kept texts), `KEY.json` (the
///   record), plus `NNNNN.jsonl` with the shard's records.
///
/// Every output file is written under a temporary name, fsynced and renamed, so a killed run
/// leaves finished outputs and nothing else; a rerun with `resume` skips the finished ones and
/// redoes the rest. Because each caption's seed depends only on (seed, key, index), the redone
/// outputs are byte for byte what an uninterrupted run writes.
public final class CapFiltJob {
    public let input: String
    public let output: String
    public let capfilter: CapFilter
    private let units: [Unit]

    /// One output to produce: a shard, or the whole manifest.
    private struct Unit {
        let name: String
        let source: String
        /// The files that make it finished (all must exist), written in this order.
        let outputs: [String]
        let isShard: Bool
    }

    public init(input: String, output: String, capfilter: CapFilter) throws {
        self.input = input
        self.output = output
        self.capfilter = capfilter
        switch try Self.fileType(input) {
        case S_IFDIR:
            let shards = try Self.listShards(input)
            guard !shards.isEmpty else { throw BlipError.invalidArgument("\(input): no .tar shards in this folder") }
            try Self.makeFolder(output)
            units = shards.map { name in
                let stem = String(name.dropLast(".tar".count))
                return Unit(name: name, source: input + "/" + name,
                            outputs: [output + "/" + stem + ".jsonl", output + "/" + name], isShard: true)
            }
        case S_IFREG:
            // A lone shard read as JSONL would turn every tar block into an error record.
            if input.hasSuffix(".tar") {
                throw BlipError.invalidArgument("\(input) is a tar shard: give the folder that holds the shards (and a folder as --output)")
            }
            if (try? Self.fileType(output)) == S_IFDIR {
                throw BlipError.invalidArgument("\(output) is a folder; a JSONL manifest input writes a JSONL file of records")
            }
            units = [Unit(name: input, source: input, outputs: [output], isShard: false)]
        default:
            throw BlipError.invalidArgument("\(input): neither a JSONL manifest nor a folder of .tar shards")
        }
        if !capfilter.options.resume, let existing = units.flatMap(\.outputs).first(where: { access($0, F_OK) == 0 }) {
            throw BlipError.invalidArgument("\(existing) already exists; pass --resume to keep finished outputs and do the rest, or remove it")
        }
    }

    /// Runs every unfinished unit. `progress` is called after each batch; returning false stops
    /// the run with `.aborted` (finished outputs stay, the current one is discarded).
    public func run(progress: (CapFiltProgress) -> Bool = { _ in true }) throws -> CapFiltSummary {
        let clock = ContinuousClock()
        let start = clock.now
        func elapsed() -> Double {
            let d = (clock.now - start).components
            return Double(d.seconds) + Double(d.attoseconds) * 1e-18
        }
        let todo = units.filter { unit in !unit.outputs.allSatisfy { access($0, F_OK) == 0 } }
        let skipped = units.count - todo.count
        var statistics = CapFiltStatistics()
        var pairsInFinishedUnits = 0
        for (index, unit) in todo.enumerated() {
            unit.outputs.forEach(removeStaleTemporaries)
            // A manifest's size is known; a shard's is estimated from the shards done so far.
            let knownTotal: Int?
            var manifest: ManifestPairs?
            var shard: ShardPairs?
            if unit.isShard {
                shard = try ShardPairs(path: unit.source, name: unit.name, maxFileBytes: capfilter.options.maxFileBytes)
                knownTotal = index > 0 ? pairsInFinishedUnits * todo.count / index : nil
            } else {
                let m = try ManifestPairs(path: unit.source, maxFileBytes: capfilter.options.maxFileBytes)
                knownTotal = m.count
                manifest = m
            }
            let writer = try UnitWriter(unit.outputs, shard: unit.isShard)
            var seen = Set<String>()
            while true {
                var batch: [CapFiltPair] = [], repeats: [Bool] = []
                while batch.count < capfilter.options.batchSize,
                      let pair = unit.isShard ? shard?.next() : manifest?.next() {
                    let (checked, isRepeat) = Self.checkingRepeat(pair, seen: &seen)
                    batch.append(checked)
                    repeats.append(isRepeat)
                }
                if batch.isEmpty { break }
                for (i, record) in capfilter.process(batch).enumerated() {
                    try writer.add(batch[i], record, ownFiles: !repeats[i])
                    statistics.add(record)
                }
                let t = elapsed()
                let remaining = knownTotal.flatMap { total -> Double? in
                    let done = statistics.pairs
                    guard done > 0, total > done else { return nil }
                    return t / Double(done) * Double(total - done)
                }
                let report = CapFiltProgress(unit: unit.name, unitIndex: index, unitCount: todo.count, unitsDone: index,
                                             skipped: skipped, statistics: statistics, elapsedSeconds: t,
                                             remainingSeconds: remaining, knownPairs: unit.isShard ? nil : knownTotal)
                guard progress(report) else { throw BlipError(.aborted, "capfilt aborted during \(unit.name)") }
            }
            try writer.commit()
            pairsInFinishedUnits = statistics.pairs
            // One report per finished unit (what a caller counting shards waits for).
            let t = elapsed(), done = index + 1
            let remaining: Double? = done < todo.count ? t / Double(done) * Double(todo.count - done) : 0
            let report = CapFiltProgress(unit: unit.name, unitIndex: index, unitCount: todo.count, unitsDone: done,
                                         skipped: skipped, statistics: statistics, elapsedSeconds: t,
                                         remainingSeconds: remaining, knownPairs: unit.isShard ? nil : knownTotal)
            guard progress(report) else {
                if done < todo.count { throw BlipError(.aborted, "capfilt aborted after \(unit.name)") }
                break
            }
        }
        return CapFiltSummary(statistics: statistics, skipped: skipped, processed: todo.count, elapsedSeconds: elapsed())
    }

    /// A key seen before in the same input would overwrite the earlier sample's files and
    /// reuse its seeds: the repeat becomes an error record.
    private static func checkingRepeat(_ pair: CapFiltPair, seen: inout Set<String>) -> (CapFiltPair, isRepeat: Bool) {
        guard let key = pair.key, !seen.insert(key).inserted else { return (pair, false) }
        return (CapFiltPair(key: key, image: pair.image, imageBytes: nil, webText: nil, mtime: pair.mtime,
                            problem: "key \(key) appears more than once; this repeat is not processed"), true)
    }

    // MARK: files

    private static func fileType(_ path: String) throws -> mode_t {
        var st = stat()
        guard stat(path, &st) == 0 else { throw BlipError.io("\(path): \(String(cString: strerror(errno)))") }
        return st.st_mode & S_IFMT
    }

    /// The `.tar` files directly in `folder`, sorted by name (img2dataset's 00000.tar, 00001.tar, ...).
    private static func listShards(_ folder: String) throws -> [String] {
        try directoryEntries(folder).filter { name in
            name.hasSuffix(".tar") && name.count > 4 && (try? fileType(folder + "/" + name)) == S_IFREG
        }
    }

    private static func makeFolder(_ path: String) throws {
        if mkdir(path, 0o755) == 0 { return }
        guard errno == EEXIST, (try? fileType(path)) == S_IFDIR else {
            throw BlipError.io("\(path): cannot create the output folder (\(String(cString: strerror(errno))))")
        }
    }
}

/// The files of one output unit while it is written: the records as JSONL, and for a shard the
/// tar with each sample's image, kept texts and record. Nothing is visible under the final
/// names until `commit`; dropped uncommitted, the temporaries are removed.
private final class UnitWriter {
    private var records: AtomicFileWriter?
    private let tar: TarWriter?

    init(_ outputs: [String], shard: Bool) throws {
        records = try AtomicFileWriter(path: outputs[0])
        tar = shard ? try TarWriter(path: outputs[1]) : nil
    }

    /// `ownFiles` false: a repeated key, whose files would collide with the first sample's.
    func add(_ pair: CapFiltPair, _ record: CapFiltRecord, ownFiles: Bool) throws {
        let line = Array((record.json + "\n").utf8)
        try line.withUnsafeBytes { try records?.write($0) }
        // A sample without a key (a damaged header) has no files either; its record is in the JSONL.
        guard let tar, ownFiles, let key = pair.key else { return }
        if let image = pair.image, let bytes = pair.imageBytes {
            try tar.add(name: image, bytes: bytes, mtime: pair.mtime)
        }
        try tar.add(name: key + ".txt", bytes: Array(record.keptTextsFile.utf8), mtime: pair.mtime)
        try tar.add(name: key + ".json", bytes: Array(record.json.utf8), mtime: pair.mtime)
    }

    /// The records file first: a unit is finished only when every one of its files exists.
    func commit() throws {
        if let records = records.take() { try records.commit() }
        try tar?.commit()
    }
}
