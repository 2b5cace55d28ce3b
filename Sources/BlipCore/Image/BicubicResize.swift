#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pillow's resampling filters (values = `PIL.Image.Resampling`, as in `resample` of
/// preprocessor_config.json). NEAREST (0) is not a convolution in Pillow and is not offered.
public enum ResampleFilter: Int, Sendable, CaseIterable {
    case lanczos = 1
    case bilinear = 2
    case bicubic = 3
    case box = 4
    case hamming = 5

    /// Filter support in input pixels at scale 1 (Resample.c).
    var support: Double {
        switch self {
        case .box: 0.5
        case .bilinear, .hamming: 1.0
        case .bicubic: 2.0
        case .lanczos: 3.0
        }
    }

    /// Kernel value, with Pillow's exact expressions (so the doubles match bit for bit).
    func kernel(_ x0: Double) -> Double {
        switch self {
        case .box:
            return (x0 > -0.5 && x0 <= 0.5) ? 1.0 : 0.0
        case .bilinear:
            let x = x0 < 0 ? -x0 : x0
            return x < 1.0 ? 1.0 - x : 0.0
        case .hamming:
            var x = x0 < 0 ? -x0 : x0
            if x == 0.0 { return 1.0 }
            if x >= 1.0 { return 0.0 }
            x = x * Double.pi
            return sin(x) / x * (Double(Float(0.54)) + Double(Float(0.46)) * cos(x))  // 0.54f, 0.46f in C
        case .bicubic:
            let a = -0.5
            let x = x0 < 0 ? -x0 : x0
            if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
            if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0.0
        case .lanczos:
            func sinc(_ x: Double) -> Double {
                if x == 0.0 { return 1.0 }
                let y = x * Double.pi
                return sin(y) / y
            }
            if -3.0 <= x0 && x0 < 3.0 { return sinc(x0) * sinc(x0 / 3) }
            return 0.0
        }
    }
}

/// Fixed-point coefficients for one axis (Pillow `precompute_coeffs` + `normalize_coeffs_8bpc`).
struct ResampleCoefficients {
    static let precisionBits: Int32 = 22
    let outSize: Int
    let ksize: Int
    /// bounds[2*i] = first input index, bounds[2*i+1] = number of taps.
    var bounds: [Int]
    var kk: [Int32]

    init(inSize: Int, outSize: Int, filter: ResampleFilter) {
        let scale = Double(Float(inSize)) / Double(outSize)  // Pillow: (double)(in1 - in0) / outSize, box in float
        let filterscale = max(scale, 1.0)
        let support = filter.support * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        self.outSize = outSize
        self.ksize = ksize
        var bounds = [Int](repeating: 0, count: outSize * 2)
        var kk = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        let ss = 1.0 / filterscale
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            if xmax > ksize { xmax = ksize }  // cannot happen; keeps indexing in bounds
            if xmax < 0 { xmax = 0 }
            var ww = 0.0
            for x in 0..<xmax {
                let w = filter.kernel((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<ksize {
                var v = x < xmax ? k[x] : 0.0
                if x < xmax && ww != 0.0 { v /= ww }
                let scaled = v * Double(1 << Self.precisionBits)
                kk[xx * ksize + x] = v < 0 ? Int32(-0.5 + scaled) : Int32(0.5 + scaled)
            }
            bounds[2 * xx] = xmin
            bounds[2 * xx + 1] = xmax
        }
        self.bounds = bounds
        self.kk = kk
    }
}

/// Pillow-exact resizing of 8-bit images (`Image.resize((w, h), filter)` with `reducing_gap=None`,
/// Pillow 13): antialiased separable convolution in two uint8 passes (normally horizontal first
/// into a temporary holding only the rows the vertical pass reads; vertical first when the height
/// shrinks much more than the width, see `verticalFirst`), fixed-point with 22 fraction bits.
public enum ImageResizer {
    /// Resizes a GRAY8 or RGB8 image. Alpha formats are refused: Pillow resizes RGBA
    /// premultiplied; convert to RGB first (`RGBConversion`).
    public static func resize(_ image: PixelImage, width: Int, height: Int,
                              filter: ResampleFilter = .bicubic) throws -> PixelImage {
        try image.withView { try resize($0, width: width, height: height, filter: filter) }
    }

    public static func resize(_ view: PixelView, width: Int, height: Int,
                              filter: ResampleFilter = .bicubic) throws -> PixelImage {
        guard view.format == .rgb8 || view.format == .gray8 else {
            throw BlipError.unsupported("resize supports RGB8 and GRAY8 images, got \(view.format); convert to RGB first")
        }
        try validateImageGeometry(width: width, height: height, format: view.format)
        let channels = view.format.bytesPerPixel
        let count = width * height * channels
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buf, n in
            guard let dst = buf.baseAddress else { n = 0; return }
            resample(src: view.base, srcStride: view.stride, inWidth: view.width, inHeight: view.height,
                     channels: channels, dst: dst, outWidth: width, outHeight: height, filter: filter)
            n = count
        }
        return PixelImage(trusted: width, height, view.format, pixels)
    }

    @inline(__always)
    static func clip8(_ v: Int32) -> UInt8 {
        let s = v >> ResampleCoefficients.precisionBits
        return s < 0 ? 0 : s > 255 ? 255 : UInt8(truncatingIfNeeded: s)
    }

    /// Core: `channels` interleaved 8-bit channels, packed output (stride outWidth*channels).
    /// Sizes must already be validated (> 0).
    static func resample(src: UnsafePointer<UInt8>, srcStride: Int, inWidth: Int, inHeight: Int, channels: Int,
                         dst: UnsafeMutablePointer<UInt8>, outWidth: Int, outHeight: Int, filter: ResampleFilter) {
        let outStride = outWidth * channels
        let needH = outWidth != inWidth
        let needV = outHeight != inHeight
        if !needH && !needV {
            for y in 0..<inHeight { (dst + y * outStride).update(from: src + y * srcStride, count: outStride) }
            return
        }
        var vert = ResampleCoefficients(inSize: inHeight, outSize: outHeight, filter: filter)
        if !needH {
            vertical(src: src, srcStride: srcStride, rowBytes: outStride, coeffs: vert, dst: dst)
            return
        }
        let horiz = ResampleCoefficients(inSize: inWidth, outSize: outWidth, filter: filter)
        if !needV {
            horizontal(src: src, srcStride: srcStride, firstRow: 0, rows: inHeight, channels: channels,
                       coeffs: horiz, dst: dst, dstStride: outStride)
            return
        }
        if verticalFirst(inWidth: inWidth, inHeight: inHeight, outWidth: outWidth, outHeight: outHeight) {
            // Pillow >= 13 (python-pillow/Pillow#9549): when the height shrinks by more than twice
            // what the width loses, the vertical pass runs first, over full source rows.
            let tmpStride = inWidth * channels
            let tmp = UnsafeMutablePointer<UInt8>.allocate(capacity: tmpStride * outHeight)
            defer { tmp.deallocate() }
            vertical(src: src, srcStride: srcStride, rowBytes: tmpStride, coeffs: vert, dst: tmp)
            horizontal(src: tmp, srcStride: tmpStride, firstRow: 0, rows: outHeight, channels: channels,
                       coeffs: horiz, dst: dst, dstStride: outStride)
            return
        }
        // Horizontal first, over only the source rows the vertical pass reads.
        let yFirst = vert.bounds[0]
        let yLast = vert.bounds[outHeight * 2 - 2] + vert.bounds[outHeight * 2 - 1]
        let tmpRows = max(yLast - yFirst, 0)
        for i in 0..<outHeight { vert.bounds[2 * i] -= yFirst }
        let tmp = UnsafeMutablePointer<UInt8>.allocate(capacity: max(tmpRows * outStride, 1))
        defer { tmp.deallocate() }
        horizontal(src: src, srcStride: srcStride, firstRow: yFirst, rows: tmpRows, channels: channels,
                   coeffs: horiz, dst: tmp, dstStride: outStride)
        vertical(src: tmp, srcStride: outStride, rowBytes: outStride, coeffs: vert, dst: dst)
    }

    /// Pass order of Pillow 13's ImagingResampleInner (both passes needed): vertical first iff
    /// the height is reduced and `inHeight - outHeight > 2 * (inWidth - outWidth)`. Pillow <= 12
    /// always ran the horizontal pass first; results differ by a few levels at some pixels.
    static func verticalFirst(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) -> Bool {
        outHeight < inHeight && (inHeight - outHeight) > 2 * (inWidth - outWidth)
    }

    /// Horizontal pass (Pillow ImagingResampleHorizontal_8bpc): integer multiply-adds per tap.
    /// (Int16 pmaddwd and Int32 SIMD variants were measured slower on baseline x86-64.)
    static func horizontal(src: UnsafePointer<UInt8>, srcStride: Int, firstRow: Int, rows: Int, channels: Int,
                           coeffs: ResampleCoefficients, dst: UnsafeMutablePointer<UInt8>, dstStride: Int) {
        let half: Int32 = 1 << (ResampleCoefficients.precisionBits - 1)
        let ksize = coeffs.ksize
        let outW = coeffs.outSize
        coeffs.bounds.withUnsafeBufferPointer { bb in
        coeffs.kk.withUnsafeBufferPointer { kb in
            guard let bounds = bb.baseAddress, let kk = kb.baseAddress else { return }
            for yy in 0..<rows {
                let s = src + (yy + firstRow) * srcStride
                let o = dst + yy * dstStride
                switch channels {
                case 3:
                    for xx in 0..<outW {
                        let xmin = bounds[2 * xx], n = bounds[2 * xx + 1]
                        let k = kk + xx * ksize
                        var p = s + xmin * 3
                        var s0 = half, s1 = half, s2 = half
                        for x in 0..<n {
                            let w = k[x]
                            s0 &+= Int32(p[0]) &* w
                            s1 &+= Int32(p[1]) &* w
                            s2 &+= Int32(p[2]) &* w
                            p += 3
                        }
                        o[3 * xx] = clip8(s0); o[3 * xx + 1] = clip8(s1); o[3 * xx + 2] = clip8(s2)
                    }
                case 1:
                    for xx in 0..<outW {
                        let xmin = bounds[2 * xx], n = bounds[2 * xx + 1]
                        let k = kk + xx * ksize
                        let p = s + xmin
                        var s0 = half
                        for x in 0..<n { s0 &+= Int32(p[x]) &* k[x] }
                        o[xx] = clip8(s0)
                    }
                default:
                    for xx in 0..<outW {
                        let xmin = bounds[2 * xx], n = bounds[2 * xx + 1]
                        let k = kk + xx * ksize
                        for c in 0..<channels {
                            var s0 = half
                            for x in 0..<n { s0 &+= Int32(s[(xmin + x) * channels + c]) &* k[x] }
                            o[xx * channels + c] = clip8(s0)
                        }
                    }
                }
            }
        }
        }
    }

    static func vertical(src: UnsafePointer<UInt8>, srcStride: Int, rowBytes: Int,
                         coeffs: ResampleCoefficients, dst: UnsafeMutablePointer<UInt8>) {
        let half: Int32 = 1 << (ResampleCoefficients.precisionBits - 1)
        let ksize = coeffs.ksize
        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
        defer { acc.deallocate() }
        coeffs.bounds.withUnsafeBufferPointer { bb in
        coeffs.kk.withUnsafeBufferPointer { kb in
            guard let bounds = bb.baseAddress, let kk = kb.baseAddress else { return }
            for yy in 0..<coeffs.outSize {
                let ymin = bounds[2 * yy], n = bounds[2 * yy + 1]
                let k = kk + yy * ksize
                acc.update(repeating: half, count: rowBytes)
                for y in 0..<n {
                    let w = k[y]
                    let r = src + (ymin + y) * srcStride
                    for i in 0..<rowBytes { acc[i] &+= Int32(r[i]) &* w }
                }
                let o = dst + yy * rowBytes
                for i in 0..<rowBytes { o[i] = clip8(acc[i]) }
            }
        }
        }
    }
}
