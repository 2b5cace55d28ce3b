import CBlipSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decodes JPEG and PNG files (detected by their magic bytes) into `PixelImage`s, the way Pillow
/// opens them: the result is GRAY8, RGB8 or RGBA8 (anything with alpha or a tRNS chunk).
/// Hostile input gives a `BlipError`, never a crash: pixel counts are checked against
/// `maxPixels` before pixel memory is allocated.
public enum ImageDecoder {
    /// BLIP_MAX_IMAGE_PIXELS: 128 * 1024 * 1024 pixels.
    public static let maxPixels = blipMaxImagePixels
    /// Largest encoded file `decode(fileAt:)` reads.
    public static let maxFileBytes = 1 << 30

    public static func decode(_ bytes: [UInt8], maxPixels: Int = ImageDecoder.maxPixels) throws -> PixelImage {
        try bytes.withUnsafeBufferPointer { try decode(UnsafeRawBufferPointer($0), maxPixels: maxPixels) }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, maxPixels: Int = ImageDecoder.maxPixels) throws -> PixelImage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw BlipError.imageFormat("image data is empty")
        }
        var image = bs_image()
        var message = [CChar](repeating: 0, count: 512)
        let rc = message.withUnsafeMutableBufferPointer { msg in
            bs_image_decode(base.assumingMemoryBound(to: UInt8.self), bytes.count, UInt64(max(maxPixels, 0)),
                            &image, msg.baseAddress, msg.count)
        }
        defer { bs_image_free(&image) }
        guard rc == Int32(BS_IMAGE_OK) else {
            message[message.count - 1] = 0
            let text = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let m = text.isEmpty ? "image could not be decoded" : text
            switch rc {
            case Int32(BS_IMAGE_ERR_TOO_LARGE): throw BlipError.tooLarge(m)
            case Int32(BS_IMAGE_ERR_NO_MEMORY): throw BlipError(.outOfMemory, m)
            case Int32(BS_IMAGE_ERR_UNSUPPORTED): throw BlipError.unsupported(m)
            case Int32(BS_IMAGE_ERR_ARGUMENT): throw BlipError.invalidArgument(m)
            default: throw BlipError.imageFormat(m)
            }
        }
        let format: PixelFormat
        switch image.format {
        case Int32(BS_IMAGE_GRAY8): format = .gray8
        case Int32(BS_IMAGE_RGB8): format = .rgb8
        case Int32(BS_IMAGE_RGBA8): format = .rgba8
        default: throw BlipError(.internalError, "image decoder returned unknown format \(image.format)")
        }
        guard let src = image.pixels, image.width > 0, image.height > 0 else {
            throw BlipError(.internalError, "image decoder returned no pixels")
        }
        let view = try PixelView(base: src, width: Int(image.width), height: Int(image.height),
                                 stride: Int(image.width) * format.bytesPerPixel, format: format)
        return PixelImage(copying: view)
    }

    /// Reads and decodes a file. A missing or unreadable file is a `.io` error naming the path.
    public static func decode(fileAt path: String, maxPixels: Int = ImageDecoder.maxPixels) throws -> PixelImage {
        let bytes = try readFile(path, limit: maxFileBytes)
        do {
            return try decode(bytes, maxPixels: maxPixels)
        } catch let e as BlipError {
            throw BlipError(e.kind, "\(path): \(e.message)")
        }
    }
}
