import ByteParsing

extension PacketDecoder {
    /// IEEE 802.11 (DLT_IEEE802_11, 105; IEEE Std 802.11-2020 §9.2–9.3, without FCS as
    /// libpcap and tshark take it by default): data frames only (type 2). Frame
    /// control, duration, three addresses and sequence control (24 bytes); a fourth
    /// address when ToDS and FromDS are both set (§9.3.2.1); QoS subtypes add QoS
    /// Control (2 bytes) and, when the Order bit is set, HT Control (4 bytes,
    /// §9.2.4.1.10); then LLC/SNAP. Subtypes that carry no data (Null, CF-Ack/Poll
    /// only, QoS Null), protected (encrypted) frames and A-MSDUs are not read.
    mutating func decodeIEEE80211(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard let control = cursor.readUInt8(), let flags = cursor.readUInt8() else {
            anomalies.record(.wlanTruncated)
            return .done
        }
        let type = control >> 2 & 0x3
        let subtype = control >> 4
        // Type 2 is data; subtype bit 2 set means no frame body (§9.2.4.1.3, Table 9-1).
        guard control & 0x3 == 0, type == 2, subtype & 0x4 == 0 else { return .done }
        let isQoS = subtype & 0x8 != 0
        var headerLength = 24
        if flags & 0x03 == 0x03 { headerLength += 6 }
        if isQoS {
            headerLength += 2
            if flags & 0x80 != 0 { headerLength += 4 }
        }
        guard cursor.moveTo(headerLength) else {
            anomalies.record(.wlanTruncated)
            return .done
        }
        // Protected frames: the body is encrypted.
        guard flags & 0x40 == 0 else { return .done }
        // QoS Control bit 7: the body is an A-MSDU (subframes with their own headers).
        if isQoS, let qos = cursor.getUInt8(at: headerLength - (flags & 0x80 != 0 ? 6 : 2)), qos & 0x80 != 0 {
            return .done
        }
        return .next(.llc, cursor.restRange)
    }
}
