import ByteParsing

extension PacketDecoder {
    /// FDDI (DLT_FDDI, 10; ANSI X3.139 MAC frame as libpcap records it, without
    /// preamble, delimiters and FCS): frame control, destination and source addresses
    /// (6 bytes each), then LLC for asynchronous LLC frames (frame control 0x50–0x57).
    /// SMT and MAC frames end here.
    mutating func decodeFDDI(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard let frameControl = cursor.readUInt8(), cursor.skip(12) else {
            anomalies.record(.fddiTruncated)
            return .done
        }
        // Frame control CLFFZZZZ: C async (0) or sync (1), L address length, FF 01 = LLC.
        guard frameControl & 0x30 == 0x10 else { return .done }
        return .next(.llc, cursor.restRange)
    }
}
