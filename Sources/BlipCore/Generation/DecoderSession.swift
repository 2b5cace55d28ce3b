/// Per-call decoding state for `beams` sequences: the self-attention KV cache, the
/// cross-attention keys/values (computed once: shared by all beams of one image, or one set
/// per row when several images decode together), the scratch memory and the logits rows.
/// Everything is allocated up front; `step` allocates nothing.
final class DecoderSession {
    let decoder: TextTransformer
    let head: LMHead
    let beams: Int
    let capacity: Int
    let cache: SelfAttentionCache
    let cross: CrossAttentionSource
    let scratch: TextScratch
    private let headTemp: ScratchBuffer
    private let headTemp2: ScratchBuffer
    /// [beams, vocab] logits of the last forward.
    let logits: ScratchBuffer
    /// Positions cached per beam.
    private(set) var length = 0

    /// `crossStates` [crossTokens, decoder.crossWidth]; `capacity` = the maximum total length.
    convenience init(decoder: TextTransformer, head: LMHead, beams: Int, capacity: Int, promptLength: Int,
                     crossStates: UnsafePointer<Float>, crossTokens: Int) {
        self.init(decoder: decoder, head: head, beams: beams, capacity: capacity, promptLength: promptLength,
                  cross: .shared(decoder.crossKeysValues(states: crossStates, tokens: crossTokens, decoding: true)))
    }

    /// With cross-attention keys/values already computed (`.perRow`: one per beam).
    init(decoder: TextTransformer, head: LMHead, beams: Int, capacity: Int, promptLength: Int,
         cross: CrossAttentionSource) {
        self.decoder = decoder
        self.head = head
        self.beams = beams
        self.capacity = capacity
        let d = decoder.width
        cache = SelfAttentionCache(layers: decoder.config.numHiddenLayers, beams: beams, capacity: capacity, width: d)
        self.cross = cross
        let crossTokens: Int
        switch cross {
        case .shared(let kv): crossTokens = kv.tokens
        case .perRow(let kvs):
            precondition(kvs.count == beams, "one set of cross-attention keys/values per beam")
            crossTokens = kvs.map(\.tokens).max() ?? 0
        }
        let rows = max(beams, promptLength)
        scratch = TextScratch(config: decoder.config, rows: rows, maxKeys: max(capacity, crossTokens))
        headTemp = ScratchBuffer(count: beams * d)
        headTemp2 = ScratchBuffer(count: beams * d)
        logits = ScratchBuffer(count: beams * head.vocabSize)
    }

    var vocabSize: Int { head.vocabSize }
    func logitsRow(_ b: Int) -> UnsafeMutablePointer<Float> { logits.pointer + b * head.vocabSize }

    /// Runs the prompt once (as one sequence), copies its cache to every beam, and leaves the
    /// next-token logits in every beam's row.
    func prefill(_ prompt: UnsafeBufferPointer<Int32>) {
        let n = prompt.count, d = decoder.width
        decoder.forward(ids: prompt.baseAddress!, beams: 1, tokens: n, past: 0, causal: true,
                        cache: cache, cross: cross, scratch: scratch)
        head(scratch.hidden + (n - 1) * d, rows: 1, inStride: d, temp: headTemp.pointer, temp2: headTemp2.pointer,
             logits: logits.pointer)
        length = n
        if beams > 1 {
            cache.broadcast(length: n)
            for b in 1..<beams { logitsRow(b).update(from: logits.pointer, count: head.vocabSize) }
        }
    }

    /// Takes over a one-beam session's prefilled sequence and next-token logits as beam `b`
    /// (a sequence prefilled on its own, exactly as a one-image call does, joins a batch).
    func adopt(_ single: DecoderSession, asBeam b: Int) {
        precondition(single.beams == 1 && (length == 0 || length == single.length))
        cache.copy(into: b, from: single.cache, length: single.length)
        logitsRow(b).update(from: single.logits.pointer, count: head.vocabSize)
        length = single.length
    }

    /// Appends one token per beam and computes every beam's next-token logits.
    func step(_ tokens: UnsafePointer<Int32>) {
        decoder.forward(ids: tokens, beams: beams, tokens: 1, past: length, causal: true,
                        cache: cache, cross: cross, scratch: scratch)
        head(scratch.hidden, rows: beams, inStride: decoder.width, temp: headTemp.pointer, temp2: headTemp2.pointer,
             logits: logits.pointer)
        length += 1
    }

    /// Beam b now continues the sequence of old beam `order[b]`.
    func reorder(_ order: UnsafePointer<Int>) { cache.reorder(order, length: length) }
}
