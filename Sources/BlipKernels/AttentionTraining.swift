/// Multi-head scaled dot-product attention over a batch of sequences, for training: the
/// forward saves the probabilities, the backward turns dOut into dQ, dK, dV.
///
/// Layout: row i of sequence b is at `q + (b·queries + i)·qStride` (keys and values: `keys`
/// rows per sequence); head h is the column block [h·headDim, (h+1)·headDim). The same holds
/// for out, dOut, dq, dk, dv. Strides let a fused [rows × 3D] qkv buffer (or its gradient)
/// be used in place: q = base, k = base + D, v = base + 2D, all with stride 3D.
public struct BatchedAttentionShape {
    public var batch: Int
    public var queries: Int
    public var keys: Int
    public var heads: Int
    public var headDim: Int
    public init(batch: Int, queries: Int, keys: Int, heads: Int, headDim: Int) {
        self.batch = batch; self.queries = queries; self.keys = keys; self.heads = heads; self.headDim = headDim
    }
    /// Floats in the saved probabilities, [batch, heads, queries, keys].
    public var probabilityCount: Int { batch * heads * queries * keys }

    fileprivate var isEmpty: Bool { batch <= 0 || queries <= 0 || heads <= 0 || headDim <= 0 }
    /// Offset of the [queries × keys] probability block of (sequence b, head h).
    fileprivate func block(_ b: Int, _ h: Int) -> Int { (b * heads + h) * queries * keys }
}

/// Dropout on attention probabilities (nn.Dropout after the softmax, train mode): element
/// (sequence b, head h, query i, key j) is kept with probability 1 − p and scaled by 1/(1 − p).
/// The keep decision is a hash of (seed, block, i, j), so the backward regenerates the mask
/// instead of storing a second probabilities-sized tensor, and results do not depend on threads.
public struct AttentionDropout: Sendable {
    public let probability: Float
    public let seed: UInt64
    public init(probability: Float, seed: UInt64) { self.probability = probability; self.seed = seed }

    /// The row's multipliers, mask / (1 − p): 0 for a dropped element, 1/(1 − p) for a kept one.
    @inline(__always)
    func factors(block: Int, row i: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        let keep = 1 / (1 - probability)
        let threshold = UInt64(Double(probability) * 0x1p64.nextDown)
        var key = seed ^ (UInt64(truncatingIfNeeded: block) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(truncatingIfNeeded: i) << 32)
        for j in 0..<count {
            key &+= 0x9E37_79B9_7F4A_7C15
            var z = key
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            out[j] = z < threshold ? 0 : keep
        }
    }

    /// `block`'s [rows × cols] probabilities with dropout applied, into `out`.
    func apply(_ p: UnsafePointer<Float>, block: Int, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            let o = out + i * cols, row = p + i * cols
            factors(block: block, row: i, count: cols, into: o)
            for j in 0..<cols { o[j] *= row[j] }
        }
    }
}

/// out = softmax(scale · Q·Kᵀ + mask) · V per (sequence, head); `probs` receives the softmax.
///
/// - `causal`: query i attends keys j ≤ i (meant for self-attention, queries == keys).
/// - `keyMask`: [batch × keys], 0 = padding (never attended), anything else = attend; nil =
///   all keys valid.
/// Masked keys get probability exactly 0 (as transformers' additive finfo.min mask gives in
/// fp32). A query with no allowed key gets all-zero probabilities and a zero output.
/// Writes only the head columns of `out`. With `dropout`, out = dropout(softmax(...)) · V and
/// `probs` still holds the softmax before dropout (what the backward needs).
public func attentionForwardTraining(shape s: BatchedAttentionShape,
                                     q: UnsafePointer<Float>, qStride: Int,
                                     k: UnsafePointer<Float>, kStride: Int,
                                     v: UnsafePointer<Float>, vStride: Int,
                                     scale: Float, causal: Bool, keyMask: UnsafePointer<Float>?,
                                     dropout: AttentionDropout? = nil,
                                     probs: UnsafeMutablePointer<Float>,
                                     out: UnsafeMutablePointer<Float>, outStride: Int) {
    guard !s.isEmpty else { return }
    guard s.keys > 0 else {
        zeroHeadColumns(out, rows: s.batch * s.queries, stride: outStride, width: s.heads * s.headDim)
        return
    }
    // One (sequence, head) block per task, the blocks spread over the threads, each GEMM on its
    // caller's thread: a 577 × 577 × 64 GEMM is too small for OpenBLAS to split well (measured:
    // 47 GFLOP/s for the whole attention with BLAS threads vs the GEMMs' 199 peak), and a block's
    // scores stay in cache between the two GEMMs and the softmax.
    // Dropout needs one block of scratch per thread for the dropped probabilities.
    let dropped = dropout.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: s.queries * s.keys * max(Parallel.maxThreads, 1)) }
    defer { dropped?.deallocate() }
    forEachBlock(s) { b, h, thread in
        let col = h * s.headDim
        var p = UnsafePointer(probs + s.block(b, h))
        let scores = probs + s.block(b, h)
        Blas.sgemm(transB: true, m: s.queries, n: s.keys, k: s.headDim, alpha: scale,
                   a: q + b * s.queries * qStride + col, lda: qStride,
                   b: k + b * s.keys * kStride + col, ldb: kStride, c: scores, ldc: s.keys)
        for i in 0..<s.queries {
            maskedSoftmaxRow(scores + i * s.keys, keys: s.keys, limit: causal ? min(i + 1, s.keys) : s.keys,
                             keyMask: keyMask.map { $0 + b * s.keys })
        }
        if let dropout, let dropped {
            let scratch = dropped + thread * s.queries * s.keys
            dropout.apply(p, block: b * s.heads + h, rows: s.queries, cols: s.keys, into: scratch)
            p = UnsafePointer(scratch)
        }
        Blas.sgemm(m: s.queries, n: s.headDim, k: s.keys, a: p, lda: s.keys,
                   b: v + b * s.keys * vStride + col, ldb: vStride,
                   c: out + b * s.queries * outStride + col, ldc: outStride)
    }
}

/// Floats of scratch `attentionBackward` needs: one queries × keys block per thread (two with
/// dropout).
public func attentionBackwardScratchCount(_ s: BatchedAttentionShape, dropout: Bool = false) -> Int {
    max(s.queries * s.keys, 0) * max(Parallel.maxThreads, 1) * (dropout ? 2 : 1)
}

/// Backward of `attentionForwardTraining`, from its saved `probs`. Per (sequence, head), with
/// P the probabilities and dO the output gradient:
///   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = scale·dS·K,  dK = scale·dSᵀ·Q.
/// dq, dk, dv are overwritten (only their head columns), so they may be the three column
/// blocks of one fused qkv gradient buffer; they must not overlap q, k, v, dOut or probs.
/// Masked keys had P = 0, so they receive no gradient. `scratch`: attentionBackwardScratchCount floats.
public func attentionBackward(shape s: BatchedAttentionShape,
                              dOut: UnsafePointer<Float>, dOutStride: Int,
                              probs: UnsafePointer<Float>,
                              q: UnsafePointer<Float>, qStride: Int,
                              k: UnsafePointer<Float>, kStride: Int,
                              v: UnsafePointer<Float>, vStride: Int,
                              scale: Float, dropout: AttentionDropout? = nil,
                              dq: UnsafeMutablePointer<Float>, dqStride: Int,
                              dk: UnsafeMutablePointer<Float>, dkStride: Int,
                              dv: UnsafeMutablePointer<Float>, dvStride: Int,
                              scratch: UnsafeMutablePointer<Float>) {
    guard !s.isEmpty else { return }
    guard s.keys > 0 else {
        zeroHeadColumns(dq, rows: s.batch * s.queries, stride: dqStride, width: s.heads * s.headDim)
        return
    }
    // Blocks in parallel as in the forward; each thread works in its own queries × keys slice
    // of `scratch`, and blocks write disjoint columns of dq, dk, dv.
    forEachBlock(s) { b, h, thread in
        let qb = q + b * s.queries * qStride, dOb = dOut + b * s.queries * dOutStride
        let kb = k + b * s.keys * kStride, vb = v + b * s.keys * vStride
        let dqb = dq + b * s.queries * dqStride, dkb = dk + b * s.keys * dkStride, dvb = dv + b * s.keys * dvStride
        let col = h * s.headDim, p = probs + s.block(b, h), block = s.queries * s.keys
        let dS = scratch + thread * block * (dropout == nil ? 1 : 2)
        // With dropout the output read the dropped probabilities D = P ⊙ M/(1−p):
        // dV = Dᵀ·dO, and dP = (dO·Vᵀ) ⊙ M/(1−p), which the softmax backward then uses with P.
        var forValues = p
        if let dropout {
            dropout.apply(p, block: b * s.heads + h, rows: s.queries, cols: s.keys, into: dS + block)
            forValues = UnsafePointer(dS + block)
        }
        Blas.sgemm(transA: true, m: s.keys, n: s.headDim, k: s.queries,
                   a: forValues, lda: s.keys, b: dOb + col, ldb: dOutStride, c: dvb + col, ldc: dvStride)
        Blas.sgemm(transB: true, m: s.queries, n: s.keys, k: s.headDim,
                   a: dOb + col, lda: dOutStride, b: vb + col, ldb: vStride, c: dS, ldc: s.keys)
        if let dropout {
            // dP = dD ⊙ M/(1−p), the row's factors regenerated into the second scratch block
            // (its dropped probabilities were consumed by the dV GEMM above).
            let factor = dS + block
            for i in 0..<s.queries {
                dropout.factors(block: b * s.heads + h, row: i, count: s.keys, into: factor)
                let row = dS + i * s.keys
                for j in 0..<s.keys { row[j] *= factor[j] }
            }
        }
        softmaxBackwardRows(probs: p, gradient: dS, rows: s.queries, cols: s.keys)
        Blas.sgemm(m: s.queries, n: s.headDim, k: s.keys, alpha: scale,
                   a: dS, lda: s.keys, b: kb + col, ldb: kStride, c: dqb + col, ldc: dqStride)
        Blas.sgemm(transA: true, m: s.keys, n: s.headDim, k: s.queries, alpha: scale,
                   a: dS, lda: s.keys, b: qb + col, ldb: qStride, c: dkb + col, ldc: dkStride)
    }
}

/// Runs `body(sequence, head, thread)` for every block, spread over `Parallel.maxThreads`
/// threads (each block's GEMMs run on its worker thread: workers see no thread binding).
/// The assignment of blocks to threads is fixed (contiguous ranges), and each block's
/// arithmetic does not depend on it: results are identical for any thread count.
private func forEachBlock(_ s: BatchedAttentionShape, _ body: (Int, Int, Int) -> Void) {
    let blocks = s.batch * s.heads
    let threads = max(1, min(Parallel.maxThreads, blocks))
    let perThread = (blocks + threads - 1) / threads
    Parallel.forEachChunk(threads, minChunk: 1) { workers in
        for thread in workers {
            for index in (thread * perThread)..<min(blocks, (thread + 1) * perThread) {
                body(index / s.heads, index % s.heads, thread)
            }
        }
    }
}

/// Softmax of the first `limit` entries of a score row with masked keys removed; every other
/// entry becomes exactly 0, and so does the whole row when no key is allowed.
@inline(__always)
private func maskedSoftmaxRow(_ row: UnsafeMutablePointer<Float>, keys: Int, limit: Int,
                              keyMask: UnsafePointer<Float>?) {
    if let mask = keyMask {
        var allowed = 0
        for j in 0..<limit {
            if mask[j] == 0 { row[j] = -.infinity } else { allowed += 1 }
        }
        guard allowed > 0 else {
            row.update(repeating: 0, count: keys)
            return
        }
        softmaxRow(row, count: limit)
        // vectorExp clamps its input at −87.3, so a −∞ score leaves ~1e-38 rather than 0:
        // negligible in the sum (≥ 1), but the probabilities must be exactly 0.
        for j in 0..<limit where mask[j] == 0 { row[j] = 0 }
    } else {
        softmaxRow(row, count: limit)
    }
    for j in limit..<keys { row[j] = 0 }
}

/// Softmax backward in place, row by row: g ← p ⊙ (g − Σ_j g_j·p_j).
private func softmaxBackwardRows(probs: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
                                 rows: Int, cols: Int) {
    for i in 0..<rows {
        let p = probs + i * cols, g = gradient + i * cols
        let centre = FloatVector(repeating: dot(g, p, count: cols))
        var j = 0
        while j + 8 <= cols {
            storeLanes(loadLanes(p + j) * (loadLanes(g + j) - centre), g + j)
            j += 8
        }
        while j < cols { g[j] = p[j] * (g[j] - centre[0]); j += 1 }
    }
}

private func zeroHeadColumns(_ x: UnsafeMutablePointer<Float>, rows: Int, stride: Int, width: Int) {
    for r in 0..<rows { (x + r * stride).update(repeating: 0, count: width) }
}
