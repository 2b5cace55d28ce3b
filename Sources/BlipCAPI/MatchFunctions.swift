import BlipCore
import CBlip

/// Reads an array of C strings as UTF-8.
func strings(_ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int) throws -> [String] {
    guard n > 0, n <= 1 << 20 else { throw BlipError.invalidArgument("n_texts must be between 1 and 2^20 (got \(n))") }
    let texts = try required(texts, "texts")
    return try (0..<n).map { try utf8String(texts[$0], "texts[\($0)]") }
}

@_cdecl("blip_encode_text")
public func blip_encode_text(_ handle: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int,
                             _ out: UnsafeMutablePointer<Float>?, _ outCount: Int) -> Int32 {
    guarded {
        let model = try modelFrom(handle)
        let texts = try strings(texts, n)
        guard model.embeddingDim > 0 else {
            throw BlipError.unsupported("this \(model.config.architecture.rawValue) model has no text_proj: text embeddings need a BlipForImageTextRetrieval model")
        }
        let dim = model.embeddingDim
        let out = try requireOutput(out, outCount, n * dim)
        for (i, t) in texts.enumerated() {
            do {
                (out + i * dim).update(from: try model.embedText(t), count: dim)
            } catch let e as BlipError {
                throw BlipError(e.kind, n > 1 ? "texts[\(i)]: \(e.message)" : e.message)
            }
        }
        return BLIP_OK
    }
}

@_cdecl("blip_match")
public func blip_match(_ handle: OpaquePointer?, _ images: UnsafePointer<blip_image>?, _ nImages: Int,
                       _ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ nTexts: Int,
                       _ itmOut: UnsafeMutablePointer<Float>?, _ itcOut: UnsafeMutablePointer<Float>?, _ outCount: Int) -> Int32 {
    guarded {
        let model = try modelFrom(handle)
        let views = try pixelViews(images, nImages)
        let texts = try strings(texts, nTexts)
        guard itmOut != nil || itcOut != nil else { throw BlipError.invalidArgument("itm_out and itc_out are both NULL") }
        let (pairs, overflow) = nImages.multipliedReportingOverflow(by: nTexts)
        guard !overflow, outCount >= pairs else {
            throw BlipError(.bufferTooSmall, "out_count is \(outCount), \(nImages) x \(nTexts) = \(pairs) floats needed")
        }
        let scores = try model.match(views, texts: texts, itm: itmOut != nil, itc: itcOut != nil)
        if let itmOut { itmOut.update(from: scores.itm, count: pairs) }
        if let itcOut { itcOut.update(from: scores.itc, count: pairs) }
        return BLIP_OK
    }
}

@_cdecl("blip_retrieve")
public func blip_retrieve(_ handle: OpaquePointer?, _ images: UnsafePointer<blip_image>?, _ nImages: Int,
                          _ queries: UnsafePointer<UnsafePointer<CChar>?>?, _ nQueries: Int, _ topK: Int32, _ rerank: Int32,
                          _ indicesOut: UnsafeMutablePointer<Int32>?, _ scoresOut: UnsafeMutablePointer<Float>?,
                          _ outCount: Int) -> Int32 {
    guarded {
        let model = try modelFrom(handle)
        let views = try pixelViews(images, nImages)
        let queries = try strings(queries, nQueries)
        guard topK > 0 else { throw BlipError.invalidArgument("top_k must be positive (got \(topK))") }
        let indicesOut = try required(indicesOut, "indices_out")
        let scoresOut = try required(scoresOut, "scores_out")
        let k = min(Int(topK), nImages)
        guard outCount >= nQueries * k else {
            throw BlipError(.bufferTooSmall, "out_count is \(outCount), \(nQueries) x \(k) = \(nQueries * k) needed")
        }
        let results = try model.retrieve(views, queries: queries, topK: k, rerank: rerank != 0)
        for (q, hits) in results.enumerated() {
            for (r, hit) in hits.enumerated() {
                indicesOut[q * k + r] = Int32(hit.image)
                scoresOut[q * k + r] = hit.score
            }
        }
        return BLIP_OK
    }
}
