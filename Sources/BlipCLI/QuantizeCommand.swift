import ArgumentParser
import BlipCore
import Foundation

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Write a single-file int8 model (config, vocabulary, preprocessing and weights) usable wherever --model is.")
    @Option(help: "Source model directory (Hugging Face layout).") var model: String
    @Option(help: "Output file, e.g. blip-base.int8.safetensors.") var out: String
    @Flag(name: .customLong("float-lm-head"), help: "Run the LM head's vocabulary projection in float (slower decoding; same file size).")
    var floatLMHead = false
    @Option(help: "Word-embedding storage: f16 (default), int8 (23 MB smaller per table, less accurate) or f32.")
    var embeddings: String = "f16"
    @Option(name: .customLong("image-activation-bits"),
            help: "Activation levels for the linears that read image features (vision encoder, cross-attention keys/values): 7 (default, faster on AVX2) or 8 (more precise).")
    var imageActivationBits: Int = 7

    func run() throws {
        var options = QuantizeOptions()
        options.quantizeLMHead = !floatLMHead
        do {
            try options.setWordEmbeddings(named: embeddings, label: "--embeddings")
            try options.setImageActivationBits(imageActivationBits, label: "--image-activation-bits")
        } catch let e as BlipError {
            throw ValidationError(e.message)
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
