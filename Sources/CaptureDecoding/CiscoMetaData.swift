import ByteParsing

extension PacketDecoder {
    /// Cisco MetaData (CMD, EtherType 0x8909: TrustSec's security group tag inline)
    /// after an Ethernet header: version, length, option length and type, SGT (6 bytes),
    /// then the EtherType of what follows. The header is read as tshark reads it: its
    /// length field is not used.
    mutating func decodeCiscoMetaData(_ bytes: Span<UInt8>) -> Step {
        guard let type = bytes.uint16(at: 6) else {
            anomalies.record(.cmdTruncated)
            return .done
        }
        return .etherType(type, 8..<bytes.count)
    }

    /// Cisco MetaData inside GRE (protocol type 0x8909): the EtherType of what follows
    /// comes first, then version, length, option and SGT (8 bytes in all), as tshark
    /// reads it.
    mutating func decodeCiscoMetaDataInGRE(_ bytes: Span<UInt8>) -> Step {
        guard let type = bytes.uint16(at: 0), bytes.count >= 8 else {
            anomalies.record(.cmdTruncated)
            return .done
        }
        return .etherType(type, 8..<bytes.count)
    }
}
