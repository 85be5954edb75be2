import ByteParsing

extension PacketDecoder {
    /// PPPoE session stage (RFC 2516, EtherType 0x8864): version/type, code, session id,
    /// length, then the PPP protocol number (0x0021 IPv4, 0x0057 IPv6), possibly
    /// compressed to one byte.
    mutating func decodePPPoESession(_ bytes: UnsafeRawBufferPointer) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(4), let length = cursor.readUInt16(), let first = cursor.peekUInt8() else {
            anomalies.record("pppoe.truncated")
            return .done
        }
        // PPP protocol field compression (RFC 1661 §6.5): an odd first byte is the
        // whole (one-byte) protocol number.
        let proto: UInt16
        if first & 1 == 1 {
            proto = UInt16(first)
            _ = cursor.skip(1)
        } else {
            guard let full = cursor.readUInt16() else {
                anomalies.record("pppoe.truncated")
                return .done
            }
            proto = full
        }
        // `length` counts the PPP protocol field and the payload.
        let protocolLength = proto > 0xFF ? 2 : 1
        guard Int(length) >= protocolLength else {
            anomalies.record("pppoe.bad_length")
            return .done
        }
        let payload = UnsafeRawBufferPointer(rebasing: cursor.rest.prefix(Int(length) - protocolLength))
        switch proto {
        case 0x0021: return .next(.ipv4, payload)
        case 0x0057: return .next(.ipv6, payload)
        default: return .done
        }
    }
}
