import BlipCapFilt
import BlipCore
import CBlip

@_cdecl("blip_capfilt_default_params")
public func blip_capfilt_default_params() -> blip_capfilt_params {
    // One source of truth for the defaults: CapFiltOptions (= the CLI's and interface.md's).
    let o = CapFiltOptions()
    var p = blip_capfilt_params()
    p.size = MemoryLayout<blip_capfilt_params>.size
    p.captions_per_image = Int32(clamping: o.captionsPerImage)
    p.threshold = o.threshold
    p.preset = staticCString("capfilt")
    p.seed = o.seed
    p.batch_size = Int32(clamping: o.batchSize)
    p.n_threads = 0
    p.resume = o.resume ? 1 : 0
    return p
}

/// One model: a loaded handle (borrowed, never freed here) or a path loaded for this call.
private enum ModelSource {
    case path(String)
    case loaded(BlipModel)

    init(path: UnsafePointer<CChar>?, handle: OpaquePointer?, _ name: String) throws {
        switch (path, handle) {
        case (nil, nil): throw BlipError.invalidArgument("params->\(name) is NULL (set it, or params->\(name)_model)")
        case (.some, .some): throw BlipError.invalidArgument("set only one of params->\(name) and params->\(name)_model")
        case let (path?, nil):
            let s = try utf8String(path, "params->\(name)")
            guard !s.isEmpty else { throw BlipError.invalidArgument("params->\(name) is empty") }
            self = .path(s)
        case let (nil, handle?): self = .loaded(try modelFrom(handle))
        }
    }
}

@_cdecl("blip_capfilt")
public func blip_capfilt(_ p: UnsafePointer<blip_capfilt_params>?) -> Int32 {
    guarded {
        guard let c = try sizedParams(p, "blip_capfilt_params") else { throw BlipError.invalidArgument("params is NULL") }
        let captioner = try ModelSource(path: c.captioner, handle: c.captioner_model, "captioner")
        let filter = try ModelSource(path: c.filter, handle: c.filter_model, "filter")
        let input = try utf8String(c.input, "params->input")
        let output = try utf8String(c.output, "params->output")
        guard !input.isEmpty else { throw BlipError.invalidArgument("params->input is empty") }
        guard !output.isEmpty else { throw BlipError.invalidArgument("params->output is empty") }
        var options = CapFiltOptions()
        options.captionsPerImage = Int(c.captions_per_image)
        options.threshold = c.threshold
        options.seed = c.seed
        if let prompt = c.prompt { options.prompt = try utf8String(prompt, "params->prompt") }
        options.batchSize = Int(c.batch_size)
        options.resume = c.resume != 0
        if let preset = c.preset {
            try options.setPreset(try utf8String(preset, "params->preset"))
        }
        guard c.n_threads >= 0 else { throw BlipError.invalidArgument("params->n_threads must be 0 (all cores) or more (got \(c.n_threads))") }
        try options.validate()

        let shouldAbort: () -> Bool = {
            guard let abort = c.should_abort else { return false }
            return abort(c.abort_user_data) != 0
        }
        if shouldAbort() { throw BlipError(.aborted, "capfilt aborted before it started") }
        let capfilter: CapFilter
        switch (captioner, filter) {
        case let (.path(cp), .path(fp)):  // as the CLI loads them
            capfilter = try CapFilter(captionerPath: cp, filterPath: fp, options: options, threads: Int(c.n_threads))
        default:
            func load(_ source: ModelSource) throws -> BlipModel {
                switch source {
                case let .loaded(m): return m
                case let .path(path): return try BlipModel.load(directory: path, threads: Int(c.n_threads))
                }
            }
            capfilter = try CapFilter(captioner: load(captioner), filter: load(filter), options: options)
        }
        let job = try CapFiltJob(input: input, output: output, capfilter: capfilter)
        let summary = try job.run { s in
            if let callback = c.on_progress {
                s.unit.withCString { name in
                    var progress = blip_capfilt_progress(
                        pairs_done: Int64(s.statistics.pairs), pairs_total: Int64(s.knownPairs ?? -1),
                        errors: Int64(s.statistics.errors), shards_done: Int32(clamping: s.unitsDone),
                        shards_total: Int32(clamping: s.unitCount), shards_skipped: Int32(clamping: s.skipped),
                        images_per_second: s.imagesPerSecond, elapsed_seconds: s.elapsedSeconds,
                        eta_seconds: s.remainingSeconds ?? -1, shard: name)
                    callback(&progress, c.progress_user_data)
                }
            }
            return !shouldAbort()
        }
        Log.info("capfilt: " + summary.text)
        return BLIP_OK
    }
}
