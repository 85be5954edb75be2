// The flow a packet belongs to, for the evidence extract: the outermost IP header's
// address pair, the transport protocol and (TCP, UDP, SCTP) the port pair, ordered so
// that both directions give the same key. Also where the transport header ends, for
// `--headers-only`. Bounds-checked reads only: every length in the packet is checked
// against the bytes captured.

import Observations

/// A direction-independent flow key: the IP address pair, the protocol and, for TCP,
/// UDP and SCTP, the port pair (zero otherwise). Endpoint `a` is the smaller
/// (address, port) of the two.
public struct FlowKey: Hashable, Sendable, CustomStringConvertible {
    /// 4 or 6.
    public var ipVersion: UInt8
    /// The IP protocol number of the transport (6 TCP, 17 UDP, 1 ICMP…).
    public var protocolNumber: UInt8
    /// Addresses as 128-bit values (IPv4 in the low 32 bits).
    public var addressA: IPv6Address
    public var portA: UInt16
    public var addressB: IPv6Address
    public var portB: UInt16

    public init(ipVersion: UInt8, protocolNumber: UInt8, source: IPv6Address, sourcePort: UInt16,
                destination: IPv6Address, destinationPort: UInt16) {
        self.ipVersion = ipVersion
        self.protocolNumber = protocolNumber
        if (source, sourcePort) <= (destination, destinationPort) {
            (addressA, portA, addressB, portB) = (source, sourcePort, destination, destinationPort)
        } else {
            (addressA, portA, addressB, portB) = (destination, destinationPort, source, sourcePort)
        }
    }

    /// Whether the key has ports (TCP, UDP, SCTP).
    public var hasPorts: Bool { FlowKey.portProtocols.contains(protocolNumber) }

    static let portProtocols: Set<UInt8> = [6, 17, 132]

    /// e.g. `tcp 192.0.2.1:51000 <-> 198.51.100.7:443`, `ip/1 192.0.2.1 <-> 192.0.2.9`.
    public var description: String {
        let name: String
        switch protocolNumber {
        case 6: name = "tcp"
        case 17: name = "udp"
        case 132: name = "sctp"
        default: name = "ip/\(protocolNumber)"
        }
        func endpoint(_ address: IPv6Address, _ port: UInt16) -> String {
            let text = ipVersion == 4 ? IPv4Address(UInt32(truncatingIfNeeded: address.low)).description : address.description
            guard hasPorts else { return text }
            return ipVersion == 4 ? "\(text):\(port)" : "[\(text)]:\(port)"
        }
        return "\(name) \(endpoint(addressA, portA)) <-> \(endpoint(addressB, portB))"
    }
}

/// Where a packet's flow key and headers are.
public struct PacketHeaders: Sendable, Equatable {
    /// The packet's flow.
    public var flow: FlowKey
    /// The offset just past the transport header (TCP with options, UDP, SCTP common
    /// header), or past the IP headers for other protocols and for non-first fragments:
    /// the bytes `--headers-only` keeps.
    public var headersEnd: Int

    /// Locates the outermost IP header of a packet of the given link type (a DLT_
    /// value) and reads its flow; nil when the packet holds no IP header that can be
    /// read (another EtherType, an unsupported link type, a header cut short).
    public static func locate(packet: UnsafeRawBufferPointer, linkType: Int32) -> PacketHeaders? {
        guard let ipOffset = ipOffset(packet, linkType: linkType) else { return nil }
        return readIP(packet, at: ipOffset)
    }

    /// Bounds for loops over headers an attacker controls.
    static let maximumTags = 8
    static let maximumExtensionHeaders = 16

    private static func byte(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt8? {
        at >= 0 && at < p.count ? p[at] : nil
    }

    private static func u16(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt16? {
        guard at >= 0, at + 2 <= p.count else { return nil }
        return UInt16(p[at]) << 8 | UInt16(p[at + 1])
    }

    private static func u64(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in at..<(at + 8) { value = value << 8 | UInt64(p[index]) }
        return value
    }

    /// The offset of the IP header after the link layer (and VLAN, PPPoE, MPLS).
    static func ipOffset(_ p: UnsafeRawBufferPointer, linkType: Int32) -> Int? {
        switch linkType {
        case 1:  // Ethernet
            guard var type = u16(p, 12) else { return nil }
            var offset = 14
            for _ in 0..<maximumTags {
                guard type == 0x8100 || type == 0x88A8 || type == 0x9100 else { break }
                guard let next = u16(p, offset + 2) else { return nil }
                type = next
                offset += 4
            }
            return afterEtherType(p, type: type, offset: offset)
        case 0, 108: return p.count > 4 ? 4 : nil  // BSD loopback: 4-byte family
        case 113:  // Linux cooked v1
            guard let type = u16(p, 14) else { return nil }
            return afterEtherType(p, type: type, offset: 16)
        case 276:  // Linux cooked v2
            guard let type = u16(p, 0) else { return nil }
            return afterEtherType(p, type: type, offset: 20)
        case 12, 14, 101, 228, 229: return 0
        default: return nil
        }
    }

    private static func afterEtherType(_ p: UnsafeRawBufferPointer, type: UInt16, offset: Int) -> Int? {
        switch type {
        case 0x0800, 0x86DD: return offset
        case 0x8864:  // PPPoE session: 6-byte header, 2-byte PPP protocol
            guard let ppp = u16(p, offset + 6), ppp == 0x0021 || ppp == 0x0057 else { return nil }
            return offset + 8
        case 0x8847, 0x8848:  // MPLS: labels until bottom of stack, then IP by version nibble
            var at = offset
            for _ in 0..<maximumTags {
                guard let third = byte(p, at + 2) else { return nil }
                at += 4
                if third & 1 == 1 { return at }
            }
            return nil
        default: return nil
        }
    }

    static func readIP(_ p: UnsafeRawBufferPointer, at offset: Int) -> PacketHeaders? {
        guard let first = byte(p, offset) else { return nil }
        switch first >> 4 {
        case 4:
            let headerLength = Int(first & 0x0F) * 4
            guard headerLength >= 20, offset + headerLength <= p.count,
                  let fragment = u16(p, offset + 6), let proto = byte(p, offset + 9)
            else { return nil }
            let source = IPv6Address(high: 0, low: u64(p, offset + 8) & 0xFFFF_FFFF)
            let destination = IPv6Address(high: 0, low: u64(p, offset + 12) & 0xFFFF_FFFF)
            let firstFragment = fragment & 0x1FFF == 0
            return transport(p, version: 4, proto: proto, source: source, destination: destination,
                             at: offset + headerLength, firstFragment: firstFragment)
        case 6:
            guard offset + 40 <= p.count, var next = byte(p, offset + 6) else { return nil }
            let source = IPv6Address(high: u64(p, offset + 8), low: u64(p, offset + 16))
            let destination = IPv6Address(high: u64(p, offset + 24), low: u64(p, offset + 32))
            var at = offset + 40
            var firstFragment = true
            for _ in 0..<maximumExtensionHeaders {
                switch next {
                case 0, 43, 60:  // hop-by-hop, routing, destination options
                    guard let following = byte(p, at), let length = byte(p, at + 1) else { return nil }
                    next = following
                    at += (Int(length) + 1) * 8
                case 44:  // fragment
                    guard let following = byte(p, at), let offsetField = u16(p, at + 2) else { return nil }
                    next = following
                    firstFragment = offsetField & 0xFFF8 == 0
                    at += 8
                case 51:  // authentication header
                    guard let following = byte(p, at), let length = byte(p, at + 1) else { return nil }
                    next = following
                    at += (Int(length) + 2) * 4
                default:
                    return transport(p, version: 6, proto: next, source: source, destination: destination,
                                     at: at, firstFragment: firstFragment)
                }
                guard at <= p.count else { return nil }
            }
            return nil
        default:
            return nil
        }
    }

    private static func transport(
        _ p: UnsafeRawBufferPointer, version: UInt8, proto: UInt8, source: IPv6Address, destination: IPv6Address,
        at offset: Int, firstFragment: Bool
    ) -> PacketHeaders? {
        let ipOnly = PacketHeaders(
            flow: FlowKey(ipVersion: version, protocolNumber: proto, source: source, sourcePort: 0,
                          destination: destination, destinationPort: 0),
            headersEnd: min(offset, p.count))
        guard FlowKey.portProtocols.contains(proto) else { return ipOnly }
        // A non-first fragment has no transport header; its ports are unknown.
        guard firstFragment, let sourcePort = u16(p, offset), let destinationPort = u16(p, offset + 2) else {
            return ipOnly
        }
        let headerLength: Int
        switch proto {
        case 6:
            guard let dataOffset = byte(p, offset + 12) else { return ipOnly }
            headerLength = max(20, Int(dataOffset >> 4) * 4)
        case 17: headerLength = 8
        default: headerLength = 12  // SCTP common header
        }
        return PacketHeaders(
            flow: FlowKey(ipVersion: version, protocolNumber: proto, source: source, sourcePort: sourcePort,
                          destination: destination, destinationPort: destinationPort),
            headersEnd: min(offset + headerLength, p.count))
    }
}
