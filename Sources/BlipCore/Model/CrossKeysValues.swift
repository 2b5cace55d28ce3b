import BlipKernels
import CBlipSupport

/// What a text transformer's cross-attention reads: one image's (or question's) keys and
/// values shared by every row (the beams of one sequence), or one set per row (several
/// images decoded together).
enum CrossAttentionSource {
    case shared(CrossKeysValues)
    case perRow([CrossKeysValues])
}

/// Cross-attention keys and values of every layer for one set of encoder states, computed
/// once and shared by all beams. Each layer's are stored head by head, [heads, tokens,
/// headDim]: a decode step reads every head's keys and values as one contiguous stream, where
/// the projection's [tokens, width] layout would have it gather 577 slices 3 KB apart per head
/// (twice as slow on Zen 4, and these reads are a fifth of an int8 decode step).
///
/// An int8 model's are stored as int8 levels with one scale per head and token where the C
/// kernels run (AVX-512 or AVX2: `compact`): a decode step reads 10.6 MB of them for BLIP-base instead of 42 in
/// float32 (21 in IEEE half, which sessions 17-20 stored: 7% of the step's bytes more). A scale
/// per 64 values keeps their rounding (0.4% of the largest value of each key) of the order of
/// the int8 rounding already in the projections that made them. Float32 models keep float32, so
/// their outputs stay those of transformers.
public final class CrossKeysValues {
    private let floatKeys: [ScratchBuffer]
    private let floatValues: [ScratchBuffer]
    private let levelKeys: [UnsafeMutablePointer<Int8>]
    private let levelValues: [UnsafeMutablePointer<Int8>]
    private let keyScales: [ScratchBuffer]     // [heads, tokens] per layer
    private let valueScales: [ScratchBuffer]
    public let tokens: Int
    let width: Int
    let headDim: Int
    var compact: Bool { !levelKeys.isEmpty }
    /// Row stride within a head, and the offset from one head's block to the next.
    var rowStride: Int { headDim }
    var headStride: Int { tokens * headDim }

    /// Whether keys and values for these shapes can be stored as int8 on this CPU.
    static func compactSupported(headDim: Int) -> Bool { Float32Kernels.packedGemmActive && headDim % 16 == 0 }

    init(layers: Int, tokens: Int, width: Int, headDim: Int, compact: Bool) {
        self.tokens = tokens
        self.width = width
        self.headDim = headDim
        let count = max(1, tokens * width), rows = max(1, tokens * width / max(1, headDim))
        if compact {
            levelKeys = (0..<layers).map { _ in .allocate(capacity: count) }
            levelValues = (0..<layers).map { _ in .allocate(capacity: count) }
            keyScales = (0..<layers).map { _ in ScratchBuffer(count: rows) }
            valueScales = (0..<layers).map { _ in ScratchBuffer(count: rows) }
            floatKeys = []
            floatValues = []
        } else {
            floatKeys = (0..<layers).map { _ in ScratchBuffer(count: count) }
            floatValues = (0..<layers).map { _ in ScratchBuffer(count: count) }
            levelKeys = []
            levelValues = []
            keyScales = []
            valueScales = []
        }
    }

    deinit {
        for p in levelKeys + levelValues { p.deallocate() }
    }

    /// Stores layer `layer`'s projected keys and values ([tokens, width] each, heads as column
    /// blocks; `staging` is tokens × width floats of scratch for the int8 rounding).
    func store(layer: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
               staging: UnsafeMutablePointer<Float>) {
        for (rows, isKeys) in [(keys, true), (values, false)] {
            if compact {
                Self.storeByHead(rows, tokens: tokens, width: width, headDim: headDim, into: staging)
                let quantize = Float32Kernels.avx512Active ? bs_quantize_rows_i8_avx512 : bs_quantize_rows_i8_avx2
                _ = quantize(staging, tokens * width / headDim, Int32(headDim), (isKeys ? levelKeys : levelValues)[layer],
                             (isKeys ? keyScales : valueScales)[layer].pointer)
            } else {
                Self.storeByHead(rows, tokens: tokens, width: width, headDim: headDim,
                                 into: (isKeys ? floatKeys : floatValues)[layer].pointer)
            }
        }
    }

    /// Stores `rows` ([tokens, width], heads as column blocks) into `target` head by head.
    static func storeByHead(_ rows: UnsafePointer<Float>, tokens: Int, width: Int, headDim: Int,
                            into target: UnsafeMutablePointer<Float>) {
        for h in 0..<(width / headDim) {
            let block = target + h * tokens * headDim
            for t in 0..<tokens {
                (block + t * headDim).update(from: rows + t * width + h * headDim, count: headDim)
            }
        }
    }

    /// out = attention of `rows` query rows (stride `qStride`; out's `outStride`) over layer
    /// `layer`'s keys and values: per query for a few rows (decode steps), as GEMMs for many.
    /// `scores` holds max(heads × min(rows, fewRows), rows) × tokens floats (`TextScratch`).
    /// Many rows over int8 storage convert the layer to float32 first (prompts, questions and
    /// texts of more than 8 tokens: once per call, not per decode step).
    func attend(layer: Int, rows: Int, q: UnsafePointer<Float>, qStride: Int, heads: Int, scale: Float,
                scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, outStride: Int) {
        func gemmAttention(_ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>) {
            attention(shape: AttentionShape(queries: rows, keys: tokens, heads: heads, headDim: headDim),
                      q: q, qStride: qStride, k: k, kStride: rowStride, v: v, vStride: rowStride,
                      kvHeadStride: headStride, scale: scale, scores: scores, out: out, outStride: outStride)
        }
        if !compact {
            if rows <= TextScratch.fewRows {
                fewQueryAttention(rows: rows, q: q, qStride: qStride, k: floatKeys[layer].pointer,
                                  v: floatValues[layer].pointer, kvStride: rowStride, kvHeadStride: headStride,
                                  keys: tokens, heads: heads, headDim: headDim, scale: scale, scores: scores,
                                  out: out, outStride: outStride)
            } else {
                gemmAttention(floatKeys[layer].pointer, floatValues[layer].pointer)
            }
            return
        }
        // int8 storage exists only where its kernels run (`compactSupported`)
        if rows <= TextScratch.fewRows,
           fewQueryAttention(rows: rows, q: q, qStride: qStride, int8Keys: levelKeys[layer],
                             keyScales: keyScales[layer].pointer, int8Values: levelValues[layer],
                             valueScales: valueScales[layer].pointer, kvStride: rowStride, kvHeadStride: headStride,
                             keys: tokens, heads: heads, headDim: headDim, scale: scale, scores: scores, out: out,
                             outStride: outStride) {
            return
        }
        let n = tokens * width, vectors = n / headDim
        let staging = ScratchBuffer(count: 2 * n)
        let dequantize = Float32Kernels.avx512Active ? bs_dequantize_rows_i8_avx512 : bs_dequantize_rows_i8_avx2
        _ = dequantize(levelKeys[layer], keyScales[layer].pointer, vectors, Int32(headDim), staging.pointer)
        _ = dequantize(levelValues[layer], valueScales[layer].pointer, vectors, Int32(headDim), staging.pointer + n)
        gemmAttention(staging.pointer, staging.pointer + n)
    }
}
