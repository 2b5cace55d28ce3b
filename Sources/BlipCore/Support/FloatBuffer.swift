import Glibc

/// A read-only float array that either points into a memory-mapped file (kept alive through
/// `owner`) or owns a heap copy (converted from F16/BF16, or realigned).
public final class FloatBuffer: @unchecked Sendable {
    public let pointer: UnsafePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    private let ownsMemory: Bool

    /// True when the floats are a view of a read-only file mapping (`releaseMappedPages` may
    /// drop them from memory: the kernel reads them back from the file).
    private let isReadOnlyFileMapping: Bool

    /// Borrows memory that `owner` keeps alive. `readOnlyFileMapping`: the memory is part of a
    /// read-only mmap of a file (never of memory someone writes, such as training parameters).
    public init(borrowing pointer: UnsafePointer<Float>, count: Int, owner: AnyObject, readOnlyFileMapping: Bool = false) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        self.ownsMemory = false
        self.isReadOnlyFileMapping = readOnlyFileMapping
    }

    /// Allocates `count` floats and lets `fill` write them.
    public init(count: Int, fill: (UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        do { try fill(p) } catch { p.deallocate(); throw error }
        self.pointer = UnsafePointer(p)
        self.count = count
        self.owner = nil
        self.ownsMemory = true
        self.isReadOnlyFileMapping = false
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count) { p in
            values.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: values.count) }
        }
    }

    deinit { if ownsMemory { UnsafeMutablePointer(mutating: pointer).deallocate() } }

    /// For floats that will not be read again (a layer packed its own copy of them): when they
    /// are a view of a read-only file mapping, the whole pages they cover leave the process's
    /// resident set (the kernel re-reads them from the file if they are ever touched). Anything
    /// else is left alone: a heap copy is freed with its last reference, and borrowed memory
    /// that is not a file mapping (training parameters) would be zeroed by MADV_DONTNEED.
    public func releaseMappedPages() {
        guard isReadOnlyFileMapping else { return }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let start = UInt(bitPattern: pointer), end = start + UInt(count * MemoryLayout<Float>.size)
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first, let address = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(address, Int(last - first), MADV_DONTNEED)
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Scratch memory for one call, allocated once and reused by every layer.
public final class ScratchBuffer {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    public init(count: Int) {
        self.count = max(count, 1)
        pointer = .allocate(capacity: self.count)
    }
    deinit { pointer.deallocate() }
}
