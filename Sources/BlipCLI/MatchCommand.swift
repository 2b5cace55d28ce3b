import ArgumentParser
import BlipCore

struct MatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match",
        abstract: "Image-text matching (BlipForImageTextRetrieval): ITM probability and ITC cosine per pair.")
    @OptionGroup var common: CommonOptions
    @Option(help: "A text to match (repeat the flag for more).") var text: [String] = []
    @Argument(help: "JPEG or PNG files ('-' reads stdin).") var images: [String]

    func validate() throws {
        if text.isEmpty { throw ValidationError("give at least one --text") }
    }

    func run() throws {
        let model = try loadOrExit(common)
        try forEachImage(images) { name, image in
            let scores = try image.withView { try model.match([$0], texts: text) }
            return text.indices.map { j in
                let t = text[j], itm = scores.itm[j], itc = scores.itc[j]
                return common.json
                    ? "{\"image\": \(jsonQuote(name)), \"text\": \(jsonQuote(t)), \"itm\": \(itm), \"itc\": \(itc)}"
                    : "\(name)\t\(t)\titm \(itm)\titc \(itc)"
            }
        }
    }
}
