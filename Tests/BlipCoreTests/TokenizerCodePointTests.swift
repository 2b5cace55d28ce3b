import Foundation
import Testing
@testable import BlipCore

/// Exhaustive per-code-point comparison against a dump of the `tokenizers` normalizer and
/// pre-tokenizer (written by scripts/make_tokenizer_fixtures.py --codepoints PATH, several MB,
/// not committed). Runs only when BLIP_TOKENIZER_CODEPOINTS names that dump.
@Test(.enabled(if: ProcessInfo.processInfo.environment["BLIP_TOKENIZER_CODEPOINTS"] != nil))
func tokenizerEveryCodePoint() throws {
    let path = ProcessInfo.processInfo.environment["BLIP_TOKENIZER_CODEPOINTS"]!
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let dump = try JSONSerialization.jsonObject(with: data) as! [String: [String]]
    let basic = BasicTokenizer()
    var mismatches: [String] = []
    for v in UInt32(0)...0x10FFFF {
        guard let c = Unicode.Scalar(v) else { continue }
        let expected = dump[String(v)] ?? [String(c), "n"]
        let norm = basic.normalize(String(c))
        let cls = BertUnicode.isWhitespace(c) ? "w" : BertUnicode.isPunctuation(c) ? "p" : "n"
        let want = Array(expected[0].unicodeScalars)
        if norm != want || cls != expected[1] {
            mismatches.append(String(format: "%04X", v) + " \(c.properties.generalCategory) want \(want.map { String($0.value, radix: 16) }) \(expected[1]) got \(norm.map { String($0.value, radix: 16) }) \(cls)")
        }
    }
    if !mismatches.isEmpty {
        try mismatches.joined(separator: "\n").write(toFile: "/tmp/cp_mismatches.txt", atomically: true, encoding: .utf8)
    }
    #expect(mismatches.isEmpty, "\(mismatches.count) code points differ, e.g. \(mismatches.prefix(20))")
}
