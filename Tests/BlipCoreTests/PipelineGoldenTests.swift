import Testing
@testable import BlipCore

/// The whole image path (decode → RGB → PIL bicubic → normalise) against the pixel_values
/// transformers computed for the fixture photos, and then through the vision model.
@Suite struct PipelineGoldenTests {
    @Test(arguments: Fixtures.photoNames)
    func pixelValuesMatchTransformers(photo: String) throws {
        let model = try Fixtures.load("itm")
        let image = try ImageDecoder.decode(fileAt: Fixtures.photo(photo))
        let pixels = try image.withView { try model.pixelValues($0) }
        let expected = Fixtures.floats(Fixtures.expectedImage("itm", photo)["pixel_values"])
        #expect(maxAbsDiff(pixels, expected) < 1e-5, "\(photo)")
        let states = try model.imageStates([pixels])[0]
        let embedding = try model.imageEmbedding(states: states)
        #expect(maxAbsDiff(embedding, Fixtures.floats(Fixtures.expectedImage("itm", photo)["image_embedding"])) < 1e-4, "\(photo)")
    }
}
