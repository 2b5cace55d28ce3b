import Testing
@testable import BlipCore

/// Text encoder outputs against transformers on the tiny retrieval model.
@Suite struct TextEncoderTests {
    @Test func textEmbeddingsMatchTransformers() throws {
        let model = try Fixtures.load("itm")
        let cases = TextFixtures.model("itm")["text_embeddings"] as! [[String: Any]]
        #expect(cases.count >= 3)
        for c in cases {
            let ids = TextFixtures.ids(c["ids"])
            let e = try model.textEmbedding(ids: ids)
            #expect(maxAbsDiff(e, Fixtures.floats(c["embedding"])) < 1e-5, "\(ids)")
        }
    }

    @Test func itmMatchesTransformers() throws {
        let model = try Fixtures.load("itm")
        let images = TextFixtures.model("itm")["itm"] as! [String: Any]
        for photo in Fixtures.photoNames {
            let item = images[photo] as! [String: Any]
            let states = Fixtures.floats(item["vision_states"])
            for c in item["cases"] as! [[String: Any]] {
                let ids = TextFixtures.ids(c["ids"])
                let expected = Fixtures.floats(c["logits"])
                #expect(maxAbsDiff(try model.itmLogits(imageStates: states, textIds: ids), expected) < 1e-4, "\(photo) \(ids)")
                let p = try model.itmProbability(imageStates: states, textIds: ids)
                let m = max(expected[0], expected[1])
                let ref = Float(Double((expected[1] - m)).exp() / (Double(expected[0] - m).exp() + Double(expected[1] - m).exp()))
                #expect(abs(p - ref) < 1e-5)
            }
        }
    }

    @Test func badTextInputThrows() throws {
        let model = try Fixtures.load("itm")
        #expect(throws: BlipError.self) { try model.textEmbedding(ids: []) }
        #expect(throws: BlipError.self) { try model.textEmbedding(ids: [101, 30524, 102]) }
        #expect(throws: BlipError.self) { try model.textEmbedding(ids: [Int32](repeating: 1037, count: 41)) }
        #expect(throws: BlipError.self) { try model.itmProbability(imageStates: [0], textIds: [101, 102]) }
        let caption = try Fixtures.load("captioning")
        #expect(throws: BlipError.self) { try caption.textEmbedding(ids: [101, 102]) }
    }
}

private extension Double {
    func exp() -> Double { Foundation.exp(self) }
}

import Foundation
