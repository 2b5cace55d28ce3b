import BlipCore
import BlipData
import Foundation

/// One fuzz target: feeds untrusted bytes to one of libblip's parsers. Errors are the expected
/// outcome for most inputs; a crash, a sanitizer report or a hang is a bug.
struct FuzzTarget {
    let name: String
    let summary: String
    let run: (UnsafeRawBufferPointer) -> Void

    static let all: [FuzzTarget] = [
        FuzzTarget(name: "safetensors", summary: "safetensors header and tensor table, then every tensor read as float") { bytes in
            withTemporaryFile(bytes) { path in
                guard let file = try? SafetensorsFile(path: path) else { return }
                for (name, entry) in file.entries.sorted(by: { $0.key < $1.key }) {
                    _ = try? file.floats(name, shape: entry.shape)
                }
            }
        },
        FuzzTarget(name: "config", summary: "config.json (BlipConfig) and preprocessor_config.json") { bytes in
            guard let json = try? JSONValue.parse(bytes, file: "fuzz.json") else { return }
            _ = try? BlipConfig.parse(json, file: "config.json")
            if let pre = try? PreprocessorConfig.parse(json, file: "preprocessor_config.json") {
                _ = pre.outputSize(width: 640, height: 480)
            }
        },
        FuzzTarget(name: "int8", summary: "a `blip quantize` file loaded as a model") { bytes in
            withTemporaryFile(bytes) { path in _ = try? BlipModel.load(directory: path, threads: 1) }
        },
        FuzzTarget(name: "image", summary: "PNG/JPEG decoding, then preprocessing to 64 x 64") { bytes in
            guard let image = try? ImageDecoder.decode(bytes) else { return }
            var config = PreprocessorConfig()
            config.size = .exact(height: 64, width: 64)
            _ = try? ImagePreprocessor(config: config).preprocess(image)
        },
        FuzzTarget(name: "tokenizer", summary: "BERT tokenization and decoding of arbitrary text") { bytes in
            guard let tokenizer = Fixture.tokenizer else { return }
            let ids = tokenizer.encode(String(decoding: bytes, as: UTF8.self))
            _ = tokenizer.decode(ids)
        },
        FuzzTarget(name: "manifest", summary: "a finetune JSONL manifest, for the task the first byte picks") { bytes in
            guard let first = bytes.first else { return }
            let task: ManifestTask = [.caption, .vqa, .match][Int(first) % 3]
            withTemporaryFile(UnsafeRawBufferPointer(rebasing: bytes.dropFirst())) { path in
                _ = try? Manifest.read(path: path, task: task, strict: first & 0x80 != 0)
            }
        },
        FuzzTarget(name: "webdataset", summary: "a WebDataset tar shard read sample by sample (libarchive)") { bytes in
            withTemporaryFile(bytes) { path in
                guard let reader = try? WebDatasetReader(path: path, maxMemberBytes: 1 << 20) else { return }
                while let sample = reader.next() { _ = sample.files.count }
            }
        },
        FuzzTarget(name: "generation", summary: "blip_caption / blip_answer through the C ABI: params, prompt, result buffers",
                   run: GenerationFuzz.run),
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// The vocabulary the tokenizer target uses: the test fixtures' (the real BERT uncased one).
enum Fixture {
    static let tokenizer: BertTokenizer? = {
        let root = ProcessInfo.processInfo.environment["BLIP_FUZZ_FIXTURES"]
            ?? FileManager.default.currentDirectoryPath + "/Tests/BlipCoreTests/Fixtures"
        return try? BertTokenizer.load(directory: root + "/models/captioning")
    }()
}

/// Writes `bytes` to a per-process scratch file (in /dev/shm when there is one) for the
/// parsers that read files, and removes it afterwards.
func withTemporaryFile(_ bytes: UnsafeRawBufferPointer, _ body: (String) -> Void) {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let path = "\(folder)/blip-fuzz-\(getpid())"
    guard let handle = fopen(path, "wb") else { return }
    if let base = bytes.baseAddress { fwrite(base, 1, bytes.count, handle) }
    fclose(handle)
    body(path)
    unlink(path)
}
