import ByteParsing

extension PacketDecoder {
    /// TLVs read before giving up: nfnetlink_log writes about a dozen attributes; the
    /// bound keeps a packet of nothing but empty TLVs cheap.
    static let maxNFLOGAttributes = 64

    /// Linux NFLOG (DLT_NFLOG, 239; https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html):
    /// address family, version, resource id (4 bytes), then netlink attributes: a
    /// length (counting its 4-byte header, padded to 4 bytes) and a type, both in the
    /// capturing host's byte order. NFULA_PAYLOAD (type 9) holds the packet, IPv4 for
    /// AF_INET (2), IPv6 for AF_INET6 (10). The byte order is little-endian (every common
    /// host) unless only the big-endian reading of the first attribute's length fits.
    mutating func decodeNFLOG(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard let family = cursor.readUInt8(), cursor.skip(3) else {
            anomalies.record(.nflogTruncated)
            return .done
        }
        let payloadLayer: Layer
        switch family {
        case 2: payloadLayer = .ipv4
        case 10: payloadLayer = .ipv6
        default: return .done
        }
        var littleEndian: Bool? = nil
        for _ in 0..<PacketDecoder.maxNFLOGAttributes {
            if cursor.isAtEnd { return .done }
            guard let rawLength = cursor.getUInt16(at: cursor.offset), let rawType = cursor.getUInt16(at: cursor.offset + 2)
            else {
                anomalies.record(.nflogTruncated)
                return .done
            }
            if littleEndian == nil {
                let remaining = cursor.remaining
                let fits = { (length: Int) in length >= 4 && length <= remaining }
                littleEndian = fits(Int(rawLength.byteSwapped)) || !fits(Int(rawLength))
            }
            let isLittle = littleEndian ?? true
            let length = Int(isLittle ? rawLength.byteSwapped : rawLength)
            // The top two type bits are netlink flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
            let type = (isLittle ? rawType.byteSwapped : rawType) & 0x3FFF
            guard length >= 4 else {
                anomalies.record(.nflogBadLength)
                return .done
            }
            if type == 9 {
                // A snapshot length may have cut the packet: what was captured is decoded.
                var value = cursor
                _ = value.skip(4)
                return .next(payloadLayer, value.restRange.prefix(length - 4))
            }
            guard length <= cursor.remaining else {
                anomalies.record(.nflogTruncated)
                return .done
            }
            // The last attribute's padding may be left out at the end of the packet.
            _ = cursor.skip(min((length + 3) & ~3, cursor.remaining))
        }
        anomalies.record(.nflogTooManyAttributes)
        return .done
    }
}
