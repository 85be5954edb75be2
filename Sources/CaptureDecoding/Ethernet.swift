import ByteParsing

extension PacketDecoder {
    /// Stacked tags accepted before giving up: QinQ uses two, a VNTag or PBB header adds
    /// one or two more. Each tag consumes at least 4 bytes, so the work is bounded by
    /// the frame's length anyway; 128 reads stacks nested to hide what they carry (tshark
    /// reads 50 nested PBB headers) and still counts an absurd one.
    static let maxVLANTags = 128

    /// Ethernet II: destination, source, EtherType; then any stack of 802.1Q (0x8100),
    /// 802.1ad (0x88A8), pre-standard QinQ (0x9100) and VNTag (0x8926) tags, and
    /// 802.1ah provider backbone (0x88E7: I-TAG, then the customer's addresses and
    /// EtherType). 802.3 length frames (LLC) are not decoded.
    mutating func decodeEthernet(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(12), var type = cursor.readUInt16() else {
            anomalies.record(.ethernetTruncated)
            return .done
        }
        var tags = 0
        while let tagLength = PacketDecoder.tagLength(type) {
            tags += 1
            guard tags <= PacketDecoder.maxVLANTags else {
                anomalies.record(.vlanTooManyTags)
                return .done
            }
            guard cursor.skip(tagLength), let inner = cursor.readUInt16() else {
                anomalies.record(.vlanTruncated)
                return .done
            }
            type = inner
        }
        return .etherType(type, cursor.restRange)
    }

    /// Bytes between a tag's EtherType and the next EtherType; nil when `type` is not a tag.
    static func tagLength(_ type: UInt16) -> Int? {
        switch type {
        case 0x8100, 0x88A8, 0x9100: 2  // TCI
        case 0x8926: 4  // VNTag
        case 0x88E7: 4 + 12  // I-TAG, customer destination and source
        default: nil
        }
    }
}
