import ByteParsing

extension PacketDecoder {
    /// IEEE 802.2 LLC with a SNAP header (RFC 1042), as 802.11 data frames and FDDI
    /// carry IP: DSAP and SSAP 0xAA, control 0x03 (UI), a 3-byte OUI, then an EtherType.
    /// The OUI is 00-00-00 (RFC 1042) or 00-00-F8 (802.1H bridge tunnel) when the
    /// EtherType means what it means on Ethernet; other OUIs and other SAPs (STP,
    /// NetBIOS…) end here.
    mutating func decodeLLC(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard let saps = cursor.readUInt16(), let control = cursor.readUInt8() else {
            anomalies.record(.llcTruncated)
            return .done
        }
        guard saps == 0xAAAA, control == 0x03 else { return .done }
        guard let ouiHigh = cursor.readUInt16(), let ouiLow = cursor.readUInt8(), let type = cursor.readUInt16() else {
            anomalies.record(.llcTruncated)
            return .done
        }
        guard ouiHigh == 0, ouiLow == 0 || ouiLow == 0xF8 else { return .done }
        return .etherType(type, cursor.restRange)
    }
}
