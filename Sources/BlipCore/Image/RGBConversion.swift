/// Conversion of any `PixelImage` to RGB8 the way Hugging Face's `convert_to_rgb` (transformers
/// v5, PIL path) does it: images with alpha are composited onto opaque white with
/// `PIL.Image.alpha_composite` and the alpha dropped; greyscale is replicated to three channels.
public enum RGBConversion {
    /// Pillow `alpha_composite(background, foreground)` for one channel, background opaque
    /// (AlphaComposite.c: 7 extra precision bits, rounded divisions by 255).
    @inline(__always)
    static func compositeOverOpaque(_ c: UInt32, alpha a: UInt32, background bg: UInt32) -> UInt8 {
        if a == 0 { return UInt8(truncatingIfNeeded: bg) }
        let precisionBits: UInt32 = 7
        let blend = 255 &* (255 &- a)              // background alpha 255
        let outa255 = a &* 255 &+ blend
        let coef1 = a &* 255 &* 255 &* (1 << precisionBits) / outa255
        let coef2 = 255 &* (1 << precisionBits) &- coef1
        let tmp = c &* coef1 &+ bg &* coef2 &+ (0x80 << precisionBits)
        return UInt8(truncatingIfNeeded: (((tmp >> 8) &+ tmp) >> 8) >> precisionBits)
    }

    /// 256*256 table: whiteTable[a << 8 | c] = c composited with alpha a over white.
    static let whiteTable: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 65536)
        for a in 0..<256 {
            for c in 0..<256 {
                t[a << 8 | c] = compositeOverOpaque(UInt32(c), alpha: UInt32(a), background: 255)
            }
        }
        return t
    }()

    /// Returns an RGB8 image. `compositeAlpha: false` drops alpha instead (PIL `convert("RGB")`,
    /// the transformers v4 behaviour).
    public static func toRGB(_ image: PixelImage, compositeAlpha: Bool = true) throws -> PixelImage {
        if image.format == .rgb8 { return image }
        return try image.withView { toRGB($0, compositeAlpha: compositeAlpha) }
    }

    /// Converts a view to a new packed RGB8 image.
    public static func toRGB(_ view: PixelView, compositeAlpha: Bool = true) -> PixelImage {
        let count = view.width * view.height * 3
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buf, n in
            guard let dst = buf.baseAddress else { n = 0; return }
            convert(view, compositeAlpha: compositeAlpha, into: dst, stride: view.width * 3)
            n = count
        }
        return PixelImage(trusted: view.width, view.height, .rgb8, pixels)
    }

    /// Writes RGB8 rows (`stride` bytes apart) for `view` into `dst`.
    static func convert(_ view: PixelView, compositeAlpha: Bool, into dst: UnsafeMutablePointer<UInt8>, stride: Int) {
        let w = view.width
        whiteTable.withUnsafeBufferPointer { tableBuf in
            let table = tableBuf.baseAddress!  // 65536 entries, never empty
            for y in 0..<view.height {
                let s = view.row(y)
                let o = dst + y * stride
                switch view.format {
                case .rgb8:
                    o.update(from: s, count: w * 3)
                case .gray8:
                    for x in 0..<w {
                        let g = s[x]
                        o[3 * x] = g; o[3 * x + 1] = g; o[3 * x + 2] = g
                    }
                case .rgba8, .bgra8:
                    let (ri, bi) = view.format == .rgba8 ? (0, 2) : (2, 0)
                    if compositeAlpha {
                        for x in 0..<w {
                            let p = s + 4 * x
                            let row = table + (Int(p[3]) << 8)
                            o[3 * x] = row[Int(p[ri])]
                            o[3 * x + 1] = row[Int(p[1])]
                            o[3 * x + 2] = row[Int(p[bi])]
                        }
                    } else {
                        for x in 0..<w {
                            let p = s + 4 * x
                            o[3 * x] = p[ri]; o[3 * x + 1] = p[1]; o[3 * x + 2] = p[bi]
                        }
                    }
                }
            }
        }
    }
}
