// The float32 encoder's linear layers side by side, in one process: libblip's packed kernel
// (PackedF32Matrix: weight packed once, bias, GELU and residual in the epilogue) against
// OpenBLAS as the library calls it (Blas.sgemm on its fixed blocks, then bias and GELU passes).
// Rounds alternate the two; medians. Tells, on the CPU at hand, whether the packed kernel or
// OpenBLAS runs the ViT's GEMMs faster. Then the rates of the attention kernels around them: the
// encoder's self-attention, and a decode step's cross-attention over every layer's image keys
// and values (float32 and int8), to set beside the memory rate bench.py prints (BENCHMARKS.md
// session 33).
//
//     swift build -c release --product GemmBench
//     .build/release/GemmBench [--rows 577] [--threads 2] [--rounds 21]
import BlipKernels
import Foundation

func option(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]), v > 0 else { return fallback }
    return v
}

func random(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
    }
}

func milliseconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

func median(_ times: [Double]) -> Double { times.sorted()[times.count / 2] }

/// The median of `rounds` timings of `body` on the benchmark's threads.
func medianTime(_ body: () -> Void) -> Double {
    Parallel.withThreads(threads) { median((0..<rounds).map { _ in milliseconds(body) }) }
}

let rows = option("--rows", 577), threads = option("--threads", 2), rounds = option("--rounds", 21)
do { try Blas.load() } catch { print("OpenBLAS: \(error)"); exit(1) }
guard Float32Kernels.packedGemmActive else { print("no packed float32 kernel on this CPU"); exit(1) }
print("OpenBLAS core \(Blas.coreName), packed kernel \(Float32Kernels.active.rawValue), \(rows) rows, \(threads) threads, \(rounds) rounds")

// ViT-B's layers as the encoder calls them: (name, out, in, input row stride, GELU, residual add).
// fc2's input rows are padded as the encoder pads them (PackedF32Matrix.unaliasedStride).
let layers = [("qkv", 2304, 768, 768, false, false), ("projection + residual", 768, 768, 768, false, true),
              ("fc1 + GELU", 3072, 768, 768, true, false),
              ("fc2 + residual", 768, 3072, PackedF32Matrix.unaliasedStride(3072), false, true)]
var totals = (openblas: 0.0, packed: 0.0)
Parallel.withThreads(threads) {
    for (name, n, k, stride, gelu, residual) in layers {
        let x = random(rows * stride, seed: 1), w = random(n * k, seed: 2), bias = random(n, seed: 3)
        var out = random(rows * n, seed: 4)
        let packed = PackedF32Matrix(packing: w, out: n, in: k)
        var openblas = [Double](), ours = [Double]()
        for _ in 0..<rounds {
            openblas.append(milliseconds {
                Blas.sgemm(transB: true, m: rows, n: n, k: k, a: x, lda: stride, b: w, ldb: k, beta: residual ? 1 : 0,
                           c: &out, ldc: n)
                addBias(&out, rows: rows, cols: n, bias: bias)
                if gelu { geluInPlace(&out, count: rows * n) }
            })
            ours.append(milliseconds {
                packed.multiply(x, rows: rows, inStride: stride, bias: bias, out: &out, outStride: n, gelu: gelu,
                                accumulate: residual)
            })
            // keep residual sums from growing without bound
            out.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = p[i].isFinite ? p[i] * 1e-3 : 0 } }
        }
        let a = median(openblas), b = median(ours), gflop = 2 * Double(rows * n * k) / 1e6
        totals.openblas += a; totals.packed += b
        print(name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "OpenBLAS %7.2f ms (%4.0f GFLOP/s)   packed %7.2f ms (%4.0f GFLOP/s)   packed/OpenBLAS %.3f",
                                                                            a, gflop / a, b, gflop / b, b / a))
    }
}
print(String(format: "all four: OpenBLAS %.1f ms, packed %.1f ms, packed/OpenBLAS %.3f", totals.openblas, totals.packed,
             totals.packed / totals.openblas))

// The encoder's self-attention (the packed kernel's blocked attention, both products and the
// softmax), as a rate over its two products' multiply-adds, to set beside the linear layers'.
let shape = AttentionShape(queries: rows, keys: rows, heads: 12, headDim: 64)
let qkv = random(rows * 3 * 768, seed: 5).map { $0 * 4 }
var context = [Float](repeating: 0, count: rows * 768), scores = [Float](repeating: 0, count: shape.scratchCount)
let attentionTime = qkv.withUnsafeBufferPointer { p in
    let base = p.baseAddress!
    return medianTime {
        attention(shape: shape, q: base, qStride: 3 * 768, k: base + 768, kStride: 3 * 768, v: base + 2 * 768,
                  vStride: 3 * 768, scale: 0.125, scores: &scores, out: &context, outStride: 768)
    }
}
let attentionGflop = 4 * Double(rows * rows * 768) / 1e6
print("self-attention".padding(toLength: 22, withPad: " ", startingAt: 0)
      + String(format: "packed %7.2f ms (%4.0f GFLOP/s over its two products)", attentionTime, attentionGflop / attentionTime))

// A decode step's cross-attention: one query row against every layer's image keys and values
// (12 layers, 577 tokens, 12 heads of 64, stored head by head as CrossKeysValues stores them:
// 42 MB in float32, more than the caches hold); the rate is those bytes over the step's time.
// Then the same over int8 levels with one scale per head and token (an int8 model's).
let layerCount = 12, heads = 12, headDim = 64, width = heads * headDim
let keysValues = (0..<(2 * layerCount)).map { random(rows * width, seed: 100 + UInt64($0)) }
let levels = (0..<(2 * layerCount)).map { i in random(rows * width, seed: 200 + UInt64(i)).map { Int8(max(-127, min(127, $0 * 127))) } }
let levelScales = (0..<(2 * layerCount)).map { i in random(rows * heads, seed: 300 + UInt64(i)).map { abs($0) * 0.01 } }
let query = random(width, seed: 7)
var stepScores = [Float](repeating: 0, count: heads * rows), stepOut = [Float](repeating: 0, count: width)
let stepTime = medianTime {
    for layer in 0..<layerCount {
        fewQueryAttention(rows: 1, q: query, qStride: width, k: keysValues[2 * layer], v: keysValues[2 * layer + 1],
                          kvStride: headDim, kvHeadStride: rows * headDim, keys: rows, heads: heads,
                          headDim: headDim, scale: 0.125, scores: &stepScores, out: &stepOut, outStride: width)
    }
}
let int8Time = medianTime {
    for layer in 0..<layerCount {
        _ = fewQueryAttention(rows: 1, q: query, qStride: width, int8Keys: levels[2 * layer],
                              keyScales: levelScales[2 * layer], int8Values: levels[2 * layer + 1],
                              valueScales: levelScales[2 * layer + 1], kvStride: headDim,
                              kvHeadStride: rows * headDim, keys: rows, heads: heads, headDim: headDim,
                              scale: 0.125, scores: &stepScores, out: &stepOut, outStride: width)
    }
}
let stepBytes = Double(2 * layerCount * rows * width * 4)
print(String(format: "decode cross-attention: float32 %.2f ms per step (%.1f GB/s), int8 %.2f ms (%.1f GB/s)", stepTime,
             stepBytes / stepTime / 1e6, int8Time, stepBytes / 4 / int8Time / 1e6))
