import BlipCore
import BlipData
import Foundation
import Testing

@Suite struct AugmentationTests {
    static func preprocessor(size: Int) -> ImagePreprocessor {
        var c = PreprocessorConfig()
        c.size = .exact(height: size, width: size)
        return ImagePreprocessor(config: c)
    }

    /// `--augment none` is inference preprocessing, bit for bit (RGB and grayscale inputs).
    @Test(arguments: ["astronaut.jpg", "camera_gray.png"])
    func noneEqualsInferencePreprocessing(_ name: String) throws {
        let image = try ImageDecoder.decode(fileAt: DataFixtures.path(name))
        for size in [384, 40] {
            let p = Self.preprocessor(size: size)
            let augmenter = ImageAugmenter(preprocessor: p, imageSize: size, augmentation: .none)
            var rng = SeededRandom(seed: 1)
            let got = try augmenter.apply(image, using: &rng)
            let want = try p.preprocess(image)
            #expect(got.count == 3 * size * size)
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern))
        }
        // A model size that is not the preprocessor's output is an error, not a wrong tensor.
        let mismatch = ImageAugmenter(preprocessor: Self.preprocessor(size: 40), imageSize: 32, augmentation: .none)
        var rng = SeededRandom(seed: 1)
        #expect(blipError { _ = try mismatch.apply(image, using: &rng) }?.kind == .invalidArgument)
    }

    /// The crop is the inference pipeline applied to the cropped pixels: same as copying the
    /// box out and preprocessing that image at the model's size.
    @Test(arguments: ["astronaut.jpg", "camera_gray.png"])
    func cropEqualsPreprocessingTheCroppedImage(_ name: String) throws {
        let image = try ImageDecoder.decode(fileAt: DataFixtures.path(name))
        let size = 24
        let augmenter = ImageAugmenter(preprocessor: .init(), imageSize: size, augmentation: .crop)
        for seed in UInt64(0)..<8 {
            var rng = SeededRandom(seed: seed)
            let got = try augmenter.apply(image, using: &rng)
            var replay = SeededRandom(seed: seed)
            let box = RandomResizedCrop().box(width: image.width, height: image.height, using: &replay)
            let bpp = image.format.bytesPerPixel
            var pixels: [UInt8] = []
            for y in box.top..<(box.top + box.height) {
                let start = (y * image.width + box.left) * bpp
                pixels += image.pixels[start..<(start + box.width * bpp)]
            }
            let cropped = try PixelImage(width: box.width, height: box.height, format: image.format, pixels: pixels)
            let want = try Self.preprocessor(size: size).preprocess(cropped)
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "seed \(seed), box \(box)")
            #expect(rng.next() == replay.next(), "the crop consumes exactly the box's draws")
        }
    }

    @Test func flipMirrorsRowsAboutHalfTheTime() throws {
        let image = try ImageDecoder.decode(fileAt: DataFixtures.path("astronaut.jpg"))
        let size = 16
        let crop = ImageAugmenter(preprocessor: .init(), imageSize: size, augmentation: .crop)
        let flip = ImageAugmenter(preprocessor: .init(), imageSize: size, augmentation: .cropFlip)
        var flipped = 0
        let trials = 200
        for seed in UInt64(0)..<UInt64(trials) {
            var r1 = SeededRandom(seed: seed), r2 = SeededRandom(seed: seed)
            let plain = try crop.apply(image, using: &r1)
            let maybe = try flip.apply(image, using: &r2)
            if maybe == plain { continue }
            var mirrored = plain
            for row in stride(from: 0, to: mirrored.count, by: size) { mirrored[row..<(row + size)].reverse() }
            #expect(maybe == mirrored, "seed \(seed): neither the crop nor its mirror")
            flipped += 1
        }
        #expect(flipped > trials * 35 / 100 && flipped < trials * 65 / 100, "flipped \(flipped) of \(trials)")
    }

    /// Boxes are inside the image and follow torchvision's distribution. The reference means
    /// come from torchvision's `get_params` code run with torch's RNG (100,000 draws each):
    /// (area fraction, log aspect ratio) = (0.6780, 0.0666) for 1000x800 and (0.6928, -0.0003)
    /// for 500x500 (rejected attempts make both differ from the untruncated 0.75 and 0).
    @Test(arguments: [(1000, 800, 0.6780, 0.0666), (500, 500, 0.6928, -0.0003)])
    func cropBoxStatistics(_ W: Int, _ H: Int, _ meanArea: Double, _ meanLogRatio: Double) {
        let crop = RandomResizedCrop()
        var rng = SeededRandom(seed: 7)
        let n = 20000
        var areaSum = 0.0, logRatioSum = 0.0
        var minLeft = Int.max, maxSlack = 0, outside = 0
        for _ in 0..<n {
            let b = crop.box(width: W, height: H, using: &rng)
            if !(b.width > 0 && b.height > 0 && b.left >= 0 && b.top >= 0 && b.left + b.width <= W && b.top + b.height <= H) {
                outside += 1
            }
            let area = Double(b.width * b.height) / Double(W * H)
            let ratio = Double(b.width) / Double(b.height)
            if area < 0.49 || area > 1 || ratio < 0.74 || ratio > 1.34 { outside += 1 }
            areaSum += area
            logRatioSum += log(ratio)
            minLeft = min(minLeft, b.left)
            maxSlack = max(maxSlack, W - b.width - b.left)
        }
        #expect(outside == 0)
        // Standard errors are about 0.001 for both means.
        #expect(abs(areaSum / Double(n) - meanArea) < 0.006, "mean area \(areaSum / Double(n))")
        #expect(abs(logRatioSum / Double(n) - meanLogRatio) < 0.006, "mean log ratio \(logRatioSum / Double(n))")
        #expect(minLeft == 0 && maxSlack > 0)
    }

    /// Images too elongated for any attempt fall back to torchvision's centre crop.
    @Test func fallbackIsACentreCropWithClampedRatio() {
        let crop = RandomResizedCrop()
        var rng = SeededRandom(seed: 3)
        #expect(crop.box(width: 1000, height: 10, using: &rng) == CropBox(top: 0, left: 493, height: 10, width: 13))
        #expect(crop.box(width: 10, height: 1000, using: &rng) == CropBox(top: 493, left: 0, height: 13, width: 10))
        #expect(crop.box(width: 1, height: 1, using: &rng) == CropBox(top: 0, left: 0, height: 1, width: 1))
        for (w, h) in [(2, 1), (1, 3), (5, 7), (3, 2)] {
            for _ in 0..<50 {
                let b = crop.box(width: w, height: h, using: &rng)
                #expect(b.width >= 1 && b.height >= 1 && b.left + b.width <= w && b.top + b.height <= h)
            }
        }
    }
}
