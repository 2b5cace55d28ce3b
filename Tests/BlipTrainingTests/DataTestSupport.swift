import Foundation
import Testing
import BlipCore

/// Fixtures of the data-pipeline tests (Fixtures/data): two small photos from
/// Tests/BlipCoreTests/Fixtures/photos and golden.safetensors written by Python's safetensors.
enum DataFixtures {
    static let root = Bundle.module.resourcePath! + "/Fixtures/data"
    static func path(_ name: String) -> String { root + "/" + name }
}

/// A fresh directory under /tmp, removed with everything in it when the value is released.
final class ScratchDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/blip-data-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw BlipError.io("mkdtemp failed") }
        path = String(cString: made)
    }

    deinit { try? removeTree(path) }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    @discardableResult
    func write(_ name: String, text: String) throws -> String { try write(name, Array(text.utf8)) }

    /// Copies a fixture into the directory.
    @discardableResult
    func copy(fixture name: String, as target: String? = nil) throws -> String {
        try write(target ?? name, try readFile(DataFixtures.path(name)))
    }
}

/// The BlipError a throwing expression raised (nil when it did not throw one).
func blipError(_ body: () throws -> Void) -> BlipError? {
    do { try body() } catch let e as BlipError { return e } catch { return nil }
    return nil
}
