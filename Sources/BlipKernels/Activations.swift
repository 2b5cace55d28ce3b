/// Exact (erf) GELU in place: x · ½ · (1 + erf(x/√2)).
public func geluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    let invSqrt2: Float = 0.70710678118654752
    var i = 0
    while i + 8 <= count {
        let raw = UnsafeMutableRawPointer(x + i)
        let v = raw.loadUnaligned(as: FloatVector.self)
        let g = v * 0.5 * (1 + vectorErf(v * invSqrt2))
        raw.storeBytes(of: g, as: FloatVector.self)
        i += 8
    }
    if i < count {
        var tail = FloatVector(repeating: 0)
        for j in 0..<(count - i) { tail[j] = x[i + j] }
        let g = tail * 0.5 * (1 + vectorErf(tail * invSqrt2))
        for j in 0..<(count - i) { x[i + j] = g[j] }
    }
}

/// Adds `bias` (length `cols`) to every row of a row-major [rows × cols] matrix.
public func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
    for r in 0..<rows {
        let row = x + r * cols
        var c = 0
        while c + 8 <= cols {
            let p = UnsafeMutableRawPointer(row + c)
            p.storeBytes(of: p.loadUnaligned(as: FloatVector.self) + UnsafeRawPointer(bias + c).loadUnaligned(as: FloatVector.self), as: FloatVector.self)
            c += 8
        }
        while c < cols { row[c] += bias[c]; c += 1 }
    }
}

/// y += x elementwise (residual connections).
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let p = UnsafeMutableRawPointer(y + i)
        p.storeBytes(of: p.loadUnaligned(as: FloatVector.self) + UnsafeRawPointer(x + i).loadUnaligned(as: FloatVector.self), as: FloatVector.self)
        i += 8
    }
    while i < count { y[i] += x[i]; i += 1 }
}
