import BlipCore
import BlipData

/// Token ids of one manifest row, as interface.md defines them for each task.
struct EncodedRow {
    /// caption: decoder ids ([DEC] first); vqa: the question ([CLS] first); match: the text.
    let ids: [Int32]
    /// caption: positions whose label is ignored (the [DEC] and the prompt); vqa: 1 (the [DEC]).
    let ignoredPrefix: Int
    /// vqa: the answer ids ([DEC] first).
    let answer: [Int32]?
    /// match: the row's explicit negative texts, encoded like `ids`.
    var negatives: [[Int32]] = []
}

/// A micro-batch's text side.
struct EncodedBatch {
    /// caption: decoder input ids; vqa: the question; match: the text.
    let text: TokenBatch
    /// caption: labels over `text`; vqa: labels over `answers`; match: empty.
    let labels: [Int32]
    let answers: TokenBatch?
    /// match: every row's explicit negatives, row by row (nil when there are none), and the
    /// batch row (image) each belongs to.
    var negatives: TokenBatch? = nil
    var negativeOwners: [Int] = []
}

/// Builds padded token batches and labels from manifest rows.
struct TextEncoding {
    let task: FinetuneTask
    let tokenizer: BertTokenizer
    let prompt: String?
    let maxTextLength: Int
    let maxAnswerLength: Int
    let bos: Int32
    let vocabSize: Int

    /// `[CLS] pieces [SEP]` truncated to `maxLength` as transformers' `truncation=True` does
    /// (the special tokens are kept, the pieces are cut).
    func encode(_ text: String, maxLength: Int) -> [Int32] {
        let pieces = tokenizer.encode(text, addSpecialTokens: false)
        return [tokenizer.clsID] + pieces.prefix(max(maxLength - 2, 0)) + [tokenizer.sepID]
    }

    func encode(_ row: ManifestRow) throws -> EncodedRow {
        let result: EncodedRow
        switch task {
        case .caption:
            let prompt = row.prompt ?? self.prompt
            let text = prompt.map { $0 + " " + row.text } ?? row.text
            var ids = encode(text, maxLength: maxTextLength)
            ids[0] = bos
            let promptPieces = prompt.map { tokenizer.encode($0, addSpecialTokens: false).count } ?? 0
            result = EncodedRow(ids: ids, ignoredPrefix: min(1 + promptPieces, ids.count), answer: nil)
        case .vqa:
            var answer = encode(row.answer ?? "", maxLength: maxAnswerLength)
            answer[0] = bos
            result = EncodedRow(ids: encode(row.text, maxLength: maxTextLength), ignoredPrefix: 1, answer: answer)
        case .match:
            result = EncodedRow(ids: encode(row.text, maxLength: maxTextLength), ignoredPrefix: 0, answer: nil,
                                negatives: row.negatives.map { encode($0, maxLength: maxTextLength) })
        }
        for id in result.ids + (result.answer ?? []) + result.negatives.joined() where id < 0 || Int(id) >= vocabSize {
            throw BlipError.modelFormat("token id \(id) is outside the model's vocabulary of \(vocabSize): vocab.txt does not match config.json")
        }
        return result
    }

    /// Right-padded with 0 to the longest sequence; mask 1 on real tokens.
    static func pad(_ sequences: [[Int32]]) -> TokenBatch {
        let len = sequences.map(\.count).max() ?? 1
        var ids: [Int32] = [], mask: [Float] = []
        ids.reserveCapacity(sequences.count * len)
        for s in sequences {
            ids.append(contentsOf: s); ids.append(contentsOf: repeatElement(0, count: len - s.count))
            mask.append(contentsOf: repeatElement(1, count: s.count)); mask.append(contentsOf: repeatElement(0, count: len - s.count))
        }
        return TokenBatch(ids: ids, mask: mask, sequences: sequences.count, length: len)
    }

    /// Labels over a padded batch: the ids, with padding and each row's ignored prefix at -100.
    static func labels(_ sequences: [[Int32]], ignoredPrefix: [Int], length: Int) -> [Int32] {
        var labels: [Int32] = []
        for (s, skip) in zip(sequences, ignoredPrefix) {
            for t in 0..<length { labels.append(t < s.count && t >= skip ? s[t] : -100) }
        }
        return labels
    }

    /// A micro-batch's text side.
    func batch(_ rows: [EncodedRow]) -> EncodedBatch {
        switch task {
        case .caption:
            let seqs = rows.map(\.ids), text = Self.pad(seqs)
            return EncodedBatch(text: text, labels: Self.labels(seqs, ignoredPrefix: rows.map(\.ignoredPrefix), length: text.length),
                                answers: nil)
        case .vqa:
            let answers = rows.map { $0.answer ?? [bos] }, padded = Self.pad(answers)
            return EncodedBatch(text: Self.pad(rows.map(\.ids)),
                                labels: Self.labels(answers, ignoredPrefix: rows.map { _ in 0 }, length: padded.length), answers: padded)
        case .match:
            var result = EncodedBatch(text: Self.pad(rows.map(\.ids)), labels: [], answers: nil)
            let negatives = rows.flatMap(\.negatives)
            if !negatives.isEmpty {
                result.negatives = Self.pad(negatives)
                result.negativeOwners = rows.indices.flatMap { i in repeatElement(i, count: rows[i].negatives.count) }
            }
            return result
        }
    }
}
