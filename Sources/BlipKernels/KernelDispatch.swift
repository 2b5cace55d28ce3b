import CBlipSupport
#if canImport(Glibc)
import Glibc
#endif

/// The int8 GEMM kernels, chosen once per process from CPUID (never by build flags, so one
/// baseline x86-64 build runs everywhere and uses the widest instructions the CPU has):
///
/// 1. `amx` — `tdpbusd` on AMX tiles (Sapphire Rapids and newer Xeons), for products of 16 or
///    more rows whose depth is a multiple of 64; other products (decode steps, odd depths) go
///    to the VNNI kernel, which every AMX CPU also has;
/// 2. `avx512vnni` — `vpdpbusd` on 512-bit registers (AVX-512 F/BW/VL/DQ + VNNI CPUs);
/// 3. `avx2` — `vpmaddubsw` + `vpmaddwd` (Haswell / Zen and newer); for 7-bit activations
///    without the sign trick and, on pair-safe weights, one `vpmaddwd` per two groups;
/// 4. `portable` — Swift SIMD, any architecture (SSE2 on baseline x86-64, NEON on arm64).
///
/// The C kernels (CBlipSupport/q8_kernels.c) are checked once against the portable kernel
/// on a small problem before first use; a kernel that disagrees is not used (and says why in
/// `Int8Kernel.selectionNote`). `BLIP_INT8_KERNEL=portable|avx2|avx512vnni|amx` forces a kernel
/// the CPU supports (for tests and benchmarks).
public enum Int8Kernel: String, CaseIterable, Sendable {
    case amx
    case avx512vnni
    case avx2
    case portable

    /// Whether the kernel takes activations as q + 128 (unsigned) and corrects with column sums.
    public var unsignedActivations: Bool { self == .amx || self == .avx512vnni }

    /// True when this CPU can run the kernel.
    public var isSupported: Bool {
        #if arch(x86_64)
        switch self {
        // Linux grants AMX state only on request; without the grant the kernel cannot run.
        case .amx: return bs_cpu_has_amx_int8() != 0 && bs_cpu_has_avx512_vnni() != 0 && bs_q8_amx_enable() != 0
        case .avx512vnni: return bs_cpu_has_avx512_vnni() != 0
        case .avx2: return bs_cpu_has_avx2_fma() != 0
        case .portable: return true
        }
        #else
        return self == .portable
        #endif
    }

    /// Human-readable name for `blip info`.
    public var displayName: String {
        switch self {
        case .amx: return "AMX tiles (tdpbusd; VNNI below 16 rows)"
        case .avx512vnni: return "AVX-512 VNNI (vpdpbusd)"
        case .avx2: return "AVX2 (vpmaddubsw)"
        case .portable: return "portable Swift SIMD"
        }
    }

    /// The kernel in use: the first supported kernel (in declaration order) that passes its
    /// self-check, unless `BLIP_INT8_KERNEL` names another supported one.
    nonisolated(unsafe) public static var active: Int8Kernel = selectActive()
    nonisolated(unsafe) public private(set) static var selectionNote = ""

    private static func selectActive() -> Int8Kernel {
        var notes: [String] = []
        if let forced = getenv("BLIP_INT8_KERNEL").map({ String(cString: $0) }), !forced.isEmpty {
            if let k = Int8Kernel(rawValue: forced), k.isSupported {
                selectionNote = "forced by BLIP_INT8_KERNEL"
                return k
            }
            notes.append("BLIP_INT8_KERNEL=\(forced) ignored (unknown or not supported by this CPU)")
        }
        for k in allCases where k.isSupported {
            if k == .portable || k.selfCheck() {
                selectionNote = notes.joined(separator: "; ")
                return k
            }
            notes.append("\(k.rawValue) kernel failed its self-check and is disabled")
        }
        selectionNote = notes.joined(separator: "; ")
        return .portable
    }

    /// Runs the kernel and the portable kernel on odd-sized random data, for both activation
    /// ranges and for even and odd group counts; true when they agree bit for bit.
    public func selfCheck() -> Bool {
        guard isSupported else { return false }
        var seed: UInt32 = 12345
        func next() -> Float {
            seed = seed &* 1664525 &+ 1013904223
            return Float(Int32(bitPattern: seed) >> 8) / Float(1 << 23)
        }
        // the last shape is one AMX runs (16+ rows, depth a multiple of 64), with a partial row
        // block and an odd panel count
        for (m, n, k) in [(7, 37, 45), (5, 21, 41), (37, 45, 128)] {
            for range in [Int8ActivationRange.signed8, .unsigned7] {
                let wf = (0..<(n * k)).map { _ in next() }
                // every other row skewed positive, so zero points other than 0 are exercised
                let x = (0..<(m * k)).map { i in next() + (i / k % 2 == 0 ? 0.7 : 0) }
                let bias = (0..<n).map { _ in next() }
                let w = wf.withUnsafeBufferPointer { Int8Matrix(quantizing: $0.baseAddress!, out: n, in: k, activations: range) }
                var mine = [Float](repeating: .nan, count: m * n)
                var ref = [Float](repeating: .nan, count: m * n)
                x.withUnsafeBufferPointer { xp in
                    bias.withUnsafeBufferPointer { bp in
                        Int8Gemm.multiply(xp.baseAddress!, rows: m, inStride: k, weight: w, bias: bp.baseAddress!,
                                          out: &mine, outStride: n, kernel: self)
                        Int8Gemm.multiply(xp.baseAddress!, rows: m, inStride: k, weight: w, bias: bp.baseAddress!,
                                          out: &ref, outStride: n, kernel: .portable)
                    }
                }
                if mine != ref { return false }
            }
        }
        return true
    }
}
