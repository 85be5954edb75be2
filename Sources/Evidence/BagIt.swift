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
    /// path, SHA-256, size), tag files last.
    ///
    /// Files are created with `O_EXCL | O_NOFOLLOW` under the directory opened once, so
    /// that nothing is written outside it, even through a symbolic link planted there.
    /// `sign`, when given, makes the detached signature of the tag manifest's bytes,
    /// written as the tag file it names (listed in no manifest).
    static func write(
        payload: [(name: String, bytes: [UInt8])], info: [(String, String)], to directory: String,
        sign: (([UInt8]) throws -> (name: String, bytes: [UInt8]))? = nil
    ) throws -> [CustodyFile] {
        try prepare(directory)
        let bag = try DirectoryHandle(path: directory)
        defer { bag.close() }
        try bag.makeDirectory(payloadDirectory)
        let data = try bag.openDirectory(payloadDirectory)
        defer { data.close() }

        var written: [CustodyFile] = []
        var manifest = ""
        var octets: UInt64 = 0
        for file in payload {
            guard isPlainName(file.name) else { throw EvidenceError.unsafePath(file.name) }
            try data.create(file.name, bytes: file.bytes)
            let entry = CustodyFile(path: "\(payloadDirectory)/\(file.name)", sha256: sha256(file.bytes), bytes: UInt64(file.bytes.count))
            written.append(entry)
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
        for (name, text) in [(declarationFile, declaration), (infoFile, infoText), (manifestFile, manifest)] {
            let bytes = Array(text.utf8)
            try bag.create(name, bytes: bytes)
            tags.append(CustodyFile(path: name, sha256: sha256(bytes), bytes: UInt64(bytes.count)))
        }
        let tagManifest = Array(tags.map { "\($0.sha256)  \($0.path)\n" }.joined().utf8)
        try bag.create(tagManifestFile, bytes: tagManifest)
        tags.append(CustodyFile(path: tagManifestFile, sha256: sha256(tagManifest), bytes: UInt64(tagManifest.count)))
        if let sign {
            let signature = try sign(tagManifest)
            guard isPlainName(signature.name) else { throw EvidenceError.unsafePath(signature.name) }
            try bag.create(signature.name, bytes: signature.bytes)
            tags.append(CustodyFile(path: signature.name, sha256: sha256(signature.bytes), bytes: UInt64(signature.bytes.count)))
        }
        return written + tags
    }

    /// Throws unless `directory` is absent or an empty directory.
    static func checkUsable(_ directory: String) throws {
        var status = stat()
        guard lstat(directory, &status) == 0 else {
            if errno == ENOENT { return }
            throw EvidenceError.cannotWrite(path: directory, reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFDIR else {
            throw EvidenceError.outputExists(directory, "it exists and is not a directory")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? ["?"]
        guard entries.isEmpty else { throw EvidenceError.outputExists(directory, "it is not empty") }
    }

    /// Creates `directory` (mode 0750) or accepts an existing empty one; refuses a
    /// non-empty directory or anything that is not a directory.
    static func prepare(_ directory: String) throws {
        if mkdir(directory, 0o750) == 0 { return }
        let code = errno
        guard code == EEXIST else { throw EvidenceError.cannotWrite(path: directory, reason: String(cString: strerror(code))) }
        try checkUsable(directory)
    }

    /// A name with no directory part, not `.`/`..`, no control characters (which a
    /// manifest would have to percent-encode).
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0 == "%" }
    }

    static func sha256<D: DataProtocol>(_ bytes: D) -> String { Hex.string(SHA256.hash(data: bytes)) }

}

/// An open directory; files are created relative to it (`openat`), never by path.
struct DirectoryHandle {
    let descriptor: Int32
    let path: String

    init(path: String) throws {
        descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        self.path = path
        guard descriptor >= 0 else { throw EvidenceError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    func close() { _ = closeFile(descriptor) }

    func makeDirectory(_ name: String) throws {
        guard mkdirat(descriptor, name, 0o750) == 0 else {
            throw EvidenceError.cannotWrite(path: "\(path)/\(name)", reason: String(cString: strerror(errno)))
        }
    }

    func openDirectory(_ name: String) throws -> DirectoryHandle {
        let child = openat(descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { throw EvidenceError.cannotWrite(path: "\(path)/\(name)", reason: String(cString: strerror(errno))) }
        return DirectoryHandle(descriptor: child, path: "\(path)/\(name)")
    }

    /// Creates a new file (never replaces one) and writes all of `bytes`.
    func create(_ name: String, bytes: [UInt8]) throws {
        let full = "\(path)/\(name)"
        let file = openat(descriptor, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o640)
        guard file >= 0 else { throw EvidenceError.cannotWrite(path: full, reason: String(cString: strerror(errno))) }
        defer { _ = closeFile(file) }
        var written = 0
        try bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                // The base address is non-nil whenever count > 0, which the loop guards.
                let result = systemWrite(file, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw EvidenceError.cannotWrite(path: full, reason: String(cString: strerror(errno)))
                }
                written += result
            }
        }
        guard fsync(file) == 0 else { throw EvidenceError.cannotWrite(path: full, reason: String(cString: strerror(errno))) }
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
private let closeFile = Glibc.close
#elseif canImport(Musl)
private let systemWrite = Musl.write
private let closeFile = Musl.close
#else
private let systemWrite = Darwin.write
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
