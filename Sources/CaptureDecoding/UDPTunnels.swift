import ByteParsing

extension PacketDecoder {
    /// VXLAN (RFC 7348, UDP 4789): 8 bytes (flags with the I bit, VNI), then Ethernet.
    mutating func decodeVXLAN(_ bytes: UnsafeRawBufferPointer) -> Step {
        guard bytes.count >= 8 else {
            anomalies.record("vxlan.truncated")
            return .done
        }
        return .next(.ethernet, UnsafeRawBufferPointer(rebasing: bytes[8...]))
    }

    /// Geneve (RFC 8926, UDP 6081): version and option length (in 4-byte words), flags,
    /// protocol type, VNI, options; then what the protocol type names (0x6558 Ethernet,
    /// or an EtherType).
    mutating func decodeGeneve(_ bytes: UnsafeRawBufferPointer) -> Step {
        let header = ByteCursor(bytes)
        guard let first = header.getUInt8(at: 0), let proto = header.getUInt16(at: 2), bytes.count >= 8 else {
            anomalies.record("geneve.truncated")
            return .done
        }
        guard first >> 6 == 0 else {
            anomalies.record("geneve.bad_version")
            return .done
        }
        let length = 8 + Int(first & 0x3F) * 4
        guard let payload = header.getBytes(at: length, count: bytes.count - length) else {
            anomalies.record("geneve.truncated")
            return .done
        }
        return proto == 0x6558 ? .next(.ethernet, payload) : .etherType(proto, payload)
    }

    /// Teredo (RFC 4380, UDP 3544): optional authentication and origin indication
    /// headers, then an IPv6 packet; nil when the payload is not that (Teredo is told
    /// apart from other traffic on the port by this shape, as Wireshark does).
    static func teredoPayload(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
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
        return cursor.getBytes(at: offset, count: bytes.count - offset)
    }

    /// Extension headers followed in a GTP-U header: real ones carry one or two.
    static let maxGTPExtensionHeaders = 8

    /// GTP-U (3GPP TS 29.281, UDP 2152): a version 1 G-PDU (message type 255) carries
    /// a user's IP packet after the 8-byte header, the optional sequence/N-PDU/next
    /// extension word and the extension headers (each a length in 4-byte units, its
    /// content, the next type). Other messages (echo, error indication…) carry none.
    static func gtpUserPayload(_ bytes: UnsafeRawBufferPointer) -> (Layer, UnsafeRawBufferPointer)? {
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
        guard let payload = cursor.getBytes(at: offset, count: bytes.count - offset),
              let version = payload.first
        else { return nil }
        switch version >> 4 {
        case 4: return (.ipv4, payload)
        case 6: return (.ipv6, payload)
        default: return nil
        }
    }

    /// The tunnel a UDP datagram carries, by port, with the bytes to hand on; nil when
    /// it carries none.
    static func udpTunnel(
        sourcePort: UInt16, destinationPort: UInt16, payload: UnsafeRawBufferPointer
    ) -> (Layer, UnsafeRawBufferPointer)? {
        if let tunnel = udpTunnel(port: destinationPort, payload: payload) { return tunnel }
        return udpTunnel(port: sourcePort, payload: payload)
    }

    private static func udpTunnel(port: UInt16, payload: UnsafeRawBufferPointer) -> (Layer, UnsafeRawBufferPointer)? {
        switch port {
        case 4789: (.vxlan, payload)
        case 6081: (.geneve, payload)
        case 4754: (.gre, payload)
        case 2152: gtpUserPayload(payload)
        case 3544: teredoPayload(payload).map { (.ipv6, $0) }
        default: nil
        }
    }
}
