// The one unsafe spot of the capture reader: a C `FILE*` whose bytes come from an
// `InputFile`, so that libpcap parses exactly the bytes that are hashed (one pass
// over the file, one SHA-256 of what was really decoded).
//
// glibc's `fopencookie` does this; CPcap's shim declares it (Swift's Glibc module
// does not import it).

import ByteParsing
import CPcap
#if canImport(Glibc)
import Glibc
#endif

/// What the C callbacks reach through the cookie: the input and the first read error.
final class CookieSource {
    let file: InputFile
    /// The first error `file.read(into:)` threw; libpcap only sees "read error".
    var error: InputFileError?
    /// Bytes already taken from `file` (to detect its kind), handed out first.
    private var prefix: [UInt8]
    private var prefixUsed = 0

    init(file: InputFile, prefix: [UInt8] = []) {
        self.file = file
        self.prefix = prefix
    }

    /// Bytes handed to the stream so far (prefix and file), for `consumed(through:)`.
    private(set) var handedOut: UInt64 = 0

    /// Fills `buffer` from the prefix, then from the file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputFileError) -> Int {
        let count = try fill(buffer)
        handedOut += UInt64(count)
        return count
    }

    /// The stream position of whoever reads `stream` (libpcap): the bytes handed to the
    /// stream less those still waiting in its stdio buffer. After `pcap_next_ex` returns
    /// a record this is the file offset of the end of that record, whatever libpcap did
    /// with its lengths (a record longer than the snapshot length is read and partly
    /// discarded). O(1), no system call.
    func consumed(through stream: UnsafeMutablePointer<FILE>) -> UInt64 {
        // Safe: glibc keeps `_IO_read_ptr <= _IO_read_end` inside the stream's own
        // buffer (both nil before the first read); libpcap never uses ungetc, so the
        // stream is never in backup mode, where these would point into the backup area.
        var buffered: UInt64 = 0
        if let pointer = stream.pointee._IO_read_ptr, let end = stream.pointee._IO_read_end, end > pointer {
            buffered = UInt64(pointer.distance(to: end))
        }
        return handedOut >= buffered ? handedOut - buffered : 0
    }

    private func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(InputFileError) -> Int {
        if prefixUsed < prefix.count {
            let count = min(buffer.count, prefix.count - prefixUsed)
            prefix.withUnsafeBytes { bytes in
                UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[prefixUsed..<(prefixUsed + count)]))
            }
            prefixUsed += count
            return count
        }
        return try file.read(into: buffer)
    }
}

private typealias CookieRead = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<CChar>?, Int) -> Int
private typealias CookieSeek = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<Int64>?, Int32) -> Int32
private typealias CookieClose = @convention(c) (UnsafeMutableRawPointer?) -> Int32

// Safe: the cookie is the `Unmanaged` reference made in `openCookieStream`, retained
// until `cookieClose`; `buffer` holds `count` bytes (glibc's own stream buffer).
private let cookieRead: CookieRead = { cookie, buffer, count in
    guard let cookie, let buffer, count > 0 else { return 0 }
    let source = Unmanaged<CookieSource>.fromOpaque(cookie).takeUnretainedValue()
    do throws(InputFileError) {
        return try source.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: count))
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
/// until it is closed with `fclose` (or `pcap_close`).
func openCookieStream(_ source: CookieSource) -> Result<UnsafeMutablePointer<FILE>, CookieStreamError> {
    // No write function: the stream is opened "r".
    let functions = cairn_cookie_io_functions(read: cookieRead, write: nil, seek: cookieSeek, close: cookieClose)
    let cookie = Unmanaged.passRetained(source).toOpaque()
    guard let stream = cairn_fopencookie(cookie, "r", functions) else {
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
