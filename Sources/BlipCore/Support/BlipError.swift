/// Every failure libblip reports: a category (mapped 1:1 to the C status codes in blip.h)
/// and a message that names the file, tensor or argument at fault.
public struct BlipError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Int32, Sendable {
        case invalidArgument = -1
        case io = -2
        case modelFormat = -3
        case imageFormat = -4
        case unsupported = -5
        case outOfMemory = -6
        case bufferTooSmall = -7
        case aborted = -8
        case tooLarge = -9
        case internalError = -10
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func invalidArgument(_ m: String) -> BlipError { BlipError(.invalidArgument, m) }
    public static func io(_ m: String) -> BlipError { BlipError(.io, m) }
    public static func modelFormat(_ m: String) -> BlipError { BlipError(.modelFormat, m) }
    public static func imageFormat(_ m: String) -> BlipError { BlipError(.imageFormat, m) }
    public static func unsupported(_ m: String) -> BlipError { BlipError(.unsupported, m) }
    public static func tooLarge(_ m: String) -> BlipError { BlipError(.tooLarge, m) }
}
