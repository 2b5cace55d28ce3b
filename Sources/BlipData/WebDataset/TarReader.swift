import BlipCore
import CArchive
import Glibc

/// One regular file read from a tar archive.
public struct TarMember: Sendable, Equatable {
    /// The member's path inside the archive (UTF-8; undecodable bytes replaced).
    public let name: String
    /// Modification time, seconds since the epoch (kept when the member is copied).
    public let mtime: Int
    public let bytes: [UInt8]

    public init(name: String, mtime: Int, bytes: [UInt8]) {
        self.name = name
        self.mtime = mtime
        self.bytes = bytes
    }
}

/// What reading the next member gave.
public enum TarEntry: Sendable, Equatable {
    case member(TarMember)
    /// A member that could not be read: too large, truncated or corrupt. `name` is nil when
    /// the header itself was unreadable. After a fatal problem (`recoverable == false`) the
    /// rest of the archive cannot be read and `next()` returns nil.
    case damaged(name: String?, message: String, recoverable: Bool)
}

/// Streams the regular files of a tar archive (any format libarchive reads: ustar, pax, GNU)
/// one member at a time, so a shard of any size is read with one member in memory.
/// Shards come from strangers: every failure is an entry, never a trap or an exit.
public final class TarReader {
    public let path: String
    /// Members larger than this are reported damaged and skipped (their bytes never read).
    public let maxMemberBytes: Int
    private var archive: OpaquePointer?

    public init(path: String, maxMemberBytes: Int = ImageDecoder.maxFileBytes) throws {
        self.path = path
        self.maxMemberBytes = maxMemberBytes
        guard let a = archive_read_new() else { throw BlipError(.outOfMemory, "\(path): cannot allocate a tar reader") }
        archive_read_support_format_tar(a)
        guard archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK else {
            let message = Self.errorText(a)
            archive_read_free(a)
            throw BlipError.io("\(path): cannot open as a tar archive (\(message))")
        }
        archive = a
    }

    deinit { close() }

    /// The next member, or nil at the end of the archive (or after a fatal problem).
    public func next() -> TarEntry? {
        guard let a = archive else { return nil }
        while true {
            var entry: OpaquePointer?
            let status = archive_read_next_header(a, &entry)
            if status == ARCHIVE_EOF { close(); return nil }
            guard status >= ARCHIVE_WARN, let entry else {
                // libarchive fills the entry before it notices a member cut short: name it if it can.
                let known = entry.map(Self.name).flatMap { $0.isEmpty ? nil : $0 }
                let message = Self.errorText(a)
                close()
                let what = known == nil ? "unreadable tar header" : "truncated or corrupt tar member"
                return .damaged(name: known, message: "\(what) (\(message))", recoverable: false)
            }
            guard archive_entry_filetype(entry) == carchive_regular_file else { continue }  // directories, links
            let name = Self.name(entry)
            let mtime = Int(archive_entry_mtime(entry))
            let declared = archive_entry_size_is_set(entry) != 0 ? Int(archive_entry_size(entry)) : -1
            if declared > maxMemberBytes {
                // Skipping seeks past the data; a failure here means the archive is cut short.
                let skipped = archive_read_data_skip(a)
                if skipped < ARCHIVE_WARN { close() }
                return .damaged(name: name, message: "member of \(declared) bytes exceeds the limit of \(maxMemberBytes) bytes",
                                recoverable: skipped >= ARCHIVE_WARN)
            }
            switch readData(a, expected: max(declared, 0)) {
            case .success(let bytes):
                return .member(TarMember(name: name, mtime: mtime, bytes: bytes))
            case .failure(let problem):
                close()
                return .damaged(name: name, message: problem.message, recoverable: false)
            }
        }
    }

    private func readData(_ a: OpaquePointer, expected: Int) -> Result<[UInt8], BlipError> {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(expected)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { archive_read_data(a, $0.baseAddress, $0.count) }
            if n == 0 { return .success(bytes) }
            if n < 0 {
                return .failure(.imageFormat("truncated or corrupt tar member (\(Self.errorText(a)))"))
            }
            guard bytes.count + n <= maxMemberBytes else {
                return .failure(.tooLarge("member exceeds the limit of \(maxMemberBytes) bytes"))
            }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    private func close() {
        if let a = archive { archive_read_free(a) }
        archive = nil
    }

    private static func name(_ entry: OpaquePointer) -> String {
        if let utf8 = archive_entry_pathname_utf8(entry) { return String(cString: utf8) }
        // No UTF-8 view (libarchive converts through the process locale, which fails for
        // non-ASCII names in the C locale): the raw bytes, read as UTF-8, undecodable ones replaced.
        guard let raw = archive_entry_pathname(entry) else { return "" }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: strlen(raw))
        return String(decoding: bytes, as: UTF8.self)
    }

    static func errorText(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown libarchive error"
    }
}
