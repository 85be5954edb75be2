import ByteParsing
import Observations

extension PacketDecoder {
    /// TCP (RFC 9293): the header, then the segment handed to the flow table
    /// (`reassemble`, TCPReassembly.swift), which hands the streams' bytes to DNS when
    /// either port is 53 (RFC 1035 §4.2.2: a 2-byte length before each message), to TLS
    /// when a stream starts with a handshake record, to HTTP when it starts with a
    /// request line, whole units at a time however the sender cut them.
    mutating func decodeTCP(
        _ bytes: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let header = ByteCursor(bytes)
        guard let sourcePort = header.getUInt16(at: 0), let destinationPort = header.getUInt16(at: 2),
              let sequence = header.getUInt32(at: 4),
              let offsetByte = header.getUInt8(at: 12), let flags = header.getUInt8(at: 13), bytes.count >= 20
        else {
            anomalies.record(.tcpTruncated)
            return .done
        }
        let headerLength = Int(offsetByte >> 4) * 4
        guard headerLength >= 20 else {
            anomalies.record(.tcpBadHeaderLength)
            return .done
        }
        guard headerLength <= bytes.count else {
            anomalies.record(.tcpTruncated)
            return .done
        }
        // Segments without data matter only for their SYN, FIN or RST.
        guard headerLength < bytes.count || flags & 0x07 != 0 else { return .done }
        reassemble(sequence: sequence, flags: flags, sourcePort: sourcePort, destinationPort: destinationPort,
                   payload: bytes.extracting(headerLength...), context: context, observe: observe)
        return .done
    }

    /// DNS over TCP: every whole length-prefixed message in the segment. A message that
    /// continues past the segment is counted (`dns.tcp_segmented`) and not read. Each
    /// message takes at least 14 bytes, so the segment bounds the loop.
    mutating func decodeDNSOverTCP(
        _ bytes: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let cursor = ByteCursor(bytes)
        var offset = 0
        while let length = cursor.getUInt16(at: offset) {
            guard length >= 12, let message = cursor.getBytes(at: offset + 2, count: Int(length)) else {
                anomalies.record(.dnsTCPSegmented)
                return .done
            }
            _ = decodeDNS(message, context: context, observe: observe)
            offset += 2 + Int(length)
        }
        return .done
    }
}
