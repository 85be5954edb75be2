import ByteParsing

extension PacketDecoder {
    /// UDP (RFC 768): hands the payload to DNS when either port is 53 (DNS) or 5353
    /// (multicast DNS). A length of 0 (jumbogram) means "what was captured".
    mutating func decodeUDP(_ bytes: UnsafeRawBufferPointer) -> Step {
        let header = ByteCursor(bytes)
        guard let sourcePort = header.getUInt16(at: 0), let destinationPort = header.getUInt16(at: 2),
              let length = header.getUInt16(at: 4), bytes.count >= 8
        else {
            anomalies.record("udp.truncated")
            return .done
        }
        guard length == 0 || length >= 8 else {
            anomalies.record("udp.bad_length")
            return .done
        }
        let end = length == 0 ? bytes.count : min(Int(length), bytes.count)
        guard let payload = header.getBytes(at: 8, count: end - 8) else { return .done }
        if PacketDecoder.isDNSPort(sourcePort) || PacketDecoder.isDNSPort(destinationPort) {
            return .next(.dns, payload)
        }
        return .done
    }

    static func isDNSPort(_ port: UInt16) -> Bool { port == 53 || port == 5353 }
}
