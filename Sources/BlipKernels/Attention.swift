import CBlipSupport

/// Scaled dot-product attention for one sequence, all heads, with an optional causal limit
/// (inputs are never padded, so no padding mask is needed). Q, K, V are row-major with
/// arbitrary row strides (so a fused qkv projection can be read in place); heads are contiguous blocks of `headDim` columns.
/// Keys and values may instead hold each head as a block of its own (`kvHeadStride`, the
/// offset from one head's first element to the next's: `keys · headDim` for [heads, keys,
/// headDim]), which is how `CrossKeysValues` stores them so that a decode step reads each
/// head's keys as one stream; nil means column blocks (`headDim`).
///
/// out[i, h·d:(h+1)·d] = softmax(Q_h[i] · K_hᵀ · scale) · V_h
public struct AttentionShape {
    public var queries: Int
    public var keys: Int
    public var heads: Int
    public var headDim: Int
    public init(queries: Int, keys: Int, heads: Int, headDim: Int) {
        self.queries = queries; self.keys = keys; self.heads = heads; self.headDim = headDim
    }
    /// Floats of scratch `attention` needs.
    public var scratchCount: Int { queries * keys }
}

/// `causalOffset`: when not nil, query i may attend to keys 0...(causalOffset + i) (decoder
/// self-attention with `causalOffset` cached positions); other keys get exactly zero weight.
public func attention(shape s: AttentionShape,
                      q: UnsafePointer<Float>, qStride: Int,
                      k: UnsafePointer<Float>, kStride: Int,
                      v: UnsafePointer<Float>, vStride: Int, kvHeadStride: Int? = nil,
                      scale: Float, causalOffset: Int? = nil,
                      scores: UnsafeMutablePointer<Float>,
                      out: UnsafeMutablePointer<Float>, outStride: Int) {
    if causalOffset == nil, Float32Kernels.packedGemmActive {
        blockedAttention(shape: s, q: q, qStride: qStride, k: k, kStride: kStride, v: v, vStride: vStride,
                         kvHeadStride: kvHeadStride, scale: scale, out: out, outStride: outStride)
    } else {
        blasAttention(shape: s, q: q, qStride: qStride, k: k, kStride: kStride, v: v, vStride: vStride,
                      kvHeadStride: kvHeadStride, scale: scale, causalOffset: causalOffset, scores: scores,
                      out: out, outStride: outStride)
    }
}

/// `attention` on OpenBLAS: per head, the whole score matrix, then softmax, then · V.
func blasAttention(shape s: AttentionShape, q: UnsafePointer<Float>, qStride: Int,
                   k: UnsafePointer<Float>, kStride: Int, v: UnsafePointer<Float>, vStride: Int,
                   kvHeadStride: Int? = nil, scale: Float, causalOffset: Int?, scores: UnsafeMutablePointer<Float>,
                   out: UnsafeMutablePointer<Float>, outStride: Int) {
    let headStep = kvHeadStride ?? s.headDim
    for h in 0..<s.heads {
        let col = h * s.headDim
        Blas.sgemm(transB: true, m: s.queries, n: s.keys, k: s.headDim, alpha: scale,
                   a: q + col, lda: qStride, b: k + h * headStep, ldb: kStride, c: scores, ldc: s.keys)
        Parallel.forEachChunk(s.queries, minChunk: 32) { range in
            for i in range {
                let row = scores + i * s.keys
                if let offset = causalOffset {
                    let valid = min(s.keys, offset + i + 1)
                    softmaxRow(row, count: valid)
                    for j in valid..<s.keys { row[j] = 0 }
                } else {
                    softmaxRow(row, count: s.keys)
                }
            }
        }
        Blas.sgemm(m: s.queries, n: s.headDim, k: s.keys,
                   a: scores, lda: s.keys, b: v + h * headStep, ldb: vStride, c: out + col, ldc: outStride)
    }
}

/// The same attention by the C kernels (CBlipSupport/f32_kernels.c for AVX-512,
/// f32_kernels_avx2.c for AVX2): per head, blocks of query rows whose scores stay in cache, with
/// keys and values packed once per head; threads split the heads (one dispatch per call instead
/// of three per head). Each head is one thread's work, so results are the same bits for any
/// thread count.
func blockedAttention(shape s: AttentionShape, q: UnsafePointer<Float>, qStride: Int,
                      k: UnsafePointer<Float>, kStride: Int, v: UnsafePointer<Float>, vStride: Int,
                      kvHeadStride: Int? = nil, scale: Float, out: UnsafeMutablePointer<Float>, outStride: Int,
                      path: Float32Kernels.Path = Float32Kernels.active) {
    let kernel = path == .avx512 ? bs_attention_avx512 : bs_attention_avx2
    let workCount = bs_attention_work_floats(Int32(s.keys), Int32(s.headDim))
    let headStep = kvHeadStride ?? s.headDim
    let perHead = 2 * s.queries * s.keys * s.headDim
    Parallel.forEachPiece(s.heads, minChunk: max(1, Blas.parallelMinimumWork / max(1, perHead))) { heads in
        let work = UnsafeMutablePointer<Float>.allocate(capacity: workCount)
        defer { work.deallocate() }
        _ = kernel(Int32(s.queries), Int32(s.keys), Int32(s.headDim), q, qStride, k, kStride, v, vStride, headStep,
                   scale, out, outStride, Int32(heads.lowerBound), Int32(heads.upperBound), work)
    }
}

/// `attention` (no causal limit) with both products in int8 (CBlipSupport/q8_attention.c): the
/// int8 model's attention. On VNNI CPUs (the VNNI GEMM, 1.9-2.5x faster than the float32 kernel
/// on a Xeon: BENCHMARKS.md, session 16) query and key rows are quantized per row, V per column,
/// the probabilities to 255 levels of their row's maximum; on AVX2 CPUs (the 7-bit
/// `vpmaddubsw` GEMM) query rows are 7-bit levels with a zero point and the probabilities have
/// 127 levels. The result differs from `attention` by int8 rounding (relative RMS 1e-2 to 6e-2
/// on random inputs, more for sharper softmax rows; see the tests). Threads split the heads, as
/// in `blockedAttention`, so the bits do not depend on the thread count. Returns false, having
/// done nothing, where no such kernel runs (the portable int8 kernel, or a head width that is
/// not a multiple of 16 up to 256): the caller then runs `attention`.
public func int8Attention(shape s: AttentionShape, q: UnsafePointer<Float>, qStride: Int,
                          k: UnsafePointer<Float>, kStride: Int, v: UnsafePointer<Float>, vStride: Int,
                          scale: Float, out: UnsafeMutablePointer<Float>, outStride: Int) -> Bool {
    guard Int8Kernel.active != .portable, s.headDim % 16 == 0, s.headDim <= 256, s.keys > 0 else { return false }
    let kernel = Int8Kernel.active.unsignedActivations ? bs_q8_attention_avx512vnni : bs_q8_attention_avx2
    let workBytes = bs_q8_attention_work_bytes(Int32(s.keys), Int32(s.headDim))
    let perHead = 2 * s.queries * s.keys * s.headDim
    Parallel.forEachPiece(s.heads, minChunk: max(1, Blas.parallelMinimumWork / max(1, perHead))) { heads in
        let work = UnsafeMutableRawPointer.allocate(byteCount: workBytes, alignment: 64)
        defer { work.deallocate() }
        _ = kernel(Int32(s.queries), Int32(s.keys), Int32(s.headDim), q, qStride, k, kStride, v, vStride, scale, out,
                   outStride, Int32(heads.lowerBound), Int32(heads.upperBound), work)
    }
    return true
}

/// Attention of a few query rows against `keys` key/value rows (decode steps, and the
/// cross-attention of all beams to shared image keys): per head, softmax(q·Kᵀ·scale)·V.
/// Rows have strides; heads are `headDim`-wide column blocks of q and out, and of k and v
/// unless `kvHeadStride` says otherwise (see `attention`). `scores` holds
/// heads × rows × keys floats. Heads run in parallel when the work is worth it.
///
/// On the C paths `bs_few_query_attention_avx512` or `_avx2` does the same 16 or 8 lanes wide
/// (this Swift code is compiled for baseline x86-64, SSE2: the cross-attention of an int8
/// caption's decode steps over 577 image tokens was 25% of the caption in it).
/// Too small for BLAS to pay off (one query row); written so the compiler keeps partial sums
/// in registers: four keys' dot products at once, and the output accumulated 32 columns at a
/// time across all keys (the loop this replaced re-read and re-wrote the output for every key
/// and was 17% of a long int8 decode).
public func fewQueryAttention(rows: Int, q: UnsafePointer<Float>, qStride: Int,
                              k: UnsafePointer<Float>, v: UnsafePointer<Float>, kvStride: Int, kvHeadStride: Int? = nil,
                              keys: Int, heads: Int, headDim: Int, scale: Float,
                              scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, outStride: Int) {
    fewQueryAttention(rows: rows, q: q, qStride: qStride, k: k, v: v, kvStride: kvStride, kvHeadStride: kvHeadStride,
                      keys: keys, heads: heads, headDim: headDim, scale: scale, scores: scores, out: out,
                      outStride: outStride, path: Float32Kernels.active)
}

/// `fewQueryAttention` on a C kernel or on the Swift code (`.openblas`; tests compare them).
func fewQueryAttention(rows: Int, q: UnsafePointer<Float>, qStride: Int,
                       k: UnsafePointer<Float>, v: UnsafePointer<Float>, kvStride: Int, kvHeadStride: Int? = nil,
                       keys: Int, heads: Int, headDim: Int, scale: Float,
                       scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, outStride: Int,
                       path: Float32Kernels.Path) {
    let headStep = kvHeadStride ?? headDim
    let body: (Range<Int>) -> Void = { range in
        if path != .openblas {
            let kernel = path == .avx512 ? bs_few_query_attention_avx512 : bs_few_query_attention_avx2
            _ = kernel(Int32(rows), q, qStride, k, v, kvStride, headStep, Int32(keys), Int32(headDim), scale, scores, out,
                       outStride, Int32(range.lowerBound), Int32(range.upperBound))
            return
        }
        for h in range {
            let col = h * headDim
            for r in 0..<rows {
                let sc = scores + (h * rows + r) * keys
                queryKeyScores(q + r * qStride + col, k + h * headStep, kvStride: kvStride, keys: keys, headDim: headDim,
                               scale: scale, into: sc)
                softmaxRow(sc, count: keys)
                weightedValueSum(sc, v + h * headStep, kvStride: kvStride, keys: keys, headDim: headDim, into: out + r * outStride + col)
            }
        }
    }
    splitHeads(heads, work: rows * keys * heads * headDim, body)
}

/// `fewQueryAttention` over keys and values stored as int8 levels with one scale per head and
/// key (an int8 model's image keys and values: `keyScales[h · keys + j]` scales key j of head h,
/// likewise for values; see `bs_quantize_rows_i8_avx512`), on the AVX-512 or AVX2 C kernel;
/// `headDim` a multiple of 16. Returns false, having done nothing, where no C kernel runs.
public func fewQueryAttention(rows: Int, q: UnsafePointer<Float>, qStride: Int,
                              int8Keys k: UnsafePointer<Int8>, keyScales: UnsafePointer<Float>,
                              int8Values v: UnsafePointer<Int8>, valueScales: UnsafePointer<Float>,
                              kvStride: Int, kvHeadStride: Int, keys: Int, heads: Int, headDim: Int, scale: Float,
                              scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>,
                              outStride: Int) -> Bool {
    guard Float32Kernels.packedGemmActive, headDim % 16 == 0 else { return false }
    let kernel = Float32Kernels.avx512Active ? bs_few_query_attention_i8_avx512 : bs_few_query_attention_i8_avx2
    splitHeads(heads, work: rows * keys * heads * headDim) { range in
        _ = kernel(Int32(rows), q, qStride, k, keyScales, v, valueScales, kvStride, kvHeadStride, Int32(keys),
                   Int32(headDim), scale, scores, out, outStride, Int32(range.lowerBound), Int32(range.upperBound))
    }
    return true
}

/// Heads split over the call's threads when the work is worth a dispatch.
private func splitHeads(_ heads: Int, work: Int, _ body: (Range<Int>) -> Void) {
    if work >= 1 << 16 { Parallel.forEachChunk(heads, minChunk: 1, body) } else { body(0..<heads) }
}

/// sc[j] = (q · k_j) · scale for `keys` rows k_j = k + j·kvStride.
@inline(__always)
private func queryKeyScores(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, kvStride: Int, keys: Int,
                            headDim: Int, scale: Float, into sc: UnsafeMutablePointer<Float>) {
    let vectors = headDim / 8
    var j = 0
    while j + 4 <= keys {
        let k0 = k + j * kvStride, k1 = k0 + kvStride, k2 = k1 + kvStride, k3 = k2 + kvStride
        var a0 = FloatVector(repeating: 0), a1 = a0, a2 = a0, a3 = a0
        for c in 0..<vectors {
            let x = load(q + 8 * c)
            a0 += x * load(k0 + 8 * c); a1 += x * load(k1 + 8 * c)
            a2 += x * load(k2 + 8 * c); a3 += x * load(k3 + 8 * c)
        }
        var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
        for i in (8 * vectors)..<headDim {
            s0 += q[i] * k0[i]; s1 += q[i] * k1[i]; s2 += q[i] * k2[i]; s3 += q[i] * k3[i]
        }
        sc[j] = s0 * scale; sc[j + 1] = s1 * scale; sc[j + 2] = s2 * scale; sc[j + 3] = s3 * scale
        j += 4
    }
    while j < keys {
        sc[j] = dot(q, k + j * kvStride, count: headDim) * scale
        j += 1
    }
}

/// o = Σ_j p[j] · v_j over `keys` rows v_j = v + j·kvStride (o is overwritten).
@inline(__always)
private func weightedValueSum(_ p: UnsafePointer<Float>, _ v: UnsafePointer<Float>, kvStride: Int, keys: Int,
                              headDim: Int, into o: UnsafeMutablePointer<Float>) {
    var c = 0
    while c + 32 <= headDim {
        var o0 = FloatVector(repeating: 0), o1 = o0, o2 = o0, o3 = o0
        for j in 0..<keys {
            let w = FloatVector(repeating: p[j]), row = v + j * kvStride + c
            o0 += w * load(row); o1 += w * load(row + 8); o2 += w * load(row + 16); o3 += w * load(row + 24)
        }
        store(o0, o + c); store(o1, o + c + 8); store(o2, o + c + 16); store(o3, o + c + 24)
        c += 32
    }
    while c + 8 <= headDim {
        var acc = FloatVector(repeating: 0)
        for j in 0..<keys { acc += FloatVector(repeating: p[j]) * load(v + j * kvStride + c) }
        store(acc, o + c)
        c += 8
    }
    while c < headDim {
        var s: Float = 0
        for j in 0..<keys { s += p[j] * v[j * kvStride + c] }
        o[c] = s
        c += 1
    }
}

@inline(__always) private func load(_ p: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self)
}
@inline(__always) private func store(_ x: FloatVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: x, as: FloatVector.self)
}
