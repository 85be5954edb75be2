import ByteParsing

extension PacketDecoder {
    /// VXLAN (RFC 7348, UDP 4789): 8 bytes (flags with the I bit, VNI), then Ethernet.
    mutating func decodeVXLAN(_ bytes: Span<UInt8>) -> Step {
        guard bytes.count >= 8 else {
            anomalies.record(.vxlanTruncated)
            return .done
        }
        return .next(.ethernet, 8..<bytes.count)
    }

    /// VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe, UDP 4790): 8 bytes like VXLAN's, whose
    /// P flag says that the byte at offset 3 names what follows: 1 IPv4, 2 IPv6,
    /// 3 Ethernet, 4 NSH, 5 MPLS. Without the P flag the payload is Ethernet, as in VXLAN.
    mutating func decodeVXLANGPE(_ bytes: Span<UInt8>) -> Step {
        let header = ByteCursor(bytes)
        guard let flags = header.getUInt8(at: 0), let next = header.getUInt8(at: 3), bytes.count >= 8 else {
            anomalies.record(.vxlanGPETruncated)
            return .done
        }
        guard flags & 0x30 == 0 else {  // version 0 is the only one
            anomalies.record(.vxlanGPEBadVersion)
            return .done
        }
        let payload = 8..<bytes.count
        guard flags & 0x04 != 0 else { return .next(.ethernet, payload) }
        guard let layer = PacketDecoder.layer(forNextProtocol: next) else { return .done }
        return .next(layer, payload)
    }

    /// The layer a VXLAN-GPE or NSH next protocol number (the same registry) names;
    /// nil for the ones not decoded.
    static func layer(forNextProtocol next: UInt8) -> Layer? {
        switch next {
        case 1: .ipv4
        case 2: .ipv6
        case 3: .ethernet
        case 4: .nsh
        case 5: .mpls
        default: nil
        }
    }

    /// AYIYA ("Anything In Anything", SixXS; UDP 5072): 8 bytes (identity length as a
    /// power of two and type, signature length in 4-byte words and hash method,
    /// authentication method and opcode, next header, epoch), the identity, the
    /// signature, then the packet. Only the forward opcode (1) carries one; Cairn reads
    /// the IPv6 (41) and IPv4 (4) ones, as tshark does.
    mutating func decodeAYIYA(_ bytes: Span<UInt8>) -> Step {
        let header = ByteCursor(bytes)
        guard let identity = header.getUInt8(at: 0), let signature = header.getUInt8(at: 1),
              let opcode = header.getUInt8(at: 2), let next = header.getUInt8(at: 3), bytes.count >= 8
        else {
            anomalies.record(.ayiyaTruncated)
            return .done
        }
        guard opcode & 0x0F == 1 else { return .done }
        let length = 8 + (1 << Int(identity >> 4)) + Int(signature >> 4) * 4
        guard length <= bytes.count else {
            anomalies.record(.ayiyaTruncated)
            return .done
        }
        switch next {
        case 41: return .next(.ipv6, length..<bytes.count)
        case 4: return .next(.ipv4, length..<bytes.count)
        default: return .done
        }
    }

    /// Geneve (RFC 8926, UDP 6081): version and option length (in 4-byte words), flags,
    /// protocol type, VNI, options; then what the protocol type names (0x6558 Ethernet,
    /// or an EtherType).
    mutating func decodeGeneve(_ bytes: Span<UInt8>) -> Step {
        let header = ByteCursor(bytes)
        guard let first = header.getUInt8(at: 0), let proto = header.getUInt16(at: 2), bytes.count >= 8 else {
            anomalies.record(.geneveTruncated)
            return .done
        }
        guard first >> 6 == 0 else {
            anomalies.record(.geneveBadVersion)
            return .done
        }
        let length = 8 + Int(first & 0x3F) * 4
        guard length <= bytes.count else {
            anomalies.record(.geneveTruncated)
            return .done
        }
        let payload = length..<bytes.count
        return proto == 0x6558 ? .next(.ethernet, payload) : .etherType(proto, payload)
    }

    /// Teredo (RFC 4380, UDP 3544): optional authentication and origin indication
    /// headers, then an IPv6 packet; nil when the payload is not that (Teredo is told
    /// apart from other traffic on the port by this shape, as Wireshark does).
    static func teredoPayload(_ bytes: Span<UInt8>) -> Range<Int>? {
        let cursor = ByteCursor(bytes)
        var offset = 0
        if cursor.getUInt16(at: offset) == 0x0001 {  // authentication: id and value lengths
            guard let idLength = cursor.getUInt8(at: 2), let authLength = cursor.getUInt8(at: 3) else { return nil }
            offset += 4 + Int(idLength) + Int(authLength) + 9  // nonce (8), confirmation (1)
        }
        if cursor.getUInt16(at: offset) == 0x0000 { offset += 8 }  // origin indication
        // An IPv6 header, whole, whose payload length fits what was captured.
        guard let version = cursor.getUInt8(at: offset), version >> 4 == 6,
              let payloadLength = cursor.getUInt16(at: offset + 4),
              bytes.count - offset >= 40 + Int(payloadLength)
        else { return nil }
        return offset..<bytes.count
    }

    /// Extension headers followed in a GTP-U header: real ones carry one or two.
    static let maxGTPExtensionHeaders = 8

    /// GTP-U (3GPP TS 29.281, UDP 2152): a version 1 G-PDU (message type 255) carries
    /// a user's IP packet after the 8-byte header, the optional sequence/N-PDU/next
    /// extension word and the extension headers (each a length in 4-byte units, its
    /// content, the next type). Other messages (echo, error indication…) carry none.
    static func gtpUserPayload(_ bytes: Span<UInt8>) -> (Layer, Range<Int>)? {
        let cursor = ByteCursor(bytes)
        guard let flags = cursor.getUInt8(at: 0), flags >> 5 == 1, flags & 0x10 != 0,
              cursor.getUInt8(at: 1) == 0xFF
        else { return nil }
        var offset = 8
        if flags & 0x07 != 0 {
            guard var next = cursor.getUInt8(at: 11) else { return nil }
            offset = 12
            var headers = 0
            while next != 0 {
                headers += 1
                guard headers <= maxGTPExtensionHeaders, let units = cursor.getUInt8(at: offset), units > 0,
                      let following = cursor.getUInt8(at: offset + Int(units) * 4 - 1)
                else { return nil }
                offset += Int(units) * 4
                next = following
            }
        }
        guard let version = bytes.uint8(at: offset) else { return nil }
        switch version >> 4 {
        case 4: return (.ipv4, offset..<bytes.count)
        case 6: return (.ipv6, offset..<bytes.count)
        default: return nil
        }
    }

    /// The tunnel a UDP datagram carries, by port, with the bytes to hand on; nil when
    /// it carries none.
    static func udpTunnel(
        sourcePort: UInt16, destinationPort: UInt16, payload: Span<UInt8>
    ) -> (Layer, Range<Int>)? {
        if let tunnel = udpTunnel(port: destinationPort, payload: payload) { return tunnel }
        return udpTunnel(port: sourcePort, payload: payload)
    }

    private static func udpTunnel(port: UInt16, payload: Span<UInt8>) -> (Layer, Range<Int>)? {
        let whole = 0..<payload.count
        return switch port {
        case 4789: (.vxlan, whole)
        case 4790: (.vxlanGPE, whole)
        case 5072: (.ayiya, whole)
        case 6081: (.geneve, whole)
        case 4754: (.gre, whole)
        case 2152: gtpUserPayload(payload)
        case 3544: teredoPayload(payload).map { (.ipv6, $0) }
        default: nil
        }
    }
}
