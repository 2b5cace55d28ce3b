import Foundation
import Testing
@testable import BlipCore

/// Full-size parity against transformers, driven by scripts/text_parity_check.py, which writes
/// the photos' pixel_values and transformers' outputs and sets BLIP_FULL_MODEL_DIR and
/// BLIP_TEXT_PARITY_DIR. Skipped (with this message) when they are unset.
@Suite(.serialized) struct FullSizeTextParityTests {
    static let modelRoot = ProcessInfo.processInfo.environment["BLIP_FULL_MODEL_DIR"]
    static let dataDir = ProcessInfo.processInfo.environment["BLIP_TEXT_PARITY_DIR"]
    static let enabled = modelRoot != nil && dataDir != nil
    static var threads: Int { Int(ProcessInfo.processInfo.environment["BLIP_THREADS"] ?? "2") ?? 2 }

    static func expected() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dataDir! + "/expected.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func pixels(_ file: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dataDir! + "/" + file))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    @Test(.enabled(if: enabled, "set BLIP_FULL_MODEL_DIR and BLIP_TEXT_PARITY_DIR (scripts/text_parity_check.py does)"))
    func captionsMatchTransformersAtFullSize() throws {
        let model = try BlipModel.load(directory: Self.modelRoot! + "/blip-base-captioning", threads: Self.threads)
        let exp = try Self.expected()
        let cases = exp["caption_cases"] as! [String: Any]
        let byPhoto = exp["captioning"] as! [String: Any]
        var matched = 0, total = 0
        var chelseaStates: [Float] = []
        for photo in byPhoto.keys.sorted() {
            let states = try model.imageStates([Self.pixels(photo + ".f32")])[0]
            if photo == "chelsea" { chelseaStates = states }
            let expected = byPhoto[photo] as! [String: Any]
            for name in cases.keys.sorted() {
                let (options, prompt) = TextFixtures.options(cases[name] as! [String: Any])
                let ids = try model.caption(imageStates: states, promptIds: prompt, options: options)
                let want = TextFixtures.ids(expected[name])
                total += 1
                if ids == want { matched += 1 }
                #expect(ids == want, "\(photo) \(name)")
                print("full-size caption \(photo) \(name): \(ids == want ? "MATCH" : "MISMATCH") \(ids)\(ids == want ? "" : " expected \(want)")")
            }
        }
        print("full-size captions: \(matched)/\(total) token-identical to transformers")

        // latency: 20 new tokens, vision excluded (same settings as the torch timing)
        let torch = exp["timing_torch"] as! [String: Any]
        let greedy = GenerationOptions(maxLength: 21, minLength: 21)
        var beam = greedy
        beam.numBeams = 3
        var results: [String: Double] = [:]
        for (name, options) in [("greedy20", greedy), ("beam3_20", beam)] {
            _ = try model.caption(imageStates: chelseaStates, options: options)   // warm-up
            var times: [Double] = []
            for _ in 0..<3 { times.append(try Self.seconds { _ = try model.caption(imageStates: chelseaStates, options: options) }) }
            results[name] = times.sorted()[1]
        }
        let px = try Self.pixels("chelsea.f32")
        results["vision"] = try Self.seconds { _ = try model.imageStates([px]) }
        for (name, t) in results.sorted(by: { $0.key < $1.key }) {
            let ref = (torch[name] as? NSNumber)?.doubleValue ?? .nan
            print(String(format: "timing %@: libblip %.1f ms, torch %.1f ms, ratio torch/libblip %.2f", name, t * 1000, ref * 1000, ref / t))
        }
    }

    @Test(.enabled(if: enabled, "set BLIP_FULL_MODEL_DIR and BLIP_TEXT_PARITY_DIR (scripts/text_parity_check.py does)"))
    func answersAndMatchingAtFullSize() throws {
        let exp = try Self.expected()
        if let vqaExpected = exp["vqa"] as? [String: Any], !vqaExpected.isEmpty {
            let model = try BlipModel.load(directory: Self.modelRoot! + "/blip-base-vqa", threads: Self.threads)
            let cases = exp["vqa_cases"] as! [String: Any]
            let question = TextFixtures.ids(exp["question_ids"])
            for photo in vqaExpected.keys.sorted() {
                let states = try model.imageStates([Self.pixels("vqa_\(photo).f32")])[0]
                let expected = vqaExpected[photo] as! [String: Any]
                for name in cases.keys.sorted() {
                    let (options, _) = TextFixtures.options(cases[name] as! [String: Any])
                    let ids = try model.answer(imageStates: states, questionIds: question, options: options)
                    #expect(ids == TextFixtures.ids(expected[name]), "vqa \(photo) \(name)")
                    print("full-size vqa \(photo) \(name): \(ids == TextFixtures.ids(expected[name]) ? "MATCH" : "MISMATCH") \(ids)")
                }
            }
        }
        if let itmExpected = exp["itm"] as? [String: Any], !itmExpected.isEmpty {
            let model = try BlipModel.load(directory: Self.modelRoot! + "/blip-base-itm", threads: Self.threads)
            var worst: Float = 0
            for c in itmExpected["text_embeddings"] as! [[String: Any]] {
                let e = try model.textEmbedding(ids: TextFixtures.ids(c["ids"]))
                let d = maxAbsDiff(e, Fixtures.floats(c["embedding"]))
                worst = max(worst, d)
                #expect(d < 1e-4)
            }
            print("full-size text embeddings: max |Δ| \(worst)")
            worst = 0
            for photo in itmExpected.keys.sorted() where photo != "text_embeddings" {
                let states = try model.imageStates([Self.pixels("itm_\(photo).f32")])[0]
                for c in itmExpected[photo] as! [[String: Any]] {
                    let l = try model.itmLogits(imageStates: states, textIds: TextFixtures.ids(c["ids"]))
                    let d = maxAbsDiff(l, Fixtures.floats(c["logits"]))
                    worst = max(worst, d)
                    #expect(d < 1e-3, "itm \(photo)")
                }
            }
            print("full-size ITM logits: max |Δ| \(worst)")
        }
    }
}

/// Where decode time goes at full size (min of N runs, robust to a busy machine).
/// Gated by BLIP_FULL_MODEL_DIR; prints per-part timings.
@Suite(.serialized) struct FullSizeDecodeTimingTests {
    @Test(.enabled(if: FullSizeTextParityTests.modelRoot != nil && ProcessInfo.processInfo.environment["BLIP_TEXT_TIMING"] != nil,
                   "set BLIP_FULL_MODEL_DIR and BLIP_TEXT_TIMING=1"))
    func decodeStepTiming() throws {
        let model = try BlipModel.load(directory: FullSizeTextParityTests.modelRoot! + "/blip-base-captioning",
                                       threads: FullSizeTextParityTests.threads)
        let decoder = model.text.decoder!, head = model.text.lmHead!
        var states = [Float](repeating: 0, count: model.visionTokens * model.visionWidth)
        var rng = SeededRandom(seed: 1)
        for i in states.indices { states[i] = Float(rng.nextUnit() * 2 - 1) }
        func minTime(_ n: Int, _ body: () -> Void) -> Double {
            var best = Double.infinity
            for _ in 0..<n {
                let s = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
            }
            return best
        }
        // GEMM vs streaming kernel for decode-sized products
        for lin in [decoder.layers[0].intermediate, head.decoder] {
            let x = ScratchBuffer(count: 4 * lin.inFeatures), y = ScratchBuffer(count: 4 * lin.outFeatures)
            for i in 0..<(4 * lin.inFeatures) { x.pointer[i] = Float(i % 7) * 0.1 }
            for rows in [1, 3] {
                let g = minTime(10) { lin(x.pointer, rows: rows, out: y.pointer) }
                let ref = Array(UnsafeBufferPointer(start: y.pointer, count: rows * lin.outFeatures))
                let s = minTime(10) { lin.smallBatch(x.pointer, rows: rows, out: y.pointer) }
                let got = Array(UnsafeBufferPointer(start: y.pointer, count: rows * lin.outFeatures))
                print(String(format: "linear %dx%d rows %d: sgemm %.2f ms, smallBatch %.2f ms, max|Δ| %g", lin.outFeatures, lin.inFeatures, rows, g, s, maxAbsDiff(ref, got)))
            }
        }
        for beams in [1, 3] {
            var session: DecoderSession!
            let tCross = minTime(3) {
                session = states.withUnsafeBufferPointer {
                    DecoderSession(decoder: decoder, head: head, beams: beams, capacity: 21, promptLength: 1,
                                   crossStates: $0.baseAddress!, crossTokens: model.visionTokens)
                }
            }
            let prompt: [Int32] = [30522]
            prompt.withUnsafeBufferPointer { session.prefill($0) }
            let tokens = [Int32](repeating: 1037, count: beams)
            var order = Array(0..<beams)
            order.reverse()
            var steps: [Double] = []
            for _ in 0..<19 {
                steps.append(minTime(1) { tokens.withUnsafeBufferPointer { session.step($0.baseAddress!) } })
                if beams > 1 { order.withUnsafeBufferPointer { session.reorder($0.baseAddress!) } }
            }
            let scratch = session.scratch
            let tHead = minTime(10) {
                head(scratch.hidden, rows: beams, inStride: decoder.width, temp: scratch.temp, temp2: scratch.query,
                     logits: session.logits.pointer)
            }
            print(String(format: "beams %d: session+cross K/V %.1f ms, step min %.1f / median %.1f ms, LM head %.1f ms",
                         beams, tCross, steps.min()!, steps.sorted()[steps.count / 2], tHead))
        }
        // end to end: 20 new tokens from [DEC], vision excluded (as scripts/text_parity_check.py times torch)
        for beams in [1, 3] {
            let o = GenerationOptions(maxLength: 21, minLength: 21, numBeams: beams)
            var times: [Double] = []
            for _ in 0..<3 { times.append(try FullSizeTextParityTests.seconds { _ = try model.caption(imageStates: states, options: o) }) }
            print(String(format: "caption 20 tokens, %d beam(s): median %.0f ms, min %.0f ms", beams, times.sorted()[1] * 1000, times.min()! * 1000))
        }
    }
}
