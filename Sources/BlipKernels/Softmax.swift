import Glibc

/// Numerically stable softmax of one row, in place.
@inline(__always)
public func softmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int) {
    // The maximum 8 lanes at a time (a scalar loop was one compare chain over the row); any
    // order gives the same maximum.
    var maxLanes = FloatVector(repeating: -.infinity)
    var c = 0
    while c + 8 <= count {
        maxLanes = laneMaximum(maxLanes, UnsafeRawPointer(row + c).loadUnaligned(as: FloatVector.self))
        c += 8
    }
    var maxValue = maxLanes.max()
    while c < count { if row[c] > maxValue { maxValue = row[c] }; c += 1 }
    if maxValue == -Float.infinity { maxValue = 0 }
    let m = FloatVector(repeating: maxValue)
    var sumVector = FloatVector(repeating: 0)
    c = 0
    while c + 8 <= count {
        let p = UnsafeMutableRawPointer(row + c)
        let e = vectorExp(p.loadUnaligned(as: FloatVector.self) - m)
        p.storeBytes(of: e, as: FloatVector.self)
        sumVector += e
        c += 8
    }
    var sum = sumVector.sum()
    if c < count {
        var tail = FloatVector(repeating: -Float.infinity)
        for j in 0..<(count - c) { tail[j] = row[c + j] }
        let e = vectorExp(tail - m)
        for j in 0..<(count - c) { row[c + j] = e[j]; sum += e[j] }
    }
    let inv = 1 / sum
    for j in 0..<count { row[j] *= inv }
}

/// In-place log-softmax of one row: x − max − log Σ exp(x − max), the sum in double (a
/// 30,522-token vocabulary row: beam search's scores are sums of these over many steps).
public func logSoftmaxInPlace(_ row: UnsafeMutablePointer<Float>, count: Int) {
    var m = -Float.infinity
    for i in 0..<count where row[i] > m { m = row[i] }
    let mv = FloatVector(repeating: m)
    var sumV = FloatVector(repeating: 0)
    var i = 0
    while i + 8 <= count {
        sumV += vectorExp(UnsafeRawPointer(row + i).loadUnaligned(as: FloatVector.self) - mv)
        i += 8
    }
    var sum = Double(sumV.sum())
    while i < count { sum += Double(expf(row[i] - m)); i += 1 }
    let logSum = Float(log(sum))
    for j in 0..<count { row[j] = (row[j] - m) - logSum }
}
