import ByteParsing
import Crypto
import Observations

/// TLS client fingerprints of a ClientHello: JA3 (Salesforce) and JA4 (FoxIO).
///
/// The decoders compute them without building their strings: the text is written
/// straight into the hash through a small staging buffer, and the JA4 sorts and the
/// fingerprints themselves live on the stack. These entry points are for callers
/// outside decoding (tests, tools) and return `String`s.
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
    public static func ja3(clientHello message: Span<UInt8>) -> String? {
        guard let hello = try? ClientHello(message: message) else { return nil }
        return ja3(of: hello).span.string
    }

    /// The text JA3 hashes (`771,4865-4866,0-23,29-23,0`: Wireshark's `ja3_full`).
    public static func ja3Text(clientHello message: Span<UInt8>) -> String? {
        guard let hello = try? ClientHello(message: message) else { return nil }
        var text = CollectedText()
        writeJA3Text(hello, into: &text)
        return text.bytes.span.string
    }

    /// The JA4 fingerprint of a ClientHello handshake message; nil when the message is
    /// cut or malformed.
    public static func ja4(clientHello message: Span<UInt8>, transport: Transport) -> String? {
        guard let hello = try? ClientHello(message: message) else { return nil }
        return ja4(of: hello, transport: transport).span.string
    }

    // MARK: JA3

    /// JA3: 32 hex digits, on the stack.
    static func ja3(of hello: ClientHello) -> InlineArray<32, UInt8> {
        var text = HashedText<Insecure.MD5>()
        writeJA3Text(hello, into: &text)
        var out = InlineArray<32, UInt8>(repeating: 0)
        var span = out.mutableSpan
        writeHex(text.finalize(), into: &span, range: 0..<ja3Length)
        return out
    }

    /// `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`: decimal
    /// values joined by `-`, GREASE left out.
    static func writeJA3Text<Text: FingerprintText>(_ hello: ClientHello, into text: inout Text) {
        text.appendDecimal(hello.legacyVersion)
        text.append(UInt8(ascii: ","))
        appendDecimalList(hello.cipherSuites, to: &text)
        text.append(UInt8(ascii: ","))
        var first = true
        hello.extensions.forEachType { type in
            guard !ClientHello.isGREASE(type) else { return }
            if !first { text.append(UInt8(ascii: "-")) }
            text.appendDecimal(type)
            first = false
        }
        text.append(UInt8(ascii: ","))
        appendDecimalList(hello.supportedGroups, to: &text)
        text.append(UInt8(ascii: ","))
        let formats = hello.ecPointFormats
        for index in 0..<formats.count {
            if index > 0 { text.append(UInt8(ascii: "-")) }
            text.appendDecimal(UInt16(formats[index]))
        }
    }

    private static func appendDecimalList<Text: FingerprintText>(_ list: UInt16List, to text: inout Text) {
        var first = true
        for index in 0..<list.count where !ClientHello.isGREASE(list[index]) {
            if !first { text.append(UInt8(ascii: "-")) }
            text.appendDecimal(list[index])
            first = false
        }
    }

    // MARK: JA4

    /// JA4 (`ja4Length` bytes), on the stack.
    static func ja4(of hello: ClientHello, transport: Transport) -> InlineArray<36, UInt8> {
        var out = InlineArray<36, UInt8>(repeating: 0)
        // JA4_a: transport, version, SNI or not, counts, ALPN.
        out[0] = transport.letter
        let version = ja4Version(hello)
        out[1] = version.0
        out[2] = version.1
        out[3] = hello.hasServerNameExtension ? UInt8(ascii: "d") : UInt8(ascii: "i")
        let cipherSuites = hello.cipherSuites
        var cipherCount = 0
        for index in 0..<cipherSuites.count where !ClientHello.isGREASE(cipherSuites[index]) { cipherCount += 1 }
        var extensionCount = 0
        hello.extensions.forEachType { type in
            if !ClientHello.isGREASE(type) { extensionCount += 1 }
        }
        writeCount(cipherCount, at: 4, into: &out)
        writeCount(extensionCount, at: 6, into: &out)
        let alpn = ja4ALPN(hello.firstALPN)
        out[8] = alpn.0
        out[9] = alpn.1
        out[10] = UInt8(ascii: "_")
        out[23] = UInt8(ascii: "_")
        var span = out.mutableSpan
        // JA4_b: the sorted cipher suites.
        var suites = SortedValues()
        for index in 0..<cipherSuites.count where !ClientHello.isGREASE(cipherSuites[index]) {
            suites.add(cipherSuites[index])
        }
        suites.sort()
        var textB = HashedText<SHA256>()
        appendHexList(suites.values, to: &textB)
        writeTruncatedSHA256(textB, empty: suites.count == 0, into: &span, range: 11..<23)
        // JA4_c: the sorted extensions less SNI and ALPN, then `_` and the signature
        // algorithms as sent when there are any. Empty text gives zeros (as FoxIO's
        // reference implementation does: a ClientHello whose only extension is SNI).
        let signatures = hello.signatureAlgorithms
        var signatureCount = 0
        var types = SortedValues()
        hello.extensions.forEachType { type in
            if !ClientHello.isGREASE(type), type != 0, type != 16 { types.add(type) }
        }
        types.sort()
        var textC = HashedText<SHA256>()
        appendHexList(types.values, to: &textC)
        for index in 0..<signatures.count where !ClientHello.isGREASE(signatures[index]) {
            textC.append(signatureCount == 0 ? UInt8(ascii: "_") : UInt8(ascii: ","))
            textC.appendHex4(signatures[index])
            signatureCount += 1
        }
        writeTruncatedSHA256(textC, empty: types.count == 0 && signatureCount == 0, into: &span, range: 24..<36)
        return out
    }

    /// The highest supported_versions entry (GREASE left out), else legacy_version,
    /// as JA4's two characters.
    private static func ja4Version(_ hello: ClientHello) -> (UInt8, UInt8) {
        var version = hello.legacyVersion
        var highest: UInt16? = nil
        let versions = hello.supportedVersions
        for index in 0..<versions.count where !ClientHello.isGREASE(versions[index]) {
            highest = max(highest ?? 0, versions[index])
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
    private static func ja4ALPN(_ alpn: Span<UInt8>?) -> (UInt8, UInt8) {
        guard let alpn, let first = alpn.uint8(at: 0), let last = alpn.uint8(at: alpn.count - 1) else {
            return (UInt8(ascii: "0"), UInt8(ascii: "0"))
        }
        if isAlphanumeric(first), isAlphanumeric(last) { return (first, last) }
        return (hexDigit(first >> 4), hexDigit(last & 0x0F))
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// Two decimal digits, capped at 99 as the spec says.
    private static func writeCount(_ count: Int, at index: Int, into out: inout InlineArray<36, UInt8>) {
        let capped = min(count, 99)
        out[index] = UInt8(ascii: "0") + UInt8(capped / 10)
        out[index + 1] = UInt8(ascii: "0") + UInt8(capped % 10)
    }

    private static func appendHexList<Text: FingerprintText>(_ values: Span<UInt16>, to text: inout Text) {
        for index in 0..<values.count {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            text.appendHex4(values[index])
        }
    }

    /// The first `range.count` hex digits of the SHA-256 of `text`, or `0`s when it
    /// is `empty` (the spec's marker for "no values").
    private static func writeTruncatedSHA256(
        _ text: HashedText<SHA256>, empty: Bool, into out: inout MutableSpan<UInt8>, range: Range<Int>
    ) {
        guard !empty else {
            for index in range { out[index] = UInt8(ascii: "0") }
            return
        }
        var text = text
        writeHex(text.finalize(), into: &out, range: range)
    }

    /// The digest's bytes as lower-case hex digits into `out[range]`, as many as fit.
    private static func writeHex<Digest: Sequence<UInt8>>(
        _ digest: Digest, into out: inout MutableSpan<UInt8>, range: Range<Int>
    ) {
        var index = range.lowerBound
        for byte in digest where index + 1 < range.upperBound {
            out[index] = hexDigit(byte >> 4)
            out[index + 1] = hexDigit(byte & 0x0F)
            index += 2
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

/// Text hashed as it is written, through a staging buffer on the stack.
struct HashedText<Hash: HashFunction>: FingerprintText {
    private var hash = Hash()
    /// Big enough that hashing is called a few times per ClientHello, small enough for
    /// the stack.
    private var staging = InlineArray<256, UInt8>(repeating: 0)
    private var used = 0

    mutating func append(_ byte: UInt8) {
        if used == staging.count { flush() }
        staging[used] = byte
        used += 1
    }

    private mutating func flush() {
        hash.update(span: staging.span.extracting(0..<used))
        used = 0
    }

    mutating func finalize() -> Hash.Digest {
        flush()
        return hash.finalize()
    }
}

/// Values sorted for JA4: on the stack up to 128 of them; clients send at most about
/// 60 cipher suites and 20 extensions, so only a hostile ClientHello takes an array.
struct SortedValues {
    private var small = InlineArray<128, UInt16>(repeating: 0)
    private var large: [UInt16] = []
    private(set) var count = 0

    mutating func add(_ value: UInt16) {
        if count < small.count {
            small[count] = value
        } else {
            if large.isEmpty { for index in 0..<small.count { large.append(small[index]) } }
            large.append(value)
        }
        count += 1
    }

    /// Sorts what was added: an insertion sort on the stack, the standard sort beyond.
    mutating func sort() {
        guard count <= small.count else {
            large.sort()
            return
        }
        var next = 1
        while next < count {
            let value = small[next]
            var slot = next
            while slot > 0, small[slot - 1] > value {
                small[slot] = small[slot - 1]
                slot -= 1
            }
            small[slot] = value
            next += 1
        }
    }

    /// The values, in the order of the last `sort()`.
    var values: Span<UInt16> {
        @_lifetime(borrow self) get { count <= small.count ? small.span.extracting(0..<count) : large.span }
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
        if wanted.contains(.ja3) {
            let text = TLSFingerprint.ja3(of: hello)
            context.observe(text.span, as: .ja3, field: .tlsJA3, to: observe)
        }
        if wanted.contains(.ja4) {
            let text = TLSFingerprint.ja4(of: hello, transport: transport)
            context.observe(text.span, as: .ja4, field: .tlsJA4, to: observe)
        }
    }

    /// The fingerprints of a ClientHello handshake message that a TCP segment holds
    /// whole. One that does not parse yields none and is not counted here: the server
    /// name decoder (TLS.swift) already counts malformed ClientHellos.
    func observeFingerprints(
        ofMessage message: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void
    ) {
        // Parsing the ClientHello again is only worth it for a fingerprint.
        guard !flows.options.derivedObservables.isDisjoint(with: .fingerprints),
              let hello = try? ClientHello(message: message) else { return }
        observeFingerprints(of: hello, transport: .tcp, context: context, observe: observe)
    }
}
