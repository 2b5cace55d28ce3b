import BlipCore

extension CapFiltOptions {
    /// Synthetic captions decode with the named preset (GenerationOptions' presets: hf, paper,
    /// capfilt); the seed is replaced per caption by `CaptionSeed`.
    public mutating func setPreset(_ name: String) throws {
        generation = try GenerationOptions.preset(named: name)
    }
}

extension CapFilter {
    /// Loads both models from their paths: what `blip capfilt` and `blip_capfilt` share. The
    /// options are checked before anything is loaded; `threads` 0 = all cores.
    public convenience init(captionerPath: String, filterPath: String, options: CapFiltOptions, threads: Int) throws {
        guard threads >= 0 else { throw BlipError.invalidArgument("threads must be 0 (all cores) or more (got \(threads))") }
        try options.validate()
        try self.init(captioner: BlipModel.load(directory: captionerPath, threads: threads),
                      filter: BlipModel.load(directory: filterPath, threads: threads), options: options)
    }
}
