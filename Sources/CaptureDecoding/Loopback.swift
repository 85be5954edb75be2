import ByteParsing

extension PacketDecoder {
    /// BSD loopback (DLT_NULL, DLT_LOOP): a 4-byte address family, written in the byte
    /// order of the host that captured (DLT_NULL) or in network order (DLT_LOOP). Both
    /// orders are tried. AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD,
    /// OpenBSD), 28 (FreeBSD) or 30 (macOS).
    mutating func decodeLoopback(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard let raw = cursor.readUInt32() else {
            anomalies.record(.loopbackTruncated)
            return .done
        }
        let family = raw > 0xFFFF ? raw.byteSwapped : raw
        switch family {
        case 2: return .next(.ipv4, cursor.restRange)
        case 10, 24, 28, 30: return .next(.ipv6, cursor.restRange)
        default: return .done
        }
    }
}
