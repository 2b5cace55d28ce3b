import ArgumentParser
import BlipCore

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Normalised ITC embeddings (retrieval models): one JSON line per --image / --text.")
    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "An image to embed (repeat the flag for more; '-' reads stdin).")
    var image: [String] = []

    @Option(name: .long, help: "A text to embed (repeat the flag for more).")
    var text: [String] = []

    func validate() throws {
        if image.isEmpty && text.isEmpty { throw ValidationError("give at least one --image or --text") }
    }

    func run() throws {
        let model = try loadOrExit(common)
        var textFailed = false
        for t in text {
            do {
                let embedding = try model.embedText(t)
                print("{\"text\": \(jsonQuote(t)), \"embedding\": \(jsonNumbers(embedding))}")
            } catch {
                textFailed = true
                reportError("\(error)")
                print("{\"text\": \(jsonQuote(t)), \"error\": \(jsonQuote("\(error)"))}")
            }
        }
        try forEachImage(image) { name, decoded in
            let embedding = try decoded.withView { try model.imageEmbeddings([$0])[0] }
            return ["{\"image\": \(jsonQuote(name)), \"embedding\": \(jsonNumbers(embedding))}"]
        }
        if textFailed { throw ExitCode(1) }
    }
}
