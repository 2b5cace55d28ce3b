import BlipCore
import Glibc

/// A crop rectangle in pixels: rows top..<top+height, columns left..<left+width.
public struct CropBox: Sendable, Equatable {
    public let top: Int
    public let left: Int
    public let height: Int
    public let width: Int

    public init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }
}

/// The crop choice of torchvision's `RandomResizedCrop(size, scale, ratio)` (`get_params`),
/// BLIP's training augmentation: up to 10 attempts at a box of area U(scale)·W·H and
/// log-uniform aspect ratio that fits the image, else a centre crop with the ratio clamped.
///
/// The random numbers come from `SeededRandom`, not torch's generator, so the boxes follow
/// the same distribution as torchvision's but are not the same boxes for a given seed.
public struct RandomResizedCrop: Sendable {
    /// Fraction of the image area, BLIP's `min_scale` 0.5 up to the whole image.
    public var scale: ClosedRange<Double>
    /// Width / height.
    public var ratio: ClosedRange<Double>

    public init(scale: ClosedRange<Double> = 0.5...1.0, ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0)) {
        self.scale = scale
        self.ratio = ratio
    }

    /// A box inside a `width` x `height` image (both > 0); always non-empty and in bounds.
    public func box(width: Int, height: Int, using rng: inout SeededRandom) -> CropBox {
        let area = Double(width) * Double(height)
        let logRatio = (log(ratio.lowerBound), log(ratio.upperBound))
        for _ in 0..<10 {
            let targetArea = area * DeterministicRandom.uniform(scale.lowerBound, scale.upperBound, using: &rng)
            let aspect = exp(DeterministicRandom.uniform(logRatio.0, logRatio.1, using: &rng))
            // Python's round(): half to even.
            let w = Self.pythonRound((targetArea * aspect).squareRoot())
            let h = Self.pythonRound((targetArea / aspect).squareRoot())
            if let w, let h, 0 < w, w <= width, 0 < h, h <= height {
                let top = DeterministicRandom.index(below: height - h + 1, using: &rng)
                let left = DeterministicRandom.index(below: width - w + 1, using: &rng)
                return CropBox(top: top, left: left, height: h, width: w)
            }
        }
        // Fallback: centre crop, the aspect ratio clamped into the range.
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = min(height, max(1, Self.pythonRound(Double(w) / ratio.lowerBound) ?? height))
        } else if inRatio > ratio.upperBound {
            w = min(width, max(1, Self.pythonRound(Double(h) * ratio.upperBound) ?? width))
        }
        return CropBox(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
    }

    /// `int(round(x))`, nil when x is not finite or out of Int range.
    private static func pythonRound(_ x: Double) -> Int? {
        let r = x.rounded(.toNearestOrEven)
        guard r.isFinite, abs(r) < 9.0e15 else { return nil }
        return Int(r)
    }
}
