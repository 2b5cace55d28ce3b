/// The sampler seed of one synthetic caption: a hash of (run seed, sample key, caption index).
/// It depends on nothing else — not on the order of samples, the batch they fall in or the
/// shard or machine that runs them — so any split of the work gives the same captions.
public enum CaptionSeed {
    public static func derive(seed: UInt64, key: String, index: Int) -> UInt64 {
        // FNV-1a over the key's UTF-8 bytes, then SplitMix64 finalisers to mix in the seed and
        // the index (FNV alone leaves nearby keys with nearby hashes).
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in key.utf8 {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01B3
        }
        return mix(mix(mix(seed) ^ h) ^ UInt64(truncatingIfNeeded: index))
    }

    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
