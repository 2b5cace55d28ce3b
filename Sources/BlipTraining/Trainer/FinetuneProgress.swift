/// One optimizer step's report (the progress callback and `--log` lines).
public struct FinetuneProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    /// Mean loss of the step's batch before the update (over accumulated micro-batches).
    public var loss: Double
    public var lr: Float
    public var samplesPerSecond: Double
    public var etaSeconds: Double
    /// match: the two parts of the loss.
    public var contrastiveLoss: Double?
    public var matchingLoss: Double?
    public var gradientNorm: Double
    /// Wall time of this optimizer step (data waits included).
    public var stepSeconds: Double
}

/// An end-of-epoch evaluation on `--val`.
public struct FinetuneEvaluation: Sendable {
    public var epoch: Int
    public var step: Int
    public var loss: Double
    /// Task metrics by name: bleu4, exact_match (caption); accuracy (vqa); itm_accuracy, r_at_1 (match).
    public var metrics: [(String, Double)]
}

/// What a finished run reports.
public struct FinetuneSummary: Sendable {
    public var steps: Int
    public var finalLoss: Double
    public var skippedRows: Int
    public var bestEvaluation: FinetuneEvaluation?
    public var outPath: String
}
