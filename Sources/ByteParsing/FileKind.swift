#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a path names, following symbolic links as `FileManager.fileExists(atPath:
/// isDirectory:)` does, without its pointer argument.
public enum FileKind: Sendable, Equatable {
    case directory
    /// Anything else that exists: a regular file, a device, a pipe.
    case other

    /// The kind of `path`; nil when nothing is there (or it cannot be reached).
    public init?(of path: String) {
        var info = stat()
        // Safe: `stat` writes one `struct stat` into `info`, which lives for the call.
        guard unsafe stat(path, &info) == 0 else { return nil }
        self = info.st_mode & S_IFMT == S_IFDIR ? .directory : .other
    }
}
