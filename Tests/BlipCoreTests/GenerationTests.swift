import Testing
@testable import BlipCore

/// Caption and answer generation against transformers 5.24 `generate` on tiny random models
/// (models/captioning-gen, models/vqa-gen): token ids must be identical.
@Suite struct GenerationTests {
    @Test func decoderLogitsMatchTransformers() throws {
        let model = try Fixtures.load("captioning-gen")
        let vocab = model.config.text.vocabSize
        for photo in Fixtures.photoNames {
            let ref = TextFixtures.image("captioning-gen", photo)
            let states = Fixtures.floats(ref["vision_states"])
            let l = ref["decoder_logits"] as! [String: Any]
            let ids = TextFixtures.ids(l["ids"])
            let logits = try model.decoderLogits(crossStates: states, crossTokens: model.visionTokens, decoderIds: ids)
            let head = Fixtures.floats(l["head"]), maxes = Fixtures.floats(l["max"])
            let argmaxes = TextFixtures.ids(l["argmax"])
            for r in 0..<ids.count {
                let row = Array(logits[(r * vocab)..<((r + 1) * vocab)])
                #expect(maxAbsDiff(Array(row[0..<64]), Array(head[(r * 64)..<((r + 1) * 64)])) < 1e-4, "\(photo) row \(r)")
                let am = row.indices.max { row[$0] < row[$1] }!
                #expect(Int32(am) == argmaxes[r], "\(photo) row \(r)")
                #expect(abs(row[am] - maxes[r]) < 1e-4)
            }
        }
    }

    @Test func captionsMatchTransformers() throws {
        let model = try Fixtures.load("captioning-gen")
        var checked = 0
        for photo in Fixtures.photoNames {
            let ref = TextFixtures.image("captioning-gen", photo)
            let states = Fixtures.floats(ref["vision_states"])
            let expected = ref["generate"] as! [String: Any]
            for (name, options, prompt) in TextFixtures.cases("captioning-gen") {
                let ids = try model.caption(imageStates: states, promptIds: prompt, options: options)
                #expect(ids == TextFixtures.ids(expected[name]), "\(photo) \(name)")
                checked += 1
            }
        }
        #expect(checked >= 40)
    }

    /// The whole chain from transformers' pixel_values: vision encoder + decoder.
    @Test func captionsFromPixelsMatchTransformers() throws {
        let model = try Fixtures.load("captioning-gen")
        for photo in Fixtures.photoNames {
            let pixels = Fixtures.floats(Fixtures.expectedImage("captioning", photo)["pixel_values"])
            let states = try model.imageStates([pixels])[0]
            let expected = TextFixtures.image("captioning-gen", photo)["generate"] as! [String: Any]
            #expect(try model.caption(imageStates: states) == TextFixtures.ids(expected["greedy"]), "\(photo)")
            #expect(try model.caption(imageStates: [states, states], options: .paper) == [[Int32]](repeating: TextFixtures.ids(expected["beam3_min5"]), count: 2))
        }
    }

    @Test func answersMatchTransformers() throws {
        let model = try Fixtures.load("vqa-gen")
        let question = TextFixtures.ids(TextFixtures.expected["question_ids"])
        for photo in Fixtures.photoNames {
            let ref = TextFixtures.image("vqa-gen", photo)
            let states = Fixtures.floats(ref["vision_states"])
            let expected = ref["generate"] as! [String: Any]
            for (name, options, _) in TextFixtures.cases("vqa-gen") {
                let ids = try model.answer(imageStates: states, questionIds: question, options: options)
                #expect(ids == TextFixtures.ids(expected[name]), "\(photo) \(name)")
            }
        }
    }

    @Test func streamingCallbackSeesEveryNewToken() throws {
        let model = try Fixtures.load("captioning-gen")
        let states = Fixtures.floats(TextFixtures.image("captioning-gen", "chelsea.png")["vision_states"])
        for options in [GenerationOptions.hf, .paper] {
            var streamed: [Int32] = []
            let ids = try model.caption(imageStates: states, promptIds: [101, 1037, 3861, 1997, 102], options: options) {
                streamed.append($0); return true
            }
            #expect(Array(ids.dropFirst(4)) == streamed)
        }
        // returning false aborts
        var calls = 0
        #expect {
            _ = try model.caption(imageStates: states) { _ in calls += 1; return calls < 2 }
        } throws: { ($0 as? BlipError)?.kind == .aborted }
        #expect(calls == 2)
    }

    @Test func samplingIsDeterministicPerSeed() throws {
        let model = try Fixtures.load("captioning-gen")
        let states = Fixtures.floats(TextFixtures.image("captioning-gen", "camera_gray.png")["vision_states"])
        var outputs = Set<[Int32]>()
        for seed: UInt64 in 0..<6 {
            var o = GenerationOptions.capfilt
            o.seed = seed
            o.temperature = 1.5
            let a = try model.caption(imageStates: states, options: o)
            let b = try model.caption(imageStates: states, options: o)
            #expect(a == b, "seed \(seed)")
            #expect(a.first == 30522 && a.count <= 20 && a.count >= 5)
            outputs.insert(a)
            // beam sampling too
            var bo = o
            bo.numBeams = 2
            #expect(try model.caption(imageStates: states, options: bo) == model.caption(imageStates: states, options: bo))
        }
        #expect(outputs.count > 1, "different seeds should give different captions at least sometimes")
    }

    /// Captions decoded together (several images, several seeds, more rows than one batch) are
    /// token for token those of one-at-a-time calls: each row computes on its own.
    @Test func captionsDecodedTogetherEqualOneAtATime() throws {
        let model = try Fixtures.load("captioning-gen")
        let images = Fixtures.photoNames.map { Fixtures.floats(TextFixtures.image("captioning-gen", $0)["vision_states"]) }
        let seeds: [[UInt64]] = images.indices.map { i in (0..<(i + 2)).map { UInt64(100 * i + $0) } }
        #expect(seeds.joined().count > BlipModel.captionBatchRows)
        let prompt = model.tokenizer.encode("a picture of")
        var sampling = GenerationOptions.capfilt
        sampling.temperature = 1.5
        var distinct = Set<[Int32]>()
        for (options, promptIds) in [(sampling, [Int32]()), (sampling, prompt), (GenerationOptions.hf, prompt)] {
            let together = try model.captions(imageStates: images, seeds: seeds, promptIds: promptIds, options: options)
            for (i, states) in images.enumerated() {
                for (j, seed) in seeds[i].enumerated() {
                    var o = options
                    o.seed = seed
                    let alone = try model.caption(imageStates: states, promptIds: promptIds, options: o)
                    #expect(together[i][j] == alone, "image \(i) seed \(seed)")
                    distinct.insert(alone)
                }
            }
        }
        #expect(distinct.count > images.count, "sampled rows differ")
        // beam search goes one at a time, with the same result
        var beams = GenerationOptions.hf
        beams.numBeams = 2
        #expect(try model.captions(imageStates: [images[0]], seeds: [[7]], options: beams)[0][0]
                == model.caption(imageStates: images[0], options: beams))
        #expect(throws: BlipError.self) { try model.captions(imageStates: images, seeds: [[1]], options: sampling) }
    }

    @Test func badParametersThrow() throws {
        let model = try Fixtures.load("captioning-gen")
        let states = Fixtures.floats(TextFixtures.image("captioning-gen", "chelsea.png")["vision_states"])
        func invalid(_ o: GenerationOptions, prompt: [Int32] = [], _ line: Int = #line) {
            #expect(throws: BlipError.self, "line \(line)") { try model.caption(imageStates: states, promptIds: prompt, options: o) }
        }
        invalid(GenerationOptions(maxLength: 0))
        invalid(GenerationOptions(maxLength: -3))
        invalid(GenerationOptions(maxLength: 1))                // only [DEC]: nothing to generate (transformers raises too)
        invalid(GenerationOptions(maxLength: 41))               // beyond the 40-position table
        invalid(GenerationOptions(maxNewTokens: 0))
        invalid(GenerationOptions(numBeams: 0))
        invalid(GenerationOptions(minLength: -1))
        invalid(GenerationOptions(temperature: 0))
        invalid(GenerationOptions(topK: -1))
        invalid(GenerationOptions(topP: 1.5))
        invalid(GenerationOptions(repetitionPenalty: 0))
        invalid(GenerationOptions(noRepeatNgramSize: -2))
        invalid(GenerationOptions(), prompt: [Int32](repeating: 1037, count: 42))   // longer than the position table
        invalid(GenerationOptions(maxLength: 5), prompt: [101, 1037, 3861, 1997, 2003, 102])
        invalid(GenerationOptions(), prompt: [101, 40000, 102])
        invalid(GenerationOptions(), prompt: [101])
        #expect(throws: BlipError.self) { try model.caption(imageStates: [1, 2, 3]) }
        #expect(throws: BlipError.self) { try model.answer(imageStates: states, questionIds: [101, 102]) }
        #expect(throws: BlipError.self) { try model.textEmbedding(ids: [101, 102]) }
        // HF default length: 20 new tokens, capped by the position table
        let prompt = [Int32](repeating: 1037, count: 30) + [102]
        let ids = try model.caption(imageStates: states, promptIds: prompt, options: GenerationOptions(noRepeatNgramSize: 1))
        #expect(ids.count <= 40)
    }
}
