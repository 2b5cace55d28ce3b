import BlipCore
import BlipData
import Glibc
import Testing

@Suite struct BatchLoaderTests {
    /// A manifest of 5 rows: two good images, a truncated JPEG (line 3), a file deleted after
    /// the manifest was read (line 4), and the first image again (line 5).
    final class Setup {
        let dir: ScratchDirectory
        let manifest: Manifest
        let manifestPath: String

        init() throws {
            dir = try ScratchDirectory()
            let jpeg = try dir.copy(fixture: "astronaut.jpg", as: "a.jpg")
            try dir.copy(fixture: "camera_gray.png", as: "g.png")
            let bytes = try readFile(jpeg)
            try dir.write("corrupt.jpg", Array(bytes[0..<(bytes.count / 2)]))
            try dir.write("gone.jpg", bytes)
            manifestPath = try dir.write("train.jsonl", text: """
                {"image": "a.jpg", "text": "one"}
                {"image": "g.png", "text": "two"}
                {"image": "corrupt.jpg", "text": "three"}
                {"image": "gone.jpg", "text": "four"}
                {"image": "a.jpg", "text": "five"}
                """)
            manifest = try Manifest.read(path: manifestPath, task: .caption, strict: true)
            unlink(dir.file("gone.jpg"))
        }

        func loader(_ augmentation: Augmentation, batches: [[Int]], seed: UInt64 = 5, start: Int = 0,
                    size: Int = 16, prefetch: Int = 2) -> BatchLoader {
            var c = PreprocessorConfig()
            c.size = .exact(height: size, width: size)
            return BatchLoader(manifest: manifest, preprocessor: ImagePreprocessor(config: c), imageSize: size,
                               augmentation: augmentation, batches: batches, seed: seed, prefetch: prefetch,
                               startBatch: start)
        }
    }

    static func drain(_ loader: BatchLoader) -> [LoadedBatch] {
        var out: [LoadedBatch] = []
        while let b = loader.next() { out.append(b) }
        return out
    }

    static func pixels(_ batches: [LoadedBatch]) -> [[[UInt32]]] {
        batches.map { $0.images.map { $0.pixels.map(\.bitPattern) } }
    }

    @Test func failuresCarryManifestLines() throws {
        let s = try Setup()
        let batches = BatchLoader.batches(order: BatchLoader.epochOrder(count: 5, shuffle: false, seed: 0, epoch: 0), batchSize: 2)
        #expect(batches == [[0, 1], [2, 3], [4]])
        let loaded = Self.drain(s.loader(.crop, batches: batches))
        #expect(loaded.map(\.index) == [0, 1, 2])
        #expect(loaded.map { $0.images.map(\.row) } == [[0, 1], [], [4]])
        #expect(loaded[0].failures.isEmpty && loaded[2].failures.isEmpty)
        let failures = loaded[1].failures
        #expect(failures.map(\.line) == [3, 4])
        #expect(failures.allSatisfy { $0.file == s.manifestPath })
        #expect(failures.first?.message.hasPrefix(s.dir.file("corrupt.jpg") + ":") == true, "\(failures)")
        #expect(failures.last?.message == s.dir.file("gone.jpg") + ": cannot open (No such file or directory)")
        #expect(loaded[0].images.allSatisfy { $0.pixels.count == 3 * 16 * 16 })
    }

    /// `--augment none --no-shuffle`: the manifest's images in order, preprocessed as for inference.
    @Test func noAugmentationGivesInferencePixels() throws {
        let s = try Setup()
        let loaded = Self.drain(s.loader(.none, batches: [[0, 1, 4]], size: 24))
        var c = PreprocessorConfig()
        c.size = .exact(height: 24, width: 24)
        let p = ImagePreprocessor(config: c)
        let want = try [0, 1, 4].map { try p.preprocess(ImageDecoder.decode(fileAt: s.manifest.rows[$0].imagePath)) }
        #expect(loaded.count == 1)
        #expect(loaded.first?.images.map { $0.pixels.map(\.bitPattern) } == want.map { $0.map(\.bitPattern) })
    }

    /// Crops depend on (seed, batch, position) only: two runs agree, a run started at batch 2
    /// agrees with the full run from there, the prefetch depth does not matter, and another
    /// seed changes them.
    @Test func augmentationIsDeterministicAndResumable() throws {
        let s = try Setup()
        let batches = [[0, 1], [4, 0], [1, 4, 0], [0]]
        let first = Self.pixels(Self.drain(s.loader(.cropFlip, batches: batches)))
        let second = Self.pixels(Self.drain(s.loader(.cropFlip, batches: batches, prefetch: 1)))
        #expect(first == second)
        let resumed = Self.drain(s.loader(.cropFlip, batches: batches, start: 2))
        #expect(resumed.map(\.index) == [2, 3])
        #expect(Self.pixels(resumed) == Array(first[2...]))
        let other = Self.pixels(Self.drain(s.loader(.cropFlip, batches: batches, seed: 6)))
        #expect(other != first)
        // The same image at different positions gets different crops.
        #expect(first[1][0] != first[1][1] || first[1][0] != first[0][0])
        // Past the end: nothing, and no batch.
        #expect(Self.drain(s.loader(.crop, batches: batches, start: 9)).isEmpty)
    }

    @Test func outOfRangeRowsAreFailuresNotTraps() throws {
        let s = try Setup()
        let loaded = Self.drain(s.loader(.none, batches: [[0, 99, -1]]))
        #expect(loaded.first?.images.map(\.row) == [0])
        #expect(loaded.first?.failures.map(\.line) == [0, 0])
    }

    /// Cancelling (or dropping) a loader with work left stops its thread promptly.
    @Test func cancelDoesNotHang() throws {
        let s = try Setup()
        let many = Array(repeating: [0, 1, 4, 0, 1, 4, 0, 1], count: 200)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            let a = s.loader(.crop, batches: many, size: 96)
            #expect(a.next()?.index == 0)
            a.cancel()
            #expect(a.next() == nil)
            a.cancel()  // idempotent

            let b = s.loader(.crop, batches: many, size: 96)
            b.cancel()  // before any batch was taken
            #expect(b.next() == nil)

            for _ in 0..<5 {
                let c = s.loader(.crop, batches: many, size: 96)
                _ = c.next()
                // dropped here: deinit cancels and joins
            }
        }
        #expect(elapsed < .seconds(20), "took \(elapsed)")
        #expect(Self.drain(s.loader(.none, batches: [])).isEmpty)
    }

    @Test func epochOrdersAndBatches() {
        #expect(BatchLoader.epochOrder(count: 5, shuffle: false, seed: 9, epoch: 3) == [0, 1, 2, 3, 4])
        #expect(BatchLoader.epochOrder(count: 0, shuffle: true, seed: 9, epoch: 0) == [])
        let a = BatchLoader.epochOrder(count: 100, shuffle: true, seed: 1, epoch: 0)
        #expect(a.sorted() == Array(0..<100))
        #expect(a != Array(0..<100))
        #expect(a == BatchLoader.epochOrder(count: 100, shuffle: true, seed: 1, epoch: 0))
        #expect(a != BatchLoader.epochOrder(count: 100, shuffle: true, seed: 1, epoch: 1))
        #expect(a != BatchLoader.epochOrder(count: 100, shuffle: true, seed: 2, epoch: 0))
        // Every position receives every row about equally often (a biased shuffle would not).
        var firstCounts = [Int](repeating: 0, count: 4)
        for epoch in 0..<4000 { firstCounts[BatchLoader.epochOrder(count: 4, shuffle: true, seed: 3, epoch: epoch)[0]] += 1 }
        #expect(firstCounts.allSatisfy { abs($0 - 1000) < 120 }, "\(firstCounts)")

        #expect(BatchLoader.batches(order: Array(0..<10), batchSize: 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        #expect(BatchLoader.batches(order: [3, 1], batchSize: 8) == [[3, 1]])
        #expect(BatchLoader.batches(order: [3, 1], batchSize: 0) == [[3], [1]])
        #expect(BatchLoader.batches(order: [], batchSize: 2) == [])
        #expect(BatchLoader.augmentationSeed(0, epoch: 0) != BatchLoader.augmentationSeed(0, epoch: 1))
    }
}
