import Foundation
import Testing
@testable import BlipCore

/// VQA rank mode against log-likelihoods computed with transformers' modules
/// (scripts/make_rank_fixtures.py).
@Suite struct VQARankTests {
    @Test func rankScoresMatchTransformers() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.root + "/expected_rank.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let question = json["question"] as! String
        let candidates = json["candidates"] as! [String]
        let model = try BlipModel.load(directory: Fixtures.model("vqa-gen"), threads: 2)
        for (photo, expected) in json["images"] as! [String: [Double]] {
            let image = try ImageDecoder.decode(fileAt: Fixtures.photo(photo))
            let scores = try image.withView { try model.rankAnswers($0, question: question, candidates: candidates) }
            for (s, e) in zip(scores, expected) {
                #expect(abs(Double(s) - e) < 1e-3, "\(photo): \(s) vs \(e)")
            }
            // the ranking itself is what users consume
            #expect(scores.indices.sorted { scores[$0] > scores[$1] } == expected.indices.sorted { expected[$0] > expected[$1] })
        }
    }

    @Test func rankNeedsCandidatesAndVQAModel() throws {
        let model = try BlipModel.load(directory: Fixtures.model("vqa-gen"), threads: 1)
        let image = try ImageDecoder.decode(fileAt: Fixtures.photo("chelsea.png"))
        #expect(throws: BlipError.self) { try image.withView { try model.rankAnswers($0, question: "what?", candidates: []) } }
        #expect(throws: BlipError.self) { try image.withView { try model.rankAnswers($0, question: "", candidates: ["a"]) } }
        let captioner = try Fixtures.load("captioning")
        #expect(throws: BlipError.self) { try image.withView { try captioner.rankAnswers($0, question: "what?", candidates: ["a"]) } }
    }
}
