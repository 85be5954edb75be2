import ByteParsing

extension PacketDecoder {
    /// Solaris ipnet (DLT_IPNET, 226; `dl_ipnetinfo_t` in Solaris' `<inet/ipnet.h>`):
    /// version, address family, header type, packet length, interface and zone ids (24
    /// bytes), then the IP packet. Solaris' AF_INET is 2, AF_INET6 26.
    mutating func decodeIPNet(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard let family = cursor.getUInt8(at: 1), cursor.skip(24) else {
            anomalies.record(.ipnetTruncated)
            return .done
        }
        switch family {
        case 2: return .next(.ipv4, cursor.restRange)
        case 26: return .next(.ipv6, cursor.restRange)
        default: return .done
        }
    }
}
