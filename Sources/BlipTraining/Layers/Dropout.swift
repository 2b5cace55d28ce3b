import BlipCore

/// Inverted dropout as nn.Dropout in train mode: each element is kept with probability
/// 1 − p and scaled by 1/(1 − p). The mask comes from a generator seeded per step and per
/// site, so a resumed run draws the same masks (torch's masks cannot be reproduced; parity
/// checks run with the published configs' dropout of 0, where this is the identity).
struct Dropout {
    let probability: Float

    /// Draws a mask of `count` multipliers (0 or 1/(1−p)), or nil when p is 0.
    func mask(count: Int, random: inout SeededRandom, arena: ActivationArena) -> UnsafeMutablePointer<Float>? {
        guard probability > 0 else { return nil }
        let m = arena.allocate(count)
        let keep = 1 / (1 - probability), threshold = Double(probability)
        for i in 0..<count { m[i] = random.nextUnit() < threshold ? 0 : keep }
        return m
    }
}

/// x ⊙ mask in place (forward and backward alike); no-op without a mask.
func applyMask(_ mask: UnsafePointer<Float>?, to x: UnsafeMutablePointer<Float>, count: Int) {
    guard let mask else { return }
    for i in 0..<count { x[i] *= mask[i] }
}
