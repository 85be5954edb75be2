import ByteParsing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CaseStore
import Crypto
import Foundation

/// Writing a BagIt bag (RFC 8493): a directory holding `bagit.txt`, `bag-info.txt`,
/// the payload under `data/`, `manifest-sha256.txt` over the payload and
/// `tagmanifest-sha256.txt` over the tag files, so that any BagIt validator, or
/// `sha256sum -c` run inside the bag, checks it.
enum BagIt {
    /// The bag declaration (RFC 8493 §2.1.1).
    static let declaration = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    static let declarationFile = "bagit.txt"
    static let infoFile = "bag-info.txt"
    static let manifestFile = "manifest-sha256.txt"
    static let tagManifestFile = "tagmanifest-sha256.txt"
    static let payloadDirectory = "data"

    /// Writes a bag into `directory`, which must not exist or be empty. `payload` names
    /// are plain file names placed under `data/`; `info` are bag-info.txt's lines after
    /// `Payload-Oxum`, which is computed here. Returns every file written (bag-relative
    /// path, SHA-256, size), tag files last. (`BagWriter` does the same file by file,
    /// for payloads too large to hold in memory.)
    ///
    /// `sign`, when given, makes the detached signature of the tag manifest's bytes,
    /// written as the tag file it names (listed in no manifest).
    static func write(
        payload: [(name: String, bytes: [UInt8])], info: [(String, String)], to directory: String,
        sign: (([UInt8]) throws -> (name: String, bytes: [UInt8]))? = nil
    ) throws -> [CustodyFile] {
        let bag = try BagWriter(directory: directory)
        do {
            for file in payload { try bag.add(file.name, file.bytes) }
            return try bag.finish(info: info, sign: sign)
        } catch {
            bag.discard()
            throw error
        }
    }

    /// Throws unless `directory` is absent or an empty directory.
    static func checkUsable(_ directory: String) throws {
        var status = stat()
        // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
        guard unsafe lstat(directory, &status) == 0 else {
            if errno == ENOENT { return }
            throw EvidenceError.cannotWrite(path: directory, reason: SystemError.describe())
        }
        guard (status.st_mode & S_IFMT) == S_IFDIR else {
            throw EvidenceError.outputExists(directory, "it exists and is not a directory")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? ["?"]
        guard entries.isEmpty else { throw EvidenceError.outputExists(directory, "it is not empty") }
    }

    /// Creates `directory` (mode 0750) or accepts an existing empty one; refuses a
    /// non-empty directory or anything that is not a directory. Returns whether it
    /// created the directory.
    @discardableResult
    static func prepare(_ directory: String) throws -> Bool {
        // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
        if unsafe mkdir(directory, 0o750) == 0 { return true }
        let code = errno
        guard code == EEXIST else { throw EvidenceError.cannotWrite(path: directory, reason: SystemError.describe(code)) }
        try checkUsable(directory)
        return false
    }

    /// A name with no directory part, not `.`/`..`, no control characters (which a
    /// manifest would have to percent-encode).
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0 == "%" }
    }

    static func sha256<D: DataProtocol>(_ bytes: D) -> String { Hex.string(SHA256.hash(data: bytes)) }

}

/// A bag being written, payload file by payload file: small files from memory
/// (`add`), large ones streamed (`stream`), each hashed as it is written so that no
/// file is read back; `finish` writes the manifests and tag files.
///
/// Files are created with `O_EXCL | O_NOFOLLOW` under the directory opened once, so
/// that nothing is written outside it, even through a symbolic link planted there.
/// The payload manifest lists the files in the order they were added.
final class BagWriter {
    let directory: String
    private let bag: DirectoryHandle
    private let data: DirectoryHandle
    private var payload: [CustodyFile] = []
    /// Names created so far, bag-relative, for `discard`.
    private var created: [String] = []
    private let createdDirectory: Bool
    private var closed = false

    /// Creates `directory` (or takes an existing empty one) and its `data/`.
    init(directory: String) throws {
        self.directory = directory
        createdDirectory = try BagIt.prepare(directory)
        let bag = try DirectoryHandle(path: directory)
        do {
            try bag.makeDirectory(BagIt.payloadDirectory)
            data = try bag.openDirectory(BagIt.payloadDirectory)
        } catch {
            bag.close()
            // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
            if createdDirectory { unsafe rmdir(directory) }
            throw error
        }
        self.bag = bag
    }

    deinit { close() }

    private func close() {
        guard !closed else { return }
        closed = true
        data.close()
        bag.close()
    }

    /// Writes a payload file from memory.
    func add(_ name: String, _ bytes: [UInt8]) throws {
        let file = try stream(name)
        try file.write(bytes)
        try finish(file)
    }

    /// Creates a payload file to be written piecewise; hand it to `finish(_:)` when done.
    func stream(_ name: String) throws -> BagFile {
        guard BagIt.isPlainName(name) else { throw EvidenceError.unsafePath(name) }
        let file = try data.createStream(name)
        created.append("\(BagIt.payloadDirectory)/\(name)")
        return file
    }

    /// A scratch file in `data/` that has no name (unlinked at once): for content that
    /// is copied into a payload file later (`BagFile.append(contentsOf:)`).
    func scratch() throws -> BagFile {
        try data.createScratch()
    }

    /// Flushes, syncs and closes a streamed payload file and lists it in the manifest.
    @discardableResult
    func finish(_ file: BagFile) throws -> CustodyFile {
        let (sha256, bytes) = try file.close()
        let entry = CustodyFile(path: "\(BagIt.payloadDirectory)/\(file.name)", sha256: sha256, bytes: bytes)
        payload.append(entry)
        return entry
    }

    /// Removes a payload file that was created and not finished (e.g. an extract file
    /// that turned out not to be wanted).
    func remove(_ file: BagFile) {
        file.abandon()
        // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
        unsafe unlinkat(data.descriptor, file.name, 0)
        created.removeAll { $0 == "\(BagIt.payloadDirectory)/\(file.name)" }
    }

    /// Writes bag-info.txt (with `Payload-Oxum`), the payload manifest, bagit.txt, the
    /// tag manifest and, with `sign`, the signature; returns every file written, payload
    /// first, tag files last.
    func finish(
        info: [(String, String)], sign: (([UInt8]) throws -> (name: String, bytes: [UInt8]))? = nil
    ) throws -> [CustodyFile] {
        defer { close() }
        var manifest = ""
        var octets: UInt64 = 0
        for entry in payload {
            manifest += "\(entry.sha256)  \(entry.path)\n"
            octets += entry.bytes
        }
        var infoText = "Payload-Oxum: \(octets).\(payload.count)\n"
        for (label, value) in info {
            // A value never spans lines here: fold any line break into a space.
            let flat = value.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
                .replacingOccurrences(of: "\r", with: " ")
            infoText += "\(label): \(flat)\n"
        }
        var tags: [CustodyFile] = []
        for (name, text) in [(BagIt.declarationFile, BagIt.declaration), (BagIt.infoFile, infoText), (BagIt.manifestFile, manifest)] {
            let bytes = Array(text.utf8)
            created.append(name)
            try bag.create(name, bytes: bytes)
            tags.append(CustodyFile(path: name, sha256: BagIt.sha256(bytes), bytes: UInt64(bytes.count)))
        }
        let tagManifest = Array(tags.map { "\($0.sha256)  \($0.path)\n" }.joined().utf8)
        created.append(BagIt.tagManifestFile)
        try bag.create(BagIt.tagManifestFile, bytes: tagManifest)
        tags.append(CustodyFile(path: BagIt.tagManifestFile, sha256: BagIt.sha256(tagManifest), bytes: UInt64(tagManifest.count)))
        if let sign {
            let signature = try sign(tagManifest)
            guard BagIt.isPlainName(signature.name) else { throw EvidenceError.unsafePath(signature.name) }
            created.append(signature.name)
            try bag.create(signature.name, bytes: signature.bytes)
            tags.append(CustodyFile(path: signature.name, sha256: BagIt.sha256(signature.bytes), bytes: UInt64(signature.bytes.count)))
        }
        return payload + tags
    }

    /// After a failure: removes every file this writer created, `data/`, and the
    /// directory itself if this writer created it, so that a failed export leaves no
    /// half-written package. Removes nothing it did not create.
    func discard() {
        if !closed {
            for name in created.reversed() {
                // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
                unsafe unlinkat(bag.descriptor, name, 0)
            }
            // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
            unsafe unlinkat(bag.descriptor, BagIt.payloadDirectory, AT_REMOVEDIR)
        }
        close()
        // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
        if createdDirectory { unsafe rmdir(directory) }
        created = []
    }
}

/// A payload file being written: buffered, hashed as written (SHA-256 of exactly the
/// bytes that reach the file), synced on close. A `Mark` taken between writes lets
/// the writer cut the file back to that point (`rollback`), hash included.
final class BagFile {
    let name: String
    let path: String
    private var descriptor: Int32
    private var hasher = SHA256()
    private(set) var size: UInt64 = 0
    /// Bytes written and not yet handed to write(2), at most `bufferSize`.
    private var buffer: [UInt8] = []
    /// The first write error, for callers (libpcap's stream) that only see a failure.
    private(set) var error: EvidenceError?

    /// Bytes gathered before a write(2): large writes keep syscalls few, and 1 MiB is
    /// well past the point where a larger buffer stops helping.
    static let bufferSize = 1 << 20

    init(descriptor: Int32, name: String, path: String) {
        self.descriptor = descriptor
        self.name = name
        self.path = path
        buffer.reserveCapacity(BagFile.bufferSize)
    }

    deinit {
        if descriptor >= 0 { _ = closeFile(descriptor) }
    }

    func write(_ bytes: [UInt8]) throws {
        try write(bytes.span)
    }

    func write(_ bytes: Span<UInt8>) throws {
        guard bytes.count > 0 else { return }
        if buffer.count + bytes.count > BagFile.bufferSize { try flush() }
        if bytes.count >= BagFile.bufferSize {
            try writeOut(bytes)
            return
        }
        buffer.append(span: bytes)
    }

    /// Writes the buffered bytes to the file.
    func flush() throws {
        guard !buffer.isEmpty else { return }
        // Emptied whether or not the write succeeds, as a failed file is not written again.
        defer { buffer.removeAll(keepingCapacity: true) }
        try writeOut(buffer.span)
    }

    private func writeOut(_ bytes: Span<UInt8>) throws {
        hasher.update(span: bytes)
        size += UInt64(bytes.count)
        if let code = DescriptorWriting.writeAll(bytes, to: descriptor) {
            let failure = EvidenceError.cannotWrite(path: path, reason: SystemError.describe(code))
            if error == nil { error = failure }
            throw failure
        }
    }

    /// A point in the file to come back to.
    struct Mark {
        fileprivate var size: UInt64
        fileprivate var hasher: SHA256
    }

    func mark() throws -> Mark {
        try flush()
        return Mark(size: size, hasher: hasher)
    }

    /// Cuts the file back to `mark`: what was written since is gone, from the file and
    /// from its hash.
    func rollback(to mark: Mark) throws {
        buffer.removeAll(keepingCapacity: true)
        guard ftruncate(descriptor, off_t(mark.size)) == 0, lseek(descriptor, off_t(mark.size), SEEK_SET) >= 0 else {
            throw EvidenceError.cannotWrite(path: path, reason: SystemError.describe())
        }
        size = mark.size
        hasher = mark.hasher
    }

    /// Appends the whole content of `other` (a scratch file), read back from its start.
    func append(contentsOf other: BagFile) throws {
        try other.flush()
        try flush()
        var offset: Int64 = 0
        var chunk: [UInt8] = []
        while true {
            guard let got = DescriptorWriting.read(other.descriptor, at: offset, count: BagFile.bufferSize, into: &chunk)
            else {
                throw EvidenceError.cannotWrite(path: other.path, reason: "reading it back: " + SystemError.describe())
            }
            if got == 0 { return }
            try writeOut(chunk.span)
            offset += Int64(got)
        }
    }

    /// Closes the file without writing what is buffered (a file about to be removed, or
    /// a scratch file).
    func abandon() {
        buffer.removeAll(keepingCapacity: true)
        guard descriptor >= 0 else { return }
        _ = closeFile(descriptor)
        descriptor = -1
    }

    /// Flushes, syncs and closes the file; its SHA-256 (hex) and size.
    func close() throws -> (sha256: String, bytes: UInt64) {
        guard descriptor >= 0 else { return (Hex.string(hasher.finalize()), size) }
        defer {
            _ = closeFile(descriptor)
            descriptor = -1
        }
        try flush()
        guard fsync(descriptor) == 0 else {
            throw EvidenceError.cannotWrite(path: path, reason: SystemError.describe())
        }
        return (Hex.string(hasher.finalize()), size)
    }
}

/// An open directory; files are created relative to it (`openat`), never by path.
struct DirectoryHandle {
    let descriptor: Int32
    let path: String

    init(path: String) throws {
        // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
        descriptor = unsafe open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        self.path = path
        guard descriptor >= 0 else { throw EvidenceError.cannotWrite(path: path, reason: SystemError.describe()) }
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    func close() { _ = closeFile(descriptor) }

    func makeDirectory(_ name: String) throws {
        // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
        guard unsafe mkdirat(descriptor, name, 0o750) == 0 else {
            throw EvidenceError.cannotWrite(path: "\(path)/\(name)", reason: SystemError.describe())
        }
    }

    func openDirectory(_ name: String) throws -> DirectoryHandle {
        // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
        let child = unsafe openat(descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { throw EvidenceError.cannotWrite(path: "\(path)/\(name)", reason: SystemError.describe()) }
        return DirectoryHandle(descriptor: child, path: "\(path)/\(name)")
    }

    /// Creates a new file (never replaces one) to be written piecewise.
    func createStream(_ name: String) throws -> BagFile {
        let full = "\(path)/\(name)"
        // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
        let file = unsafe openat(descriptor, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard file >= 0 else { throw EvidenceError.cannotWrite(path: full, reason: SystemError.describe()) }
        return BagFile(descriptor: file, name: name, path: full)
    }

    /// A new file that is unlinked as soon as it is created: scratch space that never
    /// shows in the directory and goes away when closed.
    func createScratch() throws -> BagFile {
        var attempt = 0
        while true {
            let name = ".scratch-\(getpid())-\(attempt)"
            let full = "\(path)/\(name)"
            // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
            let file = unsafe openat(descriptor, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if file < 0 {
                if errno == EEXIST, attempt < 100 {
                    attempt += 1
                    continue
                }
                throw EvidenceError.cannotWrite(path: full, reason: SystemError.describe())
            }
            // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
            unsafe unlinkat(descriptor, name, 0)
            return BagFile(descriptor: file, name: name, path: full)
        }
    }

    /// Creates a new file (never replaces one) and writes all of `bytes`.
    func create(_ name: String, bytes: [UInt8]) throws {
        let full = "\(path)/\(name)"
        // Safe: the C call gets its path or name as a NUL-terminated copy, valid for the call.
        let file = unsafe openat(descriptor, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard file >= 0 else { throw EvidenceError.cannotWrite(path: full, reason: SystemError.describe()) }
        defer { _ = closeFile(file) }
        if let code = DescriptorWriting.writeAll(bytes.span, to: file) {
            throw EvidenceError.cannotWrite(path: full, reason: SystemError.describe(code))
        }
        guard fsync(file) == 0 else { throw EvidenceError.cannotWrite(path: full, reason: SystemError.describe()) }
    }
}

#if canImport(Glibc)
private let closeFile = Glibc.close
#elseif canImport(Musl)
private let closeFile = Musl.close
#else
private let closeFile = Darwin.close
#endif

/// Why an export or a verification could not be done at all.
public enum EvidenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The output directory exists and is not an empty directory.
    case outputExists(String, String)
    /// A file or directory could not be created or written.
    case cannotWrite(path: String, reason: String)
    /// A name that would leave the package directory.
    case unsafePath(String)
    /// No incident has this id.
    case unknownIncident(Int64)
    /// Nothing to export.
    case noIncidents
    /// `--tlp` asked for a TLP less strict than the package must have.
    case tlpLessStrict(requested: TLP, required: TLP)

    public var description: String {
        switch self {
        case .outputExists(let path, let why): "\(path): refusing to export into it: \(why)"
        case .cannotWrite(let path, let reason): "\(path): cannot write: \(reason)"
        case .unsafePath(let name): "\(name): not a plain file name inside the package"
        case .unknownIncident(let id): "no incident with id \(id) in the case database (see `cairn incidents`)"
        case .noIncidents: "no incident given to export"
        case .tlpLessStrict(let requested, let required):
            "--tlp \(requested.rawValue) is less strict than the package's \(required.rawValue) (the strictest of the default and the sighted indicators' TLPs): a TLP can only be made stricter"
        }
    }
}
