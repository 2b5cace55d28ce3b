import Glibc

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one, never a
/// half-written file: written to `path.tmp-<pid>`, fsynced, renamed over `path`.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws {
    var file = try AtomicFileWriter(path: path)
    try bytes.withUnsafeBytes { try file.write($0) }
    try file.commit()
}

/// Copies a regular file to `to`, atomically as `writeFileAtomically` (streamed, so model
/// files of any size are copied without holding them in memory).
public func copyFile(from source: String, to destination: String) throws {
    let (fd, _) = try openRegularFile(source)
    defer { close(fd) }
    var file = try AtomicFileWriter(path: destination)
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw BlipError.io("\(source): read error (\(lastErrorText()))")
        }
        if n == 0 { break }
        try chunk.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    try file.commit()
}

/// The temporary-file half of an atomic write: `write` appends to `path.tmp-<pid>`, `commit`
/// fsyncs and renames it over `path`. A writer dropped without `commit` (an error on the way)
/// removes its temporary, so failures leave no debris and the old `path` untouched.
public struct AtomicFileWriter: ~Copyable {
    public let path: String
    public let temporary: String
    private var fd: Int32

    /// The temporary's descriptor, for writers that take one (libarchive); -1 after commit.
    public var descriptor: Int32 { fd }

    public init(path: String) throws {
        self.path = path
        self.temporary = path + ".tmp-\(getpid())"
        fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BlipError.io("\(path): cannot create (\(lastErrorText()))") }
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporary)
        }
    }

    /// Appends all of `bytes` (retrying short writes and EINTR).
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw BlipError.io("\(temporary): write failed (\(lastErrorText()))")
            }
            p += n
            left -= n
        }
    }

    /// Makes the file durable and puts it in place (the parent directory is fsynced too, so the
    /// rename itself survives a power loss).
    public consuming func commit() throws {
        let fd = self.fd
        self.fd = -1  // from here on deinit must not touch the descriptor
        var failure: String?
        if fsync(fd) != 0 { failure = "\(temporary): fsync failed (\(lastErrorText()))" }
        if close(fd) != 0, failure == nil { failure = "\(temporary): close failed (\(lastErrorText()))" }
        if failure == nil, rename(temporary, path) != 0 {
            failure = "\(path): cannot rename from \(temporary) (\(lastErrorText()))"
        }
        if let failure {
            unlink(temporary)
            throw BlipError.io(failure)
        }
        syncParentDirectory(of: path)
    }
}

/// Removes temporaries of `path` (`path.tmp-<pid>`) left by writers that were killed: those whose
/// process no longer runs. A live writer's temporary (another run on the same output) is left alone.
public func removeStaleTemporaries(of path: String) {
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    let prefix = (slash.map { String(path[path.index(after: $0)...]) } ?? path) + ".tmp-"
    for name in (try? directoryEntries(folder)) ?? [] {
        guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)), pid > 0 else { continue }
        if pid == getpid() || kill(pid, 0) == 0 || errno == EPERM { continue }
        unlink(folder + "/" + name)
    }
}

/// strerror(errno), read immediately after the failing call.
func lastErrorText() -> String { String(cString: strerror(errno)) }

/// Best-effort fsync of the directory holding `path`, so a rename in it is durable.
func syncParentDirectory(of path: String) {
    guard let slash = path.lastIndex(of: "/") else { return syncDirectory(".") }
    syncDirectory(slash == path.startIndex ? "/" : String(path[..<slash]))
}

/// Best-effort fsync of a directory, so the entries created in it are durable. Failures are
/// ignored: some filesystems refuse fsync on directories, and the data itself is synced.
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
        _ = fsync(fd)
        close(fd)
    }
}
