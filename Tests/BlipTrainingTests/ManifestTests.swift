import BlipCore
import BlipData
import Testing

@Suite struct ManifestTests {
    /// Every kind of bad row is skipped with its line number; good rows keep theirs.
    @Test func problemsCarryLineNumbers() throws {
        let dir = try ScratchDirectory()
        try dir.copy(fixture: "astronaut.jpg", as: "a.jpg")
        let absolute = try dir.copy(fixture: "camera_gray.png", as: "g.png")
        let lines: [String] = [
            #"{"image": "a.jpg", "text": "a man in a suit"}"#,                 // 1 ok
            "",                                                                 // 2 blank
            #"{"image": "a.jpg", "text": "id", "image_id": 7}"#,                // 3 ok, int id
            "{not json",                                                        // 4
            #"["image", "text"]"#,                                              // 5 not an object
            #"{"image": "a.jpg"}"#,                                             // 6 missing text
            #"{"image": "a.jpg", "text": 3}"#,                                  // 7 non-string text
            #"{"image": "a.jpg", "text": "  \t "}"#,                            // 8 blank text
            #"{"image": 12, "text": "x"}"#,                                     // 9 image not a string
            #"{"image": "missing.jpg", "text": "x"}"#,                          // 10 file missing
            #"{"image": "a.jpg", "text": "x", "image_id": true}"#,              // 11 wrong id type
            #"{"image": "a.jpg", "text": "x", "image_id": 1.5}"#,               // 12 wrong id type
            "{\"image\": \"\(absolute)\", \"text\": \"gray\", \"image_id\": \"cam\"}\r",  // 13 ok, absolute, CRLF
            "   ",                                                              // 14 blank
            #"{"image": ".", "text": "a folder"}"#,                             // 15 not a regular file
            #"{"image": "a.jpg", "text": "null id", "image_id": null}"#,        // 16 ok (null = absent)
        ]
        var bytes = Array(lines.joined(separator: "\n").utf8)
        bytes += Array("\n{\"image\": \"a.jpg\", \"text\": \"caf".utf8) + [0xC3, 0x28] + Array("\"}\n".utf8)  // 17 bad UTF-8
        bytes += Array("{\"image\": \"a.jpg\", \"text\": \"".utf8) + [UInt8](repeating: 0x61, count: Manifest.maxLineBytes)
            + Array("\"}\n".utf8)                                                                          // 18 over 1 MB
        let path = try dir.write("train.jsonl", bytes)

        let m = try Manifest.read(path: path, task: .caption, strict: false)
        #expect(m.rows.map(\.line) == [1, 3, 13, 16])
        #expect(m.rows[0].imagePath == dir.path + "/a.jpg")
        #expect(m.rows[0].text == "a man in a suit")
        #expect(m.rows[0].imageId == dir.path + "/a.jpg")
        #expect(m.rows[0].answer == nil)
        #expect(m.rows[1].imageId == "7")
        #expect(m.rows[2].imagePath == absolute && m.rows[2].imageId == "cam")
        #expect(m.rows[3].imageId == m.rows[3].imagePath)

        let byLine = Dictionary(uniqueKeysWithValues: m.problems.map { ($0.line, $0.message) })
        #expect(m.problems.map(\.line) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 17, 18])
        #expect(byLine[4] == "not valid JSON")
        #expect(byLine[5] == "not a JSON object")
        #expect(byLine[6] == #"missing "text""#)
        #expect(byLine[7] == #""text" must be a string"#)
        #expect(byLine[8] == #""text" is empty"#)
        #expect(byLine[9] == #""image" must be a string"#)
        #expect(byLine[10] == "image \(dir.path)/missing.jpg not found")
        #expect(byLine[11] == #""image_id" must be an integer or a string"#)
        #expect(byLine[12] == #""image_id" must be an integer or a string"#)
        #expect(byLine[15] == "image \(dir.path)/. is not a regular file")
        #expect(byLine[17] == "not valid UTF-8")
        #expect(byLine[18]?.hasPrefix("line is longer than 1 MB") == true)
        #expect(m.problems[0].description == "\(path):4: not valid JSON")
    }

    @Test func vqaRowsNeedQuestionAndAnswer() throws {
        let dir = try ScratchDirectory()
        try dir.copy(fixture: "astronaut.jpg", as: "a.jpg")
        let path = try dir.write("vqa.jsonl", text: """
            {"image": "a.jpg", "question": "who is it?", "answer": "astronaut"}
            {"image": "a.jpg", "question": "who is it?"}
            {"image": "a.jpg", "text": "caption rows are not vqa rows", "answer": "x"}
            {"image": "a.jpg", "question": "q", "answer": ""}
            """)
        let m = try Manifest.read(path: path, task: .vqa, strict: false)
        #expect(m.rows.count == 1)
        #expect(m.rows.first?.text == "who is it?" && m.rows.first?.answer == "astronaut")
        #expect(m.problems.map(\.line) == [2, 3, 4])
        #expect(m.problems.map(\.message) == [#"missing "answer""#, #"missing "question""#, #""answer" is empty"#])
    }

    /// Match rows may list explicit ITM negatives; caption rows ignore the field.
    @Test func matchRowsMayListNegatives() throws {
        let dir = try ScratchDirectory()
        try dir.copy(fixture: "astronaut.jpg", as: "a.jpg")
        let many = (0...Manifest.maxNegativesPerRow).map { "\"n\($0)\"" }.joined(separator: ", ")
        let path = try dir.write("match.jsonl", text: """
            {"image": "a.jpg", "text": "a man", "negatives": ["a dog", "two men"]}
            {"image": "a.jpg", "text": "a man", "negatives": []}
            {"image": "a.jpg", "text": "a man", "negatives": "a dog"}
            {"image": "a.jpg", "text": "a man", "negatives": ["a dog", 3]}
            {"image": "a.jpg", "text": "a man", "negatives": ["a dog", " "]}
            {"image": "a.jpg", "text": "a man", "negatives": [\(many)]}
            {"image": "a.jpg", "text": "a man", "negatives": null}
            """)
        let m = try Manifest.read(path: path, task: .match, strict: false)
        #expect(m.rows.map(\.line) == [1, 2])
        #expect(m.rows.map(\.negatives) == [["a dog", "two men"], []])
        #expect(m.problems.map(\.message) == [
            #""negatives" must be an array of strings"#, #""negatives" must be an array of strings"#,
            #""negatives"[1] is empty"#, "\"negatives\" lists \(Manifest.maxNegativesPerRow + 1) texts (at most \(Manifest.maxNegativesPerRow))",
            #""negatives" must be an array of strings"#])
        let caption = try Manifest.read(path: path, task: .caption, strict: false)
        #expect(caption.rows.count == 7 && caption.rows.allSatisfy(\.negatives.isEmpty))
    }

    /// A caption row may carry its own prompt; other tasks refuse the field.
    @Test func captionRowsMayCarryTheirOwnPrompt() throws {
        let dir = try ScratchDirectory()
        try dir.copy(fixture: "astronaut.jpg", as: "a.jpg")
        let path = try dir.write("rows.jsonl", text: """
            {"image": "a.jpg", "text": "a man", "prompt": "where are"}
            {"image": "a.jpg", "text": "a man"}
            {"image": "a.jpg", "text": "a man", "prompt": " "}
            {"image": "a.jpg", "text": "a man", "prompt": 3}
            {"image": "a.jpg", "text": "a man", "prompt": null}
            """)
        let m = try Manifest.read(path: path, task: .caption, strict: false)
        #expect(m.rows.map(\.prompt) == ["where are", nil])
        #expect(m.problems.map(\.message) == [#""prompt" is empty"#, #""prompt" must be a string"#, #""prompt" must be a string"#])
        let match = try Manifest.read(path: path, task: .match, strict: false)
        #expect(match.rows.map(\.line) == [2])
        #expect(match.problems.map(\.message) == Array(repeating: #""prompt" applies to caption rows only"#, count: 4))
    }

    /// Relative paths resolve against the manifest's folder, not the working directory.
    @Test func imagesResolveAgainstTheManifestFolder() throws {
        let dir = try ScratchDirectory()
        try dir.copy(fixture: "astronaut.jpg", as: "a.jpg")
        let path = try dir.write("m.jsonl", text: #"{"image": "a.jpg", "text": "x"}"# + "\n")
        let m = try Manifest.read(path: dir.path + "/./m.jsonl", task: .match, strict: true)
        #expect(m.rows.map(\.imagePath) == [dir.path + "/./a.jpg"])
        #expect(m.path == dir.path + "/./m.jsonl" && path.hasSuffix("m.jsonl"))
    }

    @Test func strictModeStopsAtTheFirstProblem() throws {
        let dir = try ScratchDirectory()
        try dir.copy(fixture: "astronaut.jpg", as: "a.jpg")
        let path = try dir.write("train.jsonl", text: """
            {"image": "a.jpg", "text": "fine"}

            {"image": "a.jpg", "text": 5}
            {"image": "gone.jpg", "text": "x"}
            """)
        let e = blipError { _ = try Manifest.read(path: path, task: .caption, strict: true) }
        #expect(e?.kind == .invalidArgument)
        #expect(e?.message == "\(path):3: \"text\" must be a string")
        // Without strict the same file loads, with two problems.
        #expect(try Manifest.read(path: path, task: .caption, strict: false).problems.count == 2)
    }

    @Test func fileLevelErrors() throws {
        let dir = try ScratchDirectory()
        let missing = blipError { _ = try Manifest.read(path: dir.file("none.jsonl"), task: .caption, strict: false) }
        #expect(missing?.kind == .io)
        #expect(missing?.message.hasPrefix(dir.file("none.jsonl") + ": cannot open") == true)

        let bad = try dir.write("bad.jsonl", text: "\n{\"image\": \"x.jpg\", \"text\": \"t\"}\n[]\n")
        let none = blipError { _ = try Manifest.read(path: bad, task: .caption, strict: false) }
        #expect(none?.kind == .invalidArgument)
        #expect(none?.message == "\(bad): no valid rows (2 problems; first: line 2: image \(dir.path)/x.jpg not found)")

        let empty = try dir.write("empty.jsonl", text: "\n \n")
        #expect(blipError { _ = try Manifest.read(path: empty, task: .caption, strict: false) }?.message
                == "\(empty): no valid rows (no rows)")
    }

    /// Random bytes (biased towards JSON punctuation) never crash the reader: it returns rows
    /// or throws a BlipError. Also a line of deep nesting, which recursive parsers overflow on.
    @Test func fuzzedManifestsNeverCrash() throws {
        let dir = try ScratchDirectory()
        try dir.copy(fixture: "astronaut.jpg", as: "a.jpg")
        let alphabet = Array(#"{}[]":,\ ntexmig.jpa0123456789-"#.utf8) + [0x0A, 0x00, 0xC3, 0xFF, 0xE2, 0x80]
        var rng = SeededRandom(seed: 42)
        let good = Array(#"{"image": "a.jpg", "text": "ok"}"#.utf8) + [0x0A]
        for iteration in 0..<300 {
            var bytes: [UInt8] = iteration % 3 == 0 ? good : []
            let n = Int(rng.next() % 400)
            for _ in 0..<n {
                bytes.append(rng.next() % 4 == 0 ? UInt8(truncatingIfNeeded: rng.next())
                                                 : alphabet[Int(rng.next() % UInt64(alphabet.count))])
            }
            let path = try dir.write("fuzz.jsonl", bytes)
            do {
                let m = try Manifest.read(path: path, task: iteration % 2 == 0 ? .caption : .vqa, strict: iteration % 5 == 0)
                #expect(!m.rows.isEmpty)
            } catch is BlipError {
            } catch {
                Issue.record("iteration \(iteration): unexpected error \(error)")
            }
        }
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 500_000) + [0x0A] + good
        let m = try Manifest.read(path: try dir.write("deep.jsonl", deep), task: .caption, strict: false)
        #expect(m.rows.map(\.line) == [2])
        #expect(m.problems.map(\.line) == [1])
    }
}
