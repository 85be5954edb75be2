import ByteParsing

extension PacketDecoder {
    /// UDP (RFC 768): hands the payload to a tunnel decoder by port (`udpTunnel`:
    /// VXLAN, VXLAN-GPE, Geneve, GRE-in-UDP, GTP-U, Teredo, AYIYA), to sFlow (port 6343), to HTTP for SSDP (port 1900), else to DNS when either port is 53 (DNS),
    /// 5353 (multicast DNS) or 5355 (LLMNR, RFC 4795: DNS's message format), else to
    /// QUIC when the destination port is 443 and the payload starts a v1/v2 long header,
    /// else to DNS when the payload has a DNS message's shape (`looksLikeDNSMessage`).
    mutating func decodeUDP(_ bytes: Span<UInt8>) -> Step {
        guard bytes.count >= 8, let length = bytes.uint16(at: 4) else {
            anomalies.record(.udpTruncated)
            return .done
        }
        guard length == 0 || length >= 8 else {
            anomalies.record(.udpBadLength)
            return .done
        }
        guard let (sourcePort, destinationPort, payloadRange) = PacketDecoder.udpDatagram(bytes) else { return .done }
        let payload = bytes.extracting(payloadRange)
        if let (layer, inner) = PacketDecoder.udpTunnel(
            sourcePort: sourcePort, destinationPort: destinationPort, payload: payload)
        {
            return .next(layer, inner.shifted(by: payloadRange.lowerBound))
        }
        // sFlow datagrams, whose samples are other packets' headers (SFlow.swift).
        if destinationPort == 6343 || sourcePort == 6343 { return .next(.sflow, payloadRange) }
        if PacketDecoder.isDNSPort(sourcePort) || PacketDecoder.isDNSPort(destinationPort) {
            return .next(.dns, payloadRange)
        }
        // SSDP (UPnP discovery): HTTP requests in datagrams on port 1900.
        if destinationPort == 1900 || sourcePort == 1900, PacketDecoder.startsHTTPRequest(payload) {
            return .next(.http, payloadRange)
        }
        // DHCP (BOOTP), to or from a server: the leases that name a host (DHCP.swift).
        if sourcePort == 67 || destinationPort == 67 { return .next(.dhcp, payloadRange) }
        // QUIC Initial packets from a client (QUIC.swift).
        if destinationPort == 443, PacketDecoder.startsQUICLongHeader(payload) { return .next(.quic, payloadRange) }
        // DNS on another port, recognised by its shape.
        if PacketDecoder.looksLikeDNSMessage(payload) { return .next(.dns, payloadRange) }
        return .done
    }

    /// The ports and payload of a UDP datagram; nil when the header is cut or its
    /// length is invalid. The payload ends at the smaller of the length field and the
    /// captured bytes; a length of 0 (jumbogram) means "what was captured".
    static func udpDatagram(
        _ bytes: Span<UInt8>
    ) -> (source: UInt16, destination: UInt16, payload: Range<Int>)? {
        let header = ByteCursor(bytes)
        guard let sourcePort = header.getUInt16(at: 0), let destinationPort = header.getUInt16(at: 2),
              let length = header.getUInt16(at: 4), bytes.count >= 8, length == 0 || length >= 8
        else { return nil }
        let end = length == 0 ? bytes.count : min(Int(length), bytes.count)
        return (sourcePort, destinationPort, 8..<end)
    }

    static func isDNSPort(_ port: UInt16) -> Bool { port == 53 || port == 5353 || port == 5355 }
}
