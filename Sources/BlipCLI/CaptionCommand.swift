import ArgumentParser
import BlipCore

struct CaptionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "caption", abstract: "Caption images (BlipForConditionalGeneration).")
    @OptionGroup var common: CommonOptions
    @OptionGroup var generation: GenerationFlags
    @Option(help: "Text the caption starts with, e.g. \"a picture of\" (kept in the output).") var prompt: String?
    @Argument(help: "JPEG or PNG files ('-' reads stdin).") var images: [String]

    func run() throws {
        let options = try generation.options()
        let model = try loadOrExit(common)
        try forEachImage(images) { name, image in
            let result = try image.withView { try model.caption($0, prompt: prompt, options: options) }
            if common.json {
                return ["{\"image\": \(jsonQuote(name)), \"caption\": \(jsonQuote(result.text)), \"tokens\": \(jsonTokens(result.tokens))}"]
            }
            return ["\(name): \(result.text)"]
        }
    }
}

struct AnswerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "answer", abstract: "Answer questions about images (BlipForQuestionAnswering).")
    @OptionGroup var common: CommonOptions
    @OptionGroup var generation: GenerationFlags
    @Option(help: "The question (repeat the flag to ask several; each image is encoded once).") var question: [String]
    @Option(help: "A candidate answer (repeat the flag): rank mode, the answer is the candidate with the highest log-likelihood.")
    var candidate: [String] = []
    @Argument(help: "JPEG or PNG files ('-' reads stdin).") var images: [String]

    func run() throws {
        let options = try generation.options()
        let model = try loadOrExit(common)
        try forEachImage(images) { name, image in
            if !candidate.isEmpty {
                return try question.map { question in
                    let scores = try image.withView { try model.rankAnswers($0, question: question, candidates: candidate) }
                    let best = scores.indices.max { scores[$0] < scores[$1] } ?? 0
                    if common.json {
                        let list = zip(candidate, scores).map { "{\"answer\": \(jsonQuote($0)), \"log_likelihood\": \($1)}" }
                        return "{\"image\": \(jsonQuote(name)), \"question\": \(jsonQuote(question)), \"answer\": \(jsonQuote(candidate[best])), \"candidates\": [\(list.joined(separator: ", "))]}"
                    }
                    return line(name, question, candidate[best])
                }
            }
            let results = try image.withView { try model.answer($0, questions: question, options: options) }
            return zip(question, results).map { question, result in
                if common.json {
                    return "{\"image\": \(jsonQuote(name)), \"question\": \(jsonQuote(question)), \"answer\": \(jsonQuote(result.text)), \"tokens\": \(jsonTokens(result.tokens))}"
                }
                return line(name, question, result.text)
            }
        }
    }

    /// `image: answer` for one question; with several, the question too.
    private func line(_ name: String, _ question: String, _ answer: String) -> String {
        self.question.count == 1 ? "\(name): \(answer)" : "\(name): \(question) \(answer)"
    }
}

/// Token ids as a JSON array, for `--json` output.
private func jsonTokens(_ tokens: [Int32]) -> String {
    "[" + tokens.map(String.init).joined(separator: ", ") + "]"
}
