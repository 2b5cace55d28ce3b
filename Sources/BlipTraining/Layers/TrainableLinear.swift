import BlipKernels

/// y = x·Wᵀ + b over rows, with W [out, in] as in PyTorch, and its backward:
/// dW += dyᵀ·x, db += Σ_rows dy, dx = dy·W. Frozen parameters get no gradient (and cost no
/// GEMM); dx is computed only when the caller needs it.
struct TrainableLinear {
    let weight: ParameterRef
    let bias: ParameterRef?
    let inFeatures: Int
    let outFeatures: Int

    init(_ store: ParameterStore, _ prefix: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) {
        weight = store.register(prefix + ".weight", [outFeatures, inFeatures])
        bias = hasBias ? store.register(prefix + ".bias", [outFeatures]) : nil
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// Wraps tensors registered elsewhere (the LM head's decoder is the word-embedding matrix).
    init(weight: ParameterRef, bias: ParameterRef?, in inFeatures: Int, out outFeatures: Int) {
        self.weight = weight; self.bias = bias; self.inFeatures = inFeatures; self.outFeatures = outFeatures
    }

    func forward(_ s: ParameterStore, _ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>) {
        Blas.sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                   b: s.value(weight), ldb: inFeatures, c: out, ldc: outFeatures)
        if let bias { addBias(out, rows: rows, cols: outFeatures, bias: s.value(bias)) }
    }

    /// `dx`: nil when the input needs no gradient; otherwise written (or added to when
    /// `accumulate`), e.g. when one input feeds several layers.
    func backward(_ s: ParameterStore, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int,
                  dx: UnsafeMutablePointer<Float>?, accumulate: Bool = false) {
        if s.isTrainable(weight) {
            Blas.sgemm(transA: true, m: outFeatures, n: inFeatures, k: rows, a: dy, lda: outFeatures,
                       b: x, ldb: inFeatures, beta: 1, c: s.grad(weight), ldc: inFeatures)
        }
        if let bias, s.isTrainable(bias) {
            accumulateColumnSums(dy, rows: rows, cols: outFeatures, into: s.grad(bias))
        }
        if let dx {
            Blas.sgemm(m: rows, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures,
                       b: s.value(weight), ldb: inFeatures, beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
        }
    }
}

/// LayerNorm over the last dimension with saved statistics, and its backward.
struct TrainableLayerNorm {
    let gamma: ParameterRef
    let beta: ParameterRef
    let size: Int
    let eps: Float

    init(_ store: ParameterStore, _ prefix: String, size: Int, eps: Float) {
        gamma = store.register(prefix + ".weight", [size])
        beta = store.register(prefix + ".bias", [size])
        self.size = size
        self.eps = eps
    }

    /// What backward needs: the input and per-row mean and 1/std.
    struct Saved {
        let input: UnsafePointer<Float>
        let mean: UnsafeMutablePointer<Float>
        let rstd: UnsafeMutablePointer<Float>
        let rows: Int
    }

    func forward(_ s: ParameterStore, _ x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>,
                 arena: ActivationArena) -> Saved {
        let saved = Saved(input: x, mean: arena.allocate(rows), rstd: arena.allocate(rows), rows: rows)
        layerNormForwardSaving(x, rows: rows, cols: size, gamma: s.value(gamma), beta: s.value(beta), eps: eps,
                               out: out, mean: saved.mean, rstd: saved.rstd)
        return saved
    }

    /// dx may alias dy.
    func backward(_ s: ParameterStore, _ saved: Saved, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        layerNormBackward(dy: dy, x: saved.input, mean: saved.mean, rstd: saved.rstd, gamma: s.value(gamma),
                          rows: saved.rows, cols: size, dx: dx,
                          dGamma: s.isTrainable(gamma) ? s.grad(gamma) : nil,
                          dBeta: s.isTrainable(beta) ? s.grad(beta) : nil)
    }
}
