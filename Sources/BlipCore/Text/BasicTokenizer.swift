/// BERT's basic tokenization exactly as the `tokenizers` backend of transformers v5 runs it
/// (`BertNormalizer` then `BertPreTokenizer`), which is what `BlipProcessor` /
/// `AutoTokenizer` use:
///
/// 0. special tokens (`neverSplit`, e.g. `[CLS]`) are cut out of the raw text first, matched
///    byte-exactly and case-sensitively, leftmost-longest; they are never normalized;
/// 1. clean: drop U+0000, U+FFFD and control/format/private-use characters (except `\t \n \r`),
///    turn every whitespace character into a space;
/// 2. put spaces around CJK ideographs (BERT's code-point ranges, as `tokenizers` has them);
/// 3. strip accents (when `stripAccents`, which defaults to `lowercase`): NFD, then drop
///    nonspacing marks (Mn);
/// 4. lowercase (full Unicode lowercase mapping, character by character: no final-sigma rule);
/// 5. split on whitespace, and make every punctuation character (ASCII 33–47, 58–64, 91–96,
///    123–126 and Unicode P*) a word of its own.
///
/// Character classes and NFD use the `tokenizers` crate's own (older) Unicode tables, embedded
/// in BertUnicodeTables.swift, so results do not depend on the Swift toolchain's Unicode version.
/// All work is on Unicode scalars (never `Character`s), linear in the input length.
public struct BasicTokenizer: Sendable {
    public let lowercase: Bool
    /// Resolved: `strip_accents` if given, else `lowercase` (as in the original BERT).
    public let stripAccents: Bool
    public let tokenizeChineseChars: Bool
    /// Tokens matched in the raw text before normalization (the special tokens).
    public let neverSplit: [String]
    private let neverSplitUTF8: [[UInt8]]

    public init(lowercase: Bool = true, stripAccents: Bool? = nil, tokenizeChineseChars: Bool = true,
                neverSplit: [String] = []) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase
        self.tokenizeChineseChars = tokenizeChineseChars
        self.neverSplit = neverSplit
        self.neverSplitUTF8 = neverSplit.map { Array($0.utf8) }  // empty ones never match
    }

    /// One unit of basic tokenization: a special token (index into `neverSplit`) or a word.
    enum Piece {
        case special(Int)
        case word(ArraySlice<Unicode.Scalar>)
    }

    /// The words of `text` (special tokens included verbatim).
    public func tokenize(_ text: String) -> [String] {
        var out: [String] = []
        forEachPiece(text) { piece in
            switch piece {
            case .special(let i): out.append(neverSplit[i])
            case .word(let w):
                var s = String.UnicodeScalarView()
                s.append(contentsOf: w)
                out.append(String(s))
            }
        }
        return out
    }

    /// The normalized text (steps 1–4) of a string containing no special tokens.
    public func normalize(_ text: String) -> [Unicode.Scalar] {
        normalize(Substring(text))
    }

    /// Calls `body` for every piece of `text`, in order.
    func forEachPiece(_ text: String, _ body: (Piece) -> Void) {
        if neverSplitUTF8.isEmpty {
            splitWords(normalize(Substring(text)), body)
            return
        }
        let utf8 = text.utf8
        var segmentStart = utf8.startIndex
        var i = utf8.startIndex
        while i < utf8.endIndex {
            let b = utf8[i]
            var best = -1
            var bestLen = 0
            for (k, tok) in neverSplitUTF8.enumerated() where tok.count > bestLen && tok[0] == b {
                if utf8[i...].starts(with: tok) {
                    best = k
                    bestLen = tok.count
                }
            }
            if best >= 0 {
                if segmentStart < i { splitWords(normalize(Self.substring(utf8[segmentStart..<i])), body) }
                body(.special(best))
                i = utf8.index(i, offsetBy: bestLen)
                segmentStart = i
            } else {
                i = utf8.index(after: i)
            }
        }
        if segmentStart < utf8.endIndex {
            splitWords(normalize(Self.substring(utf8[segmentStart...])), body)
        }
    }

    /// Special tokens are valid UTF-8, so cuts fall on scalar boundaries (Swift 6's
    /// `Substring(UTF8View)` is non-failable).
    private static func substring(_ v: Substring.UTF8View) -> Substring {
        Substring(v)
    }

    /// Steps 1–4 on a segment.
    func normalize(_ text: Substring) -> [Unicode.Scalar] {
        // 1 + 2: clean and pad CJK.
        var buf: [Unicode.Scalar] = []
        buf.reserveCapacity(text.unicodeScalars.count + 8)
        var allASCII = true
        for c in text.unicodeScalars {
            let v = c.value
            if v < 0x80 {
                if v == 0x09 || v == 0x0A || v == 0x0D || v == 0x20 { buf.append(" "); continue }
                if v < 0x20 || v == 0x7F { continue }
                buf.append(c)
                continue
            }
            if v == 0xFFFD || BertUnicode.isControl(c) { continue }
            allASCII = false
            if BertUnicode.isWhitespace(c) { buf.append(" "); continue }
            if tokenizeChineseChars && BertUnicode.isChineseChar(v) {
                buf.append(" "); buf.append(c); buf.append(" ")
            } else {
                buf.append(c)
            }
        }
        // 3: NFD, then drop nonspacing marks.
        if stripAccents && !allASCII {
            buf = BertUnicode.nfd(buf)
            buf.removeAll(where: BertUnicode.isNonspacingMark)
        }
        // 4: lowercase, scalar by scalar.
        if lowercase {
            if allASCII {
                for k in buf.indices where buf[k].value >= 0x41 && buf[k].value <= 0x5A {
                    buf[k] = Unicode.Scalar(buf[k].value + 0x20)!
                }
            } else {
                var out: [Unicode.Scalar] = []
                out.reserveCapacity(buf.count)
                for c in buf {
                    if c.value < 0x80 {
                        out.append(c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 0x20)! : c)
                    } else {
                        BertUnicode.appendLowercase(c, to: &out)
                    }
                }
                buf = out
            }
        }
        return buf
    }

    /// Step 5: split normalized scalars on whitespace and punctuation.
    func splitWords(_ s: [Unicode.Scalar], _ body: (Piece) -> Void) {
        var start = -1
        for k in s.indices {
            let c = s[k]
            if BertUnicode.isWhitespace(c) {
                if start >= 0 { body(.word(s[start..<k])); start = -1 }
            } else if BertUnicode.isPunctuation(c) {
                if start >= 0 { body(.word(s[start..<k])); start = -1 }
                body(.word(s[k..<k + 1]))
            } else if start < 0 {
                start = k
            }
        }
        if start >= 0 { body(.word(s[start..<s.count])) }
    }
}
