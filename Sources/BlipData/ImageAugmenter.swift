import BlipCore

/// Training-time image augmentation (the CLI's `--augment`).
public enum Augmentation: String, Sendable, CaseIterable {
    /// Inference preprocessing, bit for bit (`ImagePreprocessor.preprocess`).
    case none
    /// BLIP's RandomResizedCrop(scale 0.5...1), resized to the model's size with Pillow's bicubic.
    case crop
    /// The crop, then a horizontal flip with probability 0.5 (torchvision's RandomHorizontalFlip).
    case cropFlip = "crop-flip"
}

/// Turns a decoded image into the vision encoder's [3, S, S] input, with or without
/// augmentation. The crop is a view into the decoded pixels (no copy), handed to the model's
/// own `ImagePreprocessor` with the output size forced to S x S, so RGB conversion, the
/// Pillow-exact resize and the rescale/normalise arithmetic are the inference code's.
/// Cropping before RGB conversion equals converting first: the conversion is per pixel.
public struct ImageAugmenter: Sendable {
    public let augmentation: Augmentation
    public let imageSize: Int
    public let crop = RandomResizedCrop()
    private let inference: ImagePreprocessor
    private let cropResize: ImagePreprocessor

    public init(preprocessor: ImagePreprocessor, imageSize: Int, augmentation: Augmentation) {
        self.augmentation = augmentation
        self.imageSize = imageSize
        self.inference = preprocessor
        var config = preprocessor.config
        config.doResize = true
        config.size = .exact(height: imageSize, width: imageSize)
        self.cropResize = ImagePreprocessor(config: config)
    }

    /// Channels-first [3, S, S]. `rng` is consumed only by the crop and flip draws.
    public func apply(_ image: PixelImage, using rng: inout SeededRandom) throws -> [Float] {
        let side = imageSize
        guard side > 0, side <= 65536 else { throw BlipError.invalidArgument("image size \(side) is out of range") }
        switch augmentation {
        case .none:
            let out = try inference.preprocess(image)
            guard out.count == 3 * side * side else {
                throw BlipError.invalidArgument("the preprocessor's output for a \(image.width)x\(image.height) image "
                                                + "is not \(side)x\(side), the model's input size")
            }
            return out
        case .crop, .cropFlip:
            let box = crop.box(width: image.width, height: image.height, using: &rng)
            var out = try image.withView { view in
                let sub = try PixelView(base: view.base + box.top * view.stride + box.left * view.format.bytesPerPixel,
                                        width: box.width, height: box.height, stride: view.stride, format: view.format)
                return try cropResize.preprocess(sub)
            }
            if augmentation == .cropFlip, rng.nextUnit() < 0.5 { Self.flipHorizontally(&out, side: side) }
            return out
        }
    }

    /// Mirrors each row of each channel of a [3, S, S] tensor.
    static func flipHorizontally(_ planes: inout [Float], side: Int) {
        guard side > 0, planes.count % side == 0 else { return }
        for row in stride(from: 0, to: planes.count, by: side) {
            planes[row..<(row + side)].reverse()
        }
    }
}
