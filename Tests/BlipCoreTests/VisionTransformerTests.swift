import Testing
@testable import BlipCore

/// The vision encoder against transformers, fed the exact pixel_values transformers computed
/// (so this isolates the transformer from the image pipeline).
@Suite struct VisionTransformerTests {
    @Test(arguments: ["captioning", "vqa", "itm"])
    func lastHiddenStateMatchesTransformers(arch: String) throws {
        let model = try Fixtures.load(arch)
        for photo in Fixtures.photoNames {
            let ref = Fixtures.expectedImage(arch, photo)
            let states = try model.imageStates([Fixtures.floats(ref["pixel_values"])])[0]
            let expected = Fixtures.floats(ref["vision_states"])
            #expect(maxAbsDiff(states, expected) < 1e-4, "\(arch) \(photo)")
        }
    }

    @Test func imageEmbeddingMatchesTransformers() throws {
        let model = try Fixtures.load("itm")
        for photo in Fixtures.photoNames {
            let ref = Fixtures.expectedImage("itm", photo)
            let states = try model.imageStates([Fixtures.floats(ref["pixel_values"])])[0]
            let embedding = try model.imageEmbedding(states: states)
            #expect(maxAbsDiff(embedding, Fixtures.floats(ref["image_embedding"])) < 1e-4, "\(photo)")
        }
    }

    @Test func embeddingNeedsRetrievalModel() throws {
        let model = try Fixtures.load("captioning")
        let states = [Float](repeating: 0, count: model.visionTokens * model.visionWidth)
        #expect(throws: BlipError.self) { try model.imageEmbedding(states: states) }
    }
}
