extension GenerationOptions {
    /// Names accepted by `--preset`, blip_generation_preset() and the Python binding.
    public static let presetNames = ["hf", "paper", "capfilt", "paper-vqa"]

    public static func preset(named name: String) throws -> GenerationOptions {
        switch name {
        case "hf": return .hf
        case "paper": return .paper
        case "capfilt": return .capfilt
        case "paper-vqa": return .paperVQA
        default:
            throw BlipError.invalidArgument("unknown preset '\(name)'; choose one of \(presetNames.joined(separator: ", "))")
        }
    }
}
