import Foundation
import Testing
@testable import BlipTraining

/// `--stop-after`: a run that ends early in a longer schedule takes exactly that schedule's
/// first steps (learning rates and losses) and writes its model as a finished run does.
@Suite struct StopAfterTests {
    @Test func stopsInsideTheLongerSchedule() throws {
        let dir = TrainingFixtures.temporaryDirectory("stop-after")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(maxSteps: Int, stopAfter: Int?, out: String) throws -> (steps: [FinetuneProgress], summary: FinetuneSummary) {
            var o = TrainingFixtures.options(.caption, batchSize: 2, out: dir + "/" + out)
            o.maxSteps = maxSteps; o.stopAfter = stopAfter; o.lr = 1e-3; o.schedule = .cosine; o.warmupSteps = 1
            var steps: [FinetuneProgress] = []
            let summary = try Finetuner(options: o).run(onProgress: { steps.append($0) })
            return (steps, summary)
        }
        let whole = try run(maxSteps: 5, stopAfter: nil, out: "whole")
        let stopped = try run(maxSteps: 5, stopAfter: 3, out: "stopped")
        let short = try run(maxSteps: 3, stopAfter: nil, out: "short")
        #expect(stopped.summary.steps == 3)
        #expect(stopped.steps.map(\.lr) == whole.steps.prefix(3).map(\.lr))
        #expect(stopped.steps.map(\.loss) == whole.steps.prefix(3).map(\.loss))
        #expect(stopped.steps.map(\.totalSteps) == [5, 5, 5])
        // A 3-step schedule decays faster: its last rate is below the stopped run's.
        #expect(short.steps[2].lr < stopped.steps[2].lr)
        #expect(FileManager.default.fileExists(atPath: dir + "/stopped/model.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/stopped.checkpoint.safetensors"))
        // Beyond the schedule it changes nothing.
        let beyond = try run(maxSteps: 2, stopAfter: 9, out: "beyond")
        #expect(beyond.summary.steps == 2)
    }

    @Test func rejectsNonPositive() {
        var o = TrainingFixtures.options(.caption, batchSize: 2, out: "/tmp/unused")
        o.stopAfter = 0
        #expect(throws: (any Error).self) { try o.validate() }
    }
}
