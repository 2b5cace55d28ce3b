/// Sorts `count` keys ascending and permutes `payload` alongside, stably (equal keys keep their
/// order): a least-significant-digit radix sort, 8 bits a pass, skipping a pass when every key
/// has the same byte there. Linear time where a comparison sort of a 30,522-token vocabulary
/// row, once per beam per decode step, was most of top-p sampling's time. Each pass moves the
/// data between the input buffers and the scratch buffers (any contents, `count` long); the
/// result is in whichever pair is returned.
func stableRadixSort(keys: UnsafeMutablePointer<UInt32>, payload: UnsafeMutablePointer<UInt32>, count n: Int,
                     keyScratch: UnsafeMutablePointer<UInt32>, payloadScratch: UnsafeMutablePointer<UInt32>)
    -> (keys: UnsafeMutablePointer<UInt32>, payload: UnsafeMutablePointer<UInt32>) {
    guard n > 1 else { return (keys, payload) }
    return withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * 256 + 256) { buffer in
        let counts = buffer.baseAddress!, offsets = counts + 4 * 256
        counts.initialize(repeating: 0, count: 4 * 256)
        // The four byte histograms hold for every pass: a pass only permutes the keys.
        for i in 0..<n {
            let key = keys[i]
            counts[Int(key & 0xFF)] += 1
            counts[256 + Int((key >> 8) & 0xFF)] += 1
            counts[512 + Int((key >> 16) & 0xFF)] += 1
            counts[768 + Int(key >> 24)] += 1
        }
        var (inKeys, inPayload, outKeys, outPayload) = (keys, payload, keyScratch, payloadScratch)
        for pass in 0..<4 {
            let shift = UInt32(8 * pass)
            let histogram = counts + 256 * pass
            if histogram[Int((inKeys[0] >> shift) & 0xFF)] == n { continue }
            var running = 0
            for b in 0..<256 { offsets[b] = running; running += histogram[b] }
            for i in 0..<n {
                let b = Int((inKeys[i] >> shift) & 0xFF)
                outKeys[offsets[b]] = inKeys[i]
                outPayload[offsets[b]] = inPayload[i]
                offsets[b] += 1
            }
            swap(&inKeys, &outKeys)
            swap(&inPayload, &outPayload)
        }
        return (inKeys, inPayload)
    }
}
