import CBlipSupport

// Elementwise training kernels: out-of-place GELU (its saved input feeds the backward), the
// GELU derivative, and column sums (bias gradients). All run 8 lanes at a time plus a tail.

/// Exact (erf) GELU, out of place: out = x · ½ · (1 + erf(x/√2)). `out` may equal `x`
/// (geluInPlace is this function). Elementwise, so splitting across threads changes nothing.
public func gelu(_ x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) {
    let path = Float32Kernels.active
    Parallel.forEachChunk(count, minChunk: elementwiseMinChunk) { range in
        let start = range.lowerBound
        switch path {   // the same operations 16 or 8 lanes wide (the Swift build is baseline x86-64)
        case .avx512: _ = bs_gelu_avx512(x + start, out + start, range.count)
        case .avx2: _ = bs_gelu_avx2(x + start, out + start, range.count)
        case .openblas: portableGelu(x + start, out: out + start, count: range.count)
        }
    }
}

/// `gelu` in Swift SIMD on one thread (any CPU; the reference the C kernels must equal).
func portableGelu(_ x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) {
    mapLanes(x, out, count: count) { v in v * 0.5 * (1 + vectorErf(v * invSqrt2)) }
}

/// dx = dy · GELU'(x) = dy · (Φ(x) + x·φ(x)), Φ(x) = ½(1 + erf(x/√2)) with the forward's erf,
/// φ(x) = exp(−x²/2)/√(2π). `x` is the pre-activation input. `dx` may equal `dy`.
public func geluBackward(dy: UnsafePointer<Float>, preActivation x: UnsafePointer<Float>,
                         dx: UnsafeMutablePointer<Float>, count: Int) {
    let path = Float32Kernels.active
    Parallel.forEachChunk(count, minChunk: elementwiseMinChunk) { range in
        let start = range.lowerBound
        switch path {   // the same operations 16 or 8 lanes wide, as for `gelu`
        case .avx512: _ = bs_gelu_backward_avx512(dy + start, x + start, dx + start, range.count)
        case .avx2: _ = bs_gelu_backward_avx2(dy + start, x + start, dx + start, range.count)
        case .openblas:
            portableGeluBackward(dy: dy + start, preActivation: x + start, dx: dx + start, count: range.count)
        }
    }
}

/// `geluBackward` in Swift SIMD on one thread (the reference the C kernels must equal).
func portableGeluBackward(dy: UnsafePointer<Float>, preActivation x: UnsafePointer<Float>,
                          dx: UnsafeMutablePointer<Float>, count: Int) {
    mapLanes(x, dy, dx, count: count) { v, g in
        let cdf = 0.5 * (1 + vectorErf(v * invSqrt2))
        let pdf = vectorExp(v * v * -0.5) * invSqrt2Pi
        return g * (cdf + v * pdf)
    }
}

/// sums[c] += Σ_r x[r, c] over a row-major [rows × cols] matrix (bias gradients).
/// Deterministic whatever the thread count: see `ColumnBlockSum`.
public func accumulateColumnSums(_ x: UnsafePointer<Float>, rows: Int, cols: Int,
                                 into sums: UnsafeMutablePointer<Float>) {
    forEachColumnBlock(rows: rows, cols: cols) { c0, width in
        withColumnBlockSum(width: width) { acc in
            for r in 0..<rows {
                let row = x + r * cols + c0
                var j = 0
                while j + 8 <= width { acc.add(loadLanes(row + j), at: j); j += 8 }
                while j < width { acc.add(row[j], at: j); j += 1 }
                acc.endRow(r)
            }
            acc.finish(into: sums + c0)
        }
    }
}

// MARK: - Shared helpers (also used by NormalizationBackward.swift)

private let invSqrt2: Float = 0.70710678118654752
private let invSqrt2Pi: Float = 0.39894228040143268
/// Elementwise kernels only fork when each thread gets ≥ 32K elements (count ≥ 64K on 2 threads):
/// below that the fork costs more than it saves.
private let elementwiseMinChunk = 1 << 15

/// out[i] = f(x[i]) 8 lanes at a time; the tail is padded with zeros and only its valid lanes
/// are stored. out may equal x (each lane is read before it is written).
@inline(__always)
private func mapLanes(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int,
                      _ f: (FloatVector) -> FloatVector) {
    var i = 0
    while i + 8 <= count { storeLanes(f(loadLanes(x + i)), out + i); i += 8 }
    if i < count {
        var tail = FloatVector(repeating: 0)
        for j in 0..<(count - i) { tail[j] = x[i + j] }
        let r = f(tail)
        for j in 0..<(count - i) { out[i + j] = r[j] }
    }
}

/// out[i] = f(x[i], y[i]), like `mapLanes`; out may equal x or y.
@inline(__always)
private func mapLanes(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                      count: Int, _ f: (FloatVector, FloatVector) -> FloatVector) {
    var i = 0
    while i + 8 <= count { storeLanes(f(loadLanes(x + i), loadLanes(y + i)), out + i); i += 8 }
    if i < count {
        var a = FloatVector(repeating: 0), b = a
        for j in 0..<(count - i) { a[j] = x[i + j]; b[j] = y[i + j] }
        let r = f(a, b)
        for j in 0..<(count - i) { out[i + j] = r[j] }
    }
}

/// Columns per block of a column reduction: 64 floats = 4 cache lines per row read, and the
/// block's partial sums stay in L1.
let columnBlockWidth = 64

/// Calls `body(firstColumn, width)` for blocks of ≤ `columnBlockWidth` columns; blocks run in
/// parallel when the matrix is large. Each block is reduced by one thread in row order, so
/// the result does not depend on the thread count.
@inline(__always)
func forEachColumnBlock(rows: Int, cols: Int, _ body: (Int, Int) -> Void) {
    let blocks = (cols + columnBlockWidth - 1) / columnBlockWidth
    let minChunk = rows * cols >= 1 << 16 ? 1 : max(blocks, 1)
    Parallel.forEachChunk(blocks, minChunk: minChunk) { range in
        for b in range {
            let c0 = b * columnBlockWidth
            body(c0, min(columnBlockWidth, cols - c0))
        }
    }
}

/// Column sums for one block of ≤ `columnBlockWidth` columns over many rows: rows are added
/// into Float partials (vectorised) which are flushed into Double totals every `flushRows` rows,
/// so a sum over tens of thousands of rows keeps near-Double accuracy at Float speed.
struct ColumnBlockSum {
    static let flushRows = 64
    let width: Int
    let partial: UnsafeMutablePointer<Float>
    let total: UnsafeMutablePointer<Double>

    @inline(__always) func add(_ v: FloatVector, at j: Int) {
        storeLanes(loadLanes(partial + j) + v, partial + j)
    }
    @inline(__always) func add(_ s: Float, at j: Int) { partial[j] += s }

    /// Call after adding row `r` (rows counted from 0).
    @inline(__always) func endRow(_ r: Int) {
        if (r + 1) % Self.flushRows == 0 { flush() }
    }

    func flush() {
        for j in 0..<width { total[j] += Double(partial[j]); partial[j] = 0 }
    }

    /// sums[j] += the block's column sums.
    func finish(into sums: UnsafeMutablePointer<Float>) {
        flush()
        for j in 0..<width { sums[j] = Float(Double(sums[j]) + total[j]) }
    }
}

/// Runs `body` with a zeroed accumulator for a block of `width` columns (stack storage).
@inline(__always)
func withColumnBlockSum(width: Int, _ body: (ColumnBlockSum) -> Void) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { partial in
        withUnsafeTemporaryAllocation(of: Double.self, capacity: width) { total in
            guard let p = partial.baseAddress, let t = total.baseAddress else { return }
            p.initialize(repeating: 0, count: width)
            t.initialize(repeating: 0, count: width)
            body(ColumnBlockSum(width: width, partial: p, total: t))
        }
    }
}

@inline(__always) func loadLanes(_ p: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self)
}
@inline(__always) func storeLanes(_ x: FloatVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: x, as: FloatVector.self)
}
