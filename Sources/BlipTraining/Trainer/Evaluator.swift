import BlipCore
import BlipData
import Glibc

/// End-of-epoch evaluation on `--val`: the loss (same definition as training, no augmentation,
/// manifest order) and the task's metrics, computed with libblip's inference on the current
/// weights: greedy-caption BLEU-4 and exact match (caption), greedy-answer accuracy (vqa),
/// ITM accuracy on true and mismatched pairs and text→image R@1 by ITC (match).
final class Evaluator {
    private unowned let finetuner: Finetuner
    private let manifest: Manifest
    private let encoded: [EncodedRow]
    private var reportedFailures: Set<Int> = []

    init(finetuner f: Finetuner, path: String) throws {
        finetuner = f
        let task: ManifestTask = f.options.task == .vqa ? .vqa : (f.options.task == .caption ? .caption : .match)
        manifest = try Manifest.read(path: path, task: task, strict: f.options.strict)
        encoded = try manifest.rows.map { try f.encoding.encode($0) }
        for p in manifest.problems { f.report("validation: skipping \(p)") }
    }

    func evaluate(epoch: Int, step: Int) throws -> FinetuneEvaluation {
        let f = finetuner, model = f.model
        // Validation loss: the training forward (its gradients are discarded).
        let batches = BatchLoader.batches(order: Array(manifest.rows.indices), batchSize: f.options.batchSize)
        let loader = BatchLoader(manifest: manifest, preprocessor: f.preprocessor, imageSize: model.config.vision.imageSize,
                                 augmentation: .none, batches: batches, seed: 0)
        var random = SeededRandom(seed: f.derivedSeed(3, step))
        var lossSum = 0.0, lossBatches = 0
        var pixels: [Int: [Float]] = [:]
        while let loaded = loader.next() {
            for failure in loaded.failures {
                if f.options.strict { throw BlipError.imageFormat("validation: \(failure)") }
                if reportedFailures.insert(failure.line).inserted { f.report("validation: skipping \(failure)") }
            }
            let rows = loaded.images.map(\.row)
            guard !rows.isEmpty else { continue }
            for image in loaded.images { pixels[image.row] = image.pixels }
            let batch = TrainingBatch(pixels: loaded.images.flatMap(\.pixels), size: rows.count,
                                      encoded: f.encoding.batch(rows.map { encoded[$0] }),
                                      imageIds: rows.map { manifest.rows[$0].imageId })
            lossSum += try model.forwardBackward(batch, lossScale: 1, smoothing: f.options.labelSmoothing, random: &random).loss
            lossBatches += 1
        }
        model.store.zeroGradients()
        let inference = try BlipModel(directory: f.source.folder, config: model.config, weights: model.store,
                                      preprocessor: f.preprocessor, tokenizer: f.tokenizer, threads: f.threads)
        let metrics = try taskMetrics(inference, pixels: pixels)
        return FinetuneEvaluation(epoch: epoch, step: step, loss: lossBatches > 0 ? lossSum / Double(lossBatches) : .nan,
                                  metrics: metrics)
    }

    private func taskMetrics(_ m: BlipModel, pixels: [Int: [Float]]) throws -> [(String, Double)] {
        let rows = manifest.rows.indices.filter { pixels[$0] != nil }
        guard !rows.isEmpty else { return [] }
        let states = try Dictionary(uniqueKeysWithValues: rows.map { ($0, try m.imageStates([pixels[$0]!])[0]) })
        switch finetuner.options.task {
        case .caption:
            // Each row captioned after its own prompt (a row's "prompt", else --prompt), as trained. The
            // prompt's [CLS]…[SEP] ids: caption(imageStates:promptIds:) strips them as the CLI does.
            var promptIds: [String: [Int32]] = [:]
            var hypotheses: [[String]] = [], references: [[String]] = [], exact = 0
            for r in rows {
                let prompt = manifest.rows[r].prompt ?? finetuner.options.prompt
                let ids = try prompt.map { p in try promptIds[p] ?? m.encodeText(p, what: "prompt") } ?? []
                if let prompt { promptIds[prompt] = ids }
                let tokens = try m.caption(imageStates: states[r]!, promptIds: ids, options: .hf, onToken: nil)
                let hyp = words(m.tokenizer.decode(tokens))
                let full = prompt.map { $0 + " " + manifest.rows[r].text } ?? manifest.rows[r].text
                let ref = words(m.tokenizer.decode(m.tokenizer.encode(full)))
                hypotheses.append(hyp); references.append(ref)
                if hyp == ref { exact += 1 }
            }
            return [("bleu4", BLEU.corpus(hypotheses: hypotheses, references: references)),
                    ("exact_match", Double(exact) / Double(rows.count))]
        case .vqa:
            var correct = 0
            for r in rows {
                let q = try m.encodeText(manifest.rows[r].text, what: "question")
                let tokens = try m.answer(imageStates: states[r]!, questionIds: q, options: .hf, onToken: nil)
                let expected = m.tokenizer.decode(m.tokenizer.encode(manifest.rows[r].answer ?? ""))
                if words(m.tokenizer.decode(tokens)) == words(expected) { correct += 1 }
            }
            return [("accuracy", Double(correct) / Double(rows.count))]
        case .match:
            var correct = 0, pairs = 0, hits = 0
            let imageEmbeddings = try rows.map { try m.imageEmbedding(states: states[$0]!) }
            for (i, r) in rows.enumerated() {
                let ids = try m.encodeText(manifest.rows[r].text, what: "text")
                if try m.itmProbability(imageStates: states[r]!, textIds: ids) >= 0.5 { correct += 1 }
                pairs += 1
                // A mismatched pair: the next row whose image id differs.
                if let other = rows.indices.map({ rows[($0 + i + 1) % rows.count] })
                    .first(where: { manifest.rows[$0].imageId != manifest.rows[r].imageId }) {
                    if try m.itmProbability(imageStates: states[other]!, textIds: ids) < 0.5 { correct += 1 }
                    pairs += 1
                }
                let t = try m.textEmbedding(ids: ids)
                let scores = imageEmbeddings.map { e in zip(e, t).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
                if let best = scores.indices.max(by: { scores[$0] < scores[$1] }),
                   manifest.rows[rows[best]].imageId == manifest.rows[r].imageId { hits += 1 }
            }
            return [("itm_accuracy", Double(correct) / Double(max(pairs, 1))), ("r_at_1", Double(hits) / Double(rows.count))]
        }
    }

    private func words(_ s: String) -> [String] { s.lowercased().split(whereSeparator: { $0 == " " }).map(String.init) }
}

/// Corpus BLEU-4 with the brevity penalty (Papineni et al.), one reference per hypothesis.
enum BLEU {
    static func corpus(hypotheses: [[String]], references: [[String]]) -> Double {
        var matches = [Double](repeating: 0, count: 4), totals = [Double](repeating: 0, count: 4)
        var hypLength = 0.0, refLength = 0.0
        for (h, r) in zip(hypotheses, references) {
            hypLength += Double(h.count); refLength += Double(r.count)
            for n in 1...4 where h.count >= n {
                var refCounts: [ArraySlice<String>: Int] = [:]
                if r.count >= n { for i in 0...(r.count - n) { refCounts[r[i..<(i + n)], default: 0] += 1 } }
                for i in 0...(h.count - n) {
                    totals[n - 1] += 1
                    let gram = h[i..<(i + n)]
                    if let c = refCounts[gram], c > 0 { matches[n - 1] += 1; refCounts[gram] = c - 1 }
                }
            }
        }
        guard totals.allSatisfy({ $0 > 0 }), matches.allSatisfy({ $0 > 0 }) else { return 0 }
        var logPrecision = 0.0
        for n in 0..<4 { logPrecision += Glibc.log(matches[n] / totals[n]) / 4 }
        let brevity: Double = hypLength >= refLength ? 1 : Glibc.exp(1 - refLength / max(hypLength, 1))
        return brevity * Glibc.exp(logPrecision)
    }
}
