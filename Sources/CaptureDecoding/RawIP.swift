import ByteParsing

extension PacketDecoder {
    /// Raw IP: no link header; the version nibble says IPv4 or IPv6.
    mutating func decodeRawIP(_ bytes: Span<UInt8>) -> Step {
        guard let first = ByteCursor(bytes).peekUInt8() else {
            anomalies.record(.rawTruncated)
            return .done
        }
        switch first >> 4 {
        case 4: return .next(.ipv4, 0..<bytes.count)
        case 6: return .next(.ipv6, 0..<bytes.count)
        default:
            anomalies.record(.rawBadVersion)
            return .done
        }
    }
}
