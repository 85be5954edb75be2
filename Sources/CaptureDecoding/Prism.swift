import ByteParsing

extension PacketDecoder {
    /// Prism monitor-mode header (DLT_PRISM_HEADER, 119; the linux-wlan-ng
    /// `wlan_ng_prism2_header`, as Wireshark's packet-ieee80211-prism.c reads it): a
    /// message code and the message length, 144, in the capturing host's byte order
    /// (little-endian on every host that wrote them), then an 802.11 frame. Some
    /// drivers write an AVS header under this link type instead; its big-endian
    /// version word (0x8021100x) says so.
    mutating func decodePrism(_ bytes: Span<UInt8>) -> Step {
        let cursor = ByteCursor(bytes)
        guard let code = cursor.getUInt32(at: 0), let rawLength = cursor.getUInt32(at: 4) else {
            anomalies.record(.prismTruncated)
            return .done
        }
        if code & 0xFFFF_FFF0 == 0x8021_1000 { return .next(.avs, 0..<bytes.count) }
        // Host byte order: little-endian in practice, big-endian tried when that is absurd.
        let length = rawLength.byteSwapped <= 0xFFFF ? rawLength.byteSwapped : rawLength
        var frame = cursor
        guard length >= 8, length <= 0xFFFF, frame.moveTo(Int(length)) else {
            anomalies.record(.prismTruncated)
            return .done
        }
        return .next(.ieee80211, frame.restRange)
    }
}
