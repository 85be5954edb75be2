#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The C library's words for a system error, for messages that say what went wrong.
public enum SystemError {
    /// `strerror(code)` as a String; `code` is `errno` unless given.
    public static func describe(_ code: Int32 = errno) -> String {
        // Safe: strerror returns a NUL-terminated string that stays valid until the next
        // strerror call on this thread; it is copied at once.
        unsafe String(cString: strerror(code))
    }
}
