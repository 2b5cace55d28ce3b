/// Exact (erf) GELU in place: x · ½ · (1 + erf(x/√2)). Same code as `gelu` (ActivationsBackward.swift).
public func geluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    gelu(x, out: x, count: count)
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
