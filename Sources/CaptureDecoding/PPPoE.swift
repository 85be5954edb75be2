import ByteParsing

extension PacketDecoder {
    /// PPPoE session stage (RFC 2516, EtherType 0x8864): version/type, code, session id,
    /// length, then the PPP protocol number (0x0021 IPv4, 0x0057 IPv6).
    mutating func decodePPPoESession(_ bytes: UnsafeRawBufferPointer) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(4), let length = cursor.readUInt16(), let proto = cursor.readUInt16() else {
            anomalies.record("pppoe.truncated")
            return .done
        }
        // `length` counts the PPP protocol field and the payload.
        guard length >= 2 else {
            anomalies.record("pppoe.bad_length")
            return .done
        }
        let payload = UnsafeRawBufferPointer(
            rebasing: cursor.rest.prefix(Int(length) - 2))
        switch proto {
        case 0x0021: return .next(.ipv4, payload)
        case 0x0057: return .next(.ipv6, payload)
        default: return .done
        }
    }
}
