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
            let count = systemWrite(descriptor, base + written, bytes.count - written)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return count < 0 ? errno : EIO }
            written += count
        }
        return nil
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Musl)
private let systemWrite = Musl.write
#else
private let systemWrite = Darwin.write
#endif
