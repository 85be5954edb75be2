import ByteParsing

extension PacketDecoder {
    /// AVS WLAN capture header (DLT_IEEE802_11_RADIO_AVS, 163; the AbsoluteValue
    /// Systems header, version 1 or 2): a version word (0x80211001/2) and the header
    /// length, both big-endian (64 bytes for version 1), then an 802.11 frame.
    mutating func decodeAVS(_ bytes: Span<UInt8>) -> Step {
        let cursor = ByteCursor(bytes)
        guard cursor.getUInt32(at: 0) != nil, let length = cursor.getUInt32(at: 4) else {
            anomalies.record(.avsTruncated)
            return .done
        }
        var frame = cursor
        guard length >= 8, length <= 0xFFFF, frame.moveTo(Int(length)) else {
            anomalies.record(.avsTruncated)
            return .done
        }
        return .next(.ieee80211, frame.restRange)
    }
}
