import ByteParsing

extension PacketDecoder {
    /// Apple's PKTAP (DLT_PKTAP, 258; `struct pktap_header` in xnu's
    /// `bsd/net/pktap.h`): a little-endian header length, the record type (1 for a
    /// packet), then the DLT of the packet that follows the header (little-endian, at
    /// offset 8). Ethernet, BSD loopback and raw IP behind it are decoded.
    mutating func decodePKTAP(_ bytes: Span<UInt8>) -> Step {
        let cursor = ByteCursor(bytes)
        guard let length = cursor.getUInt32(at: 0)?.byteSwapped, let recordType = cursor.getUInt32(at: 4)?.byteSwapped,
              let dataLinkType = cursor.getUInt32(at: 8)?.byteSwapped
        else {
            anomalies.record(.pktapTruncated)
            return .done
        }
        var packet = cursor
        guard length >= 12, length <= UInt32(bytes.count), packet.moveTo(Int(length)) else {
            anomalies.record(.pktapTruncated)
            return .done
        }
        guard recordType == 1 else { return .done }
        switch dataLinkType {
        case 1: return .next(.ethernet, packet.restRange)
        case 0: return .next(.loopback, packet.restRange)
        case 12, 14, 101: return .next(.rawIP, packet.restRange)
        default: return .done
        }
    }
}
