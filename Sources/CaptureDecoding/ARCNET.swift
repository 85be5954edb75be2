import ByteParsing

extension PacketDecoder {
    /// ARCNET as Linux captures it (DLT_ARCNET_LINUX, 129): source and destination
    /// station ids, a 2-byte offset, then the protocol id. RFC 1051 packets (IPv4 0xF0)
    /// carry the datagram right after it; RFC 1201 packets (IPv4 0xD4, and IPv6 0xC4 in
    /// the same encapsulation, RFC 2497) have a split flag and a sequence number first.
    /// RFC 1201 exception packets (split flag 0xFF) and fragments other than the first
    /// are not read.
    mutating func decodeARCNET(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(4), let protocolID = cursor.readUInt8() else {
            anomalies.record(.arcnetTruncated)
            return .done
        }
        let layer: Layer
        switch protocolID {
        case 0xF0: return .next(.ipv4, cursor.restRange)
        case 0xD4: layer = .ipv4
        case 0xC4: layer = .ipv6
        default: return .done
        }
        guard let split = cursor.readUInt8(), cursor.skip(2) else {
            anomalies.record(.arcnetTruncated)
            return .done
        }
        // Split flag: 0 unfragmented, odd the first fragment, even a later one.
        guard split == 0 || split & 1 == 1, split != 0xFF else { return .done }
        return .next(layer, cursor.restRange)
    }
}
