/// One micro-batch, tokenised and with its images preprocessed (or their cached vision
/// states when the vision encoder is frozen).
struct TrainingBatch {
    /// Preprocessed images [B, 3, S, S]; empty when `imageStates` is given.
    var pixels: [Float]
    /// Frozen vision encoder outputs [B, N, D], reused across epochs.
    var imageStates: [Float]?
    let size: Int
    /// caption: decoder input ids; vqa: the question; match: the text.
    let text: TokenBatch
    /// caption: labels over `text`; vqa: labels over `answers`; match: empty.
    let labels: [Int32]
    let answers: TokenBatch?
    /// match: rows with the same id are positives of each other.
    let imageIds: [String]
    /// match: the rows' explicit negative texts and the row each belongs to (extra ITM negatives).
    let negatives: TokenBatch?
    let negativeOwners: [Int]

    init(pixels: [Float], size: Int, encoded: EncodedBatch, imageIds: [String]) {
        self.pixels = pixels; imageStates = nil; self.size = size
        text = encoded.text; labels = encoded.labels; answers = encoded.answers; self.imageIds = imageIds
        negatives = encoded.negatives; negativeOwners = encoded.negativeOwners
    }
}

/// Hard negatives fixed by the caller (tests compare gradients with PyTorch's on them).
struct FixedNegatives {
    let imageForText: [Int]
    let textForImage: [Int]
}

/// What a micro-batch's forward and backward report.
struct StepLoss {
    var loss: Double
    /// match: its two parts.
    var contrastive: Double = 0
    var matching: Double = 0
}
