import ByteParsing

extension PacketDecoder {
    /// NSH, the Network Service Header (RFC 8300; VXLAN-GPE next protocol 4, EtherType
    /// 0x894F is not decoded): a base header (version, O bit, TTL, the whole header's
    /// length in 4-byte words, MD type, next protocol), a service path header, then
    /// context headers (MD type 1: four fixed words; type 2: TLVs) up to the length;
    /// then what the next protocol names (`layer(forNextProtocol:)`).
    mutating func decodeNSH(_ bytes: Span<UInt8>) -> Step {
        let header = ByteCursor(bytes)
        guard let first = header.getUInt8(at: 0), let lengthByte = header.getUInt8(at: 1),
              let next = header.getUInt8(at: 3), bytes.count >= 8
        else {
            anomalies.record(.nshTruncated)
            return .done
        }
        guard first >> 6 == 0 else {
            anomalies.record(.nshBadVersion)
            return .done
        }
        // The base and service path headers are two words: a shorter length is impossible.
        let length = Int(lengthByte & 0x3F) * 4
        guard length >= 8 else {
            anomalies.record(.nshBadLength)
            return .done
        }
        guard length <= bytes.count else {
            anomalies.record(.nshTruncated)
            return .done
        }
        guard let layer = PacketDecoder.layer(forNextProtocol: next) else { return .done }
        return .next(layer, length..<bytes.count)
    }
}
