import Foundation
import Testing
@testable import BlipCore
@testable import BlipKernels

/// Thread counts belong to calls and models, not to the process (blip.h: n_threads is the
/// parallelism of every call on that model). Before, every model load set a process-wide count,
/// so the last-loaded model's n_threads applied to all of them.
@Suite struct ParallelismTests {
    /// Chunks `Parallel.forEachChunk` uses for plenty of work under the current binding.
    private static func chunksUsed() -> Int {
        let lock = NSLock()
        var chunks = 0
        Parallel.forEachChunk(10_000, minChunk: 1) { _ in lock.lock(); chunks += 1; lock.unlock() }
        return chunks
    }

    @Test func bindingsAreScopedAndPerThread() async {
        #expect(Parallel.maxThreads == 1)   // nothing bound: serial
        let seen = await withTaskGroup(of: [Int].self) { group in
            for threads in [1, 3] {
                group.addTask {
                    var out: [Int] = []
                    for _ in 0..<50 {   // interleaves with the other binding
                        out.append(Parallel.withThreads(threads) { (Parallel.maxThreads, Self.chunksUsed()) == (threads, threads) ? 1 : 0 })
                    }
                    return out
                }
            }
            var all: [Int] = []
            for await r in group { all += r }
            return all
        }
        #expect(seen.count == 100 && seen.allSatisfy { $0 == 1 })
        #expect(Parallel.maxThreads == 1)
        // worker threads see no binding: nested loops stay serial
        let nested = Parallel.withThreads(2) { () -> Int in
            let lock = NSLock()
            var inner = 0
            Parallel.forEachChunk(2, minChunk: 1) { _ in let n = Parallel.maxThreads; lock.lock(); inner = max(inner, n); lock.unlock() }
            return inner
        }
        #expect(nested == 1)
    }

    /// The spinning worker pool behind `Parallel.onWorkers` runs every part exactly once, for
    /// any part count, many times in a row (jobs follow each other while workers still spin),
    /// and when several threads call it at once (one gets the pool, the others fall back to
    /// Dispatch): no part lost, none run twice, no deadlock.
    @Test func workerPoolRunsEveryPartOnce() async {
        func runs(_ parts: Int) -> [Int] {
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: parts)
            counts.initialize(repeating: 0, count: parts)
            defer { counts.deallocate() }
            let lock = NSLock()
            Parallel.onWorkers(parts) { p in
                #expect(Parallel.maxThreads == 1)   // parts see no binding
                lock.lock(); counts[p] += 1; lock.unlock()
            }
            return Array(UnsafeBufferPointer(start: counts, count: parts))
        }
        for parts in [0, 1, 2, 3, 5, 8] {
            for _ in 0..<200 { #expect(runs(parts) == [Int](repeating: 1, count: parts)) }
        }
        let failures = await withTaskGroup(of: Int.self) { group in
            for caller in 0..<4 {
                group.addTask {
                    var failed = 0
                    for i in 0..<300 where runs(1 + (i + caller) % 4) != [Int](repeating: 1, count: 1 + (i + caller) % 4) {
                        failed += 1
                    }
                    return failed
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }

    /// `forEachPiece` covers every index exactly once in chunks of at least `minChunk`, in guided
    /// sizes (none larger than the one before it, the first 1/(2 · threads) of the work), and its
    /// pieces run on at most the call's thread count, even after a call with more threads has
    /// started more pool workers.
    @Test func piecesCoverEveryIndexOnAtMostTheCallsThreads() {
        Parallel.withThreads(5) { Parallel.onWorkers(5) { _ in } }   // leaves 4 workers in the pool
        // (count, minChunk, threads, the first piece's size: 1/(2 · threads) of count, at least minChunk)
        for (count, minChunk, threads, expectedFirst) in [(24, 1, 2, 6), (577, 16, 2, 145), (12, 1, 3, 2), (7, 2, 2, 2),
                                                          (1, 1, 2, 1), (144, 1, 2, 36)] {
            let lock = NSLock()
            var seen = [Int](repeating: 0, count: count)
            var pieces: [Range<Int>] = [], threadIDs = Set<UInt64>()
            Parallel.withThreads(threads) {
                Parallel.forEachPiece(count, minChunk: minChunk) { range in
                    let id = UInt64(pthread_self())
                    // keep each piece busy long enough that every free worker would join
                    var spin = 0.0
                    for i in 0..<20_000 { spin += Double(i).squareRoot() }
                    lock.lock()
                    for i in range { seen[i] += 1 }
                    pieces.append(range)
                    threadIDs.insert(id &+ UInt64(spin.isNaN ? 1 : 0))
                    lock.unlock()
                }
            }
            #expect(seen == [Int](repeating: 1, count: count), "count \(count)")
            let sizes = pieces.sorted { $0.lowerBound < $1.lowerBound }.map(\.count)
            #expect(sizes.dropLast().allSatisfy { $0 >= minChunk }, "count \(count): \(sizes)")   // the last chunk only
            #expect(sizes == sizes.sorted(by: >), "count \(count): \(sizes)")
            #expect(sizes.first == expectedFirst, "count \(count): \(sizes)")
            #expect(threadIDs.count <= threads, "count \(count): \(threadIDs.count) threads")
        }
    }

    /// The GEMM split over the call's threads keeps each element's sum whole: results are the
    /// same bits for any thread count, for both split directions and all transposes.
    @Test func splitGemmEqualsOneThread() throws {
        try Blas.load()
        var state: UInt64 = 7
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        for (m, n, k) in [(577, 768, 64), (300, 33, 200), (5, 4000, 300), (2000, 3, 700), (129, 129, 129)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let a = (0..<(m * k)).map { _ in next() }, b = (0..<(k * n)).map { _ in next() }
                    let c0 = (0..<(m * n)).map { _ in next() }
                    var results: [[Float]] = []
                    for threads in [1, 2, 3] {
                        var c = c0
                        Parallel.withThreads(threads) {
                            Blas.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5,
                                       a: a, lda: transA ? m : k, b: b, ldb: transB ? k : n, beta: 0.25, c: &c, ldc: n)
                        }
                        results.append(c)
                    }
                    #expect(results[0] == results[1] && results[0] == results[2], "\(m)x\(n)x\(k) \(transA) \(transB)")
                }
            }
        }
    }

    /// Where OpenBLAS rounds by call shape, a GEMM is cut into blocks that depend on its size
    /// alone: an even count of near-equal blocks of about `fixedBlock`, starting at multiples
    /// of 16, covering every row once (2,308 rows: six blocks, three per thread on two threads).
    @Test func fixedBlocksAreEvenAndEqual() {
        for size in [513, 768, 1000, 1024, 1025, 2304, 2308, 3072, 30524] {
            let bounds = Blas.fixedBlockBounds(size)
            let widths = zip(bounds.dropFirst(), bounds).map { $0 - $1 }
            #expect(bounds.first == 0 && bounds.last == size, "\(size)")
            #expect(widths.count % 2 == 0 && widths.allSatisfy { $0 > 0 && $0 < Blas.fixedBlock + 16 }, "\(size): \(widths)")
            #expect(bounds.dropLast().allSatisfy { $0 % 16 == 0 }, "\(size)")
            #expect(widths.max()! - widths.min()! <= 32, "\(size): \(widths)")
        }
        #expect(Blas.fixedBlockBounds(2308) == [0, 384, 768, 1152, 1536, 1920, 2308])
    }

    /// Two models with different n_threads used at the same time from two threads: each call
    /// runs with its own model's count, and the outputs are those of calls made one at a time.
    @Test func twoModelsWithDifferentThreadCountsInParallel() async throws {
        let one = try BlipModel.load(directory: Fixtures.model("captioning"), threads: 1)
        let three = try BlipModel.load(directory: Fixtures.model("captioning"), threads: 3)
        #expect(Parallel.maxThreads == 1)   // loading binds nothing outside itself
        let image = try ImageDecoder.decode(fileAt: Fixtures.photo("chelsea.png"))
        let expected = try image.withView { try one.caption($0, options: .hf).tokens }
        #expect(try image.withView { try three.caption($0, options: .hf).tokens } == expected)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for model in [one, three] {
                group.addTask {
                    var same = true
                    for _ in 0..<5 {
                        let tokens = try image.withView { try model.caption($0, options: .hf).tokens }
                        same = same && tokens == expected
                        // the model's count is the one in force inside its calls
                        same = same && model.withModelThreads { Parallel.maxThreads } == model.threads
                    }
                    return same
                }
            }
            var all: [Bool] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(results == [true, true])
    }

    /// A stress test for ThreadSanitizer (`make test-sanitizers`): 8 concurrent tasks run 48
    /// mixed jobs (captions with two thread counts, answers, ITM/ITC matches, image and text
    /// embeddings) on shared models; every result equals the serial run's, bit for bit.
    @Test func manyThreadsMixedTasksOnSharedModelsEqualSerialRuns() async throws {
        let captioner = try BlipModel.load(directory: Fixtures.model("captioning"), threads: 2)
        let captionerOne = try BlipModel.load(directory: Fixtures.model("captioning"), threads: 1)
        let answerer = try BlipModel.load(directory: Fixtures.model("vqa-gen"), threads: 3)
        let filter = try BlipModel.load(directory: Fixtures.model("itm"), threads: 2)
        let images = try Fixtures.photoNames.map { try ImageDecoder.decode(fileAt: Fixtures.photo($0)) }
        let texts = ["a cat on a sofa", "two cups of coffee", "an astronaut", "a grey camera"]
        @Sendable func run(_ job: Int) throws -> [Float] {
            let image = images[job % images.count]
            return try image.withView { view -> [Float] in
                switch job % 6 {
                case 0: return try captioner.caption(view, options: .hf).tokens.map(Float.init)
                case 1: return try captionerOne.caption(view, options: .hf).tokens.map(Float.init)
                case 2: return try answerer.answer(view, question: texts[job % texts.count]).tokens.map(Float.init)
                case 3:
                    let scores = try filter.match([view], texts: texts)
                    return scores.itm + scores.itc
                case 4: return try filter.imageEmbeddings([view])[0]
                default: return try filter.embedText(texts[job % texts.count])
                }
            }
        }
        let jobs = Array(0..<48)
        let serial = try jobs.map(run)
        let concurrent = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var last = (0, [Float]())
                    for job in jobs where job % 8 == worker {
                        let out = try run(job)
                        #expect(out == serial[job], "job \(job) (kind \(job % 6)) differs from the serial run")
                        last = (job, out)
                    }
                    return last
                }
            }
            var finished = 0
            for try await _ in group { finished += 1 }
            return finished
        }
        #expect(concurrent == 8)
    }
}
