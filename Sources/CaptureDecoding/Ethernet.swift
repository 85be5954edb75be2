import ByteParsing

extension PacketDecoder {
    /// Stacked VLAN tags accepted before giving up: QinQ uses two; four leaves room for
    /// odd carrier setups while bounding the work a hostile frame can cause.
    static let maxVLANTags = 4

    /// Ethernet II: destination, source, EtherType; then any 802.1Q (0x8100), 802.1ad
    /// (0x88A8) or pre-standard QinQ (0x9100) tags. 802.3 length frames (LLC) are not
    /// decoded.
    mutating func decodeEthernet(_ bytes: UnsafeRawBufferPointer) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(12), var type = cursor.readUInt16() else {
            anomalies.record("ethernet.truncated")
            return .done
        }
        var tags = 0
        while type == 0x8100 || type == 0x88A8 || type == 0x9100 {
            tags += 1
            guard tags <= PacketDecoder.maxVLANTags else {
                anomalies.record("vlan.too_many_tags")
                return .done
            }
            guard cursor.skip(2), let inner = cursor.readUInt16() else {
                anomalies.record("vlan.truncated")
                return .done
            }
            type = inner
        }
        return .etherType(type, cursor.rest)
    }
}
