import BlipCore
import BlipKernels

/// What `blip finetune` trains: the three BLIP task classes.
public enum FinetuneTask: String, Sendable, CaseIterable {
    case caption, vqa, match

    public var architecture: BlipArchitecture {
        switch self {
        case .caption: return .captioning
        case .vqa: return .questionAnswering
        case .match: return .retrieval
        }
    }
}

/// A BLIP model being trained: its parameters, the towers and heads of its task class, and
/// one forward + backward per micro-batch (gradients accumulate in the store).
final class TrainingModel {
    let task: FinetuneTask
    let config: BlipConfig
    let store = ParameterStore()
    let vision: VisionEncoderTraining
    /// caption, vqa: the answer/caption decoder (`text_decoder.bert.`).
    let decoder: TextTransformerTraining?
    let lmLoss: LanguageModelLoss?
    /// vqa: the question encoder; match: the ITM/ITC text encoder (`text_encoder.`).
    let encoder: TextTransformerTraining?
    let visionProjection: TrainableLinear?
    let textProjection: TrainableLinear?
    let itmHead: TrainableLinear?
    /// match: ITC's learnable temperature (training state only: transformers has no tensor for it).
    let temperature: ParameterRef?
    static let temperatureName = "temp"
    let arena = ActivationArena()
    /// The inference encoder over the same (frozen) weights, built on first use.
    private var frozenVision: VisionTransformer?

    init(task: FinetuneTask, config: BlipConfig) throws {
        guard config.architecture == task.architecture else {
            throw BlipError.invalidArgument("--task \(task.rawValue) needs a \(task.architecture.rawValue) model, but this one is \(config.architecture.rawValue)")
        }
        self.task = task
        self.config = config
        let s = store
        vision = VisionEncoderTraining(s, config: config.vision)
        let crossWidth = config.text.encoderHiddenSize
        switch task {
        case .caption, .vqa:
            if task == .vqa && config.text.hiddenSize != crossWidth {
                throw BlipError.unsupported("VQA training needs text hidden_size (\(config.text.hiddenSize)) equal to the vision hidden_size (\(crossWidth)): the answer decoder cross-attends to question states through vision-width projections, as in transformers")
            }
            let dec = TextTransformerTraining(s, prefix: "text_decoder.bert.", config: config.text, crossWidth: crossWidth)
            decoder = dec
            lmLoss = LanguageModelLoss(s, config: config.text, wordEmbeddings: dec.wordEmbeddings, tied: config.tieWordEmbeddings)
        case .match:
            decoder = nil
            lmLoss = nil
        }
        encoder = task == .caption ? nil
            : TextTransformerTraining(s, prefix: "text_encoder.", config: config.text, crossWidth: crossWidth)
        if task == .match {
            visionProjection = TrainableLinear(s, "vision_proj", in: config.vision.hiddenSize, out: config.imageTextHiddenSize)
            textProjection = TrainableLinear(s, "text_proj", in: config.text.hiddenSize, out: config.imageTextHiddenSize)
            itmHead = TrainableLinear(s, "itm_head", in: config.text.hiddenSize, out: 2)
            temperature = s.register(Self.temperatureName, [])
        } else {
            visionProjection = nil; textProjection = nil; itmHead = nil; temperature = nil
        }
        s.allocate()
        if let temperature { s.value(temperature)[0] = 0.07 }
    }

    /// Names written to a Hugging Face directory (the temperature is not a model tensor).
    func exportedTensors() -> [ParameterStore.Tensor] {
        store.tensors.filter { $0.name != Self.temperatureName }
    }

    var visionTrainable: Bool { store.tensors.contains { $0.name.hasPrefix("vision_model.") && $0.trainable } }

    // MARK: vision

    /// Image states [B·N, D] for the batch: the training forward when the encoder learns
    /// (activations kept for the backward), else cached states or the inference encoder.
    private func imageStates(_ batch: TrainingBatch, random: inout SeededRandom) throws -> (states: UnsafeMutablePointer<Float>, saved: VisionEncoderTraining.Activations?) {
        let n = vision.tokens * vision.width
        if let cached = batch.imageStates {
            let p = arena.allocate(batch.size * n)
            cached.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: batch.size * n) }
            return (p, nil)
        }
        if visionTrainable {
            let a = batch.pixels.withUnsafeBufferPointer {
                vision.forward(store, pixels: $0.baseAddress!, batch: batch.size, random: &random, arena: arena)
            }
            return (a.output, a)
        }
        let p = arena.allocate(batch.size * n)
        try encodeFrozen(batch.pixels, count: batch.size, into: p)
        return (p, nil)
    }

    /// The frozen encoder's states for `count` images (no activations kept).
    func encodeFrozen(_ pixels: [Float], count: Int, into out: UnsafeMutablePointer<Float>) throws {
        if frozenVision == nil { frozenVision = try VisionTransformer(store, config: config.vision) }
        guard let encoder = frozenVision else { return }
        let scratch = encoder.makeScratch()
        let per = 3 * config.vision.imageSize * config.vision.imageSize, n = vision.tokens * vision.width
        pixels.withUnsafeBufferPointer { px in
            for b in 0..<count { encoder.encode(pixels: px.baseAddress! + b * per, out: out + b * n, scratch: scratch) }
        }
    }

    // MARK: forward + backward

    /// One micro-batch: forward, loss, backward. Gradients are scaled by `lossScale` (1 / the
    /// number of accumulated micro-batches) and added to the store's.
    func forwardBackward(_ batch: TrainingBatch, lossScale: Float, smoothing: Float, random: inout SeededRandom,
                         negatives: FixedNegatives? = nil) throws -> StepLoss {
        arena.reset()
        let (states, visionActs) = try imageStates(batch, random: &random)
        let dStates: UnsafeMutablePointer<Float>? = visionActs == nil ? nil : arena.zeroed(batch.size * vision.tokens * vision.width)
        let imageCross = CrossInput(states: states, count: batch.size, tokens: vision.tokens, width: vision.width,
                                    setOfSequence: Array(0..<batch.size), keyMask: nil)
        var result: StepLoss
        switch task {
        case .caption:
            result = lmStep(decoderBatch: batch.text, labels: batch.labels, cross: imageCross, dCross: dStates,
                            lossScale: lossScale, smoothing: smoothing, random: &random)
        case .vqa:
            result = vqaStep(batch, cross: imageCross, dImage: dStates, lossScale: lossScale, smoothing: smoothing, random: &random)
        case .match:
            result = matchStep(batch, states: states, dStates: dStates, lossScale: lossScale, random: &random, negatives: negatives)
        }
        if let visionActs, let dStates {
            vision.backward(store, visionActs, dOutput: dStates, arena: arena)
        }
        return result
    }

    /// Decoder LM loss over `decoderBatch` cross-attending to `cross`; adds d loss / d cross
    /// states into `dCross` when given.
    private func lmStep(decoderBatch: TokenBatch, labels: [Int32], cross: CrossInput, dCross: UnsafeMutablePointer<Float>?,
                        lossScale: Float, smoothing: Float, random: inout SeededRandom) -> StepLoss {
        guard let decoder, let lmLoss else { return StepLoss(loss: 0) }
        let acts = decoder.forward(store, batch: decoderBatch, causal: true, cross: cross, random: &random, arena: arena)
        let rows = decoderBatch.sequences * decoderBatch.length
        let dHidden = arena.allocate(rows * decoder.width)
        let (sum, count) = lmLoss.lossAndBackward(store, hidden: acts.output, rows: rows, labels: labels,
                                                  sequences: decoderBatch.sequences, length: decoderBatch.length,
                                                  smoothing: smoothing, gradScale: { lossScale / Float(max($0, 1)) },
                                                  dHidden: dHidden, arena: arena)
        decoder.backward(store, acts, dOutput: dHidden, dCrossStates: dCross, arena: arena)
        return StepLoss(loss: count > 0 ? sum / Double(count) : 0)
    }

    /// VQA: question encoder over the image, answer decoder over the question states.
    private func vqaStep(_ batch: TrainingBatch, cross: CrossInput, dImage: UnsafeMutablePointer<Float>?,
                         lossScale: Float, smoothing: Float, random: inout SeededRandom) -> StepLoss {
        guard let encoder, let answers = batch.answers else { return StepLoss(loss: 0) }
        let q = batch.text
        let qActs = encoder.forward(store, batch: q, causal: false, cross: cross, random: &random, arena: arena)
        // No key mask over the question's padding: transformers 5 passes the question mask as
        // encoder_attention_mask, but its answer decoder attends to every question position
        // (measured: the loss is identical with an all-ones mask), and generation does the same.
        let questionCross = CrossInput(states: qActs.output, count: q.sequences, tokens: q.length, width: encoder.width,
                                       setOfSequence: Array(0..<q.sequences), keyMask: nil)
        let dQuestion = arena.zeroed(q.sequences * q.length * encoder.width)
        let result = lmStep(decoderBatch: answers, labels: batch.labels, cross: questionCross, dCross: dQuestion,
                            lossScale: lossScale, smoothing: smoothing, random: &random)
        encoder.backward(store, qActs, dOutput: dQuestion, dCrossStates: dImage, arena: arena)
        return result
    }
}
