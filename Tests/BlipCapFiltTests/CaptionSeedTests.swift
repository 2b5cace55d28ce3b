import BlipCapFilt
import Testing

@Suite struct CaptionSeedTests {
    @Test func seedsDependOnEveryInputAndNothingElse() {
        let a = CaptionSeed.derive(seed: 0, key: "000000001", index: 0)
        #expect(a == CaptionSeed.derive(seed: 0, key: "000000001", index: 0))
        let variants = [CaptionSeed.derive(seed: 1, key: "000000001", index: 0),
                        CaptionSeed.derive(seed: 0, key: "000000002", index: 0),
                        CaptionSeed.derive(seed: 0, key: "000000001", index: 1)]
        #expect(Set(variants + [a]).count == 4)
    }
}
