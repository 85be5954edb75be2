import ByteParsing

extension PacketDecoder {
    /// Cisco HDLC (DLT_C_HDLC, 104; tcpdump's print-chdlc.c and Wireshark's
    /// packet-chdlc.c are the de facto spec): address (0x0F unicast, 0x8F broadcast),
    /// control, then an EtherType. SLARP (0x8035), CDP (0x2000) and the others not
    /// decoded end here.
    mutating func decodeCiscoHDLC(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(2), let type = cursor.readUInt16() else {
            anomalies.record(.chdlcTruncated)
            return .done
        }
        return .etherType(type, cursor.restRange)
    }
}
