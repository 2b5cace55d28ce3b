/// The `k`-th largest of `count` keys (1-based; counted with multiplicity, so with ties it is the
/// value a descending sort puts at position k). A most-significant-digit radix select, 8 bits a
/// pass: each pass counts the remaining candidates' byte, finds the byte the k-th largest has, and
/// keeps only the candidates with that byte (in `scratch`, `count` long, any contents). Linear time
/// whatever k is, where the k-entry min-heap it replaced costs O(V log k): on a 30,522-token row,
/// 0.37 ms against the heap's 6.2 ms at k = 27,764, both 0.24 ms at k = 50 (BENCHMARKS.md,
/// session 14). `keys` is left unchanged.
func radixSelectLargest(keys: UnsafePointer<UInt32>, count n: Int, k: Int,
                        scratch: UnsafeMutablePointer<UInt32>) -> UInt32 {
    precondition(k >= 1 && k <= n, "radixSelectLargest: k \(k) outside 1...\(n)")
    return withUnsafeTemporaryAllocation(of: Int.self, capacity: 256) { buffer in
        let histogram = buffer.baseAddress!
        var candidates = UnsafePointer(keys), remaining = n, rank = k
        var prefix: UInt32 = 0                          // the bytes of the answer found so far
        for pass in 0..<4 {
            let shift = UInt32(24 - 8 * pass)
            histogram.initialize(repeating: 0, count: 256)
            for i in 0..<remaining { histogram[Int((candidates[i] >> shift) & 0xFF)] += 1 }
            var byte = 255
            while histogram[byte] < rank { rank -= histogram[byte]; byte -= 1 }
            prefix |= UInt32(byte) << shift
            if pass == 3 || histogram[byte] == remaining { continue }   // nothing to narrow
            var kept = 0
            for i in 0..<remaining where Int((candidates[i] >> shift) & 0xFF) == byte {
                scratch[kept] = candidates[i]
                kept += 1
            }
            candidates = UnsafePointer(scratch)
            remaining = kept
        }
        return prefix
    }
}
