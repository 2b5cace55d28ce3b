import Foundation
import Testing
@testable import BlipCore

@Suite struct ImageDecodeTests {
    @Test func manifestPresent() {
        #expect(ImageFixtures.entries("decode").count >= 40)
        #expect(ImageFixtures.entries("resize").count >= 30)
    }

    /// Every PNG colour type / bit depth / tRNS / interlace variant and JPEG flavour, decoded and
    /// converted to RGB, equals transformers' convert_to_rgb(Image.open(file)).
    @Test(arguments: ImageFixtures.entries("decode").compactMap { $0["file"]?.stringValue })
    func decodeMatchesPillow(file: String) throws {
        let entry = try #require(ImageFixtures.entries("decode").first { $0["file"]?.stringValue == file })
        let image = try ImageDecoder.decode(fileAt: ImageFixtures.path(file))
        #expect(image.width == entry["width"]?.intValue)
        #expect(image.height == entry["height"]?.intValue)
        #expect("\(image.format)" == entry["format"]?.stringValue)
        let rgb = try RGBConversion.toRGB(image)
        let expected = try ImageFixtures.image(try #require(entry["expected_rgb"]?.stringValue))
        let expectedRGB = try RGBConversion.toRGB(expected)
        #expect(rgb.format == .rgb8)
        let diff = ImageFixtures.maxDiff(rgb.pixels, expectedRGB.pixels)
        #expect(diff <= (entry["tolerance"]?.intValue ?? 0),
                "\(file): max difference \(diff), \(ImageFixtures.countDiff(rgb.pixels, expectedRGB.pixels)) bytes differ")
    }

    @Test func decodeFromMemoryEqualsFile() throws {
        let bytes = try ImageFixtures.bytes("decode/rgba8.png")
        let a = try ImageDecoder.decode(bytes)
        let b = try ImageDecoder.decode(fileAt: ImageFixtures.path("decode/rgba8.png"))
        #expect(a == b)
        #expect(a.format == .rgba8)
    }

    // MARK: hostile input

    static func expectError(_ kind: BlipError.Kind, _ body: () throws -> Any) {
        do {
            _ = try body()
            Issue.record("expected \(kind) error, call succeeded")
        } catch let e as BlipError {
            #expect(e.kind == kind, "got \(e.kind): \(e.message)")
            #expect(!e.message.isEmpty)
        } catch {
            Issue.record("unexpected error type \(error)")
        }
    }

    /// An image path naming a FIFO or a device is refused at once (opening a FIFO would block).
    @Test func specialFilesAreRefused() throws {
        let fifo = NSTemporaryDirectory() + "blip-fifo-" + UUID().uuidString + ".png"
        #expect(mkfifo(fifo, 0o644) == 0)
        defer { unlink(fifo) }
        for path in [fifo, "/dev/zero", NSTemporaryDirectory()] {
            #expect { try ImageDecoder.decode(fileAt: path) } throws: {
                ($0 as? BlipError)?.kind == .io && ($0 as? BlipError)?.message.contains("not a regular file") == true
            }
        }
    }

    @Test func emptyBuffer() {
        Self.expectError(.imageFormat) { try ImageDecoder.decode([UInt8]()) }
    }

    @Test func randomBytes() {
        var g = SystemRandomNumberGenerator()
        let junk = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &g) }
        Self.expectError(.imageFormat) { try ImageDecoder.decode(junk) }
        // Magic bytes followed by junk must still fail cleanly.
        Self.expectError(.imageFormat) { try ImageDecoder.decode([0xFF, 0xD8, 0xFF] + junk) }
        Self.expectError(.imageFormat) { try ImageDecoder.decode([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + junk) }
        Self.expectError(.imageFormat) { try ImageDecoder.decode([0xFF, 0xD8, 0xFF]) }
    }

    @Test(arguments: ["decode/baseline420.jpg", "decode/progressive.jpg", "decode/gray.jpg", "decode/cmyk.jpg"])
    func truncatedJPEG(file: String) throws {
        let bytes = try ImageFixtures.bytes(file)
        for cut in [2, 10, bytes.count / 3, bytes.count / 2, bytes.count - 200, 200] {
            let part = Array(bytes.prefix(max(bytes.count - cut, 3)))
            Self.expectError(.imageFormat) { try ImageDecoder.decode(part) }
        }
    }

    @Test(arguments: ["decode/rgb8.png", "decode/rgba16_interlaced.png", "decode/palette8_trns.png"])
    func truncatedPNG(file: String) throws {
        let bytes = try ImageFixtures.bytes(file)
        // IEND (12 bytes) may go (Pillow does not need it either); anything into IDAT must fail.
        for keep in [8, 20, 33, bytes.count / 2, bytes.count - 13] {
            Self.expectError(.imageFormat) { try ImageDecoder.decode(Array(bytes.prefix(keep))) }
        }
    }

    @Test func corruptPNGs() {
        for f in ["bad/bad_crc.png", "bad/bad_crc_ancillary.png", "bad/bad_zlib.png", "bad/zero_width.png"] {
            Self.expectError(.imageFormat) { try ImageDecoder.decode(fileAt: ImageFixtures.path(f)) }
        }
    }

    @Test func hugeHeaderRefusedBeforeAllocating() throws {
        let clock = ContinuousClock()
        let t = clock.measure {
            Self.expectError(.tooLarge) { try ImageDecoder.decode(fileAt: ImageFixtures.path("bad/huge_header.png")) }
        }
        // Refused from the header alone: decoding 4 GB of pixels would take far longer than
        // this bound, which is loose enough for a debug build under ASan on a busy machine.
        #expect(t < .seconds(5))
        // A lower caller limit applies too.
        Self.expectError(.tooLarge) {
            try ImageDecoder.decode(try ImageFixtures.bytes("decode/rgb8.png"), maxPixels: 100)
        }
    }

    @Test func missingFileIsIOErrorNamingThePath() {
        do {
            _ = try ImageDecoder.decode(fileAt: "/nonexistent/dir/photo.jpg")
            Issue.record("expected failure")
        } catch let e as BlipError {
            #expect(e.kind == .io)
            #expect(e.message.contains("/nonexistent/dir/photo.jpg"))
        } catch { Issue.record("\(error)") }
    }

    /// Flipping bytes all over valid files must never crash or hang; errors must be BlipErrors.
    @Test func fuzzedFilesNeverCrash() throws {
        var rng = ImageTestRNG(seed: 42)
        for file in ["decode/baseline420.jpg", "decode/progressive.jpg", "decode/rgb8_interlaced.png",
                     "decode/palette4_trns.png", "decode/cmyk.jpg"] {
            let base = try ImageFixtures.bytes(file)
            for _ in 0..<60 {
                var b = base
                for _ in 0..<Int(rng.next() % 8 + 1) {
                    let i = Int(rng.next() % UInt64(b.count))
                    b[i] = UInt8(truncatingIfNeeded: rng.next())
                }
                do {
                    let img = try ImageDecoder.decode(b)
                    #expect(img.pixels.count == img.width * img.height * img.format.bytesPerPixel)
                } catch let e as BlipError {
                    #expect(!e.message.isEmpty)
                }
            }
        }
    }
}

struct ImageTestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
