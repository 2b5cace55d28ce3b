import Glibc

/// Reads a whole file; errors name it.
public func readFile(_ path: String, limit: Int = 1 << 30) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else { throw BlipError.io("\(path): cannot open (\(String(cString: strerror(errno))))") }
    defer { fclose(f) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n > 0 { result.append(contentsOf: chunk[0..<n]) }
        if result.count > limit { throw BlipError.tooLarge("\(path): larger than \(limit) bytes") }
        if n < chunk.count {
            if ferror(f) != 0 { throw BlipError.io("\(path): read error") }
            break
        }
    }
    return result
}

/// The names in a folder (without "." and ".."), sorted.
public func directoryEntries(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { throw BlipError.io("\(path): cannot list (\(String(cString: strerror(errno))))") }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != ".", name != ".." { names.append(name) }
    }
    return names.sorted()
}
