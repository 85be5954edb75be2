import ByteParsing

extension PacketDecoder {
    /// PPP (RFC 1661) as DLT_PPP (9), DLT_PPP_SERIAL (50, PPP in HDLC-like framing,
    /// RFC 1662) and PPTP's enhanced GRE (RFC 2637) carry it: an optional address and control field (`FF 03`, RFC 1662 §3.1;
    /// absent when address-and-control-field compression was negotiated, RFC 1661 §6.6),
    /// then the protocol field and the datagram. The FCS of RFC 1662 framing is not in
    /// libpcap's records (tshark reads DLT 50 as DLT 9 too).
    mutating func decodePPP(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        if cursor.peekUInt16() == 0xFF03 { _ = cursor.skip(2) }
        guard let proto = PacketDecoder.readPPPProtocol(&cursor) else {
            anomalies.record(.pppTruncated)
            return .done
        }
        guard let layer = Layer.forPPPProtocol(proto) else { return .done }
        return .next(layer, cursor.restRange)
    }

    /// PPP with a direction (DLT_PPP_WITH_DIR, 204): one byte (0 received, 1 sent),
    /// then PPP as `decodePPP` reads it.
    mutating func decodePPPWithDirection(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(1) else {
            anomalies.record(.pppTruncated)
            return .done
        }
        return .next(.ppp, cursor.restRange)
    }

    /// A PPP protocol field (RFC 1661 §2): two bytes, or one when protocol-field
    /// compression was negotiated (§6.5). Protocol numbers have an odd low byte and an
    /// even high byte, so an odd first byte is a whole compressed number. Nil when the
    /// bytes run out.
    static func readPPPProtocol(_ cursor: inout ByteCursor) -> UInt16? {
        guard let first = cursor.peekUInt8() else { return nil }
        if first & 1 == 1 {
            _ = cursor.skip(1)
            return UInt16(first)
        }
        return cursor.readUInt16()
    }
}

extension Layer {
    /// The layer a PPP protocol number announces (IANA "PPP DLL Protocol Numbers"): IPv4
    /// (0x0021, RFC 1332), IPv6 (0x0057, RFC 5072), MPLS unicast and multicast (0x0281,
    /// 0x0283, RFC 3032 §4.3); nil for the others (LCP, IPCP, compressed TCP…).
    static func forPPPProtocol(_ proto: UInt16) -> Layer? {
        switch proto {
        case 0x0021: .ipv4
        case 0x0057: .ipv6
        case 0x0281, 0x0283: .mpls
        default: nil
        }
    }
}
