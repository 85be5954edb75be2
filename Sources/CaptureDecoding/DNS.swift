import ByteParsing
import Observations

extension PacketDecoder {
    /// Compression pointers followed in one name. Backward-only pointers already end
    /// every chain; the bound caps the work a crafted message can cause. A 255-byte
    /// name has at most 127 labels, each of which could sit behind its own pointer.
    static let maxNamePointerJumps = 127
    /// RFC 1035 §2.3.4: at most 255 bytes on the wire, length bytes included.
    static let maxNameWireLength = 255

    /// DNS (RFC 1035): the header, then every question's name, observed as `.dnsQuery`
    /// with the querier as host (the source of a query, the destination of a response).
    /// Names are assembled in the reader's scratch buffer; the root name is skipped.
    mutating func decodeDNS(
        _ message: UnsafeRawBufferPointer, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let header = ByteCursor(message)
        guard let flags = header.getUInt16(at: 2), let questions = header.getUInt16(at: 4), message.count >= 12
        else {
            anomalies.record("dns.malformed")
            return .done
        }
        let isResponse = flags & 0x8000 != 0
        let host = isResponse ? context.destination : context.source
        var offset = 12
        // Each question takes at least 5 bytes, so the message size bounds the loop
        // whatever the count claims.
        for _ in 0..<questions {
            guard let (length, after) = readName(message, at: offset) else {
                anomalies.record("dns.malformed_name")
                return .done
            }
            if length > 0 {
                observe(Observation(
                    value: .domain(UnsafeRawBufferPointer(rebasing: nameScratch.bytes[0..<length])),
                    field: .dnsQuery, host: host, locator: context.locator, time: context.time))
            }
            // QTYPE and QCLASS.
            guard after + 4 <= message.count else {
                anomalies.record("dns.malformed")
                return .done
            }
            offset = after + 4
        }
        return .done
    }

    /// Reads the name at `start` into the scratch buffer: labels joined by `.`, no
    /// trailing dot. Returns its length and the offset just past the name where it was
    /// written (past the first pointer, if any); nil when the name runs past the
    /// message, is too long, uses a reserved label type (a "label" over 63), or has a
    /// pointer that does not point strictly backwards.
    func readName(_ message: UnsafeRawBufferPointer, at start: Int) -> (length: Int, end: Int)? {
        let cursor = ByteCursor(message)
        let scratch = nameScratch.bytes
        var position = start
        var length = 0
        var wireLength = 1  // the terminating zero byte
        var end: Int? = nil
        var jumps = 0
        while true {
            guard let labelLength = cursor.getUInt8(at: position) else { return nil }
            switch labelLength & 0xC0 {
            case 0x00:
                if labelLength == 0 { return (length, end ?? position + 1) }
                let count = Int(labelLength)
                wireLength += count + 1
                guard wireLength <= PacketDecoder.maxNameWireLength,
                      let label = cursor.getBytes(at: position + 1, count: count)
                else { return nil }
                let dot = length > 0 ? 1 : 0
                // Cannot fail: the wire length bound keeps the text within 253 bytes.
                guard length + dot + count <= scratch.count else { return nil }
                if dot == 1 { scratch[length] = UInt8(ascii: ".") }
                UnsafeMutableRawBufferPointer(rebasing: scratch[(length + dot)..<(length + dot + count)])
                    .copyMemory(from: label)
                length += dot + count
                position += 1 + count
            case 0xC0:
                guard let pointer = cursor.getUInt16(at: position) else { return nil }
                let target = Int(pointer & 0x3FFF)
                jumps += 1
                guard target < position, jumps <= PacketDecoder.maxNamePointerJumps else { return nil }
                if end == nil { end = position + 2 }
                position = target
            default:  // 0x40 (extended label, obsolete) and 0x80 (reserved)
                return nil
            }
        }
    }
}
