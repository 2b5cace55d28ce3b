import BlipCore

/// A text with the filter's verdict.
public struct ScoredText: Sendable, Equatable {
    public let text: String
    /// The filter's ITM match probability, softmax(itm_logits)[1].
    public let itm: Float
    /// itm >= threshold.
    public let kept: Bool
}

/// The outcome for one pair: the record written to JSONL outputs and to `KEY.json` in shards.
public struct CapFiltRecord: Sendable, Equatable {
    public let key: String?
    public let image: String?
    public let web: ScoredText?
    public let synthetic: [ScoredText]
    /// Set when the pair could not be processed; then there are no scores and no texts.
    public let error: String?

    /// The kept texts, web text first.
    public var texts: [String] { ([web].compactMap { $0 } + synthetic).filter(\.kept).map(\.text) }

    public static func failure(_ pair: CapFiltPair, _ message: String) -> CapFiltRecord {
        CapFiltRecord(key: pair.key, image: pair.image, web: nil, synthetic: [], error: message)
    }

    /// One JSON object on one line, keys in a fixed order (outputs are compared byte for byte).
    public var json: String {
        func scored(_ s: ScoredText) -> String {
            "{\"text\": \(jsonQuote(s.text)), \"itm\": \(s.itm), \"kept\": \(s.kept)}"
        }
        var fields = ["\"key\": \(key.map(jsonQuote) ?? "null")", "\"image\": \(image.map(jsonQuote) ?? "null")"]
        if let web { fields.append("\"web\": \(scored(web))") }
        if error == nil { fields.append("\"synthetic\": [\(synthetic.map(scored).joined(separator: ", "))]") }
        fields.append("\"texts\": [\(texts.map(jsonQuote).joined(separator: ", "))]")
        if let error { fields.append("\"error\": \(jsonQuote(error))") }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    /// `KEY.txt` in output shards: the kept texts, one per line (line breaks inside a text
    /// become spaces so each text stays one line).
    public var keptTextsFile: String {
        texts.map { $0.split(whereSeparator: \.isNewline).joined(separator: " ") + "\n" }.joined()
    }
}
