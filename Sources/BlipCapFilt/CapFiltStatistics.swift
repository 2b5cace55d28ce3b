/// Counts over the records of a run, for the progress line and the closing summary.
public struct CapFiltStatistics: Sendable, Equatable {
    /// Records written (pairs in, error records included).
    public var pairs = 0
    public var errors = 0
    public var webKept = 0
    public var syntheticScored = 0
    public var syntheticKept = 0
    /// Pairs whose image was captioned and scored (pairs - errors).
    public var images: Int { pairs - errors }

    public init() {}

    mutating func add(_ record: CapFiltRecord) {
        pairs += 1
        if record.error != nil { errors += 1 }
        if record.web?.kept == true { webKept += 1 }
        syntheticScored += record.synthetic.count
        syntheticKept += record.synthetic.filter(\.kept).count
    }
}

/// Where a run is, after each batch.
public struct CapFiltProgress: Sendable {
    /// The shard (or manifest) being processed and its position among those this run does.
    public let unit: String
    public let unitIndex: Int
    public let unitCount: Int
    /// Units this run has finished (committed) so far: `unitIndex` during a unit's batches,
    /// `unitIndex + 1` in the report that follows its commit.
    public let unitsDone: Int
    /// Shards found finished and skipped (--resume).
    public let skipped: Int
    public let statistics: CapFiltStatistics
    public let elapsedSeconds: Double
    /// Estimated seconds left, once there is enough to estimate from (a manifest's size is
    /// known up front; for shards, the pairs per shard of the shards done so far).
    public let remainingSeconds: Double?
    /// The run's total pairs when known exactly (a manifest); nil for shards.
    public let knownPairs: Int?

    public var imagesPerSecond: Double { elapsedSeconds > 0 ? Double(statistics.images) / elapsedSeconds : 0 }
}

/// What a finished run did.
public struct CapFiltSummary: Sendable {
    public let statistics: CapFiltStatistics
    /// Shards (or the manifest's output) that were already finished and skipped.
    public let skipped: Int
    public let processed: Int
    public let elapsedSeconds: Double

    public var imagesPerSecond: Double { elapsedSeconds > 0 ? Double(statistics.images) / elapsedSeconds : 0 }

    /// "1000 pairs in (3 errors), web texts kept 61.2%, synthetic kept 48.0%, 4.1 images/s".
    public var text: String {
        let s = statistics
        func percent(_ n: Int, _ of: Int) -> String {
            of > 0 ? String(format1: 100 * Double(n) / Double(of)) + "%" : "-"
        }
        var line = "\(s.pairs) pairs in (\(s.errors) errors), web texts kept \(percent(s.webKept, s.images)), "
            + "synthetic kept \(percent(s.syntheticKept, s.syntheticScored)) of \(s.syntheticScored), "
            + "\(String(format1: imagesPerSecond)) images/s"
        if skipped > 0 { line += ", \(skipped) finished output(s) skipped" }
        return line
    }
}

extension String {
    /// One decimal, without Foundation's formatter.
    init(format1 value: Double) {
        guard value.isFinite else { self = "-"; return }
        let tenths = (value * 10).rounded()
        let whole = Int(tenths / 10), frac = Int(abs(tenths).truncatingRemainder(dividingBy: 10))
        self = (tenths < 0 && whole == 0 ? "-" : "") + "\(whole).\(frac)"
    }
}
