import ByteParsing

extension PacketDecoder {
    /// Radiotap (DLT_IEEE802_11_RADIO, 127; https://www.radiotap.org): version, pad, a
    /// little-endian header length (bytes 2–3) covering all its fields, then an 802.11
    /// frame. A frame that ends with an FCS (Flags field bit 0x10) is read all the
    /// same: the IP lengths bound what is decoded, so the 4 extra bytes are never read
    /// as IP.
    mutating func decodeRadiotap(_ bytes: Span<UInt8>) -> Step {
        let cursor = ByteCursor(bytes)
        guard let version = cursor.getUInt8(at: 0), let length = cursor.getUInt16(at: 2)?.byteSwapped else {
            anomalies.record(.radiotapTruncated)
            return .done
        }
        guard version == 0, length >= 8 else {
            anomalies.record(.radiotapBadHeader)
            return .done
        }
        var frame = cursor
        guard frame.moveTo(Int(length)) else {
            anomalies.record(.radiotapTruncated)
            return .done
        }
        return .next(.ieee80211, frame.restRange)
    }
}
