import BlipCore
import CBlip
import CBlipSupport
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("blip_last_error")
public func blip_last_error() -> UnsafePointer<CChar> { bs_last_error() }

@_cdecl("blip_status_string")
public func blip_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    let name: StaticString
    switch status {
    case 0: name = "BLIP_OK"
    case -1: name = "BLIP_ERR_INVALID_ARGUMENT"
    case -2: name = "BLIP_ERR_IO"
    case -3: name = "BLIP_ERR_MODEL_FORMAT"
    case -4: name = "BLIP_ERR_IMAGE_FORMAT"
    case -5: name = "BLIP_ERR_UNSUPPORTED"
    case -6: name = "BLIP_ERR_OUT_OF_MEMORY"
    case -7: name = "BLIP_ERR_BUFFER_TOO_SMALL"
    case -8: name = "BLIP_ERR_ABORTED"
    case -9: name = "BLIP_ERR_TOO_LARGE"
    case -10: name = "BLIP_ERR_INTERNAL"
    default: name = "BLIP_ERR_UNKNOWN"
    }
    return UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// "MAJOR.MINOR.PATCH" from blip.h's BLIP_VERSION_* (the one place the version is written for
/// the library, the CLI and pkg-config), kept for the process's lifetime.
private let versionCString: UnsafePointer<CChar> = UnsafePointer(strdup(
    "\(BLIP_VERSION_MAJOR).\(BLIP_VERSION_MINOR).\(BLIP_VERSION_PATCH)")!)

@_cdecl("blip_version")
public func blip_version() -> UnsafePointer<CChar> { versionCString }

/// The C callback and its user data, captured into the Swift log handler.
private struct LogTarget: @unchecked Sendable {
    let callback: blip_log_callback
    let userData: UnsafeMutableRawPointer?
}

@_cdecl("blip_log_set")
public func blip_log_set(_ callback: blip_log_callback?, _ userData: UnsafeMutableRawPointer?) {
    guard let callback else { Log.setHandler(nil); return }
    let target = LogTarget(callback: callback, userData: userData)
    Log.setHandler { level, message in
        message.withCString { target.callback(level.rawValue, $0, target.userData) }
    }
}
