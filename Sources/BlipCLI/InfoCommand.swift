import ArgumentParser
import BlipCore

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Describe a model: architecture, sizes, storage, GEMM path.")
    @OptionGroup var common: CommonOptions

    func run() throws {
        do {
            let model = try common.loadModel()
            if common.json {
                print(model.infoJSON)
            } else {
                for (key, value) in model.info { print("\(key): \(value)") }
            }
        } catch let e as BlipError {
            reportError(e.message)
            throw ExitCode(2)
        }
    }
}
