/// Numerically stable softmax of one row, in place.
@inline(__always)
public func softmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int) {
    var maxValue = -Float.infinity
    for c in 0..<count where row[c] > maxValue { maxValue = row[c] }
    if maxValue == -Float.infinity { maxValue = 0 }
    let m = FloatVector(repeating: maxValue)
    var sumVector = FloatVector(repeating: 0)
    var c = 0
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
