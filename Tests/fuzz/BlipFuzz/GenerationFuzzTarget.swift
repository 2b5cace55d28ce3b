import CBlip
import Foundation

/// Fuzzes `blip_caption` / `blip_answer` through the C ABI with hostile generation params,
/// prompts and result buffers, on the tiny fixture models.
///
/// Input layout (a shorter input leaves the defaults in place):
///   byte 0        flags: bit 0 answer (else caption), bit 1 two images, bit 2 NULL params,
///                 bit 3 use the fuzzed size field, bit 4 token callback, bit 5 abort callback,
///                 bit 6 result buffers too small, bit 7 NULL prompt/question
///   bytes 1..<9   params->size (used only with bit 3)
///   bytes 9..<65  the params fields between `size` and the callbacks, in struct order
///   bytes 65...   the prompt or question (made NUL-terminated; any bytes, any encoding)
/// Callback and user-data pointers never come from the input: a garbage function pointer is the
/// caller's bug, not something a library can check.
enum GenerationFuzz {
    static let fieldBytes = 56

    static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let flags = bytes.first, let captioner = models.captioner, let vqa = models.vqa else { return }
        var params = blip_generation_default_params()
        withUnsafeMutableBytes(of: &params) { raw in
            if flags & 8 != 0 {
                let size = bytes.dropFirst(1).prefix(8)
                raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: size))
            }
            let fields = bytes.dropFirst(9).prefix(fieldBytes)
            UnsafeMutableRawBufferPointer(rebasing: raw[8..<(8 + fields.count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: fields))
        }
        // Work grows with beams × length × vocabulary (64 beams sampling with top-p sort 64
        // vocabulary rows per token, as transformers does): lengths are capped so an input stays
        // well inside libFuzzer's timeout under ASan, and a timeout means a real stall.
        params.max_length = min(params.max_length, 24)
        params.max_new_tokens = min(params.max_new_tokens, 16)
        let counter = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        counter.initialize(to: 0)
        defer { counter.deallocate() }
        params.on_token = flags & 16 != 0 ? stopAfterFiveTokens : nil
        params.should_abort = flags & 32 != 0 ? abortOnThirdCall : nil
        params.token_user_data = UnsafeMutableRawPointer(counter)
        params.abort_user_data = UnsafeMutableRawPointer(counter)

        var text = bytes.dropFirst(9 + fieldBytes).map { CChar(bitPattern: $0) }
        text.append(0)
        let n = flags & 2 != 0 ? 2 : 1
        let capacity = flags & 64 != 0 ? 3 : 256
        let textBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: n * capacity)
        let tokenBuffer = UnsafeMutablePointer<Int32>.allocate(capacity: n * capacity)
        defer { textBuffer.deallocate(); tokenBuffer.deallocate() }
        var results = (0..<n).map { i in
            blip_text_result(text: textBuffer + i * capacity, text_capacity: capacity,
                             tokens: tokenBuffer + i * capacity, tokens_capacity: capacity,
                             text_length: 0, n_tokens: 0, status: 0)
        }
        let images = [models.image, models.image]
        text.withUnsafeBufferPointer { prompt in
            let promptPointer = flags & 128 != 0 ? nil : prompt.baseAddress
            withUnsafePointer(to: params) { paramsPointer in
                let p = flags & 4 != 0 ? nil : paramsPointer
                if flags & 1 != 0 {
                    _ = blip_answer(vqa, images, n, promptPointer, p, &results)
                } else {
                    _ = blip_caption(captioner, images, n, promptPointer, p, &results)
                }
            }
        }
    }

    /// Both fixture models (loaded once, through the C ABI) and a 32 x 24 gradient image.
    static let models: (captioner: OpaquePointer?, vqa: OpaquePointer?, image: blip_image) = {
        let root = ProcessInfo.processInfo.environment["BLIP_FUZZ_FIXTURES"]
            ?? FileManager.default.currentDirectoryPath + "/Tests/BlipCoreTests/Fixtures"
        var captioner: OpaquePointer? = nil
        var vqa: OpaquePointer? = nil
        _ = blip_model_load(root + "/models/captioning-gen", nil, &captioner)
        _ = blip_model_load(root + "/models/vqa-gen", nil, &vqa)
        let (width, height) = (32, 24)
        let pixels = UnsafeMutablePointer<UInt8>.allocate(capacity: width * height * 3)
        for i in 0..<(width * height * 3) { pixels[i] = UInt8(truncatingIfNeeded: i * 7) }
        let image = blip_image(pixels: pixels, width: Int32(width), height: Int32(height),
                               stride: Int32(width * 3), format: BLIP_PIXEL_RGB8)
        return (captioner, vqa, image)
    }()
}

/// Streams five tokens, then asks the generator to stop.
private func stopAfterFiveTokens(_ token: Int32, _ text: UnsafePointer<CChar>?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    guard let counter = user?.assumingMemoryBound(to: Int32.self) else { return 1 }
    counter.pointee += 1
    return counter.pointee >= 5 ? 1 : 0
}

/// Aborts on its third call.
private func abortOnThirdCall(_ user: UnsafeMutableRawPointer?) -> Int32 {
    guard let counter = user?.assumingMemoryBound(to: Int32.self) else { return 1 }
    counter.pointee += 1
    return counter.pointee >= 3 ? 1 : 0
}
