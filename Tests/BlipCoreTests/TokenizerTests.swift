import Foundation
import Testing
@testable import BlipCore

/// Reference data from scripts/make_tokenizer_fixtures.py (transformers v5 `AutoTokenizer` on a
/// BLIP-style directory = the Rust-backed `BertTokenizer`).
enum TokenizerFixtures {
    static let dir: String = Bundle.module.resourcePath! + "/Fixtures/tokenizer"

    nonisolated(unsafe) static let json: [String: Any] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: dir + "/cases.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    static let tokenizer: BertTokenizer = try! BertTokenizer.load(directory: dir)

    static func cases(_ key: String = "cases") -> [[String: Any]] { json[key] as! [[String: Any]] }
    static func ids(_ any: Any?) -> [Int32] { (any as! [NSNumber]).map { $0.int32Value } }

    /// Scalar-exact text (Swift `==` on String uses canonical equivalence).
    static func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

    /// A directory with the fixture vocabulary and the given tokenizer_config.json.
    static func directory(config: [String: Any]?) throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("blip-tok-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir + "/vocab.txt", toPath: d + "/vocab.txt")
        if let config {
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: d + "/tokenizer_config.json"))
        }
        return d
    }
}

@Test func tokenizerEncodeMatchesTransformers() {
    let tok = TokenizerFixtures.tokenizer
    let cases = TokenizerFixtures.cases()
    #expect(cases.count >= 500)
    var failures = 0
    for c in cases {
        let text = c["text"] as! String
        let want = TokenizerFixtures.ids(c["ids"])
        let got = tok.encode(text)
        if got != want {
            failures += 1
            Issue.record("encode \(text.debugDescription): got \(got), want \(want)")
        }
        #expect(tok.encode(text, addSpecialTokens: false) == Array(want.dropFirst().dropLast()))
        if failures > 20 { break }
    }
}

@Test func tokenizerDecodeMatchesTransformers() {
    let tok = TokenizerFixtures.tokenizer
    for c in TokenizerFixtures.cases() {
        let text = c["text"] as! String
        let ids = tok.encode(text)
        let decoded = tok.decode(ids)
        #expect(TokenizerFixtures.scalars(decoded) == TokenizerFixtures.scalars(c["decoded"] as! String),
                "decode(encode(\(text.debugDescription))) = \(decoded.debugDescription)")
        let keep = tok.decode(ids, skipSpecialTokens: false)
        #expect(TokenizerFixtures.scalars(keep) == TokenizerFixtures.scalars(c["decoded_with_special"] as! String),
                "decode(encode(\(text.debugDescription)), keep specials) = \(keep.debugDescription)")
    }
    for c in TokenizerFixtures.cases("decode_cases") {
        let ids = TokenizerFixtures.ids(c["ids"])
        #expect(TokenizerFixtures.scalars(tok.decode(ids)) == TokenizerFixtures.scalars(c["skip"] as! String),
                "decode(\(ids))")
        #expect(TokenizerFixtures.scalars(tok.decode(ids, skipSpecialTokens: false))
                == TokenizerFixtures.scalars(c["keep"] as! String), "decode(\(ids), keep specials)")
    }
}

@Test func tokenizerConfigVariantsMatchTransformers() throws {
    for v in TokenizerFixtures.json["variants"] as! [[String: Any]] {
        let overrides = v["config"] as! [String: Any]
        var config: [String: Any] = ["tokenizer_class": "BertTokenizer", "do_lower_case": true,
                                     "strip_accents": NSNull(), "model_max_length": 512]
        config.merge(overrides) { $1 }
        let d = try TokenizerFixtures.directory(config: config)
        defer { try? FileManager.default.removeItem(atPath: d) }
        let tok = try BertTokenizer.load(directory: d)
        for c in v["cases"] as! [[String: Any]] {
            let text = c["text"] as! String
            let ids = tok.encode(text)
            #expect(ids == TokenizerFixtures.ids(c["ids"]), "\(overrides) encode \(text.debugDescription)")
            #expect(TokenizerFixtures.scalars(tok.decode(ids)) == TokenizerFixtures.scalars(c["decoded"] as! String),
                    "\(overrides) decode \(text.debugDescription)")
        }
    }
}

@Test func tokenizerBlipSpecifics() throws {
    let tok = TokenizerFixtures.tokenizer
    #expect(tok.vocabulary.count == 30524)
    #expect(tok.vocabulary.fileTokenCount == 30522)
    #expect(tok.decID == 30522 && tok.encID == 30523)
    #expect(tok.padID == 0 && tok.unkID == 100 && tok.clsID == 101 && tok.sepID == 102 && tok.maskID == 103)
    #expect(tok.vocabulary.token(for: 30522) == "[DEC]" && tok.vocabulary.id(for: "[ENC]") == 30523)
    #expect(tok.modelMaxLength == nil)  // no tokenizer_config.json in the fixture directory
    #expect(tok.encode("a picture of") == [101, 1037, 3861, 1997, 102])
    #expect(tok.decode([30522, 1037, 2450, 3564, 2006, 1996, 3509, 2007, 2014, 3899, 102])
            == "a woman sitting on the beach with her dog")
    #expect(tok.decode([30522, 1037, 3861, 1997, 1037, 3899, 102, 0, 0]) == "a picture of a dog")
    // Out-of-range ids are skipped, never trap.
    #expect(tok.decode([-1, Int32.min, 1037, 30524, Int32.max, 3899]) == "a dog")
    #expect(tok.decode([30522, 30523, 1037], skipSpecialTokens: false) == "a")
    #expect(tok.decode([]) == "")
    #expect(tok.tokenize("unaffordable") == ["una", "##ff", "##ord", "##able"])
}

@Test func tokenizerLoadsHubStyleDirectory() throws {
    let d = try TokenizerFixtures.directory(config: [
        "tokenizer_class": "BertTokenizer", "do_lower_case": true, "do_basic_tokenize": true,
        "tokenize_chinese_chars": true, "strip_accents": NSNull(), "model_max_length": 512,
        "model_input_names": ["input_ids", "attention_mask"], "name_or_path": "bert-base-uncased",
    ])
    defer { try? FileManager.default.removeItem(atPath: d) }
    let tok = try BertTokenizer.load(directory: d)
    #expect(tok.modelMaxLength == 512 && !tok.cleanUpTokenizationSpaces)
    #expect(tok.basic.lowercase && tok.basic.stripAccents && tok.basic.tokenizeChineseChars)

    let bad = try TokenizerFixtures.directory(config: ["do_lower_case": "yes"])
    defer { try? FileManager.default.removeItem(atPath: bad) }
    #expect(throws: BlipError.self) { try BertTokenizer.load(directory: bad) }
    let other = try TokenizerFixtures.directory(config: ["tokenizer_class": "GPT2Tokenizer"])
    defer { try? FileManager.default.removeItem(atPath: other) }
    #expect(throws: BlipError.self) { try BertTokenizer.load(directory: other) }
    #expect(throws: BlipError.self) { try BertTokenizer.load(directory: "/nonexistent/dir") }
}

@Test func tokenizerVocabularyParsing() throws {
    // Lines end at \n, \r\n or \r; the last line needs no terminator; duplicates keep the last id.
    let v = try Vocabulary(bytes: Array("[PAD]\r\n[UNK]\r[CLS]\n[SEP]\nab\nc\nab\n\nx".utf8), file: "t.txt")
    #expect(v.fileTokenCount == 9 && v.count == 11)
    #expect(v.id(for: "ab") == 6 && v.token(for: 4) == nil && v.token(for: 6) == "ab")
    #expect(v.id(for: "") == 7 && v.id(for: "x") == 8 && v.id(for: "[DEC]") == 9 && v.id(for: "[ENC]") == 10)
    // Exact bytes, not canonical equivalence.
    let w = try Vocabulary(tokens: ["[UNK]", "caf\u{E9}", "cafe\u{301}"])
    #expect(w.id(for: "caf\u{E9}") == 1 && w.id(for: "cafe\u{301}") == 2)

    #expect(throws: BlipError.self) { try Vocabulary(bytes: [UInt8](), file: "empty.txt") }
    #expect(throws: BlipError.self) { try Vocabulary(bytes: [0x61, 0xFF, 0x0A], file: "bad.txt") }
    do {
        _ = try Vocabulary(bytes: [0xC3], file: "named.txt")
        Issue.record("expected an error")
    } catch let e as BlipError {
        #expect(e.kind == .modelFormat && e.message.contains("named.txt"))
    }
    // A vocabulary without [UNK] / [CLS] / [SEP] cannot make a tokenizer.
    #expect(throws: BlipError.self) { try BertTokenizer(vocabulary: try Vocabulary(tokens: ["[CLS]", "[SEP]", "a"])) }
}

@Test func tokenizerRobustOnHugeAndHostileInput() {
    let tok = TokenizerFixtures.tokenizer
    let clock = ContinuousClock()
    var rng = SystemRandomNumberGenerator()
    let pieces = ["a woman sitting on the beach ", "café ", "日本語", "😀", "\u{301}", "don't ", "[SEP]",
                  "\t", "x\u{0}y", "한국어 ", "ΟΔΟΣ ", "!!", "supercalifragilistic"]
    var big = ""
    while big.utf8.count < 1 << 20 { big += pieces.randomElement(using: &rng)! }
    let hostile = [
        big,
        String(repeating: "a", count: 1 << 20),                      // one 1 MB word → [UNK]
        "a" + String(repeating: "\u{301}\u{316}\u{334}", count: 100_000),  // huge mark run to reorder
        String(repeating: "\u{AC00}", count: 200_000),               // Hangul decomposition
        String(repeating: "[SEP", count: 100_000),                   // near-miss special tokens
        String(repeating: "##", count: 300_000),
        String(repeating: "ab ", count: 300_000),
    ]
    for text in hostile {
        let start = clock.now
        let ids = tok.encode(text)
        let text2 = tok.decode(ids)
        let elapsed = clock.now - start
        #expect(ids.first == 101 && ids.last == 102)
        #expect(!text2.isEmpty || ids.count <= 3)
        // Hang detection, not a benchmark: each takes well under a second in release, ~10 s
        // under AddressSanitizer on a shared core (23 s once, next to a training run).
        #expect(elapsed < .seconds(90), "\(text.prefix(10).debugDescription)… took \(elapsed)")
    }
    #expect(tok.encode(String(repeating: "a", count: 1 << 20)) == [101, 100, 102])
}
