import BlipCore

/// The captioner and the filter, loaded once, and what they do to one pair: decode and
/// preprocess the image once, encode it once per model, sample the synthetic captions and
/// score every text with the filter's ITM head.
public final class CapFilter: @unchecked Sendable {
    public let captioner: BlipModel
    public let filter: BlipModel
    public let options: CapFiltOptions
    /// Both models resize and normalise identically: one pixel tensor serves both encoders.
    let sharedPixels: Bool
    /// The prompt's token ids ([CLS] … [SEP], empty for none) and how many leading tokens of a
    /// generated sequence are [DEC] and the prompt, which the synthetic caption leaves out.
    let promptIds: [Int32]
    let decoderInputLength: Int

    public init(captioner: BlipModel, filter: BlipModel, options: CapFiltOptions) throws {
        try options.validate()
        guard captioner.config.architecture == .captioning, captioner.text.decoder != nil else {
            throw BlipError.unsupported("the captioner must be a BlipForConditionalGeneration model (\(captioner.directory) is \(captioner.config.architecture.rawValue))")
        }
        guard filter.config.architecture == .retrieval, filter.text.itmHead != nil else {
            throw BlipError.unsupported("the filter must be a BlipForImageTextRetrieval model with an ITM head (\(filter.directory) is \(filter.config.architecture.rawValue))")
        }
        // Checked once here so a bad preset or prompt fails the run instead of every record.
        promptIds = try options.prompt.map { try captioner.encodeText($0, what: "prompt") } ?? []
        decoderInputLength = try captioner.captionDecoderInput(promptIds: promptIds).count
        self.captioner = captioner
        self.filter = filter
        self.options = options
        sharedPixels = captioner.preprocessor.config == filter.preprocessor.config
            && captioner.config.vision.imageSize == filter.config.vision.imageSize
    }

    /// One pair's image, decoded once and encoded once per model.
    private struct EncodedPair {
        let key: String
        let webText: String
        let captionerStates: [Float]
        let filterStates: [Float]
    }

    /// A pair ready for captioning and scoring, or its error record.
    private enum Encoding {
        case ready(EncodedPair)
        case failed(CapFiltRecord)
    }

    /// Records for a batch of pairs, in order. Per-pair failures become error records. The
    /// synthetic captions of a few pairs at a time are sampled together (`BlipModel.captions`:
    /// a decode step reads the captioner's weights once for all of them); each is the one its
    /// pair would get alone, so records do not depend on the batch.
    public func process(_ pairs: [CapFiltPair]) -> [CapFiltRecord] {
        // Pairs whose captions fill one decode batch; their image states are all that is held.
        let chunk = max(1, BlipModel.captionBatchRows / options.captionsPerImage)
        return stride(from: 0, to: pairs.count, by: chunk).flatMap {
            processTogether(Array(pairs[$0..<min($0 + chunk, pairs.count)]))
        }
    }

    public func process(_ pair: CapFiltPair) -> CapFiltRecord {
        processTogether([pair])[0]
    }

    private func processTogether(_ pairs: [CapFiltPair]) -> [CapFiltRecord] {
        let encoded = pairs.map(encode)
        var records = [CapFiltRecord?](repeating: nil, count: pairs.count)
        var ready: [Int] = [], inputs: [EncodedPair] = []
        for (i, result) in encoded.enumerated() {
            switch result {
            case .ready(let e): ready.append(i); inputs.append(e)
            case .failed(let record): records[i] = record
            }
        }
        let captions: [[String]]
        do {
            let seeds = inputs.map { e in
                (0..<options.captionsPerImage).map { CaptionSeed.derive(seed: options.seed, key: e.key, index: $0) }
            }
            captions = try captioner.captions(imageStates: inputs.map(\.captionerStates), seeds: seeds,
                                              promptIds: promptIds, options: options.generation)
                .map { $0.map { captioner.tokenizer.decode(Array($0.dropFirst(decoderInputLength))) } }
        } catch {
            // Find the pair it belongs to: one by one, a failure is that pair's record.
            if pairs.count > 1 { return pairs.map(process) }
            return [.failure(pairs[0], Self.message(error))]
        }
        for (slot, i) in ready.enumerated() {
            let e = inputs[slot]
            do {
                let scored = try score([e.webText] + captions[slot], imageStates: e.filterStates)
                records[i] = CapFiltRecord(key: e.key, image: pairs[i].image, web: scored[0],
                                           synthetic: Array(scored.dropFirst()), error: nil)
            } catch {
                records[i] = .failure(pairs[i], Self.message(error))
            }
        }
        return records.map { $0! }
    }

    /// Decodes the pair's image and encodes it with both models, or says why not.
    private func encode(_ pair: CapFiltPair) -> Encoding {
        if let problem = pair.problem { return .failed(.failure(pair, problem)) }
        guard let key = pair.key, let bytes = pair.imageBytes, let webText = pair.webText else {
            return .failed(.failure(pair, "the pair has no image or no text"))
        }
        do {
            let image = try ImageDecoder.decode(bytes, maxPixels: options.maxImagePixels)
            let (captionerStates, filterStates) = try image.withView { view in
                let pixels = try captioner.pixelValues(view)
                let filterPixels = sharedPixels ? pixels : try filter.pixelValues(view)
                return (try captioner.imageStates([pixels])[0], try filter.imageStates([filterPixels])[0])
            }
            return .ready(EncodedPair(key: key, webText: webText, captionerStates: captionerStates, filterStates: filterStates))
        } catch {
            return .failed(.failure(pair, Self.message(error)))
        }
    }

    private static func message(_ error: Error) -> String {
        (error as? BlipError)?.message ?? "\(error)"
    }

    /// The filter's verdicts on texts about one image (its keys and values computed once). Texts
    /// longer than the filter's position table are cut to fit (keeping the closing [SEP]) rather
    /// than refused: web alt text can be any length, and BLIP itself truncated texts for ITM.
    func score(_ texts: [String], imageStates: [Float]) throws -> [ScoredText] {
        let limit = filter.config.text.maxPositionEmbeddings
        let ids = texts.map { text -> [Int32] in
            let ids = filter.tokenizer.encode(text)
            guard ids.count > limit, let sep = ids.last else { return ids }
            return Array(ids.prefix(limit - 1)) + [sep]
        }
        let itm = try filter.itmProbabilities(imageStates: imageStates, texts: ids)
        return zip(texts, itm).map { ScoredText(text: $0, itm: $1, kept: $1 >= options.threshold) }
    }
}
