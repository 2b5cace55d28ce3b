/// Greedy longest-match-first WordPiece (BERT): a word is cut into the longest vocabulary
/// prefix, then the longest `##`-prefixed continuation, and so on; if some position has no
/// match, or the word has more than `maxInputCharsPerWord` Unicode scalars (Python `len`), the
/// whole word becomes `[UNK]`.
///
/// Lookups walk a byte trie of the vocabulary, so a word costs O(length × longest token)
/// rather than the reference's O(length²) hash lookups.
public struct WordPiece: Sendable {
    public static let continuationPrefix = "##"
    public let unkID: Int32
    public let maxInputCharsPerWord: Int
    private let trie: ByteTrie
    /// Node reached from the root by `##` (nil if no token starts with `##`).
    private let continuationRoot: Int32?

    public init(vocabulary: Vocabulary, unkID: Int32, maxInputCharsPerWord: Int = 100) {
        self.unkID = unkID
        self.maxInputCharsPerWord = maxInputCharsPerWord
        let t = ByteTrie(vocabulary.fileEntries())
        var node: Int32? = 0
        for b in Self.continuationPrefix.utf8 { node = node.flatMap { t.child($0, b) } }
        trie = t
        continuationRoot = node
    }

    /// Appends the ids of one word (already normalized, no whitespace) to `out`.
    public func tokenize(word: some Collection<Unicode.Scalar>, into out: inout [Int32]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(word.count * 2)
        for c in word { bytes.append(contentsOf: UTF8.encode(c)!) }
        tokenize(utf8: bytes, scalarCount: word.count, into: &out)
    }

    /// The ids of one word.
    public func tokenize(word: String) -> [Int32] {
        var out: [Int32] = []
        tokenize(word: word.unicodeScalars, into: &out)
        return out
    }

    func tokenize(utf8 word: [UInt8], scalarCount: Int, into out: inout [Int32]) {
        if word.isEmpty { return }
        if scalarCount > maxInputCharsPerWord {
            out.append(unkID)
            return
        }
        let mark = out.count
        var start = 0
        while start < word.count {
            var node: Int32 = start == 0 ? 0 : (continuationRoot ?? -1)
            var matchID: Int32 = -1
            var matchEnd = start
            var k = start
            while node >= 0 && k < word.count {
                guard let next = trie.child(node, word[k]) else { break }
                node = next
                k += 1
                let v = trie.value(node)
                if v >= 0 { matchID = v; matchEnd = k }
            }
            if matchID < 0 {
                out.removeSubrange(mark...)
                out.append(unkID)
                return
            }
            out.append(matchID)
            start = matchEnd
        }
    }
}

/// A compact byte trie: node 0 is the root; a node's children are a byte-sorted run of edges.
struct ByteTrie: Sendable {
    private var edgeStart: [Int32] = []  // per node, index of its first edge; count+1 entries
    private var edgeByte: [UInt8] = []
    private var edgeChild: [Int32] = []
    private var values: [Int32] = []     // per node, token id or -1

    init(_ entries: [([UInt8], Int32)]) {
        // Build a pointer trie with per-node edge lists, then flatten it breadth-first.
        var children: [[(UInt8, Int32)]] = [[]]
        var vals: [Int32] = [-1]
        for (key, id) in entries {
            var node = 0
            for b in key {
                if let e = children[node].first(where: { $0.0 == b }) {
                    node = Int(e.1)
                } else {
                    let n = children.count
                    children.append([])
                    vals.append(-1)
                    children[node].append((b, Int32(n)))
                    node = n
                }
            }
            vals[node] = id
        }
        // Breadth-first renumbering keeps each node's edges contiguous.
        var order: [Int] = [0]
        var newIndex = [Int32](repeating: -1, count: children.count)
        newIndex[0] = 0
        var head = 0
        while head < order.count {
            let old = order[head]
            head += 1
            children[old].sort { $0.0 < $1.0 }
            for (_, c) in children[old] {
                newIndex[Int(c)] = Int32(order.count)
                order.append(Int(c))
            }
        }
        edgeStart.reserveCapacity(order.count + 1)
        values.reserveCapacity(order.count)
        for old in order {
            edgeStart.append(Int32(edgeByte.count))
            values.append(vals[old])
            for (b, c) in children[old] {
                edgeByte.append(b)
                edgeChild.append(newIndex[Int(c)])
            }
        }
        edgeStart.append(Int32(edgeByte.count))
    }

    @inline(__always)
    func value(_ node: Int32) -> Int32 { values[Int(node)] }

    @inline(__always)
    func child(_ node: Int32, _ byte: UInt8) -> Int32? {
        var lo = Int(edgeStart[Int(node)])
        var hi = Int(edgeStart[Int(node) + 1])
        while lo < hi {
            let mid = (lo + hi) >> 1
            let b = edgeByte[mid]
            if b == byte { return edgeChild[mid] }
            if b < byte { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }
}
