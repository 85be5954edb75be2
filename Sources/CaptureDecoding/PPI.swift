import ByteParsing

extension PacketDecoder {
    /// Per-Packet Information (DLT_PPI, 192; CACE Technologies' "Per-Packet Information
    /// Header Specification" 1.0.10): version, flags, a little-endian header length
    /// (bytes 2–3) and the DLT of what follows (bytes 4–7, little-endian). 802.11 (105)
    /// and Ethernet (1) behind it are decoded; others end here.
    mutating func decodePPI(_ bytes: Span<UInt8>) -> Step {
        let cursor = ByteCursor(bytes)
        guard let length = cursor.getUInt16(at: 2)?.byteSwapped, let dataLinkType = cursor.getUInt32(at: 4)?.byteSwapped
        else {
            anomalies.record(.ppiTruncated)
            return .done
        }
        var frame = cursor
        guard length >= 8, frame.moveTo(Int(length)) else {
            anomalies.record(.ppiTruncated)
            return .done
        }
        switch dataLinkType {
        case 105: return .next(.ieee80211, frame.restRange)
        case 1: return .next(.ethernet, frame.restRange)
        default: return .done
        }
    }
}
