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

    /// Records for a batch of pairs, in order. Per-pair failures become error records.
    public func process(_ pairs: [CapFiltPair]) -> [CapFiltRecord] {
        pairs.map(process)
    }

    public func process(_ pair: CapFiltPair) -> CapFiltRecord {
        if let problem = pair.problem { return .failure(pair, problem) }
        guard let key = pair.key, let bytes = pair.imageBytes, let webText = pair.webText else {
            return .failure(pair, "the pair has no image or no text")
        }
        do {
            let image = try ImageDecoder.decode(bytes, maxPixels: options.maxImagePixels)
            let (captionerStates, filterStates) = try image.withView { view in
                let pixels = try captioner.pixelValues(view)
                let filterPixels = sharedPixels ? pixels : try filter.pixelValues(view)
                return (try captioner.imageStates([pixels])[0], try filter.imageStates([filterPixels])[0])
            }
            let web = try score(webText, imageStates: filterStates)
            let synthetic = try (0..<options.captionsPerImage).map { i in
                var generation = options.generation
                generation.seed = CaptionSeed.derive(seed: options.seed, key: key, index: i)
                let tokens = try captioner.caption(imageStates: captionerStates, promptIds: promptIds, options: generation)
                let caption = captioner.tokenizer.decode(Array(tokens.dropFirst(decoderInputLength)))
                return try score(caption, imageStates: filterStates)
            }
            return CapFiltRecord(key: key, image: pair.image, web: web, synthetic: synthetic, error: nil)
        } catch let e as BlipError {
            return .failure(pair, e.message)
        } catch {
            return .failure(pair, "\(error)")
        }
    }

    /// The filter's verdict on one text. Texts longer than the filter's position table are cut
    /// to fit (keeping the closing [SEP]) rather than refused: web alt text can be any length,
    /// and BLIP itself truncated texts for ITM.
    func score(_ text: String, imageStates: [Float]) throws -> ScoredText {
        var ids = filter.tokenizer.encode(text)
        let limit = filter.config.text.maxPositionEmbeddings
        if ids.count > limit, let sep = ids.last {
            ids = Array(ids.prefix(limit - 1)) + [sep]
        }
        let itm = try filter.itmProbability(imageStates: imageStates, textIds: ids)
        return ScoredText(text: text, itm: itm, kept: itm >= options.threshold)
    }
}
