import ByteParsing
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Ed25519 keys as PEM (RFC 8410: PKCS#8 `PRIVATE KEY`, SubjectPublicKeyInfo
/// `PUBLIC KEY`), the form `openssl` reads, and the detached signature of a package.
///
/// The signature covers `tagmanifest-sha256.txt`, which covers bagit.txt, bag-info.txt
/// and manifest-sha256.txt, which covers the payload: one signature vouches for every
/// byte of the bag. It is written raw (64 bytes, RFC 8032) to
/// `tagmanifest-sha256.txt.sig`, a tag file no manifest lists (it cannot cover itself),
/// so that `openssl pkeyutl -verify -pubin -inkey KEY.pub -rawin -in
/// tagmanifest-sha256.txt -sigfile tagmanifest-sha256.txt.sig` checks it as it is.
public enum PackageSigning {
    /// The signature's file name, beside the tag manifest.
    public static let signatureFile = "tagmanifest-sha256.txt.sig"

    /// DER before the 32-byte seed in an Ed25519 PKCS#8 PrivateKeyInfo (RFC 8410 §7):
    /// SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }.
    static let privatePrefix: [UInt8] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ]
    /// DER before the 32-byte key in an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4):
    /// SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (0 unused bits) key }.
    static let publicPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

    /// The private key as PEM PKCS#8.
    public static func pem(privateKey key: Curve25519.Signing.PrivateKey) -> String {
        pem(label: "PRIVATE KEY", der: privatePrefix + Array(key.rawRepresentation))
    }

    /// The public key as PEM SubjectPublicKeyInfo.
    public static func pem(publicKey key: Curve25519.Signing.PublicKey) -> String {
        pem(label: "PUBLIC KEY", der: publicPrefix + Array(key.rawRepresentation))
    }

    /// Reads a PEM PKCS#8 Ed25519 private key (as `cairn keys generate` or
    /// `openssl genpkey -algorithm ed25519` writes it).
    public static func privateKey(pem text: String) throws -> Curve25519.Signing.PrivateKey {
        let der = try decode(pem: text, label: "PRIVATE KEY")
        guard der.count == privatePrefix.count + 32, Array(der.prefix(privatePrefix.count)) == privatePrefix else {
            throw SigningError("not an Ed25519 private key in PKCS#8 form (RFC 8410)")
        }
        return try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))
    }

    /// Reads a PEM SubjectPublicKeyInfo Ed25519 public key.
    public static func publicKey(pem text: String) throws -> Curve25519.Signing.PublicKey {
        let der = try decode(pem: text, label: "PUBLIC KEY")
        guard der.count == publicPrefix.count + 32, Array(der.prefix(publicPrefix.count)) == publicPrefix else {
            throw SigningError("not an Ed25519 public key in SubjectPublicKeyInfo form (RFC 8410)")
        }
        return try Curve25519.Signing.PublicKey(rawRepresentation: der.suffix(32))
    }

    /// SHA-256 of the public key's raw 32 bytes, in hex: how a key is named in output.
    public static func fingerprint(_ key: Curve25519.Signing.PublicKey) -> String {
        Hex.string(SHA256.hash(data: key.rawRepresentation))
    }

    /// Writes a new key pair: `<prefix>.key` (PEM PKCS#8, mode 0600) and `<prefix>.pub`
    /// (PEM SubjectPublicKeyInfo, mode 0644). Refuses to replace an existing file.
    /// Returns the two paths.
    public static func generateKeyPair(prefix: String) throws -> (privateKey: String, publicKey: String) {
        let key = Curve25519.Signing.PrivateKey()
        let privatePath = prefix + ".key"
        let publicPath = prefix + ".pub"
        for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw SigningError("\(path) exists: refusing to replace a key file")
        }
        try create(privatePath, Array(pem(privateKey: key).utf8), mode: 0o600)
        try create(publicPath, Array(pem(publicKey: key.publicKey).utf8), mode: 0o644)
        return (privatePath, publicPath)
    }

    /// Reads a key file, with a clear message when it cannot be read.
    public static func readKeyFile(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw SigningError("\(path): cannot be read") }
        return String(decoding: data, as: UTF8.self)
    }

    static func create(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        // Safe: open gets the path as a NUL-terminated copy, valid for the call.
        let file = unsafe open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard file >= 0 else { throw SigningError("\(path): cannot create: \(SystemError.describe())") }
        defer { close(file) }
        // The umask may have cleared bits of `mode`; the private key must be 0600 exactly.
        _ = fchmod(file, mode)
        if let code = DescriptorWriting.writeAll(bytes.span, to: file) {
            throw SigningError("\(path): cannot write: \(SystemError.describe(code))")
        }
    }

    static func pem(label: String, der: [UInt8]) -> String {
        let base64 = Data(der).base64EncodedString()
        var lines: [Substring] = []
        var rest = Substring(base64)
        while !rest.isEmpty {
            lines.append(rest.prefix(64))
            rest = rest.dropFirst(64)
        }
        return "-----BEGIN \(label)-----\n" + lines.joined(separator: "\n") + "\n-----END \(label)-----\n"
    }

    static func decode(pem text: String, label: String) throws -> [UInt8] {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        guard let start = text.range(of: begin), let stop = text.range(of: end, range: start.upperBound..<text.endIndex) else {
            throw SigningError("no \(begin) … \(end) block: expected a PEM \(label.lowercased()) file")
        }
        let body = text[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: String(body)) else { throw SigningError("the PEM block is not base64") }
        return Array(data)
    }
}

/// A key or signature that cannot be used, in one sentence.
public struct SigningError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The public key type `PackageVerifier.verify(directory:publicKey:)` takes, named so
/// that callers need not import Crypto.
public typealias Curve25519PublicKey = Curve25519.Signing.PublicKey
