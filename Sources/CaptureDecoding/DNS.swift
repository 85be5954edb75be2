import ByteParsing
import Observations

extension PacketDecoder {
    /// Compression pointers followed in one name. Backward-only pointers already end
    /// every chain; the bound caps the work a crafted message can cause. A 255-byte
    /// name has at most 127 labels, each of which could sit behind its own pointer.
    static let maxNamePointerJumps = 127
    /// RFC 1035 §2.3.4: at most 255 bytes on the wire, length bytes included.
    static let maxNameWireLength = 255

    /// DNS (RFC 1035): the header, then every question's name, observed as `.dnsQuery`,
    /// then every resource record of the answer, authority and additional sections
    /// (`decodeRecords`), observed as `.dnsAnswer`. The host is the client: the source
    /// of a query, the destination of a response. Names are assembled in the reader's
    /// scratch buffer; the root name is skipped.
    mutating func decodeDNS(
        _ message: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void
    ) -> Step {
        let header = ByteCursor(message)
        guard let flags = header.getUInt16(at: 2), let questions = header.getUInt16(at: 4),
              let answers = header.getUInt16(at: 6), let authorities = header.getUInt16(at: 8),
              let additionals = header.getUInt16(at: 10), message.count >= 12
        else {
            anomalies.record(.dnsMalformed)
            return .done
        }
        let isResponse = flags & 0x8000 != 0
        let host = isResponse ? context.destination : context.source
        var offset = 12
        // Each question takes at least 5 bytes, so the message size bounds the loop
        // whatever the count claims.
        for _ in 0..<questions {
            guard let (length, after) = readName(message, at: offset) else {
                anomalies.record(.dnsMalformedName)
                return .done
            }
            if length > 0 {
                context.observe(nameBuffer.span.extracting(0..<length), as: .domain, field: .dnsQuery,
                                host: host, to: observe)
            }
            // QTYPE and QCLASS.
            guard after + 4 <= message.count else {
                anomalies.record(.dnsMalformed)
                return .done
            }
            offset = after + 4
        }
        let records = Int(answers) + Int(authorities) + Int(additionals)
        decodeRecords(message, from: offset, count: records, host: host, context: context, observe: observe)
        return .done
    }

    /// Resource records (RFC 1035 §4.1.3): each owner name, and the data of A and AAAA
    /// (addresses), CNAME, NS, PTR (a name) and MX (preference, then a name), all as
    /// `.dnsAnswer`. Every record takes at least 11 bytes, so the message bounds the
    /// loop whatever the counts claim; a record that runs past the message ends it.
    mutating func decodeRecords(
        _ message: Span<UInt8>, from start: Int, count: Int, host: HostAddress,
        context: PacketContext, observe: (Observation) -> Void
    ) {
        let cursor = ByteCursor(message)
        var offset = start
        for _ in 0..<count {
            guard let (ownerLength, after) = readName(message, at: offset) else {
                anomalies.record(.dnsMalformedName)
                return
            }
            guard let type = cursor.getUInt16(at: after), let dataLength = cursor.getUInt16(at: after + 8),
                  after + 10 <= message.count - Int(dataLength)
            else {
                anomalies.record(.dnsMalformedRecord)
                return
            }
            let dataStart = after + 10
            offset = dataStart + Int(dataLength)
            if ownerLength > 0 {
                context.observe(nameBuffer.span.extracting(0..<ownerLength), as: .domain, field: .dnsAnswer,
                                host: host, to: observe)
            }
            switch type {
            case 1:  // A
                guard dataLength == 4, let address = cursor.getUInt32(at: dataStart) else {
                    anomalies.record(.dnsBadRdata)
                    continue
                }
                observe(Observation(value: .ipv4(IPv4Address(address)), field: .dnsAnswer, host: HostReference(host),
                                    locator: context.locator, time: context.time))
            case 28:  // AAAA
                guard dataLength == 16, let address = message.ipv6Address(at: dataStart) else {
                    anomalies.record(.dnsBadRdata)
                    continue
                }
                observe(Observation(value: .ipv6(address), field: .dnsAnswer, host: HostReference(host),
                                    locator: context.locator, time: context.time))
            case 2, 5, 12, 15:  // NS, CNAME, PTR, MX (after its 2-byte preference)
                let nameStart = type == 15 ? dataStart + 2 : dataStart
                // The name must start inside the record's data; pointers may reach back.
                guard nameStart < offset, let (length, end) = readName(message, at: nameStart), end <= offset else {
                    anomalies.record(.dnsBadRdata)
                    continue
                }
                if length > 0 {
                    context.observe(nameBuffer.span.extracting(0..<length), as: .domain, field: .dnsAnswer,
                                    host: host, to: observe)
                }
            default:
                break
            }
        }
    }

    /// Reads the name at `start` into the scratch buffer: labels joined by `.`, no
    /// trailing dot. Returns its length and the offset just past the name where it was
    /// written (past the first pointer, if any); nil when the name runs past the
    /// message, is too long, uses a reserved label type (a "label" over 63), or has a
    /// pointer that does not point strictly backwards.
    mutating func readName(_ message: Span<UInt8>, at start: Int) -> (length: Int, end: Int)? {
        let cursor = ByteCursor(message)
        nameBuffer.removeAll(keepingCapacity: true)
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
                // The wire length bound keeps the text within 253 bytes.
                if dot == 1 { nameBuffer.append(UInt8(ascii: ".")) }
                nameBuffer.append(span: label)
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

extension PacketDecoder {
    /// Whether a UDP payload on a port not known for DNS is a DNS message, by a strict
    /// check of its shape (resolvers listen on 5300, 8053… and tshark finds DNS there
    /// by heuristics): a standard query or its response, one question whose name is
    /// plain labels (letters, digits, `-`, `_`; no compression), class IN, CHAOS or
    /// ANY; a query with no answer or authority records, at most one additional (EDNS)
    /// and nothing after it; a response with at most 32 records in each section.
    static func looksLikeDNSMessage(_ bytes: Span<UInt8>) -> Bool {
        let cursor = ByteCursor(bytes)
        guard bytes.count >= 17, let flags = cursor.getUInt16(at: 2), flags & 0x7840 == 0, flags & 0x000F <= 5,
              cursor.getUInt16(at: 4) == 1, let answers = cursor.getUInt16(at: 6),
              let authorities = cursor.getUInt16(at: 8), let additionals = cursor.getUInt16(at: 10)
        else { return false }
        var offset = 12
        var labels = 0
        while let length = cursor.getUInt8(at: offset), length != 0 {
            guard length <= 63, offset + Int(length) < bytes.count, offset - 12 + Int(length) < 254 else { return false }
            for index in (offset + 1)...(offset + Int(length)) {
                let byte = bytes[index] | 0x20
                guard (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (bytes[index] >= UInt8(ascii: "0")
                    && bytes[index] <= UInt8(ascii: "9")) || bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "_")
                else { return false }
            }
            offset += 1 + Int(length)
            labels += 1
        }
        guard labels > 0, let type = cursor.getUInt16(at: offset + 1), type != 0,
              let recordClass = cursor.getUInt16(at: offset + 3).map({ $0 & 0x7FFF }),
              recordClass == 1 || recordClass == 3 || recordClass == 255
        else { return false }
        let questionEnd = offset + 5
        if flags & 0x8000 != 0 { return answers <= 32 && authorities <= 32 && additionals <= 32 }
        guard answers == 0, authorities == 0, additionals <= 1 else { return false }
        // An EDNS OPT record (root name, type 41) or nothing after the question.
        return questionEnd == bytes.count
            || (additionals == 1 && cursor.getUInt8(at: questionEnd) == 0 && cursor.getUInt16(at: questionEnd + 1) == 41)
    }
}
