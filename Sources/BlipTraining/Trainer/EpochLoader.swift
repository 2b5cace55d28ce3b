import BlipData

/// One epoch's micro-batches, decoded and preprocessed ahead on the loader's thread, in the
/// epoch's order (shuffled from (seed, epoch), or manifest order with --no-shuffle).
final class EpochLoader {
    private let loader: BatchLoader

    init(finetuner f: Finetuner, epoch: Int, firstMicroBatch: Int) {
        let o = f.options
        let order = BatchLoader.epochOrder(count: f.manifest.rows.count, shuffle: o.shuffle, seed: o.seed, epoch: epoch)
        loader = BatchLoader(manifest: f.manifest, preprocessor: f.preprocessor, imageSize: f.model.config.vision.imageSize,
                             augmentation: o.augment, batches: BatchLoader.batches(order: order, batchSize: o.batchSize),
                             seed: BatchLoader.augmentationSeed(o.seed, epoch: epoch), startBatch: firstMicroBatch)
    }

    func next() -> LoadedBatch? { loader.next() }
}
