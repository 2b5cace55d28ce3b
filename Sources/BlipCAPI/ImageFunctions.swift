import BlipCore
import CBlip
import Glibc

/// Copies a decoded image into malloc'ed memory the caller releases with blip_image_free.
private func export(_ image: PixelImage, into out: UnsafeMutablePointer<blip_image>) throws -> Int32 {
    guard let buffer = malloc(max(image.pixels.count, 1))?.assumingMemoryBound(to: UInt8.self) else {
        throw BlipError(.outOfMemory, "cannot allocate \(image.pixels.count) bytes for the decoded image")
    }
    image.pixels.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: image.pixels.count) }
    out.pointee = blip_image(pixels: UnsafePointer(buffer), width: Int32(image.width), height: Int32(image.height),
                             stride: Int32(image.stride), format: image.format.rawValue)
    return BLIP_OK
}

@_cdecl("blip_image_load_file")
public func blip_image_load_file(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<blip_image>?) -> Int32 {
    guarded {
        let out = try required(out, "out_image")
        let image = try ImageDecoder.decode(fileAt: utf8String(path, "path"))
        return try export(image, into: out)
    }
}

@_cdecl("blip_image_load_memory")
public func blip_image_load_memory(_ data: UnsafeRawPointer?, _ size: Int, _ out: UnsafeMutablePointer<blip_image>?) -> Int32 {
    guarded {
        let out = try required(out, "out_image")
        let data = try required(data, "data")
        guard size > 0 else { throw BlipError.imageFormat("image data is empty (size 0)") }
        let image = try ImageDecoder.decode(UnsafeRawBufferPointer(start: data, count: size))
        return try export(image, into: out)
    }
}

@_cdecl("blip_image_free")
public func blip_image_free(_ image: UnsafeMutablePointer<blip_image>?) {
    guard let image, let pixels = image.pointee.pixels else { return }
    free(UnsafeMutableRawPointer(mutating: pixels))
    image.pointee.pixels = nil
}

/// A caller's blip_image as a validated view (no copy).
func pixelView(_ image: blip_image, index: Int) throws -> PixelView {
    guard let format = PixelFormat(rawValue: image.format) else {
        throw BlipError.invalidArgument("images[\(index)]: unknown pixel format \(image.format)")
    }
    do {
        return try PixelView(base: image.pixels, width: Int(image.width), height: Int(image.height),
                             stride: Int(image.stride), format: format)
    } catch let e as BlipError {
        throw BlipError(e.kind, "images[\(index)]: \(e.message)")
    }
}

/// Validates an (images, count) pair and returns views of every image.
func pixelViews(_ images: UnsafePointer<blip_image>?, _ count: Int) throws -> [PixelView] {
    guard count > 0 else { throw BlipError.invalidArgument("n_images must be at least 1") }
    guard count <= 1 << 20 else { throw BlipError.invalidArgument("n_images \(count) is out of range") }
    let images = try required(images, "images")
    return try (0..<count).map { try pixelView(images[$0], index: $0) }
}
