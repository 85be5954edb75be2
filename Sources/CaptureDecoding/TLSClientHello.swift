import ByteParsing

/// Big-endian 16-bit values (cipher suites, groups, signature schemes, versions),
/// borrowed from a ClientHello and read in place by index.
struct UInt16List: ~Escapable {
    /// An even number of bytes (checked by the parser).
    let bytes: Span<UInt8>

    @_lifetime(copy bytes)
    init(bytes: Span<UInt8>) { self.bytes = bytes }

    var count: Int { bytes.count / 2 }
    var isEmpty: Bool { bytes.count < 2 }

    /// The value at `index` (`0..<count`; the span checks the bounds).
    subscript(index: Int) -> UInt16 {
        UInt16(bytes[2 * index]) << 8 | UInt16(bytes[2 * index + 1])
    }
}

/// The extensions of a ClientHello in the order sent, borrowed. The parser has checked
/// that the entries tile the block exactly, so walking it cannot run past it.
struct TLSExtensionList: ~Escapable {
    let bytes: Span<UInt8>

    @_lifetime(copy bytes)
    init(bytes: Span<UInt8>) { self.bytes = bytes }

    /// Calls `body` with each extension's type, in the order sent.
    func forEachType(_ body: (UInt16) -> Void) {
        var cursor = ByteCursor(bytes)
        while let type = cursor.readUInt16(), let length = cursor.readUInt16(), cursor.skip(Int(length)) {
            body(type)
        }
    }
}

/// A TLS ClientHello (RFC 8446 §4.1.2), read from its handshake message without
/// copying: every field borrows the message's bytes, and the compiler keeps the
/// ClientHello from outliving them. Holds what the server name and the JA3/JA4
/// fingerprints need, as ranges of the body read through accessors.
///
/// Every length is checked against the one around it; a message that ends early is
/// `.truncated`, one whose lengths contradict each other is `.malformed`.
struct ClientHello: ~Escapable {
    /// Why a ClientHello could not be read.
    enum ParseError: Error, Equatable {
        /// The bytes end before the message does (it continues in a later segment or
        /// packet).
        case truncated
        /// A length runs past the field that contains it, or a list has an odd length.
        case malformed
    }

    /// The handshake type of a ClientHello.
    static let handshakeType: UInt8 = 1

    /// The body (what follows the 4-byte handshake header); the ranges below index it.
    private let body: Span<UInt8>
    /// `legacy_version`: what JA3 reports (771 for TLS 1.2 and 1.3).
    let legacyVersion: UInt16
    private var cipherSuitesRange: Range<Int>
    /// Empty when the ClientHello has no extensions.
    private var extensionsRange = 0..<0
    /// Whether a server_name extension (0) is present, even an empty one (JA4's d/i).
    private(set) var hasServerNameExtension = false
    private var serverNameRange: Range<Int>? = nil
    private var supportedGroupsRange = 0..<0
    private var ecPointFormatsRange = 0..<0
    private var signatureAlgorithmsRange = 0..<0
    private var firstALPNRange: Range<Int>? = nil
    private var supportedVersionsRange = 0..<0

    var cipherSuites: UInt16List {
        @_lifetime(copy self) get { UInt16List(bytes: body.extracting(cipherSuitesRange)) }
    }
    var extensions: TLSExtensionList {
        @_lifetime(copy self) get { TLSExtensionList(bytes: body.extracting(extensionsRange)) }
    }
    /// The first host_name entry of server_name, when there is one and it is not empty.
    var serverName: Span<UInt8>? {
        @_lifetime(copy self) get {
            guard let range = serverNameRange else { return nil }
            return body.extracting(range)
        }
    }
    /// supported_groups (10), JA3's "elliptic curves".
    var supportedGroups: UInt16List {
        @_lifetime(copy self) get { UInt16List(bytes: body.extracting(supportedGroupsRange)) }
    }
    /// ec_point_formats (11): one byte per format.
    var ecPointFormats: Span<UInt8> {
        @_lifetime(copy self) get { body.extracting(ecPointFormatsRange) }
    }
    /// signature_algorithms (13), in the order sent.
    var signatureAlgorithms: UInt16List {
        @_lifetime(copy self) get { UInt16List(bytes: body.extracting(signatureAlgorithmsRange)) }
    }
    /// The first protocol of application_layer_protocol_negotiation (16); nil when
    /// there is no such extension or its list is empty.
    var firstALPN: Span<UInt8>? {
        @_lifetime(copy self) get {
            guard let range = firstALPNRange else { return nil }
            return body.extracting(range)
        }
    }
    /// supported_versions (43).
    var supportedVersions: UInt16List {
        @_lifetime(copy self) get { UInt16List(bytes: body.extracting(supportedVersionsRange)) }
    }

    /// Reads a whole ClientHello handshake message: type 1, a 3-byte length, then the
    /// body. Bytes past the message's own length are ignored.
    @_lifetime(copy message)
    init(message: Span<UInt8>) throws(ParseError) {
        let header = ByteCursor(message)
        guard let type = header.getUInt8(at: 0), let high = header.getUInt8(at: 1), let low = header.getUInt16(at: 2)
        else { throw .truncated }
        guard type == ClientHello.handshakeType else { throw .malformed }
        let length = Int(high) << 16 | Int(low)
        guard let body = header.getBytes(at: 4, count: length) else { throw .truncated }
        try self.init(body: body)
    }

    /// Reads a ClientHello's body (what follows the 4-byte handshake header), exactly
    /// `body.count` bytes long.
    @_lifetime(copy body)
    init(body: Span<UInt8>) throws(ParseError) {
        var cursor = ByteCursor(body)
        // legacy_version, random (32), legacy_session_id<0..32>.
        guard let version = cursor.readUInt16(), cursor.skip(32), let sessionLength = cursor.readUInt8()
        else { throw .malformed }
        guard cursor.skip(Int(sessionLength)), let suitesLength = cursor.readUInt16() else { throw .malformed }
        let suitesStart = cursor.offset
        guard suitesLength % 2 == 0, cursor.skip(Int(suitesLength)) else { throw .malformed }
        guard let compressionLength = cursor.readUInt8(), cursor.skip(Int(compressionLength)) else { throw .malformed }
        self.body = body
        legacyVersion = version
        cipherSuitesRange = suitesStart..<(suitesStart + Int(suitesLength))
        // No extensions at all is legal (TLS 1.2 and before).
        guard !cursor.isAtEnd else { return }
        guard let extensionsLength = cursor.readUInt16() else { throw .malformed }
        let blockStart = cursor.offset
        guard cursor.skip(Int(extensionsLength)) else { throw .malformed }
        let blockEnd = cursor.offset
        // Check that the entries tile the block before anything walks it.
        var entries = ByteCursor(body.extracting(0..<blockEnd), offset: blockStart)
        while !entries.isAtEnd {
            guard let type = entries.readUInt16(), let length = entries.readUInt16() else { throw .malformed }
            let data = entries.offset
            guard entries.skip(Int(length)) else { throw .malformed }
            try read(extension: type, at: data..<entries.offset)
        }
        extensionsRange = blockStart..<blockEnd
    }

    /// Keeps what the fingerprints need from one extension (its data at `range` of the
    /// body); the first occurrence of a repeated extension wins.
    private mutating func read(extension type: UInt16, at range: Range<Int>) throws(ParseError) {
        let data = body.extracting(range)
        let start = range.lowerBound
        switch type {
        case 0:  // server_name: list<2>, entries (type 1, name<2>)
            guard !hasServerNameExtension else { return }
            hasServerNameExtension = true
            guard !data.isEmpty else { return }  // a server's empty echo; from a client, no name
            guard let listLength = data.uint16(at: 0), Int(listLength) + 2 <= data.count else { throw .malformed }
            var offset = 2
            let listEnd = 2 + Int(listLength)
            while offset < listEnd {
                guard offset + 3 <= listEnd, let nameType = data.uint8(at: offset),
                      let nameLength = data.uint16(at: offset + 1), offset + 3 + Int(nameLength) <= listEnd
                else { throw .malformed }
                if nameType == 0, serverNameRange == nil, nameLength > 0 {
                    serverNameRange = (start + offset + 3)..<(start + offset + 3 + Int(nameLength))
                }
                offset += 3 + Int(nameLength)
            }
        case 10:  // supported_groups: list<2> of u16
            guard supportedGroupsRange.count < 2 else { return }
            supportedGroupsRange = try ClientHello.list16(data, lengthBytes: 2, start: start)
        case 11:  // ec_point_formats: list<1> of u8
            guard ecPointFormatsRange.isEmpty else { return }
            guard let length = data.uint8(at: 0), 1 + Int(length) <= data.count else { throw .malformed }
            ecPointFormatsRange = (start + 1)..<(start + 1 + Int(length))
        case 13:  // signature_algorithms: list<2> of u16
            guard signatureAlgorithmsRange.count < 2 else { return }
            signatureAlgorithmsRange = try ClientHello.list16(data, lengthBytes: 2, start: start)
        case 16:  // ALPN: list<2> of protocol<1>
            guard firstALPNRange == nil else { return }
            guard let listLength = data.uint16(at: 0), Int(listLength) + 2 <= data.count else { throw .malformed }
            guard listLength > 0 else { return }
            guard let length = data.uint8(at: 2), 1 + Int(length) <= Int(listLength) else { throw .malformed }
            firstALPNRange = (start + 3)..<(start + 3 + Int(length))
        case 43:  // supported_versions (client): list<1> of u16
            guard supportedVersionsRange.count < 2 else { return }
            supportedVersionsRange = try ClientHello.list16(data, lengthBytes: 1, start: start)
        default:
            break
        }
    }

    /// Where a list of 16-bit values behind a 1- or 2-byte length lies in the body
    /// (`data` starts at `start`); the list must fit the extension.
    private static func list16(_ data: Span<UInt8>, lengthBytes: Int, start: Int) throws(ParseError) -> Range<Int> {
        let length: Int
        if lengthBytes == 1 {
            guard let value = data.uint8(at: 0) else { throw .malformed }
            length = Int(value)
        } else {
            guard let value = data.uint16(at: 0) else { throw .malformed }
            length = Int(value)
        }
        guard length % 2 == 0, lengthBytes + length <= data.count else { throw .malformed }
        return (start + lengthBytes)..<(start + lengthBytes + length)
    }

    /// GREASE values (RFC 8701): 0x0A0A, 0x1A1A, … 0xFAFA, which clients send to keep
    /// servers tolerant and which fingerprints leave out.
    static func isGREASE(_ value: UInt16) -> Bool {
        value & 0x0F0F == 0x0A0A && value >> 8 == value & 0xFF
    }
}
