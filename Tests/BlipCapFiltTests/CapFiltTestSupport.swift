import Glibc

/// Fixtures shared with BlipCoreTests, found from this file's path (no second copy).
enum CapFiltFixtures {
    static let repository: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path
    }()
    static let captioner = repository + "/Tests/BlipCoreTests/Fixtures/models/captioning"
    static let filter = repository + "/Tests/BlipCoreTests/Fixtures/models/itm"
    static let photos = ["Examples/images/astronaut.jpg", "Examples/images/cat.jpg", "Examples/images/coffee.png",
                         "Tests/BlipCoreTests/Fixtures/photos/chelsea.png", "Tests/BlipCoreTests/Fixtures/photos/camera_gray.png"]
        .map { repository + "/" + $0 }
}

func makeTemporaryFolder() -> String {
    var template = Array("/tmp/blip-capfilt-test-XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { return "/tmp" }
    return String(cString: p)
}

func readAll(_ path: String) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else { throw TestFileError(path: path) }
    defer { fclose(f) }
    var out: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        out += chunk[0..<n]
        if n < chunk.count { return out }
    }
}

func writeAll(_ path: String, _ bytes: [UInt8]) throws {
    guard let f = fopen(path, "wb") else { throw TestFileError(path: path) }
    defer { fclose(f) }
    guard fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw TestFileError(path: path) }
}

func listFolder(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let e = readdir(dir) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != ".", name != ".." { names.append(name) }
    }
    return names.sorted()
}

struct TestFileError: Error { let path: String }
