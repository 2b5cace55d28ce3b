import Glibc

/// Opens a regular file for reading and returns its descriptor and size. Anything else (a
/// folder, a device such as /dev/zero, a FIFO) is refused: O_NONBLOCK makes opening a FIFO
/// return at once instead of waiting for a writer that never comes (a hostile model folder could
/// hold one named config.json); regular files ignore the flag.
public func openRegularFile(_ path: String) throws -> (fd: Int32, size: Int) {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw BlipError.io("\(path): cannot open (\(String(cString: strerror(errno))))") }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw BlipError.io("\(path): cannot stat (\(reason))")
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
        close(fd)
        throw BlipError.io("\(path): not a regular file")
    }
    return (fd, Int(st.st_size))
}

/// The largest JSON or text side file of a model (config.json, preprocessor_config.json,
/// tokenizer_config.json, ...) libblip reads: real ones are a few kilobytes.
public let maxConfigFileBytes = 16 << 20

/// Reads a whole regular file of at most `limit` bytes (checked before reading); errors name it.
public func readFile(_ path: String, limit: Int = 1 << 30) throws -> [UInt8] {
    let (fd, size) = try openRegularFile(path)
    defer { close(fd) }
    guard size <= limit else {
        throw BlipError.tooLarge("\(path): file of \(size) bytes exceeds the limit of \(limit) bytes")
    }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    try bytes.withUnsafeMutableBytes { buf in
        guard let p = buf.baseAddress else { return }
        while done < size {
            let n = read(fd, p + done, size - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw BlipError.io("\(path): read failed (\(String(cString: strerror(errno))))")
            }
            if n == 0 { break }   // the file shrank while being read
            done += n
        }
    }
    if done < size { bytes.removeSubrange(done...) }
    return bytes
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
