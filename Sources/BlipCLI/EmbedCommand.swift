import ArgumentParser
import BlipCore

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Normalised ITC embeddings (retrieval models): one JSON line per --image / --text.")
    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "An image to embed (repeat the flag for more; '-' reads stdin).")
    var image: [String] = []

    func validate() throws {
        if image.isEmpty { throw ValidationError("give at least one --image") }
    }

    func run() throws {
        let model: BlipModel
        do { model = try common.loadModel() } catch let e as BlipError { reportError(e.message); throw ExitCode(2) }
        try forEachImage(image) { name, decoded in
            let embedding = try decoded.withView { try model.imageEmbeddings([$0])[0] }
            return ["{\"image\": \(jsonQuote(name)), \"embedding\": \(jsonNumbers(embedding))}"]
        }
    }
}
