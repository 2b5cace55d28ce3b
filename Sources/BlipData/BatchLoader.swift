import BlipCore

/// One preprocessed image.
public struct LoadedImage: Sendable {
    /// Index into `manifest.rows`.
    public let row: Int
    /// Channels-first float32 [3, S, S].
    public let pixels: [Float]
}

/// The images of one batch, in the batch's order, minus those that failed to load.
public struct LoadedBatch: Sendable {
    /// Index into the `batches` the loader was given.
    public let index: Int
    public let images: [LoadedImage]
    /// Images that could not be read, decoded or preprocessed, with their manifest line and
    /// the decoder's message.
    public let failures: [ManifestProblem]
}

/// Decodes and preprocesses the images of a list of batches on a background thread, a
/// bounded number of batches ahead of the consumer (`prefetch`).
///
/// Every image's augmentation draws come from a generator keyed by (seed, batch index,
/// position in the batch) alone, so the same batches give the same pixels whatever the thread
/// timing, and a loader started at batch k (`startBatch`, as a resumed run does) produces
/// exactly the pixels an uninterrupted loader produced for batches k, k+1, ... Give each epoch
/// its own seed (`augmentationSeed(_:epoch:)`), or an unshuffled epoch repeats the crops of
/// the previous one.
public final class BatchLoader {
    private let prefetcher: Prefetcher<LoadedBatch>

    /// - Parameters:
    ///   - batches: row indices (into `manifest.rows`) per batch, in order.
    ///   - startBatch: the first batch produced (`batches[startBatch...]`); indices stay those
    ///     of `batches`.
    ///   - prefetch: batches prepared ahead (at least 1).
    public init(manifest: Manifest, preprocessor: ImagePreprocessor, imageSize: Int, augmentation: Augmentation,
                batches: [[Int]], seed: UInt64, prefetch: Int = 2, startBatch: Int = 0) {
        let augmenter = ImageAugmenter(preprocessor: preprocessor, imageSize: imageSize, augmentation: augmentation)
        let first = min(max(0, startBatch), batches.count)
        prefetcher = Prefetcher(range: first..<batches.count, depth: prefetch) { index, isCancelled in
            Self.load(batch: index, rows: batches[index], manifest: manifest, augmenter: augmenter,
                      seed: seed, isCancelled: isCancelled)
        }
    }

    deinit { cancel() }

    /// Blocks until the next batch is ready; nil after the last one (or after `cancel`).
    public func next() -> LoadedBatch? { prefetcher.next() }

    /// Stops the background thread and waits for it (at most the time of one image).
    public func cancel() { prefetcher.cancel() }

    // MARK: Orders

    /// The order in which an epoch visits rows 0..<count: identity without `shuffle`, else a
    /// Fisher–Yates shuffle drawn from (seed, epoch) alone.
    public static func epochOrder(count: Int, shuffle: Bool, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<max(0, count))
        guard shuffle, order.count > 1 else { return order }
        var rng = DeterministicRandom.generator(seed: seed, .epochOrder, epoch)
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, DeterministicRandom.index(below: i + 1, using: &rng))
        }
        return order
    }

    /// Consecutive slices of `order`, `batchSize` each, the last possibly smaller. A batch size
    /// below 1 is taken as 1 (callers validate user input before this).
    public static func batches(order: [Int], batchSize: Int) -> [[Int]] {
        let size = max(1, batchSize)
        return stride(from: 0, to: order.count, by: size).map { Array(order[$0..<min($0 + size, order.count)]) }
    }

    /// The loader seed for one epoch of a run seeded with `seed`.
    public static func augmentationSeed(_ seed: UInt64, epoch: Int) -> UInt64 {
        var rng = DeterministicRandom.generator(seed: seed, .augmentation, epoch)
        return rng.next()
    }

    // MARK: Loading

    /// Runs on the loader thread: never throws, every failure becomes a `ManifestProblem`.
    private static func load(batch: Int, rows: [Int], manifest: Manifest, augmenter: ImageAugmenter,
                             seed: UInt64, isCancelled: () -> Bool) -> LoadedBatch {
        var images: [LoadedImage] = []
        var failures: [ManifestProblem] = []
        for (position, rowIndex) in rows.enumerated() {
            if isCancelled() { break }
            guard manifest.rows.indices.contains(rowIndex) else {
                failures.append(ManifestProblem(file: manifest.path, line: 0,
                                                message: "row index \(rowIndex) is outside the manifest's \(manifest.rows.count) rows"))
                continue
            }
            let row = manifest.rows[rowIndex]
            var rng = DeterministicRandom.generator(seed: seed, .augmentation, batch, position)
            do {
                let image = try ImageDecoder.decode(fileAt: row.imagePath)
                images.append(LoadedImage(row: rowIndex, pixels: try augmenter.apply(image, using: &rng)))
            } catch {
                failures.append(ManifestProblem(file: manifest.path, line: row.line, message: "\(error)"))
            }
        }
        return LoadedBatch(index: batch, images: images, failures: failures)
    }
}
