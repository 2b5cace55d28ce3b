import BlipCore
import Glibc

/// BLIP's image-text contrastive loss (ITC) over one batch, in Double (B×B is tiny):
/// sim = img·txtᵀ / temp on L2-normalised features; targets spread evenly over the rows that
/// share an image id; loss = ½(CE(sim, targets) + CE(simᵀ, targetsᵀ)), each a mean over rows.
struct ContrastiveLoss {
    struct Result {
        var loss: Double
        /// softmax(sim) rows, image→text and text→image, for hard-negative sampling.
        var imageToText: [[Double]]
        var textToImage: [[Double]]
        var dImage: [Float]   // d loss / d normalised image features [B, E]
        var dText: [Float]
        var dTemperature: Double
    }

    /// `image`, `text`: [B, E] normalised; `ids`: image id per row.
    static func evaluate(image: [Float], text: [Float], dim e: Int, ids: [String], temperature: Float) -> Result {
        let b = ids.count, t = Double(temperature)
        var cos = [[Double]](repeating: [Double](repeating: 0, count: b), count: b)
        for i in 0..<b {
            for j in 0..<b {
                var s = 0.0
                for k in 0..<e { s += Double(image[i * e + k]) * Double(text[j * e + k]) }
                cos[i][j] = s
            }
        }
        var targets = [[Double]](repeating: [Double](repeating: 0, count: b), count: b)
        for i in 0..<b {
            let positives = (0..<b).filter { ids[$0] == ids[i] }
            for j in positives { targets[i][j] = 1 / Double(positives.count) }
        }
        // The positive relation is symmetric, so the text→image targets are the same matrix.
        // log-softmax as logit − max − log Σ exp: a probability that underflows to 0 must not
        // turn a zero target weight into 0 · −∞ = NaN (a small temperature gets there).
        func logSoftmaxRows(_ m: [[Double]]) -> [[Double]] {
            m.map { row in
                let mx = row.max() ?? 0
                let lse = Glibc.log(row.reduce(0) { $0 + Glibc.exp($1 - mx) })
                return row.map { $0 - mx - lse }
            }
        }
        let logitsI2T = cos.map { $0.map { $0 / t } }
        let logitsT2I = (0..<b).map { j in (0..<b).map { i in cos[i][j] / t } }
        let logPI2T = logSoftmaxRows(logitsI2T), logPT2I = logSoftmaxRows(logitsT2I)
        let pI2T = logPI2T.map { $0.map { Glibc.exp($0) } }, pT2I = logPT2I.map { $0.map { Glibc.exp($0) } }
        var loss = 0.0
        // dL/dcos[i][j] from both directions; each direction is a mean over B rows, halved.
        var dCos = [[Double]](repeating: [Double](repeating: 0, count: b), count: b)
        for i in 0..<b {
            for j in 0..<b {
                loss -= targets[i][j] * logPI2T[i][j] / Double(b) / 2
                loss -= targets[j][i] * logPT2I[j][i] / Double(b) / 2
                // softmax-CE gradient w.r.t. logits is p − target
                dCos[i][j] += (pI2T[i][j] - targets[i][j]) / Double(b) / 2 / t
                dCos[i][j] += (pT2I[j][i] - targets[j][i]) / Double(b) / 2 / t
            }
        }
        // logits = cos / t ⇒ dL/dt = Σ dL/dlogit · (−cos / t²) = −Σ dCos·cos / t
        var dT = 0.0
        for i in 0..<b { for j in 0..<b { dT -= dCos[i][j] * cos[i][j] / t } }
        var dImage = [Float](repeating: 0, count: b * e), dText = [Float](repeating: 0, count: b * e)
        for i in 0..<b {
            for j in 0..<b where dCos[i][j] != 0 {
                for k in 0..<e {
                    dImage[i * e + k] += Float(dCos[i][j] * Double(text[j * e + k]))
                    dText[j * e + k] += Float(dCos[i][j] * Double(image[i * e + k]))
                }
            }
        }
        return Result(loss: loss, imageToText: pI2T, textToImage: pT2I, dImage: dImage, dText: dText, dTemperature: dT)
    }
}

/// ITM hard negatives as BLIP trains its filter: for each text an image, for each image a
/// text, drawn from softmax(sim / temp) with every row of the same image id excluded. A row
/// whose candidates are all positives gets no negative (nil).
enum HardNegatives {
    static func draw(weights: [[Double]], ids: [String], random: inout SeededRandom) -> [Int?] {
        weights.indices.map { i in
            var w = weights[i]
            for j in w.indices where ids[j] == ids[i] { w[j] = 0 }
            let total = w.reduce(0, +)
            guard total > 0 else { return nil }
            var u = random.nextUnit() * total
            for j in w.indices where w[j] > 0 {
                u -= w[j]
                if u < 0 { return j }
            }
            return w.lastIndex { $0 > 0 }
        }
    }
}

/// y = x / max(‖x‖, 1e-12) per row (torch.nn.functional.normalize) and its backward.
enum RowNormalization {
    static func forward(_ x: [Float], rows: Int, dim: Int) -> (y: [Float], norms: [Double]) {
        var y = x, norms = [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            var sq = 0.0
            for k in 0..<dim { sq += Double(x[r * dim + k]) * Double(x[r * dim + k]) }
            norms[r] = max(sq.squareRoot(), 1e-12)
            for k in 0..<dim { y[r * dim + k] = Float(Double(x[r * dim + k]) / norms[r]) }
        }
        return (y, norms)
    }

    /// dx = (dy − y·(y·dy)) / ‖x‖.
    static func backward(y: [Float], norms: [Double], dy: [Float], rows: Int, dim: Int) -> [Float] {
        var dx = [Float](repeating: 0, count: rows * dim)
        for r in 0..<rows {
            var dotYD = 0.0
            for k in 0..<dim { dotYD += Double(y[r * dim + k]) * Double(dy[r * dim + k]) }
            for k in 0..<dim {
                dx[r * dim + k] = Float((Double(dy[r * dim + k]) - Double(y[r * dim + k]) * dotYD) / norms[r])
            }
        }
        return dx
    }
}
