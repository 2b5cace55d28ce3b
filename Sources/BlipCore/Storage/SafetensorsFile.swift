import BlipKernels
import FoundationEssentials
import Glibc

/// A memory-mapped `.safetensors` file, validated before any tensor is read.
///
/// Format: 8-byte little-endian header length N, N bytes of JSON
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, then the
/// data buffer. Rules enforced (those of the reference implementation): N ≤ 100 MB; every entry
/// has a known dtype, non-negative shape and offsets with `end - begin == product(shape) · size`
/// (overflow-checked); entries sorted by offset are contiguous, do not overlap and cover the
/// data buffer exactly. Nothing outside the mapping is ever read.
public final class SafetensorsFile: WeightSource {
    public enum DType: String, Sendable {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
        case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
        case u16 = "U16", u32 = "U32", u64 = "U64", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

        public var size: Int {
            switch self {
            case .f64, .i64, .u64: return 8
            case .f32, .i32, .u32: return 4
            case .f16, .bf16, .i16, .u16: return 2
            case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
            }
        }
    }

    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let begin: Int  // offset in the data buffer
        public let end: Int
        public var elementCount: Int { shape.reduce(1, *) }
    }

    public static let maxHeaderBytes = 100_000_000

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let base: UnsafeRawPointer
    private let mappedLength: Int
    private let dataStart: Int

    public init(path: String) throws {
        self.path = path
        let (fd, size) = try openRegularFile(path)
        defer { close(fd) }
        guard size >= 8 else { throw BlipError.modelFormat("\(path): file too short for a safetensors header (\(size) bytes)") }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw BlipError.io("\(path): mmap failed (\(String(cString: strerror(errno))))")
        }
        let base = UnsafeRawPointer(map)
        do {
            let parsed = try Self.parseHeader(base: base, fileSize: size, path: path)
            self.entries = parsed.entries
            self.metadata = parsed.metadata
            self.dataStart = parsed.dataStart
        } catch {
            munmap(map, size)
            throw error
        }
        self.base = base
        self.mappedLength = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }

    private static func parseHeader(base: UnsafeRawPointer, fileSize: Int, path: String) throws
        -> (entries: [String: Entry], metadata: [String: String], dataStart: Int)
    {
        let headerLength64 = base.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength64 <= UInt64(maxHeaderBytes) else {
            throw BlipError.modelFormat("\(path): header length \(headerLength64) exceeds the 100 MB limit")
        }
        let headerLength = Int(headerLength64)
        guard headerLength >= 2, 8 + headerLength <= fileSize else {
            throw BlipError.modelFormat("\(path): header length \(headerLength) does not fit in the \(fileSize)-byte file (truncated?)")
        }
        let headerBytes = UnsafeRawBufferPointer(start: base + 8, count: headerLength)
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw BlipError.modelFormat("\(path): header is not a JSON object")
        }
        let json = try JSONValue.parse(headerBytes, file: path)
        guard let object = json.objectValue else { throw BlipError.modelFormat("\(path): header is not a JSON object") }

        let dataStart = 8 + headerLength
        let dataLength = fileSize - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value.objectValue else { throw BlipError.modelFormat("\(path): __metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v.stringValue else { throw BlipError.modelFormat("\(path): __metadata__[\(k)] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value.objectValue else { throw BlipError.modelFormat("\(path): tensor '\(name)': entry is not an object") }
            guard let dtypeName = info["dtype"]?.stringValue else { throw BlipError.modelFormat("\(path): tensor '\(name)': missing dtype") }
            guard let dtype = DType(rawValue: dtypeName) else { throw BlipError.modelFormat("\(path): tensor '\(name)': unknown dtype '\(dtypeName)'") }
            guard let shapeValues = info["shape"]?.arrayValue else { throw BlipError.modelFormat("\(path): tensor '\(name)': missing shape") }
            var shape: [Int] = []
            var elements = 1
            for dim in shapeValues {
                guard let d = dim.intValue, d >= 0 else { throw BlipError.modelFormat("\(path): tensor '\(name)': invalid shape \(shapeValues)") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw BlipError.modelFormat("\(path): tensor '\(name)': shape overflows") }
                elements = product
                shape.append(d)
            }
            guard let offsets = info["data_offsets"]?.arrayValue, offsets.count == 2,
                  let begin = offsets[0].intValue, let end = offsets[1].intValue, begin >= 0, end >= begin
            else { throw BlipError.modelFormat("\(path): tensor '\(name)': invalid data_offsets") }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, end - begin == bytes else {
                throw BlipError.modelFormat("\(path): tensor '\(name)': data_offsets [\(begin), \(end)] do not match shape \(shape) of \(dtypeName)")
            }
            guard end <= dataLength else {
                throw BlipError.modelFormat("\(path): tensor '\(name)': data_offsets [\(begin), \(end)] point outside the file (data buffer is \(dataLength) bytes; truncated?)")
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
        }
        // Contiguous, non-overlapping, covering the buffer exactly.
        var cursor = 0
        for entry in entries.values.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard entry.begin == cursor else {
                let what = entry.begin < cursor ? "overlaps the previous tensor" : "leaves a gap before it"
                throw BlipError.modelFormat("\(path): tensor '\(entry.name)' \(what) (offset \(entry.begin), expected \(cursor))")
            }
            cursor = entry.end
        }
        guard cursor == dataLength else {
            throw BlipError.modelFormat("\(path): tensors cover \(cursor) bytes but the data buffer has \(dataLength) (truncated or trailing bytes)")
        }
        return (entries, metadata, dataStart)
    }

    /// Raw bytes of a tensor inside the mapping.
    public func bytes(of entry: Entry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + dataStart + entry.begin, count: entry.end - entry.begin)
    }

    // MARK: WeightSource

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    public func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else { throw BlipError.modelFormat("\(path): tensor '\(name)' is missing") }
        return e
    }

    public func floats(_ name: String, shape: [Int]) throws -> FloatBuffer {
        let e = try entry(name)
        guard e.shape == shape else {
            throw BlipError.modelFormat("\(path): tensor '\(name)' has shape \(e.shape), expected \(shape) from config.json")
        }
        let raw = bytes(of: e)
        let count = e.elementCount
        switch e.dtype {
        case .f32:
            if let start = raw.baseAddress, Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
                return FloatBuffer(borrowing: start.assumingMemoryBound(to: Float.self), count: count, owner: self,
                                   readOnlyFileMapping: true)
            }
            return FloatBuffer(count: count) { out in
                for i in 0..<count { out[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian) }
            }
        case .f16:
            // In parallel, with integer arithmetic: without F16C in the baseline ISA,
            // Float(Float16) is a library call per value, and an F16 word-embedding table has
            // 23 M values.
            return FloatBuffer(count: count) { out in
                Parallel.forEachChunk(count, minChunk: 1 << 16) { range in
                    for i in range { out[i] = halfToFloat(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian) }
                }
            }
        case .bf16:
            return FloatBuffer(count: count) { out in
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian) << 16)
                }
            }
        default:
            throw BlipError.modelFormat("\(path): tensor '\(name)' has dtype \(e.dtype.rawValue); expected F32, F16 or BF16")
        }
    }

    public var storageDescription: String {
        let floats: Set<DType> = [.f32, .f16, .bf16]
        var present = Set<DType>()
        for entry in entries.values where floats.contains(entry.dtype) { present.insert(entry.dtype) }
        let names = present.map { $0.rawValue }.sorted().joined(separator: "+")
        let how = present == [.f32] ? "memory-mapped" : "converted to F32 at load"
        return "safetensors \(names) (\(how))"
    }

    public var parameterCount: Int {
        entries.values.filter { $0.dtype != .i64 }.reduce(0) { $0 + $1.elementCount }
    }
}

/// IEEE half → float, exact for every bit pattern (zeros, subnormals, infinities, NaNs keep
/// their payload bits): the exponent is rebased with integer adds; subnormals are normalised
/// by one float subtraction.
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let shifted = UInt32(h & 0x7fff) << 13          // exponent and mantissa in float position
    let exponent = shifted & 0x0f80_0000
    let sign = UInt32(h & 0x8000) << 16
    let magnitude: Float
    if exponent == 0x0f80_0000 {                     // Inf / NaN
        magnitude = Float(bitPattern: shifted + 0x7000_0000)
    } else if exponent == 0 {                        // zero / subnormal
        magnitude = Float(bitPattern: shifted + 0x3880_0000) - Float(bitPattern: 0x3880_0000)
    } else {
        magnitude = Float(bitPattern: shifted + 0x3800_0000)
    }
    return Float(bitPattern: magnitude.bitPattern | sign)
}
