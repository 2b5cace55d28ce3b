// Vectorised exp and erf for float32. Both exist because libm's scalar calls dominate
// GELU and softmax time otherwise (21M erf calls per ViT-B image).

public typealias FloatVector = SIMD8<Float>

/// The lane-wise maximum and minimum of two vectors (for NaN-free lanes, as `pointwiseMax` and
/// `pointwiseMin`). The standard library's are generic and were not specialized here: a call per
/// 8 floats, 0.7% of a BLIP-base finetune step in the training softmax (perf, Zen 3,
/// BENCHMARKS.md session 33).
@inline(__always) @inlinable
public func laneMaximum(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a.replacing(with: b, where: b .> a) }
@inline(__always) @inlinable
public func laneMinimum(_ a: FloatVector, _ b: FloatVector) -> FloatVector { a.replacing(with: b, where: b .< a) }

/// exp(x) with ~1 ulp error on [-87, 88] (Cephes expf range reduction + degree-5 polynomial).
@inline(__always) @inlinable
public func vectorExp(_ xIn: FloatVector) -> FloatVector {
    let lo = FloatVector(repeating: -87.3), hi = FloatVector(repeating: 88.3)
    var x = xIn.replacing(with: lo, where: xIn .< lo)
    x.replace(with: hi, where: x .> hi)
    // n = round(x / ln2) via the 1.5·2^23 trick: adding it leaves the rounded integer in the
    // low mantissa bits, which avoids the generic (scalarised) SIMD float→int conversion.
    let magic = FloatVector(repeating: 12582912.0)
    let shifted = x * 1.44269504088896341 + magic
    let n = shifted - magic
    var r = x - n * 0.693359375
    r = r - n * -2.12194440e-4
    let r2 = r * r
    var p = FloatVector(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * r2 + r + 1
    // scale by 2^n through the exponent bits
    let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    let bits = (ni &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: FloatVector.self)
}

/// erf(x), Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): the same approximation PyTorch's
/// vectorised CPU erf uses, so exact-GELU outputs agree with it to float rounding.
@inline(__always) @inlinable
public func vectorErf(_ x: FloatVector) -> FloatVector {
    let negative = x .< 0
    let ax = x.replacing(with: FloatVector(repeating: 0) - x, where: negative)
    let t = 1 / (ax * 0.3275911 + 1)
    var r = FloatVector(repeating: 1.061405429)
    r = r * t - 1.453152027
    r = r * t + 1.421413741
    r = r * t - 0.284496736
    r = r * t + 0.254829592
    // exp(-min(x², 80)): beyond 80 the result rounds to ±1 either way, and this keeps r·t·e
    // from being a denormal (slow on x86); erf512 in CBlipSupport does the same.
    let y = 1 - r * t * vectorExp(-laneMinimum(ax * ax, FloatVector(repeating: 80)))
    return y.replacing(with: FloatVector(repeating: 0) - y, where: negative)
}

/// Σ a[i]·b[i] for `count` floats: 8 lanes at a time, then the tail.
@inline(__always)
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var acc = FloatVector(repeating: 0)
    var i = 0
    while i + 8 <= count {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: FloatVector.self) * UnsafeRawPointer(b + i).loadUnaligned(as: FloatVector.self)
        i += 8
    }
    var s = acc.sum()
    while i < count { s += a[i] * b[i]; i += 1 }
    return s
}
