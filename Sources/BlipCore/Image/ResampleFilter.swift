#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Pillow's resampling filters (values = `PIL.Image.Resampling`, as in `resample` of
/// preprocessor_config.json). NEAREST (0) is not a convolution in Pillow and is not offered.
public enum ResampleFilter: Int, Sendable, CaseIterable {
    case lanczos = 1
    case bilinear = 2
    case bicubic = 3
    case box = 4
    case hamming = 5

    /// Filter support in input pixels at scale 1 (Resample.c).
    var support: Double {
        switch self {
        case .box: 0.5
        case .bilinear, .hamming: 1.0
        case .bicubic: 2.0
        case .lanczos: 3.0
        }
    }

    /// Kernel value, with Pillow's exact expressions (so the doubles match bit for bit).
    func kernel(_ x0: Double) -> Double {
        switch self {
        case .box:
            return (x0 > -0.5 && x0 <= 0.5) ? 1.0 : 0.0
        case .bilinear:
            let x = x0 < 0 ? -x0 : x0
            return x < 1.0 ? 1.0 - x : 0.0
        case .hamming:
            var x = x0 < 0 ? -x0 : x0
            if x == 0.0 { return 1.0 }
            if x >= 1.0 { return 0.0 }
            x = x * Double.pi
            return sin(x) / x * (Double(Float(0.54)) + Double(Float(0.46)) * cos(x))  // 0.54f, 0.46f in C
        case .bicubic:
            let a = -0.5
            let x = x0 < 0 ? -x0 : x0
            if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
            if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0.0
        case .lanczos:
            func sinc(_ x: Double) -> Double {
                if x == 0.0 { return 1.0 }
                let y = x * Double.pi
                return sin(y) / y
            }
            if -3.0 <= x0 && x0 < 3.0 { return sinc(x0) * sinc(x0 / 3) }
            return 0.0
        }
    }
}
