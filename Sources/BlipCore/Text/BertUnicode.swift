/// Character classes and NFD of BERT's normalizer and pre-tokenizer, as the `tokenizers` (Rust)
/// backend of transformers v5 computes them. Its Unicode tables are old (categories ~Unicode
/// 8/9, decompositions ~12), so they are embedded (BertUnicodeTables.swift, generated) rather
/// than taken from Swift's newer Unicode data; only lowercasing uses the standard library
/// (same Unicode 16 mappings as the Rust standard library in the reference build).
enum BertUnicode {
    /// Rust `char::is_whitespace` (the White_Space property), which includes `\t \n \r`.
    @inline(__always)
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x80 { return v == 0x20 || (v >= 0x09 && v <= 0x0D) }
        switch v {
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// Removed by clean_text: U+0000, U+FFFD and the crate's Cc/Cf/Co, except `\t \n \r`.
    @inline(__always)
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v == 0x09 || v == 0x0A || v == 0x0D { return false }
        if v < 0x20 || v == 0x7F { return true }
        if v < 0xA0 { return v >= 0x80 }
        return inRanges(v, controlRanges)
    }

    /// BERT's "Chinese character" ranges as `tokenizers` has them. Note 0x2B920 where the
    /// original BERT (and transformers' Python tokenizer) has 0x2B820: U+2B820–U+2B91F are not
    /// padded by the Rust implementation.
    @inline(__always)
    static func isChineseChar(_ v: UInt32) -> Bool {
        (v >= 0x4E00 && v <= 0x9FFF) || (v >= 0x3400 && v <= 0x4DBF) || (v >= 0x20000 && v <= 0x2A6DF)
            || (v >= 0x2A700 && v <= 0x2B73F) || (v >= 0x2B740 && v <= 0x2B81F)
            || (v >= 0x2B920 && v <= 0x2CEAF) || (v >= 0xF900 && v <= 0xFAFF)
            || (v >= 0x2F800 && v <= 0x2FA1F)
    }

    /// ASCII punctuation (33–47, 58–64, 91–96, 123–126) or the crate's category P*.
    @inline(__always)
    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x80 {
            return (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126)
        }
        return inRanges(v, punctuationRanges)
    }

    /// The crate's category Mn (dropped after NFD when stripping accents).
    @inline(__always)
    static func isNonspacingMark(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if v < 0x300 { return false }
        return inRanges(v, nonspacingMarkRanges)
    }

    /// Appends the full lowercase mapping of one scalar (no context-dependent rules, so a
    /// final capital sigma becomes σ, as in Rust's per-character `to_lowercase`).
    static func appendLowercase(_ c: Unicode.Scalar, to out: inout [Unicode.Scalar]) {
        let p = c.properties
        if !p.changesWhenLowercased {
            out.append(c)
            return
        }
        out.append(contentsOf: p.lowercaseMapping.unicodeScalars)
    }

    // MARK: - NFD

    /// Canonical combining class (0 for starters and for marks the crate does not know).
    static func combiningClass(_ v: UInt32) -> UInt8 {
        if v < 0x300 { return 0 }
        let t = combiningClassRuns
        var lo = 0
        var hi = t.count / 3
        while lo < hi {
            let mid = (lo + hi) >> 1
            if v < t[3 * mid] { hi = mid } else if v > t[3 * mid + 1] { lo = mid + 1 } else { return UInt8(t[3 * mid + 2]) }
        }
        return 0
    }

    /// Canonical decomposition (NFD) of `input`, with Hangul syllables decomposed
    /// algorithmically and combining marks put in canonical order. Linear-logarithmic in the
    /// input, whatever the input.
    static func nfd(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(input.count + input.count / 4)
        var needsOrdering = false
        for c in input {
            let v = c.value
            if v < 0xC0 {
                out.append(c)
                continue
            }
            if v >= 0xAC00 && v <= 0xD7A3 {
                let s = v - 0xAC00
                out.append(Unicode.Scalar(0x1100 + s / 588)!)
                out.append(Unicode.Scalar(0x1161 + (s % 588) / 28)!)
                if s % 28 != 0 { out.append(Unicode.Scalar(0x11A7 + s % 28)!) }
                continue
            }
            if let parts = Decompositions.shared.lookup(v) {
                for p in parts { out.append(Unicode.Scalar(p)!) }
            } else {
                out.append(c)
            }
            needsOrdering = true
        }
        if needsOrdering { canonicalOrder(&out) }
        return out
    }

    /// Stable-sorts every run of nonzero-class marks by class.
    private static func canonicalOrder(_ s: inout [Unicode.Scalar]) {
        var i = 0
        while i < s.count {
            guard combiningClass(s[i].value) != 0 else { i += 1; continue }
            var j = i + 1
            while j < s.count && combiningClass(s[j].value) != 0 { j += 1 }
            if j - i > 1 {
                var keyed = (i..<j).map { (combiningClass(s[$0].value), $0, s[$0]) }
                keyed.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
                for (k, e) in keyed.enumerated() { s[i + k] = e.2 }
            }
            i = j
        }
    }

    @inline(__always)
    static func inRanges(_ v: UInt32, _ t: [UInt32]) -> Bool {
        var lo = 0
        var hi = t.count / 2
        while lo < hi {
            let mid = (lo + hi) >> 1
            if v < t[2 * mid] { hi = mid } else if v > t[2 * mid + 1] { lo = mid + 1 } else { return true }
        }
        return false
    }
}

/// Sorted index over `BertUnicode.decompositionData`.
final class Decompositions: Sendable {
    static let shared = Decompositions()
    private let keys: [UInt32]
    private let starts: [Int]

    private init() {
        let d = BertUnicode.decompositionData
        var keys: [UInt32] = []
        var starts: [Int] = []
        var i = 0
        while i + 1 < d.count {
            keys.append(d[i])
            starts.append(i + 2)
            i += 2 + Int(d[i + 1])
        }
        self.keys = keys
        self.starts = starts
    }

    func lookup(_ v: UInt32) -> ArraySlice<UInt32>? {
        var lo = 0
        var hi = keys.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if keys[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        guard lo < keys.count, keys[lo] == v else { return nil }
        let start = starts[lo]
        let d = BertUnicode.decompositionData
        return d[start..<start + Int(d[start - 1])]
    }
}
