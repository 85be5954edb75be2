import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An input file opened for one sequential pass, with its SHA-256 computed from the
/// very bytes that are read, so that a 50 GB capture is read once.
///
/// Not thread-safe: one reader owns it.
public final class InputFile {
    /// The path as given.
    public let path: String
    /// Size in bytes when it was opened.
    public let size: UInt64
    /// Bytes read so far.
    public private(set) var bytesRead: UInt64 = 0
    private let descriptor: Int32
    private var hasher = SHA256()
    private var closed = false

    /// Opens `path` read-only. Throws `InputFileError` naming the path and the reason.
    public init(path: String) throws(InputFileError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw InputFileError(path: path, reason: InputFile.describeErrno()) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let reason = InputFile.describeErrno()
            close(descriptor)
            throw InputFileError(path: path, reason: reason)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw InputFileError(path: path, reason: "not a regular file")
        }
        self.descriptor = descriptor
        self.size = UInt64(status.st_size)
    }

    deinit {
        if !closed { close(descriptor) }
    }

    /// Reads up to `buffer.count` bytes into `buffer`, hashing them; returns the count
    /// read, 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputFileError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let count = Glibc.read(descriptor, base, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw InputFileError(path: path, reason: InputFile.describeErrno())
            }
            if count > 0 {
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                bytesRead += UInt64(count)
            }
            return count
        }
    }

    /// Reads the rest of the file (without handing it out) so that the digest covers
    /// every byte, e.g. after a reader stopped early at a damaged record.
    public func drain() throws(InputFileError) {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { scratch.deallocate() }
        while try read(into: scratch) > 0 {}
    }

    /// The SHA-256 of every byte read so far, lower-case hex. Call after `drain()` for
    /// the digest of the whole file.
    public var sha256Hex: String { Hex.string(hasher.finalize()) }

    /// Reads the first `count` bytes of a file without hashing, for detecting its kind.
    public static func prefix(of path: String, count: Int) throws(InputFileError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw InputFileError(path: path, reason: describeErrno()) }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, 0) }
        guard got >= 0 else { throw InputFileError(path: path, reason: describeErrno()) }
        return Array(bytes[0..<got])
    }

    static func describeErrno() -> String {
        String(cString: strerror(errno))
    }
}

/// Why an input file could not be opened or read.
public struct InputFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
