/// Builds a `.safetensors` file byte for byte as Python's `safetensors` (0.4+) writes it, so
/// models saved here are indistinguishable from `save_pretrained`'s:
///
/// - 8-byte little-endian header length, then compact JSON (serde_json's formatting), padded
///   with spaces to a multiple of 8 bytes;
/// - `__metadata__` first when there is any metadata, its keys sorted (Python's order is that
///   of a Rust HashMap, i.e. arbitrary; with a single key, as `save_pretrained` writes, the
///   bytes are identical);
/// - tensors ordered as the Rust library orders them: larger dtypes first (F32 before F16),
///   then by name (bytewise), with the data buffer in that order.
///
/// Tensors are copied when added (converted to F16 right away for `add(name:shape:f16From:)`),
/// so callers may reuse their buffers; `add(name:shape:borrowingF32:)` instead streams from
/// the caller's memory at `write` (for checkpoints, where copies of parameters and optimizer
/// state would cost gigabytes).
public struct SafetensorsWriter {
    private enum Payload {
        case owned([UInt8])
        case borrowed(UnsafeRawBufferPointer)
    }

    private struct Tensor {
        let name: String
        let dtype: SafetensorsFile.DType
        let shape: [Int]
        let data: Payload
        var byteCount: Int {
            switch data {
            case .owned(let b): b.count
            case .borrowed(let b): b.count
            }
        }
    }

    private var tensors: [Tensor] = []
    private var names: Set<String> = []
    /// String metadata written as `__metadata__` (transformers writes `{"format": "pt"}`).
    public var metadata: [String: String] = [:]

    public init() {}

    /// Adds a float32 tensor (copied as is).
    public mutating func add(name: String, shape: [Int], f32 values: UnsafeBufferPointer<Float>) throws {
        try check(name: name, shape: shape, count: values.count)
        var bytes = [UInt8](repeating: 0, count: values.count * 4)
        bytes.withUnsafeMutableBytes { out in
            for (i, v) in values.enumerated() { out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        append(Tensor(name: name, dtype: .f32, shape: shape, data: .owned(bytes)))
    }

    /// Adds a float32 tensor without copying it: `values` must stay valid and unchanged until
    /// `write` returns.
    public mutating func add(name: String, shape: [Int], borrowingF32 values: UnsafeBufferPointer<Float>) throws {
        #if _endian(big)
        try add(name: name, shape: shape, f32: values)  // the file is little-endian
        #else
        try check(name: name, shape: shape, count: values.count)
        append(Tensor(name: name, dtype: .f32, shape: shape, data: .borrowed(UnsafeRawBufferPointer(values))))
        #endif
    }

    /// Adds a float16 tensor converted from float32 with IEEE round-to-nearest-even, as numpy's
    /// `astype(float16)` and torch's `.half()` do (overflow to ±inf, subnormals kept).
    public mutating func add(name: String, shape: [Int], f16From values: UnsafeBufferPointer<Float>) throws {
        try check(name: name, shape: shape, count: values.count)
        var bytes = [UInt8](repeating: 0, count: values.count * 2)
        bytes.withUnsafeMutableBytes { out in
            for (i, v) in values.enumerated() { out.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        }
        append(Tensor(name: name, dtype: .f16, shape: shape, data: .owned(bytes)))
    }

    /// Number of tensors added so far.
    public var count: Int { tensors.count }

    /// Writes the file atomically (`path.tmp-<pid>`, fsync, rename; the temporary is removed on
    /// any error), tensor by tensor: the file is never assembled in memory.
    public func write(to path: String) throws {
        let ordered = orderedTensors()
        var header = Array(headerJSON(ordered).utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }  // as safetensors pads
        var file = try AtomicFileWriter(path: path)
        try withUnsafeBytes(of: UInt64(header.count).littleEndian) { try file.write($0) }
        try header.withUnsafeBytes { try file.write($0) }
        for t in ordered {
            switch t.data {
            case .owned(let bytes): try bytes.withUnsafeBytes { try file.write($0) }
            case .borrowed(let raw): try file.write(raw)
            }
        }
        try file.commit()
    }

    // MARK: Private

    private mutating func check(name: String, shape: [Int], count: Int) throws {
        guard !name.isEmpty, name != "__metadata__" else {
            throw BlipError.invalidArgument("safetensors: invalid tensor name '\(name)'")
        }
        guard !names.contains(name) else { throw BlipError.invalidArgument("safetensors: tensor '\(name)' added twice") }
        var elements = 1
        for d in shape {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard d >= 0, !overflow else { throw BlipError.invalidArgument("safetensors: tensor '\(name)': invalid shape \(shape)") }
            elements = p
        }
        guard elements == count else {
            throw BlipError.invalidArgument("safetensors: tensor '\(name)': shape \(shape) holds \(elements) values, got \(count)")
        }
    }

    private mutating func append(_ t: Tensor) {
        names.insert(t.name)
        tensors.append(t)
    }

    /// Rust safetensors sorts by dtype, descending in its enum order (… F16, BF16, I32, U32,
    /// F32 …), then by name.
    private func orderedTensors() -> [Tensor] {
        func rank(_ d: SafetensorsFile.DType) -> Int { d == .f32 ? 1 : 0 }
        return tensors.sorted {
            rank($0.dtype) != rank($1.dtype) ? rank($0.dtype) > rank($1.dtype)
                : $0.name.utf8.lexicographicallyPrecedes($1.name.utf8)
        }
    }

    private func headerJSON(_ ordered: [Tensor]) -> String {
        var parts: [String] = []
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let fields = keys.map { jsonQuote($0) + ":" + jsonQuote(metadata[$0] ?? "") }
            parts.append("\"__metadata__\":{" + fields.joined(separator: ",") + "}")
        }
        var offset = 0
        for t in ordered {
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append(jsonQuote(t.name) + ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],"
                         + "\"data_offsets\":[\(offset),\(offset + t.byteCount)]}")
            offset += t.byteCount
        }
        return "{" + parts.joined(separator: ",") + "}"
    }
}
