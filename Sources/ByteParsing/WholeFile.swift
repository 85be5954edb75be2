import CGuardedMapping
import Synchronization
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
        return .success(body(buffer.span, Residency(file: nil)))
    }

    /// `body`'s result over a guarded mapping of the file, or nil when it cannot be
    /// mapped (an empty file, or no registration free). The mapping lasts until `body`
    /// has returned, or longer when `body` keeps the `Residency`'s `file`.
    private static func withMapping<Result>(
        _ descriptor: Int32, size: Int, _ body: (Span<UInt8>, Residency) -> Result
    ) -> Swift.Result<Result, WholeFileError>? {
        guard let file = MappedFile(descriptor, size: size) else { return nil }
        let result = file.withBytes { body($0, Residency(file: file)) }
        guard !file.faulted else { return .failure(.unreadable("the file changed or failed while read")) }
        return .success(result)
    }
}

extension WholeFile {
    /// Lets go of the pages of a mapped file that have been read: they stop counting
    /// towards the process's memory, and are read back from the page cache (or the
    /// file) if they are read again. A file read into a buffer keeps its bytes.
    public struct Residency {
        /// The mapping, for a reader that keeps parts of the file to read later instead
        /// of copying them (nil when the file was read into a buffer).
        public let file: MappedFile?

        /// Lets go of the whole pages inside `range` of the file.
        public func release(_ range: Range<Int>) {
            file?.release(range)
        }
    }
}

/// A whole file mapped read-only, and kept open, for as long as this object lives (a
/// `WholeFile` reader keeps it through `Residency.file`): for a file written once and
/// replaced, never rewritten in place, that is read whole once and then a few bytes at
/// a time long after (the indicator list of the compiled rule cache, checked whole on
/// loading and then read only for the indicators sighted). Those later reads use
/// pread(2) (`read`, `load`), not the mapping: through the mapping, each would make the
/// kernel map the 64 KiB around it too (fault-around), all of it counted in the
/// process's memory until it ends.
///
/// The mapping is guarded as `WholeFile`'s: should the file shrink, its pages read as
/// zeros and `faulted` turns true; a pread(2) that fails reads as zeros the same way.
/// Its bytes are bounds-checked like any input. It is `@safe`: every read through the
/// mapping's address is checked against `count`.
@safe public final class MappedFile: @unchecked Sendable {
    // @unchecked: every stored property but `readFailed` (atomic) is immutable after
    // `init`, and the mapped bytes are read-only; the guarded mapping's registration is
    // itself thread-safe, as is pread(2).
    private let mapping: Int32
    private let base: UnsafeRawPointer
    private let descriptor: Int32
    private let readFailed = Atomic<Bool>(false)
    /// The file's length in bytes.
    public let count: Int

    /// Maps the `size` bytes of the open file `descriptor` and keeps a duplicate of it
    /// open; nil when it cannot be mapped or duplicated.
    init?(_ descriptor: Int32, size: Int) {
        let duplicate = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard duplicate >= 0 else { return nil }
        var base: UnsafeRawPointer?
        // Safe: the mapping is `size` bytes long and stays mapped until `deinit`; every
        // read through `base` is checked against `count` first.
        let mapping = unsafe cairn_guarded_map(descriptor, size, &base)
        guard mapping >= 0, let base = unsafe base else {
            close(duplicate)
            return nil
        }
        self.mapping = mapping
        unsafe self.base = base
        self.descriptor = duplicate
        count = size
    }

    deinit {
        cairn_guarded_unmap(mapping)
        close(descriptor)
    }

    /// Whether a page read so far was no longer backed by the file, or a pread(2)
    /// failed (what they read reads as zeros).
    public var faulted: Bool { cairn_guarded_faulted(mapping) != 0 || readFailed.load(ordering: .relaxed) }

    /// Calls `body` with every byte of the file.
    public func withBytes<Result, Failure: Error>(_ body: (Span<UInt8>) throws(Failure) -> Result) throws(Failure) -> Result {
        // Safe: the span covers the mapping, which lives as long as `self`, and cannot
        // escape `body`.
        try body(unsafe Span<UInt8>(_unsafeStart: base, byteCount: count))
    }

    /// The bytes `range` of the file, which must lie inside it, read with pread(2);
    /// zeros from where the file cannot be read on (`faulted` then turns true).
    public func read(_ range: Range<Int>) -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "read outside the mapped file")
        var bytes = [UInt8](repeating: 0, count: range.count)
        var filled = 0
        while filled < range.count {
            // Safe: pread(2) writes at most `range.count - filled` bytes from `filled` on,
            // inside the array's buffer, whose pointer does not leave the closure.
            let got = unsafe bytes.withUnsafeMutableBytes {
                unsafe pread(descriptor, $0.baseAddress! + filled, range.count - filled, off_t(range.lowerBound + filled))
            }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                readFailed.store(true, ordering: .relaxed)
                break
            }
            filled += got
        }
        return bytes
    }

    /// The value stored at `offset` in the host's byte order (`read`).
    public func load<T: BitwiseCopyable>(at offset: Int, as type: T.Type) -> T {
        let bytes = read(offset..<offset + MemoryLayout<T>.size)
        // Safe: the array holds exactly the value's size, and loadUnaligned needs no alignment.
        return unsafe bytes.withUnsafeBytes { unsafe $0.loadUnaligned(as: T.self) }
    }

    /// Lets go of the whole pages inside `range` of the file (see `WholeFile.Residency`).
    public func release(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "release outside the mapped file")
        cairn_guarded_release(mapping, range.lowerBound, range.count)
    }
}

/// Why `WholeFile` could not lend a file's bytes.
public enum WholeFileError: Error, Sendable, Equatable {
    /// There is no file at the path.
    case missing
    /// The file cannot be opened, sized or read (the reason says which, with the system's words).
    case unreadable(String)
}
