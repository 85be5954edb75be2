// Where a packet's outermost IP header, its flow and the end of its transport header
// are, for the evidence extract. The link layers are walked by PacketDecoder's own
// dispatch, so the extract knows every link type the ingest decodes (one link-type
// table). The IP and transport headers are read here rather than by the IPv4/IPv6
// decoders, which observe addresses and reassemble fragments: this is a second read of
// packets the ingest already accounted for, and it must not keep or count anything.

import ByteParsing
import Observations

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
    /// read (another EtherType, a link type not decoded, a header cut short). Makes a
    /// `PacketHeaderReader` (and its decoder's buffers) per call: for one packet; a
    /// loop over a capture keeps one reader.
    public static func locate(packet: Span<UInt8>, linkType: Int32) -> PacketHeaders? {
        var reader = PacketHeaderReader()
        return reader.locate(packet: packet, linkType: linkType)
    }

    /// Bounds the walk over IPv6 extension headers, which an attacker controls.
    static let maximumExtensionHeaders = 16

    /// Reads the flow of the IP packet `ip`, which starts `base` bytes into the packet
    /// (`headersEnd` counts from the packet's start). The version nibble decides IPv4 or
    /// IPv6, as for raw IP links.
    static func read(ip: Span<UInt8>, at base: Int) -> PacketHeaders? {
        let header = ByteCursor(ip)
        guard let first = header.getUInt8(at: 0) else { return nil }
        switch first >> 4 {
        case 4:
            let headerLength = Int(first & 0x0F) * 4
            guard headerLength >= 20, headerLength <= ip.count,
                  let fragment = header.getUInt16(at: 6), let proto = header.getUInt8(at: 9),
                  let source = header.getUInt32(at: 12), let destination = header.getUInt32(at: 16)
            else { return nil }
            return transport(
                header, version: 4, proto: proto, source: IPv6Address(high: 0, low: UInt64(source)),
                destination: IPv6Address(high: 0, low: UInt64(destination)), at: headerLength,
                firstFragment: fragment & 0x1FFF == 0, base: base)
        case 6:
            guard var next = header.getUInt8(at: 6), let source = ip.ipv6Address(at: 8),
                  let destination = ip.ipv6Address(at: 24)
            else { return nil }
            var at = 40
            var firstFragment = true
            for _ in 0..<maximumExtensionHeaders {
                switch next {
                case 0, 43, 60:  // hop-by-hop, routing, destination options
                    guard let following = header.getUInt8(at: at), let length = header.getUInt8(at: at + 1) else {
                        return nil
                    }
                    next = following
                    at += (Int(length) + 1) * 8
                case 44:  // fragment
                    guard let following = header.getUInt8(at: at), let offsetField = header.getUInt16(at: at + 2) else {
                        return nil
                    }
                    next = following
                    firstFragment = offsetField & 0xFFF8 == 0
                    at += 8
                case 51:  // authentication header
                    guard let following = header.getUInt8(at: at), let length = header.getUInt8(at: at + 1) else {
                        return nil
                    }
                    next = following
                    at += (Int(length) + 2) * 4
                default:
                    return transport(
                        header, version: 6, proto: next, source: source,
                        destination: destination, at: at, firstFragment: firstFragment, base: base)
                }
                guard at <= ip.count else { return nil }
            }
            return nil
        default:
            return nil
        }
    }

    /// The flow and header end once the IP headers end at `offset` of `header`'s bytes.
    private static func transport(
        _ header: ByteCursor, version: UInt8, proto: UInt8, source: IPv6Address, destination: IPv6Address,
        at offset: Int, firstFragment: Bool, base: Int
    ) -> PacketHeaders? {
        let count = header.bytes.count
        let ipOnly = PacketHeaders(
            flow: FlowKey(ipVersion: version, protocolNumber: proto, source: source, sourcePort: 0,
                          destination: destination, destinationPort: 0),
            headersEnd: base + min(offset, count))
        guard FlowKey.portProtocols.contains(proto) else { return ipOnly }
        // A non-first fragment has no transport header; its ports are unknown.
        guard firstFragment, let sourcePort = header.getUInt16(at: offset),
              let destinationPort = header.getUInt16(at: offset + 2)
        else { return ipOnly }
        let headerLength: Int
        switch proto {
        case 6:
            guard let dataOffset = header.getUInt8(at: offset + 12) else { return ipOnly }
            headerLength = max(20, Int(dataOffset >> 4) * 4)
        case 17: headerLength = 8
        default: headerLength = 12  // SCTP common header
        }
        return PacketHeaders(
            flow: FlowKey(ipVersion: version, protocolNumber: proto, source: source, sourcePort: sourcePort,
                          destination: destination, destinationPort: destinationPort),
            headersEnd: base + min(offset + headerLength, count))
    }
}

/// Finds the outermost IP header and flow of packets of any link type the decoder
/// reads (Ethernet with VLAN/QinQ/PBB tags, PPPoE, MPLS, PPP, Cisco HDLC, FDDI, 802.11
/// behind radiotap, PPI, Prism or AVS, Linux cooked, loopback, NFLOG, PKTAP, IPoIB,
/// ipnet, ARCNET, raw IP). Keeps one decoder for the link-layer walk, so that a capture
/// read allocates nothing per packet; not thread-safe, one reader per capture read.
public struct PacketHeaderReader {
    private var decoder = PacketDecoder()

    /// A reader with its own decoder (allocated once here).
    public init() {}

    /// `PacketHeaders.locate(packet:linkType:)` without a decoder made per call.
    public mutating func locate(packet: Span<UInt8>, linkType: Int32) -> PacketHeaders? {
        guard let link = LinkLayer(dataLinkType: linkType), let ip = decoder.outermostIP(of: packet, link: link) else {
            return nil
        }
        return PacketHeaders.read(ip: packet.extracting(ip), at: ip.lowerBound)
    }
}

extension PacketDecoder {
    /// Walks `packet`'s link layers through the dispatch up to its first IPv4 or IPv6
    /// layer, and returns where its bytes are in `packet`; nil when the packet carries
    /// no IP the decoder reads. Nothing is observed and no anomaly
    /// stays counted: the packet was accounted for when it was ingested.
    mutating func outermostIP(of packet: Span<UInt8>, link: LinkLayer) -> Range<Int>? {
        guard let first = link.firstLayer else { return nil }
        var context = PacketContext(locator: .packet(0), time: Timestamp(nanoseconds: 0))
        context.stopsAtIP = true
        let counted = anomalies
        defer { anomalies = counted }
        return dispatch(first, packet, context: &context, observe: { _ in })?.range
    }
}
