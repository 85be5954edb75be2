import ByteParsing

extension PacketDecoder {
    /// IP over InfiniBand (DLT_IPOIB, 242) as Linux records it and Wireshark's
    /// packet-ipoib.c reads it: a 40-byte pseudo-header (the InfiniBand Global Route
    /// Header, or the destination's QPN and GID when it is unicast), then the RFC 4391
    /// §6 encapsulation header: an EtherType and two reserved bytes.
    mutating func decodeIPoIB(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(40), let type = cursor.readUInt16(), cursor.skip(2) else {
            anomalies.record(.ipoibTruncated)
            return .done
        }
        return .etherType(type, cursor.restRange)
    }
}
