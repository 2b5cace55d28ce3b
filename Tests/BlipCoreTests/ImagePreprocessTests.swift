import Foundation
import Testing
@testable import BlipCore

@Suite struct ImagePreprocessTests {
    /// All 65536 (value, alpha) pairs over white equal PIL.Image.alpha_composite; BGRA too.
    @Test func compositeOntoWhiteMatchesPillow() throws {
        let rgba = try ImageFixtures.image("composite_rgba.png")
        #expect(rgba.format == .rgba8 && rgba.width == 256 && rgba.height == 256)
        let expected = try ImageFixtures.image("composite_expected.png")
        let rgb = try RGBConversion.toRGB(rgba)
        #expect(rgb.pixels == expected.pixels, "\(ImageFixtures.countDiff(rgb.pixels, expected.pixels)) bytes differ")
        var bgraPixels = rgba.pixels
        for i in stride(from: 0, to: bgraPixels.count, by: 4) { bgraPixels.swapAt(i, i + 2) }
        let bgra = try PixelImage(width: 256, height: 256, format: .bgra8, pixels: bgraPixels)
        #expect(try RGBConversion.toRGB(bgra).pixels == expected.pixels)
        // Without compositing alpha is simply dropped (PIL convert("RGB")).
        let dropped = try RGBConversion.toRGB(bgra, compositeAlpha: false)
        #expect(dropped.pixels[0..<3] == [0, 255, 0])
    }

    @Test func grayToRGBReplicates() throws {
        let g = try PixelImage(width: 3, height: 1, format: .gray8, pixels: [0, 7, 255])
        #expect(try RGBConversion.toRGB(g).pixels == [0, 0, 0, 7, 7, 7, 255, 255, 255])
    }

    static func expectFloats(_ got: [Float], _ want: [Float], _ what: String) {
        #expect(got.count == want.count, "\(what): count \(got.count) vs \(want.count)")
        guard got.count == want.count else { return }
        var maxErr: Float = 0, notBitwise = 0
        for i in 0..<got.count {
            maxErr = max(maxErr, abs(got[i] - want[i]))
            if got[i].bitPattern != want[i].bitPattern { notBitwise += 1 }
        }
        #expect(maxErr <= 1e-6, "\(what): max error \(maxErr)")
        #expect(notBitwise == 0, "\(what): \(notBitwise) values not bitwise equal (max error \(maxErr))")
    }

    /// transformers BlipImageProcessorPil outputs, configs read with PreprocessorConfig.load.
    @Test(arguments: ImageFixtures.entries("preprocess").compactMap { $0["name"]?.stringValue })
    func preprocessMatchesTransformers(name: String) throws {
        let e = try #require(ImageFixtures.entries("preprocess").first { $0["name"]?.stringValue == name })
        let config = try PreprocessorConfig.load(directory: ImageFixtures.path(try #require(e["config_dir"]?.stringValue)))
        let source: PixelImage
        switch name {
        case "ramp16_noresize": source = try ImageFixtures.image("preprocess/ramp16.png")
        case "rgba8_32x24": source = try ImageFixtures.image("decode/rgba8.png")
        default: source = try ImageFixtures.image("resize/rgb_37x23.png")
        }
        let (h, w) = config.outputSize(width: source.width, height: source.height)
        #expect(h == e["height"]?.intValue && w == e["width"]?.intValue)
        let got = try ImagePreprocessor(config: config).preprocess(source)
        Self.expectFloats(got, try ImageFixtures.floats(try #require(e["expected"]?.stringValue)), name)
    }

    /// Default config (384x384) on a photograph, sampled values vs transformers.
    /// A grey image is resized before it is made RGB (a third of the memory): the result must be
    /// the bytes of transformers' order, RGB first, for every filter and for up- and down-sizing.
    @Test(arguments: [(1000, 37), (37, 1000), (97, 61), (3, 2)])
    func greyResizedFirstEqualsRGBFirst(width: Int, height: Int) throws {
        let grey = ImageFixtures.pattern(width: width, height: height, channels: 1)
        let rgb = try RGBConversion.toRGB(grey)
        for filter in ResampleFilter.allCases {
            var config = PreprocessorConfig()
            config.resample = filter
            config.size = .exact(height: 50, width: 70)
            let p = ImagePreprocessor(config: config)
            #expect(try p.preprocess(grey) == p.preprocess(rgb), "\(width)x\(height) \(filter)")
        }
    }

    @Test func preprocessDefault384() throws {
        let s = try #require(ImageFixtures.manifest["preprocess_default_samples"])
        let source = try ImageFixtures.image(try #require(s["source"]?.stringValue))
        let got = try ImagePreprocessor().preprocess(source)
        #expect(got.count == s["count"]?.intValue)
        let idx = (s["indices"]?.arrayValue ?? []).compactMap { $0.intValue }
        let vals = (s["values"]?.arrayValue ?? []).compactMap { $0.doubleValue.map(Float.init) }
        #expect(idx.count > 400 && idx.count == vals.count)
        Self.expectFloats(idx.map { got[$0] }, vals, "default 384x384 samples")
        let sum = got.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - (s["sum"]?.doubleValue ?? .nan)) < 1e-3)
        // Writing into a caller's buffer gives the same numbers; a short buffer is refused.
        var buf = [Float](repeating: .nan, count: got.count)
        try source.withView { v in
            try buf.withUnsafeMutableBufferPointer { try ImagePreprocessor().preprocess(v, into: $0.baseAddress!, capacity: $0.count) }
        }
        #expect(buf == got)
        do {
            try source.withView { v in
                try buf.withUnsafeMutableBufferPointer { try ImagePreprocessor().preprocess(v, into: $0.baseAddress!, capacity: 10) }
            }
            Issue.record("short buffer accepted")
        } catch let e as BlipError { #expect(e.kind == .bufferTooSmall) }
    }

    @Test func configParsing() throws {
        #expect(PreprocessorConfig.default.size == .exact(height: 384, width: 384))
        let cap = try PreprocessorConfig.parse(JSONValue.parse(Array(#"""
            {"do_normalize":true,"do_resize":true,"image_mean":[0.48145466,0.4578275,0.40821073],
             "image_processor_type":"BlipImageProcessor","image_std":[0.26862954,0.26130258,0.27577711],
             "processor_class":"BlipProcessor","size":384}
            """#.utf8), file: "x"))
        #expect(cap == .default)
        let c2 = try PreprocessorConfig.parse(JSONValue.parse(Array(#"{"size":[20,30],"resample":2,"do_rescale":false,"image_mean":0.5}"#.utf8), file: "x"))
        #expect(c2.size == .exact(height: 20, width: 30) && c2.resample == .bilinear && !c2.doRescale && c2.imageMean == [0.5, 0.5, 0.5])
        for bad in [#"{"resample":0}"#, #"{"size":{"longest_edge":5}}"#, #"{"do_center_crop":true}"#] {
            #expect { try PreprocessorConfig.parse(JSONValue.parse(Array(bad.utf8), file: "x")) } throws: { ($0 as? BlipError)?.kind == .unsupported }
        }
        for bad in [#"{"size":0}"#, #"{"size":-3}"#, #"{"image_std":[1,0,1]}"#, #"{"image_mean":[1,2]}"#, #"[1]"#, #"{"do_resize":"yes"}"#] {
            #expect { try PreprocessorConfig.parse(JSONValue.parse(Array(bad.utf8), file: "x")) } throws: { ($0 as? BlipError)?.kind == .modelFormat }
        }
        // Absent file = defaults.
        #expect(try PreprocessorConfig.load(directory: "/nonexistent-dir") == .default)
    }

    // MARK: caller-owned pixel buffers

    @Test func pixelBufferValidation() throws {
        let buf = [UInt8](repeating: 9, count: 64)
        try buf.withUnsafeBytes { raw in
            let p = raw.baseAddress
            for (w, h, stride, kind) in [(0, 2, 12, BlipError.Kind.invalidArgument), (2, 0, 12, .invalidArgument),
                                         (-1, 2, 12, .invalidArgument), (4, 2, 11, .invalidArgument),
                                         (100_000, 100_000, 300_000, .tooLarge), (Int.max, 2, Int.max, .tooLarge)] {
                do {
                    _ = try PixelImage(width: w, height: h, format: .rgb8, stride: stride, copying: p)
                    Issue.record("\(w)x\(h) stride \(stride) accepted")
                } catch let e as BlipError {
                    #expect(e.kind == kind, "\(w)x\(h)/\(stride): \(e.message)")
                    #expect(!e.message.isEmpty)
                }
            }
            #expect(throws: BlipError.self) { try PixelImage(width: 1, height: 1, format: .rgb8, stride: 3, copying: nil) }
            // Stride padding is skipped; BGRA and GRAY work.
            let img = try PixelImage(width: 2, height: 2, format: .bgra8, stride: 12, copying: p)
            #expect(img.pixels.count == 16 && img.stride == 8)
            let g = try PixelImage(width: 3, height: 3, format: .gray8, stride: 5, copying: p)
            #expect(g.pixels == [UInt8](repeating: 9, count: 9))
        }
        #expect(throws: BlipError.self) { try PixelImage(width: 2, height: 2, format: .rgb8, pixels: [1, 2, 3]) }
    }

    /// Preprocessing a BGRA frame equals preprocessing the same pixels as RGBA.
    @Test func bgraFrameEqualsRGBA() throws {
        let rgba = try ImageFixtures.image("decode/rgba8.png")
        var px = rgba.pixels
        for i in stride(from: 0, to: px.count, by: 4) { px.swapAt(i, i + 2) }
        let bgra = try PixelImage(width: rgba.width, height: rgba.height, format: .bgra8, pixels: px)
        let p = ImagePreprocessor()
        #expect(try p.preprocess(bgra) == p.preprocess(rgba))
    }
}
