import BlipCore
import CBlip

@_cdecl("blip_generation_default_params")
public func blip_generation_default_params() -> blip_generation_params {
    var p = blip_generation_params()
    p.size = MemoryLayout<blip_generation_params>.size
    apply(.hf, to: &p)
    return p
}

private func apply(_ o: GenerationOptions, to p: inout blip_generation_params) {
    p.max_length = Int32(o.maxLength ?? 0)
    p.max_new_tokens = Int32(o.maxNewTokens ?? 0)
    p.min_length = Int32(o.minLength)
    p.num_beams = Int32(o.numBeams)
    p.do_sample = o.doSample ? 1 : 0
    p.temperature = o.temperature
    p.top_k = Int32(o.topK)
    p.top_p = o.topP
    p.repetition_penalty = o.repetitionPenalty
    p.length_penalty = o.lengthPenalty
    p.no_repeat_ngram_size = Int32(o.noRepeatNgramSize)
    p.early_stopping = o.earlyStopping == .heuristic ? 0 : o.earlyStopping == .allBeamsFinished ? 1 : 2
    p.seed = o.seed
}

@_cdecl("blip_generation_preset")
public func blip_generation_preset(_ name: UnsafePointer<CChar>?, _ params: UnsafeMutablePointer<blip_generation_params>?) -> Int32 {
    guarded {
        let params = try required(params, "params")
        let name = try utf8String(name, "name")
        _ = try sizedParams(UnsafePointer(params), "blip_generation_params")
        apply(try GenerationOptions.preset(named: name), to: &params.pointee)
        return BLIP_OK
    }
}

/// GenerationOptions from C params (NULL = defaults), range-checked by the generator.
private func options(_ p: UnsafePointer<blip_generation_params>?) throws -> (GenerationOptions, blip_generation_params) {
    let c = try sizedParams(p, "blip_generation_params") ?? blip_generation_default_params()
    guard (0...2).contains(c.early_stopping) else {
        throw BlipError.invalidArgument("early_stopping \(c.early_stopping) is not one of the BLIP_EARLY_STOPPING_* values")
    }
    guard c.max_length >= 0 else { throw BlipError.invalidArgument("max_length must be positive, or 0 for the default (got \(c.max_length))") }
    guard c.max_new_tokens >= 0 else { throw BlipError.invalidArgument("max_new_tokens must be positive, or 0 for unset (got \(c.max_new_tokens))") }
    let o = GenerationOptions(
        maxLength: c.max_length > 0 ? Int(c.max_length) : nil,
        maxNewTokens: c.max_new_tokens > 0 ? Int(c.max_new_tokens) : nil,
        minLength: Int(c.min_length), numBeams: Int(c.num_beams), doSample: c.do_sample != 0,
        temperature: c.temperature, topK: Int(c.top_k), topP: c.top_p,
        repetitionPenalty: c.repetition_penalty, lengthPenalty: c.length_penalty,
        noRepeatNgramSize: Int(c.no_repeat_ngram_size),
        earlyStopping: c.early_stopping == 0 ? .heuristic : c.early_stopping == 1 ? .allBeamsFinished : .never,
        seed: c.seed)
    return (o, c)
}

/// Writes one generated text into a caller's result struct; returns its status.
private func store(_ generated: BlipModel.GeneratedText, in r: inout blip_text_result) -> Int32 {
    let bytes = Array(generated.text.utf8)
    r.text_length = bytes.count
    r.n_tokens = generated.tokens.count
    var fits = true
    if let text = r.text, r.text_capacity > bytes.count {
        bytes.withUnsafeBufferPointer { UnsafeMutableRawPointer(text).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        text[bytes.count] = 0
    } else {
        fits = false
    }
    if let tokens = r.tokens {
        if r.tokens_capacity >= generated.tokens.count {
            generated.tokens.withUnsafeBufferPointer { tokens.update(from: $0.baseAddress!, count: generated.tokens.count) }
        } else {
            fits = false
        }
    }
    return fits ? BLIP_OK : BLIP_ERR_BUFFER_TOO_SMALL
}

/// Shared body of blip_caption and blip_answer: per-image results, first failure returned.
private func generateTexts(_ handle: OpaquePointer?, _ images: UnsafePointer<blip_image>?, _ n: Int,
                           _ params: UnsafePointer<blip_generation_params>?,
                           _ results: UnsafeMutablePointer<blip_text_result>?,
                           _ run: (BlipModel, PixelView, GenerationOptions, ((Int32, String) -> Bool)?) throws -> BlipModel.GeneratedText) -> Int32 {
    guarded {
        let model = try modelFrom(handle)
        guard n > 0, n <= 1 << 20 else { throw BlipError.invalidArgument("n_images must be between 1 and 2^20 (got \(n))") }
        let images = try required(images, "images")
        let results = try required(results, "results")
        let (opts, c) = try options(params)
        let onToken: ((Int32, String) -> Bool)?
        if c.on_token != nil || c.should_abort != nil {
            onToken = { token, text in
                if let abort = c.should_abort, abort(c.abort_user_data) != 0 { return false }
                if let cb = c.on_token { return text.withCString { cb(token, $0, c.token_user_data) } == 0 }
                return true
            }
        } else {
            onToken = nil
        }
        var first: BlipError? = nil
        for i in 0..<n {
            results[i].text_length = 0
            results[i].n_tokens = 0
            do {
                if let abort = c.should_abort, abort(c.abort_user_data) != 0 {
                    throw BlipError(.aborted, "aborted by the abort callback")
                }
                let view = try pixelView(images[i], index: i)
                let generated = try run(model, view, opts, onToken)
                results[i].status = store(generated, in: &results[i])
                if results[i].status != BLIP_OK, first == nil {
                    first = BlipError(.bufferTooSmall, "results[\(i)]: buffers too small: text needs \(generated.text.utf8.count + 1) bytes, tokens \(generated.tokens.count) ids")
                }
            } catch let e as BlipError {
                results[i].status = e.kind.rawValue
                if first == nil { first = BlipError(e.kind, n > 1 ? "images[\(i)]: \(e.message)" : e.message) }
                if e.kind == .aborted {
                    for j in (i + 1)..<n { results[j].status = e.kind.rawValue }
                    break
                }
            }
        }
        if let first { throw first }
        return BLIP_OK
    }
}

@_cdecl("blip_caption")
public func blip_caption(_ handle: OpaquePointer?, _ images: UnsafePointer<blip_image>?, _ n: Int,
                         _ prompt: UnsafePointer<CChar>?, _ params: UnsafePointer<blip_generation_params>?,
                         _ results: UnsafeMutablePointer<blip_text_result>?) -> Int32 {
    var promptText: String? = nil
    if let prompt {
        guard let s = String(validatingCString: prompt) else {
            return fail(BlipError.invalidArgument("prompt is not valid UTF-8"))
        }
        promptText = s
    }
    return generateTexts(handle, images, n, params, results) { model, view, opts, onToken in
        try model.caption(view, prompt: promptText, options: opts, onToken: onToken)
    }
}

@_cdecl("blip_answer")
public func blip_answer(_ handle: OpaquePointer?, _ images: UnsafePointer<blip_image>?, _ n: Int,
                        _ question: UnsafePointer<CChar>?, _ params: UnsafePointer<blip_generation_params>?,
                        _ results: UnsafeMutablePointer<blip_text_result>?) -> Int32 {
    guard let question else { return fail(BlipError.invalidArgument("question is NULL")) }
    guard let q = String(validatingCString: question) else { return fail(BlipError.invalidArgument("question is not valid UTF-8")) }
    return generateTexts(handle, images, n, params, results) { model, view, opts, onToken in
        try model.answer(view, question: q, options: opts, onToken: onToken)
    }
}

@_cdecl("blip_answer_rank")
public func blip_answer_rank(_ handle: OpaquePointer?, _ image: UnsafePointer<blip_image>?, _ question: UnsafePointer<CChar>?,
                             _ candidates: UnsafePointer<UnsafePointer<CChar>?>?, _ n: Int,
                             _ scoresOut: UnsafeMutablePointer<Float>?) -> Int32 {
    guarded {
        let model = try modelFrom(handle)
        let view = try pixelView(try required(image, "image").pointee, index: 0)
        let question = try utf8String(question, "question")
        let candidates = try strings(candidates, n)
        let out = try required(scoresOut, "scores_out")
        let scores = try model.rankAnswers(view, question: question, candidates: candidates)
        out.update(from: scores, count: scores.count)
        return BLIP_OK
    }
}
