import ByteParsing

extension PacketDecoder {
    /// PPPoE session stage (RFC 2516, EtherType 0x8864, and DLT_PPP_ETHER 51, which
    /// starts here): version/type, code, session id, length, then the PPP protocol
    /// field (`readPPPProtocol`, possibly compressed to one byte) and the datagram.
    mutating func decodePPPoESession(_ bytes: Span<UInt8>) -> Step {
        var cursor = ByteCursor(bytes)
        guard cursor.skip(4), let length = cursor.readUInt16(), cursor.peekUInt8() != nil else {
            anomalies.record(.pppoeTruncated)
            return .done
        }
        guard let proto = PacketDecoder.readPPPProtocol(&cursor) else {
            anomalies.record(.pppoeTruncated)
            return .done
        }
        // `length` counts the PPP protocol field (one or two bytes) and the payload.
        let protocolLength = cursor.offset - 6
        guard Int(length) >= protocolLength else {
            anomalies.record(.pppoeBadLength)
            return .done
        }
        guard let layer = Layer.forPPPProtocol(proto) else { return .done }
        return .next(layer, cursor.restRange.prefix(Int(length) - protocolLength))
    }
}
