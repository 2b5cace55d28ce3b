#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The image-processor settings of a checkpoint (`preprocessor_config.json`), with the
/// defaults of Hugging Face's `BlipImageProcessor`.
public struct PreprocessorConfig: Sendable, Equatable {
    public enum Size: Sendable, Equatable {
        /// Resize to exactly this size (`{"height","width"}`, an int, or `[h, w]`).
        case exact(height: Int, width: Int)
        /// Resize so the shorter side is this long, keeping the aspect ratio (`{"shortest_edge"}`).
        case shortestEdge(Int)
    }

    public var size: Size = .exact(height: 384, width: 384)
    public var doResize = true
    public var doRescale = true
    public var doNormalize = true
    public var doConvertRGB = true
    public var rescaleFactor: Double = 1.0 / 255.0
    /// OPENAI_CLIP_MEAN / OPENAI_CLIP_STD.
    public var imageMean: [Double] = [0.48145466, 0.4578275, 0.40821073]
    public var imageStd: [Double] = [0.26862954, 0.26130258, 0.27577711]
    public var resample: ResampleFilter = .bicubic

    public init() {}

    /// BlipImageProcessor defaults: 384x384 bicubic, rescale 1/255, CLIP mean/std.
    public static let `default` = PreprocessorConfig()

    /// Parses a preprocessor_config.json object; keys absent from it keep the defaults.
    public static func parse(_ json: JSONValue, file: String = "preprocessor_config.json") throws -> PreprocessorConfig {
        guard json.objectValue != nil else { throw BlipError.modelFormat("\(file): not a JSON object") }
        var c = PreprocessorConfig()
        func bool(_ key: String) throws -> Bool? {
            guard let v = json[key], v != .null else { return nil }
            guard let b = v.boolValue else { throw BlipError.modelFormat("\(file): \"\(key)\" must be true or false") }
            return b
        }
        func positive(_ v: JSONValue?, _ what: String) throws -> Int {
            guard let i = v?.intValue, i > 0, i <= 65536 else {
                throw BlipError.modelFormat("\(file): \(what) must be a positive integer <= 65536")
            }
            return i
        }
        func triple(_ key: String) throws -> [Double]? {
            guard let v = json[key], v != .null else { return nil }
            if let d = v.doubleValue, d.isFinite { return [d, d, d] }
            guard let a = v.arrayValue, a.count == 3 else {
                throw BlipError.modelFormat("\(file): \"\(key)\" must be a number or a list of 3 numbers")
            }
            return try a.map {
                guard let d = $0.doubleValue, d.isFinite else {
                    throw BlipError.modelFormat("\(file): \"\(key)\" must contain finite numbers")
                }
                return d
            }
        }
        if let b = try bool("do_resize") { c.doResize = b }
        if let b = try bool("do_rescale") { c.doRescale = b }
        if let b = try bool("do_normalize") { c.doNormalize = b }
        if let b = try bool("do_convert_rgb") { c.doConvertRGB = b }
        if let b = try bool("do_center_crop"), b {
            throw BlipError.unsupported("\(file): do_center_crop is not supported (BLIP does not crop)")
        }
        if let v = json["rescale_factor"], v != .null {
            guard let d = v.doubleValue, d.isFinite else { throw BlipError.modelFormat("\(file): \"rescale_factor\" must be a number") }
            c.rescaleFactor = d
        }
        if let m = try triple("image_mean") { c.imageMean = m }
        if let s = try triple("image_std") {
            guard !s.contains(0) else { throw BlipError.modelFormat("\(file): \"image_std\" must not contain 0") }
            c.imageStd = s
        }
        if let v = json["resample"], v != .null {
            guard let i = v.intValue else { throw BlipError.modelFormat("\(file): \"resample\" must be an integer") }
            guard let f = ResampleFilter(rawValue: i) else {
                throw BlipError.unsupported("\(file): resample \(i) is not supported (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)")
            }
            c.resample = f
        }
        if let v = json["size"], v != .null {
            if v.intValue != nil {
                let s = try positive(v, "\"size\"")
                c.size = .exact(height: s, width: s)  // get_size_dict(default_to_square=True)
            } else if let a = v.arrayValue {
                guard a.count == 2 else { throw BlipError.modelFormat("\(file): \"size\" list must be [height, width]") }
                c.size = .exact(height: try positive(a[0], "\"size\"[0]"), width: try positive(a[1], "\"size\"[1]"))
            } else if v.objectValue != nil {
                if v["height"] != nil || v["width"] != nil {
                    c.size = .exact(height: try positive(v["height"], "size.height"),
                                    width: try positive(v["width"], "size.width"))
                } else if let se = v["shortest_edge"] {
                    if let le = v["longest_edge"], le != .null {
                        throw BlipError.unsupported("\(file): size with both shortest_edge and longest_edge is not supported")
                    }
                    c.size = .shortestEdge(try positive(se, "size.shortest_edge"))
                } else {
                    throw BlipError.unsupported("\(file): \"size\" needs height/width or shortest_edge")
                }
            } else {
                throw BlipError.modelFormat("\(file): \"size\" must be an integer, a list or an object")
            }
        }
        return c
    }

    /// Reads `directory/preprocessor_config.json`; defaults when the file does not exist.
    public static func load(directory: String) throws -> PreprocessorConfig {
        let path = directory.hasSuffix("/") ? directory + "preprocessor_config.json" : directory + "/preprocessor_config.json"
        if access(path, F_OK) != 0 { return .default }
        let bytes = try readFile(path, limit: maxConfigFileBytes)
        return try parse(try JSONValue.parse(bytes, file: path), file: path)
    }

    /// Output (height, width) for an input of the given size.
    public func outputSize(width: Int, height: Int) -> (height: Int, width: Int) {
        guard doResize else { return (height, width) }
        switch size {
        case .exact(let h, let w):
            return (h, w)
        case .shortestEdge(let s):
            // get_resize_output_image_size(default_to_square=False): int(s * long / short)
            let (short, long) = width <= height ? (width, height) : (height, width)
            let newLong = Int(Double(s * long) / Double(short))
            return width <= height ? (newLong, s) : (s, newLong)
        }
    }
}

/// Turns pixels into the vision encoder's input exactly like transformers' PIL-backend BLIP
/// image processor: RGB conversion (alpha over white) -> Pillow resize on uint8 ->
/// float32(float64(x) * rescale_factor) -> (x - mean) / std in float32, channels-first [3, H, W].
public struct ImagePreprocessor: Sendable {
    public let config: PreprocessorConfig

    public init(config: PreprocessorConfig = .default) {
        self.config = config
    }

    /// Channels-first float32 [3, H, W] for `image`; (H, W) = config.outputSize(...).
    public func preprocess(_ image: PixelImage) throws -> [Float] {
        try image.withView { try preprocess($0) }
    }

    public func preprocess(_ view: PixelView) throws -> [Float] {
        let (h, w) = config.outputSize(width: view.width, height: view.height)
        try validateImageGeometry(width: w, height: h, format: .rgb8)
        var out = [Float](repeating: 0, count: 3 * h * w)
        try out.withUnsafeMutableBufferPointer { buf in
            guard let p = buf.baseAddress else { throw BlipError.invalidArgument("empty output") }
            try preprocess(view, into: p, capacity: buf.count)
        }
        return out
    }

    /// Writes channels-first float32 [3, H, W] into `output` (`capacity` floats available).
    public func preprocess(_ view: PixelView, into output: UnsafeMutablePointer<Float>, capacity: Int) throws {
        let (h, w) = config.outputSize(width: view.width, height: view.height)
        try validateImageGeometry(width: w, height: h, format: .rgb8)
        guard capacity >= 3 * h * w else {
            throw BlipError(.bufferTooSmall, "preprocessed image needs \(3 * h * w) floats, buffer holds \(capacity)")
        }
        // 1. RGB (a view of the caller's RGB pixels needs no copy), 2. resize (Pillow returns a
        // copy when the size is unchanged). A grey image is resized first and made RGB after:
        // the same bytes (Pillow resizes every channel alike, and R = G = B), without an RGB
        // copy three times the size of the decoded image (a 128 MP grey JPEG: 128 MB, not 512).
        let sameSize = view.width == w && view.height == h
        var rgbStorage: PixelImage?
        func withRGB<R>(_ body: (PixelView) throws -> R) throws -> R {
            if let rgbStorage { return try rgbStorage.withView(body) }
            return try body(view)
        }
        let resized: PixelImage?
        if view.format == .gray8, !sameSize {
            let grey = try ImageResizer.resize(view, width: w, height: h, filter: config.resample)
            resized = try grey.withView { RGBConversion.toRGB($0, compositeAlpha: config.doConvertRGB) }
        } else {
            if view.format != .rgb8 {
                rgbStorage = RGBConversion.toRGB(view, compositeAlpha: config.doConvertRGB)
            }
            resized = sameSize ? nil : try withRGB { try ImageResizer.resize($0, width: w, height: h, filter: config.resample) }
        }
        // 3. Rescale + normalise, HWC uint8 -> CHW float32.
        let scale = config.rescaleFactor
        let doRescale = config.doRescale, doNormalize = config.doNormalize
        let mean = config.imageMean.map { Float($0) }
        let std = config.imageStd.map { Float($0) }
        guard mean.count == 3, std.count == 3 else {
            throw BlipError.invalidArgument("image_mean and image_std need 3 values")
        }
        // Per-channel lookup: 256 possible inputs, each computed with HF's exact arithmetic.
        var lut = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            for v in 0..<256 {
                var x: Float = doRescale ? Float(Double(v) * scale) : Float(v)
                if doNormalize { x = (x - mean[c]) / std[c] }
                lut[c * 256 + v] = x
            }
        }
        let plane = h * w
        func emit(_ rgb: PixelView) {
            lut.withUnsafeBufferPointer { lb in
                guard let l = lb.baseAddress else { return }
                for y in 0..<h {
                    let s = rgb.row(y)
                    let o0 = output + y * w, o1 = o0 + plane, o2 = o1 + plane
                    for x in 0..<w {
                        o0[x] = l[Int(s[3 * x])]
                        o1[x] = l[256 + Int(s[3 * x + 1])]
                        o2[x] = l[512 + Int(s[3 * x + 2])]
                    }
                }
            }
        }
        if let resized { try resized.withView(emit) } else { try withRGB(emit) }
    }
}
