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
