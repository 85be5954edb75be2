import ByteParsing

extension PacketDecoder {
    /// Labels skipped before giving up: real stacks hold two or three; the bound keeps
    /// a frame of nothing but labels cheap.
    static let maxMPLSLabels = 16

    /// MPLS (RFC 3032, EtherTypes 0x8847/0x8848): 4-byte label entries up to the one
    /// with the bottom-of-stack bit. The payload's type is not written anywhere; like
    /// Wireshark, we take an IP version nibble of 4 or 6 as IPv4 or IPv6 and leave
    /// anything else (pseudowires) undecoded.
    mutating func decodeMPLS(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        for _ in 0..<PacketDecoder.maxMPLSLabels {
            guard let entry = cursor.readUInt32() else {
                anomalies.record(.mplsTruncated)
                return .done
            }
            if entry & 0x100 != 0 {
                switch cursor.peekUInt8().map({ $0 >> 4 }) {
                case 4: return .next(.ipv4, cursor.restRange)
                case 6: return .next(.ipv6, cursor.restRange)
                default: return .done
                }
            }
        }
        anomalies.record(.mplsTooManyLabels)
        return .done
    }
}
