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
