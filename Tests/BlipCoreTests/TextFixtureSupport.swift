import Foundation
@testable import BlipCore

/// Reference values for the text side, written by scripts/make_fixtures.py (`text_fixtures`).
enum TextFixtures {
    nonisolated(unsafe) static let expected: [String: Any] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.root + "/expected_text.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    static func model(_ name: String) -> [String: Any] { expected[name] as! [String: Any] }

    static func image(_ name: String, _ photo: String) -> [String: Any] {
        (model(name)["images"] as! [String: Any])[photo] as! [String: Any]
    }

    static func ids(_ any: Any?) -> [Int32] { (any as! [NSNumber]).map { $0.int32Value } }

    /// transformers generate kwargs → (options, prompt ids).
    static func options(_ kwargs: [String: Any]) -> (GenerationOptions, [Int32]) {
        var o = GenerationOptions()
        var prompt: [Int32] = []
        for (key, value) in kwargs {
            switch key {
            case "input_ids": prompt = ids(value)
            case "max_length": o.maxLength = (value as! NSNumber).intValue
            case "max_new_tokens": o.maxNewTokens = (value as! NSNumber).intValue
            case "min_length": o.minLength = (value as! NSNumber).intValue
            case "num_beams": o.numBeams = (value as! NSNumber).intValue
            case "repetition_penalty": o.repetitionPenalty = (value as! NSNumber).floatValue
            case "length_penalty": o.lengthPenalty = (value as! NSNumber).floatValue
            case "no_repeat_ngram_size": o.noRepeatNgramSize = (value as! NSNumber).intValue
            case "early_stopping":
                if let s = value as? String, s == "never" { o.earlyStopping = .never }
                else { o.earlyStopping = (value as! NSNumber).boolValue ? .allBeamsFinished : .heuristic }
            default: fatalError("unknown generate kwarg \(key) in expected_text.json")
            }
        }
        return (o, prompt)
    }

    static func cases(_ name: String) -> [(String, GenerationOptions, [Int32])] {
        let c = model(name)["cases"] as! [String: Any]
        return c.keys.sorted().map { key in
            let (o, p) = options(c[key] as! [String: Any])
            return (key, o, p)
        }
    }
}
