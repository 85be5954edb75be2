import ByteParsing

/// Big-endian 16-bit values (cipher suites, groups, signature schemes, versions),
/// borrowed from a ClientHello: iterating reads them in place.
struct UInt16List: Sequence {
    /// An even number of bytes (checked by the parser).
    let bytes: UnsafeRawBufferPointer

    static var empty: UInt16List { UInt16List(bytes: UnsafeRawBufferPointer(start: nil, count: 0)) }

    var count: Int { bytes.count / 2 }
    var isEmpty: Bool { bytes.count < 2 }
    var underestimatedCount: Int { count }

    func makeIterator() -> Iterator { Iterator(bytes: bytes) }

    struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func next() -> UInt16? {
            guard let value = LegacyByteCursor(bytes).getUInt16(at: offset) else { return nil }
            offset += 2
            return value
        }
    }
}

/// The extensions of a ClientHello in the order sent, borrowed. The parser has checked
/// that the entries tile the block exactly, so iterating cannot run past it.
struct TLSExtensionList: Sequence {
    let bytes: UnsafeRawBufferPointer

    func makeIterator() -> Iterator { Iterator(cursor: LegacyByteCursor(bytes)) }

    struct Iterator: IteratorProtocol {
        var cursor: LegacyByteCursor

        mutating func next() -> (type: UInt16, data: UnsafeRawBufferPointer)? {
            guard let type = cursor.readUInt16(), let length = cursor.readUInt16(),
                  let data = cursor.readBytes(Int(length))
            else { return nil }
            return (type, data)
        }
    }
}

/// A TLS ClientHello (RFC 8446 §4.1.2), read from its handshake message without
/// copying: every field borrows the message's bytes and is valid only as long as
/// they are. Holds what the server name and the JA3/JA4 fingerprints need.
///
/// Every length is checked against the one around it; a message that ends early is
/// `.truncated`, one whose lengths contradict each other is `.malformed`.
struct ClientHello {
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

    /// `legacy_version`: what JA3 reports (771 for TLS 1.2 and 1.3).
    var legacyVersion: UInt16
    var cipherSuites: UInt16List
    /// Zero-length when the ClientHello has no extensions.
    var extensions: TLSExtensionList
    /// Whether a server_name extension (0) is present, even an empty one (JA4's d/i).
    var hasServerNameExtension = false
    /// The first host_name entry of server_name, when there is one and it is not empty.
    var serverName: UnsafeRawBufferPointer? = nil
    /// supported_groups (10), JA3's "elliptic curves".
    var supportedGroups = UInt16List.empty
    /// ec_point_formats (11): one byte per format.
    var ecPointFormats = UnsafeRawBufferPointer(start: nil, count: 0)
    /// signature_algorithms (13), in the order sent.
    var signatureAlgorithms = UInt16List.empty
    /// The first protocol of application_layer_protocol_negotiation (16); nil when
    /// there is no such extension or its list is empty.
    var firstALPN: UnsafeRawBufferPointer? = nil
    /// supported_versions (43).
    var supportedVersions = UInt16List.empty

    /// Reads a whole ClientHello handshake message: type 1, a 3-byte length, then the
    /// body. Bytes past the message's own length are ignored.
    init(message: UnsafeRawBufferPointer) throws(ParseError) {
        let header = LegacyByteCursor(message)
        guard let type = header.getUInt8(at: 0), let high = header.getUInt8(at: 1), let low = header.getUInt16(at: 2)
        else { throw .truncated }
        guard type == ClientHello.handshakeType else { throw .malformed }
        let length = Int(high) << 16 | Int(low)
        guard let body = header.getBytes(at: 4, count: length) else { throw .truncated }
        try self.init(body: body)
    }

    /// Reads a ClientHello's body (what follows the 4-byte handshake header), exactly
    /// `body.count` bytes long.
    init(body: UnsafeRawBufferPointer) throws(ParseError) {
        var cursor = LegacyByteCursor(body)
        // legacy_version, random (32), legacy_session_id<0..32>.
        guard let version = cursor.readUInt16(), cursor.skip(32), let sessionLength = cursor.readUInt8()
        else { throw .malformed }
        guard cursor.skip(Int(sessionLength)), let suitesLength = cursor.readUInt16(),
              let suites = cursor.readBytes(Int(suitesLength))
        else { throw .malformed }
        guard suites.count % 2 == 0 else { throw .malformed }
        guard let compressionLength = cursor.readUInt8(), cursor.skip(Int(compressionLength)) else { throw .malformed }
        legacyVersion = version
        cipherSuites = UInt16List(bytes: suites)
        extensions = TLSExtensionList(bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        // No extensions at all is legal (TLS 1.2 and before).
        guard !cursor.isAtEnd else { return }
        guard let extensionsLength = cursor.readUInt16(), let block = cursor.readBytes(Int(extensionsLength))
        else { throw .malformed }
        // Check that the entries tile the block before anything iterates it.
        var entries = LegacyByteCursor(block)
        while !entries.isAtEnd {
            guard let type = entries.readUInt16(), let length = entries.readUInt16(),
                  let data = entries.readBytes(Int(length))
            else { throw .malformed }
            try read(extension: type, data)
        }
        extensions = TLSExtensionList(bytes: block)
    }

    /// Keeps what the fingerprints need from one extension; the first occurrence of a
    /// repeated extension wins.
    private mutating func read(extension type: UInt16, _ data: UnsafeRawBufferPointer) throws(ParseError) {
        let cursor = LegacyByteCursor(data)
        switch type {
        case 0:  // server_name: list<2>, entries (type 1, name<2>)
            guard !hasServerNameExtension else { return }
            hasServerNameExtension = true
            guard !data.isEmpty else { return }  // a server's empty echo; from a client, no name
            guard let listLength = cursor.getUInt16(at: 0), Int(listLength) + 2 <= data.count else { throw .malformed }
            var offset = 2
            let listEnd = 2 + Int(listLength)
            while offset < listEnd {
                guard offset + 3 <= listEnd, let nameType = cursor.getUInt8(at: offset),
                      let nameLength = cursor.getUInt16(at: offset + 1), offset + 3 + Int(nameLength) <= listEnd,
                      let name = cursor.getBytes(at: offset + 3, count: Int(nameLength))
                else { throw .malformed }
                if nameType == 0, serverName == nil, !name.isEmpty { serverName = name }
                offset += 3 + Int(nameLength)
            }
        case 10:  // supported_groups: list<2> of u16
            guard supportedGroups.isEmpty else { return }
            supportedGroups = try ClientHello.list16(data, lengthBytes: 2)
        case 11:  // ec_point_formats: list<1> of u8
            guard ecPointFormats.isEmpty else { return }
            guard let length = cursor.getUInt8(at: 0), let formats = cursor.getBytes(at: 1, count: Int(length))
            else { throw .malformed }
            ecPointFormats = formats
        case 13:  // signature_algorithms: list<2> of u16
            guard signatureAlgorithms.isEmpty else { return }
            signatureAlgorithms = try ClientHello.list16(data, lengthBytes: 2)
        case 16:  // ALPN: list<2> of protocol<1>
            guard firstALPN == nil else { return }
            guard let listLength = cursor.getUInt16(at: 0), Int(listLength) + 2 <= data.count else { throw .malformed }
            guard listLength > 0 else { return }
            guard let length = cursor.getUInt8(at: 2), 1 + Int(length) <= Int(listLength),
                  let first = cursor.getBytes(at: 3, count: Int(length))
            else { throw .malformed }
            firstALPN = first
        case 43:  // supported_versions (client): list<1> of u16
            guard supportedVersions.isEmpty else { return }
            supportedVersions = try ClientHello.list16(data, lengthBytes: 1)
        default:
            break
        }
    }

    /// A list of 16-bit values behind a 1- or 2-byte length that must fit the extension.
    private static func list16(_ data: UnsafeRawBufferPointer, lengthBytes: Int) throws(ParseError) -> UInt16List {
        let cursor = LegacyByteCursor(data)
        let length: Int
        if lengthBytes == 1 {
            guard let value = cursor.getUInt8(at: 0) else { throw .malformed }
            length = Int(value)
        } else {
            guard let value = cursor.getUInt16(at: 0) else { throw .malformed }
            length = Int(value)
        }
        guard length % 2 == 0, let values = cursor.getBytes(at: lengthBytes, count: length) else { throw .malformed }
        return UInt16List(bytes: values)
    }

    /// GREASE values (RFC 8701): 0x0A0A, 0x1A1A, … 0xFAFA, which clients send to keep
    /// servers tolerant and which fingerprints leave out.
    static func isGREASE(_ value: UInt16) -> Bool {
        value & 0x0F0F == 0x0A0A && value >> 8 == value & 0xFF
    }
}
