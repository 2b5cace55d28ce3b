import Foundation
import Testing
import BlipKernels
@testable import BlipCore

/// `blip quantize` (quantizeModel) on the tiny fixture models: the single file loads through
/// the same `BlipModel.load`, every task runs and stays close to float, and broken or
/// future-version files are refused with clear messages.
@Suite(.serialized) struct QuantizedModelTests {
    static let tmp = NSTemporaryDirectory() + "blip-q8-" + UUID().uuidString

    /// Quantized copy of a fixture model, made once per test process.
    nonisolated(unsafe) static var made: [String: String] = [:]
    static let lock = NSLock()
    static func quantized(_ arch: String, options: QuantizeOptions = QuantizeOptions()) throws -> String {
        lock.lock(); defer { lock.unlock() }
        let key = arch + (options.quantizeLMHead ? "" : "-f32head") + "-" + options.wordEmbeddings.rawValue
            + "-" + options.imageActivations.rawValue
        if let p = made[key] { return p }
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let path = tmp + "/" + key + ".safetensors"
        try quantizeModel(directory: Fixtures.model(arch), to: path, options: options)
        made[key] = path
        return path
    }

    static func photos() throws -> [PixelImage] {
        try Fixtures.photoNames.map { try ImageDecoder.decode(fileAt: Fixtures.photo($0)) }
    }

    @Test func fileLayoutAndMetadata() throws {
        let path = try Self.quantized("captioning")
        let q = try QuantizedFile(path: path)
        #expect(q.metadata["format"] == "libblip-int8")
        #expect(q.metadata["format_version"] == "1")
        #expect(q.metadata["config.json"] == (try String(contentsOfFile: Fixtures.model("captioning") + "/config.json", encoding: .utf8)))
        #expect(q.metadata["vocab.txt"] != nil)
        let e = try #require(q.file.entries["vision_model.encoder.layers.0.mlp.fc1.weight"])
        #expect(e.dtype == .i8 && e.shape.count == 4 && e.shape[2] == 16 && e.shape[3] == 4)
        #expect(q.file.entries["vision_model.encoder.layers.0.mlp.fc1.weight.scale"]?.dtype == .f32)
        // the tied LM head is not stored twice: the loader quantizes it from the F16 embeddings
        #expect(q.file.entries["text_decoder.cls.predictions.decoder.weight"] == nil)
        #expect(q.aliases.isEmpty)
        #expect(q.metadata["tied_lm_head"] == "int8" && q.quantizesTiedLMHead)
        #expect(q.file.entries["vision_model.embeddings.patch_embedding.weight"]?.dtype == .f32)
        #expect(q.file.entries["text_decoder.bert.embeddings.word_embeddings.weight"]?.dtype == .f16)
        #expect(q.file.entries["text_decoder.bert.embeddings.position_embeddings.weight"]?.dtype == .f32)
        // LayerNorms and biases stay float
        #expect(q.file.entries.values.filter { $0.name.contains("LayerNorm") || $0.name.hasSuffix(".bias") }.allSatisfy { $0.dtype == .f32 })
        // data starts 64-byte aligned; the source's F32 tensors are mmapped in place
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect((8 + Int(n)) % 64 == 0)
        // the quantized matrices match the float ones within half a step; a linear that reads
        // image features takes 7-bit activations (8 on an AVX-512 VNNI or AMX CPU, whose kernels
        // need no 7-bit trick), and the few lanes made pair-safe only moved toward zero
        let src = try SafetensorsFile(path: Fixtures.model("captioning") + "/model.safetensors")
        for (name, imageSide) in [("text_decoder.bert.encoder.layer.1.crossattention.self.key.weight", true),
                                  ("text_decoder.bert.encoder.layer.1.crossattention.self.query.weight", false)] {
            let shape = try src.entry(name).shape
            guard let m = try q.linearWeight(name, out: shape[0], in: shape[1]).int8 else { Issue.record("not int8"); return }
            let sevenBit = imageSide && !Int8Kernel.active.unsignedActivations
            #expect(m.activationRange == (sevenBit ? .unsigned7 : .signed8), "\(name)")
            #expect(q.unsigned7Tensors.contains(name) == imageSide, "\(name)")
            if imageSide { #expect(m.pairSafe) }
            let w = try src.floats(name, shape: shape).array
            let back = m.dequantized()
            var moved = 0
            for o in 0..<shape[0] { for i in 0..<shape[1] {
                let (b, x) = (back[o * shape[1] + i], w[o * shape[1] + i])
                if abs(b - x) <= m.scales[o] * 0.5 + 1e-7 { continue }
                moved += 1
                #expect(imageSide && abs(b) < abs(x) && b * x >= 0, "\(name) [\(o), \(i)]: \(b) for \(x)")
            } }
            // (BLIP-base: ~0.1% of lanes; this tiny random fixture has more large weights per lane)
            #expect(moved < shape[0] * shape[1] / 20, "\(name): \(moved) weights moved")
        }
        // exactly the vision encoder's linears and the cross-attention keys/values are listed
        let listed = q.unsigned7Tensors
        let expected = q.file.entries.values.filter {
            $0.dtype == .i8 && ($0.name.hasPrefix("vision_model.encoder.layers.")
                || $0.name.hasSuffix("crossattention.self.key.weight") || $0.name.hasSuffix("crossattention.self.value.weight"))
        }.map(\.name)
        #expect(listed == Set(expected) && !listed.isEmpty)
    }

    /// `imageActivations = .signed8` (`--image-activation-bits 8`): no matrix takes 7-bit
    /// activations, and none is changed for pair safety.
    @Test func eightBitImageActivationsOption() throws {
        var options = QuantizeOptions()
        options.imageActivations = .signed8
        let q = try QuantizedFile(path: try Self.quantized("captioning", options: options))
        #expect(q.metadata[QuantizedFile.unsigned7Key] == nil && q.unsigned7Tensors.isEmpty)
        let src = try SafetensorsFile(path: Fixtures.model("captioning") + "/model.safetensors")
        let name = "vision_model.encoder.layers.0.mlp.fc1.weight"
        let shape = try src.entry(name).shape
        guard let m = try q.linearWeight(name, out: shape[0], in: shape[1]).int8 else { Issue.record("not int8"); return }
        #expect(m.activationRange == .signed8)
        let w = try src.floats(name, shape: shape).array
        let back = m.dequantized()
        for o in 0..<shape[0] { for i in 0..<shape[1] {
            #expect(abs(back[o * shape[1] + i] - w[o * shape[1] + i]) <= m.scales[o] * 0.5 + 1e-7)
        } }
    }

    /// int8 linears quantize activations per row, so captions decoded together are still
    /// token for token those of one-at-a-time calls (CapFilt's records must not depend on batching).
    @Test func int8CaptionsDecodedTogetherEqualOneAtATime() throws {
        let model = try BlipModel.load(directory: try Self.quantized("captioning-gen"), threads: 2)
        let states = try Self.photos().map { image in
            try image.withView { try model.imageStates([try model.pixelValues($0)])[0] }
        }
        let seeds: [[UInt64]] = states.indices.map { i in [UInt64(i), UInt64(i + 50), UInt64(i + 90)] }
        var options = GenerationOptions.capfilt
        options.temperature = 1.5
        let together = try model.captions(imageStates: states, seeds: seeds, options: options)
        for (i, s) in states.enumerated() {
            for (j, seed) in seeds[i].enumerated() {
                var o = options
                o.seed = seed
                #expect(together[i][j] == (try model.caption(imageStates: s, options: o)), "image \(i) seed \(seed)")
            }
        }
    }

    /// The LM head runs in int8 in both layouts: quantized at load from F16 embeddings (default),
    /// or reading int8 embeddings through the alias (`--embeddings int8`); in float with
    /// `quantizeLMHead = false`. Every variant captions.
    @Test func lmHeadStorageVariants() throws {
        var int8Embeddings = QuantizeOptions()
        int8Embeddings.wordEmbeddings = .int8
        var floatHead = QuantizeOptions()
        floatHead.quantizeLMHead = false
        for (options, int8Head) in [(QuantizeOptions(), true), (int8Embeddings, true), (floatHead, false)] {
            let path = try Self.quantized("captioning-gen", options: options)
            let q = try QuantizedFile(path: path)
            #expect(q.file.entries["text_decoder.cls.predictions.decoder.weight"] == nil)
            #expect(q.file.entries["text_decoder.bert.embeddings.word_embeddings.weight"]?.dtype
                    == (options.wordEmbeddings == .int8 ? .i8 : .f16))
            #expect(q.aliases.isEmpty == (options.wordEmbeddings != .int8))
            let model = try BlipModel.load(directory: path, threads: 2)
            let head = try #require(model.text.lmHead)
            #expect(head.tied == (options.wordEmbeddings != .int8))
            #expect((head.decoder.weight.int8 != nil) == int8Head)
            let info = Dictionary(uniqueKeysWithValues: model.info)
            #expect(info["storage"]?.contains("tied LM head int8") == (int8Head && options.wordEmbeddings != .int8))
            let image = try #require(try Self.photos().first)
            #expect(!(try image.withView { try model.caption($0) }).tokens.isEmpty)
        }
    }

    /// The int8 tied head recomputes its top logits in float: they equal the float model's
    /// logits (same F16-rounded embeddings), so the argmax does too.
    @Test func int8HeadTopLogitsAreExactFloat() throws {
        let f32 = try Fixtures.load("captioning-gen")
        let q8 = try BlipModel.load(directory: try Self.quantized("captioning-gen"), threads: 2)
        let a = try #require(f32.text.lmHead), b = try #require(q8.text.lmHead)
        guard b.decoder.weight.int8 != nil else { Issue.record("head is not int8"); return }
        let d = a.width, v = a.vocabSize, rows = 3
        var seed: UInt64 = 3
        let h: [Float] = (0..<(rows * d)).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed) >> 40) / Float(1 << 22)
        }
        var t1 = [Float](repeating: 0, count: rows * d), t2 = t1
        var la = [Float](repeating: 0, count: rows * v), lb = la
        a(h, rows: rows, inStride: d, temp: &t1, temp2: &t2, logits: &la)
        b(h, rows: rows, inStride: d, temp: &t1, temp2: &t2, logits: &lb)
        for r in 0..<rows {
            let fa = Array(la[(r * v)..<((r + 1) * v)]), fb = Array(lb[(r * v)..<((r + 1) * v)])
            let top = fa.indices.sorted { fa[$0] > fa[$1] }.prefix(8)
            for i in top { #expect(abs(fa[i] - fb[i]) <= 1e-4 * max(1, abs(fa[i])), "row \(r) token \(i)") }
            #expect(fa.indices.max { fa[$0] < fa[$1] } == fb.indices.max { fb[$0] < fb[$1] })
        }
    }

    @Test func captioningModelRunsQuantized() throws {
        let f32 = try Fixtures.load("captioning-gen")
        let q8 = try BlipModel.load(directory: try Self.quantized("captioning-gen"), threads: 2)
        #expect(q8.weights is QuantizedFile)
        let info = Dictionary(uniqueKeysWithValues: q8.info)
        #expect(info["storage"]?.hasPrefix("libblip-int8 v1") == true)
        #expect(info["gemm"]?.contains(Int8Kernel.active.displayName) == true)
        for image in try Self.photos() {
            let (a, b) = try image.withView { v in (try f32.imageStates(v), try q8.imageStates(v)) }
            #expect(cosine(a, b) > 0.99)
            let ca = try image.withView { try f32.caption($0) }, cb = try image.withView { try q8.caption($0) }
            #expect(!cb.tokens.isEmpty)
            print("caption f32 \(ca.tokens) int8 \(cb.tokens)")
        }
    }

    @Test func questionAnsweringModelRunsQuantized() throws {
        let f32 = try Fixtures.load("vqa-gen")
        let q8 = try BlipModel.load(directory: try Self.quantized("vqa-gen"), threads: 2)
        var same = 0
        for image in try Self.photos() {
            let a = try image.withView { try f32.answer($0, question: "what is in the picture?") }
            let b = try image.withView { try q8.answer($0, question: "what is in the picture?") }
            #expect(!b.tokens.isEmpty)
            if a.tokens == b.tokens { same += 1 }
        }
        #expect(same >= 2, "int8 answers agree with float on \(same) of 4 photos")
    }

    @Test func retrievalModelRunsQuantized() throws {
        let f32 = try Fixtures.load("itm")
        let q8 = try BlipModel.load(directory: try Self.quantized("itm"), threads: 2)
        let texts = ["a cat", "a photograph of an astronaut", "coffee"]
        for image in try Self.photos() {
            let (ra, rb) = try image.withView { v in (try f32.match([v], texts: texts), try q8.match([v], texts: texts)) }
            #expect(maxAbsDiff(ra.itm, rb.itm) < 0.05)
            #expect(maxAbsDiff(ra.itc, rb.itc) < 0.05)
            let (ea, eb) = try image.withView { v in (try f32.imageEmbeddings([v])[0], try q8.imageEmbeddings([v])[0]) }
            #expect(cosine(ea, eb) > 0.99)
        }
        #expect(cosine(try f32.embedText("a cat on a sofa"), try q8.embedText("a cat on a sofa")) > 0.99)
    }

    // MARK: bad files

    /// A copy of the quantized captioning file whose header JSON went through `edit`.
    static func edited(_ edit: (inout [String: Any]) -> Void) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: try quantized("captioning")))
        let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        edit(&header)
        let json = try JSONSerialization.data(withJSONObject: header)
        var out = Data()
        var len = UInt64(json.count)
        out.append(Data(bytes: &len, count: 8))
        out.append(json)
        out.append(data.subdata(in: (8 + n)..<data.count))
        let path = tmp + "/edited-" + UUID().uuidString + ".safetensors"
        try out.write(to: URL(fileURLWithPath: path))
        return path
    }

    static func expectRefused(_ path: String, _ kind: BlipError.Kind, containing words: [String]) {
        do {
            _ = try BlipModel.load(directory: path, threads: 1)
            Issue.record("\(path) loaded")
        } catch let e as BlipError {
            #expect(e.kind == kind, "\(e.message)")
            for w in words { #expect(e.message.contains(w), "'\(e.message)' lacks '\(w)'") }
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func truncatedFileIsRefused() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: try Self.quantized("captioning")))
        for cut in [4, 100, data.count / 2, data.count - 1] {
            let path = Self.tmp + "/cut-\(cut).safetensors"
            try data.prefix(cut).write(to: URL(fileURLWithPath: path))
            Self.expectRefused(path, .modelFormat, containing: [path])
        }
    }

    @Test func corruptedHeaderIsRefused() throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: try Self.quantized("captioning")))
        data[8] = UInt8(ascii: "[")   // header is no longer a JSON object
        let path = Self.tmp + "/corrupt.safetensors"
        try data.write(to: URL(fileURLWithPath: path))
        Self.expectRefused(path, .modelFormat, containing: ["header"])
        // a tensor whose packed shape does not match config.json
        let wrongShape = try Self.edited { h in
            var e = h["vision_model.encoder.layers.0.mlp.fc2.weight"] as! [String: Any]
            var shape = e["shape"] as! [Int]
            let t = shape[0]; shape[0] = shape[1]; shape[1] = t
            e["shape"] = shape
            h["vision_model.encoder.layers.0.mlp.fc2.weight"] = e
        }
        Self.expectRefused(wrongShape, .modelFormat, containing: ["vision_model.encoder.layers.0.mlp.fc2.weight", "panel16x4"])
        // a scale tensor of the wrong type
        let badScale = try Self.edited { h in
            var e = h["vision_model.encoder.layers.0.mlp.fc2.weight.scale"] as! [String: Any]
            var shape = e["shape"] as! [Int]
            shape[0] *= 2; e["shape"] = shape; e["dtype"] = "F16"
            h["vision_model.encoder.layers.0.mlp.fc2.weight.scale"] = e
        }
        Self.expectRefused(badScale, .modelFormat, containing: ["fc2.weight.scale"])
    }

    @Test func futureVersionIsRefused() throws {
        let path = try Self.edited { h in
            var m = h["__metadata__"] as! [String: String]
            m["format_version"] = "2"
            h["__metadata__"] = m
        }
        Self.expectRefused(path, .unsupported, containing: ["version 2", "newer libblip"])
        let noVersion = try Self.edited { h in
            var m = h["__metadata__"] as! [String: String]
            m["format_version"] = "one"
            h["__metadata__"] = m
        }
        Self.expectRefused(noVersion, .modelFormat, containing: ["format_version"])
        let noConfig = try Self.edited { h in
            var m = h["__metadata__"] as! [String: String]
            m["config.json"] = nil
            h["__metadata__"] = m
        }
        Self.expectRefused(noConfig, .modelFormat, containing: ["config.json"])
        let badAlias = try Self.edited { h in
            var m = h["__metadata__"] as! [String: String]
            m["aliases"] = "{\"text_decoder.cls.predictions.decoder.weight\": \"no.such.tensor\"}"
            h["__metadata__"] = m
        }
        Self.expectRefused(badAlias, .modelFormat, containing: ["alias"])
        for bad in ["{\"a\": 1}", "[\"no.such.tensor\"]", "[\"vision_model.post_layernorm.weight\"]", "[3]", "not json"] {
            let badList = try Self.edited { h in
                var m = h["__metadata__"] as! [String: String]
                m[QuantizedFile.unsigned7Key] = bad
                h["__metadata__"] = m
            }
            Self.expectRefused(badList, .modelFormat, containing: [QuantizedFile.unsigned7Key])
        }
    }

    @Test func plainSafetensorsFileIsNotAQuantizedModel() {
        Self.expectRefused(Fixtures.model("itm") + "/model.safetensors", .modelFormat, containing: ["not a libblip quantized model"])
    }

    @Test func quantizingAQuantizedFileOrMissingDirectoryFails() throws {
        #expect(throws: BlipError.self) { try quantizeModel(directory: "/nonexistent/model", to: Self.tmp + "/x.safetensors") }
        let q = try Self.quantized("itm")
        #expect(throws: BlipError.self) { try quantizeModel(directory: q, to: Self.tmp + "/y.safetensors") }
        #expect(!FileManager.default.fileExists(atPath: Self.tmp + "/y.safetensors.partial"))
    }
}

/// int8 vs float on the full-size random-weight models (BLIP_FULL_MODEL_DIR, e.g.
/// local/models): prints vision-state and embedding cosines, ITM differences, caption/answer
/// token agreement and timings. Quantized files are written next to the models
/// (`<dir>/blip-base-*.int8.safetensors`) and reused.
@Suite(.serialized) struct QuantizedFullSizeTests {
    static let root = ProcessInfo.processInfo.environment["BLIP_FULL_MODEL_DIR"]
    static var threads: Int { Int(ProcessInfo.processInfo.environment["BLIP_THREADS"] ?? "2") ?? 2 }

    static func quantized(_ name: String, lmHead: Bool = true) throws -> String {
        var options = QuantizeOptions()
        options.quantizeLMHead = lmHead
        let path = root! + "/" + name + (lmHead ? "" : "-f32head") + ".int8.safetensors"
        if !FileManager.default.fileExists(atPath: path) {
            try quantizeModel(directory: root! + "/" + name, to: path, options: options)
        }
        return path
    }

    static func seconds<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        return (r, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }

    static func size(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }

    @Test(.enabled(if: root != nil, "set BLIP_FULL_MODEL_DIR"))
    func captioning() throws {
        let dir = Self.root! + "/blip-base-captioning"
        let f32 = try BlipModel.load(directory: dir, threads: Self.threads)
        for lmHead in [true, false] {
            let path = try Self.quantized("blip-base-captioning", lmHead: lmHead)
            print("captioning int8 (lm head \(lmHead ? "int8" : "float")): \(Self.size(path)) bytes vs \(Self.size(dir + "/model.safetensors")) (\(Double(Self.size(path)) / Double(Self.size(dir + "/model.safetensors"))))")
            let q8 = try BlipModel.load(directory: path, threads: Self.threads)
            print(q8.info.map { "\($0.0): \($0.1)" }.joined(separator: "\n"))
            var agree = 0, total = 0, identical = 0
            for name in Fixtures.photoNames {
                let image = try ImageDecoder.decode(fileAt: Fixtures.photo(name))
                let (sa, sb) = try image.withView { v in (try f32.imageStates(v), try q8.imageStates(v)) }
                let (ca, ta) = try Self.seconds { try image.withView { try f32.caption($0) } }
                let (cb, tb) = try Self.seconds { try image.withView { try q8.caption($0) } }
                let n = max(ca.tokens.count, cb.tokens.count)
                let same = zip(ca.tokens, cb.tokens).prefix { $0 == $1 }.count
                agree += same; total += n
                if ca.tokens == cb.tokens { identical += 1 }
                print(String(format: "%@: vision cos %.6f, caption prefix agreement %d/%d, f32 %.2fs int8 %.2fs", name, cosine(sa, sb), same, n, ta, tb))
            }
            print("captioning lm head \(lmHead ? "int8" : "float"): token agreement \(agree)/\(total), identical captions \(identical)/\(Fixtures.photoNames.count)")
        }
    }

    @Test(.enabled(if: root != nil, "set BLIP_FULL_MODEL_DIR"))
    func retrieval() throws {
        let dir = Self.root! + "/blip-base-itm"
        let f32 = try BlipModel.load(directory: dir, threads: Self.threads)
        let path = try Self.quantized("blip-base-itm")
        print("itm int8: \(Self.size(path)) bytes (\(Double(Self.size(path)) / Double(Self.size(dir + "/model.safetensors"))) of float)")
        let q8 = try BlipModel.load(directory: path, threads: Self.threads)
        let texts = ["a cat lying on a sofa", "an astronaut in a white suit", "a cup of coffee", "a man with a camera"]
        var maxItm: Float = 0, minCos = 1.0
        for name in Fixtures.photoNames {
            let image = try ImageDecoder.decode(fileAt: Fixtures.photo(name))
            let (ea, eb) = try image.withView { v in (try f32.imageEmbeddings([v])[0], try q8.imageEmbeddings([v])[0]) }
            let (ra, rb) = try image.withView { v in (try f32.match([v], texts: texts), try q8.match([v], texts: texts)) }
            minCos = min(minCos, cosine(ea, eb))
            maxItm = max(maxItm, maxAbsDiff(ra.itm, rb.itm))
            print(String(format: "%@: image embedding cos %.6f, max ITM prob diff %.5f, max ITC diff %.5f", name, cosine(ea, eb), maxAbsDiff(ra.itm, rb.itm), maxAbsDiff(ra.itc, rb.itc)))
        }
        print("itm: min image-embedding cosine \(minCos), max ITM probability difference \(maxItm)")
    }

    @Test(.enabled(if: root != nil, "set BLIP_FULL_MODEL_DIR"))
    func questionAnswering() throws {
        let dir = Self.root! + "/blip-base-vqa"
        let f32 = try BlipModel.load(directory: dir, threads: Self.threads)
        let path = try Self.quantized("blip-base-vqa")
        print("vqa int8: \(Self.size(path)) bytes (\(Double(Self.size(path)) / Double(Self.size(dir + "/model.safetensors"))) of float)")
        let q8 = try BlipModel.load(directory: path, threads: Self.threads)
        for name in Fixtures.photoNames {
            let image = try ImageDecoder.decode(fileAt: Fixtures.photo(name))
            let a = try image.withView { try f32.answer($0, question: "what is in the picture?") }
            let b = try image.withView { try q8.answer($0, question: "what is in the picture?") }
            print("\(name): answer f32 \(a.tokens) int8 \(b.tokens)")
        }
    }
}

extension QuantizedFullSizeTests {
    /// Decoder logits for the same (float) image states and token ids: how far int8 moves them
    /// relative to the float model's top-1 margin.
    @Test(.enabled(if: root != nil, "set BLIP_FULL_MODEL_DIR"))
    func decoderLogitMargins() throws {
        let dir = Self.root! + "/blip-base-captioning"
        let f32 = try BlipModel.load(directory: dir, threads: Self.threads)
        let q8 = try BlipModel.load(directory: try Self.quantized("blip-base-captioning"), threads: Self.threads)
        let image = try ImageDecoder.decode(fileAt: Fixtures.photo("chelsea.png"))
        let states = try image.withView { try f32.imageStates($0) }
        let ids: [Int32] = [30522, 1037, 4937, 2006, 1037, 2793]
        let a = try f32.decoderLogits(crossStates: states, crossTokens: f32.visionTokens, decoderIds: ids)
        let b = try q8.decoderLogits(crossStates: states, crossTokens: q8.visionTokens, decoderIds: ids)
        let v = f32.config.text.vocabSize
        for r in 0..<ids.count {
            let ra = Array(a[(r * v)..<((r + 1) * v)]), rb = Array(b[(r * v)..<((r + 1) * v)])
            let sorted = ra.sorted(by: >)
            let topA = ra.indices.max { ra[$0] < ra[$1] }!, topB = rb.indices.max { rb[$0] < rb[$1] }!
            print(String(format: "row %d: logits cos %.6f, max |diff| %.4f, f32 top-1 margin %.4f, logit std %.3f, top-1 %d vs %d",
                         r, cosine(ra, rb), maxAbsDiff(ra, rb), sorted[0] - sorted[1],
                         (ra.reduce(0) { $0 + Double($1 * $1) } / Double(v)).squareRoot(), topA, topB))
        }
    }
}
