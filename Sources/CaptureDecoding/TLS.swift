import ByteParsing
import Observations

extension PacketDecoder {

    /// `decodeTLS` on a span.
    mutating func decodeTLS(_ bytes: Span<UInt8>, context: PacketContext, observe: (Observation) -> Void) -> Step {
        let record = ByteCursor(bytes)
        if bytes.count >= 2, bytes.count < 6, record.getUInt8(at: 0) == 0x16, record.getUInt8(at: 1) == 3 {
            return segmented()
        }
        // Record: content type 22 (handshake), version 3.x, length; then the handshake
        // header: type 1 (ClientHello), 3-byte length.
        guard record.getUInt8(at: 0) == 0x16, record.getUInt8(at: 1) == 3,
              let recordLength = record.getUInt16(at: 3), record.getUInt8(at: 5) == 1
        else { return .done }
        // Where the ClientHello ends by its own handshake header (it may span records);
        // nil while the segment does not hold the header's 3-byte length.
        var messageEnd: Int? = nil
        if let high = record.getUInt8(at: 6), let low = record.getUInt16(at: 7) {
            messageEnd = 9 + (Int(high) << 16 | Int(low))
        }
        // What is both in the record and in the segment.
        let end = min(bytes.count, 5 + Int(recordLength))
        let hello = ByteCursor(bytes.extracting(0..<end))
        // JA3/JA4 (TLSFingerprint.swift) need the whole message in this record.
        if let messageEnd, messageEnd <= end, let message = hello.getBytes(at: 5, count: messageEnd - 5) {
            observeFingerprints(ofMessage: message, context: context, observe: observe)
        }
        // Handshake header (4), client version (2), random (32), then the session id.
        var offset = 5 + 4 + 2 + 32
        guard let sessionLength = hello.getUInt8(at: offset) else { return segmented() }
        offset += 1 + Int(sessionLength)
        guard let suitesLength = hello.getUInt16(at: offset) else { return segmented() }
        offset += 2 + Int(suitesLength)
        guard let compressionLength = hello.getUInt8(at: offset) else { return segmented() }
        offset += 1 + Int(compressionLength)
        guard let extensionsLength = hello.getUInt16(at: offset) else {
            // No extensions at all is legal (and then there is no server name) only when
            // the ClientHello ends here by its own length, not merely where the segment
            // ends.
            return offset == end && offset >= (messageEnd ?? end) ? .done : segmented()
        }
        offset += 2
        let extensionsEnd = offset + Int(extensionsLength)
        if let messageEnd, extensionsEnd > messageEnd { return badExtensionLength() }
        // Each extension takes at least 4 bytes: the length bounds the loop.
        while offset + 4 <= extensionsEnd {
            guard let type = hello.getUInt16(at: offset), let length = hello.getUInt16(at: offset + 2) else {
                return segmented()
            }
            let data = offset + 4
            if data + Int(length) > extensionsEnd { return badExtensionLength() }
            if type == 0 {  // server_name: list length, then (type, length, name) entries
                guard let listLength = hello.getUInt16(at: data), Int(listLength) + 2 <= Int(length) else {
                    if data + Int(length) > end { return segmented() }  // cut by the segment
                    anomalies.record(.tlsBadServerName)
                    return .done
                }
                var entry = data + 2
                let listEnd = entry + Int(listLength)
                while entry + 3 <= listEnd {
                    // An entry header cut by the segment's end is a split hello, not a bad name.
                    guard let nameType = hello.getUInt8(at: entry), let nameLength = hello.getUInt16(at: entry + 1)
                    else { return segmented() }
                    guard entry + 3 + Int(nameLength) <= listEnd else {
                        anomalies.record(.tlsBadServerName)
                        return .done
                    }
                    guard let name = hello.getBytes(at: entry + 3, count: Int(nameLength)) else { return segmented() }
                    if nameType == 0, !name.isEmpty {
                        guard name.count <= ValueCapacity.name else {
                            anomalies.record(.tlsServerNameTooLong)
                            return .done
                        }
                        context.observe(name, as: .domain, field: .tlsSNI, to: observe)
                    }
                    entry += 3 + Int(nameLength)
                }
                return .done
            }
            offset = data + Int(length)
        }
        if extensionsEnd > end { return segmented() }
        return .done
    }

    private mutating func badExtensionLength() -> Step {
        anomalies.record(.tlsBadExtensionLength)
        return .done
    }

    private mutating func segmented() -> Step {
        anomalies.record(.tlsClientHelloSegmented)
        return .done
    }
}
