import BlipCore
import Glibc
import Testing

@Suite struct SafetensorsWriterTests {
    static let f16Source: [Float] = [0.1, 65504, 65520, 1e-8, 6e-5, -0.0, Float(1.0 / 3.0), .infinity, -.infinity,
                                     1 + 0x1p-11, 1 + 3 * 0x1p-11, .nan, -2.5e-6, 70000]

    /// The tensors of Fixtures/data/golden.safetensors, written by Python (safetensors 0.8):
    ///   save_file({"weight": tensor([[1.5, -2.25, 3e-3], [1e20, -0.0, 7.0]]), "bias": tensor([0.5, 0.25, -1.0]),
    ///              "emb.f16": tensor(f16Source).half().reshape(2, 7), "scalar": tensor(4.0),
    ///              "empty": zeros(0, 3), "name\"with\\escapes\u00e9\b": tensor([1.0])},
    ///             "golden.safetensors", metadata={"format": "pt"})
    static func goldenWriter() throws -> SafetensorsWriter {
        var w = SafetensorsWriter()
        w.metadata = ["format": "pt"]
        func f32(_ name: String, _ shape: [Int], _ v: [Float]) throws {
            try v.withUnsafeBufferPointer { try w.add(name: name, shape: shape, f32: $0) }
        }
        try f32("weight", [2, 3], [1.5, -2.25, 3.0e-3, 1e20, -0.0, 7.0])
        try f32("bias", [3], [0.5, 0.25, -1.0])
        try f16Source.withUnsafeBufferPointer { try w.add(name: "emb.f16", shape: [2, 7], f16From: $0) }
        try f32("scalar", [], [4])
        try f32("empty", [0, 3], [])
        try f32("name\"with\\escapes\u{e9}\u{08}", [1], [1])
        return w
    }

    @Test func bytesAreIdenticalToPythonSafetensors() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("model.safetensors")
        try Self.goldenWriter().write(to: path)
        let ours = try readFile(path)
        let python = try readFile(DataFixtures.path("golden.safetensors"))
        #expect(ours.count == python.count)
        #expect(ours == python, "first difference at byte \(zip(ours, python).enumerated().first { $1.0 != $1.1 }?.offset ?? -1)")
    }

    @Test func roundTripsThroughTheReader() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("rt.safetensors")
        var w = SafetensorsWriter()
        w.metadata = ["format": "pt", "note": "tab\there \"quoted\""]
        let a = (0..<24).map { Float($0) * 0.37 - 3 }
        let b: [Float] = [1e-3, -7, 0.5, 1e5]
        try a.withUnsafeBufferPointer { try w.add(name: "z.weight", shape: [2, 3, 4], f32: $0) }
        try b.withUnsafeBufferPointer { try w.add(name: "a.half", shape: [4], f16From: $0) }
        let c: [Float] = [9, -8, 7.5]
        try c.withUnsafeBufferPointer { borrowed in
            try w.add(name: "m.borrowed", shape: [3], borrowingF32: borrowed)
            #expect(w.count == 3)
            try w.write(to: path)  // while `c` is alive
        }

        let f = try SafetensorsFile(path: path)
        #expect(f.metadata == w.metadata)
        #expect(f.entries["z.weight"]?.dtype == .f32 && f.entries["a.half"]?.dtype == .f16)
        #expect(try f.floats("z.weight", shape: [2, 3, 4]).array == a)
        #expect(try f.floats("a.half", shape: [4]).array == b.map { Float(Float16($0)) })
        #expect(try f.floats("m.borrowed", shape: [3]).array == c)
        // F32 first (by name), then F16, as Python orders them.
        #expect(f.entries.values.sorted { $0.begin < $1.begin }.map(\.name) == ["m.borrowed", "z.weight", "a.half"])
        // No temporary left beside it.
        #expect(access(path + ".tmp-\(getpid())", F_OK) != 0)
    }

    @Test func rejectsBadTensorsAndReportsWriteErrors() throws {
        var w = SafetensorsWriter()
        let v: [Float] = [1, 2, 3]
        try v.withUnsafeBufferPointer { buf in
            #expect(blipError { try w.add(name: "x", shape: [2, 2], f32: buf) }?.message
                    == "safetensors: tensor 'x': shape [2, 2] holds 4 values, got 3")
            #expect(blipError { try w.add(name: "x", shape: [-3], f32: buf) }?.kind == .invalidArgument)
            #expect(blipError { try w.add(name: "x", shape: [Int.max, 4], f32: buf) }?.kind == .invalidArgument)
            #expect(blipError { try w.add(name: "__metadata__", shape: [3], f32: buf) }?.kind == .invalidArgument)
            try w.add(name: "x", shape: [3], f32: buf)
            #expect(blipError { try w.add(name: "x", shape: [3], f16From: buf) }?.message == "safetensors: tensor 'x' added twice")
        }
        let e = blipError { try w.write(to: "/nonexistent-dir/m.safetensors") }
        #expect(e?.kind == .io)
        #expect(e?.message == "/nonexistent-dir/m.safetensors: cannot create (No such file or directory)")
    }

    // MARK: Atomic files and directories

    @Test func writeAndCopyFilesAtomically() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("a.txt")
        try writeFileAtomically(Array("old".utf8), to: path)
        try writeFileAtomically(Array("new contents".utf8), to: path)
        #expect(try readFile(path) == Array("new contents".utf8))
        let big = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // spans several copy chunks
        try writeFileAtomically(big, to: dir.file("big.bin"))
        try copyFile(from: dir.file("big.bin"), to: dir.file("copy.bin"))
        #expect(try readFile(dir.file("copy.bin")) == big)
        #expect(blipError { try copyFile(from: dir.file("none"), to: dir.file("x")) }?.kind == .io)
        #expect(blipError { try copyFile(from: dir.path, to: dir.file("x")) }?.message == "\(dir.path): not a regular file")
        #expect(access(dir.file("x"), F_OK) != 0)
        #expect(try listing(dir.path) == ["a.txt", "big.bin", "copy.bin"])
    }

    @Test func replaceDirectorySwapsCompleteTrees() throws {
        let dir = try ScratchDirectory()
        let out = dir.file("model")
        try replaceDirectoryAtomically(at: out) { tmp in
            #expect(tmp == out + ".tmp-\(getpid())")
            try writeFileAtomically(Array("1".utf8), to: tmp + "/config.json")
            #expect(mkdir(tmp + "/sub", 0o755) == 0)
            try writeFileAtomically(Array("x".utf8), to: tmp + "/sub/nested")
        }
        #expect(try readFile(out + "/config.json") == Array("1".utf8))

        // Replacing: the old tree (with a nested folder and a symlink to outside) is gone,
        // and the symlink's target is untouched.
        let outside = try dir.write("keep.txt", text: "keep")
        #expect(symlink(outside, out + "/link") == 0)
        try replaceDirectoryAtomically(at: out + "/") { tmp in
            try writeFileAtomically(Array("2".utf8), to: tmp + "/config.json")
        }
        #expect(try listing(out) == ["config.json"])
        #expect(try readFile(out + "/config.json") == Array("2".utf8))
        #expect(try readFile(outside) == Array("keep".utf8))

        // A failing build leaves the previous output intact and no debris.
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try replaceDirectoryAtomically(at: out) { tmp in
                try writeFileAtomically(Array("3".utf8), to: tmp + "/config.json")
                throw Boom()
            }
        }
        #expect(try readFile(out + "/config.json") == Array("2".utf8))
        #expect(try listing(dir.path) == ["keep.txt", "model"])
    }

    @Test func replaceDirectoryReportsUnwritableParents() throws {
        let dir = try ScratchDirectory()
        let e = blipError { try replaceDirectoryAtomically(at: dir.file("missing/parent/out")) { _ in } }
        #expect(e?.message == dir.file("missing/parent/out") + ": cannot create (No such file or directory)")
        let file = try dir.write("plain", text: "x")
        #expect(blipError { try replaceDirectoryAtomically(at: file) { _ in } }?.message == "\(file): exists and is not a directory")
        // Permission bits do not stop root; check them only as another user.
        if getuid() != 0 {
            let locked = dir.file("locked")
            #expect(mkdir(locked, 0o555) == 0)
            let denied = blipError { try replaceDirectoryAtomically(at: locked + "/out") { _ in } }
            #expect(denied?.message == locked + "/out: cannot create (Permission denied)")
            chmod(locked, 0o755)
        }
    }

    private func listing(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw BlipError.io("\(path): cannot list") }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
