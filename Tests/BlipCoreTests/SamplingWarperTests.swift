import Foundation
import Testing
@testable import BlipCore

/// The sampling warpers (temperature → top-k → top-p, with min_tokens_to_keep 1 or 2) against
/// transformers' TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper on hand-made rows
/// with ties at the boundaries and banned tokens (scripts/make_sampling_fixtures.py). Until these,
/// sampling was tested only for determinism.
@Suite struct SamplingWarperTests {
    struct Case {
        let row: String, temperature: Float, topK: Int, topP: Float, minKeep: Int, kept: String
    }

    static func load() throws -> (rows: [String: [Float]], cases: [Case]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.root + "/expected_warpers.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var rows: [String: [Float]] = [:]
        for (name, values) in json["rows"] as! [String: [Any]] {
            rows[name] = values.map { ($0 as? NSNumber)?.floatValue ?? -.infinity }
        }
        #expect(json["fields"] as? [String] == ["row", "temperature", "top_k", "top_p", "min_keep", "kept"])
        let cases = (json["cases"] as! [[Any]]).map {
            Case(row: $0[0] as! String, temperature: ($0[1] as! NSNumber).floatValue,
                 topK: ($0[2] as! NSNumber).intValue, topP: ($0[3] as! NSNumber).floatValue,
                 minKeep: ($0[4] as! NSNumber).intValue, kept: $0[5] as! String)
        }
        return (rows, cases)
    }

    @Test func warpersMatchTransformers() throws {
        let (rows, cases) = try Self.load()
        #expect(cases.count >= 800)
        var mismatches: [String] = []
        var tieCases = 0
        for c in cases {
            let logits = rows[c.row]!
            var options = GenerationOptions()
            options.doSample = true
            options.temperature = c.temperature
            options.topK = c.topK
            options.topP = c.topP
            let processors = LogitsProcessors(options: options, vocab: logits.count, eos: 2, minLength: 0)
            var row = logits
            row.withUnsafeMutableBufferPointer { processors.warp($0.baseAddress!, minKeep: c.minKeep) }
            let kept = String(row.map { $0 == -.infinity ? "0" : "1" })
            let label = "\(c.row) t=\(c.temperature) k=\(c.topK) p=\(c.topP) keep=\(c.minKeep)"
            if kept != c.kept { tieCases += 1 }
            if kept != c.kept && !Self.sameUpToTies(kept, c.kept, logits) {
                mismatches.append("\(label): kept \(kept.filter { $0 == "1" }.count) tokens, transformers \(c.kept.filter { $0 == "1" }.count)")
                continue
            }
            // A surviving token's score is its logit divided by the temperature, exactly.
            for (i, v) in row.enumerated() where v != -.infinity {
                let scaled = c.temperature == 1 ? logits[i] : logits[i] / c.temperature
                if v != scaled { mismatches.append("\(label): token \(i) is \(v), expected \(scaled)"); break }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) cases differ: \(mismatches.prefix(5))")
        #expect(tieCases > 0 && tieCases < cases.count / 10)
    }

    /// torch.sort is not stable, so when equal logits straddle the top-p boundary, which of them
    /// transformers drops depends on its sort's internals (neither index order nor its reverse).
    /// Both keep the same number of them; every token on which the masks differ must be tied
    /// with one that differs the other way.
    static func sameUpToTies(_ a: String, _ b: String, _ logits: [Float]) -> Bool {
        let a = Array(a), b = Array(b)
        guard a.filter({ $0 == "1" }).count == b.filter({ $0 == "1" }).count else { return false }
        let onlyA = a.indices.filter { a[$0] == "1" && b[$0] == "0" }
        let onlyB = a.indices.filter { a[$0] == "0" && b[$0] == "1" }
        let valuesA = onlyA.map { logits[$0] }.sorted(), valuesB = onlyB.map { logits[$0] }.sorted()
        return valuesA == valuesB
    }
}
