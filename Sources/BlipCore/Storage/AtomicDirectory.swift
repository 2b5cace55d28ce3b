import Glibc

/// Builds a directory (a model or checkpoint folder) beside `path` and swaps it into place, so
/// readers and crashes see the old complete directory or the new complete one.
///
/// `build` fills the empty temporary directory `path.tmp-<pid>`. Then, when `path` exists, it is
/// renamed to `path.old-<pid>`, the temporary renamed to `path`, and the old tree removed. On
/// any failure the temporary is removed and the old `path` is left (or put back) intact.
///
/// Between the two renames `path` is briefly absent: Linux's `renameat2(RENAME_EXCHANGE)`
/// would close that gap but is not exposed to Swift by Glibc. A crash inside that window
/// leaves the previous output complete under `path.old-<pid>`.
public func replaceDirectoryAtomically(at path: String, build: (String) throws -> Void) throws {
    let target = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    let temporary = target + ".tmp-\(getpid())"
    let old = target + ".old-\(getpid())"
    var st = stat()
    let exists = lstat(target, &st) == 0
    if exists, (st.st_mode & S_IFMT) != S_IFDIR {
        throw BlipError.io("\(target): exists and is not a directory")
    }
    try removeTree(temporary)  // debris of an earlier run that had the same pid
    guard mkdir(temporary, 0o755) == 0 else {
        throw BlipError.io("\(target): cannot create (\(lastErrorText()))")
    }
    do {
        try build(temporary)
        syncDirectory(temporary)
    } catch {
        try? removeTree(temporary)
        throw error
    }
    if exists {
        try? removeTree(old)
        guard rename(target, old) == 0 else {
            let reason = lastErrorText()
            try? removeTree(temporary)
            throw BlipError.io("\(target): cannot move the previous output aside (\(reason))")
        }
    }
    guard rename(temporary, target) == 0 else {
        let reason = lastErrorText()
        if exists { _ = rename(old, target) }
        try? removeTree(temporary)
        throw BlipError.io("\(target): cannot rename from \(temporary) (\(reason))")
    }
    syncParentDirectory(of: target)
    if exists { try removeTree(old) }
}

/// Removes a file or a directory tree (symlinks are removed, never followed). A missing path
/// is not an error.
public func removeTree(_ path: String) throws {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) != S_IFDIR {
        guard unlink(path) == 0 else { throw BlipError.io("\(path): cannot remove (\(lastErrorText()))") }
        return
    }
    // Children first; lstat above means symlinked directories are unlinked, not followed.
    guard let dir = opendir(path) else { throw BlipError.io("\(path): cannot open (\(lastErrorText()))") }
    var children: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { children.append(name) }
    }
    closedir(dir)
    for child in children { try removeTree(path + "/" + child) }
    guard rmdir(path) == 0 else { throw BlipError.io("\(path): cannot remove (\(lastErrorText()))") }
}
