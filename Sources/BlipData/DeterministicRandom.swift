import BlipCore

/// Randomness for data pipelines that depends only on explicit keys (seed, epoch, batch,
/// position), never on thread timing or on how many numbers earlier items consumed: a run
/// resumed at batch k draws exactly what the uninterrupted run drew there.
enum DeterministicRandom {
    /// Domains keep the streams of different uses apart even when their keys coincide.
    enum Domain: UInt64 {
        case epochOrder = 0x6f72_6465_72   // "order"
        case augmentation = 0x6175_676d    // "augm"
    }

    /// A generator for `(seed, domain, keys...)`, keys folded in one at a time with
    /// SplitMix64's finaliser (a bijection per step, so distinct keys give distinct states).
    static func generator(seed: UInt64, _ domain: Domain, _ keys: Int...) -> SeededRandom {
        var h = mix(seed ^ domain.rawValue)
        for k in keys { h = mix(h ^ UInt64(bitPattern: Int64(k))) }
        return SeededRandom(seed: h)
    }

    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform integer in 0..<n (n > 0; returns 0 otherwise), unbiased (Lemire's
    /// multiply-and-reject). Written out rather than `Int.random(in:using:)` so the stream
    /// cannot change with the standard library.
    static func index(below n: Int, using rng: inout SeededRandom) -> Int {
        guard n > 1 else { return 0 }
        let bound = UInt64(n)
        var m = rng.next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = rng.next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// Uniform in [a, b), as `torch.empty(1).uniform_(a, b)`.
    static func uniform(_ a: Double, _ b: Double, using rng: inout SeededRandom) -> Double {
        a + (b - a) * rng.nextUnit()
    }
}
