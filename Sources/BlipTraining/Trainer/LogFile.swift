import BlipCore
import Glibc

/// `--log FILE.jsonl`: one JSON object per optimizer step (and per evaluation), flushed as
/// written so a killed run keeps every line it reported.
final class LogFile {
    private let file: UnsafeMutablePointer<FILE>

    deinit { fclose(file) }

    /// `resumingAfter` k > 0 keeps the lines of steps 1…k from the interrupted run (a run killed
    /// after its last checkpoint logged steps that the resumed run repeats) and appends.
    init(path: String, resumingAfter step: Int) throws {
        if step > 0, let old = try? readFile(path) {
            let kept = String(decoding: old, as: UTF8.self).split(separator: "\n").filter { line in
                guard let json = try? JSONValue.parse(Array(line.utf8), file: path),
                      let s = json["step"]?.intValue else { return false }
                return s <= step
            }
            try writeFileAtomically(Array(kept.map { $0 + "\n" }.joined().utf8), to: path)
        }
        guard let f = fopen(path, step > 0 ? "a" : "w") else {
            throw BlipError.io("\(path): cannot open for writing (\(String(cString: strerror(errno))))")
        }
        file = f
    }

    func write(_ p: FinetuneProgress) throws {
        var fields = ["\"step\": \(p.step)", "\"epoch\": \(p.epoch)", "\"loss\": \(json(p.loss))", "\"lr\": \(json(Double(p.lr)))",
                      "\"grad_norm\": \(json(p.gradientNorm))", "\"samples_per_second\": \(json(p.samplesPerSecond))", "\"step_seconds\": \(json(p.stepSeconds))"]
        if let c = p.contrastiveLoss { fields.append("\"loss_itc\": \(json(c))") }
        if let m = p.matchingLoss { fields.append("\"loss_itm\": \(json(m))") }
        try line("{" + fields.joined(separator: ", ") + "}")
    }

    func write(_ e: FinetuneEvaluation) throws {
        var fields = ["\"eval\": true", "\"step\": \(e.step)", "\"epoch\": \(e.epoch)", "\"val_loss\": \(json(e.loss))"]
        for (name, value) in e.metrics { fields.append("\(jsonQuote(name)): \(json(value))") }
        try line("{" + fields.joined(separator: ", ") + "}")
    }

    private func line(_ s: String) throws {
        guard fputs(s + "\n", file) >= 0, fflush(file) == 0 else { throw BlipError.io("cannot write the --log file") }
    }

    /// JSON has no NaN or infinity: those become null.
    private func json(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
}
