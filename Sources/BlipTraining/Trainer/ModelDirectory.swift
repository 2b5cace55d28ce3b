import BlipCore
import Glibc

/// Where a run's model comes from and how its output directory is written.
struct ModelSource {
    /// The folder holding the tokenizer and preprocessor files (the model directory, or the
    /// folder of `--config`).
    let folder: String
    let configPath: String
    let config: BlipConfig
    /// model.safetensors, or nil when training from scratch.
    let weightsPath: String?

    static let companionFiles = ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                                 "preprocessor_config.json", "generation_config.json", "tokenizer.json"]

    init(options: FinetuneOptions) throws {
        if let model = options.modelPath {
            var st = stat()
            guard stat(model, &st) == 0 else { throw BlipError.io("\(model): no such file or directory") }
            if (st.st_mode & S_IFMT) == S_IFREG {
                throw BlipError.unsupported("\(model) is a single-file (int8) model written by `blip quantize`: finetune the Hugging Face directory it was made from, then quantize the result")
            }
            folder = model
            configPath = model + "/config.json"
            weightsPath = model + "/model.safetensors"
            guard access(model + "/model.safetensors", R_OK) == 0 else {
                throw BlipError.io("\(model): no readable model.safetensors")
            }
        } else if let config = options.configPath {
            let slash = config.lastIndex(of: "/")
            folder = slash.map { String(config[..<$0]) } ?? "."
            configPath = config
            weightsPath = nil
        } else {
            throw BlipError.invalidArgument("give --model DIR or --config CONFIG.json")
        }
        config = try BlipConfig.load(path: configPath)
        guard access(folder + "/vocab.txt", R_OK) == 0 else {
            throw BlipError.io("\(folder): no vocab.txt (the tokenizer files must sit beside the model's config.json)")
        }
    }

    /// Writes a Hugging Face directory (config, weights, tokenizer and preprocessor files) at
    /// `path`, atomically: a crash leaves either the previous output or the new one.
    func writeModel(_ model: TrainingModel, to path: String) throws {
        try replaceDirectoryAtomically(at: path) { dir in
            try copyFile(from: configPath, to: dir + "/config.json")
            for name in Self.companionFiles where access(folder + "/" + name, R_OK) == 0 {
                try copyFile(from: folder + "/" + name, to: dir + "/" + name)
            }
            var writer = SafetensorsWriter()
            writer.metadata = ["format": "pt"]
            for t in model.exportedTensors() {
                try writer.add(name: t.name, shape: t.shape,
                               borrowingF32: UnsafeBufferPointer(start: model.store.values + t.offset, count: t.count))
            }
            try writer.write(to: dir + "/model.safetensors")
        }
    }
}
