import BlipCore
import CBlip
import CBlipSupport

/// Runs the body of an exported function: clears the thread's last error, converts a thrown
/// BlipError into its status code and message. Every entry point goes through here.
func guarded(_ body: () throws -> Int32) -> Int32 {
    bs_set_last_error("")
    do {
        return try body()
    } catch let error as BlipError {
        return fail(error)
    } catch {
        return fail(BlipError(.internalError, "\(error)"))
    }
}

func fail(_ error: BlipError) -> Int32 {
    bs_set_last_error(error.message)
    return error.kind.rawValue
}

/// Non-NULL check with a message naming the argument.
func required<T>(_ pointer: T?, _ name: String) throws -> T {
    guard let pointer else { throw BlipError.invalidArgument("\(name) is NULL") }
    return pointer
}

/// A caller's params struct (every one starts with `size_t size`), or nil for a NULL pointer.
/// Only the size field is read before it is checked: a struct from an older or newer blip.h
/// may be shorter than ours, so reading the whole of it first could read past its end.
func sizedParams<T>(_ p: UnsafePointer<T>?, _ typeName: String) throws -> T? {
    guard let p else { return nil }
    let given = UnsafeRawPointer(p).load(as: Int.self)
    guard given == MemoryLayout<T>.size else {
        throw BlipError.invalidArgument("params->size is \(given), expected sizeof(\(typeName)) = \(MemoryLayout<T>.size); initialise it with \(typeName.dropLast("params".count))default_params()")
    }
    return p.pointee
}

/// The model behind an opaque handle (retained by blip_model_load, released by blip_model_free).
func modelFrom(_ handle: OpaquePointer?) throws -> BlipModel {
    guard let handle else { throw BlipError.invalidArgument("model is NULL") }
    return Unmanaged<BlipModel>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

/// Reads a C string argument as UTF-8, refusing NULL and invalid UTF-8.
func utf8String(_ pointer: UnsafePointer<CChar>?, _ name: String) throws -> String {
    let p = try required(pointer, name)
    guard let s = String(validatingCString: p) else { throw BlipError.invalidArgument("\(name) is not valid UTF-8") }
    return s
}

/// Copies `text` into a caller buffer with llama.cpp's convention: returns the length on
/// success; when the buffer is too small, BLIP_ERR_BUFFER_TOO_SMALL with *needed set.
func writeString(_ text: String, _ buf: UnsafeMutablePointer<CChar>?, _ size: Int, _ needed: UnsafeMutablePointer<Int>?) throws -> Int32 {
    let bytes = Array(text.utf8)
    needed?.pointee = bytes.count + 1
    guard let buf, size >= bytes.count + 1 else {
        throw BlipError(.bufferTooSmall, "output buffer holds \(size) bytes, \(bytes.count + 1) needed")
    }
    bytes.withUnsafeBufferPointer { b in
        UnsafeMutableRawPointer(buf).copyMemory(from: b.baseAddress!, byteCount: bytes.count)
    }
    buf[bytes.count] = 0
    return Int32(clamping: bytes.count)
}

/// A static C string (defaults' string fields point at these; they live as long as the library).
func staticCString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}
