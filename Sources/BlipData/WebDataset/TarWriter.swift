import BlipCore
import CArchive
import Glibc

/// Writes a tar archive (POSIX pax, which is plain ustar unless a name needs more) under a
/// temporary name; `commit` flushes, fsyncs and renames it into place, so a crash leaves either
/// no archive or a complete one. Headers carry only what the caller gives (name, size, mtime)
/// with fixed owner and mode, so the same members always give the same bytes.
public final class TarWriter {
    public let path: String
    private var file: AtomicFileWriter?
    private var archive: OpaquePointer?

    public init(path: String) throws {
        self.path = path
        let file = try AtomicFileWriter(path: path)
        guard let a = archive_write_new() else { throw BlipError(.outOfMemory, "\(path): cannot allocate a tar writer") }
        archive_write_set_format_pax_restricted(a)
        guard archive_write_open_fd(a, file.descriptor) == ARCHIVE_OK else {
            let message = TarReader.errorText(a)
            archive_write_free(a)
            throw BlipError.io("\(path): cannot start a tar archive (\(message))")
        }
        self.file = consume file
        archive = a
    }

    /// Abandons an uncommitted archive: the temporary is removed.
    deinit {
        if let a = archive { archive_write_free(a) }
    }

    /// Appends a regular file.
    public func add(name: String, bytes: some Collection<UInt8>, mtime: Int) throws {
        guard let a = archive else { throw BlipError.invalidArgument("\(path): the archive is already committed") }
        guard !name.isEmpty, !name.utf8.contains(0) else { throw BlipError.invalidArgument("\(path): invalid member name \(jsonQuote(name))") }
        guard let entry = archive_entry_new() else { throw BlipError(.outOfMemory, "cannot allocate a tar entry") }
        defer { archive_entry_free(entry) }
        // The name's UTF-8 bytes as they are: libarchive 3.6 converts names set with
        // archive_entry_set_pathname_utf8 through the process locale and, in the C locale,
        // crashes on a non-ASCII one. Raw bytes make it write a pax `path` record with
        // hdrcharset=BINARY for such names only (a warning, not an error); ASCII names get plain
        // ustar headers. Readers (Python's tarfile, GNU tar, TarReader) get the UTF-8 back.
        archive_entry_copy_pathname(entry, name)
        archive_entry_set_filetype(entry, carchive_regular_file)
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_size(entry, Int64(bytes.count))
        archive_entry_set_mtime(entry, time_t(mtime), 0)
        guard archive_write_header(a, entry) >= ARCHIVE_WARN else {
            throw BlipError.io("\(path): cannot write the header of \(name) (\(TarReader.errorText(a)))")
        }
        let written = bytes.withContiguousStorageIfAvailable { archive_write_data(a, $0.baseAddress, $0.count) }
            ?? Array(bytes).withUnsafeBytes { archive_write_data(a, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw BlipError.io("\(path): cannot write \(name) (\(TarReader.errorText(a)))")
        }
    }

    /// Writes the end-of-archive blocks and puts the archive in place durably.
    public func commit() throws {
        guard let a = archive else { throw BlipError.invalidArgument("\(path): the archive is already committed") }
        archive = nil
        defer { archive_write_free(a) }
        guard archive_write_close(a) == ARCHIVE_OK else {
            throw BlipError.io("\(path): cannot finish the tar archive (\(TarReader.errorText(a)))")
        }
        guard let file = file.take() else { return }
        try file.commit()
    }
}
