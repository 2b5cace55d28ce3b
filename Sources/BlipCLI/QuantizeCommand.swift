import ArgumentParser
import BlipCore
import Foundation

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Write a single-file int8 model (config, vocabulary, preprocessing and weights) usable wherever --model is.")
    @Option(help: "Source model directory (Hugging Face layout).") var model: String
    @Option(help: "Output file, e.g. blip-base.int8.safetensors.") var out: String
    @Flag(name: .customLong("float-lm-head"), help: "Keep the LM head's vocabulary projection in float (word embeddings stored as F16).")
    var floatLMHead = false

    func run() throws {
        var options = QuantizeOptions()
        if floatLMHead {
            options.quantizeLMHead = false
            options.wordEmbeddings = .f16
        }
        do {
            try quantizeModel(directory: model, to: out, options: options) { message in
                FileHandle.standardError.write(Data("\(message)\n".utf8))
            }
        } catch let e as BlipError {
            reportError(e.message)
            throw ExitCode(2)
        }
    }
}
