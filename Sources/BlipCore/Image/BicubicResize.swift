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

/// Fixed-point coefficients for one axis (Pillow `precompute_coeffs` + `normalize_coeffs_8bpc`),
/// for a strip of consecutive outputs. A full table holds about 2 × support × the input size
/// taps (4 per input pixel for bicubic), which for a 100,000,000 × 1 image is 1.6 GB: the passes
/// therefore build it a strip at a time (`strips`), within `stripTapBudget` taps when the
/// filter allows. Results do not depend on the strips: each output's taps are computed alone.
struct ResampleCoefficients {
    static let precisionBits: Int32 = 22
    /// Taps per strip (4 MB of Int32); a single output may exceed it (see `taps`).
    static let stripTapBudget = 1 << 20
    /// The outputs this strip covers; bounds and kk are indexed from `outputs.lowerBound`.
    let outputs: Range<Int>
    /// Row length of kk: Pillow's ksize, capped at the input size (no output reads more).
    let taps: Int
    /// bounds[2*i] = first input index, bounds[2*i+1] = number of taps.
    var bounds: [Int]
    var kk: [Int32]

    /// Pillow's geometry for one axis: input pixels per output pixel, the filter's stretch and
    /// half-width in input pixels, and ksize (taps per output, before capping).
    struct Geometry {
        let inSize: Int, outSize: Int, filter: ResampleFilter
        let scale: Double, filterscale: Double, support: Double, ksize: Int
        init(inSize: Int, outSize: Int, filter: ResampleFilter) {
            self.inSize = inSize
            self.outSize = outSize
            self.filter = filter
            scale = Double(Float(inSize)) / Double(outSize)  // Pillow: (double)(in1 - in0) / outSize, box in float
            filterscale = max(scale, 1.0)
            support = filter.support * filterscale
            ksize = Int(support.rounded(.up)) * 2 + 1
        }
        var taps: Int { min(ksize, inSize) }

        /// Strips of consecutive outputs, each within the tap budget (at least one output).
        var strips: [Range<Int>] {
            let per = max(1, ResampleCoefficients.stripTapBudget / max(taps, 1))
            return stride(from: 0, to: outSize, by: per).map { $0..<min($0 + per, outSize) }
        }

        /// First input index and tap count of output `xx`, and its kernel's centre.
        func window(_ xx: Int) -> (xmin: Int, count: Int, center: Double) {
            let center = (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            if xmax > ksize { xmax = ksize }  // cannot happen; keeps indexing in bounds
            if xmax < 0 { xmax = 0 }
            return (xmin, xmax, center)
        }
    }

    init(_ g: Geometry, outputs: Range<Int>) {
        self.outputs = outputs
        taps = g.taps
        var bounds = [Int](repeating: 0, count: outputs.count * 2)
        var kk = [Int32](repeating: 0, count: outputs.count * taps)
        let ss = 1.0 / g.filterscale
        for (i, xx) in outputs.enumerated() {
            let (xmin, n, center) = g.window(xx)
            // The kernel is evaluated twice (sum, then values) instead of being kept as doubles:
            // the same expression gives the same double, and the scratch stays O(1).
            var ww = 0.0
            for x in 0..<n { ww += g.filter.kernel((Double(x + xmin) - center + 0.5) * ss) }
            for x in 0..<n {
                var v = g.filter.kernel((Double(x + xmin) - center + 0.5) * ss)
                if ww != 0.0 { v /= ww }
                let scaled = v * Double(1 << Self.precisionBits)
                kk[i * taps + x] = v < 0 ? Int32(-0.5 + scaled) : Int32(0.5 + scaled)
            }
            bounds[2 * i] = xmin
            bounds[2 * i + 1] = n
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
        let vert = ResampleCoefficients.Geometry(inSize: inHeight, outSize: outHeight, filter: filter)
        if !needH {
            vertical(src: src, srcStride: srcStride, firstRow: 0, rowBytes: outStride, geometry: vert, dst: dst)
            return
        }
        let horiz = ResampleCoefficients.Geometry(inSize: inWidth, outSize: outWidth, filter: filter)
        if !needV {
            horizontal(src: src, srcStride: srcStride, firstRow: 0, rows: inHeight, channels: channels,
                       geometry: horiz, dst: dst, dstStride: outStride)
            return
        }
        if verticalFirst(inWidth: inWidth, inHeight: inHeight, outWidth: outWidth, outHeight: outHeight) {
            // Pillow >= 13 (python-pillow/Pillow#9549): when the height shrinks by more than twice
            // what the width loses, the vertical pass runs first, over full source rows.
            let tmpStride = inWidth * channels
            let tmp = UnsafeMutablePointer<UInt8>.allocate(capacity: tmpStride * outHeight)
            defer { tmp.deallocate() }
            vertical(src: src, srcStride: srcStride, firstRow: 0, rowBytes: tmpStride, geometry: vert, dst: tmp)
            horizontal(src: tmp, srcStride: tmpStride, firstRow: 0, rows: outHeight, channels: channels,
                       geometry: horiz, dst: dst, dstStride: outStride)
            return
        }
        // Horizontal first, over only the source rows the vertical pass reads.
        let yFirst = vert.window(0).xmin
        let last = vert.window(outHeight - 1)
        let tmpRows = max(last.xmin + last.count - yFirst, 0)
        let tmp = UnsafeMutablePointer<UInt8>.allocate(capacity: max(tmpRows * outStride, 1))
        defer { tmp.deallocate() }
        horizontal(src: src, srcStride: srcStride, firstRow: yFirst, rows: tmpRows, channels: channels,
                   geometry: horiz, dst: tmp, dstStride: outStride)
        vertical(src: tmp, srcStride: outStride, firstRow: yFirst, rowBytes: outStride, geometry: vert, dst: dst)
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
                           geometry: ResampleCoefficients.Geometry, dst: UnsafeMutablePointer<UInt8>, dstStride: Int) {
        for strip in geometry.strips {
            horizontal(src: src, srcStride: srcStride, firstRow: firstRow, rows: rows, channels: channels,
                       coeffs: ResampleCoefficients(geometry, outputs: strip),
                       dst: dst + strip.lowerBound * channels, dstStride: dstStride)
        }
    }

    /// One strip of output columns (the columns `coeffs` covers, written from `dst`).
    static func horizontal(src: UnsafePointer<UInt8>, srcStride: Int, firstRow: Int, rows: Int, channels: Int,
                           coeffs: ResampleCoefficients, dst: UnsafeMutablePointer<UInt8>, dstStride: Int) {
        let half: Int32 = 1 << (ResampleCoefficients.precisionBits - 1)
        let ksize = coeffs.taps
        let outW = coeffs.outputs.count
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

    /// Vertical pass; source row `firstRow` is at `src` (the horizontal-first path keeps only
    /// the rows the vertical pass reads).
    static func vertical(src: UnsafePointer<UInt8>, srcStride: Int, firstRow: Int, rowBytes: Int,
                         geometry: ResampleCoefficients.Geometry, dst: UnsafeMutablePointer<UInt8>) {
        let half: Int32 = 1 << (ResampleCoefficients.precisionBits - 1)
        let acc = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
        defer { acc.deallocate() }
        for strip in geometry.strips {
            let coeffs = ResampleCoefficients(geometry, outputs: strip)
            let ksize = coeffs.taps
            coeffs.bounds.withUnsafeBufferPointer { bb in
            coeffs.kk.withUnsafeBufferPointer { kb in
                guard let bounds = bb.baseAddress, let kk = kb.baseAddress else { return }
                for i in 0..<strip.count {
                    let ymin = bounds[2 * i] - firstRow, n = bounds[2 * i + 1]
                    let k = kk + i * ksize
                    acc.update(repeating: half, count: rowBytes)
                    for y in 0..<n {
                        let w = k[y]
                        let r = src + (ymin + y) * srcStride
                        for j in 0..<rowBytes { acc[j] &+= Int32(r[j]) &* w }
                    }
                    let o = dst + (strip.lowerBound + i) * rowBytes
                    for j in 0..<rowBytes { o[j] = clip8(acc[j]) }
                }
            }
            }
        }
    }
}
