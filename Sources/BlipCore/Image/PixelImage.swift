/// Pixel layouts libblip accepts (raw values match BLIP_PIXEL_* in blip.h).
public enum PixelFormat: Int32, Sendable, CaseIterable {
    case rgb8 = 0
    case rgba8 = 1
    case bgra8 = 2
    case gray8 = 3

    public var bytesPerPixel: Int {
        switch self {
        case .rgb8: 3
        case .rgba8, .bgra8: 4
        case .gray8: 1
        }
    }

    public var hasAlpha: Bool { self == .rgba8 || self == .bgra8 }
}

/// Largest image accepted anywhere in libblip, in pixels (width * height): 128 megapixels,
/// BLIP_MAX_IMAGE_PIXELS in blip.h.
public let blipMaxImagePixels = 128 * 1024 * 1024

/// Checks the geometry of an image: sizes > 0, width*height within `maxPixels`, stride large
/// enough and the whole buffer addressable without overflow. Returns the byte count a buffer
/// with that stride must hold (stride * (height - 1) + width * bytesPerPixel). A nil stride
/// means tightly packed rows.
@discardableResult
func validateImageGeometry(width: Int, height: Int, format: PixelFormat, stride requested: Int? = nil,
                           maxPixels: Int = blipMaxImagePixels) throws -> Int {
    guard width > 0, height > 0 else {
        throw BlipError.invalidArgument("image size must be positive, got \(width)x\(height)")
    }
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    guard !overflow, pixels <= maxPixels else {
        throw BlipError.tooLarge("image of \(width)x\(height) pixels exceeds the limit of \(maxPixels) pixels")
    }
    let rowBytes = width * format.bytesPerPixel  // width <= maxPixels: no overflow
    let stride = requested ?? rowBytes
    guard stride >= rowBytes else {
        throw BlipError.invalidArgument("image stride \(stride) is smaller than width * bytes per pixel (\(rowBytes))")
    }
    let (body, o1) = stride.multipliedReportingOverflow(by: height - 1)
    let (total, o2) = body.addingReportingOverflow(rowBytes)
    guard !o1, !o2 else { throw BlipError.tooLarge("image stride \(stride) x height \(height) overflows") }
    return total
}

/// A borrowed, read-only view of 8-bit pixels in someone else's memory (a decoded image, a
/// video frame). Valid only while that memory is; the library never writes through it.
public struct PixelView {
    public let base: UnsafePointer<UInt8>
    public let width: Int
    public let height: Int
    /// Bytes from one row to the next (>= width * bytesPerPixel).
    public let stride: Int
    public let format: PixelFormat

    /// Validates the geometry (sizes > 0, pixel limit, stride); the caller vouches that
    /// `stride * (height - 1) + width * bytesPerPixel` bytes are readable at `base`.
    public init(base: UnsafePointer<UInt8>?, width: Int, height: Int, stride: Int, format: PixelFormat) throws {
        try validateImageGeometry(width: width, height: height, format: format, stride: stride)
        guard let base else { throw BlipError.invalidArgument("image pixels pointer is NULL") }
        self.base = base
        self.width = width
        self.height = height
        self.stride = stride
        self.format = format
    }

    @inline(__always) func row(_ y: Int) -> UnsafePointer<UInt8> { base + y * stride }
}

/// An image owning tightly packed 8-bit pixels (row stride = width * bytesPerPixel).
public struct PixelImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let format: PixelFormat
    public let pixels: [UInt8]

    public var stride: Int { width * format.bytesPerPixel }

    /// Takes packed pixels; `pixels.count` must be width * height * bytesPerPixel.
    public init(width: Int, height: Int, format: PixelFormat, pixels: [UInt8]) throws {
        let needed = try validateImageGeometry(width: width, height: height, format: format)
        guard pixels.count == needed else {
            throw BlipError.invalidArgument("image of \(width)x\(height) \(format) needs \(needed) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.format = format
        self.pixels = pixels
    }

    /// Copies a caller-owned buffer with an arbitrary row stride (the buffer is only read).
    public init(width: Int, height: Int, format: PixelFormat, stride: Int,
                copying base: UnsafeRawPointer?) throws {
        let view = try PixelView(base: base?.assumingMemoryBound(to: UInt8.self), width: width,
                                 height: height, stride: stride, format: format)
        self.init(copying: view)
    }

    /// Copies the pixels a view points at.
    public init(copying view: PixelView) {
        let rowBytes = view.width * view.format.bytesPerPixel
        let pixels = [UInt8](unsafeUninitializedCapacity: rowBytes * view.height) { buf, count in
            guard let dst = buf.baseAddress else { count = 0; return }
            for y in 0..<view.height {
                (dst + y * rowBytes).update(from: view.row(y), count: rowBytes)
            }
            count = rowBytes * view.height
        }
        self.init(trusted: view.width, view.height, view.format, pixels)
    }

    /// Internal: geometry already validated by the caller.
    init(trusted width: Int, _ height: Int, _ format: PixelFormat, _ pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.format = format
        self.pixels = pixels
    }

    /// Runs `body` with a view of these pixels.
    public func withView<R>(_ body: (PixelView) throws -> R) throws -> R {
        try pixels.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { throw BlipError.invalidArgument("image has no pixels") }
            let view = try PixelView(base: base, width: width, height: height, stride: stride, format: format)
            return try body(view)
        }
    }
}
