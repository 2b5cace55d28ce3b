import BlipCore
import Glibc

/// A resumable training state: every parameter, AdamW's moments and step, and the run's
/// position, in one safetensors file written atomically. Random streams (crops, hard
/// negatives, dropout) are derived from (seed, step), so no generator state is needed: a
/// run resumed from step k replays steps k+1… exactly as the uninterrupted run.
enum Checkpoint {
    static func path(forOutput out: String) -> String { out + ".checkpoint.safetensors" }

    static func save(_ model: TrainingModel, optimizer: AdamW, step: Int, fingerprint: String, to path: String) throws {
        var writer = SafetensorsWriter()
        writer.metadata = ["format": "libblip-finetune-checkpoint", "step": String(step),
                           "adam_step": String(optimizer.step), "fingerprint": fingerprint]
        let s = model.store
        for t in s.tensors {
            try writer.add(name: "param/" + t.name, shape: t.shape, borrowingF32: UnsafeBufferPointer(start: s.values + t.offset, count: t.count))
            guard t.trainable else { continue }
            try writer.add(name: "adam_m/" + t.name, shape: t.shape, borrowingF32: UnsafeBufferPointer(start: optimizer.m + t.gradientOffset, count: t.count))
            try writer.add(name: "adam_v/" + t.name, shape: t.shape, borrowingF32: UnsafeBufferPointer(start: optimizer.v + t.gradientOffset, count: t.count))
        }
        try writer.write(to: path)
    }

    /// Restores into `model` and `optimizer`; returns the step the checkpoint was taken after.
    static func load(_ model: TrainingModel, optimizer: AdamW, fingerprint: String, from path: String) throws -> Int {
        let file = try SafetensorsFile(path: path)
        guard file.metadata["format"] == "libblip-finetune-checkpoint",
              let step = file.metadata["step"].flatMap(Int.init), step >= 0,
              let adamStep = file.metadata["adam_step"].flatMap(Int.init), adamStep >= 0 else {
            throw BlipError.modelFormat("\(path): not a libblip finetune checkpoint")
        }
        guard file.metadata["fingerprint"] == fingerprint else {
            throw BlipError.invalidArgument("\(path) was written by a run with different settings (task, data, batch, schedule or seed); remove it or rerun with the original flags")
        }
        let s = model.store
        for t in s.tensors {
            let values = try file.floats("param/" + t.name, shape: t.shape)
            (s.values + t.offset).update(from: values.pointer, count: t.count)
            guard t.trainable else { continue }
            let m = try file.floats("adam_m/" + t.name, shape: t.shape), v = try file.floats("adam_v/" + t.name, shape: t.shape)
            (optimizer.m + t.gradientOffset).update(from: m.pointer, count: t.count)
            (optimizer.v + t.gradientOffset).update(from: v.pointer, count: t.count)
        }
        optimizer.step = adamStep
        return step
    }
}
