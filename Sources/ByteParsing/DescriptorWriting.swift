#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing whole buffers to a file descriptor: `write(2)` may write less than asked,
/// or be interrupted by a signal before writing anything.
public enum DescriptorWriting {
    /// Writes every byte of `bytes` to `descriptor`, going on after short writes and
    /// retrying writes a signal interrupted. Returns nil when all were written, else
    /// the `errno` of the write that failed (`EIO` for a write that wrote nothing
    /// without saying why, which would otherwise be retried forever).
    public static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) -> Int32? {
        guard let base = bytes.baseAddress else { return nil }
        var written = 0
        while written < bytes.count {
            // Safe: `written < bytes.count`, so the range lies inside `bytes`.
            let count = unsafe systemWrite(descriptor, base + written, bytes.count - written)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return count < 0 ? errno : EIO }
            written += count
        }
        return nil
    }

    /// `writeAll(_:to:)` for a span's bytes.
    public static func writeAll(_ bytes: Span<UInt8>, to descriptor: Int32) -> Int32? {
        // Safe: the pointer is the span's own memory, only read during the call.
        unsafe bytes.withUnsafeBytes { unsafe writeAll($0, to: descriptor) }
    }

    /// Reads up to `count` bytes at `offset` of `descriptor` (pread(2), retried when a
    /// signal interrupts it) into `buffer`, which it replaces. Returns how many were
    /// read (0 at the end of the file), or nil with `errno` set.
    public static func read(_ descriptor: Int32, at offset: Int64, count: Int, into buffer: inout [UInt8]) -> Int? {
        buffer.removeAll(keepingCapacity: true)
        while true {
            var got = 0
            // Safe: pread writes at most `count` bytes into the `count` the closure was
            // given, and says how many it initialized.
            unsafe buffer.append(contentsOf: [UInt8](unsafeUninitializedCapacity: count) { target, initialized in
                got = unsafe pread(descriptor, target.baseAddress, count, off_t(offset))
                initialized = max(got, 0)
            })
            if got < 0, errno == EINTR { continue }
            return got < 0 ? nil : got
        }
    }
}

// Safe: the C library's write(2), called only by `writeAll` with a range it checked.
#if canImport(Glibc)
private let systemWrite = unsafe Glibc.write
#elseif canImport(Musl)
private let systemWrite = unsafe Musl.write
#else
private let systemWrite = unsafe Darwin.write
#endif
