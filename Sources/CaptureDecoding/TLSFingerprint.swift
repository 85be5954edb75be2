import ByteParsing
import Crypto
import Observations

/// TLS client fingerprints of a ClientHello: JA3 (Salesforce) and JA4 (FoxIO).
///
/// The decoders compute them without building their strings: the text is written
/// straight into the hash through a small staging buffer, and the JA4 sorts work in
/// temporary (stack) storage. These entry points are for callers outside decoding
/// (tests, tools) and return `String`s.
public enum TLSFingerprint {
    /// What carried the ClientHello: JA4's first character.
    public enum Transport: Sendable {
        /// TLS over TCP (`t`).
        case tcp
        /// QUIC (`q`).
        case quic

        var letter: UInt8 {
            switch self {
            case .tcp: UInt8(ascii: "t")
            case .quic: UInt8(ascii: "q")
            }
        }
    }

    /// Length of a JA3 fingerprint: an MD5 in hex.
    public static let ja3Length = 32
    /// Length of a JA4 fingerprint: `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    public static let ja4Length = 36

    /// The JA3 fingerprint of a ClientHello handshake message (type 1, 3-byte length,
    /// body) as 32 lower-case hex digits; nil when the message is cut or malformed.
    public static func ja3(clientHello message: UnsafeRawBufferPointer) -> String? {
        guard let hello = try? ClientHello(message: message) else { return nil }
        return withUnsafeTemporaryAllocation(byteCount: ja3Length, alignment: 1) { out in
            writeJA3(hello, into: out)
            return String(decoding: UnsafeRawBufferPointer(out), as: UTF8.self)
        }
    }

    /// The text JA3 hashes (`771,4865-4866,0-23,29-23,0`: Wireshark's `ja3_full`).
    public static func ja3Text(clientHello message: UnsafeRawBufferPointer) -> String? {
        guard let hello = try? ClientHello(message: message) else { return nil }
        var text = CollectedText()
        writeJA3Text(hello, into: &text)
        return String(decoding: text.bytes, as: UTF8.self)
    }

    /// The JA4 fingerprint of a ClientHello handshake message; nil when the message is
    /// cut or malformed.
    public static func ja4(clientHello message: UnsafeRawBufferPointer, transport: Transport) -> String? {
        guard let hello = try? ClientHello(message: message) else { return nil }
        return withUnsafeTemporaryAllocation(byteCount: ja4Length, alignment: 1) { out in
            writeJA4(hello, transport: transport, into: out)
            return String(decoding: UnsafeRawBufferPointer(out), as: UTF8.self)
        }
    }

    // MARK: JA3

    /// Writes JA3 (32 hex digits) into `out`, which holds at least `ja3Length` bytes.
    static func writeJA3(_ hello: ClientHello, into out: UnsafeMutableRawBufferPointer) {
        withUnsafeTemporaryAllocation(byteCount: HashedText<Insecure.MD5>.stagingSize, alignment: 1) { staging in
            var text = HashedText<Insecure.MD5>(staging: staging)
            writeJA3Text(hello, into: &text)
            var index = 0
            for byte in text.finalize() where index + 1 < out.count {
                out[index] = hexDigit(byte >> 4)
                out[index + 1] = hexDigit(byte & 0x0F)
                index += 2
            }
        }
    }

    /// `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`: decimal
    /// values joined by `-`, GREASE left out.
    static func writeJA3Text<Text: FingerprintText>(_ hello: ClientHello, into text: inout Text) {
        text.appendDecimal(hello.legacyVersion)
        text.append(UInt8(ascii: ","))
        appendDecimalList(hello.cipherSuites, to: &text)
        text.append(UInt8(ascii: ","))
        var first = true
        for (type, _) in hello.extensions where !ClientHello.isGREASE(type) {
            if !first { text.append(UInt8(ascii: "-")) }
            text.appendDecimal(type)
            first = false
        }
        text.append(UInt8(ascii: ","))
        appendDecimalList(hello.supportedGroups, to: &text)
        text.append(UInt8(ascii: ","))
        first = true
        for format in hello.ecPointFormats {
            if !first { text.append(UInt8(ascii: "-")) }
            text.appendDecimal(UInt16(format))
            first = false
        }
    }

    private static func appendDecimalList<Text: FingerprintText>(_ list: UInt16List, to text: inout Text) {
        var first = true
        for value in list where !ClientHello.isGREASE(value) {
            if !first { text.append(UInt8(ascii: "-")) }
            text.appendDecimal(value)
            first = false
        }
    }

    // MARK: JA4

    /// Writes JA4 (`ja4Length` bytes) into `out`, which holds at least that many.
    static func writeJA4(_ hello: ClientHello, transport: Transport, into out: UnsafeMutableRawBufferPointer) {
        guard out.count >= ja4Length else { return }
        // JA4_a: transport, version, SNI or not, counts, ALPN.
        out[0] = transport.letter
        let version = ja4Version(hello)
        out[1] = version.0
        out[2] = version.1
        out[3] = hello.hasServerNameExtension ? UInt8(ascii: "d") : UInt8(ascii: "i")
        var cipherCount = 0
        for suite in hello.cipherSuites where !ClientHello.isGREASE(suite) { cipherCount += 1 }
        var extensionCount = 0
        for (type, _) in hello.extensions where !ClientHello.isGREASE(type) { extensionCount += 1 }
        writeCount(cipherCount, at: 4, into: out)
        writeCount(extensionCount, at: 6, into: out)
        let alpn = ja4ALPN(hello.firstALPN)
        out[8] = alpn.0
        out[9] = alpn.1
        out[10] = UInt8(ascii: "_")
        out[23] = UInt8(ascii: "_")
        let hashB = UnsafeMutableRawBufferPointer(rebasing: out[11..<23])
        let hashC = UnsafeMutableRawBufferPointer(rebasing: out[24..<36])
        // JA4_b: the sorted cipher suites.
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: max(cipherCount, 1)) { sorted in
            var count = 0
            for suite in hello.cipherSuites where !ClientHello.isGREASE(suite) {
                sorted[count] = suite
                count += 1
            }
            var values = UnsafeMutableBufferPointer(rebasing: sorted[0..<count])
            values.sort()
            writeTruncatedSHA256(into: hashB, empty: count == 0) { text in
                appendHexList(UnsafeBufferPointer(values), to: &text)
            }
        }
        // JA4_c: the sorted extensions less SNI and ALPN, then `_` and the signature
        // algorithms as sent when there are any. Empty text gives zeros (as FoxIO's
        // reference implementation does: a ClientHello whose only extension is SNI).
        var signatureCount = 0
        for algorithm in hello.signatureAlgorithms where !ClientHello.isGREASE(algorithm) { signatureCount += 1 }
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: max(extensionCount, 1)) { sorted in
            var count = 0
            for (type, _) in hello.extensions where !ClientHello.isGREASE(type) && type != 0 && type != 16 {
                sorted[count] = type
                count += 1
            }
            var values = UnsafeMutableBufferPointer(rebasing: sorted[0..<count])
            values.sort()
            writeTruncatedSHA256(into: hashC, empty: count == 0 && signatureCount == 0) { text in
                appendHexList(UnsafeBufferPointer(values), to: &text)
                var first = true
                for algorithm in hello.signatureAlgorithms where !ClientHello.isGREASE(algorithm) {
                    text.append(first ? UInt8(ascii: "_") : UInt8(ascii: ","))
                    text.appendHex4(algorithm)
                    first = false
                }
            }
        }
    }

    /// The highest supported_versions entry (GREASE left out), else legacy_version,
    /// as JA4's two characters.
    private static func ja4Version(_ hello: ClientHello) -> (UInt8, UInt8) {
        var version = hello.legacyVersion
        var highest: UInt16? = nil
        for candidate in hello.supportedVersions where !ClientHello.isGREASE(candidate) {
            highest = max(highest ?? 0, candidate)
        }
        if let highest { version = highest }
        switch version {
        case 0x0304: return (UInt8(ascii: "1"), UInt8(ascii: "3"))
        case 0x0303: return (UInt8(ascii: "1"), UInt8(ascii: "2"))
        case 0x0302: return (UInt8(ascii: "1"), UInt8(ascii: "1"))
        case 0x0301: return (UInt8(ascii: "1"), UInt8(ascii: "0"))
        case 0x0300: return (UInt8(ascii: "s"), UInt8(ascii: "3"))
        case 0x0002: return (UInt8(ascii: "s"), UInt8(ascii: "2"))
        case 0xFEFF: return (UInt8(ascii: "d"), UInt8(ascii: "1"))
        case 0xFEFD: return (UInt8(ascii: "d"), UInt8(ascii: "2"))
        case 0xFEFC: return (UInt8(ascii: "d"), UInt8(ascii: "3"))
        default: return (UInt8(ascii: "0"), UInt8(ascii: "0"))
        }
    }

    /// First and last character of the first ALPN protocol; their hex digits when
    /// either is not alphanumeric; `00` when there is none.
    private static func ja4ALPN(_ alpn: UnsafeRawBufferPointer?) -> (UInt8, UInt8) {
        guard let alpn, let first = alpn.first, let last = alpn.last else {
            return (UInt8(ascii: "0"), UInt8(ascii: "0"))
        }
        if isAlphanumeric(first), isAlphanumeric(last) { return (first, last) }
        return (hexDigit(first >> 4), hexDigit(last & 0x0F))
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// Two decimal digits, capped at 99 as the spec says.
    private static func writeCount(_ count: Int, at index: Int, into out: UnsafeMutableRawBufferPointer) {
        let capped = min(count, 99)
        out[index] = UInt8(ascii: "0") + UInt8(capped / 10)
        out[index + 1] = UInt8(ascii: "0") + UInt8(capped % 10)
    }

    private static func appendHexList<Text: FingerprintText>(_ values: UnsafeBufferPointer<UInt16>, to text: inout Text) {
        for (index, value) in values.enumerated() {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            text.appendHex4(value)
        }
    }

    /// The first 12 hex digits of the SHA-256 of what `write` writes, or twelve `0`s
    /// when it writes nothing (`empty`: the spec's marker for "no values").
    private static func writeTruncatedSHA256(
        into out: UnsafeMutableRawBufferPointer, empty: Bool, write: (inout HashedText<SHA256>) -> Void
    ) {
        guard !empty else {
            for index in out.indices { out[index] = UInt8(ascii: "0") }
            return
        }
        withUnsafeTemporaryAllocation(byteCount: HashedText<SHA256>.stagingSize, alignment: 1) { staging in
            var text = HashedText<SHA256>(staging: staging)
            write(&text)
            var index = 0
            for byte in text.finalize() where index + 1 < out.count {
                out[index] = hexDigit(byte >> 4)
                out[index + 1] = hexDigit(byte & 0x0F)
                index += 2
            }
        }
    }

    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}

/// Where fingerprint text goes: straight into a hash on the decoding path, into an
/// array for the `String` entry points.
protocol FingerprintText {
    mutating func append(_ byte: UInt8)
}

extension FingerprintText {
    mutating func appendDecimal(_ value: UInt16) {
        var divisor: UInt16 = 10_000
        var started = false
        while divisor > 0 {
            let digit = UInt8((value / divisor) % 10)
            if digit != 0 || started || divisor == 1 {
                append(UInt8(ascii: "0") + digit)
                started = true
            }
            divisor /= 10
        }
    }

    /// Four lower-case hex digits.
    mutating func appendHex4(_ value: UInt16) {
        append(TLSFingerprint.hexDigit(UInt8(value >> 12)))
        append(TLSFingerprint.hexDigit(UInt8(value >> 8 & 0x0F)))
        append(TLSFingerprint.hexDigit(UInt8(value >> 4 & 0x0F)))
        append(TLSFingerprint.hexDigit(UInt8(value & 0x0F)))
    }
}

/// Text hashed as it is written, through a staging buffer the caller lends.
struct HashedText<Hash: HashFunction>: FingerprintText {
    /// Big enough that hashing is called a few times per ClientHello, small enough for
    /// the stack.
    static var stagingSize: Int { 256 }

    private var hash = Hash()
    private let staging: UnsafeMutableRawBufferPointer
    private var used = 0

    init(staging: UnsafeMutableRawBufferPointer) { self.staging = staging }

    mutating func append(_ byte: UInt8) {
        if used == staging.count { flush() }
        staging[used] = byte
        used += 1
    }

    private mutating func flush() {
        hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: staging[0..<used]))
        used = 0
    }

    mutating func finalize() -> Hash.Digest {
        flush()
        return hash.finalize()
    }
}

/// Text collected into an array (for the `String` entry points and tests).
struct CollectedText: FingerprintText {
    var bytes: [UInt8] = []
    mutating func append(_ byte: UInt8) { bytes.append(byte) }
}

extension PacketDecoder {
    /// Observes the JA3 and JA4 fingerprints of a ClientHello (`.tlsJA3`, `.tlsJA4`)
    /// with the client as host.
    func observeFingerprints(
        of hello: ClientHello, transport: TLSFingerprint.Transport, context: PacketContext,
        observe: (Observation) -> Void
    ) {
        let wanted = flows.options.derivedObservables
        guard !wanted.isDisjoint(with: .fingerprints) else { return }
        withUnsafeTemporaryAllocation(byteCount: TLSFingerprint.ja3Length + TLSFingerprint.ja4Length, alignment: 1) {
            text in
            let ja3 = UnsafeMutableRawBufferPointer(rebasing: text[0..<TLSFingerprint.ja3Length])
            let ja4 = UnsafeMutableRawBufferPointer(rebasing: text[TLSFingerprint.ja3Length...])
            if wanted.contains(.ja3) {
                TLSFingerprint.writeJA3(hello, into: ja3)
                observe(Observation(value: .ja3(UnsafeRawBufferPointer(ja3)), field: .tlsJA3, host: context.source,
                                    locator: context.locator, time: context.time))
            }
            if wanted.contains(.ja4) {
                TLSFingerprint.writeJA4(hello, transport: transport, into: ja4)
                observe(Observation(value: .ja4(UnsafeRawBufferPointer(ja4)), field: .tlsJA4, host: context.source,
                                    locator: context.locator, time: context.time))
            }
        }
    }

    /// The fingerprints of a ClientHello handshake message that a TCP segment holds
    /// whole. One that does not parse yields none and is not counted here: the server
    /// name decoder (TLS.swift) already counts malformed ClientHellos.
    func observeFingerprints(
        ofMessage message: UnsafeRawBufferPointer, context: PacketContext, observe: (Observation) -> Void
    ) {
        // Parsing the ClientHello again is only worth it for a fingerprint.
        guard !flows.options.derivedObservables.isDisjoint(with: .fingerprints),
              let hello = try? ClientHello(message: message) else { return }
        observeFingerprints(of: hello, transport: .tcp, context: context, observe: observe)
    }
}
