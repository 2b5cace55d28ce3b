import ArgumentParser
import CBlip
import BlipCore
import Foundation

@main
struct BlipCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blip",
        abstract: "BLIP vision-language models on the CPU: captions, answers, embeddings and model info.",
        version: "\(BLIP_VERSION_MAJOR).\(BLIP_VERSION_MINOR).\(BLIP_VERSION_PATCH)",
        subcommands: [CaptionCommand.self, AnswerCommand.self, MatchCommand.self, EmbedCommand.self, InfoCommand.self, QuantizeCommand.self, FinetuneCommand.self, CapFiltCommand.self])
}

/// Options every subcommand takes (interface.md).
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Model directory (Hugging Face layout: config.json, model.safetensors, vocab.txt).")
    var model: String

    @Option(name: .long, help: "Threads per call (0 = all cores).")
    var threads: Int = 0

    @Flag(name: .long, help: "Print one JSON object per result line and nothing else on stdout.")
    var json = false

    @Flag(name: .long, help: "Log library messages to stderr.")
    var verbose = false

    func loadModel() throws -> BlipModel {
        if verbose {
            Log.setHandler { level, message in FileHandle.standardError.write(Data("[blip \(level)] \(message)\n".utf8)) }
        }
        guard threads >= 0 else { throw ValidationError("--threads must be 0 or more") }
        return try BlipModel.load(directory: model, threads: threads)
    }
}

/// Loads the model or exits with status 2 and the library's message.
func loadOrExit(_ common: CommonOptions) throws -> BlipModel {
    do { return try common.loadModel() } catch let e as BlipError { reportError(e.message); throw ExitCode(2) }
}

/// Prints errors as `blip: message` on stderr.
func reportError(_ message: String) {
    FileHandle.standardError.write(Data("blip: \(message)\n".utf8))
}

/// Reads an image argument: a file path, or "-" for stdin.
func decodeImage(_ argument: String) throws -> PixelImage {
    if argument == "-" {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        return try ImageDecoder.decode([UInt8](data))
    }
    return try ImageDecoder.decode(fileAt: argument)
}

func jsonNumbers(_ values: [Float]) -> String {
    "[" + values.map { "\($0)" }.joined(separator: ", ") + "]"
}

/// Runs `body` on each image, printing its JSON line; a failing image gets an "error" line
/// and the others still run. Exits non-zero if any failed.
func forEachImage(_ images: [String], _ body: (String, PixelImage) throws -> [String]) throws {
    var failures = 0
    for name in images {
        do {
            let image = try decodeImage(name)
            for line in try body(name, image) { print(line) }
        } catch {
            failures += 1
            reportError("\(error)")
            print("{\"image\": \(jsonQuote(name)), \"error\": \(jsonQuote("\(error)"))}")
        }
    }
    if failures > 0 { throw ExitCode(1) }
}
