import ArgumentParser
import BlipCapFilt
import BlipCore
import Foundation

struct CapFiltCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capfilt",
        abstract: "CapFilt: synthetic captions for (image, web text) pairs, every text kept or dropped by a filter's ITM score.",
        discussion: """
        INPUT is a JSONL manifest ({"image", "text"} rows, optional "key") and OUTPUT a JSONL file of \
        records, or INPUT is a folder of WebDataset shards (NNNNN.tar with KEY.jpg, KEY.txt, KEY.json) and \
        OUTPUT a folder getting the same shard names (KEY.jpg copied, KEY.txt the kept texts, KEY.json the \
        record) and an NNNNN.jsonl of records per shard.
        """)
    @Option(help: "Captioning model (BlipForConditionalGeneration) directory.") var captioner: String
    @Option(help: "Filter model (BlipForImageTextRetrieval with an ITM head) directory.") var filter: String
    @Option(help: "JSONL manifest or folder of .tar shards.") var input: String
    @Option(help: "JSONL file (manifest input) or folder (shard input).") var output: String
    @Option(name: .customLong("captions-per-image"), help: "Synthetic captions sampled per image.") var captionsPerImage = 1
    @Option(help: "Keep a text when its ITM match probability is at least this.") var threshold: Float = 0.5
    @Option(help: "Decoding preset of the synthetic captions: \(GenerationOptions.presetNames.joined(separator: ", ")).")
    var preset = "capfilt"
    @Option(help: "Text every synthetic caption starts from, as the captioner was finetuned (e.g. \"a picture of\"); left out of the caption that is scored and recorded.")
    var prompt: String?
    @Option(help: "Run seed; each caption's seed derives from it, the sample key and the caption index.") var seed: UInt64 = 0
    @Option(name: .customLong("batch-size"), help: "Pairs read and processed together (results do not depend on it).")
    var batchSize = 8
    @Option(help: "Threads (0 = all cores).") var threads = 0
    @Flag(help: "Keep finished outputs (shards) and do only the rest.") var resume = false
    @Flag(help: "No progress lines (the summary is still printed).") var quiet = false

    func run() throws {
        var options = CapFiltOptions()
        options.captionsPerImage = captionsPerImage
        options.threshold = threshold
        options.seed = seed
        options.prompt = prompt
        options.batchSize = batchSize
        options.resume = resume
        guard threads >= 0 else { throw ValidationError("--threads must be 0 or more") }
        do {
            try options.setPreset(preset)
            let capfilter = try CapFilter(captionerPath: captioner, filterPath: filter, options: options, threads: threads)
            let job = try CapFiltJob(input: input, output: output, capfilter: capfilter)
            var lastLine = -Double.infinity
            let summary = try job.run { p in
                // A line every few seconds and at the end of each shard's batches is enough for logs and terminals.
                if !quiet, p.elapsedSeconds - lastLine >= 5 {
                    lastLine = p.elapsedSeconds
                    printError(progressLine(p))
                }
                return true
            }
            printError("capfilt: " + summary.text)
        } catch let e as BlipError {
            reportError(e.message)
            throw ExitCode(2)
        }
    }

    private func progressLine(_ p: CapFiltProgress) -> String {
        let eta = p.remainingSeconds.map(clockTime) ?? "--:--:--"
        return "capfilt: \(p.unit) (\(p.unitIndex + 1)/\(p.unitCount)), \(p.statistics.pairs) pairs, "
            + String(format: "%.1f", p.imagesPerSecond) + " images/s, ETA \(eta)"
    }

    private func clockTime(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%02d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
