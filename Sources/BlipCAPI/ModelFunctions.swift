import BlipCore
import CBlip

@_cdecl("blip_model_default_params")
public func blip_model_default_params() -> blip_model_params {
    blip_model_params(size: MemoryLayout<blip_model_params>.size, n_threads: 0)
}

@_cdecl("blip_model_load")
public func blip_model_load(_ path: UnsafePointer<CChar>?, _ p: UnsafePointer<blip_model_params>?,
                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded {
        let out = try required(out, "out_model")
        let path = try utf8String(path, "path")
        let settings = try sizedParams(p, "blip_model_params") ?? blip_model_default_params()
        guard settings.n_threads >= 0, settings.n_threads <= 1024 else {
            throw BlipError.invalidArgument("n_threads \(settings.n_threads) is out of range (0 = all cores)")
        }
        let model = try BlipModel.load(directory: path, threads: Int(settings.n_threads))
        out.pointee = OpaquePointer(Unmanaged.passRetained(model).toOpaque())
        return BLIP_OK
    }
}

@_cdecl("blip_model_free")
public func blip_model_free(_ model: OpaquePointer?) {
    guard let model else { return }
    Unmanaged<BlipModel>.fromOpaque(UnsafeRawPointer(model)).release()
}

@_cdecl("blip_model_info")
public func blip_model_info(_ handle: OpaquePointer?, _ buf: UnsafeMutablePointer<CChar>?, _ size: Int,
                            _ needed: UnsafeMutablePointer<Int>?) -> Int32 {
    guarded {
        let model = try modelFrom(handle)
        return try writeString(model.infoJSON, buf, size, needed)
    }
}

@_cdecl("blip_model_embedding_dim")
public func blip_model_embedding_dim(_ handle: OpaquePointer?) -> Int32 {
    guard let model = try? modelFrom(handle) else { return 0 }
    return Int32(model.embeddingDim)
}

@_cdecl("blip_model_vision_tokens")
public func blip_model_vision_tokens(_ handle: OpaquePointer?) -> Int32 {
    guard let model = try? modelFrom(handle) else { return 0 }
    return Int32(model.visionTokens)
}

@_cdecl("blip_model_vision_width")
public func blip_model_vision_width(_ handle: OpaquePointer?) -> Int32 {
    guard let model = try? modelFrom(handle) else { return 0 }
    return Int32(model.visionWidth)
}

@_cdecl("blip_quantize")
public func blip_quantize(_ modelDir: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?) -> Int32 {
    blip_quantize_with_params(modelDir, outPath, nil)
}

@_cdecl("blip_quantize_default_params")
public func blip_quantize_default_params() -> blip_quantize_params {
    // One source of truth for the defaults: QuantizeOptions (= the CLI's).
    let o = QuantizeOptions()
    var p = blip_quantize_params()
    p.size = MemoryLayout<blip_quantize_params>.size
    p.quantize_lm_head = o.quantizeLMHead ? 1 : 0
    p.embeddings = o.wordEmbeddings.cName
    p.image_activation_bits = o.imageActivations == .unsigned7 ? 7 : 8
    return p
}

@_cdecl("blip_quantize_with_params")
public func blip_quantize_with_params(_ modelDir: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?,
                                      _ params: UnsafePointer<blip_quantize_params>?) -> Int32 {
    guarded {
        let source = try utf8String(modelDir, "model_dir")
        let destination = try utf8String(outPath, "out_path")
        var options = QuantizeOptions()
        if let c = try sizedParams(params, "blip_quantize_params") {
            options.quantizeLMHead = c.quantize_lm_head != 0
            if let name = c.embeddings {
                try options.setWordEmbeddings(named: try utf8String(name, "params->embeddings"), label: "params->embeddings")
            }
            try options.setImageActivationBits(Int(c.image_activation_bits), label: "params->image_activation_bits")
        }
        try quantizeModel(directory: source, to: destination, options: options) { Log.info($0) }
        return BLIP_OK
    }
}

private extension QuantizeOptions.EmbeddingStorage {
    /// The C API's name of the storage, as a static string.
    var cName: UnsafePointer<CChar> {
        switch self {
        case .f16: staticCString("f16")
        case .int8: staticCString("int8")
        case .f32: staticCString("f32")
        }
    }
}
