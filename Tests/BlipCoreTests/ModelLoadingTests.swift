import Foundation
import Testing
@testable import BlipCore

/// Hostile and broken model directories: each must fail with the right error kind and a
/// message naming the file (and tensor), never crash.
@Suite struct ModelLoadingTests {
    /// A scratch copy of a fixture model directory that a test may corrupt.
    final class ScratchModel {
        let path: String
        init(_ arch: String = "itm") throws {
            path = NSTemporaryDirectory() + "blip-test-" + UUID().uuidString
            try FileManager.default.copyItem(atPath: Fixtures.model(arch), toPath: path)
            for name in try FileManager.default.contentsOfDirectory(atPath: path) {
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path + "/" + name)
            }
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var weights: String { path + "/model.safetensors" }
        func read(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)) }
        func write(_ name: String, _ data: Data) throws { try data.write(to: URL(fileURLWithPath: path + "/" + name)) }
        func remove(_ name: String) throws { try FileManager.default.removeItem(atPath: path + "/" + name) }

        /// Rewrites the safetensors header JSON through `edit`, keeping the data buffer.
        func editHeader(_ edit: (inout [String: Any]) -> Void) throws {
            let data = try read("model.safetensors")
            let n = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            var header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
            edit(&header)
            let json = try JSONSerialization.data(withJSONObject: header)
            var out = Data()
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(json)
            out.append(data.subdata(in: (8 + n)..<data.count))
            try write("model.safetensors", out)
        }
    }

    func expectFailure(_ path: String, _ kind: BlipError.Kind, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try BlipModel.load(directory: path, threads: 1)
            Issue.record("loading \(path) should have failed", sourceLocation: sourceLocation)
        } catch let e as BlipError {
            #expect(e.kind == kind, "\(e.message)", sourceLocation: sourceLocation)
            for w in words { #expect(e.message.contains(w), "message '\(e.message)' should mention \(w)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Every file of a model folder replaced in turn by a FIFO (opening one for reading would
    /// wait forever for a writer), a device that never ends, or a folder: refused at once.
    @Test(arguments: ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "preprocessor_config.json"])
    func specialFilesAreRefusedWithoutBlocking(name: String) throws {
        for kind in ["fifo", "device", "folder"] {
            let m = try ScratchModel("captioning")
            try m.remove(name)
            let path = m.path + "/" + name
            switch kind {
            case "fifo": #expect(mkfifo(path, 0o644) == 0)
            case "device": try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/zero")
            default: try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            }
            let started = Date()
            expectFailure(m.path, .io, mentioning: [name, "not a regular file"])
            #expect(Date().timeIntervalSince(started) < 10, "\(kind) \(name)")
        }
    }

    @Test func missingDirectory() {
        expectFailure("/nonexistent/model", .io, mentioning: ["/nonexistent/model"])
    }

    @Test func directoryWithoutWeights() throws {
        let m = try ScratchModel()
        try m.remove("model.safetensors")
        expectFailure(m.path, .io, mentioning: ["model.safetensors"])
    }

    @Test func onlyPytorchBin() throws {
        let m = try ScratchModel()
        try m.remove("model.safetensors")
        try m.write("pytorch_model.bin", Data([1, 2, 3]))
        expectFailure(m.path, .io, mentioning: ["pytorch_model.bin", "convert"])
    }

    @Test func truncatedWeights() throws {
        let m = try ScratchModel()
        let data = try m.read("model.safetensors")
        try m.write("model.safetensors", data.prefix(data.count - 1000))
        expectFailure(m.path, .modelFormat, mentioning: ["model.safetensors"])
        try m.write("model.safetensors", data.prefix(5))
        expectFailure(m.path, .modelFormat, mentioning: ["too short"])
        try m.write("model.safetensors", data.prefix(200))
        expectFailure(m.path, .modelFormat, mentioning: ["truncated"])
    }

    @Test func headerLengthHuge() throws {
        let m = try ScratchModel()
        var data = try m.read("model.safetensors")
        data.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64.max.littleEndian) { Data($0) })
        try m.write("model.safetensors", data)
        expectFailure(m.path, .modelFormat, mentioning: ["100 MB"])
    }

    @Test func headerNotJSON() throws {
        let m = try ScratchModel()
        var data = try m.read("model.safetensors")
        data[8] = UInt8(ascii: "{"); data[9] = UInt8(ascii: "x")
        try m.write("model.safetensors", data)
        expectFailure(m.path, .modelFormat, mentioning: ["model.safetensors"])
    }

    @Test func offsetsOutsideFile() throws {
        let m = try ScratchModel()
        try m.editHeader { h in
            var e = h["vision_proj.bias"] as! [String: Any]
            e["data_offsets"] = [100_000_000, 100_000_000 + 16 * 2]
            h["vision_proj.bias"] = e
        }
        expectFailure(m.path, .modelFormat, mentioning: ["vision_proj.bias", "outside"])
    }

    @Test func overlappingOffsets() throws {
        let m = try ScratchModel()
        try m.editHeader { h in
            var e = h["vision_proj.bias"] as! [String: Any]
            e["data_offsets"] = [0, 32]
            h["vision_proj.bias"] = e
        }
        expectFailure(m.path, .modelFormat, mentioning: ["model.safetensors"])
    }

    @Test func shapeDisagreesWithOffsets() throws {
        let m = try ScratchModel()
        try m.editHeader { h in
            var e = h["vision_proj.bias"] as! [String: Any]
            e["shape"] = [17]
            h["vision_proj.bias"] = e
        }
        expectFailure(m.path, .modelFormat, mentioning: ["vision_proj.bias", "do not match"])
    }

    @Test func wrongShapeForConfig() throws {
        let m = try ScratchModel()
        try m.editHeader { h in
            var e = h["vision_proj.bias"] as! [String: Any]
            e["shape"] = [8, 2]
            h["vision_proj.bias"] = e
        }
        expectFailure(m.path, .modelFormat, mentioning: ["vision_proj.bias", "shape"])
    }

    @Test func unknownAndWrongDtypes() throws {
        let m = try ScratchModel()
        try m.editHeader { h in
            var e = h["vision_proj.bias"] as! [String: Any]
            e["dtype"] = "Q4"
            h["vision_proj.bias"] = e
        }
        expectFailure(m.path, .modelFormat, mentioning: ["vision_proj.bias", "Q4"])
        let m2 = try ScratchModel()
        try m2.editHeader { h in
            var e = h["vision_proj.bias"] as! [String: Any]
            e["dtype"] = "I16"  // same byte size as F16, so offsets still agree
            h["vision_proj.bias"] = e
        }
        expectFailure(m2.path, .modelFormat, mentioning: ["vision_proj.bias", "I16"])
    }

    @Test func missingTensor() throws {
        let m = try ScratchModel()
        try m.editHeader { h in h["vision_proj.bias"] = nil; h["vision_proj.weight"] = nil }
        // removing entries leaves a gap in the data buffer: caught as a layout error or a missing tensor
        expectFailure(m.path, .modelFormat, mentioning: ["model.safetensors"])
    }

    @Test func configProblems() throws {
        let m = try ScratchModel()
        var config = try JSONSerialization.jsonObject(with: m.read("config.json")) as! [String: Any]
        config["architectures"] = nil
        try m.write("config.json", JSONSerialization.data(withJSONObject: config))
        expectFailure(m.path, .modelFormat, mentioning: ["config.json", "architectures"])

        config["architectures"] = ["BertModel"]
        try m.write("config.json", JSONSerialization.data(withJSONObject: config))
        expectFailure(m.path, .unsupported, mentioning: ["BertModel"])

        config["architectures"] = ["BlipForImageTextRetrieval"]
        var vision = config["vision_config"] as! [String: Any]
        vision["num_attention_heads"] = 5
        config["vision_config"] = vision
        try m.write("config.json", JSONSerialization.data(withJSONObject: config))
        expectFailure(m.path, .modelFormat, mentioning: ["divisible"])

        vision["num_attention_heads"] = "four"
        config["vision_config"] = vision
        try m.write("config.json", JSONSerialization.data(withJSONObject: config))
        expectFailure(m.path, .modelFormat, mentioning: ["num_attention_heads"])

        try m.write("config.json", Data("{not json".utf8))
        expectFailure(m.path, .modelFormat, mentioning: ["config.json"])

        try m.remove("config.json")
        expectFailure(m.path, .io, mentioning: ["config.json"])
    }

    /// A config that omits keys gets transformers' defaults, including 8 text heads.
    @Test func configDefaults() throws {
        let json = try JSONValue.parse(Array(#"{"architectures": ["BlipForConditionalGeneration"], "text_config": {}, "vision_config": {}}"#.utf8), file: "config.json")
        let c = try BlipConfig.parse(json, file: "config.json")
        #expect(c.text.numAttentionHeads == 8)
        #expect(c.vision.numAttentionHeads == 12)
        #expect(c.vision.imageSize == 384)
        #expect(c.vision.layerNormEps == 1e-5)
        #expect(c.text.layerNormEps == 1e-12)
        #expect(c.text.encoderHiddenSize == c.vision.hiddenSize)
        #expect(c.text.vocabSize == 30524)
    }

    /// Hostile configs: special token ids outside the vocabulary (a negative eos with a minimum
    /// length made a logits processor write before its buffer) and geometry whose fields pass
    /// one by one but whose products would allocate absurd memory are refused with a message.
    @Test(arguments: [
        (#""text_config": {"eos_token_id": -1}"#, "eos_token_id"),
        (#""text_config": {"sep_token_id": -5}"#, "sep_token_id"),
        (#""text_config": {"bos_token_id": 30524}"#, "bos_token_id"),
        (#""text_config": {"pad_token_id": 99999999}"#, "pad_token_id"),
        (#""text_config": {"vocab_size": 100, "bos_token_id": 98, "sep_token_id": 102}"#, "sep_token_id"),
        (#""vision_config": {"image_size": 4096, "patch_size": 1}"#, "tokens"),
        (#""vision_config": {"image_size": 2048, "patch_size": 16, "num_attention_heads": 256, "hidden_size": 8192}"#, "attention"),
        (#""text_config": {"vocab_size": 1000000, "hidden_size": 8192}"#, "vocab_size"),
        (#""vision_config": {"num_hidden_layers": 256, "hidden_size": 8192, "num_attention_heads": 8, "intermediate_size": 65536}"#, "layers"),
    ])
    func hostileConfigIsRefused(fields: String, mentioning word: String) throws {
        let json = try JSONValue.parse(Array(#"{"architectures": ["BlipForConditionalGeneration"], \#(fields)}"#.utf8), file: "config.json")
        do {
            _ = try BlipConfig.parse(json, file: "config.json")
            Issue.record("accepted \(fields)")
        } catch let e as BlipError {
            #expect(e.kind == .modelFormat)
            #expect(e.message.contains(word), "\(e.message)")
        }
    }

    @Test func safetensorsLoadsF32F16BF16() throws {
        // Build a tiny file by hand with one tensor of each float dtype.
        let values: [Float] = [1.5, -2.25, 0.125]
        var data = Data()
        data.append(contentsOf: values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        data.append(contentsOf: values.flatMap { withUnsafeBytes(of: Float16($0).bitPattern.littleEndian, Array.init) })
        data.append(contentsOf: values.flatMap { withUnsafeBytes(of: UInt16($0.bitPattern >> 16).littleEndian, Array.init) })
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F16","shape":[3],"data_offsets":[12,18]},"c":{"dtype":"BF16","shape":[3],"data_offsets":[18,24]},"__metadata__":{"format":"pt"}}"#
        var file = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(Data(header.utf8))
        file.append(data)
        let path = NSTemporaryDirectory() + "blip-st-\(UUID().uuidString).safetensors"
        try file.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let st = try SafetensorsFile(path: path)
        #expect(try st.floats("a", shape: [3]).array == values)
        #expect(try st.floats("b", shape: [3]).array == values)
        #expect(try st.floats("c", shape: [3]).array == values)
        #expect(st.metadata["format"] == "pt")
        #expect(throws: BlipError.self) { try st.floats("a", shape: [4]) }
        #expect(throws: BlipError.self) { try st.floats("missing", shape: [3]) }
    }
}

/// transformers 5 computes the logits with `cls.predictions.decoder.bias`: when a file stores
/// it apart from `cls.predictions.bias` with other values, that is the one libblip uses.
@Suite struct LMHeadBiasTests {
    @Test func decoderBiasWinsOverPredictionsBias() throws {
        let source = Fixtures.model("captioning")
        let dir = NSTemporaryDirectory() + "blip-bias-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in try FileManager.default.contentsOfDirectory(atPath: source) where name != "model.safetensors" {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: dir + "/" + name)
        }
        let file = try SafetensorsFile(path: source + "/model.safetensors")
        var writer = SafetensorsWriter()
        for (name, entry) in file.entries.sorted(by: { $0.key < $1.key }) {
            let values = try file.floats(name, shape: entry.shape).array
            try values.withUnsafeBufferPointer { try writer.add(name: name, shape: entry.shape, f32: $0) }
        }
        let bias = try file.floats("text_decoder.cls.predictions.bias", shape: [30524]).array
        let decoderBias = bias.map { $0 + 3 }
        try decoderBias.withUnsafeBufferPointer {
            try writer.add(name: "text_decoder.cls.predictions.decoder.bias", shape: [30524], f32: $0)
        }
        try writer.write(to: dir + "/model.safetensors")
        let model = try BlipModel.load(directory: dir, threads: 1)
        #expect(model.text.lmHead?.bias.array == decoderBias)
    }
}
