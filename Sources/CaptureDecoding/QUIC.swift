import ByteParsing
import Crypto
import Foundation
import Observations
import _CryptoExtras

extension PacketDecoder {
    /// Whether a UDP payload starts like a QUIC v1 or v2 long-header packet (RFC 9000
    /// §17.2: the high bit set, then a version this decoder decrypts). Reads five
    /// bytes and allocates nothing, so that non-QUIC datagrams on port 443 cost nothing.
    static func startsQUICLongHeader(_ payload: Span<UInt8>) -> Bool {
        guard let first = payload.uint8(at: 0), first & 0x80 != 0, let version = payload.uint32(at: 1) else {
            return false
        }
        return QUICVersion(version) != nil
    }

    /// QUIC (RFC 9000 §17.2.2, RFC 9001 §5, RFC 9369): the client's Initial packets in
    /// a datagram, coalesced ones included, are decrypted with the keys derived from
    /// their Destination Connection ID (for a client's Initials after the server's
    /// reply, from its first one), and their CRYPTO frames are reassembled by
    /// offset (across datagrams of the same connection ID too, within bounds: see
    /// `QUICHandshakes`). A whole ClientHello yields its server name (`.quicSNI`) and
    /// its JA3 and JA4 (`q…`) fingerprints, with the client as host.
    ///
    /// Other long-header packets (0-RTT, Handshake) are skipped by their length; a
    /// short-header packet ends the datagram (it runs to its end).
    mutating func decodeQUIC(
        _ datagram: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let cursor = ByteCursor(datagram)
        var start = 0
        // Where the connection ID of the datagram's first packet is: RFC 9000 §12.2 has
        // a receiver drop coalesced packets with another one.
        var connectionID: Range<Int>? = nil
        var touched: Int? = nil
        for _ in 0..<QUICHandshakes.maxCoalescedPackets {
            guard let first = cursor.getUInt8(at: start), first & 0x80 != 0 else { break }
            guard let rawVersion = cursor.getUInt32(at: start + 1), let version = QUICVersion(rawVersion) else { break }
            guard let header = QUICLongHeader(datagram, at: start, version: version) else {
                anomalies.record(.quicTruncated)
                break
            }
            if header.connectionIDTooLong {
                anomalies.record(.quicBadConnectionID)
                break
            }
            guard let end = header.end else { break }  // Retry: no payload to read
            if header.isInitial, let destinationRange = header.destinationConnectionID {
                if connectionID == nil { connectionID = destinationRange }
                let destination = datagram.extracting(destinationRange)
                let source = datagram.extracting(header.sourceConnectionID ?? 0..<0)
                if let connectionID, datagram.extracting(connectionID).elementsEqual(destination) {
                    switch decryptInitial(datagram, header: header, version: version, keysFrom: destination) {
                    case .decrypted(let slot):
                        touched = slot ?? touched
                        if let client = PacketDecoder.quicClientKey(source, host: context.source) {
                            quicHandshakes.remember(client: client.span, original: destination)
                        }
                    case .undecryptable:
                        // A client's Initials after the server's first reply carry the
                        // server's connection ID; the keys still come from the first
                        // one, found by the client's own (unchanged) connection ID.
                        if let client = PacketDecoder.quicClientKey(source, host: context.source),
                           let original = quicHandshakes.original(forClient: client.span),
                           !destination.elementsEqual(original),
                           case .decrypted(let slot) = decryptInitial(
                               datagram, header: header, version: version, keysFrom: original.span)
                        {
                            touched = slot ?? touched
                        } else {
                            anomalies.record(.quicInitialUndecryptable)
                        }
                    case .cut:
                        break
                    }
                }
            }
            start = end
        }
        if let touched { completeClientHello(slot: touched, context: context, observe: observe) }
        return .done
    }

    /// What `QUICHandshakes` knows a client by: its Source Connection ID or, when that is
    /// empty (RFC 9000 §5.1: such a client tells its connections apart by address and
    /// port), 21 zero bytes, longer than any connection ID (§17.2), then its address.
    /// Nil when there is neither. Only Initial packets get here, not the miss path.
    static func quicClientKey(_ source: Span<UInt8>, host: HostAddress) -> [UInt8]? {
        if !source.isEmpty { return source.array }
        let marker = [UInt8](repeating: 0, count: 21)
        switch host {
        case .ipv4(let address):
            return marker + (0..<4).map { UInt8(truncatingIfNeeded: address.value >> (24 - 8 * UInt32($0))) }
        case .ipv6(let address):
            return marker + (0..<8).map { UInt8(truncatingIfNeeded: address.high >> (56 - 8 * UInt64($0))) }
                + (0..<8).map { UInt8(truncatingIfNeeded: address.low >> (56 - 8 * UInt64($0))) }
        case .none:
            return nil
        }
    }

    /// Removes header protection, decrypts one Initial packet with the keys of
    /// `connectionID` (the client's first Destination Connection ID) and feeds its
    /// CRYPTO frames to the reassembly of that connection.
    private mutating func decryptInitial(
        _ datagram: Span<UInt8>, header: QUICLongHeader, version: QUICVersion,
        keysFrom connectionID: Span<UInt8>
    ) -> InitialOutcome {
        guard let end = header.end else { return .cut }
        let cursor = ByteCursor(datagram)
        // RFC 9001 §5.4.2: the sample starts 4 bytes past the packet number's start.
        guard let sample = cursor.getBytes(at: header.packetNumberOffset + 4, count: 16),
              header.packetNumberOffset + 4 + 16 <= end
        else {
            anomalies.record(.quicTruncated)
            return .cut
        }
        let keys = QUICInitialKeys(clientDestinationConnectionID: connectionID, version: version)
        var mask = sample.array
        guard (try? AES.permute(&mask, key: keys.headerProtection)) != nil else { return .undecryptable }
        // Long header: the low 4 bits of the first byte are protected; the low 2 give the
        // packet number's length.
        let first = datagram[header.start] ^ (mask[0] & 0x0F)
        let numberLength = Int(first & 0x03) + 1
        let headerLength = header.packetNumberOffset + numberLength - header.start
        guard header.start + headerLength + 16 <= end,
              let protected = cursor.getBytes(at: header.start, count: headerLength)
        else {
            anomalies.record(.quicTruncated)
            return .cut
        }
        // The unprotected header is the AEAD's associated data.
        var unprotected = protected.array
        unprotected[0] = first
        var packetNumber: UInt64 = 0
        for index in 0..<numberLength {
            let at = headerLength - numberLength + index
            unprotected[at] ^= mask[1 + index]
            packetNumber = packetNumber << 8 | UInt64(unprotected[at])
        }
        // RFC 9001 §5.3: the nonce is the IV XORed with the packet number (the truncated
        // one: a client's first Initials number from 0).
        var nonce = keys.iv
        for index in 0..<8 { nonce[11 - index] ^= UInt8(truncatingIfNeeded: packetNumber >> (8 * index)) }
        let payloadStart = header.start + headerLength
        guard let ciphertext = cursor.getBytes(at: payloadStart, count: end - 16 - payloadStart)?.array,
              let tag = cursor.getBytes(at: end - 16, count: 16)?.array,
              let gcmNonce = try? AES.GCM.Nonce(data: nonce),
              let box = try? AES.GCM.SealedBox(nonce: gcmNonce, ciphertext: ciphertext, tag: tag),
              let plaintext = try? AES.GCM.open(box, using: keys.key, authenticating: unprotected)
        else { return .undecryptable }
        let frames = [UInt8](plaintext)
        return .decrypted(slot: readInitialFrames(frames.span, connectionID: connectionID))
    }

    /// Reads the frames of a decrypted Initial packet (RFC 9000 §17.2.2: PADDING,
    /// PING, ACK, CRYPTO, CONNECTION_CLOSE), copying CRYPTO data into reassembly.
    private mutating func readInitialFrames(_ frames: Span<UInt8>, connectionID: Span<UInt8>) -> Int? {
        var cursor = ByteCursor(frames)
        var slot: Int? = nil
        // Each frame takes at least one byte: the payload bounds the loop.
        while let type = cursor.readQUICVarint() {
            switch type {
            case 0x00, 0x01:  // PADDING, PING
                continue
            case 0x02, 0x03:  // ACK: largest, delay, range count, first range, ranges, (ECN)
                guard cursor.readQUICVarint() != nil, cursor.readQUICVarint() != nil,
                      let ranges = cursor.readQUICVarint(), cursor.readQUICVarint() != nil
                else { return badFrame(slot) }
                // Each range takes at least two bytes: the payload bounds the count.
                guard ranges <= UInt64(cursor.remaining) else { return badFrame(slot) }
                for _ in 0..<ranges {
                    guard cursor.readQUICVarint() != nil, cursor.readQUICVarint() != nil else { return badFrame(slot) }
                }
                if type == 0x03 {  // ECT(0), ECT(1), ECN-CE counts
                    guard cursor.readQUICVarint() != nil, cursor.readQUICVarint() != nil,
                          cursor.readQUICVarint() != nil
                    else { return badFrame(slot) }
                }
            case 0x06:  // CRYPTO: offset, length, data
                guard let offset = cursor.readQUICVarint(), let length = cursor.readQUICVarint(),
                      length <= UInt64(cursor.remaining), let data = cursor.readBytes(Int(length))
                else { return badFrame(slot) }
                let handshakes = quicHandshakes
                let index: Int
                if let slot {
                    index = slot
                } else {
                    let (taken, evicted) = handshakes.slot(for: connectionID)
                    if evicted { anomalies.record(.quicClientHelloIncomplete) }
                    index = taken
                }
                slot = index
                if !handshakes.store(data, at: offset, slot: index) { anomalies.record(.quicCryptoTooLong) }
            case 0x1C:  // CONNECTION_CLOSE (transport): code, frame type, reason
                guard cursor.readQUICVarint() != nil, cursor.readQUICVarint() != nil,
                      let reasonLength = cursor.readQUICVarint(), reasonLength <= UInt64(cursor.remaining),
                      cursor.skip(Int(reasonLength))
                else { return badFrame(slot) }
            default:
                return badFrame(slot)
            }
        }
        return slot
    }

    private mutating func badFrame(_ slot: Int?) -> Int? {
        anomalies.record(.quicBadFrame)
        return slot
    }

    /// When the slot holds a whole ClientHello: observes it and frees the slot.
    private mutating func completeClientHello(slot: Int, context: PacketContext, observe: (Observation) -> Void) {
        let handshakes = quicHandshakes
        guard let message = handshakes.completeMessage(slot: slot) else { return }
        defer { handshakes.release(slot: slot) }
        let hello: ClientHello
        do {
            hello = try ClientHello(message: message.span)
        } catch {
            anomalies.record(.quicBadClientHello)
            return
        }
        if let name = hello.serverName {
            if name.count <= ValueCapacity.name {
                context.observe(name, as: .domain, field: .quicSNI, to: observe)
            } else {
                anomalies.record(.quicServerNameTooLong)
            }
        }
        observeFingerprints(of: hello, transport: .quic, context: context, observe: observe)
    }
}

/// What became of one Initial packet.
enum InitialOutcome {
    /// Authenticated and read; the reassembly slot its CRYPTO frames went to, if any.
    case decrypted(slot: Int?)
    /// Authentication failed with these keys.
    case undecryptable
    /// Too short to decrypt (counted as `quic.truncated`).
    case cut
}

/// The fields of a QUIC long header (RFC 9000 §17.2) up to the protected packet
/// number, every length checked against the datagram.
struct QUICLongHeader {
    /// Where the packet starts in its datagram.
    let start: Int
    let isInitial: Bool
    /// Where the connection IDs are in the datagram; nil when a length is over 20
    /// (`connectionIDTooLong`).
    private(set) var destinationConnectionID: Range<Int>? = nil
    private(set) var sourceConnectionID: Range<Int>? = nil
    private(set) var connectionIDTooLong = false
    /// Where the (protected) packet number starts; 0 for a Retry.
    private(set) var packetNumberOffset = 0
    /// Where the packet ends (its Length field); nil for a Retry, which has none.
    private(set) var end: Int? = nil

    /// RFC 9000 §17.2: connection IDs of version 1 (and 2) are at most 20 bytes.
    static let maxConnectionIDLength = 20

    /// nil when the header is cut or its Length runs past the datagram.
    init?(_ datagram: Span<UInt8>, at start: Int, version: QUICVersion) {
        var cursor = ByteCursor(datagram, offset: start)
        guard let first = cursor.readUInt8(), cursor.skip(4), let destinationLength = cursor.readUInt8() else {
            return nil
        }
        self.start = start
        let type = first >> 4 & 0x03
        isInitial = type == version.initialType
        guard Int(destinationLength) <= QUICLongHeader.maxConnectionIDLength else {
            connectionIDTooLong = true
            return
        }
        let destination = cursor.offset..<(cursor.offset + Int(destinationLength))
        guard cursor.skip(Int(destinationLength)), let sourceLength = cursor.readUInt8() else { return nil }
        destinationConnectionID = destination
        guard Int(sourceLength) <= QUICLongHeader.maxConnectionIDLength else {
            connectionIDTooLong = true
            return
        }
        let source = cursor.offset..<(cursor.offset + Int(sourceLength))
        guard cursor.skip(Int(sourceLength)) else { return nil }
        sourceConnectionID = source
        if type == version.retryType { return }
        if isInitial {
            guard let tokenLength = cursor.readQUICVarint(), tokenLength <= UInt64(cursor.remaining),
                  cursor.skip(Int(tokenLength))
            else { return nil }
        }
        guard let length = cursor.readQUICVarint(), length <= UInt64(cursor.remaining) else { return nil }
        packetNumberOffset = cursor.offset
        end = cursor.offset + Int(length)
    }
}

extension ByteCursor {
    /// A QUIC variable-length integer (RFC 9000 §16): the top two bits of the first
    /// byte give its length, 1, 2, 4 or 8 bytes.
    mutating func readQUICVarint() -> UInt64? {
        guard let first = peekUInt8() else { return nil }
        let length = 1 << Int(first >> 6)
        guard length <= remaining else { return nil }
        var value = UInt64(first & 0x3F)
        for index in 1..<length {
            value = value << 8 | UInt64(bytes[offset + index])
        }
        _ = skip(length)
        return value
    }
}

/// Reassembly of the CRYPTO stream of QUIC Initial packets: a few connections at a
/// time, keyed by the Destination Connection ID of the client's first Initial, each
/// up to `capacity` bytes. Memory is taken the first time a QUIC Initial is seen and
/// reused; the oldest unfinished connection makes room for a new one (counted as
/// `quic.client_hello_incomplete`).
final class QUICHandshakes {
    /// Connections reassembled at once: ClientHellos that span datagrams are sent
    /// back to back, so a few slots cover interleaved clients.
    static let maxPending = 8
    /// Largest ClientHello kept: 16 KiB, TLS's record size limit; post-quantum key
    /// shares make ClientHellos of 2–3 KiB, well within it.
    static let capacity = 16_384
    /// Coalesced packets read per datagram (RFC 9000 §12.2: Initial, 0-RTT and
    /// Handshake at most; a few spare for padding-length junk).
    static let maxCoalescedPackets = 8

    private struct Slot {
        var connectionID: [UInt8] = []
        var inUse = false
        var lastUse: UInt64 = 0
    }

    private var slots: [Slot] = []
    /// Client connection ID → the Destination Connection ID of that client's first
    /// Initial (whose keys protect all its Initials), for the last `maxRoutes`
    /// clients, replaced round-robin.
    private var routes: [(client: [UInt8], original: [UInt8])] = []
    private var nextRoute = 0
    /// Clients remembered: enough for the handshakes in flight on a busy link; an
    /// old one forgotten only costs its later ACK-only Initials.
    static let maxRoutes = 64
    /// `maxPending` slots of `capacity` bytes each, empty until the first Initial.
    private var data: [UInt8] = []
    /// One flag per byte of `data`: whether a CRYPTO frame filled it.
    private var filled: [Bool] = []
    private var clock: UInt64 = 0

    init() {}

    private func allocate() {
        guard data.isEmpty else { return }
        let bytes = QUICHandshakes.maxPending * QUICHandshakes.capacity
        data = Array(repeating: 0, count: bytes)
        filled = Array(repeating: false, count: bytes)
        slots = Array(repeating: Slot(), count: QUICHandshakes.maxPending)
    }

    /// Remembers which connection ID's keys protect a client's Initials.
    func remember(client: Span<UInt8>, original: Span<UInt8>) {
        if let index = routes.firstIndex(where: { client.elementsEqual($0.client) }) {
            if !original.elementsEqual(routes[index].original) { routes[index].original = original.array }
            return
        }
        if routes.count < QUICHandshakes.maxRoutes {
            routes.append((client.array, original.array))
        } else {
            routes[nextRoute] = (client.array, original.array)
            nextRoute = (nextRoute + 1) % QUICHandshakes.maxRoutes
        }
    }

    /// The connection ID whose keys protect this client's Initials, if remembered.
    func original(forClient client: Span<UInt8>) -> [UInt8]? {
        routes.first(where: { client.elementsEqual($0.client) })?.original
    }

    /// The slot reassembling `connectionID`, taking a free or the oldest one; `evicted`
    /// says an unfinished ClientHello was dropped to make room.
    func slot(for connectionID: Span<UInt8>) -> (index: Int, evicted: Bool) {
        allocate()
        clock &+= 1
        if let index = slots.firstIndex(where: { $0.inUse && connectionID.elementsEqual($0.connectionID) }) {
            slots[index].lastUse = clock
            return (index, false)
        }
        let index = slots.firstIndex(where: { !$0.inUse })
            ?? slots.indices.min(by: { slots[$0].lastUse < slots[$1].lastUse }) ?? 0
        let evicted = slots[index].inUse
        release(slot: index)
        slots[index] = Slot(connectionID: connectionID.array, inUse: true, lastUse: clock)
        return (index, evicted)
    }

    /// Copies CRYPTO data at its stream offset; false when some of it lies past
    /// `capacity` (that part is dropped). The first copy of a byte wins.
    func store(_ bytes: Span<UInt8>, at offset: UInt64, slot: Int) -> Bool {
        guard !data.isEmpty else { return false }
        let base = slot * QUICHandshakes.capacity
        guard offset < UInt64(QUICHandshakes.capacity) else { return bytes.isEmpty }
        let start = Int(offset)
        let count = min(bytes.count, QUICHandshakes.capacity - start)
        for index in 0..<count where !filled[base + start + index] {
            data[base + start + index] = bytes[index]
            filled[base + start + index] = true
        }
        return count == bytes.count
    }

    /// A copy of the ClientHello handshake message when the slot holds all of it from
    /// offset 0 (once per connection).
    func completeMessage(slot: Int) -> [UInt8]? {
        guard !data.isEmpty else { return nil }
        let base = slot * QUICHandshakes.capacity
        guard isFilled(from: base, count: 4) else { return nil }
        let length = Int(data[base + 1]) << 16 | Int(data[base + 2]) << 8 | Int(data[base + 3])
        // A message past the bound never completes: give the slot back at once.
        guard 4 + length <= QUICHandshakes.capacity else { return Array(data[base..<(base + 4)]) }
        guard isFilled(from: base, count: 4 + length) else { return nil }
        return Array(data[base..<(base + 4 + length)])
    }

    private func isFilled(from base: Int, count: Int) -> Bool {
        !filled[base..<(base + count)].contains(false)
    }

    /// Frees a slot and forgets what it held.
    func release(slot: Int) {
        guard !filled.isEmpty, slots.indices.contains(slot) else { return }
        let base = slot * QUICHandshakes.capacity
        filled.replaceSubrange(base..<(base + QUICHandshakes.capacity),
                               with: repeatElement(false, count: QUICHandshakes.capacity))
        slots[slot].inUse = false
    }
}
