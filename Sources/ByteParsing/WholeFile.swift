import CGuardedMapping
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file lent as one span, for a format read at random rather than in one
/// sequential pass (the compiled rule cache): memory-mapped where it can be, so that
/// the bytes are read straight from the page cache without a buffer of the file's size
/// to fill first, else read with read(2) into an owned buffer.
///
/// The mapping is guarded (`CGuardedMapping`): should the file shrink, or its device
/// fail, while it is lent, its pages read as zeros instead of killing the process, and
/// the result is reported as a failure, never handed back. A file is not trusted
/// either way: the span is bounds-checked like any other input.
public enum WholeFile {
    /// Calls `body` with every byte of the file at `path` and returns its result. With
    /// `mapped` false the file is read with read(2) even if it could be mapped (for
    /// tests). Fails with `.missing` when there is no such file, and with `.unreadable`
    /// when it cannot be opened, sized or read, or changed while it was mapped.
    public static func withBytes<Result>(
        path: String, mapped: Bool = true, _ body: (Span<UInt8>) -> Result
    ) -> Swift.Result<Result, WholeFileError> {
        withBytes(path: path, mapped: mapped) { bytes, _ in body(bytes) }
    }

    /// `withBytes`, with the `Residency` of a mapped file's pages, for a reader that goes
    /// through a large file once (or twice) and need not keep what it has read resident.
    public static func withBytes<Result>(
        path: String, mapped: Bool = true, _ body: (Span<UInt8>, Residency) -> Result
    ) -> Swift.Result<Result, WholeFileError> {
        // Safe: the path is passed as a NUL-terminated copy valid for the call.
        let descriptor = unsafe open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(errno == ENOENT ? .missing : .unreadable("cannot open: \(SystemError.describe())"))
        }
        defer { close(descriptor) }
        var status = stat()
        // Safe: fstat fills exactly the one `stat` it is given.
        guard unsafe fstat(descriptor, &status) == 0 else { return .failure(.unreadable("cannot stat: \(SystemError.describe())")) }
        let size = Int(status.st_size)
        if mapped, let result = withMapping(descriptor, size: size, body) { return result }
        var buffer = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < size {
            // Safe: `filled < size`, so read(2) writes only inside the array's buffer,
            // whose pointer does not leave the closure.
            let count = unsafe buffer.withUnsafeMutableBytes { unsafe read(descriptor, $0.baseAddress! + filled, size - filled) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                return .failure(.unreadable(count < 0 ? "cannot read: \(SystemError.describe())"
                    : "truncated while read (\(filled) of \(size) bytes)"))
            }
            filled += count
        }
        return .success(body(buffer.span, Residency(mapping: nil)))
    }

    /// `body`'s result over a guarded mapping of the file, or nil when it cannot be
    /// mapped (an empty file, or no registration free).
    private static func withMapping<Result>(
        _ descriptor: Int32, size: Int, _ body: (Span<UInt8>, Residency) -> Result
    ) -> Swift.Result<Result, WholeFileError>? {
        var base: UnsafeRawPointer?
        // Safe: the mapping is `size` bytes long and stays mapped until the deferred
        // unmap, after `body` has returned; the span lent cannot escape `body`.
        let mapping = unsafe cairn_guarded_map(descriptor, size, &base)
        guard mapping >= 0, let base = unsafe base else { return nil }
        defer { cairn_guarded_unmap(mapping) }
        let result = body(unsafe Span<UInt8>(_unsafeStart: base, byteCount: size), Residency(mapping: mapping))
        guard cairn_guarded_faulted(mapping) == 0 else { return .failure(.unreadable("the file changed or failed while read")) }
        return .success(result)
    }
}

extension WholeFile {
    /// Lets go of the pages of a mapped file that have been read: they stop counting
    /// towards the process's memory, and are read back from the page cache (or the
    /// file) if they are read again. A file read into a buffer keeps its bytes.
    public struct Residency {
        let mapping: Int32?

        /// Lets go of the whole pages inside `range` of the file.
        public func release(_ range: Range<Int>) {
            guard let mapping, !range.isEmpty else { return }
            cairn_guarded_release(mapping, range.lowerBound, range.count)
        }
    }
}

/// Why `WholeFile` could not lend a file's bytes.
public enum WholeFileError: Error, Sendable, Equatable {
    /// There is no file at the path.
    case missing
    /// The file cannot be opened, sized or read (the reason says which, with the system's words).
    case unreadable(String)
}
