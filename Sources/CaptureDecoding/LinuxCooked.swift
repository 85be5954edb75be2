import ByteParsing

extension PacketDecoder {
    /// Linux cooked capture v1 (DLT_LINUX_SLL): packet type, ARPHRD type, address
    /// length, 8 address bytes, then the protocol (an EtherType for the types decoded).
    mutating func decodeLinuxCooked(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(14), let proto = cursor.readUInt16() else {
            anomalies.record(.sllTruncated)
            return .done
        }
        return .etherType(proto, cursor.restRange)
    }

    /// Linux cooked capture v2 (DLT_LINUX_SLL2): protocol first, then reserved,
    /// interface index, ARPHRD type, packet type, address length and 8 address bytes.
    mutating func decodeLinuxCooked2(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard let proto = cursor.readUInt16(), cursor.skip(18) else {
            anomalies.record(.sll2Truncated)
            return .done
        }
        return .etherType(proto, cursor.restRange)
    }
}
