import Synchronization

/// Library logging: silent unless a handler is installed (blip_log_set, the CLI's --verbose).
public enum Log {
    public enum Level: Int32, Sendable { case error = 0, warn = 1, info = 2, debug = 3 }
    public typealias Handler = @Sendable (Level, String) -> Void

    private static let handler = Mutex<Handler?>(nil)

    public static func setHandler(_ h: Handler?) { handler.withLock { $0 = h } }

    public static func write(_ level: Level, _ message: @autoclosure () -> String) {
        guard let h = handler.withLock({ $0 }) else { return }
        h(level, message())
    }
    public static func info(_ m: @autoclosure () -> String) { write(.info, m()) }
    public static func warn(_ m: @autoclosure () -> String) { write(.warn, m()) }
    public static func debug(_ m: @autoclosure () -> String) { write(.debug, m()) }
}
