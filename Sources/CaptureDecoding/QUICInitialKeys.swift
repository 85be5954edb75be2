import Crypto
import Foundation

/// The QUIC versions whose Initial packets are decrypted: each has its own salt, key
/// labels and Initial packet type.
enum QUICVersion: Equatable {
    /// RFC 9000/9001.
    case v1
    /// RFC 9369.
    case v2

    init?(_ raw: UInt32) {
        switch raw {
        case 0x0000_0001: self = .v1
        case 0x6B33_43CF: self = .v2
        default: return nil
        }
    }

    /// The long-header type bits (byte 0, bits 4–5) of an Initial packet: RFC 9000
    /// §17.2.2 (0) and RFC 9369 §3.2 (1).
    var initialType: UInt8 {
        switch self {
        case .v1: 0
        case .v2: 1
        }
    }

    /// The long-header type bits of a Retry packet, which has no Length field.
    var retryType: UInt8 {
        switch self {
        case .v1: 3
        case .v2: 0
        }
    }

    /// `initial_salt`: RFC 9001 §5.2, RFC 9369 §3.3.1.
    var initialSalt: [UInt8] {
        switch self {
        case .v1:
            [0x38, 0x76, 0x2C, 0xF7, 0xF5, 0x59, 0x34, 0xB3, 0x4D, 0x17,
             0x9A, 0xE6, 0xA4, 0xC8, 0x0C, 0xAD, 0xCC, 0xBB, 0x7F, 0x0A]
        case .v2:
            [0x0D, 0xED, 0xE3, 0xDE, 0xF7, 0x00, 0xA6, 0xDB, 0x81, 0x93,
             0x81, 0xBE, 0x6E, 0x26, 0x9D, 0xCB, 0xF9, 0xBD, 0x2E, 0xD9]
        }
    }

    /// The prefix of the packet-protection labels (`quic key`, `quicv2 key`…).
    var labelPrefix: String {
        switch self {
        case .v1: "quic "
        case .v2: "quicv2 "
        }
    }
}

/// The client's Initial packet-protection keys (RFC 9001 §5.2), which anyone can
/// derive from the Destination Connection ID of the client's first Initial packet:
/// they protect against nothing but off-path tampering, and this is how a passive
/// observer reads the ClientHello.
struct QUICInitialKeys {
    /// AEAD_AES_128_GCM key.
    let key: SymmetricKey
    /// 12-byte IV, XORed with the packet number to make the nonce.
    let iv: [UInt8]
    /// AES-128 header-protection key.
    let headerProtection: SymmetricKey

    init(clientDestinationConnectionID connectionID: Span<UInt8>, version: QUICVersion) {
        let initialSecret = HKDF<SHA256>.extract(
            inputKeyMaterial: SymmetricKey(data: connectionID.array), salt: version.initialSalt)
        let clientSecret = QUICInitialKeys.expandLabel(initialSecret, label: "client in", length: 32)
        key = SymmetricKey(data: QUICInitialKeys.expandLabel(clientSecret, label: version.labelPrefix + "key", length: 16))
        iv = QUICInitialKeys.expandLabel(clientSecret, label: version.labelPrefix + "iv", length: 12)
        headerProtection = SymmetricKey(
            data: QUICInitialKeys.expandLabel(clientSecret, label: version.labelPrefix + "hp", length: 16))
    }

    /// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context: the info is the output
    /// length, `tls13 ` + label with its length, and a zero-length context. Every QUIC
    /// Initial secret fits in one block of SHA-256 (`length` ≤ 32), so HKDF-Expand
    /// (RFC 5869 §2.3) is its first block, `HMAC(secret, info | 0x01)`, cut to `length`:
    /// owned bytes, where swift-crypto's `HKDF.expand` gives a key whose bytes can only
    /// be lent through a pointer.
    static func expandLabel<Secret: ContiguousBytes>(_ secret: Secret, label: String, length: Int) -> [UInt8] {
        precondition(length <= SHA256.byteCount, "HKDF-Expand-Label of more than one SHA-256 block")
        let fullLabel = Array(("tls13 " + label).utf8)
        var info: [UInt8] = [UInt8(length >> 8), UInt8(length & 0xFF), UInt8(fullLabel.count)]
        info += fullLabel
        info.append(0)
        info.append(1)  // HKDF-Expand's block counter
        return Array(HMAC<SHA256>.authenticationCode(for: info, using: SymmetricKey(data: secret)).prefix(length))
    }
}
