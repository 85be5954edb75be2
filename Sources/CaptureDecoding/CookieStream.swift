// The one unsafe spot of the capture reader: a C `FILE*` whose bytes come from an
// `InputFile`, so that libpcap parses exactly the bytes that are hashed (one pass
// over the file, one SHA-256 of what was really decoded).
//
// glibc's `fopencookie` does this, but Swift's Glibc module is built without
// `_GNU_SOURCE`, so neither `fopencookie` nor `cookie_io_functions_t` is imported.
// We look the function up with `dlsym` and call it through a C function type whose
// third parameter is `itimerspec`, a struct with the same ABI as
// `cookie_io_functions_t`: four 8-byte integer-class members, 32 bytes. On x86-64
// (System V) and AArch64 (AAPCS64) a by-value aggregate larger than 16 bytes is
// passed in caller-owned memory whatever its member types, so both declarations
// make the same call. `openCookieStream` checks the sizes before relying on it.
// The clean fix is a two-line C declaration with an asm label in a C target
// (`FILE *cairn_fopencookie(void *, const char *, struct cairn_io) __asm__("fopencookie")`).

import ByteParsing
#if canImport(Glibc)
import Glibc
#endif

/// What the C callbacks reach through the cookie: the input and the first read error.
final class CookieSource {
    let file: InputFile
    /// The first error `file.read(into:)` threw; libpcap only sees "read error".
    var error: InputFileError?

    init(file: InputFile) { self.file = file }
}

private typealias CookieRead = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<CChar>?, Int) -> Int
private typealias CookieSeek = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<Int64>?, Int32) -> Int32
private typealias CookieClose = @convention(c) (UnsafeMutableRawPointer?) -> Int32
private typealias FopencookieFunction =
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, itimerspec) -> UnsafeMutablePointer<FILE>?

// Safe: the cookie is the `Unmanaged` reference made in `openCookieStream`, retained
// until `cookieClose`; `buffer` holds `count` bytes (glibc's own stream buffer).
private let cookieRead: CookieRead = { cookie, buffer, count in
    guard let cookie, let buffer, count > 0 else { return 0 }
    let source = Unmanaged<CookieSource>.fromOpaque(cookie).takeUnretainedValue()
    do throws(InputFileError) {
        return try source.file.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: count))
    } catch {
        if source.error == nil { source.error = error }
        errno = EIO
        return -1
    }
}

// A capture is read once, front to back: no seeking.
private let cookieSeek: CookieSeek = { _, _, _ in
    errno = ESPIPE
    return -1
}

// Called once by `fclose` (which `pcap_close` calls): drops the reference taken at open.
private let cookieClose: CookieClose = { cookie in
    if let cookie { Unmanaged<CookieSource>.fromOpaque(cookie).release() }
    return 0
}

/// Size of the stdio buffer between the file and libpcap: large reads keep the
/// syscall count low; 256 KiB is well past the point where larger stops helping.
private let streamBufferSize = 256 * 1024

/// Opens a read-only `FILE*` over `source`. The stream owns a reference to `source`
/// until it is closed with `fclose` (or `pcap_close`). Nil with a reason when glibc's
/// `fopencookie` is not available.
func openCookieStream(_ source: CookieSource) -> Result<UnsafeMutablePointer<FILE>, CookieStreamError> {
    guard MemoryLayout<itimerspec>.size == 4 * MemoryLayout<UnsafeRawPointer>.size,
          MemoryLayout<CookieRead>.size == MemoryLayout<Int>.size,
          let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "fopencookie")  // RTLD_DEFAULT
    else { return .failure(CookieStreamError(message: "glibc fopencookie is not available")) }
    let fopencookie = unsafeBitCast(symbol, to: FopencookieFunction.self)
    // Field order of cookie_io_functions_t: read, write, seek, close. No write function:
    // the stream is opened "r".
    let functions = itimerspec(
        it_interval: timespec(tv_sec: unsafeBitCast(cookieRead, to: Int.self), tv_nsec: 0),
        it_value: timespec(tv_sec: unsafeBitCast(cookieSeek, to: Int.self),
                           tv_nsec: unsafeBitCast(cookieClose, to: Int.self)))
    let cookie = Unmanaged.passRetained(source).toOpaque()
    guard let stream = fopencookie(cookie, "r", functions) else {
        Unmanaged<CookieSource>.fromOpaque(cookie).release()
        return .failure(CookieStreamError(message: "fopencookie failed: \(String(cString: strerror(errno)))"))
    }
    // Before any read, as setvbuf requires; on failure the default buffer is used.
    _ = setvbuf(stream, nil, _IOFBF, streamBufferSize)
    return .success(stream)
}

struct CookieStreamError: Error {
    var message: String
}
