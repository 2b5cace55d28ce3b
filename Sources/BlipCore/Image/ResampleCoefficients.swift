/// Fixed-point coefficients for one axis (Pillow `precompute_coeffs` + `normalize_coeffs_8bpc`),
/// for a strip of consecutive outputs. A full table holds about 2 × support × the input size
/// taps (4 per input pixel for bicubic), which for a 100,000,000 × 1 image is 1.6 GB: the passes
/// therefore build it a strip at a time (`strips`), within `stripTapBudget` taps when the
/// filter allows. Results do not depend on the strips: each output's taps are computed alone.
struct ResampleCoefficients {
    static let precisionBits: Int32 = 22
    /// Taps per strip (4 MB of Int32); a single output may exceed it (see `taps`).
    static let stripTapBudget = 1 << 20
    /// The outputs this strip covers; bounds and kk are indexed from `outputs.lowerBound`.
    let outputs: Range<Int>
    /// Row length of kk: Pillow's ksize, capped at the input size (no output reads more).
    let taps: Int
    /// bounds[2*i] = first input index, bounds[2*i+1] = number of taps.
    var bounds: [Int]
    var kk: [Int32]

    /// Pillow's geometry for one axis: input pixels per output pixel, the filter's stretch and
    /// half-width in input pixels, and ksize (taps per output, before capping).
    struct Geometry {
        let inSize: Int, outSize: Int, filter: ResampleFilter
        let scale: Double, filterscale: Double, support: Double, ksize: Int
        init(inSize: Int, outSize: Int, filter: ResampleFilter) {
            self.inSize = inSize
            self.outSize = outSize
            self.filter = filter
            scale = Double(Float(inSize)) / Double(outSize)  // Pillow: (double)(in1 - in0) / outSize, box in float
            filterscale = max(scale, 1.0)
            support = filter.support * filterscale
            ksize = Int(support.rounded(.up)) * 2 + 1
        }
        var taps: Int { min(ksize, inSize) }

        /// Strips of consecutive outputs, each within the tap budget (at least one output).
        var strips: [Range<Int>] {
            let per = max(1, ResampleCoefficients.stripTapBudget / max(taps, 1))
            return stride(from: 0, to: outSize, by: per).map { $0..<min($0 + per, outSize) }
        }

        /// First input index and tap count of output `xx`, and its kernel's centre.
        func window(_ xx: Int) -> (xmin: Int, count: Int, center: Double) {
            let center = (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            if xmax > ksize { xmax = ksize }  // cannot happen; keeps indexing in bounds
            if xmax < 0 { xmax = 0 }
            return (xmin, xmax, center)
        }
    }

    init(_ g: Geometry, outputs: Range<Int>) {
        self.outputs = outputs
        taps = g.taps
        var bounds = [Int](repeating: 0, count: outputs.count * 2)
        var kk = [Int32](repeating: 0, count: outputs.count * taps)
        let ss = 1.0 / g.filterscale
        for (i, xx) in outputs.enumerated() {
            let (xmin, n, center) = g.window(xx)
            // The kernel is evaluated twice (sum, then values) instead of being kept as doubles:
            // the same expression gives the same double, and the scratch stays O(1).
            var ww = 0.0
            for x in 0..<n { ww += g.filter.kernel((Double(x + xmin) - center + 0.5) * ss) }
            for x in 0..<n {
                var v = g.filter.kernel((Double(x + xmin) - center + 0.5) * ss)
                if ww != 0.0 { v /= ww }
                let scaled = v * Double(1 << Self.precisionBits)
                kk[i * taps + x] = v < 0 ? Int32(-0.5 + scaled) : Int32(0.5 + scaled)
            }
            bounds[2 * i] = xmin
            bounds[2 * i + 1] = n
        }
        self.bounds = bounds
        self.kk = kk
    }
}
