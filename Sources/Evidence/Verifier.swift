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

/// One thing in a package that does not hold.
public struct BagProblem: Sendable, Hashable, CustomStringConvertible {
    /// The bag-relative path of the file that differs (`data/incident.json`,
    /// `tagmanifest-sha256.txt`…), or `.` for the package as a whole.
    public var file: String
    /// What differs, in one sentence.
    public var detail: String

    public init(file: String, detail: String) {
        self.file = file
        self.detail = detail
    }

    public var description: String { "\(file): \(detail)" }
}

/// The outcome of checking a package.
public struct BagVerification: Sendable {
    /// What was checked and holds, one sentence each.
    public var holds: [String] = []
    /// What does not hold; empty when the package is intact.
    public var problems: [BagProblem] = []
    public var ok: Bool { problems.isEmpty }
    /// Whether the package is signed and, if a key was given, whether the signature holds.
    public var signature: SignatureStatus = .unsigned
}

/// The state of a package's signature (`tagmanifest-sha256.txt.sig`).
public enum SignatureStatus: Sendable, Equatable, CustomStringConvertible {
    /// No signature file.
    case unsigned
    /// A signature file, not checked because no public key was given.
    case signedUnchecked
    /// A valid Ed25519 signature by the key with this fingerprint.
    case valid(fingerprint: String)
    /// A signature that does not verify with the given key (or an unsigned package
    /// when a key was given).
    case invalid(String)

    public var description: String {
        switch self {
        case .unsigned: "unsigned: the package carries no signature"
        case .signedUnchecked: "signed, but the signature was not checked: give the signer's public key with --key PUBKEY"
        case .valid(let fingerprint): "signature valid: tagmanifest-sha256.txt signed by the Ed25519 key \(fingerprint)"
        case .invalid(let why): "signature NOT valid: \(why)"
        }
    }
}

/// Checks an evidence package as an investigator would: the BagIt declaration, every
/// SHA-256 of both manifests against the files' bytes, that every payload file is listed
/// and every listed file exists, `Payload-Oxum`, and the hash chain of the custody log
/// copy in `data/custody.json`. Reads each file once, streamed; follows no symbolic
/// link and reads nothing outside the directory.
public enum PackageVerifier {
    public static func verify(directory: String) -> BagVerification {
        verify(directory: directory, publicKey: nil)
    }

    /// Checks the package as `verify(directory:)` does and, when `publicKey` is given,
    /// that `tagmanifest-sha256.txt.sig` is its Ed25519 signature of the tag manifest
    /// (a missing or wrong signature is then a problem). Without a key, a signature is
    /// reported as present but unchecked.
    public static func verify(directory: String, publicKey: Curve25519.Signing.PublicKey?) -> BagVerification {
        var result = BagVerification()
        var status = stat()
        // Safe: lstat gets the path as a NUL-terminated copy for the call and writes only `status`.
        guard unsafe lstat(directory, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            result.problems.append(BagProblem(file: ".", detail: "\(directory) is not a directory"))
            return result
        }
        let root = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        func problem(_ file: String, _ detail: String) { result.problems.append(BagProblem(file: file, detail: detail)) }

        // The declaration.
        if let declaration = read(root, BagIt.declarationFile) {
            if declaration == Array(BagIt.declaration.utf8) {
                result.holds.append("\(BagIt.declarationFile): BagIt-Version 1.0, tag files in UTF-8")
            } else {
                problem(BagIt.declarationFile, "is not the BagIt 1.0 declaration (\"BagIt-Version: 1.0\", \"Tag-File-Character-Encoding: UTF-8\")")
            }
        } else {
            problem(BagIt.declarationFile, "is missing or unreadable: not a BagIt bag")
        }

        // The tag manifest, over the other tag files.
        let tagEntries = parseManifest(root, BagIt.tagManifestFile, problem: problem)
        var tagListed = Set<String>()
        var tagMatched = 0
        for entry in tagEntries {
            tagListed.insert(entry.path)
            guard entry.path != BagIt.tagManifestFile else {
                problem(BagIt.tagManifestFile, "line \(entry.line) lists the tag manifest itself")
                continue
            }
            switch hashFile(root, entry.path) {
            case .failure(let why):
                problem(BagIt.tagManifestFile, "line \(entry.line) lists \(entry.path), which \(why)")
            case .success(let actual) where actual == entry.sha256:
                tagMatched += 1
            case .success(let actual):
                if entry.path == BagIt.declarationFile, read(root, entry.path) == Array(BagIt.declaration.utf8) {
                    // bagit.txt's content is fixed by RFC 8493, so the listed hash is what changed.
                    problem(BagIt.tagManifestFile, "line \(entry.line) lists SHA-256 \(entry.sha256) for \(entry.path), whose content is the standard declaration (SHA-256 \(actual)): the tag manifest was changed")
                } else {
                    problem(entry.path, "SHA-256 is \(actual), \(BagIt.tagManifestFile) line \(entry.line) lists \(entry.sha256): the file (or the tag manifest) was changed")
                }
            }
        }
        for name in [BagIt.declarationFile, BagIt.infoFile, BagIt.manifestFile] where !tagListed.contains(name) {
            problem(name, "is not listed in \(BagIt.tagManifestFile)")
        }
        if !tagEntries.isEmpty, tagMatched == tagEntries.count {
            result.holds.append("\(BagIt.tagManifestFile): \(tagMatched) tag files, every SHA-256 matches")
        }

        // The payload manifest.
        let entries = parseManifest(root, BagIt.manifestFile, problem: problem)
        var listed = Set<String>()
        var changed = Set<String>()
        var matched = 0
        for entry in entries {
            listed.insert(entry.path)
            guard entry.path.hasPrefix(BagIt.payloadDirectory + "/") else {
                problem(BagIt.manifestFile, "line \(entry.line) lists \(entry.path), which is not under data/")
                continue
            }
            switch hashFile(root, entry.path) {
            case .failure(let why):
                problem(entry.path, "listed in \(BagIt.manifestFile) line \(entry.line), but it \(why)")
            case .success(let actual) where actual == entry.sha256:
                matched += 1
            case .success(let actual):
                changed.insert(entry.path)
                problem(entry.path, "SHA-256 is \(actual), \(BagIt.manifestFile) line \(entry.line) lists \(entry.sha256): the file was changed")
            }
        }
        let payload = payloadFiles(root, problem: problem)
        for file in payload.files where !listed.contains(file) {
            problem(file, "is in data/ but not listed in \(BagIt.manifestFile)")
        }
        if !entries.isEmpty, matched == entries.count, payload.files.allSatisfy(listed.contains) {
            result.holds.append("\(BagIt.manifestFile): \(matched) payload files, every SHA-256 matches, none unlisted")
        }

        // bag-info.txt's Payload-Oxum.
        if let info = read(root, BagIt.infoFile) {
            let oxum = String(decoding: info, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
                .first { $0.hasPrefix("Payload-Oxum:") }
                .map { $0.dropFirst("Payload-Oxum:".count).trimmingCharacters(in: .whitespaces) }
            let actual = "\(payload.octets).\(payload.files.count)"
            if let oxum {
                if oxum == actual {
                    result.holds.append("\(BagIt.infoFile): Payload-Oxum \(actual) matches the payload's size and file count")
                } else {
                    problem(BagIt.infoFile, "Payload-Oxum is \(oxum), the payload holds \(actual) (bytes.files)")
                }
            } else {
                problem(BagIt.infoFile, "has no Payload-Oxum line")
            }
        } else {
            problem(BagIt.infoFile, "is missing or unreadable")
        }

        // The custody log copy.
        let custodyPath = BagIt.payloadDirectory + "/custody.json"
        if let custody = read(root, custodyPath) {
            if let entries = try? JSONDecoder().decode([CustodyEntry].self, from: Data(custody)) {
                let chain = CustodyChain.verify(entries)
                if chain.ok {
                    result.holds.append("\(custodyPath): \(chain.entryCount) custody entries, hash chain intact")
                } else {
                    problem(custodyPath, "custody chain broken at entry \(chain.firstBrokenID.map(String.init) ?? "?"): \(chain.problem ?? "")")
                }
            } else {
                problem(custodyPath, "is not a readable list of custody entries")
            }
        }

        // The signature of the tag manifest.
        let signature = read(root, PackageSigning.signatureFile)
        switch (signature, publicKey) {
        case (nil, nil):
            result.signature = .unsigned
        case (nil, .some):
            result.signature = .invalid("the package is not signed (no \(PackageSigning.signatureFile))")
            problem(PackageSigning.signatureFile, "is missing: the package is not signed, but a key was given to check it")
        case (.some, nil):
            result.signature = .signedUnchecked
        case (.some(let bytes), .some(let key)):
            let fingerprint = PackageSigning.fingerprint(key)
            if let manifest = read(root, BagIt.tagManifestFile), key.isValidSignature(bytes, for: manifest) {
                result.signature = .valid(fingerprint: fingerprint)
                result.holds.append("\(PackageSigning.signatureFile): Ed25519 signature of \(BagIt.tagManifestFile) by key \(fingerprint) is valid")
            } else {
                let why = "not a valid signature of \(BagIt.tagManifestFile) by key \(fingerprint): the tag manifest or the signature changed, or another key signed it"
                result.signature = .invalid(why)
                problem(PackageSigning.signatureFile, why)
            }
        }

        // The pcap extract against its index.
        if let holds = ExtractVerifier.verify(root: root, changed: changed, problem: problem) { result.holds.append(holds) }
        return result
    }

    struct ManifestEntry {
        var sha256: String
        var path: String
        var line: Int
    }

    /// Parses `<sha256><white space><path>` lines (RFC 8493 §2.1.3; `%0A`, `%0D`, `%25`
    /// decoded in paths). A line that does not parse, or names a path that would leave
    /// the bag, is a problem of the manifest.
    static func parseManifest(_ root: String, _ name: String, problem: (String, String) -> Void) -> [ManifestEntry] {
        guard let bytes = read(root, name) else {
            problem(name, "is missing or unreadable")
            return []
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            problem(name, "is not UTF-8 text")
            return []
        }
        var entries: [ManifestEntry] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty && index > 0 { continue }
            let hash = line.prefix { !$0.isWhitespace }
            let rest = line.dropFirst(hash.count)
            let path = rest.drop { $0 == " " || $0 == "\t" }
            guard hash.count == 64, hash.allSatisfy(\.isHexDigit), rest.count > path.count, !path.isEmpty else {
                problem(name, "line \(index + 1) is not \"<SHA-256> <path>\": \(line.prefix(120))")
                continue
            }
            let decoded = String(path).replacingOccurrences(of: "%0A", with: "\n").replacingOccurrences(of: "%0D", with: "\r")
                .replacingOccurrences(of: "%25", with: "%")
            let components = decoded.split(separator: "/", omittingEmptySubsequences: false)
            guard !decoded.hasPrefix("/"), !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                problem(name, "line \(index + 1) names \(decoded), a path that leaves the bag")
                continue
            }
            entries.append(ManifestEntry(sha256: hash.lowercased(), path: decoded, line: index + 1))
        }
        return entries
    }

    /// The regular files under data/ (bag-relative paths, sorted) and their total size.
    /// Anything else there (a symbolic link, a device) is a problem.
    static func payloadFiles(_ root: String, problem: (String, String) -> Void) -> (files: [String], octets: UInt64) {
        var files: [String] = []
        var octets: UInt64 = 0
        var pending = [BagIt.payloadDirectory]
        while let directory = pending.popLast() {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: root + "/" + directory) else {
                problem(directory, "is missing or unreadable")
                continue
            }
            for name in names.sorted() {
                let relative = directory + "/" + name
                var status = stat()
                // Safe: lstat gets the path as a NUL-terminated copy for the call and writes only `status`.
                guard unsafe lstat(root + "/" + relative, &status) == 0 else { continue }
                switch status.st_mode & S_IFMT {
                case S_IFREG:
                    files.append(relative)
                    octets += UInt64(clamping: status.st_size)
                case S_IFDIR: pending.append(relative)
                default: problem(relative, "is not a regular file (a link or device in the payload)")
                }
            }
        }
        return (files.sorted(), octets)
    }

    /// The SHA-256 of a regular file inside the bag, streamed; a failure says why not
    /// (completing "…, which ").
    static func hashFile(_ root: String, _ relative: String) -> Result<String, HashFailure> {
        let path = root + "/" + relative
        var status = stat()
        // Safe: lstat gets the path as a NUL-terminated copy for the call and writes only `status`.
        guard unsafe lstat(path, &status) == 0 else { return .failure(HashFailure("does not exist")) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { return .failure(HashFailure("is not a regular file")) }
        guard let handle = FileHandle(forReadingAtPath: path) else { return .failure(HashFailure("cannot be read")) }
        defer { try? handle.close() }
        var hasher = SHA256()
        do {
            while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        } catch {
            return .failure(HashFailure("cannot be read: \(error)"))
        }
        return .success(Hex.string(hasher.finalize()))
    }

    struct HashFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A small file's bytes (tag files, custody.json), or nil if it is not a regular file.
    static func read(_ root: String, _ relative: String) -> [UInt8]? {
        let path = root + "/" + relative
        var status = stat()
        // Safe: lstat gets the path as a NUL-terminated copy for the call and writes only `status`.
        guard unsafe lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG,
              let data = FileManager.default.contents(atPath: path)
        else { return nil }
        return Array(data)
    }
}
