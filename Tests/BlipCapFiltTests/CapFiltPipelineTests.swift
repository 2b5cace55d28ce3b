import BlipCapFilt
import BlipCore
import BlipData
import Glibc
import Testing

/// The pipeline on the tiny random-weight fixtures: texts are noise, but decoding, seeds,
/// scoring, thresholds and outputs are the real ones.
@Suite(.serialized) struct CapFiltPipelineTests {
    static let captioner = try! BlipModel.load(directory: CapFiltFixtures.captioner, threads: 1)
    static let filter = try! BlipModel.load(directory: CapFiltFixtures.filter, threads: 1)
    let folder = makeTemporaryFolder()

    func capfilter(_ configure: (inout CapFiltOptions) -> Void = { _ in }) throws -> CapFilter {
        var options = CapFiltOptions()
        options.captionsPerImage = 2
        configure(&options)
        return try CapFilter(captioner: Self.captioner, filter: Self.filter, options: options)
    }

    func pairs() throws -> [CapFiltPair] {
        try CapFiltFixtures.photos.enumerated().map { i, path in
            CapFiltPair(key: "k\(i)", image: path, imageBytes: try readAll(path), webText: "a photo number \(i)")
        }
    }

    /// Two shards of the fixture photos (with .png members kept as .png).
    func writeShards(_ input: String) throws {
        _ = mkdir(input, 0o755)
        for shard in 0..<2 {
            let w = try TarWriter(path: input + "/0000\(shard).tar")
            for (i, path) in CapFiltFixtures.photos.enumerated() {
                let key = "\(shard)0\(i)"
                try w.add(name: key + (path.hasSuffix(".png") ? ".png" : ".jpg"), bytes: try readAll(path), mtime: 1_700_000_000)
                try w.add(name: key + ".txt", bytes: Array("a photo number \(i)".utf8), mtime: 1_700_000_000)
            }
            try w.commit()
        }
    }

    @Test func resultsDoNotDependOnTheBatchSize() throws {
        let input = folder + "/shards"
        try writeShards(input)
        var outputs: [[String: [UInt8]]] = []
        for batchSize in [1, 8] {
            let output = folder + "/out\(batchSize)"
            _ = try CapFiltJob(input: input, output: output, capfilter: capfilter { $0.batchSize = batchSize }).run()
            let names = listFolder(output)
            #expect(names == ["00000.jsonl", "00000.tar", "00001.jsonl", "00001.tar"])
            outputs.append(Dictionary(uniqueKeysWithValues: try names.map { ($0, try readAll(output + "/" + $0)) }))
        }
        #expect(outputs[0] == outputs[1])
    }

    @Test func recordsDependOnTheKeyNotOnThePosition() throws {
        let c = try capfilter()
        let forward = c.process(try pairs())
        let backward = c.process(try pairs().reversed())
        #expect(forward == Array(backward.reversed()))
        // different keys, different captions (the seed follows the key)
        let p = try pairs()[0]
        let renamed = c.process(CapFiltPair(key: "other", image: p.image, imageBytes: p.imageBytes, webText: p.webText))
        #expect(renamed.synthetic.map(\.text) != forward[0].synthetic.map(\.text))
        #expect(renamed.web == forward[0].web)
    }

    @Test func textsAreKeptExactlyWhenTheirScoreReachesTheThreshold() throws {
        let records = try capfilter().process(try pairs())
        let scores = records.flatMap { [$0.web!] + $0.synthetic }.map(\.itm).sorted()
        #expect(scores.allSatisfy { $0 > 0 && $0 < 1 })
        let median = scores[scores.count / 2]
        for threshold in [Float(0), median, 1] {
            for r in try capfilter({ $0.threshold = threshold }).process(try pairs()) {
                let all = [r.web!] + r.synthetic
                #expect(all.allSatisfy { $0.kept == ($0.itm >= threshold) })
                #expect(r.texts == all.filter(\.kept).map(\.text))
                #expect(r.json.contains("\"texts\": [") && r.error == nil)
            }
        }
        // the median's own text is kept (>=, not >)
        let atMedian = try capfilter { $0.threshold = median }.process(try pairs())
            .flatMap { [$0.web!] + $0.synthetic }.filter { $0.itm == median }
        #expect(!atMedian.isEmpty && atMedian.allSatisfy(\.kept))
    }

    @Test func aPromptStartsEveryCaptionAndIsLeftOutOfIt() throws {
        let prompt = "a picture of"
        let withPrompt = try capfilter { $0.prompt = prompt; $0.captionsPerImage = 1 }
        let pair = try pairs()[0]
        let record = withPrompt.process(pair)
        // The same sample continued by hand: [DEC] a picture of ... decoded, minus the prompt.
        let captioner = Self.captioner
        let image = try ImageDecoder.decode(pair.imageBytes!)
        let states = try image.withView { try captioner.imageStates([try captioner.pixelValues($0)])[0] }
        var generation = withPrompt.options.generation
        generation.seed = CaptionSeed.derive(seed: 0, key: pair.key!, index: 0)
        let full = captioner.tokenizer.decode(try captioner.caption(
            imageStates: states, promptIds: try captioner.encodeText(prompt, what: "prompt"), options: generation))
        #expect(full.hasPrefix(prompt + " "))
        #expect(record.synthetic.map(\.text) == [String(full.dropFirst(prompt.count + 1))])
        let without = try capfilter { $0.captionsPerImage = 1 }.process(pair)
        #expect(without.synthetic.map(\.text) != record.synthetic.map(\.text))
        #expect(throws: BlipError.self) { try capfilter { $0.prompt = "  " } }
    }

    @Test func badPairsBecomeErrorRecords() throws {
        let c = try capfilter()
        let garbage = c.process(CapFiltPair(key: "g", image: "g.jpg", imageBytes: Array("not an image".utf8), webText: "a cat"))
        #expect(garbage.error != nil && garbage.texts.isEmpty && garbage.web == nil)
        #expect(garbage.json.hasPrefix("{\"key\": \"g\", \"image\": \"g.jpg\", \"texts\": [], \"error\": "))
        let tooLarge = try capfilter { $0.maxImagePixels = 1000 }.process(try pairs()[0])
        #expect(tooLarge.error?.contains("limit") == true || tooLarge.error?.contains("large") == true)
        let problem = c.process(CapFiltPair(key: "p", image: nil, imageBytes: nil, webText: nil, problem: "no text member p.txt"))
        #expect(problem.error == "no text member p.txt")
    }

    @Test func refusesModelsOfTheWrongKind() {
        #expect(throws: BlipError.self) {
            try CapFilter(captioner: Self.filter, filter: Self.filter, options: CapFiltOptions())
        }
        #expect(throws: BlipError.self) {
            try CapFilter(captioner: Self.captioner, filter: Self.captioner, options: CapFiltOptions())
        }
    }

    @Test func aLoneShardIsRefusedNotReadAsAManifest() throws {
        let input = folder + "/shards"
        try writeShards(input)
        #expect {
            try CapFiltJob(input: input + "/00000.tar", output: folder + "/out", capfilter: capfilter())
        } throws: { ($0 as? BlipError)?.message.contains("give the folder that holds the shards") == true }
        #expect(access(folder + "/out", F_OK) != 0)
    }
}
