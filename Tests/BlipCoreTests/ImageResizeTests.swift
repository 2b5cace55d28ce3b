import Foundation
import Testing
@testable import BlipCore

@Suite struct ImageResizeTests {
    static let cases: [String] = ImageFixtures.entries("resize").map {
        "\($0["source"]?.stringValue ?? "")|\($0["width"]?.intValue ?? 0)x\($0["height"]?.intValue ?? 0)|\($0["filter"]?.intValue ?? 0)"
    }

    /// Pillow Image.resize goldens: down/up-scaling, odd and non-square sizes, one axis only,
    /// unchanged size, 1x1 sources and targets, greyscale, photographs, all five filters.
    @Test(arguments: cases)
    func resizeMatchesPillow(key: String) throws {
        let entry = try #require(ImageFixtures.entries("resize").first {
            "\($0["source"]?.stringValue ?? "")|\($0["width"]?.intValue ?? 0)x\($0["height"]?.intValue ?? 0)|\($0["filter"]?.intValue ?? 0)" == key
        })
        let source = try ImageFixtures.image(try #require(entry["source"]?.stringValue))
        let w = try #require(entry["width"]?.intValue), h = try #require(entry["height"]?.intValue)
        let filterValue = try #require(entry["filter"]?.intValue)
        let filter = try #require(ResampleFilter(rawValue: filterValue))
        let out = try ImageResizer.resize(source, width: w, height: h, filter: filter)
        #expect(out.width == w && out.height == h && out.format == source.format)
        #expect(ImageFixtures.fnv1a64(out.pixels) == entry["fnv1a64"]?.stringValue, "\(key): hash differs")
        if let rel = entry["expected"]?.stringValue {
            let expected = try ImageFixtures.image(rel)
            #expect(expected.format == out.format)
            let same = out.pixels == expected.pixels
            #expect(same,
                    "\(key): \(ImageFixtures.countDiff(out.pixels, expected.pixels)) bytes differ, max \(ImageFixtures.maxDiff(out.pixels, expected.pixels))")
        }
    }

    /// Large procedural sources (1920x1080, 1001x703, 300x2000, grey 640x480): big shrink factors.
    @Test func resizeLargePatterns() throws {
        let entries = ImageFixtures.entries("resize_pattern")
        #expect(entries.count == 4)
        for e in entries {
            let src = ImageFixtures.pattern(width: e["source_width"]!.intValue!, height: e["source_height"]!.intValue!,
                                            channels: e["channels"]!.intValue!)
            let out = try ImageResizer.resize(src, width: e["width"]!.intValue!, height: e["height"]!.intValue!)
            #expect(ImageFixtures.fnv1a64(out.pixels) == e["fnv1a64"]?.stringValue,
                    "\(src.width)x\(src.height) -> \(out.width)x\(out.height)")
            #expect(Array(out.pixels.prefix(16)) == (e["first_bytes"]?.arrayValue ?? []).compactMap { $0.intValue.map(UInt8.init) })
        }
    }

    /// Resizing straight from a caller's buffer with padding between rows (stride > width*3).
    @Test func resizeFromStridedView() throws {
        let src = try ImageFixtures.image("resize/rgb_37x23.png")
        let stride = 37 * 3 + 13
        var padded = [UInt8](repeating: 0xEE, count: stride * 23)
        for y in 0..<23 { for i in 0..<(37 * 3) { padded[y * stride + i] = src.pixels[y * 37 * 3 + i] } }
        let direct = try ImageResizer.resize(src, width: 16, height: 11)
        let viaView = try padded.withUnsafeBufferPointer {
            try ImageResizer.resize(PixelView(base: $0.baseAddress, width: 37, height: 23, stride: stride, format: .rgb8),
                                    width: 16, height: 11)
        }
        #expect(direct == viaView)
    }

    @Test func oneByOneTo384() throws {
        let one = try PixelImage(width: 1, height: 1, format: .rgb8, pixels: [200, 30, 90])
        let out = try ImageResizer.resize(one, width: 384, height: 384)
        #expect(out.pixels.count == 384 * 384 * 3)
        // Pillow: a constant image stays constant.
        for i in Swift.stride(from: 0, to: out.pixels.count, by: 3) {
            if out.pixels[i] != 200 || out.pixels[i + 1] != 30 || out.pixels[i + 2] != 90 {
                Issue.record("pixel \(i / 3) = \(out.pixels[i..<i + 3])"); break
            }
        }
        let pre = try ImagePreprocessor().preprocess(one)
        #expect(pre.count == 3 * 384 * 384)
    }

    @Test func refusesBadTargets() throws {
        let one = try PixelImage(width: 1, height: 1, format: .rgb8, pixels: [1, 2, 3])
        #expect(throws: BlipError.self) { try ImageResizer.resize(one, width: 0, height: 4) }
        #expect(throws: BlipError.self) { try ImageResizer.resize(one, width: 100_000, height: 100_000) }
        let rgba = try PixelImage(width: 1, height: 1, format: .rgba8, pixels: [1, 2, 3, 4])
        #expect(throws: BlipError.self) { try ImageResizer.resize(rgba, width: 2, height: 2) }
    }
}

/// Extreme aspect ratios: the coefficient tables are built a strip of outputs at a time, so their
/// memory stays within `ResampleCoefficients.stripTapBudget` taps (or one output's taps) instead
/// of growing as output size × filter support (1.6 GB for 100,000,000 × 1 → 384).
@Suite struct ResampleStripTests {
    @Test func stripsStayWithinTheBudgetAndCoverEveryOutput() {
        for (inSize, outSize) in [(100_000_000, 384), (3_000_000, 384), (640, 384), (1, 384), (5, 1)] {
            for filter in ResampleFilter.allCases {
                let g = ResampleCoefficients.Geometry(inSize: inSize, outSize: outSize, filter: filter)
                let strips = g.strips
                #expect(strips.first?.lowerBound == 0 && strips.last?.upperBound == outSize)
                #expect(zip(strips, strips.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect(g.taps <= inSize)
                let biggest = strips.map { $0.count * g.taps }.max() ?? 0
                #expect(biggest <= max(ResampleCoefficients.stripTapBudget, g.taps), "\(inSize)->\(outSize) \(filter)")
            }
        }
        // ordinary images keep a single table (the loop order and speed of before)
        #expect(ResampleCoefficients.Geometry(inSize: 1920, outSize: 384, filter: .bicubic).strips.count == 1)
    }

    @Test func stripedPassEqualsOneWholeTable() throws {
        // 3,000,000 x 1 RGB → 384 x 1: about 31,000 taps per output, a dozen strips.
        let width = 3_000_000
        var pixels = [UInt8](repeating: 0, count: width * 3)
        var state: UInt32 = 12345
        for i in pixels.indices { state = state &* 1_664_525 &+ 1_013_904_223; pixels[i] = UInt8(truncatingIfNeeded: state >> 24) }
        let source = try PixelImage(width: width, height: 1, format: .rgb8, pixels: pixels)
        let g = ResampleCoefficients.Geometry(inSize: width, outSize: 384, filter: .bicubic)
        #expect(g.strips.count > 1)
        let striped = try ImageResizer.resize(source, width: 384, height: 1)
        var whole = [UInt8](repeating: 0, count: 384 * 3)
        pixels.withUnsafeBufferPointer { src in
            whole.withUnsafeMutableBufferPointer { dst in
                ImageResizer.horizontal(src: src.baseAddress!, srcStride: width * 3, firstRow: 0, rows: 1, channels: 3,
                                        coeffs: ResampleCoefficients(g, outputs: 0..<384),
                                        dst: dst.baseAddress!, dstStride: 384 * 3)
            }
        }
        #expect(striped.pixels == whole)
    }
}
