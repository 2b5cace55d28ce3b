import BlipCore
import CBlip

/// Checks that `out` holds `count` floats.
func requireOutput(_ out: UnsafeMutablePointer<Float>?, _ available: Int, _ count: Int) throws -> UnsafeMutablePointer<Float> {
    let out = try required(out, "out")
    guard available >= count else {
        throw BlipError(.bufferTooSmall, "out holds \(available) floats, \(count) needed")
    }
    return out
}

@_cdecl("blip_encode_image")
public func blip_encode_image(_ handle: OpaquePointer?, _ images: UnsafePointer<blip_image>?, _ n: Int,
                              _ out: UnsafeMutablePointer<Float>?, _ outCount: Int) -> Int32 {
    guarded {
        let model = try modelFrom(handle)
        let views = try pixelViews(images, n)
        guard model.embeddingDim > 0 else {
            throw BlipError.unsupported("this \(model.config.architecture.rawValue) model has no vision_proj: image embeddings need a BlipForImageTextRetrieval model")
        }
        let dim = model.embeddingDim
        let out = try requireOutput(out, outCount, n * dim)
        for (i, embedding) in try model.imageEmbeddings(views).enumerated() {
            (out + i * dim).update(from: embedding, count: dim)
        }
        return BLIP_OK
    }
}

@_cdecl("blip_encode_image_states")
public func blip_encode_image_states(_ handle: OpaquePointer?, _ images: UnsafePointer<blip_image>?, _ n: Int,
                                     _ out: UnsafeMutablePointer<Float>?, _ outCount: Int) -> Int32 {
    guarded {
        let model = try modelFrom(handle)
        let views = try pixelViews(images, n)
        let per = model.visionTokens * model.visionWidth
        let out = try requireOutput(out, outCount, n * per)
        for (i, view) in views.enumerated() {
            let states = try model.imageStates(view)
            (out + i * per).update(from: states, count: per)
        }
        return BLIP_OK
    }
}
