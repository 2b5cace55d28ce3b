import Foundation
@testable import BlipCore

/// Fixture access for the image tests (Fixtures/images, made by scripts/make_image_fixtures.py).
enum ImageFixtures {
    static let directory: String = {
        if let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) {
            return url.appendingPathComponent("images").path
        }
        return (Bundle.module.resourcePath ?? ".") + "/Fixtures/images"
    }()

    static func path(_ rel: String) -> String { directory + "/" + rel }

    static func bytes(_ rel: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(rel))))
    }

    static let manifest: JSONValue = {
        (try? JSONValue.parse(bytes("manifest.json"), file: "manifest.json")) ?? .null
    }()

    static func entries(_ key: String) -> [JSONValue] { manifest[key]?.arrayValue ?? [] }

    /// Decodes a fixture PNG (used for expected outputs) and converts it to RGB8 / keeps GRAY8.
    static func image(_ rel: String) throws -> PixelImage {
        try ImageDecoder.decode(fileAt: path(rel))
    }

    static func floats(_ rel: String) throws -> [Float] {
        let b = try bytes(rel)
        return stride(from: 0, to: b.count - 3, by: 4).map { i in
            Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
    }

    /// Same pattern as make_image_fixtures.py `pattern`.
    static func pattern(width: Int, height: Int, channels: Int) -> PixelImage {
        var px = [UInt8](repeating: 0, count: width * height * channels)
        var i = 0
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    px[i] = UInt8(truncatingIfNeeded: (x * 31 + y * 17 + c * 85 + (x ^ y)) & 255)
                    i += 1
                }
            }
        }
        return try! PixelImage(width: width, height: height, format: channels == 3 ? .rgb8 : .gray8, pixels: px)
    }

    static func fnv1a64(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Largest absolute difference between two equally sized byte arrays (Int.max if sizes differ).
    static func maxDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard a.count == b.count else { return Int.max }
        var m = 0
        for i in 0..<a.count { m = max(m, abs(Int(a[i]) - Int(b[i]))) }
        return m
    }

    static func countDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard a.count == b.count else { return Int.max }
        var n = 0
        for i in 0..<a.count where a[i] != b[i] { n += 1 }
        return n
    }
}
